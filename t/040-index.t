# The index's life while requests are served (SPEC 2.4, 5.2): build-index
# into the running engine's data dir and /api/index/reload under a stream of
# searches, update-index with one more day, a broken generation that must be
# refused while the old index keeps serving, and an engine with no index.
#
# Expected pattern counts are recomputed from the flat files in Perl
# (t/lib/PatternRT/Bars.pm), not read from the engine.

use lib 't/lib';
use PatternRT::Test;
use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use Time::Local qw(timegm);

use PatternRT::Bars qw(read_day flat_days ny_to_utc iso_z iso_s utc_to_ny
                       count_indexable);
use PatternRT::Search qw(api_get api_post wait_for_workers
                         check_patterns_answer);

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo" && -d "$FIXTURES/demo-flat";

our $ENGINE = $ENV{TEST_PRT_ENGINE} || 'build/pattern-rt-engine';
our $MIN_VOLUME = 1000;
our $JSON = JSON::PP->new->canonical;

our @FLAT = flat_days("$FIXTURES/demo-flat");         # [date, path]
our %COUNT = map { $_->[0] => count_indexable(read_day($_->[1]), $MIN_VOLUME) }
             @FLAT;
our @DATES = map { $_->[0] } @FLAT;
our $ALL = 0;
$ALL += $_ for values %COUNT;
our @SUBSET = @FLAT[0 .. 1];                          # the rebuilt index
our $SUBSET_N = $COUNT{ $SUBSET[0][0] } + $COUNT{ $SUBSET[1][0] };

# The query: the most active ticker of the last day, at 11:00 New York
# (the searches here only need an answer, the values are t/030's business).
our $TICKER = do {
    my $t = read_day($FLAT[-1][1])->{tickers};
    (sort { @{ $t->{$b} } <=> @{ $t->{$a} } || $a cmp $b } keys %$t)[0];
};
our $SEARCH = $JSON->encode({ ticker => $TICKER, k => 20, horizon => 10,
                              timestamp => "$DATES[-1]T11:00:00" });
# The slowest search there is (k 500, one ticker: the most candidates), to
# keep searches running while the reload swaps the index.
our $HEAVY = $JSON->encode({ ticker => $TICKER, k => 500, horizon => 10,
                             cross_asset => JSON::PP::false,
                             timestamp => "$DATES[-1]T11:00:00" });

# The trading day generated after the fixture's last one (the generator
# skips weekends and holidays itself).
sub day_after {
    my ($date) = @_;

    my ($y, $m, $d) = split /-/, $date;
    my @g = gmtime(timegm(0, 0, 12, $d, $m - 1, $y) + 86400);
    return sprintf '%04d-%02d-%02d', $g[5] + 1900, $g[4] + 1, $g[3];
}

# Runs an engine command; dies with its output unless it exits 0.
sub engine_command {
    my (@args) = @_;

    my $log = server_root() . '/logs/engine-commands.log';
    open my $fh, '>>', $log or die "$log: $!\n";
    print {$fh} "# @args\n";
    close $fh;
    my $rc = system("$ENGINE @{[ map { quotemeta } @args ]} >> "
                    . quotemeta($log) . ' 2>&1');
    die "$ENGINE @args failed ($rc); see $log\n" unless $rc == 0;
}

sub index_dir { return engine_data_dir() . '/index' }

sub current_generation {
    return readlink(index_dir() . '/current')
        // die "no current link in " . index_dir() . ": $!\n";
}

sub manifest {
    my $path = index_dir() . '/current/manifest.json';
    open my $fh, '<', $path or die "$path: $!\n";
    local $/;
    return $JSON->decode(scalar <$fh>);
}

# Points `current` at $gen the way build-index does: a new link renamed
# over the old one, so no reader ever sees it missing.
sub point_current_at {
    my ($gen) = @_;

    my $tmp = index_dir() . '/.current.test';
    unlink $tmp;
    symlink($gen, $tmp) or die "symlink $tmp: $!\n";
    rename($tmp, index_dir() . '/current') or die "rename $tmp: $!\n";
}

