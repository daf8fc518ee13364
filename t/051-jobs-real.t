# Pattern Real-Time jobs on real bars (the `real-qc` fixture: QuantConnect
# minute bars, 10 tickers, 04:00-20:00 ET, an exact Flat index): a job's
# prediction for a symbol must be the very forecast POST
# /api/patterns/search gives for that symbol at the scan time with the same
# arguments (SPEC 3, 5.1, 5.2), and its price_at_scan the flat file's close
# of its bar.
#
# The real bars stay outside the project (PRT_REAL_DATA); without them the
# fixture is not built and this file skips.

use lib 't/lib';
use PatternRT::Test;

use PatternRT::Jobs qw(
    call_api run_job wait_job job_problems close_enough
    read_flat_day ny_instant iso_z expected_scan
);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
our $FLAT_DIR = ($ENV{PRT_REAL_DATA} // '') . '/quantconnect-lean';
our $DATE = '2013-10-11';                  # a Friday with four tickers
plan(skip_all => "no real-qc fixture ($FIXTURES/real-qc) or no flat file "
                 . "$FLAT_DIR/$DATE.csv.gz: the real bars are test data kept "
                 . 'outside the project (PRT_REAL_DATA); t/run builds the '
                 . 'fixture when they are there')
    unless -d "$FIXTURES/real-qc" && -f "$FLAT_DIR/$DATE.csv.gz";

our $DAY = read_flat_day("$FLAT_DIR/$DATE.csv.gz");
our $JSON = JSON::PP->new->canonical;
our $TOL = 1e-9;

# Every ticker of the fixture, from all its days' files.
sub all_tickers {
    my %seen;
    for my $file (glob "$FLAT_DIR/*.csv.gz") {
        $seen{$_} = 1 for keys %{ read_flat_day($file)->{tickers} };
    }
    return sort keys %seen;
}
our @TICKERS = all_tickers();

sub valid_at {
    my ($t) = @_;

    return grep { (expected_scan($DAY->{tickers}{$_}, $t))[0] eq 'OK' }
           sort keys %{ $DAY->{tickers} };
}

# The regular-hours instant (every 5 minutes) where most tickers of the day
# have a fresh, contiguous window: the scan time of every job here.
sub busiest_regular_minute {
    my ($best, $most) = (undef, -1);
    for (my $t = ny_instant($DATE, '10:00'); $t <= ny_instant($DATE, '15:55');
         $t += 300)
    {
        my $n = () = valid_at($t);
        ($best, $most) = ($t, $n) if $n > $most;
    }
    return $best;
}
our $CLOCK = busiest_regular_minute();
our @VALID = valid_at($CLOCK);

engine_config(data => "$FIXTURES/real-qc", clock => iso_z($CLOCK));

# The forecast arguments of the jobs; each is also sent to the search.
our @PARAMS = (
    { k => 25, horizon => 15, alpha => 4, trim_lo => 10, trim_hi => 5,
      exclude_self => JSON::PP::true, cross_asset => JSON::PP::true },
    { k => 40, horizon => 10, alpha => 6, trim_lo => 0, trim_hi => 0,
      exclude_self => JSON::PP::true, cross_asset => JSON::PP::true },
    { k => 12, horizon => 5, alpha => 0, trim_lo => 0, trim_hi => 20,
      exclude_self => JSON::PP::false, cross_asset => JSON::PP::false },
);

my @SAME = qw(prob_up prob_down mean_return edge dist1 p10 p90);

# The search's answer for the result's symbol at the job's scan time,
# compared field by field; returns the problems.
sub search_problems {
    my ($result, $params) = @_;

    my $sym = $result->{symbol};
    my $r = call_api('POST', '/api/patterns/search',
                     { ticker => $sym, mode => 'historical',
                       timestamp => $result->{scan_time}, %$params });
    return ("$sym: search answered $r->{code}: $r->{body}")
        unless $r->{code} == 200 && ref $r->{json} eq 'HASH';
    my $s = $r->{json};
    my @p;
    for my $k (@SAME) {
        push @p, "$sym: $k job $result->{$k}, search " . ($s->{$k} // 'null')
            unless close_enough($result->{$k}, $s->{$k}, $TOL);
    }
    for my $k (qw(direction n_neighbors bar_time horizon)) {
        push @p, "$sym: $k job $result->{$k}, search " . ($s->{$k} // 'null')
            unless defined $s->{$k} && $result->{$k} eq $s->{$k};
    }
    return @p;
}

sub close_of {
    my ($sym, $bar_time) = @_;

    my $bar = (grep { iso_z($_->{start}) eq $bar_time }
               @{ $DAY->{tickers}{$sym} // [] })[0];
    return $bar ? $bar->{close} : undef;
}

run_tests();

__DATA__

=== TEST 1: the scan time has several tickers to predict
--- config
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- response_json
{"index": {"index_type": "Flat"}, "market": {"session": "regular"}}
--- post_request
ok(@VALID >= 3, 'at ' . iso_z($CLOCK) . ' ' . @VALID
                . " tickers have a valid window: @VALID");
ok(@TICKERS > @VALID, 'and the others (' . (@TICKERS - @VALID)
                      . ') have no bars that day or no window');



=== TEST 2: each result is the search's forecast at the scan time, its price the file's
--- config
    location / {
        pattern_rt_api;
    }
--- init
our @JOBS = map { wait_job(run_job({ symbols => [@TICKERS], %$_ })->{job_id}) }
            @PARAMS;
--- request
GET /health
--- post_request
for my $i (0 .. $#PARAMS) {
    my ($job, $params) = ($JOBS[$i], $PARAMS[$i]);
    my $label = "job $i (" . $JSON->encode($params) . ')';
    my @shape = job_problems($job);
    ok(!@shape, "$label: well formed") or diag(join "\n", @shape);
    is($job->{status}, 'completed', "$label: completed");
    is($job->{params}{scan_time}, iso_z($CLOCK), "$label: scanned at the clock");
    my @got = sort map { $_->{symbol} } @{ $job->{results} };
    if ($params->{cross_asset}) {
        is("@got", "@VALID",
           "$label: the tickers with a valid window are predicted");
    } else {
        # only the ticker's own past: a ticker may have none (E_FAISS)
        my %valid = map { $_ => 1 } @VALID;
        my @invalid = grep { !$valid{$_} } @got;
        ok(@got > 0 && !@invalid,
           "$label: predicted (@got) only tickers with a valid window")
            or diag($JSON->encode($job->{failures}));
    }
    my @p = map { search_problems($_, $params) } @{ $job->{results} };
    ok(!@p, "$label: every result agrees with /api/patterns/search (1e-9)")
        or diag(join "\n", @p);
    my @price = grep {
        my $c = close_of($_->{symbol}, $_->{bar_time});
        !defined $c || $c != $_->{price_at_scan}
    } @{ $job->{results} };
    ok(!@price, "$label: price_at_scan is the flat file's close of bar_time")
        or diag($JSON->encode($price[0]));
    my @params = grep { $_->{horizon} != $params->{horizon}
                        || $_->{n_neighbors} > $params->{k} }
                 @{ $job->{results} };
    ok(!@params, "$label: horizon as asked, at most k neighbours");
}
--- no_error_log
[error]
