//! [`Client`]: the Partner API with authentication, versioning, request ids, retries and
//! throttling applied, plus ergonomic methods for the six operations.

use std::fmt;
use std::sync::Arc;

use pearsana_api::hooks::Hooks;
use pearsana_api::spec::operations;
use pearsana_api::types;

use crate::auth::TokenStatus;
use crate::call::{Call, json_body};
use crate::config::ClientBuilder;
use crate::error::{Error, Result};
use crate::hooks::SdkHooks;
use crate::options::CallOptions;
use crate::pipeline::{Exchange, Outcome, Shared};
use crate::retry::{RetryConfig, RetryPolicy};
use crate::secret::Redactor;
use crate::validate;
use crate::version::{ApiVersion, VersionInfo};

/// A Pearsana Partner API client. Cheap to clone (one `Arc`); all clones share the connection
/// pool, the token cache, the version record and the adaptive throttle.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    api: pearsana_api::Client,
    shared: Arc<Shared>,
    retry: RetryConfig,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("api_url", &self.inner.shared.api_url)
            .field("auth_url", &self.inner.shared.auth_url)
            .field("api_version", &self.api_version())
            .field("tokens", &self.inner.shared.tokens)
            .finish_non_exhaustive()
    }
}

/// The result of [`Client::create_or_get_user`].
#[derive(Debug, Clone, PartialEq)]
pub enum UserOutcome {
    /// The user was created by this call.
    Created(types::CreateUserResponse),
    /// A user with this email already existed (or was created by an earlier attempt of this
    /// call whose response was lost).
    Existing {
        /// The user's id.
        user_id: String,
        /// The email, lowercase.
        email: String,
    },
}

impl UserOutcome {
    /// The user's id, whichever way it came.
    pub fn user_id(&self) -> &str {
        match self {
            Self::Created(created) => &created.user_id,
            Self::Existing { user_id, .. } => user_id,
        }
    }
}

impl Client {
    /// Starts configuring a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from the `PEARSANA_*` environment variables; fails naming
    /// `PEARSANA_CLIENT_ID` / `PEARSANA_CLIENT_SECRET` when they are missing.
    pub fn from_env() -> Result<Self> {
        Self::from_env_vars(std::env::vars())
    }

