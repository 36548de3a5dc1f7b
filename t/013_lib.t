#!/usr/bin/perl
# lib/clock, lib/hex, lib/seqlock: the small leaf helpers.
use strict;
use warnings;

my $top = $ENV{TOP_BUILDDIR} // '.';
exec "$top/t/unit/lib_test"
    or die "cannot run $top/t/unit/lib_test: $!\n";
