#!/usr/bin/env bash
# The crates as a partner gets them: each published crate packages and builds from its own
# tarball, the TLS feature choices of the SDK build, the CLI without its default `sandbox`
# feature has no server stack in its tree, and no dependency needs a newer Rust than the
# crates' `rust-version` (.ci/msrv.py; clippy's incompatible_msrv checks std APIs).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "--- cargo package (builds each crate from its packaged sources)"
# --allow-dirty: CI runs on a clean clone, but a developer may run this before committing.
cargo package --quiet --allow-dirty -p pearsana-api -p pearsana -p pearsana-sandbox -p pearsana-cli
ls target/package/*.crate

echo "--- TLS stacks of the SDK (rustls with aws-lc-rs is the default, built by every other step)"
cargo test --quiet -p pearsana --no-default-features --features rustls-ring --lib tls::
cargo check --quiet -p pearsana --no-default-features --features native-tls
if cargo tree -p pearsana --no-default-features --features rustls-ring -e normal | grep -q aws-lc; then
  echo "rustls-ring still pulls in aws-lc" >&2
  exit 1
fi

echo "--- the lean CLI: no embedded sandbox"
cargo build --quiet -p pearsana-cli --no-default-features --features rustls
lean=$(cargo tree -p pearsana-cli --no-default-features --features rustls -e normal --prefix none)
for heavy in axum jsonwebtoken pearsana-sandbox; do
  if grep -q "^$heavy " <<<"$lean"; then
    echo "pearsana-cli --no-default-features still depends on $heavy" >&2
    exit 1
  fi
done
help=$(target/debug/pearsana --help)
if grep -qE '^  (demo|sandbox) ' <<<"$help"; then
  echo "the lean CLI still offers demo/sandbox" >&2
  exit 1
fi
echo "lean CLI: $(sort -u <<<"$lean" | wc -l) crates in its tree, none of axum, jsonwebtoken, pearsana-sandbox"

echo "--- rust-version"
python3 .ci/msrv.py
