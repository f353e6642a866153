//! `--data-dir`: the sandbox's state in an SQLite database, written before an answer goes out.
//!
//! SQLite (through `rusqlite`, compiled in with the `bundled` feature, so nothing is needed on
//! the host) is made for exactly this: one file, transactions that survive `kill -9` and power
//! loss once committed (WAL journal, `synchronous=FULL`), and a format anyone can open with the
//! `sqlite3` shell to look at what the sandbox holds.
//!
//! The in-memory store stays the source of reads; every write is queued here in the order the
//! store makes it and committed by one writer thread, many requests per transaction (group
//! commit); a handler waits for the commit ([`Database::flush`]) before it answers. Records are
//! kept as their JSON form (the same one the `/sandbox/v1` helpers show), one row per user,
//! invitation and document, in creation order (`rowid`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

/// Name of the database file inside the data directory.
pub const DATABASE_FILE: &str = "sandbox.sqlite3";

/// What a data directory cannot do.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// The directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    Directory {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// SQLite refused.
    #[error("data directory database: {0}")]
    Database(#[from] rusqlite::Error),
    /// A commit failed (disk full, say); the sandbox refuses writes from then on.
    #[error("data directory commit failed: {0}")]
    Commit(String),
    /// An earlier commit failed, so writes are refused.
    #[error("the data directory failed earlier; writes are refused")]
    Failed,
    /// A stored record does not decode (written by another version?).
    #[error("a stored {kind} does not decode: {source}")]
    Decode {
        /// `user`, `invitation` or `document`.
        kind: &'static str,
        /// The cause.
        source: serde_json::Error,
    },
}

/// The kinds of record kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A user (with its linked references).
    User,
    /// An invitation.
    Invitation,
    /// A document's metadata.
    Document,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Invitation => "invitation",
            Self::Document => "document",
        }
    }
}

/// One write: a record to insert or replace.
#[derive(Debug)]
pub struct Put {
    kind: Kind,
    org: String,
    id: String,
    json: String,
}

impl Put {
    /// A record of `kind` with its id, in `org`.
    pub fn new(
        kind: Kind,
        org: &str,
        id: &str,
        record: &impl Serialize,
    ) -> Result<Self, PersistError> {
        let json = serde_json::to_string(record).map_err(|source| PersistError::Decode {
            kind: kind.name(),
            source,
        })?;
        Ok(Self {
            kind,
            org: org.to_string(),
            id: id.to_string(),
            json,
        })
    }
}

/// What the writer thread is asked to do, in order.
enum Job {
    /// Insert or replace records.
    Write(Vec<Put>),
    /// Delete every record.
    Clear,
    /// Answer once everything queued before it is committed.
    Barrier(oneshot::Sender<Result<(), String>>),
}

/// The records found in a data directory when it was opened, as `(org, json)` per kind,
/// oldest first.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Users.
    pub users: Vec<(String, String)>,
    /// Invitations.
    pub invitations: Vec<(String, String)>,
    /// Documents.
    pub documents: Vec<(String, String)>,
}

/// Decodes one stored record. Through `Value`, which lends nothing: records hold
/// `&'static str` constants.
pub fn decode<T: Deserialize<'static>>(kind: Kind, json: &str) -> Result<T, PersistError> {
    serde_json::from_str::<serde_json::Value>(json)
        .and_then(T::deserialize)
        .map_err(|source| PersistError::Decode {
            kind: kind.name(),
            source,
        })
}

/// The database of one data directory.
///
/// Writes are queued (in the order the store makes them, under its lock) to one writer thread,
/// which commits everything queued so far in one transaction: concurrent requests share one
/// disk flush (group commit). [`Database::flush`] waits until everything queued before it is
/// committed; handlers call it before answering, so a `2xx` is never sent for a write that is
/// not on disk.
#[derive(Debug)]
pub struct Database {
    jobs: mpsc::Sender<JobBox>,
    failed: Arc<AtomicBool>,
}

/// `Job` behind a newtype so that `Database` can derive `Debug`.
struct JobBox(Job);

impl std::fmt::Debug for JobBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

/// Most jobs committed in one transaction.
const MAX_BATCH: usize = 4096;

