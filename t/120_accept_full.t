#!/usr/bin/perl
# 120_accept_full: a worker that cannot accept stops watching its
# (level-triggered) listener instead of spinning on it.  Out of
# descriptors: 4,200 idle connections to one worker started under a limit
# of 64 descriptors keep it under 5% CPU, accept's "Too many open files"
# is logged at most once a second (with a count of the suppressed ones),
# and once those clients go a normal request is served.  Full: a worker
# holding its --worker-connections keeps under 5% CPU too, and serves a
# new client as soon as a slot frees.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use POSIX ();
use Socket qw(:DEFAULT);
use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
use Time::HiRes qw(time sleep);

my $NCONN = 4200;
my ($ok, $lim) = (0, 0);
{
	my $r = StarterTest::run_cmd(['sh', '-c', 'ulimit -n']);
	$lim = $r->{out} =~ /^(\d+)/ ? $1 : ($r->{out} =~ /unlimited/ ?
	    1e9 : 0);
}
plan skip_all => "needs $NCONN descriptors in the test (ulimit -n $lim)"
    if $lim < $NCONN + 200;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $dir = StarterTest::basedir();
my $bin = StarterTest::top_builddir() . '/src/starterd';
my $tck = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

# CPU time (utime + stime) of a process, in seconds.
sub cpu_of
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return undef;
	my $s = <$fh>;
	close $fh;
	my @f = split ' ', substr($s, rindex($s, ')') + 2);
	return ($f[11] + $f[12]) / $tck;	# fields 14 and 15
}

# CPU share of $pid over $secs seconds of wall time.
sub cpu_share
{
	my ($pid, $secs) = @_;
	my ($c0, $t0) = (cpu_of($pid), time);
	sleep $secs;
	my ($c1, $t1) = (cpu_of($pid), time);
	return ($c1 - $c0) / ($t1 - $t0);
}

# $n connections to the server, not waiting for them to be accepted (the
# backlog fills up, later ones wait in SYN retries): they send nothing.
sub idle_conns
{
	my ($srv, $n) = @_;
	my @s;
	my $sa = sockaddr_in($srv->port, inet_aton('127.0.0.1'));
	for (1 .. $n) {
		socket(my $fh, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
		my $fl = fcntl($fh, F_GETFL, 0);
		fcntl($fh, F_SETFL, $fl | O_NONBLOCK);
		connect($fh, $sa);	# EINPROGRESS is fine
		push @s, $fh;
	}
	return @s;
}

sub count_accept_lines
{
	my ($srv) = @_;
	my $log = $srv->log_contents;
	return scalar(() = $log =~ /accept.*Too many open files/g);
}

# --- out of descriptors --------------------------------------------------
{
	my $wrap = "$dir/lowfd.sh";
	open my $fh, '>', $wrap or die "$wrap: $!";
	print $fh "#!/bin/sh\nulimit -n 64 || exit 126\nexec '$bin' \"\$@\"\n";
	close $fh;
	chmod 0755, $wrap;
	# A long header timeout: the idle clients stay for the measurement.
	my $srv = StarterTest::Server->new(pg => $pg, workers => 1,
	    bin => $wrap,
	    args => ['--header-timeout', '30', '--access-log', 'off']);
	my ($w) = $srv->worker_pids;
	ok($w, "one worker ($w)");
	my @idle = idle_conns($srv, $NCONN);
	my $hit = StarterTest::wait_until(sub { count_accept_lines($srv) > 0 },
	    timeout => 20);
	ok($hit, 'the worker ran out of descriptors (accept is logged)');
	my $n0 = count_accept_lines($srv);
	my $t0 = time;
	my $share = cpu_share($w, 3);
	my $n1 = count_accept_lines($srv);
	my $dt = time - $t0;
	ok($share < 0.05, sprintf('%d idle connections, fd limit 64: worker '
	    . 'CPU %.1f%% (< 5%%)', $NCONN, 100 * $share));
	ok($n1 - $n0 <= $dt + 2, sprintf('accept errors logged %d times in '
	    . '%.1f s (at most once a second)', $n1 - $n0, $dt));
	like($srv->log_contents, qr/accept \(\d+ more suppressed\)/,
	    'the log says how many were suppressed');
	# Gone: the worker accepts what is queued (each closes at once, EOF)
	# and serves a normal client.
	close $_ for @idle;
	@idle = ();
	my $r = StarterTest::request($srv, 'GET', '/healthz', timeout => 20);
	is($r->{status}, 200, 'once they left, a normal request is served');
	# Bounded by --shutdown-timeout (10 s) plus the master's exit: more
	# than the harness's default wait on a loaded machine.
	$srv->stop(timeout => 30);
}

# --- full: --worker-connections clients held -----------------------------
{
	# The idle clients hold every slot; a short header timeout closes
	# them (408 or a plain close) so that the new client queued behind
	# them gets a slot in a few seconds.
	my $srv = StarterTest::Server->new(pg => $pg, workers => 1,
	    args => ['--worker-connections', '10', '--header-timeout', '2',
	    '--access-log', 'off']);
	my ($w) = $srv->worker_pids;
	my @idle = idle_conns($srv, 40);
	sleep 0.5;
	my $share = cpu_share($w, 1.5);
	ok($share < 0.05, sprintf('holding --worker-connections 10 clients: '
	    . 'worker CPU %.1f%% (< 5%%)', 100 * $share));
	my $t0 = time;
	my $r = StarterTest::request($srv, 'GET', '/healthz', timeout => 25);
	is($r->{status}, 200, sprintf('a new client is served once the idle '
	    . 'ones time out (%.1f s)', time - $t0));
	close $_ for @idle;
}

StarterTest::finish();
