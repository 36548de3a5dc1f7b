#!/usr/bin/perl
# query.c: the collection query language (filters, sort, fields, q=,
# counts, cursors) on resources bound from made-up catalog documents
# (t/unit/query_test.c).
use strict;
use warnings;

my $top = $ENV{TOP_BUILDDIR} // '.';
exec "$top/t/unit/query_test"
    or die "cannot run $top/t/unit/query_test: $!\n";
