#!/bin/sh
# Remove the containers and the network of the Docker stack, keeping the
# database volume (./startStack.sh recreates the rest, with the data).
# ./cleanupImages.sh removes everything.  See the README (section Docker).
. "$(dirname "$0")/docker/lib.sh"
engine_select
stack_down
say "removed the containers and network of $STACK_NAME; kept volume $(volume)"
