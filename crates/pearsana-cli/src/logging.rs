//! Logging on stderr, chosen by `-v`.
//!
//! Without `-v` only errors are logged: retries of throttled or failed requests are normal
//! during an import and the command reports every row's outcome itself. `-v` adds warnings
//! (each retry) and progress information.
//!
//! Only this tool's own crates (CLI, SDK, sandbox) log; HTTP library internals are never
//! enabled, whatever the verbosity, so request headers (which carry the bearer token) cannot
//! reach the log. The SDK itself never logs secrets.

use tracing_subscriber::EnvFilter;

/// The filter for a verbosity level (number of `-v`).
pub fn filter(verbose: u8) -> String {
    let level = match verbose {
        0 => return "error".to_string(),
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    format!("error,pearsana={level},pearsana_cli={level},pearsana_sandbox={level}")
}

/// Installs the stderr logger. `serving` is set for `pearsana sandbox`, which logs the
/// requests it serves by default, like the `pearsana-sandbox` binary.
pub fn init(verbose: u8, serving: bool) {
    let filter = match (verbose, serving) {
        (0, true) => "error,pearsana_sandbox=info".to_string(),
        _ => filter(verbose),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_target(verbose >= 2)
        .try_init();
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_internals_stay_quiet_at_every_level() {
        for verbose in 0..5 {
            let filter = super::filter(verbose);
            assert!(
                !filter.contains("hyper") && !filter.contains("reqwest"),
                "{filter}"
            );
            assert!(filter.starts_with("error"), "{filter}");
        }
    }
}
