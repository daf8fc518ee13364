# The skeleton end to end: nginx module <-> shared-memory rings <-> engine.
# Health, engine death and restart, nginx reload, timeouts, backpressure,
# routing errors and CORS.

use lib 't/lib';
use PatternRT::Test;
use IO::Socket::INET;
use IO::Select;

engine_config();

# Sends GET $path on $n connections at once, then reads every answer.
# Returns the status codes in connection order (0: no answer).
sub concurrent_get {
    my ($path, $n) = @_;
    my @socks;
    for (1 .. $n) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => server_port())
            or die "connect: $!";
        print {$s} "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
        push @socks, $s;
    }
    return \@socks;
}

sub statuses {
    my ($socks) = @_;
    my @codes;
    for my $s (@$socks) {
        my $sel = IO::Select->new($s);
        my $buf = '';
        while ($sel->can_read(10)) {
            my $n = sysread($s, $buf, 65536, length $buf);
            last unless $n;
        }
        push @codes, $buf =~ m{^HTTP/1\.\d (\d{3})} ? $1 : 0;
        close $s;
    }
    return @codes;
}

run_tests();

__DATA__

=== TEST 1: health is answered by the engine, with the worker's view in front
--- config
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- response_json
{"status": "ok",
 "nginx": {"engine_connected": true, "worker_pid": "~any", "slot": "~any",
           "pending": 0},
 "engine": {"pid": "~any", "version": "~/^\\d+\\.\\d+\\.\\d+$/",
            "epoch": "~/^[0-9a-f]{16}$/", "uptime_s": "~any",
            "started_at": "~/Z$/"},
 "ipc": {"max_workers": 32, "workers": "~any", "broadcast": "~any"}}
--- response_headers
Content-Type: application/json
--- no_error_log
[error]



=== TEST 2: every worker has its own slot
--- config
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- response_json_path
ipc.workers.length == 2
ipc.workers[0].worker_pid > 0
ipc.workers[1].worker_pid > 0
nginx.engine_epoch =~ /^[0-9a-f]{16}$/



=== TEST 3: engine killed: 503 E_ENGINE_DOWN at once, for health and the rest
--- config
    location / {
        pattern_rt_api;
    }
--- init
engine_kill('KILL');
wait_until(sub { http_get('/health')->code == 503 }, 5, 'workers to see the engine gone');
--- request eval
["GET /health", "GET /health"]
--- error_code eval
[503, 503]
--- response_json
{"status": "down", "nginx": {"engine_connected": false},
 "error": {"code": "E_ENGINE_DOWN"}, "detail": "engine is not running"}
--- error_log
pattern_rt: engine connection lost
--- post_request
engine_start();



=== TEST 4: engine restarted: served again without touching nginx
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $old_epoch = JSON::PP::decode_json(http_get('/health')->content)->{engine}{epoch};
our $nginx_before = nginx_pid();
engine_restart();
wait_until(sub {
    my $r = http_get('/health');
    $r->code == 200
        && JSON::PP::decode_json($r->content)->{engine}{epoch} ne $old_epoch
}, 10, 'workers to reconnect to the new engine');
--- request
GET /health
--- response_json
{"status": "ok", "nginx": {"engine_connected": true, "connects": "~/^[2-9]/",
                           "disconnects": "~/^[1-9]/"}}
--- post_request
is(nginx_pid(), $main::nginx_before, 'nginx master untouched');
--- error_log
pattern_rt: connected to engine



=== TEST 5: nginx reload: new workers take slots, old ones give them back
--- config
    location / {
        pattern_rt_api;
    }
--- init
our @before = worker_pids();
nginx_reload();
wait_until(sub {
    my $h = JSON::PP::decode_json(http_get('/health')->content);
    my %new = map { $_ => 1 } worker_pids();
    my @w = @{ $h->{ipc}{workers} };
    @w == 2 && !grep { !$new{$_->{worker_pid}} } @w
}, 10, 'only the new workers to hold slots');
--- request eval
["GET /health", "GET /health", "GET /health"]
--- response_json
{"status": "ok", "nginx": {"engine_connected": true}}
--- engine_log
left slot



=== TEST 6: a request waiting when the engine dies gets 503 at once
--- config
    location / {
        pattern_rt_api;
    }
--- init
engine_kill('STOP');
our $waiting = concurrent_get('/health', 1);
select undef, undef, undef, 0.3;
engine_kill('KILL');
--- request
GET /health
--- error_code: 503
--- post_request
my @codes = statuses($main::waiting);
is("@codes", "503", 'the parked request was failed with 503');
engine_start();



