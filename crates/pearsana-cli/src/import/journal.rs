//! The import journal: a durable record of every row's outcome, so an import can resume.
//!
//! # Format and why
//!
//! The journal is an append-only file of JSON lines. The first line names the import kind;
//! every later line is one [`Entry`]: a row key and an event (`attempt`, `created`, `existing`
//! or `failed`). A single writer thread appends entries and calls `fsync` (`File::sync_data`),
//! batching whatever entries arrived meanwhile into one `fsync` ("group commit"), so eight
//! concurrent workers cost at most one disk flush per round trip, not eight.
//!
//! # Two ways to append: waiting for the disk or not
//!
//! [`Journal::append`] returns once its entries are on disk. Imports use it where the order
//! "durable, then act" is the guarantee: the `attempt` entry of a row whose resending is not
//! harmless (invitations, documents) is durable before its request is sent, and so are their
//! outcomes.
//!
//! [`Journal::record`] hands entries to the writer and returns at once. The writer gathers
//! them for up to 5 ms and writes them to the file (from then on a `kill -9` cannot lose them),
//! and syncs them in larger groups: after at most 10 ms, once half of [`UNSYNCED_WINDOW`]
//! waits, or with the next `append`. On two cores the writer's own wake-ups and `fsync`s cost
//! the import about 5% of its CPU time. Imports use it for the outcomes of rows whose resending
//! *is* harmless (users: create-or-get answers a second create with `409`, counted as
//! `existing`). Waiting for each outcome's `fsync` (~0.2 ms, several loopback round trips)
//! used to take a worker out of service for most of every row; now workers go on sending
//! while the writer flushes behind them.
//!
//! The trade-off is exact and bounded. After a crash, `kill -9` or power loss, an outcome
//! that was recorded but not yet written (for a power loss: not yet synced) is missing from
//! the journal, so its row counts as not done and is sent again on the rerun, where it
//! resolves as `existing`. No row is lost (the rerun sends it) and no row whose outcome is
//! *confirmed* (present in the journal) is sent again. At most [`UNSYNCED_WINDOW`] recorded
//! entries wait for the disk at any moment: a worker that would exceed it waits for the
//! writer, so the rows a crash can re-send are bounded and a slow disk slows the import
//! instead of growing memory.
//!
//! An embedded SQLite database would give the same guarantee, but the `bundled` build compiles
//! a large C library on every clean build and the journal needs none of SQL: it is written
//! sequentially, read once at start-up, and never updated in place. An append-only log is
//! crash-safe by construction: a crash can only leave a partially written *last* line, which
//! [`Journal::open`] detects (no trailing newline, or not valid JSON) and truncates away; that
//! entry was never acknowledged, so nothing confirmed is lost. Any other unreadable line means
//! the file was edited or is not a journal, and opening fails rather than guessing. A file that
//! does not begin with the header line is never modified at all (it is someone else's file),
//! nor is anything but a regular file, and no line is read beyond [`MAX_LINE_BYTES`].
//!
//! # What the events mean on resume
//!
//! The last event for a key wins. `created`/`existing`: the row is done and is skipped.
//! `failed`: tried before and failed; it is tried again. `attempt` with no later outcome: the
//! process stopped while the request was in flight, so the server may or may not have acted
//! ("in doubt"); see [`JournalState::in_doubt`] for how imports treat such rows.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::keys::KeyHasher;

const FORMAT_VERSION: u32 = 1;

/// What happened to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// A request carrying the row is about to be sent.
    Attempt,
    /// The server created the resource.
    Created,
    /// The resource already existed (a user with the same email).
    Existing,
    /// The request failed; the row will be retried on the next run.
    Failed,
}

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The row's identity (see each import kind).
    pub key: String,
    /// The row's line in the input that produced this entry (informational).
    pub line: u64,
    /// What happened.
    pub event: Event,
    /// Server identifier of the created or existing resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Error code of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    #[serde(rename = "pearsanaJournal")]
    version: u32,
    kind: String,
}

