package PatternRT::Test;

# Block code (eval sections, --- init, --- post_request) is compiled here,
# ahead of every lexical of this file and without "use strict", so it runs as
# the test file's own code: package main, where `our` variables of the test
# file's preamble are visible by their plain names.
sub _eval_in_main {
    package main;
    # @result is not yet in scope inside its own initializer
    my @result = CORE::eval('#line 1 "' . ($_[1] =~ tr/"\n/' /r) . "\"\n"
                            . $_[0]);
    return $@ ? (0, $@) : (1, @result);
}

# A Test::Nginx-style harness: Test::Base blocks run against a real nginx
# (master + workers) and, when asked, the real engine daemon. The user
# manual is docs/testing.md; this file is organised as
#   preamble API -> run_tests -> one block -> requests and checks -> logs.

use strict;
use warnings;

use Test::Base -base;

use Cwd qw(abs_path);
use File::Basename qw(basename dirname);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use LWP::UserAgent;
use Test::Base::Filter;
use Text::Diff ();
use Time::HiRes qw(sleep time);

use PatternRT::Engine;
use PatternRT::HTTP qw(build_request request_method exchange header_value);
use PatternRT::JSONMatch qw(decode_json_text json_mismatch json_path_check);
use PatternRT::Nginx;
use PatternRT::Util qw(
    wait_until file_size read_from tail_text process_cmdline process_alive
    free_port
);

our @EXPORT = qw(
    run_tests repeat_each no_plan workers no_module
    engine_config fake_engine_command engine_start engine_restart
    engine_kill engine_pid nginx_reload nginx_pid worker_pids
    http_get wait_until server_root server_port html_dir
    engine_socket engine_data_dir error_log_part engine_log_part
);

my $ROOT = dirname(dirname(dirname(dirname(abs_path(__FILE__)))));
my $MARKER = '.patternrt-servroot';    # "this directory is ours to wipe"
my $MAX_SOCKET_PATH = 100;             # sun_path holds 108 bytes
my $LOG_GRACE = 1;         # seconds an expected log line may lag behind
my $SHOW_BODY = 2000;      # bytes of a body shown in a failure message
my @ALERT_RE = (qr/\[(?:alert|crit|emerg)\]/, qr/exited on signal \d+/);

my %Opt = (workers => 2, module => 1, repeat => 1);
my %Engine_opt;            # engine_config() settings (PatternRT::Engine's)
my $Engine_all_blocks;     # undef until engine_config(); then 1 or 0
my $Ctx;                   # this test file: paths, port, nginx, engine
our $Block;                # the block being run (local per block)
my $Owner = $$;            # only this process may clean up at exit

# ---------------------------------------------------------------------------
# Preamble API

sub repeat_each {
    $Opt{repeat} = _positive_int(shift, 'repeat_each') if @_;
    return $Opt{repeat};
}

sub workers {
    $Opt{workers} = _positive_int(shift, 'workers') if @_;
    return $Opt{workers};
}

# Do not load ngx_http_pattern_rt_module (tests of stock nginx only).
sub no_module {
    $Opt{module} = 0;
}

sub no_plan {
    plan('no_plan');
}

# Engine settings: command (argv prefix replacing the engine binary), clock,
# data (fixture directory copied into the fresh data dir), args (extra
# arguments), ready (regex for the ready line), ready_timeout, stop_timeout,
# all_blocks (1, the default of the first call: every block uses the engine
# unless --- no_engine; 0: only blocks with --- engine). Callable again
# from --- init: the settings given change, at the next engine start.
sub engine_config {
    my (%o) = @_;

    my %map = (command => 'program', data => 'fixture', clock => 'clock',
               args => 'args', ready => 'ready',
               ready_timeout => 'ready_timeout',
               stop_timeout => 'stop_timeout');
    croak 'engine_config: command and args must be array references'
        if grep { exists $o{$_} && ref $o{$_} ne 'ARRAY' } qw(command args);
    for my $key (keys %o) {
        next if $key eq 'all_blocks';
        croak "engine_config: unknown setting '$key'" unless $map{$key};
        $Engine_opt{$map{$key}} = $o{$key};
    }
    $Engine_opt{fixture} = _abs($Engine_opt{fixture})
        if defined $Engine_opt{fixture};
    $Engine_opt{ready} = qr/$Engine_opt{ready}/
        if defined $Engine_opt{ready} && ref $Engine_opt{ready} ne 'Regexp';
    $Engine_all_blocks = $o{all_blocks} // $Engine_all_blocks // 1;
    $Ctx->{engine}->configure(%Engine_opt) if $Ctx && $Ctx->{engine};
}

sub fake_engine_command {
    return [$^X, "$ROOT/t/lib/PatternRT/fake-engine"];
}

# ---------------------------------------------------------------------------
# API for --- init / --- post_request code

sub engine_start   { return _engine()->start(@_) }
# After a restart each nginx worker reconnects on its own backoff (up to
# pattern_rt_reconnect): with the real engine, returns once every worker
# has attached, so that the next request reaches the engine whichever
# worker takes it.
sub engine_restart {
    my $engine = _engine();
    my $offset = file_size($engine->log_path);
    my $pid = $engine->restart(@_);

    _wait_workers_attached($engine, $offset)
        if $Block && $Block->{uses_engine} && !$Engine_opt{program};
    return $pid;
}

sub _wait_workers_attached {
    my ($engine, $offset) = @_;

    my $nginx = $Ctx && $Ctx->{nginx} or return;
    my @pids = $nginx->worker_pids;
    return unless @pids;
    wait_until(sub {
        my $log = read_from($engine->log_path, $offset);
        !grep { $log !~ /\bworker $_ attached\b/ } @pids;
    }, 10, 'every nginx worker to attach to the restarted engine');
}

sub engine_kill    { return _engine()->signal(@_) }

sub engine_pid {
    my $engine = $Ctx && $Ctx->{engine} or return undef;
    return $engine->running ? $engine->pid : undef;
}

sub nginx_reload { return _context()->{nginx}->reload(@_) }
sub nginx_pid    { return _context()->{nginx}->master_pid }
sub worker_pids  { return _context()->{nginx}->worker_pids }

# A quick LWP request to this file's nginx; returns the HTTP::Response.
sub http_get {
    my ($path, @headers) = @_;

    my $ua = LWP::UserAgent->new(timeout => _request_timeout(),
                                 keep_alive => 0);
    return $ua->get('http://127.0.0.1:' . server_port() . $path, @headers);
}

sub server_root     { return _context()->{servroot} }
sub server_port     { return _context()->{port} }
sub html_dir        { return server_root() . '/html' }
sub engine_socket   { return _context()->{socket} }
sub engine_data_dir { return _context()->{data_dir} }

# What nginx (error.log) and the engine (engine.log) logged since the
# current block began (the whole log outside a block).
sub error_log_part {
    return read_from(_context()->{nginx}->error_log_path,
                     $Block ? $Block->{log_offset} : 0);
}

sub engine_log_part {
    return read_from(_engine_log_path(), $Block ? $Block->{engine_offset} : 0);
}

# ---------------------------------------------------------------------------
# The test file

sub run_tests {
    my $ctx = _context();

    plan('no_plan') unless Test::More->builder->has_plan;
    _check_prerequisites($ctx);
    _prepare_servroot($ctx->{servroot});
    $ctx->{nginx} = PatternRT::Nginx->new(
        servroot => $ctx->{servroot}, port => $ctx->{port},
        binary => $ctx->{binary});
    $SIG{INT} = sub { _cleanup(); exit 130 };
    $SIG{TERM} = sub { _cleanup(); exit 143 };

    my @blocks = eval { blocks() };
    if ($@) {
        fail('the test blocks parse');
        diag($@);
    }
    for my $block (@blocks) {
        _run_block($block, $_) for 1 .. $Opt{repeat};
    }
    _finish_file();
}

sub _context {
    return $Ctx if $Ctx;

    (my $name = basename($0)) =~ s/\.t\z//;
    $name =~ s/[^\w.-]/_/g;
    my $servroot = _abs($ENV{TEST_NGINX_SERVROOT}
                        || "$ROOT/t/servroot-$name");
    my $port = $ENV{TEST_NGINX_PORT} || free_port();
    $Ctx = {
        servroot => $servroot,
        port => $port,
        binary => $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx',
        module => _abs($ENV{TEST_PRT_MODULE}
                   || "$ROOT/build/nginx/ngx_http_pattern_rt_module.so"),
        engine_bin => _abs($ENV{TEST_PRT_ENGINE}
                       || "$ROOT/build/pattern-rt-engine"),
        socket => _socket_path($servroot),
        data_dir => "$servroot/data",
    };
    # for $TEST_... in config sections and for processes the tests start
    $ENV{TEST_NGINX_PORT} = $ENV{TEST_NGINX_SERVER_PORT} = $port;
    $ENV{TEST_NGINX_SERVROOT} = $servroot;
    $ENV{TEST_NGINX_HTML_DIR} = "$servroot/html";
    $ENV{TEST_PRT_ENGINE_SOCKET} = $Ctx->{socket};
    $ENV{TEST_PRT_DATA_DIR} = $Ctx->{data_dir};
    return $Ctx;
}

sub _abs {
    my ($path) = @_;

    return File::Spec->rel2abs($path);
}

# The socket lives in the servroot unless that path is too long for a unix
# socket address; then in a private temporary directory.
sub _socket_path {
    my ($servroot) = @_;

    my $path = "$servroot/engine.sock";
    return $path if length $path <= $MAX_SOCKET_PATH;
    return tempdir('prt-XXXXXX', TMPDIR => 1, CLEANUP => 1) . '/engine.sock';
}

sub _check_prerequisites {
    my ($ctx) = @_;

    Test::More::BAIL_OUT("nginx binary $ctx->{binary} is not executable "
                         . '(set TEST_NGINX_BINARY)')
        unless -x $ctx->{binary};
    Test::More::BAIL_OUT("the nginx module $ctx->{module} is not built: "
                         . 'run make first (or set TEST_PRT_MODULE)')
        if $Opt{module} && !-f $ctx->{module};
}

# A fresh servroot per test file. Processes left by an earlier run of the
# same file that was killed are stopped first; a directory without our
# marker is never wiped.
sub _prepare_servroot {
    my ($dir) = @_;

    _stop_stale($dir);
    if (-e $dir) {
        die "refusing to clean $dir: it has no $MARKER, so it is not a "
            . "servroot made by this harness\n" unless -e "$dir/$MARKER";
        remove_tree($dir, { error => \my $errors });
        die "cannot remove $dir\n" if @$errors;
    }
    make_path(map { "$dir/$_" } qw(conf logs html));
    open my $fh, '>', "$dir/$MARKER" or die "create $dir/$MARKER: $!\n";
    close $fh;
}

sub _stop_stale {
    my ($dir) = @_;

    my ($nginx) = read_from("$dir/logs/nginx.pid", 0) =~ /\A\s*(\d+)/;
    if ($nginx) {
        my $cmd = process_cmdline($nginx) // '';
        _stop_foreign($nginx, 'nginx')
            if $cmd =~ /\Anginx: master process/ && index($cmd, $dir) >= 0;
    }
    my $engine = PatternRT::Engine->stale_pid("$dir/logs/engine.pid",
                                              "$dir/data");
    _stop_foreign($engine, 'engine') if $engine;
}

# A process that is not our child: signal it and poll until it is gone.
sub _stop_foreign {
    my ($pid, $what) = @_;

    diag("stopping the $what (pid $pid) left by an earlier run");
    for my $signal (qw(TERM KILL)) {
        kill $signal, $pid;
        return if eval {
            wait_until(sub { !process_alive($pid) }, 5, "$what $pid to exit");
        };
    }
    die "cannot stop the $what (pid $pid) left by an earlier run\n";
}

sub _engine {
    my $ctx = _context();
    return $ctx->{engine} if $ctx->{engine};

    my $program = $Engine_opt{program} // [$ctx->{engine_bin}];
    Test::More::BAIL_OUT("the engine $program->[0] is not built: "
                         . 'run make first (or set TEST_PRT_ENGINE)')
        unless ref $program eq 'ARRAY' && -x $program->[0];
    $ctx->{engine} = PatternRT::Engine->new(
        ready_timeout => $ENV{TEST_PRT_ENGINE_TIMEOUT} || 30,
        %Engine_opt,
        program => $program,
        socket => $ctx->{socket},
        data_dir => $ctx->{data_dir},
        log => _engine_log_path(),
        pid_file => "$ctx->{servroot}/logs/engine.pid",
    );
    return $ctx->{engine};
}

sub _engine_log_path {
    return _context()->{servroot} . '/logs/engine.log';
}

sub _finish_file {
    my $engine = $Ctx->{engine};
    return unless $engine && $engine->was_started;

    my $died = $engine->take_unexpected_exit;
    if (defined $died) {
        fail('the engine ran until the end of the file');
        diag($died);
        return;
    }
    return unless $engine->running;
    my (undef, $problem) = $engine->stop;
    ok(!defined $problem, 'the engine exited cleanly on SIGTERM')
        or diag($problem);
}

sub _cleanup {
    return unless $Ctx && $$ == $Owner;
    $Ctx->{nginx}->kill_now if $Ctx->{nginx};
    $Ctx->{engine}->kill_now if $Ctx->{engine};
}

END {
    local $?;    # waitpid in the cleanup must not change the exit code
    _cleanup();
}

# ---------------------------------------------------------------------------
# One block: engine -> config -> nginx -> init -> requests -> logs -> stop

sub _run_block {
    my ($block, $rep) = @_;

    my $name = $block->name;
    $name .= " (repeat $rep)" if $Opt{repeat} > 1;
    my $nginx = $Ctx->{nginx};
    local $Block = {
        name => $name,
        uses_engine => _uses_engine($block),
        must_die => exists $block->{must_die},
        log_offset => file_size($nginx->error_log_path),
        stderr_offset => file_size($nginx->stderr_path),
        engine_offset => file_size(_engine_log_path()),
    };
    Test::More::note($name);
    if (!eval { _run_block_steps($block); 1 }) {
        fail(_tname('harness error'));
        diag($@);
    }
    _finish_block($block);
}

sub _uses_engine {
    my ($block) = @_;

    return 0 if exists $block->{no_engine};
    return 1 if exists $block->{engine};
    return $Engine_all_blocks // 0;
}

sub _run_block_steps {
    my ($block) = @_;

    if ($Block->{uses_engine}) {
        return unless _attempt('engine started', sub { _engine()->start });
    }
    _write_config($block);
    if ($Block->{must_die}) {
        my $started = eval { $Ctx->{nginx}->start; 1 };
        ok(!$started, _tname('nginx refused to start (must_die)'));
        _check_logs($block);
        return;
    }
    return unless _attempt('nginx started', sub { $Ctx->{nginx}->start });
    return if exists $block->{init}
        && !_attempt('init', sub { _run_code($block->init, 'init') });
    _run_requests($block);
    for my $section (qw(post_request post_init)) {
        next unless exists $block->{$section};
        return unless _attempt($section,
                               sub { _run_code($block->$section, $section) });
    }
    sleep $block->wait if $block->wait;
    _check_logs($block);
}

# Runs $code; a failure becomes one failed test "<block> - $what" with the
# error as diagnostics. Success adds no test.
sub _attempt {
    my ($what, $code) = @_;

    return 1 if eval { $code->(); 1 };
    fail(_tname($what));
    diag($@);
    return 0;
}

sub _run_code {
    my ($code, $section) = @_;

    my ($ok, $error) = _eval_in_main($code, "$Block->{name} --- $section");
    die $error unless $ok;
}

sub _tname {
    my ($what) = @_;

    return "$Block->{name} - $what";
}

sub _write_config {
    my ($block) = @_;

    my $workers = defined $block->workers
        ? _positive_int($block->workers, '--- workers') : $Opt{workers};
    my $module = $Opt{module} ? $Ctx->{module} : undef;
    $Ctx->{nginx}->write_config(
        title => "$0 $Block->{name}",
        workers => $workers,
        # As root, workers would drop to "nobody" and could not reach the
        # engine socket or the servroot under the checkout.
        user => $> == 0 ? ($ENV{TEST_NGINX_USER} || 'root') : undef,
        module => $module,
        engine_socket => $module && $Block->{uses_engine}
            ? $Ctx->{socket} : undef,
        map { $_ => _expand_env(scalar $block->$_, $_) }
            qw(main_config http_config config),
    );
}

# After the block: stop nginx, then the checks that cover the whole block
# including shutdown: alerts and crashes in error.log, the engine alive.
sub _finish_block {
    my ($block) = @_;

    my @problems = $Ctx->{nginx}->stop;
    ok(!@problems, _tname('nginx stopped cleanly'))
        or diag(join "\n", @problems);

    my @bad = _unexpected_alerts($block, _block_error_log());
    ok(!@bad, _tname('no alert, crit, emerg or worker crash in error.log'))
        or diag(_indent(_first(10, @bad)));

    my $engine = $Ctx->{engine};
    my $died = $engine ? $engine->take_unexpected_exit : undef;
    if ($Block->{uses_engine} || defined $died) {
        ok(!defined $died, _tname('engine did not exit on its own'))
            or diag($died);
    }
}

sub _unexpected_alerts {
    my ($block, $log) = @_;

    my @expected = _patterns($block, 'error_log');
    return grep {
        my $line = $_;
        (grep { $line =~ $_ } @ALERT_RE)
            && !($Block->{must_die} && $line =~ /\[emerg\]/)
            && !grep { _log_has($line, $_) } @expected;
    } split /\n/, $log;
}

# ---------------------------------------------------------------------------
# Requests and response checks

sub _request_timeout {
    my ($block) = @_;

    my $t = ($block && $block->timeout) || $ENV{TEST_NGINX_TIMEOUT} || 10;
    $t =~ s/\s+//g;
    return $t;
}

sub _run_requests {
    my ($block) = @_;

    my @requests = _requests($block);
    my $delay = $block->raw_request_middle_delay // 0.05;
    for my $i (0 .. $#requests) {
        my $result = exchange(
            port => $Ctx->{port}, pieces => $requests[$i]{pieces},
            method => $requests[$i]{method}, delay => $delay,
            timeout => _request_timeout($block));
        _check_response($block, $result, $i, scalar @requests);
    }
}

# The requests of a block: a --- raw_request (a string, or an array of
# pieces sent separately) or one or more --- request texts.
sub _requests {
    my ($block) = @_;

    if (exists $block->{raw_request}) {
        my $raw = $block->raw_request;
        my @pieces = map { _expand_env($_, 'raw_request') }
                     ref $raw eq 'ARRAY' ? @$raw : ($raw);
        return ({ pieces => \@pieces,
                  method => request_method(join '', @pieces) });
    }
    return () unless exists $block->{request};
    my $request = $block->request;
    my @texts = ref $request eq 'ARRAY' ? @$request : ($request);
    return map {
        my $headers = _header_pairs(
            _for_request($block, 'more_headers', $_, scalar @texts));
        my $bytes = build_request(_expand_env($texts[$_], 'request'),
                                  $headers);
        { pieces => [$bytes], method => request_method($bytes) };
    } 0 .. $#texts;
}

# The expectation of $section for request $i of $n: an array (from eval)
# gives one entry per request, anything else applies to every request. With
# a single request, an array in --- response_json is the expected JSON.
sub _for_request {
    my ($block, $section, $i, $n) = @_;

    return undef unless exists $block->{$section};
    my $value = $block->$section;
    return $value unless ref $value eq 'ARRAY';
    return $value if $section eq 'response_json' && $n == 1;
    die "--- $section has " . @$value . " entries for $n request(s)\n"
        unless @$value == $n;
    return $value->[$i];
}

sub _header_pairs {
    my ($text) = @_;

    my @pairs;
    for my $line (_lines(_expand_env($text, 'more_headers'))) {
        my ($name, $value) = $line =~ /\A([^:\s]+)\s*:\s*(.*?)\s*\z/
            or die "--- more_headers: not a 'Name: value' line: $line\n";
        push @pairs, [$name, $value];
    }
    return \@pairs;
}

sub _check_response {
    my ($block, $result, $i, $n) = @_;

    my $label = $n > 1 ? sprintf('request %d ', $i + 1) : '';
    my $resp = $result->{response};
    my $want = _for_request($block, 'error_code', $i, $n) // 200;
    $want =~ s/\s+//g;
    if ($want eq '') {
        ok(!$resp, _tname("${label}no response"))
            or diag("got status $resp->{status}");
        return;
    }
    Test::More::is($resp ? $resp->{status} : undef, $want,
                   _tname("${label}status code"))
        or diag(_explain($result));
    _check_headers($block, $resp, $i, $n, $label);
    _check_body($block, $resp, $i, $n, $label);
}

sub _explain {
    my ($result) = @_;

    my $raw = $result->{raw} // '';
    return join '',
        ($result->{error} ? "  $result->{error}\n" : ''),
        (length $raw ? "  received:\n" . tail_text(_shorten($raw), 40) : '');
}

sub _check_headers {
    my ($block, $resp, $i, $n, $label) = @_;

    for my $line (_lines(_for_request($block, 'response_headers', $i, $n))) {
        if ($line =~ /\A!\s*(\S+)\s*\z/) {
            my $got = header_value($resp, $1);
            ok(!defined $got, _tname("${label}header $1 absent"))
                or diag("  got $1: $got");
            next;
        }
        my ($name, $want) = $line =~ /\A([^:\s]+)\s*:\s*(.*?)\s*\z/
            or die "--- response_headers: not a 'Name: value' line: $line\n";
        Test::More::is(header_value($resp, $name), $want,
                       _tname("${label}header $name"));
    }
    my $like = _for_request($block, 'response_headers_like', $i, $n);
    for my $line (_lines($like)) {
        my ($name, $re) = $line =~ /\A([^:\s]+)\s*:\s*(.*?)\s*\z/
            or die "--- response_headers_like: not a 'Name: regex' line: "
                   . "$line\n";
        my $got = header_value($resp, $name);
        ok(defined $got && $got =~ /$re/, _tname("${label}header $name like"))
            or diag(defined $got ? "  got $name: $got\n  want: /$re/"
                                 : "  no $name header");
    }
}

sub _check_body {
    my ($block, $resp, $i, $n, $label) = @_;

    my $body = $resp ? $resp->{body} : undef;
    if (exists $block->{response_body}) {
        _is_text($body, _for_request($block, 'response_body', $i, $n),
                 _tname("${label}response_body"));
    }
    if (exists $block->{response_body_like}) {
        my $re = _for_request($block, 'response_body_like', $i, $n);
        $re = qr/$re/s unless ref $re eq 'Regexp';
        like($body // '', $re, _tname("${label}response_body_like"));
    }
    my $json = exists $block->{response_json}
        || exists $block->{response_json_path};
    return unless $json;
    my ($got, $error) = _decode_body($body);
    if (exists $block->{response_json}) {
        _check_json($got, $error, $body,
                    _for_request($block, 'response_json', $i, $n),
                    _tname("${label}response_json"));
    }
    my $paths = _for_request($block, 'response_json_path', $i, $n);
    for my $line (_lines($paths)) {
        my $name = _tname("${label}json_path: $line");
        if (defined $error) {
            fail($name);
            diag("  $error");
            next;
        }
        my ($pass, $detail) = json_path_check($got, $line);
        ok($pass, $name) or diag("  $detail\n  body: " . _shorten($body));
    }
}

sub _decode_body {
    my ($body) = @_;

    return (undef, 'no response') unless defined $body;
    my $data;
    return ($data, undef) if eval { $data = decode_json_text($body); 1 };
    return (undef, "the body is not JSON: $@  body: " . _shorten($body));
}

sub _check_json {
    my ($got, $error, $body, $want_src, $name) = @_;

    my $want = $want_src;
    if (!ref $want_src) {
        eval { $want = decode_json_text($want_src); 1 }
            or die "--- response_json is not valid JSON: $@";
    }
    if (defined $error) {
        fail($name);
        diag("  $error");
        return;
    }
    my $mismatch = json_mismatch($got, $want);
    ok(!defined $mismatch, $name)
        or diag("  $mismatch\n  body: " . _shorten($body));
}

# Like Test::More::is, with a line diff when a multi-line text differs.
sub _is_text {
    my ($got, $want, $name) = @_;

    if (defined $got && defined $want && $got ne $want && $want =~ /\n./s) {
        ok(0, $name);
        diag(Text::Diff::diff(\$want, \$got,
                              { FILENAME_A => 'want', FILENAME_B => 'got' }));
        return 0;
    }
    return Test::More::is($got, $want, $name);
}

sub _shorten {
    my ($text) = @_;

    return length $text > $SHOW_BODY
        ? substr($text, 0, $SHOW_BODY) . '...' : $text;
}

# ---------------------------------------------------------------------------
# Logs

sub _block_error_log {
    my $nginx = $Ctx->{nginx};
    my $log = read_from($nginx->error_log_path, $Block->{log_offset});
    # startup errors are also printed on stderr, some (the log file cannot
    # be opened) only there
    $log .= read_from($nginx->stderr_path, $Block->{stderr_offset})
        if $Block->{must_die};
    return $log;
}

sub _check_logs {
    my ($block) = @_;

    _check_log_section($block, 'error_log', \&_block_error_log);
    _check_log_section($block, 'engine_log', \&engine_log_part);
}

# --- NAME: every pattern must appear (waiting up to $LOG_GRACE seconds for
# lines logged after the response); --- no_NAME: none may appear.
sub _check_log_section {
    my ($block, $section, $reader) = @_;

    for my $p (_patterns($block, $section)) {
        my $found = eval {
            wait_until(sub { _log_has($reader->(), $p) }, $LOG_GRACE);
        };
        ok($found, _tname("$section: " . _pattern_label($p)))
            or diag("  not found in this block's part of the log; its end:\n"
                    . tail_text($reader->(), 15));
    }
    for my $p (_patterns($block, "no_$section")) {
        my @lines = grep { _log_has($_, $p) } split /\n/, $reader->();
        ok(!@lines, _tname("no_$section: " . _pattern_label($p)))
            or diag(_indent(_first(5, @lines)));
    }
}

# Patterns of a log section: its non-empty lines (substrings), or what eval
# gave: a regex, a string, or an array of both.
sub _patterns {
    my ($block, $section) = @_;

    return () unless exists $block->{$section};
    my $value = $block->$section;
    return @$value if ref $value eq 'ARRAY';
    return ($value) if ref $value eq 'Regexp';
    return _lines($value);
}

sub _log_has {
    my ($text, $pattern) = @_;

    return ref $pattern eq 'Regexp' ? $text =~ $pattern
                                    : index($text, $pattern) >= 0;
}

sub _pattern_label {
    my ($pattern) = @_;

    return ref $pattern ? "$pattern" : $pattern;
}

# ---------------------------------------------------------------------------
# Small helpers

sub _first {
    my ($n, @list) = @_;

    return @list > $n ? @list[0 .. $n - 1] : @list;
}

sub _indent {
    return join '', map { "    $_\n" } @_;
}

sub _lines {
    my ($text) = @_;

    return () unless defined $text;
    return grep { /\S/ } split /\n/, $text;
}

# $TEST_NGINX_* and $TEST_PRT_* in a section become their environment
# values; an unknown name is an error rather than an nginx variable.
sub _expand_env {
    my ($text, $section) = @_;

    return $text unless defined $text;
    $text =~ s{\$(TEST_(?:NGINX|PRT)_[A-Z0-9_]+)}{
        $ENV{$1} // die "\$$1 in --- $section is not set\n"
    }ge;
    return $text;
}

sub _positive_int {
    my ($value, $what) = @_;

    $value =~ s/\s+//g if defined $value;
    croak "$what must be a positive integer"
        unless defined $value && $value =~ /\A[1-9]\d*\z/;
    return $value;
}

# ---------------------------------------------------------------------------
# The eval filter of the blocks: evaluated as the test file's code (package
# main) and an error stops the run instead of becoming the section's value.

package PatternRT::Test::Filter;

our @ISA = ('Test::Base::Filter');

sub eval {
    my ($self, @values) = @_;

    $self->assert_scalar(@values);
    my $block = $self->current_block;
    my $label = ($block ? $block->name : 'a block') . ' (eval section)';
    my ($ok, @result) =
        PatternRT::Test::_eval_in_main(join('', @values), $label);
    die "error in $label: $result[0]" unless $ok;
    return @result;
}

1;
