# StarterLoad: a steady request stream from a child process, for tests that
# signal the server or the database while requests keep coming.
#
#   my $load = StarterLoad->start($srv, path => '/healthz', auth => 'u:p');
#   ...				# SIGHUP, stop PostgreSQL, ...
#   my @r = $load->stop;	# ({t0 (sent), t (answered), status,
#				#   retry_after, conn, retried, error}, ...)
#
# The child alternates a keep-alive connection (several requests in a row)
# and fresh connections.  Like any HTTP client (RFC 9112 9.3.1), it retries
# an idempotent request once on a new connection when a reused keep-alive
# connection was closed before any byte of the response arrived; such
# requests are marked retried.  A request fails when no response comes on a
# fresh connection, or the retry fails too.
package StarterLoad;

use strict;
use warnings;
use Carp;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);
use StarterTest;

sub start
{
	my ($class, $srv, %opt) = @_;
	my $out = StarterTest::basedir() . "/load_$$" . '_' . int(rand(1e9));
	my $pid = fork // croak "fork: $!";
	if ($pid == 0) {
		my $stop = 0;
		$SIG{TERM} = sub { $stop = 1; };
		$SIG{INT} = $SIG{HUP} = 'DEFAULT';
		eval { _run($srv, $out, \$stop, %opt); };
		POSIX::_exit(0);
	}
	return bless {pid => $pid, out => $out}, $class;
}

sub _one
{
	my ($c, %opt) = @_;
	return $c->request('GET', $opt{path} // '/healthz',
	    (defined $opt{auth} ? (auth => $opt{auth}) : ()),
	    timeout => $opt{timeout} // 10);
}

sub _run
{
	my ($srv, $out, $stop, %opt) = @_;
	open my $fh, '>', $out or die "$out: $!";
	$fh->autoflush(1);
	my $ka;
	my $ka_left = 0;
	my $n = 0;
	while (!$$stop) {
		my ($r, $kind, $retried) = (undef, 'new', 0);
		my $t0 = time;
		if ($n++ % 2 == 0) {
			# keep-alive: up to 10 requests on one connection
			if (!$ka || $ka_left <= 0 || $ka->closed) {
				$ka->close if $ka;
				$ka = eval { StarterTest::Conn->new($srv) };
				$ka_left = 10;
				$kind = 'ka-first';
			} else {
				$kind = 'ka';
			}
			if ($ka) {
				my $reused = $kind eq 'ka';
				$r = _one($ka, %opt);
				$ka_left--;
				if (!$r->{status} && $reused && $ka->closed
				    && !length($ka->{rbuf} // '')) {
					$ka->close;
					$ka = eval { StarterTest::Conn->new($srv) };
					$ka_left = 10;
					$retried = 1;
					$r = $ka ? _one($ka, %opt)
					    : {status => 0, error => 'connect'};
				}
				if ($r->{headers}{connection}
				    && $r->{headers}{connection} =~ /close/i) {
					$ka->close;
					$ka = undef;
				}
			} else {
				$r = {status => 0, error => "connect: $@"};
			}
		} else {
			my $c = eval { StarterTest::Conn->new($srv) };
			$r = $c ? _one($c, %opt) : {status => 0,
			    error => 'connect refused'};
			$c->close if $c;
		}
		my $err = $r->{error} // '';
		$err =~ s/\s+/ /g;
		printf $fh "%.6f %.6f %d %s %s %d %s\n", $t0, time, $r->{status},
		    $r->{headers}{'retry-after'} // '-', $kind, $retried,
		    $err eq '' ? '-' : $err;
		sleep($opt{interval}) if $opt{interval};
	}
	close $fh;
}

# Stop the child (bounded) and return its records.
sub stop
{
	my ($self) = @_;
	kill 'TERM', $self->{pid};
	my $deadline = time + 15;
	while (waitpid($self->{pid}, WNOHANG) == 0) {
		if (time > $deadline) {
			kill 'KILL', $self->{pid};
			waitpid($self->{pid}, 0);
			last;
		}
		sleep 0.05;
	}
	my @r;
	open my $fh, '<', $self->{out} or return ();
	while (my $l = <$fh>) {
		chomp $l;
		my ($t0, $t, $st, $ra, $kind, $retried, $err) = split / /, $l, 7;
		next unless defined $err;
		push @r, {t0 => $t0, t => $t, status => $st, retry_after => $ra,
		    conn => $kind, retried => $retried, error => $err};
	}
	close $fh;
	return @r;
}

# How many records so far (without stopping).
sub count
{
	my ($self) = @_;
	open my $fh, '<', $self->{out} or return 0;
	my $n = 0;
	$n++ while <$fh>;
	close $fh;
	return $n;
}

1;
