# Sourced by CI scripts: builds and starts a pearsana-sandbox on a free loopback port.
# After `start_sandbox [extra args]`, $SANDBOX_URL is its base URL; it is stopped when the
# calling script exits. Requires `set -euo pipefail` in the caller.

start_sandbox() {
  local target_dir=${CARGO_TARGET_DIR:-target}
  cargo build --quiet -p pearsana-sandbox
  SANDBOX_LOG=$(mktemp)
  "$target_dir/debug/pearsana-sandbox" --listen 127.0.0.1:0 --seed 1 "$@" >"$SANDBOX_LOG" 2>/dev/null &
  SANDBOX_PID=$!
  trap 'kill "$SANDBOX_PID" 2>/dev/null || true; wait "$SANDBOX_PID" 2>/dev/null || true; rm -f "$SANDBOX_LOG"' EXIT
  SANDBOX_URL=
  for _ in $(seq 100); do
    SANDBOX_URL=$(sed -n 's/^pearsana-sandbox listening on //p' "$SANDBOX_LOG")
    [ -n "$SANDBOX_URL" ] && break
    sleep 0.1
  done
  [ -n "$SANDBOX_URL" ] || { echo "sandbox did not start" >&2; exit 1; }
  export SANDBOX_URL
}
