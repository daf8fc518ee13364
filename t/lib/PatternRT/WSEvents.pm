package PatternRT::WSEvents;

# Helpers for the WebSocket event suites (t/071-websocket-clients.t,
# t/072-websocket-slow.t):
#
# * the demo fixture's bars, read from its flat files, posted minute by
#   minute through POST /bars to move an engine on the `feed` clock (SPEC 4,
#   6), so price_update and verification events come when the test says;
# * the real client programs of t/clients/ (Python `websockets`, Node
#   `ws`) run in the background, their JSON-lines output collected;
# * checks of a recorded event stream against the job as REST tells it and
#   against what the bars say (the *_problems functions return a list of
#   readable problems, empty when all is well).

use strict;
use warnings;

use Carp qw(croak);
use Exporter 'import';
use IPC::Run ();
use JSON::PP ();
use Time::HiRes qw(time sleep);
use Time::Local qw(timegm);

use PatternRT::Jobs qw(call_api is_iso_z is_int is_num close_enough
                       read_flat_day);
use PatternRT::Util qw(wait_until);
use PatternRT::WebSocket;

our @EXPORT_OK = qw(
    flat_day bar_at close_at post_minute feed_clock iso_to_s price_event_count
    replay_events
    connections_per_process wait_connected
    client_command start_client wait_record wait_ready finish_client
    client_messages
    client_events seq_problems job_stream_problems verification_problems
);

my $JSON = JSON::PP->new->canonical->allow_nonref;
my $BARS = '/api/pattern-realtime/bars';

# ---------------------------------------------------------------------------
# Bars and the feed clock

# A flat file (Polygon minute aggregates): PatternRT::Jobs::read_flat_day.
sub flat_day {
    my ($path) = @_;

    return read_flat_day($path);
}

# The bar of $sym starting at $start (UTC s), or undef.
sub bar_at {
    my ($day, $sym, $start) = @_;

    my ($b) = grep { $_->{start} == $start } @{ $day->{tickers}{$sym} || [] };
    return $b;
}

# C(u) of SPEC 2.3: the close of the latest bar of $sym starting at or
# before $u, that day.
sub close_at {
    my ($day, $sym, $u) = @_;

    my $c;
    for my $b (@{ $day->{tickers}{$sym} || [] }) {
        last if $b->{start} > $u;
        $c = $b->{c};
    }
    return $c;
}

