//! OAuth 2.0 client credentials against a scripted token endpoint.

mod common;

use std::time::Duration;

use common::*;
use pearsana::{AuthError, Error, OAuthErrorKind, spec};
use serde_json::json;
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body("tok-shared", 3600))
                .set_delay(Duration::from_millis(150)),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .and(header("authorization", "Bearer tok-shared"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ping_body()))
        .expect(200)
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);

    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.ping().await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("ping succeeds");
    }
    assert_eq!(pearsana::testing::token_requests(&client), 1);
    assert_eq!(count(&server, "/oauth2/token").await, 1);
}

#[tokio::test]
async fn token_request_is_a_form_post_with_credentials_in_the_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains(format!("client_id={CLIENT_ID}")))
        .and(body_string_contains(format!(
            "client_secret={CLIENT_SECRET}"
        )))
        .and(body_string_contains(
            "scope=pearsana-partner%2Fping+pearsana-partner%2Fpartners.users%3Awrite",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("tok-1", 3600)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ping_body()))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = builder(&server, &clock)
        .scopes([spec::scopes::PING, spec::scopes::PARTNERS_USERS_WRITE])
        .build()
        .unwrap();
    client.ping().await.expect("ping succeeds");
    let status = client.token_status().expect("a token is cached");
    assert_eq!(
        status.scopes,
        vec![spec::scopes::PING, spec::scopes::PARTNERS_USERS_WRITE]
    );
}

#[tokio::test]
async fn without_configured_scopes_no_scope_is_requested() {
    let server = MockServer::start().await;
    mount_token(&server, "tok-1", 3600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ping_body()))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    client(&server, &clock).ping().await.unwrap();
    let requests = server.received_requests().await.unwrap();
    let token_request = requests
        .iter()
        .find(|r| r.url.path() == "/oauth2/token")
        .unwrap();
    let body = String::from_utf8_lossy(&token_request.body);
    assert!(!body.contains("scope="), "{body}");
}

#[tokio::test]
async fn token_is_refreshed_a_margin_before_expiry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("tok-1", 600)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_token(&server, "tok-2", 600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ping_body()))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = builder(&server, &clock)
        .token_refresh_margin(Duration::from_secs(60))
        .build()
        .unwrap();

    client.ping().await.unwrap();
    let first = client.token_status().unwrap();
    let lead = first.expires_at - first.refresh_at;
    assert!(
        lead >= Duration::from_secs(60) && lead <= Duration::from_secs(75),
        "{lead:?}"
    );

    clock.advance(Duration::from_secs(500)); // inside the token's life, before the margin
    client.ping().await.unwrap();
    assert_eq!(pearsana::testing::token_requests(&client), 1);

    clock.advance(Duration::from_secs(50)); // 550 s: within the 60-75 s margin
    client.ping().await.unwrap();
    assert_eq!(pearsana::testing::token_requests(&client), 2);
    assert_eq!(
        header_values(&server, "/ping", "authorization").await,
        vec!["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]
    );
}

#[tokio::test]
async fn unauthorized_response_refreshes_the_token_and_replays_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("tok-old", 3600)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    mount_token(&server, "tok-new", 3600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .and(header("authorization", "Bearer tok-old"))
        .respond_with(error_response(401, "UNAUTHORIZED", None))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .and(header("authorization", "Bearer tok-new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ping_body()))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);

    client.ping().await.expect("replayed with the new token");
    assert_eq!(pearsana::testing::token_requests(&client), 2);
    let ids = header_values(&server, "/ping", "x-request-id").await;
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1], "the replay keeps the request id");
    assert!(
        clock.sleeps().is_empty(),
        "a replay after 401 does not back off"
    );
}

#[tokio::test]
async fn a_second_unauthorized_is_returned_not_replayed_again() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(error_response(401, "UNAUTHORIZED", None))
        .expect(2)
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    let error = client.ping().await.unwrap_err();
    assert_eq!(error.code(), Some(pearsana::ErrorCode::Unauthorized));
    assert_eq!(error.request_id(), Some("req-from-body"));
    assert_eq!(pearsana::testing::token_requests(&client), 2);
}

#[tokio::test]
async fn invalid_client_is_a_typed_error_and_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/ping"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);

    let error = client.ping().await.unwrap_err();
    let Error::Auth { source, request_id } = &error else {
        panic!("expected an auth error, got {error:?}");
    };
    assert_eq!(source.oauth_error(), Some(&OAuthErrorKind::InvalidClient));
    assert_eq!(source.status().map(|s| s.as_u16()), Some(401));
    assert!(request_id.is_some(), "the call's request id is kept");
    assert!(error.to_string().contains("invalid_client"), "{error}");
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn invalid_scope_is_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_scope"})))
        .expect(1)
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = builder(&server, &clock)
        .scopes(["pearsana-partner/unknown"])
        .build()
        .unwrap();
    let error = client.ping().await.unwrap_err();
    assert!(matches!(
        &error,
        Error::Auth {
            source: AuthError::Rejected {
                kind: OAuthErrorKind::InvalidScope,
                ..
            },
            ..
        }
    ));
}

#[tokio::test]
async fn an_oauth_error_this_version_does_not_know_is_kept_as_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_dpop_proof", "error_uri": "later"})),
        )
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock).ping().await.unwrap_err();
    let Error::Auth { source, .. } = &error else {
        panic!("expected an auth error, got {error:?}");
    };
    let kind = source.oauth_error().expect("an RFC 6749 error");
    assert!(kind.is_unknown());
    assert_eq!(kind.as_str(), "invalid_dpop_proof");
    assert_eq!(kind, &OAuthErrorKind::from("invalid_dpop_proof"));
    assert_ne!(kind, &OAuthErrorKind::InvalidClient);
    assert!(error.to_string().contains("invalid_dpop_proof"), "{error}");
}

#[tokio::test]
async fn transient_token_endpoint_failures_are_retried_with_backoff() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ping_body()))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    client.ping().await.expect("third token request succeeds");
    assert_eq!(pearsana::testing::token_requests(&client), 3);
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 2);
    assert!(sleeps[1] > Duration::ZERO);
}

#[tokio::test]
async fn health_needs_no_token_and_no_credentials() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "ok"})))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = pearsana::Client::builder()
        .environment(pearsana::Environment::Custom {
            api_url: server.uri(),
            auth_url: server.uri(),
        })
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(
        client.health().await.unwrap().status,
        pearsana::types::HealthResponseStatus::Ok
    );
    assert_eq!(pearsana::testing::token_requests(&client), 0);
    let error = client.ping().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Auth {
                source: AuthError::MissingCredentials,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(count(&server, "/ping").await, 0);
}

#[tokio::test]
async fn a_burst_of_unauthorized_answers_costs_one_refresh() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("tok-revoked", 3600)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body("tok-fresh", 3600))
                .set_delay(Duration::from_millis(50)),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .and(header("authorization", "Bearer tok-revoked"))
        .respond_with(error_response(401, "UNAUTHORIZED", None))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .and(header("authorization", "Bearer tok-fresh"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ping_body()))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.ping().await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().expect("replayed with the fresh token");
    }
    assert_eq!(pearsana::testing::token_requests(&client), 2);
}
