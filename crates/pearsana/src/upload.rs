//! Constant-memory document uploads: the JSON body of `documents:submit` and
//! `documents:submitBatch` streamed from files.
//!
//! A batch of 25 documents of 10 MiB is 333 MiB of JSON. [`DocumentFile`] holds a document's
//! base64 in memory; an upload instead holds only where its bytes come from (an
//! [`UploadSource`]: a path, or a function that opens a reader of a known length) and produces
//! the body while it is sent:
//!
//! - the envelope (every field but `file`) is serialised by `serde_json` from the same
//!   generated request types the typed path sends, with a unique placeholder in each `file`,
//!   and split around the placeholders; so the streamed body is byte for byte the JSON the
//!   typed path would send for the same inputs;
//! - each file is read in chunks of [`UPLOAD_CHUNK_BYTES`] (a multiple of 3, so the chunks'
//!   base64 joins without padding) and encoded as it goes: at most one chunk of file data and
//!   its base64 are held per request, whatever the file sizes;
//! - the exact `Content-Length` is known before the first byte (the envelope's length plus
//!   `4 * ceil(size / 3)` per file);
//! - every attempt (a retry, the replay after a `401`) re-opens and re-reads the files, so
//!   the call pipeline's retries, token refresh and adaptive throttling all apply;
//! - a file that changed size or disappeared since it was planned aborts the body (the server
//!   sees an incomplete request and stores nothing) and the call fails with
//!   [`Error::File`] naming the file; it is not repeated.
//!
//! Requests are validated before any I/O by the same rules as the typed path
//! ([`validate`]); an empty file or one over
//! [`MAX_DOCUMENT_BYTES`] is refused before any request.
//!
//! ```no_run
//! use pearsana::{DocumentUpload, external_reference};
//!
//! # async fn run(client: pearsana::Client) -> Result<(), pearsana::Error> {
//! let mut items = Vec::new();
//! for (i, path) in ["a.pdf", "b.pdf"].iter().enumerate() {
//!     let upload = DocumentUpload::from_path(path).await?;
//!     let reference = external_reference("SIS", "STU-2024-001")?;
//!     items.push(upload.batch_item(&format!("doc-{i}"), reference, "OFFICIAL_TRANSCRIPT")?);
//! }
//! let outcome = client.upload_documents(items).await?;
//! println!("{} stored, {} failed", outcome.succeeded(), outcome.failed());
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use base64::Engine as _;
use bytes::Bytes;
use pearsana_api::spec::{MAX_DOCUMENT_BYTES, operations};
use pearsana_api::types;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use tokio::io::{AsyncRead, AsyncReadExt as _};

use crate::call::Call;
use crate::client::Client;
use crate::documents::{BatchOutcome, DocumentFile};
use crate::error::{Error, Result, ValidationError};
use crate::pipeline::{Exchange, Outcome};
use crate::validate;

/// Bytes of file data read (and encoded) at a time: 192 KiB, a multiple of 3 so that every
/// chunk but a file's last encodes to base64 without padding.
pub const UPLOAD_CHUNK_BYTES: usize = 3 * 64 * 1024;

type BoxReader = Box<dyn AsyncRead + Send + Unpin>;
type OpenFuture = Pin<Box<dyn Future<Output = io::Result<BoxReader>> + Send>>;
type Opener = Arc<dyn Fn() -> OpenFuture + Send + Sync>;

#[derive(Clone)]
enum Origin {
    Path(PathBuf),
    Reader(Opener),
}

/// Where the bytes of an uploaded document come from, with their size, known before sending.
///
/// A source is opened again by every attempt of a request, so it must give the same bytes
/// each time. For a file that is checked: its size and modification time when it was planned
/// must still hold when an attempt opens it and when that attempt has read its last byte, so a
/// file rewritten in place, even to the same size, aborts the request instead of sending
/// bytes other than the planned ones (within the file system's timestamp resolution).
#[derive(Clone)]
pub struct UploadSource {
    name: String,
    size: u64,
    /// A file's modification time when planned (`None` for a reader, or where the platform
    /// keeps none).
    modified: Option<SystemTime>,
    origin: Origin,
}

