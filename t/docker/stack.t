#!/usr/bin/perl
# t/docker/stack.t: the Docker stack end to end, with a real container
# engine (Docker with the compose plugin, or Podman with podman-compose):
# build the images, start the stack, use the API, stop/start and
# teardown/start keeping the data, and clean up leaving nothing behind.
#
#	make check-docker		or	prove -v t/docker/stack.t
#
# It runs the top-level scripts as a user would, under its own names
# (STACK_NAME=startertest, IMAGE_TAG=test) so that a stack of the default
# names and its data are never touched.  API_PORT / DB_PORT choose the host
# ports (default: 5000 and 5432 when free, else free ones); KEEP_STACK=1
# leaves the stack up when a test fails, for a look.  Every wait is bounded.
use strict;
use warnings;
use Cwd qw(realpath);
use File::Basename qw(dirname);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP qw(decode_json encode_json);
use MIME::Base64 qw(encode_base64);
use Test::More;

my $root = realpath(dirname(__FILE__) . '/../..');
chdir $root or die "chdir $root: $!";

$ENV{STACK_NAME} = 'startertest';
$ENV{IMAGE_TAG} = 'test';
$ENV{STACK_TIMEOUT} //= 120;
delete $ENV{$_} for qw(ADMIN_USER ADMIN_PASSWORD LOAD_DEMO POSTGRES_USER
    POSTGRES_PASSWORD POSTGRES_DB API_BIND DB_BIND STACK_SECRETS
    STARTERD_SHUTDOWN_TIMEOUT STARTERD_WORKERS);
my $stack = $ENV{STACK_NAME};
# Passwords of their own, to look for where they must not be.
my $pgpw = "pg-S3cret-$$";
my $adminpw = "adm-S3cret-$$";
$ENV{POSTGRES_PASSWORD} = $pgpw;
$ENV{ADMIN_PASSWORD} = $adminpw;

sub port_free {
	my ($port) = @_;
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
	    LocalPort => $port, Proto => 'tcp', ReuseAddr => 1) or return 0;
	close $s;
	return 1;
}

sub free_port {
	my ($want) = @_;
	return $want if port_free($want);
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
	    Proto => 'tcp', Listen => 1) or die "no free port: $!";
	my $port = $s->sockport;
	close $s;
	return $port;
}

$ENV{API_PORT} //= free_port(5000);
$ENV{DB_PORT} //= free_port(5432);
my $base = "http://127.0.0.1:$ENV{API_PORT}";
diag("stack $stack, API on $base, PostgreSQL on 127.0.0.1:$ENV{DB_PORT}");

# run(SECONDS, COMMAND...): exit status, output shown as diagnostics.
sub run {
	my ($secs, @cmd) = @_;
	my $t0 = time;
	my $out = `timeout $secs @cmd 2>&1`;
	my $rc = $? >> 8;
	diag(sprintf("\$ %s (%ds, exit %d)", "@cmd", time - $t0, $rc));
	diag($out) if length $out;
	return $rc;
}

sub sh_out {
	my ($cmd) = @_;
	my $out = `timeout 60 $cmd 2>/dev/null`;
	chomp $out;
	return $out;
}

my $engine = sh_out(q{sh -c '. ./docker/lib.sh && engine_select && echo "$ENGINE"'});
if ($engine !~ /^(docker|podman)$/) {
	system('sh', '-c', '. ./docker/lib.sh && engine_select');
	fail('a container engine is usable (docker + compose, or podman + podman-compose)');
	done_testing();
	exit 1;
}
pass("container engine: $engine");
my $E = $engine;

my $finished = 0;
END {
	if (!$finished && $engine && !$ENV{KEEP_STACK}) {
		diag('cleaning up after a failure');
		system("timeout 300 ./cleanupImages.sh >/dev/null 2>&1");
	}
}

my $http = HTTP::Tiny->new(timeout => 15, keep_alive => 0);
my $auth = 'Basic ' . encode_base64("admin:$adminpw", '');

