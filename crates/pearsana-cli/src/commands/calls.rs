//! The single-call commands: `health`, `ping`, `users create`, `invitations create`,
//! `documents submit`.

use std::time::Instant;

use chrono::Utc;
use pearsana::types::{
    self, Address, CreateUserRequest, UserIdentity, UserProfile, VerificationIntent,
};
use pearsana::{Client, DocumentUpload, UserOutcome};
use serde_json::{Value, json};

use crate::cli::{CreateInvitationArgs, CreateUserArgs, GlobalArgs, RefArg, SubmitDocumentsArgs};
use crate::errors::{classify, exit_for, hint};
use crate::exit::Exit;
use crate::import::invitations::invitation_request;
use crate::output::Printer;

/// Prints an SDK error (never containing a secret) with advice, and picks the exit status.
pub fn report_error(error: &pearsana::Error) -> Exit {
    eprintln!("error: {error}");
    if let Some(hint) = hint(classify(error)) {
        eprintln!("hint: {hint}");
    }
    exit_for(error)
}

fn connect(global: &GlobalArgs) -> Result<Client, Exit> {
    crate::connect::client(global).map_err(|e| {
        eprintln!("error: {e}");
        Exit::Usage
    })
}

fn reference(arg: &RefArg) -> Result<types::ExternalReference, Exit> {
    pearsana::external_reference(&arg.namespace, &arg.external_id).map_err(|e| {
        eprintln!("error: --ref: {e}");
        Exit::Usage
    })
}

/// `pearsana health`
pub async fn health(global: &GlobalArgs, printer: Printer) -> Exit {
    let client = match connect(global) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    match client.health().await {
        Ok(health) => {
            printer.show(&json!({"status": health.status, "apiUrl": client.api_url()}));
            Exit::Success
        }
        Err(e) => report_error(&e),
    }
}

/// The token and version facts `ping` shows (never the token itself).
pub fn connection_facts(client: &Client) -> Value {
    let token = client.token_status().map(|status| {
        let remaining = status.expires_at.saturating_duration_since(Instant::now());
        let expires_at = Utc::now() + chrono::Duration::from_std(remaining).unwrap_or_default();
        json!({
            "scopes": status.scopes,
            "expiresAt": expires_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "expiresInSeconds": remaining.as_secs(),
        })
    });
    let versions = client.version_info();
    let show = |v: Option<pearsana::ApiVersion>| v.map(|v| v.to_string());
    json!({
        "token": token,
        "apiVersion": {
            "pinned": client.api_version().to_string(),
            "applied": show(versions.applied),
            "latest": show(versions.latest),
            "oldestSupported": show(versions.oldest_supported),
        },
    })
}

/// `pearsana ping`
pub async fn ping(global: &GlobalArgs, printer: Printer) -> Exit {
    let client = match connect(global) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    match client.ping().await {
        Ok(ping) => {
            let mut value = json!({
                "status": ping.status,
                "message": ping.message,
                "clientId": ping.client_id,
                "scopes": ping.scopes,
                "apiUrl": client.api_url(),
            });
            if let (Value::Object(map), Value::Object(facts)) =
                (&mut value, connection_facts(&client))
            {
                map.extend(facts);
            }
            printer.show(&value);
            if client.version_info().newer_version_available() {
                eprintln!(
                    "note: the API offers a newer version than the one pinned (--api-version)"
                );
            }
            Exit::Success
        }
        Err(e) => report_error(&e),
    }
}

