//! Users and invitations (ASSUMPTIONS U1 to U4), their validation messages and the
//! `/sandbox/v1` helpers that accept invitations and read state back.

mod common;

use common::*;
use pearsana_api::types::{self, CreateInvitationRequest, CreateUserRequest};
use pearsana_sandbox::DEFAULT_ORGANISATION_ID;
use serde_json::json;

#[tokio::test]
async fn a_user_is_created_with_a_lowercased_email_through_the_generated_client() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let body: CreateUserRequest =
        serde_json::from_value(user_body("Jane.Smith@Example.COM", "SIS", "STU-1")).unwrap();
    let created = api(&sandbox, &token)
        .create_user()
        .x_api_version(version())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    assert_version_headers(created.headers());
    assert_eq!(created.email, "jane.smith@example.com");
    assert_eq!(created.organisation_id, DEFAULT_ORGANISATION_ID);
    assert_eq!(created.status, types::CreateUserResponseStatus::Created);
    let users = get(&sandbox, &token, "/sandbox/v1/users").await;
    assert_eq!(users.body["users"][0]["userId"], created.user_id.as_str());
    assert_eq!(
        users.body["users"][0]["externalReferences"],
        json!([{"namespace": "sis", "externalId": "STU-1"}])
    );
    assert_eq!(sandbox.stats().users_created, 1);
    assert_eq!(sandbox.stats().requests_by_operation["create_user"], 1);
}

#[tokio::test]
async fn user_validation_lists_every_problem_in_the_documented_style() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let answer = post(
        &sandbox,
        &token,
        "/v1/users",
        &json!({
            "identity": {"firstName": "Jane", "lastName": 7},
            "profile": {"phone": 5, "address": {"dateOfBirth": "15/05/2000"}}
        }),
    )
    .await;
    answer.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(answer.body["error"]["message"], "Validation failed");
    assert_eq!(
        answer.errors(),
        [
            "identity.email is required",
            "identity.lastName must be a string",
            "identity.roleName is required",
            "externalReferences is required and must be a non-empty array",
            "profile.phone must be a string",
            "profile.address.dateOfBirth must be a date in the form YYYY-MM-DD",
        ]
    );
    let answer = post(
        &sandbox,
        &token,
        "/v1/users",
        &json!({
            "identity": {"email": "not-an-email", "firstName": "J", "lastName": "S", "roleName": "student"},
            "externalReferences": [
                {"namespace": "SIS", "externalId": "1"},
                {"namespace": "sis", "externalId": "2"},
                {"namespace": "LMS", "externalId": "  "},
                {"externalId": ""}
            ]
        }),
    )
    .await;
    assert_eq!(
        answer.errors(),
        [
            "identity.email must be a valid email address",
            "externalReferences[1].namespace must be unique within the request",
            "externalReferences[2].externalId must not be blank",
            "externalReferences[3].namespace is required",
            "externalReferences[3].externalId must not be empty",
        ]
    );
    assert_eq!(sandbox.stats().users_created, 0);
}

#[tokio::test]
async fn duplicate_emails_and_linked_references_conflict() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let first = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("jane@example.com", "SIS", "STU-1"),
    )
    .await;
    assert_eq!(first.status, 201);
    let user_id = first.body["userId"].clone();

    let same_email = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("JANE@example.com", "LMS", "9"),
    )
    .await;
    same_email.assert_error(409, "CONFLICT");
    assert_eq!(
        same_email.body["error"]["message"],
        "User with this email already exists"
    );
    assert_eq!(same_email.body["error"]["details"]["userId"], user_id);
    assert_eq!(
        same_email.body["error"]["details"]["email"],
        "jane@example.com"
    );

    // Namespace case and surrounding spaces do not make a different reference.
    let same_ref = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("joe@example.com", "Sis", " STU-1 "),
    )
    .await;
    same_ref.assert_error(409, "EXTERNAL_REF_CONFLICT");
    assert_eq!(
        same_ref.body["error"]["details"],
        json!({"type": "Sis", "externalId": "STU-1"})
    );
    assert_eq!(
        same_ref.body["error"]["message"],
        "External reference Sis/STU-1 is already linked to another user in this organisation."
    );
    assert_eq!(sandbox.stats().users_created, 1);
}

#[tokio::test]
async fn invitation_validation_uses_the_documented_messages() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let answer = post(
        &sandbox,
        &token,
        "/v1/invitations",
        &json!({"identity": {"firstName": "J"}, "roles": "student"}),
    )
    .await;
    answer.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        answer.errors(),
        [
            "externalReferences is required and must be a non-empty array",
            "email is required",
            "identity.lastName is required",
            "roles must be an array of strings",
        ]
    );
}

