# 085_metrics: GET /metrics parses as the Prometheus text format and its
# counters match the requests made; promtool check metrics accepts it (when
# installed); build info, process metrics, connections per worker and the
# duration histogram by route and status class; the default wants credentials;
# --metrics on/off/loopback; request ids are
# echoed, logged, and reach PostgreSQL's log through application_name.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $dir = StarterTest::basedir();
my $alog = "$dir/access.log";
my $srv = StarterTest::Server->new(pg => $pg, workers => 2,
    args => ['-a', $alog]);

my $ITEM = '/api/v1.0/pxcodes/039';
my $ITEM_LABEL = '/api/v1.0/pxcodes/{id}';
my @AUTH = (auth => 'admin:admin');

# Parse the exposition format strictly; returns ({"name{labels}" => value},
# {name => type}, [errors]).
sub parse_prom
{
	my ($text) = @_;
	my (%v, %type, @err);
	my $name_re = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
	my $lval_re = qr/"(?:[^"\\\n]|\\[\\"n])*"/;
	for my $l (split /\n/, $text) {
		next if $l eq '';
		if ($l =~ /^# HELP ($name_re) .+$/) { next; }
		if ($l =~ /^# TYPE ($name_re) (counter|gauge|histogram|summary|untyped)$/) {
			push @err, "second TYPE for $1" if $type{$1};
			$type{$1} = $2;
			next;
		}
		if ($l =~ /^#/) { push @err, "bad comment: $l"; next; }
		if ($l =~ /^($name_re)(\{(?:$name_re=$lval_re(?:,$name_re=$lval_re)*)?\})? (\S+)$/) {
			my ($n, $lab, $val) = ($1, $2 // '', $3);
			push @err, "bad value: $l" unless $val =~
			    /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;
			(my $base = $n) =~ s/_(bucket|sum|count)$//;
			push @err, "sample before its TYPE: $l"
			    unless $type{$n} || $type{$base};
			push @err, "duplicate sample: $n$lab" if exists $v{"$n$lab"};
			$v{"$n$lab"} = $val;
			next;
		}
		push @err, "unparsable line: $l";
	}
	return (\%v, \%type, \@err);
}

sub scrape
{
	my $r = request($srv, 'GET', '/metrics', @AUTH);
	is($r->{status}, 200, 'GET /metrics: 200');
	like($r->{headers}{'content-type'} // '',
	    qr{^text/plain; version=0\.0\.4}, 'GET /metrics: text format 0.0.4');
	my ($v, $t, $err) = parse_prom($r->{body});
	is_deeply($err, [], 'GET /metrics parses as Prometheus text');
	return ($v, $t);
}

sub val { my ($m, $k) = @_; return $m->{$k} // 0; }
sub req_key { return "starterd_http_requests_total{route=\"$_[0]\",code=\"$_[1]\"}"; }

ok(wait_until(sub { request($srv, 'GET', '/metrics', @AUTH)->{body} =~
    /^starterd_workers_ready 2$/m }, timeout => 10), 'two workers ready');
my ($m1, $types) = scrape();
is($types->{starterd_http_requests_total}, 'counter', 'requests: a counter');
is($types->{starterd_http_request_duration_seconds}, 'histogram',
    'latency: a histogram');
for my $n (qw(starterd_cache_hits_total starterd_cache_misses_total
    starterd_cache_evictions_total starterd_auth_cache_hits_total
    starterd_auth_cache_misses_total starterd_db_reconnects_total
    starterd_workers_restarted_total)) {
	ok(exists $m1->{$n}, "$n is exported");
}

# Known traffic, on new and keep-alive connections (so both workers count).
is(request($srv, 'GET', '/healthz')->{status}, 200, 'healthz') for 1 .. 7;
{
	my $c = StarterTest::Conn->new($srv);
	is($c->request('GET', $ITEM, @AUTH)->{status}, 200, 'item 200')
	    for 1 .. 3;
	$c->close;
}
is(request($srv, 'GET', $ITEM, @AUTH)->{status}, 200, 'item 200') for 1 .. 2;
is(request($srv, 'GET', '/api/v1.0/pxcodes/NOPE9', @AUTH)->{status}, 404,
    'item 404') for 1 .. 3;
is(request($srv, 'GET', '/nowhere')->{status}, 404, 'unrouted 404')
    for 1 .. 2;
is(request($srv, 'GET', $ITEM)->{status}, 401, 'item without auth 401');

my ($m2) = scrape();
{
	my @pairs = ([ '/healthz', 200, 7 ], [ $ITEM_LABEL, 200, 5 ],
	    [ $ITEM_LABEL, 404, 3 ], [ $ITEM_LABEL, 401, 1 ],
	    [ 'other', 404, 2 ], [ '/metrics', 200, 1 ]);
	for my $p (@pairs) {
		my $k = req_key($p->[0], $p->[1]);
		is(val($m2, $k) - val($m1, $k), $p->[2],
		    "requests_total route=$p->[0] code=$p->[1] grew by $p->[2]");
	}
}
{
	my $h = 'starterd_http_request_duration_seconds';
	my $cnt = "${h}_count{route=\"$ITEM_LABEL\",code_class=\"2xx\"}";
	my $cnt4 = "${h}_count{route=\"$ITEM_LABEL\",code_class=\"4xx\"}";
	is(val($m2, $cnt) - val($m1, $cnt), 5,
	    'histogram count for the item route, 2xx, grew by 5');
	is(val($m2, $cnt4) - val($m1, $cnt4), 4,
	    'histogram count for the item route, 4xx (404, 401), grew by 4');
	is(val($m2, "${h}_count{route=\"other\",code_class=\"4xx\"}")
	    - val($m1, "${h}_count{route=\"other\",code_class=\"4xx\"}"), 2,
	    'histogram count for unrouted paths, 4xx, grew by 2');
	ok(!grep({ /^\Q$h\E_count\{route="[^"]*"\}$/ } keys %$m2),
	    'every histogram series has a code_class label');
	is(val($m2, "${h}_bucket{route=\"$ITEM_LABEL\",code_class=\"2xx\","
	    . "le=\"+Inf\"}"), val($m2, $cnt),
	    'the +Inf bucket equals the count');
	my @b = map { /^\Q${h}_bucket{route="$ITEM_LABEL",code_class="2xx",le="\E([^"]+)"\}$/
	    ? ([$1, $m2->{$_}]) : () } keys %$m2;
	@b = sort { ($a->[0] eq '+Inf' ? 9e99 : $a->[0])
	    <=> ($b->[0] eq '+Inf' ? 9e99 : $b->[0]) } @b;
	my $mono = 1;
	for my $i (1 .. $#b) { $mono = 0 if $b[$i][1] < $b[$i - 1][1]; }
	ok(@b > 5 && $mono, 'buckets are cumulative (non-decreasing)');
	ok(val($m2, "${h}_sum{route=\"$ITEM_LABEL\",code_class=\"2xx\"}")
	    > 0, 'sum > 0');
	my $auth = val($m2, 'starterd_auth_cache_hits_total')
	    + val($m2, 'starterd_auth_cache_misses_total')
	    - val($m1, 'starterd_auth_cache_hits_total')
	    - val($m1, 'starterd_auth_cache_misses_total');
	# 8 requests with a password, and the scrape itself.
	is($auth, 9, 'auth cache lookups (hits + misses) grew by 9');
	ok(val($m2, 'starterd_auth_cache_hits_total')
	    > val($m1, 'starterd_auth_cache_hits_total'),
	    'the auth cache has hits');
}

# Build info, process metrics, open connections per worker.
{
	my $r = request($srv, 'GET', '/metrics', @AUTH);
	my ($v, $t) = parse_prom($r->{body});
	my $bin = top_builddir() . "/src/starterd";
	my ($ver) = `$bin -V 2>&1` =~ /starterd (\S+)/;
	$ver //= '';
	is(val($v, "starterd_build_info{version=\"$ver\"}"), 1,
	    "starterd_build_info{version=\"$ver\"} 1");
	is($t->{process_cpu_seconds_total}, 'counter',
	    'process_cpu_seconds_total: a counter');
	ok(val($v, 'process_cpu_seconds_total') > 0, 'some CPU time was used');
	ok(val($v, 'process_resident_memory_bytes') > 3 * 1024 * 1024,
	    'resident memory: over 3 MiB for three processes');
	# The master and two workers each hold at least the standard three,
	# the listening socket and the shared memory.
	ok(val($v, 'process_open_fds') >= 9, 'open fds: at least 9');
	my $st = val($v, 'process_start_time_seconds');
	ok($st > time - 600 && $st <= time + 1,
	    'process_start_time_seconds: the master started just now')
	    or diag("start $st, now " . time);
	my @w = grep { /^starterd_worker_connections\{worker="\d+"\}$/ }
	    keys %$v;
	is(scalar @w, 2, 'starterd_worker_connections for each of 2 workers');

	# Three connections held open, each having made a request: the
	# workers count them (the scrape's own may or may not be counted
	# yet: a worker publishes its count once per loop iteration).
	my @held = map { StarterTest::Conn->new($srv) } 1 .. 3;
	is($_->request('GET', '/healthz')->{status}, 200, 'held conn: 200')
	    for @held;
	my $sum;
	ok(wait_until(sub {
		my ($x) = parse_prom(request($srv, 'GET', '/metrics',
		    @AUTH)->{body});
		$sum = 0;
		$sum += $x->{$_} for grep { /^starterd_worker_connections/ }
		    keys %$x;
		$sum >= 3;
	}, timeout => 5), 'connections per worker add up to at least 3 '
	    . 'with 3 held open') or diag("sum $sum");
	$_->close for @held;
	ok(wait_until(sub {
		my ($x) = parse_prom(request($srv, 'GET', '/metrics',
		    @AUTH)->{body});
		$sum = 0;
		$sum += $x->{$_} for grep { /^starterd_worker_connections/ }
		    keys %$x;
		$sum <= 1;
	}, timeout => 5), 'and back to at most 1 (the scrape) once closed')
	    or diag("sum $sum");

	# promtool's own parser and linter, when installed (.ci/run does).
	my ($promtool) = grep { -x } map { "$_/promtool" } split /:/,
	    $ENV{PATH} // '';
	SKIP: {
		skip 'promtool not installed (Debian package prometheus): '
		    . 'exposition not checked by promtool', 1 unless $promtool;
		my $f = "$dir/metrics.txt";
		open my $fh, '>', $f or die "$f: $!";
		print $fh $r->{body};
		close $fh;
		my $out = `$promtool check metrics < $f 2>&1`;
		is($? >> 8, 0, 'promtool check metrics accepts the exposition')
		    or diag($out);
	}
}

# A worker killed: counted as restarted.
{
	my @w = $srv->worker_pids;
	kill 'KILL', $w[0];
	ok(wait_until(sub { my @p = $srv->worker_pids;
	    @p == 2 && !grep { $_ == $w[0] } @p }, timeout => 10),
	    'killed worker replaced');
	ok(wait_until(sub { my $r = request($srv, 'GET', '/metrics', @AUTH);
	    $r->{body} =~ /^starterd_workers_ready 2$/m }, timeout => 10),
	    'both workers ready again');
	my ($m3) = scrape();
	is(val($m3, 'starterd_workers_restarted_total')
	    - val($m2, 'starterd_workers_restarted_total'), 1,
	    'workers_restarted_total grew by 1');
	# The replacement's id keeps the counters: they never go down.
	my $k = req_key('/healthz', 200);
	ok(val($m3, $k) >= val($m2, $k), 'counters survive a worker restart');
}

# A database restart: every worker reconnects.
{
	my ($m4) = scrape();
	$pg->restart;
	ok(wait_until(sub {
		my $r = request($srv, 'GET', '/metrics', @AUTH);
		my ($v) = parse_prom($r->{body});
		val($v, 'starterd_db_reconnects_total')
		    - val($m4, 'starterd_db_reconnects_total') >= 2
		    && val($v, 'starterd_db_connected') == 2;
	}, timeout => 15, interval => 0.25),
	    'db_reconnects_total grew by 2 (one per worker) after a restart');
}

# --- request ids ---------------------------------------------------------------

{
	my $r = request($srv, 'GET', '/healthz',
	    headers => {'X-Request-Id' => 'abc-123.X_y'});
	is($r->{headers}{'x-request-id'}, 'abc-123.X_y',
	    'a sane X-Request-Id is echoed');
	$r = request($srv, 'GET', '/healthz');
	like($r->{headers}{'x-request-id'} // '', qr/^[0-9a-f]{16}$/,
	    'without one, 16 hex digits are generated');
	my $gen = $r->{headers}{'x-request-id'};
	for my $bad ('has space', 'x' x 65, 'semi;colon', '') {
		$r = request($srv, 'GET', '/healthz',
		    headers => {'X-Request-Id' => $bad});
		like($r->{headers}{'x-request-id'} // '', qr/^[0-9a-f]{16}$/,
		    'an insane X-Request-Id ("' . substr($bad, 0, 12)
		    . '") is replaced');
	}
	$r = request($srv, 'GET', '/healthz',
	    headers => {'X-Request-Id' => 'x' x 64});
	is($r->{headers}{'x-request-id'}, 'x' x 64, '64 characters are kept');
	$r = request($srv, 'GET', '/nowhere',
	    headers => {'X-Request-Id' => 'err-404-id'});
	is($r->{headers}{'x-request-id'}, 'err-404-id', 'echoed on errors');
	$r = request($srv, 'GET', $ITEM, @AUTH,
	    headers => {'X-Request-Id' => 'item-req-1'});
	is($r->{headers}{'x-request-id'}, 'item-req-1',
	    'echoed on API responses');
	my $seen = wait_until(sub {
		open my $fh, '<', $alog or return 0;
		local $/;
		my $s = <$fh> // '';
		return $s =~ m{"GET /healthz HTTP/1\.1" 200 .* \d+ abc-123\.X_y -\n}
		    && $s =~ m{ \Q$gen\E -\n}
		    && $s =~ m{"GET \Q$ITEM\E HTTP/1\.1" 200 .* item-req-1 -\n};
	}, timeout => 5);
	ok($seen, 'request ids in their access log lines (then the traceparent)');

	# The PostgreSQL side: application_name carries the id, and the
	# server's log shows it for a (slow) statement.
	$pg->psql("ALTER SYSTEM SET log_min_duration_statement = 0");
	$pg->psql("ALTER SYSTEM SET log_line_prefix = '%m [%p] app=%a '");
	$pg->psql("SELECT pg_reload_conf()");
	sleep 0.5;
	# An item nobody asked for yet: a cached one would not reach
	# PostgreSQL at all.
	$r = request($srv, 'GET', '/api/v1.0/pxcodes/064', @AUTH,
	    headers => {'X-Request-Id' => 'follow-me-42'});
	is($r->{status}, 200, 'a request to follow');
	# Through PgBouncer (--prepare unnamed) the statement has no name:
	# the log shows its text.
	my $stmt = $pg->bouncer ? 'execute <unnamed>: SELECT pxcode, '
	    . 'procedure FROM starter_pxcodes WHERE pxcode = \$1'
	    : 'execute px_get';
	ok(wait_until(sub { $pg->log_contents =~
	    /app=starterd worker \d+ req=follow-me-42 LOG:  duration: [\d.]+ ms  $stmt/ },
	    timeout => 5), "PostgreSQL's statement log names the request id")
	    or diag(join "\n", grep { /duration/ } split /\n/,
	    $pg->log_contents);
	$pg->psql("ALTER SYSTEM RESET log_min_duration_statement");
	$pg->psql("ALTER SYSTEM RESET log_line_prefix");
	$pg->psql("SELECT pg_reload_conf()");
}

# --- the default: credentials; --metrics on / off / loopback --------------------

{
	my $r = request($srv, 'GET', '/metrics');
	check_error($r, 401, 'default (--metrics auth): no credentials');
	like($r->{headers}{'www-authenticate'} // '', qr/^Basic /,
	    '... with the Basic challenge');
	is(request($srv, 'GET', '/metrics', auth => 'admin:wrong')->{status},
	    401, 'default: a wrong password gets 401');
	# A local reverse proxy connects from loopback: that is no credential.
	is(request($srv, 'GET', '/metrics',
	    headers => {'X-Forwarded-For' => '127.0.0.1'})->{status}, 401,
	    'default: from loopback, even "forwarded for" it, still 401');
	my $t = request($srv, 'GET', '/auth/request-token', @AUTH);
	my $tok = ref $t->{json} eq 'HASH' ? $t->{json}{token} : '';
	is(request($srv, 'GET', '/metrics',
	    headers => {Authorization => "Bearer $tok"})->{status}, 200,
	    'default: a token will do');

	my $on = StarterTest::Server->new(pg => $pg, workers => 1,
	    args => ['--metrics', 'on']);
	is(request($on, 'GET', '/metrics')->{status}, 200,
	    '--metrics on: 200 without credentials');
	$on->stop;
}
{
	my $off = StarterTest::Server->new(pg => $pg, workers => 1,
	    args => ['--metrics', 'off']);
	is(request($off, 'GET', '/metrics')->{status}, 404,
	    '--metrics off: 404');
	$off->stop;

	my $lb = StarterTest::Server->new(pg => $pg, workers => 1,
	    listen => '0.0.0.0', args => ['--metrics', 'loopback']);
	is(request($lb, 'GET', '/metrics')->{status}, 200,
	    '--metrics loopback: 200 from 127.0.0.1');
	my ($ip) = grep { $_ !~ /^127\./ && /^\d+\.\d+\.\d+\.\d+$/ }
	    split ' ', `hostname -I 2>/dev/null` // '';
	SKIP: {
		skip 'no non-loopback IPv4 address on this host', 1
		    unless $ip;
		my $s = IO::Socket::INET->new(PeerAddr => $ip,
		    PeerPort => $lb->port, Proto => 'tcp', Timeout => 5);
		my $c = bless {sock => $s, rbuf => '', eof => 0,
		    port => $lb->port}, 'StarterTest::Conn';
		my $r = $s ? $c->request('GET', '/metrics') : {status => 0};
		is($r->{status}, 403, "--metrics loopback: 403 from $ip");
		$c->close;
	}
	$lb->stop;
}

done_testing();
