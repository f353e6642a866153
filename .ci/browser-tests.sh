#!/usr/bin/env bash
# Browser test of the sandbox console (issue 13): starts the sandbox, creates users and an
# invitation through the CLI, then checks in headless Chromium that they appear on the console
# and that pressing Accept turns the invitation `accepted`. Installs Chromium if missing.
#   bash .ci/browser-tests.sh [--screenshot FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install-chromium.sh

cargo build -q -p pearsana-sandbox -p pearsana-cli
bin="${CARGO_TARGET_DIR:-target}/debug"
work="$(mktemp -d)"
sandbox_pid=""
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

PEARSANA_SANDBOX_LOG=warn "$bin/pearsana-sandbox" --listen 127.0.0.1:0 > "$work/banner" &
sandbox_pid=$!
for _ in $(seq 100); do
  if grep -q "listening on" "$work/banner" 2>/dev/null; then break; fi
  sleep 0.1
done
url="$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/banner" | head -1)"
[ -n "$url" ] || { echo "the sandbox did not start"; exit 1; }

export PEARSANA_API_URL="$url" PEARSANA_CLIENT_ID=sandbox-client PEARSANA_CLIENT_SECRET=sandbox-secret
pearsana() { "$bin/pearsana" --output json "$@" > /dev/null; }
pearsana users create --email ada@example.com --first-name Ada --last-name Lovelace --ref SIS:1001
pearsana users create --email alan@example.com --first-name Alan --last-name Turing --ref SIS:1002
pearsana invitations create --email grace@example.com --first-name Grace --last-name Hopper --ref LMS:2001
printf '%%PDF-1.4 transcript\n' > "$work/transcript.pdf"
pearsana documents submit --ref SIS:1001 --type OFFICIAL_TRANSCRIPT "$work/transcript.pdf"
# A scripted fault that stays queued, so the console shows one.
token="$(curl -sf "$url/oauth2/token" -d grant_type=client_credentials \
  -d client_id=sandbox-client -d client_secret=sandbox-secret | sed 's/.*"access_token":"\([^"]*\)".*/\1/')"
curl -sf "$url/sandbox/v1/faults" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"faults":[{"operation":"create_user","fault":"429"}]}' > /dev/null

node crates/pearsana-sandbox/tests/browser/console.mjs "$url" \
  --users ada@example.com,alan@example.com --accept grace@example.com "$@"
