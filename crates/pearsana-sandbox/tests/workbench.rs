//! The sandbox as a workbench (issue 13): per-request faults by header, the fault script, the
//! request log and reset.

mod common;

use std::time::{Duration, Instant};

use common::{get, post, start, token, user_body};
use pearsana_api::spec::API_VERSION;
use pearsana_sandbox::{DEFAULT_CLIENT_ID, RunningSandbox};
use serde_json::{Value, json};

/// `POST /v1/users` with an `X-Sandbox-Fault` header; `None` when the connection was closed.
async fn create_with_fault(
    sandbox: &RunningSandbox,
    token: &str,
    fault: &str,
    email: &str,
) -> Option<common::Answer> {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/users", sandbox.url()))
        .bearer_auth(token)
        .header("X-API-Version", API_VERSION)
        .header("X-Sandbox-Fault", fault)
        .json(&user_body(email, "SIS", email))
        .send()
        .await
        .ok()?;
    Some(common::read(response).await)
}

/// `POST /v1/users` without a fault header; `None` when the connection was closed.
async fn create(sandbox: &RunningSandbox, token: &str, email: &str) -> Option<u16> {
    reqwest::Client::new()
        .post(format!("{}/v1/users", sandbox.url()))
        .bearer_auth(token)
        .header("X-API-Version", API_VERSION)
        .json(&user_body(email, "SIS", email))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test]
async fn fault_429_carries_retry_after_and_stores_nothing() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let answer = create_with_fault(&sandbox, &token, "429", "a@example.com")
        .await
        .unwrap();
    answer.assert_error(429, "TOO_MANY_REQUESTS");
    assert_eq!(answer.header("retry-after"), "1");
    assert_eq!(answer.body["error"]["details"]["retryAfterSeconds"], 1);
    assert!(sandbox.users().is_empty());
}

#[tokio::test]
async fn faults_500_and_503_answer_the_envelope_without_processing() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let answer = create_with_fault(&sandbox, &token, "500", "a@example.com")
        .await
        .unwrap();
    answer.assert_error(500, "INTERNAL_SERVER_ERROR");
    let answer = create_with_fault(&sandbox, &token, "503", "a@example.com")
        .await
        .unwrap();
    assert_eq!(answer.status, 503);
    assert_eq!(
        answer.body["error"]["requestId"],
        answer.header("x-request-id")
    );
    assert_eq!(answer.header("retry-after"), "1");
    assert!(sandbox.users().is_empty());
    assert_eq!(sandbox.stats().injected_failures, 2);
}

#[tokio::test]
async fn drop_closes_before_and_lost_answer_after_processing() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    assert!(
        create_with_fault(&sandbox, &token, "drop", "d@example.com")
            .await
            .is_none()
    );
    assert!(sandbox.users().is_empty(), "drop processes nothing");
    assert!(
        create_with_fault(&sandbox, &token, "lost-answer", "l@example.com")
            .await
            .is_none()
    );
    let users = sandbox.users();
    assert_eq!(users.len(), 1, "lost-answer processes the request");
    assert_eq!(users[0].email, "l@example.com");
    let stats = sandbox.stats();
    assert_eq!((stats.dropped_connections, stats.lost_answers), (1, 1));
}

#[tokio::test]
async fn latency_fault_delays_one_request() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let started = Instant::now();
    let answer = create_with_fault(&sandbox, &token, "latency=300", "s@example.com")
        .await
        .unwrap();
    assert_eq!(answer.status, 201);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn unknown_fault_values_are_refused() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let answer = create_with_fault(&sandbox, &token, "404", "a@example.com")
        .await
        .unwrap();
    answer.assert_error(400, "VALIDATION_ERROR");
    assert!(answer.errors()[0].starts_with("X-Sandbox-Fault must be one of"));
}

