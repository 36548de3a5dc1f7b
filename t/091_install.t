#!/usr/bin/perl
# 091_install: `make install DESTDIR=...` from the build directory puts
# every file where the manual pages and the systemd unit say, leaves a real
# configuration file alone, and `make uninstall` removes everything it
# installed.  Then `systemd-analyze verify` checks the installed unit (its
# ExecStart pointed into DESTDIR), when systemd-analyze is available.
#
# Works for any configure options: the paths come from the installed pages
# and unit, not from this script.  Runs make from inside `make check`; the
# outer make's MAKEFLAGS (jobserver, command-line variables) are dropped so
# that the inner make is a plain, serial one.  Core Perl only.
use strict;
use warnings;
use File::Find;
use File::Path qw(rmtree);
use File::Temp qw(tempdir);
use POSIX ();
use Test::More;

my $top = $ENV{TOP_BUILDDIR} // '.';
my $srcdir = $ENV{TOP_SRCDIR} // $top;
my $make = $ENV{MAKE} // 'make';
delete @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS)};

plan skip_all => "no Makefile in $top (run through make check)"
    unless -f "$top/Makefile";

my $tmp = tempdir('starterd-install-XXXXXX', TMPDIR => 1);
my $dest = "$tmp/root";
END {
	if (defined $tmp) {
		if (Test::More->builder->is_passing) {
			rmtree($tmp);
		} else {
			diag("kept $tmp");
		}
	}
}

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

sub files_under
{
	my ($d) = @_;
	my @f;
	find({ no_chdir => 1, wanted => sub {
		push @f, substr($File::Find::name, length $d) if !-d $_;
	} }, $d) if -d $d;
	return sort @f;
}

# Is an automake conditional install variable active in the Makefile?
# (automake comments out the lines of a false conditional.)
my $makefile = slurp("$top/Makefile");
sub installs
{
	my ($var) = @_;
	return $makefile =~ /^\Q$var\E\s*=/m;
}

# ---------------------------------------------------------------- install

my ($rc, $out) = run($make, '-C', $top, 'install', "DESTDIR=$dest");
is($rc, 0, 'make install DESTDIR=... succeeds') or diag($out);

my @installed = files_under($dest);
my %have = map { $_ => 1 } @installed;
note("installed:\n  " . join("\n  ", @installed));

# Binaries and pages, wherever the prefix put them.
my ($starterd) = grep { m{/bin/starterd$} } @installed;
my ($starterctl) = grep { m{/bin/starterctl$} } @installed;
ok($starterd && -x "$dest$starterd", 'starterd installed, executable');
ok($starterctl && -x "$dest$starterctl", 'starterctl installed, executable');
my %page;
for my $p (qw(man8/starterd.8 man8/starterctl.8 man5/starterd.conf.5)) {
	($page{$p}) = grep { m{/\Q$p\E$} } @installed;
	ok($page{$p}, "$p installed");
}
BAIL_OUT('nothing to check without starterd and its page')
    unless $starterd && $page{'man8/starterd.8'};
(my $mandir = $page{'man8/starterd.8'}) =~ s{/man8/starterd\.8$}{};
(my $bindir = $starterd) =~ s{/starterd$}{};

# The installed page says where the configuration file is; so does the
# installed binary (compiled-in default).
my ($rc2, $help) = run("$dest$starterd", '-h');
my ($conf) = $help =~ /--config file.*default (\S+)\]/;
ok($conf, "installed starterd -h names its configuration file");
$conf //= '';

# FILES of each page: every path is installed, or its .sample is, or it is
# made at run time / by the administrator (said so in the page).
for my $p (sort keys %page) {
	next unless $page{$p};
	my $src = slurp("$dest$page{$p}");
	unlike($src, qr/@[a-z]+@/, "$p: every \@dir\@ substituted");
	my ($files) = $src =~ /^\.Sh FILES\n(.*?)^\.Sh /ms;
	ok($files, "$p has FILES") or next;
	my @items = split /^\.It /m, $files;
	shift @items;
	for my $it (@items) {
		my ($path) = $it =~ /^Pa (\S+)/ or next;
		if ($path =~ m{^/(var|run)/} || $it =~ /not installed/) {
			note("$p: $path is made at run time or by hand");
			next;
		}
		if ($path =~ m{\.service$} && !installs('nodist_systemdsystemunit_DATA') ||
		    $path =~ m{/sysusers\.d/} && !installs('sysusers_DATA') ||
		    $path =~ m{/tmpfiles\.d/} && !installs('tmpfiles_DATA')) {
			note("$p: $path disabled at configure time");
			next;
		}
		(my $d = $path) =~ s{/$}{};
		ok(-e "$dest$d" || -e "$dest$d.sample",
		    "$p: $path (or $path.sample) is installed");
	}
	like($src, qr/\bPa \Q$conf\E(\s|$)/,
	    "$p: names the compiled-in configuration file $conf")
	    if $p =~ /starterd\.[85]$/;
}
ok($have{"$conf.sample"}, "sample configuration installed as $conf.sample");
ok(!$have{$conf}, 'no real configuration file installed');

# The SQL files under $(datadir)/starterd.
my @mig = map { m{([^/]+)$} } glob("$srcdir/sql/migrations/*.sql");
ok(@mig, 'source tree has migrations');
for my $m (@mig) {
	ok(scalar(grep { m{/starterd/migrations/\Q$m\E$} } @installed),
	    "migration $m installed");
}
ok(scalar(grep { m{/starterd/starter_pxcodes\.sql$} } @installed),
    'starter_pxcodes.sql installed');

