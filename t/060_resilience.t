# 060_resilience: a killed worker is replaced, a database outage gives 503
# (never a hang) and heals by itself, SIGTERM stops everything cleanly.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $srv = StarterTest::Server->new(pg => $pg, workers => 2);

my $ITEM = '/api/v1.0/pxcodes/039';
my @AUTH = (auth => 'admin:admin');

sub api { return request($srv, 'GET', $ITEM, @AUTH, timeout => 10); }

# Gone: no /proc entry, or a zombie nobody reaped yet.
sub gone
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return 1;
	my $s = <$fh> // '';
	close $fh;
	my $st = (split ' ', substr($s, rindex($s, ')') + 2))[0] // 'Z';
	return $st eq 'Z';
}

# n requests in a row, each on a new connection (so both workers answer).
sub all_ok
{
	my ($n) = @_;
	for (1 .. $n) {
		return 0 unless api()->{status} == 200;
	}
	return 1;
}

ok(all_ok(4), 'requests succeed at start');
my @w = wait_until(sub { my @p = $srv->worker_pids; @p == 2 ? [@p] : undef },
    timeout => 5) // [];
@w = @{$w[0] // []};
is(scalar @w, 2, 'two workers under the master');

# --- a worker killed with SIGKILL is replaced ---------------------------------------

my $victim = $w[0];
ok(kill('KILL', $victim), "SIGKILL worker $victim");
my $new = wait_until(sub {
	my @p = $srv->worker_pids;
	return (@p == 2 && !grep { $_ == $victim } @p) ? [@p] : undef;
}, timeout => 10);
ok($new, 'the master starts a replacement worker')
    or diag('workers now: ' . join(' ', $srv->worker_pids));
ok(gone($victim), 'the killed worker is gone');
ok($srv->alive, 'the master survives a worker crash');
ok(wait_until(sub { api()->{status} == 200 }, timeout => 10),
    'requests succeed after the crash');
ok(all_ok(10), 'ten requests in a row succeed after the replacement');
like($srv->log_contents, qr/\Q$victim\E|signal|killed|exited/i,
    'the master logs the dead worker');

# Kill both at once: still recovers.
@w = $srv->worker_pids;
kill 'KILL', @w;
ok(wait_until(sub {
	my @p = $srv->worker_pids;
	return @p == 2 && !grep { my $x = $_; grep { $_ == $x } @w } @p;
}, timeout => 15), 'both workers killed: both replaced');
ok(wait_until(sub { all_ok(4) }, timeout => 10),
    'both workers killed: requests succeed again');

# --- database outage ----------------------------------------------------------------

ok($pg->stop('fast'), 'PostgreSQL stopped');
{
	my $all503 = 1;
	my $maxdt = 0;
	my $last;
	for (1 .. 6) {
		my $t0 = time;
		my $r = api();
		my $dt = time - $t0;
		$maxdt = $dt if $dt > $maxdt;
		$last = $r;
		$all503 = 0 unless $r->{status} == 503;
		diag("during the outage: " . explain_response($r))
		    unless $r->{status} == 503;
	}
	ok($all503, 'API requests during the outage: 503');
	ok($maxdt < 6, sprintf('API requests during the outage: answered '
	    . 'promptly (slowest %.1f s)', $maxdt));
	check_error($last, 503, 'API request during the outage');
	like($last->{headers}{'retry-after'} // '', qr/^\d+$/,
	    'API request during the outage: Retry-After in seconds');

	my $r = request($srv, 'GET', '/readyz', timeout => 10);
	check_error($r, 503, '/readyz during the outage');
	$r = request($srv, 'GET', '/healthz', timeout => 10);
	is($r->{status}, 200, '/healthz during the outage: 200 (alive)');
	$r = request($srv, 'POST', '/api/v1.0/pxcodes/', @AUTH, timeout => 10,
	    headers => {'Content-Type' => 'application/json'},
	    body => '{"pxcode":"DOWN1","procedure":"X"}');
	is($r->{status}, 503, 'POST during the outage: 503');
	ok($srv->alive, 'the master is still up during the outage');
	is(scalar($srv->worker_pids), 2, 'both workers still up');
}

ok($pg->start, 'PostgreSQL started again');
{
	my $t0 = time;
	ok(wait_until(sub { api()->{status} == 200 }, timeout => 15,
	    interval => 0.25), 'requests succeed again after the restart');
	ok(time - $t0 < 15, sprintf('recovered within %.1f s', time - $t0));
	ok(wait_until(sub { all_ok(6) }, timeout => 10, interval => 0.25),
	    'every worker has reconnected (6 requests in a row)');
	is(request($srv, 'GET', '/readyz')->{status}, 200,
	    '/readyz after the restart: 200');
	my $r = request($srv, 'POST', '/api/v1.0/pxcodes/', @AUTH,
	    headers => {'Content-Type' => 'application/json'},
	    body => '{"pxcode":"UP1","procedure":"BACK"}');
	is($r->{status}, 201, 'writes work after the restart');
}

# An outage seen by a keep-alive connection: the connection still works after.
{
	my $c = StarterTest::Conn->new($srv);
	is($c->request('GET', $ITEM, @AUTH)->{status}, 200,
	    'keep-alive connection: 200 before a restart');
	$pg->restart;
	my $lost = 0;
	my $ok = wait_until(sub {
		my $r = $c->request('GET', $ITEM, @AUTH, timeout => 10);
		if (!$r->{status} && $c->closed) {
			$lost = 1;
			$c = StarterTest::Conn->new($srv);
		}
		return $r->{status} == 200;
	}, timeout => 15, interval => 0.25);
	ok($ok, 'keep-alive connection: 200 again after a database restart');
	ok(!$lost, 'keep-alive connection: kept across the database restart');
	$c->close;
}

# --- SIGTERM -------------------------------------------------------------------------

@w = $srv->worker_pids;
is(scalar @w, 2, 'two workers before SIGTERM');
my $st = $srv->stop(timeout => 10);
ok(!$srv->{killed}, 'the master exits on SIGTERM (no SIGKILL needed)');
is($st, 0, 'the master exits with status 0');
ok(wait_until(sub { !grep { !gone($_) } @w }, timeout => 5),
    'the workers are gone after SIGTERM');
{
	my $refused = !IO::Socket::INET->new(PeerAddr => '127.0.0.1',
	    PeerPort => $srv->port, Proto => 'tcp', Timeout => 2);
	ok($refused, 'the port is closed after SIGTERM');
}

finish();
