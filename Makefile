# The two commands of the README, and a few more. Everything installs what it needs.
.PHONY: dev test stop bench scale lint fmt services contract load smoke template lambda-build

# Start Redis, MariaDB, the Data API emulator, migrate + seed, serve the API on 127.0.0.1:9000.
dev:
	dev/run.sh

# The suites that use Redis run a second time with REDIS_MODE=cluster: against the local
# three-primary cluster, and (the fault tests) against single-node clusters like ElastiCache
# Serverless.
CLUSTER_SUITES = --test properties --test fleet --test fleet_properties --test auth --test limits \
	--test api --test metrics --test mcp --test sweeper --test bounds --test search --test idempotency --test sync

# Start what the tests need (Redis, the Redis Cluster, MariaDB) and run every test.
test: services
	dev/stack.sh clean-test-dbs
	cargo test --workspace --no-fail-fast -- --test-threads=4
	TEST_REDIS_MODE=cluster cargo test -p integration-tests --no-fail-fast $(CLUSTER_SUITES) -- --test-threads=4

# Start Redis, the local Redis Cluster and MariaDB only (idempotent).
services:
	dev/stack.sh up redis redis-cluster mariadb

# Stop what `make dev` / `make test` started, and nothing else.
stop:
	dev/stack.sh down

# In-process latency figures for cache hit / miss / list hit beside a bare Redis GET, in both
# Redis modes.
bench: services
	cargo bench -p integration-tests --bench cache
	TEST_REDIS_MODE=cluster cargo bench -p integration-tests --bench cache

# A million synthetic tools in the `make dev` database (loaded once), then every list shape's cache
# miss through the API: latency and the rows the database examined. TOOLS=20000 for a quick look.
scale:
	dev/with-dev.sh dev/scale.py --tools $${TOOLS:-1000000}

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

# schemathesis: openapi.yaml against `make dev` (no server errors, no contradictions). This target
# and `load` use the `make dev` already running, or start one for their run.
contract:
	dev/with-dev.sh dev/contract.sh

# 8 clients x 30 s of mixed reads and writes against `make dev`; fails on any error.
load:
	dev/with-dev.sh dev/load.py --clients 8 --seconds 30

# End to end, as a client: a deployment's (API=https://…), or `make dev`'s when API is unset.
smoke:
	@if [ -n "$(API)" ]; then dev/smoke.py --api "$(API)"; else dev/with-dev.sh dev/smoke.py; fi

# cfn-lint and sam validate --lint of template.yaml.
template:
	dev/install-tools.sh sam
	cfn-lint template.yaml
	sam validate --lint

# sam build for x86_64 (arm64 needs its Rust target); prints the stripped bootstrap sizes.
lambda-build:
	dev/install-tools.sh cargo-lambda sam
	sam build --beta-features --parameter-overrides Architecture=x86_64
	@for f in .aws-sam/build/*/bootstrap; do printf '%-50s %8d bytes (stripped: %s)\n' "$$f" "$$(stat -c %s "$$f")" "$$(file -b "$$f" | grep -o 'not stripped\|stripped' | head -1)"; done
