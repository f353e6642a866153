//! Where the client talks to and how: [`Environment`], [`ClientBuilder`] and the
//! `PEARSANA_*` environment variables.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use pearsana_api::spec;
use reqwest::header::HeaderValue;

use crate::auth::{Credentials, TokenCache, TokenCacheConfig};
use crate::client::Client;
use crate::error::{ConfigError, Error};
use crate::pipeline::Shared;
use crate::retry::{BackoffPolicy, RetryConfig, RetryPolicy};
use crate::secret::ClientSecret;
use crate::throttle::Throttle;
use crate::time::{Clock, TokioClock};
use crate::version::{ApiVersion, VersionTracker};

/// Base URL of a locally running `pearsana-sandbox` (API and token endpoint on one listener).
pub const LOCAL_URL: &str = "http://127.0.0.1:8787";

/// Default time limit of one HTTP attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default margin before expiry at which the token is refreshed.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Default number of batch requests [`Client::submit_documents`] runs at once.
pub const DEFAULT_BATCH_CONCURRENCY: usize = 4;

/// Environment variable names read by [`ClientBuilder::from_env`].
pub mod env {
    /// `sandbox`, `production` or `local`.
    pub const ENV: &str = "PEARSANA_ENV";
    /// Overrides the API base URL.
    pub const API_URL: &str = "PEARSANA_API_URL";
    /// Overrides the auth base URL.
    pub const AUTH_URL: &str = "PEARSANA_AUTH_URL";
    /// The App Client id.
    pub const CLIENT_ID: &str = "PEARSANA_CLIENT_ID";
    /// The App Client secret.
    pub const CLIENT_SECRET: &str = "PEARSANA_CLIENT_SECRET";
    /// Scopes to request, separated by spaces or commas.
    pub const SCOPES: &str = "PEARSANA_SCOPES";
    /// The API version to pin (`YYYY-MM-DD`).
    pub const API_VERSION: &str = "PEARSANA_API_VERSION";
}

/// Which deployment the client talks to. New deployments may be added: match with a
/// wildcard arm.
///
/// ```
/// use pearsana::Environment;
///
/// fn label(environment: &Environment) -> &'static str {
///     match environment {
///         Environment::Production => "production",
///         Environment::Sandbox | Environment::Local => "test",
///         _ => "other",
///     }
/// }
/// assert_eq!(label(&Environment::Production), "production");
/// let custom = Environment::Custom {
///     api_url: "https://api.example.com".into(),
///     auth_url: "https://auth.example.com".into(),
/// };
/// assert_eq!(label(&custom), "other");
/// ```
///
/// Without the wildcard arm a match does not compile, even when it names every variant of
/// today:
///
/// ```compile_fail,E0004
/// fn label(environment: &pearsana::Environment) -> &'static str {
///     match environment {
///         pearsana::Environment::Sandbox => "sandbox",
///         pearsana::Environment::Production => "production",
///         pearsana::Environment::Local => "local",
///         pearsana::Environment::Custom { .. } => "custom",
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Environment {
    /// [`spec::SANDBOX`], for development.
    #[default]
    Sandbox,
    /// [`spec::PRODUCTION`].
    Production,
    /// A local `pearsana-sandbox` at [`LOCAL_URL`].
    Local,
    /// Any other deployment.
    Custom {
        /// API base URL.
        api_url: String,
        /// Auth base URL (the token endpoint is `{auth_url}` followed by
        /// [`spec::TOKEN_PATH`]).
        auth_url: String,
    },
}

impl Environment {
    /// API base URL.
    pub fn api_url(&self) -> &str {
        match self {
            Self::Sandbox => spec::SANDBOX.api_url,
            Self::Production => spec::PRODUCTION.api_url,
            Self::Local => LOCAL_URL,
            Self::Custom { api_url, .. } => api_url,
        }
    }

    /// Auth base URL.
    pub fn auth_url(&self) -> &str {
        match self {
            Self::Sandbox => spec::SANDBOX.auth_url,
            Self::Production => spec::PRODUCTION.auth_url,
            Self::Local => LOCAL_URL,
            Self::Custom { auth_url, .. } => auth_url,
        }
    }

