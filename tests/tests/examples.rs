//! Every example in the spec must decode into the generated types and encode back to the same
//! JSON; an example the types cannot represent means the spec and the code disagree.

use pearsana_tests::{media_examples, operations, registry, resolve, spec};
use serde_json::Value;

fn all_examples() -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (method, path, operation) in operations() {
        if let Some(body) = operation.get("requestBody") {
            let media = &resolve(body)["content"]["application/json"];
            media_examples(&format!("{method} {path} request"), media, &mut out);
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            if let Some(media) = resolve(response)
                .get("content")
                .and_then(|c| c.get("application/json"))
            {
                media_examples(&format!("{method} {path} {status}"), media, &mut out);
            }
        }
    }
    out
}

#[test]
fn every_example_round_trips_through_the_generated_types() {
    let registry = registry();
    let examples = all_examples();
    // 6 operations: 6 request examples (+1 for the second user example) and dozens of responses.
    assert!(
        examples.len() > 40,
        "only {} examples found",
        examples.len()
    );
    let mut failures = Vec::new();
    for (label, schema, example) in &examples {
        let entry = registry
            .get(schema.as_str())
            .unwrap_or_else(|| panic!("{label}: schema {schema} is not registered"));
        match (entry.round_trip)(example) {
            Ok(encoded) if &encoded == example => {}
            Ok(encoded) => failures.push(format!(
                "{label}: re-encoded differently\n  spec: {example}\n  code: {encoded}"
            )),
            Err(error) => failures.push(format!("{label}: does not decode as {schema}: {error}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_example_that_breaks_the_schema_is_rejected() {
    // The round trip above would be worthless if decoding accepted anything.
    let registry = registry();
    let missing_identity =
        serde_json::json!({"externalReferences": [{"namespace": "SIS", "externalId": "1"}]});
    assert!((registry["CreateUserRequest"].round_trip)(&missing_identity).is_err());
    let empty_namespace = serde_json::json!({"namespace": "", "externalId": "1"});
    assert!((registry["ExternalReference"].round_trip)(&empty_namespace).is_err());
    let code_not_a_string =
        serde_json::json!({"error": {"code": 5, "message": "m", "requestId": "r"}});
    assert!((registry["ErrorResponse"].round_trip)(&code_not_a_string).is_err());
    // An unknown code is not a broken example: the open enum keeps it and sends it back as is.
    let unknown_code =
        serde_json::json!({"error": {"code": "NOPE", "message": "m", "requestId": "r"}});
    assert_eq!(
        (registry["ErrorResponse"].round_trip)(&unknown_code).as_ref(),
        Ok(&unknown_code)
    );
    assert!(spec()["paths"].as_object().unwrap().len() == 6);
}
