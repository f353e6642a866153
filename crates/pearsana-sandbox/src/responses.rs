//! Constructors of the generated response types the sandbox answers with.
//!
//! The generated types are `#[non_exhaustive]` (a later API version may add an optional field
//! to any of them without breaking code outside `pearsana-api`), so this crate cannot write
//! them as struct literals. Their builders convert with `TryFrom`, which fails only when a
//! required field was not set, and move their whole state on every setter: a cost on every
//! answer the sandbox gives to a benchmark. Each constructor here instead fills a clone of one
//! blank value of its type, built once (empty strings and lists: a clone allocates nothing),
//! and cannot fail. The blanks are built from constants; the tests build them all, so a
//! required field added to the spec fails a test, not a request.
//!
//! Every constructor takes every field its type has today, so the place that answers sets
//! each one explicitly, as a struct literal would. Where a struct literal stopped compiling
//! when the spec gained a field, `every_constructor_sets_every_property_of_its_schema` now
//! fails, naming the property the sandbox does not set. [`ErrorDetails`] has only optional
//! fields and `Default`; it is built as `ErrorDetails::default()` with the fields set one by one.

use std::num::NonZeroU64;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use pearsana_api::types::{
    BatchItemError, BatchItemResult, BatchItemStatus, BatchSummary, CreateInvitationResponse,
    CreateUserResponse, CreateUserResponseStatus, Document, DocumentCategory, DocumentStatus,
    ErrorBody, ErrorCode, ErrorDetails, ErrorResponse, HealthResponse, HealthResponseStatus,
    Invitation, InvitationStatus, InvitationUserState, PingResponse, PingResponseStatus,
    SubmitDocumentBatchResponse, SubmitDocumentResponse, VerificationIntent,
};

/// Why the conversion of a blank cannot fail: every field of the type today is set.
const BLANK: &str = "a blank built with every field of its generated type converts (if this \
                     fails, the spec added a required field: set it here and in its constructor)";

/// A document with placeholder values, for [`document`] to fill in place.
fn blank_document() -> Document {
    static VALUE: LazyLock<Document> = LazyLock::new(|| {
        Document::builder()
            .attestation_reference_id(None)
            .category(DocumentCategory::Other)
            .creation_date_time(DateTime::<Utc>::UNIX_EPOCH)
            .document_id("")
            .document_type("")
            .filename(None)
            .mime_type("")
            .size_bytes(NonZeroU64::MIN)
            .status(DocumentStatus::Received)
            .user_id("")
            .verification_intent(VerificationIntent::StoreOnly)
            .try_into()
            .expect(BLANK)
    });
    VALUE.clone()
}

/// The fields of a stored [`Document`], in the order of the generated type: a struct rather
/// than eleven arguments, which the caller writes as a literal (every field named, as in the
/// struct literal of `Document` it replaces).
pub struct DocumentFields {
    /// `attestationReferenceId`.
    pub attestation_reference_id: Option<String>,
    /// `category`.
    pub category: DocumentCategory,
    /// `creationDateTime`.
    pub creation_date_time: DateTime<Utc>,
    /// `documentId`.
    pub document_id: String,
    /// `documentType`.
    pub document_type: String,
    /// `filename`.
    pub filename: Option<String>,
    /// `mimeType`.
    pub mime_type: String,
    /// `sizeBytes`.
    pub size_bytes: NonZeroU64,
    /// `status`.
    pub status: DocumentStatus,
    /// `userId`.
    pub user_id: String,
    /// `verificationIntent`.
    pub verification_intent: VerificationIntent,
}

/// A [`Document`] with the given fields.
pub fn document(fields: DocumentFields) -> Document {
    let DocumentFields {
        attestation_reference_id,
        category,
        creation_date_time,
        document_id,
        document_type,
        filename,
        mime_type,
        size_bytes,
        status,
        user_id,
        verification_intent,
    } = fields;
    let mut out = blank_document();
    out.attestation_reference_id = attestation_reference_id;
    out.category = category;
    out.creation_date_time = creation_date_time;
    out.document_id = document_id;
    out.document_type = document_type;
    out.filename = filename;
    out.mime_type = mime_type;
    out.size_bytes = size_bytes;
    out.status = status;
    out.user_id = user_id;
    out.verification_intent = verification_intent;
    out
}

/// `{"document": …}`, the answer of `POST /v1/documents:submit`.
pub fn submit_document_response(document: Document) -> SubmitDocumentResponse {
    static VALUE: LazyLock<SubmitDocumentResponse> = LazyLock::new(|| {
        SubmitDocumentResponse::builder()
            .document(blank_document())
            .try_into()
            .expect(BLANK)
    });
    let mut out = VALUE.clone();
    out.document = document;
    out
}

