# Verification of live predictions when a minute's bars come in pieces
# (SPEC 6, docs/replay.md): a prediction (bar t, horizon h) is due once a
# bar of its ticker starting at or after t+h has arrived, or the clock has
# passed the end of the t+h minute plus the grace; it is verified at
# C(t+h). Every expected price is read here from the demo fixture's flat
# file (the bars the test posted, nothing read back from the engine).
#
# The engine is built from the fixture's days before its last one, so the
# last day reaches it only through POST /bars, minute by minute, as the
# test decides:
#
#   1  feed clock, default grace: the t+h bars of some tickers come in a
#      second POST after the first one moved the clock past the minute
#   2  feed clock, grace 120 s: a bar arriving a minute late (within the
#      grace) is waited for; one that never comes is verified at the latest
#      bar before t+h once the grace has passed, not before
#   3  fixed clocks (the engine restarted on each): the same, minute
#      boundaries crossed by restarting the engine on a later instant
#   4  open predictions across an engine restart: a WebSocket subscriber of
#      the job gets a price_update for each bar fed after the restart

use lib 't/lib';
use PatternRT::Test;
use Cwd ();
use File::Temp qw(tempdir);
use IPC::Run ();
use JSON::PP ();

use PatternRT::Jobs qw(call_api close_enough ny_instant iso_z get_job
                       run_job wait_job);
use PatternRT::Util qw(wait_until);
use PatternRT::WebSocket;
use PatternRT::WSEvents qw(flat_day bar_at close_at post_minute feed_clock
                           iso_to_s wait_connected);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo-flat";

