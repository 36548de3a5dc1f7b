#!/usr/bin/perl
# scripts/check-layers: the layering of the daemon's sources (src/LAYERS).
#
# First the real build must pass; then fake build trees, two or three tiny
# objects compiled with the system cc ($CC), show that the checker catches
# an upward reference, a cycle and an unplaced file, passes a clean tree,
# and reads the object list from an automake Makefile.  Core Perl only.
use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use POSIX qw(_exit);
use Test::More;

my $top = abs_path(dirname(__FILE__) . '/..');
my $builddir = $ENV{TOP_BUILDDIR} // $top;
my $srcdir = $ENV{TOP_SRCDIR} // $top;
my $checker = "$srcdir/scripts/check-layers";
my $CC = $ENV{CC} || 'cc';
my $tmp = tempdir('starterd_layers_XXXXXX', TMPDIR => 1, CLEANUP => 1);

# run(@args): the checker's exit status, stdout and stderr.
my $nrun = 0;
sub run
{
	my @args = @_;
	my ($out, $err) = map { "$tmp/run$nrun.$_" } qw(out err);
	$nrun++;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>', $out or _exit(126);
		open STDERR, '>', $err or _exit(126);
		{ no warnings 'exec'; exec $^X, $checker, @args; }
		_exit(127);
	}
	waitpid $pid, 0;
	my $rc = $? >> 8;
	my %r = (rc => $rc);
	for ([out => $out], [err => $err]) {
		open my $fh, '<', $_->[1] or die "$_->[1]: $!";
		local $/;
		$r{$_->[0]} = <$fh> // '';
	}
	return \%r;
}

sub spew
{
	my ($path, $text) = @_;
	make_path(dirname($path));
	open my $fh, '>', $path or die "$path: $!";
	print $fh $text;
	close $fh or die "$path: $!";
}

# fake_tree(NAME, rules => TEXT, files => [[SOURCE, OBJECT, CODE], ...]):
# an in-tree build in $tmp/NAME, every SOURCE compiled into OBJECT.
sub fake_tree
{
	my ($name, %opt) = @_;
	my $dir = "$tmp/$name";
	make_path($dir);
	spew("$dir/LAYERS", $opt{rules});
	for my $f (@{$opt{files}}) {
		my ($src, $obj, $code) = @$f;
		spew("$dir/$src", $code);
		system($CC, '-c', '-o', "$dir/$obj", "$dir/$src") == 0
		    or BAIL_OUT("$CC cannot compile $dir/$src");
	}
	spew("$dir/Makefile", $opt{makefile}) if defined $opt{makefile};
	return $dir;
}

sub check_tree
{
	my ($dir, @opt) = @_;
	return run(@opt, '--srcdir', $dir, '--rules', "$dir/LAYERS", $dir);
}

sub show { my $r = shift; diag("exit $r->{rc}\n$r->{out}$r->{err}"); }

# A whole line of output, or the start of one, as a pattern.
sub line { my $t = quotemeta shift; return qr/^$t$/m; }
sub start { my $t = quotemeta shift; return qr/^$t/m; }

# --- (1) the real build ---------------------------------------------------

SKIP: {
	skip "no $builddir/src/starterd: build it first", 2
	    unless -x "$builddir/src/starterd";
	my $r = run('--srcdir', $srcdir, '--rules', "$srcdir/src/LAYERS",
	    $builddir);
	is($r->{rc}, 0, 'the real build follows src/LAYERS') or show($r);
	like($r->{out},
	    qr/^layers: \d+ files, \d+ edges, no upward reference, no cycle$/m,
	    'summary line');
}

