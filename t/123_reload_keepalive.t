#!/usr/bin/perl
# 123_reload_keepalive: reloads under keep-alive load fail no request.
# Four clients in tight keep-alive loops (each sends its next request as
# soon as it has the answer) while the master gets SIGHUP every 2 s for
# 20 s: every request is answered, and a connection is closed only after a
# response that said Connection: close (the retiring worker answers the
# next request on each connection with it, and closes an idle one only
# after a grace time), so no client ever needs to retry.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);

my $NCLIENTS = 4;
my $SECS = 20;
$SIG{PIPE} = 'IGNORE';

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $srv = StarterTest::Server->new(pg => $pg, workers => 2,
    args => ['--access-log', 'off', '--shutdown-timeout', '5']);

# One client: requests until the end time; prints its counts to $wr.
sub client
{
	my ($wr, $end) = @_;
	my ($ok, $bad, $closes, $reconnects, @why) = (0, 0, 0, 0);
	my $c;
	while (time < $end) {
		unless ($c) {
			$c = eval { StarterTest::Conn->new($srv) };
			unless ($c) {
				$bad++;
				push @why, "connect: $@";
				sleep 0.05;
				next;
			}
			$reconnects++;
		}
		my $r = $c->request('GET', '/healthz', timeout => 5);
		if (!$r->{status}) {	# none: closed or timed out
			$bad++;
			push @why, $r->{error} // 'no answer';
			$c->close;
			undef $c;
			next;
		}
		if ($r->{status} != 200) {
			$bad++;
			push @why, "status $r->{status}";
		} else {
			$ok++;
		}
		if (($r->{headers}{connection} // '') =~ /close/i) {
			$closes++;
			$c->close;
			undef $c;
		}
	}
	$c->close if $c;
	splice(@why, 5);
	print $wr "$ok $bad $closes $reconnects " . join('; ', @why) . "\n";
	close $wr;
}

my $end = time + $SECS;
my @kids;
for (1 .. $NCLIENTS) {
	pipe(my $rd, my $wr) or die "pipe: $!";
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		close $rd;
		eval { client($wr, $end) };
		POSIX::_exit(0);	# no END block: the server is ours
	}
	close $wr;
	push @kids, [$pid, $rd];
}
my $nhup = 0;
while (time < $end - 1) {
	sleep 2;
	kill 'HUP', $srv->pid;
	$nhup++;
}
my ($ok, $bad, $closes) = (0, 0, 0);
my @why;
for my $k (@kids) {
	my ($pid, $rd) = @$k;
	my $line = <$rd> // "0 1 0 0 the client died\n";
	waitpid($pid, 0);
	chomp $line;
	my ($o, $b, $cl, $rc, $w) = split / /, $line, 5;
	$ok += $o;
	$bad += $b;
	$closes += $cl;
	push @why, $w if $w;
}
cmp_ok($nhup, '>=', 8, "$nhup reloads in $SECS s");
cmp_ok($ok, '>', 100, "$ok requests answered 200 by $NCLIENTS "
    . 'keep-alive clients');
is($bad, 0, 'no request failed across the reloads')
    or diag(join("\n", @why));
cmp_ok($closes, '>=', $NCLIENTS, "$closes connections ended by a "
    . 'Connection: close answer (retiring workers)');
like($srv->log_contents, qr/reload: generation \d+/, 'the reloads happened');

StarterTest::finish();
