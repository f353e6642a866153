//! A closed-loop load generator: `concurrency` workers each send one request after another
//! until a deadline, recording every latency.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::sizes::Sizes;
use crate::stats::{Latencies, median, quantile, ratio};

/// What one timed run produced.
#[derive(Debug, Default)]
pub struct RunResult {
    /// Requests that succeeded.
    pub completed: u64,
    /// Wall time of the whole run (until the last worker finished its last request).
    pub elapsed: Duration,
    /// Latency of each successful request.
    pub latencies: Vec<Duration>,
    /// Requests that failed.
    pub errors: u64,
    /// The first failure's message.
    pub first_error: Option<String>,
}

impl RunResult {
    /// Successful requests per second.
    pub fn throughput(&self) -> f64 {
        ratio(self.completed as f64, self.elapsed.as_secs_f64())
    }

    /// Fails (naming `what`) if any request failed: a benchmark of failing requests measures
    /// nothing useful.
    pub fn ensure_clean(&self, what: &str) -> anyhow::Result<()> {
        if self.errors > 0 {
            bail!(
                "{what}: {} of {} requests failed; first error: {}",
                self.errors,
                self.errors + self.completed,
                self.first_error.as_deref().unwrap_or("?")
            );
        }
        if self.completed == 0 {
            bail!("{what}: no request completed");
        }
        Ok(())
    }
}

/// Runs `operation(sequence_number)` from `concurrency` workers until `duration` has passed.
pub async fn run_for<F, Fut>(concurrency: usize, duration: Duration, operation: F) -> RunResult
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let operation = Arc::new(operation);
    let sequence = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let operation = Arc::clone(&operation);
            let sequence = Arc::clone(&sequence);
            tokio::spawn(async move {
                let mut latencies = Vec::with_capacity(1024);
                let (mut errors, mut first_error) = (0u64, None);
                while Instant::now() < deadline {
                    let n = sequence.fetch_add(1, Ordering::Relaxed);
                    let sent = Instant::now();
                    match operation(n).await {
                        Ok(()) => latencies.push(sent.elapsed()),
                        Err(error) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| format!("{error:#}"));
                        }
                    }
                }
                (latencies, errors, first_error)
            })
        })
        .collect();
    let mut result = RunResult::default();
    for worker in workers {
        match worker.await {
            Ok((latencies, errors, first_error)) => {
                result.completed += latencies.len() as u64;
                result.latencies.extend(latencies);
                result.errors += errors;
                if result.first_error.is_none() {
                    result.first_error = first_error;
                }
            }
            Err(join_error) => {
                result.errors += 1;
                result
                    .first_error
                    .get_or_insert_with(|| join_error.to_string());
            }
        }
    }
    result.elapsed = started.elapsed();
    result
}

/// Per-side totals over the alternating rounds of an A/B comparison.
#[derive(Debug, Default)]
pub struct SideTotals {
    /// Throughput of each round, requests per second.
    pub round_throughputs: Vec<f64>,
    /// p99 latency of each round, milliseconds.
    pub round_p99s_ms: Vec<f64>,
    /// Every latency of every round.
    pub latencies: Latencies,
}

impl SideTotals {
    /// Adds one round.
    pub fn add(&mut self, mut run: RunResult) {
        self.round_throughputs.push(run.throughput());
        run.latencies.sort_unstable();
        self.round_p99s_ms
            .push(quantile(&run.latencies, 0.99).map_or(0.0, |d| d.as_secs_f64() * 1e3));
        self.latencies.extend(run.latencies);
    }

    /// Median throughput over the rounds.
    pub fn median_throughput(&self) -> f64 {
        crate::stats::median(&self.round_throughputs)
    }
}

/// The median over rounds of `a[i] / b[i]`: each side's value in round `i` divided by the
/// other side's value in the same round. [`alternate`] runs round `i` of both sides back to
/// back, so a slow stretch of the shared machine that spans a round pair cancels in that pair's
/// ratio, and one disturbed pair moves the median by one place rather than skewing a pooled
/// figure. Pairs beyond the shorter side are ignored.
pub fn paired_ratio(a: &[f64], b: &[f64]) -> f64 {
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| ratio(*x, *y)).collect();
    median(&ratios)
}

