#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server on 127.0.0.1 for the tests (installing it from
# Debian's packages when it is missing), and prints its URL.
#
#   export MANGO_TEST_DATABASE_URL="$(./scripts/postgres.sh)"
#
# The cluster lives in target/postgres (trust authentication, loopback only, TLS on
# with a test CA in target/postgres/tls); a running one is reused. Stop it with: pg_ctl -D target/postgres/data stop
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
# TLS for the tests of sslmode: a certificate authority made here (tls/ca.crt), the
# server's certificate signed by it for the name `localhost` only (not 127.0.0.1), and
# a second authority that signed nothing (tls/other-ca.crt). The role `mango_tls` may
# connect over TLS only (pg_hba.conf), so a test can tell that TLS was used.
TLS="$DIR/tls"
if [ ! -f "$TLS/server.crt" ]; then
  log "making a test certificate authority and the server's certificate in $TLS"
  mkdir -p "$TLS"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mango test CA" \
    -keyout "$TLS/ca.key" -out "$TLS/ca.crt" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=another CA" \
    -keyout "$TLS/other-ca.key" -out "$TLS/other-ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$TLS/server.key" -out "$TLS/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost\n' > "$TLS/server.ext"
  openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.crt" -CAkey "$TLS/ca.key" \
    -CAcreateserial -days 3650 -extfile "$TLS/server.ext" -out "$TLS/server.crt" 2>/dev/null
  chmod 600 "$TLS/server.key"
  [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && chown postgres "$TLS/server.key" "$TLS/server.crt"
fi
if ! grep -q mango_tls "$DATA/pg_hba.conf"; then
  { printf 'hostssl all mango_tls 127.0.0.1/32 trust\nhostnossl all mango_tls 127.0.0.1/32 reject\n'
    cat "$DATA/pg_hba.conf"; } > "$DIR/pg_hba.new"
  cat "$DIR/pg_hba.new" > "$DATA/pg_hba.conf" && rm "$DIR/pg_hba.new"
fi
URL="postgres://postgres@127.0.0.1:$PORT/postgres"
# A cluster started before TLS was set up here is restarted with it.
if as_pg "$PG_CTL" -D "$DATA" status >/dev/null 2>&1 \
  && [ "$("$PSQL" "$URL" -qtAc "show ssl" 2>/dev/null)" != "on" ]; then
  log "restarting with TLS"
  as_pg "$PG_CTL" -D "$DATA" -w stop >&2
fi
if ! as_pg "$PG_CTL" -D "$DATA" status >/dev/null 2>&1; then
  log "starting on 127.0.0.1:$PORT"
  as_pg "$PG_CTL" -D "$DATA" -l "$DIR/server.log" -w \
    -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DIR -c max_connections=300 -c fsync=off -c ssl=on -c ssl_cert_file=$TLS/server.crt -c ssl_key_file=$TLS/server.key" start >&2
fi
for _ in $(seq 1 50); do
  if "$PSQL" "$URL" -qtAc "select 1" >/dev/null 2>&1; then
    "$PSQL" "$URL" -qtAc "DO \$\$ BEGIN CREATE ROLE mango_tls LOGIN SUPERUSER; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$" >/dev/null
    echo "$URL"
    exit 0
  fi
  sleep 0.2
done
log "the server did not answer; its log: $DIR/server.log"
exit 1
