# The harness's own tests: stock nginx only (no module), plus the engine
# lifecycle against t/lib/PatternRT/fake-engine. The last blocks run small
# test files in a child process and check that wrong expectations, crashed
# workers and broken configs come out as TAP failures.

use lib 't/lib';
use PatternRT::Test;

use File::Temp qw(tempdir);
use IPC::Run ();
use PatternRT::JSONMatch qw(decode_json_text json_mismatch json_path_check);

our $Fixture = tempdir(CLEANUP => 1);
open my $fh, '>', "$Fixture/bars.csv" or die "$Fixture/bars.csv: $!";
print {$fh} "ticker,volume,open,close,high,low,window_start,transactions\n";
close $fh;

no_module();
engine_config(
    command => fake_engine_command(),
    clock => '2024-03-11T14:30:00Z',
    data => $Fixture,
    all_blocks => 0,
);

# Runs the test text $t in a child perl with its own servroot and port (and
# the extra environment %env); returns (its TAP output, its exit code).
sub run_child_test {
    my ($t, %env) = @_;

    my $dir = tempdir(CLEANUP => 1);
    open my $out, '>', "$dir/child.t" or die "$dir/child.t: $!";
    print {$out} $t;
    close $out;
    local @ENV{keys %env} = values %env;
    local $ENV{TEST_NGINX_SERVROOT} = "$dir/servroot";
    delete local $ENV{TEST_NGINX_PORT};
    delete local $ENV{TEST_NGINX_SERVER_PORT};
    my $tap = '';
    IPC::Run::run([$^X, "$dir/child.t"], '<', \undef, '>&', \$tap);
    return ($tap, $? >> 8);
}

# Child test files are indented heredocs (<<~): a __DATA__ or === line at
# the start of a line would end this file's own preamble or split its blocks.

