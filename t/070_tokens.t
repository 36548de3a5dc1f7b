# 070_tokens: GET /auth/request-token, tokens as "TOKEN:" Basic and Bearer,
# expiry, tampering, foreign keys, revocation, --auth modes, two instances
# sharing the database's key, the httpie flow, rehash on login.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha256);
use JSON::PP;
use MIME::Base64 qw(encode_base64 encode_base64url decode_base64url);
use StarterTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $srv = StarterTest::Server->new(pg => $pg);

my $BASE = '/api/v1.0/pxcodes/';
my $CC = 'no-cache, no-store, max-age=0';

sub b64 { return 'Basic ' . encode_base64($_[0], ''); }

sub get_token
{
	my ($s, $cred) = @_;
	my $r = request($s, 'GET', '/auth/request-token',
	    auth => $cred // 'admin:admin');
	return ($r, ref $r->{json} eq 'HASH' ? $r->{json}{token} : undef);
}

sub with_token
{
	my ($s, $tok, %o) = @_;
	my $how = $o{bearer} ? "Bearer $tok" : b64("$tok:");
	return request($s, $o{method} // 'GET', $o{path} // $BASE,
	    headers => {Authorization => $how});
}

# A token signed with $key, claims as given.
sub make_token
{
	my ($key, $claims, $header) = @_;
	my $h = encode_base64url($header // '{"alg":"HS256","typ":"JWT"}');
	my $p = encode_base64url(JSON::PP->new->canonical->encode($claims));
	return "$h.$p." . encode_base64url(hmac_sha256("$h.$p", $key));
}

# --- issuing -----------------------------------------------------------------

my ($r, $tok) = get_token($srv);
is($r->{status}, 200, 'request-token with admin:admin: 200')
    or diag(explain_response($r));
check_common_headers($r, 'request-token');
is($r->{headers}{'cache-control'}, $CC, "Cache-Control: $CC");
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON');
is(join(',', sort keys %{$r->{json}}), 'expires_in,token',
    'body has exactly expires_in and token');
is($r->{json}{expires_in}, 3600, 'expires_in 3600 by default');
is($r->{body}, jsonify($r->{json}), 'body formatted like jsonify');
like($tok // '', qr/^[\w-]+\.[\w-]+\.[\w-]+$/, 'token is header.payload.sig');
my ($th, $tp) = split /\./, $tok // '..';
is_deeply(decode_json(decode_base64url($th)), {alg => 'HS256', typ => 'JWT'},
    'JWT header: HS256');
my $claims = eval { decode_json(decode_base64url($tp)) } // {};
is($claims->{name}, 'admin', 'claim name');
like($claims->{sub} // '', qr/^\d+$/, 'claim sub is the user id');
ok(abs(($claims->{exp} // 0) - time - 3600) < 5, 'claim exp = now + 3600');
ok(defined $claims->{ver}, 'claim ver (token version)');

check_error(request($srv, 'GET', '/auth/request-token'), 401,
    'request-token without credentials');
check_error(request($srv, 'GET', '/auth/request-token', auth => 'admin:x'),
    401, 'request-token with a wrong password');
check_error(with_token($srv, $tok, path => '/auth/request-token'), 401,
    'request-token with a token (a password is required)');
check_error(request($srv, 'POST', '/auth/request-token', auth =>
    'admin:admin'), 405, 'POST request-token');

# --- using it ----------------------------------------------------------------

$r = with_token($srv, $tok);
is($r->{status}, 200, 'token as Basic username with empty password: 200')
    or diag(explain_response($r));
ok(scalar @{$r->{json}{items} // []} > 0, '... the items');
$r = with_token($srv, $tok, bearer => 1);
is($r->{status}, 200, 'Authorization: Bearer TOKEN: 200');
$r = with_token($srv, $tok, bearer => 1, path => "${BASE}039");
is($r->{status}, 200, 'Bearer on an item: 200');
is($r->{headers}{'x-ratelimit-limit'}, undef, 'no rate-limit headers when off');

# --- a repeated token costs no database round trip ---------------------------

$pg->psql(q{ALTER SYSTEM SET log_statement = 'all'});
$pg->psql(q{SELECT pg_reload_conf()});
sleep 0.5;
with_token($srv, $tok) for 1 .. 2;
# Through PgBouncer (STARTERD_TEST_PGBOUNCER=1: --prepare unnamed) the log
# names no statement: the start of its SQL stands for it.
my %SQL = (px_page => 'WITH t AS (SELECT count(*) AS n FROM starter_pxcodes)',
    user_token_ver => 'SELECT token_version, username FROM starter_users '
    . 'WHERE id = $1');
sub executes
{
	my ($stmt) = @_;
	my $re = $pg->bouncer ? qr/execute <unnamed>: \Q$SQL{$stmt}\E/
	    : qr/execute \Q$stmt\E\b/;
	return scalar(() = $pg->log_contents =~ /$re/g);
}
my ($v0, $p0) = (executes('user_token_ver'), executes('px_page'));
# Distinct pages, so that each one is a query (a response cache would
# answer repeats without one): the statement log must see those.
is(with_token($srv, $tok, bearer => $_ % 2, path => "$BASE?per_page=$_")
    ->{status}, 200, "token use $_") for 1 .. 20;
ok(wait_until(sub { executes('px_page') >= $p0 + 20 }, timeout => 3),
    'the statement log sees the 20 page queries');
is(executes('user_token_ver') - $v0, 0,
    '20 token uses: no token version lookup (shared-memory cache)');
$pg->psql(q{ALTER SYSTEM RESET log_statement});
$pg->psql(q{SELECT pg_reload_conf()});

# --- bad tokens --------------------------------------------------------------

my @sig = split //, (split /\./, $tok)[2];
$sig[5] = $sig[5] eq 'A' ? 'B' : 'A';
my %bad = (
	'tampered signature' => join('.', $th, $tp, join('', @sig)),
	'tampered payload' => join('.', $th,
	    encode_base64url(encode_json({%$claims, sub => '999'})),
	    (split /\./, $tok)[2]),
	'foreign key' => make_token('some other key of 32 bytes......',
	    $claims),
	'alg none' => join('.', encode_base64url('{"alg":"none"}'), $tp, ''),
	'malformed: one part' => 'abcdef',
	'malformed: junk' => 'a.b.c',
	'malformed: bad base64' => "$th.\$\$\$.xx",
	'truncated' => substr($tok, 0, length($tok) - 3),
	# The same 32 signature bytes, spelt with a non-zero spare bit.
	'non-canonical signature' => do {
		my $b = join('', 'A' .. 'Z', 'a' .. 'z', 0 .. 9, '-', '_');
		my $s = (split /\./, $tok)[2];
		my $i = index($b, substr($s, -1));
		substr($s, -1) = substr($b, $i ^ 1, 1);
		decode_base64url($s) eq decode_base64url((split /\./,
		    $tok)[2]) or die 'non-canonical spelling differs';
		join('.', $th, $tp, $s);
	},
);
for my $name (sort keys %bad) {
	check_error(with_token($srv, $bad{$name}), 401, "token $name (Basic)");
	my $b = with_token($srv, $bad{$name}, bearer => 1);
	is($b->{status}, 401, "token $name (Bearer): 401");
}
is(with_token($srv, '', bearer => 1)->{status}, 401, 'empty Bearer: 401');

# Constant time: a forged token costs the same whatever is wrong with it.
{
	my %med;
	for my $name ('tampered signature', 'malformed: junk') {
		my @t;
		my $c = StarterTest::Conn->new($srv);
		for (1 .. 30) {
			my $t0 = time;
			$c->request('GET', $BASE, headers =>
			    {Authorization => "Bearer $bad{$name}"});
			push @t, time - $t0;
		}
		@t = sort { $a <=> $b } @t;
		$med{$name} = $t[15];
	}
	my ($a, $b) = values %med;
	ok(abs($a - $b) < 0.002, sprintf('bad tokens answered in equal time '
	    . '(medians %.2f and %.2f ms)', $a * 1000, $b * 1000));
}

# --- revocation --------------------------------------------------------------

my ($r2, $tok2) = get_token($srv);
is(with_token($srv, $tok2)->{status}, 200, 'second token works');
my $pc = starterctl($pg, 'passwd', '--password-stdin', 'admin',
    {stdin => "n3w\n"});
is($pc->{rc}, 0, 'starterctl passwd admin');
ok(wait_until(sub { with_token($srv, $tok2)->{status} == 401 }, timeout => 2),
    'token of a user whose password changed: 401 (within 2 s)');
check_error(with_token($srv, $tok, bearer => 1), 401,
    'older token after the password change');
($r, $tok) = get_token($srv, 'admin:n3w');
is($r->{status}, 200, 'new password gets a new token');
is(with_token($srv, $tok)->{status}, 200, 'the new token works');
# A plain SQL password change revokes as well.
$pg->psql(q{UPDATE starter_users SET password_hash = password_hash || ''
    WHERE username = 'admin'});
is(with_token($srv, $tok)->{status}, 200,
    'an UPDATE leaving the hash as is revokes nothing');
$pg->psql(q{UPDATE starter_users SET password_hash = 'x' || password_hash
    WHERE username = 'admin'});
ok(wait_until(sub { with_token($srv, $tok)->{status} == 401 }, timeout => 2),
    'hash changed by plain SQL: 401');
$pg->psql(q{UPDATE starter_users SET password_hash = substr(password_hash, 2)
    WHERE username = 'admin'});
starterctl($pg, 'adduser', '--password-stdin', 'dora', {stdin => "dpw\n"});
my ($rd, $tokd) = get_token($srv, 'dora:dpw');
is(with_token($srv, $tokd)->{status}, 200, 'dora\'s token works');
is(starterctl($pg, 'deluser', 'dora')->{rc}, 0, 'deluser dora');
ok(wait_until(sub { with_token($srv, $tokd)->{status} == 401 }, timeout => 2),
    'token of a deleted user: 401');

# --- expiry and a known key --------------------------------------------------

my $keyfile = StarterTest::basedir() . '/token.key';
my $KEY = 'k' x 40;
open my $kf, '>', $keyfile or die "$keyfile: $!";
print $kf "$KEY\n";
close $kf;
my $short = StarterTest::Server->new(pg => $pg,
    args => ['--token-ttl', 2, '--token-key-file', $keyfile]);
($r, $tok) = get_token($short, 'admin:n3w');
is($r->{json}{expires_in}, 2, '--token-ttl 2: expires_in 2');
is(with_token($short, $tok)->{status}, 200, 'short-lived token works');
is(with_token($srv, $tok)->{status}, 401,
    'token of another key (--token-key-file) refused by the first server');
my $uid = $pg->psql(q{SELECT id FROM starter_users WHERE username = 'admin'});
my $ver = $pg->psql(q{SELECT token_version FROM starter_users
    WHERE username = 'admin'});
my %c = (sub => "$uid", name => 'admin', iat => int(time),
    exp => int(time) + 60,
    ver => 0 + $ver);
is(with_token($short, make_token($KEY, \%c))->{status}, 200,
    'token made outside with the key: 200');
is(with_token($short, make_token($KEY, {%c, exp => int(time) - 1}))->{status},
    401, 'expired token (exp in the past): 401');
is(with_token($short, make_token($KEY, {%c, ver => $ver + 1}))->{status},
    401, 'token with another version: 401');
is(with_token($short, make_token($KEY, {%c, sub => '12345'}))->{status},
    401, 'token of a user that does not exist: 401');
sleep 3;
check_error(with_token($short, $tok), 401, 'token after its lifetime');
$short->stop;
my $ek = 'e' x 32;
my $envk = StarterTest::Server->new(pg => $pg,
    env => {STARTERD_TOKEN_KEY => $ek});
is(with_token($envk, make_token($ek, \%c))->{status}, 200,
    'key from STARTERD_TOKEN_KEY');
is(with_token($envk, make_token($KEY, \%c))->{status}, 401,
    '... and not the file\'s');
$envk->stop;
my $nokey = StarterTest::Server->new(pg => $pg, nowait => 1,
    expect_fail => 1,
    args => ['--token-key-file', StarterTest::basedir() . '/nonexistent']);
ok(wait_until(sub { !$nokey->alive }, timeout => 5),
    'a missing --token-key-file: starterd refuses to start');

# --- two instances, one database ---------------------------------------------

my $other = StarterTest::Server->new(pg => $pg);
($r, $tok) = get_token($srv, 'admin:n3w');
$r = with_token($other, $tok, bearer => 1);
is($r->{status}, 200, 'a token of instance 1 is accepted by instance 2')
    or diag(explain_response($r));
($r, $tok) = get_token($other, 'admin:n3w');
is(with_token($srv, $tok)->{status}, 200, 'and the other way round');
is($pg->psql(q{SELECT count(*) FROM starterd_secrets}), 1,
    'one key in the database, shared');
unlike($srv->log_contents . $other->log_contents, qr/\Q$tok\E/,
    'the token is not in the logs');
$other->stop;

# --- --auth modes ------------------------------------------------------------

my $tonly = StarterTest::Server->new(pg => $pg, args => ['--auth', 'token']);
($r, $tok) = get_token($tonly, 'admin:n3w');
is($r->{status}, 200, '--auth token: request-token with a password: 200');
check_error(request($tonly, 'GET', $BASE, auth => 'admin:n3w'), 401,
    '--auth token: password on /api/');
is(with_token($tonly, $tok)->{status}, 200, '--auth token: token: 200');
$tonly->stop;
my $ponly = StarterTest::Server->new(pg => $pg,
    args => ['--auth', 'password']);
is(request($ponly, 'GET', $BASE, auth => 'admin:n3w')->{status}, 200,
    '--auth password: password: 200');
check_error(with_token($ponly, $tok, bearer => 1), 401,
    '--auth password: token refused');
$ponly->stop;

# --- the original's flow with httpie -----------------------------------------

SKIP: {
	my $http = (grep { -x "$_/http" } split /:/, $ENV{PATH})[0];
	skip 'httpie (http) not installed', 3 unless $http;
	my $port = $srv->port;
	my $home = StarterTest::basedir() . '/httpie';
	my %env = (HTTPIE_CONFIG_DIR => $home);
	my $h1 = run_cmd(["$http/http", '--ignore-stdin', '--check-status',
	    '--body', '--auth', 'admin:n3w', ":$port/auth/request-token"],
	    env => \%env, timeout => 30);
	is($h1->{rc}, 0, 'http --auth admin:PW :PORT/auth/request-token')
	    or diag($h1->{err});
	my $ht = eval { decode_json($h1->{out})->{token} } // '';
	my $h2 = run_cmd(["$http/http", '--ignore-stdin', '--check-status',
	    '--body', '--auth', "$ht:", ":$port$BASE"], env => \%env,
	    timeout => 30);
	is($h2->{rc}, 0, 'http --auth TOKEN: :PORT/api/v1.0/pxcodes/ -> 2xx')
	    or diag($h2->{err});
	like($h2->{out}, qr/"items"/, '... with the items');
}

# --- rehash at login ---------------------------------------------------------

my $ra = starterctl($pg, '--argon2-memory', 64, '--argon2-time', 1,
    'adduser', '--password-stdin', 'weak', {stdin => "wpw\n"});
is($ra->{rc}, 0, 'adduser weak with argon2 m=64 t=1');
my $old = $pg->psql(q{SELECT password_hash FROM starter_users
    WHERE username = 'weak'});
like($old, qr/m=64,t=1/, 'stored with the weak parameters');
($r, $tok) = get_token($srv, 'weak:wpw');
is($r->{status}, 200, 'weak user logs in');
ok(wait_until(sub { $pg->psql(q{SELECT password_hash FROM starter_users
    WHERE username = 'weak'}) =~ /m=19456,t=2/ }, timeout => 3),
    're-hashed with the configured parameters after the login');
is(with_token($srv, $tok)->{status}, 200,
    'the re-hash did not revoke the token just issued');
is(request($srv, 'GET', $BASE, auth => 'weak:wpw')->{status}, 200,
    'the password still works after the re-hash');

finish();
