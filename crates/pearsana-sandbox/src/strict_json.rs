//! JSON decoding that refuses duplicate keys.
//!
//! `serde_json::Value` keeps the last of two equal keys, so `{"email":"a@x.io","email":"b@x.io"}`
//! would silently mean `b@x.io`. The contract refuses such bodies (see `x-pearsana-assumption`
//! on the request schemas); this decoder builds the same `Value` while rejecting them.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Decodes a body, naming the problem (with line and column) when it is not acceptable.
pub fn from_slice(bytes: &[u8]) -> Result<Value, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue
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

struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
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
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
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
            let value = map.next_value_seed(StrictValue)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
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
