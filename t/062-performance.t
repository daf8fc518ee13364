# GET /api/pattern-realtime/performance after replays of the demo fixture
# (SPEC 5.1, 6; docs/replay.md): every bucket of every period, and for one
# horizon, recomputed here from GET /history (all pages): verified
# predictions ranked by edge (ties: older id first), top p % = the first
# max(1, floor(p n / 100 + 0.5)), win_rate, mean_pnl, median_pnl (mean of
# the two middle values when n is even), long and short counts, to 1e-9;
# null buckets when nothing is verified. Also: the command's own table,
# the last day's open horizons with and without --close, the engine on a
# clock far after the replay, and the command under token auth, with bad
# arguments, without an engine, and over TLS (https://, --cacert).

use lib 't/lib';
use PatternRT::Test;
use PatternRT::Tokens qw(test_secret mint);
use PatternRT::Util ();
use IPC::Run ();
use File::Temp qw(tempdir);
use IO::Uncompress::Gunzip qw($GunzipError);
use JSON::PP ();
use POSIX qw(floor);
use Time::Local qw(timegm);

use PatternRT::Jobs qw(call_api close_enough ny_local ny_instant get_json
                       history_all replay_command iso_ms);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo" && -d "$FIXTURES/demo-flat";

our $ENGINE = $ENV{TEST_PRT_ENGINE} || 'build/pattern-rt-engine';
{
    # until engine/main.c dispatches the command, say so instead of failing
    my $help = `$ENGINE replay --help 2>&1`;
    plan(skip_all => "$ENGINE has no replay command yet (engine/main.c "
                     . 'does not dispatch prt_replay_command)')
        if $help =~ /unknown command: replay/;
}
our $FLAT = "$FIXTURES/demo-flat";
our @HORIZONS = (5, 30);
our $EVERY = 15;
our $TOL = 1e-9;
our $TMP = tempdir('prt-perf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our @PERIODS = qw(1h today week all);
our @BUCKETS = qw(all_stats top_1pct top_5pct top_10pct long_stats
                  short_stats);

# The 12 most active tickers of the last fixture day: the ones with
# contiguous windows most of the day, post-market included.
our @SYMBOLS = do {
    my $z = IO::Uncompress::Gunzip->new("$FLAT/2024-01-05.csv.gz")
        or die "$FLAT/2024-01-05.csv.gz: $GunzipError\n";
    my %n;
    <$z>;
    while (my $line = <$z>) {
        $n{(split /,/, $line, 2)[0]}++;
    }
    (sort { $n{$b} <=> $n{$a} || $a cmp $b } keys %n)[0 .. 11];
};

# Auth: a secret for nginx and tokens minted by PatternRT::Tokens.
test_secret($TMP);

# TLS (TEST 7): a self-signed certificate for 127.0.0.1 and a second
# listener's port, for the blocks' configurations.
{
    my $log = '';
    IPC::Run::run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048',
                   '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
                   '-addext', 'subjectAltName=IP:127.0.0.1',
                   '-keyout', "$TMP/tls.key", '-out', "$TMP/tls.crt"],
                  '<', \undef, '>&', \$log)
        or die "openssl req failed: $log\n";
}
$ENV{TEST_PRT_TLS_DIR} = $TMP;
$ENV{TEST_PRT_TLS_PORT} = PatternRT::Util::free_port();

engine_config(clock => 'feed', data => "$FIXTURES/demo");

# ---------------------------------------------------------------------------

sub run_replay {
    return replay_command($FLAT, @_);
}

sub scan_args {
    return ('--scan', "@SYMBOLS", '--every', $EVERY,
            map { ('--horizon', $_) } @HORIZONS);
}

# The first scan time a period counts, New York time (SPEC 5.1).
sub period_from_ms {
    my ($period, $now_ms) = @_;

    return $now_ms - 3600 * 1000 if $period eq '1h';
    return $now_ms - 7 * 86400 * 1000 if $period eq 'week';
    if ($period eq 'today') {
        my ($date) = ny_local(int($now_ms / 1000));
        return ny_instant($date, '00:00') * 1000;
    }
    return undef;
}