/// The error of one failed batch item.
pub fn batch_item_error(
    code: ErrorCode,
    details: Option<ErrorDetails>,
    message: String,
) -> BatchItemError {
    static VALUE: LazyLock<BatchItemError> = LazyLock::new(|| {
        BatchItemError::builder()
            .code(ErrorCode::InternalServerError)
            .details(None)
            .message("")
            .try_into()
            .expect(BLANK)
    });
    let mut out = VALUE.clone();
    out.code = code;
    out.details = details;
    out.message = message;
    out
}

/// The result of one batch item: its document, or its error.
pub fn batch_item_result(
    document: Option<Document>,
    error: Option<BatchItemError>,
    item_id: String,
    status: BatchItemStatus,
) -> BatchItemResult {
    static VALUE: LazyLock<BatchItemResult> = LazyLock::new(|| {
        BatchItemResult::builder()
            .document(None)
            .error(None)
            .item_id("")
            .status(BatchItemStatus::Failed)
            .try_into()
            .expect(BLANK)
    });
    let mut out = VALUE.clone();
    out.document = document;
    out.error = error;
    out.item_id = item_id;
    out.status = status;
    out
}

/// The answer of `POST /v1/documents:submitBatch`.
pub fn submit_document_batch_response(
    results: Vec<BatchItemResult>,
    summary: BatchSummary,
) -> SubmitDocumentBatchResponse {
    static VALUE: LazyLock<SubmitDocumentBatchResponse> = LazyLock::new(|| {
        SubmitDocumentBatchResponse::builder()
            .results(Vec::new())
            .summary(batch_summary(0, 0, 0))
            .try_into()
            .expect(BLANK)
    });
    let mut out = VALUE.clone();
    out.results = results;
    out.summary = summary;
    out
}

/// The counts of a batch answer.
pub fn batch_summary(failed: i32, succeeded: i32, total: i32) -> BatchSummary {
    static VALUE: LazyLock<BatchSummary> = LazyLock::new(|| {
        BatchSummary::builder()
            .failed(0)
            .succeeded(0)
            .total(0)
            .try_into()
            .expect(BLANK)
    });
    let mut out = VALUE.clone();
    out.failed = failed;
    out.succeeded = succeeded;
    out.total = total;
    out
}

/// The answer of `POST /v1/users`.
pub fn create_user_response(
    email: String,
    organisation_id: String,
    status: CreateUserResponseStatus,
    user_id: String,
) -> CreateUserResponse {
    static VALUE: LazyLock<CreateUserResponse> = LazyLock::new(|| {
        CreateUserResponse::builder()
            .email("")
            .organisation_id("")
            .status(CreateUserResponseStatus::Created)
            .user_id("")
            .try_into()
            .expect(BLANK)
    });
    let mut out = VALUE.clone();
    out.email = email;
    out.organisation_id = organisation_id;
    out.status = status;
    out.user_id = user_id;
    out
}

/// The API's view of an invitation.
pub fn invitation(
    creation_date_time: DateTime<Utc>,
    invitation_id: String,
    status: InvitationStatus,
    user_state: InvitationUserState,
) -> Invitation {
    static VALUE: LazyLock<Invitation> = LazyLock::new(|| {
        Invitation::builder()
            .creation_date_time(DateTime::<Utc>::UNIX_EPOCH)
            .invitation_id("")
            .status(InvitationStatus::Pending)
            .user_state(InvitationUserState::New)
            .try_into()
            .expect(BLANK)
    });
    let mut out = VALUE.clone();
    out.creation_date_time = creation_date_time;
    out.invitation_id = invitation_id;
    out.status = status;
    out.user_state = user_state;
    out
}

/// The answer of `POST /v1/invitations`.
pub fn create_invitation_response(invitation: Invitation) -> CreateInvitationResponse {
    static VALUE: LazyLock<CreateInvitationResponse> = LazyLock::new(|| {
        CreateInvitationResponse::builder()
            .invitation(self::invitation(
                DateTime::<Utc>::UNIX_EPOCH,
                String::new(),
                InvitationStatus::Pending,
                InvitationUserState::New,
            ))
            .try_into()
            .expect(BLANK)
    });
    let mut out = VALUE.clone();
    out.invitation = invitation;
    out
}

