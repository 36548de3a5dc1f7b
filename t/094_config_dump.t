#!/usr/bin/perl
# 094_config_dump: starterd -T prints the effective configuration (issue
# 13): every setting of -h, one line each as "key = value # origin", the
# origin the source that won (flag, environment, file:line, default),
# passwords masked in every form of a DSN, exit 0; a bad value is still
# one line and exit 1; the output is a configuration file that gives the
# same values back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;

my $bin = StarterTest::top_builddir() . '/src/starterd';
my $dir = StarterTest::basedir();
my %clean = map { $_ => undef } grep { /^(STARTERD_|DATABASE_URL$|PG)/ }
    keys %ENV;

sub dump_of
{
	my ($argv, %env) = @_;
	my $r = StarterTest::run_cmd([$bin, @$argv], env => {%clean, %env});
	my (%v, %o, @dup);
	for (split /\n/, $r->{out}) {
		my ($k, $val, $from) = /^(\w+) = (.*?)\t# (.*)$/ or next;
		next if $k eq 'resource';
		push @dup, $k if exists $v{$k};
		$v{$k} = $val;
		$o{$k} = $from;
	}
	return {%$r, v => \%v, o => \%o, dup => \@dup};
}

sub write_file
{
	my ($name, $text) = @_;
	my $f = "$dir/$name";
	open my $fh, '>', $f or die "$f: $!";
	print $fh $text;
	close $fh;
	return $f;
}

# Every setting -h lists (its flags without a value are not settings).
my $help = StarterTest::run_cmd([$bin, '-h'])->{out};
my @settings = map { tr/-/_/r } grep { !/^(help|version|test|show-config)$/ }
    $help =~ /^\s+(?:-\w, )?--([\w-]+)/mg;
ok(@settings > 30, scalar(@settings) . ' settings in -h');
like($help, qr/^\s+-T, --show-config\s/m, '-h lists -T, --show-config');
like($help, qr/^usage: starterd \[-htTV\]/, 'the usage line has -T');

# --- sources ----------------------------------------------------------------

my $conf = write_file('a.conf', "# a comment\nport = 6001\nauth = token\n"
    . "idle_timeout = 30\n");
my $d = dump_of(['-T', '-f', $conf, '-w', '3', '--idle-timeout', '45'],
    STARTERD_LOG_LEVEL => 'debug', STARTERD_AUTH => 'password',
    DATABASE_URL => 'postgresql://alice:Se3cr3t%21@db.example:5433/app'
    . '?sslmode=require&sslpassword=K3yPass');
is($d->{rc}, 0, '-T: exit 0') or diag($d->{err});
is($d->{err}, '', '-T: nothing on stderr');
is_deeply($d->{dup}, [], 'no setting printed twice');
is_deeply([grep { !exists $d->{v}{$_} } @settings], [],
    'every setting of -h is printed');
is_deeply([sort keys %{$d->{v}}], [sort @settings],
    '... and nothing else');
my @lines = grep { !/^resource = / } split /\n/, $d->{out};
is(scalar @lines, scalar @settings, 'one line per setting');
is("$d->{v}{port} | $d->{o}{port}", "6001 | file $conf:2",
    'port: the file, its line');
is("$d->{v}{auth} | $d->{o}{auth}", 'password | environment STARTERD_AUTH',
    'auth: the environment over the file');
is("$d->{v}{idle_timeout} | $d->{o}{idle_timeout}",
    '45 | flag --idle-timeout', 'idle_timeout: the flag over the file');
is("$d->{v}{workers} | $d->{o}{workers}", '3 | flag --workers',
    'workers: a short flag (-w) is its setting');
is("$d->{v}{log_level} | $d->{o}{log_level}",
    'debug | environment STARTERD_LOG_LEVEL', 'log_level: the environment');
is("$d->{v}{listen} | $d->{o}{listen}", '127.0.0.1 | default',
    'listen: the default');
is("$d->{v}{cache_size} | $d->{o}{cache_size}", '67108864 | default',
    'cache_size: the default, in bytes');
is("$d->{v}{config} | $d->{o}{config}", "$conf | flag --config",
    'config: -f');
