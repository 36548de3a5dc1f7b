# 010_read_your_writes: three instances behind HAProxy over a Patroni
# primary and its synchronous replica (issue 14, acceptance 1).  1,000
# write-then-read pairs: a PUT through instance A (in turn each of the
# three) is read back through the other two on the next request, carrying
# the write's LSN (the starterd_lsn cookie on one, the X-Starterd-LSN header
# on the other), then once more on each (by then a cache hit), then through
# HAProxy.  Every read must show the last acknowledged write; the cache-hit
# counters of every instance must have grown, so that hits were among the
# reads checked.  A token issued by one instance is accepted by the others.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
BEGIN { $ENV{STARTERD_TEST_TIMEOUT} //= 420; }
use StarterTest;
use StarterScale qw(metric procedure_of lsn_of);
use JSON::PP;
use Test::More;

my $PAIRS = $ENV{SCALE_PAIRS} // 1000;
my $BASE = '/api/v1.0/pxcodes/';
my @AUTH = (auth => 'admin:admin');
my $JSON = JSON::PP->new->canonical;

my $t = StarterScale::setup(instances => 3);
my @srv = @{$t->{srv}};
my $cl = $t->{cl};

# --- tokens: one key, every instance ------------------------------------------

{
	my $r = request($srv[0], 'GET', '/auth/request-token', @AUTH);
	is($r->{status}, 200, 'token issued by instance 0')
	    or diag(explain_response($r));
	my $tok = ref $r->{json} eq 'HASH' ? $r->{json}{token} : '';
	for my $i (1, 2) {
		my $g = request($srv[$i], 'GET', "${BASE}039",
		    headers => {Authorization => "Bearer $tok"});
		is($g->{status}, 200, "instance 0's token accepted by "
		    . "instance $i") or diag(explain_response($g));
	}
	my $g = request($t->{http}, 'GET', "${BASE}039",
	    headers => {Authorization => "Bearer $tok"});
	is($g->{status}, 200, "instance 0's token accepted through HAProxy");
}

# --- the pairs ------------------------------------------------------------------

# Ten items, warmed into every instance's cache, so that the reads after a
# write race the NOTIFY that invalidates them.
my @codes = split /\n/, $cl->psql('pg1', 'SELECT pxcode FROM starter_pxcodes '
    . 'ORDER BY pxcode LIMIT 10');
is(scalar @codes, 10, 'ten items to write');
my @conn = map { StarterTest::Conn->new($_) } @srv;
my $lb = StarterTest::Conn->new($t->{http});

# One request on a keep-alive connection, reopened when the server closed.
sub call
{
	my ($i, $method, $path, %o) = @_;
	my $c = $i eq 'lb' ? \$lb : \$conn[$i];
	my $r = $$c->request($method, $path, @AUTH, timeout => 10, %o);
	if (!$r || !$r->{status} || $$c->closed
	    || ($r->{headers}{connection} // '') =~ /close/i) {
		$$c->close;
		$$c = StarterTest::Conn->new($i eq 'lb' ? $t->{http}
		    : $srv[$i]);
		$r = $$c->request($method, $path, @AUTH, timeout => 10, %o)
		    if !$r || !$r->{status};
	}
	return $r;
}

for my $code (@codes) {
	for my $i (0 .. 2) {
		call($i, 'GET', "$BASE$code") for 1 .. 2;
	}
}
my @hits0 = map { metric($_, 'starterd_cache_hits_total') // 0 } @srv;

my (@bad, @nolsn, @badwrite);
my $reads = 0;
for my $p (0 .. $PAIRS - 1) {
	my $code = $codes[$p % @codes];
	my $w = $p % 3;
	my @rd = grep { $_ != $w } 0 .. 2;
	my $val = "RYW $p";
	my $r = call($w, 'PUT', "$BASE$code",
	    body => $JSON->encode({procedure => $val}),
	    headers => {'Content-Type' => 'application/json'});
	if ($r->{status} != 200) {
		push @badwrite, "pair $p: PUT via $w: $r->{status}";
		next;
	}
	my ($lsn, $cookie) = lsn_of($r);
	if (!defined $lsn || !defined $cookie) {
		push @nolsn, "pair $p: X-Starterd-LSN "
		    . ($lsn // 'missing') . ', cookie starterd_lsn '
		    . ($cookie // 'missing');
		$lsn //= '0/0';
		$cookie //= $lsn;
	}
	my @how = ([$rd[0], headers => {Cookie => "starterd_lsn=$cookie"}],
	    [$rd[1], headers => {'X-Starterd-LSN' => $lsn}],
	    [$rd[0], headers => {Cookie => "starterd_lsn=$cookie"}],
	    [$rd[1], headers => {'X-Starterd-LSN' => $lsn}],
	    ['lb', headers => {Cookie => "starterd_lsn=$cookie"}]);
	for my $h (@how) {
		my ($i, @o) = @$h;
		my $g = call($i, 'GET', "$BASE$code", @o);
		$reads++;
		my $got = procedure_of($g);
		push @bad, "pair $p: written via $w, read via $i: "
		    . (defined $got ? "'$got'" : "status $g->{status}")
		    . ", expected '$val'"
		    unless defined $got && $got eq $val;
	}
}
is(scalar @badwrite, 0, "$PAIRS PUTs acknowledged with 200")
    or diag(join "\n", @badwrite[0 .. ($#badwrite > 9 ? 9 : $#badwrite)]);
is(scalar @nolsn, 0, 'every write carries X-Starterd-LSN and the '
    . 'starterd_lsn cookie') or diag(join "\n", @nolsn[0 .. 4]);
is(scalar @bad, 0, "$reads reads after the writes all show the last "
    . 'acknowledged write') or diag(join "\n",
    @bad[0 .. ($#bad > 19 ? 19 : $#bad)]);

my @hits1 = map { metric($_, 'starterd_cache_hits_total') // 0 } @srv;
for my $i (0 .. 2) {
	my $d = $hits1[$i] - $hits0[$i];
	cmp_ok($d, '>', 0, "instance $i: cache hits among the reads ($d)");
}

# The rows as committed on the primary and as replayed by the replica.
my %want;
$want{$codes[$_ % @codes]} = "RYW $_" for 0 .. $PAIRS - 1;
my $in = join ',', map { "'$_'" } @codes;
for my $node (qw(pg1 pg2)) {
	my %got = map { split /\|/, $_, 2 } split /\n/, $cl->psql($node,
	    "SELECT pxcode, procedure FROM starter_pxcodes WHERE pxcode IN "
	    . "($in)");
	is_deeply(\%got, \%want, "$node holds the last write of each item")
	    if $node eq 'pg1' || $cl->wait_replicas_caught_up;
}

$_->close for @conn, $lb;
StarterTest::finish();
