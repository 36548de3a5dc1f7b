#!/usr/bin/perl
# lib/buf: the bounded growable buffer.
use strict;
use warnings;

my $top = $ENV{TOP_BUILDDIR} // '.';
exec "$top/t/unit/buf_test"
    or die "cannot run $top/t/unit/buf_test: $!\n";
