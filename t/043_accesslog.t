# 043_accesslog: what the client sent (request target, Referer,
# User-Agent, user name) is escaped in the access log as nginx escapes it
# (\xHH for '"', '\', control characters and bytes >= 0x7f), so no field
# can forge another; a request whose line was not parsed is logged with
# the escaped, truncated raw line, or "-" when there is none.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $dir = StarterTest::basedir();
my $alog = "$dir/access.log";
my $srv = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['-a', $alog]);

sub log_text
{
	open my $fh, '<', $alog or return '';
	local $/;
	my $s = <$fh> // '';
	close $fh;
	return $s;
}

# The log line ending with request id $id (every request below sends one;
# the parser-error ones, which have no usable headers, are found by $re).
sub line_for
{
	my ($re) = @_;
	my $line;
	wait_until(sub {
		($line) = grep { /$re/ } split /\n/, log_text();
		return defined $line;
	}, timeout => 5);
	return $line;
}

# One combined-format line: its fields, or () when it does not parse.
my $FIELD = qr/"((?:[^"\\\x00-\x1f\x7f-\xff]|\\x[0-9A-F]{2})*)"/;
sub fields
{
	my ($l) = @_;
	return () unless defined $l;
	return $l =~ /^(\S+) - (\S+) \[[^\]]+\] $FIELD (\d{3}) (\d+) $FIELD $FIELD (\d+) (\S+) (\S+)$/;
}

# --- header fields and the target -----------------------------------------

# (The parser refuses other controls and DEL in fields; a tab passes.)
my $ua = "evil\" 200 0 \"-\" \"forged\\\t\xc3\xa9";
my $r = request($srv, 'GET', '/healthz?q="\\x', headers => [
    'User-Agent' => $ua, 'Referer' => 'http://a/"b"',
    'X-Request-Id' => 'esc-1']);
is($r->{status}, 200, 'GET with quotes in the User-Agent: 200');
my $l = line_for(qr/ esc-1 -$/);
my @f = fields($l);
ok(@f, 'the line parses with one field per field') or diag($l // 'no line');
is($f[2], 'GET /healthz?q=\\x22\\x5Cx HTTP/1.1',
    'the target: " and \\ as \\xHH');
is($f[5], 'http://a/\\x22b\\x22', 'the Referer: " as \\x22');
is($f[6], 'evil\\x22 200 0 \\x22-\\x22 \\x22forged\\x5C\\x09\\xC3\\xA9',
    'the User-Agent: ", \\, controls and bytes >= 0x7f as \\xHH');
is($f[3], 200, 'the status is the real one');
is($f[8], 'esc-1', 'the request id follows the duration');
is($f[9], '-', 'then the traceparent, - when none');
unlike(log_text(), qr/ 200 0 "-" "forged/, 'no forged fields anywhere');

# --- the user name ----------------------------------------------------------

my $user = "q\"u\\ote\xc3\xa9";
my $c = starterctl($pg, 'adduser', '--password-stdin', $user,
    {stdin => "pw\n"});
is($c->{rc}, 0, 'adduser with " and \\ in the name') or diag($c->{err});
$r = request($srv, 'GET', '/api/v1.0/pxcodes/039', auth => "$user:pw",
    headers => ['X-Request-Id' => 'esc-user']);
is($r->{status}, 200, 'GET as that user: 200') or diag(explain_response($r));
@f = fields(line_for(qr/ esc-user -$/));
is($f[1], 'q\\x22u\\x5Cote\\xC3\\xA9', 'the user name is escaped');

# --- requests whose line was not parsed -------------------------------------

# 414: the raw line, escaped and cut at 1024 bytes (not "GET  HTTP/1.0").
my $long = '/' . ('a' x 9000) . '"';
my $bytes = raw($srv, "GET $long HTTP/1.1\r\nHost: x\r\n\r\n");
like($bytes, qr{^HTTP/1\.1 414 }, 'a 9000-byte target: 414');
$l = line_for(qr/" 414 /);
@f = fields($l);
ok(@f, '414: the line parses') or diag(substr($l // 'no line', 0, 200));
is($f[2], 'GET /' . ('a' x 1019), '414: the raw line, first 1024 bytes');
unlike($l // '', qr/"GET  HTTP/, '414: no invented request line');

# 400: binary garbage (a TLS hello on the plain port).
$bytes = raw($srv, "\x16\x03\x01\x00\xff\"\\ x\r\n\r\n");
like($bytes, qr{^HTTP/1\.1 400 }, 'a TLS hello: 400');
$l = line_for(qr/" 400 \d+ "-" "-" \d+ \S+ -$/);
@f = fields($l);
ok(@f, 'garbage: the line parses') or diag($l // 'no line');
is($f[2], '\\x16\\x03\\x01\\x00\\xFF\\x22\\x5C x',
    'garbage: the raw line, escaped');

# 400 with nothing but empty lines: no request line at all.
$bytes = raw($srv, "\r\n" x 40);
like($bytes, qr{^HTTP/1\.1 400 }, 'only empty lines: 400');
ok(wait_until(sub {
	my @dash = grep { /^\S+ - - \[[^\]]+\] "-" 400 / } split /\n/, log_text();
	return scalar @dash;
}, timeout => 5), 'only empty lines: logged as "-"');

# 505: a complete line the parser refused: as sent, not "HTTP/1.20".
$bytes = raw($srv, "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n");
like($bytes, qr{^HTTP/1\.1 505 }, 'HTTP/2.0 request line: 505');
@f = fields(line_for(qr/" 505 /));
is($f[2], 'GET /healthz HTTP/2.0', '505: the line as sent');

# Every line the log holds parses: nothing forged a field or a line.
my @bad = grep { !fields($_) } split /\n/, log_text();
is(scalar @bad, 0, 'every access log line has exactly its fields')
    or diag(join("\n", map { substr($_, 0, 200) } @bad));

finish();
