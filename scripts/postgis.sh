#!/usr/bin/env bash
# A throw-away PostgreSQL 15 + PostGIS 3 server on localhost, for the tests of the PostGIS store.
#
#   scripts/postgis.sh install          Debian packages postgresql-15 and postgresql-15-postgis-3
#                                       (only when missing, and only as root with apt-get)
#   scripts/postgis.sh start DIR [PORT] initialise a cluster in DIR (when empty) and start it on
#                                       127.0.0.1:PORT (default 54329); prints the database URL
#   scripts/postgis.sh stop DIR         stop it (the tests remove DIR afterwards)
#
# The cluster trusts local connections (it listens on 127.0.0.1 only and lives as long as a test
# run); never point it at data you want to keep. tests/conftest.py calls start and stop.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
DB=zoning_test

log() { echo "postgis.sh: $*" >&2; }

have_server() {
  [ -x "$PG_BIN/pg_ctl" ] && [ -f /usr/share/postgresql/15/extension/postgis.control ]
}

install() {
  if have_server; then return 0; fi
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "PostgreSQL 15 + PostGIS 3 are missing and cannot be installed here (needs root and"
    log "apt-get); install postgresql-15 and postgresql-15-postgis-3, or set PG_BIN"
    return 1
  fi
  log "installing postgresql-15 and postgresql-15-postgis-3 (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends postgresql-15 postgresql-15-postgis-3 >/dev/null
}

# Run a server command as the owner of the cluster: postgres refuses to run as root.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start() {
  local dir=$1 port=${2:-54329}
  install
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
  chmod 700 "$dir"
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_owner "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust --encoding=UTF8 \
      --locale=C.UTF-8 >/dev/null
  fi
  if ! as_owner "$PG_BIN/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    # small and quick: a test server, fsync off (a crash loses the throw-away data only)
    as_owner "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start -o \
      "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off \
       -c full_page_writes=off -c max_connections=200" >/dev/null
  fi
  local psql=("$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt)
  if [ "$("${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]
  then
    "${psql[@]}" -d postgres -c "CREATE DATABASE $DB" >/dev/null
  fi
  "${psql[@]}" -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
  echo "postgresql://postgres@127.0.0.1:$port/$DB"
}

stop() {
  local dir=$1
  if [ -f "$dir/PG_VERSION" ]; then
    as_owner "$PG_BIN/pg_ctl" -D "$dir" -m immediate -w stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  install) install ;;
  start) start "${2:?usage: postgis.sh start DIR [PORT]}" "${3:-54329}" ;;
  stop) stop "${2:?usage: postgis.sh stop DIR}" ;;
  *) echo "usage: postgis.sh install | start DIR [PORT] | stop DIR" >&2; exit 2 ;;
esac
