//! Field-by-field checks of JSON request bodies that collect every problem with its path
//! (`identity.email is required`, `items[2].file must be valid standard base64`), in the
//! style of the documented validation messages.

use base64::Engine as _;
use chrono::NaiveDate;
use serde_json::{Map, Value};

use crate::store::NormalizedRef;

/// The documented message for a missing or empty `externalReferences` list.
pub const EXTERNAL_REFERENCES_REQUIRED: &str =
    "externalReferences is required and must be a non-empty array";

/// Joins a parent path and a field name.
pub fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_string()
    } else {
        format!("{parent}.{field}")
    }
}

/// Parses `YYYY-MM-DD` with exactly four, two and two digits.
pub fn strict_date(value: &str) -> Option<NaiveDate> {
    let bytes = value.as_bytes();
    let shape_ok = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shape_ok {
        return None;
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()
}

/// A plausible email address: one `@`, a non-empty local part of visible ASCII characters, and
/// a dotted domain of ASCII letters, digits and hyphens. Addresses are ASCII only (the
/// contract's assumption on `email`), so that lowercasing is the only normalisation and no
/// Unicode lookalike (the Kelvin sign `\u{212A}` lowercases to `k`) can collide with another
/// address.
pub fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.contains('@')
        && local.bytes().all(|b| b.is_ascii_graphic());
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    local_ok && domain_ok && value.len() <= 254
}

/// A base64 `file` text as the checks need it: its length and decoded size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileText {
    /// Length of the base64 text.
    pub text_len: usize,
    /// Decoded size; `None` when the text is not valid standard base64 with padding.
    pub decoded: Option<u64>,
}

impl FileText {
    /// A measured text.
    pub fn new(text_len: usize, decoded: Option<u64>) -> Self {
        Self { text_len, decoded }
    }
}

/// The decoded size of standard padded base64, checked piece by piece without holding the
/// decoded bytes; `None` when the text is not valid (the same texts a whole decode refuses).
pub fn base64_decoded_len(text: &str) -> Option<u64> {
    const PIECE: usize = 4096;
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut buffer = [0u8; PIECE / 4 * 3];
    let mut total = 0u64;
    let pieces = bytes.len().div_ceil(PIECE);
    for (i, piece) in bytes.chunks(PIECE).enumerate() {
        let written = base64::engine::general_purpose::STANDARD
            .decode_slice(piece, &mut buffer)
            .ok()?;
        // Padding is only allowed at the very end.
        if i + 1 < pieces && written != buffer.len() {
            return None;
        }
        total += written as u64;
    }
    Some(total)
}

/// The end of the message for a string with control characters.
pub const CONTROL_CHARACTERS: &str = "must not contain control characters (such as NUL)";

/// Whether a string holds a control character (Unicode category Cc: U+0000 to U+001F and
/// U+007F to U+009F); `text` allows line breaks and tabs, as free text may hold them.
pub fn has_control(value: &str, text: bool) -> bool {
    value
        .chars()
        .any(|c| c.is_control() && !(text && matches!(c, '\n' | '\r' | '\t')))
}

/// Collects problems found in one request body.
#[derive(Debug, Default)]
pub struct Problems {
    errors: Vec<String>,
}

/// Whether a field must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Missing or `null` is a problem.
    Required,
    /// May be absent; `null` is still the wrong type.
    Optional,
}

