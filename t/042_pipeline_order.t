# 042_pipeline_order: completions are posted back to the loop, never run
# inside the database layer (issue 9, acceptance 2).
#
# One worker, no response cache, so every item read is a database round
# trip.  A connection pipelines requests that need the database between
# requests answered at once; their answers must come back in request
# order (each carries its own X-Request-Id).  While the database answers
# are held back by a row lock, a second connection sends its request a few
# bytes at a time and is answered without waiting; then the lock is
# released and the first connection's answers arrive while the second
# connection's next request is half parsed.  Re-entering the client state
# machine from a completion stops the worker ("conn_run re-entered"), which
# finish() reports as a crashed worker; the log is checked for it too.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use JSON::PP;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $srv = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['-C', '0']);

my $BASE = '/api/v1.0/pxcodes/';
my @AUTH = (auth => 'admin:admin');
my $n = 0;

# [method, path, expected status, body] -> request bytes with an id.
sub req
{
	my ($m, $path, $body) = @_;
	my $id = sprintf 'p%04d', ++$n;
	return ($id, StarterTest::build_request($m, $path, @AUTH,
	    port => $srv->port, headers => {'X-Request-Id' => $id,
	    defined $body ? ('Content-Type' => 'application/json') : ()},
	    defined $body ? (body => $body) : ()));
}

sub check_in_order
{
	my ($c, $name, @want) = @_;
	my ($order, $status) = (1, 1);
	for my $w (@want) {
		my ($id, $m, $st) = @$w;
		my $r = $c->read_response(method => $m, timeout => 20);
		unless ($r) {
			fail("$name: response for $id");
			return;
		}
		$order = 0 unless ($r->{headers}{'x-request-id'} // '') eq $id;
		$status = 0 unless $r->{status} == $st;
		diag("$name: $id: got $r->{status} id "
		    . ($r->{headers}{'x-request-id'} // '-')) unless
		    ($r->{headers}{'x-request-id'} // '') eq $id &&
		    $r->{status} == $st;
	}
	ok($order, "$name: every answer in request order");
	ok($status, "$name: every answer has its status");
}

# ---- mixed pipelines, many rounds -------------------------------------------
for my $round (1 .. 20) {
	my $c = StarterTest::Conn->new($srv);
	my (@want, $bytes);
	my @plan = (
	    ['GET', "${BASE}039", 200], ['GET', '/healthz', 200],
	    ['HEAD', "${BASE}057", 200], ['OPTIONS', $BASE, 204],
	    ['GET', "${BASE}NOPE$round", 404], ['GET', '/nowhere', 404],
	    ['POST', $BASE, 201, encode_json({pxcode => "PL$round",
		procedure => "ROUND $round"})],
	    ['GET', "${BASE}PL$round", 200], ['GET', "$BASE?per_page=3", 200],
	    ['DELETE', "${BASE}PL$round", 204], ['GET', "${BASE}PL$round", 404],
	    ['GET', '/readyz', 200]);
	# A different interleaving each round, the write sequence kept.
	my @fixed = grep { $plan[$_][0] =~ /POST|DELETE/ ||
	    $plan[$_][1] =~ /PL$round$/ } 0 .. $#plan;
	my @free = grep { my $i = $_; !grep { $_ == $i } @fixed } 0 .. $#plan;
	my @order = (@free[($round % @free) .. $#free],
	    @free[0 .. ($round % @free) - 1]);
	splice @order, ($round % (@order + 1)), 0, @fixed;
	for my $i (@order) {
		my ($m, $p, $st, $b) = @{$plan[$i]};
		my ($id, $bytes1) = req($m, $p, $b);
		$bytes .= $bytes1;
		push @want, [$id, $m, $st];
	}
	$c->send($bytes);
	check_in_order($c, "round $round", @want);
	$c->close;
}

# ---- answers arriving while another request is being parsed ------------------
my $ses = $pg->session;
ok(defined $ses->do("BEGIN; SELECT 1 FROM starter_pxcodes WHERE pxcode = "
    . "'039' FOR UPDATE;"), 'a psql session holds row 039 locked');
my $a = StarterTest::Conn->new($srv);
my (@want, $bytes);
for my $p (["PUT", "${BASE}039", 200, '{"pxcode":"039","procedure":"LOCKED"}'],
    ['GET', '/healthz', 200], ['GET', "${BASE}057", 200],
    ['GET', "${BASE}039", 200]) {
	my ($m, $path, $st, $b) = @$p;
	my ($id, $b1) = req($m, $path, $b);
	$bytes .= $b1;
	push @want, [$id, $m, $st];
}
$a->send($bytes);
# (The session is in a transaction: its statistics snapshot is cleared.)
ok(wait_until(sub { (($ses->do("SELECT pg_stat_clear_snapshot(); SELECT "
    . "count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock';")
    // '') =~ /(\d+)$/)[0] // 0 }, timeout => 4, interval => 0.02),
    'the PUT waits on the lock');

# B: a request sent in pieces is answered while A waits for PostgreSQL.
my $b = StarterTest::Conn->new($srv);
my ($bid, $breq) = req('GET', '/healthz');
$b->send($_) for unpack '(a7)*', $breq;
my $r = $b->read_response(timeout => 10);
ok($r && $r->{status} == 200 && $r->{headers}{'x-request-id'} eq $bid,
    'another connection is served while the first waits');
ok(!length $a->{rbuf} && !$a->_fill(0.01),
    'the first connection has no answer yet (its PUT is first)');

# Half of B's next request, then the database answers A, then the rest.
my ($bid2, $breq2) = req('GET', "${BASE}064");
my $half = int(length($breq2) / 2);
$b->send(substr($breq2, 0, $half));
ok(defined $ses->do('COMMIT;'), 'the lock is released');
check_in_order($a, 'after the lock', @want);
$b->send(substr($breq2, $half));
$r = $b->read_response(timeout => 10);
ok($r && $r->{status} == 200 && $r->{headers}{'x-request-id'} eq $bid2,
    'the half-sent request is answered once complete');
is($pg->psql("SELECT procedure FROM starter_pxcodes WHERE pxcode = '039'"),
    'LOCKED', 'the PUT committed');
$ses->close;

unlike($srv->log_contents, qr/re-entered/, 'no re-entry of the state machine');
finish();
