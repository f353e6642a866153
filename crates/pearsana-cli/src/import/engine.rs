//! Sending the rows of a plan: bounded concurrency, journal, progress, interruption.
//!
//! Rows are grouped into units of [`Submitter::batch_size`] (one row per request for users and
//! invitations, up to `BATCH_MAX_ITEMS` for documents). At most `concurrency` units are in
//! flight. When the cancellation token fires (Ctrl-C) no new unit starts; units in flight
//! finish and their outcomes are journalled before [`run`] returns. A failure that would make
//! every later row fail too (rejected credentials, a missing scope) stops the run the same way.
//!
//! With a journal, a row whose resending is unsafe (invitations, documents) has its `attempt`
//! entry made durable before its request is sent and its outcome made durable before the
//! worker moves on. A row whose resending is harmless (users) journals only its outcome, and
//! without waiting for the disk ([`Journal::record`]): the writer's group commit flushes behind
//! the workers, and an outcome a crash loses only makes the rerun send that row again.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::csv_input::ReadError;
use super::journal::{Entry, Event, Journal, JournalError, JournalState};
use super::plan::{PlannedRow, ValidRow};
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
    /// A local problem that stopped the run early (the journal could not be written, the input
    /// could not be read again): rows not started are counted as remaining.
    pub aborted: Option<String>,
}

/// How many rows the validation pass found.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expected {
    /// Data rows in the file.
    pub total: usize,
    /// Rows that passed validation (the progress bar's length).
    pub valid: usize,
}

/// What to do with one row of the send pass: decided in one place, [`Accounting::admit`].
enum Admission<V> {
    Send(ValidRow<V>),
    Done,
}

/// What one unit of rows came back with.
struct UnitDone<V> {
    rows: Vec<Arc<ValidRow<V>>>,
    /// `None` when nothing was sent (the `attempt` entry could not be journalled).
    outcomes: Option<Vec<Outcome>>,
    journal_error: Option<JournalError>,
}

/// The one home of outcome accounting: the summary counts, the failures list and the in-doubt
/// rule all live here, so a new behaviour is one edit.
struct Accounting {
    summary: Summary,
    failures: Vec<FailedRow>,
    resend_is_safe: bool,
    resend_in_doubt: bool,
    stopped_by: Option<Failure>,
    aborted: Option<String>,
    progress: Progress,
}

impl Accounting {
    /// Whether a failed row must stay in doubt: the server may have acted on it and sending
    /// it again is not harmless. Its `attempt` entry is then left as its last journal event.
    fn keeps_in_doubt(resend_is_safe: bool, failure: &Failure) -> bool {
        failure.ambiguous && !resend_is_safe
    }

    /// Sorts a row of the send pass: to send, or settled (invalid, finished, in doubt).
    fn admit<V>(&mut self, row: PlannedRow<V>, state: &JournalState) -> Admission<V> {
        let row = match row {
            PlannedRow::Invalid(row) => {
                self.fail(FailedRow {
                    line: row.line,
                    record: row.record,
                    code: INVALID_ROW.to_string(),
                    message: row.problems.join("; "),
                });
                return Admission::Done;
            }
            PlannedRow::Valid(row) => row,
        };
        if !state.tracks(&row.key) {
            self.fail(FailedRow {
                line: row.line,
                record: row.record,
                code: INVALID_ROW.to_string(),
                message: "the row changed while the import was running; rerun to validate it again"
                    .to_string(),
            });
        } else if state.finished(&row.key) {
            self.summary.skipped += 1;
            self.progress.advance(1, self.message());
        } else if state.in_doubt(&row.key) && !self.resend_is_safe && !self.resend_in_doubt {
            self.fail(FailedRow {
                line: row.line,
                record: row.record,
                code: IN_DOUBT.to_string(),
                message: "a request for this row was in flight when an earlier run stopped; check whether \
                          it arrived, then rerun with --resend-in-doubt to send it again"
                    .to_string(),
            });
        } else {
            return Admission::Send(row);
        }
        Admission::Done
    }

    fn fail(&mut self, failure: FailedRow) {
        self.summary.failed += 1;
        self.failures.push(failure);
    }

    /// Counts a finished unit; returns whether the run must stop.
    fn record<V>(&mut self, done: UnitDone<V>) -> bool {
        let mut stop = false;
        if let Some(error) = done.journal_error {
            self.aborted.get_or_insert_with(|| {
                format!("{error}; the journal keeps every outcome recorded before it")
            });
            stop = true;
        }
        let Some(outcomes) = done.outcomes else {
            self.summary.remaining += done.rows.len();
            return stop;
        };
        for (row, outcome) in done.rows.iter().zip(outcomes) {
            match outcome {
                Outcome::Created(_) => self.summary.created += 1,
                Outcome::Existing(_) => self.summary.existing += 1,
                Outcome::Failed(failure) => {
                    if failure.stops_import {
                        self.stopped_by.get_or_insert_with(|| failure.clone());
                        stop = true;
                    }
                    let message = if Self::keeps_in_doubt(self.resend_is_safe, &failure) {
                        format!("{} ({AMBIGUOUS_NOTE})", failure.message)
                    } else {
                        failure.message
                    };
                    self.fail(FailedRow {
                        line: row.line,
                        record: row.record.clone(),
                        code: failure.code,
                        message,
                    });
                }
            }
        }
        self.progress.advance(done.rows.len(), self.message());
        stop
    }

    fn message(&self) -> String {
        format!(
            "created {} · existing {} · failed {}",
            self.summary.created, self.summary.existing, self.summary.failed
        )
    }
}

