#!/usr/bin/env bash
# Real PostgreSQL 15, MinIO and OpenSearch 2.19.3 for the test suite, without Docker.
#
#   bash scripts/services.sh start [postgres|minio|opensearch ...]   no names: all three
#   bash scripts/services.sh stop  [postgres|minio|opensearch ...]   no names: all three
#   bash scripts/services.sh status
#   bash scripts/services.sh env      print (and rewrite) <state>/env for the running services
#                                     (start and stop rewrite it too)
#
# State (data, logs, ports, passwords): ${CHATVAULT_SERVICES_DIR:-<repo>/.services}
# Cache (MinIO binary, unpacked OpenSearch): ${XDG_CACHE_HOME:-~/.cache}/chatvault - CI keeps it.
# Missing software is installed on first use: PostgreSQL 15 with apt, MinIO with `go install`
# (minutes), OpenSearch from Maven Central with `mvn dependency:get`, run on Java 17.
# Ports are chosen once per state dir and reused, so `stop opensearch; start opensearch` comes back on
# the same port with its data. `start` returns only when every service answers, and writes
# <state>/env: `export CHATVAULT_TEST_*=...` lines that tests/conftest.py reads.
# As root, PostgreSQL runs as the `postgres` user and OpenSearch as a `chatvault` system user
# (both refuse to run as root).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${CHATVAULT_SERVICES_DIR:-$REPO/.services}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/chatvault"
TIMEOUT="${CHATVAULT_SERVICES_TIMEOUT:-240}"  # seconds each service may take to become ready
PG_BIN=/usr/lib/postgresql/15/bin               # not /usr/local/bin/pg_ctl: may be a wrapper
OS_VERSION=2.19.3
OS_ARTIFACT="org.opensearch.distribution.integ-test-zip:opensearch:$OS_VERSION:zip"
ALL_SERVICES="postgres minio opensearch"

if [ "$(id -u)" -eq 0 ]; then IS_ROOT=1; SUDO=(); else IS_ROOT=0; SUDO=(sudo); fi
mkdir -p "$STATE" "$CACHE/bin"
STATE="$(cd "$STATE" && pwd)"

# ------------------------------------------------------------------------------------------ helpers
log() { echo "[services] $*" >&2; }
die() { echo "[services] ERROR: $*" >&2; exit 1; }

