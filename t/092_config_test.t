# 092_config_test: starterd -t runs every startup check (binding included)
# and says each problem on one line, exit 1; fatal errors are one
# "fatal:" line; on systemd's journal stream (JOURNAL_STREAM names stderr)
# lines carry the sd-daemon priority <N> instead of "starterd[PID]: ";
# value errors name the program and the setting once; configuration
# errors exit 1, usage errors 2; database errors are one line.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use POSIX ();
use StarterTest;
use Test::More;
use Time::HiRes qw(time sleep);

my $BIN = top_builddir() . '/src/starterd';
my $CTL = top_builddir() . '/src/starterctl';
my $LOGT = top_builddir() . '/t/unit/log_test';
my $dir = StarterTest::basedir();

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);

# An empty configuration file: no default file is looked for.
my $conf = "$dir/empty.conf";
open my $fh, '>', $conf or die "$conf: $!";
close $fh;

my $BADDB = 'host=127.0.0.1 port=1 user=x dbname=x connect_timeout=3';
my %CLEAN = (map { $_ => undef } grep { /^STARTERD_|^JOURNAL_STREAM$/ }
    keys %ENV);
$CLEAN{DATABASE_URL} = undef;

# starterd ARGS with a clean environment; {rc, out, err, lines}.
sub sd
{
	my (%o) = @_;
	my $r = run_cmd([$o{bin} // $BIN, @{$o{args}}], timeout => 30,
	    env => { %CLEAN, %{$o{env} // {}} });
	$r->{lines} = [ split /\n/, $r->{err} ];
	return $r;
}

# -t with a good database and the empty file, plus ARGS.
sub t_args { return ('-t', '-d', $pg->dsn, '-f', $conf, @_); }

# One problem: exit 1, exactly one line on stderr matching $re.
sub one_line
{
	my ($name, $r, $re) = @_;
	is($r->{rc}, 1, "$name: exit 1") or diag($r->{err});
	is(scalar @{$r->{lines}}, 1, "$name: exactly one line")
	    or diag($r->{err});
	like($r->{lines}[0] // '', $re, "$name: the line names the problem");
	unlike($r->{err}, qr/\bok\b/, "$name: not reported ok");
}

# ---------------------------------------------------------------- -t: good

my $port = StarterTest::free_port();
my $r = sd(args => [ t_args('-p', $port) ]);
is($r->{rc}, 0, '-t good configuration: exit 0') or diag($r->{err});
is(scalar @{$r->{lines}}, 1, '-t good configuration: one line');
like($r->{err}, qr/^starterd: configuration \Q$conf\E is ok/,
    '-t good configuration: says ok');

# ---------------------------------------------------------------- -t: matrix

one_line('-t --rate-limit 5', sd(args => [ t_args('-p', $port,
    '--rate-limit', '5') ]),
    qr/^starterd: --rate-limit 5: expected N\/SECONDS or off$/);

one_line('-t -b nonsense', sd(args => [ t_args('-p', $port,
    '-b', 'nonsense') ]), qr/^starterd: listen nonsense: \S.*$/);

one_line('-t -u nosuchuser', sd(args => [ t_args('-p', $port,
    '-u', 'nosuchuser') ]), qr/^starterd: user nosuchuser: no such user$/);

one_line('-t --token-key-file missing', sd(args => [ t_args('-p', $port,
    '--token-key-file', "$dir/nokey") ]),
    qr/^starterd: token key file \Q$dir\E\/nokey: No such file or directory$/);

one_line('-t pidfile in a missing directory', sd(args => [ t_args('-p', $port,
    '-P', "$dir/nodir/starterd.pid") ]),
    qr/^starterd: pidfile \Q$dir\E\/nodir\/starterd\.pid: directory .*: No such file or directory$/);

one_line('-t access log in a missing directory', sd(args => [ t_args(
    '-p', $port, '-a', "$dir/nodir/access.log") ]),
    qr/^starterd: access log \Q$dir\E\/nodir\/access\.log: directory .*: No such file or directory$/);

one_line('-t -f a directory', sd(args => [ '-t', '-d', $pg->dsn, '-p', $port,
    '-f', $dir ]), qr/^starterd: config file \Q$dir\E: Is a directory$/);

SKIP: {
	my ($def) = `$BIN -h` =~ /--config file .*default (\S+)\]/;
	skip('the compiled-in default config file exists here', 8)
	    if !defined $def || -e $def;
	one_line('-t without -f, no default file', sd(args => [ '-t', '-d',
	    $pg->dsn, '-p', $port ]),
	    qr/^starterd: config file \Q$def\E: No such file or directory/);
	# Plain startup only warns (the environment may be all there is):
	# a bad value after it still fails with its own line.
	$r = sd(args => [ '-d', $pg->dsn, '-p', 'abc' ]);
	is($r->{rc}, 1, 'no default file, bad -p: exit 1');
	like($r->{lines}[0] // '', qr/^starterd: warning: config file \Q$def\E: No such file/,
	    'plain startup without the default file: a warning');
	is($r->{lines}[1] // '', 'starterd: --port: "abc" is invalid (1..65535)',
	    'then the value error');
}

{
	my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
	    LocalPort => 0, Proto => 'tcp', Listen => 5, ReuseAddr => 1)
	    or die "listen: $!";
	my $bp = $busy->sockport;
	one_line('-t port in use', sd(args => [ t_args('-p', $bp) ]),
	    qr/^starterd: listen 127\.0\.0\.1:$bp: Address already in use$/);

	# Plain startup on that port: one fatal line.
	$r = sd(args => [ '-d', $pg->dsn, '-f', $conf, '-p', $bp, '-w', '1' ]);
	is($r->{rc}, 1, 'busy port, plain startup: exit 1');
	is($r->{err}, "starterd: fatal: listen 127.0.0.1:$bp: "
	    . "Address already in use\n",
	    'busy port, plain startup: one fatal line');
	close $busy;
}

# The address held by this very starterd, running: -t before a reload.
{
	my $srv = StarterTest::Server->new(pg => $pg, workers => 1);
	$r = sd(args => [ t_args('-p', $srv->port) ]);
	is($r->{rc}, 0, '-t on the port of a running starterd: exit 0')
	    or diag($r->{err});
}

# Several problems: one line each.
$r = sd(args => [ '-t', '-d', $BADDB, '-f', $conf, '-p', $port,
    '--rate-limit', '5', '-u', 'nosuchuser' ]);
is($r->{rc}, 1, '-t three problems: exit 1');
is(scalar @{$r->{lines}}, 3, '-t three problems: three lines')
    or diag($r->{err});

# The database, one line (libpq says two).
one_line('-t unreachable database', sd(args => [ '-t', '-d', $BADDB,
    '-f', $conf, '-p', $port ]),
    qr/^starterd: database: connection to server .*refused; Is the server running/);

# The replicas' and the listener's connections are tried too, each
# named by its setting; good ones pass.
one_line('-t unreachable --read-dsn', sd(args => [ t_args('-p', $port,
    '--read-dsn', $BADDB) ]),
    qr/^starterd: database \(--read-dsn\): connection to server .*refused/);
one_line('-t unreachable --listen-dsn', sd(args => [ t_args('-p', $port,
    '--listen-dsn', $BADDB) ]),
    qr/^starterd: database \(--listen-dsn\): connection to server .*refused/);
$r = sd(args => [ t_args('-p', $port, '--read-dsn', $pg->dsn,
    '--listen-dsn', $pg->dsn) ]);
is($r->{rc}, 0, '-t with reachable --read-dsn and --listen-dsn: exit 0')
    or diag($r->{err});

# What the unit runs: everything but the database.
$r = sd(args => [ '-t', '--test-config-only', '-d', $BADDB, '-f', $conf,
    '-p', $port ]);
is($r->{rc}, 0, '-t --test-config-only, database away: exit 0');
like($r->{err}, qr/ok \(database not checked\)/,
    '-t --test-config-only says the database was not checked');
$r = sd(args => [ '-t', '--test-config-only', '-d', $BADDB, '-f', $conf,
    '-p', $port, '--rate-limit', '5' ]);
is($r->{rc}, 1, '-t --test-config-only still fails a bad value');

# ---------------------------------------------------------------- values, exits

$r = sd(args => [ '-f', $conf, '-p', 'abc' ]);
is($r->{rc}, 1, 'bad -p value: exit 1');
is($r->{err}, qq{starterd: --port: "abc" is invalid (1..65535)\n},
    'bad -p value: the program and the flag, once');

$r = sd(args => [ '-f', $conf ], env => { STARTERD_PORT => 'abc' });
is($r->{rc}, 1, 'bad STARTERD_PORT: exit 1');
is($r->{err}, qq{starterd: STARTERD_PORT: "abc" is invalid (1..65535)\n},
    'bad STARTERD_PORT: named once');

{
	my $bad = "$dir/bad.conf";
	open my $bf, '>', $bad or die;
	print $bf "# a comment\nport = abc\ncache_size = lots\n";
	close $bf;
	$r = sd(args => [ '-f', $bad ]);
	is($r->{rc}, 1, 'bad values in the file: exit 1');
	is($r->{err}, qq{starterd: $bad:2: port: "abc" is invalid (1..65535)\n}
	    . qq{starterd: $bad:3: cache_size: "lots" is not a size\n},
	    'bad values in the file: file:line and the key, each on its line');
}

$r = sd(args => [ '-f', "$dir/missing.conf" ]);
is($r->{rc}, 1, 'missing -f file: exit 1 (configuration error)');
is($r->{err}, "starterd: config file $dir/missing.conf: No such file or "
    . "directory\n", 'missing -f file: one line');
$r = sd(args => [ '--no-such-option' ]);
is($r->{rc}, 2, 'unknown option: exit 2 (usage error)');
like($r->{lines}[0], qr/^starterd: unknown option --no-such-option$/,
    'unknown option: named');
$r = sd(args => [ '--syslog=yes' ]);
is($r->{rc}, 2, 'a value for a flag without one: exit 2');
like($r->{lines}[0], qr/^starterd: option --syslog takes no value$/,
    'a value for a flag without one: said so (not "unknown option")');
$r = sd(args => [ '-p' ]);
is($r->{rc}, 2, 'missing value: exit 2');
$r = sd(args => [ 'stray' ]);
is($r->{rc}, 2, 'stray argument: exit 2');
$r = sd(args => [ '-V' ]);
is($r->{rc}, 0, '-V: exit 0');
like($r->{out}, qr/^starterd \S+$/, '-V: the version');
$r = sd(args => [ '-h' ]);
like($r->{out}, qr/^usage: starterd \[-\w*V\w*\]/, '-h usage names -V');

# ---------------------------------------------------------------- the journal

# Run with stderr to a file made first, JOURNAL_STREAM naming it (or not).
sub journal_run
{
	my ($match, $bin, @args) = @_;
	my $f = sprintf('%s/journal_%d.err', $dir, int(rand(1e9)));
	open my $o, '>', $f or die "$f: $!";
	close $o;
	my @st = stat($f);
	my $js = $match ? "$st[0]:$st[1]" : ($st[0] + 1) . ":$st[1]";
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		delete $ENV{$_} for keys %CLEAN;
		$ENV{JOURNAL_STREAM} = $js;
		open STDIN, '<', '/dev/null';
		open STDOUT, '>', '/dev/null';
		open STDERR, '>>', $f or POSIX::_exit(126);
		{ no warnings q(exec); exec { $bin } $bin, @args; }
		POSIX::_exit(127);
	}
	my $deadline = time + 30;
	while (waitpid($pid, POSIX::WNOHANG()) == 0) {
		if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); last; }
		sleep 0.02;
	}
	my $rc = $? >> 8;
	open my $i, '<', $f or die;
	local $/;
	my $s = <$i> // '';
	return ($rc, $s);
}

