#!/bin/sh
# Build the images of the Docker stack: starter/starter-api (docker/Dockerfile)
# and starter/postgres (docker/db/Dockerfile, which takes starterctl from the
# first).  Extra arguments go to every `build` (e.g. --no-cache).
# Engine and settings: see docker/lib.sh and the README (section Docker).
. "$(dirname "$0")/docker/lib.sh"
engine_select

build() {
	if [ "$ENGINE" = podman ]; then
		# The Docker image format: OCI images have no HEALTHCHECK.
		podman build --format docker "$@"
	else
		docker build "$@"
	fi
}

say "building $API_IMAGE with $ENGINE"
build "$@" -t "$API_IMAGE" -f docker/Dockerfile . ||
    die "building $API_IMAGE failed"
say "building $DB_IMAGE with $ENGINE"
build "$@" --build-arg "API_IMAGE=$API_IMAGE" -t "$DB_IMAGE" -f docker/db/Dockerfile . ||
    die "building $DB_IMAGE failed"
for _img in "$API_IMAGE" "$DB_IMAGE"; do
	say "$_img: $($E image inspect -f '{{.Size}}' "$_img" |
	    awk '{ printf "%.1f MB", $1 / 1000000 }')"
done
