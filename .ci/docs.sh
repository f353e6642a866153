#!/usr/bin/env bash
# The rendered API reference: `cargo xtask docs --check` rebuilds it from the spec and the
# pinned Redoc bundle and compares it with the committed page; then a fresh sandbox serves it at
# /docs and headless Chromium (Debian's package) renders it. Every operation of the spec must
# appear in the rendered page (Redoc draws operations with JavaScript, so they are absent from
# the page's static markup), and the page must fetch nothing from outside the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib/sandbox.sh

if [ ! -d .ci/tools/node_modules/redoc ]; then
  (cd .ci/tools && npm ci --no-audit --no-fund --loglevel=error)
fi
bash .ci/install-chromium.sh

cargo xtask docs --check
start_sandbox

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"; kill "$SANDBOX_PID" 2>/dev/null || true' EXIT
# No name resolves except loopback: neither the page nor Chromium's own background services
# can reach the network.
timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$scratch/profile" \
  --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
  --virtual-time-budget=15000 \
  --log-net-log="$scratch/net.json" \
  --dump-dom "$SANDBOX_URL/docs" >"$scratch/dom.html" 2>"$scratch/chromium.log" ||
  { tail -n 20 "$scratch/chromium.log"; echo "chromium failed" >&2; exit 1; }

python3 - "$scratch/dom.html" "$scratch/net.json" openapi/pearsana-partner.json <<'PY'
import json, re, sys
from urllib.parse import urlparse

dom, net, spec = (open(path, encoding="utf-8").read() for path in sys.argv[1:])
# Only what the browser drew: drop scripts (they embed the spec) and styles.
drawn = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S)
text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", drawn))
operations = [
    (op["operationId"], op["summary"])
    for item in json.loads(spec)["paths"].values()
    for op in item.values()
]
missing = [
    op_id for op_id, summary in operations
    if f'id="operation/{op_id}"' not in drawn or summary not in text
]
if missing:
    sys.exit(f"/docs rendered without the operations {missing}")
# Chromium's own services (update checks, account probes) try google hosts; they cannot
# resolve here. Anything else outside loopback would be the page fetching from elsewhere.
browser_hosts = ("google.com", "googleapis.com", "gvt1.com", "gstatic.com")
outside = sorted({
    url for url in re.findall(r'"url":"([^"]+)"', net)
    if urlparse(url).hostname not in ("127.0.0.1", "localhost")
    and not (urlparse(url).hostname or "").endswith(browser_hosts)
    and urlparse(url).scheme in ("http", "https", "ws", "wss")
})
if outside:
    sys.exit(f"/docs fetched from outside the sandbox: {outside}")
print(f"/docs: all {len(operations)} operations rendered in headless Chromium; "
      "nothing fetched from outside the sandbox")
PY
