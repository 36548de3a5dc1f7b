#!/bin/sh
# engine: the entry point of starter/scale-engines (docker/compose.scale.yml).
#
#   engine etcd                  etcd on :2379, data in /var/lib/etcd-data
#   engine patroni NAME          Patroni node NAME (PostgreSQL on :5432,
#                                REST on :8008), DCS etcd:2379
#   engine haproxy NODES -- APIS HAProxy: :5000 the primary (Patroni
#                                /primary), :5001 the replicas (/replica),
#                                :8080 HTTP over the starterd instances
#                                (/readyz), :8404 statistics
#
# Environment for patroni: POSTGRES_PASSWORD_FILE (a file holding the
# password of the superuser starter and the user replicator; or
# POSTGRES_PASSWORD, the password itself), ETCD_HOST (etcd:2379).  Settings as in
# t/lib/StarterCluster.pm and doc/SCALING: synchronous_mode, loop_wait 1,
# primary_start_timeout 0.
set -eu

die() { echo "engine: $*" >&2; exit 1; }
# Drop root: exec the engine as USER (setpriv execs, so the engine is the
# container's main process and gets its signals).
as() {
	user=$1; shift
	if [ "$(id -u)" -eq 0 ]; then
		exec setpriv --reuid="$user" --regid="$user" --init-groups \
		    --inh-caps=-all -- "$@"
	fi
	exec "$@"
}

mode=${1:-}
[ $# -gt 0 ] && shift
case $mode in
etcd)
	host=$(hostname)
	as engines etcd --name "$host" --data-dir /var/lib/etcd-data/data \
	    --listen-client-urls http://0.0.0.0:2379 \
	    --advertise-client-urls "http://$host:2379" \
	    --listen-peer-urls http://0.0.0.0:2380 \
	    --initial-advertise-peer-urls "http://$host:2380" \
	    --initial-cluster "$host=http://$host:2380" \
	    --initial-cluster-state new --log-level warn
	;;
patroni)
	name=${1:?usage: engine patroni NAME}
	if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
		pw=$(cat "$POSTGRES_PASSWORD_FILE") ||
			die "cannot read $POSTGRES_PASSWORD_FILE"
	else
		pw=${POSTGRES_PASSWORD:-}
	fi
	[ -n "$pw" ] || die "POSTGRES_PASSWORD_FILE or POSTGRES_PASSWORD is required"
	unset POSTGRES_PASSWORD
	# In the YAML below: a double-quoted scalar, so \ and " escaped.
	pw=$(printf '%s' "$pw" | sed 's/[\\"]/\\&/g')
	conf=/var/lib/patroni/patroni.yml
	umask 077
	# Run once by the node that bootstraps the cluster: the database.
	cat > /var/lib/patroni/post_init.sh <<'SH'
#!/bin/sh
exec psql -X -q -d "$1" -c 'CREATE DATABASE starter'
SH
	chmod 0755 /var/lib/patroni/post_init.sh
	cat > "$conf" <<YAML
scope: starterd
namespace: /service/
name: $name
restapi:
  listen: 0.0.0.0:8008
  connect_address: $name:8008
etcd3:
  hosts: ${ETCD_HOST:-etcd:2379}
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 1
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    primary_start_timeout: 0
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 200
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 128MB
        password_encryption: scram-sha-256
  initdb:
    - encoding: UTF8
    - locale: C
  post_init: /var/lib/patroni/post_init.sh
  pg_hba:
    - local all all trust
    - host replication replicator samenet scram-sha-256
    - host all all samenet scram-sha-256
postgresql:
  listen: 0.0.0.0:5432
  connect_address: $name:5432
  data_dir: /var/lib/patroni/data
  bin_dir: /usr/lib/postgresql/15/bin
  pgpass: /var/lib/patroni/pgpass
  # A replica's clone asks for an immediate checkpoint (the default, a
  # spread one, kept the second node "creating replica" for over a minute).
  basebackup:
    - checkpoint: fast
  authentication:
    superuser:
      username: starter
      password: "$pw"
    replication:
      username: replicator
      password: "$pw"
    rewind:
      username: starter
      password: "$pw"
  parameters:
    unix_socket_directories: /var/lib/patroni
YAML
	chown postgres:postgres "$conf" /var/lib/patroni/post_init.sh
	as postgres patroni "$conf"
	;;
haproxy)
	nodes=
	while [ $# -gt 0 ] && [ "$1" != -- ]; do nodes="$nodes $1"; shift; done
	[ $# -gt 0 ] && shift
	apis=$*
	[ -n "$nodes" ] && [ -n "$apis" ] ||
		die "usage: engine haproxy NODE... -- API..."
	conf=/tmp/haproxy.cfg
	pgservers() {
		for n in $nodes; do
			echo "  server $n $n:5432 check port 8008"
		done
	}
	{
		cat <<CFG
global
  maxconn 2000

resolvers dns
  parse-resolv-conf
  hold valid 5s

defaults
  timeout connect 2s
  timeout check 1s
  timeout client 1h
  timeout server 1h
  default-server init-addr last,libc,none resolvers dns

listen pg_primary
  retries 0
  bind :5000
  mode tcp
  option httpchk OPTIONS /primary
  http-check expect status 200
  default-server inter 500ms fastinter 250ms downinter 250ms fall 2 rise 1 on-marked-down shutdown-sessions
$(pgservers)

listen pg_replica
  retries 0
  bind :5001
  mode tcp
  balance roundrobin
  option httpchk OPTIONS /replica
  http-check expect status 200
  default-server inter 500ms fastinter 250ms downinter 250ms fall 2 rise 1 on-marked-down shutdown-sessions
$(pgservers)

listen stats
  bind :8404
  mode http
  timeout client 30s
  stats enable
  stats uri /

frontend http
  bind :8080
  mode http
  timeout client 30s
  timeout http-request 10s
  default_backend starterd

backend starterd
  mode http
  balance roundrobin
  timeout server 30s
  option httpchk GET /readyz
  http-check expect status 200
  retry-on conn-failure empty-response
  option redispatch
  default-server inter 500ms fastinter 250ms fall 2 rise 1
CFG
		for a in $apis; do echo "  server $a $a:5000 check"; done
	} > "$conf"
	chmod 0644 "$conf"
	as engines haproxy -db -f "$conf"
	;;
*)
	die "usage: engine etcd | patroni NAME | haproxy NODE... -- API..."
	;;
esac
