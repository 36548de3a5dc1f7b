# StarterTest: setup and raw HTTP client for the starterd TAP tests.
#
# Modelled on PostgreSQL's Cluster.pm and nginx-tests' Test::Nginx:
#
#   my $pg  = StarterTest::Pg->new;		# private cluster, started
#   StarterTest::setup_db($pg);			# schema, demo rows, admin:admin
#   my $srv = StarterTest::Server->new(pg => $pg, args => [...]);
#   my $r   = request($srv, 'GET', '/api/v1.0/pxcodes/', auth => 'admin:admin');
#
# Everything lives under one temporary directory per test script.  An END
# block stops every server and cluster; when the script failed the logs are
# printed with diag and the directory is kept.
#
# Every socket read has a timeout, every child process wait is bounded: a
# broken server makes a test fail, never hang.  Core Perl only.
#
# STARTERD_TEST_PGBOUNCER=1 puts a PgBouncer in transaction mode in front
# of every cluster (StarterCluster.pm starts it): a server given pg => $pg
# then connects through it, with --prepare unnamed and a direct
# --listen-dsn for LISTEN, as doc/SCALING says to run it (issue 14).
# starterctl and psql still go straight to PostgreSQL.

package StarterTest;

use strict;
use warnings;

use Carp;
use Cwd qw(abs_path);
use Digest::MD5 qw(md5_hex);
use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use Exporter 'import';
use File::Basename qw(dirname);
use File::Path qw(rmtree);
use File::Spec;
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);

our @EXPORT = qw(request raw build_request parse_responses jsonify etag_of
    wait_until top_builddir top_srcdir run_cmd starterctl check_error
    check_common_headers explain_response finish read_all sample_resources);

our $TIMEOUT = 10;		# default per-response read timeout, seconds

$SIG{PIPE} = 'IGNORE';		# a server closing early must not kill us