# Posts every bar of the day starting at $start (UTC s) as Polygon AM events;
# returns the number of bars posted (dies unless all are accepted).
sub post_minute {
    my ($day, $start) = @_;

    my @events;
    for my $sym (sort keys %{ $day->{tickers} }) {
        my $b = bar_at($day, $sym, $start) or next;
        push @events, { ev => 'AM', sym => $sym, v => $b->{v} + 0,
                        o => $b->{o} + 0, h => $b->{h} + 0,
                        l => $b->{l} + 0, c => $b->{c} + 0,
                        s => $start * 1000, e => ($start + 60) * 1000 };
    }
    my $r = call_api('POST', $BARS, $JSON->encode(\@events));
    die "POST $BARS: $r->{code} $r->{body}\n"
        unless $r->{code} == 200 && ($r->{json}{accepted} // -1) == @events;
    return scalar @events;
}

sub iso_to_s {
    my ($iso) = @_;

    my ($y, $m, $d, $H, $M, $S, $frac) =
        ($iso // '') =~ /\A(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z\z/
        or return undef;
    return timegm($S, $M, $H, $d, $m - 1, $y) + ($frac // 0);
}

# Waits until each nginx worker of @pids has answered GET /health with
# engine_connected (workers reach the engine on their own after a start,
# a reload or an engine restart; a request to one still connecting is 503).
sub wait_connected {
    my (@pids) = @_;

    my %up;
    wait_until(sub {
        my $r = call_api('GET', '/health');
        my $n = ref $r->{json} eq 'HASH' ? $r->{json}{nginx} : undef;
        $up{$n->{worker_pid}} = 1
            if $r->{code} == 200 && $n && $n->{engine_connected};
        return !grep { !$up{$_} } @pids;
    }, 15, 'every nginx worker (' . join(' ', @pids) . ') to reach the engine');
}

# The engine's clock now (UTC s), from GET /health.
sub feed_clock {
    my $r = call_api('GET', '/health');
    die "GET /health: $r->{code}\n" unless $r->{code} == 200;
    return iso_to_s($r->{json}{market}{now});
}

# The number of price_update events the predictions @$results get from the
# bars posted (@$posted, bar starts): one per bar of the symbol ending
# before t+h, and the final one at verification.
sub price_event_count {
    my ($results, $day, $posted) = @_;

    my $n = 0;
    for my $r (@$results) {
        my $due = iso_to_s($r->{bar_time}) + 60 * $r->{horizon};
        $n += 1 + grep { $_ + 60 < $due && bar_at($day, $r->{symbol}, $_) }
                  @$posted;
    }
    return $n;
}

# What the engine keeps of a stream: the events a raw client gets by
# subscribing with since 0 (%target: job_id or channel; path: another
# WebSocket location), up to the one $last->($event) is true for.
sub replay_events {
    my ($port, $last, %target) = @_;

    my $path = delete $target{path};
    my $w = PatternRT::WebSocket->connect(port => $port,
                                          $path ? (path => $path) : ());
    die "replay: handshake $w->{response}{status}\n" unless $w->status == 101;
    $w->send_json({type => 'subscribe', %target, since => 0});
    my @got = $w->messages_until(sub { $_[0]{seq} && $last->($_[0]) }, 10);
    my @events = grep { defined $_->{seq} } @got;
    die 'replay: the stream ended before its last event: '
        . $JSON->encode($got[-1] // 'nothing') . "\n"
        unless @events && $last->($events[-1]);
    $w->send_close(1000);
    return @events;
}

# How many established TCP connections to local port $port each of @pids
# holds, read from /proc (the kernel's view, not the server's own count):
# { pid => n }.
sub connections_per_process {
    my ($port, @pids) = @_;

    my %inode;
    for my $table ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $table or next;
        <$fh>;
        while (my $line = <$fh>) {
            my @f = split ' ', $line;
            my ($lport) = $f[1] =~ /:([0-9A-F]{4})\z/ or next;
            # state 01: ESTABLISHED; field 9: the socket's inode
            $inode{$f[9]} = 1 if hex($lport) == $port && $f[3] eq '01';
        }
    }
    my %n;
    for my $pid (@pids) {
        $n{$pid} = 0;
        opendir my $d, "/proc/$pid/fd" or next;
        for my $fd (readdir $d) {
            my $to = readlink "/proc/$pid/fd/$fd" or next;
            $n{$pid}++ if $to =~ /\Asocket:\[(\d+)\]\z/ && $inode{$1};
        }
    }
    return \%n;
}

# ---------------------------------------------------------------------------
# The real clients (t/clients/ws_client.{py,js}), in the background

# argv prefix for the client of $kind ('python' or 'node'), or (undef, why
# it cannot run here).
sub client_command {
    my ($kind) = @_;

    if ($kind eq 'python') {
        return (undef, '/usr/bin/python3 is missing') unless -x '/usr/bin/python3';
        return (undef, 'python3-websockets is missing')
            unless system('/usr/bin/python3', '-c', 'import websockets') == 0;
        return (['/usr/bin/python3', 't/clients/ws_client.py']);
    }
    if ($kind eq 'node') {
        my ($node) = grep { -x } map { "$_/node" } split /:/, $ENV{PATH} // '';
        return (undef, 'node is not installed') unless $node;
        return (undef, 't/clients/node_modules/ws is missing: run '
                       . 'scripts/install-deps (npm ci in t/clients)')
            unless -f 't/clients/node_modules/ws/package.json';
        return ([$node, 't/clients/ws_client.js']);
    }
    croak "unknown client kind '$kind'";
}

# Starts the client of $kind with @args (--url is added); returns a handle
# for wait_ready / finish_client.
sub start_client {
    my ($kind, $url, @args) = @_;

    my ($cmd, $why) = client_command($kind);
    croak "client $kind: $why" unless $cmd;
    my $c = { kind => $kind, out => '', err => '',
              argv => [@$cmd, '--url', $url, @args] };
    $c->{h} = IPC::Run::start($c->{argv}, '<', \undef, '>', \$c->{out},
                              '2>', \$c->{err});
    return $c;
}

# The records the client printed so far (complete lines only).
sub _records {
    my ($c) = @_;

    my @r;
    for my $line (split /\n/, $c->{out}) {
        my $rec = eval { $JSON->decode($line) };
        push @r, $rec // { kind => 'unparsable', line => $line };
    }
    return @r;
}

# Waits until the client printed a record of kind $kind ('ready': its
# subscription is answered; 'job': the job it started) and returns it.
# Dies with the client's output after $timeout.
sub wait_record {
    my ($c, $kind, $timeout) = @_;

    my $deadline = time + ($timeout // 10);
    while (1) {
        $c->{h}->pump_nb;
        my ($rec) = grep { ($_->{kind} // '') eq $kind } _records($c);
        return $rec if $rec;
        if (!$c->{h}->pumpable || time > $deadline) {
            if ($c->{h}->pumpable) {
                $c->{h}->kill_kill;
            } else {
                $c->{h}->finish;        # collects the last output
            }
            die "client $c->{kind}: no '$kind' record ("
                . join(' ', @{ $c->{argv} }[2 .. $#{ $c->{argv} }])
                . "): $c->{err}\n" . substr($c->{out}, -2000) . "\n";
        }
        sleep 0.02;
    }
}

sub wait_ready {
    my ($c, $timeout) = @_;

    return wait_record($c, 'ready', $timeout);
}

# Waits for the client to exit (killed after $timeout). Returns { code,
# records, err }.
sub finish_client {
    my ($c, $timeout) = @_;

    my $deadline = time + ($timeout // 30);
    while ($c->{h}->pumpable && time < $deadline) {
        $c->{h}->pump_nb;
        sleep 0.02;
    }
    my $code;
    if ($c->{h}->pumpable) {
        $c->{h}->kill_kill;
        $c->{err} .= "(killed after ${timeout}s)\n";
        $code = -1;
    } else {
        $c->{h}->finish;
        ($code) = $c->{h}->results;
    }
    return { code => $code // -1, records => [_records($c)],
             err => $c->{err}, kind => $c->{kind} };
}

# The messages a finished client received, as [session, message] pairs.
sub client_messages {
    my ($run) = @_;

    return map { [$_->{session}, $_->{message}] }
           grep { ($_->{kind} // '') eq 'message' } @{ $run->{records} };
}

# Its events (messages with a seq), in order.
sub client_events {
    my ($run) = @_;

    return map { $_->[1] } grep { defined $_->[1]{seq} } client_messages($run);
}

# ---------------------------------------------------------------------------
# Checks

# Every event carries an integer seq, and within what one connection
# received (one session) seqs only go up; nothing is received twice.
sub seq_problems {
    my ($pairs) = @_;

    my (@p, %seen, %last);
    for my $pair (@$pairs) {
        my ($session, $m) = @$pair;
        next unless exists $m->{seq};
        my $seq = $m->{seq};
        if (!is_int($seq) || $seq <= 0) {
            push @p, 'seq is not a positive integer: ' . $JSON->encode($m);
            next;
        }
        push @p, "seq $seq received twice" if $seen{$seq}++;
        push @p, "session $session: seq $seq after $last{$session}"
            if defined $last{$session} && $seq <= $last{$session};
        $last{$session} = $seq;
    }
    return @p;
}

sub _show {
    my ($v) = @_;

    my $t = $JSON->encode($v);
    return length $t > 300 ? substr($t, 0, 300) . '...' : $t;
}

# A job's events (progress, result, job_complete) as the client got them,
# against the finished job from GET /job ($job). $all: the engine's full
# history of the stream (a since=0 replay after the job ended) or undef.
# Checks (SPEC 5.3 [fe]): type/seq/timestamp/job_id on every event;
# progress with top-level completed/failed/total and completed = the results
# published before it; result data = the REST result; job_complete last, with
# the ranked results of REST, the totals and the duration. With $all: the
# results and job_complete are exactly the history's, the progress events a
# subsequence of its (coalescing may skip some) ending with its last.
sub job_stream_problems {
    my ($events, $job, $all) = @_;

    my @p;
    my %rest = map { $_->{id} => $_ } @{ $job->{results} };
    my ($results, %got, $complete, $last_progress) = (0);
    for my $i (0 .. $#$events) {
        my $m = $events->[$i];
        my $t = $m->{type} // '(none)';
        push @p, "event $i: timestamp " . ($m->{timestamp} // 'missing')
                 . ' is not ISO-8601 Z' unless is_iso_z($m->{timestamp});
        push @p, "event $i: job_id " . ($m->{job_id} // 'missing')
            if ($m->{job_id} // '') ne $job->{job_id};
        push @p, "event $i ($t) after job_complete" if $complete;
        if ($t eq 'progress') {
            my @bad = grep { !is_int($m->{$_}) } qw(completed failed total);
            push @p, "progress $i: @bad not top-level integers: " . _show($m)
                if @bad;
            push @p, "progress $i: total $m->{total}, want $job->{progress}{total}"
                if ($m->{total} // -1) != $job->{progress}{total};
            push @p, "progress $i: completed $m->{completed} but $results "
                     . 'results before it'
                if ($m->{completed} // -1) != $results;
            push @p, "progress $i: counts went down"
                if $last_progress
                   && ($m->{completed} < $last_progress->{completed}
                       || $m->{failed} < $last_progress->{failed});
            $last_progress = $m;
        } elsif ($t eq 'result') {
            my $d = $m->{data};
            my $r = ref $d eq 'HASH' ? $rest{$d->{id} // ''} : undef;
            if (!$r) {
                push @p, "result $i: data.id not a result of the job: "
                         . _show($d);
                next;
            }
            push @p, "result $i: data.id $d->{id} twice" if $got{$d->{id}}++;
            push @p, "result $i: data differs from GET /job: got "
                     . _show($d) . ' want ' . _show($r)
                unless $JSON->encode($d) eq $JSON->encode($r);
            $results++;
        } elsif ($t eq 'job_complete') {
            $complete = $m;
        } else {
            push @p, "event $i: unexpected type $t";
        }
    }
    my @missing = grep { !$got{$_} } sort { $a <=> $b } keys %rest;
    push @p, 'no result event for ' . scalar(@missing) . ' results (ids @missing)'
        if @missing;
    if (!$complete) {
        push @p, 'no job_complete';
    } else {
        push @p, 'job_complete.results is not GET /job results (ranked): '
                 . scalar(@{ $complete->{results} || [] }) . ' vs '
                 . scalar(@{ $job->{results} })
            unless $JSON->encode($complete->{results}) eq $JSON->encode($job->{results});
        push @p, "job_complete.total_results $complete->{total_results}"
            if ($complete->{total_results} // -1) != @{ $job->{results} };
        push @p, "job_complete.total_failures $complete->{total_failures}"
            if ($complete->{total_failures} // -1) != $job->{progress}{failed};
        my $want = iso_to_s($job->{completed_at}) - iso_to_s($job->{started_at});
        push @p, "job_complete.duration_seconds $complete->{duration_seconds}, "
                 . "want $want"
            unless is_num($complete->{duration_seconds})
                   && abs($complete->{duration_seconds} - $want) < 0.0015;
    }
    if ($last_progress) {
        push @p, 'the last progress does not add up to the job: '
                 . _show($last_progress)
            if $last_progress->{completed} != $job->{progress}{completed}
               || $last_progress->{failed} != $job->{progress}{failed};
    } else {
        push @p, 'no progress event';
    }
    push @p, _history_problems($events, $all) if $all;
    return @p;
}

sub _history_problems {
    my ($events, $all) = @_;

    my @p;
    my $key = sub { join ',', map { $_->{seq} } @_ };
    my @mine = grep { $_->{type} ne 'progress' } @$events;
    my @want = grep { $_->{type} ne 'progress' } @$all;
    push @p, 'results/job_complete differ from the stream history (seq '
             . $key->(@mine) . ' vs ' . $key->(@want) . ')'
        unless $key->(@mine) eq $key->(@want)
               && $JSON->encode(\@mine) eq $JSON->encode(\@want);
    my %hist = map { $_->{seq} => $JSON->encode($_) }
               grep { $_->{type} eq 'progress' } @$all;
    my @prog = grep { $_->{type} eq 'progress' } @$events;
    for my $m (@prog) {
        push @p, "progress seq $m->{seq} is not in the history as sent"
            unless ($hist{$m->{seq}} // '') eq $JSON->encode($m);
    }
    my ($last) = grep { $_->{type} eq 'progress' } reverse @$all;
    push @p, "the last progress (seq $last->{seq}) was not delivered"
        if $last && (!@prog || $prog[-1]{seq} != $last->{seq});
    return @p;
}

# The verification-phase events of one job stream ($events: price_update
# and verification) against the bars ($day), the predictions as REST shows
# them after verification ($results, verified) and the bar starts posted
# (@$posted, UTC s, in order). Each prediction: a price_update for every
# posted bar of its symbol ending before t+h (current_price its close,
# minutes_remaining the whole minutes left), then one final price_update
# (minutes_remaining 0, C(t+h)), and one verification event (top-level
# fields and data.id [fe]) matching REST and C(t+h) from the flat file.
# $channel: 'verifications' or 'prices' checks only that channel's events.
sub verification_problems {
    my ($events, $results, $day, $posted, $channel) = @_;

    my @p;
    my (%updates, %finals, %verifs);
    for my $m (@$events) {
        my $t = $m->{type} // '';
        push @p, "timestamp of $t seq $m->{seq} is not ISO-8601 Z"
            unless is_iso_z($m->{timestamp});
        if ($t eq 'price_update') {
            my $u = $m->{price_update};
            if (ref $u ne 'HASH') {
                push @p, 'price_update without a top-level price_update object [fe]: '
                         . _show($m);
                next;
            }
            if (($u->{minutes_remaining} // -1) == 0) {
                push @{ $finals{$u->{prediction_id}} }, $u;
            } else {
                push @{ $updates{$u->{prediction_id}} }, $u;
                push @p, "price_update after the final one for $u->{prediction_id}"
                    if $finals{$u->{prediction_id}};
            }
        } elsif ($t eq 'verification') {
            push @{ $verifs{$m->{prediction_id} // ''} }, $m;
        } else {
            push @p, "unexpected event type $t: " . _show($m);
        }
    }
    for my $r (@$results) {
        my $id = $r->{id};
        my $due = iso_to_s($r->{bar_time}) + 60 * $r->{horizon};
        my $c = close_at($day, $r->{symbol}, $due);
        my $ret = 100 * ($c / $r->{price_at_scan} - 1);
        my $sign = $r->{direction} eq 'UP' ? 1 : -1;
        my $label = "prediction $id ($r->{symbol})";
        if (($channel // 'prices') eq 'prices') {
            my @want = grep { $_ + 60 < $due }
                       grep { bar_at($day, $r->{symbol}, $_) } @$posted;
            my @got = @{ $updates{$id} || [] };
            push @p, "$label: " . scalar(@got) . ' price updates before the '
                     . 'horizon, want ' . scalar(@want)
                if @got != @want;
            for my $k (0 .. ($#got < $#want ? $#got : $#want)) {
                my $b = bar_at($day, $r->{symbol}, $want[$k]);
                my $u = $got[$k];
                my $ur = 100 * ($b->{c} / $r->{price_at_scan} - 1);
                push @p, "$label: update $k: " . _show($u) . " want price "
                         . "$b->{c}, " . ($due - $want[$k] - 60) / 60
                         . ' min left'
                    unless close_enough($u->{current_price}, $b->{c}, 1e-9)
                           && $u->{minutes_remaining} == ($due - $want[$k] - 60) / 60
                           && close_enough($u->{unrealized_return}, $ur, 1e-9)
                           && close_enough($u->{unrealized_pnl}, $sign * $ur, 1e-9)
                           && ($u->{is_currently_correct} ? 1 : 0)
                              == ($sign * $ur > 0 ? 1 : 0)
                           && iso_to_s($u->{timestamp}) == $want[$k] + 60;
            }
            my @f = @{ $finals{$id} || [] };
            if (@f != 1) {
                push @p, "$label: " . scalar(@f) . ' final price updates, want 1';
            } elsif (!close_enough($f[0]{current_price}, $c, 1e-9)
                     || !close_enough($f[0]{unrealized_return}, $ret, 1e-9)) {
                push @p, "$label: final price_update " . _show($f[0])
                         . " want current_price C(t+h) = $c";
            }
        }
        next if ($channel // 'verifications') ne 'verifications';
        my @v = @{ $verifs{$id} || [] };
        if (@v != 1) {
            push @p, "$label: " . scalar(@v) . ' verification events, want 1';
            next;
        }
        my $v = $v[0];
        my @bad = grep {
            !defined $v->{$_}
        } qw(prediction_id symbol actual_return was_correct pnl verified_at);
        push @p, "$label: verification lacks top-level @bad [fe]" if @bad;
        push @p, "$label: verification data.id " . ($v->{data}{id} // 'missing')
                 . ' [fe reads data.id]'
            unless ref $v->{data} eq 'HASH' && ($v->{data}{id} // '') eq $id;
        push @p, "$label: actual_return $v->{actual_return}, want $ret "
                 . "(C(t+h) $c from the flat file)"
            unless close_enough($v->{actual_return}, $ret, 1e-9);
        my $correct = $sign * $ret > 0 ? 1 : 0;
        push @p, "$label: was_correct " . _show($v->{was_correct})
            unless defined $v->{was_correct}
                   && ($v->{was_correct} ? 1 : 0) == $correct;
        push @p, "$label: pnl $v->{pnl}, want " . $sign * $ret
            unless close_enough($v->{pnl}, $sign * $ret, 1e-9);
        for my $k (qw(actual_return was_correct pnl verified_at)) {
            push @p, "$label: verification $k differs from GET /job"
                unless $JSON->encode($v->{$k}) eq $JSON->encode($r->{$k});
        }
        push @p, "$label: verification data differs from GET /job"
            unless ref $v->{data} eq 'HASH'
                   && $JSON->encode($v->{data}) eq $JSON->encode($r);
    }
    my %ids = map { $_->{id} => 1 } @$results;
    push @p, "events for prediction $_, not a result of the job"
        for grep { !$ids{$_} } sort keys %{ { %updates, %finals, %verifs } };
    return @p;
}

1;
