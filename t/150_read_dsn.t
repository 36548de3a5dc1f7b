# 150_read_dsn: --read-dsn against a real streaming replica (pg_basebackup
# of a private primary, both on unix sockets in a temporary directory).
# Reads go to the replica (with its replay paused, a change made on the
# primary is not seen by a plain GET); every write answers with
# X-Starterd-LSN and the starterd_lsn cookie; a read carrying either is
# answered with the write, however far the replica lags; a malformed
# header is 400 naming it, a malformed cookie is ignored; with the replica
# stopped reads are answered by the primary (never 503), and they move
# back to the replica once it is up again.  Then failover: a write that
# reaches a read-only server is 503 and drops the connection; with a
# multi-host --dsn (target_session_attrs=read-write), the primary killed
# and the standby promoted, writes get only 200 or 503 and are served
# again by the new primary, whose NOTIFY invalidates the cache.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $sb = $pg->standby;
is($sb->psql('SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
ok($sb->wait_caught_up, 'the standby has the demo rows');

my $srv = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['--read-dsn', $sb->dsn, '-C', '8M']);
my $BASE = '/api/v1.0/pxcodes/';
my @AUTH = (auth => 'admin:admin');
my $JSON = JSON::PP->new->canonical;
my $LSN_RE = qr{^[0-9A-F]{1,8}/[0-9A-F]{1,8}$};

sub get_item
{
	my ($code, @h) = @_;
	return request($srv, 'GET', "$BASE$code", @AUTH, headers => [@h]);
}

sub procedure_of
{
	my ($r) = @_;
	return undef unless $r->{status} == 200;
	my $d = eval { decode_json($r->{body}) } or return undef;
	return $d->{procedure};
}

sub patch
{
	my ($code, $proc) = @_;
	return request($srv, 'PATCH', "$BASE$code", @AUTH,
	    headers => ['Content-Type' => 'application/json'],
	    body => $JSON->encode({procedure => $proc}));
}

my @codes = split /\n/, $pg->psql('SELECT pxcode FROM starter_pxcodes '
    . 'ORDER BY pxcode LIMIT 30');
my ($A, $B, $C) = @codes[0 .. 2];	# the rows this test changes
my $orig = procedure_of(get_item($A));
ok(defined $orig, 'GET through the replica: 200');

# --- reads go to the replica ------------------------------------------------
$sb->pause_replay;
$pg->psql("UPDATE starter_pxcodes SET procedure = 'ON PRIMARY ONLY' "
    . "WHERE pxcode = '$A'");
is($pg->psql("SELECT procedure FROM starter_pxcodes WHERE pxcode = '$A'"),
    'ON PRIMARY ONLY', 'the primary has the change');
# The NOTIFY invalidated the cache; the replica still has the old row.
my $seen;
ok(wait_until(sub {
	$seen = procedure_of(get_item($A));
	defined $seen && $seen eq $orig
}, timeout => 5), 'a plain GET is answered by the lagging replica')
    or diag("got " . ($seen // 'undef'));

# --- a write answers with its position --------------------------------------
my $w = patch($B, 'WRITTEN VIA STARTERD');
is($w->{status}, 200, 'PATCH: 200') or diag(explain_response($w));
my $lsn = $w->{headers}{'x-starterd-lsn'} // '';
like($lsn, $LSN_RE, "PATCH: X-Starterd-LSN $lsn");
is($w->{headers}{'set-cookie'} // '',
    "starterd_lsn=$lsn; Path=/; Max-Age=60; HttpOnly; SameSite=Lax",
    'PATCH: the starterd_lsn cookie');
is(procedure_of($w), 'WRITTEN VIA STARTERD', 'PATCH: the item, as before');
my $d = request($srv, 'DELETE', "$BASE$C", @AUTH);
is($d->{status}, 204, 'DELETE: 204');
like($d->{headers}{'x-starterd-lsn'} // '', $LSN_RE,
    'DELETE: X-Starterd-LSN');
my $p = request($srv, 'POST', $BASE, @AUTH,
    headers => ['Content-Type' => 'application/json'],
    body => $JSON->encode({pxcode => 'R150', procedure => 'POSTED'}));
is($p->{status}, 201, 'POST: 201') or diag(explain_response($p));
my $plsn = $p->{headers}{'x-starterd-lsn'} // '';
like($plsn, $LSN_RE, 'POST: X-Starterd-LSN');
my $bad = request($srv, 'PATCH', "${BASE}nosuch", @AUTH,
    headers => ['Content-Type' => 'application/json'],
    body => '{"procedure":"x"}');
is($bad->{status}, 404, 'a write that changed nothing: 404');
ok(!defined $bad->{headers}{'x-starterd-lsn'}, '... without a position');

# --- read your writes while the replica lags --------------------------------
isnt(procedure_of(get_item($B)) // '', 'WRITTEN VIA STARTERD',
    'without the position: the lagging replica (old value)');
is(procedure_of(get_item($B, 'X-Starterd-LSN' => $lsn)),
    'WRITTEN VIA STARTERD', 'with X-Starterd-LSN: the write');
is(procedure_of(get_item($B, 'Cookie' => "theme=dark; starterd_lsn=$lsn")),
    'WRITTEN VIA STARTERD', 'with the cookie: the write');
is(get_item($C, 'X-Starterd-LSN' => $lsn)->{status}, 404,
    'the deleted item is gone for its writer');
is(get_item('R150', 'X-Starterd-LSN' => $plsn)->{status}, 200,
    'the posted item is there for its writer');
is(procedure_of(get_item($A, 'X-Starterd-LSN' => $lsn)), 'ON PRIMARY ONLY',
    'a later position sees earlier changes too');
{
	my $r = request($srv, 'GET', "$BASE?per_page=100",
	    @AUTH, headers => ['X-Starterd-LSN' => $lsn]);
	is($r->{status}, 200, 'collection with the position: 200');
	like($r->{body}, qr/WRITTEN VIA STARTERD/, '... has the write');
	$r = request($srv, 'GET', "$BASE?procedure=pre.WRITTEN",
	    @AUTH, headers => ['X-Starterd-LSN' => $lsn]);
	like($r->{body}, qr/WRITTEN VIA STARTERD/,
	    'query language with the position: the write');
}

# --- malformed positions ----------------------------------------------------
for my $v ('nonsense', '0/', '/1', '1/2/3', 'G/1', '123456789/1', '') {
	my $r = get_item($B, 'X-Starterd-LSN' => $v);
	is($r->{status}, 400, "X-Starterd-LSN '$v': 400");
	like($r->{body}, qr/X-Starterd-LSN/, '... naming the header');
	is($r->{headers}{'content-type'} // '', 'application/json',
	    '... as JSON');
}
{
	my $r = request($srv, 'GET', "$BASE?per_page=5", @AUTH,
	    headers => ['X-Starterd-LSN' => 'zz']);
	is($r->{status}, 400, 'collection: a malformed header is 400');
}
{
	my $r = get_item($B, 'Cookie' => 'starterd_lsn=garbage');
	is($r->{status}, 200, 'a malformed cookie is ignored');
}

# --- the replica catches up: reads with the position go back to it ---------
$sb->resume_replay;
ok($sb->wait_caught_up, 'the standby caught up');
ok(wait_until(sub {
	(procedure_of(get_item($B)) // '') eq 'WRITTEN VIA STARTERD'
}, timeout => 5), 'after resume a plain GET sees the write');

# --- the replica goes away: reads fall back to the primary ------------------
$sb->stop('immediate');
my ($n503, $wrong) = (0, 0);
for my $i (3 .. 22) {
	my $r = get_item($codes[$i]);
	$n503++ if $r->{status} == 503;
	$wrong++ if $r->{status} != 200;
}
is($n503, 0, 'replica stopped: no read got 503');
is($wrong, 0, 'replica stopped: every read 200 (from the primary)');
$w = patch($B, 'REPLICA DOWN');
is($w->{status}, 200, 'replica stopped: writes still work');
is(procedure_of(get_item($B)), 'REPLICA DOWN',
    'replica stopped: the primary answers reads');

# --- it comes back: reads move back to it -----------------------------------
$sb->start;
ok($sb->wait_caught_up, 'the standby is back and caught up');
$sb->pause_replay;
$pg->psql("UPDATE starter_pxcodes SET procedure = 'PRIMARY AGAIN' "
    . "WHERE pxcode = '$B'");
ok(wait_until(sub {
	(procedure_of(get_item($B)) // '') eq 'REPLICA DOWN'
}, timeout => 10), 'reads are answered by the replica again');
$sb->resume_replay;

$srv->stop;
unlike($srv->log_contents, qr/database error/, 'no database error logged');
ok($sb->wait_caught_up, 'the standby caught up again');

# --- a write that reaches a read-only server: 503, and a new connection ----
{
	my $ro = StarterTest::Server->new(dsn => $sb->dsn, workers => 1);
	my $r = request($ro, 'PATCH', "$BASE$B", @AUTH,
	    headers => ['Content-Type' => 'application/json'],
	    body => '{"procedure":"ON A STANDBY"}');
	is($r->{status}, 503, 'a write on a read-only server: 503, not 500');
	like($r->{headers}{'retry-after'} // '', qr/^\d+$/, '... with Retry-After');
	ok(wait_until(sub { $ro->log_contents =~ /connecting again/ },
	    timeout => 5), '... and the connection is dropped and made again');
	ok(wait_until(sub { request($ro, 'GET', "$BASE$B", @AUTH)->{status}
	    == 200 }, timeout => 5), 'reads work there again');
	$ro->stop;
}

# --- failover: a multi-host --dsn finds the promoted standby ---------------
{
	my $dsn = 'host=' . $pg->host . ',' . $sb->host . ' port=' . $pg->port
	    . ',' . $sb->port . ' user=starter dbname=starter '
	    . 'target_session_attrs=read-write';
	my $fo = StarterTest::Server->new(dsn => $dsn, workers => 1,
	    args => ['-C', '8M']);
	my $r = request($fo, 'PATCH', "$BASE$B", @AUTH,
	    headers => ['Content-Type' => 'application/json'],
	    body => '{"procedure":"BEFORE FAILOVER"}');
	is($r->{status}, 200, 'multi-host --dsn: the write goes to the primary');
	ok($sb->wait_caught_up, 'the standby has it');
	# The primary dies; half a second later the standby is promoted
	# (by a child), while writes keep coming.
	$pg->stop('immediate');
	my $kid = fork // die "fork: $!";
	if ($kid == 0) {
		sleep 0.5;
		my $pr = $sb->_pg_ctl('-w', '-t', '30', 'promote');
		POSIX::_exit($pr->{rc} == 0 ? 0 : 1);
	}
	my (%seen, $t_back, $slow, $t_promote, $promoted);
	my $deadline = time + 20;
	while (time < $deadline) {
		if (!defined $t_promote && waitpid($kid, POSIX::WNOHANG()) == $kid) {
			$t_promote = time;
			$promoted = $? == 0;
		}
		my $t0 = time;
		$r = request($fo, 'PATCH', "$BASE$B", @AUTH,
		    headers => ['Content-Type' => 'application/json'],
		    body => '{"procedure":"AFTER FAILOVER"}', timeout => 10);
		$slow++ if time - $t0 > 10;
		$seen{$r->{status}}++;
		if ($r->{status} == 200 && defined $t_promote) {
			$t_back = time;
			last;
		}
		ok(0, 'a failing write carries Retry-After')
		    if $r->{status} == 503 && !$r->{headers}{'retry-after'};
		sleep 0.05;
	}
	ok($promoted, 'the standby was promoted');
	ok(defined $t_back, 'writes are served by the promoted standby');
	note(sprintf('service back %.2f s after the promotion (statuses: %s)',
	    ($t_back // time) - $t_promote,
	    join(', ', map { "$_ x$seen{$_}" } sort keys %seen)));
	is(join(',', grep { $_ != 200 && $_ != 503 } keys %seen), '',
	    'during the failover: only 200 and 503');
	ok(!$slow, 'no request took more than 10 s');
	is($sb->psql("SELECT procedure FROM starter_pxcodes WHERE pxcode = '$B'"),
	    'AFTER FAILOVER', 'the write is on the new primary');
	# NOTIFY-driven invalidation works again: LISTEN moved with it.
	ok(wait_until(sub { (request($fo, 'GET', "$BASE$B", @AUTH)->{headers}
	    {'cache-status'} // '') =~ /; hit/ }, timeout => 5),
	    'cached again after the failover');
	$sb->psql("UPDATE starter_pxcodes SET procedure = 'BEHIND ITS BACK' "
	    . "WHERE pxcode = '$B'");
	ok(wait_until(sub {
		my $r = request($fo, 'GET', "$BASE$B", @AUTH);
		(procedure_of($r) // '') eq 'BEHIND ITS BACK'
	}, timeout => 5), 'a change on the new primary invalidates the cache');
	$fo->stop;
}
finish();
