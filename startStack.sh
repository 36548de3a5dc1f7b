#!/bin/sh
# Start the Docker stack (database, API, and the one-shot init that creates
# the admin user and loads the demo data on the first start), waiting until
# each service is healthy (at most STACK_TIMEOUT seconds each, default 120).
# Engine and settings: see docker/lib.sh and the README (section Docker).
. "$(dirname "$0")/docker/lib.sh"
engine_select
if [ -z "${POSTGRES_PASSWORD:-}" ] && ! $E volume inspect "$(volume)" >/dev/null 2>&1; then
	say "warning: POSTGRES_PASSWORD is not set: the database gets the demo password 'starter'"
fi
stack_start
say "the API is up: $(api_url)/api/v1.0/pxcodes/ (e.g. curl -u admin:PASSWORD $(api_url)/api/v1.0/pxcodes/)"
