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
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(|| BufferWriter),
            )
            .with(SpanCapture)
            .with(tracing_subscriber::filter::LevelFilter::TRACE)
            .init();
    });
    SPANS.lock().unwrap().clear();
    let guard = LOG_LOCK.lock().await;
    BUFFER.lock().unwrap().clear();
    guard
}

/// Every span's fields as recorded (at creation and later), by span name, in creation order.
type Fields = Vec<(String, String)>;

static SPANS: Mutex<Vec<(String, Fields)>> = Mutex::new(Vec::new());

struct SpanCapture;

struct FieldVisitor<'a>(&'a mut Vec<(String, String)>);

impl tracing::field::Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

#[derive(Clone, Copy)]
struct SpanIndex(usize);

impl<S> tracing_subscriber::Layer<S> for SpanCapture
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = Vec::new();
        attrs.record(&mut FieldVisitor(&mut fields));
        let mut spans = SPANS.lock().unwrap();
        spans.push((attrs.metadata().name().to_owned(), fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanIndex(spans.len() - 1));
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let Some(span) = ctx.span(id) else { return };
        let Some(SpanIndex(index)) = span.extensions().get::<SpanIndex>().copied() else {
            return;
        };
        let mut spans = SPANS.lock().unwrap();
        if let Some((_, fields)) = spans.get_mut(index) {
            values.record(&mut FieldVisitor(fields));
        }
    }
}

fn spans_named(name: &str) -> Vec<std::collections::HashMap<String, String>> {
    SPANS
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, fields)| fields.iter().cloned().collect())
        .collect()
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
}

#[tokio::test]
async fn call_and_attempt_spans_follow_the_opentelemetry_http_client_conventions() {
    let _logs = capture_logs().await;
    let server = MockServer::start().await;
    mount_token(&server, TOKEN, 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .respond_with(error_response(503, "INTERNAL_SERVER_ERROR", None))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .respond_with(ResponseTemplate::new(201).set_body_json(user_created("jane@example.com")))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    let created = client
        .create_user(&user_request("jane@example.com"))
        .request_id("span-test-1".parse().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(created.metadata().attempts(), 2);

    let calls = spans_named("pearsana.call");
    assert_eq!(calls.len(), 1, "one span per logical call: {calls:?}");
    let call = &calls[0];
    let port = server.address().port().to_string();
    for (field, value) in [
        ("otel.name", "POST /v1/users"),
        ("otel.kind", "client"),
        ("http.request.method", "POST"),
        ("url.template", "/v1/users"),
        ("server.address", "127.0.0.1"),
        ("server.port", port.as_str()),
        ("pearsana.operation", "create_user"),
        ("pearsana.request_id", "span-test-1"),
        ("http.response.status_code", "201"),
        ("http.request.resend_count", "1"),
    ] {
        assert_eq!(
            call.get(field).map(String::as_str),
            Some(value),
            "{field} in {call:?}"
        );
    }
    assert!(!call.contains_key("error.type"), "{call:?}");

    let attempts = spans_named("pearsana.attempt");
    assert_eq!(attempts.len(), 2, "one span per attempt: {attempts:?}");
    assert_eq!(attempts[0]["http.response.status_code"], "503");
    assert_eq!(attempts[0]["error.type"], "503");
    assert!(!attempts[0].contains_key("http.request.resend_count"));
    assert_eq!(attempts[1]["http.response.status_code"], "201");
    assert_eq!(attempts[1]["http.request.resend_count"], "1");
    let all = format!("{calls:?}{attempts:?}");
    assert_clean(&all, "span fields");
    assert!(!all.contains("jane@example.com"), "no body in spans: {all}");
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
