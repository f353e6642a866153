//! Document helpers and `submit_documents`: splitting, bounded concurrency, per-item outcomes.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use pearsana::types;
use pearsana::{DocumentFile, Error, ErrorCode, ItemError, external_reference};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers a batch like the API would: items whose external id is `missing` fail with
/// `NOT_FOUND`, `mystery` fails with a code the SDK does not know, the rest are created. A batch
/// holding an item `boom` fails as a whole. Every answer takes `delay`.
#[derive(Clone, Default)]
struct BatchResponder {
    delay: Duration,
}

impl Respond for BatchResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap();
        let items = body["items"].as_array().unwrap();
        assert!(
            !items.is_empty() && items.len() <= 25,
            "batch of {}",
            items.len()
        );
        if items.iter().any(|i| i["itemId"] == "boom") {
            return error_response(500, "INTERNAL_SERVER_ERROR", None);
        }
        let results: Vec<Value> = items
            .iter()
            .map(|item| {
                let id = item["itemId"].as_str().unwrap();
                match item["externalReference"]["externalId"].as_str().unwrap() {
                    "missing" => json!({"itemId": id, "status": "failed",
                        "error": {"code": "NOT_FOUND", "message": "no user"}}),
                    "mystery" => json!({"itemId": id, "status": "failed",
                        "error": {"code": "QUARANTINED", "message": "held"}}),
                    _ => json!({"itemId": id, "status": "created", "document": document_json(&format!("doc-{id}"))}),
                }
            })
            .collect();
        let failed = results.iter().filter(|r| r["status"] == "failed").count();
        ResponseTemplate::new(200)
            .set_body_json(json!({
                "results": results,
                "summary": {"total": items.len(), "succeeded": items.len() - failed, "failed": failed}
            }))
            .set_delay(self.delay)
    }
}

fn item(item_id: &str, external_id: &str) -> types::SubmitDocumentBatchItem {
    DocumentFile::from_bytes(b"hello")
        .unwrap()
        .with_filename("t.pdf")
        .batch_item(
            item_id,
            external_reference("SIS", external_id).unwrap(),
            "OFFICIAL_TRANSCRIPT",
        )
        .unwrap()
}

async fn batch_server(responder: BatchResponder) -> MockServer {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/documents:submitBatch"))
        .respond_with(responder)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn submit_documents_splits_into_batches_and_returns_one_outcome_per_item() {
    let delay = Duration::from_millis(150);
    let server = batch_server(BatchResponder { delay }).await;
    let clock = VirtualClock::new();
    let client = builder(&server, &clock)
        .batch_concurrency(2)
        .build()
        .unwrap();

    let mut items: Vec<_> = (0..60)
        .map(|i| item(&format!("item-{i:02}"), "STU-1"))
        .collect();
    items[7] = item("item-07", "missing");
    items[40] = item("item-40", "mystery");
    let started = std::time::Instant::now();
    let outcome = client.submit_documents(items).await.unwrap();

    assert_eq!(
        count(&server, "/v1/documents:submitBatch").await,
        3,
        "25 + 25 + 10"
    );
    // Three requests, at most two at a time: at least two rounds of the server's delay.
    assert!(started.elapsed() >= delay * 2, "{:?}", started.elapsed());
    assert_eq!(outcome.items.len(), 60);
    assert_eq!(outcome.items[0].item_id, "item-00", "input order is kept");
    assert_eq!(outcome.items[59].item_id, "item-59");
    assert_eq!(outcome.succeeded(), 58);
    assert_eq!(outcome.failed(), 2);
    assert_eq!(
        outcome
            .get("item-03")
            .unwrap()
            .result
            .as_ref()
            .unwrap()
            .document_id,
        "doc-item-03"
    );
    assert!(matches!(
        outcome.get("item-07").unwrap().result,
        Err(ItemError::Rejected {
            code: ErrorCode::NotFound,
            ..
        })
    ));
    assert!(matches!(
        &outcome.get("item-40").unwrap().result,
        Err(ItemError::Rejected { code, .. }) if code.is_unknown() && code.as_str() == "QUARANTINED"
    ));
    let map = outcome.into_map();
    assert_eq!(map.len(), 60);
}

#[tokio::test]
async fn a_failed_batch_request_is_attributed_to_each_of_its_items() {
    let server = batch_server(BatchResponder::default()).await;
    let clock = VirtualClock::new();
    let client = client(&server, &clock);
    let mut items: Vec<_> = (0..30).map(|i| item(&format!("i{i}"), "STU-1")).collect();
    items[3] = item("boom", "STU-1");
    let outcome = client.submit_documents(items).await.unwrap();

    // The first request (items 0-24) failed as a whole: not repeated (ambiguous, not idempotent).
    assert_eq!(count(&server, "/v1/documents:submitBatch").await, 2);
    assert_eq!(outcome.failed(), 25);
    assert_eq!(outcome.succeeded(), 5);
    let shared = match &outcome.get("i0").unwrap().result {
        Err(ItemError::Request(error)) => error.clone(),
        other => panic!("expected a request failure, got {other:?}"),
    };
    assert_eq!(shared.code(), Some(ErrorCode::InternalServerError));
    match &outcome.get("i24").unwrap().result {
        Err(ItemError::Request(error)) => assert!(Arc::ptr_eq(error, &shared)),
        other => panic!("expected the shared failure, got {other:?}"),
    }
    assert!(outcome.get("i25").unwrap().result.is_ok());
}

#[tokio::test]
async fn no_items_means_no_requests() {
    let server = batch_server(BatchResponder::default()).await;
    let clock = VirtualClock::new();
    let outcome = client(&server, &clock)
        .submit_documents(vec![])
        .await
        .unwrap();
    assert!(outcome.items.is_empty());
    assert_eq!(count(&server, "/v1/documents:submitBatch").await, 0);
}

#[tokio::test]
async fn single_document_round_trip() {
    let server = MockServer::start().await;
    mount_token(&server, "tok", 3600).await;
    Mock::given(method("POST"))
        .and(path("/v1/documents:submit"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({"document": document_json("doc-1")})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let clock = VirtualClock::new();
    let request = DocumentFile::from_bytes(b"hello")
        .unwrap()
        .with_filename("t.pdf")
        .submit_request(
            external_reference("SIS", "STU-1").unwrap(),
            "OFFICIAL_TRANSCRIPT",
        )
        .unwrap();
    let created = client(&server, &clock)
        .submit_document(&request)
        .await
        .unwrap();
    assert_eq!(created.document.document_id, "doc-1");
    let sent: Value = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .find(|r| r.url.path() == "/v1/documents:submit")
        .unwrap()
        .body_json()
        .unwrap();
    assert_eq!(sent["file"], "aGVsbG8=");
    assert_eq!(sent["filename"], "t.pdf");
}

#[tokio::test]
async fn document_file_reads_a_path_and_names_it() {
    let dir = std::env::temp_dir().join(format!("pearsana-doc-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("transcript-jane.pdf");
    std::fs::write(&path, b"%PDF-1.4").unwrap();
    let file = DocumentFile::from_path(&path).await.unwrap();
    assert_eq!(file.filename(), Some("transcript-jane.pdf"));
    assert_eq!(file.size(), 8);
    assert_eq!(file.base64(), "JVBERi0xLjQ=");

    let missing = DocumentFile::from_path(dir.join("nope.pdf"))
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::File { .. }), "{missing:?}");
    std::fs::write(dir.join("empty.pdf"), b"").unwrap();
    assert!(matches!(
        DocumentFile::from_path(dir.join("empty.pdf")).await,
        Err(Error::Validation(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
