//! Reading roster CSV files: header matching and per-row field access.
//!
//! Spreadsheets exported from student information systems spell column names in many ways
//! (`firstName`, `First Name`, `first_name`, `FIRST-NAME`). Headers are therefore compared
//! after [`normalise_header`]: lower case, with `_`, `-` and spaces removed. Every other
//! mismatch is an error that names the column, because a silently ignored column (`fist_name`)
//! would import wrong data.

use std::collections::HashMap;
use std::path::Path;

use csv::{ByteRecord, StringRecord};

/// Columns the CLI writes into a failures report. They are accepted (and ignored) on input so
/// that a failures report can be fed straight back into the same import.
pub const REPORT_COLUMNS: [&str; 3] = ["error_code", "error_message", "source_line"];

/// One column an import understands.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Canonical name, as written in help text (`firstName`).
    pub name: &'static str,
    /// Whether the header row must contain it.
    pub required: bool,
    /// Other accepted spellings (compared after normalisation).
    pub aliases: &'static [&'static str],
}

impl Column {
    /// A column the header row must contain.
    pub const fn required(name: &'static str) -> Self {
        Self {
            name,
            required: true,
            aliases: &[],
        }
    }

    /// A column that may be absent.
    pub const fn optional(name: &'static str) -> Self {
        Self {
            name,
            required: false,
            aliases: &[],
        }
    }

    /// The same column, also matched under `aliases`.
    pub const fn with_aliases(self, aliases: &'static [&'static str]) -> Self {
        Self { aliases, ..self }
    }
}

/// Lower-cases a header and removes `_`, `-` and spaces, so `First_Name` matches `firstName`.
pub fn normalise_header(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' ' | '\t'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A problem with the header row; the whole file is rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    /// The file has no header row at all.
    #[error("the file is empty: a header row is required")]
    Empty,
    /// Required columns are absent.
    #[error("missing required column(s): {}", .0.join(", "))]
    Missing(Vec<&'static str>),
    /// Columns that match nothing the import understands.
    #[error("unknown column(s): {} (known columns: {})", .unknown.join(", "), .known.join(", "))]
    Unknown {
        /// The headers as written in the file.
        unknown: Vec<String>,
        /// Every accepted canonical name.
        known: Vec<&'static str>,
    },
    /// Two headers normalise to the same column.
    #[error("column {column} appears more than once (headers {first:?} and {second:?})")]
    Duplicate {
        /// Canonical column name.
        column: &'static str,
        /// First header spelling.
        first: String,
        /// Second header spelling.
        second: String,
    },
}

/// Where each known column sits in the file.
#[derive(Debug, Clone)]
pub struct ColumnIndex {
    positions: HashMap<&'static str, usize>,
}

impl ColumnIndex {
    /// Matches a header row against `columns`.
    pub fn resolve(headers: &StringRecord, columns: &[Column]) -> Result<Self, HeaderError> {
        let mut lookup: HashMap<String, &'static str> = HashMap::new();
        for column in columns {
            lookup.insert(normalise_header(column.name), column.name);
            for alias in column.aliases {
                lookup.insert(normalise_header(alias), column.name);
            }
        }
        let report: Vec<String> = REPORT_COLUMNS.iter().map(|c| normalise_header(c)).collect();
        let mut positions = HashMap::new();
        let mut unknown = Vec::new();
        for (index, header) in headers.iter().enumerate() {
            let normalised = normalise_header(header);
            match lookup.get(&normalised) {
                Some(&name) => {
                    if let Some(&previous) = positions.get(name) {
                        return Err(HeaderError::Duplicate {
                            column: name,
                            first: headers[previous].to_string(),
                            second: header.to_string(),
                        });
                    }
                    positions.insert(name, index);
                }
                None if report.contains(&normalised) => {}
                None if normalised.is_empty() => {
                    unknown.push(format!("(blank header in column {})", index + 1))
                }
                None => unknown.push(header.to_string()),
            }
        }
        if !unknown.is_empty() {
            return Err(HeaderError::Unknown {
                unknown,
                known: columns.iter().map(|c| c.name).collect(),
            });
        }
        let missing: Vec<_> = columns
            .iter()
            .filter(|c| c.required && !positions.contains_key(c.name))
            .map(|c| c.name)
            .collect();
        if !missing.is_empty() {
            return Err(HeaderError::Missing(missing));
        }
        Ok(Self { positions })
    }

    /// Position of a column in the file, if present.
    pub fn position(&self, column: &str) -> Option<usize> {
        self.positions.get(column).copied()
    }

    /// The trimmed value of `column` in `record`, or `None` when absent or blank.
    pub fn get<'r>(&self, record: &'r StringRecord, column: &str) -> Option<&'r str> {
        let value = record.get(self.position(column)?)?.trim();
        (!value.is_empty()).then_some(value)
    }
}

