//! Whole-scenario benchmarks of pearsana-rs (issue 6), run by `cargo xtask bench`.
//!
//! Every comparison runs both sides in this process (or as children of it), alternating round
//! by round, and reports medians and ratios. The sandbox runs in-process on loopback; the CLI
//! and Prism run as child processes; the large-batch scenario runs in a fresh child of this
//! binary so that its peak memory is its own.

mod fixtures;
mod load;
mod machine;
mod raw_client;
mod report;
mod rss;
mod scenarios;
mod setup;
mod sizes;
mod stats;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::report::{Report, Section};
use crate::sizes::Sizes;

/// Command line of the benchmark binary.
#[derive(Debug, Parser)]
#[command(
    name = "pearsana-bench",
    about = "Whole-scenario benchmarks of pearsana-rs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the scenarios and writes the Markdown report.
    Run(RunArgs),
    /// Prepares what the build-cost scenario needs before the clock starts (the scratch
    /// workspace, and for `--smoke` its compiled dependencies).
    Prepare(PrepareArgs),
    /// Internal: one large-batch submission in a fresh process (scenario 5).
    #[command(hide = true)]
    DocumentsChild(scenarios::documents::ChildArgs),
    /// Internal: the raw `reqwest` import loop of scenario 3, as a child process.
    #[command(hide = true)]
    RawImport(scenarios::import::RawImportArgs),
    /// Internal: runs a command and records its own peak RSS (see `rss::run_child_isolated`).
    #[command(hide = true)]
    PeakRss(rss::PeakRssArgs),
}

#[derive(Debug, clap::Args)]
struct PrepareArgs {
    /// Prepare for a smoke run.
    #[arg(long)]
    smoke: bool,
    /// Root of the pearsana-rs workspace.
    #[arg(long, default_value = ".")]
    workspace: PathBuf,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Tiny sizes: proves every scenario works; the numbers mean nothing.
    #[arg(long)]
    smoke: bool,
    /// Root of the pearsana-rs workspace.
    #[arg(long, default_value = ".")]
    workspace: PathBuf,
    /// The release `pearsana` CLI binary.
    #[arg(long)]
    cli: PathBuf,
    /// Prism's executable (`.ci/tools/node_modules/.bin/prism`).
    #[arg(long)]
    prism: PathBuf,
    /// Where to write the Markdown report.
    #[arg(long)]
    report: PathBuf,
    /// Only these scenarios (numbers 1 to 7); all by default.
    #[arg(long, value_delimiter = ',')]
    only: Vec<u8>,
    /// The command line to name in the report.
    #[arg(long, default_value = "cargo xtask bench")]
    command: String,
}

/// Everything a scenario needs to know about this run.
#[derive(Debug, Clone)]
pub struct Bench {
    /// Sizes of this run.
    pub sizes: Sizes,
    /// Workspace root.
    pub workspace: PathBuf,
    /// The `pearsana` CLI binary.
    pub cli: PathBuf,
    /// Prism's executable.
    pub prism: PathBuf,
    /// A directory for generated inputs and scratch builds.
    pub scratch: PathBuf,
    /// This binary, to start fresh children of it.
    pub self_exe: PathBuf,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Prepare(args) => prepare(args),
        Command::DocumentsChild(args) => scenarios::documents::child_main(args),
        Command::PeakRss(args) => rss::peak_rss_main(args),
        Command::RawImport(args) => scenarios::import::raw_import_main(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

impl Bench {
    fn new(smoke: bool, workspace: &Path, cli: PathBuf, prism: PathBuf) -> anyhow::Result<Self> {
        let workspace = workspace.canonicalize().context("--workspace")?;
        let bench = Self {
            sizes: if smoke { Sizes::smoke() } else { Sizes::full() },
            scratch: workspace.join("target").join("bench-scratch"),
            cli,
            prism,
            self_exe: std::env::current_exe()?,
            workspace,
        };
        std::fs::create_dir_all(&bench.scratch)?;
        Ok(bench)
    }
}

fn prepare(args: PrepareArgs) -> anyhow::Result<std::process::ExitCode> {
    let bench = Bench::new(args.smoke, &args.workspace, PathBuf::new(), PathBuf::new())?;
    scenarios::build_cost::prepare(&bench)?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn run(args: RunArgs) -> anyhow::Result<std::process::ExitCode> {
    let cli = args.cli.canonicalize().context("--cli")?;
    let bench = Bench::new(args.smoke, &args.workspace, cli, args.prism)?;
    let mut report = Report {
        command: args.command,
        smoke: args.smoke,
        environment: machine::describe(&bench.workspace),
        ..Default::default()
    };
    let wanted = |n: u8| args.only.is_empty() || args.only.contains(&n);
    let started = Instant::now();
    let mut failed = false;
    let mut sections = Vec::new();
    for number in scenarios::RUN_ORDER {
        let Some((number, name)) = scenarios::ALL.iter().find(|(n, _)| n == number) else {
            continue;
        };
        if !wanted(*number) {
            continue;
        }
        eprintln!("== scenario {number}: {name}");
        let scenario_started = Instant::now();
        let section = scenarios::run(*number, &bench).unwrap_or_else(|error| {
            failed = true;
            eprintln!("scenario {number} failed: {error:#}");
            let mut section = Section {
                title: format!("{number}. {name}"),
                ..Default::default()
            };
            section.method = format!("**The scenario failed**: {error:#}");
            section.target("scenario ran", "completes", "failed".into(), false);
            section
        });
        eprintln!("   ({:.1} s)", scenario_started.elapsed().as_secs_f64());
        sections.push((*number, section));
    }
    sections.sort_by_key(|(number, _)| *number);
    report.sections = sections.into_iter().map(|(_, section)| section).collect();
    report.wall_seconds = started.elapsed().as_secs_f64();
    let markdown = report.to_markdown();
    std::fs::write(&args.report, &markdown)
        .with_context(|| format!("writing {}", args.report.display()))?;
    println!("{markdown}");
    let missed: Vec<String> = report
        .missed()
        .map(|(s, t)| format!("{}: {} ({})", s.title, t.what, t.measured))
        .collect();
    if !missed.is_empty() {
        eprintln!("targets missed:\n  {}", missed.join("\n  "));
    }
    Ok(if failed {
        std::process::ExitCode::FAILURE
    } else {
        std::process::ExitCode::SUCCESS
    })
}
