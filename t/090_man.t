#!/usr/bin/perl
# 090_man: the manual pages lint clean with mandoc and agree with the
# programs: every flag of `starterd -h` is in starterd.8 with its
# environment name and default, and every flag there is in -h; every
# setting is a key in starterd.conf.5 and in the sample file; every
# command and flag of `starterctl -h` is in starterctl.8 and vice versa.
# Reads the pages made by make (paths substituted) from TOP_BUILDDIR.
# Core Perl only; mandoc is required (apt-get install mandoc).
use strict;
use warnings;
use POSIX ();
use Test::More;

my $top = $ENV{TOP_BUILDDIR} // '.';
my @pages = map { "$top/man/$_" } qw(starterd.8 starterctl.8 starterd.conf.5);

# Run a command; (exit status, stdout and stderr together).
sub run
{
	my (@cmd) = @_;
	my $pid = open(my $fh, '-|') // die "fork: $!\n";
	if ($pid == 0) {
		open(STDERR, '>&', \*STDOUT) or die;
		exec(@cmd) or POSIX::_exit(127);
	}
	local $/;
	my $out = <$fh> // '';
	close($fh);
	return ($? >> 8, $out);
}

sub slurp
{
	my ($f) = @_;
	open(my $fh, '<', $f) or die "$f: $!\n";
	local $/;
	return scalar <$fh>;
}

# Undo the mdoc escapes that matter here.
sub plain
{
	my ($s) = @_;
	$s =~ s/\\&//g;
	$s =~ s/\\-/-/g;
	$s =~ s/\\e/\\/g;
	return $s;
}

# The items of the first `.Bl` list after a line matching $after, as
# [ head (text after .It), body ] pairs.  Nested lists are kept in bodies.
sub list_items
{
	my ($src, $after) = @_;
	my @lines = split /\n/, $src;
	my $i = 0;
	$i++ while $i < @lines && $lines[$i] !~ $after;
	$i++ while $i < @lines && $lines[$i] !~ /^\.Bl\b/;
	return () if $i >= @lines;
	my ($depth, @items) = (0);
	for ($i++; $i < @lines; $i++) {
		my $l = $lines[$i];
		if ($l =~ /^\.Bl\b/) {
			$depth++;
		} elsif ($l =~ /^\.El\b/) {
			last if $depth == 0;
			$depth--;
		} elsif ($depth == 0 && $l =~ /^\.It\s*(.*)$/) {
			push @items, [ plain($1), '' ];
			next;
		}
		$items[-1][1] .= plain($l) . "\n" if @items;
	}
	return @items;
}

# The flags named by Fl macros in a line: ('-b', '--listen').
sub fl_flags
{
	my ($line) = @_;
	my @f;
	while ($line =~ /\bFl\s+(-?[\w][\w-]*)/g) {
		my $t = $1;
		push @f, $t =~ /^-(.+)/ ? "--$1" : "-$t";
	}
	return @f;
}

# ---------------------------------------------------------------- lint

