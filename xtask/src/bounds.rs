//! The spec's length bounds on strings, as the generated client and the handwritten code see them.
//!
//! typify turns every string schema with a `maxLength` or `pattern` into a validating newtype.
//! The bounds that the security lint asked for (a `maxLength` on every string, a pattern on
//! server-issued identifiers) would have turned most `String` fields of the generated types into
//! newtypes, changing the client's surface for every caller. Strings that carry only such bounds
//! (no `minLength`, no `enum`) therefore stay `String` in the generated code, and the bounds are
//! enforced where the rest of the validation lives: the SDK's request checks and the sandbox,
//! both reading the constants that `constants.rs` renders from the same schemas. Strings that
//! already had a `minLength` or `pattern` keep their newtype, which now checks the bound too.

use openapiv3::{
    AdditionalProperties, OpenAPI, ReferenceOr, Schema, SchemaKind, StringFormat, Type,
    VariantOrUnknownOrEmpty,
};

/// Every inline schema of the spec (components, parameters, request bodies), depth first.
pub fn inline_schemas(spec: &OpenAPI) -> Vec<&Schema> {
    let mut out = Vec::new();
    if let Some(components) = &spec.components {
        for schema in components.schemas.values() {
            walk(schema, &mut out);
        }
        for parameter in components.parameters.values() {
            if let ReferenceOr::Item(parameter) = parameter
                && let openapiv3::ParameterSchemaOrContent::Schema(schema) =
                    &parameter.parameter_data_ref().format
            {
                walk(schema, &mut out);
            }
        }
    }
    out
}

fn walk<'a>(schema: &'a ReferenceOr<Schema>, out: &mut Vec<&'a Schema>) {
    if let ReferenceOr::Item(schema) = schema {
        walk_item(schema, out);
    }
}

fn walk_boxed<'a>(schema: &'a ReferenceOr<Box<Schema>>, out: &mut Vec<&'a Schema>) {
    if let ReferenceOr::Item(schema) = schema {
        walk_item(schema, out);
    }
}

fn walk_item<'a>(schema: &'a Schema, out: &mut Vec<&'a Schema>) {
    out.push(schema);
    match &schema.schema_kind {
        SchemaKind::Type(Type::Object(object)) => {
            for property in object.properties.values() {
                walk_boxed(property, out);
            }
            if let Some(AdditionalProperties::Schema(extra)) = &object.additional_properties {
                walk(extra, out);
            }
        }
        SchemaKind::Type(Type::Array(array)) => {
            if let Some(items) = &array.items {
                walk_boxed(items, out);
            }
        }
        SchemaKind::AllOf { all_of: list }
        | SchemaKind::OneOf { one_of: list }
        | SchemaKind::AnyOf { any_of: list } => {
            for schema in list {
                walk(schema, out);
            }
        }
        SchemaKind::Not { not } => walk(not, out),
        _ => {}
    }
}

/// The string schemas that stay `String` in the generated code (see the module docs), in the
/// form progenitor hands them to typify, without metadata (typify compares without it).
pub fn plain_strings(spec: &OpenAPI) -> Vec<schemars::schema::SchemaObject> {
    inline_schemas(spec)
        .into_iter()
        .filter_map(|schema| {
            let SchemaKind::Type(Type::String(string)) = &schema.schema_kind else {
                return None;
            };
            let bounded = string.max_length.is_some() || string.pattern.is_some();
            let format_is_text = matches!(
                string.format,
                VariantOrUnknownOrEmpty::Empty | VariantOrUnknownOrEmpty::Unknown(_)
            ) || matches!(
                string.format,
                VariantOrUnknownOrEmpty::Item(StringFormat::Password)
            );
            if !bounded
                || string.min_length.is_some()
                || !string.enumeration.is_empty()
                || !format_is_text
            {
                return None;
            }
            let format = match &string.format {
                VariantOrUnknownOrEmpty::Unknown(format) => Some(format.clone()),
                VariantOrUnknownOrEmpty::Item(_) => Some("password".to_string()),
                VariantOrUnknownOrEmpty::Empty => None,
            };
            let instance = schemars::schema::InstanceType::String;
            Some(schemars::schema::SchemaObject {
                instance_type: Some(if schema.schema_data.nullable {
                    vec![instance, schemars::schema::InstanceType::Null].into()
                } else {
                    instance.into()
                }),
                format,
                string: Some(Box::new(schemars::schema::StringValidation {
                    max_length: string.max_length.map(|n| n as u32),
                    min_length: None,
                    pattern: string.pattern.clone(),
                })),
                extensions: schema.schema_data.extensions.clone().into_iter().collect(),
                ..Default::default()
            })
        })
        .collect()
}

/// Non-negative `int64` integers, which stay `u64` in the generated code. The security lint
/// wants a `format` on every integer; typify reads `format: int64` as `i64` even with
/// `minimum: 0`, which would make a count that cannot be negative signed for every caller.
pub fn unsigned_integers(spec: &OpenAPI) -> Vec<schemars::schema::SchemaObject> {
    inline_schemas(spec)
        .into_iter()
        .filter_map(|schema| {
            let SchemaKind::Type(Type::Integer(integer)) = &schema.schema_kind else {
                return None;
            };
            let int64 = matches!(
                integer.format,
                VariantOrUnknownOrEmpty::Item(openapiv3::IntegerFormat::Int64)
            );
            if !int64
                || integer.minimum != Some(0)
                || integer.exclusive_minimum
                || integer.exclusive_maximum
                || integer.multiple_of.is_some()
                || !integer.enumeration.is_empty()
                || schema.schema_data.nullable
            {
                return None;
            }
            Some(schemars::schema::SchemaObject {
                instance_type: Some(schemars::schema::InstanceType::Integer.into()),
                format: Some("int64".to_string()),
                number: Some(Box::new(schemars::schema::NumberValidation {
                    minimum: Some(0.0),
                    maximum: integer.maximum.map(|v| v as f64),
                    ..Default::default()
                })),
                extensions: schema.schema_data.extensions.clone().into_iter().collect(),
                ..Default::default()
            })
        })
        .collect()
}
