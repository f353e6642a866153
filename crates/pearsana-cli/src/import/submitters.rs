//! The three [`Submitter`]s backed by the SDK client (one shared token, SDK retries).

use std::sync::Arc;

use pearsana::types::{CreateInvitationRequest, CreateUserRequest};
use pearsana::{Client, DocumentUpload, ErrorCode, ItemError, UploadItem, UserOutcome};

use super::documents::DocumentRow;
use super::engine::{Failure, Outcome, Submitter};
use super::plan::ValidRow;
use crate::errors::row_failure;

/// Creates users with the SDK's create-or-get: a `409 CONFLICT` on a repeated or retried
/// create is reported as `existing`, so sending a row twice is harmless.
#[derive(Debug, Clone)]
pub struct UserSubmitter(pub Client);

impl Submitter for UserSubmitter {
    type Value = CreateUserRequest;

    fn batch_size(&self) -> usize {
        1
    }

    fn resend_is_safe(&self) -> bool {
        true
    }

    async fn submit(&self, rows: &[Arc<ValidRow<CreateUserRequest>>]) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(rows.len());
        for row in rows {
            outcomes.push(match self.0.create_or_get_user(&row.value).await {
                Ok(UserOutcome::Created(user)) => Outcome::Created(user.user_id),
                Ok(UserOutcome::Existing { user_id, .. }) => Outcome::Existing(user_id),
                Err(error) => Outcome::Failed(row_failure(&error)),
            });
        }
        outcomes
    }
}

/// Creates invitations. The API has no way to find an invitation sent earlier, so a row whose
/// request may have arrived is not sent again automatically (see `--resend-in-doubt`).
#[derive(Debug, Clone)]
pub struct InvitationSubmitter(pub Client);

impl Submitter for InvitationSubmitter {
    type Value = CreateInvitationRequest;

    fn batch_size(&self) -> usize {
        1
    }

    fn resend_is_safe(&self) -> bool {
        false
    }

    async fn submit(&self, rows: &[Arc<ValidRow<CreateInvitationRequest>>]) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(rows.len());
        for row in rows {
            outcomes.push(match self.0.create_invitation(&row.value).await {
                Ok(created) => Outcome::Created(created.invitation.invitation_id),
                Err(error) => Outcome::Failed(row_failure(&error)),
            });
        }
        outcomes
    }
}

/// Submits documents in batches of at most `BATCH_MAX_ITEMS` through the SDK's streaming
/// upload: each file is read in chunks and encoded into the request body as it is sent, so
/// memory stays bounded whatever the file sizes. A file that changed since it was planned
/// fails its batch (nothing of it is stored) with an error naming the file. Like invitations, documents cannot be looked up
/// afterwards, so rows in doubt are not re-sent automatically.
#[derive(Debug, Clone)]
pub struct DocumentSubmitter(pub Client);

/// The `itemId` of a manifest row: its line, unique within the file and so within a batch.
pub fn item_id(line: u64) -> String {
    format!("line-{line}")
}

async fn batch_item(row: &ValidRow<DocumentRow>) -> pearsana::Result<UploadItem> {
    let doc = &row.value;
    let upload = DocumentUpload::from_path(&doc.path)
        .await?
        .with_filename(doc.filename.clone());
    let mut item = upload.batch_item(
        &item_id(row.line),
        doc.reference.clone(),
        &doc.document_type,
    )?;
    let fields = item.item_mut();
    fields.verification_intent = doc.verification_intent.clone();
    fields.attestation_reference_id = doc.attestation_reference_id.clone();
    fields.partner_reference_id = doc.partner_reference_id.clone();
    Ok(item)
}

fn item_failure(error: &ItemError) -> Failure {
    match error {
        ItemError::Request(error) => row_failure(error),
        ItemError::Rejected { code, message, .. } => Failure {
            code: code.to_string(),
            message: message.clone(),
            stops_import: matches!(code, ErrorCode::Unauthorized | ErrorCode::InsufficientScope),
            ambiguous: false,
        },
        // The server answered the batch without this item: it may have stored it.
        other => Failure {
            code: "BAD_RESPONSE".into(),
            message: other.to_string(),
            stops_import: false,
            ambiguous: true,
        },
    }
}

impl Submitter for DocumentSubmitter {
    type Value = DocumentRow;

    fn batch_size(&self) -> usize {
        pearsana::spec::BATCH_MAX_ITEMS
    }

    fn resend_is_safe(&self) -> bool {
        false
    }

    async fn submit(&self, rows: &[Arc<ValidRow<DocumentRow>>]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; rows.len()];
        let mut items = Vec::with_capacity(rows.len());
        for (slot, row) in outcomes.iter_mut().zip(rows) {
            match batch_item(row).await {
                Ok(item) => items.push(item),
                Err(error) => *slot = Some(Outcome::Failed(row_failure(&error))),
            }
        }
        if !items.is_empty() {
            match self.0.upload_documents(items).await {
                Ok(batch) => {
                    for (slot, row) in outcomes.iter_mut().zip(rows) {
                        if slot.is_some() {
                            continue;
                        }
                        *slot = Some(match batch.get(&item_id(row.line)).map(|o| &o.result) {
                            Some(Ok(document)) => Outcome::Created(document.document_id.clone()),
                            Some(Err(error)) => Outcome::Failed(item_failure(error)),
                            None => Outcome::Failed(item_failure(&ItemError::MissingResult)),
                        });
                    }
                }
                Err(error) => {
                    let failure = row_failure(&error);
                    for slot in outcomes.iter_mut().filter(|s| s.is_none()) {
                        *slot = Some(Outcome::Failed(failure.clone()));
                    }
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.expect("every row has an outcome"))
            .collect()
    }
}
