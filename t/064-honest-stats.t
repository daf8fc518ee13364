# What the forecast is worth (SPEC 3.1, docs/forecast.md), on walk-forward
# replays: generated days (the `walk` fixture: 5 days indexed, 3 replayed)
# and, where the real bars are present, the erikmattheis days from
# 2015-05-01 on an index of the days before.
#
# Everything is recomputed here from /history items (all pages) by
# t/lib/honest_stats.py, which shares no code with the engine: n_eff's
# interval, prob_up_calibrated refitted from the store as it was at each
# scan (the verified predictions of the horizon numbered calibration_seq <=
# calibration_n, none verified after the scan), edge_calibrated, and every
# new /performance figure (intervals, chance rate, exact binomial p-value,
# profit factor, average win and loss, drawdown, by_day, both reliability
# tables, Brier scores, dedupe=symbol_day). n_eff itself is recomputed
# from the weights /api/patterns/search shows for the same query.

use lib 't/lib';
use PatternRT::Test;
use JSON::PP ();

use PatternRT::HonestStats qw(python wilson pair_ok worth_problems
                              calibration_problems check_performance
                              decile_table spread worst);
use PatternRT::Jobs qw(call_api close_enough get_json history_all
                       replay_command iso_ms);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no walk fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/walk" && -d "$FIXTURES/walk-live";

our $PRIOR = $PatternRT::HonestStats::PRIOR;
our @HORIZONS = (10, 30);
our @LIVE = map { m{/(\d{4}-\d\d-\d\d)\.csv\.gz\z} ? $1 : () }
            sort glob "$FIXTURES/walk-live/*.csv.gz";
our $JSON = JSON::PP->new->canonical->allow_nonref;
$PatternRT::Jobs::REPLAY_TIMEOUT = 1200;

engine_config(clock => 'feed', data => "$FIXTURES/walk");

# The 100 most active tickers of the first replayed day.
our @SYMBOLS = do {
    my %n;
    open my $z, '-|', 'zcat', "$FIXTURES/walk-live/$LIVE[0].csv.gz"
        or die "zcat: $!\n";
    <$z>;
    while (my $line = <$z>) {
        $n{(split /,/, $line, 2)[0]}++;
    }
    (sort { $n{$b} <=> $n{$a} || $a cmp $b } keys %n)[0 .. 99];
};

sub scan_args {
    my (@symbols) = @_;

    return ('--scan', "@symbols", '--every', 15, '--sessions', 'regular',
            map { ('--horizon', $_) } @HORIZONS);
}

run_tests();

__DATA__

=== TEST 1: two generated days walk-forward: every result's worth, recomputed
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $run = replay_command("$main::FIXTURES/walk-live", '--from', $main::LIVE[0],
                          '--to', $main::LIVE[1], main::scan_args(@main::SYMBOLS));
--- request
GET /health
--- error_code: 200
--- post_request
is($main::run->{code}, 0, 'replay exit code 0')
    or diag("$main::run->{cmd}\n$main::run->{out}$main::run->{err}");
