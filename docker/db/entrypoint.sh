#!/bin/sh
# Entrypoint of starter/postgres.
#
# First start (no $PGDATA/PG_VERSION): initdb with POSTGRES_USER as the
# superuser and POSTGRES_PASSWORD as its password; local socket connections
# are trusted (only processes inside the container reach it), TCP needs the
# password (scram-sha-256) from any address.  Files in
# /docker-entrypoint-initdb.d (*.sql, *.sh) run once, after the schema.
#
# Every start: a temporary server on a private socket (no TCP, so neither
# the healthcheck nor a client sees it) creates POSTGRES_DB if missing and
# applies the pending migrations with `starterctl initdb`; then it stops and
# the real server replaces this shell (PID 1, so signals reach it).
set -eu

prog=starter-postgres-entrypoint
say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Anything but the server (e.g. `bash`, `psql ...`) runs as asked.
case ${1:-postgres} in
postgres|-*) ;;
*) exec "$@" ;;
esac
[ $# -gt 0 ] && [ "$1" = postgres ] && shift

# POSTGRES_PASSWORD_FILE (a secret's file) instead of the password in the
# environment, which `inspect` shows; not exported to the server.
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
	[ -r "$POSTGRES_PASSWORD_FILE" ] ||
	    die "POSTGRES_PASSWORD_FILE $POSTGRES_PASSWORD_FILE is not readable"
	POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
fi
unset POSTGRES_PASSWORD_FILE

PGDATA=${PGDATA:-/var/lib/postgresql/data}
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
export PGDATA

# Started as root (docker run --user 0, or a bind mount owned by root):
# fix the ownership of the data directory and start again as postgres.
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown -R postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 0700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi

mkdir -p "$PGDATA" 2>/dev/null || true
[ -w "$PGDATA" ] || die "$PGDATA is not writable by $(id -un) (uid $(id -u))"

# A libpq conninfo value: single-quoted, with \ and ' escaped.
cq() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"; }

fresh=no
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	[ -n "${POSTGRES_PASSWORD:-}" ] ||
	    die "the data directory is empty and POSTGRES_PASSWORD is not set"
	say "initialising $PGDATA (superuser $POSTGRES_USER, database $POSTGRES_DB)"
	pwfile=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
	if ! initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
	    --auth-local=trust --auth-host=scram-sha-256 \
	    --encoding=UTF8 --locale=C.UTF-8 >/dev/null; then
		rm -f "$pwfile"
		die "initdb failed"
	fi
	rm -f "$pwfile"
	cat >> "$PGDATA/pg_hba.conf" <<'HBA'

# starter/postgres: TCP from any address (the container network), with a password
host	all	all	all	scram-sha-256
HBA
	cat >> "$PGDATA/postgresql.conf" <<'CONF'

# starter/postgres
listen_addresses = '*'
password_encryption = 'scram-sha-256'
CONF
	fresh=yes
fi

sockdir=$(mktemp -d)
trap 'pg_ctl -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$sockdir"' EXIT
pg_ctl -D "$PGDATA" -w -t 120 -s \
    -o "-c listen_addresses='' -c unix_socket_directories='$sockdir'" start ||
    die "the temporary server did not start"

export PGHOST="$sockdir" PGUSER="$POSTGRES_USER"
exists=$(psql -X -d postgres -v ON_ERROR_STOP=1 -v db="$POSTGRES_DB" -At <<'SQL'
SELECT 1 FROM pg_database WHERE datname = :'db';
SQL
)
if [ "$exists" != 1 ]; then
	say "creating database $POSTGRES_DB"
	psql -X -d postgres -v ON_ERROR_STOP=1 -v db="$POSTGRES_DB" -q <<'SQL'
CREATE DATABASE :"db";
SQL
fi

starterctl -d "host=$(cq "$sockdir") user=$(cq "$POSTGRES_USER") dbname=$(cq "$POSTGRES_DB")" initdb ||
    die "applying the migrations failed"

if [ "$fresh" = yes ] && [ -d /docker-entrypoint-initdb.d ]; then
	for f in /docker-entrypoint-initdb.d/*; do
		case $f in
		*.sql) say "running $f"; psql -X -d "$POSTGRES_DB" -v ON_ERROR_STOP=1 -q -f "$f" ;;
		*.sh)  say "running $f"; . "$f" ;;
		*)     ;;
		esac
	done
fi

pg_ctl -D "$PGDATA" -m fast -w -s stop
trap - EXIT
rm -rf "$sockdir"
unset PGHOST PGUSER
# The real server's socket directory (/tmp: writable under a read-only root).
sock=${STARTER_SOCKET_DIR:-/var/run/postgresql}
mkdir -p -m 0755 "$sock" || die "cannot create $sock"
say "ready; starting PostgreSQL"
exec postgres -c unix_socket_directories="$sock" "$@"
