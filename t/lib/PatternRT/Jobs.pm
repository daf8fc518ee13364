package PatternRT::Jobs;

# Helpers for the Pattern Real-Time job suites (t/050-jobs.t,
# t/051-jobs-real.t, t/052-jobs-durability.t): requests to the current test
# file's nginx, waiting for a job to end, the shape every job answer must
# have (SPEC 5.1 and the front end's [fe] contract), and a small reader of
# Polygon flat files so expectations come from the bars themselves, not from
# the engine.
#
# The *_problems functions return a list of human-readable problems (empty
# when all is well) instead of running tests, so a suite can check a whole
# job with one ok() and print every problem found.

use strict;
use warnings;

use Carp qw(croak);
use Exporter 'import';
use HTTP::Request;
use IPC::Run ();
use JSON::PP ();
use LWP::UserAgent;
use POSIX ();
use Scalar::Util qw(looks_like_number);
use Time::Local ();

use PatternRT::Bars ();
use PatternRT::Util qw(wait_until);

our @EXPORT_OK = qw(
    PRT call_api call_api_raw run_job get_job job_status wait_job_status
    wait_job wait_engine_idle health wait_workers_connected
    is_uuid is_iso_z is_num is_int
    job_problems result_problems failure_problems ranking_problems
    unknown_symbols big_symbols read_flat_day ny_local ny_instant iso_z iso_seconds iso_ms
    expected_scan close_enough get_json history_all replay_command
);

use constant PRT => '/api/pattern-realtime';

my $JSON = JSON::PP->new->canonical->allow_nonref;
my $TIMEOUT = 30;                 # seconds per request: big job bodies
our $REPLAY_TIMEOUT = 300;        # seconds for one replay command
my $MAX_STALENESS_S = 300;        # the engine's default max_staleness_s
my $WINDOW = 30;                  # bars in a pattern (SPEC 2.2)

# ---------------------------------------------------------------------------
# Requests

# One request to this test file's nginx (PatternRT::Test, loaded by the
# suite, knows its port). $body: undef, a string sent as is,
# or a reference sent as JSON. @headers: name => value pairs. Returns
# { code, body, json (undef unless the body is JSON), response }.
sub call_api {
    my ($method, $path, $body, @headers) = @_;

    my $r = call_api_raw($method, $path, $body, @headers);
    $r->{json} = eval { $JSON->decode($r->{body}) };
    return $r;
}

# The same without decoding the body: JSON::PP takes about a second for
# the megabytes of a 10,000-symbol job's failures, and some checks must act
# on an answer at once (kill the engine while the job still runs).
sub call_api_raw {
    my ($method, $path, $body, @headers) = @_;

    my $ua = LWP::UserAgent->new(timeout => $TIMEOUT, keep_alive => 0);
    my $url = 'http://127.0.0.1:' . PatternRT::Test::server_port() . $path;
    my $req = HTTP::Request->new($method, $url, [@headers]);
    if (defined $body) {
        $req->content(ref $body ? $JSON->encode($body) : $body);
        $req->header('Content-Type' => 'application/json');
    }
    my $res = $ua->request($req);
    return { code => $res->code, body => $res->content, response => $res };
}

sub _expect {
    my ($r, $code, $what) = @_;

    return $r->{json} if $r->{code} == $code && ref $r->{json} eq 'HASH';
    croak "$what: want $code and a JSON object, got $r->{code}: "
          . substr($r->{body} // '', 0, 500);
}

# POST /run; the 202 answer (dies on anything else).
sub run_job {
    my ($body) = @_;

    return _expect(call_api('POST', PRT . '/run', $body), 202, 'POST /run');
}

# GET $path; its JSON object (dies on anything else).
sub get_json {
    my ($path) = @_;

    my $r = call_api('GET', $path);
    die "GET $path: $r->{code} $r->{body}\n"
        unless $r->{code} == 200 && ref $r->{json} eq 'HASH';
    return $r->{json};
}

# Every prediction GET /history has, all its pages.
sub history_all {
    my @items;
    for (my $offset = 0; ; $offset += 1000) {
        my $page = get_json(PRT . "/history?limit=1000&offset=$offset");
        push @items, @{ $page->{items} };
        return @items if @{ $page->{items} } < 1000;
    }
}

# `pattern-rt-engine replay` of the flat files in $data against this
# test's nginx: { code, out, err, cmd }.
sub replay_command {
    my ($data, @args) = @_;

    my @cmd = ($ENV{TEST_PRT_ENGINE} || 'build/pattern-rt-engine', 'replay',
               '--url', 'http://127.0.0.1:' . PatternRT::Test::server_port(),
               '--data', $data, @args);
    my ($out, $err) = ('', '');
    IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err,
                  IPC::Run::timeout($REPLAY_TIMEOUT));
    return { code => $? >> 8, out => $out, err => $err,
             cmd => join ' ', @cmd };
}

