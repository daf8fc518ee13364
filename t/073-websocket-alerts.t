# The alerts channel of WS /ws/pattern-realtime (docs/websocket.md): a
# subscriber names its own filter (min_edge, direction, symbols) and gets an
# `alert` for each new result of ANY job that passes it; a bad filter is an
# error, never a silent match-all; unsubscribe works.
#
# Clients: our own frames (t/lib/PatternRT/WebSocket.pm), Python's
# `websockets` and Node's `ws` (t/clients/ws_client.{py,js}). The expected alerts are
# recomputed from the jobs' REST results (GET /job/{id}), filtered here.
#
# Knowing that every alert of a job has arrived: a second job (the same
# symbols, at the same fixed clock, so the same results) runs once the first
# is complete. Its alerts are published after all of the first job's, and a
# worker forwards events to a connection in publication order, so the first
# alert of the second job on a connection closes the first job's set there:
# anything extra would have arrived before it.

use lib 't/lib';
use PatternRT::Test;
use JSON::PP ();

use PatternRT::Jobs qw(run_job wait_job is_iso_z);
use PatternRT::WebSocket;
use PatternRT::WSEvents qw(
    wait_connected client_command start_client wait_ready finish_client
    client_messages
);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo";

# 10:00 New York on the fixture's last day: jobs give results (SPEC 4).
engine_config(data => "$FIXTURES/demo", clock => '2024-01-05T15:00:00Z');

our $JSON = JSON::PP->new->canonical;

our $CONFIG = <<'END';
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
    location / {
        pattern_rt_api;
    }
END

sub ws {
    return PatternRT::WebSocket->connect(port => server_port());
}

sub show {
    my ($m) = @_;

    return defined $m ? $JSON->encode($m) : 'nothing (timeout)';
}

# Subscribes $w with %filter; the answer must be "subscribed" to alerts.
sub subscribe_alerts {
    my ($w, $label, %filter) = @_;

    $w->send_json({ type => 'subscribe', channel => 'alerts', %filter });
    my $m = $w->next_message(5);
    is_deeply([$m && @$m{qw(type channel)}], ['subscribed', 'alerts'],
              "$label: subscribed to alerts") or diag(show($m));
}

# Does a result pass a filter (docs/websocket.md)? Recomputed here.
sub passes {
    my ($f, $r) = @_;

    return 0 if defined $f->{min_edge} && $r->{edge} < $f->{min_edge};
    my $dir = $f->{direction} // 'ALL';
    return 0 if $dir ne 'ALL' && $r->{direction} ne $dir;
    if ($f->{symbols}) {
        my %in = map { uc($_) => 1 } @{ $f->{symbols} };
        return 0 unless $in{ $r->{symbol} };
    }
    return 1;
}

