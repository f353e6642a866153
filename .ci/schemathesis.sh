#!/usr/bin/env bash
# Contract test: runs schemathesis (property-based API testing) against a freshly started
# pearsana-sandbox with the spec in openapi/, and fails on server errors, answers that violate
# the spec, or crashes. Installs schemathesis into a venv under target/ on first use.
#
# Bounded in time: a fixed seed, --max-examples per operation, a per-run --max-time, and
# the fuzzing phases only (no stateful phase: the spec defines no links between operations).
set -euo pipefail
cd "$(dirname "$0")/.."

version=4.32.5
target_dir=${CARGO_TARGET_DIR:-target}
venv=$target_dir/schemathesis-venv
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "version $version\$"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

cargo build --quiet -p pearsana-sandbox
log=$(mktemp)
"$target_dir/debug/pearsana-sandbox" --listen 127.0.0.1:0 --seed 1 >"$log" 2>/dev/null &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT

url=
for _ in $(seq 100); do
  url=$(sed -n 's/^pearsana-sandbox listening on //p' "$log")
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "sandbox did not start" >&2; exit 1; }

token=$(curl -fsS -X POST "$url/oauth2/token" \
  -d grant_type=client_credentials -d client_id=sandbox-client -d client_secret=sandbox-secret |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')

# Every check runs except the ones .ci/schemathesis.toml turns off, each with its reason there.
start=$(date +%s)
"$venv/bin/schemathesis" --config-file .ci/schemathesis.toml --no-color \
  run openapi/pearsana-partner.yaml \
  --url "$url" \
  -H "Authorization: Bearer $token" \
  --phases examples,coverage,fuzzing \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-100}" \
  --max-time "${SCHEMATHESIS_MAX_TIME:-120}" \
  --seed 20260130 \
  --workers 1 \
  --request-timeout 30 \
  --suppress-health-check data_too_large,too_slow,large_base_example
echo "schemathesis: passed in $(( $(date +%s) - start ))s"
