# 105_stale: stale-if-error and write preconditions (issue 3, acceptance 7
# and the If-Match / If-None-Match rules).
#   - With PostgreSQL stopped, a cached item still answers 200 with Age and
#     a Cache-Status saying it is stale; an uncached one answers 503; a
#     POST answers 503 with Retry-After.  After a restart, fresh again.
#   - --require-if-match: a PUT without If-Match gets 428; PUT with
#     If-None-Match: * gets 412 on an existing item and 201 on a new code.
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

my $BASE = '/api/v1.0/pxcodes/';
my $CACHED = "${BASE}039";
my $UNCACHED = "${BASE}470";
my $COLL = "$BASE?per_page=5&page=2";
my @AUTH = (auth => 'admin:admin');

sub get { return request($srv, 'GET', $_[0], @AUTH, timeout => 10); }
sub cs { return $_[0]{headers}{'cache-status'} // ''; }

# --- stale-if-error -------------------------------------------------------------

# GET until a hit (a worker that connects late invalidates the cache once).
sub warm
{
	my ($path) = @_;
	my $r;
	for (1 .. 5) {
		$r = get($path);
		last if cs($r) =~ /^starterd; hit$/;
		sleep 0.05;
	}
	return $r;
}

my $fresh = get($CACHED);
is($fresh->{status}, 200, 'cached item: 200 before the outage');
my $r = warm($CACHED);
like(cs($r), qr/^starterd; hit$/, 'cached item: a hit before the outage');
ok(!defined $r->{headers}{age}, 'a fresh hit carries no Age');
my $coll = warm($COLL);
like(cs($coll), qr/^starterd; hit$/, 'collection page: a hit before');

ok($pg->stop('fast'), 'PostgreSQL stopped');
sleep 2;	# let Age reach at least 1 s

$r = get($CACHED);
is($r->{status}, 200, 'outage: cached item answers 200')
    or diag(explain_response($r));
is($r->{body}, $fresh->{body}, 'outage: the same bytes as before');
is($r->{headers}{etag}, $fresh->{headers}{etag}, 'outage: the same ETag');
like($r->{headers}{age} // '', qr/^\d+$/, 'outage: Age present, in seconds');
cmp_ok($r->{headers}{age} // 0, '>=', 1, 'outage: Age counts the time since '
    . 'the entry was stored');
like(cs($r), qr/^starterd; hit; detail="stale: database unavailable"$/,
    'outage: Cache-Status says stale');
like($r->{headers}{'cache-control'} // '', qr/\bprivate\b/,
    'outage: Cache-Control still private');
check_common_headers($r, 'outage: stale item');

$r = request($srv, 'GET', $CACHED, @AUTH,
    headers => {'If-None-Match' => $fresh->{headers}{etag}});
is($r->{status}, 304, 'outage: If-None-Match on the stale item: 304');

$r = get($COLL);
is($r->{status}, 200, 'outage: cached collection page answers 200');
like(cs($r), qr/stale/, 'outage: the collection page is marked stale');

$r = get($UNCACHED);
check_error($r, 503, 'outage: uncached item');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/,
    'outage: uncached item: Retry-After');

for my $m (qw(POST PUT DELETE)) {
	my $path = $m eq 'POST' ? $BASE : $CACHED;
	$r = request($srv, $m, $path, @AUTH, timeout => 10,
	    headers => {'Content-Type' => 'application/json'},
	    $m eq 'DELETE' ? () : (body => '{"pxcode":"039","procedure":"X"}'));
	check_error($r, 503, "outage: $m");
	like($r->{headers}{'retry-after'} // '', qr/^\d+$/,
	    "outage: $m has Retry-After in seconds");
}
# The item still answers from the cache after the failed writes.
is(get($CACHED)->{status}, 200, 'outage: still served after failed writes');

ok($pg->start, 'PostgreSQL started again');
# A 200 that is not stale: an error (503: the credentials cache is
# forgotten when the listening link comes back, so a worker whose other
# link is not back yet cannot log the request in) is not a recovery.
ok(wait_until(sub { my $x = get($CACHED); $x->{status} == 200 &&
    cs($x) !~ /stale/ }, timeout => 15, interval => 0.2),
    'after the restart: no longer marked stale');
# Each worker reconnects on its own back-off (through PgBouncer, after
# PgBouncer's own server_login_retry): wait for every one.
ok($srv->wait_workers_ready(timeout => 10),
    'after the restart: every worker is ready');
$r = get($CACHED);
like(cs($r), qr/^starterd; (hit|fwd=miss; stored)$/,
    'after the restart: a fresh hit or miss');
ok(!defined $r->{headers}{age}, 'after the restart: no Age');
is($r->{body}, $fresh->{body}, 'after the restart: same bytes (unchanged)');
$r = get($UNCACHED);
is($r->{status}, 200, 'after the restart: the uncached item answers 200');

# A change made while starterd was cut off is seen after the restart (the
# NOTIFY was lost with the connection; reconnecting must invalidate).
$pg->psql("UPDATE starter_pxcodes SET procedure = 'WHILE RESTARTED' "
    . "WHERE pxcode = '039'");
ok(wait_until(sub { (get($CACHED)->{json}{procedure} // '') eq
    'WHILE RESTARTED' }, timeout => 2, interval => 0.01),
    'after the restart: a psql UPDATE is seen');
{
	$pg->stop('fast');
	# Change it with starterd unable to hear: start PostgreSQL, update
	# the row at once, and compare.
	$pg->start;
	$pg->psql("UPDATE starter_pxcodes SET procedure = 'DURING RECONNECT' "
	    . "WHERE pxcode = '039'");
	ok(wait_until(sub { (get($CACHED)->{json}{procedure} // '') eq
	    'DURING RECONNECT' }, timeout => 15, interval => 0.1),
	    'a change made while the workers reconnect is seen');
}
$r = request($srv, 'POST', $BASE, @AUTH,
    headers => {'Content-Type' => 'application/json'},
    body => '{"pxcode":"AFTER","procedure":"BACK"}');
is($r->{status}, 201, 'after the restart: POST 201');

# --- --require-if-match ------------------------------------------------------------

my $req = StarterTest::Server->new(pg => $pg, workers => 2,
    args => ['--require-if-match']);

sub put
{
	my ($s, $path, $body, %h) = @_;
	return request($s, 'PUT', $path, @AUTH,
	    headers => {'Content-Type' => 'application/json', %h},
	    body => $body);
}

my $item = "${BASE}039";
my $cur = request($req, 'GET', $item, @AUTH);
my $etag = $cur->{headers}{etag};
my $before = $pg->psql("SELECT procedure FROM starter_pxcodes "
    . "WHERE pxcode = '039'");

$r = put($req, $item, '{"pxcode":"039","procedure":"NO IF-MATCH"}');
# (check_error knows no reason phrase for 428: checked here.)
is($r->{status}, 428, '--require-if-match: PUT without If-Match: 428')
    or diag(explain_response($r));
is($r->{json}{status}, 428, '428: JSON status');
is($r->{json}{error}, 'precondition required',
    '428: JSON error is the RFC 6585 reason phrase');
is(lc($r->{reason} // ''), 'precondition required',
    '428: status line reason phrase');
like($r->{json}{message} // '', qr/If-Match/, '428: the message names If-Match');
check_common_headers($r, '428');
is($pg->psql("SELECT procedure FROM starter_pxcodes WHERE pxcode = '039'"),
    $before, '428: the row is unchanged');
$r = request($req, 'PATCH', $item, @AUTH,
    headers => {'Content-Type' => 'application/json'},
    body => '{"procedure":"NO IF-MATCH"}');
is($r->{status}, 428, '--require-if-match: PATCH without If-Match: 428');
$r = request($req, 'DELETE', $item, @AUTH);
is($r->{status}, 428, '--require-if-match: DELETE without If-Match: 428');

$r = put($req, $item, '{"pxcode":"039","procedure":"WITH IF-MATCH"}',
    'If-Match' => $etag);
is($r->{status}, 200, '--require-if-match: PUT with the current ETag: 200');
$r = put($req, $item, '{"pxcode":"039","procedure":"OLD ETAG"}',
    'If-Match' => $etag);
check_error($r, 412, '--require-if-match: PUT with an old ETag');

$r = put($req, $item, '{"pxcode":"039","procedure":"CREATE ONLY"}',
    'If-None-Match' => '*');
check_error($r, 412, 'PUT If-None-Match: * on an existing item');
is($pg->psql("SELECT procedure FROM starter_pxcodes WHERE pxcode = '039'"),
    'WITH IF-MATCH', 'If-None-Match: * on an existing item: unchanged');

$r = put($req, "${BASE}NEW1", '{"pxcode":"NEW1","procedure":"CREATED"}',
    'If-None-Match' => '*');
is($r->{status}, 201, 'PUT If-None-Match: * on a new code: 201')
    or diag(explain_response($r));
is($pg->psql("SELECT procedure FROM starter_pxcodes WHERE pxcode = 'NEW1'"),
    'CREATED', 'If-None-Match: * on a new code: the row exists');
$r = put($req, "${BASE}NEW1", '{"pxcode":"NEW1","procedure":"AGAIN"}',
    'If-None-Match' => '*');
is($r->{status}, 412, 'PUT If-None-Match: * again on that code: 412');

# The same rules without --require-if-match, on a server whose workers
# all reconnected after the restarts above (each asked in turn: a request
# must not depend on which worker the kernel picks, nor on how long a
# reconnect takes).
ok($srv->wait_workers_ready(timeout => 15), 'every worker of the first '
    . 'server is connected again');
$r = put($srv, "${BASE}NEW2", '{"pxcode":"NEW2","procedure":"C"}',
    'If-None-Match' => '*');
is($r->{status}, 201, 'without the flag: PUT If-None-Match: * creates: 201');
$r = put($srv, "${BASE}NEW2", '{"pxcode":"NEW2","procedure":"D"}');
is($r->{status}, 200, 'without the flag: PUT without If-Match: 200');

finish();
