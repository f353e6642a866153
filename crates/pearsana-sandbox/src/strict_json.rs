//! JSON decoding that refuses duplicate keys.
//!
//! `serde_json::Value` keeps the last of two equal keys, so `{"email":"a@x.io","email":"b@x.io"}`
//! would silently mean `b@x.io`. The contract refuses such bodies (see `x-pearsana-assumption`
//! on the request schemas); this decoder builds the same `Value` while rejecting them.
//!
//! Document bodies ([`from_slice_documents`]) are decoded without copying their files: a
//! document's base64 `file` is measured where it lies in the request body (its length and
//! decoded size, checked piece by piece) and replaced in the `Value` by a short stand-in, so a
//! 333 MiB batch is held once (the raw body), not twice.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::validate::{FileText, base64_decoded_len, has_control};

/// Decodes a body, naming the problem (with line and column) when it is not acceptable.
pub fn from_slice(bytes: &[u8]) -> Result<Value, String> {
    decode(bytes, StrictValue::plain())
}

/// Where the documents of a body are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentLayout {
    /// One document: the body's own `file`.
    Single,
    /// A batch: the `file` of each object in the body's `items`.
    Batch,
}

/// Files at least this long are measured in place instead of copied.
const MEASURE_FROM: usize = 1024;
/// What a measured `file` becomes in the decoded value.
pub const FILE_STAND_IN: &str = "AA==";

/// The files [`from_slice_documents`] measured: index 0 for a single document, the item's
/// index for a batch; `None` where the file was kept in the value (short, or not a string).
pub type MeasuredFiles = Vec<Option<FileText>>;

/// Like [`from_slice`], but every long document `file` (per `layout`) is measured instead of
/// copied: the value holds [`FILE_STAND_IN`] there, and the measurement is returned.
pub fn from_slice_documents(
    bytes: &[u8],
    layout: DocumentLayout,
) -> Result<(Value, MeasuredFiles), String> {
    let files = RefCell::new(Vec::new());
    let value = decode(
        bytes,
        StrictValue {
            files: Some(&files),
            at: At::Root(layout),
        },
    )?;
    Ok((value, files.into_inner()))
}

fn decode(bytes: &[u8], seed: StrictValue<'_>) -> Result<Value, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = seed
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    value.map_err(|e| {
        let (line, column) = (e.line(), e.column());
        if e.is_data() {
            // Our own message (the duplicate key); serde_json appends the position.
            let text = e.to_string();
            let what = text.split(" at line ").next().unwrap_or(&text).to_string();
            format!("body {what} (line {line}, column {column})")
        } else {
            format!("body is not valid JSON (line {line}, column {column})")
        }
    })
}

/// Where in a document body a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Root(DocumentLayout),
    Items,
    Item(usize),
    Elsewhere,
}

#[derive(Clone, Copy)]
struct StrictValue<'a> {
    files: Option<&'a RefCell<MeasuredFiles>>,
    at: At,
}

impl<'a> StrictValue<'a> {
    fn plain() -> Self {
        Self {
            files: None,
            at: At::Elsewhere,
        }
    }

    fn at(self, at: At) -> Self {
        Self { at, ..self }
    }

    /// The index of the document whose `file` the value of `key` is, if it is one.
    fn file_index(self, key: &str) -> Option<usize> {
        self.files?;
        match (self.at, key) {
            (At::Root(DocumentLayout::Single), "file") => Some(0),
            (At::Item(index), "file") => Some(index),
            _ => None,
        }
    }

    fn child(self, key: &str) -> Self {
        match (self.at, key) {
            (At::Root(DocumentLayout::Batch), "items") => self.at(At::Items),
            _ => self.at(At::Elsewhere),
        }
    }
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        loop {
            let at = if self.at == At::Items {
                At::Item(items.len())
            } else {
                At::Elsewhere
            };
            match seq.next_element_seed(self.at(at))? {
                Some(item) => items.push(item),
                None => break,
            }
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "has the key `{}` twice in one object",
                    key.escape_debug()
                )));
            }
            let value = match (self.file_index(&key), self.files) {
                (Some(index), Some(files)) => map.next_value_seed(FileSeed { files, index })?,
                _ => map.next_value_seed(self.child(&key))?,
            };
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// The value of a document's `file`: a long string is measured, not kept.
struct FileSeed<'a> {
    files: &'a RefCell<MeasuredFiles>,
    index: usize,
}