as_user() {  # as_user USER CMD... : as USER when we are root, else as ourselves
  local user=$1; shift
  if [ "$IS_ROOT" = 1 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

apt_install() {  # apt_install PACKAGE... (progress goes to stderr)
  command -v apt-get >/dev/null || die "apt-get not found: install $* yourself"
  log "installing $* with apt-get…"
  "${SUDO[@]}" apt-get update -q >&2
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
}

random_hex() { python3 -c 'import secrets; print(secrets.token_hex(16))'; }

port_in_use() {  # port_in_use PORT : true when something listens on 127.0.0.1:PORT
  python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT leftovers do not count
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)
EOF
}

new_port() {  # a free port below the kernel's ephemeral range (clients never get it), not used here yet
  { cat "$STATE"/*.port 2>/dev/null || true; } | python3 -c '
import random, socket, sys
taken = {int(p) for p in sys.stdin.read().split()}
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    port = random.randint(10000, lo - 1) if lo > 12000 else 0
    if port in taken:
        continue
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    print(s.getsockname()[1])
    sys.exit(0)
sys.exit("no free port found")'
}

port_of() {  # port_of NAME : the port stored for NAME, chosen once
  local f="$STATE/$1.port"
  [ -s "$f" ] || new_port > "$f"
  cat "$f"
}

claim_port() {  # claim_port NAME : before a (stopped) service starts; re-pick only if a stranger holds it
  local port; port=$(port_of "$1")
  if port_in_use "$port"; then
    new_port > "$STATE/$1.port"
    log "WARNING: port $port ($1) is taken by another program; using $(cat "$STATE/$1.port") instead"
  fi
}

secret_of() {  # secret_of NAME : a random password stored for NAME, chosen once
  local f="$STATE/$1.secret"
  [ -s "$f" ] || (umask 077; random_hex > "$f")
  cat "$f"
}

svc_dir() {  # svc_dir NAME OWNER CLEANUP_FN : NAME's data dir, writable by OWNER; chosen once and recorded
  local name=$1 owner=$2 cleanup=$3 rec="$STATE/$1.dir" dir
  if [ -s "$rec" ]; then cat "$rec"; return; fi
  if [ "$IS_ROOT" = 0 ] || runuser -u "$owner" -- test -x "$STATE"; then
    dir="$STATE/$name"
  else  # OWNER cannot reach the state dir (e.g. under /root): keep the data in /tmp
    dir="/tmp/chatvault-$name-$(printf %s "$STATE" | sha1sum | cut -c1-10)"
    if [ -e "$dir" ]; then  # left over from an earlier state dir at this path: not ours any more
      log "removing stale $dir"
      "$cleanup" "$dir"; rm -rf "$dir"
    fi
  fi
  mkdir -p "$dir"
  [ "$IS_ROOT" = 0 ] || chown "$owner" "$dir"
  echo "$dir" > "$rec"
  echo "$dir"
}

pid_alive() {  # pid_alive PIDFILE WORD : the process named in PIDFILE runs and its command line has WORD
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$2"
}

close_fds() {  # in a subshell that starts a daemon: drop inherited descriptors above 2 (our lock,
  local fd      # a caller's pipes), so the daemon holds nothing that a caller might wait on
  for fd in /proc/"$BASHPID"/fd/*; do
    fd=${fd##*/}
    if [ "$fd" -gt 2 ]; then eval "exec $fd>&-"; fi
  done
}

kill_and_wait() {  # kill_and_wait PID SECONDS : SIGTERM, then SIGKILL after SECONDS
  local pid=$1 i
  kill "$pid" 2>/dev/null || return 0
  for ((i = 0; i < $2 * 2; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  log "pid $pid ignored SIGTERM for $2s: SIGKILL"
  kill -9 "$pid" 2>/dev/null || true
}

wait_ready() {  # wait_ready NAME READY_FN ALIVE_FN LOGFILE... : poll READY_FN until TIMEOUT
  local name=$1 ready=$2 alive=$3 start=$SECONDS f why; shift 3
  until "$ready"; do
    if ! "$alive" && sleep 1 && ! "$alive"; then  # twice: a process just forked has not exec'd yet
      why="$name exited during start-up"
    elif ((SECONDS - start >= TIMEOUT)); then
      why="$name was not ready after ${TIMEOUT}s"
    else
      sleep 1; continue
    fi
    for f in "$@"; do [ -f "$f" ] && { echo "----- last lines of $f -----" >&2; tail -n 40 "$f" >&2; }; done
    die "$why"
  done
  log "$name ready on 127.0.0.1:$(port_of "$name") ($((SECONDS - start))s)"
}

# ---------------------------------------------------------------------------------------- PostgreSQL
pg_user() { if [ "$IS_ROOT" = 1 ]; then echo postgres; else id -un; fi; }
pg_dir() { svc_dir postgres "$(pg_user)" pg_cleanup; }
pg_cleanup() { [ ! -f "$1/data/postmaster.pid" ] || as_user "$(pg_user)" "$PG_BIN/pg_ctl" -D "$1/data" -m immediate stop >/dev/null 2>&1 || true; }
pg_password() {  # kept next to the cluster, so a cluster and its password cannot disagree
  local f; f="$(pg_dir)/password"
  [ -s "$f" ] || (umask 077; random_hex > "$f")
  cat "$f"
}
pg_ctl_() { as_user "$(pg_user)" "$PG_BIN/pg_ctl" -D "$(pg_dir)/data" "$@"; }
pg_running() { [ -f "$(pg_dir)/data/PG_VERSION" ] && pg_ctl_ status >/dev/null 2>&1; }
pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$(port_of postgres)"; }
psql_() { PGPASSWORD="$(pg_password)" "$PG_BIN/psql" -h 127.0.0.1 -p "$(port_of postgres)" -U chatvault -v ON_ERROR_STOP=1 -qtA "$@"; }

pg_install() {
  [ -x "$PG_BIN/initdb" ] && return 0
  # postgresql-15 where the distribution (or apt.postgresql.org) has it; Debian 12's `postgresql` is 15
  apt_install postgresql-15 || apt_install postgresql
  [ -x "$PG_BIN/initdb" ] || die "PostgreSQL installed, but $PG_BIN/initdb is missing (not version 15?)"
}

pg_launch() {
  pg_install
  local dir user pwfile
  dir=$(pg_dir); user=$(pg_user)
  if pg_running; then log "postgres already running on 127.0.0.1:$(port_of postgres)"; return 0; fi
  claim_port postgres
  [ -s "$dir/password" ] || rm -rf "$dir/data"  # a cluster whose password is lost is of no use
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "creating a PostgreSQL cluster in $dir/data"
    rm -rf "$dir/data"
    pwfile="$dir/pwfile"
    pg_password > "$pwfile"
    [ "$IS_ROOT" = 0 ] || chown "$user" "$pwfile"
    if ! as_user "$user" "$PG_BIN/initdb" -D "$dir/data" -U chatvault --pwfile="$pwfile" -A scram-sha-256 \
        -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
      rm -f "$pwfile"; tail -n 20 "$dir/initdb.log" >&2; die "initdb failed"
    fi
    rm -f "$pwfile"
  fi
  # throw-away test cluster: durability off for speed; TCP on 127.0.0.1 only, no unix socket
  if ! (close_fds; pg_ctl_ -l "$dir/server.log" -w -t "$TIMEOUT" -o "-h 127.0.0.1 -p $(port_of postgres) -k '' \
      -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start) </dev/null >/dev/null; then
    tail -n 40 "$dir/server.log" >&2; die "PostgreSQL did not start"
  fi
}

pg_wait() {
  wait_ready postgres pg_ready pg_running "$(pg_dir)/server.log"
  if [ "$(psql_ -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'chatvault_test'")" != 1 ]; then
    psql_ -d postgres -c "CREATE DATABASE chatvault_test"
  fi
}

pg_stop() {
  [ -f "$(pg_dir)/data/postmaster.pid" ] || return 0
  pg_ctl_ -m fast -w -t 60 stop >/dev/null 2>&1 || pg_ctl_ -m immediate stop >/dev/null 2>&1 || true
  log "postgres stopped"
}

# --------------------------------------------------------------------------------------------- MinIO
MINIO_BIN="$CACHE/bin/minio"
minio_pidfile() { echo "$STATE/minio.pid"; }
minio_running() { pid_alive "$(minio_pidfile)" minio; }
minio_ready() { curl -sf -o /dev/null "http://127.0.0.1:$(port_of minio)/minio/health/ready"; }

minio_install() {
  [ -x "$MINIO_BIN" ] && return 0
  local elapsed=0 blog="$CACHE/minio-build.log" tmpbin="$CACHE/bin/.build.$$" pid
  # a build into this cache that was started by hand (not by this script) would race us: wait for it
  while pgrep -f "go install github.com/minio/minio" >/dev/null && [ ! -x "$MINIO_BIN" ]; do
    log "waiting for a MinIO build that is already running (${elapsed}s)…"; sleep 15; elapsed=$((elapsed + 15))
  done
  exec 9>"$CACHE/minio-build.lock"
  flock 9  # another `services.sh start` may be building it right now
  if [ ! -x "$MINIO_BIN" ]; then
    command -v go >/dev/null || die "Go is needed to build MinIO (go install github.com/minio/minio@latest)"
    log "building MinIO: go install github.com/minio/minio@latest (first run only, several minutes; log $blog)"
    mkdir -p "$tmpbin"
    GOBIN="$tmpbin" CGO_ENABLED=0 go install -v -ldflags="-s -w" github.com/minio/minio@latest >"$blog" 2>&1 9>&- &
    pid=$!; elapsed=0
    while kill -0 "$pid" 2>/dev/null; do
      sleep 5; elapsed=$((elapsed + 5))
      ((elapsed % 30)) || log "still building MinIO (${elapsed}s): $(tail -n 1 "$blog" | cut -c1-100)"
    done
    if ! wait "$pid"; then tail -n 30 "$blog" >&2; rm -rf "$tmpbin"; die "MinIO build failed"; fi
    mv -f "$tmpbin/minio" "$MINIO_BIN"; rm -rf "$tmpbin"
    log "MinIO built in ${elapsed}s: $MINIO_BIN"
  fi
  exec 9>&-
}

minio_launch() {
  minio_install
  if minio_running; then log "minio already running on 127.0.0.1:$(port_of minio)"; return 0; fi
  claim_port minio; claim_port minio-console
  mkdir -p "$STATE/minio-data"
  (close_fds; MINIO_ROOT_USER=chatvault MINIO_ROOT_PASSWORD="$(secret_of minio)" MINIO_BROWSER=off \
    exec setsid "$MINIO_BIN" server "$STATE/minio-data" \
    --address "127.0.0.1:$(port_of minio)" --console-address "127.0.0.1:$(port_of minio-console)") \
    </dev/null >"$STATE/minio.log" 2>&1 &
  echo $! > "$(minio_pidfile)"
}

minio_wait() { wait_ready minio minio_ready minio_running "$STATE/minio.log"; }

minio_stop() {
  if minio_running; then kill_and_wait "$(cat "$(minio_pidfile)")" 30; log "minio stopped"; fi
  rm -f "$(minio_pidfile)"
}

# ---------------------------------------------------------------------------------------- OpenSearch
OS_HOME="$CACHE/opensearch-$OS_VERSION"
os_user() { if [ "$IS_ROOT" = 1 ]; then echo chatvault; else id -un; fi; }
os_dir() { svc_dir opensearch "$(os_user)" os_cleanup; }
os_pgrep() { pgrep -f -- "-Dopensearch.path.conf=$1/config " || true; }  # java processes of data dir $1
os_cleanup() { local p; for p in $(os_pgrep "$1"); do kill_and_wait "$p" 60; done; }
os_pid() {  # pid of our OpenSearch, empty when it does not run
  local dir; dir=$(os_dir)
  if pid_alive "$dir/opensearch.pid" org.opensearch.bootstrap.OpenSearch; then cat "$dir/opensearch.pid"
  else os_pgrep "$dir" | head -n 1; fi  # the pid file appears only some seconds after launch
}
os_running() { [ -n "$(os_pid)" ]; }
os_ready() { curl -sf -o /dev/null "http://127.0.0.1:$(port_of opensearch)/_cluster/health?wait_for_status=yellow&timeout=2s"; }

os_java_home() {
  local j
  for j in "${CHATVAULT_JAVA17_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk-arm64 \
      "${JAVA_HOME_17_X64:-}" "${JAVA_HOME_17_ARM64:-}"; do
    [ -n "$j" ] && [ -x "$j/bin/java" ] && { echo "$j"; return 0; }
  done
  return 1
}

os_install() {
  os_java_home >/dev/null || apt_install openjdk-17-jre-headless
  os_java_home >/dev/null || die "Java 17 not found (set CHATVAULT_JAVA17_HOME)"
  [ -x "$OS_HOME/bin/opensearch" ] && return 0
  local repo="${CHATVAULT_M2_REPO:-$HOME/.m2/repository}" zip tmp
  zip="$repo/org/opensearch/distribution/integ-test-zip/opensearch/$OS_VERSION/opensearch-$OS_VERSION.zip"
  if [ ! -f "$zip" ]; then
    command -v mvn >/dev/null || apt_install maven
    log "downloading OpenSearch $OS_VERSION: mvn dependency:get -Dartifact=$OS_ARTIFACT"
    mvn -q -B -Dstyle.color=never dependency:get -Dartifact="$OS_ARTIFACT" -Dmaven.repo.local="$repo" >&2
    [ -f "$zip" ] || die "mvn did not produce $zip"
  fi
  log "unpacking OpenSearch into $OS_HOME"
  tmp="$CACHE/.opensearch-unpack.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  if command -v unzip >/dev/null; then unzip -q "$zip" -d "$tmp"
  else python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" "$tmp"; fi
  chmod -R a+rX "$tmp"; chmod a+x "$tmp/opensearch-$OS_VERSION"/bin/*
  mv -T "$tmp/opensearch-$OS_VERSION" "$OS_HOME" 2>/dev/null || true  # a concurrent run may have won
  rm -rf "$tmp"
  [ -x "$OS_HOME/bin/opensearch" ] || die "unpacking OpenSearch failed"
}

os_run_home() {  # OS_HOME, or a world-readable copy in /tmp when the OpenSearch user cannot read the cache
  local h="/tmp/chatvault-opensearch-home-$OS_VERSION" tmp
  if [ "$IS_ROOT" = 0 ] || runuser -u "$(os_user)" -- test -r "$OS_HOME/config/jvm.options"; then
    echo "$OS_HOME"; return 0
  fi
  if [ ! -f "$h/.complete" ]; then
    tmp="$h.tmp.$$"
    rm -rf "$tmp"; cp -a "$OS_HOME" "$tmp"; chmod -R a+rX "$tmp"; touch "$tmp/.complete"
    rm -rf "$h" 2>/dev/null || true
    mv -T "$tmp" "$h" 2>/dev/null || rm -rf "$tmp"
  fi
  echo "$h"
}

os_launch() {
  os_install
  local user dir home
  if [ "$IS_ROOT" = 1 ] && ! id chatvault >/dev/null 2>&1; then
    log "creating system user chatvault to run OpenSearch (it refuses root)"
    useradd --system --no-create-home --shell /usr/sbin/nologin chatvault
  fi
  user=$(os_user); dir=$(os_dir)
  if os_running; then log "opensearch already running on 127.0.0.1:$(port_of opensearch)"; return 0; fi
  claim_port opensearch; claim_port opensearch-transport
  home=$(os_run_home)
  mkdir -p "$dir/data" "$dir/logs" "$dir/tmp"
  # OpenSearch needs its config dir writable: a copy in $dir
  [ -f "$dir/config/opensearch.yml" ] || cp -r "$home/config" "$dir/config"
  # the launcher runs in OPENSEARCH_HOME (read-only): point jvm.options' relative paths into $dir
  sed -i -e "s#file=logs/gc.log#file=$dir/logs/gc.log#" -e "s#^-XX:HeapDumpPath=.*#-XX:HeapDumpPath=$dir/logs#" \
    -e "s#^-XX:ErrorFile=.*#-XX:ErrorFile=$dir/logs/hs_err_pid%p.log#" "$dir/config/jvm.options"
  [ "$IS_ROOT" = 0 ] || chown -R "$user" "$dir"
  rm -f "$dir/opensearch.pid" "$dir/stdout.log"
  (cd "$dir" && close_fds && as_user "$user" env JAVA_HOME="$(os_java_home)" OPENSEARCH_JAVA_HOME="$(os_java_home)" \
    OPENSEARCH_PATH_CONF="$dir/config" OPENSEARCH_TMPDIR="$dir/tmp" \
    OPENSEARCH_JAVA_OPTS="-Xms512m -Xmx512m -XX:-HeapDumpOnOutOfMemoryError" \
    setsid -w "$home/bin/opensearch" -d -p "$dir/opensearch.pid" \
    -Ecluster.name=chatvault-test -Ediscovery.type=single-node \
    -Enetwork.host=127.0.0.1 -Ehttp.port="$(port_of opensearch)" -Etransport.port="$(port_of opensearch-transport)" \
    -Epath.data="$dir/data" -Epath.logs="$dir/logs" \
    -Ecluster.routing.allocation.disk.threshold_enabled=false \
    </dev/null >"$dir/stdout.log" 2>&1) \
    || { tail -n 40 "$dir/stdout.log" >&2; die "OpenSearch did not start"; }
}

os_wait() { wait_ready opensearch os_ready os_running "$(os_dir)/stdout.log" "$(os_dir)/logs/chatvault-test.log"; }

os_stop() {
  local pid; pid=$(os_pid)
  [ -n "$pid" ] || return 0
  kill_and_wait "$pid" 60
  log "opensearch stopped"
}

# ------------------------------------------------------------------------------------ env and status
write_env() {  # <state>/env with the settings of the services that run now
  local tmp="$STATE/env.tmp.$$"
  {
    echo "# written by scripts/services.sh $(date -u +%FT%TZ)"
    if pg_running; then
      echo "export CHATVAULT_TEST_DATABASE_URL=postgresql+psycopg://chatvault:$(pg_password)@127.0.0.1:$(port_of postgres)/chatvault_test"
    fi
    if minio_running; then
      echo "export CHATVAULT_TEST_MINIO_ENDPOINT=127.0.0.1:$(port_of minio)"
      echo "export CHATVAULT_TEST_MINIO_ACCESS_KEY=chatvault"
      echo "export CHATVAULT_TEST_MINIO_SECRET_KEY=$(secret_of minio)"
    fi
    if os_running; then
      echo "export CHATVAULT_TEST_OPENSEARCH_URL=http://127.0.0.1:$(port_of opensearch)"
    fi
    echo "export CHATVAULT_TEST_SERVICES_SCRIPT=$REPO/scripts/services.sh"
  } > "$tmp"
  chmod 600 "$tmp"
  mv -f "$tmp" "$STATE/env"
}

status() {
  local s up
  for s in $ALL_SERVICES; do
    case $s in postgres) up=pg_running ;; minio) up=minio_running ;; opensearch) up=os_running ;; esac
    if "$up"; then printf '%-11s up    127.0.0.1:%s\n' "$s" "$(port_of "$s")"
    else printf '%-11s down\n' "$s"; fi
  done
}

services() {  # services [NAME...] : the names asked for (default all), checked
  local s out=""
  # shellcheck disable=SC2086 # a list of words
  [ $# -gt 0 ] || set -- $ALL_SERVICES
  for s in "$@"; do
    case $s in postgres | minio | opensearch) out="$out $s" ;; *) die "unknown service '$s' (postgres, minio, opensearch)" ;; esac
  done
  echo "$out"
}

start() {
  local names s; names=$(services "$@")
  # launch OpenSearch first (slowest to boot), then wait for each service in turn
  for s in opensearch postgres minio; do
    case " $names " in *" $s "*) ;; *) continue ;; esac
    case $s in postgres) pg_launch ;; minio) minio_launch ;; opensearch) os_launch ;; esac
  done
  for s in $names; do
    case $s in postgres) pg_wait ;; minio) minio_wait ;; opensearch) os_wait ;; esac
  done
  write_env
  grep '^export' "$STATE/env"
}

stop() {
  local names s; names=$(services "$@")
  for s in $names; do
    case $s in postgres) pg_stop ;; minio) minio_stop ;; opensearch) os_stop ;; esac
  done
  write_env  # stopped services leave <state>/env, so tests skip them instead of failing to connect
}

cmd=${1:-}; shift || true
case "$cmd" in
  start | stop | env)
    exec 8>>"$STATE/.lock"
    flock -w 1800 8 || die "another services.sh holds $STATE/.lock"
    case $cmd in start) start "$@" ;; stop) stop "$@" ;; env) write_env; grep '^export' "$STATE/env" ;; esac ;;
  status) status ;;
  *) die "usage: $0 start|stop [postgres|minio|opensearch ...] | status | env" ;;
esac
