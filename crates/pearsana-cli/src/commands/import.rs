//! `users import`, `invitations import`, `documents import`: the shared command flow around
//! the import engine (read, validate, resume, send, report).

use std::sync::Arc;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::cli::{GlobalArgs, ImportArgs};
use crate::exit::Exit;
use crate::import::csv_input::read_roster;
use crate::import::engine::{self, EngineOptions, Expected, Report, Submitter};
use crate::import::files::{ClashError, Role, check_outputs};
use crate::import::journal::Journal;
use crate::import::plan::{InvalidRow, PlannedRow, RowKind, plan, validate};
use crate::import::report::{FailedRow, Summary, write_failures};
use crate::output::Printer;

/// Failures listed on stderr before the rest are only counted (all are in `--failures`).
const FAILURES_SHOWN: usize = 20;

/// Runs one import from the command line.
pub async fn run_import<K, S>(
    kind: K,
    args: &ImportArgs,
    global: &GlobalArgs,
    printer: Printer,
    make_submitter: impl FnOnce(pearsana::Client) -> S,
) -> Exit
where
    K: RowKind,
    S: Submitter<Value = K::Value>,
{
    if let Err(e) = check_files(args) {
        return usage(e);
    }
    let mut roster = match read_roster(&args.file) {
        Ok(roster) => roster,
        Err(e) => return usage(e),
    };
    let print_invalid = |row: &InvalidRow| {
        eprintln!(
            "line {}: invalid row: {}",
            row.line,
            row.problems.join("; ")
        );
    };
    // Pass 1: validate every row, keeping hashes only.
    let mut validation = match validate(&kind, &mut roster, print_invalid) {
        Ok(validation) => validation,
        Err(e) => return usage(format_args!("{}: {e}", args.file.display())),
    };
    let expected = Expected {
        total: validation.total,
        valid: validation.valid(),
    };
    let mut state = validation.journal_state();
    if args.dry_run {
        // The send pass without sending: it finds repeated rows.
        let repeated = std::cell::Cell::new(0);
        let rows = plan(&kind, &mut roster, &validation, |row: &InvalidRow| {
            repeated.set(repeated.get() + 1);
            print_invalid(row);
        });
        let rows = match rows {
            Ok(rows) => rows,
            Err(e) => return usage(e),
        };
        let mut summary = Summary {
            total: expected.total,
            ..Summary::default()
        };
        for row in rows {
            match row {
                Ok(PlannedRow::Valid(_)) => summary.remaining += 1,
                Ok(PlannedRow::Invalid(_)) => {}
                Err(e) => return usage(e),
            }
        }
        summary.failed = validation.invalid + repeated.get();
        let note = format!("dry run: {} valid row(s) would be sent", summary.remaining);
        let exit = if summary.failed == 0 {
            Exit::Success
        } else {
            Exit::Failed
        };
        print_summary(printer, &summary, &note);
        return exit;
    }
    let journal = match &args.journal {
        Some(path) => match Journal::open(path, K::NAME, &mut state) {
            Ok(journal) => Some(journal),
            Err(e) => return usage(e),
        },
        None => None,
    };
    // Imports pace themselves after a `429`, so a rate-limited run converges on the limit
    // instead of sending requests bound to be refused (explicit: the SDK default may change).
    let client = match crate::connect::builder(global)
        .and_then(|builder| Ok(builder.adaptive_throttling(true).build()?))
    {
        Ok(client) => client,
        Err(e) => return usage(e),
    };
    // Pass 2: read the rows again and send them as they come.
    let rows = match plan(&kind, &mut roster, &validation, print_invalid) {
        Ok(rows) => rows,
        Err(e) => return usage(e),
    };
    let cancel = CancellationToken::new();
    let ctrl_c = spawn_ctrl_c_handler(cancel.clone());
    let options = EngineOptions {
        concurrency: args.concurrency,
        resend_in_doubt: args.resend_in_doubt,
        progress: true,
    };
    let report = engine::run(
        rows,
        expected,
        Arc::new(make_submitter(client)),
        state,
        journal,
        options,
        cancel,
    )
    .await;
    ctrl_c.abort();
    let mut report_written = true;
    if let Some(path) = &args.failures
        && let Err(e) = write_failures(path, &validation.headers, &report.failures)
    {
        report_written = false;
        eprintln!(
            "error: cannot write failures report {}: {e}; {} failed row(s) are listed above only",
            path.display(),
            report.failures.len()
        );
    }
    print_report(
        printer,
        &report,
        args,
        global.verbose > 0 || !report_written,
    );
    if !report_written {
        return Exit::Usage;
    }
    exit_for(&report)
}

