# StarterCluster: the engines of a scaled-out starterd on loopback (issue 14):
# etcd, Patroni with a primary and a synchronous replica, HAProxy, PgBouncer.
# Used by t/scale/*.t and by scripts/cluster-demo, so it needs no Test::More:
# it croaks on failure and leaves reporting to the caller.
#
#   my $cl = StarterCluster->new(dir => $dir);	# dir: a fresh directory
#   $cl->start_etcd;
#   $cl->start_patroni(2);			# pg1 primary, pg2 sync replica
#   $cl->start_haproxy(http => [$port1, $port2, $port3]);
#   $cl->setup_starter_db($starterctl);	# database starter, demo rows
#   ... $cl->primary_dsn, $cl->replica_dsn, $cl->node('pg1')->{pgport} ...
#   $cl->stop;				# everything, by PID
#
# Every engine runs in the foreground as a child of this process, as the
# user postgres when we are root (PostgreSQL refuses root; the others need
# no privilege), with its files under dir.  Ports are picked free on
# 127.0.0.1; nothing listens elsewhere.  stop() (and the END block, and
# a croak during start) ends each process by its PID: SIGTERM, a bounded
# wait, then SIGKILL.
package StarterCluster;

use strict;
use warnings;

use Carp;
use StarterTest ();
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my @LIVE;			# every cluster not yet stopped, for END

# The engines this module needs, with the Debian package of each.
my %ENGINE = (
	etcd => ['/usr/bin/etcd', 'etcd-server'],
	patroni => ['/usr/bin/patroni', 'patroni'],
	patronictl => ['/usr/bin/patronictl', 'patroni'],
	haproxy => ['/usr/sbin/haproxy', 'haproxy'],
	pgbouncer => ['/usr/sbin/pgbouncer', 'pgbouncer'],
);

