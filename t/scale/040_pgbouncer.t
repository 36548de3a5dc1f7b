# 040_pgbouncer: starterd through PgBouncer in transaction mode (issue 14,
# acceptance 4): --dsn on PgBouncer with --prepare unnamed (transaction
# pooling has no protocol-level prepared statements: a named statement
# prepared on one server connection is missing on the next), LISTEN on a
# direct --listen-dsn.  Three workers share a pool of two server
# connections; mixed reads and writes on fresh connections all succeed, the
# traffic is seen in PgBouncer's SHOW STATS, the LISTEN connections are
# direct, and a change made with psql invalidates the cache through them.
#
# The API suite itself runs through PgBouncer with STARTERD_TEST_PGBOUNCER=1
# (t/lib/StarterTest.pm): `make check-scale` runs a part of it that way,
# `make check STARTERD_TEST_PGBOUNCER=1` all of it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use StarterTest;
use StarterCluster;
use JSON::PP;
use Test::More;

if (my @miss = StarterCluster::missing('pgbouncer')) {
	if (($ENV{STARTERD_TEST_SCALE} // '') eq 'require') {
		plan tests => 1;
		fail("not installed (STARTERD_TEST_SCALE=require): @miss");
		exit 1;
	}
	plan skip_all => "not installed: @miss";
}

my $BASE = '/api/v1.0/pxcodes/';
my @AUTH = (auth => 'admin:admin');
my $JSON = JSON::PP->new->canonical;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
$pg->start_pgbouncer(pool_size => 2) unless $pg->bouncer;
my $bport = $pg->bouncer->pgbouncer_port;
my $srv = StarterTest::Server->new(pg => $pg, workers => 3);
like(join(' ', $srv->argv), qr/--prepare unnamed/,
    'starterd runs with --prepare unnamed');
ok($srv->wait_workers_ready, 'every worker answers /readyz through '
    . 'PgBouncer');

# PgBouncer's console (the database pgbouncer): SHOW ... as hashes.
sub bouncer_show
{
	my ($what) = @_;
	my $r = run_cmd([$pg->_psql_bin, '-X', '-q', '-A', '-F', "\t",
	    '-h', '127.0.0.1', '-p', $bport, '-U', 'starter', '-d',
	    'pgbouncer', '-c', "SHOW $what"], timeout => 20);
	return [] if $r->{rc} != 0;
	my @l = grep { length && !/^\(\d+ rows?\)$/ } split /\n/, $r->{out};
	my @h = split /\t/, shift(@l) // '';
	return [map { my %x; @x{@h} = split /\t/, $_, -1; \%x } @l];
}

my ($st0) = grep { $_->{database} eq 'starter' } @{bouncer_show('STATS')};
my $x0 = $st0 ? $st0->{total_xact_count} : 0;

# --- mixed traffic on fresh connections -----------------------------------

my @codes = split /\n/, $pg->psql('SELECT pxcode FROM starter_pxcodes '
    . 'ORDER BY pxcode LIMIT 20');
my @bad;
my $n = 0;
for my $i (0 .. 59) {
	my $code = $codes[$i % @codes];
	my $new = sprintf 'B%04d', $i;
	my @steps = (
	    ['GET', "$BASE$code", 200],
	    ['GET', "$BASE?per_page=5&page=" . ($i % 4 + 1), 200],
	    ['POST', $BASE, 201, {pxcode => $new, procedure => "NEW $i"}],
	    ['PUT', "$BASE$new", 200, {procedure => "PUT $i"}],
	    ['GET', "$BASE$new", 200],
	    ['DELETE', "$BASE$new", 204],
	);
	for my $s (@steps) {
		my ($m, $path, $want, $body) = @$s;
		my $r = request($srv, $m, $path, @AUTH, $body ? (body =>
		    $JSON->encode($body), headers => {'Content-Type' =>
		    'application/json'}) : ());
		$n++;
		push @bad, "$m $path: $r->{status}, wanted $want: "
		    . substr($r->{body} // '', 0, 200)
		    unless $r->{status} == $want;
		if ($m eq 'GET' && $path eq "$BASE$new" && $r->{status} == 200) {
			my $p = ref $r->{json} eq 'HASH'
			    ? $r->{json}{procedure} // '' : '';
			push @bad, "GET $path: '$p' after PUT $i"
			    unless $p eq "PUT $i";
		}
	}
}
is(scalar @bad, 0, "$n mixed requests through PgBouncer answered as "
    . 'expected') or diag(join "\n", @bad[0 .. ($#bad > 9 ? 9 : $#bad)]);

my ($st1) = grep { $_->{database} eq 'starter' } @{bouncer_show('STATS')};
my $dx = ($st1 ? $st1->{total_xact_count} : 0) - $x0;
cmp_ok($dx, '>=', 60, "PgBouncer counted the transactions ($dx)");
my ($pool) = grep { $_->{database} eq 'starter' } @{bouncer_show('POOLS')};
is($pool ? $pool->{pool_mode} : '', 'transaction',
    'the pool is in transaction mode');
my @servers = grep { $_->{database} eq 'starter' }
    @{bouncer_show('SERVERS')};
cmp_ok(scalar @servers, '<=', 2, 'at most two server connections for '
    . scalar(@servers) . ' of them; three workers share them');

# LISTEN bypasses PgBouncer: each worker's listen link (its
# application_name says so) is a backend of its own, not in the pool.
my $listen = $pg->psql("SELECT count(*) FROM pg_stat_activity WHERE "
    . "application_name LIKE 'starterd worker % listen'");
cmp_ok($listen, '>=', 3, "every worker LISTENs on a direct connection "
    . "($listen)");

# --- NOTIFY through the direct connection ------------------------------------

my $code = $codes[0];
request($srv, 'GET', "$BASE$code", @AUTH) for 1 .. 6;
$pg->psql("UPDATE starter_pxcodes SET procedure = 'BEHIND THE BACK' "
    . "WHERE pxcode = '$code'");
my $got = '';
ok(wait_until(sub {
	# Six GETs on fresh connections: every worker is asked.
	for (1 .. 6) {
		my $r = request($srv, 'GET', "$BASE$code", @AUTH);
		$got = ref $r->{json} eq 'HASH' ? $r->{json}{procedure} : '';
		return 0 unless $got eq 'BEHIND THE BACK';
	}
	1;
}, timeout => 5), 'a change made with psql invalidates the cache through '
    . 'LISTEN') or diag("still '$got'");

StarterTest::finish();
