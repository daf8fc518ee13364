package PatternRT::HonestStats;

# Checks of what the forecast is worth (SPEC 3.1) for the t/ suites: every
# figure recomputed from /history items by t/lib/honest_stats.py, which
# shares no code with the engine, or by the formulas here.
#
#   worth_problems(\@items)        n_eff bounds, prob_up_ci = Wilson(prob_up,
#                                   n_eff), prob_down_calibrated,
#                                   edge_calibrated, calibration_seq
#   calibration_problems(\@items)  prob_up_calibrated refitted from the store
#                                   as it was at each scan; no look-ahead
#   check_performance(\@items, $label, @horizons)
#                                   every new /performance figure, each
#                                   horizon and dedupe=symbol_day
#   decile_table, spread, worst     the reliability of calibrated deciles

use strict;
use warnings;

use Exporter 'import';
use IPC::Run ();
use JSON::PP ();
use Test::More;

use PatternRT::Jobs qw(close_enough get_json iso_ms);

our @EXPORT_OK = qw(python wilson num_ok pair_ok worth_problems
                    calibration_problems check_performance decile_table
                    spread worst);

our $PY = '/usr/bin/python3';
our $STATS = 't/lib/honest_stats.py';
our $PRIOR = 200;                       # the engine's calibration_prior
our $Z = 1.959963984540054;
our $JSON = JSON::PP->new->canonical->allow_nonref;
our @BUCKETS = qw(all_stats top_1pct top_5pct top_10pct long_stats
                  short_stats);

sub python {
    my ($cmd, $input, @args) = @_;

    my ($out, $err) = ('', '');
    IPC::Run::run([$PY, $STATS, $cmd, @args], '<', \$JSON->encode($input),
                  '>', \$out, '2>', \$err)
        or die "honest_stats.py $cmd failed: $err\n";
    return $JSON->decode($out);
}

sub wilson {
    my ($p, $n) = @_;

    return [0, 1] unless $n > 0;
    my $d = 1 + $Z * $Z / $n;
    my $c = ($p + $Z * $Z / (2 * $n)) / $d;
    my $h = $Z / $d * sqrt($p * (1 - $p) / $n + $Z * $Z / (4 * $n * $n));
    return [$c - $h > 0 ? $c - $h : 0, $c + $h < 1 ? $c + $h : 1];
}

sub num_ok {
    my ($got, $want, $tol) = @_;

    return !defined $got && !defined $want if !defined $want || !defined $got;
    return close_enough($got, $want, $tol);
}

sub pair_ok {
    my ($got, $want, $tol) = @_;

    return !defined $got if !defined $want;
    return ref $got eq 'ARRAY' && @$got == 2
           && close_enough($got->[0], $want->[0], $tol)
           && close_enough($got->[1], $want->[1], $tol);
}

# ---------------------------------------------------------------------------
# Per prediction

