#!/usr/bin/env bash
# Breaking-change gate: the spec must not break clients of the released API version unless it
# says so with a new version date. The newest file in openapi/released/ (named by its API
# version date) is the baseline; Optic (`@useoptic/optic`, pinned in .ci/tools) diffs it against
# openapi/pearsana-partner.yaml with its `breaking-changes` ruleset (.ci/optic-standard.yml).
#
# - info.version equal to the baseline's date: any breaking change fails.
# - info.version newer: breaking changes are allowed (and listed); release the new version by
#   adding openapi/released/<date>.yaml.
# - info.version older than the baseline: fails.
# A canary first runs the same check on a copy of the spec with one operation removed, which
# must fail: a tool that silently checks nothing cannot pass this gate.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .ci/tools/node_modules/.bin/optic ]; then
  (cd .ci/tools && npm ci --no-audit --no-fund --loglevel=error)
fi
export OPTIC_TELEMETRY_LEVEL=off
optic() { .ci/tools/node_modules/.bin/optic "$@"; }

spec=openapi/pearsana-partner.yaml
baseline=$(ls openapi/released/*.yaml | sort | tail -n 1)
released=$(basename "$baseline" .yaml)
current=$(sed -n 's/^  version: "\{0,1\}\([0-9-]*\)"\{0,1\}$/\1/p' "$spec" | head -n 1)
[ -n "$current" ] || { echo "no info.version in $spec" >&2; exit 1; }
echo "baseline $baseline (API version $released), current spec $spec (API version $current)"

scratch=$(mktemp -d)
# With CI=true Optic also writes ci-run-details.json into the working directory; the clone
# stays clean.
trap 'rm -rf "$scratch" ci-run-details.json' EXIT
# Canary: /ping removed must be reported as breaking.
sed 's|^  /ping:$|  /ping-removed-by-canary:|' "$spec" >"$scratch/canary.yaml"
if optic diff "$baseline" "$scratch/canary.yaml" --check --standard .ci/optic-standard.yml \
  >"$scratch/canary.log" 2>&1; then
  cat "$scratch/canary.log"
  echo "canary: removing GET /ping was not reported as breaking; the gate checks nothing" >&2
  exit 1
fi
echo "canary: removing an operation is reported as breaking"

if [[ "$current" < "$released" ]]; then
  echo "info.version $current is older than the released $released" >&2
  exit 1
fi
if optic diff "$baseline" "$spec" --check --standard .ci/optic-standard.yml >"$scratch/diff.log" 2>&1; then
  grep -E 'Checks:|operations? changed' "$scratch/diff.log" || true
  echo "no breaking change against API version $released"
elif [ "$current" != "$released" ]; then
  grep -vE '^\s*$' "$scratch/diff.log" | head -n 200
  echo "breaking changes above are released as the new API version $current" \
    "(add openapi/released/$current.yaml when it ships)"
else
  cat "$scratch/diff.log"
  echo "breaking change against the released API version $released: keep the change" \
    "compatible or give the spec a new info.version date" >&2
  exit 1
fi
