//! `--data-dir` (issue 13 item 4): state survives restarts and `kill -9`; reset clears it.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{document_body, post, token, user_body};
use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningSandbox, Sandbox};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

/// A fresh directory under the system's temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!("pearsana-sandbox-{}", uuid::Uuid::new_v4()));
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start_in(dir: &Path) -> RunningSandbox {
    Sandbox::builder().data_dir(dir).spawn().await.unwrap()
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = TempDir::new();
    let sandbox = start_in(dir.path()).await;
    let token = token(&sandbox).await;
    let created = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("Jane@Example.com", "SIS", "1"),
    )
    .await;
    assert_eq!(created.status, 201);
    let invitation = json!({
        "email": "inv@example.com",
        "identity": {"firstName": "In", "lastName": "Vite"},
        "externalReferences": [{"namespace": "LMS", "externalId": "9"}],
    });
    let invited = post(&sandbox, &token, "/v1/invitations", &invitation).await;
    assert_eq!(invited.status, 201);
    let id = invited.body["invitation"]["invitationId"].as_str().unwrap();
    let accepted = post(
        &sandbox,
        &token,
        &format!("/sandbox/v1/invitations/{id}:accept"),
        &json!({}),
    )
    .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let pending = post(
        &sandbox,
        &token,
        "/v1/invitations",
        &json!({
            "email": "later@example.com",
            "identity": {"firstName": "La", "lastName": "Ter"},
            "externalReferences": [{"namespace": "LMS", "externalId": "10"}],
        }),
    )
    .await;
    assert_eq!(pending.status, 201);
    let document = post(
        &sandbox,
        &token,
        "/v1/documents:submit",
        &document_body("sis", "1"),
    )
    .await;
    assert_eq!(document.status, 201, "{}", document.body);
    let before = (
        serde_json::to_value(sandbox.users()).unwrap(),
        serde_json::to_value(sandbox.invitations()).unwrap(),
        serde_json::to_value(sandbox.documents()).unwrap(),
    );
    sandbox.shutdown().await;

    let sandbox = start_in(dir.path()).await;
    let after = (
        serde_json::to_value(sandbox.users()).unwrap(),
        serde_json::to_value(sandbox.invitations()).unwrap(),
        serde_json::to_value(sandbox.documents()).unwrap(),
    );
    assert_eq!(before, after);
    assert_eq!(after.0.as_array().unwrap().len(), 2);
    // Emails and links are enforced from the reloaded state.
    let token = common::token(&sandbox).await;
    let again = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("jane@example.com", "X", "2"),
    )
    .await;
    again.assert_error(409, "CONFLICT");
    let taken = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("other@example.com", "lms", "9"),
    )
    .await;
    taken.assert_error(409, "EXTERNAL_REF_CONFLICT");
    assert!(
        taken.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("lms/9")
    );
    let linked_doc = post(
        &sandbox,
        &token,
        "/v1/documents:submit",
        &document_body("LMS", "9"),
    )
    .await;
    assert_eq!(linked_doc.status, 201, "{}", linked_doc.body);
    // The pending invitation can still be accepted after the restart.
    let later = sandbox
        .invitations()
        .into_iter()
        .find(|i| i.status == "pending")
        .unwrap();
    let accepted = post(
        &sandbox,
        &token,
        &format!("/sandbox/v1/invitations/{}:accept", later.invitation_id),
        &json!({}),
    )
    .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
}

#[tokio::test]
async fn reset_clears_the_data_directory() {
    let dir = TempDir::new();
    let sandbox = start_in(dir.path()).await;
    let token = token(&sandbox).await;
    let created = post(
        &sandbox,
        &token,
        "/v1/users",
        &user_body("a@example.com", "SIS", "1"),
    )
    .await;
    assert_eq!(created.status, 201);
    let reset = post(&sandbox, &token, "/sandbox/v1/reset", &json!({})).await;
    assert_eq!(reset.status, 204);
    sandbox.shutdown().await;
    let sandbox = start_in(dir.path()).await;
    assert!(sandbox.users().is_empty());
}

#[tokio::test]
async fn an_unusable_data_directory_is_a_startup_error() {
    let dir = TempDir::new();
    std::fs::write(dir.path(), b"a file, not a directory").unwrap();
    let error = Sandbox::builder()
        .data_dir(dir.path())
        .spawn()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("data directory"), "{error}");
    let _ = std::fs::remove_file(dir.path());
}

/// Starts the binary on a free port with `--data-dir`; returns the child and its base URL.
async fn spawn_binary(dir: &Path) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_pearsana-sandbox"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("PEARSANA_SANDBOX_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\n") {
        stdout.read_exact(&mut byte).await.unwrap();
        line.push(byte[0]);
    }
    // Keep reading, so that the rest of the banner never meets a closed pipe.
    tokio::spawn(async move { tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await });
    let line = String::from_utf8(line).unwrap();
    let url = format!("http://{}", line.trim().rsplit("http://").next().unwrap());
    (child, url)
}

async fn token_at(http: &reqwest::Client, url: &str) -> String {
    let body: Value = http
        .post(format!("{url}/oauth2/token"))
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

/// Every create answered `201` before `kill -9` is there after a restart.
#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = TempDir::new();
    let (mut child, url) = spawn_binary(dir.path()).await;
    let http = reqwest::Client::new();
    let token = token_at(&http, &url).await;
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    const WRITERS: usize = 8;
    const KILL_AFTER: usize = 300;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            let acknowledged = acknowledged.clone();
            tokio::spawn(async move {
                for n in 0.. {
                    let email = format!("w{w}n{n}@example.com");
                    let sent = http
                        .post(format!("{url}/v1/users"))
                        .bearer_auth(&token)
                        .header("X-API-Version", pearsana_api::spec::API_VERSION)
                        .json(&user_body(&email, "SIS", &email))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == 201 => {
                            acknowledged.lock().unwrap().insert(email);
                        }
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        // The server is gone.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < KILL_AFTER {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.start_kill().unwrap(); // SIGKILL, with writes in flight
    child.wait().await.unwrap();
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let (mut child, url) = spawn_binary(dir.path()).await;
    let token = token_at(&http, &url).await;
    let users: Value = http
        .get(format!("{url}/sandbox/v1/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored: BTreeSet<String> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_string())
        .collect();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    eprintln!(
        "kill -9 with {WRITERS} writers: {} acknowledged, {} stored after restart, {} lost",
        acknowledged.len(),
        stored.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(acknowledged.len() >= KILL_AFTER);
    child.start_kill().unwrap();
}