# missing(NAMES...): "name (apt-get install pkg)" for each engine not
# installed; empty when all are.
sub missing
{
	my (@names) = @_;
	my @miss;
	for my $n (@names) {
		my ($path, $pkg) = @{$ENGINE{$n} // croak "unknown engine $n"};
		my $found = -x $path ? $path : _which($n);
		push @miss, "$n (apt-get install $pkg)" unless $found;
	}
	push @miss, 'python3-psycopg2 (apt-get install python3-psycopg2)'
	    if (grep { $_ eq 'patroni' } @names) && !_python_has('psycopg2');
	return @miss;
}

sub _which
{
	my ($n) = @_;
	for my $d (split /:/, $ENV{PATH} // '', -1) {
		return "$d/$n" if length $d && -x "$d/$n";
	}
	return undef;
}

sub _python_has
{
	my ($mod) = @_;
	# Patroni's own interpreter (its #! line), which need not be PATH's.
	my $py = '/usr/bin/python3';
	if (open my $fh, '<', bin('patroni')) {
		my $l = <$fh> // '';
		close $fh;
		$py = $1 if $l =~ /^#!\s*(\S+)/;
	}
	return 0 unless -x $py;
	my $pid = fork // return 0;
	if ($pid == 0) {
		open STDOUT, '>', '/dev/null';
		open STDERR, '>', '/dev/null';
		{ no warnings q(exec); exec $py, "-c", "import $mod"; }
		POSIX::_exit(127);
	}
	waitpid($pid, 0);
	return $? == 0;
}

sub bin
{
	my ($n) = @_;
	my ($path) = @{$ENGINE{$n}};
	return -x $path ? $path : (_which($n) // croak "$n is not installed");
}

# PostgreSQL server binaries: PG_BINDIR, else Debian's newest.
sub pg_bindir
{
	return $ENV{PG_BINDIR} if $ENV{PG_BINDIR};
	my @d = reverse sort { ($a =~ /(\d+)/)[0] <=> ($b =~ /(\d+)/)[0] }
	    grep { -x "$_/postgres" && -x "$_/initdb" }
	    glob('/usr/lib/postgresql/*/bin');
	croak 'PostgreSQL server binaries not found (apt-get install '
	    . 'postgresql-15, or set PG_BINDIR)' unless @d;
	return $d[0];
}

# Ports: StarterTest's, so that no port is handed out twice in a process
# that starts both the engines and starterd.
sub free_port { return StarterTest::free_port(); }

sub new
{
	my ($class, %opt) = @_;
	my $dir = $opt{dir} // croak 'dir needed';
	-d $dir or croak "$dir: not a directory";
	my $self = bless {dir => $dir, procs => [], nodes => {},
	    scope => 'starterd', pid => $$}, $class;
	if ($> == 0) {
		my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
		croak 'running as root needs the user postgres to run the '
		    . 'engines as (apt-get install postgresql-15)'
		    unless defined $uid;
		@$self{qw(uid gid)} = ($uid, $gid);
		chown $uid, $gid, $dir or croak "chown $dir: $!";
	}
	chmod 0755, $dir;
	push @LIVE, $self;
	return $self;
}

sub dir { return $_[0]{dir}; }

# A directory under dir owned by the engines' user.
sub _mkdir
{
	my ($self, $name, $mode) = @_;
	my $d = "$self->{dir}/$name";
	mkdir $d or croak "mkdir $d: $!" unless -d $d;
	chown $self->{uid}, $self->{gid}, $d if defined $self->{uid};
	chmod $mode // 0755, $d;
	return $d;
}

sub _write
{
	my ($self, $path, $text, $mode) = @_;
	open my $fh, '>', $path or croak "$path: $!";
	print $fh $text;
	close $fh or croak "$path: $!";
	chown $self->{uid}, $self->{gid}, $path if defined $self->{uid};
	chmod $mode // 0644, $path;
	return $path;
}

# spawn(name, \@argv, env => {...}): run argv in the background, in its
# own process group, with stdout and stderr to dir/NAME.log, as the
# engines' user.  Returns the PID (the engine's own: no runuser between).
sub spawn
{
	my ($self, $name, $argv, %opt) = @_;
	my $log = "$self->{dir}/$name.log";
	my $pid = fork // croak "fork: $!";
	if ($pid == 0) {
		POSIX::setsid();
		$SIG{$_} = 'DEFAULT' for qw(INT TERM HUP ALRM PIPE);
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', $log or POSIX::_exit(126);
		open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
		if (defined $self->{uid}) {
			$) = "$self->{gid} $self->{gid}";
			$( = $self->{gid};
			$< = $> = $self->{uid};
			POSIX::_exit(126) if $> != $self->{uid};
		}
		$ENV{HOME} = $self->{dir};
		$ENV{$_} = $opt{env}{$_} for keys %{$opt{env} // {}};
		chdir $self->{dir};
		{ no warnings q(exec); exec { $argv->[0] } @$argv; }
		print STDERR "exec $argv->[0]: $!\n";
		POSIX::_exit(127);
	}
	push @{$self->{procs}}, {name => $name, pid => $pid, log => $log};
	return $pid;
}

sub proc
{
	my ($self, $name) = @_;
	my ($p) = grep { $_->{name} eq $name } @{$self->{procs}};
	return $p;
}

sub alive
{
	my ($self, $name) = @_;
	my $p = $self->proc($name) or return 0;
	return 0 if $p->{exited};
	my $w = waitpid($p->{pid}, WNOHANG);
	if ($w == $p->{pid} || $w == -1) {
		$p->{exited} = 1;
		$p->{status} = $?;
		return 0;
	}
	return 1;
}

# End one process: SIGTERM, up to $timeout seconds, then SIGKILL of its
# process group (what it started itself, e.g. Patroni's postgres, too).
sub stop_proc
{
	my ($self, $name, $timeout) = @_;
	my $p = $self->proc($name) or return;
	return if $p->{exited};
	kill 'TERM', $p->{pid};
	my $deadline = time + ($timeout // 15);
	while (time < $deadline) {
		last unless $self->alive($name);
		sleep 0.05;
	}
	if ($self->alive($name)) {
		kill 'KILL', -$p->{pid};
		kill 'KILL', $p->{pid};
		waitpid($p->{pid}, 0);
		$p->{exited} = 1;
	}
}

# Everything, in the reverse order of starting.  A Patroni node stops its
# postgres on SIGTERM; what survives is killed with the process group.
sub stop
{
	my ($self) = @_;
	return if $$ != $self->{pid};
	for my $p (reverse @{$self->{procs}}) {
		$self->stop_proc($p->{name});
	}
	# A postmaster whose Patroni died first is in Patroni's process
	# group, already killed; one started by a test is found by its
	# pid file.
	for my $n (values %{$self->{nodes}}) {
		my $pm = $self->postmaster_pid($n->{name});
		kill 'KILL', $pm if $pm && kill 0, $pm;
	}
	@LIVE = grep { $_ != $self } @LIVE;
}

sub log_tail
{
	my ($self, $name, $lines) = @_;
	my $p = $self->proc($name) or return '';
	open my $fh, '<', $p->{log} or return '';
	my @l = <$fh>;
	close $fh;
	splice @l, 0, @l - $lines if @l > ($lines // 40);
	return join '', @l;
}

# Every log's last lines, for a failed test's diagnostics.
sub logs
{
	my ($self, $lines) = @_;
	return join '', map { "---- $_->{log}\n" . $self->log_tail($_->{name},
	    $lines // 40) } @{$self->{procs}};
}

# --- a little HTTP client for the engines' REST interfaces -----------------

# http_get(port, path, timeout): (status, body), status 0 when no answer.
sub http_get
{
	my ($port, $path, $timeout) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
	    PeerPort => $port, Proto => 'tcp', Timeout => $timeout // 2)
	    or return (0, '');
	$s->autoflush(1);
	print $s "GET $path HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	my $buf = '';
	my $deadline = time + ($timeout // 2);
	my $sel = IO::Select->new($s);
	while (time < $deadline) {
		last unless $sel->can_read($deadline - time);
		my $n = sysread($s, $buf, 65536, length $buf);
		last unless $n;
	}
	close $s;
	return (0, '') unless $buf =~ m{^HTTP/\d\.\d (\d{3})[^\r\n]*\r\n(.*?)\r\n\r\n(.*)\z}s;
	return ($1 + 0, $3);
}

sub wait_for
{
	my ($cond, $timeout, $what) = @_;
	my $deadline = time + $timeout;
	while (1) {
		my $v = $cond->();
		return $v if $v;
		croak "timed out after ${timeout}s waiting for $what"
		    if time > $deadline;
		sleep 0.1;
	}
}

# --- etcd --------------------------------------------------------------------

sub start_etcd
{
	my ($self) = @_;
	my ($cport, $pport) = (free_port(), free_port());
	my $data = $self->_mkdir('etcd', 0700);
	$self->{etcd_port} = $cport;
	$self->spawn('etcd', [bin('etcd'), '--name', 'etcd1',
	    '--data-dir', "$data/data",
	    '--listen-client-urls', "http://127.0.0.1:$cport",
	    '--advertise-client-urls', "http://127.0.0.1:$cport",
	    '--listen-peer-urls', "http://127.0.0.1:$pport",
	    '--initial-advertise-peer-urls', "http://127.0.0.1:$pport",
	    '--initial-cluster', "etcd1=http://127.0.0.1:$pport",
	    '--initial-cluster-state', 'new',
	    '--listen-metrics-urls', '',
	    '--log-level', 'warn']);
	wait_for(sub {
		croak "etcd exited:\n" . $self->log_tail('etcd')
		    unless $self->alive('etcd');
		my ($st, $body) = http_get($cport, '/health', 1);
		$st == 200 && $body =~ /"health":\s*"true"/;
	}, 30, 'etcd /health');
	return $cport;
}

sub etcd_port { return $_[0]{etcd_port}; }

# --- Patroni -----------------------------------------------------------------

# The Patroni configuration of one node.  loop_wait 1 and
# primary_start_timeout 0: a crashed primary is given up at once (its
# synchronous replica has every acknowledged commit), not restarted in
# place for the default 300 s.  fsync off: the tests kill processes, not
# the machine, so the page cache survives; synchronous_commit stays on, so
# a commit is acknowledged only once the replica has it.
sub _patroni_yaml
{
	my ($self, $n) = @_;
	my $bindir = pg_bindir();
	return <<"YAML";
scope: $self->{scope}
namespace: /service/
name: $n->{name}
restapi:
  listen: 127.0.0.1:$n->{restport}
  connect_address: 127.0.0.1:$n->{restport}
etcd3:
  hosts: 127.0.0.1:$self->{etcd_port}
log:
  level: INFO
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
        fsync: 'off'
        full_page_writes: 'on'
        shared_preload_libraries: pg_stat_statements
        pg_stat_statements.track: all
        hot_standby_feedback: 'on'
  initdb:
    - encoding: UTF8
    - locale: C
    - auth: trust
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:$n->{pgport}
  connect_address: 127.0.0.1:$n->{pgport}
  data_dir: $n->{datadir}
  bin_dir: $bindir
  pgpass: $n->{dir}/pgpass
  authentication:
    superuser:
      username: starter
      password: starter
    replication:
      username: replicator
      password: replicator
    rewind:
      username: starter
      password: starter
  parameters:
    unix_socket_directories: '$n->{dir}'
    log_min_messages: warning
tags:
  nofailover: false
  noloadbalance: false
  clonefrom: false
  nosync: false
YAML
}

# start_patroni(N): N nodes pg1..pgN; pg1 is started first and becomes
# the primary, the others clone it and one becomes its synchronous
# standby.  Returns when /primary of pg1 and /sync of a replica answer.
sub start_patroni
{
	my ($self, $count) = @_;
	croak 'start_etcd first' unless $self->{etcd_port};
	for my $i (1 .. $count) {
		my $name = "pg$i";
		my $d = $self->_mkdir($name, 0755);
		my $n = {name => $name, dir => $d, datadir => "$d/data",
		    pgport => free_port(), restport => free_port()};
		$self->{nodes}{$name} = $n;
		$n->{config} = $self->_write("$d/patroni.yml",
		    $self->_patroni_yaml($n), 0600);
		$self->spawn("patroni-$name", [bin('patroni'), $n->{config}]);
		if ($i == 1) {
			wait_for(sub {
				croak "patroni $name exited:\n"
				    . $self->log_tail("patroni-$name")
				    unless $self->alive("patroni-$name");
				(http_get($n->{restport}, '/primary', 1))[0]
				    == 200;
			}, 90, "$name to become the primary");
		}
	}
	return unless $count > 1;
	wait_for(sub {
		for my $i (2 .. $count) {
			my $n = $self->{nodes}{"pg$i"};
			croak "patroni pg$i exited:\n"
			    . $self->log_tail("patroni-pg$i")
			    unless $self->alive("patroni-pg$i");
			return 1 if (http_get($n->{restport}, '/sync', 1))[0]
			    == 200;
		}
		return 0;
	}, 120, 'a synchronous standby');
	return 1;
}

sub node { return $_[0]{nodes}{$_[1]}; }
sub nodes { return sort keys %{$_[0]{nodes}}; }

# The node whose REST /primary answers 200 now, or undef.
sub primary
{
	my ($self) = @_;
	for my $name ($self->nodes) {
		my $n = $self->{nodes}{$name};
		return $name if (http_get($n->{restport}, '/primary', 1))[0]
		    == 200;
	}
	return undef;
}

# The postmaster's PID from its pid file (first line), or undef.
sub postmaster_pid
{
	my ($self, $name) = @_;
	my $n = $self->{nodes}{$name} or return undef;
	open my $fh, '<', "$n->{datadir}/postmaster.pid" or return undef;
	my $pid = <$fh>;
	close $fh;
	return undef unless defined $pid && $pid =~ /^(\d+)/;
	return $1;
}

# SIGKILL a node's postmaster, as a crash; returns the time of the kill.
# Patroni 3.0's loop, run while the dying postmaster's backends linger,
# can read an empty pg_stat_replication and take the replica's synchronous
# privilege away; it then restarts the crashed primary in place (a
# restart, not a failover: nothing is lost either way).  So the node's
# Patroni is paused (SIGSTOP) from just before the kill until every child
# of the postmaster is gone, and finds a postgres that is simply down.
sub kill_postmaster
{
	my ($self, $name) = @_;
	my $pm = $self->postmaster_pid($name) or croak "$name: no postmaster";
	my $pat = $self->proc("patroni-$name");
	my @kids = StarterTest::Server::children_of($pm);
	kill 'STOP', $pat->{pid} if $pat;
	my $t = time;
	kill 'KILL', $pm;
	my $deadline = time + 5;
	sleep 0.02 while time < $deadline && grep { kill 0, $_ } $pm, @kids;
	kill 'CONT', $pat->{pid} if $pat;
	return $t;
}

# A libpq DSN straight to one node.
sub node_dsn
{
	my ($self, $name, $db) = @_;
	my $n = $self->{nodes}{$name} or croak "no node $name";
	return "host=127.0.0.1 port=$n->{pgport} user=starter "
	    . 'dbname=' . ($db // 'starter');
}

# psql on one node: -At output, chomped; croaks on error.
sub psql
{
	my ($self, $name, $sql, %opt) = @_;
	my $n = $self->{nodes}{$name} or croak "no node $name";
	my @cmd = (pg_bindir() . '/psql', '-X', '-q', '-At', '-v',
	    'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $n->{pgport},
	    '-U', 'starter', '-d', $opt{dbname} // 'starter', '-c', $sql);
	my $out = _capture(\@cmd, $opt{timeout} // 30);
	croak "psql on $name failed: $out->{err}" if $out->{rc} != 0;
	chomp(my $o = $out->{out});
	return $o;
}

# Run argv with output captured, killed after $timeout seconds.
sub _capture
{
	my ($argv, $timeout, $stdin) = @_;
	require File::Temp;
	my ($ofh, $ofile) = File::Temp::tempfile();
	my ($efh, $efile) = File::Temp::tempfile();
	my ($ifh, $ifile) = File::Temp::tempfile();
	print $ifh $stdin if defined $stdin;
	close $ifh;
	my $pid = fork // croak "fork: $!";
	if ($pid == 0) {
		open STDIN, '<', $ifile or POSIX::_exit(126);
		open STDOUT, '>&', $ofh or POSIX::_exit(126);
		open STDERR, '>&', $efh or POSIX::_exit(126);
		{ no warnings q(exec); exec { $argv->[0] } @$argv; }
		POSIX::_exit(127);
	}
	my $deadline = time + $timeout;
	my $st;
	while (1) {
		my $w = waitpid($pid, WNOHANG);
		if ($w == $pid) { $st = $?; last; }
		if (time > $deadline) {
			kill 'KILL', $pid;
			waitpid($pid, 0);
			$st = -1;
			last;
		}
		sleep 0.02;
	}
	local $/;
	seek $ofh, 0, 0;
	seek $efh, 0, 0;
	my %r = (rc => $st == -1 ? -1 : $st >> 8, out => <$ofh> // '',
	    err => (<$efh> // '') . ($st == -1 ? "timed out\n" : ''));
	close $ofh;
	close $efh;
	unlink $ofile, $efile, $ifile;
	return \%r;
}

sub capture { my ($self, @a) = @_; return _capture(@a); }

# patronictl list: the table as text.
sub patronictl_list
{
	my ($self) = @_;
	my ($n) = map { $self->{nodes}{$_} } $self->nodes;
	my $r = _capture([bin('patronictl'), '-c', $n->{config}, 'list'],
	    30);
	return $r->{out} . $r->{err};
}

# The database starter, its schema, the demo rows and admin/admin, through
# the primary; then waits until the replicas have replayed it.
sub setup_starter_db
{
	my ($self, $starterctl) = @_;
	my $p = $self->primary // croak 'no primary';
	$self->psql($p, 'CREATE DATABASE starter', dbname => 'postgres');
	$self->psql($p, 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
	my $dsn = $self->node_dsn($p);
	for my $step (['initdb'], ['load-demo'],
	    ['adduser', '--password-stdin', 'admin']) {
		my $r = _capture([$starterctl, '-d', $dsn, @$step], 60,
		    "admin\n");
		croak "starterctl @$step failed: $r->{out}$r->{err}"
		    if $r->{rc} != 0;
	}
	$self->wait_replicas_caught_up;
	return 1;
}

# Wait (bounded) until every replica has replayed the primary's current
# WAL position.
sub wait_replicas_caught_up
{
	my ($self, $timeout) = @_;
	my $p = $self->primary // croak 'no primary';
	my $lsn = $self->psql($p, 'SELECT pg_current_wal_lsn()',
	    dbname => 'postgres');
	for my $name (grep { $_ ne $p } $self->nodes) {
		wait_for(sub {
			my $v = eval { $self->psql($name, 'SELECT '
			    . "pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn",
			    dbname => 'postgres') } // '';
			$v eq 't';
		}, $timeout // 30, "$name to replay $lsn");
	}
	return 1;
}

# --- HAProxy -----------------------------------------------------------------

# start_haproxy(http => [starterd ports]): a primary port (the node whose
# Patroni answers /primary), a replica port (/replica), and, when given
# starterd ports, an HTTP frontend over them health-checked on /readyz.
# Checks every 500 ms (a server that is down every 250 ms, so that a promoted
# node is seen soon); a server marked down has its sessions shut, so a
# connection to a demoted primary does not linger.  retries 0 on the
# PostgreSQL ports: HAProxy would wait a second before retrying a refused
# connection (a node whose postmaster just died), holding libpq's connect
# for it; failing at once lets libpq and starterd's back-off retry instead,
# which finds the promoted node sooner.  Long client/server
# timeouts on the PostgreSQL ports: starterd's connections are idle for
# long stretches (LISTEN), and HAProxy must not cut them.
sub start_haproxy
{
	my ($self, %opt) = @_;
	my $d = $self->_mkdir('haproxy', 0755);
	@$self{qw(ha_primary ha_replica ha_http ha_stats)} =
	    (free_port(), free_port(), free_port(), free_port());
	my $pgservers = sub {
		join '', map {
			my $n = $self->{nodes}{$_};
			"  server $_ 127.0.0.1:$n->{pgport} check port "
			    . "$n->{restport}\n";
		} $self->nodes;
	};
	my $cfg = <<"CFG";
global
  maxconn 2000
  stats socket $d/admin.sock mode 600 level admin

defaults
  timeout connect 2s
  timeout check 1s
  timeout client 1h
  timeout server 1h

listen pg_primary
  retries 0
  bind 127.0.0.1:$self->{ha_primary}
  mode tcp
  option httpchk OPTIONS /primary
  http-check expect status 200
  default-server inter 500ms fastinter 250ms downinter 250ms fall 2 rise 1 on-marked-down shutdown-sessions
@{[$pgservers->()]}
listen pg_replica
  retries 0
  bind 127.0.0.1:$self->{ha_replica}
  mode tcp
  balance roundrobin
  option httpchk OPTIONS /replica
  http-check expect status 200
  default-server inter 500ms fastinter 250ms downinter 250ms fall 2 rise 1 on-marked-down shutdown-sessions
@{[$pgservers->()]}
listen stats
  bind 127.0.0.1:$self->{ha_stats}
  mode http
  timeout client 30s
  stats enable
  stats uri /
CFG
	if (my @http = @{$opt{http} // []}) {
		$cfg .= <<"CFG";

frontend http
  bind 127.0.0.1:$self->{ha_http}
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
		for my $i (0 .. $#http) {
			$cfg .= sprintf "  server starterd%d 127.0.0.1:%d check\n",
			    $i + 1, $http[$i];
		}
	}
	my $file = $self->_write("$d/haproxy.cfg", $cfg);
	my $r = _capture([bin('haproxy'), '-c', '-q', '-f', $file], 30);
	croak "haproxy rejects its configuration:\n$r->{out}$r->{err}"
	    if $r->{rc} != 0;
	$self->spawn('haproxy', [bin('haproxy'), '-db', '-f', $file]);
	wait_for(sub {
		croak "haproxy exited:\n" . $self->log_tail('haproxy')
		    unless $self->alive('haproxy');
		(http_get($self->{ha_stats}, '/;csv', 1))[0] == 200;
	}, 20, 'haproxy');
	return 1;
}

sub haproxy_primary_port { return $_[0]{ha_primary}; }
sub haproxy_replica_port { return $_[0]{ha_replica}; }
sub haproxy_http_port { return $_[0]{ha_http}; }
sub haproxy_stats_port { return $_[0]{ha_stats}; }

# HAProxy's view: {"backend/server" => "UP"|"DOWN"|...}.
sub haproxy_status
{
	my ($self) = @_;
	my ($st, $body) = http_get($self->{ha_stats}, '/;csv', 2);
	my %s;
	for my $l (split /\n/, $body) {
		my @f = split /,/, $l;
		next if @f < 18 || $f[1] =~ /^(FRONTEND|BACKEND|svname)$/;
		$s{"$f[0]/$f[1]"} = $f[17];
	}
	return \%s;
}

# The DSN of HAProxy's primary port, and of the replica port with the
# primary port after it: libpq tries them in turn, so reads go to the
# primary when no replica is up (target_session_attrs=prefer-standby).
sub primary_dsn
{
	my ($self) = @_;
	return "host=127.0.0.1 port=$self->{ha_primary} user=starter "
	    . 'dbname=starter target_session_attrs=read-write '
	    . 'connect_timeout=2';
}

sub replica_dsn
{
	my ($self) = @_;
	return "host=127.0.0.1,127.0.0.1 port=$self->{ha_replica},"
	    . "$self->{ha_primary} user=starter dbname=starter "
	    . 'target_session_attrs=prefer-standby connect_timeout=2';
}

# The primary straight, bypassing HAProxy: libpq's multi-host string over
# every node, for LISTEN (and for a --dsn without HAProxy).
sub multihost_dsn
{
	my ($self, $attrs) = @_;
	my @n = map { $self->{nodes}{$_} } $self->nodes;
	return 'host=' . join(',', map { '127.0.0.1' } @n)
	    . ' port=' . join(',', map { $_->{pgport} } @n)
	    . ' user=starter dbname=starter target_session_attrs='
	    . ($attrs // 'read-write') . ' connect_timeout=2';
}

# --- PgBouncer ---------------------------------------------------------------

# start_pgbouncer(host => H, port => P): transaction pooling in front of
# one PostgreSQL (trust, as the tests' clusters).  Returns its port.
# starterd's session settings (set_config at connect: IntervalStyle,
# extra_float_digits, its statement_timeout) do not survive transaction
# pooling, so every server connection gets them from connect_query
# (doc/SCALING); PgBouncer 1.18 itself carries only DateStyle, TimeZone
# and a few others across.  No server_check_query: its SELECT 1 would be
# counted by the tests that count statements (t/102).  The timeouts are
# doc/SCALING's: with the database gone PgBouncer keeps starterd's
# connection and holds its statement, so query_wait_timeout is how soon
# starterd learns of an outage (then 503 at once: PgBouncer fails the
# next statements itself while its logins fail), server_login_retry how
# soon after the database is back PgBouncer tries it again (default 15 s).
sub start_pgbouncer
{
	my ($self, %opt) = @_;
	my $d = $self->_mkdir('pgbouncer', 0755);
	my $port = free_port();
	my $cq = 'SET IntervalStyle = iso_8601; SET extra_float_digits = 1; '
	    . 'SET statement_timeout = ' . ($opt{statement_timeout} // 5000);
	$self->_write("$d/users.txt", qq{"starter" ""\n}, 0600);
	my $ini = $self->_write("$d/pgbouncer.ini", <<"INI", 0600);
[databases]
* = host=$opt{host} port=$opt{port} connect_query='$cq'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $d/users.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = @{[$opt{pool_size} // 20]}
query_wait_timeout = 1
server_login_retry = 0.25
server_connect_timeout = 2
admin_users = starter
stats_users = starter
ignore_startup_parameters = extra_float_digits
server_check_query =
log_connections = 0
log_disconnections = 0
INI
	$self->spawn('pgbouncer', [bin('pgbouncer'), $ini]);
	wait_for(sub {
		croak "pgbouncer exited:\n" . $self->log_tail('pgbouncer')
		    unless $self->alive('pgbouncer');
		IO::Socket::INET->new(PeerAddr => '127.0.0.1',
		    PeerPort => $port, Proto => 'tcp', Timeout => 1);
	}, 20, 'pgbouncer');
	$self->{bouncer_port} = $port;
	return $port;
}

sub pgbouncer_port { return $_[0]{bouncer_port}; }

END {
	local $?;
	$_->stop for reverse @LIVE;
}

1;
