# The job store on PostgreSQL (docs/scale-out.md): a private server made
# by initdb in a temporary directory (t/lib/PatternRT/Pg.pm), the engine on
# it with --store CONNINFO. `pattern-rt-engine migrate` creates the schema
# with SPEC 7's orderings as indexes and is idempotent; an engine refuses a
# database that was not migrated; a job's predictions and failures are the
# rows the engine says it committed (counted here with psql, not through
# the engine); with the database down the engine answers 503 E_STORE and
# stays up, and once the database is back every acknowledged result is
# there unchanged; a node killed mid-job: another node on the store finds
# its heartbeat stopped and fails its running job ("node lost"), with its
# committed results kept; two nodes (each an nginx and an engine) answer
# GET /job/{id}, /history and /performance alike, byte for byte, for a job
# that ran on one of them; nginx's `mirror` (conf/several-nodes.conf)
# brings a POST /bars to the other node too; two nodes past the due time
# of the same predictions verify each of them once between them (their
# /health counters sum to one per prediction). The LMDB suites also run on
# this backend
# (t/151-jobs-pg.t and the next files).
#
# Skipped, saying why, where PostgreSQL 15 is not installed.

use lib 't/lib';
use PatternRT::Test;
use File::Temp qw(tempdir);

use PatternRT::Pg;
use PatternRT::Jobs qw(
    PRT call_api call_api_raw run_job get_job wait_job wait_job_status health
    wait_workers_connected unknown_symbols big_symbols read_flat_day
    ny_instant iso_z
);
use PatternRT::Nginx;
use PatternRT::WebSocket;
use PatternRT::WSEvents qw(replay_events seq_problems job_stream_problems);
use PatternRT::Util qw(spawn wait_exit read_from stop_process free_port);
use Cwd qw(abs_path);
use File::Path qw(make_path);
use LWP::UserAgent;
use POSIX ();

our $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo" && -d "$FIXTURES/demo-flat";
{
    my $why = PatternRT::Pg::unavailable();
    plan(skip_all => $why) if $why;
}

