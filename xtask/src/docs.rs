//! `cargo xtask docs`: the rendered API reference the sandbox serves at `/docs`.
//!
//! Redoc 2 (the `redoc` package's standalone bundle, pinned in `.ci/tools/package.json`)
//! renders the spec in the browser from one self-contained HTML file: the bundle and the spec
//! are inlined, and the one image the bundle loads from a CDN (Redocly's attribution logo) is
//! replaced by an inline one, so viewing the page fetches nothing. (Redocly CLI 2.77's
//! `build-docs` bundles Redoc 3, which routes by URL path and, served under `/docs` without
//! network, stays on "Loading...": no operation renders.) The file is committed in the sandbox crate (which `include_str!`s it)
//! with the spec's sha256 in a `<meta>` tag: `cargo xtask codegen --check` compares that stamp
//! with the spec without needing Node, and `cargo xtask docs --check` rebuilds the page and
//! compares it byte for byte (Redocly's output is deterministic).

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, Result, bail};
use sha2::{Digest as _, Sha256};

use crate::codegen::{Mode, SPEC_PATH, workspace_root};

/// The rendered reference, relative to the workspace root.
pub const DOCS_PATH: &str = "crates/pearsana-sandbox/assets/api-reference.html";
/// The `<meta>` tag that carries the spec's hash.
const STAMP_NAME: &str = "pearsana-spec-sha256";

/// Builds the page and writes it, or (`Mode::Check`) fails if the committed one differs.
pub fn run(mode: Mode) -> Result<()> {
    run_in(&workspace_root(), mode)
}

/// [`run`] for the tree at `root`.
pub fn run_in(root: &Path, mode: Mode) -> Result<()> {
    let built = build(root)?;
    let path = root.join(DOCS_PATH);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == built {
        println!("{DOCS_PATH} matches {SPEC_PATH}");
        return Ok(());
    }
    match mode {
        Mode::Write => {
            std::fs::create_dir_all(path.parent().expect("has a parent"))?;
            std::fs::write(&path, built).with_context(|| format!("writing {DOCS_PATH}"))?;
            println!("wrote {DOCS_PATH}");
            Ok(())
        }
        Mode::Check => bail!("{DOCS_PATH} is out of date: run `cargo xtask docs` and commit it"),
    }
}

/// The spec's hash as the stamp records it.
pub fn spec_digest(root: &Path) -> Result<String> {
    let spec =
        std::fs::read(root.join(SPEC_PATH)).with_context(|| format!("reading {SPEC_PATH}"))?;
    Ok(Sha256::digest(&spec)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Whether the committed page was built from the spec as it is now (cheap: no Node needed).
pub fn check_stamp(root: &Path) -> Result<()> {
    let page = std::fs::read_to_string(root.join(DOCS_PATH))
        .with_context(|| format!("reading {DOCS_PATH}: run `cargo xtask docs`"))?;
    let expected = stamp(&spec_digest(root)?);
    if !page.contains(&expected) {
        bail!(
            "{DOCS_PATH} was built from another version of {SPEC_PATH}: run `cargo xtask docs` and commit it"
        );
    }
    Ok(())
}

fn stamp(digest: &str) -> String {
    format!("<meta name=\"{STAMP_NAME}\" content=\"{digest}\">")
}

/// The Redoc bundle, relative to `.ci/tools`.
const REDOC_BUNDLE: &str = "node_modules/redoc/bundles/redoc.standalone.js";
/// The one URL in the bundle that a page fetches from outside: the attribution logo.
const REDOC_LOGO_URL: &str = "https://cdn.redoc.ly/redoc/logo-mini.svg";
/// What the logo becomes: the same attribution as an inline image.
const INLINE_LOGO: &str = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' \
     width='60' height='14'%3E%3Ctext x='0' y='11' font-family='sans-serif' font-size='11' \
     fill='%230044d4'%3ERedocly%3C/text%3E%3C/svg%3E";

/// Renders the page: the spec (as JSON) and the Redoc bundle inlined into one HTML file.
fn build(root: &Path) -> Result<String> {
    let tools = root.join(".ci/tools");
    let bundle = tools.join(REDOC_BUNDLE);
    if !bundle.exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&tools)
            .status()
            .context("running npm ci in .ci/tools (is Node.js installed?)")?;
        if !status.success() {
            bail!("npm ci in .ci/tools failed");
        }
    }
    let script = std::fs::read_to_string(&bundle)
        .with_context(|| format!("reading .ci/tools/{REDOC_BUNDLE}"))?;
    if script.matches(REDOC_LOGO_URL).count() != 1 || script.contains("</script") {
        bail!(
            "the Redoc bundle changed: check which URLs it fetches before inlining it \
             (expected {REDOC_LOGO_URL} once and no </script)"
        );
    }
    let script = script.replace(REDOC_LOGO_URL, INLINE_LOGO);
    let source = std::fs::read_to_string(root.join(SPEC_PATH))
        .with_context(|| format!("reading {SPEC_PATH}"))?;
    let spec: serde_json::Value = serde_yaml::from_str(&source).context("parsing the spec")?;
    // `<\/` keeps a `</script>` inside a description from ending the script element.
    let spec = serde_json::to_string(&spec)?.replace("</", "<\\/");
    Ok(format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  {stamp}
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Pearsana Partner API reference</title>
  <style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
  <div id="redoc"></div>
  <script>
{script}
  </script>
  <script>
    Redoc.init({spec}, {{"expandResponses": "200,201", "hideDownloadButton": true, "jsonSampleExpandLevel": 3}}, document.getElementById("redoc"));
  </script>
</body>
</html>
"#,
        stamp = stamp(&spec_digest(root)?),
    ))
}