/// Problems opening or writing a journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// File system error.
    #[error("journal {path}: {source}")]
    Io {
        /// The journal file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The journal belongs to another kind of import.
    #[error(
        "journal {path} records a {found} import, not a {expected} import; use another --journal path"
    )]
    WrongKind {
        /// The journal file.
        path: PathBuf,
        /// Kind in the file.
        found: String,
        /// Kind of this run.
        expected: String,
    },
    /// A line in the middle of the file cannot be read.
    #[error("journal {path} is damaged at line {line}: {message}")]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The path names an existing file that is not a journal; it is left untouched.
    #[error(
        "{path} exists but is not a pearsana journal ({reason}); it was left untouched: use another --journal path"
    )]
    NotAJournal {
        /// The file.
        path: PathBuf,
        /// What its beginning looks like instead.
        reason: String,
    },
    /// The path names a device, pipe or directory, not a regular file.
    #[error("journal {path} is not a regular file; use a path to a file")]
    NotRegular {
        /// The path.
        path: PathBuf,
    },
    /// Another process has the journal open.
    #[error(
        "journal {path} is in use by another pearsana process; wait for it or use another --journal path"
    )]
    Locked {
        /// The journal file.
        path: PathBuf,
    },
    /// The writer thread is gone (after an earlier write error).
    #[error("journal {path}: writer stopped after an earlier error")]
    Closed {
        /// The journal file.
        path: PathBuf,
    },
}

/// What a journal says about the rows of this roster: the last event of each row, kept as
/// one byte per row next to the sorted key hashes from the validation pass. Entries for keys
/// not in the roster are ignored, so a journal of millions of lines costs no memory of its
/// own.
#[derive(Debug, Clone)]
pub struct JournalState {
    hasher: KeyHasher,
    keys: Vec<u128>,
    last: Vec<Option<Event>>,
}

impl JournalState {
    /// A state tracking the rows whose key hashes (from `hasher`) are `keys`, sorted and unique.
    pub fn new(hasher: KeyHasher, keys: Vec<u128>) -> Self {
        debug_assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
        let last = vec![None; keys.len()];
        Self { hasher, keys, last }
    }

    /// A state tracking exactly `keys`.
    #[cfg(test)]
    pub fn for_keys<'a>(keys: impl IntoIterator<Item = &'a str>) -> Self {
        let hasher = KeyHasher::new();
        let mut hashes: Vec<u128> = keys.into_iter().map(|k| hasher.key(k)).collect();
        hashes.sort_unstable();
        hashes.dedup();
        Self::new(hasher, hashes)
    }

    fn slot(&self, key: &str) -> Option<usize> {
        self.keys.binary_search(&self.hasher.key(key)).ok()
    }

    fn apply(&mut self, entry: &Entry) {
        if let Some(slot) = self.slot(&entry.key) {
            self.last[slot] = Some(entry.event);
        }
    }

    fn last(&self, key: &str) -> Option<Event> {
        self.slot(key).and_then(|slot| self.last[slot])
    }

    /// Whether `key` is one of the rows this state tracks (the rows valid when validated).
    pub fn tracks(&self, key: &str) -> bool {
        self.slot(key).is_some()
    }

    /// Whether a row's outcome is confirmed (`created` or `existing`).
    pub fn finished(&self, key: &str) -> bool {
        matches!(self.last(key), Some(Event::Created | Event::Existing))
    }

    /// Whether a request for this row was in flight when an earlier run stopped, with no
    /// outcome recorded: the server may or may not have acted on it.
    pub fn in_doubt(&self, key: &str) -> bool {
        self.last(key) == Some(Event::Attempt)
    }

    /// How many tracked rows are finished.
    #[cfg(test)]
    pub fn finished_count(&self) -> usize {
        self.last
            .iter()
            .filter(|e| matches!(e, Some(Event::Created | Event::Existing)))
            .count()
    }
}

