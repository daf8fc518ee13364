# GET /metrics (pattern_rt_metrics, docs/metrics.md): the Prometheus text
# exposition format checked by Prometheus's own `promtool check metrics`,
# and counters that move with traffic: a job, a POST /bars batch and
# WebSocket connections between two scrapes. Every expected change is the
# traffic this test made (symbols sent, bars accepted, connections opened),
# never a value read back from the engine. Both nginx workers' counters are
# in every scrape, whichever worker answers; with the engine down the
# workers' counters are still served, with pattern_rt_engine_up 0.

use lib 't/lib';
use PatternRT::Test;
use File::Temp qw(tempfile);
use IPC::Run ();
use JSON::PP ();
use Time::Local qw(timegm);

use PatternRT::Jobs qw(call_api run_job wait_job);
use PatternRT::WebSocket ();
use PatternRT::WSEvents qw(wait_connected);
use PatternRT::Util qw(wait_until);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo";

our $PROMTOOL = $ENV{PROMTOOL}
    // (grep { -x } map { "$_/promtool" } split /:/, $ENV{PATH})[0];
plan(skip_all => 'promtool not found (Debian package prometheus): '
                 . '/metrics is not checked')
    unless $PROMTOOL && -x $PROMTOOL;

# a trading minute of the fixture's last day (10:00 New York time)
engine_config(data => "$FIXTURES/demo", clock => '2024-01-05T15:00:00Z');

our @SYMBOLS = ('SRWX', 'GOOZ', 'NOSUCH');
our $NWS = 3;

# `promtool check metrics` of $text: [exit code, what it said]
sub promtool_check {
    my ($text) = @_;

    my ($out, $err) = ('', '');
    IPC::Run::run([$PROMTOOL, 'check', 'metrics'], '<', \$text,
                  '>', \$out, '2>', \$err, IPC::Run::timeout(60));
    return [$? >> 8, $out . $err];
}

sub scrape {
    my $r = http_get('/metrics');
    die "GET /metrics: " . $r->code . "\n" unless $r->code == 200;
    return $r->content;
}

# { 'name{labels}' => value } of the samples, labels as written
sub samples {
    my ($text) = @_;

    my %s;
    for my $line (split /\n/, $text) {
        next if $line =~ /^#/ || $line eq '';
        $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?) (\S+)$/
            or die "not a sample line: $line\n";
        $s{$1} = $2 eq '+Inf' ? 9**9**9 : $2 + 0;
    }
    return \%s;
}

# the sum of a family's samples whose labels match $re (all by default)
sub total {
    my ($s, $name, $re) = @_;

    my $sum = 0;
    for my $k (keys %$s) {
        next unless $k =~ /^\Q$name\E(?:\{(.*)\})?$/;
        my $labels = $1 // '';
        $sum += $s->{$k} if !$re || $labels =~ $re;
    }
    return $sum;
}

sub workers_in {
    my ($s) = @_;

    my %w;
    for my $k (keys %$s) {
        $w{$1} = 1 if $k =~ /^pattern_rt_ws_accepted_total\{worker="(\d+)"\}$/;
    }
    return join ',', sort keys %w;
}

# every histogram: buckets cumulative, +Inf equal to _count
sub histogram_problems {
    my ($s) = @_;

    my (%buckets, @bad);
    for my $k (keys %$s) {
        next unless $k =~ /^(\w+)_bucket\{(.*?),?le="([^"]+)"\}$/;
        push @{ $buckets{"$1\{$2\}"} }, [$3 eq '+Inf' ? 9**9**9 : $3, $s->{$k}];
    }
    for my $h (sort keys %buckets) {
        my @b = sort { $a->[0] <=> $b->[0] } @{ $buckets{$h} };
        for my $i (1 .. $#b) {
            push @bad, "$h: bucket le=$b[$i][0] below the one before"
                if $b[$i][1] < $b[$i - 1][1];
        }
        my ($name, $labels) = $h =~ /^(\w+)\{(.*)\}$/;
        my $count = $s->{$labels eq '' ? "${name}_count"
                                       : "${name}_count{$labels}"};
        push @bad, "$h: +Inf $b[-1][1] but _count " . ($count // 'missing')
            unless defined $count && $count == $b[-1][1];
    }
    return @bad;
}

# one AM event of SRWX at 09:58 New York time on the fixture's last day
sub bar_batch {
    my $s = (timegm(0, 58, 14, 5, 0, 2024)) * 1000;   # 09:58 EST
    return [{ ev => 'AM', sym => 'SRWX', v => 1000, o => 10, c => 10.5,
              h => 10.6, l => 9.9, s => $s, e => $s + 60000 }];
}

run_tests();

__DATA__

=== TEST 1: valid exposition text; counters move with a job, bars and WebSocket connections
--- config
    location / {
        pattern_rt_api;
    }
    location = /ws/pattern-realtime {
        pattern_rt_websocket;
    }
    location = /metrics {
        pattern_rt_metrics;
    }
--- init
wait_connected(worker_pids());
# both workers have published their blocks (the sync is a second at most)
wait_until(sub {
    my $s = samples(scrape());
    workers_in($s) eq '0,1'
        && total($s, 'pattern_rt_worker_engine_connected') == 2;
}, 10, 'both workers in /metrics, connected');
our $before_text = scrape();
our $before = samples($before_text);

our $job = run_job({ symbols => [@SYMBOLS] });
our $done = wait_job($job->{job_id}, 60);
our $bars = call_api('POST', '/api/pattern-realtime/bars', bar_batch());
our @ws = map {
    my $c = PatternRT::WebSocket->connect(port => server_port());
    $c->status == 101 or die "WebSocket handshake: " . $c->status . "\n";
    $c;
} 1 .. $NWS;

