//! The retry rules against the real sandbox over loopback, with faults that are scripted
//! (`POST /sandbox/v1/faults`) or asked for per call (`X-Sandbox-Fault`) instead of drawn at
//! random: each test knows which attempt fails and how, so every count is exact.
//!
//! The request log (`GET /sandbox/v1/requests`) and the sandbox's state show what the server
//! saw; the response metadata and the virtual clock show what the client did.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{VirtualClock, invitation_request};
use pearsana::retry::{FailureKind, NeverRetry, retry_ambiguous_policy};
use pearsana::{Client, Environment, Error, ErrorCode, UserOutcome, types};
use pearsana_sandbox::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, FAULT_HEADER, RunningSandbox, Sandbox, ScriptedFault,
};
use serde_json::json;

/// A user with its own email and external reference.
fn user_request(email: &str) -> types::CreateUserRequest {
    serde_json::from_value(json!({
        "identity": {"email": email, "firstName": "Jane", "lastName": "Smith", "roleName": "student"},
        "externalReferences": [{"namespace": "SIS", "externalId": format!("ID-{email}")}]
    }))
    .unwrap()
}

/// A sandbox on a free loopback port, without random faults.
async fn sandbox() -> RunningSandbox {
    Sandbox::builder()
        .listen(([127, 0, 0, 1], 0).into())
        .spawn()
        .await
        .expect("sandbox starts")
}

/// A client of the sandbox's default App Client; waits go to `clock`.
fn client(sandbox: &RunningSandbox, clock: &Arc<VirtualClock>) -> Client {
    Client::builder()
        .environment(Environment::Custom {
            api_url: sandbox.url(),
            auth_url: sandbox.url(),
        })
        .credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .clock(clock.clone())
        .build()
        .expect("client builds")
}

/// Queues `faults` (`(operation, fault)` pairs) in the sandbox's fault script.
fn script(sandbox: &RunningSandbox, faults: &[(&str, &str)]) {
    sandbox
        .script_faults(faults.iter().map(|(operation, fault)| ScriptedFault {
            operation: Some((*operation).to_owned()),
            fault: (*fault).to_owned(),
        }))
        .expect("script accepted");
}

/// The fault script entries not used yet.
fn pending_faults(sandbox: &RunningSandbox) -> usize {
    sandbox.pending_faults().len()
}

/// One request as the sandbox logged it.
#[derive(Debug, PartialEq)]
struct Logged {
    status: Option<u64>,
    fault: Option<String>,
    request_id: String,
}

/// The logged requests of `operation`, oldest first.
fn logged(sandbox: &RunningSandbox, operation: &str) -> Vec<Logged> {
    let mut entries: Vec<Logged> = sandbox
        .requests()
        .into_iter()
        .filter(|entry| entry.operation == Some(operation))
        .map(|entry| Logged {
            status: entry.status.map(u64::from),
            fault: entry.fault,
            request_id: entry.request_id,
        })
        .collect();
    entries.reverse();
    entries
}

/// `(status, fault)` of each logged request of `operation`, oldest first.
async fn statuses(sandbox: &RunningSandbox, operation: &str) -> Vec<(Option<u64>, Option<String>)> {
    logged(sandbox, operation)
        .into_iter()
        .map(|l| (l.status, l.fault))
        .collect()
}

fn fault(name: &str) -> Option<String> {
    Some(name.to_owned())
}

