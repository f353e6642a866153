//! The import journal: a durable record of every row's outcome, so an import can resume.
//!
//! # Format and why
//!
//! The journal is an append-only file of JSON lines. The first line names the import kind;
//! every later line is one [`Entry`]: a row key and an event (`attempt`, `created`, `existing`
//! or `failed`). A single writer thread appends entries and calls `fsync` (`File::sync_data`)
//! before acknowledging them, batching whatever entries arrived meanwhile into one `fsync`
//! ("group commit"), so eight concurrent workers cost about one disk flush per round trip, not
//! eight.
//!
//! An embedded SQLite database would give the same guarantee, but the `bundled` build compiles
//! a large C library on every clean build and the journal needs none of SQL: it is written
//! sequentially, read once at start-up, and never updated in place. An append-only log is
//! crash-safe by construction: a crash can only leave a partially written *last* line, which
//! [`Journal::open`] detects (no trailing newline, or not valid JSON) and truncates away; that
//! entry was never acknowledged, so nothing confirmed is lost. Any other unreadable line means
//! the file was edited or is not a journal, and opening fails rather than guessing.
//!
//! # What the events mean on resume
//!
//! The last event for a key wins. `created`/`existing`: the row is done and is skipped.
//! `failed`: tried before and failed; it is tried again. `attempt` with no later outcome: the
//! process stopped while the request was in flight, so the server may or may not have acted
//! ("in doubt"); see [`JournalState::in_doubt`] for how imports treat such rows.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

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

/// What a journal says about earlier runs.
#[derive(Debug, Default, Clone)]
pub struct JournalState {
    last: HashMap<String, Entry>,
}

impl JournalState {
    fn apply(&mut self, entry: Entry) {
        self.last.insert(entry.key.clone(), entry);
    }

    /// The confirmed outcome of a finished row (`created` or `existing`), if any.
    pub fn finished(&self, key: &str) -> Option<&Entry> {
        self.last
            .get(key)
            .filter(|e| matches!(e.event, Event::Created | Event::Existing))
    }

    /// Whether a request for this row was in flight when an earlier run stopped, with no
    /// outcome recorded: the server may or may not have acted on it.
    pub fn in_doubt(&self, key: &str) -> bool {
        self.last
            .get(key)
            .is_some_and(|e| e.event == Event::Attempt)
    }

    /// Keys of every finished row.
    #[cfg(test)]
    pub fn finished_keys(&self) -> std::collections::HashSet<&str> {
        self.last
            .values()
            .filter(|e| matches!(e.event, Event::Created | Event::Existing))
            .map(|e| e.key.as_str())
            .collect()
    }
}

type Request = (Vec<Entry>, oneshot::Sender<std::io::Result<()>>);

/// An open journal; appends are durable when [`Journal::append`] returns.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    sender: Option<mpsc::UnboundedSender<Request>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Journal {
    /// Opens (or creates) the journal at `path` for an import of `kind`, returning what it
    /// records so far. A torn last line from a crash is removed.
    pub fn open(path: &Path, kind: &str) -> Result<(Self, JournalState), JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
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
        let (state, valid_len, has_header) = read_existing(&file, path, kind)?;
        file.set_len(valid_len).map_err(io)?;
        file.seek(SeekFrom::End(0)).map_err(io)?;
        if !has_header {
            let header = Header {
                version: FORMAT_VERSION,
                kind: kind.to_string(),
            };
            let mut line = serde_json::to_vec(&header).expect("header serialises");
            line.push(b'\n');
            file.write_all(&line).map_err(io)?;
        }
        file.sync_all().map_err(io)?;
        if !existed {
            sync_parent_dir(path);
        }
        let (sender, receiver) = mpsc::unbounded_channel();
        let writer = std::thread::Builder::new()
            .name("pearsana-journal".into())
            .spawn(move || write_loop(file, receiver))
            .map_err(io)?;
        let journal = Self {
            path: path.to_path_buf(),
            sender: Some(sender),
            writer: Some(writer),
        };
        Ok((journal, state))
    }

    /// Appends entries and returns once they are on disk.
    pub async fn append(&self, entries: Vec<Entry>) -> Result<(), JournalError> {
        if entries.is_empty() {
            return Ok(());
        }
        let closed = || JournalError::Closed {
            path: self.path.clone(),
        };
        let (ack, done) = oneshot::channel();
        self.sender
            .as_ref()
            .ok_or_else(closed)?
            .send((entries, ack))
            .map_err(|_| closed())?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(JournalError::Io {
                path: self.path.clone(),
                source,
            }),
            Err(_) => Err(closed()),
        }
    }

    /// Stops the writer after everything sent so far is on disk.
    pub fn close(mut self) {
        self.shutdown();
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

fn read_existing(
    file: &File,
    path: &Path,
    kind: &str,
) -> Result<(JournalState, u64, bool), JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::new(file);
    let mut state = JournalState::default();
    let mut valid_len = 0u64;
    let mut has_header = false;
    let mut buf = Vec::new();
    let mut number = 0usize;
    loop {
        buf.clear();
        let read = reader.read_until(b'\n', &mut buf).map_err(io)?;
        if read == 0 {
            break;
        }
        number += 1;
        if !buf.ends_with(b"\n") {
            // A crash can tear only the last write, which was never acknowledged: drop it.
            break;
        }
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim_end();
        let parsed = if has_header {
            serde_json::from_str::<Entry>(text)
                .map(|e| state.apply(e))
                .map_err(|e| LineError::Unreadable(e.to_string()))
        } else {
            parse_header(text, kind)
        };
        match parsed {
            Ok(()) => {
                has_header = true;
                valid_len += read as u64;
            }
            Err(LineError::WrongKind(found)) => {
                return Err(JournalError::WrongKind {
                    path: path.to_path_buf(),
                    found,
                    expected: kind.to_string(),
                });
            }
            // An unreadable final line is what a torn write looks like after a power loss.
            Err(LineError::Unreadable(_))
                if has_header && reader.fill_buf().map_err(io)?.is_empty() =>
            {
                break;
            }
            Err(LineError::Unreadable(message)) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line: number,
                    message,
                });
            }
        }
    }
    Ok((state, valid_len, has_header))
}

