# 040_http_protocol: the HTTP/1.x layer seen from a raw socket: versions,
# keep-alive, pipelining, chunked bodies, 100-continue, every limit, request
# smuggling defences, and the header and idle timeouts.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use Time::HiRes qw(time sleep);
use IO::Select;
use IO::Socket::IP;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $srv = StarterTest::Server->new(pg => $pg);

my $BASE = '/api/v1.0/pxcodes/';
my @AUTH = (auth => 'admin:admin');
my $AUTHZ = 'Authorization: Basic YWRtaW46YWRtaW4=';	# admin:admin

sub conn { return StarterTest::Conn->new($srv); }

# Send bytes on a fresh connection; expect one error response and a close.
sub expect_error_close
{
	my ($bytes, $status, $name, %opt) = @_;
	my $c = conn();
	$c->send($bytes);
	my $r = $c->read_response(timeout => 10) // {status => 0,
	    headers => {}, body => '', error => 'no response'};
	if (ref $status) {
		ok((grep { $_ == $r->{status} } @$status),
		    "$name: status one of @$status")
		    or diag(explain_response($r));
		$status = $r->{status};
	}
	check_error($r, $status, $name);
	is($r->{headers}{connection} // '', 'close',
	    "$name: Connection: close") unless $opt{no_conn_header};
	ok($c->wait_closed(5), "$name: the server closes the connection");
	$c->close;
	return $r;
}

# --- versions, keep-alive, Connection: close ------------------------------------