/// Most entries handed to [`Journal::record`] that may be waiting for the disk at once.
pub const UNSYNCED_WINDOW: usize = 256;

/// What the writer is told to do with a batch of entries.
enum Ack {
    /// Tell the appender once the entries are on disk.
    Durable(oneshot::Sender<std::io::Result<()>>),
    /// Nobody waits; release these window slots once the entries are on disk.
    Recorded {
        /// Held until the entries are written and synced.
        _slots: OwnedSemaphorePermit,
    },
}

type Request = (Vec<Entry>, Ack);

/// The writer's first error, kept for whoever appends or closes next.
type Failure = Arc<OnceLock<(std::io::ErrorKind, String)>>;

/// An open journal; appends are durable when [`Journal::append`] returns, and recorded
/// entries once [`Journal::close`] returns `Ok`.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    sender: Option<std::sync::mpsc::Sender<Request>>,
    writer: Option<std::thread::JoinHandle<()>>,
    window: Arc<Semaphore>,
    failure: Failure,
}

impl Journal {
    /// Opens (or creates) the journal at `path` for an import of `kind`, returning what it
    /// records so far. A torn last line from a crash is removed.
    ///
    /// An existing file is only ever changed when it begins with a journal header: anything
    /// else (a note, a roster, a device such as `/dev/zero`) is refused untouched, so a
    /// mistyped `--journal` can never destroy a file.
    pub fn open(path: &Path, kind: &str, state: &mut JournalState) -> Result<Self, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let existed = path.exists();
        if existed && !std::fs::metadata(path).map_err(io)?.is_file() {
            return Err(JournalError::NotRegular {
                path: path.to_path_buf(),
            });
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        // Checked again on the open file: the path may have been swapped meanwhile.
        if !file.metadata().map_err(io)?.is_file() {
            return Err(JournalError::NotRegular {
                path: path.to_path_buf(),
            });
        }
        // Two runs appending to one journal would both send the same rows.
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(JournalError::Locked {
                    path: path.to_path_buf(),
                });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(io(source)),
        }
        let header_line = {
            let header = Header {
                version: FORMAT_VERSION,
                kind: kind.to_string(),
            };
            let mut line = serde_json::to_vec(&header).expect("header serialises");
            line.push(b'\n');
            line
        };
        let (valid_len, has_header) = read_existing(&file, path, kind, &header_line, state)?;
        file.set_len(valid_len).map_err(io)?;
        file.seek(SeekFrom::End(0)).map_err(io)?;
        if !has_header {
            file.write_all(&header_line).map_err(io)?;
        }
        file.sync_all().map_err(io)?;
        if !existed {
            sync_parent_dir(path);
        }
        Self::start(path, file).map_err(io)
    }

    /// Starts the writer thread over `sink`.
    fn start(path: &Path, sink: impl Sink) -> std::io::Result<Self> {
        let (sender, receiver) = std::sync::mpsc::channel();
        let failure = Failure::default();
        let writer_failure = failure.clone();
        let writer = std::thread::Builder::new()
            .name("pearsana-journal".into())
            .spawn(move || write_loop(sink, receiver, &writer_failure))?;
        Ok(Self {
            path: path.to_path_buf(),
            sender: Some(sender),
            writer: Some(writer),
            window: Arc::new(Semaphore::new(UNSYNCED_WINDOW)),
            failure,
        })
    }

    /// A journal whose disk fills up after `writes` successful appends (for tests of what an
    /// import does then).
    #[cfg(test)]
    pub fn filling_up_after(path: &Path, writes: usize) -> Self {
        struct FillingUp(usize);
        impl Sink for FillingUp {
            fn write(&mut self, _bytes: &[u8]) -> std::io::Result<()> {
                if self.0 == 0 {
                    return Err(std::io::Error::from(std::io::ErrorKind::StorageFull));
                }
                self.0 -= 1;
                Ok(())
            }

            fn sync(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        Self::start(path, FillingUp(writes)).expect("writer thread starts")
    }

    /// The error that stopped the writer: its own when known.
    fn stopped(&self) -> JournalError {
        match self.failure.get() {
            Some((kind, message)) => JournalError::Io {
                path: self.path.clone(),
                source: std::io::Error::new(*kind, message.clone()),
            },
            None => JournalError::Closed {
                path: self.path.clone(),
            },
        }
    }

    fn send(&self, entries: Vec<Entry>, ack: Ack) -> Result<(), JournalError> {
        if self.failure.get().is_some() {
            return Err(self.stopped());
        }
        self.sender
            .as_ref()
            .ok_or_else(|| self.stopped())?
            .send((entries, ack))
            .map_err(|_| self.stopped())
    }

    /// Appends entries and returns once they are on disk.
    pub async fn append(&self, entries: Vec<Entry>) -> Result<(), JournalError> {
        if entries.is_empty() {
            return Ok(());
        }
        let (ack, done) = oneshot::channel();
        self.send(entries, Ack::Durable(ack))?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(JournalError::Io {
                path: self.path.clone(),
                source,
            }),
            Err(_) => Err(self.stopped()),
        }
    }

    /// Hands entries to the writer without waiting for the disk (see the module docs for
    /// when that is safe). Waits only while [`UNSYNCED_WINDOW`] entries are already waiting
    /// for the disk. An error means an earlier write failed; these entries are not written.
    pub async fn record(&self, entries: Vec<Entry>) -> Result<(), JournalError> {
        if entries.is_empty() {
            return Ok(());
        }
        let slots = u32::try_from(entries.len().min(UNSYNCED_WINDOW)).expect("window fits u32");
        let permit = self
            .window
            .clone()
            .acquire_many_owned(slots)
            .await
            .expect("the window is never closed");
        self.send(entries, Ack::Recorded { _slots: permit })
    }

    /// Stops the writer after everything handed to it is on disk; an error if any entry
    /// could not be written (entries recorded after it are not in the journal).
    pub fn close(mut self) -> Result<(), JournalError> {
        self.shutdown();
        match self.failure.get() {
            Some(_) => Err(self.stopped()),
            None => Ok(()),
        }
    }

    fn shutdown(&mut self) {
        self.sender.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.shutdown();
    }
}

