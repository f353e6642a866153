//! `POST /v1/documents:submit` and `POST /v1/documents:submitBatch` (ASSUMPTIONS D1 to D5).

use std::num::NonZeroU64;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use pearsana_api::spec::{
    BATCH_MAX_ITEMS, BATCH_MIN_ITEMS, MAX_DOCUMENT_BYTES, operations, request_bound, scopes,
};
use pearsana_api::types::{
    BatchItemStatus, Document, DocumentStatus, ErrorCode, ErrorDetails, SubmitDocumentBatchItem,
    SubmitDocumentRequest, VerificationIntent,
};
use serde_json::{Map, Value};

use crate::api::{as_object, into_type, into_type_at};
use crate::app::AppState;
use crate::auth::guard::Caller;
use crate::body::DocumentsBody;
use crate::error::ApiError;
use crate::responses::{
    DocumentFields, batch_item_error, batch_item_result, batch_summary, document,
    submit_document_batch_response, submit_document_response,
};
use crate::stats::bump;
use crate::store::{DocumentRecord, NormalizedRef};
use crate::validate::FileText;
use crate::validate::{Presence, Problems, join};

/// Category of a document type (D1): the ten documented types, `other` for anything else.
pub fn category(document_type: &str) -> &'static str {
    match document_type {
        "OFFICIAL_TRANSCRIPT"
        | "ACADEMIC_TRANSCRIPT"
        | "DEGREE_CERTIFICATE"
        | "DIPLOMA"
        | "ENROLLMENT_VERIFICATION"
        | "COURSE_COMPLETION" => "academic",
        "AWARD_CERTIFICATE" | "HONOR_ROLL" => "awards",
        "SPORTS_CERTIFICATE" | "ATHLETIC_RECORD" => "sports",
        _ => "other",
    }
}

/// MIME type from the filename's extension (D3), `application/octet-stream` otherwise.
pub fn mime_type(filename: Option<&str>) -> String {
    filename
        .filter(|name| std::path::Path::new(name).extension().is_some())
        .and_then(|name| mime_guess::from_path(name).first_raw())
        .unwrap_or("application/octet-stream")
        .to_string()
}

/// Whether a body or item asks for an intent that needs `partners.verifications:write` (D2):
/// any known intent other than `store_only`. Unknown values are validation errors instead.
fn needs_verification_scope(item: &Map<String, Value>) -> bool {
    item.get("verificationIntent")
        .and_then(Value::as_str)
        .map(VerificationIntent::from)
        .is_some_and(|intent| !intent.is_unknown() && intent != VerificationIntent::StoreOnly)
}

/// The scopes a request needs when some document asks for verification.
fn verification_scopes() -> Vec<&'static str> {
    let mut required = operations::SUBMIT_DOCUMENT.required_scopes.to_vec();
    required.push(scopes::PARTNERS_VERIFICATIONS_WRITE);
    required
}

/// What validation learned about one document besides its typed form.
struct Checked {
    reference: NormalizedRef,
    size_bytes: NonZeroU64,
}

/// Checks the fields shared by single documents and batch items; `base` prefixes the paths.
/// `file` is the measurement of the item's `file` when the decoder took it out of the value.
fn check_document(
    p: &mut Problems,
    item: &Map<String, Value>,
    base: &str,
    file: Option<FileText>,
) -> Option<Checked> {
    let ref_path = join(base, "externalReference");
    let reference = match item.get("externalReference") {
        None | Some(Value::Null) => {
            p.add(format!("{ref_path} is required"));
            None
        }
        Some(value) => p.external_reference(value, &ref_path),
    };
    p.string(
        item,
        "documentType",
        &join(base, "documentType"),
        Presence::Required,
        true,
    );
    let size = match file {
        Some(file) => p.file_text(&join(base, "file"), file, MAX_DOCUMENT_BYTES),
        None => p.file(item, "file", &join(base, "file"), MAX_DOCUMENT_BYTES),
    };
    p.string(
        item,
        "filename",
        &join(base, "filename"),
        Presence::Optional,
        false,
    );
    let intent_path = join(base, "verificationIntent");
    let intent = match p.string(
        item,
        "verificationIntent",
        &intent_path,
        Presence::Optional,
        false,
    ) {
        None => Some(VerificationIntent::StoreOnly),
        // The generated enum keeps any value (responses may carry newer intents); a request
        // may only name the intents this server knows.
        Some(raw) => match VerificationIntent::from(raw) {
            intent if intent.is_unknown() => {
                p.add(format!(
                    "{intent_path} must be one of {}",
                    VerificationIntent::KNOWN_VALUES.join(", ")
                ));
                None
            }
            intent => Some(intent),
        },
    };
    let attestation_path = join(base, "attestationReferenceId");
    let attestation = p.string(
        item,
        "attestationReferenceId",
        &attestation_path,
        Presence::Optional,
        false,
    );
    if attestation.is_some() && intent.is_some_and(|i| i != VerificationIntent::Attest) {
        p.add(format!(
            "{attestation_path} is only allowed when verificationIntent is attest"
        ));
    }
    p.object(
        item,
        "verificationMetadata",
        &join(base, "verificationMetadata"),
        Presence::Optional,
    );
    Some(Checked {
        reference: reference?,
        size_bytes: NonZeroU64::new(size?)?,
    })
}