# The alerts $w receives until the first one of job $sentinel.
sub alerts_until {
    my ($w, $sentinel, $label) = @_;

    my @got = $w->messages_until(
        sub { ($_[0]{type} // '') eq 'alert'
              && ($_[0]{job_id} // '') eq $sentinel }, 30);
    ok(@got && ($got[-1]{job_id} // '') eq $sentinel,
       "$label: an alert of the second job arrived")
        or diag(show($got[-1]));
    pop @got;
    return @got;
}

# The alerts @got of job $job against its REST results through filter $f:
# exactly the passing ones, each the REST result object, in the shape of
# SPEC 5.3's events.
sub check_alerts {
    my ($label, $f, $job, @got) = @_;

    my @want = grep { passes($f, $_) } @{ $job->{results} };
    my @other = grep { ($_->{type} // '') ne 'alert' } @got;
    ok(!@other, "$label: nothing but alerts") or diag(show($other[0]));
    my @alerts = grep { ($_->{type} // '') eq 'alert' } @got;
    is_deeply([sort { $a <=> $b } map { $_->{data}{id} // -1 } @alerts],
              [sort { $a <=> $b } map { $_->{id} } @want],
              "$label: exactly the " . @want . ' results passing the filter '
              . '(of ' . @{ $job->{results} } . ')');
    my %rest = map { $_->{id} => $_ } @{ $job->{results} };
    my @bad = grep {
        my $a = $_;
        !($a->{job_id} eq $job->{job_id} && is_iso_z($a->{timestamp})
          && $a->{seq} =~ /\A[0-9]+\z/
          && $JSON->encode($a->{data}) eq $JSON->encode($rest{ $a->{data}{id} } // {}))
    } @alerts;
    ok(!@bad, "$label: type alert, seq, timestamp, job_id, data = the "
              . 'result of GET /job/{id}') or diag(show($bad[0]));
    my @seq = map { $_->{seq} } @alerts;
    ok(!grep({ $seq[$_] <= $seq[$_ - 1] } 1 .. $#seq),
       "$label: seq increasing");
    return scalar @want;
}

run_tests();

__DATA__

=== TEST 1: filtered and unfiltered subscribers get exactly the results passing their own filter
--- config eval: $CONFIG
--- post_request
wait_connected(worker_pids());
# the fixture's tickers with a valid window at 10:00 on its last day
my @symbols = qw(ASM.A AVGZ AXL CJYE DQDC.B FJSF GMO GOOZ MADF NW RYRT SRWX
                 TMLJ TWGA TWRD TXVWW WOFQ WSQ YOQ);
# a calibration run chooses a filter that lets some results through and
# stops some by each criterion (the same scan at the same clock gives the
# same results)
my $cal = wait_job(run_job({ symbols => \@symbols })->{job_id}, 60);
my @res = @{ $cal->{results} };
ok(@res >= 6, scalar(@res) . ' results to filter');
my %dirs;
$dirs{ $_->{direction} }++ for @res;
my ($dir) = sort { $dirs{$b} <=> $dirs{$a} || $a cmp $b } keys %dirs;
my @sorted = sort map { $_->{symbol} } @res;
my @named = @sorted[grep { $_ % 3 != 2 } 0 .. $#sorted];
my %named = map { $_ => 1 } @named;
my @cand = sort { $a <=> $b } map { $_->{edge} }
           grep { $named{ $_->{symbol} } && $_->{direction} eq $dir } @res;
my $min_edge = $cand[int($#cand / 2)];
my %filter = (min_edge => $min_edge + 0, direction => $dir,
              symbols => [(map { lc } @named), 'NOSUCH']);
diag("filter: " . $JSON->encode(\%filter));

my $w1 = ws();
my $w2 = ws();
my $w3 = ws();
subscribe_alerts($w1, 'filtered', %filter);
subscribe_alerts($w2, 'no filter');
subscribe_alerts($w3, 'min_edge only', min_edge => $min_edge + 0);

my $job = wait_job(run_job({ symbols => \@symbols })->{job_id}, 60);
is($job->{status}, 'completed', 'the job completed');
my $next = run_job({ symbols => \@symbols })->{job_id};

my $n1 = check_alerts('filtered', \%filter, $job,
                      alerts_until($w1, $next, 'filtered'));
ok($n1 > 0 && $n1 < @{ $job->{results} }, "filtered: $n1 pass, some do not");
ok((grep { !passes({ direction => $dir }, $_) } @{ $job->{results} })
   && (grep { !passes({ min_edge => $min_edge }, $_) } @{ $job->{results} })
   && (grep { !passes({ symbols => \@named }, $_) } @{ $job->{results} }),
   'each criterion stops some result');
is(check_alerts('no filter', {}, $job, alerts_until($w2, $next, 'no filter')),
   scalar @{ $job->{results} }, 'no filter: every result');
check_alerts('min_edge only', { min_edge => $min_edge }, $job,
             alerts_until($w3, $next, 'min_edge only'));
wait_job($next, 60);

# unsubscribe: answered, and the next job's alerts no longer come
$w1->send_json({ type => 'unsubscribe', channel => 'alerts' });
# the second job's other alerts may still be on their way before the answer
my @before = $w1->messages_until(sub { ($_[0]{type} // '') ne 'alert' }, 10);
my $m = pop @before;
is_deeply([$m && @$m{qw(type channel)}], ['unsubscribed', 'alerts'],
          'unsubscribe from alerts') or diag(show($m));
ok(!grep({ $_->{job_id} ne $next } @before),
   'before it, only the second job\'s alerts');
$w1->send_json({ type => 'unsubscribe', channel => 'alerts' });
$m = $w1->next_message(3);
is($m && $m->{code}, 'E_NOT_FOUND', 'unsubscribe again: not subscribed');
my $third = wait_job(run_job({ symbols => \@symbols })->{job_id}, 60);
my $last = run_job({ symbols => \@symbols })->{job_id};
alerts_until($w2, $last, 'no filter, later');       # $w2 saw $third's
# $w1 holds nothing: a ping is answered by the very next message
$w1->send_json({ type => 'ping' });
$m = $w1->next_message(3);
is($m && $m->{type}, 'pong', 'after unsubscribing, no alert came before the '
                             . 'pong') or diag(show($m));
wait_job($last, 60);



=== TEST 2: a bad filter is an error answer, not a subscription
--- config eval: $CONFIG
--- post_request
my @bad = (
    [{ min_edge => -0.1 }, qr/min_edge must be a number >= 0/],
    [{ min_edge => '0.1' }, qr/min_edge must be a number/],
    [{ min_edge => undef }, qr/min_edge must be a number/],
    [{ direction => 'up' }, qr/"UP", "DOWN" or "ALL"/],
    [{ direction => 1 }, qr/"UP", "DOWN" or "ALL"/],
    [{ symbols => [] }, qr/symbols is empty/],
    [{ symbols => ['AAPL', 7] }, qr/array of strings/],
    [{ symbols => ['1ABC'] }, qr/a symbol is 1 to 10/],
    [{ symbols => ['TOOLONGTICKER'] }, qr/a symbol is 1 to 10/],
    [{ symbols => [map { "S$_" } 0 .. 500] }, qr/more than 500/],
    [{ colour => 'red' }, qr/unknown field "colour"/],
    [{ since => 0 }, qr/alerts channel takes no since/],
);
my $w = ws();
for my $b (@bad) {
    my ($fields, $re) = @$b;
    my $label = 'subscribe alerts ' . $JSON->encode($fields);
    $w->send_json({ type => 'subscribe', channel => 'alerts', %$fields });
    my $m = $w->next_message(3);
    ok(ref $m eq 'HASH' && ($m->{type} // '') eq 'error'
       && ($m->{code} // '') eq 'E_BAD_REQUEST' && ($m->{error} // '') =~ $re,
       "$label: error E_BAD_REQUEST") or diag(show($m));
    # no subscription was made: the next answer is the pong
    $w->send_json({ type => 'ping' });
    $m = $w->next_message(3);
    is($m && $m->{type}, 'pong', "$label: no subscription follows")
        or diag(show($m));
}
for my $other ({ type => 'subscribe', channel => 'prices', min_edge => 1 },
               { type => 'unsubscribe', channel => 'alerts',
                 direction => 'UP' }) {
    $w->send_json($other);
    my $m = $w->next_message(3);
    like($m && $m->{error} // '', qr/only for subscribing to the alerts/,
         'filter fields elsewhere: ' . $JSON->encode($other));
}
# after all that a good one works, and unsubscribing then says so
subscribe_alerts($w, 'after the errors', direction => 'ALL');
$w->send_json({ type => 'unsubscribe', channel => 'alerts' });
my $m = $w->next_message(3);
is_deeply([$m && @$m{qw(type channel)}], ['unsubscribed', 'alerts'],
          'unsubscribed') or diag(show($m));



=== TEST 3: real clients (Python's websockets, Node's ws): a filtered alerts subscription
--- config eval: $CONFIG
--- post_request
wait_connected(worker_pids());
my @symbols = qw(SRWX GOOZ AXL AVGZ CJYE GMO MADF NW RYRT TMLJ TWGA WSQ);
my $cal = wait_job(run_job({ symbols => \@symbols })->{job_id}, 60);
my %dirs;
$dirs{ $_->{direction} }++ for @{ $cal->{results} };
my ($dir) = sort { $dirs{$b} <=> $dirs{$a} || $a cmp $b } keys %dirs;
my %filter = (direction => $dir);
my $n = grep { passes(\%filter, $_) } @{ $cal->{results} };
my $url = 'ws://127.0.0.1:' . server_port() . '/ws/pattern-realtime';
for my $kind (qw(python node)) {
    SKIP: {
        my ($cmd, $why) = client_command($kind);
        skip "$kind: $why", 6 unless $cmd;
        # it stops after the first job's alerts and the second job's first
        my $c = start_client($kind, $url, '--channel', 'alerts',
                             '--filter', $JSON->encode(\%filter),
                             '--until', 'events:' . ($n + 1));
        wait_ready($c, 10);
        my $job = wait_job(run_job({ symbols => \@symbols })->{job_id}, 60);
        my $next = run_job({ symbols => \@symbols })->{job_id};
        my $run = finish_client($c, 60);
        is($run->{code}, 0, "$kind: the client saw its alerts")
            or diag($run->{err});
        my @events = grep { defined $_->{seq} }
                     map { $_->[1] } client_messages($run);
        is(($events[-1] // {})->{job_id}, $next,
           "$kind: the last one is the second job's");
        pop @events;
        check_alerts("$kind, " . $JSON->encode(\%filter), \%filter, $job,
                     @events);
        wait_job($next, 60);
    }
}