my $mandoc = (grep { -x "$_/mandoc" } split /:/, $ENV{PATH} // '')[0];
ok($mandoc, 'mandoc is installed') or
    diag('install mandoc (apt-get install mandoc); the lint needs it');

for my $p (@pages) {
	ok(-f $p, "$p was made") or next;
	next unless $mandoc;
	my ($rc, $out) = run('mandoc', '-Tlint', '-Wwarning', $p);
	ok($rc == 0 && $out eq '', "mandoc -Tlint -Wwarning $p is clean")
	    or diag($out);
	# Style notes: only cross references to pages not installed here
	# (our own pages, logrotate) and a stale mandoc.db are acceptable.
	($rc, $out) = run('mandoc', '-Tlint', '-Wstyle', $p);
	my @notes = grep { !/referenced manual not found|mandoc\.db/ }
	    split /\n/, $out;
	is_deeply(\@notes, [], "mandoc -Tlint -Wstyle $p: no style notes")
	    or diag(join("\n", @notes));
}

# ---------------------------------------------------------------- starterd

my ($rc, $help) = run("$top/src/starterd", '-h');
is($rc, 0, 'starterd -h exits 0');

# From -h: long name -> { short, arg, env, default }.
my (%opt, %short);
for (split /\n/, $help) {
	next unless /^\s+(?:-(\w), )?--([\w-]+)(?: (\S+))?\s{2,}(.*)$/;
	my ($s, $l, $arg, $rest) = ($1, $2, $3, $4);
	my %o = (short => $s, arg => $arg);
	if ($rest =~ /\[(STARTERD_\w+)(?:, default (.*))?\]\s*$/) {
		$o{env} = $1;
		$o{def} = $2;
	}
	$opt{$l} = \%o;
	$short{$s} = $l if defined $s;
}
cmp_ok(scalar(keys %opt), '>=', 20, 'starterd -h lists the options')
    or diag($help);

my $s8 = slurp($pages[0]);
my @items = list_items($s8, qr/^The options are as follows:/);
ok(@items, 'starterd.8 has an option list');

my %man;
for my $it (@items) {
	my ($head, $body) = @$it;
	my @f = fl_flags($head);
	my ($long) = map { /^--(.+)/ ? $1 : () } @f;
	my ($s) = map { /^-(\w)$/ ? $1 : () } @f;
	unless (defined $long) {
		fail("starterd.8: item '.It $head' names a long flag");
		next;
	}
	$man{$long} = { short => $s, head => $head, body => $body };
}

for my $l (sort keys %opt) {
	my $o = $opt{$l};
	my $m = $man{$l};
	ok($m, "starterd.8 documents --$l") or next;
	is($m->{short}, $o->{short}, "--$l: same short flag in -h and the page");
	if (defined $o->{arg}) {
		like($m->{head}, qr/\bAr\s+\Q$o->{arg}\E(\s|$)/,
		    "--$l: argument named '$o->{arg}' as in -h")
		    unless $o->{arg} =~ /[\[|\/]/;	# composite: Ns/Op markup
	}
	next unless defined $o->{env};
	like($m->{body}, qr/^\.Ev \Q$o->{env}\E\b/m,
	    "--$l: environment $o->{env} given");
	if (defined $o->{def} && $o->{def} ne '') {
		like($m->{body}, qr/^\.(?:Ql|Pa) \Q$o->{def}\E( [.,;])?$/m,
		    "--$l: default '$o->{def}' given");
	} else {
		like($m->{body}, qr/no default/, "--$l: says it has no default");
	}
}
for my $l (sort keys %man) {
	ok($opt{$l}, "--$l of starterd.8 is in starterd -h");
}

# SYNOPSIS: the short flags are those of -h.
my ($syn) = $s8 =~ /^\.Sh SYNOPSIS\n(.*?)^\.Sh /ms;
my %synshort;
while ($syn =~ /\bFl\s+(\w+)/g) {
	$synshort{$_} = 1 for split //, $1;
}
is_deeply([ sort keys %synshort ], [ sort keys %short ],
    'starterd.8 SYNOPSIS: the same short flags as -h');

# ---------------------------------------------------------------- config keys

my %keys;
for my $l (keys %opt) {
	next unless defined $opt{$l}{env} && $l ne 'config';
	(my $k = $l) =~ tr/-/_/;
	$keys{$k} = $opt{$l};
}
my $s5 = slurp($pages[2]);
my %mkeys;
for my $it (list_items($s5, qr/^\.Sh SETTINGS/)) {
	my ($head, $body) = @$it;
	if ($head =~ /^Ic\s+(\w+)/) {
		$mkeys{$1} = $body;
	} else {
		fail("starterd.conf.5: item '.It $head' is not '.It Ic key'");
	}
}
for my $k (sort keys %keys) {
	my $o = $keys{$k};
	ok(defined $mkeys{$k}, "starterd.conf.5 documents $k") or next;
	like($mkeys{$k}, qr/^\.Ev \Q$o->{env}\E\b/m, "$k: environment $o->{env}");
	if (defined $o->{def} && $o->{def} ne '') {
		like($mkeys{$k}, qr/^\.Ql \Q$o->{def}\E( [.,;])?$/m,
		    "$k: default '$o->{def}'");
	} else {
		like($mkeys{$k}, qr/no default/, "$k: says it has no default");
	}
}
for my $k (sort keys %mkeys) {
	ok($keys{$k}, "key $k of starterd.conf.5 is a setting of starterd -h");
}
like($s5, qr/flag.*\n.*environment.*\n.*this file.*\n.*default/s,
    'starterd.conf.5 states the precedence');

# The sample configuration lists every key with its default.
my $sample = "$top/etc/starterd.conf.sample";
if (ok(-f $sample, 'etc/starterd.conf.sample was made')) {
	my %skeys;
	for (split /\n/, slurp($sample)) {
		$skeys{$1} = $2 if /^#?(\w+) = ?(\S*)/;
	}
	for my $k (sort keys %keys) {
		my $def = $keys{$k}{def} // '';
		ok(exists $skeys{$k}, "sample lists $k") or next;
		is($skeys{$k}, $def, "sample: $k defaults to '$def'")
		    unless $k eq 'dsn_file';	# shows an example path
	}
	for my $k (sort keys %skeys) {
		ok($keys{$k}, "sample key $k is a setting");
	}
}

# ---------------------------------------------------------------- starterctl

($rc, my $chelp) = run("$top/src/starterctl", '-h');
is($rc, 0, 'starterctl -h exits 0');
my (%cmds, %cflags);
my $incmds = 0;
for (split /\n/, $chelp) {
	$incmds = 1, next if /^commands:/;
	$incmds = 0 unless /^\s/;
	$cmds{$1} = 1 if $incmds && /^\s+([\w-]+)/;
}
$cflags{$1} = 1 while $chelp =~ /(?<![\w-])(--?[A-Za-z][\w-]*)/g;
cmp_ok(scalar(keys %cmds), '>=', 8, 'starterctl -h lists the commands');

my $s8c = slurp($pages[1]);
my %mcmds;
for my $it (list_items($s8c, qr/^The commands are as follows:/)) {
	$mcmds{$1} = 1 if $it->[0] =~ /^Cm\s+([\w-]+)/;
}
is_deeply([ sort keys %mcmds ], [ sort keys %cmds ],
    'starterctl.8 documents exactly the commands of starterctl -h');

my @copts = list_items($s8c, qr/^The options are as follows:/);
my %mflags;
for my $it (@copts) {
	my @f = fl_flags($it->[0]);
	my $arg = $it->[0] =~ /\bAr\s/;
	$mflags{$_} = $arg for @f;
}
for my $f (sort keys %cflags) {
	ok(exists $mflags{$f}, "starterctl.8 documents $f");
}
# Every documented flag is accepted: the flag (with a value), then -h.
for my $f (sort keys %mflags) {
	my @a = ($f, $mflags{$f} ? ($f =~ /argon2/ ? '8' : 'x') : ());
	push @a, '-h' unless $f =~ /^-(h|-help)$/;
	my ($r) = run("$top/src/starterctl", @a);
	is($r, 0, "starterctl accepts $f");
}

done_testing();
