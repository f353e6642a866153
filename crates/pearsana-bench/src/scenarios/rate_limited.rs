//! Scenario 8: a bulk import against a rate-limited sandbox (issue 9, adaptive throttling).
//!
//! `pearsana-sandbox --rate-limit 200` refuses the 201st request of each one-second window
//! with `429` and `Retry-After`. A client that only reacts to refusals keeps sending requests
//! bound to fail; the SDK's adaptive throttle (on for CLI imports) paces the client after the
//! first `429`. Measured: the share of requests answered `429`, and the goodput (rows created
//! per second of import time) as a share of the limit.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, ensure};
use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Sandbox};
use serde::Deserialize;

use crate::report::{Section, Table, thousands};
use crate::{Bench, fixtures, rss};

/// Requests per second the sandbox allows.
const LIMIT: u32 = 200;
/// Concurrency of the import.
const CONCURRENCY: usize = 32;
/// Most requests that may be answered `429`.
const MAX_REFUSED_SHARE: f64 = 0.02;
/// Least goodput, as a share of the limit.
const MIN_GOODPUT_SHARE: f64 = 0.95;
/// Tag of the roster's emails and external ids.
const RUN: &str = "ratelimited";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportSummary {
    created: u64,
    existing: u64,
    failed: u64,
    elapsed_seconds: f64,
}

/// Runs the scenario.
pub async fn run(bench: &Bench) -> anyhow::Result<Section> {
    let rows = bench.sizes.rate_limited_rows;
    let roster = bench.scratch.join(format!("roster-ratelimited-{rows}.csv"));
    fixtures::write_roster(&roster, RUN, rows)?;
    let (summary, wall, refused, requests) = import(bench, &roster, rows).await?;

    let refused_share = refused as f64 / requests as f64;
    let goodput = rows as f64 / summary.elapsed_seconds;
    let goodput_share = goodput / f64::from(LIMIT);

    let mut table = Table::new(&[
        "rows",
        "concurrency",
        "limit (req/s)",
        "requests",
        "answered 429",
        "import time",
        "goodput (rows/s)",
        "goodput / limit",
    ]);
    table.row(vec![
        thousands(rows as f64),
        CONCURRENCY.to_string(),
        LIMIT.to_string(),
        thousands(requests as f64),
        format!("{refused} ({:.2} %)", refused_share * 100.0),
        format!("{:.2} s (process {:.2} s)", summary.elapsed_seconds, wall),
        thousands(goodput),
        format!("{goodput_share:.3}"),
    ]);
    let mut section = Section {
        title: "8. Rate-limited import".into(),
        method: format!(
            "A generated roster of {rows} users is imported by the release `pearsana` binary \
             (`users import -c {CONCURRENCY}`, no journal) against an in-process sandbox that \
             allows {LIMIT} API requests per second per App Client (fixed one-second windows, \
             `429` with `Retry-After` beyond that, like `pearsana-sandbox --rate-limit {LIMIT}`). \
             Requests are counted by the sandbox (created users plus `429` answers); goodput \
             is rows created per second of the CLI's own import time (its JSON summary), \
             as a share of the limit. One run."
        ),
        table,
        ..Default::default()
    };
    section.target(
        format!("{rows} rows at -c {CONCURRENCY}: requests answered 429"),
        &format!("≤ {:.0} %", MAX_REFUSED_SHARE * 100.0),
        format!("{:.2} %", refused_share * 100.0),
        refused_share <= MAX_REFUSED_SHARE,
    );
    section.target(
        format!("{rows} rows at -c {CONCURRENCY}: goodput / limit"),
        &format!("≥ {MIN_GOODPUT_SHARE}"),
        format!("{goodput_share:.3}"),
        goodput_share >= MIN_GOODPUT_SHARE,
    );
    section.notes.push(
        "The first window is always overshot: until the first `429` the client does not know \
         the limit, so every request in flight then is refused (at most the concurrency), and \
         the client holds its sends for the `Retry-After` the server asked (whole seconds). \
         The first estimate comes from less than a second of sending, so it is provisional: \
         after the hold the pace grows (10 % in the first second, doubling each second after) \
         until the next `429`, where the answers counted since the window reset give the \
         limit; the pace is then 98 % of it and probes upwards by 0.5 % per second, slowing to \
         0.05 % per second within 1 % of the limit, so it crosses it again only after about \
         20 seconds."
            .into(),
    );
    Ok(section)
}

async fn import(
    bench: &Bench,
    roster: &Path,
    rows: u64,
) -> anyhow::Result<(ImportSummary, f64, u64, u64)> {
    let sandbox = Sandbox::builder()
        .listen(std::net::SocketAddr::from((
            std::net::Ipv4Addr::LOCALHOST,
            0,
        )))
        .seed(7)
        .rate_limit(Some(LIMIT))
        .spawn()
        .await
        .context("starting the rate-limited sandbox")?;
    let url = sandbox.url();
    let mut command = Command::new(&bench.cli);
    command
        .args(["--env", "local", "--api-url", &url, "--auth-url", &url])
        .args(["--client-id", DEFAULT_CLIENT_ID, "--output", "json"])
        .args(["users", "import", "--concurrency", &CONCURRENCY.to_string()])
        .arg(roster)
        .env("PEARSANA_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
        .env_remove("RUST_LOG");
    let helper = bench.self_exe.clone();
    let run =
        tokio::task::spawn_blocking(move || rss::run_child_isolated(&helper, command)).await??;
    run.ensure_success("pearsana users import (rate limited)")?;
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
        summary.created + summary.existing == rows && summary.failed == 0,
        "import summary {summary:?} does not account for {rows} rows"
    );
    let stats = sandbox.stats();
    ensure!(
        stats.users_created == rows,
        "sandbox created {} users, not {rows}",
        stats.users_created
    );
    sandbox.shutdown().await;
    let requests = stats.users_created + stats.rate_limited;
    Ok((
        summary,
        run.wall.as_secs_f64(),
        stats.rate_limited,
        requests,
    ))
}
