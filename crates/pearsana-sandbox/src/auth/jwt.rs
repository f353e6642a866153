//! Access tokens: HS256 JWTs signed with a key made up when the sandbox starts, so tokens of
//! another sandbox process (or any forged token) fail verification.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Issuer written into every token.
pub const ISSUER: &str = "pearsana-sandbox";

/// The claims of a sandbox access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Issuer ([`ISSUER`]).
    pub iss: String,
    /// Subject: the App Client.
    pub sub: String,
    /// The App Client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space-separated as in OAuth 2.0.
    pub scope: String,
    /// The organisation the App Client belongs to.
    pub org_id: String,
    /// Issued at (seconds since the Unix epoch).
    pub iat: u64,
    /// Expires at (seconds since the Unix epoch).
    pub exp: u64,
    /// Unique token id.
    pub jti: String,
}

impl Claims {
    /// The scopes as a list.
    pub fn scopes(&self) -> Vec<String> {
        self.scope.split_whitespace().map(str::to_string).collect()
    }
}

/// Signs and verifies access tokens with one per-process key.
pub struct TokenSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenSigner(<key redacted>)")
    }
}

impl Default for TokenSigner {
    fn default() -> Self {
        Self::new()
    }
}

impl TokenSigner {
    /// A signer with a fresh random 256-bit key.
    pub fn new() -> Self {
        // Choose the pure-Rust backend explicitly, so that feature unification with another
        // crate enabling a second backend cannot leave jsonwebtoken without a default.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
        }
    }

    /// Issues a token; returns it with its claims.
    pub fn issue(
        &self,
        client_id: &str,
        scopes: &[String],
        organisation_id: &str,
        ttl: Duration,
    ) -> Result<(String, Claims), jsonwebtoken::errors::Error> {
        let now = now_secs();
        let claims = Claims {
            iss: ISSUER.into(),
            sub: client_id.into(),
            client_id: client_id.into(),
            scope: scopes.join(" "),
            org_id: organisation_id.into(),
            iat: now,
            exp: now + ttl.as_secs(),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, claims))
    }

    /// Verifies signature, issuer and expiry; `None` for any token that fails.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
            .filter(|claims| claims.exp > now_secs())
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_their_own_key() {
        let signer = TokenSigner::new();
        let scopes = vec!["pearsana-partner/ping".to_string()];
        let (token, claims) = signer
            .issue("c", &scopes, "org", Duration::from_secs(60))
            .unwrap();
        assert_eq!(signer.verify(&token), Some(claims.clone()));
        assert_eq!(claims.scopes(), scopes);
        assert_eq!(TokenSigner::new().verify(&token), None);
        assert_eq!(signer.verify("not.a.jwt"), None);
    }

    #[test]
    fn expired_tokens_are_refused() {
        let signer = TokenSigner::new();
        let (token, _) = signer.issue("c", &[], "org", Duration::ZERO).unwrap();
        assert_eq!(signer.verify(&token), None);
    }
}
