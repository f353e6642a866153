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
