//! Scenario 6: what code generation costs, and what compiling the generated crate adds on top
//! of compiling its dependencies.
//!
//! The generated crate is copied, unchanged, into a scratch workspace next to an "empty twin":
//! a crate with the very same `[dependencies]` and an empty `lib.rs`. Both use the workspace's
//! `Cargo.lock`, so they compile identical dependency trees; the difference between them is the
//! cost of the generated code alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::report::{Section, Table};
use crate::stats::median;
use crate::{Bench, rss};

const GENERATED: &str = "pearsana-api";
const TWIN: &str = "empty-twin";

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs a command to completion and returns its wall time, failing with its stderr.
fn timed(mut command: Command, what: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let output = command
        .output()
        .with_context(|| format!("starting {what}"))?;
    let elapsed = started.elapsed();
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n{}",
            output.status,
            rss::tail(&String::from_utf8_lossy(&output.stderr), 30)
        );
    }
    Ok(elapsed)
}

/// Writes the scratch workspace: a copy of the generated crate and its empty twin.
fn prepare_workspace(workspace: &Path, scratch: &Path) -> anyhow::Result<()> {
    let root: toml::Table = std::fs::read_to_string(workspace.join("Cargo.toml"))?.parse()?;
    let root_workspace = root
        .get("workspace")
        .and_then(|w| w.as_table())
        .context("no [workspace]")?;
    let mut dependencies = root_workspace
        .get("dependencies")
        .and_then(|d| d.as_table())
        .cloned()
        .unwrap_or_default();
    // Path dependencies of the real workspace mean nothing here.
    dependencies.retain(|_, spec| spec.get("path").is_none());
    let mut scratch_workspace = toml::Table::new();
    scratch_workspace.insert("resolver".into(), "3".into());
    scratch_workspace.insert(
        "members".into(),
        toml::Value::Array(vec![GENERATED.into(), TWIN.into()]),
    );
    // Member manifests inherit these (`[lints] workspace = true`, `version.workspace = true`).
    for inherited in ["package", "lints"] {
        if let Some(table) = root_workspace.get(inherited) {
            scratch_workspace.insert(inherited.into(), table.clone());
        }
    }
    scratch_workspace.insert("dependencies".into(), toml::Value::Table(dependencies));
    let mut manifest = toml::Table::new();
    manifest.insert("workspace".into(), toml::Value::Table(scratch_workspace));
    std::fs::create_dir_all(scratch)?;
    write_if_changed(&scratch.join("Cargo.toml"), &toml::to_string(&manifest)?)?;
    // Always the workspace's current lock file, so both crates build exactly the versions
    // the workspace uses (cargo then drops the entries they do not need).
    let lock = std::fs::read_to_string(workspace.join("Cargo.lock"))?;
    std::fs::write(scratch.join("Cargo.lock"), lock)?;

    let source = workspace.join("crates").join(GENERATED);
    let generated_manifest = std::fs::read_to_string(source.join("Cargo.toml"))?;
    let generated_dir = scratch.join(GENERATED);
    std::fs::create_dir_all(generated_dir.join("src"))?;
    write_if_changed(&generated_dir.join("Cargo.toml"), &generated_manifest)?;
    for entry in std::fs::read_dir(source.join("src"))? {
        let entry = entry?;
        let contents = std::fs::read_to_string(entry.path())?;
        write_if_changed(
            &generated_dir.join("src").join(entry.file_name()),
            &contents,
        )?;
    }

    let mut twin: toml::Table = generated_manifest.parse()?;
    let package = twin
        .get_mut("package")
        .and_then(|p| p.as_table_mut())
        .context("no [package]")?;
    package.insert("name".into(), TWIN.into());
    package.insert(
        "description".into(),
        "The generated client's dependencies with no code of its own.".into(),
    );
    twin.remove("lib");
    let twin_dir = scratch.join(TWIN);
    std::fs::create_dir_all(twin_dir.join("src"))?;
    write_if_changed(&twin_dir.join("Cargo.toml"), &toml::to_string(&twin)?)?;
    write_if_changed(
        &twin_dir.join("src/lib.rs"),
        "//! Same dependencies as the generated client, no code.\n",
    )?;
    Ok(())
}

