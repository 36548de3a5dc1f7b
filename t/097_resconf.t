# 097_resconf: `resource NAME { ... }` blocks of the configuration file.
# Each kind of declaration mistake is one line naming file:line, the
# resource, the key and the cause, and `starterd -t` exits 1 (without the
# database: --test-config-only); plain startup refuses the file the same
# way; a valid file passes, and no block at all is the built-in pxcodes.
# Against the database, -t binds every declaration to the catalog and says
# each problem on its line (table missing, key not unique, column missing,
# unsupported type without as_text, privileges short of the declared
# access).  A reload with a bad block is refused, a good one taken.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;

my $BIN = top_builddir() . '/src/starterd';
my $dir = StarterTest::basedir();
my $port = StarterTest::free_port();
my %CLEAN = (map { $_ => undef } grep { /^STARTERD_|^JOURNAL_STREAM$/ }
    keys %ENV);
$CLEAN{DATABASE_URL} = undef;

my $nconf = 0;
# A configuration file holding TEXT; its path.
sub conf_file
{
	my ($text) = @_;
	my $f = sprintf('%s/res_%d.conf', $dir, ++$nconf);
	open my $fh, '>', $f or die "$f: $!";
	print $fh $text;
	close $fh;
	return $f;
}

# starterd ARGS with a clean environment; {rc, out, err, lines}.
sub sd
{
	my (@args) = @_;
	my $r = run_cmd([$BIN, @args], timeout => 30, env => \%CLEAN);
	$r->{lines} = [ split /\n/, $r->{err} ];
	return $r;
}

# -t without the database on the file holding TEXT.
sub t_syntax
{
	my ($text) = @_;
	my $f = conf_file($text);
	return (sd('-t', '--test-config-only', '-p', $port, '-f', $f), $f);
}

# One mistake: exit 1, one line "starterd: FILE:LINE: resource ...".
sub one_mistake
{
	my ($name, $text, $line, $re) = @_;
	my ($r, $f) = t_syntax($text);
	is($r->{rc}, 1, "$name: exit 1") or diag($r->{err});
	is(scalar @{$r->{lines}}, 1, "$name: exactly one line")
	    or diag($r->{err});
	like($r->{lines}[0] // '', qr/^starterd: \Q$f\E:$line: $re$/,
	    "$name: file:line, the resource, the key and the cause");
}

my $GOOD = <<'EOF';
# the two demo resources
port = 5000
resource pxcodes {
	table = starter_pxcodes		# [schema.]table or view
	key = pxcode
	hidden = id
	required = procedure
	order = id
	per_page = 100
	max_per_page = 100
	read = user
	write = user
	unknown_fields = ignore
	statement_prefix = px
}

resource encounters {
	table = public.starter_encounters
	key = id
	read_only = created_at
	order = -seen_on, id
	per_page = "20"
	read = anyone
	write = group:billing
	filter = pxcode, clinic_id,seen_on
	sort = seen_on, charge
	search = note
	count = auto
	count_threshold = 1000000000000
}

resource counted {
	table = t
	count = exact
}
EOF

# ---------------------------------------------------------------- valid

my ($r, $f) = t_syntax($GOOD);
is($r->{rc}, 0, 'valid blocks: exit 0') or diag($r->{err});
like($r->{err}, qr/^starterd: configuration \Q$f\E is ok/,
    'valid blocks: says ok');
($r) = t_syntax("port = 5000\n");
is($r->{rc}, 0, 'no block (the built-in pxcodes): exit 0') or diag($r->{err});

# ---------------------------------------------------------------- mistakes

sub block { my ($body) = @_; return "resource px {\n${body}}\n"; }

one_mistake('unknown key', block("\ttable = t\n\tcolour = red\n"), 3,
    qr/resource px: unknown key "colour"/);
one_mistake('duplicate key', block("\ttable = t\n\ttable = u\n"), 3,
    qr/resource px: table: given twice \(first on line 2\)/);
one_mistake('bad access value', block("\ttable = t\n\tread = everyone\n"),
    3, qr/resource px: read: "everyone" is not anyone, user, group:NAME or none/);
one_mistake('bad group name', block("\ttable = t\n\twrite = group:a b\n"),
    3, qr/resource px: write: "group:a b": a group name is .*/);
one_mistake('empty group name', block("\ttable = t\n\twrite = group:\n"),
    3, qr/resource px: write: "group:": a group name is .*/);
