//! `cargo xtask public-api [--check]`: the public Rust API of `pearsana` and `pearsana-api`,
//! one item per line, committed under `public-api/` so that every change to a `pub` item is a
//! reviewable diff (the Rust twin of the spec surface snapshot in `tests/`).
//!
//! The listing comes from rustdoc's JSON output, rendered by the `public-api` crate (the
//! library behind `cargo public-api`). rustdoc JSON is still unstable, so it is built on the
//! **stable** toolchain with `RUSTC_BOOTSTRAP=1` (no nightly needed), into its own target
//! directory so the flag does not disturb the normal build. The `public-api` version is
//! pinned to the one that reads the JSON format of the workspace's toolchain
//! ([`FORMAT_VERSION`]); a toolchain with another format fails with a message saying so.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail};

use crate::codegen::Mode;

/// The rustdoc JSON format `public-api` 0.52.1 (rustdoc-types 0.57) reads: that of rustc 1.95.
pub const FORMAT_VERSION: u64 = 57;

/// The crates whose API is snapshotted, with their snapshot files.
pub const CRATES: &[(&str, &str)] = &[
    ("pearsana-api", "public-api/pearsana-api.txt"),
    ("pearsana", "public-api/pearsana.txt"),
];

/// Where the rustdoc JSON is built (below the workspace's `target/`).
const TARGET_DIR: &str = "target/public-api";

/// Writes or checks the snapshots of every crate in [`CRATES`].
pub fn run(mode: Mode) -> Result<()> {
    let root = crate::codegen::workspace_root();
    let mut drifted = Vec::new();
    for (krate, snapshot) in CRATES {
        let json = build_rustdoc_json(&root, krate)?;
        let rendered = render(&json)?;
        let path = root.join(snapshot);
        let committed = match std::fs::read_to_string(&path) {
            Ok(text) => Some(text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(error).with_context(|| format!("reading {snapshot}")),
        };
        if committed.as_deref() == Some(rendered.as_str()) {
            continue;
        }
        match mode {
            Mode::Write => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&path, &rendered).with_context(|| format!("writing {snapshot}"))?;
                println!("wrote {snapshot}");
            }
            Mode::Check => {
                print!(
                    "{}",
                    diff(snapshot, committed.as_deref().unwrap_or(""), &rendered)
                );
                drifted.push(*snapshot);
            }
        }
    }
    if !drifted.is_empty() {
        bail!(
            "the public API changed: {} differ from the crates (see the diff above). If the \
             change is intended, run `cargo xtask public-api` and commit the result",
            drifted.join(", ")
        );
    }
    if mode == Mode::Check {
        println!("public API matches {}", snapshot_list());
    }
    Ok(())
}

fn snapshot_list() -> String {
    CRATES
        .iter()
        .map(|(_, snapshot)| *snapshot)
        .collect::<Vec<_>>()
        .join(" and ")
}

/// Builds the rustdoc JSON of `krate`'s library with default features; returns its path.
fn build_rustdoc_json(root: &Path, krate: &str) -> Result<PathBuf> {
    let target_dir = root.join(TARGET_DIR);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .env("RUSTC_BOOTSTRAP", "1")
        // The JSON lists what is public; warnings are the normal build's business.
        .env_remove("RUSTDOCFLAGS")
        .args([
            "rustdoc",
            "--quiet",
            "--locked",
            "--lib",
            "-p",
            krate,
            "--target-dir",
        ])
        .arg(&target_dir)
        .args(["--", "-Z", "unstable-options", "--output-format", "json"])
        .status()
        .with_context(|| format!("running cargo rustdoc for {krate}"))?;
    if !status.success() {
        bail!("cargo rustdoc -p {krate} (JSON output) failed");
    }
    let json = target_dir
        .join("doc")
        .join(format!("{}.json", krate.replace('-', "_")));
    if !json.is_file() {
        bail!("cargo rustdoc did not write {}", json.display());
    }
    Ok(json)
}

