//! One function per command; [`run`] dispatches.

pub mod calls;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod import;

use clap::CommandFactory;

use crate::cli::{Cli, Command, DocumentsCommand, InvitationsCommand, UsersCommand};
use crate::exit::Exit;
use crate::import::documents::Documents;
use crate::import::invitations::Invitations;
use crate::import::submitters::{DocumentSubmitter, InvitationSubmitter, UserSubmitter};
use crate::import::users::Users;
use crate::output::Printer;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Exit {
    let printer = Printer::new(cli.global.output);
    let global = &cli.global;
    match &cli.command {
        Command::Health => calls::health(global, printer).await,
        Command::Ping => calls::ping(global, printer).await,
        Command::Users(UsersCommand::Create(args)) => {
            calls::create_user(args, global, printer).await
        }
        Command::Users(UsersCommand::Import(args)) => {
            import::run_import(Users, args, global, printer, UserSubmitter).await
        }
        Command::Invitations(InvitationsCommand::Create(args)) => {
            calls::create_invitation(args, global, printer).await
        }
        Command::Invitations(InvitationsCommand::Import(args)) => {
            import::run_import(Invitations, args, global, printer, InvitationSubmitter).await
        }
        Command::Documents(DocumentsCommand::Submit(args)) => {
            calls::submit_documents(args, global, printer).await
        }
        Command::Documents(DocumentsCommand::Import(args)) => {
            let outputs = [(&args.journal, "--journal"), (&args.failures, "--failures")];
            let kind = Documents::for_manifest(&args.file).with_outputs(
                outputs
                    .into_iter()
                    .filter_map(|(path, flag)| Some((path.as_deref()?, flag))),
            );
            import::run_import(kind, args, global, printer, DocumentSubmitter).await
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox(sandbox) => match pearsana_sandbox::run(sandbox.args.clone()).await {
            Ok(()) => Exit::Success,
            Err(e) => {
                eprintln!("error: {e:#}");
                Exit::Usage
            }
        },
        #[cfg(feature = "sandbox")]
        Command::Demo(args) => demo::demo(args, printer).await,
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "pearsana", &mut script);
            // A closed stdout is not worth a panic (see `outln!`).
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), &script);
            Exit::Success
        }
    }
}
