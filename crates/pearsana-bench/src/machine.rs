//! A description of the machine and toolchain a run happened on.

use std::path::Path;
use std::process::Command;

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn command_output(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The CPU model from `/proc/cpuinfo`.
pub fn cpu_model() -> String {
    read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Load averages (1, 5, 15 minutes) from `/proc/loadavg`.
pub fn load_average() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Markdown list items describing the machine, toolchain and commit.
pub fn describe(workspace: &Path) -> Vec<String> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kib: u64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let kernel = read("/proc/sys/kernel/osrelease").trim().to_owned();
    let rustc = command_output("rustc", &["--version"], workspace).unwrap_or_default();
    let node = command_output("node", &["--version"], workspace).unwrap_or_default();
    let commit = command_output("git", &["rev-parse", "--short", "HEAD"], workspace)
        .unwrap_or_else(|| "unknown".into());
    // The report being rewritten does not make the measured code dirty.
    let dirty = command_output(
        "git",
        &[
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":!BENCHMARKS.md",
        ],
        workspace,
    )
    .is_some_and(|s| !s.is_empty());
    vec![
        format!("CPU: {} × {cores} (`nproc` = {cores})", cpu_model()),
        format!("Memory: {:.1} GiB", mem_kib as f64 / 1024.0 / 1024.0),
        format!("Kernel: Linux {kernel}"),
        format!("Toolchain: {rustc}; Node {node} (for Prism)"),
        format!(
            "Commit: {commit}{}",
            if dirty {
                " (with uncommitted changes)"
            } else {
                ""
            }
        ),
        format!(
            "Load average when the run started: {} (the machine is shared; numbers are \
             comparable within a run, less so across runs)",
            load_average()
        ),
    ]
}
