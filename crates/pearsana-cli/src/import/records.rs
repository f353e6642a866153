//! Reading CSV rows one at a time, each with the line it starts on, never more than
//! [`MAX_RECORD_BYTES`] of one row in memory, and without letting a stray quote swallow the
//! rest of the file.

use csv::ByteRecord;

/// Longest row read (its bytes as written, line breaks inside quotes included). A longer row
/// is reported as malformed with its line number and skipped, instead of being read into
/// memory: a file of one endless line, or an unterminated quote near the top of a large
/// file, must not take the memory of the whole file.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// One row as written in the file.
#[derive(Debug, Clone)]
pub struct RawRow {
    /// The line it starts on (1-based).
    pub line: u64,
    /// Its fields, byte for byte (not trimmed, not decoded).
    pub fields: ByteRecord,
    /// Why its shape is broken (an unterminated quote, too long), if it is.
    pub problem: Option<String>,
}

/// Reads CSV rows one at a time from any reader, with a bound on each row.
///
/// A thin loop around `csv_core` rather than `csv::Reader`: it needs the line each row starts
/// on, a cap on a row's size, and a way to tell an unterminated quote (which `csv` silently
/// extends to the end of the file) from a legitimate quoted line break.
pub struct RecordReader<R> {
    source: R,
    core: csv_core::Reader,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
    /// Line of the next unread byte.
    line: u64,
    raw: Vec<u8>,
    out: Vec<u8>,
    ends: Vec<usize>,
}

const READ_CHUNK: usize = 64 << 10;

impl<R: std::io::Read> RecordReader<R> {
    /// Starts reading at the beginning of `source` (a UTF-8 byte order mark is skipped).
    pub fn new(source: R) -> Self {
        Self {
            source,
            core: csv_core::Reader::new(),
            buf: vec![0; READ_CHUNK],
            pos: 0,
            len: 0,
            eof: false,
            line: 1,
            raw: Vec::new(),
            out: vec![0; 4096],
            ends: vec![0; 64],
        }
    }

