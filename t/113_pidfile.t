# 113_pidfile: the pidfile a root-started master writes (issue 12).  It is
# opened with O_NOFOLLOW, only as a plain file with a single link, and
# handed to the unprivileged user through its descriptor (fchown), never by
# path: a pidfile path that is a symbolic (or hard) link to another file is
# refused, and that other file keeps its bytes and its owner.  Needs root
# (the case only arises when root writes into a directory others control).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;

plan skip_all => 'needs root' unless $> == 0;
my $nobody = getpwnam($StarterTest::NOBODY // 'nobody');
plan skip_all => 'no user nobody' unless defined $nobody;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $DIR = StarterTest::basedir();

sub slurp
{
	my ($f) = @_;
	open my $fh, '<', $f or return undef;
	local $/;
	my $s = <$fh>;
	close $fh;
	return $s;
}

sub precious
{
	my ($f) = @_;
	open my $fh, '>', $f or die "$f: $!";
	print $fh "precious\n";
	close $fh;
	chmod 0600, $f;
}

for my $kind (qw(symlink hardlink)) {
	my $target = "$DIR/$kind.target";
	my $pidfile = "$DIR/$kind.pid";
	precious($target);
	if ($kind eq 'symlink') {
		symlink $target, $pidfile or die "symlink: $!";
	} else {
		link $target, $pidfile or die "link: $!";
	}
	my $s = StarterTest::Server->new(pg => $pg, nowait => 1,
	    expect_fail => 1, args => ['-P', $pidfile]);
	ok($s->wait_exit(10), "$kind pidfile: the master exits");
	isnt($s->exit_status, 0, "$kind pidfile: non-zero exit status");
	like($s->log_contents, qr/pidfile.*(refus|link)/i,
	    "$kind pidfile: says why");
	is(slurp($target), "precious\n", "$kind pidfile: the other file keeps "
	    . 'its bytes');
	my @st = stat $target;
	is($st[4], 0, "$kind pidfile: the other file keeps its owner");
	is($st[2] & 07777, 0600, "$kind pidfile: and its mode");
}

# A plain pidfile: written, handed to nobody, removed at exit.
{
	my $pidfile = "$DIR/plain.pid";
	my $s = StarterTest::Server->new(pg => $pg, args => ['-P', $pidfile]);
	my $pid = slurp($pidfile) // '';
	chomp $pid;
	is($pid, $s->pid, 'plain pidfile: holds the master pid');
	my @st = stat $pidfile;
	is($st[4], $nobody, 'plain pidfile: owned by the unprivileged user');
	is($s->stop, 0, 'plain pidfile: the master exits with status 0');
	ok(!-e $pidfile, 'plain pidfile: removed at exit');
}

finish();
