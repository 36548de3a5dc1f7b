#!/usr/bin/perl
# 047_public_url: absolute links behind a TLS-terminating proxy (issue 13).
# --public-url is the base of every link (item url, Location, meta and
# Link paging, the 308, the index and openapi.json servers) whatever the
# request says; without it, X-Forwarded-Proto/-Host and RFC 7239
# Forwarded count from --trusted-proxy peers only, their right-most
# value, a malformed one ignored; the response cache never hands one
# host's links to a client of another; a bad --public-url fails startup
# and -t with one line.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Test::More;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $coll = '/api/v1.0/pxcodes/';
my $bin = StarterTest::top_builddir() . '/src/starterd';

# --- 1. a bad --public-url: one line, exit 1, at -t and at startup ---------

for my $bad ('ftp://x.example', 'https://', 'https://a b', 'http://h:0',
    'https://h.example:99999', 'https://h.example/p?q=1',
    'https://h.example/a/../b', 'https://h.example#f', 'api.example.com') {
	my $t = StarterTest::run_cmd([$bin, '-t', '--test-config-only',
	    '-f', '/dev/null', '--public-url', $bad]);
	is($t->{rc}, 1, "-t --public-url '$bad': exit 1");
	like($t->{err}, qr/\Astarterd: --public-url: "\Q$bad\E" [^\n]+\n\z/,
	    "... one line naming the setting and the value") or diag($t->{err});
}
my $t = StarterTest::run_cmd([$bin, '-t', '--test-config-only', '-f',
    '/dev/null', '--public-url', 'https://api.example.com:8443/starter/']);
is($t->{rc}, 0, '-t: a good --public-url is ok') or diag($t->{err});
$t = StarterTest::run_cmd([$bin, '-t', '--test-config-only', '-f',
    '/dev/null'], env => {STARTERD_PUBLIC_URL => 'gopher://x'});
like($t->{err}, qr/^starterd: STARTERD_PUBLIC_URL: "gopher:\/\/x" /m,
    'STARTERD_PUBLIC_URL is checked too');
my $bad = StarterTest::Server->new(pg => $pg, nowait => 1, expect_fail => 1,
    args => ['--public-url', 'https://a b']);
ok(wait_until(sub { !$bad->alive }, timeout => 5),
    'a bad --public-url: starterd refuses to start');

# --- 2. --public-url wins over everything ---------------------------------

my $PUB = 'https://api.example.com/starter';
my $srv = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['--public-url', "$PUB/", '--trusted-proxy', '127.0.0.1']);
my %fwd = ('X-Forwarded-Proto' => 'http', 'X-Forwarded-Host' => 'x.example',
    'Forwarded' => 'proto=http;host=y.example');
my $r = request($srv, 'GET', "${coll}039", auth => 'admin:admin',
    headers => \%fwd);
is($r->{status}, 200, 'GET an item: 200');
is($r->{json}{url}, "$PUB${coll}039",
    'item url: --public-url (the trailing slash dropped), forwarded ignored');
$r = request($srv, 'GET', "$coll?per_page=10&page=2", auth => 'admin:admin',
    host => 'internal:5000');
