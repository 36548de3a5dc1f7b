# 132_plain_table: an existing table, made with plain psql (no migration of
# ours), declared in a configuration file and served: every supported type
# reads back typed (numbers with their exact digits, booleans, null, ISO
# dates and timestamps, json embedded) and what is accepted is stored
# exactly; wrong values are 400s naming the field; a uuid key, a view
# (read-only) and an unsupported type served as text.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use JSON::PP;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
$pg->psql(<<'SQL');
CREATE SCHEMA lab;
CREATE TABLE lab.samples (
	sid	uuid PRIMARY KEY,
	t	text,
	vc	varchar(5),
	ch	char(3),
	i2	smallint,
	i4	integer,
	i8	bigint,
	num	numeric,
	num52	numeric(5,2),
	r4	real,
	f8	double precision,
	b	boolean,
	d	date,
	ts	timestamp,
	tstz	timestamptz,
	j	json,
	jb	jsonb,
	ip	inet,
	secret	text DEFAULT 'hidden'
);
CREATE VIEW lab.sample_names AS SELECT sid, t FROM lab.samples;
CREATE TABLE lab.parents (id integer PRIMARY KEY, name text NOT NULL);
CREATE TABLE lab.children (id integer PRIMARY KEY,
	parent integer NOT NULL REFERENCES lab.parents (id));
INSERT INTO lab.parents VALUES (1, 'one'), (2, 'two');
INSERT INTO lab.children VALUES (10, 1);
SQL

my $conf = StarterTest::basedir() . '/132.conf';
open my $fh, '>', $conf or die "$conf: $!";
print $fh <<'CONF';
resource samples {
	table = lab.samples
	hidden = secret
	as_text = ip
	read = user
	write = user
}
resource names {
	table = lab.sample_names
	key = sid
	write = none
}
resource parents {
	table = lab.parents
}
CONF
close $fh;

# -t agrees with the declarations before anything is served.
my $t = StarterTest::run_cmd([StarterTest::top_builddir() . '/src/starterd',
    '-t', '-f', $conf, '-d', $pg->dsn]);
is($t->{rc}, 0, 'starterd -t accepts both declarations')
    or diag($t->{out} . $t->{err});

my $srv = StarterTest::Server->new(pg => $pg, args => ['-f', $conf]);
my @AUTH = (auth => 'admin:admin');
my $BASE = '/api/v1.0/samples/';
my $JSON = JSON::PP->new->canonical;

sub send_raw
{
	my ($method, $path, $body, %h) = @_;
	return request($srv, $method, $path, @AUTH, body => $body,
	    headers => {'Content-Type' => 'application/json', %h});
}

my $U1 = '6f1c3a2e-0b7d-4c1e-9a55-2b8f3c4d5e6f';
# Written as raw JSON so that the digits are exactly these.
my $body = qq({"sid":"$U1","t":"caf\\u00e9 \\ud83d\\ude00","vc":"abcde",)
    . qq("ch":"xy","i2":-32768,"i4":2147483647,"i8":9223372036854775807,)
    . qq("num":12345678901234567890.123456789,"num52":-999.99,)
    . qq("r4":1.5,"f8":0.1,"b":true,"d":"2024-02-29",)
    . qq("ts":"2024-02-29T23:59:58.5","tstz":"2024-02-29T23:59:58+02:00",)
    . qq("j":{"b":[1,2.50,"x"],"a":null},"jb":{"z":1,"a":[true]},)
    . qq("ip":"192.0.2.1"});
my $r = send_raw('POST', $BASE, $body);
is($r->{status}, 201, 'POST every type: 201') or diag(explain_response($r));
like($r->{headers}{location} // '', qr{\Q$BASE$U1\E$},
    'Location names the uuid key');

$r = request($srv, 'GET', "$BASE$U1", @AUTH);
is($r->{status}, 200, 'GET it: 200') or diag(explain_response($r));
my $raw = $r->{body};
# Typed output, checked on the bytes: numbers as numbers with the stored
# digits, not through a double.
like($raw, qr/"i8":9223372036854775807[,}]/, 'bigint: exact digits');
like($raw, qr/"num":12345678901234567890\.123456789[,}]/,
    'numeric: exact digits');
like($raw, qr/"num52":-999\.99[,}]/, 'numeric(5,2)');
like($raw, qr/"i2":-32768[,}]/, 'smallint');
like($raw, qr/"i4":2147483647[,}]/, 'integer');
like($raw, qr/"r4":1\.5[,}]/, 'real');
like($raw, qr/"f8":0\.1[,}]/, 'double precision: shortest exact form');
like($raw, qr/"b":true[,}]/, 'boolean');
like($raw, qr/"d":"2024-02-29"/, 'date: ISO 8601');
like($raw, qr/"ts":"2024-02-29T23:59:58\.5"/, 'timestamp: ISO 8601');
like($raw, qr/"tstz":"2024-02-29T21:59:58Z"/, 'timestamptz: ISO 8601, UTC');
like($raw, qr/"j":\{"b":\[1,2\.50,"x"\],"a":null\}/,
    'json: embedded, its text kept');
