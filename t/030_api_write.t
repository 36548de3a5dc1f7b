# 030_api_write: POST, PUT, PATCH, DELETE, validation, 405/Allow, OPTIONS,
# 409, 415 and If-Match on writes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $srv = StarterTest::Server->new(pg => $pg);

my $BASE = '/api/v1.0/pxcodes/';
my $HOST = 'localhost:5000';
my @AUTH = (auth => 'admin:admin');
my $JSON = JSON::PP->new->canonical;

sub call
{
	my ($method, $path, %o) = @_;
	return request($srv, $method, $path, host => $HOST, @AUTH, %o);
}

# A JSON request; $data is encoded unless it is a plain string.
sub send_json
{
	my ($method, $path, $data, %o) = @_;
	my $body = ref $data ? $JSON->encode($data) : $data;
	my %h = ('Content-Type' => 'application/json', %{$o{headers} // {}});
	delete $o{headers};
	return call($method, $path, body => $body, headers => \%h, %o);
}

sub db_procedure
{
	my ($code) = @_;
	my $rows = $pg->psql_rows("SELECT procedure FROM starter_pxcodes "
	    . "WHERE pxcode = '$code'");
	return @$rows ? $rows->[0][0] : undef;
}

sub item_doc
{
	my ($code, $proc) = @_;
	return {url => "http://$HOST$BASE$code", pxcode => $code,
	    procedure => $proc};
}

# --- POST ----------------------------------------------------------------------

my $r = send_json('POST', $BASE, {pxcode => 'T100', procedure => 'TEST ONE'});
is($r->{status}, 201, 'POST new code: 201') or diag(explain_response($r));
is($r->{body}, "{}\n", 'POST new code: body is {} and a newline');
like($r->{headers}{'content-type'} // '', qr{^application/json\b},
    'POST new code: application/json');
is($r->{headers}{location}, "http://$HOST${BASE}T100",
    'POST new code: Location is the absolute item URL');
check_common_headers($r, 'POST new code');
is(db_procedure('T100'), 'TEST ONE', 'POST new code: row in the database');

$r = call('GET', "${BASE}T100");
is($r->{status}, 200, 'GET the posted code: 200');
is($r->{body}, jsonify(item_doc('T100', 'TEST ONE')),
    'GET the posted code: body');

$r = call('GET', "$BASE?per_page=1");
is($r->{json}{meta}{total}, 101, 'collection total counts the new code');
$r = call('GET', "$BASE?page=2");
is($r->{json}{items}[0]{pxcode}, 'T100',
    'the new code is last in id order (page 2 of 100)');

check_error(send_json('POST', $BASE, {pxcode => 'T100', procedure => 'X'}),
    409, 'POST duplicate code');
check_error(send_json('POST', $BASE, {pxcode => '039', procedure => 'X'}),
    409, 'POST duplicate demo code');
is(db_procedure('039'), 'EXTRACRANIAL PROCEDURES W/O CC/MCC',
    'POST duplicate: existing row unchanged');

$r = send_json('POST', $BASE, {pxcode => 'T101', procedure => 'WITH CHARSET'},
    headers => {'Content-Type' => 'application/json; charset=utf-8'});
is($r->{status}, 201, 'POST with Content-Type application/json; charset=utf-8');

$r = send_json('POST', $BASE, {pxcode => '1234567890',
    procedure => 'P' x 80});
is($r->{status}, 201, 'POST with pxcode of 10 and procedure of 80: 201')
    or diag(explain_response($r));

# Characters, not bytes: 80 non-ASCII characters fit.
{
	my $proc = "\x{c9}" x 80;
	$r = call('POST', $BASE, headers => {'Content-Type' => 'application/json'},
	    body => JSON::PP->new->utf8->encode({pxcode => 'T102',
	    procedure => $proc}));
	is($r->{status}, 201, 'POST 80 non-ASCII characters (160 bytes): 201')
	    or diag(explain_response($r));
	$r = call('GET', "${BASE}T102");
	is($r->{json}{procedure}, $proc, 'non-ASCII procedure read back intact');
	is($r->{body}, jsonify(item_doc('T102', $proc)),
	    'non-ASCII procedure: \\u escapes as jsonify writes them');
}

# --- POST validation ----------------------------------------------------------

my @bad = (
    ['missing pxcode', {procedure => 'X'}, qr/pxcode/],
    ['missing procedure', {pxcode => 'T200'}, qr/procedure/],
    ['pxcode is a number', {pxcode => 200, procedure => 'X'}, qr/pxcode/],
    ['procedure is null', {pxcode => 'T201', procedure => undef},
	qr/procedure/],
    ['procedure is an array', {pxcode => 'T202', procedure => ['X']},
	qr/procedure/],
    ['pxcode of 11 characters', {pxcode => '12345678901', procedure => 'X'},
	qr/pxcode/],
    ['procedure of 81 characters', {pxcode => 'T203', procedure => 'P' x 81},
	qr/procedure/],
    ['body is not JSON', '{"pxcode": "T204", ', qr/json/i],
    ['body is garbage', 'hello', qr/json/i],
    ['body is empty', '', qr/\S/],
    ['body is an array', '["T205", "X"]', qr/object/i],
    ['body is a string', '"T206"', qr/object/i],
    ['body is null', 'null', qr/object/i],
);
for my $b (@bad) {
	my ($name, $data, $msg) = @$b;
	check_error(send_json('POST', $BASE, $data), 400, "POST $name",
	    message => $msg);
}
is($pg->psql(q{SELECT count(*) FROM starter_pxcodes
    WHERE pxcode LIKE 'T2%'}), 0, 'rejected POSTs inserted nothing');

check_error(call('POST', $BASE, body => '{"pxcode":"T210","procedure":"X"}',
    headers => {'Content-Type' => 'text/plain'}), 415,
    'POST with Content-Type text/plain');
check_error(call('POST', $BASE, body => '{"pxcode":"T211","procedure":"X"}'),
    415, 'POST without Content-Type');
check_error(call('POST', $BASE, body => 'pxcode=T212&procedure=X',
    headers => {'Content-Type' => 'application/x-www-form-urlencoded'}),
    415, 'POST form-encoded');
is($pg->psql(q{SELECT count(*) FROM starter_pxcodes
    WHERE pxcode LIKE 'T21%'}), 0, '415 POSTs inserted nothing');

# --- PUT -------------------------------------------------------------------------

$r = send_json('PUT', "${BASE}T100", {procedure => 'REPLACED'});
is($r->{status}, 200, 'PUT: 200') or diag(explain_response($r));
is($r->{body}, jsonify(item_doc('T100', 'REPLACED')), 'PUT: the item');
check_common_headers($r, 'PUT');
is(db_procedure('T100'), 'REPLACED', 'PUT: stored');
is(call('GET', "${BASE}T100")->{json}{procedure}, 'REPLACED',
    'PUT: GET sees the new procedure');

check_error(send_json('PUT', "${BASE}NOPE", {procedure => 'X'}), 404,
    'PUT unknown code');
check_error(send_json('PUT', "${BASE}T100", {procedure => 'P' x 81}), 400,
    'PUT procedure of 81 characters', message => qr/procedure/);
check_error(send_json('PUT', "${BASE}T100", {}), 400,
    'PUT without procedure', message => qr/procedure/);
check_error(send_json('PUT', "${BASE}T100", {procedure => 7}), 400,
    'PUT non-string procedure', message => qr/procedure/);
check_error(send_json('PUT', "${BASE}T100", 'not json'), 400,
    'PUT not JSON', message => qr/json/i);
check_error(send_json('PUT', "${BASE}T100", '[1]'), 400,
    'PUT not an object', message => qr/object/i);
check_error(call('PUT', "${BASE}T100", body => '{"procedure":"X"}',
    headers => {'Content-Type' => 'text/plain'}), 415, 'PUT text/plain');
is(db_procedure('T100'), 'REPLACED', 'rejected PUTs changed nothing');

# If-Match on a write
{
	my $etag = call('GET', "${BASE}T100")->{headers}{etag};
	check_error(send_json('PUT', "${BASE}T100", {procedure => 'LOST'},
	    headers => {'If-Match' => '"0123456789abcdef"'}), 412,
	    'PUT with a stale If-Match');
	is(db_procedure('T100'), 'REPLACED', '412 PUT changed nothing');
	$r = send_json('PUT', "${BASE}T100", {procedure => 'GUARDED'},
	    headers => {'If-Match' => $etag});
	is($r->{status}, 200, 'PUT with the current If-Match: 200');
	is(db_procedure('T100'), 'GUARDED', 'PUT with If-Match: stored');
	check_error(send_json('PUT', "${BASE}T100", {procedure => 'AGAIN'},
	    headers => {'If-Match' => $etag}), 412,
	    'PUT with the ETag of the old representation');
}

# --- PATCH -----------------------------------------------------------------------

$r = send_json('PATCH', "${BASE}T100", {procedure => 'PATCHED'});
is($r->{status}, 200, 'PATCH procedure: 200') or diag(explain_response($r));
is($r->{body}, jsonify(item_doc('T100', 'PATCHED')), 'PATCH: the item');
is(db_procedure('T100'), 'PATCHED', 'PATCH: stored');
check_error(send_json('PATCH', "${BASE}NOPE", {procedure => 'X'}), 404,
    'PATCH unknown code');
check_error(send_json('PATCH', "${BASE}T100", {procedure => 'P' x 81}), 400,
    'PATCH procedure of 81 characters', message => qr/procedure/);
check_error(send_json('PATCH', "${BASE}T100", {procedure => []}), 400,
    'PATCH non-string procedure', message => qr/procedure/);
check_error(send_json('PATCH', "${BASE}T100", '{'), 400, 'PATCH not JSON',
    message => qr/json/i);
check_error(call('PATCH', "${BASE}T100", body => '{"procedure":"X"}',
    headers => {'Content-Type' => 'text/plain'}), 415, 'PATCH text/plain');
is(db_procedure('T100'), 'PATCHED', 'rejected PATCHes changed nothing');

# --- DELETE ----------------------------------------------------------------------

{
	my $c = StarterTest::Conn->new($srv);
	my $d = $c->request('DELETE', "${BASE}T100", host => $HOST, @AUTH);
	is($d->{status}, 204, 'DELETE: 204') or diag(explain_response($d));
	is($d->{body}, '', 'DELETE: no body');
	like($d->{headers}{date} // '', qr/GMT$/, 'DELETE: Date header');
	like($d->{headers}{server} // '', qr/\S/, 'DELETE: Server header');
	my $g = $c->request('GET', "${BASE}T100", host => $HOST, @AUTH);
	check_error($g, 404, 'GET after DELETE (same connection)');
	$c->close;
}
is(db_procedure('T100'), undef, 'DELETE: row gone');
check_error(call('DELETE', "${BASE}T100"), 404, 'DELETE again');
$r = send_json('POST', $BASE, {pxcode => 'T100', procedure => 'REBORN'});
is($r->{status}, 201, 'POST a deleted code again: 201');

# --- codes that need escaping in a URL ---------------------------------------

$r = send_json('POST', $BASE, {pxcode => 'A B/C?', procedure => 'ODD'});
is($r->{status}, 201, 'POST a code with space, slash, question mark: 201');
is($r->{headers}{location}, "http://$HOST${BASE}A%20B%2FC%3F",
    'Location percent-encodes the code');
$r = call('GET', "${BASE}A%20B%2FC%3F");
is($r->{status}, 200, 'GET the percent-encoded code: 200');
is($r->{body}, jsonify({url => "http://$HOST${BASE}A%20B%2FC%3F",
    pxcode => 'A B/C?', procedure => 'ODD'}),
    'item url percent-encodes the code');

# --- PATCH renames, conflicts, DELETE preconditions -----------------------------

$r = send_json('PATCH', "${BASE}T101", {pxcode => 'T101R'});
is($r->{status}, 200, 'PATCH pxcode: 200') or diag(explain_response($r));
is($r->{body}, jsonify(item_doc('T101R', 'WITH CHARSET')),
    'PATCH pxcode: the renamed item');
check_error(call('GET', "${BASE}T101"), 404, 'GET the old code after rename');
check_error(send_json('PATCH', "${BASE}T101R", {pxcode => '039'}), 409,
    'PATCH pxcode onto an existing code');
check_error(send_json('PATCH', "${BASE}T101R", {pxcode => '12345678901'}),
    400, 'PATCH pxcode of 11 characters', message => qr/pxcode/);
is(db_procedure('T101R'), 'WITH CHARSET', 'failed PATCHes left the row');

check_error(call('DELETE', "${BASE}T101R",
    headers => {'If-Match' => '"0123456789abcdef"'}), 412,
    'DELETE with a stale If-Match');
is(db_procedure('T101R'), 'WITH CHARSET', '412 DELETE kept the row');

# --- concurrent duplicates: one winner, the rest 409 ----------------------------

{
	my $body = '{"pxcode":"RACE1","procedure":"RACE"}';
	my @c = map { StarterTest::Conn->new($srv) } 1 .. 8;
	$_->send(build_request('POST', $BASE, host => $HOST, @AUTH,
	    body => $body, headers => {'Content-Type' => 'application/json'}))
	    for @c;
	my @st = map { $_ ? $_->{status} : 0 } read_all(\@c, timeout => 10);
	$_->close for @c;
	is(scalar(grep { $_ == 201 } @st), 1,
	    '8 concurrent POSTs of one code: exactly one 201');
	is(scalar(grep { $_ == 409 } @st), 7,
	    '8 concurrent POSTs of one code: the others 409')
	    or diag("statuses: @st");
	is($pg->psql(q{SELECT count(*) FROM starter_pxcodes
	    WHERE pxcode = 'RACE1'}), 1, 'concurrent POSTs: one row');
}

# --- every worker sees every write at once (no stale answers) --------------------

{
	my $code = 'COH1';
	is(send_json('POST', $BASE, {pxcode => $code, procedure => 'V0'})
	    ->{status}, 201, 'coherence: POST');
	my $stale = 0;
	my $old_etag;
	for my $i (1 .. 10) {
		my $p = send_json('PUT', "$BASE$code", {procedure => "V$i"});
		$stale++ unless $p->{status} == 200;
		for (1 .. 4) {		# fresh connections: any worker
			my $g = call('GET', "$BASE$code");
			$stale++ unless ($g->{json}{procedure} // '') eq "V$i";
		}
		if (defined $old_etag) {
			my $c = call('GET', "$BASE$code",
			    headers => {'If-None-Match' => $old_etag});
			$stale++ unless $c->{status} == 200;
		}
		$old_etag = call('GET', "$BASE$code")->{headers}{etag};
	}
	is($stale, 0, 'coherence: after each PUT every GET sees it, '
	    . 'and the old ETag no longer matches');

	my $total = call('GET', "$BASE?per_page=1")->{json}{meta}{total};
	is(send_json('POST', $BASE, {pxcode => 'COH2', procedure => 'X'})
	    ->{status}, 201, 'coherence: a second POST');
	my @t = map { call('GET', "$BASE?per_page=1")->{json}{meta}{total} }
	    1 .. 4;
	is("@t", join(' ', ($total + 1) x 4),
	    'coherence: every worker counts the new row at once');
	is(call('DELETE', "${BASE}COH2")->{status}, 204, 'coherence: DELETE');
	my @s = map { call('GET', "${BASE}COH2")->{status} } 1 .. 4;
	is("@s", '404 404 404 404', 'coherence: every worker sees the DELETE');
	@t = map { call('GET', "$BASE?per_page=1")->{json}{meta}{total} }
	    1 .. 4;
	is("@t", join(' ', ($total) x 4),
	    'coherence: every worker counts the DELETE at once');

	# A change made in the database directly shows within seconds.
	call('GET', "$BASE$code") for 1 .. 4;
	$pg->psql("UPDATE starter_pxcodes SET procedure = 'BY SQL' "
	    . "WHERE pxcode = '$code'");
	ok(wait_until(sub {
		for (1 .. 4) {
			return 0 unless (call('GET', "$BASE$code")->{json}{procedure}
			    // '') eq 'BY SQL';
		}
		return 1;
	}, timeout => 5, interval => 0.2),
	    'an UPDATE made with psql is served within 5 s');
}

# --- 405 and OPTIONS ---------------------------------------------------------

sub allow_set
{
	my ($r) = @_;
	return {map { uc($_) => 1 } split /\s*,\s*/,
	    $r->{headers}{allow} // ''};
}

for my $case (['POST', "${BASE}039", [qw(GET HEAD PUT PATCH DELETE)], ['POST']],
    ['PUT', $BASE, [qw(GET HEAD POST)], [qw(PUT PATCH DELETE)]],
    ['PATCH', $BASE, [qw(GET HEAD POST)], [qw(PUT PATCH DELETE)]],
    ['DELETE', $BASE, [qw(GET HEAD POST)], [qw(PUT PATCH DELETE)]]) {
	my ($m, $path, $want, $not) = @$case;
	my $name = "$m $path";
	my $resp = send_json($m, $path, {pxcode => 'T300', procedure => 'X'});
	check_error($resp, 405, $name);
	my $allow = allow_set($resp);
	ok((!grep { !$allow->{$_} } @$want), "$name: Allow lists @$want")
	    or diag("Allow: " . ($resp->{headers}{allow} // 'missing'));
	ok((!grep { $allow->{$_} } @$not), "$name: Allow omits @$not")
	    or diag("Allow: " . ($resp->{headers}{allow} // 'missing'));
}
is($pg->psql(q{SELECT count(*) FROM starter_pxcodes
    WHERE pxcode = 'T300'}), 0, '405 requests inserted nothing');
is(db_procedure('039'), 'EXTRACRANIAL PROCEDURES W/O CC/MCC',
    '405 requests changed nothing');

for my $case ([$BASE, [qw(GET HEAD POST OPTIONS)]],
    ["${BASE}039", [qw(GET HEAD PUT PATCH DELETE OPTIONS)]]) {
	my ($path, $want) = @$case;
	my $o = call('OPTIONS', $path);
	ok($o->{status} >= 200 && $o->{status} < 300, "OPTIONS $path: 2xx")
	    or diag(explain_response($o));
	my $allow = allow_set($o);
	ok((!grep { !$allow->{$_} } @$want), "OPTIONS $path: Allow lists @$want")
	    or diag("Allow: " . ($o->{headers}{allow} // 'missing'));
	check_common_headers($o, "OPTIONS $path");
}

finish();
