# The trader page (web/, docs/web.md) in a real browser: Debian's headless
# Chromium driven over the DevTools protocol (t/lib/PatternRT/Browser.pm,
# t/clients/cdp.js), against this nginx serving the page and a real engine
# on the demo fixture with the `feed` clock.
#
#   static     GET / is the page (not a JSON 404), its assets and the chart
#              library are served with JavaScript / CSS types
#   scan       the page runs a scan itself (the form, Run); the ranked table
#              fills from the WebSocket and holds the job's results as
#              GET /job ranks them; nginx reloads (1001) and the page
#              reconnects with `since`; bars posted minute by minute give
#              price updates (checked against the flat file's closes) and
#              verifications (✓/✗ as GET /job says); the performance panel
#              shows GET /performance; sorting, the direction filter, the
#              failures panel, the search view against the REST answers,
#              the alerts toggle, the optional statistics rendered only
#              when present; a screenshot is kept (path in the output)
#   engine     the engine down: the page says so plainly, and recovers by
#              itself when the engine is back
#   auth       pattern_rt_auth_read on: without a token the page says what
#              is missing; with ?token= it reads and goes live
#
# Every block fails on a console error, an uncaught exception or a failed
# load in the page, except the answers the block provokes on purpose.
# Skips, saying so, where Chromium (or node, or the installed libraries)
# cannot start.

use utf8;
use lib 't/lib';
use PatternRT::Test;
use Cwd qw(abs_path);
use File::Temp ();
use JSON::PP ();

use PatternRT::Browser;
use PatternRT::Jobs qw(call_api get_job wait_job ny_instant);
use PatternRT::Tokens qw(test_secret mint);
use PatternRT::WSEvents qw(flat_day post_minute feed_clock wait_connected);

binmode Test::More->builder->$_, ':encoding(UTF-8)'
    for qw(output failure_output todo_output);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo" && -d "$FIXTURES/demo-flat";

$ENV{TEST_PRT_WEB} = abs_path('web');
our @FLAT = sort glob "$FIXTURES/demo-flat/*.csv.gz";
our $DAY = flat_day($FLAT[-1]);              # the fixture's last day
our @TICKERS = sort keys %{ $DAY->{tickers} };
our $OPEN_SCAN = ny_instant($DAY->{date}, '10:00');
our $HORIZON = 5;
our $MINUTES = 10;                           # bars posted after the job
our $JSON = JSON::PP->new->canonical;
our $SHOT;                                   # the screenshot's path

engine_config(data => "$FIXTURES/demo", clock => 'feed');
our $TMP = File::Temp::tempdir(CLEANUP => 1);
test_secret($TMP);

