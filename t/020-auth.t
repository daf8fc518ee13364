# Token auth (docs/auth.md): pattern_rt_auth, pattern_rt_auth_read,
# pattern_rt_auth_secret; Bearer tokens on REST; 401 / 403 with
# WWW-Authenticate; auth off per location beside nginx's own auth_request,
# allow and deny; configurations refused at startup. Tokens are minted by
# the real command (build/pattern-rt-engine token).

use lib 't/lib';
use PatternRT::Test;
use Cwd ();
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);

engine_config();

my $ENGINE = $ENV{TEST_PRT_ENGINE} || 'build/pattern-rt-engine';
my $DIR = tempdir('prt-auth-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub write_secret {
    my ($name, $content, $mode) = @_;
    my $path = "$DIR/$name";
    open my $fh, '>', $path or die "open $path: $!\n";
    print {$fh} $content;
    close $fh or die "write $path: $!\n";
    chmod $mode, $path or die "chmod $path: $!\n";
    return $path;
}

sub random_hex {
    my ($bytes) = @_;
    return join '', map { sprintf '%02x', int rand 256 } 1 .. $bytes;
}

# The secret and the tokens reach the blocks through the environment
# ($TEST_PRT_* in config and header sections).
$ENV{TEST_PRT_SECRET} = 'auth-t-' . random_hex(24);
$ENV{TEST_PRT_SECRET_FILE} = write_secret('secret', "$ENV{TEST_PRT_SECRET}\n", 0600);
$ENV{TEST_PRT_OTHER_SECRET_FILE} = write_secret('other', random_hex(32) . "\n", 0600);
$ENV{TEST_PRT_SHORT_SECRET_FILE} = write_secret('short', ('s' x 31) . "\n", 0600);
$ENV{TEST_PRT_OPEN_SECRET_FILE} = write_secret('open', random_hex(32), 0644);
$ENV{TEST_PRT_MISSING_SECRET_FILE} = "$DIR/missing";
$ENV{TEST_PRT_SECRET_DIR} = $DIR;

sub mint {
    my ($secret_file, @args) = @_;
    open my $fh, '-|', $ENGINE, 'token', '--secret-file', $secret_file, @args
        or die "run $ENGINE token: $!\n";
    my $token = <$fh> // '';
    close $fh or die "$ENGINE token @args failed (status $?)\n";
    chomp $token;
    die "$ENGINE token @args printed no token\n"
        unless $token =~ /\Aprt1\.[a-z-]+\.\d+\.[\w-]+\.[\w-]{43}\z/;
    return $token;
}

my $S = $ENV{TEST_PRT_SECRET_FILE};
$ENV{TEST_PRT_TOKEN_READ}  = mint($S, '--scope', 'read', '--ttl', '1h');
$ENV{TEST_PRT_TOKEN_FEED}  = mint($S, '--scope', 'feed', '--ttl', '1h');
$ENV{TEST_PRT_TOKEN_ADMIN} = mint($S, '--scope', 'admin', '--ttl', '1h');
$ENV{TEST_PRT_TOKEN_ALL}   = mint($S, '--scope', 'read,feed,admin');
$ENV{TEST_PRT_TOKEN_SHORT} = mint($S, '--scope', 'read', '--ttl', '1s');
$ENV{TEST_PRT_TOKEN_OTHER} = mint($ENV{TEST_PRT_OTHER_SECRET_FILE},
                                  '--scope', 'read');

# Forged: one bit of the signature flipped (the low bit of one base64url
# character's value), away from the last character so the text stays
# canonical and only the HMAC comparison can catch it.
{
    my $alphabet = join '', 'A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_';
    my $t = $ENV{TEST_PRT_TOKEN_READ};
    my $i = length($t) - 10;
    my $v = index($alphabet, substr($t, $i, 1));
    substr($t, $i, 1) = substr($alphabet, $v ^ 1, 1);
    $ENV{TEST_PRT_TOKEN_FORGED} = $t;
}

