# 141_keyset_walk: issue 11, acceptance 2.  A keyset walk over a table
# that receives inserts and deletes while it runs returns every row that
# existed throughout the walk exactly once, and no row twice.
#
# About 500 rows, 7 a page, sorted by columns with ties (and NULLs), so
# that page boundaries fall inside runs of equal values.  A psql session
# inserts and deletes rows all along (new rows land among the old ones:
# the same sort values, larger ids), and the walk itself deletes, through
# the API, the row its last cursor was taken from.  Each walk goes forward
# to the end, then back from the last page to the start, for orders of
# each shape the keyset predicate takes: a nullable column ascending, the
# same descending (the key ascending after it), a NOT NULL column, and
# every column descending.
#
# What existed throughout a walk is known from the database: ids are never
# reused and rows never updated, so a row in the table both when the walk
# started and when it ended was there all along.  The cache is on (the
# NOTIFY trigger installed): a stale page would show as a skip.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
$pg->psql(<<'SQL');
CREATE SCHEMA lab;
CREATE TABLE lab.kw (
	id	integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	grp	integer,
	ng	integer NOT NULL,
	label	text NOT NULL
);
INSERT INTO lab.kw (grp, ng, label)
SELECT CASE WHEN g % 9 = 0 THEN NULL ELSE g % 10 END, g % 7, 'row ' || g
FROM generate_series(1, 500) AS g ORDER BY md5(g::text);
CREATE TABLE lab.kw_stop (at timestamptz);
SQL

my $conf = StarterTest::basedir() . '/141.conf';
open my $fh, '>', $conf or BAIL_OUT("$conf: $!");
print $fh <<'CONF';
resource kw {
	table = lab.kw
	per_page = 7
	max_per_page = 100
	read = user
	write = user
	filter = grp
	sort = grp, ng, id
}
CONF
close $fh;
my $ctl = starterctl($pg, 'resources', 'install', '-f', $conf);
is($ctl->{rc}, 0, 'starterctl resources install: the NOTIFY trigger')
    or diag($ctl->{out} . $ctl->{err});

my $srv = StarterTest::Server->new(pg => $pg, args => ['-f', $conf]);
my @AUTH = (auth => 'admin:admin');
my $BASE = '/api/v1.0/kw/';

# --- the concurrent writer ----------------------------------------------------

# One psql running a loop in the database: each turn, an insert and the
# delete of a random row (old or new), committed, 5 ms apart,
# until a row appears in lab.kw_stop (or 150 seconds have passed: a
# bound, should the test die before it says stop).
my $MUTATOR = <<'SQL';
DO $$
DECLARE
	i	integer := 0;
	stop	timestamptz := clock_timestamp() + interval '150 s';
BEGIN
	WHILE clock_timestamp() < stop AND NOT EXISTS (SELECT FROM lab.kw_stop)
	LOOP
		i := i + 1;
		INSERT INTO lab.kw (grp, ng, label) VALUES (CASE WHEN i % 9 = 0
		    THEN NULL ELSE i % 10 END, i % 7, 'new ' || i);
		DELETE FROM lab.kw WHERE id = (SELECT id FROM lab.kw
		    ORDER BY random() LIMIT 1);
		COMMIT;
		PERFORM pg_sleep(0.005);
	END LOOP;
END
$$;
SQL
my $mut = fork // BAIL_OUT("fork: $!");
if ($mut == 0) {
	$ENV{PGAPPNAME} = 'kw_mutator';
	open STDIN, '<', '/dev/null';
	open STDOUT, '>>', StarterTest::basedir() . '/mutator.log';
	open STDERR, '>&', \*STDOUT;
	{
		no warnings 'exec';
		exec { $pg->_psql_bin } $pg->_psql_bin, '-X', '-q', '-v',
		    'ON_ERROR_STOP=1', '-h', $pg->host, '-p', $pg->port, '-U',
		    'starter', '-d', 'starter', '-c', $MUTATOR;
	}
	POSIX::_exit(127);
}
END {
	local $?;
	if ($mut) {
		kill 'KILL', $mut;
		waitpid($mut, 0);
	}
}

