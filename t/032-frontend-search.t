# The front end's Pattern Matching window, in the front end's own terms
# (SPEC 5.2 [fe], docs/decisions.md "The front end's search"): its exact
# requests, and the operations it performs on the answers. It calls
# .toFixed on numbers (so every such value must be a JSON number: not
# null, not a string), .includes on error (a string), .map on arrays.
#
# The demo fixture, with the engine clock on the morning after its last
# day: the last day is over, so points past 20:00 ET hold at its last
# close (the verification rule, docs/forecast.md). Every expectation is
# recomputed here from the fixture's flat files (t/lib/PatternRT/Bars.pm).

use lib 't/lib';
use PatternRT::Test;
use JSON::PP ();

use PatternRT::Bars qw(
    read_day flat_days iso_z bar_index window_vector trajectory
    held_trajectory horizon_index HORIZONS
);
use PatternRT::Search qw(
    api_get api_post wait_for_workers close_to same_trajectory
    check_frontend_answer is_json_number
);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo" && -d "$FIXTURES/demo-flat";

our @DAYS = map { read_day($_->[1]) } flat_days("$FIXTURES/demo-flat");
our %DAY = map { $_->{date} => $_ } @DAYS;
our $LAST = $DAYS[-1];
our $DATE = $LAST->{date};
our $CLOCK = $LAST->{day_start} + 36 * 3600;   # the next day, 12:00 ET
our $JSON = JSON::PP->new->canonical;
our $QUERY_MINUTE = 15 * 60;                   # "time": "15:00"

# The front end's default historical search (its settings: k 50, cross
# asset, a 45-minute window).
sub fe_body {
    my ($symbol, %over) = @_;

    return { symbol => $symbol, date => $DATE, time => '15:00', k => 50,
             cross_asset => JSON::PP::true, window_minutes => 45, %over };
}

# Does the last day give $ticker a valid window ending at 14:59?
sub query_bars {
    my ($ticker) = @_;

    my $bars = $LAST->{tickers}{$ticker};
    my $i = bar_index($bars, $QUERY_MINUTE - 1);
    return unless defined $i && (window_vector($bars, $i))[0];
    return ($bars, $i);
}

our @TICKERS = sort keys %{ $LAST->{tickers} };
our @SEARCHABLE = grep { my ($b) = query_bars($_); $b } @TICKERS;
our @NOT_SEARCHABLE = grep { my ($b) = query_bars($_); !$b } @TICKERS;

sub minutes {
    my ($hhmm) = @_;

    my ($h, $m) = split /:/, $hhmm;
    return $h * 60 + $m;
}

# The front end reads every one of these with .toFixed.
our @FORECAST_NUMBERS = qw(mean_return median_return best_case worst_case
                           prob_up prob_down);

