# Pattern search end to end on the `demo` fixture (generated bars, an exact
# Flat index): POST /api/patterns/search, the front end's search views, the
# chart data, the index endpoints and CORS (SPEC 2, 3, 5.2).
#
# Expectations come from the fixture's own flat files, read here in Perl
# (t/lib/PatternRT/Bars.pm): the query ticker and times are chosen from
# them, and windows, trajectories, nearest neighbours (the index is exact)
# and the forecast statistics are recomputed independently of the engine.

use lib 't/lib';
use PatternRT::Test;
use JSON::PP ();
use Time::Local qw(timegm);

use PatternRT::Bars qw(
    read_day flat_days ny_to_utc utc_to_ny iso_z iso_s horizon_index
    bar_index latest_complete window_vector trajectory indexable_windows
    day_patterns as_float trimmed_indexes forecast_stats
);
use PatternRT::Search qw(
    api_get api_post wait_for_workers close_to same_trajectory
    check_patterns_answer check_frontend_answer check_exact_neighbours
);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo" && -d "$FIXTURES/demo-flat";

our @DAYS = map { read_day($_->[1]) } flat_days("$FIXTURES/demo-flat");
our $LAST = $DAYS[-1];
our $DATE = $LAST->{date};
our @BEFORE = @DAYS[0 .. $#DAYS - 1];
our $MIN_VOLUME = 1000;                      # build-index's default
our $CLOCK = ny_to_utc($DATE, 15, 0, 0);     # the engine's fixed "now"
our $JSON = JSON::PP->new->canonical;

# ---------------------------------------------------------------------------
# Choosing the query from the flat files

sub tickers_by_activity {
    my ($day) = @_;

    my $t = $day->{tickers};
    return sort { @{ $t->{$b} } <=> @{ $t->{$a} } || $a cmp $b } keys %$t;
}

sub valid_window {
    my ($bars, $i) = @_;

    return 0 unless defined $i;
    my ($vec) = window_vector($bars, $i);
    return $vec ? 1 : 0;
}

sub patterns_before {
    my ($ticker) = @_;

    my $n = 0;
    for my $day (@BEFORE) {
        my $bars = $day->{tickers}{$ticker} or next;
        $n += indexable_windows($bars, $MIN_VOLUME);
    }
    return $n;
}

# The most active ticker of the last day whose windows end at minute M-1
# (M from 10:00 on, with a bar at M too, so that "the latest complete bar"
# is told apart from "the bar in progress") and at the clock are valid, and
# that has enough patterns of its own on earlier days.
sub choose_query {
    for my $ticker (tickers_by_activity($LAST)) {
        my $bars = $LAST->{tickers}{$ticker};
        next unless valid_window($bars, latest_complete($bars, $CLOCK))
            && patterns_before($ticker) >= 100;
        for my $m (10 * 60 .. 14 * 60) {
            my $i = bar_index($bars, $m - 1);
            next unless valid_window($bars, $i)
                && defined bar_index($bars, $m);
            return { ticker => $ticker, bars => $bars, idx => $i,
                     minute => $m };
        }
    }
    die "no usable query ticker in the demo fixture\n";
}

# A bar of the last day, in regular hours, whose 30 minutes have a gap.
sub choose_gap {
    for my $ticker (sort keys %{ $LAST->{tickers} }) {
        my $bars = $LAST->{tickers}{$ticker};
        for my $i (29 .. $#$bars) {
            next if $bars->[$i]{minute} < 10 * 60;
            my (undef, $why) = window_vector($bars, $i);
            return { ticker => $ticker, bar => $bars->[$i] }
                if defined $why && $why eq 'short';
        }
    }
    die "no window with a gap in the demo fixture\n";
}

# A valid window of the last day so late that t + 60 is past 20:00.
sub choose_late {
    for my $ticker (sort keys %{ $LAST->{tickers} }) {
        my $bars = $LAST->{tickers}{$ticker};
        for my $i (reverse 0 .. $#$bars) {
            last if $bars->[$i]{minute} <= 19 * 60;
            return { ticker => $ticker, bars => $bars, idx => $i }
                if valid_window($bars, $i);
        }
    }
    return undef;
}

sub hhmm {
    my ($minute) = @_;

    return sprintf '%02d:%02d', int($minute / 60), $minute % 60;
}

# "YYYY-MM-DDTHH:MM:SS" New York wall time, and the offset in force.
sub ny_wall {
    my ($t) = @_;

    my ($date, $minute, $sec) = utc_to_ny($t);
    my ($y, $mo, $d) = split /-/, $date;
    my $off = (timegm($sec, $minute % 60, int($minute / 60), $d, $mo - 1, $y)
               - $t) / 60;
    return (sprintf('%sT%s:%02d', $date, hhmm($minute), $sec),
            sprintf('%s%02d:%02d', $off < 0 ? '-' : '+', abs($off) / 60,
                    abs($off) % 60));
}

our %Q = %{ choose_query() };
our $QVEC = (window_vector($Q{bars}, $Q{idx}))[0];
our $QBAR = $Q{bars}[$Q{idx}];                       # bar M-1
our $NEXT = $Q{bars}[$Q{idx} + 1];                   # bar M
our $T_END = $QBAR->{start} + 60;                    # M:00
our %GAP = %{ choose_gap() };
our $LATE = choose_late();
our $RT_IDX = latest_complete($Q{bars}, $CLOCK);
our $DAY_BEFORE = do {                               # a weekday, no bars
    my ($y, $m, $d) = split /-/, $DAYS[0]{date};
    my @g = gmtime(timegm(0, 0, 12, $d, $m - 1, $y) - 7 * 86400);
    sprintf '%04d-%02d-%02d', $g[5] + 1900, $g[4] + 1, $g[3];
};
our $UNKNOWN = 'ZZZZ';
$UNKNOWN .= 'Z' while grep { $_->{tickers}{$UNKNOWN} } @DAYS;

our ($WALL, $OFFSET) = ny_wall($T_END + 30);

sub search_body {
    my (%over) = @_;

    return $JSON->encode({ ticker => $Q{ticker}, horizon => 10, k => 40,
                           timestamp => iso_z($T_END + 30), %over });
}

sub post_search {
    my (%over) = @_;

    return "POST /api/patterns/search\n" . search_body(%over);
}

our $CONFIG = <<'END';
    client_max_body_size 4m;
    client_body_buffer_size 1m;
    pattern_rt_cors_origin http://localhost:3000;
    location / {
        pattern_rt_api;
    }
END

# The patterns of the days before the last, as build-index indexes them
# (computed once, on first use: a few seconds of Perl).
our $PRIOR;

sub prior_patterns {
    return $PRIOR //= day_patterns(\@BEFORE, $MIN_VOLUME);
}

sub check_exact {
    my ($label, $answer, $k, $keep) = @_;

    check_exact_neighbours($label, $answer, $QVEC, $k, prior_patterns(),
                           $keep);
}

# One valid window of the last day per session (SPEC 4: pre 04:00-09:30,
# regular 09:30-16:00, post 16:00-20:00), as far as the fixture has them.
our @SESSIONS;
for my $s (['pre', 4 * 60, 9 * 60 + 30], ['regular', 9 * 60 + 30, 16 * 60],
           ['post', 16 * 60, 20 * 60]) {
    my ($name, $from, $to) = @$s;
    TICKER: for my $ticker (sort keys %{ $LAST->{tickers} }) {
        my $bars = $LAST->{tickers}{$ticker};
        for my $i (0 .. $#$bars) {
            next unless $bars->[$i]{minute} >= $from
                && $bars->[$i]{minute} < $to && valid_window($bars, $i);
            push @SESSIONS, { session => $name, ticker => $ticker,
                              bar => $bars->[$i] };
            last TICKER;
        }
    }
}

# Bad bodies for /api/patterns/search: [body, field (undef: none applies),
# message pattern].
our @BAD = (
    [substr(search_body(), 0, -1), undef, 'malformed JSON'],
    [search_body(colour => 'red'), 'colour', 'unknown field'],
    [search_body(k => '40'), 'k', '^k must be an integer'],
    [search_body(k => 4.5), 'k', '^k must be an integer'],
    [search_body(k => 0), 'k', '1 to 500'],
    [search_body(k => 501), 'k', '1 to 500'],
    [search_body(horizon => '10'), 'horizon', '^horizon'],
    [search_body(horizon => 11), 'horizon',
     '1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 45, 60'],
    [search_body(horizon => 0), 'horizon', '10, 15, 20, 30, 45, 60'],
    [search_body(exclude_self => 'true'), 'exclude_self', 'true or false'],
    [search_body(cross_asset => 1), 'cross_asset', 'true or false'],
    [search_body(alpha => '6'), 'alpha', '^alpha'],
    [search_body(alpha => -1), 'alpha', '0 to 50'],
    [search_body(alpha => 51), 'alpha', '0 to 50'],
    [search_body(trim_lo => 50), 'trim_lo', '0 to 49'],
    [search_body(trim_hi => 5.5), 'trim_hi', 'trim_hi'],
    [search_body(ticker => 'TOOLONGTICKER1'), 'ticker', 'TOOLONGTICKER1'],
    [search_body(ticker => '1ABC'), 'ticker', 'not a valid symbol'],
    [search_body(ticker => 'A B'), 'ticker', 'not a valid symbol'],
    [search_body(ticker => undef), 'ticker', 'ticker'],
    [search_body(mode => 'later'), 'mode', 'mode'],
    [search_body(timestamp => '2024-13-01T00:00:00Z'), 'timestamp',
     'ISO-8601'],
    [search_body(timestamp => 'yesterday'), 'timestamp', 'ISO-8601'],
    [search_body(timestamp => '2024-01-05T25:00'), 'timestamp', 'ISO-8601'],
    [search_body(timestamp => 1704466800), 'timestamp', 'timestamp'],
    [search_body(timestamp => undef), 'timestamp', 'required'],
    ['[' . search_body() . ']', undef, 'JSON object'],
    ['{"ticker": "A", "ticker": "B", "timestamp": "2024-01-05"}', 'ticker',
     'ticker'],
    ['{"ticker": "A\u0000B", "timestamp": "2024-01-05"}', undef, 'u0000'],
    ['{"ticker": "A", "timestamp": "2024-01-05", "k": '
     . ('[' x 40) . (']' x 40) . '}', undef, 'nested'],
);

# The front end's historical search of the query bar.
our $FE_BODY = $JSON->encode({ symbol => lc $Q{ticker}, date => $DATE,
                               time => hhmm($Q{minute}), k => 25,
                               cross_asset => JSON::PP::true,
                               window_minutes => 30 });

# A historical search whose horizon (60) the day cannot reach.
our $LATE_BODY = $JSON->encode(
    $LATE ? { symbol => $LATE->{ticker}, date => $DATE,
              time => hhmm($LATE->{bars}[$LATE->{idx}]{minute} + 1),
              k => 10, horizon => 60, cross_asset => JSON::PP::true,
              window_minutes => 30 }
          : { symbol => $Q{ticker}, date => $DATE, time => hhmm($Q{minute}),
              k => 10, cross_asset => JSON::PP::true, window_minutes => 30 });

# The chart data of the query ticker between 09:30 and 10:15.
our @CHART = grep { $_->{minute} >= 9 * 60 + 30
                    && $_->{minute} <= 10 * 60 + 15 } @{ $Q{bars} };
our $CHART_Q = "date=$DATE&start_time=09:30&end_time=10:15";
# a share-class ticker (BRK.B style) when the fixture has one
our $DOTTED = (grep { /\./ } tickers_by_activity($LAST))[0] // $Q{ticker};
our @DOTTED_CHART = grep { $_->{minute} >= 9 * 60 + 30
                           && $_->{minute} <= 10 * 60 + 15 }
                    @{ $LAST->{tickers}{$DOTTED} };

# What build-index must have indexed: every pattern of every day, and the
# tickers that have at least one.
our ($N_VECTORS, %WITH_PATTERNS) = (0);
for my $day (@DAYS) {
    for my $t (keys %{ $day->{tickers} }) {
        my $n = indexable_windows($day->{tickers}{$t}, $MIN_VOLUME);
        $N_VECTORS += $n;
        $WITH_PATTERNS{$t} = 1 if $n;
    }
}
our $N_TICKERS = keys %WITH_PATTERNS;

engine_config(data => "$FIXTURES/demo", clock => iso_z($CLOCK));
run_tests();

__DATA__

=== TEST 1: search: the shape of SPEC 5.2, the query bar, nearest first
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
post_search()
--- response_json eval
{ ticker => $Q{ticker}, mode => 'historical',
  query_time => iso_z($T_END + 30), bar_time => iso_z($QBAR->{start}),
  session => 'regular', horizon => 10, k => 40, n_neighbors => 40,
  prob_up => '~any', prob_down => '~any', mean_return => '~any',
  std_return => '~any', p10 => '~any', p90 => '~any', edge => '~any',
  direction => '~/^(UP|DOWN)$/', dist1 => '~any' }
--- response_headers
Content-Type: application/json
--- response_json_path
neighbors.length == 40
neighbors[0].weight == 1
neighbors[0].trajectory.length == 15
--- post_request
my $r = api_post('/api/patterns/search', search_body());
is($r->{code}, 200, 'the same search again: 200');
check_patterns_answer('search', $r->{json}, ticker => $Q{ticker},
                      horizon => 10, k => 40, enough => 1,
                      day_start => $LAST->{day_start});



=== TEST 2: search: the neighbours are the exact 40 nearest patterns before the query day
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
post_search()
--- post_request
my $r = api_post('/api/patterns/search', search_body());
check_exact('k=40', $r->{json}, 40);
my $r2 = api_post('/api/patterns/search', search_body(horizon => 60, k => 7));
is($r2->{code}, 200, 'horizon 60, k 7: 200');
check_exact('horizon 60', $r2->{json}, 7);
check_patterns_answer('horizon 60', $r2->{json}, ticker => $Q{ticker},
                      horizon => 60, k => 7, enough => 1,
                      day_start => $LAST->{day_start});



=== TEST 3: search: the query bar is the latest complete one, whatever the timestamp's form
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
[post_search(timestamp => iso_z($T_END + 30)),
 post_search(timestamp => iso_z($T_END)),
 post_search(timestamp => "$WALL$OFFSET"),
 post_search(timestamp => $WALL),
 post_search(timestamp => iso_z($T_END + 30) =~ s/Z\z/+00:00/r),
 post_search(timestamp => iso_z($T_END + 59)),
 post_search(timestamp => iso_z($T_END + 59) =~ s/Z\z/.999Z/r),
 post_search(timestamp => iso_z($T_END + 60))]
--- response_json eval
[map({ { bar_time => iso_z($QBAR->{start}), query_time => "~/^$_/" } }
     map { iso_z($_) =~ s/Z\z//r } $T_END + 30, $T_END, $T_END + 30,
                                    $T_END + 30, $T_END + 30, $T_END + 59,
                                    $T_END + 59),
 { bar_time => iso_z($NEXT->{start}), query_time => iso_z($T_END + 60) }]



=== TEST 4: search: realtime mode scans the latest complete bar before the clock
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
["POST /api/patterns/search\n"
 . $JSON->encode({ ticker => $Q{ticker}, mode => 'realtime', k => 5 }),
 "POST /api/patterns/search\n"
 . $JSON->encode({ ticker => $Q{ticker}, mode => 'REALTIME', k => 5,
                   timestamp => '2001-01-01T00:00:00Z' }),
 "POST /api/patterns/search\n"
 . $JSON->encode({ ticker => $Q{ticker}, mode => 'realtime',
                   timestamp => 'now' })]
--- error_code eval
[200, 200, 400]
--- response_json eval
[{ mode => 'realtime', query_time => iso_z($CLOCK),
   bar_time => iso_z($Q{bars}[$RT_IDX]{start}), n_neighbors => 5 },
 { mode => 'realtime', bar_time => iso_z($Q{bars}[$RT_IDX]{start}) },
 { error => { code => 'E_BAD_REQUEST', field => 'timestamp' } }]



=== TEST 5: search: the session of the query bar (pre, regular, post)
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
[map { post_search(ticker => $_->{ticker},
                   timestamp => iso_z($_->{bar}{start} + 60), k => 3) }
 @SESSIONS]
--- response_json eval
[map { { session => $_->{session},
         bar_time => iso_z($_->{bar}{start}) } } @SESSIONS]



=== TEST 6: search: exclude_self and cross_asset
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
[post_search(k => 200),
 post_search(k => 200, exclude_self => JSON::PP::true),
 post_search(k => 20, cross_asset => JSON::PP::false),
 post_search(cross_asset => JSON::PP::false, exclude_self => JSON::PP::true)]
--- error_code eval
[200, 200, 200, 400]
--- response_json eval
[{ n_neighbors => 200 }, { n_neighbors => 200, exclude_self => JSON::PP::true },
 { n_neighbors => 20, cross_asset => JSON::PP::false },
 { error => { code => 'E_BAD_REQUEST', field => 'cross_asset',
              message => '~/exclude_self/' },
   detail => '~any' }]
--- post_request
my $all = api_post('/api/patterns/search', search_body(k => 200))->{json};
my $same = grep { $_->{ticker} eq $Q{ticker} } @{ $all->{neighbors} };
ok($same > 0, "without exclusions the 200 nearest include $Q{ticker} "
              . "itself ($same): the next checks mean something");

my $ex = api_post('/api/patterns/search',
                  search_body(k => 200,
                              exclude_self => JSON::PP::true))->{json};
ok(!grep({ $_->{ticker} eq $Q{ticker} } @{ $ex->{neighbors} }),
   'exclude_self: no neighbour of the query ticker');
check_exact('exclude_self', $ex, 200, sub { $_[0]{ticker} ne $Q{ticker} });

my $own = api_post('/api/patterns/search',
                   search_body(k => 20,
                               cross_asset => JSON::PP::false))->{json};
ok(@{ $own->{neighbors} } == 20
   && !grep({ $_->{ticker} ne $Q{ticker} } @{ $own->{neighbors} }),
   'cross_asset=false: only the query ticker');
check_exact('cross_asset=false', $own, 20,
            sub { $_[0]{ticker} eq $Q{ticker} });
check_patterns_answer('cross_asset=false', $own, ticker => $Q{ticker},
                      horizon => 10, k => 20, enough => 1,
                      day_start => $LAST->{day_start});



=== TEST 7: search: alpha, trimming and a lower-case ticker
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
[post_search(ticker => lc $Q{ticker}, k => 1),
 post_search(alpha => 0, k => 10),
 post_search(trim_lo => 10, trim_hi => 20, k => 40)]
--- response_json eval
[{ ticker => $Q{ticker}, n_neighbors => 1, prob_up => '~any' },
 { alpha => 0, n_neighbors => 10 },
 { trim_lo => 10, trim_hi => 20, n_neighbors => 40 }]
--- post_request
my $one = api_post('/api/patterns/search',
                   search_body(ticker => lc $Q{ticker}, k => 1))->{json};
my $r = $one->{neighbors}[0]{return};
ok(close_to($one->{mean_return}, as_float($r), 1e-12),
   'k=1: the mean is the one return');
is($one->{prob_up}, $r > 0 ? 1 : $r < 0 ? 0 : 0.5, 'k=1: prob_up');
is($one->{std_return}, 0, 'k=1: std 0');

my $flat = api_post('/api/patterns/search',
                    search_body(alpha => 0, k => 10))->{json};
ok(!grep({ $_->{weight} != 1 } @{ $flat->{neighbors} }),
   'alpha=0: every weight is 1');
check_patterns_answer('alpha=0', $flat, ticker => $Q{ticker}, horizon => 10,
                      k => 10, alpha => 0, enough => 1);

# trimming by count: of 40 neighbours, the lowest 10 % (4) and the highest
# 20 % (8) returns go; the fixture's many unchanged prices make ties
my $tr = api_post('/api/patterns/search',
                  search_body(trim_lo => 10, trim_hi => 20, k => 40))->{json};
my @n = @{ $tr->{neighbors} };
my @r = map { as_float($_->{return}) } @n;
my %gone = map { $_ => 1 } trimmed_indexes(\@r, 10, 20);
is(join(' ', grep { $n[$_]{trimmed} } 0 .. $#n),
   join(' ', sort { $a <=> $b } keys %gone),
   'trimming: the 4 lowest and 8 highest returns are marked trimmed '
   . '(ties: the farthest)');
my @kept = grep { !$gone{$_} } 0 .. $#n;
my $s = forecast_stats([@r[@kept]], [map { $n[$_]{weight} } @kept]);
ok(close_to($tr->{mean_return}, $s->{mean}, 1e-9)
   && close_to($tr->{prob_up}, $s->{prob_up}, 1e-9)
   && close_to($tr->{p10}, $s->{p10}, 1e-9)
   && close_to($tr->{p90}, $s->{p90}, 1e-9),
   'trimming: statistics over the kept neighbours with their weights')
    or diag("mean $tr->{mean_return} want $s->{mean}, "
            . "prob_up $tr->{prob_up} want $s->{prob_up}");
ok(close_to($tr->{dist1}, $n[0]{distance}, 0),
   'trimming: dist1 is still the nearest neighbour');



=== TEST 8: search: bad requests are 400 E_BAD_REQUEST naming the field
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
[map { "POST /api/patterns/search\n$_->[0]" } @BAD]
--- error_code eval
[map { 400 } @BAD]
--- response_json eval
[map {
    { error => { code => 'E_BAD_REQUEST', message => "~/$_->[2]/",
                 defined $_->[1] ? (field => $_->[1]) : () },
      detail => "~/$_->[2]/" }
 } @BAD]
--- no_error_log
[error]



=== TEST 9: search: an empty body is a 400, not a 500
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
"POST /api/patterns/search\n"
--- error_code: 400
--- response_json
{"error": {"code": "E_BAD_REQUEST", "message": "~/empty/"}}



=== TEST 10: search: a body over pattern_rt_max_body is 413 E_TOO_LARGE; GET is 405
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
["POST /api/patterns/search\n" . (' ' x (2 * 1024 * 1024)) . search_body(),
 "GET /api/patterns/search",
 "PUT /api/patterns/search\n" . search_body()]
--- error_code eval
[413, 405, 405]
--- response_json eval
[{ error => { code => 'E_TOO_LARGE' }, detail => '~any' },
 { error => { code => 'E_METHOD' } },
 { error => { code => 'E_METHOD' } }]



=== TEST 11: search: no bars (404 E_NO_DATA) and no contiguous window (422 E_WINDOW)
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
[post_search(ticker => $UNKNOWN),
 post_search(timestamp => "${DAY_BEFORE}T12:00:00"),
 post_search(timestamp => iso_z($Q{bars}[0]{start} + 59)),
 post_search(timestamp => iso_z($Q{bars}[0]{start} + 60)),
 post_search(ticker => $GAP{ticker},
             timestamp => iso_z($GAP{bar}{start} + 60))]
--- error_code eval
[404, 404, 404, 422, 422]
--- response_json eval
[{ error => { code => 'E_NO_DATA', message => "~/$UNKNOWN/" },
   detail => '~any' },
 { error => { code => 'E_NO_DATA', message => "~/$DAY_BEFORE/" } },
 { error => { code => 'E_NO_DATA' } },
 { error => { code => 'E_WINDOW', message => '~/contiguous/' } },
 { error => { code => 'E_WINDOW',
              message => "~/$GAP{ticker}.*" . hhmm($GAP{bar}{minute}) . '/' } }]



=== TEST 12: front end, historical: SPEC 5.2's view, context and actual from the flat file
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
"POST /api/search/historical\n" . $FE_BODY
--- response_json eval
{ status => 'ok',
  query => { symbol => $Q{ticker}, date => $DATE,
             time => hhmm($Q{minute}) },
  stats => { query_time_ms => '~any' },
  forecast => { horizon_minutes => 10, n_neighbors => 25,
                confidence => '~/^(high|medium|low)$/' },
  historical_context => {
      pattern_end => iso_z($T_END),
      pattern_prices => [map { $_->{close} + 0 }
                         @{ $Q{bars} }[$Q{idx} - 29 .. $Q{idx}]] },
  actual => { returns => '~any', final_return => '~any' } }
--- response_json_path
neighbors.length == 25
neighbors[0].future_returns.length == 15
forecast.mean_trajectory.length == 15
forecast.std_trajectory.length == 15
--- post_request
my $a = api_post('/api/search/historical', $FE_BODY)->{json};
check_frontend_answer('historical', $a, symbol => $Q{ticker}, date => $DATE,
                      k => 25);
my $want = trajectory($Q{bars}, $Q{idx});
my $got = $a->{actual}{returns};
ok(same_trajectory($got, $want),
   'actual.returns is the trajectory from the flat file')
    or diag("got @{[ $JSON->encode($got) ]}\nwant @{[ $JSON->encode($want) ]}");
ok(close_to($a->{actual}{final_return}, $want->[horizon_index(10)], 1e-6),
   'actual.final_return is the return at the horizon');
# the same neighbours as /api/patterns/search finds for that bar
my $p = api_post('/api/patterns/search',
                 search_body(k => 25, timestamp => iso_z($T_END)))->{json};
is_deeply([map { "$_->{symbol} $_->{date} $_->{end_time} $_->{distance}" }
           @{ $a->{neighbors} }],
          [map {
               my ($d, $m) = utc_to_ny(iso_s($_->{time}));
               "$_->{ticker} $d " . hhmm($m + 1) . " $_->{distance}"
           } @{ $p->{neighbors} }],
          'neighbours: the same as /api/patterns/search, with dates and '
          . 'end times in New York');
ok(close_to($a->{forecast}{mean_return}, $p->{mean_return}, 1e-12)
   && close_to($a->{forecast}{best_case}, $p->{p90}, 1e-12)
   && close_to($a->{forecast}{worst_case}, $p->{p10}, 1e-12),
   'forecast: mean, best_case = p90, worst_case = p10 of that search');



=== TEST 13: front end, historical: no actual past 20:00 before the day ends, insufficient data, window_minutes
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
["POST /api/search/historical\n$LATE_BODY",
 "POST /api/search/historical\n"
 . $JSON->encode({ symbol => $UNKNOWN, date => $DATE, time => '12:00',
                   k => 10, cross_asset => JSON::PP::true,
                   window_minutes => 30 }),
 "POST /api/search/historical\n"
 . $JSON->encode({ symbol => $Q{ticker}, date => $DATE,
                   time => hhmm($Q{bars}[0]{minute} + 1), k => 10,
                   cross_asset => JSON::PP::true, window_minutes => 30 }),
 "POST /api/search/historical\n"
 . $JSON->encode({ symbol => $Q{ticker}, date => $DATE, time => '10:00',
                   k => 10, cross_asset => JSON::PP::true,
                   window_minutes => 121 }),
 "POST /api/search/historical\n"
 . $JSON->encode({ symbol => $Q{ticker}, date => $DATE, time => '9:30',
                   k => 10, cross_asset => JSON::PP::true })]
--- error_code eval
[200, 200, 200, 400, 400]
--- response_json eval
[{ status => 'ok', forecast => { horizon_minutes => $LATE ? 60 : 10 } },
 { status => 'insufficient_data', query => { symbol => $UNKNOWN },
   error => "~/no bars for $UNKNOWN/", error_code => 'E_NO_DATA' },
 { status => 'insufficient_data', error => '~/contiguous/',
   error_code => 'E_WINDOW' },
 { error => { code => 'E_BAD_REQUEST', field => 'window_minutes',
              message => '~/from 15 to 120/' } },
 { error => { code => 'E_BAD_REQUEST', field => 'time' } }]
--- post_request
SKIP: {
    skip 'no valid window after 19:00 in the fixture', 2 unless $LATE;
    my $a = api_post('/api/search/historical',
                     $LATE_BODY)->{json};
    is($a->{status}, 'ok', 'a late window is searched');
    ok(!exists $a->{actual},
       'no actual when t + 60 is past 20:00 and the day (the clock\'s) is '
       . 'not over: its last close is not known yet');
}



=== TEST 14: front end, realtime: the latest complete bar before the clock
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
["GET /api/search/$Q{ticker}?k=12&cross_asset=true",
 "GET /api/search/\L$Q{ticker}\E?k=12&cross_asset=false",
 "GET /api/search/$UNKNOWN?k=12",
 "GET /api/search/$Q{ticker}?k=0",
 "GET /api/search/$Q{ticker}?cross_asset=maybe"]
--- error_code eval
[200, 200, 200, 400, 400]
--- response_json eval
[{ status => 'ok',
   query => { symbol => $Q{ticker}, date => $DATE,
              time => hhmm($Q{bars}[$RT_IDX]{minute} + 1),
              bar_time => iso_z($Q{bars}[$RT_IDX]{start}) },
   forecast => { n_neighbors => 12 } },
 { status => 'ok', query => { symbol => $Q{ticker} },
   forecast => { n_neighbors => 12 } },
 { status => 'insufficient_data', query => { symbol => $UNKNOWN },
   error => "~/no bars for $UNKNOWN/", error_code => 'E_NO_DATA' },
 { error => { code => 'E_BAD_REQUEST', field => 'k' } },
 { error => { code => 'E_BAD_REQUEST', field => 'cross_asset' } }]
--- post_request
my $a = api_get("/api/search/$Q{ticker}?k=12&cross_asset=true")->{json};
check_frontend_answer('realtime', $a, symbol => $Q{ticker}, date => $DATE,
                      k => 12);
ok(!exists $a->{actual}, 'realtime: no actual');
my $own = api_get("/api/search/$Q{ticker}?k=12&cross_asset=false")->{json};
ok(!grep({ $_->{symbol} ne $Q{ticker} } @{ $own->{neighbors} }),
   'cross_asset=false: only the query ticker');
my $p = api_post('/api/patterns/search',
                 $JSON->encode({ ticker => $Q{ticker}, mode => 'realtime',
                                 k => 12 }))->{json};
is_deeply([map { $_->{distance} } @{ $a->{neighbors} }],
          [map { $_->{distance} } @{ $p->{neighbors} }],
          'the same neighbours as the realtime /api/patterns/search');



=== TEST 15: chart data: closes and candles of the flat file
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
["GET /api/historical/prices/$Q{ticker}?$CHART_Q",
 "GET /api/historical/ohlc/\L$Q{ticker}\E?$CHART_Q",
 "GET /api/historical/prices/$Q{ticker}?start_time=09:30&end_time=10:15",
 "GET /api/historical/prices/$UNKNOWN?date=$DATE",
 "GET /api/historical/ohlc/$Q{ticker}?date=$DAY_BEFORE",
 "GET /api/historical/prices/$Q{ticker}?date=$DATE&start_time=25:00",
 "GET /api/historical/prices/$Q{ticker}?date=$DATE&start_time=9:30",
 "GET /api/historical/prices/$Q{ticker}?date=$DATE&start_time=11:00"
 . "&end_time=10:00",
 "GET /api/historical/ohlc/$Q{ticker}?date=2024-02-30",
 "GET /api/historical/prices/$DOTTED?$CHART_Q"]
--- error_code eval
[200, 200, 200, 404, 404, 400, 400, 400, 400, 200]
--- response_json eval
[{ times => [map { hhmm($_->{minute}) } @CHART],
   prices => [map { $_->{close} + 0 } @CHART] },
 { candles => [map { { time => hhmm($_->{minute}), open => $_->{open} + 0,
                       high => $_->{high} + 0, low => $_->{low} + 0,
                       close => $_->{close} + 0 } } @CHART] },
 { date => $DATE, times => [map { hhmm($_->{minute}) } @CHART] },
 { error => { code => 'E_NO_DATA' }, detail => '~any' },
 { error => { code => 'E_NO_DATA' } },
 { error => { code => 'E_BAD_REQUEST', field => 'start_time' } },
 { error => { code => 'E_BAD_REQUEST', field => 'start_time' } },
 { error => { code => 'E_BAD_REQUEST' } },
 { error => { code => 'E_BAD_REQUEST', field => 'date' } },
 { symbol => $DOTTED, times => [map { hhmm($_->{minute}) } @DOTTED_CHART],
   prices => [map { $_->{close} + 0 } @DOTTED_CHART] }]



=== TEST 16: index stats and available dates describe the fixture
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
["GET /api/index/stats", "GET /api/available-dates"]
--- response_json eval
[{ n_vectors => $N_VECTORS, dim => 30, index_type => 'Flat',
   recall_at_40 => 1, days => scalar @DAYS, tickers => $N_TICKERS,
   first_day => $DAYS[0]{date}, last_day => $DATE,
   min_window_volume => $MIN_VOLUME, built_at => '~/Z$/' },
 { dates => [map { $_->{date} } @DAYS], last => $DATE }]



=== TEST 17: CORS: the allowed origin on a search answer, on a 400 and on a preflight
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
[post_search(k => 3), post_search(k => 0),
 "POST /api/search/historical\n$FE_BODY",
 "OPTIONS /api/patterns/search", post_search(k => 3)]
--- more_headers eval
["Origin: http://localhost:3000", "Origin: http://localhost:3000",
 "Origin: http://localhost:3000",
 "Origin: http://localhost:3000\nAccess-Control-Request-Method: POST\n"
 . "Access-Control-Request-Headers: content-type",
 "Origin: https://elsewhere.example"]
--- error_code eval
[200, 400, 200, 204, 200]
--- response_headers_like eval
["Access-Control-Allow-Origin: ^http://localhost:3000\$",
 "Access-Control-Allow-Origin: ^http://localhost:3000\$",
 "Access-Control-Allow-Origin: ^http://localhost:3000\$",
 "Access-Control-Allow-Origin: ^http://localhost:3000\$\n"
 . "Access-Control-Allow-Methods: POST\n"
 . "Access-Control-Allow-Headers: (?i:content-type)",
 "Content-Type: ^application/json"]
--- response_headers eval
["", "", "", "", "!Access-Control-Allow-Origin"]