# The page's part of the local instance's configuration, as `make start`
# writes it (conf/nginx.local.conf.in, @WEB@ = web/): its `types` block and
# its locations, so the blocks serve the page the way the product does.
sub local_conf_part {
    my ($what) = @_;

    open my $fh, '<', 'conf/nginx.local.conf.in' or die "conf/nginx.local.conf.in: $!\n";
    my $conf = do { local $/; <$fh> };
    my $part;
    if ($what eq 'types') {
        ($part) = $conf =~ /^(\s*types \{.*?\n\s*\})/ms;
    } else {
        ($part) = $conf =~ /^(\s*# The trader page.*?location = \/vendor\/[^}]*\})/ms;
    }
    die "conf/nginx.local.conf.in: no $what part for the page\n" unless $part;
    $part =~ s/\@WEB\@/$ENV{TEST_PRT_WEB}/g;
    return "$part\n";
}

our $API_LOCATIONS = <<'NGINX';
    location / {
        pattern_rt_api;
    }
    location = /ws/pattern-realtime {
        pattern_rt_websocket;
    }
NGINX

sub page_url {
    my ($q) = @_;

    return 'http://127.0.0.1:' . server_port() . '/' . ($q // '');
}

# A browser, or why there is none (the block then skips, saying so). The
# chart library missing is not a reason: the page needs it, and TEST 1
# fails without it.
sub browser_or_skip {
    return PatternRT::Browser->start(width => 1440, height => 900);
}

# What the page reported as wrong, less what %allow says is expected
# (kind => regex of the text).
sub page_problems {
    my ($b, %allow) = @_;

    return grep {
        my $p = $_;
        !grep { $p->{kind} eq $_ && $p->{text} =~ $allow{$_} } keys %allow
    } $b->problems;
}

sub no_problems {
    my ($b, $label, %allow) = @_;

    my @p = page_problems($b, %allow);
    ok(!@p, "$label: no console error, exception or failed load in the page")
        or diag(join "\n", map { "$_->{kind}: $_->{text}"
                                 . ($_->{url} ? " ($_->{url})" : '') } @p);
}

# The ranked table as the page shows it: one hash per row, the cells by
# column key, and the prediction id.
our $ROWS_JS = <<'JS';
(() => {
  const t = document.querySelector('#results-table');
  const keys = [...t.tHead.querySelectorAll('th')].map((th) => th.dataset.key);
  return [...t.tBodies[0].rows].map((tr) => {
    const o = { id: Number(tr.dataset.id) };
    [...tr.cells].forEach((td, i) => { o[keys[i]] = td.textContent.trim(); });
    return o;
  });
})()
JS

# The number in a cell ("+0.123%", "85.4%", "0.324", "↑ UP" has none).
sub cell_num {
    my ($text) = @_;

    my ($n) = ($text // '') =~ /([-+]?\d+(?:\.\d+)?)/ or return undef;
    return $n + 0;
}

# |shown - want| within half a unit of the shown digits.
sub shown_ok {
    my ($text, $want, $digits) = @_;

    my $got = cell_num($text);
    return 0 unless defined $got && defined $want;
    return abs($got - $want) <= 0.5 * 10**-$digits + 1e-9;
}

sub verdict_of {
    my ($r) = @_;

    return '✓' if $r->{was_correct} && $r->{was_correct} eq '1'
                  || (ref $r->{was_correct} && $r->{was_correct});
    return '✗' if defined $r->{was_correct};
    return defined $r->{verified_at} ? 'n/a' : 'pending';
}

# Problems between the table rows and the REST results (same order).
sub table_problems {
    my ($rows, $results, %o) = @_;

    my @p;
    push @p, scalar(@$rows) . ' rows, ' . scalar(@$results) . ' results'
        unless @$rows == @$results;
    for my $i (0 .. $#$results) {
        my ($row, $r) = ($rows->[$i], $results->[$i]);
        unless ($row && $row->{id} == $r->{id}) {
            push @p, "row $i: prediction " . ($row ? $row->{id} : 'none')
                     . ", want $r->{id} ($r->{symbol})";
            next;
        }
        my $dir = $r->{direction} eq 'UP' ? '↑ UP' : '↓ DN';
        push @p, "row $i symbol $row->{symbol}, want $r->{symbol}"
            unless $row->{symbol} eq $r->{symbol};
        push @p, "row $i ($r->{symbol}) direction $row->{direction}, want $dir"
            unless $row->{direction} eq $dir;
        push @p, "row $i ($r->{symbol}) edge $row->{edge}, want $r->{edge}"
            unless shown_ok($row->{edge}, $r->{edge}, 3);
        push @p, "row $i ($r->{symbol}) P(up) $row->{prob_up}, want $r->{prob_up}"
            unless shown_ok($row->{prob_up}, 100 * $r->{prob_up}, 1);
        push @p, "row $i ($r->{symbol}) mean $row->{mean_return}, want $r->{mean_return}"
            unless shown_ok($row->{mean_return}, $r->{mean_return}, 3);
        push @p, "row $i ($r->{symbol}) N $row->{n_neighbors}, want $r->{n_neighbors}"
            unless $row->{n_neighbors} eq $r->{n_neighbors};
        next unless $o{verified};
        my $v = verdict_of($r);
        push @p, "row $i ($r->{symbol}) verdict '$row->{verdict}', want '$v'"
            unless $row->{verdict} eq $v;
        push @p, "row $i ($r->{symbol}) actual $row->{actual_return}, want "
                 . ($r->{actual_return} // 'null')
            if defined $r->{actual_return}
               && !shown_ok($row->{actual_return}, $r->{actual_return}, 3);
    }
    return @p;
}

sub problems_ok {
    my ($label, @p) = @_;

    ok(!@p, $label) or diag(join "\n", @p[0 .. ($#p < 14 ? $#p : 14)],
                            @p > 15 ? ('... ' . (@p - 15) . ' more') : ());
}

sub js_str { $JSON->encode($_[0]) }

# Sets a form field the way a person does (value, then input and change).
sub set_field {
    my ($b, $sel, $value) = @_;

    $b->eval('(() => { const e = document.querySelector(' . js_str($sel) . ');'
             . ' e.value = ' . js_str($value) . ';'
             . " e.dispatchEvent(new Event('input', {bubbles: true}));"
             . " e.dispatchEvent(new Event('change', {bubbles: true})); return true; })()");
}

sub click {
    my ($b, $sel) = @_;

    $b->eval('(() => { document.querySelector(' . js_str($sel) . ').click(); return true; })()');
}

sub text_of {
    my ($b, $sel) = @_;

    return $b->eval('(() => { const e = document.querySelector(' . js_str($sel)
                    . '); return e ? e.textContent.trim() : null; })()');
}

# REST results sorted the way the page sorts a numeric column: by the value
# ($dir -1: descending), ties in the ranked order.
sub sorted_by {
    my ($results, $key, $dir) = @_;

    my %rank = map { $results->[$_]{id} => $_ } 0 .. $#$results;
    return [sort { ($a->{$key} <=> $b->{$key}) * $dir || $rank{$a->{id}} <=> $rank{$b->{id}} }
            @$results];
}

# ---------------------------------------------------------------------------
# Block bodies

sub scan_block {
    my ($b, $why) = browser_or_skip();
    SKIP: {
        skip "no browser: $why", 1 unless $b;
        diag('browser: ' . $b->version);
        wait_connected(worker_pids());
        post_minute($DAY, $OPEN_SCAN) if feed_clock() < $OPEN_SCAN + 60;

        $b->open(page_url());
        $b->wait_for("document.body.dataset.ready === '1'", 30);
        $b->wait_for("document.querySelector('#ws-status').dataset.state === 'live'", 15);
        like(text_of($b, '#engine-status'), qr/engine up/, 'the engine shows as up');
        my $session = call_api('GET', '/health')->{json}{market}{session};
        like(text_of($b, '#session'), qr/^\Q$session\E/,
             "the market session now is shown ($session)");

        # the scan, from the page's own form
        set_field($b, '#symbols', join(', ', @TICKERS[0 .. 9]) . "\n"
                                  . join(' ', @TICKERS[10 .. $#TICKERS]) . ' ZZZZ');
        set_field($b, '#run-form [name=horizon]', $HORIZON);
        click($b, '#run');
        my $id = $b->wait_for('prt.state.job && prt.state.job.job_id', 15);
        my $job = wait_job($id, 30);
        my $n = @{ $job->{results} };
        ok($n >= 10, "the job ranked $n symbols, $job->{total_failures} failed");
        $b->wait_for("document.querySelector('#job-line').dataset.status === 'completed'"
                     . " && document.querySelector('#results-table').dataset.rows === '$n'", 30);
        problems_ok('the ranked table is the job as GET /job ranks it',
                    table_problems($b->eval($ROWS_JS), $job->{results}));
        my $events = $b->eval('prt.state.events');
        is($events->{result}, $n, 'each result came live, as a result event');
        is($events->{job_complete}, 1, 'and the job_complete event');
        ok($events->{progress}, "progress events ($events->{progress})");
        is($b->eval("document.querySelector('#progress-text').textContent"),
           ($n + $job->{total_failures}) . "/$job->{total_symbols} · $n ranked · "
           . "$job->{total_failures} failed · completed", 'the progress line');
        is($b->eval("document.querySelector('#fail-count').textContent"),
           $job->{total_failures}, 'the failures panel counts the failures');
        my $fails = $b->eval(q{[...document.querySelectorAll('#fail-table tbody tr')]
            .map((tr) => [...tr.cells].map((c) => c.textContent.trim()))});
        is_deeply([sort map { "$_->[0] $_->[2] $_->[3]" } @$fails],
                  [sort map { "$_->{symbol} $_->{error_code} $_->{reason}" }
                        @{ $job->{failures} }],
                  'the failures panel: symbol, code and reason of each');
        ok((grep { $_->[0] eq 'ZZZZ' && $_->[2] eq 'E_NO_DATA' } @$fails),
           'an unknown symbol is among the failures with E_NO_DATA');

        # sorting and the direction filter
        click($b, '#results-table th[data-key=prob_up]');
        $b->wait_for("document.querySelector('#results-table th.sorted').dataset.key === 'prob_up'", 5);
        my @want = map { $_->{id} } @{ sorted_by($job->{results}, 'prob_up', -1) };
        is_deeply([map { $_->{id} } @{ $b->eval($ROWS_JS) }], \@want,
                  'a click on P(up) sorts by it, highest first');
        click($b, '#results-table th[data-key=prob_up]');
        $b->wait_for("document.querySelector('#results-table th.sorted').textContent.includes('▲')", 5);
        is_deeply([map { $_->{id} } @{ $b->eval($ROWS_JS) }],
                  [map { $_->{id} } @{ sorted_by($job->{results}, 'prob_up', 1) }],
                  'a second click: lowest first');
        click($b, '#results-table th[data-key=edge]');
        $b->wait_for("document.querySelector('#results-table th.sorted').dataset.key === 'edge'", 5);
        set_field($b, '#dir-filter', 'DOWN');
        my @down = grep { $_->{direction} eq 'DOWN' } @{ $job->{results} };
        $b->wait_for("document.querySelector('#results-table').dataset.rows === '"
                     . scalar(@down) . "'", 5);
        is_deeply([map { $_->{id} } @{ $b->eval($ROWS_JS) }], [map { $_->{id} } @down],
                  'the direction filter DOWN shows the short ones, in rank order');
        set_field($b, '#dir-filter', 'ALL');
        $b->wait_for("document.querySelector('#results-table').dataset.rows === '$n'", 5);

        # nginx reloads: the page reconnects by itself, with since
        my $opened = $b->eval('prt.live.opened');
        nginx_reload();
        wait_connected(worker_pids());
        $b->wait_for("prt.live.opened > $opened"
                     . " && document.querySelector('#ws-status').dataset.state === 'live'", 20);
        my $subs = $b->eval("prt.live.sent.filter((m) => m.job_id === '$id')");
        ok(@$subs >= 2 && $subs->[-1]{since} && $subs->[-1]{since} > 0,
           'after the drop the job is subscribed again with since = the last seq seen')
            or diag($JSON->encode($subs));

        # one minute of bars: the open predictions' unrealized returns
        my $c = feed_clock();
        post_minute($DAY, $c);
        my @moved = grep {
            my $r = $_;
            my $bar = PatternRT::WSEvents::bar_at($DAY, $r->{symbol}, $c);
            $bar && $c + 60 < PatternRT::WSEvents::iso_to_s($r->{bar_time}) + 60 * $r->{horizon};
        } @{ $job->{results} };
        ok(@moved, scalar(@moved) . ' predictions get a price update from the bars at '
                   . PatternRT::Jobs::iso_z($c));
        $b->wait_for("document.querySelectorAll('#results-table td.num span.dim').length >= "
                     . scalar(@moved) . ' && (' . $ROWS_JS . ').filter((r) => r.live !== "—").length >= '
                     . scalar(@moved), 20);
        my %row = map { $_->{id} => $_ } @{ $b->eval($ROWS_JS) };
        my @live_p;
        for my $r (@moved) {
            my $close = PatternRT::WSEvents::bar_at($DAY, $r->{symbol}, $c)->{c};
            my $want = 100 * ($close / $r->{price_at_scan} - 1);
            my ($shown) = ($row{$r->{id}}{live} // '') =~ /^(\S+)/;
            push @live_p, "$r->{symbol}: unrealized '$row{$r->{id}}{live}', want "
                          . sprintf('%+.4f%% (close %s, price at scan %s)', $want, $close,
                                    $r->{price_at_scan})
                unless shown_ok($shown, $want, 3);
        }
        problems_ok('the unrealized returns are the new closes against the price at scan',
                    @live_p);

        # the rest of the minutes: every prediction verified, live
        post_minute($DAY, $c + 60 * $_) for 1 .. $MINUTES - 1;
        $b->wait_for("document.querySelector('#results-table').dataset.verified === '$n'", 30);
        $job = get_job($id);
        problems_ok('after the verifications the table is GET /job: ✓/✗ and actual returns',
                    table_problems($b->eval($ROWS_JS), $job->{results}, verified => 1));

        # the performance panel at the job's horizon
        my $perf = call_api('GET', "/api/pattern-realtime/performance?period=all&horizon=$HORIZON")->{json};
        my $all = $perf->{all_stats};
        $b->wait_for("(() => { const r = document.querySelector('#perf-table tr[data-bucket=all_stats]');"
                     . " return r && r.cells[1].textContent === '$all->{n}'; })()", 20);
        # columns by their titles: the page adds the statistics' columns
        # (interval, chance, p, ...) where the answer has them
        my $cells = $b->eval(q{(() => {
            const heads = [...document.querySelectorAll('#perf-table thead th')]
                .map((th) => th.textContent.trim());
            return Object.fromEntries([...document.querySelectorAll('#perf-table tbody tr')]
                .map((tr) => [tr.dataset.bucket, Object.fromEntries([...tr.cells]
                    .map((c, i) => [heads[i], c.textContent.trim()]))]));
        })()});
        my @perf_p;
        for my $k (qw(all_stats top_1pct top_5pct top_10pct long_stats short_stats)) {
            my ($row, $s) = ($cells->{$k}, $perf->{$k});
            next unless $s;
            push @perf_p, "$k: N $row->{N}, want $s->{n}" unless $row->{N} eq $s->{n};
            push @perf_p, "$k: long $row->{Long}, want $s->{long_count}" unless $row->{Long} eq $s->{long_count};
            push @perf_p, "$k: short $row->{Short}, want $s->{short_count}" unless $row->{Short} eq $s->{short_count};
            push @perf_p, "$k: win rate $row->{'Win rate'}, want $s->{win_rate}"
                unless shown_ok($row->{'Win rate'}, 100 * $s->{win_rate}, 1);
            push @perf_p, "$k: mean P&L $row->{'Mean P&L'}, want $s->{mean_pnl}"
                unless shown_ok($row->{'Mean P&L'}, $s->{mean_pnl}, 3);
            push @perf_p, "$k: median $row->{Median}, want $s->{median_pnl}"
                unless shown_ok($row->{Median}, $s->{median_pnl}, 3);
            push @perf_p, "$k: p $row->{p}, want $s->{p_value}"
                if defined $s->{p_value} && !defined $row->{p};
        }
        problems_ok("the performance panel is GET /performance at ${HORIZON}m", @perf_p);
        my @verified = grep { defined $_->{verified_at} } @{ $job->{results} };
        is($all->{n}, scalar(@verified), "all: N is the job's verified predictions")
            and is($cells->{all_stats}{Long}, scalar(grep { $_->{direction} eq 'UP' } @verified),
                   'all: long is their UP count');

        # the search view: a past minute of the day, against the REST answers
        my $sym = $job->{results}[0]{symbol};
        set_field($b, '#s-symbol', $sym);
        set_field($b, '#s-date', $DAY->{date});
        set_field($b, '#s-time', '11:00');
        click($b, '#s-search');
        $b->wait_for("document.querySelector('#chart').dataset.symbol === '$sym'"
                     . " && document.querySelector('#chart').dataset.date === '$DAY->{date}'"
                     . " && document.querySelector('#chart').dataset.neighbors !== undefined", 20);
        my $ohlc = call_api('GET', "/api/historical/ohlc/$sym?date=$DAY->{date}"
                                   . '&start_time=04:00&end_time=20:00')->{json};
        is($b->eval("document.querySelector('#chart').dataset.candles"),
           scalar(@{ $ohlc->{candles} }), "the candlesticks: the bars of $sym that day");
        my $s = call_api('POST', '/api/search/historical', {
            symbol => $sym, date => $DAY->{date}, time => '11:00', window_minutes => 30,
            k => 40, horizon => $HORIZON, alpha => 6, trim_lo => 0, trim_hi => 0,
            exclude_self => JSON::PP::true, cross_asset => JSON::PP::true })->{json};
        is($b->eval("document.querySelector('#chart').dataset.neighbors"),
           scalar(@{ $s->{neighbors} }), 'the fan has one line per neighbour');
        my $followed = text_of($b, '#fc-actual');
        if ($s->{actual}) {
            ok(shown_ok($followed, $s->{actual}{returns}[$HORIZON - 1], 3),
               "what followed at ${HORIZON}m: $followed")
                or diag($JSON->encode($s->{actual}));
        } else {
            is($followed, 'not yet known', 'what followed: not yet known');
        }
        like(text_of($b, '#forecast'), qr/P\(up\)\s*\Q@{[sprintf '%.1f', 100 * $s->{forecast}{prob_up}]}\E%/,
             'the forecast box shows P(up)');

        # alerts: subscribed, or an error answer shown plainly
        click($b, '#alerts');
        my $ans = $b->wait_for('prt.live.answered.alerts', 10);
        if ($ans->{type} eq 'error') {
            ok(!$b->eval("document.querySelector('#alerts').checked"),
               "alerts refused by this server ($ans->{code}): the toggle goes off");
            like(text_of($b, '#banner'), qr/Alerts are not available/, '... and the page says why');
        } else {
            is($ans->{type}, 'subscribed', 'alerts: subscribed to the alerts channel');
        }

        $SHOT = server_root() . '/web-page.png';
        $b->eval("window.scrollTo(0, 0); true");
        $b->screenshot($SHOT);
        ok(-s $SHOT, 'a screenshot of the page');
        diag("screenshot: $SHOT");

        # the statistics beside the buckets: this engine answers them, so
        # the reliability chart and the by-day table are drawn
        my $perf_now = call_api('GET', "/api/pattern-realtime/performance?period=all&horizon=$HORIZON")->{json};
        ok(!$b->eval("document.querySelector('#perf-extra').hidden")
           && $b->eval("document.querySelectorAll('#day-table tbody tr').length")
              == @{ $perf_now->{by_day} },
           'the engine answers the statistics: the reliability chart and '
           . scalar(@{ $perf_now->{by_day} }) . ' by-day rows are drawn');
        $b->eval(<<'JS');
(() => {
  const b = (n, w) => ({ n, long_count: n, short_count: 0, win_rate: w / n, mean_pnl: 0.1, median_pnl: 0.05,
    win_rate_ci: [0.4, 0.7], chance_win_rate: 0.5, p_value: 0.0004, profit_factor: 1.8,
    avg_win: 0.3, avg_loss: -0.2, max_drawdown: 1.25 });
  const bin = (lo, n) => ({ lo, hi: lo + 0.1, n, mean_prob_up: lo + 0.05, realized_up: 0.5, realized_up_ci: [0.3, 0.7] });
  prt.renderPerformance({ period: 'all', total_predictions: 20, verified: 20, pending: 0,
    all_stats: b(20, 12), top_1pct: b(1, 1), top_5pct: b(1, 1), top_10pct: b(2, 1),
    long_stats: b(20, 12), short_stats: null,
    by_day: [{ date: '2024-01-04', n: 8, wins: 5, win_rate: 0.625, pnl: 0.5, cum_pnl: 0.5 },
             { date: '2024-01-05', n: 12, wins: 7, win_rate: 0.583, pnl: -0.2, cum_pnl: 0.3 }],
    calibration: { bins: [bin(0.1, 5), bin(0.5, 9), bin(0.8, 6)], calibrated_bins: [bin(0.4, 20)],
                   brier: { raw: 0.251, calibrated: 0.2493, base_rate: 0.25 } } });
  for (const r of prt.state.results.values()) {
    Object.assign(r, { prob_up_calibrated: 0.52, prob_up_ci: [0.41, 0.63], n_eff: 6.5, edge_calibrated: 0.01 });
  }
  prt.render();
  return true;
})()
JS
        $b->wait_for("document.querySelector('#results-table th[data-key=n_eff]') !== null", 5);
        my $extra = $b->eval(q{({
          heads: [...document.querySelectorAll('#perf-table thead th')].map((th) => th.textContent),
          raw: document.querySelectorAll('#reliability .raw-bin').length,
          cal: document.querySelectorAll('#reliability .cal-bin').length,
          bars: document.querySelectorAll('#reliability .raw-bin line').length,
          days: document.querySelectorAll('#day-table tbody tr').length,
          brier: document.querySelector('#brier').textContent,
          hidden: document.querySelector('#perf-extra').hidden,
          pvalue: document.querySelector('#perf-table tr[data-bucket=all_stats]').cells[7].textContent,
          cols: [...document.querySelectorAll('#results-table thead th')].map((th) => th.dataset.key),
        })});
        is_deeply([grep { /CI|Chance|^p$|PF|Avg|Max DD/ } @{ $extra->{heads} }],
                  ['95% CI', 'Chance', 'p', 'PF', 'Avg win', 'Avg loss', 'Max DD'],
                  'the honest-statistics columns appear when the buckets have them');
        is($extra->{pvalue}, '<0.001', 'a small p-value reads <0.001');
        ok(!$extra->{hidden} && $extra->{raw} == 3 && $extra->{cal} == 1 && $extra->{bars} == 9,
           'the reliability chart: a point and an interval bar per bin')
            or diag($JSON->encode($extra));
        is($extra->{days}, 2, 'the by-day table');
        like($extra->{brier}, qr/Brier 0\.2510 · calibrated 0\.2493 · base rate 0\.2500/, 'the Brier scores');
        is_deeply([grep { /calibrated|_ci|n_eff/ } @{ $extra->{cols} }],
                  ['edge_calibrated', 'prob_up_calibrated', 'prob_up_ci', 'n_eff'],
                  'the calibrated result columns appear when the results have them');

        # 503s: the /health polls that reached a new worker before it had
        # attached to the engine, right after the reload
        no_problems($b, 'the scan', 'log.network' => qr/status of 503/);
        $b->quit;
    }
}

sub engine_block {
    my ($b, $why) = browser_or_skip();
    SKIP: {
        skip "no browser: $why", 1 unless $b;
        engine_kill('TERM');
        $b->open(page_url());
        $b->wait_for("document.body.dataset.ready === '1'", 30);
        $b->wait_for("document.querySelector('#engine-status').textContent === 'engine DOWN'", 15);
        like(text_of($b, '#banner'), qr/engine is down \(E_ENGINE_DOWN\)/,
             'with the engine down the page says so plainly');
        click($b, '#run');
        $b->wait_for("!document.querySelector('#run-error').hidden", 10);
        like(text_of($b, '#run-error'), qr/^E_ENGINE_DOWN|^E_BAD_REQUEST/,
             'Run says why it cannot');
        engine_start();
        wait_connected(worker_pids());
        $b->wait_for("document.querySelector('#engine-status').textContent.startsWith('engine up')"
                     . " && document.querySelector('#banner').hidden", 20);
        pass('the engine back: the page notices by itself and clears the message');
        no_problems($b, 'engine down', 'log.network' => qr/status of (503|400)/);
        $b->quit;
    }
}

sub auth_block {
    my ($b, $why) = browser_or_skip();
    SKIP: {
        skip "no browser: $why", 1 unless $b;
        my $token = mint('read');
        my %up;
        wait_until(sub {
            my $r = call_api('GET', '/health', undef, Authorization => "Bearer $token");
            my $w = ref $r->{json} eq 'HASH' ? $r->{json}{nginx} : undef;
            $up{$w->{worker_pid}} = 1 if $r->{code} == 200 && $w && $w->{engine_connected};
            return !grep { !$up{$_} } worker_pids();
        }, 15, 'every nginx worker to reach the engine');
        $b->open(page_url());
        $b->wait_for("document.body.dataset.ready === '1'", 30);
        $b->wait_for("!document.querySelector('#banner').hidden", 10);
        like(text_of($b, '#banner'), qr/Not authorized \(E_UNAUTHORIZED\).*token/,
             'without a token the page says a read token is needed');
        # the tokenless visit: 401 answers, and the WebSocket handshake refused
        no_problems($b, 'without a token',
                    'log.network' => qr/status of 401|WebSocket connection .* failed: HTTP Authentication failed/);
        $b->quit;

        # a fresh browser: nothing of the first visit is counted
        ($b, $why) = browser_or_skip();
        die "the browser did not start again: $why\n" unless $b;
        $b->open(page_url("?token=$token"));
        $b->wait_for("document.body.dataset.ready === '1'", 30);
        $b->wait_for("document.querySelector('#ws-status').dataset.state === 'live'", 15);
        like(text_of($b, '#engine-status'), qr/engine up/, 'with ?token= the page reads');
        ok($b->eval("document.querySelector('#results-table').dataset.rows > 0"),
           'the latest job is shown');
        my $id = $b->eval('prt.state.job.job_id');
        my $ans = $b->wait_for("prt.live.answered['job:$id']", 10);
        is($ans->{type}, 'subscribed', 'the WebSocket, with the token, subscribes to it');
        unlike($b->eval('location.href'), qr/token/, 'the token is taken out of the address bar');
        no_problems($b, 'with the token');
        $b->quit;
    }
}

sub prefix_block {
    my ($b, $why) = browser_or_skip();
    SKIP: {
        skip "no browser: $why", 1 unless $b;
        wait_until(sub { call_api('GET', '/patterns/health')->{code} == 200 }, 15,
                   'the engine through /patterns/');
        $b->open(page_url('patterns/'));
        $b->wait_for("document.body.dataset.ready === '1'", 30);
        $b->wait_for("document.querySelector('#ws-status').dataset.state === 'live'", 15);
        like(text_of($b, '#engine-status'), qr/engine up/, '/patterns/health answers the page');
        my $id = $b->eval('prt.state.job && prt.state.job.job_id');
        ok($id && $b->eval("document.querySelector('#results-table').dataset.rows > 0"),
           'the latest job is read through /patterns/api/');
        my $ans = $b->wait_for("prt.live.answered['job:$id']", 10);
        is($ans->{type}, 'subscribed', 'the WebSocket at /patterns/ws/ subscribes to it');
        no_problems($b, 'under /patterns/');
        $b->quit;
    }
}

run_tests();

__DATA__

=== TEST 1: GET / is the page; its assets and the chart library are served, nothing else of web/
--- http_config eval
local_conf_part('types')
--- config eval
$API_LOCATIONS . local_conf_part('locations')
--- request eval
["GET /", "GET /assets/app.js", "GET /assets/app.css",
 "GET /vendor/lightweight-charts.mjs", "GET /health", "GET /index.html",
 "GET /package.json"]
--- error_code eval
[200, 200, 200, 200, 200, 404, 404]
--- response_headers_like eval
["Content-Type: text/html", "Content-Type: application/javascript",
 "Content-Type: text/css", "Content-Type: application/javascript",
 "Content-Type: application/json", "Content-Type: application/json",
 "Content-Type: application/json"]
--- response_body_like eval
[qr{<title>Pattern Real-Time</title>.*<script type="module" src="assets/app.js">}s,
 qr{^// Pattern Real-Time trader page}, qr{--bg:},
 qr{TradingView Lightweight Charts.*export\{}s, qr{"status":"ok"},
 qr{"code":"E_NOT_FOUND"}, qr{"code":"E_NOT_FOUND"}]



=== TEST 2: a scan run from the page, live: ranked table, reconnect, price updates, verifications, performance, search
--- http_config eval
local_conf_part('types')
--- config eval
$API_LOCATIONS . local_conf_part('locations')
--- timeout: 60
--- post_request
scan_block();



=== TEST 3: the engine down: said plainly, and recovered from by itself
--- http_config eval
local_conf_part('types')
--- config eval
$API_LOCATIONS . local_conf_part('locations')
--- post_request
engine_block();



=== TEST 4: auth on for reads: a token from ?token= on REST and the WebSocket
--- http_config eval
local_conf_part('types') . <<"NGINX"
    pattern_rt_auth on;
    pattern_rt_auth_read on;
    pattern_rt_auth_secret $ENV{TEST_PRT_SECRET_FILE};
NGINX
--- config eval
$API_LOCATIONS . local_conf_part('locations')
--- post_request
auth_block();



=== TEST 5: under a prefix, as conf/nginx.conf serves it: /patterns/ reads and goes live
--- http_config eval
local_conf_part('types')
--- config eval
<<"NGINX"
    location /patterns/ {
        rewrite ^/patterns(/.*)\$ \$1 break;
        pattern_rt_api;
    }
    location = /patterns/ {
        root $ENV{TEST_PRT_WEB};
        try_files /index.html =404;
    }
    location ^~ /patterns/assets/ {
        alias $ENV{TEST_PRT_WEB}/assets/;
    }
    location = /patterns/vendor/lightweight-charts.mjs {
        alias $ENV{TEST_PRT_WEB}/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.mjs;
    }
    location /patterns/ws/ {
        rewrite ^/patterns(/.*)\$ \$1 break;
        pattern_rt_websocket;
    }
NGINX
--- post_request
prefix_block();
