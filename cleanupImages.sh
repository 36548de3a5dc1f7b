#!/bin/sh
# Remove everything of the Docker stack: containers, network, the database
# volume (ALL ITS DATA), the secret files, the images and their build
# cache.
# See the README (section Docker).
. "$(dirname "$0")/docker/lib.sh"
engine_select
stack_down volume
secrets_remove
say "removed the containers, network, volume and secret files of $STACK_NAME"
images_remove