one_mistake('bad number', block("\ttable = t\n\tper_page = lots\n"), 3,
    qr/resource px: per_page: "lots" is invalid \(1\.\.10000\)/);
one_mistake('number out of range', block("\ttable = t\n\tmax_per_page = 0\n"),
    3, qr/resource px: max_per_page: "0" is too small \(1\.\.10000\)/);
one_mistake('per_page > max_per_page', block("\ttable = t\n"
    . "\tmax_per_page = 50\n\tper_page = 60\n"), 4,
    qr/resource px: per_page: 60 is more than max_per_page 50/);
one_mistake('per_page > the default max_per_page',
    block("\ttable = t\n\tper_page = 101\n"), 3,
    qr/resource px: per_page: 101 is more than max_per_page 100/);
one_mistake('name not a URL segment', "resource Px.1 {\n\ttable = t\n}\n", 1,
    qr/resource Px\.1: the name is not a URL segment \(a-z, 0-9, _ and - only\)/);
my $long = 'a' x 64;
one_mistake('name too long', "resource $long {\n\ttable = t\n}\n", 1,
    qr/resource $long: the name is too long \(at most 63 bytes\)/);
one_mistake('no name', "resource {\n\ttable = t\n}\n", 1,
    qr/resource \?: no name \(resource NAME \{\)/);
one_mistake('table a.b.c', block("\ttable = a.b.c\n"), 2,
    qr/resource px: table: "a\.b\.c" is not TABLE or SCHEMA\.TABLE .*/);
one_mistake('table with a dash', block("\ttable = my-table\n"), 2,
    qr/resource px: table: "my-table" is not TABLE or SCHEMA\.TABLE .*/);
one_mistake('table name too long', block("\ttable = s.$long\n"), 2,
    qr/resource px: table: "s\.$long": a name is too long \(at most 63 bytes\)/);
one_mistake('column name too long', block("\ttable = t\n\thidden = a, $long\n"),
    3, qr/resource px: hidden: "$long" is too long \(at most 63 bytes\)/);
one_mistake('empty list element', block("\ttable = t\n\tread_only = a,,b\n"),
    3, qr/resource px: read_only: expected a column name at ",b"/);
one_mistake('order with +', block("\ttable = t\n\torder = +a\n"), 3,
    qr/resource px: order: expected a column name at "\+a"/);
one_mistake('two key columns', block("\ttable = t\n\tkey = a, b\n"), 3,
    qr/resource px: key: expected one column name at ", b"/);
one_mistake('bad unknown_fields', block("\ttable = t\n"
    . "\tunknown_fields = drop\n"), 3,
    qr/resource px: unknown_fields: "drop" is not reject or ignore/);
one_mistake('bad statement_prefix', block("\ttable = t\n"
    . "\tstatement_prefix = 1x\n"), 3,
    qr/resource px: statement_prefix: "1x" is not letters, digits and _ .*/);
one_mistake('statement_prefix too long', block("\ttable = t\n"
    . "\tstatement_prefix = " . ('p' x 32) . "\n"), 3,
    qr/resource px: statement_prefix: too long \(at most 31 bytes\)/);
one_mistake('no value', block("\ttable = t\n\tas_text =\n"), 3,
    qr/resource px: as_text: no value/);
one_mistake('columns and hidden', block("\ttable = t\n\tcolumns = a\n"
    . "\thidden = b\n"), 4, qr/resource px: hidden: give columns or hidden, not both/);
one_mistake('no table', block("\tkey = a\n"), 1,
    qr/resource px: table: missing: say which table or view to serve/);
one_mistake('not key = value', block("\ttable = t\n\tkey a\n"), 3,
    qr/resource px: expected key = value or \}/);
one_mistake('unterminated at the end', "resource px {\n\ttable = t\n", 1,
    qr/resource px: unterminated block: no \} before the end of the file/);
one_mistake('unterminated before the next block',
    "resource px {\n\ttable = t\nresource py {\n\ttable = u\n}\n", 1,
    qr/resource px: unterminated block: line 3 opens another one before its \}/);
one_mistake('a one-line block', "resource px { table = t }\nport = 5000\n", 1,
    qr/resource px: expected "resource NAME \{" on a line of its own/);
one_mistake('a } of no block', "port = 5000\n}\n", 2,
    qr/\} closes no resource block/);
one_mistake('duplicate resource name', block("\ttable = t\n")
    . block("\ttable = u\n"), 4,
    qr/resource px: declared twice \(first on line 1\)/);
