# 050_auth: HTTP Basic on every /api/ route, 401 with WWW-Authenticate,
# unauthenticated /healthz and /readyz, no secrets in the log.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use MIME::Base64 qw(encode_base64);
use StarterTest;
use Test::More;
use Time::HiRes qw(time);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $PW = 'c0l:on:pass';		# a password holding colons
my $r0 = starterctl($pg, 'adduser', '--password-stdin', 'carol',
    {stdin => "$PW\n"});
is($r0->{rc}, 0, 'adduser carol (password with colons)');
# Many wrong passwords from one address on purpose: the brute-force
# throttle (t/078_bruteforce.t) would turn them into 429s.
my $srv = StarterTest::Server->new(pg => $pg,
    args => ['--auth-fail-limit', 'off']);

my $BASE = '/api/v1.0/pxcodes/';
my $REALM = 'Basic realm="starterd"';

sub with_header
{
	my ($method, $path, $authz, %o) = @_;
	my %h = defined $authz ? (Authorization => $authz) : ();
	%h = (%h, %{$o{headers}}) if $o{headers};
	delete $o{headers};
	return request($srv, $method, $path, headers => \%h, %o);
}

sub check_401
{
	my ($r, $name, %o) = @_;
	check_error($r, 401, $name, %o);
	is($r->{headers}{'www-authenticate'}, $REALM,
	    "$name: WWW-Authenticate: $REALM");
}

sub b64 { return 'Basic ' . encode_base64($_[0], ''); }

# --- open endpoints --------------------------------------------------------------

my $r = request($srv, 'GET', '/healthz');
is($r->{status}, 200, '/healthz without credentials: 200');
check_common_headers($r, '/healthz');
$r = request($srv, 'GET', '/readyz');
is($r->{status}, 200, '/readyz without credentials: 200 (database up)');
check_common_headers($r, '/readyz');

# --- no or bad credentials -------------------------------------------------------

check_401(with_header('GET', $BASE, undef), 'GET collection, no credentials');
check_401(with_header('GET', "${BASE}039", undef), 'GET item, no credentials');
check_401(with_header('POST', $BASE, undef,
    body => '{"pxcode":"A1","procedure":"X"}',
    headers => {'Content-Type' => 'application/json'}),
    'POST, no credentials');
check_401(with_header('PUT', "${BASE}039", undef,
    body => '{"procedure":"X"}',
    headers => {'Content-Type' => 'application/json'}), 'PUT, no credentials');
check_401(with_header('PATCH', "${BASE}039", undef,
    body => '{"procedure":"X"}',
    headers => {'Content-Type' => 'application/json'}),
    'PATCH, no credentials');
check_401(with_header('DELETE', "${BASE}039", undef),
    'DELETE, no credentials');
{
	my $h = with_header('HEAD', "${BASE}039", undef);
	is($h->{status}, 401, 'HEAD item, no credentials: 401');
	is($h->{headers}{'www-authenticate'}, $REALM,
	    'HEAD item, no credentials: WWW-Authenticate');
	is($h->{body}, '', 'HEAD item, no credentials: no body');
}
is($pg->psql(q{SELECT procedure FROM starter_pxcodes WHERE pxcode = '039'}),
    'EXTRACRANIAL PROCEDURES W/O CC/MCC', 'unauthenticated writes did nothing');
is($pg->psql(q{SELECT count(*) FROM starter_pxcodes WHERE pxcode = 'A1'}),
    0, 'unauthenticated POST inserted nothing');

my $wrong = with_header('GET', $BASE, b64('admin:wrong'));
check_401($wrong, 'wrong password');
my $unknown = with_header('GET', $BASE, b64('nobody:admin'));
check_401($unknown, 'unknown user');
is($unknown->{body}, $wrong->{body},
    'unknown user and wrong password get the same answer');
check_401(with_header('GET', $BASE, b64('admin:')), 'empty password');
check_401(with_header('GET', $BASE, b64(':admin')), 'empty user name');
check_401(with_header('GET', $BASE, b64('admin')), 'no colon in credentials');
check_401(with_header('GET', $BASE, b64('admin:admin ')),
    'password with a trailing space');
check_401(with_header('GET', $BASE, b64('Admin:admin')),
    'user name in another case');
check_401(with_header('GET', $BASE, 'Basic !!!not-base64!!!'),
    'credentials not base64');
check_401(with_header('GET', $BASE, 'Basic'), 'Basic without credentials');
check_401(with_header('GET', $BASE, ''), 'empty Authorization');
check_401(with_header('GET', $BASE, 'Bearer YWRtaW46YWRtaW4='),
    'Bearer scheme');
check_401(with_header('GET', $BASE,
    'Basic ' . encode_base64('admin:admin' . ('x' x 3000), '')),
    'very long password');
check_401(with_header('GET', '/api/v1.0/pxcodes/NOPE', undef),
    'unknown item without credentials: 401, not 404');

# --- good credentials ------------------------------------------------------------

$r = request($srv, 'GET', "${BASE}039", auth => 'admin:admin');
is($r->{status}, 200, 'admin:admin: 200');
ok(!exists $r->{headers}{'www-authenticate'},
    'admin:admin: no WWW-Authenticate on success');
$r = with_header('GET', "${BASE}039",
    'basic ' . encode_base64('admin:admin', ''));
is($r->{status}, 200, 'scheme name is case-insensitive ("basic")');
$r = request($srv, 'GET', "${BASE}039", auth => "carol:$PW");
is($r->{status}, 200, 'password holding colons: 200');
check_401(request($srv, 'GET', "${BASE}039", auth => 'carol:c0l'),
    'password cut at its first colon');

# Repeated success and failure in a row, on one connection (any cache must
# not turn a failure into a success or the reverse).
{
	my $c = StarterTest::Conn->new($srv);
	my @seq = map { $_ % 2 ? ['admin:admin', 200] : ['admin:nimda', 401] }
	    1 .. 10;
	my $bad = 0;
	for my $s (@seq) {
		my $x = $c->request('GET', "${BASE}039", auth => $s->[0]);
		$bad++ if $x->{status} != $s->[1];
	}
	is($bad, 0, 'alternating good and bad credentials on one connection');
	$c->close;
}

# --- many clients at once (password checks must not serialise badly) ------------

{
	my @c = map { StarterTest::Conn->new($srv) } 1 .. 12;
	my $i = 0;
	for my $c (@c) {
		my $cred = $i++ % 3 == 2 ? 'admin:bad' : 'admin:admin';
		$c->{want} = $cred eq 'admin:admin' ? 200 : 401;
		$c->send(build_request('GET', "${BASE}039", auth => $cred));
	}
	my $t0 = time;
	my @r = read_all(\@c, timeout => 15);
	my $bad = grep { !$r[$_] || $r[$_]{status} != $c[$_]{want} } 0 .. $#c;
	is($bad, 0, '12 concurrent clients, good and bad credentials: right answers');
	ok(time - $t0 < 15, '12 concurrent clients: answered in bounded time');
	$_->close for @c;
}

# --- no secrets in the log -------------------------------------------------------

my $log = $srv->log_contents;
unlike($log, qr/\Q$PW\E/, 'log does not contain a password');
unlike($log, qr/\Q${\ encode_base64("carol:$PW", '')}\E/,
    'log does not contain an Authorization value');
unlike($log, qr/nimda/, 'log does not contain a wrong password');

finish();
