//! Client-side checks of the spec's length, item and property bounds: the SDK refuses what the
//! sandbox (and the API, per the spec) would refuse, from the same generated table.

use pearsana::spec::request_bound;
use pearsana::{types, validate};
use serde_json::json;

fn max_length(path: &str) -> usize {
    request_bound(path).and_then(|b| b.max_length).unwrap()
}

fn problems(error: &pearsana::ValidationError) -> Vec<String> {
    error.problems.iter().map(ToString::to_string).collect()
}

#[test]
fn a_user_over_a_bound_is_refused_naming_the_field_and_at_the_bound_passes() {
    let at_bound = "ü".repeat(max_length("identity.lastName"));
    let request: types::CreateUserRequest = serde_json::from_value(json!({
        "identity": {"email": "a@example.com", "firstName": "A", "lastName": at_bound, "roleName": "student"},
        "externalReferences": [{"namespace": "SIS", "externalId": "1"}],
        "profile": {"address": {"zip": "0".repeat(max_length("profile.address.zip"))}}
    }))
    .unwrap();
    assert!(validate::create_user(&request).is_empty());

    let request: types::CreateUserRequest = serde_json::from_value(json!({
        "identity": {"email": "a@example.com", "firstName": "A", "lastName": "B", "roleName": "r".repeat(65)},
        "externalReferences": [{"namespace": "SIS", "externalId": "1"}],
        "profile": {"address": {"zip": "0".repeat(21)}}
    }))
    .unwrap();
    let refused = validate::create_user(&request);
    assert!(refused.mentions("identity.roleName"), "{refused:?}");
    assert!(refused.mentions("profile.address.zip"), "{refused:?}");
}

#[test]
fn invitation_roles_are_bounded_in_count() {
    let request: types::CreateInvitationRequest = serde_json::from_value(json!({
        "externalReferences": [{"namespace": "SIS", "externalId": "1"}],
        "email": "c@example.com",
        "identity": {"firstName": "C", "lastName": "D"},
        "roles": vec!["student"; 11],
    }))
    .unwrap();
    assert_eq!(
        problems(&validate::create_invitation(&request)),
        ["roles: must have at most 10 items"]
    );
}

#[test]
fn batch_items_are_checked_field_by_field_with_their_index() {
    let item = |id: &str, filename: String| {
        json!({
            "itemId": id,
            "externalReference": {"namespace": "SIS", "externalId": "1"},
            "documentType": "DIPLOMA",
            "file": "JVBERi0xLjQK",
            "filename": filename,
            "partnerReferenceId": "p".repeat(257),
            "metadata": {"note": "n".repeat(1025)},
        })
    };
    let request: types::SubmitDocumentBatchRequest = serde_json::from_value(json!({
        "items": [item("a", "ok.pdf".into()), item("b", "f".repeat(256))]
    }))
    .unwrap();
    let refused = problems(&validate::submit_document_batch(&request));
    for expected in [
        "items[0].partnerReferenceId",
        "items[0].metadata.note",
        "items[1].filename",
    ] {
        assert!(
            refused.iter().any(|p| p.starts_with(expected)),
            "{expected} in {refused:?}"
        );
    }
    assert!(!refused.iter().any(|p| p.starts_with("items[0].filename")));
}
