#!/usr/bin/perl
# 122_linger: a request answered early with an error (413 for a
# Content-Length over the limit, 401 for a body without credentials) is
# closed with a lingering close: the server reads and discards what the
# client still sends until it stops or the linger time passes, so the
# client, still sending its body, reads every response instead of losing
# them to a TCP reset.  A reset discards what the server's kernel has not
# sent yet: the client has a small receive buffer and pipelines a big GET
# first, so part of the answers is still queued when the error is sent.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Socket qw(:DEFAULT);
use MIME::Base64 qw(encode_base64);
use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use Time::HiRes qw(time sleep);

$SIG{PIPE} = 'IGNORE';
my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $srv = StarterTest::Server->new(pg => $pg, workers => 1,
    args => ['--access-log', 'off']);

# Send $head, then $len body bytes in small pieces with pauses (a client
# on a slow link), reading at the end only: returns what was read and the
# read error, if any.
sub send_then_read
{
	my ($head, $len) = @_;
	socket(my $fh, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
	setsockopt($fh, SOL_SOCKET, SO_RCVBUF, pack('i', 4096)) or die;
	connect($fh, sockaddr_in($srv->port, inet_aton('127.0.0.1')))
	    or die "connect: $!";
	bless $fh, 'IO::Handle';
	syswrite($fh, $head);
	$fh->blocking(0);
	my ($sent, $werr, $t0) = (0, undef, time);
	my $piece = 'x' x 16384;
	# Keep sending for about a second, after the server has answered.
	while ($sent < $len && time - $t0 < 1.2) {
		my $n = syswrite($fh, $piece);
		if (defined $n) {
			$sent += $n;
		} elsif ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) {
			$werr = "$!";
			last;
		}
		sleep 0.02;
	}
	$fh->blocking(1);
	my ($in, $rerr) = ('', undef);
	my $sel = IO::Select->new($fh);
	my $deadline = time + 5;
	while (time < $deadline && $sel->can_read(1)) {
		my $n = sysread($fh, my $b, 65536);
		if (!defined $n) { $rerr = "$!"; last; }
		last if $n == 0;
		$in .= $b;
	}
	close $fh;
	return ($in, $rerr, $werr);
}

my $big = "GET /api/v1.0/pxcodes/?per_page=100 HTTP/1.1\r\nHost: x\r\n"
    . 'Authorization: Basic ' . encode_base64('admin:admin', '') . "\r\n\r\n";
my $r0 = StarterTest::request($srv, 'GET', '/api/v1.0/pxcodes/?per_page=100',
    auth => 'admin:admin');
is($r0->{status}, 200, 'the big GET alone: 200');
ok(length($r0->{body}) > 8192, 'and its body is ' . length($r0->{body})
    . ' bytes');
for my $case (
    [413, "POST /api/v1.0/pxcodes/ HTTP/1.1\r\nHost: x\r\n"
	. "Content-Length: 5000000\r\n\r\n", 5000000, 'over the limit'],
    [401, "POST /api/v1.0/pxcodes/ HTTP/1.1\r\nHost: x\r\n"
	. "Content-Length: 1000000\r\n\r\n", 1000000, 'no credentials']) {
	my ($st, $head, $len, $what) = @$case;
	my ($in, $rerr, $werr) = send_then_read($big . $head, $len);
	my @r = StarterTest::parse_responses($in);
	ok(@r >= 1 && !$r[0]{incomplete} && $r[0]{status} == 200 &&
	    length($r[0]{body}) > 8192, "$what: the pipelined GET's 200 is "
	    . 'read whole');
	ok(@r >= 2 && !$r[1]{incomplete} && $r[1]{status} == $st,
	    "$what, still sending the body: the $st response is read whole"
	    . ($rerr ? " (read: $rerr)" : ''));
	ok(!defined $rerr, "$what: no reset before it was read")
	    or diag("read error: $rerr; write error: " . ($werr // 'none'));
}
is(StarterTest::request($srv, 'GET', '/healthz')->{status}, 200,
    'the worker serves on');

StarterTest::finish();
