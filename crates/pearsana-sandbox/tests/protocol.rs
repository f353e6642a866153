//! Versioning (ASSUMPTIONS V1 to V3), request ids (Q1), fallbacks, spec files and malformed
//! requests: every answer carries the headers and, for errors, the envelope.

mod common;

use common::*;
use pearsana_api::spec::API_VERSION;
use serde_json::json;

async fn users_with_version(url: &str, token: &str, version: Option<&str>) -> Answer {
    let mut request = reqwest::Client::new()
        .post(format!("{url}/v1/users"))
        .bearer_auth(token)
        .json(&user_body("v@b.io", "SIS", "v"));
    if let Some(version) = version {
        request = request.header("X-API-Version", version);
    }
    read(request.send().await.unwrap()).await
}

#[tokio::test]
async fn v1_operations_require_a_supported_version() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let url = sandbox.url();
    for bad in [
        None,
        Some("yesterday"),
        Some("2026-1-30"),
        Some("2999-01-01"),
    ] {
        let answer = users_with_version(&url, &token, bad).await;
        answer.assert_error(400, "INVALID_API_VERSION");
        let details = &answer.body["error"]["details"];
        assert_eq!(details["latestVersion"], API_VERSION);
        assert_eq!(details["oldestSupportedVersion"], API_VERSION);
    }
    let gone = users_with_version(&url, &token, Some("2025-01-01")).await;
    gone.assert_error(410, "UNSUPPORTED_API_VERSION");
    assert_eq!(
        gone.body["error"]["details"]["oldestSupportedVersion"],
        API_VERSION
    );
    // Nothing was created by the refused requests.
    assert_eq!(sandbox.stats().users_created, 0);
    assert_eq!(
        users_with_version(&url, &token, Some(API_VERSION))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn health_and_ping_accept_but_do_not_require_the_version() {
    let sandbox = start().await;
    let client = reqwest::Client::new();
    let health = read(
        client
            .get(format!("{}/health", sandbox.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, json!({"status": "ok"}));
    assert_version_headers(&health.headers);
    let old = client
        .get(format!("{}/health", sandbox.url()))
        .header("X-API-Version", "2020-01-01")
        .send()
        .await
        .unwrap();
    read(old).await.assert_error(410, "UNSUPPORTED_API_VERSION");
}

#[tokio::test]
async fn request_ids_are_echoed_when_valid_and_generated_otherwise() {
    let sandbox = start().await;
    let client = reqwest::Client::new();
    let url = format!("{}/ping", sandbox.url());
    let mine = read(
        client
            .get(&url)
            .header("X-Request-Id", "sis-sync-0001")
            .send()
            .await
            .unwrap(),
    )
    .await;
    mine.assert_error(401, "UNAUTHORIZED");
    assert_eq!(mine.header("x-request-id"), "sis-sync-0001");
    let too_long = "x".repeat(129);
    for bad in [too_long.as_str(), "has space"] {
        let answer = read(
            client
                .get(&url)
                .header("X-Request-Id", bad)
                .send()
                .await
                .unwrap(),
        )
        .await;
        answer.assert_error(401, "UNAUTHORIZED");
        assert!(
            uuid_like(answer.header("x-request-id")),
            "{}",
            answer.header("x-request-id")
        );
    }
    let first = read(client.get(&url).send().await.unwrap()).await;
    let second = read(client.get(&url).send().await.unwrap()).await;
    assert_ne!(first.header("x-request-id"), second.header("x-request-id"));
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_get_the_envelope() {
    let sandbox = start().await;
    let client = reqwest::Client::new();
    let missing = read(
        client
            .get(format!("{}/v1/nothing", sandbox.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    missing.assert_error(404, "NOT_FOUND");
    let wrong = read(
        client
            .delete(format!("{}/v1/users", sandbox.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    wrong.assert_error(405, "NOT_FOUND");
    assert_eq!(wrong.header("allow"), "POST");
    let wrong_token = read(
        client
            .get(format!("{}/oauth2/token", sandbox.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    wrong_token.assert_error(405, "NOT_FOUND");
}

#[tokio::test]
async fn the_spec_is_served_in_both_formats() {
    let sandbox = start().await;
    let yaml = reqwest::get(format!("{}/openapi.yaml", sandbox.url()))
        .await
        .unwrap();
    assert_eq!(yaml.headers()["content-type"], "application/yaml");
    assert!(yaml.text().await.unwrap().starts_with("openapi: 3.0.3"));
    let json: serde_json::Value = reqwest::get(format!("{}/openapi.json", sandbox.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["info"]["version"], API_VERSION);
}

#[tokio::test]
async fn malformed_bodies_get_a_validation_error_not_a_crash() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let client = reqwest::Client::new();
    let send = |content_type: &'static str, body: Vec<u8>| {
        client
            .post(format!("{}/v1/users", sandbox.url()))
            .bearer_auth(&token)
            .header("X-API-Version", API_VERSION)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "application/json",
            b"{\"identity\":".to_vec(),
            "body is not valid JSON (line 1, column 12)",
        ),
        (
            "application/json",
            vec![0xff, 0x00, 0x13, 0x37],
            "body is not valid JSON (line 1, column 1)",
        ),
        ("application/json", Vec::new(), "body is required"),
        (
            "application/json",
            b"[1,2]".to_vec(),
            "body must be a JSON object",
        ),
        (
            "text/plain",
            b"{}".to_vec(),
            "Content-Type must be application/json",
        ),
        (
            "application/json",
            vec![b'['; 100_000],
            "body is not valid JSON (line 1, column 128)",
        ),
    ];
    for (content_type, body, message) in cases {
        let answer = read(send(content_type, body).await.unwrap()).await;
        answer.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(answer.errors(), [message]);
    }
    let too_big = vec![b' '; pearsana_sandbox::SMALL_BODY_LIMIT + 1];
    let answer = read(send("application/json", too_big).await.unwrap()).await;
    answer.assert_error(400, "VALIDATION_ERROR");
    assert!(answer.errors()[0].starts_with("body must not be larger than"));
}