# Checks one answer to the front end's historical search of $ticker with
# $span = window_minutes. Returns the number of neighbours whose future
# ran past 20:00 (so the hold rule was exercised).
sub check_fe_historical {
    my ($ticker, $a, $span) = @_;

    my ($bars, $i) = query_bars($ticker);
    my $label = "$ticker 15:00 window_minutes $span";
    check_frontend_answer($label, $a, symbol => $ticker, date => $DATE,
                          span => $span);
    is($a->{query}{window_minutes}, 30,
       "$label: query.window_minutes is the index's 30");
    ok(is_json_number($a->{query}{window_minutes}),
       "$label: ... a JSON number");

    my $f = $a->{forecast};
    ok(!grep({ !is_json_number($f->{$_}) } @FORECAST_NUMBERS),
       "$label: forecast numbers are JSON numbers (.toFixed)");

    # the chart: the $span bars ending at the query bar, from the flat file
    my $first = $i + 1 >= $span ? $i + 1 - $span : 0;
    is_deeply($a->{historical_context}{pattern_prices},
              [map { $_->{close} + 0 } @{ $bars }[$first .. $i]],
              "$label: historical_context.pattern_prices: the $span closes "
              . 'ending at 14:59');
    is($a->{historical_context}{window_minutes}, $span,
       "$label: historical_context.window_minutes");

    # what followed: the day is over, so every point is known
    my $want = held_trajectory($bars, $i);
    ok(same_trajectory($a->{actual}{returns}, $want),
       "$label: actual.returns from the flat file, held at the last close")
        or diag($JSON->encode([$a->{actual}, $want]));
    ok(close_to($a->{actual}{final_return}, $want->[horizon_index(10)],
                1e-6 * abs($want->[horizon_index(10)]) + 1e-9),
       "$label: actual.final_return");

    # each neighbour's future, recomputed from its own day
    my ($late, @bad) = (0);
    for my $n (@{ $a->{neighbors} }) {
        my $nb = $DAY{ $n->{date} } && $DAY{ $n->{date} }{tickers}{ $n->{symbol} };
        my $j = $nb ? bar_index($nb, minutes($n->{end_time}) - 1) : undef;
        if (!defined $j) {
            push @bad, "$n->{symbol} $n->{date} $n->{end_time}: no such bar";
            next;
        }
        my $plain = trajectory($nb, $j);
        $late++ if grep { !defined } @$plain;
        push @bad, "$n->{symbol} $n->{date} $n->{end_time}: "
                   . $JSON->encode($n->{future_returns}) . ' want '
                   . $JSON->encode(held_trajectory($nb, $j))
            unless same_trajectory($n->{future_returns},
                                   held_trajectory($nb, $j));
    }
    ok(!@bad, "$label: every neighbour's future_returns is its flat file's "
              . 'trajectory, held at its day\'s last close past 20:00')
        or diag(join "\n", @bad[0 .. ($#bad < 3 ? $#bad : 3)]);
    return $late;
}

# A 200 answer that is not "ok": the front end runs error.includes(...).
sub check_fe_not_ok {
    my ($label, $r, $status, $code, $re) = @_;

    is($r->{code}, 200, "$label: 200");
    my $a = $r->{json} // {};
    is($a->{status}, $status, "$label: status $status");
    ok(defined $a->{error} && !ref $a->{error} && !is_json_number($a->{error}),
       "$label: error is a string (.includes)")
        or diag($r->{body});
    like($a->{error} // '', $re, "$label: error says why");
    like($a->{error_code} // '', $code, "$label: error_code");
}

our $CONFIG = <<'END';
    location / {
        pattern_rt_api;
    }
END

engine_config(data => "$FIXTURES/demo", clock => iso_z($CLOCK));
run_tests();

__DATA__

=== TEST 1: the front end's default search (15:00, k 50, window_minutes 45) of every ticker: numbers everywhere
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
"POST /api/search/historical\n" . $JSON->encode(fe_body($SEARCHABLE[0]))
--- error_code: 200
--- post_request
ok(@SEARCHABLE >= 10, scalar(@SEARCHABLE) . ' tickers have a window at 15:00');
my ($late, $with_late) = (0, 0);
for my $t (@SEARCHABLE) {
    my $r = api_post('/api/search/historical', fe_body(lc $t));
    is($r->{code}, 200, "$t: 200") or diag($r->{body});
    my $n = check_fe_historical($t, $r->{json}, 45);
    $late += $n;
    $with_late++ if $n;
}
# the rule must have been exercised, not only passed vacuously
ok($late > 0, "$with_late searches had $late neighbours whose future ran "
              . 'past 20:00');
for my $t (@NOT_SEARCHABLE) {
    check_fe_not_ok("$t (no valid window at 15:00)",
                    api_post('/api/search/historical', fe_body($t)),
                    'insufficient_data', qr/\AE_(?:NO_DATA|WINDOW)\z/, qr/./);
}



=== TEST 2: window_minutes 15-120 is the chart's span; the search is the index's 30-minute window
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
["POST /api/search/historical\n"
 . $JSON->encode(fe_body($SEARCHABLE[0], window_minutes => 14)),
 "POST /api/search/historical\n"
 . $JSON->encode(fe_body($SEARCHABLE[0], window_minutes => 121)),
 "POST /api/search/historical\n"
 . $JSON->encode(fe_body($SEARCHABLE[0], window_minutes => 45.5)),
 "POST /api/search/historical\n"
 . $JSON->encode(fe_body($SEARCHABLE[0], window_minutes => '45')),
 "POST /api/search/historical\n"
 . $JSON->encode(fe_body($SEARCHABLE[0], window_minutes => -45))]
--- error_code eval
[400, 400, 400, 400, 400]
--- response_json eval
[map { { error => { code => 'E_BAD_REQUEST', field => 'window_minutes',
                    message => '~/from 15 to 120/' } } } 1 .. 5]
--- post_request
my $t = $SEARCHABLE[0];
my $base = api_post('/api/search/historical',
                    fe_body($t, window_minutes => 30))->{json};
check_fe_historical($t, $base, 30);
for my $span (15, 45, 60, 119, 120) {
    my $a = api_post('/api/search/historical',
                     fe_body($t, window_minutes => $span))->{json};
    check_fe_historical($t, $a, $span);
    is_deeply([map { "$_->{symbol} $_->{date} $_->{end_time} $_->{distance}" }
               @{ $a->{neighbors} }],
              [map { "$_->{symbol} $_->{date} $_->{end_time} $_->{distance}" }
               @{ $base->{neighbors} }],
              "window_minutes $span: the same neighbours as 30 (the search "
              . 'uses the index\'s window)');
    is_deeply($a->{forecast}, $base->{forecast},
              "window_minutes $span: the same forecast");
}
my $body = fe_body($t);
delete $body->{window_minutes};
my $none = api_post('/api/search/historical', $body)->{json};
is(scalar @{ $none->{historical_context}{pattern_prices} }, 30,
   'no window_minutes: 30 prices');



=== TEST 3: insufficient data: error is the message string, the code in error_code
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
"POST /api/search/historical\n" . $JSON->encode(fe_body('ZZZZZZ'))
--- error_code: 200
--- response_json eval
{ status => 'insufficient_data', query => { symbol => 'ZZZZZZ' },
  error => '~/no bars for ZZZZZZ/', error_code => 'E_NO_DATA' }
--- post_request
check_fe_not_ok('unknown symbol',
                api_post('/api/search/historical', fe_body('ZZZZZZ')),
                'insufficient_data', qr/\AE_NO_DATA\z/, qr/ZZZZZZ/);
my $t = $SEARCHABLE[0];
my $first = $LAST->{tickers}{$t}[0]{minute};
my $early = sprintf '%02d:%02d', int(($first + 1) / 60), ($first + 1) % 60;
check_fe_not_ok("$t at $early (fewer bars than the window)",
                api_post('/api/search/historical',
                         fe_body($t, time => $early)),
                'insufficient_data', qr/\AE_WINDOW\z/, qr/window|bar/);
check_fe_not_ok('realtime, unknown symbol', api_get('/api/search/ZZZZZZ?k=50'),
                'insufficient_data', qr/\AE_NO_DATA\z/, qr/ZZZZZZ/);



=== TEST 4: the realtime view (GET /api/search/{SYMBOL}): numbers everywhere
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
"GET /api/search/$SEARCHABLE[0]?k=50&cross_asset=true"
--- error_code: 200
--- post_request
# the market is closed: the latest complete bar is the day's last one
my @rt = grep {
    my $bars = $LAST->{tickers}{$_};
    (window_vector($bars, $#$bars))[0]
} @TICKERS;
ok(@rt >= 1, scalar(@rt) . ' tickers have a valid window at their last bar');
for my $t (@rt[0 .. ($#rt < 9 ? $#rt : 9)]) {
    my $a = api_get("/api/search/$t?k=50&cross_asset=true")->{json};
    check_frontend_answer("realtime $t", $a, symbol => $t, date => undef);
    is($a->{query}{date}, $DATE, "realtime $t: the last trading day");
    ok(!exists $a->{actual}, "realtime $t: no actual");
}



=== TEST 5: POST /api/patterns/search (our own API) keeps null past 20:00
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
"POST /api/patterns/search\n"
. $JSON->encode({ ticker => $SEARCHABLE[0], mode => 'historical',
                  timestamp => "${DATE}T15:00:00", horizon => 10, k => 50 })
--- error_code: 200
--- post_request
# null there means "no bar exists at t+h: the day ended" (docs/decisions.md)
my ($nulls, @bad) = (0);
for my $t (@SEARCHABLE) {
    my $p = api_post('/api/patterns/search',
                     { ticker => $t, mode => 'historical',
                       timestamp => "${DATE}T15:00:00", horizon => 10,
                       k => 50 })->{json};
    for my $n (@{ $p->{neighbors} }) {
        # the trajectory's points are null exactly where t+h > 20:00 ET:
        # recomputed from the flat file of the neighbour's day
        my ($nd) = grep { $_->{day_start} <= PatternRT::Bars::iso_s($n->{time})
                          && PatternRT::Bars::iso_s($n->{time})
                             < $_->{day_start} + 86400 } @DAYS;
        my $m = (PatternRT::Bars::iso_s($n->{time}) - $nd->{day_start}) / 60;
        my @want = map { $m + $_ > 20 * 60 ? 'null' : 'number' } HORIZONS;
        my @got = map { defined $_ ? 'number' : 'null' }
                  @{ $n->{trajectory} };
        $nulls += grep { $_ eq 'null' } @got;
        push @bad, "$t: $n->{ticker} $n->{time}: @got" if "@got" ne "@want";
    }
}
ok(!@bad, 'trajectories are null exactly past 20:00 ET')
    or diag(join "\n", @bad[0 .. ($#bad < 3 ? $#bad : 3)]);
ok($nulls > 0, "$nulls null points seen");
