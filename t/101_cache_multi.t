# 101_cache_multi: two starterd instances on different ports share one
# database.  A POST, PUT or DELETE acknowledged by one is seen through the
# other within 100 ms although the other had the item and the collection
# cached (it learns of the change only by NOTIFY), and both instances give
# the same ETag for the same bytes (issue 3, acceptance 2).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);

my $LIMIT = 0.100;
my $GIVE_UP = 2;
my $POLL = 0.005;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my %srv = (A => StarterTest::Server->new(pg => $pg, workers => 2),
    B => StarterTest::Server->new(pg => $pg, workers => 2));
isnt($srv{A}->port, $srv{B}->port, 'two instances on different ports');

my $BASE = '/api/v1.0/pxcodes/';
my $COLL = "$BASE?per_page=100&page=2";
# The same Host for both, so that the links (and so the bytes) are equal.
my $HOST = 'api.example.test:8080';
my @AUTH = (auth => 'admin:admin', host => $HOST);
my $JSON = JSON::PP->new->canonical;

# One keep-alive connection per (instance, purpose).
my %conn;

sub get
{
	my ($inst, $path, $tag) = @_;
	my $k = "$inst/" . ($tag // 'x');
	for (1 .. 2) {
		$conn{$k} //= StarterTest::Conn->new($srv{$inst});
		my $r = $conn{$k}->request('GET', $path, @AUTH, timeout => 5);
		return $r if $r->{status};
		$conn{$k}->close;
		delete $conn{$k};
	}
	return {status => 0, headers => {}, body => ''};
}

sub write_req
{
	my ($inst, $method, $path, $data, %h) = @_;
	return request($srv{$inst}, $method, $path, @AUTH, timeout => 10,
	    headers => {'Content-Type' => 'application/json', %h},
	    defined $data ? (body => $JSON->encode($data)) : ());
}

sub cs { return $_[0]{headers}{'cache-status'} // ''; }
sub total { return ($_[0]{json} // {})->{meta}{total} // -1; }

# GET on both until both are hits; returns (rA, rB).
sub warm_both
{
	my ($path, $tag) = @_;
	my %r;
	for my $i (qw(A B)) {
		for (1 .. 3) {
			$r{$i} = get($i, $path, $tag);
			last if cs($r{$i}) =~ /;\s*hit$/;
		}
	}
	return @r{qw(A B)};
}

my @delays;

# A write through $from must show through $to.  $item is the item path,
# $ipred / $cpred say whether an answer shows the change.
sub propagate
{
	my ($name, $from, $to, $write, $item, $ipred, $cpred, %o) = @_;

	my ($ia, $ib) = warm_both($item, 'item');
	my ($ca, $cb) = warm_both($COLL, 'coll');
	if ($o{item_cached}) {
		like(cs($ib), qr/^starterd; hit$/,
		    "$name: $item cached on $to before the write");
	}
	like(cs($cb), qr/^starterd; hit$/,
	    "$name: collection cached on $to before the write");
	ok(!$ipred->($ib) && !$cpred->($cb),
	    "$name: $to does not show the change yet");

	my $w = $write->();
	my $t0 = time;
	like($w->{status}, qr/^20[014]$/, "$name: write through $from "
	    . "acknowledged") or diag(explain_response($w));

	my %seen;
	while (time - $t0 < $GIVE_UP) {
		my $r = get($to, $item, 'item');
		$seen{item} //= time - $t0 if $ipred->($r);
		$r = get($to, $COLL, 'coll');
		$seen{coll} //= time - $t0 if $cpred->($r);
		last if $seen{item} && $seen{coll};
		sleep $POLL;
	}
	for my $k (qw(item coll)) {
		my $what = $k eq 'item' ? $item : 'the collection';
		ok(defined $seen{$k}, "$name: $to shows $what changed")
		    or next;
		cmp_ok($seen{$k}, '<', $LIMIT, sprintf("$name: $to shows "
		    . "$what changed within 100 ms (%.1f ms)",
		    1000 * $seen{$k}));
		push @delays, $seen{$k};
	}
	return $w;
}

# Same bytes on both instances, then the same ETag; hit or miss alike.
sub etags_agree
{
	my ($name, $path) = @_;
	my ($a, $b) = warm_both($path, 'etag');
	is($a->{status}, $b->{status}, "$name: same status on A and B");
	ok($a->{body} eq $b->{body}, "$name: same bytes on A and B");
	ok(defined $a->{headers}{etag}, "$name: ETag present");
	is($a->{headers}{etag}, $b->{headers}{etag},
	    "$name: same ETag on A and B");
	return $a->{headers}{etag};
}

my $rows = $pg->psql_rows('SELECT count(*) FROM starter_pxcodes');
my $n = $rows->[0][0];
is($n, 100, 'demo data: 100 rows');
# One more row, so that page 2 of 100 exists throughout (it then holds the
# codes posted below as well).
$pg->psql("INSERT INTO starter_pxcodes (pxcode, procedure) "
    . "VALUES ('FILL', 'FILLER')");
$n++;

for my $round (1 .. 4) {
	my ($from, $to) = $round % 2 ? qw(A B) : qw(B A);
	my $code = "M$round";
	my $path = "$BASE$code";

	# POST through one: the other sees the new item and the new total.
	my $before = $n;
	propagate("round $round POST", $from, $to,
	    sub { write_req($from, 'POST', $BASE,
	    {pxcode => $code, procedure => "POSTED $round"}) },
	    $path, sub { $_[0]{status} == 200 },
	    sub { total($_[0]) == $before + 1 });
	$n++;
	my $e1 = etags_agree("round $round after POST: $code", $path);
	etags_agree("round $round after POST: collection", $COLL);

	# PUT through one (with If-Match, as a careful client would).
	my $v = "PUT $round " . ('x' x $round);
	propagate("round $round PUT", $from, $to,
	    sub { write_req($from, 'PUT', $path,
	    {pxcode => $code, procedure => $v}, 'If-Match' => $e1) },
	    $path, sub { ($_[0]{json}{procedure} // '') eq $v },
	    sub { grep { $_->{pxcode} eq $code && $_->{procedure} eq $v }
	    @{($_[0]{json} // {})->{items} // []} }, item_cached => 1);
	my $e2 = etags_agree("round $round after PUT: $code", $path);
	isnt($e2, $e1, "round $round: the PUT changed the ETag");
	etags_agree("round $round after PUT: collection", $COLL);

	# DELETE through the other one this time.
	$before = $n;
	propagate("round $round DELETE", $to, $from,
	    sub { write_req($to, 'DELETE', $path, undef) },
	    $path, sub { $_[0]{status} == 404 },
	    sub { total($_[0]) == $before - 1 }, item_cached => 1);
	$n--;
	etags_agree("round $round after DELETE: collection", $COLL);
}

# A demo item, fetched first through A then through B: same ETag.
etags_agree('demo item 039', "${BASE}039");
etags_agree('collection page 1', "$BASE?per_page=10&page=1");

my @s = sort { $a <=> $b } @delays;
diag(sprintf('write through one instance -> visible through the other: '
    . 'median %.2f ms, max %.2f ms (n=%d)', 1000 * $s[$#s / 2],
    1000 * $s[-1], scalar @s));

$_->close for values %conn;
finish();
