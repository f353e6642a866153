//! Scenario 4: the sandbox server against Prism's mock server serving the same spec, both
//! driven by the same raw `reqwest` load generator at concurrency 64.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::load::{SideTotals, alternate};
use crate::raw_client::RawClient;
use crate::report::{Section, Table, ms, thousands};
use crate::stats::ratio;
use crate::{Bench, fixtures, raw_client, setup};

const CONCURRENCY: usize = 64;
/// The sandbox must serve at least this many times Prism's throughput.
const MIN_SPEEDUP: f64 = 10.0;
/// With `--data-dir` (a committed SQLite transaction per write), `create user` must still
/// serve at least this many times Prism's throughput.
const MIN_DATA_DIR_SPEEDUP: f64 = 5.0;
/// Prism checks only that a bearer token is present.
const PRISM_TOKEN: &str = "prism-accepts-any-bearer-token";

/// A server running as a child process on a loopback port, killed when dropped.
struct ServerProcess {
    child: Child,
    url: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    /// Starts `program args… <listen args for port>` and waits until `GET /health` answers.
    async fn start(
        name: &str,
        mut command: Command,
        listen: impl FnOnce(&mut Command, u16),
    ) -> anyhow::Result<Self> {
        let port = setup::free_port()?;
        listen(&mut command, port);
        let child = command
            .stdin(Stdio::null())
            // Both log to the console; nobody reads it here.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let mut server = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!("{name} exited during start-up with {status}");
            }
            if let Ok(response) = http.get(format!("{}/health", server.url)).send().await
                && response.status().is_success()
            {
                return Ok(server);
            }
            if Instant::now() > deadline {
                bail!("{name} did not answer /health within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Compares the sandbox (`a`) and Prism (`b`) on one operation.
async fn compare_on<F, Fut>(
    bench: &Bench,
    sandbox: &RawClient,
    prism: &RawClient,
    operation: F,
) -> anyhow::Result<(SideTotals, SideTotals)>
where
    F: Fn(RawClient, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let (op_a, op_b) = (operation.clone(), operation);
    let (sandbox, prism) = (sandbox.clone(), prism.clone());
    alternate(
        &bench.sizes,
        CONCURRENCY,
        ("sandbox", move |n| op_a(sandbox.clone(), n)),
        ("prism", move |n| op_b(prism.clone(), n)),
    )
    .await
}

/// Runs the scenario.
pub async fn run(bench: &Bench) -> anyhow::Result<Section> {
    let spec = bench.workspace.join("openapi/pearsana-partner.yaml");
    let mut prism_command = Command::new(&bench.prism);
    prism_command.args(["mock", "-h", "127.0.0.1"]).arg(&spec);
    let prism_server = ServerProcess::start("prism", prism_command, |c, port| {
        c.args(["-p", &port.to_string()]);
    })
    .await?;
    let mut sandbox_command = Command::new(&bench.cli);
    sandbox_command.arg("sandbox");
    let sandbox_server = ServerProcess::start("pearsana sandbox", sandbox_command, |c, port| {
        c.args(["--listen", &format!("127.0.0.1:{port}")]);
    })
    .await?;
    let data_dir = bench.scratch.join("sandbox-data-dir");
    let _ = std::fs::remove_dir_all(&data_dir);
    let mut persistent_command = Command::new(&bench.cli);
    persistent_command
        .arg("sandbox")
        .arg("--data-dir")
        .arg(&data_dir);
    let persistent_server = ServerProcess::start(
        "pearsana sandbox --data-dir",
        persistent_command,
        |c, port| {
            c.args(["--listen", &format!("127.0.0.1:{port}")]);
        },
    )
    .await?;
    let http = raw_client::http_client(CONCURRENCY)?;
    let sandbox = setup::raw_client(&sandbox_server.url, http.clone()).await?;
    let persistent = setup::raw_client(&persistent_server.url, http.clone()).await?;
    let prism = RawClient::new(http, &prism_server.url, PRISM_TOKEN)?;

    let mut table = Table::new(&[
        "operation",
        "server",
        "req/s (median)",
        "p50",
        "p99",
        "sandbox / Prism",
    ]);
    let mut section = Section {
        title: "4. Sandbox server".into(),
        method: format!(
            "The sandbox (`pearsana sandbox --listen 127.0.0.1:PORT`, release build) and Prism \
             {} (`prism mock -h 127.0.0.1 -p PORT openapi/pearsana-partner.yaml`, on Node) \
             serve the same spec, each as a child process with its console output discarded. One raw `reqwest` load generator (the baseline client of \
             scenario 1) drives both at concurrency {CONCURRENCY} with valid requests (bearer \
             token, `X-API-Version`, a realistic `create user` body with a fresh email each \
             time): {} ms warm-up each, then {} alternating rounds of {:.1} s per server.",
            prism_version(&bench.prism),
            bench.sizes.warmup.as_millis(),
            bench.sizes.rounds,
            bench.sizes.round.as_secs_f64(),
        ),
        ..Default::default()
    };

    let (sandbox_ping, prism_ping) =
        compare_on(bench, &sandbox, &prism, |client: RawClient, _| async move {
            client.ping().await.map(drop)
        })
        .await?;
    add_rows(&mut table, &mut section, "ping", sandbox_ping, prism_ping);

    let emails = Arc::new(AtomicU64::new(0));
    let create = move |client: RawClient, _| {
        let body = fixtures::user_request("s", emails.fetch_add(1, Ordering::Relaxed));
        async move { client.create_user(&body).await.map(drop) }
    };
    let (sandbox_create, prism_create) =
        compare_on(bench, &sandbox, &prism, create.clone()).await?;
    add_rows(
        &mut table,
        &mut section,
        "create user",
        sandbox_create,
        prism_create,
    );
    let (persistent_create, prism_create) = compare_on(bench, &persistent, &prism, create).await?;
    add_rows_with(
        &mut table,
        &mut section,
        "create user (sandbox --data-dir)",
        persistent_create,
        prism_create,
        MIN_DATA_DIR_SPEEDUP,
    );

    section.table = table;
    section.notes.push(
        "Both servers share the 2 cores with the load generator (this process), so the \
         faster server is partly limited by the client. Prism answers from the spec's examples without keeping \
         state; the sandbox validates every field, checks a signed JWT and scopes, and stores \
         the users it creates."
            .into(),
    );
    if section.targets.iter().any(|t| !t.met) {
        section.notes.push(
            "Why a ratio can fall short here: the measurement is bound by the 2 cores, not only \
             by the server. While Prism is measured, Node keeps one core busy and the load \
             generator has the other to itself; while the sandbox is measured, the generator \
             (building and serialising a realistic `create user` body per request) and the \
             sandbox (parsing, validating, storing) compete for both. The `create user` ratio \
             therefore moves with whatever else runs on the shared machine; a load generator on \
             a separate machine would show the servers' own difference."
                .into(),
        );
    }
    section.notes.push(
        "`create user (sandbox --data-dir)` runs a second sandbox with `--data-dir` (SQLite, WAL, \
         `synchronous=FULL`: every `201` waits for its committed transaction), measured against \
         Prism in its own alternating rounds."
            .into(),
    );
    drop((sandbox_server, persistent_server, prism_server));
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(section)
}

fn prism_version(prism: &Path) -> String {
    Command::new(prism)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "(version unknown)".into())
}

fn add_rows(
    table: &mut Table,
    section: &mut Section,
    operation: &str,
    sandbox: SideTotals,
    prism: SideTotals,
) {
    add_rows_with(table, section, operation, sandbox, prism, MIN_SPEEDUP);
}

fn add_rows_with(
    table: &mut Table,
    section: &mut Section,
    operation: &str,
    mut sandbox: SideTotals,
    mut prism: SideTotals,
    min_speedup: f64,
) {
    let (sandbox_rate, prism_rate) = (sandbox.median_throughput(), prism.median_throughput());
    let speedup = ratio(sandbox_rate, prism_rate);
    for (name, totals, rate) in [
        ("sandbox", &mut sandbox, sandbox_rate),
        ("Prism", &mut prism, prism_rate),
    ] {
        table.row(vec![
            operation.into(),
            name.into(),
            thousands(rate),
            ms(totals.latencies.percentile_ms(0.5)),
            ms(totals.latencies.percentile_ms(0.99)),
            if name == "sandbox" {
                format!("{speedup:.1}×")
            } else {
                String::new()
            },
        ]);
    }
    section.target(
        format!("{operation}, concurrency {CONCURRENCY}: sandbox / Prism throughput"),
        &format!("≥ {min_speedup:.0}×"),
        format!("{speedup:.1}×"),
        speedup >= min_speedup,
    );
}