enum LineError {
    WrongKind(String),
    Unreadable(String),
}

fn parse_header(text: &str, kind: &str) -> Result<(), LineError> {
    let header: Header = serde_json::from_str(text)
        .map_err(|e| LineError::Unreadable(format!("not a pearsana journal header ({e})")))?;
    if header.version != FORMAT_VERSION {
        return Err(LineError::Unreadable(format!(
            "unsupported journal version {}",
            header.version
        )));
    }
    if header.kind != kind {
        return Err(LineError::WrongKind(header.kind));
    }
    Ok(())
}

/// Longest journal line read back. Entries are written from rows of at most
/// `csv_input::MAX_RECORD_BYTES`, which JSON escaping can grow at most sixfold, so a real
/// journal never comes near it; anything longer is not a journal.
pub const MAX_LINE_BYTES: usize = 8 << 20;

/// One line read with [`read_line_bounded`].
#[derive(Debug, PartialEq, Eq)]
enum LineRead {
    /// End of file: nothing more.
    Eof,
    /// A line of this many bytes (with its `\n` when `terminated`).
    Line { bytes: usize, terminated: bool },
    /// More than the limit without a line break.
    TooLong,
}

/// Reads one line into `buf`, never holding more than `max` bytes of it.
fn read_line_bounded(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<LineRead> {
    buf.clear();
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(if buf.is_empty() {
                LineRead::Eof
            } else {
                LineRead::Line {
                    bytes: buf.len(),
                    terminated: false,
                }
            });
        }
        let (take, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        if buf.len() + take > max {
            return Ok(LineRead::TooLong);
        }
        buf.extend_from_slice(&available[..take]);
        reader.consume(take);
        if done {
            return Ok(LineRead::Line {
                bytes: buf.len(),
                terminated: true,
            });
        }
    }
}