/// Refuses a journal or failures report that is the input file or each other: writing one
/// would destroy the other.
fn check_files(args: &ImportArgs) -> Result<(), ClashError> {
    let input = [Role {
        flag: "the input file",
        path: &args.file,
    }];
    let outputs: Vec<Role<'_>> = [("--journal", &args.journal), ("--failures", &args.failures)]
        .into_iter()
        .filter_map(|(flag, path)| {
            Some(Role {
                flag,
                path: path.as_deref()?,
            })
        })
        .collect();
    check_outputs(&input, &outputs)
}

/// The exit status of a finished import.
pub fn exit_for(report: &Report) -> Exit {
    if report.aborted.is_some() {
        Exit::Usage
    } else if report.interrupted {
        Exit::Interrupted
    } else if let Some(stop) = &report.stopped_by {
        // Only credential and configuration problems stop an import (see `errors::row_failure`).
        match stop.code.as_str() {
            "CONFIG_ERROR" | "INVALID_API_VERSION" | "UNSUPPORTED_API_VERSION" => Exit::Usage,
            _ => Exit::Auth,
        }
    } else if report.summary.failed > 0 || report.summary.remaining > 0 {
        Exit::Failed
    } else {
        Exit::Success
    }
}

fn usage(error: impl std::fmt::Display) -> Exit {
    eprintln!("error: {error}");
    Exit::Usage
}

/// First Ctrl-C: stop starting new requests, let in-flight ones finish, flush the journal.
/// Second Ctrl-C: leave at once (the journal is still consistent; rows in flight are redone
/// or reported in doubt on the next run).
fn spawn_ctrl_c_handler(cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        eprintln!(
            "\ninterrupted: finishing requests in flight and saving the journal (Ctrl-C again to quit now)"
        );
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(i32::from(Exit::Interrupted.code()));
        }
    })
}

fn print_report(printer: Printer, report: &Report, args: &ImportArgs, verbose: bool) {
    let server_failures: Vec<&FailedRow> = report
        .failures
        .iter()
        .filter(|f| f.code != crate::import::report::INVALID_ROW)
        .collect();
    let shown = if verbose {
        server_failures.len()
    } else {
        FAILURES_SHOWN
    };
    for failure in server_failures.iter().take(shown) {
        eprintln!(
            "line {}: {}: {}",
            failure.line, failure.code, failure.message
        );
    }
    if server_failures.len() > shown {
        eprintln!(
            "… and {} more failed row(s){}",
            server_failures.len() - shown,
            if args.failures.is_some() {
                " (all are in the failures report)"
            } else {
                "; use --failures PATH to save them all"
            }
        );
    }
    if printer.is_json() {
        for failure in &report.failures {
            outln!(
                "{}",
                json!({"line": failure.line, "status": "failed", "code": failure.code, "message": failure.message})
            );
        }
    }
    let note = if let Some(problem) = &report.aborted {
        format!(
            "stopped early: {problem}; {} row(s) not sent{}",
            report.summary.remaining,
            if args.journal.is_some() {
                "; fix the problem, then rerun with the same --journal to resume"
            } else {
                ""
            }
        )
    } else if report.interrupted {
        format!(
            "interrupted: {} row(s) not sent{}",
            report.summary.remaining,
            if args.journal.is_some() {
                "; rerun with the same --journal to resume"
            } else {
                ""
            }
        )
    } else if let Some(stop) = &report.stopped_by {
        format!("stopped early: {}: {}", stop.code, stop.message)
    } else {
        String::new()
    };
    print_summary(printer, &report.summary, &note);
}

fn print_summary(printer: Printer, summary: &Summary, note: &str) {
    if !note.is_empty() {
        eprintln!("{note}");
    }
    if printer.is_json() {
        // Serialised from the struct, so the keys keep their documented order.
        outln!(
            "{}",
            serde_json::to_string(summary).expect("summary serialises")
        );
    } else {
        outln!(
            "total {} · created {} · existing {} · failed {} · skipped {} · remaining {} · {:.2} s",
            summary.total,
            summary.created,
            summary.existing,
            summary.failed,
            summary.skipped,
            summary.remaining,
            summary.elapsed_seconds
        );
    }
}
