#!/usr/bin/env bash
# Real PostgreSQL 15, MinIO and OpenSearch 2.19.3 for the test suite, without Docker.
#   bash scripts/services.sh start [postgres|minio|opensearch ...]   (no names: all three)
#   bash scripts/services.sh stop  [names]      bash scripts/services.sh status      bash scripts/services.sh env
# Installs what is missing (Debian postgresql; `go install` MinIO; OpenSearch zip via Maven on Java 17),
# caching binaries under ${XDG_CACHE_HOME:-~/.cache}/chatvault. Ports are chosen once per state dir and
# reused, so `stop opensearch; start opensearch` comes back on the same port with its data.
# After start, <state>/env holds the CHATVAULT_TEST_* settings the tests read.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${CHATVAULT_SERVICES_DIR:-$REPO/.services}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/chatvault"
PG_BIN=/usr/lib/postgresql/15/bin
OS_VERSION=2.19.3
JAVA17="${CHATVAULT_JAVA17_HOME:-/usr/lib/jvm/java-17-openjdk-amd64}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
mkdir -p "$STATE" "$CACHE/bin"
STATE="$(cd "$STATE" && pwd)"

log() { echo "[services] $*" >&2; }
die() { echo "[services] ERROR: $*" >&2; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
port_of() {  # port_of NAME -> a port stored in the state dir (chosen once)
  local f="$STATE/$1.port"
  [ -s "$f" ] || free_port > "$f"
  cat "$f"
}
secret_of() {
  local f="$STATE/$1.secret"
  [ -s "$f" ] || python3 -c 'import secrets; print(secrets.token_hex(16))' > "$f"
  cat "$f"
}
as_user() {  # as_user USER CMD... : run as USER when we are root, else as ourselves
  local user=$1; shift
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}
wait_for() {  # wait_for NAME SECONDS LOGFILE CMD...
  local name=$1 secs=$2 logf=$3; shift 3
  local i
  for ((i = 0; i < secs; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "---- last lines of $logf ----" >&2; tail -n 40 "$logf" >&2 || true
  die "$name did not become ready within ${secs}s"
}

# ---------------------------------------------------------------- PostgreSQL
pg_dir() {  # the cluster must be reachable by the postgres user: keep it outside /root when root
  if [ "$(id -u)" -eq 0 ]; then
    echo "/tmp/chatvault-pg-$(echo "$STATE" | sha1sum | cut -c1-10)"
  else
    echo "$STATE/pg"
  fi
}
pg_user() { if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi; }
pg_running() { [ -f "$(pg_dir)/data/postmaster.pid" ] && "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$(port_of postgres)"; }

pg_install() {
  [ -x "$PG_BIN/initdb" ] && return 0
  log "installing PostgreSQL 15 (Debian package postgresql)…"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  [ -x "$PG_BIN/initdb" ] || die "postgresql installed but $PG_BIN/initdb is missing"
}

pg_start() {
  pg_install
  local dir port user pass
  dir=$(pg_dir); port=$(port_of postgres); user=$(pg_user)
  if pg_running; then log "postgres already running on $port"; return 0; fi
  mkdir -p "$dir"
  # the password lives with the cluster, so a cluster and its password can never disagree
  if [ -f "$dir/data/PG_VERSION" ] && [ ! -s "$dir/password" ]; then rm -rf "$dir/data"; fi
  [ -s "$dir/password" ] || python3 -c 'import secrets; print(secrets.token_hex(16))' > "$dir/password"
  chmod 600 "$dir/password"
  pass=$(cat "$dir/password")
  [ "$(id -u)" -eq 0 ] && chown "$user" "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    local pwfile="$dir/pw"
    echo "$pass" > "$pwfile"; [ "$(id -u)" -eq 0 ] && chown "$user" "$pwfile"
    as_user "$user" "$PG_BIN/initdb" -D "$dir/data" -U chatvault --pwfile="$pwfile" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { tail -n 20 "$dir/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
  fi
  as_user "$user" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null \
    || { tail -n 30 "$dir/server.log" >&2; die "postgres did not start"; }
  wait_for postgres 60 "$dir/server.log" "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$port"
  if ! PGPASSWORD="$pass" "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U chatvault -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='chatvault_test'" | grep -q 1; then
    PGPASSWORD="$pass" "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U chatvault -d postgres -qc "CREATE DATABASE chatvault_test" >/dev/null
  fi
  log "postgres ready on 127.0.0.1:$port"
}

pg_stop() {
  local dir; dir=$(pg_dir)
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_user "$(pg_user)" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  log "postgres stopped"
}

# ---------------------------------------------------------------- MinIO
minio_bin() { echo "$CACHE/bin/minio"; }
minio_install() {
  [ -x "$(minio_bin)" ] && return 0
  command -v go >/dev/null || die "Go is needed to build MinIO (go install github.com/minio/minio@latest)"
  log "building MinIO with go install (first time only; takes a few minutes)…"
  local lock="$CACHE/minio.build.lock"
  ( flock 9; [ -x "$(minio_bin)" ] || GOBIN="$CACHE/bin" GOFLAGS=-mod=mod go install github.com/minio/minio@latest ) 9>"$lock"
  [ -x "$(minio_bin)" ] || die "MinIO build failed"
}
pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }

minio_start() {
  minio_install
  local port cport pid="$STATE/minio.pid"
  port=$(port_of minio); cport=$(port_of minio-console)
  if pid_alive "$pid"; then log "minio already running on $port"; return 0; fi
  mkdir -p "$STATE/minio-data"
  MINIO_ROOT_USER=chatvault MINIO_ROOT_PASSWORD="$(secret_of minio)" MINIO_BROWSER=off \
    nohup "$(minio_bin)" server "$STATE/minio-data" --address "127.0.0.1:$port" --console-address "127.0.0.1:$cport" \
    >"$STATE/minio.log" 2>&1 &
  echo $! > "$pid"
  wait_for minio 60 "$STATE/minio.log" curl -sf "http://127.0.0.1:$port/minio/health/ready"
  log "minio ready on 127.0.0.1:$port"
}

stop_pid() {  # stop_pid NAME PIDFILE
  local pid="$2"
  pid_alive "$pid" || { rm -f "$pid"; return 0; }
  kill "$(cat "$pid" 2>/dev/null)" 2>/dev/null || true
  for _ in $(seq 1 30); do pid_alive "$pid" || break; sleep 1; done
  pid_alive "$pid" && kill -9 "$(cat "$pid" 2>/dev/null)" 2>/dev/null || true
  rm -f "$pid"
  log "$1 stopped"
}
minio_stop() { stop_pid minio "$STATE/minio.pid"; }

# ---------------------------------------------------------------- OpenSearch
os_home() { echo "$CACHE/opensearch-$OS_VERSION"; }
os_run_home() {  # as root the cache under /root is not readable by the OpenSearch user: run a copy in /tmp
  if [ "$(id -u)" -eq 0 ]; then
    local h="/tmp/chatvault-opensearch-$OS_VERSION"
    if [ ! -x "$h/bin/opensearch" ]; then
      rm -rf "$h.tmp"; cp -r "$(os_home)" "$h.tmp"; chmod -R a+rX "$h.tmp"; mv "$h.tmp" "$h"
    fi
    echo "$h"
  else
    os_home
  fi
}
os_user() { if [ "$(id -u)" -eq 0 ]; then echo chatvault; else id -un; fi; }
os_install() {
  [ -x "$JAVA17/bin/java" ] || { log "installing openjdk-17…"; $SUDO apt-get update -qq; $SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
  [ -x "$(os_home)/bin/opensearch" ] && return 0
  local zip="$HOME/.m2/repository/org/opensearch/distribution/integ-test-zip/opensearch/$OS_VERSION/opensearch-$OS_VERSION.zip"
  if [ ! -f "$zip" ]; then
    command -v mvn >/dev/null || { $SUDO apt-get update -qq; $SUDO apt-get install -y -qq maven >/dev/null; }
    log "downloading OpenSearch $OS_VERSION from Maven Central…"
    mvn -q dependency:get -Dartifact="org.opensearch.distribution.integ-test-zip:opensearch:$OS_VERSION:zip" >&2
  fi
  local tmp="$CACHE/os-unzip.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" "$tmp"
  chmod +x "$tmp"/opensearch-*/bin/* 2>/dev/null || true
  mv "$tmp"/opensearch-* "$(os_home)" 2>/dev/null || true
  rm -rf "$tmp"
  [ -x "$(os_home)/bin/opensearch" ] || die "OpenSearch unpack failed"
}
os_dir() {  # data/config must be writable by the (non-root) OpenSearch user
  if [ "$(id -u)" -eq 0 ]; then echo "/tmp/chatvault-os-$(echo "$STATE" | sha1sum | cut -c1-10)"; else echo "$STATE/opensearch"; fi
}

os_start() {
  os_install
  local port tport dir user pid
  port=$(port_of opensearch); tport=$(port_of opensearch-transport); dir=$(os_dir); user=$(os_user)
  pid="$dir/opensearch.pid"
  if pid_alive "$pid"; then log "opensearch already running on $port"; return 0; fi
  if [ "$(id -u)" -eq 0 ] && ! id "$user" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$user"
  fi
  mkdir -p "$dir/data" "$dir/logs"
  if [ ! -f "$dir/config/opensearch.yml" ]; then
    rm -rf "$dir/config"; cp -r "$(os_home)/config" "$dir/config"
  fi
  # small heap for 2-core test machines; GC log and heap dumps inside the state dir
  sed -i -e 's/^-Xms.*/-Xms512m/' -e 's/^-Xmx.*/-Xmx512m/' -e "s#file=logs/gc.log#file=$dir/logs/gc.log#" \
    -e "s#^-XX:HeapDumpPath=.*#-XX:HeapDumpPath=$dir/logs#" -e "s#^-XX:ErrorFile=.*#-XX:ErrorFile=$dir/logs/hs_err_pid%p.log#" \
    "$dir/config/jvm.options"
  local home; home=$(os_run_home)
  [ "$(id -u)" -eq 0 ] && chown -R "$user" "$dir"
  cd "$dir"
  as_user "$user" env JAVA_HOME="$JAVA17" OPENSEARCH_JAVA_HOME="$JAVA17" OPENSEARCH_PATH_CONF="$dir/config" \
    OPENSEARCH_JAVA_OPTS="-Xms512m -Xmx512m -XX:-HeapDumpOnOutOfMemoryError" \
    "$home/bin/opensearch" -d -p "$pid" \
    -Ediscovery.type=single-node -Enetwork.host=127.0.0.1 -Ehttp.port="$port" -Etransport.port="$tport" \
    -Epath.data="$dir/data" -Epath.logs="$dir/logs" -Ecluster.name=chatvault-test \
    -Ecluster.routing.allocation.disk.threshold_enabled=false -Eaction.auto_create_index=false \
    >"$dir/stdout.log" 2>&1 || { tail -n 30 "$dir/stdout.log" >&2; die "opensearch did not start"; }
  wait_for opensearch 180 "$dir/logs/chatvault-test.log" \
    curl -sf "http://127.0.0.1:$port/_cluster/health?wait_for_status=yellow&timeout=1s"
  log "opensearch ready on 127.0.0.1:$port"
}
os_stop() { stop_pid opensearch "$(os_dir)/opensearch.pid"; }

# ---------------------------------------------------------------- env / status
write_env() {
  {
    echo "export CHATVAULT_TEST_DATABASE_URL=postgresql+psycopg://chatvault:$(cat "$(pg_dir)/password" 2>/dev/null)@127.0.0.1:$(port_of postgres)/chatvault_test"
    echo "export CHATVAULT_TEST_MINIO_ENDPOINT=127.0.0.1:$(port_of minio)"
    echo "export CHATVAULT_TEST_MINIO_ACCESS_KEY=chatvault"
    echo "export CHATVAULT_TEST_MINIO_SECRET_KEY=$(secret_of minio)"
    echo "export CHATVAULT_TEST_OPENSEARCH_URL=http://127.0.0.1:$(port_of opensearch)"
    echo "export CHATVAULT_TEST_SERVICES_SCRIPT=$REPO/scripts/services.sh"
  } > "$STATE/env"
  chmod 600 "$STATE/env"
}

status() {
  pg_running && echo "postgres   up   127.0.0.1:$(port_of postgres)" || echo "postgres   down"
  pid_alive "$STATE/minio.pid" && echo "minio      up   127.0.0.1:$(port_of minio)" || echo "minio      down"
  pid_alive "$(os_dir)/opensearch.pid" && echo "opensearch up   127.0.0.1:$(port_of opensearch)" || echo "opensearch down"
}

names() { if [ $# -eq 0 ]; then echo postgres minio opensearch; else echo "$@"; fi; }

cmd=${1:-status}; shift || true
case "$cmd" in
  start)
    for s in $(names "$@"); do
      case $s in postgres) pg_start ;; minio) minio_start ;; opensearch) os_start ;; *) die "unknown service $s" ;; esac
    done
    write_env; cat "$STATE/env" ;;
  stop)
    for s in $(names "$@"); do
      case $s in postgres) pg_stop ;; minio) minio_stop ;; opensearch) os_stop ;; *) die "unknown service $s" ;; esac
    done ;;
  status) status ;;
  env) write_env; cat "$STATE/env" ;;
  *) die "usage: $0 start|stop|status|env [postgres|minio|opensearch ...]" ;;
esac
