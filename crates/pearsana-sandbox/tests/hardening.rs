//! A sandbox that survives hostile clients (issue 14, items 11 to 14): bodies refused from their
//! headers are never buffered, in-flight bodies share a memory budget, slow clients time out,
//! connections are bounded while `/health` keeps answering, hyper's own errors carry the
//! envelope, and lenient input is refused.

mod common;

use std::time::{Duration, Instant};

use common::{post, start, token, user_body};
use pearsana_api::spec::API_VERSION;
use pearsana_sandbox::{Limits, RunningSandbox, Sandbox};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A raw answer: status, head and body as read until the server closed the connection.
#[derive(Debug)]
struct Raw {
    status: u16,
    head: String,
    body: Value,
}

impl Raw {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    }

    /// Asserts the documented envelope with a request id equal to the header's.
    fn assert_envelope(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.body);
        assert_eq!(self.body["error"]["code"], code, "{}", self.body);
        let id = self.header("x-request-id").expect("x-request-id header");
        assert_eq!(self.body["error"]["requestId"], id.as_str());
        assert!(self.body["error"]["message"].is_string());
    }
}

/// Reads one answer until the server closes the connection (or 10 s pass).
async fn read_raw(stream: &mut TcpStream) -> Option<Raw> {
    let mut bytes = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes)).await;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some(Raw {
        status,
        head: head.to_string(),
        body: serde_json::from_str(body).unwrap_or(Value::Null),
    })
}

/// Sends `request` as is on a fresh connection and reads the answer.
async fn raw(sandbox: &RunningSandbox, request: &[u8]) -> Option<Raw> {
    let mut stream = TcpStream::connect(sandbox.addr()).await.unwrap();
    let _ = stream.write_all(request).await;
    read_raw(&mut stream).await
}

async fn start_with(limits: Limits) -> RunningSandbox {
    Sandbox::builder().limits(limits).spawn().await.unwrap()
}

// Item 11 -------------------------------------------------------------------------------------

