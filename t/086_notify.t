# 086_notify: the systemd notification protocol (Type=notify) against a
# fake NOTIFY_SOCKET: READY=1 once the workers serve, RELOADING=1 with
# MONOTONIC_USEC then READY=1 on SIGHUP, WATCHDOG=1 only while the workers
# answer, STOPPING=1 on SIGTERM; path and abstract ('@') sockets.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use IO::Select;
use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM);
use Time::HiRes qw(time sleep clock_gettime CLOCK_MONOTONIC);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $dir = StarterTest::basedir();

# Datagrams received within $secs, until $until matches one (if given).
sub recv_msgs
{
	my ($sock, $secs, $until) = @_;
	my @m;
	my $sel = IO::Select->new($sock);
	my $deadline = time + $secs;
	while ((my $left = $deadline - time) > 0) {
		last unless $sel->can_read($left);
		my $buf;
		defined $sock->recv($buf, 4096) or last;
		push @m, $buf;
		last if $until && $buf =~ $until;
	}
	return @m;
}

my $path = "$dir/notify.sock";
my $ns = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $path)
    or BAIL_OUT("notify socket $path: $!");
# Like systemd's own notify socket: writable by the unprivileged user a
# root-started starterd runs as.
chmod 0777, $path;

my $srv = StarterTest::Server->new(pg => $pg, workers => 2,
    env => {NOTIFY_SOCKET => $path, WATCHDOG_USEC => 1000000});

my @m = recv_msgs($ns, 10, qr/^READY=1/m);
ok((grep { /^READY=1$/m } @m), 'READY=1 at startup');
{
	my $r = request($srv, 'GET', '/metrics', auth => 'admin:admin');
	like($r->{body}, qr/^starterd_workers_ready 2$/m,
	    'both workers were ready when READY=1 came');
}

@m = recv_msgs($ns, 1.6);
my $wd = grep { /^WATCHDOG=1$/ } @m;
ok($wd >= 2, "WATCHDOG=1 at half of WATCHDOG_USEC=1s ($wd in 1.6 s)");

# Reload: RELOADING=1 + MONOTONIC_USEC, then READY=1 again.
{
	my $t0 = int(clock_gettime(CLOCK_MONOTONIC) * 1e6);
	kill 'HUP', $srv->pid;
	@m = grep { !/^WATCHDOG=1$/ } recv_msgs($ns, 15, qr/^READY=1/m);
	my $t1 = int(clock_gettime(CLOCK_MONOTONIC) * 1e6);
	my ($rel) = grep { /^RELOADING=1$/m } @m;
	ok($rel, 'RELOADING=1 on SIGHUP');
	my ($usec) = ($rel // '') =~ /^MONOTONIC_USEC=(\d+)$/m;
	ok(defined $usec && $usec >= $t0 && $usec <= $t1,
	    'with MONOTONIC_USEC from CLOCK_MONOTONIC')
	    or diag("got " . ($usec // 'none') . ", window $t0..$t1");
	ok(@m >= 2 && $m[-1] =~ /^READY=1$/m && $m[0] =~ /^RELOADING=1$/m,
	    'READY=1 after the reload');
}

# A hung worker: no watchdog.  SIGSTOP both, wait past the stale limit.
{
	my @w = $srv->worker_pids;
	kill 'STOP', @w;
	recv_msgs($ns, 1.2);		# drain what was sent before
	@m = recv_msgs($ns, 1.5);
	my $n = grep { /^WATCHDOG=1$/ } @m;
	is($n, 0, 'no WATCHDOG=1 while the workers are stopped');
	kill 'CONT', @w;
	@m = recv_msgs($ns, 2, qr/^WATCHDOG=1$/);
	ok((grep { /^WATCHDOG=1$/ } @m), 'WATCHDOG=1 again once they answer');
}

kill 'TERM', $srv->pid;
@m = recv_msgs($ns, 10, qr/^STOPPING=1/m);
ok((grep { /^STOPPING=1$/m } @m), 'STOPPING=1 on SIGTERM');
ok($srv->wait_exit(10), 'the master exits');

# An abstract socket: NOTIFY_SOCKET=@name.
{
	my $name = "starterd-test-$$-" . int(rand(1e9));
	my $as = IO::Socket::UNIX->new(Type => SOCK_DGRAM,
	    Local => "\0$name") or BAIL_OUT("abstract socket: $!");
	my $s2 = StarterTest::Server->new(pg => $pg, workers => 1,
	    env => {NOTIFY_SOCKET => "\@$name"});
	@m = recv_msgs($as, 10, qr/^READY=1/m);
	ok((grep { /^READY=1$/m } @m), 'READY=1 on an abstract socket');
	@m = recv_msgs($as, 1.2);
	ok(!(grep { /^WATCHDOG=1$/ } @m), 'no WATCHDOG=1 without '
	    . 'WATCHDOG_USEC');
	kill 'QUIT', $s2->pid;
	@m = recv_msgs($as, 5, qr/^STOPPING=1/m);
	ok((grep { /^STOPPING=1$/m } @m), 'STOPPING=1 on SIGQUIT');
	ok($s2->wait_exit(5), 'the master exits');
}

done_testing();
