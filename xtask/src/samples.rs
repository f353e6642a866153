//! The spec's `x-codeSamples`, generated from `openapi/code-samples/`.
//!
//! Each operation gets three samples: Rust (the `pearsana` SDK; the region of `rust.rs` between
//! `// sample: <operationId>` and `// end sample`), curl (`curl/<operationId>.sh`) and the
//! `pearsana` CLI (`cli/<operationId>.sh`). `crates/pearsana-cli/tests/code_samples.rs` compiles
//! and runs all of them against a sandbox; this module writes them into the spec, replacing the
//! operation's `x-codeSamples` block (or adding one before `responses:`), so the samples a
//! reader sees are the ones the tests ran.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};

/// Where the sample sources live, relative to the workspace root.
pub const SAMPLES_DIR: &str = "openapi/code-samples";

/// Indentation of an operation's keys in the spec (`paths` → path → method → key).
const OPERATION_KEY_INDENT: usize = 6;

/// The spec's text with every operation's `x-codeSamples` regenerated.
pub fn inject(root: &Path, spec: &str) -> Result<String> {
    let dir = root.join(SAMPLES_DIR);
    let rust = std::fs::read_to_string(dir.join("rust.rs"))
        .with_context(|| format!("reading {SAMPLES_DIR}/rust.rs"))?;
    let mut rust_samples = rust_regions(&rust)?;
    let lines: Vec<&str> = spec.lines().collect();
    let key = |line: &str| -> Option<String> {
        let indent = line.len() - line.trim_start().len();
        (indent == OPERATION_KEY_INDENT && !line.trim_start().starts_with('-'))
            .then(|| line.trim().split(':').next().unwrap_or("").to_string())
    };
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut seen = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let Some(id) = line
            .strip_prefix(&" ".repeat(OPERATION_KEY_INDENT))
            .and_then(|rest| rest.strip_prefix("operationId: "))
        else {
            out.push(line.to_string());
            i += 1;
            continue;
        };
        let id = id.trim().to_string();
        // The operation runs until a line indented less than its keys.
        let end = (i + 1..lines.len())
            .find(|&j| {
                let l = lines[j];
                !l.trim().is_empty() && l.len() - l.trim_start().len() < OPERATION_KEY_INDENT
            })
            .unwrap_or(lines.len());
        let rust = rust_samples
            .remove(&id)
            .with_context(|| format!("{SAMPLES_DIR}/rust.rs has no `// sample: {id}`"))?;
        let curl = read_sample(&dir, "curl", &id)?;
        let cli = read_sample(&dir, "cli", &id)?;
        let block = render_block(&[
            ("Rust", "Rust (pearsana SDK)", &rust),
            ("Shell", "curl", &curl),
            ("Shell", "pearsana CLI", &cli),
        ]);
        // Copy the operation without its old block, then put the new one before `responses:`.
        let mut body: Vec<String> = Vec::new();
        let mut j = i;
        while j < end {
            if key(lines[j]).as_deref() == Some("x-codeSamples") {
                j += 1;
                while j < end
                    && (lines[j].trim().is_empty()
                        || lines[j].len() - lines[j].trim_start().len() > OPERATION_KEY_INDENT)
                {
                    j += 1;
                }
                continue;
            }
            body.push(lines[j].to_string());
            j += 1;
        }
        let at = body
            .iter()
            .position(|l| key(l).as_deref() == Some("responses"))
            .with_context(|| format!("operation {id} has no responses"))?;
        body.splice(at..at, block);
        out.extend(body);
        seen.push(id);
        i = end;
    }
    if let Some(orphan) = rust_samples.keys().next() {
        bail!("{SAMPLES_DIR}/rust.rs has a sample for {orphan}, which is not an operation");
    }
    for kind in ["curl", "cli"] {
        for entry in std::fs::read_dir(dir.join(kind))? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let id = name.trim_end_matches(".sh");
            if !seen.iter().any(|s| s == id) {
                bail!("{SAMPLES_DIR}/{kind}/{name} is not the sample of an operation");
            }
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    Ok(text)
}

fn read_sample(dir: &Path, kind: &str, id: &str) -> Result<String> {
    let path = dir.join(kind).join(format!("{id}.sh"));
    std::fs::read_to_string(&path).with_context(|| {
        format!("reading {SAMPLES_DIR}/{kind}/{id}.sh (every operation needs one)")
    })
}

/// `operationId` → the dedented lines between its markers.
fn rust_regions(source: &str) -> Result<BTreeMap<String, String>> {
    let mut regions = BTreeMap::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for (number, line) in source.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(id) = trimmed.strip_prefix("// sample: ") {
            if current.is_some() {
                bail!("rust.rs:{}: a sample starts inside another", number + 1);
            }
            current = Some((id.trim().to_string(), Vec::new()));
        } else if trimmed == "// end sample" {
            let Some((id, lines)) = current.take() else {
                bail!("rust.rs:{}: `// end sample` without a start", number + 1);
            };
            let indent = lines
                .iter()
                .filter(|l| !l.trim().is_empty())
                .map(|l| l.len() - l.trim_start().len())
                .min()
                .unwrap_or(0);
            let text: Vec<&str> = lines
                .iter()
                .map(|l| if l.len() >= indent { &l[indent..] } else { "" })
                .collect();
            if regions.insert(id.clone(), text.join("\n")).is_some() {
                bail!("rust.rs has two samples for {id}");
            }
        } else if let Some((_, lines)) = current.as_mut() {
            lines.push(line);
        }
    }
    if let Some((id, _)) = current {
        bail!("rust.rs: the sample of {id} has no `// end sample`");
    }
    Ok(regions)
}

/// The YAML lines of an `x-codeSamples` block at operation-key indentation.
fn render_block(samples: &[(&str, &str, &str)]) -> Vec<String> {
    let key = " ".repeat(OPERATION_KEY_INDENT);
    let mut out = vec![format!("{key}x-codeSamples:")];
    for (lang, label, source) in samples {
        out.push(format!("{key}  - lang: {lang}"));
        out.push(format!("{key}    label: {label}"));
        out.push(format!("{key}    source: |"));
        for line in source.trim_end().lines() {
            if line.trim().is_empty() {
                out.push(String::new());
            } else {
                out.push(format!("{key}      {line}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_regions_are_dedented_and_must_be_closed() {
        let regions = rust_regions(
            "fn a() {\n    // sample: getX\n    let x = 1;\n        nested();\n    // end sample\n}\n",
        )
        .unwrap();
        assert_eq!(regions["getX"], "let x = 1;\n    nested();");
        assert!(rust_regions("// sample: a\nx\n").is_err());
        assert!(rust_regions("// end sample\n").is_err());
    }

    #[test]
    fn a_block_is_yaml_that_keeps_the_source() {
        let block = render_block(&[("Shell", "curl", "curl -fsS \"$URL\" \\\n  -H 'A: b'\n")]);
        let yaml = format!("op:\n{}\n", block.join("\n"));
        let value: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(
            value["op"]["x-codeSamples"][0]["source"].as_str().unwrap(),
            "curl -fsS \"$URL\" \\\n  -H 'A: b'\n"
        );
    }
}
