# 131_encounters: the second demo resource, served by the engine from its
# declaration alone (a config file declaring pxcodes and encounters):
# output typed as the columns (numbers, numeric with its exact digits,
# booleans, null, ISO dates, timestamptz in UTC), a generated key in
# Location, read-only and generated columns, foreign key, CHECK and NOT
# NULL violations, type errors and unknown fields naming the field, PATCH
# to null, PUT, DELETE, ETag/304/412 and the collection's paging.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use Encode qw(decode_utf8);
use JSON::PP;
use Time::Local qw(timegm);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);

my $conf = StarterTest::basedir() . '/starterd.conf';
open my $fh, '>', $conf or BAIL_OUT("$conf: $!");
print $fh "# both demo resources, as the sample configuration declares them\n",
    sample_resources();
close $fh;

my $srv = StarterTest::Server->new(pg => $pg, args => ['-f', $conf]);

my $BASE = '/api/v1.0/encounters/';
my $HOST = 'localhost:5000';
my @AUTH = (auth => 'admin:admin');
my $JSON = JSON::PP->new->canonical;
my $STR = JSON::PP->new->ascii->allow_nonref;	# strings as jsonify writes them

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

# The row as the database has it: id, pxcode, seen_on, charge (its text,
# the exact digits), paid (t/f), note (undef for NULL), created_at (epoch
# seconds, with the microseconds).
sub db_row
{
	my ($id) = @_;
	my $rows = $pg->psql_rows(q{SELECT id, pxcode,
	    to_char(seen_on, 'YYYY-MM-DD'), charge, paid, note IS NULL,
	    coalesce(note, ''), extract(epoch FROM created_at)
	    FROM starter_encounters WHERE id = } . $id);
	return undef unless @$rows;
	my ($i, $px, $day, $charge, $paid, $isnull, $note, $epoch) =
	    @{$rows->[0]};
	return {id => $i, pxcode => $px, seen_on => $day, charge => $charge,
	    paid => $paid, note => $isnull eq 't' ? undef : decode_utf8($note),
	    epoch => $epoch};
}

# An ISO 8601 timestamp in UTC to epoch seconds; undef if it is none.
sub iso_epoch
{
	my ($s) = @_;
	return undef unless defined $s && $s =~
	    /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d{1,6})?(?:Z|\+00:00)$/;
	return timegm($6, $5, $4, $3, $2 - 1, $1) + ($7 // 0);
}

# The exact body of an item: sorted keys, compact, the numbers as
# numbers with the column's digits, strings as jsonify writes them.
# created_at is the response's own (its form is checked apart).
sub item_body
{
	my ($row, $created) = @_;
	return sprintf('{"charge":%s,"created_at":%s,"id":%d,"note":%s,'
	    . '"paid":%s,"pxcode":%s,"seen_on":"%s","url":"http://%s%s%d"}'
	    . "\n", $row->{charge}, $STR->encode($created), $row->{id},
	    defined $row->{note} ? $STR->encode($row->{note}) : 'null',
	    $row->{paid} eq 't' ? 'true' : 'false', $STR->encode($row->{pxcode}),
	    $row->{seen_on}, $HOST, $BASE, $row->{id});
}

