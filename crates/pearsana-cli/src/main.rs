//! `pearsana`: the Pearsana Partner API from the shell.
//!
//! Every API operation as a command, resumable bulk imports of users, invitations and
//! documents from CSV, the local sandbox server, and an offline demo (`pearsana demo`). See
//! `pearsana --help`, and the crate README for a tour.

/// `println!` that tolerates a closed stdout (`pearsana … | head`): the rest of the output is
/// dropped instead of panicking, and the command still ends with its own exit status.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod cli;
mod commands;
mod connect;
mod errors;
mod exit;
mod import;
mod logging;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    #[cfg(feature = "sandbox")]
    let serving = matches!(cli.command, cli::Command::Sandbox(_));
    #[cfg(not(feature = "sandbox"))]
    let serving = false;
    logging::init(cli.global.verbose, serving);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return exit::Exit::Unavailable.into();
        }
    };
    let exit = runtime.block_on(commands::run(cli));
    // Background tasks (a sandbox's connections, the Ctrl-C listener) must not hold up exit.
    runtime.shutdown_background();
    exit.into()
}
