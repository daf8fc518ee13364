# The WebSocket channel against real client libraries, not our own frames
# (SPEC 5.3, docs/websocket.md): Python's `websockets` (Debian
# python3-websockets 10.4) and Node's `ws` 8 (t/clients/package.json),
# through t/clients/ws_client.{py,js}, which subscribe, record every message
# and stop on a condition; this file checks the records.
#
# The engine runs on the demo fixture with the `feed` clock: the test posts
# the fixture's own bars of 2024-01-05 minute by minute through POST /bars,
# so the scan time and every price_update and verification event come
# when the test says (SPEC 6). For each client library:
#
#   jobs          the client POSTs /run itself and subscribes at once
#                 (since 0, as a fragmented text message, after a ping frame
#                 and a {"type":"ping"}): progress -> result -> job_complete
#                 in order with increasing seq, each matching GET /job; a
#                 second client drops its connection midway and comes back
#                 with since = the last seq it saw: the union is the whole
#                 stream, nothing lost, nothing twice
#   verification  bars posted after the job: price_update (minutes_remaining
#                 down to 0) and verification events on the job stream and
#                 on the verifications / prices channels, checked against the
#                 flat file's closes and GET /job; again one client reconnects
#                 midway with since
#
# Node's client needs t/clients/node_modules (scripts/install-deps runs
# `npm ci` there); without it the Node blocks skip and say so.

use lib 't/lib';
use PatternRT::Test;
use JSON::PP ();

use PatternRT::Jobs qw(call_api get_job wait_job ny_instant);
use PatternRT::WSEvents qw(
    flat_day post_minute feed_clock price_event_count replay_events
    client_command start_client wait_record wait_ready finish_client
    client_messages client_events seq_problems job_stream_problems
    verification_problems wait_connected
);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo" && -d "$FIXTURES/demo-flat";

our @FLAT = sort glob "$FIXTURES/demo-flat/*.csv.gz";
our $DAY = flat_day($FLAT[-1]);              # the fixture's last day
our @TICKERS = sort keys %{ $DAY->{tickers} };
our $OPEN_SCAN = ny_instant($DAY->{date}, '10:00');
our $HORIZON = 5;                            # minutes: several price updates
our $MINUTES = 10;                           # bars posted after a job: past
                                             #   t+h and its 60 s grace
our $JSON = JSON::PP->new->canonical;
our %JOB;                                    # client kind -> the job it ran

# Small chunks: a job sends many progress events.
engine_config(data => "$FIXTURES/demo", clock => 'feed',
              args => ['--scan_chunk', 4]);

sub ws_url {
    return 'ws://127.0.0.1:' . server_port() . '/ws/pattern-realtime';
}

