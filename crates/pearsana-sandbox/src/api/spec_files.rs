//! `GET /openapi.yaml` and `GET /openapi.json`: the contract the sandbox implements, and
//! `GET /docs`: the same contract rendered as a self-contained API reference page.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The spec in YAML: `cargo xtask codegen` copies `openapi/pearsana-partner.yaml` into this
/// crate (a published crate cannot include files from outside it) and its `--check` keeps the
/// copy equal.
pub const OPENAPI_YAML: &str = include_str!("../../assets/pearsana-partner.yaml");
/// The spec in JSON, copied the same way from `openapi/pearsana-partner.json`.
pub const OPENAPI_JSON: &str = include_str!("../../assets/pearsana-partner.json");

/// The API reference rendered by `cargo xtask docs` (Redocly, scripts inlined: viewing it
/// fetches nothing from outside the sandbox). `cargo xtask codegen --check` fails if it was
/// rendered from another version of the spec.
pub const API_REFERENCE_HTML: &str = include_str!("../../assets/api-reference.html");

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

/// `GET /docs`.
pub async fn docs() -> Response {
    with_type(API_REFERENCE_HTML, "text/html; charset=utf-8")
}