/// One data row with the line it started on (1-based, the header is line 1).
#[derive(Debug, Clone)]
pub struct SourceRow {
    /// Line number in the file.
    pub line: u64,
    /// The fields; present even when the row is malformed, so it can be reported back.
    pub record: StringRecord,
    /// A problem with the row's shape (wrong field count, bad encoding), if any.
    pub malformed: Option<String>,
}

/// A roster file read into memory: its header and rows.
#[derive(Debug)]
pub struct RosterFile {
    /// Header row.
    pub headers: StringRecord,
    /// Data rows, without rows whose every field is blank.
    pub rows: Vec<SourceRow>,
}

/// The input file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A device, pipe or directory: the file is read twice (validation, then sending), which
    /// only a regular file allows, and a device such as `/dev/zero` never ends.
    #[error("{path} is not a regular file; save the rows to a file and pass its path")]
    NotRegular {
        /// The path.
        path: String,
    },
    /// The header row itself is not valid CSV or UTF-8.
    #[error("{path}: the header row is not valid UTF-8 CSV: {message}")]
    Header {
        /// The file.
        path: String,
        /// Cause.
        message: String,
    },
}

/// Reads a CSV file with a header row. Malformed data rows are kept and flagged, never dropped,
/// so they can be reported with their line number.
pub fn read_roster(path: &Path) -> Result<RosterFile, ReadError> {
    let display = path.display().to_string();
    let io = |source| ReadError::Io {
        path: display.clone(),
        source,
    };
    // Checked before opening too: opening a pipe for reading waits for a writer.
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(ReadError::NotRegular { path: display });
    }
    let file = std::fs::File::open(path).map_err(io)?;
    if !file.metadata().map_err(io)?.is_file() {
        return Err(ReadError::NotRegular { path: display });
    }
    read_roster_from(file, &display)
}

/// Like [`read_roster`], from any reader; `name` is used in messages.
pub fn read_roster_from(
    mut reader: impl std::io::Read,
    name: &str,
) -> Result<RosterFile, ReadError> {
    let mut data = Vec::new();
    reader
        .read_to_end(&mut data)
        .map_err(|source| ReadError::Io {
            path: name.to_string(),
            source,
        })?;
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(data.as_slice());
    let headers = csv.headers().map_err(|e| header_error(name, e))?.clone();
    let width = headers.len();
    let mut lines = LineCounter::new(&data);
    let mut rows = Vec::new();
    let mut raw = ByteRecord::new();
    loop {
        match csv.read_byte_record(&mut raw) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.record_line(p.byte()));
                rows.push(SourceRow {
                    line,
                    record: StringRecord::new(),
                    malformed: Some(e.to_string()),
                });
                continue;
            }
        }
        let line = raw.position().map_or(0, |p| lines.record_line(p.byte()));
        if raw.iter().all(<[u8]>::is_empty) {
            continue;
        }
        let (record, mut malformed) = match StringRecord::from_byte_record(raw.clone()) {
            Ok(record) => (record, None),
            Err(e) => (
                raw.iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect(),
                Some(format!("not valid UTF-8 ({e})")),
            ),
        };
        if malformed.is_none() && record.len() != width {
            malformed = Some(format!(
                "row has {} fields but the header has {width}",
                record.len()
            ));
        }
        rows.push(SourceRow {
            line,
            record,
            malformed,
        });
    }
    if headers.is_empty() && rows.is_empty() {
        return Err(ReadError::Header {
            path: name.to_string(),
            message: HeaderError::Empty.to_string(),
        });
    }
    Ok(RosterFile { headers, rows })
}

/// Turns a record's byte offset into its line number. The csv crate reports a record's
/// position from before any blank lines it skipped, so the offset is moved past line breaks
/// first; lines are counted incrementally, as records arrive in order.
struct LineCounter<'a> {
    data: &'a [u8],
    offset: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            offset: 0,
            line: 1,
        }
    }

    fn record_line(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        while start < self.data.len() && matches!(self.data[start], b'\r' | b'\n') {
            start += 1;
        }
        if start >= self.offset {
            self.line += self.data[self.offset..start]
                .iter()
                .filter(|&&b| b == b'\n')
                .count() as u64;
            self.offset = start;
        }
        self.line
    }
}

