//! Responses of a newer server: every response example of every operation, with an unknown
//! field in every object and an unknown value in every enumerated field, must still decode into
//! the generated types, keep everything they know, and send unknown values back unchanged.

use std::collections::BTreeSet;

use pearsana_api::types;
use pearsana_tests::{
    UNKNOWN_FIELD, UNKNOWN_VALUE, add_unknown_fields, operations, registry, replace_enum_values,
    response_examples, spec,
};
use serde_json::{Value, json};

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

#[test]
fn unknown_fields_at_every_level_of_every_response_are_ignored() {
    let registry = registry();
    let mut failures = Vec::new();
    let mut covered = BTreeSet::new();
    for (operation, _, label, schema, example) in response_examples() {
        let mut evolved = example.clone();
        let added = add_unknown_fields(&mut evolved, &schema_ref(&schema));
        assert!(added > 0, "{label}: no object to add a field to");
        assert!(evolved.to_string().contains(UNKNOWN_FIELD));
        // Decoding keeps every known member: re-encoding gives the original example.
        match (registry[schema.as_str()].round_trip)(&evolved) {
            Ok(decoded) if decoded == example => {
                covered.insert(operation);
            }
            Ok(decoded) => failures.push(format!("{label}: lost or changed data: {decoded}")),
            Err(error) => failures.push(format!("{label}: does not decode: {error}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let every: BTreeSet<String> = operations()
        .iter()
        .map(|(_, _, op)| op["operationId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(covered, every, "an operation has no response example");
}

#[test]
fn unknown_values_in_every_enum_of_every_response_decode_and_re_encode_unchanged() {
    let registry = registry();
    let mut failures = Vec::new();
    let mut replaced_paths = BTreeSet::new();
    let mut covered = BTreeSet::new();
    for (operation, _, label, schema, example) in response_examples() {
        let mut evolved = example.clone();
        let replaced = replace_enum_values(&mut evolved, &schema_ref(&schema));
        if replaced.is_empty() {
            continue;
        }
        match (registry[schema.as_str()].round_trip)(&evolved) {
            Ok(decoded) if decoded == evolved => {
                covered.insert(operation);
            }
            Ok(decoded) => failures.push(format!("{label}: changed on the way: {decoded}")),
            Err(error) => failures.push(format!("{label}: does not decode: {error}")),
        }
        replaced_paths.extend(replaced.into_iter().map(|p| format!("{schema}: {p}")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every operation has an error example whose code is an enum.
    assert_eq!(covered.len(), operations().len(), "{covered:?}");
    for expected in [
        "ErrorResponse: error.code",
        "SubmitDocumentBatchResponse: results[].status",
        "SubmitDocumentBatchResponse: results[].error.code",
        "SubmitDocumentBatchResponse: results[].document.category",
        "SubmitDocumentBatchResponse: results[].document.verificationIntent",
        "SubmitDocumentResponse: document.status",
        "CreateInvitationResponse: invitation.status",
        "CreateInvitationResponse: invitation.userState",
        "CreateUserResponse: status",
        "HealthResponse: status",
        "PingResponse: status",
    ] {
        assert!(
            replaced_paths.contains(expected),
            "{expected} not exercised: {replaced_paths:#?}"
        );
    }
}

#[test]
fn a_batch_response_with_unknown_status_code_and_fields_stays_usable() {
    let (_, _, _, _, example) = response_examples()
        .into_iter()
        .find(|(op, status, _, _, _)| op == "submitDocumentBatch" && status == "200")
        .expect("the batch operation has a 200 example");
    let mut evolved = example.clone();
    add_unknown_fields(&mut evolved, &schema_ref("SubmitDocumentBatchResponse"));
    replace_enum_values(&mut evolved, &schema_ref("SubmitDocumentBatchResponse"));
    let decoded: types::SubmitDocumentBatchResponse = serde_json::from_value(evolved).unwrap();
    let failed = decoded
        .results
        .iter()
        .find(|r| r.error.is_some())
        .expect("the example has a failed item");
    let error = failed.error.as_ref().unwrap();
    assert!(error.code.is_unknown());
    assert_eq!(error.code.as_str(), UNKNOWN_VALUE);
    assert!(!error.message.is_empty());
    assert!(failed.status.is_unknown());
    let created = decoded
        .results
        .iter()
        .find(|r| r.document.is_some())
        .expect("the example has a created item");
    let document = created.document.as_ref().unwrap();
    assert_eq!(document.category.as_str(), UNKNOWN_VALUE);
    assert_eq!(document.verification_intent.to_string(), UNKNOWN_VALUE);
    assert_eq!(
        created.item_id,
        example["results"][0]["itemId"].as_str().unwrap()
    );
    assert_eq!(decoded.summary.total, example["summary"]["total"]);
    // The known values still decode to their variants.
    let plain: types::SubmitDocumentBatchResponse = serde_json::from_value(example).unwrap();
    assert!(
        plain
            .results
            .iter()
            .any(|r| r.status == types::BatchItemStatus::Created)
    );
    assert!(
        plain
            .results
            .iter()
            .any(|r| r.status == types::BatchItemStatus::Failed)
    );
}

#[test]
fn the_enum_schemas_still_list_the_known_values() {
    // The schema agreement test compares `enum`s; the open set of an `x-extensible-enum` keeps
    // its values under that name.
    let schema = serde_json::to_value(schemars::schema_for!(types::InvitationStatus)).unwrap();
    assert_eq!(
        schema["x-extensible-enum"],
        json!(["pending", "accepted", "expired"])
    );
    assert!(schema.get("enum").is_none());
    let schema = serde_json::to_value(schemars::schema_for!(types::BatchItemStatus)).unwrap();
    assert_eq!(schema["enum"], json!(["created", "failed"]));
    assert!(
        spec()["components"]["schemas"]
            .get("InvitationStatus")
            .is_none()
    );
}