{
	my $c = conn();
	$c->send("GET /healthz HTTP/1.0\r\n\r\n");
	my $r = $c->read_response;
	is($r && $r->{status}, 200, 'HTTP/1.0 without Host: 200');
	check_common_headers($r // {}, 'HTTP/1.0 response');
	ok($c->wait_closed(5), 'HTTP/1.0: closed after the response');
	$c->close;
}
{
	my $c = conn();
	my $req = "GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
	$c->send($req);
	my $r = $c->read_response;
	is($r && $r->{status}, 200, 'HTTP/1.0 keep-alive: first 200');
	like($r && $r->{headers}{connection} // '', qr/keep-alive/i,
	    'HTTP/1.0 keep-alive: Connection: keep-alive in the answer');
	$c->send($req);
	$r = $c->read_response;
	is($r && $r->{status}, 200,
	    'HTTP/1.0 keep-alive: second request on the connection: 200');
	$c->send("GET /healthz HTTP/1.0\r\n\r\n");
	$r = $c->read_response;
	is($r && $r->{status}, 200, 'HTTP/1.0 without keep-alive: 200');
	ok($c->wait_closed(5), 'HTTP/1.0 without keep-alive: then closed');
	$c->close;
}
{
	my $c = conn();
	my $ok = 0;
	for my $i (1 .. 5) {
		my $r = $c->request('GET', "${BASE}039", @AUTH);
		$ok++ if $r->{status} == 200 && $r->{json}{pxcode} eq '039';
	}
	is($ok, 5, 'HTTP/1.1 keep-alive: 5 requests on one connection');
	ok(!$c->wait_closed(0.5), 'HTTP/1.1 keep-alive: connection stays open');
	my $r = $c->request('GET', '/healthz',
	    headers => {Connection => 'close'});
	is($r->{status}, 200, 'Connection: close: 200');
	like($r->{headers}{connection} // '', qr/close/i,
	    'Connection: close: echoed in the answer');
	ok($c->wait_closed(5), 'Connection: close: the server closes');
	$c->close;
}

# --- pipelining -----------------------------------------------------------------

{
	my @reqs = (
	    ['GET', '/healthz'],
	    ['GET', "${BASE}039"],
	    ['HEAD', "${BASE}057"],
	    ['GET', "${BASE}?page=3&per_page=2"],
	    ['POST', $BASE, '{"pxcode":"PIPE1","procedure":"PIPELINED"}'],
	    ['GET', "${BASE}PIPE1"],
	    ['GET', "${BASE}NOPE"],
	    ['DELETE', "${BASE}PIPE1"],
	    ['GET', "${BASE}064"],
	);
	my $bytes = join '', map {
		build_request($_->[0], $_->[1], @AUTH,
		    defined $_->[2] ? (body => $_->[2],
		    headers => {'Content-Type' => 'application/json'}) : ())
	} @reqs;
	my $data = StarterTest::raw($srv, $bytes, expect => scalar @reqs,
	    methods => [map { $_->[0] } @reqs]);
	my @r = parse_responses($data, map { $_->[0] } @reqs);
	is(scalar @r, scalar @reqs, 'pipelined: one response per request');
	is(join(' ', map { $_->{status} } @r),
	    '200 200 200 200 201 200 404 204 200',
	    'pipelined: statuses in request order');
	is($r[1]{json}{pxcode}, '039', 'pipelined: 2nd answer is item 039');
	is($r[2]{body}, '', 'pipelined: HEAD answer has no body');
	like($r[2]{headers}{etag} // '', qr/^"[0-9a-f]{32}"$/,
	    'pipelined: HEAD answer has the ETag');
	is($r[3]{json}{items}[0]{pxcode}, $pg->psql(
	    'SELECT pxcode FROM starter_pxcodes ORDER BY id OFFSET 4 LIMIT 1'),
	    'pipelined: 4th answer is page 3');
	is($r[5]{json}{procedure}, 'PIPELINED',
	    'pipelined: GET sees the POST before it');
	is($r[8]{json}{pxcode}, '064', 'pipelined: last answer is item 064');
}
{
	# Many small requests in one write, each with its own marker.
	my @per = map { 1 + $_ % 20 } 1 .. 40;
	my $bytes = join '', map {
		build_request('GET', "$BASE?per_page=$_", @AUTH) } @per;
	my $data = StarterTest::raw($srv, $bytes, expect => scalar @per);
	my @r = parse_responses($data);
	is(scalar @r, 40, 'pipelined x40: 40 responses');
	is(join(',', map { scalar @{$_->{json}{items} // []} } @r),
	    join(',', @per), 'pipelined x40: answered in order');
}
{
	# The last pipelined request closes: everything answered, then close.
	my $bytes = build_request('GET', '/healthz')
	    . build_request('GET', "${BASE}039", @AUTH)
	    . build_request('GET', '/healthz', headers => {Connection => 'close'})
	    . build_request('GET', '/healthz');
	my ($data, $closed) = StarterTest::raw($srv, $bytes, timeout => 5);
	my @r = parse_responses($data);
	is(join(' ', map { $_->{status} } @r), '200 200 200',
	    'pipelined with Connection: close third: three answers');
	ok($closed, 'pipelined with Connection: close: then closed');
}
{
	# A request dribbled in small pieces is parsed the same.
	my $c = conn();
	my $bytes = build_request('GET', "${BASE}039", @AUTH);
	for my $i (0 .. length($bytes) - 1) {
		$c->send(substr($bytes, $i, 1));
		sleep 0.005 if $i % 7 == 0;
	}
	my $r = $c->read_response;
	is($r && $r->{status}, 200, 'request sent byte by byte: 200');
	is($r && $r->{json}{pxcode}, '039', 'request sent byte by byte: body');
	$c->close;
}

# --- request bodies --------------------------------------------------------------

{
	my $body = '{"pxcode":"CHUNK1","procedure":"SENT IN CHUNKS"}';
	my @parts = (substr($body, 0, 10), substr($body, 10, 17),
	    substr($body, 27));
	my $chunked = join('', map { sprintf("%x\r\n%s\r\n", length, $_) }
	    @parts) . "0\r\n\r\n";
	my $r = request($srv, 'POST', $BASE, @AUTH, body => $chunked,
	    headers => ['Content-Type' => 'application/json',
	    'Transfer-Encoding' => 'chunked']);
	is($r->{status}, 201, 'chunked POST: 201') or diag(explain_response($r));
	is(request($srv, 'GET', "${BASE}CHUNK1", @AUTH)->{json}{procedure},
	    'SENT IN CHUNKS', 'chunked POST: stored');

	# extensions, upper-case hex, a trailer; then the connection goes on
	$body = '{"pxcode":"CHUNK2","procedure":"' . ('Z' x 26) . '"}';
	$chunked = sprintf("%X;ext=1\r\n%s\r\n", length $body, $body)
	    . "0\r\nX-Trailer: yes\r\n\r\n";
	my $c = conn();
	$r = $c->request('POST', $BASE, @AUTH, body => $chunked,
	    headers => ['Content-Type' => 'application/json',
	    'Transfer-Encoding' => 'chunked']);
	is($r->{status}, 201,
	    'chunked POST with extension, upper-case size and trailer: 201')
	    or diag(explain_response($r));
	$r = $c->request('GET', "${BASE}CHUNK2", @AUTH);
	is($r->{json}{procedure}, 'Z' x 26,
	    'after a chunked body the connection serves the next request');
	$c->close;
}
{
	my $c = conn();
	my $body = '{"pxcode":"CONT1","procedure":"AFTER CONTINUE"}';
	$c->send(build_request('POST', $BASE, @AUTH,
	    headers => ['Content-Type' => 'application/json',
	    'Content-Length' => length $body, Expect => '100-continue']));
	my $i = $c->read_response(interim => 1, timeout => 5);
	is($i && $i->{status}, 100, 'Expect: 100-continue: interim 100 first');
	like($i && $i->{status_line} // '', qr{^HTTP/1\.1 100 Continue$},
	    'Expect: 100-continue: HTTP/1.1 100 Continue');
	$c->send($body);
	my $r = $c->read_response;
	is($r && $r->{status}, 201, 'Expect: 100-continue: then 201');
	$c->close;
	is(request($srv, 'GET', "${BASE}CONT1", @AUTH)->{status}, 200,
	    'Expect: 100-continue: stored');
}
{
	my $c = conn();
	$c->send(build_request('POST', $BASE, @AUTH,
	    headers => ['Content-Type' => 'application/json',
	    'Content-Length' => 2 * 1024 * 1024, Expect => '100-continue']));
	my $r = $c->read_response(timeout => 5);
	is($r && $r->{status}, 413,
	    'Expect: 100-continue with a too large body: 413 at once');
	is(scalar @{($r // {})->{interim} // []}, 0,
	    'Expect: 100-continue with a too large body: no 100');
	$c->close;
}

# --- request targets and versions ---------------------------------------------

{
	my $r = request($srv, 'GET', "http://localhost${BASE}039", @AUTH);
	is($r->{status}, 200, 'absolute-form request target: 200');
	is($r->{json}{pxcode}, '039', 'absolute-form request target: the item');
	expect_error_close("GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505,
	    'HTTP/2.0 request line');
	$r = request($srv, 'TRACE', '/healthz');
	is($r->{status}, 405, 'TRACE: 405, not echoed');
	unlike($r->{body}, qr/TRACE \/healthz/, 'TRACE: request not reflected');
}
{
	# RFC 9112 2.6: a higher minor version is served as HTTP/1.1.
	my ($d) = StarterTest::raw($srv,
	    "GET /healthz HTTP/1.2\r\nHost: x\r\nConnection: close\r\n\r\n",
	    timeout => 5);
	my @r = parse_responses($d);
	is(@r ? $r[0]{status} : 0, 200, 'HTTP/1.2 request: served as 1.1');
}

# --- limits ------------------------------------------------------------------------

{
	# request line: 8 KiB is the limit
	my $ok = request($srv, 'GET', '/healthz?' . ('a' x 7000));
	is($ok->{status}, 200, 'request line of 7 KB: accepted');
	expect_error_close("GET /" . ('a' x 9000) . " HTTP/1.1\r\nHost: x\r\n\r\n",
	    414, 'request line over 8 KiB');
	expect_error_close("GET /" . ('a' x 20000), 414,
	    'request line over 8 KiB, not even terminated');
}
{
	my $ok = request($srv, 'GET', '/healthz',
	    headers => {'X-Big' => 'a' x 12000});
	is($ok->{status}, 200, 'header section of 12 KB: accepted');
	expect_error_close("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
	    . ('a' x 17000) . "\r\n\r\n", 431, 'one header over 16 KiB');
	expect_error_close("GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    . join('', map { "X-F$_: " . ('b' x 200) . "\r\n" } 1 .. 90)
	    . "\r\n", 431, 'header section over 16 KiB in 90 fields');

	my @h99 = map { ("X-H$_" => 'v') } 1 .. 99;	# + Host = 100
	$ok = request($srv, 'GET', '/healthz', headers => \@h99);
	is($ok->{status}, 200, '100 header fields: accepted');
	expect_error_close("GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    . join('', map { "X-H$_: v\r\n" } 1 .. 101) . "\r\n", 431,
	    'over 100 header fields');
}
{
	my $head = "POST $BASE HTTP/1.1\r\nHost: x\r\n$AUTHZ\r\n"
	    . "Content-Type: application/json\r\n";
	expect_error_close($head . "Content-Length: 1048577\r\n\r\n", 413,
	    'Content-Length over 1 MiB');
	expect_error_close($head . "Content-Length: 99999999999999999999\r\n\r\n",
	    [400, 413], 'Content-Length beyond 64 bits');
	# exactly 1 MiB passes the limit (and then fails as JSON)
	my $r = request($srv, 'POST', $BASE, @AUTH,
	    headers => {'Content-Type' => 'application/json'},
	    body => ' ' x (1024 * 1024 - 2) . '[]', timeout => 20);
	check_error($r, 400, 'body of exactly 1 MiB: not 413 (400: not an object)');

	# chunked: the decoded size counts
	my $chunk = 'c' x 65536;
	my $body = join('', map { sprintf("%x\r\n%s\r\n", length $chunk, $chunk) }
	    1 .. 17) . "0\r\n\r\n";
	expect_error_close($head . "Transfer-Encoding: chunked\r\n\r\n" . $body,
	    413, 'chunked body over 1 MiB');
}

# --- methods, framing, smuggling ----------------------------------------------------

expect_error_close("FOO /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 501,
    'unknown method');
expect_error_close("POST $BASE HTTP/1.1\r\nHost: x\r\n$AUTHZ\r\n"
    . "Content-Type: application/json\r\nContent-Length: 4\r\n"
    . "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
    'both Content-Length and Transfer-Encoding');
expect_error_close("POST $BASE HTTP/1.1\r\nHost: x\r\n$AUTHZ\r\n"
    . "Content-Type: application/json\r\nContent-Length: 2\r\n"
    . "Content-Length: 3\r\n\r\n{}x", 400, 'two different Content-Lengths');
expect_error_close("POST $BASE HTTP/1.1\r\nHost: x\r\n$AUTHZ\r\n"
    . "Content-Type: application/json\r\nContent-Length: 2, 3\r\n\r\n{}x",
    400, 'Content-Length list with different values');
expect_error_close("POST $BASE HTTP/1.1\r\nHost: x\r\n$AUTHZ\r\n"
    . "Content-Type: application/json\r\nContent-Length: -1\r\n\r\n", 400,
    'negative Content-Length');
expect_error_close("POST $BASE HTTP/1.1\r\nHost: x\r\n$AUTHZ\r\n"
    . "Content-Type: application/json\r\nContent-Length: 0x2\r\n\r\n{}", 400,
    'non-decimal Content-Length');
expect_error_close("POST $BASE HTTP/1.1\r\nHost: x\r\n$AUTHZ\r\n"
    . "Content-Type: application/json\r\nTransfer-Encoding: gzip\r\n\r\n",
    501, 'Transfer-Encoding gzip');
expect_error_close("POST $BASE HTTP/1.1\r\nHost: x\r\n$AUTHZ\r\n"
    . "Content-Type: application/json\r\nTransfer-Encoding: chunked, gzip"
    . "\r\n\r\n", [400, 501], 'Transfer-Encoding chunked, gzip');
expect_error_close("POST $BASE HTTP/1.1\r\nHost: x\r\n$AUTHZ\r\n"
    . "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    . "zz\r\n{}\r\n0\r\n\r\n", 400, 'bad chunk size');
expect_error_close("GET /healthz HTTP/1.1\r\n\r\n", 400,
    'HTTP/1.1 without Host');
expect_error_close("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    400, 'two Host fields');
expect_error_close("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n"
    . "\r\n", 400, 'obsolete line folding');
expect_error_close("GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400,
    'space before the colon');
expect_error_close("GARBAGE\r\n\r\n", 400, 'malformed request line');

{
	# A smuggling attempt must not yield a second response.
	my $c = conn();
	$c->send("POST $BASE HTTP/1.1\r\nHost: x\r\n$AUTHZ\r\n"
	    . "Content-Type: application/json\r\nContent-Length: 44\r\n"
	    . "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	    . "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	my $first = $c->read_response;
	is($first && $first->{status}, 400, 'CL+TE smuggling: 400');
	ok($c->wait_closed(5), 'CL+TE smuggling: closed');
	my @rest = parse_responses($c->{rbuf});
	is(scalar @rest, 0, 'CL+TE smuggling: no second response');
	$c->close;
}

# --- many clients, one slow ----------------------------------------------------------

{
	# Idle half-requests on more connections than workers must not stall
	# a complete request on another connection.
	my @slow = map { my $c = conn(); $c->send("GET /healthz HTTP/1.1\r\n");
	    $c } 1 .. 6;
	my $t0 = time;
	my $r = request($srv, 'GET', "${BASE}039", @AUTH, timeout => 5);
	is($r->{status}, 200, 'a complete request next to 6 stalled ones: 200');
	ok(time - $t0 < 3, 'a complete request next to 6 stalled ones: prompt');
	$_->send("Host: x\r\n\r\n") for @slow;
	my $ok = grep { $_ && $_->{status} == 200 } read_all(\@slow);
	is($ok, 6, 'the stalled requests complete when their bytes arrive');
	$_->close for @slow;

	my @conns = map { conn() } 1 .. 40;
	$_->send(build_request('GET', "${BASE}039", @AUTH)) for @conns;
	$ok = grep { $_ && $_->{status} == 200 } read_all(\@conns, timeout => 15);
	is($ok, 40, '40 concurrent connections: all answered');
	$_->close for @conns;
}

# --- IPv6 -----------------------------------------------------------------------

SKIP: {
	my $probe = IO::Socket::IP->new(LocalAddr => '::1', LocalPort => 0,
	    Listen => 1);
	skip 'no IPv6 loopback on this machine', 3 unless $probe;
	close $probe;
	my $six = StarterTest::Server->new(pg => $pg,
	    listen => '127.0.0.1,::1');
	my $s = IO::Socket::IP->new(PeerHost => '::1',
	    PeerPort => $six->port, Timeout => 5);
	ok($s, 'listening on ::1 as well (-b 127.0.0.1,::1)');
	my $resp = '';
	if ($s) {
		print $s "GET /healthz HTTP/1.1\r\nHost: [::1]\r\n"
		    . "Connection: close\r\n\r\n";
		my $sel = IO::Select->new($s);
		while ($sel->can_read(5)) {
			last unless sysread($s, my $buf, 4096);
			$resp .= $buf;
		}
		close $s;
	}
	like($resp, qr{^HTTP/1\.1 200 }, 'GET /healthz over IPv6: 200');
	is(request($six, 'GET', '/healthz')->{status}, 200,
	    'and still over IPv4');
	$six->stop;
}

# --- header and idle timeouts (a second server with short ones) ----------------

$srv->stop;
my $fast = StarterTest::Server->new(pg => $pg,
    args => ['--header-timeout', '2', '--idle-timeout', '2']);
{
	my $c = StarterTest::Conn->new($fast);
	my $t0 = time;
	$c->send("GET /healthz HTTP/1.1\r\nHost: x\r\n");
	ok($c->wait_closed(8), 'half a request, then silence: closed');
	my $dt = time - $t0;
	ok($dt >= 1.5 && $dt < 7,
	    "half a request: closed after the header timeout (${\ sprintf '%.1f', $dt} s)");
	my @r = parse_responses($c->{rbuf});
	ok(@r == 0 || $r[0]{status} == 408,
	    'half a request: nothing or a 408 before the close');
	$c->close;
}
{
	my $c = StarterTest::Conn->new($fast);
	my $t0 = time;
	ok($c->wait_closed(8), 'connection without any byte: closed');
	ok(time - $t0 >= 1.5, 'connection without any byte: not at once');
	$c->close;
}
{
	my $c = StarterTest::Conn->new($fast);
	my $r = $c->request('GET', '/healthz');
	is($r->{status}, 200, 'idle keep-alive: first request 200');
	my $t0 = time;
	ok($c->wait_closed(8), 'idle keep-alive connection: closed');
	my $dt = time - $t0;
	ok($dt >= 1.5 && $dt < 7,
	    "idle keep-alive: closed after the idle timeout (${\ sprintf '%.1f', $dt} s)");
	$c->close;
}
{
	# Activity within the idle timeout keeps the connection.
	my $c = StarterTest::Conn->new($fast);
	my $ok = 0;
	for (1 .. 3) {
		my $r = $c->request('GET', '/healthz');
		$ok++ if $r->{status} == 200;
		sleep 1;
	}
	is($ok, 3, 'requests every second under a 2 s idle timeout: served');
	$c->close;
}
{
	# The header timeout bounds the whole head, not each read (slowloris).
	my $c = StarterTest::Conn->new($fast);
	my $t0 = time;
	my $closed = 0;
	for my $b (split //, "GET /healthz HTTP/1.1\r\nX-Slow: abcdefghij") {
		$c->send($b);
		if ($c->wait_closed(0.5)) { $closed = 1; last; }
	}
	ok($closed && time - $t0 < 6,
	    'a head dripped one byte per 0.5 s is cut at the header timeout');
	$c->close;
}
$fast->stop;

finish();
