//! Hostile or misbehaving servers (issue 14): redirects are never followed, secrets are
//! scrubbed from everything the SDK reports, and response bodies are bounded.

mod common;

use common::*;
use pearsana::{AuthError, Error};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn nothing_reached(other: &MockServer) {
    let seen = other.received_requests().await.unwrap_or_default();
    assert!(
        seen.is_empty(),
        "{} request(s) reached the other host",
        seen.len()
    );
}

#[tokio::test]
async fn token_requests_never_follow_a_redirect_to_another_origin() {
    let server = MockServer::start().await;
    let other = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/oauth2/token", other.uri())),
        )
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock).ping().await.unwrap_err();
    match &error {
        Error::Auth {
            source: AuthError::Redirected { status, location },
            ..
        } => {
            assert_eq!(status.as_u16(), 307);
            assert!(location.starts_with(&other.uri()), "{location}");
        }
        other => panic!("expected a redirect error, got {other:?}"),
    }
    assert!(error.to_string().contains("redirect"), "{error}");
    nothing_reached(&other).await;
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "not retried"
    );
}

#[tokio::test]
async fn api_calls_never_send_the_body_to_another_origin() {
    let server = MockServer::start().await;
    let other = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/v1/users", other.uri())),
        )
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock)
        .create_user(&user_request("jane@example.com"))
        .await
        .unwrap_err();
    match &error {
        Error::Redirected {
            status, location, ..
        } => {
            assert_eq!(status.as_u16(), 307);
            assert!(location.starts_with(&other.uri()), "{location}");
        }
        other => panic!("expected a redirect error, got {other:?}"),
    }
    assert!(!error.may_have_been_processed());
    nothing_reached(&other).await;
}

#[tokio::test]
async fn an_answer_from_another_origin_is_refused_even_with_a_caller_supplied_client() {
    let server = MockServer::start().await;
    let other = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("Location", format!("{}/ping", other.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ping_body()))
        .mount(&other)
        .await;
    let clock = VirtualClock::new();
    // reqwest's default client follows redirects: the SDK must still refuse the answer.
    let client = builder(&server, &clock)
        .http_client(reqwest::Client::new())
        .build()
        .unwrap();
    let error = client.ping().await.unwrap_err();
    assert!(matches!(error, Error::Redirected { .. }), "{error:?}");
}

#[tokio::test]
async fn an_oversized_api_answer_is_refused_with_a_typed_error() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    // An error page far over the limit (the limit is lowered so the test stays small).
    let huge = "x".repeat(300 * 1024);
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(502).set_body_string(huge))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = builder(&server, &clock)
        .max_response_body(64 * 1024)
        .build()
        .unwrap();
    let error = client.ping().await.unwrap_err();
    match &error {
        Error::ResponseTooLarge { status, limit, .. } => {
            assert_eq!(status.as_u16(), 502);
            assert_eq!(*limit, 64 * 1024);
        }
        other => panic!("expected ResponseTooLarge, got {other:?}"),
    }
    assert!(error.to_string().contains("65536"), "{error}");
}

#[tokio::test]
async fn an_answer_within_the_limit_is_read_as_before() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ping_body()))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = builder(&server, &clock)
        .max_response_body(1024)
        .build()
        .unwrap();
    assert_eq!(client.ping().await.unwrap().client_id, CLIENT_ID);
}

#[tokio::test]
async fn an_oversized_token_answer_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(200 * 1024)))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock).ping().await.unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Auth {
                source: AuthError::ResponseTooLarge { limit, .. },
                ..
            } if *limit == pearsana::limits::MAX_TOKEN_RESPONSE_BODY
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_absurd_access_token_is_refused_naming_the_field() {
    let server = MockServer::start().await;
    let absurd = "a".repeat(40 * 1024);
    mount_token(&server, &absurd, 3600).await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock).ping().await.unwrap_err();
    match &error {
        Error::Auth {
            source: AuthError::InvalidTokenResponse { reason },
            ..
        } => assert!(reason.contains("access_token"), "{reason}"),
        other => panic!("expected an unusable token response, got {other:?}"),
    }
    // Only the token request went out: the token was never sent as a header.
    let sent = server.received_requests().await.unwrap();
    assert!(sent.iter().all(|r| r.url.path() == "/oauth2/token"));
}

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.echoed-token-value";

