# docker/lib.sh: common code of buildImages.sh, startStack.sh, stopStack.sh,
# teardownStack.sh and cleanupImages.sh (sourced, POSIX sh).
#
# Engine: CONTAINER_ENGINE=docker (docker + the compose plugin, daemon
# reachable) or podman (podman + podman-compose); unset, the first usable of
# the two, in that order.  Other settings (environment): STACK_NAME
# (starter: the compose project, prefix of the containers, the network and
# the volume), IMAGE_TAG (latest), STACK_TIMEOUT (seconds to wait for each
# service to turn healthy: 120), DB_PORT (5432; none: not published),
# STACK_SECRETS (where the secret files go: var/stack/STACK_NAME/secrets);
# the rest is documented in docker/compose.yml.

STACK_NAME=${STACK_NAME:-starter}
IMAGE_TAG=${IMAGE_TAG:-latest}
STACK_TIMEOUT=${STACK_TIMEOUT:-120}
API_PORT=${API_PORT:-5000}
API_BIND=${API_BIND:-127.0.0.1}
DB_PORT=${DB_PORT:-5432}
STARTERD_SHUTDOWN_TIMEOUT=${STARTERD_SHUTDOWN_TIMEOUT:-10}
export STACK_NAME IMAGE_TAG API_PORT API_BIND DB_PORT STARTERD_SHUTDOWN_TIMEOUT

API_IMAGE=starter/starter-api:$IMAGE_TAG
DB_IMAGE=starter/postgres:$IMAGE_TAG
# Every stage of both Dockerfiles carries this label (build cache included).
STACK_LABEL=io.starterd.stack=starter
# The stack's containers, in start order.
SERVICES="db api init"

prog=$(basename "$0")
say() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { say "error: $*"; exit 1; }

case $STACK_NAME in
[a-z0-9]*) ;;
*) die "STACK_NAME must start with a lower-case letter or a digit" ;;
esac
case $STACK_NAME in
*[!a-z0-9_-]*) die "STACK_NAME may only hold a-z, 0-9, _ and -" ;;
esac
case $STACK_TIMEOUT in
''|*[!0-9]*) die "STACK_TIMEOUT must be a number of seconds" ;;
esac
case $STARTERD_SHUTDOWN_TIMEOUT in
''|*[!0-9]*) die "STARTERD_SHUTDOWN_TIMEOUT must be a number of seconds" ;;
esac
# The engine's SIGKILL waits for starterd's drain and its master's exit.
API_STOP_GRACE=$((STARTERD_SHUTDOWN_TIMEOUT + 5))
export API_STOP_GRACE

# The scripts work from the project root, wherever they are called from.
cd "$(dirname "$0")" || exit 1
[ -f docker/compose.yml ] || die "docker/compose.yml not found beside $0"

