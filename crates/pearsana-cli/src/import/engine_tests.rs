//! Engine behaviour with a scripted submitter (no network).

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::csv_input::read_roster_from;
use super::engine::{EngineOptions, Expected, Failure, Outcome, Report, Submitter, run};
use super::journal::{Event, Journal, JournalState};
use super::plan::{ValidRow, plan, validate};
use super::report::{IN_DOUBT, INVALID_ROW};
use super::users::Users;

type Script = dyn Fn(&str) -> Outcome + Send + Sync;

struct Scripted {
    batch: usize,
    resend_is_safe: bool,
    sent: Mutex<Vec<Vec<String>>>,
    script: Box<Script>,
    cancel_after_calls: Option<(usize, CancellationToken)>,
}

impl Scripted {
    fn new(script: impl Fn(&str) -> Outcome + Send + Sync + 'static) -> Self {
        Self {
            batch: 1,
            resend_is_safe: true,
            sent: Mutex::default(),
            script: Box::new(script),
            cancel_after_calls: None,
        }
    }

    fn sent_keys(&self) -> Vec<String> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .cloned()
            .collect()
    }
}

impl Submitter for Scripted {
    type Value = pearsana_api::types::CreateUserRequest;

    fn batch_size(&self) -> usize {
        self.batch
    }

    fn resend_is_safe(&self) -> bool {
        self.resend_is_safe
    }

    async fn submit(&self, rows: &[Arc<ValidRow<Self::Value>>]) -> Vec<Outcome> {
        let calls = {
            let mut sent = self.sent.lock().unwrap();
            sent.push(rows.iter().map(|r| r.key.clone()).collect());
            sent.len()
        };
        if let Some((after, token)) = &self.cancel_after_calls
            && calls >= *after
        {
            token.cancel();
        }
        tokio::task::yield_now().await;
        rows.iter().map(|r| (self.script)(&r.key)).collect()
    }
}

fn roster(rows: usize, invalid_at: &[usize]) -> String {
    let mut text = String::from("email,firstName,lastName,roleName,namespace,externalId\n");
    for i in 0..rows {
        if invalid_at.contains(&i) {
            text.push_str(&format!("bad-{i},,L,student,SIS,{i}\n"));
        } else {
            text.push_str(&format!("user{i}@example.org,F{i},L,student,SIS,{i}\n"));
        }
    }
    text
}

fn options(concurrency: usize) -> EngineOptions {
    EngineOptions {
        concurrency,
        resend_in_doubt: false,
        progress: false,
    }
}

/// Both passes over `text` and a run of the engine, as `pearsana users import` does.
async fn import(
    text: &str,
    submitter: Arc<Scripted>,
    journal: Option<&std::path::Path>,
    options: EngineOptions,
    cancel: CancellationToken,
) -> Report {
    let mut roster = read_roster_from(std::io::Cursor::new(text.as_bytes()), "t").unwrap();
    let mut validation = validate(&Users, &mut roster, |_| {}).unwrap();
    let expected = Expected {
        total: validation.total,
        valid: validation.valid(),
    };
    let mut state = validation.journal_state();
    let journal = journal.map(|path| Journal::open(path, "users", &mut state).unwrap());
    let rows = plan(&Users, &mut roster, &validation, |_| {}).unwrap();
    run(rows, expected, submitter, state, journal, options, cancel).await
}

fn created(key: &str) -> Outcome {
    Outcome::Created(format!("id-{key}"))
}

#[tokio::test]
async fn every_valid_row_is_sent_once_and_invalid_rows_are_reported() {
    let submitter = Arc::new(Scripted::new(|key| {
        if key == "user3@example.org" {
            Outcome::Existing("u3".into())
        } else if key == "user5@example.org" {
            Outcome::Failed(Failure {
                code: "CONFLICT".into(),
                message: "ref taken".into(),
                stops_import: false,
                ambiguous: false,
            })
        } else {
            created(key)
        }
    }));
    let report = import(
        &roster(20, &[7]),
        submitter.clone(),
        None,
        options(4),
        CancellationToken::new(),
    )
    .await;
    let s = &report.summary;
    assert_eq!(
        (
            s.total,
            s.created,
            s.existing,
            s.failed,
            s.skipped,
            s.remaining
        ),
        (20, 17, 1, 2, 0, 0)
    );
    let mut sent = submitter.sent_keys();
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 19, "each valid row exactly once");
    assert_eq!(report.failures.len(), 2);
    assert_eq!(
        (report.failures[0].line, report.failures[0].code.as_str()),
        (7, "CONFLICT")
    );
    assert_eq!(
        (report.failures[1].line, report.failures[1].code.as_str()),
        (9, INVALID_ROW)
    );
    assert!(
        report.failures[1]
            .message
            .contains("firstName: is required")
    );
    assert!(!report.interrupted);
}

