# 080_signals: SIGHUP reloads the configuration and replaces the workers
# under a steady request stream with no failed request; a bad file keeps
# the old configuration; SIGUSR1 reopens the access log; SIGTERM lets
# in-flight requests complete; SIGQUIT stops at once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use StarterLoad;
use Test::More;
use Time::HiRes qw(time sleep);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $dir = StarterTest::basedir();
my $conffile = "$dir/reload.conf";
my $alog1 = "$dir/access1.log";
my $alog2 = "$dir/access2.log";

sub write_conf
{
	my ($text) = @_;
	open my $fh, '>', "$conffile.tmp" or die "$conffile: $!";
	print $fh $text;
	close $fh;
	rename "$conffile.tmp", $conffile or die "rename: $!";
}

sub slurp
{
	my ($f) = @_;
	open my $fh, '<', $f or return '';
	local $/;
	my $s = <$fh> // '';
	close $fh;
	return $s;
}

sub lines_of { my $s = slurp($_[0]); return scalar(() = $s =~ /\n/g); }

# Workers of the master, waiting for the count to settle.
sub settled_workers
{
	my ($srv, $n) = @_;
	my $w = wait_until(sub { my @p = $srv->worker_pids;
	    @p == $n ? [@p] : undef }, timeout => 15);
	return $w ? @$w : ();
}

my $ITEM = '/api/v1.0/pxcodes/039';
my @AUTH = (auth => 'admin:admin');

write_conf("access_log = $alog1\nlog_level = info\n");
my $srv = StarterTest::Server->new(pg => $pg, workers => 2,
    args => ['-f', $conffile]);
is(request($srv, 'GET', $ITEM, @AUTH)->{status}, 200, 'serving at start');
ok(wait_until(sub { lines_of($alog1) >= 1 }, timeout => 5),
    'the access log from the config file is written');

# --- SIGHUP under a steady stream --------------------------------------------

