#!/usr/bin/env bash
# Every generator a partner is likely to use must consume the spec: openapi-python-client and
# openapi-generator (`python`, `typescript-fetch`) each generate all six operations from
# openapi/pearsana-partner.yaml; the results are imported or compiled, and the
# openapi-python-client client is driven against a fresh sandbox through every operation and
# one error path (.ci/generators/drive_python_client.py).
#
# Tools: a venv under target/ from the pinned .ci/generators/requirements.txt (openapi-generator
# ships its jar in that package and runs on the machine's Java 17) and TypeScript from
# .ci/tools (package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
source .ci/lib/sandbox.sh

target_dir=${CARGO_TARGET_DIR:-target}
venv=$target_dir/generators-venv
requirements=.ci/generators/requirements.txt
stamp=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
  echo "$stamp" >"$venv/.installed"
fi
if [ ! -x .ci/tools/node_modules/.bin/tsc ]; then
  (cd .ci/tools && npm ci --no-audit --no-fund --loglevel=error)
fi
export PATH="$(cd "$venv/bin" && pwd):$PATH"

spec=openapi/pearsana-partner.yaml
out=$target_dir/generated-clients
rm -rf "$out"
mkdir -p "$out"
operations=(getHealth ping createUser createInvitation submitDocument submitDocumentBatch)
snake=(get_health ping create_user create_invitation submit_document submit_document_batch)

echo "--- openapi-python-client $(openapi-python-client --version | awk '{print $NF}')"
# --fail-on-warning: a skipped operation or schema is a warning, so it fails here.
openapi-python-client generate --path "$spec" --meta none --fail-on-warning \
  --config .ci/generators/python-client.yaml \
  --output-path "$out/python-client/pearsana_partner_client"

echo "--- openapi-generator $(openapi-generator-cli version) (python)"
openapi-generator-cli generate -i "$spec" -g python -o "$out/openapi-generator-python" \
  --package-name pearsana_partner --global-property apiDocs=false,modelDocs=false,apiTests=false,modelTests=false \
  >"$out/openapi-generator-python.log"
PYTHONPATH="$out/openapi-generator-python" python - "${snake[@]}" <<'PY'
import sys
import pearsana_partner
from pearsana_partner.api import DocumentsApi, HealthApi, InvitationsApi, UsersApi
methods = {name for api in (DocumentsApi, HealthApi, InvitationsApi, UsersApi) for name in dir(api)}
missing = [op for op in sys.argv[1:] if op not in methods]
assert not missing, f"openapi-generator python lacks {missing}"
print(f"openapi-generator python: imports, all {len(sys.argv) - 1} operations present")
PY

echo "--- openapi-generator $(openapi-generator-cli version) (typescript-fetch)"
openapi-generator-cli generate -i "$spec" -g typescript-fetch -o "$out/typescript-fetch" \
  --additional-properties=supportsES6=true,npmName=pearsana-partner,npmVersion=0.0.0 \
  >"$out/typescript-fetch.log"
.ci/tools/node_modules/.bin/tsc -p "$out/typescript-fetch/tsconfig.json"
for op in "${operations[@]}"; do
  grep -q "  $op(" "$out"/typescript-fetch/dist/apis/*.d.ts ||
    { echo "typescript-fetch lacks $op" >&2; exit 1; }
done
echo "typescript-fetch: compiles with tsc $(.ci/tools/node_modules/.bin/tsc --version | awk '{print $2}'), all ${#operations[@]} operations present"

echo "--- driving the openapi-python-client client against the sandbox"
start_sandbox
PYTHONPATH="$out/python-client" python .ci/generators/drive_python_client.py "$SANDBOX_URL"
