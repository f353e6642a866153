//! What a sandbox is configured with: App Clients, token lifetime, faults, organisation.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use pearsana_api::spec::scopes;

/// Client id of the App Client every sandbox has.
pub const DEFAULT_CLIENT_ID: &str = "sandbox-client";
/// Client secret of the App Client every sandbox has.
pub const DEFAULT_CLIENT_SECRET: &str = "sandbox-secret";
/// Organisation the sandbox's App Clients belong to unless configured otherwise.
pub const DEFAULT_ORGANISATION_ID: &str = "org_sandbox";
/// Address the binary listens on by default.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// Lifetime of issued access tokens unless configured otherwise.
pub const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// A client secret; never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// Compares with a presented secret without stopping at the first differing byte.
    pub fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        let mut diff = a.len() ^ b.len();
        for (i, x) in a.iter().enumerate() {
            diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
        }
        diff == 0
    }

    /// The secret itself, for printing the default client on startup.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(<redacted>)")
    }
}

/// One App Client the token endpoint knows.
#[derive(Debug, Clone)]
pub struct AppClient {
    /// Client id.
    pub id: String,
    /// Client secret.
    pub secret: ClientSecret,
    /// Full scope names granted to the client.
    pub scopes: Vec<String>,
}

impl AppClient {
    /// The default `sandbox-client` with every scope.
    pub fn default_client() -> Self {
        Self {
            id: DEFAULT_CLIENT_ID.into(),
            secret: ClientSecret::new(DEFAULT_CLIENT_SECRET),
            scopes: scopes::ALL.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Error in a configuration value.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    /// A `--client` value is not `ID:SECRET:SCOPE[,SCOPE...]`.
    #[error("--client must look like ID:SECRET:SCOPE[,SCOPE...]: {0}")]
    ClientFormat(String),
    /// A scope name the API does not define.
    #[error("unknown scope `{scope}` for client `{client}` (known: {known})")]
    UnknownScope {
        /// The client.
        client: String,
        /// The scope.
        scope: String,
        /// The known scope names.
        known: String,
    },
    /// A fraction outside 0..=1.
    #[error("{name} must be between 0 and 1, got {value}")]
    Fraction {
        /// Option name.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The same client id twice.
    #[error("client `{0}` is defined twice")]
    DuplicateClient(String),
    /// A rate limit of zero.
    #[error("rate limit must be at least 1 request per second")]
    ZeroRateLimit,
    /// A token lifetime under one second.
    #[error("token lifetime must be at least one second")]
    TokenTtl,
    /// A limit of zero.
    #[error("{0} must be greater than zero")]
    ZeroLimit(&'static str),
}

impl std::str::FromStr for AppClient {
    type Err = ConfigError;

    /// Parses `ID:SECRET:SCOPE[,SCOPE...]` with full scope names (which contain `:` themselves,
    /// so only the first two colons separate).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let mut parts = value.splitn(3, ':');
        let (Some(id), Some(secret), Some(scope_list)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(ConfigError::ClientFormat(
                "expected two `:` separators".into(),
            ));
        };
        if id.is_empty() || secret.is_empty() {
            return Err(ConfigError::ClientFormat(
                "id and secret must not be empty".into(),
            ));
        }
        let mut granted = Vec::new();
        for scope in scope_list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if !scopes::ALL.contains(&scope) {
                return Err(ConfigError::UnknownScope {
                    client: id.into(),
                    scope: scope.into(),
                    known: scopes::ALL.join(", "),
                });
            }
            if !granted.iter().any(|g| g == scope) {
                granted.push(scope.to_string());
            }
        }
        if granted.is_empty() {
            return Err(ConfigError::ClientFormat(format!(
                "client `{id}` needs at least one scope"
            )));
        }
        Ok(Self {
            id: id.into(),
            secret: ClientSecret::new(secret),
            scopes: granted,
        })
    }
}

/// Fault injection and pacing for API requests.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// Fraction of API requests answered `500` before processing.
    pub fail_rate: f64,
    /// Fraction of API requests whose connection is closed without an answer, before processing.
    pub drop_rate: f64,
    /// Fraction of API requests that are processed and whose answer is then lost (the
    /// connection is closed instead): the ambiguous failure a client must resolve itself.
    pub lost_answer_rate: f64,
    /// Delay added before each API request and token request.
    pub latency: Duration,
    /// Requests per second allowed per App Client; `None` is unlimited.
    pub rate_limit: Option<u32>,
    /// Seed of the fault sequence; `None` picks one at random.
    pub seed: Option<u64>,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            fail_rate: 0.0,
            drop_rate: 0.0,
            lost_answer_rate: 0.0,
            latency: Duration::ZERO,
            rate_limit: None,
            seed: None,
        }
    }
}

