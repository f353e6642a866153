//! The `peak-rss` helper reports a child's own peak memory, not the memory of whoever started
//! it (Linux carries `ru_maxrss` over from the parent's memory map at spawn).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_pearsana-bench");

fn peak_rss_of(shell: &str) -> u64 {
    let report = std::env::temp_dir().join(format!(
        "peak-rss-test-{}-{}",
        std::process::id(),
        shell.len()
    ));
    let status = Command::new(BIN)
        .args(["peak-rss", "--report"])
        .arg(&report)
        .args(["--", "sh", "-c", shell])
        .status()
        .unwrap();
    assert!(status.success(), "{status}");
    let bytes = std::fs::read_to_string(&report)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    std::fs::remove_file(&report).unwrap();
    bytes
}

#[test]
fn a_small_child_of_a_large_parent_is_measured_small() {
    // Make this test process large (and resident) before it starts the helper.
    let ballast = vec![1u8; 300 << 20];
    let small = peak_rss_of("true");
    assert!(ballast.iter().step_by(4096).all(|&b| b == 1));
    assert!(
        small < 32 << 20,
        "a shell running `true` measured {} MiB",
        small >> 20
    );
}

#[test]
fn a_child_that_holds_memory_is_measured_large() {
    // `sort` must hold its whole single 60 MB line.
    let large = peak_rss_of("head -c 60000000 /dev/zero | tr '\\0' a | sort > /dev/null");
    assert!(large > 55_000_000, "measured only {large} bytes");
}

#[test]
fn the_helper_exits_with_the_child_status() {
    let report = std::env::temp_dir().join(format!("peak-rss-status-{}", std::process::id()));
    let status = Command::new(BIN)
        .args(["peak-rss", "--report"])
        .arg(&report)
        .args(["--", "sh", "-c", "exit 7"])
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(7));
    let _ = std::fs::remove_file(&report);
}
