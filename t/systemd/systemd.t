#!/usr/bin/perl
# t/systemd/systemd.t: `make check-systemd`.  The Debian package under a
# real systemd: builds the .deb (dpkg-buildpackage -us -uc -b, as
# t/096_deb.t does), boots a Debian 12 container with systemd as PID 1
# (podman run --systemd=always) and PostgreSQL 15 in it, installs the
# package there with dpkg and shows:
#
#   - starterd -t, as the user starterd with the unit's environment file,
#     checks the database: ok while it is up, one line, exit 1 when not;
#   - systemctl start returns once the master sent READY=1: the unit is
#     active (running), its status text says it serves, and the first
#     request, sent at once, is answered;
#   - systemctl reload under load (keep-alive and new connections) fails
#     no request, and new workers take over under the same master; a
#     reload with a broken configuration fails and the old workers go on;
#   - systemctl stop drains: requests waiting on a table lock all get 200
#     and the unit stops cleanly (exit 0, no SIGKILL);
#   - the watchdog restarts a master that stops answering (SIGSTOP);
#   - a broken configuration makes systemctl start fail, with its one
#     line in journalctl -p err -u starterd.
#
# The container has no network (--network none): every request goes to its
# own loopback.  It and the image are removed at the end (KEEP_SYSTEMD=1
# keeps them when a check failed).  Needs podman, the local
# debian:bookworm-slim image (../shared/container/setup-podman), the Debian
# archive for the image build, and the packaging tools of t/096_deb.t.
# Every command is bounded by timeout(1), the whole script by an alarm.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(rmtree);
use File::Temp qw(tempdir);
use JSON::PP qw(decode_json);
use POSIX ();
use Time::HiRes qw(time sleep);
use lib dirname(__FILE__) . '/../lib';
use StarterDeb;
use Test::More;

my $here = abs_path(dirname(__FILE__));
my $srcdir = $ENV{TOP_SRCDIR} // abs_path("$here/../..");
my $image = 'localhost/starterd-systemd:test';
my $ctr = "starterd-systemd-$$";
my $PORT = 5000;
my $DSN = 'host=/run/postgresql dbname=starter';
my $MAIN = $$;