#[tokio::test]
async fn a_scripted_429_is_waited_out_and_the_user_is_created_by_the_second_attempt() {
    let sandbox = sandbox().await;
    script(&sandbox, &[("create_user", "429")]);
    let clock = VirtualClock::new();
    let client = client(&sandbox, &clock);

    let created = client
        .create_user(&user_request("jane@example.com"))
        .send()
        .await
        .expect("the second attempt succeeds");

    assert_eq!(created.metadata().attempts(), 2);
    assert_eq!(created.metadata().status().as_u16(), 201);
    assert_eq!(
        clock.sleeps(),
        vec![Duration::from_secs(1)],
        "the client waited exactly the sandbox's Retry-After"
    );
    assert_eq!(
        statuses(&sandbox, "create_user").await,
        vec![(Some(429), fault("429")), (Some(201), None)]
    );
    let ids: Vec<String> = logged(&sandbox, "create_user")
        .into_iter()
        .map(|l| l.request_id)
        .collect();
    assert_eq!(ids, vec![created.metadata().request_id().to_owned(); 2]);
    let users = sandbox.users();
    assert_eq!(users.len(), 1, "exactly one user stored");
    assert_eq!(users[0].user_id, created.body().user_id);
    assert_eq!(sandbox.stats().users_created, 1);
    assert_eq!(pending_faults(&sandbox), 0, "the script was used up");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_lost_answer_on_user_creation_is_ambiguous_and_create_or_get_ends_with_one_user() {
    let sandbox = sandbox().await;
    let clock = VirtualClock::new();
    let client = client(&sandbox, &clock);

    // Without retries the caller sees the failure itself: the classifier calls it ambiguous.
    script(&sandbox, &[("create_user", "lost-answer")]);
    let error = client
        .create_user(&user_request("first@example.com"))
        .retry_policy(NeverRetry)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert_eq!(error.failure_kind(), FailureKind::Ambiguous);
    assert!(error.may_have_been_processed());
    assert_eq!(
        sandbox.users().len(),
        1,
        "the sandbox did store the user whose answer was lost"
    );

    // With the default policy create-or-get repeats the call and resolves the 409.
    script(&sandbox, &[("create_user", "lost-answer")]);
    let answer = client
        .create_or_get_user(&user_request("Second@Example.com"))
        .send()
        .await
        .expect("resolved through the conflict");
    assert_eq!(answer.metadata().attempts(), 2);
    assert_eq!(answer.metadata().status().as_u16(), 409);
    let stored = sandbox
        .users()
        .into_iter()
        .find(|u| u.email == "second@example.com")
        .expect("the user was stored once");
    assert_eq!(
        answer.body(),
        &UserOutcome::Existing {
            user_id: stored.user_id.clone(),
            email: "second@example.com".into()
        }
    );
    assert_eq!(clock.sleeps().len(), 1, "one back-off before the repeat");
    assert_eq!(
        statuses(&sandbox, "create_user").await,
        vec![
            (None, fault("lost-answer")),
            (None, fault("lost-answer")),
            (Some(409), None),
        ]
    );
    assert_eq!(sandbox.users().len(), 2, "no user was created twice");
    assert_eq!(sandbox.stats().users_created, 2);
    assert_eq!(sandbox.stats().lost_answers, 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_dropped_request_was_not_processed_and_the_repeat_creates_the_user() {
    let sandbox = sandbox().await;
    script(&sandbox, &[("create_user", "drop")]);
    let clock = VirtualClock::new();

    let answer = client(&sandbox, &clock)
        .create_or_get_user(&user_request("dropped@example.com"))
        .send()
        .await
        .expect("repeated after the dropped connection");

    // The client cannot tell a drop from a lost answer, so it repeats only because creating
    // a user is idempotent; the sandbox dropped it before processing, so the repeat creates.
    assert_eq!(answer.metadata().attempts(), 2);
    assert!(
        matches!(answer.body(), UserOutcome::Created(_)),
        "{:?}",
        answer.body()
    );
    assert_eq!(
        statuses(&sandbox, "create_user").await,
        vec![(None, fault("drop")), (Some(201), None)]
    );
    assert_eq!(sandbox.users().len(), 1);
    assert_eq!(sandbox.stats().dropped_connections, 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_503_with_retry_after_is_repeated_even_for_an_invitation() {
    let sandbox = sandbox().await;
    script(&sandbox, &[("create_invitation", "503")]);
    let clock = VirtualClock::new();

    let invited = client(&sandbox, &clock)
        .create_invitation(&invitation_request())
        .send()
        .await
        .expect("a 503 with Retry-After certainly did nothing: safe to repeat");

    assert_eq!(invited.metadata().attempts(), 2);
    assert_eq!(clock.sleeps(), vec![Duration::from_secs(1)]);
    assert_eq!(
        statuses(&sandbox, "create_invitation").await,
        vec![(Some(503), fault("503")), (Some(201), None)]
    );
    let invitations = sandbox.invitations();
    assert_eq!(invitations.len(), 1, "exactly one invitation");
    assert_eq!(
        invitations[0].invitation_id,
        invited.body().invitation.invitation_id
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_500_on_an_invitation_is_not_repeated_unless_the_call_opts_in() {
    let sandbox = sandbox().await;
    let clock = VirtualClock::new();
    let client = client(&sandbox, &clock);

    script(&sandbox, &[("create_invitation", "500")]);
    let error = client
        .create_invitation(&invitation_request())
        .await
        .unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::InternalServerError));
    assert!(error.may_have_been_processed(), "a 500 is ambiguous");
    assert!(clock.sleeps().is_empty(), "no repeat by default");
    assert_eq!(
        statuses(&sandbox, "create_invitation").await,
        vec![(Some(500), fault("500"))]
    );
    assert!(sandbox.invitations().is_empty());

    script(&sandbox, &[("create_invitation", "500")]);
    let invited = client
        .create_invitation(&invitation_request())
        .retry_policy(retry_ambiguous_policy())
        .send()
        .await
        .expect("repeated after opting in");
    assert_eq!(invited.metadata().attempts(), 2);
    assert_eq!(
        statuses(&sandbox, "create_invitation").await,
        vec![
            (Some(500), fault("500")),
            (Some(500), fault("500")),
            (Some(201), None)
        ]
    );
    assert_eq!(sandbox.invitations().len(), 1);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_lost_answer_on_an_invitation_is_left_to_the_caller() {
    let sandbox = sandbox().await;
    script(&sandbox, &[("create_invitation", "lost-answer")]);
    let clock = VirtualClock::new();

    let error = client(&sandbox, &clock)
        .create_invitation(&invitation_request())
        .await
        .unwrap_err();

    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(error.may_have_been_processed());
    assert!(error.request_id().is_some());
    assert!(
        clock.sleeps().is_empty(),
        "not repeated: it could duplicate"
    );
    assert_eq!(
        statuses(&sandbox, "create_invitation").await,
        vec![(None, fault("lost-answer"))]
    );
    assert_eq!(
        sandbox.invitations().len(),
        1,
        "the invitation exists although the caller got an error"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_fault_header_hits_every_attempt_so_429s_exhaust_the_attempt_limit() {
    let sandbox = sandbox().await;
    let clock = VirtualClock::new();

    let error = client(&sandbox, &clock)
        .ping()
        .header(FAULT_HEADER, "429")
        .unwrap()
        .await
        .unwrap_err();

    let api = error.api_error().expect("an API error");
    assert_eq!(api.code, ErrorCode::TooManyRequests);
    assert_eq!(api.retry_after(), Some(Duration::from_secs(1)));
    assert!(!error.may_have_been_processed());
    assert_eq!(
        clock.sleeps(),
        vec![Duration::from_secs(1); 3],
        "four attempts"
    );
    assert_eq!(
        statuses(&sandbox, "ping").await,
        vec![(Some(429), fault("429")); 4]
    );
    assert_eq!(sandbox.stats().rate_limited, 4);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_slow_attempt_times_out_and_the_idempotent_ping_is_repeated() {
    let sandbox = sandbox().await;
    script(&sandbox, &[("ping", "latency=3000")]);
    let clock = VirtualClock::new();

    let pong = client(&sandbox, &clock)
        .ping()
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .expect("the second attempt is fast");

    assert_eq!(pong.metadata().attempts(), 2);
    assert_eq!(clock.sleeps().len(), 1);
    // The slow first attempt may still be running; the repeat was answered.
    let log = statuses(&sandbox, "ping").await;
    assert!(log.contains(&(Some(200), None)), "{log:?}");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_dropped_invitation_is_not_repeated_because_a_drop_looks_like_a_lost_answer() {
    let sandbox = sandbox().await;
    script(&sandbox, &[("create_invitation", "drop")]);
    let clock = VirtualClock::new();

    let error = client(&sandbox, &clock)
        .create_invitation(&invitation_request())
        .await
        .unwrap_err();

    // The sandbox closed the connection before processing, but the client cannot know that.
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert!(error.may_have_been_processed());
    assert!(clock.sleeps().is_empty());
    assert_eq!(
        statuses(&sandbox, "create_invitation").await,
        vec![(None, fault("drop"))]
    );
    assert!(sandbox.invitations().is_empty(), "nothing was stored");
    sandbox.shutdown().await;
}

#[tokio::test]
async fn plain_create_user_reports_the_conflict_its_own_lost_answer_caused() {
    let sandbox = sandbox().await;
    script(&sandbox, &[("create_user", "lost-answer")]);
    let clock = VirtualClock::new();

    let error = client(&sandbox, &clock)
        .create_user(&user_request("plain@example.com"))
        .await
        .unwrap_err();

    // The repeat met the user the first attempt created; create_or_get_user resolves this.
    assert_eq!(error.code(), Some(ErrorCode::Conflict));
    let stored = sandbox.users();
    assert_eq!(stored.len(), 1);
    assert_eq!(
        error.api_error().unwrap().details,
        pearsana::ErrorDetails::Conflict {
            user_id: Some(stored[0].user_id.clone()),
            email: Some("plain@example.com".into())
        }
    );
    assert_eq!(
        statuses(&sandbox, "create_user").await,
        vec![(None, fault("lost-answer")), (Some(409), None)]
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_failed_batch_request_fails_only_its_own_items_and_is_not_repeated() {
    let sandbox = sandbox().await;
    let clock = VirtualClock::new();
    let client = Client::builder()
        .environment(Environment::Custom {
            api_url: sandbox.url(),
            auth_url: sandbox.url(),
        })
        .credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .clock(clock.clone())
        .batch_concurrency(1)
        .build()
        .unwrap();
    client
        .create_user(&user_request("owner@example.com"))
        .await
        .unwrap();
    let reference = pearsana::external_reference("SIS", "ID-owner@example.com").unwrap();
    let items: Vec<_> = (0..30)
        .map(|i| {
            pearsana::DocumentFile::from_bytes(format!("%PDF-1.4 document {i}"))
                .unwrap()
                .batch_item(
                    &format!("item-{i}"),
                    reference.clone(),
                    "OFFICIAL_TRANSCRIPT",
                )
                .unwrap()
        })
        .collect();
    // The first request (items 0..25) passes untouched; the second (25..30) fails with a 500.
    script(
        &sandbox,
        &[
            ("submit_document_batch", "latency=0"),
            ("submit_document_batch", "500"),
        ],
    );

    let outcome = client.submit_documents(items).await.unwrap();

    assert_eq!((outcome.succeeded(), outcome.failed()), (25, 5));
    for item in &outcome.items[25..] {
        match &item.result {
            Err(pearsana::ItemError::Request(error)) => {
                assert_eq!(error.code(), Some(ErrorCode::InternalServerError));
                assert!(error.may_have_been_processed());
            }
            other => panic!("{}: {other:?}", item.item_id),
        }
    }
    assert!(clock.sleeps().is_empty(), "a batch is not repeated");
    assert_eq!(
        statuses(&sandbox, "submit_document_batch").await,
        vec![(Some(200), fault("latency=0")), (Some(500), fault("500"))]
    );
    assert_eq!(sandbox.documents().len(), 25);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_timed_out_invitation_is_ambiguous_and_not_repeated() {
    let sandbox = sandbox().await;
    script(&sandbox, &[("create_invitation", "latency=2000")]);
    let clock = VirtualClock::new();

    let error = client(&sandbox, &clock)
        .create_invitation(&invitation_request())
        .timeout(Duration::from_millis(200))
        .await
        .unwrap_err();

    assert!(
        matches!(&error, Error::Transport { source, .. } if source.is_timeout()),
        "{error:?}"
    );
    assert_eq!(error.failure_kind(), FailureKind::Ambiguous);
    assert!(
        clock.sleeps().is_empty(),
        "not repeated: it could duplicate"
    );
    assert_eq!(
        sandbox.stats().requests_by_operation["create_invitation"],
        1
    );
    sandbox.shutdown().await;
}