impl fmt::Debug for UploadSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadSource")
            .field("name", &self.name)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl UploadSource {
    /// A file on disk; its size is read now. A path that is missing or not a regular file
    /// is an [`Error::File`].
    pub async fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file_error = |source| Error::File {
            path: path.to_owned(),
            source,
        };
        let metadata = tokio::fs::metadata(path).await.map_err(file_error)?;
        if !metadata.is_file() {
            return Err(file_error(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        Ok(Self {
            name: path.display().to_string(),
            size: metadata.len(),
            modified: metadata.modified().ok(),
            origin: Origin::Path(path.to_owned()),
        })
    }

    /// `size` bytes from a reader that `open` creates, once per attempt. `name` identifies
    /// the source in errors. A reader that gives more or fewer than `size` bytes fails the
    /// request with an [`Error::File`] naming it.
    ///
    /// ```
    /// let data: &'static [u8] = b"%PDF-1.4 ...";
    /// let source = pearsana::UploadSource::from_reader("in-memory.pdf", data.len() as u64, move || async move {
    ///     Ok(std::io::Cursor::new(data))
    /// });
    /// assert_eq!(source.size(), 12);
    /// ```
    pub fn from_reader<F, Fut, R>(name: impl Into<String>, size: u64, open: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = io::Result<R>> + Send + 'static,
        R: AsyncRead + Send + Unpin + 'static,
    {
        let opener: Opener = Arc::new(move || {
            let opening = open();
            Box::pin(async move { opening.await.map(|reader| Box::new(reader) as BoxReader) })
        });
        Self {
            name: name.into(),
            size,
            modified: None,
            origin: Origin::Reader(opener),
        }
    }

    /// The size in bytes, as planned.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// A file's modification time as planned, which every attempt checks; `None` for a
    /// reader. A caller that looked at the file earlier (to hash it, say) can compare this
    /// with what it saw, to know that the planned bytes are the ones it looked at.
    pub fn modified(&self) -> Option<SystemTime> {
        self.modified
    }

    /// The name used in errors (the path, for a file).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The path errors name.
    fn error_path(&self) -> PathBuf {
        match &self.origin {
            Origin::Path(path) => path.clone(),
            Origin::Reader(_) => PathBuf::from(&self.name),
        }
    }

    /// Why this source cannot be a document, if it cannot.
    fn size_problem(&self) -> Option<String> {
        match self.size {
            0 => Some(format!(
                "`{}` is empty; a document needs at least 1 byte",
                self.name
            )),
            size if size > MAX_DOCUMENT_BYTES => Some(format!(
                "`{}` is {size} bytes; at most {MAX_DOCUMENT_BYTES} are allowed",
                self.name
            )),
            _ => None,
        }
    }

    /// Opens the source for one attempt, checking a file's size against the plan.
    async fn open(&self) -> io::Result<BoxReader> {
        match &self.origin {
            Origin::Path(path) => {
                let file = tokio::fs::File::open(path).await.map_err(|e| {
                    if e.kind() == io::ErrorKind::NotFound {
                        io::Error::new(e.kind(), "disappeared after it was planned for upload")
                    } else {
                        e
                    }
                })?;
                self.check_unchanged(&file.metadata().await?)?;
                Ok(Box::new(file))
            }
            Origin::Reader(open) => open().await,
        }
    }

    /// After an attempt has read a file's last byte: the file must still be as planned, or
    /// it was written to while it was being read.
    async fn check_after_reading(&self) -> io::Result<()> {
        match &self.origin {
            Origin::Path(path) => self.check_unchanged(&tokio::fs::metadata(path).await?),
            Origin::Reader(_) => Ok(()),
        }
    }

    fn check_unchanged(&self, now: &std::fs::Metadata) -> io::Result<()> {
        if now.len() != self.size {
            return Err(changed(self.size, format!("is now {} bytes", now.len())));
        }
        if now.modified().ok() != self.modified {
            return Err(changed(
                self.size,
                "same size, but written to since: its modification time moved".into(),
            ));
        }
        Ok(())
    }
}

fn changed(planned: u64, what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "changed since it was planned for upload ({planned} bytes planned, {what}); the request carrying it was abandoned"
        ),
    )
}

/// A document to upload: its source and filename, turned into a
/// [`submit_request`](Self::submit_request) or a [`batch_item`](Self::batch_item).
#[derive(Debug, Clone)]
pub struct DocumentUpload {
    source: UploadSource,
    filename: Option<String>,
}

impl DocumentUpload {
    /// A document from `source`, without a filename.
    pub fn new(source: UploadSource) -> Self {
        Self {
            source,
            filename: None,
        }
    }

    /// A file on disk; its name becomes the filename (which decides the MIME type).
    pub async fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let upload = Self::new(UploadSource::from_path(path).await?);
        Ok(match path.file_name().and_then(|n| n.to_str()) {
            Some(name) => upload.with_filename(name),
            None => upload,
        })
    }

    /// Sets the filename.
    pub fn with_filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// The source.
    pub fn source(&self) -> &UploadSource {
        &self.source
    }

    /// A stand-in with a valid one-byte `file`, whose typed helpers check the other fields.
    fn stand_in(&self) -> Result<DocumentFile> {
        let file = DocumentFile::from_bytes([0u8])?;
        Ok(match &self.filename {
            Some(name) => file.with_filename(name.clone()),
            None => file,
        })
    }

    /// A `store_only` submission of this document for the user with `external_reference`,
    /// for [`Client::upload_document`]; set more fields with [`UploadRequest::request_mut`].
    pub fn submit_request(
        self,
        external_reference: types::ExternalReference,
        document_type: &str,
    ) -> Result<UploadRequest> {
        let request = self
            .stand_in()?
            .submit_request(external_reference, document_type)?;
        Ok(UploadRequest {
            request,
            source: self.source,
        })
    }

    /// A batch item for this document, for [`Client::upload_documents`] and
    /// [`Client::upload_document_batch`]; set more fields with [`UploadItem::item_mut`].
    pub fn batch_item(
        self,
        item_id: &str,
        external_reference: types::ExternalReference,
        document_type: &str,
    ) -> Result<UploadItem> {
        let item = self
            .stand_in()?
            .batch_item(item_id, external_reference, document_type)?;
        Ok(UploadItem {
            item,
            source: self.source,
        })
    }
}

