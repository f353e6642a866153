//! End-to-end: `documents import` and `documents submit` stream large files (issue 11).

mod common;

use common::*;
use pearsana_sandbox::Sandbox;

/// Deterministic content of `len` bytes, different per `seed`.
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_25_large_files_streams_through_the_cli_with_the_journal() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = pearsana(&sandbox);
    command
        .args(["users", "import"])
        .arg(users_roster(dir.path(), 5, &[]));
    assert_eq!(exec(command).await.code, 0);

    // 25 files of about 1 MiB, sizes covering every remainder mod 3.
    let mut manifest = String::from("namespace,externalId,documentType,file,partnerReferenceId\n");
    let mut sizes = Vec::new();
    for i in 0..25 {
        let size = (1 << 20) + i * 7;
        std::fs::write(
            dir.path().join(format!("scan{i}.pdf")),
            content(size, i as u8),
        )
        .unwrap();
        manifest.push_str(&format!("SIS,S{:05},DIPLOMA,scan{i}.pdf,P-{i}\n", i % 5));
        sizes.push(size as u64);
    }
    let manifest_path = dir.path().join("manifest.csv");
    std::fs::write(&manifest_path, manifest).unwrap();
    let journal = dir.path().join("journal");
    let import = || {
        let mut command = pearsana(&sandbox);
        command
            .args(["documents", "import"])
            .arg(&manifest_path)
            .arg("--journal")
            .arg(&journal);
        command
    };

    let run = exec(import()).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!((run.count("total"), run.count("created")), (25, 25));
    assert_eq!(
        sandbox
            .stats()
            .requests_by_operation
            .get("submit_document_batch"),
        Some(&1),
        "one streamed batch of 25"
    );
    let mut stored: Vec<(String, u64)> = read_back(&sandbox, "documents")
        .await
        .iter()
        .map(|d| {
            (
                d["partnerReferenceId"].as_str().unwrap().to_owned(),
                d["sizeBytes"].as_u64().unwrap(),
            )
        })
        .collect();
    stored.sort_by_key(|(id, _)| id[2..].parse::<usize>().unwrap());
    let expected: Vec<(String, u64)> = sizes
        .iter()
        .enumerate()
        .map(|(i, size)| (format!("P-{i}"), *size))
        .collect();
    assert_eq!(
        stored, expected,
        "every file stored once with its full size"
    );
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(
        journal_text.matches("\"event\":\"created\"").count(),
        25,
        "{journal_text}"
    );

    // Resuming finds everything done and sends nothing.
    let again = exec(import()).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.count("skipped"), 25);
    assert_eq!(sandbox.stats().documents_created, 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_submit_refuses_an_empty_file_before_any_request() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pdf");
    std::fs::write(&empty, b"").unwrap();
    let mut command = pearsana(&sandbox);
    command
        .args([
            "documents",
            "submit",
            "--ref",
            "SIS:STU-1",
            "--type",
            "DIPLOMA",
        ])
        .arg(&empty);
    let run = exec(command).await;
    assert_ne!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stderr.contains("empty.pdf") && run.stderr.contains("is empty"),
        "{}",
        run.stderr
    );
    assert!(sandbox.requests().is_empty(), "{:?}", sandbox.requests());
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
async fn a_file_that_shrinks_mid_import_fails_only_its_row_and_a_rerun_sends_it() {
    let sandbox = start(Sandbox::builder().latency(std::time::Duration::from_millis(1500))).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = pearsana(&sandbox);
    command
        .args(["users", "import"])
        .arg(users_roster(dir.path(), 2, &[]));
    assert_eq!(exec(command).await.code, 0);
    let mut manifest = String::from("namespace,externalId,documentType,file\n");
    for i in 0..30 {
        std::fs::write(
            dir.path().join(format!("d{i}.pdf")),
            content(70_000 + i, i as u8),
        )
        .unwrap();
        manifest.push_str(&format!("SIS,S{:05},DIPLOMA,d{i}.pdf\n", i % 2));
    }
    let manifest_path = dir.path().join("manifest.csv");
    std::fs::write(&manifest_path, manifest).unwrap();
    let journal = dir.path().join("journal");
    let import = || {
        let mut command = pearsana(&sandbox);
        command
            .args(["documents", "import", "-c", "1"])
            .arg(&manifest_path)
            .arg("--journal")
            .arg(&journal);
        command
    };

    let child = import().spawn().unwrap();
    // The first batch (rows d0..d24) is in flight; the second has been validated and hashed
    // but not sent yet. One of its files loses half its bytes.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while journal_events(&journal, "attempt") < 25 {
        assert!(tokio::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let shrunk = dir.path().join("d27.pdf");
    let original = std::fs::read(&shrunk).unwrap();
    std::fs::write(&shrunk, &original[..original.len() / 2]).unwrap();
    let output = tokio::time::timeout(RUN_LIMIT, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    // Each row is checked again just before its batch is built: the changed file fails its
    // own row (line 29: d27.pdf), nothing is in doubt, the rest of its batch is sent.
    let failed: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{stdout}");
    assert_eq!(
        (&failed[0]["line"], &failed[0]["code"]),
        (&serde_json::json!(29), &serde_json::json!("INVALID_ROW")),
        "{stdout}"
    );
    assert!(!stdout.contains("IN_DOUBT"), "{stdout}");
    assert!(stdout.contains(r#""created":29"#), "{stdout}");
    assert_eq!(sandbox.stats().documents_created, 29);

    // The file is put back; the rerun sends the second batch, and only it.
    std::fs::write(&shrunk, &original).unwrap();
    let again = exec(import()).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!((again.count("skipped"), again.count("created")), (29, 1));
    assert_eq!(sandbox.stats().documents_created, 30);
}
