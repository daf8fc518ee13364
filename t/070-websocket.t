# The WebSocket endpoint, WS /ws/pattern-realtime (SPEC 5.3, RFC 6455,
# docs/websocket.md), driven through raw TCP sockets: every handshake and
# every frame is built by hand here (t/lib/PatternRT/WebSocket.pm, masking
# included), so each failure case is exactly the bytes named in the test.
#
#   handshake    method, Upgrade, Connection, HTTP/1.1, version 13, key,
#                pattern_rt_ws_origin; 101 with the exact
#                Sec-WebSocket-Accept; a first frame in the handshake packet
#   auth         ?token= missing, forged, expired, wrong scope, valid; a
#                token that expires while connected (close 1008)
#   protocol     unmasked, RSV, reserved opcodes, control frame rules,
#                continuation without a start, size limit (1009 before the
#                payload), UTF-8 (1007), binary (1003), the close handshake,
#                ping/pong, application ping, bad messages (the connection
#                stays open)
#   heartbeat    server pings, a peer that stops answering (1008), the close
#                handshake timeout
#   subscribe    unknown job (E_NOT_FOUND, stays open), subscribe and
#                unsubscribe to a real job and to the channels
#
# Expected values are RFC 6455's (its example key and accept value, close
# codes) and SPEC 5.3's message shapes, never read back from the server.

use lib 't/lib';
use PatternRT::Test;
use PatternRT::Tokens qw(test_secret mint);
use File::Temp qw(tempdir);
use JSON::PP ();
use Time::HiRes qw(time sleep);

use PatternRT::Jobs qw(run_job wait_job is_iso_z);
use PatternRT::WebSocket qw(ws_accept_for ws_frame);
use PatternRT::WSEvents qw(wait_connected);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo";

# A trading minute of the fixture's last day (10:00 New York time): a job
# run there gives results (SPEC 4).
engine_config(data => "$FIXTURES/demo", clock => '2024-01-05T15:00:00Z');

our $JSON = JSON::PP->new->canonical;
our $RFC_KEY = 'dGhlIHNhbXBsZSBub25jZQ==';          # RFC 6455 section 1.3
our $RFC_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
our $NO_SUCH_JOB = '0badc0de-0000-4000-8000-000000000000';

# Auth: a secret file for nginx and tokens minted by PatternRT::Tokens
# (expired ones too).
our $TMP = tempdir('prt-ws-XXXXXX', TMPDIR => 1, CLEANUP => 1);
test_secret($TMP);
our $HAVE_AUTH = -f 'docs/auth.md' && do {
    open my $fh, '<', 'ngx_module/ngx_http_pattern_rt_module.c' or die $!;
    local $/;
    <$fh> =~ /"pattern_rt_auth_read"/;
};


our $READ_TOKEN = mint('read', time + 3600);
our $FEED_TOKEN = mint('feed', time + 3600);
our $EXPIRED_TOKEN = mint('read', time - 5);
our $FORGED_TOKEN = do {
    my $t = mint('read', time + 3600);
    substr($t, -1, 1) = substr($t, -1) eq 'A' ? 'Q' : 'A';   # one bit off
    $t;
};

sub ws {
    my (%o) = @_;

    return PatternRT::WebSocket->connect(port => server_port(), %o);
}

sub show {
    my ($m) = @_;

    return defined $m ? $JSON->encode($m) : 'nothing (timeout)';
}

