# 133_query_migration: migration 007_query against a real PostgreSQL: the
# pg_trgm extension (made by a database owner who is no superuser, or
# found in a schema of its own), the trigram indexes that q= reads and the
# b-tree indexes of the demo sort orders, and starterd_count_estimate():
# the planner's estimate of a filtered count is within a sane factor of
# the truth on a few thousand rows after ANALYZE, whatever the plan's shape
# (parallel plans included), and a parameter is only ever a literal: no
# value, however quoted, reaches the statement as SQL.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;

my $pg = StarterTest::Pg->new;

my $r = starterctl($pg, 'initdb');
is($r->{rc}, 0, 'initdb: exit 0') or diag($r->{err});
like($r->{out}, qr/^applied 007_query$/m, 'initdb: applies 007_query');
$r = starterctl($pg, 'load-demo');
is($r->{rc}, 0, 'load-demo: exit 0') or diag($r->{err});

# --- the extension and the indexes ------------------------------------------

is($pg->psql(q{SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'}),
    1, 'pg_trgm is installed');
is($pg->psql(q{SELECT string_agg(c.relname || ':' || am.amname, ','
    ORDER BY c.relname) FROM pg_index x
    JOIN pg_class c ON c.oid = x.indexrelid JOIN pg_am am ON am.oid = c.relam
    WHERE c.relname IN ('starter_encounters_note_trgm',
    'starter_encounters_seen_on_id', 'starter_encounters_charge_id')}),
    'starter_encounters_charge_id:btree,starter_encounters_note_trgm:gin,'
    . 'starter_encounters_seen_on_id:btree',
    'the three indexes, of their kinds');
is($pg->psql(q{SELECT count(*) FROM pg_indexes
    WHERE tablename = 'starter_pxcodes' AND indexdef LIKE '%gin%'}), 0,
    'pxcodes has no GIN index to maintain (its writes cost what they did)');
is($pg->psql(q{SELECT pg_get_indexdef('starter_encounters_seen_on_id'::regclass)
    || ' / ' || pg_get_indexdef('starter_encounters_charge_id'::regclass)}),
    'CREATE INDEX starter_encounters_seen_on_id ON public.starter_encounters '
    . 'USING btree (seen_on, id) / CREATE INDEX starter_encounters_charge_id '
    . 'ON public.starter_encounters USING btree (charge, id)',
    'the sort indexes: each order completed by the key');

# A few thousand more encounters, spread deterministically.
$pg->psql(q{INSERT INTO starter_encounters (pxcode, clinic_id, seen_on,
    charge, paid, note)
    SELECT (SELECT pxcode FROM starter_pxcodes ORDER BY id
    OFFSET (i * i) % 100 LIMIT 1), 1 + i % 5, date '2024-01-01' + i % 701,
    ((i * 7919) % 100000) / 100.0, i % 3 = 0,
    CASE i % 4 WHEN 0 THEN NULL WHEN 1 THEN 'feeling much better'
    WHEN 2 THEN 'follow-up in ' || i % 12 || ' weeks' ELSE 'référé' END
    FROM generate_series(1, 4000) AS i});
$pg->psql('ANALYZE starter_encounters; ANALYZE starter_pxcodes');
my $total = $pg->psql('SELECT count(*) FROM starter_encounters');
is($total, 5000, '5000 encounters');

# The GIN indexes serve ILIKE '%text%' (what q= writes), the b-tree ones a
# page in either direction of their order.
sub plan_of
{
	my ($sql) = @_;
	return $pg->psql("SET enable_seqscan = off; SET enable_sort = off; "
	    . "EXPLAIN (COSTS OFF) $sql");
}
like(plan_of(q{SELECT count(*) FROM starter_encounters
    WHERE note ILIKE '%better%'}), qr/starter_encounters_note_trgm/,
    'note ILIKE: the trigram index');
like(plan_of(q{SELECT id FROM starter_encounters ORDER BY charge DESC, id DESC
    LIMIT 10}), qr/Index (Only )?Scan Backward using starter_encounters_charge_id/,
    'sort=-charge: the charge index, backwards');
like(plan_of(q{SELECT id FROM starter_encounters WHERE (seen_on, id) >
    ('2024-03-01', 100) ORDER BY seen_on, id LIMIT 10}),
    qr/Index (Only )?Scan using starter_encounters_seen_on_id/,
    'a keyset page by seen_on: the seen_on index');

# --- the function -----------------------------------------------------------

is($pg->psql(q{SELECT provolatile::text || ' ' || prosecdef || ' ' ||
    array_to_string(proconfig, ',') FROM pg_proc
    WHERE proname = 'starterd_count_estimate'}),
    'v false max_parallel_workers_per_gather=0',
    'starterd_count_estimate: VOLATILE, SECURITY INVOKER, plans serially');

# A SQL text[] of the values (undef: NULL) and a dollar-quoted statement.
sub dq { my ($s) = @_; die "\$Q\$ in $s" if $s =~ /\$Q\$/; return "\$Q\$$s\$Q\$"; }
sub arr
{
	return 'ARRAY[' . join(',', map { defined $_ ? dq($_) : 'NULL' } @_)
	    . ']::text[]';
}
sub estimate
{
	my ($q, @v) = @_;
	return $pg->psql('SELECT starterd_count_estimate(' . dq($q) . ', '
	    . arr(@v) . ')');
}
# The truth: the same statement prepared, run with the same values (the
# rows it counts, or returns).
sub truth
{
	my ($q, @v) = @_;
	my $args = @v ? '(' . join(',', map { defined $_ ? 'CAST(' . dq($_)
	    . ' AS unknown)' : 'NULL' } @v) . ')' : '';
	$q = "SELECT count(*) FROM ($q) AS s" unless $q =~ /^SELECT count/;
	return $pg->psql("PREPARE c AS $q; EXECUTE c$args");
}

my $C = 'SELECT count(*) FROM starter_encounters';
my @cases = (
	['no filter', $C, []],
	['a range', "$C WHERE charge >= \$1", ['500']],
	['a boolean', "$C WHERE paid = \$1", ['true']],
	['two filters', "$C WHERE clinic_id = \$1 AND seen_on >= \$2",
	    ['3', '2024-06-01']],
	['ILIKE (q=)', "$C WHERE note ILIKE \$1", ['%better%']],
	['a prefix', "$C WHERE note LIKE \$1", ['follow-up in 1%']],
	['$10 and $11 are not $1 followed by a digit',
	    "$C WHERE clinic_id IN (" . join(', ', map { "\$$_" } 1 .. 11)
	    . ')', ['1', ('9') x 8, '2', '3']],
	['a NULL value', "$C WHERE note IS NOT DISTINCT FROM \$1", [undef]],
	['a quoted name holding $1 is a name', 'SELECT count(*) FROM '
	    . 'starter_encounters AS "e$1" WHERE "e$1".paid = $1', ['false']],
	['a literal holding $1 is a literal', "$C WHERE note <> '\$1' "
	    . "AND paid = \$1", ['true']],
	['no count: the rows of a SELECT 1 (the top node\'s estimate)',
	    'SELECT 1 FROM starter_encounters WHERE clinic_id = $1 AND '
	    . 'note ILIKE $2', ['2', '%week%']],
	['a capped count (a Limit under the Aggregate)', 'SELECT count(*) '
	    . 'FROM (SELECT 1 FROM starter_encounters WHERE charge < $1 '
	    . 'LIMIT $2) AS s', ['900', '200']],
);
for my $c (@cases) {
	my ($name, $q, $v) = @$c;
	my $t = truth($q, @$v);
	my $e = estimate($q, @$v);
	ok($e =~ /^\d+$/ && $t > 0 && $e >= $t / 2 && $e <= $t * 2 + 10,
	    "$name: estimate $e, truth $t (within a factor of 2)");
}
is(estimate($C), $total, 'no filter: the estimate is the row count');

# A parallel plan (Gather over per-worker scans) would be read wrongly:
# the function plans serially whatever the session allows.
my $par = 'SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; '
    . 'SET min_parallel_table_scan_size = 0; '
    . 'SET max_parallel_workers_per_gather = 4; ';
like($pg->psql($par . "EXPLAIN $C WHERE charge >= 500"), qr/Gather/,
    'the session would plan the count in parallel');
is($pg->psql($par . 'SELECT starterd_count_estimate(' . dq("$C WHERE charge "
    . '>= $1') . ', ' . arr('500') . ')'), estimate("$C WHERE charge >= \$1",
    '500'), '... and the estimate is the serial plan\'s all the same');

# --- a value is a literal -----------------------------------------------------

my $small = $total / 20;	# a value that escaped would match every row
for my $v ("x' OR true OR pxcode = 'x", "'); DROP TABLE starter_clinics; --",
    "a\\' OR true --", "\$\$ OR true OR \$\$", "' || (SELECT 'x') || '") {
	my $e = eval { estimate("$C WHERE pxcode = \$1", $v) };
	ok(defined $e && $e < $small, "pxcode = $v: a literal (estimate "
	    . ($e // 'error: ' . $@) . ')');
}
is($pg->psql(q{SELECT to_regclass('starter_clinics') IS NOT NULL}), 't',
    'starter_clinics is still there');
# One pass: a value holding a placeholder is not substituted again.
my $e = estimate("$C WHERE pxcode = \$1 AND note = \$2", '$2', ' OR true OR ');
ok($e < $small, "a value holding \$2 stays that text (estimate $e)");
is(truth("$C WHERE pxcode = \$1 AND note = \$2", '$2', ' OR true OR '), 0,
    '... as the prepared statement reads it');
ok(!eval { estimate("$C WHERE pxcode = \$1; DROP TABLE starter_clinics", 'x');
    1 }, 'a second statement in q is refused');
is($pg->psql(q{SELECT to_regclass('starter_clinics') IS NOT NULL}), 't',
    '... and was not run');

# --- initdb by a database owner, and pg_trgm of another schema -------------

$pg->psql(q{CREATE ROLE dbowner LOGIN NOSUPERUSER});
$pg->psql(q{CREATE DATABASE owned OWNER dbowner});
(my $odsn = $pg->dsn) =~ s/dbname=\S+/dbname=owned/;
$odsn =~ s/user=\S+/user=dbowner/ or $odsn .= ' user=dbowner';
$r = run_cmd([top_builddir() . '/src/starterctl', '-d', $odsn, 'initdb']);
is($r->{rc}, 0, 'initdb as the database owner, no superuser: exit 0')
    or diag($r->{err});
is($pg->psql(q{SELECT extowner::regrole::text FROM pg_extension
    WHERE extname = 'pg_trgm'}, dbname => 'owned'), 'dbowner',
    '... pg_trgm made by that owner (a trusted extension)');

$pg->psql(q{CREATE DATABASE ext});
$pg->psql(q{CREATE SCHEMA trgm; CREATE EXTENSION pg_trgm SCHEMA trgm},
    dbname => 'ext');
(my $edsn = $pg->dsn) =~ s/dbname=\S+/dbname=ext/;
$r = run_cmd([top_builddir() . '/src/starterctl', '-d', $edsn, 'initdb']);
is($r->{rc}, 0, 'initdb with pg_trgm in a schema off the search path: exit 0')
    or diag($r->{err});
like($pg->psql(q{SELECT pg_get_indexdef('starter_encounters_note_trgm'::regclass)},
    dbname => 'ext'), qr/USING gin \(note trgm\.gin_trgm_ops\)/,
    '... its operator class, named in its schema');

finish();
