# 106_refill: after an invalidation, the clients that miss the same entry
# while its refill is in flight wait for that one refill (issue 11,
# acceptance 4: one count and one page after a write to a big table, not
# one per waiting client).  The refill is held back by a lock on the
# table, twelve clients ask meanwhile, pg_stat_statements counts the
# statements that ran: one refill's worth, whatever the number of clients;
# all twelve get the same 200 (one miss that stored, eleven hits).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use Time::HiRes qw(sleep);

my $N = 12;

my $pg = StarterTest::Pg->new_with_stats;

my @AUTH = (auth => 'admin:admin');
my $BASE = '/api/v1.0/pxcodes/';

# The statements that read starter_pxcodes, run by anyone but this test.
sub reads
{
	return $pg->calls(q{query ILIKE '%starter_pxcodes%' AND
	    query !~* '^\s*(LOCK|UPDATE|INSERT|DELETE)' AND
	    query NOT ILIKE '%pg_stat_statements%'});
}

sub cs { return $_[0]{headers}{'cache-status'} // ''; }

my $srv = StarterTest::Server->new(pg => $pg, workers => 1);

my $n = 0;
for my $case (['the seed page', "$BASE?page=1&per_page=100", 1],
    ['a sorted query page with its exact count',
     "$BASE?sort=-procedure&per_page=20", 2],
    ['an item', "${BASE}039", 1]) {
	my ($name, $url, $stmts) = @$case;
	# Warm it, then invalidate it with a write to another row.
	my $r = request($srv, 'GET', $url, @AUTH);
	is($r->{status}, 200, "$name: warm GET 200")
	    or diag(explain_response($r));
	$n++;
	$r = request($srv, 'PUT', "${BASE}057", @AUTH,
	    headers => {'Content-Type' => 'application/json'},
	    body => qq({"pxcode":"057","procedure":"CHANGED $n"}));
	is($r->{status}, 200, "$name: a PUT invalidates the table")
	    or diag(explain_response($r));

	# Hold every read back: the refill waits on the lock.
	my $ses = $pg->session;
	ok(defined $ses->do('BEGIN; LOCK TABLE starter_pxcodes IN ACCESS '
	    . 'EXCLUSIVE MODE;'), "$name: the table locked");
	my $before = reads();
	my @conns = map { StarterTest::Conn->new($srv) } 1 .. $N;
	$_->send(StarterTest::build_request('GET', $url, port => $srv->port,
	    @AUTH)) for @conns;
	sleep 0.5;	# every request in and waiting (not a condition below)
	ok(defined $ses->do('COMMIT;'), "$name: the lock released");
	my @r = map { $_->read_response(method => 'GET', timeout => 20) }
	    @conns;
	my @ok = grep { $_ && $_->{status} == 200 } @r;
	is(scalar @ok, $N, "$name: $N clients, $N answers 200");
	my %bodies = map { $_->{body} => 1 } @ok;
	is(scalar keys %bodies, 1, "$name: all the same bytes");
	my %etags = map { ($_->{headers}{etag} // '') => 1 } @ok;
	is(scalar keys %etags, 1, "$name: all the same ETag");
	is(scalar(grep { cs($_) eq 'starterd; fwd=miss; stored' } @ok), 1,
	    "$name: one miss that stored")
	    or diag(join("\n", map { cs($_) } @ok));
	is(scalar(grep { cs($_) eq 'starterd; hit' } @ok), $N - 1,
	    "$name: the others answered from what it stored");
	is(reads() - $before, $stmts, "$name: $stmts statement(s) ran for "
	    . "$N clients");
	$ses->close;
	$_->close for @conns;
	if ($url =~ /039$/) {
		is($ok[0]{json}{pxcode}, '039', "$name: the right row");
	} else {
		like($ok[0]{body}, qr/"CHANGED $n"/,
		    "$name: the refill holds the write");
	}
}

# The same without the cache: each client runs its own statements.
my $nc = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['-C', '0']);
my $url = "$BASE?page=1&per_page=100";
my $r = request($nc, 'GET', $url, @AUTH);
is($r->{status}, 200, 'cache off: GET 200');
my $ses = $pg->session;
ok(defined $ses->do('BEGIN; LOCK TABLE starter_pxcodes IN ACCESS '
    . 'EXCLUSIVE MODE;'), 'cache off: the table locked');
my $before = reads();
my @conns = map { StarterTest::Conn->new($nc) } 1 .. 4;
$_->send(StarterTest::build_request('GET', $url, port => $nc->port, @AUTH))
    for @conns;
sleep 0.5;
ok(defined $ses->do('COMMIT;'), 'cache off: the lock released');
my @ok = grep { $_ && $_->{status} == 200 }
    map { $_->read_response(method => 'GET', timeout => 20) } @conns;
is(scalar @ok, 4, 'cache off: 4 answers 200');
is(reads() - $before, 4, 'cache off: 4 statements for 4 clients (nothing '
    . 'is shared without the cache)');
$ses->close;

StarterTest::finish();
