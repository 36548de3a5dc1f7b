#!/bin/sh
# Stop the Docker stack; containers, network and data stay (./startStack.sh
# starts it again).  See the README (section Docker).
. "$(dirname "$0")/docker/lib.sh"
engine_select
stack_stop
say "stack $STACK_NAME stopped"
