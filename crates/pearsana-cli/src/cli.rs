//! The command tree, its flags and help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::exit::EXIT_CODES_HELP;

/// Default number of requests in flight during an import.
///
/// Eight keeps a typical 50–150 ms round trip busy enough for roughly 50–150 rows per second
/// while staying far below what one partner should ask of a shared API; the SDK slows down on
/// `429` anyway. Raise it for large rosters on a fast link, lower it under tight rate limits.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Command-line tool for the Pearsana Partner API.
#[derive(Debug, Parser)]
#[command(
    name = "pearsana",
    version,
    about = "Command-line tool for the Pearsana Partner API",
    after_long_help = EXIT_CODES_HELP,
    propagate_version = true,
    args_override_self = true
)]
#[cfg_attr(
    feature = "sandbox",
    command(
        long_about = "Command-line tool for the Pearsana Partner API: call every operation, import \
                      rosters of users, invitations and documents from CSV (resumable with --journal), \
                      run a local sandbox server, or try everything offline with `pearsana demo`."
    )
)]
// The lean build (no `sandbox` feature) has neither `sandbox` nor `demo`; its help says so.
#[cfg_attr(
    not(feature = "sandbox"),
    command(
        long_about = "Command-line tool for the Pearsana Partner API: call every operation and import \
                      rosters of users, invitations and documents from CSV (resumable with --journal). \
                      This build has no embedded sandbox (`sandbox` and `demo` need the default \
                      `sandbox` feature)."
    )
)]
pub struct Cli {
    /// Settings shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Which deployment to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EnvName {
    /// The hosted sandbox for development.
    Sandbox,
    /// The production API.
    Production,
    /// A local `pearsana sandbox` on http://127.0.0.1:8787 (its default client is used when no
    /// credentials are given).
    Local,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned text for people.
    Table,
    /// One JSON value per line for programs.
    Json,
}

/// Flags every command accepts.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Deployment to use [default: sandbox].
    #[arg(long, global = true, env = "PEARSANA_ENV", value_enum)]
    pub env: Option<EnvName>,
    /// API base URL; overrides the one of --env.
    #[arg(long, global = true, env = "PEARSANA_API_URL", value_name = "URL")]
    pub api_url: Option<String>,
    /// OAuth token host; overrides the one of --env (defaults to --api-url when that is set).
    #[arg(long, global = true, env = "PEARSANA_AUTH_URL", value_name = "URL")]
    pub auth_url: Option<String>,
    /// App Client id.
    #[arg(long, global = true, env = "PEARSANA_CLIENT_ID", value_name = "ID")]
    pub client_id: Option<String>,
    /// App Client secret. Prefer the environment variable: command lines are visible to
    /// other local users. Never printed.
    #[arg(
        long,
        global = true,
        env = "PEARSANA_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub client_secret: Option<String>,
    /// Scopes to request, space or comma separated [default: every scope granted].
    #[arg(long, global = true, env = "PEARSANA_SCOPES", value_name = "SCOPES")]
    pub scopes: Option<String>,
    /// API version to pin (YYYY-MM-DD) [default: the version this tool was built for].
    #[arg(long, global = true, env = "PEARSANA_API_VERSION", value_name = "DATE")]
    pub api_version: Option<String>,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, global = true, value_enum)]
    pub output: Option<OutputFormat>,
    /// More logging on stderr (-v info, -vv debug, -vvv trace). Secrets are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that the API is up (no credentials needed).
    Health,
    /// Check credentials: shows client id, scopes, token expiry and API versions (never the
    /// token).
    Ping,
    /// Create or import users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Create or import invitations.
    #[command(subcommand)]
    Invitations(InvitationsCommand),
    /// Submit or import documents.
    #[command(subcommand)]
    Documents(DocumentsCommand),
    /// Run the embedded sandbox server (same flags as `pearsana-sandbox`).
    #[cfg(feature = "sandbox")]
    Sandbox(SandboxCommand),
    /// Run the whole partner flow against an in-process sandbox: no credentials, no network.
    #[cfg(feature = "sandbox")]
    Demo(DemoArgs),
    /// Print a shell completion script, e.g. `pearsana completions bash > ~/.local/share/bash-completion/completions/pearsana`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `pearsana users …`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create one user (an existing user with the same email is reported, not an error).
    Create(CreateUserArgs),
    /// Create every user of a CSV roster.
    #[command(after_long_help = USERS_IMPORT_HELP)]
    Import(ImportArgs),
}

