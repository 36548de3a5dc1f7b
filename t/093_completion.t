# 093_completion: the bash completions in etc/bash-completion complete the
# options that `starterd -h` and `starterctl -h` list, starterctl's
# commands and each command's own options, and the values of the options
# that take one of a few words.  Runs bash on the files of the source tree
# with the built binaries first in PATH; needs no database.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use StarterTest;
use Test::More;

my ($bash) = grep { -x } map { "$_/bash" } split /:/, $ENV{PATH} // "";
plan skip_all => 'no bash' unless $bash;
$ENV{PATH} = top_builddir() . "/src:$ENV{PATH}";
my $dir = top_srcdir() . '/etc/bash-completion';

# complete(CMD, WORDS...): COMPREPLY for the last word of CMD WORDS...
sub complete
{
	my ($cmd, @words) = @_;
	my $script = <<'SH';
. "$1/$2" || exit 3
shift
COMP_WORDS=("$@")
COMP_CWORD=$(($# - 1))
"_$1"
printf '%s\n' "${COMPREPLY[@]}"
SH
	my $r = run_cmd([$bash, '--norc', '--noprofile', '-c', $script, 'sh',
	    $dir, $cmd, @words], timeout => 20);
	is($r->{rc}, 0, "complete '$cmd @words': bash ran")
	    or diag($r->{err});
	return [ sort grep { $_ ne '' } split /\n/, $r->{out} ];
}

for my $cmd (qw(starterd starterctl)) {
	ok(-f "$dir/$cmd", "etc/bash-completion/$cmd exists");
}

# starterd: every option of -h, from "-" and from each one's prefix.
my $h = run_cmd([top_builddir() . '/src/starterd', '-h'])->{out};
my @opts = sort grep { defined } $h =~ /^\s+(?:(-\w), )?(--[\w-]+)/mg;
ok(@opts > 30, 'starterd -h lists over 30 options');
is_deeply(complete('starterd', '-'), \@opts,
    'starterd -<TAB>: exactly the options of starterd -h');
my $all = 1;
for my $o (grep { /^--/ } @opts) {
	my $got = complete('starterd', substr($o, 0, length($o) - 1));
	$all = 0, diag("$o not completed from its prefix")
	    unless grep { $_ eq $o } @$got;
}
ok($all, 'every long option completes from its prefix');
is_deeply(complete('starterd', '--met'), ['--metrics'], '--met: --metrics');
is_deeply(complete('starterd', '--metrics', ''),
    [sort qw(auth loopback on off)], '--metrics <TAB>: its four modes');
is_deeply(complete('starterd', '-l', 'w'), ['warn'], '-l w: warn');
is_deeply(complete('starterd', '--auth', ''), [sort qw(both password token)],
    '--auth <TAB>: both password token');
is_deeply(complete('starterd', '-p', ''), [], '-p <TAB>: no guess');
is_deeply(complete('starterd', '-s', '--sys'), ['--syslog'],
    'after a flag without a value, options again');
is_deeply(complete('starterd', '--config', "$dir/starterc"),
    ["$dir/starterctl"], '--config: file names');

# starterctl: commands, global options, each command's options.
$h = run_cmd([top_builddir() . '/src/starterctl', '-h'])->{out};
my ($cmds) = $h =~ /^commands:\n((?:  .*\n)+)/m;
my @cmds = sort map { /^\s+(\S+)/ } split /\n/, $cmds // '';
ok(grep({ $_ eq 'status' } @cmds) && grep({ $_ eq 'initdb' } @cmds),
    'starterctl -h lists its commands');
is_deeply(complete('starterctl', ''), \@cmds,
    'starterctl <TAB>: exactly the commands of starterctl -h');
is_deeply(complete('starterctl', 'st'), ['status'], 'st: status');
is_deeply(complete('starterctl', '-d', 'dbname=x', 'lo'), ['load-demo'],
    'after -d DSN: the commands');
is_deeply(complete('starterctl', '-d', ''), [], '-d <TAB>: no guess');
is_deeply(complete('starterctl', '-'),
    [sort qw(-d --argon2-memory --argon2-time -h --help -V --version)],
    'starterctl -<TAB>: the global options of -h');
is_deeply(complete('starterctl', 'resetdb', '-'), ['--yes'],
    'resetdb -<TAB>: --yes');
is_deeply(complete('starterctl', 'adduser', 'bob', '--'),
    ['--password-stdin'], 'adduser NAME --<TAB>: --password-stdin');
is_deeply(complete('starterctl', 'users', '-'), [],
    'users -<TAB>: nothing (it takes no option)');
is_deeply(complete('starterctl', 'group', ''), [qw(add del list)],
    'group <TAB>: its subcommands add, del and list');
is_deeply(complete('starterctl', 'group', 'l'), ['list'], 'group l: list');
is_deeply(complete('starterctl', 'group', 'add', ''), [],
    'group add <TAB>: no guess at a user');
is_deeply(complete('starterctl', 'resources', ''), [qw(check install list)],
    'resources <TAB>: list, check, install');
is_deeply(complete('starterctl', 'resources', 'check', '-'), ['-f'],
    'resources check -<TAB>: -f');
is_deeply(complete('starterctl', 'resources', '-f', "$dir/starterc"),
    ["$dir/starterctl"], 'resources -f: file names');
is_deeply(complete('starterctl', 'resources', '-f', 'x.conf', 'in'),
    ['install'], 'resources -f FILE in: install (after the value of -f)');
is_deeply(complete('starterctl', 'initdb', '-'), ['-f'], 'initdb -<TAB>: -f');

done_testing();
