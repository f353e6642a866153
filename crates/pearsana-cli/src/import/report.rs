//! What an import reports: the summary line and the failures CSV.

use std::path::Path;

use csv::StringRecord;
use serde::Serialize;

use super::csv_input::{REPORT_COLUMNS, normalise_header};

/// Counts of one import run; printed as the last stdout line with `--output json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Data rows in the input file.
    pub total: usize,
    /// Rows created by this run.
    pub created: usize,
    /// Rows whose resource already existed (e.g. a user with that email).
    pub existing: usize,
    /// Rows that failed: invalid, rejected by the API, or left in doubt.
    pub failed: usize,
    /// Rows already finished according to the journal, not sent again.
    pub skipped: usize,
    /// Rows not attempted because the run was interrupted or aborted.
    pub remaining: usize,
    /// Wall-clock duration of the run.
    pub elapsed_seconds: f64,
}

/// Error code used in reports for rows that failed validation before anything was sent.
pub const INVALID_ROW: &str = "INVALID_ROW";
/// Error code used in reports for rows left in doubt by an earlier run.
pub const IN_DOUBT: &str = "IN_DOUBT";

/// A row that did not succeed, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct FailedRow {
    /// Line in the input file.
    pub line: u64,
    /// The row as it goes into the failures report.
    pub record: StringRecord,
    /// An API error code, or [`INVALID_ROW`] / [`IN_DOUBT`] / a transport code.
    pub code: String,
    /// Every problem, joined for one line of text.
    pub message: String,
}

/// Writes `failures` as CSV with the input's own header plus `error_code`, `error_message`,
/// `source_line`, so the file can be fixed and passed back as input. Earlier report columns
/// (when the input itself was a failures report) are replaced, not repeated. The file is
/// written next to its final name and renamed, so a reader never sees half a report.
pub fn write_failures(
    path: &Path,
    headers: &StringRecord,
    failures: &[FailedRow],
) -> std::io::Result<()> {
    let report: Vec<String> = REPORT_COLUMNS.iter().map(|c| normalise_header(c)).collect();
    let keep: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !report.contains(&normalise_header(h)))
        .map(|(i, _)| i)
        .collect();
    let tmp = path.with_extension("csv.partial");
    {
        let mut writer = csv::Writer::from_path(&tmp)?;
        let mut header: Vec<&str> = keep.iter().map(|&i| &headers[i]).collect();
        header.extend(REPORT_COLUMNS);
        writer.write_record(&header)?;
        for failure in failures {
            let mut row: Vec<String> = keep
                .iter()
                .map(|&i| failure.record.get(i).unwrap_or("").to_string())
                .collect();
            row.push(failure.code.clone());
            row.push(failure.message.clone());
            row.push(failure.line.to_string());
            writer.write_record(&row)?;
        }
        writer.flush()?;
        writer
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_serialises_with_the_documented_keys() {
        let summary = Summary {
            total: 5,
            created: 2,
            existing: 1,
            failed: 1,
            skipped: 1,
            remaining: 0,
            elapsed_seconds: 1.5,
        };
        let json = serde_json::to_value(&summary).unwrap();
        for key in [
            "total",
            "created",
            "existing",
            "failed",
            "skipped",
            "elapsedSeconds",
        ] {
            assert!(json.get(key).is_some(), "{key} in {json}");
        }
        assert_eq!(json["elapsedSeconds"], 1.5);
    }

    #[test]
    fn failures_report_round_trips_without_repeating_report_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failures.csv");
        let headers = StringRecord::from(vec!["email", "error_code", "firstName", "source_line"]);
        let failures = vec![FailedRow {
            line: 7,
            record: StringRecord::from(vec!["a@x.org", "OLD", "Ann, \"Jr\"", "3"]),
            code: "CONFLICT".into(),
            message: "already exists".into(),
        }];
        write_failures(&path, &headers, &failures).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(
            reader.headers().unwrap(),
            &StringRecord::from(vec![
                "email",
                "firstName",
                "error_code",
                "error_message",
                "source_line"
            ])
        );
        let row = reader.records().next().unwrap().unwrap();
        assert_eq!(
            row,
            StringRecord::from(vec![
                "a@x.org",
                "Ann, \"Jr\"",
                "CONFLICT",
                "already exists",
                "7"
            ])
        );
        assert!(!dir.path().join("failures.csv.partial").exists());
    }
}