impl Database {
    /// Opens (or creates) the database in `dir`, reads what it holds and starts its writer.
    pub fn open(dir: &Path) -> Result<(Self, Snapshot), PersistError> {
        std::fs::create_dir_all(dir).map_err(|source| PersistError::Directory {
            path: dir.to_path_buf(),
            source,
        })?;
        let conn = Connection::open(dir.join(DATABASE_FILE))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a commit returns only once the WAL is on disk, so an acknowledged write
        // survives kill -9 and power loss.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS records (
                 kind TEXT NOT NULL,
                 org  TEXT NOT NULL,
                 id   TEXT NOT NULL,
                 json TEXT NOT NULL,
                 PRIMARY KEY (kind, org, id)
             );",
        )?;
        let snapshot = Snapshot {
            users: load(&conn, Kind::User)?,
            invitations: load(&conn, Kind::Invitation)?,
            documents: load(&conn, Kind::Document)?,
        };
        let (jobs, queue) = mpsc::channel();
        let failed = Arc::new(AtomicBool::new(false));
        let flag = failed.clone();
        std::thread::Builder::new()
            .name("sandbox-data-dir".into())
            .spawn(move || writer(conn, queue, flag))
            .map_err(|source| PersistError::Directory {
                path: dir.to_path_buf(),
                source,
            })?;
        Ok((Self { jobs, failed }, snapshot))
    }

    fn send(&self, job: Job) -> Result<(), PersistError> {
        if self.failed.load(Ordering::SeqCst) {
            return Err(PersistError::Failed);
        }
        self.jobs
            .send(JobBox(job))
            .map_err(|_| PersistError::Failed)
    }

    /// Queues writes (committed with the next batch).
    pub fn write(&self, puts: Vec<Put>) -> Result<(), PersistError> {
        self.send(Job::Write(puts))
    }

    /// Queues the deletion of every record.
    pub fn clear(&self) -> Result<(), PersistError> {
        self.send(Job::Clear)
    }

    /// Waits until everything queued so far is committed.
    pub async fn flush(&self) -> Result<(), PersistError> {
        let (done, wait) = oneshot::channel();
        self.send(Job::Barrier(done))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => Err(PersistError::Commit(reason)),
            Err(_) => Err(PersistError::Failed),
        }
    }
}

fn load(conn: &Connection, kind: Kind) -> Result<Vec<(String, String)>, PersistError> {
    let mut statement =
        conn.prepare("SELECT org, json FROM records WHERE kind = ?1 ORDER BY rowid")?;
    let rows = statement.query_map([kind.name()], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The writer thread: commits everything queued so far in one transaction, then answers the
/// barriers among it. After a failed commit every later write is refused.
fn writer(mut conn: Connection, queue: mpsc::Receiver<JobBox>, failed: Arc<AtomicBool>) {
    while let Ok(JobBox(first)) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(JobBox(job)) => batch.push(job),
                Err(_) => break,
            }
        }
        let result = if failed.load(Ordering::SeqCst) {
            Err("an earlier commit failed".to_string())
        } else {
            commit(&mut conn, &batch).map_err(|e| e.to_string())
        };
        if let Err(reason) = &result {
            tracing::error!(%reason, "the data directory could not commit");
            failed.store(true, Ordering::SeqCst);
        }
        for job in batch {
            if let Job::Barrier(done) = job {
                let _ = done.send(result.clone());
            }
        }
    }
}

fn commit(conn: &mut Connection, batch: &[Job]) -> Result<(), rusqlite::Error> {
    if !batch.iter().any(|job| !matches!(job, Job::Barrier(_))) {
        return Ok(());
    }
    let tx = conn.transaction()?;
    {
        let mut upsert = tx.prepare(
            "INSERT INTO records (kind, org, id, json) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, org, id) DO UPDATE SET json = excluded.json",
        )?;
        for job in batch {
            match job {
                Job::Write(puts) => {
                    for put in puts {
                        upsert.execute(params![put.kind.name(), put.org, put.id, put.json])?;
                    }
                }
                Job::Clear => {
                    tx.execute("DELETE FROM records", [])?;
                }
                Job::Barrier(_) => {}
            }
        }
    }
    tx.commit()
}