/// A `documents:submit` request whose `file` is streamed from an [`UploadSource`].
#[derive(Debug, Clone)]
pub struct UploadRequest {
    request: types::SubmitDocumentRequest,
    source: UploadSource,
}

impl UploadRequest {
    /// The request's other fields; its `file` is ignored (the source's bytes are sent).
    pub fn request_mut(&mut self) -> &mut types::SubmitDocumentRequest {
        &mut self.request
    }

    /// The request's fields.
    pub fn request(&self) -> &types::SubmitDocumentRequest {
        &self.request
    }

    /// The source of its `file`.
    pub fn source(&self) -> &UploadSource {
        &self.source
    }
}

/// A `documents:submitBatch` item whose `file` is streamed from an [`UploadSource`].
#[derive(Debug, Clone)]
pub struct UploadItem {
    item: types::SubmitDocumentBatchItem,
    source: UploadSource,
}

impl UploadItem {
    /// The item's other fields; its `file` is ignored (the source's bytes are sent).
    pub fn item_mut(&mut self) -> &mut types::SubmitDocumentBatchItem {
        &mut self.item
    }

    /// The item's fields.
    pub fn item(&self) -> &types::SubmitDocumentBatchItem {
        &self.item
    }

    /// The item's `itemId`.
    pub fn item_id(&self) -> &str {
        &self.item.item_id
    }

