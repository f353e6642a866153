//! Scenario 7: a national roster (1,000,000 rows) through the release `pearsana users
//! import`: peak RSS of the CLI child, the validation pass's rate, time to the first request,
//! and an exact resume after `kill -9` (issue 14, item 9).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use pearsana_sandbox::{DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, RunningSandbox};
use serde::Deserialize;

use crate::report::{Section, Table, mib, thousands};
use crate::rss::{self, MIB};
use crate::{Bench, fixtures, setup};

/// Peak RSS of the CLI must stay at or under this many MiB, whatever the roster's size.
const MAX_RSS_MIB: f64 = 64.0;
/// One validation pass must read at least this many rows per second.
const MIN_PASS_ROWS_PER_SECOND: f64 = 500_000.0;
/// The first request may come at most this long after start-up plus one validation pass.
const FIRST_REQUEST_SLACK: Duration = Duration::from_secs(1);
/// Tag of the generated roster's emails and external ids.
const RUN: &str = "national";
/// How often the sandbox's counters are read while waiting for the first request.
const POLL: Duration = Duration::from_millis(2);

/// The JSON summary the CLI prints last with `--output json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportSummary {
    total: u64,
    created: u64,
    existing: u64,
    failed: u64,
    skipped: u64,
    remaining: u64,
}

/// Rows of the roster: the size issue 14 names, or a small one for the smoke run.
fn roster_rows(bench: &Bench) -> u64 {
    if bench.sizes.smoke { 5_000 } else { 1_000_000 }
}

