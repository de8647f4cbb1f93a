#!/usr/bin/env bash
# The local stack: Redis and MariaDB on loopback, data under .local/ (ignored by git).
#
#   dev/stack.sh up [redis] [redis-cluster] [mariadb]
#                        install (as root, via apt) if missing, start what is not running (by
#                        default Redis and MariaDB, plus the Redis Cluster when REDIS_MODE=cluster),
#                        create the databases and the `mcp` user; records what it started in
#                        .local/started
#   dev/stack.sh clean-test-dbs
#                        drop the per-test databases (mcp_test_*) earlier test runs left
#   dev/stack.sh down [redis|redis-cluster|mariadb|emulator|relay ...]
#                        stop what `up` started (all of it by default, or only the named), and
#                        nothing else
#
# The Redis Cluster is three primaries on 127.0.0.1:7000-7002 (REDIS_CLUSTER_PORTS), no replicas,
# no persistence: what REDIS_MODE=cluster talks to locally.
#
# Defaults: Redis 127.0.0.1:6379, MariaDB 127.0.0.1:3306 with
# databases mcp and mcp_test and user mcp / password mcp; override the ports with REDIS_PORT,
# REDIS_CLUSTER_PORTS, MYSQL_PORT, and MariaDB's buffer pool (a quarter of the machine's memory,
# 1 to 8 GiB) with MYSQL_BUFFER_POOL.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
STATE=${STACK_DIR:-$ROOT/.local}
REDIS_PORT=${REDIS_PORT:-6379}
REDIS_CLUSTER_PORTS=${REDIS_CLUSTER_PORTS:-7000 7001 7002}
MYSQL_PORT=${MYSQL_PORT:-3306}
MYSQL_SOCKET=$STATE/mysql.sock
STARTED=$STATE/started

log() { printf '[stack] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

install_missing() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v mariadbd >/dev/null || missing+=(mariadb-server)
  command -v mariadb >/dev/null || missing+=(mariadb-client)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "missing: ${missing[*]}. Install them (e.g. sudo apt-get install -y ${missing[*]}) and rerun."
    exit 1
  fi
  log "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
}

start_redis() {
  if port_open "$REDIS_PORT"; then
    log "redis already listening on 127.0.0.1:$REDIS_PORT; using it"
    return
  fi
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log" --dir "$STATE"
  for _ in $(seq 50); do port_open "$REDIS_PORT" && break; sleep 0.1; done
  port_open "$REDIS_PORT" || { log "redis did not start; see $STATE/redis.log"; exit 1; }
  echo redis >>"$STARTED"
  log "redis on 127.0.0.1:$REDIS_PORT"
}

cluster_ok() { redis-cli -p "$1" cluster info 2>/dev/null | grep -q '^cluster_state:ok'; }

start_redis_cluster() {
  local ports=($REDIS_CLUSTER_PORTS) open=0 port
  for port in "${ports[@]}"; do port_open "$port" && open=$((open + 1)); done
  if [ "$open" -eq "${#ports[@]}" ] && cluster_ok "${ports[0]}"; then
    log "Redis Cluster already on 127.0.0.1:${ports[*]}; using it"
    return
  fi
  if [ "$open" -ne 0 ]; then
    log "some of the ports ${ports[*]} are taken, but not by a working Redis Cluster"
    exit 1
  fi
  local nodes=()
  for port in "${ports[@]}"; do
    local dir=$STATE/redis-cluster/$port
    rm -rf "$dir" && mkdir -p "$dir"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 2000 \
      --cluster-require-full-coverage no \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
    nodes+=("127.0.0.1:$port")
  done
  for port in "${ports[@]}"; do
    for _ in $(seq 50); do port_open "$port" && break; sleep 0.1; done
  done
  echo redis-cluster >>"$STARTED"
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$STATE/redis-cluster/create.log" 2>&1 ||
    { log "redis-cli --cluster create failed; see $STATE/redis-cluster/create.log"; exit 1; }
  for port in "${ports[@]}"; do
    for _ in $(seq 100); do cluster_ok "$port" && break; sleep 0.1; done
    cluster_ok "$port" || { log "the Redis Cluster did not settle; see $STATE/redis-cluster/$port/redis.log"; exit 1; }
  done
  log "Redis Cluster on 127.0.0.1:${ports[*]} (three primaries)"
}