our $ENGINE = $ENV{TEST_PRT_ENGINE} || 'build/pattern-rt-engine';
our $TOL = 1e-9;
our $JSON = JSON::PP->new->canonical;
our $TMP = tempdir('prt-verify-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our @FLAT = sort glob "$FIXTURES/demo-flat/*.csv.gz";
our $DAY = flat_day($FLAT[-1]);
our $DATE = $DAY->{date};
our @ARGS = ('--verify_interval_ms', 100);

sub at { return ny_instant($DATE, $_[0]) }

# The tickers with a bar in every minute 09:30-10:44 of the day: each
# posted minute moves each of their prices.
our @ACTIVE = grep {
    my $sym = $_;
    !grep { !bar_at($DAY, $sym, at('09:30') + 60 * $_) } 0 .. 74;
} sort keys %{ $DAY->{tickers} };
our @FIRST = @ACTIVE[0 .. int(@ACTIVE / 2) - 1];
our @SECOND = @ACTIVE[int(@ACTIVE / 2) .. $#ACTIVE];

# An engine data dir (bars + index) from the fixture's days before the last.
our $BEFORE = do {
    my $flat = "$TMP/flat";
    mkdir $flat or die "mkdir $flat: $!\n";
    for my $f (@FLAT[0 .. $#FLAT - 1]) {
        my ($name) = $f =~ m{([^/]+)\z};
        symlink Cwd::abs_path($f), "$flat/$name" or die "symlink: $!\n";
    }
    my $log = '';
    IPC::Run::run([$ENGINE, 'build-index', '--data', $flat, '--out',
                   "$TMP/before"], '<', \undef, '>&', \$log)
        or die "build-index on the days before $DATE failed:\n$log\n";
    "$TMP/before";
};

engine_config(data => $BEFORE, clock => 'feed', args => [@ARGS]);

# Posts the bars of @syms starting at $start (only those the file has);
# dies unless every one is accepted.
sub post_some {
    my ($start, @syms) = @_;

    my @events = map {
        my $b = bar_at($DAY, $_, $start);
        $b ? { ev => 'AM', sym => $_, v => $b->{v} + 0, o => $b->{o} + 0,
               h => $b->{h} + 0, l => $b->{l} + 0, c => $b->{c} + 0,
               s => $start * 1000, e => ($start + 60) * 1000 } : ();
    } @syms;
    my $r = call_api('POST', '/api/pattern-realtime/bars',
                     $JSON->encode(\@events));
    die "POST /bars: $r->{code} $r->{body}\n"
        unless $r->{code} == 200 && ($r->{json}{accepted} // -1) == @events;
    return scalar @events;
}

sub all_but {
    my (@skip) = @_;

    my %skip = map { $_ => 1 } @skip;
    return grep { !$skip{$_} } sort keys %{ $DAY->{tickers} };
}

sub verification_stats {
    return call_api('GET', '/health')->{json}{verification} // {};
}

# Returns once a verification pass that started after this call has
# finished: two more passes than now (one may be under way, reading what
# was there before).
sub wait_passes {
    my $p0 = verification_stats()->{passes} // 0;
    wait_until(sub { (verification_stats()->{passes} // 0) >= $p0 + 2 },
               15, 'two more verification passes');
}

# The engine fresh on $BEFORE with %o (clock, args); returns once every
# worker reaches it.
sub fresh_engine {
    my (%o) = @_;

    engine_config(data => $BEFORE, clock => $o{clock} // 'feed',
                  args => [@ARGS, @{ $o{args} || [] }]);
    engine_restart(fresh => 1);
    wait_connected(worker_pids());
}

# The same data on another clock.
sub restart_on {
    my ($clock) = @_;

    engine_config(clock => $clock);
    engine_restart();
    wait_connected(worker_pids());
}

# Every bar of every ticker from 09:30 up to (not including) $until.
sub feed_until {
    my ($until) = @_;

    post_minute($DAY, $_) for map { at('09:30') + 60 * $_ }
                              0 .. ($until - at('09:30')) / 60 - 1;
}

# A job on @ACTIVE with horizon $h; its results by symbol (every ticker
# must get a prediction on bar $bar).
sub scan {
    my ($h, $bar) = @_;

    my $id = run_job({symbols => \@ACTIVE, horizon => $h})->{job_id};
    my $job = wait_job($id, 30);
    my %r = map { $_->{symbol} => $_ } @{ $job->{results} };
    my @bad = grep { !$r{$_} || iso_to_s($r{$_}{bar_time}) != $bar } @ACTIVE;
    die "job $id: no prediction on the bar of " . iso_z($bar) . " for @bad: "
        . $JSON->encode($job->{failures}) . "\n" if @bad;
    return ($id, \%r);
}

sub results {
    my ($id) = @_;

    return { map { $_->{symbol} => $_ } @{ get_job($id)->{results} } };
}

# Problems of the predictions of @syms in job $id: each must be pending
# (want undef) or verified at the close $want->($sym) with the return,
# correctness and pnl that price gives.
sub state_problems {
    my ($id, $want, @syms) = @_;

    my $r = results($id);
    my @p;
    for my $sym (@syms) {
        my $x = $r->{$sym};
        my $c = $want ? $want->($sym) : undef;
        my $v = $x->{verification} // 'missing';
        if (!defined $c) {
            push @p, "$sym: $v at " . ($x->{price_at_horizon} // 'null')
                     . ', want pending'
                unless $v eq 'pending';
            next;
        }
        if ($v ne 'verified') {
            push @p, "$sym: $v, want verified at $c";
            next;
        }
        my $ar = 100 * ($c / $x->{price_at_scan} - 1);
        my $up = $x->{direction} eq 'UP';
        push @p, "$sym: price_at_horizon $x->{price_at_horizon}, want $c"
            unless close_enough($x->{price_at_horizon}, $c, $TOL);
        push @p, "$sym: actual_return $x->{actual_return}, want $ar"
            unless close_enough($x->{actual_return}, $ar, $TOL);
        push @p, "$sym: pnl $x->{pnl}, want " . ($up ? $ar : -$ar)
            unless close_enough($x->{pnl}, $up ? $ar : -$ar, $TOL);
        push @p, "$sym: was_correct wrong"
            unless !!$x->{was_correct} == !!($up ? $ar > 0 : $ar < 0);
    }
    return @p;
}

sub problems_ok {
    my ($label, @p) = @_;

    ok(!@p, $label) or diag(join "\n", @p[0 .. ($#p < 14 ? $#p : 14)],
                            @p > 15 ? ('... ' . (@p - 15) . ' more') : ());
}

# The close of $sym's bar starting at $start, from the file.
sub close_of {
    my ($sym, $start) = @_;

    my $b = bar_at($DAY, $sym, $start) or die "$sym has no bar at $start\n";
    return $b->{c};
}

# price_at_scan is the close of the scanned bar, from the file
sub scan_prices_ok {
    my ($r, $bar) = @_;

    problems_ok('price_at_scan is the close of the scanned bar in the file',
                map { close_enough($r->{$_}{price_at_scan},
                                   close_of($_, $bar), $TOL)
                      ? () : "$_: $r->{$_}{price_at_scan}" } @ACTIVE);
}

run_tests();

__DATA__

=== TEST 1: feed clock: a minute split over two POSTs verifies every ticker at C(t+h)
--- config
    location / {
        pattern_rt_api;
    }
--- post_request
ok(@ACTIVE >= 10, scalar(@ACTIVE) . ' tickers trade every minute 09:30-10:44');
feed_until(at('10:30'));
my ($id, $r) = scan(1, at('10:29'));
scan_prices_ok($r, at('10:29'));
# the 10:30 bars of every ticker but @SECOND: the feed clock passes 10:31
post_some(at('10:30'), all_but(@SECOND));
is(feed_clock(), at('10:31'), 'the feed clock is at the end of the 10:30 minute');
wait_passes();
problems_ok('the tickers whose 10:30 bar came are verified at C(10:30)',
            state_problems($id, sub { close_of($_[0], at('10:30')) }, @FIRST));
problems_ok('the others wait for theirs (the clock is the end of t+h, not '
            . 'past its grace)', state_problems($id, undef, @SECOND));
post_some(at('10:30'), @SECOND);
wait_passes();
problems_ok('the second POST of the minute: verified at C(10:30), not at '
            . 'the 10:29 close', state_problems($id, sub {
                close_of($_[0], at('10:30')) }, @SECOND));
my @differ = grep { close_of($_, at('10:30')) != close_of($_, at('10:29')) }
             @SECOND;
ok(@differ >= 3, scalar(@differ) . ' of the second POST\'s tickers moved '
   . 'between 10:29 and 10:30 (the test can tell the two prices apart)');



=== TEST 2: feed clock, grace 120 s: a late bar is waited for, a missing one is verified only after the grace
--- config
    location / {
        pattern_rt_api;
    }
--- init
fresh_engine(args => ['--verify_grace_s', 120]);
--- post_request
my @late = @SECOND[0 .. 2];
my @missing = @SECOND[3 .. 5];
my @rest = (@FIRST, @SECOND[6 .. $#SECOND]);
feed_until(at('10:30'));
my ($id) = scan(1, at('10:29'));
post_some(at('10:30'), all_but(@late, @missing));
post_some(at('10:31'), all_but(@late, @missing));
is(feed_clock(), at('10:32'), 'the feed clock is at 10:32');
wait_passes();
problems_ok('the tickers with their 10:30 bar: verified at C(10:30)',
            state_problems($id, sub { close_of($_[0], at('10:30')) }, @rest));
problems_ok('a minute after t+h, within the grace: late and missing wait',
            state_problems($id, undef, @late, @missing));
post_some(at('10:30'), @late);
wait_passes();
problems_ok('the late 10:30 bars, posted after the 10:31 minute: verified '
            . 'at C(10:30)', state_problems($id, sub {
                close_of($_[0], at('10:30')) }, @late));
problems_ok('the missing ones still wait', state_problems($id, undef, @missing));
# 10:32 moves the clock to 10:33 = the end of 10:30 plus 120 s
post_some(at('10:32'), all_but(@missing));
wait_passes();
problems_ok('the grace has passed: the missing ones are verified at the '
            . 'latest bar they have before t+h (10:29)',
            state_problems($id, sub { close_of($_[0], at('10:29')) }, @missing));



=== TEST 3: fixed clocks: split minute, late bar and grace, the clock moved by restarts
--- config
    location / {
        pattern_rt_api;
    }
--- init
fresh_engine(clock => iso_z(at('10:30') + 30));
--- post_request
my @missing = @SECOND[0 .. 2];
my @second = @SECOND[3 .. $#SECOND];
feed_until(at('10:30'));
my ($id, $r) = scan(1, at('10:29'));
scan_prices_ok($r, at('10:29'));
post_some(at('10:30'), all_but(@SECOND));
wait_passes();
problems_ok('clock 10:30:30: the 10:30 bars have not ended, nothing is due',
            state_problems($id, undef, @ACTIVE));

restart_on(iso_z(at('10:31') + 30));
wait_passes();
problems_ok('clock 10:31:30: the tickers whose 10:30 bar came are verified '
            . 'at C(10:30)', state_problems($id, sub {
                close_of($_[0], at('10:30')) }, @FIRST));
problems_ok('the others wait (the end of t+h plus 60 s is 10:32)',
            state_problems($id, undef, @SECOND));
post_some(at('10:30'), @second);
wait_passes();
problems_ok('their 10:30 bars, posted later: verified at C(10:30)',
            state_problems($id, sub { close_of($_[0], at('10:30')) }, @second));
problems_ok('the missing ones still wait', state_problems($id, undef, @missing));

restart_on(iso_z(at('10:32')));
wait_passes();
problems_ok('clock 10:32: the grace has passed, the missing ones are '
            . 'verified at their 10:29 close',
            state_problems($id, sub { close_of($_[0], at('10:29')) }, @missing));



=== TEST 4: open predictions get price updates after an engine restart
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
    location / {
        pattern_rt_api;
    }
--- init
fresh_engine();
--- post_request
my $h = 10;
feed_until(at('10:30'));
my ($id, $r) = scan($h, at('10:29'));
post_minute($DAY, at('10:30'));
restart_on('feed');
like(engine_log_part(), qr/\b\Q${\ scalar @ACTIVE}\E open predictions tracked/,
     'the restarted engine tracks the open predictions again');

my $w = PatternRT::WebSocket->connect(port => server_port());
is($w->status, 101, 'a WebSocket client is connected');
$w->send_json({type => 'subscribe', job_id => $id});
my $s = $w->next_message(5);
is($s && $s->{type}, 'subscribed', 'it subscribes to the job')
    or diag($JSON->encode($s));
my @minutes = map { at('10:31') + 60 * $_ } 0 .. 4;
post_minute($DAY, $_) for @minutes;
my $want = @ACTIVE * @minutes;
my $n = 0;
my @got = grep { ($_->{type} // '') eq 'price_update' }
          $w->messages_until(sub {
              $n++ if ($_[0]{type} // '') eq 'price_update';
              $n >= $want;
          }, 20);
is(scalar @got, $want, "$want price_update events: one per open prediction "
   . 'and posted minute');
my %by_id = map { $r->{$_}{id} => $_ } @ACTIVE;
my $due = at('10:29') + 60 * $h;
my @p;
for my $e (@got) {
    my $u = $e->{price_update};
    my $sym = $by_id{$u->{prediction_id}};
    my $end = iso_to_s($u->{timestamp});
    if (!$sym) {
        push @p, "an update for prediction $u->{prediction_id}, not the job's";
        next;
    }
    my $c = close_of($sym, $end - 60);
    my $ur = 100 * ($c / $r->{$sym}{price_at_scan} - 1);
    push @p, "$sym at $u->{timestamp}: current_price $u->{current_price}, "
             . "the file's close $c"
        unless close_enough($u->{current_price}, $c, $TOL);
    push @p, "$sym at $u->{timestamp}: unrealized_return "
             . "$u->{unrealized_return}, want $ur"
        unless close_enough($u->{unrealized_return}, $ur, $TOL);
    push @p, "$sym at $u->{timestamp}: minutes_remaining "
             . "$u->{minutes_remaining}, want " . ($due - $end) / 60
        unless $u->{minutes_remaining} == ($due - $end) / 60;
}
my %seen = map { ("$_->{price_update}{prediction_id} $_->{price_update}{timestamp}" => 1) } @got;
is(scalar keys %seen, scalar @got, 'no update twice');
problems_ok('each at the close of the bar that moved it, from the file', @p);
