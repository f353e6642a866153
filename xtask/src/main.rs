//! Workspace automation for pearsana-rs.
//!
//! `cargo xtask codegen` regenerates everything derived from the OpenAPI spec;
//! `cargo xtask codegen --check` proves the committed files are what the spec produces. Both run
//! the same code: the outputs are always computed in memory first and then either written or
//! compared.

mod bench;
mod bounds;
mod builders;
mod codegen;
mod compat;
mod constants;
mod docs;
mod open_enums;
mod public_api;
mod samples;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  codegen           regenerate the client crate and the JSON spec from openapi/pearsana-partner.yaml
  codegen --check   fail (and print a diff) if the committed generated files differ from the spec
  docs              render the spec to crates/pearsana-sandbox/assets/api-reference.html (Redocly)
  docs --check      fail if that page differs from a fresh render
  public-api        write public-api/pearsana.txt and public-api/pearsana-api.txt (rustdoc JSON, stable)
  public-api --check  fail (and print a diff) if the public Rust API differs from those files
  bench             run the benchmarks of issue 6 (release builds, Prism) and write BENCHMARKS.md
  bench --smoke     run every benchmark scenario at a tiny size (writes target/bench-smoke.md)
  partner-compat    check that partner code using builders still compiles against a spec with
                    one more optional request field (scratch crate under target/partner-compat)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["codegen"] => codegen::run(codegen::Mode::Write),
        ["codegen", "--check"] => codegen::run(codegen::Mode::Check),
        ["docs"] => docs::run(codegen::Mode::Write),
        ["docs", "--check"] => docs::run(codegen::Mode::Check),
        ["public-api"] => public_api::run(codegen::Mode::Write),
        ["public-api", "--check"] => public_api::run(codegen::Mode::Check),
        ["bench"] => bench::run(bench::Mode::Full),
        ["bench", "--smoke"] => bench::run(bench::Mode::Smoke),
        ["partner-compat"] => compat::run(),
        ["help" | "--help" | "-h"] | [] => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprint!("unknown arguments: {}\n\n{USAGE}", args.join(" "));
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