one_mistake('more than RES_MAX resources', join('', map {
    "resource r$_ {\n\ttable = t\n}\n" } 1 .. 33), 97,
    qr/resource r33: more than 32 resources/);

# The query language's keys (filter, sort, search, count).
one_mistake('filter: empty list element', block("\ttable = t\n"
    . "\tfilter = a,,b\n"), 3,
    qr/resource px: filter: expected a column name at ",b"/);
one_mistake('sort: a direction', block("\ttable = t\n\tsort = a, -b\n"), 3,
    qr/resource px: sort: expected a column name at "-b"/);
one_mistake('search: not a column list', block("\ttable = t\n"
    . "\tsearch = note text\n"), 3,
    qr/resource px: search: expected ',' or the end at "text"/);
one_mistake('sort given twice', block("\ttable = t\n\tsort = a\n"
    . "\tsort = b\n"), 4,
    qr/resource px: sort: given twice \(first on line 3\)/);
one_mistake('filter: no value', block("\ttable = t\n\tfilter =\n"), 3,
    qr/resource px: filter: no value/);
one_mistake('bad count', block("\ttable = t\n\tcount = maybe\n"), 3,
    qr/resource px: count: "maybe" is not auto, exact or estimated/);
one_mistake('count = none (a request\'s choice, not a declaration\'s)',
    block("\ttable = t\n\tcount = none\n"), 3,
    qr/resource px: count: "none" is not auto, exact or estimated/);
one_mistake('count_threshold 0', block("\ttable = t\n"
    . "\tcount_threshold = 0\n"), 3,
    qr/resource px: count_threshold: "0" is too small \(1\.\.1000000000000\)/);
one_mistake('count_threshold past 1e12', block("\ttable = t\n"
    . "\tcount_threshold = 1000000000001\n"), 3,
    qr/resource px: count_threshold: "1000000000001" is too large \(1\.\.1000000000000\)/);
one_mistake('count_threshold not digits', block("\ttable = t\n"
    . "\tcount_threshold = 1e6\n"), 3,
    qr/resource px: count_threshold: "1e6" is invalid \(1\.\.1000000000000\)/);
one_mistake('count_threshold with count = exact', block("\ttable = t\n"
    . "\tcount_threshold = 5000\n\tcount = exact\n"), 3,
    qr/resource px: count_threshold: only with count = auto \(count is exact\)/);
one_mistake('count_threshold with count = estimated', block("\ttable = t\n"
    . "\tcount = estimated\n\tcount_threshold = 5000\n"), 4,
    qr/resource px: count_threshold: only with count = auto \(count is estimated\)/);

# Every mistake of a file, each on its line.
($r) = t_syntax(block("\ttable = t\n\tcolour = red\n\tread = x\n"
    . "\tper_page = y\n"));
is($r->{rc}, 1, 'three mistakes: exit 1');
is(scalar @{$r->{lines}}, 3, 'three mistakes: three lines')
    or diag($r->{err});

# Plain startup refuses the file the same way, before serving.
$f = conf_file(block("\ttable = t\n\tcolour = red\n"));
$r = sd('-p', $port, '-w', '1', '-f', $f);
is($r->{rc}, 1, 'plain startup, a bad block: exit 1');
is($r->{err}, qq{starterd: $f:3: resource px: unknown key "colour"\n},
    'plain startup, a bad block: its one line');

# ---------------------------------------------------------------- database

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
$pg->psql(<<'EOF');
CREATE TABLE res_nokey (a integer, b text);
CREATE TABLE res_point (id integer PRIMARY KEY, p point, note text);
CREATE TABLE res_ok (id integer PRIMARY KEY, name varchar(20) NOT NULL);
CREATE TABLE res_q (id integer PRIMARY KEY, name text, code char(4),
    n integer, d date, j json, jb jsonb, secret text, pt point,
    page integer);
CREATE ROLE res_reader LOGIN;
GRANT SELECT ON res_ok TO res_reader;
EOF

# ---------------------------------------------------------------- catalog

# -t against the database on the file holding TEXT (as DSN's role).
sub t_catalog
{
	my ($text, $dsn) = @_;
	my $f = conf_file($text);
	return (sd('-t', '-p', $port, '-d', $dsn // $pg->dsn, '-f', $f), $f);
}

# One problem (or LINES, each on the declaration's line): exit 1, and the
# last line names it.
sub catalog_mistake
{
	my ($name, $text, $line, $re, $dsn, $lines) = @_;
	my ($r, $f) = t_catalog($text, $dsn);
	is($r->{rc}, 1, "catalog, $name: exit 1") or diag($r->{err});
	is(scalar @{$r->{lines}}, $lines // 1, "catalog, $name: one line each")
	    or diag($r->{err});
	is(scalar(grep { !/^starterd: \Q$f\E:$line: resource \w+: / }
	    @{$r->{lines}}), 0, "catalog, $name: on its declaration's line");
	like($r->{lines}[-1] // '', qr/^starterd: \Q$f\E:$line: resource \w+: $re/,
	    "catalog, $name: the line names the problem");
}

($r, $f) = t_catalog("resource ok {\n\ttable = res_ok\n}\n"
    . "resource px {\n\ttable = starter_pxcodes\n\tkey = pxcode\n"
    . "\thidden = id\n\trequired = procedure\n}\n");
is($r->{rc}, 0, 'catalog, good declarations: exit 0') or diag($r->{err});
like($r->{err}, qr/^starterd: configuration \Q$f\E is ok, database reachable/,
    'catalog, good declarations: ok');

catalog_mistake('table missing', "port = 1\nresource nope {\n"
    . "\ttable = res_nosuch\n}\n", 2, qr/table res_nosuch does not exist/);
catalog_mistake('schema missing', "resource nope {\n"
    . "\ttable = nosuchschema.res_ok\n}\n", 1,
    qr/table nosuchschema\.res_ok does not exist/);
catalog_mistake('key not unique', "resource nokey {\n\ttable = res_nokey\n"
    . "\tkey = a\n}\n", 1, qr/key: a is not unique in res_nokey/);
catalog_mistake('no primary key, no key', "resource nokey {\n"
    . "\ttable = res_nokey\n}\n", 1,
    qr/no key declared and res_nokey has no one-column primary key/);
catalog_mistake('column missing', "resource ok {\n\ttable = res_ok\n"
    . "\thidden = nosuchcol\n}\n", 1,
    qr/hidden: nosuchcol is not a column of res_ok/);
catalog_mistake('unsupported type', "resource pt {\n\ttable = res_point\n}\n",
    1, qr/column p: type point is not supported \(declare it in as_text.*/);
($r) = t_catalog("resource pt {\n\ttable = res_point\n\tas_text = p\n}\n");
is($r->{rc}, 0, 'catalog, unsupported type declared as_text: exit 0')
    or diag($r->{err});
(my $rdsn = $pg->dsn) =~ s/user=\S+/user=res_reader/;
catalog_mistake('write access without the privileges', "resource ok {\n"
    . "\ttable = res_ok\n\tread = user\n\twrite = user\n}\n", 1,
    qr/the role lacks INSERT, UPDATE or DELETE on res_ok \(write access is declared.*/,
    $rdsn, 3);	# its two columns, then the table
catalog_mistake('read access without SELECT', "resource nokey {\n"
    . "\ttable = res_nokey\n\tkey = b\n\twrite = none\n}\n", 1,
    qr/the role may not SELECT from res_nokey \(read access is declared\)/,
    $rdsn, 4);	# the key not unique, two columns, then the table
($r) = t_catalog("resource ok {\n\ttable = res_ok\n\twrite = none\n}\n",
    $rdsn);
is($r->{rc}, 0, 'catalog, read-only role with write = none: exit 0')
    or diag($r->{err});

# The query language's lists against the catalog: each a column, exposed,
# of a type its use works with.
sub qblock
{
	my ($body) = @_;
	return "resource q {\n\ttable = res_q\n\thidden = secret\n"
	    . "\tas_text = pt\n${body}}\n";
}
($r) = t_catalog(qblock("\tfilter = name, n, j, jb, d, pt\n"
    . "\tsort = n, jb, d, page\n\tsearch = name, code, pt\n"
    . "\tcount = estimated\n"));
is($r->{rc}, 0, 'catalog, filter, sort and search of fitting columns: exit 0')
    or diag($r->{err});
($r) = t_catalog(sample_resources());
is($r->{rc}, 0, 'catalog, the sample file\'s declarations: exit 0')
    or diag($r->{err});
catalog_mistake('filter: column missing', qblock("\tfilter = n, nosuch\n"),
    1, qr/filter: nosuch is not a column of res_q$/);
catalog_mistake('sort: column missing', qblock("\tsort = nosuch\n"), 1,
    qr/sort: nosuch is not a column of res_q$/);
catalog_mistake('search: column missing', qblock("\tsearch = nosuch\n"), 1,
    qr/search: nosuch is not a column of res_q$/);
catalog_mistake('filter: a hidden column', qblock("\tfilter = secret\n"), 1,
    qr/filter: secret is not exposed \(hidden, or not in columns\)$/);
catalog_mistake('sort: a hidden column', qblock("\tsort = n, secret\n"), 1,
    qr/sort: secret is not exposed \(hidden, or not in columns\)$/);
catalog_mistake('search: a column not in columns', "resource q {\n"
    . "\ttable = res_q\n\tcolumns = id, name\n\twrite = none\n"
    . "\tsearch = code\n}\n", 1,
    qr/search: code is not exposed \(hidden, or not in columns\)$/);
catalog_mistake('search: an integer column', qblock("\tsearch = name, n\n"),
    1, qr/search: n is integer, not text, varchar, char or as_text \(q= matches text\)$/);
catalog_mistake('search: a jsonb column', qblock("\tsearch = jb\n"), 1,
    qr/search: jb is jsonb, not text, varchar, char or as_text \(q= matches text\)$/);
catalog_mistake('sort: a json column', qblock("\tsort = j\n"), 1,
    qr/sort: j is json, which has no order \(jsonb has\)$/);
catalog_mistake('filter: a column named as a query parameter',
    qblock("\tfilter = n, page\n"), 1,
    qr/filter: page is a query parameter of its own \(page, per_page, .*\)$/);
catalog_mistake('three lists, three mistakes', qblock("\tfilter = page\n"
    . "\tsort = secret\n\tsearch = n\n"), 1, qr/search: n is integer, .*/,
    undef, 3);

($r) = t_catalog("resource a {\n\ttable = res_nosuch\n}\n"
    . "resource b {\n\ttable = res_point\n}\n");
is(scalar @{$r->{lines}}, 2, 'catalog, two bad declarations: two lines')
    or diag($r->{err});
($r) = t_syntax("resource a {\n\ttable = res_nosuch\n}\n");
is($r->{rc}, 0, '--test-config-only: the catalog is not checked')
    or diag($r->{err});

# ---------------------------------------------------------------- reload

$pg->psql("INSERT INTO res_ok VALUES (1, 'one')");
$f = conf_file("resource ok {\n\ttable = res_ok\n}\n");
my $srv = StarterTest::Server->new(pg => $pg, workers => 1,
    args => [ '-f', $f ]);
is(request($srv, 'GET', '/api/v1.0/ok2/')->{status}, 404,
    'before the reload: ok2 is not served');

# Write the file anew, then SIGHUP.
sub reload_with
{
	my ($text) = @_;
	open my $fh, '>', $f or die "$f: $!";
	print $fh $text;
	close $fh;
	kill 'HUP', $srv->{pid};
}

reload_with("resource ok {\n\ttable = res_ok\n\tcolour = red\n}\n");
ok(wait_until(sub { $srv->log_contents =~ /keeping the current one/ },
    timeout => 20), 'reload with a bad block: refused');
like($srv->log_contents, qr/\Q$f\E:3: resource ok: unknown key "colour"/,
    'reload with a bad block: the mistake on its line');
is(request($srv, 'GET', '/healthz')->{status}, 200,
    'reload with a bad block: still serving');

reload_with("resource ok {\n\ttable = res_ok\n}\nresource ok2 {\n"
    . "\ttable = res_ok\n\tread = anyone\n}\n");
ok(wait_until(sub { $srv->log_contents =~ /reload: generation \d+ serving/ },
    timeout => 20), 'reload with good blocks: taken');
# The old worker may take a connection or two until it is told to retire.
my $res;
ok(wait_until(sub { $res = request($srv, 'GET', '/api/v1.0/ok2/');
    $res->{status} == 200 }, timeout => 20),
    'after the reload: the new resource is served') or diag($res->{body});
like($res->{body}, qr/"name":\s*"one"/, 'after the reload: with its rows');
is(request($srv, 'GET', '/api/v1.0/ok/')->{status}, 401,
    'after the reload: the other still wants credentials');

reload_with("resource ok2 {\n\ttable = res_ok\n\tread = anyone\n}\n");
ok(wait_until(sub {
    request($srv, 'GET', '/api/v1.0/ok/')->{status} == 404 }, timeout => 20),
    'a resource removed by a reload answers 404');

finish();
