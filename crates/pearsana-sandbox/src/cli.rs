//! The command line, shared by the `pearsana-sandbox` binary and `pearsana sandbox`.

use std::net::SocketAddr;
use std::time::Duration;

use crate::config::{
    AppClient, DEFAULT_BODY_READ_TIMEOUT, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
    DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_LISTEN, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_INFLIGHT_BODY_BYTES, DEFAULT_ORGANISATION_ID, FaultConfig, Limits, SandboxConfig,
};
use crate::server::{RunningSandbox, SandboxBuilder};

/// Command-line flags of the sandbox; flatten into another `clap` command to reuse them.
#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// Adds an App Client, e.g. `ci:s3cret:pearsana-partner/ping` (full scope names,
    /// comma-separated). Repeatable. The default `sandbox-client` always exists.
    #[arg(long = "client", value_name = "ID:SECRET:SCOPE[,SCOPE...]")]
    pub clients: Vec<AppClient>,

    /// Lifetime of access tokens, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub token_ttl: u64,

    /// Requests per second allowed per App Client; over it the answer is 429 with Retry-After.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,

    /// Fraction (0 to 1) of API requests answered 500 before processing.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fail_rate: f64,

    /// Fraction (0 to 1) of API requests whose connection is closed without an answer, before
    /// processing.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub drop_rate: f64,

    /// Fraction (0 to 1) of API requests that are processed but whose answer is lost (the
    /// connection is closed instead), so the client cannot tell whether they took effect.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub lost_answer_rate: f64,

    /// Delay added to every API and token request, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency: u64,

    /// Seed of the fault sequence, for reproducible runs.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Organisation the App Clients belong to.
    #[arg(long, value_name = "ID", default_value = DEFAULT_ORGANISATION_ID)]
    pub organisation_id: String,

    /// Connections served at the same time; beyond it only `GET /health` is answered.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Seconds a client has to send a request's headers (also the keep-alive idle time).
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_HEADER_READ_TIMEOUT.as_secs())]
    pub header_timeout: u64,

    /// Seconds a client has to send a request's whole body.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_BODY_READ_TIMEOUT.as_secs())]
    pub body_timeout: u64,

    /// Keeps users, references, invitations and document metadata in DIR across restarts
    /// (an SQLite database; every acknowledged write is on disk before its answer).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,

    /// Mebibytes of request bodies held in memory at once, across all requests.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MAX_INFLIGHT_BODY_BYTES >> 20)]
    pub max_body_memory: usize,
}

impl SandboxArgs {
    /// The configuration these flags describe.
    pub fn to_config(&self) -> SandboxConfig {
        let mut clients = vec![AppClient::default_client()];
        clients.extend(self.clients.iter().cloned());
        SandboxConfig {
            listen: self.listen,
            clients,
            token_ttl: Duration::from_secs(self.token_ttl),
            faults: FaultConfig {
                fail_rate: self.fail_rate,
                drop_rate: self.drop_rate,
                lost_answer_rate: self.lost_answer_rate,
                latency: Duration::from_millis(self.latency),
                rate_limit: self.rate_limit,
                seed: self.seed,
            },
            organisation_id: self.organisation_id.clone(),
            limits: Limits {
                max_connections: self.max_connections,
                header_read_timeout: Duration::from_secs(self.header_timeout),
                body_read_timeout: Duration::from_secs(self.body_timeout),
                max_inflight_body_bytes: self.max_body_memory.saturating_mul(1 << 20),
            },
            data_dir: self.data_dir.clone(),
        }
    }
}

/// What the binary prints once it listens: address, token URL and the App Clients (the default
/// client's secret is public knowledge; secrets of added clients are not printed).
pub fn banner(sandbox: &RunningSandbox) -> String {
    let config = sandbox.config();
    let mut lines = vec![
        format!("pearsana-sandbox listening on {}", sandbox.url()),
        format!("  token endpoint: {}", sandbox.token_url()),
        format!("  organisation:   {}", config.organisation_id),
        format!(
            "  default client: {DEFAULT_CLIENT_ID} / {DEFAULT_CLIENT_SECRET} (all {} scopes)",
            pearsana_api::spec::scopes::ALL.len()
        ),
    ];
    for client in config.clients.iter().filter(|c| c.id != DEFAULT_CLIENT_ID) {
        lines.push(format!(
            "  client:         {} ({})",
            client.id,
            client.scopes.join(" ")
        ));
    }
    let f = &config.faults;
    if f.fail_rate > 0.0
        || f.drop_rate > 0.0
        || f.lost_answer_rate > 0.0
        || !f.latency.is_zero()
        || f.rate_limit.is_some()
    {
        lines.push(format!(
            "  faults:         fail {} drop {} lost answers {} latency {:?} rate limit {} seed {}",
            f.fail_rate,
            f.drop_rate,
            f.lost_answer_rate,
            f.latency,
            f.rate_limit.map_or("none".into(), |n| format!("{n}/s")),
            f.seed.map_or("random".into(), |s| s.to_string()),
        ));
    }
    if let Some(dir) = &config.data_dir {
        lines.push(format!("  data directory: {}", dir.display()));
    }
    lines.join("\n")
}

/// Runs a sandbox from command-line flags: prints the banner, serves until SIGINT or SIGTERM,
/// then shuts down cleanly.
pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let sandbox = SandboxBuilder::from_config(args.to_config())
        .spawn()
        .await?;
    println!("{}", banner(&sandbox));
    wait_for_signal().await?;
    eprintln!("pearsana-sandbox: shutting down");
    sandbox.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}
