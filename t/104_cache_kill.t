# 104_cache_kill: workers SIGKILLed in a loop under concurrent load for 30 s
# (issue 3, acceptance 5).  A worker may die at any moment, including while
# it holds a cache stripe's lock or writes an entry; the others must go on:
#   - no request hangs: every client request has a timeout, none expires
#     (a request on the killed worker loses its connection; that is
#     counted, and the client reconnects);
#   - the cache keeps serving: hits continue until the end, and the master's
#     shutdown line counts them;
#   - nothing stale is served: a writer PUTs increasing values and, after
#     each 200, publishes the acknowledged value; a GET sent by any reader
#     after it read that value must return it or a newer one.
# The writer PUTs with If-Match.  Without it the database value itself
# could go back: a PUT whose worker is killed after sending the UPDATE is
# still run by its PostgreSQL backend, possibly after the writer's next
# PUT went through another worker.  With If-Match that late UPDATE finds
# the row changed and does nothing, so the stored value only grows.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $DURATION = $ENV{KILL_SECONDS} // 30;
my $READERS = 3;
my $WORKERS = 6;
my $REQ_TIMEOUT = 5;		# a request unanswered this long has hung
my $MIN_AGE = 2.05;		# kill only workers older than this: younger
				# deaths count as a crash loop (back-off)

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
# No access log: ~100k requests would make the log slow to scan.
my $srv = StarterTest::Server->new(pg => $pg, workers => $WORKERS,
    args => [qw(-a off)]);

my $BASE = '/api/v1.0/pxcodes/';
my $CODE = 'KILL';
my $ITEM = "$BASE$CODE";
my $COLL = "$BASE?per_page=100&page=2";		# holds row 101: $CODE
my @AUTH = (auth => 'admin:admin');
my $DIR = StarterTest::basedir();
my $ACKED = "$DIR/acked";			# last acknowledged value

my $r = request($srv, 'POST', $BASE, @AUTH,
    headers => {'Content-Type' => 'application/json'},
    body => '{"pxcode":"KILL","procedure":"V 0"}');
is($r->{status}, 201, 'the item under test is created');

sub publish
{
	my ($n) = @_;
	open my $fh, '>', "$ACKED.tmp" or die "$ACKED.tmp: $!";
	print $fh "$n\n";
	close $fh;
	rename "$ACKED.tmp", $ACKED or die "rename: $!";
}

sub acked
{
	open my $fh, '<', $ACKED or return 0;
	my $n = <$fh> // 0;
	close $fh;
	chomp $n;
	return $n =~ /^\d+$/ ? $n : 0;
}
publish(0);

# The value in an item or collection answer (-1: not found in it).
sub value_of
{
	my ($r, $coll) = @_;
	my $j = $r->{json} // return -1;
	my $p;
	if ($coll) {
		($p) = map { $_->{procedure} }
		    grep { $_->{pxcode} eq $CODE } @{$j->{items} // []};
	} else {
		$p = $j->{procedure};
	}
	return defined $p && $p =~ /^V (\d+)$/ ? $1 : -1;
}

# Statistics a child reports back, one "key value" per line.
sub report
{
	my ($file, %st) = @_;
	open my $fh, '>', $file or POSIX::_exit(2);
	print $fh "$_ $st{$_}\n" for sort keys %st;
	close $fh;
}

# One request with a bounded wait on a keep-alive connection that is
# re-made when the server drops it.  Returns the response, or undef with
# $$why set to 'timeout' or 'closed'.
sub bounded_request
{
	my ($connref, $method, $path, $why, %o) = @_;
	my $c = $$connref;
	unless ($c && !$c->closed) {
		$c = eval { StarterTest::Conn->new($srv) };
		unless ($c) { $$why = 'connect'; return undef; }
		$$connref = $c;
	}
	$c->send(StarterTest::build_request($method, $path, @AUTH,
	    port => $srv->port, %o));
	my $r = $c->read_response(method => $method, timeout => $REQ_TIMEOUT);
	return $r if $r;
	$$why = $c->closed ? 'closed' : 'timeout';
	$c->close;
	$$connref = undef;
	return undef;
}

my $t_end = time + $DURATION;
my @kids;

# --- readers ------------------------------------------------------------------

for my $k (1 .. $READERS) {
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		my %st = (requests => 0, ok => 0, hits => 0, late_hits => 0,
		    timeouts => 0, closed => 0, connect => 0, stale => 0,
		    other => 0, maxlat => 0);
		my $conn;
		my $i = 0;
		while (time < $t_end) {
			my $coll = $i++ % 3 == 2;
			my $want = acked();	# read before sending
			my $t0 = time;
			my $why;
			my $r = bounded_request(\$conn, 'GET',
			    $coll ? $COLL : $ITEM, \$why);
			my $lat = time - $t0;
			$st{maxlat} = $lat if $lat > $st{maxlat};
			$st{requests}++;
			unless ($r) { $st{$why}++; next; }
			unless ($r->{status} == 200) {
				$st{other}++;
				$st{"status_$r->{status}"}++;
				next;
			}
			$st{ok}++;
			if (($r->{headers}{'cache-status'} // '')
			    =~ /;\s*hit\b/) {
				$st{hits}++;
				$st{late_hits}++ if time > $t_end - 5;
			}
			my $got = value_of($r, $coll);
			if ($got < $want) {
				$st{stale}++;
				$st{first_stale} //= ($coll ? 'collection'
				    : 'item') . " V $got after V $want acked";
			}
		}
		$st{first_stale} =~ s/ /_/g if $st{first_stale};
		report("$DIR/reader_$k", %st);
		POSIX::_exit(0);
	}
	push @kids, $pid;
}

# --- the writer -----------------------------------------------------------------

{
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		my %st = (requests => 0, acked => 0, timeouts => 0,
		    closed => 0, connect => 0, other => 0, stale => 0,
		    maxlat => 0);
		my ($conn, $rconn);
		my $n = 0;
		my $etag;
		while (time < $t_end) {
			my $why;
			unless (defined $etag) {
				my $g = bounded_request(\$conn, 'GET', $ITEM,
				    \$why);
				$etag = $g->{headers}{etag}
				    if $g && $g->{status} == 200;
				$st{refresh}++;
				next;
			}
			$n++;
			my $t0 = time;
			my $r = bounded_request(\$conn, 'PUT', $ITEM, \$why,
			    headers => {'Content-Type' => 'application/json',
			    'If-Match' => $etag},
			    body => qq({"pxcode":"$CODE","procedure":"V $n"}));
			my $lat = time - $t0;
			$st{maxlat} = $lat if $lat > $st{maxlat};
			$st{requests}++;
			unless ($r) {
				$st{$why}++;
				undef $etag;	# did it apply? ask
				next;
			}
			if ($r->{status} == 412) {
				# A lost PUT of ours applied after all.
				$st{lost_applied}++;
				undef $etag;
				next;
			}
			unless ($r->{status} == 200) {
				$st{other}++;
				$st{"status_$r->{status}"}++;
				undef $etag;
				next;
			}
			$etag = $r->{headers}{etag};
			$st{acked}++;
			publish($n);
			# Read it back on another connection (possibly
			# another worker): never older than what was acked.
			$r = bounded_request(\$rconn, 'GET', $ITEM, \$why);
			if ($r && $r->{status} == 200 && value_of($r) < $n) {
				$st{stale}++;
			}
			sleep 0.02;
		}
		report("$DIR/writer", %st);
		POSIX::_exit(0);
	}
	push @kids, $pid;
}

# --- the killer (this process) ---------------------------------------------------

my %seen;			# worker pid -> when first seen
my ($kills, $idle_ticks) = (0, 0);
while (time < $t_end - 0.5) {
	my $now = time;
	my @w = $srv->worker_pids;
	$seen{$_} //= $now for @w;
	my ($victim) = sort { $seen{$a} <=> $seen{$b} }
	    grep { $now - $seen{$_} >= $MIN_AGE } @w;
	if (defined $victim) {
		$kills++ if kill 'KILL', $victim;
	} else {
		$idle_ticks++;
	}
	sleep 0.3 + rand(0.2);
}

# --- results -----------------------------------------------------------------

my $all_done = 1;
for my $pid (@kids) {
	my $deadline = time + 2 * $REQ_TIMEOUT + 5;
	my $w;
	while (($w = waitpid($pid, WNOHANG)) == 0 && time < $deadline) {
		sleep 0.05;
	}
	if ($w == 0) {
		$all_done = 0;
		kill 'KILL', $pid;
		waitpid($pid, 0);
	}
}
ok($all_done, 'every client process finished in time');

sub read_report
{
	my ($file) = @_;
	my %st;
	open my $fh, '<', $file or return undef;
	while (<$fh>) {
		chomp;
		my ($k, $v) = split / /, $_, 2;
		$st{$k} = $v;
	}
	close $fh;
	return \%st;
}

my %sum;
my $maxlat = 0;
my @first_stale;
for my $k (1 .. $READERS) {
	my $st = read_report("$DIR/reader_$k");
	ok($st, "reader $k reported");
	next unless $st;
	$sum{$_} += $st->{$_} // 0 for grep { $_ ne 'first_stale' } keys %$st;
	$maxlat = $st->{maxlat} if $st->{maxlat} > $maxlat;
	push @first_stale, $st->{first_stale} if $st->{first_stale};
}
my $wr = read_report("$DIR/writer") // {};
ok(%$wr, 'the writer reported');

cmp_ok($kills, '>=', $DURATION * 1.5, "workers killed in a loop ($kills "
    . "SIGKILLs in $DURATION s)");
is($sum{timeouts} // -1, 0, 'readers: no request hung (timeouts: 0)');
is($wr->{timeouts} // -1, 0, 'writer: no request hung (timeouts: 0)');
is($sum{connect} // -1, 0, 'readers: every connection attempt succeeded');
cmp_ok($sum{ok} // 0, '>', 1000, "readers: requests answered 200 "
    . "($sum{ok} of $sum{requests})");
cmp_ok($sum{hits} // 0, '>', ($sum{ok} // 0) / 2,
    "readers: most answers were cache hits ($sum{hits})");
cmp_ok($sum{late_hits} // 0, '>', 0,
    "readers: the cache still served hits in the last 5 s ($sum{late_hits})");
is($sum{other} // -1, 0, 'readers: no answer other than 200')
    or diag(join ', ', map { "$_ $sum{$_}" } grep { /^status_/ }
    sort keys %sum);
is($sum{stale} // -1, 0, 'readers: nothing older than an acknowledged '
    . 'write was served') or diag("first stale: @first_stale");
cmp_ok($wr->{acked} // 0, '>', $DURATION * 5,
    "writer: PUTs acknowledged ($wr->{acked} of $wr->{requests})");
is($wr->{other} // -1, 0, 'writer: no PUT answered other than 200');
is($wr->{stale} // -1, 0, 'writer: its read-back never saw an older value');

diag(sprintf('%d kills in %d s; readers: %d requests, %d ok, %d hits, '
    . '%d lost with their worker, slowest %.0f ms; writer: %d PUTs, %d '
    . 'acked, %d lost, %d lost but applied, slowest %.0f ms', $kills, $DURATION,
    $sum{requests}, $sum{ok}, $sum{hits}, $sum{closed}, 1000 * $maxlat,
    $wr->{requests}, $wr->{acked}, $wr->{closed}, $wr->{lost_applied} // 0,
    1000 * $wr->{maxlat}));

# After the storm: all workers back, the value is the last acknowledged.
ok(wait_until(sub { scalar($srv->worker_pids) == $WORKERS }, timeout => 15),
    "all $WORKERS workers are back");
my $last = acked();
$r = request($srv, 'GET', $ITEM, @AUTH);
is(value_of($r), $pg->psql("SELECT substr(procedure, 3) FROM "
    . "starter_pxcodes WHERE pxcode = '$CODE'"),
    'after the storm: the item shows what the database holds');
cmp_ok(value_of($r), '>=', $last, 'after the storm: not older than the last '
    . 'acknowledged write');

my $st = $srv->stop;
is($st, 0, 'the master exits with status 0 on SIGTERM');
my ($line) = $srv->log_contents =~ /^(.*cache: \d+ hits.*)$/m;
ok($line, 'the master logs the cache counters at shutdown');
my ($hits) = ($line // '') =~ /cache: (\d+) hits/;
cmp_ok($hits // 0, '>', 0, 'the shutdown counters show hits');
diag("shutdown: $line") if $line;
my $kills_logged = () = $srv->log_contents =~ /killed by signal 9/g;
is($kills_logged, $kills, 'the master logged every SIGKILL');

finish();