our $WrongExpectations = <<~'T';
    use lib 't/lib';
    use PatternRT::Test;
    no_module();
    run_tests();
    __DATA__
    === TEST 1: wrong
    --- config
        location = /t {
            default_type application/json;
            add_header X-Here yes;
            return 200 '{"a":1,"error":{"field":"k"}}';
        }
    --- request
    GET /t
    --- error_code: 201
    --- response_headers
    X-Here: no
    !X-Here
    --- response_body
    nope
    --- response_body_like: ^\[
    --- response_json
    {"error": {"field": "horizon"}}
    --- response_json_path
    a == 2
    --- error_log
    a line that is never logged
    --- no_error_log
    [debug]
    === TEST 2: right
    --- config
        location = /t {
            return 200 "right";
        }
    --- request
    GET /t
    --- response_body chomp
    right
    === TEST 3: unanswered
    --- config
    --- raw_request eval
    "GET /t HTTP/1.1\r\nHost: localhost\r\n"
    --- timeout: 0.5
    T

our $CrashesAndBadInit = <<~'T';
    use lib 't/lib';
    use PatternRT::Test;
    no_module();
    run_tests();
    __DATA__
    === TEST 1: unexpected crash
    --- init
    kill 'KILL', (worker_pids())[0];
    wait_until(sub { error_log_part() =~ /exited on signal 9/ }, 5, 'the log');
    --- config
        location = /t {
            return 200 "ok";
        }
    --- request
    GET /t
    === TEST 2: expected crash
    --- init
    kill 'KILL', (worker_pids())[0];
    --- config
        location = /t {
            return 200 "ok";
        }
    --- request
    GET /t
    --- error_log
    exited on signal 9
    === TEST 3: bad init code
    --- init
    die "init broke\n";
    --- config
        location = /t {
            return 200 "ok";
        }
    --- request
    GET /t
    T

# Debian's nchan module stands in for ours (not built yet) to exercise
# load_module and the automatic pattern_rt_engine directive.
our $Nchan = '/usr/lib/nginx/modules/ngx_nchan_module.so';
our $ModuleLoading = <<~'T';
    use lib 't/lib';
    use PatternRT::Test;
    engine_config(command => fake_engine_command(), all_blocks => 0);
    run_tests();
    __DATA__
    === TEST 1: the module is loaded
    --- config
        location = /pub {
            nchan_publisher;
            nchan_channel_id test;
        }
    --- request
    GET /pub
    --- error_code: 404
    === TEST 2: blocks that use the engine get its directive
    --- engine
    --- config
    --- must_die
    --- error_log
    unknown directive "pattern_rt_engine"
    T

run_tests();

__DATA__

=== TEST 1: a fixed body
--- config
    location = /t {
        return 200 "hello";
    }
--- request
GET /t
--- response_body chomp
hello
--- response_headers
Content-Length: 5
--- no_error_log
[error]



=== TEST 2: response headers, present, absent and by regex
--- config
    location = /h {
        add_header X-Test "one";
        add_header X-Num 42;
        add_header X-Test "two";
        return 200 "";
    }
--- request
GET /h
--- response_headers
X-Test: one, two
X-Num: 42
!X-Absent
--- response_headers_like
Server: ^nginx/\d+\.\d+
Date: GMT$



=== TEST 3: raw request split into three packets
--- config
    location = /raw {
        return 200 "$request_method $request_uri $http_x_foo";
    }
--- raw_request eval
["GET /raw?x=1 HTTP/1.1\r\nHo",
 "st: localhost\r\nX-Foo: bar\r\n",
 "Connection: close\r\n\r\n"]
--- response_body chomp
GET /raw?x=1 bar
--- error_log
http header: "X-Foo: bar"



=== TEST 4: raw HTTP/1.0 request without a Host header
--- config
    location = /raw {
        return 200 "$server_protocol";
    }
--- raw_request eval
"GET /raw HTTP/1.0\r\n\r\n"
--- response_body chomp
HTTP/1.0



=== TEST 5: several requests on one nginx, status and body per request
--- config
    location = /ok {
        limit_except GET {
            deny all;
        }
        return 200 "ok $request_method";
    }
--- request eval
["GET /ok", "GET /missing", "POST /ok\nsome body", "HEAD /ok"]
--- error_code eval
[200, 404, 403, 200]
--- response_body_like eval
[qr/^ok GET$/, qr/404 Not Found/, qr/403 Forbidden/, qr/^$/]



=== TEST 6: more_headers, keep-alive and a POST body
--- config
    location = /echo {
        return 200 "$http_x_one|$content_length|$http_connection";
    }
--- more_headers
X-One: first
Connection: keep-alive
--- request
POST /echo
12345
--- timeout: 3
--- response_body chomp
first|5|keep-alive



=== TEST 7: response_json subset match and json paths
--- config
    location = /j {
        default_type application/json;
        return 200 '{"a":1, "b":"two", "c":[1,2,{"d":null}], "e":true,
                     "f":1.5, "id":"a1b2c3", "extra":{"x":1}, "unlisted":0}';
    }
--- request
GET /j
--- response_headers
Content-Type: application/json
--- response_json
{"a": 1.0, "b": "two", "c": [1, 2, {"d": null}], "e": true, "f": 1.50,
 "id": "~/^[0-9a-f]{6}$/", "extra": "~any"}
--- response_json_path
c.length == 3
c[2].d eq null
a == 1
f > 1.2
b eq two
e eq true
id =~ /^a1/
extra.x exists
nothere missing
length == 8



=== TEST 8: chunked response (sub_filter drops Content-Length)
--- init
open my $fh, '>', html_dir() . '/page.txt' or die $!;
print {$fh} "hello world\n" x 3;
close $fh;
--- config
    location = /page.txt {
        sub_filter 'world' 'nginx';
        sub_filter_once off;
        sub_filter_types text/plain;
    }
--- request
GET /page.txt
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
hello nginx
hello nginx
hello nginx



=== TEST 9: $TEST_NGINX_ variables in config sections, one worker
--- workers: 1
--- init
is(scalar(my @w = worker_pids()), 1, 'one worker process');
--- config
    location = /port {
        return 200 "$TEST_NGINX_PORT";
    }
--- request
GET /port
--- response_body eval
$ENV{TEST_NGINX_PORT}



