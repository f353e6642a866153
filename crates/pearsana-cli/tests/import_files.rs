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

/// The journal's file system fills up mid-import (simulated with a file size limit, which
/// fails writes the same way without needing a small mounted disk): the run still prints its
/// summary and writes its failures report, and a rerun resumes exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_mid_import_still_reports_and_the_journal_resumes_exactly() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 300, &[7]);
    let journal = dir.path().join("run.journal");
    let failures = dir.path().join("failures.csv");
    // bash: `ulimit -f` counts KiB; an ignored SIGXFSZ makes over-limit writes fail (EFBIG)
    // instead of killing the process.
    let mut command = tokio::process::Command::new("bash");
    command
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 8; exec \"$0\" \"$@\"")
        .arg(BIN)
        .args([
            "--env",
            "local",
            "--api-url",
            &sandbox.url(),
            "--output",
            "json",
        ])
        .args(["users", "import", "-c", "2"])
        .arg(&roster)
        .arg("--journal")
        .arg(&journal)
        .arg("--failures")
        .arg(&failures)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .env_remove("PEARSANA_CLIENT_SECRET")
        .kill_on_drop(true);
    let full = exec(command).await;
    assert_eq!(full.code, 2, "{}", full.stderr);
    assert!(
        full.stderr.contains("stopped early") && full.stderr.contains("--journal to resume"),
        "{}",
        full.stderr
    );
    let (created, remaining) = (full.count("created"), full.count("remaining"));
    assert_eq!(full.count("total"), 300, "the summary is printed");
    assert!(remaining > 0 && created > 0, "{}", full.stdout);
    assert_eq!(
        created + full.count("failed") + remaining,
        300,
        "every row is accounted for: {}",
        full.stdout
    );
    let report = std::fs::read_to_string(&failures).unwrap();
    assert!(
        report.contains("INVALID_ROW") && report.contains(",9\n"),
        "{report}"
    );
    assert!(std::fs::metadata(&journal).unwrap().len() <= 8 * 1024);
    // Whole lines only: the write that hit the limit may have left a torn last line.
    let journaled = std::fs::read_to_string(&journal)
        .unwrap()
        .split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .filter(|l| l.contains("\"event\":\"created\"") || l.contains("\"event\":\"existing\""))
        .count() as u64;
    assert!(journaled <= created, "{journaled} > {created}");

    let mut command = pearsana(&sandbox);
    command
        .args(["users", "import"])
        .arg(&roster)
        .arg("--journal")
        .arg(&journal);
    let resumed = exec(command).await;
    assert_eq!(
        resumed.code, 1,
        "only the invalid row fails: {}",
        resumed.stderr
    );
    let confirmed = resumed.count("skipped") + resumed.count("created") + resumed.count("existing");
    assert_eq!(confirmed, 299);
    // Outcomes are not waited for: those in the write that failed or queued behind it are
    // missing from the journal, so exactly those rows are sent again and found existing.
    assert_eq!(resumed.count("skipped"), journaled, "{}", resumed.stdout);
    assert_eq!(
        resumed.count("existing"),
        created - journaled,
        "only rows whose outcome missed the journal are found existing: {}",
        resumed.stdout
    );
    let valid = (0..300).filter(|&i| i != 7).map(email);
    assert_users_exactly(&sandbox, valid).await;
    assert_eq!(sandbox.stats().users_created, 299);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failures_report_that_cannot_be_written_still_leaves_the_summary() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 5, &[2]);
    let run = exec(users_import(
        &sandbox,
        &roster,
        &["--failures".as_ref(), "/dev/full".as_ref()],
    ))
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("cannot write failures report /dev/full"),
        "{}",
        run.stderr
    );
    assert_eq!((run.count("created"), run.count("failed")), (4, 1));

    // A report path in a missing folder is refused before anything is sent.
    let missing = dir.path().join("gone").join("failures.csv");
    let run = exec(users_import(
        &sandbox,
        &roster,
        &["--failures".as_ref(), os(&missing)],
    ))
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("gone"), "{}", run.stderr);
    assert_eq!(sandbox.stats().requests_by_operation["create_user"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failures_report_keeps_bad_rows_byte_for_byte_and_a_stray_quote_costs_one_row() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut text = b"email,firstName,lastName,roleName,namespace,externalId\n".to_vec();
    text.extend_from_slice(b"a@uni.example,Ann,A,student,SIS,1\n");
    text.extend_from_slice(b"b@uni.example,B\xe9a,B,student,SIS,2\n"); // Latin-1 name
    text.extend_from_slice(b"c@uni.example,Cy,C,student,SIS,3,extra one,\"x,y\"\n");
    text.extend_from_slice(b"d@uni.example,\"Dee,D,student,SIS,4\n"); // never closed
    for i in 5..45 {
        text.extend_from_slice(format!("u{i}@uni.example,U,U,student,SIS,{i}\n").as_bytes());
    }
    let roster = dir.path().join("roster.csv");
    std::fs::write(&roster, &text).unwrap();
    let failures = dir.path().join("failures.csv");
    let run = exec(users_import(
        &sandbox,
        &roster,
        &["--failures".as_ref(), os(&failures)],
    ))
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("line 5: invalid row: unterminated quote"),
        "{}",
        run.stderr
    );
    assert_eq!(
        (
            run.count("total"),
            run.count("created"),
            run.count("failed")
        ),
        (44, 41, 3),
        "the rows after the stray quote are imported"
    );
    let report = std::fs::read(&failures).unwrap();
    let lines: Vec<&[u8]> = report.split(|&b| b == b'\n').collect();
    assert_eq!(
        lines[0],
        b"email,firstName,lastName,roleName,namespace,externalId,error_code,error_message,source_line"
    );
    assert!(
        lines[1].starts_with(b"b@uni.example,B\xe9a,B,student,SIS,2,INVALID_ROW,"),
        "original bytes kept: {:?}",
        String::from_utf8_lossy(lines[1])
    );
    assert!(
        lines[2].starts_with(b"c@uni.example,Cy,C,student,SIS,3,INVALID_ROW,")
            && lines[2].ends_with(b",4,extra one,\"x,y\""),
        "extra fields follow source_line: {:?}",
        String::from_utf8_lossy(lines[2])
    );
    assert!(
        lines[3].starts_with(b"d@uni.example,\"Dee,D,student,SIS,4\",,,,,INVALID_ROW,"),
        "{:?}",
        String::from_utf8_lossy(lines[3])
    );
    assert_users_exactly(
        &sandbox,
        std::iter::once("a@uni.example".to_string())
            .chain((5..45).map(|i| format!("u{i}@uni.example"))),
    )
    .await;
}