# Absolute: podman-compose mounts a secret's file by the path as written.
[ -n "${STACK_SECRETS:-}" ] || _secrets_default=yes
STACK_SECRETS=${STACK_SECRETS:-var/stack/$STACK_NAME/secrets}
case $STACK_SECRETS in
/*) ;;
*) STACK_SECRETS=$(pwd)/$STACK_SECRETS ;;
esac
export STACK_SECRETS

# A checksum of the settings that shape the containers, as a label on each:
# podman-compose 1.0.x does not recreate a container whose configuration
# changed, so stack_start compares it (docker compose does that itself).
# No password goes in (the label is public): they are files, rewritten in
# place by secrets_write, which the running containers see as they are.
STACK_CONFIG=$(printf '%s|' "$IMAGE_TAG" "$API_BIND" "$API_PORT" \
    "${DB_BIND:-}" "$DB_PORT" "${POSTGRES_USER:-}" "${POSTGRES_DB:-}" \
    "${ADMIN_USER:-}" "${LOAD_DEMO:-}" "${STARTERD_WORKERS:-}" \
    "$STARTERD_SHUTDOWN_TIMEOUT" "$STACK_SECRETS" | cksum | cut -d' ' -f1)
export STACK_CONFIG

docker_usable() {
	command -v docker >/dev/null 2>&1 &&
	    docker compose version >/dev/null 2>&1 &&
	    docker info >/dev/null 2>&1
}

podman_usable() {
	command -v podman >/dev/null 2>&1 &&
	    command -v podman-compose >/dev/null 2>&1 &&
	    podman info >/dev/null 2>&1
}

# Why neither engine is usable, for the error message.
engine_diagnosis() {
	if command -v docker >/dev/null 2>&1; then
		if ! docker compose version >/dev/null 2>&1; then
			echo "  docker: found, but not the compose plugin (docker compose)"
		elif ! docker info >/dev/null 2>&1; then
			echo "  docker: found, but the daemon is not reachable (docker info fails)"
		fi
	else
		echo "  docker: not installed"
	fi
	if command -v podman >/dev/null 2>&1; then
		if ! command -v podman-compose >/dev/null 2>&1; then
			echo "  podman: found, but not podman-compose"
		elif ! podman info >/dev/null 2>&1; then
			echo "  podman: found, but podman info fails"
		fi
	else
		echo "  podman: not installed"
	fi
}

engine_select() {
	case ${CONTAINER_ENGINE:-} in
	docker)
		docker_usable || die "CONTAINER_ENGINE=docker, but Docker is not usable:
$(engine_diagnosis | grep docker)"
		ENGINE=docker ;;
	podman)
		podman_usable || die "CONTAINER_ENGINE=podman, but Podman is not usable:
$(engine_diagnosis | grep podman)"
		ENGINE=podman ;;
	'')
		if docker_usable; then
			ENGINE=docker
		elif podman_usable; then
			ENGINE=podman
		else
			die "no usable container engine:
$(engine_diagnosis)
Install Docker with the compose plugin, or Podman and podman-compose
(on Debian 12: apt-get install podman podman-compose), or set
CONTAINER_ENGINE=docker|podman."
		fi ;;
	*)
		die "CONTAINER_ENGINE must be docker or podman, not '$CONTAINER_ENGINE'" ;;
	esac
	E=$ENGINE
}

# quiet COMMAND...: run it, drop its standard output and, from its standard
# error, the noise of podman without systemd ("unable to get systemd
# connection" for the healthcheck timers, on every start, stop and rm);
# keeps its exit status.
quiet() {
	_out=$("$@" 2>&1 >/dev/null)
	_rc=$?
	[ -z "$_out" ] || printf '%s\n' "$_out" | grep -v -e 'systemd connection' -e 'failed to connect to syslog' >&2
	return "$_rc"
}

# compose ARGS...: the project's compose files under the selected engine.
# podman-compose 1.0.x prints every podman command it runs and exits 0 even
# when they fail: its output goes to a log that is shown only when it does
# report a failure, and the callers check the outcome themselves.
compose() {
	files="-f docker/compose.yml"
	case $DB_PORT in
	none|off|no) ;;
	*) files="$files -f docker/compose.db-port.yml" ;;
	esac
	if [ "$ENGINE" = docker ]; then
		docker compose -p "$STACK_NAME" $files "$@"
		return
	fi
	_log=$(mktemp "${TMPDIR:-/tmp}/podman-compose.XXXXXX") || return 1
	podman-compose -p "$STACK_NAME" $files "$@" >"$_log" 2>&1
	_rc=$?
	if [ "$_rc" -ne 0 ] || [ -n "${STACK_VERBOSE:-}" ]; then
		cat "$_log" >&2
	fi
	rm -f "$_log"
	return "$_rc"
}

ctr() { printf '%s-%s\n' "$STACK_NAME" "$1"; }
network() { printf '%s_default\n' "$STACK_NAME"; }
volume() { printf '%s_pgdata\n' "$STACK_NAME"; }

ctr_exists() { $E container inspect "$(ctr "$1")" >/dev/null 2>&1; }
ctr_state() { $E container inspect -f '{{.State.Status}}' "$(ctr "$1")" 2>/dev/null; }
image_exists() { $E image inspect "$1" >/dev/null 2>&1; }
image_id() { $E image inspect -f '{{.Id}}' "$1" 2>/dev/null; }

# ctr_healthy SERVICE: 0 when the container's healthcheck passes.  Podman
# without systemd never runs healthchecks by itself (no timers), so for
# podman this runs the check now, which also records the status that
# `podman inspect` shows; Docker runs them itself.
ctr_healthy() {
	if [ "$ENGINE" = podman ]; then
		$E healthcheck run "$(ctr "$1")" >/dev/null 2>&1
	else
		[ "$($E container inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' \
		    "$(ctr "$1")" 2>/dev/null)" = healthy ]
	fi
}

# wait_healthy SERVICE: poll every second, at most STACK_TIMEOUT seconds;
# on failure show the end of the service's log.
wait_healthy() {
	_start=$(date +%s)
	while ! ctr_healthy "$1"; do
		_state=$(ctr_state "$1")
		case $_state in
		running|restarting|created|starting) ;;
		*)
			$E logs --tail 30 "$(ctr "$1")" >&2 2>&1
			die "$(ctr "$1") is ${_state:-missing}, not running" ;;
		esac
		if [ $(($(date +%s) - _start)) -ge "$STACK_TIMEOUT" ]; then
			$E logs --tail 30 "$(ctr "$1")" >&2 2>&1
			die "$(ctr "$1") did not turn healthy within ${STACK_TIMEOUT}s (STACK_TIMEOUT)"
		fi
		sleep 1
	done
	say "$(ctr "$1") is healthy ($(($(date +%s) - _start))s)"
}

need_images() {
	for _img in "$API_IMAGE" "$DB_IMAGE"; do
		image_exists "$_img" || die "image $_img not found: run ./buildImages.sh first"
	done
}

# Containers, network and (with "volume") the volume of the stack; what
# compose down leaves behind (podman-compose 1.0.x removes no network, and
# `run` containers of any engine) goes by name and label.
stack_down() {
	if [ "${1:-}" = volume ]; then
		compose down -v -t 30 >/dev/null || true
	else
		compose down -t 30 >/dev/null || true
	fi
	for _c in $($E ps -aq --filter "label=com.docker.compose.project=$STACK_NAME" 2>/dev/null); do
		quiet $E rm -f "$_c" 2>/dev/null || true
	done
	for _svc in $SERVICES; do
		$E rm -f "$(ctr "$_svc")" >/dev/null 2>&1 || true
	done
	if $E network inspect "$(network)" >/dev/null 2>&1; then
		$E network rm "$(network)" >/dev/null || die "cannot remove network $(network)"
	fi
	if [ "${1:-}" = volume ] && $E volume inspect "$(volume)" >/dev/null 2>&1; then
		$E volume rm "$(volume)" >/dev/null || die "cannot remove volume $(volume)"
	fi
}

# A libpq conninfo value: single-quoted, with \ and ' escaped.
cq() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"; }

# secret_put NAME VALUE: STACK_SECRETS/NAME holds VALUE, written in place
# (a mounted file keeps its inode).  The directory is the owner's only;
# the file is readable by all, as the containers' users are not the
# host's.
secret_put() {
	_f=$STACK_SECRETS/$1
	if [ -f "$_f" ] && [ "$(cat "$_f")" = "$2" ]; then
		return 0
	fi
	(umask 077 && printf '%s\n' "$2" > "$_f") || die "cannot write $_f"
	chmod 0644 "$_f" || die "cannot chmod $_f"
}

# The secrets of compose.yml, from POSTGRES_PASSWORD and ADMIN_PASSWORD.
secrets_write() {
	(umask 077 && mkdir -p "$STACK_SECRETS") ||
	    die "cannot create $STACK_SECRETS (STACK_SECRETS)"
	chmod 0700 "$STACK_SECRETS" || die "cannot chmod $STACK_SECRETS"
	secret_put postgres_password "${POSTGRES_PASSWORD:-starter}"
	secret_put pg_dsn "password=$(cq "${POSTGRES_PASSWORD:-starter}")"
	secret_put admin_password "${ADMIN_PASSWORD:-admin}"
}

secrets_remove() {
	if [ -d "$STACK_SECRETS" ]; then
		rm -f "$STACK_SECRETS/postgres_password" \
		    "$STACK_SECRETS/pg_dsn" "$STACK_SECRETS/admin_password"
		rmdir "$STACK_SECRETS" 2>/dev/null || true
	fi
	# var/stack/STACK_NAME and var/stack, when nothing else is there.
	if [ "${_secrets_default:-}" = yes ]; then
		rmdir "var/stack/$STACK_NAME" var/stack 2>/dev/null || true
	fi
}

# stack_start: db, healthy; api, healthy; init, run to completion.
stack_start() {
	need_images
	secrets_write
	if [ "$ENGINE" = podman ]; then
		# podman-compose 1.0.x neither recreates a container whose
		# image was rebuilt nor waits for service_healthy: replace such
		# containers here (the data is in the volume), create missing
		# ones with compose, then start them one by one.
		for _svc in $SERVICES; do
			ctr_exists "$_svc" || continue
			case $_svc in db) _img=$DB_IMAGE ;; *) _img=$API_IMAGE ;; esac
			if [ "$($E container inspect -f '{{.Image}}' "$(ctr "$_svc")")" != "$(image_id "$_img")" ]; then
				say "replacing $(ctr "$_svc"): $_img was rebuilt"
				quiet $E rm -f "$(ctr "$_svc")"
			elif [ "$($E container inspect -f '{{index .Config.Labels "io.starterd.config"}}' "$(ctr "$_svc")")" != "$STACK_CONFIG" ]; then
				say "replacing $(ctr "$_svc"): the settings changed"
				quiet $E rm -f "$(ctr "$_svc")"
			fi
		done
		_missing=
		for _svc in $SERVICES; do
			ctr_exists "$_svc" || _missing="$_missing $_svc"
		done
		if [ -n "$_missing" ]; then
			say "creating$_missing"
			compose up --no-start >/dev/null || true
			for _svc in $_missing; do
				ctr_exists "$_svc" || die "podman-compose did not create $(ctr "$_svc") (STACK_VERBOSE=1 shows its output)"
			done
		fi
		quiet $E start "$(ctr db)" || die "cannot start $(ctr db)"
		wait_healthy db
		quiet $E start "$(ctr api)" ||
		    die "cannot start $(ctr api) (is port $API_PORT free? API_PORT chooses another)"
		wait_healthy api
		_since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
		quiet $E start "$(ctr init)" || die "cannot start $(ctr init)"
	else
		compose up -d db || die "cannot start $(ctr db)"
		wait_healthy db
		compose up -d api ||
		    die "cannot start $(ctr api) (is port $API_PORT free? API_PORT chooses another)"
		wait_healthy api
		_since=$(date -u +%Y-%m-%dT%H:%M:%SZ)
		compose up -d --no-deps init || die "cannot start $(ctr init)"
	fi
	_rc=$($E wait "$(ctr init)") || _rc=unknown
	$E logs --since "$_since" "$(ctr init)" 2>&1 | sed 's/^/  init: /' >&2
	[ "$_rc" = 0 ] || die "$(ctr init) failed (exit status $_rc)"
}

# stack_stop: stop whatever of the stack runs (the volume and the containers
# stay; restart policies do not restart what was stopped).
stack_stop() {
	for _svc in init api db; do
		ctr_exists "$_svc" || continue
		[ "$(ctr_state "$_svc")" = running ] || continue
		# The service's stop_grace_period, which podman-compose 1.0.x
		# does not give the container: compose.yml labels it.
		_t=$($E container inspect -f '{{index .Config.Labels "io.starterd.stop-grace"}}' "$(ctr "$_svc")" 2>/dev/null)
		case $_t in ''|*[!0-9]*) _t=30 ;; esac
		quiet $E stop -t "$_t" "$(ctr "$_svc")" || die "cannot stop $(ctr "$_svc")"
		say "stopped $(ctr "$_svc")"
	done
}

# The images of IMAGE_TAG, then the build cache: untagged images carrying
# the stack's label (images of other tags, and whatever they still use, stay).
images_remove() {
	for _img in "$API_IMAGE" "$DB_IMAGE"; do
		image_exists "$_img" || continue
		$E rmi -f "$_img" >/dev/null || die "cannot remove image $_img"
		say "removed image $_img"
	done
	# Children before parents: repeat while something goes.
	_n=0
	while [ "$_n" -lt 20 ]; do
		_gone=0
		for _id in $($E images -a --filter "label=$STACK_LABEL" \
		    --format '{{.ID}} {{.Repository}}' 2>/dev/null |
		    awk '$2 == "<none>" { print $1 }'); do
			$E rmi "$_id" >/dev/null 2>&1 && _gone=$((_gone + 1))
		done
		[ "$_gone" -gt 0 ] || break
		_n=$((_n + 1))
	done
}

api_url() {
	case $API_BIND in
	0.0.0.0|'') printf 'http://localhost:%s\n' "$API_PORT" ;;
	*:*) printf 'http://[%s]:%s\n' "$API_BIND" "$API_PORT" ;;
	*) printf 'http://%s:%s\n' "$API_BIND" "$API_PORT" ;;
	esac
}
