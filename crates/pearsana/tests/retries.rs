//! Retries, request ids and the idempotency rules, against scripted faults.

mod common;

use std::time::Duration;

use common::*;
use pearsana::retry::{NeverRetry, retry_ambiguous_policy};
use pearsana::{Error, ErrorCode, RequestId, UserOutcome};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn retry_after_is_honoured_on_429() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(
            error_response(429, "TOO_MANY_REQUESTS", None).insert_header("retry-after", "7"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ping_body()))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    client(&server, &clock)
        .ping()
        .await
        .expect("second attempt succeeds");
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(7)]);
    assert_eq!(count(&server, "/ping").await, 2);
}

#[tokio::test]
async fn retry_after_is_capped() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(
            error_response(429, "TOO_MANY_REQUESTS", None).insert_header("retry-after", "3600"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ping_body()))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = builder(&server, &clock)
        .max_retry_after(Duration::from_secs(20))
        .build()
        .unwrap();
    client.ping().await.unwrap();
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(20)]);
}

#[tokio::test]
async fn rate_limited_invitation_is_repeated_because_nothing_was_processed() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/invitations"))
        .respond_with(
            error_response(503, "INTERNAL_SERVER_ERROR", None).insert_header("retry-after", "2"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/invitations"))
        .respond_with(ResponseTemplate::new(201).set_body_json(invitation_created()))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let created = client(&server, &clock)
        .create_invitation(&invitation_request())
        .await
        .unwrap();
    assert_eq!(created.invitation.invitation_id, "inv_1");
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(2)]);
}

#[tokio::test]
async fn too_many_requests_gives_up_after_the_attempt_limit_with_retry_after() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(
            error_response(429, "TOO_MANY_REQUESTS", None).insert_header("retry-after", "1"),
        )
        .expect(4)
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock).ping().await.unwrap_err();
    let api = error.api_error().expect("an API error");
    assert_eq!(api.code, ErrorCode::TooManyRequests);
    assert_eq!(
        api.details,
        pearsana::ErrorDetails::TooManyRequests {
            retry_after: Some(Duration::from_secs(1))
        }
    );
    assert_eq!(clock.sleeps().len(), 3);
}

#[tokio::test]
async fn ambiguous_failure_on_user_creation_is_recovered_via_conflict() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    // The first attempt "succeeds" on the server but the answer is lost as a 502.
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .respond_with(error_response(
            409,
            "CONFLICT",
            Some(json!({"userId": "user-42", "email": "student@example.com"})),
        ))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let outcome = client(&server, &clock)
        .create_or_get_user(&user_request("Student@Example.com"))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        UserOutcome::Existing {
            user_id: "user-42".into(),
            email: "student@example.com".into()
        }
    );
    let ids = header_values(&server, "/v1/users", "x-request-id").await;
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1], "one logical call, one request id");
    assert_eq!(clock.sleeps().len(), 1);
}

#[tokio::test]
async fn create_or_get_user_reports_a_created_user() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .respond_with(ResponseTemplate::new(201).set_body_json(user_created("student@example.com")))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let outcome = client(&server, &clock)
        .create_or_get_user(&user_request("student@example.com"))
        .await
        .unwrap();
    assert!(matches!(outcome, UserOutcome::Created(ref u) if u.user_id == "user-1"));
    assert_eq!(outcome.user_id(), "user-1");
}

#[tokio::test]
async fn invitation_is_not_repeated_after_an_ambiguous_failure_unless_opted_in() {
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
    assert_eq!(error.code(), Some(ErrorCode::InternalServerError));
    assert_eq!(
        count(&server, "/v1/invitations").await,
        1,
        "no repeat by default"
    );

    server.reset().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/invitations"))
        .respond_with(ResponseTemplate::new(504))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/invitations"))
        .respond_with(ResponseTemplate::new(201).set_body_json(invitation_created()))
        .mount(&server)
        .await;
    let opted_in = client.with_retry_policy(retry_ambiguous_policy());
    opted_in
        .create_invitation(&invitation_request())
        .await
        .expect("repeated after opting in");
    assert_eq!(count(&server, "/v1/invitations").await, 2);
    assert_eq!(
        pearsana::testing::token_requests(&opted_in),
        pearsana::testing::token_requests(&client),
        "the token cache is shared"
    );
}

#[tokio::test]
async fn health_is_repeated_after_ambiguous_failures_and_bounded_in_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(error_response(503, "SERVICE_UNAVAILABLE", None))
        .expect(4)
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock).health().await.unwrap_err();
    let api = error
        .api_error()
        .expect("envelope decoded from an undocumented status");
    assert!(api.code.is_unknown());
    assert_eq!(api.code.as_str(), "SERVICE_UNAVAILABLE");
    assert_eq!(api.status.as_u16(), 503);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 3);
    assert!(sleeps.iter().all(|d| *d <= Duration::from_secs(10)));
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported_as_transport_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let clock = VirtualClock::new();
    let client = pearsana::Client::builder()
        .environment(pearsana::Environment::Custom {
            api_url: url.clone(),
            auth_url: url,
        })
        .clock(clock.clone())
        .build()
        .unwrap();
    let error = client.health().await.unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(error.request_id().is_some());
    assert_eq!(clock.sleeps().len(), 3, "four attempts in all");
}

#[tokio::test]
async fn never_retry_sends_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .expect(1)
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = builder(&server, &clock)
        .retry_policy(NeverRetry)
        .build()
        .unwrap();
    assert!(client.health().await.is_err());
}

#[tokio::test]
async fn every_call_gets_a_uuid_request_id_unless_the_caller_sets_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "ok"})))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    client.health().await.unwrap();
    client.health().await.unwrap();
    let chosen: RequestId = "support-ticket-77".parse().unwrap();
    client.health().request_id(chosen).await.unwrap();

    let ids = header_values(&server, "/health", "x-request-id").await;
    assert_eq!(ids.len(), 3);
    assert_ne!(ids[0], ids[1]);
    for generated in &ids[..2] {
        assert!(uuid_like(generated), "{generated}");
    }
    assert_eq!(ids[2], "support-ticket-77");
    assert!("bad id".parse::<RequestId>().is_err());
    assert!("x".repeat(129).parse::<RequestId>().is_err());
}

fn uuid_like(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == [8, 4, 4, 4, 12]
        && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}
