# 110_kill_loop: serving workers SIGKILLed every 0.5 s for 30 s under
# keep-alive load (issue 12).  A worker that was serving is replaced at
# once (the crash-loop back-off is only for workers that die before they
# are ready), so the service always has live workers:
#   - no request takes over 1 s (a request on a new connection counts from
#     its connect);
#   - a request fails (connection closed or reset) only on a connection
#     that existed when a worker was killed: the killed worker may have
#     held it.  A failure on a connection opened after the last kill before
#     it, or a failed connect, is a failure of the test.
# Each client runs a tight loop on one keep-alive connection and reconnects
# when it is lost; which worker holds a connection need not be known.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $DURATION = $ENV{KILL_SECONDS} // 30;
my $CLIENTS = 6;
my $WORKERS = 4;
my $PERIOD = 0.5;
my $MAX_LAT = 1.0;
my $REQ_TIMEOUT = 3;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $srv = StarterTest::Server->new(pg => $pg, workers => $WORKERS,
    args => ['-a', $ENV{KILL_ACCESS_LOG} // 'off']);
my $DIR = StarterTest::basedir();
my @PATHS = ('/healthz', '/api/v1.0/pxcodes/039', '/readyz');
# A token: a new worker checks it without argon2 (a password would cost
# one argon2 verification in every new worker, which a loaded machine may
# stretch past the bound; that is not what this test measures).
my $tr = request($srv, 'GET', '/auth/request-token', auth => 'admin:admin');
my $TOKEN = ref $tr->{json} eq 'HASH' ? $tr->{json}{token} : '';
ok($TOKEN, 'a token is issued');
my %AUTHZ = (headers => {Authorization => "Bearer $TOKEN"});
is(request($srv, 'GET', $PATHS[1], %AUTHZ)->{status}, 200,
    'the item answers with the token');

my $t_end = time + $DURATION;
my @kids;
for my $k (1 .. $CLIENTS) {
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open my $out, '>', "$DIR/client_$k" or POSIX::_exit(2);
		my ($c, $t_open, $i) = (undef, 0, 0);
		my %st = (requests => 0, ok => 0, lost => 0, slow => 0,
		    maxlat => 0);
		while (time < $t_end) {
			my $t0 = time;
			unless ($c) {
				$t_open = $t0;
				$c = eval { StarterTest::Conn->new($srv) };
				unless ($c) {
					printf $out "fail %.6f %.6f connect\n",
					    $t_open, time;
					next;
				}
			} else {
				$t0 = time;
			}
			my $path = $PATHS[$i++ % @PATHS];
			$c->send(StarterTest::build_request('GET', $path,
			    %AUTHZ, port => $srv->port));
			my $r = $c->read_response(timeout => $REQ_TIMEOUT);
			my $lat = time - ($t0 < $t_open ? $t_open : $t0);
			$st{requests}++;
			$st{maxlat} = $lat if $lat > $st{maxlat};
			if ($lat > $MAX_LAT) {
				$st{slow}++;
				printf $out "slow %.6f %.3f %s\n", $t0, $lat,
				    $path;
			}
			if (!$r) {
				my $why = $c->closed ? 'closed' : 'timeout';
				printf $out "fail %.6f %.6f %s\n", $t_open,
				    time, $why;
				$st{lost}++;
				$c->close;
				undef $c;
				next;
			}
			$st{ok}++ if $r->{status} == 200;
			next if $r->{status} == 200;
			$st{"status_$r->{status}"}++;
			(my $body = substr($r->{body} // '', 0, 120)) =~
			    s/\s+/ /g;
			printf $out "status %.6f %d %s %s\n", $t0,
			    $r->{status}, $path, $body;
		}
		print $out "stat $_ $st{$_}\n" for sort keys %st;
		close $out;
		POSIX::_exit(0);
	}
	push @kids, $pid;
}

# The killer: every 0.5 s the oldest worker (so the one killed has been
# serving), each kill logged with the time just before and just after it.
my %seen;
my @kills;
while (time < $t_end - 0.5) {
	my $now = time;
	my @w = $srv->worker_pids;
	$seen{$_} //= $now for @w;
	my ($victim) = sort { $seen{$a} <=> $seen{$b} } @w;
	if (defined $victim) {
		my $k0 = time;
		push @kills, [$k0, time] if kill 'KILL', $victim;
	}
	sleep $PERIOD;
}

my $all_done = 1;
for my $pid (@kids) {
	my $deadline = time + $REQ_TIMEOUT + 5;
	my $w;
	sleep 0.05 while ($w = waitpid($pid, WNOHANG)) == 0 && time < $deadline;
	if ($w == 0) {
		$all_done = 0;
		kill 'KILL', $pid;
		waitpid($pid, 0);
	}
}
ok($all_done, 'every client finished in time');

my (%sum, @slow, @bad, @other);
my $legit = 0;
for my $k (1 .. $CLIENTS) {
	open my $fh, '<', "$DIR/client_$k" or do { fail("client $k report");
	    next; };
	while (<$fh>) {
		chomp;
		my @f = split / /;
		if ($f[0] eq 'stat') {
			if ($f[1] eq 'maxlat') {
				$sum{maxlat} = $f[2]
				    if $f[2] > ($sum{maxlat} // 0);
			} else {
				$sum{$f[1]} += $f[2];
			}
		} elsif ($f[0] eq 'status') {
			my (undef, $at, $code, $path, @body) = @f;
			push @other, "client $k: $code for $path at $at: @body";
		} elsif ($f[0] eq 'slow') {
			push @slow, "client $k: $f[3] at $f[1] took $f[2] s";
		} elsif ($f[0] eq 'fail') {
			my ($open, $at, $why) = @f[1 .. 3];
			# Held when a worker was killed: the kill came after
			# the connection was opened and before it failed.
			if ($why ne 'timeout' && $why ne 'connect' &&
			    grep { $_->[1] >= $open && $_->[0] <= $at } @kills) {
				$legit++;
			} else {
				push @bad, sprintf('client %d: %s on a '
				    . 'connection opened at %.3f, at %.3f; '
				    . 'last kill before it at %.3f', $k, $why,
				    $open, $at, (map { $_->[0] } grep {
				    $_->[0] <= $at } @kills)[-1] // 0);
			}
		}
	}
	close $fh;
}
cmp_ok(scalar @kills, '>=', $DURATION / $PERIOD * 0.8,
    sprintf('workers killed every %.1f s (%d SIGKILLs)', $PERIOD,
    scalar @kills));
cmp_ok($sum{ok} // 0, '>', $DURATION * 100,
    "requests answered 200 ($sum{ok} of $sum{requests})");
is(scalar @slow, 0, "no request took over $MAX_LAT s") or diag(join "\n",
    @slow[0 .. ($#slow > 19 ? 19 : $#slow)]);
is(scalar @bad, 0, 'requests failed only on connections a killed worker '
    . 'held') or diag(join "\n", @bad[0 .. ($#bad > 19 ? 19 : $#bad)]);
is(join(',', map { "$_ $sum{$_}" } grep { /^status_/ } sort keys %sum), '',
    'no answer other than 200') or diag(join "\n",
    @other[0 .. ($#other > 19 ? 19 : $#other)]);
diag(sprintf('%d kills; %d requests, %d ok, %d lost with a killed worker, '
    . '%d slow, %d bad failures, slowest %.0f ms', scalar @kills,
    $sum{requests} // 0, $sum{ok} // 0, $legit, scalar @slow, scalar @bad,
    1000 * ($sum{maxlat} // 0)));

ok(wait_until(sub { scalar($srv->worker_pids) == $WORKERS }, timeout => 10),
    "all $WORKERS workers are back");
unlike($srv->log_contents, qr/dying in a loop/,
    'no serving worker was held back as a crash loop');
finish();