# Waits until the 1-second token has expired (nginx compares with its own
# cached clock, which moves at least every event loop turn).
sub wait_short_token_expired {
    my ($expires) = $ENV{TEST_PRT_TOKEN_SHORT} =~ /\Aprt1\.[a-z-]+\.(\d+)\./;
    sleep 0.05 while time < $expires + 0.2;
}

# Lines our module wrote must never hold a token's signature.
sub signatures {
    return map { substr($ENV{"TEST_PRT_TOKEN_$_"}, -43) }
        qw(READ FEED ADMIN ALL SHORT OTHER FORGED);
}

# conf/nginx.conf with its deployment paths replaced by temporary ones,
# through `nginx -t`. Returns (passed, nginx's output).
sub check_deployment_example {
    my $dir = "$DIR/deploy";
    mkdir $_ or die "mkdir $_: $!\n" for $dir, "$dir/logs";
    open my $in, '<', 'conf/nginx.conf' or die "conf/nginx.conf: $!\n";
    my $conf = do { local $/; <$in> };
    close $in;

    my $module = Cwd::abs_path($ENV{TEST_PRT_MODULE}
                               || 'build/nginx/ngx_http_pattern_rt_module.so');
    my $temp = join '', map { "    ${_}_temp_path $dir/$_;\n" }
        qw(client_body proxy fastcgi uwsgi scgi);
    $conf =~ s{/usr/lib/nginx/modules/ngx_http_pattern_rt_module\.so}{$module}g
        or die "no load_module line in conf/nginx.conf\n";
    $conf =~ s{/etc/pattern-rt/token\.secret}{$ENV{TEST_PRT_SECRET_FILE}}g;
    $conf =~ s{/run/pattern-rt/engine\.sock}{$dir/engine.sock}g;
    $conf =~ s{/var/log/nginx/}{$dir/logs/}g;
    $conf =~ s{^pid .*$}{pid $dir/nginx.pid;}m;
    $conf =~ s|^http \{\n|http {\n$temp|m;

    open my $out, '>', "$dir/nginx.conf" or die "$dir/nginx.conf: $!\n";
    print {$out} $conf;
    close $out or die "$dir/nginx.conf: $!\n";

    my $nginx = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
    my $output = qx{$nginx -p $dir/ -c $dir/nginx.conf -e $dir/logs/error.log -t 2>&1};
    return ($? == 0, $output);
}

run_tests();

__DATA__

=== TEST 1: auth off (the default): the read API answers without a token
--- config
    location / {
        pattern_rt_api;
    }
--- request eval
["GET /health", "GET /health"]
--- more_headers eval
["", "Authorization: Bearer garbage"]
--- response_json
{"status": "ok"}
--- response_headers
!WWW-Authenticate



=== TEST 2: auth on and read closed: no token is a 401 with the challenge
--- config
    pattern_rt_auth on;
    pattern_rt_auth_read on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="pattern-rt"
Content-Type: application/json
--- response_json
{"error": {"code": "E_UNAUTHORIZED",
           "message": "authorization required: Authorization: Bearer <token>"},
 "detail": "authorization required: Authorization: Bearer <token>"}



=== TEST 3: a valid read token (minted by the command) is let through
--- config
    pattern_rt_auth on;
    pattern_rt_auth_read on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- request eval
["GET /health", "GET /health", "GET /health"]
--- more_headers eval
["Authorization: Bearer $ENV{TEST_PRT_TOKEN_READ}",
 "authorization: bearer   $ENV{TEST_PRT_TOKEN_READ}  ",
 "Authorization: Bearer $ENV{TEST_PRT_TOKEN_ALL}"]
--- response_json
{"status": "ok", "nginx": {"engine_connected": true}}
--- no_error_log
pattern_rt: token



=== TEST 4: an expired token: 401 invalid_token "token expired", logged by id
--- config
    pattern_rt_auth on;
    pattern_rt_auth_read on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- init
wait_short_token_expired();
--- request
GET /health
--- more_headers
Authorization: Bearer $TEST_PRT_TOKEN_SHORT
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="pattern-rt", error="invalid_token", error_description="token expired"
--- response_json
{"error": {"code": "E_UNAUTHORIZED", "message": "token expired"},
 "detail": "token expired"}
--- error_log eval
qr/\[info\] .*pattern_rt: token expired: token id "[\w-]{16}"/



=== TEST 5: forged, other secret, garbage: 401 and why, never the token
--- config
    pattern_rt_auth on;
    pattern_rt_auth_read on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- request eval
["GET /health", "GET /health", "GET /health", "GET /health", "GET /health",
 "GET /health", "GET /health"]
--- more_headers eval
["Authorization: Bearer $ENV{TEST_PRT_TOKEN_FORGED}",
 "Authorization: Bearer $ENV{TEST_PRT_TOKEN_OTHER}",
 "Authorization: Bearer garbage",
 "Authorization: Bearer " . ('x' x 300),
 "Authorization: Bearer prt2" . substr($ENV{TEST_PRT_TOKEN_READ}, 4),
 "Authorization: Bearer " . substr($ENV{TEST_PRT_TOKEN_READ}, 0, -1) . '%',
 "Authorization: Bearer"]
--- error_code eval
[401, 401, 401, 401, 401, 401, 401]
--- response_json eval
['{"error": {"code": "E_UNAUTHORIZED", "message": "token signature invalid"}}',
 '{"error": {"code": "E_UNAUTHORIZED", "message": "token signature invalid"}}',
 '{"error": {"code": "E_UNAUTHORIZED", "message": "token malformed"}}',
 '{"error": {"code": "E_UNAUTHORIZED", "message": "token empty or too long"}}',
 '{"error": {"code": "E_UNAUTHORIZED", "message": "unknown token version"}}',
 '{"error": {"code": "E_UNAUTHORIZED", "message": "token has invalid characters"}}',
 '{"error": {"code": "E_UNAUTHORIZED", "message": "~/^authorization required/"}}']
--- response_headers_like eval
["WWW-Authenticate: error=\"invalid_token\"",
 "WWW-Authenticate: error=\"invalid_token\"",
 "WWW-Authenticate: error=\"invalid_token\"",
 "WWW-Authenticate: error=\"invalid_token\"",
 "WWW-Authenticate: error=\"invalid_token\"",
 "WWW-Authenticate: error=\"invalid_token\"",
 "WWW-Authenticate: ^Bearer realm=\"pattern-rt\"\$"]
--- error_log
pattern_rt: token signature invalid
pattern_rt: token malformed
--- post_request
my @ours = grep { /pattern_rt/ } split /\n/, error_log_part();
my @leaks = grep { my $l = $_; grep { index($l, $_) >= 0 } main::signatures() } @ours;
is(scalar @leaks, 0, 'no pattern_rt log line holds a token signature')
    or diag(join "\n", @leaks);



=== TEST 6: a genuine token without the route's scope: 403 insufficient_scope
--- config
    pattern_rt_auth on;
    pattern_rt_auth_read on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- request eval
["GET /health", "GET /health"]
--- more_headers eval
["Authorization: Bearer $ENV{TEST_PRT_TOKEN_FEED}",
 "Authorization: Bearer $ENV{TEST_PRT_TOKEN_ADMIN}"]
--- error_code eval
[403, 403]
--- response_headers
WWW-Authenticate: Bearer realm="pattern-rt", error="insufficient_scope", scope="read"
--- response_json
{"error": {"code": "E_FORBIDDEN",
           "message": "the token lacks the \"read\" scope"}}
--- error_log eval
qr/pattern_rt: token lacks the required scope: token id "[\w-]{16}"/



=== TEST 7: auth on with the read API open (the default): no token needed
--- config
    pattern_rt_auth on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- request eval
["GET /health", "GET /health"]
--- more_headers eval
["", "Authorization: Bearer garbage"]
--- response_json
{"status": "ok"}
--- response_headers
!WWW-Authenticate



=== TEST 8: REST takes no ?token=: 401 that says where the token goes
--- config
    pattern_rt_auth on;
    pattern_rt_auth_read on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- request
GET /health?token=$TEST_PRT_TOKEN_READ
--- error_code: 401
--- response_json
{"error": {"code": "E_UNAUTHORIZED",
           "message": "send the token as Authorization: Bearer (?token= is only for the WebSocket)"}}



=== TEST 9: another scheme (Basic, meant for a proxy) counts as no token
--- config
    pattern_rt_auth on;
    pattern_rt_auth_read on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- more_headers
Authorization: Basic dXNlcjpwYXNz
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="pattern-rt"



=== TEST 10: off per location, inherited elsewhere; preflight needs no token
--- config
    pattern_rt_auth on;
    pattern_rt_auth_read on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    pattern_rt_cors_origin http://localhost:3000;
    location /open/ {
        rewrite ^/open(/.*)$ $1 break;
        pattern_rt_auth off;
        pattern_rt_api;
    }
    location / {
        pattern_rt_api;
    }
--- request eval
["GET /open/health", "GET /health", "OPTIONS /health"]
--- more_headers eval
["", "Origin: http://localhost:3000",
 "Origin: http://localhost:3000\nAccess-Control-Request-Method: GET\nAccess-Control-Request-Headers: authorization"]
--- error_code eval
[200, 401, 204]
--- response_headers_like eval
["Content-Type: application/json",
 "Access-Control-Allow-Origin: ^http://localhost:3000\$",
 "Access-Control-Allow-Headers: Authorization"]



=== TEST 11: auth off beside nginx's auth_request: nginx decides alone
--- config
    location = /_auth {
        internal;
        if ($http_x_api_key = "let-me-in") {
            return 204;
        }
        return 401;
    }
    location / {
        auth_request /_auth;
        pattern_rt_auth off;
        pattern_rt_api;
    }
--- request eval
["GET /health", "GET /health", "GET /health"]
--- more_headers eval
["", "X-Api-Key: let-me-in",
 "X-Api-Key: let-me-in\nAuthorization: Bearer not-one-of-ours"]
--- error_code eval
[401, 200, 200]



=== TEST 12: our tokens and nginx's allow/deny and auth_request together
--- config
    pattern_rt_auth on;
    pattern_rt_auth_read on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    location = /_auth {
        internal;
        if ($http_x_api_key = "let-me-in") {
            return 204;
        }
        return 401;
    }
    location /denied/ {
        deny all;
        pattern_rt_api;
    }
    location / {
        auth_request /_auth;
        pattern_rt_api;
    }
--- request eval
["GET /denied/health", "GET /health", "GET /health", "GET /health"]
--- more_headers eval
["Authorization: Bearer $ENV{TEST_PRT_TOKEN_READ}",
 "Authorization: Bearer $ENV{TEST_PRT_TOKEN_READ}",
 "X-Api-Key: let-me-in",
 "X-Api-Key: let-me-in\nAuthorization: Bearer $ENV{TEST_PRT_TOKEN_READ}"]
--- error_code eval
[403, 401, 401, 200]
--- response_body_like eval
[qr/"code":"E_FORBIDDEN","message":"access denied"/,
 qr/"code":"E_UNAUTHORIZED","message":"authentication required"/,
 qr/"code":"E_UNAUTHORIZED","message":"authorization required: /,
 qr/"status":"ok"/]



=== TEST 13: pattern_rt_auth on without a secret: refused at startup
--- no_engine
--- config
    pattern_rt_auth on;
    location / {
        return 204;
    }
--- must_die
--- error_log
"pattern_rt_auth on" needs "pattern_rt_auth_secret"



=== TEST 14: a missing secret file: refused, naming the file
--- no_engine
--- config
    pattern_rt_auth on;
    pattern_rt_auth_secret $TEST_PRT_MISSING_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*pattern_rt_auth_secret: open\(\) ".*\/missing" failed \(2: No such file or directory\)/



=== TEST 15: a secret of 31 bytes (and a newline): refused
--- no_engine
--- config
    pattern_rt_auth on;
    pattern_rt_auth_secret $TEST_PRT_SHORT_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*pattern_rt_auth_secret: ".*\/short" is shorter than 32 bytes/



=== TEST 16: a directory as the secret file: refused
--- no_engine
--- config
    pattern_rt_auth on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_DIR;
    location / {
        pattern_rt_api;
    }
--- must_die
--- error_log
is not a regular file



=== TEST 17: pattern_rt_auth_secret twice in one block: refused
--- no_engine
--- config
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- must_die
--- error_log
"pattern_rt_auth_secret" directive is duplicate



=== TEST 18: a world-readable secret file works, with a warning
--- config
    pattern_rt_auth on;
    pattern_rt_auth_read on;
    pattern_rt_auth_secret $TEST_PRT_OPEN_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- error_code: 401
--- error_log eval
qr/\[warn\] .*"[^"]*\/open" is readable by every user/



=== TEST 19: the secret never reaches a log, whatever happened before
--- config
    pattern_rt_auth on;
    pattern_rt_auth_read on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- more_headers
Authorization: Bearer $TEST_PRT_TOKEN_OTHER
--- error_code: 401
--- post_request
for my $log (qw(error.log nginx.stderr engine.log access.log)) {
    my $path = server_root() . "/logs/$log";
    open my $fh, '<', $path or next;
    local $/;
    my $text = <$fh>;
    close $fh;
    ok(index($text, $ENV{TEST_PRT_SECRET}) < 0, "the secret is not in $log");
}



=== TEST 20: conf/nginx.conf, the deployment example, passes nginx -t
--- no_engine
--- config
    location / {
        return 204;
    }
--- init
my ($ok, $output) = check_deployment_example();
ok($ok, 'nginx -t accepts conf/nginx.conf') or diag($output);
like($output, qr/test is successful/, 'nginx -t: test is successful');
unlike($output, qr/\[(?:warn|emerg|alert)\]/, 'nginx -t: no warnings')
    or diag($output);
--- request
GET /
--- error_code: 204



=== TEST 21: reload needs the admin scope
--- config
    pattern_rt_auth on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- request eval
["POST /api/index/reload", "POST /api/index/reload", "POST /api/index/reload"]
--- more_headers eval
["", "Authorization: Bearer $ENV{TEST_PRT_TOKEN_READ}",
 "Authorization: Bearer $ENV{TEST_PRT_TOKEN_FEED}"]
--- error_code eval
[401, 403, 403]
--- response_headers_like eval
["WWW-Authenticate: ^Bearer realm=\"pattern-rt\"\$",
 "WWW-Authenticate: scope=\"admin\"",
 "WWW-Authenticate: scope=\"admin\""]
--- post_request
my $r = http_get('/api/index/reload',
                 Authorization => "Bearer $ENV{TEST_PRT_TOKEN_ADMIN}");
ok($r->code != 401 && $r->code != 403,
   'an admin token passes auth (' . $r->code . ')');



=== TEST 22: the feed needs the feed scope
--- config
    pattern_rt_auth on;
    pattern_rt_auth_secret $TEST_PRT_SECRET_FILE;
    location / {
        pattern_rt_api;
    }
--- request eval
["POST /api/pattern-realtime/bars\n[]",
 "POST /api/pattern-realtime/bars\n[]",
 "POST /api/pattern-realtime/bars\n[]"]
--- more_headers eval
["Content-Type: application/json",
 "Content-Type: application/json\nAuthorization: Bearer $ENV{TEST_PRT_TOKEN_READ}",
 "Content-Type: application/json\nAuthorization: Bearer $ENV{TEST_PRT_TOKEN_ADMIN}"]
--- error_code eval
[401, 403, 403]
--- response_json eval
['{"error": {"code": "E_UNAUTHORIZED"}}',
 '{"error": {"code": "E_FORBIDDEN", "message": "the token lacks the \"feed\" scope"}}',
 '{"error": {"code": "E_FORBIDDEN"}}']
--- post_request
my $ua = LWP::UserAgent->new(timeout => 10);
my $r = $ua->post('http://127.0.0.1:' . server_port() . '/api/pattern-realtime/bars',
                  'Content-Type' => 'application/json',
                  Authorization => "Bearer $ENV{TEST_PRT_TOKEN_FEED}",
                  Content => '[]');
ok($r->code != 401 && $r->code != 403,
   'a feed token passes auth (' . $r->code . ')');
