//! A reviewable summary of the whole API surface, derived from the spec. Any edit to an
//! operation, parameter, request field, scope or response shows up as a snapshot diff.

use std::fmt::Write as _;

use pearsana_tests::{object_shape, operations, resolve, schema_ref_name, spec};
use serde_json::Value;

/// One-line description of a schema: type, format, limits, enum, default.
fn describe(schema: &Value) -> String {
    let name = schema_ref_name(schema);
    let schema = resolve(schema);
    let mut out = match schema.get("type").and_then(Value::as_str) {
        Some("array") => format!("array<{}>", describe(&schema["items"])),
        Some(kind) => kind.to_owned(),
        None if schema.get("allOf").is_some() => "object".to_owned(),
        None => "any".to_owned(),
    };
    if let Some(name) = name {
        out = format!("{name}: {out}");
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        write!(out, "({format})").unwrap();
    }
    for (key, label) in [
        ("minLength", "minLength"),
        ("maxLength", "maxLength"),
        ("minItems", "minItems"),
        ("maxItems", "maxItems"),
        ("minimum", "minimum"),
        ("pattern", "pattern"),
    ] {
        if let Some(value) = schema.get(key) {
            write!(out, " {label}={value}").unwrap();
        }
    }
    for key in ["enum", "x-extensible-enum"] {
        if let Some(values) = schema.get(key).and_then(Value::as_array) {
            let values: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            write!(out, " {key}=[{}]", values.join("|")).unwrap();
        }
    }
    if let Some(default) = schema.get("default") {
        write!(out, " default={default}").unwrap();
    }
    out
}

/// Lists every field below `schema` with its path, requiredness and description.
fn fields(prefix: &str, schema: &Value, depth: usize, out: &mut String) {
    assert!(depth < 8, "schema nesting too deep at {prefix}");
    let resolved = resolve(schema);
    match resolved.get("type").and_then(Value::as_str) {
        Some("array") => fields(&format!("{prefix}[]"), &resolved["items"], depth + 1, out),
        Some("object") | None => {
            let shape = object_shape(schema);
            for (name, property) in &shape.properties {
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                let required = if shape.required.contains(name) {
                    "required"
                } else {
                    "optional"
                };
                writeln!(out, "    {path}  {required}  {}", describe(property)).unwrap();
                fields(&path, property, depth + 1, out);
            }
        }
        Some(_) => {}
    }
}

fn scopes(operation: &Value) -> String {
    let security = operation
        .get("security")
        .unwrap_or_else(|| &spec()["security"]);
    let requirements = security.as_array().expect("security is a list");
    if requirements.is_empty() {
        return "none".to_owned();
    }
    requirements
        .iter()
        .flat_map(|r| r.as_object().expect("requirement").iter())
        .map(|(scheme, scopes)| {
            let scopes: Vec<&str> = scopes
                .as_array()
                .expect("scope list")
                .iter()
                .filter_map(Value::as_str)
                .collect();
            format!("{scheme}[{}]", scopes.join(" + "))
        })
        .collect::<Vec<_>>()
        .join(" or ")
}

fn summary() -> String {
    let mut out = String::new();
    writeln!(
        out,
        "version {}",
        spec()["info"]["version"].as_str().unwrap()
    )
    .unwrap();
    for server in spec()["servers"].as_array().unwrap() {
        writeln!(out, "server {}", server["url"].as_str().unwrap()).unwrap();
    }
    let flows = &spec()["components"]["securitySchemes"]["partnerOAuth"]["flows"];
    writeln!(
        out,
        "token {}",
        flows["clientCredentials"]["tokenUrl"].as_str().unwrap()
    )
    .unwrap();
    for scope in flows["clientCredentials"]["scopes"]
        .as_object()
        .unwrap()
        .keys()
    {
        writeln!(out, "scope {scope}").unwrap();
    }
    for (method, path, operation) in operations() {
        writeln!(
            out,
            "\n{method} {path}  operationId={}  tags={}",
            operation["operationId"].as_str().unwrap(),
            operation["tags"]
        )
        .unwrap();
        writeln!(out, "  security: {}", scopes(operation)).unwrap();
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let parameter = resolve(parameter);
            writeln!(
                out,
                "  parameter {} {}  {}  {}",
                parameter["in"].as_str().unwrap(),
                parameter["name"].as_str().unwrap(),
                if parameter["required"] == Value::Bool(true) {
                    "required"
                } else {
                    "optional"
                },
                describe(&parameter["schema"])
            )
            .unwrap();
        }
        match operation.get("requestBody") {
            Some(body) => {
                let media = &resolve(body)["content"]["application/json"];
                writeln!(out, "  request body: {}", describe(&media["schema"])).unwrap();
                fields("", &media["schema"], 0, &mut out);
            }
            None => writeln!(out, "  request body: none").unwrap(),
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            let response = resolve(response);
            let schema = response["content"]["application/json"]
                .get("schema")
                .map(describe)
                .unwrap_or_else(|| "no body".to_owned());
            let headers: Vec<&str> = response
                .get("headers")
                .and_then(Value::as_object)
                .map(|h| h.keys().map(String::as_str).collect())
                .unwrap_or_default();
            writeln!(
                out,
                "  response {status}: {schema}  headers=[{}]",
                headers.join(", ")
            )
            .unwrap();
        }
    }
    out
}

#[test]
fn api_surface_matches_snapshot() {
    insta::assert_snapshot!("api_surface", summary());
}

#[test]
fn every_operation_is_documented_and_tagged() {
    for (method, path, operation) in operations() {
        for key in ["operationId", "summary", "description", "tags"] {
            assert!(operation.get(key).is_some(), "{method} {path} lacks {key}");
        }
        if let Some(body) = operation.get("requestBody") {
            let media = &resolve(body)["content"]["application/json"];
            assert!(
                media.get("example").is_some() || media.get("examples").is_some(),
                "{method} {path} has no request example"
            );
        }
    }
}

/// Collects the JSON pointers of objects marked `x-pearsana-assumption: true` whose description
/// does not say that the behaviour is a decision of this contract.
fn unexplained_assumptions(value: &Value, pointer: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if map.get("x-pearsana-assumption") == Some(&Value::Bool(true)) {
                let description = map.get("description").and_then(Value::as_str).unwrap_or("");
                if !description.contains("contract") {
                    out.push(pointer.to_owned());
                }
            }
            for (key, child) in map {
                unexplained_assumptions(child, &format!("{pointer}/{key}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                unexplained_assumptions(child, &format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn every_assumption_says_it_is_a_contract_decision() {
    let mut missing = Vec::new();
    unexplained_assumptions(spec(), "", &mut missing);
    assert!(
        missing.is_empty(),
        "assumptions without an explanation: {missing:?}"
    );
    let marked = spec().to_string().matches("x-pearsana-assumption").count();
    assert!(marked >= 20, "only {marked} assumptions are marked");
}