/// The `404 NOT_FOUND` for a reference no user is linked to.
fn unlinked(reference: &NormalizedRef) -> ApiError {
    let mut details = ErrorDetails::default();
    details.type_ = Some(reference.namespace.clone());
    details.external_id = Some(reference.external_id.clone());
    ApiError::new(
        ErrorCode::NotFound,
        format!(
            "No user is linked to external reference {}/{}.",
            reference.namespace, reference.external_id
        ),
    )
    .with_details(details)
}

/// The fields a stored document is made of, taken from either request type.
struct Submission<'a> {
    document_type: &'a str,
    filename: Option<&'a str>,
    intent: VerificationIntent,
    attestation_reference_id: Option<&'a str>,
}

fn store_document(
    app: &AppState,
    caller: &Caller,
    checked: &Checked,
    submission: Submission<'_>,
    extra: impl FnOnce(&mut DocumentRecord),
) -> Result<Document, ApiError> {
    let org = &caller.organisation_id;
    let user_id = app
        .store
        .linked_user(org, &checked.reference)
        .ok_or_else(|| unlinked(&checked.reference))?;
    let document = document(DocumentFields {
        attestation_reference_id: submission.attestation_reference_id.map(str::to_string),
        category: category(submission.document_type).into(),
        creation_date_time: Utc::now(),
        document_id: format!("doc_{}", uuid::Uuid::new_v4().simple()),
        document_type: submission.document_type.into(),
        filename: submission.filename.map(str::to_string),
        mime_type: mime_type(submission.filename),
        size_bytes: checked.size_bytes,
        status: DocumentStatus::Received,
        user_id,
        verification_intent: submission.intent,
    });
    let mut record = DocumentRecord {
        document: document.clone(),
        external_reference: checked.reference.clone(),
        item_id: None,
        partner_reference_id: None,
        metadata: Default::default(),
        verification_metadata: Default::default(),
    };
    extra(&mut record);
    app.store
        .add_document(org, record)
        .map_err(crate::api::users::conflict_error)?;
    bump(&app.stats.documents_created);
    Ok(document)
}

/// `POST /v1/documents:submit`.
pub async fn submit(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    DocumentsBody { value, files }: DocumentsBody<false>,
) -> Result<Response, ApiError> {
    let object = as_object(&value)?;
    if needs_verification_scope(object) {
        caller.require(&verification_scopes())?;
    }
    let mut p = Problems::default();
    let file = files.first().copied().flatten();
    let checked = check_document(&mut p, object, "", file);
    let request: SubmitDocumentRequest = into_type(&value, p)?;
    let checked = checked.ok_or_else(ApiError::internal)?;
    let submission = Submission {
        document_type: request.document_type.as_str(),
        filename: request.filename.as_deref(),
        intent: request.verification_intent.unwrap_or_default(),
        attestation_reference_id: request.attestation_reference_id.as_deref(),
    };
    let document = store_document(&app, &caller, &checked, submission, |record| {
        record.verification_metadata = request.verification_metadata.clone();
    })?;
    // Durable before the answer goes out (a no-op without --data-dir).
    app.store
        .flush()
        .await
        .map_err(crate::api::users::conflict_error)?;
    Ok((
        StatusCode::CREATED,
        Json(submit_document_response(document)),
    )
        .into_response())
}

