# 152_pgbouncer: starterd through a real PgBouncer in transaction mode
# (--prepare unnamed: no protocol-level prepared statements there) with
# LISTEN on a direct --listen-dsn: reads (item, page, query language,
# counts), writes (POST, PATCH, PUT, DELETE, If-Match) and NOTIFY-driven
# invalidation of a change made behind starterd's back.  Skipped when
# pgbouncer is not installed (apt-get install pgbouncer).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time sleep);

my ($bouncer) = grep { -x } '/usr/sbin/pgbouncer', '/usr/bin/pgbouncer',
    map { "$_/pgbouncer" } split /:/, $ENV{PATH} // '';
plan skip_all => 'pgbouncer is not installed' unless $bouncer;

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $dir = StarterTest::basedir() . '/pgbouncer';
mkdir $dir or BAIL_OUT("mkdir $dir: $!");
my $port = StarterTest::free_port();
# Settings that a pooled server connection does not keep from starterd's
# own set_config (PgBouncer 1.18 tracks DateStyle and TimeZone only).
my $cq = "SET IntervalStyle = iso_8601; SET statement_timeout = 5000";
open my $fh, '>', "$dir/pgbouncer.ini" or die "$dir/pgbouncer.ini: $!";
print $fh <<"EOF";
[databases]
starter = host=127.0.0.1 port=@{[$pg->port]} dbname=starter user=starter connect_query='$cq'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = 3
max_client_conn = 100
server_reset_query =
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
close $fh;
if ($> == 0) {
	my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
	chown $uid, $gid, $dir, "$dir/pgbouncer.ini";
}

my $bpid = fork // die "fork: $!";
if ($bpid == 0) {
	open STDIN, '<', '/dev/null';
	open STDOUT, '>>', "$dir/stdout.log";
	open STDERR, '>&', \*STDOUT;
	my @cmd = ($bouncer, "$dir/pgbouncer.ini");
	@cmd = ('runuser', '-u', 'postgres', '--', @cmd) if $> == 0;
	exec @cmd or POSIX::_exit(127);
}
END {
	local $?;
	if ($bpid) {
		kill 'TERM', $bpid;
		waitpid($bpid, 0);
	}
}
ok(wait_until(sub {
	IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
	    Proto => 'tcp')
}, timeout => 10), 'pgbouncer listens');

my $srv = StarterTest::Server->new(
    dsn => "host=127.0.0.1 port=$port user=starter dbname=starter",
    workers => 2, args => ['--prepare', 'unnamed', '--listen-dsn', $pg->dsn,
    '-C', '8M']);
my $BASE = '/api/v1.0/pxcodes/';
my @AUTH = (auth => 'admin:admin');
my @JS = ('Content-Type' => 'application/json');
my $JSON = JSON::PP->new->canonical;

sub procedure_of
{
	my ($r) = @_;
	return undef unless $r->{status} == 200;
	my $d = eval { decode_json($r->{body}) } or return undef;
	return $d->{procedure};
}

my @codes = split /\n/, $pg->psql('SELECT pxcode FROM starter_pxcodes '
    . 'ORDER BY pxcode LIMIT 10');

