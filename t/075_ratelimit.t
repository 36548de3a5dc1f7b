# 075_ratelimit: --rate-limit N/SECS counted in shared memory across
# workers, X-RateLimit-* headers, 429 with Retry-After and no database,
# fixed windows that reset, --trusted-proxy and --rate-limit-by user.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
starterctl($pg, 'adduser', '--password-stdin', 'bob', {stdin => "bpw\n"});
my $BASE = '/api/v1.0/pxcodes/';
my $WIN = 15;

my $srv = StarterTest::Server->new(pg => $pg, workers => 2,
    args => ['--rate-limit', "5/$WIN"]);
is(scalar(() = $srv->worker_pids), 2, 'two workers') if
    $srv->can('worker_pids');

# Start at the beginning of a window (they are aligned on the epoch).
sleep(($WIN - time % $WIN) + 0.05) if time % $WIN > $WIN - 6;

# Five calls at once on five connections: the workers share the counter,
# so the Remaining values are exactly 4..0 whichever worker answers.
my @c = map { StarterTest::Conn->new($srv) } 1 .. 5;
$_->send(build_request('GET', "${BASE}039", auth => 'admin:admin',
    port => $srv->port)) for @c;
my @r = map { $_->read_response(method => 'GET') } @c;
$_->close for @c;
is_deeply([sort map { $_->{status} } @r], [(200) x 5], 'five calls: 200');
is_deeply([sort map { $_->{headers}{'x-ratelimit-remaining'} } @r],
    [0 .. 4], 'X-RateLimit-Remaining 4..0 across the workers');
is_deeply([map { $_->{headers}{'x-ratelimit-limit'} } @r], [(5) x 5],
    'X-RateLimit-Limit 5 on each');
my %resets = map { $_->{headers}{'x-ratelimit-reset'} => 1 } @r;
is(scalar keys %resets, 1, 'one X-RateLimit-Reset for all');
my ($reset) = keys %resets;
ok($reset > time && $reset <= time + $WIN + 1 && $reset % $WIN == 0,
    "Reset is the window's end in epoch seconds ($reset)");

# The IETF fields (draft-ietf-httpapi-ratelimit-headers-11) say the same:
# the policy, and r (remaining) and t (seconds to the window's end).
is_deeply([map { $_->{headers}{'ratelimit-policy'} } @r],
    [(qq{"default";q=5;w=$WIN}) x 5], 'RateLimit-Policy on each');
