# 151_lsn_cache: the response cache stays coherent with a lagging replica
# and across instances (issue 14), against a real primary and streaming
# standby.
#
# (a) A fill from a lagging replica never puts back what a NOTIFY
#     invalidated: with the standby's replay paused, a change made on the
#     primary invalidates a cached item and page; the replica's (old)
#     answers are then never stored (no cache hit however often they are
#     asked), and once replay resumes the new value is served and cached.
#     Were the old answer stored under the version after the bump, it
#     would be served as current for good.
# (b) A read carrying a position is not answered from a cache that has
#     not heard of every change up to it: instance B's listening
#     connection goes through a relay that the test freezes, so B keeps
#     serving its cached item to plain reads after instance A changed it,
#     but a read with A's X-Starterd-LSN gets the change; once the relay
#     thaws B hears the NOTIFY and serves the new value from its cache to
#     both.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use StarterProxy;
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $sb = $pg->standby;
ok($sb->wait_caught_up, 'the standby has the demo rows');

my $BASE = '/api/v1.0/pxcodes/';
my @AUTH = (auth => 'admin:admin');
my @codes = split /\n/, $pg->psql('SELECT pxcode FROM starter_pxcodes '
    . 'ORDER BY pxcode LIMIT 10');
my ($X, $Y) = @codes[0, 1];
my $PAGE = "$BASE?per_page=5&page=1";	# $X is on it

sub get
{
	my ($srv, $path, @h) = @_;
	return request($srv, 'GET', $path, @AUTH, headers => [@h]);
}

sub hit { return ($_[0]{headers}{'cache-status'} // '') =~ /; hit\b/; }

sub procedure_of
{
	my ($r) = @_;
	return undef unless $r->{status} == 200;
	my $d = eval { decode_json($r->{body}) } or return undef;
	return $d->{procedure};
}

# --- (a) -------------------------------------------------------------------
{
	my $srv = StarterTest::Server->new(pg => $pg, workers => 2,
	    args => ['--read-dsn', $sb->dsn, '-C', '8M']);
	my $old = procedure_of(get($srv, "$BASE$X"));
	ok(defined $old, "(a) $X: 200");
	ok(wait_until(sub { hit(get($srv, "$BASE$X")) && hit(get($srv, $PAGE)) },
	    timeout => 5), '(a) the item and the page are cache hits');

	$sb->pause_replay;
	$pg->psql("UPDATE starter_pxcodes SET procedure = 'NEW IN A' "
	    . "WHERE pxcode = '$X'");
	ok(wait_until(sub { !hit(get($srv, "$BASE$X")) }, timeout => 5),
	    '(a) the NOTIFY invalidated the item');
	my ($hits, $stale, $n) = (0, 0, 0);
	for (1 .. 30) {
		for my $p ("$BASE$X", $PAGE) {
			my $r = get($srv, $p);
			$n++;
			$hits++ if hit($r);
			$stale++ if $r->{status} == 200 &&
			    index($r->{body}, $old) >= 0 && hit($r);
		}
	}
	is($hits, 0, "(a) $n reads answered by the lagging replica: none "
	    . 'from the cache (its old answers were not stored)');
	is(get($srv, "$BASE$X")->{headers}{'cache-status'} // '',
	    'starterd; fwd=miss', '(a) Cache-Status says: not stored');
	is($stale, 0, '(a) no stale cache hit');
	like(get($srv, "$BASE$X")->{body}, qr/\Q$old\E/,
	    '(a) the replica still answers with the old value');

	$sb->resume_replay;
	ok($sb->wait_caught_up, '(a) replay resumed, caught up');
	ok(wait_until(sub {
		(procedure_of(get($srv, "$BASE$X")) // '') eq 'NEW IN A'
	}, timeout => 5), '(a) the new value is served');
	ok(wait_until(sub {
		my $r = get($srv, "$BASE$X");
		hit($r) && procedure_of($r) eq 'NEW IN A'
	}, timeout => 5), '(a) and cached again');
	ok(wait_until(sub {
		my $r = get($srv, $PAGE);
		hit($r) && index($r->{body}, 'NEW IN A') >= 0
	}, timeout => 5), '(a) the page too');
	my $back = 0;
	for (1 .. 20) {
		$back++ if index(get($srv, "$BASE$X")->{body}, $old) >= 0;
	}
	is($back, 0, '(a) the old value never comes back');
	$srv->stop;
}

# --- (b) -------------------------------------------------------------------
{
	my $px = StarterProxy->new(to => $pg->port);
	my $a = StarterTest::Server->new(pg => $pg, workers => 1,
	    args => ['-C', '8M']);
	my $b = StarterTest::Server->new(pg => $pg, workers => 1,
	    args => ['-C', '8M', '--read-dsn', $sb->dsn, '--listen-dsn',
	    'host=127.0.0.1 port=' . $px->port . ' user=starter '
	    . 'dbname=starter']);
	my $old = procedure_of(get($b, "$BASE$Y"));
	ok(wait_until(sub { hit(get($b, "$BASE$Y")) }, timeout => 5),
	    '(b) B caches the item');

	$px->freeze;
	my $w = request($a, 'PATCH', "$BASE$Y", @AUTH,
	    headers => ['Content-Type' => 'application/json'],
	    body => '{"procedure":"WRITTEN ON A"}');
	is($w->{status}, 200, '(b) PATCH through A');
	my $lsn = $w->{headers}{'x-starterd-lsn'} // '';
	like($lsn, qr{^[0-9A-F]+/[0-9A-F]+$}, "(b) A's position $lsn");
	sleep 0.3;		# B would have heard by now, but for the relay
	my $r = get($b, "$BASE$Y");
	ok(hit($r) && procedure_of($r) eq $old,
	    '(b) B has not heard: a plain read is its cached old value');
	for my $h (['X-Starterd-LSN' => $lsn],
	    ['Cookie' => "starterd_lsn=$lsn"]) {
		$r = get($b, "$BASE$Y", @$h);
		is(procedure_of($r), 'WRITTEN ON A',
		    "(b) with $h->[0]: A's write, on B");
		ok(!hit($r), '(b) ... not from the cache');
	}
	$r = get($b, $BASE . '?per_page=100', 'X-Starterd-LSN' => $lsn);
	like($r->{body}, qr/WRITTEN ON A/, '(b) the page too');

	$px->thaw;
	# Some WAL after the write, so that B's next position is past it.
	$pg->psql("UPDATE starter_pxcodes SET procedure = procedure "
	    . "WHERE pxcode = '$codes[5]'");
	ok(wait_until(sub {
		(procedure_of(get($b, "$BASE$Y")) // '') eq 'WRITTEN ON A'
	}, timeout => 5), '(b) thawed: B heard the NOTIFY');
	ok(wait_until(sub {
		my $r = get($b, "$BASE$Y", 'X-Starterd-LSN' => $lsn);
		hit($r) && procedure_of($r) eq 'WRITTEN ON A'
	}, timeout => 5), '(b) and serves reads with the position from its '
	    . 'cache again');
	$a->stop;
	$b->stop;
	$px->stop;
}

finish();
