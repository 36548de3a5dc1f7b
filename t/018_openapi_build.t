#!/usr/bin/perl
# openapi_build(): the OpenAPI document of hand-filled resources
# (t/unit/openapi_test.c); t/098_openapi.t checks a real server's.
use strict;
use warnings;

my $top = $ENV{TOP_BUILDDIR} // '.';
exec "$top/t/unit/openapi_test"
    or die "cannot run $top/t/unit/openapi_test: $!\n";