fn write_if_changed(path: &Path, contents: &str) -> anyhow::Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() != Some(contents) {
        std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `cargo <mode> -p <package>` in the scratch workspace.
fn cargo_build(scratch: &Path, mode: &str, package: &str) -> Command {
    let mut command = Command::new(cargo());
    command
        .args([mode, "--offline", "--quiet", "-p", package])
        .current_dir(scratch)
        .env("CARGO_TARGET_DIR", target_dir(scratch, mode, package))
        .env_remove("RUSTFLAGS")
        .env("CARGO_TERM_COLOR", "never");
    command
}

/// Full runs build each crate in its own target directory (so that a clean build of one is
/// really clean); smoke runs `cargo check` both in one shared directory (dependencies are the
/// same, so they are checked once).
fn target_dir(scratch: &Path, mode: &str, package: &str) -> PathBuf {
    match mode {
        "check" => scratch.join("target").join("shared-check"),
        _ => scratch.join("target").join(package),
    }
}

/// Marks a crate's `lib.rs` as modified so that only that crate is compiled again.
fn touch(scratch: &Path, package: &str) -> anyhow::Result<()> {
    let lib = scratch.join(package).join("src/lib.rs");
    let file = std::fs::File::options().append(true).open(&lib)?;
    file.set_modified(std::time::SystemTime::now())?;
    Ok(())
}

fn secs(values: &[f64]) -> String {
    format!("{:.2} s", median(values))
}

/// The cargo command this run times: smoke runs `cargo check` (quick to prepare), full runs
/// time real `cargo build`s.
fn mode(bench: &Bench) -> &'static str {
    if bench.sizes.smoke { "check" } else { "build" }
}

/// Writes the scratch workspace and, for smoke runs, compiles the dependencies (untimed), so
/// that `cargo xtask bench --smoke` can count that as part of its build step.
pub fn prepare(bench: &Bench) -> anyhow::Result<()> {
    let scratch = bench.scratch.join("build-cost");
    prepare_workspace(&bench.workspace, &scratch)?;
    if bench.sizes.smoke {
        for package in [GENERATED, TWIN] {
            timed(
                cargo_build(&scratch, mode(bench), package),
                "dependency build",
            )?;
        }
    }
    Ok(())
}

/// Runs the scenario.
pub fn run(bench: &Bench) -> anyhow::Result<Section> {
    let sizes = &bench.sizes;
    let scratch = bench.scratch.join("build-cost");

    let mut codegen = Vec::new();
    for _ in 0..sizes.codegen_rounds {
        let mut command = Command::new(cargo());
        command
            .args(["xtask", "codegen", "--check"])
            .current_dir(&bench.workspace);
        codegen.push(timed(command, "cargo xtask codegen --check")?.as_secs_f64());
    }

    prepare_workspace(&bench.workspace, &scratch)?;
    let mode = mode(bench);
    let mut clean = [Vec::new(), Vec::new()];
    let mut crate_only = [Vec::new(), Vec::new()];
    let packages = [GENERATED, TWIN];
    for _ in 0..sizes.clean_build_rounds {
        for (i, package) in packages.iter().enumerate() {
            let target = target_dir(&scratch, mode, package);
            if target.exists() {
                std::fs::remove_dir_all(&target)?;
            }
            let elapsed = timed(cargo_build(&scratch, mode, package), "clean build")?;
            clean[i].push(elapsed.as_secs_f64());
        }
    }
    for package in packages {
        // Untimed: make sure the dependencies are compiled before timing the crate alone.
        timed(cargo_build(&scratch, mode, package), "dependency build")?;
    }
    for _ in 0..sizes.crate_only_rounds {
        for (i, package) in packages.iter().enumerate() {
            touch(&scratch, package)?;
            crate_only[i]
                .push(timed(cargo_build(&scratch, mode, package), "rebuild")?.as_secs_f64());
        }
    }

    let generated_lines = std::fs::read_to_string(
        bench
            .workspace
            .join("crates")
            .join(GENERATED)
            .join("src/generated.rs"),
    )
    .map_or(0, |s| s.lines().count());

    let mut table = Table::new(&["measurement", "generated crate", "empty twin", "difference"]);
    table.row(vec![
        format!(
            "`cargo xtask codegen --check` wall time (median of {})",
            codegen.len()
        ),
        secs(&codegen),
        "–".into(),
        "–".into(),
    ]);
    if !clean[0].is_empty() {
        table.row(vec![
            format!(
                "clean `cargo {mode}`, dependencies included (median of {})",
                clean[0].len()
            ),
            secs(&clean[0]),
            secs(&clean[1]),
            format!("{:+.2} s", median(&clean[0]) - median(&clean[1])),
        ]);
    }
    table.row(vec![
        format!(
            "`cargo {mode}` of the crate alone (median of {})",
            crate_only[0].len()
        ),
        secs(&crate_only[0]),
        secs(&crate_only[1]),
        format!("{:+.2} s", median(&crate_only[0]) - median(&crate_only[1])),
    ]);

    let mut section = Section {
        title: "6. Code generation and build cost".into(),
        method: format!(
            "`cargo xtask codegen --check` generates everything from the spec in memory and \
             compares it with the committed files (the same work as `cargo xtask codegen` \
             without writing). The generated crate (`generated.rs`: {generated_lines} lines) \
             is copied unchanged into a scratch workspace beside an empty crate with the same \
             dependencies and the same `Cargo.lock`; each is built with its own target \
             directory (dev profile, `--offline`). \"Crate alone\" rebuilds only that crate \
             after touching its `lib.rs`."
        ),
        table,
        ..Default::default()
    };
    section.notes.push(
        "Issue 6 sets no numeric target here; the numbers are the cost the generated code adds \
         for a partner who depends on the client."
            .into(),
    );
    Ok(section)
}
