//! End-to-end: single-call commands, exit statuses, secrets, `sandbox`, `demo`, completions.

mod common;

use std::time::Duration;

use common::*;
use pearsana::spec::scopes;
use pearsana_sandbox::Sandbox;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const CI_ID: &str = "ci-client";
const CI_SECRET: &str = "ci-secret-value-0123456789";

fn json_lines(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// No secret and no JWT-shaped token in anything the process printed.
fn assert_no_secrets(run: &Run) {
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(CI_SECRET), "client secret printed:\n{text}");
        assert!(!text.contains("eyJ"), "access token printed:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_shows_client_scopes_expiry_and_versions_but_never_the_token() {
    let sandbox = start(Sandbox::builder().client(
        CI_ID,
        CI_SECRET,
        [scopes::PING, scopes::PARTNERS_USERS_WRITE],
    ))
    .await;
    let mut command = pearsana(&sandbox);
    command.args([
        "-vvv",
        "ping",
        "--client-id",
        CI_ID,
        "--client-secret",
        CI_SECRET,
    ]);
    let run = exec(command).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_no_secrets(&run);
    let ping = &json_lines(&run)[0];
    assert_eq!(ping["clientId"], CI_ID);
    assert_eq!(
        ping["scopes"],
        serde_json::json!([scopes::PING, scopes::PARTNERS_USERS_WRITE])
    );
    let expires_in = ping["token"]["expiresInSeconds"].as_u64().unwrap();
    assert!((3500..=3600).contains(&expires_in), "{ping}");
    assert!(ping["token"]["expiresAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(ping["apiVersion"]["latest"], pearsana::spec::API_VERSION);
    assert_eq!(ping["apiVersion"]["pinned"], pearsana::spec::API_VERSION);

    // The same from the environment variables, in a table.
    let mut command = pearsana(&sandbox);
    command
        .env("PEARSANA_CLIENT_ID", CI_ID)
        .env("PEARSANA_CLIENT_SECRET", CI_SECRET)
        .args(["--output", "table", "-vv", "ping"]);
    let table = exec(command).await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert_no_secrets(&table);
    assert!(
        table.stdout.contains("clientId") && table.stdout.contains(CI_ID),
        "{}",
        table.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_exit_3_and_stop_an_import_early_without_leaking_the_secret() {
    let sandbox =
        start(Sandbox::builder().client(CI_ID, CI_SECRET, scopes::ALL.iter().copied())).await;
    let wrong = format!("{CI_SECRET}-wrong");
    let mut command = pearsana(&sandbox);
    command.args([
        "-vvv",
        "ping",
        "--client-id",
        CI_ID,
        "--client-secret",
        &wrong,
    ]);
    let ping = exec(command).await;
    assert_eq!(ping.code, 3, "{}", ping.stderr);
    assert!(ping.stderr.contains("hint:"), "{}", ping.stderr);
    assert!(!ping.stderr.contains(&wrong) && !ping.stdout.contains(&wrong));

    let dir = tempfile::tempdir().unwrap();
    let roster = users_roster(dir.path(), 100, &[]);
    let mut command = pearsana(&sandbox);
    command
        .env("PEARSANA_CLIENT_ID", CI_ID)
        .env("PEARSANA_CLIENT_SECRET", &wrong)
        .args(["-vvv", "users", "import", "-c", "2"])
        .arg(&roster);
    let import = exec(command).await;
    assert_eq!(import.code, 3, "{}", import.stderr);
    assert!(
        import.count("remaining") >= 90,
        "stopped early: {}",
        import.stdout
    );
    assert!(!import.stderr.contains(&wrong) && !import.stdout.contains(&wrong));
    assert!(
        !sandbox
            .stats()
            .requests_by_operation
            .contains_key("create_user"),
        "no request without a token"
    );

    // A client without the users scope: 403 INSUFFICIENT_SCOPE is an auth problem too.
    let sandbox = start(Sandbox::builder().client(CI_ID, CI_SECRET, [scopes::PING])).await;
    let mut command = pearsana(&sandbox);
    command
        .args([
            "--client-id",
            CI_ID,
            "--client-secret",
            CI_SECRET,
            "users",
            "import",
        ])
        .arg(&roster);
    let import = exec(command).await;
    assert_eq!(import.code, 3, "{}", import.stderr);
    assert!(
        import.stderr.contains("INSUFFICIENT_SCOPE"),
        "{}",
        import.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_import_under_faults_prints_no_secret_or_token() {
    let sandbox = start(
        Sandbox::builder()
            .client(CI_ID, CI_SECRET, scopes::ALL.iter().copied())
            .fail_rate(0.2)
            .drop_rate(0.1)
            .seed(3),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = pearsana(&sandbox);
    command
        .args([
            "-vvv",
            "--client-id",
            CI_ID,
            "--client-secret",
            CI_SECRET,
            "users",
            "import",
        ])
        .arg(users_roster(dir.path(), 40, &[]));
    let run = exec(command).await;
    assert!(
        run.stderr.contains("retry"),
        "verbose logging shows retries: {}",
        run.stderr
    );
    assert_no_secrets(&run);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_creates_print_results_and_api_rejections_exit_1() {
    let sandbox = start(Sandbox::builder()).await;
    let create = |email: &str, reference: &str| {
        let mut command = pearsana(&sandbox);
        command.args([
            "users",
            "create",
            "--email",
            email,
            "--first-name",
            "Jane",
            "--last-name",
            "Smith",
            "--ref",
            reference,
            "--date-of-birth",
            "2000-05-15",
        ]);
        command
    };
    let created = exec(create("Jane@Example.org", "SIS:STU-1")).await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert_eq!(json_lines(&created)[0]["status"], "created");
    let again = exec(create("jane@example.org", "SIS:STU-1")).await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(json_lines(&again)[0]["status"], "existing");
    assert_eq!(
        json_lines(&again)[0]["userId"],
        json_lines(&created)[0]["userId"]
    );
    let conflict = exec(create("other@example.org", "SIS:STU-1")).await;
    assert_eq!(conflict.code, 1, "{}", conflict.stderr);
    assert!(
        conflict.stderr.contains("EXTERNAL_REF_CONFLICT"),
        "{}",
        conflict.stderr
    );

    let mut command = pearsana(&sandbox);
    command.args([
        "invitations",
        "create",
        "--email",
        "new@example.org",
        "--first-name",
        "N",
        "--last-name",
        "E",
        "--ref",
        "LMS:9",
        "--role",
        "faculty",
    ]);
    let invited = exec(command).await;
    assert_eq!(invited.code, 0, "{}", invited.stderr);
    assert_eq!(json_lines(&invited)[0]["status"], "pending");

    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("transcript.pdf");
    let two = dir.path().join("diploma.pdf");
    std::fs::write(&one, b"%PDF-1.4 one").unwrap();
    std::fs::write(&two, b"%PDF-1.4 two").unwrap();
    let mut command = pearsana(&sandbox);
    command
        .args([
            "documents",
            "submit",
            "--ref",
            "SIS:STU-1",
            "--type",
            "OFFICIAL_TRANSCRIPT",
        ])
        .arg(&one);
    let single = exec(command).await;
    assert_eq!(single.code, 0, "{}", single.stderr);
    assert_eq!(json_lines(&single)[0]["mimeType"], "application/pdf");
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
        .arg(&one)
        .arg(&two);
    let batch = exec(command).await;
    assert_eq!(batch.code, 0, "{}", batch.stderr);
    assert!(json_lines(&batch).iter().all(|l| l["status"] == "created"));
    assert_eq!(
        sandbox
            .stats()
            .requests_by_operation
            .get("submit_document_batch"),
        Some(&1)
    );
    let mut command = pearsana(&sandbox);
    command
        .args([
            "documents",
            "submit",
            "--ref",
            "SIS:NOBODY",
            "--type",
            "DIPLOMA",
        ])
        .arg(&one);
    let missing = exec(command).await;
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stderr.contains("NOT_FOUND"), "{}", missing.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_problems_exit_2_and_an_unreachable_service_exits_4() {
    let sandbox = start(Sandbox::builder()).await;
    let dir = tempfile::tempdir().unwrap();
    let mut command = pearsana(&sandbox);
    command
        .args(["users", "import"])
        .arg(dir.path().join("missing.csv"));
    let missing = exec(command).await;
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(missing.stderr.contains("missing.csv"), "{}", missing.stderr);

    let bad_header = dir.path().join("bad.csv");
    std::fs::write(
        &bad_header,
        "email,fist_name,lastName,roleName,namespace,externalId\n",
    )
    .unwrap();
    let mut command = pearsana(&sandbox);
    command.args(["users", "import"]).arg(&bad_header);
    let header = exec(command).await;
    assert_eq!(header.code, 2, "{}", header.stderr);
    assert!(
        header.stderr.contains("fist_name") && header.stderr.contains("firstName"),
        "{}",
        header.stderr
    );

    let mut command = pearsana(&sandbox);
    command.args(["users", "import"]);
    assert_eq!(exec(command).await.code, 2, "clap usage error");

    let roster = users_roster(dir.path(), 3, &[]);
    let journal = dir.path().join("journal");
    std::fs::write(&journal, "{\"pearsanaJournal\":1,\"kind\":\"documents\"}\n").unwrap();
    let mut command = pearsana(&sandbox);
    command
        .args(["users", "import"])
        .arg(&roster)
        .arg("--journal")
        .arg(&journal);
    let wrong_journal = exec(command).await;
    assert_eq!(wrong_journal.code, 2, "{}", wrong_journal.stderr);
    assert!(
        wrong_journal.stderr.contains("documents import"),
        "{}",
        wrong_journal.stderr
    );

    let mut command = pearsana(&sandbox);
    command.args(["users", "import", "--dry-run"]).arg(&roster);
    let dry = exec(command).await;
    assert_eq!(
        (dry.code, dry.count("total"), dry.count("created")),
        (0, 3, 0)
    );
    assert!(
        sandbox.stats().requests_by_operation.is_empty(),
        "a dry run sends nothing"
    );

    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut command = tokio::process::Command::new(BIN);
    command.args([
        "--api-url",
        &format!("http://127.0.0.1:{port}"),
        "--output",
        "json",
        "health",
    ]);
    let down = exec(command).await;
    assert_eq!(down.code, 4, "{}", down.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_subcommand_serves_until_interrupted() {
    let mut child = tokio::process::Command::new(BIN)
        .args(["sandbox", "--listen", "127.0.0.1:0", "--seed", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let url = first.split_whitespace().last().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{first}");

    let mut command = tokio::process::Command::new(BIN);
    command.args([
        "--env",
        "local",
        "--api-url",
        &url,
        "--output",
        "json",
        "ping",
    ]);
    let ping = exec(command).await;
    assert_eq!(ping.code, 0, "default local client works: {}", ping.stderr);
    assert_eq!(
        json_lines(&ping)[0]["clientId"],
        pearsana_sandbox::DEFAULT_CLIENT_ID
    );

    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_the_whole_flow_offline() {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(["demo", "--output", "json"])
        .env_remove("PEARSANA_CLIENT_SECRET");
    let run = exec(command).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let steps = json_lines(&run);
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "sandbox",
            "ping",
            "import",
            "reimport",
            "invitation",
            "documents",
            "stats"
        ]
    );
    assert_eq!(steps[2]["summary"]["created"], 12);
    assert_eq!(steps[3]["summary"]["existing"], 12);
    assert_eq!(steps[4]["accepted"]["invitation"]["status"], "accepted");
    assert_eq!(steps[5]["documents"].as_array().unwrap().len(), 6);
    assert_eq!(steps[6]["sdkTokenRequests"], 1);
    assert_eq!(
        steps[6]["sandbox"]["tokenRequests"], 1,
        "the sandbox helper call reuses the SDK's token"
    );
    assert_eq!(steps[6]["sandbox"]["usersCreated"], 13);
    assert!(!run.stdout.contains("eyJ") && !run.stdout.contains("sandbox-secret"));

    let mut command = tokio::process::Command::new(BIN);
    command.args(["demo", "--output", "table"]);
    let table = run_table(command).await;
    assert!(
        table.contains("1. Sandbox listening on http://127.0.0.1:"),
        "{table}"
    );
    assert!(
        table.contains("7. The sandbox saw 1 token request"),
        "{table}"
    );
}

async fn run_table(command: tokio::process::Command) -> String {
    let run = exec(command).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_documents_exit_statuses_and_completions_are_generated() {
    let mut command = tokio::process::Command::new(BIN);
    command.arg("--help");
    let help = exec(command).await;
    assert_eq!(help.code, 0);
    for status in ["0 ", "1 ", "2 ", "3 ", "4 ", "130"] {
        assert!(
            help.stdout.contains(&format!("\n  {status}")),
            "{status} in {}",
            help.stdout
        );
    }
    for shell in ["bash", "zsh", "fish"] {
        let mut command = tokio::process::Command::new(BIN);
        command.args(["completions", shell]);
        let script = exec(command).await;
        assert_eq!(script.code, 0);
        assert!(
            script.stdout.contains("pearsana") && script.stdout.contains("import"),
            "{shell}"
        );
    }
}