    /// Reads `sandbox`, `production` or `local` (any case).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            n if n == spec::SANDBOX.name => Some(Self::Sandbox),
            n if n == spec::PRODUCTION.name => Some(Self::Production),
            "local" => Some(Self::Local),
            _ => None,
        }
    }
}

/// Configures a [`Client`].
///
/// ```no_run
/// use std::time::Duration;
/// use pearsana::{Client, Environment, spec::scopes};
///
/// # fn run() -> Result<(), pearsana::Error> {
/// let client = Client::builder()
///     .environment(Environment::Sandbox)
///     .credentials("my-client-id", "my-client-secret")
///     .scopes([scopes::PING, scopes::PARTNERS_USERS_WRITE])
///     .timeout(Duration::from_secs(10))
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    environment: Environment,
    client_id: Option<String>,
    secret: Option<ClientSecret>,
    scopes: Vec<String>,
    api_version: ApiVersion,
    timeout: Option<Duration>,
    user_agent: String,
    http: Option<reqwest::Client>,
    retry: RetryConfig,
    refresh_margin: Duration,
    clock: Arc<dyn Clock>,
    batch_concurrency: usize,
    max_response_body: usize,
    adaptive_throttling: bool,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("secret", &self.secret)
            .field("scopes", &self.scopes)
            .field("api_version", &self.api_version)
            .field("timeout", &self.timeout)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            environment: Environment::default(),
            client_id: None,
            secret: None,
            scopes: Vec::new(),
            api_version: ApiVersion::default(),
            timeout: Some(DEFAULT_TIMEOUT),
            user_agent: default_user_agent(),
            http: None,
            retry: RetryConfig::default(),
            refresh_margin: DEFAULT_REFRESH_MARGIN,
            clock: Arc::new(TokioClock),
            batch_concurrency: DEFAULT_BATCH_CONCURRENCY,
            max_response_body: crate::body::DEFAULT_MAX_RESPONSE_BODY,
            adaptive_throttling: true,
        }
    }
}

/// `pearsana-rust/<crate version>`.
pub fn default_user_agent() -> String {
    format!("pearsana-rust/{}", env!("CARGO_PKG_VERSION"))
}

