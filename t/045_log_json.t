#!/usr/bin/perl
# 045_log_json: --log-format json writes one JSON object per access log
# line with the fields of the combined line (time, remote_addr, user,
# method, target, protocol, status, bytes, referer, user_agent,
# duration_us, request_id, traceparent), strings JSON-escaped, absent
# values null; a request whose line was not parsed has its raw line as the
# target.  An unknown format is refused at startup.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use JSON::PP;
use Test::More;

my $bin = top_builddir() . '/src/starterd';
my $out = `$bin --log-format xml -t 2>&1`;
isnt($? >> 8, 0, '--log-format xml: refused');
like($out, qr/log-format: "xml" is not combined or json/,
    '--log-format xml: the message names the setting');

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $dir = StarterTest::basedir();
my $alog = "$dir/access.log";
my $srv = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['-a', $alog, '--log-format', 'json']);

sub log_lines
{
	open my $fh, '<', $alog or return ();
	my @l = <$fh>;
	close $fh;
	return @l;
}

# The decoded object of the line whose request_id is $id (or matching $re).
sub entry
{
	my ($match) = @_;
	my $e;
	wait_until(sub {
		for my $l (log_lines()) {
			my $o = eval { JSON::PP->new->decode($l) } or next;
			if (ref $match ? $match->($o)
			    : ($o->{request_id} // '') eq $match) {
				$e = $o;
				return 1;
			}
		}
		return 0;
	}, timeout => 5);
	return $e;
}

my @KEYS = sort qw(time remote_addr user method target protocol status
    bytes referer user_agent duration_us request_id traceparent);

my $tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
my $ua = "evil\",\"status\":999 \\ \xc3\xa9\tx";
my $r = request($srv, 'GET', '/api/v1.0/pxcodes/039?x="y"',
    auth => 'admin:admin', headers => ['User-Agent' => $ua,
    'Referer' => 'http://r/"', 'X-Request-Id' => 'json-1',
    'traceparent' => $tp]);
is($r->{status}, 200, 'GET an item: 200');
my $e = entry('json-1');
ok($e, 'the line is one JSON object') or diag(join('', log_lines()));
is_deeply([ sort keys %{$e // {}} ], \@KEYS, 'with every field');
like($e->{time}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, 'time in UTC');
is($e->{remote_addr}, '127.0.0.1', 'remote_addr');
is($e->{user}, 'admin', 'user');
is($e->{method}, 'GET', 'method');
is($e->{target}, '/api/v1.0/pxcodes/039?x="y"', 'target, quotes escaped');
is($e->{protocol}, 'HTTP/1.1', 'protocol');
is($e->{status}, 200, 'status, a number');
is($e->{bytes}, length($r->{body}), 'bytes: the body sent');
is($e->{referer}, 'http://r/"', 'referer');
is($e->{user_agent}, "evil\",\"status\":999 \\ \x{e9}\tx",
    'user_agent: quotes, backslash, tab and UTF-8 survive');
like($e->{duration_us}, qr/^\d+$/, 'duration_us');
is($e->{request_id}, 'json-1', 'request_id');
is($e->{traceparent}, $tp, 'traceparent');
my ($raw) = grep { /"json-1"/ } log_lines();
unlike($raw, qr/[\x00-\x1f\x7f-\xff]./, 'the raw line is ASCII only');
like($raw, qr/\\u00e9/, 'non-ASCII as \\u escapes');

$r = request($srv, 'GET', '/healthz', headers => ['X-Request-Id' => 'json-2']);
$e = entry('json-2');
ok(defined $e && !defined $e->{user} && !defined $e->{referer}
    && !defined $e->{user_agent} && !defined $e->{traceparent},
    'absent values are null');

my $bytes = raw($srv, "\x16\x03\x01\x00\xff\"\\ x\r\n\r\n");
like($bytes, qr{^HTTP/1\.1 400 }, 'a TLS hello: 400');
$e = entry(sub { ($_[0]{status} // 0) == 400 });
ok($e, 'the unparsed request has a line');
ok(!defined $e->{method} && !defined $e->{protocol},
    'no method or protocol when the line was not parsed');
is($e->{target}, "\x{16}\x{3}\x{1}\x{0}\x{fffd}\"\\ x",
    'the raw line as the target, escaped');

my @bad = grep { !eval { JSON::PP->new->decode($_); 1 } } log_lines();
is(scalar @bad, 0, 'every line is a JSON object') or diag(@bad);

finish();