    /// The source of its `file`.
    pub fn source(&self) -> &UploadSource {
        &self.source
    }
}

/// A placeholder for a `file` value: 32 random characters of the base64 alphabet (a valid
/// base64 text), unique within a body.
fn placeholder() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

fn file_value<F: for<'a> TryFrom<&'a str>>(text: &str) -> Result<F> {
    F::try_from(text).map_err(|_| Error::InvalidRequest {
        message: "the upload placeholder was refused by the request type".into(),
        request_id: None,
    })
}

/// Splits a serialised envelope around each placeholder (in order, each exactly once).
fn split(json: Vec<u8>, placeholders: &[String]) -> Result<Vec<Bytes>> {
    let json = Bytes::from(json);
    let occurrences = |needle: &[u8]| json.windows(needle.len()).filter(|w| *w == needle).count();
    let mut parts = Vec::with_capacity(placeholders.len() + 1);
    let mut start = 0;
    for placeholder in placeholders {
        let needle = format!("\"{placeholder}\"");
        let found = (occurrences(needle.as_bytes()) == 1)
            .then(|| {
                json[start..]
                    .windows(needle.len())
                    .position(|w| w == needle.as_bytes())
            })
            .flatten();
        let Some(at) = found else {
            return Err(Error::InvalidRequest {
                message: "the upload envelope could not be laid out".into(),
                request_id: None,
            });
        };
        let open = start + at + 1;
        parts.push(json.slice(start..open));
        start = open + placeholder.len();
    }
    parts.push(json.slice(start..));
    Ok(parts)
}

/// Length of the padded standard base64 text of `bytes` bytes.
pub const fn base64_len(bytes: u64) -> u64 {
    bytes.div_ceil(3) * 4
}

/// A planned body: the envelope's parts around the files, and where the files come from.
struct Plan {
    parts: Vec<Bytes>,
    sources: Vec<UploadSource>,
    content_length: u64,
    /// The first local failure of any attempt (a file that changed or vanished).
    failure: Mutex<Option<(PathBuf, io::ErrorKind, String)>>,
}

/// A request body streamed from files, re-created for every attempt.
#[derive(Clone)]
pub(crate) struct StreamedBody(Arc<Plan>);

impl fmt::Debug for StreamedBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamedBody")
            .field("content_length", &self.0.content_length)
            .field("files", &self.0.sources.len())
            .finish()
    }
}

impl StreamedBody {
    fn new(parts: Vec<Bytes>, sources: Vec<UploadSource>) -> Self {
        let envelope: u64 = parts.iter().map(|p| p.len() as u64).sum();
        let files: u64 = sources.iter().map(|s| base64_len(s.size)).sum();
        Self(Arc::new(Plan {
            parts,
            sources,
            content_length: envelope + files,
            failure: Mutex::new(None),
        }))
    }

    /// The exact length of the body.
    pub(crate) fn content_length(&self) -> u64 {
        self.0.content_length
    }

    /// Makes `exchange` send this body.
    pub(crate) fn install(self, exchange: &mut Exchange) {
        exchange
            .headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        exchange.body = None;
        exchange.streamed = Some(self);
    }

