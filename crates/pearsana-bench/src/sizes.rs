//! How big each scenario runs: the full sizes from issue 6, or tiny ones for the smoke run.

use std::time::Duration;

/// Sizes and repetition counts of every scenario.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// Whether these are the smoke sizes.
    pub smoke: bool,
    /// Alternating rounds per side in request-rate comparisons (scenarios 1 and 4).
    pub rounds: usize,
    /// Length of one round of a request-rate comparison.
    pub round: Duration,
    /// Warm-up before the rounds of each comparison, per side.
    pub warmup: Duration,
    /// Tasks calling at once in the token stampede.
    pub stampede_tasks: usize,
    /// Cold/warm round pairs of the stampede.
    pub stampede_rounds: usize,
    /// Rows of the generated roster.
    pub import_rows: u64,
    /// Rows of the rate-limited import (scenario 8).
    pub rate_limited_rows: u64,
    /// Alternating CLI/baseline rounds of the import.
    pub import_rounds: usize,
    /// Documents in the large batch.
    pub document_count: usize,
    /// Size of each document, bytes.
    pub document_bytes: usize,
    /// Child runs per side of the large-batch scenario.
    pub document_rounds: usize,
    /// Timed `cargo xtask codegen --check` runs.
    pub codegen_rounds: usize,
    /// Clean builds of each crate (0 in smoke runs).
    pub clean_build_rounds: usize,
    /// Rebuilds of each crate alone.
    pub crate_only_rounds: usize,
}

impl Sizes {
    /// The sizes issue 6 asks for.
    pub fn full() -> Self {
        Self {
            smoke: false,
            // Many short rounds: a stall from elsewhere on the shared machine then moves one
            // round, not the median.
            rounds: 10,
            round: Duration::from_secs(1),
            warmup: Duration::from_millis(500),
            stampede_tasks: 1000,
            stampede_rounds: 7,
            import_rows: 10_000,
            rate_limited_rows: 3_000,
            import_rounds: 3,
            document_count: 25,
            document_bytes: 4 * 1024 * 1024,
            document_rounds: 3,
            codegen_rounds: 3,
            clean_build_rounds: 2,
            crate_only_rounds: 3,
        }
    }

    /// Tiny sizes that exercise every code path quickly.
    pub fn smoke() -> Self {
        Self {
            smoke: true,
            rounds: 1,
            round: Duration::from_millis(200),
            warmup: Duration::from_millis(50),
            stampede_tasks: 100,
            stampede_rounds: 1,
            import_rows: 200,
            rate_limited_rows: 300,
            import_rounds: 1,
            document_count: 3,
            document_bytes: 64 * 1024,
            document_rounds: 1,
            codegen_rounds: 1,
            clean_build_rounds: 0,
            crate_only_rounds: 1,
        }
    }
}
