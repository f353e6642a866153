//! Documents (ASSUMPTIONS D1 to D5): single submissions, limits, scopes and batches.

mod common;

use base64::Engine as _;
use common::*;
use pearsana_api::spec::{BATCH_MAX_ITEMS, MAX_DOCUMENT_BYTES, scopes};
use pearsana_api::types::{self, SubmitDocumentRequest};
use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningSandbox};
use serde_json::{Value, json};

/// A sandbox with one user linked to `SIS/STU-1`, and a token with every scope.
async fn with_linked_user() -> (RunningSandbox, String, String) {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let user = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("jane@example.com", "SIS", "STU-1"),
    )
    .await;
    assert_eq!(user.status, 201);
    let user_id = user.body["userId"].as_str().unwrap().to_string();
    (sandbox, token, user_id)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn a_document_is_stored_for_the_linked_user() {
    let (sandbox, token, user_id) = with_linked_user().await;
    let body: SubmitDocumentRequest =
        serde_json::from_value(document_body(" sis", "STU-1")).unwrap();
    // The namespace " sis" is not "sis": namespaces are lowercased, not trimmed.
    let missing = api(&sandbox, &token)
        .submit_document()
        .x_api_version(version())
        .body(body)
        .send()
        .await;
    assert_eq!(missing.unwrap_err().status().map(|s| s.as_u16()), Some(404));

    let body: SubmitDocumentRequest =
        serde_json::from_value(document_body("SIS", " STU-1 ")).unwrap();
    let stored = api(&sandbox, &token)
        .submit_document()
        .x_api_version(version())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status().as_u16(), 201);
    let document = stored.into_inner().document;
    assert_eq!(document.user_id, user_id);
    assert_eq!(document.status, types::DocumentStatus::Received);
    assert_eq!(document.category, types::DocumentCategory::Academic);
    assert_eq!(document.mime_type, "application/pdf");
    assert_eq!(document.size_bytes.get(), 9);
    assert_eq!(
        document.verification_intent,
        types::VerificationIntent::StoreOnly
    );
    assert_eq!(document.filename.as_deref(), Some("transcript.pdf"));
    assert!(document.attestation_reference_id.is_none());

    let listed = get(&sandbox, &token, "/sandbox/v1/documents").await;
    assert_eq!(
        listed.body["documents"][0]["documentId"],
        document.document_id.as_str()
    );
    assert_eq!(
        listed.body["documents"][0]["externalReference"],
        json!({"namespace": "sis", "externalId": "STU-1"})
    );
    assert_eq!(sandbox.stats().documents_created, 1);
}

#[tokio::test]
async fn unknown_types_are_other_and_mime_types_follow_the_extension() {
    let (sandbox, token, _) = with_linked_user().await;
    let mut body = document_body("SIS", "STU-1");
    body["documentType"] = json!("RECOMMENDATION_LETTER");
    body.as_object_mut().unwrap().remove("filename");
    let answer = post(&sandbox, &token, "/v1/documents:submit", &body).await;
    assert_eq!(answer.body["document"]["category"], "other");
    assert_eq!(
        answer.body["document"]["mimeType"],
        "application/octet-stream"
    );
    assert!(answer.body["document"].get("filename").is_none());
    body["filename"] = json!("photo.PNG");
    body["documentType"] = json!("SPORTS_CERTIFICATE");
    let answer = post(&sandbox, &token, "/v1/documents:submit", &body).await;
    assert_eq!(answer.body["document"]["category"], "sports");
    assert_eq!(answer.body["document"]["mimeType"], "image/png");
}

#[tokio::test]
async fn attest_needs_the_verifications_scope_and_attestation_ids_need_attest() {
    let (sandbox, _, _) = with_linked_user().await;
    let narrow = token_for(
        &sandbox,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        Some(&format!(
            "{} {}",
            scopes::PARTNERS_DOCUMENTS_WRITE,
            scopes::PARTNERS_EXTERNALREFS_READ
        )),
    )
    .await;
    let mut attest = document_body("SIS", "STU-1");
    attest["verificationIntent"] = json!("attest");
    attest["attestationReferenceId"] = json!("ATT-1");
    let answer = post(&sandbox, &narrow, "/v1/documents:submit", &attest).await;
    answer.assert_error(403, "INSUFFICIENT_SCOPE");
    assert_eq!(
        answer.body["error"]["details"]["requiredScopes"],
        json!([
            scopes::PARTNERS_DOCUMENTS_WRITE,
            scopes::PARTNERS_EXTERNALREFS_READ,
            scopes::PARTNERS_VERIFICATIONS_WRITE
        ])
    );
    // store_only is fine without it.
    assert_eq!(
        post(
            &sandbox,
            &narrow,
            "/v1/documents:submit",
            &document_body("SIS", "STU-1")
        )
        .await
        .status,
        201
    );

    let full = token(&sandbox).await;
    let answer = post(&sandbox, &full, "/v1/documents:submit", &attest).await;
    assert_eq!(answer.status, 201);
    assert_eq!(answer.body["document"]["verificationIntent"], "attest");
    assert_eq!(answer.body["document"]["attestationReferenceId"], "ATT-1");

    let mut wrong = document_body("SIS", "STU-1");
    wrong["attestationReferenceId"] = json!("ATT-2");
    wrong["verificationIntent"] = json!("certify");
    let answer = post(&sandbox, &full, "/v1/documents:submit", &wrong).await;
    answer.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        answer.errors(),
        ["verificationIntent must be one of store_only, attest"]
    );
    wrong["verificationIntent"] = json!("store_only");
    let answer = post(&sandbox, &full, "/v1/documents:submit", &wrong).await;
    assert_eq!(
        answer.errors(),
        ["attestationReferenceId is only allowed when verificationIntent is attest"]
    );
}

