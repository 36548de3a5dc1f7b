# 015_starterctl: the management CLI against a real PostgreSQL, and the
# original SQL import into a schema made by starterctl.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;

my $pg = StarterTest::Pg->new;

sub ctl { return starterctl($pg, @_); }

sub count
{
	my ($sql) = @_;
	return $pg->psql($sql);
}

# --- usage errors: exit 2 ----------------------------------------------------

my $r = starterctl(undef);
is($r->{rc}, 2, 'no command: exit 2');
like($r->{err}, qr/usage/i, 'no command: usage on stderr');
$r = ctl('frobnicate');
is($r->{rc}, 2, 'unknown command: exit 2');
like($r->{err}, qr/\Astarterctl: unknown command 'frobnicate'/,
    'unknown command: named in a message from starterctl');
$r = ctl('adduser');
is($r->{rc}, 2, 'adduser without a name: exit 2');
$r = ctl('users', 'extra');
is($r->{rc}, 2, 'users with an extra argument: exit 2');
$r = ctl('--no-such-flag', 'users');
is($r->{rc}, 2, 'unknown flag: exit 2');
# getopt names argv[0]; the test runs starterctl by its full path
like($r->{err}, qr/\Astarterctl: [^\n]*--no-such-flag/,
    'unknown flag: the message starts with starterctl:, not the path');
$r = ctl('-x', 'users');
is($r->{rc}, 2, 'unknown short flag: exit 2');
like($r->{err}, qr/\Astarterctl: [^\n]*x/,
    'unknown short flag: the message starts with starterctl:');
$r = starterctl(undef, 'users', '-d');
is($r->{rc}, 2, '-d without its argument: exit 2');
like($r->{err}, qr/\Astarterctl: [^\n]*\bd\b/,
    '-d without its argument: the message starts with starterctl:');
$r = ctl('initdb', '--yes');
is($r->{rc}, 2, 'initdb --yes (option not taken): exit 2');
$r = starterctl(undef, '-h');
is($r->{rc}, 0, '-h: exit 0');
like($r->{out}, qr/initdb/, '-h: lists the commands');
like($r->{out}, qr/^\s*starterctl -V \| --version$/m, '-h: shows -V and --version');

# --version and -V print the version of configure.ac's AC_INIT.
open my $ac, '<', top_srcdir() . '/configure.ac'
    or BAIL_OUT("configure.ac: $!");
