//! Memory measurement: peak resident set size of this process and of child processes.

use std::io::Read;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// One mebibyte.
pub const MIB: f64 = 1024.0 * 1024.0;

/// Reads a `kB` field (such as `VmHWM` or `VmRSS`) of `/proc/self/status`, in bytes.
fn proc_status_field(name: &str) -> anyhow::Result<u64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .with_context(|| format!("/proc/self/status has no {name} line"))?;
    let kib: u64 = line
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("{name} is not a number of kB: {line:?}"))?;
    Ok(kib * 1024)
}

/// Highest resident set size this process has reached so far (`VmHWM`), in bytes.
pub fn self_peak_rss() -> anyhow::Result<u64> {
    proc_status_field("VmHWM")
}

/// Current resident set size of this process (`VmRSS`), in bytes.
pub fn self_rss() -> anyhow::Result<u64> {
    proc_status_field("VmRSS")
}

/// What a finished child process did.
#[derive(Debug)]
pub struct ChildRun {
    /// How it exited.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
    /// From spawn to exit.
    pub wall: Duration,
    /// Its peak resident set size (`ru_maxrss` from `wait4`), in bytes.
    pub peak_rss: u64,
}

impl ChildRun {
    /// Fails with the child's stderr unless it exited with status 0.
    pub fn ensure_success(&self, what: &str) -> anyhow::Result<()> {
        if !self.status.success() {
            bail!(
                "{what} exited with {}\nstderr:\n{}\nstdout (tail):\n{}",
                self.status,
                tail(&self.stderr, 40),
                tail(&self.stdout, 10)
            );
        }
        Ok(())
    }
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Waits for child `pid` with `wait4`, returning its exit status and its peak RSS in bytes.
fn wait_with_peak_rss(pid: libc::pid_t) -> anyhow::Result<(ExitStatus, u64)> {
    let mut raw_status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to a status word and an rusage struct owned by this frame;
        // `pid` is our own unreaped child (std's `Child` never waits unless asked).
        let reaped = unsafe { libc::wait4(pid, &mut raw_status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if reaped == -1 && error.kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        bail!("wait4 on child {pid} failed: {error}");
    }
    let status = ExitStatus::from_raw(raw_status);
    // Linux reports ru_maxrss in kibibytes.
    Ok((status, (usage.ru_maxrss.max(0) as u64) * 1024))
}

/// Runs `command` to completion (blocking), capturing its output, wall time and `ru_maxrss`.
///
/// Linux carries a process's peak RSS across `exec`, and a freshly spawned child starts from
/// the memory map of its parent: the `ru_maxrss` reported here is never below this process's
/// own RSS at spawn time. Use [`run_child_isolated`] to measure a child alone.
pub fn run_child(mut command: Command) -> anyhow::Result<ChildRun> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    let pid = child.id() as libc::pid_t;
    let mut stdout_pipe = child.stdout.take().context("child stdout")?;
    let mut stderr_pipe = child.stderr.take().context("child stderr")?;
    let stdout_reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stdout_pipe.read_to_string(&mut out);
        out
    });
    let stderr_reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = stderr_pipe.read_to_string(&mut out);
        out
    });
    let (status, peak_rss) = wait_with_peak_rss(pid)?;
    let wall = started.elapsed();
    Ok(ChildRun {
        status,
        stdout: stdout_reader.join().unwrap_or_default(),
        stderr: stderr_reader.join().unwrap_or_default(),
        wall,
        peak_rss,
    })
}

/// Arguments of the `peak-rss` helper subcommand.
#[derive(Debug, clap::Args)]
pub struct PeakRssArgs {
    /// Where to write the measured child's peak RSS in bytes.
    #[arg(long)]
    report: PathBuf,
    /// The program to run and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

/// Body of the `peak-rss` helper: runs the command with inherited stdio, writes its peak RSS
/// to the report file and exits with its status.
///
/// Being a small, freshly started process, the helper hands its children a small memory map,
/// so their `ru_maxrss` is their own.
pub fn peak_rss_main(args: PeakRssArgs) -> anyhow::Result<std::process::ExitCode> {
    let (program, rest) = args.command.split_first().context("no command given")?;
    let child = Command::new(program)
        .args(rest)
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let (status, peak_rss) = wait_with_peak_rss(child.id() as libc::pid_t)?;
    std::fs::write(&args.report, peak_rss.to_string())?;
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    Ok(std::process::ExitCode::from(code.clamp(0, 255) as u8))
}

/// Like [`run_child`], but runs `command` under the `peak-rss` helper subcommand of `helper`
/// (this benchmark binary), so that the peak RSS is the command's own and not inherited.
pub fn run_child_isolated(helper: &Path, command: Command) -> anyhow::Result<ChildRun> {
    let report = std::env::temp_dir().join(format!(
        "pearsana-bench-peak-rss-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    let mut wrapped = Command::new(helper);
    wrapped
        .arg("peak-rss")
        .arg("--report")
        .arg(&report)
        .arg("--");
    wrapped.arg(command.get_program()).args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        wrapped.current_dir(dir);
    }
    let mut run = run_child(wrapped)?;
    let measured = std::fs::read_to_string(&report)
        .with_context(|| format!("the peak-rss helper left no report for {command:?}"))?;
    let _ = std::fs::remove_file(&report);
    run.peak_rss = measured.trim().parse().context("peak-rss report")?;
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory() {
        let rss = self_rss().unwrap();
        let peak = self_peak_rss().unwrap();
        assert!(rss > 0);
        assert!(
            peak >= rss / 2,
            "peak {peak} should not be far below current {rss}"
        );
    }

    #[test]
    fn measures_a_child_that_touches_memory() {
        // A pipe streams the 50 MB without holding it; `sort` must hold the whole (single)
        // line, and adds a newline to it.
        let mut command = Command::new("sh");
        command.args([
            "-c",
            "head -c 50000000 /dev/zero | tr '\\0' 'a' | sort | wc -c",
        ]);
        let run = run_child(command).unwrap();
        run.ensure_success("sort").unwrap();
        assert_eq!(run.stdout.trim(), "50000001");
        // The child is `sh`; wait4 includes its waited-for descendants, and sort held ~50 MB.
        assert!(run.peak_rss > 40_000_000, "peak {} too small", run.peak_rss);
    }

    #[test]
    fn reports_failure_with_stderr() {
        let mut command = Command::new("sh");
        command.args(["-c", "echo broken >&2; exit 3"]);
        let run = run_child(command).unwrap();
        let error = run.ensure_success("the child").unwrap_err().to_string();
        assert!(error.contains("broken"), "{error}");
    }
}