#[tokio::test]
async fn files_must_be_base64_of_one_byte_to_ten_mebibytes() {
    let (sandbox, token, _) = with_linked_user().await;
    let with_file = |file: Value| {
        let mut body = document_body("SIS", "STU-1");
        body["file"] = file;
        body
    };
    let cases = [
        (
            json!("not base64!"),
            "file must be valid standard base64 with padding",
        ),
        (
            json!("JVBERi0xLjQ"),
            "file must be valid standard base64 with padding",
        ),
        (json!(""), "file must not be empty"),
        (json!(42), "file must be a string"),
        (
            json!(b64(&vec![7u8; MAX_DOCUMENT_BYTES as usize + 1])),
            "file must decode to at most 10485760 bytes",
        ),
    ];
    for (file, message) in cases {
        let answer = post(&sandbox, &token, "/v1/documents:submit", &with_file(file)).await;
        answer.assert_error(400, "VALIDATION_ERROR");
        assert_eq!(answer.errors(), [message]);
    }
    let largest = post(
        &sandbox,
        &token,
        "/v1/documents:submit",
        &with_file(json!(b64(&vec![7u8; MAX_DOCUMENT_BYTES as usize]))),
    )
    .await;
    assert_eq!(largest.status, 201);
    assert_eq!(largest.body["document"]["sizeBytes"], MAX_DOCUMENT_BYTES);
}