{
	my @before = settled_workers($srv, 2);
	my $load = StarterLoad->start($srv, path => $ITEM,
	    auth => 'admin:admin');
	ok(wait_until(sub { $load->count >= 20 }, timeout => 10),
	    'the request stream is flowing');

	write_conf("access_log = $alog2\nlog_level = debug\n");
	ok(kill('HUP', $srv->pid), 'SIGHUP 1 (access_log and log_level '
	    . 'changed)');
	my @gen2 = @{wait_until(sub {
		my @p = $srv->worker_pids;
		return (@p == 2 && !grep { my $x = $_; grep { $_ == $x }
		    @before } @p) ? [@p] : undef;
	}, timeout => 20) // []};
	is(scalar @gen2, 2, 'SIGHUP 1: two new workers replaced the old ones');
	my $n2 = $load->count;
	ok(wait_until(sub { $load->count >= $n2 + 20 }, timeout => 10),
	    'SIGHUP 1: the stream goes on');

	for my $i (2, 3) {
		my @prev = $srv->worker_pids;
		ok(kill('HUP', $srv->pid), "SIGHUP $i");
		ok(wait_until(sub {
			my @p = $srv->worker_pids;
			return @p == 2 && !grep { my $x = $_;
			    grep { $_ == $x } @prev } @p;
		}, timeout => 20), "SIGHUP $i: workers replaced");
		my $n = $load->count;
		ok(wait_until(sub { $load->count >= $n + 20 }, timeout => 10),
		    "SIGHUP $i: the stream goes on");
	}
	my @r = $load->stop;
	my @bad = grep { $_->{status} != 200 } @r;
	my $retried = grep { $_->{retried} } @r;
	ok(@r >= 80, scalar(@r) . ' requests made across three reloads');
	is(scalar @bad, 0, 'SIGHUP under load: zero failed requests')
	    or diag(join "\n", map { "$_->{t} $_->{status} $_->{conn} "
	    . "$_->{error}" } @bad[0 .. ($#bad > 9 ? 9 : $#bad)]);
	note("$retried request(s) retried after an idle keep-alive "
	    . "connection was closed by a retiring worker");
	ok((grep { $_->{conn} eq 'ka' && !$_->{retried} } @r) > 20,
	    'keep-alive connections were reused during the test');

	my $log = $srv->log_contents;
	like($log, qr/reloading configuration/, 'the reload is logged');
	like($log, qr/reload: generation \d+ serving/,
	    'the new generation is logged as serving');
	like($log, qr/master: .*debug|worker \d+ started, pid/i,
	    'log_level = debug took effect (debug lines appear)');
	my $n1 = lines_of($alog2);
	ok($n1 > 0, "the new access_log path gets lines ($n1)");
	my $after = lines_of($alog1);
	request($srv, 'GET', '/healthz') for 1 .. 3;
	ok(wait_until(sub { lines_of($alog2) >= $n1 + 3 }, timeout => 5),
	    'new requests go to the new access log');
	is(lines_of($alog1), $after, 'the old access log gets no new lines');
}

# --- a bad configuration file keeps the old one ------------------------------

{
	my @before = settled_workers($srv, 2);
	write_conf("access_log = $alog2\nlog_level = loud\nworkers = x\n");
	my $len = length $srv->log_contents;
	ok(kill('HUP', $srv->pid), 'SIGHUP with an invalid file');
	ok(wait_until(sub { substr($srv->log_contents, $len) =~
	    /keeping the current one/ }, timeout => 5),
	    'the error is logged and the current configuration kept');
	sleep 0.5;
	is_deeply([sort $srv->worker_pids], [sort @before],
	    'the workers are not replaced');
	is(request($srv, 'GET', $ITEM, @AUTH)->{status}, 200,
	    'still serving after a bad reload');

	write_conf("access_log = $alog2\nlog_level = info\nuser = nobody\n");
	$len = length $srv->log_contents;
	kill 'HUP', $srv->pid;
	ok(wait_until(sub { substr($srv->log_contents, $len) =~
	    /user changed; it takes effect after a restart/ }, timeout => 5),
	    'a user change is reported as needing a restart');
	ok(wait_until(sub { request($srv, 'GET', $ITEM, @AUTH)->{status}
	    == 200 }, timeout => 10), 'still serving after that reload');
	settled_workers($srv, 2);
}

# --- SIGUSR1 reopens the access log -------------------------------------------

{
	my $rotated = "$alog2.1";
	ok(rename($alog2, $rotated), 'access log moved away (logrotate)');
	request($srv, 'GET', '/healthz');
	ok(kill('USR1', $srv->pid), 'SIGUSR1');
	sleep 0.5;
	my $old = lines_of($rotated);
	for (1 .. 6) {
		is(request($srv, 'GET', "/healthz")->{status}, 200,
		    "request $_ after SIGUSR1");
	}
	ok(wait_until(sub { -e $alog2 && lines_of($alog2) >= 6 },
	    timeout => 5), 'the access log is created again and gets the '
	    . 'new lines');
	is(lines_of($rotated), $old, 'the moved file gets no new lines');
}

# --- SIGTERM with requests in flight -------------------------------------------

# Hold an exclusive lock from psql so that requests wait in PostgreSQL.
sub hold_lock
{
	my ($pg, $secs) = @_;
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		my @cmd = ($pg->_psql_bin, '-X', '-q', '-h', $pg->host,
		    '-p', $pg->port, '-U', 'starter', '-d', 'starter', '-c',
		    "BEGIN; LOCK TABLE starter_pxcodes IN ACCESS EXCLUSIVE "
		    . "MODE; SELECT pg_sleep($secs); COMMIT;");
		open STDOUT, '>', '/dev/null';
		exec { $cmd[0] } @cmd or POSIX::_exit(127);
	}
	wait_until(sub { $pg->psql("SELECT count(*) FROM pg_locks l JOIN "
	    . "pg_class c ON c.oid = l.relation WHERE c.relname = "
	    . "'starter_pxcodes' AND l.mode = 'AccessExclusiveLock' AND "
	    . "l.granted") > 0 }, timeout => 10) or diag('lock not taken');
	return $pid;
}

{
	my @w = settled_workers($srv, 2);
	my $locker = hold_lock($pg, 2);
	my @conns;
	for my $i (1 .. 6) {
		my $c = StarterTest::Conn->new($srv);
		$c->send(build_request('GET', $ITEM, @AUTH));
		push @conns, $c;
	}
	sleep 0.5;
	my $t0 = time;
	ok(kill('TERM', $srv->pid), 'SIGTERM with 6 requests waiting on a '
	    . 'lock');
	my $ok = 0;
	for my $c (@conns) {
		my $r = $c->read_response(method => 'GET', timeout => 15);
		$ok++ if $r && $r->{status} == 200;
		$c->close;
	}
	is($ok, 6, 'every in-flight request completes with 200');
	ok($srv->wait_exit(15), 'the master exits after they complete');
	is($srv->exit_status, 0, 'exit status 0');
	ok(time - $t0 >= 1, sprintf('it waited for them (%.1f s)',
	    time - $t0));
	waitpid($locker, 0);
}

# --- SIGQUIT: immediate ---------------------------------------------------------

{
	my $srv2 = StarterTest::Server->new(pg => $pg, workers => 2);
	my $locker = hold_lock($pg, 3);
	my $c = StarterTest::Conn->new($srv2);
	$c->send(build_request('GET', $ITEM, @AUTH));
	sleep 0.3;
	my @w = $srv2->worker_pids;
	my $t0 = time;
	ok(kill('QUIT', $srv2->pid), 'SIGQUIT with a request waiting');
	ok($srv2->wait_exit(5), 'the master exits');
	ok(time - $t0 < 2.5, sprintf('at once (%.1f s), without waiting for '
	    . 'the request', time - $t0));
	ok(!grep({ kill 0, $_ } @w) || wait_until(sub { !grep { kill 0, $_ }
	    @w }, timeout => 3), 'the workers are gone');
	my $r = $c->read_response(method => 'GET', timeout => 3);
	ok(!$r, 'the waiting request got no response (immediate stop)');
	waitpid($locker, 0);
}

done_testing();
