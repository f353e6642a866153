//! The generated types' JSON Schemas (from schemars) must agree with the spec's schemas on
//! property names, required properties and enum values.

use std::collections::BTreeSet;

use pearsana_tests::{object_shape, registry, resolve, spec};
use serde_json::Value;

/// The schemars root schema, with `$ref`s into its own `definitions` followed.
fn generated_root(schema: &Value) -> Value {
    let mut root = schema.clone();
    if let Some(reference) = root.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/definitions/");
        root = schema["definitions"][name].clone();
    }
    root
}

fn generated_shape(schema: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut properties = BTreeSet::new();
    let mut required = BTreeSet::new();
    let mut parts = vec![schema.clone()];
    while let Some(part) = parts.pop() {
        if let Some(all) = part.get("allOf").and_then(Value::as_array) {
            parts.extend(all.iter().cloned());
        }
        if let Some(props) = part.get("properties").and_then(Value::as_object) {
            properties.extend(props.keys().cloned());
        }
        if let Some(req) = part.get("required").and_then(Value::as_array) {
            required.extend(req.iter().filter_map(Value::as_str).map(str::to_owned));
        }
    }
    (properties, required)
}

fn enum_values(schema: &Value) -> BTreeSet<String> {
    let mut values: BTreeSet<String> = schema
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    // schemars writes some enums as `oneOf` of single-value enums.
    for variant in schema
        .get("oneOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        values.extend(enum_values(variant));
    }
    values
}

#[test]
fn every_component_schema_is_registered() {
    let registry = registry();
    let declared: BTreeSet<&str> = spec()["components"]["schemas"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let registered: BTreeSet<&str> = registry.keys().copied().collect();
    assert_eq!(
        declared, registered,
        "tests/src/lib.rs registry! is out of date"
    );
}

#[test]
fn generated_schemas_agree_with_the_spec() {
    let mut failures = Vec::new();
    for (name, entry) in registry() {
        let spec_schema = &spec()["components"]["schemas"][name];
        let generated = generated_root(&(entry.json_schema)());
        let resolved = resolve(spec_schema);
        match resolved.get("type").and_then(Value::as_str) {
            Some("object") | None => {
                let shape = object_shape(spec_schema);
                let spec_properties: BTreeSet<String> = shape.properties.keys().cloned().collect();
                let (properties, required) = generated_shape(&generated);
                if spec_properties != properties {
                    failures.push(format!(
                        "{name}: properties differ: spec {spec_properties:?}, generated {properties:?}"
                    ));
                }
                if shape.required != required {
                    failures.push(format!(
                        "{name}: required differ: spec {:?}, generated {required:?}",
                        shape.required
                    ));
                }
            }
            Some("string") if resolved.get("enum").is_some() => {
                let spec_values = enum_values(resolved);
                let generated_values = enum_values(&generated);
                if spec_values != generated_values {
                    failures.push(format!(
                        "{name}: enum differs: spec {spec_values:?}, generated {generated_values:?}"
                    ));
                }
            }
            Some("string") => {
                if generated.get("type").and_then(Value::as_str) != Some("string") {
                    failures.push(format!("{name}: generated schema is not a string"));
                }
            }
            Some("array") => {
                if generated.get("type").and_then(Value::as_str) != Some("array") {
                    failures.push(format!("{name}: generated schema is not an array"));
                }
            }
            Some(other) => failures.push(format!("{name}: unexpected schema type {other}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
