# `pattern-rt-engine replay` on a real day (SPEC 6, docs/replay.md): the
# quantconnect-lean bars of 2013-10-11 posted through nginx at --speed max
# with scan jobs every 15 minutes of market time (horizons 5 and 30), on an
# engine with the feed clock. Every expectation comes from the flat file,
# read here in Perl: the bars the engine stores, the scan times, the bar
# each scan used, and price_at_horizon = C(t+h), actual_return,
# was_correct and pnl of every verified prediction (to 1e-9), and which
# predictions may still be pending when the clock stops.
#
# Block 1 runs on the real-qc fixture (its bar store already holds the
# day). Blocks 2 and 3 run on an engine built from the days before: there
# the day reaches the engine only through the replay, so the bar store and
# the verification follow the feed minute by minute. Block 3 replays
# 2013-10-10 with --close, which posts the first minute of 2013-10-11 so
# that the horizons past 20:00 come due (verified at the day's last bar).

use lib 't/lib';
use PatternRT::Test;
use Cwd ();
use File::Temp qw(tempdir);
use IO::Uncompress::Gunzip qw($GunzipError);
use IPC::Run ();
use JSON::PP ();
use Time::Local qw(timegm);

use PatternRT::Jobs qw(call_api close_enough ny_local ny_instant iso_z
                       get_json history_all replay_command);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => "no real-qc fixture ($FIXTURES/real-qc): the real bars "
                 . 'are outside the project (PRT_REAL_DATA); run through '
                 . 't/run, which builds build/t/fixtures')
    unless $FIXTURES && -d "$FIXTURES/real-qc";