=== TEST 10: reload from init, the request is served by the new workers
--- config
    location = /t {
        return 200 "after reload";
    }
--- init
my @before = worker_pids();
my $master = nginx_pid();
my @after = nginx_reload();
is(scalar @after, 2, 'two new workers after the reload');
my %old = map { $_ => 1 } @before;
ok(!grep({ $old{$_} } @after), 'every worker was replaced');
is(nginx_pid(), $master, 'the master stayed');
is(http_get('/t')->code, 200, 'http_get after the reload');
# the operator's way: nginx -s reload finds the master through the pid file
my %reloaded = map { $_ => 1 } @after;
my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
ok(IPC::Run::run([$nginx, '-p', server_root() . '/', '-c', 'conf/nginx.conf',
                  '-s', 'reload'], '>&', \my $output), 'nginx -s reload')
    or diag($output);
wait_until(sub { my @w = worker_pids(); @w == 2 && !grep { $reloaded{$_} } @w },
           10, 'new workers after nginx -s reload');
--- request
GET /t
--- response_body chomp
after reload
--- error_log
reconfiguring



=== TEST 11: error_log and no_error_log, strings and regexes
--- config
    location /static/ {
        root html;
    }
--- request
GET /static/missing.txt
--- error_code: 404
--- error_log eval
[qr/open\(\) ".*missing\.txt" failed \(2: No such file or directory\)/,
 "[error]"]
--- no_error_log
[crit]
exited on signal



=== TEST 12: fake engine lifecycle: lazy start, kill, start, restart
--- engine
--- init
my $pid = engine_pid();
ok($pid && kill(0, $pid), 'the engine was started for this block');
ok(-S engine_socket(), 'the engine socket exists');
ok(-f engine_data_dir() . '/bars.csv', 'the fixture was copied');
is(engine_kill('STOP'), 1, 'SIGSTOP does not wait');
is(engine_kill('CONT'), 1, 'SIGCONT does not wait');
my $status = engine_kill('KILL');
is($status & 127, 9, 'engine_kill(KILL) returns the SIGKILL status');
ok(!defined engine_pid(), 'no engine pid after the kill');
my $second = engine_start();
ok($second && $second != $pid, 'engine_start starts a new process');
my $third = engine_restart();
ok($third && $third != $second, 'engine_restart starts another');
--- config
    location = /t {
        return 200 "ok";
    }
--- request
GET /t
--- response_body chomp
ok
--- engine_log eval
[qr/clock 2024-03-11T14:30:00Z data files: bars\.csv/,
 qr/fake engine: stopped after/]
--- no_engine_log
failing on purpose



=== TEST 13: engine start failures are reported with the engine's log
--- engine
--- init
engine_config(args => ['--fail-start']);
eval { engine_restart() };
like($@, qr/exited before it was ready \(exit code 3\)/, 'early exit');
like($@, qr/failing on purpose/, 'the error shows the engine log');
engine_config(args => ['--ready-delay', '3'], ready_timeout => 0.5);
eval { engine_start() };
like($@, qr/timed out after 0.5s waiting for the engine's ready line/,
     'ready timeout');
ok(!defined engine_pid(), 'an engine that is not ready is killed');
engine_config(args => [], ready_timeout => 30);
ok(engine_start(), 'the engine starts again');
--- config
    location = /t {
        return 200 "ok";
    }
--- request
GET /t



=== TEST 14: a config error stops nginx from starting
--- config
    location = /t {
        no_such_directive on;
    }
--- must_die
--- error_log
unknown directive "no_such_directive"



=== TEST 15: wrong expectations are TAP failures
--- init
my ($tap, $code) = run_child_test($WrongExpectations);
for my $what ('status code', 'header X-Here', 'header X-Here absent',
              'response_body', 'response_body_like', 'response_json',
              'json_path: a == 2', 'error_log: a line that is never logged',
              'no_error_log: [debug]') {
    like($tap, qr/^not ok \d+ - TEST 1: wrong - \Q$what\E$/m,
         "a wrong $what fails");
}
like($tap, qr/^#\s+error\.field: got "k", want "horizon"$/m,
     'response_json names the path of the difference');
