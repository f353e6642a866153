//! Turning a roster file into a plan: every row validated before anything is sent.

use std::collections::HashMap;

use csv::StringRecord;

use super::csv_input::{Column, ColumnIndex, HeaderError, RosterFile};

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
        record: &StringRecord,
        value: &Self::Value,
    ) -> StringRecord {
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
    /// The row as it goes into a failures report.
    pub record: StringRecord,
    /// The validated content.
    pub value: V,
}

/// A row that failed validation.
#[derive(Debug, Clone)]
pub struct InvalidRow {
    /// Line in the input file.
    pub line: u64,
    /// The row as read.
    pub record: StringRecord,
    /// Every problem found.
    pub problems: Vec<String>,
}

/// The rows of a file, split into those to send and those to report.
#[derive(Debug)]
pub struct Plan<V> {
    /// The header row of the input, reused by the failures report.
    pub headers: StringRecord,
    /// Valid rows in file order.
    pub valid: Vec<ValidRow<V>>,
    /// Invalid rows in file order.
    pub invalid: Vec<InvalidRow>,
}

impl<V> Plan<V> {
    /// Number of data rows in the file.
    pub fn total(&self) -> usize {
        self.valid.len() + self.invalid.len()
    }
}

/// Validates every row of `file`. Only a bad header row is fatal.
pub fn plan<K: RowKind>(kind: &K, file: RosterFile) -> Result<Plan<K::Value>, HeaderError> {
    let index = ColumnIndex::resolve(&file.headers, kind.columns())?;
    let mut seen: HashMap<(&'static str, String), u64> = HashMap::new();
    let mut valid = Vec::new();
    let mut invalid = Vec::new();
    for row in file.rows {
        if let Some(problem) = row.malformed {
            invalid.push(InvalidRow {
                line: row.line,
                record: row.record,
                problems: vec![problem],
            });
            continue;
        }
        let value = match kind.parse(&index, &row.record) {
            Ok(value) => value,
            Err(problems) => {
                invalid.push(InvalidRow {
                    line: row.line,
                    record: row.record,
                    problems,
                });
                continue;
            }
        };
        let identities = kind.identities(&value);
        let duplicates: Vec<String> = identities
            .iter()
            .filter_map(|(label, id)| {
                seen.get(&(*label, id.clone()))
                    .map(|line| format!("{label}: {id:?} already appears on line {line}"))
            })
            .collect();
        if !duplicates.is_empty() {
            invalid.push(InvalidRow {
                line: row.line,
                record: row.record,
                problems: duplicates,
            });
            continue;
        }
        for identity in &identities {
            seen.insert(identity.clone(), row.line);
        }
        let key = identities
            .first()
            .map(|(_, id)| id.clone())
            .unwrap_or_default();
        let record = kind.report_record(&index, &row.record, &value);
        valid.push(ValidRow {
            line: row.line,
            key,
            record,
            value,
        });
    }
    Ok(Plan {
        headers: file.headers,
        valid,
        invalid,
    })
}
