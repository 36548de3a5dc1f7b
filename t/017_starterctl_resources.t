# 017_starterctl_resources: `starterctl resources list|check|install` and
# initdb's triggers for declared resources.  A table made with plain psql
# (no migration of ours, in a schema of its own) is declared in a
# config file, gets its NOTIFY trigger, and a change to it then NOTIFYs
# starterd (LISTEN in psql sees it); a view is skipped, a missing table
# and a broken file are errors.  Last, starterd serves the table, and a
# resource open to one group follows `starterctl group` within seconds.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);

sub ctl { return starterctl($pg, @_); }

my $dir = StarterTest::basedir();
sub conf_file
{
	my ($name, $text) = @_;
	my $f = "$dir/$name";
	open my $fh, '>', $f or BAIL_OUT("$f: $!");
	print $fh $text;
	close $fh;
	return $f;
}

# The sample's pxcodes and encounters, after a setting.
my $DEMO = "workers = 2\t\t# a setting: starterd's, not starterctl's\n"
    . sample_resources() . "\n";
my $WIDGETS = <<'CONF';
resource widgets {		# made with psql, below
	table = inv.widgets
	key = sku
	order = sku
	read = anyone
}
CONF
my $conf = conf_file('both.conf', $DEMO . "\n" . $WIDGETS);

# The table, as somebody's existing database has it: no trigger of ours.
$pg->psql(q{CREATE SCHEMA inv;
    CREATE TABLE inv.widgets (sku varchar(16) PRIMARY KEY,
    qty integer NOT NULL DEFAULT 0, price numeric(8,2), added date);
    INSERT INTO inv.widgets VALUES ('W-1', 3, 9.99, '2026-01-02'),
    ('W-2', 0, 120.00, NULL);
    CREATE VIEW cheap_widgets AS SELECT * FROM inv.widgets
    WHERE price < 10});

