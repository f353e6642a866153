//! `pearsana demo`: the whole partner flow against an in-process sandbox, with a bundled
//! roster. Needs no credentials and no network (the sandbox listens on 127.0.0.1, port 0).

use std::sync::Arc;

use pearsana::{Client, DocumentFile, Environment};
use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningSandbox, Sandbox};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::calls::{connection_facts, report_error};
use crate::cli::DemoArgs;
use crate::exit::Exit;
use crate::import::csv_input::read_roster_from;
use crate::import::engine::{self, EngineOptions, Expected};
use crate::import::invitations::invitation_request;
use crate::import::plan::{PlannedRow, plan, validate};
use crate::import::submitters::UserSubmitter;
use crate::import::users::Users;
use crate::output::Printer;

/// The roster the demo imports.
pub const DEMO_ROSTER: &str = include_str!("../../assets/demo-roster.csv");

/// How many roster users get a transcript in the documents step.
const DEMO_DOCUMENTS: usize = 5;

/// Prints one step: a sentence on a terminal, a JSON line otherwise.
fn step(printer: Printer, number: usize, name: &str, text: String, details: Value) {
    if printer.is_json() {
        let mut value = json!({"step": number, "name": name, "text": text});
        if let (Value::Object(map), Value::Object(extra)) = (&mut value, details) {
            map.extend(extra);
        }
        printer.show(&value);
    } else {
        outln!("{number}. {text}");
    }
}

/// Something went wrong mid-demo.
enum DemoError {
    Sdk(pearsana::Error),
    Other(String),
}

impl From<pearsana::Error> for DemoError {
    fn from(e: pearsana::Error) -> Self {
        Self::Sdk(e)
    }
}

/// Runs the demo.
pub async fn demo(args: &DemoArgs, printer: Printer) -> Exit {
    let sandbox = match Sandbox::builder()
        .listen(([127, 0, 0, 1], 0).into())
        .spawn()
        .await
    {
        Ok(sandbox) => sandbox,
        Err(e) => {
            eprintln!("error: could not start the embedded sandbox: {e}");
            return Exit::Unavailable;
        }
    };
    if !printer.is_json() {
        outln!(
            "Pearsana demo: the partner flow against an embedded sandbox (in this process; no credentials, no network).\n"
        );
    }
    let result = run_steps(&sandbox, args, printer).await;
    sandbox.shutdown().await;
    match result {
        Ok(()) => Exit::Success,
        Err(DemoError::Sdk(e)) => report_error(&e),
        Err(DemoError::Other(message)) => {
            eprintln!("error: {message}");
            Exit::Failed
        }
    }
}