#[tokio::test]
async fn a_fault_script_is_consumed_in_order_per_operation() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let script = json!({"faults": [
        {"operation": "create_user", "fault": "429"},
        {"operation": "createUser", "fault": "lost-answer"},
        {"operation": "ping", "fault": "500"}
    ]});
    let answer = post(&sandbox, &token, "/sandbox/v1/faults", &script).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["faults"].as_array().unwrap().len(), 3);

    assert_eq!(create(&sandbox, &token, "a@example.com").await, Some(429));
    assert_eq!(create(&sandbox, &token, "b@example.com").await, None);
    assert_eq!(create(&sandbox, &token, "c@example.com").await, Some(201));
    let emails: Vec<_> = sandbox.users().into_iter().map(|u| u.email).collect();
    assert_eq!(emails, ["b@example.com", "c@example.com"]);
    // The ping entry is still queued.
    let pending = get(&sandbox, &token, "/sandbox/v1/faults").await;
    assert_eq!(
        pending.body["faults"],
        json!([{"operation": "ping", "fault": "500"}])
    );

    let bad = json!({"faults": [{"operation": "create_user", "fault": "teapot"}]});
    let answer = post(&sandbox, &token, "/sandbox/v1/faults", &bad).await;
    answer.assert_error(400, "VALIDATION_ERROR");
    let cleared = reqwest::Client::new()
        .delete(format!("{}/sandbox/v1/faults", sandbox.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!(cleared["faults"], json!([]));
}

#[tokio::test]
async fn the_request_log_lists_recent_requests_first() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    assert_eq!(create(&sandbox, &token, "a@example.com").await, Some(201));
    create_with_fault(&sandbox, &token, "429", "b@example.com").await;
    create_with_fault(&sandbox, &token, "drop", "c@example.com").await;
    let unauthenticated = reqwest::Client::new()
        .get(format!("{}/ping", sandbox.url()))
        .header("X-Request-Id", "mine-1")
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);

    let log = get(&sandbox, &token, "/sandbox/v1/requests").await;
    let entries = log.body["requests"].as_array().unwrap();
    // Helpers and the console are not logged; the token request is.
    let summary: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
                e["status"].as_u64(),
                e["fault"].as_str().map(str::to_string),
            )
        })
        .collect();
    let expected = [
        ("GET", "/ping", Some(401), None),
        ("POST", "/v1/users", None, Some("drop")),
        ("POST", "/v1/users", Some(429), Some("429")),
        ("POST", "/v1/users", Some(201), None),
        ("POST", "/oauth2/token", Some(200), None),
    ]
    .map(|(m, p, s, f)| (m.to_string(), p.to_string(), s, f.map(str::to_string)));
    assert_eq!(summary, expected);
    assert_eq!(entries[0]["requestId"], "mine-1");
    assert_eq!(entries[0]["operation"], "ping");
    assert_eq!(entries[0]["clientId"], Value::Null);
    assert_eq!(entries[3]["clientId"], DEFAULT_CLIENT_ID);
    assert_eq!(entries[3]["operation"], "create_user");
    assert!(entries[3]["latencyMs"].as_f64().unwrap() >= 0.0);
    assert!(entries[3]["time"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn the_request_log_is_a_bounded_ring() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let http = reqwest::Client::new();
    for _ in 0..pearsana_sandbox::REQUEST_LOG_CAPACITY + 5 {
        http.get(format!("{}/health", sandbox.url()))
            .send()
            .await
            .unwrap();
    }
    let log = get(&sandbox, &token, "/sandbox/v1/requests").await;
    let entries = log.body["requests"].as_array().unwrap();
    assert_eq!(entries.len(), pearsana_sandbox::REQUEST_LOG_CAPACITY);
    assert!(entries.iter().all(|e| e["path"] == "/health"));
}

#[tokio::test]
async fn reset_forgets_all_state() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    assert_eq!(create(&sandbox, &token, "a@example.com").await, Some(201));
    let answer = post(&sandbox, &token, "/sandbox/v1/reset", &json!({})).await;
    assert_eq!(answer.status, 204);
    assert!(sandbox.users().is_empty());
    let log = get(&sandbox, &token, "/sandbox/v1/requests").await;
    assert_eq!(log.body["requests"], json!([]));
    // The same email and reference can be created again.
    assert_eq!(create(&sandbox, &token, "a@example.com").await, Some(201));
}

#[tokio::test]
async fn the_console_is_served_from_the_binary() {
    let sandbox = start().await;
    let http = reqwest::Client::new();
    let page = http.get(sandbox.url()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("<script src=\"/console/app.js\""));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no CDN"
    );
    for (path, kind) in [
        ("/console/app.js", "text/javascript"),
        ("/console/app.css", "text/css"),
    ] {
        let asset = http
            .get(format!("{}{path}", sandbox.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(asset.status(), 200, "{path}");
        assert!(
            asset.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
    }
    let script = http
        .get(format!("{}/console/app.js", sandbox.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!script.contains("innerHTML"), "values are inserted as text");
    // The console's own requests stay out of the request log.
    let token = token(&sandbox).await;
    let log = get(&sandbox, &token, "/sandbox/v1/requests").await;
    let paths: Vec<_> = log.body["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(paths, ["/oauth2/token"]);
}
