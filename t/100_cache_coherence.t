# 100_cache_coherence: changes made behind starterd's back with psql
# (INSERT, UPDATE, DELETE, TRUNCATE, COPY) are seen by the next GET through
# starterd within 100 ms, although the item and the collection page were
# cache hits just before the change (issue 3, acceptance 1).
#
# The writes go through one long-lived psql reading its stdin, so that the
# moment a change is committed is known to the millisecond: psql prints a
# marker (\echo) only after the statement before it has completed.  From
# that moment the item and the collection are polled every ~5 ms over two
# keep-alive connections; the delay until each shows the change is
# recorded, must stay under 100 ms, and its median is reported.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;
use IO::Select;
use IPC::Open2;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

my $LIMIT = 0.100;		# seconds: the acceptance bound
my $GIVE_UP = 2;		# seconds: stop polling (the test then fails)
my $POLL = 0.005;		# seconds between polls

my $pg = StarterTest::Pg->new;
StarterTest::setup_db($pg);
my $srv = StarterTest::Server->new(pg => $pg, workers => 2);

my $BASE = '/api/v1.0/pxcodes/';
my $COLL = "$BASE?per_page=100&page=1";
my @AUTH = (auth => 'admin:admin');

# --- a psql session kept open -------------------------------------------------

my ($psql_out, $psql_in);
my $psql_pid = open2($psql_out, $psql_in, $pg->_psql_bin, '-X', '-q', '-At',
    '-v', 'ON_ERROR_STOP=1', '-h', $pg->host, '-p', $pg->port,
    '-U', 'starter', '-d', 'starter');
$psql_in->autoflush(1);
my $psql_buf = '';
my $marker = 0;

END {
	local $?;	# keep the exit status of the test
	if ($psql_pid) {
		kill 'KILL', $psql_pid;
		waitpid($psql_pid, 0);
	}
}

# Run SQL (autocommit) and wait until psql has completed it.  Returns the
# output before the marker, or undef on timeout or psql's death.
sub psql_do
{
	my ($sql) = @_;
	my $m = 'ACK_' . ++$marker;
	print $psql_in "$sql\n\\echo $m\n";
	my $sel = IO::Select->new($psql_out);
	my $deadline = time + 20;
	while (1) {
		if ($psql_buf =~ s/\A(.*?)^\Q$m\E\n//ms) {
			return $1;
		}
		my $left = $deadline - time;
		return undef if $left <= 0;
		next unless $sel->can_read($left);
		my $n = sysread($psql_out, my $chunk, 65536);
		return undef unless $n;
		$psql_buf .= $chunk;
	}
}

ok(defined psql_do('SELECT 1;'), 'psql session answers');

# --- pollers ----------------------------------------------------------------

my %conn = (item => undef, coll => undef);

sub conn_get
{
	my ($which, $path) = @_;
	for (1 .. 2) {
		$conn{$which} //= StarterTest::Conn->new($srv);
		my $r = $conn{$which}->request('GET', $path, @AUTH,
		    timeout => 5);
		return $r if $r->{status};
		$conn{$which}->close;
		$conn{$which} = undef;	# the server closed it: reconnect
	}
	return {status => 0, headers => {}, body => ''};
}