sub median {
    my @v = sort { $a <=> $b } @_;
    my $n = @v;
    return $n % 2 ? $v[$n / 2] : ($v[$n / 2 - 1] + $v[$n / 2]) / 2;
}

sub bucket {
    my (@v) = @_;

    return undef unless @v;
    my $sum = 0;
    $sum += $_->{pnl} for @v;
    my $long = grep { $_->{direction} eq 'UP' } @v;
    return { n => scalar @v, long_count => $long, short_count => @v - $long,
             win_rate => (grep { $_->{was_correct} } @v) / @v,
             mean_pnl => $sum / @v,
             median_pnl => median(map { $_->{pnl} } @v) };
}

sub top {
    my ($p, $n) = @_;

    my $k = floor($p * $n / 100 + 0.5);
    return $k < 1 ? 1 : $k;
}

# What /performance must say, from the history items alone.
sub expected_performance {
    my ($items, $period, $horizon, $now_ms) = @_;

    my $from = period_from_ms($period, $now_ms);
    my @in = grep {
        my $t = iso_ms($_->{scan_time});
        (!defined $from || $t >= $from) && $t <= $now_ms
            && (!$horizon || $_->{horizon} == $horizon)
    } @$items;
    my @v = sort { $b->{edge} <=> $a->{edge} || $a->{id} <=> $b->{id} }
            grep { $_->{verification} eq 'verified' } @in;
    my $n = @v;
    return {
        total_predictions => scalar @in,
        verified => $n,
        pending => scalar(grep { $_->{verification} eq 'pending' } @in),
        unverifiable =>
            scalar(grep { $_->{verification} eq 'unverifiable' } @in),
        all_stats => bucket(@v),
        top_1pct => $n ? bucket(@v[0 .. top(1, $n) - 1]) : undef,
        top_5pct => $n ? bucket(@v[0 .. top(5, $n) - 1]) : undef,
        top_10pct => $n ? bucket(@v[0 .. top(10, $n) - 1]) : undef,
        long_stats => bucket(grep { $_->{direction} eq 'UP' } @v),
        short_stats => bucket(grep { $_->{direction} eq 'DOWN' } @v),
    };
}