like($raw, qr/"jb":\{"a":\[true\],"z":1\}/, 'jsonb: embedded (normalised)');
like($raw, qr/"ip":"192\.0\.2\.1"/, 'inet served as text (as_text)');
unlike($raw, qr/secret|hidden/, 'the hidden column is not exposed');
my $doc = decode_json($raw);
is($doc->{t}, "caf\x{e9} \x{1f600}", 'text: non-BMP round trip');
is($doc->{vc}, 'abcde', 'varchar(5)');
is($doc->{ch}, 'xy ', 'char(3): padded, as PostgreSQL stores it');
like($doc->{url}, qr{^http://[^/]+\Q$BASE$U1\E$}, 'url of the item');
is(join(',', grep { $_ ne 'url' } sort keys %$doc),
    'b,ch,d,f8,i2,i4,i8,ip,j,jb,num,num52,r4,sid,t,ts,tstz,vc',
    'every exposed column, and only those');
is($pg->psql("SELECT num::text FROM lab.samples WHERE sid = '$U1'"),
    '12345678901234567890.123456789', 'stored: the numeric as sent');
is($pg->psql("SELECT i8 FROM lab.samples WHERE sid = '$U1'"),
    '9223372036854775807', 'stored: the bigint as sent');
is($pg->psql("SELECT tstz = '2024-02-29 21:59:58+00' FROM lab.samples "
    . "WHERE sid = '$U1'"), 't', 'stored: the instant sent');

# NULL everywhere a column allows it.
my $U2 = '00000000-0000-4000-8000-000000000002';
$r = send_raw('POST', $BASE, qq({"sid":"$U2","t":null,"i4":null,"b":null,)
    . qq("d":null,"j":null}));
is($r->{status}, 201, 'POST with nulls: 201') or diag(explain_response($r));
$r = request($srv, 'GET', "$BASE$U2", @AUTH);
like($r->{body}, qr/"b":null,.*"d":null,.*"i4":null,.*"j":null,.*"t":null/,
    'nulls read back as null');

# Wrong values: 400 naming the field; nothing stored.
my @bad = (
    ['i2', '32768', 'smallint out of range'],
    ['i4', '1.5', 'integer with a fraction'],
    ['i8', '"1"', 'bigint as a string'],
    ['num52', '1000', 'numeric(5,2) too many digits'],
    ['num52', '1.005', 'numeric(5,2) a third decimal (it would be rounded)'],
    ['num52', '1005e-3', 'numeric(5,2) a third decimal by its exponent'],
    ['num52', '0.001', 'numeric(5,2) below its scale'],
    ['num52', '999.999', 'numeric(5,2) rounded up past its digits'],
    ['b', '1', 'boolean as a number'],
    ['d', '"2023-02-29"', 'date that does not exist'],
    ['d', '"29/02/2024"', 'date not ISO'],
    ['ts', '"2024-01-01T25:00"', 'timestamp hour 25'],
    ['ts', '"2024-01-01T10:00:00.1234567"', 'timestamp: a 7th digit'],
    ['tstz', '"2024-01-01T10:00:00+16:00"', 'timestamptz offset past 15:59'],
    ['jb', '{"a":["x\\u0000"]}', 'jsonb holding \\u0000 deep down'],
    ['ts', '"2024-01-01T10:00Z"', 'timestamp (no zone) with a zone'],
    ['tstz', '"yesterday"', 'timestamptz word'],
    ['vc', '"abcdef"', 'varchar(5) too long'],
    ['t', '5', 'text as a number'],
    ['f8', '"NaN"', 'double as a string'],
    ['f8', '1e400', 'double out of range'],
    ['f8', '1e-400', 'double too small to be other than 0'],
    ['r4', '1e39', 'real out of range'],
    ['r4', '16777217', 'real that cannot hold it (16777216 back)'],
    ['f8', '9007199254740993', 'double that cannot hold it (2^53 back)'],
    ['f8', '0.1000000000000000055511151231257827', 'double: 34 digits'],
    ['secret', '"x"', 'hidden column: unknown'],
    ['nosuch', '1', 'unknown field'],
);
my $n = 3;
for my $b (@bad) {
	my ($f, $v, $what) = @$b;
	my $sid = sprintf('00000000-0000-4000-8000-%012d', $n++);
	$r = send_raw('POST', $BASE, qq({"sid":"$sid","$f":$v}));
	check_error($r, 400, "POST $what", message => qr/\b\Q$f\E\b/);
}
is($pg->psql("SELECT count(*) FROM lab.samples"), 2,
    'the refused POSTs stored nothing');
check_error(send_raw('POST', $BASE, '{"t":"no key"}'), 400,
    'POST without the uuid key (no default)', message => qr/sid/);

# PATCH and PUT keep exact values; PUT gives absent columns their default.
$r = send_raw('PATCH', "$BASE$U2", '{"num":0.000000000000000000001,"b":false}');
is($r->{status}, 200, 'PATCH numeric and boolean') or diag(explain_response($r));
like($r->{body}, qr/"num":0\.000000000000000000001[,}]/,
    'PATCH: the tiny numeric exactly');
# Floating point takes what it reads back as exactly (its shortest text).
for my $c (['r4', '0.1', '0.1'], ['r4', '16777216', '1.6777216e+07'],
    ['f8', '0.30000000000000004', '0.30000000000000004'],
    ['f8', '5e-324', '5e-324'], ['f8', '123.4500', '123.45'],
    ['r4', '-0.0', '-0']) {
	my ($f, $in, $text) = @$c;
	$r = send_raw('PATCH', "$BASE$U2", qq({"$f":$in}));
	is($r->{status}, 200, "PATCH $f $in: 200") or diag(explain_response($r));
	like($r->{body}, qr/"$f":\Q$text\E[,}]/, "PATCH $f $in: reads back $text");
}