async fn run_steps(
    sandbox: &RunningSandbox,
    args: &DemoArgs,
    printer: Printer,
) -> Result<(), DemoError> {
    let url = sandbox.url();
    let client = Client::builder()
        .environment(Environment::Custom {
            api_url: url.clone(),
            auth_url: url.clone(),
        })
        .credentials(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        .user_agent(concat!("pearsana-cli-demo/", env!("CARGO_PKG_VERSION")))
        .build()?;
    step(
        printer,
        1,
        "sandbox",
        format!("Sandbox listening on {url}; using its App Client {DEFAULT_CLIENT_ID}."),
        json!({"url": url, "clientId": DEFAULT_CLIENT_ID}),
    );

    let health = client.health().await?;
    let ping = client.ping().await?;
    let facts = connection_facts(&client);
    step(
        printer,
        2,
        "ping",
        format!(
            "Token obtained; health {}, ping {} as {} with {} scopes; token expires in {} s; API version {}.",
            health.status,
            ping.status,
            ping.client_id,
            ping.scopes.len(),
            facts["token"]["expiresInSeconds"],
            facts["apiVersion"]["applied"].as_str().unwrap_or("?"),
        ),
        json!({"clientId": ping.client_id, "scopes": ping.scopes, "token": facts["token"], "apiVersion": facts["apiVersion"]}),
    );

    let import = || async {
        let options = EngineOptions {
            concurrency: args.concurrency.max(1),
            resend_in_doubt: false,
            progress: false,
        };
        let other = |e: &dyn std::fmt::Display| DemoError::Other(e.to_string());
        let mut roster = read_roster_from(std::io::Cursor::new(DEMO_ROSTER), "demo roster")
            .map_err(|e| other(&e))?;
        let mut validation = validate(&Users, &mut roster, |_| {}).map_err(|e| other(&e))?;
        let expected = Expected {
            total: validation.total,
            valid: validation.valid(),
        };
        let state = validation.journal_state();
        let rows = plan(&Users, &mut roster, &validation, |_| {}).map_err(|e| other(&e))?;
        let mut references = Vec::new();
        let rows = rows.inspect(|row| {
            if let Ok(PlannedRow::Valid(row)) = row {
                references.push(row.value.external_references[0].clone());
            }
        });
        let report = engine::run(
            rows,
            expected,
            Arc::new(UserSubmitter(client.clone())),
            state,
            None,
            options,
            CancellationToken::new(),
        )
        .await;
        Ok::<_, DemoError>((report, references))
    };
    let (first, references) = import().await?;
    let s = &first.summary;
    step(
        printer,
        3,
        "import",
        format!(
            "Imported the bundled roster of {} users with {} requests in flight: {} created, {} existing, {} failed in {:.2} s.",
            s.total, args.concurrency, s.created, s.existing, s.failed, s.elapsed_seconds
        ),
        json!({"summary": s}),
    );
    if s.failed > 0 {
        return Err(DemoError::Other(format!(
            "{} roster rows failed: {:?}",
            s.failed, first.failures
        )));
    }

    let (second, _) = import().await?;
    step(
        printer,
        4,
        "reimport",
        format!(
            "Imported it again: {} created, {} existing: users are matched by email, so repeating an import is safe.",
            second.summary.created, second.summary.existing
        ),
        json!({"summary": second.summary}),
    );

    let reference = pearsana::external_reference("SIS", "DEMO-0100")?;
    let invitation = invitation_request(
        "maya.lopez@demo-university.edu".into(),
        "Maya".into(),
        "Lopez".into(),
        reference.clone(),
        Some("Welcome to Pearsana!".into()),
        Vec::new(),
    );
    let created = client.create_invitation(&invitation).await?.invitation;
    let accepted = accept_invitation(&client, &url, &created.invitation_id)
        .await
        .map_err(DemoError::Other)?;
    step(
        printer,
        5,
        "invitation",
        format!(
            "Invited {} ({}, {}); accepted through the sandbox helper: now {}, user {} linked to SIS:DEMO-0100.",
            invitation.email,
            created.invitation_id,
            created.status,
            accepted["invitation"]["status"].as_str().unwrap_or("?"),
            accepted["userId"].as_str().unwrap_or("?"),
        ),
        json!({"invitationId": created.invitation_id, "accepted": accepted}),
    );

    let mut items = Vec::new();
    for (index, reference) in references
        .iter()
        .take(DEMO_DOCUMENTS)
        .chain([&reference])
        .enumerate()
    {
        let content = format!(
            "%PDF-1.4\n% demo transcript for {}:{}\n",
            reference.namespace.as_str(),
            reference.external_id.as_str()
        );
        let file = DocumentFile::from_bytes(content.as_bytes())?
            .with_filename(format!("transcript-{}.pdf", reference.external_id.as_str()));
        items.push(file.batch_item(
            &format!("demo-{}", index + 1),
            reference.clone(),
            "OFFICIAL_TRANSCRIPT",
        )?);
    }
    let count = items.len();
    let outcome = client.submit_documents(items).await?;
    let documents: Vec<Value> = outcome
        .items
        .iter()
        .map(|item| match &item.result {
            Ok(doc) => json!({"itemId": item.item_id, "documentId": doc.document_id, "category": doc.category, "mimeType": doc.mime_type}),
            Err(e) => json!({"itemId": item.item_id, "error": e.to_string()}),
        })
        .collect();
    step(
        printer,
        6,
        "documents",
        format!(
            "Submitted {count} transcripts in one batch request: {} created, {} failed.",
            outcome.succeeded(),
            outcome.failed()
        ),
        json!({"documents": documents}),
    );
    if outcome.failed() > 0 {
        return Err(DemoError::Other(format!(
            "{} documents failed: {documents:?}",
            outcome.failed()
        )));
    }

    let stats = sandbox.stats();
    step(
        printer,
        7,
        "stats",
        format!(
            "The sandbox saw {} token request(s) from the SDK client (one token shared by every request), {} users, {} invitation(s), {} documents.",
            pearsana::testing::token_requests(&client),
            stats.users_created,
            stats.invitations_created,
            stats.documents_created
        ),
        json!({"sdkTokenRequests": pearsana::testing::token_requests(&client), "sandbox": stats}),
    );
    if !printer.is_json() {
        outln!(
            "\nNext: run `pearsana sandbox` in one terminal, then\n  pearsana --env local users import roster.csv --journal roster.journal --failures failed.csv"
        );
    }
    Ok(())
}

/// Accepts an invitation through the sandbox's test helper, as the invited person would. The
/// helper is not part of the Partner API, so it is called directly, with the SDK client's own
/// token (never printed).
async fn accept_invitation(
    client: &pearsana::Client,
    url: &str,
    invitation_id: &str,
) -> Result<Value, String> {
    let http = reqwest::Client::new();
    let access_token = client
        .access_token()
        .await
        .map_err(|e| format!("getting a token for the sandbox helper failed: {e}"))?;
    let response = http
        .post(format!(
            "{url}/sandbox/v1/invitations/{invitation_id}:accept"
        ))
        .bearer_auth(access_token.expose_secret())
        .send()
        .await
        .map_err(|e| format!("accepting the invitation failed: {e}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| format!("accept response: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "accepting the invitation failed: HTTP {status}: {body}"
        ));
    }
    Ok(body)
}