impl Problems {
    /// Records a problem.
    pub fn add(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The problems found.
    pub fn into_vec(self) -> Vec<String> {
        self.errors
    }

    /// A field that must be an object.
    pub fn object<'a>(
        &mut self,
        parent: &'a Map<String, Value>,
        field: &str,
        path: &str,
        presence: Presence,
    ) -> Option<&'a Map<String, Value>> {
        match parent.get(field) {
            None | Some(Value::Null) if presence == Presence::Required => {
                self.add(format!("{path} is required"));
                None
            }
            None => None,
            Some(Value::Object(map)) => Some(map),
            Some(_) => {
                self.add(format!("{path} must be an object"));
                None
            }
        }
    }

    /// A field that must be a string; `non_empty` also refuses `""`.
    pub fn string<'a>(
        &mut self,
        parent: &'a Map<String, Value>,
        field: &str,
        path: &str,
        presence: Presence,
        non_empty: bool,
    ) -> Option<&'a str> {
        match parent.get(field) {
            None | Some(Value::Null) if presence == Presence::Required => {
                self.add(format!("{path} is required"));
                None
            }
            None => None,
            Some(Value::String(s)) if non_empty && s.is_empty() => {
                self.add(format!("{path} must not be empty"));
                None
            }
            Some(Value::String(s)) if has_control(s, false) => {
                self.add(format!("{path} {CONTROL_CHARACTERS}"));
                None
            }
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.add(format!("{path} must be a string"));
                None
            }
        }
    }

    /// An optional free text (such as an invitation's `message`): line breaks and tabs are
    /// allowed, other control characters are not.
    pub fn optional_text(&mut self, parent: &Map<String, Value>, field: &str, path: &str) {
        match parent.get(field) {
            None => {}
            Some(Value::String(s)) if has_control(s, true) => {
                self.add(format!("{path} {CONTROL_CHARACTERS}"));
            }
            Some(Value::String(_)) => {}
            Some(_) => self.add(format!("{path} must be a string")),
        }
    }

    /// Optional string fields of an object, checked for type only.
    pub fn optional_strings(&mut self, parent: &Map<String, Value>, fields: &[&str], base: &str) {
        for field in fields {
            self.string(parent, field, &join(base, field), Presence::Optional, false);
        }
    }

    /// A required email address.
    pub fn email<'a>(
        &mut self,
        parent: &'a Map<String, Value>,
        field: &str,
        path: &str,
    ) -> Option<&'a str> {
        let value = self.string(parent, field, path, Presence::Required, false)?;
        if is_email(value) {
            Some(value)
        } else {
            self.add(format!("{path} must be a valid email address"));
            None
        }
    }

    /// An optional `YYYY-MM-DD` date.
    pub fn optional_date(&mut self, parent: &Map<String, Value>, field: &str, path: &str) {
        if let Some(value) = self.string(parent, field, path, Presence::Optional, false)
            && strict_date(value).is_none()
        {
            self.add(format!("{path} must be a date in the form YYYY-MM-DD"));
        }
    }

    /// An optional array of strings.
    pub fn optional_string_array(&mut self, parent: &Map<String, Value>, field: &str, path: &str) {
        match parent.get(field) {
            None => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::String(s) if has_control(s, false) => {
                            self.add(format!("{path}[{i}] {CONTROL_CHARACTERS}"));
                        }
                        Value::String(_) => {}
                        _ => self.add(format!("{path}[{i}] must be a string")),
                    }
                }
            }
            Some(_) => self.add(format!("{path} must be an array of strings")),
        }
    }

    /// An optional object whose values are all strings.
    pub fn optional_string_map(&mut self, parent: &Map<String, Value>, field: &str, path: &str) {
        if let Some(map) = self.object(parent, field, path, Presence::Optional) {
            for (key, value) in map {
                match value {
                    Value::String(s) if has_control(s, true) => {
                        self.add(format!("{path}.{key} {CONTROL_CHARACTERS}"));
                    }
                    Value::String(_) => {}
                    _ => self.add(format!("{path}.{key} must be a string")),
                }
            }
        }
    }

    /// One external reference object (namespace and external id, both non-empty; the
    /// external id must not be blank once trimmed).
    pub fn external_reference(&mut self, value: &Value, path: &str) -> Option<NormalizedRef> {
        let Value::Object(map) = value else {
            self.add(format!("{path} must be an object"));
            return None;
        };
        let namespace = self.string(
            map,
            "namespace",
            &join(path, "namespace"),
            Presence::Required,
            true,
        );
        let id_path = join(path, "externalId");
        let external_id = self.string(map, "externalId", &id_path, Presence::Required, true);
        if let Some(id) = external_id
            && id.trim().is_empty()
        {
            self.add(format!("{id_path} must not be blank"));
            return None;
        }
        Some(NormalizedRef::new(namespace?, external_id?))
    }

    /// A required, non-empty list of references with distinct namespaces (ASSUMPTIONS U3).
    pub fn external_reference_list(
        &mut self,
        parent: &Map<String, Value>,
        field: &str,
    ) -> Vec<NormalizedRef> {
        let items = match parent.get(field) {
            Some(Value::Array(items)) if !items.is_empty() => items,
            _ => {
                self.add(EXTERNAL_REFERENCES_REQUIRED);
                return Vec::new();
            }
        };
        let mut refs: Vec<NormalizedRef> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{field}[{i}]");
            if let Some(r) = self.external_reference(item, &path) {
                if refs.iter().any(|seen| seen.namespace == r.namespace) {
                    self.add(format!(
                        "{path}.namespace must be unique within the request"
                    ));
                } else {
                    refs.push(r);
                }
            }
        }
        refs
    }

    /// A required base64 file of 1 byte to `max_bytes`; returns the decoded size.
    pub fn file(
        &mut self,
        parent: &Map<String, Value>,
        field: &str,
        path: &str,
        max_bytes: u64,
    ) -> Option<u64> {
        let text = self.string(parent, field, path, Presence::Required, true)?;
        // Check the encoded length first so an oversized file is not decoded.
        let decoded = if text.len() > crate::body::base64_len(max_bytes) {
            None
        } else {
            base64_decoded_len(text)
        };
        self.file_text(path, FileText::new(text.len(), decoded), max_bytes)
    }

    /// The same checks as [`file`](Self::file), for a file the JSON decoder already measured
    /// and did not keep (see [`crate::strict_json::from_slice_documents`]).
    pub fn file_text(&mut self, path: &str, file: FileText, max_bytes: u64) -> Option<u64> {
        if file.text_len > crate::body::base64_len(max_bytes) {
            self.add(format!("{path} must decode to at most {max_bytes} bytes"));
            return None;
        }
        match file.decoded {
            Some(0) => {
                self.add(format!("{path} must decode to at least 1 byte"));
                None
            }
            Some(len) if len > max_bytes => {
                self.add(format!("{path} must decode to at most {max_bytes} bytes"));
                None
            }
            Some(len) => Some(len),
            None => {
                self.add(format!("{path} must be valid standard base64 with padding"));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "student@example.com",
            "x+tag@sub.example.org",
            "!#$%@a.io",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.co",
            "a b@c.io",
            "a@-b.io",
            "a@b..io",
            "a@b.c o",
            "\u{212A}ate@example.com",
            "jos\u{e9}@example.com",
            "a@b\u{e9}.io",
            "a\0@b.io",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn control_characters_are_refused_except_line_breaks_in_text() {
        let body = json!({"name": "Ja\u{0}ne", "note": "line 1\nline 2\t!", "bad": "a\u{7}"});
        let map = body.as_object().unwrap();
        let mut p = Problems::default();
        assert_eq!(
            p.string(map, "name", "name", Presence::Required, true),
            None
        );
        p.optional_text(map, "note", "note");
        p.optional_text(map, "bad", "bad");
        assert_eq!(
            p.into_vec(),
            [
                format!("name {CONTROL_CHARACTERS}"),
                format!("bad {CONTROL_CHARACTERS}")
            ]
        );
    }

    #[test]
    fn every_problem_is_named_with_its_path() {
        let body = json!({
            "externalReferences": [
                {"namespace": "SIS", "externalId": "1"},
                {"namespace": "sis", "externalId": "2"},
                {"namespace": 3, "externalId": "   "}
            ]
        });
        let mut problems = Problems::default();
        let refs =
            problems.external_reference_list(body.as_object().unwrap(), "externalReferences");
        assert_eq!(refs.len(), 1);
        assert_eq!(
            problems.into_vec(),
            [
                "externalReferences[1].namespace must be unique within the request",
                "externalReferences[2].namespace must be a string",
                "externalReferences[2].externalId must not be blank",
            ]
        );
    }

    #[test]
    fn files_must_be_padded_base64_within_limits() {
        let body = json!({"a": "JVBERi0xLjQK", "b": "JVBERi0xLjQ", "c": "AAAA", "d": "AA=="});
        let map = body.as_object().unwrap();
        let mut p = Problems::default();
        assert_eq!(p.file(map, "a", "a", 100), Some(9));
        assert_eq!(p.file(map, "b", "b", 100), None);
        assert_eq!(p.file(map, "c", "c", 2), None);
        assert_eq!(p.file(map, "d", "d", 2), Some(1));
        assert_eq!(
            p.into_vec(),
            [
                "b must be valid standard base64 with padding",
                "c must decode to at most 2 bytes"
            ]
        );
    }

    #[test]
    fn piecewise_base64_lengths_agree_with_a_whole_decode() {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        let whole = |text: &str| engine.decode(text).ok().map(|b| b.len() as u64);
        for len in [0, 1, 2, 3, 3071, 3072, 3073, 6144, 6145, 10_000] {
            let text = engine.encode(vec![0xA5u8; len]);
            assert_eq!(base64_decoded_len(&text), whole(&text), "{len} bytes");
            assert_eq!(base64_decoded_len(&text), Some(len as u64));
        }
        // Padding at a piece boundary, a bad character, a missing pad, non-canonical bits.
        let padded_inside = format!(
            "{}{}",
            engine.encode([1u8; 3070]),
            engine.encode([2u8; 300])
        );
        let bad_character = format!("{}*AAA", engine.encode([1u8; 4500]));
        let unpadded = engine.encode([1u8; 5000]).trim_end_matches('=').to_owned();
        for text in [padded_inside, bad_character, unpadded, "AB==".to_owned()] {
            assert_eq!(
                base64_decoded_len(&text),
                whole(&text),
                "{}",
                &text[text.len() - 8..]
            );
            assert_eq!(base64_decoded_len(&text), None);
        }
    }
}