# the other worker's block is copied within a second: wait for what this
# test did to show in a scrape, whichever worker answers it
our $after;
my $moved = sub {
    my ($name, $re) = @_;
    return total($after, $name, $re) - total($before, $name, $re);
};
wait_until(sub {
    $after = samples(scrape());
    total($after, 'pattern_rt_ws_connections') == $NWS
        && $moved->('pattern_rt_ws_accepted_total') == $NWS
        && $moved->('pattern_rt_http_request_duration_seconds_count',
                    qr{route="/api/pattern-realtime/run"}) == 1
        && $moved->('pattern_rt_http_request_duration_seconds_count',
                    qr{route="/api/pattern-realtime/bars"}) == 1;
}, 15, 'the traffic to show in /metrics');
our $after_text = scrape();
--- request
GET /metrics
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- post_request
my $check = promtool_check($before_text);
is($check->[0], 0, 'promtool check metrics: the first scrape') or diag($check->[1]);
$check = promtool_check($after_text);
is($check->[0], 0, 'promtool check metrics: after traffic') or diag($check->[1]);

is($after->{pattern_rt_engine_up}, 1, 'pattern_rt_engine_up 1');
is(workers_in($after), '0,1', 'both workers reported, whichever answered');
is($bars->{code}, 200, 'POST /bars accepted') or diag($bars->{body});
is($done->{status}, 'completed', 'the job completed');

my $d = sub { total($after, @_) - total($before, @_) };
is($d->('pattern_rt_jobs_started_total'), 1, 'jobs started: +1');
is($d->('pattern_rt_jobs_finished_total', qr/status="completed"/), 1,
   'jobs finished completed: +1');
is($after->{pattern_rt_jobs_running}, 0, 'no job running');
is($d->('pattern_rt_symbols_scanned_total'), scalar @SYMBOLS,
   'symbols scanned: + the symbols sent');
is($d->('pattern_rt_predictions_total') + $d->('pattern_rt_symbol_failures_total'),
   scalar @SYMBOLS, 'predictions + failures: one per symbol sent');
cmp_ok($d->('pattern_rt_symbol_failures_total'), '>=', 1, 'NOSUCH failed');
is($d->('pattern_rt_job_scan_seconds_count'), 1, 'job scan histogram: +1');
cmp_ok($d->('pattern_rt_chunk_search_seconds_count'), '>=', 1,
       'chunk search histogram: at least one chunk');
is($d->('pattern_rt_bars_ingested_total'), 1, 'bars ingested: +1');
cmp_ok($d->('pattern_rt_store_records', qr/kind="predictions"/) , '==',
       $d->('pattern_rt_predictions_total'),
       'store predictions grew by the predictions committed');

is(total($after, 'pattern_rt_ws_connections'), $NWS, 'WebSocket connections open');
is($d->('pattern_rt_ws_accepted_total'), $NWS, 'WebSocket connections accepted: +3');
is(total($after, 'pattern_rt_worker_engine_connected'), 2, 'both workers connected');
is($d->('pattern_rt_http_request_duration_seconds_count',
        qr{route="/api/pattern-realtime/run"}), 1, 'latency of POST /run: +1');
is($d->('pattern_rt_http_request_duration_seconds_count',
        qr{route="/api/pattern-realtime/bars"}), 1, 'latency of POST /bars: +1');
ok(exists $after->{'pattern_rt_http_request_duration_seconds_bucket{route="/api/pattern-realtime/job/{param}",le="+Inf"}'},
   'routes with a parameter are labelled by their pattern');
cmp_ok(total($after, 'pattern_rt_index_patterns'), '>', 0, 'an index is loaded');
cmp_ok(total($after, 'pattern_rt_lmdb_used_bytes', qr/store="store"/), '>', 0,
       'the job store\'s LMDB use');
ok(defined $after->{pattern_rt_feed_lag_seconds}, 'feed lag after a bar');

my @bad = histogram_problems($after);
ok(!@bad, 'every histogram cumulative, +Inf == _count') or diag(join "\n", @bad);
$_->close_socket for @ws;
--- no_error_log
[error]



=== TEST 2: engine down: the workers' counters still served, engine_up 0
--- config
    location / {
        pattern_rt_api;
    }
    location = /metrics {
        pattern_rt_metrics;
    }
--- init
wait_connected(worker_pids());
# each worker's block shows its connection (copied within a second)
wait_until(sub {
    total(samples(scrape()), 'pattern_rt_worker_engine_connects_total') == 2
}, 10, 'both workers\' connections in /metrics');
engine_kill('KILL');
wait_until(sub { http_get('/health')->code == 503 }, 5, 'workers to see the engine gone');
our $down;
wait_until(sub {
    $down = samples(scrape());
    total($down, 'pattern_rt_worker_engine_disconnects_total') == 2;
}, 10, 'both workers to count the engine gone');
our $down_text = scrape();
--- request
GET /metrics
--- error_code: 200
--- post_request
my $check = promtool_check($down_text);
is($check->[0], 0, 'promtool check metrics: engine down') or diag($check->[1]);
is($down->{pattern_rt_engine_up}, 0, 'pattern_rt_engine_up 0');
ok(!exists $down->{pattern_rt_jobs_started_total}, 'no engine metrics');
is(total($down, 'pattern_rt_worker_engine_connected'), 0,
   'no worker connected');
is(workers_in($down), '0,1', 'both workers reported');
engine_start();



=== TEST 3: only GET and HEAD
--- config
    location = /metrics {
        pattern_rt_metrics;
    }
--- request
POST /metrics
--- error_code: 405
--- response_json
{"error": {"code": "E_METHOD"}}
