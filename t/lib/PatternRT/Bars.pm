package PatternRT::Bars;

# Independent expectations for the search suites: reads Polygon minute flat
# files (SPEC 2.1) and recomputes feature vectors (2.2), trajectories (2.3)
# and the forecast statistics (3) in plain Perl doubles, from the SPEC text
# only. Nothing here calls the engine or shares its code, so a test that
# compares the two can catch a mistake in either.
#
# A day is returned as { date => 'YYYY-MM-DD', day_start => <UTC s of 00:00
# New York>, tickers => { TICKER => [bar, ...] } }, bars sorted by minute;
# a bar is { minute (after 00:00 New York), start (UTC s), open, high, low,
# close, volume }.

use strict;
use warnings;

use Carp qw(croak);
use Exporter 'import';
use IO::Uncompress::Gunzip qw($GunzipError);
use List::Util qw(sum);
use POSIX qw(floor);
use Time::Local qw(timegm);

our @EXPORT_OK = qw(
    held_trajectory
    HORIZONS WINDOW horizon_index
    read_day flat_days
    ny_to_utc utc_to_ny ny_day_start iso_z iso_s
    bar_index latest_complete window_vector window_volume trajectory
    indexable_windows count_indexable day_patterns nearest l2 as_float
    weights trimmed_indexes forecast_stats
);

use constant WINDOW => 30;
use constant HORIZONS => (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 30, 45, 60);
use constant DAY_END_MINUTE => 20 * 60;       # 20:00 New York
use constant FLAT_SIGMA => 1e-12;             # docs/forecast.md
use constant HEADER =>
    'ticker,volume,open,close,high,low,window_start,transactions';

sub horizon_index {
    my ($h) = @_;

    my @h = HORIZONS;
    for my $i (0 .. $#h) {
        return $i if $h[$i] == $h;
    }
    croak "horizon $h is not one of SPEC's H";
}

# ---------------------------------------------------------------------------
# New York time, by the US rule in force since 2007 (DST from the second
# Sunday of March, 02:00 local, to the first Sunday of November, 02:00
# local). Written out here rather than taken from the system's zone data, so
# that it is a second opinion on the engine's conversions. Every fixture day
# is after 2007.

sub _nth_sunday {
    my ($year, $month, $n) = @_;

    my $first = timegm(0, 0, 0, 1, $month - 1, $year);
    my $wday = (gmtime $first)[6];
    my $day = 1 + (7 - $wday) % 7 + 7 * ($n - 1);
    return $day;
}

# UTC offset of New York in seconds (-4 h or -5 h) at UTC instant $t.
# Switches happen on the hour, so the offset is cached per UTC hour (a day's
# file has some 20,000 rows).
my %Offset_of_hour;

sub _ny_offset {
    my ($t) = @_;

    my $hour = floor($t / 3600);
    return $Offset_of_hour{$hour} //= _ny_offset_uncached($hour * 3600);
}

sub _ny_offset_uncached {
    my ($t) = @_;

    my $year = (gmtime $t)[5] + 1900;
    croak "New York rules before 2007 are not implemented ($year)"
        if $year < 2007;
    my $begin = timegm(0, 0, 7, _nth_sunday($year, 3, 2), 2, $year);
    my $end = timegm(0, 0, 6, _nth_sunday($year, 11, 1), 10, $year);
    return ($t >= $begin && $t < $end) ? -4 * 3600 : -5 * 3600;
}

