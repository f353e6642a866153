//! Fault injection (`--fail-rate`, `--drop-rate`, `--lost-answer-rate`, `--latency`, `--seed`) and the per-client
//! rate limit (ASSUMPTIONS L1).

mod common;

use std::time::{Duration, Instant};

use common::*;
use pearsana_sandbox::Sandbox;

async fn ping_status(sandbox: &pearsana_sandbox::RunningSandbox, token: &str) -> Option<u16> {
    reqwest::Client::new()
        .get(format!("{}/ping", sandbox.url()))
        .bearer_auth(token)
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

#[tokio::test]
async fn failures_are_answered_500_in_the_envelope_but_spare_health_and_tokens() {
    let sandbox = Sandbox::builder().fail_rate(1.0).spawn().await.unwrap();
    let token = token(&sandbox).await;
    let answer = get(&sandbox, &token, "/ping").await;
    answer.assert_error(500, "INTERNAL_SERVER_ERROR");
    let created = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("a@b.io", "SIS", "1"),
    )
    .await;
    created.assert_error(500, "INTERNAL_SERVER_ERROR");
    assert_eq!(get(&sandbox, &token, "/health").await.status, 200);
    let stats = sandbox.stats();
    assert_eq!((stats.injected_failures, stats.users_created), (2, 0));
    assert_eq!(stats.requests_by_operation["ping"], 1);
}

#[tokio::test]
async fn dropped_requests_close_the_connection_without_an_answer() {
    let sandbox = Sandbox::builder().drop_rate(1.0).spawn().await.unwrap();
    let token = token(&sandbox).await;
    let error = reqwest::Client::new()
        .post(format!("{}/v1/users", sandbox.url()))
        .bearer_auth(&token)
        .header("X-API-Version", pearsana_api::spec::API_VERSION)
        .json(&user_body("a@b.io", "SIS", "1"))
        .send()
        .await
        .expect_err("no answer");
    assert!(error.status().is_none(), "{error}");
    assert!(error.is_request() || error.is_connect(), "{error:?}");
    assert_eq!(sandbox.stats().dropped_connections, 1);
    assert_eq!(sandbox.stats().users_created, 0);
    // The server itself is fine.
    assert_eq!(get(&sandbox, &token, "/health").await.status, 200);
}

#[tokio::test]
async fn lost_answers_close_the_connection_after_the_work_is_done() {
    let sandbox = Sandbox::builder()
        .lost_answer_rate(1.0)
        .spawn()
        .await
        .unwrap();
    let token = token(&sandbox).await;
    let error = reqwest::Client::new()
        .post(format!("{}/v1/users", sandbox.url()))
        .bearer_auth(&token)
        .header("X-API-Version", pearsana_api::spec::API_VERSION)
        .json(&user_body("lost@b.io", "SIS", "1"))
        .send()
        .await
        .expect_err("no answer");
    assert!(error.status().is_none(), "{error}");
    let stats = sandbox.stats();
    assert_eq!((stats.lost_answers, stats.dropped_connections), (1, 0));
    assert_eq!(
        stats.users_created, 1,
        "the user was stored although the answer was lost"
    );
    assert_eq!(sandbox.users()[0].email, "lost@b.io");
}

#[tokio::test]
async fn the_same_seed_replays_the_same_faults() {
    async fn run(seed: u64) -> Vec<Option<u16>> {
        let sandbox = Sandbox::builder()
            .fail_rate(0.4)
            .drop_rate(0.2)
            .seed(seed)
            .spawn()
            .await
            .unwrap();
        let token = token(&sandbox).await;
        let mut statuses = Vec::new();
        for _ in 0..30 {
            statuses.push(ping_status(&sandbox, &token).await);
        }
        statuses
    }
    let first = run(42).await;
    assert_eq!(first, run(42).await);
    assert_ne!(first, run(43).await);
    for outcome in [Some(200), Some(500), None] {
        assert!(first.contains(&outcome), "{first:?}");
    }
}

#[tokio::test]
async fn clients_over_the_rate_limit_get_429_with_retry_after() {
    let sandbox = Sandbox::builder()
        .rate_limit(Some(3))
        .client("other", "pw", [pearsana_api::spec::scopes::PING])
        .spawn()
        .await
        .unwrap();
    let token = token(&sandbox).await;
    let mut answers = Vec::new();
    for _ in 0..5 {
        answers.push(get(&sandbox, &token, "/ping").await);
    }
    let limited: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    assert!(
        limited.len() >= 2,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    let over = limited[0];
    over.assert_error(429, "TOO_MANY_REQUESTS");
    assert_eq!(over.header("retry-after"), "1");
    assert_eq!(over.body["error"]["details"]["retryAfterSeconds"], 1);
    // Another client has its own budget.
    let other = token_for(&sandbox, "other", "pw", None).await;
    assert_eq!(get(&sandbox, &other, "/ping").await.status, 200);
    assert_eq!(sandbox.stats().rate_limited, limited.len() as u64);
    // After the window the client may call again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get(&sandbox, &token, "/ping").await.status, 200);
}

#[tokio::test]
async fn latency_delays_api_requests() {
    let sandbox = Sandbox::builder()
        .latency(Duration::from_millis(250))
        .spawn()
        .await
        .unwrap();
    let token = token(&sandbox).await;
    let started = Instant::now();
    assert_eq!(get(&sandbox, &token, "/ping").await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn shutdown_and_drop_stop_the_server() {
    let sandbox = start().await;
    let url = sandbox.url();
    assert_eq!(
        reqwest::get(format!("{url}/health"))
            .await
            .unwrap()
            .status(),
        200
    );
    sandbox.shutdown().await;
    assert!(reqwest::get(format!("{url}/health")).await.is_err());

    let dropped = start().await;
    let url = dropped.url();
    drop(dropped);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(reqwest::get(format!("{url}/health")).await.is_err());
}

#[tokio::test]
async fn invalid_fault_settings_are_refused() {
    let error = Sandbox::builder().fail_rate(1.5).spawn().await.unwrap_err();
    assert!(error.to_string().contains("between 0 and 1"), "{error}");
    let error = Sandbox::builder()
        .client("x", "y", ["pearsana-partner/everything"])
        .spawn()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("unknown scope"), "{error}");
}

#[tokio::test]
async fn helpers_tokens_and_spec_files_are_never_dropped() {
    let sandbox = Sandbox::builder().drop_rate(1.0).spawn().await.unwrap();
    let token = token(&sandbox).await;
    for path in [
        "/health",
        "/openapi.json",
        "/sandbox/v1/users",
        "/sandbox/v1/stats",
    ] {
        assert_eq!(get(&sandbox, &token, path).await.status, 200, "{path}");
    }
    assert_eq!(sandbox.stats().dropped_connections, 0);
    // One pooled client survives a dropped connection and can go on.
    let client = reqwest::Client::new();
    let ping = format!("{}/ping", sandbox.url());
    assert!(client.get(&ping).bearer_auth(&token).send().await.is_err());
    let health = client
        .get(format!("{}/health", sandbox.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}
