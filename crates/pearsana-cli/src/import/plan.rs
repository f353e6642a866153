//! Turning a roster file into rows to send: every row validated before anything is sent, in
//! two streaming passes over the file (validate, then send), so memory does not grow with the
//! rows' content.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek};

use csv::{ByteRecord, StringRecord};

#[cfg(test)]
use super::csv_input::read_roster_from;
use super::csv_input::{Column, ColumnIndex, HeaderError, ReadError, Roster, SourceRow};
use super::journal::JournalState;
use super::keys::KeyHasher;

/// What one kind of import (users, invitations, documents) knows about its rows.
pub trait RowKind {
    /// A validated row, ready to become a request.
    type Value: Send + Sync + 'static;

    /// Name of the import, recorded in the journal (`users`).
    const NAME: &'static str;

    /// The columns this import understands.
    fn columns(&self) -> &'static [Column];

    /// Validates one row, returning every problem found.
    fn parse(&self, index: &ColumnIndex, record: &StringRecord)
    -> Result<Self::Value, Vec<String>>;

    /// Identities of a row that must be unique within the file, as (label, value); the first
    /// is the row's key in the journal, stable across runs and row order.
    fn identities(&self, value: &Self::Value) -> Vec<(&'static str, String)>;

    /// The row as written into a failures report (documents make file paths absolute).
    fn report_record(
        &self,
        index: &ColumnIndex,
        record: &ByteRecord,
        value: &Self::Value,
    ) -> ByteRecord {
        let _ = (index, value);
        record.clone()
    }
}

/// A row that passed validation.
#[derive(Debug)]
pub struct ValidRow<V> {
    /// Line in the input file.
    pub line: u64,
    /// Journal key.
    pub key: String,
    /// The row as it goes into a failures report, byte for byte.
    pub record: ByteRecord,
    /// The validated content.
    pub value: V,
}

/// A row that failed validation.
#[derive(Debug, Clone)]
pub struct InvalidRow {
    /// Line in the input file.
    pub line: u64,
    /// The row as read, byte for byte.
    pub record: ByteRecord,
    /// Every problem found.
    pub problems: Vec<String>,
}

/// One row of the send pass.
#[derive(Debug)]
pub enum PlannedRow<V> {
    /// Ready to send (unless the journal says it is done).
    Valid(ValidRow<V>),
    /// To report.
    Invalid(InvalidRow),
}

/// Why a roster cannot be planned at all.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The header row is unusable.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The file cannot be read.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// What the validation pass learnt: counts, and compact per-row state for the send pass
/// (128-bit hashes, not the rows: memory grows by tens of bytes per row, not by the row).
#[derive(Debug)]
pub struct Validation {
    /// The header row of the input, reused by the failures report.
    pub headers: StringRecord,
    /// Data rows in the file.
    pub total: usize,
    /// Rows found invalid by the validation pass (duplicates are found by the send pass).
    pub invalid: usize,
    index: ColumnIndex,
    hasher: KeyHasher,
    /// Identity hashes that more than one valid row carries.
    repeated: HashSet<u128>,
    /// Journal-key hashes of the valid rows, sorted.
    keys: Vec<u128>,
}

impl Validation {
    /// Rows that passed the validation pass.
    pub fn valid(&self) -> usize {
        self.total - self.invalid
    }