$ENV{TEST_PRT_STORE} = 'pg';           # every engine here: PatternRT::Engine
our $PG = PatternRT::Pg->start;
our $ENGINE = $ENV{TEST_PRT_ENGINE} || 'build/pattern-rt-engine';
our $TMP = tempdir('prt-pgt-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our @FLAT = sort glob "$FIXTURES/demo-flat/*.csv.gz";
our $DAY = read_flat_day($FLAT[-1]);
our @TICKERS = sort keys %{ $DAY->{tickers} };
our @UNKNOWN = unknown_symbols(7);
our $CLOCK = iso_z(ny_instant($DAY->{date}, '10:00'));
our $NODE_B;                           # pid of the second node (TEST 5)

engine_config(data => "$FIXTURES/demo", clock => $CLOCK,
              args => ['--scan_chunk', 4]);

our $NGINX_B;                          # its nginx (TEST 6, 7)
$ENV{TEST_PRT_NODE_B_PORT} = free_port();   # for TEST 7's upstream

END {
    $NGINX_B->stop if $NGINX_B;
    stop_process($NODE_B, 'KILL', 10) if $NODE_B;
}

# The second node of TEST 5 and 6: an engine on the same store, named
# node-b, on a copy of the fixture (the same index generation).
sub start_node_b {
    my ($dir, $clock, @args) = @_;

    stop_node_b() if $NODE_B;          # left by a block that died
    make_path($dir);
    system('cp', '-a', "$FIXTURES/demo/.", "$dir/") == 0 or die "cp failed\n";
    $NODE_B = spawn([$ENGINE, 'serve', '--store', $PG->conninfo(engine_db()),
                     '--data-dir', $dir, '--socket', "$dir/engine.sock",
                     '--clock', $clock // $CLOCK, '--node', 'node-b', @args],
                    "$dir/engine.log");
    wait_until(sub { read_from("$dir/engine.log", 0) =~ /\bready\b/ }, 60,
               'node b ready');
}

# Node b's nginx in front of its engine, on $TEST_PRT_NODE_B_PORT.
sub start_nginx_b {
    my ($dir, $socket) = @_;

    make_path(map { "$dir/$_" } qw(conf logs html));
    $NGINX_B = PatternRT::Nginx->new(servroot => $dir,
        port => $ENV{TEST_PRT_NODE_B_PORT},
        binary => $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx');
    $NGINX_B->write_config(
        title => 'node b', workers => 1, user => $> == 0 ? 'root' : undef,
        module => abs_path($ENV{TEST_PRT_MODULE}
                           || 'build/nginx/ngx_http_pattern_rt_module.so'),
        engine_socket => $socket,
        config => "location / {\n    pattern_rt_api;\n}\n"
                  . "location /ws/pattern-realtime {\n"
                  . "    pattern_rt_websocket;\n}\n");
    $NGINX_B->start;
    wait_until(sub { get_b(PRT . '/history?limit=1')->{code} == 200 }, 60,
               "node b's nginx attached to its engine");
}

# Stops node b (its nginx, then its engine); what nginx's stop found wrong.
sub stop_node_b {
    my @problems = $NGINX_B ? $NGINX_B->stop : ();
    $NGINX_B = undef;
    stop_process($NODE_B, 'TERM', 10) if $NODE_B;
    $NODE_B = undef;
    return @problems;
}

# A job run through node b's nginx, once it has ended: GET /job's answer.
sub job_on_b {
    my ($body) = @_;

    my $ua = LWP::UserAgent->new(timeout => 30, keep_alive => 0);
    my $res = $ua->post("http://127.0.0.1:$NGINX_B->{port}" . PRT . '/run',
                        'Content-Type' => 'application/json',
                        Content => JSON::PP::encode_json($body));
    die 'POST /run on node b: ' . $res->code . "\n" unless $res->code == 202;
    my $id = JSON::PP::decode_json($res->content)->{job_id};
    return wait_until(sub {
        my $j = JSON::PP::decode_json(get_b(PRT . "/job/$id?limit=10000")->{body});
        $j->{status} eq 'running' ? undef : $j;
    }, 60, "node b's job $id");
}

# GET through node b's nginx: { code, body }.
sub get_b {
    my ($path) = @_;

    my $ua = LWP::UserAgent->new(timeout => 30, keep_alive => 0);
    my $res = $ua->get("http://127.0.0.1:$NGINX_B->{port}$path");
    return { code => $res->code, body => $res->content };
}

# The engine's database: the harness made the first one for it.
sub engine_db { return 'prt_engine_1' }

# `pattern-rt-engine ARGS`: exit status and output.
sub engine_cmd {
    my (@args) = @_;

    my $log = "$TMP/cmd.log";
    unlink $log;
    my $pid = spawn([$ENGINE, @args], $log);
    my $status = wait_exit($pid, 60);
    return ($status, read_from($log, 0));
}

sub job_bytes {
    my ($id) = @_;

    (my $hex = $id) =~ tr/-//d;
    die "bad job id $id\n" unless $hex =~ /\A[0-9a-f]{32}\z/;
    return "decode('$hex', 'hex')";
}

# TEST 8, 9: a psql session holding the jobs table locked (ACCESS
# EXCLUSIVE: the engine's insert and updates wait on it), and POST /run
# made by a child process, whose answer lands in a file.
our $JOB_LOCKS = "SELECT count(*) FROM pg_locks l JOIN pg_class c"
               . " ON c.oid = l.relation WHERE c.relname = 'prt_jobs'";

# A psql session holding $table locked in $mode (LOCK TABLE's words) once
# the lock is granted; $locks counts that table's locks in pg_locks.
sub lock_table {
    my ($table, $mode, $locks) = @_;

    (my $held = join('', map { ucfirst lc } split / /, $mode)) .= 'Lock';
    local $ENV{PGOPTIONS} = '-c client_min_messages=warning';
    open(my $lock, '|-', "$PatternRT::Pg::BIN/psql", '-X', '-q', '-v',
         'ON_ERROR_STOP=1', '-d', $PG->conninfo(engine_db()), '-o',
         '/dev/null') or die "psql: $!\n";
    select((select($lock), $| = 1)[0]);
    print {$lock} "BEGIN; LOCK TABLE $table IN $mode MODE;\n";
    wait_until(sub { $PG->psql(engine_db(), "$locks AND l.granted"
                               . " AND l.mode = '$held'") },
               30, "the lock on $table");
    return $lock;
}

sub lock_jobs { return lock_table('prt_jobs', 'ACCESS EXCLUSIVE', $JOB_LOCKS) }

# TEST 10: the predictions table locked EXCLUSIVE (plain reads go on;
# row locks and updates wait, as long as lock_timeout).
our $PRED_LOCKS = "SELECT count(*) FROM pg_locks l JOIN pg_class c"
                . " ON c.oid = l.relation WHERE c.relname = 'prt_predictions'";

sub lock_predictions {
    return lock_table('prt_predictions', 'EXCLUSIVE', $PRED_LOCKS);
}

sub unlock {
    my ($lock) = @_;

    print {$lock} "COMMIT;\n";
    close $lock or die "psql (the lock session) failed\n";
}

# A subscriber of the verifications channel of the node behind nginx port
# $port, once subscribed.
sub verifications_subscriber {
    my ($port) = @_;

    my $w = PatternRT::WebSocket->connect(port => $port);
    $w->send_json({ type => 'subscribe', channel => 'verifications' });
    $w->messages_until(sub { ($_[0]{type} // '') eq 'subscribed' }, 10);
    return $w;
}

# Its next $count verification events, by prediction id.
sub verifications_of {
    my ($w, $count) = @_;

    my $n = 0;
    my @got = $w->messages_until(sub {
        ($_[0]{type} // '') eq 'verification' && ++$n >= $count }, 60);
    $w->send_close(1000);
    return sort { $a->{data}{id} <=> $b->{data}{id} }
           grep { ($_->{type} // '') eq 'verification' } @got;
}

# An event as another node has it: the same but for its seq.
sub without_seq {
    my %e = %{ $_[0] };

    delete $e{seq};
    return \%e;
}

sub run_in_child {
    my ($name) = @_;

    my $out = "$TMP/run-$name.json";
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        my $r = call_api('POST', PRT . '/run', { symbols => [@TICKERS[0 .. 3]] });
        if (open my $o, '>', "$out.tmp") {
            print {$o} JSON::PP::encode_json({ code => $r->{code},
                                               body => $r->{body} });
            close $o;
            rename "$out.tmp", $out;
        }
        POSIX::_exit(0);
    }
    return ($pid, $out);
}

sub child_answer {
    my ($pid, $out) = @_;

    waitpid($pid, 0);
    return -e $out ? JSON::PP::decode_json(read_from($out, 0)) : {};
}

run_tests();

__DATA__

=== TEST 1: migrate creates the schema once, with the orderings as indexes
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $DB = $PG->create_db('migrated');
our @FIRST = engine_cmd('migrate', '--store', $DB);
our @AGAIN = engine_cmd('migrate', '--store', $DB);
our @LMDB = engine_cmd('migrate');
--- request
GET /health
--- post_request
is($FIRST[0], 0, 'migrate exits 0') or diag($FIRST[1]);
like($FIRST[1], qr/migrated from version 0 to 1/, 'and says what it did');
is($AGAIN[0], 0, 'migrate again exits 0') or diag($AGAIN[1]);
like($AGAIN[1], qr/at version 1: nothing to do/, 'and changes nothing');
is($PG->psql('migrated', 'SELECT count(*) FROM prt_schema'), 1,
   'one schema version row');
isnt($LMDB[0], 0, 'migrate without --store (LMDB) is refused');
like($LMDB[1], qr/LMDB, which needs no migration/, 'saying why');

my %idx = map { split /\|/, $_, 2 } split /\n/, $PG->psql('migrated',
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
    . "('prt_predictions', 'prt_failures', 'prt_jobs')");
like($idx{prt_predictions_by_job} // '', qr/\(job, id\)\z/,
     "a job's predictions by id");
like($idx{prt_predictions_by_symbol} // '',
     qr/\(symbol, scan_time_ms, id\)\z/, "a symbol's by scan time");
like($idx{prt_predictions_by_scan} // '', qr/\(scan_time_ms, id\)\z/,
     'all by scan time');
like($idx{prt_predictions_pending} // '', qr/\(due_ms, id\) WHERE pending\z/,
     'the unverified ones by due time');
like($idx{prt_failures_pkey} // '', qr/\(job, number\)\z/,
     "a job's failures in order");

=== TEST 2: an engine refuses a database that was not migrated
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $BARE = $PG->create_db('bare');
our @SERVE = engine_cmd('serve', '--store', $BARE, '--data-dir',
                        "$TMP/bare", '--socket', "$TMP/bare.sock");
--- request
GET /health
--- post_request
isnt($SERVE[0], 0, 'serve exits with an error');
like($SERVE[1], qr/schema version 0, this engine needs 1: run pattern-rt-engine migrate/,
     'naming the command to run');
is($PG->psql('bare', "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'prt_%'"),
   0, 'and creates no table itself');

=== TEST 3: a job's committed rows are what the engine reports
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $JOB = wait_job(run_job({ symbols => [@TICKERS, @UNKNOWN] })->{job_id});
our $FULL = get_job($JOB->{job_id});
our $HISTORY = call_api('GET', PRT . '/history?limit=1');
--- request
GET /health
--- post_request
my $db = engine_db();
my $job = job_bytes($JOB->{job_id});
is($FULL->{status}, 'completed', 'the job completed');
my $preds = $PG->psql($db, "SELECT count(*) FROM prt_predictions WHERE job = $job");
my $fails = $PG->psql($db, "SELECT count(*) FROM prt_failures WHERE job = $job");
is($preds, $FULL->{progress}{completed}, "prediction rows = progress.completed ($preds)");
is($fails, $FULL->{progress}{failed}, "failure rows = progress.failed ($fails)");
is($preds + $fails, @TICKERS + @UNKNOWN, 'every symbol has one or the other');
my @symbols = split /\n/, $PG->psql($db,
    "SELECT symbol FROM prt_predictions WHERE job = $job ORDER BY symbol");
is_deeply(\@symbols, [sort map { $_->{symbol} } @{ $FULL->{results} }],
          'the rows are the symbols of the results');
my @failed = split /\n/, $PG->psql($db,
    "SELECT number FROM prt_failures WHERE job = $job ORDER BY number");
is_deeply(\@failed, [0 .. $fails - 1], 'failures numbered 0.. without a gap');
my %predicted = map { $_ => 1 } @symbols;
ok(!(grep { $predicted{$_} } @UNKNOWN), 'no unknown symbol has a prediction');
is($PG->psql($db, "SELECT status FROM prt_jobs WHERE id = $job"), 1,
   'the job row says completed');
like($PG->psql($db, "SELECT node FROM prt_jobs WHERE id = $job"),
     qr/:\//, 'and names the node that ran it (host:data_dir)');
is($PG->psql($db, 'SELECT count(*) FROM prt_predictions WHERE pending'),
   $preds, 'every prediction waits for verification');
is($HISTORY->{json}{total}, $PG->psql($db, 'SELECT count(*) FROM prt_predictions'),
   '/history total = the rows');
my $ids = $PG->psql($db, "SELECT min(id) || ' ' || max(id) FROM prt_predictions");
is($ids, "1 $preds", 'prediction ids are 1..n, one per row');

=== TEST 4: the database down: 503 E_STORE, the engine stays up, nothing lost
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $BEFORE = call_api('GET', PRT . "/job/$JOB->{job_id}");
$PG->stop;
# a job id no worker has an answer for: the engine must ask the store
our %DOWN = (
    job => call_api('GET', PRT . '/job/6f1c2b7e-4d3a-4e59-9b1d-0c8e2f4a7d65'),
    history => call_api('GET', PRT . '/history'),
    performance => call_api('GET', PRT . '/performance'),
    run => call_api('POST', PRT . '/run', { symbols => [$TICKERS[0]] }),
);
our $HEALTH = health();
$PG->restart;
our $AFTER = call_api('GET', PRT . "/job/$JOB->{job_id}");
our $RUN = run_job({ symbols => [@TICKERS[0 .. 3]] });
our $NEW = wait_job($RUN->{job_id});
--- request
GET /health
--- post_request
is($BEFORE->{code}, 200, 'the job, before') or diag($BEFORE->{body});
for my $what (sort keys %DOWN) {
    my $r = $DOWN{$what};
    is($r->{code}, 503, "$what with the database down: 503") or diag($r->{body});
    is($r->{json}{error}{code}, 'E_STORE', "$what: E_STORE");
    is($r->{json}{error}{message}, 'the job store is unavailable, try again',
       "$what: the documented message, nothing internal");
}
is(ref $HEALTH, 'HASH', '/health answers meanwhile: the engine is up');
is($AFTER->{code}, 200, 'the database back: the job answers at once')
    or diag($AFTER->{body});
is_deeply($AFTER->{json}{results}, $BEFORE->{json}{results},
          'every acknowledged result unchanged');
is_deeply($AFTER->{json}{failures}, $BEFORE->{json}{failures},
          'every failure unchanged');
is($NEW->{status}, 'completed', 'a new job runs to the end');

=== TEST 5: a node killed mid-job: another node fails its job, "node lost", results kept
--- config
    location / {
        pattern_rt_api;
    }
--- init
our $DB5 = engine_db();
# the second node: an engine on the same store (no nginx: it only watches)
start_node_b("$TMP/node-b");
# one symbol a chunk on this node: the job is mid-way when it is killed
engine_config(args => ['--scan_chunk', 1]);
engine_restart();
wait_workers_connected();
our $ID = run_job({ symbols => [big_symbols(@TICKERS)] })->{job_id};
wait_job_status($ID, sub { $_[0]{progress}{completed} >= 4 },
                'a few predictions');
# decoded after the kill: decoding 10,000 symbols' answer takes longer
# than the rest of the job may
my $raw = call_api_raw('GET', PRT . "/job/$ID");
engine_kill('KILL');
our $SEEN = JSON::PP::decode_json($raw->{body});
my $job = job_bytes($ID);
our $STATUS_AT_KILL = $PG->psql($DB5, "SELECT status FROM prt_jobs WHERE id = $job");
wait_until(sub { $PG->psql($DB5, "SELECT status FROM prt_jobs WHERE id = $job") ne '0' },
           90, 'node b to fail the lost node\'s job');
our $B_LOG = read_from("$TMP/node-b/engine.log", 0);
our $ROWS = $PG->psql($DB5, "SELECT count(*) FROM prt_predictions WHERE job = $job");
stop_process($NODE_B, 'TERM', 10);
$NODE_B = undef;
engine_start();
wait_workers_connected();
our $AFTER_LOST = get_job($ID);
--- request
GET /health
--- post_request
is($SEEN->{status}, 'running', 'the job was running when its node was killed');
is($STATUS_AT_KILL, 0, 'and the store said running after the kill');
like($B_LOG, qr/1 running job\(s\) of nodes without a heartbeat for 10 seconds marked failed \("node lost"\)/,
     'the other node found the node lost and says so');
is($AFTER_LOST->{status}, 'failed', 'the job ended failed');
is($AFTER_LOST->{reason}, 'node lost', 'reason "node lost", not "engine restarted"');
my %after = map { $_->{id} => JSON::PP->new->canonical->encode($_) }
            @{ $AFTER_LOST->{results} };
my @lost = grep { ($after{$_->{id}} // '') ne JSON::PP->new->canonical->encode($_) }
           @{ $SEEN->{results} };
ok(@{ $SEEN->{results} } >= 4, 'results were visible before the kill ('
   . @{ $SEEN->{results} } . ')');
ok(!@lost, 'every one of them is kept, unchanged')
    or diag('first lost: ' . JSON::PP->new->canonical->encode($lost[0]));
is(scalar @{ $AFTER_LOST->{results} }, $ROWS,
   'the job shows every committed prediction');

=== TEST 6: two nodes on one store answer /job, /history and /performance alike
--- config
    location / {
        pattern_rt_api;
    }
--- init
start_node_b("$TMP/node-b2");
make_path(map { "$TMP/nginx-b/$_" } qw(conf logs html));
start_nginx_b("$TMP/nginx-b", "$TMP/node-b2/engine.sock");
# a job on node a (the harness's), then every read on both nodes
engine_config(args => ['--scan_chunk', 4]);
engine_restart();
wait_workers_connected();
our $ID6 = wait_job(run_job({ symbols => [@TICKERS, @UNKNOWN] })->{job_id})->{job_id};
our @PATHS = ("/job/$ID6", "/job/$ID6/results?limit=10000", '/history',
              '/history?limit=1000&offset=2', "/history?symbol=$TICKERS[0]",
              '/performance', '/performance?period=all&horizon=10');
our %A = map { $_ => call_api('GET', PRT . $_) } @PATHS;
our %B = map { $_ => get_b(PRT . $_) } @PATHS;
our @B_PROBLEMS = stop_node_b();
--- request
GET /health
--- post_request
for my $path (@PATHS) {
    is($A{$path}{code}, 200, "node a: $path 200") or diag($A{$path}{body});
    is($B{$path}{code}, 200, "node b: $path 200") or diag($B{$path}{body});
    ok($A{$path}{body} eq $B{$path}{body}, "$path: the same answer on both nodes")
        or diag("a: " . substr($A{$path}{body}, 0, 400) . "\nb: "
                . substr($B{$path}{body}, 0, 400));
}
ok(@{ $A{"/job/$ID6"}{json}{results} } > 0, 'the job has results to compare');
ok(!@B_PROBLEMS, "node b's nginx stopped cleanly") or diag("@B_PROBLEMS");

=== TEST 7: the bar feed reaches the other node through nginx's mirror
--- http_config
    upstream prt_node_b {
        server 127.0.0.1:$TEST_PRT_NODE_B_PORT;
    }
--- config
    location = /api/pattern-realtime/bars {
        mirror /_mirror/node-b;
        mirror_request_body on;
        pattern_rt_api;
    }
    location = /_mirror/node-b {
        internal;
        proxy_pass http://prt_node_b/api/pattern-realtime/bars;
        proxy_set_header Content-Type $content_type;
    }
    location / {
        pattern_rt_api;
    }
--- init
start_node_b("$TMP/node-b3");
start_nginx_b("$TMP/nginx-b3", "$TMP/node-b3/engine.sock");
our $A0 = health()->{feed}{bars_ingested};
our $B0 = JSON::PP::decode_json(get_b('/health')->{body})->{feed}{bars_ingested};
# three minutes before the clock, one ticker
my $t = ny_instant($DAY->{date}, '09:57') * 1000;
our @BARS = map { { ev => 'AM', sym => $TICKERS[0], v => 1000 + $_,
                    o => 10, c => 10.5, h => 11, l => 9.5,
                    s => $t + 60000 * $_, e => $t + 60000 * ($_ + 1) } } 0 .. 2;
our $POST = call_api('POST', PRT . '/bars', \@BARS);
our $B1 = wait_until(sub {
    my $n = JSON::PP::decode_json(get_b('/health')->{body})->{feed}{bars_ingested};
    $n > $B0 ? $n : undef;
}, 30, "node b to ingest the mirrored bars");
our $A1 = health()->{feed}{bars_ingested};
our @B_PROBLEMS7 = stop_node_b();
--- request
GET /health
--- post_request
is($POST->{code}, 200, 'POST /bars to node a: 200') or diag($POST->{body});
is($POST->{json}{accepted}, 3, 'node a accepted the 3 bars');
is($A1 - $A0, 3, 'node a ingested 3 bars');
is($B1 - $B0, 3, 'node b ingested the same 3, through the mirror');
ok(!@B_PROBLEMS7, "node b's nginx stopped cleanly") or diag("@B_PROBLEMS7");

=== TEST 8: a commit waiting on the database does not stall the engine's loop
--- config
    location / {
        pattern_rt_api;
    }
--- init
# A psql session holds the jobs table locked, so the engine's insert of a
# new job waits (lock_timeout is 10 s). Meanwhile /health must answer from
# the engine's loop while the insert is still seen waiting in pg_locks; the
# POST /run is answered only once its row is committed, after the release.
my $db = engine_db();
our $LOCK = lock_jobs();
our ($CHILD, $OUT) = run_in_child('a');
wait_until(sub { $PG->psql($db, "$JOB_LOCKS AND NOT l.granted") }, 30,
           "the engine's insert to wait on the lock");
our @HEALTH = map { call_api('GET', '/health') } 1 .. 3;
our $STILL_WAITING = $PG->psql($db, "$JOB_LOCKS AND NOT l.granted");
our $ANSWERED_EARLY = -e $OUT;
unlock($LOCK);
our $RUN = child_answer($CHILD, $OUT);
our $JOB = eval { wait_job(JSON::PP::decode_json($RUN->{body})->{job_id}) };
--- request
GET /health
--- post_request
for my $i (0 .. $#HEALTH) {
    is($HEALTH[$i]{code}, 200, "/health answers while the insert waits ($i)")
        or diag($HEALTH[$i]{body});
}
ok($STILL_WAITING >= 1, "the engine's insert was still waiting after those answers");
ok(!$ANSWERED_EARLY, 'POST /run was not answered before its row was committed');
is($RUN->{code}, 202, 'POST /run answered 202 once the lock was released')
    or diag($RUN->{body});
is($JOB->{status}, 'completed', 'the job ran to the end') or diag($@);
my $id = job_bytes($JOB->{job_id} // '00000000-0000-0000-0000-000000000000');
is($PG->psql(engine_db(), "SELECT count(*) FROM prt_jobs WHERE id = $id"), 1,
   'its row is in the store');

=== TEST 9: job starts waiting for the store are bounded: one more is 503 E_BUSY
--- config
    location / {
        pattern_rt_api;
    }
--- init
# store_queue 2: with the jobs table locked, one start waits in the store
# (its insert on the lock), one behind it; a third is refused at once.
engine_config(data => "$FIXTURES/demo", clock => $CLOCK,
              args => ['--scan_chunk', 4, '--store_queue', 2]);
engine_restart();
my $db = engine_db();
our $LOCK = lock_jobs();
our ($C1, $O1) = run_in_child('b1');
wait_until(sub { $PG->psql($db, "$JOB_LOCKS AND NOT l.granted") }, 30,
           "the first insert to wait on the lock");
our ($C2, $O2) = run_in_child('b2');
wait_until(sub { health()->{jobs}{store_waiting} == 2 }, 30,
           'two starts waiting for the store');
our $THIRD = call_api('POST', PRT . '/run', { symbols => [$TICKERS[0]] });
unlock($LOCK);
our @RUNS = (child_answer($C1, $O1), child_answer($C2, $O2));
our @JOBS = map { eval { wait_job(JSON::PP::decode_json($_->{body})->{job_id}) } } @RUNS;
our $AFTER = call_api('POST', PRT . '/run', { symbols => [$TICKERS[0]] });
engine_config(data => "$FIXTURES/demo", clock => $CLOCK,
              args => ['--scan_chunk', 4]);
--- request
GET /health
--- post_request
is($THIRD->{code}, 503, 'a third start: 503') or diag($THIRD->{body});
is($THIRD->{json}{error}{code}, 'E_BUSY', '... E_BUSY');
like($THIRD->{json}{error}{message}, qr/waiting for the job store/,
     '... saying why, nothing internal');
for my $i (0, 1) {
    is($RUNS[$i]{code}, 202, "start $i: 202 once the lock was released")
        or diag($RUNS[$i]{body});
    is($JOBS[$i]{status}, 'completed', "start $i: the job completed") or diag($@);
}
is($AFTER->{code}, 202, 'the queue drained: a start is accepted again')
    or diag($AFTER->{body});

=== TEST 10: two nodes past the same due time: each prediction verified by one of them
--- config
    location / {
        pattern_rt_api;
    }
    location /ws/pattern-realtime {
        pattern_rt_websocket;
    }
--- init
# A job on node a at 10:00, then both nodes on a clock two hours later,
# when every pending prediction is due. The predictions table is held
# locked meanwhile, so both nodes read the same due predictions and wait
# to store them at the same moment; released, one node stores (and counts
# and tells) each prediction, the other none of it. Each node's /health
# counters start at zero with its process.
engine_config(data => "$FIXTURES/demo", clock => $CLOCK,
              args => ['--scan_chunk', 4]);
engine_restart();
wait_workers_connected();
our $ID10 = wait_job(run_job({ symbols => \@TICKERS, horizon => 10 })->{job_id})->{job_id};
our $LATER = iso_z(ny_instant($DAY->{date}, '12:00'));
our $LATER_MS = ny_instant($DAY->{date}, '12:00') * 1000;
my $db = engine_db();
our $JOB_PREDS = $PG->psql($db, "SELECT count(*) FROM prt_predictions"
                           . " WHERE job = " . job_bytes($ID10));
our $DUE = $PG->psql($db, "SELECT count(*) FROM prt_predictions"
                     . " WHERE pending AND due_ms <= $LATER_MS");
our $LOCK = lock_predictions();
engine_config(data => "$FIXTURES/demo", clock => $LATER,
              args => ['--scan_chunk', 4, '--verify_interval_ms', 200]);
engine_restart();
wait_workers_connected();
start_node_b("$TMP/node-b10", $LATER, '--verify_interval_ms', 200);
start_nginx_b("$TMP/nginx-b10", "$TMP/node-b10/engine.sock");
wait_until(sub { $PG->psql($db, "$PRED_LOCKS AND NOT l.granted") >= 2 }, 30,
           'both nodes to wait to store their verifications');
our ($SUB_A, $SUB_B) = map { verifications_subscriber($_) }
                       server_port(), $NGINX_B->{port};
unlock($LOCK);
wait_until(sub { $PG->psql($db, "SELECT count(*) FROM prt_predictions"
                           . " WHERE pending AND due_ms <= $LATER_MS") == 0 },
           60, 'every due prediction stored');
sub verif_a { return health()->{verification} }
sub verif_b { return JSON::PP::decode_json(get_b('/health')->{body})->{verification} }
# two more passes on each node: whatever either has stored is counted
for my $get (\&verif_a, \&verif_b) {
    my $p0 = $get->()->{passes};
    wait_until(sub { $get->()->{passes} >= $p0 + 2 }, 30, 'two more passes');
}
our ($VA, $VB) = (verif_a(), verif_b());
our $LEFT = $PG->psql($db, "SELECT count(*) FROM prt_predictions"
                      . " WHERE pending AND due_ms <= $LATER_MS");
# every verification, whichever node stored it, on each node's channel
our %VER = (a => [verifications_of($SUB_A, $DUE)],
            b => [verifications_of($SUB_B, $DUE)]);
# the same scan on both nodes, now that each has heard the other's
# verifications: each node's calibration map is fitted on both nodes' outcomes
our %CAL = (a => wait_job(run_job({ symbols => \@TICKERS, horizon => 10 })->{job_id}),
            b => job_on_b({ symbols => \@TICKERS, horizon => 10 }));
our @B_PROBLEMS10 = stop_node_b();
engine_config(data => "$FIXTURES/demo", clock => $CLOCK,
              args => ['--scan_chunk', 4]);
--- request
GET /health
--- post_request
ok($JOB_PREDS > 0, "the job on node a made predictions ($JOB_PREDS)");
ok($DUE >= $JOB_PREDS, "they are among the due ones ($DUE)");
is($LEFT, 0, 'none is pending in the store');
my $a = $VA->{verified} + $VA->{unverifiable};
my $b = $VB->{verified} + $VB->{unverifiable};
is($a + $b, $DUE, "each due prediction judged by one node: a $a + b $b = $DUE");
for my $n (qw(a b)) {
    my %ids;
    $ids{ $_->{data}{id} // 'none' }++ for @{ $VER{$n} };
    is(scalar(keys %ids), $DUE, "node $n's verifications channel: an event "
       . 'for each due prediction, from both nodes');
    is(scalar(grep { $_ != 1 } values %ids), 0, "node $n: each once");
}
is_deeply([map { without_seq($_) } @{ $VER{b} }],
          [map { without_seq($_) } @{ $VER{a} }],
          'the same events on both nodes (their seq aside)');
my %calibrated = map {
    my $n = $_;
    ($n => { map { $_->{symbol} => $_->{prob_up_calibrated} } @{ $CAL{$n}{results} } });
} qw(a b);
ok(keys %{ $calibrated{a} } > 0, 'the scan on node a has results');
is_deeply($calibrated{b}, $calibrated{a},
          'the same scan on both nodes: the same prob_up_calibrated, each '
          . "node's map fitted on both nodes' verifications");
ok((grep { $_ != 0.5 } values %{ $calibrated{a} }),
   'and the maps are fitted on something (not all 0.5)');
ok(!@B_PROBLEMS10, "node b's nginx stopped cleanly") or diag("@B_PROBLEMS10");

=== TEST 11: a job on node a: its events reach node b's subscribers, live and replayed
--- config
    location / {
        pattern_rt_api;
    }
--- init
start_node_b("$TMP/node-b11");
start_nginx_b("$TMP/nginx-b11", "$TMP/node-b11/engine.sock");
engine_config(data => "$FIXTURES/demo", clock => $CLOCK,
              args => ['--scan_chunk', 4]);
engine_restart();
wait_workers_connected();
# one symbol a chunk: the job runs while node b's subscriber listens
our $RUN11 = run_job({ symbols => [@TICKERS, @UNKNOWN] });
our $WS11 = PatternRT::WebSocket->connect(port => $NGINX_B->{port});
$WS11->send_json({ type => 'subscribe', job_id => $RUN11->{job_id}, since => 0 });
our @LIVE11 = $WS11->messages_until(sub { ($_[0]{type} // '') eq 'job_complete' }, 60);
$WS11->send_close(1000);
our $JOB11 = wait_job($RUN11->{job_id});
our @ALL11 = replay_events($NGINX_B->{port},
                           sub { $_[0]{type} eq 'job_complete' },
                           job_id => $RUN11->{job_id});
our $RELAY_A = health()->{relay};
our $STORE_A = health()->{store};
our $RELAY_B = JSON::PP::decode_json(get_b('/health')->{body})->{relay};
--- request
GET /health
--- post_request
my @events = grep { defined $_->{seq} } @LIVE11;
is(scalar(grep { ($_->{type} // '') eq 'subscribed' } @LIVE11), 1, 'subscribed on node b');
ok(@{ $JOB11->{results} } > 0, 'the job has results (' . @{ $JOB11->{results} } . ')');
my @p = (job_stream_problems(\@events, $JOB11, \@ALL11),
         seq_problems([map { [1, $_] } @events]));
ok(!@p, "node b's subscriber got the job's events from node a, as GET /job says")
    or diag(join("\n", @p[0 .. ($#p < 9 ? $#p : 9)]));
ok($RELAY_A->{connected} && $RELAY_B->{connected}, 'both relays connected');
ok($RELAY_A->{sent} >= @events, "node a sent its events ($RELAY_A->{sent})");
ok($RELAY_B->{received} >= @events, "node b received them ($RELAY_B->{received})");
is($RELAY_B->{dropped_in} + $RELAY_A->{dropped_out} + $RELAY_B->{refused_in}, 0,
   'none dropped or refused');
is($STORE_A->{backend}, 'postgresql', '/health store.backend: postgresql');
ok(!exists $STORE_A->{map_bytes}, 'without LMDB map sizes');

=== TEST 12: node b's relay connection killed: E_GAP to its subscribers, then events again
--- config
    location / {
        pattern_rt_api;
    }
--- init
# node b (still up from TEST 11) hears a job, then its LISTEN connection is
# killed from psql: its live subscribers get E_GAP, a subscribe with a since
# from before is E_GAP, and once it listens again a new job's events come
our $PRICES = PatternRT::WebSocket->connect(port => $NGINX_B->{port});
$PRICES->send_json({ type => 'subscribe', channel => 'prices' });
our @SUB12 = $PRICES->messages_until(sub { ($_[0]{type} // '') eq 'subscribed' }, 10);
our $BEFORE = JSON::PP::decode_json(get_b('/health')->{body})->{relay};
our $KILLED = $PG->psql(engine_db(), "SELECT count(pg_terminate_backend(pid))"
    . " FROM pg_stat_activity WHERE application_name = 'pattern-rt-engine relay'");
our @GAP12 = $PRICES->messages_until(sub { ($_[0]{code} // '') eq 'E_GAP' }, 30);
wait_until(sub { JSON::PP::decode_json(get_b('/health')->{body})->{relay}{connects}
                 > $BEFORE->{connects} }, 30, 'node b to listen again');
# TEST 11's job stream on node b, from its last event: E_GAP now
our @OLD12 = do {
    my $w = PatternRT::WebSocket->connect(port => $NGINX_B->{port});
    $w->send_json({ type => 'subscribe', job_id => $RUN11->{job_id},
                    since => $ALL11[-1]{seq} });
    $w->messages_until(sub { ($_[0]{type} // '') eq 'error' }, 10);
};
our $RUN12 = run_job({ symbols => \@TICKERS });
our $JOB12 = wait_job($RUN12->{job_id});
our @ALL12 = replay_events($NGINX_B->{port},
                           sub { $_[0]{type} eq 'job_complete' },
                           job_id => $RUN12->{job_id});
our $LOG12 = read_from("$TMP/node-b11/engine.log", 0);
--- request
GET /health
--- post_request
ok($KILLED >= 2, "the relay connections of both nodes killed ($KILLED)");
my ($gap) = grep { ($_->{code} // '') eq 'E_GAP' } @GAP12;
ok($gap, "node b's live subscriber told E_GAP") or diag(JSON::PP::encode_json(\@GAP12));
is($gap->{channel}, 'prices', 'on its channel') if $gap;
like($LOG12, qr/relay: listening for the other nodes' events again/,
     'node b says it listens again');
my ($old) = grep { ($_->{type} // '') eq 'error' } @OLD12;
is($old->{code} // '', 'E_GAP', 'a since from before the loss: E_GAP')
    or diag(JSON::PP::encode_json(\@OLD12));
my @p = job_stream_problems([grep { defined $_->{seq} } @ALL12], $JOB12, undef);
ok(!@p, "a job after it: its events on node b again")
    or diag(join("\n", @p[0 .. ($#p < 9 ? $#p : 9)]));

=== TEST 13: notifications that are not ours are refused, nothing published
--- config
    location / {
        pattern_rt_api;
    }
--- init
sub health_b { JSON::PP::decode_json(get_b('/health')->{body}) }
our $H0 = health_b();
my @bad = ('garbage', 'e 0 2 0 0 1 - - -', "e 9 2 0 0 1 - - -\n{}",
           "e 1 4 0 0 1 - - -\n{\"seq\":1", "e 0 2 0 0 1 - 1 AAA\n{\"seq\":1}",
           "e 1 4 0 0 01 - - -\n{\"seq\":1}", "e 1 4 0 0 1 - - -\n{\"seq\":\n1}");
for my $payload (@bad) {
    (my $lit = $payload) =~ s/'/''/g;
    $PG->psql(engine_db(), "NOTIFY prt_events, '$lit'");
}
our $WANT13 = scalar @bad;
wait_until(sub { health_b()->{relay}{refused_in} >= $H0->{relay}{refused_in} + $WANT13 },
           30, 'node b to read the notifications');
our $H1 = health_b();
our @B_PROBLEMS13 = stop_node_b();
--- request
GET /health
--- post_request
is($H1->{relay}{refused_in} - $H0->{relay}{refused_in}, $WANT13, "all $WANT13 refused");
is($H1->{relay}{received}, $H0->{relay}{received}, 'none taken for an event');
is($H1->{events}{published}, $H0->{events}{published}, 'nothing published on node b');
ok(!@B_PROBLEMS13, "node b's nginx stopped cleanly") or diag("@B_PROBLEMS13");
