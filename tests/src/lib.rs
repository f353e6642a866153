//! Helpers for the workspace-level tests in `tests/tests/`: the spec as JSON, `$ref`
//! resolution, and the registry that pairs each component schema with its generated type.
//!
//! The registry is the one place a new schema must be added; `every_component_schema_is_registered`
//! fails until it is, so a spec change cannot slip past the example and schema checks.

#![deny(missing_docs)]

use std::collections::{BTreeMap, BTreeSet};

/// The top-level README, compiled as doc tests so its Rust examples cannot rot.
#[doc = include_str!("../../README.md")]
pub mod readme {}
use std::path::PathBuf;
use std::sync::OnceLock;

use pearsana_api::types;
use serde_json::Value;

/// Absolute path of a file given relative to the workspace root.
pub fn workspace_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits below the workspace root")
        .join(relative)
}

/// The spec, parsed from YAML into a JSON value (loaded once).
pub fn spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let text = std::fs::read_to_string(workspace_path("openapi/pearsana-partner.yaml"))
            .expect("read the spec");
        serde_yaml::from_str(&text).expect("the spec is valid YAML")
    })
}

/// Follows `$ref`s (local ones only) until a non-reference value is reached.
pub fn resolve(value: &Value) -> &Value {
    let mut current = value;
    while let Some(reference) = current.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references are used: {reference}"));
        current = spec()
            .pointer(pointer)
            .unwrap_or_else(|| panic!("dangling reference {reference}"));
    }
    current
}

/// The component schema name a `$ref` points to, if the value is a schema reference.
pub fn schema_ref_name(value: &Value) -> Option<&str> {
    value
        .get("$ref")?
        .as_str()?
        .strip_prefix("#/components/schemas/")
}

/// An object schema with `allOf` parts merged: property name → property schema, and the
/// required names.
#[derive(Debug, Default)]
pub struct ObjectShape {
    /// Properties, by name.
    pub properties: BTreeMap<String, Value>,
    /// Names listed as required.
    pub required: BTreeSet<String>,
}

/// Merges `schema` (after resolving references and `allOf`) into one [`ObjectShape`].
pub fn object_shape(schema: &Value) -> ObjectShape {
    let schema = resolve(schema);
    let mut shape = ObjectShape::default();
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let inner = object_shape(part);
        shape.properties.extend(inner.properties);
        shape.required.extend(inner.required);
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            shape.properties.insert(name.clone(), property.clone());
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        shape
            .required
            .extend(required.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    shape
}

/// What the tests can do with one generated type, without naming it.
pub struct Registered {
    /// Decodes JSON into the generated type and encodes it again.
    pub round_trip: fn(&Value) -> Result<Value, String>,
    /// The type's JSON Schema as schemars derives it.
    pub json_schema: fn() -> Value,
}

fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(
    value: &Value,
) -> Result<Value, String> {
    let decoded: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&decoded).map_err(|e| e.to_string())
}

fn json_schema<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).expect("schemas serialise")
}

macro_rules! registry {
    ($($name:ident),* $(,)?; $($replaced:ident => $with:ty),* $(,)?) => {
        /// Component schema name → the generated type's operations (for a schema that the
        /// codegen replaces by an existing type, that type's).
        pub fn registry() -> BTreeMap<&'static str, Registered> {
            BTreeMap::from([$(
                (
                    stringify!($name),
                    Registered {
                        round_trip: round_trip::<types::$name>,
                        json_schema: json_schema::<types::$name>,
                    },
                ),
            )* $(
                (
                    stringify!($replaced),
                    Registered {
                        round_trip: round_trip::<$with>,
                        json_schema: json_schema::<$with>,
                    },
                ),
            )*])
        }
    };
}

registry!(
    HealthResponse,
    PingResponse,
    ExternalReference,
    ExternalReferenceList,
    UserIdentity,
    Address,
    UserProfile,
    CreateUserRequest,
    CreateUserResponse,
    InvitationIdentity,
    CreateInvitationRequest,
    Invitation,
    CreateInvitationResponse,
    VerificationIntent,
    SubmitDocumentRequest,
    SubmitDocumentBatchItem,
    SubmitDocumentBatchRequest,
    Document,
    SubmitDocumentResponse,
    BatchItemStatus,
    BatchItemError,
    BatchItemResult,
    BatchSummary,
    SubmitDocumentBatchResponse,
    ErrorCode,
    ErrorDetails,
    ErrorBody,
    ErrorResponse;
    // xtask/src/codegen.rs replaces the version date schema by chrono's date.
    ApiVersionDate => chrono::NaiveDate,
);

