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

use super::records::{RawRow, RecordReader};

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
    /// (canonical name, position): a handful of entries, read for every field of every row,
    /// so a linear scan beats hashing the name each time.
    positions: Vec<(&'static str, usize)>,
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
        Ok(Self {
            positions: positions.into_iter().collect(),
        })
    }

    /// Position of a column in the file, if present.
    pub fn position(&self, column: &str) -> Option<usize> {
        self.positions
            .iter()
            .find(|(name, _)| *name == column)
            .map(|&(_, position)| position)
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
    /// The fields as text (lossy only when `malformed` says so), for validation.
    pub record: StringRecord,
    /// The original bytes, kept apart only when `record` could not hold them (not UTF-8).
    undecodable: Option<ByteRecord>,
    /// A problem with the row's shape (wrong field count, bad encoding, unterminated quote),
    /// if any.
    pub malformed: Option<String>,
}

impl SourceRow {
    /// The fields exactly as written: what a failures report gives back.
    pub fn raw(&self) -> &ByteRecord {
        self.undecodable
            .as_ref()
            .unwrap_or_else(|| self.record.as_byte_record())
    }
}

/// A roster file: its header, and its rows read as often as needed, one at a time.
#[derive(Debug)]
pub struct Roster<R> {
    source: R,
    name: String,
    /// Header row, trimmed.
    pub headers: StringRecord,
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

/// Opens a CSV file with a header row, refusing anything but a regular file.
pub fn read_roster(path: &Path) -> Result<Roster<std::fs::File>, ReadError> {
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

/// Like [`read_roster`], from any seekable reader; `name` is used in messages.
pub fn read_roster_from<R: std::io::Read + std::io::Seek>(
    source: R,
    name: &str,
) -> Result<Roster<R>, ReadError> {
    let mut roster = Roster {
        source,
        name: name.to_string(),
        headers: StringRecord::new(),
    };
    let mut reader = roster.reader()?;
    let header = reader
        .next_row()
        .map_err(|source| ReadError::Io {
            path: name.to_string(),
            source,
        })?
        .ok_or_else(|| ReadError::Header {
            path: name.to_string(),
            message: HeaderError::Empty.to_string(),
        })?;
    if let Some(problem) = header.problem {
        return Err(ReadError::Header {
            path: name.to_string(),
            message: problem,
        });
    }
    let mut headers =
        StringRecord::from_byte_record(header.fields).map_err(|e| ReadError::Header {
            path: name.to_string(),
            message: e.to_string(),
        })?;
    headers.trim();
    roster.headers = headers;
    Ok(roster)
}

impl<R: std::io::Read + std::io::Seek> Roster<R> {
    fn reader(&mut self) -> Result<RecordReader<&mut R>, ReadError> {
        self.source
            .seek(std::io::SeekFrom::Start(0))
            .map_err(|source| ReadError::Io {
                path: self.name.clone(),
                source,
            })?;
        Ok(RecordReader::new(&mut self.source))
    }

    /// Reads the data rows from the start, one at a time. Malformed rows are kept and flagged,
    /// never dropped, so they can be reported with their line number; rows whose every field
    /// is blank are skipped.
    pub fn rows(&mut self) -> Result<Rows<'_, R>, ReadError> {
        let width = self.headers.len();
        let name = self.name.clone();
        let mut reader = self.reader()?;
        reader.next_row().map_err(|source| ReadError::Io {
            path: name.clone(),
            source,
        })?;
        Ok(Rows {
            reader,
            width,
            name,
        })
    }
}

/// The data rows of a [`Roster`], in file order.
pub struct Rows<'a, R> {
    reader: RecordReader<&'a mut R>,
    width: usize,
    name: String,
}

impl<R: std::io::Read> Iterator for Rows<'_, R> {
    type Item = Result<SourceRow, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let raw = match self.reader.next_row() {
                Ok(Some(raw)) => raw,
                Ok(None) => return None,
                Err(source) => {
                    return Some(Err(ReadError::Io {
                        path: self.name.clone(),
                        source,
                    }));
                }
            };
            if raw.problem.is_none() && raw.fields.iter().all(|f| f.trim_ascii().is_empty()) {
                continue;
            }
            return Some(Ok(source_row(raw, self.width)));
        }
    }
}

