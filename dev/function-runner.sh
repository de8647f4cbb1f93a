#!/usr/bin/env bash
# How `make dev` starts each function binary under `cargo lambda watch` (as cargo's target
# runner): pointed at the Runtime API through dev/runtime-relay instead of directly, so that no
# answer a function sends is held back or lost by cargo-lambda's emulator (why: see
# dev/runtime-relay/src/lib.rs). Only the address changes: cargo lambda watch sets
# AWS_LAMBDA_RUNTIME_API to http://127.0.0.1:9000/.rt/<function>, the relay takes the same paths.
api=${AWS_LAMBDA_RUNTIME_API:-}
if [ -n "${RUNTIME_RELAY_ADDR:-}" ] && [ -n "$api" ]; then
  scheme=""
  case "$api" in *://*) scheme="${api%%://*}://" api="${api#*://}" ;; esac
  path=""
  case "$api" in */*) path="/${api#*/}" ;; esac
  export AWS_LAMBDA_RUNTIME_API="$scheme$RUNTIME_RELAY_ADDR$path"
fi
exec "$@"