my @ietf = map { [($_->{headers}{ratelimit} // '') =~
    /^"default";r=(\d+);t=(\d+)$/] } @r;
is_deeply([sort map { $_->[0] // 'none' } @ietf], [0 .. 4],
    'RateLimit r=4..0 across the workers');
is_deeply([map { $_->{headers}{'x-ratelimit-remaining'} } @r],
    [map { (($_->{headers}{ratelimit} // '') =~ /;r=(\d+)/)[0] // 'none' } @r],
    'r is X-RateLimit-Remaining of the same answer');
my $treset = time;
ok(!grep({ !defined $_->[1] || $_->[1] > $WIN ||
    $_->[1] + int($treset) < $reset - 2 } @ietf),
    'RateLimit t is the seconds left to the same Reset');

my $r = request($srv, 'GET', "${BASE}039", auth => 'admin:admin');
check_error($r, 429, '6th call');
is($r->{headers}{'x-ratelimit-remaining'}, 0, '6th call: Remaining 0');
is($r->{headers}{'x-ratelimit-limit'}, 5, '6th call: Limit 5');
is($r->{headers}{'x-ratelimit-reset'}, $reset, '6th call: same Reset');
like($r->{headers}{ratelimit} // '', qr/^"default";r=0;t=\d+$/,
    '6th call: RateLimit r=0');
is($r->{headers}{'ratelimit-policy'}, qq{"default";q=5;w=$WIN},
    '6th call: RateLimit-Policy');
my $ra = $r->{headers}{'retry-after'} // '';
ok($ra =~ /^\d+$/ && $ra >= 1 && $ra <= $WIN, "Retry-After $ra");

# Over the limit nothing reaches the database: answered with it stopped.
$pg->stop;
$r = request($srv, 'GET', "${BASE}039", auth => 'admin:x');
is($r->{status}, 429, 'over the limit, PostgreSQL stopped: still 429');
$r = request($srv, 'POST', $BASE, auth => 'admin:admin',
    body => '{"pxcode":"Z1"}',
    headers => {'Content-Type' => 'application/json'});
is($r->{status}, 429, 'a write over the limit: 429');
$pg->start;
$r = request($srv, 'GET', '/healthz');
is($r->{status}, 200, '/healthz is not limited');
ok(!exists $r->{headers}{'x-ratelimit-limit'}, '... and has no headers');
ok(!exists $r->{headers}{ratelimit} &&
    !exists $r->{headers}{'ratelimit-policy'}, '... nor the IETF ones');

# The window resets.
sleep($reset - time + 0.3);
ok(wait_until(sub { request($srv, 'GET', '/readyz')->{status} == 200 },
    timeout => 10), 'database back');
$r = request($srv, 'GET', "${BASE}039", auth => 'admin:admin');
is($r->{status}, 200, 'after the reset: 200') or diag(explain_response($r));
is($r->{headers}{'x-ratelimit-remaining'}, 4, 'after the reset: Remaining 4');
is($r->{headers}{'x-ratelimit-reset'}, $reset + $WIN, 'next window');
$r = request($srv, 'GET', $BASE);
is($r->{status}, 401, 'a 401 on a limited route ...');
is($r->{headers}{'x-ratelimit-remaining'}, 3, '... counts and has headers');
$r = request($srv, 'GET', '/auth/request-token', auth => 'admin:admin');
is($r->{headers}{'x-ratelimit-remaining'}, 2, '/auth/ is limited too');
$srv->stop;

# X-Forwarded-For: only from the trusted proxy, only its last hop.
my $px = StarterTest::Server->new(pg => $pg,
    args => ['--rate-limit', '2/60', '--trusted-proxy', '127.0.0.1']);
sub via
{
	my ($s, $xff) = @_;
	return request($s, 'GET', "${BASE}039", auth => 'admin:admin',
	    headers => {'X-Forwarded-For' => $xff});
}
is(via($px, '10.0.0.1')->{headers}{'x-ratelimit-remaining'}, 1,
    'trusted proxy: 10.0.0.1 first call');
is(via($px, '10.0.0.2')->{headers}{'x-ratelimit-remaining'}, 1,
    'trusted proxy: 10.0.0.2 counted apart');
is(via($px, '6.6.6.6, 10.0.0.1')->{headers}{'x-ratelimit-remaining'}, 0,
    'the last hop names the client (a forged first hop is ignored)');
is(via($px, '10.0.0.1')->{status}, 429, '10.0.0.1 third call: 429');
is(via($px, 'garbage')->{headers}{'x-ratelimit-remaining'}, 1,
    'a malformed hop falls back to the peer address');
$px->stop;
my $np = StarterTest::Server->new(pg => $pg, args => ['--rate-limit', '2/60']);
is(via($np, '10.0.0.1')->{headers}{'x-ratelimit-remaining'}, 1,
    'no trusted proxy: first call');
is(via($np, '10.0.0.2')->{headers}{'x-ratelimit-remaining'}, 0,
    'no trusted proxy: X-Forwarded-For is ignored');
$np->stop;

# --rate-limit-by user: each user has a quota, whatever the address.
my $bu = StarterTest::Server->new(pg => $pg,
    args => ['--rate-limit', '2/60', '--rate-limit-by', 'user']);
is(request($bu, 'GET', "${BASE}039", auth => 'admin:admin')
    ->{headers}{'x-ratelimit-remaining'}, 1, 'by user: admin 1st');
is(request($bu, 'GET', "${BASE}039", auth => 'bob:bpw')
    ->{headers}{'x-ratelimit-remaining'}, 1, 'by user: bob has his own');
is(request($bu, 'GET', "${BASE}039", auth => 'admin:admin')
    ->{headers}{'x-ratelimit-remaining'}, 0, 'by user: admin 2nd');
is(request($bu, 'GET', "${BASE}039", auth => 'admin:admin')->{status}, 429,
    'by user: admin 3rd: 429');
is(request($bu, 'GET', "${BASE}039", auth => 'bob:bpw')->{status}, 200,
    'by user: bob still 200');
$bu->stop;

my $bad = StarterTest::Server->new(pg => $pg, nowait => 1,
    expect_fail => 1,
    args => ['--rate-limit', '5/x']);
ok(wait_until(sub { !$bad->alive }, timeout => 5),
    '--rate-limit 5/x: starterd refuses to start');

finish();
