# 020_api_read: GET and HEAD on the pxcodes resource: collection and
# pagination, items, JSON formatting, ETag and conditional requests.
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

my $rows = $pg->psql_rows(
    'SELECT pxcode, procedure FROM starter_pxcodes ORDER BY id');
is(scalar @$rows, 100, 'demo data: 100 rows');

sub get
{
	my ($path, %o) = @_;
	return request($srv, 'GET', $path, host => $HOST, @AUTH, %o);
}

sub item_doc
{
	my ($row, $host) = @_;
	return {url => "http://$host$BASE$row->[0]", pxcode => $row->[0],
	    procedure => $row->[1]};
}

# The collection page as the original Flask app renders it.
sub page_doc
{
	my ($page, $per, $host) = @_;
	$host //= $HOST;
	my $total = scalar @$rows;
	my $pages = int(($total + $per - 1) / $per);
	my $link = sub {
		my ($p) = @_;
		return "http://$host$BASE?per_page=$per&page=$p";
	};
	# Index the rows, never slice past the end: a slice under grep is an
	# lvalue and would grow @$rows.
	my @slice = map { $rows->[$_] } grep { $_ < @$rows }
	    (($page - 1) * $per .. $page * $per - 1);
	return {items => [map { item_doc($_, $host) } @slice],
	    meta => {page => $page, pages => $pages, per_page => $per,
	    total => $total,
	    prev => $page > 1 ? $link->($page - 1) : undef,
	    next => $page < $pages ? $link->($page + 1) : undef,
	    first => $link->(1), last => $link->($pages)}};
}

# --- the collection -------------------------------------------------------

my $r = get($BASE);
is($r->{status}, 200, 'GET collection: 200')
    or diag(explain_response($r));
like($r->{headers}{'content-type'} // '', qr{^application/json\b},
    'GET collection: application/json');
check_common_headers($r, 'GET collection');
is($r->{json}{items}[0]{pxcode}, '039', 'GET collection: first pxcode 039');
is($r->{json}{items}[0]{procedure}, 'EXTRACRANIAL PROCEDURES W/O CC/MCC',
    'GET collection: first procedure');
is($r->{json}{items}[0]{url}, "http://$HOST${BASE}039",
    'GET collection: item url is absolute, from Host');
