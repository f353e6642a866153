//! `GET /openapi.yaml` and `GET /openapi.json`: the contract the sandbox implements.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The spec in YAML: `cargo xtask codegen` copies `openapi/pearsana-partner.yaml` into this
/// crate (a published crate cannot include files from outside it) and its `--check` keeps the
/// copy equal.
pub const OPENAPI_YAML: &str = include_str!("../../assets/pearsana-partner.yaml");
/// The spec in JSON, copied the same way from `openapi/pearsana-partner.json`.
pub const OPENAPI_JSON: &str = include_str!("../../assets/pearsana-partner.json");

fn with_type(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// `GET /openapi.yaml`.
pub async fn yaml() -> Response {
    with_type(OPENAPI_YAML, "application/yaml")
}

/// `GET /openapi.json`.
pub async fn json() -> Response {
    with_type(OPENAPI_JSON, "application/json")
}
