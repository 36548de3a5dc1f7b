# 140_query_api: the collection query language of starterd(8), QUERIES
# (issue 11, acceptance 1), through a real starterd on a real PostgreSQL.
#
# A table made with plain psql (every supported type, NULLs and ties in
# each column, values holding LIKE's % _ \ and in-list's , " ( )) is
# declared with filter, sort and search, and the demo encounters are
# served as the sample configuration declares them.  Every answer is
# compared with the same question put to the database by psql: the
# expected rows are derived from the table, never written here.
#
# Covered: each operator on each type it applies to; in.() with quoted
# values; pre./has. matching % _ \ literally; is.null/not.null; q=; sort
# asc/desc over every sortable column against psql's ORDER BY (NULLS LAST
# ascending, FIRST descending); fields (the chosen keys, key and url;
# an ETag of its own); cursors forward to the end and back to the start;
# tampered, foreign and misplaced cursors; every kind of invalid input
# (400 naming the parameter); Prefer: count=... (meta.count,
# Preference-Applied); Link headers against meta; offset paging with a
# sort; the cache (a hit, then fresh and right after a write); pxcodes
# (unknown_fields = ignore) still ignoring what the seed ignored.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use JSON::PP;

# Many requests on a loaded machine: more time than the default.
alarm($ENV{STARTERD_TEST_TIMEOUT} // 600);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);

# Rows inserted in a shuffled order, so that the heap's order is not the
# key's.  Every column has NULLs (the key aside) and ties.
$pg->psql(<<'SQL');
CREATE SCHEMA lab;
CREATE TABLE lab.qt (
	id	integer PRIMARY KEY,
	t	text,
	vc	varchar(20),
	ch	char(4),
	i2	smallint,
	i4	integer,
	i8	bigint,
	num	numeric,
	r4	real,
	f8	double precision,
	b	boolean,
	d	date,
	ts	timestamp,
	tstz	timestamptz,
	u	uuid,
	js	json,
	jb	jsonb,
	ip	inet,
	nf	text,
	secret	text DEFAULT 's3cret'
);
INSERT INTO lab.qt (id, t, vc, ch, i2, i4, i8, num, r4, f8, b, d, ts, tstz,
    u, js, jb, ip, nf)
SELECT g,
	CASE WHEN g % 11 = 0 THEN NULL ELSE (ARRAY['alpha', 'Alpha beta',
	    'beta', 'GAMMA ray', 'a,b', 'a,b,c', '50%off', '5000',
	    'under_score', 'underXscore', 'back\slash', 'backslash', 'x"q(y)',
	    'caf' || chr(233)])[(g * 5) % 14 + 1] END,
	CASE WHEN g % 13 = 0 THEN NULL ELSE 'v' || (g % 17) END,
	CASE WHEN g % 9 = 0 THEN NULL
	    ELSE (ARRAY['ab', 'abc', 'b', 'zz%'])[g % 4 + 1] END,
	CASE WHEN g % 10 = 0 THEN NULL ELSE (g % 50) - 25 END,
	CASE WHEN g % 12 = 0 THEN NULL ELSE ((g * 37) % 41 - 20) * 100000 END,
	CASE WHEN g % 14 = 0 THEN NULL ELSE 9007199254740990 + (g % 7) END,
	CASE WHEN g % 8 = 0 THEN NULL
	    WHEN g % 50 = 1 THEN 12345678901234567890.123456789 + g
	    ELSE round((g % 23) * 1.25 - 10, 2) END,
	CASE WHEN g % 15 = 0 THEN NULL ELSE ((g % 9) / 10.0)::real END,
	CASE WHEN g % 16 = 0 THEN NULL ELSE (g % 11) / 10.0 - 0.5 END,
	CASE WHEN g % 6 = 0 THEN NULL ELSE g % 4 < 2 END,
	CASE WHEN g % 17 = 0 THEN NULL ELSE date '2024-02-10' + (g % 40) END,
	CASE WHEN g % 18 = 0 THEN NULL ELSE timestamp '2024-02-28 23:00'
	    + (g % 30) * interval '75 min' + (g % 3) * interval '0.25 s' END,
	CASE WHEN g % 19 = 0 THEN NULL
	    ELSE timestamptz '2024-03-30 22:00:00+00' + (g % 25) * interval '1 h'
	    END,
	CASE WHEN g % 20 = 0 THEN NULL ELSE md5((g % 30)::text)::uuid END,
	CASE WHEN g % 5 = 0 THEN NULL ELSE json_build_object('g', g) END,
	CASE WHEN g % 4 = 0 THEN NULL ELSE jsonb_build_object('k', g % 10) END,
	CASE WHEN g % 21 = 0 THEN NULL
	    ELSE ('10.0.' || (g % 5) || '.' || (g % 7))::inet END,
	'n' || g
FROM generate_series(1, 300) AS g ORDER BY md5(g::text);
ANALYZE lab.qt;
SQL

# Filterable: everything exposed but nf (json ones take is/not null only);
# sortable: every type that sorts (json does not, jsonb does); searched:
# two text columns and the as_text one.
my @FILTER = qw(id t vc ch i2 i4 i8 num r4 f8 b d ts tstz u js jb ip);
my @SORT = qw(t vc ch i2 i4 i8 num r4 f8 b d ts tstz u jb);
my @SEARCH = qw(t vc ip);
my @EXPOSED = qw(id t vc ch i2 i4 i8 num r4 f8 b d ts tstz u js jb ip nf);
my $conf = StarterTest::basedir() . '/140.conf';
open my $fh, '>', $conf or BAIL_OUT("$conf: $!");
print $fh sample_resources(), "\n", <<"CONF";
resource qt {
	table = lab.qt
	key = id
	hidden = secret
	as_text = ip
	order = id
	per_page = 20
	max_per_page = 500
	read = user
	write = user
	filter = @{[join ', ', @FILTER]}
	sort = @{[join ', ', @SORT]}
	search = @{[join ', ', @SEARCH]}
}
CONF
close $fh;

my $t = StarterTest::run_cmd([StarterTest::top_builddir() . '/src/starterd',
    '-t', '-f', $conf, '-d', $pg->dsn]);
is($t->{rc}, 0, 'starterd -t accepts the declarations')
    or diag($t->{out} . $t->{err});
# The NOTIFY trigger on lab.qt, so that its answers are cached.
my $ctl = starterctl($pg, 'resources', 'install', '-f', $conf);
is($ctl->{rc}, 0, 'starterctl resources install: exit 0')
    or diag($ctl->{out} . $ctl->{err});

my $srv = StarterTest::Server->new(pg => $pg, args => ['-f', $conf]);
my @AUTH = (auth => 'admin:admin');
my $QT = '/api/v1.0/qt/';
my $ENC = '/api/v1.0/encounters/';

# --- helpers ------------------------------------------------------------------

# One keep-alive connection, made again when the server closed it.
my $conn;
sub get
{
	my ($path, %h) = @_;
	my $r;
	for (1 .. 2) {
		$conn //= StarterTest::Conn->new($srv);
		$r = $conn->request('GET', $path, @AUTH, headers => \%h,
		    timeout => 30);
		my $close = ($r->{headers}{connection} // '') =~ /close/i;
		if ($r->{status} == 0 || $close || $conn->closed) {
			$conn->close;
			undef $conn;
		}
		last if $r->{status} != 0;
	}
	return $r;
}

sub send_json
{
	my ($method, $path, $body) = @_;
	return request($srv, $method, $path, @AUTH, body => $body,
	    headers => {'Content-Type' => 'application/json'});
}

# Percent-encode all but the unreserved characters (a '+' would be a
# space, a '&' another parameter).
sub enc
{
	my ($s) = @_;
	$s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
	return $s;
}

# A query string from pairs, each value percent-encoded.
sub qs
{
	my @kv = @_;
	my @p;
	while (my ($k, $v) = splice(@kv, 0, 2)) {
		push @p, "$k=" . enc($v);
	}
	return join('&', @p);
}

# An SQL literal (standard_conforming_strings: only ' is special).
sub lit
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

# The path of an absolute URL of ours.
sub rel
{
	my ($u) = @_;
	return undef unless defined $u;
	$u =~ s{^https?://[^/]+}{};
	return $u;
}

# The parameter $name of a URL's query string, decoded.
sub param_of
{
	my ($u, $name) = @_;
	return undef unless defined $u && $u =~ /[?&]\Q$name\E=([^&]*)/;
	my $v = $1;
	$v =~ s/\+/ /g;
	$v =~ s/%([0-9A-Fa-f]{2})/chr(hex $1)/ge;
	return $v;
}

# RFC 8288 Link header: {rel => url}; a rel given twice is an error.
sub links
{
	my ($r) = @_;
	my %l;
	my $h = $r->{headers}{link} // return {};
	for my $part (split /,\s*(?=<)/, $h) {
		if ($part =~ /^<([^>]*)>\s*;\s*rel="?([a-z]+)"?\s*$/) {
			$l{$2} = exists $l{$2} ? "DUPLICATE" : $1;
		} else {
			$l{BAD} = $part;
		}
	}
	return \%l;
}

sub ids_of
{
	my ($r) = @_;
	return [map { $_->{id} } @{$r->{json}{items} // []}];
}

sub ids_str { return join(',', @{$_[0]}); }

# Ids of lab.qt (or $table) matching $where, in $order (psql's defaults).
sub db_ids
{
	my ($where, $order, $table) = @_;
	$table //= 'lab.qt';
	$order //= 'id';
	my $w = defined $where ? "WHERE $where" : '';
	my $out = $pg->psql("SELECT coalesce(string_agg(id::text, ',' "
	    . "ORDER BY $order), '') FROM $table $w");
	return $out;
}

# From the response $r, follow meta.$dir ('next' or 'prev') to the end
# (bounded): the pages' ids in the order met ($r's first), the responses,
# and whether every page was a 200 whose Link rel=$dir is its meta.$dir.
sub follow
{
	my ($r, $dir, %h) = @_;
	my (@pages, @resp);
	my $ok = 1;
	for (my $n = 0; ; $n++) {
		if ($r->{status} != 200 || ref $r->{json} ne 'HASH') {
			diag("follow $dir: " . explain_response($r));
			$ok = 0;
			last;
		}
		push @resp, $r;
		push @pages, ids_of($r);
		my $u = $r->{json}{meta}{$dir};
		my $l = links($r)->{$dir};
		if ((defined $u) != (defined $l) || (defined $u && $u ne $l)) {
			diag("follow: meta.$dir " . ($u // 'null') .
			    " but Link $dir " . ($l // 'none'));
			$ok = 0;
		}
		last unless defined $u;
		if ($n >= 1000) {
			diag("follow $dir: no end after $n pages");
			$ok = 0;
			last;
		}
		$r = get(rel($u), %h);
	}
	return (\@pages, \@resp, $ok);
}

# GET $path and follow meta.next to the end: the ids in order, the
# responses, all well.
sub walk
{
	my ($path, %h) = @_;
	my ($pages, $resp, $ok) = follow(get($path, %h), 'next', %h);
	return ([map { @$_ } @$pages], $resp, $ok);
}

# From the page $r back to the start by meta.prev: the ids in order,
# $r's included (last), all well.
sub walk_back
{
	my ($r, %h) = @_;
	my ($pages, $resp, $ok) = follow($r, 'prev', %h);
	return ([map { @$_ } reverse @$pages], $ok);
}

# The column as a filter value reads in the API (JSON's forms: true or
# false, ISO dates and timestamps, timestamptz in UTC with Z) and the
# expression psql compares a literal with (an as_text column by its text).
my %API = (
	b	=> q{CASE WHEN b THEN 'true' ELSE 'false' END},
	d	=> q{to_char(d, 'YYYY-MM-DD')},
	ts	=> q{to_char(ts, 'YYYY-MM-DD"T"HH24:MI:SS.US')},
	tstz	=> q{to_char(tstz AT TIME ZONE 'UTC',
		    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')},
);
sub api_expr { return $API{$_[0]} // "$_[0]::text"; }
sub cmp_expr { return $_[0] eq 'ip' ? 'ip::text' : $_[0]; }

# The distinct non-NULL values of a column, in its order, as the API
# writes them.
sub values_of
{
	my ($col) = @_;
	my $rows = $pg->psql_rows('SELECT v FROM (SELECT DISTINCT ON ('
	    . cmp_expr($col) . ') ' . cmp_expr($col) . ' AS o, '
	    . api_expr($col) . ' AS v FROM lab.qt WHERE ' . "$col IS NOT NULL "
	    . 'ORDER BY 1) s ORDER BY o');
	return map { $_->[0] } @$rows;
}

# The whole filtered collection by the API (per_page 500: one page), its
# ids sorted by id as the declared order gives them.
sub api_filter
{
	my ($query) = @_;
	my ($ids, $resp, $ok) = walk("$QT?$query&per_page=500");
	return ($ok ? ids_str($ids) : undef, $resp->[0]);
}

# --- every operator on every type ---------------------------------------------

my %SQLOP = (eq => '=', neq => '<>', lt => '<', lte => '<=', gt => '>',
    gte => '>=');
my @TEXT = qw(t vc ch ip);
for my $col (grep { !/^(js|jb)$/ } @FILTER) {
	my @v = values_of($col);
	ok(@v >= 2, "$col: the table has several values") or next;
	my $mid = $v[int(@v / 2)];
	my @ops = $col eq 'ip' ? qw(eq neq) : sort keys %SQLOP;
	for my $op (@ops) {
		my ($got, $r) = api_filter(qs($col, "$op.$mid"));
		my $want = db_ids(cmp_expr($col) . " $SQLOP{$op} " . lit($mid));
		is($got, $want, "$col=$op.$mid: the rows psql finds")
		    or diag(explain_response($r));
	}
	# in.(): the first, the middle and the last value, quoted where
	# they must be ("a,b", "x\"q(y)", "back\\slash").
	my @in = @v[0, int(@v / 2), -1];
	my $list = join(',', map {
		my $s = $_;
		if ($s =~ /[,"()\\]/) {
			$s =~ s/(["\\])/\\$1/g;
			$s = qq("$s");
		}
		$s;
	} @in);
	my ($got, $r) = api_filter(qs($col, "in.($list)"));
	is($got, db_ids(cmp_expr($col) . ' IN (' . join(', ', map { lit($_) }
	    @in) . ')'), "$col=in.($list): the rows psql finds")
	    or diag(explain_response($r));
	for my $n (['is.null', 'IS NULL'], ['not.null', 'IS NOT NULL']) {
		($got, $r) = api_filter(qs($col, $n->[0]));
		is($got, db_ids("$col $n->[1]"), "$col=$n->[0]: the rows psql "
		    . "finds") or diag(explain_response($r));
	}
}

# Many parameters: ten filters, each an in.() of 100 values (1,000
# parameters; the request line's 8 kB bound keeps the language's 16 x 100
# out of reach of these types), answered like any query.
{
	my @f = qw(id i2 i4 i8 num r4 f8 t vc ch);
	my %text = map { $_ => 1 } qw(t vc ch);
	my @q = map {
		my $col = $f[$_];
		"$col=in.(" . join(',', $text{$col} ? map { "z$_" } 1 .. 100
		    : 1 .. 100) . ')';	# unencoded: , and () may be
	} 0 .. $#f;
	my $r = request($srv, 'GET', "$QT?" . join('&', @q), @AUTH);
	is($r->{status}, 200, '10 filters of 100 values each: answered 200')
	    or diag(explain_response($r));
}

# json and jsonb: is.null and not.null.
for my $col (qw(js jb)) {
	for my $n (['is.null', 'IS NULL'], ['not.null', 'IS NOT NULL']) {
		my ($got, $r) = api_filter(qs($col, $n->[0]));
		is($got, db_ids("$col $n->[1]"), "$col=$n->[0]: the rows psql "
		    . "finds") or diag(explain_response($r));
	}
}

# The exact digits: a bigint beyond a double's 2^53 and a numeric of 29
# digits are compared as written, not through a double.
{
	my ($got) = api_filter('i8=eq.9007199254740993');
	my $want = db_ids("i8 = 9007199254740993");
	isnt($want, '', 'i8 = 2^53 + 1: rows exist');
	is($got, $want, 'i8=eq.9007199254740993: exactly those rows');
	isnt($want, db_ids('i8 = 9007199254740992'),
	    '(its neighbour 2^53 holds other rows)');
	my ($big) = grep { length > 25 } values_of('num');
	ok(defined $big, 'a 29-digit numeric value exists');
	($got) = api_filter(qs('num', "eq.$big"));
	is($got, db_ids("num = $big"), "num=eq.$big: exactly that row");
	($got) = api_filter(qs('num', "gt.12345678901234567890.123456789"));
	is($got, db_ids('num > 12345678901234567890.123456789'),
	    'num=gt.<29 digits>: compared exactly');
}

# Numbers in JSON's other forms: an exponent.
{
	my ($got) = api_filter('num=lt.-5e0');
	is($got, db_ids('num < -5'), 'num=lt.-5e0: an exponent is a number');
	($got) = api_filter('f8=gte.2.5E-1');
	is($got, db_ids('f8 >= 0.25'), 'f8=gte.2.5E-1');
}

# Several filters ANDed, two on one column.
{
	my ($got, $r) = api_filter('i2=gte.-5&i2=lt.10&b=eq.true');
	is($got, db_ids('i2 >= -5 AND i2 < 10 AND b = true'),
	    'i2=gte.-5&i2=lt.10&b=eq.true: ANDed');
	($got, $r) = api_filter(qs('d', 'gte.2024-02-28', 'd', 'lte.2024-03-01',
	    'ch', 'eq.ab'));
	is($got, db_ids(q{d >= '2024-02-28' AND d <= '2024-03-01' AND ch = 'ab'}),
	    'a date range and a char(4) value, ANDed');
	($got, $r) = api_filter(qs('tstz', 'gt.2024-03-31T01:00:00+02:00'));
	is($got, db_ids(q{tstz > '2024-03-30 23:00:00+00'}),
	    'tstz with an offset: the same instant in UTC');
}

# Text: in.() with quotes, pre. and has. with LIKE's characters taken
# literally.  Each expectation is put to psql without LIKE (starts_with,
# strpos), and is checked to be narrower than a LIKE that did not escape
# them would be.
{
	my ($got, $r) = api_filter('t=in.("a,b","x\\"q(y)","back\\\\slash")');
	is($got, db_ids(q{t IN ('a,b', 'x"q(y)', 'back\slash')}),
	    't=in.("a,b","x\"q(y)","back\\\\slash") as written (unencoded)')
	    or diag(explain_response($r));
	($got) = api_filter(qs('t', 'in.("a,b",alpha)'));
	is($got, db_ids(q{t IN ('a,b', 'alpha')}),
	    't=in.("a,b",alpha): a quoted and a bare value');
	isnt($got, db_ids(q{t IN ('a', 'b', 'alpha')}),
	    '(a quoted comma does not split the value)');
	for my $c (['t', 'pre', '50%', q{'5000'}],
	    ['t', 'pre', 'under_', q{'underXscore'}],
	    ['t', 'pre', 'back\\', q{'backslash'}],
	    ['ch', 'pre', 'zz%', undef],
	    ['ch', 'pre', 'ab', undef],
	    ['vc', 'pre', 'v1', undef],
	    ['t', 'has', '0%', q{'5000'}],
	    ['t', 'has', 'R_S', q{'underXscore'}],
	    ['t', 'has', 'K\\S', q{'backslash'}],
	    ['t', 'has', 'ALPHA', undef],
	    ['t', 'has', "\xc3\xa9", undef],
	    ['vc', 'has', 'V1', undef],
	    ['ip', 'pre', '10.0.3.', undef],
	    ['ip', 'has', '.4.', undef]) {
		my ($col, $op, $v, $decoy) = @$c;
		my $e = cmp_expr($col) . ($col eq 'ch' ? '::text' : '');
		my $want = $op eq 'pre'
		    ? db_ids("starts_with($e, " . lit($v) . ')')
		    : db_ids("strpos(lower($e), lower(" . lit($v) . ')) > 0');
		isnt($want, '', "$col=$op.$v: some rows match");
		($got, $r) = api_filter(qs($col, "$op.$v"));
		is($got, $want, "$col=$op.$v: the rows psql finds")
		    or diag(explain_response($r));
		next unless defined $decoy;
		my $pat = $op eq 'pre' ? lit("$v%") : lit("%$v%");
		my $like = db_ids("$e " . ($op eq 'pre' ? 'LIKE' : 'ILIKE')
		    . " $pat");
		isnt($like, $want, "$col=$op.$v: an unescaped LIKE would "
		    . "answer otherwise (rows of $decoy)");
	}
}

# --- q= -----------------------------------------------------------------------

sub search_where
{
	my ($s) = @_;
	return '(' . join(' OR ', map {
		'strpos(lower(' . cmp_expr($_) . '), lower(' . lit($s) . ')) > 0'
	    } @SEARCH) . ')';
}
for my $s ('alpha', 'V1', '0.3', '_', '%', '\\', 'a,b', 'zzz-nothing') {
	my ($got, $r) = api_filter(qs('q', $s));
	is($got, db_ids(search_where($s)), "q=$s: the rows psql finds")
	    or diag(explain_response($r));
}
{
	my ($got) = api_filter(qs('q', 'beta', 'b', 'eq.false'));
	is($got, db_ids(search_where('beta') . ' AND b = false'),
	    'q=beta&b=eq.false: q= ANDed with a filter');
}

# --- sort ---------------------------------------------------------------------

# Every sortable column both ways, paged by 45 (NULLs and ties on page
# boundaries), forward to the end and back from the last page.
for my $col (@SORT) {
	for my $desc (0, 1) {
		my $s = ($desc ? '-' : '') . $col;
		my $order = "$col" . ($desc ? ' DESC' : '') . ', id';
		my $want = db_ids(undef, $order);
		my ($ids, $resp, $ok) = walk("$QT?sort=$s&per_page=45");
		ok($ok, "sort=$s: every page 200, Link next = meta.next");
		is(ids_str($ids), $want, "sort=$s: forward, psql's ORDER BY "
		    . "$order");
		cmp_ok(scalar @$resp, '>=', 7, "sort=$s: 7 pages of 45");
		my ($back, $bok) = walk_back($resp->[-1]);
		ok($bok, "sort=$s: back to the start, Link prev = meta.prev");
		is(ids_str($back), $want,
		    "sort=$s: backward from the last page, the same rows");
	}
}

# Several columns, mixed directions, with a filter and q=.
for my $c (['b,-d', 'b, d DESC, id', undef],
    ['-i2,t', 'i2 DESC, t, id', undef],
    ['-jb,-u', 'jb DESC, u DESC, id', undef],
    ['ch,-num', 'ch, num DESC, id', 'i4 IS NOT NULL', 'i4=not.null'],
    ['-ts', 'ts DESC, id', search_where('a'), 'q=a'],
    ['-f8,r4', 'f8 DESC, r4, id', 'b = true', 'b=eq.true']) {
	my ($s, $order, $where, $extra) = @$c;
	my $path = "$QT?sort=$s&per_page=13" . (defined $extra ? "&$extra" : '');
	my ($ids, $resp, $ok) = walk($path);
	my $want = db_ids($where, $order);
	ok($ok, "$path: every page 200");
	is(ids_str($ids), $want, "$path: forward, ORDER BY $order");
	my ($back) = walk_back($resp->[-1]);
	is(ids_str($back), $want,
	    "$path: backward, the same rows");
}
# --- keyset pages: meta, links, cursors ---------------------------------------

my $P = "$QT?sort=-d&per_page=10";
my $r1 = get($P);
is($r1->{status}, 200, "$P: 200") or diag(explain_response($r1));
my $m1 = $r1->{json}{meta} // {};
is(join(',', sort keys %$m1), 'first,next,per_page,prev,total',
    'keyset meta: first, next, per_page, prev, total (an exact count)');
like($r1->{body}, qr/"meta":\{"first":"[^"]*","next":"[^"]*","per_page":10,"prev":null,"total":300\}/,
    'keyset meta: sorted keys, the total exact, prev null on the first page');
is($m1->{total}, 300, 'keyset meta: total 300');
my $l1 = links($r1);
ok(!exists $l1->{BAD}, 'the Link header parses') or diag($r1->{headers}{link});
is($l1->{first}, $m1->{first}, 'Link rel=first is meta.first');
is($l1->{next}, $m1->{next}, 'Link rel=next is meta.next');
ok(!exists $l1->{prev}, 'first page: no rel=prev');
like($m1->{next} // '', qr{^http://localhost:\d+\Q$QT\E\?.*\bcursor=},
    'meta.next: an absolute URL with a cursor');
like($m1->{next} // '', qr/\bsort=-d\b/, 'meta.next keeps the sort');
like($m1->{next} // '', qr/\bper_page=10\b/, 'meta.next keeps per_page');
unlike($m1->{first} // '', qr/[?&](cursor|page)=/,
    'meta.first: no cursor, no page');
my $rf = get(rel($m1->{first}));
is(ids_str(ids_of($rf)), ids_str(ids_of($r1)), 'meta.first: the first page')
    or diag(explain_response($rf));
my $r2 = get(rel($m1->{next}));
is($r2->{status}, 200, 'page 2 by meta.next: 200')
    or diag(explain_response($r2));
my $m2 = $r2->{json}{meta} // {};
is(ids_str(ids_of($r2)), join(',', (split /,/, db_ids(undef, 'd DESC, id'))
    [10 .. 19]), 'page 2: rows 11 to 20 of psql\'s order');
my $l2 = links($r2);
is($l2->{prev}, $m2->{prev}, 'page 2: Link rel=prev is meta.prev');
is($l2->{first}, $m1->{first}, 'page 2: the same rel=first');
my $rp = get(rel($m2->{prev}));
is(ids_str(ids_of($rp)), ids_str(ids_of($r1)),
    'page 2 -> prev: the first page again');
isnt($r2->{headers}{etag}, $r1->{headers}{etag}, 'pages have their own ETag');

# Tampered cursors: any change is refused, naming the cursor.
my $cur = param_of($m1->{next}, 'cursor');
ok(defined $cur && length $cur > 10, 'a cursor token');
{
	my $flip = $cur;
	my $i = int(length($flip) / 2);
	substr($flip, $i, 1) = substr($flip, $i, 1) eq 'A' ? 'B' : 'A';
	my @bad = (['one character changed', $flip],
	    ['cut short', substr($cur, 0, -2)],
	    ['one character more', $cur . 'A'],
	    ['not base64url', 'not+a/cursor=='],
	    ['garbage', 'xyz']);
	for my $b (@bad) {
		check_error(get("$QT?sort=-d&per_page=10&cursor=" . enc($b->[1])),
		    400, "tampered cursor ($b->[0])", message => qr/\bcursor\b/);
	}
	check_error(get("$QT?sort=-d&per_page=10&cursor="), 400,
	    'empty cursor', message => qr/\bcursor\b/);
	check_error(get("$QT?sort=d&per_page=10&cursor=" . enc($cur)), 400,
	    'a cursor from another sort (-d given to d)',
	    message => qr/\bcursor\b/);
	check_error(get("$QT?sort=-d&b=eq.true&per_page=10&cursor=" .
	    enc($cur)), 400, 'a cursor from another filter',
	    message => qr/\bcursor\b/);
	check_error(get("$QT?sort=-d&per_page=10&page=2&cursor=" . enc($cur)),
	    400, 'page and cursor together', message => qr/\bcursor\b/);
	my $e = get("${ENC}?sort=-seen_on&per_page=5");
	my $ecur = param_of($e->{json}{meta}{next}, 'cursor');
	ok(defined $ecur, 'an encounters cursor');
	check_error(get("$QT?sort=-d&per_page=10&cursor=" . enc($ecur // 'x')),
	    400, 'a cursor of another resource', message => qr/\bcursor\b/);
	# The same cursor, untouched, still works (and per_page may change).
	my $ok = get("$QT?sort=-d&per_page=10&cursor=" . enc($cur));
	is(ids_str(ids_of($ok)), ids_str(ids_of($r2)),
	    'the cursor itself, re-sent: page 2');
}

# The last page: no next, no rel=next.
{
	my ($ids, $resp) = walk("$QT?sort=-d&per_page=100");
	my $last = $resp->[-1];
	ok(exists $last->{json}{meta}{next} && !defined $last->{json}{meta}{next},
	    'last keyset page: meta.next null');
	ok(!exists links($last)->{next}, 'last keyset page: no rel=next');
	ok(defined $last->{json}{meta}{prev}, 'last keyset page: a prev');
}

# A page whose rows were deleted after its cursor was made comes out
# empty, and still leads back the way it came: from the cursor's own
# position, its row included (forward: prev; backward: next).  The rows
# are put back afterwards.
{
	my @all = split /,/, db_ids(undef, 'i4 DESC NULLS FIRST, id');
	my $n = @all;
	my $P = "$QT?sort=-i4&per_page=" . ($n - 3);
	my $r = get($P);
	my $next = rel($r->{json}{meta}{next});
	ok(defined $next, 'all rows but 3: a next page') or diag(explain_response($r));
	$pg->psql('CREATE TABLE lab.qt_keep AS SELECT * FROM lab.qt WHERE id IN ('
	    . join(',', @all[-3 .. -1]) . ')');
	$pg->psql('DELETE FROM lab.qt WHERE id IN (SELECT id FROM lab.qt_keep)');
	my $e = defined $next ? get($next) : undef;
	is($e && $e->{status}, 200, 'its next page, emptied: 200');
	is(scalar @{$e->{json}{items} // ['x']}, 0, 'its next page: no items');
	ok(!defined $e->{json}{meta}{next}, 'the emptied page: no next');
	my $prev = rel($e->{json}{meta}{prev});
	ok(defined $prev, 'the emptied page: a prev all the same');
	is(links($e)->{prev}, $e->{json}{meta}{prev},
	    'the emptied page: Link rel=prev is meta.prev');
	my $b = defined $prev ? get($prev) : undef;
	is(ids_str(ids_of($b)), join(',', @all[0 .. $n - 4]),
	    'its prev: the rows up to the cursor\'s own, included')
	    or diag(explain_response($b));
	$pg->psql('INSERT INTO lab.qt SELECT * FROM lab.qt_keep');
	$pg->psql('DROP TABLE lab.qt_keep');

	# Backward: the page before the 4th row, its 3 rows deleted.
	$r = get("$QT?sort=-i4&per_page=3");
	$r = get(rel($r->{json}{meta}{next}));
	my $back = rel($r->{json}{meta}{prev});
	is(ids_str(ids_of($r)), join(',', @all[3 .. 5]), 'page 2: rows 4 to 6');
	$pg->psql('CREATE TABLE lab.qt_keep AS SELECT * FROM lab.qt WHERE id IN ('
	    . join(',', @all[0 .. 2]) . ')');
	$pg->psql('DELETE FROM lab.qt WHERE id IN (SELECT id FROM lab.qt_keep)');
	$e = defined $back ? get($back) : undef;
	is(scalar @{$e->{json}{items} // ['x']}, 0, 'its prev page, emptied: '
	    . 'no items') or diag(explain_response($e));
	ok(!defined $e->{json}{meta}{prev}, 'the emptied page: no prev');
	my $fwd = rel($e->{json}{meta}{next});
	ok(defined $fwd, 'the emptied page: a next all the same');
	my $f = defined $fwd ? get($fwd) : undef;
	is(ids_str(ids_of($f)), join(',', @all[3 .. 5]),
	    'its next: from the cursor\'s own row on, included')
	    or diag(explain_response($f));
	$pg->psql('INSERT INTO lab.qt SELECT * FROM lab.qt_keep');
	$pg->psql('DROP TABLE lab.qt_keep');
	is(db_ids(undef, 'i4 DESC NULLS FIRST, id'), join(',', @all),
	    'the rows are back');
}

# Filters alone page by keyset too (the declared order).
{
	my $r = get("$QT?b=eq.true&per_page=5");
	is(join(',', sort keys %{$r->{json}{meta} // {}}),
	    'first,next,per_page,prev,total', 'a filter: keyset meta');
	is($r->{json}{meta}{total}, $pg->psql('SELECT count(*) FROM lab.qt '
	    . 'WHERE b'), 'a filter: total is the filtered count');
	like($r->{json}{meta}{next} // '', qr/\bb=eq\.true\b/,
	    'a filter: meta.next keeps it');
}

# --- offset paging with a sort ------------------------------------------------

{
	my $path = "$QT?sort=-i4&per_page=30&page=2";
	my $r = get($path);
	is($r->{status}, 200, "$path: 200") or diag(explain_response($r));
	my $m = $r->{json}{meta} // {};
	is(join(',', sort keys %$m), 'first,last,next,page,pages,per_page,prev,total',
	    'offset meta: the seed\'s keys');
	is_deeply([@$m{qw(page pages per_page total)}], [2, 10, 30, 300],
	    'offset meta: page 2 of 10, 30 a page, 300 in all');
	my @all = split /,/, db_ids(undef, 'i4 DESC, id');
	is(ids_str(ids_of($r)), join(',', @all[30 .. 59]),
	    'offset page 2: rows 31 to 60 of psql\'s order');
	my $l = links($r);
	for my $rel (qw(first prev next last)) {
		is($l->{$rel}, $m->{$rel}, "offset: Link rel=$rel is meta.$rel");
	}
	like($m->{last} // '', qr/\bpage=10\b/, 'offset: last is page 10');
	like($m->{next} // '', qr/\bsort=-i4\b/, 'offset: next keeps the sort');
	my $n = get(rel($m->{next}));
	is(ids_str(ids_of($n)), join(',', @all[60 .. 89]),
	    'offset: meta.next is page 3');
}

# --- fields -------------------------------------------------------------------

{
	my $full = get("$QT?sort=t&per_page=15");
	my $part = get("$QT?sort=t&per_page=15&fields=t,d");
	is($part->{status}, 200, 'fields=t,d: 200') or diag(explain_response($part));
	my @fi = @{$part->{json}{items} // []};
	is(scalar @fi, 15, 'fields=t,d: 15 items');
	is(scalar(grep { join(',', sort keys %$_) eq 'd,id,t,url' } @fi), 15,
	    'fields=t,d: each item has d, t, the key and url only');
	is(ids_str(ids_of($part)), ids_str(ids_of($full)),
	    'fields=t,d: the same rows');
	my @fu = @{$full->{json}{items} // []};
	is(scalar(grep { my $i = $_;
	    (defined $fi[$i]{t} ? $fi[$i]{t} : "\0") eq
	    (defined $fu[$i]{t} ? $fu[$i]{t} : "\0") &&
	    (defined $fi[$i]{d} ? $fi[$i]{d} : "\0") eq
	    (defined $fu[$i]{d} ? $fu[$i]{d} : "\0") &&
	    $fi[$i]{url} eq $fu[$i]{url} } 0 .. $#fi), 15,
	    'fields=t,d: the values of the full representation');
	is(join(',', sort keys %{$fu[0] // {}}),
	    join(',', sort(@EXPOSED, 'url')),
	    'without fields: every exposed column and url');
	like($part->{headers}{etag} // '', qr/^"[^"]+"$/, 'fields: a strong ETag');
	isnt($part->{headers}{etag}, $full->{headers}{etag},
	    'fields=t,d: an ETag other than the full representation\'s');
	my $again = get("$QT?sort=t&per_page=15&fields=t,d");
	is($again->{headers}{etag}, $part->{headers}{etag},
	    'fields=t,d again: the same ETag');
	my $url = get("$QT?sort=t&per_page=3&fields=url");
	is(scalar(grep { join(',', sort keys %$_) eq 'id,url' }
	    @{$url->{json}{items} // []}), 3, 'fields=url: the key and url');
	my $key = get("$QT?per_page=3&fields=id");
	is(scalar(grep { join(',', sort keys %$_) eq 'id,url' }
	    @{$key->{json}{items} // []}), 3, 'fields=id: the key and url');
	my $nf = param_of($part->{json}{meta}{next}, 'fields') // '';
	is(join(',', sort grep { $_ ne 'id' && $_ ne 'url' } split /,/, $nf),
	    'd,t', "fields: meta.next keeps them (fields=$nf)");
}

# --- invalid input: 400 naming the parameter ----------------------------------

my @BAD = (
	['nosuch=1', qr/\bnosuch\b/, 'an unknown parameter'],
	['nosuch', qr/\bnosuch\b/, 'an unknown parameter without a value'],
	['nf=eq.n1', qr/\bnf\b/, 'a filter on a column not declared filterable'],
	['secret=eq.s3cret', qr/\bsecret\b/, 'a filter on a hidden column'],
	['i4=like.5', qr/\bi4\b/, 'an unknown operator'],
	['i4=5', qr/\bi4\b/, 'a value without an operator'],
	['i4=eq', qr/\bi4\b/, 'an operator without a value'],
	['b=is.true', qr/\bb\b/, 'is. takes null only'],
	['i4=not.5', qr/\bi4\b/, 'not. takes null only'],
	['i2=eq.32768', qr/\bi2\b/, 'smallint out of range'],
	['i2=eq.1.5', qr/\bi2\b/, 'smallint with a fraction'],
	['i4=eq.abc', qr/\bi4\b/, 'integer: not a number'],
	['i4=gt.2147483648', qr/\bi4\b/, 'integer out of range'],
	['i8=eq.9223372036854775808', qr/\bi8\b/, 'bigint out of range'],
	['id=eq.x', qr/\bid\b/, 'the key: not an integer'],
	['num=eq.1e', qr/\bnum\b/, 'numeric: a cut exponent'],
	['num=eq.0x10', qr/\bnum\b/, 'numeric: hexadecimal'],
	['num=eq.', qr/\bnum\b/, 'numeric: empty'],
	['r4=eq.x', qr/\br4\b/, 'real: not a number'],
	['f8=eq.NaN', qr/\bf8\b/, 'double: NaN is not JSON'],
	['f8=lt.Infinity', qr/\bf8\b/, 'double: Infinity is not JSON'],
	['b=eq.yes', qr/\bb\b/, 'boolean: yes'],
	['b=eq.1', qr/\bb\b/, 'boolean: 1'],
	['d=eq.2023-02-29', qr/\bd\b/, 'date: a day that does not exist'],
	['d=eq.2024-1-1', qr/\bd\b/, 'date: not YYYY-MM-DD'],
	['d=gt.today', qr/\bd\b/, 'date: a word'],
	['ts=eq.2024-01-01T25:00', qr/\bts\b/, 'timestamp: hour 25'],
	['ts=eq.2024-01-01T10:00Z', qr/\bts\b/, 'timestamp: with a zone'],
	['tstz=lt.yesterday', qr/\btstz\b/, 'timestamptz: a word'],
	['tstz=eq.2024-13-01T00:00Z', qr/\btstz\b/, 'timestamptz: month 13'],
	['u=eq.not-a-uuid', qr/\bu\b/, 'uuid: not one'],
	['js=eq.%7B%7D', qr/\bjs\b/, 'json: eq'],
	['jb=gt.1', qr/\bjb\b/, 'jsonb: gt'],
	['i4=pre.1', qr/\bi4\b/, 'pre. on an integer'],
	['d=has.2024', qr/\bd\b/, 'has. on a date'],
	['i4=in.(1,x)', qr/\bi4\b/, 'in.() with a bad value'],
	['i4=in.1,2', qr/\bi4\b/, 'in without parentheses'],
	['i4=in.()', qr/\bi4\b/, 'in.() empty'],
	['t=in.(%22a,b)', qr/\bt\b/, 'in.() with a quote not closed'],
	['t=in.(a%22b)', qr/\bt\b/, 'in.() with a bare quote'],
	['i4=in.(' . join(',', 1 .. 101) . ')', qr/\bi4\b/,
	    'in.() with 101 values (at most 100)'],
	['i4=gt.1&i4=gt.2', qr/\bi4\b/, 'one operator twice on a column'],
	['t=eq.%zz', qr/\bt\b/, 'a badly percent-encoded value'],
	['t=eq.a%00b', qr/\bt\b/, 'a NUL in a value'],
	['t=eq.%C3%28', qr/\bt\b/, 'a value that is not UTF-8'],
	['sort=nf', qr/\bsort\b.*\bnf\b|\bnf\b.*\bsort\b/,
	    'sort on a column not declared sortable'],
	['sort=js', qr/\bsort\b.*\bjs\b|\bjs\b.*\bsort\b/, 'sort on json'],
	['sort=ip', qr/\bsort\b.*\bip\b|\bip\b.*\bsort\b/,
	    'sort on a column declared filterable only'],
	['sort=secret', qr/\bsort\b/, 'sort on a hidden column'],
	['sort=nosuch', qr/\bsort\b/, 'sort on no column'],
	['sort=', qr/\bsort\b/, 'sort empty'],
	['sort=t,', qr/\bsort\b/, 'sort with an empty column'],
	['sort=t,-t', qr/\bsort\b/, 'sort on one column twice'],
	['sort=t&sort=d', qr/\bsort\b/, 'sort given twice'],
	['fields=nosuch', qr/\bfields\b/, 'fields: no such column'],
	['fields=secret', qr/\bfields\b/, 'fields: a hidden column'],
	['fields=', qr/\bfields\b/, 'fields empty'],
	['q=', qr/\bq\b/, 'an empty q'],
	['q=' . ('a' x 201), qr/\bq\b/, 'q of 201 characters'],
	['q=a&q=b', qr/\bq\b/, 'q given twice'],
	['per_page=abc', qr/\bper_page\b/, 'per_page not a number'],
	['per_page=0', qr/\bper_page\b/, 'per_page 0'],
	['page=0', qr/\bpage\b/, 'page 0'],
	['page=x&sort=t', qr/\bpage\b/, 'page not a number'],
);
push @BAD, [join('&', map { "i4=$_.1" } qw(eq neq lt lte gt gte))
    . '&' . join('&', map { "i2=$_.1" } qw(eq neq lt lte gt gte))
    . '&' . join('&', map { "$_=not.null" } qw(t vc ch b d)), qr/filter/i,
    'more than 16 filters'];
for my $b (@BAD) {
	my ($q, $re, $what) = @$b;
	my $shown = length $q > 60 ? substr($q, 0, 57) . '...' : $q;
	check_error(get("$QT?$q"), 400, "$what ($shown)", message => $re);
}
# A json filter with is/not null is no error; a good value is no error.
for my $q ('js=is.null', 'jb=not.null', 'u=eq.' . md5uuid(),
    'ts=eq.2024-02-28T23:00', 'tstz=eq.2024-03-30T22:00Z',
    'r4=gte.-0', 'i4=in.("1",2)') {
	is(get("$QT?$q")->{status}, 200, "$q: 200");
}
sub md5uuid { return $pg->psql("SELECT md5('7')::uuid"); }

# --- Prefer: count ------------------------------------------------------------

sub cs { return $_[0]{headers}{'cache-status'} // ''; }

{
	my $r = get("$QT?sort=t&per_page=5");
	ok(!defined $r->{headers}{'preference-applied'},
	    'no Prefer: no Preference-Applied');
	ok(!exists $r->{json}{meta}{count}, 'no Prefer: no meta.count (exact)');
	$r = get("$QT?sort=t&per_page=5", Prefer => 'count=exact');
	like($r->{headers}{'preference-applied'} // '', qr/^count=exact$/,
	    'Prefer count=exact (the page cached without a Prefer): '
	    . 'Preference-Applied says so') or diag('Cache-Status: ' . cs($r));
	ok(!exists $r->{json}{meta}{count}, 'count=exact: no meta.count');
	is($r->{json}{meta}{total}, 300, 'count=exact: the total');
	# The other way round: a Prefer stores the page first.
	get("$QT?sort=vc&per_page=5", Prefer => 'count=exact');
	$r = get("$QT?sort=vc&per_page=5");
	ok(!defined $r->{headers}{'preference-applied'},
	    'no Prefer, after a Prefer count=exact of the same page: no '
	    . 'Preference-Applied') or diag('Preference-Applied: '
	    . $r->{headers}{'preference-applied'} . ', Cache-Status: ' . cs($r));
	$r = get("$QT?sort=t&per_page=5", Prefer => 'count=estimated');
	is($r->{status}, 200, 'Prefer count=estimated: 200');
	like($r->{headers}{'preference-applied'} // '', qr/^count=estimated$/,
	    'count=estimated: Preference-Applied');
	is($r->{json}{meta}{count}, 'estimated', 'count=estimated: meta.count');
	like($r->{json}{meta}{total} // '', qr/^\d+$/,
	    'count=estimated: total an integer');
	like($r->{body}, qr/"meta":\{"count":"estimated","first":/,
	    'count=estimated: meta.count first in the sorted keys');
	cmp_ok(abs(($r->{json}{meta}{total} // 0) - 300), '<=', 30,
	    'count=estimated: the table\'s row count (analyzed)');
	$r = get("$QT?sort=t&b=eq.true&per_page=5",
	    Prefer => 'count=estimated');
	is($r->{json}{meta}{count}, 'estimated', 'filtered, estimated: meta.count');
	like($r->{json}{meta}{total} // '', qr/^\d+$/,
	    'filtered, estimated: total an integer');
	$r = get("$QT?sort=t&per_page=5", Prefer => 'count=none');
	like($r->{headers}{'preference-applied'} // '', qr/^count=none$/,
	    'count=none: Preference-Applied');
	is($r->{json}{meta}{count}, 'none', 'count=none: meta.count');
	ok(exists $r->{json}{meta}{total} && !defined $r->{json}{meta}{total},
	    'count=none: total null');
	ok(defined $r->{json}{meta}{next}, 'count=none: a next page still');
	is(scalar @{$r->{json}{items} // []}, 5, 'count=none: the items');
	my $lp = get("$QT?page=2&per_page=50", Prefer => 'count=estimated');
	is($lp->{json}{meta}{count}, 'estimated',
	    'offset paging, estimated: meta.count');
	like($lp->{headers}{'preference-applied'} // '', qr/^count=estimated$/,
	    'offset paging, estimated: Preference-Applied');
	$r = get("$QT?sort=t&per_page=5", Prefer => 'respond-async, wait=5');
	is($r->{status}, 200, 'a Prefer without count: 200');
	ok(!defined $r->{headers}{'preference-applied'},
	    'a Prefer without count: no Preference-Applied');
	my $est = get("$QT?sort=t&per_page=5", Prefer => 'count=estimated');
	my $non = get("$QT?sort=t&per_page=5", Prefer => 'count=none');
	my $exa = get("$QT?sort=t&per_page=5");
	ok($est->{headers}{etag} ne $non->{headers}{etag} &&
	    $non->{headers}{etag} ne $exa->{headers}{etag},
	    'each count mode: a representation of its own (ETag)');
}

# --- the cache ----------------------------------------------------------------

{
	my $path = "$QT?b=eq.true&sort=-d&per_page=10&fields=b,d";
	my $want = sub { join(',', (split /,/,
	    db_ids('b = true', 'd DESC, id'))[0 .. 9]) };
	my $a = get($path);
	my $b = get($path);
	is(ids_str(ids_of($a)), $want->(), 'cached query: right');
	like(cs($b), qr/^starterd; hit$/, 'the same filtered query twice: a hit')
	    or diag('Cache-Status: ' . cs($b));
	is($b->{body}, $a->{body}, 'the hit: the same body');
	# A write through the API: the next answer is fresh and right.
	my ($top) = split /,/, db_ids('b = false AND d IS NOT NULL',
	    'd DESC, id');
	my $w = send_json('PATCH', "$QT$top", '{"b":true}');
	is($w->{status}, 200, "PATCH $top b=true: 200") or diag(explain_response($w));
	my $c = get($path);
	unlike(cs($c), qr/\bhit\b/, 'after the PATCH: not a hit');
	is(ids_str(ids_of($c)), $want->(), 'after the PATCH: the new rows');
	like(ids_str(ids_of($c)), qr/(^|,)$top(,|$)/, 'the patched row is in');
	ok(wait_until(sub { cs(get($path)) =~ /^starterd; hit$/ },
	    timeout => 10), 'then the cache fills again (a hit)');
	# A write behind starterd's back (psql): the NOTIFY makes it fresh.
	$pg->psql("UPDATE lab.qt SET b = false WHERE id = $top");
	my $fresh = wait_until(sub {
		my $r = get($path);
		ids_str(ids_of($r)) eq $want->() ? $r : undef;
	}, timeout => 10);
	ok($fresh, 'after a psql UPDATE: the answer is fresh and right');
	unlike(ids_str(ids_of($fresh // {})), qr/(^|,)$top(,|$)/,
	    'the row psql changed is out');
	# A cursor page is cached under its own key, and refreshed too.
	my $n1 = get(rel($a->{json}{meta}{next}));
	my $n2 = get(rel($a->{json}{meta}{next}));
	like(cs($n2), qr/^starterd; hit$/, 'a cursor page twice: a hit');
	$pg->psql("DELETE FROM lab.qt WHERE id = (SELECT id FROM lab.qt "
	    . "WHERE b ORDER BY d DESC, id OFFSET 12 LIMIT 1)");
	my $n3 = wait_until(sub {
		my $r = get(rel($a->{json}{meta}{next}));
		ids_str(ids_of($r)) ne ids_str(ids_of($n2)) ? $r : undef;
	}, timeout => 10);
	ok($n3, 'a psql DELETE on the cursor page: the page changes');
	# The cursor page after the row at position 10 of the first answer.
	my @now = split /,/, db_ids('b = true', 'd DESC, id');
	my $after = (split /,/, ids_str(ids_of($a)))[-1];
	my ($pos) = grep { $now[$_] eq $after } 0 .. $#now;
	is(ids_str(ids_of($n3 // {})), defined $pos ?
	    join(',', grep { defined } @now[$pos + 1 .. $pos + 10]) : 'x',
	    'the refreshed cursor page: the rows after the cursor now');
}

# --- the demo encounters ------------------------------------------------------

my $E = 'starter_encounters';
sub enc_ids
{
	my ($query) = @_;
	my ($ids, $resp, $ok) = walk("$ENC?$query&per_page=100");
	return $ok ? ids_str($ids) : 'walk failed';
}
for my $c (['pxcode=eq.039', q{pxcode = '039'}],
    ['pxcode=in.(039,057,999)', q{pxcode IN ('039', '057', '999')}],
    ['pxcode=pre.05', q{starts_with(pxcode, '05')}],
    ['pxcode=neq.039&pxcode=lt.100', q{pxcode <> '039' AND pxcode < '100'}],
    ['clinic_id=in.(1,3)', 'clinic_id IN (1, 3)'],
    ['clinic_id=gte.4', 'clinic_id >= 4'],
    ['seen_on=gte.2025-06-01&seen_on=lt.2025-07-01',
	q{seen_on >= '2025-06-01' AND seen_on < '2025-07-01'}],
    ['charge=gte.100', 'charge >= 100'],
    ['charge=lt.10.5', 'charge < 10.5'],
    ['charge=gt.99.99&paid=eq.true', 'charge > 99.99 AND paid'],
    ['paid=eq.false', 'NOT paid'],
    ['note=is.null', 'note IS NULL'],
    ['note=not.null&paid=eq.true', 'note IS NOT NULL AND paid'],
    ['note=has.' . enc('\\'), q{strpos(note, '\\') > 0}],
    ['note=has.' . enc('"MUCH'), q{strpos(lower(note), '"much') > 0}],
    ['note=pre.' . enc("seen at the Caf\xc3\xa9"),
	qq{starts_with(note, 'seen at the Caf\xc3\xa9')}],
    ['note=eq.' . enc('back-slash \\ and tab' . "\t" . 'in a note'),
	qq{note = E'back-slash \\\\ and tab\\tin a note'}],
    ['q=CASH', q{strpos(lower(note), 'cash') > 0}],
    ['q=' . enc("z\xc3\xbcrich"), qq{strpos(note, 'Z\xc3\xbcrich') > 0}],
    ) {
	my ($q, $where) = @$c;
	my $want = db_ids($where, 'id', $E);
	isnt($want, '', "encounters $q: psql finds rows") unless $q =~ /999/;
	is(enc_ids($q), $want, "encounters $q: the rows psql finds");
}
{
	my $want = db_ids(undef, 'charge DESC, id', $E);
	my ($ids, $resp, $ok) = walk("$ENC?sort=-charge&per_page=100");
	ok($ok, 'encounters sort=-charge: every page 200');
	is(ids_str($ids), $want, 'encounters sort=-charge: psql\'s order');
	my ($back) = walk_back($resp->[-1]);
	is(ids_str($back), $want,
	    'encounters sort=-charge: back from the end, the same rows');
	($ids) = walk("$ENC?sort=seen_on,-charge&paid=eq.true&per_page=50");
	is(ids_str($ids), db_ids('paid', 'seen_on, charge DESC, id', $E),
	    'encounters sort=seen_on,-charge&paid=eq.true');
	my $r = get("$ENC?sort=-seen_on&per_page=3&fields=charge");
	is(scalar(grep { join(',', sort keys %$_) eq 'charge,id,url' }
	    @{$r->{json}{items} // []}), 3,
	    'encounters fields=charge: charge, id, url');
	like($r->{body}, qr/"charge":\d+(\.\d+)?,/,
	    'encounters fields=charge: charge a JSON number');
	check_error(get("${ENC}?sort=note"), 400,
	    'encounters: sort on note (not sortable)', message => qr/\bsort\b/);
	check_error(get("${ENC}?created_at=is.null"), 400,
	    'encounters: a filter on created_at (not filterable)',
	    message => qr/\bcreated_at\b/);
	check_error(get("${ENC}?charge=gte.ten"), 400,
	    'encounters: charge=gte.ten', message => qr/\bcharge\b/);
	check_error(get("${ENC}?clinic=1"), 400,
	    'encounters: an unknown parameter', message => qr/\bclinic\b/);
}

# --- pxcodes: what the seed ignored is still ignored --------------------------

{
	my $plain = get('/api/v1.0/pxcodes/');
	is($plain->{status}, 200, 'pxcodes: 200');
	for my $q ('sort=desc', 'sort=-pxcode', 'foo=bar', 'pxcode=eq.039',
	    'q=x', 'sort=desc&foo=bar&page=1') {
		my $r = get("/api/v1.0/pxcodes/?$q");
		is($r->{status}, 200, "pxcodes ?$q: 200");
		is($r->{body}, $plain->{body},
		    "pxcodes ?$q: the seed's answer, byte for byte");
	}
	ok(!exists $plain->{json}{meta}{count}, 'pxcodes: no meta.count');
	is(join(',', sort keys %{$plain->{json}{meta} // {}}),
	    'first,last,next,page,pages,per_page,prev,total',
	    'pxcodes: the seed\'s meta');
}

StarterTest::finish();
