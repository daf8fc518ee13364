# Pattern Real-Time jobs end to end on the `demo` fixture (SPEC 4, 5.1, 7):
# POST /run and its validation, GET /job (the front end's contract, marked
# [fe] in the SPEC), /job/{id}/results, cancel, /history, CORS, the market
# clock's per-symbol codes and the round-robin between jobs.
#
# What each symbol must give is worked out here from the fixture's own flat
# files (t/lib/PatternRT/Jobs.pm: expected_scan), never from the engine.
# The engine runs on fixed clocks; most blocks use 10:00 New York time of
# the fixture's last day, the market clock blocks restart it on others.

use lib 't/lib';
use PatternRT::Test;
use POSIX ();

use PatternRT::Jobs qw(
    PRT call_api run_job get_job job_status wait_job wait_engine_idle health
    wait_workers_connected is_iso_z close_enough
    job_problems result_problems ranking_problems
    unknown_symbols read_flat_day ny_local ny_instant iso_z iso_seconds
    expected_scan
);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo" && -d "$FIXTURES/demo-flat";

# The scan day is the fixture's last: every earlier day gives neighbours.
our @FLAT = sort glob "$FIXTURES/demo-flat/*.csv.gz";
our $DAY = read_flat_day($FLAT[-1]);
our $DATE = $DAY->{date};
our @TICKERS = sort keys %{ $DAY->{tickers} };
our $T_REGULAR = ny_instant($DATE, '10:00');
our $CLOCK = iso_z($T_REGULAR);
our $CHUNK = 16;                       # --scan_chunk: many chunks per job
our $JSON = JSON::PP->new->canonical;

# Days around the fixture for the market clock blocks.
sub next_day_where {
    my ($t, $pred) = @_;

    do { $t += 86400 } until $pred->((gmtime $t)[6]);
    return POSIX::strftime('%Y-%m-%d', gmtime $t);
}
our $NOON = ny_instant($DATE, '12:00');
our $SATURDAY = next_day_where($NOON, sub { $_[0] == 6 });
our $NEXT_WEEKDAY = next_day_where($NOON, sub { $_[0] >= 1 && $_[0] <= 5 });
our $HOLIDAY = '2024-01-01';           # New Year's Day, a Monday

engine_config(data => "$FIXTURES/demo", clock => $CLOCK,
              args => ['--scan_chunk', $CHUNK]);

# The body the front end sends (SPEC 5.1: all but min_edge and sessions).
sub fe_body {
    my (@symbols) = @_;

    return { symbols => [@symbols], k => 40, horizon => 10, alpha => 6,
             trim_lo => 0, trim_hi => 0, exclude_self => JSON::PP::true,
             cross_asset => JSON::PP::true };
}