fn read_existing(
    file: &File,
    path: &Path,
    kind: &str,
    header_line: &[u8],
    state: &mut JournalState,
) -> Result<(u64, bool), JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_a_journal = |reason: &str| JournalError::NotAJournal {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let mut reader = BufReader::new(file);
    let mut buf = Vec::new();
    // The header comes first, or the file is not ours to touch.
    match read_line_bounded(&mut reader, &mut buf, MAX_LINE_BYTES).map_err(io)? {
        LineRead::Eof => return Ok((0, false)),
        LineRead::TooLong => return Err(not_a_journal("its first line is not a journal header")),
        // A crash while the header was being written leaves a prefix of it: start afresh.
        LineRead::Line {
            terminated: false, ..
        } if header_line.starts_with(&buf) => return Ok((0, false)),
        LineRead::Line {
            terminated: false, ..
        } => return Err(not_a_journal("it does not begin with a journal header")),
        LineRead::Line { .. } => {}
    }
    match parse_header(String::from_utf8_lossy(&buf).trim_end(), kind) {
        Ok(()) => {}
        Err(LineError::WrongKind(found)) => {
            return Err(JournalError::WrongKind {
                path: path.to_path_buf(),
                found,
                expected: kind.to_string(),
            });
        }
        Err(LineError::Unreadable(message)) => return Err(not_a_journal(&message)),
    }
    let mut valid_len = buf.len() as u64;
    let mut number = 1usize;
    loop {
        let read = read_line_bounded(&mut reader, &mut buf, MAX_LINE_BYTES).map_err(io)?;
        number += 1;
        let bytes = match read {
            LineRead::Eof => break,
            LineRead::TooLong => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line: number,
                    message: format!("line is longer than {MAX_LINE_BYTES} bytes"),
                });
            }
            // A crash can tear only the last write, which was never acknowledged: drop it.
            LineRead::Line {
                terminated: false, ..
            } => break,
            LineRead::Line { bytes, .. } => bytes,
        };
        let text = String::from_utf8_lossy(&buf);
        match serde_json::from_str::<Entry>(text.trim_end()) {
            Ok(entry) => {
                state.apply(&entry);
                valid_len += bytes as u64;
            }
            // An unreadable final line is what a torn write looks like after a power loss.
            Err(_) if reader.fill_buf().map_err(io)?.is_empty() => break,
            Err(e) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line: number,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok((valid_len, true))
}

/// Where the writer thread puts entries: the journal file (or, in tests, a disk that fills).
trait Sink: Send + 'static {
    /// Appends `bytes` (to the operating system: they survive the process, not a power loss).
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    /// Returns once everything written is on disk.
    fn sync(&mut self) -> std::io::Result<()>;
}

impl Sink for File {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes)
    }

    fn sync(&mut self) -> std::io::Result<()> {
        self.sync_data()
    }
}

/// Longest a recorded entry waits for its `fsync` when nobody is waiting for the disk.
const SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_millis(10);

/// How long the writer lets recorded entries gather before writing them, when entries it
/// has written still await their `fsync` (so it is busy anyway, and nobody waits).
const COALESCE: std::time::Duration = std::time::Duration::from_millis(5);

