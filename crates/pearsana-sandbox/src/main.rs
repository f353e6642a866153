//! `pearsana-sandbox`: a local Pearsana Partner API server.

use clap::Parser;
use pearsana_sandbox::SandboxArgs;

/// A local Pearsana Partner API for offline development and tests.
#[derive(Debug, Parser)]
#[command(name = "pearsana-sandbox", version, about)]
struct Cli {
    #[command(flatten)]
    sandbox: SandboxArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PEARSANA_SANDBOX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("pearsana_sandbox=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    pearsana_sandbox::run(Cli::parse().sandbox).await
}
