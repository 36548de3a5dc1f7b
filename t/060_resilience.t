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

sub api_path
{
	my ($path) = @_;
	return request($srv, 'GET', $path, @AUTH, timeout => 10)->{status};
}

sub api_on
{
	my ($s) = @_;
	return request($s, 'GET', $ITEM, @AUTH, timeout => 10)->{status};
}

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

# Two views of the outage: this server with its response cache (README:
# cached GETs are answered stale, marked so; everything else gets 503), and
# one started with -C 0, where every API request gets 503 as issue 2 says.
my $nocache = StarterTest::Server->new(pg => $pg, args => ['-C', '0']);
sub api_nc { return request($nocache, 'GET', $ITEM, @AUTH, timeout => 10); }
is(api_nc()->{status}, 200, 'cache-less server: 200 before the outage');
my $before = api();
is($before->{status}, 200, 'cached item fetched before the outage');

ok($pg->stop('fast'), 'PostgreSQL stopped');
{
	my $all503 = 1;
	my $maxdt = 0;
	my $last;
	for (1 .. 6) {
		my $t0 = time;
		my $r = api_nc();
		my $dt = time - $t0;
		$maxdt = $dt if $dt > $maxdt;
		$last = $r;
		$all503 = 0 unless $r->{status} == 503;
		diag("during the outage: " . explain_response($r))
		    unless $r->{status} == 503;
	}
	ok($all503, 'API requests during the outage (-C 0): 503');
	ok($maxdt < 6, sprintf('API requests during the outage: answered '
	    . 'promptly (slowest %.1f s)', $maxdt));
	check_error($last, 503, 'API request during the outage (-C 0)');
	like($last->{headers}{'retry-after'} // '', qr/^\d+$/,
	    'API request during the outage (-C 0): Retry-After in seconds');

	# With the cache: a copy fetched before is served, marked stale.
	my $r = api();
	is($r->{status}, 200, 'cached item during the outage: served');
	is($r->{body}, $before->{body},
	    'cached item during the outage: the body fetched before');
	is($r->{headers}{etag}, $before->{headers}{etag},
	    'cached item during the outage: the same ETag');
	like($r->{headers}{'cache-status'} // '', qr/stale/,
	    'cached item during the outage: Cache-Status says stale');
	like($r->{headers}{age} // '', qr/^\d+$/,
	    'cached item during the outage: Age header');

	# Never requested before: nothing any cache could answer with.
	$r = request($srv, 'GET', '/api/v1.0/pxcodes/057', @AUTH, timeout => 10);
	check_error($r, 503, 'never-requested item during the outage');
	like($r->{headers}{'retry-after'} // '', qr/^\d+$/,
	    'never-requested item during the outage: Retry-After');
	$r = request($srv, 'GET', '/api/v1.0/pxcodes/?page=7&per_page=3', @AUTH,
	    timeout => 10);
	is($r->{status}, 503, 'never-requested page during the outage: 503');

	$r = request($srv, 'GET', '/readyz', timeout => 10);
	check_error($r, 503, '/readyz during the outage');
	$r = request($srv, 'GET', '/healthz', timeout => 10);
	is($r->{status}, 200, '/healthz during the outage: 200 (alive)');
	$r = request($srv, 'POST', '/api/v1.0/pxcodes/', @AUTH, timeout => 10,
	    headers => {'Content-Type' => 'application/json'},
	    body => '{"pxcode":"DOWN1","procedure":"X"}');
	is($r->{status}, 503, 'POST during the outage: 503');
	like($r->{headers}{'retry-after'} // '', qr/^\d+$/,
	    'POST during the outage: Retry-After');
	ok($srv->alive, 'the master is still up during the outage');
	is(scalar($srv->worker_pids), 2, 'both workers still up');
}

ok($pg->start, 'PostgreSQL started again');
{
	# Poll with requests no cache can answer: an item never asked for
	# during the outage, /readyz, and writes.
	my $t0 = time;
	ok(wait_until(sub { api_path('/api/v1.0/pxcodes/064') == 200 },
	    timeout => 15, interval => 0.25),
	    'requests reach the database again after the restart');
	ok(time - $t0 < 15, sprintf('recovered within %.1f s', time - $t0));
	ok(wait_until(sub {
		for (1 .. 6) {
			return 0 unless request($srv, 'GET', '/readyz')->{status}
			    == 200;
		}
		return 1;
	}, timeout => 10, interval => 0.25),
	    'every worker has reconnected (/readyz 200 six times in a row)');
	# Six in a row may all land on one worker; ask each.  Through
	# PgBouncer the workers come back farther apart: each one's next try
	# after PgBouncer has its server again (server_login_retry).
	ok($srv->wait_workers_ready(timeout => 10),
	    'every worker has reconnected (/readyz of each worker)');
	my $n = 0;
	my $ok = 0;
	for my $i (1 .. 6) {
		my $r = request($srv, 'POST', '/api/v1.0/pxcodes/', @AUTH,
		    headers => {'Content-Type' => 'application/json'},
		    body => qq({"pxcode":"UP$i","procedure":"BACK"}));
		$ok++ if $r->{status} == 201;
	}
	is($ok, 6, 'writes work after the restart (6 POSTs, both workers)');
	ok(all_ok(6), 'reads work after the restart');
	ok(wait_until(sub { api_nc()->{status} == 200 }, timeout => 15,
	    interval => 0.25), 'cache-less server: recovers as well');
	$nocache->stop;
}

