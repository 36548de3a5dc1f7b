#!/bin/sh
# starter-init: the one-shot `init` service of the stack (in the API image).
#
# Waits (bounded) until the database accepts the schema, applies pending
# migrations, and on the first run only -- when ADMIN_USER does not exist
# yet -- creates ADMIN_USER with ADMIN_PASSWORD and runs `starterctl
# load-demo` (unless LOAD_DEMO=no): the 100 demo pxcodes, and 1000 synthetic
# encounters if starter_encounters is empty (the demo clinics they refer to
# come with the migrations).  Later runs change nothing, so data posted or
# deleted through the API stays as it is.  The DSN comes from DATABASE_URL
# (or STARTERD_DSN, or the PG* variables), as for starterctl; with
# STARTERD_DSN_FILE and ADMIN_PASSWORD_FILE (secrets' files: the stack
# keeps passwords out of the environment `inspect` shows) from those files.
set -eu

if [ -n "${STARTERD_DSN_FILE:-}" ]; then
	STARTERD_DSN=$(cat "$STARTERD_DSN_FILE")
	export STARTERD_DSN
fi
if [ -n "${ADMIN_PASSWORD_FILE:-}" ]; then
	ADMIN_PASSWORD=$(cat "$ADMIN_PASSWORD_FILE")
fi

ADMIN_USER=${ADMIN_USER:-admin}
LOAD_DEMO=${LOAD_DEMO:-yes}
INIT_TIMEOUT=${INIT_TIMEOUT:-60}

say() { printf 'starter-init: %s\n' "$*" >&2; }

start=$(date +%s)
until out=$(starterctl initdb 2>&1); do
	if [ $(($(date +%s) - start)) -ge "$INIT_TIMEOUT" ]; then
		printf '%s\n' "$out" >&2
		say "error: the database was not usable within ${INIT_TIMEOUT}s"
		exit 1
	fi
	sleep 2
done
printf '%s\n' "$out"

if starterctl users | grep -qxF -- "$ADMIN_USER"; then
	say "user $ADMIN_USER exists: already initialised, nothing to do"
	exit 0
fi

if [ -z "${ADMIN_PASSWORD:-}" ] || [ "$ADMIN_PASSWORD" = admin ]; then
	ADMIN_PASSWORD=admin
	say "WARNING: user $ADMIN_USER gets the demo password 'admin';" \
	    "set ADMIN_PASSWORD (or run starterctl passwd $ADMIN_USER)" \
	    "before exposing this server"
fi
printf '%s\n' "$ADMIN_PASSWORD" | starterctl adduser "$ADMIN_USER" --password-stdin
case $LOAD_DEMO in
no|false|0) say "LOAD_DEMO=$LOAD_DEMO: not loading the demo data" ;;
*) starterctl load-demo ;;
esac