/// Checks the batch envelope (D5): 1 to `BATCH_MAX_ITEMS` objects with distinct, non-empty
/// `itemId`s. Returns the items.
fn check_envelope(value: &Value) -> Result<&Vec<Value>, ApiError> {
    let body = as_object(value)?;
    let items = match body.get("items") {
        None | Some(Value::Null) => {
            return Err(ApiError::validation(vec!["items is required".into()]));
        }
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::validation(vec!["items must be an array".into()])),
    };
    let mut p = Problems::default();
    if items.len() < BATCH_MIN_ITEMS {
        p.add(format!(
            "items must contain at least {BATCH_MIN_ITEMS} item"
        ));
    }
    if items.len() > BATCH_MAX_ITEMS {
        p.add(format!(
            "items must contain at most {BATCH_MAX_ITEMS} items"
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("items[{i}]");
        let Value::Object(map) = item else {
            p.add(format!("{path} must be an object"));
            continue;
        };
        if let Some(id) = p.string(
            map,
            "itemId",
            &join(&path, "itemId"),
            Presence::Required,
            true,
        ) {
            if seen.contains(&id) {
                p.add(format!("{path}.itemId must be unique within the batch"));
            }
            // Each result repeats its item's id, so an id over the spec's bound refuses the
            // whole request instead of failing one item with an answer that breaks the schema.
            if let Some(max) = request_bound("items[].itemId").and_then(|b| b.max_length)
                && id.chars().count() > max
            {
                p.add(format!("{path}.itemId must be at most {max} characters"));
            }
            seen.push(id);
        }
    }
    if p.is_empty() {
        Ok(items)
    } else {
        Err(ApiError::validation(p.into_vec()))
    }
}

/// Processes one batch item on its own: validation, reference lookup, storage.
fn process_item(
    app: &AppState,
    caller: &Caller,
    index: usize,
    item: &Value,
    file: Option<FileText>,
) -> Result<Document, ApiError> {
    let map = item.as_object().ok_or_else(ApiError::internal)?;
    let base = format!("items[{index}]");
    let mut p = Problems::default();
    let checked = check_document(&mut p, map, &base, file);
    p.string(
        map,
        "partnerReferenceId",
        &join(&base, "partnerReferenceId"),
        Presence::Optional,
        false,
    );
    p.optional_string_map(map, "metadata", &join(&base, "metadata"));
    let typed: SubmitDocumentBatchItem = into_type_at(&base, item, p)?;
    let checked = checked.ok_or_else(ApiError::internal)?;
    let submission = Submission {
        document_type: typed.document_type.as_str(),
        filename: typed.filename.as_deref(),
        intent: typed.verification_intent.unwrap_or_default(),
        attestation_reference_id: typed.attestation_reference_id.as_deref(),
    };
    store_document(app, caller, &checked, submission, |record| {
        record.item_id = Some(typed.item_id.to_string());
        record.partner_reference_id = typed.partner_reference_id.clone();
        record.metadata = typed.metadata.clone();
        record.verification_metadata = typed.verification_metadata.clone();
    })
}

/// `POST /v1/documents:submitBatch`.
pub async fn submit_batch(
    State(app): State<Arc<AppState>>,
    caller: Caller,
    DocumentsBody { value, files }: DocumentsBody<true>,
) -> Result<Response, ApiError> {
    let items = check_envelope(&value)?;
    if items
        .iter()
        .filter_map(Value::as_object)
        .any(needs_verification_scope)
    {
        caller.require(&verification_scopes())?;
    }
    let mut results = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let item_id = item
            .get("itemId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let file = files.get(index).copied().flatten();
        results.push(match process_item(&app, &caller, index, item, file) {
            Ok(document) => {
                batch_item_result(Some(document), None, item_id, BatchItemStatus::Created)
            }
            Err(error) => {
                let error = batch_item_error(error.code, error.details.map(|d| *d), error.message);
                batch_item_result(None, Some(error), item_id, BatchItemStatus::Failed)
            }
        });
    }
    let succeeded = results
        .iter()
        .filter(|r| r.status == BatchItemStatus::Created)
        .count() as i32;
    let total = results.len() as i32;
    let response =
        submit_document_batch_response(results, batch_summary(total - succeeded, succeeded, total));
    // Durable before the answer goes out (a no-op without --data-dir).
    app.store
        .flush()
        .await
        .map_err(crate::api::users::conflict_error)?;
    Ok(Json(response).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_and_mime_types() {
        assert_eq!(category("DIPLOMA"), "academic");
        assert_eq!(category("HONOR_ROLL"), "awards");
        assert_eq!(category("ATHLETIC_RECORD"), "sports");
        assert_eq!(category("diploma"), "other");
        assert_eq!(mime_type(Some("t.pdf")), "application/pdf");
        assert_eq!(mime_type(Some("README")), "application/octet-stream");
        assert_eq!(mime_type(None), "application/octet-stream");
    }
}