fn write_loop(mut file: File, mut receiver: mpsc::UnboundedReceiver<Request>) {
    while let Some(first) = receiver.blocking_recv() {
        let mut batch = vec![first];
        while let Ok(more) = receiver.try_recv() {
            batch.push(more);
        }
        let mut bytes = Vec::new();
        for entry in batch.iter().flat_map(|(entries, _)| entries) {
            serde_json::to_writer(&mut bytes, entry).expect("entries serialise");
            bytes.push(b'\n');
        }
        let result = file.write_all(&bytes).and_then(|()| file.sync_data());
        let failed = result.is_err();
        for (_, ack) in batch {
            let _ = ack.send(match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
            });
        }
        if failed {
            return;
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
        let (journal, state) = Journal::open(&path, "users").unwrap();
        assert!(state.finished("a").is_none());
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
        journal.close();

        let (_journal, state) = Journal::open(&path, "users").unwrap();
        assert_eq!(state.finished("a").unwrap().event, Event::Created);
        assert_eq!(state.finished("b").unwrap().event, Event::Existing);
        assert!(state.finished("c").is_none() && state.in_doubt("c"));
        assert!(state.finished("d").is_none() && !state.in_doubt("d"));
        assert_eq!(state.finished_keys().len(), 2);
    }

    #[tokio::test]
    async fn a_torn_last_line_is_dropped_and_appending_continues() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let (journal, _) = Journal::open(&path, "users").unwrap();
        journal
            .append(vec![entry("a", Event::Created)])
            .await
            .unwrap();
        journal.close();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(br#"{"key":"b","line":3,"ev"#).unwrap();
        drop(file);

        let (journal, state) = Journal::open(&path, "users").unwrap();
        assert!(state.finished("a").is_some());
        assert!(state.finished("b").is_none());
        journal
            .append(vec![entry("c", Event::Created)])
            .await
            .unwrap();
        journal.close();
        let (_j, state) = Journal::open(&path, "users").unwrap();
        assert!(state.finished("c").is_some());
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3, "{text}");
    }

    #[test]
    fn a_journal_in_use_is_refused_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let (first, _) = Journal::open(&path, "users").unwrap();
        let err = Journal::open(&path, "users").unwrap_err();
        assert!(matches!(err, JournalError::Locked { .. }), "{err}");
        first.close();
        assert!(Journal::open(&path, "users").is_ok());
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
        let err = Journal::open(&path, "users").unwrap_err();
        assert!(
            matches!(err, JournalError::Corrupt { line: 2, .. }),
            "{err}"
        );

        std::fs::write(&path, "{\"pearsanaJournal\":1,\"kind\":\"documents\"}\n").unwrap();
        let err = Journal::open(&path, "users").unwrap_err();
        assert!(
            matches!(&err, JournalError::WrongKind { found, .. } if found == "documents"),
            "{err}"
        );

        std::fs::write(&path, "hello\n").unwrap();
        assert!(matches!(
            Journal::open(&path, "users").unwrap_err(),
            JournalError::Corrupt { line: 1, .. }
        ));
    }

    #[tokio::test]
    async fn many_concurrent_appends_are_all_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.log");
        let (journal, _) = Journal::open(&path, "users").unwrap();
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
        let (_j, state) = Journal::open(&path, "users").unwrap();
        assert_eq!(state.finished_keys().len(), 200);
    }
}
