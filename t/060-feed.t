# The live feed, POST /api/pattern-realtime/bars (SPEC 2.1, 6;
# docs/api-validation.md, docs/replay.md), through nginx on the demo
# fixture with the engine's clock fixed at 2024-01-05 15:00 New York time:
# malformed bodies, every kind of bad event rejected with its index and
# reason while the good events of the same batch are stored, oversized
# batches refused whole, corrected and out-of-order bars, and the feed
# scope under token auth. What the store holds is read back through
# /api/historical/ohlc.

use lib 't/lib';
use PatternRT::Test;
use PatternRT::Tokens qw(test_secret mint);
use File::Temp qw(tempdir);
use JSON::PP ();

use PatternRT::Jobs qw(call_api ny_instant);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo";

our $DATE = '2024-01-05';                  # a Friday, a fixture day
our $JSON = JSON::PP->new->canonical;
our $BARS = '/api/pattern-realtime/bars';
our $HAVE_AUTH = do {
    my $found = 0;
    for my $f (glob 'ngx_module/*.c') {
        open my $fh, '<', $f or next;
        local $/;
        $found ||= <$fh> =~ /"pattern_rt_auth"/;
    }
    $found;
};

engine_config(clock => '2024-01-05T20:00:00Z', data => "$FIXTURES/demo");

# Bar start in ms of New York wall time (date, HH:MM).
sub start_ms {
    my ($date, $hhmm) = @_;

    return ny_instant($date, $hhmm) * 1000;
}