# The fields a result carries, against SPEC 3.1's formulas.
sub worth_problems {
    my ($items) = @_;

    my @p;
    for my $it (@$items) {
        my $w = "prediction $it->{id} ($it->{symbol} $it->{scan_time})";
        my ($n, $cal) = ($it->{n_eff}, $it->{prob_up_calibrated});
        if (!defined $n || $n < 1 - 1e-9 || $n > $it->{n_neighbors} + 1e-9) {
            push @p, "$w: n_eff " . ($n // 'null')
                     . " outside [1, $it->{n_neighbors}]";
            next;
        }
        push @p, "$w: prob_up_ci " . $JSON->encode($it->{prob_up_ci})
                 . ', want Wilson(' . "$it->{prob_up}, $n)"
            unless pair_ok($it->{prob_up_ci}, wilson($it->{prob_up}, $n),
                           1e-9);
        push @p, "$w: prob_up_calibrated " . ($cal // 'null')
            unless defined $cal && $cal > 0 && $cal < 1;
        next unless defined $cal;
        push @p, "$w: prob_down_calibrated $it->{prob_down_calibrated}"
            unless close_enough($it->{prob_down_calibrated}, 1 - $cal, 1e-12);
        my $edge = $it->{direction} eq 'UP' ? $cal * $it->{mean_return}
                 : (1 - $cal) * -$it->{mean_return};
        push @p, "$w: edge_calibrated $it->{edge_calibrated}, want $edge"
            unless close_enough($it->{edge_calibrated}, $edge, 1e-9);
        my $verified = ($it->{verification} // '') eq 'verified';
        push @p, "$w: calibration_seq " . ($it->{calibration_seq} // 'null')
            unless $verified ? ($it->{calibration_seq} // 0) >= 1
                             : !defined $it->{calibration_seq};
    }
    return @p;
}

# prob_up_calibrated refitted from the store as it was at each scan.
sub calibration_problems {
    my ($items) = @_;

    my $want = python('calibrate', $items, $PRIOR);
    my %by_id = map { $_->{id} => $_ } @$want;
    my @p;
    for my $it (@$items) {
        my $w = $by_id{$it->{id}};
        my $what = "prediction $it->{id} (h=$it->{horizon}, "
                   . "calibration_n $it->{calibration_n})";
        push @p, "$what: the verifications numbered 1..n are not all there"
            unless $w->{sequence_complete};
        push @p, "$what: fitted on an outcome verified after its scan"
            if defined $w->{latest_verified_ms}
               && $w->{latest_verified_ms} > $w->{scan_ms};
        push @p, "$what: prob_up_calibrated $it->{prob_up_calibrated}, "
                 . "refitted $w->{prob_up_calibrated}"
            unless close_enough($it->{prob_up_calibrated},
                                $w->{prob_up_calibrated}, 1e-12);
    }
    return @p;
}

# ---------------------------------------------------------------------------
# /performance

sub bucket_problems {
    my ($g, $w, $what) = @_;

    return defined $g == defined $w ? ()
           : ("$what is " . (defined $g ? 'an object' : 'null'))
        if !defined $g || !defined $w;
    my @p;
    for my $k (qw(n long_count short_count)) {
        push @p, "$what.$k $g->{$k}, want $w->{$k}"
            unless defined $g->{$k} && $g->{$k} == $w->{$k};
    }
    for my $k (qw(win_rate mean_pnl median_pnl chance_win_rate profit_factor
                  avg_win avg_loss max_drawdown)) {
        push @p, "$what.$k " . ($g->{$k} // 'null') . ', want '
                 . ($w->{$k} // 'null')
            unless num_ok($g->{$k}, $w->{$k}, 1e-9);
    }
    push @p, "$what.win_rate_ci " . $JSON->encode($g->{win_rate_ci})
        unless pair_ok($g->{win_rate_ci}, $w->{win_rate_ci}, 1e-9);
    # Boost.Math's incomplete beta against exact rational sums
    push @p, "$what.p_value " . ($g->{p_value} // 'null')
             . ", want $w->{p_value}"
        unless defined $g->{p_value}
               && abs($g->{p_value} - $w->{p_value})
                  <= 1e-9 + 1e-6 * $w->{p_value};
    return @p;
}

sub table_problems {
    my ($g, $w, $what) = @_;

    my @p;
    for my $i (0 .. 9) {
        my ($a, $b) = ($g->[$i], $w->[$i]);
        push @p, "$what\[$i] missing" and next unless ref $a eq 'HASH';
        push @p, "$what\[$i].n $a->{n}, want $b->{n}"
            unless $a->{n} == $b->{n};
        for my $k (qw(lo hi mean_prob_up realized_up)) {
            push @p, "$what\[$i].$k " . ($a->{$k} // 'null') . ', want '
                     . ($b->{$k} // 'null')
                unless num_ok($a->{$k}, $b->{$k}, 1e-9);
        }
        push @p, "$what\[$i].realized_up_ci"
            unless pair_ok($a->{realized_up_ci}, $b->{realized_up_ci}, 1e-9);
    }
    return @p;
}

sub performance_problems {
    my ($got, $want, $what) = @_;

    my @p;
    for my $k (qw(total_predictions verified)) {
        push @p, "$what: $k $got->{$k}, want $want->{$k}"
            unless $got->{$k} == $want->{$k};
    }
    push @p, bucket_problems($got->{$_}, $want->{$_}, "$what $_")
        for @BUCKETS;
    my ($gd, $wd) = ($got->{by_day} // [], $want->{by_day});
    push @p, "$what: " . scalar(@$gd) . ' days, want ' . scalar(@$wd)
        unless @$gd == @$wd;
    for my $i (0 .. $#$wd) {
        my ($a, $b) = ($gd->[$i] // {}, $wd->[$i]);
        push @p, "$what by_day[$i] " . $JSON->encode($a) . ', want '
                 . $JSON->encode($b)
            unless ($a->{date} // '') eq $b->{date} && $a->{n} == $b->{n}
                   && $a->{wins} == $b->{wins}
                   && num_ok($a->{win_rate}, $b->{win_rate}, 1e-12)
                   && num_ok($a->{pnl}, $b->{pnl}, 1e-9)
                   && num_ok($a->{cum_pnl}, $b->{cum_pnl}, 1e-9);
    }
    my ($gc, $wc) = ($got->{calibration} // {}, $want->{calibration});
    push @p, table_problems($gc->{bins}, $wc->{bins}, "$what bins");
    push @p, table_problems($gc->{calibrated_bins}, $wc->{calibrated_bins},
                            "$what calibrated_bins");
    for my $k (qw(raw calibrated base_rate)) {
        push @p, "$what brier.$k " . ($gc->{brier}{$k} // 'null')
            unless num_ok($gc->{brier}{$k}, $wc->{brier}{$k}, 1e-9);
    }
    return @p;
}

sub check_performance {
    my ($items, $label, @horizons) = @_;

    my @p;
    for my $h (0, @horizons) {
        my @in = grep { !$h || $_->{horizon} == $h } @$items;
        for my $dedupe (0, 1) {
            my $q = 'period=all' . ($h ? "&horizon=$h" : '')
                    . ($dedupe ? '&dedupe=symbol_day' : '');
            my $got = get_json("/api/pattern-realtime/performance?$q");
            my $want = python('performance',
                              { items => \@in, dedupe => $dedupe ? \1 : \0 });
            push @p, performance_problems($got, $want, $q);
        }
    }
    ok(!@p, "$label: every new /performance figure recomputed from "
            . scalar(@$items) . ' history items')
        or diag(join "\n", @p[0 .. ($#p < 30 ? $#p : 29)]);
}

# ---------------------------------------------------------------------------
# The calibration keeps the signal and tells the truth

sub decile_table {
    my ($items, $label) = @_;

    my ($raw, $cal) = (python('deciles', $items, 'prob_up'),
                       python('deciles', $items, 'prob_up_calibrated'));
    my $t = "$label: deciles   raw prob_up -> up   |   calibrated -> up\n";
    for my $i (0 .. $#$raw) {
        $t .= sprintf "  %2d  %6d   %.3f -> %.3f   |   %.3f -> %.3f\n",
                      $i + 1, $raw->[$i]{n}, $raw->[$i]{mean},
                      $raw->[$i]{realized_up}, $cal->[$i]{mean},
                      $cal->[$i]{realized_up};
    }
    return ($raw, $cal, $t);
}

sub spread {
    my ($d) = @_;

    return $d->[-1]{realized_up} - $d->[0]{realized_up};
}

sub worst {
    my ($d) = @_;

    my $w = 0;
    for (@$d) {
        my $e = abs($_->{mean} - $_->{realized_up});
        $w = $e if $e > $w;
    }
    return $w;
}

1;