    fn refill(&mut self) -> std::io::Result<()> {
        if self.pos < self.len || self.eof {
            return Ok(());
        }
        if self.buf.len() < READ_CHUNK {
            self.buf.resize(READ_CHUNK, 0);
        }
        self.pos = 0;
        self.len = loop {
            match self.source.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.eof = self.len == 0;
        Ok(())
    }

    /// The next row, or `None` at the end of the input. Blank lines are skipped.
    pub fn next_row(&mut self) -> std::io::Result<Option<RawRow>> {
        self.raw.clear();
        let mut out_len = 0;
        let mut nends = 0;
        loop {
            self.refill()?;
            let input = &self.buf[self.pos..self.len];
            let (result, nin, nout, nend) =
                self.core
                    .read_record(input, &mut self.out[out_len..], &mut self.ends[nends..]);
            self.raw.extend_from_slice(&input[..nin]);
            self.pos += nin;
            out_len += nout;
            nends += nend;
            if self.raw.len() > MAX_RECORD_BYTES {
                return self.skip_overlong().map(Some);
            }
            match result {
                csv_core::ReadRecordResult::InputEmpty => {}
                csv_core::ReadRecordResult::OutputFull => {
                    let grown = self.out.len() * 2;
                    self.out.resize(grown, 0);
                }
                csv_core::ReadRecordResult::OutputEndsFull => {
                    let grown = self.ends.len() * 2;
                    self.ends.resize(grown, 0);
                }
                csv_core::ReadRecordResult::End => return Ok(None),
                csv_core::ReadRecordResult::Record => {
                    let mut fields = ByteRecord::with_capacity(out_len, nends);
                    let mut start = 0;
                    for &end in &self.ends[..nends] {
                        fields.push_field(&self.out[start..end]);
                        start = end;
                    }
                    return Ok(Some(self.finish_record(fields)));
                }
            }
        }
    }

    /// Where the row in `raw` starts: past the line breaks of blank lines before it.
    fn content_start(&self) -> usize {
        self.raw
            .iter()
            .position(|b| !matches!(b, b'\r' | b'\n'))
            .unwrap_or(self.raw.len())
    }

    fn finish_record(&mut self, fields: ByteRecord) -> RawRow {
        let start = self.content_start();
        let line = self.line + count_newlines(&self.raw[..start]);
        let content = trim_line_breaks(&self.raw[start..]);
        // `csv_core` ends a record at the end of the input even inside quotes, and reads a
        // quote closed mid-field as text: either way a stray quote has swallowed lines.
        let broken = content.contains(&b'"')
            && match quotes(content) {
                Quotes::Balanced => false,
                Quotes::Unterminated => true,
                Quotes::ClosedMidField => content.contains(&b'\n'),
            };
        if broken {
            let first_line_end = content
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(content.len());
            let fields = parse_fields(trim_line_breaks(&content[..first_line_end]));
            // Everything after the row's first line is read again, as rows of its own.
            let mut rest = self
                .raw
                .get(start + first_line_end + 1..)
                .unwrap_or_default()
                .to_vec();
            rest.extend_from_slice(&self.buf[self.pos..self.len]);
            self.restart_at(rest, line + 1);
            return RawRow {
                line,
                fields,
                problem: Some(format!(
                    "unterminated quote: a quoted field opened on line {line} is never closed; \
                     the lines after it were read as rows of their own"
                )),
            };
        }
        self.line += count_newlines(&self.raw);
        RawRow {
            line,
            fields,
            problem: None,
        }
    }

    /// Reports the over-long row starting in `raw` and carries on at the line after its first.
    fn skip_overlong(&mut self) -> std::io::Result<RawRow> {
        let start = self.content_start();
        let line = self.line + count_newlines(&self.raw[..start]);
        let problem = Some(format!(
            "the row starting on line {line} is longer than {MAX_RECORD_BYTES} bytes \
             (an unterminated quote?); it was skipped"
        ));
        let row = RawRow {
            line,
            fields: ByteRecord::new(),
            problem,
        };
        if let Some(at) = self.raw[start..].iter().position(|&b| b == b'\n') {
            let mut rest = self.raw[start + at + 1..].to_vec();
            rest.extend_from_slice(&self.buf[self.pos..self.len]);
            self.restart_at(rest, line + 1);
            return Ok(row);
        }
        // One endless line: drop everything up to its end.
        loop {
            self.refill()?;
            if self.pos >= self.len {
                break;
            }
            let input = &self.buf[self.pos..self.len];
            match input.iter().position(|&b| b == b'\n') {
                Some(at) => {
                    self.pos += at + 1;
                    break;
                }
                None => self.pos = self.len,
            }
        }
        self.core = csv_core::Reader::new();
        self.line = line + 1;
        self.raw.clear();
        Ok(row)
    }

    /// Parses `pending` (bytes already read) before the rest of the source, from line `line`.
    fn restart_at(&mut self, pending: Vec<u8>, line: u64) {
        self.len = pending.len();
        self.buf = pending;
        self.pos = 0;
        self.core = csv_core::Reader::new();
        self.line = line;
        self.raw.clear();
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

fn trim_line_breaks(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b'\r' | b'\n'))
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// How a row's quotes look, read the way `csv_core` quotes (a field that starts with `"` is
/// quoted until a `"` not followed by another `"`).
#[derive(Debug, PartialEq, Eq)]
enum Quotes {
    /// Every quoted field is closed, and closed at its end.
    Balanced,
    /// A quoted field is closed by a quote followed by more text (`"Bob\n..."text`): the
    /// usual sign that its opening quote was never meant to be closed there.
    ClosedMidField,
    /// The row ends inside a quoted field (only possible at the end of the input).
    Unterminated,
}

fn quotes(row: &[u8]) -> Quotes {
    #[derive(PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted,
        QuoteInQuoted,
    }
    let mut state = State::FieldStart;
    let mut closed_mid_field = false;
    for &b in row {
        state = match (state, b) {
            (State::FieldStart, b'"') => State::Quoted,
            (State::FieldStart | State::Unquoted | State::QuoteInQuoted, b',') => State::FieldStart,
            (State::FieldStart | State::Unquoted, _) => State::Unquoted,
            (State::Quoted, b'"') => State::QuoteInQuoted,
            (State::Quoted, _) => State::Quoted,
            (State::QuoteInQuoted, b'"') => State::Quoted,
            (State::QuoteInQuoted, _) => {
                closed_mid_field = true;
                State::Unquoted
            }
        };
    }
    if state == State::Quoted {
        Quotes::Unterminated
    } else if closed_mid_field {
        Quotes::ClosedMidField
    } else {
        Quotes::Balanced
    }
}

/// The fields of one short piece of CSV (read to its end, quotes or not).
fn parse_fields(bytes: &[u8]) -> ByteRecord {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut record = ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(true) => record,
        _ => ByteRecord::from(vec![bytes]),
    }
}
