//! Builder and environment configuration.

use pearsana::{ApiVersion, Client, ClientBuilder, ConfigError, Environment, Error, spec};

#[test]
fn environments_come_from_the_spec_constants() {
    assert_eq!(Environment::Sandbox.api_url(), spec::SANDBOX.api_url);
    assert_eq!(
        Environment::Production.auth_url(),
        spec::PRODUCTION.auth_url
    );
    assert_eq!(Environment::Local.api_url(), "http://127.0.0.1:8787");
    assert_eq!(
        Environment::from_name("PRODUCTION"),
        Some(Environment::Production)
    );
    assert_eq!(Environment::from_name("staging"), None);
}

#[test]
fn from_env_names_the_missing_credentials() {
    let error = Client::from_env_vars([("PEARSANA_ENV", "sandbox")]).unwrap_err();
    match error {
        Error::Config(ConfigError::MissingEnv(vars)) => {
            assert_eq!(vars, ["PEARSANA_CLIENT_ID", "PEARSANA_CLIENT_SECRET"]);
        }
        other => panic!("expected MissingEnv, got {other:?}"),
    }
    let error = Client::from_env_vars([("PEARSANA_CLIENT_ID", "id")]).unwrap_err();
    assert!(error.to_string().contains("PEARSANA_CLIENT_SECRET"));
    assert!(!error.to_string().contains("PEARSANA_CLIENT_ID"));
}

#[test]
fn from_env_rejects_bad_values_naming_the_variable() {
    let error = ClientBuilder::from_env_vars([("PEARSANA_ENV", "staging")]).unwrap_err();
    assert!(error.to_string().contains("PEARSANA_ENV"), "{error}");
    let error = ClientBuilder::from_env_vars([("PEARSANA_API_VERSION", "2026/01/30")]).unwrap_err();
    assert!(
        error.to_string().contains("PEARSANA_API_VERSION"),
        "{error}"
    );
}

#[test]
fn from_env_reads_urls_scopes_and_version() {
    let client = Client::from_env_vars([
        ("PEARSANA_ENV", "local"),
        ("PEARSANA_API_URL", "http://127.0.0.1:9999/"),
        ("PEARSANA_CLIENT_ID", "sandbox-client"),
        ("PEARSANA_CLIENT_SECRET", "sandbox-secret"),
        ("PEARSANA_SCOPES", "pearsana-partner/ping,pearsana-partner/partners.users:write pearsana-partner/partners.documents:write"),
        ("PEARSANA_API_VERSION", "2026-01-30"),
        ("UNRELATED", "x"),
    ])
    .unwrap();
    assert_eq!(client.api_url(), "http://127.0.0.1:9999");
    assert_eq!(
        client.auth_url(),
        "http://127.0.0.1:8787",
        "the auth URL stays the environment's"
    );
    assert_eq!(
        client.api_version(),
        "2026-01-30".parse::<ApiVersion>().unwrap()
    );
    let builder = ClientBuilder::from_env_vars([("PEARSANA_SCOPES", "a, b  c")]).unwrap();
    assert_eq!(builder.current_scopes(), ["a", "b", "c"]);
}

#[test]
fn builder_rejects_invalid_settings_naming_them() {
    let bad_url = Client::builder()
        .environment(Environment::Custom {
            api_url: "not a url".into(),
            auth_url: "http://x".into(),
        })
        .build()
        .unwrap_err();
    assert!(bad_url.to_string().contains("api_url"), "{bad_url}");
    let empty_secret = Client::builder().credentials("id", "").build().unwrap_err();
    assert!(
        empty_secret.to_string().contains("client_secret"),
        "{empty_secret}"
    );
    let zero = Client::builder().batch_concurrency(0).build().unwrap_err();
    assert!(zero.to_string().contains("batch_concurrency"));
}

#[test]
fn client_is_cheap_to_clone_and_shareable() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Client>();
    let client = Client::builder()
        .environment(Environment::Local)
        .build()
        .unwrap();
    let clone = client.clone();
    assert_eq!(pearsana::testing::token_requests(&clone), 0);
    assert_eq!(clone.api_version().to_string(), spec::API_VERSION);
}

/// The Pearsana hosts are https-only, so the default build must speak TLS: the first bytes the
/// client sends to an `https://` URL are a TLS handshake record (0x16), not an HTTP request.
#[tokio::test]
async fn https_urls_are_spoken_to_with_tls_by_default() {
    use tokio::io::AsyncReadExt as _;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut first = [0u8; 1];
        socket.read_exact(&mut first).await.unwrap();
        first[0]
    });
    let client = Client::builder()
        .environment(Environment::Custom {
            api_url: url.clone(),
            auth_url: url,
        })
        .build()
        .unwrap();
    let result = client.health().await;
    assert!(
        result.is_err(),
        "no TLS server is listening, so the call fails"
    );
    assert_eq!(server.await.unwrap(), 0x16, "a TLS ClientHello was sent");
}