# The bash completions, one file per command named after it, in the
# directory configure chose (bash-completion's, under $(datadir), or
# --with-bashcompletiondir): found by name and content.
for my $cmd (qw(starterd starterctl)) {
	my ($f) = grep { m{/\Q$cmd\E$} && !m{/bin/} } @installed;
	ok($f && slurp("$dest$f") =~ /^complete -F _\Q$cmd\E \Q$cmd\E$/m,
	    "bash completion for $cmd installed" . ($f ? " as $f" : ''));
}

# ---------------------------------------------------------------- the unit

my ($unit) = grep { m{/starterd\.service$} } @installed;
my $unittext = '';
SKIP: {
	skip('the unit is not installed (--with-systemdsystemunitdir=no)', 10)
	    unless installs('nodist_systemdsystemunit_DATA');
	ok($unit, 'starterd.service installed') or skip('no unit', 9);
	$unittext = slurp("$dest$unit");
	unlike($unittext, qr/@[a-z]+@/, 'unit: every @dir@ substituted');
	my ($exec) = $unittext =~ /^ExecStart=(\S+)/m;
	is($exec, "$bindir/starterd", 'unit: ExecStart is the installed starterd');
	my ($envf) = $unittext =~ /^EnvironmentFile=-?(\S+)/m;
	ok($envf && $have{"$envf.sample"},
	    "unit: EnvironmentFile $envf has its sample installed");
	like($unittext, qr/^Type=notify$/m, 'unit: Type=notify');
	like($unittext, qr/^ExecReload=.*kill -HUP \$MAINPID$/m,
	    'unit: reload is SIGHUP to the master');
	like($unittext, qr/^ExecStartPre=\Q$bindir\E\/starterd -t --test-config-only$/m,
	    'unit: starterd -t checks the configuration before start');
	like($unittext,
	    qr/^ExecReload=\Q$bindir\E\/starterd -t --test-config-only\n(?#
	    )ExecReload=.*kill -HUP/m,
	    'unit: starterd -t checks the configuration before reload');
	my @docs = $unittext =~ /man:([\w.]+)\((\d)\)/g;
	my $ok = 1;
	while (my ($n, $s) = splice(@docs, 0, 2)) {
		$ok = 0 unless $have{"$mandir/man$s/$n.$s"};
	}
	ok($ok, 'unit: Documentation= pages are installed');
	like($unittext, qr/^User=(\w+)$/m, 'unit: runs as a dedicated user');
}
if (installs('sysusers_DATA') && $unittext =~ /^User=(\w+)$/m) {
	my $user = $1;
	my ($su) = grep { m{/sysusers\.d/starterd\.conf$} } @installed;
	ok($su && slurp("$dest$su") =~ /^u\s+\Q$user\E\s/m,
	    "sysusers.d snippet creates the unit's user $user");
}

# ---------------------------------------------------------------- verify

SKIP: {
	my ($sa) = grep { -x "$_/systemd-analyze" } split /:/, $ENV{PATH};
	skip('systemd-analyze not available (apt-get install systemd)', 1)
	    unless $sa;
	skip('no installed unit to verify', 1) unless $unit;
	# verify insists that ExecStart exists: point it into DESTDIR (and
	# ExecStartPre/ExecReload, which run the installed starterd -t too).
	mkdir("$tmp/verify") or die "$tmp/verify: $!\n";
	(my $copy = $unittext) =~
	    s{^ExecStart=(\S+)}{ExecStart=$dest$1}m;
	$copy =~ s{^(ExecStartPre|ExecReload)=\Q$bindir\E/}{$1=$dest$bindir/}mg;
	open(my $fh, '>', "$tmp/verify/starterd.service") or die;
	print $fh $copy;
	close($fh);
	local $ENV{MANPATH} = "$dest$mandir";
	local $ENV{SYSTEMD_LOG_LEVEL} = 'notice';
	my ($vrc, $vout) = run("$sa/systemd-analyze", 'verify',
	    "$tmp/verify/starterd.service");
	ok($vrc == 0 && $vout eq '', 'systemd-analyze verify is clean')
	    or diag($vout);
	my ($src, $sout) = run("$sa/systemd-analyze", 'security',
	    '--offline=yes', "$tmp/verify/starterd.service");
	note($sout =~ /(Overall exposure level.*)/ ? $1 :
	    'systemd-analyze security: no result');
}

# ---------------------------------------------------------------- reinstall

# A real configuration survives a second install and the uninstall.
my $real = "$dest$conf";
open(my $cfh, '>', $real) or die "$real: $!\n";
print $cfh "port = 5999\n";
close($cfh);
($rc, $out) = run($make, '-C', $top, 'install', "DESTDIR=$dest");
is($rc, 0, 'second make install succeeds') or diag($out);
is(slurp($real), "port = 5999\n", 'a real configuration is not overwritten');

($rc, $out) = run($make, '-C', $top, 'uninstall', "DESTDIR=$dest");
is($rc, 0, 'make uninstall succeeds') or diag($out);
is_deeply([ files_under($dest) ], [ $conf ],
    'make uninstall removes every installed file, keeps the real config');

done_testing();