alarm($ENV{SYSTEMD_TEST_TIMEOUT} // 1200);
$SIG{ALRM} = sub { print STDERR "# timed out, cleaning up\n"; exit 1; };
$SIG{INT} = $SIG{TERM} = sub { exit 1; };

for my $tool (qw(podman git dpkg-buildpackage dpkg-deb timeout)) {
	next if grep { -x "$_/$tool" } split /:/, $ENV{PATH};
	plan skip_all => "$tool not found (../shared/container/setup-podman; "
	    . 'apt-get install git debhelper dpkg-dev)'
	    if ($ENV{SYSTEMD_TEST} // '') eq 'skip';
	BAIL_OUT("$tool not found: make check-systemd needs podman "
	    . '(../shared/container/setup-podman) and the packaging tools');
}

my $tmp = tempdir('starterd-systemd-XXXXXX', TMPDIR => 1);
my $keep;
END {
	return if $$ != $MAIN;
	local $?;
	my $failed = !Test::More->builder->is_passing;
	if ($failed && ($ENV{KEEP_SYSTEMD} // '') eq '1') {
		diag("kept container $ctr, image $image and $tmp");
	} else {
		system("timeout 60 podman rm -f -t 0 $ctr >/dev/null 2>&1");
		system("timeout 60 podman rmi -f $image >/dev/null 2>&1");
		rmtree($tmp) if defined $tmp;
	}
}

# host(SECONDS, COMMAND...): (exit status, output).
sub host { my $secs = shift; return StarterDeb::run($tmp, $secs, @_); }

# in(SCRIPT[, SECONDS]): a shell script in the container as root.
sub in
{
	my ($script, $secs) = @_;
	return host($secs // 60, 'podman', 'exec', $ctr, 'sh', '-c', $script);
}

# out(SCRIPT): its output, chomped (diagnosed when it fails).
sub out
{
	my ($rc, $o) = in(@_);
	diag("failed ($rc): $_[0]\n$o") if $rc != 0;
	chomp $o;
	return $o;
}

sub wait_until
{
	my ($cond, $secs) = @_;
	my $deadline = time + $secs;
	while (time < $deadline) {
		return 1 if $cond->();
		sleep 0.25;
	}
	return $cond->();
}

sub show { return out("systemctl show -P $_[0] starterd"); }

sub workers
{
	my $main = show('MainPID');
	return () unless $main && $main ne '0';
	return sort { $a <=> $b } split ' ', out("pgrep -P $main || :");
}

# The time of the journal's last entry, in microseconds: a mark to look
# for later entries from.
sub cursor
{
	my $c = out('journalctl -n 0 --show-cursor');
	no warnings 'portable';		# 64-bit microseconds
	return $c =~ /;t=([0-9a-f]+)/ ? hex($1) : 0;
}

# The messages of journalctl -u starterd OPTIONS after the mark; with
# ident, only those of that SYSLOG_IDENTIFIER.  By time (--since, then the
# exact microsecond here): journalctl --after-cursor together with -u
# and -p skips entries here, and a field match beside -u does not select
# them all either.
sub journal
{
	my ($mark, $opt, $ident) = @_;
	my $since = int($mark / 1e6);
	my $o = out("journalctl --no-pager -o json --since \@$since "
	    . "-u starterd " . ($opt // ''));
	my @m;
	for (grep { /^\{/ } split /\n/, $o) {
		my $e = decode_json($_);
		next if ($e->{__REALTIME_TIMESTAMP} // 0) <= $mark;
		next if defined $ident &&
		    ($e->{SYSLOG_IDENTIFIER} // '') ne $ident;
		push @m, ref $e->{MESSAGE} ? pack('C*', @{$e->{MESSAGE}})
		    : $e->{MESSAGE} // '';
	}
	return join("\n", @m);
}

# A background command on the host: (pid, file its output goes to).
sub spawn
{
	my ($name, @cmd) = @_;
	my $f = "$tmp/$name.out";
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open(STDOUT, '>', $f) or POSIX::_exit(127);
		open(STDERR, '>&', \*STDOUT) or POSIX::_exit(127);
		open(STDIN, '<', '/dev/null') or POSIX::_exit(127);
		exec('timeout', '-k', '10', 300, @cmd) or POSIX::_exit(127);
	}
	return ($pid, $f);
}

sub reap
{
	my ($pid, $f, $secs) = @_;
	my $deadline = time + $secs;
	while (waitpid($pid, POSIX::WNOHANG()) == 0) {
		if (time > $deadline) {
			kill 'KILL', $pid;
			waitpid($pid, 0);
			last;
		}
		sleep 0.1;
	}
	open my $fh, '<', $f or return '';
	local $/;
	return scalar(<$fh>) // '';
}

sub load_count { return out('cat /tmp/load.*.log 2>/dev/null | wc -l') + 0; }

# ---------------------------------------------------------------- build

my $b = StarterDeb::build($srcdir, $tmp, 900);
ok($b->{ok}, 'dpkg-buildpackage -us -uc -b builds the .deb')
    or BAIL_OUT(substr($b->{log}, -4000));
note("package built in $b->{seconds} s");

# The image: Debian 12 with systemd, PostgreSQL 15 and what the package
# depends on (so that dpkg -i needs no network), procps for pgrep, curl.
my ($rc, $deps) = host(60, 'dpkg-deb', '-f', $b->{deb}, 'Depends');
my @deps = map { s/\s*\(.*//r } map { s/\|.*//r =~ s/^\s+|\s+$//gr }
    split /,/, $deps;
@deps = grep { length && !/^libc6$/ } @deps;
ok(@deps >= 3, "the package depends on @deps");
open my $cf, '>', "$tmp/Containerfile" or die "$tmp/Containerfile: $!";
print $cf <<"EOF";
FROM debian:bookworm-slim
RUN set -eux; export DEBIAN_FRONTEND=noninteractive; apt-get update; \\
    apt-get install -y --no-install-recommends systemd systemd-sysv dbus \\
	postgresql-15 procps perl curl @deps; \\
    apt-get clean; rm -rf /var/lib/apt/lists/*
STOPSIGNAL SIGRTMIN+3
CMD ["/sbin/init"]
EOF
close $cf;
my $t0 = time;
($rc, my $o) = host(900, 'podman', 'build', '-q', '-t', $image, '-f',
    "$tmp/Containerfile", $tmp);
is($rc, 0, 'image with systemd and PostgreSQL 15 built') or
    BAIL_OUT(substr($o, -3000));
note(sprintf('image built in %d s', time - $t0));

($rc, $o) = host(60, 'podman', 'run', '-d', '--name', $ctr,
    '--systemd=always', '--network', 'none', $image);
is($rc, 0, 'container started with systemd as PID 1') or BAIL_OUT($o);
# Until systemd has its bus, systemctl cannot even ask.
ok(wait_until(sub { ($o = (in('systemctl is-system-running'))[1]) =~
    /^(running|degraded)$/m }, 120), 'systemd is up') or
    diag($o, out('systemctl --failed --no-pager'));
is(out('cat /proc/1/comm'), 'systemd', 'PID 1 is systemd');
ok(wait_until(sub { out('systemctl is-active postgresql@15-main') eq
    'active' }, 60), 'PostgreSQL 15 runs in the container');

# ---------------------------------------------------------------- install

($rc, $o) = host(60, 'podman', 'cp', $b->{deb}, "$ctr:/tmp/starterd.deb");
is($rc, 0, 'the .deb copied into the container') or diag($o);
($rc, $o) = host(60, 'podman', 'cp', "$here/client.pl",
    "$ctr:/usr/local/bin/client.pl");
is($rc, 0, 'the test client copied in') or diag($o);
($rc, $o) = in('dpkg -i /tmp/starterd.deb', 120);
is($rc, 0, 'dpkg -i installs the package under systemd') or diag($o);
like(out('getent passwd starterd'),
    qr{^starterd:x:\d+:\d+:.*:/usr/sbin/nologin$},
    'the system user starterd exists (sysusers)');
is(out('systemctl is-enabled starterd || :'), 'disabled',
    'installed neither enabled ...');
is(out('systemctl is-active starterd || :'), 'inactive', '... nor started');
like(show('ExecStartPre'), qr{argv\[\]=/usr/sbin/starterd -t\b},
    'the unit runs starterd -t before start');
like(show('ExecReload'),
    qr{argv\[\]=/usr/sbin/starterd -t\b.*argv\[\]=/bin/kill -HUP}s,
    'the unit runs starterd -t before the reload signal');

# The database, as README.Debian says, and the demo data.
($rc, $o) = in(<<"EOF", 120);
set -e
su postgres -c 'createuser starterd && createdb -O starterd starter'
echo 'STARTERD_DSN="$DSN"' >>/etc/default/starterd
cp /etc/default/starterd /etc/default/starterd.good
cp /etc/starterd/starterd.conf /etc/starterd/starterd.conf.good
as() { runuser -u starterd -- env STARTERD_DSN='$DSN' "\$@"; }
as starterctl initdb
as starterctl load-demo
printf 'admin\\n' | as starterctl adduser admin --password-stdin
EOF
is($rc, 0, 'database created, schema applied, demo rows and user admin')
    or diag($o);

# ---------------------------------------------------------------- starterd -t

my $T = q{runuser -u starterd -- sh -c 'set -a; . /etc/default/starterd; }
    . q{exec starterd -t' 2>&1};
sub t_run { my ($rc, $o) = in($T); chomp $o; return ($rc, $o); }
($rc, $o) = t_run();
is($rc, 0, 'starterd -t against the database: exit 0') or diag($o);
like($o, qr/\bok\b.*database reachable/, "starterd -t: ok ($o)");
unlike($o, qr/not checked/, 'starterd -t checked the database');
in('systemctl stop postgresql@15-main', 60);
($rc, $o) = t_run();
is($rc, 1, 'starterd -t with PostgreSQL stopped: exit 1');
is(scalar(my @l = split /\n/, $o), 1, "starterd -t: one line ($o)");
like($o, qr/database|connect|server/i, 'the line names the database');
in('systemctl start postgresql@15-main', 60);
ok(wait_until(sub { (t_run())[0] == 0 }, 30),
    'starterd -t: ok again with PostgreSQL back');

# ---------------------------------------------------------------- start

my $cur = cursor();
($rc, $o) = in('systemctl start starterd && for p in ActiveState SubState '
    . 'StatusText; do systemctl show -P $p starterd; done && curl -s -o '
    . "/dev/null -w '%{http_code}' -u admin:admin "
    . "http://127.0.0.1:$PORT/api/v1.0/pxcodes/", 120);
is($rc, 0, 'systemctl start starterd succeeds') or diag($o);
my @st = split /\n/, $o;
is($st[0], 'active', 'active as soon as systemctl start returns');
is($st[1], 'running', 'running (Type=notify: READY=1 was sent)');
like($st[2] // '', qr/serving/, "status text from the master: $st[2]");
is($st[3] // '', '200', 'the first request, sent at once, is answered 200');
my $main = show('MainPID');
like(out("cat /proc/$main/cmdline | tr '\\0' ' '"), qr{starterd},
    "MainPID $main is starterd");
my @w = workers();
ok(@w >= 1, "the master has workers (@w)");
ok(wait_until(sub { journal($cur, '', 'starterd') =~
    /configuration .* is ok/ }, 10),
    'ExecStartPre (starterd -t) logged its check');

# ---------------------------------------------------------------- reload

in('rm -f /tmp/load.* /tmp/load.stop');
my ($lpid, $lf) = spawn('load', 'podman', 'exec', $ctr, 'perl',
    '/usr/local/bin/client.pl', 'load', 240, '/tmp/load.stop');
ok(wait_until(sub { load_count() >= 50 }, 60),
    'the load runs (50 requests)');
for my $i (1 .. 3) {
	my @old = workers();
	my $n = load_count();
	($rc, $o) = in('systemctl reload starterd', 60);
	is($rc, 0, "systemctl reload $i under load: exit 0") or diag($o);
	my %old = map { $_ => 1 } @old;
	ok(wait_until(sub {
		my @now = workers();
		@now == @old && !grep { $old{$_} } @now;
	    }, 30), "reload $i: new workers (were @old, now @{[workers()]})");
	is(show('MainPID'), $main, "reload $i: the same master");
	ok(wait_until(sub { load_count() >= $n + 30 }, 30),
	    "reload $i: requests go on");
}

# A reload with a broken file: ExecReload's starterd -t refuses it.
@w = workers();
in(q{echo 'workers = lots' >>/etc/starterd/starterd.conf});
$cur = cursor();
($rc, $o) = in('systemctl reload starterd', 60);
isnt($rc, 0, 'systemctl reload with a broken configuration fails');
ok(wait_until(sub { journal($cur, '-p err', 'starterd')
    =~ /workers/ }, 10), 'its one line is in the journal at priority err');
is(show('ActiveState'), 'active', 'the unit stays active');
is(show('MainPID'), $main, 'the master keeps running');
is_deeply([workers()], \@w, 'with the same workers (no SIGHUP sent)');
my $n = load_count();
ok(wait_until(sub { load_count() >= $n + 30 }, 30), 'and they serve');
in('cp /etc/starterd/starterd.conf.good /etc/starterd/starterd.conf');

in('touch /tmp/load.stop');
my $lo = reap($lpid, $lf, 60);
my ($total, $failed) = $lo =~ /^requests (\d+) failed (\d+)$/m;
ok(defined $total && $total > 100, "the load made requests (@{[$total // 0]})")
    or diag($lo);
is($failed, 0, 'no request failed across the reloads') or diag($lo);

# ---------------------------------------------------------------- stop

# Requests waiting in PostgreSQL on a table lock while the unit stops:
# items not fetched before, so that the cache does not answer them.
my @items = map { "/api/v1.0/pxcodes/$_" } split ' ', out(
    q{su postgres -c "psql -XAt -d starter -c 'SELECT pxcode FROM }
    . q{starter_pxcodes ORDER BY pxcode DESC LIMIT 4'"} . q{ | tr '\n' ' '});
is(scalar @items, 4, 'four items to ask for');
($rc, $o) = host(30, 'podman', 'exec', '-d', $ctr, 'su', 'postgres', '-c',
    q{psql -XAq -d starter -c 'BEGIN; LOCK TABLE starter_pxcodes IN }
    . q{ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120); COMMIT;'});
is($rc, 0, 'a session holds an exclusive lock on the table') or diag($o);
my $WAITING = q{su postgres -c "psql -XAt -d starter -c \"SELECT count(*) }
    . q{FROM pg_stat_activity WHERE usename = 'starterd' AND }
    . q{wait_event_type = 'Lock'\""};
ok(wait_until(sub { out(q{su postgres -c "psql -XAt -d starter -c \"SELECT }
    . q{count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND }
    . q{granted AND relation = 'starter_pxcodes'::regclass\""}) eq '1' }, 15),
    'the lock is taken');
my ($ipid, $if) = spawn('inflight', 'podman', 'exec', $ctr, 'perl',
    '/usr/local/bin/client.pl', 'inflight', @items);
# Each worker pipelines its queries on one connection: PostgreSQL shows a
# waiting backend per worker, the workers' metrics the four connections.
my $CONNS = "curl -s -u admin:admin http://127.0.0.1:$PORT/metrics | "
    . q{awk '/^starterd_worker_connections/ { n += $2 } END { print n + 0 }'};
ok(wait_until(sub { out($CONNS) >= 4 && out($WAITING) >= 1 }, 30),
    'four requests in flight, waiting on the lock in PostgreSQL');
# systemctl stop while they wait; the lock goes (its holder cancelled) once
# the unit is seen stopping with the requests still unanswered.
$cur = cursor();
my ($spid, $sf) = spawn('stop', 'sh', '-c', "podman exec $ctr systemctl "
    . 'stop starterd; echo "exit $?"');
ok(wait_until(sub { show('ActiveState') eq 'deactivating' }, 15),
    'systemctl stop: the unit is stopping');
is(waitpid($ipid, POSIX::WNOHANG()), 0,
    'the waiting requests are not answered yet');
is(out(q{su postgres -c "psql -XAt -d starter -c \"SELECT count(*) FROM }
    . q{(SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query }
    . q{LIKE 'BEGIN; LOCK TABLE%') c\""}), '1', 'the lock released');
my $so = reap($spid, $sf, 60);
like($so, qr/^exit 0$/m, 'systemctl stop starterd succeeds') or diag($so);
my $io = reap($ipid, $if, 30);
is(scalar(() = $io =~ /^200 /mg), 4, 'every waiting request got 200')
    or diag($io);
is(show('ActiveState'), 'inactive', 'the unit is inactive');
is(show('Result'), 'success', 'result success');
is(show('ExecMainStatus'), '0', 'the master exited 0');
unlike(journal($cur), qr/SIGKILL/, 'nothing was killed');

# ---------------------------------------------------------------- watchdog

# A shorter watchdog for the test (the unit's is 30 s), as a drop-in.
in(q{mkdir -p /etc/systemd/system/starterd.service.d && printf }
    . q{'[Service]\nWatchdogSec=3s\n' >/etc/systemd/system/starterd.service.d/}
    . q{watchdog.conf && systemctl daemon-reload});
($rc, $o) = in('systemctl start starterd', 60);
is($rc, 0, 'started with WatchdogSec=3s') or diag($o);
$main = show('MainPID');
my $restarts = show('NRestarts');
$cur = cursor();
($rc, $o) = in("kill -STOP $main");
is($rc, 0, "SIGSTOP to the master $main") or diag($o);
# On this kind of host (cgroup v1, no release agent in the container) the
# end of the old processes is noticed only at TimeoutStopSec (30 s): the
# wait allows for it.
$t0 = time;
ok(wait_until(sub {
	my $m = show('MainPID');
	$m ne '0' && $m ne $main && show('ActiveState') eq 'active';
    }, 90), 'the watchdog restarted the service');
note(sprintf('restarted after %.0f s', time - $t0));
like(journal($cur), qr/Watchdog timeout/, 'the journal says: watchdog timeout');
is(show('NRestarts'), $restarts + 1, 'one restart more');
is(out("curl -s -o /dev/null -w '%{http_code}' -u admin:admin "
    . "http://127.0.0.1:$PORT/api/v1.0/pxcodes/039"), '200',
    'the new master serves');
in('systemctl stop starterd; rm -rf /etc/systemd/system/starterd.service.d; '
    . 'systemctl daemon-reload', 90);

# ---------------------------------------------------------------- broken start

in(q{echo 'STARTERD_RATE_LIMIT=5' >>/etc/default/starterd});
$cur = cursor();
($rc, $o) = in('systemctl start starterd', 60);
isnt($rc, 0, 'systemctl start with a broken configuration fails');
my $err = '';
ok(wait_until(sub {
	$err = journal($cur, '-p err', 'starterd');
	length $err; }, 10), 'journalctl -p err -u starterd has its line');
is(scalar(my @e = split /\n/, $err), 1, "one line: $err");
like($err, qr/rate.limit/, 'naming the setting');
like($err, qr/\b5\b/, 'and the value');
like(journal($cur, '-p err'), qr/Failed to start/,
    'systemd reports the failed start');
unlike(journal($cur, '', 'starterd'), qr/listening on/,
    'no master was started');
in('systemctl stop starterd; cp /etc/default/starterd.good '
    . '/etc/default/starterd; systemctl reset-failed starterd', 60);

done_testing();
