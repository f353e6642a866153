//! Shared helpers for the end-to-end tests: an in-process sandbox on 127.0.0.1:0, the real
//! `pearsana` binary pointed at it, and the sandbox's read-back endpoints.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningSandbox, SandboxBuilder};
use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_pearsana");

/// Longest any single CLI run may take in these tests.
pub const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Starts a sandbox on a free loopback port.
pub async fn start(builder: SandboxBuilder) -> RunningSandbox {
    builder
        .listen(([127, 0, 0, 1], 0).into())
        .spawn()
        .await
        .expect("sandbox starts")
}

/// A `pearsana` command aimed at `sandbox` with its default client, JSON output, and no
/// `PEARSANA_*` variables inherited from the environment.
pub fn pearsana(sandbox: &RunningSandbox) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BIN);
    for var in [
        "PEARSANA_ENV",
        "PEARSANA_API_URL",
        "PEARSANA_AUTH_URL",
        "PEARSANA_CLIENT_ID",
        "PEARSANA_CLIENT_SECRET",
        "PEARSANA_SCOPES",
        "PEARSANA_API_VERSION",
    ] {
        command.env_remove(var);
    }
    command
        .args([
            "--env",
            "local",
            "--api-url",
            &sandbox.url(),
            "--output",
            "json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// What a finished run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    /// Exit status (`-1` when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// The last stdout line, as JSON (the summary of an import).
    pub fn summary(&self) -> Value {
        let last = self
            .stdout
            .lines()
            .last()
            .unwrap_or_else(|| panic!("no stdout; stderr: {}", self.stderr));
        serde_json::from_str(last).unwrap_or_else(|e| panic!("last line {last:?} is not JSON: {e}"))
    }

    /// A count from the summary.
    pub fn count(&self, key: &str) -> u64 {
        self.summary()[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key} in {}", self.stdout))
    }
}

/// Runs a command to completion.
pub async fn exec(mut command: tokio::process::Command) -> Run {
    let output = tokio::time::timeout(RUN_LIMIT, command.output())
        .await
        .expect("the CLI finishes in time")
        .expect("the CLI starts");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The email of roster row `i`.
pub fn email(i: usize) -> String {
    format!("student{i}@uni.example")
}

/// Writes a users roster of `rows` rows; rows listed in `invalid` lack a first name and have
/// a malformed email.
pub fn users_roster(dir: &Path, rows: usize, invalid: &[usize]) -> PathBuf {
    let mut text = String::from("Email,First Name,last_name,roleName,namespace,external-id\n");
    for i in 0..rows {
        if invalid.contains(&i) {
            text.push_str(&format!("broken-{i},,Last{i},student,SIS,S{i:05}\n"));
        } else {
            text.push_str(&format!(
                "{},First{i},Last{i},student,SIS,S{i:05}\n",
                email(i)
            ));
        }
    }
    let path = dir.join("users.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// An access token of the default client, for the read-back helpers.
async fn token(sandbox: &RunningSandbox) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("{}{}", sandbox.url(), pearsana_sandbox::TOKEN_PATH))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEFAULT_CLIENT_ID),
            ("client_secret", DEFAULT_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// `GET /sandbox/v1/{what}` (users, invitations, documents), the array inside.
pub async fn read_back(sandbox: &RunningSandbox, what: &str) -> Vec<Value> {
    let token = token(sandbox).await;
    let body: Value = reqwest::Client::new()
        .get(format!("{}/sandbox/v1/{what}", sandbox.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body[what]
        .as_array()
        .unwrap_or_else(|| panic!("{what} in {body}"))
        .clone()
}

/// Asserts that the sandbox holds exactly one user per expected email, and no others.
pub async fn assert_users_exactly(
    sandbox: &RunningSandbox,
    expected: impl IntoIterator<Item = String>,
) {
    let mut emails: Vec<String> = read_back(sandbox, "users")
        .await
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_string())
        .collect();
    emails.sort();
    let mut expected: Vec<String> = expected.into_iter().collect();
    expected.sort();
    assert_eq!(emails.len(), expected.len(), "number of users");
    assert_eq!(emails, expected, "each expected user exactly once");
}

/// Counts the journal entries recording a finished row.
pub fn confirmed_in_journal(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"event\":\"created\"") || l.contains("\"event\":\"existing\""))
        .count()
}
