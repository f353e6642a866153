//! Documents: building submissions from bytes or files, and submitting any number of them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use base64::Engine as _;
use futures_util::StreamExt as _;
use pearsana_api::spec::{BATCH_MAX_ITEMS, MAX_DOCUMENT_BYTES, operations};
use pearsana_api::types;

use crate::call;
use crate::client::Client;
use crate::envelope::{self, ResponseMeta};
use crate::error::{Error, ErrorCode, ErrorDetails, Result, ValidationError};
use crate::options::CallOptions;
use crate::validate;

/// Builds an external reference, rejecting empty parts.
///
/// ```
/// let reference = pearsana::external_reference("SIS", "STU-2024-001")?;
/// assert_eq!(reference.namespace.as_str(), "SIS");
/// assert!(pearsana::external_reference("SIS", "").is_err());
/// # Ok::<(), pearsana::Error>(())
/// ```
pub fn external_reference(namespace: &str, external_id: &str) -> Result<types::ExternalReference> {
    let mut problems = ValidationError::default();
    let namespace = types::ExternalReferenceNamespace::try_from(namespace)
        .map_err(|_| problems.push("externalReference.namespace", "is required"))
        .ok();
    let external_id = types::ExternalReferenceExternalId::try_from(external_id)
        .map_err(|_| problems.push("externalReference.externalId", "is required"))
        .ok();
    match (namespace, external_id) {
        (Some(namespace), Some(external_id)) => Ok(types::ExternalReference::builder()
            .namespace(namespace)
            .external_id(external_id)
            .try_into()?),
        _ => Err(problems.into()),
    }
}

/// A document's content, base64-encoded, with its filename (which decides the MIME type).
///
/// ```
/// use pearsana::DocumentFile;
///
/// let file = DocumentFile::from_bytes(b"%PDF-1.4 ...")?.with_filename("transcript.pdf");
/// let reference = pearsana::external_reference("SIS", "STU-2024-001")?;
/// let request = file.submit_request(reference, "OFFICIAL_TRANSCRIPT")?;
/// assert_eq!(request.filename.as_deref(), Some("transcript.pdf"));
/// assert_eq!(request.file.as_str(), "JVBERi0xLjQgLi4u");
/// # Ok::<(), pearsana::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentFile {
    base64: String,
    size: u64,
    filename: Option<String>,
}

impl DocumentFile {
    /// Encodes `bytes` (1 byte to [`MAX_DOCUMENT_BYTES`]).
    pub fn from_bytes(bytes: impl AsRef<[u8]>) -> Result<Self> {
        let bytes = bytes.as_ref();
        check_size(bytes.len() as u64)?;
        Ok(Self {
            base64: base64::engine::general_purpose::STANDARD.encode(bytes),
            size: bytes.len() as u64,
            filename: None,
        })
    }

