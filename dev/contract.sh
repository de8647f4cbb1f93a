#!/usr/bin/env bash
# `make contract` (through dev/with-dev.sh): schemathesis (from PyPI) runs the OpenAPI document
# against `make dev` and fails on any server error or any response that contradicts the document.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STATE=$ROOT/.local
mkdir -p "$STATE"

command -v st >/dev/null || python3 -m pip install --quiet --disable-pip-version-check schemathesis 2>&1 |
  grep -v "Running pip as the 'root' user" || true

TOKEN=$(curl -sf 127.0.0.1:9000/auth/login -H 'Content-Type: application/json' \
  -d '{"email": "demo@example.com", "password": "demo-password"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])')

export PYTHONPATH=$ROOT SCHEMATHESIS_HOOKS=dev.contract_hooks
# Run from the ignored state folder, so what schemathesis writes (.hypothesis/, reports) stays there.
cd "$STATE"
contract() {
  st --no-color run "$ROOT/openapi.yaml" --url http://127.0.0.1:9000 \
    --header "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "${CONTRACT_EXAMPLES:-25}" --seed 1 "$@"
}
# Logout, logout-all and revoking a session (schemathesis finds the token's own in the session
# list) end the session the token belongs to: run them last, alone.
ENDS_SESSION="logout logoutAll revokeSession"
# shellcheck disable=SC2046,SC2086
contract $(printf -- '--exclude-operation-id %s ' $ENDS_SESSION)
# shellcheck disable=SC2046,SC2086
contract $(printf -- '--include-operation-id %s ' $ENDS_SESSION)