our $REAL = ($ENV{PRT_REAL_DATA} // '../shared/data/real')
            . '/quantconnect-lean';
plan(skip_all => "no $REAL/2013-10-11.csv.gz (PRT_REAL_DATA)")
    unless -f "$REAL/2013-10-11.csv.gz";

our $ENGINE = $ENV{TEST_PRT_ENGINE} || 'build/pattern-rt-engine';
{
    # until engine/main.c dispatches the command, say so instead of failing
    my $help = `$ENGINE replay --help 2>&1`;
    plan(skip_all => "$ENGINE has no replay command yet (engine/main.c "
                     . 'does not dispatch prt_replay_command)')
        if $help =~ /unknown command: replay/;
}
our $SYMBOLS = 'SPY AAPL IBM BAC AIG';
our $EVERY = 15;
our @HORIZONS = (5, 30);
our $GRACE_S = 60;                      # the engine's default verify_grace_s
our $TOL = 1e-9;
our $TMP = tempdir('prt-replay-XXXXXX', TMPDIR => 1, CLEANUP => 1);

engine_config(clock => 'feed', data => "$FIXTURES/real-qc");

# ---------------------------------------------------------------------------
# The flat file, read here: { tickers => { T => [ {start, minute, open,
# high, low, close, volume} ... ] }, minutes => [sorted starts of minutes
# with any bar] }.

sub read_flat {
    my ($path) = @_;

    my $z = IO::Uncompress::Gunzip->new($path) or die "$path: $GunzipError\n";
    my $header = <$z>;
    die "$path: unexpected header\n"
        unless $header =~ /\Aticker,volume,open,close,high,low,window_start,/;
    my (%t, %minutes);
    while (my $line = <$z>) {
        $line =~ s/\r?\n\z//;
        my ($sym, $v, $o, $c, $h, $l, $ns) = split /,/, $line;
        my $start = substr($ns, 0, -9) + 0;
        my (undef, $minute) = ny_local($start);
        push @{ $t{$sym} }, { start => $start, minute => $minute, open => $o,
                              high => $h, low => $l, close => $c,
                              volume => $v };
        $minutes{$start} = 1;
    }
    @$_ = sort { $a->{start} <=> $b->{start} } @$_ for values %t;
    return { tickers => \%t, minutes => [sort { $a <=> $b } keys %minutes] };
}

our %DAY = map { $_ => read_flat("$REAL/$_.csv.gz") }
           qw(2013-10-08 2013-10-09 2013-10-11);

# C(u): the close of the latest bar starting at or before u that day
# (past 20:00: the day's last bar).
sub close_at {
    my ($bars, $u) = @_;

    my $c;
    for my $b (@$bars) {
        last if $b->{start} > $u;
        $c = $b->{close};
    }
    return $c;
}

sub bar_at {
    my ($bars, $start) = @_;

    my ($b) = grep { $_->{start} == $start } @$bars;
    return $b;
}

# The scan clocks the replay must have used: before minute m is posted,
# a scheduled time first + k * every in (previous minute, m] makes a scan
# at the end of the previous minute, if the market is open then.
sub expected_scans {
    my ($day) = @_;

    my @m = @{ $day->{minutes} };
    my $next = $m[0] + $EVERY * 60;
    my @scans;
    for my $i (1 .. $#m) {
        next unless $next <= $m[$i];
        my $clock = $m[$i - 1] + 60;
        my (undef, $minute) = ny_local($clock);
        push @scans, $clock if $minute >= 240 && $minute < 1200;
        $next += $EVERY * 60 while $next <= $m[$i];
    }
    my $clock = $m[-1] + 60;
    my (undef, $minute) = ny_local($clock);
    push @scans, $clock if $next <= $clock && $minute >= 240 && $minute < 1200;
    return @scans;
}

sub iso_to_s {
    my ($iso) = @_;

    my ($y, $mo, $d, $h, $mi, $s) =
        ($iso // '') =~ /\A(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?Z\z/
        or die "not an ISO-8601 UTC time: " . ($iso // 'null') . "\n";
    return timegm($s, $mi, $h, $d, $mo - 1, $y);
}

# ---------------------------------------------------------------------------
# The engine

sub run_replay {
    return replay_command($REAL, @_);
}

# A fresh engine on $data; returns once nginx's workers reach it.
sub fresh_engine {
    my ($data) = @_;

    engine_config(data => $data);
    my $epoch = get_json('/health')->{engine}{epoch};
    engine_restart(fresh => 1);
    wait_until(sub {
        my $r = call_api('GET', '/health');
        $r->{code} == 200 && $r->{json}{engine}{epoch} ne $epoch;
    }, 10, 'the workers to reach the new engine');
}

# Builds an engine data dir (bars + index) from the real days before $day.
sub build_before {
    my ($day) = @_;

    my $flat = "$TMP/flat-before-$day";
    my $out = "$TMP/data-before-$day";
    return $out if -d "$out/index";
    mkdir $flat or die "mkdir $flat: $!\n";
    for my $f (glob "$REAL/*.csv.gz") {
        my ($d) = $f =~ m{/(\d{4}-\d\d-\d\d)\.csv\.gz\z} or next;
        next unless $d lt $day;
        symlink Cwd::abs_path($f), "$flat/$d.csv.gz" or die "symlink: $!\n";
    }
    my $log = '';
    IPC::Run::run([$ENGINE, 'build-index', '--data', $flat, '--out', $out],
                  '<', \undef, '>&', \$log)
        or die "build-index on the days before $day failed:\n$log\n";
    return $out;
}

# ---------------------------------------------------------------------------
# Checks; each returns a list of problems.

sub replay_problems {
    my ($run, $date, %o) = @_;

    my @p;
    my $day = $DAY{$date};
    my $bars = 0;
    $bars += @$_ for values %{ $day->{tickers} };
    my @scans = expected_scans($day);
    push @p, "exit code $run->{code}" unless $run->{code} == 0;
    my ($posted, $accepted, $rejected, $jobs) = $run->{out} =~
        /(\d+) bars posted, (\d+) accepted, (\d+) rejected, \d+ requests, (\d+) jobs/
        or return (@p, "no summary line in: $run->{out}$run->{err}");
    my $want_posted = $bars + ($o{close_bars} // 0);
    push @p, "$posted bars posted, the file has $want_posted"
        unless $posted == $want_posted;
    push @p, "$accepted accepted, $rejected rejected"
        unless $accepted == $posted && $rejected == 0;
    my @h = @{ $o{horizons} // \@HORIZONS };
    push @p, sprintf('%d jobs, want %d scans x %d horizons', $jobs,
                     scalar @scans, scalar @h)
        unless $jobs == @scans * @h;
    push @p, 'no performance table' unless $run->{out} =~ /^  all\s+\d+/m;
    return @p;
}

# The bar store holds exactly the file's bars (open, high, low, close,
# volume compared as numbers, no tolerance).
sub store_problems {
    my ($date) = @_;

    my @p;
    my $t = $DAY{$date}{tickers};
    for my $sym (sort keys %$t) {
        my $r = get_json("/api/historical/ohlc/$sym?date=$date"
                         . '&start_time=00:00&end_time=23:59');
        my @c = @{ $r->{candles} };
        push @p, sprintf('%s: %d candles, the file has %d bars', $sym,
                         scalar @c, scalar @{ $t->{$sym} })
            unless @c == @{ $t->{$sym} };
        for my $i (0 .. $#c) {
            my $b = $t->{$sym}[$i] or last;
            my $hhmm = sprintf '%02d:%02d', $b->{minute} / 60, $b->{minute} % 60;
            my @diff = grep { $c[$i]{$_} != $b->{$_} }
                       qw(open high low close volume);
            push @p, "$sym $hhmm: candle $c[$i]{time} differs in @diff"
                if @diff || $c[$i]{time} ne $hhmm;
        }
    }
    return @p;
}

# One prediction against the file.
sub prediction_problems {
    my ($x, $day, $end_clock, $scan_set, $live) = @_;

    my $sym = $x->{symbol};
    my $bars = $day->{tickers}{$sym} or return ("$sym: not in the file");
    my $t = iso_to_s($x->{bar_time});
    my $scan = iso_to_s($x->{scan_time});
    my $h = $x->{horizon};
    my $id = "$sym $x->{bar_time} h=$h";
    my @p;

    push @p, "$id: scan time $x->{scan_time} is not a scheduled scan"
        unless $scan_set->{$scan};
    my $b = bar_at($bars, $t);
    push @p, "$id: no bar at bar_time in the file" unless $b;
    return @p unless $b;
    push @p, "$id: price_at_scan $x->{price_at_scan} != close $b->{close}"
        unless $x->{price_at_scan} == $b->{close};
    my @later = grep { $_->{start} > $t && $_->{start} + 60 <= $scan } @$bars;
    push @p, "$id: scanned at $x->{scan_time}, but the bar of "
             . iso_z($later[-1]{start}) . ' was complete'
        if @later || $t + 60 > $scan;

    my $due = $t + $h * 60;
    # the minute waited for: t+h, or the day's last minute (19:59 ET on
    # the ordinary days replayed here) when t+h lies past the day's end
    my ($date) = ny_local($t);
    my $last_minute = ny_instant($date, '20:00') - 60;
    my $u = $due < $last_minute ? $due : $last_minute;
    my $v = $x->{verification} // '';
    if ($live) {
        # only the replayed bars are in the store: read once the clock
        # reached t+h, due once a bar at or after u came, or the clock
        # passed the end of minute u plus the grace
        my $due_now = $end_clock >= $due
                      && ($bars->[-1]{start} >= $u
                          || $end_clock >= $u + 60 + $GRACE_S);
        push @p, "$id: $v, but due is " . ($due_now ? 'yes' : 'no')
                 . ' at the end clock ' . iso_z($end_clock)
            if ($v eq 'pending') == $due_now;
    } elsif ($v eq 'pending') {
        push @p, "$id: still pending although t+h+1min+grace is before "
                 . 'the clock ' . iso_z($end_clock)
            if $end_clock >= $due && $u + 60 + $GRACE_S <= $end_clock;
    }
    if ($v eq 'unverifiable') {
        push @p, "$id: unverifiable without E_PRICE"
            unless ($x->{verification_error} // '') eq 'E_PRICE';
    }
    return @p unless $v eq 'verified';

    my $c = close_at($bars, $due);
    my $ar = 100 * ($c / $b->{close} - 1);
    my $up = $x->{direction} eq 'UP';
    my $correct = $up ? $ar > 0 : $ar < 0;
    my $pnl = $up ? $ar : -$ar;
    push @p, "$id: price_at_horizon $x->{price_at_horizon}, C(t+h) = $c"
        unless close_enough($x->{price_at_horizon}, $c, $TOL);
    push @p, "$id: actual_return $x->{actual_return}, want $ar"
        unless close_enough($x->{actual_return}, $ar, $TOL);
    push @p, "$id: pnl $x->{pnl}, want $pnl"
        unless close_enough($x->{pnl}, $pnl, $TOL);
    push @p, "$id: was_correct " . JSON::PP->new->allow_nonref
             ->encode($x->{was_correct}) . ', want ' . ($correct ? 1 : 0)
        unless defined $x->{was_correct} && !!$x->{was_correct} == !!$correct;
    push @p, "$id: verified_at is null" unless defined $x->{verified_at};
    return @p;
}

sub report {
    my ($name, @p) = @_;

    ok(!@p, $name) or diag(join "\n", @p[0 .. ($#p < 20 ? $#p : 19)],
                           @p > 20 ? ('... ' . (@p - 20) . ' more') : ());
}

# Runs every check of a replayed day; returns the /history items.
sub check_day {
    my ($run, $date, %o) = @_;

    my $day = $DAY{$date};
    report("$date: the command's summary", replay_problems($run, $date, %o))
        or diag("$run->{cmd}\n$run->{out}$run->{err}");
    my $health = get_json('/health');
    is($health->{market}{clock}, 'feed', "$date: the engine runs on feed");
    my $end = iso_to_s($health->{market}{now});
    my %scans = map { $_ => 1 } expected_scans($day);
    my @items = history_all();
    my @verified = grep { ($_->{verification} // '') eq 'verified' } @items;
    ok(@verified >= 50, "$date: " . scalar(@verified) . ' of '
                        . scalar(@items) . ' predictions verified');
    my %seen;
    $seen{$_->{horizon}}++ for @items;
    is(join(',', sort { $a <=> $b } keys %seen),
       join(',', @{ $o{horizons} // \@HORIZONS }),
       "$date: predictions of both horizons");
    report("$date: every prediction against the flat file",
           map { prediction_problems($_, $day, $end, \%scans, $o{live}) }
           @items);
    return @items;
}

run_tests();

__DATA__

=== TEST 1: real-qc fixture: 2013-10-11 replayed with scans every 15 minutes
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $run = run_replay('--from', '2013-10-11', '--to', '2013-10-11',
                      '--speed', 'max', '--scan', $SYMBOLS, '--every', $EVERY,
                      map { ('--horizon', $_) } @HORIZONS);
--- request
GET /api/pattern-realtime/performance?period=all
--- response_json_path
period eq all
pending == 0
--- post_request
my @items = check_day($main::run, '2013-10-11');
is(scalar(grep { $_->{verification} eq 'pending' } @items), 0,
   'the store already holds the whole day: nothing stays pending');
like($main::run->{err}, qr/^replay: 2013-10-11: 2212 bars posted, 0 rejected, \d+ jobs/m,
     'the day line on stderr');



=== TEST 2: live: the day reaches the engine only through the replay
--- config
    location / {
        pattern_rt_api;
    }
--- init
fresh_engine(build_before('2013-10-08'));
our $run = run_replay('--from', '2013-10-11', '--speed', 'max',
                      '--scan', $SYMBOLS, '--every', $EVERY,
                      map { ('--horizon', $_) } @HORIZONS);
--- request
GET /health
--- response_json_path
market.clock eq feed
market.now eq 2013-10-12T00:00:00Z
feed.bars_ingested == 2212
--- post_request
report('2013-10-11: the bar store holds exactly the file', store_problems('2013-10-11'));
my @items = check_day($main::run, '2013-10-11', live => 1);
my $pending = grep { $_->{verification} eq 'pending' } @items;
if ($pending) {
    like($main::run->{err}, qr/note: $pending predictions are still pending/,
         'the command says why some are pending');
} else {
    unlike($main::run->{err}, qr/still pending/, 'no note when nothing is pending');
}



=== TEST 3: --close: the next trading day's first minute verifies the horizons past 20:00
--- config
    location / {
        pattern_rt_api;
    }
--- init
fresh_engine(build_before('2013-10-08'));
my $next = $DAY{'2013-10-09'};
our $close_bars = grep { $_->[0]{start} == $next->{minutes}[0] }
                  values %{ $next->{tickers} };
our $run = run_replay('--from', '2013-10-08', '--speed', 'max', '--close',
                      '--scan', $SYMBOLS, '--every', $EVERY,
                      '--horizon', 5, '--horizon', 60);
--- request
GET /api/pattern-realtime/performance?period=all
--- response_json_path
pending == 0
verified > 50
--- post_request
report('2013-10-08: the bar store holds exactly the file', store_problems('2013-10-08'));
my @items = check_day($main::run, '2013-10-08', live => 1, horizons => [5, 60],
                      close_bars => $main::close_bars);
my $day = $DAY{'2013-10-08'}{tickers};
my @past = grep { iso_to_s($_->{bar_time}) + 60 * $_->{horizon}
                  > $day->{$_->{symbol}}[-1]{start} } @items;
ok(@past > 0, scalar(@past) . ' predictions reach past the last bar of their '
              . 'ticker that day: verified at that bar');
like($main::run->{err}, qr/--close: posted the first minute of 2013-10-09 \($main::close_bars bars\)/,
     'the command says what it posted');
