# 079_auth_hardening: the client address behind trusted proxies is the
# right-most untrusted X-Forwarded-For entry; a user cannot be locked out
# from other addresses (past its limit it is only slowed down); an old
# password retried after a change is counted; a Basic user name that is
# not UTF-8 is a counted 401; a cheap stored hash fails as slowly as the
# dummy hash (issue 12).
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
my $BIN = top_builddir() . '/src/starterd';

sub median { my @s = sort { $a <=> $b } @_; return $s[int(@s / 2)]; }

# --- --trusted-proxy must name addresses -------------------------------------

{
	my $r = run_cmd([$BIN, '-b', '127.0.0.1',
	    '-p', StarterTest::free_port(), '-w', 1, '-d', $pg->dsn,
	    '--trusted-proxy', 'foo'], timeout => 5);
	ok(!$r->{timedout} && $r->{rc} != 0,
	    '--trusted-proxy foo: refused at start');
	like($r->{err}, qr/trusted-proxy/, '... naming the setting')
	    or diag($r->{err});
}

# One proxy (127.0.0.1), then two (127.0.0.1 and 10.0.0.254).
my $srv = StarterTest::Server->new(pg => $pg, args => ['--trusted-proxy',
    '127.0.0.1', '--auth-fail-limit', '2/60']);
my $two = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['--trusted-proxy', '127.0.0.1,10.0.0.254',
    '--auth-fail-limit', '2/60']);

# A request through the proxies: @xff are the X-Forwarded-For field lines.
sub via_srv
{
	my ($s, $cred, @xff) = @_;
	return request($s, 'GET', "${BASE}039", auth => $cred,
	    headers => [map { ('X-Forwarded-For' => $_) } @xff]);
}
sub via { return via_srv($srv, @_); }
sub via2 { return via_srv($two, @_); }

# --- X-Forwarded-For: the right-most address that is not a proxy ------------

# The client writes a first line of its own; the proxy appends the address
# it saw on a line of its own (HAProxy does): that one is the client.
is(via("x$_:wrong", "203.0.113.$_", '10.9.0.1')->{status}, 401,
    "spoofed first line 203.0.113.$_, proxy line 10.9.0.1: 401") for 1 .. 2;
is(via('x3:wrong', '203.0.113.3', '10.9.0.1')->{status}, 429,
    '... the third failure is 10.9.0.1\'s: 429 (the spoofed line is ignored)');
# A comma list through two proxies: the trusted hop on the right is skipped.
is(via2("y$_:wrong", "198.51.100.$_, 10.9.0.2, 10.0.0.254")->{status}, 401,
    "198.51.100.$_, 10.9.0.2, 10.0.0.254: 401") for 1 .. 2;
is(via2('y3:wrong', '198.51.100.3, 10.9.0.2, 10.0.0.254')->{status}, 429,
    '... the third failure is 10.9.0.2\'s: 429');
is(via2('y4:wrong', '10.9.0.3', '10.0.0.254')->{status}, 401,
    'another client behind the same two proxies (10.9.0.3): 401, not 429');
is(via2('y5:wrong', '10.9.0.3, 10.0.0.254', '10.0.0.254')->{status}, 401,
    'repeated trusted lines are skipped too (still 10.9.0.3): 401');
is(via2('y6:wrong', '::ffff:10.9.0.3')->{status}, 429,
    '10.9.0.3\'s third failure, spelt ::ffff:10.9.0.3: 429');

# --trusted-proxy follows a reload (SIGHUP), as it always did.
{
	my $cf = StarterTest::basedir() . '/proxy.conf';
	my $put = sub {
		open my $fh, '>', "$cf.tmp" or die "$cf: $!";
		print $fh @_;
		close $fh;
		rename "$cf.tmp", $cf or die "rename: $!";
	};
	$put->("trusted_proxy = 10.0.0.254\nauth_fail_limit = 2/60\n");
	my $rl = StarterTest::Server->new(pg => $pg, workers => 1,
	    args => ['-f', $cf]);
	is(via_srv($rl, "z$_:wrong", "10.11.0.$_")->{status}, 401,
	    "peer not trusted, wrong password $_: 401") for 1 .. 2;
	is(via_srv($rl, 'z3:wrong', '10.11.0.3')->{status}, 429,
	    '... all counted against the peer: 429');
	$put->("trusted_proxy = 127.0.0.1\nauth_fail_limit = 2/60\n");
	my $len = length $rl->log_contents;
	kill 'HUP', $rl->pid;
	ok(wait_until(sub { substr($rl->log_contents, $len) =~
	    /reload: generation \d+ serving/ }, timeout => 10),
	    'reloaded with trusted_proxy = 127.0.0.1');
	is(via_srv($rl, 'z4:wrong', '10.11.1.1')->{status}, 401,
	    'after the reload the client is 10.11.1.1: 401, not 429');
	$rl->stop;
}

# --- no lockout from other addresses ----------------------------------------

