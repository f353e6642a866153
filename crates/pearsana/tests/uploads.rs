//! Streamed document uploads (`pearsana::upload`): the same bytes as the typed path, retries
//! that re-read the files, files that change under the upload, and sizes refused before any
//! request. The sandbox runs over loopback; a wiremock server captures exact bodies.

mod common;

use std::io::{Seek as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{VirtualClock, mount_token};
use pearsana::retry::retry_ambiguous_policy;
use pearsana::spec::MAX_DOCUMENT_BYTES;
use pearsana::upload::UPLOAD_CHUNK_BYTES;
use pearsana::{
    Client, DocumentFile, DocumentUpload, Environment, Error, ItemError, UploadSource, types,
};
use pearsana_sandbox::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningSandbox, Sandbox, ScriptedFault,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A fresh directory under the system's temporary folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("pearsana-uploads-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// Deterministic content of `len` bytes, different per `seed`.
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn reference(external_id: &str) -> types::ExternalReference {
    pearsana::external_reference("SIS", external_id).unwrap()
}

async fn sandbox() -> RunningSandbox {
    Sandbox::builder()
        .listen(([127, 0, 0, 1], 0).into())
        .spawn()
        .await
        .expect("sandbox starts")
}

fn sandbox_client(sandbox: &RunningSandbox) -> Client {
    Client::builder()
        .environment(Environment::Custom {
            api_url: sandbox.url(),
            auth_url: sandbox.url(),
        })
        .credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .clock(VirtualClock::new())
        .build()
        .expect("client builds")
}

/// Creates a user linked to `SIS:<external_id>`.
async fn linked_user(client: &Client, external_id: &str) {
    let request: types::CreateUserRequest = serde_json::from_value(json!({
        "identity": {"email": format!("{external_id}@example.com"), "firstName": "Jane",
                     "lastName": "Smith", "roleName": "student"},
        "externalReferences": [{"namespace": "SIS", "externalId": external_id}]
    }))
    .unwrap();
    client.create_user(&request).await.expect("user created");
}

/// Sets the optional fields of a batch item the same way on both paths.
fn decorate(item: &mut types::SubmitDocumentBatchItem, n: usize) {
    item.partner_reference_id = Some(format!("partner \"ref\" {n} ✓"));
    item.metadata
        .insert("term".into(), format!("2026 \u{e9}t\u{e9} \\ {n}"));
    item.metadata.insert("quote".into(), "\"\n\t".into());
}

#[tokio::test]
async fn streamed_bodies_are_byte_for_byte_the_json_of_the_typed_path() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/documents:submitBatch"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/documents:submit"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = common::client(&server, &clock);
    let dir = TempDir::new();

    // Sizes covering every remainder mod 3 and the chunk boundaries.
    let sizes = [
        1,
        2,
        3,
        4,
        UPLOAD_CHUNK_BYTES - 1,
        UPLOAD_CHUNK_BYTES,
        UPLOAD_CHUNK_BYTES + 1,
        2 * UPLOAD_CHUNK_BYTES + 2,
    ];
    let names = [
        "plain.pdf",
        "naïve \"quoted\" \\ 名前.pdf",
        "tab\u{2028}sep.png",
        "emoji 🎓.jpg",
    ];
    let mut typed_items = Vec::new();
    let mut uploads = Vec::new();
    for (n, size) in sizes.iter().enumerate() {
        let bytes = content(*size, n as u8);
        let name = names[n % names.len()];
        let path = dir.file(&format!("f{n}.bin"), &bytes);
        let id = format!("item-{n}-\u{fc}");
        let mut typed = DocumentFile::from_bytes(&bytes)
            .unwrap()
            .with_filename(name)
            .batch_item(&id, reference("STU \"1\""), "OFFICIAL_TRANSCRIPT")
            .unwrap();
        let mut upload = DocumentUpload::from_path(&path)
            .await
            .unwrap()
            .with_filename(name)
            .batch_item(&id, reference("STU \"1\""), "OFFICIAL_TRANSCRIPT")
            .unwrap();
        if n % 2 == 0 {
            decorate(&mut typed, n);
            decorate(upload.item_mut(), n);
            // `metadata` is a `HashMap`: the same map (same iteration order) on both paths.
            upload.item_mut().metadata = typed.metadata.clone();
        }
        typed_items.push(typed);
        uploads.push(upload);
    }

    let _ = client.upload_document_batch(&uploads).await;
    // A single document, with verification metadata.
    let single_bytes = content(UPLOAD_CHUNK_BYTES * 3 + 1, 9);
    let single_path = dir.file("single.pdf", &single_bytes);
    let mut typed_single = DocumentFile::from_bytes(&single_bytes)
        .unwrap()
        .with_filename("transcript \"final\".pdf")
        .submit_request(reference("STU-1"), "DIPLOMA")
        .unwrap();
    typed_single
        .verification_metadata
        .insert("note".into(), json!({"nested": ["ü", 1, null]}));
    let mut upload_single = DocumentUpload::from_path(&single_path)
        .await
        .unwrap()
        .with_filename("transcript \"final\".pdf")
        .submit_request(reference("STU-1"), "DIPLOMA")
        .unwrap();
    upload_single
        .request_mut()
        .verification_metadata
        .insert("note".into(), json!({"nested": ["ü", 1, null]}));
    let _ = client.upload_document(&upload_single).await;

    let received = server.received_requests().await.unwrap();
    let body_of = |suffix: &str| {
        let request = received
            .iter()
            .find(|r| r.url.path().ends_with(suffix))
            .expect("request sent");
        let declared: usize = request.headers["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(declared, request.body.len(), "Content-Length is exact");
        request.body.clone()
    };
    let typed_batch: types::SubmitDocumentBatchRequest =
        types::SubmitDocumentBatchRequest::builder()
            .items(typed_items)
            .try_into()
            .unwrap();
    let expected_batch = serde_json::to_vec(&typed_batch).unwrap();
    let streamed_batch = body_of("documents:submitBatch");
    assert!(
        streamed_batch == expected_batch,
        "batch bodies differ ({} vs {} bytes)",
        streamed_batch.len(),
        expected_batch.len()
    );
    let expected_single = serde_json::to_vec(&typed_single).unwrap();
    assert!(
        body_of("documents:submit") == expected_single,
        "single bodies differ"
    );
}

#[tokio::test]
async fn a_streamed_batch_dropped_before_processing_is_resent_and_each_document_stored_once() {
    let sandbox = sandbox().await;
    let client = sandbox_client(&sandbox);
    linked_user(&client, "STU-DROP").await;
    let dir = TempDir::new();
    let sizes = [1_000_000usize, 1_500_001, 2_000_002];
    let mut uploads = Vec::new();
    for (n, size) in sizes.iter().enumerate() {
        let path = dir.file(&format!("scan-{n}.pdf"), &content(*size, n as u8));
        uploads.push(
            DocumentUpload::from_path(&path)
                .await
                .unwrap()
                .batch_item(&format!("i{n}"), reference("STU-DROP"), "DIPLOMA")
                .unwrap(),
        );
    }
    sandbox
        .script_faults([ScriptedFault {
            operation: Some("submit_document_batch".into()),
            fault: "drop".into(),
        }])
        .unwrap();

    let answer = client
        .upload_document_batch(&uploads)
        .retry_policy(retry_ambiguous_policy())
        .send()
        .await
        .expect("the repeat is stored");

    assert_eq!(
        answer.metadata().attempts(),
        2,
        "dropped once, then sent again"
    );
    assert_eq!(answer.body().summary.succeeded, 3);
    let logged: Vec<(Option<u16>, Option<String>)> = sandbox
        .requests()
        .into_iter()
        .filter(|e| e.operation == Some("submit_document_batch"))
        .map(|e| (e.status, e.fault))
        .rev()
        .collect();
    assert_eq!(
        logged,
        vec![(None, Some("drop".to_owned())), (Some(200), None)]
    );
    let mut stored: Vec<(String, u64)> = sandbox
        .documents()
        .into_iter()
        .map(|d| (d.item_id.unwrap(), d.document.size_bytes.get()))
        .collect();
    stored.sort();
    assert_eq!(
        stored,
        vec![
            ("i0".to_owned(), 1_000_000),
            ("i1".to_owned(), 1_500_001),
            ("i2".to_owned(), 2_000_002)
        ],
        "each document stored once, with its full size"
    );
    sandbox.shutdown().await;
}

/// Plans a batch of two files, applies `change` to the second before sending, and checks
/// that the batch fails with a file error naming it (its message containing `expected`),
/// that nothing is stored and that the request is not repeated.
async fn a_changed_file_fails_its_batch(user: &str, change: impl FnOnce(&Path), expected: &str) {
    let sandbox = sandbox().await;
    let client = sandbox_client(&sandbox);
    linked_user(&client, user).await;
    let dir = TempDir::new();
    let first = dir.file("first.pdf", &content(700_000, 1));
    let changing = dir.file("changing.pdf", &content(900_000, 2));
    let mut uploads = Vec::new();
    for (n, path) in [&first, &changing].into_iter().enumerate() {
        uploads.push(
            DocumentUpload::from_path(path)
                .await
                .unwrap()
                .batch_item(&format!("s{n}"), reference(user), "DIPLOMA")
                .unwrap(),
        );
    }
    change(&changing);

    let outcome = client.upload_documents(uploads).await.expect("validated");
    for item in &outcome.items {
        match &item.result {
            Err(ItemError::Request(error)) => match &**error {
                Error::File { path, source } => {
                    assert_eq!(path, &changing, "names the file that changed");
                    assert!(source.to_string().contains(expected), "{source}");
                    assert!(!error.may_have_been_processed());
                }
                other => panic!("{}: expected a file error, got {other:?}", item.item_id),
            },
            other => panic!("{}: expected a failure, got {other:?}", item.item_id),
        }
    }
    assert!(sandbox.documents().is_empty(), "nothing stored");
    let batches = sandbox
        .requests()
        .into_iter()
        .filter(|e| e.operation == Some("submit_document_batch"))
        .count();
    assert!(batches <= 1, "not repeated: {batches} requests");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_file_that_shrinks_after_planning_fails_naming_it_and_nothing_is_stored() {
    // Planned at 900,000 bytes; half of it is gone by the time the batch is sent (after the
    // first file's bytes went out).
    let shrink = |path: &Path| {
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.set_len(450_000).unwrap();
    };
    a_changed_file_fails_its_batch("STU-SHRINK", shrink, "900000 bytes planned").await;
}

#[tokio::test]
async fn a_file_rewritten_to_the_same_size_after_planning_fails_naming_it() {
    // Same size, other bytes: only the modification time tells. It is set explicitly, so the
    // test does not depend on the file system's timestamp resolution.
    let rewrite = |path: &Path| {
        let planned = std::fs::metadata(path).unwrap().modified().unwrap();
        std::fs::write(path, content(900_000, 3)).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.set_modified(planned + std::time::Duration::from_secs(2))
            .unwrap();
    };
    a_changed_file_fails_its_batch("STU-REWRITE", rewrite, "written to since").await;
}

/// A reader that stops early once, as a file truncated while it is read would.
#[tokio::test]
async fn a_source_that_ends_early_mid_body_fails_naming_it_and_is_not_repeated() {
    let sandbox = sandbox().await;
    let client = sandbox_client(&sandbox);
    linked_user(&client, "STU-EARLY").await;
    let opened = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&opened);
    let declared = 3 * UPLOAD_CHUNK_BYTES as u64 + 5;
    let source = UploadSource::from_reader("scanner://tray-1", declared, move || {
        count.fetch_add(1, Ordering::SeqCst);
        async move {
            // One and a half chunks, then the end.
            let data = content(UPLOAD_CHUNK_BYTES * 3 / 2, 7);
            Ok(std::io::Cursor::new(data))
        }
    });
    let request = DocumentUpload::new(source)
        .with_filename("tray.pdf")
        .submit_request(reference("STU-EARLY"), "DIPLOMA")
        .unwrap();

    let error = client
        .upload_document(&request)
        .retry_policy(retry_ambiguous_policy())
        .await
        .expect_err("a truncated body is never sent as complete");

    match &error {
        Error::File { path, source } => {
            assert_eq!(path, Path::new("scanner://tray-1"));
            assert!(
                source.to_string().contains("ended after 294912"),
                "{source}"
            );
        }
        other => panic!("expected a file error, got {other:?}"),
    }
    assert!(error.to_string().contains("scanner://tray-1"), "{error}");
    assert_eq!(opened.load(Ordering::SeqCst), 1, "not repeated");
    assert!(sandbox.documents().is_empty());
    sandbox.shutdown().await;
}

#[tokio::test]
async fn empty_and_oversized_files_are_refused_before_any_request() {
    let sandbox = sandbox().await;
    let client = sandbox_client(&sandbox);
    let dir = TempDir::new();
    let empty = dir.file("empty.pdf", b"");
    let huge = dir.0.join("huge.pdf");
    let mut file = std::fs::File::create(&huge).unwrap();
    // Sparse: one byte past the limit without writing 10 MiB.
    file.seek(std::io::SeekFrom::Start(MAX_DOCUMENT_BYTES))
        .unwrap();
    file.write_all(b"x").unwrap();
    drop(file);
    let fine = dir.file("fine.pdf", b"%PDF");

    let mut uploads = Vec::new();
    for (n, path) in [&fine, &empty, &huge].into_iter().enumerate() {
        uploads.push(
            DocumentUpload::from_path(path)
                .await
                .unwrap()
                .batch_item(&format!("z{n}"), reference("STU-Z"), "DIPLOMA")
                .unwrap(),
        );
    }
    let Err(Error::Validation(problems)) = client.upload_documents(uploads.clone()).await else {
        panic!("expected a validation error");
    };
    assert!(!problems.mentions("items[0].file"), "{problems}");
    assert!(problems.mentions("items[1].file"), "{problems}");
    assert!(problems.mentions("items[2].file"), "{problems}");
    let text = problems.to_string();
    assert!(
        text.contains("empty.pdf") && text.contains("is empty"),
        "{text}"
    );
    assert!(
        text.contains("huge.pdf") && text.contains("10485761 bytes"),
        "{text}"
    );

    let Err(Error::Validation(_)) = client.upload_document_batch(&uploads).await else {
        panic!("expected a validation error");
    };
    let single = DocumentUpload::from_path(&empty)
        .await
        .unwrap()
        .submit_request(reference("STU-Z"), "DIPLOMA")
        .unwrap();
    let Err(Error::Validation(problems)) = client.upload_document(&single).await else {
        panic!("expected a validation error");
    };
    assert!(problems.mentions("file"), "{problems}");
    // Too many items for one request, through the same validation as the typed path.
    let many: Vec<_> = (0..26)
        .map(|n| {
            let mut item = uploads[0].clone();
            item.item_mut().item_id = format!("m{n}").as_str().try_into().unwrap();
            item
        })
        .collect();
    let Err(Error::Validation(problems)) = client.upload_document_batch(&many).await else {
        panic!("expected a validation error");
    };
    assert!(problems.mentions("items"), "{problems}");

    assert!(
        sandbox.requests().is_empty(),
        "the sandbox saw no request at all: {:?}",
        sandbox.requests()
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_401_replays_the_streamed_body_in_full_with_a_new_token() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/documents:submit"))
        .respond_with(common::error_response(401, "UNAUTHORIZED", None))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/documents:submit"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"document": common::document_json("doc-1")})),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let client = common::client(&server, &clock);
    let dir = TempDir::new();
    let bytes = content(2 * UPLOAD_CHUNK_BYTES + 1, 3);
    let path = dir.file("replayed.pdf", &bytes);
    let typed = DocumentFile::from_bytes(&bytes)
        .unwrap()
        .with_filename("replayed.pdf")
        .submit_request(reference("STU-1"), "DIPLOMA")
        .unwrap();
    let upload = DocumentUpload::from_path(&path)
        .await
        .unwrap()
        .submit_request(reference("STU-1"), "DIPLOMA")
        .unwrap();

    let answer = client
        .upload_document(&upload)
        .send()
        .await
        .expect("replayed");

    assert_eq!(answer.body().document.document_id, "doc-1");
    let expected = serde_json::to_vec(&typed).unwrap();
    let bodies: Vec<Vec<u8>> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/documents:submit")
        .map(|r| r.body)
        .collect();
    assert_eq!(bodies.len(), 2, "sent, refused with 401, replayed");
    assert!(
        bodies.iter().all(|b| *b == expected),
        "both attempts sent the whole body"
    );
}