# A well-formed AM event; %o overrides fields (undef removes one).
sub event {
    my ($sym, $hhmm, %o) = @_;

    my $s = start_ms($o{date} // $DATE, $hhmm);
    my %e = (ev => 'AM', sym => $sym, v => 1200, o => 10.5, c => 10.75,
             h => 10.8, l => 10.4, s => $s, e => $s + 60000);
    delete $o{date};
    for my $k (keys %o) {
        if (defined $o{$k}) {
            $e{$k} = $o{$k};
        } else {
            delete $e{$k};
        }
    }
    return \%e;
}

sub post_bars {
    my ($body, @headers) = @_;

    return call_api('POST', $BARS, ref $body ? $JSON->encode($body) : $body,
                    @headers);
}

# The candles of a symbol on a date: { 'HH:MM' => {open, high, low, close,
# volume} }, or undef when the engine has no bar of that day.
sub candles {
    my ($sym, $date) = @_;

    my $r = call_api('GET', "/api/historical/ohlc/$sym?date=" . ($date // $DATE)
                     . '&start_time=00:00&end_time=23:59');
    return undef if $r->{code} == 404;
    die "ohlc $sym: $r->{code} $r->{body}\n" unless $r->{code} == 200;
    return { map { $_->{time} => $_ } @{ $r->{json}{candles} } };
}

sub ingested {
    return call_api('GET', '/health')->{json}{feed}{bars_ingested};
}

# Auth: a secret and tokens minted by PatternRT::Tokens.
our $TMP = tempdir('prt-feed-XXXXXX', TMPDIR => 1, CLEANUP => 1);
test_secret($TMP);

# The batch of TEST 3: [event, expected reason or undef when accepted].
our @CASES = (
    [event('ZZGOOD', '14:00'), undef],
    [event('ZZBAD', '14:00', c => undef), qr/^c is required$/],
    [event('ZZBAD', '14:00', v => '1200'), qr/^v must be a number \(got "1200"\)/],
    [event('ZZBAD', '14:00', foo => 1), qr/^unknown field "foo"$/],
    [event('ZZBAD', '14:00', ev => 'A'), qr/^ev must be "AM" \(got "A"\)$/],
    [event('zzbad', '14:00'), qr/^sym "zzbad" is not a valid symbol$/],
    [event('ZZBAD', '14:00', o => -10.5), qr/^prices must be > 0/],
    [event('ZZBAD', '14:00', l => 0), qr/^prices must be > 0/],
    [event('ZZBAD', '14:00', h => 10, l => 10.9), qr/^h 10 is below o, c or l$/],
    [event('ZZBAD', '14:00', e => start_ms($DATE, '14:00') + 59999),
     qr/^e must be s \+ 60000/],
    [event('ZZBAD', '14:00', s => start_ms($DATE, '14:00') + 1000,
           e => start_ms($DATE, '14:00') + 61000),
     qr/^s must be a whole minute in ms/],
    [event('ZZBAD', '14:00', date => '2025-01-06'),
     qr/^bar time after the accepted window around the engine clock$/],
    [event('ZZBAD', '14:00', date => '2023-01-05'),
     qr/^bar time before the accepted window around the engine clock$/],
    [event('ZZBAD', '10:00', date => '2023-12-31'),
     qr/^not a trading day \(weekend\)$/],
    [event('ZZBAD', '10:00', date => '2024-01-01'),
     qr/^not a trading day \(New Year's Day\)$/],
    [event('ZZBAD', '03:00'), qr/^bar starts outside 04:00-20:00 New York time$/],
    [event('ZZGOOD', '14:01', v => 0), undef],
    [5, qr/^event is not a JSON object$/],
    [event('ZZBAD', '14:00', s => undef), qr/^s is required$/],
    [event('ZZGOOD', '14:02', av => 99, op => 1.5, vw => 10.6, a => 10.6,
           z => 12, otc => JSON::PP::false), undef],
);

# TEST 4: one event over the limit of 5; the last one would change a
# fixture bar
our @SIX = ((map { event('ZZBIG', sprintf('14:%02d', $_)) } 0 .. 4),
            event('SRWX', '10:00', o => 1, h => 1, l => 1, c => 1));

run_tests();

__DATA__

=== TEST 1: malformed JSON is a 400
--- config
    location / {
        pattern_rt_api;
    }
--- request
POST /api/pattern-realtime/bars
[{"ev":"AM","sym":"ZZBAD",
--- error_code: 400
--- response_json
{"error": {"code": "E_BAD_REQUEST", "message": "~/^malformed JSON/"}}



=== TEST 2: not an array is a 400, an empty array an empty batch
--- config
    location / {
        pattern_rt_api;
    }
--- request eval
["POST /api/pattern-realtime/bars\n{\"ev\":\"AM\"}",
 "POST /api/pattern-realtime/bars\n\"AM\"",
 "POST /api/pattern-realtime/bars\n[]"]
--- error_code eval
[400, 400, 200]
--- response_json eval
[q{{"error": {"code": "E_BAD_REQUEST",
              "message": "request body must be a JSON array of Polygon AM events"}}},
 q{{"error": {"code": "E_BAD_REQUEST"}}},
 q{{"accepted": 0, "rejected": []}}]



=== TEST 3: every bad event kind is rejected with its index and reason; the good ones are stored
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $before = ingested();
our $r = post_bars([map { $_->[0] } @CASES]);
--- request
GET /health
--- post_request
is($r->{code}, 200, 'the batch is answered 200') or diag($r->{body});
my @good = grep { !defined $CASES[$_][1] } 0 .. $#CASES;
is($r->{json}{accepted}, scalar @good, scalar(@good) . ' accepted');
my %rej = map { $_->{index} => $_->{reason} } @{ $r->{json}{rejected} };
is(join(',', map { $_->{index} } @{ $r->{json}{rejected} }),
   join(',', grep { defined $CASES[$_][1] } 0 .. $#CASES),
   'exactly the bad ones are rejected, in batch order');
for my $i (grep { defined $CASES[$_][1] } 0 .. $#CASES) {
    like($rej{$i} // '(accepted)', $CASES[$i][1], "event $i: the reason");
}
is(ingested() - $before, scalar @good, 'bars_ingested counts the accepted ones only');
my $c = candles('ZZGOOD');
is_deeply([sort keys %$c], ['14:00', '14:01', '14:02'], 'the good bars are stored');
is_deeply([@{ $c->{'14:02'} }{qw(open high low close volume)}], [10.5, 10.8, 10.4, 10.75, 1200],
          'with their values (extra Polygon fields ignored)');
is($c->{'14:01'}{volume}, 0, 'a volume of 0 is a bar');
for my $date ($DATE, '2025-01-06', '2023-01-05', '2023-12-31', '2024-01-01') {
    is(candles('ZZBAD', $date), undef, "nothing of ZZBAD stored on $date");
}



=== TEST 4: more than pattern_rt_max_bar_events events: 413 and nothing stored
--- http_config
    pattern_rt_max_bar_events 5;
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $sym = 'SRWX';                            # a fixture ticker
our $old = candles($sym)->{'10:00'} or die "SRWX has no 10:00 bar\n";
our $before = ingested();
--- request eval
["POST /api/pattern-realtime/bars\n" . $JSON->encode(\@SIX),
 "POST /api/pattern-realtime/bars\n" . $JSON->encode([@SIX[0 .. 4]])]
--- error_code eval
[413, 200]
--- response_json eval
[q{{"error": {"code": "E_TOO_LARGE", "message": "batch has 6 events; the limit is 5"}}},
 q{{"accepted": 5, "rejected": []}}]
--- post_request
is_deeply(candles($sym)->{'10:00'}, $old, "$sym 10:00 unchanged by the refused batch");
is(ingested() - $before, 5, 'only the second batch was ingested');
is(scalar keys %{ candles('ZZBIG') }, 5, 'the batch at the limit is stored');



=== TEST 5: a corrected bar for a minute replaces the old one
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $first = post_bars([event('ZZFIX', '14:10'), event('SRWX', '10:00', o => 2, h => 3, l => 1, c => 2.5, v => 7)]);
our $fix = post_bars([event('ZZFIX', '14:10', o => 20, h => 22, l => 19, c => 21, v => 5)]);
--- request
GET /api/historical/ohlc/ZZFIX?date=2024-01-05&start_time=14:00&end_time=15:00
--- response_json
{"candles": [{"time": "14:10", "open": 20, "high": 22, "low": 19, "close": 21, "volume": 5}]}
--- post_request
is($first->{json}{accepted}, 2, 'first version accepted');
is($fix->{json}{accepted}, 1, 'correction accepted');
is_deeply([@{ candles('SRWX')->{'10:00'} }{qw(open high low close volume)}], [2, 3, 1, 2.5, 7],
          'a fixture bar is replaced the same way');
my $twice = post_bars([event('ZZDUP', '14:20', c => 10.5), event('ZZDUP', '14:20', c => 10.7)]);
is($twice->{json}{accepted}, 2, 'the same minute twice in one batch: both accepted');
is(candles('ZZDUP')->{'14:20'}{close}, 10.7, 'the later one in the batch wins');



=== TEST 6: out-of-order bars land in time order
--- config
    location / {
        pattern_rt_api;
    }
--- init
our @a = (post_bars([map { event('ZZORD', $_) } qw(14:05 14:03 14:04)])->{json}{accepted},
          post_bars([event('ZZORD', '14:09')])->{json}{accepted},
          post_bars([event('ZZORD', '14:07'), event('ZZORD', '09:31')])->{json}{accepted});
--- request
GET /api/historical/ohlc/ZZORD?date=2024-01-05&start_time=00:00&end_time=23:59
--- response_json_path
candles.length == 6
candles[0].time eq 09:31
candles[1].time eq 14:03
candles[2].time eq 14:04
candles[3].time eq 14:05
candles[4].time eq 14:07
candles[5].time eq 14:09
--- post_request
is("@a", '3 1 2', 'every bar accepted');



=== TEST 7: the feed needs the feed scope under pattern_rt_auth
--- http_config eval
$HAVE_AUTH ? "pattern_rt_auth on;\npattern_rt_auth_secret $ENV{TEST_PRT_SECRET_FILE};" : ''
--- config
    location / {
        pattern_rt_api;
    }
--- init
return unless $HAVE_AUTH;
our $body = [event('ZZAUTH', '14:30')];
our %r = (
    none => post_bars($body),
    read => post_bars($body, Authorization => 'Bearer ' . mint('read')),
    admin => post_bars($body, Authorization => 'Bearer ' . mint('admin')),
    expired => post_bars($body, Authorization => 'Bearer ' . mint('feed', time - 10)),
    forged => post_bars($body, Authorization => 'Bearer ' . substr(mint('feed'), 0, -2) . 'AA'),
);
--- request
GET /api/historical/ohlc/ZZAUTH?date=2024-01-05
--- error_code: 404
--- post_request
SKIP: {
skip 'no pattern_rt_auth in the module (auth work not there yet)', 13 unless $HAVE_AUTH;
is($r{none}{code}, 401, 'no token: 401');
is($r{none}{json}{error}{code}, 'E_UNAUTHORIZED', 'no token: E_UNAUTHORIZED');
is($r{read}{code}, 403, 'a read token: 403');
is($r{admin}{code}, 403, 'an admin token: 403');
is($r{expired}{code}, 401, 'an expired feed token: 401');
like($r{expired}{json}{error}{message} // '', qr/expired/, 'an expired feed token: said so');
is($r{forged}{code}, 401, 'a forged feed token: 401');
is(candles('ZZAUTH'), undef, 'nothing stored without a valid feed token');
my $ok = post_bars($body, Authorization => 'Bearer ' . mint('feed'));
is($ok->{code}, 200, 'a feed token: 200');
is($ok->{json}{accepted}, 1, 'a feed token: accepted');
my $both = post_bars([event('ZZAUTH', '14:31')], Authorization => 'Bearer ' . mint('read-feed-admin'));
is($both->{json}{accepted}, 1, 'a token with every scope: accepted');
is(scalar keys %{ candles('ZZAUTH') }, 2, 'both stored');
}