/// The error envelope: `{"error": {code, message, details, requestId}}`.
pub fn error_response(
    code: ErrorCode,
    details: Option<ErrorDetails>,
    message: String,
    request_id: String,
) -> ErrorResponse {
    static VALUE: LazyLock<ErrorResponse> = LazyLock::new(|| {
        ErrorResponse::builder()
            .error(
                ErrorBody::builder()
                    .code(ErrorCode::InternalServerError)
                    .details(None)
                    .message("")
                    .request_id(""),
            )
            .try_into()
            .expect(BLANK)
    });
    let mut out = VALUE.clone();
    out.error.code = code;
    out.error.details = details;
    out.error.message = message;
    out.error.request_id = request_id;
    out
}

/// The answer of `GET /health`.
pub fn health_response(status: HealthResponseStatus) -> HealthResponse {
    static VALUE: LazyLock<HealthResponse> = LazyLock::new(|| {
        HealthResponse::builder()
            .status(HealthResponseStatus::Ok)
            .try_into()
            .expect(BLANK)
    });
    let mut out = VALUE.clone();
    out.status = status;
    out
}

/// The answer of `GET /ping`.
pub fn ping_response(
    client_id: String,
    message: String,
    scopes: Vec<String>,
    status: PingResponseStatus,
) -> PingResponse {
    static VALUE: LazyLock<PingResponse> = LazyLock::new(|| {
        PingResponse::builder()
            .client_id("")
            .message("")
            .scopes(Vec::<String>::new())
            .status(PingResponseStatus::Ok)
            .try_into()
            .expect(BLANK)
    });
    let mut out = VALUE.clone();
    out.client_id = client_id;
    out.message = message;
    out.scopes = scopes;
    out.status = status;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_document() -> Document {
        document(DocumentFields {
            attestation_reference_id: Some("att-1".into()),
            category: DocumentCategory::Academic,
            creation_date_time: DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap(),
            document_id: "doc_1".into(),
            document_type: "DIPLOMA".into(),
            filename: Some("d.pdf".into()),
            mime_type: "application/pdf".into(),
            size_bytes: NonZeroU64::new(42).unwrap(),
            status: DocumentStatus::Received,
            user_id: "usr_1".into(),
            verification_intent: VerificationIntent::Attest,
        })
    }

    /// Each constructor answers exactly the JSON a struct literal with the same fields gave:
    /// no placeholder of a blank survives.
    #[test]
    fn every_blank_converts_and_every_field_is_the_one_given() {
        let doc = sample_document();
        assert_eq!(
            serde_json::to_value(&doc).unwrap(),
            serde_json::json!({
                "attestationReferenceId": "att-1",
                "category": "academic",
                "creationDateTime": "2023-11-14T22:13:20Z",
                "documentId": "doc_1",
                "documentType": "DIPLOMA",
                "filename": "d.pdf",
                "mimeType": "application/pdf",
                "sizeBytes": 42,
                "status": "received",
                "userId": "usr_1",
                "verificationIntent": "attest",
            })
        );
        assert_eq!(submit_document_response(doc.clone()).document, doc);

        let mut details = ErrorDetails::default();
        details.retry_after_seconds = Some(3);
        let error = batch_item_error(ErrorCode::NotFound, Some(details.clone()), "gone".into());
        assert_eq!(
            serde_json::to_value(&error).unwrap(),
            serde_json::json!({
                "code": "NOT_FOUND",
                "details": {"retryAfterSeconds": 3},
                "message": "gone",
            })
        );
        let failed = batch_item_result(None, Some(error), "a".into(), BatchItemStatus::Failed);
        let created = batch_item_result(
            Some(doc.clone()),
            None,
            "b".into(),
            BatchItemStatus::Created,
        );
        assert_eq!(
            serde_json::to_value(&failed).unwrap()["itemId"],
            serde_json::json!("a")
        );
        assert_eq!(created.document.as_ref(), Some(&doc));
        assert_eq!(created.status, BatchItemStatus::Created);
        let batch = submit_document_batch_response(
            vec![failed.clone(), created.clone()],
            batch_summary(1, 1, 2),
        );
        assert_eq!(batch.results, [failed, created]);
        assert_eq!(
            serde_json::to_value(&batch.summary).unwrap(),
            serde_json::json!({"failed": 1, "succeeded": 1, "total": 2})
        );

        let user = create_user_response(
            "a@b.c".into(),
            "org_1".into(),
            CreateUserResponseStatus::Created,
            "usr_1".into(),
        );
        assert_eq!(
            serde_json::to_value(&user).unwrap(),
            serde_json::json!({
                "email": "a@b.c",
                "organisationId": "org_1",
                "status": "created",
                "userId": "usr_1",
            })
        );

        let at = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let invited = invitation(
            at,
            "inv_1".into(),
            InvitationStatus::Accepted,
            InvitationUserState::Existing,
        );
        assert_eq!(
            serde_json::to_value(create_invitation_response(invited)).unwrap(),
            serde_json::json!({"invitation": {
                "creationDateTime": "2023-11-14T22:13:20Z",
                "invitationId": "inv_1",
                "status": "accepted",
                "userState": "existing",
            }})
        );

        assert_eq!(
            serde_json::to_value(error_response(
                ErrorCode::TooManyRequests,
                Some(details),
                "slow down".into(),
                "req_1".into(),
            ))
            .unwrap(),
            serde_json::json!({"error": {
                "code": "TOO_MANY_REQUESTS",
                "details": {"retryAfterSeconds": 3},
                "message": "slow down",
                "requestId": "req_1",
            }})
        );

        assert_eq!(
            serde_json::to_value(health_response(HealthResponseStatus::Ok)).unwrap(),
            serde_json::json!({"status": "ok"})
        );
        assert_eq!(
            serde_json::to_value(ping_response(
                "cli_1".into(),
                "Authorized".into(),
                vec!["users:write".into()],
                PingResponseStatus::Ok,
            ))
            .unwrap(),
            serde_json::json!({
                "clientId": "cli_1",
                "message": "Authorized",
                "scopes": ["users:write"],
                "status": "ok",
            })
        );
    }

    /// With every optional field given, each constructor's JSON has exactly the properties
    /// its schema has in the spec the sandbox serves. A struct literal failed to compile when
    /// the spec gained a field; this test is that signal now: a new property (optional or
    /// not) that the sandbox does not set fails here, naming the schema and the property.
    #[test]
    fn every_constructor_sets_every_property_of_its_schema() {
        let spec: serde_json::Value =
            serde_json::from_str(crate::api::spec_files::OPENAPI_JSON).unwrap();
        let schemas = &spec["components"]["schemas"];
        let doc = sample_document();
        let mut details = ErrorDetails::default();
        details.retry_after_seconds = Some(3);
        let error = batch_item_error(ErrorCode::NotFound, Some(details.clone()), "gone".into());
        let result = batch_item_result(
            Some(doc.clone()),
            Some(error.clone()),
            "a".into(),
            BatchItemStatus::Failed,
        );
        let at = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap();
        let invited = invitation(
            at,
            "inv_1".into(),
            InvitationStatus::Pending,
            InvitationUserState::New,
        );
        let envelope = error_response(
            ErrorCode::NotFound,
            Some(details),
            "gone".into(),
            "req_1".into(),
        );
        fn json<T: serde::Serialize>(value: &T) -> serde_json::Value {
            serde_json::to_value(value).unwrap()
        }
        let samples: Vec<(&str, serde_json::Value)> = vec![
            ("Document", json(&doc)),
            (
                "SubmitDocumentResponse",
                json(&submit_document_response(doc)),
            ),
            ("BatchItemError", json(&error)),
            ("BatchItemResult", json(&result)),
            (
                "SubmitDocumentBatchResponse",
                json(&submit_document_batch_response(
                    vec![result],
                    batch_summary(1, 0, 1),
                )),
            ),
            ("BatchSummary", json(&batch_summary(1, 0, 1))),
            (
                "CreateUserResponse",
                json(&create_user_response(
                    "a@b.c".into(),
                    "org_1".into(),
                    CreateUserResponseStatus::Created,
                    "usr_1".into(),
                )),
            ),
            ("Invitation", json(&invited)),
            (
                "CreateInvitationResponse",
                json(&create_invitation_response(invited)),
            ),
            ("ErrorResponse", json(&envelope)),
            ("ErrorBody", json(&envelope)["error"].clone()),
            (
                "HealthResponse",
                json(&health_response(HealthResponseStatus::Ok)),
            ),
            (
                "PingResponse",
                json(&ping_response(
                    "cli_1".into(),
                    "Authorized".into(),
                    vec!["users:write".into()],
                    PingResponseStatus::Ok,
                )),
            ),
        ];
        for (schema, value) in samples {
            let mut expected: Vec<&str> = schemas[schema]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{schema} is not an object schema of the spec"))
                .keys()
                .map(String::as_str)
                .collect();
            let mut set: Vec<&str> = value
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            expected.sort_unstable();
            set.sort_unstable();
            assert_eq!(set, expected, "{schema}: the properties the sandbox sets");
        }
    }
}
