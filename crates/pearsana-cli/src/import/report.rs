//! What an import reports: the summary line and the failures CSV.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use csv::{ByteRecord, StringRecord};
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
    /// The row as it goes into the failures report, byte for byte as read.
    pub record: ByteRecord,
    /// An API error code, or [`INVALID_ROW`] / [`IN_DOUBT`] / a transport code.
    pub code: String,
    /// Every problem, joined for one line of text.
    pub message: String,
}

/// Writes `failures` as CSV with the input's own header plus `error_code`, `error_message`,
/// `source_line`, so the file can be fixed and passed back as input. Earlier report columns
/// (when the input itself was a failures report) are replaced, not repeated.
///
/// Each row keeps its original bytes: fields are written as read (invalid UTF-8 included), and
/// the fields of a row longer than the header follow `source_line`, so nothing is dropped.
///
/// A regular file is written next to its final name and renamed, so a reader never sees half
/// a report and a failed write (a full disk) leaves any earlier report in place; a pipe or
/// device (`/dev/stdout`) is written directly.
pub fn write_failures(
    path: &Path,
    headers: &StringRecord,
    failures: &[FailedRow],
) -> std::io::Result<()> {
    let direct = std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir());
    if direct {
        let file = std::fs::OpenOptions::new().write(true).open(path)?;
        return write_rows(file, headers, failures).map(drop);
    }
    let (tmp, file) = create_partial(path)?;
    let written = write_rows(file, headers, failures)
        .and_then(|file| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A new file beside `path`, never an existing one (another file of that name is the user's).
fn create_partial(path: &Path) -> std::io::Result<(PathBuf, File)> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("the failures path names no file"))?
        .to_string_lossy();
    let dir = path.parent().unwrap_or(Path::new(""));
    let mut attempt = 0u32;
    loop {
        let tmp = dir.join(format!(".{name}.{}.{attempt}.partial", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(file) => return Ok((tmp, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

fn write_rows<W: Write>(
    out: W,
    headers: &StringRecord,
    failures: &[FailedRow],
) -> std::io::Result<W> {
    let report: Vec<String> = REPORT_COLUMNS.iter().map(|c| normalise_header(c)).collect();
    let keep: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !report.contains(&normalise_header(h)))
        .map(|(i, _)| i)
        .collect();
    let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(out);
    let mut header: Vec<&str> = keep.iter().map(|&i| &headers[i]).collect();
    header.extend(REPORT_COLUMNS);
    writer.write_record(&header)?;
    let mut row = ByteRecord::new();
    for failure in failures {
        row.clear();
        for &i in &keep {
            row.push_field(failure.record.get(i).unwrap_or_default());
        }
        row.push_field(failure.code.as_bytes());
        row.push_field(failure.message.as_bytes());
        row.push_field(failure.line.to_string().as_bytes());
        for extra in failure.record.iter().skip(headers.len()) {
            row.push_field(extra);
        }
        writer.write_byte_record(&row)?;
    }
    writer.flush()?;
    writer.into_inner().map_err(|e| e.into_error())
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
            record: ByteRecord::from(vec!["a@x.org", "OLD", "Ann, \"Jr\"", "3"]),
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
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no partial file left"
        );
    }
}