impl ClientBuilder {
    /// A builder with the defaults: sandbox, no credentials, no explicit scopes (the token
    /// carries every scope granted to the App Client), the SDK's API version.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder configured from the process environment (see [`env`](mod@crate::config::env)). Variables that are
    /// not set leave the defaults; set but invalid ones are an error naming the variable.
    /// Credentials are not required here, so flags can still supply them.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_env_vars(std::env::vars())
    }

    /// Like [`from_env`](Self::from_env), from the given name/value pairs.
    ///
    /// ```
    /// use pearsana::{ClientBuilder, Environment};
    ///
    /// let builder = ClientBuilder::from_env_vars([
    ///     ("PEARSANA_ENV", "local"),
    ///     ("PEARSANA_SCOPES", "pearsana-partner/ping, pearsana-partner/partners.users:write"),
    /// ])?;
    /// assert_eq!(builder.current_environment(), &Environment::Local);
    /// assert_eq!(builder.current_scopes().len(), 2);
    /// # Ok::<(), pearsana::Error>(())
    /// ```
    pub fn from_env_vars<I, K, V>(vars: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: Into<String>,
    {
        let mut found: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        for (k, v) in vars {
            if k.as_ref().starts_with("PEARSANA_") {
                let v: String = v.into();
                if !v.trim().is_empty() {
                    found.insert(k.as_ref().to_owned(), v);
                }
            }
        }
        let get = |name: &str| found.get(name).cloned();
        let mut builder = Self::new();
        if let Some(name) = get(env::ENV) {
            builder.environment =
                Environment::from_name(&name).ok_or_else(|| ConfigError::InvalidEnv {
                    var: env::ENV,
                    reason: format!("`{name}` is not one of sandbox, production, local"),
                })?;
        }
        let api_url = get(env::API_URL);
        let auth_url = get(env::AUTH_URL);
        if api_url.is_some() || auth_url.is_some() {
            builder.environment = Environment::Custom {
                api_url: api_url.unwrap_or_else(|| builder.environment.api_url().to_owned()),
                auth_url: auth_url.unwrap_or_else(|| builder.environment.auth_url().to_owned()),
            };
        }
        builder.client_id = get(env::CLIENT_ID);
        builder.secret = get(env::CLIENT_SECRET).map(ClientSecret::from);
        if let Some(scopes) = get(env::SCOPES) {
            builder.scopes = split_scopes(&scopes);
        }
        if let Some(version) = get(env::API_VERSION) {
            builder.api_version = version.parse().map_err(|_| ConfigError::InvalidEnv {
                var: env::API_VERSION,
                reason: format!("`{version}` is not a date in the form YYYY-MM-DD"),
            })?;
        }
        Ok(builder)
    }

    /// Checks that [`from_env`](Self::from_env) found credentials, naming what is missing.
    pub(crate) fn require_credentials_from_env(&self) -> Result<(), Error> {
        let mut missing = Vec::new();
        if self.client_id.is_none() {
            missing.push(env::CLIENT_ID);
        }
        if self.secret.is_none() {
            missing.push(env::CLIENT_SECRET);
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::MissingEnv(missing).into())
        }
    }

    /// Sets the deployment.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// The deployment currently configured.
    pub fn current_environment(&self) -> &Environment {
        &self.environment
    }

    /// Sets the App Client id and secret.
    pub fn credentials(
        mut self,
        client_id: impl Into<String>,
        secret: impl Into<ClientSecret>,
    ) -> Self {
        self.client_id = Some(client_id.into());
        self.secret = Some(secret.into());
        self
    }

    /// Scopes to request. With none (the default) the token carries every scope granted to
    /// the App Client. Use the names in [`spec::scopes`].
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The scopes currently configured.
    pub fn current_scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Pins the API version sent as `X-API-Version` (default: [`spec::API_VERSION`]).
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// Time limit of one HTTP attempt, token requests included (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The `User-Agent` header (default `pearsana-rust/<version>`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Uses the caller's HTTP client (its connection pool, proxy and TLS settings).
    ///
    /// Build it with `.redirect(reqwest::redirect::Policy::none())`: the Partner API never
    /// redirects, and a client that follows redirects would re-send a request (the client
    /// secret, personal data, documents) to whatever host a redirect names before the SDK sees
    /// the answer. The SDK refuses any answer that is a redirect or comes from another origin
    /// ([`Error::Redirected`],
    /// [`AuthError::Redirected`](crate::AuthError::Redirected)), but only a client that does
    /// not follow redirects keeps the request itself from leaving. The client the SDK builds
    /// when none is given never follows redirects.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// When to repeat a failed request (default [`retry::default_policy`](crate::retry::default_policy)).
    pub fn retry_policy(mut self, policy: impl RetryPolicy) -> Self {
        self.retry.policy = Arc::new(policy);
        self
    }

    /// How long to wait between attempts (default [`ExponentialBackoff`](crate::retry::ExponentialBackoff)).
    pub fn backoff_policy(mut self, backoff: impl BackoffPolicy) -> Self {
        self.retry.backoff = Arc::new(backoff);
        self
    }

    /// The longest `Retry-After` honoured; longer waits are cut to this (default 60 s).
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.retry.max_retry_after = max;
        self
    }

    /// How long before expiry the token is replaced (default 60 s, at most half the token's
    /// lifetime).
    pub fn token_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// The clock used for token expiry and waits (default: tokio's).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The largest API response body read, in bytes (default
    /// [`DEFAULT_MAX_RESPONSE_BODY`](crate::limits::DEFAULT_MAX_RESPONSE_BODY), 4 MiB); a larger one
    /// fails the call with [`Error::ResponseTooLarge`]. Token responses have their own, smaller
    /// limit ([`MAX_TOKEN_RESPONSE_BODY`](crate::limits::MAX_TOKEN_RESPONSE_BODY)).
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.max_response_body = bytes;
        self
    }

    /// Whether the client paces itself after a `429` (default on; see the
    /// [design](crate#adaptive-throttling)). It costs nothing until the server
    /// refuses a request for rate; turn it off when another layer already paces requests.
    pub fn adaptive_throttling(mut self, enabled: bool) -> Self {
        self.adaptive_throttling = enabled;
        self
    }

    /// How many batch requests [`Client::submit_documents`] sends at once (default 4).
    pub fn batch_concurrency(mut self, concurrency: usize) -> Self {
        self.batch_concurrency = concurrency;
        self
    }

    /// Builds the client. Fails on an invalid URL, an empty client id or secret, or a user
    /// agent that is not a valid header value.
    pub fn build(self) -> Result<Client, Error> {
        let api_url = check_url("api_url", self.environment.api_url())?;
        let auth_url = check_url("auth_url", self.environment.auth_url())?;
        let credentials = match (self.client_id, self.secret) {
            (None, None) => None,
            (Some(client_id), Some(secret)) => {
                if client_id.trim().is_empty() {
                    return Err(invalid("client_id", "must not be empty"));
                }
                if secret.is_empty() {
                    return Err(invalid("client_secret", "must not be empty"));
                }
                Some(Credentials { client_id, secret })
            }
            (Some(_), None) => {
                return Err(invalid(
                    "client_secret",
                    "a client id was given without a secret",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "client_id",
                    "a secret was given without a client id",
                ));
            }
        };
        if self.batch_concurrency == 0 {
            return Err(invalid("batch_concurrency", "must be at least 1"));
        }
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| invalid("user_agent", "is not a valid HTTP header value"))?;
        let http = match self.http {
            Some(http) => http,
            None => crate::tls::client_builder()
                .user_agent(user_agent.clone())
                .connect_timeout(Duration::from_secs(10))
                .redirect(crate::redirect::policy())
                .build()
                .map_err(ConfigError::HttpClient)?,
        };
        let tokens = TokenCache::new(TokenCacheConfig {
            http: http.clone(),
            token_url: format!("{auth_url}{}", pearsana_api::spec::TOKEN_PATH),
            credentials,
            scopes: self.scopes,
            refresh_margin: self.refresh_margin,
            clock: Arc::clone(&self.clock),
            user_agent: user_agent.clone(),
            timeout: self.timeout,
        });
        let pinned_version = HeaderValue::from_str(&self.api_version.to_string())
            .map_err(|_| invalid("api_version", "is not a valid HTTP header value"))?;
        let parsed = reqwest::Url::parse(&api_url)
            .map_err(|e| invalid("api_url", &format!("`{api_url}` is not a URL ({e})")))?;
        let urls = spec::operations::ALL
            .iter()
            .filter_map(|op| {
                let url = reqwest::Url::parse(&format!("{api_url}{}", op.path)).ok()?;
                Some((op.id, url))
            })
            .collect();
        let shared = Arc::new(Shared {
            urls,
            http,
            server_address: parsed.host_str().unwrap_or_default().to_owned(),
            server_port: parsed.port_or_known_default().unwrap_or_default(),
            api_url,
            auth_url,
            tokens: Arc::new(tokens),
            versions: VersionTracker::new(self.api_version),
            clock: self.clock,
            user_agent,
            pinned_version,
            timeout: self.timeout,
            max_response_body: self.max_response_body,
            throttle: Throttle::new(self.adaptive_throttling),
            batch_concurrency: self.batch_concurrency,
        });
        Ok(Client::assemble(shared, self.retry))
    }
}

fn invalid(field: &'static str, reason: &str) -> Error {
    ConfigError::Invalid {
        field,
        reason: reason.to_owned(),
    }
    .into()
}

fn check_url(field: &'static str, url: &str) -> Result<String, Error> {
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| invalid(field, &format!("`{url}` is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid(field, &format!("`{url}` is not an http(s) URL")));
    }
    Ok(url.trim().trim_end_matches('/').to_owned())
}

/// Splits a scope list on spaces and commas.
pub(crate) fn split_scopes(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