is($r->{json}{meta}{total}, 100, 'GET collection: total 100');
is(scalar @{$r->{json}{items} // []}, 100, 'GET collection: 100 items');
is($r->{json}{meta}{per_page}, 100, 'GET collection: per_page default 100');
is($r->{json}{meta}{first}, "http://$HOST$BASE?per_page=100&page=1",
    'GET collection: first link as in the original README');
ok(exists $r->{json}{meta}{prev} && !defined $r->{json}{meta}{prev},
    'GET collection: prev is null on the first page');
ok(exists $r->{json}{meta}{next} && !defined $r->{json}{meta}{next},
    'GET collection: next is null on the last page');
is_deeply($r->{json}, page_doc(1, 100), 'GET collection: whole document');
is($r->{body}, jsonify(page_doc(1, 100)),
    'GET collection: body formatted like jsonify (sorted, compact, newline)');
is($r->{headers}{etag}, etag_of($r->{body}),
    'GET collection: ETag is the quoted md5 of the body');
my $coll_etag = $r->{headers}{etag};

# Links follow the Host header.
$r = get($BASE, host => "example.org:8080");
is($r->{status}, 200, 'GET collection, other Host: 200');
is($r->{body}, jsonify(page_doc(1, 100, 'example.org:8080')),
    'GET collection, other Host: links and urls use it');
isnt($r->{headers}{etag}, $coll_etag,
    'GET collection, other Host: different body, different ETag');

# --- pagination edges ------------------------------------------------------

for my $case ([1, 1], [2, 1], [50, 1], [100, 1], [1, 30], [4, 30],
    [2, 50], [1, 7], [15, 7]) {
	my ($page, $per) = @$case;
	my $name = "GET page=$page&per_page=$per";
	$r = get("$BASE?page=$page&per_page=$per");
	is($r->{status}, 200, "$name: 200") or diag(explain_response($r));
	is($r->{body}, jsonify(page_doc($page, $per)), "$name: document");
	is($r->{headers}{etag}, etag_of($r->{body}), "$name: ETag");
}

$r = get("$BASE?page=1&per_page=1");
is(scalar @{$r->{json}{items}}, 1, 'page=1&per_page=1: one item');
is($r->{json}{meta}{pages}, 100, 'page=1&per_page=1: 100 pages');
ok(!defined $r->{json}{meta}{prev}, 'page=1&per_page=1: prev null');
is($r->{json}{meta}{next}, "http://$HOST$BASE?per_page=1&page=2",
    'page=1&per_page=1: next link');
is($r->{json}{meta}{last}, "http://$HOST$BASE?per_page=1&page=100",
    'page=1&per_page=1: last link');

$r = get("$BASE?page=100&per_page=1");
is($r->{json}{items}[0]{pxcode}, $rows->[99][0],
    'last page: the last row');
ok(!defined $r->{json}{meta}{next}, 'last page: next null');
is($r->{json}{meta}{prev}, "http://$HOST$BASE?per_page=1&page=99",
    'last page: prev link');

# per_page given alone, page given alone
$r = get("$BASE?per_page=10");
is($r->{body}, jsonify(page_doc(1, 10)), 'per_page=10 alone: page 1');
$r = get("$BASE?page=1");
is($r->{body}, jsonify(page_doc(1, 100)), 'page=1 alone: per_page 100');

# cap
$r = get("$BASE?per_page=500");
is($r->{status}, 200, 'per_page=500: 200');
is($r->{json}{meta}{per_page}, 100, 'per_page=500: capped to 100');
is(scalar @{$r->{json}{items} // []}, 100, 'per_page=500: 100 items');
is($r->{body}, jsonify(page_doc(1, 100)),
    'per_page=500: same document as per_page=100');

# past the end
for my $q ('page=101&per_page=1', 'page=2', 'page=5&per_page=30',
    'page=1000000') {
	check_error(get("$BASE?$q"), 404, "GET ?$q (past the last page)");
}

# bad values
for my $q ('page=0', 'page=-1', 'page=abc', 'per_page=0', 'per_page=-1',
    'per_page=abc', 'page=1&per_page=0', 'page=1x', 'per_page=10abc') {
	check_error(get("$BASE?$q"), 400, "GET ?$q");
}

# --- items -----------------------------------------------------------------

$r = get("${BASE}039");
is($r->{status}, 200, 'GET item 039: 200');
check_common_headers($r, 'GET item 039');
like($r->{headers}{'content-type'} // '', qr{^application/json\b},
    'GET item 039: application/json');
is($r->{body}, jsonify(item_doc($rows->[0], $HOST)),
    'GET item 039: body');
is($r->{headers}{etag}, etag_of($r->{body}), 'GET item 039: ETag');
my $item_etag = $r->{headers}{etag};
my $item_len = $r->{headers}{'content-length'};

$r = get("${BASE}$rows->[99][0]");
is($r->{body}, jsonify(item_doc($rows->[99], $HOST)), 'GET last item: body');

$r = get("${BASE}%30%33%39");
is($r->{status}, 200, 'GET item percent-encoded: 200');
is($r->{json}{pxcode}, '039', 'GET item percent-encoded: decoded');

check_error(get("${BASE}NOPE"), 404, 'GET unknown item');
check_error(get("${BASE}12345678901"), 404, 'GET over-long unknown item');
check_error(get('/nope'), 404, 'GET unknown path');
check_error(get('/api/v1.0/other/'), 404, 'GET unknown API resource');

# --- HEAD ------------------------------------------------------------------

{
	my $c = StarterTest::Conn->new($srv);
	my $h = $c->request('HEAD', "${BASE}039", host => $HOST, @AUTH);
	is($h->{status}, 200, 'HEAD item: 200');
	is($h->{body}, '', 'HEAD item: no body');
	is($h->{headers}{etag}, $item_etag, 'HEAD item: same ETag as GET');
	is($h->{headers}{'content-length'}, $item_len,
	    'HEAD item: Content-Length of the GET body');
	check_common_headers($h, 'HEAD item', head => 1);
	# No stray body bytes: the next response on the connection parses.
	my $g = $c->request('GET', "${BASE}039", host => $HOST, @AUTH);
	is($g->{status}, 200, 'GET after HEAD on one connection: 200');
	is($g->{headers}{etag}, $item_etag,
	    'GET after HEAD on one connection: intact response');

	$h = $c->request('HEAD', $BASE, host => $HOST, @AUTH);
	is($h->{status}, 200, 'HEAD collection: 200');
	is($h->{headers}{etag}, $coll_etag, 'HEAD collection: ETag');
	is($h->{body}, '', 'HEAD collection: no body');
	$h = $c->request('HEAD', "${BASE}NOPE", host => $HOST, @AUTH);
	is($h->{status}, 404, 'HEAD unknown item: 404');
	is($h->{body}, '', 'HEAD unknown item: no body');
	$g = $c->request('GET', '/healthz', host => $HOST);
	is($g->{status}, 200, 'GET after HEAD 404 on one connection: 200');
	$c->close;
}

# --- conditional requests --------------------------------------------------

sub cond
{
	my ($path, %h) = @_;
	return get($path, headers => \%h);
}

for my $case (
    ['exact tag', $item_etag],
    ['*', '*'],
    ['list containing it', "\"0000\", $item_etag"],
    ['weak form', "W/$item_etag"]) {
	my ($what, $val) = @$case;
	$r = cond("${BASE}039", 'If-None-Match' => $val);
	is($r->{status}, 304, "If-None-Match $what: 304")
	    or diag(explain_response($r));
	is($r->{body}, '', "If-None-Match $what: empty body");
	is($r->{headers}{etag}, $item_etag, "If-None-Match $what: ETag sent");
	check_common_headers($r, "If-None-Match $what");
}
$r = cond("${BASE}039", 'If-None-Match' => '"0123456789abcdef"');
is($r->{status}, 200, 'If-None-Match other tag: 200');
is($r->{headers}{etag}, $item_etag, 'If-None-Match other tag: ETag');

$r = cond($BASE, 'If-None-Match' => $coll_etag);
is($r->{status}, 304, 'If-None-Match on the collection: 304');
is($r->{body}, '', 'If-None-Match on the collection: empty body');

{
	my $c = StarterTest::Conn->new($srv);
	my $h = $c->request('HEAD', "${BASE}039", host => $HOST, @AUTH,
	    headers => {'If-None-Match' => $item_etag});
	is($h->{status}, 304, 'HEAD with matching If-None-Match: 304');
	my $g = $c->request('GET', "${BASE}039", host => $HOST, @AUTH,
	    headers => {'If-None-Match' => $item_etag});
	is($g->{status}, 304, 'second 304 on a keep-alive connection');
	$g = $c->request('GET', "${BASE}039", host => $HOST, @AUTH);
	is($g->{status}, 200, '304 left no stray bytes on the connection');
	$c->close;
}

check_error(cond("${BASE}039", 'If-Match' => '"0123456789abcdef"'), 412,
    'If-Match not matching');
check_error(cond($BASE, 'If-Match' => '"0123456789abcdef"'), 412,
    'If-Match not matching on the collection');
$r = cond("${BASE}039", 'If-Match' => $item_etag);
is($r->{status}, 200, 'If-Match matching: 200');
$r = cond("${BASE}039", 'If-Match' => '*');
is($r->{status}, 200, 'If-Match *: 200');
$r = cond("${BASE}039", 'If-Match' => "W/$item_etag");
is($r->{status}, 412, 'If-Match with a weak tag (strong comparison): 412');

# A 404 stays a 404 whatever the preconditions.
$r = cond("${BASE}NOPE", 'If-None-Match' => '*');
is($r->{status}, 404, 'If-None-Match * on a missing item: 404');

# --- query string and path decoding ------------------------------------------

$r = get("$BASE?per_page=%31%30");
is($r->{body}, jsonify(page_doc(1, 10)),
    'percent-encoded per_page value: decoded');
$r = get("$BASE?page=2&page=3&per_page=10");
is($r->{json}{meta}{page}, 2, 'repeated page parameter: the first wins');
$r = get("$BASE?per_page=10&sort=desc");
is($r->{body}, jsonify(page_doc(1, 10)),
    'unknown query parameters are ignored');
check_error(get("${BASE}'%20OR%20'1'='1"), 404, 'SQL-looking item code');

# --- the whole catalogue, item by item --------------------------------------

{
	my $c = StarterTest::Conn->new($srv);
	my $bad = 0;
	for my $row (@$rows) {
		my $g = $c->request('GET', "$BASE$row->[0]", host => $HOST,
		    @AUTH);
		$bad++ unless $g->{status} == 200
		    && $g->{body} eq jsonify(item_doc($row, $HOST));
	}
	is($bad, 0, 'all 100 items served correctly over one connection');
	$c->close;
}

finish();
