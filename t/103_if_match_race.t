# 103_if_match_race: two concurrent writes holding the same ETag: exactly
# one succeeds, the other gets 412 (issue 3, acceptance 4).  Both requests
# are written on two connections before either answer is read, so they are
# in flight together, on both workers when the kernel spreads them.
#
# A second series makes the overlap certain: a psql session holds the row
# locked (SELECT ... FOR UPDATE) while both PUTs are sent, waits until both
# workers' statements are blocked on that lock, then commits, so the two
# compare-and-set UPDATEs really run against each other in PostgreSQL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use IO::Select;
use IPC::Open2;
use JSON::PP;
use Time::HiRes qw(time sleep);

my $REPS = $ENV{RACE_REPS} // 100;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $srv = StarterTest::Server->new(pg => $pg, workers => 2);

my $BASE = '/api/v1.0/pxcodes/';
my $CODE = 'RACE';
my $ITEM = "$BASE$CODE";
my @AUTH = (auth => 'admin:admin');
my $JSON = JSON::PP->new->canonical;

# A psql session kept open (spawning psql for every check is slow).
my ($psql_out, $psql_in);
my $psql_pid = open2($psql_out, $psql_in, $pg->_psql_bin, '-X', '-q', '-At',
    '-v', 'ON_ERROR_STOP=1', '-h', $pg->host, '-p', $pg->port,
    '-U', 'starter', '-d', 'starter');
$psql_in->autoflush(1);
my ($psql_buf, $marker) = ('', 0);

END {
	local $?;	# keep the exit status of the test
	if ($psql_pid) {
		kill 'KILL', $psql_pid;
		waitpid($psql_pid, 0);
	}
}

# Run SQL, wait for it to complete, return its output (undef on timeout).
sub psql_do
{
	my ($sql) = @_;
	my $m = 'ACK_' . ++$marker;
	print $psql_in "$sql\n\\echo $m\n";
	my $sel = IO::Select->new($psql_out);
	my $deadline = time + 20;
	while (1) {
		if ($psql_buf =~ s/\A(.*?)^\Q$m\E\n//ms) {
			my $out = $1;
			chomp $out;
			return $out;
		}
		my $left = $deadline - time;
		return undef if $left <= 0;
		next unless $sel->can_read($left);
		my $n = sysread($psql_out, my $chunk, 65536);
		return undef unless $n;
		$psql_buf .= $chunk;
	}
}

sub db_value
{
	my $v = psql_do("SELECT coalesce(procedure, 'NULL') FROM "
	    . "starter_pxcodes WHERE pxcode = '$CODE';");
	return defined $v && length $v ? $v : undef;
}

sub current_etag
{
	my $r = request($srv, 'GET', $ITEM, @AUTH);
	return $r->{status} == 200 ? $r->{headers}{etag} : undef;
}

# Two keep-alive connections served by two different workers, each made
# with the others paused (StarterTest::Server::conn_to_worker).
my @pair;
my %pair_worker;

sub pair
{
	return @pair if @pair == 2 && !grep { $_->closed } @pair;
	$_->close for @pair;
	@pair = ();
	%pair_worker = ();
	my @w = $srv->worker_pids;
	return () unless @w >= 2;
	my $c1 = $srv->conn_to_worker($w[0]) // return ();
	my $c2 = $srv->conn_to_worker($w[1]) // do { $c1->close; return () };
	@pair = ($c1, $c2);
	%pair_worker = ($w[0] => $c1, $w[1] => $c2);
	return @pair;
}

