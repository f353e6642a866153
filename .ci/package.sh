#!/usr/bin/env bash
# The crates as a partner gets them: each published crate packages and builds from its own
# tarball, the TLS feature choices of the SDK build, the CLI without its default `sandbox`
# feature has no server stack in its tree, and no dependency needs a newer Rust than the
# crates' `rust-version` (.ci/msrv.py; clippy's incompatible_msrv checks std APIs).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "--- cargo package (builds each crate from its packaged sources)"
# --allow-dirty: CI runs on a clean clone, but a developer may run this before committing.
# Packaging several workspace crates together verifies each against the others through a local
# registry under target/package, and cargo unpacks that registry's crates into
# $CARGO_HOME/registry/src/-<hash of its path>/ without ever replacing a directory that is
# already there. A clone at a path that packaged before (a CI checkout, say) would verify
# pearsana-sandbox against the pearsana-api of that earlier commit, so those unpacked copies
# of our own crates go first; crates from crates.io are untouched.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/pearsana-*
# For the same reason cargo takes a registry crate it has built once as fresh whatever its
# sources now say: forget the builds of our crates made from such an unpacked copy (their
# dep-info names a file under registry/src/-<hash>/), so verification compiles this commit.
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
for depinfo in "$target_dir"/debug/deps/pearsana*.d; do
  [ -e "$depinfo" ] || continue
  if grep -q "registry/src/-[0-9a-f]*/pearsana" "$depinfo"; then
    unit=$(basename "$depinfo" .d)                      # pearsana_api-<metadata hash>
    rm -rf "$target_dir/debug/.fingerprint/${unit//_/-}"
  fi
done
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