#[tokio::test]
async fn interrupted_run_resumes_from_the_journal_without_resending_finished_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let text = roster(40, &[]);
    let cancel = CancellationToken::new();
    let mut first = Scripted::new(created);
    first.cancel_after_calls = Some((10, cancel.clone()));
    let first = Arc::new(first);
    let report = import(&text, first.clone(), Some(&path), options(2), cancel).await;
    assert!(report.interrupted);
    let done = report.summary.created;
    assert!((10..=12).contains(&done), "in-flight rows finish: {done}");
    assert_eq!(report.summary.remaining, 40 - done);

    let second = Arc::new(Scripted::new(created));
    let report = import(
        &text,
        second.clone(),
        Some(&path),
        options(4),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(
        (
            report.summary.skipped,
            report.summary.created,
            report.summary.remaining
        ),
        (done, 40 - done, 0)
    );
    let mut all = first.sent_keys();
    all.extend(second.sent_keys());
    all.sort();
    let unique = {
        let mut u = all.clone();
        u.dedup();
        u
    };
    assert_eq!(all, unique, "no row sent twice");
    assert_eq!(all.len(), 40, "no row lost");
}

/// Users' outcomes are journalled without waiting for the disk, so a `kill -9` can leave any
/// prefix of what the writer was given (writes are sequential; the last line may be torn).
/// From every such prefix the rerun skips exactly the rows the prefix confirms and sends every
/// other row once, and create-or-get resolves the ones the server already has.
#[tokio::test]
async fn any_prefix_of_the_journal_a_crash_can_leave_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let rows = 20;
    let text = roster(rows, &[]);
    let first = Arc::new(Scripted::new(created));
    let report = import(
        &text,
        first,
        Some(&path),
        options(4),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(report.summary.created, rows);
    let full = std::fs::read(&path).unwrap();
    let mut cuts = vec![0, full.len()];
    for (at, _) in full.iter().enumerate().filter(|(_, b)| **b == b'\n') {
        cuts.push(at + 1);
        cuts.push(at.saturating_sub(9)); // inside the line: a torn write
    }
    for cut in cuts {
        let prefix = &full[..cut];
        let crashed = dir.path().join(format!("crashed-{cut}"));
        std::fs::write(&crashed, prefix).unwrap();
        let complete = &prefix[..prefix
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1)];
        let confirmed: Vec<String> = String::from_utf8_lossy(complete)
            .lines()
            .skip(1)
            .map(|line| serde_json::from_str::<super::journal::Entry>(line).unwrap())
            .filter(|e| matches!(e.event, Event::Created | Event::Existing))
            .map(|e| e.key)
            .collect();
        // The server already has every user: a resend comes back `existing`.
        let server = Arc::new(Scripted::new(|key| Outcome::Existing(format!("id-{key}"))));
        let report = import(
            &text,
            server.clone(),
            Some(&crashed),
            options(4),
            CancellationToken::new(),
        )
        .await;
        let mut sent = server.sent_keys();
        sent.sort();
        let expected: Vec<String> = (0..rows)
            .map(|i| format!("user{i}@example.org"))
            .filter(|key| !confirmed.contains(key))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(sent, expected, "cut at byte {cut}");
        let s = &report.summary;
        assert_eq!(
            (s.skipped, s.existing, s.failed, s.remaining),
            (confirmed.len(), rows - confirmed.len(), 0, 0),
            "cut at byte {cut}"
        );
    }
}

