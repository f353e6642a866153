//! What the client logs: one span per call, a warning when a newer version exists, and never
//! a secret.
//!
//! `tracing`'s per-thread subscribers interact badly with callsite-interest caching when
//! tests run in parallel, so this binary installs one global subscriber that writes into a
//! buffer, and its tests take turns (each holds `LOG_LOCK` and clears the buffer first).

mod common;

use std::io::Write;
use std::sync::{Mutex, OnceLock};

use common::*;
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.secret-token-value";

static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static LOG_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct BufferWriter;

impl Write for BufferWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        BUFFER.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the global subscriber once, waits for the other logging tests, clears the buffer.
async fn capture_logs() -> tokio::sync::MutexGuard<'static, ()> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(|| BufferWriter)
            .init();
    });
    let guard = LOG_LOCK.lock().await;
    BUFFER.lock().unwrap().clear();
    guard
}

fn logs() -> String {
    String::from_utf8_lossy(&BUFFER.lock().unwrap()).into_owned()
}

fn assert_clean(text: &str, what: &str) {
    assert!(
        !text.contains(CLIENT_SECRET),
        "client secret leaked in {what}: {text}"
    );
    assert!(
        !text.contains("secret-token-value"),
        "access token leaked in {what}: {text}"
    );
}

#[tokio::test]
async fn a_newer_version_is_logged_once() {
    let _logs = capture_logs().await;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "ok"}))
                .insert_header("x-api-version-latest", "2099-01-01"),
        )
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    for _ in 0..3 {
        client.health().await.unwrap();
    }
    let logs = logs();
    assert_eq!(
        logs.matches("a newer Pearsana API version is available")
            .count(),
        1,
        "{logs}"
    );
    assert!(logs.contains("latest=2099-01-01"), "{logs}");
    // One span per call, carrying the operation, request id, attempt and final status.
    assert!(
        logs.contains("pearsana.call{operation=\"get_health\" request_id=\""),
        "{logs}"
    );
    assert!(logs.contains("attempt=1 status=200}"), "{logs}");
}

#[tokio::test]
async fn secrets_never_appear_in_debug_display_errors_or_logs() {
    let _logs = capture_logs().await;

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

    let logs = logs();
    assert!(
        logs.contains("pearsana.call"),
        "the call span is logged: {logs}"
    );
    assert_clean(&logs, "logs");
}
