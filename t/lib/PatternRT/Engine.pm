package PatternRT::Engine;

# The engine daemon for one test file, run in the foreground as our child:
#   PROGRAM serve --socket SOCK --data-dir DIR [--clock CLOCK] [ARGS...]
# stdout and stderr are appended to logs/engine.log; the engine is ready when
# a line containing the word "ready" appears there after it was started.
#
# With TEST_PRT_STORE=pg the job store is PostgreSQL instead of LMDB: a
# private server for the test file (PatternRT::Pg), one database per engine,
# made anew (and migrated) whenever the data dir is.

use strict;
use warnings;

use File::Path qw(make_path remove_tree);
use POSIX qw(strftime);

use PatternRT::Util qw(
    wait_until spawn reap wait_exit stop_process describe_status file_size
    read_from append_line tail_text process_cmdline signal_name
);

my %DEFAULTS = (
    clock => undef, fixture => undef, args => [],
    ready => qr/\bready\b/, ready_timeout => 30, stop_timeout => 10,
);
my %TERMINATING = map { $_ => 1 } qw(TERM KILL INT QUIT);

# %o: program (argv prefix), socket, data_dir, log, pid_file and any of the
# settings of configure().
sub new {
    my ($class, %o) = @_;

    my $self = bless { %DEFAULTS, pid => undef, starts => 0 }, $class;
    $self->{$_} = $o{$_} for qw(program socket data_dir log pid_file);
    $self->configure(%o);
    return $self;
}

# Settings for the next start: clock, fixture (directory copied into a fresh
# data dir), args (extra arguments), program, ready (regex),
# ready_timeout and stop_timeout (seconds).
sub configure {
    my ($self, %o) = @_;

    for my $key (qw(program clock fixture args ready ready_timeout
                    stop_timeout)) {
        $self->{$key} = $o{$key} if exists $o{$key};
    }
    die "engine program must be a non-empty array of arguments\n"
        unless ref $self->{program} eq 'ARRAY' && @{$self->{program}};
    die "engine args must be an array\n" unless ref $self->{args} eq 'ARRAY';
    return $self;
}

sub pid        { $_[0]{pid} }
sub log_path   { $_[0]{log} }
sub socket_path { $_[0]{socket} }
sub data_dir   { $_[0]{data_dir} }
sub was_started { $_[0]{starts} > 0 }

sub argv {
    my ($self) = @_;

    return (@{$self->{program}}, 'serve',
            '--socket', $self->{socket}, '--data-dir', $self->{data_dir},
            (defined $self->{clock} ? ('--clock', $self->{clock}) : ()),
            (defined $self->{store} ? ('--store', $self->{store}) : ()),
            @{$self->{args}});
}

# True while our engine process runs. An exit noticed here, without the
# harness having stopped it, is remembered as unexpected.
sub running {
    my ($self) = @_;

    return 0 unless $self->{pid};
    my $status = reap($self->{pid});
    return 1 unless defined $status;
    $self->{unexpected_exit} = $status;
    $self->{pid} = undef;
    unlink $self->{pid_file};
    return 0;
}

# Returns undef, or a message when the engine died on its own since the
# last call; used after every block that had it running.
sub take_unexpected_exit {
    my ($self) = @_;

    $self->running;
    my $status = delete $self->{unexpected_exit};
    return undef unless defined $status;
    return 'engine exited unexpectedly (' . describe_status($status)
        . ")\n  engine.log:\n" . tail_text(read_from($self->{log}, 0), 20);
}

# Starts the engine unless it runs; %o: fresh => 1 recreates the data dir.
# Returns the pid once the ready line is logged; dies otherwise.
sub start {
    my ($self, %o) = @_;

    return $self->{pid} if $self->running;
    delete $self->{unexpected_exit};
    my $made = $self->_prepare_data($o{fresh});
    $self->_prepare_store if $made || !defined $self->{store};
    my @argv = $self->argv;
    append_line($self->{log}, '# ' . strftime('%H:%M:%S', localtime)
        . " harness: starting @argv");
    my $offset = file_size($self->{log});
    $self->{pid} = spawn(\@argv, $self->{log});
    $self->{starts}++;
    _write_pid($self->{pid_file}, $self->{pid});

    my $ok = eval { $self->_wait_ready($offset); 1 };
    return $self->{pid} if $ok;
    my $error = $@;
    $self->_kill_hard;
    die $error . "  command: @argv\n  engine.log:\n"
        . tail_text(read_from($self->{log}, $offset), 20);
}

