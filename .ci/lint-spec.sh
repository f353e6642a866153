#!/usr/bin/env bash
# Validates the OpenAPI spec (openapi-spec-validator) and lints it (Redocly `recommended`, then
# Spectral with the OpenAPI and OWASP API security rules of .spectral.yaml), installing the tools
# locally first: a Python venv under target/ and npm packages under .ci/tools/node_modules,
# pinned in .ci/tools/package.json and package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/ci-venv
if [ ! -x "$venv/bin/openapi-spec-validator" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'openapi-spec-validator==0.9.0'
fi
if [ ! -x .ci/tools/node_modules/.bin/redocly ] || [ ! -x .ci/tools/node_modules/.bin/spectral ]; then
  (cd .ci/tools && npm ci --no-audit --no-fund --loglevel=error)
fi

for spec in openapi/pearsana-partner.yaml openapi/pearsana-partner.json; do
  "$venv/bin/openapi-spec-validator" "$spec"
done

# Redocly exits non-zero on errors; warnings are counted from its summary and fail too.
out=$(REDOCLY_TELEMETRY=off .ci/tools/node_modules/.bin/redocly lint --format=stylish \
  openapi/pearsana-partner.yaml 2>&1) || { echo "$out"; exit 1; }
echo "$out" | grep -v -e '^ *[║╔╚]' -e '^$' || true
if echo "$out" | grep -qiE '[0-9]+ (problem|warning|error)'; then
  echo "redocly reported problems" >&2
  exit 1
fi
# Spectral: 0 errors and 0 warnings (every warning fails with --fail-severity=warn).
.ci/tools/node_modules/.bin/spectral lint --ruleset .spectral.yaml --fail-severity=warn \
  --format=text openapi/pearsana-partner.yaml
echo "spec: valid (openapi-spec-validator) and lint-clean (redocly recommended, spectral oas + owasp)"
