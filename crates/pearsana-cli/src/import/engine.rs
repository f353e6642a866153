//! Sending the rows of a plan: bounded concurrency, journal, progress, interruption.
//!
//! Rows are grouped into units of [`Submitter::batch_size`] (one row per request for users and
//! invitations, up to `BATCH_MAX_ITEMS` for documents). At most `concurrency` units are in
//! flight. When the cancellation token fires (Ctrl-C) no new unit starts; units in flight
//! finish and their outcomes are journalled before [`run`] returns. A failure that would make
//! every later row fail too (rejected credentials, a missing scope) stops the run the same way.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::journal::{Entry, Event, Journal, JournalError, JournalState};
use super::plan::{Plan, ValidRow};
use super::progress::Progress;
use super::report::{FailedRow, IN_DOUBT, INVALID_ROW, Summary};

/// Added to the message of a row that may have been processed although its request failed.
const AMBIGUOUS_NOTE: &str = "the server may have acted on it; the row is kept in doubt: check, then rerun \
                              with --resend-in-doubt to send it again";

/// What happened to one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The server created it; the new resource's id.
    Created(String),
    /// It already existed; the existing resource's id.
    Existing(String),
    /// It failed.
    Failed(Failure),
}

/// Why a row failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// API error code (`CONFLICT`), or a client-side code (`NETWORK`, `TOKEN`).
    pub code: String,
    /// Human-readable reason, without secrets.
    pub message: String,
    /// Whether every later row would fail the same way (bad credentials, missing scope).
    pub stops_import: bool,
    /// Whether the server may have acted on the request anyway (a `500`, a lost
    /// connection). For kinds where resending is unsafe such a row stays in doubt.
    pub ambiguous: bool,
}

/// Sends rows to the API.
pub trait Submitter: Send + Sync + 'static {
    /// The validated row type.
    type Value: Send + Sync + 'static;

    /// Rows per request.
    fn batch_size(&self) -> usize;

    /// Whether sending a row again after an unknown outcome is harmless. When it is not,
    /// an `attempt` entry is journalled before each request so a crash leaves the row
    /// visibly in doubt instead of silently re-sending it.
    fn resend_is_safe(&self) -> bool;

    /// Sends `rows` and returns one outcome per row, in order.
    fn submit(
        &self,
        rows: &[Arc<ValidRow<Self::Value>>],
    ) -> impl Future<Output = Vec<Outcome>> + Send;
}

/// How to run an import.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Units in flight at once (at least 1).
    pub concurrency: usize,
    /// Re-send rows an earlier run left in doubt (see [`Submitter::resend_is_safe`]).
    pub resend_in_doubt: bool,
    /// Draw a progress bar (only on a terminal).
    pub progress: bool,
}

/// The result of a run.
#[derive(Debug)]
pub struct Report {
    /// Counts.
    pub summary: Summary,
    /// Every row that did not succeed, in line order.
    pub failures: Vec<FailedRow>,
    /// Whether the run stopped early on cancellation.
    pub interrupted: bool,
    /// The failure that stopped the run early, if one did.
    pub stopped_by: Option<Failure>,
}

#[derive(Default)]
struct Counters {
    created: AtomicUsize,
    existing: AtomicUsize,
    failed: AtomicUsize,
}

impl Counters {
    fn message(&self) -> String {
        format!(
            "created {} · existing {} · failed {}",
            self.created.load(Ordering::Relaxed),
            self.existing.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed)
        )
    }
}

type UnitResult<V> = Result<Vec<(Arc<ValidRow<V>>, Outcome)>, JournalError>;

