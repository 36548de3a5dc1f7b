# 107_schema_late: starterd started on a database whose schema is not there
# yet (a container stack whose init has not run, a fresh database) answers
# 503 with Retry-After, never a 500; once `starterctl initdb` has run it
# serves without a restart.  (A worker whose connection came up before the
# schema kept its statements unprepared on that connection and failed
# every login for good; now a statement its connection could not prepare
# runs unnamed there, and works as soon as the schema does.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;

my $pg = StarterTest::Pg->new;
my $srv = StarterTest::Server->new(pg => $pg, workers => 2);
my @AUTH = (auth => 'admin:admin');

my $r = request($srv, 'GET', '/api/v1.0/pxcodes/039', @AUTH);
is($r->{status}, 503, 'no schema: an API request is 503')
    or diag(explain_response($r));
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, '... with Retry-After');
is(scalar(grep { $_->{status} == 500 } map {
    request($srv, 'GET', '/api/v1.0/pxcodes/', @AUTH) } 1 .. 10), 0,
    'no schema: ten more, none a 500');

# The database answers, but no declared resource has its table: not ready,
# and the body says which resources (a load balancer's health check).
$r = request($srv, 'GET', '/readyz');
is($r->{status}, 503, 'no schema: /readyz is 503') or diag(explain_response($r));
like($r->{json}{message} // '', qr/not serving resource .*pxcodes/,
    '... naming the resource it cannot serve');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, '... with Retry-After');

StarterTest::setup_db($pg);
ok(wait_until(sub { request($srv, 'GET', '/readyz')->{status} == 200 },
    timeout => 20), 'after starterctl initdb: /readyz is 200, without a '
    . 'request to the API first');
ok(wait_until(sub { request($srv, 'GET', '/api/v1.0/pxcodes/039',
    @AUTH)->{status} == 200 }, timeout => 20),
    'after starterctl initdb: served, without a restart');
# Every worker: new connections land on either.
my $ok = 0;
for (1 .. 10) {
	$r = request($srv, 'GET', '/api/v1.0/pxcodes/039', @AUTH);
	$ok++ if $r->{status} == 200 && ($r->{json}{pxcode} // '') eq '039';
}
is($ok, 10, 'after initdb: ten logins and reads on new connections, all 200');
# Through PgBouncer (--prepare unnamed) nothing is prepared at connect:
# the statement fails where it runs, and the log names it there.
like($srv->log_contents, $pg->bouncer
    ? qr/user lookup: ERROR:  relation "starter_users" does not exist/
    : qr/setup: user_by_name cannot be prepared.*relation "starter_users" does not exist/,
    'the log says which statement the schema could not take');
ok($srv->alive, 'the server is still running');

StarterTest::finish();
