//! The three [`Submitter`]s backed by the SDK client (one shared token, SDK retries).

use std::sync::Arc;

use pearsana::types::{CreateInvitationRequest, CreateUserRequest};
use pearsana::{Client, DocumentUpload, ErrorCode, ItemError, UploadItem, UserOutcome};

use super::documents::{DocumentRow, FileStamp};
use super::engine::{Failure, Outcome, Submitter};
use super::plan::ValidRow;
use super::report::INVALID_ROW;
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

/// The upload of one row. The SDK plans the file from its size and modification time now and
/// checks both again while sending; those must be the ones the row saw when it hashed the
/// file for its journal key, or the row fails (nothing sent) and a rerun hashes it again.
async fn batch_item(row: &ValidRow<DocumentRow>) -> Result<UploadItem, Failure> {
    let doc = &row.value;
    let upload = DocumentUpload::from_path(&doc.path)
        .await
        .map_err(|e| row_failure(&e))?
        .with_filename(doc.filename.clone());
    let planned = FileStamp {
        size: upload.source().size(),
        modified: upload.source().modified(),
    };
    if planned != doc.stamp {
        return Err(Failure {
            code: INVALID_ROW.to_string(),
            message: format!(
                "{} changed after it was checked; rerun to validate it again",
                doc.path.display()
            ),
            stops_import: false,
            ambiguous: false,
        });
    }
    let mut item = upload
        .batch_item(
            &item_id(row.line),
            doc.reference.clone(),
            &doc.document_type,
        )
        .map_err(|e| row_failure(&e))?;
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
                Err(failure) => *slot = Some(Outcome::Failed(failure)),
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

#[cfg(test)]
mod tests {
    use super::super::documents::Documents;
    use super::super::plan::plan_all;
    use super::*;

    #[tokio::test]
    async fn a_file_changed_after_it_was_hashed_fails_its_row_before_anything_is_sent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.pdf");
        std::fs::write(&path, b"%PDF-1.4 first").unwrap();
        let kind = Documents::for_manifest(&dir.path().join("manifest.csv"));
        let text = "namespace,externalId,documentType,file\nSIS,1,DIPLOMA,t.pdf\n";
        let (valid, invalid) = plan_all(&kind, text.as_bytes());
        assert!(invalid.is_empty(), "{invalid:?}");
        let row = &valid[0];
        let item = batch_item(row)
            .await
            .expect("unchanged since it was hashed");
        assert_eq!(item.item_id(), "line-2");

        // Same size, other bytes, a later modification time: the hash in the row's journal
        // key no longer describes the file.
        std::fs::write(&path, b"%PDF-1.4 other").unwrap();
        let hashed_at = row.value.stamp.modified.unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_modified(hashed_at + std::time::Duration::from_secs(2))
            .unwrap();
        let failure = batch_item(row).await.unwrap_err();
        assert_eq!(failure.code, INVALID_ROW);
        assert!(
            failure.message.contains("changed after it was checked"),
            "{}",
            failure.message
        );
        assert!(!failure.ambiguous && !failure.stops_import);
    }
}