# Requests written on their own connections without waiting for answers,
# so that they are in flight together; collect() reads the answers.
sub send_raw {
    my (@requests) = @_;

    return [map {
        my ($method, $path, $body) = @$_;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => server_port())
            or die "connect: $!\n";
        $body //= '';
        print {$s} "$method $path HTTP/1.0\r\nHost: localhost\r\n"
                   . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
        $s;
    } @requests];
}

sub collect {
    my ($socks) = @_;

    my @out;
    for my $s (@$socks) {
        my $sel = IO::Select->new($s);
        my $buf = '';
        while ($sel->can_read(20)) {
            my $n = sysread($s, $buf, 65536, length $buf);
            last unless $n;
        }
        close $s;
        my ($code) = $buf =~ m{\AHTTP/1\.\d (\d{3})};
        my ($body) = $buf =~ /\r\n\r\n(.*)\z/s;
        push @out, { code => $code // 0, body => $body // '' };
    }
    return @out;
}

# The workers talk to an engine (not E_ENGINE_DOWN) that has no index.
sub engine_has_no_index {
    my $r = api_get('/api/index/stats');
    return $r->{code} == 503 && ($r->{json}{error}{code} // '') eq 'E_INDEX';
}

our $CONFIG = <<'END';
    location / {
        pattern_rt_api;
    }
END

engine_config(data => "$FIXTURES/demo",
              clock => iso_z(ny_to_utc($DATES[-1], 15, 0, 0)));
run_tests();

__DATA__

=== TEST 1: the fixture's index: every pattern of the flat files, no update yet
--- config eval: $CONFIG
--- init
wait_for_workers();
--- request eval
["GET /api/index/stats", "POST /api/patterns/search\n$SEARCH"]
--- response_json eval
[{ n_vectors => $ALL, days => scalar @DATES, last_day => $DATES[-1] },
 { ticker => $TICKER, n_neighbors => 20 }]
--- post_request
is(manifest()->{updates}, 0, 'manifest: updates 0');
is(manifest()->{patterns}, $ALL, 'manifest: patterns');



=== TEST 2: build-index into the running engine's data dir, reload while searches are in flight
--- config eval: $CONFIG
--- init
wait_for_workers();
our $OLD_GEN = current_generation();
is(api_post('/api/patterns/search', $SEARCH)->{code}, 200,
   'before: a search answers');
my $flat = server_root() . '/flat-subset';
remove_tree($flat);
make_path($flat);
copy($_->[1], $flat) or die "copy $_->[1]: $!\n" for @SUBSET;
engine_command('build-index', '--data', $flat, '--out', engine_data_dir());
isnt(current_generation(), $OLD_GEN, 'build-index moved the current link');
ok(-d index_dir() . "/$OLD_GEN",
   'the loaded generation is still on disk (kept as the previous one)');
is(api_get('/api/index/stats')->{json}{n_vectors}, $ALL,
   'the engine still serves the old index until it is told to reload');
# searches queued before, the reload, searches queued after: all in flight
our $INFLIGHT = send_raw(
    (map { ['POST', '/api/patterns/search', $HEAVY] } 1 .. 8),
    ['POST', '/api/index/reload'],
    (map { ['POST', '/api/patterns/search', $HEAVY] } 1 .. 8));
--- request eval
"POST /api/patterns/search\n$SEARCH"
--- response_json eval
{ ticker => $TICKER, n_neighbors => 20 }
--- post_request
my @answers = collect($INFLIGHT);
my $s = api_get('/api/index/stats')->{json};
is($s->{n_vectors}, $SUBSET_N, 'stats: n_vectors of the rebuilt index');
is($s->{days}, 2, 'stats: its two days');
is($s->{last_day}, $SUBSET[-1][0], 'stats: its last day');
is($s->{generation}, current_generation(),
   'stats: the generation the current link names');
my $reload = splice @answers, 8, 1;
is($reload->{code}, 200, 'the reload in the middle: 200');
my $r = eval { $JSON->decode($reload->{body}) } // {};
is($r->{index}{n_vectors}, $SUBSET_N,
   'the reload answer has the new n_vectors');
is($r->{previous_n_vectors}, $ALL, 'and the previous one');
is(scalar(grep { $_->{code} == 200 && $_->{body} =~ /"n_neighbors":[1-9]/ }
          @answers), 16,
   'all 16 searches around the reload answered 200 with neighbours')
    or diag(join ' ', map { $_->{code} } @answers);
my $after = api_post('/api/patterns/search', $SEARCH);
is($after->{code}, 200, 'after: a search answers');
my %subset = map { $_->[0] => 1 } @SUBSET;
ok(!grep({ !$subset{ (utc_to_ny(iso_s($_->{time})))[0] } }
         @{ $after->{json}{neighbors} }),
   'after: every neighbour comes from the rebuilt index\'s days');
--- engine_log
index reloaded



=== TEST 3: update-index with one more day: n_vectors grows, the manifest counts the update
--- config eval: $CONFIG
--- init
wait_for_workers();
our $NEW_DAY;
my $gen = server_root() . '/flat-extra';
my $flat = server_root() . '/flat-all';
remove_tree($gen, $flat);
make_path($flat);
# same universe and seed as t/fixtures/prepare, one day after the last
engine_command('generate', '--out', $gen, '--tickers', 60, '--days', 1,
               '--seed', 7, '--from', day_after($DATES[-1]));
my @extra = flat_days($gen);
die "generate wrote @{[ scalar @extra ]} files, want 1\n" unless @extra == 1;
$NEW_DAY = $extra[0][0];
copy($_->[1], $flat) or die "copy $_->[1]: $!\n" for @FLAT, @extra;
our $EXPECTED = $SUBSET_N + $COUNT{ $DATES[2] } + $COUNT{ $DATES[3] }
                + count_indexable(read_day($extra[0][1]), $MIN_VOLUME);
engine_command('update-index', '--data', $flat, '--out', engine_data_dir());
--- request eval
["POST /api/index/reload", "GET /api/available-dates"]
--- response_json eval
[{ status => 'reloaded', previous_n_vectors => $SUBSET_N,
   index => { n_vectors => '~any', days => 5 } },
 { dates => '~any' }]
--- post_request
my $s = api_get('/api/index/stats')->{json};
is($s->{n_vectors}, $EXPECTED,
   "n_vectors: the rebuilt days plus the patterns of the three added days");
ok($s->{n_vectors} > $SUBSET_N, 'n_vectors grew');
is($s->{last_day}, $NEW_DAY, 'last_day is the generated day');
my $m = manifest();
is($m->{updates}, 1, 'manifest: updates 1');
is($m->{patterns}, $EXPECTED, 'manifest: patterns');
is($m->{last_day}, $NEW_DAY, 'manifest: last_day');
is(api_get('/api/available-dates')->{json}{last}, $NEW_DAY,
   'available-dates: the new day is searchable');
my $body = $JSON->encode({ ticker => $TICKER, k => 20, horizon => 10,
                          timestamp => "${NEW_DAY}T11:00:00" });
my $a = api_post('/api/patterns/search', $body);
is($a->{code}, 200, 'a search on the new day answers');
check_patterns_answer('new day', $a->{json}, ticker => $TICKER,
                      horizon => 10, k => 20, enough => 1,
                      day_start => ny_to_utc($NEW_DAY, 0, 0, 0));



=== TEST 4: a truncated index.faiss is refused: 503 E_INDEX, the old index keeps serving
--- config eval: $CONFIG
--- init
wait_for_workers();
our $GOOD_GEN = current_generation();
our $GOOD_N = api_get('/api/index/stats')->{json}{n_vectors};
my $broken = index_dir() . '/gen-broken';
remove_tree($broken);
system('cp', '-a', index_dir() . "/$GOOD_GEN", $broken) == 0
    or die "cp -a $GOOD_GEN: $?\n";
my $faiss = "$broken/index.faiss";
truncate($faiss, int((-s $faiss) / 2)) or die "truncate $faiss: $!\n";
point_current_at('gen-broken');
# the refused reload, with searches queued before and after it
our $INFLIGHT = send_raw(
    (map { ['POST', '/api/patterns/search', $HEAVY] } 1 .. 4),
    ['POST', '/api/index/reload'],
    (map { ['POST', '/api/patterns/search', $HEAVY] } 1 .. 4));
our @ANSWERS = collect($INFLIGHT);
--- request eval
["POST /api/index/reload", "POST /api/patterns/search\n$SEARCH"]
--- error_code eval
[503, 200]
--- response_json eval
[{ error => { code => 'E_INDEX', message => '~/missing or broken/' },
   detail => '~any' },
 { ticker => $TICKER, n_neighbors => 20 }]
--- engine_log eval
[qr/index reload refused.*gen-broken/]
--- post_request
my $reload = splice @ANSWERS, 4, 1;
is($reload->{code}, 503, 'the reload among searches: 503');
like($reload->{body}, qr/"E_INDEX"/, 'E_INDEX');
unlike($reload->{body}, qr{/index/|faiss::|\.faiss}i,
       'no server path or FAISS internals in the answer');
is(scalar(grep { $_->{code} == 200 } @ANSWERS), 8,
   'the searches around it: 200')
    or diag(join ' ', map { $_->{code} } @ANSWERS);
my $s = api_get('/api/index/stats')->{json};
is($s->{generation}, $GOOD_GEN, 'stats: still the old generation');
is($s->{n_vectors}, $GOOD_N, 'stats: still the old n_vectors');
# put the good generation back: reload takes it again
point_current_at($GOOD_GEN);
my $r = api_get('/api/index/reload');
is($r->{code}, 200, 'current back on the good generation: GET reload 200');
is($r->{json}{index}{n_vectors}, $GOOD_N, 'with the same n_vectors');



=== TEST 5: an engine with no bars and no index: searches 503 E_INDEX, the front end "not_ready"
--- config eval: $CONFIG
--- init
wait_for_workers();
my $empty = server_root() . '/fixture-empty';
remove_tree($empty);
make_path($empty);
engine_config(data => $empty);
engine_restart(fresh => 1);
wait_for_workers();
wait_until(sub { engine_has_no_index() }, 10,
           'the workers to reach the engine without an index');
--- request eval
["POST /api/patterns/search\n$SEARCH", "GET /api/search/$TICKER?k=5",
 "GET /api/index/stats", "POST /api/index/reload",
 "GET /api/available-dates"]
--- error_code eval
[503, 200, 503, 503, 200]
--- response_json eval
[{ error => { code => 'E_INDEX' }, detail => '~any' },
 { status => 'not_ready', error => '~/index/', error_code => 'E_INDEX' },
 { error => { code => 'E_INDEX' } },
 { error => { code => 'E_INDEX', message => '~/no index/' } },
 { dates => [], last => undef }]
--- engine_log
no index loaded



=== TEST 6: an engine with bars but no index: 503 E_INDEX and "not_ready" until build-index and reload
--- config eval: $CONFIG
--- init
wait_for_workers();
my $bars_only = server_root() . '/fixture-bars-only';
remove_tree($bars_only);
make_path($bars_only);
system('cp', '-a', "$FIXTURES/demo/bars", "$bars_only/bars") == 0
    or die "cp -a $FIXTURES/demo/bars: $?\n";
engine_config(data => $bars_only);
engine_restart(fresh => 1);
wait_for_workers();
wait_until(sub { engine_has_no_index() }, 10,
           'the workers to reach the engine without an index');
--- request eval
["POST /api/patterns/search\n$SEARCH", "GET /api/search/$TICKER?k=5",
 "POST /api/search/historical\n"
 . $JSON->encode({ symbol => $TICKER, date => $DATES[-1], time => '11:00',
                   k => 5, cross_asset => JSON::PP::true,
                   window_minutes => 30 }),
 "POST /api/index/reload"]
--- error_code eval
[503, 200, 200, 503]
--- response_json eval
[{ error => { code => 'E_INDEX' }, detail => '~any' },
 { status => 'not_ready', query => { symbol => $TICKER } },
 { status => 'not_ready' },
 { error => { code => 'E_INDEX' } }]
--- post_request
engine_command('build-index', '--data', "$FIXTURES/demo-flat", '--out',
               engine_data_dir());
my $r = api_post('/api/index/reload');
is($r->{code}, 200, 'after build-index: reload 200');
is($r->{json}{index}{n_vectors}, $ALL, 'with every pattern of the flat files');
is($r->{json}{previous_n_vectors}, 0, 'previous_n_vectors 0 (none loaded)');
is(api_post('/api/patterns/search', $SEARCH)->{code}, 200,
   'searches answer');
is(api_get("/api/search/$TICKER?k=5")->{json}{status}, 'ok',
   'the front end gets "ok"');
