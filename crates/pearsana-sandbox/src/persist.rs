//! `--data-dir`: the sandbox's state in an SQLite database, written before an answer goes out.
//!
//! SQLite (through `rusqlite`, compiled in with the `bundled` feature, so nothing is needed on
//! the host) is made for exactly this: one file, transactions that survive `kill -9` and power
//! loss once committed (WAL journal, `synchronous=FULL`), and a format anyone can open with the
//! `sqlite3` shell to look at what the sandbox holds.
//!
//! The in-memory store stays the source of reads; every write is also a committed transaction
//! here before the store changes its memory and before the handler answers. Records are kept
//! as their JSON form (the same one the `/sandbox/v1` helpers show), one row per user,
//! invitation and document, in creation order (`rowid`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

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

/// The database of one data directory.
#[derive(Debug)]
pub struct Database {
    conn: Mutex<Connection>,
}

impl Database {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<Self, PersistError> {
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
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Commits the writes in one transaction.
    pub fn write(&self, puts: &[Put]) -> Result<(), PersistError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let tx = conn.transaction()?;
        {
            let mut statement = tx.prepare(
                "INSERT INTO records (kind, org, id, json) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (kind, org, id) DO UPDATE SET json = excluded.json",
            )?;
            for put in puts {
                statement.execute(params![put.kind.name(), put.org, put.id, put.json])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Every record of `kind`, as `(org, record)`, oldest first.
    pub fn load<T: Deserialize<'static>>(
        &self,
        kind: Kind,
    ) -> Result<Vec<(String, T)>, PersistError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        let mut statement =
            conn.prepare("SELECT org, json FROM records WHERE kind = ?1 ORDER BY rowid")?;
        let rows = statement.query_map([kind.name()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (org, json) = row?;
            // Through `Value`, which lends nothing: records hold `&'static str` constants.
            let record = serde_json::from_str::<serde_json::Value>(&json)
                .and_then(T::deserialize)
                .map_err(|source| PersistError::Decode {
                    kind: kind.name(),
                    source,
                })?;
            out.push((org, record));
        }
        Ok(out)
    }

    /// Deletes every record.
    pub fn clear(&self) -> Result<(), PersistError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        conn.execute("DELETE FROM records", [])?;
        Ok(())
    }
}
