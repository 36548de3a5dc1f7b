#!/usr/bin/perl
# lib/password: argon2id hashing, argon2 and werkzeug pbkdf2 verification.
use strict;
use warnings;

my $top = $ENV{TOP_BUILDDIR} // '.';
exec "$top/t/unit/password_test"
    or die "cannot run $top/t/unit/password_test: $!\n";