# The line that opens the block of resource $name in $text.
sub decl_line
{
	my ($text, $name) = @_;
	my @l = split /\n/, $text;
	my ($i) = grep { $l[$_] =~ /^resource \Q$name\E \{/ } 0 .. $#l;
	return defined $i ? $i + 1 : 0;
}

sub triggers
{
	my ($rel) = @_;
	return $pg->psql(qq{SELECT count(*) FROM pg_trigger
	    WHERE tgrelid = '$rel'::regclass
	    AND tgfoid = 'starterd_notify'::regproc});
}

# --- list ------------------------------------------------------------------------

my $r = ctl('resources', 'list', '-f', $conf);
is($r->{rc}, 0, 'resources list -f: exit 0') or diag($r->{err});
is($r->{out}, "pxcodes starter_pxcodes pxcode\nencounters starter_encounters "
    . "id\nwidgets inv.widgets sku\n",
    'resources list: NAME TABLE KEY, one a line, in the order declared');
is($r->{err}, '', 'resources list: nothing on stderr');
$r = ctl('-f', $conf, 'resources');
is($r->{rc}, 0, 'resources (-f first, no subcommand): exit 0');
like($r->{out}, qr/\Apxcodes starter_pxcodes pxcode\n/,
    'resources with no subcommand lists');
$r = run_cmd([top_builddir() . '/src/starterctl', 'resources'],
    env => {STARTERD_CONFIG => $conf});
is($r->{rc}, 0, 'resources with STARTERD_CONFIG: exit 0 (no database needed)');
like($r->{out}, qr/^widgets inv\.widgets sku$/m,
    'resources: STARTERD_CONFIG names the file');

# No block: the built-in pxcodes declaration, as starterd serves.
my $none = conf_file('none.conf', "workers = 2\n# no resource block\n");
$r = ctl('resources', 'list', '-f', $none);
is($r->{rc}, 0, 'a file without blocks: exit 0');
is($r->{out}, "pxcodes starter_pxcodes pxcode\n",
    'a file without blocks: the built-in pxcodes declaration');
my $nokey = conf_file('nokey.conf', "resource w {\n\ttable = inv.widgets\n}\n");
$r = ctl('resources', 'list', '-f', $nokey);
is($r->{out}, "w inv.widgets (primary key)\n",
    'no key declared: "(primary key)"');

# Mistakes: the file's line, exit 1.
my $bad = conf_file('bad.conf', "resource widgets {\n\ttable = inv.widgets\n"
    . "\tkey = sku\n\tcolour = red\n}\n");
$r = ctl('resources', 'list', '-f', $bad);
is($r->{rc}, 1, 'a bad block: exit 1');
like($r->{err}, qr/\Q$bad\E:4: .*colour/, 'a bad block: file:line and the key');
is($r->{out}, '', 'a bad block: nothing listed');
$r = ctl('resources', 'list', '-f', "$dir/missing.conf");
is($r->{rc}, 1, 'a missing -f file: exit 1');
like($r->{err}, qr/missing\.conf: No such file/, '... says so');
my $twice = conf_file('twice.conf', $WIDGETS . $WIDGETS);
$r = ctl('resources', 'list', '-f', $twice);
is($r->{rc}, 1, 'a resource declared twice: exit 1');

# Usage errors.
$r = ctl('resources', 'frob', '-f', $conf);
is($r->{rc}, 2, 'resources frob: exit 2');
like($r->{err}, qr/unknown subcommand 'frob'/, '... says why');
$r = ctl('resources', 'list', 'extra', '-f', $conf);
is($r->{rc}, 2, 'resources list extra: exit 2');
$r = ctl('users', '-f', $conf);
is($r->{rc}, 2, 'users -f: exit 2 (it takes no -f)');
like($r->{err}, qr/users does not take -f/, '... says so');
$r = ctl('resources', 'list', '-f');
is($r->{rc}, 2, '-f without a file: exit 2');

# --- check before install --------------------------------------------------------

$r = ctl('resources', 'check', '-f', $conf);
is($r->{rc}, 1, 'check before install: exit 1 (a trigger is missing)')
    or diag($r->{out}, $r->{err});
like($r->{out}, qr/^\Q$conf\E:\d+: resource widgets: inv\.widgets has no NOTIFY trigger/m,
    'check: names the table without its trigger (file:line: resource)');
for my $name (qw(pxcodes encounters)) {
	my $line = decl_line($DEMO, $name);
	like($r->{out}, qr/^\Q$conf\E:$line: resource $name: ok$/m,
	    "check: $name is fine (file:line: resource $name: ok)");
}

# --- install ---------------------------------------------------------------------

is(triggers('inv.widgets'), 0, 'before install: no trigger on inv.widgets');
$r = ctl('resources', 'install', '-f', $conf);
is($r->{rc}, 0, 'resources install: exit 0') or diag($r->{err});
like($r->{out}, qr/^widgets: inv\.widgets: trigger installed$/m,
    'install: says it installed the trigger on inv.widgets');
like($r->{out}, qr/^pxcodes: public\.starter_pxcodes: trigger in place$/m,
    'install: pxcodes has its trigger (migration 002)');
like($r->{out}, qr/^encounters: public\.starter_encounters: trigger in place$/m,
    'install: encounters has its trigger (migration 006)');
is(triggers('inv.widgets'), 1, 'install: one trigger on inv.widgets');
is($pg->psql(q{SELECT tgtype FROM pg_trigger
    WHERE tgrelid = 'inv.widgets'::regclass AND tgname = 'starterd_notify'}),
    4 + 8 + 16 + 32, 'install: AFTER, FOR EACH STATEMENT, on INSERT, DELETE, '
    . 'UPDATE and TRUNCATE');
is(triggers('starter_pxcodes'), 1, 'install: no second trigger on pxcodes');

$r = ctl('resources', 'install', '-f', $conf);
is($r->{rc}, 0, 'install again: exit 0');
like($r->{out}, qr/^widgets: inv\.widgets: trigger in place$/m,
    'install again: the trigger is in place');
is(triggers('inv.widgets'), 1, 'install again: still one trigger');

# A disabled trigger does not count: it is made again.
$pg->psql('ALTER TABLE inv.widgets DISABLE TRIGGER starterd_notify');
$r = ctl('resources', 'install', '-f', $conf);
like($r->{out}, qr/^widgets: inv\.widgets: trigger installed$/m,
    'a disabled trigger is replaced');
is($pg->psql(q{SELECT tgenabled FROM pg_trigger
    WHERE tgrelid = 'inv.widgets'::regclass}), 'O', '... by an enabled one');

$r = ctl('resources', 'check', '-f', $conf);
is($r->{rc}, 0, 'check after install: exit 0') or diag($r->{out}, $r->{err});
like($r->{out}, qr/: resource widgets: ok$/m,
    'check after install: widgets is fine');

# Now a change to the table NOTIFYs starterd, schema-qualified.
{
	my $ses = $pg->session;
	ok(defined $ses->do('LISTEN starterd;'), 'a psql session LISTENs');
	$pg->psql(q{UPDATE inv.widgets SET qty = qty + 1 WHERE sku = 'W-1'});
	my $got = wait_until(sub {
		my $o = $ses->do('SELECT 1;') // '';
		$o =~ /notification "starterd" with payload "([^"]*)"/ ? $1 : undef;
	}, timeout => 20);
	is($got, 'inv.widgets', 'an UPDATE with psql: NOTIFY starterd, '
	    . 'payload inv.widgets');
	$ses->close;
}

