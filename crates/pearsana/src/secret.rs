//! Secrets that must never be printed: the App Client's secret and the access tokens issued
//! for it.
//!
//! Both are newtypes whose `Debug` and `Display` write a fixed placeholder, so a secret cannot
//! reach a log line, an error message or a panic by accident. The only way to read the value is
//! the explicitly named [`ClientSecret::expose_secret`] / [`AccessToken::expose_secret`].

use std::fmt;
use std::sync::Arc;

/// What `Debug` and `Display` print in place of a secret.
pub(crate) const REDACTED: &str = "[redacted]";

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

/// The secrets a client holds: its client secret and its current and recent access tokens.
///
/// Text that came from a server (an error message, a body, a request id, a redirect target) is
/// passed through [`Redactor`] before the SDK keeps it in an error or a log line: a misbehaving
/// server or proxy that echoes the bearer header or the token request must not turn an error
/// report (or the CLI's failures CSV) into a credential leak.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: Vec<Arc<str>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor for these secrets (empty ones are ignored).
    pub(crate) fn new(secrets: impl IntoIterator<Item = Arc<str>>) -> Self {
        Self {
            secrets: secrets.into_iter().filter(|s| !s.is_empty()).collect(),
        }
    }

    /// `text` with every secret replaced by [`REDACTED`].
    pub(crate) fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        self.in_place(&mut out);
        out
    }

    /// Replaces every secret in `text` by [`REDACTED`].
    pub(crate) fn in_place(&self, text: &mut String) {
        for secret in &self.secrets {
            if text.contains(&**secret) {
                *text = text.replace(&**secret, REDACTED);
            }
        }
    }

    /// Like [`in_place`](Self::in_place), for an optional text.
    pub(crate) fn option(&self, text: &mut Option<String>) {
        if let Some(text) = text {
            self.in_place(text);
        }
    }

    /// `body` with every secret replaced by [`REDACTED`] (unchanged, without a copy, when it
    /// holds none).
    pub(crate) fn bytes(&self, body: bytes::Bytes) -> bytes::Bytes {
        let mut current = body;
        for secret in &self.secrets {
            let needle = secret.as_bytes();
            if find(&current, needle).is_none() {
                continue;
            }
            let mut out = Vec::with_capacity(current.len());
            let mut rest: &[u8] = &current;
            while let Some(at) = find(rest, needle) {
                out.extend_from_slice(&rest[..at]);
                out.extend_from_slice(REDACTED.as_bytes());
                rest = &rest[at + needle.len()..];
            }
            out.extend_from_slice(rest);
            current = bytes::Bytes::from(out);
        }
        current
    }
}

impl Redactor {
    /// Scrubs header values (a server may echo the bearer header in another one).
    pub(crate) fn headers(&self, headers: &mut reqwest::header::HeaderMap) {
        for value in headers.values_mut() {
            let Ok(text) = value.to_str() else { continue };
            let clean = self.text(text);
            if clean != text
                && let Ok(clean) = reqwest::header::HeaderValue::from_str(&clean)
            {
                *value = clean;
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl ClientSecret {
    pub(crate) fn shared(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }
}

impl AccessToken {
    pub(crate) fn shared(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_is_replaced_in_text_and_bytes() {
        let r = Redactor::new([Arc::from("tok-123"), Arc::from("s3cret"), Arc::from("")]);
        assert_eq!(
            r.text("Bearer tok-123 and s3cret, tok-123"),
            "Bearer [redacted] and [redacted], [redacted]"
        );
        let body = bytes::Bytes::from_static(b"{\"m\":\"tok-123\"}");
        assert_eq!(&r.bytes(body)[..], b"{\"m\":\"[redacted]\"}");
        let clean = bytes::Bytes::from_static(b"nothing here");
        assert_eq!(r.bytes(clean.clone()).as_ptr(), clean.as_ptr(), "no copy");
    }
}
