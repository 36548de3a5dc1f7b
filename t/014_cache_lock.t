#!/usr/bin/perl
# The cache's stripe locks: bounded waits on a lock a stopped process holds.
use strict;
use warnings;

my $top = $ENV{TOP_BUILDDIR} // '.';
exec "$top/t/unit/cache_test"
    or die "cannot run $top/t/unit/cache_test: $!\n";