sub problems_ok {
    my ($label, @p) = @_;

    ok(!@p, $label) or diag(join "\n", @p[0 .. ($#p < 14 ? $#p : 14)],
                            @p > 15 ? ('... ' . (@p - 15) . ' more') : ());
}

sub ran_ok {
    my ($run, $label) = @_;

    my @last = grep { defined } @{ $run->{records} }[-5 .. -1];
    is($run->{code}, 0, "$label: the $run->{kind} client exited 0")
        or diag($run->{err} . join("\n", map { substr $JSON->encode($_), 0, 300 }
                                   @last));
}

# The engine clock on a trading minute of the fixture's day: the first
# time, the 10:00 bars are posted (the feed clock starts at 1970).
sub clock_on_trading_minute {
    wait_connected(worker_pids());
    post_minute($DAY, $OPEN_SCAN) if feed_clock() < $OPEN_SCAN + 60;
    return feed_clock();
}

sub session_problems {
    my ($run) = @_;

    my (%max, %min);
    for my $pair (client_messages($run)) {
        my ($s, $m) = @$pair;
        next unless defined $m->{seq};
        $max{$s} = $m->{seq} if !defined $max{$s} || $m->{seq} > $max{$s};
        $min{$s} = $m->{seq} if !defined $min{$s} || $m->{seq} < $min{$s};
    }
    my @p;
    push @p, 'the client never reconnected (no session 2)' unless $min{2};
    push @p, 'no event before the drop' unless $max{1};
    push @p, "session 2 starts at seq $min{2}, not after session 1's last $max{1}"
        if $min{2} && $max{1} && $min{2} <= $max{1};
    my @subs = grep { $_->[1]{type} eq 'subscribed' } client_messages($run);
    push @p, 'not one subscribed answer per session ('
             . join(',', map { $_->[0] } @subs) . ')'
        unless join(',', map { $_->[0] } @subs) eq '1,2';
    return @p;
}

# Block body: the job stream through the client library $kind.
sub job_phase {
    my ($kind) = @_;

    my ($cmd, $why) = client_command($kind);
    SKIP: {
        skip "$kind client: $why", 1 unless $cmd;
        my $clock = clock_on_trading_minute();
        my $body = $JSON->encode({symbols => \@TICKERS, horizon => $HORIZON});

        # the uninterrupted client starts the job and subscribes at once
        my $a = start_client($kind, ws_url(), '--run', $body, '--ping',
                             '--fragment', '--until', 'job_complete');
        my $id = wait_record($a, 'job', 15)->{job_id};
        # the second one comes while the job may still run, drops midway
        my $b = start_client($kind, ws_url(), '--job', $id, '--since', 0,
                             '--drop-after', 8, '--until', 'job_complete');
        my $ra = finish_client($a, 30);
        my $rb = finish_client($b, 30);
        my $job = wait_job($id, 30);
        my @history = replay_events(server_port(),
                                    sub { $_[0]{type} eq 'job_complete' },
                                    job_id => $id);

        ran_ok($ra, "$kind, subscribing right after POST /run");
        ran_ok($rb, "$kind, reconnecting with since");
        ok(@{ $job->{results} } >= 10,
           scalar(@{ $job->{results} }) . ' results to stream (scan at '
           . PatternRT::Jobs::iso_z($clock) . ')');
        my ($pf) = grep { $_->{kind} eq 'pong_frame' } @{ $ra->{records} };
        is($pf && $pf->{payload}, "ping-from-$kind",
           "$kind: a ping frame from the library is answered with its payload");
        my ($pm) = grep { $_->{kind} eq 'pong_message' } @{ $ra->{records} };
        is($pm && $pm->{message}{type}, 'pong',
           "$kind: {\"type\":\"ping\"} is answered pong");
        my ($first) = grep { $_->[1]{type} eq 'subscribed' } client_messages($ra);
        is($first && $first->[1]{job_id}, $id,
           "$kind: the fragmented subscribe is answered subscribed");

        problems_ok("$kind: seq increases, nothing twice",
                    seq_problems([client_messages($ra)]));
        problems_ok("$kind: progress -> result -> job_complete as GET /job says, "
                    . 'the same as the stream history',
                    job_stream_problems([client_events($ra)], $job, \@history));
        my @prog = grep { $_->{type} eq 'progress' } client_events($ra);
        ok(@prog >= 2, scalar(@prog) . ' progress events (scan_chunk 4)');

        problems_ok("$kind reconnecting: two sessions, the second after the first",
                    session_problems($rb));
        problems_ok("$kind reconnecting: seq increases, nothing twice",
                    seq_problems([client_messages($rb)]));
        problems_ok("$kind reconnecting: the union of both sessions is the "
                    . 'whole stream',
                    job_stream_problems([client_events($rb)], $job, \@history));
        $JOB{$kind} = { id => $id, last_seq => $history[-1]{seq} };
    }
}

# Block body: verification-phase events through the client library $kind.
sub verification_phase {
    my ($kind) = @_;

    my ($cmd, $why) = client_command($kind);
    SKIP: {
        skip "$kind client: $why", 1 unless $cmd;
        skip "$kind: the job block did not run", 1 unless $JOB{$kind};
        my ($id, $since) = @{ $JOB{$kind} }{qw(id last_seq)};
        my $before = get_job($id);
        my $n = @{ $before->{results} };
        my $c = feed_clock();
        my @posted = map { $c + 60 * $_ } 0 .. $MINUTES - 1;
        my $prices = price_event_count($before->{results}, $DAY, \@posted);

        my %cl = (
            job => start_client($kind, ws_url(), '--job', $id, '--since', $since,
                                '--until', "verified:$n"),
            again => start_client($kind, ws_url(), '--job', $id, '--since', $since,
                                  '--drop-after', $n, '--until', "verified:$n"),
            verifications => start_client($kind, ws_url(), '--channel',
                                          'verifications', '--until', "events:$n"),
            prices => start_client($kind, ws_url(), '--channel', 'prices',
                                   '--until', "events:$prices"),
        );
        wait_ready($_, 15) for values %cl;
        for my $start (@posted) {
            post_minute($DAY, $start);
            select undef, undef, undef, 0.2;  # events flow while `again` reconnects
        }
        my %run = map { $_ => finish_client($cl{$_}, 30) } keys %cl;
        my $after = get_job($id);
        my @results = @{ $after->{results} };

        ran_ok($run{$_}, "$kind $_") for sort keys %run;
        my @open = grep { !defined $_->{verified_at} } @results;
        ok(!@open, "every prediction of the job is verified ($n)")
            or diag(scalar(@open) . ' still pending');
        my @posted_ok = @posted;
        problems_ok("$kind job stream: price_update and verification per prediction, "
                    . 'as the bars and GET /job say',
                    verification_problems([client_events($run{job})], \@results,
                                          $DAY, \@posted_ok));
        problems_ok("$kind job stream: seq increases, nothing twice",
                    seq_problems([client_messages($run{job})]));
        problems_ok("$kind verifications channel: one verification per prediction",
                    verification_problems([client_events($run{verifications})],
                                          \@results, $DAY, \@posted_ok,
                                          'verifications'));
        problems_ok("$kind prices channel: the price updates and the final ones",
                    verification_problems([client_events($run{prices})], \@results,
                                          $DAY, \@posted_ok, 'prices'));
        my @sub = grep { $_->[1]{type} eq 'subscribed' } client_messages($run{job});
        is($sub[0] && $sub[0][1]{replayed}, 0,
           'since = the seq of job_complete: nothing replayed');

        problems_ok("$kind reconnecting midway: two sessions",
                    session_problems($run{again}));
        my $seqs = sub { join ',', map { $_->{seq} } client_events($_[0]) };
        is($seqs->($run{again}), $seqs->($run{job}),
           "$kind reconnecting midway: the same events as the uninterrupted "
           . 'client (no loss, no duplicates)');
        is($JSON->encode([client_events($run{again})]),
           $JSON->encode([client_events($run{job})]),
           "$kind reconnecting midway: with the same bodies");
    }
}

run_tests();

__DATA__

=== TEST 1: python websockets: subscribe right after POST /run, fragmented subscribe and pings; reconnect with since
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
    location / {
        pattern_rt_api;
    }
--- post_request
job_phase('python');



=== TEST 2: python websockets: price_update and verification events on the job and on the channels; reconnect midway
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
    location / {
        pattern_rt_api;
    }
--- post_request
verification_phase('python');



=== TEST 3: node ws: subscribe right after POST /run, fragmented subscribe and pings; reconnect with since
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
    location / {
        pattern_rt_api;
    }
--- post_request
job_phase('node');



=== TEST 4: node ws: price_update and verification events on the job and on the channels; reconnect midway
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
    location / {
        pattern_rt_api;
    }
--- post_request
verification_phase('node');