sub cache_status { return $_[0]{headers}{'cache-status'} // ''; }

# Warm a path: GET it until the answer is a cache hit (the second GET).
# Returns that response.
sub warm
{
	my ($which, $path) = @_;
	my $r;
	for (1 .. 3) {
		$r = conn_get($which, $path);
		last if cache_status($r) =~ /;\s*hit\b/;
	}
	return $r;
}

sub total { return ($_[0]{json} // {})->{meta}{total}; }

sub coll_proc
{
	my ($r, $code) = @_;
	for my $it (@{($r->{json} // {})->{items} // []}) {
		return $it->{procedure} if $it->{pxcode} eq $code;
	}
	return undef;
}

my (@delays, %by_op);

# change($name, $sql, item => [path, pred], coll => pred, warm_item => 1)
# Warms the item and the collection (both must be hits), runs $sql, then
# polls both until their predicates hold; records the delays.
sub change
{
	my ($name, $sql, %o) = @_;
	my ($ipath, $ipred) = @{$o{item}};
	my $cpred = $o{coll};

	my $ir = warm('item', $ipath);
	my $cr = warm('coll', $COLL);
	if ($o{item_hit}) {
		like(cache_status($ir), qr/^starterd; hit$/,
		    "$name: item $ipath was a cache hit before the change")
		    or diag(explain_response($ir));
	}
	like(cache_status($cr), qr/^starterd; hit$/,
	    "$name: collection was a cache hit before the change")
	    or diag(explain_response($cr));
	ok(!$ipred->($ir), "$name: item does not show the change yet");
	ok(!$cpred->($cr), "$name: collection does not show the change yet");

	my $out = psql_do($sql);
	my $t0 = time;
	ok(defined $out, "$name: committed with psql");

	my %seen;
	my %last;
	while (time - $t0 < $GIVE_UP) {
		# Both requests in flight at once, then both answers.
		for my $w (grep { !$seen{$_} } qw(item coll)) {
			$conn{$w} //= StarterTest::Conn->new($srv);
			$conn{$w}->send(StarterTest::build_request('GET',
			    $w eq 'item' ? $ipath : $COLL, @AUTH,
			    port => $srv->port));
		}
		for my $w (grep { !$seen{$_} } qw(item coll)) {
			my $r = $conn{$w}->read_response(method => 'GET',
			    timeout => 5);
			unless ($r) {
				$conn{$w}->close;
				$conn{$w} = undef;
				next;
			}
			$last{$w} = $r;
			my $p = $w eq 'item' ? $ipred : $cpred;
			$seen{$w} = time - $t0 if $p->($r);
		}
		last if $seen{item} && $seen{coll};
		sleep $POLL;
	}
	for my $w (qw(item coll)) {
		my $what = $w eq 'item' ? "item $ipath" : 'collection';
		ok(defined $seen{$w}, "$name: $what shows the change")
		    or diag('last answer: ' . explain_response($last{$w}));
		next unless defined $seen{$w};
		cmp_ok($seen{$w}, '<', $LIMIT, sprintf(
		    "$name: $what shows it within 100 ms (%.1f ms)",
		    1000 * $seen{$w}));
		push @delays, $seen{$w};
		push @{$by_op{(split ' ', $name)[0]}}, $seen{$w};
	}
}

sub median
{
	my @s = sort { $a <=> $b } @_;
	return undef unless @s;
	return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

# The demo row whose procedure the UPDATEs change, and its first value.
my $CODE = '039';
my $orig = $pg->psql("SELECT procedure FROM starter_pxcodes "
    . "WHERE pxcode = '$CODE'");
ok(length $orig, "demo row $CODE exists");

my $N = scalar @{$pg->psql_rows('SELECT 1 FROM starter_pxcodes')};
is($N, 100, 'demo data: 100 rows');

for my $i (1 .. 5) {
	# INSERT: a new code appears, the total grows.
	my $code = "CC$i";
	my $n = $N;
	change("INSERT #$i", "INSERT INTO starter_pxcodes (pxcode, procedure) "
	    . "VALUES ('$code', 'INSERTED $i');",
	    item => ["$BASE$code", sub { $_[0]{status} == 200
	    && ($_[0]{json}{procedure} // '') eq "INSERTED $i" }],
	    coll => sub { (total($_[0]) // -1) == $n + 1 });
	$N++;

	# UPDATE: the item and its line in the collection change.
	my $v = "UPDATED BY PSQL $i";
	change("UPDATE #$i", "UPDATE starter_pxcodes SET procedure = '$v' "
	    . "WHERE pxcode = '$CODE';",
	    item => ["$BASE$CODE", sub { ($_[0]{json}{procedure} // '')
	    eq $v }], item_hit => 1,
	    coll => sub { (coll_proc($_[0], $CODE) // '') eq $v });

	# DELETE: the item is gone, the total shrinks.
	$n = $N;
	change("DELETE #$i", "DELETE FROM starter_pxcodes "
	    . "WHERE pxcode = '$code';",
	    item => ["$BASE$code", sub { $_[0]{status} == 404 }],
	    item_hit => 1,
	    coll => sub { (total($_[0]) // -1) == $n - 1 });
	$N--;

	# COPY: rows loaded in bulk appear.
	$n = $N;
	change("COPY #$i", "COPY starter_pxcodes (pxcode, procedure) "
	    . "FROM STDIN;\nK${i}a\tCOPIED $i A\nK${i}b\tCOPIED $i B\n\\.",
	    item => ["${BASE}K${i}b", sub { $_[0]{status} == 200
	    && ($_[0]{json}{procedure} // '') eq "COPIED $i B" }],
	    coll => sub { (total($_[0]) // -1) == $n + 2 });
	$N += 2;
}

# TRUNCATE: everything is gone; then COPY the demo rows back, twice.
for my $i (1 .. 3) {
	my $probe = $i == 1 ? $CODE : 'R50';
	change("TRUNCATE #$i", 'TRUNCATE starter_pxcodes;',
	    item => ["$BASE$probe", sub { $_[0]{status} == 404 }],
	    item_hit => 1,
	    coll => sub { (total($_[0]) // -1) == 0 });
	my $rows = join '', map { "R$_\tRELOADED $i $_\n" } 1 .. 50;
	change("COPY-reload #$i", "COPY starter_pxcodes (pxcode, procedure) "
	    . "FROM STDIN;\n${rows}\\.",
	    item => ["${BASE}R50", sub { $_[0]{status} == 200
	    && ($_[0]{json}{procedure} // '') eq "RELOADED $i 50" }],
	    coll => sub { (total($_[0]) // -1) == 50 });
	$N = 50;
}

# A rolled-back change sends no NOTIFY and must not show.
{
	my $r = warm('item', "${BASE}R1");
	like(cache_status($r), qr/^starterd; hit$/,
	    'ROLLBACK: item was a cache hit before');
	ok(defined psql_do("BEGIN; UPDATE starter_pxcodes SET procedure = "
	    . "'ROLLED BACK' WHERE pxcode = 'R1'; ROLLBACK;"),
	    'ROLLBACK: transaction rolled back');
	sleep 0.1;
	$r = conn_get('item', "${BASE}R1");
	is($r->{json}{procedure}, 'RELOADED 3 1',
	    'ROLLBACK: the item still shows the committed value');
}

ok(scalar @delays >= 50, 'delays recorded for every change');
my $med = median(@delays);
my $max = (sort { $b <=> $a } @delays)[0];
diag(sprintf('psql change -> visible through starterd: median %.2f ms, '
    . 'max %.2f ms over %d observations', 1000 * $med, 1000 * $max,
    scalar @delays));
for my $op (sort keys %by_op) {
	diag(sprintf('  %-12s median %.2f ms (n=%d)', $op,
	    1000 * median(@{$by_op{$op}}), scalar @{$by_op{$op}}));
}
cmp_ok($med, '<', $LIMIT, 'median delay under 100 ms');

close $psql_in;
$_->close for grep { defined } values %conn;
finish();
