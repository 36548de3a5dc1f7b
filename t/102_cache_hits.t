# 102_cache_hits: a cache hit does not touch the database (issue 3,
# acceptance 3).  The cluster runs pg_stat_statements; N repeated GETs of a
# warmed item add no call to the item statement, nor a conditional GET
# answered 304, nor (with the credential cache) to the user lookup; with
# the response cache off (-C 0) the same N GETs add exactly N calls.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;

my $N = 50;

my $pg = StarterTest::Pg->new_with_stats;
is($pg->psql("SELECT count(*) >= 0 FROM pg_stat_statements"), 't',
    'pg_stat_statements is queryable');

my $BASE = '/api/v1.0/pxcodes/';
my $ITEM = "${BASE}039";
my $COLL = "$BASE?per_page=10&page=3";
my @AUTH = (auth => 'admin:admin');

my %SQL = (
	item => 'SELECT pxcode, procedure FROM starter_pxcodes '
	    . 'WHERE pxcode = $1',
	user => 'SELECT id, password_hash FROM starter_users '
	    . 'WHERE username = $1',
	page => 'WITH t AS (SELECT count(*) AS n FROM starter_pxcodes) %',
);

# Calls of one statement so far (0 when it never ran).
sub calls
{
	my ($which) = @_;
	my $op = $which eq 'page' ? 'LIKE' : '=';
	return $pg->calls("query $op \$q\$$SQL{$which}\$q\$");
}

# Calls of every statement but the ones this test runs itself.
sub all_calls
{
	return $pg->calls("query NOT LIKE '%pg_stat_statements%'");
}