    /// An empty journal state that tracks exactly the valid rows of this roster (the keys move
    /// into it).
    pub fn journal_state(&mut self) -> JournalState {
        JournalState::new(self.hasher.clone(), std::mem::take(&mut self.keys))
    }
}

/// The validation pass: reads every row once, reporting each invalid row to `on_invalid` (in
/// file order), and remembers only hashes. Only a bad header row or an unreadable file is fatal.
pub fn validate<K: RowKind, R: Read + Seek>(
    kind: &K,
    roster: &mut Roster<R>,
    mut on_invalid: impl FnMut(&InvalidRow),
) -> Result<Validation, PlanError> {
    let index = ColumnIndex::resolve(&roster.headers, kind.columns())?;
    let hasher = KeyHasher::new();
    let mut identities: Vec<u128> = Vec::new();
    let (mut total, mut invalid) = (0, 0);
    for row in roster.rows()? {
        let row = row?;
        total += 1;
        match check(kind, &index, &row) {
            Ok(value) => {
                for (i, (label, id)) in kind.identities(&value).iter().enumerate() {
                    identities.push(if i == 0 {
                        hasher.key(id)
                    } else {
                        hasher.identity(label, id)
                    });
                }
            }
            Err(bad) => {
                invalid += 1;
                on_invalid(&bad);
            }
        }
    }
    identities.sort_unstable();
    let repeated = identities
        .windows(2)
        .filter(|w| w[0] == w[1])
        .map(|w| w[0])
        .collect();
    identities.retain(|&h| KeyHasher::is_key(h));
    identities.dedup();
    identities.shrink_to_fit();
    Ok(Validation {
        headers: roster.headers.clone(),
        total,
        invalid,
        index,
        hasher,
        repeated,
        keys: identities,
    })
}

fn check<K: RowKind>(
    kind: &K,
    index: &ColumnIndex,
    row: &SourceRow,
) -> Result<K::Value, InvalidRow> {
    let invalid = |problems| InvalidRow {
        line: row.line,
        record: row.raw().clone(),
        problems,
    };
    if let Some(problem) = &row.malformed {
        return Err(invalid(vec![problem.clone()]));
    }
    kind.parse(index, &row.record).map_err(invalid)
}

/// The send pass: reads the rows again in file order and yields each as valid or invalid.
/// Repeated identities are resolved here (the first row wins); a repeat, or a row that has
/// changed since the validation pass, is also reported to `on_invalid`.
pub fn plan<'a, K: RowKind, R: Read + Seek>(
    kind: &'a K,
    roster: &'a mut Roster<R>,
    validation: &'a Validation,
    on_invalid: impl FnMut(&InvalidRow) + 'a,
) -> Result<impl Iterator<Item = Result<PlannedRow<K::Value>, ReadError>> + 'a, ReadError> {
    let mut first_seen: HashMap<u128, u64> = HashMap::new();
    let mut on_invalid = on_invalid;
    let rows = roster.rows()?;
    Ok(rows.map(move |row| {
        let row = row?;
        let value = match check(kind, &validation.index, &row) {
            Ok(value) => value,
            Err(bad) => return Ok(PlannedRow::Invalid(bad)),
        };
        let identities = kind.identities(&value);
        let hashes: Vec<u128> = identities
            .iter()
            .enumerate()
            .map(|(i, (label, id))| {
                if i == 0 {
                    validation.hasher.key(id)
                } else {
                    validation.hasher.identity(label, id)
                }
            })
            .collect();
        let duplicates: Vec<String> = identities
            .iter()
            .zip(&hashes)
            .filter_map(|((label, id), hash)| {
                first_seen
                    .get(hash)
                    .map(|line| format!("{label}: {id:?} already appears on line {line}"))
            })
            .collect();
        if !duplicates.is_empty() {
            let bad = InvalidRow {
                line: row.line,
                record: row.raw().clone(),
                problems: duplicates,
            };
            on_invalid(&bad);
            return Ok(PlannedRow::Invalid(bad));
        }
        for hash in hashes {
            if validation.repeated.contains(&hash) {
                first_seen.insert(hash, row.line);
            }
        }
        let key = identities
            .into_iter()
            .next()
            .map(|(_, id)| id)
            .unwrap_or_default();
        let record = kind.report_record(&validation.index, row.raw(), &value);
        Ok(PlannedRow::Valid(ValidRow {
            line: row.line,
            key,
            record,
            value,
        }))
    }))
}

/// Both passes over an in-memory roster, collected: for tests and the demo's small roster.
#[cfg(test)]
pub fn plan_all<K: RowKind>(kind: &K, text: &[u8]) -> (Vec<ValidRow<K::Value>>, Vec<InvalidRow>) {
    let mut roster = read_roster_from(std::io::Cursor::new(text), "t").unwrap();
    let mut invalid = Vec::new();
    let validation = validate(kind, &mut roster, |_| {}).unwrap();
    let mut valid = Vec::new();
    for row in plan(kind, &mut roster, &validation, |_| {}).unwrap() {
        match row.unwrap() {
            PlannedRow::Valid(row) => valid.push(row),
            PlannedRow::Invalid(row) => invalid.push(row),
        }
    }
    (valid, invalid)
}
