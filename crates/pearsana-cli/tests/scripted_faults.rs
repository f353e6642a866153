//! End-to-end imports against the sandbox's fault script (`POST /sandbox/v1/faults`): the
//! fault hits a known row (`-c 1` sends rows in file order), so the summary, the journal and
//! the sandbox's state can be checked exactly instead of "every row arrived eventually".

mod common;

use std::path::Path;

use common::*;
use pearsana_sandbox::{RunningSandbox, Sandbox, ScriptedFault};
use serde_json::Value;

/// Queues `(operation, fault)` pairs in the sandbox's fault script.
fn script(sandbox: &RunningSandbox, faults: &[(&str, &str)]) {
    sandbox
        .script_faults(faults.iter().map(|(operation, fault)| ScriptedFault {
            operation: Some((*operation).to_owned()),
            fault: (*fault).to_owned(),
        }))
        .expect("script accepted");
}

/// `(status, fault)` of the logged requests of `operation`, oldest first.
fn logged(sandbox: &RunningSandbox, operation: &str) -> Vec<(Option<u64>, Option<String>)> {
    let mut entries: Vec<(Option<u64>, Option<String>)> = sandbox
        .requests()
        .into_iter()
        .filter(|entry| entry.operation == Some(operation))
        .map(|entry| (entry.status.map(u64::from), entry.fault))
        .collect();
    entries.reverse();
    entries
}

/// The journal's entries (without its header line) as `(key, event, id)`.
fn journal_entries(path: &Path) -> Vec<(String, String, Option<String>)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| {
            let entry: Value = serde_json::from_str(line).unwrap();
            (
                entry["key"].as_str().unwrap().to_owned(),
                entry["event"].as_str().unwrap().to_owned(),
                entry["id"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// The events journalled for the row whose key starts with `key_prefix`, in order.
fn events_of(path: &Path, key_prefix: &str) -> Vec<String> {
    journal_entries(path)
        .into_iter()
        .filter(|(key, _, _)| key.starts_with(key_prefix))
        .map(|(_, event, _)| event)
        .collect()
}

/// `pearsana KIND import FILE --journal JOURNAL -c 1 [extra…]`.
fn import(
    sandbox: &RunningSandbox,
    kind: &str,
    file: &Path,
    journal: &Path,
    extra: &[&str],
) -> tokio::process::Command {
    let mut command = pearsana(sandbox);
    command
        .args([kind, "import", "-c", "1"])
        .arg(file)
        .arg("--journal")
        .arg(journal)
        .args(extra);
    command
}

fn invitations_roster(dir: &Path, rows: usize) -> std::path::PathBuf {
    let mut text = String::from("email,firstName,lastName,namespace,externalId\n");
    for i in 0..rows {
        text.push_str(&format!("invitee{i}@uni.example,In{i},Vitee,LMS,L{i:04}\n"));
    }
    let path = dir.join("invitations.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn fault(name: &str) -> Option<String> {
    Some(name.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_on_one_user_row_is_resolved_through_the_conflict_as_existing() {
    let sandbox = start(Sandbox::builder()).await;
    script(&sandbox, &[("create_user", "lost-answer")]);
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 5, &[]);
    let journal = dir.path().join("journal");

    let run = exec(import(&sandbox, "users", &roster, &journal, &[])).await;

    assert_eq!(run.code, 0, "{}", run.stderr);
    let summary = run.summary();
    for (key, value) in [("created", 4), ("existing", 1), ("failed", 0)] {
        assert_eq!(summary[key], value, "{key} in {summary}");
    }
    assert_eq!(
        logged(&sandbox, "create_user"),
        [
            vec![(None, fault("lost-answer")), (Some(409), None)],
            vec![(Some(201), None); 4]
        ]
        .concat(),
        "row 0 was repeated once and answered with the conflict"
    );
    assert_eq!(
        events_of(&journal, &email(0)),
        ["existing"],
        "journalled once"
    );
    let stored_id = sandbox
        .users()
        .into_iter()
        .find(|u| u.email == email(0))
        .expect("row 0's user exists")
        .user_id;
    let entries = journal_entries(&journal);
    assert_eq!(entries.len(), 5, "one outcome per row: {entries:?}");
    assert!(
        entries
            .iter()
            .any(|(key, _, id)| key.starts_with(&email(0)) && id.as_deref() == Some(&stored_id)),
        "the journal holds the id of the user the lost answer created"
    );
    assert_eq!(sandbox.stats().users_created, 5);
    assert_users_exactly(&sandbox, (0..5).map(email)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_row_whose_every_attempt_loses_its_answer_fails_and_a_rerun_finds_it() {
    let sandbox = start(Sandbox::builder()).await;
    let attempts = pearsana::retry::DEFAULT_MAX_ATTEMPTS as usize;
    script(&sandbox, &vec![("create_user", "lost-answer"); attempts]);
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 5, &[]);
    let journal = dir.path().join("journal");

    let first = exec(import(&sandbox, "users", &roster, &journal, &[])).await;

    assert_eq!(first.code, 1, "{}", first.stderr);
    let summary = first.summary();
    for (key, value) in [("created", 4), ("existing", 0), ("failed", 1)] {
        assert_eq!(summary[key], value, "{key} in {summary}");
    }
    assert!(
        first.stderr.contains("line 2: NETWORK_ERROR"),
        "{}",
        first.stderr
    );
    assert_eq!(
        logged(&sandbox, "create_user")[..attempts],
        vec![(None, fault("lost-answer")); attempts],
        "the SDK gave up after its attempt limit"
    );
    // Resending a user is safe, so the row is journalled as failed, not held in doubt.
    assert_eq!(events_of(&journal, &email(0)), ["failed"]);
    assert_eq!(sandbox.users().len(), 5, "the first attempt did store it");

    let rerun = exec(import(&sandbox, "users", &roster, &journal, &[])).await;

    assert_eq!(rerun.code, 0, "{}", rerun.stderr);
    let summary = rerun.summary();
    for (key, value) in [
        ("skipped", 4),
        ("existing", 1),
        ("created", 0),
        ("failed", 0),
    ] {
        assert_eq!(summary[key], value, "{key} in {summary}");
    }
    assert_eq!(events_of(&journal, &email(0)), ["failed", "existing"]);
    assert_eq!(
        sandbox.stats().requests_by_operation["create_user"],
        attempts as u64 + 4 + 1
    );
    assert_eq!(sandbox.stats().users_created, 5);
    assert_users_exactly(&sandbox, (0..5).map(email)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_on_an_invitation_row_keeps_it_in_doubt_and_it_is_not_resent() {
    let sandbox = start(Sandbox::builder()).await;
    script(&sandbox, &[("create_invitation", "lost-answer")]);
    let dir = tempfile::tempdir().unwrap();
    let roster = invitations_roster(dir.path(), 3);
    let journal = dir.path().join("journal");
    let failures = dir.path().join("failures.csv");
    let failures_arg = failures.to_str().unwrap();

    let first = exec(import(
        &sandbox,
        "invitations",
        &roster,
        &journal,
        &["--failures", failures_arg],
    ))
    .await;

    assert_eq!(first.code, 1, "{}", first.stderr);
    let summary = first.summary();
    for (key, value) in [("created", 2), ("failed", 1)] {
        assert_eq!(summary[key], value, "{key} in {summary}");
    }
    assert!(
        first.stderr.contains("line 2: NETWORK_ERROR") && first.stderr.contains("kept in doubt"),
        "{}",
        first.stderr
    );
    assert_eq!(
        logged(&sandbox, "create_invitation"),
        vec![
            (None, fault("lost-answer")),
            (Some(201), None),
            (Some(201), None)
        ],
        "not repeated: a second invitation could be a duplicate"
    );
    assert_eq!(
        events_of(&journal, "invitee0@"),
        ["attempt"],
        "the attempt stays the row's last event: in doubt"
    );
    let report = std::fs::read_to_string(&failures).unwrap();
    assert_eq!(report.lines().count(), 2, "{report}");
    assert!(report.contains("invitee0@uni.example") && report.contains("NETWORK_ERROR"));
    assert_eq!(
        read_back(&sandbox, "invitations").await.len(),
        3,
        "the sandbox did store the invitation whose answer was lost"
    );

    let rerun = exec(import(&sandbox, "invitations", &roster, &journal, &[])).await;

    assert_eq!(rerun.code, 1, "{}", rerun.stderr);
    assert!(
        rerun.stderr.contains("line 2: IN_DOUBT"),
        "{}",
        rerun.stderr
    );
    let summary = rerun.summary();
    for (key, value) in [("skipped", 2), ("failed", 1), ("created", 0)] {
        assert_eq!(summary[key], value, "{key} in {summary}");
    }
    assert_eq!(
        sandbox.stats().requests_by_operation["create_invitation"],
        3,
        "nothing was sent again"
    );
    assert_eq!(read_back(&sandbox, "invitations").await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_with_retry_after_on_an_invitation_row_is_repeated_and_creates_it_once() {
    let sandbox = start(Sandbox::builder()).await;
    script(&sandbox, &[("create_invitation", "503")]);
    let dir = tempfile::tempdir().unwrap();
    let roster = invitations_roster(dir.path(), 3);
    let journal = dir.path().join("journal");

    let run = exec(import(&sandbox, "invitations", &roster, &journal, &[])).await;

    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.count("created"), 3);
    assert_eq!(
        logged(&sandbox, "create_invitation"),
        [vec![(Some(503), fault("503"))], vec![(Some(201), None); 3]].concat()
    );
    assert_eq!(events_of(&journal, "invitee0@"), ["attempt", "created"]);
    let invitations = read_back(&sandbox, "invitations").await;
    assert_eq!(invitations.len(), 3, "each invitation exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_on_a_documents_batch_keeps_every_row_of_it_in_doubt() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = pearsana(&sandbox);
    command
        .args(["users", "import"])
        .arg(users_roster(dir.path(), 3, &[]));
    assert_eq!(exec(command).await.code, 0);
    let mut manifest = String::from("namespace,externalId,documentType,file\n");
    for i in 0..3 {
        let name = format!("d{i}.pdf");
        std::fs::write(dir.path().join(&name), format!("%PDF-1.4 document {i}")).unwrap();
        manifest.push_str(&format!("SIS,S{i:05},OFFICIAL_TRANSCRIPT,{name}\n"));
    }
    let manifest_path = dir.path().join("manifest.csv");
    std::fs::write(&manifest_path, manifest).unwrap();
    let journal = dir.path().join("journal");
    script(&sandbox, &[("submit_document_batch", "lost-answer")]);

    let first = exec(import(&sandbox, "documents", &manifest_path, &journal, &[])).await;

    assert_eq!(first.code, 1, "{}", first.stderr);
    let summary = first.summary();
    for (key, value) in [("created", 0), ("failed", 3)] {
        assert_eq!(summary[key], value, "{key} in {summary}");
    }
    for line in 2..=4 {
        assert!(
            first
                .stderr
                .contains(&format!("line {line}: NETWORK_ERROR")),
            "{}",
            first.stderr
        );
    }
    assert!(first.stderr.contains("kept in doubt"), "{}", first.stderr);
    let events: Vec<String> = journal_entries(&journal)
        .into_iter()
        .map(|(_, event, _)| event)
        .collect();
    assert_eq!(
        events, ["attempt"; 3],
        "each row's last event is its attempt"
    );
    assert_eq!(
        logged(&sandbox, "submit_document_batch"),
        vec![(None, fault("lost-answer"))],
        "one request for the three rows, not repeated"
    );
    assert_eq!(
        read_back(&sandbox, "documents").await.len(),
        3,
        "the sandbox stored the batch whose answer was lost"
    );

    let rerun = exec(import(&sandbox, "documents", &manifest_path, &journal, &[])).await;

    assert_eq!(rerun.code, 1, "{}", rerun.stderr);
    assert_eq!(
        rerun.stderr.matches(": IN_DOUBT").count(),
        3,
        "{}",
        rerun.stderr
    );
    assert_eq!(
        sandbox.stats().requests_by_operation["submit_document_batch"],
        1,
        "nothing was sent again"
    );
    assert_eq!(read_back(&sandbox, "documents").await.len(), 3);
}
