//! Starting the things a scenario measures: the in-process sandbox and the two clients.

use std::net::{Ipv4Addr, SocketAddr};

use anyhow::Context;
use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningSandbox, Sandbox};

use crate::raw_client::RawClient;

/// A sandbox on a free loopback port, with the default App Client and no faults.
pub async fn sandbox() -> anyhow::Result<RunningSandbox> {
    Sandbox::builder()
        .listen(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .seed(6)
        .spawn()
        .await
        .context("starting the in-process sandbox")
}

/// The SDK client for `url` (API and token host), sending through `http`.
pub fn sdk_client(url: &str, http: reqwest::Client) -> anyhow::Result<pearsana::Client> {
    pearsana::Client::builder()
        .environment(pearsana::Environment::Custom {
            api_url: url.into(),
            auth_url: url.into(),
        })
        .credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .http_client(http)
        .build()
        .context("building the SDK client")
}

/// The raw baseline client for `url`, with a token already fetched.
pub async fn raw_client(url: &str, http: reqwest::Client) -> anyhow::Result<RawClient> {
    RawClient::connect(http, url, url, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET).await
}

/// A free loopback TCP port (bound and released; fine for a child that binds it at once).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}
