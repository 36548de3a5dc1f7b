# 081_outage: PostgreSQL stopped and started under a steady request stream:
# during the outage every answer is a prompt 503 with Retry-After and a JSON
# error; within 2 s of PostgreSQL being back every answer is 2xx again.
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
# -C 0: every request must reach the database here, so that the outage
# shows as 503s (with the cache, cached GETs are served stale instead:
# t/105_stale.t).
my $srv = StarterTest::Server->new(pg => $pg, workers => 2,
    args => ['-C', '0']);
my $ITEM = '/api/v1.0/pxcodes/039';

is(request($srv, 'GET', $ITEM, auth => 'admin:admin')->{status}, 200,
    'serving at start');

for my $round (1, 2) {
	my $load = StarterLoad->start($srv, path => $ITEM,
	    auth => 'admin:admin', timeout => 5);
	ok(wait_until(sub { $load->count >= 20 }, timeout => 10),
	    "round $round: the request stream is flowing");
	my $t_stop = time;
	ok($pg->stop($round == 1 ? 'fast' : 'immediate'),
	    "round $round: PostgreSQL stopped");
	my $t_down = time;
	{
		my $r = request($srv, 'GET', $ITEM, auth => 'admin:admin',
		    timeout => 5);
		check_error($r, 503, "round $round: during the outage");
		like($r->{headers}{'retry-after'} // '', qr/^\d+$/,
		    "round $round: Retry-After in seconds");
	}
	sleep 2;
	# PostgreSQL accepts connections before pg_ctl start returns: the
	# outage is over when the start begins, for what is counted in it.
	my $t_starting = time;
	ok($pg->start, "round $round: PostgreSQL started");
	my $t_up = time;
	sleep 3.5;
	my @r = $load->stop;

	# Requests sent while PostgreSQL was down (and answered before it
	# came back).
	my @during = grep { $_->{t0} > $t_down && $_->{t} < $t_starting } @r;
	my @bad = grep { $_->{status} != 503 || $_->{retry_after} !~ /^\d+$/ }
	    @during;
	ok(@during > 10, "round $round: " . scalar(@during)
	    . ' requests during the outage');
	is(scalar @bad, 0, "round $round: all of them 503 with Retry-After")
	    or diag(join "\n", map { "$_->{t0} $_->{t} $_->{status} "
	    . "$_->{retry_after} $_->{error}" }
	    @bad[0 .. ($#bad > 5 ? 5 : $#bad)]);
	my @after = grep { $_->{t0} > $t_up } @r;
	my @fail = grep { $_->{status} < 200 || $_->{status} > 299 } @after;
	my $last_fail = @fail ? $fail[-1]{t0} - $t_up : 0;
	ok(@after > 10, "round $round: " . scalar(@after)
	    . ' requests after the restart');
	ok($last_fail <= 2.0, sprintf("round %d: all 2xx again %.2f s after "
	    . "PostgreSQL was back (limit 2 s)", $round, $last_fail));
	my @late = grep { $_->{t0} > $t_up + 2 } @after;
	is(scalar(grep { $_->{status} != 200 } @late), 0,
	    "round $round: no failure after those 2 s (" . scalar(@late)
	    . ' requests)');
	my @zero = grep { $_->{status} == 0 } @r;
	is(scalar @zero, 0, "round $round: never without an answer");
}

done_testing();