/// Runs two sides of a comparison at the same concurrency: a warm-up of each, then
/// `sizes.rounds` rounds of each, alternating which side goes first. Fails if any request of
/// either side fails.
pub async fn alternate<FA, FutA, FB, FutB>(
    sizes: &Sizes,
    concurrency: usize,
    (name_a, side_a): (&str, FA),
    (name_b, side_b): (&str, FB),
) -> anyhow::Result<(SideTotals, SideTotals)>
where
    FA: Fn(u64) -> FutA + Clone + Send + Sync + 'static,
    FutA: Future<Output = anyhow::Result<()>> + Send + 'static,
    FB: Fn(u64) -> FutB + Clone + Send + Sync + 'static,
    FutB: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    run_for(concurrency, sizes.warmup, side_a.clone())
        .await
        .ensure_clean(name_a)?;
    run_for(concurrency, sizes.warmup, side_b.clone())
        .await
        .ensure_clean(name_b)?;
    let (mut totals_a, mut totals_b) = (SideTotals::default(), SideTotals::default());
    for round in 0..sizes.rounds {
        for a_turn in [round % 2 == 0, round % 2 == 1] {
            if a_turn {
                let run = run_for(concurrency, sizes.round, side_a.clone()).await;
                run.ensure_clean(name_a)?;
                totals_a.add(run);
            } else {
                let run = run_for(concurrency, sizes.round, side_b.clone()).await;
                run.ensure_clean(name_b)?;
                totals_b.add(run);
            }
        }
    }
    Ok((totals_a, totals_b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_until_the_deadline_and_counts() {
        let result = run_for(4, Duration::from_millis(100), |_| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(())
        })
        .await;
        result.ensure_clean("sleepers").unwrap();
        // 4 workers × ~10 requests each; allow for a slow, shared machine.
        assert!((8..=44).contains(&result.completed), "{}", result.completed);
        assert!(
            result
                .latencies
                .iter()
                .all(|l| *l >= Duration::from_millis(10))
        );
        assert!(result.elapsed >= Duration::from_millis(100));
    }

    #[test]
    fn paired_ratios_cancel_a_slow_stretch_that_ratios_of_medians_do_not() {
        // The machine slows down for rounds 1 and 2; side b's second round falls outside it.
        let (a, b) = ([100.0, 60.0, 60.0], [100.0, 100.0, 60.0]);
        assert_eq!(paired_ratio(&a, &b), 1.0);
        assert!((ratio(median(&a), median(&b)) - 0.6).abs() < 1e-9);
        // A real difference shows in every pair and therefore in the median.
        assert!((paired_ratio(&[90.0, 45.0, 90.0], &[100.0, 50.0, 100.0]) - 0.9).abs() < 1e-9);
        assert_eq!(paired_ratio(&[], &[]), 0.0);
    }

    #[test]
    fn each_round_keeps_its_own_p99() {
        let mut totals = SideTotals::default();
        for slow in [1u64, 5] {
            totals.add(RunResult {
                completed: 100,
                elapsed: Duration::from_secs(1),
                latencies: (0..100)
                    .map(|i| Duration::from_millis(if i == 99 { 50 } else { slow }))
                    .collect(),
                ..Default::default()
            });
        }
        assert_eq!(totals.round_p99s_ms, vec![1.0, 5.0]);
        assert_eq!(totals.round_throughputs, vec![100.0, 100.0]);
        assert_eq!(totals.latencies.percentile_ms(1.0), 50.0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn failures_are_counted_and_reported() {
        let result = run_for(2, Duration::from_millis(20), |n| async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            if n % 2 == 0 {
                Ok(())
            } else {
                anyhow::bail!("odd request {n}")
            }
        })
        .await;
        assert!(result.errors > 0);
        let error = result.ensure_clean("alternating").unwrap_err().to_string();
        assert!(error.contains("odd request"), "{error}");
    }
}
