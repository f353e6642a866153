//! Every `x-codeSamples` entry of the spec runs: the Rust samples (compiled here from
//! `openapi/code-samples/rust.rs`), the curl samples and the `pearsana` CLI samples
//! (`openapi/code-samples/{curl,cli}/<operationId>.sh`, run with bash) each go through all six
//! operations, in order, against a fresh sandbox. `cargo xtask codegen --check` makes sure the
//! spec carries exactly these files.

#[path = "../../../openapi/code-samples/rust.rs"]
mod rust_samples;

use std::path::{Path, PathBuf};
use std::process::Command;

use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningSandbox, Sandbox};

/// The spec's operations, in an order where each sample finds what it needs (the user that
/// the document samples submit for is created by the createUser sample).
const OPERATIONS: [&str; 6] = [
    "getHealth",
    "ping",
    "createUser",
    "createInvitation",
    "submitDocument",
    "submitDocumentBatch",
];

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/code-samples")
}

async fn sandbox() -> RunningSandbox {
    Sandbox::builder().spawn().await.expect("sandbox starts")
}

/// Asserts what the sandbox stored after one language's run of all six samples.
fn assert_everything_was_stored(sandbox: &RunningSandbox, language: &str) {
    let stats = sandbox.stats();
    assert_eq!(stats.users_created, 1, "{language}: {stats:?}");
    assert_eq!(stats.invitations_created, 1, "{language}: {stats:?}");
    assert_eq!(stats.documents_created, 3, "{language}: {stats:?}");
}

/// Runs `<dir>/<operation>.sh` for every operation with bash, in `work`, with the sandbox's
/// URL and credentials in the environment and `path_prefix` in front of PATH.
fn run_scripts(dir: &str, sandbox: &RunningSandbox, work: &Path, path_prefix: Option<&Path>) {
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(prefix) = path_prefix {
        let mut dirs = vec![prefix.to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        path = std::env::join_paths(dirs).unwrap();
    }
    for operation in OPERATIONS {
        let script = samples_dir().join(dir).join(format!("{operation}.sh"));
        let output = Command::new("bash")
            .arg("-euo")
            .arg("pipefail")
            .arg(&script)
            .current_dir(work)
            .env("PATH", &path)
            .env("PEARSANA_API_URL", sandbox.url())
            .env("PEARSANA_AUTH_URL", sandbox.url())
            .env("PEARSANA_CLIENT_ID", DEFAULT_CLIENT_ID)
            .env("PEARSANA_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
            .env_remove("PEARSANA_ENV")
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "{dir}/{operation}.sh failed ({}):\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_code_sample_of_the_spec_runs_against_the_sandbox() {
    // Rust: the samples read their configuration with `Client::from_env()`.
    let rust = sandbox().await;
    // SAFETY: this test binary has this one test, and nothing reads the environment while it
    // is being set (no client exists yet).
    unsafe {
        std::env::set_var("PEARSANA_API_URL", rust.url());
        std::env::set_var("PEARSANA_AUTH_URL", rust.url());
        std::env::set_var("PEARSANA_CLIENT_ID", DEFAULT_CLIENT_ID);
        std::env::set_var("PEARSANA_CLIENT_SECRET", DEFAULT_CLIENT_SECRET);
        std::env::remove_var("PEARSANA_ENV");
    }
    rust_samples::get_health().await.expect("getHealth");
    rust_samples::ping().await.expect("ping");
    rust_samples::create_user().await.expect("createUser");
    rust_samples::create_invitation()
        .await
        .expect("createInvitation");
    rust_samples::submit_document()
        .await
        .expect("submitDocument");
    rust_samples::submit_document_batch()
        .await
        .expect("submitDocumentBatch");
    assert_everything_was_stored(&rust, "rust");

    let work = tempfile::tempdir().unwrap();
    for name in ["transcript.pdf", "diploma.pdf"] {
        std::fs::write(work.path().join(name), b"%PDF-1.4\n").unwrap();
    }

    let curl = sandbox().await;
    run_scripts("curl", &curl, work.path(), None);
    assert_everything_was_stored(&curl, "curl");

    let cli = sandbox().await;
    let binary = Path::new(env!("CARGO_BIN_EXE_pearsana"));
    run_scripts("cli", &cli, work.path(), binary.parent());
    assert_everything_was_stored(&cli, "cli");
}