is($d->{o}{dsn}, 'environment DATABASE_URL', 'dsn: from DATABASE_URL');
unlike($d->{out}, qr/Se3cr3t|K3yPass/, 'no password is printed');
like($d->{v}{dsn}, qr/\bpassword='\*\*\*\*'/, "the DSN's password: ****");
like($d->{v}{dsn}, qr/\bsslpassword='\*\*\*\*'/, '... and sslpassword');
like($d->{v}{dsn}, qr/\buser='alice'/, '... the rest is shown');
like($d->{v}{dsn}, qr/\bhost='db\.example'/, '... host too');
like($d->{out}, qr/^resource = pxcodes\t# default \(built in\)$/m,
    'the built-in resource');

# The output is a configuration file giving the same values back.
my $rt = write_file('rt.conf', join("\n", grep { !/^(config|resource) = / }
    split /\n/, $d->{out}) . "\n");
my $d2 = dump_of(['-T', '-f', $rt]);
is($d2->{rc}, 0, 'the output read back as a file: ok') or diag($d2->{err});
is_deeply({map { $_ => $d2->{v}{$_} } grep { $_ ne 'config' } @settings},
    {map { $_ => $d->{v}{$_} } grep { $_ ne 'config' } @settings},
    '... the same values');
is(scalar(grep { $d2->{o}{$_} =~ /^file \Q$rt\E:\d+$/ } @settings),
    @settings - 1, '... each from its line of the file');

# --- secrets in every form ----------------------------------------------------

$d = dump_of(['-T', '-f', '/dev/null', '--dsn',
    "host=/run/pg dbname=app password='it\\'s s3cret' user=bob"]);
is($d->{o}{dsn}, 'flag --dsn', '--dsn: a flag');
unlike($d->{out}, qr/s3cret/, 'key=value DSN: the password is not shown');
like($d->{v}{dsn}, qr/password='\*\*\*\*'/, '... it is ****');
$d = dump_of(['-T', '-f', '/dev/null'],
    STARTERD_DSN => 'postgres://bob:pa55word@localhost/app');
is($d->{o}{dsn}, 'environment STARTERD_DSN', 'STARTERD_DSN: environment');
unlike($d->{out}, qr/pa55word/, 'URI DSN: the password is not shown');
my $dsnf = write_file('dsn', "host=/tmp password=f1lepass\n");
$d = dump_of(['-T', '-f', '/dev/null', '--dsn-file', $dsnf]);
is($d->{o}{dsn}, "file $dsnf, named by dsn_file", 'dsn: read from dsn_file');
is($d->{o}{dsn_file}, 'flag --dsn-file', 'dsn_file: a flag');
unlike($d->{out}, qr/f1lepass/, "the dsn file's password is not shown");
$d = dump_of(['-T', '-f', '/dev/null', '--dsn', 'host=x password="unclosed']);
unlike($d->{out}, qr/unclosed/, 'a DSN libpq cannot parse is not shown');
$d = dump_of(['-T', '-f', '/dev/null']);
is($d->{v}{dsn}, '', 'no DSN: empty');
like($d->{o}{dsn}, qr/^default \(libpq's PG\* variables\)$/, '... said so');

# --- the default file, bad values ---------------------------------------------

$d = dump_of(['-T']);
SKIP: {
	skip 'the default config file exists here', 3
	    if ($d->{v}{config} // '') eq '' || -e $d->{v}{config};
	is($d->{rc}, 0, 'the default config file missing: -T exit 0');
	is($d->{err}, '', '... nothing on stderr');
	is($d->{o}{config}, 'default (not found: not read)',
	    '... and the config line says it was not read');
}
$d = dump_of(['-T', '-f', '/dev/null', '--port', 'abc']);
is($d->{rc}, 1, 'a bad value: exit 1');
is($d->{out}, '', '... nothing printed');
like($d->{err}, qr/\Astarterd: --port: "abc" [^\n]*\n\z/,
    '... its one line on stderr');
my $blk = write_file('res.conf', StarterTest::sample_resources());
$d = dump_of(['-T', '-f', $blk]);
my @res = $d->{out} =~ /^resource = (\S+)\t# file \Q$blk\E$/mg;
ok(@res >= 2, "declared resources, each on a line: @res");

done_testing();