# Two requests on the two connections, both sent before either is read.
# Each is [method, body-or-undef]; an optional code ref runs between
# sending and reading.  Returns the two responses.
sub race
{
	my ($etag, @reqs) = @_;
	my $between = ref $reqs[-1] eq 'CODE' ? pop @reqs : undef;
	my @c = pair();
	return map { {status => 0} } @reqs unless @c == 2;
	my @bytes = map {
		my ($m, $body) = @$_;
		StarterTest::build_request($m, $ITEM, @AUTH,
		    port => $srv->port,
		    headers => {'If-Match' => $etag,
		    defined $body ? ('Content-Type' => 'application/json')
		    : ()}, defined $body ? (body => $body) : ());
	} @reqs;
	$c[$_]->send($bytes[$_]) for 0 .. $#c;
	$between->() if $between;
	return map {
		$c[$_]->read_response(method => $reqs[$_][0], timeout => 10)
		    // {status => 0}
	} 0 .. $#c;
}

pair();
is(scalar keys %pair_worker, 2, 'two connections, served by two different '
    . 'workers') or diag('workers: ' . join(' ', $srv->worker_pids));

my $r = request($srv, 'POST', $BASE, @AUTH,
    headers => {'Content-Type' => 'application/json'},
    body => $JSON->encode({pxcode => $CODE, procedure => 'START'}));
is($r->{status}, 201, 'the contested item is created');

# ---- PUT against PUT -------------------------------------------------------------

my ($good, $wrong_value, $no_etag, %pairs) = (0, 0, 0);
for my $i (1 .. $REPS) {
	my $etag = current_etag();
	unless (defined $etag) { $no_etag++; next; }
	my @v = ("ONE $i", "TWO $i");
	my @r = race($etag, map { ['PUT', $JSON->encode({pxcode => $CODE,
	    procedure => $_})] } @v);
	my @st = map { $_->{status} } @r;
	$pairs{join '/', @st}++;
	my @won = grep { $st[$_] == 200 } 0 .. 1;
	my @lost = grep { $st[$_] == 412 } 0 .. 1;
	if (@won == 1 && @lost == 1) {
		$good++;
		# The winner's value is what the database holds.
		$wrong_value++ unless (db_value() // '') eq $v[$won[0]];
	} elsif ($i - $good <= 3) {
		diag("PUT race $i: " . join(' | ', map { explain_response($_) }
		    @r));
	}
}
is($no_etag, 0, 'PUT race: an ETag was available before every round');
is($good, $REPS, "PUT race: exactly one 200 and one 412 in all $REPS "
    . 'rounds') or diag('status pairs seen: ' . join(', ',
    map { "$_ x$pairs{$_}" } sort keys %pairs));
is($wrong_value, 0, 'PUT race: the database holds the winner\'s value '
    . 'every time');
diag('PUT race status pairs: ' . join(', ', map { "$_ x$pairs{$_}" }
    sort keys %pairs));

# The loser's 412 is the standard error; a stale ETag stays refused.
{
	my $etag = current_etag();
	my @r = race($etag, ['PUT', '{"pxcode":"RACE","procedure":"A"}'],
	    ['PUT', '{"pxcode":"RACE","procedure":"B"}']);
	my ($loser) = grep { $_->{status} == 412 } @r;
	ok($loser, 'one more race has a loser');
	check_error($loser, 412, 'the losing PUT') if $loser;
	$r = request($srv, 'PUT', $ITEM, @AUTH,
	    headers => {'If-Match' => $etag,
	    'Content-Type' => 'application/json'},
	    body => '{"pxcode":"RACE","procedure":"C"}');
	is($r->{status}, 412, 'PUT with the ETag both racers held: 412');
}

# ---- PUT against PUT, overlap forced in PostgreSQL --------------------------------

# Backends of this database waiting for a lock (the two UPDATEs).
sub lock_waiters
{
	return psql_do('SELECT pg_stat_clear_snapshot(); SELECT count(*) '
	    . "FROM pg_stat_activity WHERE datname = 'starter' "
	    . "AND wait_event_type = 'Lock';") // -1;
}

($good, $wrong_value, %pairs) = (0, 0);
my ($both_blocked, $commit_ok) = (0, 0);
for my $i (1 .. $REPS) {
	my $etag = current_etag();
	my @v = ("L1 $i", "L2 $i");
	my @r = race($etag // '"none"', (map { ['PUT',
	    $JSON->encode({pxcode => $CODE, procedure => $_})] } @v), sub {
		my $w = wait_until(sub { my $n = lock_waiters();
		    $n =~ /(\d+)$/ && $1 >= 2 }, timeout => 2,
		    interval => 0.002);
		$both_blocked++ if $w;
		$commit_ok++ if defined psql_do('COMMIT;');
	}) if defined psql_do('BEGIN; SELECT 1 FROM starter_pxcodes '
	    . "WHERE pxcode = '$CODE' FOR UPDATE;");
	my @st = map { $_->{status} } @r;
	$pairs{join '/', @st}++;
	my @won = grep { $st[$_] == 200 } 0 .. 1;
	my @lost = grep { $st[$_] == 412 } 0 .. 1;
	if (@won == 1 && @lost == 1) {
		$good++;
		$wrong_value++ unless (db_value() // '') eq $v[$won[0]];
	}
}
is($commit_ok, $REPS, 'locked race: the lock holder committed every round');
is($both_blocked, $REPS, 'locked race: both UPDATEs were blocked on the row '
    . 'lock together in every round');
