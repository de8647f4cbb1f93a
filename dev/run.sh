#!/usr/bin/env bash
# `make dev`: the whole local stack in the foreground. Starts Redis and MariaDB (dev/stack.sh),
# the Data API emulator, applies the migrations and the seed through the Data API, then serves the
# API with `cargo lambda watch` on 127.0.0.1:9000 and invokes the cache sweeper through it, as
# EventBridge does on AWS (but back to back instead of once a minute). Ctrl-C stops what this
# script started.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STATE=$ROOT/.local
mkdir -p "$STATE"

export AWS_REGION=${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-local} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-local}
export AWS_EC2_METADATA_DISABLED=true
export EMULATOR_ADDR=${EMULATOR_ADDR:-127.0.0.1:8080}
export AWS_ENDPOINT_URL_RDS_DATA=${AWS_ENDPOINT_URL_RDS_DATA:-http://$EMULATOR_ADDR}
export EMULATOR_MYSQL_URL=${EMULATOR_MYSQL_URL:-mysql://mcp:mcp@127.0.0.1:${MYSQL_PORT:-3306}/mcp}
# The Data API runs each call as the database user of its secret, and serves the secrets to
# Secrets Manager clients (mcp-admin reads the functions' passwords from them), as on AWS.
# The auth function's two secrets are generated once per checkout (as the template generates them
# on AWS), kept in .local, and served with dev/secrets.json's fixed local ones.
if [ -z "${EMULATOR_SECRETS_FILE:-}" ]; then
  python3 - "$ROOT/dev/secrets.json" "$STATE/auth-secrets.json" "$STATE/secrets.json" <<'PY'
import json, os, secrets, sys
fixed, generated, served = sys.argv[1:]
arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:local-"
if not os.path.exists(generated):
    keys = {arn + name: secrets.token_urlsafe(48) for name in ("token-signing-key", "refresh-token-key")}
    with open(generated, "w") as f:
        json.dump(keys, f)
with open(fixed) as f, open(generated) as g:
    merged = {**json.load(f), **json.load(g)}
with open(served, "w") as f:
    json.dump(merged, f, indent=2)
PY
  export EMULATOR_SECRETS_FILE=$STATE/secrets.json
fi
export AWS_ENDPOINT_URL_SECRETS_MANAGER=${AWS_ENDPOINT_URL_SECRETS_MANAGER:-http://$EMULATOR_ADDR}
export DB_NAME=${DB_NAME:-mcp}
# What the SAM template gives the functions on AWS, pointed at the local stack: under `cargo lambda
# watch`, as on Lambda, a function starts only with these set (each one's DB_SECRET_ARN, and auth's
# token secrets, are set by dev/function-runner.sh). The keys are local secrets served by the
# emulator, as Secrets Manager.
export DB_CLUSTER_ARN=${DB_CLUSTER_ARN:-arn:aws:rds:us-east-1:123456789012:cluster:local}
export CURSOR_SECRET_ARN=${CURSOR_SECRET_ARN:-arn:aws:secretsmanager:us-east-1:123456789012:secret:local-cursor-key}
# REDIS_MODE=cluster make dev: the functions use the local three-primary Redis Cluster.
export REDIS_MODE=${REDIS_MODE:-standalone}
case "$REDIS_MODE" in
  standalone) export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379} ;;
  cluster) export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002} ;;
  *) echo "REDIS_MODE must be standalone or cluster" >&2 && exit 2 ;;
esac

# Stop on exit only what this run started: services that were already up stay up.
STARTED_BEFORE=$(cat "$STATE/started" 2>/dev/null || true)
cleanup() {
  trap - EXIT INT TERM
  [ -n "${SWEEPER_LOOP:-}" ] && kill "$SWEEPER_LOOP" 2>/dev/null
  local ours=(emulator relay)
  for service in $(cat "$STATE/started" 2>/dev/null); do
    grep -qx "$service" <<<"$STARTED_BEFORE" || ours+=("$service")
  done
  "$ROOT/dev/stack.sh" down "${ours[@]}" || true
}
trap cleanup EXIT INT TERM

"$ROOT/dev/install-tools.sh" cargo-lambda
"$ROOT/dev/stack.sh" up

cargo build --quiet -p data-api-emulator -p admin -p runtime-relay
"$ROOT/target/debug/data-api-emulator" >"$STATE/emulator.log" 2>&1 &
echo $! >"$STATE/emulator.pid"
for _ in $(seq 50); do (exec 3<>"/dev/tcp/${EMULATOR_ADDR%:*}/${EMULATOR_ADDR#*:}") 2>/dev/null && break; sleep 0.1; done

"$ROOT/target/debug/mcp-admin" migrate
"$ROOT/target/debug/mcp-admin" seed

# The scheduled cache sweeper, invoked through the same local runtime as the API functions. Each
# run drains the outbox every SWEEPER_POLL_MS for SWEEPER_RUN_SECS (or until its deadline).
sweep() {
  local invoke=http://127.0.0.1:9000/2015-03-31/functions/cache-sweeper/invocations
  until curl -s -o /dev/null http://127.0.0.1:9000/tools; do sleep 2; done
  while true; do
    curl -s -o /dev/null -X POST "$invoke" --data-binary @"$ROOT/events/sweeper-schedule.json" || sleep 5
    sleep 1
  done
}
sweep &
SWEEPER_LOOP=$!

# Each function reaches the Runtime API of `cargo lambda watch` through dev/runtime-relay, which
# makes sure the emulator reads every answer whole (why: see dev/runtime-relay/src/lib.rs).
# RUNTIME_RELAY=off leaves it out (to compare).
if [ "${RUNTIME_RELAY:-on}" != off ]; then
  export RUNTIME_RELAY_ADDR=${RUNTIME_RELAY_ADDR:-127.0.0.1:9009} RUNTIME_RELAY_UPSTREAM=127.0.0.1:9000
  "$ROOT/target/debug/runtime-relay" >"$STATE/relay.log" 2>&1 &
  echo $! >"$STATE/relay.pid"
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/${RUNTIME_RELAY_ADDR%:*}/${RUNTIME_RELAY_ADDR#*:}") 2>/dev/null && break; sleep 0.1; done
  kill -0 "$(cat "$STATE/relay.pid")" 2>/dev/null || {
    cat "$STATE/relay.log" >&2
    echo "[dev] the runtime relay did not start (is $RUNTIME_RELAY_ADDR taken? make stop)" >&2
    exit 1
  }
fi
HOST_TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
export "CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$HOST_TRIPLE")_RUNNER=$ROOT/dev/function-runner.sh"

echo "[dev] serving the API on http://127.0.0.1:9000 (Redis: $REDIS_MODE; try: curl 127.0.0.1:9000/tools); Ctrl-C stops"
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port 9000