# A view: skipped; a table that is not there: an error.
my $view = conf_file('view.conf', "resource cheap {\n\ttable = cheap_widgets\n"
    . "\tkey = sku\n\twrite = none\n}\n");
$r = ctl('resources', 'install', '-f', $view);
is($r->{rc}, 0, 'install of a view: exit 0');
like($r->{out}, qr/^cheap: public\.cheap_widgets: not cacheable: a view \(skipped\)$/m,
    'install of a view: not cacheable, skipped');
my $gone = conf_file('gone.conf', "resource gone {\n\ttable = nope.nothing\n}\n"
    . $WIDGETS);
$r = ctl('resources', 'install', '-f', $gone);
is($r->{rc}, 1, 'install with a missing table: exit 1');
like($r->{err}, qr/gone: table nope\.nothing does not exist/, '... names it');
like($r->{out}, qr/^widgets: inv\.widgets: trigger in place$/m,
    '... and still does the others');
$r = ctl('resources', 'check', '-f', $gone);
is($r->{rc}, 1, 'check with a missing table: exit 1');
like($r->{out}, qr/nothing/, '... names it');

# --- initdb installs them too ----------------------------------------------------

$pg->psql('CREATE DATABASE fresh');
(my $dsn2 = $pg->dsn) =~ s/dbname=\S+/dbname=fresh/;
$pg->psql(q{CREATE SCHEMA inv; CREATE TABLE inv.widgets
    (sku varchar(16) PRIMARY KEY, qty integer NOT NULL DEFAULT 0)},
    dbname => 'fresh');
$r = run_cmd([top_builddir() . '/src/starterctl', '-d', $dsn2, '-f', $conf,
    'initdb']);
is($r->{rc}, 0, 'initdb -f on a fresh database: exit 0') or diag($r->{err});
like($r->{out}, qr/^applied 006_encounters$/m, 'initdb: the migrations');
like($r->{out}, qr/^widgets: inv\.widgets: trigger installed$/m,
    'initdb: and the trigger of the declared table');
unlike($r->{out}, qr/pxcodes|encounters:/,
    'initdb: silent about the triggers in place');
is($pg->psql(q{SELECT count(*) FROM pg_trigger
    WHERE tgrelid = 'inv.widgets'::regclass}, dbname => 'fresh'), 1,
    'initdb: the trigger is there');