my ($rc, $out) = journal_run(1, $BIN, t_args('-p', $port, '-u', 'nosuchuser'));
is($rc, 1, 'journal: -t -u nosuchuser exits 1');
is($out, "<3>user nosuchuser: no such user\n",
    'journal: <3>, no starterd[PID]: prefix');
($rc, $out) = journal_run(0, $BIN, t_args('-p', $port, '-u', 'nosuchuser'));
is($out, "starterd: user nosuchuser: no such user\n",
    'JOURNAL_STREAM of another file: the plain prefix');
($rc, $out) = journal_run(1, $BIN, '-f', $conf, '-p', 'abc');
is($out, qq{<3>--port: "abc" is invalid (1..65535)\n},
    'journal: a value error is <3>');

# The log helpers themselves (src/base/log.c through t/unit/log_test).
($rc, $out) = journal_run(0, $LOGT, 'fatalx',
    'listen 127.0.0.1:5000: Address already in use');
is($rc, 1, 'fatalx exits 1');
is($out, "starterd: fatal: listen 127.0.0.1:5000: Address already in use\n",
    'fatalx: one line, the program, fatal:, the setting and the cause');
($rc, $out) = journal_run(0, $LOGT, 'fatal', 'listen 127.0.0.1:5000');
is($out, "starterd: fatal: listen 127.0.0.1:5000: Address already in use\n",
    'fatal: strerror appended, one line');