#[tokio::test]
async fn invitations_link_references_only_once_accepted() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let client = api(&sandbox, &token);
    let invite = |email: &str, ns: &str, id: &str| {
        serde_json::from_value::<CreateInvitationRequest>(json!({
            "externalReferences": [{"namespace": ns, "externalId": id}],
            "email": email,
            "identity": {"firstName": "Ann", "lastName": "Lee"}
        }))
        .unwrap()
    };
    let new = client
        .create_invitation()
        .x_api_version(version())
        .body(invite("Ann@Example.com", "SIS", "A-1"))
        .send()
        .await
        .unwrap()
        .into_inner()
        .invitation;
    assert_eq!(
        (new.status.as_str(), new.user_state.as_str()),
        ("pending", "new")
    );
    assert!(new.invitation_id.starts_with("inv_"));

    // Pending: the reference is not linked, so documents for it are not found.
    let doc = post(
        &sandbox,
        &token,
        "/v1/documents:submit",
        &document_body("SIS", "A-1"),
    )
    .await;
    doc.assert_error(404, "NOT_FOUND");

    let accepted = post(
        &sandbox,
        &token,
        &format!("/sandbox/v1/invitations/{}:accept", new.invitation_id),
        &json!({}),
    )
    .await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    assert_eq!(accepted.body["invitation"]["status"], "accepted");
    assert_eq!(accepted.body["userCreated"], true);
    let user_id = accepted.body["userId"].clone();
    let doc = post(
        &sandbox,
        &token,
        "/v1/documents:submit",
        &document_body("sis", "A-1"),
    )
    .await;
    assert_eq!(doc.status, 201);
    assert_eq!(doc.body["document"]["userId"], user_id);

    // The email now belongs to a user: a second invitation says so.
    let second = post(
        &sandbox,
        &token,
        "/v1/invitations",
        &serde_json::to_value(invite("ann@example.com", "LMS", "L-1")).unwrap(),
    )
    .await;
    assert_eq!(second.status, 201);
    assert_eq!(second.body["invitation"]["userState"], "existing");
    // A reference linked to Ann cannot be offered to someone else.
    let clash = post(
        &sandbox,
        &token,
        "/v1/invitations",
        &serde_json::to_value(invite("bob@example.com", "sis", "A-1")).unwrap(),
    )
    .await;
    clash.assert_error(409, "EXTERNAL_REF_CONFLICT");

    let invitations = get(&sandbox, &token, "/sandbox/v1/invitations").await;
    assert_eq!(invitations.body["invitations"].as_array().unwrap().len(), 2);
    assert_eq!(
        invitations.body["invitations"][0]["email"],
        "ann@example.com"
    );
    let unknown = post(
        &sandbox,
        &token,
        "/sandbox/v1/invitations/inv_nope:accept",
        &json!({}),
    )
    .await;
    unknown.assert_error(404, "NOT_FOUND");
    let unauthenticated = post(
        &sandbox,
        "bad",
        "/sandbox/v1/invitations/x:accept",
        &json!({}),
    )
    .await;
    unauthenticated.assert_error(401, "UNAUTHORIZED");
    assert_eq!(sandbox.stats().invitations_created, 2);
    assert_eq!(sandbox.stats().users_created, 1);
    // The same state is readable in-process.
    let users = sandbox.users();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].source, "invitation");
    assert_eq!(users[0].external_references.len(), 1);
    assert_eq!(sandbox.invitations()[0].status, "accepted");
    assert_eq!(sandbox.documents()[0].document.user_id, users[0].user_id);
}

#[tokio::test]
async fn invitations_need_both_write_scopes() {
    let sandbox = start().await;
    let token = token_for(
        &sandbox,
        pearsana_sandbox::DEFAULT_CLIENT_ID,
        pearsana_sandbox::DEFAULT_CLIENT_SECRET,
        Some(pearsana_api::spec::scopes::PARTNERS_INVITATIONS_WRITE),
    )
    .await;
    let answer = post(&sandbox, &token, "/v1/invitations", &json!({})).await;
    answer.assert_error(403, "INSUFFICIENT_SCOPE");
    assert_eq!(
        answer.body["error"]["details"]["requiredScopes"],
        json!(pearsana_api::spec::operations::CREATE_INVITATION.required_scopes)
    );
}

#[tokio::test]
async fn concurrent_creates_of_one_email_make_exactly_one_user() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..16 {
        let request = reqwest::Client::new()
            .post(format!("{}/v1/users", sandbox.url()))
            .bearer_auth(&token)
            .header("X-API-Version", pearsana_api::spec::API_VERSION)
            .json(&user_body("race@example.com", "SIS", &format!("R-{i}")));
        attempts.spawn(async move { request.send().await.unwrap().status().as_u16() });
    }
    let mut statuses = attempts.join_all().await;
    statuses.sort();
    assert_eq!(statuses[0], 201);
    assert!(statuses[1..].iter().all(|s| *s == 409), "{statuses:?}");
    assert_eq!(sandbox.users().len(), 1);
    assert_eq!(sandbox.users()[0].external_references.len(), 1);
}