    /// Reads and encodes a file; its name becomes the filename.
    pub async fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let io_error = |source| Error::File {
            path: path.to_owned(),
            source,
        };
        let metadata = tokio::fs::metadata(path).await.map_err(io_error)?;
        check_size(metadata.len())?;
        let bytes = tokio::fs::read(path).await.map_err(io_error)?;
        let file = Self::from_bytes(bytes)?;
        Ok(match path.file_name().and_then(|n| n.to_str()) {
            Some(name) => file.with_filename(name),
            None => file,
        })
    }

    /// Sets the filename.
    pub fn with_filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// The content, standard base64 with padding.
    pub fn base64(&self) -> &str {
        &self.base64
    }

    /// The decoded size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The filename, if any.
    pub fn filename(&self) -> Option<&str> {
        self.filename.as_deref()
    }

    /// A `store_only` submission of this file for the user with `external_reference`.
    pub fn submit_request(
        &self,
        external_reference: types::ExternalReference,
        document_type: &str,
    ) -> Result<types::SubmitDocumentRequest> {
        let (document_type, file) = self.typed_parts::<types::SubmitDocumentRequestDocumentType, types::SubmitDocumentRequestFile>(document_type, "")?;
        Ok(types::SubmitDocumentRequest::builder()
            .document_type(document_type)
            .external_reference(external_reference)
            .file(file)
            .filename(self.filename.clone())
            .try_into()?)
    }

    /// A batch item for this file, for [`Client::submit_documents`].
    pub fn batch_item(
        &self,
        item_id: &str,
        external_reference: types::ExternalReference,
        document_type: &str,
    ) -> Result<types::SubmitDocumentBatchItem> {
        let mut problems = ValidationError::default();
        let parsed_id = types::SubmitDocumentBatchItemItemId::try_from(item_id)
            .map_err(|e| problems.push("itemId", e.to_string()))
            .ok();
        let parts = self.typed_parts::<types::SubmitDocumentRequestDocumentType, types::SubmitDocumentBatchItemFile>(document_type, "");
        let (document_type, file) = match parts {
            Ok(parts) => parts,
            Err(Error::Validation(more)) => {
                problems.problems.extend(more.problems);
                return Err(problems.into());
            }
            Err(other) => return Err(other),
        };
        let Some(item_id) = parsed_id else {
            return Err(problems.into());
        };
        Ok(types::SubmitDocumentBatchItem::builder()
            .item_id(item_id)
            .document_type(document_type)
            .external_reference(external_reference)
            .file(file)
            .filename(self.filename.clone())
            .try_into()?)
    }

    fn typed_parts<D, F>(&self, document_type: &str, prefix: &str) -> Result<(D, F)>
    where
        D: for<'a> TryFrom<&'a str>,
        F: for<'a> TryFrom<&'a str>,
    {
        let mut problems = ValidationError::default();
        let document_type = D::try_from(document_type)
            .map_err(|_| problems.push(format!("{prefix}documentType"), "is required"))
            .ok();
        let file = F::try_from(self.base64.as_str())
            .map_err(|_| problems.push(format!("{prefix}file"), "is required"))
            .ok();
        match (document_type, file) {
            (Some(d), Some(f)) => Ok((d, f)),
            _ => Err(problems.into()),
        }
    }
}

fn check_size(size: u64) -> Result<()> {
    if size == 0 {
        return Err(
            ValidationError::single("file", "is empty; a document needs at least 1 byte").into(),
        );
    }
    if size > MAX_DOCUMENT_BYTES {
        return Err(ValidationError::single(
            "file",
            format!("is {size} bytes; at most {MAX_DOCUMENT_BYTES} are allowed"),
        )
        .into());
    }
    Ok(())
}

/// Why one item of [`Client::submit_documents`] has no document.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ItemError {
    /// The API rejected this item (the rest of its batch may have succeeded).
    Rejected {
        /// The error code.
        code: ErrorCode,
        /// The server's message.
        message: String,
        /// Typed details, where defined.
        details: ErrorDetails,
    },
    /// The whole batch request this item was part of failed; shared by all its items.
    Request(Arc<Error>),
    /// The server's answer held a result for this item that this version of the SDK cannot
    /// read (for example a document without a field it requires). The other items of the
    /// answer are unaffected. The server may have stored the document.
    Undecodable(Arc<serde_json::Error>),
    /// The server's answer held no result for this item.
    MissingResult,
}

impl std::fmt::Display for ItemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rejected { code, message, .. } => write!(f, "{code}: {message}"),
            Self::Request(error) => write!(f, "batch request failed: {error}"),
            Self::Undecodable(error) => {
                write!(
                    f,
                    "the response's result for this item is unreadable: {error}"
                )
            }
            Self::MissingResult => f.write_str("the response held no result for this item"),
        }
    }
}

/// The outcome of one item.
#[derive(Debug, Clone)]
pub struct ItemOutcome {
    /// The item's `itemId`.
    pub item_id: String,
    /// The created document, or why there is none.
    pub result: std::result::Result<types::Document, ItemError>,
}

/// One outcome per submitted item, in the order the items were given.
#[derive(Debug, Clone, Default)]
pub struct BatchOutcome {
    /// Every item's outcome.
    pub items: Vec<ItemOutcome>,
}

impl BatchOutcome {
    /// The outcome of the item with `item_id`.
    pub fn get(&self, item_id: &str) -> Option<&ItemOutcome> {
        self.items.iter().find(|o| o.item_id == item_id)
    }

    /// How many items produced a document.
    pub fn succeeded(&self) -> usize {
        self.items.iter().filter(|o| o.result.is_ok()).count()
    }

    /// How many items failed.
    pub fn failed(&self) -> usize {
        self.items.len() - self.succeeded()
    }

    /// Outcomes keyed by `itemId`.
    pub fn into_map(self) -> HashMap<String, std::result::Result<types::Document, ItemError>> {
        self.items
            .into_iter()
            .map(|o| (o.item_id, o.result))
            .collect()
    }
}

