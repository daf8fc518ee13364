# Pattern Real-Time jobs across engine deaths and cancels (SPEC 5.1, 7):
# what a job committed before kill -9 survives with the same values, the
# job ends "failed" ("engine restarted"), new jobs run; a cancelled job
# stops promptly and keeps what it finished; the store's counts follow.
#
# The demo fixture with --scan_chunk 1: every symbol is its own committed
# chunk, so a kill or a cancel always lands between two commits. The big
# jobs are mostly unknown symbols (they fail fast, E_NO_DATA) with the
# fixture's tickers spread through them, so predictions are committed all
# along the job.

use lib 't/lib';
use PatternRT::Test;
use Time::HiRes ();

use PatternRT::Jobs qw(
    PRT call_api call_api_raw run_job get_job wait_job_status wait_job
    wait_engine_idle health wait_workers_connected
    job_problems unknown_symbols big_symbols read_flat_day ny_instant iso_z
);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo" && -d "$FIXTURES/demo-flat";

our @FLAT = sort glob "$FIXTURES/demo-flat/*.csv.gz";
our $DAY = read_flat_day($FLAT[-1]);
our @TICKERS = sort keys %{ $DAY->{tickers} };
our $T_REGULAR = ny_instant($DAY->{date}, '10:00');
our $THREADS = 2;          # --search_threads: chunks in flight at most
our $JSON = JSON::PP->new->canonical;

engine_config(data => "$FIXTURES/demo", clock => iso_z($T_REGULAR),
              args => ['--scan_chunk', 1, '--search_threads', $THREADS]);

our @BIG = big_symbols(@TICKERS);

# Waits (cheaply) until $pred is true of the job's progress or the job
# ends; returns GET /job/{id} then.
sub job_when {
    my ($id, $pred, $what) = @_;

    wait_job_status($id, $pred, $what);
    return get_job($id);
}

sub scanned {
    my ($job) = @_;

    return $job->{progress}{completed} + $job->{progress}{failed};
}

