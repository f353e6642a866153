//! Printing results as aligned text (people) or JSON lines (programs).

use std::io::IsTerminal;

use serde_json::Value;

use crate::cli::OutputFormat;

/// Where command results go: stdout, in the chosen format.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    format: OutputFormat,
}

impl Printer {
    /// Uses `choice`, else a table on a terminal and JSON otherwise.
    pub fn new(choice: Option<OutputFormat>) -> Self {
        let format = choice.unwrap_or(if std::io::stdout().is_terminal() {
            OutputFormat::Table
        } else {
            OutputFormat::Json
        });
        Self { format }
    }

    /// Whether output is JSON.
    pub fn is_json(&self) -> bool {
        self.format == OutputFormat::Json
    }

    /// Prints one result: a JSON line, or `key  value` lines with nested keys dotted.
    pub fn show(&self, value: &Value) {
        outln!("{}", self.render(value));
    }

    /// What [`Printer::show`] prints.
    pub fn render(&self, value: &Value) -> String {
        match self.format {
            OutputFormat::Json => value.to_string(),
            OutputFormat::Table => render_table(value),
        }
    }
}

/// Renders a JSON value as aligned `key  value` lines.
pub fn render_table(value: &Value) -> String {
    let mut rows = Vec::new();
    flatten("", value, &mut rows);
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| {
            if k.is_empty() {
                v.clone()
            } else {
                format!("{k:<width$}  {v}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn flatten(prefix: &str, value: &Value, rows: &mut Vec<(String, String)>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                flatten(&join(key), value, rows);
            }
        }
        Value::Array(items) if items.iter().all(|v| !v.is_object() && !v.is_array()) => {
            let text: Vec<String> = items.iter().map(scalar).collect();
            rows.push((prefix.to_string(), text.join(", ")));
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&join(&format!("[{i}]")), item, rows);
            }
        }
        other => rows.push((prefix.to_string(), scalar(other))),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tables_align_and_flatten_nested_values() {
        let value = json!({"clientId": "c", "scopes": ["a", "b"], "version": {"latest": "2026-01-30"}, "x": null});
        assert_eq!(
            render_table(&value),
            "clientId        c\nscopes          a, b\nversion.latest  2026-01-30\nx               -"
        );
    }

    #[test]
    fn json_is_one_line() {
        let printer = Printer::new(Some(OutputFormat::Json));
        assert_eq!(printer.render(&json!({"a": [1, 2]})), r#"{"a":[1,2]}"#);
    }
}