sub max_id { return $pg->psql('SELECT max(id) FROM lab.kw'); }
ok(wait_until(sub { max_id() > 520 }, timeout => 30),
    'the writer is inserting rows');

# --- helpers ------------------------------------------------------------------

my $conn;
sub call
{
	my ($method, $path) = @_;
	my $r;
	for (1 .. 2) {
		$conn //= StarterTest::Conn->new($srv);
		$r = $conn->request($method, $path, @AUTH, timeout => 30);
		if ($r->{status} == 0 || $conn->closed ||
		    ($r->{headers}{connection} // '') =~ /close/i) {
			$conn->close;
			undef $conn;
		}
		last if $r->{status} != 0;
	}
	return $r;
}

sub rel
{
	my ($u) = @_;
	$u =~ s{^https?://[^/]+}{} if defined $u;
	return $u;
}

# The ids in the table now.
sub snapshot
{
	return {map { $_ => 1 } split /,/,
	    $pg->psql("SELECT string_agg(id::text, ',') FROM lab.kw")};
}

# The sort key of an item for an order: a list of [value, desc], NULL the
# greatest value either way (PostgreSQL's default), then the key.
sub cmp_items
{
	my ($a, $b, $order) = @_;
	for my $o (@$order) {
		my ($col, $desc) = @$o;
		my ($x, $y) = ($a->{$col}, $b->{$col});
		my $c = !defined $x && !defined $y ? 0 : !defined $x ? 1 :
		    !defined $y ? -1 : $x <=> $y;
		$c = -$c if $desc;
		return $c if $c;
	}
	return 0;
}

# Follow meta.$dir from $r to the end.  Every few pages, the row the next
# cursor is taken from is deleted through the API before the cursor is
# used.  Returns the pages' items (in the order met), whether every answer
# was a 200, the last response and the URL that gave it (undef: $r).
my $deleted = 0;
sub follow
{
	my ($r, $dir) = @_;
	my (@pages, $url);
	my $ok = 1;
	for (my $n = 1; ; $n++) {
		if ($r->{status} != 200 || ref $r->{json} ne 'HASH') {
			diag("$dir: " . explain_response($r));
			$ok = 0;
			last;
		}
		my $items = $r->{json}{items} // [];
		push @pages, $items;
		my $u = $r->{json}{meta}{$dir};
		last unless defined $u;
		if ($n > 2000) {
			diag("$dir: no end after $n pages");
			$ok = 0;
			last;
		}
		if ($n % 5 == 0 && @$items) {
			my $edge = $items->[$dir eq 'next' ? -1 : 0]{id};
			my $d = call('DELETE', "$BASE$edge");
			$deleted++ if $d->{status} == 204;
		}
		$url = rel($u);
		$r = call('GET', $url);
	}
	return (\@pages, $ok, $r, $url);
}

# --- the walks ----------------------------------------------------------------

# Where a missed row belongs in the walk: its values and its neighbours'.
sub where_missed
{
	my ($id, $items, $order) = @_;
	my ($grp, $ng) = split /\|/, $pg->psql("SELECT coalesce(grp::text, "
	    . "'NULL') || '|' || ng FROM lab.kw WHERE id = $id");
	my $row = {id => $id, grp => $grp eq 'NULL' ? undef : $grp, ng => $ng};
	my $i = 0;
	$i++ while $i < @$items && cmp_items($items->[$i], $row, $order) < 0;
	my $fmt = sub { my $r = shift; return 'none' unless $r;
		return sprintf('%d (grp %s, ng %d)', $r->{id},
		    $r->{grp} // 'NULL', $r->{ng}); };
	return sprintf('  %s: between %s and %s, walk position %d',
	    $fmt->($row), $fmt->($i > 0 ? $items->[$i - 1] : undef),
	    $fmt->($items->[$i]), $i);
}

sub check_walk
{
	my ($name, $items, $before, $after, $order) = @_;
	my %seen;
	my @dup = grep { $seen{$_->{id}}++ } @$items;
	is(scalar @dup, 0, "$name: no row twice")
	    or diag('twice: ' . join(',', map { $_->{id} } @dup));
	my @stable = grep { $after->{$_} } sort { $a <=> $b } keys %$before;
	my @missed = grep { !$seen{$_} } @stable;
	my $show = sub { my @l = @_; return join(',', @l[0 .. ($#l > 19 ?
	    19 : $#l)]) . (@l > 20 ? ',...' : ''); };
	cmp_ok(scalar @stable, '>', 100, "$name: rows there all along: "
	    . scalar @stable);
	my $ins = grep { !$before->{$_} } keys %$after;
	my $del = grep { !$after->{$_} } keys %$before;
	ok($ins > 0 && $del > 0, "$name: the table changed meanwhile ($ins "
	    . "rows inserted, $del deleted)");
	is(scalar @missed, 0, "$name: every one of them returned")
	    or diag('missed: ' . $show->(@missed) . "\n" . join("\n",
	    map { where_missed($_, $items, $order) }
	    @missed[0 .. ($#missed > 4 ? 4 : $#missed)]));
	my @bad = grep { cmp_items($items->[$_ - 1], $items->[$_], $order) >= 0 }
	    1 .. $#$items;
	is(scalar @bad, 0, "$name: in the order, strictly")
	    or diag('out of order after: ' . $show->(map { $items->[$_ - 1]{id} }
	    @bad));
}

for my $w (['grp', [['grp', 0], ['id', 0]]],
    ['-grp', [['grp', 1], ['id', 0]]],
    ['ng', [['ng', 0], ['id', 0]]],
    ['-ng,-id', [['ng', 1], ['id', 1]]]) {
	my ($sort, $order) = @$w;
	# Forward: from the first page to the end.
	my $before = snapshot();
	my $first = call('GET', "$BASE?sort=$sort&per_page=7");
	my ($pages, $ok, undef, $lasturl) = follow($first, 'next');
	my $after = snapshot();
	ok($ok, "sort=$sort forward: every page 200");
	cmp_ok(scalar @$pages, '>=', 40, "sort=$sort forward: "
	    . scalar(@$pages) . ' pages');
	check_walk("sort=$sort forward", [map { @$_ } @$pages], $before,
	    $after, $order);

	# Backward: from the end to the first page.  The end is found
	# again from the URL of the last forward page, fetched after this
	# walk's first snapshot (rows inserted since beyond it are taken in
	# by following next to the end first).
	$before = snapshot();
	my (undef, $tok, $end) = follow(call('GET', $lasturl // "$BASE?sort="
	    . "$sort&per_page=7"), 'next');
	my ($back, $bok) = follow($end, 'prev');
	$after = snapshot();
	ok($tok && $bok, "sort=$sort backward: every page 200");
	ok(!defined $end->{json}{meta}{next}, "sort=$sort backward: from "
	    . 'the last page');
	check_walk("sort=$sort backward", [map { @$_ } reverse @$back],
	    $before, $after, $order);
}
ok($deleted > 0, "the walks deleted $deleted cursor rows through the API");

$pg->psql('INSERT INTO lab.kw_stop VALUES (now())');
my $gone = wait_until(sub { waitpid($mut, WNOHANG) == $mut }, timeout => 20);
ok($gone, 'the writer stopped');
is($gone ? $? : -1, 0, 'the writer ran without an error')
    or diag(`cat ${\ StarterTest::basedir()}/mutator.log`);
$mut = 0 if $gone;
my $n = $pg->psql(q{SELECT count(*) FROM lab.kw WHERE label LIKE 'new %'});
cmp_ok($n, '>', 50, "the writer inserted rows meanwhile ($n still there)");

StarterTest::finish();
