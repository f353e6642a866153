//! Token endpoint (ASSUMPTIONS A1, A2) and bearer checks (A4).

mod common;

use std::time::Duration;

use common::*;
use pearsana_api::spec::{operations, scopes};
use pearsana_api::types;
use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox};
use serde_json::Value;

async fn token_request(
    url: &str,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new().post(url).form(form);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

#[tokio::test]
async fn client_secret_post_and_basic_both_issue_tokens_with_every_granted_scope() {
    let sandbox = start().await;
    let url = sandbox.token_url();
    let grant = [("grant_type", "client_credentials")];
    let (status, headers, body) = token_request(
        &url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
        ],
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], scopes::ALL.join(" "));
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);

    let (status, _, body) = token_request(
        &url,
        &grant,
        Some((DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sandbox.stats().token_requests, 2);
    assert_eq!(sandbox.stats().tokens_issued, 2);
}

#[tokio::test]
async fn token_errors_follow_rfc_6749() {
    let sandbox = start().await;
    let url = sandbox.token_url();
    let creds = [
        ("client_id", DEFAULT_CLIENT_ID),
        ("client_secret", DEFAULT_CLIENT_SECRET),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut form = creds.to_vec();
        form.extend_from_slice(extra);
        form
    };
    type Form<'a> = Vec<(&'a str, &'a str)>;
    type Case<'a> = (Form<'a>, Option<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (with(&[]), None, 400, "invalid_request"),
        (
            with(&[("grant_type", "password")]),
            None,
            400,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", "wrong"),
            ],
            None,
            401,
            "invalid_client",
        ),
        (
            vec![("grant_type", "client_credentials")],
            None,
            401,
            "invalid_client",
        ),
        (
            vec![("grant_type", "client_credentials")],
            Some((DEFAULT_CLIENT_ID, "nope")),
            401,
            "invalid_client",
        ),
        (
            with(&[("grant_type", "client_credentials")]),
            Some((DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)),
            400,
            "invalid_request",
        ),
        (
            with(&[
                ("grant_type", "client_credentials"),
                ("scope", "pearsana-partner/admin"),
            ]),
            None,
            400,
            "invalid_scope",
        ),
    ];
    for (form, basic, status, error) in cases {
        let (got, headers, body) = token_request(&url, &form, basic).await;
        assert_eq!(
            (got, body["error"].as_str().unwrap()),
            (status, error),
            "{form:?} {body}"
        );
        assert!(body["error_description"].is_string());
        assert!(!body.to_string().contains(DEFAULT_CLIENT_SECRET));
        assert!(headers.contains_key("x-request-id"));
    }
    // A JSON body is not a form.
    let response = reqwest::Client::new()
        .post(&url)
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(sandbox.stats().tokens_issued, 0);
}

#[tokio::test]
async fn a_token_carries_only_the_requested_scopes() {
    let sandbox = start().await;
    let token = token_for(
        &sandbox,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        Some(scopes::PING),
    )
    .await;
    let ping = api(&sandbox, &token).ping().send().await.unwrap();
    assert_eq!(ping.client_id, DEFAULT_CLIENT_ID);
    assert_eq!(ping.scopes, [scopes::PING]);
    assert_eq!(ping.status, types::PingResponseStatus::Ok);

    let answer = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("a@b.io", "SIS", "1"),
    )
    .await;
    answer.assert_error(403, "INSUFFICIENT_SCOPE");
    let details = &answer.body["error"]["details"];
    assert_eq!(
        details["requiredScopes"],
        serde_json::json!(operations::CREATE_USER.required_scopes)
    );
    assert_eq!(details["providedScopes"], serde_json::json!([scopes::PING]));
}

#[tokio::test]
async fn extra_clients_get_only_their_scopes() {
    let sandbox = Sandbox::builder()
        .client("writer", "pw", [scopes::PARTNERS_USERS_WRITE])
        .spawn()
        .await
        .unwrap();
    let token = token_for(&sandbox, "writer", "pw", None).await;
    get(&sandbox, &token, "/ping")
        .await
        .assert_error(403, "INSUFFICIENT_SCOPE");
    let created = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("w@b.io", "SIS", "1"),
    )
    .await;
    assert_eq!(created.status, 201);
    let (status, _, body) = token_request(
        &sandbox.token_url(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "writer"),
            ("client_secret", "pw"),
            ("scope", scopes::PING),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
}

#[tokio::test]
async fn missing_forged_foreign_and_expired_tokens_are_unauthorized() {
    // Expiry has whole-second resolution, so a two-second token is valid for at least one
    // second: enough for the checks below even on a loaded machine.
    let sandbox = Sandbox::builder()
        .token_ttl(Duration::from_secs(2))
        .spawn()
        .await
        .unwrap();
    let other = start().await;
    let foreign = token(&other).await;
    let signed = token(&sandbox).await;
    // Change one character in the middle of the signature.
    let mut forged: Vec<char> = signed.chars().collect();
    let i = forged.len() - 10;
    forged[i] = if forged[i] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();

    let no_token = read(
        reqwest::get(format!("{}/ping", sandbox.url()))
            .await
            .unwrap(),
    )
    .await;
    no_token.assert_error(401, "UNAUTHORIZED");
    assert_eq!(
        no_token.header("www-authenticate"),
        "Bearer realm=\"pearsana-sandbox\""
    );
    for token in [foreign.as_str(), forged.as_str(), "garbage"] {
        get(&sandbox, token, "/ping")
            .await
            .assert_error(401, "UNAUTHORIZED");
    }
    // A fresh token right before its use: with a 1 s lifetime, the RSA checks above can take
    // longer than that on a loaded 2-core machine (debug build).
    let valid = token(&sandbox).await;
    assert_eq!(get(&sandbox, &valid, "/ping").await.status, 200);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    get(&sandbox, &valid, "/ping")
        .await
        .assert_error(401, "UNAUTHORIZED");
    // /health needs no token at all.
    assert_eq!(
        api(&sandbox, "x").get_health().send().await.unwrap().status,
        types::HealthResponseStatus::Ok
    );
}
