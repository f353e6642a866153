//! OAuth 2.0 for the sandbox: signed access tokens, the token endpoint and the bearer guard.

pub mod guard;
pub mod jwt;
pub mod token_endpoint;
