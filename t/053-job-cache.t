# The worker's cache of finished jobs (pattern_rt_job_cache, docs/ipc.md
# "Cacheable answers"): repeated reads of a finished job are answered by
# the nginx worker with the engine's exact bytes; a verification (an event
# on the job's stream) makes the next read go to the engine again and show
# it; an engine restart empties the cache; `off` turns it off. One worker,
# so that /health shows the counters of the worker that answered.

use lib 't/lib';
use PatternRT::Test;

use PatternRT::Jobs qw(PRT call_api run_job wait_job health history_all
                       wait_workers_connected ny_instant);
use PatternRT::WSEvents qw(flat_day post_minute feed_clock);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo" && -d "$FIXTURES/demo-flat";

our @FLAT = sort glob "$FIXTURES/demo-flat/*.csv.gz";
our $DAY = flat_day($FLAT[-1]);
our @TICKERS = sort keys %{ $DAY->{tickers} };
our $OPEN = ny_instant($DAY->{date}, '10:00');
our $HORIZON = 5;

workers(1);
engine_config(data => "$FIXTURES/demo", clock => 'feed');

sub cache_stats {
    return health()->{nginx}{job_cache};
}

# GET twice: the raw bodies and the cache's counters around each
sub read_twice {
    my ($path) = @_;

    my $before = cache_stats();
    my $first = call_api('GET', $path);
    my $mid = cache_stats();
    my $second = call_api('GET', $path);
    my $after = cache_stats();
    return ($first, $second, $before, $mid, $after);
}

# The bars of the minutes from $from (UTC s) on, $n of them: the feed
# clock moves with them.
sub post_minutes {
    my ($from, $n) = @_;

    post_minute($DAY, $from + 60 * $_) for 0 .. $n - 1;
}

# A finished job scanned on the feed clock at 10:00 (posted first).
sub finished_job {
    post_minutes($OPEN, 1) if feed_clock() < $OPEN + 60;
    my $run = run_job({ symbols => [@TICKERS], horizon => $HORIZON });
    return wait_job($run->{job_id});
}

run_tests();

__DATA__

=== TEST 1: a finished job is answered by the worker after the first read, byte for byte
--- config
    location / {
        pattern_rt_api;
    }
--- init
wait_workers_connected();
our $JOB = finished_job();
--- request
GET /health
--- post_request
my $id = $JOB->{job_id};
ok(@{ $JOB->{results} } > 0, scalar(@{ $JOB->{results} }) . ' results');
is($JOB->{status}, 'completed', 'the job is finished');

my ($a, $b, $s0, $s1, $s2) = read_twice(PRT . "/job/$id");
is($a->{code}, 200, 'first read: 200');
is($b->{code}, 200, 'second read: 200');
is($b->{body}, $a->{body}, 'the second read has the bytes of the first');
ok($s1->{entries} >= 1 && $s1->{stored} >= 1,
   'a read of the finished job was kept (wait_job\'s own or the first)');
is($s2->{hits} - $s1->{hits}, 1, 'the second is answered from the cache');
like($b->{response}->header('Content-Type') // '', qr{^application/json},
     'the same Content-Type');

my ($r1, $r2, $t0, $t1, $t2) =
    read_twice(PRT . "/job/$id/results?limit=3&sort_by=prob_up");
is($r2->{body}, $r1->{body}, '/results: the same bytes twice');
is($t2->{hits} - $t1->{hits}, 1, '/results: answered from the cache');
my $other = call_api('GET', PRT . "/job/$id/results?limit=4&sort_by=prob_up");
is(scalar @{ $other->{json}{results} }, 4,
   'other arguments are another entry: limit 4 gives 4');

my $none = call_api('GET', PRT . '/job/0badc0de-0000-4000-8000-000000000000');
my $again = call_api('GET', PRT . '/job/0badc0de-0000-4000-8000-000000000000');
is($again->{code}, 404, 'an unknown job stays 404');
is(cache_stats()->{entries}, $t2->{entries} + 1,
   'a 404 is not kept (only the new /results entry was)');
--- no_error_log
[error]



=== TEST 2: a verification drops the job's entry: the next read shows it
--- config
    location / {
        pattern_rt_api;
    }
--- init
wait_workers_connected();
our $JOB = finished_job();
--- request
GET /health
--- post_request
my $id = $JOB->{job_id};
my $path = PRT . "/job/$id";
my ($a, $b, undef, undef, $s) = read_twice($path);
is($b->{body}, $a->{body}, 'cached before the bars come');
ok(!grep({ defined $_->{was_correct} } @{ $a->{json}{results} }),
   'nothing verified yet');

# past t+h and the 60 s grace: every prediction of the job is due
post_minutes(feed_clock(), $HORIZON + 3);
my $after = PatternRT::Util::wait_until(sub {
    my $r = call_api('GET', $path);
    (grep { defined $_->{was_correct} } @{ $r->{json}{results} }) ? $r : undef;
}, 20, 'the verifications to show in GET /job');

my $d = cache_stats();
ok($d->{dropped} > $s->{dropped}, 'the verification event dropped the entry');
my %h = map { $_->{prediction_id} => $_ } history_all();
my @stale = grep {
    my $e = $h{$_->{prediction_id}};
    !$e || ($e->{was_correct} // 'null') ne ($_->{was_correct} // 'null')
        || ($e->{actual_return} // 'null') ne ($_->{actual_return} // 'null')
} @{ $after->{json}{results} };
ok(!@stale, 'GET /job agrees with /history (read by the engine) on every '
            . 'verification field') or diag(scalar(@stale) . ' differ');
--- no_error_log
[error]



=== TEST 3: an engine restart empties the cache
--- config
    location / {
        pattern_rt_api;
    }
--- init
wait_workers_connected();
our $JOB = finished_job();
call_api('GET', PRT . "/job/$JOB->{job_id}") for 1 .. 2;
our $BEFORE = cache_stats();
engine_restart();
wait_workers_connected();
--- request
GET /health
--- post_request
ok($BEFORE->{entries} >= 1, "entries before the restart: $BEFORE->{entries}");
is(cache_stats()->{entries}, 0, 'none after it');
my $r = call_api('GET', PRT . "/job/$JOB->{job_id}");
is($r->{code}, 200, 'the job reads again from the engine');
--- no_error_log
[alert]
[crit]



=== TEST 4: pattern_rt_job_cache off: every read goes to the engine
--- http_config
    pattern_rt_job_cache off;
--- config
    location / {
        pattern_rt_api;
    }
--- init
wait_workers_connected();
our $JOB = finished_job();
--- request
GET /health
--- post_request
my $path = PRT . "/job/$JOB->{job_id}";
my $a = call_api('GET', $path);
my $b = call_api('GET', $path);
is($b->{body}, $a->{body}, 'the same bytes twice');
ok(!exists health()->{nginx}{job_cache}, 'no job_cache in /health');
--- no_error_log
[error]



=== TEST 5: pattern_rt_job_cache needs off or a size of at least 64k
--- http_config
    pattern_rt_job_cache 1k;
--- config
    location / {
        pattern_rt_api;
    }
--- must_die
--- error_log
pattern_rt_job_cache must be "off" or a size of at least 64k