impl FileSeed<'_> {
    /// Measures `text` if it is a long plain string (one the string checks would accept).
    fn measure(&self, text: &str) -> bool {
        if text.len() < MEASURE_FROM || has_control(text, false) {
            return false;
        }
        let measured = FileText::new(text.len(), base64_decoded_len(text));
        let mut files = self.files.borrow_mut();
        if files.len() <= self.index {
            files.resize(self.index + 1, None);
        }
        files[self.index] = Some(measured);
        true
    }
}

impl<'de> DeserializeSeed<'de> for FileSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        if self.measure(v) {
            Ok(Value::String(FILE_STAND_IN.to_owned()))
        } else {
            Ok(Value::String(v.to_owned()))
        }
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        if self.measure(&v) {
            Ok(Value::String(FILE_STAND_IN.to_owned()))
        } else {
            Ok(Value::String(v))
        }
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        StrictValue::plain().visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        StrictValue::plain().visit_map(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        let err = from_slice(br#"{"a":1,"b":{"c":1,"c":2}}"#).unwrap_err();
        assert!(err.starts_with("body has the key `c` twice"), "{err}");
        assert!(err.contains("line 1"), "{err}");
        let err = from_slice(br#"[{"x":1},{"x":1,"x":1}]"#).unwrap_err();
        assert!(err.contains("`x` twice"), "{err}");
    }

    #[test]
    fn document_files_are_measured_not_copied_and_everything_else_is_kept() {
        use base64::Engine as _;
        let long = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 3000]);
        let body = format!(
            r#"{{"items":[{{"itemId":"a","file":"{long}","metadata":{{"file":"{long}"}}}},{{"itemId":"b","file":"aGk="}},{{"itemId":"c","file":"{long}!!!!"}}]}}"#
        );
        let (value, files) = from_slice_documents(body.as_bytes(), DocumentLayout::Batch).unwrap();
        assert_eq!(value["items"][0]["file"], FILE_STAND_IN);
        assert_eq!(
            value["items"][0]["metadata"]["file"],
            long.as_str(),
            "only documents' files"
        );
        assert_eq!(value["items"][1]["file"], "aGk=", "short files are kept");
        assert_eq!(files[0], Some(FileText::new(long.len(), Some(3000))));
        assert_eq!(files[1], None);
        assert_eq!(
            files[2],
            Some(FileText::new(long.len() + 4, None)),
            "invalid base64"
        );
        let single = format!(r#"{{"file":"{long}","items":[{{"file":"{long}"}}]}}"#);
        let (value, files) =
            from_slice_documents(single.as_bytes(), DocumentLayout::Single).unwrap();
        assert_eq!(value["file"], FILE_STAND_IN);
        assert_eq!(value["items"][0]["file"], long.as_str());
        assert_eq!(files.len(), 1);
        let err = from_slice_documents(br#"{"file":"x","file":"y"}"#, DocumentLayout::Single);
        assert!(err.unwrap_err().contains("`file` twice"));
    }

    #[test]
    fn everything_else_decodes_like_serde_json() {
        let text = br#"{"a":[1,-2,3.5,true,null,"s"],"b":{"c":{}},"d":18446744073709551615}"#;
        let strict = from_slice(text).unwrap();
        let lenient: Value = serde_json::from_slice(text).unwrap();
        assert_eq!(strict, lenient);
        assert_eq!(
            from_slice(b"{} x").unwrap_err(),
            "body is not valid JSON (line 1, column 4)"
        );
        assert!(
            from_slice(b"{\"a\":")
                .unwrap_err()
                .starts_with("body is not valid")
        );
    }
}
