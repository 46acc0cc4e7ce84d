#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the tests (installing it from
# Debian's packages when it is missing), and prints its URL.
#
#   export MANGO_TEST_DATABASE_URL="$(./scripts/postgres.sh)"
#
# The cluster lives in target/postgres (trust authentication, loopback only); a running
# one is reused. Stop it with: pg_ctl -D target/postgres/data stop
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${MANGO_TEST_PG_PORT:-54329}"
DIR="$PWD/target/postgres"
DATA="$DIR/data"

log() { echo "postgres.sh: $*" >&2; }

find_bin() {
  local name=$1
  if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
  ls /usr/lib/postgresql/*/bin/"$name" 2>/dev/null | sort -V | tail -n 1
}

if [ -z "$(find_bin initdb)" ]; then
  log "installing PostgreSQL from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq postgresql postgresql-client >&2
fi
INITDB=$(find_bin initdb)
PG_CTL=$(find_bin pg_ctl)
PSQL=$(find_bin psql)

# PostgreSQL refuses to run as root: run it as the `postgres` user then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$DIR" postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

mkdir -p "$DIR"
[ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && chown postgres "$DIR"
if [ ! -f "$DATA/PG_VERSION" ]; then
  log "creating a cluster in $DATA"
  as_pg "$INITDB" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 >&2
fi
if ! as_pg "$PG_CTL" -D "$DATA" status >/dev/null 2>&1; then
  log "starting on 127.0.0.1:$PORT"
  as_pg "$PG_CTL" -D "$DATA" -l "$DIR/server.log" -w \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DIR -c max_connections=300 -c fsync=off" start >&2
fi
URL="postgres://postgres@127.0.0.1:$PORT/postgres"
for _ in $(seq 1 50); do
  if "$PSQL" "$URL" -qtAc "select 1" >/dev/null 2>&1; then echo "$URL"; exit 0; fi
  sleep 0.2
done
log "the server did not answer; its log: $DIR/server.log"
exit 1