# Interrupted (Ctrl-C, prove's timeout, our own watchdog): exit through the
# END block so that no server or cluster outlives the test.  The watchdog
# bounds a whole script even when a hung server makes every read time out.
my $MAIN_PID = $$;
alarm($ENV{STARTERD_TEST_TIMEOUT} // 180);
for my $sig (qw(INT TERM HUP ALRM)) {
	$SIG{$sig} = sub {
		POSIX::_exit(1) if $$ != $MAIN_PID;
		print STDERR $sig eq 'ALRM'
		    ? "# test script timed out (STARTERD_TEST_TIMEOUT), "
		    . "cleaning up\n" : "# caught SIG$sig, cleaning up\n";
		exit 1;
	};
}

my $TESTDIR = dirname(abs_path(__FILE__));		# t/lib
my $TOP = abs_path("$TESTDIR/../..");

# Build tree (binaries) and source tree (sql/); `make check` may set both.
sub top_builddir { return $ENV{TOP_BUILDDIR} // $TOP; }

# 1 when src/starterd was built with AddressSanitizer (--enable-sanitizers).
my $SANITIZED;
sub sanitized
{
	return $SANITIZED if defined $SANITIZED;
	$SANITIZED = 0;
	if (open my $fh, '<:raw', top_builddir() . '/src/starterd') {
		local $/;
		my $bin = <$fh> // '';
		close $fh;
		$SANITIZED = index($bin, '__asan_init') >= 0 ? 1 : 0;
	}
	return $SANITIZED;
}
sub top_srcdir { return $ENV{TOP_SRCDIR} // $ENV{srcdir_top} // $TOP; }

my $BASEDIR;			# one temp dir per script
my @SERVERS;			# every StarterTest::Server started
my @CLUSTERS;			# every StarterTest::Pg started
my %PORTS_GIVEN;

sub basedir
{
	return $BASEDIR if defined $BASEDIR;
	# Under /tmp so that the postgres user can traverse the path.
	$BASEDIR = tempdir('starterd_t_XXXXXX', DIR => '/tmp', CLEANUP => 0);
	# Sticky and writable by all, like /tmp: started as root, starterd's
	# workers run as nobody and write their logs here.
	chmod 01777, $BASEDIR;
	return $BASEDIR;
}

# A TCP port on 127.0.0.1 nobody listens on right now.
sub free_port
{
	for (1 .. 50) {
		my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
		    LocalPort => 0, Proto => 'tcp', Listen => 1)
		    or croak "cannot bind a probe socket: $!";
		my $port = $s->sockport;
		close $s;
		next if $PORTS_GIVEN{$port}++;
		return $port;
	}
	croak "no free port found";
}

# wait_until(sub { ... }, timeout => 10, interval => 0.1): poll a condition,
# returns its last true value or undef after the timeout.
sub wait_until
{
	my ($cond, %opt) = @_;
	my $deadline = time + ($opt{timeout} // 10);
	my $interval = $opt{interval} // 0.1;
	while (1) {
		my $v = $cond->();
		return $v if $v;
		return undef if time >= $deadline;
		sleep $interval;
	}
}

# run_cmd(\@argv, stdin => STR, timeout => S, env => {K => V|undef})
# Runs a command with its output captured; the wait is bounded (the child is
# killed after timeout).  Returns {rc, out, err, signal, timedout}.
sub run_cmd
{
	my ($argv, %opt) = @_;
	my $dir = basedir();
	my $tag = sprintf "cmd_%d_%d", $$, int(rand(1e9));
	my ($in, $out, $err) = map { "$dir/$tag.$_" } qw(in out err);

	open my $fh, '>', $in or croak "$in: $!";
	print $fh $opt{stdin} if defined $opt{stdin};
	close $fh;

	my $pid = fork // croak "fork: $!";
	if ($pid == 0) {
		open STDIN, '<', $in or POSIX::_exit(126);
		open STDOUT, '>', $out or POSIX::_exit(126);
		open STDERR, '>', $err or POSIX::_exit(126);
		if ($opt{env}) {
			while (my ($k, $v) = each %{$opt{env}}) {
				if (defined $v) { $ENV{$k} = $v } else { delete $ENV{$k} }
			}
		}
		{ no warnings q(exec); exec { $argv->[0] } @$argv; }
		print STDERR "exec $argv->[0]: $!\n";
		POSIX::_exit(127);
	}
	my $deadline = time + ($opt{timeout} // 60);
	my $timedout = 0;
	my $st;
	while (1) {
		my $w = waitpid($pid, WNOHANG);
		if ($w == $pid) { $st = $?; last; }
		if (time > $deadline) {
			kill 'KILL', $pid;
			waitpid($pid, 0);
			$st = $?;
			$timedout = 1;
			last;
		}
		sleep 0.02;
	}
	my %r = (rc => ($st & 127) ? -1 : $st >> 8, signal => $st & 127,
	    timedout => $timedout);
	for my $k (qw(out err)) {
		my $f = $k eq 'out' ? $out : $err;
		local $/;
		open my $rf, '<', $f or croak "$f: $!";
		$r{$k} = <$rf> // '';
		close $rf;
	}
	unlink $in, $out, $err;
	return \%r;
}

# starterctl($pg, ARGS..., {stdin => ...}): run src/starterctl -d DSN ARGS.
sub starterctl
{
	my ($pg, @args) = @_;
	my %opt = ref $args[-1] eq 'HASH' ? %{pop @args} : ();
	my $bin = top_builddir() . '/src/starterctl';
	BAIL_OUT("$bin not built") unless -x $bin;
	my @dsn = defined $pg ? ('-d', $pg->dsn) : ();
	return run_cmd([$bin, @dsn, @args], timeout => 60, %opt);
}

# The resource blocks of the shipped sample configuration
# (etc/starterd.conf.sample.in, from its first `resource` line to the
# end): pxcodes and encounters as the package declares them.
sub sample_resources
{
	my $f = top_srcdir() . '/etc/starterd.conf.sample.in';
	open my $fh, '<', $f or croak "$f: $!";
	my $text = do { local $/; <$fh> };
	close $fh;
	$text =~ /^(resource .*)\z/ms or croak "$f: no resource block";
	return $1;
}

# Schema, the 100 demo rows and user admin with password admin.
sub setup_db
{
	my ($pg) = @_;
	for my $step (['initdb'], ['load-demo'],
	    ['adduser', '--password-stdin', 'admin', {stdin => "admin\n"}]) {
		my $r = starterctl($pg, @$step);
		next if $r->{rc} == 0;
		BAIL_OUT("starterctl @{[grep { !ref } @$step]} failed "
		    . "(rc $r->{rc}): $r->{out}$r->{err}");
	}
	return 1;
}

# Flask's jsonify: sorted keys, compact separators, ASCII, trailing newline.
sub jsonify
{
	my ($data) = @_;
	return JSON::PP->new->canonical->ascii->allow_nonref->encode($data)
	    . "\n";
}

sub etag_of { return '"' . md5_hex($_[0]) . '"'; }

# Reason phrases accepted for each error status (RFC 9110 and the older
# RFC 7231 / Werkzeug names); the JSON "error" must be the status line's
# reason phrase in lower case, and that must be one of these.
my %REASONS = (
	400 => ['bad request'],
	401 => ['unauthorized'],
	403 => ['forbidden'],
	404 => ['not found'],
	405 => ['method not allowed'],
	408 => ['request timeout'],
	409 => ['conflict'],
	411 => ['length required'],
	412 => ['precondition failed'],
	413 => ['content too large', 'payload too large',
	    'request entity too large'],
	414 => ['uri too long', 'request-uri too long', 'request uri too large',
	    'request-uri too large'],
	415 => ['unsupported media type'],
	417 => ['expectation failed'],
	422 => ['unprocessable content', 'unprocessable entity'],
	429 => ['too many requests'],	# RFC 6585
	431 => ['request header fields too large'],
	500 => ['internal server error'],
	501 => ['not implemented'],
	503 => ['service unavailable'],
	505 => ['http version not supported'],
);

# Date, Server, Content-Length (unless 1xx/204/304), Content-Type.
# A 304 has no Content-Length: RFC 9110 8.6 allows one equal to the 200's,
# but common clients (wrk's http_parser among them) then wait for a body.
sub check_common_headers
{
	my ($r, $name, %opt) = @_;
	my $h = $r->{headers} // {};
	like($h->{date} // '',
	    qr/^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/,
	    "$name: Date is an IMF-fixdate");
	like($h->{server} // '', qr/\S/, "$name: Server header present");
	my $st = $r->{status} // 0;
	if ($st == 304) {
		ok(!defined $h->{'content-length'},
		    "$name: no Content-Length on 304");
	}
	unless ($st == 204 || $st == 304 || ($st >= 100 && $st < 200)) {
		like($h->{'content-length'} // '', qr/^\d+$/,
		    "$name: Content-Length present");
		if (!$opt{head} && $st != 304) {
			is($h->{'content-length'}, length($r->{body} // ''),
			    "$name: Content-Length matches the body");
		}
		like($h->{'content-type'} // '', qr{\S},
		    "$name: Content-Type present") unless $st == 304;
	}
	ok(!$r->{framing_error}, "$name: response framed correctly")
	    or diag($r->{framing_error});
}

# The JSON error document: {"status":N,"error":"<reason>","message":"..."}.
sub check_error
{
	my ($r, $status, $name, %opt) = @_;
	is($r->{status}, $status, "$name: status $status")
	    or diag(explain_response($r));
	like($r->{headers}{'content-type'} // '', qr{^application/json\b}i,
	    "$name: error is application/json");
	my $j = $r->{json};
	ok(ref $j eq 'HASH', "$name: error body is a JSON object")
	    or return diag(explain_response($r));
	is($j->{status}, $status, "$name: JSON status is $status");
	is($j->{error}, lc($r->{reason} // ''),
	    "$name: JSON error is the reason phrase in lower case");
	my @ok = @{$REASONS{$status} // []};
	ok((grep { $_ eq ($j->{error} // '') } @ok),
	    "$name: reason phrase is a standard one for $status")
	    or diag("got '" . ($j->{error} // '') . "', expected one of: "
	    . join(', ', @ok));
	ok(defined $j->{message} && !ref $j->{message}
	    && $j->{message} =~ /\S/, "$name: JSON message present");
	like($j->{message} // '', $opt{message},
	    "$name: message names the problem") if $opt{message};
	is(join(',', sort keys %$j), 'error,message,status',
	    "$name: error has exactly status, error, message");
	is($r->{body}, jsonify($j),
	    "$name: error body formatted like jsonify");
	check_common_headers($r, $name) unless $opt{no_common};
}

sub explain_response
{
	my ($r) = @_;
	return 'no response' unless $r;
	return "no response ($r->{error})" if $r->{error};
	my $s = ($r->{status_line} // '') . "\n";
	$s .= "$_->[0]: $_->[1]\n" for @{$r->{header_list} // []};
	$s .= "\n" . substr($r->{body} // '', 0, 2000);
	return $s;
}

# ---------------------------------------------------------------------------
# HTTP client

sub _port { my ($t) = @_; return ref $t ? $t->port : $t; }

# build_request(METHOD, PATH, headers => {..}|[..], body => STR,
#     auth => 'user:pass', host => 'h:p' | undef (omit), version => '1.1',
#     port => N (for the default Host))
# The request bytes.  Content-Length is added for a body unless the caller
# gives Content-Length or Transfer-Encoding itself.
sub build_request
{
	my ($method, $path, %opt) = @_;
	my $version = $opt{version} // '1.1';
	my @h;
	if (exists $opt{host}) {
		push @h, ['Host', $opt{host}] if defined $opt{host};
	} else {
		push @h, ['Host', 'localhost' . (defined $opt{port}
		    ? ":$opt{port}" : '')];
	}
	if (defined $opt{auth}) {
		push @h, ['Authorization',
		    'Basic ' . encode_base64($opt{auth}, '')];
	}
	my $hdrs = $opt{headers} // [];
	my @pairs = ref $hdrs eq 'HASH'
	    ? map { [$_, $hdrs->{$_}] } sort keys %$hdrs
	    : map { [$hdrs->[2 * $_], $hdrs->[2 * $_ + 1]] }
	      0 .. @$hdrs / 2 - 1;
	push @h, @pairs;
	if (defined $opt{body}
	    && !grep { $_->[0] =~ /^(content-length|transfer-encoding)$/i }
	    @pairs) {
		push @h, ['Content-Length', length $opt{body}];
	}
	my $s = "$method $path HTTP/$version\r\n";
	$s .= "$_->[0]: $_->[1]\r\n" for @h;
	$s .= "\r\n";
	$s .= $opt{body} if defined $opt{body};
	return $s;
}

# _parse_one(\$buf, $method): take one complete response off the front of
# $buf.  Framing is strictly by Content-Length; 1xx, 204, 304 and responses
# to HEAD have no body.  Returns undef when incomplete; a response lacking
# Content-Length where a body is allowed gets {framing_error}.
sub _parse_one
{
	my ($bufref, $method, $eof) = @_;
	my $end = index($$bufref, "\r\n\r\n");
	return undef if $end < 0;
	my $head = substr($$bufref, 0, $end);
	my @lines = split /\r\n/, $head;
	my $sl = shift @lines // '';
	my %r = (status_line => $sl, headers => {}, header_list => [],
	    body => '');
	if ($sl =~ m{^HTTP/(\d\.\d) (\d{3})(?: (.*))?$}) {
		@r{qw(version status reason)} = ($1, $2 + 0, $3 // '');
	} else {
		$r{status} = 0;
		$r{reason} = '';
		$r{framing_error} = "bad status line: $sl";
	}
	for my $l (@lines) {
		my ($n, $v) = $l =~ /^([^:\s]+):[ \t]*(.*?)[ \t]*$/ or do {
			$r{framing_error} = "bad header line: $l";
			next;
		};
		push @{$r{header_list}}, [$n, $v];
		my $k = lc $n;
		$r{headers}{$k} = exists $r{headers}{$k}
		    ? "$r{headers}{$k}, $v" : $v;
		$r{header_count}{$k}++;
	}
	my $st = $r{status};
	my $len;
	if (($st >= 100 && $st < 200) || $st == 204 || $st == 304
	    || uc($method // 'GET') eq 'HEAD') {
		$len = 0;
	} elsif (defined $r{headers}{'content-length'}
	    && $r{headers}{'content-length'} =~ /^\d+$/) {
		$len = $r{headers}{'content-length'};
	} else {
		# Not framed: everything until close is the body.
		$r{framing_error} //= 'no usable Content-Length';
		return undef unless $eof;
		$len = length($$bufref) - $end - 4;
	}
	return undef if length($$bufref) < $end + 4 + $len;
	$r{body} = substr($$bufref, $end + 4, $len);
	substr($$bufref, 0, $end + 4 + $len) = '';
	if (($r{headers}{'content-type'} // '') =~ m{^application/json}i
	    && length $r{body}) {
		$r{json} = eval { JSON::PP->new->decode($r{body}) };
		$r{json_error} = $@ if $@;
	}
	return \%r;
}

# parse_responses($bytes, @methods): split what came back into responses.
# @methods (default GET) tell which responses answer HEAD; 1xx interim
# responses do not consume a method.  Trailing bytes that do not form a
# complete response are returned as a last element {incomplete => BYTES}.
sub parse_responses
{
	my ($bytes, @methods) = @_;
	my @out;
	my $buf = $bytes;
	while (length $buf) {
		my $m = $methods[0] // 'GET';
		my $r = _parse_one(\$buf, $m, 1);
		unless ($r) {
			push @out, {incomplete => $buf, status => 0};
			last;
		}
		push @out, $r;
		shift @methods unless $r->{status} >= 100 && $r->{status} < 200;
	}
	return @out;
}

# raw($srv, $bytes, timeout => S, expect => N, methods => [...])
# Sends the bytes in one write and reads until the server closes, until
# nothing arrives for `timeout` seconds (default 5), or until `expect`
# complete final responses have arrived.  Scalar context: the bytes read;
# list context: (bytes, closed) where closed says the server closed.
sub raw
{
	my ($srv, $bytes, %opt) = @_;
	my $c = StarterTest::Conn->new($srv);
	$c->send($bytes);
	my $timeout = $opt{timeout} // 5;
	my $closed = 0;
	while (1) {
		if (defined $opt{expect}) {
			my @r = grep { !$_->{incomplete} && $_->{status} >= 200 }
			    parse_responses($c->{rbuf}, @{$opt{methods} // []});
			last if @r >= $opt{expect};
		}
		my $n = $c->_fill($timeout);
		if (!defined $n) { last; }	# timeout
		if ($n == 0) { $closed = 1; last; }
	}
	my $data = $c->{rbuf};
	$c->close;
	return wantarray ? ($data, $closed) : $data;
}

# read_all(\@conns, timeout => S, method => M): one response from each
# connection, all within one shared deadline; undef for those that gave none.
sub read_all
{
	my ($conns, %opt) = @_;
	my $deadline = time + ($opt{timeout} // $TIMEOUT);
	return map {
		my $left = $deadline - time;
		$_->read_response(method => $opt{method},
		    timeout => $left > 0.2 ? $left : 0.2);
	} @$conns;
}

# request($srv, METHOD, PATH, %opt): one request on a fresh connection;
# options as build_request plus timeout.  Returns the final response
# ({status, reason, headers, body, json, ...}; interim 1xx responses are in
# {interim}) or {status => 0, error => ...} when none came.
sub request
{
	my ($srv, $method, $path, %opt) = @_;
	my $c = StarterTest::Conn->new($srv);
	my $r = $c->request($method, $path, %opt);
	$c->close;
	return $r;
}

# ---------------------------------------------------------------------------
package StarterTest::Conn;

# A client connection kept open across requests (keep-alive, pipelining).

use strict;
use warnings;
use Carp;
use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

sub new
{
	my ($class, $srv, %opt) = @_;
	my $port = StarterTest::_port($srv);
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
	    PeerPort => $port, Proto => 'tcp', Timeout => 5)
	    or croak "connect 127.0.0.1:$port: $!";
	$sock->autoflush(1);
	binmode $sock;
	return bless {sock => $sock, port => $port, rbuf => '', eof => 0,
	    write_error => undef}, $class;
}

sub port { return $_[0]{port}; }

# Write all bytes (bounded); a write error is recorded, not fatal, because
# the server may legitimately close early (413, 431...).
sub send
{
	my ($self, $bytes) = @_;
	my $deadline = time + 10;
	my $off = 0;
	my $sel = IO::Select->new($self->{sock});
	while ($off < length $bytes) {
		my $left = $deadline - time;
		if ($left <= 0) { $self->{write_error} = 'timeout'; return 0; }
		next unless $sel->can_write($left);
		my $n = syswrite($self->{sock}, $bytes, length($bytes) - $off,
		    $off);
		if (!defined $n) {
			next if $! == EINTR || $! == EAGAIN;
			$self->{write_error} = "$!";
			return 0;
		}
		$off += $n;
	}
	return 1;
}

# Read once: bytes appended to rbuf.  Returns count, 0 on EOF (or reset),
# undef on timeout.
sub _fill
{
	my ($self, $timeout) = @_;
	return 0 if $self->{eof};
	my $sel = IO::Select->new($self->{sock});
	my $deadline = time + $timeout;
	while (1) {
		my $left = $deadline - time;
		return undef if $left <= 0;
		next unless $sel->can_read($left);
		my $n = sysread($self->{sock}, my $chunk, 65536);
		if (!defined $n) {
			next if $! == EINTR || $! == EAGAIN;
			$self->{read_error} = "$!";
			$self->{eof} = 1;
			return 0;
		}
		if ($n == 0) { $self->{eof} = 1; return 0; }
		$self->{rbuf} .= $chunk;
		return $n;
	}
}

# read_response(method => 'GET', timeout => S, interim => 1)
# Next response off the connection; 1xx are returned only with interim => 1
# and are otherwise collected into the final response's {interim}.  undef
# when the server closed or nothing complete came in time ($self->{eof}
# tells which).
sub read_response
{
	my ($self, %opt) = @_;
	my $timeout = $opt{timeout} // $StarterTest::TIMEOUT;
	my $deadline = time + $timeout;
	my @interim;
	while (1) {
		my $r = StarterTest::_parse_one(\$self->{rbuf}, $opt{method},
		    $self->{eof});
		if ($r) {
			if ($r->{status} >= 100 && $r->{status} < 200) {
				return $r if $opt{interim};
				push @interim, $r;
				next;
			}
			$r->{interim} = \@interim;
			return $r;
		}
		return undef if $self->{eof} && !length $self->{rbuf};
		my $left = $deadline - time;
		return undef if $left <= 0;
		my $n = $self->_fill($left);
		return undef unless defined $n;
		if ($n == 0 && length $self->{rbuf}) {
			# closed mid-response: one last parse with eof
			my $r2 = StarterTest::_parse_one(\$self->{rbuf},
			    $opt{method}, 1);
			if ($r2) { $r2->{interim} = \@interim; return $r2; }
			return undef;
		}
	}
}

sub request
{
	my ($self, $method, $path, %opt) = @_;
	$self->send(StarterTest::build_request($method, $path,
	    port => $self->{port}, %opt));
	my $r = $self->read_response(method => $method,
	    timeout => $opt{timeout});
	return $r // {status => 0, headers => {}, body => '',
	    error => $self->{eof} ? 'connection closed without a response'
	    : 'timeout waiting for the response',
	    write_error => $self->{write_error}};
}

# wait_closed(S): 1 if the server closes the connection within S seconds
# (bytes it sends first are kept in rbuf), 0 otherwise.
sub wait_closed
{
	my ($self, $timeout) = @_;
	my $deadline = time + $timeout;
	while (!$self->{eof}) {
		my $left = $deadline - time;
		return 0 if $left <= 0;
		my $n = $self->_fill($left);
		return 0 unless defined $n;
	}
	return 1;
}

sub closed { return $_[0]{eof}; }

sub close
{
	my ($self) = @_;
	if ($self->{sock}) {
		CORE::close($self->{sock});
		$self->{sock} = undef;
	}
}

sub DESTROY { $_[0]->close; }

# ---------------------------------------------------------------------------
package StarterTest::Pg;

# A private PostgreSQL cluster: trust auth, superuser "starter", database
# "starter", listening on 127.0.0.1:PORT and on a socket in its directory.

use strict;
use warnings;
use Carp;
use Test::More;
use Time::HiRes qw(time sleep);
use File::Basename qw(dirname);

my $PG_BINDIR;

sub _bindir
{
	return $PG_BINDIR if defined $PG_BINDIR;
	my @cand;
	push @cand, $ENV{PG_BINDIR} if $ENV{PG_BINDIR};
	for my $d (split /:/, $ENV{PATH} // '') {
		push @cand, $d if -x "$d/pg_ctl" && -x "$d/initdb";
	}
	if (open my $fh, '-|', 'pg_config --bindir 2>/dev/null') {
		my $d = <$fh>;
		close $fh;
		if (defined $d) { chomp $d; push @cand, $d; }
	}
	push @cand, reverse sort { ($a =~ /(\d+)/)[0] <=> ($b =~ /(\d+)/)[0] }
	    glob('/usr/lib/postgresql/*/bin');
	push @cand, glob('/usr/pgsql-*/bin'), '/usr/local/pgsql/bin';
	for my $d (@cand) {
		if (-x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres") {
			$PG_BINDIR = $d;
			return $d;
		}
	}
	BAIL_OUT('PostgreSQL server binaries (initdb, pg_ctl) not found; '
	    . 'set PG_BINDIR');
}

# Commands touching the data directory run as postgres when we are root.
sub _as_owner
{
	my ($self, @cmd) = @_;
	return $> == 0 ? ('runuser', '-u', $self->{owner}, '--', @cmd) : @cmd;
}

sub new
{
	my ($class, %opt) = @_;
	my $bindir = _bindir();
	my $base = StarterTest::basedir();
	my $dir = File::Temp::tempdir('pg_XXXXXX', DIR => $base,
	    CLEANUP => 0);
	my $self = bless {bindir => $bindir, dir => $dir,
	    datadir => "$dir/data", port => StarterTest::free_port(),
	    user => 'starter', dbname => $opt{dbname} // 'starter',
	    owner => 'postgres', log => "$dir/postgresql.log",
	    running => 0}, $class;
	if ($> == 0) {
		my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
		BAIL_OUT('running as root and no postgres user to run '
		    . 'PostgreSQL as') unless defined $uid;
		chown $uid, $gid, $dir or BAIL_OUT("chown $dir: $!");
	}
	# The data directory inside stays 0700; the socket here must be
	# reachable by starterd's unprivileged workers.
	chmod 0755, $dir;

	my $r = StarterTest::run_cmd([$self->_as_owner("$bindir/initdb",
	    '-D', $self->{datadir}, '-A', 'trust', '-U', $self->{user},
	    '-E', 'UTF8', '--locale=C', '--no-sync')], timeout => 120,
	    env => {LC_ALL => 'C', LANG => undef});
	BAIL_OUT("initdb failed: $r->{out}$r->{err}") if $r->{rc} != 0;

	# postgresql.conf is owned by postgres; append through the owner.
	my $conf = join '', map { "$_\n" }
	    "listen_addresses = '127.0.0.1'",
	    "port = $self->{port}",
	    "unix_socket_directories = '$dir'",
	    'fsync = off', 'synchronous_commit = off',
	    'full_page_writes = off', 'max_connections = 50',
	    "log_min_messages = 'warning'", "log_connections = off";
	$r = StarterTest::run_cmd([$self->_as_owner('sh', '-c',
	    'cat >> "$1"', 'sh', "$self->{datadir}/postgresql.conf")],
	    stdin => $conf);
	BAIL_OUT("cannot write postgresql.conf: $r->{err}") if $r->{rc};

	push @CLUSTERS, $self;
	$self->start;
	$self->psql("CREATE DATABASE $self->{dbname}", dbname => 'postgres');
	$self->start_pgbouncer
	    if ($ENV{STARTERD_TEST_PGBOUNCER} // '') eq '1';
	return $self;
}

# A PgBouncer (transaction pooling, pool_size connections per database)
# in front of this cluster; servers started with pg => $self use it.
sub start_pgbouncer
{
	my ($self, %opt) = @_;
	require StarterCluster;
	my @miss = StarterCluster::missing('pgbouncer');
	BAIL_OUT("STARTERD_TEST_PGBOUNCER=1 but @miss") if @miss;
	my $d = "$self->{dir}/bouncer";
	mkdir $d or BAIL_OUT("mkdir $d: $!");
	$self->{bouncer} = StarterCluster->new(dir => $d);
	$self->{bouncer}->start_pgbouncer(host => $self->{dir},
	    port => $self->{port}, pool_size => $opt{pool_size});
	return $self->{bouncer};
}

sub bouncer { return $_[0]{bouncer}; }

# The DSN of the PgBouncer in front, undef without one.
sub bouncer_dsn
{
	my ($self) = @_;
	return undef unless $self->{bouncer};
	return "host=127.0.0.1 port=" . $self->{bouncer}->pgbouncer_port
	    . " user=$self->{user} dbname=$self->{dbname}";
}

# A streaming standby of this cluster (pg_basebackup -R over the socket),
# started and in recovery: $pg->standby.  The same user and database;
# pause and resume its replay with pause_replay / resume_replay.
sub standby
{
	my ($self) = @_;
	my $base = StarterTest::basedir();
	my $dir = File::Temp::tempdir('pgs_XXXXXX', DIR => $base,
	    CLEANUP => 0);
	my $sb = bless {bindir => $self->{bindir}, dir => $dir,
	    datadir => "$dir/data", port => StarterTest::free_port(),
	    user => $self->{user}, dbname => $self->{dbname},
	    owner => $self->{owner}, log => "$dir/postgresql.log",
	    running => 0, primary => $self}, ref $self;
	if ($> == 0) {
		my ($uid, $gid) = (getpwnam($self->{owner}))[2, 3];
		chown $uid, $gid, $dir or BAIL_OUT("chown $dir: $!");
	}
	chmod 0755, $dir;
	# Next to initdb, else with the server binaries (Debian's wrappers).
	my ($bb) = grep { -x } "$self->{bindir}/pg_basebackup",
	    (map { dirname(readlink($_) // $_) . '/pg_basebackup' }
	    "$self->{bindir}/postgres"), glob('/usr/lib/postgresql/*/bin/'
	    . 'pg_basebackup');
	BAIL_OUT('pg_basebackup not found') unless $bb;
	my $r = StarterTest::run_cmd([$self->_as_owner($bb, '-D', $sb->{datadir}, '-h',
	    $self->{dir}, '-p', $self->{port}, '-U', $self->{user}, '-R',
	    '-X', 'stream', '--no-sync', '-c', 'fast')], timeout => 120);
	BAIL_OUT("pg_basebackup failed: $r->{out}$r->{err}") if $r->{rc};
	# The primary's settings came along; later lines win.
	my $conf = join '', map { "$_\n" } "port = $sb->{port}",
	    "unix_socket_directories = '$dir'", 'hot_standby = on',
	    'max_standby_streaming_delay = -1', 'wal_receiver_status_interval = 1s';
	$r = StarterTest::run_cmd([$self->_as_owner('sh', '-c',
	    'cat >> "$1"', 'sh', "$sb->{datadir}/postgresql.conf")],
	    stdin => $conf);
	BAIL_OUT("cannot write postgresql.conf: $r->{err}") if $r->{rc};
	push @CLUSTERS, $sb;
	$sb->start;
	return $sb;
}

# On a standby: stop or restart applying WAL.
sub pause_replay { $_[0]->psql('SELECT pg_wal_replay_pause()'); }
sub resume_replay { $_[0]->psql('SELECT pg_wal_replay_resume()'); }

# On a standby: wait (up to 20 s) until it has replayed everything its
# primary has written by now; 1 if it did.
sub wait_caught_up
{
	my ($self) = @_;
	my $want = $self->{primary}->psql('SELECT pg_current_wal_insert_lsn()');
	return StarterTest::wait_until(sub {
		$self->psql("SELECT pg_last_wal_replay_lsn() >= '$want'") eq 't'
	}, timeout => 20);
}

sub port { return $_[0]{port}; }
sub host { return $_[0]{dir}; }
sub dir { return $_[0]{dir}; }

# libpq keyword string over the unix socket.
sub dsn
{
	my ($self) = @_;
	return "host=$self->{dir} port=$self->{port} user=$self->{user} "
	    . "dbname=$self->{dbname}";
}

# Same database over TCP.
sub dsn_tcp
{
	my ($self) = @_;
	return "host=127.0.0.1 port=$self->{port} user=$self->{user} "
	    . "dbname=$self->{dbname}";
}

sub _pg_ctl
{
	my ($self, @args) = @_;
	return StarterTest::run_cmd([$self->_as_owner("$self->{bindir}/pg_ctl",
	    '-D', $self->{datadir}, @args)], timeout => 90);
}

sub start
{
	my ($self) = @_;
	my $r = $self->_pg_ctl('-w', '-t', '60', '-l', $self->{log}, 'start');
	if ($r->{rc} != 0) {
		BAIL_OUT("pg_ctl start failed: $r->{out}$r->{err}\n"
		    . $self->log_contents);
	}
	$self->{running} = 1;
	return 1;
}

# mode: fast (default) or immediate.
sub stop
{
	my ($self, $mode) = @_;
	return 1 unless $self->{running};
	my $r = $self->_pg_ctl('-w', '-t', '60', '-m', $mode // 'fast',
	    'stop');
	$self->{running} = 0 if $r->{rc} == 0;
	diag("pg_ctl stop failed: $r->{out}$r->{err}") if $r->{rc} != 0;
	return $r->{rc} == 0;
}

sub restart
{
	my ($self) = @_;
	$self->stop;
	return $self->start;
}

# Load pg_stat_statements (track = all) into the cluster: appended to
# postgresql.conf as its owner, then a restart.  1 on success; the caller
# creates the extension in its database once setup_db ran.
sub with_pg_stat_statements
{
	my ($self) = @_;
	my $r = StarterTest::run_cmd([$self->_as_owner('sh', '-c',
	    'cat >> "$1"', 'sh', $self->{datadir} . '/postgresql.conf')],
	    stdin => "shared_preload_libraries = 'pg_stat_statements'\n"
	    . "pg_stat_statements.track = all\n");
	return $r->{rc} == 0 && $self->restart;
}

# A cluster with pg_stat_statements, the demo data and the extension
# created: the start of every test that counts the statements starterd
# sends.  Reports the restart as a test.
sub new_with_stats
{
	my ($class, %opt) = @_;
	my $self = $class->new(%opt);
	Test::More::ok($self->with_pg_stat_statements,
	    'PostgreSQL restarted with pg_stat_statements');
	StarterTest::setup_db($self);
	$self->psql('CREATE EXTENSION pg_stat_statements');
	return $self;
}

# The calls so far of the statements a WHERE clause over
# pg_stat_statements picks (0 when none ran).
sub calls
{
	my ($self, $where) = @_;
	return $self->psql('SELECT coalesce(sum(calls), 0) FROM '
	    . "pg_stat_statements WHERE $where");
}

sub _psql_bin
{
	my ($self) = @_;
	return -x "$self->{bindir}/psql" ? "$self->{bindir}/psql" : 'psql';
}

# psql($sql, dbname => ..., stdin_file => ...): run SQL, return output
# (-At, '|' separated, chomped).  Dies with psql's message on error.
sub psql
{
	my ($self, $sql, %opt) = @_;
	my @cmd = ($self->_psql_bin, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1',
	    '-h', $self->{dir}, '-p', $self->{port}, '-U', $self->{user},
	    '-d', $opt{dbname} // $self->{dbname});
	push @cmd, '-F', $opt{sep} if defined $opt{sep};
	my $r;
	if (defined $sql) {
		$r = StarterTest::run_cmd([@cmd, '-c', $sql], timeout => 60);
	} else {
		$r = StarterTest::run_cmd(\@cmd, stdin => $opt{stdin},
		    timeout => 60);
	}
	croak "psql failed (rc $r->{rc}): $r->{err}" if $r->{rc} != 0;
	my $out = $r->{out};
	chomp $out;
	return $out;
}

# A psql session kept open (a transaction can span calls):
# my $ses = $pg->session; $ses->do('BEGIN; ...'); ... $ses->close.
sub session
{
	my ($self) = @_;
	return StarterTest::PgSession->new($self);
}

# Rows as array refs (fields separated by \x1f).
sub psql_rows
{
	my ($self, $sql) = @_;
	my $out = $self->psql($sql, sep => "\x1f");
	return [map { [split /\x1f/, $_, -1] } grep { length } split /\n/, $out];
}

sub log_contents
{
	my ($self) = @_;
	open my $fh, '<', $self->{log} or return '';
	local $/;
	my $s = <$fh> // '';
	close $fh;
	return $s;
}

sub _teardown
{
	my ($self) = @_;
	$self->{bouncer}->stop if $self->{bouncer};
	$self->stop('immediate');
}

# ---------------------------------------------------------------------------
package StarterTest::PgSession;

use strict;
use warnings;
use IO::Select;
use IPC::Open2;
use Time::HiRes qw(time);

sub new
{
	my ($class, $pg) = @_;
	my ($out, $in);
	my $pid = open2($out, $in, $pg->_psql_bin, '-X', '-q', '-At', '-v',
	    'ON_ERROR_STOP=1', '-h', $pg->host, '-p', $pg->port, '-U',
	    'starter', '-d', 'starter');
	$in->autoflush(1);
	return bless {pid => $pid, in => $in, out => $out, buf => '',
	    marker => 0}, $class;
}

# Run SQL and wait (up to 20 s) until it completed; its output, or undef.
sub do
{
	my ($self, $sql) = @_;
	my $m = 'ACK_' . ++$self->{marker};
	print {$self->{in}} "$sql\n\\echo $m\n";
	my $sel = IO::Select->new($self->{out});
	my $deadline = time + 20;
	while (1) {
		if ($self->{buf} =~ s/\A(.*?)^\Q$m\E\n//ms) {
			my $o = $1;
			chomp $o;
			return $o;
		}
		my $left = $deadline - time;
		return undef if $left <= 0;
		next unless $sel->can_read($left);
		my $n = sysread($self->{out}, my $chunk, 65536);
		return undef unless $n;
		$self->{buf} .= $chunk;
	}
}

sub close
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'KILL', $self->{pid};
	waitpid($self->{pid}, 0);
	$self->{pid} = undef;
}

sub DESTROY { local $?; $_[0]->close; }

# ---------------------------------------------------------------------------
package StarterTest::Server;

# A starterd on 127.0.0.1:FREEPORT in the foreground, stderr to a log file.
# Options: pg or dsn, workers (2), args, listen, port, env, nowait (do not
# wait for /healthz), expect_fail (a server meant to fail: finish() does not
# check its exit status), bin, start_timeout.

use strict;
use warnings;
use Carp;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);

sub new
{
	my ($class, %opt) = @_;
	my $bin = $opt{bin} // StarterTest::top_builddir() . '/src/starterd';
	BAIL_OUT("$bin not built") unless -x $bin;
	my $port = $opt{port} // StarterTest::free_port();
	my $base = StarterTest::basedir();
	my $n = scalar(@SERVERS) + 1;
	my $self = bless {port => $port, log => "$base/starterd_$n.log",
	    pg => $opt{pg}, exited => 0, expect_fail => $opt{expect_fail}},
	    $class;
	my @argv = ($bin, '-b', $opt{listen} // '127.0.0.1', '-p', $port);
	if (!defined $opt{dsn} && defined $opt{pg} && $opt{pg}->bouncer) {
		# Through PgBouncer: no named statements, LISTEN direct.
		push @argv, '-d', $opt{pg}->bouncer_dsn, '--listen-dsn',
		    $opt{pg}->dsn, '--prepare', 'unnamed';
	} elsif (defined $opt{dsn} || defined $opt{pg}) {
		push @argv, '-d', $opt{dsn} // $opt{pg}->dsn;
	}
	push @argv, '-w', $opt{workers} // 2;
	push @argv, @{$opt{args} // []};
	$self->{argv} = \@argv;

	my $pid = fork // croak "fork: $!";
	if ($pid == 0) {
		delete $ENV{$_} for grep { /^STARTERD_/ } keys %ENV;
		delete $ENV{DATABASE_URL};
		$ENV{$_} = $opt{env}{$_} for keys %{$opt{env} // {}};
		open STDIN, '<', '/dev/null';
		open STDOUT, '>>', $self->{log} or POSIX::_exit(126);
		open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
		{ no warnings q(exec); exec { $argv[0] } @argv; }
		print STDERR "exec $argv[0]: $!\n";
		POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	push @SERVERS, $self;
	return $self if $opt{nowait};

	my $deadline = time + ($opt{start_timeout} // 10);
	while (1) {
		if ($self->_reap(0)) {
			croak "starterd exited during startup (status "
			    . "$self->{status}):\n" . $self->log_contents;
		}
		my $ok = eval {
			my $r = StarterTest::request($self, 'GET', '/healthz',
			    timeout => 1);
			$r->{status} == 200;
		};
		last if $ok;
		if (time > $deadline) {
			my $log = $self->log_contents;
			$self->stop;
			croak "starterd did not answer GET /healthz with 200 "
			    . "within the start timeout:\n$log";
		}
		sleep 0.1;
	}
	return $self;
}

sub port { return $_[0]{port}; }
sub pid { return $_[0]{pid}; }
sub argv { return @{$_[0]{argv}}; }

sub log_contents
{
	my ($self) = @_;
	open my $fh, '<', $self->{log} or return '';
	local $/;
	my $s = <$fh> // '';
	close $fh;
	return $s;
}

# Reap the master if it exited; $block waits.  Returns 1 when it is gone.
sub _reap
{
	my ($self, $block) = @_;
	return 1 if $self->{exited};
	my $w = waitpid($self->{pid}, $block ? 0 : WNOHANG);
	if ($w == $self->{pid} || $w == -1) {
		$self->{status} = $w == -1 ? -1 : $?;
		$self->{exited} = 1;
		return 1;
	}
	return 0;
}

sub alive { my ($self) = @_; return !$self->_reap(0); }

# The wait status of the master once it exited (undef before).
sub exit_status { return $_[0]{exited} ? $_[0]{status} : undef; }

# wait_exit(S): wait up to S seconds for the master to exit by itself.
sub wait_exit
{
	my ($self, $timeout) = @_;
	return StarterTest::wait_until(sub { $self->_reap(0) },
	    timeout => $timeout, interval => 0.05) ? 1 : 0;
}

# SIGTERM, bounded wait, then SIGKILL.  Returns the wait status.
sub stop
{
	my ($self, %opt) = @_;
	return $self->{status} if $self->{exited};
	kill 'TERM', $self->{pid};
	unless ($self->wait_exit($opt{timeout} // 10)) {
		diag("starterd $self->{pid} ignored SIGTERM; sending SIGKILL");
		$self->{killed} = 1;
		kill 'KILL', $self->{pid};
		# workers must not outlive a killed master in the test
		kill 'KILL', $_ for $self->worker_pids;
		$self->_reap(1);
	}
	return $self->{status};
}

# Children of the master right now (from /proc/*/stat).
sub worker_pids
{
	my ($self) = @_;
	my @k = children_of($self->{pid});
	# In scalar context: how many (sort in scalar context is undefined).
	return wantarray ? @k : scalar @k;
}

# A keep-alive connection served by the worker $pid, known by construction
# (no /proc/PID/fd, which a container or another user may not read): the
# other workers are paused with SIGSTOP while it is made and answered, so
# the one left running accepted it (a stopped process is not waiting in
# epoll_wait, so the kernel cannot hand it the connection).  undef if that
# worker does not answer $path with 200 (default /healthz).
sub conn_to_worker
{
	my ($self, $pid, %o) = @_;
	my $path = $o{path} // '/healthz';
	my @others = grep { $_ != $pid } $self->worker_pids;
	kill 'STOP', @others if @others;
	my $c = StarterTest::Conn->new($self);
	my $r = $c->request('GET', $path, timeout => $o{timeout} // 5);
	kill 'CONT', @others if @others;
	return $c if $r && $r->{status} == 200;
	$c->close;
	return undef;
}

# Wait until every worker answers /readyz (its own database connection
# works), asking each one in turn; false on timeout.
sub wait_workers_ready
{
	my ($self, %o) = @_;
	my $deadline = Time::HiRes::time() + ($o{timeout} // 15);
	for my $pid ($self->worker_pids) {
		my $c;
		until ($c = $self->conn_to_worker($pid, path => '/readyz',
		    timeout => 2)) {
			return 0 if Time::HiRes::time() > $deadline;
			Time::HiRes::sleep(0.05);
		}
		$c->close;
	}
	return 1;
}

sub children_of
{
	my ($ppid) = @_;
	my @kids;
	opendir my $d, '/proc' or return ();
	for my $p (grep { /^\d+$/ } readdir $d) {
		open my $fh, '<', "/proc/$p/stat" or next;
		my $s = <$fh>;
		close $fh;
		next unless defined $s;
		my $rp = rindex($s, ')');
		next if $rp < 0;
		my @f = split ' ', substr($s, $rp + 2);
		# f[0] = state, f[1] = ppid
		next if $f[0] eq 'Z';
		push @kids, $p + 0 if $f[1] == $ppid;
	}
	closedir $d;
	return sort { $a <=> $b } @kids;
}

sub _teardown
{
	my ($self) = @_;
	my @w = $self->{exited} ? () : $self->worker_pids;
	$self->stop(timeout => 5);
	kill 'KILL', grep { kill 0, $_ } @w;
}

# ---------------------------------------------------------------------------
package StarterTest;

# finish(): stop every server still running and check what they left behind,
# then done_testing.  Call it instead of done_testing.  Each server must shut
# down with status 0 and its log must hold no sanitizer report and no
# worker death other than the SIGKILLs a test sent on purpose.
sub finish
{
	my (%opt) = @_;
	for my $s (@SERVERS) {
		my $n = "starterd on port $s->{port}";
		my $st = $s->stop;
		ok(!$s->{killed} && defined $st && $st == 0,
		    "$n: exited with status 0 on SIGTERM")
		    or diag("wait status " . ($st // 'none'))
		    unless $s->{expect_fail};
		my $log = $s->log_contents;
		my @san = $log =~ /^(.*(?:AddressSanitizer|LeakSanitizer|
		    UndefinedBehaviorSanitizer|ThreadSanitizer|
		    runtime\ error:).*)$/mgx;
		ok(!@san, "$n: no sanitizer report in the log")
		    or diag(join "\n", @san);
		my @deaths = grep { !/killed by signal 9\b/ }
		    $log =~ /^(.*(?:killed by signal|exited with status) \d+.*)$/mg;
		ok(!@deaths, "$n: no worker crashed or failed")
		    or diag(join "\n", @deaths);
	}
	done_testing();
}

END {
	my $status = $?;
	for my $s (reverse @SERVERS) { eval { $s->_teardown }; }
	my $failed = !Test::More->builder->is_passing || $status != 0;
	if ($failed) {
		for my $s (@SERVERS) {
			diag("---- starterd log ($s->{log}, argv: "
			    . join(' ', @{$s->{argv}}) . ")");
			diag($s->log_contents);
		}
		for my $c (@CLUSTERS) {
			diag("---- postgresql log ($c->{log})");
			diag($c->log_contents);
			diag($c->{bouncer}->logs) if $c->{bouncer};
		}
	}
	for my $c (reverse @CLUSTERS) { eval { $c->_teardown }; }
	if (defined $BASEDIR) {
		if ($failed || $ENV{STARTERD_TEST_KEEP}) {
			diag("test files kept in $BASEDIR");
		} else {
			rmtree($BASEDIR);
		}
	}
	$? = $status;
}

1;
