# Pattern search on real minute bars (the real-qc and real-erik fixtures,
# built by t/fixtures/prepare from ../shared/data/real): every answer is
# checked against the flat files themselves, read here in Perl
# (t/lib/PatternRT/Bars.pm) independently of the engine.
#
#   real-qc    10 tickers, 20 days 2008-2023, 04:00-20:00 bars, Flat index:
#              the neighbours are the exact nearest patterns
#   real-erik  6 tickers, 153 days of regular hours, IVF-PQ index with the
#              recall-tuned nprobe
#
# The file skips when the real bars are not there.

use lib 't/lib';
use PatternRT::Test;
use JSON::PP ();
use Time::Local ();

use PatternRT::Bars qw(
    read_day flat_days ny_to_utc utc_to_ny iso_z horizon_index
    bar_index window_vector trajectory held_trajectory day_patterns nearest
);
use PatternRT::Search qw(
    api_get api_post wait_for_workers close_to same_trajectory
    check_patterns_answer check_frontend_answer check_exact_neighbours
    check_neighbours_in_flat
);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
our $REAL = $ENV{PRT_REAL_DATA} // '';
our $QC_FLAT = "$REAL/quantconnect-lean";
our $ERIK_FLAT = "$REAL/erikmattheis-equity-minute-data";
plan(skip_all => "no real-data fixture ($FIXTURES/real-qc): the real bars "
                 . '(PRT_REAL_DATA, default ../shared/data/real) are not '
                 . 'there, or the file was not run through t/run')
    unless -d "$FIXTURES/real-qc" && -d $QC_FLAT;
our $HAVE_ERIK = -d "$FIXTURES/real-erik" && -d $ERIK_FLAT;

our $MIN_VOLUME = 1000;
our $JSON = JSON::PP->new->canonical;

sub hhmm {
    my ($minute) = @_;

    return sprintf '%02d:%02d', int($minute / 60), $minute % 60;
}

