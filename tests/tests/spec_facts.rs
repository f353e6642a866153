//! The shared facts of `pearsana_api::spec` (header names, the token path, per-operation
//! idempotency, the version rules) agree with the YAML spec read independently here, and the
//! SDK and the sandbox use those facts rather than copies of their own.

use std::collections::BTreeSet;

use pearsana_api::spec::{self, headers};
use pearsana_tests::{operations, resolve, spec as yaml};
use serde_json::Value;

/// Every header name the YAML declares: component headers, header parameters and the headers
/// of every response.
fn declared_in_yaml() -> BTreeSet<String> {
    let components = &yaml()["components"];
    let mut names = BTreeSet::new();
    for name in components["headers"].as_object().expect("headers").keys() {
        names.insert(name.clone());
    }
    let mut parameters: Vec<&Value> = components["parameters"]
        .as_object()
        .expect("parameters")
        .values()
        .collect();
    let mut responses: Vec<&Value> = components["responses"]
        .as_object()
        .expect("responses")
        .values()
        .collect();
    for (_, _, operation) in operations() {
        if let Some(list) = operation.get("parameters").and_then(Value::as_array) {
            parameters.extend(list.iter().map(resolve));
        }
        responses.extend(
            operation["responses"]
                .as_object()
                .expect("responses")
                .values(),
        );
    }
    for parameter in parameters {
        if parameter["in"] == "header" {
            names.insert(parameter["name"].as_str().expect("name").to_owned());
        }
    }
    for response in responses {
        if let Some(headers) = resolve(response).get("headers").and_then(Value::as_object) {
            names.extend(headers.keys().cloned());
        }
    }
    names
}

#[test]
fn every_declared_header_has_one_lower_case_constant() {
    let generated: BTreeSet<String> = headers::DECLARED
        .iter()
        .map(|(spelled, _)| (*spelled).to_owned())
        .collect();
    assert_eq!(generated, declared_in_yaml());
    for (spelled, lower) in headers::DECLARED {
        assert_eq!(*lower, spelled.to_ascii_lowercase());
        // A lower-case name is what `HeaderName::from_static` accepts.
        assert_eq!(
            reqwest::header::HeaderName::from_static(lower).as_str(),
            *lower
        );
        assert_eq!(headers::spelling(&spelled.to_uppercase()), Some(*spelled));
    }
    assert_eq!(headers::X_API_VERSION, "x-api-version");
    assert_eq!(headers::X_REQUEST_ID, "x-request-id");
    assert_eq!(headers::RETRY_AFTER, reqwest::header::RETRY_AFTER.as_str());
    assert_eq!(headers::spelling("x-not-declared"), None);
}

#[test]
fn the_token_path_is_the_path_of_the_security_scheme_token_url() {
    let token_url = yaml()["components"]["securitySchemes"]["partnerOAuth"]["flows"]
        ["clientCredentials"]["tokenUrl"]
        .as_str()
        .expect("tokenUrl");
    assert_eq!(spec::SPEC_TOKEN_URL, token_url);
    assert_eq!(
        format!("{}{}", spec::SANDBOX.auth_url, spec::TOKEN_PATH),
        token_url
    );
    assert!(spec::TOKEN_PATH.starts_with('/') && !spec::TOKEN_PATH.contains("://"));
    // The sandbox serves the token endpoint at the same path.
    assert_eq!(pearsana_sandbox::TOKEN_PATH, spec::TOKEN_PATH);
}

#[test]
fn idempotency_is_the_method_or_the_stated_extension() {
    let listed = operations();
    assert_eq!(listed.len(), spec::operations::ALL.len());
    for (method, path, operation) in listed {
        let id = operation["operationId"].as_str().expect("operationId");
        let generated = spec::operations::ALL
            .iter()
            .find(|op| op.path == path && op.method == method)
            .unwrap_or_else(|| panic!("{method} {path} ({id}) has no generated operation"));
        let stated = operation.get("x-pearsana-idempotent").map(|v| {
            v.as_bool()
                .unwrap_or_else(|| panic!("{id}: x-pearsana-idempotent must be a boolean"))
        });
        let expected = match method.as_str() {
            "GET" | "HEAD" | "OPTIONS" | "PUT" | "DELETE" => true,
            _ => stated.unwrap_or_else(|| panic!("{id}: a {method} must state idempotency")),
        };
        assert_eq!(generated.idempotent, expected, "{id}");
        // The SDK's retry decision reads the same fact.
        assert_eq!(
            pearsana::retry::is_idempotent(generated.id),
            expected,
            "{id}"
        );
    }
    assert!(pearsana::retry::is_idempotent(
        spec::operations::CREATE_USER.id
    ));
    assert!(!pearsana::retry::is_idempotent(
        spec::operations::SUBMIT_DOCUMENT.id
    ));
    assert!(!pearsana::retry::is_idempotent("no_such_operation"));
}

#[test]
fn version_rules_come_from_info_and_the_date_schema() {
    let info = &yaml()["info"];
    assert_eq!(spec::API_VERSION, info["version"]);
    assert_eq!(
        spec::OLDEST_SUPPORTED_VERSION,
        info["x-pearsana-oldest-supported-version"]
    );
    assert_eq!(
        spec::SUPPORTED_VERSIONS.first(),
        Some(&spec::OLDEST_SUPPORTED_VERSION)
    );
    assert_eq!(spec::SUPPORTED_VERSIONS.last(), Some(&spec::API_VERSION));
    assert!(spec::SUPPORTED_VERSIONS.windows(2).all(|w| w[0] < w[1]));

    let date = &yaml()["components"]["schemas"]["ApiVersionDate"];
    assert_eq!(spec::VERSION_DATE_PATTERN, date["pattern"]);
    assert_eq!(
        spec::VERSION_DATE_LEN as u64,
        date["maxLength"].as_u64().unwrap()
    );
    assert_eq!(
        spec::VERSION_DATE_LEN as u64,
        date["minLength"].as_u64().unwrap()
    );
    for version in spec::SUPPORTED_VERSIONS {
        let parsed = chrono::NaiveDate::parse_from_str(version, spec::VERSION_DATE_FORMAT)
            .expect("a supported version is a date in the spec's format");
        assert_eq!(
            parsed.format(spec::VERSION_DATE_FORMAT).to_string(),
            *version
        );
        assert_eq!(version.len(), spec::VERSION_DATE_LEN);
    }
    // The SDK parses and prints versions by the same rule.
    let pinned = pearsana::ApiVersion::default();
    assert_eq!(pinned.to_string(), spec::API_VERSION);
    for bad in [
        "2026-1-30",
        "2026- 1-30",
        "2026-01- 3",
        "2026-02-30",
        "2026/01/30",
    ] {
        assert!(
            bad.parse::<pearsana::ApiVersion>().is_err(),
            "SDK accepted {bad}"
        );
        assert!(
            spec::parse_version_date(bad).is_none(),
            "spec rule accepted {bad}"
        );
    }
}
