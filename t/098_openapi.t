# 098_openapi: discovery through a real server.  The test declares the
# resources (a configuration file with their blocks: pxcodes, and
# encounters once its table exists), then checks GET /api/v1.0/ and GET
# /api/v1.0/openapi.json against those declarations and the catalog (the
# paths, methods and schemas are derived from both, never counted by
# hand), lints the document with t/openapi/lint (@redocly/cli) and renders
# it with swagger-ui-dist in headless Chromium, where every operation must
# appear.  The screenshot, the DOM and the document are kept in
# t/artifacts/098_openapi/ of the build tree (STARTERD_TEST_ARTIFACTS
# overrides); the path is printed.
#
# The npm tools or Chromium missing is a skip of those parts (a failure
# with STARTERD_TEST_OPENAPI=require, as CI runs it).  Loopback only: the
# browser's host resolver maps every name but 127.0.0.1 to nothing.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use B;
use JSON::PP;
use StarterTest;
use Test::More;

# The first run installs the npm tools (t/openapi/lint, bounded there).
alarm(600);
my $REQUIRE = ($ENV{STARTERD_TEST_OPENAPI} // '') eq 'require';
my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);

# --- the declarations ----------------------------------------------------
# As resconf_builtin() declares pxcodes, and the second demo resource.
my @DECL = ({name => 'pxcodes', table => 'starter_pxcodes', key => 'pxcode',
    hidden => ['id'], required => ['procedure'], order => 'id',
    per_page => 100, max_per_page => 100, read => 'user', write => 'user',
    search => ['procedure']});
my $have_enc = $pg->psql("SELECT to_regclass('starter_encounters') "
    . "IS NOT NULL") eq 't';
push @DECL, {name => 'encounters', table => 'starter_encounters',
    key => 'id', read_only => ['created_at'], order => 'id', per_page => 20,
    max_per_page => 50, read => 'user', write => 'user',
    filter => [qw(pxcode clinic_id seen_on charge paid note)],
    sort => [qw(seen_on charge id)], search => ['note']} if $have_enc;
note($have_enc ? 'declared: pxcodes, encounters'
    : 'no starter_encounters table (migration 006 not there): pxcodes only');

my $conf = StarterTest::basedir() . '/openapi.conf';
open my $cf, '>', $conf or die "$conf: $!";
# The browser reads the document from a file:// page: origin "null".
print $cf "cors_origin = *\n";
for my $d (@DECL) {
	print $cf "resource $d->{name} {\n";
	for my $k (qw(table key hidden read_only required order per_page
	    max_per_page read write filter sort search)) {
		next unless defined $d->{$k};
		my $v = ref $d->{$k} ? join(',', @{$d->{$k}}) : $d->{$k};
		print $cf "\t$k = $v\n";
	}
	print $cf "}\n";
}
close $cf;