$r = run_cmd([top_builddir() . '/src/starterctl', '-d', $dsn2, '-f', $gone,
    'initdb']);
is($r->{rc}, 0, 'initdb with a missing declared table: exit 0');
like($r->{err}, qr/nope\.nothing does not exist/, '... with a warning');
$r = run_cmd([top_builddir() . '/src/starterctl', '-d', $dsn2, '-f', $bad,
    'initdb']);
is($r->{rc}, 1, 'initdb with a broken file: exit 1');

# --- status ----------------------------------------------------------------------

$r = ctl('status', '-f', $conf);
is($r->{rc}, 0, 'status -f: exit 0') or diag($r->{err});
like($r->{out}, qr/^resources: starter_pxcodes, starter_encounters, inv\.widgets$/m,
    'status: the declared tables');
like($r->{out}, qr/^inv\.widgets\.rows: 2$/m, 'status: rows of inv.widgets');
like($r->{out}, qr/^starter_encounters\.rows: 1000$/m,
    'status: rows of the demo encounters');

# --- served as it is -------------------------------------------------------------

# widgets for anyone; the same table for the group viewers only.
my $served = conf_file('served.conf', $DEMO . $WIDGETS . <<'CONF');
resource secret {
	table = inv.widgets
	key = sku
	read = group:viewers
	write = none
}
CONF
for my $u (qw(alice bob)) {
	ctl('adduser', '--password-stdin', $u, {stdin => "pw-$u\n"});
}
ctl('group', 'add', 'alice', 'viewers');
my $srv = StarterTest::Server->new(pg => $pg, args => ['-f', $served]);
$r = request($srv, 'GET', '/api/v1.0/widgets/W-1');
is($r->{status}, 200, 'starterd serves inv.widgets: GET W-1 200 (read = anyone)')
    or diag(explain_response($r));
is($r->{json}{qty}, 4, '... qty as a number');
request($srv, 'GET', '/api/v1.0/widgets/W-1') for 1 .. 4;
$pg->psql(q{UPDATE inv.widgets SET qty = 40 WHERE sku = 'W-1'});
ok(wait_until(sub {
	for (1 .. 4) {
		my $x = request($srv, 'GET', '/api/v1.0/widgets/W-1');
		return 0 unless (($x->{json} // {})->{qty} // 0) == 40;
	}
	return 1;
}, timeout => 5, interval => 0.2), 'a psql UPDATE is served within 5 s');

# read = group:viewers: alice is in it, bob is not, until starterctl says.
my $S = '/api/v1.0/secret/W-1';
sub as { return request($srv, 'GET', $S, auth => $_[0])->{status}; }
is(as('alice:pw-alice'), 200, 'group:viewers: alice (a viewer) reads: 200');
is(as('bob:pw-bob'), 403, 'group:viewers: bob (no viewer) is refused: 403');
is(request($srv, 'GET', $S)->{status}, 401,
    'group:viewers: no credentials: 401');
as('bob:pw-bob') for 1 .. 4;	# remembered by every worker
ctl('group', 'add', 'bob', 'viewers');
ok(wait_until(sub { !grep { as('bob:pw-bob') != 200 } 1 .. 4 },
    timeout => 5, interval => 0.2),
    'group add bob viewers: bob reads within 5 s (the NOTIFY flushes)');
ctl('group', 'del', 'alice', 'viewers');
ok(wait_until(sub { !grep { as('alice:pw-alice') != 403 } 1 .. 4 },
    timeout => 5, interval => 0.2),
    'group del alice viewers: alice is refused within 5 s');
{
	my $st = request($srv, 'PUT', $S, auth => 'bob:pw-bob',
	    headers => {'Content-Type' => 'application/json'},
	    body => '{"qty":1}')->{status};
	ok($st == 403 || $st == 405,
	    "write = none: a viewer cannot write (403 or 405, got $st)");
}

finish();
