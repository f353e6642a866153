//! Scenario 2: many tasks call at once on a cold token cache; exactly one token request may be
//! made. Compared with the same stampede on a warm cache.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};

use crate::report::{Section, Table, ms};
use crate::stats::{median, ratio};
use crate::{Bench, raw_client, setup};

/// Starts `tasks` pings at once through `client` and waits for all; returns the wall time.
async fn stampede(client: &pearsana::Client, tasks: usize) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.ping().await })
        })
        .collect();
    for handle in handles {
        handle
            .await
            .context("ping task panicked")?
            .context("ping during the stampede")?;
    }
    Ok(started.elapsed())
}

/// Runs the scenario.
pub async fn run(bench: &Bench) -> anyhow::Result<Section> {
    let tasks = bench.sizes.stampede_tasks;
    let sandbox = setup::sandbox().await?;
    let url = sandbox.url();
    // One connection pool for every client, opened before timing: a cold and a warm stampede
    // then differ only in the token cache.
    let http = raw_client::http_client(tasks)?;
    let warmer = setup::sdk_client(&url, http.clone())?;
    stampede(&warmer, tasks).await?;

    let (mut cold, mut warm, mut token_counts) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..bench.sizes.stampede_rounds {
        let client = setup::sdk_client(&url, http.clone())?;
        let before = sandbox.stats().token_requests;
        cold.push(stampede(&client, tasks).await?.as_secs_f64() * 1e3);
        let cold_tokens = sandbox.stats().token_requests - before;
        ensure!(
            pearsana::testing::token_requests(&client) == 1 && cold_tokens == 1,
            "a cold stampede of {tasks} tasks made {} token requests (sandbox counted \
             {cold_tokens}); expected exactly 1",
            pearsana::testing::token_requests(&client)
        );
        token_counts.push(cold_tokens);

        let before = sandbox.stats().token_requests;
        warm.push(stampede(&client, tasks).await?.as_secs_f64() * 1e3);
        let warm_tokens = sandbox.stats().token_requests - before;
        ensure!(
            warm_tokens == 0,
            "a warm stampede made {warm_tokens} token requests"
        );
    }
    sandbox.shutdown().await;

    let (cold_ms, warm_ms) = (median(&cold), median(&warm));
    let exactly_one = token_counts.iter().all(|&n| n == 1);
    let mut table = Table::new(&[
        "token cache",
        "tasks",
        "rounds",
        "time until all complete (median)",
        "fastest",
        "slowest",
        "token requests per stampede",
    ]);
    let spread = |values: &[f64]| {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(0.0, f64::max);
        (ms(min), ms(max))
    };
    let (cold_min, cold_max) = spread(&cold);
    let (warm_min, warm_max) = spread(&warm);
    table.row(vec![
        "cold".into(),
        tasks.to_string(),
        cold.len().to_string(),
        ms(cold_ms),
        cold_min,
        cold_max,
        format!("{token_counts:?}"),
    ]);
    table.row(vec![
        "warm".into(),
        tasks.to_string(),
        warm.len().to_string(),
        ms(warm_ms),
        warm_min,
        warm_max,
        "0 every round".into(),
    ]);
    let mut section = Section {
        title: "2. Token path under a stampede".into(),
        method: format!(
            "Each round builds a new `pearsana::Client` (empty token cache) and starts {tasks} \
             `ping` tasks at once, then repeats the stampede with the now warm client. All \
             clients share one connection pool opened beforehand, so cold and warm differ only \
             in the token cache. Token requests are counted twice: by the SDK \
             (`pearsana::testing::token_requests`) and by the sandbox (`stats().token_requests`); the run \
             fails unless both are exactly 1 for every cold stampede and 0 for every warm one."
        ),
        table,
        ..Default::default()
    };
    section.target(
        format!("{tasks} tasks on a cold cache: token requests"),
        "exactly 1",
        format!("{token_counts:?} over {} rounds", token_counts.len()),
        exactly_one,
    );
    section.notes.push(format!(
        "Median cold / warm: {:.2}× ({:+.2} ms). A cold stampede adds one token round trip \
         (the sandbox signs a JWT) that every task waits for; next to {tasks} pings it is \
         small, so the difference can fall inside the round-to-round spread shown above.",
        ratio(cold_ms, warm_ms),
        cold_ms - warm_ms
    ));
    Ok(section)
}