start_mariadb() {
  if port_open "$MYSQL_PORT"; then
    log "something already listens on 127.0.0.1:$MYSQL_PORT; using it as MariaDB"
    return
  fi
  if [ ! -d "$STATE/mysql/mysql" ]; then
    log "initialising MariaDB data in $STATE/mysql"
    mariadb-install-db --user=root --datadir="$STATE/mysql" --auth-root-authentication-method=normal \
      --skip-test-db >"$STATE/mysql-install.log" 2>&1
  fi
  # setsid: the server survives the shell that started it, and Ctrl-C in `make dev` reaches only
  # the foreground; `down` stops it by its pid file. A large redo log and buffer pool (allocated
  # as used) keep bulk loads (`make scale`) from stalling on checkpoints and on reads: a million
  # tools and their index rows fill about 5 GiB, as an Aurora instance sized for them holds in
  # memory. The I/O capacity is an SSD's (the default, 200, is a spinning disk's): with it the
  # page cleaner keeps up with an import instead of stalling it near the end of the redo log. No
  # doublewrite buffer, as on Aurora (its storage writes pages whole): it guards pages torn by an
  # operating system crash, which a local database can afford to lose, and it wrote every flushed
  # page twice.
  local memory_kib pool_mib
  memory_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
  pool_mib=$((memory_kib / 4 / 1024))
  pool_mib=$((pool_mib < 1024 ? 1024 : pool_mib > 8192 ? 8192 : pool_mib))
  setsid mariadbd --user=root --datadir="$STATE/mysql" --port="$MYSQL_PORT" --bind-address=127.0.0.1 \
    --socket="$MYSQL_SOCKET" --pid-file="$STATE/mysql.pid" --log-error="$STATE/mysql.err" \
    --innodb-buffer-pool-size="${MYSQL_BUFFER_POOL:-${pool_mib}M}" --innodb-log-file-size=4G \
    --innodb-io-capacity=4000 --innodb-doublewrite=0 --innodb-flush-log-at-trx-commit=2 --skip-name-resolve \
    </dev/null >/dev/null 2>&1 &
  for _ in $(seq 100); do mariadb-admin --socket="$MYSQL_SOCKET" -uroot ping >/dev/null 2>&1 && break; sleep 0.2; done
  mariadb-admin --socket="$MYSQL_SOCKET" -uroot ping >/dev/null 2>&1 ||
    { log "MariaDB did not start; see $STATE/mysql.err"; exit 1; }
  echo mariadb >>"$STARTED"
  mariadb --socket="$MYSQL_SOCKET" -uroot <<'SQL'
CREATE DATABASE IF NOT EXISTS mcp CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE DATABASE IF NOT EXISTS mcp_test CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'mcp'@'127.0.0.1' IDENTIFIED BY 'mcp';
CREATE USER IF NOT EXISTS 'mcp'@'localhost' IDENTIFIED BY 'mcp';
-- `mcp` is the administrator (as the master user on Aurora): it runs the migrations, which create
-- one user per function and grant it only what that function needs.
GRANT CREATE USER ON *.* TO 'mcp'@'127.0.0.1', 'mcp'@'localhost';
GRANT ALL PRIVILEGES ON mcp.* TO 'mcp'@'127.0.0.1', 'mcp'@'localhost' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON mcp_test.* TO 'mcp'@'127.0.0.1', 'mcp'@'localhost' WITH GRANT OPTION;
-- Each test run creates databases of its own (mcp_test_<id>): isolated outboxes, as deployments.
GRANT ALL PRIVILEGES ON `mcp\_test\_%`.* TO 'mcp'@'127.0.0.1', 'mcp'@'localhost' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
  log "MariaDB on 127.0.0.1:$MYSQL_PORT (databases mcp, mcp_test; user mcp/mcp)"
}

stop_pidfile() {
  local name=$1 file=$2
  [ -f "$file" ] || return 0
  local pid
  pid=$(cat "$file")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    log "stopped $name"
  fi
  rm -f "$file"
}

case "${1:-}" in
  up)
    shift
    default="redis mariadb"
    [ "${REDIS_MODE:-standalone}" = cluster ] && default="redis redis-cluster mariadb"
    mkdir -p "$STATE"
    install_missing
    for service in ${*:-$default}; do
      case "$service" in
        redis) start_redis ;;
        redis-cluster) start_redis_cluster ;;
        mariadb) start_mariadb ;;
        *) log "unknown service $service" && exit 2 ;;
      esac
    done
    ;;
  clean-test-dbs)
    client=(mariadb --socket="$MYSQL_SOCKET" -uroot)
    [ -S "$MYSQL_SOCKET" ] || client=(mariadb -h127.0.0.1 -P"$MYSQL_PORT" -umcp -pmcp)
    for db in $("${client[@]}" -N -e "SHOW DATABASES LIKE 'mcp\_test\_%'"); do
      "${client[@]}" -e "DROP DATABASE \`$db\`"
    done
    ;;
  down)
    shift
    wanted=${*:-redis redis-cluster mariadb emulator relay}
    for service in $wanted; do
      case "$service" in
        redis | redis-cluster | mariadb)
          [ -f "$STARTED" ] && grep -qx "$service" "$STARTED" || continue
          case "$service" in
            redis) stop_pidfile redis "$STATE/redis.pid" ;;
            redis-cluster)
              for port in $REDIS_CLUSTER_PORTS; do
                stop_pidfile "Redis Cluster node $port" "$STATE/redis-cluster/$port/redis.pid"
              done
              ;;
            mariadb) stop_pidfile MariaDB "$STATE/mysql.pid" ;;
          esac
          grep -vx "$service" "$STARTED" >"$STARTED.tmp" || true
          mv "$STARTED.tmp" "$STARTED"
          ;;
        emulator) stop_pidfile "Data API emulator" "$STATE/emulator.pid" ;;
        relay) stop_pidfile "Runtime API relay" "$STATE/relay.pid" ;;
      esac
    done
    ;;
  *)
    echo "usage: $0 up|down|clean-test-dbs [service...]" >&2
    exit 2
    ;;
esac
