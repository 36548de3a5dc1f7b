#!/usr/bin/perl
# 010_http_parser: run the C unit tests of src/http.c (TAP on stdout).
use strict;
use warnings;

my $top = $ENV{TOP_BUILDDIR} // '.';
exec("$top/t/unit/http_test") or die "cannot exec $top/t/unit/http_test: $!";