# The item at $id read back and compared with the row, field by field
# and byte for byte.
sub check_item
{
	my ($id, $name) = @_;
	my $row = db_row($id);
	ok($row, "$name: the row is in the database") or return;
	my $r = call('GET', "$BASE$id");
	is($r->{status}, 200, "$name: GET 200") or return diag(explain_response($r));
	check_common_headers($r, $name);
	my $j = $r->{json} // {};
	my $t = iso_epoch($j->{created_at});
	ok(defined $t, "$name: created_at is ISO 8601 in UTC ("
	    . ($j->{created_at} // 'missing') . ')');
	ok(defined $t && abs($t - $row->{epoch}) < 1e-5,
	    "$name: created_at is the row's, to the microsecond")
	    or diag("got " . ($t // 'none') . ", database $row->{epoch}");
	is($r->{body}, item_body($row, $j->{created_at} // ''),
	    "$name: the exact document");
	like($r->{body}, qr/"id":$id,/, "$name: id is a JSON number");
	like($r->{body}, qr/"charge":\Q$row->{charge}\E,/,
	    "$name: charge a number with the column's exact digits");
	like($r->{body}, qr/"paid":(true|false),/, "$name: paid a boolean");
	is($r->{headers}{etag}, etag_of($r->{body}),
	    "$name: ETag is the quoted md5 of the body");
	return $r;
}

# --- the demo rows ---------------------------------------------------------------

is($pg->psql('SELECT count(*) FROM starter_encounters'), 1000,
    'setup: 1000 demo encounters');
my ($NULLID) = $pg->psql('SELECT min(id) FROM starter_encounters '
    . 'WHERE note IS NULL AND charge > 0');
my ($FREEID) = $pg->psql('SELECT min(id) FROM starter_encounters '
    . 'WHERE charge = 0');
my ($QUOTEID) = $pg->psql(q{SELECT min(id) FROM starter_encounters
    WHERE note LIKE '%"%'});
my ($UNIID) = $pg->psql(q{SELECT min(id) FROM starter_encounters
    WHERE note LIKE 'seen at the Caf%'});
my ($TABID) = $pg->psql(q{SELECT min(id) FROM starter_encounters
    WHERE note LIKE 'back-slash%'});

my $r = check_item($NULLID, "demo encounter $NULLID (NULL note)");
like($r->{body} // '', qr/"note":null,/, 'a NULL note is JSON null');
like($r->{body} // '', qr/"seen_on":"\d{4}-\d\d-\d\d",/,
    'seen_on is an ISO date');
$r = check_item($FREEID, "demo encounter $FREEID (charge 0.00)");
like($r->{body} // '', qr/"charge":0\.00,/,
    'charge 0.00 keeps its digits (never through a double)');
check_item($QUOTEID, "demo encounter $QUOTEID (quotes in the note)");
check_item($UNIID, "demo encounter $UNIID (non-ASCII note)");
check_item($TABID, "demo encounter $TABID (backslash and tab)");

$r = call('HEAD', "$BASE$NULLID");
is($r->{status}, 200, 'HEAD item: 200');
is($r->{body}, '', 'HEAD item: no body');
check_common_headers($r, 'HEAD item', head => 1);

check_error(call('GET', "${BASE}999999"), 404, 'GET an unknown id');
$r = call('GET', "${BASE}abc");
ok($r->{status} == 400 || $r->{status} == 404,
    "GET a non-integer id: 400 or 404 (got $r->{status})");
is(request($srv, 'GET', "$BASE$NULLID", host => $HOST)->{status}, 401,
    'GET without credentials: 401 (read = user)');

# pxcodes stays as it was, beside encounters.
$r = call('GET', '/api/v1.0/pxcodes/039');
is($r->{body}, jsonify({url => "http://$HOST/api/v1.0/pxcodes/039",
    pxcode => '039', procedure => 'EXTRACRANIAL PROCEDURES W/O CC/MCC'}),
    'pxcodes 039: the seed document, beside encounters');

# --- the collection --------------------------------------------------------------

sub page_ids
{
	my ($r) = @_;
	return join ',', map { $_->{id} } @{($r->{json} // {})->{items} // []};
}

$r = call('GET', $BASE);
is($r->{status}, 200, 'GET collection: 200') or diag(explain_response($r));
check_common_headers($r, 'GET collection');
my $m = $r->{json}{meta} // {};
is_deeply([@$m{qw(page per_page pages total)}], [1, 100, 10, 1000],
    'GET collection: page 1 of 10, 100 a page, 1000 in all');
is(page_ids($r), join(',', 1 .. 100), 'GET collection: ids 1 to 100 (order = id)');
is($m->{first}, "http://$HOST$BASE?per_page=100&page=1", 'first link');
is($m->{last}, "http://$HOST$BASE?per_page=100&page=10", 'last link');
is($m->{next}, "http://$HOST$BASE?per_page=100&page=2", 'next link');
ok(exists $m->{prev} && !defined $m->{prev}, 'prev is null on page 1');
is($r->{json}{items}[0]{url}, "http://$HOST${BASE}1",
    'items carry their absolute url');
is($r->{headers}{etag}, etag_of($r->{body}), 'collection ETag: md5 of the body');
{
	# The items are the items' documents, byte for byte.
	my ($first) = $r->{body} =~ /^\{"items":\[(\{[^{}]*\})/;
	my $one = call('GET', "${BASE}1");
	is(($first // '') . "\n", $one->{body},
	    'the first item of the page is the document of item 1');
}

$r = call('GET', "$BASE?per_page=10&page=3");
is($r->{status}, 200, 'per_page=10&page=3: 200');
is(page_ids($r), join(',', 21 .. 30), 'per_page=10&page=3: ids 21 to 30');
$m = $r->{json}{meta} // {};
is_deeply([@$m{qw(page per_page pages total)}], [3, 10, 100, 1000],
    'per_page=10&page=3: meta');
is($m->{prev}, "http://$HOST$BASE?per_page=10&page=2", '... prev link');
is($m->{next}, "http://$HOST$BASE?per_page=10&page=4", '... next link');
is($m->{last}, "http://$HOST$BASE?per_page=10&page=100", '... last link');

$r = call('GET', "$BASE?per_page=7&page=143");
is(page_ids($r), join(',', 995 .. 1000), 'the last, short page');
ok(exists $r->{json}{meta}{next} && !defined $r->{json}{meta}{next},
    '... next is null');
$r = call('GET', "$BASE?per_page=500");
is($r->{json}{meta}{per_page}, 100, 'per_page=500: capped to max_per_page');
check_error(call('GET', "$BASE?page=11"), 404, 'GET past the last page');
check_error(call('GET', "$BASE?per_page=0"), 400, 'per_page=0');

# Conditional GETs on the collection.
$r = call('GET', "$BASE?per_page=5");
my $cetag = $r->{headers}{etag};
$r = call('GET', "$BASE?per_page=5", headers => {'If-None-Match' => $cetag});
is($r->{status}, 304, 'collection with its ETag in If-None-Match: 304');
check_common_headers($r, 'collection 304');

# --- POST ------------------------------------------------------------------------

my %NEW = (pxcode => '039', seen_on => '2026-01-31', charge => '12.50',
    paid => JSON::PP::true, note => "new \x{e9}ncounter \"quoted\"");
my $body = '{"charge":12.50,"note":' . $STR->encode($NEW{note})
    . ',"paid":true,"pxcode":"039","seen_on":"2026-01-31"}';
$r = send_json('POST', $BASE, $body);
is($r->{status}, 201, 'POST without id: 201') or diag(explain_response($r));
check_common_headers($r, 'POST');
my ($NEWID) = ($r->{headers}{location} // '') =~ m{^http://\Q$HOST$BASE\E(\d+)$};
ok(defined $NEWID, 'POST: Location is the absolute URL of the generated id')
    or diag('Location: ' . ($r->{headers}{location} // 'missing'));
$NEWID //= 0;
is($NEWID, 1001, 'POST: the generated id is the next one (1001)');
my $row = db_row($NEWID);
is_deeply($row && {map { $_ => $row->{$_} } qw(pxcode seen_on charge paid note)},
    {pxcode => '039', seen_on => '2026-01-31', charge => '12.50', paid => 't',
    note => $NEW{note}}, 'POST: the row as sent');
ok($row && abs($row->{epoch} - time) < 120,
    'POST: created_at filled in by the database (now)');
$r = check_item($NEWID, 'POST read back');
like($r->{body} // '', qr/"charge":12\.50,/, 'POST read back: 12.50 exactly');

# Defaults: paid false, note null.
$r = send_json('POST', $BASE, {pxcode => '470', seen_on => '2026-02-01',
    charge => 1});
is($r->{status}, 201, 'POST with only the required fields: 201')
    or diag(explain_response($r));
my ($ID2) = ($r->{headers}{location} // '') =~ /(\d+)$/;
$row = db_row($ID2 // 0);
is($row && $row->{paid}, 'f', 'POST: paid defaults to false');
ok($row && !defined $row->{note}, 'POST: note defaults to NULL');
is($row && $row->{charge}, '1.00', 'POST: charge 1 stored as 1.00');
$r = check_item($ID2 // 0, 'POST with defaults read back');
like($r->{body} // '', qr/"note":null,"paid":false,/,
    'POST with defaults: note null, paid false');

# Read-only and generated columns.
my %OK = (pxcode => '039', seen_on => '2026-01-31', charge => 5);
my $count = $pg->psql('SELECT count(*) FROM starter_encounters');
check_error(send_json('POST', $BASE, {%OK, id => 5000}), 400,
    'POST with id (generated)', message => qr/\bid\b/);
check_error(send_json('POST', $BASE, {%OK,
    created_at => '2026-01-31T00:00:00Z'}), 400,
    'POST with created_at (read-only)', message => qr/created_at/);

# Foreign key: an unknown pxcode.
$r = send_json('POST', $BASE, {%OK, pxcode => 'NOPE'});
ok($r->{status} == 409 || $r->{status} == 422,
    "POST with an unknown pxcode: 409 or 422 (got $r->{status})")
    or diag(explain_response($r));
check_error($r, $r->{status} == 422 ? 422 : 409, 'POST with an unknown pxcode',
    message => qr/pxcodes/);
unlike($r->{json}{message} // '', qr/\b(INSERT|SELECT|violates)\b|DETAIL/,
    '... without leaking SQL');

# CHECK: a negative charge.
$r = send_json('POST', $BASE, {%OK, charge => -1});
check_error($r, 422, 'POST with a negative charge (CHECK)',
    message => qr/charge/);
unlike($r->{json}{message} // '', qr/\b(INSERT|SELECT|violates)\b|DETAIL/,
    '... without leaking SQL');

# NOT NULL without a default: missing.
for my $f (qw(pxcode seen_on charge)) {
	my %b = %OK;
	delete $b{$f};
	check_error(send_json('POST', $BASE, \%b), 400, "POST without $f",
	    message => qr/\b$f\b/);
}
check_error(send_json('POST', $BASE, {%OK, charge => undef}), 400,
    'POST with charge null', message => qr/\bcharge\b/);

# Wrong types, too long, out of range: 400 naming the field.
for my $case (['charge', '"abc"'], ['charge', 'true'], ['charge', '[1]'],
    ['charge', '1e20'], ['paid', '"yes"'], ['paid', '1'],
    ['seen_on', '20260131'], ['seen_on', '"2026-13-45"'],
    ['seen_on', '"yesterday"'], ['pxcode', '123'],
    ['pxcode', '"XXXXXXXXXXX"'], ['note', '[1]'], ['note', '{"a":1}']) {
	my ($f, $v) = @$case;
	my %b = (%OK, $f => 0);
	my $json = $JSON->encode(\%b) =~ s/"$f":0/"$f":$v/r;
	check_error(send_json('POST', $BASE, $json), 400,
	    "POST with $f = $v", message => qr/\b$f\b/);
}

# Unknown fields.
check_error(send_json('POST', $BASE, {%OK, bogus => 1}), 400,
    'POST with an unknown field', message => qr/bogus/);
check_error(send_json('POST', $BASE, '{"pxcode":"039"'), 400,
    'POST not JSON', message => qr/json/i);
is($pg->psql('SELECT count(*) FROM starter_encounters'), $count,
    'the refused POSTs inserted nothing');

# --- PATCH -----------------------------------------------------------------------

$r = send_json('PATCH', "$BASE$NEWID", '{"note":null}');
is($r->{status}, 200, 'PATCH note to null: 200') or diag(explain_response($r));
$row = db_row($NEWID);
ok($row && !defined $row->{note}, 'PATCH note to null: NULL in the database');
is($r->{body}, item_body($row, ($r->{json} // {})->{created_at} // ''),
    'PATCH: answers with the item');
check_item($NEWID, 'PATCH read back');
$r = send_json('PATCH', "$BASE$NEWID", '{"paid":false,"charge":99.99}');
is($r->{status}, 200, 'PATCH paid and charge: 200');
$row = db_row($NEWID);
is("$row->{paid} $row->{charge}", 'f 99.99', 'PATCH paid and charge: stored');
check_error(send_json('PATCH', "$BASE$NEWID", '{"charge":null}'), 400,
    'PATCH a NOT NULL column to null', message => qr/charge/);
check_error(send_json('PATCH', "$BASE$NEWID", '{"id":7}'), 400,
    'PATCH the generated id', message => qr/\bid\b/);
check_error(send_json('PATCH', "$BASE$NEWID",
    '{"created_at":"2020-01-01T00:00:00Z"}'), 400,
    'PATCH created_at (read-only)', message => qr/created_at/);
check_error(send_json('PATCH', "$BASE$NEWID", '{"charge":-5}'), 422,
    'PATCH a negative charge (CHECK)');
$r = send_json('PATCH', "$BASE$NEWID", '{"pxcode":"NOPE"}');
ok($r->{status} == 409 || $r->{status} == 422,
    "PATCH to an unknown pxcode: 409 or 422 (got $r->{status})");
check_error(send_json('PATCH', "${BASE}999999", '{"note":"x"}'), 404,
    'PATCH an unknown id');
$row = db_row($NEWID);
is("$row->{paid} $row->{charge} $row->{pxcode}", 'f 99.99 039',
    'the refused PATCHes changed nothing');

# --- PUT -------------------------------------------------------------------------

my $created = db_row($NEWID)->{epoch};
$r = send_json('PUT', "$BASE$NEWID", '{"pxcode":"470","seen_on":"2026-03-01",'
    . '"charge":0.5,"paid":true,"note":"replaced"}');
is($r->{status}, 200, 'PUT: 200') or diag(explain_response($r));
$row = db_row($NEWID);
is_deeply($row && [@$row{qw(pxcode seen_on charge paid note)}],
    ['470', '2026-03-01', '0.50', 't', 'replaced'], 'PUT: stored');
is($row->{epoch}, $created, 'PUT: created_at (read-only) unchanged');
check_item($NEWID, 'PUT read back');
check_error(send_json('PUT', "$BASE$NEWID", '{"pxcode":"470"}'), 400,
    'PUT without the NOT NULL fields', message => qr/seen_on|charge/);
check_error(send_json('PUT', "${BASE}999999", '{"pxcode":"470",'
    . '"seen_on":"2026-03-01","charge":1}'), 404, 'PUT an unknown id');

# --- ETag, 304, If-Match ---------------------------------------------------------

$r = call('GET', "$BASE$NEWID");
my $etag = $r->{headers}{etag};
like($etag // '', qr/^"[0-9a-f]{32}"$/, 'item ETag: strong, quoted md5');
$r = call('GET', "$BASE$NEWID", headers => {'If-None-Match' => $etag});
is($r->{status}, 304, 'GET with the current ETag in If-None-Match: 304');
is($r->{body}, '', '304: no body');
check_error(send_json('PATCH', "$BASE$NEWID", '{"note":"lost"}',
    headers => {'If-Match' => '"0123456789abcdef0123456789abcdef"'}), 412,
    'PATCH with a stale If-Match');
is(db_row($NEWID)->{note}, 'replaced', '412: nothing changed');
$r = send_json('PATCH', "$BASE$NEWID", '{"note":"guarded"}',
    headers => {'If-Match' => $etag});
is($r->{status}, 200, 'PATCH with the current If-Match: 200');
isnt($r->{headers}{etag} // call('GET', "$BASE$NEWID")->{headers}{etag},
    $etag, 'the ETag changed with the row');
check_error(call('DELETE', "$BASE$NEWID", headers => {'If-Match' => $etag}),
    412, 'DELETE with the old ETag');

# A change made with psql shows (the NOTIFY trigger of migration 006).
call('GET', "$BASE$ID2") for 1 .. 4;
$pg->psql("UPDATE starter_encounters SET note = 'BY SQL' WHERE id = $ID2");
ok(wait_until(sub {
	for (1 .. 4) {
		return 0 unless (call('GET', "$BASE$ID2")->{json}{note} // '')
		    eq 'BY SQL';
	}
	return 1;
}, timeout => 5, interval => 0.2), 'an UPDATE made with psql is served within 5 s');

# Renaming a pxcode carries its encounters along, and the cache sees it.
call('GET', "$BASE$ID2") for 1 .. 4;
is(send_json('PATCH', '/api/v1.0/pxcodes/470', '{"pxcode":"470R"}')->{status},
    200, 'rename pxcode 470 through the API');
ok(wait_until(sub {
	for (1 .. 4) {
		return 0 unless (call('GET', "$BASE$ID2")->{json}{pxcode} // '')
		    eq '470R';
	}
	return 1;
}, timeout => 5, interval => 0.2), '... its encounters show the new code');

# A pxcode with encounters cannot go.
$r = call('DELETE', '/api/v1.0/pxcodes/470R');
ok($r->{status} == 409 || $r->{status} == 422,
    "DELETE a pxcode that has encounters: 409 or 422 (got $r->{status})");

# --- DELETE, 405, OPTIONS --------------------------------------------------------

$r = call('DELETE', "$BASE$NEWID");
is($r->{status}, 204, 'DELETE: 204') or diag(explain_response($r));
is($r->{body}, '', 'DELETE: no body');
ok(!db_row($NEWID), 'DELETE: the row is gone');
check_error(call('GET', "$BASE$NEWID"), 404, 'GET after DELETE');
check_error(call('DELETE', "$BASE$NEWID"), 404, 'DELETE again');

$r = send_json('PUT', $BASE, {%OK});
check_error($r, 405, 'PUT on the collection');
like($r->{headers}{allow} // '', qr/\bPOST\b/, '405: Allow lists POST');
$r = call('OPTIONS', "$BASE$ID2");
ok($r->{status} >= 200 && $r->{status} < 300, 'OPTIONS item: 2xx');
like($r->{headers}{allow} // '', qr/\bPATCH\b/, 'OPTIONS item: Allow has PATCH');

finish();
