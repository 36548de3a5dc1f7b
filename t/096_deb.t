#!/usr/bin/perl
# 096_deb: the Debian package.  Copies the source tree (the files git knows,
# committed or not) to a temporary directory, builds it there with
# `dpkg-buildpackage -us -uc -b`, runs lintian with --fail-on error,warning
# on the result, and checks the .deb: starterd in /usr/sbin, starterctl in
# /usr/bin, the unit (checking the configuration with starterd -t before
# start and reload), the sysusers.d/tmpfiles.d snippets, the man pages, the
# logrotate snippet (postrotate: SIGUSR1 to the master), and
# /etc/starterd/starterd.conf as a conffile with every setting commented out
# (the resource blocks of the demo tables aside).
#
# Slow (a full build), so skipped unless STARTERD_TEST_DEB=1; .ci/run sets
# it.  Needs git, debhelper, lintian and the build dependencies of
# debian/control.  Every command is bounded by timeout(1).  Core Perl only.
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(rmtree);
use File::Temp qw(tempdir);
use lib dirname(__FILE__) . '/lib';
use StarterDeb;
use Test::More;

my $top = abs_path(dirname(__FILE__) . '/..');
my $srcdir = $ENV{TOP_SRCDIR} // $top;
my $limit = 900;	# seconds, per command

plan skip_all => 'slow: set STARTERD_TEST_DEB=1 to build the .deb'
    unless ($ENV{STARTERD_TEST_DEB} // '') eq '1';
for my $tool (qw(git dpkg-buildpackage dpkg-deb lintian timeout)) {
	plan skip_all => "$tool not found (apt-get install git devscripts " .
	    "debhelper lintian)"
	    unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}

sub run { return StarterDeb::run($_[0], $limit, @_[1 .. $#_]); }

my $tmp = tempdir('starterd-deb-XXXXXX', TMPDIR => 1);
END {
	if (defined $tmp) {
		if (Test::More->builder->is_passing) {
			rmtree($tmp);
		} else {
			diag("kept $tmp");
		}
	}
}

# ---------------------------------------------------------------- build

my $b = StarterDeb::build($srcdir, $tmp, $limit);
plan skip_all => "$srcdir is not a git checkout" if $b->{nogit};
ok($b->{copied}, 'source tree copied, debian/rules executable')
    or diag($b->{log});
ok($b->{ok}, 'dpkg-buildpackage -us -uc -b succeeds') or
    diag(substr($b->{log}, -4000));
note("build took $b->{seconds} s") if defined $b->{seconds};
my ($deb, $changes) = @$b{qw(deb changes)};
ok($deb, 'starterd_*.deb built') or BAIL_OUT('no .deb to check');
my ($rc, $out);

# ---------------------------------------------------------------- lintian

($rc, $out) = run($tmp, 'lintian', '--fail-on', 'error,warning',
    $changes // $deb);
is($rc, 0, 'lintian --fail-on error,warning is clean') or diag($out);
unlike($out, qr/^[EW]: /m, 'lintian reports no error and no warning')
    or diag($out);

# ---------------------------------------------------------------- contents

($rc, $out) = run($tmp, 'dpkg-deb', '-c', $deb);
is($rc, 0, 'dpkg-deb -c lists the package');
my %have;
for (split /\n/, $out) {
	my @f = split ' ';
	(my $p = $f[5] // '') =~ s{^\.}{};
	$have{$p} = $f[0] if length $p;
}
note("contents:\n  " . join("\n  ", sort keys %have));
for my $p (qw(/usr/sbin/starterd /usr/bin/starterctl)) {
	ok($have{$p} && $have{$p} =~ /^-rwxr-xr-x/, "$p installed, mode 0755");
}
ok(!$have{'/usr/bin/starterd'}, 'no starterd in /usr/bin');
ok(!$have{'/usr/sbin/starterctl'}, 'no starterctl in /usr/sbin');
my ($unit) = grep { m{/systemd/system/starterd\.service$} } keys %have;
ok($unit, 'systemd unit installed');
for my $p (qw(/usr/lib/sysusers.d/starterd.conf
    /usr/lib/tmpfiles.d/starterd.conf /etc/starterd/starterd.conf
    /etc/default/starterd /etc/logrotate.d/starterd
    /usr/share/man/man8/starterd.8.gz /usr/share/man/man8/starterctl.8.gz
    /usr/share/man/man5/starterd.conf.5.gz
    /usr/share/doc/starterd/copyright)) {
	ok($have{$p}, "$p installed");
}
ok(!grep({ /\.sample$/ } keys %have), 'no *.sample in the package');

# The files themselves.
($rc, $out) = run($tmp, 'dpkg-deb', '-x', $deb, "$tmp/root");
is($rc, 0, 'dpkg-deb -x unpacks the package');
sub slurp
{
	my ($f) = @_;
	open(my $fh, '<', $f) or return '';
	local $/;
	return scalar <$fh>;
}
my $ut = $unit ? slurp("$tmp/root$unit") : '';
like($ut, qr{^ExecStart=/usr/sbin/starterd$}m,
    'unit: ExecStart is /usr/sbin/starterd');
like($ut, qr{^ExecStartPre=/usr/sbin/starterd -t --test-config-only$}m,
    'unit: ExecStartPre checks the configuration (starterd -t)');
like($ut,
    qr{^ExecReload=/usr/sbin/starterd\ -t\ --test-config-only\n
    ExecReload=/bin/kill\ -HUP\ \$MAINPID$}mx,
    'unit: ExecReload checks the configuration, then sends SIGHUP');
my $conf = slurp("$tmp/root/etc/starterd/starterd.conf");
ok(length $conf, 'starterd.conf is not empty');
# The resource blocks are no settings: they declare the demo tables.
(my $settings = $conf) =~ s/^resource \S+ \{\n(?:.*\n)*?\}\n//mg;
is(scalar(grep { !/^\s*(#|$)/ } split /\n/, $settings), 0,
    'starterd.conf: every setting commented out');
like($conf, qr/^resource pxcodes \{$/m,
    'starterd.conf: declares the demo resource pxcodes');
my $lr = slurp("$tmp/root/etc/logrotate.d/starterd");
like($lr, qr{^/var/log/starterd/}m, 'logrotate: rotates /var/log/starterd');
like($lr, qr/postrotate\n(.*\n)*?.*kill -s USR1 --kill-whom=main starterd/m,
    'logrotate: postrotate sends SIGUSR1 to the master');
like(slurp("$tmp/root/usr/lib/sysusers.d/starterd.conf"),
    qr/^u\s+starterd\s/m, 'sysusers.d: creates the user starterd');

# ---------------------------------------------------------------- control

($rc, $out) = run($tmp, 'dpkg-deb', '-I', $deb, 'conffiles');
is($rc, 0, 'the control archive has conffiles') or diag($out);
my %conffile = map { $_ => 1 } split /\n/, $out;
for my $p (qw(/etc/starterd/starterd.conf /etc/default/starterd
    /etc/logrotate.d/starterd)) {
	ok($conffile{$p}, "$p is a conffile");
}
($rc, $out) = run($tmp, 'dpkg-deb', '-I', $deb, 'postinst');
like($out, qr/systemd-sysusers .*starterd\.conf/,
    'postinst creates the user (systemd-sysusers)');
($rc, $out) = run($tmp, 'dpkg-deb', '-f', $deb, 'Version');
is($out, "0.1.0-1\n", 'version 0.1.0-1');

done_testing();