# UTC seconds of a New York wall time ('YYYY-MM-DD', h, m, s). Wall times
# of the spring gap and autumn overlap are never used by the suites.
sub ny_to_utc {
    my ($date, $h, $m, $s) = @_;

    my ($y, $mo, $d) = $date =~ /\A(\d{4})-(\d\d)-(\d\d)\z/
        or croak "not a date: $date";
    my $wall = timegm($s // 0, $m // 0, $h // 0, $d, $mo - 1, $y);
    my $t = $wall + 5 * 3600;                   # as if standard time
    return $wall - _ny_offset($t);
}

# ('YYYY-MM-DD', minute after 00:00, second) in New York of UTC instant $t.
sub utc_to_ny {
    my ($t) = @_;

    my @g = gmtime($t + _ny_offset($t));
    return (sprintf('%04d-%02d-%02d', $g[5] + 1900, $g[4] + 1, $g[3]),
            $g[2] * 60 + $g[1], $g[0]);
}

sub ny_day_start {
    my ($date) = @_;

    return ny_to_utc($date, 0, 0, 0);
}

# UTC seconds of "YYYY-MM-DDTHH:MM:SS[.fff]Z" (fractions dropped).
sub iso_s {
    my ($iso) = @_;

    my ($y, $mo, $d, $h, $mi, $s) =
        $iso =~ /\A(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?Z\z/
        or croak "not an ISO-8601 UTC time: $iso";
    return timegm($s, $mi, $h, $d, $mo - 1, $y);
}

sub iso_z {
    my ($t) = @_;

    my @g = gmtime $t;
    return sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ', $g[5] + 1900, $g[4] + 1,
        @g[3, 2, 1, 0];
}

# ---------------------------------------------------------------------------
# Flat files

# The YYYY-MM-DD.csv.gz files of a folder, sorted: list of [date, path].
sub flat_days {
    my ($dir) = @_;

    opendir my $dh, $dir or croak "$dir: $!";
    my @days = map { [/\A(\d{4}-\d\d-\d\d)\.csv\.gz\z/, "$dir/$_"] }
               grep { /\A\d{4}-\d\d-\d\d\.csv\.gz\z/ } readdir $dh;
    closedir $dh;
    return sort { $a->[0] cmp $b->[0] } @days;
}

sub read_day {
    my ($path) = @_;

    my ($date) = $path =~ /(\d{4}-\d\d-\d\d)\.csv\.gz\z/
        or croak "$path: not named YYYY-MM-DD.csv.gz";
    my $z = IO::Uncompress::Gunzip->new($path)
        or croak "$path: $GunzipError";
    my $header = <$z>;
    $header =~ s/\r?\n\z// if defined $header;
    croak "$path: unexpected header" unless defined $header
                                            && $header eq HEADER;
    my %tickers;
    while (my $line = <$z>) {
        $line =~ s/\r?\n\z//;
        my ($t, $v, $o, $c, $h, $l, $ns) = split /,/, $line;
        my $start = substr($ns, 0, -9);         # ns -> s, exact for minutes
        my ($d, $minute) = utc_to_ny($start);
        croak "$path: a row of $t on $d" unless $d eq $date;
        # long names, and the short ones of a Polygon AM event
        push @{ $tickers{$t} }, { minute => $minute, start => $start + 0,
                                  open => $o, high => $h, low => $l,
                                  close => $c, volume => $v, o => $o,
                                  h => $h, l => $l, c => $c, v => $v };
    }
    croak "$path: $GunzipError" if $GunzipError;
    for my $bars (values %tickers) {
        @$bars = sort { $a->{minute} <=> $b->{minute} } @$bars;
    }
    return { date => $date, day_start => ny_day_start($date),
             path => $path, tickers => \%tickers };
}

# ---------------------------------------------------------------------------
# Windows and trajectories

# Index of the bar starting at $minute, or undef.
sub bar_index {
    my ($bars, $minute) = @_;

    for my $i (0 .. $#$bars) {
        return $i if $bars->[$i]{minute} == $minute;
    }
    return undef;
}

# Index of the latest bar complete at UTC instant $t (start + 60 <= t),
# or undef.
sub latest_complete {
    my ($bars, $t) = @_;

    my $found;
    for my $i (0 .. $#$bars) {
        $found = $i if $bars->[$i]{start} + 60 <= $t;
    }
    return $found;
}

# SPEC 2.2: the 30-dimensional vector of the window ending at bar $i, or
# (undef, reason) when the 30 minutes are not all there or the window is
# flat. Call it in list context: my ($vec, $why) = window_vector(...).
sub window_vector {
    my ($bars, $i) = @_;

    return (undef, 'short') if $i < WINDOW - 1;
    my @w = @$bars[$i - WINDOW + 1 .. $i];
    return (undef, 'short')
        if $w[-1]{minute} - $w[0]{minute} != WINDOW - 1;
    my @c = map { $_->{close} } @w;
    my @r = map { log($c[$_] / $c[$_ - 1]) } 1 .. $#c;
    my $mean = sum(@r) / @r;
    my $sigma = sqrt(sum(map { ($_ - $mean) ** 2 } @r) / @r);
    return (undef, 'flat') unless $sigma > FLAT_SIGMA;
    my $scale = $sigma * sqrt(WINDOW);
    return [map { log($_ / $c[-1]) / $scale } @c];
}

sub window_volume {
    my ($bars, $i) = @_;

    return sum(map { $_->{volume} } @$bars[$i - WINDOW + 1 .. $i]);
}

# SPEC 2.3: the 15 returns (percent) after bar $i; undef where t+h is past
# 20:00 New York.
sub trajectory {
    my ($bars, $i) = @_;

    my $c29 = $bars->[$i]{close};
    my @out;
    for my $h (HORIZONS) {
        my $u = $bars->[$i]{minute} + $h;
        if ($u > DAY_END_MINUTE) {
            push @out, undef;
            next;
        }
        my $j = $i;
        $j++ while $j < $#$bars && $bars->[$j + 1]{minute} <= $u;
        push @out, 100 * ($bars->[$j]{close} / $c29 - 1);
    }
    return \@out;
}

# The front end's trajectory (docs/decisions.md): SPEC 2.3's, with the
# points past 20:00 holding at the day's last close (the price SPEC 6
# verifies such a horizon at). $bars must be the whole day.
sub held_trajectory {
    my ($bars, $i) = @_;

    my $c29 = $bars->[$i]{close};
    my $held = 100 * ($bars->[-1]{close} / $c29 - 1);
    return [map { $_ // $held } @{ trajectory($bars, $i) }];
}

# The bars of one ticker-day that end a pattern build-index must index
# (SPEC 2.2 windows, the min_window_volume filter of 2.3): a list of
# [bar index, vector].
sub indexable_windows {
    my ($bars, $min_volume) = @_;

    my @out;
    for my $i (WINDOW - 1 .. $#$bars) {
        next if $bars->[$i]{minute} - $bars->[$i - WINDOW + 1]{minute}
                != WINDOW - 1;
        my ($vec) = window_vector($bars, $i);
        push @out, [$i, $vec]
            if $vec && window_volume($bars, $i) >= $min_volume;
    }
    return @out;
}

sub count_indexable {
    my ($day, $min_volume) = @_;

    my $n = 0;
    $n += indexable_windows($_, $min_volume) for values %{ $day->{tickers} };
    return $n;
}

# Every pattern build-index indexes from the days @$days: a list of
# { ticker, time (UTC s of the bar start), vec, traj }.
sub day_patterns {
    my ($days, $min_volume) = @_;

    my @out;
    for my $day (@$days) {
        for my $t (sort keys %{ $day->{tickers} }) {
            my $bars = $day->{tickers}{$t};
            for my $w (indexable_windows($bars, $min_volume)) {
                my ($i, $vec) = @$w;
                push @out, { ticker => $t, time => $bars->[$i]{start},
                             vec => $vec, traj => trajectory($bars, $i) };
            }
        }
    }
    return \@out;
}

# The $k patterns of @$pats nearest to vector $q (exact L2), among those
# with a return at horizon index $hi and accepted by $keep (optional):
# a list of [distance, pattern], nearest first.
sub nearest {
    my ($pats, $q, $k, $hi, $keep) = @_;

    my @d = map { [l2($q, $_->{vec}), $_] }
            grep { defined $_->{traj}[$hi] && (!$keep || $keep->($_)) }
            @$pats;
    @d = sort { $a->[0] <=> $b->[0] } @d;
    splice @d, $k if @d > $k;
    return @d;
}

sub l2 {
    my ($x, $y) = @_;

    return sqrt(sum(map { ($x->[$_] - $y->[$_]) ** 2 } 0 .. $#$x));
}

# The float32 value nearest to $x, as the engine stores it.
sub as_float {
    my ($x) = @_;

    return unpack 'f', pack 'f', $x;
}

# ---------------------------------------------------------------------------
# SPEC 3, steps 2 and 4 (no trimming)

# Weights from distances sorted ascending.
sub weights {
    my ($alpha, @d) = @_;

    my $span = $d[-1] - $d[0];
    return map { $span > 0 ? exp(-$alpha * ($_ - $d[0]) / $span) : 1 } @d;
}

# SPEC 3 step 3: the indexes (into @$r, nearest first) that trimming drops:
# floor(n * pct / 100) at each end. Ties at a cut drop the farthest first
# (docs/forecast.md), the low cut before the high one.
sub trimmed_indexes {
    my ($r, $lo_pct, $hi_pct) = @_;

    my $n = @$r;
    my $lo = int($n * $lo_pct / 100);
    my $hi = int($n * $hi_pct / 100);
    my @low = sort { $r->[$a] <=> $r->[$b] || $b <=> $a } 0 .. $n - 1;
    my %gone = map { $_ => 1 } @low[0 .. $lo - 1];
    my @high = sort { $r->[$b] <=> $r->[$a] || $b <=> $a }
               grep { !$gone{$_} } 0 .. $n - 1;
    $gone{$_} = 1 for @high[0 .. $hi - 1];
    return sort { $a <=> $b } keys %gone;
}

# { prob_up, mean, std, p10, median, p90 } of returns @$r with weights @$w.
sub forecast_stats {
    my ($r, $w) = @_;

    my $total = sum(@$w);
    my $up = sum(map { $r->[$_] > 0 ? $w->[$_]
                       : $r->[$_] == 0 ? $w->[$_] / 2 : 0 } 0 .. $#$r);
    my $mean = sum(map { $w->[$_] * $r->[$_] } 0 .. $#$r) / $total;
    my $var = sum(map { $w->[$_] * ($r->[$_] - $mean) ** 2 } 0 .. $#$r)
              / $total;
    my @order = sort { $r->[$a] <=> $r->[$b] || $a <=> $b } 0 .. $#$r;
    my $pct = sub {
        my ($q) = @_;
        my $cum = 0;
        for my $i (@order) {
            $cum += $w->[$i];
            return $r->[$i] if $cum >= ($q - 1e-9) * $total;
        }
        return $r->[$order[-1]];
    };
    return { prob_up => $up / $total, mean => $mean, std => sqrt($var),
             p10 => $pct->(0.1), median => $pct->(0.5), p90 => $pct->(0.9) };
}

1;
