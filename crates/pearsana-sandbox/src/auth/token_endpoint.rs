//! `POST /oauth2/token`: the client credentials grant (ASSUMPTIONS A1 and A2).
//!
//! Credentials come in the form (`client_secret_post`) or in HTTP Basic
//! (`client_secret_basic`), not both. Errors use the RFC 6749 §5.2 body.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;

use crate::app::AppState;
use crate::body::BufferedBody;
use crate::stats::bump;

/// The grant the endpoint supports.
pub const CLIENT_CREDENTIALS: &str = "client_credentials";

/// A successful token response.
#[derive(Debug, Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
}

/// An RFC 6749 §5.2 error.
#[derive(Debug, Serialize)]
struct OAuthError {
    error: &'static str,
    error_description: String,
    #[serde(skip)]
    status: StatusCode,
    #[serde(skip)]
    basic_challenge: bool,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = if error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        };
        Self {
            error,
            error_description: description.into(),
            status,
            basic_challenge: false,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(&self)).into_response();
        if self.basic_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"pearsana-sandbox\""),
            );
        }
        no_store(response)
    }
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Client id and secret from an `Authorization: Basic` header (both form-urlencoded, as RFC
/// 6749 §2.3.1 says).
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), OAuthError>> {
    let value = headers.get(header::AUTHORIZATION)?;
    let malformed = || {
        let mut e = OAuthError::new("invalid_client", "The Basic credentials are malformed.");
        e.basic_challenge = true;
        e
    };
    let Some((scheme, encoded)) = value.to_str().ok().and_then(|v| v.split_once(' ')) else {
        return Some(Err(malformed()));
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Some(Err(malformed()));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
        return Some(Err(malformed()));
    };
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some(Ok((unescape(id), unescape(secret))))
}

fn parse_form(
    headers: &HeaderMap,
    body: &BufferedBody,
) -> Result<HashMap<String, String>, OAuthError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
        .unwrap_or(false);
    if !is_form {
        return Err(OAuthError::new(
            "invalid_request",
            "The body must be application/x-www-form-urlencoded.",
        ));
    }
    let BufferedBody::Complete(bytes, _) = body else {
        return Err(OAuthError::new(
            "invalid_request",
            "The body is too large or incomplete.",
        ));
    };
    let mut form = HashMap::new();
    for (key, value) in form_urlencoded::parse(bytes) {
        if form.insert(key.to_string(), value.into_owned()).is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                format!("The parameter `{key}` appears more than once."),
            ));
        }
    }
    Ok(form)
}

fn grant(
    app: &AppState,
    headers: &HeaderMap,
    body: &BufferedBody,
) -> Result<TokenResponse, OAuthError> {
    let form = parse_form(headers, body)?;
    match form.get("grant_type").map(String::as_str) {
        None | Some("") => {
            return Err(OAuthError::new(
                "invalid_request",
                "grant_type is required.",
            ));
        }
        Some(CLIENT_CREDENTIALS) => {}
        Some(other) => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!("Only {CLIENT_CREDENTIALS} is supported, not `{other}`."),
            ));
        }
    }
    let from_form = match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => Some((id.clone(), secret.clone())),
        (None, None) => None,
        _ => {
            return Err(OAuthError::new(
                "invalid_request",
                "client_id and client_secret must be sent together.",
            ));
        }
    };
    let used_basic = headers.contains_key(header::AUTHORIZATION);
    let (client_id, secret) = match (basic_credentials(headers).transpose()?, from_form) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::new(
                "invalid_request",
                "Send client credentials either in the body or with HTTP Basic, not both.",
            ));
        }
        (Some(creds), None) | (None, Some(creds)) => creds,
        (None, None) => {
            return Err(OAuthError::new(
                "invalid_client",
                "Client credentials are missing.",
            ));
        }
    };
    let client = app
        .config
        .clients
        .iter()
        .find(|c| c.id == client_id && c.secret.matches(&secret))
        .ok_or_else(|| {
            let mut e = OAuthError::new("invalid_client", "Unknown client or wrong secret.");
            e.basic_challenge = used_basic;
            e
        })?;
    let requested: Vec<String> = form
        .get("scope")
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let scopes = if requested.is_empty() {
        client.scopes.clone()
    } else {
        if let Some(missing) = requested.iter().find(|s| !client.scopes.contains(s)) {
            return Err(OAuthError::new(
                "invalid_scope",
                format!("The client was not granted the scope `{missing}`."),
            ));
        }
        let mut unique: Vec<String> = Vec::new();
        for scope in requested {
            if !unique.contains(&scope) {
                unique.push(scope);
            }
        }
        unique
    };
    let ttl = app.config.token_ttl;
    let (token, claims) = app
        .signer
        .issue(&client.id, &scopes, &app.config.organisation_id, ttl)
        .map_err(|_| OAuthError::new("invalid_request", "The token could not be signed."))?;
    bump(&app.stats.tokens_issued);
    Ok(TokenResponse {
        access_token: token,
        token_type: "Bearer",
        expires_in: ttl.as_secs(),
        scope: claims.scope,
    })
}

/// The handler.
pub async fn token(
    State(app): State<Arc<AppState>>,
    Extension(body): Extension<BufferedBody>,
    headers: HeaderMap,
) -> Response {
    bump(&app.stats.token_requests);
    match grant(&app, &headers, &body) {
        Ok(response) => no_store(axum::Json(response).into_response()),
        Err(error) => error.into_response(),
    }
}