# What the catalog says of each declared table's columns.
for my $d (@DECL) {
	my $rows = $pg->psql_rows("SELECT a.attname, t.typname, "
	    . "format_type(a.atttypid, a.atttypmod), a.attnotnull, "
	    . "a.atthasdef OR a.attidentity <> '', "
	    . "a.attidentity = 'a' OR a.attgenerated <> '' "
	    . "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
	    . "WHERE a.attrelid = '$d->{table}'::regclass AND a.attnum > 0 "
	    . "AND NOT a.attisdropped ORDER BY a.attnum");
	my %hidden = map { $_ => 1 } @{$d->{hidden} // []};
	my %ro = map { $_ => 1 } @{$d->{read_only} // []};
	my %req = map { $_ => 1 } @{$d->{required} // []};
	for my $r (@$rows) {
		my ($name, $typ, $fmt, $nn, $def, $gen) = @$r;
		my %c = (name => $name, typ => $typ, fmt => $fmt,
		    notnull => $nn eq 't', generated => $gen eq 't');
		$c{exposed} = !$hidden{$name};
		$c{read_only} = $ro{$name} || $c{generated};
		$c{required} = $req{$name} || ($c{notnull} && $def ne 't');
		($c{maxlen}) = $fmt =~ /^(?:character varying|character)\((\d+)\)$/;
		push @{$d->{cols}}, \%c;
	}
	ok(@{$d->{cols} // []} > 0, "$d->{name}: $d->{table} has columns");
}

my %JSONTYPE = (text => ['string'], varchar => ['string'],
    bpchar => ['string'], int2 => ['integer', 'int16'],
    int4 => ['integer', 'int32'], int8 => ['integer', 'int64'],
    numeric => ['number'], float4 => ['number', 'float'],
    float8 => ['number', 'double'], bool => ['boolean'],
    date => ['string', 'date'], timestamp => ['string'],
    timestamptz => ['string', 'date-time'], uuid => ['string', 'uuid'],
    json => [], jsonb => []);

# --- the server ---------------------------------------------------------
my $srv = StarterTest::Server->new(pg => $pg, args => ['-f', $conf]);
my $HOST = '127.0.0.1:' . $srv->port;
my $BASE = "http://$HOST";
my @AUTH = (auth => 'admin:admin', host => $HOST);
my $PFX = '/api/v1.0';

# Wait for the bindings: the index lists a resource once it is bound.
my $idx;
wait_until(sub {
	$idx = request($srv, 'GET', "$PFX/", @AUTH);
	return $idx->{status} == 200 && ref $idx->{json} eq 'HASH'
	    && @{$idx->{json}{resources} // []} == @DECL;
}, timeout => 20);

# --- the index ----------------------------------------------------------
is($idx->{status}, 200, 'GET /api/v1.0/: 200') or diag(explain_response($idx));
is_deeply($idx->{json}, {resources => [map { {name => $_->{name},
    url => "$BASE$PFX/$_->{name}/"} } @DECL]},
    'GET /api/v1.0/: every declared resource with its URL, in order');
is($idx->{body}, jsonify($idx->{json}),
    'GET /api/v1.0/: written like jsonify (sorted keys, newline)');
like($idx->{headers}{etag} // '', qr/^"[0-9a-f]{32}"$/,
    'GET /api/v1.0/: a strong ETag');
check_common_headers($idx, 'GET /api/v1.0/');
my $r = request($srv, 'GET', "$PFX/", @AUTH,
    headers => {'If-None-Match' => $idx->{headers}{etag} // '"x"'});
is($r->{status}, 304, 'GET /api/v1.0/ with its ETag: 304');
check_error(request($srv, 'GET', "$PFX/", host => $HOST), 401,
    'GET /api/v1.0/ without credentials');

# --- the document -------------------------------------------------------
my $oa = request($srv, 'GET', "$PFX/openapi.json", @AUTH);
is($oa->{status}, 200, 'GET openapi.json: 200') or diag(explain_response($oa));
like($oa->{headers}{'content-type'} // '', qr{^application/json\b},
    'GET openapi.json: application/json');
check_common_headers($oa, 'GET openapi.json');
my $doc = $oa->{json};
BAIL_OUT('the OpenAPI document is not JSON: ' . ($oa->{json_error} // ''))
    unless ref $doc eq 'HASH';
$r = request($srv, 'GET', "$PFX/openapi.json", @AUTH,
    headers => {'If-None-Match' => $oa->{headers}{etag} // '"x"'});
is($r->{status}, 304, 'GET openapi.json with its ETag: 304');
check_error(request($srv, 'GET', "$PFX/openapi.json", host => $HOST), 401,
    'GET openapi.json without credentials');
$r = request($srv, 'HEAD', "$PFX/openapi.json", @AUTH);
is($r->{status}, 200, 'HEAD openapi.json: 200');
is($r->{headers}{'content-length'}, length $oa->{body},
    'HEAD openapi.json: the GET\'s Content-Length');

is($doc->{openapi}, '3.1.0', 'openapi: 3.1.0');
is($doc->{servers}[0]{url}, $BASE, 'servers: the request\'s scheme://Host');
is_deeply([sort keys %{$doc->{components}{securitySchemes} // {}}],
    ['basic', 'bearer'], 'security schemes: basic and bearer');
is($doc->{components}{securitySchemes}{bearer}{bearerFormat}, 'JWT',
    'bearer: JWT');

# Every $ref resolves in the document.
my ($nref, @badref) = (0);
sub walk
{
	my ($n) = @_;
	if (ref $n eq 'HASH') {
		for my $k (sort keys %$n) {
			if ($k eq '$ref') {
				$nref++;
				my $t = $doc;
				my $p = $n->{$k};
				$p =~ s{^#/}{} or push(@badref, $p), next;
				for my $s (split m{/}, $p) {
					$s =~ s/~1/\//g;
					$s =~ s/~0/~/g;
					$t = ref $t eq 'HASH' ? $t->{$s} : undef;
				}
				push @badref, $n->{$k} unless defined $t;
			} else {
				walk($n->{$k});
			}
		}
	} elsif (ref $n eq 'ARRAY') {
		walk($_) for @$n;
	}
}
walk($doc);
ok($nref > 0 && !@badref, "$nref \$refs, all resolved")
    or diag("unresolved: @badref");

my %ERRBODY = ('application/json' => '#/components/schemas/Error',
    'application/problem+json' => '#/components/schemas/Problem');
my $eb = $doc->{components}{schemas}{Error};
is_deeply([sort @{$eb->{required} // []}], [qw(error message status)],
    'the error body: error, message, status, as response.c writes it');

# The operations the declarations call for.
my @fixed = (['get', "$PFX/"], ['get', "$PFX/openapi.json"],
    ['get', '/auth/request-token'], ['get', '/healthz'], ['get', '/readyz']);
my @want = @fixed;
for my $d (@DECL) {
	my $coll = "$PFX/$d->{name}/";
	my $item = "$PFX/$d->{name}/{$d->{key}}";
	if ($d->{read} ne 'none') {
		push @want, map { [$_, $coll], [$_, $item] } qw(get head);
	}
	if ($d->{write} ne 'none') {
		push @want, ['post', $coll], map { [$_, $item] }
		    qw(put patch delete);
	}
}
my %METHODS = map { $_ => 1 } qw(get head post put patch delete options
    trace);
my @have;
for my $p (sort keys %{$doc->{paths}}) {
	push @have, map { [$_, $p] } grep { $METHODS{$_} }
	    keys %{$doc->{paths}{$p}};
}
my $k = sub { join ' ', map { "$_->[0] $_->[1]" } sort { $a->[1] cmp $b->[1]
    || $a->[0] cmp $b->[0] } @_ };
is($k->(@have), $k->(@want),
    scalar(@want) . ' operations: those the declarations call for');

# Each operation: an id, a summary, its responses and their bodies.
my (%opid, @ops);
for my $w (@want) {
	my ($m, $p) = @$w;
	my $op = $doc->{paths}{$p}{$m} or next;
	my $n = "\U$m\E $p";
	ok(defined $op->{operationId} && !$opid{$op->{operationId}}++
	    && defined $op->{summary}, "$n: a unique operationId, a summary");
	push @ops, {tag => $op->{tags}[0], id => $op->{operationId},
	    name => $n};
	my $resp = $op->{responses} // {};
	ok((grep { /^2\d\d$/ } keys %$resp), "$n: a 2xx response");
	# Each error is the shared one, with the error body.
	my @bad;
	for my $st (grep { /^[45]\d\d$/ } keys %$resp) {
		my $ref = $resp->{$st}{'$ref'} // '';
		my ($name) = $ref =~ m{^#/components/responses/(.+)$};
		my $c = defined $name
		    ? $doc->{components}{responses}{$name}{content} : undef;
		push @bad, $st unless $c && join(',', map {
		    "$_=" . ($c->{$_}{schema}{'$ref'} // '') } sort keys %$c)
		    eq join(',', map { "$_=$ERRBODY{$_}" } sort keys %ERRBODY);
	}
	ok(!@bad, "$n: every 4xx/5xx has the error body")
	    or diag("without it: @bad");
}

# The statuses of the resource operations (brief: the item's and the
# collection's), each declared where the server can answer it.
for my $d (@DECL) {
	my $item = $doc->{paths}{"$PFX/$d->{name}/{$d->{key}}"} // {};
	my $coll = $doc->{paths}{"$PFX/$d->{name}/"} // {};
	my %st = map { %{$item->{$_}{responses} // {}} }
	    grep { $METHODS{$_} } keys %$item;
	is(join(',', sort keys %st), join(',', qw(200 201 204 304 400 401 403
	    404 409 412 415 422 428 429 503)),
	    "$d->{name} item: every status of GET, HEAD, PUT, PATCH, DELETE");
	ok(exists $item->{get}{responses}{304}
	    && exists $item->{put}{responses}{201}
	    && exists $item->{delete}{responses}{204}
	    && exists $coll->{post}{responses}{201}
	    && $coll->{post}{responses}{201}{headers}{Location},
	    "$d->{name}: GET 304, PUT 201, DELETE 204, POST 201 + Location");
	my @hp = map { ($_->{'$ref'} // '') =~ m{([^/]+)$} }
	    @{$item->{put}{parameters} // []}, @{$item->{get}{parameters} // []};
	ok((grep { $_ eq 'If-Match' } @hp) && (grep { /^If-None-Match/ } @hp),
	    "$d->{name}: If-Match and If-None-Match on the item");
	my ($pp) = grep { ($_->{name} // '') eq 'per_page' }
	    @{$coll->{get}{parameters} // []};
	is($pp->{schema}{default}, $d->{per_page},
	    "$d->{name}: per_page defaults to the declared $d->{per_page}");
	my @pr = @{$item->{parameters} // []};
	ok(@pr == 1 && $pr[0]{name} eq $d->{key} && $pr[0]{in} eq 'path'
	    && $pr[0]{required}, "$d->{name}: the item path takes the key "
	    . $d->{key});
}

# The query parameters of each collection, from its declaration: fields
# (the exposed columns), sort (the sortable ones, either way) and q where
# declared, a filter per filterable column, the shared cursor and Prefer.
sub deref
{
	my ($p) = @_;
	my ($n) = ($p->{'$ref'} // '') =~ m{^#/components/parameters/(.+)$};
	return defined $n ? $doc->{components}{parameters}{$n} // {} : $p;
}
for my $d (@DECL) {
	my $coll = $doc->{paths}{"$PFX/$d->{name}/"} // {};
	for my $m (qw(get head)) {
		my %p = map { my $x = deref($_); ("$x->{in}:$x->{name}" => $x) }
		    @{$coll->{$m}{parameters} // []};
		my @exp = map { $_->{name} } grep { $_->{exposed} }
		    @{$d->{cols}};
		my @want = ('header:If-None-Match', 'header:Prefer',
		    'query:cursor', 'query:fields', 'query:page',
		    'query:per_page', map({ "query:$_" }
		    @{$d->{filter} // []}), $d->{sort} ? 'query:sort' : (),
		    $d->{search} ? 'query:q' : ());
		is(join(' ', sort keys %p), join(' ', sort @want),
		    "$d->{name} \U$m\E: the parameters its declaration "
		    . 'calls for');
		is(join(',', sort @{$p{'query:fields'}{schema}{items}{enum}
		    // []}), join(',', sort @exp),
		    "$d->{name} \U$m\E: fields names the exposed columns");
		is(join(',', sort @{$p{'query:sort'}{schema}{items}{enum}
		    // []}), join(',', sort map { ($_, "-$_") }
		    @{$d->{sort} // []}), "$d->{name} \U$m\E: sort, either way")
		    if $d->{sort};
		my @nof = grep { !(($p{"query:$_"}{schema}{'$ref'} // '')
		    =~ m{^#/components/schemas/Filter\.\w+$}) }
		    @{$d->{filter} // []};
		ok(!@nof, "$d->{name} \U$m\E: each filter of a Filter schema")
		    or diag("not: @nof");
	}
	my $ok = $coll->{get}{responses}{200}{headers} // {};
	ok($ok->{Link} && $ok->{'Preference-Applied'} && $ok->{ETag},
	    "$d->{name}: a page has ETag, Link and Preference-Applied");
}

# The schemas, against the catalog and the declaration.
for my $d (@DECL) {
	my $s = $doc->{components}{schemas}{$d->{name}} // {};
	my @exp = grep { $_->{exposed} } @{$d->{cols}};
	is(join(',', sort keys %{$s->{properties} // {}}),
	    join(',', sort('url', map { $_->{name} } @exp)),
	    "$d->{name}: the exposed columns and url, no hidden one");
	is(join(',', sort @{$s->{required} // []}),
	    join(',', sort('url', map { $_->{name} } @exp)),
	    "$d->{name}: every member always there");
	for my $c (@exp) {
		my $ps = $s->{properties}{$c->{name}} // {};
		my $n = "$d->{name}.$c->{name} ($c->{fmt})";
		my ($jt, $jf) = @{$JSONTYPE{$c->{typ}} // ['string']};
		if (!defined $jt) {
			ok(!exists $ps->{type}, "$n: any JSON value");
		} elsif ($c->{notnull}) {
			is($ps->{type}, $jt, "$n: $jt");
		} else {
			is_deeply($ps->{type}, [$jt, 'null'], "$n: $jt or null");
		}
		is($ps->{format}, $jf, "$n: format " . ($jf // 'none'));
		is($ps->{maxLength}, $c->{maxlen},
		    "$n: maxLength " . ($c->{maxlen} // 'none'));
		is(!!$ps->{readOnly}, !!$c->{read_only},
		    "$n: " . ($c->{read_only} ? '' : 'not ') . 'readOnly');
	}
	next if $d->{write} eq 'none';
	my $b = $doc->{components}{schemas}{"$d->{name}.create"} // {};
	my @wr = grep { !$_->{read_only} } @exp;
	is(join(',', sort keys %{$b->{properties} // {}}),
	    join(',', sort map { $_->{name} } @wr),
	    "$d->{name}: POST takes the writable columns");
	is(join(',', sort @{$b->{required} // []}),
	    join(',', sort map { $_->{name} } grep { $_->{required} } @wr),
	    "$d->{name}: POST requires NOT NULL without default, and the "
	    . "declared");
	ok(JSON::PP::is_bool($b->{additionalProperties})
	    && !$b->{additionalProperties}, "$d->{name}: POST takes no other");
}

# The document says what the server does: a POST without a required
# column is a 400 naming it, and a read-only one is refused.
for my $d (@DECL) {
	next if $d->{write} eq 'none';
	my ($c) = grep { $_->{exposed} && $_->{required} && !$_->{read_only} }
	    @{$d->{cols}};
	next unless $c;
	$r = request($srv, 'POST', "$PFX/$d->{name}/", @AUTH,
	    headers => {'Content-Type' => 'application/json'}, body => '{}');
	is($r->{status}, 400, "$d->{name}: POST {} is a 400 as documented");
	like($r->{json}{message} // '', qr/\Q$c->{name}\E|missing/,
	    "$d->{name}: the 400 names a missing required column");
}

# The document describes what the server answers: a page and its items
# hold exactly the members of their schemas, each of its JSON type.
sub json_kind
{
	my ($v) = @_;
	return 'null' unless defined $v;
	return 'boolean' if JSON::PP::is_bool($v);
	return ref $v eq 'HASH' ? 'object' : 'array' if ref $v;
	my $f = B::svref_2object(\$v)->FLAGS;
	return 'string' if $f & B::SVp_POK;
	return 'integer' if $f & B::SVp_IOK;
	return 'number';
}

sub matches
{
	my ($v, $s) = @_;
	return 1 unless exists $s->{type};		# any value
	my $k = json_kind($v);
	my @t = ref $s->{type} ? @{$s->{type}} : ($s->{type});
	return scalar grep { $_ eq $k || ($_ eq 'number' && $k eq 'integer') }
	    @t;
}

for my $d (@DECL) {
	next if $d->{read} eq 'none';
	my $schemas = $doc->{components}{schemas};
	$r = request($srv, 'GET', "$PFX/$d->{name}/?per_page=3", @AUTH);
	is($r->{status}, 200, "$d->{name}: GET a page");
	my $pg = $r->{json} // {};
	is(join(',', sort keys %$pg), join(',', sort keys
	    %{$schemas->{"$d->{name}.page"}{properties} // {}}),
	    "$d->{name}: the page has the members of $d->{name}.page");
	my %mp = %{$schemas->{Meta}{properties} // {}};
	is(join(',', grep { !$mp{$_} } sort keys %{$pg->{meta} // {}}), '',
	    "$d->{name}: its meta has no member Meta lacks");
	is(join(',', grep { !exists $pg->{meta}{$_} }
	    sort @{$schemas->{Meta}{required} // []}), '',
	    "$d->{name}: its meta has every member Meta requires");
	my $is = $schemas->{$d->{name}} // {};
	my @bad;
	for my $it (@{$pg->{items} // []}) {
		push @bad, 'members: ' . join(',', sort keys %$it)
		    unless join(',', sort keys %$it) eq
		    join(',', sort keys %{$is->{properties} // {}});
		for my $m (sort keys %$it) {
			my $ps = $is->{properties}{$m} or next;
			push @bad, "$m: " . json_kind($it->{$m})
			    unless matches($it->{$m}, $ps);
		}
	}
	ok(@{$pg->{items} // []} > 0 ? !@bad : 1, "$d->{name}: "
	    . scalar(@{$pg->{items} // []}) . ' items, each as its schema '
	    . 'says (members, JSON types)') or diag(join("\n", @bad));
}

# --- lint ---------------------------------------------------------------
my $LINT = StarterTest::top_srcdir() . '/t/openapi/lint';
my $tools;
SKIP: {
	my $lr = run_cmd([$LINT, '--user', 'admin:admin',
	    "$BASE$PFX/openapi.json"], timeout => 420);
	if ($lr->{rc} == 77 && !$REQUIRE) {
		skip("lint: $lr->{out}", 1);
	}
	is($lr->{rc}, 0, 'redocly lint: no error, no warning')
	    or diag("$lr->{out}$lr->{err}");
	note($lr->{out});
	my $dr = run_cmd([$LINT, '--dir'], timeout => 420);
	($tools) = $dr->{out} =~ /^(\/.*)$/m if $dr->{rc} == 0;
}

# --- render -------------------------------------------------------------
my ($chromium) = grep { -x $_ } map { my $b = $_; map { "$_/$b" }
    split /:/, $ENV{PATH} // '' } qw(chromium chromium-browser);
SKIP: {
	my $why = !defined $tools ? 'the npm tools are not installed'
	    : !defined $chromium ? 'chromium is not installed' : undef;
	if (defined $why) {
		fail("render: $why (STARTERD_TEST_OPENAPI=require)")
		    if $REQUIRE;
		skip("render: $why", 1);
	}
	my $ui = "$tools/node_modules/swagger-ui-dist";
	my $dir = StarterTest::basedir();
	my $art = $ENV{STARTERD_TEST_ARTIFACTS}
	    // StarterTest::top_builddir() . '/t/artifacts/098_openapi';
	make_path($art);
	my $page = "$dir/swagger.html";
	my $url = "$BASE$PFX/openapi.json";
	open my $fh, '>', $page or die "$page: $!";
	print $fh <<"EOF";
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>starterd OpenAPI</title>
<link rel="stylesheet" href="file://$ui/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="file://$ui/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
	url: "$url",
	dom_id: "#ui",
	requestInterceptor: function (r) {
		r.headers.Authorization = "Basic " + btoa("admin:admin");
		return r;
	},
	onComplete: function () {
		var m = document.createElement("div");
		m.id = "starterd-rendered";
		document.body.appendChild(m);
	}
});
</script></body></html>
EOF
	close $fh;
	my $ntags = @{$doc->{tags} // []};
	my $height = 700 + 60 * @ops + 90 * $ntags;
	$height = 16000 if $height > 16000;
	my @chrome = ($chromium, '--headless', '--disable-gpu',
	    '--disable-dev-shm-usage', '--no-first-run',
	    '--no-default-browser-check', '--disable-extensions',
	    '--disable-background-networking', '--disable-component-update',
	    '--disable-sync', '--disable-domain-reliability', '--no-pings',
	    '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
	    "--user-data-dir=$dir/chromium", '--virtual-time-budget=20000',
	    '--hide-scrollbars', "--window-size=1280,$height");
	push @chrome, '--no-sandbox' if $> == 0;
	my $cr = run_cmd([@chrome, '--dump-dom', "file://$page"],
	    timeout => 120, env => {HOME => $dir});
	my $dom = $cr->{out};
	is($cr->{rc}, 0, 'chromium --dump-dom: exit 0')
	    or diag(substr($cr->{err}, -2000));
	if (open my $df, '>', "$art/swagger-dom.html") {
		print $df $dom;
		close $df;
	}
	if (open my $jf, '>', "$art/openapi.json") {
		print $jf $oa->{body};
		close $jf;
	}
	like($dom, qr/id="starterd-rendered"/,
	    'swagger-ui rendered the document (onComplete ran)');
	unlike($dom, qr/Failed to load API definition|Errors\s*<\/h4>/i,
	    'swagger-ui: no load or parse error');
	my @missing = grep { index($dom, "id=\"operations-$_->{tag}-$_->{id}\"")
	    < 0 } @ops;
	ok(!@missing, scalar(@ops) . ' operations, each in the rendered DOM')
	    or diag('missing: ' . join(', ', map { $_->{name} } @missing));
	my $nblocks = () = $dom =~ /class="opblock-summary-method"/g;
	is($nblocks, scalar @ops, 'as many operation blocks as operations');
	$cr = run_cmd([@chrome, "--screenshot=$art/swagger.png",
	    "file://$page"], timeout => 120, env => {HOME => $dir});
	ok($cr->{rc} == 0 && -s "$art/swagger.png",
	    'chromium --screenshot: a picture') or diag(substr($cr->{err},
	    -2000));
	diag("screenshot: $art/swagger.png (DOM and document beside it)");
}

finish();
