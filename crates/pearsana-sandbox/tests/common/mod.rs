//! Shared helpers: start a sandbox on 127.0.0.1:0, get tokens, call it over HTTP.

#![allow(dead_code)]

use pearsana_api::hooks::Hooks;
use pearsana_api::spec::API_VERSION;
use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningSandbox, Sandbox};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};

/// Starts a sandbox with the defaults.
pub async fn start() -> RunningSandbox {
    Sandbox::builder().spawn().await.expect("sandbox starts")
}

/// Requests a token with `client_secret_post`; panics unless it is issued.
pub async fn token_for(
    sandbox: &RunningSandbox,
    id: &str,
    secret: &str,
    scope: Option<&str>,
) -> String {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    let response = reqwest::Client::new()
        .post(sandbox.token_url())
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// A token of the default client with every scope.
pub async fn token(sandbox: &RunningSandbox) -> String {
    token_for(sandbox, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, None).await
}

/// The generated client, authenticated with a default header.
pub fn api(sandbox: &RunningSandbox, token: &str) -> pearsana_api::Client {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    let http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    pearsana_api::Client::new_with_client(&sandbox.url(), http, Hooks::none())
}

/// An answer read in full.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn errors(&self) -> Vec<String> {
        self.body["error"]["details"]["errors"]
            .as_array()
            .map(|a| a.iter().map(|e| e.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    /// Asserts the error envelope, the version headers and that the request ids agree.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{:?}", self.body);
        assert_eq!(self.code(), code, "{:?}", self.body);
        assert!(self.body["error"]["message"].is_string());
        assert_eq!(self.body["error"]["requestId"], self.header("x-request-id"));
        assert_version_headers(&self.headers);
    }
}

pub fn assert_version_headers(headers: &HeaderMap) {
    for name in [
        "x-api-version",
        "x-api-version-latest",
        "x-api-version-supported",
    ] {
        assert_eq!(headers.get(name).unwrap(), API_VERSION, "{name}");
    }
    assert!(!headers.get("x-request-id").unwrap().is_empty());
}

pub async fn read(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

/// `POST` a JSON body with a token and the current API version.
pub async fn post(sandbox: &RunningSandbox, token: &str, path: &str, body: &Value) -> Answer {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", sandbox.url()))
        .bearer_auth(token)
        .header("X-API-Version", API_VERSION)
        .json(body)
        .send()
        .await
        .unwrap();
    read(response).await
}

/// `GET` with a token.
pub async fn get(sandbox: &RunningSandbox, token: &str, path: &str) -> Answer {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", sandbox.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    read(response).await
}

/// A valid create-user body.
pub fn user_body(email: &str, namespace: &str, external_id: &str) -> Value {
    json!({
        "identity": {"email": email, "firstName": "Jane", "lastName": "Smith", "roleName": "student"},
        "externalReferences": [{"namespace": namespace, "externalId": external_id}]
    })
}

/// A valid document body for a reference.
pub fn document_body(namespace: &str, external_id: &str) -> Value {
    json!({
        "externalReference": {"namespace": namespace, "externalId": external_id},
        "documentType": "OFFICIAL_TRANSCRIPT",
        "file": "JVBERi0xLjQK",
        "filename": "transcript.pdf"
    })
}

/// The current API version as the generated builders take it.
pub fn version() -> chrono::NaiveDate {
    API_VERSION.parse().unwrap()
}
