//! What every generated open enum shares: the opaque [`UnknownValue`] payload and the helpers
//! its generated serde and JSON Schema impls call. Written once here, by hand; the enums
//! themselves come from `cargo xtask codegen` (`xtask/src/open_enums.rs`).

use std::fmt;

/// A value of an open set that this version of the crate does not know, kept exactly as
/// received so that it is sent back unchanged.
///
/// It is opaque on purpose: it cannot be built or matched on by value, only read with
/// [`as_str`](Self::as_str). Code that singles out one unknown value would silently stop
/// matching the day that value gets a variant of its own; match the known variants and end
/// with a wildcard arm instead.
///
/// ```
/// use pearsana_api::types::ErrorCode;
///
/// let code: ErrorCode = "PAYMENT_REQUIRED".parse().unwrap();
/// let handled = match &code {
///     ErrorCode::Conflict => "conflict",
///     ErrorCode::TooManyRequests => "slow down",
///     _ => "other",
/// };
/// assert_eq!(handled, "other");
/// assert_eq!(code.as_str(), "PAYMENT_REQUIRED");
/// assert!(code.is_unknown());
/// assert_eq!(serde_json::to_string(&code).unwrap(), "\"PAYMENT_REQUIRED\"");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnknownValue(Box<str>);

impl UnknownValue {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Self(value.into().into_boxed_str())
    }

    /// The value as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// For open enums written by hand in the crates of this workspace (the SDK's OAuth error
/// kinds): not part of the public API, may change in any release.
#[doc(hidden)]
pub mod __private {
    /// An [`UnknownValue`](super::UnknownValue) for a hand-written open enum.
    pub fn unknown_value(value: impl Into<String>) -> super::UnknownValue {
        super::UnknownValue::new(value)
    }
}

/// Reads a string without copying it when the input lends it.
pub(crate) fn deserialize_str<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<std::borrow::Cow<'de, str>, D::Error> {
    struct Text;
    impl<'de> serde::de::Visitor<'de> for Text {
        type Value = std::borrow::Cow<'de, str>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(std::borrow::Cow::Borrowed(v))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(std::borrow::Cow::Owned(v.to_owned()))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(std::borrow::Cow::Owned(v))
        }
    }
    deserializer.deserialize_str(Text)
}

/// The JSON Schema of an open enum: a string with the known values, as `enum` when the spec
/// lists them as `enum`, as `x-extensible-enum` when the spec says the set is open.
pub(crate) fn string_set_schema(
    known: &[&str],
    extensible: bool,
    description: Option<&str>,
) -> schemars::schema::Schema {
    use schemars::schema::{InstanceType, Metadata, SchemaObject};
    let values: Vec<serde_json::Value> = known.iter().map(|v| (*v).into()).collect();
    let mut schema = SchemaObject {
        instance_type: Some(InstanceType::String.into()),
        metadata: description.map(|text| {
            Box::new(Metadata {
                description: Some(text.to_owned()),
                ..Default::default()
            })
        }),
        ..Default::default()
    };
    if extensible {
        schema
            .extensions
            .insert("x-extensible-enum".to_owned(), values.into());
    } else {
        schema.enum_values = Some(values);
    }
    schema.into()
}
