//! Error envelopes, versioning headers and decode failures.

mod common;

use std::time::Duration;

use common::*;
use pearsana::retry::NeverRetry;
use pearsana::{ApiVersion, Error, ErrorCode, ErrorDetails, spec};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn every_documented_error_code_is_decoded() {
    let cases = [
        (400, "VALIDATION_ERROR", ErrorCode::ValidationError),
        (400, "INVALID_API_VERSION", ErrorCode::InvalidApiVersion),
        (401, "UNAUTHORIZED", ErrorCode::Unauthorized),
        (403, "FORBIDDEN", ErrorCode::Forbidden),
        (403, "INSUFFICIENT_SCOPE", ErrorCode::InsufficientScope),
        (404, "NOT_FOUND", ErrorCode::NotFound),
        (409, "CONFLICT", ErrorCode::Conflict),
        (409, "EXTERNAL_REF_CONFLICT", ErrorCode::ExternalRefConflict),
        (429, "TOO_MANY_REQUESTS", ErrorCode::TooManyRequests),
        (500, "INTERNAL_SERVER_ERROR", ErrorCode::InternalServerError),
        (418, "NEWLY_INVENTED", ErrorCode::from("NEWLY_INVENTED")),
    ];
    let server = MockServer::start().await;
    let clock = VirtualClock::new();
    let client = builder(&server, &clock)
        .retry_policy(NeverRetry)
        .build()
        .unwrap();
    for (status, wire, expected) in cases {
        server.reset().await;
        mount_token(&server, "tok", 3600).await;
        Mock::given(method("POST"))
            .and(path("/v1/invitations"))
            .respond_with(
                error_response(status, wire, None).insert_header("x-request-id", "req-from-header"),
            )
            .mount(&server)
            .await;
        let error = client
            .create_invitation(&invitation_request())
            .await
            .unwrap_err();
        assert_eq!(error.code(), Some(expected.clone()), "{wire}: {error:?}");
        assert_eq!(error.status().map(|s| s.as_u16()), Some(status), "{wire}");
        assert_eq!(error.request_id(), Some("req-from-body"), "{wire}");
        let api = error.api_error().unwrap();
        assert_eq!(api.message, "scripted failure");
        assert!(error.to_string().contains(wire), "{error}");
    }
    // The eleventh documented code, 410, has its own variant.
    server.reset().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/invitations"))
        .respond_with(error_response(410, "UNSUPPORTED_API_VERSION", None))
        .mount(&server)
        .await;
    let error = client
        .create_invitation(&invitation_request())
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::UnsupportedApiVersion));
}

#[tokio::test]
async fn documented_details_are_typed() {
    let server = MockServer::start().await;
    let clock = VirtualClock::new();
    let client = builder(&server, &clock)
        .retry_policy(NeverRetry)
        .build()
        .unwrap();
    let cases = [
        (
            400,
            "VALIDATION_ERROR",
            json!({"errors": ["identity.email is required", "identity.roleName is required"]}),
            ErrorDetails::Validation {
                errors: vec![
                    "identity.email is required".into(),
                    "identity.roleName is required".into(),
                ],
            },
        ),
        (
            403,
            "INSUFFICIENT_SCOPE",
            json!({"requiredScopes": [spec::scopes::PARTNERS_USERS_WRITE], "providedScopes": [spec::scopes::PING]}),
            ErrorDetails::InsufficientScope {
                required_scopes: vec![spec::scopes::PARTNERS_USERS_WRITE.into()],
                provided_scopes: vec![spec::scopes::PING.into()],
            },
        ),
        (
            409,
            "CONFLICT",
            json!({"userId": "user-9", "email": "a@example.com"}),
            ErrorDetails::Conflict {
                user_id: Some("user-9".into()),
                email: Some("a@example.com".into()),
            },
        ),
        (
            409,
            "EXTERNAL_REF_CONFLICT",
            json!({"type": "sis", "externalId": "STU-1"}),
            ErrorDetails::ExternalRefConflict {
                namespace: Some("sis".into()),
                external_id: Some("STU-1".into()),
            },
        ),
        (
            429,
            "TOO_MANY_REQUESTS",
            json!({"retryAfterSeconds": 12}),
            ErrorDetails::TooManyRequests {
                retry_after: Some(Duration::from_secs(12)),
            },
        ),
    ];
    for (status, code, details, expected) in cases {
        server.reset().await;
        mount_token(&server, "tok", 3600).await;
        Mock::given(method("POST"))
            .and(path("/v1/users"))
            .respond_with(error_response(status, code, Some(details)))
            .mount(&server)
            .await;
        let error = client
            .create_user(&user_request("a@example.com"))
            .await
            .unwrap_err();
        assert_eq!(error.api_error().unwrap().details, expected, "{code}");
    }
}