/// `pearsana invitations …`
#[derive(Debug, Subcommand)]
pub enum InvitationsCommand {
    /// Invite one person.
    Create(CreateInvitationArgs),
    /// Send every invitation of a CSV roster.
    #[command(after_long_help = INVITATIONS_IMPORT_HELP)]
    Import(ImportArgs),
}

/// `pearsana documents …`
#[derive(Debug, Subcommand)]
pub enum DocumentsCommand {
    /// Submit files for one user (several files go in batches).
    Submit(SubmitDocumentsArgs),
    /// Submit every file listed in a CSV manifest, in batches.
    #[command(after_long_help = DOCUMENTS_IMPORT_HELP)]
    Import(ImportArgs),
}

/// A `NAMESPACE:ID` external reference, e.g. `SIS:STU-2024-001`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefArg {
    /// System namespace.
    pub namespace: String,
    /// Identifier in that system.
    pub external_id: String,
}

impl std::str::FromStr for RefArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((namespace, id)) if !namespace.trim().is_empty() && !id.trim().is_empty() => {
                Ok(Self {
                    namespace: namespace.trim().to_string(),
                    external_id: id.trim().to_string(),
                })
            }
            _ => Err(format!("{s:?} is not NAMESPACE:ID (e.g. SIS:STU-2024-001)")),
        }
    }
}

/// Flags of `users create`.
#[derive(Debug, Args)]
pub struct CreateUserArgs {
    /// Email address.
    #[arg(long)]
    pub email: String,
    /// First name.
    #[arg(long)]
    pub first_name: String,
    /// Last name.
    #[arg(long)]
    pub last_name: String,
    /// Role, e.g. student or faculty.
    #[arg(long, default_value = "student")]
    pub role: String,
    /// External reference NAMESPACE:ID; repeat for several systems.
    #[arg(long = "ref", value_name = "NAMESPACE:ID", required = true)]
    pub references: Vec<RefArg>,
    /// Preferred (display) name.
    #[arg(long)]
    pub preferred_name: Option<String>,
    /// Phone number.
    #[arg(long)]
    pub phone: Option<String>,
    /// Preferred currency (ISO 4217, e.g. USD).
    #[arg(long)]
    pub currency: Option<String>,
    /// Date of birth, YYYY-MM-DD.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date_of_birth: Option<chrono::NaiveDate>,
}

/// Flags of `invitations create`.
#[derive(Debug, Args)]
pub struct CreateInvitationArgs {
    /// Email address to invite.
    #[arg(long)]
    pub email: String,
    /// First name.
    #[arg(long)]
    pub first_name: String,
    /// Last name.
    #[arg(long)]
    pub last_name: String,
    /// External reference NAMESPACE:ID to link on acceptance; repeat for several systems.
    #[arg(long = "ref", value_name = "NAMESPACE:ID", required = true)]
    pub references: Vec<RefArg>,
    /// Personal message in the invitation.
    #[arg(long)]
    pub message: Option<String>,
    /// Role to give; repeat for several [default: student].
    #[arg(long = "role")]
    pub roles: Vec<String>,
}

/// Flags of `documents submit`.
#[derive(Debug, Args)]
pub struct SubmitDocumentsArgs {
    /// The user's external reference, NAMESPACE:ID.
    #[arg(long = "ref", value_name = "NAMESPACE:ID")]
    pub reference: RefArg,
    /// Document type, e.g. OFFICIAL_TRANSCRIPT.
    #[arg(long = "type", value_name = "TYPE")]
    pub document_type: String,
    /// Verification intent: store_only (default) or attest.
    #[arg(long, value_name = "INTENT")]
    pub intent: Option<String>,
    /// Attestation reference (only with --intent attest).
    #[arg(long, value_name = "ID")]
    pub attestation_reference_id: Option<String>,
    /// Files to submit.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Flags shared by the three imports.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The CSV file (header row required).
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
    /// Requests in flight at once; all share one access token.
    #[arg(long, short = 'c', default_value_t = DEFAULT_CONCURRENCY, value_parser = parse_concurrency)]
    pub concurrency: usize,
    /// Record each row's outcome durably here; rerun with the same path to resume after a
    /// crash or Ctrl-C (finished rows are skipped, failed rows retried).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Write failed and invalid rows here as CSV (input columns plus error_code,
    /// error_message, source_line); fix it and pass it back as input.
    #[arg(long, value_name = "PATH")]
    pub failures: Option<PathBuf>,
    /// Send again rows that an earlier run left in flight (invitations and documents only;
    /// this may duplicate them if the earlier request did arrive).
    #[arg(long)]
    pub resend_in_doubt: bool,
    /// Validate the file and report problems without sending anything.
    #[arg(long)]
    pub dry_run: bool,
}

