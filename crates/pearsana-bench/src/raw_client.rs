//! The baseline: a minimal hand-written client on plain `reqwest`.
//!
//! It sends what the SDK sends for the same call (bearer token, `X-API-Version`, a fresh
//! `X-Request-Id`, progenitor's `api-version` header, the SDK's `User-Agent`, JSON body,
//! `Accept: application/json`), with the SDK's default per-request timeout, and decodes the same
//! typed responses, but has no token cache, retries or hooks: one token is fetched up front and
//! reused. Whatever the SDK costs on top of this is its overhead.

use anyhow::{Context, bail};
use pearsana_api::spec::{API_VERSION, TOKEN_PATH, headers};
use pearsana_api::types::{CreateUserRequest, CreateUserResponse, PingResponse};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, USER_AGENT};
use serde::Deserialize;

/// The token endpoint's answer (only what the baseline needs).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
}

/// A bare HTTP client holding one bearer token.
#[derive(Clone)]
pub struct RawClient {
    http: reqwest::Client,
    api_url: String,
    authorization: HeaderValue,
    user_agent: HeaderValue,
}

impl std::fmt::Debug for RawClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawClient")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

/// A connection pool sized for `concurrency` callers, as both the SDK and the baseline get.
pub fn http_client(concurrency: usize) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency.max(1))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building reqwest client")
}

/// Fetches one access token with the client credentials grant.
pub async fn fetch_token(
    http: &reqwest::Client,
    auth_url: &str,
    client_id: &str,
    client_secret: &str,
) -> anyhow::Result<String> {
    let response = http
        .post(format!("{auth_url}{TOKEN_PATH}"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", client_secret),
        ])
        .send()
        .await
        .context("token request")?;
    if !response.status().is_success() {
        bail!("token endpoint answered {}", response.status());
    }
    let token: TokenResponse = response.json().await.context("decoding token response")?;
    Ok(token.access_token)
}

impl RawClient {
    /// A client that sends `token` as its bearer token to `api_url`.
    pub fn new(http: reqwest::Client, api_url: &str, token: &str) -> anyhow::Result<Self> {
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {token}")).context("token is not a header")?;
        authorization.set_sensitive(true);
        Ok(Self {
            http,
            api_url: api_url.trim_end_matches('/').to_owned(),
            authorization,
            user_agent: HeaderValue::from_str(&pearsana::config::default_user_agent())?,
        })
    }

    /// Fetches a token from `auth_url` and returns a client using it.
    pub async fn connect(
        http: reqwest::Client,
        api_url: &str,
        auth_url: &str,
        client_id: &str,
        client_secret: &str,
    ) -> anyhow::Result<Self> {
        let token = fetch_token(&http, auth_url, client_id, client_secret).await?;
        Self::new(http, api_url, &token)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.api_url))
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header("api-version", HeaderValue::from_static(API_VERSION))
            .header(
                headers::X_API_VERSION,
                HeaderValue::from_static(API_VERSION),
            )
            .header(headers::X_REQUEST_ID, uuid::Uuid::new_v4().to_string())
            .header(USER_AGENT, self.user_agent.clone())
            .header(AUTHORIZATION, self.authorization.clone())
            .timeout(pearsana::config::DEFAULT_TIMEOUT)
    }

    /// `GET /ping`.
    pub async fn ping(&self) -> anyhow::Result<PingResponse> {
        let response = self.request(reqwest::Method::GET, "/ping").send().await?;
        decode(response, reqwest::StatusCode::OK).await
    }

    /// `POST /v1/users`.
    pub async fn create_user(
        &self,
        body: &CreateUserRequest,
    ) -> anyhow::Result<CreateUserResponse> {
        let response = self
            .request(reqwest::Method::POST, "/v1/users")
            .json(body)
            .send()
            .await?;
        decode(response, reqwest::StatusCode::CREATED).await
    }

    /// `POST /v1/users`, counting an existing email (`409`) as done, like the CLI's import.
    pub async fn create_or_get_user(&self, body: &CreateUserRequest) -> anyhow::Result<()> {
        let response = self
            .request(reqwest::Method::POST, "/v1/users")
            .json(body)
            .send()
            .await?;
        if response.status() == reqwest::StatusCode::CONFLICT {
            response.bytes().await?;
            return Ok(());
        }
        decode::<CreateUserResponse>(response, reqwest::StatusCode::CREATED)
            .await
            .map(drop)
    }

    /// Posts an already serialised JSON body to `path` and returns the status and body size.
    pub async fn post_json_bytes(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(reqwest::StatusCode, usize)> {
        let response = self
            .request(reqwest::Method::POST, path)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        Ok((status, bytes.len()))
    }
}

async fn decode<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    expected: reqwest::StatusCode,
) -> anyhow::Result<T> {
    let status = response.status();
    let bytes = response.bytes().await?;
    if status != expected {
        bail!(
            "expected {expected}, got {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
    }
    serde_json::from_slice(&bytes).with_context(|| format!("decoding a {status} response"))
}
