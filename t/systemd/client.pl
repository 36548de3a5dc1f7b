#!/usr/bin/perl
# t/systemd/client.pl: the HTTP client of t/systemd/systemd.t, copied into
# the container and run there against starterd on its loopback.  Core Perl
# only (HTTP::Tiny), every request bounded by a timeout.
#
#   client.pl load SECONDS STOPFILE
#	Four clients, two on keep-alive connections and two opening a new
#	connection per request, alternating GET /healthz and an
#	authenticated GET of an item, until STOPFILE exists or SECONDS
#	pass.  Each request is a line of /tmp/load.N.log ("STATUS PATH"),
#	which the test counts while it runs.  At the end one line
#	"requests N failed M", then each failure.  Like any HTTP client
#	(RFC 9112 9.3.1), HTTP::Tiny retries an idempotent request once
#	when a reused keep-alive connection was closed before the response.
#   client.pl inflight PATH...
#	One authenticated GET of each PATH, all at once; a line "STATUS
#	PATH" each, in the order given.
#
# Environment: PORT (default 5000), AUTH (user:password, default
# admin:admin).
use strict;
use warnings;
use HTTP::Tiny;
use MIME::Base64 qw(encode_base64);
use POSIX ();
use Time::HiRes qw(time sleep);

my $base = 'http://127.0.0.1:' . ($ENV{PORT} // 5000);
my $auth = 'Basic ' . encode_base64($ENV{AUTH} // 'admin:admin', '');
my $ITEM = '/api/v1.0/pxcodes/039';

sub get
{
	my ($ua, $path) = @_;
	my $r = $ua->get($base . $path,
	    { headers => { Authorization => $auth } });
	my $why = $r->{status} == 599 ? $r->{content} : $r->{reason};
	$why =~ s/\s+/ /g;
	return ($r->{status}, $why);
}

sub load
{
	my ($secs, $stop) = @_;
	my $deadline = time + $secs;
	my @kids;
	for my $n (1 .. 4) {
		my $pid = fork // die "fork: $!\n";
		if ($pid == 0) {
			my $ua = HTTP::Tiny->new(timeout => 15,
			    keep_alive => $n <= 2 ? 1 : 0);
			open my $log, '>', "/tmp/load.$n.log"
			    or POSIX::_exit(2);
			$log->autoflush(1);
			my $i = 0;
			while (time < $deadline && !-e $stop) {
				my $path = $i++ % 2 ? $ITEM : '/healthz';
				my ($st, $why) = get($ua, $path);
				print $log "$st $path $why\n";
			}
			close $log;
			POSIX::_exit(0);
		}
		push @kids, $pid;
	}
	waitpid($_, 0) for @kids;
	my ($n, @failed) = (0);
	for my $f (map { "/tmp/load.$_.log" } 1 .. 4) {
		open my $fh, '<', $f or die "$f: $!\n";
		while (my $l = <$fh>) {
			$n++;
			push @failed, $l unless $l =~ /^200 /;
		}
		close $fh;
	}
	printf "requests %d failed %d\n", $n, scalar @failed;
	print @failed;
}

sub inflight
{
	my @paths = @_;
	my @kids;
	for my $i (0 .. $#paths) {
		my $pid = fork // die "fork: $!\n";
		if ($pid == 0) {
			my $ua = HTTP::Tiny->new(timeout => 30,
			    keep_alive => 0);
			my ($st, $why) = get($ua, $paths[$i]);
			open my $o, '>', "/tmp/inflight.$i" or POSIX::_exit(2);
			print $o "$st $paths[$i] $why\n";
			close $o;
			POSIX::_exit(0);
		}
		push @kids, $pid;
	}
	waitpid($_, 0) for @kids;
	for my $i (0 .. $#paths) {
		open my $fh, '<', "/tmp/inflight.$i" or
		    do { print "0 $paths[$i] no result\n"; next; };
		print scalar <$fh>;
		close $fh;
	}
}

$| = 1;
my $mode = shift // '';
if ($mode eq 'load' && @ARGV == 2) {
	load(@ARGV);
} elsif ($mode eq 'inflight' && @ARGV) {
	inflight(@ARGV);
} else {
	die "usage: client.pl load SECONDS STOPFILE | inflight PATH...\n";
}