#[tokio::test]
async fn failed_rows_are_retried_on_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let text = roster(5, &[]);
    let flaky = Arc::new(Scripted::new(|key| {
        if key == "user2@example.org" {
            Outcome::Failed(Failure {
                code: "INTERNAL_SERVER_ERROR".into(),
                message: "boom".into(),
                stops_import: false,
                ambiguous: false,
            })
        } else {
            created(key)
        }
    }));
    import(
        &text,
        flaky,
        Some(&path),
        options(1),
        CancellationToken::new(),
    )
    .await;
    let healthy = Arc::new(Scripted::new(created));
    let report = import(
        &text,
        healthy.clone(),
        Some(&path),
        options(1),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(healthy.sent_keys(), vec!["user2@example.org"]);
    assert_eq!((report.summary.skipped, report.summary.created), (4, 1));
}

#[tokio::test]
async fn rows_in_doubt_are_not_resent_unless_asked_when_resending_is_unsafe() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    {
        let mut state = JournalState::for_keys([]);
        let journal = Journal::open(&path, "users", &mut state).unwrap();
        let entry = |key: &str, event| super::journal::Entry {
            key: key.into(),
            line: 2,
            event,
            id: None,
            code: None,
        };
        journal
            .append(vec![
                entry("user0@example.org", Event::Attempt),
                entry("user1@example.org", Event::Attempt),
                entry("user1@example.org", Event::Created),
            ])
            .await
            .unwrap();
    }
    let text = roster(3, &[]);
    let mut cautious = Scripted::new(created);
    cautious.resend_is_safe = false;
    let cautious = Arc::new(cautious);
    let report = import(
        &text,
        cautious.clone(),
        Some(&path),
        options(1),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(cautious.sent_keys(), vec!["user2@example.org"]);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(
        (report.failures[0].line, report.failures[0].code.as_str()),
        (2, IN_DOUBT)
    );
    assert_eq!(report.summary.skipped, 1);

    let mut forced = Scripted::new(created);
    forced.resend_is_safe = false;
    let forced = Arc::new(forced);
    let mut opts = options(1);
    opts.resend_in_doubt = true;
    let report = import(
        &text,
        forced.clone(),
        Some(&path),
        opts,
        CancellationToken::new(),
    )
    .await;
    assert_eq!(forced.sent_keys(), vec!["user0@example.org"]);
    assert_eq!(report.summary.failed, 0);
    // Attempts are journalled before sending when resending is unsafe.
    let journal = std::fs::read_to_string(&path).unwrap();
    assert!(
        journal
            .lines()
            .filter(|l| l.contains("\"attempt\""))
            .count()
            >= 3,
        "{journal}"
    );
}

#[tokio::test]
async fn a_failure_that_would_repeat_for_every_row_stops_the_import() {
    let submitter = Arc::new(Scripted::new(|_| {
        Outcome::Failed(Failure {
            code: "UNAUTHORIZED".into(),
            message: "bad credentials".into(),
            stops_import: true,
            ambiguous: false,
        })
    }));
    let report = import(
        &roster(50, &[]),
        submitter.clone(),
        None,
        options(2),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(report.stopped_by.unwrap().code, "UNAUTHORIZED");
    assert!(
        submitter.sent_keys().len() <= 3,
        "stops after in-flight requests"
    );
    assert_eq!(report.summary.remaining + report.summary.failed, 50);
    assert!(!report.interrupted, "a stop is not a Ctrl-C");
}

#[tokio::test]
async fn rows_are_grouped_into_units_of_the_batch_size() {
    let mut batched = Scripted::new(created);
    batched.batch = 25;
    let batched = Arc::new(batched);
    let report = import(
        &roster(60, &[]),
        batched.clone(),
        None,
        options(3),
        CancellationToken::new(),
    )
    .await;
    let mut sizes: Vec<usize> = batched.sent.lock().unwrap().iter().map(Vec::len).collect();
    sizes.sort();
    assert_eq!(sizes, vec![10, 25, 25]);
    assert_eq!(report.summary.created, 60);
}

#[tokio::test]
async fn an_ambiguous_failure_keeps_an_unsafe_row_in_doubt_but_lets_a_safe_row_retry() {
    let server_error = || {
        Outcome::Failed(Failure {
            code: "INTERNAL_SERVER_ERROR".into(),
            message: "boom".into(),
            stops_import: false,
            ambiguous: true,
        })
    };
    for resend_is_safe in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let text = roster(2, &[]);
        let mut failing = Scripted::new(move |key| {
            if key == "user1@example.org" {
                server_error()
            } else {
                created(key)
            }
        });
        failing.resend_is_safe = resend_is_safe;
        let report = import(
            &text,
            Arc::new(failing),
            Some(&path),
            options(1),
            CancellationToken::new(),
        )
        .await;
        assert_eq!(
            report.failures[0].message.contains("kept in doubt"),
            !resend_is_safe
        );

        let mut healthy = Scripted::new(created);
        healthy.resend_is_safe = resend_is_safe;
        let healthy = Arc::new(healthy);
        let report = import(
            &text,
            healthy.clone(),
            Some(&path),
            options(1),
            CancellationToken::new(),
        )
        .await;
        if resend_is_safe {
            assert_eq!(healthy.sent_keys(), vec!["user1@example.org"]);
        } else {
            assert!(healthy.sent_keys().is_empty());
            assert_eq!(report.failures[0].code, IN_DOUBT);
        }
    }
}

