# t/064-honest-stats.t on the PostgreSQL job store: the same blocks, with every engine
# on a private PostgreSQL server (TEST_PRT_STORE=pg, PatternRT::Engine and
# PatternRT::Pg), its database made and migrated with each fresh data dir.
# Skipped, saying why, where PostgreSQL 15 is not installed.

use lib 't/lib';
use PatternRT::Pg;

BEGIN {
    my $why = PatternRT::Pg::unavailable();
    if ($why) {
        require Test::More;
        Test::More::plan(skip_all => $why);
    }
    $ENV{TEST_PRT_STORE} = 'pg';
}

my $suite = './t/064-honest-stats.t';
do $suite;
die "$suite: $@" if $@;
