# 032_text_fidelity: text is stored exactly as sent or refused, never cut.
# A \u0000 (PostgreSQL text cannot hold NUL) is a 400 naming the field on
# POST, PUT and PATCH; every other control character, quotes, backslashes
# and non-BMP characters round-trip byte-exact in procedure (GET, the
# collection and what psql reads), escaped as Python's json.dumps with
# ensure_ascii (Flask's jsonify) writes them; pxcode, a URL segment,
# refuses control characters; error messages name the field at fault.
use strict;
use warnings;
use utf8;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use Encode qw(encode_utf8);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $srv = StarterTest::Server->new(pg => $pg);

my $BASE = '/api/v1.0/pxcodes/';
my $HOST = 'localhost:5000';
my @AUTH = (auth => 'admin:admin');
my $JSON = JSON::PP->new->canonical->ascii;

sub call
{
	my ($method, $path, %o) = @_;
	return request($srv, $method, $path, host => $HOST, @AUTH, %o);
}

# $body: a hash (encoded, ASCII with \u escapes) or the raw bytes.
sub send_json
{
	my ($method, $path, $body, %o) = @_;
	$body = $JSON->encode($body) if ref $body;
	my %h = ('Content-Type' => 'application/json', %{$o{headers} // {}});
	delete $o{headers};
	return call($method, $path, body => $body, headers => \%h, %o);
}

# Python's json.dumps(s, ensure_ascii=True) of one string, independently
# of JSON::PP (which leaves DEL raw where Python writes \u007f).
sub pystr
{
	my ($s) = @_;
	my %short = ('"' => '\\"', '\\' => '\\\\', "\n" => '\\n',
	    "\r" => '\\r', "\t" => '\\t', "\b" => '\\b', "\f" => '\\f');
	my $o = '"';
	for my $ch (split //, $s) {
		my $c = ord $ch;
		if (exists $short{$ch}) {
			$o .= $short{$ch};
		} elsif ($c >= 0x20 && $c <= 0x7e) {
			$o .= $ch;
		} elsif ($c >= 0x10000) {
			my $v = $c - 0x10000;
			$o .= sprintf('\\u%04x\\u%04x', 0xd800 + ($v >> 10),
			    0xdc00 + ($v & 0x3ff));
		} else {
			$o .= sprintf('\\u%04x', $c);
		}
	}
	return "$o\"";
}

sub item_body
{
	my ($code, $proc) = @_;
	return '{"procedure":' . pystr($proc) . ',"pxcode":' . pystr($code)
	    . ',"url":' . pystr("http://$HOST$BASE$code") . '}';
}

# What PostgreSQL holds, as hex of its UTF-8 bytes (psql output cannot
# carry newlines and tabs unharmed); undef when there is no such row.
sub db_hex
{
	my ($code) = @_;
	my $rows = $pg->psql_rows("SELECT encode(convert_to(procedure, "
	    . "'UTF8'), 'hex') FROM starter_pxcodes WHERE pxcode = '$code'");
	return @$rows ? $rows->[0][0] : undef;
}

sub db_count
{
	my ($like) = @_;
	my $rows = $pg->psql_rows("SELECT count(*) FROM starter_pxcodes "
	    . "WHERE pxcode LIKE '$like'");
	return $rows->[0][0];
}

sub hex_of { return unpack('H*', encode_utf8($_[0])); }

# --- the escaping itself, written out by hand -----------------------------

is(pystr("a\nb\t\x7f\x01\"\\\x{e9}\x{1f600}"),
    '"a\\nb\\t\\u007f\\u0001\\"\\\\\\u00e9\\ud83d\\ude00"',
    'the test\'s encoder writes what json.dumps writes');

# --- round trips -----------------------------------------------------------

# Every control character but NUL, DEL, quotes, backslashes, a slash,
# non-ASCII in and beyond the BMP: 80 characters at most.
my $ALL = join('', map { chr } 1 .. 0x1f) . "\x7f\"\\/\x{e9}\x{2028}"
    . "\x{1f600}\x{10ffff}'<&>";
ok(length $ALL <= 80, 'the test text fits procedure (' . length($ALL)
    . ' characters)');

sub check_item
{
	my ($code, $proc, $name) = @_;
	my $want = item_body($code, $proc) . "\n";
	my $r = call('GET', "$BASE$code");
	is($r->{status}, 200, "$name: GET 200") or diag(explain_response($r));
	is($r->{body}, $want, "$name: GET body is byte-exact");
	is($r->{headers}{etag}, etag_of($want), "$name: ETag is md5 of it");
	is(db_hex($code), hex_of($proc), "$name: stored byte-exact");
	my $c = call('GET', "$BASE?page=2");
	ok(index($c->{body}, item_body($code, $proc)) >= 0,
	    "$name: the collection has the same bytes");
}

my $r = send_json('POST', $BASE, {pxcode => 'RT1', procedure => $ALL});
is($r->{status}, 201, 'POST every control character: 201')
    or diag(explain_response($r));
check_item('RT1', $ALL, 'POST (\\u escapes)');

# The same text sent as raw UTF-8 (JSON needs only " \ and C0 escaped).
my $raw = '{"pxcode":"RT2","procedure":'
    . JSON::PP->new->encode([$ALL]) =~ s/^\[|\]$//gr . '}';
$r = send_json('POST', $BASE, encode_utf8($raw));
is($r->{status}, 201, 'POST raw UTF-8 and raw DEL: 201')
    or diag(explain_response($r));
check_item('RT2', $ALL, 'POST (raw UTF-8)');

my $LINES = "line one\nline two\ttabbed\r\n";
$r = send_json('PUT', "${BASE}RT1", {procedure => $LINES});
is($r->{status}, 200, 'PUT lines and tabs: 200') or diag(explain_response($r));
is($r->{body}, item_body('RT1', $LINES) . "\n", 'PUT: the answer is exact');
is($r->{body}, '{"procedure":"line one\\nline two\\ttabbed\\r\\n",'
    . "\"pxcode\":\"RT1\",\"url\":\"http://$HOST${BASE}RT1\"}\n",
    'PUT: short escapes for \\n \\t \\r');
check_item('RT1', $LINES, 'PUT');

my $REV = reverse $ALL;
$r = send_json('PATCH', "${BASE}RT2", {procedure => $REV});
is($r->{status}, 200, 'PATCH: 200') or diag(explain_response($r));
is($r->{body}, item_body('RT2', $REV) . "\n", 'PATCH: the answer is exact');
check_item('RT2', $REV, 'PATCH');

# A create through PUT If-None-Match: *.
$r = send_json('PUT', "${BASE}RT3", {procedure => "\x7f\x1f\b\f"},
    headers => {'If-None-Match' => '*'});
is($r->{status}, 201, 'PUT If-None-Match: * with controls: 201')
    or diag(explain_response($r));
check_item('RT3', "\x7f\x1f\b\f", 'PUT create');

# An escaped backslash before u0000 is six characters of text, no NUL.
$r = send_json('POST', $BASE, '{"pxcode":"RT4","procedure":"a\\\\u0000b"}');
is($r->{status}, 201, 'POST "a\\\\u0000b" (no NUL): 201')
    or diag(explain_response($r));
check_item('RT4', 'a\\u0000b', 'escaped backslash');

# --- NUL: refused, naming the field, nothing stored ------------------------

sub nul_case
{
	my ($method, $path, $body, $field, $name, %o) = @_;
	my $r = send_json($method, $path, $body, %o);
	check_error($r, 400, $name, message => qr/\b\Q$field\E\b.*NUL/);
	my $other = $field eq 'pxcode' ? 'procedure' : 'pxcode';
	unlike($r->{json}{message} // '', qr/\Q$other\E/,
	    "$name: the message does not name $other");
}

nul_case('POST', $BASE, '{"pxcode":"ABCDEFGHIJ\\u0000KLMNOPQRS",'
    . '"procedure":"X"}', 'pxcode', 'POST pxcode with \\u0000');
is(db_count('ABCDEFGHIJ%'), 0, 'POST pxcode with \\u0000: nothing stored');
nul_case('POST', $BASE, '{"pxcode":"NUL1","procedure":"a\\u0000b"}',
    'procedure', 'POST procedure with \\u0000');
is(db_count('NUL1'), 0, 'POST procedure with \\u0000: nothing stored');
nul_case('PUT', "${BASE}RT4", '{"procedure":"\\u0000"}', 'procedure',
    'PUT procedure with \\u0000');
nul_case('PUT', "${BASE}NUL2", '{"procedure":"x\\u0000"}', 'procedure',
    'PUT If-None-Match: * procedure with \\u0000',
    headers => {'If-None-Match' => '*'});
is(db_count('NUL2'), 0, 'PUT create with \\u0000: nothing stored');
nul_case('PATCH', "${BASE}RT4", '{"procedure":"b\\u0000"}', 'procedure',
    'PATCH procedure with \\u0000');
nul_case('PATCH', "${BASE}RT4", '{"pxcode":"RT4\\u0000x"}', 'pxcode',
    'PATCH pxcode with \\u0000');
is(db_hex('RT4'), hex_of('a\\u0000b'), 'the refused writes changed nothing');
is(db_count('RT4%'), 1, 'no renamed row either');

# A member name with NUL would read as "pxcode".
$r = send_json('POST', $BASE,
    '{"pxcode\\u0000x":"NUL3","pxcode":"NUL4","procedure":"X"}');
check_error($r, 400, 'member name with \\u0000', message => qr/NUL/);
is(db_count('NUL%'), 0, 'member name with \\u0000: nothing stored');

# A NUL in a member nobody reads stores nothing differently.
$r = send_json('POST', $BASE,
    '{"pxcode":"RT5","procedure":"ok","note":"\\u0000"}');
is($r->{status}, 201, 'NUL in an ignored member: 201')
    or diag(explain_response($r));
check_item('RT5', 'ok', 'ignored member');

# --- pxcode refuses control characters; messages name the field ----------

sub field_error
{
	my ($method, $path, $body, $field, $re, $name, %o) = @_;
	my $r = send_json($method, $path, $body, %o);
	check_error($r, 400, $name, message => qr/\b\Q$field\E\b.*$re/);
	my $other = $field eq 'pxcode' ? 'procedure' : 'pxcode';
	unlike($r->{json}{message} // '', qr/\Q$other\E/,
	    "$name: the message does not name $other");
}

for my $ch (1, 9, 10, 0x1f, 0x7f) {
	field_error('POST', $BASE, {pxcode => "C" . chr($ch), procedure => 'X'},
	    'pxcode', qr/control/, sprintf('POST pxcode with 0x%02x', $ch));
}
field_error('PATCH', "${BASE}RT5", {pxcode => "a\nb"}, 'pxcode',
    qr/control/, 'PATCH pxcode with a newline');
field_error('PUT', "${BASE}C%0AD", {procedure => 'X'}, 'pxcode',
    qr/control/, 'PUT If-None-Match: * at a URL with %0A',
    headers => {'If-None-Match' => '*'});
is(db_count('C%'), 0, 'no pxcode with a control character stored');

field_error('POST', $BASE, {pxcode => 'M1', procedure => 'P' x 81},
    'procedure', qr/80/, 'POST procedure of 81 characters');
field_error('POST', $BASE, {pxcode => 'M1'}, 'procedure', qr/missing/,
    'POST without procedure');
field_error('POST', $BASE, {pxcode => 'M1', procedure => 5}, 'procedure',
    qr/string/, 'POST non-string procedure');
field_error('POST', $BASE, {procedure => 'X'}, 'pxcode', qr/missing/,
    'POST without pxcode');
field_error('POST', $BASE, {pxcode => '12345678901', procedure => 'X'},
    'pxcode', qr/10/, 'POST pxcode of 11 characters');
field_error('PUT', "${BASE}RT5", {procedure => ['X']}, 'procedure',
    qr/string/, 'PUT non-string procedure');
field_error('PATCH', "${BASE}RT5", {procedure => 'P' x 81}, 'procedure',
    qr/80/, 'PATCH procedure of 81 characters');
field_error('POST', $BASE, "{\"pxcode\":\"M2\",\"procedure\":\"\xff\"}",
    'procedure', qr/UTF-8/, 'POST procedure that is not UTF-8');
field_error('POST', $BASE,
    "{\"pxcode\":\"M3\",\"procedure\":\"\xed\xa0\x80\"}",
    'procedure', qr/UTF-8/, 'POST procedure with an encoded surrogate');
# Two of a name: cJSON would keep the first, the original the last.
field_error('POST', $BASE, '{"pxcode":"M4","procedure":"a","procedure":"b"}',
    'procedure', qr/more than once/, 'POST procedure given twice');
field_error('PATCH', "${BASE}RT5", '{"pxcode":"M5","pxcode":"M6"}',
    'pxcode', qr/more than once/, 'PATCH pxcode given twice');
is(db_count('M%'), 0, 'none of the refused bodies stored anything');

finish();
