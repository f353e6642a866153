//! End-to-end: an import never destroys a file it was pointed at, never reads without bound,
//! and reports what it did even when the disk fills up (issue 14, items 4–8).

mod common;

use std::path::Path;

use common::*;
use pearsana_sandbox::Sandbox;

/// `pearsana users import ROSTER` plus `extra` arguments.
fn users_import(
    sandbox: &pearsana_sandbox::RunningSandbox,
    roster: &Path,
    extra: &[&std::ffi::OsStr],
) -> tokio::process::Command {
    let mut command = pearsana(sandbox);
    command.args(["users", "import"]).arg(roster).args(extra);
    command
}

fn os(s: &Path) -> &std::ffi::OsStr {
    s.as_os_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_path_naming_someone_elses_file_is_refused_untouched() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 3, &[]);
    let notes = dir.path().join("notes.txt");
    let mut big = b"quarterly numbers\n".repeat(200_000);
    big.extend_from_slice(b"no newline at the end");
    for content in [b"call the registrar about the spring roster".to_vec(), big] {
        std::fs::write(&notes, &content).unwrap();
        let run = exec(users_import(
            &sandbox,
            &roster,
            &["--journal".as_ref(), os(&notes)],
        ))
        .await;
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("not a pearsana journal") && run.stderr.contains("untouched"),
            "{}",
            run.stderr
        );
        assert_eq!(
            std::fs::read(&notes).unwrap(),
            content,
            "the file is unchanged"
        );
    }
    assert!(
        sandbox.stats().requests_by_operation.is_empty(),
        "nothing was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_that_are_an_input_or_each_other_are_refused_by_identity() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 3, &[1]);
    let roster_bytes = std::fs::read(&roster).unwrap();
    let journal = dir.path().join("run.journal");
    // A first run makes a real journal to protect.
    let first = exec(users_import(
        &sandbox,
        &roster,
        &["--journal".as_ref(), os(&journal)],
    ))
    .await;
    assert_eq!(first.code, 1, "{}", first.stderr);
    let journal_bytes = std::fs::read(&journal).unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&roster, &link).unwrap();
    let hard = dir.path().join("hard.journal");
    std::fs::hard_link(&journal, &hard).unwrap();
    let dotted_roster = dir.path().join(".").join("users.csv");
    let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (vec!["--failures".as_ref(), os(&roster)], "the input file"),
        (vec!["--failures".as_ref(), os(&link)], "the input file"),
        (
            vec!["--failures".as_ref(), os(&dotted_roster)],
            "the input file",
        ),
        (vec!["--journal".as_ref(), os(&link)], "the input file"),
        (
            vec![
                "--journal".as_ref(),
                os(&journal),
                "--failures".as_ref(),
                os(&hard),
            ],
            "--journal",
        ),
    ];
    for (args, clash) in cases {
        let run = exec(users_import(&sandbox, &roster, &args)).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(&format!("same file as {clash}")),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert_eq!(std::fs::read(&roster).unwrap(), roster_bytes);
    assert_eq!(std::fs::read(&journal).unwrap(), journal_bytes);
    assert_eq!(
        sandbox.stats().requests_by_operation["create_user"],
        2,
        "only the first run sent anything"
    );

    // A manifest row naming the journal is refused; the other rows go through.
    let doc = dir.path().join("t.pdf");
    std::fs::write(&doc, b"%PDF-1.4 transcript").unwrap();
    let manifest = dir.path().join("manifest.csv");
    std::fs::write(
        &manifest,
        "namespace,externalId,documentType,file\nSIS,S00000,OFFICIAL_TRANSCRIPT,t.pdf\nSIS,S00000,DIPLOMA,docs.journal\n",
    )
    .unwrap();
    let docs_journal = dir.path().join("docs.journal");
    std::fs::write(
        &docs_journal,
        "{\"pearsanaJournal\":1,\"kind\":\"documents\"}\n",
    )
    .unwrap();
    let mut command = pearsana(&sandbox);
    command
        .args(["documents", "import"])
        .arg(&manifest)
        .arg("--journal")
        .arg(&docs_journal);
    let docs = exec(command).await;
    assert_eq!(docs.code, 1, "{}", docs.stderr);
    assert!(
        docs.stderr.contains("line 3") && docs.stderr.contains("is the --journal file"),
        "{}",
        docs.stderr
    );
    assert_eq!((docs.count("created"), docs.count("failed")), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_and_pipes_are_refused_as_journal_or_input() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 3, &[]);
    let fifo = dir.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for device in ["/dev/zero", "/dev/full", fifo.to_str().unwrap()] {
        let run = exec(users_import(
            &sandbox,
            &roster,
            &["--journal".as_ref(), device.as_ref()],
        ))
        .await;
        assert_eq!(run.code, 2, "--journal {device}: {}", run.stderr);
        assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);

        let run = exec(users_import(&sandbox, Path::new(device), &[])).await;
        assert_eq!(run.code, 2, "input {device}: {}", run.stderr);
        assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    }
    assert!(sandbox.stats().requests_by_operation.is_empty());
}