/// Sends every valid row of `plan` that the journal does not record as finished.
pub async fn run<S: Submitter>(
    plan: Plan<S::Value>,
    submitter: Arc<S>,
    journal: Option<(Journal, JournalState)>,
    options: EngineOptions,
    cancel: CancellationToken,
) -> Result<Report, JournalError> {
    let started = Instant::now();
    let (journal, state) = match journal {
        Some((journal, state)) => (Some(Arc::new(journal)), state),
        None => (None, JournalState::default()),
    };
    let mut summary = Summary {
        total: plan.total(),
        ..Summary::default()
    };
    let mut failures: Vec<FailedRow> = plan
        .invalid
        .into_iter()
        .map(|row| FailedRow {
            line: row.line,
            record: row.record,
            code: INVALID_ROW.to_string(),
            message: row.problems.join("; "),
        })
        .collect();

    let mut to_send = Vec::new();
    for row in plan.valid {
        if state.finished(&row.key).is_some() {
            summary.skipped += 1;
        } else if state.in_doubt(&row.key)
            && !submitter.resend_is_safe()
            && !options.resend_in_doubt
        {
            failures.push(FailedRow {
                line: row.line,
                record: row.record,
                code: IN_DOUBT.to_string(),
                message: "a request for this row was in flight when an earlier run stopped; check whether \
                          it arrived, then rerun with --resend-in-doubt to send it again"
                    .to_string(),
            });
        } else {
            to_send.push(Arc::new(row));
        }
    }

    let progress = Progress::new(to_send.len(), options.progress);
    let counters = Arc::new(Counters::default());
    let stop = cancel.child_token();
    let stopped_by: Arc<std::sync::Mutex<Option<Failure>>> = Arc::default();
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut tasks: JoinSet<UnitResult<S::Value>> = JoinSet::new();
    let mut units = to_send
        .chunks(submitter.batch_size().max(1))
        .map(<[_]>::to_vec);
    let mut not_started = 0usize;
    let mut finished: Vec<UnitResult<S::Value>> = Vec::new();

    'dispatch: for unit in units.by_ref() {
        let permit = tokio::select! {
            biased;
            () = stop.cancelled() => { not_started += unit.len(); break 'dispatch; }
            permit = permits.clone().acquire_owned() => permit.expect("semaphore is never closed"),
        };
        // Reap finished units so a journal error stops dispatch promptly.
        while let Some(done) = tasks.try_join_next() {
            finished.push(done.expect("import task panicked"));
        }
        if finished.iter().any(Result::is_err) {
            stop.cancel();
        }
        if stop.is_cancelled() {
            not_started += unit.len();
            break;
        }
        let submitter = submitter.clone();
        let journal = journal.clone();
        let counters = counters.clone();
        let progress = progress.clone();
        let stop = stop.clone();
        let stopped_by = stopped_by.clone();
        tasks.spawn(async move {
            let _permit = permit;
            if let Some(journal) = journal.as_ref().filter(|_| !submitter.resend_is_safe()) {
                journal
                    .append(
                        unit.iter()
                            .map(|row| entry(row, Event::Attempt, None, None))
                            .collect(),
                    )
                    .await?;
            }
            let outcomes = submitter.submit(&unit).await;
            assert_eq!(outcomes.len(), unit.len(), "one outcome per row");
            let mut entries = Vec::with_capacity(unit.len());
            for (row, outcome) in unit.iter().zip(&outcomes) {
                entries.push(match outcome {
                    Outcome::Created(id) => {
                        counters.created.fetch_add(1, Ordering::Relaxed);
                        entry(row, Event::Created, Some(id.clone()), None)
                    }
                    Outcome::Existing(id) => {
                        counters.existing.fetch_add(1, Ordering::Relaxed);
                        entry(row, Event::Existing, Some(id.clone()), None)
                    }
                    Outcome::Failed(failure) => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        if failure.stops_import {
                            stopped_by
                                .lock()
                                .expect("not poisoned")
                                .get_or_insert_with(|| failure.clone());
                            stop.cancel();
                        }
                        if failure.ambiguous && !submitter.resend_is_safe() {
                            // Leave the `attempt` entry last: the row stays in doubt.
                            continue;
                        }
                        entry(row, Event::Failed, None, Some(failure.code.clone()))
                    }
                });
            }
            if let Some(journal) = &journal {
                journal.append(entries).await?;
            }
            progress.advance(unit.len(), counters.message());
            Ok(unit.into_iter().zip(outcomes).collect())
        });
    }
    not_started += units.map(|u| u.len()).sum::<usize>();

    while let Some(done) = tasks.join_next().await {
        finished.push(done.expect("import task panicked"));
    }
    let mut journal_error = None;
    for result in finished {
        match result {
            Ok(results) => {
                for (row, outcome) in results {
                    match outcome {
                        Outcome::Created(_) => summary.created += 1,
                        Outcome::Existing(_) => summary.existing += 1,
                        Outcome::Failed(failure) => failures.push(FailedRow {
                            line: row.line,
                            record: row.record.clone(),
                            message: if failure.ambiguous && !submitter.resend_is_safe() {
                                format!("{} ({AMBIGUOUS_NOTE})", failure.message)
                            } else {
                                failure.message
                            },
                            code: failure.code,
                        }),
                    }
                }
            }
            Err(e) => {
                journal_error.get_or_insert(e);
            }
        }
    }
    progress.finish();
    if let Some(journal) = journal {
        match Arc::try_unwrap(journal) {
            Ok(journal) => journal.close(),
            Err(_) => unreachable!("every task has finished"),
        }
    }
    if let Some(e) = journal_error {
        return Err(e);
    }
    failures.sort_by_key(|f| f.line);
    summary.failed = failures.len();
    summary.remaining = not_started;
    summary.elapsed_seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    let stopped_by = stopped_by.lock().expect("not poisoned").take();
    Ok(Report {
        summary,
        failures,
        // A Ctrl-C after the last row was dispatched changes nothing.
        interrupted: cancel.is_cancelled() && not_started > 0,
        stopped_by,
    })
}

fn entry<V>(row: &ValidRow<V>, event: Event, id: Option<String>, code: Option<String>) -> Entry {
    Entry {
        key: row.key.clone(),
        line: row.line,
        event,
        id,
        code,
    }
}