sub check_job {
    my ($job, $label) = @_;

    my @p = job_problems($job);
    ok(!@p, "$label: the job answer is well formed ([fe] contract)")
        or diag(join "\n", @p[0 .. ($#p < 9 ? $#p : 9)]);
}

sub by_symbol {
    my ($list) = @_;

    return { map { $_->{symbol} => $_ } @$list };
}

# Every symbol of a finished job against what its bars say at $clock
# (UTC s): predicted exactly when expected_scan says OK, at the right bar
# and price, the right failure code otherwise. Returns two lists: the
# problems, and the stale tickers with a broken window reported E_WINDOW
# instead of E_NO_DATA (kept apart: one rule, checked on its own).
sub outcome_problems {
    my ($job, $clock, @symbols) = @_;

    my $res = by_symbol($job->{results});
    my $fail = by_symbol($job->{failures});
    my (@p, @stale_as_window);
    for my $s (@symbols) {
        my ($code, $bar, $also) = expected_scan($DAY->{tickers}{$s}, $clock);
        if ($code eq 'OK') {
            my $r = $res->{$s};
            if (!$r) {
                push @p, "$s: want a prediction at " . iso_z($bar->{start})
                         . ', got ' . ($fail->{$s}{error_code} // 'nothing')
                         . ': ' . ($fail->{$s}{reason} // '');
                next;
            }
            push @p, "$s: bar_time $r->{bar_time}, want " . iso_z($bar->{start})
                if $r->{bar_time} ne iso_z($bar->{start});
            push @p, "$s: price_at_scan $r->{price_at_scan}, want "
                     . "$bar->{close} (close of the bar)"
                if $r->{price_at_scan} != $bar->{close};
        } else {
            my $got = $fail->{$s} ? $fail->{$s}{error_code}
                    : $res->{$s} ? 'a prediction' : 'nothing';
            my $why = "$s: want $code ($bar), got $got"
                      . ($fail->{$s} ? ": $fail->{$s}{reason}" : '');
            if ($got eq $code) {
                next;
            } elsif (defined $also && $got eq $also) {
                push @stale_as_window, $why;
            } else {
                push @p, $why;
            }
        }
    }
    return (\@p, \@stale_as_window);
}

sub check_outcomes {
    my ($job, $clock, $label, @symbols) = @_;

    my ($p, $stale) = outcome_problems($job, $clock, @symbols);
    ok(!@$p, "$label: every symbol as its bars say") or diag(join "\n", @$p);
    ok(!@$stale, "$label: a stale latest bar is E_NO_DATA, also when its "
                 . 'window has a gap (SPEC 4)')
        or diag(join "\n", @$stale);
}

# Every failure of the job has $code, a reason matching $reason and the
# given bar counts (undef: null).
sub check_all_failed {
    my ($job, $label, $code, $reason, $since, $until) = @_;

    is($job->{progress}{completed}, 0, "$label: nothing predicted");
    is(scalar @{ $job->{results} }, 0, "$label: results is an empty array");
    is($job->{progress}{failed}, $job->{progress}{total},
       "$label: every symbol failed");
    my @bad = grep {
        $_->{error_code} ne $code || $_->{reason} !~ $reason
            || ($_->{bars_since_open} // 'null') ne ($since // 'null')
            || ($_->{bars_until_close} // 'null') ne ($until // 'null')
    } @{ $job->{failures} };
    ok(!@bad, "$label: every failure is $code, reason like $reason, bars "
              . ($since // 'null') . ' / ' . ($until // 'null'))
        or diag($JSON->encode([@bad[0 .. 2]]));
}

# Restarts the engine on another clock (and settings); the job store is
# kept.
sub restart_at {
    my ($clock, @args) = @_;

    engine_config(clock => $clock, args => ['--scan_chunk', $CHUNK, @args]);
    engine_restart();
    wait_workers_connected();
}

sub minute_of {
    my ($t) = @_;

    return (ny_local($t))[1];
}

# The instant between New York times $from and $to (every 5 minutes) of
# the scan day at which the most fixture tickers have a valid window, so
# a session's block scans where the thin fixture has something to predict.
sub busiest_minute {
    my ($from, $to) = @_;

    my ($best, $most) = (undef, -1);
    for (my $t = ny_instant($DATE, $from); $t <= ny_instant($DATE, $to);
         $t += 300)
    {
        my $n = grep { (expected_scan($DAY->{tickers}{$_}, $t))[0] eq 'OK' }
                @TICKERS;
        ($best, $most) = ($t, $n) if $n > $most;
    }
    return $best;
}

# A result's session is that of its bar t (SPEC 4 hours, New York time).
sub check_sessions {
    my ($job, $want) = @_;

    my @bad = grep {
        my $m = minute_of(iso_seconds($_->{bar_time}));
        my $s = $m < 9 * 60 + 30 ? 'pre' : $m < 16 * 60 ? 'regular' : 'post';
        $s ne $_->{session} || $s ne $want
    } @{ $job->{results} };
    ok(!@bad, "every result's session is \"$want\", the session of its bar")
        or diag($JSON->encode($bad[0]));
}

# A verified result against SPEC 5.1 and 6: the price at t+h is the close
# of the latest bar starting at or before t+h that day (the day's last bar
# when t+h is later), actual_return is in percent, pnl and was_correct
# follow the direction.
sub verification_problems {
    my ($r) = @_;

    my $sym = "$r->{symbol}#$r->{id}";
    return ("$sym: verification '$r->{verification}'")
        if ($r->{verification} // '') ne 'verified';
    my $due = iso_seconds($r->{bar_time}) + 60 * $r->{horizon};
    my @bars = grep { $_->{start} <= $due } @{ $DAY->{tickers}{$r->{symbol}} };
    return ("$sym: no bar by t+h in the fixture") unless @bars;
    my $price = $bars[-1]{close};
    my $ret = 100 * ($price / $r->{price_at_scan} - 1);
    my $up = $r->{direction} eq 'UP';
    my @p;
    push @p, "$sym: price_at_horizon $r->{price_at_horizon}, want $price"
        unless $r->{price_at_horizon} == $price;
    push @p, "$sym: actual_return $r->{actual_return}, want $ret"
        unless close_enough($r->{actual_return}, $ret, 1e-9);
    push @p, "$sym: pnl $r->{pnl} for $r->{direction}"
        unless close_enough($r->{pnl}, $up ? $ret : -$ret, 1e-9);
    my $correct = $up ? $ret > 0 : $ret < 0;
    my $wc = $r->{was_correct};
    push @p, "$sym: was_correct " . ($wc // 'null') . ", want "
             . ($correct ? 'true' : 'false')
        unless JSON::PP::is_bool($wc) && !!$wc == !!$correct;
    push @p, "$sym: verified_at " . ($r->{verified_at} // 'null')
        unless is_iso_z($r->{verified_at});
    return @p;
}

# The whole history, page by page.
sub history_all {
    my ($query) = @_;

    my (@items, $total);
    do {
        my $r = call_api('GET', PRT . '/history?limit=1000&offset='
                                . @items . ($query // ''));
        die "GET /history: $r->{code} $r->{body}\n" unless $r->{code} == 200;
        $total = $r->{json}{total};
        push @items, @{ $r->{json}{items} };
        die "GET /history: an empty page before total $total\n"
            if !@{ $r->{json}{items} } && @items < $total;
    } while (@items < $total);
    return ($total, \@items);
}

run_tests();

__DATA__

=== TEST 1: POST /run with the front end's body: 202, job id, running, count
--- config
    location / {
        pattern_rt_api;
    }
--- request eval
"POST /api/pattern-realtime/run
" . $main::JSON->encode({ %{ main::fe_body() },
                          symbols => "srwx, AXL\nsrwx\tGOOZ" })
--- error_code: 202
--- response_json
{"job_id": "~/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/",
 "status": "running", "total_symbols": 3,
 "started_at": "~/^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z$/"}
--- response_headers
Content-Type: application/json
--- no_error_log
[error]



=== TEST 2: [fe] the job is readable as soon as /run answers, params as sent
--- config
    location / {
        pattern_rt_api;
    }
--- init
# the front end polls 300 ms later and stops on a 404: here there is no
# wait at all, ten times, so a job stored after the answer would show
my $body = { symbols => [@main::TICKERS[0 .. 9], 'ZZZZ9'], k => 25,
             horizon => 15, alpha => 4.5, trim_lo => 10, trim_hi => 5,
             exclude_self => JSON::PP::true, cross_asset => JSON::PP::true,
             min_edge => 0, sessions => ['regular', 'POST'] };
our %IDS;
for my $n (1 .. 10) {
    my $run = run_job($body);
    $IDS{$run->{job_id}}++;
    my $r = call_api('GET', PRT . "/job/$run->{job_id}");
    is($r->{code}, 200, "job $n: GET right after the 202 is a 200")
        or diag($r->{body});
    next unless $r->{code} == 200;
    my $job = $r->{json};
    check_job($job, "job $n");
    is($job->{job_id}, $run->{job_id}, "job $n: same job id");
    is($job->{started_at}, $run->{started_at}, "job $n: same started_at");
    is($job->{progress}{total}, 11, "job $n: progress.total");
    is($run->{total_symbols}, 11, "job $n: total_symbols");
    is_deeply($job->{params},
              { k => 25, horizon => 15, alpha => 4.5, trim_lo => 10,
                trim_hi => 5, exclude_self => JSON::PP::true,
                cross_asset => JSON::PP::true, min_edge => 0,
                sessions => ['regular', 'post'], scan_time => $main::CLOCK },
              "job $n: params are the request's") if $n == 1;
}
is(scalar keys %IDS, 10, 'ten jobs, ten ids');
my ($id) = sort keys %IDS;
my $upper = call_api('GET', PRT . '/job/' . uc $id);
is($upper->{code}, 200, 'an id in upper case finds the job');
is($upper->{json}{job_id}, $id, '... shown in lower case');
--- request
GET /health
--- no_error_log
[error]



=== TEST 3: every fixture ticker at 10:00: predictions and failures as the bars say
--- config
    location / {
        pattern_rt_api;
    }
--- init
our @SYMBOLS = (@TICKERS, 'ZZZZ9', 'NOPE.A');
my $run = run_job({ symbols => [@SYMBOLS], k => 30 });
is($run->{total_symbols}, scalar @SYMBOLS, 'total_symbols');
is($run->{scan_time}, $CLOCK, 'scan_time is the engine clock');
our $FULL = wait_job($run->{job_id});
--- request
GET /health
--- post_request
my $job = $FULL;
check_job($job, 'finished');
is($job->{status}, 'completed', 'status completed');
is($job->{progress}{total}, scalar @SYMBOLS, 'progress.total');
is($job->{progress}{completed} + $job->{progress}{failed}, scalar @SYMBOLS,
   'every symbol counted once');
is($job->{progress}{completed}, scalar @{ $job->{results} },
   'one result per predicted symbol (min_edge 0)');
my $ok = grep { (expected_scan($DAY->{tickers}{$_}, $T_REGULAR))[0] eq 'OK' }
         @TICKERS;
ok($ok >= 10 && $ok < @TICKERS,
   "the fixture has both kinds at $CLOCK ($ok of " . @TICKERS . ' valid)');
check_outcomes($job, $T_REGULAR, 'at 10:00', @SYMBOLS);
my $f = by_symbol($job->{failures});
like($f->{ZZZZ9}{reason} // '', qr/ZZZZ9/,
     'an unknown symbol: E_NO_DATA naming it');
my @bars = grep { $_->{bars_since_open} != 30 || $_->{bars_until_close} != 360 }
           @{ $job->{failures} };
ok(!@bars, 'failures at 10:00 ET: bars_since_open 30, bars_until_close 360')
    or diag($JSON->encode($bars[0]));
my @other = grep {
    $_->{scan_time} ne $CLOCK || $_->{session} ne 'regular'
        || $_->{horizon} != 10 || $_->{n_neighbors} > 30
} @{ $job->{results} };
ok(!@other, 'results: scan_time, session regular, horizon 10, at most k neighbours')
    or diag($JSON->encode($other[0]));
--- no_error_log
[error]



=== TEST 4: [fe] while a job runs: progress present, results and failures arrays
--- config
    location / {
        pattern_rt_api;
    }
--- init
# the fixture's tickers first, then unknown ones: many chunks of 16
my @symbols = (@TICKERS, unknown_symbols(10000 - @TICKERS));
my $run = run_job({ symbols => \@symbols });
our (@SNAPS, $BIG);
while (1) {
    my $job = get_job($run->{job_id});
    push @SNAPS, $job;
    last if $job->{status} ne 'running';
}
$BIG = $SNAPS[-1];
--- request
GET /health
--- post_request
my @running = grep { $_->{status} eq 'running' } @SNAPS;
ok(@running >= 1, scalar(@running) . ' of ' . @SNAPS
                  . ' answers seen while running');
my @p = map { job_problems($_) } @SNAPS;
ok(!@p, 'every answer, running or not, is well formed') or diag("@p[0..4]");
my @partial = grep { $_->{progress}{completed} + $_->{progress}{failed} > 0 }
              @running;
ok(!@running || @partial,
   'a running job shows the symbols its finished chunks committed');
my @mono = grep { $SNAPS[$_]{progress}{failed} < $SNAPS[$_ - 1]{progress}{failed} }
           1 .. $#SNAPS;
ok(!@mono, 'progress never goes back');
is($BIG->{status}, 'completed', 'the job completes');
is($BIG->{progress}{failed}, 10000 - $BIG->{progress}{completed},
   'completed + failed == total at the end');
--- no_error_log
[error]



=== TEST 5: [fe] a job with no prediction at all: results is [] (not null)
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $EMPTY = wait_job(run_job({ symbols => [unknown_symbols(40, 'QQ')] })
                      ->{job_id});
--- request
GET /health
--- post_request
check_job($EMPTY, 'no predictions');
is(ref $EMPTY->{results}, 'ARRAY', 'results is an array');
is(scalar @{ $EMPTY->{results} }, 0, 'and empty');
check_all_failed($EMPTY, 'unknown symbols', 'E_NO_DATA', qr/no bars/, 30, 360);



=== TEST 6: min_edge filters the results; every symbol is still counted
--- config
    location / {
        pattern_rt_api;
    }
--- init
my @edges = sort { $a <=> $b } map { $_->{edge} } @{ $FULL->{results} };
our $MIN_EDGE = $edges[int(@edges / 2)];
our $FILTERED = wait_job(run_job({ symbols => [@SYMBOLS], k => 30,
                                   min_edge => $MIN_EDGE })->{job_id});
--- request
GET /health
--- post_request
my $job = $FILTERED;
check_job($job, 'min_edge');
is($job->{params}{min_edge}, $MIN_EDGE, 'params.min_edge');
my @want = grep { $_->{edge} >= $MIN_EDGE } @{ $FULL->{results} };
is_deeply([map { $_->{symbol} } @{ $job->{results} }],
          [map { $_->{symbol} } @want],
          'results: those of the unfiltered job with edge >= min_edge');
ok(@want > 0 && @want < @{ $FULL->{results} },
   'the filter removed some, kept some');
is_deeply($job->{progress}, $FULL->{progress},
          'progress counts every symbol, filtered or not');
is($job->{total_results}, scalar @want, 'total_results counts what is shown')
    if exists $job->{total_results};
my $full = by_symbol($FULL->{results});
my @diff = grep { $_->{edge} != $full->{$_->{symbol}}{edge}
                  || $_->{prob_up} != $full->{$_->{symbol}}{prob_up} }
           @{ $job->{results} };
ok(!@diff, 'same predictions as the unfiltered job');
my $r = call_api('GET', PRT . "/job/$job->{job_id}/results?limit=10000");
is_deeply($r->{json}{results}, $job->{results},
          '/results applies the job\'s min_edge too');



=== TEST 7: cross_asset is accepted, alone (true) and false with exclude_self false
--- config
    location / {
        pattern_rt_api;
    }
--- init
my @ok = grep { (expected_scan($DAY->{tickers}{$_}, $T_REGULAR))[0] eq 'OK' }
         @TICKERS;
our @CROSS = map {
    wait_job(run_job({ symbols => [@ok[0 .. 4]], %$_ })->{job_id})
} ({ cross_asset => JSON::PP::true },
   { cross_asset => JSON::PP::false, exclude_self => JSON::PP::false });
--- request
GET /health
--- post_request
for my $i (0, 1) {
    my $job = $CROSS[$i];
    check_job($job, "cross_asset job $i");
    is($job->{params}{cross_asset} ? 1 : 0, $i == 0 ? 1 : 0,
       "job $i: params.cross_asset");
    is($job->{params}{exclude_self} ? 1 : 0, $i == 0 ? 1 : 0,
       "job $i: params.exclude_self");
    is($job->{progress}{completed}, 5, "job $i: all five predicted")
        or diag($JSON->encode($job->{failures}));
}



=== TEST 8: sessions narrow the scan: pre or post only at 10:00 → E_MARKET_CLOSED
--- config
    location / {
        pattern_rt_api;
    }
--- init
our @NARROW = map {
    wait_job(run_job({ symbols => [@TICKERS[0 .. 4]], sessions => $_ })->{job_id})
} (['pre'], ['post', 'pre']);
--- request
GET /health
--- post_request
for my $i (0, 1) {
    check_job($NARROW[$i], "sessions job $i");
    check_all_failed($NARROW[$i], "sessions job $i", 'E_MARKET_CLOSED',
                     qr/regular session/, 30, 360);
}



=== TEST 9: /run validation: every bad body is a 400 naming the field, detail a string
--- config
    location / {
        pattern_rt_max_symbols 5;
        pattern_rt_api;
    }
--- request eval
[map { "POST /api/pattern-realtime/run\n$_" }
 '{"symbols": ["AAPL"',
 '',
 '["AAPL"]',
 '{"symbols": ["AAPL"], "foo": 1}',
 '{"symbols": ["AAPL"], "k": 5, "k": 6}',
 '{"k": 5}',
 '{"symbols": []}',
 '{"symbols": " ,\n "}',
 '{"symbols": ["A", "B", "C", "D", "E", "F"]}',
 '{"symbols": ["AAPL", "1BAD"]}',
 '{"symbols": "AAPL ABCDEFGHIJK"}',
 '{"symbols": ["AAPL", 5]}',
 '{"symbols": 5}',
 '{"symbols": ["AAPL"], "k": 0}',
 '{"symbols": ["AAPL"], "k": 501}',
 '{"symbols": ["AAPL"], "k": "40"}',
 '{"symbols": ["AAPL"], "k": 40.0}',
 '{"symbols": ["AAPL"], "horizon": 11}',
 '{"symbols": ["AAPL"], "horizon": 0}',
 '{"symbols": ["AAPL"], "alpha": -0.5}',
 '{"symbols": ["AAPL"], "alpha": 50.01}',
 '{"symbols": ["AAPL"], "alpha": "6"}',
 '{"symbols": ["AAPL"], "trim_lo": 50}',
 '{"symbols": ["AAPL"], "trim_hi": -1}',
 '{"symbols": ["AAPL"], "trim_lo": 5.5}',
 '{"symbols": ["AAPL"], "min_edge": -0.1}',
 '{"symbols": ["AAPL"], "min_edge": "0"}',
 '{"symbols": ["AAPL"], "exclude_self": 1}',
 '{"symbols": ["AAPL"], "cross_asset": "false"}',
 '{"symbols": ["AAPL"], "cross_asset": false}',
 '{"symbols": ["AAPL"], "cross_asset": false, "exclude_self": true}',
 '{"symbols": ["AAPL"], "sessions": ["lunch"]}',
 '{"symbols": ["AAPL"], "sessions": []}',
 '{"symbols": ["AAPL"], "sessions": "pre"}']
--- error_code eval
[(400) x 34]
--- response_json eval
[map { my ($f, $re) = @$_;
       my $field = defined $f ? qq{, "field": "$f"} : '';
       qq{{"error": {"code": "E_BAD_REQUEST"$field, "message": "~/$re/"},
           "detail": "~/$re/"}} }
 [undef, 'malformed JSON'],
 [undef, '\\\\S'],
 [undef, 'object'],
 ['foo', 'foo'],
 ['k', 'k'],
 ['symbols', 'symbols.*required'],
 ['symbols', 'symbols is empty'],
 ['symbols', 'symbols is empty'],
 ['symbols', 'limit is 5'],
 ['symbols', '1BAD'],
 ['symbols', 'ABCDEFGHIJK'],
 ['symbols', 'symbols\\\\[1\\\\] must be a string'],
 ['symbols', 'symbols'],
 ['k', 'k'], ['k', 'k'], ['k', 'k'], ['k', 'k'],
 ['horizon', '1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 45, 60'],
 ['horizon', 'horizon'],
 ['alpha', 'alpha'], ['alpha', 'alpha'], ['alpha', 'alpha'],
 ['trim_lo', 'trim_lo'], ['trim_hi', 'trim_hi'], ['trim_lo', 'trim_lo'],
 ['min_edge', 'min_edge'], ['min_edge', 'min_edge'],
 ['exclude_self', 'exclude_self'],
 ['cross_asset', 'cross_asset'],
 ['cross_asset', 'exclude_self'],
 ['cross_asset', 'exclude_self'],
 ['sessions', 'sessions'], ['sessions', 'sessions'], ['sessions', 'sessions']]
--- response_body_like: "detail":"[^"]+"
--- response_headers
Content-Type: application/json



=== TEST 10: /run limits: the edges of every range are accepted
--- config
    location / {
        pattern_rt_max_symbols 5;
        pattern_rt_api;
    }
--- request eval
[map { "POST /api/pattern-realtime/run\n$_" }
 '{"symbols": ["A", "B", "C", "D", "E"]}',
 '{"symbols": ["a", "B", "c", "A", "D E", "e,b"]}',
 '{"symbols": "brk.a"}',
 '{"symbols": ["AAPL"], "k": 1, "horizon": 1, "alpha": 0, "trim_lo": 0,
   "trim_hi": 0, "min_edge": 0}',
 '{"symbols": ["AAPL"], "k": 500, "horizon": 60, "alpha": 50, "trim_lo": 49,
   "trim_hi": 4.9e1, "min_edge": 1e3}',
 '{"symbols": ["AAPL"], "cross_asset": false, "exclude_self": false}',
 '{"symbols": ["AAPL"], "sessions": ["PRE", "regular", "Post", "pre"]}',
 '{"symbols": ["AAPL"], "sessions": null, "min_edge": null}']
--- error_code eval
[(202) x 8]
--- response_json eval
[map { qq{{"status": "running", "total_symbols": $_, "job_id": "~any"}} }
 5, 5, 1, 1, 1, 1, 1, 1]



=== TEST 11: too many symbols for the default limit (10,000); a body over pattern_rt_max_body
--- config
    location / {
        pattern_rt_max_body 100k;
        pattern_rt_api;
    }
--- request eval
["POST /api/pattern-realtime/run
{\"symbols\": \"" . join(' ', unknown_symbols(10001)) . "\"}",
 "POST /api/pattern-realtime/run
{\"symbols\": \"" . ('AAPL ' x 25000) . "\"}"]
--- error_code eval
[400, 413]
--- response_json eval
[q{{"error": {"code": "E_BAD_REQUEST", "field": "symbols"},
    "detail": "~/limit is 10000/"}},
 q{{"error": {"code": "E_TOO_LARGE"}, "detail": "~/too large/"}}]
--- response_body_like: "detail":"[^"]+"



=== TEST 12: a chunked body in pieces is read whole
--- config
    location / {
        pattern_rt_api;
    }
--- raw_request eval
["POST /api/pattern-realtime/run HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n",
 (map { sprintf "%x\r\n%s\r\n", length, $_ } '{"symbols": [', '"SRWX", "GOOZ"]}'),
 "0\r\n\r\n"]
--- error_code: 202
--- response_json
{"status": "running", "total_symbols": 2}



=== TEST 13: unknown and malformed job ids are 404; wrong methods are 405
--- config
    location / {
        pattern_rt_api;
    }
--- request eval
["GET /api/pattern-realtime/job/6f1c2a55-0b7e-4e0c-9d2a-4b5c6d7e8f90",
 "GET /api/pattern-realtime/job/6F1C2A55-0B7E-4E0C-9D2A-4B5C6D7E8F90",
 "GET /api/pattern-realtime/job/garbage",
 "GET /api/pattern-realtime/job/6f1c2a55-0b7e-4e0c-9d2a-4b5c6d7e8f9",
 "GET /api/pattern-realtime/job/{6f1c2a55-0b7e-4e0c-9d2a-4b5c6d7e8f9}",
 "GET /api/pattern-realtime/job/6f1c2a55-0b7e-4e0c-9d2a-4b5c6d7e8f90/results",
 "GET /api/pattern-realtime/job/nope/results?limit=0",
 "DELETE /api/pattern-realtime/job/6f1c2a55-0b7e-4e0c-9d2a-4b5c6d7e8f90",
 "POST /api/pattern-realtime/job/6f1c2a55-0b7e-4e0c-9d2a-4b5c6d7e8f90/cancel",
 "POST /api/pattern-realtime/job/garbage/cancel",
 "PUT /api/pattern-realtime/run\n{\"symbols\": [\"AAPL\"]}",
 "GET /api/pattern-realtime/run",
 "DELETE /api/pattern-realtime/run",
 "POST /api/pattern-realtime/job/6f1c2a55-0b7e-4e0c-9d2a-4b5c6d7e8f90\n{}",
 "PUT /api/pattern-realtime/job/6f1c2a55-0b7e-4e0c-9d2a-4b5c6d7e8f90",
 "GET /api/pattern-realtime/job/6f1c2a55-0b7e-4e0c-9d2a-4b5c6d7e8f90/cancel",
 "POST /api/pattern-realtime/history",
 "GET /api/pattern-realtime/nothing-here"]
--- error_code eval
[(404) x 10, (405) x 7, 404]
--- response_json eval
[(q{{"error": {"code": "E_NOT_FOUND", "message": "no such job"},
     "detail": "no such job"}}) x 10,
 (q{{"error": {"code": "E_METHOD"}, "detail": "~/method/"}}) x 7,
 q{{"error": {"code": "E_NOT_FOUND"}, "detail": "no such endpoint"}}]
--- response_body_like: "detail":"[^"]+"



=== TEST 14: /job/{id}/results: sort_by, direction, limit, include_verified
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $RES = {};
my $id = $FULL->{job_id};
for my $q ('', 'limit=10000', 'sort_by=prob_up&limit=10000',
           'sort_by=MEAN_RETURN&limit=10000', 'sort_by=edge&limit=10000',
           'direction=UP&limit=10000', 'direction=down&limit=10000',
           'direction=ALL&limit=10000', 'limit=3', 'limit=1&direction=DOWN',
           'include_verified=false&limit=10000',
           'include_verified=true&limit=10000', 'include_verified=0',
           'limit=5&_=1700000000')
{
    my $r = call_api('GET', PRT . "/job/$id/results" . ($q ? "?$q" : ''));
    is($r->{code}, 200, "?$q: 200") or diag($r->{body});
    is($r->{json}{job_id}, $id, "?$q: job_id");
    is(ref $r->{json}{results}, 'ARRAY', "?$q: results is an array");
    $RES->{$q} = $r->{json}{results} // [];
}
--- request
GET /health
--- post_request
my @all = @{ $FULL->{results} };              # ranked by edge (checked)
my $syms = sub { [map { $_->{symbol} } @{ $_[0] }] };
ok(@all > 3, scalar(@all) . ' results to rank');
is_deeply($syms->($RES->{''}), $syms->([@all[0 .. ($#all < 49 ? $#all : 49)]]),
          'default: by edge, at most 50');
is_deeply($RES->{'limit=10000'}, \@all,
          'limit=10000: the job\'s results, same values');
is_deeply($RES->{'sort_by=edge&limit=10000'}, \@all, 'sort_by=edge');
for my $key (qw(prob_up mean_return)) {
    my $q = $key eq 'prob_up' ? 'sort_by=prob_up&limit=10000'
                              : 'sort_by=MEAN_RETURN&limit=10000';
    my $got = $RES->{$q};
    is(scalar @$got, scalar @all, "sort_by=$key: every result");
    my @p = ranking_problems($got, $key);
    ok(!@p, "sort_by=$key: descending $key") or diag("@p");
    my @want = sort { $b->{$key} <=> $a->{$key} || $a->{id} <=> $b->{id} } @all;
    is_deeply($syms->($got), $syms->(\@want),
              "sort_by=$key: the same order as sorting here");
}
my @up = grep { $_->{direction} eq 'UP' } @all;
my @down = grep { $_->{direction} eq 'DOWN' } @all;
ok(@up && @down,
   'the job has both directions (' . @up . ' UP, ' . @down . ' DOWN)');
is_deeply($syms->($RES->{'direction=UP&limit=10000'}), $syms->(\@up),
          'direction=UP: exactly the UP results, by edge');
is_deeply($syms->($RES->{'direction=down&limit=10000'}), $syms->(\@down),
          'direction=down: exactly the DOWN results, by edge');
is_deeply($RES->{'direction=ALL&limit=10000'}, \@all, 'direction=ALL: all');
is_deeply($syms->($RES->{'limit=3'}), $syms->([@all[0 .. 2]]),
          'limit=3: the top 3');
is_deeply($syms->($RES->{'limit=1&direction=DOWN'}), $syms->([$down[0]]),
          'limit=1&direction=DOWN: the best DOWN (limit after the filter)');
is_deeply($syms->($RES->{'include_verified=false&limit=10000'}),
          $syms->([grep { !defined $_->{verified_at} } @all]),
          'include_verified=false: the pending ones (all, on this clock)');
is_deeply($RES->{'include_verified=true&limit=10000'}, \@all,
          'include_verified=true: all');
is(scalar @{ $RES->{'include_verified=0'} }, @all < 50 ? scalar @all : 50,
   'include_verified=0 is a boolean');
is(scalar @{ $RES->{'limit=5&_=1700000000'} }, 5, 'unknown query keys are ignored');

my @bad = (['sort_by=foo', 'sort_by'], ['sort_by=', undef],
           ['direction=SIDEWAYS', 'direction'], ['limit=0', 'limit'],
           ['limit=10001', 'limit'], ['limit=abc', 'limit'],
           ['limit=-1', 'limit'], ['limit=2.5', 'limit'],
           ['include_verified=maybe', 'include_verified']);
for my $b (@bad) {
    my ($q, $field) = @$b;
    my $r = call_api('GET', PRT . "/job/$FULL->{job_id}/results?$q");
    if (!defined $field) {
        is($r->{code}, 200, "?$q: an empty value is the default");
        next;
    }
    is($r->{code}, 400, "?$q: 400");
    is($r->{json}{error}{code}, 'E_BAD_REQUEST', "?$q: E_BAD_REQUEST");
    is($r->{json}{error}{field}, $field, "?$q: field $field");
    like($r->{body}, qr/"detail":"[^"]+"/, "?$q: detail is a string");
}
--- no_error_log
[error]



=== TEST 15: cancelling a finished job: 200 and the job unchanged
--- config
    location / {
        pattern_rt_api;
    }
--- init
our @CANCEL = (call_api('DELETE', PRT . "/job/$FULL->{job_id}"),
               call_api('POST', PRT . "/job/$FULL->{job_id}/cancel"));
our $AFTER = get_job($FULL->{job_id});
--- request
GET /health
--- post_request
for my $r (@CANCEL) {
    is($r->{code}, 200, 'cancel of a completed job: 200') or diag($r->{body});
    is($r->{json}{status}, 'completed', 'answered with its status unchanged');
    is_deeply($r->{json}{progress}, $FULL->{progress}, 'and its progress');
}
is($AFTER->{status}, 'completed', 'GET: still completed');
is($AFTER->{completed_at}, $FULL->{completed_at}, 'completed_at unchanged');
is_deeply($AFTER->{results}, $FULL->{results}, 'results unchanged');



=== TEST 16: CORS: /run preflight answered; the origin header on 202, 200 and errors
--- config
    pattern_rt_cors_origin http://localhost:3000;
    location / {
        pattern_rt_api;
    }
--- request eval
["OPTIONS /api/pattern-realtime/run",
 "POST /api/pattern-realtime/run\n{\"symbols\": [\"AAPL\"]}",
 "POST /api/pattern-realtime/run\n{\"symbols\": []}",
 "GET /api/pattern-realtime/job/6f1c2a55-0b7e-4e0c-9d2a-4b5c6d7e8f90",
 "GET /api/pattern-realtime/job/garbage",
 "PUT /api/pattern-realtime/run\n{}",
 "GET /api/pattern-realtime/history?limit=1",
 "OPTIONS /api/pattern-realtime/job/6f1c2a55-0b7e-4e0c-9d2a-4b5c6d7e8f90"]
--- more_headers eval
["Origin: http://localhost:3000\nAccess-Control-Request-Method: POST\nAccess-Control-Request-Headers: content-type",
 ("Origin: http://localhost:3000") x 6,
 "Origin: http://localhost:3000\nAccess-Control-Request-Method: DELETE"]
--- error_code eval
[204, 202, 400, 404, 404, 405, 200, 204]
--- response_headers_like eval
["Access-Control-Allow-Origin: ^http://localhost:3000\$\nAccess-Control-Allow-Methods: \\bPOST\\b\nAccess-Control-Allow-Headers: (?i)\\bcontent-type\\b",
 ("Access-Control-Allow-Origin: ^http://localhost:3000\$") x 6,
 "Access-Control-Allow-Origin: ^http://localhost:3000\$\nAccess-Control-Allow-Methods: \\bDELETE\\b"]
--- post_request
my $r = call_api('POST', PRT . '/run', { symbols => ['AAPL'] },
                 Origin => 'https://evil.example');
is($r->{code}, 202, 'another origin still runs the job');
ok(!defined $r->{response}->header('Access-Control-Allow-Origin'),
   'but gets no Access-Control-Allow-Origin');



=== TEST 17: a 5-symbol job started while a 10,000-symbol one runs ends first
--- config
    location / {
        pattern_rt_api;
    }
--- init
wait_engine_idle();
my @big = (@TICKERS, unknown_symbols(10000 - @TICKERS));
my @small = grep { (expected_scan($DAY->{tickers}{$_}, $T_REGULAR))[0] eq 'OK' }
            @TICKERS;
our $BIG_RUN = run_job({ symbols => \@big });
our $SMALL_RUN = run_job({ symbols => [@small[0 .. 4]] });
our $SMALL = wait_job($SMALL_RUN->{job_id});
our $BIG_AT_SMALL_END = job_status($BIG_RUN->{job_id});
our $BIG2 = wait_job($BIG_RUN->{job_id});
--- request
GET /health
--- post_request
is($SMALL->{status}, 'completed', 'the small job completed');
is($SMALL->{progress}{completed}, 5, 'with its five predictions');
is($BIG2->{status}, 'completed', 'the large job completed');
ok($SMALL->{started_at} lt $BIG2->{completed_at},
   "the small job started ($SMALL->{started_at}) while the large one ran "
   . "(until $BIG2->{completed_at})");
ok($SMALL->{completed_at} lt $BIG2->{completed_at},
   "the small job ended first ($SMALL->{completed_at} before "
   . "$BIG2->{completed_at})");
is($BIG_AT_SMALL_END->{status}, 'running',
   'the large job was still running when the small one had ended');
my $p = $BIG_AT_SMALL_END->{progress};
ok($p->{completed} + $p->{failed} < $p->{total},
   "... with symbols left ($p->{completed} + $p->{failed} of $p->{total})");
--- timeout: 30



=== TEST 18: a Saturday: every symbol E_WEEKEND, no bar counts
--- config
    location / {
        pattern_rt_api;
    }
--- init
wait_engine_idle();
restart_at(iso_z(ny_instant($SATURDAY, '10:00')));
our $RUN = run_job({ symbols => [@TICKERS[0 .. 9], 'ZZZZ9'] });
our $JOB = wait_job($RUN->{job_id});
--- request
GET /health
--- response_json
{"market": {"session": "closed", "reason": "weekend"}}
--- post_request
is($RUN->{session}, 'closed', '202: session closed');
check_job($JOB, 'Saturday');
check_all_failed($JOB, 'Saturday', 'E_WEEKEND', qr/weekend/, undef, undef);



=== TEST 19: a holiday: E_MARKET_CLOSED naming it
--- config
    location / {
        pattern_rt_api;
    }
--- init
restart_at(iso_z(ny_instant($HOLIDAY, '10:00')));
our $JOB = wait_job(run_job({ symbols => [@TICKERS[0 .. 9]] })->{job_id});
--- request
GET /health
--- post_request
check_job($JOB, 'holiday');
check_all_failed($JOB, 'New Year\'s Day', 'E_MARKET_CLOSED',
                 qr/New Year's Day/, undef, undef);



=== TEST 20: 03:00 New York on a trading day: E_MARKET_CLOSED, bars 0 and 780
--- config
    location / {
        pattern_rt_api;
    }
--- init
restart_at(iso_z(ny_instant($DATE, '03:00')));
our $JOB = wait_job(run_job({ symbols => [@TICKERS[0 .. 9]] })->{job_id});
--- request
GET /health
--- post_request
check_job($JOB, '03:00');
# 09:30 is 390 minutes away, the 16:00 close 780
check_all_failed($JOB, '03:00 ET', 'E_MARKET_CLOSED', qr/\S/, 0, 780);



=== TEST 21: the pre session scans; sessions ["regular"] does not
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $T_PRE = busiest_minute('04:30', '09:25');
restart_at(iso_z($T_PRE));
our $PRE = wait_job(run_job({ symbols => [@TICKERS], sessions => ['pre'] })
                    ->{job_id});
our $REG = wait_job(run_job({ symbols => [@TICKERS[0 .. 4]],
                              sessions => ['regular'] })->{job_id});
--- request
GET /health
--- post_request
check_job($PRE, 'pre');
check_outcomes($PRE, $T_PRE, 'pre session', @TICKERS);
ok($PRE->{progress}{completed} > 0,
   "predictions in the pre session ($PRE->{progress}{completed})");
check_sessions($PRE, 'pre');
my $until = 16 * 60 - minute_of($T_PRE);            # to the 16:00 close
my @b = grep { $_->{bars_since_open} != 0 || $_->{bars_until_close} != $until }
        @{ $PRE->{failures} };
ok(!@b, "failures in the pre session: bars_since_open 0, bars_until_close $until")
    or diag($JSON->encode($b[0]));
check_all_failed($REG, 'sessions regular in the pre session', 'E_MARKET_CLOSED',
                 qr/pre session/, 0, $until);



=== TEST 22: the post session scans; bars since the open 390, until the close 0
--- config
    location / {
        pattern_rt_api;
    }
--- init
# from 16:10 a bar fresh enough (300 s) starts in the post session
our $T_POST = busiest_minute('16:10', '19:55');
restart_at(iso_z($T_POST));
our $JOB = wait_job(run_job({ symbols => [@TICKERS] })->{job_id});
--- request
GET /health
--- post_request
check_job($JOB, 'post');
check_outcomes($JOB, $T_POST, 'post session', @TICKERS);
ok($JOB->{progress}{completed} > 0, "predictions in the post session");
check_sessions($JOB, 'post');
my @b = grep { $_->{bars_since_open} != 390 || $_->{bars_until_close} != 0 }
        @{ $JOB->{failures} };
ok(!@b, 'failures in the post session: bars_since_open 390, bars_until_close 0')
    or diag($JSON->encode($b[0]));



=== TEST 23: an early close (2024-07-03, 13:00, New York summer time)
--- config
    location / {
        pattern_rt_api;
    }
--- init
# unknown symbols fail E_NO_DATA in any open session: only the clock's
# part is looked at. (time ET, session, code, bars since open, until close)
our @EARLY = (['12:00', 'regular', 'E_NO_DATA', 150, 60],
              ['14:00', 'post', 'E_NO_DATA', 210, 0],
              ['17:30', 'closed', 'E_MARKET_CLOSED', 210, 0]);
our %EARLY_JOB;
for my $e (@EARLY) {
    restart_at(iso_z(ny_instant('2024-07-03', $e->[0])));
    my $run = run_job({ symbols => [unknown_symbols(3, 'EC')] });
    is($run->{session}, $e->[1], "$e->[0] ET: session $e->[1]");
    $EARLY_JOB{$e->[0]} = wait_job($run->{job_id});
}
--- request
GET /health
--- post_request
for my $e (@EARLY) {
    my ($hhmm, undef, $code, $since, $until) = @$e;
    check_all_failed($EARLY_JOB{$hhmm}, "$hhmm ET on an early-close day", $code,
                     qr/\S/, $since, $until);
}



=== TEST 24: the next trading day, no new bars: every ticker E_NO_DATA (stale)
--- config
    location / {
        pattern_rt_api;
    }
--- init
restart_at(iso_z(ny_instant($NEXT_WEEKDAY, '10:00')), '--max_staleness_s', 300);
our $JOB = wait_job(run_job({ symbols => [@TICKERS] })->{job_id});
--- request
GET /health
--- post_request
check_job($JOB, 'stale');
check_all_failed($JOB, "$NEXT_WEEKDAY 10:00 ET", 'E_NO_DATA',
                 qr/max_staleness_s 300/, 30, 360);



=== TEST 25: /history: newest first, limit, offset, symbol, verified_only
--- config
    location / {
        pattern_rt_api;
    }
--- init
wait_engine_idle();
# on this clock (the next trading day) every earlier prediction is due: the
# verification timer closes them all, so the history holds both kinds
wait_until(sub { health()->{store}{pending} == 0 }, 30,
           'every due prediction to be verified');
# back on the scan day's 10:00: one more job, pending until 10:10
restart_at($CLOCK);
our $PENDING = wait_job(run_job({ symbols => [@TICKERS] })->{job_id});
our ($TOTAL, $ALL) = history_all('');
our %INCL = map {
    $_ => call_api('GET', PRT . "/job/$FULL->{job_id}/results"
                          . "?limit=10000&include_verified=$_")
} qw(false true);
our %Q;
for my $q ('', 'limit=5', 'offset=3&limit=4', "offset=$TOTAL",
           'symbol=' . lc($TICKERS[0]) . '&limit=1000',
           'verified_only=true&limit=1000', 'verified_only=false&limit=7')
{
    my $r = call_api('GET', PRT . "/history" . ($q ? "?$q" : ''));
    is($r->{code}, 200, "/history?$q: 200") or diag($r->{body});
    $Q{$q} = $r->{json};
}
--- request
GET /health
--- post_request
my $h = health();
is($TOTAL, $h->{store}{predictions}, "total is every stored prediction ($TOTAL)");
is(scalar @$ALL, $TOTAL, 'paging through gives them all');
my %ids;
my @dup = grep { $ids{$_->{id}}++ } @$ALL;
ok(!@dup, 'no prediction twice');
my %times = map { $_->{scan_time} => 1 } @$ALL;
ok(keys %times >= 3, 'predictions of several scan times ('
                     . join(', ', sort keys %times) . ')');
my @order = grep {
    my ($a, $b) = @$ALL[$_ - 1, $_];
    $a->{scan_time} lt $b->{scan_time}
        || ($a->{scan_time} eq $b->{scan_time} && $a->{id} < $b->{id})
} 1 .. $#$ALL;
ok(!@order, 'newest first: by scan time, then by id') or diag("at item $order[0]");
my @p = map { result_problems($_) }
        grep { !defined $_->{verified_at} } @$ALL;
ok(!@p, 'every unverified item is a well-formed result') or diag("@p[0..4]");

my $ids = sub { [map { $_->{id} } @{ $_[0] }] };
is_deeply($ids->($Q{''}{items}), $ids->([@$ALL[0 .. 49]]),
          'default: the newest 50');
is($Q{''}{total}, $TOTAL, 'default: total');
is_deeply($ids->($Q{'limit=5'}{items}), $ids->([@$ALL[0 .. 4]]), 'limit=5');
is_deeply($ids->($Q{'offset=3&limit=4'}{items}), $ids->([@$ALL[3 .. 6]]),
          'offset=3&limit=4');
is_deeply($Q{"offset=$TOTAL"}{items}, [], 'an offset past the end: no items');
is($Q{"offset=$TOTAL"}{total}, $TOTAL, '... and the total');

my $sym = $TICKERS[0];
my @mine = grep { $_->{symbol} eq $sym } @$ALL;
my $sq = $Q{'symbol=' . lc($sym) . '&limit=1000'};
ok(@mine > 1, "$sym has several predictions (" . @mine . ')');
is_deeply($ids->($sq->{items}), $ids->(\@mine),
          "symbol=$sym (lower case): only its, newest first");
is($sq->{total}, scalar @mine, "symbol=$sym: total");

my @verified = grep { defined $_->{verified_at} } @$ALL;
my $vq = $Q{'verified_only=true&limit=1000'};
my $last = $#verified < 999 ? $#verified : 999;
is_deeply($ids->($vq->{items}), $ids->([@verified[0 .. $last]]),
          'verified_only=true: the verified ones (' . @verified . ')');
is($vq->{total}, scalar @verified, 'verified_only=true: total');
is_deeply($ids->($Q{'verified_only=false&limit=7'}{items}), $ids->([@$ALL[0 .. 6]]),
          'verified_only=false: everything');
ok(@verified > 0 && @verified < @$ALL, 'some predictions are verified ('
   . @verified . '), not all');
is(@$ALL - @verified, $PENDING->{progress}{completed},
   'the pending ones are those of the last job');
my @vp = map { verification_problems($_) } @verified;
ok(!@vp, 'verified items: C(t+h) from the flat file, return, pnl, was_correct')
    or diag(join "\n", @vp[0 .. ($#vp < 9 ? $#vp : 9)]);
is_deeply($INCL{false}{json}{results}, [],
          "include_verified=false: none of the verified job's results");
is(scalar @{ $INCL{true}{json}{results} }, scalar @{ $FULL->{results} },
   'include_verified=true: all of them');

for my $b (['limit=0', 'limit'], ['limit=1001', 'limit'], ['limit=-1', 'limit'],
           ['limit=x', 'limit'], ['offset=-1', 'offset'], ['offset=1.5', 'offset'],
           ['symbol=1BAD', 'symbol'], ['verified_only=maybe', 'verified_only'])
{
    my ($q, $field) = @$b;
    my $r = call_api('GET', PRT . "/history?$q");
    is($r->{code}, 400, "/history?$q: 400");
    is($r->{json}{error}{code}, 'E_BAD_REQUEST', "?$q: E_BAD_REQUEST");
    is($r->{json}{error}{field}, $field, "?$q: field $field");
    like($r->{body}, qr/"detail":"[^"]+"/, "?$q: detail is a string");
}