    /// Gives one attempt's request a fresh body.
    pub(crate) fn attach(&self, request: &mut reqwest::Request) {
        request
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(self.content_length()));
        *request.body_mut() = Some(reqwest::Body::wrap_stream(self.stream()));
    }

    /// Whether an attempt failed on a local file.
    pub(crate) fn failed(&self) -> bool {
        self.0.failure.lock().is_ok_and(|f| f.is_some())
    }

    fn error(&self) -> Option<Error> {
        let failure = self.0.failure.lock().ok()?;
        let (path, kind, message) = failure.as_ref()?;
        Some(Error::File {
            path: path.clone(),
            source: io::Error::new(*kind, message.clone()),
        })
    }

    /// The body, produced as it is sent.
    fn stream(&self) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static {
        let cursor = Cursor {
            plan: Arc::clone(&self.0),
            step: 0,
            open: None,
            raw: Vec::new(),
        };
        futures_util::stream::try_unfold(cursor, |mut cursor| async move {
            Ok(cursor.next().await?.map(|chunk| (chunk, cursor)))
        })
    }
}

/// The typed error of a call whose streamed body failed on a local file.
pub(crate) fn local_error(exchange: &Exchange, outcome: &Outcome) -> Option<Error> {
    if outcome.result.is_ok() {
        return None;
    }
    exchange.streamed.as_ref()?.error()
}

/// Where a body's stream is: step `2i` is envelope part `i`, step `2i + 1` is file `i`.
struct Cursor {
    plan: Arc<Plan>,
    step: usize,
    open: Option<(BoxReader, u64)>,
    raw: Vec<u8>,
}

impl Cursor {
    async fn next(&mut self) -> io::Result<Option<Bytes>> {
        loop {
            let files = self.plan.sources.len();
            if self.step > 2 * files {
                return Ok(None);
            }
            if self.step.is_multiple_of(2) {
                let part = self.plan.parts[self.step / 2].clone();
                self.step += 1;
                if part.is_empty() {
                    continue;
                }
                return Ok(Some(part));
            }
            let index = self.step / 2;
            return match self.file_chunk(index).await {
                Ok(chunk) => Ok(Some(chunk)),
                Err(error) => {
                    let source = &self.plan.sources[index];
                    if let Ok(mut failure) = self.plan.failure.lock()
                        && failure.is_none()
                    {
                        *failure = Some((source.error_path(), error.kind(), error.to_string()));
                    }
                    tracing::warn!(file = %source.name, error = %error, "upload source failed; aborting the request body");
                    Err(error)
                }
            };
        }
    }

    /// The next base64 chunk of file `index`.
    async fn file_chunk(&mut self, index: usize) -> io::Result<Bytes> {
        let source = &self.plan.sources[index];
        if self.open.is_none() {
            self.open = Some((source.open().await?, source.size));
        }
        let Some((reader, remaining)) = self.open.as_mut() else {
            return Err(io::Error::other("upload source not open"));
        };
        let want = (*remaining).min(UPLOAD_CHUNK_BYTES as u64) as usize;
        self.raw.resize(want, 0);
        let mut filled = 0;
        while filled < want {
            let read = reader.read(&mut self.raw[filled..]).await?;
            if read == 0 {
                let got = source.size - *remaining + filled as u64;
                return Err(changed(source.size, format!("ended after {got}")));
            }
            filled += read;
        }
        *remaining -= want as u64;
        if *remaining == 0 {
            let mut probe = [0u8; 1];
            if reader.read(&mut probe).await? != 0 {
                return Err(changed(source.size, "it has more bytes now".into()));
            }
            source.check_after_reading().await?;
            self.open = None;
            self.step += 1;
        }
        let mut encoded = vec![0u8; base64_len(want as u64) as usize];
        let written = base64::engine::general_purpose::STANDARD
            .encode_slice(&self.raw, &mut encoded)
            .map_err(io::Error::other)?;
        encoded.truncate(written);
        Ok(Bytes::from(encoded))
    }
}

/// Refuses empty and oversized sources, naming them under `field`.
fn size_problems(problems: &mut ValidationError, field: &str, source: &UploadSource) {
    if let Some(problem) = source.size_problem() {
        problems.push(field, problem);
    }
}

