//! The lookup of [`REQUEST_BOUNDS`] and the walker that checks a request body against it. The
//! same for every spec, so it is written here once; the generated [`crate::spec`] holds the
//! table and re-exports these.

use crate::spec::{FieldBound, REQUEST_BOUNDS};

/// The bound of the field at `path` (array indices such as `[3]` are read as `[]`).
pub fn request_bound(path: &str) -> Option<&'static FieldBound> {
    let mut normal = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                normal.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => normal.push(c),
        }
    }
    REQUEST_BOUNDS.iter().find(|bound| bound.path == normal)
}

/// One value of a request body over a bound of the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundExcess {
    /// Path of the value, with its real indices (`items[2].filename`).
    pub path: String,
    /// What is wrong, such as `must be at most 255 characters`.
    pub problem: String,
}

impl std::fmt::Display for BoundExcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.path, self.problem)
    }
}

/// Checks `value`, found at `path` of a request body (`""` for the whole body), and everything
/// inside it against [`REQUEST_BOUNDS`](crate::spec::REQUEST_BOUNDS), adding one [`BoundExcess`] per value over a bound.
pub fn check_request_bounds(path: &str, value: &serde_json::Value, excess: &mut Vec<BoundExcess>) {
    let bound = request_bound(path);
    let mut add = |problem: String| {
        excess.push(BoundExcess {
            path: path.to_string(),
            problem,
        })
    };
    match value {
        serde_json::Value::String(text) => {
            if let Some(max) = bound.and_then(|b| b.max_length)
                && text.chars().count() > max
            {
                add(format!("must be at most {max} characters"));
            }
        }
        serde_json::Value::Array(items) => {
            if let Some(max) = bound.and_then(|b| b.max_items)
                && items.len() > max
            {
                add(format!("must have at most {max} items"));
            }
            for (i, item) in items.iter().enumerate() {
                check_request_bounds(&format!("{path}[{i}]"), item, excess);
            }
        }
        serde_json::Value::Object(members) => {
            let map = bound.and_then(|b| b.max_properties);
            if let Some(max) = map
                && members.len() > max
            {
                add(format!("must have at most {max} properties"));
            }
            for (key, member) in members {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match map {
                    // A free-form map: every value has the bound of `path.*`.
                    Some(_) => check_map_value(&child, &format!("{path}.*"), member, excess),
                    None => check_request_bounds(&child, member, excess),
                }
            }
        }
        _ => {}
    }
}

fn check_map_value(
    path: &str,
    pattern: &str,
    value: &serde_json::Value,
    excess: &mut Vec<BoundExcess>,
) {
    if let serde_json::Value::String(text) = value
        && let Some(max) = request_bound(pattern).and_then(|b| b.max_length)
        && text.chars().count() > max
    {
        excess.push(BoundExcess {
            path: path.to_string(),
            problem: format!("must be at most {max} characters"),
        });
    }
}
