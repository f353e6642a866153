//! The scenarios: the six of issue 6, the import-memory scenario of issue 14 and the
//! rate-limited import of issue 9.

pub mod build_cost;
pub mod documents;
pub mod import;
pub mod import_memory;
pub mod overhead;
pub mod rate_limited;
pub mod server;
pub mod stampede;

use crate::Bench;
use crate::report::Section;

/// Every scenario, by number, in order.
pub const ALL: &[(u8, &str)] = &[
    (1, "SDK overhead"),
    (2, "Token path under a stampede"),
    (3, "Bulk import"),
    (4, "Sandbox server"),
    (5, "Large documents"),
    (6, "Code generation and build cost"),
    (7, "Import memory: a national roster"),
    (8, "Rate-limited import"),
];

/// Runs scenario `number`; the asynchronous ones each get a fresh runtime, so no scenario
/// inherits another's tasks or connections.
pub fn run(number: u8, bench: &Bench) -> anyhow::Result<Section> {
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    };
    match number {
        1 => runtime()?.block_on(overhead::run(bench)),
        2 => runtime()?.block_on(stampede::run(bench)),
        3 => runtime()?.block_on(import::run(bench)),
        4 => runtime()?.block_on(server::run(bench)),
        5 => runtime()?.block_on(documents::run(bench)),
        6 => build_cost::run(bench),
        7 => runtime()?.block_on(import_memory::run(bench)),
        8 => runtime()?.block_on(rate_limited::run(bench)),
        _ => anyhow::bail!("there is no scenario {number}"),
    }
}