    /// Like [`from_env`](Self::from_env), from the given name/value pairs.
    ///
    /// ```
    /// let error = pearsana::Client::from_env_vars([("PEARSANA_ENV", "local")]).unwrap_err();
    /// assert!(error.to_string().contains("PEARSANA_CLIENT_ID"));
    /// assert!(error.to_string().contains("PEARSANA_CLIENT_SECRET"));
    /// ```
    pub fn from_env_vars<I, K, V>(vars: I) -> Result<Self>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let builder = ClientBuilder::from_env_vars(vars)?;
        builder.require_credentials_from_env()?;
        builder.build()
    }

    pub(crate) fn assemble(shared: Arc<Shared>, retry: RetryConfig) -> Self {
        let hooks = SdkHooks {
            shared: Arc::clone(&shared),
            retry: retry.clone(),
        };
        let api = pearsana_api::Client::new_with_client(
            &shared.api_url,
            shared.http.clone(),
            Hooks::new(Arc::new(hooks)),
        );
        Self {
            inner: Arc::new(Inner { api, shared, retry }),
        }
    }

    /// A client that shares this one's pool, token, version record and throttle but repeats
    /// requests (API calls and token requests) according to `policy`, e.g.
    /// [`retry_ambiguous_policy`](crate::retry::retry_ambiguous_policy) to opt in to repeating
    /// document submissions after ambiguous failures. For one call, use
    /// [`Call::retry_policy`] instead.
    pub fn with_retry_policy(&self, policy: impl RetryPolicy) -> Self {
        let mut retry = self.inner.retry.clone();
        retry.policy = Arc::new(policy);
        Self::assemble(Arc::clone(&self.inner.shared), retry)
    }

    /// The generated client with this client's pipeline: every operation of the spec, with
    /// authentication, request ids, retries, throttling and version tracking. `/v1` builders
    /// still need `.x_api_version(..)`; pass [`Client::api_version`]`().date()`.
    ///
    /// Its errors are the generated client's: an answer refused by the SDK (a redirect, a body
    /// over the limit) fails as a response or body error, and a failed token request arrives
    /// as a `401` envelope whose message says why. The ergonomic methods give typed
    /// [`Error`]s and [`Response`](crate::Response) metadata instead.
    pub fn api(&self) -> &pearsana_api::Client {
        &self.inner.api
    }

    /// The pinned API version.
    pub fn api_version(&self) -> ApiVersion {
        self.inner.shared.versions.pinned()
    }

    /// API base URL.
    pub fn api_url(&self) -> &str {
        &self.inner.shared.api_url
    }

    /// Auth base URL.
    pub fn auth_url(&self) -> &str {
        &self.inner.shared.auth_url
    }

    /// How many requests this client (and its clones) sent to the token endpoint
    /// ([`testing::token_requests`](crate::testing::token_requests)).
    pub(crate) fn token_request_count(&self) -> u64 {
        self.inner.shared.tokens.requests()
    }

    /// The adaptive throttle's current pace in requests per second, while it is pacing (after
    /// a `429`); `None` while it is dormant or turned off.
    pub fn throttle_rate(&self) -> Option<f64> {
        self.inner.shared.throttle.rate()
    }

    /// A valid access token (the cached one, or a freshly fetched one under the same
    /// single-flight rule as every call), for endpoints outside the Partner API spec such as
    /// the local sandbox's test helpers. The token prints as `[redacted]`; send it with
    /// [`AccessToken::expose_secret`](crate::AccessToken::expose_secret) and never log it.
    ///
    /// ```no_run
    /// # async fn run(client: pearsana::Client) -> Result<(), pearsana::Error> {
    /// let token = client.access_token().await?;
    /// let response = reqwest::Client::new()
    ///     .get(format!("{}/sandbox/v1/users", client.api_url()))
    ///     .bearer_auth(token.expose_secret())
    ///     .send()
    ///     .await;
    /// # let _ = response;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn access_token(&self) -> Result<crate::AccessToken> {
        self.inner
            .shared
            .tokens
            .token(&self.inner.retry)
            .await
            .map(|cached| cached.token)
            .map_err(|source| Error::Auth {
                source,
                request_id: None,
            })
    }

    /// Scopes and timing of the cached token, if there is one (never the token itself).
    pub fn token_status(&self) -> Option<TokenStatus> {
        self.inner.shared.tokens.status()
    }

    /// The versions the server reported most recently.
    pub fn version_info(&self) -> VersionInfo {
        self.inner.shared.versions.snapshot()
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    pub(crate) fn redactor(&self) -> Redactor {
        self.inner.shared.tokens.redactor()
    }

    pub(crate) fn batch_concurrency(&self) -> usize {
        self.inner.shared.batch_concurrency
    }

    /// Runs an exchange through the pipeline with this client's retry settings.
    pub(crate) async fn run(&self, exchange: &Exchange, options: &CallOptions) -> Outcome {
        self.inner
            .shared
            .execute(exchange, &self.inner.retry, options.retry_policy.as_deref())
            .await
    }

    /// `GET /health`: whether the service is up. Needs no credentials.
    pub fn health(&self) -> Call<'_, types::HealthResponse> {
        Call::new(self, &operations::GET_HEALTH, Ok(None))
    }

    /// `GET /ping`: checks the credentials; reports the client id and the token's scopes.
    pub fn ping(&self) -> Call<'_, types::PingResponse> {
        Call::new(self, &operations::PING, Ok(None))
    }

    /// `POST /v1/users`: creates a user. Validated before sending. Repeated after ambiguous
    /// failures (email uniqueness makes that safe), so a `CONFLICT` may mean an earlier
    /// attempt of this very call succeeded; [`create_or_get_user`](Self::create_or_get_user)
    /// resolves that.
    pub fn create_user(
        &self,
        request: &types::CreateUserRequest,
    ) -> Call<'_, types::CreateUserResponse> {
        let body = validate::create_user(request)
            .into_result()
            .and_then(|()| json_body(request));
        Call::new(self, &operations::CREATE_USER, body)
    }

    /// Creates a user, or returns the existing user with the same email: a `409 CONFLICT`
    /// carrying the user's id becomes [`UserOutcome::Existing`].
    ///
    /// ```no_run
    /// # async fn run(client: pearsana::Client, request: pearsana::types::CreateUserRequest) -> Result<(), pearsana::Error> {
    /// match client.create_or_get_user(&request).await? {
    ///     pearsana::UserOutcome::Created(user) => println!("created {}", user.user_id),
    ///     pearsana::UserOutcome::Existing { user_id, .. } => println!("already there: {user_id}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn create_or_get_user(&self, request: &types::CreateUserRequest) -> Call<'_, UserOutcome> {
        let body = validate::create_user(request)
            .into_result()
            .and_then(|()| json_body(request));
        Call::new(self, &operations::CREATE_USER, body).with_hint(request.identity.email.clone())
    }

    /// `POST /v1/invitations`: invites a user. Validated before sending; not repeated after
    /// ambiguous failures unless the retry policy opts in.
    pub fn create_invitation(
        &self,
        request: &types::CreateInvitationRequest,
    ) -> Call<'_, types::CreateInvitationResponse> {
        let body = validate::create_invitation(request)
            .into_result()
            .and_then(|()| json_body(request));
        Call::new(self, &operations::CREATE_INVITATION, body)
    }

    /// `POST /v1/documents:submit`: submits one document. Validated before sending (including
    /// the base64 and the size limit); not repeated after ambiguous failures unless the retry
    /// policy opts in.
    pub fn submit_document(
        &self,
        request: &types::SubmitDocumentRequest,
    ) -> Call<'_, types::SubmitDocumentResponse> {
        let body = validate::submit_document(request)
            .into_result()
            .and_then(|()| json_body(request));
        Call::new(self, &operations::SUBMIT_DOCUMENT, body)
    }

    /// `POST /v1/documents:submitBatch`: submits 1 to 25 documents in one request. See
    /// [`submit_documents`](Self::submit_documents) for any number of items.
    pub fn submit_document_batch(
        &self,
        request: &types::SubmitDocumentBatchRequest,
    ) -> Call<'_, types::SubmitDocumentBatchResponse> {
        let body = validate::submit_document_batch(request)
            .into_result()
            .and_then(|()| json_body(request));
        Call::new(self, &operations::SUBMIT_DOCUMENT_BATCH, body)
    }
}
