//! The client secret and access tokens never appear in Debug, Display, errors or logs.

mod common;

use common::*;
use pearsana::{AccessToken, ClientSecret};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.secret-token-value";

fn assert_clean(text: &str, what: &str) {
    assert!(
        !text.contains(CLIENT_SECRET),
        "client secret leaked in {what}: {text}"
    );
    assert!(
        !text.contains(TOKEN),
        "access token leaked in {what}: {text}"
    );
    assert!(
        !text.contains("secret-token-value"),
        "token part leaked in {what}: {text}"
    );
}

#[test]
fn secret_newtypes_print_a_placeholder() {
    let secret = ClientSecret::from(CLIENT_SECRET);
    let token = AccessToken::new(TOKEN);
    for text in [
        format!("{secret:?}"),
        secret.to_string(),
        format!("{token:?}"),
        token.to_string(),
    ] {
        assert_clean(&text, "newtype formatting");
        assert!(text.contains("[redacted]"));
    }
}

#[tokio::test]
async fn a_token_response_that_fails_to_decode_does_not_echo_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": TOKEN, "token_type": "Bearer", "expires_in": "soon"
        })))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock).ping().await.unwrap_err();
    assert!(matches!(
        &error,
        pearsana::Error::Auth {
            source: pearsana::AuthError::InvalidTokenResponse { .. },
            ..
        }
    ));
    assert_clean(&format!("{error:?} {error}"), "token decode error");
}