#[tokio::test]
async fn a_refused_request_is_answered_without_its_body() {
    let sandbox = start_with(Limits {
        body_read_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    // A body that claims 1 GiB but never comes: the 401 must not wait for it.
    let mut stream = TcpStream::connect(sandbox.addr()).await.unwrap();
    let head = format!(
        "POST /v1/documents:submitBatch HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         x-api-version: {API_VERSION}\r\ncontent-length: {}\r\n\r\n{{\"items\":[",
        1u64 << 30
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("the 401 comes before the body")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    assert!(text.contains("\"UNAUTHORIZED\""), "{text}");

    // The same for a wrong version and for a missing scope, before any body byte.
    let token = token(&sandbox).await;
    let answer = raw(
        &sandbox,
        format!(
            "POST /v1/users HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
             x-api-version: 1999-01-01\r\ncontent-length: 900000\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    answer.assert_envelope(410, "UNSUPPORTED_API_VERSION");
}

#[tokio::test]
async fn bodies_share_a_memory_budget() {
    let sandbox = start_with(Limits {
        max_inflight_body_bytes: 64 << 10,
        ..Limits::default()
    })
    .await;
    let token = token(&sandbox).await;
    // A body larger than the whole budget is refused at once with 503 and Retry-After.
    let mut big = user_body("big@example.com", "SIS", "1");
    big["identity"]["lastName"] = json!("x".repeat(100 << 10));
    let answer = post(&sandbox, &token, "/v1/users", &big).await;
    answer.assert_error(503, "INTERNAL_SERVER_ERROR");
    assert_eq!(answer.header("retry-after"), "1");
    assert!(sandbox.users().is_empty());
    // Bodies within the budget go through, and the budget is given back after each.
    for i in 0..20 {
        let body = user_body(&format!("u{i}@example.com"), "SIS", &i.to_string());
        assert_eq!(post(&sandbox, &token, "/v1/users", &body).await.status, 201);
    }
}

/// RSS of a child sandbox under unauthenticated large posts (the memory claim lives in a child
/// process, not in a timed unit test): refused bodies are not buffered.
#[tokio::test]
async fn unauthenticated_large_posts_do_not_grow_memory() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pearsana-sandbox"))
        .args(["--listen", "127.0.0.1:0"])
        .env("PEARSANA_SANDBOX_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut banner = Vec::new();
    let mut byte = [0u8; 1];
    while !banner.ends_with(b"\n") {
        stdout.read_exact(&mut byte).await.unwrap();
        banner.push(byte[0]);
    }
    // Keep reading, so that the rest of the banner never meets a closed pipe.
    tokio::spawn(async move { tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await });
    let banner = String::from_utf8(banner).unwrap();
    let addr = banner.trim().rsplit("http://").next().unwrap().to_string();

    const POSTS: usize = 6;
    const BODY: usize = 64 << 20;
    let sends = (0..POSTS).map(|_| {
        let addr = addr.clone();
        tokio::spawn(async move {
            let mut stream = TcpStream::connect(&addr).await.unwrap();
            let head = format!(
                "POST /v1/documents:submitBatch HTTP/1.1\r\nhost: x\r\n\
                 content-type: application/json\r\nx-api-version: {API_VERSION}\r\n\
                 content-length: {BODY}\r\n\r\n"
            );
            stream.write_all(head.as_bytes()).await.unwrap();
            let chunk = vec![b' '; 1 << 20];
            for _ in 0..BODY / chunk.len() {
                if stream.write_all(&chunk).await.is_err() {
                    break;
                }
            }
            read_raw(&mut stream).await.map(|r| r.status)
        })
    });
    for send in sends {
        assert_eq!(send.await.unwrap(), Some(401));
    }
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    child.kill().await.unwrap();
    eprintln!("peak RSS after {POSTS} refused posts of {BODY} bytes: {peak_kib} KiB");
    // Buffering would hold POSTS x 64 MiB = 384 MiB; draining holds a few frames.
    assert!(
        peak_kib < 96 * 1024,
        "peak RSS {peak_kib} KiB after {POSTS} refused posts of {BODY} bytes"
    );
}

// Item 12 -------------------------------------------------------------------------------------

#[tokio::test]
async fn slow_bodies_and_slow_headers_time_out() {
    let sandbox = start_with(Limits {
        body_read_timeout: Duration::from_millis(500),
        header_read_timeout: Duration::from_millis(500),
        ..Limits::default()
    })
    .await;
    let token = token(&sandbox).await;
    let mut stream = TcpStream::connect(sandbox.addr()).await.unwrap();
    let head = format!(
        "POST /v1/users HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\
         content-type: application/json\r\nx-api-version: {API_VERSION}\r\n\
         content-length: 100\r\n\r\n{{\"identity\":"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let answer = read_raw(&mut stream).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    answer.assert_envelope(408, "VALIDATION_ERROR");
    assert_eq!(answer.header("connection").as_deref(), Some("close"));

    // Half a request head: the connection is closed once the header timeout passes.
    let mut stream = TcpStream::connect(sandbox.addr()).await.unwrap();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nho")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the connection is closed by the server");
}

#[tokio::test]
async fn health_keeps_answering_when_connections_are_at_the_limit() {
    let sandbox = start_with(Limits {
        max_connections: 4,
        ..Limits::default()
    })
    .await;
    let token = token(&sandbox).await;
    // Four idle connections take every normal slot.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(sandbox.addr()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let health = raw(
        &sandbox,
        b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.body["status"], "ok");
    let ping = raw(
        &sandbox,
        format!("GET /ping HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    ping.assert_envelope(503, "INTERNAL_SERVER_ERROR");
    assert_eq!(ping.header("retry-after").as_deref(), Some("1"));
    // Once the idle connections go, API requests are served again.
    drop(idle);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ping = raw(
        &sandbox,
        format!(
            "GET /ping HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(ping.status, 200, "{}", ping.body);
}

// Item 13 -------------------------------------------------------------------------------------

#[tokio::test]
async fn hypers_own_errors_carry_the_envelope() {
    let sandbox = start().await;
    let garbage = raw(&sandbox, b"NOT HTTP AT ALL\r\n\r\n").await.unwrap();
    garbage.assert_envelope(400, "VALIDATION_ERROR");
    assert_eq!(
        garbage.header("x-api-version").as_deref(),
        Some(API_VERSION)
    );

    let huge = format!(
        "GET /health HTTP/1.1\r\nhost: x\r\nx-big: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let too_large = raw(&sandbox, huge.as_bytes()).await.unwrap();
    too_large.assert_envelope(431, "VALIDATION_ERROR");

    let bad_header = raw(&sandbox, b"GET /health HTTP/1.1\r\nho st: x\r\n\r\n")
        .await
        .unwrap();
    bad_header.assert_envelope(400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn extractor_rejections_carry_the_envelope() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    // axum's path extractor refuses invalid percent-encoding with a plain-text 400.
    let answer = raw(
        &sandbox,
        format!(
            "POST /sandbox/v1/invitations/%FF:accept HTTP/1.1\r\nhost: x\r\n\
             authorization: Bearer {token}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    answer.assert_envelope(400, "VALIDATION_ERROR");
}

// Item 14 -------------------------------------------------------------------------------------

#[tokio::test]
async fn duplicate_keys_are_refused() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let body = r#"{"identity":{"email":"a@example.com","firstName":"A","lastName":"B","roleName":"student","email":"b@example.com"},"externalReferences":[{"namespace":"SIS","externalId":"1"}]}"#;
    let response = reqwest::Client::new()
        .post(format!("{}/v1/users", sandbox.url()))
        .bearer_auth(&token)
        .header("X-API-Version", API_VERSION)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let answer = common::read(response).await;
    answer.assert_error(400, "VALIDATION_ERROR");
    assert!(
        answer.errors()[0].starts_with("body has the key `email` twice"),
        "{:?}",
        answer.errors()
    );
    assert!(sandbox.users().is_empty());
}

#[tokio::test]
async fn control_characters_in_names_are_refused() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let mut body = user_body("nul@example.com", "SIS\u{1}", "1");
    body["identity"]["firstName"] = json!("Ja\u{0}ne");
    let answer = post(&sandbox, &token, "/v1/users", &body).await;
    answer.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        answer.errors(),
        [
            "identity.firstName must not contain control characters (such as NUL)",
            "externalReferences[0].namespace must not contain control characters (such as NUL)",
        ]
    );
    let invitation = json!({
        "email": "inv@example.com",
        "identity": {"firstName": "In", "lastName": "Vite"},
        "externalReferences": [{"namespace": "SIS", "externalId": "9"}],
        "message": "Welcome!\nSee you soon.\tBye",
    });
    let answer = post(&sandbox, &token, "/v1/invitations", &invitation).await;
    assert_eq!(answer.status, 201, "line breaks in a message are fine");
}

#[tokio::test]
async fn emails_are_ascii_and_compared_without_case() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let kate = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("kate@example.com", "SIS", "1"),
    )
    .await;
    assert_eq!(kate.status, 201);
    // The Kelvin sign lowercases to `k`: it must not become a second `kate`.
    let kelvin = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("\u{212A}ate@example.com", "SIS", "2"),
    )
    .await;
    kelvin.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        kelvin.errors(),
        ["identity.email must be a valid email address"]
    );
    let upper = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("KATE@EXAMPLE.COM", "SIS", "3"),
    )
    .await;
    upper.assert_error(409, "CONFLICT");
    assert_eq!(sandbox.users().len(), 1);
}
