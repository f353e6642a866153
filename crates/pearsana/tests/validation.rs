//! Client-side validation: every problem listed with its field path, nothing sent.

mod common;

use common::*;
use pearsana::types::{self, VerificationIntent};
use pearsana::{DocumentFile, Error, external_reference};
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn silent_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    server
}

fn problems(error: Error) -> Vec<String> {
    let Error::Validation(v) = error else {
        panic!("expected a validation error, got {error:?}");
    };
    v.problems.iter().map(|p| p.field.clone()).collect()
}

fn batch_item(item_id: &str) -> types::SubmitDocumentBatchItem {
    DocumentFile::from_bytes(b"hello")
        .unwrap()
        .with_filename("hello.pdf")
        .batch_item(
            item_id,
            external_reference("SIS", "STU-1").unwrap(),
            "OFFICIAL_TRANSCRIPT",
        )
        .unwrap()
}

#[tokio::test]
async fn user_creation_lists_every_problem_before_any_io() {
    let server = silent_server().await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    let request: types::CreateUserRequest = serde_json::from_value(json!({
        "identity": {"email": "jane@", "firstName": " ", "lastName": "Smith", "roleName": ""},
        "externalReferences": [
            {"namespace": "SIS", "externalId": "1"},
            {"namespace": "sis", "externalId": "2"}
        ]
    }))
    .unwrap();
    let fields = problems(client.create_user(&request).await.unwrap_err());
    assert_eq!(
        fields,
        [
            "identity.email",
            "identity.firstName",
            "identity.roleName",
            "externalReferences[1].namespace"
        ]
    );
    // A blank external id cannot even be built: the spec's `pattern: \S` is part of the type.
    assert!(
        serde_json::from_value::<types::ExternalReference>(
            json!({"namespace": "SIS", "externalId": "  "})
        )
        .is_err()
    );
    let no_refs: types::CreateUserRequest = serde_json::from_value(json!({
        "identity": {"email": "jane@example.com", "firstName": "J", "lastName": "S", "roleName": "student"},
        "externalReferences": []
    }))
    .unwrap();
    assert_eq!(
        problems(client.create_or_get_user(&no_refs).await.unwrap_err()),
        ["externalReferences"]
    );
    assert_eq!(pearsana::testing::token_requests(&client), 0);
}

#[tokio::test]
async fn invitation_needs_a_valid_email_and_unique_namespaces() {
    let server = silent_server().await;
    let clock = VirtualClock::new();
    let mut request = invitation_request();
    request.email = "not an email".into();
    request
        .external_references
        .0
        .push(external_reference("sis", "other").unwrap());
    let error = client(&server, &clock)
        .create_invitation(&request)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("appears more than once"),
        "{error}"
    );
    assert_eq!(
        problems(error),
        ["email", "externalReferences[1].namespace"]
    );
}

#[tokio::test]
async fn documents_check_base64_size_and_attestation_rules() {
    let server = silent_server().await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    let mut request = DocumentFile::from_bytes(b"%PDF")
        .unwrap()
        .submit_request(external_reference("SIS", "STU-1").unwrap(), "DIPLOMA")
        .unwrap();
    request.file = "not base64!".try_into().unwrap();
    request.attestation_reference_id = Some("ATT-1".into());
    request.verification_intent = Some(VerificationIntent::StoreOnly);
    let fields = problems(client.submit_document(&request).await.unwrap_err());
    assert_eq!(fields, ["file", "attestationReferenceId"]);

    request.file = "aGVsbG8=".try_into().unwrap();
    request.verification_intent = Some(VerificationIntent::Attest);
    assert!(pearsana::validate::submit_document(&request).is_empty());

    let too_big = vec![0u8; pearsana::spec::MAX_DOCUMENT_BYTES as usize + 1];
    assert_eq!(
        problems(DocumentFile::from_bytes(&too_big).unwrap_err()),
        ["file"]
    );
    assert_eq!(
        problems(DocumentFile::from_bytes([]).unwrap_err()),
        ["file"]
    );
}

#[tokio::test]
async fn batches_need_one_to_twenty_five_items_with_unique_ids() {
    let server = silent_server().await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);

    let batch = |items: Vec<types::SubmitDocumentBatchItem>| -> types::SubmitDocumentBatchRequest {
        types::SubmitDocumentBatchRequest::builder()
            .items(items)
            .try_into()
            .unwrap()
    };
    let empty = batch(vec![]);
    assert_eq!(
        problems(client.submit_document_batch(&empty).await.unwrap_err()),
        ["items"]
    );

    let too_many = batch((0..26).map(|i| batch_item(&format!("item-{i}"))).collect());
    assert_eq!(
        problems(client.submit_document_batch(&too_many).await.unwrap_err()),
        ["items"]
    );

    let mut bad = vec![batch_item("a"), batch_item("b"), batch_item("a")];
    bad[1].attestation_reference_id = Some("ATT".into());
    let fields = problems(client.submit_documents(bad).await.unwrap_err());
    assert_eq!(
        fields,
        ["items[1].attestationReferenceId", "items[2].itemId"]
    );
}