# The pieces of the fake trees.
my $rules = <<'EOF';
# fake rules
2 high  src/core/conn.c   # trailing comment
1 low   src/data/*.c
0 base  lib/*.c src/core/config.c
EOF
my $buf = ['lib/buf.c', 'lib/libcommon_a-buf.o',
    "int buf_len(void) { return 3; }\n"];
my $config = ['src/core/config.c', 'src/core/starterd-config.o',
    "int conf = 1;\n"];
my $db_clean = ['src/data/db.c', 'src/data/starterd-db.o', <<'EOF'];
extern int conf;
int buf_len(void);
int db_x(void) { return buf_len() + conf; }
EOF
my $conn = ['src/core/conn.c', 'src/core/starterd-conn.o', <<'EOF'];
int db_x(void);
int conn_y(void) { return db_x(); }
EOF
# Other programs' objects and the unit tests' are not starterd's: they
# would clash (conn_y twice) or be unplaced if the checker read them.
my @others = (
    ['src/ctl.c', 'src/starterctl-ctl.o',
	"int conn_y(void) { return 7; }\nint main(void) { return conn_y(); }\n"],
    ['t/unit/x_test.c', 't/unit/x_test.o',
	"int db_x(void);\nint main(void) { return db_x(); }\n"],
);

# --- (2) an upward reference and a cycle ---------------------------------

{
	my $dir = fake_tree('bad', rules => $rules, files => [$buf, $conn,
	    @others, ['src/data/db.c', 'src/data/starterd-db.o', <<'EOF']]);
int conn_y(void);
int buf_len(void);
int db_x(void) { return conn_y() + buf_len(); }
EOF
	my $r = check_tree($dir);
	is($r->{rc}, 1, 'upward reference and cycle: exit 1') or show($r);
	like($r->{err}, line(q{layers: src/data/db.c (low, 1) references conn_y in }
	    . q{src/core/conn.c (high, 2)}),
	    'the upward reference is named') or show($r);
	like($r->{err}, line(q{layers: cycle: src/core/conn.c -> src/data/db.c }
	    . q{-> src/core/conn.c}),
	    'the cycle is named') or show($r);
	unlike($r->{err}, qr/references db_x/, 'downward reference is fine');
	unlike($r->{err}, qr/starterctl|x_test|ctl\.c|lib\/buf\.c/,
	    'other programs and the unit tests are not read');
	is($r->{out}, '', 'no summary on stdout');

	$r = check_tree($dir, '--graph');
	is($r->{rc}, 1, '--graph: still exit 1');
	is($r->{out}, <<'EOF', '--graph: every edge with its symbols');
src/core/conn.c -> src/data/db.c: db_x
src/data/db.c -> lib/buf.c: buf_len
src/data/db.c -> src/core/conn.c: conn_y
EOF
}

# --- (3) an object from a file no layer covers ---------------------------

{
	my $dir = fake_tree('unplaced', rules => $rules, files => [$buf,
	    $config, $db_clean, $conn,
	    ['src/extra/new.c', 'src/extra/starterd-new.o',
		"int conn_y(void);\nint new_z(void) { return conn_y(); }\n"]]);
	my $r = check_tree($dir);
	is($r->{rc}, 1, 'unplaced file: exit 1') or show($r);
	like($r->{err}, start(q{layers: src/extra/new.c (src/extra/starterd-new.o) }
	    . qq{is in no layer of $dir/LAYERS}),
	    'the unplaced file is named') or show($r);
	unlike($r->{err}, qr/ references \S+ in |^layers: cycle:/m,
	    'nothing else is reported');
}

# --- (4) a clean tree ------------------------------------------------------

{
	my $dir = fake_tree('clean', rules => $rules, files => [$buf,
	    $config, $db_clean, $conn, @others]);
	my $r = check_tree($dir);
	is($r->{rc}, 0, 'clean tree: exit 0') or show($r);
	is($r->{out},
	    "layers: 4 files, 3 edges, no upward reference, no cycle\n",
	    'clean tree: the summary');
	is($r->{err}, '', 'clean tree: nothing on stderr');

	$r = check_tree($dir, '--graph');
	is($r->{out}, <<'EOF', '--graph: a data symbol (conf) is a reference');
src/core/conn.c -> src/data/db.c: db_x
src/data/db.c -> lib/buf.c: buf_len
src/data/db.c -> src/core/config.c: conf
layers: 4 files, 3 edges, no upward reference, no cycle
EOF

	# Automake's Makefile names the objects: a stale one of an earlier
	# layout (no source, in no layer) is then ignored.
	my $mk = <<'EOF';
OBJEXT = o
am_src_starterd_OBJECTS = src/core/starterd-conn.$(OBJEXT) \
	src/data/starterd-db.$(OBJEXT) \
	src/core/starterd-config.$(OBJEXT)
src_starterd_OBJECTS = $(am_src_starterd_OBJECTS)
am_lib_libcommon_a_OBJECTS = lib/libcommon_a-buf.$(OBJEXT)
lib_libcommon_a_OBJECTS = $(am_lib_libcommon_a_OBJECTS)
COMMON_LIBS = lib/libcommon.a $(ARGON2_LIBS) -lm
src_starterd_LDADD = $(COMMON_LIBS) -lpq
EOF
	spew("$dir/src/starterd-old.o", '');
	system($CC, '-c', '-o', "$dir/src/starterd-old.o", "$dir/src/ctl.c");
	$r = check_tree($dir);
	is($r->{rc}, 1, 'glob mode: a stale object is read (no Makefile)');
	like($r->{err}, start(q{layers: src/old.c (src/starterd-old.o, }
	    . q{no such source file: stale object?) is in no layer}),
	    'glob mode: the stale object is named') or show($r);
	spew("$dir/Makefile", $mk);
	$r = check_tree($dir);
	is($r->{rc}, 0, 'Makefile mode: only the listed objects are read')
	    or show($r);
	is($r->{out},
	    "layers: 4 files, 3 edges, no upward reference, no cycle\n",
	    'Makefile mode: the summary');

	spew("$dir/Makefile", $mk
	    . "am_src_starterd_OBJECTS += src/core/starterd-gone.\$(OBJEXT)\n");
	$r = check_tree($dir);
	is($r->{rc}, 1, 'Makefile mode: a missing object fails');
	like($r->{err}, start(q{layers: src/core/starterd-gone.o (src/core/gone.c) }
	    . q{is missing}),
	    'Makefile mode: the missing object is named') or show($r);
}

# --- a cycle within one layer, and bad rules -------------------------------

{
	my $dir = fake_tree('ring', rules => "1 ring src/ring/*.c\n",
	    files => [
		['src/ring/a.c', 'src/ring/starterd-a.o',
		    "int b(void);\nint a(void) { return b(); }\n"],
		['src/ring/b.c', 'src/ring/starterd-b.o',
		    "int c(void);\nint b(void) { return c(); }\n"],
		['src/ring/c.c', 'src/ring/starterd-c.o',
		    "int a(void);\nint c(void) { return a(); }\n"],
	    ]);
	my $r = check_tree($dir);
	is($r->{rc}, 1, 'cycle within a layer: exit 1') or show($r);
	like($r->{err}, line(q{layers: cycle: src/ring/a.c -> src/ring/b.c -> }
	    . q{src/ring/c.c -> src/ring/a.c}),
	    'the three-file cycle is named') or show($r);
	unlike($r->{err}, qr/ references \S+ in /,
	    'no upward reference in one layer');

	spew("$dir/LAYERS", "1 ring\n");
	$r = check_tree($dir);
	is($r->{rc}, 2, 'a rules line without a glob: exit 2');
	like($r->{err}, qr/LAYERS:1: expected RANK NAME GLOB/, 'and why');

	spew("$dir/LAYERS", "1 ring src/ring/*.c\n0 low src/ring/a.c\n");
	$r = check_tree($dir);
	is($r->{rc}, 1, 'a file in two layers: exit 1');
	like($r->{err}, start(q{layers: src/ring/a.c is placed in more than one layer }
	    . q{(ring, low)}),
	    'and which') or show($r);
}

done_testing();
