#!/bin/bash
# starterd-healthcheck: exit 0 when GET /healthz on the local starterd
# answers 200.  bash's /dev/tcp instead of curl: nothing to install, so the
# runtime image keeps just the daemon's own libraries.
# Usage: starterd-healthcheck [PORT] (default $STARTERD_PORT, else 5000).
port=${1:-${STARTERD_PORT:-5000}}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 3 status <&3 || exit 1
case $status in
"HTTP/1."[01]" 200"*) exit 0 ;;
*) exit 1 ;;
esac
