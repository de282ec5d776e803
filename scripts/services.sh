#!/usr/bin/env bash
# Throwaway PostgreSQL 15 and Orthanc on loopback ports, for the demo and the integration tests.
#   scripts/services.sh start | stop | status | env
# State lives in $EDEN_SERVICES_DIR (default /tmp/eden-services); each server is stopped by the
# PID it wrote there. PostgreSQL refuses to run as root, so as root the cluster runs as the
# `postgres` user. Ports: $EDEN_PG_PORT (55432), $EDEN_ORTHANC_PORT (58042).
set -euo pipefail
DIR=${EDEN_SERVICES_DIR:-/tmp/eden-services}
PG_PORT=${EDEN_PG_PORT:-55432}
ORTHANC_PORT=${EDEN_ORTHANC_PORT:-58042}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
DB_NAME=pacs
DB_USER=eden
DB_PASS=${EDEN_PG_PASSWORD:-eden-demo-password}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  if [ -f "$DIR/pg/postmaster.pid" ] && kill -0 "$(head -n 1 "$DIR/pg/postmaster.pid")" 2>/dev/null; then
    echo "postgres: already running on $PG_PORT"; return
  fi
  mkdir -p "$DIR/pg" "$DIR/pg-socket"
  if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$DIR/pg" "$DIR/pg-socket"; chmod 700 "$DIR/pg"; fi
  if [ ! -f "$DIR/pg/PG_VERSION" ]; then
    pwfile=$(mktemp); echo "postgres-$RANDOM$RANDOM" > "$pwfile"; chmod 644 "$pwfile"
    as_pg "$PG_BIN/initdb" -D "$DIR/pg" -U postgres --auth=scram-sha-256 --pwfile="$pwfile" -E UTF8 >/dev/null
    rm -f "$pwfile"
    # Local socket: trust (the scripts use it to set up); TCP on loopback: password.
    cat > "$DIR/pg/pg_hba.conf" <<HBA
local all all trust
host  all all 127.0.0.1/32 scram-sha-256
HBA
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -l "$DIR/pg/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $DIR/pg-socket -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null; then
    echo "postgres: did not start on port $PG_PORT; its log says:" >&2
    tail -n 5 "$DIR/pg/server.log" >&2
    exit 1
  fi
  as_pg "$PG_BIN/psql" -h "$DIR/pg-socket" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN PASSWORD '$DB_PASS';
  END IF;
END \$\$;
SQL
  if ! as_pg "$PG_BIN/psql" -h "$DIR/pg-socket" -p "$PG_PORT" -U postgres -lqt | cut -d'|' -f1 | grep -qw "$DB_NAME"; then
    as_pg "$PG_BIN/createdb" -h "$DIR/pg-socket" -p "$PG_PORT" -U postgres -O "$DB_USER" "$DB_NAME"
  fi
  echo "postgres: running on 127.0.0.1:$PG_PORT (pid $(head -n 1 "$DIR/pg/postmaster.pid"))"
}

start_orthanc() {
  if [ -f "$DIR/orthanc.pid" ] && kill -0 "$(cat "$DIR/orthanc.pid")" 2>/dev/null; then
    echo "orthanc: already running on $ORTHANC_PORT"; return
  fi
  mkdir -p "$DIR/orthanc-db"
  cat > "$DIR/orthanc.json" <<JSON
{
  "Name": "eden-demo",
  "StorageDirectory": "$DIR/orthanc-db",
  "IndexDirectory": "$DIR/orthanc-db",
  "HttpPort": $ORTHANC_PORT,
  "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false,
  "DicomServerEnabled": false,
  "StorageCompression": false,
  "HttpCompressionEnabled": false,
  "KeepAlive": true,
  "HttpThreadsCount": 16,
  "OverwriteInstances": true,
  "Plugins": []
}
JSON
  # Orthanc reads each file it serves into a fresh buffer: glibc gives a 7 MB buffer its own
  # mmap and unmaps it after, so every answer page-faulted its way through new memory (a third
  # of Orthanc's CPU on this VM, where a fault costs microseconds). Buffers from the heap, kept
  # between requests on transparent huge pages: Orthanc's CPU serving the pipeline benchmark's
  # 7 GB fell 8.8-10.2 -> 3.3 CPU-s, its peak RSS 418 -> 372 MB (bench/RESULTS.md).
  GLIBC_TUNABLES=glibc.malloc.hugetlb=1:glibc.malloc.mmap_threshold=67108864:glibc.malloc.trim_threshold=268435456:glibc.malloc.top_pad=33554432 \
    Orthanc "$DIR/orthanc.json" > "$DIR/orthanc.log" 2>&1 &
  echo $! > "$DIR/orthanc.pid"
  for _ in $(seq 1 100); do
    if curl -fs "http://127.0.0.1:$ORTHANC_PORT/system" >/dev/null 2>&1; then
      echo "orthanc: running on 127.0.0.1:$ORTHANC_PORT (pid $(cat "$DIR/orthanc.pid"))"; return
    fi
    sleep 0.2
  done
  echo "orthanc: did not start; see $DIR/orthanc.log" >&2; exit 1
}

stop_all() {
  if [ -f "$DIR/orthanc.pid" ]; then
    pid=$(cat "$DIR/orthanc.pid")
    kill "$pid" 2>/dev/null && for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$DIR/orthanc.pid"; echo "orthanc: stopped"
  fi
  if [ -f "$DIR/pg/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$DIR/pg" -m fast -w stop >/dev/null 2>&1 || true
    echo "postgres: stopped"
  fi
}

# `export` lines for a shell (eval "$(scripts/services.sh env)"): the seed's names for the
# database, and where Orthanc and the PostgreSQL socket are.
print_env() {
  printf 'export %s=%q\n' \
    SOURCE_DATABASE_HOST 127.0.0.1 \
    SOURCE_DATABASE_PORT "$PG_PORT" \
    SOURCE_DATABASE_NAME "$DB_NAME" \
    SOURCE_DATABASE_USER "$DB_USER" \
    SOURCE_DATABASE_PASS "$DB_PASS" \
    EDEN_ORTHANC_URL "http://127.0.0.1:$ORTHANC_PORT" \
    EDEN_PG_SOCKET "$DIR/pg-socket" \
    EDEN_SERVICES_DIR "$DIR"
}

case "${1:-}" in
  start) start_postgres; start_orthanc ;;
  stop) stop_all ;;
  status)
    [ -f "$DIR/pg/postmaster.pid" ] && echo "postgres pid $(head -n 1 "$DIR/pg/postmaster.pid")" || echo "postgres: stopped"
    [ -f "$DIR/orthanc.pid" ] && echo "orthanc pid $(cat "$DIR/orthanc.pid")" || echo "orthanc: stopped" ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
