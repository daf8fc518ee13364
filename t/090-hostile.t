# Hostile requests to every endpoint (docs/api-validation.md, "Errors"):
# dates far outside the data, NUL bytes and invalid UTF-8 in paths, queries,
# headers and bodies, numbers too large for any field, deep nesting, huge
# bodies, bad methods, odd percent-encodings, URIs and headers over nginx's
# limits. Every answer must be JSON with an error code (a 4xx unless the
# case says otherwise), never nginx's HTML page, never a 500, and its body
# must carry no internal text (paths, store or library names). Errors nginx
# raises itself come back as JSON through error_page and pattern_rt_error
# (the harness adds them where a block serves the API, as conf/nginx.conf
# does).
#
# The engine's stored state (predictions, performance, the index, a job and
# its results, the available dates, the feed clock) is read before the
# first hostile request and after the last: none may change it.

use lib 't/lib';
use PatternRT::Test;
use JSON::PP ();

use PatternRT::HTTP qw(exchange header_value);
use PatternRT::Jobs qw(PRT call_api run_job wait_job get_json history_all
                       wait_workers_connected ny_instant);
use PatternRT::WSEvents qw(flat_day post_minute feed_clock);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo" && -d "$FIXTURES/demo-flat";

our @FLAT = sort glob "$FIXTURES/demo-flat/*.csv.gz";
our $DAY = flat_day($FLAT[-1]);
our $DATE = $DAY->{date};
our @TICKERS = sort keys %{ $DAY->{tickers} };
our $SYM = $TICKERS[0];
our $OPEN = ny_instant($DATE, '10:00');
our $JSON = JSON::PP->new->canonical;
our $UUID = '0badc0de-0000-4000-8000-000000000000';    # no such job

# The feed clock: bars move it, so a hostile batch that got in would show.
engine_config(data => "$FIXTURES/demo", clock => 'feed');

# Text no client answer may carry: file paths and source names, the
# stores' and libraries' names, markup.
our $INTERNAL = qr{
    / (?:work|home|tmp|usr|var|etc|run|proc) /
  | \b [\w-]+ \. (?:c|h|cpp|pm|so) \b
  | bar \s store | job \s store | \blmdb\b | \bmdb_ | \bfaiss\b | \byajl\b
  | \bpcre | \bngx_ | pattern_rt_ | \bengine/ | \bsegfault | \berrno\b
  | < \s* (?:html|body|head|title|center|hr) \b
}xi;

# ---------------------------------------------------------------------------
# Requests