/// The writer thread. Every batch is written at once (a `kill -9` cannot lose it). It is synced
/// at once when an [`Journal::append`] waits for it; otherwise recorded entries are synced
/// together, at the latest after [`SYNC_INTERVAL`] or when half the window waits, which keeps
/// `fsync`s to a few hundred a second however fast rows complete.
fn write_loop(
    mut sink: impl Sink,
    receiver: std::sync::mpsc::Receiver<Request>,
    failure: &OnceLock<(std::io::ErrorKind, String)>,
) {
    use std::sync::mpsc::RecvTimeoutError;
    let fail = |e: &std::io::Error| {
        // Set before any waiter hears of it, so no later append or record slips through.
        let _ = failure.set((e.kind(), e.to_string()));
    };
    // Window slots of entries written but not yet synced, and when they started waiting.
    let mut unsynced: Vec<OwnedSemaphorePermit> = Vec::new();
    let mut unsynced_slots = 0usize;
    let mut oldest = std::time::Instant::now();
    loop {
        let first = if unsynced.is_empty() {
            match receiver.recv() {
                Ok(request) => request,
                Err(_) => return,
            }
        } else {
            match receiver.recv_timeout(SYNC_INTERVAL.saturating_sub(oldest.elapsed())) {
                Ok(request) => request,
                Err(timeout_or_closed) => {
                    if let Err(e) = sink.sync() {
                        fail(&e);
                        return;
                    }
                    unsynced.clear();
                    unsynced_slots = 0;
                    match timeout_or_closed {
                        RecvTimeoutError::Timeout => continue,
                        RecvTimeoutError::Disconnected => return,
                    }
                }
            }
        };
        let mut batch = vec![first];
        batch.extend(receiver.try_iter());
        let mut bytes = Vec::new();
        for entry in batch.iter().flat_map(|(entries, _)| entries) {
            serde_json::to_writer(&mut bytes, entry).expect("entries serialise");
            bytes.push(b'\n');
        }
        let mut acks = Vec::new();
        for (_, ack) in batch {
            match ack {
                Ack::Durable(ack) => acks.push(ack),
                Ack::Recorded { _slots } => {
                    if unsynced.is_empty() {
                        oldest = std::time::Instant::now();
                    }
                    unsynced_slots += _slots.num_permits();
                    unsynced.push(_slots);
                }
            }
        }
        let due = !acks.is_empty()
            || unsynced_slots >= UNSYNCED_WINDOW / 2
            || oldest.elapsed() >= SYNC_INTERVAL;
        let result = match sink.write(&bytes) {
            Ok(()) if due => sink.sync(),
            other => other,
        };
        if let Err(e) = &result {
            fail(e);
        }
        for ack in acks {
            let _ = ack.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            });
        }
        if result.is_err() {
            return;
        }
        if due {
            // Dropping the permits frees their window slots.
            unsynced.clear();
            unsynced_slots = 0;
        }
        if !unsynced.is_empty() {
            // Nobody waits for these entries: let the next ones gather instead of waking this
            // thread for every row the workers finish.
            std::thread::sleep(COALESCE);
        }
    }
}

