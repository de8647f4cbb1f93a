#!/usr/bin/env bash
# `make contract`: schemathesis (from PyPI) runs the OpenAPI document against `make dev` and fails on
# any server error or any response that contradicts the document.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STATE=$ROOT/.local
mkdir -p "$STATE"

command -v st >/dev/null || python3 -m pip install --quiet --disable-pip-version-check schemathesis 2>&1 |
  grep -v "Running pip as the 'root' user" || true

setsid dev/run.sh >"$STATE/contract-dev.log" 2>&1 &
DEV=$!
stop_dev() {
  kill -INT -- "-$DEV" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$DEV" 2>/dev/null || break; sleep 0.1; done
}
trap stop_dev EXIT

echo "[contract] waiting for make dev on 127.0.0.1:9000"
for _ in $(seq 300); do
  curl -sf -o /dev/null 127.0.0.1:9000/tools?limit=1 && break
  kill -0 "$DEV" 2>/dev/null || { cat "$STATE/contract-dev.log"; echo "[contract] make dev exited"; exit 1; }
  sleep 2
done
# Warm every function (cargo lambda watch compiles each on its first request).
curl -s -o /dev/null 127.0.0.1:9000/auth/session || true
curl -s -o /dev/null -X POST 127.0.0.1:9000/tools || true

TOKEN=$(curl -sf 127.0.0.1:9000/auth/login -H 'Content-Type: application/json' \
  -d '{"email": "demo@example.com", "password": "demo-password"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])')

export PYTHONPATH=$ROOT SCHEMATHESIS_HOOKS=dev.contract_hooks
# Run from the ignored state folder: files schemathesis writes (.hypothesis/, reports) must not make
# `cargo lambda watch` rebuild the functions mid-run.
cd "$STATE"
contract() {
  st --no-color run "$ROOT/openapi.yaml" --url http://127.0.0.1:9000 \
    --header "Authorization: Bearer $TOKEN" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "${CONTRACT_EXAMPLES:-25}" --seed 1 "$@"
}
# Logout ends the session the token belongs to: run it last, alone.
contract --exclude-operation-id logout
contract --include-operation-id logout