/// Renders one rustdoc JSON file as the snapshot text: one public item per line, sorted,
/// blanket impls (`impl<T> From<T> for T` and the like) left out as noise; auto trait impls
/// (`Send`, `Sync`, …) and derived impls stay, since losing one breaks callers.
fn render(json: &Path) -> Result<String> {
    let format = format_version(json)?;
    if format != FORMAT_VERSION {
        bail!(
            "{} has rustdoc JSON format {format}, but the pinned public-api crate reads format \
             {FORMAT_VERSION} (rustc 1.95). Run with the workspace's stable toolchain, or move \
             the pin in xtask/Cargo.toml and FORMAT_VERSION in xtask/src/public_api.rs together",
            json.display()
        );
    }
    let api = public_api::Builder::from_rustdoc_json(json)
        .omit_blanket_impls(true)
        .build()
        .with_context(|| format!("reading {}", json.display()))?;
    let mut out = String::new();
    for item in api.items() {
        out.push_str(&item.to_string());
        out.push('\n');
    }
    Ok(out)
}

/// The `format_version` of a rustdoc JSON file.
fn format_version(json: &Path) -> Result<u64> {
    let text =
        std::fs::read_to_string(json).with_context(|| format!("reading {}", json.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", json.display()))?;
    value["format_version"]
        .as_u64()
        .with_context(|| format!("{} has no format_version", json.display()))
}

fn diff(path: &str, committed: &str, current: &str) -> String {
    similar::TextDiff::from_lines(committed, current)
        .unified_diff()
        .context_radius(2)
        .header(
            &format!("a/{path} (committed)"),
            &format!("b/{path} (the crate now)"),
        )
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny crate's rustdoc JSON, built the way [`build_rustdoc_json`] builds the real ones.
    fn rustdoc_json(dir: &Path, source: &str) -> PathBuf {
        std::fs::write(dir.join("lib.rs"), source).unwrap();
        let rustdoc = std::env::var_os("RUSTDOC").unwrap_or_else(|| "rustdoc".into());
        let status = Command::new(rustdoc)
            .current_dir(dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .args([
                "--edition",
                "2024",
                "--crate-type",
                "lib",
                "--crate-name",
                "tiny",
                "-Z",
                "unstable-options",
                "--output-format",
                "json",
                "-o",
                "out",
                "lib.rs",
            ])
            .status()
            .unwrap();
        assert!(status.success());
        dir.join("out/tiny.json")
    }

    #[test]
    fn the_pinned_renderer_reads_this_toolchains_json_and_lists_public_items_only() {
        let dir = tempfile::tempdir().unwrap();
        let json = rustdoc_json(
            dir.path(),
            "/// Doc.\npub fn visible(x: u32) -> u32 { x }\nfn hidden() {}\n\
             pub mod inner { pub struct Thing { pub field: u8, secret: u8 } }\n",
        );
        assert_eq!(format_version(&json).unwrap(), FORMAT_VERSION);
        let text = render(&json).unwrap();
        assert!(text.contains("pub fn tiny::visible(u32) -> u32"), "{text}");
        assert!(text.contains("pub struct tiny::inner::Thing"), "{text}");
        assert!(text.contains("pub tiny::inner::Thing::field: u8"), "{text}");
        assert!(
            !text.contains("hidden") && !text.contains("secret"),
            "{text}"
        );
        // Auto traits are part of the contract; blanket impls are left out.
        assert!(
            text.contains("impl core::marker::Send for tiny::inner::Thing"),
            "{text}"
        );
        assert!(!text.contains("impl<T> core::convert::From<T>"), "{text}");
    }

    #[test]
    fn a_changed_item_shows_as_a_diff() {
        let before = "pub fn a::f()\npub fn a::g()\n";
        let after = "pub fn a::f(u8)\npub fn a::g()\n";
        let shown = diff("public-api/a.txt", before, after);
        assert!(
            shown.contains("-pub fn a::f()") && shown.contains("+pub fn a::f(u8)"),
            "{shown}"
        );
        assert!(diff("x", before, before).is_empty());
    }
}