sub cs { return $_[0]{headers}{'cache-status'} // ''; }

# ---- response cache on ---------------------------------------------------------

my $srv = StarterTest::Server->new(pg => $pg, workers => 2);

# Warm: the first GET is a miss and reads the row; the next is a hit.
my $r = request($srv, 'GET', $ITEM, @AUTH);
is($r->{status}, 200, 'first GET of the item: 200');
like(cs($r), qr/^starterd; fwd=miss; stored$/,
    'first GET of the item: Cache-Status miss, stored');
cmp_ok(calls('item'), '>=', 1, 'the miss ran the item statement');
$r = request($srv, 'GET', $COLL, @AUTH);
like(cs($r), qr/^starterd; fwd=miss; stored$/,
    'first GET of the collection page: miss, stored');
my $etag = $r->{headers}{etag};
$r = request($srv, 'GET', $ITEM, @AUTH);
like(cs($r), qr/^starterd; hit$/, 'second GET of the item: hit');
$etag = $r->{headers}{etag};
like($etag // '', qr/^"[^"]+"$/, 'the item has a strong ETag');

my %c0 = map { $_ => calls($_) } qw(item user page);
my $a0 = all_calls();

# N GETs: half on new connections (both workers), half on one keep-alive.
my ($hits, $ok, $same) = (0, 0, 0);
my $conn = StarterTest::Conn->new($srv);
for my $i (1 .. $N) {
	$r = $i % 2 ? request($srv, 'GET', $ITEM, @AUTH)
	    : $conn->request('GET', $ITEM, @AUTH);
	$ok++ if $r->{status} == 200;
	$hits++ if cs($r) =~ /^starterd; hit$/;
	$same++ if ($r->{headers}{etag} // '') eq $etag;
}
is($ok, $N, "$N GETs of the warmed item: all 200");
is($hits, $N, "$N GETs of the warmed item: all Cache-Status hit");
is($same, $N, "$N GETs of the warmed item: all with the same ETag");
is(calls('item') - $c0{item}, 0,
    "$N cache hits added 0 calls to the item statement");
is(calls('user') - $c0{user}, 0,
    "$N cache hits added 0 calls to the user lookup (credential cache)");

# Conditional GETs: 304 straight from the cache.
my ($n304, $chits) = (0, 0);
for my $i (1 .. 10) {
	$r = $conn->request('GET', $ITEM, @AUTH,
	    headers => {'If-None-Match' => $etag});
	$n304++ if $r->{status} == 304 && !length $r->{body};
	$chits++ if cs($r) =~ /^starterd; hit$/
	    && ($r->{headers}{etag} // '') eq $etag
	    && ($r->{headers}{'cache-control'} // '') =~ /\bprivate\b/;
}
is($n304, 10, 'If-None-Match with the current ETag: 304, no body (10x)');
is($chits, 10, '304: Cache-Status hit, ETag and Cache-Control repeated');
is(calls('item') - $c0{item}, 0, '304s added 0 calls to the item statement');

# The collection page, likewise.
my $chit = 0;
for (1 .. 10) {
	$r = $conn->request('GET', $COLL, @AUTH);
	$chit++ if $r->{status} == 200 && cs($r) =~ /^starterd; hit$/;
}
is($chit, 10, 'collection page: 10 GETs, all hits');
is(calls('page') - $c0{page}, 0,
    'collection hits added 0 calls to the page statement');
is(all_calls() - $a0, 0,
    'no statement at all ran for the hits (every statement counted)');

# A write invalidates: the next GET is a miss and runs the statement once.
$r = request($srv, 'PUT', $ITEM, @AUTH,
    headers => {'Content-Type' => 'application/json'},
    body => '{"pxcode":"039","procedure":"CHANGED"}');
is($r->{status}, 200, 'PUT the item: 200') or diag(explain_response($r));
my $c1 = calls('item');
$r = $conn->request('GET', $ITEM, @AUTH);
like(cs($r), qr/^starterd; fwd=miss; stored$/, 'GET after the PUT: a miss');
is($r->{json}{procedure}, 'CHANGED', 'GET after the PUT: the new value');
is(calls('item') - $c1, 1, 'the miss ran the item statement once');
# The PUT's own NOTIFY reaches the workers asynchronously: it may land
# after that miss stored its entry and invalidate it once more (an extra
# miss, never a stale answer).  So: a hit within a few GETs, and a hit
# runs no statement.
my ($hit, $tries) = (0, 0);
while (!$hit && $tries < 5) {
	$tries++;
	my $c2 = calls('item');
	$r = $conn->request('GET', $ITEM, @AUTH);
	if (cs($r) =~ /^starterd; hit$/) {
		$hit = 1;
		is(calls('item') - $c2, 0, 'a hit after the PUT ran no statement');
	}
	select(undef, undef, undef, 0.05) unless $hit;
}
ok($hit, "and a later GET is a hit again ($tries tries)");
$conn->close;
$srv->stop;

# ---- response cache off (-C 0) ---------------------------------------------------

my $off = StarterTest::Server->new(pg => $pg, workers => 2,
    args => ['-C', '0']);
$r = request($off, 'GET', $ITEM, @AUTH);
is($r->{status}, 200, '-C 0: GET 200');
unlike(cs($r), qr/\bhit\b/, '-C 0: Cache-Status is not a hit');
diag('-C 0 Cache-Status: ' . cs($r));
$etag = $r->{headers}{etag};

$c0{item} = calls('item');
($ok, $hits) = (0, 0);
$conn = StarterTest::Conn->new($off);
for my $i (1 .. $N) {
	$r = $i % 2 ? request($off, 'GET', $ITEM, @AUTH)
	    : $conn->request('GET', $ITEM, @AUTH);
	$ok++ if $r->{status} == 200;
	$hits++ if cs($r) =~ /\bhit\b/;
}
is($ok, $N, "-C 0: $N GETs all 200");
is($hits, 0, "-C 0: none is a cache hit");
is(calls('item') - $c0{item}, $N,
    "-C 0: $N GETs added exactly $N calls to the item statement");

$c0{item} = calls('item');
$r = $conn->request('GET', $ITEM, @AUTH,
    headers => {'If-None-Match' => $etag});
is($r->{status}, 304, '-C 0: If-None-Match still gives 304');
is(calls('item') - $c0{item}, 1, '-C 0: but that 304 cost a statement');
$conn->close;

finish();