/// `pearsana … users import ROSTER [extra]` aimed at `sandbox`.
fn import_command(
    bench: &Bench,
    sandbox: &RunningSandbox,
    roster: &Path,
    extra: &[&str],
) -> Command {
    let url = sandbox.url();
    let mut command = Command::new(&bench.cli);
    command
        .args(["--env", "local", "--api-url", &url, "--auth-url", &url])
        .args(["--client-id", DEFAULT_CLIENT_ID, "--output", "json"])
        .args(["users", "import"])
        .arg(roster)
        .args(extra)
        .env("PEARSANA_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
        .env_remove("RUST_LOG");
    command
}

/// A CLI run under the `peak-rss` helper, watched from here.
struct Watched {
    helper: std::process::Child,
    /// Readers of the helper's stdout and stderr, drained as the run goes (a full pipe would
    /// stall the CLI).
    output: [std::thread::JoinHandle<String>; 2],
    report: PathBuf,
    started: Instant,
    cpu_before: Duration,
}

/// Reads `pipe` to its end in a thread.
fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = pipe.read_to_end(&mut text);
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// CPU time (user + system) of every child of this process reaped so far, grandchildren that
/// their parents reaped included: the difference across one run is that run's CPU time (the
/// scenario runs one child at a time; the sandbox lives in this process).
fn children_cpu() -> Duration {
    // SAFETY: `rusage` is plain old data for which all-zero bytes are a valid value, and
    // getrusage only writes into the struct we own.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage);
        usage
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// What a watched run did.
struct WatchedRun {
    peak_rss: u64,
    first_request: Option<Duration>,
    wall: Duration,
    cpu: Duration,
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

impl Watched {
    /// Starts `command` under this binary's `peak-rss` helper (so the peak RSS is the CLI's
    /// own, not inherited from the bench process that hosts the sandbox).
    fn start(bench: &Bench, command: &Command) -> anyhow::Result<Self> {
        let report = std::env::temp_dir().join(format!(
            "pearsana-bench-import-memory-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        let mut wrapped = Command::new(&bench.self_exe);
        wrapped
            .arg("peak-rss")
            .arg("--report")
            .arg(&report)
            .arg("--")
            .arg(command.get_program())
            .args(command.get_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        let cpu_before = children_cpu();
        let started = Instant::now();
        let mut helper = wrapped.spawn().context("starting the peak-rss helper")?;
        let output = [
            drain(helper.stdout.take().context("stdout is piped")?),
            drain(helper.stderr.take().context("stderr is piped")?),
        ];
        Ok(Self {
            helper,
            output,
            report,
            started,
            cpu_before,
        })
    }

    /// Waits until the sandbox has answered `created_before + 1` create-user requests, or the
    /// run ends; returns the time since start.
    async fn first_request(
        &mut self,
        sandbox: &RunningSandbox,
        created_before: u64,
    ) -> anyhow::Result<Option<Duration>> {
        loop {
            let sent = sandbox
                .stats()
                .requests_by_operation
                .get("create_user")
                .copied()
                .unwrap_or(0);
            if sent > created_before {
                return Ok(Some(self.started.elapsed()));
            }
            if self.helper.try_wait()?.is_some() {
                return Ok(None);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// `kill -9` of the CLI (the helper's only child), as a crash would.
    fn kill_cli(&self) -> anyhow::Result<()> {
        let pid = self.helper.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .context("finding the CLI under the peak-rss helper")?;
        let cli: i32 = children
            .split_whitespace()
            .next()
            .context("the peak-rss helper has no child")?
            .parse()?;
        // SAFETY: plain kill(2) on a process id we just read; no memory is involved.
        if unsafe { libc::kill(cli, libc::SIGKILL) } != 0 {
            bail!("kill -9 {cli}: {}", std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits for the run to end (blocking, in a worker thread) and collects what it did.
    async fn finish(self, first_request: Option<Duration>) -> anyhow::Result<WatchedRun> {
        let Self {
            mut helper,
            output,
            report,
            started,
            cpu_before,
        } = self;
        let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
            let status = helper.wait()?;
            let [stdout, stderr] = output.map(|reader| reader.join().unwrap_or_default());
            anyhow::Ok((status, stdout, stderr))
        })
        .await??;
        let wall = started.elapsed();
        let cpu = children_cpu().saturating_sub(cpu_before);
        let peak =
            std::fs::read_to_string(&report).context("the peak-rss helper left no report")?;
        let _ = std::fs::remove_file(&report);
        Ok(WatchedRun {
            peak_rss: peak.trim().parse().context("peak-rss report")?,
            first_request,
            wall,
            cpu,
            stdout,
            stderr,
            code: status.code(),
        })
    }
}

impl WatchedRun {
    fn summary(&self) -> anyhow::Result<ImportSummary> {
        let last = self
            .stdout
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        serde_json::from_str(last).with_context(|| {
            format!(
                "the last line of stdout is not the JSON summary: {last:?}; stderr: {}",
                rss::tail(&self.stderr, 5)
            )
        })
    }
}

/// Journal lines that confirm a row (as the CLI's resume counts them).
fn confirmed_in_journal(path: &Path) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .filter(|l| l.contains("\"event\":\"created\"") || l.contains("\"event\":\"existing\""))
        .count() as u64)
}

/// Runs the scenario.
pub async fn run(bench: &Bench) -> anyhow::Result<Section> {
    let rows = roster_rows(bench);
    let roster = bench.scratch.join(format!("national-roster-{rows}.csv"));
    fixtures::write_roster(&roster, RUN, rows)?;
    let roster_bytes = std::fs::metadata(&roster)?.len();
    let journal = bench.scratch.join("national-roster-journal");
    let _ = std::fs::remove_file(&journal);

    // 1. The validation pass alone: a dry run reads the roster twice (validate, then the
    //    send pass without sending), so one pass takes half its time at most.
    let sandbox = setup::sandbox().await?;
    let dry = Watched::start(
        bench,
        &import_command(bench, &sandbox, &roster, &["--dry-run"]),
    )?
    .finish(None)
    .await?;
    ensure!(
        dry.code == Some(0),
        "dry run failed: {}",
        rss::tail(&dry.stderr, 5)
    );
    let dry_summary = dry.summary()?;
    ensure!(
        dry_summary.total == rows && dry_summary.remaining == rows,
        "dry run summary {dry_summary:?} does not count {rows} valid rows"
    );
    let pass = dry.wall / 2;
    let pass_rate = rows as f64 / pass.as_secs_f64();
    let pass_cpu_rate = rows as f64 / (dry.cpu / 2).as_secs_f64();

    // 2. A fresh journaled import, killed with SIGKILL a third of the way through.
    let run_args = ["--journal", journal.to_str().context("journal path")?];
    let mut first = Watched::start(bench, &import_command(bench, &sandbox, &roster, &run_args))?;
    let first_request = first.first_request(&sandbox, 0).await?;
    let kill_at = rows / 3;
    let mut ended_early = false;
    loop {
        if sandbox.stats().users_created >= kill_at {
            break;
        }
        if first.helper.try_wait()?.is_some() {
            ended_early = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if !ended_early {
        first.kill_cli()?;
    }
    let killed = first.finish(first_request).await?;
    ensure!(
        !ended_early,
        "the import ended (status {:?}) before it could be killed; stderr: {}; stdout: {}",
        killed.code,
        rss::tail(&killed.stderr, 10),
        rss::tail(&killed.stdout, 3)
    );
    ensure!(
        killed.code != Some(0),
        "the import finished before it could be killed; stdout: {}",
        rss::tail(&killed.stdout, 2)
    );
    let confirmed = confirmed_in_journal(&journal)?;
    let sent_before = sandbox
        .stats()
        .requests_by_operation
        .get("create_user")
        .copied()
        .unwrap_or(0);

    // 3. The resume: same command, same journal.
    let mut resume = Watched::start(bench, &import_command(bench, &sandbox, &roster, &run_args))?;
    let resume_first = resume.first_request(&sandbox, sent_before).await?;
    let resumed = resume.finish(resume_first).await?;
    ensure!(
        resumed.code == Some(0),
        "the resumed import failed: {}",
        rss::tail(&resumed.stderr, 5)
    );
    let summary = resumed.summary()?;
    let stats = sandbox.stats();
    sandbox.shutdown().await;
    let exact = summary.total == rows
        && summary.failed == 0
        && summary.remaining == 0
        && summary.skipped == confirmed
        && summary.skipped + summary.created + summary.existing == rows
        && stats.users_created == rows;
    ensure!(
        exact,
        "resume is not exact: {summary:?}, {confirmed} confirmed before the kill, sandbox created {}",
        stats.users_created
    );

    let peak = killed.peak_rss.max(resumed.peak_rss).max(dry.peak_rss) as f64;
    let first_budget = FIRST_REQUEST_SLACK + pass;
    let mut table = Table::new(&[
        "run",
        "rows",
        "peak RSS",
        "first request after start",
        "wall time",
        "CPU time",
        "outcome",
    ]);
    let secs =
        |d: Option<Duration>| d.map_or("-".to_string(), |d| format!("{:.2} s", d.as_secs_f64()));
    table.row(vec![
        "`--dry-run` (validation pass + send pass, nothing sent)".into(),
        thousands(rows as f64),
        mib(dry.peak_rss as f64),
        "-".into(),
        secs(Some(dry.wall)),
        secs(Some(dry.cpu)),
        format!(
            "{} valid; one pass ≈ {:.2} s = {} rows/s ({} rows/s of CPU time)",
            thousands(rows as f64),
            pass.as_secs_f64(),
            thousands(pass_rate),
            thousands(pass_cpu_rate)
        ),
    ]);
    table.row(vec![
        "import with `--journal`, `kill -9` after a third".into(),
        thousands(rows as f64),
        mib(killed.peak_rss as f64),
        secs(killed.first_request),
        secs(Some(killed.wall)),
        secs(Some(killed.cpu)),
        format!(
            "{} rows confirmed in the journal",
            thousands(confirmed as f64)
        ),
    ]);
    table.row(vec![
        "the same command again (resume)".into(),
        thousands(rows as f64),
        mib(resumed.peak_rss as f64),
        secs(resumed.first_request),
        secs(Some(resumed.wall)),
        secs(Some(resumed.cpu)),
        format!(
            "skipped {}, created {}, existing {}; sandbox holds {} users",
            thousands(summary.skipped as f64),
            thousands(summary.created as f64),
            thousands(summary.existing as f64),
            thousands(stats.users_created as f64)
        ),
    ]);
    let mut section = Section {
        title: "7. Import memory: a national roster".into(),
        method: format!(
            "A generated roster of {rows} users ({:.1} MiB of CSV) through the release `pearsana users import` \
             as a child process against a fresh in-process sandbox. Peak RSS is the CLI's own \
             `ru_maxrss`, taken under this binary's `peak-rss` helper. The validation pass's \
             rate is half a `--dry-run` (which reads the file twice: validation, then the send \
             pass without sending), process start-up included. The first request is the moment \
             the sandbox's create-user counter moves, polled every {} ms from the spawn. The \
             journaled import is killed with SIGKILL once a third of the users exist, then run \
             again with the same journal; the resume must skip exactly the rows the journal \
             confirmed, and the sandbox must hold each of the {rows} users once.",
            roster_bytes as f64 / MIB,
            POLL.as_millis()
        ),
        table,
        ..Default::default()
    };
    section.target(
        format!("{rows} rows: CLI peak RSS (dry run, killed run, resume)"),
        &format!("≤ {MAX_RSS_MIB} MiB"),
        mib(peak),
        peak <= MAX_RSS_MIB * MIB,
    );
    section.target(
        format!("{rows} rows: one validation pass"),
        &format!("≥ {} rows/s", thousands(MIN_PASS_ROWS_PER_SECOND)),
        format!("{} rows/s", thousands(pass_rate)),
        pass_rate >= MIN_PASS_ROWS_PER_SECOND,
    );
    let first_ok = killed.first_request.is_some_and(|t| t <= first_budget);
    section.target(
        format!("{rows} rows: first request after start"),
        &format!("≤ 1 s + one pass ({:.2} s)", first_budget.as_secs_f64()),
        secs(killed.first_request),
        first_ok,
    );
    section.target(
        "resume after kill -9",
        "exact",
        format!(
            "skipped {} = confirmed {}; {} users, each once",
            summary.skipped, confirmed, stats.users_created
        ),
        exact,
    );
    if pass_rate < MIN_PASS_ROWS_PER_SECOND && pass_cpu_rate >= MIN_PASS_ROWS_PER_SECOND {
        section.notes.push(format!(
            "The validation pass needs {:.2} s of CPU time ({} rows/s) but took {:.2} s of wall \
             time: the CLI waited for a CPU (see the load average above).",
            (dry.cpu / 2).as_secs_f64(),
            thousands(pass_cpu_rate),
            pass.as_secs_f64()
        ));
    }
    if summary.existing > 0 {
        section.notes.push(format!(
            "{} row(s) were in flight at the kill: the server had created them but the journal \
             had not recorded it, so the resume found them existing (the SDK's create-or-get).",
            summary.existing
        ));
    }
    Ok(section)
}