# --- reads -------------------------------------------------------------------
for my $round (1 .. 3) {	# more than one pooled server connection
	for my $c (@codes[0 .. 5]) {
		my $r = request($srv, 'GET', "$BASE$c", @AUTH);
		is($r->{status}, 200, "round $round: GET $c");
	}
}
{
	my $r = request($srv, 'GET', "$BASE?per_page=5&page=2", @AUTH);
	is($r->{status}, 200, 'a page');
	my $d = eval { decode_json($r->{body}) } // {};
	is(scalar @{$d->{items} // []}, 5, '... of five items')
	    or diag($r->{body});
	$r = request($srv, 'GET', "$BASE?procedure=has.HEART&sort=-pxcode",
	    @AUTH, headers => ['Prefer' => 'count=exact']);
	is($r->{status}, 200, 'the query language, with a count');
	like($r->{body}, qr/HEART/i, '... finds rows');
	$r = request($srv, 'GET', "$BASE?per_page=3", @AUTH);
	my $next = ($r->{headers}{link} // '') =~ /<([^>]+)>;\s*rel="next"/
	    ? $1 : undef;
	ok(defined $next, 'a Link to the next page');
}

# --- writes ------------------------------------------------------------------
{
	my $r = request($srv, 'POST', $BASE, @AUTH, headers => [@JS],
	    body => $JSON->encode({pxcode => 'B152', procedure => 'POOLED'}));
	is($r->{status}, 201, 'POST through pgbouncer: 201')
	    or diag(explain_response($r));
	like($r->{headers}{'x-starterd-lsn'} // '', qr{^[0-9A-F]+/[0-9A-F]+$},
	    '... with its position');
	is($pg->psql("SELECT procedure FROM starter_pxcodes "
	    . "WHERE pxcode = 'B152'"), 'POOLED', '... committed');
	$r = request($srv, 'PATCH', "${BASE}B152", @AUTH, headers => [@JS],
	    body => '{"procedure":"PATCHED"}');
	is(procedure_of($r), 'PATCHED', 'PATCH');
	my $etag = $r->{headers}{etag};
	$r = request($srv, 'PUT', "${BASE}B152", @AUTH,
	    headers => [@JS, 'If-Match' => $etag],
	    body => '{"procedure":"PUT WITH IF-MATCH"}');
	is(procedure_of($r), 'PUT WITH IF-MATCH', 'PUT with If-Match');
	$r = request($srv, 'PUT', "${BASE}B152", @AUTH,
	    headers => [@JS, 'If-Match' => $etag],
	    body => '{"procedure":"STALE"}');
	is($r->{status}, 412, 'PUT with a stale If-Match: 412');
	$r = request($srv, 'POST', $BASE, @AUTH, headers => [@JS],
	    body => $JSON->encode({pxcode => 'B152', procedure => 'AGAIN'}));
	is($r->{status}, 409, 'a taken key: 409');
	$r = request($srv, 'DELETE', "${BASE}B152", @AUTH);
	is($r->{status}, 204, 'DELETE');
	is(request($srv, 'GET', "${BASE}B152", @AUTH)->{status}, 404,
	    '... gone');
	# Many writes at once: batches through the pooler.
	my @c = map { StarterTest::Conn->new($srv) } 1 .. 8;
	for my $i (0 .. $#c) {
		$c[$i]->send(build_request('PATCH', "$BASE$codes[$i]",
		    port => $srv->port, @AUTH, headers => [@JS],
		    body => "{\"procedure\":\"BATCH $i\"}"));
	}
	my $good = 0;
	for my $i (0 .. $#c) {
		my $r = $c[$i]->read_response(method => 'PATCH');
		$good++ if $r && $r->{status} == 200;
		$c[$i]->close;
	}
	is($good, 8, 'eight concurrent PATCHes: 200');
	is($pg->psql("SELECT count(*) FROM starter_pxcodes "
	    . "WHERE procedure LIKE 'BATCH %'"), 8, '... all committed');
}

# --- NOTIFY invalidation through the direct listening connection -----------
{
	my $c = $codes[9];
	ok(wait_until(sub { (request($srv, 'GET', "$BASE$c", @AUTH)->{headers}
	    {'cache-status'} // '') =~ /; hit/ }, timeout => 5),
	    'a cached item');
	$pg->psql("UPDATE starter_pxcodes SET procedure = 'BEHIND ITS BACK' "
	    . "WHERE pxcode = '$c'");
	ok(wait_until(sub {
		(procedure_of(request($srv, 'GET', "$BASE$c", @AUTH)) // '')
		    eq 'BEHIND ITS BACK'
	}, timeout => 5), 'a change made with psql is seen (NOTIFY heard)');
}

my $blog = do { local (@ARGV, $/) = ("$dir/pgbouncer.log"); <> // '' };
like($blog, qr/login attempt: db=starter user=starter/,
    'the connections went through pgbouncer');
$srv->stop;
unlike($srv->log_contents, qr/prepared statement|database error/,
    'no prepared-statement or database error in the log');
finish();