=== TEST 7: the engine does not answer in time: 504 E_TIMEOUT
--- config
    pattern_rt_timeout 300ms;
    location / {
        pattern_rt_api;
    }
--- init
engine_kill('STOP');
--- request
GET /health
--- error_code: 504
--- response_json
{"error": {"code": "E_TIMEOUT"}, "detail": "engine did not answer in time"}
--- error_log
engine did not answer request
--- post_request
engine_kill('CONT');
wait_until(sub { http_get('/health')->code == 200 }, 5, 'the engine to answer again');
my $h = JSON::PP::decode_json(http_get('/health')->content);
my $t = 0;
$t += $_->{timeouts} for @{ $h->{ipc}{workers} };
ok($t >= 1, "the timeout is counted ($t)");



=== TEST 8: too many requests waiting in a worker: 503 E_BUSY, counted
--- http_config
    pattern_rt_max_pending 2;
--- config
    location / {
        pattern_rt_api;
    }
--- init
engine_kill('STOP');
our $socks = concurrent_get('/health', 12);
select undef, undef, undef, 0.5;
engine_kill('CONT');
wait_until(sub { http_get('/health')->code == 200 }, 5, 'the parked requests to drain');
--- request
GET /health
--- post_request
my @codes = statuses($main::socks);
my $busy = grep { $_ == 503 } @codes;
my $ok = grep { $_ == 200 } @codes;
is($busy + $ok, 12, "every request answered (@codes)");
ok($busy >= 8, "at most 2 parked per worker, the rest refused ($busy)");
ok($ok >= 1, "the parked ones are served once the engine runs ($ok)");



=== TEST 9: request ring full: 503 E_BUSY, and served again once drained
--- workers: 1
--- config
    location / {
        pattern_rt_api;
    }
--- init
engine_config(args => ['--request_ring', '4096']);
engine_restart();
wait_until(sub { http_get('/health')->code == 200 }, 10, 'the engine');
engine_kill('STOP');
our $socks = concurrent_get('/health', 300);
select undef, undef, undef, 0.5;
engine_kill('CONT');
wait_until(sub { http_get('/health')->code == 200 }, 5, 'the ring to drain');
--- request
GET /health
--- response_json_path
ipc.workers[0].request_ring_full > 0
--- post_request
my @codes = statuses($main::socks);
my $busy = grep { $_ == 503 } @codes;
my $ok = grep { $_ == 200 } @codes;
is($busy + $ok, 300, 'every request answered');
ok($busy > 0 && $ok > 240, "a 4 KiB ring holds ~250 requests ($ok served, $busy refused)");
engine_config(args => []);
engine_restart();



=== TEST 10: unknown path 404, wrong method 405, both as JSON errors
--- config
    location / {
        pattern_rt_api;
    }
--- request eval
["GET /nope", "POST /health", "DELETE /health"]
--- error_code eval
[404, 405, 405]
--- response_json eval
[q{{"error": {"code": "E_NOT_FOUND", "message": "no such endpoint"},
    "detail": "no such endpoint"}},
 q{{"error": {"code": "E_METHOD"}, "detail": "method not allowed on this path"}},
 q{{"error": {"code": "E_METHOD"}}}]



=== TEST 11: CORS: allowed origins on every response, preflight answered
--- config
    pattern_rt_cors_origin http://localhost:3000 https://app.example;
    location / {
        pattern_rt_api;
    }
--- request eval
["GET /health", "GET /nope", "OPTIONS /health", "GET /health"]
--- more_headers eval
["Origin: http://localhost:3000",
 "Origin: https://app.example",
 "Origin: http://localhost:3000\nAccess-Control-Request-Method: GET",
 "Origin: https://evil.example"]
--- error_code eval
[200, 404, 204, 200]
--- response_headers_like eval
["Access-Control-Allow-Origin: ^http://localhost:3000\$\nVary: Origin",
 "Access-Control-Allow-Origin: ^https://app.example\$",
 "Access-Control-Allow-Origin: ^http://localhost:3000\$\nAccess-Control-Allow-Methods: OPTIONS\nAccess-Control-Max-Age: \\d+",
 "Content-Type: application/json"]
--- post_request
my $r = http_get('/health', Origin => 'https://evil.example');
ok(!defined $r->header('Access-Control-Allow-Origin'), 'other origins get no CORS header');



=== TEST 12: pattern_rt_api needs pattern_rt_engine
--- no_engine
--- config
    location / {
        pattern_rt_api;
    }
--- must_die
--- error_log
requires "pattern_rt_engine"
