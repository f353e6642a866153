//! The generated crate on its own: a partner can call every operation with the generated
//! builders, a plain `reqwest::Client` and `Hooks::none()`, here against the real sandbox over
//! loopback, with the spec's own request examples as bodies.

use pearsana_api::{Client, Error, hooks::Hooks, spec, types};
use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox};
use pearsana_tests::{media_examples, operations, resolve};
use serde_json::Value;

/// The request example of the operation with `operation_id` (the first, if several).
fn request_example(operation_id: &str) -> Value {
    let (_, _, operation) = operations()
        .into_iter()
        .find(|(_, _, op)| op["operationId"] == operation_id)
        .expect("operation exists");
    let media = &resolve(&operation["requestBody"])["content"]["application/json"];
    let mut examples = Vec::new();
    media_examples(operation_id, media, &mut examples);
    examples.remove(0).2
}

async fn access_token(base: &str) -> String {
    let response: Value = reqwest::Client::new()
        .post(format!("{base}/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_operation_works_with_a_plain_reqwest_client() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let token = access_token(&sandbox.url()).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    let client = Client::new_with_client(&sandbox.url(), http, Hooks::none());
    let version: chrono::NaiveDate = spec::API_VERSION.parse().unwrap();

    let health = client.get_health().send().await.unwrap();
    assert_eq!(health.status, types::HealthResponseStatus::Ok);
    assert_eq!(
        health.headers()["x-api-version-latest"].to_str().unwrap(),
        spec::API_VERSION
    );

    let ping = client.ping().send().await.unwrap();
    assert_eq!(ping.client_id, DEFAULT_CLIENT_ID);
    assert_eq!(ping.scopes.len(), spec::scopes::ALL.len());

    let user_body: types::CreateUserRequest =
        serde_json::from_value(request_example("createUser")).unwrap();
    let user = client
        .create_user()
        .x_api_version(version)
        .body(user_body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(user.status(), 201);
    assert_eq!(user.email, "student@example.com");

    // A second create with the same email: a typed error response whose request id matches
    // the header.
    let Err(Error::ErrorResponse(conflict)) = client
        .create_user()
        .x_api_version(version)
        .x_request_id("generated-client-test-1")
        .body(user_body)
        .send()
        .await
    else {
        panic!("a duplicate email must be answered with the error envelope");
    };
    assert_eq!(conflict.status(), 409);
    assert_eq!(conflict.error.code, types::ErrorCode::Conflict);
    assert_eq!(conflict.error.request_id, "generated-client-test-1");
    assert_eq!(
        conflict.error.details.as_ref().unwrap().user_id.as_deref(),
        Some(user.user_id.as_str())
    );

    let mut invitation_body = request_example("createInvitation");
    invitation_body["email"] = "invitee@example.com".into();
    invitation_body["externalReferences"][0]["externalId"] = "STU-2024-002".into();
    let invitation = client
        .create_invitation()
        .x_api_version(version)
        .body(serde_json::from_value::<types::CreateInvitationRequest>(invitation_body).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        invitation.invitation.status,
        types::InvitationStatus::Pending
    );
    assert_eq!(
        invitation.invitation.user_state,
        types::InvitationUserState::New
    );

    let document = client
        .submit_document()
        .x_api_version(version)
        .body(
            serde_json::from_value::<types::SubmitDocumentRequest>(request_example(
                "submitDocument",
            ))
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(document.document.user_id, user.user_id);
    assert_eq!(
        document.document.category,
        types::DocumentCategory::Academic
    );

    // STU-2024-002 is only invited, not linked: item 2 of the spec's batch example fails alone.
    let batch = client
        .submit_document_batch()
        .x_api_version(version)
        .body(
            serde_json::from_value::<types::SubmitDocumentBatchRequest>(request_example(
                "submitDocumentBatch",
            ))
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(batch.summary.total, 2);
    assert_eq!(batch.results[0].status, types::BatchItemStatus::Created);
    assert_eq!(batch.results[1].status, types::BatchItemStatus::Failed);
    assert_eq!(
        batch.results[1].error.as_ref().unwrap().code,
        types::ErrorCode::NotFound
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_missing_api_version_fails_before_any_request_is_sent() {
    let sandbox = Sandbox::builder().spawn().await.unwrap();
    let client = Client::new(&sandbox.url(), Hooks::none());
    let result = client
        .create_user()
        .body(
            serde_json::from_value::<types::CreateUserRequest>(request_example("createUser"))
                .unwrap(),
        )
        .send()
        .await;
    assert!(
        matches!(result, Err(Error::InvalidRequest(_))),
        "{result:?}"
    );
    assert!(
        sandbox
            .stats()
            .requests_by_operation
            .values()
            .all(|n| *n == 0)
    );
    assert_eq!(sandbox.stats().users_created, 0);
    sandbox.shutdown().await;
}