/// Concurrency must be between 1 and 256.
fn parse_concurrency(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n @ 1..=256) => Ok(n),
        _ => Err(format!("{value:?} is not a number from 1 to 256")),
    }
}

/// Flags of `pearsana demo`.
#[cfg(feature = "sandbox")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Requests in flight during the demo import.
    #[arg(long, default_value_t = 4, value_parser = parse_concurrency)]
    pub concurrency: usize,
}

/// `pearsana sandbox`: the sandbox server's own flags.
#[cfg(feature = "sandbox")]
#[derive(Debug, Args)]
pub struct SandboxCommand {
    /// The flags of `pearsana-sandbox`.
    #[command(flatten)]
    pub args: pearsana_sandbox::SandboxArgs,
}

const USERS_IMPORT_HELP: &str = "\
Columns (header names match ignoring case, '_', '-' and spaces):
  required: email, firstName, lastName, roleName, namespace, externalId
  optional: preferredName, phone, currency, line1, line2, line3, city, state, zip,
            country, dateOfBirth (YYYY-MM-DD), citizenship
A user that already exists (same email) counts as `existing`, not as a failure. Rerunning
is always safe for users.";

const INVITATIONS_IMPORT_HELP: &str = "\
Columns (header names match ignoring case, '_', '-' and spaces):
  required: email, firstName, lastName, namespace, externalId
  optional: message, roles (separated by ';', default student)
Invitations are not idempotent: a row whose request was in flight when a run was killed is
reported as IN_DOUBT and not sent again unless --resend-in-doubt is given.";

const DOCUMENTS_IMPORT_HELP: &str = "\
Columns (header names match ignoring case, '_', '-' and spaces), one row per file:
  required: namespace, externalId, documentType, file (path relative to the manifest)
  optional: filename, verificationIntent (store_only|attest), attestationReferenceId,
            partnerReferenceId
Rows are sent in batches of at most 25. Documents are not idempotent: rows whose batch was
in flight when a run was killed are reported as IN_DOUBT unless --resend-in-doubt is given.";

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn references_parse_as_namespace_and_id() {
        let r: RefArg = "SIS:STU-1:a".parse().unwrap();
        assert_eq!(
            (r.namespace.as_str(), r.external_id.as_str()),
            ("SIS", "STU-1:a")
        );
        assert!("SIS".parse::<RefArg>().is_err());
        assert!(":x".parse::<RefArg>().is_err());
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "pearsana", "users", "import", "r.csv", "--env", "local", "-c", "3", "-vv",
        ])
        .unwrap();
        assert_eq!(cli.global.env, Some(EnvName::Local));
        assert_eq!(cli.global.verbose, 2);
        let Command::Users(UsersCommand::Import(args)) = cli.command else {
            panic!("users import")
        };
        assert_eq!(args.concurrency, 3);
        assert!(Cli::try_parse_from(["pearsana", "users", "import", "r.csv", "-c", "0"]).is_err());
    }

    #[test]
    fn help_never_shows_the_secret_from_the_environment() {
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("PEARSANA_CLIENT_SECRET", "s3cr3t-value") };
        let help = Cli::command().render_long_help().to_string();
        unsafe { std::env::remove_var("PEARSANA_CLIENT_SECRET") };
        assert!(help.contains("PEARSANA_CLIENT_SECRET"));
        assert!(!help.contains("s3cr3t-value"));
        assert!(help.contains("Exit status"));
    }
}
