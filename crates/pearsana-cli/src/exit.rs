//! Exit statuses: one number per kind of outcome, so scripts can react without parsing text.

use std::process::ExitCode;

/// How the process ends. The numbers are part of the CLI's contract (see `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything succeeded.
    Success,
    /// The command ran, but the API rejected a request or at least one import row failed
    /// (invalid, rejected, or left in doubt).
    Failed,
    /// Bad command line, unreadable or malformed input file, unusable journal, bad settings;
    /// or a journal or failures report that could not be written during an import.
    Usage,
    /// Credentials were refused or lack a scope the command needs.
    Auth,
    /// The service could not be reached or kept failing (network, timeouts, 5xx after retries).
    Unavailable,
    /// Stopped by Ctrl-C after finishing in-flight requests; rerun with the same journal.
    Interrupted,
}

impl Exit {
    /// The numeric status.
    pub const fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Failed => 1,
            Self::Usage => 2,
            Self::Auth => 3,
            Self::Unavailable => 4,
            Self::Interrupted => 130,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// The exit status table shown at the end of `pearsana --help`.
pub const EXIT_CODES_HELP: &str = "\
Exit status:
  0    success
  1    the API rejected a request, or at least one import row failed (invalid,
       rejected, or left in doubt); see the failures report
  2    usage error: bad arguments, unreadable or malformed input file, bad journal,
       an output that is an input; or the journal or failures report could not
       be written (the import's summary is still printed)
  3    authentication: credentials refused, or a required scope is missing
  4    service unavailable: network error, timeout, or server errors after retries
  130  interrupted by Ctrl-C (in-flight requests finished, journal flushed)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_status() {
        for exit in [
            Exit::Success,
            Exit::Failed,
            Exit::Usage,
            Exit::Auth,
            Exit::Unavailable,
            Exit::Interrupted,
        ] {
            let line = format!("\n  {:<4} ", exit.code());
            assert!(
                EXIT_CODES_HELP.contains(&line),
                "{exit:?} missing from help"
            );
        }
    }
}
