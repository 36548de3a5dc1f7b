# 087_ps: the DSN password never shows in ps, /proc/PID/cmdline or the
# logs, whether given with -d or --dsn-file (or in --read-dsn,
# --listen-dsn, their environment variables); setproctitle names the master
# and the workers.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $dir = StarterTest::basedir();
my $SECRET = 'S3cretPw' . int(rand(1e6));

sub cmdline
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/cmdline" or return '';
	local $/;
	my $s = <$fh> // '';
	close $fh;
	return $s;
}

sub ps_all
{
	my $r = run_cmd(['ps', '-eo', 'pid,args', '-ww']);
	return $r->{out};
}

sub check_hidden
{
	my ($srv, $what) = @_;
	my @w = $srv->worker_pids;
	is(scalar @w, 2, "$what: two workers");
	my $ps = ps_all();
	unlike($ps, qr/\Q$SECRET\E/, "$what: ps -ef does not show the password");
	my @lines = grep { /^\s*(\d+)\s/ && grep { $_ == $1 } $srv->pid, @w }
	    split /\n/, $ps;
	is(scalar @lines, 3, "$what: ps lists the master and both workers");
	like(join("\n", @lines), qr/starterd: master/, "$what: the master is "
	    . 'named "starterd: master"');
	like(join("\n", @lines), qr/starterd: worker 1\b/, "$what: workers are "
	    . 'named "starterd: worker N"');
	for my $p ($srv->pid, @w) {
		my $c = cmdline($p);
		ok(length $c, "$what: /proc/$p/cmdline readable");
		unlike($c, qr/\Q$SECRET\E/, "$what: /proc/$p/cmdline hides the "
		    . 'password');
		unlike($c, qr/postgresql:\/\//, "$what: /proc/$p/cmdline hides "
		    . 'the DSN');
	}
}

my $uri = "postgresql://starter:$SECRET\@127.0.0.1:" . $pg->port . '/starter';

# -d with a password in the URI (trust auth ignores it).
{
	my $srv = StarterTest::Server->new(dsn => $uri, workers => 2,
	    args => ['-l', 'debug']);
	is(request($srv, 'GET', '/api/v1.0/pxcodes/039',
	    auth => 'admin:admin')->{status}, 200, '-d URI: serving');
	check_hidden($srv, '-d');
	kill 'HUP', $srv->pid;		# a reload re-reads argv's copy
	ok(wait_until(sub { $srv->log_contents =~ /generation 1 serving/ },
	    timeout => 15), '-d: reloaded');
	ok(wait_until(sub { scalar($srv->worker_pids) == 2 }, timeout => 10),
	    '-d: two workers after the reload');
	check_hidden($srv, '-d after SIGHUP');
	$srv->stop;
	unlike($srv->log_contents, qr/\Q$SECRET\E/,
	    '-d: the password is not in the log (debug level)');
}

# --dsn-file.
{
	my $f = "$dir/dsn";
	open my $fh, '>', $f or die "$f: $!";
	print $fh "$uri\n";
	close $fh;
	chmod 0600, $f;
	my $srv = StarterTest::Server->new(workers => 2,
	    args => ['--dsn-file', $f, '-l', 'debug']);
	is(request($srv, 'GET', '/api/v1.0/pxcodes/039',
	    auth => 'admin:admin')->{status}, 200, '--dsn-file: serving');
	check_hidden($srv, '--dsn-file');
	$srv->stop;
	unlike($srv->log_contents, qr/\Q$SECRET\E/,
	    '--dsn-file: the password is not in the log');
}

# --read-dsn and --listen-dsn (flags, then the environment): hidden the
# same way, also when the read connection's server is unreachable.
{
	my $bad = "postgresql://starter:$SECRET\@127.0.0.1:"
	    . StarterTest::free_port() . '/starter';
	my $srv = StarterTest::Server->new(dsn => $uri, workers => 2,
	    args => ['--read-dsn', $bad, '--listen-dsn', $uri, '-l',
	    'debug']);
	is(request($srv, 'GET', '/api/v1.0/pxcodes/039',
	    auth => 'admin:admin')->{status}, 200,
	    '--read-dsn (unreachable) and --listen-dsn: serving');
	check_hidden($srv, '--read-dsn/--listen-dsn');
	$srv->stop;
	like($srv->log_contents, qr/database unavailable: read/,
	    'the read connection\'s failure is logged');
	unlike($srv->log_contents, qr/\Q$SECRET\E/,
	    '--read-dsn/--listen-dsn: the password is not in the log');

	$srv = StarterTest::Server->new(workers => 2, args => ['-l', 'debug'],
	    env => {STARTERD_DSN => $uri, STARTERD_READ_DSN => $uri,
	    STARTERD_LISTEN_DSN => $uri});
	is(request($srv, 'GET', '/api/v1.0/pxcodes/039',
	    auth => 'admin:admin')->{status}, 200,
	    'STARTERD_READ_DSN, STARTERD_LISTEN_DSN: serving');
	check_hidden($srv, 'the environment');
	$srv->stop;
	unlike($srv->log_contents, qr/\Q$SECRET\E/,
	    'environment: the password is not in the log');
}

# An unreachable database: the connection errors are logged, the password
# is not.
{
	my $bad = "postgresql://starter:$SECRET\@127.0.0.1:"
	    . StarterTest::free_port() . '/starter';
	my $srv = StarterTest::Server->new(dsn => $bad, workers => 2,
	    args => ['-l', 'debug']);
	my $r = request($srv, 'GET', '/api/v1.0/pxcodes/039',
	    auth => 'admin:admin');
	is($r->{status}, 503, 'database unreachable: 503');
	check_hidden($srv, 'unreachable database');
	$srv->stop;
	like($srv->log_contents, qr/database unavailable/,
	    'the connection failure is logged');
	unlike($srv->log_contents, qr/\Q$SECRET\E/,
	    'the password is not in that log');
}

done_testing();