sub performance_problems {
    my ($got, $want, $what) = @_;

    my @p;
    for my $k (qw(total_predictions verified pending unverifiable)) {
        push @p, "$what: $k $got->{$k}, want $want->{$k}"
            unless defined $got->{$k} && $got->{$k} == $want->{$k};
    }
    for my $b (@BUCKETS) {
        my ($g, $w) = ($got->{$b}, $want->{$b});
        if (!defined $w || !defined $g) {
            push @p, "$what: $b is " . (defined $g ? 'an object' : 'null')
                     . ', want ' . (defined $w ? 'an object' : 'null')
                if defined $w != defined $g;
            next;
        }
        for my $k (qw(n long_count short_count)) {
            push @p, "$what: $b.$k $g->{$k}, want $w->{$k}"
                unless defined $g->{$k} && $g->{$k} == $w->{$k};
        }
        for my $k (qw(win_rate mean_pnl median_pnl)) {
            push @p, "$what: $b.$k " . ($g->{$k} // 'null') . ", want $w->{$k}"
                unless close_enough($g->{$k}, $w->{$k}, $TOL);
        }
    }
    return @p;
}

# Every period, every period with each horizon, against the history.
sub check_all_periods {
    my ($label) = @_;

    my $now = iso_ms(get_json('/health')->{market}{now});
    my @items = history_all();
    my @p;
    for my $period (@PERIODS) {
        for my $h (0, @HORIZONS) {
            my $q = "period=$period" . ($h ? "&horizon=$h" : '');
            my $got = get_json("/api/pattern-realtime/performance?$q");
            push @p, "$q: period $got->{period}"
                unless ($got->{period} // '') eq $period;
            push @p, performance_problems(
                $got, expected_performance(\@items, $period, $h, $now), $q);
        }
    }
    ok(!@p, "$label: /performance of every period and horizon recomputed "
            . 'from ' . scalar(@items) . ' history items')
        or diag(join "\n", @p[0 .. ($#p < 30 ? $#p : 29)]);
    return @items;
}

# The command's table (rounded) against /performance?period=all.
sub table_problems {
    my ($run) = @_;

    my $perf = get_json('/api/pattern-realtime/performance?period=all');
    my %label = (all_stats => 'all', top_1pct => 'top 1%',
                 top_5pct => 'top 5%', top_10pct => 'top 10%',
                 long_stats => 'long', short_stats => 'short');
    my @p;
    for my $b (@BUCKETS) {
        my ($row) = $run->{out} =~ /^  \Q$label{$b}\E +(\S.*)$/m;
        my $w = $perf->{$b};
        if (!defined $w) {
            push @p, "$b: want '-', got " . ($row // 'no row')
                unless ($row // '') eq '-';
            next;
        }
        my @f = split ' ', $row // '';
        push @p, "$b: row '" . ($row // '') . "'"
            unless @f == 6 && $f[0] == $w->{n} && $f[1] == $w->{long_count}
                   && $f[2] == $w->{short_count}
                   && abs($f[3] - $w->{win_rate}) < 6e-5
                   && abs($f[4] - $w->{mean_pnl}) < 6e-6
                   && abs($f[5] - $w->{median_pnl}) < 6e-6;
    }
    return @p;
}

sub summary_ok {
    my ($run, $days) = @_;

    is($run->{code}, 0, 'replay exit code 0')
        or diag("$run->{cmd}\n$run->{out}$run->{err}");
    like($run->{out}, qr/^replay: $days days, (\d+) bars posted, \1 accepted, 0 rejected, /m,
         'every bar accepted');
}

run_tests();

__DATA__

=== TEST 1: two days replayed with --close; every period recomputed
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $run = run_replay('--from', '2024-01-03', '--to', '2024-01-04',
                      '--close', scan_args());
--- request
GET /api/pattern-realtime/performance?period=today
--- response_json
{"period": "today", "total_predictions": 0, "verified": 0,
 "all_stats": null, "top_1pct": null, "top_5pct": null, "top_10pct": null,
 "long_stats": null, "short_stats": null}
--- post_request
summary_ok($main::run, 2);
like($main::run->{err}, qr/--close: posted the first minute of 2024-01-05/,
     '--close posted the next day');
my @items = check_all_periods('feed clock on 2024-01-05 04:01 ET');
is(scalar(grep { $_->{verification} eq 'pending' } @items), 0,
   'nothing pending after --close');
ok(@items > 500, scalar(@items) . ' predictions in two days');
my @p = table_problems($main::run);
ok(!@p, "the command's table is /performance") or diag(join "\n", @p, $main::run->{out});



=== TEST 2: the same record on a clock far after the replay
--- config
    location / {
        pattern_rt_api;
    }
--- init
engine_config(clock => '2025-03-01T15:00:00Z');
engine_restart();
wait_until(sub { call_api('GET', '/health')->{code} == 200 }, 10, 'the engine');
--- request eval
["GET /api/pattern-realtime/performance?period=1h",
 "GET /api/pattern-realtime/performance?period=week&horizon=30",
 "GET /api/pattern-realtime/performance?period=all&horizon=5"]
--- response_json eval
[q{{"period": "1h", "total_predictions": 0, "verified": 0, "pending": 0,
    "all_stats": null, "top_1pct": null, "long_stats": null,
    "short_stats": null}},
 q{{"period": "week", "horizon": 30, "total_predictions": 0,
    "all_stats": null, "top_10pct": null}},
 q{{"period": "all", "horizon": 5, "all_stats": {"n": "~any"}}}]
--- post_request
check_all_periods('fixed clock 2025-03-01');
engine_config(clock => 'feed');



=== TEST 3: the last day without --close: its open horizons stay pending
--- config
    location / {
        pattern_rt_api;
    }
--- init
engine_config(clock => 'feed');
engine_restart(fresh => 1);
wait_until(sub { call_api('GET', '/health')->{code} == 200 }, 10, 'the engine');
our $run = run_replay('--from', '2024-01-05', scan_args());
--- request
GET /health
--- response_json_path
market.now eq 2024-01-06T01:00:00Z
store.pending > 0
--- post_request
summary_ok($main::run, 1);
my @items = check_all_periods('feed clock at 20:00 ET');
my @pending = grep { $_->{verification} eq 'pending' } @items;
my $end = iso_ms('2024-01-06T01:00:00Z');
# due at the latest once the clock passes the end of the t+h minute plus
# the 60 s grace (SPEC 6)
my @early = grep { iso_ms($_->{bar_time}) + $_->{horizon} * 60000 + 120000 <= $end } @pending;
ok(@pending > 0 && !@early, scalar(@pending) . ' pending, all with t+h+1min+grace after the clock')
    or diag(join "\n", map { "$_->{symbol} $_->{bar_time} h=$_->{horizon}" } @early);
like($main::run->{err}, qr/note: ${\ scalar @pending} predictions are still pending/,
     'the command says how many stay pending and why');
my @p = table_problems($main::run);
ok(!@p, "the command's table is /performance") or diag(join "\n", @p, $main::run->{out});



=== TEST 4: token auth: the feed scope posts, read routes stay open
--- http_config
    pattern_rt_auth on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
--- config
    location / {
        pattern_rt_api;
    }
--- init
our %runs = (
    none => run_replay('--from', '2024-01-05', '--quiet'),
    read => run_replay('--from', '2024-01-05', '--token', mint('read')),
    feed => run_replay('--from', '2024-01-05', '--token', mint('feed')),
);
{
    local $ENV{PATTERN_RT_TOKEN} = mint('feed');
    $runs{env} = run_replay('--from', '2024-01-05');
}
--- request
GET /health
--- post_request
is($runs{none}{code}, 1, 'no token: exit 1');
like($runs{none}{err}, qr{POST /bars: HTTP 401 E_UNAUTHORIZED}, 'no token: the 401 is shown');
is($runs{read}{code}, 1, 'a read token: exit 1');
like($runs{read}{err}, qr{POST /bars: HTTP 403 E_FORBIDDEN}, 'a read token: 403');
is($runs{feed}{code}, 0, 'a feed token: exit 0') or diag($runs{feed}{err});
like($runs{feed}{out}, qr/^replay: 1 days, (\d+) bars posted, \1 accepted/m, 'a feed token: posted');
is($runs{env}{code}, 0, 'PATTERN_RT_TOKEN: exit 0') or diag($runs{env}{err});
unlike(join('', map { $_->{out} . $_->{err} } values %runs), qr/prt1\./,
       'no token is ever printed');



=== TEST 5: read API closed too: the command needs read and feed
--- http_config
    pattern_rt_auth on;
    pattern_rt_auth_read on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $feed_only = run_replay('--from', '2024-01-05', '--token', mint('feed'));
open my $fh, '>', "$TMP/token" or die "$TMP/token: $!\n";
print {$fh} mint('read-feed'), "\n";
close $fh;
our $both = run_replay('--from', '2024-01-05', '--token-file', "$TMP/token",
                       '--scan', 'SRWX', '--every', 240);
--- request
GET /health
--- more_headers eval
"Authorization: Bearer " . mint('read')
--- post_request
is($feed_only->{code}, 1, 'a feed token cannot read /health: exit 1');
like($feed_only->{err}, qr{GET /health: HTTP 403 E_FORBIDDEN}, 'the 403 is shown');
is($both->{code}, 0, 'a read-feed token from --token-file: exit 0') or diag($both->{err});
like($both->{out}, qr/ (\d+) jobs \(/, 'and scans');



=== TEST 6: bad arguments exit 2, no engine exits 1
--- config
    location / {
        pattern_rt_api;
    }
--- init
our %bad = (
    'missing --from' => [],
    'bad date' => ['--from', '2024-13-01'],
    'horizon outside H' => ['--from', '2024-01-05', '--scan', 'AAA', '--every', 5, '--horizon', 11],
    '--scan without --every' => ['--from', '2024-01-05', '--scan', 'AAA'],
    'bad symbol' => ['--from', '2024-01-05', '--scan', 'AA$', '--every', 5],
    'bad speed' => ['--from', '2024-01-05', '--speed', 'fast'],
    'unknown option' => ['--from', '2024-01-05', '--frobnicate', 1],
    'no file in range' => ['--from', '2023-01-03'],
    'bulk with scans' => ['--from', '2024-01-05', '--bulk', '--scan', 'AAA', '--every', 5],
    'not http' => ['--from', '2024-01-05', '--url', 'ftp://127.0.0.1:1'],
    'a user in the URL' => ['--from', '2024-01-05', '--url', 'http://u@127.0.0.1:1'],
);
our %got = map { $_ => run_replay(@{ $bad{$_} }) } keys %bad;
our $down = run_replay('--from', '2024-01-05', '--url', 'http://127.0.0.1:1');
our $down_tls = run_replay('--from', '2024-01-05', '--url', 'https://127.0.0.1:1');
--- request
GET /health
--- post_request
for my $case (sort keys %got) {
    is($got{$case}{code}, 2, "$case: exit 2") or diag($got{$case}{err});
    is($got{$case}{out}, '', "$case: nothing on stdout");
}
like($got{'horizon outside H'}{err}, qr/--horizon must be one of/, 'the horizon message');
like($got{'no file in range'}{err}, qr/no flat file/, 'the empty range message');
is($down->{code}, 1, 'no engine: exit 1');
like($down->{err}, qr/unreachable/, 'no engine: said so');
is($down_tls->{code}, 1, 'https, no engine: exit 1 (TLS is spoken, nobody answers)');
like($down_tls->{err}, qr/unreachable/, 'https, no engine: said so');



=== TEST 7: https: the replay through a TLS listener of nginx
--- http_config
    server {
        listen 127.0.0.1:$TEST_PRT_TLS_PORT ssl;
        server_name localhost;
        ssl_certificate $TEST_PRT_TLS_DIR/tls.crt;
        ssl_certificate_key $TEST_PRT_TLS_DIR/tls.key;
        location / {
            pattern_rt_api;
        }
    }
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $tls_url = "https://127.0.0.1:$ENV{TEST_PRT_TLS_PORT}";
our $tls = run_replay('--from', '2024-01-05', '--url', $tls_url,
                      '--cacert', "$TMP/tls.crt", '--scan', 'SRWX',
                      '--every', 240);
our $untrusted = run_replay('--from', '2024-01-05', '--url', $tls_url);
--- request
GET /health
--- post_request
is($tls->{code}, 0, 'https with the certificate trusted: exit 0') or diag($tls->{err});
like($tls->{out}, qr/^replay: 1 days, (\d+) bars posted, \1 accepted, 0 rejected/m,
     'every bar posted over TLS');
ok(($tls->{out} =~ / (\d+) jobs \(/)[0], 'and scans started and waited for over TLS')
    or diag($tls->{out});
is($untrusted->{code}, 1, 'a certificate nobody vouches for: exit 1');
like($untrusted->{err}, qr/certificate/i, 'the certificate is named as the reason');
like($untrusted->{err}, qr/unreachable/, 'and the engine said unreachable');
is($untrusted->{out}, '', 'nothing posted, nothing on stdout');
