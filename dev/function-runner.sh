#!/usr/bin/env bash
# How `make dev` starts each function binary under `cargo lambda watch` (as cargo's target
# runner): with its own database secret, as the SAM template gives each function one (and auth
# its token secrets), and (unless RUNTIME_RELAY=off) pointed at the Runtime API through
# dev/runtime-relay instead of directly, so
# that no answer a function sends is held back or lost by cargo-lambda's emulator (why: see
# dev/runtime-relay/src/lib.rs). Only the address changes: cargo lambda watch sets
# AWS_LAMBDA_RUNTIME_API to http://127.0.0.1:9000/.rt/<function>, the relay takes the same paths.
local_secret=arn:aws:secretsmanager:us-east-1:123456789012:secret:local
if [ -n "${AWS_LAMBDA_FUNCTION_NAME:-}" ]; then
  export DB_SECRET_ARN="$local_secret-$AWS_LAMBDA_FUNCTION_NAME"
fi
# Only auth signs access tokens and derives refresh tokens (dev/run.sh generates the secrets).
if [ "${AWS_LAMBDA_FUNCTION_NAME:-}" = auth ]; then
  export TOKEN_SIGNING_SECRET_ARN="$local_secret-token-signing-key"
  export REFRESH_TOKEN_SECRET_ARN="$local_secret-refresh-token-key"
fi
api=${AWS_LAMBDA_RUNTIME_API:-}
if [ -n "${RUNTIME_RELAY_ADDR:-}" ] && [ -n "$api" ]; then
  scheme=""
  case "$api" in *://*) scheme="${api%%://*}://" api="${api#*://}" ;; esac
  path=""
  case "$api" in */*) path="/${api#*/}" ;; esac
  export AWS_LAMBDA_RUNTIME_API="$scheme$RUNTIME_RELAY_ADDR$path"
fi
exec "$@"