/// Plans the body of one `documents:submit`.
fn plan_single(upload: &UploadRequest) -> Result<StreamedBody> {
    let mut problems = validate::submit_document(&upload.request);
    size_problems(&mut problems, "file", &upload.source);
    problems.into_result()?;
    let marker = placeholder();
    let mut request = upload.request.clone();
    request.file = file_value(&marker)?;
    let json = serde_json::to_vec(&request).map_err(serialise_error)?;
    let parts = split(json, std::slice::from_ref(&marker))?;
    Ok(StreamedBody::new(parts, vec![upload.source.clone()]))
}

/// Plans the body of one `documents:submitBatch` of already validated items.
fn plan_batch(items: &[UploadItem]) -> Result<StreamedBody> {
    let markers: Vec<String> = items.iter().map(|_| placeholder()).collect();
    let mut typed = Vec::with_capacity(items.len());
    for (item, marker) in items.iter().zip(&markers) {
        let mut copy = item.item.clone();
        copy.file = file_value(marker)?;
        typed.push(copy);
    }
    let request: types::SubmitDocumentBatchRequest = types::SubmitDocumentBatchRequest::builder()
        .items(typed)
        .try_into()?;
    let json = serde_json::to_vec(&request).map_err(serialise_error)?;
    let parts = split(json, &markers)?;
    let sources = items.iter().map(|i| i.source.clone()).collect();
    Ok(StreamedBody::new(parts, sources))
}

fn serialise_error(e: serde_json::Error) -> Error {
    Error::InvalidRequest {
        message: format!("the request body could not be serialised: {e}"),
        request_id: None,
    }
}

/// Checks items as the typed path does, plus their sources' sizes.
fn validate_items(problems: &mut ValidationError, items: &[UploadItem]) {
    let typed: Vec<types::SubmitDocumentBatchItem> = items.iter().map(|i| i.item.clone()).collect();
    validate::batch_items(problems, &typed);
    for (i, item) in items.iter().enumerate() {
        size_problems(problems, &format!("items[{i}].file"), &item.source);
    }
}

