# The WebSocket channel under load and at its limits (SPEC 5.3,
# docs/websocket.md): slow readers, output bounds, the per-worker
# connection limit, fan-out over several workers, an nginx reload with
# clients connected, and the replay history's limit (E_GAP).
#
#   slow reader     a raw client that subscribes and never reads (small
#                   receive window, and a listen socket with a 4 KiB send
#                   buffer so the kernel cannot absorb megabytes) is closed
#                   with 1008 and counted in /health; a normal client on the
#                   same worker gets every job_complete on time
#   replay          a fast client replaying more frames than
#                   pattern_rt_ws_max_frames gets them all
#   limit           pattern_rt_ws_max_connections: the next handshake is
#                   503 E_BUSY; a slot frees when a client leaves
#   multi-worker    40 clients on 2 workers (checked in /proc) subscribed to
#                   one job all get every event, live
#   reload          clients get close 1001, come back with since and miss
#                   nothing, events posted meanwhile included
#   E_GAP           --event_history_per_stream 2: since older than the
#                   history, an engine restart (the connected clients are
#                   told, an old since after it)
#   pipelined       Python's `websockets` client sends 12 subscribes with
#                   since 0 back to back through small kernel buffers: every
#                   kept event of the 12 streams arrives, none twice, no
#                   close; a client asking the same and then not reading
#                   while live events come is still closed 1008
#
# The engine runs on the demo fixture with the `feed` clock; events come
# from jobs and from the fixture's bars posted through POST /bars.

use lib 't/lib';
use PatternRT::Test;
use JSON::PP ();
use Time::HiRes qw(time sleep);

use PatternRT::Jobs qw(call_api run_job get_job wait_job ny_instant);
use PatternRT::WebSocket;
use PatternRT::WSEvents qw(
    flat_day post_minute feed_clock price_event_count replay_events
    connections_per_process verification_problems wait_connected
    client_command start_client finish_client client_messages
);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo" && -d "$FIXTURES/demo-flat";

our @FLAT = sort glob "$FIXTURES/demo-flat/*.csv.gz";
our $DAY = flat_day($FLAT[-1]);
our @TICKERS = sort keys %{ $DAY->{tickers} };
our $OPEN_SCAN = ny_instant($DAY->{date}, '10:00');
our $HORIZON = 5;
our $MINUTES = 10;
our $JSON = JSON::PP->new->canonical;
our @ENGINE_ARGS = ('--scan_chunk', 4);

engine_config(data => "$FIXTURES/demo", clock => 'feed',
              args => [@ENGINE_ARGS]);

sub ws {
    my (%o) = @_;

    return PatternRT::WebSocket->connect(port => server_port(), %o);
}

sub show {
    my ($v) = @_;

    my $t = defined $v ? $JSON->encode($v) : 'nothing';
    return length $t > 400 ? substr($t, 0, 400) . '...' : $t;
}

