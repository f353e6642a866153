//! The call pipeline (issue 9): per-call options, response metadata, one retry engine for API
//! calls and token requests, lenient protocol reading, bodies serialised once.

mod common;

use std::time::Duration;

use common::*;
use pearsana::retry::{FailureKind, NeverRetry, retry_ambiguous_policy};
use pearsana::{AuthError, CallOptions, Error};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn mount_ping(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(response)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_successful_call_reports_request_id_versions_rate_limit_attempts_and_time() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "2"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_ping(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(ping_body())
            .insert_header("X-Request-Id", "srv-req-1")
            .insert_header("X-API-Version", "2026-01-30")
            .insert_header("X-API-Version-Latest", "2026-06-01")
            .insert_header("X-API-Version-Supported", "2025-01-30")
            .insert_header("X-RateLimit-Limit", "200")
            .insert_header("X-RateLimit-Remaining", "17"),
    )
    .await;
    let clock = VirtualClock::new();
    let answer = client(&server, &clock).ping().send().await.unwrap();
    let meta = answer.metadata();
    assert_eq!(meta.request_id(), "srv-req-1");
    assert_eq!(meta.status().as_u16(), 200);
    assert_eq!(meta.api_version().unwrap().to_string(), "2026-01-30");
    assert_eq!(meta.latest_api_version().unwrap().to_string(), "2026-06-01");
    assert_eq!(
        meta.oldest_supported_api_version().unwrap().to_string(),
        "2025-01-30"
    );
    let rate = meta.rate_limit().unwrap();
    assert_eq!((rate.limit, rate.remaining), (Some(200), Some(17)));
    assert_eq!(meta.attempts(), 2);
    assert!(
        meta.elapsed() >= Duration::from_secs(2),
        "{:?}",
        meta.elapsed()
    );
    assert_eq!(answer.body().client_id, CLIENT_ID);
}

#[tokio::test]
async fn without_a_server_request_id_the_sent_one_is_reported() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    mount_ping(
        &server,
        ResponseTemplate::new(200).set_body_json(ping_body()),
    )
    .await;
    let clock = VirtualClock::new();
    let answer = client(&server, &clock)
        .ping()
        .request_id("mine-42".parse().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.metadata().request_id(), "mine-42");
    assert!(answer.metadata().rate_limit().is_none());
}

#[tokio::test]
async fn per_call_options_reach_the_wire_and_stay_with_their_call() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .and(header("x-partner-trace", "batch-7"))
        .and(header("x-api-version", "2025-06-01"))
        .and(header("x-request-id", "opt-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ping_body()))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    let options = CallOptions::new()
        .with_header("x-partner-trace", "batch-7")
        .unwrap()
        .with_api_version("2025-06-01".parse().unwrap())
        .with_request_id("opt-1".parse().unwrap());
    client.ping().options(options).await.unwrap();
    // The next call carries none of it.
    let error = client.ping().await.unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(404), "{error}");
    // Headers the SDK manages cannot be overridden.
    assert!(
        CallOptions::new()
            .with_header("Authorization", "x")
            .is_err()
    );
    assert!(client.ping().header("x-request-id", "x").is_err());
}

#[tokio::test]
async fn a_per_call_timeout_bounds_each_attempt() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    mount_ping(
        &server,
        ResponseTemplate::new(200)
            .set_body_json(ping_body())
            .set_delay(Duration::from_millis(400)),
    )
    .await;
    let client = pearsana::Client::builder()
        .environment(pearsana::Environment::Custom {
            api_url: server.uri(),
            auth_url: server.uri(),
        })
        .credentials(CLIENT_ID, CLIENT_SECRET)
        .retry_policy(NeverRetry)
        .build()
        .unwrap();
    let error = client
        .ping()
        .timeout(Duration::from_millis(50))
        .await
        .unwrap_err();
    match &error {
        Error::Transport { source, .. } => assert!(source.is_timeout(), "{error:?}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(
        client.ping().await.is_ok(),
        "the client default (30 s) applies again"
    );
}

#[tokio::test]
async fn a_non_idempotent_call_can_opt_into_ambiguous_retries_for_itself() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/invitations"))
        .respond_with(error_response(500, "INTERNAL_SERVER_ERROR", None))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/invitations"))
        .respond_with(ResponseTemplate::new(201).set_body_json(invitation_created()))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    let error = client
        .create_invitation(&invitation_request())
        .await
        .unwrap_err();
    assert!(error.may_have_been_processed(), "500 is ambiguous");
    let answer = client
        .create_invitation(&invitation_request())
        .retry_policy(retry_ambiguous_policy())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.metadata().attempts(), 1, "the mock fails once only");
    let sent: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/invitations")
        .collect();
    assert_eq!(sent.len(), 2);
}