impl Client {
    /// `POST /v1/documents:submit` with the file streamed from its source: the body is the
    /// JSON [`submit_document`](Self::submit_document) would send, produced while it is sent
    /// (see [`upload`](crate::upload)). Validated before any I/O.
    pub fn upload_document(
        &self,
        upload: &UploadRequest,
    ) -> Call<'_, types::SubmitDocumentResponse> {
        match plan_single(upload) {
            Ok(streamed) => {
                Call::new(self, &operations::SUBMIT_DOCUMENT, Ok(None)).with_streamed_body(streamed)
            }
            Err(error) => Call::new(self, &operations::SUBMIT_DOCUMENT, Err(error)),
        }
    }

    /// `POST /v1/documents:submitBatch` of 1 to 25 items with their files streamed; see
    /// [`upload_documents`](Self::upload_documents) for any number of items.
    pub fn upload_document_batch(
        &self,
        items: &[UploadItem],
    ) -> Call<'_, types::SubmitDocumentBatchResponse> {
        let op = &operations::SUBMIT_DOCUMENT_BATCH;
        let mut problems = ValidationError::default();
        let typed: Vec<types::SubmitDocumentBatchItem> =
            items.iter().map(|i| i.item.clone()).collect();
        match types::SubmitDocumentBatchRequest::builder()
            .items(typed)
            .try_into()
        {
            Ok(request) => problems
                .problems
                .extend(validate::submit_document_batch(&request).problems),
            Err(error) => return Call::new(self, op, Err(error.into())),
        }
        for (i, item) in items.iter().enumerate() {
            size_problems(&mut problems, &format!("items[{i}].file"), &item.source);
        }
        match problems.into_result().and_then(|()| plan_batch(items)) {
            Ok(streamed) => Call::new(self, op, Ok(None)).with_streamed_body(streamed),
            Err(error) => Call::new(self, op, Err(error)),
        }
    }

    /// Uploads any number of documents with their files streamed, like
    /// [`submit_documents`](Self::submit_documents): all validated first (unique `itemId`s,
    /// sizes), split into requests of at most [`BATCH_MAX_ITEMS`](pearsana_api::spec::BATCH_MAX_ITEMS), up to `batch_concurrency`
    /// requests at once, one outcome per item in input order. Memory stays bounded by one
    /// chunk of file data per request in flight, whatever the file sizes.
    pub async fn upload_documents(&self, items: Vec<UploadItem>) -> Result<BatchOutcome> {
        let mut problems = ValidationError::default();
        validate_items(&mut problems, &items);
        problems.into_result()?;
        let order: Vec<String> = items.iter().map(|i| i.item_id().to_owned()).collect();
        Ok(self
            .send_in_chunks(order, items, |client, chunk: Vec<UploadItem>| {
                let ids = chunk.iter().map(|i| i.item_id().to_owned()).collect();
                let body = plan_batch(&chunk).map(|streamed| (None, Some(streamed)));
                client.send_chunk(ids, body)
            })
            .await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_lengths() {
        assert_eq!(base64_len(1), 4);
        assert_eq!(base64_len(3), 4);
        assert_eq!(base64_len(4), 8);
        assert_eq!(UPLOAD_CHUNK_BYTES % 3, 0);
    }

    #[test]
    fn placeholders_are_split_out_once_each() {
        let json = br#"{"a":"X1","b":"x","c":"X2"}"#.to_vec();
        let parts = split(json, &["X1".into(), "X2".into()]).unwrap();
        let parts: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
        assert_eq!(
            parts,
            vec![&br#"{"a":""#[..], br#"","b":"x","c":""#, br#""}"#]
        );
        let twice = br#"{"a":"X1","b":"X1"}"#.to_vec();
        assert!(split(twice, &["X1".into()]).is_err());
    }

    /// Reads the whole body of `body`, returning the bytes or the error that aborted it.
    async fn read_body(body: &StreamedBody) -> io::Result<Vec<u8>> {
        use futures_util::TryStreamExt as _;
        let chunks: Vec<Bytes> = body.stream().try_collect().await?;
        Ok(chunks.concat())
    }

    #[tokio::test]
    async fn a_file_written_to_while_it_is_read_aborts_the_body() {
        let path = std::env::temp_dir().join(format!(
            "pearsana-upload-{}-{}.bin",
            std::process::id(),
            placeholder()
        ));
        // Two chunks, so the body can be stopped between them.
        std::fs::write(&path, vec![7u8; UPLOAD_CHUNK_BYTES + 10]).unwrap();
        let source = UploadSource::from_path(&path).await.unwrap();
        let planned = source
            .modified()
            .expect("this platform keeps modification times");
        let body = StreamedBody::new(
            vec![
                Bytes::from_static(b"{\"file\":\""),
                Bytes::from_static(b"\"}"),
            ],
            vec![source],
        );
        let whole = read_body(&body).await.unwrap();
        assert_eq!(whole.len() as u64, body.content_length());

        let mut cursor = Cursor {
            plan: Arc::clone(&body.0),
            step: 0,
            open: None,
            raw: Vec::new(),
        };
        assert_eq!(&cursor.next().await.unwrap().unwrap()[..], b"{\"file\":\"");
        assert_eq!(
            cursor.next().await.unwrap().unwrap().len(),
            UPLOAD_CHUNK_BYTES / 3 * 4
        );
        // Rewritten in place to the same size between the two chunks.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_modified(planned + std::time::Duration::from_secs(1))
            .unwrap();
        let error = cursor.next().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(error.to_string().contains("written to since"), "{error}");
        assert!(body.failed());

        // A new attempt refuses the file as soon as it opens it.
        let error = read_body(&body).await.unwrap_err();
        assert!(error.to_string().contains("written to since"), "{error}");
        std::fs::remove_file(&path).unwrap();
    }
}