# A new connection must get $code in the server's close frame after
# receiving @frames (bytes), and the TCP connection must end once the close
# is answered, within pattern_rt_ws_close_timeout at the latest (after a
# protocol error the server may not read our close any more).
sub check_close {
    my ($label, $want, @frames) = @_;

    my $w = ws();
    is($w->status, 101, "$label: handshake") or return;
    $w->send_raw($_) for @frames;
    my ($code, $reason) = $w->expect_close(3);
    is($code, $want, "$label: close $want")
        or diag("reason: $reason");
    $w->send_close($code // 1000);
    ok(defined $w->wait_eof(2.5),
       "$label: TCP closed within the close timeout");
}

# The connection still reads and answers: a ping frame gets its pong.
sub still_open {
    my ($w, $label) = @_;

    ok($w->alive(2), "$label: the connection stays open (ping answered)");
}

# The next message must be a JSON error with code $code (and more fields).
sub check_error {
    my ($w, $label, $code, %more) = @_;

    my $m = $w->next_message(2);
    my $ok = ref $m eq 'HASH' && ($m->{type} // '') eq 'error'
             && ($m->{code} // '') eq $code
             && defined $m->{error} && !ref $m->{error} && length $m->{error};
    for my $k (keys %more) {
        $ok &&= ($m->{$k} // '') eq $more{$k};
    }
    ok($ok, "$label: {\"type\":\"error\",\"code\":\"$code\",\"error\":...}")
        or diag('got ' . show($m));
}

run_tests();

__DATA__

=== TEST 1: handshake refusals: method, Upgrade, Connection, HTTP/1.0, version, key
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
--- request eval
["POST /ws/pattern-realtime",
 "GET /ws/pattern-realtime",
 "GET /ws/pattern-realtime",
 "GET /ws/pattern-realtime HTTP/1.0",
 "GET /ws/pattern-realtime",
 "GET /ws/pattern-realtime",
 "GET /ws/pattern-realtime",
 "GET /ws/pattern-realtime",
 "GET /ws/pattern-realtime"]
--- more_headers eval
my $ok = "Sec-WebSocket-Version: 13\nSec-WebSocket-Key: $::RFC_KEY";
["Upgrade: websocket\nConnection: Upgrade\n$ok",
 "Connection: Upgrade\n$ok",
 "Upgrade: websocket\nConnection: keep-alive\n$ok",
 "Upgrade: websocket\nConnection: Upgrade\n$ok",
 "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Version: 12\nSec-WebSocket-Key: $::RFC_KEY",
 "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Version: 13",
 "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZQ==",
 "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==",
 "Upgrade: h2c\nConnection: Upgrade\n$ok"]
--- error_code eval
[405, 400, 400, 400, 426, 400, 400, 400, 400]
--- response_json eval
['{"error": {"code": "E_METHOD"}, "detail": "~/GET/"}',
 '{"error": {"code": "E_BAD_REQUEST"}, "detail": "~/Upgrade/"}',
 '{"error": {"code": "E_BAD_REQUEST"}, "detail": "~/Connection/"}',
 '{"error": {"code": "E_BAD_REQUEST"}, "detail": "~/HTTP\\\\/1\\\\.1/"}',
 '{"error": {"code": "E_BAD_REQUEST"}, "detail": "~/version 13/"}',
 '{"error": {"code": "E_BAD_REQUEST"}, "detail": "~/Sec-WebSocket-Key/"}',
 '{"error": {"code": "E_BAD_REQUEST"}, "detail": "~/Sec-WebSocket-Key/"}',
 '{"error": {"code": "E_BAD_REQUEST"}, "detail": "~/Sec-WebSocket-Key/"}',
 '{"error": {"code": "E_BAD_REQUEST"}, "detail": "~/Upgrade/"}']
--- response_headers eval
["!Sec-WebSocket-Accept", "!Sec-WebSocket-Accept", "!Sec-WebSocket-Accept",
 "!Sec-WebSocket-Accept", "Sec-WebSocket-Version: 13\n!Sec-WebSocket-Accept",
 "!Sec-WebSocket-Accept", "!Sec-WebSocket-Accept", "!Sec-WebSocket-Accept",
 "!Sec-WebSocket-Accept"]
--- no_error_log
[error]



=== TEST 2: pattern_rt_ws_origin: a wrong or missing Origin is 403, the listed ones pass
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
        pattern_rt_ws_origin https://app.example http://localhost:3000;
    }
--- request eval
["GET /ws/pattern-realtime", "GET /ws/pattern-realtime",
 "GET /ws/pattern-realtime", "GET /ws/pattern-realtime"]
--- more_headers eval
my $h = "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: $::RFC_KEY";
["$h\nOrigin: https://evil.example", $h,
 "$h\nOrigin: https://app.example.evil", "$h\nOrigin: http://localhost:3001"]
--- error_code eval
[403, 403, 403, 403]
--- response_json
{"error": {"code": "E_FORBIDDEN", "message": "origin not allowed"}}
--- post_request
for my $origin ('https://app.example', 'http://localhost:3000',
                'HTTPS://APP.EXAMPLE') {
    my $w = ws(origin => $origin);
    is($w->status, 101,
       "Origin $origin: 101 (listed; scheme and host are case-insensitive)");
}



=== TEST 3: 101 with the exact Sec-WebSocket-Accept; a first frame in the handshake packet is served
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
--- post_request
my $w = ws(key => $RFC_KEY, origin => 'https://any.example');
is($w->status, 101, 'RFC 6455 example key: 101 (no Origin policy configured)');
is($w->header('Sec-WebSocket-Accept'), $RFC_ACCEPT,
   "Sec-WebSocket-Accept is RFC 6455's $RFC_ACCEPT");
like($w->header('Upgrade') // '', qr/\Awebsocket\z/i, 'Upgrade: websocket');
like($w->header('Connection') // '', qr/\bupgrade\b/i, 'Connection: upgrade');
ok(!defined $w->header('Sec-WebSocket-Extensions'), 'no extension negotiated');
ok(!defined $w->header('Sec-WebSocket-Protocol'),
   'no subprotocol chosen when none is asked');
ok(!defined $w->header('Content-Length') && !defined $w->header('Transfer-Encoding'),
   'a 101 has no body framing');

my $key = PatternRT::WebSocket::ws_random_key();
my $w2 = ws(key => $key, omit => ['Upgrade', 'Connection'],
            headers => [['Upgrade', 'WebSocket'],
                        ['Connection', 'keep-alive, Upgrade']]);
is($w2->status, 101, 'Upgrade: WebSocket and Connection: keep-alive, Upgrade '
                     . 'are accepted (tokens, any case)');
is($w2->header('Sec-WebSocket-Accept'), ws_accept_for($key),
   'a random key gets base64(SHA-1(key + GUID))');

# the frame goes in the same write() as the handshake: nginx reads both at
# once and must not lose the frame
my $w3 = ws(after => ws_frame(payload => '{"type":"ping"}')
                     . ws_frame(opcode => 'ping', payload => 'same-packet'));
is($w3->status, 101, 'handshake + frames in one packet: 101');
my @got;
for (1 .. 2) {
    my $f = $w3->next_frame(2) or last;
    last if $f->{eof};
    push @got, $f;
}
my ($pong) = grep { $_->{opcode} == 10 } @got;
my ($text) = grep { $_->{opcode} == 1 } @got;
is($pong && $pong->{payload}, 'same-packet',
   'the ping frame of the handshake packet is answered');
like($text ? $text->{payload} : '', qr/"type"\s*:\s*"pong"/,
     'the {"type":"ping"} of the handshake packet is answered with pong');

# half a frame in the handshake packet, the rest later
my $frame = ws_frame(payload => '{"type":"ping"}');
my $w4 = ws(after => substr($frame, 0, 5));
sleep 0.2;
$w4->send_raw(substr $frame, 5);
my $m = $w4->next_message(2);
is($m && $m->{type}, 'pong',
   'a frame split between the handshake packet and the next is reassembled')
    or diag(show($m));



=== TEST 4: auth: ?token= missing, forged, expired or without read scope is refused before the upgrade
--- http_config eval
$::HAVE_AUTH ? "pattern_rt_auth on;\npattern_rt_auth_read on;\npattern_rt_auth_secret $ENV{TEST_PRT_SECRET_FILE};" : ''
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
--- post_request
SKIP: {
skip 'no pattern_rt_auth_read in the module (docs/auth.md): auth not there yet', 16
    unless $HAVE_AUTH;
my %cases = (
    'no token' => [undef, 401, qr/token/],
    'forged token' => [$FORGED_TOKEN, 401, qr/signature invalid/],
    'expired token' => [$EXPIRED_TOKEN, 401, qr/expired/],
    'feed-only token' => [$FEED_TOKEN, 403, qr/./],
);
for my $label (sort keys %cases) {
    my ($token, $status, $why) = @{ $cases{$label} };
    my $w = ws(defined $token ? (query => "token=$token") : ());
    is($w->status, $status, "$label: $status before the upgrade");
    is($w->body_json && $w->body_json->{error}{code},
       $status == 401 ? 'E_UNAUTHORIZED' : 'E_FORBIDDEN', "$label: error code");
    like($w->body_json ? $w->body_json->{error}{message} : '', $why, "$label: reason");
}
my $ok = ws(query => "token=$READ_TOKEN");
is($ok->status, 101, 'a valid read token: 101');
ok($ok->alive(2), 'a valid read token: the connection works');
(my $encoded = $READ_TOKEN) =~ s/([._-])/sprintf '%%%02X', ord $1/ge;
is(ws(query => "token=$encoded")->status, 101,
   'a percent-encoded token is understood (docs/auth.md)');
# nginx's own debug lines show the request line; the module's never do
my @ours = grep { /pattern_rt/ } split /\n/, error_log_part();
ok(!grep({ index($_, (split /\./, $READ_TOKEN)[-1]) >= 0 } @ours),
   'no pattern_rt log line holds a token signature');
}



=== TEST 5: auth: a token that expires during the connection closes it with 1008 at its expiry
--- http_config eval
$::HAVE_AUTH ? "pattern_rt_auth on;\npattern_rt_auth_read on;\npattern_rt_auth_secret $ENV{TEST_PRT_SECRET_FILE};" : ''
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
        pattern_rt_ws_close_timeout 1s;
    }
--- post_request
SKIP: {
skip 'no pattern_rt_auth_read in the module: auth not there yet', 4
    unless $HAVE_AUTH;
# whole seconds: the module compares with nginx's cached second
my $expires = int(time) + 3;
my $w = ws(query => 'token=' . mint('read', $expires));
is($w->status, 101, 'a read token valid for 2-3 s: 101');
sleep $expires - 1.3 - time if $expires - 1.3 > time;
ok($w->alive(0.5), 'still open 1.3 s before the expiry');
my ($code, $reason) = $w->expect_close($expires + 2 - time);
my $at = time;
is($code, 1008, 'closed with 1008 (policy violation)') or diag($reason);
ok($at >= $expires - 1 && $at <= $expires + 1.5,
   sprintf('the close comes at the expiry (%.2f s from it)', $at - $expires));
}



=== TEST 6: protocol violations close with the RFC 6455 code; TCP ends after the close handshake
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
        pattern_rt_ws_max_message 1k;
        pattern_rt_ws_close_timeout 2s;
    }
--- post_request
my $ping = '{"type":"ping"}';
check_close('unmasked client frame', 1002, ws_frame(payload => $ping, mask => 0));
check_close('RSV1 set', 1002, ws_frame(payload => $ping, rsv => 4));
check_close('RSV3 set', 1002, ws_frame(payload => $ping, rsv => 1));
check_close('reserved data opcode 3', 1002, ws_frame(opcode => 3, payload => 'x'));
check_close('reserved control opcode 11', 1002, ws_frame(opcode => 11, payload => 'x'));
check_close('126-byte ping', 1002, ws_frame(opcode => 'ping', payload => 'p' x 126));
check_close('fragmented ping', 1002,
            ws_frame(opcode => 'ping', payload => 'p', fin => 0));
check_close('continuation without a start', 1002,
            ws_frame(opcode => 'continuation', payload => $ping));
check_close('a new text frame inside a fragmented message', 1002,
            ws_frame(payload => '{"type":', fin => 0),
            ws_frame(payload => '"ping"}'));
check_close('invalid UTF-8', 1007, ws_frame(payload => "{\"type\":\"\xff\xfe\"}"));
check_close('overlong UTF-8 (C0 AF)', 1007, ws_frame(payload => "\"\xc0\xaf\""));
check_close('UTF-8 surrogate (ED A0 80)', 1007, ws_frame(payload => "\"\xed\xa0\x80\""));
check_close('invalid UTF-8 split over fragments', 1007,
            ws_frame(payload => "\"\xe2\x82", fin => 0),
            ws_frame(opcode => 'continuation', payload => "\x28\""));
check_close('binary message', 1003, ws_frame(opcode => 'binary', payload => $ping));
check_close('close code 1005 sent by a client', 1002,
            ws_frame(opcode => 'close', payload => pack('n', 1005)));
check_close('close frame with a 1-byte payload', 1002,
            ws_frame(opcode => 'close', payload => 'x'));

# decided on the header: the payload is never sent
my $w = ws();
$w->send_raw(substr ws_frame(payload => 'x' x 1025), 0, 20);
my ($code) = $w->expect_close(2);
is($code, 1009, 'a 1025-byte text frame (limit 1k) is refused on its header: 1009');
$w = ws();
$w->send_raw(ws_frame(payload => '"' . ('x' x 600), fin => 0));
$w->send_raw(substr ws_frame(opcode => 'continuation',
                              payload => 'y' x 600 . '"'), 0, 20);
($code) = $w->expect_close(2);
is($code, 1009, 'fragments adding up past the limit: 1009 on the header '
                . 'of the one that crosses it');
$w = ws();
$w->send_raw(ws_frame(payload => "\"\xff", fin => 0));
($code) = $w->expect_close(2);
is($code, 1007, 'invalid UTF-8 in a first fragment: 1007 without waiting '
                . 'for the end of the message');
$w = ws();
$w->send_raw(ws_frame(payload => '{"type":"ping"}' . (' ' x (1024 - 15))));
my $m = $w->next_message(2);
is($m && $m->{type}, 'pong', 'a message of exactly the limit (1024 bytes) is served')
    or diag(show($m));



=== TEST 7: the close handshake: the code is echoed, then the TCP connection ends; many at once
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
        pattern_rt_ws_close_timeout 3s;
    }
--- post_request
for my $case ([1000, 'bye'], [1001, ''], [4001, 'app-defined'], [3000, '']) {
    my ($sent, $reason) = @$case;
    my $w = ws();
    $w->send_close($sent, $reason);
    my ($code) = $w->expect_close(2);
    is($code, $sent, "close $sent is echoed with $sent");
    my $t = $w->wait_eof(2);
    ok(defined $t && $t < 1, "close $sent: TCP closed at once after the handshake")
        or diag(defined $t ? "after $t s" : 'not within 2 s');
}
my $w = ws();
$w->send_frame(opcode => 'close', payload => '');
my ($code, $reason, @before) = $w->expect_close(2);
ok(!defined $code && $reason eq '',
   'an empty close is echoed with an empty close (no 1005 on the wire)')
    or diag("code $code");
ok(defined $w->wait_eof(2), 'empty close: TCP closed');

# many handshakes completing at once (the client's close read in the same
# event as others): every one echoed, no worker hurt (the harness checks
# error.log for crashes)
my @bad;
for my $round (1 .. 5) {
    my @c = map { ws() } 1 .. 40;
    $_->send_close(1000) for @c;
    for my $i (0 .. $#c) {
        my ($echo) = $c[$i]->expect_close(3);
        my $t = $c[$i]->wait_eof(3);
        push @bad, "round $round, client $i: close " . ($echo // 'none')
                   . (defined $t ? '' : ', TCP left open')
            unless ($echo // 0) == 1000 && defined $t;
    }
}
ok(!@bad, '5 x 40 clients closing at once: each echoed 1000 and closed')
    or diag(join "\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]);

# after the close nothing else is served
$w = ws();
$w->send_raw(ws_frame(opcode => 'close', payload => pack('n', 1000))
             . ws_frame(payload => '{"type":"ping"}'));
($code, $reason, @before) = $w->expect_close(2);
is($code, 1000, 'close then a message in one packet: the close is echoed');
$w->send_close(1000);
my @after;
while (my $fr = $w->next_frame(1)) {
    last if $fr->{eof};
    push @after, $fr;
}
ok(!@before && !@after, 'nothing is answered after the close (RFC 6455 5.5.1)')
    or diag(scalar(@before) . ' before, ' . scalar(@after) . ' after');



=== TEST 8: ping and application ping are answered; bad messages get an error and the connection stays open
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
--- post_request
my $w = ws();
for my $payload ('', 'hello', 'p' x 125, "\x00\xff\x80bin") {
    my $t0 = time;
    $w->send_frame(opcode => 'ping', payload => $payload);
    my $f = $w->next_frame(2);
    ok($f && !$f->{eof} && $f->{opcode} == 10 && $f->{payload} eq $payload,
       'ping frame of ' . length($payload) . ' bytes: pong with the same payload')
        or diag($f ? "opcode $f->{opcode}, " . length($f->{payload} // '')
                     . ' bytes' : 'nothing in 2 s');
    ok($f && !$f->{masked} && $f->{fin}, 'the pong is unmasked and final');
}
my $t0 = time;
$w->send_json({type => 'ping'});
my $m = $w->next_message(2);
my $after = time - $t0;
is($m && $m->{type}, 'pong', '{"type":"ping"} is answered {"type":"pong"}')
    or diag(show($m));
ok($after < 1, sprintf('... at once (%.2f s)', $after));
ok(!defined $m->{timestamp} || is_iso_z($m->{timestamp}),
   'a pong timestamp, if any, is ISO-8601 UTC with Z like every time (SPEC 5)')
    or diag("timestamp $m->{timestamp}");

my @bad = (
    ['malformed JSON', '{"type":"ping"'],
    ['not an object', '["ping"]'],
    ['a JSON string', '"ping"'],
    ['no type', '{"job_id":"' . $NO_SUCH_JOB . '"}'],
    ['unknown type', '{"type":"publish"}'],
    ['unknown field', '{"type":"ping","extra":1}'],
    ['type of the wrong JSON type', '{"type":1}'],
    ['job_id not a UUID', '{"type":"subscribe","job_id":"abc"}'],
    ['since negative', '{"type":"subscribe","job_id":"' . $NO_SUCH_JOB . '","since":-1}'],
    ['since a string',
     '{"type":"subscribe","job_id":"' . $NO_SUCH_JOB . '","since":"5"}'],
    ['unknown channel', '{"type":"subscribe","channel":"news"}'],
    ['job_id and channel',
     '{"type":"subscribe","job_id":"' . $NO_SUCH_JOB . '","channel":"prices"}'],
    ['neither job_id nor channel', '{"type":"subscribe"}'],
    ['nested too deep', '{"type":"ping","a":[[[[[1]]]]]}'],
    ['empty message', ''],
);
for my $case (@bad) {
    my ($label, $text) = @$case;
    $w->send_text($text);
    check_error($w, $label, 'E_BAD_REQUEST');
}
still_open($w, 'after every bad message');

# a fragmented message with a ping in the middle (RFC 6455 5.4)
$w->send_frame(payload => '{"type":', fin => 0);
$w->send_frame(opcode => 'ping', payload => 'between');
$w->send_frame(opcode => 'continuation', payload => '"pi', fin => 0);
$w->send_frame(opcode => 'continuation', payload => 'ng"}');
my $f = $w->next_frame(2);
is($f && $f->{opcode} == 10 ? $f->{payload} : undef, 'between',
   'a ping between fragments is answered first');
$m = $w->next_message(2);
is($m && $m->{type}, 'pong', 'the fragmented {"type":"ping"} is reassembled and answered')
    or diag(show($m));
$w->send_json({type => 'unsubscribe', channel => 'prices'});
check_error($w, 'unsubscribe without a subscription', 'E_NOT_FOUND');
still_open($w, 'after the unsubscribe error');



=== TEST 9: subscribe: unknown job is E_NOT_FOUND and the connection stays open; a real job and the channels
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
    location / {
        pattern_rt_api;
    }
--- post_request
my $w = ws();
$w->send_json({type => 'subscribe', job_id => $NO_SUCH_JOB});
check_error($w, 'unknown job', 'E_NOT_FOUND', job_id => $NO_SUCH_JOB);
still_open($w, 'after E_NOT_FOUND');
$w->send_json({type => 'ping'});
my $m = $w->next_message(2);
is($m && $m->{type}, 'pong', 'after E_NOT_FOUND {"type":"ping"} is still answered');

wait_connected(worker_pids());
my $job = run_job({symbols => ['SRWX', 'GOOZ', 'NOSUCH']});
my $done = wait_job($job->{job_id}, 30);
my $upper = uc $job->{job_id};
$w->send_json({type => 'subscribe', job_id => $upper});
$m = $w->next_message(3);
is($m && $m->{type}, 'subscribed',
   'subscribe to a finished job (job_id in upper case): subscribed')
    or diag(show($m));
is($m && $m->{job_id}, $job->{job_id}, 'subscribed names the job (lower case)');
$w->send_json({type => 'unsubscribe', job_id => $job->{job_id}});
$m = $w->next_message(2);
is_deeply([$m && @$m{qw(type job_id)}], ['unsubscribed', $job->{job_id}],
          'unsubscribe: unsubscribed with the job_id') or diag(show($m));
for my $channel (qw(verifications prices)) {
    $w->send_json({type => 'subscribe', channel => $channel});
    $m = $w->next_message(3);
    is_deeply([$m && @$m{qw(type channel)}], ['subscribed', $channel],
              "subscribe to the $channel channel") or diag(show($m));
    $w->send_json({type => 'unsubscribe', channel => $channel});
    $m = $w->next_message(2);
    is_deeply([$m && @$m{qw(type channel)}], ['unsubscribed', $channel],
              "unsubscribe from the $channel channel") or diag(show($m));
}
my $idle = ws();
sleep 1;
ok($idle->alive(2), 'a connection that never subscribes is fine [fe]');



=== TEST 10: heartbeat: pings every pattern_rt_ws_ping_interval; a silent peer is closed with 1008; the close handshake times out
--- config
    location /ws/pattern-realtime {
        pattern_rt_websocket;
        pattern_rt_ws_ping_interval 200ms;
        pattern_rt_ws_pong_timeout 300ms;
        pattern_rt_ws_close_timeout 500ms;
    }
--- post_request
my $answering = ws();
my $silent = ws();
$silent->auto_pong(0);
my $t0 = time;

# the answering peer: pongs every ping for 2 s
my ($pings, $closed) = (0, undef);
while (time - $t0 < 2) {
    my $f = $answering->next_frame(0.1) or next;
    if ($f->{eof} || $f->{opcode} == 8) {
        $closed = $f->{eof} ? "eof" : "close $f->{close_code}";
        last;
    }
    next unless $f->{opcode} == 9;
    $pings++;
    $answering->send_frame(opcode => 'pong', payload => $f->{payload});
}
ok(!$closed, 'a peer that answers pings stays connected') or diag($closed);
ok($pings >= 6 && $pings <= 12, "it is pinged every 200 ms ($pings pings in 2 s)");
ok($answering->alive(1), 'and still answers after 2 s');

# the silent peer, meanwhile: pings, then the close
my ($code, $reason, @before) = $silent->expect_close(3);
is($code, 1008, 'a peer that never answers is closed with 1008') or diag($reason);
my @p = grep { $_->{opcode} == 9 } @before;
ok(@p >= 1, scalar(@p) . ' ping(s) before the close');
my $t = $silent->wait_eof(3);
ok(defined $t, 'the silent peer never answers the close: the server closes TCP')
    or diag('not within 3 s');

# timing on a fresh silent peer
my $s2 = ws();
$s2->auto_pong(0);
my $start = time;
($code) = $s2->expect_close(3);
my $closed_after = time - $start;
is($code, 1008, 'second silent peer: 1008');
ok($closed_after >= 0.45 && $closed_after <= 1.2,
   sprintf('closed %.2f s after the upgrade (interval 200 ms + pong '
           . 'timeout 300 ms, checked every 200 ms)', $closed_after));
my $linger = $s2->wait_eof(3);
ok(defined $linger && $linger >= 0.4 && $linger <= 1.2,
   sprintf('TCP closed %s s after the unanswered close frame '
           . '(pattern_rt_ws_close_timeout 500ms)',
           defined $linger ? sprintf('%.2f', $linger) : 'never'));
--- error_log
websocket peer stopped answering pings
