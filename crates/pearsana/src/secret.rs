//! Secrets that must never be printed: the App Client's secret and the access tokens issued
//! for it.
//!
//! Both are newtypes whose `Debug` and `Display` write a fixed placeholder, so a secret cannot
//! reach a log line, an error message or a panic by accident. The only way to read the value is
//! the explicitly named [`ClientSecret::expose_secret`] / [`AccessToken::expose_secret`].

use std::fmt;
use std::sync::Arc;

/// What `Debug` and `Display` print in place of a secret.
pub const REDACTED: &str = "[redacted]";

/// The App Client's secret, as issued in the Pearsana organisation portal.
///
/// ```
/// use pearsana::ClientSecret;
///
/// let secret = ClientSecret::from("s3cr3t");
/// assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
/// assert_eq!(secret.to_string(), "[redacted]");
/// assert_eq!(secret.expose_secret(), "s3cr3t");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ClientSecret(Arc<str>);

impl ClientSecret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(Arc::from(secret.into()))
    }

    /// The secret itself. Only the token request should need it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether the secret is empty (an empty secret is rejected when the client is built).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for ClientSecret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for ClientSecret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientSecret({REDACTED})")
    }
}

impl fmt::Display for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// A bearer access token from the token endpoint.
///
/// ```
/// use pearsana::AccessToken;
///
/// let token = AccessToken::new("eyJhbGciOi...");
/// assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
/// assert_eq!(token.to_string(), "[redacted]");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(Arc<str>);

impl AccessToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Self(Arc::from(token.into()))
    }

    /// The token itself, for an `Authorization: Bearer` header.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccessToken({REDACTED})")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Replaces every occurrence of `secret` in `text` by [`REDACTED`]; used on text that comes
/// back from the token endpoint before it is kept in an error.
pub(crate) fn scrub(text: &str, secret: &ClientSecret) -> String {
    if secret.is_empty() {
        return text.to_owned();
    }
    text.replace(secret.expose_secret(), REDACTED)
}