($rc, $out) = journal_run(1, $LOGT, 'fatalx', 'master', 'listen x: y');
is($out, "<3>master: fatal: listen x: y\n", 'journal: fatal is <3>');
($rc, $out) = journal_run(1, $LOGT, 'warnx', 'master', 'w');
is($out, "<4>master: warning: w\n", 'journal: warning is <4>');
($rc, $out) = journal_run(1, $LOGT, 'info', 'worker 1', 'i');
is($out, "<6>worker 1: i\n", 'journal: info is <6>');
($rc, $out) = journal_run(0, $LOGT, 'warnx', 'master', "two\nlines");
like($out, qr/^starterd\[\d+\]: master: warning: two lines\n\z/,
    'a newline in a message stays one line');

# ---------------------------------------------------------------- starterctl

$r = run_cmd([$CTL, '-d', $BADDB, 'users'], timeout => 30);
isnt($r->{rc}, 0, 'starterctl, unreachable database: fails');
is(scalar(split /\n/, $r->{err}), 1, 'starterctl database error: one line')
    or diag($r->{err});
# A server error (no schema in database postgres): libpq's "ERROR: ...",
# "LINE 1: ..." and the caret line come as one line.
(my $nodb = $pg->dsn) =~ s/dbname=\S+/dbname=postgres/;
$r = run_cmd([$CTL, '-d', $nodb, 'users'], timeout => 30);
isnt($r->{rc}, 0, 'starterctl users without the schema: fails');
like($r->{err}, qr/^starterctl: ERROR: .*does not exist; LINE 1: .*\^\n/m,
    'starterctl server error: ERROR and LINE on one line')
    or diag("rc $r->{rc} out [$r->{out}] err [$r->{err}]");
unlike($r->{err}, qr/^[^s]/m, 'starterctl: every line starts "starterctl:"')
    or diag($r->{err});

finish();