/// `pearsana users create`
pub async fn create_user(args: &CreateUserArgs, global: &GlobalArgs, printer: Printer) -> Exit {
    let client = match connect(global) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let references: Result<Vec<_>, Exit> = args.references.iter().map(reference).collect();
    let references = match references {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    // Request types are `#[non_exhaustive]`: built from their defaults or builders.
    let address = args.date_of_birth.map(|date| {
        let mut address = Address::default();
        address.date_of_birth = Some(date);
        address
    });
    let mut profile = UserProfile::default();
    profile.address = address;
    profile.currency = args.currency.clone();
    profile.phone = args.phone.clone();
    profile.preferred_name = args.preferred_name.clone();
    let request: CreateUserRequest = match CreateUserRequest::builder()
        .external_references(references)
        .identity(
            UserIdentity::builder()
                .email(args.email.clone())
                .first_name(args.first_name.clone())
                .last_name(args.last_name.clone())
                .role_name(args.role.clone()),
        )
        .profile((profile != UserProfile::default()).then_some(profile))
        .try_into()
    {
        Ok(request) => request,
        Err(error) => return report_error(&pearsana::Error::from(error)),
    };
    match client.create_or_get_user(&request).await {
        Ok(UserOutcome::Created(user)) => {
            printer.show(&json!({"status": "created", "userId": user.user_id, "email": user.email, "organisationId": user.organisation_id}));
            Exit::Success
        }
        Ok(UserOutcome::Existing { user_id, email }) => {
            printer.show(&json!({"status": "existing", "userId": user_id, "email": email}));
            Exit::Success
        }
        Err(e) => report_error(&e),
    }
}

/// `pearsana invitations create`
pub async fn create_invitation(
    args: &CreateInvitationArgs,
    global: &GlobalArgs,
    printer: Printer,
) -> Exit {
    let client = match connect(global) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let references: Result<Vec<_>, Exit> = args.references.iter().map(reference).collect();
    let mut references = match references {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    let first = references.remove(0);
    let mut request = invitation_request(
        args.email.clone(),
        args.first_name.clone(),
        args.last_name.clone(),
        first,
        args.message.clone(),
        args.roles.clone(),
    );
    request.external_references.0.extend(references);
    match client.create_invitation(&request).await {
        Ok(created) => {
            printer.show(&serde_json::to_value(&created.invitation).expect("serialises"));
            Exit::Success
        }
        Err(e) => report_error(&e),
    }
}

/// `pearsana documents submit`: one file with `documents:submit`, several through the
/// batch helper.
pub async fn submit_documents(
    args: &SubmitDocumentsArgs,
    global: &GlobalArgs,
    printer: Printer,
) -> Exit {
    let intent = match args.intent.as_deref().map(str::parse::<VerificationIntent>) {
        None => None,
        Some(Ok(intent)) => Some(intent),
        Some(Err(_)) => {
            eprintln!(
                "error: --intent: {:?} is not store_only or attest",
                args.intent.as_deref().unwrap_or("")
            );
            return Exit::Usage;
        }
    };
    let client = match connect(global) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let reference = match reference(&args.reference) {
        Ok(r) => r,
        Err(exit) => return exit,
    };
    let mut files = Vec::with_capacity(args.files.len());
    for path in &args.files {
        match DocumentUpload::from_path(path).await {
            Ok(file) => files.push(file),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return Exit::Usage;
            }
        }
    }
    // Streamed: each file is read in chunks while its request is sent, never held whole.
    if files.len() == 1 {
        let file = files.remove(0);
        let mut request = match file.submit_request(reference, &args.document_type) {
            Ok(r) => r,
            Err(e) => return report_error(&e),
        };
        let fields = request.request_mut();
        fields.verification_intent = intent;
        fields.attestation_reference_id = args.attestation_reference_id.clone();
        return match client.upload_document(&request).await {
            Ok(submitted) => {
                printer.show(&serde_json::to_value(&submitted.document).expect("serialises"));
                Exit::Success
            }
            Err(e) => report_error(&e),
        };
    }
    let mut items = Vec::with_capacity(files.len());
    for (index, file) in files.into_iter().enumerate() {
        match file.batch_item(
            &format!("file-{}", index + 1),
            reference.clone(),
            &args.document_type,
        ) {
            Ok(mut item) => {
                let fields = item.item_mut();
                fields.verification_intent = intent.clone();
                fields.attestation_reference_id = args.attestation_reference_id.clone();
                items.push(item);
            }
            Err(e) => return report_error(&e),
        }
    }
    let outcome = match client.upload_documents(items).await {
        Ok(outcome) => outcome,
        Err(e) => return report_error(&e),
    };
    let mut exit = Exit::Success;
    for (item, path) in outcome.items.iter().zip(&args.files) {
        let value = match &item.result {
            Ok(document) => json!({"file": path, "status": "created", "document": document}),
            Err(error) => {
                exit = Exit::Failed;
                json!({"file": path, "status": "failed", "error": error.to_string()})
            }
        };
        printer.show(&value);
    }
    exit
}
