# A stream of writes costs one position statement each, not two (issue 9,
# acceptance 4).  Each write is answered with its commit position
# (X-Starterd-LSN: SELECT pg_current_wal_insert_lsn() in the sync group
# after the commit).  The worker's primary link also LISTENs, and the
# NOTIFY of its own commit used to send a second position statement, the
# probe that tells the cache "every change before this position has been
# announced".  The commit position's answer comes after that NOTIFY, so it
# is that probe (db.c, db_covers): pg_stat_statements counts one per write,
# plus the idle probe at most once a second.  A NOTIFY with no position
# in flight (a change made by psql) still gets a probe of its own, and the
# cache drops what the change made stale.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $N = 30;

my $pg = StarterTest::Pg->new_with_stats;

my @AUTH = (auth => 'admin:admin');
my $BASE = '/api/v1.0/pxcodes/';

sub positions
{
	return $pg->calls(q{query = 'SELECT pg_current_wal_insert_lsn()'});
}

my $srv = StarterTest::Server->new(pg => $pg, workers => 1);
my $r = request($srv, 'GET', "${BASE}039", @AUTH);
is($r->{status}, 200, 'warm: GET 200') or diag(explain_response($r));
sleep 0.3;	# the first probe after LISTEN answered

my $before = positions();
my $t0 = time;
my $ok = 0;
my $lsn = 0;
for my $i (1 .. $N) {
	my $code = sprintf('W%03d', $i);
	$r = request($srv, 'POST', $BASE, @AUTH,
	    headers => {'Content-Type' => 'application/json'},
	    body => qq({"pxcode":"$code","procedure":"WRITE $i"}));
	$ok++ if $r->{status} == 201 &&
	    ($r->{headers}{'x-starterd-lsn'} // '') =~ m{^[0-9A-F]+/[0-9A-F]+$};
}
my $secs = time - $t0;
is($ok, $N, "$N POSTs: 201, each with its commit position");
sleep 0.2;
my $ran = positions() - $before;
# Through PgBouncer (STARTERD_TEST_PGBOUNCER=1) LISTEN has a direct link
# of its own (--listen-dsn): the commit positions are read on the pooled
# one and cannot cover that link's NOTIFYs, which keep a probe each.
my $pooled = ($ENV{STARTERD_TEST_PGBOUNCER} // '') eq '1';
my $bound = ($pooled ? 2 * $N : $N) + 2 + int($secs);
cmp_ok($ran, '>=', $N, "at least one position statement per write ($ran)");
cmp_ok($ran, '<=', $bound, ($pooled ? 'through PgBouncer, one probe '
    . 'per write on the listening link: ' : 'and no probe of its own per '
    . 'write: ') . "$ran for $N writes in " . sprintf('%.1f', $secs)
    . " s (at most $bound)");

# Every write reads back.
my $back = 0;
for my $i (1 .. $N) {
	$r = request($srv, 'GET', sprintf("${BASE}W%03d", $i), @AUTH);
	$back++ if $r->{status} == 200 && ($r->{json}{procedure} // '') eq
	    "WRITE $i";
}
is($back, $N, "the $N writes read back");

# A change from outside: its NOTIFY has no position in flight to ride on.
$r = request($srv, 'GET', "${BASE}039", @AUTH);
is($r->{status}, 200, 'the item cached again');
$before = positions();
$pg->psql(q{UPDATE starter_pxcodes SET procedure = 'FROM PSQL'
    WHERE pxcode = '039'});
my $seen = '';
for (1 .. 100) {
	$r = request($srv, 'GET', "${BASE}039", @AUTH);
	$seen = $r->{json}{procedure} // '';
	last if $seen eq 'FROM PSQL';
	sleep 0.05;
}
is($seen, 'FROM PSQL', 'a change by psql drops the cached item');
my $probed = 0;
for (1 .. 50) {
	last if ($probed = positions() - $before) >= 1;
	sleep 0.05;
}
cmp_ok($probed, '>=', 1, 'and its NOTIFY got a probe of its own');

StarterTest::finish();
