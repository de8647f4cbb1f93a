#!/usr/bin/env bash
# dev/with-dev.sh COMMAND...: runs COMMAND against `make dev` on 127.0.0.1:9000. If nothing answers
# there yet, it starts `make dev` in the background for the command (log in .local/with-dev.log) and
# stops it afterwards; a `make dev` already running is used as it is and left running.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
STATE=$ROOT/.local
mkdir -p "$STATE"

if ! curl -sf -o /dev/null 127.0.0.1:9000/tools?limit=1; then
  setsid dev/run.sh >"$STATE/with-dev.log" 2>&1 &
  DEV=$!
  stop_dev() {
    kill -INT -- "-$DEV" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$DEV" 2>/dev/null || break; sleep 0.1; done
  }
  trap stop_dev EXIT
  echo "[with-dev] starting make dev (log: .local/with-dev.log)"
  for _ in $(seq 300); do
    curl -sf -o /dev/null 127.0.0.1:9000/tools?limit=1 && break
    kill -0 "$DEV" 2>/dev/null || { cat "$STATE/with-dev.log"; echo "[with-dev] make dev exited"; exit 1; }
    sleep 2
  done
fi
# Warm every function: cargo lambda watch compiles and starts each on its first request.
curl -s -o /dev/null 127.0.0.1:9000/auth/session || true
curl -s -o /dev/null -X POST 127.0.0.1:9000/tools || true

"$@"
