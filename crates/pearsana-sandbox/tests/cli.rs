//! The command line: flags map to the configuration, and the binary prints its address and
//! default client, serves, and exits cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::Parser;
use pearsana_api::spec::scopes;
use pearsana_sandbox::{DEFAULT_CLIENT_ID, SandboxArgs};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    sandbox: SandboxArgs,
}

#[test]
fn flags_map_to_the_configuration() {
    let cli = Cli::try_parse_from([
        "sandbox",
        "--listen",
        "127.0.0.1:0",
        "--client",
        &format!("ci:pw:{},{}", scopes::PING, scopes::PARTNERS_USERS_WRITE),
        "--token-ttl",
        "60",
        "--rate-limit",
        "5",
        "--fail-rate",
        "0.1",
        "--drop-rate",
        "0.05",
        "--latency",
        "20",
        "--seed",
        "9",
        "--organisation-id",
        "org_test",
    ])
    .unwrap();
    let config = cli.sandbox.to_config();
    assert_eq!(config.listen.port(), 0);
    assert_eq!(config.clients[0].id, DEFAULT_CLIENT_ID);
    assert_eq!(config.clients[1].id, "ci");
    assert_eq!(
        config.clients[1].scopes,
        [scopes::PING, scopes::PARTNERS_USERS_WRITE]
    );
    assert_eq!(config.token_ttl, Duration::from_secs(60));
    assert_eq!(config.faults.rate_limit, Some(5));
    assert_eq!(config.faults.fail_rate, 0.1);
    assert_eq!(config.faults.drop_rate, 0.05);
    assert_eq!(config.faults.latency, Duration::from_millis(20));
    assert_eq!(config.faults.seed, Some(9));
    assert_eq!(config.organisation_id, "org_test");

    let defaults = Cli::try_parse_from(["sandbox"])
        .unwrap()
        .sandbox
        .to_config();
    assert_eq!(defaults.listen.to_string(), "127.0.0.1:8787");
    assert_eq!(defaults.token_ttl, Duration::from_secs(3600));
    assert!(Cli::try_parse_from(["sandbox", "--client", "no-colons"]).is_err());
}

#[test]
fn the_binary_prints_its_address_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pearsana-sandbox"))
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("pearsana-sandbox listening on ")
        .unwrap()
        .to_string();
    let banner: Vec<String> = lines.by_ref().take(3).map(Result::unwrap).collect();
    assert!(
        banner
            .iter()
            .any(|l| l.contains("sandbox-client / sandbox-secret")),
        "{banner:?}"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = runtime.block_on(async {
        reqwest::get(format!("{url}/health"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}