is($good, $REPS, "locked race: exactly one 200 and one 412 in all $REPS "
    . 'rounds') or diag('status pairs seen: ' . join(', ',
    map { "$_ x$pairs{$_}" } sort keys %pairs));
is($wrong_value, 0, 'locked race: the database holds the winner\'s value');
diag('locked race status pairs: ' . join(', ', map { "$_ x$pairs{$_}" }
    sort keys %pairs));

# ---- PATCH against PATCH ---------------------------------------------------------

($good, %pairs) = (0);
for my $i (1 .. 30) {
	my $etag = current_etag();
	my @r = race($etag // '"none"', map { ['PATCH',
	    $JSON->encode({procedure => "P$_ $i"})] } 1 .. 2);
	my @st = map { $_->{status} } @r;
	$pairs{join '/', @st}++;
	$good++ if (grep { $_ == 200 } @st) == 1
	    && (grep { $_ == 412 } @st) == 1;
}
is($good, 30, 'PATCH race: exactly one 200 and one 412 in all 30 rounds')
    or diag('status pairs seen: ' . join(', ',
    map { "$_ x$pairs{$_}" } sort keys %pairs));

# ---- PUT against DELETE ----------------------------------------------------------

($good, %pairs) = (0);
my $deleted = 0;
for my $i (1 .. 30) {
	my $etag = current_etag();
	unless (defined $etag) {
		request($srv, 'POST', $BASE, @AUTH,
		    headers => {'Content-Type' => 'application/json'},
		    body => $JSON->encode({pxcode => $CODE,
		    procedure => "AGAIN $i"}));
		$etag = current_etag();
	}
	my @r = race($etag // '"none"',
	    ['PUT', $JSON->encode({pxcode => $CODE, procedure => "U $i"})],
	    ['DELETE', undef]);
	my @st = map { $_->{status} } @r;
	$pairs{join '/', @st}++;
	my $ok1 = ($st[0] == 200 && $st[1] == 412)
	    || ($st[0] == 412 && $st[1] =~ /^20[04]$/);
	$good++ if $ok1;
	$deleted++ if $ok1 && $st[1] != 412;
	# What the database holds agrees with who won.
	my $v = db_value();
	$good-- if $ok1 && ($st[0] == 200 ? ($v // '') ne "U $i"
	    : defined $v);
}
is($good, 30, 'PUT against DELETE: exactly one wins in all 30 rounds, and '
    . 'the database agrees') or diag('status pairs seen: ' . join(', ',
    map { "$_ x$pairs{$_}" } sort keys %pairs));
diag("PUT against DELETE: DELETE won $deleted of 30");

finish();
