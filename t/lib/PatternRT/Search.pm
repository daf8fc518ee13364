package PatternRT::Search;

# Requests and answer checks shared by the search suites (t/030, t/031,
# t/040). The requests go to the current test file's nginx; the checks are
# Test::More tests that recompute what SPEC 3 says the engine must have
# computed, from the neighbours it returned.

use strict;
use warnings;

use Exporter 'import';
use HTTP::Request;
use JSON::PP ();
use List::Util qw(all first);
use LWP::UserAgent;
use B ();
use Scalar::Util qw(looks_like_number);
use Test::More ();

use PatternRT::Bars qw(horizon_index weights forecast_stats
                       as_float nearest l2 iso_z iso_s utc_to_ny bar_index
                       window_vector trajectory);

our @EXPORT_OK = qw(
    api_get api_post api_request wait_for_workers
    is_num is_int is_iso_z close_to is_json_number
    check_patterns_answer check_frontend_answer
    check_exact_neighbours check_neighbours_in_flat same_trajectory
);

my $JSON = JSON::PP->new->canonical;

# ---------------------------------------------------------------------------
# Requests

# One request to this test file's nginx. $body: undef, a string (sent as
# is) or a reference (sent as JSON). Returns { code, body, json (undef when
# the body is not JSON), response }.
sub api_request {
    my ($method, $path, $body, @headers) = @_;

    my $ua = LWP::UserAgent->new(timeout => 20, keep_alive => 0);
    my $url = 'http://127.0.0.1:' . PatternRT::Test::server_port() . $path;
    my $req = HTTP::Request->new($method, $url, [@headers]);
    if (defined $body) {
        $req->content(ref $body ? $JSON->encode($body) : $body);
        $req->header('Content-Type' => 'application/json');
    }
    my $res = $ua->request($req);
    my $json = eval { JSON::PP->new->allow_nonref->decode($res->content) };
    return { code => $res->code, body => $res->content, json => $json,
             response => $res };
}

sub api_get  { return api_request('GET', @_) }
sub api_post { return api_request('POST', @_) }