# Two failures (the limit) for admin from 10.5.0.1 ...
is(via("admin:guess$_", '10.5.0.1')->{status}, 401,
    "admin wrong password $_ from 10.5.0.1: 401") for 1 .. 2;
my $r = via('admin:admin', '10.5.0.1');
is($r->{status}, 429, 'then 10.5.0.1 is throttled, even for the right one');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, '... with Retry-After');
# ... do not lock admin out: from another address the right one works.
my $t0 = time;
$r = via('admin:admin', '10.5.0.2');
my $dt = time - $t0;
is($r->{status}, 200, 'admin\'s right password from 10.5.0.2: 200')
    or diag(explain_response($r));
ok($dt >= 0.9, sprintf('... after a slowdown (%.2f s): admin is past its '
    . 'limit', $dt));
# Guesses for admin from fresh addresses are slowed down and serialised:
# three at once wait 1, 2 and 3 s (for every worker together).
{
	$t0 = time;
	my @c = map { StarterTest::Conn->new($srv) } 1 .. 3;
	my $i = 0;
	for (@c) {
		$i++;
		$_->send(build_request('GET', "${BASE}039", auth =>
		    "admin:spray$i", port => $srv->port,
		    headers => ['X-Forwarded-For' => "10.6.0.$i"]));
	}
	my @st = map { my $x = $_->read_response(method => 'GET',
	    timeout => 30); $x ? $x->{status} : 0 } @c;
	$dt = time - $t0;
	$_->close for @c;
	is_deeply(\@st, [401, 401, 401], 'three guesses for admin from '
	    . 'three fresh addresses: 401 each');
	ok($dt >= 2.9, sprintf('... serialised: the last waited %.2f s '
	    . '(>= 3 s)', $dt));
}
is(via('admin:admin', '10.5.0.3')->{status}, 200,
    'and admin still logs in from a third address');

# --- an old password, retried after a change, is counted ---------------------

is(via('bob:bpw', '10.7.0.1')->{status}, 200, 'bob logs in (cached)');
starterctl($pg, 'passwd', '--password-stdin', 'bob', {stdin => "new\n"});
ok(wait_until(sub { via('bob:new', '10.7.0.9')->{status} == 200 },
    timeout => 5), 'bob\'s new password works');
my @old = map { via('bob:bpw', '10.7.0.1')->{status} } 1 .. 3;
is_deeply(\@old, [401, 401, 429], 'the old password retried three times '
    . 'from one address, limit 2: 401, 401, 429');

# --- a Basic user name that is not UTF-8 -------------------------------------

{
	my $bad = "\xff\xfeadmin:x";
	$r = via($bad, '10.8.0.1');
	check_error($r, 401, 'user name not UTF-8');
	is(via($bad, '10.8.0.1')->{status}, 401, 'again: 401');
	is(via($bad, '10.8.0.1')->{status}, 429, 'a third time: 429 (counted)');
	is(via("ad\xc0\xafmin:x", '10.8.0.2')->{status}, 401,
	    'an overlong encoding: 401');
	unlike($srv->log_contents, qr/user lookup/,
	    'no database lookup was tried (nothing logged)');
}
$srv->stop;
$two->stop;

# --- a cheap stored hash fails as slowly as an unknown user -----------------

my $rc = starterctl($pg, '--argon2-memory', 64, '--argon2-time', 1,
    'adduser', '--password-stdin', 'cheap', {stdin => "cpw\n"});
is($rc->{rc}, 0, 'adduser cheap with argon2 m=64 t=1');
my $tm = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['--auth-fail-limit', 'off']);
request($tm, 'GET', $BASE, auth => "admin:warm$_") for 1 .. 3;
my ($ratio, $mk, $mu);
# Interleaved, 20 of each; the machine may be busy, so a round that misses
# is measured again (up to 3 rounds): no padding would show in every one.
for my $round (1 .. 3) {
	my %t;
	for my $i (1 .. 20) {
		for my $who ($i % 2 ? ('cheap', "ghost$i")
		    : ("ghost$i", 'cheap')) {
			my $t1 = time;
			my $x = request($tm, 'GET', $BASE,
			    auth => "$who:wrong$i");
			push @{$t{$who eq 'cheap' ? 'cheap' : 'unknown'}},
			    time - $t1;
			die "unexpected $x->{status}"
			    unless $x->{status} == 401;
		}
	}
	($mk, $mu) = (median(@{$t{cheap}}), median(@{$t{unknown}}));
	$ratio = $mk / $mu;
	diag(sprintf('round %d, median of 20: cheap hash, wrong password '
	    . '%.2f ms; unknown user %.2f ms (ratio %.2f)', $round,
	    $mk * 1000, $mu * 1000, $ratio));
	last if $ratio > 0.8;
}
ok($ratio > 0.8, sprintf('a wrong password for a cheap hash takes %.0f%% '
    . 'of an unknown user\'s time (> 80%%)', 100 * $ratio));
$tm->stop;

finish();