/// Makes a newly created file's directory entry durable too (best effort; not all platforms
/// allow opening a directory).
fn sync_parent_dir(path: &Path) {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(parent) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYS: &[&str] = &["a", "b", "c", "d"];

    fn open(path: &Path, keys: &[&str]) -> Result<(Journal, JournalState), JournalError> {
        let mut state = JournalState::for_keys(keys.iter().copied());
        Journal::open(path, "users", &mut state).map(|journal| (journal, state))
    }

    fn entry(key: &str, event: Event) -> Entry {
        Entry {
            key: key.into(),
            line: 2,
            event,
            id: Some("u1".into()),
            code: None,
        }
    }

    #[tokio::test]
    async fn outcomes_survive_reopening_and_last_event_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let (journal, state) = open(&path, KEYS).unwrap();
        assert!(!state.finished("a"));
        journal
            .append(vec![entry("a", Event::Created), entry("b", Event::Failed)])
            .await
            .unwrap();
        journal
            .append(vec![entry("c", Event::Attempt)])
            .await
            .unwrap();
        journal
            .append(vec![
                entry("b", Event::Existing),
                entry("d", Event::Attempt),
            ])
            .await
            .unwrap();
        journal
            .append(vec![entry("d", Event::Failed)])
            .await
            .unwrap();
        journal.close().unwrap();

        let (_journal, state) = open(&path, KEYS).unwrap();
        assert!(state.finished("a") && state.finished("b"));
        assert!(!state.finished("c") && state.in_doubt("c"));
        assert!(!state.finished("d") && !state.in_doubt("d"));
        assert_eq!(state.finished_count(), 2);
        assert!(
            !state.tracks("e") && !state.finished("e"),
            "keys not in the roster are ignored"
        );
    }

    #[tokio::test]
    async fn a_torn_last_line_is_dropped_and_appending_continues() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let (journal, _) = open(&path, KEYS).unwrap();
        journal
            .append(vec![entry("a", Event::Created)])
            .await
            .unwrap();
        journal.close().unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"key":"b","line":3,"ev"#).unwrap();
        drop(file);

        let (journal, state) = open(&path, KEYS).unwrap();
        assert!(state.finished("a"));
        assert!(!state.finished("b"));
        journal
            .append(vec![entry("c", Event::Created)])
            .await
            .unwrap();
        journal.close().unwrap();
        let (_j, state) = open(&path, KEYS).unwrap();
        assert!(state.finished("c"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    #[test]
    fn a_journal_in_use_is_refused_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let (first, _) = open(&path, KEYS).unwrap();
        let err = open(&path, KEYS).unwrap_err();
        assert!(matches!(err, JournalError::Locked { .. }), "{err}");
        first.close().unwrap();
        assert!(open(&path, KEYS).is_ok());
    }

    #[test]
    fn damage_in_the_middle_or_another_kind_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        std::fs::write(
            &path,
            "{\"pearsanaJournal\":1,\"kind\":\"users\"}\nnot json\n{\"key\":\"a\",\"line\":2,\"event\":\"created\"}\n",
        )
        .unwrap();
        let err = open(&path, KEYS).unwrap_err();
        assert!(
            matches!(err, JournalError::Corrupt { line: 2, .. }),
            "{err}"
        );

        std::fs::write(&path, "{\"pearsanaJournal\":1,\"kind\":\"documents\"}\n").unwrap();
        let err = open(&path, KEYS).unwrap_err();
        assert!(
            matches!(&err, JournalError::WrongKind { found, .. } if found == "documents"),
            "{err}"
        );

        std::fs::write(&path, "hello\n").unwrap();
        assert!(matches!(
            open(&path, KEYS).unwrap_err(),
            JournalError::NotAJournal { .. }
        ));
    }

    #[test]
    fn a_file_that_is_not_a_journal_is_refused_and_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notes.txt");
        let mut big = vec![b'x'; 3 << 20];
        big.extend_from_slice(b"\nend");
        for content in [
            b"remember to call the registrar on monday".to_vec(),
            b"email,firstName\na@x.org,A\n".to_vec(),
            big,
        ] {
            std::fs::write(&path, &content).unwrap();
            let err = open(&path, KEYS).unwrap_err();
            assert!(matches!(err, JournalError::NotAJournal { .. }), "{err}");
            assert!(err.to_string().contains("untouched"), "{err}");
            assert_eq!(std::fs::read(&path).unwrap(), content, "file unchanged");
        }
    }

    #[test]
    fn a_header_torn_by_a_crash_at_creation_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        std::fs::write(&path, "{\"pearsanaJour").unwrap();
        let (journal, state) = open(&path, KEYS).unwrap();
        journal.close().unwrap();
        assert!(!state.finished("a"));
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"pearsanaJournal\":1,\"kind\":\"users\"}\n"
        );
    }

    #[test]
    fn devices_pipes_and_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        for path in [
            Path::new("/dev/zero"),
            Path::new("/dev/full"),
            &fifo,
            dir.path(),
        ] {
            let err = open(path, KEYS).unwrap_err();
            assert!(
                matches!(err, JournalError::NotRegular { .. }),
                "{path:?}: {err}"
            );
        }
    }

    #[test]
    fn an_overlong_line_is_damage_not_an_allocation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let mut content = b"{\"pearsanaJournal\":1,\"kind\":\"users\"}\n".to_vec();
        content.extend(std::iter::repeat_n(b' ', MAX_LINE_BYTES + 10));
        content.extend_from_slice(b"\n");
        std::fs::write(&path, &content).unwrap();
        let err = open(&path, KEYS).unwrap_err();
        assert!(
            matches!(err, JournalError::Corrupt { line: 2, .. }),
            "{err}"
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().len(),
            content.len() as u64
        );
    }

    #[tokio::test]
    async fn recorded_entries_are_on_disk_once_the_journal_is_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let (journal, _) = open(&path, KEYS).unwrap();
        journal
            .record(vec![entry("a", Event::Created)])
            .await
            .unwrap();
        journal
            .record(vec![entry("b", Event::Existing), entry("c", Event::Failed)])
            .await
            .unwrap();
        journal.close().unwrap();
        let (_j, state) = open(&path, KEYS).unwrap();
        assert!(state.finished("a") && state.finished("b"));
        assert!(!state.finished("c") && !state.in_doubt("c"));
    }

    #[tokio::test]
    async fn a_failed_write_of_recorded_entries_is_reported_by_later_calls_and_close() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::filling_up_after(&dir.path().join("j.log"), 0);
        // Nobody waits for this write, which fails...
        journal
            .record(vec![entry("a", Event::Created)])
            .await
            .unwrap();
        // ...so everything after it hears of it, with the disk's own error.
        let full = |err: JournalError| {
            matches!(err, JournalError::Io { ref source, .. }
                if source.kind() == std::io::ErrorKind::StorageFull)
        };
        let err = journal
            .append(vec![entry("b", Event::Created)])
            .await
            .unwrap_err();
        assert!(full(err));
        let err = journal
            .record(vec![entry("c", Event::Created)])
            .await
            .unwrap_err();
        assert!(full(err));
        assert!(full(journal.close().unwrap_err()));
    }

    #[tokio::test]
    async fn at_most_a_window_of_recorded_entries_waits_for_the_disk() {
        // A disk that holds every write until the test opens the gate.
        struct Gated(std::sync::mpsc::Receiver<()>);
        impl Sink for Gated {
            fn write(&mut self, _bytes: &[u8]) -> std::io::Result<()> {
                let _ = self.0.recv();
                Ok(())
            }

            fn sync(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let (gate, gated) = std::sync::mpsc::channel();
        let journal = Journal::start(&dir.path().join("j.log"), Gated(gated)).unwrap();
        for i in 0..UNSYNCED_WINDOW {
            journal
                .record(vec![entry(&format!("k{i}"), Event::Created)])
                .await
                .unwrap();
        }
        let one_more = journal.record(vec![entry("over", Event::Created)]);
        let waited = tokio::time::timeout(std::time::Duration::from_millis(200), one_more).await;
        assert!(waited.is_err(), "a full window makes the next record wait");
        drop(gate);
        journal
            .record(vec![entry("over", Event::Created)])
            .await
            .unwrap();
        journal.close().unwrap();
    }

    #[tokio::test]
    async fn many_concurrent_appends_are_all_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let (journal, _) = open(&path, KEYS).unwrap();
        let journal = std::sync::Arc::new(journal);
        let mut tasks = Vec::new();
        for i in 0..200 {
            let journal = journal.clone();
            tasks.push(tokio::spawn(async move {
                journal
                    .append(vec![entry(&format!("k{i}"), Event::Created)])
                    .await
                    .unwrap();
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        drop(journal);
        let keys: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let (_j, state) = open(&path, &keys).unwrap();
        assert_eq!(state.finished_count(), 200);
    }
}