/// One item's result of a batch response as the API reported it. Decided by what the result
/// carries, not by its `status`, so a status this version does not know still yields the
/// document or the error that came with it.
fn item_result(result: types::BatchItemResult) -> std::result::Result<types::Document, ItemError> {
    match (result.document, result.error) {
        (Some(document), None) => Ok(document),
        (_, Some(error)) => Err(ItemError::Rejected {
            details: envelope::typed_details(&error.code, error.details, &ResponseMeta::default()),
            code: error.code,
            message: error.message,
        }),
        (None, None) => Err(ItemError::MissingResult),
    }
}

/// One entry of a batch answer: the item's `itemId` and its result, or why that result does
/// not decode.
type DecodedItem = (
    String,
    std::result::Result<types::BatchItemResult, serde_json::Error>,
);

/// The results of a batch answer. The whole answer goes through the generated type first (the
/// common case, one pass). When that fails, each entry of `results` is decoded on its own: an
/// item error whose `details` break the documented shape keeps its code and message (the
/// malformed members of `details` are dropped, as for a call's error envelope), and an entry
/// that still does not decode fails only its own item, found by its `itemId`. Only an answer
/// without a `results` list is an error for the whole batch.
fn decode_batch_results(body: &[u8]) -> std::result::Result<Vec<DecodedItem>, serde_json::Error> {
    let whole_error = match serde_json::from_slice::<types::SubmitDocumentBatchResponse>(body) {
        Ok(parsed) => {
            return Ok(parsed
                .results
                .into_iter()
                .map(|r| (r.item_id.clone(), Ok(r)))
                .collect());
        }
        Err(error) => error,
    };
    let Ok(serde_json::Value::Object(mut answer)) = serde_json::from_slice(body) else {
        return Err(whole_error);
    };
    let Some(serde_json::Value::Array(results)) = answer.remove("results") else {
        return Err(whole_error);
    };
    Ok(results.into_iter().filter_map(decode_batch_item).collect())
}

/// One entry of a batch answer's `results`; `None` when it has no `itemId` to report it under
/// (its item then ends as [`ItemError::MissingResult`]).
fn decode_batch_item(mut entry: serde_json::Value) -> Option<DecodedItem> {
    let item_id = entry.get("itemId")?.as_str()?.to_owned();
    let first = match serde_json::from_value::<types::BatchItemResult>(entry.clone()) {
        Ok(result) => return Some((item_id, Ok(result))),
        Err(error) => error,
    };
    let details = entry
        .get_mut("error")
        .and_then(serde_json::Value::as_object_mut)
        .and_then(|error| error.remove("details"));
    let Some(details) = details else {
        return Some((item_id, Err(first)));
    };
    let decoded = serde_json::from_value::<types::BatchItemResult>(entry).map(|mut result| {
        if let Some(error) = result.error.as_mut() {
            error.details = envelope::decodable_details(details);
        }
        result
    });
    Some((item_id, decoded.map_err(|_| first)))
}