fn assert_scrubbed(text: &str, what: &str) {
    for secret in [TOKEN, CLIENT_SECRET, "echoed-token-value"] {
        assert!(!text.contains(secret), "a secret leaked in {what}: {text}");
    }
}

/// An error envelope whose every text field echoes the bearer header and the client secret.
fn echoing_envelope(status: u16, code: &str) -> ResponseTemplate {
    let echo = format!("Authorization: Bearer {TOKEN} (secret {CLIENT_SECRET})");
    ResponseTemplate::new(status)
        .insert_header("X-Request-Id", TOKEN)
        .set_body_json(serde_json::json!({"error": {
            "code": code, "message": echo, "requestId": TOKEN,
            "details": {"errors": [echo.clone()], "email": TOKEN, "userId": TOKEN}
        }}))
}

#[tokio::test]
async fn an_api_error_echoing_the_token_or_secret_is_scrubbed() {
    for (status, code) in [
        (400, "VALIDATION_ERROR"),
        (409, "CONFLICT"),
        (418, "TEAPOT"),
    ] {
        let server = MockServer::start().await;
        mount_token(&server, TOKEN, 3600).await;
        Mock::given(method("POST"))
            .and(path("/v1/users"))
            .respond_with(echoing_envelope(status, code))
            .mount(&server)
            .await;
        let clock = VirtualClock::new();
        let client = client(&server, &clock);
        let error = client
            .create_user(&user_request("jane@example.com"))
            .await
            .unwrap_err();
        assert_scrubbed(&error.to_string(), "Display");
        assert_scrubbed(&format!("{error:?}"), "Debug");
        assert_scrubbed(error.request_id().unwrap_or_default(), "request id");
        assert!(error.to_string().contains("[redacted]"), "{error}");
        // The raw generated client (`client.api()`) gets the scrubbed body too.
        let raw = client
            .api()
            .create_user()
            .x_api_version(client.api_version().date())
            .body(user_request("jane@example.com"))
            .send()
            .await
            .unwrap_err();
        assert_scrubbed(&format!("{raw:?}"), "raw client error");
    }
}

#[tokio::test]
async fn an_error_body_without_envelope_echoing_the_token_is_scrubbed() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN, 3600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(
            ResponseTemplate::new(403).set_body_string(format!("proxy says no to Bearer {TOKEN}")),
        )
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock).ping().await.unwrap_err();
    let (Error::UnexpectedStatus { body, .. } | Error::Decode { body, .. }) = &error else {
        panic!("expected an error keeping the body, got {error:?}");
    };
    assert_scrubbed(&String::from_utf8_lossy(body), "kept body");
    assert_scrubbed(&format!("{error:?}"), "Debug");
}

#[tokio::test]
async fn a_token_endpoint_error_echoing_the_secret_is_scrubbed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "error": format!("bad_{CLIENT_SECRET}"),
            "error_description": format!("client_secret={CLIENT_SECRET} is wrong")
        })))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock).ping().await.unwrap_err();
    assert_scrubbed(&error.to_string(), "Display");
    assert_scrubbed(&format!("{error:?}"), "Debug");
}

#[tokio::test]
async fn batch_item_messages_echoing_the_token_are_scrubbed() {
    let server = MockServer::start().await;
    mount_token(&server, TOKEN, 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/documents:submitBatch"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "results": [{"itemId": "a", "status": "failed",
                         "error": {"code": "NOT_FOUND", "message": format!("no user for {TOKEN}")}}],
            "summary": {"total": 1, "succeeded": 0, "failed": 1}
        })))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let item = pearsana::DocumentFile::from_bytes(b"hello")
        .unwrap()
        .with_filename("t.pdf")
        .batch_item(
            "a",
            pearsana::external_reference("SIS", "STU-1").unwrap(),
            "OFFICIAL_TRANSCRIPT",
        )
        .unwrap();
    let outcome = client(&server, &clock)
        .submit_documents(vec![item])
        .await
        .unwrap();
    let text = format!("{outcome:?}");
    assert_scrubbed(&text, "batch outcome");
    assert!(text.contains("[redacted]"), "{text}");
}
