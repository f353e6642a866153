//! Building the SDK client from the global flags (which clap has already merged with the
//! `PEARSANA_*` environment variables).

use pearsana::{ApiVersion, Client, ClientBuilder, Environment};

use crate::cli::{EnvName, GlobalArgs};

/// A setting that cannot be used; names the flag.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Only one of the two credential flags was given.
    #[error(
        "--client-id and --client-secret must be given together (or PEARSANA_CLIENT_ID and PEARSANA_CLIENT_SECRET)"
    )]
    HalfCredentials,
    /// `--api-version` is not a date.
    #[error("--api-version: {0:?} is not a YYYY-MM-DD date")]
    ApiVersion(String),
    /// The SDK rejected the configuration.
    #[error("{0}")]
    Sdk(#[from] pearsana::Error),
}

/// The deployment the flags select.
pub fn environment(global: &GlobalArgs) -> Environment {
    let named = match global.env.unwrap_or(EnvName::Sandbox) {
        EnvName::Sandbox => Environment::Sandbox,
        EnvName::Production => Environment::Production,
        EnvName::Local => Environment::Local,
    };
    match (&global.api_url, &global.auth_url) {
        (None, None) => named,
        (Some(api), auth) => Environment::Custom {
            api_url: api.trim_end_matches('/').to_string(),
            auth_url: auth
                .as_deref()
                .unwrap_or(api)
                .trim_end_matches('/')
                .to_string(),
        },
        (None, Some(auth)) => Environment::Custom {
            api_url: named.api_url().to_string(),
            auth_url: auth.trim_end_matches('/').to_string(),
        },
    }
}

/// The App Client that a local sandbox always has (`pearsana_sandbox::DEFAULT_CLIENT_ID`),
/// used for `--env local` without credentials. Spelled out here so a CLI built without the
/// `sandbox` feature still knows it; a test keeps it equal to the sandbox's.
pub const LOCAL_CLIENT_ID: &str = "sandbox-client";
/// The secret of [`LOCAL_CLIENT_ID`] (`pearsana_sandbox::DEFAULT_CLIENT_SECRET`).
pub const LOCAL_CLIENT_SECRET: &str = "sandbox-secret";

/// A client builder configured from the flags. With `--env local` and no credentials, the
/// local sandbox's default App Client is used.
pub fn builder(global: &GlobalArgs) -> Result<ClientBuilder, ConnectError> {
    let mut builder = Client::builder()
        .environment(environment(global))
        .user_agent(concat!("pearsana-cli/", env!("CARGO_PKG_VERSION")));
    match (&global.client_id, &global.client_secret) {
        (Some(id), Some(secret)) => builder = builder.credentials(id.clone(), secret.clone()),
        (None, None) if global.env == Some(EnvName::Local) => {
            builder = builder.credentials(LOCAL_CLIENT_ID, LOCAL_CLIENT_SECRET);
        }
        (None, None) => {}
        _ => return Err(ConnectError::HalfCredentials),
    }
    if let Some(scopes) = &global.scopes {
        let scopes: Vec<String> = scopes
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if !scopes.is_empty() {
            builder = builder.scopes(scopes);
        }
    }
    if let Some(version) = &global.api_version {
        let version: ApiVersion = version
            .parse()
            .map_err(|_| ConnectError::ApiVersion(version.clone()))?;
        builder = builder.api_version(version);
    }
    Ok(builder)
}

/// The client the flags describe.
pub fn client(global: &GlobalArgs) -> Result<Client, ConnectError> {
    Ok(builder(global)?.build()?)
}

#[cfg(all(test, feature = "sandbox"))]
mod local_credentials {
    #[test]
    fn local_defaults_are_the_sandboxes() {
        assert_eq!(super::LOCAL_CLIENT_ID, pearsana_sandbox::DEFAULT_CLIENT_ID);
        assert_eq!(
            super::LOCAL_CLIENT_SECRET,
            pearsana_sandbox::DEFAULT_CLIENT_SECRET
        );
    }
}