our @ITEMS = history_all();
ok(@ITEMS > 3000, scalar(@ITEMS) . ' predictions');
my @v = grep { $_->{verification} eq 'verified' } @ITEMS;
ok(@v > 3000, scalar(@v) . ' verified');
my @p = worth_problems(\@ITEMS);
ok(!@p, 'n_eff, prob_up_ci, prob_down_calibrated, edge_calibrated, '
        . 'calibration_seq of every prediction')
    or diag(join "\n", @p[0 .. ($#p < 20 ? $#p : 19)]);
@p = calibration_problems(\@ITEMS);
ok(!@p, 'prob_up_calibrated refitted from the store at each scan: exact, '
        . 'no outcome verified after the scan')
    or diag(join "\n", @p[0 .. ($#p < 20 ? $#p : 19)]);
my @early = grep { $_->{calibration_n} == 0 } @ITEMS;
ok(@early && !grep({ $_->{prob_up_calibrated} != 0.5 } @early),
   scalar(@early) . ' predictions before any verification: exactly 0.5');
ok(grep({ $_->{calibration_n} > 1000 } @ITEMS),
   'later predictions calibrated on over a thousand outcomes');
check_performance(\@ITEMS, 'two days', @main::HORIZONS);
like($main::run->{out}, qr/^  worth .*p_value/m, 'the replay prints the intervals and p-values');
like($main::run->{out}, qr/^calibration: prob_up by tenth/m, 'and both calibration tables');
like($main::run->{out}, qr/^  brier: raw [0-9.]+, calibrated [0-9.]+, base rate [0-9.]+$/m,
     'and the Brier scores');



=== TEST 2: the third day: earlier values stay fixed; the calibration keeps the signal
--- config
    location / {
        pattern_rt_api;
    }
--- init
our %before = map { $_->{id} => $_ } @main::ITEMS;
our $run = replay_command("$main::FIXTURES/walk-live", '--from', $main::LIVE[2],
                          '--to', $main::LIVE[2], '--close',
                          main::scan_args(@main::SYMBOLS));
--- request
GET /health
--- error_code: 200
--- post_request
is($main::run->{code}, 0, 'replay exit code 0')
    or diag("$main::run->{cmd}\n$main::run->{out}$main::run->{err}");
my @items = history_all();
my @fields = qw(n_eff prob_up_ci prob_up_calibrated edge_calibrated calibration_n);
my @changed = grep {
    my ($now, $then) = ($_, $main::before{$_->{id}});
    $then && join(',', map { $JSON->encode($now->{$_}) } @fields)
             ne join(',', map { $JSON->encode($then->{$_}) } @fields)
} @items;
my $later = grep { !$main::before{$_->{id}} && $_->{verification} eq 'verified' } @items;
ok($later > 1000 && !@changed, "$later verifications later, no earlier "
   . 'prediction changed its worth') or diag(scalar(@changed) . ' changed');
my @p = (worth_problems(\@items), calibration_problems(\@items));
ok(!@p, 'every prediction of three days recomputed')
    or diag(join "\n", @p[0 .. ($#p < 20 ? $#p : 19)]);
check_performance(\@items, 'three days', @main::HORIZONS);
for my $h (@main::HORIZONS) {
    my @in = grep { $_->{horizon} == $h && $_->{verification} eq 'verified' } @items;
    my ($raw, $cal, $t) = decile_table(\@in, "horizon $h");
    diag($t);
    ok(spread($raw) > 0.06, sprintf('h=%d: the generated structure is there: '
       . 'raw deciles realize %.3f -> %.3f', $h, $raw->[0]{realized_up},
       $raw->[-1]{realized_up}));
    ok(spread($cal) >= spread($raw) / 2, sprintf('h=%d: the calibrated '
       . 'deciles keep %.3f of the raw spread %.3f', $h, spread($cal), spread($raw)));
    ok(worst($cal) <= 0.05, sprintf('h=%d: every calibrated decile within '
       . '%.3f of what followed', $h, worst($cal)));
}
my $perf = get_json('/api/pattern-realtime/performance?period=all');
ok($perf->{calibration}{brier}{calibrated} < $perf->{calibration}{brier}{raw},
   "Brier: calibrated $perf->{calibration}{brier}{calibrated} beats raw "
   . "$perf->{calibration}{brier}{raw}");
ok($perf->{calibration}{brier}{calibrated} <= $perf->{calibration}{brier}{base_rate},
   "and the period's base rate $perf->{calibration}{brier}{base_rate}");



=== TEST 3: the map survives a restart; a historical search sees only its past
--- config
    location / {
        pattern_rt_api;
    }
--- init
our @items = history_all();
# the newest verified prediction at horizon 10 (history is newest first)
our ($probe) = grep { $_->{verification} eq 'verified' && $_->{horizon} == 10 }
               @items;
our $bar_ms = iso_ms($probe->{bar_time});
# a query at the probe's own bar
our @queries = map {
    my $t = $bar_ms + 60000 + $_;
    my @g = gmtime($t / 1000);
    { ticker => $probe->{symbol}, mode => 'historical', horizon => 10, k => 40,
      exclude_self => JSON::PP::true, cross_asset => JSON::PP::true,
      timestamp => sprintf('%04d-%02d-%02dT%02d:%02d:00Z', $g[5] + 1900,
                           $g[4] + 1, @g[3, 2, 1]) }
} (0);
our @first = map { call_api('POST', '/api/patterns/search', $_) } @queries;
engine_restart();
wait_until(sub { call_api('GET', '/health')->{code} == 200 }, 30, 'the engine');
--- request
GET /health
--- error_code: 200
--- post_request
for my $i (0 .. $#main::queries) {
    my ($a, $b) = ($main::first[$i], call_api('POST', '/api/patterns/search',
                                              $main::queries[$i]));
    is($a->{code}, 200, 'search answered') or diag($a->{body});
    my ($x, $y) = ($a->{json}, $b->{json});
    ok($x->{calibration_n} > 1000 && $x->{calibration_n} == $y->{calibration_n}
       && $x->{prob_up_calibrated} == $y->{prob_up_calibrated},
       "the same map after a restart ($x->{calibration_n} outcomes)");
    my $want = python('map_at', { items => \@main::items, horizon => 10,
                                  cutoff_ms => iso_ms($x->{query_time}),
                                  prob_up => $x->{prob_up}, prior => $PRIOR });
    ok($x->{calibration_n} == $want->{calibration_n}
       && close_enough($x->{prob_up_calibrated}, $want->{prob_up_calibrated}, 1e-12),
       "the search's map: what was verified by its query time "
       . "($want->{calibration_n}, $want->{prob_up_calibrated})");
    my ($sw, $sw2) = (0, 0);
    for (grep { !$_->{trimmed} } @{ $x->{neighbors} }) {
        $sw += $_->{weight};
        $sw2 += $_->{weight} ** 2;
    }
    ok(close_enough($x->{n_eff}, $sw * $sw / $sw2, 1e-9),
       "n_eff is Kish's count of the neighbours' weights ($x->{n_eff})");
    ok(pair_ok($x->{prob_up_ci}, wilson($x->{prob_up}, $x->{n_eff}), 1e-9),
       'prob_up_ci is Wilson at it');
    ok(close_enough($x->{prob_up}, $main::probe->{prob_up}, 1e-12)
       && close_enough($x->{n_eff}, $main::probe->{n_eff}, 1e-9),
       'the same n_eff as the scan of that bar');
}



=== TEST 4: sort_by=edge_calibrated; dedupe validated
--- config
    location / {
        pattern_rt_api;
    }
--- request eval
["GET /api/pattern-realtime/performance?dedupe=weekly",
 "GET /api/pattern-realtime/job/00000000-0000-4000-8000-000000000000/results?sort_by=edge_cal"]
--- error_code eval
[400, 400]
--- response_body_like eval
[qr/dedupe/, qr/edge_calibrated/]
--- post_request
my ($job) = map { $_->{job_id} } grep { $_->{horizon} == 30 } reverse history_all();
my $r = get_json("/api/pattern-realtime/job/$job/results?sort_by=edge_calibrated&limit=10000");
my @e = map { $_->{edge_calibrated} } @{ $r->{results} };
ok(@e > 5 && !grep({ $e[$_ - 1] < $e[$_] } 1 .. $#e),
   scalar(@e) . ' results ranked by edge_calibrated');
