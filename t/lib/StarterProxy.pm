# StarterProxy: a TCP relay on 127.0.0.1 that a test can freeze, to hold
# back what a server sends to one client (a PostgreSQL connection whose
# notifications must arrive late):
#
#   my $px = StarterProxy->new(to => $pg->port);	# listening, a child
#   ... "host=127.0.0.1 port=" . $px->port ...
#   $px->freeze;	# nothing more goes from the server to the clients
#   $px->thaw;		# what was held back flows again
#
# Client to server traffic always flows.  The relay is a forked child,
# killed by stop or at the END of the test.  Core Perl only.
package StarterProxy;

use strict;
use warnings;
use Carp;
use IO::Select;
use IO::Socket::INET;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(sleep);

my @PROXIES;

sub new
{
	my ($class, %opt) = @_;
	my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
	    Proto => 'tcp', Listen => 16, ReuseAddr => 1)
	    or croak "proxy listen: $!";
	my $self = bless {port => $l->sockport, to => $opt{to}}, $class;
	my $pid = fork // croak "fork: $!";
	if ($pid == 0) {
		_run($l, $opt{to});
		POSIX::_exit(0);
	}
	close $l;
	$self->{pid} = $pid;
	push @PROXIES, $self;
	return $self;
}

sub port { return $_[0]{port}; }

# Signals are handled between two selects: give the child that long.
sub freeze { kill 'USR1', $_[0]{pid}; sleep 0.2; }
sub thaw { kill 'USR2', $_[0]{pid}; sleep 0.2; }

sub stop
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'KILL', $self->{pid};
	waitpid($self->{pid}, 0);
	$self->{pid} = undef;
}

sub _run
{
	my ($l, $to) = @_;
	my $frozen = 0;
	local $SIG{USR1} = sub { $frozen = 1; };
	local $SIG{USR2} = sub { $frozen = 0; };
	local $SIG{TERM} = sub { POSIX::_exit(0); };
	my (%peer, %is_server);
	my $sel = IO::Select->new($l);
	while (1) {
		# Frozen: server sockets are not read (the kernel holds it).
		my @want = grep { !($frozen && $is_server{$_}) } $sel->handles;
		my @ready = IO::Select->new(@want)->can_read(0.05);
		for my $s (@ready) {
			if ($s == $l) {
				my $c = $l->accept or next;
				my $u = IO::Socket::INET->new(PeerAddr =>
				    '127.0.0.1', PeerPort => $to, Proto => 'tcp');
				unless ($u) {
					close $c;
					next;
				}
				$peer{$c} = $u;
				$peer{$u} = $c;
				$is_server{$u} = 1;
				$sel->add($c, $u);
				next;
			}
			next if $frozen && $is_server{$s};
			my $n = sysread($s, my $buf, 65536);
			my $o = $peer{$s};
			if (!$n) {
				for my $h ($s, $o) {
					next unless $h;
					$sel->remove($h);
					delete $peer{$h};
					delete $is_server{$h};
					close $h;
				}
				next;
			}
			my $off = 0;
			while ($off < $n) {
				my $w = syswrite($o, $buf, $n - $off, $off);
				last unless defined $w;
				$off += $w;
			}
		}
	}
}

END {
	local $?;
	$_->stop for @PROXIES;
}

1;