/// Bounds that keep a sandbox answering under hostile or broken clients.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Connections served normally at the same time. Connections beyond it are still accepted
    /// (up to the same number again) so that `GET /health` keeps answering; everything else on
    /// them is answered `503` and the connection is closed.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (and the idle time allowed between
    /// requests on a kept-alive connection).
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's whole body.
    pub body_read_timeout: Duration,
    /// Bytes of request bodies held in memory at the same time, across all requests. A body
    /// that cannot get room within the body read timeout is answered `503`.
    pub max_inflight_body_bytes: usize,
}

/// Default of [`Limits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default of [`Limits::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`Limits::body_read_timeout`].
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Default of [`Limits::max_inflight_body_bytes`]: room for one full batch plus change.
pub const DEFAULT_MAX_INFLIGHT_BODY_BYTES: usize = 512 << 20;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_inflight_body_bytes: DEFAULT_MAX_INFLIGHT_BODY_BYTES,
        }
    }
}

/// Everything a sandbox is started with.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// App Clients, the default one first.
    pub clients: Vec<AppClient>,
    /// Lifetime of access tokens.
    pub token_ttl: Duration,
    /// Faults and pacing.
    pub faults: FaultConfig,
    /// Organisation of every App Client.
    pub organisation_id: String,
    /// Connection, timeout and memory bounds.
    pub limits: Limits,
    /// Where state is kept across restarts; `None` keeps it in memory only.
    pub data_dir: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            clients: vec![AppClient::default_client()],
            token_ttl: DEFAULT_TOKEN_TTL,
            faults: FaultConfig::default(),
            organisation_id: DEFAULT_ORGANISATION_ID.into(),
            limits: Limits::default(),
            data_dir: None,
        }
    }
}

impl SandboxConfig {
    /// Checks values that types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("fail rate", self.faults.fail_rate),
            ("drop rate", self.faults.drop_rate),
            ("lost answer rate", self.faults.lost_answer_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ConfigError::Fraction { name, value });
            }
        }
        if self.faults.rate_limit == Some(0) {
            return Err(ConfigError::ZeroRateLimit);
        }
        if self.token_ttl.as_secs() < 1 {
            return Err(ConfigError::TokenTtl);
        }
        let limits = &self.limits;
        for (name, zero) in [
            ("max connections", limits.max_connections == 0),
            ("header read timeout", limits.header_read_timeout.is_zero()),
            ("body read timeout", limits.body_read_timeout.is_zero()),
            (
                "max in-flight body bytes",
                limits.max_inflight_body_bytes == 0,
            ),
        ] {
            if zero {
                return Err(ConfigError::ZeroLimit(name));
            }
        }
        for (i, client) in self.clients.iter().enumerate() {
            if self.clients[..i].iter().any(|c| c.id == client.id) {
                return Err(ConfigError::DuplicateClient(client.id.clone()));
            }
            if client.scopes.is_empty() {
                return Err(ConfigError::ClientFormat(format!(
                    "client `{}` needs at least one scope",
                    client.id
                )));
            }
            if let Some(scope) = client
                .scopes
                .iter()
                .find(|s| !scopes::ALL.contains(&s.as_str()))
            {
                return Err(ConfigError::UnknownScope {
                    client: client.id.clone(),
                    scope: scope.clone(),
                    known: scopes::ALL.join(", "),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_flag_keeps_colons_inside_scope_names() {
        let client: AppClient = format!("ci:pw:{},{}", scopes::PING, scopes::PARTNERS_USERS_WRITE)
            .parse()
            .unwrap();
        assert_eq!(client.id, "ci");
        assert!(client.secret.matches("pw"));
        assert_eq!(client.scopes, [scopes::PING, scopes::PARTNERS_USERS_WRITE]);
    }

    #[test]
    fn client_flag_rejects_unknown_scopes_and_bad_shapes() {
        assert!(matches!(
            "ci:pw:pearsana-partner/nope".parse::<AppClient>(),
            Err(ConfigError::UnknownScope { .. })
        ));
        assert!("ci:pw".parse::<AppClient>().is_err());
        assert!("ci:pw:".parse::<AppClient>().is_err());
    }

    #[test]
    fn secrets_are_not_printed() {
        let client = AppClient::default_client();
        assert!(!format!("{client:?}").contains(DEFAULT_CLIENT_SECRET));
        assert!(!client.secret.matches("sandbox-secreT"));
        assert!(!client.secret.matches("sandbox-secret2"));
    }
}
