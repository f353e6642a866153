//! The length, item and property bounds of the spec (`maxLength`, `maxItems`, `maxProperties`),
//! enforced from `pearsana_api::spec::REQUEST_BOUNDS`: a value at the bound is accepted, one past
//! it is refused with `400 VALIDATION_ERROR` naming the field and the bound.

mod common;

use common::*;
use pearsana_api::spec::{REQUEST_BOUNDS, request_bound};
use serde_json::{Value, json};

fn max_length(path: &str) -> usize {
    request_bound(path)
        .and_then(|b| b.max_length)
        .unwrap_or_else(|| panic!("the spec bounds {path}"))
}

fn text(len: usize) -> String {
    // Multi-byte characters: bounds count characters, not bytes.
    "é".repeat(len)
}

#[test]
fn every_request_string_the_spec_names_has_a_bound_and_indices_are_normalised() {
    assert!(REQUEST_BOUNDS.len() > 30, "{REQUEST_BOUNDS:?}");
    assert_eq!(max_length("identity.firstName"), 200);
    assert_eq!(
        request_bound("items[17].externalReference.namespace"),
        request_bound("items[].externalReference.namespace")
    );
    assert_eq!(
        request_bound("externalReferences").and_then(|b| b.max_items),
        Some(20)
    );
    assert!(
        request_bound("file").is_none(),
        "file is bounded after decoding"
    );
}

#[tokio::test]
async fn user_fields_at_their_bound_pass_and_one_past_it_are_refused_by_name() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let mut body = user_body("a@example.com", "SIS", "1");
    body["identity"]["firstName"] = json!(text(max_length("identity.firstName")));
    body["profile"] = json!({"address": {"city": text(max_length("profile.address.city"))}});
    let ok = post(&sandbox, &token, "/v1/users", &body).await;
    assert_eq!(ok.status, 201, "{:?}", ok.body);

    let mut body = user_body("b@example.com", "SIS", "2");
    body["identity"]["firstName"] = json!(text(max_length("identity.firstName") + 1));
    body["profile"] = json!({"currency": "EURO"});
    body["externalReferences"] = Value::Array(
        (0..21)
            .map(|i| json!({"namespace": format!("ns{i}"), "externalId": "x"}))
            .collect(),
    );
    let refused = post(&sandbox, &token, "/v1/users", &body).await;
    refused.assert_error(400, "VALIDATION_ERROR");
    // Every problem is reported; their order follows the body's members, which depends on
    // serde_json's `preserve_order`, and is not part of the contract.
    let mut errors = refused.errors();
    errors.sort();
    assert_eq!(
        errors,
        [
            "externalReferences must have at most 20 items",
            "identity.firstName must be at most 200 characters",
            "profile.currency must be at most 3 characters",
        ]
    );
    assert_eq!(sandbox.stats().users_created, 1);
}

#[tokio::test]
async fn invitation_roles_and_message_are_bounded() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let body = json!({
        "externalReferences": [{"namespace": "SIS", "externalId": "1"}],
        "email": "c@example.com",
        "identity": {"firstName": "C", "lastName": "D"},
        "message": text(max_length("message") + 1),
        "roles": vec!["student"; 11],
    });
    let refused = post(&sandbox, &token, "/v1/invitations", &body).await;
    refused.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        refused.errors(),
        [
            "message must be at most 2000 characters",
            "roles must have at most 10 items"
        ]
    );
}

#[tokio::test]
async fn a_batch_item_over_a_bound_fails_alone() {
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let created = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("d@example.com", "SIS", "STU-9"),
    )
    .await;
    assert_eq!(created.status, 201);
    let mut good = document_body("SIS", "STU-9");
    good["itemId"] = json!("good");
    let mut bad = good.clone();
    bad["itemId"] = json!("bad");
    bad["filename"] = json!(format!("{}.pdf", text(max_length("items[].filename"))));
    let metadata: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    bad["metadata"] = Value::Object(metadata);
    let answer = post(
        &sandbox,
        &token,
        "/v1/documents:submitBatch",
        &json!({"items": [good, bad]}),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["results"][0]["status"], "created");
    assert_eq!(answer.body["results"][1]["status"], "failed");
    assert_eq!(
        answer.body["results"][1]["error"]["details"]["errors"],
        json!([
            "items[1].filename must be at most 255 characters",
            "items[1].metadata must have at most 50 properties"
        ])
    );
}

#[tokio::test]
async fn an_item_id_over_its_bound_refuses_the_whole_batch() {
    // Every result repeats its itemId, so an over-long one cannot fail alone.
    let sandbox = start().await;
    let token = token(&sandbox).await;
    let mut item = document_body("SIS", "STU-1");
    item["itemId"] = json!("i".repeat(max_length("items[].itemId") + 1));
    let answer = post(
        &sandbox,
        &token,
        "/v1/documents:submitBatch",
        &json!({"items": [item]}),
    )
    .await;
    answer.assert_error(400, "VALIDATION_ERROR");
    assert_eq!(
        answer.errors(),
        ["items[0].itemId must be at most 128 characters"]
    );
}
