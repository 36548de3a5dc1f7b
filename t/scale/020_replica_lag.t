# 020_replica_lag: read-your-writes with the replica's replay paused
# (pg_wal_replay_pause(); issue 14, acceptance 2).  Where reads go is seen
# on each node's pg_stat_statements (the calls of statements on
# starter_pxcodes): items never read before, so that no cache answers.
#
# Before the pause, reads go to the replica.  While it is paused, a write
# through one instance is read back through the others carrying its LSN
# (served by the primary: the replica has not replayed it), reads without
# the LSN may get the replica's older row but must not leave it in a cache:
# a read with the LSN still sees the write, and once replay resumes every
# instance shows the write (a stale entry kept would show the old row until
# the next change).  After the resume, reads go to the replica again.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
BEGIN { $ENV{STARTERD_TEST_TIMEOUT} //= 300; }
use StarterTest;
use StarterScale qw(procedure_of lsn_of);
use JSON::PP;
use Test::More;

my $BASE = '/api/v1.0/pxcodes/';
my @AUTH = (auth => 'admin:admin');
my $JSON = JSON::PP->new->canonical;

my $t = StarterScale::setup(instances => 3);
my @srv = @{$t->{srv}};
my $cl = $t->{cl};
my $primary = $cl->primary;
is($primary, 'pg1', 'pg1 is the primary');
my ($replica) = grep { $_ ne $primary } $cl->nodes;

my @codes = split /\n/, $cl->psql($primary,
    'SELECT pxcode FROM starter_pxcodes ORDER BY pxcode');
cmp_ok(scalar @codes, '>=', 60, 'enough demo items');

# Calls of the statements reading starter_pxcodes on a node so far.
sub reads_on
{
	my ($node) = @_;
	return $cl->psql($node, 'SELECT coalesce(sum(calls), 0) FROM '
	    . "pg_stat_statements WHERE query ILIKE '%starter_pxcodes%' "
	    . "AND query NOT ILIKE '%pg_stat_statements%' "
	    . "AND (query ILIKE 'select%' OR query ILIKE 'with%')");
}

# GET each code once through instance (k mod 3): each a cache miss.
# Returns (reads on the primary, reads on the replica) they caused.
sub fresh_reads
{
	my ($list, %o) = @_;
	my ($p0, $r0) = (reads_on($primary), reads_on($replica));
	my $k = 0;
	my @bad;
	for my $code (@$list) {
		my $r = request($srv[$k++ % 3], 'GET', "$BASE$code", @AUTH,
		    %o);
		push @bad, "$code: $r->{status}" unless $r->{status} == 200;
	}
	is(scalar @bad, 0, scalar(@$list) . ' fresh reads answered 200')
	    or diag(join "\n", @bad);
	return (reads_on($primary) - $p0, reads_on($replica) - $r0);
}

# --- before: reads go to the replica -------------------------------------------

my ($pr, $rr) = fresh_reads([@codes[0 .. 14]]);
note("before the pause: $pr reads on the primary, $rr on the replica");
cmp_ok($rr, '>=', 15, "before the pause, the 15 reads went to the replica "
    . "($rr there, $pr on the primary)");

# --- paused -----------------------------------------------------------------------

# A pause takes effect at the next WAL record replayed: until then the
# state is "pause requested".  So a little WAL from the primary, committed
# (the replica flushes it, synchronous_commit waits for no more).
$cl->psql($replica, 'SELECT pg_wal_replay_pause()');
$cl->psql($primary, 'CREATE TABLE IF NOT EXISTS scale_tick (n int)');
ok(wait_until(sub {
	$cl->psql($primary, 'INSERT INTO scale_tick VALUES (1)');
	$cl->psql($replica, 'SELECT pg_get_wal_replay_pause_state()')
	    eq 'paused';
}, timeout => 10, interval => 0.2), "$replica: replay paused");

my @hot = @codes[15 .. 19];
# Warm every instance's cache with the rows as they are.
for my $code (@hot) {
	request($_, 'GET', "$BASE$code", @AUTH) for @srv, @srv;
}

my (@ryw, @after, @wbad, @nolsn, %last, %lsn);
for my $round (1 .. 4) {
	for my $j (0 .. $#hot) {
		my $code = $hot[$j];
		my $w = ($round + $j) % 3;
		my $val = "LAG $round.$j";
		my $r = request($srv[$w], 'PUT', "$BASE$code", @AUTH,
		    body => $JSON->encode({procedure => $val}),
		    headers => {'Content-Type' => 'application/json'});
		push @wbad, "PUT $code via $w: $r->{status}"
		    unless $r->{status} == 200;
		my ($h, $c) = lsn_of($r);
		push @nolsn, "PUT $code via $w" unless defined $h;
		$h //= '0/0';
		$c //= $h;
		$last{$code} = $val;
		$lsn{$code} = $h;
		for my $i (grep { $_ != $w } 0 .. 2) {
			my $g = request($srv[$i], 'GET', "$BASE$code", @AUTH,
			    headers => {Cookie => "starterd_lsn=$c"});
			my $got = procedure_of($g) // "status $g->{status}";
			push @ryw, "$code via $i: '$got', wanted '$val'"
			    unless $got eq $val;
			# Without the LSN: the replica's row is allowed, but
			# it must not be kept for the next read.
			request($srv[$i], 'GET', "$BASE$code", @AUTH);
			$g = request($srv[$i], 'GET', "$BASE$code", @AUTH,
			    headers => {'X-Starterd-LSN' => $h});
			$got = procedure_of($g) // "status $g->{status}";
			push @after, "$code via $i: '$got', wanted '$val'"
			    unless $got eq $val;
		}
	}
}
is(scalar @wbad, 0, 'paused: 20 PUTs answered 200')
    or diag(join "\n", @wbad);
is(scalar @nolsn, 0, 'paused: every PUT carries X-Starterd-LSN')
    or diag(join "\n", @nolsn);
is(scalar @ryw, 0, 'paused: every read carrying the LSN sees the write')
    or diag(join "\n", @ryw);
is(scalar @after, 0, 'paused: a read without the LSN in between leaves no '
    . 'older entry for the next read with it') or diag(join "\n", @after);
is($cl->psql($replica, "SELECT procedure FROM starter_pxcodes WHERE pxcode "
    . "= '$hot[0]'") eq $last{$hot[0]} ? 'replayed' : 'behind', 'behind',
    "$replica is really behind (it has not replayed the writes)");

# Fresh reads carrying the newest LSN while paused: the primary serves them.
my $newest = (sort { lsn_cmp($a, $b) } values %lsn)[-1];
($pr, $rr) = fresh_reads([@codes[20 .. 29]],
    headers => {Cookie => "starterd_lsn=$newest"});
note("paused, with the LSN: $pr reads on the primary, $rr on the replica");
cmp_ok($pr, '>=', 10, 'paused: fresh reads carrying the LSN went to the '
    . "primary ($pr there, $rr on the replica)");

# --- resumed ------------------------------------------------------------------------

$cl->psql($replica, 'SELECT pg_wal_replay_resume()');
ok(eval { $cl->wait_replicas_caught_up(30) }, "$replica: replay resumed "
    . 'and caught up') or diag($@);

# No instance kept a row older than the last write: all converge.
my @stale;
ok(wait_until(sub {
	@stale = ();
	for my $code (@hot) {
		for my $i (0 .. 2) {
			my $got = procedure_of(request($srv[$i], 'GET',
			    "$BASE$code", @AUTH)) // '';
			push @stale, "$code via $i: '$got'"
			    unless $got eq $last{$code};
		}
	}
	!@stale;
}, timeout => 10, interval => 0.25), 'resumed: every instance shows the '
    . 'last write of each item, without the LSN') or diag(join "\n", @stale);

($pr, $rr) = fresh_reads([@codes[30 .. 44]]);
note("resumed: $pr reads on the primary, $rr on the replica");
cmp_ok($rr, '>=', 15, "resumed: reads went back to the replica ($rr "
    . "there, $pr on the primary)");
# A worker knows the replica's position from its own last read there (no
# round trip of its own): its first read after the resume may still go to
# the primary, the following ones go to the replica.
($pr, $rr) = fresh_reads([@codes[45 .. 59]],
    headers => {Cookie => "starterd_lsn=$newest"});
cmp_ok($rr, '>', $pr, 'resumed: reads carrying an LSN the replica has '
    . "replayed go to the replica ($rr there, $pr on the primary)");

sub lsn_cmp
{
	my ($x, $y) = map { my ($h, $l) = split m{/}, $_; [hex $h, hex $l] }
	    @_;
	return $x->[0] <=> $y->[0] || $x->[1] <=> $y->[1];
}

StarterTest::finish();