impl Client {
    /// Submits any number of documents: validates them all (unique `itemId`s across the whole
    /// list), splits them into requests of at most [`BATCH_MAX_ITEMS`], sends up to
    /// `batch_concurrency` requests at once, and returns one outcome per item in input order.
    /// A request that fails as a whole fails each of its items with the shared error.
    ///
    /// ```no_run
    /// # async fn run(client: pearsana::Client, items: Vec<pearsana::types::SubmitDocumentBatchItem>) -> Result<(), pearsana::Error> {
    /// let outcome = client.submit_documents(items).await?;
    /// for item in &outcome.items {
    ///     match &item.result {
    ///         Ok(document) => println!("{}: {}", item.item_id, document.document_id),
    ///         Err(error) => println!("{}: {error}", item.item_id),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn submit_documents(
        &self,
        items: Vec<types::SubmitDocumentBatchItem>,
    ) -> Result<BatchOutcome> {
        let mut problems = ValidationError::default();
        validate::batch_items(&mut problems, &items);
        problems.into_result()?;
        let order: Vec<String> = items.iter().map(|i| i.item_id.to_string()).collect();
        // The items move into their requests: a document batch can be hundreds of MiB of
        // base64, so a copy per chunk would double the peak memory.
        Ok(self
            .send_in_chunks(order, items, |client, chunk| client.submit_chunk(chunk))
            .await)
    }

    /// Splits `items` into requests of at most [`BATCH_MAX_ITEMS`] (moving, not copying them),
    /// sends up to `batch_concurrency` of them at once with `send`, and returns one outcome per
    /// item of `order`, in that order.
    pub(crate) async fn send_in_chunks<'a, T, F, Fut>(
        &'a self,
        order: Vec<String>,
        items: Vec<T>,
        send: F,
    ) -> BatchOutcome
    where
        F: Fn(&'a Client, Vec<T>) -> Fut,
        Fut: std::future::Future<
                Output = Vec<(String, std::result::Result<types::Document, ItemError>)>,
            >,
    {
        let mut items = items.into_iter().peekable();
        let mut chunks: Vec<Vec<T>> = Vec::new();
        while items.peek().is_some() {
            chunks.push(items.by_ref().take(BATCH_MAX_ITEMS).collect());
        }
        let mut results: HashMap<String, std::result::Result<types::Document, ItemError>> =
            HashMap::new();
        let mut stream = futures_util::stream::iter(chunks)
            .map(|chunk| send(self, chunk))
            .buffer_unordered(self.batch_concurrency());
        while let Some(chunk_results) = stream.next().await {
            results.extend(chunk_results);
        }
        let items = order
            .into_iter()
            .map(|item_id| {
                let result = results
                    .remove(&item_id)
                    .unwrap_or(Err(ItemError::MissingResult));
                ItemOutcome { item_id, result }
            })
            .collect();
        BatchOutcome { items }
    }

    async fn submit_chunk(
        &self,
        chunk: Vec<types::SubmitDocumentBatchItem>,
    ) -> Vec<(String, std::result::Result<types::Document, ItemError>)> {
        let ids: Vec<String> = chunk.iter().map(|i| i.item_id.to_string()).collect();
        let request: Result<types::SubmitDocumentBatchRequest> =
            types::SubmitDocumentBatchRequest::builder()
                .items(chunk)
                .try_into()
                .map_err(Error::from);
        // The request is dropped once serialised, before sending.
        let body = request.and_then(|request| call::json_body(&request));
        self.send_chunk(ids, body.map(|body| (body, None))).await
    }

    /// Sends one batch request (a serialised body, or one streamed from files by
    /// [`upload`](crate::upload)) and reads its per-item results.
    pub(crate) async fn send_chunk(
        &self,
        ids: Vec<String>,
        body: Result<(Option<bytes::Bytes>, Option<crate::upload::StreamedBody>)>,
    ) -> Vec<(String, std::result::Result<types::Document, ItemError>)> {
        let options = CallOptions::default();
        let sent = match body.and_then(|(body, streamed)| {
            let mut exchange = self.exchange(&operations::SUBMIT_DOCUMENT_BATCH, body, &options)?;
            if let Some(streamed) = streamed {
                streamed.install(&mut exchange);
            }
            Ok(exchange)
        }) {
            Ok(exchange) => call::send_exchange(self, &exchange, &options)
                .await
                .map(|answer| (answer, exchange)),
            Err(error) => Err(error),
        };
        // The generated types decode unknown statuses, codes and fields, so one item a newer
        // server describes differently does not lose the other items' results; an item that
        // still does not decode fails alone (see `decode_batch_results`).
        let decoded: std::result::Result<Vec<DecodedItem>, Error> = match sent {
            Ok((answer, exchange)) => match decode_batch_results(&answer.body) {
                Ok(results) => Ok(results),
                Err(source) => Err(Error::Decode {
                    status: Some(answer.status),
                    body: answer.body,
                    source,
                    request_id: Some(exchange.request_id),
                }),
            },
            Err(error) => Err(error),
        };
        let redactor = || self.redactor();
        match decoded {
            Ok(results) => results
                .into_iter()
                .map(|(id, decoded)| {
                    let mut result = decoded
                        .map_err(|error| ItemError::Undecodable(Arc::new(error)))
                        .and_then(item_result);
                    if let Err(ItemError::Rejected { message, .. }) = &mut result {
                        redactor().in_place(message);
                    }
                    (id, result)
                })
                .collect(),
            Err(error) => {
                let shared = Arc::new(error.redact(&redactor()));
                ids.into_iter()
                    .map(|id| (id, Err(ItemError::Request(Arc::clone(&shared)))))
                    .collect()
            }
        }
    }
}