# GET /job/{id}; the 200 answer (dies on anything else).
# A cancelled job answers 410 Gone with the whole job in the body
# (docs/decisions.md: the front end polls until a non-2xx).
sub get_job {
    my ($id) = @_;

    my $r = call_api('GET', PRT . "/job/$id");
    my $cancelled = ref $r->{json} eq 'HASH'
                    && ($r->{json}{status} // '') eq 'cancelled';
    return _expect($r, $cancelled ? 410 : 200, "GET /job/$id");
}

# The job's status and progress, cheaply: GET /job/{id}/results?limit=1
# has the job's fields without the failures list.
sub job_status {
    my ($id) = @_;

    return _expect(call_api('GET', PRT . "/job/$id/results?limit=1"), 200,
                   "GET /job/$id/results");
}

# Polls the job until $pred is true of its status answer or the job is no
# longer running; returns that answer.
sub wait_job_status {
    my ($id, $pred, $what, $timeout) = @_;

    return wait_until(sub {
        my $st = job_status($id);
        $st->{status} ne 'running' || $pred->($st) ? $st : undef;
    }, $timeout // 60, $what // "job $id");
}

# Waits until the job is no longer running; returns GET /job/{id}.
sub wait_job {
    my ($id, $timeout) = @_;

    wait_job_status($id, sub { 0 }, "job $id to end", $timeout);
    return get_job($id);
}

sub health {
    return _expect(call_api('GET', '/health'), 200, 'GET /health');
}

# After an engine (re)start: waits until every nginx worker of this test
# is attached to the engine again, so that the next request, whichever
# worker takes it, reaches the engine.
sub wait_workers_connected {
    my ($timeout) = @_;

    return wait_until(sub {
        my $r = call_api('GET', '/health');
        return 0 unless $r->{code} == 200 && ref $r->{json} eq 'HASH';
        my %attached = map { $_->{worker_pid} => 1 }
                       @{ $r->{json}{ipc}{workers} // [] };
        my @workers = PatternRT::Test::worker_pids();
        @workers && !grep { !$attached{$_} } @workers;
    }, $timeout // 10, 'every nginx worker to attach to the engine');
}

# Waits until no job runs and no chunk is on a worker thread: after a
# cancel, the chunks already handed out still commit.
sub wait_engine_idle {
    my ($timeout) = @_;

    return wait_until(sub {
        my $j = health()->{jobs};
        $j->{running} == 0 && $j->{chunks_in_flight} == 0 ? $j : undef;
    }, $timeout // 30, 'the engine to finish every job');
}

# ---------------------------------------------------------------------------
# Value predicates

sub is_num {
    my ($v) = @_;

    return defined $v && !ref $v && looks_like_number($v);
}

sub is_int {
    my ($v) = @_;

    return is_num($v) && $v =~ /\A-?\d+\z/;
}

sub is_uuid {
    my ($v) = @_;

    return defined $v && !ref $v
        && $v =~ /\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\z/;
}

sub is_iso_z {
    my ($v) = @_;

    return defined $v && !ref $v
        && $v =~ /\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z\z/;
}

# |got - want| <= tol, relative to the size of want when it exceeds 1.
sub close_enough {
    my ($got, $want, $tol) = @_;

    return 0 unless is_num($got) && is_num($want);
    my $scale = abs($want) > 1 ? abs($want) : 1;
    return abs($got - $want) <= $tol * $scale;
}

# ---------------------------------------------------------------------------
# Answer shapes (SPEC 5.1)

my @RESULT_NUMBERS = qw(prob_up prob_down mean_return edge dist1 p10 p90
                        price_at_scan);
my @VERIFICATION_FIELDS = qw(price_at_horizon actual_return was_correct pnl
                             verified_at);

sub _show {
    my ($v) = @_;

    return defined $v ? (ref $v ? $JSON->encode($v) : "'$v'") : 'null';
}

# A result that is not verified yet (every job of these suites runs on a
# fixed clock before the predictions are due).
sub result_problems {
    my ($r) = @_;

    return ('a result is not an object: ' . _show($r)) unless ref $r eq 'HASH';
    my $sym = $r->{symbol} // '?';
    my @p;
    push @p, "$sym: id " . _show($r->{id}) . ' is not a positive integer'
        unless is_int($r->{id}) && $r->{id} > 0;
    push @p, "$sym: prediction_id " . _show($r->{prediction_id})
             . ' != id ' . _show($r->{id})
        unless is_num($r->{prediction_id}) && is_num($r->{id})
               && $r->{prediction_id} == $r->{id};
    push @p, "$sym: job_id is not a UUID" unless is_uuid($r->{job_id});
    for my $k (@RESULT_NUMBERS) {
        push @p, "$sym: $k is " . _show($r->{$k}) . ', not a number'
            unless is_num($r->{$k});
    }
    for my $k (qw(scan_time bar_time)) {
        push @p, "$sym: $k " . _show($r->{$k}) . ' is not ISO-8601 with Z'
            unless is_iso_z($r->{$k});
    }
    push @p, "$sym: direction " . _show($r->{direction})
        unless ($r->{direction} // '') =~ /\A(?:UP|DOWN)\z/;
    push @p, "$sym: session " . _show($r->{session})
        unless ($r->{session} // '') =~ /\A(?:pre|regular|post)\z/;
    push @p, "$sym: n_neighbors " . _show($r->{n_neighbors})
        unless is_int($r->{n_neighbors}) && $r->{n_neighbors} > 0;
    push @p, "$sym: horizon " . _show($r->{horizon})
        unless is_int($r->{horizon});
    for my $k (@VERIFICATION_FIELDS) {
        push @p, "$sym: $k is " . _show($r->{$k}) . ' before verification'
            if !exists $r->{$k} || defined $r->{$k};
    }
    if (is_num($r->{edge})) {
        push @p, "$sym: edge $r->{edge} < 0" if $r->{edge} < 0;
    }
    if (is_num($r->{prob_up}) && is_num($r->{prob_down})) {
        push @p, "$sym: prob_up + prob_down != 1"
            unless abs($r->{prob_up} + $r->{prob_down} - 1) < 1e-12;
    }
    if (is_num($r->{mean_return}) && defined $r->{direction}) {
        my $want = $r->{mean_return} >= 0 ? 'UP' : 'DOWN';
        push @p, "$sym: direction $r->{direction} with mean_return "
                 . "$r->{mean_return}" unless $r->{direction} eq $want;
    }
    return @p;
}

sub failure_problems {
    my ($f) = @_;

    return ('a failure is not an object: ' . _show($f))
        unless ref $f eq 'HASH';
    my $sym = $f->{symbol} // '?';
    my @p;
    push @p, "failure without a symbol: " . _show($f)
        unless defined $f->{symbol} && !ref $f->{symbol};
    push @p, "$sym: scan_time " . _show($f->{scan_time})
        unless is_iso_z($f->{scan_time});
    push @p, "$sym: error_code " . _show($f->{error_code})
        unless ($f->{error_code} // '') =~ /\AE_[A-Z_]+\z/;
    push @p, "$sym: reason " . _show($f->{reason}) . ' is not a text'
        unless defined $f->{reason} && !ref $f->{reason}
               && length $f->{reason};
    for my $k (qw(bars_since_open bars_until_close)) {
        push @p, "$sym: $k missing" unless exists $f->{$k};
        push @p, "$sym: $k " . _show($f->{$k})
            if defined $f->{$k} && !is_int($f->{$k});
    }
    return @p;
}

# Are the results in descending order of $key (edge unless given)?
sub ranking_problems {
    my ($results, $key) = @_;

    $key //= 'edge';
    my @p;
    for my $i (1 .. $#$results) {
        my ($a, $b) = @$results[$i - 1, $i];
        push @p, "results[$i] $b->{symbol} $key $b->{$key} ranks below "
                 . "$a->{symbol} $key $a->{$key}"
            if $b->{$key} > $a->{$key};
    }
    return @p;
}

# GET /job/{id} (SPEC 5.1, [fe]): progress always there, results and
# failures always arrays, every result and failure well formed, results
# ranked by edge, only edge >= min_edge, and no more than progress says.
sub job_problems {
    my ($job) = @_;

    return ('the job is not an object') unless ref $job eq 'HASH';
    my @p;
    push @p, 'job_id is not a UUID' unless is_uuid($job->{job_id});
    push @p, 'status ' . _show($job->{status})
        unless ($job->{status} // '')
               =~ /\A(?:running|completed|failed|cancelled)\z/;
    my $pr = $job->{progress};
    if (ref $pr eq 'HASH') {
        for my $k (qw(completed failed total)) {
            push @p, "progress.$k " . _show($pr->{$k})
                unless is_int($pr->{$k}) && $pr->{$k} >= 0;
        }
    } else {
        push @p, 'progress is ' . _show($pr) . ', not an object';
    }
    push @p, 'started_at ' . _show($job->{started_at})
        unless is_iso_z($job->{started_at});
    if (($job->{status} // '') eq 'running') {
        push @p, 'completed_at ' . _show($job->{completed_at})
                 . ' while running' if defined $job->{completed_at};
    } else {
        push @p, 'completed_at ' . _show($job->{completed_at})
            unless is_iso_z($job->{completed_at});
    }
    my ($res, $fails) = @$job{qw(results failures)};
    push @p, 'results is ' . _show($res) . ', not an array'
        unless ref $res eq 'ARRAY';
    push @p, 'failures is ' . _show($fails) . ', not an array'
        unless ref $fails eq 'ARRAY';
    return @p if @p;

    push @p, map { result_problems($_) } @$res;
    push @p, map { failure_problems($_) } @$fails;
    return @p if @p;

    push @p, ranking_problems($res);
    my $min_edge = $job->{params}{min_edge} // 0;
    push @p, map { "$_->{symbol}: edge $_->{edge} < min_edge $min_edge" }
             grep { $_->{edge} < $min_edge } @$res;
    push @p, map { "$_->{symbol}: job_id $_->{job_id}" }
             grep { $_->{job_id} ne $job->{job_id} } @$res;
    push @p, sprintf('%d results but progress.completed %d', scalar @$res,
                     $pr->{completed})
        if @$res > $pr->{completed};
    push @p, sprintf('%d failures but progress.failed %d', scalar @$fails,
                     $pr->{failed})
        if @$fails != $pr->{failed};
    push @p, sprintf('progress %d + %d > total %d', $pr->{completed},
                     $pr->{failed}, $pr->{total})
        if $pr->{completed} + $pr->{failed} > $pr->{total};
    my %seen;
    push @p, map { "$_ scanned twice" }
             grep { $seen{$_}++ }
             map { $_->{symbol} } @$res, @$fails;
    return @p;
}

# ---------------------------------------------------------------------------
# Symbols

# $n distinct symbols that no fixture has: X0001, X0002, ... (the fixtures'
# generated tickers are letters only; the real ones have no digits).
sub unknown_symbols {
    my ($n, $prefix) = @_;

    $prefix //= 'X';
    my $width = length($n) < 4 ? 4 : length $n;
    return map { sprintf '%s%0*d', $prefix, $width, $_ } 1 .. $n;
}

# 10,000 symbols (the default limit): one of @tickers every 160 places,
# unknown ones between, so a job of one symbol a chunk runs long enough to
# be killed or cancelled in the middle.
sub big_symbols {
    my (@tickers) = @_;

    my @unknown = unknown_symbols(10000 - @tickers);
    my @all;
    for my $i (0 .. $#tickers) {
        push @all, splice(@unknown, 0, 159), $tickers[$i];
    }
    return (@all, @unknown);
}

# ---------------------------------------------------------------------------
# New York time (the system's zone database, DST-correct)

sub _in_new_york {
    my ($code) = @_;

    my $old = $ENV{TZ};
    $ENV{TZ} = 'America/New_York';
    POSIX::tzset();
    my @r = eval { $code->() };
    my $err = $@;
    if (defined $old) {
        $ENV{TZ} = $old;
    } else {
        delete $ENV{TZ};
    }
    POSIX::tzset();
    die $err if $err;
    return wantarray ? @r : $r[0];
}

# UTC seconds -> (YYYY-MM-DD, minutes after 00:00) in New York.
sub ny_local {
    my ($t) = @_;

    my @l = _in_new_york(sub { localtime $t });
    return (sprintf('%04d-%02d-%02d', $l[5] + 1900, $l[4] + 1, $l[3]),
            $l[2] * 60 + $l[1]);
}

# (YYYY-MM-DD, HH:MM) New York wall time -> UTC seconds.
sub ny_instant {
    my ($date, $hhmm) = @_;

    my ($y, $m, $d) = $date =~ /\A(\d{4})-(\d\d)-(\d\d)\z/
        or croak "ny_instant: bad date '$date'";
    my ($hh, $mm) = $hhmm =~ /\A(\d\d):(\d\d)\z/
        or croak "ny_instant: bad time '$hhmm'";
    return _in_new_york(sub {
        POSIX::mktime(0, $mm, $hh, $d, $m - 1, $y - 1900, 0, 0, -1);
    });
}

sub iso_z {
    my ($t) = @_;

    return POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $t);
}

# "YYYY-MM-DDTHH:MM:SS[.fff]Z" -> UTC milliseconds.
sub iso_ms {
    my ($iso) = @_;

    my ($y, $mo, $d, $h, $mi, $s, $frac) =
        ($iso // '') =~ /\A(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z\z/
        or croak 'not an ISO-8601 UTC time: ' . ($iso // 'null');
    return Time::Local::timegm($s, $mi, $h, $d, $mo - 1, $y) * 1000
           + int(($frac // 0) * 1000 + 0.5);
}

# "YYYY-MM-DDTHH:MM:SS[.fff]Z" -> UTC seconds (the fraction dropped).
sub iso_seconds {
    my ($iso) = @_;

    my @f = ($iso // '')
            =~ /\A(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?Z\z/
        or croak 'not an ISO-8601 UTC time: ' . ($iso // 'undef');
    return Time::Local::timegm($f[5], $f[4], $f[3], $f[2], $f[1] - 1, $f[0]);
}

# ---------------------------------------------------------------------------
# Flat files (SPEC 2.1) and what a scan must make of them

# One day's gzip CSV: PatternRT::Bars::read_day ({ date, path, tickers =>
# { T => [ {start, minute, close, volume, ...} ] } }, bars in time order).
sub read_flat_day {
    my ($path) = @_;

    return PatternRT::Bars::read_day($path);
}

# What a scan at UTC second $clock must give a ticker whose bars of that
# New York day are @$bars (SPEC 2.2, 4): ('OK', $bar) with the bar the
# window ends at, ('E_NO_DATA', why) or ('E_WINDOW', why).
#
# A stale latest bar is E_NO_DATA whatever its window looks like: the data
# is too old to say anything about now. For such a ticker a third value,
# 'E_WINDOW', says that its window is not valid either, so a suite can
# tell that precedence apart from other mistakes. $max_stale defaults to
# the engine's 300 s.
sub expected_scan {
    my ($bars, $clock, $max_stale) = @_;

    $max_stale //= $MAX_STALENESS_S;
    my @done = grep { $_->{start} + 60 <= $clock } @{ $bars // [] };
    return ('E_NO_DATA', 'no complete bar') unless @done;
    my $last = $done[-1];
    my $age = $clock - ($last->{start} + 60);
    if ($age > $max_stale) {
        my ($window) = _window_check(\@done);
        return ('E_NO_DATA', "latest bar ended $age s ago",
                $window eq 'OK' ? () : ('E_WINDOW'));
    }
    my ($code, $why) = _window_check(\@done);
    return $code eq 'OK' ? ('OK', $last) : ($code, $why);
}

# The window ending at the last of @$done (SPEC 2.2): ('OK') or
# ('E_WINDOW', why).
sub _window_check {
    my ($done) = @_;

    my @done = @$done;
    return ('E_WINDOW', 'fewer than 30 bars') if @done < $WINDOW;
    my @w = @done[-$WINDOW .. -1];
    return ('E_WINDOW', 'a minute is missing')
        unless $w[-1]{start} - $w[0]{start} == ($WINDOW - 1) * 60;
    my @r = map { log($w[$_]{close} / $w[$_ - 1]{close}) } 1 .. $#w;
    my $mean = 0;
    $mean += $_ / @r for @r;
    my $var = 0;
    $var += ($_ - $mean) ** 2 / @r for @r;
    return ('E_WINDOW', 'flat window') unless $var > 0;
    return ('OK');
}

1;
