# What the forecast is worth on real bars (SPEC 3.1, docs/forecast.md): the
# walk-forward of docs/forecast.md, the erikmattheis days from 2015-05-01 to
# 2015-07-02 replayed on an index of the days before (the `real-erik-wf`
# fixture), six symbols every 15 minutes of the regular session at horizons
# 10 and 30. The same recomputations as t/063-honest-stats.t (through
# PatternRT::HonestStats), and what calibration must do where the raw
# prob_up says nothing: tell the truth.

use lib 't/lib';
use PatternRT::Test;

use PatternRT::HonestStats qw(worth_problems calibration_problems
                              check_performance decile_table worst);
use PatternRT::Jobs qw(get_json history_all replay_command);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => "no real-erik-wf fixture ($FIXTURES/real-erik-wf): the "
                 . 'real bars are outside the project (PRT_REAL_DATA); run '
                 . 'through t/run, which builds build/t/fixtures')
    unless $FIXTURES && -d "$FIXTURES/real-erik-wf";
our $REAL = ($ENV{PRT_REAL_DATA} // '../shared/data/real')
            . '/erikmattheis-equity-minute-data';
plan(skip_all => "no $REAL/2015-07-02.csv.gz (PRT_REAL_DATA)")
    unless -f "$REAL/2015-07-02.csv.gz";

our @HORIZONS = (10, 30);
$PatternRT::Jobs::REPLAY_TIMEOUT = 1200;

engine_config(clock => 'feed', data => "$FIXTURES/real-erik-wf");

run_tests();

__DATA__

=== TEST 1: 2015-05-01 .. 2015-07-02 walk-forward, every figure recomputed
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $run = replay_command($main::REAL, '--from', '2015-05-01', '--to',
                          '2015-07-02', '--speed', 'max', '--scan',
                          'AAPL DIA FB IWM QQQ SPY', '--every', 15,
                          '--sessions', 'regular',
                          map { ('--horizon', $_) } @main::HORIZONS);
--- request
GET /health
--- error_code: 200
--- post_request
is($main::run->{code}, 0, 'replay exit code 0')
    or diag("$main::run->{cmd}\n$main::run->{out}$main::run->{err}");
diag($1) if $main::run->{out} =~ /^(performance \(period all\).*)^replay: \d+ days/ms;
my @items = history_all();
my @v = grep { $_->{verification} eq 'verified' } @items;
ok(@v > 10000, scalar(@v) . ' verified predictions');
my @p = (worth_problems(\@items), calibration_problems(\@items));
ok(!@p, 'n_eff, intervals and prob_up_calibrated of every prediction recomputed')
    or diag(join "\n", @p[0 .. ($#p < 20 ? $#p : 19)]);
check_performance(\@items, 'real bars', @main::HORIZONS);

my $perf = get_json('/api/pattern-realtime/performance?period=all');
my @off = grep { $_->{n} >= 100 && abs($_->{mean_prob_up} - $_->{realized_up}) > 0.05 }
          @{ $perf->{calibration}{calibrated_bins} };
ok(!@off, 'every calibrated tenth with 100 or more predictions within 5 '
          . 'points of the up moves that followed')
    or diag(join "\n", map { "[$_->{lo}, $_->{hi}) n $_->{n}: $_->{mean_prob_up} -> $_->{realized_up}" } @off);
my @raw_off = grep { $_->{n} >= 100 && abs($_->{mean_prob_up} - $_->{realized_up}) > 0.3 }
              @{ $perf->{calibration}{bins} };
ok(@raw_off >= 2, scalar(@raw_off) . ' raw tenths more than 30 points off: '
   . 'the raw prob_up is what needed calibrating');
my $b = $perf->{calibration}{brier};
ok($b->{calibrated} < $b->{raw} - 0.05,
   "Brier: calibrated $b->{calibrated} against raw $b->{raw}");
ok($b->{calibrated} <= $b->{base_rate} * 1.01,
   "within 1 % of the period's own base rate $b->{base_rate} (fitted on "
   . 'the outcomes it is scored on)');
for my $h (@main::HORIZONS) {
    my @in = grep { $_->{horizon} == $h } @v;
    my ($raw, $cal, $t) = decile_table(\@in, "horizon $h");
    diag($t);
    diag(sprintf 'h=%d: worst calibrated decile %.3f from what followed '
         . '(outcomes of six correlated symbols at one scan move together: '
         . 'docs/forecast.md)', $h, worst($cal));
}