#[tokio::test]
async fn an_oversized_body_is_answered_not_dropped() {
    let (sandbox, token, _) = with_linked_user().await;
    let huge = vec![b'A'; pearsana_sandbox::SINGLE_DOCUMENT_BODY_LIMIT + 4096];
    let response = reqwest::Client::new()
        .post(format!("{}/v1/documents:submit", sandbox.url()))
        .bearer_auth(&token)
        .header("X-API-Version", pearsana_api::spec::API_VERSION)
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("an answer, not a reset");
    let answer = read(response).await;
    answer.assert_error(400, "VALIDATION_ERROR");
    assert!(answer.errors()[0].starts_with("body must not be larger than"));

    // Refused before the body matters (old version, no token): still an answer.
    let body = vec![b'A'; 8 << 20];
    let response = reqwest::Client::new()
        .post(format!("{}/v1/documents:submit", sandbox.url()))
        .header("X-API-Version", "2020-01-01")
        .header("Content-Type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("an answer, not a reset");
    read(response)
        .await
        .assert_error(410, "UNSUPPORTED_API_VERSION");
    let response = reqwest::Client::new()
        .post(format!("{}/v1/documents:submit", sandbox.url()))
        .header("X-API-Version", pearsana_api::spec::API_VERSION)
        .body(body)
        .send()
        .await
        .expect("an answer, not a reset");
    read(response).await.assert_error(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn a_batch_may_be_larger_than_a_single_submission() {
    let (sandbox, token, _) = with_linked_user().await;
    let file = b64(&vec![1u8; 6 << 20]);
    let items: Vec<Value> = ["a", "b", "c"]
        .iter()
        .map(|id| {
            let mut body = item(id, "STU-1");
            body["file"] = json!(file);
            body
        })
        .collect();
    let body = json!({ "items": items });
    assert!(body.to_string().len() > pearsana_sandbox::SINGLE_DOCUMENT_BODY_LIMIT);
    let answer = post(&sandbox, &token, "/v1/documents:submitBatch", &body).await;
    assert_eq!(answer.status, 200, "{:?}", answer.errors());
    assert_eq!(answer.body["summary"]["succeeded"], 3);
    assert_eq!(answer.body["results"][2]["document"]["sizeBytes"], 6 << 20);
}

fn item(id: &str, external_id: &str) -> Value {
    let mut body = document_body("SIS", external_id);
    body["itemId"] = json!(id);
    body
}

#[tokio::test]
async fn batch_envelope_errors_reject_the_whole_request() {
    let (sandbox, token, _) = with_linked_user().await;
    let empty = post(
        &sandbox,
        &token,
        "/v1/documents:submitBatch",
        &json!({"items": []}),
    )
    .await;
    empty.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(empty.errors(), ["items must contain at least 1 item"]);

    let too_many: Vec<Value> = (0..=BATCH_MAX_ITEMS)
        .map(|i| item(&format!("i{i}"), "STU-1"))
        .collect();
    let answer = post(
        &sandbox,
        &token,
        "/v1/documents:submitBatch",
        &json!({"items": too_many}),
    )
    .await;
    assert_eq!(answer.errors(), ["items must contain at most 25 items"]);

    let items = json!({"items": [item("a", "STU-1"), item("b", "STU-1"), item("a", "STU-1"), item("", "STU-1"), 5]});
    let answer = post(&sandbox, &token, "/v1/documents:submitBatch", &items).await;
    answer.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        answer.errors(),
        [
            "items[2].itemId must be unique within the batch",
            "items[3].itemId must not be empty",
            "items[4] must be an object",
        ]
    );
    let missing = post(&sandbox, &token, "/v1/documents:submitBatch", &json!({})).await;
    assert_eq!(missing.errors(), ["items is required"]);
    assert_eq!(sandbox.stats().documents_created, 0);
}

#[tokio::test]
async fn a_batch_needing_verification_is_refused_whole_without_the_scope() {
    let (sandbox, _, _) = with_linked_user().await;
    let narrow = token_for(
        &sandbox,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        Some(&format!(
            "{} {}",
            scopes::PARTNERS_DOCUMENTS_WRITE,
            scopes::PARTNERS_EXTERNALREFS_READ
        )),
    )
    .await;
    let mut attest = item("b", "STU-1");
    attest["verificationIntent"] = json!("attest");
    let answer = post(
        &sandbox,
        &narrow,
        "/v1/documents:submitBatch",
        &json!({"items": [item("a", "STU-1"), attest]}),
    )
    .await;
    answer.assert_error(403, "INSUFFICIENT_SCOPE");
    assert_eq!(sandbox.stats().documents_created, 0);
}

#[tokio::test]
async fn batch_items_succeed_or_fail_independently_in_request_order() {
    let (sandbox, token, user_id) = with_linked_user().await;
    let mut bad_file = item("c", "STU-1");
    bad_file["file"] = json!("%%%");
    bad_file["metadata"] = json!({"term": 3});
    let mut attest = item("d", "STU-1");
    attest["verificationIntent"] = json!("attest");
    attest["attestationReferenceId"] = json!("ATT-9");
    attest["partnerReferenceId"] = json!("P-9");
    attest["metadata"] = json!({"term": "2026S"});
    let body = json!({"items": [item("a", "STU-1"), item("b", "STU-404"), bad_file, attest]});
    let answer = post(&sandbox, &token, "/v1/documents:submitBatch", &body).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let results = answer.body["results"].as_array().unwrap();
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["itemId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "c", "d"]);
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["created", "failed", "failed", "created"]);
    assert_eq!(results[0]["document"]["userId"], user_id.as_str());
    assert_eq!(results[1]["error"]["code"], "NOT_FOUND");
    assert_eq!(
        results[1]["error"]["details"],
        json!({"type": "sis", "externalId": "STU-404"})
    );
    assert_eq!(results[2]["error"]["code"], "VALIDATION_ERROR");
    assert_eq!(
        results[2]["error"]["details"]["errors"],
        json!([
            "items[2].file must be valid standard base64 with padding",
            "items[2].metadata.term must be a string"
        ])
    );
    assert!(results[2].get("document").is_none() && results[0].get("error").is_none());
    assert_eq!(results[3]["document"]["attestationReferenceId"], "ATT-9");
    assert_eq!(
        answer.body["summary"],
        json!({"total": 4, "succeeded": 2, "failed": 2})
    );

    // The typed client decodes the same answer.
    let typed: pearsana_api::types::SubmitDocumentBatchResponse =
        serde_json::from_value(answer.body.clone()).unwrap();
    assert_eq!(typed.summary.failed, 2);
    let stored = get(&sandbox, &token, "/sandbox/v1/documents").await;
    let stored = stored.body["documents"].as_array().unwrap().clone();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1]["itemId"], "d");
    assert_eq!(stored[1]["partnerReferenceId"], "P-9");
    assert_eq!(stored[1]["metadata"], json!({"term": "2026S"}));
    assert_eq!(sandbox.stats().documents_created, 2);
}