sub check_shape {
    my ($job, $label) = @_;

    my @p = job_problems($job);
    ok(!@p, "$label: the job answer is well formed")
        or diag(join "\n", @p[0 .. ($#p < 9 ? $#p : 9)]);
}

# Every entry of $before (results by id, failures by symbol) is in $after
# with the same values.
sub check_kept {
    my ($before, $after, $label) = @_;

    my %res = map { $_->{id} => $_ } @{ $after->{results} };
    my @lost = grep { !$res{$_->{id}} } @{ $before->{results} };
    my @changed = grep { $res{$_->{id}} && $JSON->encode($res{$_->{id}})
                                           ne $JSON->encode($_) }
                  @{ $before->{results} };
    ok(@{ $before->{results} } > 0,
       "$label: results were visible before (" . @{ $before->{results} } . ')');
    ok(!@lost, "$label: every result seen before is still there")
        or diag('lost: ' . join ' ', map { "$_->{symbol}#$_->{id}" } @lost);
    ok(!@changed, "$label: with the same values")
        or diag('was ' . $JSON->encode($changed[0]) . "\nnow "
                . $JSON->encode($res{$changed[0]{id}}));
    my %fail = map { $_->{symbol} => $JSON->encode($_) } @{ $after->{failures} };
    my @flost = grep { ($fail{$_->{symbol}} // '') ne $JSON->encode($_) }
                @{ $before->{failures} };
    ok(!@flost, "$label: every failure seen before is still there, unchanged")
        or diag('first: ' . $JSON->encode($flost[0]));
}

# progress agrees with what is stored (min_edge 0: every prediction shows).
sub check_counts {
    my ($job, $label) = @_;

    is($job->{progress}{completed}, scalar @{ $job->{results} },
       "$label: progress.completed == stored results");
    is($job->{progress}{failed}, scalar @{ $job->{failures} },
       "$label: progress.failed == stored failures");
}

run_tests();

__DATA__

=== TEST 1: kill -9 in the middle of a job: committed results survive, job failed
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $RUN = run_job({ symbols => \@BIG });
our $ID = $RUN->{job_id};
# a fifth of the way in: a dozen predictions and ~2,000 failures committed
wait_job_status($ID, sub { $_[0]{progress}{completed} >= 12 },
                'a dozen predictions');
# the answer is decoded after the kill: decoding takes longer than the
# rest of the job may
my $raw = call_api_raw('GET', PRT . "/job/$ID");
engine_kill('KILL');
our $BEFORE = JSON::PP::decode_json($raw->{body});
engine_start();
wait_workers_connected();
our $AFTER = get_job($ID);
our $RESULTS = call_api('GET', PRT . "/job/$ID/results?limit=10000");
--- request
GET /health
--- post_request
is($BEFORE->{status}, 'running', 'the job was running when the engine was killed')
    or diag("the job ended before the kill: make it bigger");
ok(scanned($BEFORE) < @BIG,
   'with symbols left (' . scanned($BEFORE) . ' of ' . @BIG . ')');
check_shape($AFTER, 'after the restart');
is($AFTER->{status}, 'failed', 'status failed');
is($AFTER->{reason}, 'engine restarted', 'reason "engine restarted"');
ok(defined $AFTER->{completed_at}, 'completed_at is set');
is($AFTER->{progress}{total}, scalar @BIG, 'progress.total unchanged');
ok(scanned($AFTER) >= scanned($BEFORE), 'nothing committed went back ('
   . scanned($BEFORE) . ' then ' . scanned($AFTER) . ')');
ok(scanned($AFTER) < @BIG, 'the job did not go on after the kill');
check_counts($AFTER, 'after the restart');
check_kept($BEFORE, $AFTER, 'kill -9');
is($RESULTS->{code}, 200, '/results of the failed job: 200');
is_deeply($RESULTS->{json}{results}, $AFTER->{results},
          '/results gives the same results');
--- engine_log
were running when the engine stopped



=== TEST 2: after the restart a new job runs, completes and agrees with the old one
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $NEW = wait_job(run_job({ symbols => [@TICKERS] })->{job_id});
--- request
GET /health
--- post_request
check_shape($NEW, 'new job');
is($NEW->{status}, 'completed', 'the new job completed');
is(scanned($NEW), scalar @TICKERS, 'every symbol scanned');
my %old = map { $_->{symbol} => $_ } @{ $AFTER->{results} };
my %new = map { $_->{symbol} => $_ } @{ $NEW->{results} };
my @both = grep { $new{$_} } sort keys %old;
ok(@both >= 10, 'the killed job had predicted ' . @both . ' of the same tickers');
my @diff = grep {
    my ($o, $n) = ($old{$_}, $new{$_});
    grep { $o->{$_} ne $n->{$_} }
         qw(prob_up mean_return edge direction n_neighbors dist1 p10 p90
            bar_time price_at_scan)
} @both;
ok(!@diff, 'the values stored before the kill are those a fresh scan gives')
    or diag("$diff[0]: " . $JSON->encode([$old{$diff[0]}, $new{$diff[0]}]));
my ($max_old) = sort { $b <=> $a } map { $_->{id} } @{ $AFTER->{results} };
my @reused = grep { $_->{id} <= $max_old } @{ $NEW->{results} };
ok(!@reused, "prediction ids go on after the restart (all above $max_old)");



=== TEST 3: SIGTERM in the middle of a job: it too ends failed, results kept
--- config
    location / {
        pattern_rt_api;
    }
--- init
wait_engine_idle();
our $ID = run_job({ symbols => \@BIG })->{job_id};
our $BEFORE = job_when($ID, sub { $_[0]{progress}{completed} >= 5 },
                       'five predictions');
engine_restart();
wait_workers_connected();
our $AFTER = get_job($ID);
--- request
GET /health
--- post_request
is($BEFORE->{status}, 'running', 'the job was running at the restart');
is($AFTER->{status}, 'failed', 'status failed');
is($AFTER->{reason}, 'engine restarted', 'reason "engine restarted"');
ok(scanned($AFTER) < @BIG, 'the job did not finish');
check_counts($AFTER, 'after SIGTERM');
check_kept($BEFORE, $AFTER, 'SIGTERM');



=== TEST 4: DELETE a running job: cancelled at once, finished symbols kept
--- config
    location / {
        pattern_rt_api;
    }
--- init
wait_engine_idle();
our $ID = run_job({ symbols => \@BIG })->{job_id};
our $BEFORE = job_when($ID, sub { $_[0]{progress}{completed} >= 8 },
                       'eight predictions');
our $T0 = Time::HiRes::time();
our $CANCEL = call_api('DELETE', PRT . "/job/$ID");
our $GET = get_job($ID);
our $IDLE = wait_engine_idle(5);
our $ELAPSED = Time::HiRes::time() - $T0;
our $FINAL = get_job($ID);
our $RESULTS = call_api('GET', PRT . "/job/$ID/results?limit=10000");
--- request
GET /health
--- post_request
is($BEFORE->{status}, 'running', 'the job was running when cancelled');
is($CANCEL->{code}, 200, 'DELETE: 200') or diag($CANCEL->{body});
is($CANCEL->{json}{status}, 'cancelled', 'DELETE answers with status cancelled');
is($GET->{status}, 'cancelled', 'GET right after: cancelled');
ok($ELAPSED < 5, sprintf 'no chunk runs on after %.2f s', $ELAPSED);
check_shape($FINAL, 'cancelled');
is($FINAL->{status}, 'cancelled', 'still cancelled once idle');
ok(defined $FINAL->{completed_at}, 'completed_at is set');
my $at_cancel = scanned($CANCEL->{json});
ok(scanned($FINAL) - $at_cancel <= $THREADS,
   "only chunks already handed out finished after the cancel ($at_cancel, then "
   . scanned($FINAL) . ", at most $THREADS chunks of 1)");
ok(scanned($FINAL) < @BIG,
   'symbols left unscanned (' . scanned($FINAL) . ' of ' . @BIG . ')');
check_counts($FINAL, 'cancelled');
check_kept($BEFORE, $FINAL, 'cancel');
is($RESULTS->{code}, 200, 'results of the cancelled job: 200');
is_deeply($RESULTS->{json}{results}, $FINAL->{results}, 'the same results');
# the front end polls GET /job/{id} until "completed", "failed" or a non-2xx
my $raw = call_api('GET', PRT . "/job/$ID");
is($raw->{code}, 410, 'GET /job/{id} of a cancelled job: 410, which stops '
                      . 'the front end\'s polling');
is($raw->{json}{status}, 'cancelled', '... the body is the job, status '
                                      . 'cancelled');
is($raw->{json}{error}{code}, 'E_CANCELLED', '... error.code E_CANCELLED');
like($raw->{json}{error}{message} // '',
     qr/cancelled after @{[ scanned($FINAL) ]} of @{[ scalar @BIG ]} symbols/,
     '... error.message says how far it got');
is_deeply($raw->{json}{results}, $FINAL->{results}, '... with its results');



=== TEST 5: POST /job/{id}/cancel does the same
--- config
    location / {
        pattern_rt_api;
    }
--- init
wait_engine_idle();
our $ID = run_job({ symbols => \@BIG })->{job_id};
our $BEFORE = job_when($ID, sub { $_[0]{progress}{completed} >= 3 },
                       'three predictions');
our $CANCEL = call_api('POST', PRT . "/job/$ID/cancel");
wait_engine_idle(5);
our $FINAL = get_job($ID);
--- request
GET /health
--- post_request
is($BEFORE->{status}, 'running', 'the job was running when cancelled');
is($CANCEL->{code}, 200, 'POST cancel: 200') or diag($CANCEL->{body});
is($CANCEL->{json}{status}, 'cancelled', 'status cancelled');
is($FINAL->{status}, 'cancelled', 'still cancelled once idle');
ok(scanned($FINAL) < @BIG, 'symbols left unscanned');
check_counts($FINAL, 'cancelled');
check_kept($BEFORE, $FINAL, 'cancel');



=== TEST 6: cancelling a job that ended (completed, failed, cancelled) changes nothing
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $DONE = wait_job(run_job({ symbols => [@TICKERS[0 .. 9]] })->{job_id});
our %AGAIN;
for my $job ($DONE, $main::AFTER, $main::FINAL) {
    $AGAIN{$job->{job_id}} = [call_api('DELETE', PRT . "/job/$job->{job_id}"),
                              call_api('POST', PRT . "/job/$job->{job_id}/cancel"),
                              get_job($job->{job_id})];
}
--- request
GET /health
--- post_request
for my $job ($DONE, $main::AFTER, $main::FINAL) {
    my ($del, $post, $get) = @{ $AGAIN{$job->{job_id}} };
    for my $r ($del, $post) {
        is($r->{code}, 200, "cancel a $job->{status} job: 200");
        is($r->{json}{status}, $job->{status},
           "... answered with status $job->{status}");
    }
    is($get->{status}, $job->{status}, "GET: still $job->{status}");
    is($get->{completed_at}, $job->{completed_at}, '... completed_at unchanged');
    is($get->{reason}, $job->{reason}, '... reason unchanged');
    is_deeply($get->{progress}, $job->{progress}, '... progress unchanged');
}



=== TEST 7: /health store counts grow by what a job stored
--- config
    location / {
        pattern_rt_api;
    }
--- init
wait_engine_idle();
our $S0 = health()->{store};
our $JOB = wait_job(run_job({ symbols => [@TICKERS, unknown_symbols(25, 'HQ')] })
                    ->{job_id});
our $S1 = health()->{store};
--- request
GET /health
--- response_json_path
store.jobs > 0
store.predictions > 0
store.failures > 0
--- post_request
my ($ok, $failed) = @{ $JOB->{progress} }{qw(completed failed)};
ok($ok > 0 && $failed >= 25, "the job predicted $ok and failed $failed");
is($S1->{jobs} - $S0->{jobs}, 1, 'store.jobs: one more');
is($S1->{predictions} - $S0->{predictions}, $ok, "store.predictions: $ok more");
is($S1->{failures} - $S0->{failures}, $failed, "store.failures: $failed more");
is($S1->{pending} - $S0->{pending}, $ok, "store.pending: $ok more (not due yet)");



=== TEST 8: kill -9 at rest: every job reads the same after the restart
--- config
    location / {
        pattern_rt_api;
    }
--- init
wait_engine_idle();
our @IDS = map { $_->{job_id} } $DONE, $main::AFTER, $main::FINAL, $JOB;
our @SEEN = map { get_job($_) } @IDS;
our $STORE = health()->{store};
engine_kill('KILL');
engine_start();
wait_workers_connected();
our @NOW = map { get_job($_) } @IDS;
--- request
GET /health
--- post_request
for my $i (0 .. $#IDS) {
    is_deeply($NOW[$i], $SEEN[$i],
              "the $SEEN[$i]{status} job $IDS[$i] is unchanged");
}
my $store = health()->{store};
is($store->{$_}, $STORE->{$_}, "store.$_ unchanged ($STORE->{$_})")
    for qw(jobs predictions failures pending);
--- error_log
engine connection lost