fn header_error(name: &str, error: csv::Error) -> ReadError {
    ReadError::Header {
        path: name.to_string(),
        message: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[Column] = &[
        Column::required("email"),
        Column::required("firstName"),
        Column::optional("dateOfBirth").with_aliases(&["dob"]),
    ];

    fn record(fields: &[&str]) -> StringRecord {
        StringRecord::from(fields.to_vec())
    }

    #[test]
    fn header_spellings_match_after_normalisation() {
        for spelling in [
            "firstName",
            "first_name",
            "First Name",
            "FIRST-NAME",
            "firstname",
        ] {
            let index = ColumnIndex::resolve(&record(&["Email", spelling]), COLUMNS).unwrap();
            assert_eq!(index.position("firstName"), Some(1), "{spelling}");
        }
        let index =
            ColumnIndex::resolve(&record(&["email", "first name", "DOB"]), COLUMNS).unwrap();
        assert_eq!(index.position("dateOfBirth"), Some(2));
    }

    #[test]
    fn missing_unknown_and_duplicate_columns_are_named() {
        assert_eq!(
            ColumnIndex::resolve(&record(&["email"]), COLUMNS).unwrap_err(),
            HeaderError::Missing(vec!["firstName"])
        );
        let err = ColumnIndex::resolve(&record(&["email", "firstName", "fist_name"]), COLUMNS)
            .unwrap_err();
        assert!(matches!(&err, HeaderError::Unknown { unknown, .. } if unknown == &["fist_name"]));
        assert!(err.to_string().contains("fist_name"));
        let err = ColumnIndex::resolve(&record(&["email", "firstName", "first_name"]), COLUMNS)
            .unwrap_err();
        assert!(matches!(
            err,
            HeaderError::Duplicate {
                column: "firstName",
                ..
            }
        ));
    }

    #[test]
    fn report_columns_are_ignored_so_failures_can_be_fed_back() {
        let headers = record(&[
            "email",
            "firstName",
            "error_code",
            "Error Message",
            "source_line",
        ]);
        assert!(ColumnIndex::resolve(&headers, COLUMNS).is_ok());
    }

    #[test]
    fn values_are_trimmed_and_blank_means_absent() {
        let index = ColumnIndex::resolve(&record(&["email", "firstName"]), COLUMNS).unwrap();
        let row = record(&["  a@b.org ", "   "]);
        assert_eq!(index.get(&row, "email"), Some("a@b.org"));
        assert_eq!(index.get(&row, "firstName"), None);
        assert_eq!(index.get(&row, "dateOfBirth"), None);
    }

    #[test]
    fn rows_keep_their_line_numbers_and_malformed_rows_are_flagged() {
        let text =
            "email,firstName\na@x.org,A\n\n\"b@x.org\",\"multi\nline\"\nc@x.org\n,\nd@x.org,D\n";
        let file = read_roster_from(text.as_bytes(), "t.csv").unwrap();
        let lines: Vec<u64> = file.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 4, 6, 8]);
        assert!(file.rows[0].malformed.is_none());
        assert_eq!(&file.rows[1].record[1], "multi\nline");
        assert!(
            file.rows[2]
                .malformed
                .as_deref()
                .unwrap()
                .contains("1 fields")
        );
        assert_eq!(&file.rows[3].record[0], "d@x.org");
    }

    #[test]
    fn spreadsheet_exports_with_crlf_and_blank_lines_keep_true_line_numbers() {
        let text = "email,firstName\r\na@x.org,A\r\n\r\n\r\nb@x.org,B\r\n";
        let file = read_roster_from(text.as_bytes(), "t.csv").unwrap();
        let lines: Vec<u64> = file.rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 5]);
        assert_eq!(&file.rows[1].record[1], "B");
    }

    #[test]
    fn invalid_utf8_is_reported_not_dropped() {
        let bytes = b"email,firstName\n\xff@x.org,A\n";
        let file = read_roster_from(&bytes[..], "t.csv").unwrap();
        assert_eq!(file.rows.len(), 1);
        assert!(file.rows[0].malformed.as_deref().unwrap().contains("UTF-8"));
    }

    #[test]
    fn byte_order_mark_is_not_part_of_the_first_header() {
        let file =
            read_roster_from("\u{feff}email,firstName\na@x.org,A\n".as_bytes(), "t.csv").unwrap();
        assert!(ColumnIndex::resolve(&file.headers, COLUMNS).is_ok());
    }
}
