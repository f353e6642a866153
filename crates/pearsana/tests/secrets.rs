//! The client secret and access tokens never appear in Debug, Display, errors or logs.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use pearsana::{AccessToken, ClientSecret};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.secret-token-value";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

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

#[tokio::test(flavor = "current_thread")]
async fn secrets_never_appear_in_debug_display_errors_or_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    // First token works, the API rejects it, the refresh fails with a description that
    // (carelessly) repeats the secret.
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": format!("bad secret {CLIENT_SECRET}")
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(error_response(401, "UNAUTHORIZED", None))
        .mount(&server)
        .await;

    let clock = VirtualClock::new();
    let builder = builder(&server, &clock);
    assert_clean(&format!("{builder:?}"), "builder Debug");
    let client = builder.build().unwrap();
    assert_clean(&format!("{client:?}"), "client Debug");

    let error = client.ping().await.unwrap_err();
    assert_clean(&format!("{error:?}"), "error Debug");
    assert_clean(&error.to_string(), "error Display");
    assert!(error.to_string().contains("[redacted]"), "{error}");
    assert_clean(&format!("{:?}", client.token_status()), "token status");

    // A raw call through the generated client gets the (redacted) message as Error::Custom.
    let raw = client.api().ping().send().await.unwrap_err();
    assert_clean(&format!("{raw:?}"), "raw error");

    let logs = captured.text();
    assert!(
        logs.contains("pearsana.call"),
        "the call span is logged: {logs}"
    );
    assert_clean(&logs, "logs");
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