# An outage seen by a keep-alive connection: the connection still works after.
{
	my $c = StarterTest::Conn->new($srv);
	is($c->request('GET', $ITEM, @AUTH)->{status}, 200,
	    'keep-alive connection: 200 before a restart');
	$pg->restart;
	my $lost = 0;
	my $ok = wait_until(sub {
		my $r = $c->request('GET', '/readyz', timeout => 10);
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

# --- more process-model checks, each on its own server ---------------------------

my $BIN = top_builddir() . '/src/starterd';

# -t: configuration and database check
{
	# No default config file here (-t would say so): an empty one.
	my $r = run_cmd([$BIN, '-t', '-d', $pg->dsn, '-f', '/dev/null',
	    '-p', StarterTest::free_port()], timeout => 30);
	is($r->{rc}, 0, 'starterd -t with a reachable database: exit 0')
	    or diag($r->{err});
	$r = run_cmd([$BIN, '-t', '-d',
	    'host=127.0.0.1 port=1 user=x dbname=x connect_timeout=3'],
	    timeout => 30);
	is($r->{rc}, 1, 'starterd -t with an unreachable database: exit 1');
	$r = run_cmd([$BIN, '-w', 'many', '-d', $pg->dsn], timeout => 30);
	isnt($r->{rc}, 0, 'starterd with a bad -w value: non-zero exit');
	like($r->{err}, qr/-w|workers/, 'bad -w value: the message names it');
}

# -w 3 and a pidfile
{
	my $pidfile = StarterTest::basedir() . '/starterd.pid';
	my $s3 = StarterTest::Server->new(pg => $pg, workers => 3,
	    args => ['-P', $pidfile]);
	ok(wait_until(sub { scalar($s3->worker_pids) == 3 }, timeout => 5),
	    '-w 3: three workers');
	open my $fh, '<', $pidfile;
	my $pid = $fh ? <$fh> : '';
	close $fh if $fh;
	$pid //= '';
	chomp $pid;
	is($pid, $s3->pid, '-P: the pidfile holds the master pid');

	# a second server on the same port fails to start
	my $dup = StarterTest::Server->new(pg => $pg, port => $s3->port,
	    nowait => 1, expect_fail => 1);
	ok($dup->wait_exit(10), 'a second server on a busy port exits');
	isnt($dup->exit_status, 0, 'a second server on a busy port: non-zero');
	like($dup->log_contents, qr/listen|bind|in use/i,
	    'a second server on a busy port: says why');

	# SIGHUP: a new generation of workers, no failed request
	my @old = $s3->worker_pids;
	my @fails;
	kill 'HUP', $s3->pid;
	my $renewed = wait_until(sub {
		my $r = request($s3, 'GET', $ITEM, @AUTH, timeout => 10);
		push @fails, $r unless $r->{status} == 200;
		my @now = $s3->worker_pids;
		return @now == 3 && !grep { my $o = $_; grep { $_ == $o } @now }
		    @old;
	}, timeout => 15, interval => 0.05);
	ok($renewed, 'SIGHUP: the workers are replaced by a new generation');
	is(scalar @fails, 0, 'SIGHUP: no request failed during the reload')
	    or diag(join "\n", map { explain_response($_) } @fails);
	ok($s3->alive, 'SIGHUP: the master stays');
	is(api_on($s3), 200, 'SIGHUP: requests succeed afterwards');

	# SIGTERM with an idle keep-alive client and a request in flight
	my $idle = StarterTest::Conn->new($s3);
	is($idle->request('GET', '/healthz')->{status}, 200,
	    'idle keep-alive client connected');
	my $busy = StarterTest::Conn->new($s3);
	my $body = '{"pxcode":"TERM1","procedure":"IN FLIGHT"}';
	$busy->send(build_request('POST', '/api/v1.0/pxcodes/', @AUTH,
	    headers => ['Content-Type' => 'application/json',
	    'Content-Length' => length $body]));
	sleep 0.3;
	my $t0 = time;
	kill 'TERM', $s3->pid;
	sleep 0.3;
	$busy->send($body);
	my $r = $busy->read_response(timeout => 10);
	is($r && $r->{status}, 201,
	    'SIGTERM: a request in flight is finished');
	ok($s3->wait_exit(8), 'SIGTERM with an idle keep-alive client: exits');
	ok(time - $t0 < 5, sprintf('SIGTERM: does not wait for idle clients '
	    . '(%.1f s)', time - $t0));
	is($s3->exit_status, 0, 'SIGTERM: exit status 0');
	ok(!-e $pidfile, 'the pidfile is removed at exit');
	$idle->close;
	$busy->close;
}

# Started while the database is down: alive, not ready, then ready.
{
	$pg->stop('fast');
	my $s = StarterTest::Server->new(pg => $pg);
	is(request($s, 'GET', '/healthz')->{status}, 200,
	    'started without a database: /healthz 200');
	is(request($s, 'GET', '/readyz')->{status}, 503,
	    'started without a database: /readyz 503');
	my $r = request($s, 'GET', $ITEM, @AUTH, timeout => 10);
	is($r->{status}, 503, 'started without a database: API 503');
	ok($r->{headers}{'retry-after'},
	    'started without a database: Retry-After');
	$pg->start;
	ok(wait_until(sub { request($s, 'GET', '/api/v1.0/pxcodes/065', @AUTH,
	    timeout => 10)->{status} == 200 }, timeout => 15,
	    interval => 0.25), 'database started later: API 200');
	ok(wait_until(sub { request($s, 'GET', '/readyz')->{status} == 200 },
	    timeout => 10, interval => 0.25),
	    'database started later: /readyz 200');
}

finish();
