#!/usr/bin/perl
# 044_http_extras: the HTTP details of issue 13.  The collection without
# its slash is a 308 to the slash form for every method; a 204 carries no
# Content-Type or Content-Length; an Accept preferring
# application/problem+json gets RFC 9457 problem documents; every answer
# has Server-Timing with the phases it went through; a well-formed W3C
# traceparent is echoed and logged after the request id, a malformed one
# is ignored.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use JSON::PP;
use Test::More;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $dir = StarterTest::basedir();
my $alog = "$dir/access.log";
my $srv = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['-a', $alog]);
my $host = '127.0.0.1:' . $srv->port;
my $coll = '/api/v1.0/pxcodes/';

sub log_text
{
	open my $fh, '<', $alog or return '';
	local $/;
	my $s = <$fh> // '';
	close $fh;
	return $s;
}

# --- 1. 308 to the collection's slash form ----------------------------------

for my $m (qw(GET HEAD POST PUT PATCH DELETE OPTIONS)) {
	my $r = request($srv, $m, '/api/v1.0/pxcodes', host => $host,
	    body => $m =~ /^P/ ? '{}' : undef,
	    headers => $m =~ /^P/ ? ['Content-Type' => 'application/json']
	    : []);
	is($r->{status}, 308, "$m /api/v1.0/pxcodes: 308")
	    or diag(explain_response($r));
	is($r->{headers}{location}, "http://$host$coll",
	    "$m: Location is the absolute slash form");
	next if $m eq 'HEAD';
	is($r->{json}{status}, 308, "$m: the JSON error body says 308");
	is($r->{json}{error}, 'permanent redirect', "$m: error names it");
}
my $r = request($srv, 'GET', '/api/v1.0/pxcodes?page=2&per_page=5',
    host => $host);
is($r->{headers}{location}, "http://$host$coll?page=2&per_page=5",
    '308: the query string is kept');
$r = request($srv, 'GET', '/api/v1.0/pxcodesx', host => $host);
is($r->{status}, 404, 'a longer path is still 404');

# --- 2. 204 has no Content-Type ---------------------------------------------