my ($version) = map { /^AC_INIT\(\[[^]]*\],\s*\[([^]]+)\]/ ? $1 : () } <$ac>;
close $ac;
ok(defined $version, 'configure.ac: AC_INIT names the version');
for my $flag ('--version', '-V') {
	$r = starterctl(undef, $flag);
	is($r->{rc}, 0, "$flag: exit 0");
	is($r->{out}, 'starterctl ' . ($version // '?') . "\n",
	    "$flag: prints starterctl and the version");
	is($r->{err}, '', "$flag: nothing on stderr");
}

# --- a database that is not there: exit 1 ------------------------------------

$r = run_cmd([top_builddir() . '/src/starterctl', '-d',
    'host=127.0.0.1 port=1 user=starter dbname=starter connect_timeout=3',
    'users'], timeout => 30);
is($r->{rc}, 1, 'unreachable database: exit 1');
like($r->{err}, qr/\Astarterctl: cannot connect/,
    'unreachable database: a message from starterctl on stderr');

# --- initdb ---------------------------------------------------------------------

my @migrations = glob(top_srcdir() . '/sql/migrations/[0-9]*.sql');
ok(@migrations >= 1, 'there are migrations in sql/migrations');

$r = ctl('initdb');
is($r->{rc}, 0, 'initdb on an empty database: exit 0')
    or diag($r->{err});
like($r->{out}, qr/001/, 'initdb: reports the migrations it applied');
is(count(q{SELECT count(*) FROM information_schema.tables
    WHERE table_name IN ('starter_pxcodes', 'starter_users')}), 2,
    'initdb: both tables exist');
my $versions = count('SELECT count(*) FROM starterd_schema_version');
is($versions, scalar @migrations,
    'initdb: one starterd_schema_version row per migration');

$r = ctl('initdb');
is($r->{rc}, 0, 'second initdb: exit 0');
unlike($r->{out}, qr/applied/, 'second initdb: applies nothing');
is(count('SELECT count(*) FROM starterd_schema_version'), $versions,
    'second initdb: no new version rows');

# --- load-demo -----------------------------------------------------------------

$r = ctl('load-demo');
is($r->{rc}, 0, 'load-demo: exit 0') or diag($r->{err});
is(count('SELECT count(*) FROM starter_pxcodes'), 100, 'load-demo: 100 rows');
is(count('SELECT pxcode FROM starter_pxcodes ORDER BY id LIMIT 1'), '039',
    'load-demo: first row is 039');
$r = ctl('load-demo');
is($r->{rc}, 0, 'second load-demo: exit 0');
is(count('SELECT count(*) FROM starter_pxcodes'), 100,
    'second load-demo: still 100 rows, not 200');

# --- users ----------------------------------------------------------------------

$r = ctl('adduser', '--password-stdin', 'admin', {stdin => "admin\n"});
is($r->{rc}, 0, 'adduser admin: exit 0') or diag($r->{err});
is($r->{out}, "added user admin\n", 'adduser admin: says so');
like(count(q{SELECT password_hash FROM starter_users
    WHERE username = 'admin'}), qr/^\$argon2id\$v=19\$m=\d+/,
    'adduser: the password is stored as an argon2id PHC string');
unlike(count('SELECT password_hash FROM starter_users'), qr/\badmin\b/,
    'adduser: the password is not stored in clear');

$r = ctl('adduser', 'alice', '--password-stdin', {stdin => "wonder1\n"});
is($r->{rc}, 0, 'adduser alice (option after the name): exit 0');
$r = ctl('adduser', '--password-stdin', 'alice', {stdin => "other\n"});
is($r->{rc}, 1, 'adduser of an existing name: exit 1');
like($r->{err}, qr/^starterctl: user 'alice' already exists \(use passwd/,
    'adduser of an existing name: says which, and what to use');
is(count(q{SELECT count(*) FROM starter_users WHERE username = 'alice'}), 1,
    'adduser of an existing name: still one alice');

# refused before or after the password is read: exit 1, no user added
for my $bad (['a:b', "pw\n", qr/must not contain/, 'a name with a colon'],
    ['bob', "\n", qr/empty password refused/, 'an empty password'],
    ['bob', '', qr/no password on standard input/, 'no password'],
    ['bob', ('x' x 1025) . "\n", qr/longer than 1024 bytes/,
    'a password of 1025 bytes']) {
	my ($name, $in, $why, $what) = @$bad;
	$r = ctl('adduser', '--password-stdin', $name, {stdin => $in});
	is($r->{rc}, 1, "adduser with $what: exit 1");
	like($r->{err}, qr/^starterctl: [^\n]*$why/,
	    "adduser with $what: says why");
	is(count(qq{SELECT count(*) FROM starter_users
	    WHERE username = '$name'}), 0, "adduser with $what: no user");
}

$r = ctl('users');
is($r->{rc}, 0, 'users: exit 0');
like($r->{out}, qr/^admin$/m, 'users: lists admin');
like($r->{out}, qr/^alice$/m, 'users: lists alice');
unlike($r->{out}, qr/argon2|wonder/, 'users: shows no hashes or passwords');

$r = ctl('passwd', '--password-stdin', 'nobody', {stdin => "x\n"});
is($r->{rc}, 1, 'passwd of an unknown user: exit 1');
like($r->{err}, qr/^starterctl: no such user 'nobody'$/m,
    'passwd of an unknown user: says so');
is(count(q{SELECT count(*) FROM starter_users WHERE username = 'nobody'}), 0,
    'passwd of an unknown user: adds nobody');
my $hash = count(q{SELECT password_hash FROM starter_users
    WHERE username = 'alice'});
$r = ctl('passwd', '--password-stdin', 'alice', {stdin => "\n"});
is($r->{rc}, 1, 'passwd with an empty password: exit 1');
like($r->{err}, qr/^starterctl: empty password refused/,
    'passwd with an empty password: says why');
is(count(q{SELECT password_hash FROM starter_users WHERE username = 'alice'}),
    $hash, 'passwd with an empty password: the hash is unchanged');
$r = ctl('deluser', 'nobody');
is($r->{rc}, 1, 'deluser of an unknown user: exit 1');

# passwd and deluser as the API sees them
my $srv = StarterTest::Server->new(pg => $pg);
my $P = '/api/v1.0/pxcodes/039';
is(request($srv, 'GET', $P, auth => 'alice:wonder1')->{status}, 200,
    'API: alice with her first password: 200');

$r = ctl('passwd', '--password-stdin', 'alice', {stdin => "wonder2\n"});
is($r->{rc}, 0, 'passwd alice: exit 0') or diag($r->{err});
is($r->{out}, "changed the password of alice\n", 'passwd alice: says so');
isnt(count(q{SELECT password_hash FROM starter_users
    WHERE username = 'alice'}), $hash, 'passwd alice: a new hash is stored');
is(request($srv, 'GET', $P, auth => 'alice:wonder1')->{status}, 401,
    'API after passwd: the old password fails');
is(request($srv, 'GET', $P, auth => 'alice:wonder2')->{status}, 200,
    'API after passwd: the new password works');

$r = ctl('deluser', 'alice');
is($r->{rc}, 0, 'deluser alice: exit 0');
$r = ctl('users');
unlike($r->{out}, qr/^alice$/m, 'users after deluser: alice is gone');
like($r->{out}, qr/^admin$/m, 'users after deluser: admin stays');
is(request($srv, 'GET', $P, auth => 'alice:wonder2')->{status}, 401,
    'API after deluser: alice gets 401');
is(request($srv, 'GET', $P, auth => 'admin:admin')->{status}, 200,
    'API after deluser: admin still works');
$srv->stop;

# --- resetdb ---------------------------------------------------------------------

$r = ctl('resetdb');
isnt($r->{rc}, 0, 'resetdb without --yes and without a terminal: refused');
is(count('SELECT count(*) FROM starter_pxcodes'), 100,
    'refused resetdb: data intact');

$r = ctl('resetdb', '--yes');
is($r->{rc}, 0, 'resetdb --yes: exit 0') or diag($r->{err});
is(count('SELECT count(*) FROM starter_pxcodes'), 0,
    'resetdb --yes: no pxcodes left');
is(count('SELECT count(*) FROM starter_users'), 0,
    'resetdb --yes: no users left');
is(count('SELECT count(*) FROM starterd_schema_version'), $versions,
    'resetdb --yes: schema recreated at the current version');
$r = ctl('initdb');
unlike($r->{out}, qr/applied/, 'initdb after resetdb: nothing to apply');

# --- the original import ---------------------------------------------------------

$pg->psql('CREATE DATABASE import_check');
my $dsn2 = $pg->dsn;
$dsn2 =~ s/dbname=\S+/dbname=import_check/;
$r = run_cmd([top_builddir() . '/src/starterctl', '-d', $dsn2, 'initdb']);
is($r->{rc}, 0, 'initdb of a second, fresh database: exit 0');
open my $fh, '<', top_srcdir() . '/sql/starter_pxcodes.sql'
    or BAIL_OUT("sql/starter_pxcodes.sql: $!");
my $sql = do { local $/; <$fh> };
close $fh;
my $out = eval { $pg->psql(undef, dbname => 'import_check', stdin => $sql) };
ok(defined $out, 'psql < sql/starter_pxcodes.sql: no error') or diag($@);
is($pg->psql('SELECT count(*) FROM starter_pxcodes',
    dbname => 'import_check'), 100, 'original import: 100 rows');
is($pg->psql(q{SELECT procedure FROM starter_pxcodes WHERE pxcode = '039'},
    dbname => 'import_check'), 'EXTRACRANIAL PROCEDURES W/O CC/MCC',
    'original import: row 039');
$r = run_cmd([top_builddir() . '/src/starterctl', '-d', $dsn2, 'load-demo']);
is($r->{rc}, 0, 'load-demo over the original import: exit 0');
is($pg->psql('SELECT count(*) FROM starter_pxcodes',
    dbname => 'import_check'), 100,
    'load-demo over the original import: still 100 rows');

# --- status -----------------------------------------------------------------------

{
	my @mig = map { m{/(\d{3}_\w+)\.sql$} ? $1 : () }
	    sort glob(top_srcdir() . '/sql/migrations/*.sql');
	my ($last) = $mig[-1] =~ /^(\d+)/;
	$last += 0;
	$pg->psql('CREATE DATABASE status_check');
	(my $dsn3 = $pg->dsn) =~ s/dbname=\S+/dbname=status_check/;
	my $st = sub {
		my $r = run_cmd([top_builddir() . '/src/starterctl', '-d',
		    $dsn3, 'status']);
		my %kv = map { /^([\w.]+): (.*)$/ ? ($1, $2) : ('BAD', $_) }
		    split /\n/, $r->{out};
		return ($r, \%kv);
	};
	my ($r, $kv) = $st->();
	is($r->{rc}, 0, 'status of an empty database: exit 0')
	    or diag($r->{err});
	ok(!exists $kv->{BAD}, 'status: one "key: value" a line')
	    or diag($r->{out});
	is($kv->{schema_version}, 0, 'empty database: schema_version 0');
	is($kv->{migrations_pending}, scalar @mig,
	    'empty database: every migration pending');
	is($kv->{migrations_pending_names}, join(', ', @mig),
	    'empty database: the pending migrations named in order');
	like($kv->{users} // '', qr/^no table/, 'empty database: no users table');
	is($kv->{resources}, 'starter_pxcodes', 'resources: starter_pxcodes');

	run_cmd([top_builddir() . '/src/starterctl', '-d', $dsn3, 'initdb']);
	($r, $kv) = $st->();
	is($r->{rc}, 0, 'status after initdb: exit 0');
	is($kv->{schema_version}, $last, "after initdb: schema_version $last");
	is($kv->{migrations_pending}, 0, 'after initdb: none pending');
	is($kv->{migrations_pending_names}, 'none', '... named "none"');
	is($kv->{users}, 0, 'after initdb: 0 users');
	is($kv->{'starter_pxcodes.rows'}, 0, 'after initdb: 0 pxcodes');

	# One migration forgotten: it is pending again.
	$pg->psql("DELETE FROM starterd_schema_version WHERE version = $last",
	    dbname => 'status_check');
	($r, $kv) = $st->();
	is($kv->{migrations_pending}, 1, 'a migration unrecorded: 1 pending');
	is($kv->{migrations_pending_names}, $mig[-1], "... $mig[-1]");
	run_cmd([top_builddir() . '/src/starterctl', '-d', $dsn3, 'initdb']);

	run_cmd([top_builddir() . '/src/starterctl', '-d', $dsn3, 'load-demo']);
	run_cmd([top_builddir() . '/src/starterctl', '-d', $dsn3, 'adduser',
	    '--password-stdin', 'alice'], stdin => "pw-alice\n");
	($r, $kv) = $st->();
	is($kv->{users}, 1, 'after adduser: 1 user');
	is($kv->{'starter_pxcodes.rows'}, 100, 'after load-demo: 100 pxcodes');
	is($kv->{migrations_pending}, 0, 'after initdb again: none pending');

	$r = ctl('status', 'extra');
	is($r->{rc}, 2, 'status with an extra argument: exit 2');
	$r = run_cmd([top_builddir() . '/src/starterctl', '-d',
	    'host=127.0.0.1 port=1 dbname=x connect_timeout=5', 'status']);
	is($r->{rc}, 1, 'status with the database unreachable: exit 1');
	like($r->{err}, qr/cannot connect/, '... saying it cannot connect');
	is($r->{out}, '', '... and printing no status');
}

finish();
