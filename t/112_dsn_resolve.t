# 112_dsn_resolve: a DSN's host name is resolved off the event loop
# (issue 12; data/db.c).  libpq would resolve it inside
# PQconnectStartParams, on the loop, so a slow resolver stalled every
# client of the worker.  Checked here, each with one worker:
#   - a name host (localhost) still connects, and serves;
#   - a name that does not resolve: /readyz 503, /healthz answered at once;
#   - a resolver that does not answer at all: glibc reads the file named by
#     HOSTALIASES for a one-label name before asking DNS, and that file is
#     a FIFO nobody writes, so the lookup blocks for as long as the test
#     runs.  The worker must answer /healthz within 200 ms throughout, say
#     503 on /readyz, and give the attempt up at the connect timeout.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);

my $FAST = 0.2;
my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $DIR = StarterTest::basedir();
my $tail = sprintf('port=%d user=%s dbname=%s', $pg->port, $pg->{user},
    $pg->{dbname});

# /healthz for $secs: (requests, the slow or failed ones); /readyz too.
sub probe
{
	my ($srv, $secs) = @_;
	my ($n, $ready, $max, @bad) = (0, 0, 0);
	my $end = time + $secs;
	while (time < $end) {
		my $t0 = time;
		my $r = request($srv, 'GET', '/healthz', timeout => 2);
		my $lat = time - $t0;
		$max = $lat if $lat > $max;
		$n++;
		push @bad, sprintf('/healthz: %s after %.0f ms',
		    $r->{status} || 'no answer', 1000 * $lat)
		    if $r->{status} != 200 || $lat > $FAST;
		# /readyz may wait for the attempt: now and then only.
		$ready++ if $n % 10 == 1 && request($srv, 'GET', '/readyz',
		    timeout => 2)->{status} == 200;
		sleep 0.02;
	}
	return ($n, $ready, $max, @bad);
}

# A name that resolves.
{
	my $s = StarterTest::Server->new(dsn => "host=localhost $tail",
	    workers => 1);
	ok(wait_until(sub { request($s, 'GET', '/readyz')->{status} == 200 },
	    timeout => 10), 'host=localhost: /readyz 200');
	is(request($s, 'GET', '/api/v1.0/pxcodes/039', auth => 'admin:admin')
	    ->{status}, 200, 'host=localhost: the API answers from the database');
	$s->stop;
}

# A name that does not resolve.
{
	my $s = StarterTest::Server->new(
	    dsn => "host=starterd-no-such-host.invalid $tail", workers => 1);
	my ($n, $ready, $max, @bad) = probe($s, 1.5);
	is($ready, 0, 'an unresolvable host: /readyz 503');
	is(scalar @bad, 0, sprintf('an unresolvable host: /healthz within %d '
	    . 'ms (%d requests, slowest %.0f ms)', 1000 * $FAST, $n,
	    1000 * $max)) or diag(join "\n", @bad[0 .. ($#bad > 9 ? 9 : $#bad)]);
	like($s->log_contents, qr/could not translate host name/,
	    'an unresolvable host: the log says so');
	$s->stop;
}

# A resolver that never answers.
{
	my $fifo = "$DIR/hostaliases";
	POSIX::mkfifo($fifo, 0666) or die "mkfifo: $!";
	chmod 0666, $fifo;
	my $s = StarterTest::Server->new(dsn => "host=starterdslowdb $tail",
	    workers => 1, nowait => 1, env => {HOSTALIASES => $fifo});
	ok(wait_until(sub { eval { request($s, 'GET', '/healthz',
	    timeout => 1)->{status} == 200 } }, timeout => 5),
	    'a hung resolver: the worker answers /healthz');
	my ($n, $ready, $max, @bad) = probe($s, 6);
	is($ready, 0, 'a hung resolver: /readyz 503');
	is(scalar @bad, 0, sprintf('a hung resolver: /healthz within %d ms '
	    . 'throughout (%d requests over 6 s, slowest %.0f ms)',
	    1000 * $FAST, $n, 1000 * $max))
	    or diag(join "\n", @bad[0 .. ($#bad > 9 ? 9 : $#bad)]);
	like($s->log_contents, qr/timed out resolving the host name/,
	    'a hung resolver: the attempt is given up at the connect timeout');
	unlike($s->log_contents, qr/has not run its loop/,
	    'a hung resolver: the worker was never stuck');
	is($s->stop, 0, 'a hung resolver: the master stops with status 0');
}

finish();
