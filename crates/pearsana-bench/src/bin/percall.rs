//! Per-call cost of the SDK against the raw client, in load-independent units: heap
//! allocations per call (a counting global allocator) and, under
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*percall*measured*'`,
//! instructions per call.
//!
//! Everything runs on one current-thread runtime in this process: the sandbox, reqwest's
//! connection tasks and the calls. Only [`measured`] is counted (its own `block_on` drives every
//! task), after a warm-up that opens the connection and fetches the token.
//!
//! ```text
//! percall <sdk-ping|raw-ping|sdk-create|raw-create> [calls]
//! percall wall [ping|create]
//! ```
//!
//! `wall` is the only timed mode (indicative, load-dependent): both clients on a multi-thread
//! runtime, concurrency 1, alternating rounds, median calls per second of each.

#[path = "../fixtures.rs"]
#[allow(dead_code)]
mod fixtures;
#[path = "../raw_client.rs"]
#[allow(dead_code)]
mod raw_client;
#[path = "../setup.rs"]
#[allow(dead_code)]
mod setup;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use pearsana_api::types::CreateUserRequest;

/// The system allocator, counting calls and bytes.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The two clients under test.
enum Side {
    Sdk(pearsana::Client),
    Raw(raw_client::RawClient),
}

impl Side {
    async fn call(&self, create: Option<&CreateUserRequest>) -> anyhow::Result<()> {
        match (self, create) {
            (Side::Sdk(c), None) => c.ping().await.map(drop).map_err(Into::into),
            (Side::Sdk(c), Some(body)) => c.create_user(body).await.map(drop).map_err(Into::into),
            (Side::Raw(c), None) => c.ping().await.map(drop),
            (Side::Raw(c), Some(body)) => c.create_user(body).await.map(drop),
        }
    }
}

/// The counted part: `bodies.len()` calls (or `calls` pings).
#[inline(never)]
fn measured(
    runtime: &tokio::runtime::Runtime,
    side: &Side,
    calls: usize,
    bodies: &[CreateUserRequest],
) -> anyhow::Result<()> {
    runtime.block_on(async {
        for i in 0..calls {
            side.call(bodies.get(i)).await?;
        }
        Ok(())
    })
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_default();
    if mode == "wall" {
        let create = args.next().as_deref() == Some("create");
        return wall(create);
    }
    let calls: usize = args.next().map_or(Ok(2000), |n| n.parse())?;
    let (sdk, create) = match mode.as_str() {
        "sdk-ping" => (true, false),
        "raw-ping" => (false, false),
        "sdk-create" => (true, true),
        "raw-create" => (false, true),
        _ => bail!("usage: percall <sdk-ping|raw-ping|sdk-create|raw-create> [calls]"),
    };
    // `PERCALL_MT=1`: a multi-thread runtime instead (for counting syscalls and wake-ups
    // across threads with `strace -f -c`; instruction counts are for the default).
    let runtime = if std::env::var_os("PERCALL_MT").is_some() {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    let warm = 50;
    let (sandbox, side) = runtime.block_on(async {
        let sandbox = setup::sandbox().await?;
        let url = sandbox.url();
        let http = raw_client::http_client(1)?;
        let side = if sdk {
            Side::Sdk(setup::sdk_client(&url, http)?)
        } else {
            Side::Raw(setup::raw_client(&url, http).await?)
        };
        anyhow::Ok((sandbox, side))
    })?;
    let prefix = if sdk { "s" } else { "r" };
    let bodies = |from: usize, n: usize| -> Vec<CreateUserRequest> {
        if create {
            (from..from + n)
                .map(|i| fixtures::user_request(prefix, i as u64))
                .collect()
        } else {
            Vec::new()
        }
    };
    let warm_bodies = bodies(0, warm);
    warm_up(&runtime, &side, warm, &warm_bodies).context("warm-up")?;
    let bodies = bodies(warm, calls);
    let (a0, b0) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    measured(&runtime, &side, calls, &bodies)?;
    let (a1, b1) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        BYTES.load(Ordering::Relaxed),
    );
    println!(
        "{mode}: {calls} calls, {:.1} allocations/call, {:.0} bytes allocated/call (whole process: client and sandbox)",
        (a1 - a0) as f64 / calls as f64,
        (b1 - b0) as f64 / calls as f64,
    );
    runtime.block_on(sandbox.shutdown());
    Ok(())
}

/// The warm-up, outside the counted function (its calls in reverse order, so the compiler
/// cannot fold it into [`measured`] and have callgrind count it too).
#[inline(never)]
fn warm_up(
    runtime: &tokio::runtime::Runtime,
    side: &Side,
    calls: usize,
    bodies: &[CreateUserRequest],
) -> anyhow::Result<()> {
    runtime.block_on(async {
        for i in (0..calls).rev() {
            side.call(bodies.get(i)).await?;
        }
        Ok(())
    })
}

/// Alternating timed rounds of both clients at concurrency 1 on a multi-thread runtime.
fn wall(create: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let sandbox = setup::sandbox().await?;
        let url = sandbox.url();
        let sdk = Side::Sdk(setup::sdk_client(&url, raw_client::http_client(1)?)?);
        let raw = Side::Raw(setup::raw_client(&url, raw_client::http_client(1)?).await?);
        let mut n = 0u64;
        let (mut sdk_rates, mut raw_rates) = (Vec::new(), Vec::new());
        for round in 0..21 {
            for (side, rates) in [(&sdk, &mut sdk_rates), (&raw, &mut raw_rates)] {
                let started = std::time::Instant::now();
                let mut calls = 0u32;
                while started.elapsed() < std::time::Duration::from_millis(300) {
                    n += 1;
                    let body = create.then(|| fixtures::user_request("w", n));
                    side.call(body.as_ref()).await?;
                    calls += 1;
                }
                if round > 0 {
                    rates.push(f64::from(calls) / started.elapsed().as_secs_f64());
                }
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (s, r) = (median(&mut sdk_rates), median(&mut raw_rates));
        println!(
            "{}: SDK {s:.0}/s, raw {r:.0}/s, SDK/raw {:.3}, SDK extra {:.1} us/call",
            if create { "create" } else { "ping" },
            s / r,
            (1.0 / s - 1.0 / r) * 1e6
        );
        sandbox.shutdown().await;
        anyhow::Ok(())
    })
}