#[tokio::test]
async fn every_attempt_sends_the_same_body_bytes() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .respond_with(error_response(502, "INTERNAL_SERVER_ERROR", None))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .respond_with(ResponseTemplate::new(201).set_body_json(user_created("jane@example.com")))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let answer = client(&server, &clock)
        .create_user(&user_request("jane@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.metadata().attempts(), 3);
    let bodies: Vec<Vec<u8>> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/users")
        .map(|r| r.body)
        .collect();
    assert_eq!(bodies.len(), 3);
    assert!(bodies.iter().all(|b| b == &bodies[0]));
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    let when = chrono::Utc::now() + chrono::Duration::seconds(4);
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(
            error_response(429, "TOO_MANY_REQUESTS", None).insert_header(
                "Retry-After",
                when.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            ),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_ping(
        &server,
        ResponseTemplate::new(200).set_body_json(ping_body()),
    )
    .await;
    let clock = VirtualClock::new();
    let client = builder(&server, &clock)
        .adaptive_throttling(false)
        .build()
        .unwrap();
    client.ping().await.unwrap();
    let slept = clock.sleeps();
    assert_eq!(slept.len(), 1, "{slept:?}");
    assert!(
        slept[0] >= Duration::from_secs(2) && slept[0] <= Duration::from_secs(4),
        "waited {:?}",
        slept[0]
    );
}

#[tokio::test]
async fn a_503_with_retry_after_was_not_processed_by_the_one_classifier() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/invitations"))
        .respond_with(
            error_response(503, "SERVICE_UNAVAILABLE", None).insert_header("Retry-After", "1"),
        )
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = builder(&server, &clock)
        .retry_policy(NeverRetry)
        .build()
        .unwrap()
        .create_invitation(&invitation_request())
        .await
        .unwrap_err();
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    assert_eq!(error.failure_kind(), FailureKind::NotProcessed);
    assert!(!error.may_have_been_processed(), "{error:?}");
}

#[tokio::test]
async fn a_bare_503_with_retry_after_was_not_processed_either() {
    // No error envelope (a proxy or load balancer answering): the classifier still sees the
    // header, so the retry decision and `may_have_been_processed` agree.
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/invitations"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "1"))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = builder(&server, &clock)
        .retry_policy(NeverRetry)
        .build()
        .unwrap()
        .create_invitation(&invitation_request())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            pearsana::Error::UnexpectedStatus {
                retry_after: Some(_),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.failure_kind(), FailureKind::NotProcessed);
    assert!(!error.may_have_been_processed(), "{error:?}");
}

#[tokio::test]
async fn the_clients_retry_policy_reaches_token_requests() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock).with_retry_policy(NeverRetry);
    assert!(client.ping().await.is_err());
    assert_eq!(
        pearsana::testing::token_requests(&client),
        1,
        "no retry under NeverRetry"
    );
}

async fn token_with(body: serde_json::Value) -> (MockServer, pearsana::Client) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    mount_ping(
        &server,
        ResponseTemplate::new(200).set_body_json(ping_body()),
    )
    .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    (server, client)
}

#[tokio::test]
async fn token_responses_are_read_leniently() {
    for (body, lifetime) in [
        (
            json!({"access_token": "t1", "token_type": "Bearer", "expires_in": "3600"}),
            3600,
        ),
        (
            json!({"access_token": "t2", "token_type": "bearer", "expires_in": 1800}),
            1800,
        ),
        (json!({"access_token": "t3", "token_type": "BEARER"}), 300),
        (
            json!({"access_token": "t4", "token_type": "Bearer", "expires_in": null}),
            300,
        ),
    ] {
        let (_server, client) = token_with(body.clone()).await;
        client
            .ping()
            .await
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        let status = client.token_status().unwrap();
        let left = status.expires_at - std::time::Instant::now();
        assert!(
            left <= Duration::from_secs(lifetime) && left > Duration::from_secs(lifetime - 5),
            "{body}: {left:?}"
        );
    }
    assert_eq!(
        pearsana::auth::LIFETIME_WITHOUT_EXPIRES_IN,
        Duration::from_secs(300)
    );
}

#[tokio::test]
async fn an_unusable_token_response_names_the_field_and_the_reason() {
    for (body, expected) in [
        (json!({"token_type": "Bearer"}), "access_token is missing"),
        (json!({"access_token": 7}), "access_token is not a string"),
        (
            json!({"access_token": "t", "expires_in": "soon"}),
            "expires_in is not a number",
        ),
        (
            json!({"access_token": "t", "token_type": "mac"}),
            "token_type is `mac`",
        ),
        (
            json!({"access_token": "t", "scope": ["a"]}),
            "scope is not a string",
        ),
    ] {
        let (_server, client) = token_with(body.clone()).await;
        match client.ping().await.unwrap_err() {
            Error::Auth {
                source: AuthError::InvalidTokenResponse { reason },
                ..
            } => assert!(reason.contains(expected), "{body}: {reason}"),
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_generated_client_runs_through_the_same_pipeline() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .respond_with(error_response(502, "INTERNAL_SERVER_ERROR", None))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .and(header("authorization", "Bearer tok"))
        .respond_with(ResponseTemplate::new(201).set_body_json(user_created("jane@example.com")))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    let created = client
        .api()
        .create_user()
        .x_api_version(client.api_version().date())
        .body(user_request("jane@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.user_id, "user-1");
    let bodies: Vec<Vec<u8>> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/users")
        .map(|r| r.body)
        .collect();
    assert_eq!(bodies.len(), 2, "retried after the ambiguous 502");
    assert_eq!(bodies[0], bodies[1]);
    assert!(!bodies[0].is_empty());
}