sub _wait_ready {
    my ($self, $offset) = @_;

    wait_until(sub {
        if (!$self->running) {
            my $status = delete $self->{unexpected_exit};
            die 'engine exited before it was ready ('
                . describe_status($status) . ")\n";
        }
        return read_from($self->{log}, $offset) =~ $self->{ready};
    }, $self->{ready_timeout}, "the engine's ready line in engine.log");
}

sub _prepare_data {
    my ($self, $fresh) = @_;

    my $dir = $self->{data_dir};
    return 0 if -d $dir && !$fresh;
    remove_tree($dir);
    make_path($dir);
    my $fixture = $self->{fixture} or return 1;
    die "engine fixture $fixture is not a directory\n" unless -d $fixture;
    system('cp', '-a', "$fixture/.", "$dir/") == 0
        or die "cp -a $fixture/. $dir/ failed: " . describe_status($?) . "\n";
    return 1;
}

# TEST_PRT_STORE=pg: an empty database, migrated by the engine's own
# command, for a fresh data dir.
sub _prepare_store {
    my ($self) = @_;

    return unless ($ENV{TEST_PRT_STORE} // '') eq 'pg';
    # a stand-in program (the fake engine) has no job store
    return unless $self->{program}[-1] =~ m{pattern-rt-engine\z};
    require PatternRT::Pg;
    my $pg = PatternRT::Pg->start;
    my $db = $self->{store_db} //= 'prt_engine_' . ++$PatternRT::Pg::Dbs;
    $self->{store} = $pg->create_db($db);
    my @cmd = (@{$self->{program}}, 'migrate', '--store', $self->{store});
    append_line($self->{log}, "# harness: @cmd");
    my $pid = spawn(\@cmd, $self->{log});
    my $status = wait_exit($pid, 60);
    die "@cmd failed: " . describe_status($status) . "\n"
        unless defined $status && $status == 0;
}

sub _write_pid {
    my ($path, $pid) = @_;

    open my $fh, '>', $path or die "open $path: $!\n";
    print {$fh} "$pid\n";
    close $fh or die "write $path: $!\n";
}

# Sends $signal (name like TERM or KILL, or a number). For terminating
# signals, waits for the exit and returns the wait status; otherwise (STOP,
# CONT, HUP, USR1...) returns 1 at once.
sub signal {
    my ($self, $signal) = @_;

    $signal = _signal_name($signal // 'TERM');
    die "the engine is not running\n" unless $self->running;
    my $pid = $self->{pid};
    kill $signal, $pid or die "kill -$signal $pid: $!\n";
    return 1 unless $TERMINATING{$signal};
    my $status = wait_exit($pid, $self->{stop_timeout});
    die "the engine (pid $pid) is still running $self->{stop_timeout}s "
        . "after SIG$signal\n" unless defined $status;
    $self->_forget;
    return $status;
}

sub _signal_name {
    my ($signal) = @_;

    $signal = signal_name($signal) if $signal =~ /\A\d+\z/;
    $signal =~ s/\ASIG//;
    return uc $signal;
}

sub _forget {
    my ($self) = @_;

    $self->{pid} = undef;
    unlink $self->{pid_file};
}

# SIGTERM and wait; SIGKILL if that fails. Returns (wait status, problem):
# the problem is undef for a prompt exit with code 0.
sub stop {
    my ($self) = @_;

    return (undef, undef) unless $self->running;
    my $pid = $self->{pid};
    my $status = stop_process($pid, 'TERM', $self->{stop_timeout});
    if (!defined $status) {
        $self->_kill_hard;
        return (undef, "the engine did not exit within "
            . "$self->{stop_timeout}s of SIGTERM (killed)");
    }
    $self->_forget;
    return ($status, undef) if $status == 0;
    return ($status, 'the engine exited with ' . describe_status($status)
        . " after SIGTERM (want exit code 0)\n  engine.log:\n"
        . tail_text(read_from($self->{log}, 0), 20));
}

sub restart {
    my ($self, %o) = @_;

    my (undef, $problem) = $self->stop;
    die "$problem\n" if $problem;
    return $self->start(%o);
}

sub _kill_hard {
    my ($self) = @_;

    my $pid = $self->{pid} or return;
    stop_process($pid, 'KILL', 5);
    $self->_forget;
}

sub kill_now {
    my ($self) = @_;

    $self->_kill_hard;
}

# An engine left running by an earlier, killed run of the same test file:
# its pid file names a live process whose command line mentions our data
# dir. Returns that pid, or undef.
sub stale_pid {
    my ($class, $pid_file, $data_dir) = @_;

    my $pid = read_from($pid_file, 0);
    return undef unless $pid =~ /\A\s*(\d+)/;
    $pid = $1;
    my $cmd = process_cmdline($pid) // '';
    return index($cmd, $data_dir) >= 0 ? $pid : undef;
}

1;
