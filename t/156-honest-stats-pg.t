# t/064-honest-stats.t on the PostgreSQL job store: the same blocks, with every engine
# on a private PostgreSQL server, its database made and migrated with each
# fresh data dir. Skipped, saying why, where PostgreSQL 15 is not installed.

use lib 't/lib';
use PatternRT::Pg;

PatternRT::Pg::rerun('./t/064-honest-stats.t');
