# 016_starterctl_groups: `starterctl group add|del|list` and the demo
# encounters of `starterctl load-demo` (row count, determinism,
# idempotence), against a real PostgreSQL; the NOTIFY of the groups table.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;

my $pg = StarterTest::Pg->new;

sub ctl { return starterctl($pg, @_); }

my $r = ctl('initdb');
is($r->{rc}, 0, 'initdb: exit 0') or diag($r->{err});
like($r->{out}, qr/^applied 004_groups$/m, 'initdb: applies 004_groups');
like($r->{out}, qr/^applied 005_notify_qualified$/m,
    'initdb: applies 005_notify_qualified');
like($r->{out}, qr/^applied 006_encounters$/m, 'initdb: applies 006_encounters');

# --- load-demo: the encounters --------------------------------------------------

# Every column of every row, in id order, in a form that does not depend
# on the session's time zone or date style.
my $FINGERPRINT = q{SELECT count(*) || ' ' || coalesce(md5(string_agg(
    concat_ws('|', id, pxcode, to_char(seen_on, 'YYYY-MM-DD'), charge,
    paid, coalesce(note, '<null>'),
    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')),
    E'\n' ORDER BY id)), '-') FROM starter_encounters};

$r = ctl('load-demo');
is($r->{rc}, 0, 'load-demo: exit 0') or diag($r->{err});
like($r->{out}, qr/^load-demo: added 100 of 100 demo rows$/m,
    'load-demo: the 100 pxcodes, as before');
like($r->{out}, qr/^load-demo: added 1000 demo encounters$/m,
    'load-demo: says it added 1000 encounters');
is($pg->psql('SELECT count(*) FROM starter_encounters'), 1000,
    'load-demo: 1000 encounters');
is($pg->psql('SELECT min(id) || ' . q{' '} . ' || max(id) '
    . 'FROM starter_encounters'), '1 1000', 'load-demo: ids 1 to 1000');
my ($nulls, $paid, $unpaid, $free, $maxc) = split /\|/, $pg->psql(
    q{SELECT count(*) FILTER (WHERE note IS NULL),
    count(*) FILTER (WHERE paid), count(*) FILTER (WHERE NOT paid),
    count(*) FILTER (WHERE charge = 0), max(charge)
    FROM starter_encounters});
ok($nulls > 100 && $nulls < 900, "load-demo: some notes are NULL ($nulls)");
ok($paid > 100 && $unpaid > 100,
    "load-demo: some paid ($paid), some not ($unpaid)");
ok($free > 0, "load-demo: some free of charge ($free)");
ok($maxc > 100 && $maxc < 100000, "load-demo: charges in range (max $maxc)");
is($pg->psql(q{SELECT count(*) FROM starter_encounters e
    WHERE NOT EXISTS (SELECT 1 FROM starter_pxcodes p
    WHERE p.pxcode = e.pxcode)}), 0, 'load-demo: every pxcode is a demo one');
cmp_ok($pg->psql('SELECT count(DISTINCT pxcode) FROM starter_encounters'),
    '>', 50, 'load-demo: the encounters spread over the pxcodes');
is($pg->psql(q{SELECT count(*) FROM starter_encounters
    WHERE (created_at AT TIME ZONE 'UTC')::date <> seen_on
    OR created_at IS NULL}), 0,
    'load-demo: created_at on the day seen (UTC), never NULL');
like($pg->psql(q{SELECT string_agg(DISTINCT note, ' ') FROM
    starter_encounters}), qr/"much better".*\x{c3}\x{a9}|\x{c3}\x{a9}.*"much/s,
    'load-demo: notes with quotes and non-ASCII text');
my $fp = $pg->psql($FINGERPRINT);
diag("demo encounters: $fp");

$r = ctl('load-demo');
is($r->{rc}, 0, 'second load-demo: exit 0') or diag($r->{err});
like($r->{out}, qr/^load-demo: starter_encounters has rows already: no demo encounters added$/m,
    'second load-demo: says it added no encounters');
is($pg->psql($FINGERPRINT), $fp,
    'second load-demo: the same 1000 rows, nothing added or changed');

# A table with somebody's rows in it is left alone.
$pg->psql('DELETE FROM starter_encounters WHERE id > 1');
$r = ctl('load-demo');
is($r->{rc}, 0, 'load-demo on a table with one row: exit 0');
like($r->{out}, qr/no demo encounters added/, '... adds none, and says so');
is($pg->psql('SELECT count(*) FROM starter_encounters'), 1, '... one row');

# Emptied, it gets the very same rows again, ids from 1.
$pg->psql('DELETE FROM starter_encounters');
$r = ctl('load-demo');
like($r->{out}, qr/added 1000 demo encounters/,
    'load-demo on the emptied table: 1000 again');
is($pg->psql($FINGERPRINT), $fp,
    'load-demo on the emptied table: the same rows, the same ids');

# And so does another database.
$pg->psql('CREATE DATABASE other');
(my $dsn2 = $pg->dsn) =~ s/dbname=\S+/dbname=other/;
for my $cmd ('initdb', 'load-demo') {
	$r = run_cmd([top_builddir() . '/src/starterctl', '-d', $dsn2, $cmd]);
	is($r->{rc}, 0, "$cmd of a second database: exit 0") or diag($r->{err});
}
is($pg->psql($FINGERPRINT, dbname => 'other'), $fp,
    'load-demo of a second database: the same rows');

# A renamed demo pxcode takes its encounters along (ON UPDATE CASCADE);
# load-demo puts the demo code back and adds no encounters.
{
	my $n = $pg->psql(q{SELECT count(*) FROM starter_encounters
	    WHERE pxcode = '039'});
	$pg->psql(q{UPDATE starter_pxcodes SET pxcode = 'R039'
	    WHERE pxcode = '039'});
	is($pg->psql(q{SELECT count(*) FROM starter_encounters
	    WHERE pxcode = 'R039'}), $n,
	    "renaming pxcode 039 renames its $n encounters");
	$r = ctl('load-demo');
	like($r->{out}, qr/added 1 of 100 demo rows/,
	    'load-demo after the rename: adds 039 back');
	is($pg->psql('SELECT count(*) FROM starter_encounters'), 1000,
	    '... and no encounters');
}

# Before initdb the table is missing: an error that says what to do.
$pg->psql('CREATE DATABASE bare');
(my $dsn3 = $pg->dsn) =~ s/dbname=\S+/dbname=bare/;
$r = run_cmd([top_builddir() . '/src/starterctl', '-d', $dsn3, 'load-demo']);
is($r->{rc}, 1, 'load-demo before initdb: exit 1');
like($r->{err}, qr/initdb/, '... saying to run initdb');

# --- group ------------------------------------------------------------------------

for my $u (qw(alice bob)) {
	$r = ctl('adduser', '--password-stdin', $u, {stdin => "pw-$u\n"});
	is($r->{rc}, 0, "adduser $u: exit 0") or diag($r->{err});
}

sub members
{
	return $pg->psql(q{SELECT string_agg(g.name || ':' || u.username, ' '
	    ORDER BY g.name, u.username) FROM starter_user_groups g
	    JOIN starter_users u ON u.id = g.user_id});
}

# Usage errors: exit 2, nothing done.
for my $bad ([], ['frob', 'alice', 'x'], ['add', 'alice'],
    ['add', 'alice', 'x', 'y'], ['del'], ['list', 'alice', 'x']) {
	$r = ctl('group', @$bad);
	is($r->{rc}, 2, "group @$bad: exit 2");
	like($r->{err}, qr/^usage: starterctl group /m, "group @$bad: usage");
}

$r = ctl('group', 'add', 'alice', 'editors');
is($r->{rc}, 0, 'group add alice editors: exit 0') or diag($r->{err});
is($r->{out}, "added alice to group editors\n", '... says so');
is(members(), 'editors:alice', '... the row is there');
$r = ctl('group', 'add', 'alice', 'editors');
is($r->{rc}, 0, 'group add again: exit 0 (it holds)');
is($r->{out}, "alice is already in group editors\n", '... says so');
is(members(), 'editors:alice', '... still one row');

$r = ctl('group', 'add', 'carol', 'editors');
is($r->{rc}, 1, 'group add of an unknown user: exit 1');
like($r->{err}, qr/^starterctl: no such user 'carol'$/m, '... says so');
for my $g ('', 'two words', 'a:b', 'x' x 64, "tab\tin") {
	$r = ctl('group', 'add', 'alice', $g);
	is($r->{rc}, 1, "group add with group name '$g': exit 1");
	like($r->{err}, qr/group name must be/, '... says what a name is');
}
$r = ctl('group', 'add', 'alice', 'x' x 63);
is($r->{rc}, 0, 'a group name of 63 bytes: exit 0');
ctl('group', 'del', 'alice', 'x' x 63);
is(members(), 'editors:alice', 'bad names added nothing');

ctl('group', 'add', 'bob', 'editors');
ctl('group', 'add', 'bob', 'Readers.EU-1');
$r = ctl('group', 'list');
is($r->{rc}, 0, 'group list: exit 0');
is($r->{out}, "Readers.EU-1 bob\neditors alice\neditors bob\n",
    'group list: "GROUP USER" a line, by group then user');
$r = ctl('group', 'list', 'bob');
is($r->{rc}, 0, 'group list bob: exit 0');
is($r->{out}, "Readers.EU-1\neditors\n", 'group list bob: his groups');
$r = ctl('group', 'list', 'carol');
is($r->{rc}, 1, 'group list of an unknown user: exit 1');
like($r->{err}, qr/no such user 'carol'/, '... says so');

$r = ctl('group', 'del', 'bob', 'editors');
is($r->{rc}, 0, 'group del bob editors: exit 0') or diag($r->{err});
is($r->{out}, "removed bob from group editors\n", '... says so');
$r = ctl('group', 'del', 'bob', 'editors');
is($r->{rc}, 1, 'group del again: exit 1');
like($r->{err}, qr/^starterctl: user 'bob' is not in group 'editors'$/m,
    '... says so');
$r = ctl('group', 'del', 'carol', 'editors');
is($r->{rc}, 1, 'group del of an unknown user: exit 1');
like($r->{err}, qr/no such user 'carol'/, '... says so');
is(members(), 'Readers.EU-1:bob editors:alice', 'group del: one row gone');

# A deleted user's memberships go with it.
ctl('deluser', 'bob');
is(members(), 'editors:alice', 'deluser bob: his memberships are gone');

# Every change NOTIFYs starterd with the schema-qualified table name.
{
	my $ses = $pg->session;
	ok(defined $ses->do('LISTEN starterd;'), 'a psql session LISTENs');
	$r = ctl('group', 'add', 'alice', 'notified');
	is($r->{rc}, 0, 'group add while listening: exit 0');
	my $got = wait_until(sub {
		my $o = $ses->do('SELECT 1;') // '';
		$o =~ /notification "starterd" with payload "([^"]*)"/ ? $1 : undef;
	}, timeout => 20);
	is($got, 'public.starter_user_groups',
	    'group add: NOTIFY starterd, payload public.starter_user_groups');
	$ses->close;
}

# Usage: -h names the command.
$r = starterctl(undef, '-h');
like($r->{out}, qr/^  group add\|del USER GROUP \| list \[USER\]/m,
    '-h: shows the group command');

finish();