/// Both passes and a run with a journal whose disk fills up after `writes` appends.
async fn import_filling_up(text: &str, submitter: Arc<Scripted>, writes: usize) -> Report {
    let mut roster = read_roster_from(std::io::Cursor::new(text.as_bytes()), "t").unwrap();
    let mut validation = validate(&Users, &mut roster, |_| {}).unwrap();
    let expected = Expected {
        total: validation.total,
        valid: validation.valid(),
    };
    let state = validation.journal_state();
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::filling_up_after(&dir.path().join("journal"), writes);
    let rows = plan(&Users, &mut roster, &validation, |_| {}).unwrap();
    run(
        rows,
        expected,
        submitter,
        state,
        Some(journal),
        options(1),
        CancellationToken::new(),
    )
    .await
}

#[tokio::test]
async fn a_full_disk_stops_sending_and_still_accounts_for_every_row() {
    // Resending is unsafe: an attempt is journalled before each request. Writes 1-3 succeed
    // (attempt 1, outcome 1, attempt 2); the outcome of row 2 cannot be written.
    let mut cautious = Scripted::new(created);
    cautious.resend_is_safe = false;
    let cautious = Arc::new(cautious);
    let report = import_filling_up(&roster(10, &[4]), cautious.clone(), 3).await;
    assert_eq!(
        cautious.sent_keys(),
        vec!["user0@example.org", "user1@example.org"]
    );
    let s = &report.summary;
    assert_eq!(
        (s.total, s.created, s.failed, s.remaining),
        (10, 2, 1, 7),
        "row 2 was created; the invalid row is still reported; the rest is not sent"
    );
    let aborted = report.aborted.as_deref().unwrap();
    assert!(aborted.contains("journal"), "{aborted}");
    assert_eq!(report.failures[0].code, INVALID_ROW);

    // When the attempt itself cannot be written, the row is not sent at all.
    let mut cautious = Scripted::new(created);
    cautious.resend_is_safe = false;
    let cautious = Arc::new(cautious);
    let report = import_filling_up(&roster(5, &[]), cautious.clone(), 2).await;
    assert_eq!(cautious.sent_keys(), vec!["user0@example.org"]);
    assert_eq!((report.summary.created, report.summary.remaining), (1, 4));
}

#[tokio::test]
async fn a_row_that_changed_after_validation_is_reported_not_sent() {
    // The send pass meets a row whose key the validation pass never saw (the file was edited
    // in between): sending it could bypass the journal, so it is reported instead.
    let text = roster(3, &[]);
    let mut roster = read_roster_from(std::io::Cursor::new(text.as_bytes()), "t").unwrap();
    let validation = validate(&Users, &mut roster, |_| {}).unwrap();
    let state = JournalState::for_keys(["user0@example.org", "user2@example.org"]);
    let rows = plan(&Users, &mut roster, &validation, |_| {}).unwrap();
    let submitter = Arc::new(Scripted::new(created));
    let report = run(
        rows,
        Expected { total: 3, valid: 3 },
        submitter.clone(),
        state,
        None,
        options(1),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(
        submitter.sent_keys(),
        vec!["user0@example.org", "user2@example.org"]
    );
    assert_eq!((report.summary.created, report.summary.failed), (2, 1));
    assert!(report.failures[0].message.contains("changed"));
    assert_eq!(report.failures[0].line, 3);
}
