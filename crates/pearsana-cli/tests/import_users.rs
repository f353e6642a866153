//! End-to-end: `pearsana users import` against an in-process sandbox.

mod common;

use std::time::Duration;

use common::*;
use pearsana_sandbox::Sandbox;

/// `pearsana users import ROSTER --journal JOURNAL -c CONCURRENCY` against `sandbox`.
fn journaled_import(
    sandbox: &pearsana_sandbox::RunningSandbox,
    roster: &std::path::Path,
    journal: &std::path::Path,
    concurrency: usize,
) -> tokio::process::Command {
    let mut command = pearsana(sandbox);
    command
        .args(["users", "import", "-c", &concurrency.to_string()])
        .arg(roster)
        .arg("--journal")
        .arg(journal);
    command
}

/// Waits (at most 30 s) until the journal confirms at least `rows` rows.
async fn wait_until_confirmed(journal: &std::path::Path, rows: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while confirmed_in_journal(journal) < rows {
        assert!(
            tokio::time::Instant::now() < deadline,
            "import made no progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Imports `roster` with a journal, rerunning (at most three runs in all) while rows fail: a
/// row can still fail after the SDK's last retry, and the documented remedy is to rerun with
/// the same journal, which sends only the rows not yet confirmed.
async fn import_with_reruns(
    sandbox: &pearsana_sandbox::RunningSandbox,
    roster: &std::path::Path,
    journal: &std::path::Path,
) -> Vec<Run> {
    let mut runs = Vec::new();
    for _ in 0..3 {
        let run = exec(journaled_import(sandbox, roster, journal, 8)).await;
        let done = run.code == 0;
        runs.push(run);
        if done {
            break;
        }
    }
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_import_creates_every_user_once_with_one_token() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 200, &[]);
    let mut command = pearsana(&sandbox);
    command.arg("users").arg("import").arg(&roster);
    let run = exec(command).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let last_line = run.stdout.lines().last().unwrap();
    assert!(
        last_line.starts_with("{\"total\":200,\"created\":200,"),
        "{last_line}"
    );
    let summary = run.summary();
    for (key, value) in [
        ("total", 200),
        ("created", 200),
        ("existing", 0),
        ("failed", 0),
        ("skipped", 0),
    ] {
        assert_eq!(summary[key], value, "{key} in {summary}");
    }
    let elapsed = summary["elapsedSeconds"].as_f64().unwrap();
    eprintln!(
        "clean import: 200 rows in {elapsed} s = {:.0} rows/s",
        200.0 / elapsed
    );
    let stats = sandbox.stats();
    assert_eq!(stats.requests_by_operation.get("create_user"), Some(&200));
    assert_eq!(stats.token_requests, 1, "one token shared by every worker");
    assert_users_exactly(&sandbox, (0..200).map(email)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_under_failures_and_dropped_connections_creates_every_row_exactly_once() {
    let sandbox = start(Sandbox::builder().fail_rate(0.15).drop_rate(0.05).seed(11)).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 200, &[]);
    let runs = import_with_reruns(&sandbox, &roster, &dir.path().join("journal")).await;
    let last = runs.last().unwrap();
    assert_eq!(last.code, 0, "{}", last.stderr);
    let confirmed: u64 = runs
        .iter()
        .map(|r| r.count("created") + r.count("existing"))
        .sum();
    assert_eq!(confirmed, 200, "every row confirmed once across runs");
    let stats = sandbox.stats();
    assert!(
        stats.injected_failures > 0 && stats.dropped_connections > 0,
        "faults happened: {stats:?}"
    );
    assert_eq!(stats.users_created, 200);
    assert_users_exactly(&sandbox, (0..200).map(email)).await;
}

/// Lost answers are the hard case: the user was stored but the CLI never heard so. The SDK's
/// retry is answered `409 CONFLICT`, which create-or-get turns into `existing`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_with_lost_answers_recovers_through_conflicts_and_creates_every_row_once() {
    let sandbox = start(Sandbox::builder().lost_answer_rate(0.2).seed(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 150, &[]);
    let runs = import_with_reruns(&sandbox, &roster, &dir.path().join("journal")).await;
    let last = runs.last().unwrap();
    assert_eq!(last.code, 0, "{}", last.stderr);
    let existing: u64 = runs.iter().map(|r| r.count("existing")).sum();
    let confirmed: u64 = runs.iter().map(|r| r.count("created")).sum::<u64>() + existing;
    assert_eq!(confirmed, 150, "every row confirmed once across runs");
    let stats = sandbox.stats();
    assert!(stats.lost_answers > 0, "answers were lost: {stats:?}");
    assert!(existing > 0, "lost creations were recovered as existing");
    assert_eq!(stats.users_created, 150, "no user was created twice");
    assert_users_exactly(&sandbox, (0..150).map(email)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_import_waits_and_creates_every_row_once() {
    let sandbox = start(Sandbox::builder().rate_limit(Some(25))).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 60, &[]);
    let mut command = pearsana(&sandbox);
    command.args(["users", "import", "-c", "8"]).arg(&roster);
    let run = exec(command).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.count("created") + run.count("existing"), 60);
    assert!(sandbox.stats().rate_limited > 0, "the limit was hit");
    assert_users_exactly(&sandbox, (0..60).map(email)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_import_resumes_from_its_journal_without_losing_or_duplicating_rows() {
    let sandbox = start(Sandbox::builder().latency(Duration::from_millis(20))).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 300, &[]);
    let journal = dir.path().join("journal");
    let mut child = journaled_import(&sandbox, &roster, &journal, 4)
        .spawn()
        .unwrap();
    wait_until_confirmed(&journal, 40).await;
    child.start_kill().unwrap(); // SIGKILL: no chance to flush anything
    let status = child.wait().await.unwrap();
    assert!(!status.success());
    let confirmed = confirmed_in_journal(&journal);
    assert!(confirmed < 300, "killed mid-run ({confirmed} confirmed)");

    let resumed = exec(journaled_import(&sandbox, &roster, &journal, 4)).await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(
        resumed.count("skipped") as usize,
        confirmed,
        "confirmed rows are not sent again"
    );
    let existing = resumed.count("existing");
    assert_eq!(resumed.count("created") + existing + confirmed as u64, 300);
    // Rows in flight at the kill, plus outcomes recorded but not yet written (workers do not
    // wait for the disk; at a 20 ms round trip at most one per worker can be queued).
    assert!(
        existing <= 8,
        "only rows in flight or just finished at the kill can already exist: {existing}"
    );
    let stats = sandbox.stats();
    let sent = stats.requests_by_operation["create_user"];
    assert!(
        sent <= 300 + 8,
        "at most the rows in flight or just finished were sent twice: {sent}"
    );
    assert_eq!(stats.users_created, 300);
    assert_users_exactly(&sandbox, (0..300).map(email)).await;
}

/// Without latency the workers run ahead of the journal's `fsync`s (they no longer wait for
/// them), so the kill lands while outcomes are still queued for or waiting on the disk. Rows
/// the server created but the journal does not confirm are sent again and come back
/// `existing`, every row confirmed in the journal is skipped, and the server ends with each
/// user exactly once. (What a power loss can leave, any prefix of the journal, is covered by
/// `engine_tests::any_prefix_of_the_journal_a_crash_can_leave_resumes_exactly`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_import_without_latency_resumes_exactly() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let rows = 3000;
    let roster = users_roster(dir.path(), rows, &[]);
    let journal = dir.path().join("journal");
    let mut child = journaled_import(&sandbox, &roster, &journal, 8)
        .spawn()
        .unwrap();
    wait_until_confirmed(&journal, 100).await;
    child.start_kill().unwrap(); // SIGKILL
    let status = child.wait().await.unwrap();
    assert!(!status.success());
    // Let the server finish (or drop) the requests the dead process left behind.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let confirmed = confirmed_in_journal(&journal);
    let before = sandbox.stats();
    let created_before = before.users_created as usize;
    assert!(confirmed < rows, "killed mid-run ({confirmed} confirmed)");
    assert!(
        created_before >= confirmed,
        "{created_before} < {confirmed}"
    );

    let resumed = exec(journaled_import(&sandbox, &roster, &journal, 8)).await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(
        resumed.count("skipped") as usize,
        confirmed,
        "rows confirmed in the journal are not sent again"
    );
    let existing = resumed.count("existing") as usize;
    assert_eq!(
        existing,
        created_before - confirmed,
        "every row the server created but the journal did not confirm resolves as existing"
    );
    assert_eq!(
        resumed.count("created") as usize + existing + confirmed,
        rows
    );
    let stats = sandbox.stats();
    assert_eq!(
        stats.requests_by_operation["create_user"] - before.requests_by_operation["create_user"],
        (rows - confirmed) as u64,
        "the rerun sends exactly the rows not confirmed, once each"
    );
    assert_eq!(stats.users_created as usize, rows);
    assert_users_exactly(&sandbox, (0..rows).map(email)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_finishes_in_flight_rows_and_flushes_the_journal() {
    let sandbox = start(Sandbox::builder().latency(Duration::from_millis(20))).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 300, &[]);
    let journal = dir.path().join("journal");
    let child = journaled_import(&sandbox, &roster, &journal, 4)
        .spawn()
        .unwrap();
    wait_until_confirmed(&journal, 40).await;
    let pid = child.id().unwrap().to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(signalled.success());
    let output = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let interrupted = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert_eq!(interrupted.code, 130, "{}", interrupted.stderr);
    assert!(
        interrupted.stderr.contains("interrupted"),
        "{}",
        interrupted.stderr
    );
    let created_first = interrupted.count("created");
    assert_eq!(
        created_first as usize,
        confirmed_in_journal(&journal),
        "every finished row is journalled"
    );
    assert_eq!(interrupted.count("remaining"), 300 - created_first);

    let mut command = pearsana(&sandbox);
    command
        .args(["users", "import"])
        .arg(&roster)
        .arg("--journal")
        .arg(&journal);
    let resumed = exec(command).await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(resumed.count("skipped"), created_first);
    assert_eq!(resumed.count("existing"), 0, "nothing was left in flight");
    assert_eq!(resumed.count("created"), 300 - created_first);
    assert_eq!(
        sandbox.stats().requests_by_operation["create_user"],
        300,
        "no row sent twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_rows_are_reported_by_line_while_valid_rows_still_go_through() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 20, &[3, 11]);
    let failures = dir.path().join("failures.csv");
    let mut command = pearsana(&sandbox);
    command
        .args(["users", "import"])
        .arg(&roster)
        .arg("--failures")
        .arg(&failures);
    let first = exec(command).await;
    assert_eq!(
        first.code, 1,
        "non-zero when any row failed; {}",
        first.stderr
    );
    for line in [5, 13] {
        let report = first
            .stderr
            .lines()
            .find(|l| l.starts_with(&format!("line {line}: invalid row:")))
            .unwrap_or_else(|| panic!("line {line} reported in {}", first.stderr));
        assert!(
            report.contains("email:") && report.contains("firstName: is required"),
            "{report}"
        );
    }
    assert_eq!(
        (
            first.count("total"),
            first.count("created"),
            first.count("failed")
        ),
        (20, 18, 2)
    );
    let valid = (0..20).filter(|i| ![3, 11].contains(i)).map(email);
    assert_users_exactly(&sandbox, valid).await;

    let report = std::fs::read_to_string(&failures).unwrap();
    assert_eq!(report.lines().count(), 3, "{report}");
    assert!(
        report
            .lines()
            .next()
            .unwrap()
            .ends_with("error_code,error_message,source_line")
    );
    assert!(
        report.contains("INVALID_ROW") && report.contains(",5\n") && report.contains(",13\n"),
        "{report}"
    );

    // The report is valid input: fixed or not, it can be fed straight back.
    let fixed = report.replace("broken-3,,", "student3@uni.example,First3,");
    let fixed_path = dir.path().join("fixed.csv");
    std::fs::write(&fixed_path, fixed).unwrap();
    let mut command = pearsana(&sandbox);
    command.args(["users", "import"]).arg(&fixed_path);
    let rerun = exec(command).await;
    assert_eq!(rerun.code, 1, "{}", rerun.stderr);
    assert_eq!(
        (
            rerun.count("total"),
            rerun.count("created"),
            rerun.count("failed")
        ),
        (2, 1, 1)
    );
    assert_eq!(
        sandbox.stats().requests_by_operation["create_user"],
        19,
        "invalid rows are never sent"
    );
}