like($tap, qr/^ok \d+ - TEST 2: right - response_body$/m,
     'a right expectation passes');
like($tap, qr/^ok \d+ - TEST 1: wrong - nginx stopped cleanly$/m,
     'the failures do not disturb the shutdown');
like($tap, qr/^not ok \d+ - TEST 3: unanswered - status code$/m,
     'a request that times out fails');
like($tap, qr/^#\s+timed out after 0.5s \(no complete response\)$/m,
     'and says so');
is($code, 10, 'the exit code counts the failures');



=== TEST 16: a crashed worker fails its block unless expected
--- init
my ($tap, $code) = run_child_test($CrashesAndBadInit);
my $check = 'no alert, crit, emerg or worker crash in error\.log';
like($tap, qr/^not ok \d+ - TEST 1: unexpected crash - $check$/m,
     'an unexpected worker crash fails');
like($tap, qr/^#\s+.*worker process \d+ exited on signal 9/m,
     'and shows the log line');
like($tap, qr/^ok \d+ - TEST 2: expected crash - $check$/m,
     'an expected crash passes');
like($tap, qr/^not ok \d+ - TEST 3: bad init code - init$/m,
     'a failing init fails the block');
like($tap, qr/^#\s+init broke$/m, 'with the error');
is($code, 2, 'two failures in all');



=== TEST 17: JSON matching rules and their messages
--- init
my $got = decode_json_text('{"a":"1","b":1,"c":[1,2],"d":null,"e":false,'
                           . '"s":"Hello","n":{"y":[{"z":3}]}}');
my @cases = (
    ['{"b":1.0,"d":null,"e":false}', undef],
    ['{"d":"~any","s":"~/^hel/i","b":"~/^1$/"}', undef],
    ['{"a":1}', 'a: got "1", want 1'],
    ['{"b":"1"}', 'b: got 1, want "1"'],
    ['{"c":[1]}', 'c: got an array of 2 elements, want 1'],
    ['{"c":[1,3]}', 'c[1]: got 2, want 3'],
    ['{"q":"~any"}', 'q: missing, want "~any"'],
    ['{"e":0}', 'e: got false, want 0'],
    ['{"d":0}', 'd: got null, want 0'],
    ['{"s":"~/^hel/"}', 's: got "Hello", want a match for (?^:^hel)'],
    ['{"n":{"y":[{"z":4}]}}', 'n.y[0].z: got 3, want 4'],
);
for my $case (@cases) {
    my ($want, $message) = @$case;
    is(json_mismatch($got, decode_json_text($want)), $message,
       "response_json $want");
}
my %paths = (
    'n.y[0].z == 3' => 1, 'n.y.0.z >= 4' => 0, 'c.length == 2' => 1,
    's.length == 5' => 1, 'e eq false' => 1, 'd eq null' => 1,
    'a == 1' => 0, 'b eq 1' => 1, 'zz exists' => 0, 'a missing' => 0,
    'c[-1] == 2' => 1, 's =~ ^H' => 1, 's !~ /^H/' => 0, 'b != 1' => 0,
);
for my $line (sort keys %paths) {
    my ($pass) = json_path_check($got, $line);
    is($pass ? 1 : 0, $paths{$line}, "json_path $line");
}
--- config



=== TEST 18: load_module and pattern_rt_engine in the generated config
--- init
SKIP: {
    skip "$Nchan is not installed", 3 unless -f $Nchan;
    my ($tap, $code) = run_child_test($ModuleLoading,
                                      TEST_PRT_MODULE => $Nchan);
    like($tap, qr/^ok \d+ - TEST 1: the module is loaded - status code$/m,
         'nginx accepts the module directives');
    like($tap, qr/^ok \d+ - TEST 2: .* - error_log: .*"pattern_rt_engine"$/m,
         'an engine block gets pattern_rt_engine');
    is($code, 0, 'the child passes') or diag($tap);
}
--- config



=== TEST 19: a request nginx does not answer, expected: no response
--- config
    location = /t {
        return 200 "ok";
    }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 0.5
--- error_code:
