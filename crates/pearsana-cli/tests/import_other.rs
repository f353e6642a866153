//! End-to-end: `invitations import` and `documents import` against an in-process sandbox.

mod common;

use common::*;
use pearsana_sandbox::Sandbox;

fn invitations_roster(dir: &std::path::Path, rows: usize) -> std::path::PathBuf {
    let mut text = String::from("email,firstName,lastName,namespace,externalId,roles\n");
    for i in 0..rows {
        text.push_str(&format!(
            "invitee{i}@uni.example,In{i},Vitee,LMS,L{i:04},student;alumni\n"
        ));
    }
    let path = dir.join("invitations.csv");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_in_doubt_are_held_back_until_asked_and_each_is_sent_once() {
    // Injected 500s are ambiguous for a non-idempotent create: the CLI keeps those rows in
    // doubt instead of silently resending them.
    let sandbox = start(Sandbox::builder().fail_rate(0.1).seed(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = invitations_roster(dir.path(), 30);
    let journal = dir.path().join("journal");
    // An earlier run that died with row 0's request in flight: the server may have it.
    std::fs::write(
        &journal,
        "{\"pearsanaJournal\":1,\"kind\":\"invitations\"}\n\
         {\"key\":\"invitee0@uni.example|lms:L0000\",\"line\":2,\"event\":\"attempt\"}\n",
    )
    .unwrap();
    let mut command = pearsana(&sandbox);
    command
        .args(["invitations", "import"])
        .arg(&roster)
        .arg("--journal")
        .arg(&journal);
    let first = exec(command).await;
    assert_eq!(
        first.code, 1,
        "a row in doubt is a failure to look at; {}",
        first.stderr
    );
    assert!(
        first.stderr.contains("line 2: IN_DOUBT"),
        "{}",
        first.stderr
    );
    assert!(
        first.stdout.contains("\"code\":\"IN_DOUBT\""),
        "{}",
        first.stdout
    );
    let mut created = first.count("created");
    assert_eq!(created + first.count("failed"), 30);
    assert_eq!(
        read_back(&sandbox, "invitations").await.len() as u64,
        created,
        "row 0 was held back"
    );

    // After checking, the operator resends what is in doubt; faults may need another round.
    for _ in 0..4 {
        let mut command = pearsana(&sandbox);
        command
            .args(["invitations", "import", "--resend-in-doubt"])
            .arg(&roster)
            .arg("--journal")
            .arg(&journal);
        let again = exec(command).await;
        created += again.count("created");
        if again.code == 0 {
            break;
        }
    }
    assert_eq!(created, 30);
    assert!(
        sandbox.stats().injected_failures > 0,
        "faults were exercised"
    );
    let invitations = read_back(&sandbox, "invitations").await;
    let mut emails: Vec<&str> = invitations
        .iter()
        .map(|i| i["email"].as_str().unwrap())
        .collect();
    emails.sort();
    emails.dedup();
    assert_eq!(
        (invitations.len(), emails.len()),
        (30, 30),
        "each invitation exactly once"
    );
    assert!(
        invitations
            .iter()
            .all(|i| i["roles"] == serde_json::json!(["student", "alumni"]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_import_sends_manifest_rows_in_batches_of_at_most_25() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = pearsana(&sandbox);
    command
        .args(["users", "import"])
        .arg(users_roster(dir.path(), 20, &[]));
    assert_eq!(exec(command).await.code, 0);

    let files = dir.path().join("transcripts");
    std::fs::create_dir(&files).unwrap();
    let mut manifest = String::from(
        "Namespace,External ID,Document Type,File,verification_intent,attestationReferenceId\n",
    );
    for i in 0..60 {
        let name = format!("t{i}.pdf");
        std::fs::write(files.join(&name), format!("%PDF-1.4 transcript {i}")).unwrap();
        let (intent, attestation) = if i % 10 == 0 {
            ("attest", format!("ATT-{i}"))
        } else {
            ("", String::new())
        };
        manifest.push_str(&format!(
            "SIS,S{:05},OFFICIAL_TRANSCRIPT,transcripts/{name},{intent},{attestation}\n",
            i % 20
        ));
    }
    // One row points at a user that does not exist: it fails alone, its batch still succeeds.
    manifest.push_str("SIS,NOBODY,DIPLOMA,transcripts/t0.pdf,,\n");
    let manifest_path = dir.path().join("manifest.csv");
    std::fs::write(&manifest_path, manifest).unwrap();
    let failures = dir.path().join("failures.csv");

    let mut command = pearsana(&sandbox);
    command
        .args(["documents", "import"])
        .arg(&manifest_path)
        .arg("--failures")
        .arg(&failures);
    let run = exec(command).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        (
            run.count("total"),
            run.count("created"),
            run.count("failed")
        ),
        (61, 60, 1)
    );
    let stats = sandbox.stats();
    assert_eq!(
        stats.requests_by_operation.get("submit_document_batch"),
        Some(&3),
        "61 rows = 25 + 25 + 11"
    );
    assert_eq!(stats.documents_created, 60);
    let documents = read_back(&sandbox, "documents").await;
    assert_eq!(documents.len(), 60);
    let attested = documents
        .iter()
        .filter(|d| d["verificationIntent"] == "attest")
        .count();
    assert_eq!(attested, 6);
    let report = std::fs::read_to_string(&failures).unwrap();
    assert!(
        report.contains("NOT_FOUND") && report.contains(",62\n"),
        "{report}"
    );
    let absolute = files.join("t0.pdf");
    assert!(
        report.contains(absolute.to_str().unwrap()),
        "paths in the report work from anywhere: {report}"
    );
}

fn journal_events(path: &std::path::Path, event: &str) -> usize {
    let needle = format!("\"event\":\"{event}\"");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(&needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_documents_batch_in_flight_at_kill_is_reported_in_doubt_not_resent() {
    let sandbox = start(Sandbox::builder().latency(std::time::Duration::from_millis(150))).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = pearsana(&sandbox);
    command
        .args(["users", "import", "-c", "8"])
        .arg(users_roster(dir.path(), 10, &[]));
    assert_eq!(exec(command).await.code, 0);
    let mut manifest = String::from("namespace,externalId,documentType,file\n");
    for i in 0..100 {
        std::fs::write(
            dir.path().join(format!("d{i}.pdf")),
            format!("%PDF-1.4 {i}"),
        )
        .unwrap();
        manifest.push_str(&format!("SIS,S{:05},DIPLOMA,d{i}.pdf\n", i % 10));
    }
    let manifest_path = dir.path().join("manifest.csv");
    std::fs::write(&manifest_path, manifest).unwrap();
    let journal = dir.path().join("journal");
    let import = |extra: &[&str]| {
        let mut command = pearsana(&sandbox);
        command
            .args(["documents", "import", "-c", "1"])
            .args(extra)
            .arg(&manifest_path)
            .arg("--journal")
            .arg(&journal);
        command
    };

    let mut child = import(&[]).spawn().unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    // The second batch's attempts are on disk, so its request is in flight.
    while journal_events(&journal, "attempt") < 50 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "import made no progress"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let confirmed = journal_events(&journal, "created");
    let in_doubt = journal_events(&journal, "attempt") - confirmed;
    assert!(
        confirmed >= 25 && in_doubt >= 25,
        "confirmed {confirmed}, in doubt {in_doubt}"
    );

    let held = exec(import(&[])).await;
    assert_eq!(held.code, 1, "{}", held.stderr);
    assert_eq!(held.count("skipped") as usize, confirmed);
    assert_eq!(held.count("failed") as usize, in_doubt);
    assert_eq!(
        held.stdout.matches("\"code\":\"IN_DOUBT\"").count(),
        in_doubt
    );
    assert_eq!(held.count("created") as usize, 100 - confirmed - in_doubt);

    let resent = exec(import(&["--resend-in-doubt"])).await;
    assert_eq!(resent.code, 0, "{}", resent.stderr);
    assert_eq!(resent.count("created") as usize, in_doubt);
    assert_eq!(resent.count("skipped") as usize, 100 - in_doubt);
    // The batch in flight at the kill may or may not have been stored: exactly the risk the
    // operator accepted with --resend-in-doubt, and no other row was sent twice.
    let stored = sandbox.stats().documents_created as usize;
    assert!(
        stored == 100 || stored == 100 + in_doubt,
        "{stored} documents"
    );
}