sub api {
	my ($method, $path, $body, $authz) = @_;
	my %h = (Authorization => $authz // $auth);
	my %opt = (headers => \%h);
	if (defined $body) {
		$h{'Content-Type'} = 'application/json';
		$opt{content} = encode_json($body);
	}
	return $http->request($method, "$base$path", \%opt);
}

sub total {
	my $r = api('GET', '/api/v1.0/pxcodes/');
	return -1 unless $r->{status} == 200;
	return decode_json($r->{content})->{meta}{total};
}

sub stack_containers {
	return sh_out("$E ps -aq --filter label=com.docker.compose.project=$stack");
}

sub exists_obj {
	my ($kind, $name) = @_;
	return system("$E $kind inspect $name >/dev/null 2>&1") == 0;
}

my $labelled_before = sh_out("$E images -aq --filter label=io.starterd.stack=starter");

# Leftovers of an earlier run of this test.
run(300, './cleanupImages.sh');

# --- acceptance 1: build, start, the 100 codes ---------------------------
is(run(1800, './buildImages.sh'), 0, 'buildImages.sh')
    or BAIL_OUT('the images do not build');
for my $img ('starter/starter-api:test', 'starter/postgres:test') {
	ok(exists_obj('image', $img), "image $img exists");
}
my $user = sh_out("$E image inspect -f '{{.Config.User}}' starter/starter-api:test");
like($user, qr/^[1-9][0-9]*(:[0-9]+)?$/, "the API image runs as a non-root user ($user)");

is(run(600, './startStack.sh'), 0, 'startStack.sh')
    or BAIL_OUT('the stack does not start');

my $r = api('GET', '/api/v1.0/pxcodes/');
is($r->{status}, 200, 'GET /api/v1.0/pxcodes/ as admin, ADMIN_PASSWORD');
my $list = eval { decode_json($r->{content}) } // {};
is(scalar @{$list->{items} // []}, 100, '100 codes listed');
is($list->{meta}{total}, 100, 'meta.total is 100');
is($list->{items}[0]{pxcode}, '039', 'the first code is 039');

is(api('GET', '/api/v1.0/pxcodes/', undef,
    'Basic ' . encode_base64('admin:wrong', ''))->{status}, 401,
    'a wrong password gets 401');
is($http->get("$base/healthz")->{status}, 200, 'GET /healthz from the host');

# --- acceptance 3: non-root, healthy ------------------------------------
my $uid = sh_out("$E exec $stack-api id -u");
ok(length $uid && $uid ne '0', "the API process runs as uid $uid, not root");
if ($engine eq 'podman') {
	is(system("$E healthcheck run $stack-api >/dev/null 2>&1"), 0,
	    'podman healthcheck run passes');
}
my $health = '';
for (1 .. 60) {
	$health = sh_out("$E inspect -f '{{.State.Health.Status}}' $stack-api");
	last if $health eq 'healthy';
	sleep 1;
}
is($health, 'healthy', 'the API container is healthy');
is(sh_out("$E inspect -f '{{.State.Health.Status}}' $stack-db"), 'healthy',
    'the database container is healthy');

my $db = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
    PeerPort => $ENV{DB_PORT}, Proto => 'tcp', Timeout => 5);
ok($db, "PostgreSQL is published on 127.0.0.1:$ENV{DB_PORT}");
close $db if $db;

# --- hardening (issue 13) ---------------------------------------------------
# What Docker and Podman give a container unless told otherwise.
my @DEFAULT_CAPS = map { "CAP_$_" } qw(AUDIT_WRITE CHOWN DAC_OVERRIDE FOWNER
    FSETID KILL MKNOD NET_BIND_SERVICE NET_RAW SETFCAP SETGID SETPCAP SETUID
    SYS_CHROOT);
# Every container: no password in what inspect shows, a read-only root,
# no capability, no-new-privileges; the running processes really so.
for my $svc (qw(db api init)) {
	my $js = sh_out("$E container inspect $stack-$svc");
	ok(length $js, "$svc: inspect");
	unlike($js, qr/\Q$pgpw\E|\Q$adminpw\E/,
	    "$svc: no password anywhere in inspect");
	my $c = eval { decode_json($js)->[0] } // {};
	my @env = @{$c->{Config}{Env} // []};
	is_deeply([grep { /^[A-Z_]*PASSWORD=/ } @env], [],
	    "$svc: no *PASSWORD variable in its environment");
	ok($c->{HostConfig}{ReadonlyRootfs}, "$svc: read-only root file system");
	# Docker says ALL; Podman lists what it dropped: every default one.
	my %drop = map { (uc($_) =~ s/^(?!CAP_)/CAP_/r) => 1 }
	    @{$c->{HostConfig}{CapDrop} // []};
	ok($drop{CAP_ALL} || !grep({ !$drop{$_} } @DEFAULT_CAPS),
	    "$svc: every capability dropped")
	    or diag(join ' ', sort keys %drop);
	is_deeply($c->{HostConfig}{CapAdd} // [], [], "$svc: none added back");
	ok(grep({ /^no-new-privileges(:true|=true)?$/ }
	    @{$c->{HostConfig}{SecurityOpt} // []}),
	    "$svc: no-new-privileges") or diag(explain($c->{HostConfig}{SecurityOpt}));
}
for my $svc (qw(db api)) {
	my $st = sh_out("$E exec $stack-$svc cat /proc/1/status");
	like($st, qr/^NoNewPrivs:\s+1$/m, "$svc: PID 1 has NoNewPrivs");
	like($st, qr/^CapEff:\s+0+$/m, "$svc: PID 1 has no effective capability");
	like($st, qr/^CapBnd:\s+0+$/m, "$svc: ... nor any to gain");
	isnt(system("$E exec $stack-$svc sh -c 'echo x > /x' >/dev/null 2>&1"), 0,
	    "$svc: the root file system cannot be written");
	is(system("$E exec $stack-$svc sh -c 'echo x > /tmp/x' >/dev/null 2>&1"),
	    0, "$svc: /tmp can");
}
my $grace = sh_out("$E container inspect -f "
    . "'{{index .Config.Labels \"io.starterd.stop-grace\"}}' $stack-api");
my $apienv = eval { decode_json(sh_out("$E container inspect $stack-api"))
    ->[0]{Config}{Env} } // [];
my ($sdt) = map { /^STARTERD_SHUTDOWN_TIMEOUT=(\d+)$/ ? $1 : () } @$apienv;
ok(defined $sdt && $grace =~ /^\d+$/ && $grace > $sdt,
    "the API's stop grace period (${grace}s) outlasts its shutdown timeout "
    . '(' . ($sdt // '?') . 's)');
if ($engine eq 'docker') {
	is(sh_out("$E container inspect -f '{{.Config.StopTimeout}}' $stack-api"),
	    $grace, 'docker: the container has that stop timeout');
}
my $sdir = "$root/var/stack/$stack/secrets";
is(sprintf('%o', (stat $sdir)[2] & 07777), '700',
    'the secrets directory is the owner\'s only');

# A second start with nothing changed recreates nothing; a changed setting
# recreates.
sub ids { return join ' ', map { sh_out("$E container inspect -f '{{.Id}}' $stack-$_") } qw(db api init); }
my $ids = ids();
is(run(600, './startStack.sh'), 0, 'startStack.sh again, nothing changed');
is(ids(), $ids, '... no container was recreated');
is(api('GET', '/api/v1.0/pxcodes/039')->{status}, 200, '... the API answers');
{
	local $ENV{STARTERD_WORKERS} = 3;
	is(run(600, './startStack.sh'), 0, 'startStack.sh with STARTERD_WORKERS=3');
	isnt(sh_out("$E container inspect -f '{{.Id}}' $stack-api"),
	    (split / /, $ids)[1], '... the API container was recreated');
	like(sh_out("$E container inspect $stack-api"), qr/STARTERD_WORKERS=3/,
	    '... with the new setting');
}
is(run(600, './startStack.sh'), 0, 'startStack.sh with the setting back');
$ids = ids();
is(run(600, './startStack.sh'), 0, 'and once more');
is(ids(), $ids, '... nothing recreated');

# --- acceptance 2: the data survives stop/start and teardown/start --------
my $new = { pxcode => 'T6', procedure => 'POSTED BEFORE A STOP' };
is(api('POST', '/api/v1.0/pxcodes/', $new)->{status}, 201, 'POST a new code');
is(api('GET', '/api/v1.0/pxcodes/T6')->{status}, 200, 'GET it back');

is(run(300, './stopStack.sh'), 0, 'stopStack.sh');
is(sh_out("$E ps -q --filter label=com.docker.compose.project=$stack"), '',
    'no container of the stack runs');
isnt($http->get("$base/healthz")->{status}, 200, 'the API is down');
is(run(600, './startStack.sh'), 0, 'startStack.sh after stopStack.sh');
$r = api('GET', '/api/v1.0/pxcodes/T6');
is($r->{status}, 200, 'the posted code is still there');
like($r->{content}, qr/POSTED BEFORE A STOP/, '... with its procedure');
is(total(), 101, 'the demo data was not loaded twice (101 codes)');

is(run(300, './teardownStack.sh'), 0, 'teardownStack.sh');
is(stack_containers(), '', 'no container of the stack is left');
ok(!exists_obj('network', "${stack}_default"), 'the network is gone');
ok(exists_obj('volume', "${stack}_pgdata"), 'the volume is kept');
is(run(600, './startStack.sh'), 0, 'startStack.sh after teardownStack.sh');
is(api('GET', '/api/v1.0/pxcodes/T6')->{status}, 200,
    'the posted code is still there');
is(total(), 101, 'still 101 codes');

# --- acceptance 2: cleanup leaves nothing --------------------------------
is(run(300, './cleanupImages.sh'), 0, 'cleanupImages.sh');
is(stack_containers(), '', 'no container left');
ok(!exists_obj('network', "${stack}_default"), 'no network left');
ok(!exists_obj('volume', "${stack}_pgdata"), 'no volume left');
for my $img ('starter/starter-api:test', 'starter/postgres:test') {
	ok(!exists_obj('image', $img), "no image $img left");
}
ok(!-e "$root/var/stack/$stack", 'no secret file (nor its directory) left');
is(sh_out("$E volume ls -q --filter label=com.docker.compose.project=$stack"),
    '', 'no volume labelled with the stack');
is(sh_out("$E network ls -q --filter label=com.docker.compose.project=$stack"),
    '', 'no network labelled with the stack');
SKIP: {
	skip 'images of the stack existed before this test (other tags)', 1
	    if length $labelled_before;
	is(sh_out("$E images -aq --filter label=io.starterd.stack=starter"), '',
	    'no image of the stack (build cache included) left');
}

$finished = 1;
done_testing();
