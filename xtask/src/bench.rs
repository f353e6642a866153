//! `cargo xtask bench [--smoke]`: builds the release binaries the benchmarks need, makes sure
//! Prism is installed, runs every scenario of issue 6 and writes the report.
//!
//! The scenarios themselves live in `crates/pearsana-bench`; this task only prepares and
//! launches them, so that one command reproduces `BENCHMARKS.md` from a clean clone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// Full benchmark or tiny smoke run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every scenario at the sizes of issue 6; writes `BENCHMARKS.md`.
    Full,
    /// Every scenario at a tiny size; writes `target/bench-smoke.md` and leaves
    /// `BENCHMARKS.md` alone.
    Smoke,
}

/// Where Prism's launcher lives once `npm ci` has run in `.ci/tools`.
const PRISM: &str = ".ci/tools/node_modules/.bin/prism";

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn check(command: &mut Command, what: &str) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// Installs the pinned CI tools (Prism among them) if Prism is missing.
fn ensure_prism(root: &Path) -> Result<PathBuf> {
    let prism = root.join(PRISM);
    if !prism.exists() {
        eprintln!("installing Prism: npm ci in .ci/tools");
        check(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(root.join(".ci/tools")),
            "npm ci in .ci/tools",
        )?;
    }
    if !prism.exists() {
        bail!("{PRISM} is still missing after npm ci");
    }
    Ok(prism)
}

/// Runs the benchmarks.
pub fn run(mode: Mode) -> Result<()> {
    let root = crate::codegen::workspace_root();
    let started = Instant::now();
    check(
        Command::new(cargo())
            .args([
                "build",
                "--release",
                "-p",
                "pearsana-bench",
                "-p",
                "pearsana-cli",
            ])
            .current_dir(&root),
        "cargo build --release",
    )?;
    let prism = ensure_prism(&root)?;
    let release = target_dir(&root).join("release");
    // Compiles what scenario 6 builds on (untimed), so the scenarios start from a warm state.
    let mut prepare = Command::new(release.join("pearsana-bench"));
    prepare.arg("prepare").arg("--workspace").arg(&root);
    if mode == Mode::Smoke {
        prepare.arg("--smoke");
    }
    check(&mut prepare, "pearsana-bench prepare")?;
    let built = started.elapsed();

    let (report, command) = match mode {
        Mode::Full => (root.join("BENCHMARKS.md"), "cargo xtask bench"),
        Mode::Smoke => (
            target_dir(&root).join("bench-smoke.md"),
            "cargo xtask bench --smoke",
        ),
    };
    let mut bench = Command::new(release.join("pearsana-bench"));
    bench
        .arg("run")
        .arg("--workspace")
        .arg(&root)
        .arg("--cli")
        .arg(release.join("pearsana"))
        .arg("--prism")
        .arg(&prism)
        .arg("--report")
        .arg(&report)
        .args(["--command", command])
        .current_dir(&root);
    if mode == Mode::Smoke {
        bench.arg("--smoke");
    }
    let scenarios_started = Instant::now();
    check(&mut bench, "pearsana-bench")?;
    eprintln!(
        "benchmarks: build and tools {:.1} s, scenarios {:.1} s; report written to {}",
        built.as_secs_f64(),
        scenarios_started.elapsed().as_secs_f64(),
        report.display()
    );
    Ok(())
}
