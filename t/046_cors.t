#!/usr/bin/perl
# 046_cors: --cors-origin.  Without it no CORS header is ever sent.  With
# a list, a preflight (OPTIONS with Origin and Access-Control-Request-
# Method) from a listed origin is answered 204 without credentials, with
# Allow-Origin, Allow-Methods (the route's Allow), Allow-Headers and
# Max-Age; every answer to a listed origin (errors included) carries
# Allow-Origin, Vary: Origin and Expose-Headers; other origins get only
# Vary: Origin.
# With *, Allow-Origin is *.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $A = 'https://a.example';
my $B = 'http://b.example:8080';
my $list = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['-a', 'off', '--cors-origin', "$A, $B"]);
my $any = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['-a', 'off', '--cors-origin', '*']);
my $none = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['-a', 'off']);
my $coll = '/api/v1.0/pxcodes/';

# No CORS headers; $vary: --cors-origin is set, so Vary: Origin still is.
sub no_cors
{
	my ($r, $name, $vary) = @_;
	my @h = grep { /^access-control-/ } keys %{$r->{headers}};
	is_deeply(\@h, [], "$name: no Access-Control headers");
	if ($vary) {
		like($r->{headers}{vary} // '', qr/\bOrigin\b/,
		    "$name: Vary: Origin (the answer depends on it)");
	} else {
		unlike($r->{headers}{vary} // '', qr/Origin/,
		    "$name: no Vary: Origin");
	}
}

# --- preflight --------------------------------------------------------------

for my $o ($A, $B) {
	my $r = request($list, 'OPTIONS', $coll, headers => ['Origin' => $o,
	    'Access-Control-Request-Method' => 'POST',
	    'Access-Control-Request-Headers' => 'authorization,content-type']);
	is($r->{status}, 204, "preflight from $o, no credentials: 204")
	    or diag(explain_response($r));
	my $h = $r->{headers};
	is($h->{'access-control-allow-origin'}, $o, 'Allow-Origin: the origin');
	is($h->{'access-control-allow-methods'}, $h->{allow},
	    'Allow-Methods: the route\'s Allow');
	like($h->{'access-control-allow-methods'} // '', qr/\bPOST\b/,
	    'Allow-Methods has POST');
	my %ah = map { lc($_) => 1 } split /,\s*/,
	    $h->{'access-control-allow-headers'} // '';
	ok($ah{$_}, "Allow-Headers has $_") for qw(authorization content-type
	    if-match if-none-match x-request-id traceparent);
	like($h->{'access-control-max-age'} // '', qr/^\d+$/, 'Max-Age');
	like($h->{vary} // '', qr/\bOrigin\b/, 'Vary: Origin');
	ok(!exists $h->{'content-type'}, 'preflight 204: no Content-Type');
}
my $r = request($list, 'OPTIONS', "${coll}039", headers => ['Origin' => $A,
    'Access-Control-Request-Method' => 'DELETE']);
is($r->{status}, 204, 'preflight on an item: 204');
like($r->{headers}{'access-control-allow-methods'} // '', qr/\bDELETE\b/,
    'the item\'s methods');
$r = request($list, 'OPTIONS', $coll, headers => ['Origin' => 'https://c.example',
    'Access-Control-Request-Method' => 'POST']);
is($r->{status}, 204, 'preflight from an unlisted origin: plain 204');
no_cors($r, 'unlisted origin', 1);
$r = request($list, 'OPTIONS', $coll, headers => ['Origin' => "${A}x",
    'Access-Control-Request-Method' => 'POST']);
no_cors($r, 'an origin the list only begins', 1);
$r = request($list, 'OPTIONS', $coll, headers => ['Origin' => $A]);
is($r->{status}, 204, 'OPTIONS with Origin, not a preflight: 204');
ok(!exists $r->{headers}{'access-control-allow-methods'},
    'not a preflight: no Allow-Methods');
is($r->{headers}{'access-control-allow-origin'}, $A,
    'but Allow-Origin, as on every answer');

# --- actual requests --------------------------------------------------------

$r = request($list, 'GET', "${coll}039", auth => 'admin:admin',
    headers => ['Origin' => $B]);
is($r->{status}, 200, 'GET from a listed origin: 200');
is($r->{headers}{'access-control-allow-origin'}, $B, 'Allow-Origin');
like($r->{headers}{vary} // '', qr/\bOrigin\b/, 'Vary: Origin');
my %eh = map { lc($_) => 1 } split /,\s*/,
    $r->{headers}{'access-control-expose-headers'} // '';
ok($eh{$_}, "Expose-Headers has $_") for qw(etag location link
    x-ratelimit-limit x-ratelimit-remaining x-ratelimit-reset x-request-id
    ratelimit ratelimit-policy);
ok(!exists $r->{headers}{'access-control-allow-methods'},
    'no Allow-Methods outside a preflight');
$r = request($list, 'GET', "${coll}039", headers => ['Origin' => $A]);
is($r->{status}, 401, 'no credentials: 401');
is($r->{headers}{'access-control-allow-origin'}, $A,
    'the 401 carries Allow-Origin (the page can read it)');
$r = request($list, 'GET', '/nowhere', headers => ['Origin' => $A]);
is($r->{headers}{'access-control-allow-origin'}, $A, 'a 404 too');
$r = request($list, 'GET', '/healthz', headers => ['Origin' => 'https://c.example']);
no_cors($r, 'GET from an unlisted origin', 1);
$r = request($list, 'GET', '/healthz');
no_cors($r, 'GET without Origin', 1);

# --- * and none -------------------------------------------------------------

$r = request($any, 'OPTIONS', $coll, headers => ['Origin' => 'https://z.example',
    'Access-Control-Request-Method' => 'PUT']);
is($r->{status}, 204, '*: preflight 204');
is($r->{headers}{'access-control-allow-origin'}, '*', '*: Allow-Origin *');
$r = request($any, 'GET', '/healthz', headers => ['Origin' => 'https://z.example']);
is($r->{headers}{'access-control-allow-origin'}, '*', '*: on a GET too');

$r = request($none, 'OPTIONS', $coll, headers => ['Origin' => $A,
    'Access-Control-Request-Method' => 'POST']);
is($r->{status}, 204, 'no --cors-origin: OPTIONS 204');
no_cors($r, 'no --cors-origin: preflight');
$r = request($none, 'GET', '/healthz', headers => ['Origin' => $A]);
no_cors($r, 'no --cors-origin: GET');

finish();