/// Every `(method, path, operation)` in spec order.
pub fn operations() -> Vec<(String, String, &'static Value)> {
    let mut out = Vec::new();
    for (path, item) in spec()["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if matches!(
                method.as_str(),
                "get" | "put" | "post" | "delete" | "patch" | "head" | "options" | "trace"
            ) {
                out.push((method.to_uppercase(), path.clone(), operation));
            }
        }
    }
    out
}

/// Every example of a media type: `(label, schema name, example value)`.
pub fn media_examples(label: &str, media: &Value, out: &mut Vec<(String, String, Value)>) {
    let Some(schema) = media.get("schema").and_then(schema_ref_name) else {
        return;
    };
    if let Some(example) = media.get("example") {
        out.push((label.to_owned(), schema.to_owned(), example.clone()));
    }
    for (name, example) in media
        .get("examples")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let value = resolve(example)["value"].clone();
        out.push((format!("{label} ({name})"), schema.to_owned(), value));
    }
}

/// The field added by [`add_unknown_fields`] to every object.
pub const UNKNOWN_FIELD: &str = "addedInAFutureVersion";

/// A value no enum of the spec lists, as a newer server might send.
pub const UNKNOWN_VALUE: &str = "ADDED_IN_A_FUTURE_VERSION";

/// Calls `visit` with every value of `value` below `schema` (followed through `$ref`s, `allOf`,
/// properties and array items) and the resolved schema it belongs to, with its path
/// (`results[].error.code`).
pub fn walk_with_schema(
    value: &mut Value,
    schema: &Value,
    path: &str,
    visit: &mut dyn FnMut(&mut Value, &Value, &str),
) {
    let resolved = resolve(schema);
    visit(value, resolved, path);
    match value {
        Value::Object(members) => {
            let shape = object_shape(schema);
            for (name, member) in members.iter_mut() {
                if let Some(property) = shape.properties.get(name) {
                    let at = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    walk_with_schema(member, property, &at, visit);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = resolved.get("items") {
                for item in items {
                    walk_with_schema(item, item_schema, &format!("{path}[]"), visit);
                }
            }
        }
        _ => {}
    }
}

/// Adds [`UNKNOWN_FIELD`] (an object holding a list) to every object with declared properties
/// and no free-form members below `schema`; returns how many objects got one.
pub fn add_unknown_fields(value: &mut Value, schema: &Value) -> usize {
    let mut added = 0;
    walk_with_schema(value, schema, "", &mut |value, schema, _| {
        let declared = !object_shape(schema).properties.is_empty();
        let free_form = schema.get("additionalProperties").is_some();
        if let Value::Object(members) = value
            && declared
            && !free_form
        {
            members.insert(
                UNKNOWN_FIELD.to_owned(),
                serde_json::json!({"nested": [1, "two", {"three": null}]}),
            );
            added += 1;
        }
    });
    added
}

/// Replaces every value of an enumerated set (`enum` or `x-extensible-enum`) below `schema` by
/// [`UNKNOWN_VALUE`]; returns the paths of the values replaced.
pub fn replace_enum_values(value: &mut Value, schema: &Value) -> Vec<String> {
    let mut replaced = Vec::new();
    walk_with_schema(value, schema, "", &mut |value, schema, path| {
        let enumerated = schema.get("enum").is_some() || schema.get("x-extensible-enum").is_some();
        if enumerated && value.is_string() {
            *value = Value::String(UNKNOWN_VALUE.to_owned());
            replaced.push(path.to_owned());
        }
    });
    replaced
}

/// Every JSON response example of the spec: `(operationId, status, label, schema name, example)`.
pub fn response_examples() -> Vec<(String, String, String, String, Value)> {
    let mut out = Vec::new();
    for (method, path, operation) in operations() {
        let id = operation["operationId"]
            .as_str()
            .expect("operationId")
            .to_owned();
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let Some(media) = resolve(response)
                .get("content")
                .and_then(|c| c.get("application/json"))
            else {
                continue;
            };
            let mut examples = Vec::new();
            media_examples(&format!("{method} {path} {status}"), media, &mut examples);
            for (label, schema, example) in examples {
                out.push((id.clone(), status.clone(), label, schema, example));
            }
        }
    }
    out
}