# HTTP/1.1 bytes for a method, a target (sent as is: any byte may be in
# it), a body (undef: none) and extra header lines.
sub req {
    my ($method, $target, $body, @headers) = @_;

    my $head = "$method $target HTTP/1.1\r\nHost: localhost\r\n";
    $head .= "Connection: close\r\n"
        unless grep { /^connection:/i } @headers;
    $head .= "$_\r\n" for @headers;
    if (defined $body) {
        $head .= "Content-Type: application/json\r\n"
            unless grep { /^content-type:/i } @headers;
        $head .= 'Content-Length: ' . length($body) . "\r\n"
            unless grep { /^(?:content-length|transfer-encoding):/i }
                        @headers;
    }
    return $head . "\r\n" . ($body // '');
}

sub post { return req('POST', $_[0], $_[1], @_[2 .. $#_]) }
sub get  { return req('GET', $_[0], undef, @_[1 .. $#_]) }

# One case: bytes sent on a fresh connection, then the checks on the
# answer. %w: status (default: any 4xx), code (error.code), field,
# message (a regex for error.message).
sub hostile {
    my ($name, $bytes, %w) = @_;

    my $x = exchange(port => server_port(), pieces => [$bytes],
                     method => ($bytes =~ /\A(HEAD) / ? 'HEAD' : 'GET'),
                     timeout => 20);
    my $r = $x->{response};
    if (!ok($r && !$r->{error}, "$name: answered")) {
        diag($x->{error} // $r->{error});
        return;
    }

    my $st = $r->{status};
    if (defined $w{status}) {
        is($st, $w{status}, "$name: status $w{status}");
    } else {
        ok($st >= 400 && $st < 500, "$name: a 4xx ($st)");
    }
    isnt($st, 500, "$name: not a 500");

    like(header_value($r, 'Content-Type') // '', qr{\Aapplication/json\b},
         "$name: JSON, not nginx's page");

    my $j = eval { $JSON->decode($r->{body}) };
    my $e = ref $j eq 'HASH' && ref $j->{error} eq 'HASH' ? $j->{error} : {};
    ok(($e->{code} // '') =~ /\AE_[A-Z_]+\z/
       && defined $e->{message} && !ref $e->{message},
       "$name: {error: {code, message}}")
        or diag("body: " . substr($r->{body}, 0, 300));
    is($e->{code}, $w{code}, "$name: $w{code}") if defined $w{code};
    is($e->{field}, $w{field}, "$name: field $w{field}")
        if defined $w{field};
    like($e->{message} // '', $w{message}, "$name: message")
        if defined $w{message};
    unlike($r->{body}, $INTERNAL, "$name: no internal text in the body");
    ok(!defined header_value($r, 'Set-Cookie'), "$name: no header injected");
    return $j;
}

# ---------------------------------------------------------------------------
# The state that must not change

our ($JOB_ID, $BEFORE);

sub snapshot {
    my %s = (
        history => [history_all()],
        performance => get_json(PRT . '/performance?period=all'),
        index => get_json('/api/index/stats'),
        dates => get_json('/api/available-dates'),
        job => get_json(PRT . "/job/$JOB_ID"),
        results => get_json(PRT . "/job/$JOB_ID/results?limit=10000"),
        clock => feed_clock(),
    );
    return \%s;
}

our $DATES_RANGE = qr/from 1970-01-01 to 2199-12-31/;

run_tests();

__DATA__

=== TEST 1: before the first bar: bars outside the stored dates are rejected one by one, nothing moves
--- config
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- post_request
wait_workers_connected();
my $clock0 = call_api('GET', '/health')->{json}{market}{now};
my $dates0 = get_json('/api/available-dates');
# s as JSON text, and e = s + 60000 where that is a number
my @s = (
    ['0', '60000'],                                # 1969-12-31 19:00 ET
    ['-60000', '0'],
    ['17940000', '18000000'],                      # 1969-12-31 23:59 ET
    ['-2208988800000', '-2208988740000'],          # 1900-01-01
    ['-62135596800000', '-62135596740000'],        # 0001-01-01
    ['7258136400000', '7258136460000'],            # 2200-01-01 00:00 ET
    ['253402300740000', '253402300800000'],        # 9999-12-31 23:59Z
    ['9223372036854775807', '1'],                  # 2^63 - 1
    ['18446744073709551616', '1'],                 # 2^64
    ['1e400', '1e400'],
    ['-1e400', '1'],
);
my $body = '[' . join(',', map {
    sprintf '{"ev":"AM","sym":"%s","v":100,"o":10,"c":10,"h":10,"l":10,'
            . '"s":%s,"e":%s}', $SYM, @$_ } @s) . ']';
my $r = call_api('POST', PRT . '/bars', $body);
is($r->{code}, 200, 'the batch is answered, event by event');
is($r->{json}{accepted}, 0, 'no event accepted');
is(scalar @{ $r->{json}{rejected} || [] }, scalar @s, 'every event rejected');
like($_->{reason}, $DATES_RANGE, "rejected: $_->{reason}")
    for @{ $r->{json}{rejected} }[0 .. 6];
unlike($r->{body}, $INTERNAL, 'no internal text in the answer');
is(call_api('GET', '/health')->{json}{market}{now}, $clock0,
   'the feed clock did not move');
is_deeply(get_json('/api/available-dates'), $dates0,
          'no date was added to the bar store');
--- no_error_log
[error]



=== TEST 2: the state every later block must leave as it is: a finished job on the feed clock
--- config
    location / {
        pattern_rt_api;
    }
--- init
wait_workers_connected();
post_minute($DAY, $OPEN);
our $RUN = run_job({ symbols => [@TICKERS[0 .. 9]], horizon => 5 });
$JOB_ID = $RUN->{job_id};
wait_job($JOB_ID);
$BEFORE = snapshot();
--- request
GET /health
--- post_request
ok(@{ $BEFORE->{job}{results} } > 0, 'the job has results');
ok(@{ $BEFORE->{history} } > 0, 'the history has predictions');
is($BEFORE->{job}{status}, 'completed', 'the job is finished');



=== TEST 3: dates far outside the data, in every endpoint taking one: 400 naming the field and the range
--- config
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- post_request
for my $ts ('1900-01-01T00:00:00', '9999-12-31T23:59:59',
            '9999-12-31T23:59:59Z', '1969-12-31T23:59:59',
            '1970-01-01T00:00:00Z', '2200-01-01T00:00:00',
            '0001-01-01T00:00:00Z')
{
    for my $mode ('historical', 'realtime') {
        hostile("search $mode timestamp $ts",
                post('/api/patterns/search', qq({"ticker":"$SYM",)
                     . qq("mode":"$mode","timestamp":"$ts"})),
                status => 400, code => 'E_BAD_REQUEST',
                field => 'timestamp', message => $DATES_RANGE);
    }
}
for my $ts ('0000-01-01T00:00:00', '-0001-01-01T00:00:00',
            '+275760-09-13T00:00:00Z', '10000-01-01', '1900-02-29',
            '1e400', '99999999999999999999')
{
    hostile("search timestamp $ts", post('/api/patterns/search',
            qq({"ticker":"$SYM","timestamp":"$ts"})),
            status => 400, code => 'E_BAD_REQUEST', field => 'timestamp');
}
hostile('search timestamp as 2^64', post('/api/patterns/search',
        qq({"ticker":"$SYM","timestamp":18446744073709551616})),
        status => 400, field => 'timestamp');

for my $d ('1900-01-01', '9999-12-31', '1969-12-31', '2200-01-01',
           '0001-01-01')
{
    hostile("fe historical date $d", post('/api/search/historical',
            qq({"symbol":"$SYM","date":"$d","time":"10:30"})),
            status => 400, code => 'E_BAD_REQUEST', field => 'date',
            message => $DATES_RANGE);
    for my $kind ('prices', 'ohlc') {
        hostile("$kind date $d", get("/api/historical/$kind/$SYM?date=$d"),
                status => 400, code => 'E_BAD_REQUEST', field => 'date',
                message => $DATES_RANGE);
    }
}
for my $d ('0000-01-01', '0000-00-00', '99999-01-01', '-2024-01-01')
{
    hostile("fe historical date $d", post('/api/search/historical',
            qq({"symbol":"$SYM","date":"$d","time":"10:30"})),
            status => 400, field => 'date');
    hostile("prices date $d", get("/api/historical/prices/$SYM?date=$d"),
            status => 400, field => 'date');
}

# inside the range but without data: a 404 saying so, not an error
hostile('search in 1971', post('/api/patterns/search',
        qq({"ticker":"$SYM","timestamp":"1971-01-04T10:30:00"})),
        status => 404, code => 'E_NO_DATA');
hostile('prices in 2150', get("/api/historical/prices/$SYM?date=2150-01-02"),
        code => 'E_NO_DATA');
--- no_error_log
[error]



=== TEST 4: NUL bytes and invalid UTF-8 in paths, queries, headers and bodies
--- config
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- post_request
# in the path, escaped: nginx refuses %00 before any location
for my $path (PRT . '/job/%00', PRT . '/job/%00/results', '/api/search/%00',
              '/api/historical/prices/AAPL%00', PRT . '/history%00',
              '/health%00')
{
    hostile("GET $path", get($path), status => 400, code => 'E_BAD_REQUEST');
}
hostile('DELETE job %00', req('DELETE', PRT . '/job/%00'), status => 400);

# raw bytes in the request line and in a header
hostile('raw NUL in the path', get("/api/search/AA\0PL"), status => 400);
hostile('raw NUL in a header', get('/health', "X-Test: a\0b"),
        status => 400);
hostile('raw NUL in the Authorization header',
        get(PRT . '/history', "Authorization: Bearer \0\0\0"));

# invalid UTF-8 and other bytes that decode to no symbol or id
for my $path ('/api/search/%FF%FE', '/api/search/%C3%28',
              '/api/search/%C0%AE%C0%AE', '/api/historical/ohlc/%ED%A0%80',
              "/api/search/\xff\xfe", PRT . '/job/%F0%28%8C%BC',
              PRT . "/job/\xc3\x28" . ('a' x 34))
{
    hostile("GET $path", get($path));
}
for my $q ('symbol=%00', 'symbol=%FF', 'symbol=AA%00PL', 'limit=5%00',
           "symbol=\xc3\x28")
{
    hostile("history ?$q", get(PRT . "/history?$q"), status => 400,
            code => 'E_BAD_REQUEST');
}
hostile('performance ?period=%00', get(PRT . '/performance?period=%00'),
        status => 400, field => 'period');
hostile('prices ?date=%00', get("/api/historical/prices/$SYM?date=%00"),
        status => 400, field => 'date');

# bodies
my %bodies = (
    'NUL in a string' => qq({"ticker":"AA\0PL","timestamp":"$DATE"}),
    'NUL escape' => qq({"ticker":"AA\\u0000PL","timestamp":"$DATE"}),
    'NUL between members' => qq({"ticker":"$SYM",\0"timestamp":"$DATE"}),
    'invalid UTF-8 value' => qq({"ticker":"\xff\xfe","timestamp":"$DATE"}),
    'invalid UTF-8 key' => qq({"\xc3\x28":1}),
    'lone surrogate' => qq({"ticker":"\\ud800","timestamp":"$DATE"}),
    'UTF-8 BOM' => qq(\xef\xbb\xbf{"ticker":"$SYM","timestamp":"$DATE"}),
    'UTF-16' => join("\0", split //, qq({"ticker":"$SYM"})),
    'only NULs' => "\0" x 64,
);
for my $what (sort keys %bodies) {
    for my $path ('/api/patterns/search', '/api/search/historical',
                  PRT . '/run', PRT . '/bars')
    {
        hostile("$what: POST $path", post($path, $bodies{$what}),
                status => 400, code => 'E_BAD_REQUEST');
    }
}
hostile('run with an invalid UTF-8 symbol',
        post(PRT . '/run', qq({"symbols":"AAPL \xc3\x28"})),
        status => 400, message => qr/malformed JSON/);
--- no_error_log
[error]



=== TEST 5: numbers no field holds: 1e400, 2^64, -2^63-1, in bodies and queries
--- config
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- post_request
for my $n ('1e400', '-1e400', '18446744073709551616', '-9223372036854775809',
           '9223372036854775808', '1' . ('0' x 400), '4.9e-324e5')
{
    for my $f ('k', 'horizon', 'alpha', 'trim_lo') {
        hostile("search $f=$n", post('/api/patterns/search',
                qq({"ticker":"$SYM","timestamp":"$DATE","$f":$n})),
                status => 400);
    }
    hostile("run k=$n", post(PRT . '/run', qq({"symbols":"$SYM","k":$n})),
            status => 400);
    # min_edge has no upper bound: only what is no finite number >= 0
    hostile("run min_edge=$n",
            post(PRT . '/run', qq({"symbols":"$SYM","min_edge":$n})),
            status => 400) unless $n =~ /\A\d+\z/ && length $n < 30;
    hostile("fe historical window_minutes=$n",
            post('/api/search/historical', qq({"symbol":"$SYM",)
                 . qq("date":"$DATE","time":"10:30","window_minutes":$n})),
            status => 400);
}
for my $n ('18446744073709551616', '99999999999999999999999', '1e400',
           '-9223372036854775809', '0x10', '1e2')
{
    hostile("history limit=$n", get(PRT . "/history?limit=$n"),
            status => 400, field => 'limit');
    hostile("history offset=$n", get(PRT . "/history?offset=$n"),
            status => 400, field => 'offset');
    hostile("results limit=$n",
            get(PRT . "/job/$UUID/results?limit=$n"), status => 400,
            field => 'limit');
    hostile("performance horizon=$n",
            get(PRT . "/performance?horizon=$n"), status => 400,
            field => 'horizon');
    hostile("fe realtime k=$n", get("/api/search/$SYM?k=$n"), status => 400,
            field => 'k');
}
--- no_error_log
[error]



=== TEST 6: deep nesting and huge bodies
--- config
    client_max_body_size 2m;
    client_body_buffer_size 1m;
    pattern_rt_max_body 256k;
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- post_request
my %deep = (
    '10k [' => '[' x 10000,
    '10k [ closed' => ('[' x 10000) . (']' x 10000),
    '10k {"a":' => ('{"a":' x 10000) . '1' . ('}' x 10000),
    '33 levels' => ('[' x 33) . (']' x 33),
);
for my $what (sort keys %deep) {
    for my $path ('/api/patterns/search', '/api/search/historical',
                  PRT . '/run', PRT . '/bars')
    {
        hostile("$what: POST $path", post($path, $deep{$what}),
                status => 400, code => 'E_BAD_REQUEST');
    }
}

# over pattern_rt_max_body: the module's 413
my $big = '{"symbols":"' . ('AAPL ' x 60000) . '"}';
for my $path ('/api/patterns/search', PRT . '/run', PRT . '/bars') {
    hostile("300 KB body: POST $path", post($path, $big), status => 413,
            code => 'E_TOO_LARGE');
}
# over client_max_body_size: nginx's 413, before the module
hostile('Content-Length of 3 MB', "POST " . PRT . "/run HTTP/1.1\r\n"
        . "Host: localhost\r\nConnection: close\r\n"
        . "Content-Length: 3000000\r\n\r\n{", status => 413,
        code => 'E_TOO_LARGE');
hostile('Content-Length of 2^64', "POST " . PRT . "/run HTTP/1.1\r\n"
        . "Host: localhost\r\nConnection: close\r\n"
        . "Content-Length: 18446744073709551616\r\n\r\n{", status => 400);
hostile('negative Content-Length', "POST " . PRT . "/run HTTP/1.1\r\n"
        . "Host: localhost\r\nConnection: close\r\n"
        . "Content-Length: -1\r\n\r\n{", status => 400);
# chunked: nginx learns the size while reading, inside the module's call
my $chunk = 'x' x 65536;
my $chunks = join '', map { sprintf("%x\r\n%s\r\n", length $chunk, $chunk) }
                      1 .. 40;
hostile('2.5 MB chunked body', "POST " . PRT . "/run HTTP/1.1\r\n"
        . "Host: localhost\r\nConnection: close\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n$chunks" . "0\r\n\r\n",
        status => 413, code => 'E_TOO_LARGE');
hostile('malformed chunk size', "POST " . PRT . "/run HTTP/1.1\r\n"
        . "Host: localhost\r\nConnection: close\r\n"
        . "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
        status => 400, code => 'E_BAD_REQUEST');
hostile('chunk size of 2^64', "POST " . PRT . "/run HTTP/1.1\r\n"
        . "Host: localhost\r\nConnection: close\r\n"
        . "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n{}\r\n",
        status => 400);
# a transfer coding nginx does not implement: 501, as RFC 9112 says
hostile('Transfer-Encoding: gzip', "POST " . PRT . "/run HTTP/1.1\r\n"
        . "Host: localhost\r\nConnection: close\r\n"
        . "Transfer-Encoding: gzip\r\n\r\n{}", status => 501,
        code => 'E_BAD_REQUEST');
# 10,001 distinct symbols: over pattern_rt_max_symbols
my $many = join ' ', map { sprintf 'S%05d', $_ } 1 .. 10001;
hostile('10,001 symbols', post(PRT . '/run', qq({"symbols":"$many"})),
        status => 400, field => 'symbols');
# 100,000 events: over pattern_rt_max_bar_events (a 413 naming the count)
hostile('100,000 bar events', post(PRT . '/bars',
        '[' . join(',', ('0') x 100000) . ']'), status => 413,
        code => 'E_TOO_LARGE', message => qr/100000/);



=== TEST 7: bad methods and request lines
--- config
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- post_request
my @cases = (
    ['FOO on /health', req('FOO', '/health'), 405, 'E_METHOD'],
    ['PUT on search', req('PUT', '/api/patterns/search', '{}'), 405,
     'E_METHOD'],
    ['DELETE on history', req('DELETE', PRT . '/history'), 405, 'E_METHOD'],
    ['PATCH on run', req('PATCH', PRT . '/run', '{}'), 405, 'E_METHOD'],
    ['GET on bars', get(PRT . '/bars'), 405, 'E_METHOD'],
    ['POST on a job', post(PRT . "/job/$UUID", '{}'), 405, 'E_METHOD'],
    ['PROPFIND on prices', req('PROPFIND', "/api/historical/prices/$SYM"),
     405, 'E_METHOD'],
    ['TRACE', req('TRACE', '/health'), 405, 'E_METHOD'],
    ['CONNECT', req('CONNECT', '127.0.0.1:80'), undef, undef],
    ['lower-case get', req('get', '/health'), 400, 'E_BAD_REQUEST'],
    ['a method with @', req('G@T', '/health'), 400, 'E_BAD_REQUEST'],
    ['a method of 5000 letters', req('A' x 5000, '/health'), undef, undef],
    ['no target', "GET  HTTP/1.1\r\nHost: localhost\r\n\r\n", 400,
     'E_BAD_REQUEST'],
    ['a relative target', get('health'), 400, 'E_BAD_REQUEST'],
    ['an unknown protocol', "GET /health XTTP/1.1\r\nHost: localhost\r\n\r\n",
     400, 'E_BAD_REQUEST'],
    ['a header without a colon', get('/health', 'no colon here'), 400,
     'E_BAD_REQUEST'],
    ['two Host headers', get('/health', 'Host: other'), 400,
     'E_BAD_REQUEST'],
    ['HTTP/1.1 without Host',
     "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", 400,
     'E_BAD_REQUEST'],
    ['an unknown path', get('/etc/passwd'), 404, 'E_NOT_FOUND'],
    ['a job id that is no UUID', get(PRT . '/job/../../etc/passwd'), undef,
     undef],
);
hostile($_->[0], $_->[1], status => $_->[2], code => $_->[3]) for @cases;
# HTTP/2.0 over HTTP/1: nginx's 505, as RFC 9110 says
hostile('HTTP/2.0', "GET /health HTTP/2.0\r\nHost: localhost\r\n\r\n",
        status => 505, code => 'E_BAD_REQUEST');
--- no_error_log
[error]



=== TEST 8: percent-encodings: malformed, doubled, dot segments, encoded slashes
--- config
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- post_request
for my $path ('/api/search/%zz', '/api/search/%', '/api/search/%4',
              '/api/search/%252e', '/api/search/AAPL%20MSFT',
              '/api/search/%2e%2e', '/api/historical/prices/%2F',
              PRT . '/job/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
              PRT . '/job/..%2f..%2f..%2fetc%2fpasswd',
              '/api/search/..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
              '/%2e%2e/%2e%2e/%2e%2e/etc/passwd',
              PRT . '/job/%7B' . $UUID . '%7D',
              PRT . '/job/' . uc($UUID) . '%0a',
              '/api/search/AAPL%0d%0aSet-Cookie:%20x=1')
{
    hostile("GET $path", get($path));
}
for my $q ('k=%', 'k=%4', 'k=%zz', 'k=%%35', 'k=%2B5', 'k=5%00',
           'cross_asset=%74%72%75%65%00', 'k=' . ('9' x 70))
{
    hostile("fe realtime ?$q", get("/api/search/$SYM?$q"), status => 400,
            code => 'E_BAD_REQUEST');
}
hostile('history ?limit=%', get(PRT . '/history?limit=%'), status => 400,
        field => 'limit');
hostile('results ?sort_by=%ZZ', get(PRT . "/job/$UUID/results?sort_by=%ZZ"),
        status => 400, field => 'sort_by');
--- no_error_log
[error]



=== TEST 9: URIs and headers over nginx's buffers: 414 and 431, as JSON
--- config
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- post_request
hostile('a 10 KB symbol', get('/api/search/' . ('A' x 10000)),
        status => 414, code => 'E_TOO_LARGE');
hostile('a 10 KB query', get(PRT . '/history?x=' . ('%00' x 3500)),
        status => 414, code => 'E_TOO_LARGE');
hostile('a 10 KB job id', get(PRT . '/job/' . ('%FF' x 3500)),
        status => 414, code => 'E_TOO_LARGE');
hostile('a 10 KB header', get('/health', 'X-Long: ' . ('a' x 10000)),
        status => 431, code => 'E_TOO_LARGE');
hostile('a 10 KB Authorization header',
        get(PRT . '/history', 'Authorization: Bearer ' . ('A' x 10000)),
        status => 431, code => 'E_TOO_LARGE');
hostile('a 10 KB cookie on a POST', post('/api/patterns/search',
        qq({"ticker":"$SYM","timestamp":"$DATE"}), 'Cookie: ' . ('c' x 10000)),
        status => 431, code => 'E_TOO_LARGE');
hostile('200 headers of 1 KB', get('/health',
        map { "X-H$_: " . ('h' x 1000) } 1 .. 200),
        status => 431, code => 'E_TOO_LARGE');
--- no_error_log
[error]



=== TEST 10: errors nginx raises in a location of its own: pattern_rt_error renders each as JSON
--- config
    error_page 400 401 403 404 405 408 411 413 414 429
               500 501 502 503 504 505 /_pattern_rt_error;
    error_page 494 =431 /_pattern_rt_error;
    location = /_pattern_rt_error {
        internal;
        pattern_rt_error;
    }
    location = /denied { deny all; pattern_rt_api; }
    location = /boom { return 500; }
    location = /busy { return 503; }
    location = /gone { return 502; }
    location = /static { root html; }
    location = /direct { pattern_rt_error; }
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- post_request
hostile('deny all', get('/denied'), status => 403, code => 'E_FORBIDDEN');
hostile('a static file that is not there', get('/static'), status => 404,
        code => 'E_NOT_FOUND');
hostile('pattern_rt_error reached directly', get('/direct'), status => 404,
        code => 'E_NOT_FOUND');
hostile('return 503', get('/busy'), status => 503, code => 'E_BUSY');
# a 5xx raised by nginx: the generic internal error (the suite's other
# blocks never see one)
for my $path ('/boom', '/gone') {
    my $x = exchange(port => server_port(), pieces => [get($path)]);
    my $r = $x->{response};
    my $j = eval { $JSON->decode($r->{body}) } // {};
    is($r->{status}, $path eq '/boom' ? 500 : 502, "$path: nginx's status");
    is($j->{error}{code}, 'E_INTERNAL', "$path: E_INTERNAL");
    is($j->{error}{message}, 'internal error',
       "$path: the generic message");
    like(header_value($r, 'Content-Type'), qr{\Aapplication/json},
         "$path: JSON");
}
--- error_log
pattern_rt: internal error: nginx raised this status



=== TEST 11: hostile WebSocket handshakes: refused with the API's JSON before any upgrade
--- config
    location / {
        pattern_rt_api;
    }
    location = /ws/pattern-realtime {
        pattern_rt_websocket;
    }
--- request
GET /health
--- post_request
my $ws = '/ws/pattern-realtime';
my @up = ('Upgrade: websocket', 'Connection: Upgrade',
          'Sec-WebSocket-Version: 13');
my $key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';
hostile('POST handshake', post($ws, '{}', @up, $key), status => 405,
        code => 'E_METHOD');
hostile('no Upgrade', get($ws), status => 400, code => 'E_BAD_REQUEST');
hostile('version 8', get($ws, 'Upgrade: websocket', 'Connection: Upgrade',
        'Sec-WebSocket-Version: 8', $key), status => 426,
        code => 'E_BAD_REQUEST');
hostile('no key', get($ws, @up), status => 400, code => 'E_BAD_REQUEST',
        message => qr/Sec-WebSocket-Key/);
for my $k ('!!!!', 'dGhlIHNhbXBsZSBub25jZQ', 'A' x 5000,
           "dGhlIHNhbXBsZSBub25jZQ==\xff")
{
    hostile('key ' . substr($k, 0, 24), get($ws, @up,
            "Sec-WebSocket-Key: $k"), status => 400,
            code => 'E_BAD_REQUEST', message => qr/Sec-WebSocket-Key/);
}
hostile('NUL in the key', get($ws, @up, "Sec-WebSocket-Key: a\0b"),
        status => 400);
hostile('a 10 KB query', get("$ws?since=" . ('9' x 10000), @up, $key),
        status => 414, code => 'E_TOO_LARGE');
--- no_error_log
[error]



=== TEST 12: after every hostile request: nothing stored has changed
--- config
    location / {
        pattern_rt_api;
    }
--- request
GET /health
--- post_request
my $after = snapshot();
for my $k (sort keys %$BEFORE) {
    is_deeply($after->{$k}, $BEFORE->{$k}, "$k unchanged");
}
my $h = call_api('GET', '/health')->{json};
ok($h->{engine}{pid}, 'the engine still answers');
--- no_error_log
[error]
