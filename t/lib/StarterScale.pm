# StarterScale: the topology of t/scale/*.t (issue 14) on top of StarterTest
# and StarterCluster: etcd, Patroni (pg1 primary, pg2 synchronous replica),
# HAProxy, and N starterd instances sharing one token key, each started with
# --dsn on HAProxy's primary port, --read-dsn on its replica port (then the
# primary port), --listen-dsn on libpq's multi-host string of the nodes.
#
#   my $t = StarterScale::setup(instances => 3);
#   $t->{cl}			# the StarterCluster
#   $t->{srv}[0..2]		# StarterTest::Server of each instance
#   $t->{http}			# HAProxy's HTTP port (request($t->{http}, ...))
#
# Skips the whole script (skip_all) when an engine is not installed, with
# the reason, unless STARTERD_TEST_SCALE=require (CI): then that is a
# failure.  A starterd that does not start (e.g. without the options of
# issue 14) is a failure, never a skip.
package StarterScale;

use strict;
use warnings;

use Exporter 'import';
use StarterTest;
use StarterCluster;
use Test::More;
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(metric procedure_of lsn_of);

my $CLUSTER;

sub setup
{
	my (%opt) = @_;
	my @miss = StarterCluster::missing(qw(etcd patroni patronictl
	    haproxy));
	if (@miss) {
		my $why = 'not installed: ' . join(', ', @miss);
		if (($ENV{STARTERD_TEST_SCALE} // '') eq 'require') {
			plan tests => 1;
			fail("engines missing (STARTERD_TEST_SCALE=require): "
			    . $why);
			exit 1;
		}
		plan skip_all => $why;
	}
	my $base = StarterTest::basedir();
	my $dir = "$base/cluster";
	mkdir $dir or BAIL_OUT("mkdir $dir: $!");
	my $cl = StarterCluster->new(dir => $dir);
	$CLUSTER = $cl;
	my $n = $opt{instances} // 3;
	my @ports = map { StarterTest::free_port() } 1 .. $n;
	my $ok = eval {
		$cl->start_etcd;
		$cl->start_patroni(2);
		$cl->start_haproxy(http => \@ports);
		$cl->setup_starter_db(StarterTest::top_builddir()
		    . '/src/starterctl');
		1;
	};
	unless ($ok) {
		diag($cl->logs(60));
		BAIL_OUT("the cluster did not start: $@");
	}
	pass('etcd, Patroni (primary + synchronous replica) and HAProxy '
	    . 'started');
	note($cl->patronictl_list);

	my $key = "$base/token.key";
	open my $fh, '>', $key or BAIL_OUT("$key: $!");
	print $fh "scale-test-shared-token-key-0123456789\n";
	close $fh;
	chmod 0600, $key;

	# SCALE_DSN=direct: libpq's multi-host strings of the nodes instead of
	# HAProxy's PostgreSQL ports (doc/SCALING: both are supported).
	my $direct = ($ENV{SCALE_DSN} // '') eq 'direct';
	my $dsn = $direct ? $cl->multihost_dsn('read-write') : $cl->primary_dsn;
	my $rdsn = $direct ? $cl->multihost_dsn('prefer-standby')
	    : $cl->replica_dsn;
	note('--dsn ' . ($direct ? 'multi-host' : 'HAProxy'));
	my @srv;
	for my $i (0 .. $n - 1) {
		push @srv, StarterTest::Server->new(port => $ports[$i],
		    dsn => $dsn, workers => $opt{workers} // 2,
		    start_timeout => 20,
		    args => ['--read-dsn', $rdsn,
		    '--listen-dsn', $cl->multihost_dsn('read-write'),
		    '--token-key-file', $key,
		    '-f', StarterTest::top_builddir()
		    . '/etc/starterd.conf.sample',
		    @{$opt{args} // []}]);
	}
	for my $i (0 .. $#srv) {
		ok($srv[$i]->wait_workers_ready(timeout => 20),
		    "instance $i: every worker answers /readyz");
	}
	my $t = {cl => $cl, srv => \@srv, http => $cl->haproxy_http_port};
	ok(wait_until(sub {
		my $s = $cl->haproxy_status;
		my @up = grep { /^starterd\// && $s->{$_} eq 'UP' } keys %$s;
		@up == $n;
	}, timeout => 20), "HAProxy has all $n instances up (/readyz)");
	return $t;
}

sub cluster { return $CLUSTER; }

# The value of one metric of an instance's /metrics (sum over labels).
sub metric
{
	my ($srv, $name) = @_;
	my $r = request($srv, 'GET', '/metrics', auth => 'admin:admin');
	return undef unless $r->{status} == 200;
	my $sum;
	for my $l (split /\n/, $r->{body}) {
		next unless $l =~ /^\Q$name\E(?:\{[^}]*\})? (\S+)$/;
		$sum += $1;
	}
	return $sum;
}

# The procedure in an item response, undef when there is none.
sub procedure_of
{
	my ($r) = @_;
	return undef unless ($r->{status} // 0) == 200
	    && ref $r->{json} eq 'HASH';
	return $r->{json}{procedure};
}

# The LSN a write response carries: the X-Starterd-LSN header, and the
# starterd_lsn cookie of Set-Cookie.  (header, cookie), undef when absent.
sub lsn_of
{
	my ($r) = @_;
	my $h = $r->{headers}{'x-starterd-lsn'};
	my $c;
	for my $sc (map { $_->[1] } grep { lc $_->[0] eq 'set-cookie' }
	    @{$r->{header_list} // []}) {
		$c = $1 if $sc =~ /(?:^|;\s*)starterd_lsn=([^;\s]+)/;
	}
	return ($h, $c);
}

END {
	# A failed scale test: the engines' logs, before StarterCluster's END
	# stops them and StarterTest's removes nothing (it keeps failed
	# directories).
	if ($CLUSTER && !Test::More->builder->is_passing) {
		diag($CLUSTER->logs(40));
		diag($CLUSTER->patronictl_list);
	}
}

1;