is($r->{json}{meta}{first}, "$PUB$coll?per_page=10&page=1", 'meta first');
is($r->{json}{meta}{next}, "$PUB$coll?per_page=10&page=3", 'meta next');
is($r->{json}{meta}{prev}, "$PUB$coll?per_page=10&page=1", 'meta prev');
my @links = ($r->{headers}{link} // '') =~ /<([^>]*)>/g;
ok(@links >= 3 && !grep({ index($_, "$PUB$coll?") != 0 } @links),
    'every Link target starts with --public-url')
    or diag($r->{headers}{link});
$r = request($srv, 'POST', $coll, auth => 'admin:admin',
    body => '{"pxcode":"PU1","procedure":"PUBLIC"}',
    headers => {'Content-Type' => 'application/json'});
is($r->{status}, 201, 'POST: 201') or diag(explain_response($r));
is($r->{headers}{location}, "$PUB${coll}PU1", 'Location: --public-url');
is(request($srv, 'DELETE', "${coll}PU1", auth => 'admin:admin')->{status},
    204, 'DELETE the new item');
$r = request($srv, 'GET', '/api/v1.0/pxcodes', auth => 'admin:admin');
is($r->{status}, 308, 'the collection without its slash: 308');
is($r->{headers}{location}, "$PUB$coll", '308 Location: --public-url');
$r = request($srv, 'GET', '/api/v1.0/', auth => 'admin:admin');
my ($px) = grep { $_->{name} eq 'pxcodes' } @{$r->{json}{resources} // []};
is($px->{url}, "$PUB$coll", 'the resource index: --public-url');
$r = request($srv, 'GET', '/api/v1.0/openapi.json', auth => 'admin:admin');
is(eval { decode_json($r->{body})->{servers}[0]{url} }, $PUB,
    'openapi.json servers: --public-url');
$srv->stop;

# --- 3. forwarded headers from a trusted proxy ----------------------------

# A connection from a chosen loopback address: 127.0.0.2 is the trusted
# proxy, 127.0.0.1 (the helpers' own) is anybody.
sub from
{
	my ($local, $s, $path, %h) = @_;
	my $c = IO::Socket::INET->new(LocalAddr => $local,
	    PeerAddr => '127.0.0.1', PeerPort => $s->port, Proto => 'tcp',
	    Timeout => 5) or die "connect from $local: $!";
	binmode $c;
	print $c build_request('GET', $path, auth => 'admin:admin',
	    host => "backend:" . $s->port,
	    headers => [%h, 'Connection' => 'close']);
	my $in = '';
	my $sel = IO::Select->new($c);
	while ($sel->can_read(5)) {
		my $n = sysread($c, $in, 65536, length $in);
		last if !$n;
	}
	close $c;
	my ($resp) = StarterTest::parse_responses($in, 'GET');
	return $resp // {status => 0, headers => {}};
}

$srv = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['--trusted-proxy', '127.0.0.2']);
my $item = "${coll}039";
my $own = 'http://backend:' . $srv->port;
sub url_via
{
	my ($local, %h) = @_;
	my $x = from($local, $srv, $item, %h);
	return ($x->{json} // {})->{url} // "status $x->{status}";
}
sub cache_of
{
	my ($x) = @_;
	return (($x->{headers}{'server-timing'} // '') =~
	    /cache;desc="(\w+)"/)[0] // 'none';
}

is(url_via('127.0.0.2'), "$own$item", 'trusted, no forwarding: Host');
is(url_via('127.0.0.2', 'X-Forwarded-Proto' => 'https',
    'X-Forwarded-Host' => 'api.example.com'),
    "https://api.example.com$item", 'X-Forwarded-Proto and -Host');
is(url_via('127.0.0.2', 'X-Forwarded-Proto' => 'HTTPS'),
    "https://backend:" . $srv->port . $item, 'proto alone, any case');
is(url_via('127.0.0.2', 'X-Forwarded-Host' => 'evil.example, a.example'),
    "http://a.example$item", 'X-Forwarded-Host: the right-most value');
is(url_via('127.0.0.2',
    'Forwarded' => 'for=192.0.2.1;proto=https;host="b.example:8443"'),
    "https://b.example:8443$item", 'Forwarded: proto and a quoted host');
is(url_via('127.0.0.2',
    'Forwarded' => 'proto=https;host=evil.example, Proto=https;Host=c.example'),
    "https://c.example$item", 'Forwarded: the right-most element');
is(url_via('127.0.0.2', 'Forwarded' => 'proto=https;host=d.example',
    'X-Forwarded-Host' => 'x.example', 'X-Forwarded-Proto' => 'http'),
    "https://d.example$item", 'Forwarded wins over X-Forwarded-*');
is(url_via('127.0.0.2', 'Forwarded' => 'host="[2001:db8::1]:8443"'),
    "http://[2001:db8::1]:8443$item", 'Forwarded: an IPv6 literal');
is(url_via('127.0.0.2', 'X-Forwarded-Host' => 'API.Example.COM'),
    "http://api.example.com$item", 'a forwarded host is lower-cased');

# Malformed values are ignored: the next source, never the value.
for my $h (['X-Forwarded-Host' => 'evil.example/x'],
    ['X-Forwarded-Host' => 'evil.example:99999'],
    ['X-Forwarded-Host' => 'evil..example'],
    ['X-Forwarded-Host' => '"evil.example"'],
    ['X-Forwarded-Host' => 'evil.example@x'],
    ['X-Forwarded-Host' => '[zz::1]'],
    ['X-Forwarded-Proto' => 'javascript'],
    ['Forwarded' => 'host="evil.example'],
    ['Forwarded' => 'host="ev\\"il.example"'],
    ['Forwarded' => 'host=<evil>'],
    ['Forwarded' => 'proto=ftp']) {
	is(url_via('127.0.0.2', @$h), "$own$item",
	    "malformed $h->[0]: $h->[1]: ignored");
}
is(url_via('127.0.0.2', 'Forwarded' => 'proto=gopher;host=e.example',
    'X-Forwarded-Proto' => 'https'), "https://e.example$item",
    'a bad Forwarded proto falls back to X-Forwarded-Proto');

# Anybody else's forwarding headers count for nothing.
is(url_via('127.0.0.1', 'X-Forwarded-Proto' => 'https',
    'X-Forwarded-Host' => 'evil.example'), "$own$item",
    'untrusted peer: X-Forwarded-* ignored');
is(url_via('127.0.0.1', 'Forwarded' => 'proto=https;host=evil.example'),
    "$own$item", 'untrusted peer: Forwarded ignored');

# The cache: one host's body is never another's.  The item is cached for
# a.example; b.example and a plain client each get their own links, and
# a.example's is then a hit with its own.
my $xa = from('127.0.0.2', $srv, "${coll}057", 'X-Forwarded-Host' =>
    'a.example');
is($xa->{json}{url}, "http://a.example${coll}057", 'a.example: its links');
$xa = from('127.0.0.2', $srv, "${coll}057", 'X-Forwarded-Host' =>
    'a.example');
is(cache_of($xa), 'hit', '... cached');
my $xb = from('127.0.0.2', $srv, "${coll}057", 'X-Forwarded-Host' =>
    'b.example');
is($xb->{json}{url}, "http://b.example${coll}057",
    'b.example (same item, cached for a.example): its own links');
my $xu = from('127.0.0.1', $srv, "${coll}057", 'X-Forwarded-Host' =>
    'a.example');
is($xu->{json}{url}, "$own${coll}057",
    'an untrusted client naming a.example: its Host, not the cached body');
$xa = from('127.0.0.2', $srv, "${coll}057", 'X-Forwarded-Host' =>
    'a.example');
is(cache_of($xa), 'hit', 'a.example again: a hit');
is($xa->{json}{url}, "http://a.example${coll}057", '... with its links');
my $pa = from('127.0.0.2', $srv, "$coll?per_page=5&page=2",
    'X-Forwarded-Proto' => 'https', 'X-Forwarded-Host' => 'a.example');
my $pu = from('127.0.0.1', $srv, "$coll?per_page=5&page=2");
is($pa->{json}{meta}{next}, "https://a.example$coll?per_page=5&page=3",
    'a page via the proxy: its links');
is($pu->{json}{meta}{next}, "$own$coll?per_page=5&page=3",
    'the same page directly: its own links');
unlike($pu->{headers}{link} // '', qr/a\.example/,
    '... and its own Link header');
$srv->stop;

finish();
