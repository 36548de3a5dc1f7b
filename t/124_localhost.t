# 124_localhost: -b localhost is the loopback (RFC 6761), both 127.0.0.1 and
# ::1, whatever the hosts file lists (issue 13); -t agrees.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use IO::Socket::IP;
use Socket qw(AF_INET6);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);

# Is there an IPv6 loopback to bind here (containers may have none)?
my $v6 = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0,
    Listen => 1, Family => AF_INET6);
my $have_v6 = defined $v6;
undef $v6;

my $port = StarterTest::free_port();
my $t = StarterTest::run_cmd([StarterTest::top_builddir() . '/src/starterd',
    '-t', '--test-config-only', '-f', '/dev/null', '-b', 'localhost',
    '-p', $port]);
is($t->{rc}, 0, '-t -b localhost: ok') or diag($t->{out} . $t->{err});

my $srv = StarterTest::Server->new(pg => $pg, listen => 'localhost',
    port => $port);
like($srv->log_contents, qr/listening on 127\.0\.0\.1:\Q$port\E/,
    'localhost: 127.0.0.1 is bound');
my $r = request($srv, 'GET', '/healthz');
is($r->{status}, 200, 'localhost: 127.0.0.1 answers');
SKIP: {
	skip 'no IPv6 loopback here', 3 unless $have_v6;
	like($srv->log_contents, qr/listening on \[::1\]:\Q$port\E/,
	    'localhost: ::1 is bound too');
	my $s = IO::Socket::IP->new(PeerHost => '::1', PeerPort => $port,
	    Timeout => 5);
	ok($s, 'localhost: ::1 accepts a connection') or diag("$@");
	if ($s) {
		print $s "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
		local $/;
		my $resp = <$s>;
		like($resp // '', qr{^HTTP/1\.1 200 }, 'localhost: ::1 answers');
	} else {
		fail('localhost: ::1 answers');
	}
}
done_testing();