#[tokio::test]
async fn unsupported_version_is_a_typed_error_with_oldest_and_latest() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .and(header("x-api-version", "2025-01-01"))
        .respond_with(error_response(
            410,
            "UNSUPPORTED_API_VERSION",
            Some(json!({"oldestSupportedVersion": "2026-01-30", "latestVersion": "2026-06-01"})),
        ))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let old: ApiVersion = "2025-01-01".parse().unwrap();
    let client = builder(&server, &clock).api_version(old).build().unwrap();
    let error = client
        .create_user(&user_request("a@example.com"))
        .await
        .unwrap_err();
    match &error {
        Error::UnsupportedApiVersion {
            pinned,
            oldest_supported,
            latest,
            request_id,
            ..
        } => {
            assert_eq!(*pinned, old);
            assert_eq!(oldest_supported.unwrap().to_string(), "2026-01-30");
            assert_eq!(latest.unwrap().to_string(), "2026-06-01");
            assert_eq!(request_id.as_deref(), Some("req-from-body"));
        }
        other => panic!("expected UnsupportedApiVersion, got {other:?}"),
    }
    assert_eq!(error.status().map(|s| s.as_u16()), Some(410));
}

#[tokio::test]
async fn unsupported_version_falls_back_to_the_version_headers() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(
            error_response(410, "UNSUPPORTED_API_VERSION", None)
                .insert_header("x-api-version-supported", "2026-01-30")
                .insert_header("x-api-version-latest", "2026-03-01"),
        )
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock).ping().await.unwrap_err();
    let Error::UnsupportedApiVersion {
        oldest_supported,
        latest,
        ..
    } = error
    else {
        panic!("expected UnsupportedApiVersion");
    };
    assert_eq!(
        oldest_supported.map(|v| v.to_string()).as_deref(),
        Some("2026-01-30")
    );
    assert_eq!(latest.map(|v| v.to_string()).as_deref(), Some("2026-03-01"));
}

#[tokio::test]
async fn every_request_pins_the_version_and_the_client_records_what_the_server_reports() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .and(header("x-api-version", spec::API_VERSION))
        .and(header(
            "user-agent",
            pearsana::config::default_user_agent().as_str(),
        ))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(user_created("a@example.com"))
                .insert_header("x-api-version", spec::API_VERSION)
                .insert_header("x-api-version-latest", "2099-01-01")
                .insert_header("x-api-version-supported", "2026-01-30"),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .and(header("x-api-version", spec::API_VERSION))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "ok"})))
        .expect(1)
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    assert_eq!(client.version_info().latest, None);
    client
        .create_user(&user_request("a@example.com"))
        .await
        .unwrap();
    client
        .create_user(&user_request("a@example.com"))
        .await
        .unwrap();
    client.health().await.unwrap();
    let info = client.version_info();
    assert_eq!(info.pinned, Some(ApiVersion::default()));
    assert_eq!(info.applied, Some(ApiVersion::default()));
    assert_eq!(info.latest.unwrap().to_string(), "2099-01-01");
    assert_eq!(info.oldest_supported.unwrap().to_string(), "2026-01-30");
    assert!(info.newer_version_available());
}

#[tokio::test]
async fn undecodable_success_body_is_a_decode_error_keeping_the_raw_body() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_string("{\"userId\": 42}")
                .insert_header("x-request-id", "rid-7"),
        )
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock)
        .create_user(&user_request("a@example.com"))
        .await
        .unwrap_err();
    match &error {
        Error::Decode {
            status,
            body,
            request_id,
            ..
        } => {
            assert_eq!(status.map(|s| s.as_u16()), Some(201));
            assert_eq!(&body[..], b"{\"userId\": 42}");
            assert_eq!(request_id.as_deref(), Some("rid-7"));
        }
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_error_code_on_a_documented_status_still_decodes() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .respond_with(error_response(
            400,
            "EMAIL_DOMAIN_BLOCKED",
            Some(json!({"errors": ["no"]})),
        ))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock)
        .create_user(&user_request("a@example.com"))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::from("EMAIL_DOMAIN_BLOCKED")));
    assert_eq!(error.request_id(), Some("req-from-body"));
}

#[tokio::test]
async fn one_malformed_detail_does_not_lose_the_others() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/users"))
        .respond_with(error_response(
            409,
            "CONFLICT",
            Some(json!({"userId": "user-5", "email": "a@example.com", "latestVersion": "someday"})),
        ))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock)
        .create_user(&user_request("a@example.com"))
        .await
        .unwrap_err();
    assert_eq!(
        error.api_error().unwrap().details,
        ErrorDetails::Conflict {
            user_id: Some("user-5".into()),
            email: Some("a@example.com".into())
        }
    );
}

#[tokio::test]
async fn an_error_without_envelope_keeps_status_body_and_request_id() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(
            ResponseTemplate::new(418)
                .set_body_string("teapot")
                .insert_header("x-request-id", "rid-9"),
        )
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let error = client(&server, &clock).health().await.unwrap_err();
    match error {
        Error::UnexpectedStatus {
            status,
            body,
            request_id,
            ..
        } => {
            assert_eq!(status.as_u16(), 418);
            assert_eq!(&body[..], b"teapot");
            assert_eq!(request_id.as_deref(), Some("rid-9"));
        }
        other => panic!("expected UnexpectedStatus, got {other:?}"),
    }
}