# Waits until every nginx worker of this block holds an engine slot. A
# worker that is still connecting answers 503 E_ENGINE_DOWN at once, and
# the harness starts sending requests as soon as the workers exist, so a
# block's first request could otherwise race the workers' handshake.
sub wait_for_workers {
    my @pids = PatternRT::Test::worker_pids();
    my %want = map { $_ => 1 } @pids;
    PatternRT::Test::wait_until(sub {
        my $h = api_get('/health')->{json};
        my @slots = ref $h eq 'HASH' ? @{ $h->{ipc}{workers} // [] } : ();
        @slots == @pids && !grep { !$want{ $_->{worker_pid} // 0 } } @slots;
    }, 10, 'every nginx worker to attach to the engine');
}

# ---------------------------------------------------------------------------
# Value predicates

sub is_num {
    my ($v) = @_;

    return defined $v && !ref $v && looks_like_number($v);
}

# A number in the JSON text itself (not null, not a string that looks like
# one): what JavaScript's .toFixed needs.
sub is_json_number {
    my ($v) = @_;

    return 0 unless defined $v && !ref $v;
    my $b = B::svref_2object(\$v);
    return ($b->FLAGS & (B::SVf_IOK() | B::SVf_NOK()))
        && !($b->FLAGS & B::SVf_POK()) ? 1 : 0;
}

sub is_int {
    my ($v) = @_;

    return is_num($v) && $v == int $v;
}

sub is_iso_z {
    my ($v) = @_;

    return defined $v && !ref $v
        && $v =~ /\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\z/;
}

sub close_to {
    my ($got, $want, $tol) = @_;

    return 0 unless is_num($got) && defined $want;
    return abs($got - $want) <= $tol;
}

# Is every element of $list true under $pred? On failure, prints the first
# bad element.
sub _all_ok {
    my ($name, $list, $pred) = @_;

    my $i = first { !$pred->($list->[$_]) } 0 .. $#$list;
    Test::More::ok(!defined $i, $name) and return;
    my $bad = $list->[$i];
    Test::More::diag("element $i fails: "
                     . (ref $bad ? $JSON->encode($bad) : $bad // 'undef'));
}

sub _num_close {
    my ($name, $got, $want, $tol) = @_;

    Test::More::ok(close_to($got, $want, $tol), $name)
        or Test::More::diag("got " . ($got // 'undef') . ", want $want "
                            . "(tolerance $tol)");
}

# ---------------------------------------------------------------------------
# POST /api/patterns/search

my @NUMBER_FIELDS = qw(prob_up prob_down mean_return std_return p10 p90
                       edge dist1);

# Checks one 200 answer of /api/patterns/search against SPEC 5.2 and
# recomputes SPEC 3 from its own neighbours. %o: ticker, horizon, k, alpha
# (default 6), day_start (UTC s of 00:00 New York of the query day), enough
# (1: the index has at least k usable neighbours, so n_neighbors == k).
sub check_patterns_answer {
    my ($label, $a, %o) = @_;

    my $alpha = $o{alpha} // 6;
    my $hi = horizon_index($o{horizon});
    Test::More::ok(ref $a eq 'HASH', "$label: a JSON object")
        or return;

    Test::More::is($a->{ticker}, $o{ticker}, "$label: ticker");
    Test::More::is($a->{horizon}, $o{horizon}, "$label: horizon");
    Test::More::ok(is_iso_z($a->{query_time}) && is_iso_z($a->{bar_time}),
                   "$label: query_time and bar_time are ISO-8601 with Z")
        or Test::More::diag("$a->{query_time} / $a->{bar_time}");
    Test::More::like($a->{session} // '', qr/\A(?:pre|regular|post)\z/,
                     "$label: session");
    _all_ok("$label: numeric fields are numbers", \@NUMBER_FIELDS,
            sub { is_num($a->{$_[0]}) });
    Test::More::like($a->{direction} // '', qr/\A(?:UP|DOWN)\z/,
                     "$label: direction");

    my $n = $a->{neighbors};
    Test::More::ok(ref $n eq 'ARRAY' && @$n > 0, "$label: neighbors")
        or return;
    Test::More::ok(is_int($a->{n_neighbors}) && $a->{n_neighbors} == @$n,
                   "$label: n_neighbors is the length of neighbors");
    Test::More::is($a->{n_neighbors}, $o{k}, "$label: n_neighbors == k")
        if $o{enough};
    _all_ok("$label: neighbour shape", $n, sub {
        my $x = shift;
        defined $x->{ticker} && !ref $x->{ticker} && is_iso_z($x->{time})
            && is_num($x->{distance}) && is_num($x->{weight})
            && is_num($x->{return}) && ref $x->{trajectory} eq 'ARRAY'
            && @{ $x->{trajectory} } == 15
    });
    _all_ok("$label: return is the trajectory at the horizon", $n,
            sub { $_[0]{return} == $_[0]{trajectory}[$hi] });

    my @d = map { $_->{distance} } @$n;
    _all_ok("$label: nearest first (distances ascending)", [1 .. $#d],
            sub { $d[$_[0]] >= $d[$_[0] - 1] });
    Test::More::is($a->{dist1}, $d[0], "$label: dist1 is the first distance");

    my @w = map { $_->{weight} } @$n;
    Test::More::is($w[0], 1, "$label: the nearest weighs 1") if $alpha > 0;
    _all_ok("$label: weights in (0, 1]", \@w, sub { $_[0] > 0 && $_[0] <= 1 });
    my @want_w = weights($alpha, @d);
    _all_ok("$label: weights are exp(-alpha u)", [0 .. $#w],
            sub { abs($w[$_[0]] - $want_w[$_[0]]) <= 1e-12 });

    if (defined $o{day_start}) {
        my $iso = PatternRT::Bars::iso_z($o{day_start});
        _all_ok("$label: no look-ahead (every neighbour before $iso)", $n,
                sub { $_[0]{time} lt $iso });
    }

    _check_statistics($label, $a, [map { as_float($_->{return}) } @$n], \@w);
}

# SPEC 3 steps 3-5 recomputed from the returns and weights (no trimming).
sub _check_statistics {
    my ($label, $a, $r, $w) = @_;

    my $s = forecast_stats($r, $w);
    _num_close("$label: prob_up", $a->{prob_up}, $s->{prob_up}, 1e-9);
    _num_close("$label: prob_up + prob_down == 1",
               $a->{prob_up} + $a->{prob_down}, 1, 1e-12);
    _num_close("$label: mean_return", $a->{mean_return}, $s->{mean}, 1e-9);
    _num_close("$label: std_return", $a->{std_return}, $s->{std}, 1e-9);
    _num_close("$label: p10", $a->{p10}, $s->{p10}, 1e-9);
    _num_close("$label: p90", $a->{p90}, $s->{p90}, 1e-9);
    _num_close("$label: median_return", $a->{median_return}, $s->{median},
               1e-9) if exists $a->{median_return};
    Test::More::ok($a->{p10} <= ($a->{median_return} // $a->{p10})
                   && ($a->{median_return} // $a->{p90}) <= $a->{p90},
                   "$label: p10 <= median <= p90");

    my $m = $a->{mean_return};
    my $up = $m >= 0;
    Test::More::is($a->{direction}, $up ? 'UP' : 'DOWN',
                   "$label: direction follows the sign of the mean");
    _num_close("$label: edge", $a->{edge},
               $up ? $a->{prob_up} * $m : $a->{prob_down} * -$m, 1e-9);
}

# ---------------------------------------------------------------------------
# Neighbours against the bars they came from

# Do two trajectories agree (float32 against double: relative 1e-6; null
# where the other has no value)?
sub same_trajectory {
    my ($got, $want) = @_;

    return 0 unless ref $got eq 'ARRAY' && @$got == 15;
    return 15 == grep {
        defined $want->[$_]
            ? close_to($got->[$_], $want->[$_], 1e-6 * abs($want->[$_]) + 1e-9)
            : !defined $got->[$_]
    } 0 .. 14;
}

sub _first_few {
    my (@list) = @_;

    return join "\n", @list[0 .. ($#list < 4 ? $#list : 4)];
}

# For an exact (Flat) index: the answer's neighbours are the $k patterns of
# @$patterns (PatternRT::Bars::day_patterns of the days before the query
# day) nearest to $qvec and accepted by $keep: the same distances in the
# same order, each the distance of that very pattern, with its trajectory.
sub check_exact_neighbours {
    my ($label, $answer, $qvec, $k, $patterns, $keep) = @_;

    my $hi = horizon_index($answer->{horizon});
    my @want = nearest($patterns, $qvec, $k, $hi, $keep);
    my $got = $answer->{neighbors} // [];
    Test::More::is(scalar @$got, scalar @want,
                   "$label: as many neighbours as exist");
    my @bad_d = grep { !close_to($got->[$_]{distance}, $want[$_][0], 1e-4) }
                0 .. $#want;
    Test::More::ok(!@bad_d, "$label: distances are the exact nearest ones")
        or Test::More::diag("neighbour $bad_d[0]: got "
                            . ($got->[$bad_d[0]]{distance} // 'none')
                            . ", want $want[$bad_d[0]][0]");
    my %by_key = map { ("$_->{ticker} " . iso_z($_->{time})) => $_ }
                 @$patterns;
    my @bad;
    for my $n (@$got) {
        my $key = "$n->{ticker} $n->{time}";
        my $p = $by_key{$key};
        if (!$p) {
            push @bad, "$key: no such pattern";
            next;
        }
        my $d = l2($qvec, $p->{vec});
        push @bad, "$key: distance $n->{distance}, want $d"
            unless close_to($n->{distance}, $d, 1e-4);
        push @bad, "$key: trajectory differs"
            unless same_trajectory($n->{trajectory}, $p->{traj});
    }
    Test::More::ok(!@bad,
                   "$label: each neighbour is that pattern, with its "
                   . 'trajectory') or Test::More::diag(_first_few(@bad));
}

# Each neighbour of a /api/patterns/search answer, recomputed from the flat
# file of its own day ($day_of->('YYYY-MM-DD') gives PatternRT::Bars::
# read_day's result): a bar at that minute whose window is valid, the
# trajectory of SPEC 2.3, its return at the horizon, and its distance to
# $qvec.
sub check_neighbours_in_flat {
    my ($label, $answer, $qvec, $day_of) = @_;

    my $hi = horizon_index($answer->{horizon});
    my (@bad, $checked);
    for my $n (@{ $answer->{neighbors} // [] }) {
        my $key = "$n->{ticker} $n->{time}";
        my ($date, $minute) = utc_to_ny(iso_s($n->{time}));
        my $bars = $day_of->($date)->{tickers}{$n->{ticker}};
        my $i = $bars ? bar_index($bars, $minute) : undef;
        my ($vec) = defined $i ? window_vector($bars, $i) : ();
        if (!$vec) {
            push @bad, "$key: no valid window in the flat file of $date";
            next;
        }
        my $traj = trajectory($bars, $i);
        push @bad, "$key: trajectory " . $JSON->encode($n->{trajectory})
                   . ", want " . $JSON->encode($traj)
            unless same_trajectory($n->{trajectory}, $traj);
        push @bad, "$key: return $n->{return}, want $traj->[$hi]"
            unless close_to($n->{return}, $traj->[$hi],
                            1e-6 * abs($traj->[$hi]) + 1e-9);
        my $d = l2($qvec, $vec);
        push @bad, "$key: distance $n->{distance}, want $d"
            unless close_to($n->{distance}, $d, 1e-4);
        $checked++;
    }
    Test::More::ok(!@bad && $checked,
                   "$label: every neighbour's window, trajectory, return and "
                   . 'distance recomputed from its flat file')
        or Test::More::diag(_first_few(@bad));
}

# ---------------------------------------------------------------------------
# The front end's search view (/api/search/historical, /api/search/{SYMBOL})

# Checks a status "ok" answer against SPEC 5.2's shape. %o: symbol, date
# (the query day: neighbours must be before it), k (n_neighbors, when the
# index has enough), horizon (default 10). The request must use the default
# alpha (6) and no trimming: the statistics are recomputed with them.
sub check_frontend_answer {
    my ($label, $a, %o) = @_;

    my $hi = horizon_index($o{horizon} // 10);
    Test::More::ok(ref $a eq 'HASH', "$label: a JSON object") or return;
    Test::More::is($a->{status}, 'ok', "$label: status ok")
        or Test::More::diag($JSON->encode($a));
    Test::More::is($a->{query}{symbol}, $o{symbol}, "$label: query.symbol");
    Test::More::is($a->{query}{date}, $o{date}, "$label: query.date")
        if defined $o{date};
    Test::More::is($a->{query}{window_minutes}, 30,
                   "$label: query.window_minutes is the index's window");
    Test::More::ok(is_num($a->{stats}{query_time_ms})
                   && $a->{stats}{query_time_ms} >= 0,
                   "$label: stats.query_time_ms");

    my $f = $a->{forecast} // {};
    Test::More::is($f->{horizon_minutes}, $o{horizon} // 10,
                   "$label: forecast.horizon_minutes");
    _all_ok("$label: forecast numbers",
            [qw(mean_return median_return best_case worst_case prob_up
                prob_down)], sub { is_num($f->{$_[0]}) });
    Test::More::like($f->{confidence} // '', qr/\A(?:high|medium|low)\z/,
                     "$label: forecast.confidence");
    Test::More::is($f->{n_neighbors}, $o{k}, "$label: forecast.n_neighbors")
        if defined $o{k};
    for my $key (qw(mean_trajectory std_trajectory)) {
        Test::More::ok(ref $f->{$key} eq 'ARRAY' && @{ $f->{$key} } == 15,
                       "$label: forecast.$key has 15 points");
        # the front end calls .toFixed on every point
        _all_ok("$label: every forecast.$key point is a JSON number",
                $f->{$key} // [], \&is_json_number);
    }
    _num_close("$label: mean_trajectory at the horizon is mean_return",
               $f->{mean_trajectory}[$hi], $f->{mean_return}, 1e-12);
    _check_frontend_statistics($label, $a, $hi);
    Test::More::ok($f->{worst_case} <= $f->{median_return}
                   && $f->{median_return} <= $f->{best_case},
                   "$label: worst_case <= median <= best_case");
    _num_close("$label: prob_up + prob_down == 1",
               $f->{prob_up} + $f->{prob_down}, 1, 1e-12);
    Test::More::is($f->{confidence}, _confidence($f),
                   "$label: confidence follows SPEC 3 step 6");

    my $n = $a->{neighbors};
    Test::More::ok(ref $n eq 'ARRAY' && @$n == ($f->{n_neighbors} // -1),
                   "$label: neighbors has n_neighbors entries") or return;
    _all_ok("$label: neighbour shape", $n, sub {
        my $x = shift;
        defined $x->{symbol} && $x->{date} =~ /\A\d{4}-\d\d-\d\d\z/
            && $x->{start_time} =~ /\A\d\d:\d\d\z/
            && $x->{end_time} =~ /\A\d\d:\d\d\z/
            && is_num($x->{distance}) && ref $x->{future_returns} eq 'ARRAY'
            && @{ $x->{future_returns} } == 15
    });
    _all_ok("$label: every future_returns point is a JSON number", $n,
            sub { all { is_json_number($_) } @{ $_[0]{future_returns} } });
    _all_ok("$label: a neighbour's window is 30 minutes", $n, sub {
        _minutes($_[0]{end_time}) - _minutes($_[0]{start_time}) == 30
    });
    my @d = map { $_->{distance} } @$n;
    _all_ok("$label: nearest first", [1 .. $#d],
            sub { $d[$_[0]] >= $d[$_[0] - 1] });
    _all_ok("$label: no look-ahead (neighbour dates before $o{date})", $n,
            sub { $_[0]{date} lt $o{date} }) if defined $o{date};

    my $hc = $a->{historical_context} // {};
    my $span = $o{span} // 30;
    Test::More::ok(ref $hc->{pattern_prices} eq 'ARRAY'
                   && @{ $hc->{pattern_prices} } == $span
                   && (all { is_json_number($_) } @{ $hc->{pattern_prices} }),
                   "$label: historical_context.pattern_prices has $span "
                   . 'prices');
    if (exists $a->{actual}) {
        Test::More::ok(ref $a->{actual}{returns} eq 'ARRAY'
                       && @{ $a->{actual}{returns} } == 15
                       && (all { is_json_number($_) } @{ $a->{actual}{returns} })
                       && is_json_number($a->{actual}{final_return}),
                       "$label: actual.returns: 15 JSON numbers");
    }
    Test::More::ok(is_iso_z($hc->{pattern_end}),
                   "$label: historical_context.pattern_end");
}

# The view's forecast recomputed from its own neighbours (SPEC 3 with the
# default alpha 6, no trimming): the statistics at the horizon, and at
# every horizon the weighted mean and std of the trajectories over the
# neighbours that have a value there (docs/forecast.md).
sub _check_frontend_statistics {
    my ($label, $a, $hi) = @_;

    my $f = $a->{forecast};
    my $n = $a->{neighbors};
    my @w = weights(6, map { $_->{distance} } @$n);
    my $s = forecast_stats([map { as_float($_->{future_returns}[$hi]) } @$n],
                           \@w);
    _num_close("$label: mean_return", $f->{mean_return}, $s->{mean}, 1e-9);
    _num_close("$label: median_return", $f->{median_return}, $s->{median},
               1e-9);
    _num_close("$label: best_case is p90", $f->{best_case}, $s->{p90}, 1e-9);
    _num_close("$label: worst_case is p10", $f->{worst_case}, $s->{p10},
               1e-9);
    _num_close("$label: prob_up", $f->{prob_up}, $s->{prob_up}, 1e-9);

    my @bad;
    for my $h (0 .. 14) {
        my @i = grep { defined $n->[$_]{future_returns}[$h] } 0 .. $#$n;
        my ($mean, $std) = @i ? @{ forecast_stats(
            [map { as_float($n->[$_]{future_returns}[$h]) } @i],
            [@w[@i]]) }{qw(mean std)} : (undef, undef);
        for (['mean_trajectory', $mean], ['std_trajectory', $std]) {
            my ($key, $want) = @$_;
            my $got = $f->{$key}[$h];
            push @bad, "$key\[$h]: got " . ($got // 'null') . ', want '
                       . ($want // 'null')
                unless defined $want ? close_to($got, $want, 1e-9)
                                     : !defined $got;
        }
    }
    Test::More::ok(!@bad, "$label: mean_trajectory and std_trajectory are "
                          . 'the weighted mean and std of the neighbours')
        or Test::More::diag(_first_few(@bad));
}

sub _confidence {
    my ($f) = @_;

    my $c = 1 - $f->{std_trajectory}[horizon_index($f->{horizon_minutes})]
                / (abs($f->{mean_return}) + 1e-6);
    return $c > 0.7 ? 'high' : $c > 0.4 ? 'medium' : 'low';
}

sub _minutes {
    my ($hhmm) = @_;

    my ($h, $m) = split /:/, $hhmm;
    return $h * 60 + $m;
}

1;