# Flat files of one folder, read on first use.
sub flat_reader {
    my ($dir) = @_;

    my %path = map { $_->[0] => $_->[1] } flat_days($dir);
    my %day;
    return (sub { $day{$_[0]} //= read_day($path{$_[0]}
                                    // die "no flat file for $_[0]\n") },
            [sort keys %path]);
}

# The query on $day (read_day's result): its most active ticker (or
# $prefer when it trades that day), at the first minute M from 10:30 whose
# window ending at M-1 is valid.
sub choose_query {
    my ($day, $prefer) = @_;

    my $t = $day->{tickers};
    my @order = sort { @{ $t->{$b} } <=> @{ $t->{$a} } || $a cmp $b } keys %$t;
    unshift @order, $prefer if $prefer && $t->{$prefer};
    for my $ticker (@order) {
        my $bars = $t->{$ticker};
        for my $m (10 * 60 + 30 .. 15 * 60) {
            my $i = bar_index($bars, $m - 1);
            next unless defined $i;
            my ($vec) = window_vector($bars, $i);
            return { ticker => $ticker, bars => $bars, idx => $i,
                     minute => $m, vec => $vec, date => $day->{date},
                     day_start => $day->{day_start} } if $vec;
        }
    }
    die "no query window on $day->{date}\n";
}

# real-qc: the last day, its most active ticker
our ($QC_DAY, $QC_DATES) = flat_reader($QC_FLAT);
our %QC = %{ choose_query($QC_DAY->($QC_DATES->[-1])) };
our $QC_END = $QC{bars}[$QC{idx}]{start} + 60;
our $QC_BODY = $JSON->encode({ ticker => $QC{ticker}, k => 20, horizon => 10,
                               timestamp => iso_z($QC_END) });
our $QC_FE_BODY = $JSON->encode({ symbol => $QC{ticker}, date => $QC{date},
                                  time => hhmm($QC{minute}), k => 20,
                                  cross_asset => JSON::PP::true,
                                  window_minutes => 30 });

# A ticker-day with a valid window whose ticker trades on earlier days, all
# on the other side of a daylight-saving switch (the other UTC offset): its
# same-ticker neighbours all come from across the switch.
sub utc_offset {
    my ($date) = @_;

    my ($y, $m, $d) = split /-/, $date;
    return ny_to_utc($date, 12, 0, 0)
           - Time::Local::timegm(0, 0, 12, $d, $m - 1, $y);
}

sub choose_dst_query {
    my @dates = @$QC_DATES;
    for my $i (1 .. $#dates) {
        my $day = $QC_DAY->($dates[$i]);
        for my $ticker (sort keys %{ $day->{tickers} }) {
            my @earlier = grep { $QC_DAY->($_)->{tickers}{$ticker} }
                          @dates[0 .. $i - 1];
            next unless @earlier && !grep {
                utc_offset($_) == utc_offset($dates[$i])
            } @earlier;
            my $bars = $day->{tickers}{$ticker};
            my ($w) = PatternRT::Bars::indexable_windows($bars, $MIN_VOLUME);
            next unless $w;
            return { ticker => $ticker, bars => $bars, idx => $w->[0],
                     vec => $w->[1], date => $dates[$i],
                     day_start => $day->{day_start} };
        }
    }
    return undef;
}

our $DST = choose_dst_query();
our $DST_BODY = $DST && $JSON->encode({
    ticker => $DST->{ticker}, k => 5, cross_asset => JSON::PP::false,
    timestamp => "$DST->{date}T"
                 . hhmm($DST->{bars}[$DST->{idx}]{minute} + 1)
});

# real-erik: SPY a third of the way into the data, so that the exact
# search in Perl (every pattern before that day) stays quick
our ($ERIK_DAY, $ERIK_DATES, %ERIK, $ERIK_BODY);
if ($HAVE_ERIK) {
    ($ERIK_DAY, $ERIK_DATES) = flat_reader($ERIK_FLAT);
    %ERIK = %{ choose_query($ERIK_DAY->($ERIK_DATES->[@$ERIK_DATES / 3]),
                            'SPY') };
    $ERIK_BODY = $JSON->encode({
        ticker => $ERIK{ticker}, k => 40, horizon => 10,
        timestamp => iso_z($ERIK{bars}[$ERIK{idx}]{start} + 60) });
}

sub patterns_before {
    my ($day_of, $dates, $date) = @_;

    return day_patterns([map { $day_of->($_) } grep { $_ lt $date } @$dates],
                        $MIN_VOLUME);
}

our $CONFIG = <<'END';
    location / {
        pattern_rt_api;
    }
END

engine_config(data => "$FIXTURES/real-qc",
              clock => iso_z(ny_to_utc($QC{date}, 16, 0, 0)));
run_tests();

__DATA__

=== TEST 1: real-qc: a historical search, every neighbour recomputed from its own flat file
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
"POST /api/patterns/search\n$QC_BODY"
--- response_json eval
{ ticker => $QC{ticker}, bar_time => iso_z($QC{bars}[$QC{idx}]{start}),
  n_neighbors => 20, horizon => 10 }
--- post_request
my $a = api_post('/api/patterns/search', $QC_BODY)->{json};
check_patterns_answer('real-qc', $a, ticker => $QC{ticker}, horizon => 10,
                      k => 20, enough => 1, day_start => $QC{day_start});
check_neighbours_in_flat('real-qc', $a, $QC{vec}, $QC_DAY);
my $nearest = $a->{neighbors}[0];
my ($date, $minute) = utc_to_ny(PatternRT::Bars::iso_s($nearest->{time}));
my $bars = $QC_DAY->($date)->{tickers}{$nearest->{ticker}};
my ($vec) = window_vector($bars, bar_index($bars, $minute));
ok(close_to($a->{dist1}, PatternRT::Bars::l2($QC{vec}, $vec), 1e-4),
   'dist1 is the L2 distance between the two windows of the flat files');



=== TEST 2: real-qc: the exact nearest patterns of every earlier day
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
"POST /api/patterns/search\n$QC_BODY"
--- post_request
my $a = api_post('/api/patterns/search', $QC_BODY)->{json};
my $before = patterns_before($QC_DAY, $QC_DATES, $QC{date});
check_exact_neighbours('real-qc exact', $a, $QC{vec}, 20, $before);
my $own = api_post('/api/patterns/search',
                   $JSON->encode({ ticker => $QC{ticker}, k => 5,
                                   timestamp => iso_z($QC_END),
                                   cross_asset => JSON::PP::false }));
is($own->{code}, 200, 'cross_asset=false: 200');
check_exact_neighbours('real-qc same ticker', $own->{json}, $QC{vec}, 5,
                       $before, sub { $_[0]{ticker} eq $QC{ticker} });



=== TEST 3: real-qc: the front end's view: context prices, actual and neighbours from the flat files
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
"POST /api/search/historical\n$QC_FE_BODY"
--- response_json eval
{ status => 'ok',
  query => { symbol => $QC{ticker}, date => $QC{date},
             time => hhmm($QC{minute}) },
  historical_context => {
      pattern_prices => [map { $_->{close} + 0 }
                         @{ $QC{bars} }[$QC{idx} - 29 .. $QC{idx}]],
      pattern_end => iso_z($QC_END) } }
--- post_request
my $a = api_post('/api/search/historical', $QC_FE_BODY)->{json};
check_frontend_answer('real-qc view', $a, symbol => $QC{ticker},
                      date => $QC{date}, k => 20);
ok(same_trajectory($a->{actual}{returns}, trajectory($QC{bars}, $QC{idx})),
   'actual.returns: what followed, from the flat file');
my @bad;
for my $n (@{ $a->{neighbors} }) {
    my $bars = $QC_DAY->($n->{date})->{tickers}{$n->{symbol}};
    my ($h, $m) = split /:/, $n->{end_time};
    my $i = $bars ? bar_index($bars, $h * 60 + $m - 1) : undef;
    push @bad, "$n->{symbol} $n->{date} $n->{end_time}"
        unless defined $i && same_trajectory($n->{future_returns},
                                             held_trajectory($bars, $i));
}
ok(!@bad, 'every neighbour\'s future_returns is the trajectory of its '
          . 'flat file, held at the day\'s last close past 20:00')
    or diag("@bad");



=== TEST 4: real-qc: chart data are the flat file's bars
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
"GET /api/historical/ohlc/$QC{ticker}?date=$QC{date}&start_time=04:00"
. '&end_time=20:00'
--- response_json eval
{ candles => [map { { time => hhmm($_->{minute}), open => $_->{open} + 0,
                      high => $_->{high} + 0, low => $_->{low} + 0,
                      close => $_->{close} + 0 } } @{ $QC{bars} }] }



=== TEST 5: real-qc: across a daylight-saving switch (New York times without an offset)
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
$DST ? "POST /api/patterns/search\n$DST_BODY" : "GET /health"
--- response_json eval
$DST ? { ticker => $DST->{ticker},
         bar_time => iso_z($DST->{bars}[$DST->{idx}]{start}) } : {}
--- post_request
SKIP: {
    skip 'no ticker-day next to a daylight-saving switch', 1 unless $DST;
    my $a = api_post('/api/patterns/search', $DST_BODY)->{json};
    my $before = patterns_before($QC_DAY, $QC_DATES, $DST->{date});
    my @own = grep { $_->{ticker} eq $DST->{ticker} } @$before;
    check_exact_neighbours("$DST->{ticker} $DST->{date}", $a, $DST->{vec},
                           5, \@own);
    check_neighbours_in_flat("$DST->{ticker} $DST->{date}", $a, $DST->{vec},
                             $QC_DAY);
    ok(!grep({ utc_offset((utc_to_ny(PatternRT::Bars::iso_s($_->{time})))[0])
               == utc_offset($DST->{date}) } @{ $a->{neighbors} }),
       'the neighbours are from the other side of the switch');
}



=== TEST 6: real-erik: the IVF-PQ index at its recall-tuned nprobe
--- config eval: $CONFIG
--- init
wait_for_workers();
return unless $HAVE_ERIK;
engine_config(data => "$FIXTURES/real-erik",
              clock => iso_z(ny_to_utc($ERIK_DATES->[-1], 16, 0, 0)));
engine_restart(fresh => 1);
wait_for_workers();
wait_until(sub {
    my $s = api_get('/api/index/stats');
    $s->{code} == 200 && $s->{json}{index_type} =~ /IVF/
}, 20, 'the workers to reach the real-erik engine');
--- request eval
$HAVE_ERIK ? "GET /api/index/stats" : "GET /health"
--- response_json_path eval
$HAVE_ERIK ? <<'END' : ''
index_type =~ /^IVF\d+,PQ/
nlist > 0
nprobe > 0
recall_at_40 >= 0.9
recall_at_40 <= 1
dim == 30
END
--- response_json eval
$HAVE_ERIK ? { days => scalar @$ERIK_DATES, first_day => $ERIK_DATES->[0],
               last_day => $ERIK_DATES->[-1] } : {}



=== TEST 7: real-erik: a historical search: before the query day, exact trajectories and distances, recall
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
$HAVE_ERIK ? "POST /api/patterns/search\n$ERIK_BODY" : "GET /health"
--- post_request
SKIP: {
    skip 'no real-erik fixture', 1 unless $HAVE_ERIK;
    my $a = api_post('/api/patterns/search', $ERIK_BODY)->{json};
    check_patterns_answer('real-erik', $a, ticker => $ERIK{ticker},
                          horizon => 10, k => 40, enough => 1,
                          day_start => $ERIK{day_start});
    # refine re-ranks by exact distance, so even through PQ the distances
    # are the true L2 ones
    check_neighbours_in_flat('real-erik', $a, $ERIK{vec}, $ERIK_DAY);
    my $before = patterns_before($ERIK_DAY, $ERIK_DATES, $ERIK{date});
    my %exact = map { ("$_->[1]{ticker} " . iso_z($_->[1]{time})) => 1 }
                nearest($before, $ERIK{vec}, 40, horizon_index(10));
    my $hits = grep { $exact{"$_->{ticker} $_->{time}"} } @{ $a->{neighbors} };
    # one query's recall varies around the index's average (0.9 or more);
    # far below it means the search or its re-fetch is broken
    ok($hits >= 32, "recall\@40 of this query against exact search: "
                    . "$hits/40 (at least 32)");
}