fn source_row(raw: RawRow, width: usize) -> SourceRow {
    let (record, undecodable, mut malformed) = match StringRecord::from_byte_record(raw.fields) {
        Ok(record) => (record, None, raw.problem),
        Err(e) => {
            let message = e.to_string();
            let bytes = e.into_byte_record();
            let lossy = bytes
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            let problem = raw
                .problem
                .unwrap_or(format!("not valid UTF-8 ({message})"));
            (lossy, Some(bytes), Some(problem))
        }
    };
    if malformed.is_none() && record.len() != width {
        malformed = Some(format!(
            "row has {} fields but the header has {width}",
            record.len()
        ));
    }
    SourceRow {
        line: raw.line,
        record,
        undecodable,
        malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::super::records::MAX_RECORD_BYTES;
    use super::*;

    const COLUMNS: &[Column] = &[
        Column::required("email"),
        Column::required("firstName"),
        Column::optional("dateOfBirth").with_aliases(&["dob"]),
    ];

    fn record(fields: &[&str]) -> StringRecord {
        StringRecord::from(fields.to_vec())
    }

    fn rows(text: &[u8]) -> Vec<SourceRow> {
        read_roster_from(std::io::Cursor::new(text), "t.csv")
            .unwrap()
            .rows()
            .unwrap()
            .map(Result::unwrap)
            .collect()
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
        let rows = rows(text.as_bytes());
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 4, 6, 8]);
        assert!(rows[0].malformed.is_none());
        assert_eq!(&rows[1].record[1], "multi\nline");
        assert!(rows[2].malformed.as_deref().unwrap().contains("1 fields"));
        assert_eq!(&rows[3].record[0], "d@x.org");
    }

    #[test]
    fn spreadsheet_exports_with_crlf_and_blank_lines_keep_true_line_numbers() {
        let text = "email,firstName\r\na@x.org,A\r\n\r\n\r\nb@x.org,B\r\n";
        let rows = rows(text.as_bytes());
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 5]);
        assert_eq!(&rows[1].record[1], "B");
    }

    #[test]
    fn invalid_utf8_is_reported_not_dropped() {
        let bytes = b"email,firstName\n\xff@x.org,A\n";
        let rows = rows(&bytes[..]);
        assert_eq!(rows.len(), 1);
        assert!(rows[0].malformed.as_deref().unwrap().contains("UTF-8"));
        assert_eq!(
            &rows[0].raw()[0],
            b"\xff@x.org",
            "the original bytes are kept"
        );
    }

    #[test]
    fn extra_fields_are_kept_byte_for_byte() {
        let rows = rows(b"email,firstName\na@x.org,A,  extra ,\"more,\"\"x\"\"\"\n");
        assert!(rows[0].malformed.as_deref().unwrap().contains("4 fields"));
        let raw: Vec<&[u8]> = rows[0].raw().iter().collect();
        assert_eq!(raw, vec![&b"a@x.org"[..], b"A", b"  extra ", b"more,\"x\""]);
    }

    #[test]
    fn an_unterminated_quote_is_reported_on_its_line_and_later_rows_survive() {
        // Closed by a later quote mid-field, or never closed at all: lines 4 and 5 are rows.
        for text in [
            &b"email,firstName\na@x.org,A\nb@x.org,\"Bob\nc@x.org,C\n\"d@x.org\",\"D\"\n"[..],
            &b"email,firstName\na@x.org,A\nb@x.org,\"Bob\nc@x.org,C\nd@x.org,D"[..],
        ] {
            check_unterminated(text);
        }
    }

    #[test]
    fn a_stray_quote_early_in_a_long_file_loses_no_later_row() {
        let mut text = b"email,firstName\na@x.org,\"A\nb@x.org,B\n\"c@x.org\",C\n".to_vec();
        for i in 0..20_000 {
            text.extend_from_slice(format!("user{i}@x.org,Name{i}\n").as_bytes());
        }
        let rows = rows(&text);
        assert!(rows[0].malformed.as_deref().unwrap().contains("line 2"));
        assert_eq!(rows.len(), 3 + 20_000);
        assert!(
            rows[1..].iter().all(|r| r.malformed.is_none()),
            "{:?}",
            rows[1]
        );
        assert_eq!((rows[2].line, &rows[2].record[0]), (4, "c@x.org"));
        assert_eq!(rows.last().unwrap().line, 20_004);
        assert_eq!(&rows.last().unwrap().record[0], "user19999@x.org");
    }

    fn check_unterminated(text: &[u8]) {
        let rows = rows(text);
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 5]);
        let problem = rows[1].malformed.as_deref().unwrap();
        assert!(
            problem.contains("unterminated quote") && problem.contains("line 3"),
            "{problem}"
        );
        assert_eq!(&rows[1].raw()[0], b"b@x.org");
        assert!(rows[2].malformed.is_none() && &rows[2].record[0] == "c@x.org");
        assert!(rows[3].malformed.is_none() && &rows[3].record[1] == "D");
        assert_eq!(&rows[3].record[0], "d@x.org");
    }

    #[test]
    fn an_overlong_row_is_reported_and_skipped_without_reading_it_into_memory() {
        let mut text = b"email,firstName\na@x.org,A\nb@x.org,".to_vec();
        text.extend(std::iter::repeat_n(b'x', MAX_RECORD_BYTES + 100_000));
        text.extend_from_slice(b"\nc@x.org,C\n");
        let read = rows(&text);
        let lines: Vec<u64> = read.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![2, 3, 4]);
        assert!(
            read[1]
                .malformed
                .as_deref()
                .unwrap()
                .contains("longer than")
        );
        assert_eq!(&read[2].record[0], "c@x.org");

        // An unterminated quote near the top of a large file swallows at most one row's limit.
        let mut text = b"email,firstName\na@x.org,\"A\n".to_vec();
        for i in 0..40_000 {
            text.extend_from_slice(format!("user{i}@x.org,Name{i}\n").as_bytes());
        }
        let rows = rows(&text);
        assert!(rows[0].malformed.as_deref().unwrap().contains("line 2"));
        assert_eq!(rows.len(), 40_001, "every later line is still a row");
        assert_eq!(&rows[40_000].record[0], "user39999@x.org");
        assert_eq!(rows[40_000].line, 40_002);
    }

    #[test]
    fn byte_order_mark_is_not_part_of_the_first_header() {
        let file = read_roster_from(
            std::io::Cursor::new("\u{feff}email,firstName\na@x.org,A\n"),
            "t.csv",
        )
        .unwrap();
        assert!(ColumnIndex::resolve(&file.headers, COLUMNS).is_ok());
    }
}
