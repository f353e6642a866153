//! Shared fixtures: a virtual clock, a scripted API server (wiremock) and request bodies.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pearsana::time::{BoxFuture, Clock};
use pearsana::{Client, ClientBuilder, Environment, types};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-secret-5f2c9e";

/// Virtual time: `sleep` advances "now" at once and records the wait.
#[derive(Debug)]
pub struct VirtualClock {
    start: Instant,
    offset: Mutex<Duration>,
    sleeps: Mutex<Vec<Duration>>,
}

impl VirtualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            start: Instant::now(),
            offset: Mutex::new(Duration::ZERO),
            sleeps: Mutex::new(Vec::new()),
        })
    }

    pub fn advance(&self, by: Duration) {
        *self.offset.lock().unwrap() += by;
    }

    pub fn sleeps(&self) -> Vec<Duration> {
        self.sleeps.lock().unwrap().clone()
    }

    pub fn elapsed(&self) -> Duration {
        *self.offset.lock().unwrap()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Instant {
        self.start + *self.offset.lock().unwrap()
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        self.sleeps.lock().unwrap().push(duration);
        self.advance(duration);
        Box::pin(async {})
    }
}

/// A builder pointed at `server` with test credentials and a virtual clock.
pub fn builder(server: &MockServer, clock: &Arc<VirtualClock>) -> ClientBuilder {
    Client::builder()
        .environment(Environment::Custom {
            api_url: server.uri(),
            auth_url: server.uri(),
        })
        .credentials(CLIENT_ID, CLIENT_SECRET)
        .clock(clock.clone())
}

pub fn client(server: &MockServer, clock: &Arc<VirtualClock>) -> Client {
    builder(server, clock).build().expect("client builds")
}

pub fn token_body(token: &str, expires_in: u64) -> Value {
    json!({"access_token": token, "token_type": "Bearer", "expires_in": expires_in,
           "scope": "pearsana-partner/ping pearsana-partner/partners.users:write"})
}

/// Answers every token request with `token`.
pub async fn mount_token(server: &MockServer, token: &str, expires_in: u64) {
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body(token, expires_in)))
        .mount(server)
        .await;
}

pub fn envelope(code: &str, message: &str, details: Option<Value>, request_id: &str) -> Value {
    let mut error = json!({"code": code, "message": message, "requestId": request_id});
    if let Some(details) = details {
        error["details"] = details;
    }
    json!({ "error": error })
}

pub fn error_response(status: u16, code: &str, details: Option<Value>) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(envelope(
        code,
        "scripted failure",
        details,
        "req-from-body",
    ))
}

pub fn ping_body() -> Value {
    json!({"status": "ok", "message": "Authorized", "clientId": CLIENT_ID, "scopes": ["pearsana-partner/ping"]})
}

pub fn user_request(email: &str) -> types::CreateUserRequest {
    serde_json::from_value(json!({
        "identity": {"email": email, "firstName": "Jane", "lastName": "Smith", "roleName": "student"},
        "externalReferences": [{"namespace": "SIS", "externalId": "STU-2024-001"}]
    }))
    .unwrap()
}

pub fn user_created(email: &str) -> Value {
    json!({"userId": "user-1", "email": email, "organisationId": "org_1", "status": "created"})
}

pub fn invitation_request() -> types::CreateInvitationRequest {
    serde_json::from_value(json!({
        "externalReferences": [{"namespace": "SIS", "externalId": "STU-2024-001"}],
        "email": "student@example.com",
        "identity": {"firstName": "Jane", "lastName": "Smith"}
    }))
    .unwrap()
}

pub fn invitation_created() -> Value {
    json!({"invitation": {"invitationId": "inv_1", "status": "pending", "userState": "new",
                          "creationDateTime": "2026-01-30T12:00:00Z"}})
}

pub fn document_json(document_id: &str) -> Value {
    json!({"documentId": document_id, "status": "received", "documentType": "OFFICIAL_TRANSCRIPT",
           "category": "academic", "mimeType": "application/pdf", "filename": "t.pdf", "sizeBytes": 5,
           "verificationIntent": "store_only", "userId": "user-1",
           "creationDateTime": "2026-01-30T12:00:00Z"})
}

/// How many requests the server received on `path`.
pub async fn count(server: &MockServer, request_path: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == request_path)
        .count()
}

/// The header values the server received on `path`, in order.
pub async fn header_values(server: &MockServer, request_path: &str, header: &str) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == request_path)
        .map(|r| {
            r.headers
                .get(header)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}