for my $p ($coll, '/healthz', "${coll}039") {
	$r = request($srv, 'OPTIONS', $p);
	is($r->{status}, 204, "OPTIONS $p: 204") or diag(explain_response($r));
	ok(!exists $r->{headers}{'content-type'},
	    "OPTIONS $p: no Content-Type on 204");
	ok(!exists $r->{headers}{'content-length'},
	    "OPTIONS $p: no Content-Length on 204");
	like($r->{headers}{allow} // '', qr/\bGET\b/, "OPTIONS $p: Allow");
}

# --- 3. RFC 9457 problem details --------------------------------------------

my $PROBLEM = 'application/problem+json';
for my $t (["$PROBLEM", 1],
    ["$PROBLEM;q=0.9, application/json;q=0.5", 1],
    ["application/json;q=0.5, $PROBLEM", 1],
    ["$PROBLEM, */*;q=0.1", 1],
    ["application/json, $PROBLEM;q=0.5", 0],
    ["application/json;q=1, $PROBLEM;q=1", 0],
    ["$PROBLEM;q=0, application/json", 0],
    ['*/*', 0],
    ['application/*', 0],
    [undef, 0]) {
	my ($accept, $want) = @$t;
	my $name = 'Accept: ' . ($accept // '(none)');
	$r = request($srv, 'GET', "${coll}nope", auth => 'admin:admin',
	    headers => defined $accept ? ['Accept' => $accept] : []);
	is($r->{status}, 404, "$name: 404") or diag(explain_response($r));
	if ($want) {
		is($r->{headers}{'content-type'}, $PROBLEM,
		    "$name: Content-Type $PROBLEM");
		my $j = eval { JSON::PP->new->decode($r->{body}) } // {};
		is_deeply([ sort keys %$j ],
		    [ qw(detail status title type) ],
		    "$name: type, title, status, detail");
		is($j->{type}, 'about:blank', "$name: type about:blank");
		is($j->{title}, 'Not Found', "$name: title is the reason");
		is($j->{status}, 404, "$name: status 404");
		like($j->{detail} // '', qr/\S/, "$name: a detail");
		like($r->{body}, qr/^\{"type":"about:blank","title":"Not Found","status":404,"detail":".+"\}\n$/,
		    "$name: in the RFC's member order");
	} else {
		check_error($r, 404, $name);
	}
}
$r = request($srv, 'GET', $coll, headers => ['Accept' => $PROBLEM]);
is($r->{status}, 401, 'problem: no credentials: 401');
is($r->{headers}{'content-type'}, $PROBLEM, '401 as a problem document');
like($r->{headers}{'www-authenticate'} // '', qr/^Basic /,
    '401 problem: the challenge is still there');
$r = request($srv, 'DELETE', $coll, headers => ['Accept' => $PROBLEM]);
is($r->{status}, 405, 'problem: 405');
like($r->{body}, qr/"title":"Method Not Allowed"/, '405 as a problem');

# --- 4. Server-Timing -------------------------------------------------------

my $D = qr/\d+\.\d{3}/;
$r = request($srv, 'GET', "${coll}039", auth => 'admin:admin');
is($r->{status}, 200, 'GET an item: 200');
like($r->{headers}{'server-timing'} // '',
    qr/^auth;dur=$D, cache;desc="miss", db;dur=$D, total;dur=$D$/,
    'first GET: auth, cache miss, db and total')
    or diag($r->{headers}{'server-timing'});
$r = request($srv, 'GET', "${coll}039", auth => 'admin:admin');
like($r->{headers}{'server-timing'} // '',
    qr/^auth;dur=$D, cache;desc="hit", total;dur=$D$/,
    'second GET: a cache hit, no database')
    or diag($r->{headers}{'server-timing'});
is($r->{header_count}{'server-timing'}, 1, 'one Server-Timing header');
$r = request($srv, 'GET', "${coll}039");
like($r->{headers}{'server-timing'} // '', qr/^auth;dur=$D, total;dur=$D$/,
    '401: the auth phase and the total, no cache or database');
$r = request($srv, 'GET', '/healthz');
like($r->{headers}{'server-timing'} // '', qr/^(?:db;dur=$D, )?total;dur=$D$/,
    '/healthz: Server-Timing too');

# --- 5. traceparent ---------------------------------------------------------

my $tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
$r = request($srv, 'GET', '/healthz',
    headers => ['traceparent' => $tp, 'X-Request-Id' => 'tp-good']);
is($r->{headers}{traceparent}, $tp, 'a valid traceparent is echoed');
my $line;
wait_until(sub {
	($line) = grep { / tp-good / } split /\n/, log_text();
	return defined $line;
}, timeout => 5);
like($line // '', qr/ \d+ tp-good \Q$tp\E$/,
    'the access log has it after the request id');

$r = request($srv, 'GET', "${coll}040", auth => 'admin:admin',
    headers => ['traceparent' => $tp]);
is($r->{headers}{traceparent}, $tp, 'echoed on an API answer too');

# The worker's session carries the trace id beside the request id while
# (and after) that request's statements run: an uncached item, one worker.
# Through PgBouncer (STARTERD_TEST_PGBOUNCER=1) the worker has a second,
# direct session for LISTEN, named "starterd worker 1 listen": not the one
# the statements ran on.
$r = request($srv, 'GET', "${coll}NOSUCH", auth => 'admin:admin',
    headers => ['traceparent' => $tp, 'X-Request-Id' => 'tp-db']);
is($r->{status}, 404, 'an uncached lookup with a traceparent');
(my $trace = $tp) =~ s/^00-([0-9a-f]{32})-.*/$1/;
is($pg->psql("SELECT application_name FROM pg_stat_activity WHERE "
    . "application_name LIKE 'starterd worker%' AND application_name "
    . "<> 'starterd worker 1 listen'"),
    "starterd worker 1 req=tp-db tp=$trace",
    'application_name names the request and the trace');

my $i = 0;
for my $bad ('00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01',
    '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
    'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x',
    '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
    '00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01',
    '0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    'zz') {
	$i++;
	$r = request($srv, 'GET', '/healthz',
	    headers => ['traceparent' => $bad, 'X-Request-Id' => "tp-bad$i"]);
	is($r->{status}, 200, "malformed traceparent $i: still 200");
	ok(!exists $r->{headers}{traceparent},
	    "malformed traceparent $i ($bad): not echoed");
}
wait_until(sub { log_text() =~ / tp-bad$i / }, timeout => 5);
like(log_text(), qr/ tp-bad1 -$/m, 'a malformed one is logged as -');
$r = request($srv, 'GET', '/healthz', headers => [
    'traceparent' => $tp, 'traceparent' => $tp]);
ok(!exists $r->{headers}{traceparent}, 'two traceparents: neither is kept');
# A later version may carry more fields: its first 55 bytes are kept.
my $v1 = '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
$r = request($srv, 'GET', '/healthz',
    headers => ['traceparent' => "$v1-more"]);
is($r->{headers}{traceparent}, $v1, 'a future version: the known part');

finish();