sub problems_ok {
    my ($label, @p) = @_;

    ok(!@p, $label) or diag(join "\n", @p[0 .. ($#p < 14 ? $#p : 14)],
                            @p > 15 ? ('... ' . (@p - 15) . ' more') : ());
}

sub clock_on_trading_minute {
    wait_connected(worker_pids());
    post_minute($DAY, $OPEN_SCAN) if feed_clock() < $OPEN_SCAN + 60;
    return feed_clock();
}

# A finished job on every ticker of the fixture; returns (GET /job answer,
# the seq of its job_complete).
sub finished_job {
    clock_on_trading_minute();
    my $id = run_job({symbols => \@TICKERS, horizon => $HORIZON})->{job_id};
    my $job = wait_job($id, 30);
    my @events = replay_events(server_port(),
                               sub { $_[0]{type} eq 'job_complete' },
                               job_id => $id);
    return ($job, $events[-1]{seq});
}

# /health's nginx.websocket of the worker that answers (undef when absent).
sub ws_health {
    my $h = call_api('GET', '/health')->{json};
    return $h && $h->{nginx} && $h->{nginx}{websocket};
}

# Reads $w until $v more verification events and $f more final price
# updates came ($f defaults to $v); returns the messages with a seq (and a
# close or eof last, if one ended the wait).
sub read_verified {
    my ($w, $v, $timeout, $f) = @_;

    $f //= $v;
    my ($nv, $nf) = (0, 0);
    my @got = $v <= 0 && $f <= 0 ? () : $w->messages_until(sub {
        my ($m) = @_;
        $nv++ if ($m->{type} // '') eq 'verification';
        $nf++ if ($m->{type} // '') eq 'price_update'
                 && ($m->{price_update}{minutes_remaining} // -1) == 0;
        return $nv >= $v && $nf >= $f;
    }, $timeout);
    return grep { defined $_->{seq} || $_->{close} || $_->{eof} } @got;
}

sub counts {
    my (@events) = @_;

    my $v = grep { $_->{type} eq 'verification' } @events;
    my $f = grep { $_->{type} eq 'price_update'
                   && $_->{price_update}{minutes_remaining} == 0 } @events;
    return ($v, $f);
}

sub post_minutes {
    my (@starts) = @_;

    for my $s (@starts) {
        post_minute($DAY, $s);
        sleep 0.1;
    }
}

run_tests();

__DATA__

=== TEST 1: slow reader: closed with 1008 and counted; a normal client on the same worker gets everything on time
--- workers: 1
--- config
    # a second address with a tiny send buffer: what the slow client does
    # not read piles up in the module's queue, not in megabytes of kernel
    # buffers
    listen 127.0.0.2:$TEST_NGINX_PORT sndbuf=4k;
    location /ws/pattern-realtime {
        pattern_rt_websocket;
        pattern_rt_ws_max_output 256k;
        pattern_rt_ws_max_frames 64;
        pattern_rt_ws_close_timeout 1s;
    }
    location / {
        pattern_rt_api;
    }
--- post_request
clock_on_trading_minute();
my $slow = ws(host => '127.0.0.2', rcvbuf => 4096);
my $fast = ws();
is($slow->status, 101, 'the slow client is connected');
my (@late, @missing);
for my $i (1 .. 6) {
    my $id = run_job({symbols => \@TICKERS, horizon => 60})->{job_id};
    $slow->send_json({type => 'subscribe', job_id => $id, since => 0});
    $fast->send_json({type => 'subscribe', job_id => $id, since => 0});
    my $t0 = time;
    my @got = $fast->messages_until(
        sub { ($_[0]{type} // '') eq 'job_complete' }, 10);
    my $took = time - $t0;
    my ($done) = grep { ($_->{type} // '') eq 'job_complete' } @got;
    my $results = grep { ($_->{type} // '') eq 'result' } @got;
    if (!$done) {
        push @missing, "job $i: no job_complete (" . show($got[-1]) . ')';
    } elsif ($results != @{ $done->{results} }) {
        push @missing, "job $i: $results result events, job_complete has "
                       . scalar(@{ $done->{results} });
    }
    push @late, sprintf('job %d: %.2f s', $i, $took) if $took > 3;
}
ok(!@missing, 'the normal client gets every result and job_complete of 6 jobs')
    or diag(join "\n", @missing);
ok(!@late, 'each within 3 s of POST /run while the slow client is stuck')
    or diag(join "\n", @late);
ok($fast->alive(2), 'the normal client is still connected');

my $h = ws_health();
ok($h && ($h->{slow_closed} // 0) > 0,
   '/health nginx.websocket.slow_closed counts the slow client')
    or diag('nginx.websocket: ' . show($h));
# the close frame reaches it only if its window had room when it was sent:
# a client that never reads may just find the connection closed
my ($code, $reason, @before) = $slow->expect_close(10);
ok(($code // 0) == 1008 || $reason =~ /^eof/,
   'the slow client, reading at last, finds close 1008 or the end of the stream')
    or diag("$reason after " . scalar(@before) . ' frames');
ok(defined $slow->wait_eof(3), 'the server has closed the connection');
--- error_log
too slow



=== TEST 2: a fast client replaying more events than pattern_rt_ws_max_frames gets all of them
--- workers: 1
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
    location /ws/small-queue {
        pattern_rt_websocket;
        pattern_rt_ws_max_frames 16;
    }
    location / {
        pattern_rt_api;
    }
--- post_request
my ($job, $last) = finished_job();
my @history = replay_events(server_port(), sub { $_[0]{type} eq 'job_complete' },
                            job_id => $job->{job_id});
ok(@history > 16, scalar(@history) . ' events in the job stream (more than 16)');
my $w = ws(path => '/ws/small-queue');
$w->send_json({type => 'subscribe', job_id => $job->{job_id}, since => 0});
my @got = $w->messages_until(sub { ($_[0]{type} // '') eq 'job_complete' }, 10);
my ($close) = grep { $_->{close} || $_->{eof} } @got;
ok(!$close, 'the fast reader is not closed') or diag(show($close));
is(join(',', map { $_->{seq} } grep { defined $_->{seq} } @got),
   join(',', map { $_->{seq} } @history),
   'it receives the whole history, in order');



=== TEST 3: pattern_rt_ws_max_connections: the next handshake on the worker is 503 E_BUSY
--- workers: 1
--- http_config
    pattern_rt_ws_max_connections 3;
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
    location / {
        pattern_rt_api;
    }
--- post_request
my @c = map { ws() } 1 .. 3;
is(join(' ', map { $_->status } @c), '101 101 101', 'three connections: 101');
my $fourth = ws();
is($fourth->status, 503, 'the fourth: 503');
is($fourth->body_json && $fourth->body_json->{error}{code}, 'E_BUSY', 'E_BUSY')
    or diag($fourth->response->{body});
ok($_->alive(2), 'the first three still work') for @c;
$c[0]->send_close(1000);
my ($code) = $c[0]->expect_close(2);
is($code, 1000, 'one leaves (close handshake)');
$c[0]->wait_eof(2);
my $fifth;
wait_until(sub { $fifth = ws(); $fifth->status == 101 }, 3, 'a free slot');
is($fifth->status, 101, 'its slot is free again: 101');
my $h = ws_health();
ok($h && ($h->{refused} // 0) >= 1 && ($h->{connections} // -1) == 3,
   '/health nginx.websocket: refused counted, 3 connections')
    or diag('nginx.websocket: ' . show($h));



=== TEST 4: 40 subscribers spread over 2 workers all get every event of the job, live
--- workers: 2
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
    location / {
        pattern_rt_api;
    }
--- post_request
my ($job, $since) = finished_job();
my $n = @{ $job->{results} };
my @clients = map { ws() } 1 .. 40;
my $spread = connections_per_process(server_port(), worker_pids());
my @busy = grep { $spread->{$_} > 0 } keys %$spread;
ok(@busy == 2, 'the 40 connections are spread over both workers ('
               . join(', ', map { "$_: $spread->{$_}" } sort keys %$spread) . ')');
$_->send_json({type => 'subscribe', job_id => $job->{job_id}, since => $since})
    for @clients;
my @answers = map { $_->next_message(5) } @clients;
my @bad = grep { ($_->{type} // '') ne 'subscribed' || $_->{replayed} != 0 } @answers;
ok(!@bad, 'every subscribe answered subscribed, nothing to replay')
    or diag(show($bad[0]));

my $c = feed_clock();
my @posted = map { $c + 60 * $_ } 0 .. $MINUTES - 1;
post_minutes(@posted);
my $after = get_job($job->{job_id});
my $want = price_event_count($after->{results}, $DAY, \@posted) + $n;
my @lists = map { [read_verified($_, $n, 10)] } @clients;
my $ref = join ',', map { $_->{seq} // 'close' } @{ $lists[0] };
my @differ = grep { join(',', map { $_->{seq} // 'close' } @{ $lists[$_] }) ne $ref }
             0 .. $#lists;
ok(!@differ, 'all 40 received the same seq list')
    or diag('clients ' . join(' ', @differ) . ' differ from client 0');
is(scalar @{ $lists[0] }, $want,
   "$want events each: the price updates and verifications of $n predictions");
problems_ok('client 0: every event as the bars and GET /job say',
            verification_problems($lists[0], $after->{results}, $DAY, \@posted));
my @closed = grep { $lists[$_][-1] && !$lists[$_][-1]{seq} } 0 .. $#lists;
ok(!@closed, 'nobody was closed') or diag(show($lists[$closed[0]][-1]));
$_->send_close(1000) for @clients;
$_->wait_eof(2) for @clients;



=== TEST 5: nginx reload: connected clients get close 1001, reconnect with since and miss nothing
--- workers: 2
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
        pattern_rt_ws_close_timeout 1s;
    }
    location / {
        pattern_rt_api;
    }
--- post_request
my ($job, $since) = finished_job();
my $id = $job->{job_id};
my $n = @{ $job->{results} };
my @clients = map { ws() } 1 .. 6;
$_->send_json({type => 'subscribe', job_id => $id, since => $since}) for @clients;
my @ans = map { $_->next_message(5) } @clients;
is(scalar(grep { ($_->{type} // '') eq 'subscribed' } @ans), 6, 'six subscribers');

my $c = feed_clock();
my @posted = map { $c + 60 * $_ } 0 .. $MINUTES - 1;
post_minutes(@posted[0, 1]);                       # before the reload
my @first = map { [] } @clients;
for my $i (0 .. $#clients) {
    while (my $m = $clients[$i]->next_message(0.5)) {
        last if $m->{close} || $m->{eof};
        push @{ $first[$i] }, $m if defined $m->{seq};
    }
}
nginx_reload();
my (@codes, @last_seq);
for my $i (0 .. $#clients) {
    my ($code, $reason, @frames) = $clients[$i]->expect_close(5);
    push @codes, $code // 'none';
    # frames that came before the close are events too
    for my $f (grep { $_->{opcode} == 1 } @frames) {
        my $m = eval { $JSON->decode($f->{payload}) };
        push @{ $first[$i] }, $m if $m && defined $m->{seq};
    }
    $clients[$i]->send_close(1001);
    my @seqs = map { $_->{seq} } @{ $first[$i] };
    push @last_seq, @seqs ? $seqs[-1] : $since;
}
is("@codes", join(' ', (1001) x 6), 'every client gets close 1001 (going away)');
wait_connected(worker_pids());
post_minutes(@posted[2, 3]);                       # while they are away
my @again = map { ws() } @clients;
$again[$_]->send_json({type => 'subscribe', job_id => $id, since => $last_seq[$_]})
    for 0 .. $#again;
post_minutes(@posted[4 .. $#posted]);              # after they are back
my $after = get_job($id);
my @ref;
{
    my $w = ws();
    $w->send_json({type => 'subscribe', job_id => $id, since => $since});
    @ref = grep { defined $_->{seq} } read_verified($w, $n, 10);
}
problems_ok('the stream after job_complete is complete (reference)',
            verification_problems(\@ref, $after->{results}, $DAY, \@posted));
my @bad;
for my $i (0 .. $#again) {
    my $sub = $again[$i]->next_message(5);
    push @bad, "client $i: " . show($sub) unless ($sub->{type} // '') eq 'subscribed';
    my ($v, $f) = counts(@{ $first[$i] });
    my @rest = read_verified($again[$i], $n - $v, 10, $n - $f);
    my @union = (@{ $first[$i] }, grep { defined $_->{seq} } @rest);
    my $got = join ',', map { $_->{seq} } @union;
    my $want = join ',', map { $_->{seq} } @ref;
    push @bad, "client $i: " . scalar(@union) . ' events, want ' . scalar(@ref)
        unless $got eq $want;
}
ok(!@bad, 'each client: before the reload + after reconnecting = the whole stream')
    or diag(join "\n", @bad);



=== TEST 6: E_GAP: since older than the kept history; an engine restart tells the subscribers and refuses old seqs
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
    location / {
        pattern_rt_api;
    }
--- init
engine_config(args => [@ENGINE_ARGS, '--event_history_per_stream', 2]);
engine_restart();
wait_connected(worker_pids());
--- post_request
clock_on_trading_minute();
# a subscriber during the job sees the stream's last events live
my $live = ws();
my $id = run_job({symbols => \@TICKERS, horizon => $HORIZON})->{job_id};
$live->send_json({type => 'subscribe', job_id => $id});
my @seen = grep { defined $_->{seq} }
           $live->messages_until(sub { ($_[0]{type} // '') eq 'job_complete' }, 10);
my $job = wait_job($id, 30);

my $w = ws();
# the newest kept event, from the engine's own answer
$w->send_json({type => 'subscribe', job_id => $id});
my $first = $w->next_message(3);
my $last = $first && $first->{last_seq};
ok($last, 'subscribed names the newest kept seq (last_seq)') or diag(show($first));
$w->send_json({type => 'subscribe', job_id => $id, since => 1});
my @m = ($w->next_message(3), $w->next_message(3));
is($m[0] && $m[0]{type}, 'subscribed', 'since 1: subscribed first') or diag(show($m[0]));
ok($m[1] && $m[1]{type} eq 'error' && $m[1]{code} eq 'E_GAP' && $m[1]{job_id} eq $id,
   'since 1: then {"type":"error","code":"E_GAP"} naming the job') or diag(show($m[1]));
ok($w->alive(2), 'the connection stays open after E_GAP');
SKIP: {
    skip 'the live subscriber did not see the last 3 events of the job', 1
        unless @seen >= 3 && $seen[-1]{seq} == $last;
    my @tail = @seen[-3 .. -1];
    $w->send_json({type => 'subscribe', job_id => $id, since => $tail[0]{seq}});
    my @r = $w->messages_until(sub { ($_[0]{type} // '') eq 'job_complete' }, 3);
    is(join(',', map { $_->{type} eq 'subscribed' ? 'subscribed'
                                                  : $_->{seq} // show($_) } @r),
       join(',', 'subscribed', map { $_->{seq} } @tail[1, 2]),
       'since = the third-to-last seq: the two kept events, no E_GAP');
}
$w->send_json({type => 'subscribe', job_id => $id, since => $last});
my $s = $w->next_message(3);
is_deeply([$s && @$s{qw(type replayed)}], ['subscribed', 0],
          'since = the last seq: subscribed, nothing replayed');
ok(!$w->next_message(0.5), 'and no E_GAP');

# the engine restarts under a subscriber
my $old = $last;
engine_config(args => [@ENGINE_ARGS]);
engine_restart();
my $told = $w->next_message(10);
ok($told && $told->{type} eq 'error' && $told->{code} eq 'E_GAP',
   'a subscriber is told E_GAP when the engine restarts') or diag(show($told));
wait_connected(worker_pids());
my $w2 = ws();
$w2->send_json({type => 'subscribe', job_id => $id, since => $old});
@m = ($w2->next_message(5), $w2->next_message(3));
is($m[0] && $m[0]{type}, 'subscribed', 'after the restart, an old since: subscribed')
    or diag(show($m[0]));
ok($m[1] && $m[1]{type} eq 'error' && $m[1]{code} eq 'E_GAP',
   'after the restart, an old since: E_GAP (the history of that run is gone)')
    or diag(show($m[1]));
$w2->send_json({type => 'subscribe', job_id => $id});
$s = $w2->next_message(3);
is($s && $s->{type}, 'subscribed', 'without since: subscribed');
ok(!$w2->next_message(0.5), 'without since: no E_GAP');



=== TEST 7: 12 subscribes with since 0 pipelined by a real client through small buffers: every kept event replayed, no close; a slow reader is still closed
--- workers: 1
--- config
    # small kernel buffers on both sides: the replays wait in the module's
    # queue, not in the kernel, however fast the client reads
    listen 127.0.0.2:$TEST_NGINX_PORT sndbuf=4k;
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
    location /ws/small-queue {
        pattern_rt_websocket;
        pattern_rt_ws_max_output 128k;
        pattern_rt_ws_max_frames 32;
    }
    location / {
        pattern_rt_api;
    }
--- post_request
my ($cmd, $why) = client_command('python');
SKIP: {
    skip "python client: $why", 6 unless $cmd;
    clock_on_trading_minute();
    my @ids = map { run_job({symbols => \@TICKERS, horizon => 60})->{job_id} }
              1 .. 12;
    wait_job($_, 30) for @ids;
    # what the engine keeps of each job stream, through the default location
    my %history = map {
        my $id = $_;
        ($id => [map { $_->{seq} } replay_events(server_port(),
                     sub { $_[0]{type} eq 'job_complete' }, job_id => $id)]);
    } @ids;
    my $total = 0;
    $total += @{ $history{$_} } for @ids;
    ok($total > 10 * 32, "$total kept events in the 12 job streams, more than "
       . '10 times pattern_rt_ws_max_frames (32)');
    my $before = ws_health()->{slow_closed};

    my $url = 'ws://127.0.0.2:' . server_port() . '/ws/small-queue';
    my $c = start_client('python', $url, (map { ('--job', $_) } @ids),
                         '--since', 0, '--until', "events:$total",
                         '--rcvbuf', 4096, '--timeout', 60);
    my $run = finish_client($c, 90);
    is($run->{code}, 0, 'the client got them all and was not closed')
        or diag($run->{err} . substr($JSON->encode([
            grep { defined } @{ $run->{records} }[-3 .. -1]]), 0, 1000));
    my (%got, @answers);
    for my $pair (client_messages($run)) {
        my $m = $pair->[1];
        push @answers, $m if ($m->{type} // '') eq 'subscribed';
        push @{ $got{$m->{job_id}} }, $m->{seq} if defined $m->{seq};
    }
    is(scalar @answers, 12, 'twelve subscribed answers');
    my @bad = grep { join(',', @{ $got{$_} || [] }) ne join(',', @{ $history{$_} }) }
              @ids;
    ok(!@bad, 'each job: exactly its kept events, in order, nothing twice')
        or diag(join "\n", map { "$_: got " . scalar(@{ $got{$_} || [] })
                                 . ' of ' . scalar(@{ $history{$_} }) } @bad);
    is(ws_health()->{slow_closed}, $before, 'no slow consumer counted');

    # a reader that stops reading while live events come is still closed
    my $slow = ws(host => '127.0.0.2', rcvbuf => 4096, path => '/ws/small-queue');
    $slow->send_json({type => 'subscribe', job_id => $_, since => 0}) for @ids;
    $slow->send_json({type => 'subscribe', channel => 'prices'});
    my $n = 0;
    for my $i (1 .. 5) {
        my $id = run_job({symbols => \@TICKERS, horizon => 60})->{job_id};
        $slow->send_json({type => 'subscribe', job_id => $id});
        wait_job($id, 30);
        $n = ws_health()->{slow_closed} - $before;
        last if $n > 0;
    }
    ok($n > 0, 'a client that asked for the same replays and then stops '
       . 'reading while live events come is closed as a slow consumer');
}
--- error_log
too slow
