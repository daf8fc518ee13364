# scripts/pattern-rt (what `make start` / `make stop` run) on a free port in
# a temporary var dir, on the demo fixture's flat files (README "Running"):
#
# * start returns once GET /health answers through nginx from the engine
#   it started (asserted right after it returns, without waiting);
# * after the engine is killed with -9 it stays a zombie until its parent
#   reaps it (this test makes itself that parent: a child subreaper), and
#   its socket file stays behind: start again must see a dead engine, not
#   "already running", start a new one and return once /health answers
#   from it, not from the stale socket;
# * stop ends nginx and the engine.

use strict;
use warnings;

use lib 't/lib';
use Config;
use File::Temp qw(tempdir);
use IPC::Run ();
use JSON::PP ();
use LWP::UserAgent;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(sleep time);

use PatternRT::Util qw(free_port);

my $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo-flat";
plan(skip_all => 'no /proc (the script reads process states there)')
    unless -r "/proc/$$/stat";

my $SCRIPT = 'scripts/pattern-rt';
my $VAR = tempdir('prt-start-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $PORT = free_port();
my $INST = "$VAR/$PORT";
my @COMMON = ('--port', $PORT, '--var', $VAR);

# PR_SET_CHILD_SUBREAPER: orphans (the engine and nginx, which the script
# starts in the background) become our children, so a killed engine stays
# a zombie until this test reaps it, as long as a slow init would keep it.
my %PRCTL = (x86_64 => 157, aarch64 => 167);
my ($arch) = $Config{archname} =~ /\A([^-]+)/;
my $subreaper = $PRCTL{$arch} && syscall($PRCTL{$arch}, 36, 1, 0, 0, 0) == 0;

sub script {
    my (@args) = @_;

    my ($out, $err) = ('', '');
    IPC::Run::run([$SCRIPT, @args], '<', \undef, '>', \$out, '2>', \$err,
                  IPC::Run::timeout(300));
    return { code => $? >> 8, out => $out, err => $err };
}

sub health {
    my $ua = LWP::UserAgent->new(timeout => 5, keep_alive => 0);
    my $r = $ua->get("http://127.0.0.1:$PORT/health");
    my $json = eval { JSON::PP->new->decode($r->decoded_content) };
    return ($r->code, $json);
}

sub read_pid {
    my ($file) = @_;

    open my $fh, '<', $file or return undef;
    my ($pid) = <$fh> =~ /(\d+)/;
    return $pid;
}

sub state_of {
    my ($pid) = @_;

    open my $fh, '<', "/proc/$pid/stat" or return 'gone';
    my ($state) = <$fh> =~ /\) (\S)/;
    return $state;
}

sub reap {
    local $?;                           # the test's exit status in END
    1 while waitpid(-1, WNOHANG) > 0;
}

my $stopped;
END {
    local $?;
    script('stop', @COMMON) unless $stopped || !defined $PORT;
    reap();
}

# the script builds its bar store and index from the fixture's flat files
my $r = script('start', @COMMON, '--clock', 'feed', '--data',
               "$FIXTURES/demo-flat");
is($r->{code}, 0, 'start exits 0') or diag("$r->{out}\n$r->{err}");
my ($code, $h) = health();
is($code, 200, 'GET /health answers 200 through nginx as soon as start returns');
ok($h && $h->{nginx}{engine_connected}, 'with the engine attached');
my $first = read_pid("$INST/engine.pid");
is($h && $h->{engine}{pid}, $first, 'from the engine start started');

SKIP: {
    skip 'no engine pid', 9 unless $first;
    kill 'KILL', $first;
    # it is gone once it stops running: a zombie (our child when we are a
    # subreaper) or reaped by init
    my $deadline = time + 10;
    sleep 0.05 until state_of($first) =~ /\A(?:Z|gone)\z/ || time > $deadline;
    if ($subreaper) {
        is(state_of($first), 'Z', 'the killed engine is a zombie (not reaped yet)');
    } else {
        pass("no subreaper on $arch: the killed engine is "
             . state_of($first));
    }
    ok(-S "$INST/data/engine.sock", 'its socket file is left behind');

    $r = script('start', @COMMON, '--clock', 'feed', '--data',
                "$FIXTURES/demo-flat");
    is($r->{code}, 0, 'start again exits 0') or diag("$r->{out}\n$r->{err}");
    unlike($r->{out}, qr/engine already running/,
           'it does not take the killed engine for a running one');
    ($code, $h) = health();
    is($code, 200, 'GET /health answers 200 as soon as start returns');
    ok($h && $h->{nginx}{engine_connected}, 'with the engine attached');
    my $second = read_pid("$INST/engine.pid");
    ok($second && $second != $first, "a new engine ($second, the killed one "
       . "was $first)");
    is($h && $h->{engine}{pid}, $second, '/health comes from the new engine');
    my @workers = $h ? @{ $h->{ipc}{workers} } : ();
    ok(@workers >= 2, scalar(@workers) . ' nginx workers attached to it');
}
reap();

$r = script('status', @COMMON);
like($r->{out}, qr/engine: running .*\nnginx: running/s, 'status: both running');
my $engine = read_pid("$INST/engine.pid");
my $nginx = read_pid("$INST/logs/nginx.pid");
$r = script('stop', @COMMON);
$stopped = 1;
is($r->{code}, 0, 'stop exits 0') or diag("$r->{out}\n$r->{err}");
reap();
is(state_of($engine), 'gone', 'the engine has exited') if $engine;
is(state_of($nginx), 'gone', 'nginx has exited') if $nginx;
($code) = health();
isnt($code, 200, 'nothing answers on the port any more');
$r = script('status', @COMMON);
like($r->{out}, qr/engine: stopped\nnginx: stopped/, 'status: both stopped');

done_testing();