# numeric(5,2) takes what it holds exactly, however it is written.
for my $c (['1.500', '1.50'], ['1.5e-1', '0.15'], ['0.0001e6', '100.00'],
    ['-999.99', '-999.99'], ['0.000', '0.00']) {
	my ($in, $stored) = @$c;
	$r = send_raw('PATCH', "$BASE$U2", qq({"num52":$in}));
	is($r->{status}, 200, "PATCH num52 $in: 200")
	    or diag(explain_response($r));
	is($pg->psql("SELECT num52::text FROM lab.samples WHERE sid = '$U2'"),
	    $stored, "PATCH num52 $in: stored as $stored, the same number");
}
$r = send_raw('PUT', "$BASE$U2", '{"t":"only t"}');
is($r->{status}, 200, 'PUT with one field') or diag(explain_response($r));
like($r->{body}, qr/"b":null/, 'PUT: the others take their default (NULL)');
is($pg->psql("SELECT secret FROM lab.samples WHERE sid = '$U2'"), 'hidden',
    'PUT leaves the hidden column alone');

# Keys that cannot exist are simply not found.
check_error(request($srv, 'GET', "${BASE}not-a-uuid", @AUTH), 404,
    'GET a key that is no uuid');

# A view, declared write = none: read, and writes are 405.
$r = request($srv, 'GET', "/api/v1.0/names/$U1", @AUTH);
is($r->{status}, 200, 'the view: GET 200') or diag(explain_response($r));
like($r->{body}, qr/"t":"caf/, 'the view: its columns');
$r = request($srv, 'GET', '/api/v1.0/names/', @AUTH);
is($r->{json}{meta}{total}, 2, 'the view: collection total');
$r = request($srv, 'DELETE', "/api/v1.0/names/$U1", @AUTH);
is($r->{status}, 405, 'the view: DELETE 405 (write = none)');
like($r->{headers}{allow} // '', qr/GET/, 'the view: Allow lists GET');
unlike($r->{headers}{allow} // '', qr/DELETE/, 'and not DELETE');

# A row others refer to cannot go: 409 naming who refers to it.
check_error(request($srv, 'DELETE', '/api/v1.0/parents/1', @AUTH), 409,
    'DELETE a referenced row', message => qr/referred to by children/);
is($pg->psql('SELECT count(*) FROM lab.parents'), 2,
    'the referenced row is still there');
$r = request($srv, 'DELETE', '/api/v1.0/parents/2', @AUTH);
is($r->{status}, 204, 'DELETE an unreferenced row: 204');
check_error(send_raw('POST', '/api/v1.0/parents/', '{"id":1,"name":"again"}'),
    409, 'POST a taken primary key', message => qr/\bid already exists/);

# The table changes under the bound worker: its statements cannot be
# prepared any more.  A clear 503 (reload), at once, not a loop; the other
# resources are served on.
$pg->psql('ALTER TABLE lab.parents DROP COLUMN name');
$r = request($srv, 'GET', '/api/v1.0/parents/1', @AUTH, timeout => 20);
is($r->{status}, 503, 'a dropped column: 503') or diag(explain_response($r));
like($r->{body}, qr/reloaded/, 'a dropped column: the message says reload');
$r = request($srv, 'GET', "$BASE$U1", @AUTH);
is($r->{status}, 200, 'and the other resources are served on');

# The table has no starterd_notify trigger (no migration of ours made it),
# so a change made outside starterd would not be announced: its answers
# are not cached at all, and a psql change reads back at once.
$r = request($srv, 'GET', "$BASE$U2", @AUTH);
$r = request($srv, 'GET', "$BASE$U2", @AUTH);
like($r->{headers}{'cache-status'} // '', qr/fwd=bypass/,
    'no NOTIFY trigger: not cached (Cache-Status bypass)');
$pg->psql("UPDATE lab.samples SET t = 'from psql' WHERE sid = '$U2'");
$r = request($srv, 'GET', "$BASE$U2", @AUTH);
like($r->{body}, qr/"t":"from psql"/, 'a psql change reads back at once');
like($srv->log_contents, qr/resource samples: lab\.samples has no starterd_notify trigger/,
    'the log says why it is not cached');

done_testing();