/// Sends one unit: journals the attempt when resending is unsafe, sends, journals outcomes.
async fn send_unit<S: Submitter>(
    submitter: Arc<S>,
    journal: Option<Arc<Journal>>,
    rows: Vec<Arc<ValidRow<S::Value>>>,
) -> UnitDone<S::Value> {
    let resend_is_safe = submitter.resend_is_safe();
    if let Some(journal) = journal.as_ref().filter(|_| !resend_is_safe) {
        let attempts = rows
            .iter()
            .map(|row| entry(row, Event::Attempt, None, None))
            .collect();
        if let Err(error) = journal.append(attempts).await {
            return UnitDone {
                rows,
                outcomes: None,
                journal_error: Some(error),
            };
        }
    }
    let outcomes = submitter.submit(&rows).await;
    assert_eq!(outcomes.len(), rows.len(), "one outcome per row");
    let entries = rows
        .iter()
        .zip(&outcomes)
        .filter_map(|(row, outcome)| match outcome {
            Outcome::Created(id) => Some(entry(row, Event::Created, Some(id.clone()), None)),
            Outcome::Existing(id) => Some(entry(row, Event::Existing, Some(id.clone()), None)),
            // Leave the `attempt` entry last: the row stays in doubt.
            Outcome::Failed(failure) if Accounting::keeps_in_doubt(resend_is_safe, failure) => None,
            Outcome::Failed(failure) => {
                Some(entry(row, Event::Failed, None, Some(failure.code.clone())))
            }
        })
        .collect();
    // A lost outcome of a row that is safe to resend only makes the rerun send it again (it
    // comes back `existing`), so the worker need not wait for the disk: the writer's next
    // group commit makes it durable. Otherwise the outcome is durable before the row counts.
    let journal_error = match &journal {
        Some(journal) if resend_is_safe => journal.record(entries).await.err(),
        Some(journal) => journal.append(entries).await.err(),
        None => None,
    };
    UnitDone {
        rows,
        outcomes: Some(outcomes),
        journal_error,
    }
}

/// Sends every valid row of `rows` (the send pass, in file order) that `state` does not
/// record as finished, journalling outcomes to `journal`. Rows are read only as fast as they
/// are sent, so at most `concurrency` units are in memory at once.
pub async fn run<S: Submitter>(
    rows: impl Iterator<Item = Result<PlannedRow<S::Value>, ReadError>>,
    expected: Expected,
    submitter: Arc<S>,
    state: JournalState,
    journal: Option<Journal>,
    options: EngineOptions,
    cancel: CancellationToken,
) -> Report {
    let started = Instant::now();
    let journal = journal.map(Arc::new);
    let mut accounting = Accounting {
        summary: Summary {
            total: expected.total,
            ..Summary::default()
        },
        failures: Vec::new(),
        resend_is_safe: submitter.resend_is_safe(),
        resend_in_doubt: options.resend_in_doubt,
        stopped_by: None,
        aborted: None,
        progress: Progress::new(expected.valid, options.progress),
    };
    let concurrency = options.concurrency.max(1);
    let batch = submitter.batch_size().max(1);
    let mut tasks: JoinSet<UnitDone<S::Value>> = JoinSet::new();
    let mut rows = rows.fuse();
    let mut stopping = false;
    let mut unreadable = false;
    loop {
        stopping |= cancel.is_cancelled();
        if !stopping && tasks.len() < concurrency {
            let mut unit = Vec::with_capacity(batch);
            while unit.len() < batch {
                match rows.next() {
                    None => break,
                    Some(Err(error)) => {
                        accounting.aborted.get_or_insert(error.to_string());
                        unreadable = true;
                        stopping = true;
                        break;
                    }
                    Some(Ok(row)) => {
                        if let Admission::Send(row) = accounting.admit(row, &state) {
                            unit.push(Arc::new(row));
                        }
                    }
                }
            }
            if !unit.is_empty() {
                if stopping {
                    accounting.summary.remaining += unit.len();
                } else {
                    tasks.spawn(send_unit(submitter.clone(), journal.clone(), unit));
                }
                continue;
            }
        }
        if tasks.is_empty() {
            break;
        }
        let done = tokio::select! {
            biased;
            done = tasks.join_next() => done,
            () = cancel.cancelled(), if !stopping => { stopping = true; continue; }
        };
        let Some(done) = done else { break };
        stopping |= accounting.record(done.expect("import task panicked"));
    }
    // What was not started: counted (and invalid rows reported) without sending anything.
    if !unreadable {
        for row in rows {
            match row {
                Err(error) => {
                    accounting.aborted.get_or_insert(error.to_string());
                    break;
                }
                Ok(row) => {
                    if let Admission::Send(_) = accounting.admit(row, &state) {
                        accounting.summary.remaining += 1;
                    }
                }
            }
        }
    }
    accounting.progress.finish();
    if let Some(journal) = journal {
        let journal = match Arc::try_unwrap(journal) {
            Ok(journal) => journal,
            Err(_) => unreachable!("every task has finished"),
        };
        // Outcomes recorded without waiting are on disk only now; a failure here means the
        // last of them are not, so the next run sends those rows again.
        if let Err(error) = journal.close() {
            accounting.aborted.get_or_insert_with(|| {
                format!("{error}; the journal keeps every outcome recorded before it")
            });
        }
    }
    let mut summary = accounting.summary;
    summary.elapsed_seconds = (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0;
    let mut failures = accounting.failures;
    failures.sort_by_key(|f| f.line);
    Report {
        // A Ctrl-C after the last row was dispatched changes nothing.
        interrupted: cancel.is_cancelled() && summary.remaining > 0,
        summary,
        failures,
        stopped_by: accounting.stopped_by,
        aborted: accounting.aborted,
    }
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
