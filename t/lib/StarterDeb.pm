# StarterDeb: build the Debian package from the source tree, for the tests
# that check it (t/096_deb.t) or install it (t/systemd/systemd.t).
#
#   my ($rc, $out) = StarterDeb::run($dir, $secs, @cmd);
#   my $b = StarterDeb::build($srcdir, $tmp, $secs);
#	# {ok, copied, log, deb, changes}: the files git knows (committed
#	# or not) copied to $tmp/starterd, `dpkg-buildpackage -us -uc -b`
#	# run there; the .deb and .changes land in $tmp.
#
# Every command is bounded by timeout(1).  Core Perl only.
package StarterDeb;

use strict;
use warnings;
use File::Path qw(make_path);
use POSIX ();

# run(DIR, SECONDS, COMMAND...): (exit status, stdout and stderr).
sub run
{
	my ($dir, $limit, @cmd) = @_;
	my $pid = open(my $fh, '-|') // die "fork: $!\n";
	if ($pid == 0) {
		open(STDERR, '>&', \*STDOUT) or POSIX::_exit(127);
		open(STDIN, '<', '/dev/null') or POSIX::_exit(127);
		chdir($dir) or POSIX::_exit(127);
		exec('timeout', '-k', '10', $limit, @cmd) or POSIX::_exit(127);
	}
	local $/;
	my $out = <$fh> // '';
	close($fh);
	return ($? >> 8, $out);
}

sub build
{
	my ($srcdir, $tmp, $limit) = @_;
	my %b = (ok => 0, copied => 0, log => '');
	delete local @ENV{qw(MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES
	    GNUMAKEFLAGS)};
	my ($rc, $out) = run($srcdir, $limit, 'git', 'ls-files', '-z',
	    '--cached', '--others', '--exclude-standard');
	if ($rc != 0) {
		$b{log} = "$srcdir is not a git checkout: $out";
		$b{nogit} = 1;
		return \%b;
	}
	my @files = grep { length && (-e "$srcdir/$_" || -l "$srcdir/$_") }
	    split /\0/, $out;

	# The copy: tar keeps modes and symlinks (debian/starterd.sysusers).
	my $src = "$tmp/starterd";
	make_path($src);
	open(my $lf, '>', "$tmp/files") or die "$tmp/files: $!\n";
	print $lf join("\0", @files), "\0";
	close($lf);
	($rc, $out) = run($srcdir, $limit, 'sh', '-c',
	    'tar -cf - --null -T "$1" | tar -xf - -C "$2"', 'sh',
	    "$tmp/files", $src);
	if ($rc != 0) {
		$b{log} = $out;
		return \%b;
	}
	$b{copied} = -x "$src/debian/rules" ? 1 : 0;
	my $t0 = time;
	($rc, $b{log}) = run($src, $limit, 'dpkg-buildpackage', '-us', '-uc',
	    '-b');
	$b{seconds} = time - $t0;
	($b{deb}) = grep { !/dbgsym/ } glob("$tmp/starterd_*.deb");
	($b{changes}) = glob("$tmp/starterd_*.changes");
	$b{ok} = $rc == 0 && $b{deb} ? 1 : 0;
	return \%b;
}

1;
