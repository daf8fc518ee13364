package PatternRT::Util;

# Process, file and port helpers shared by the harness modules. Everything
# here works on one process id or one path at a time: the harness only ever
# signals processes it started itself.

use strict;
use warnings;

use Config;
use Exporter 'import';
use IO::Socket::INET;
use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(
    wait_until spawn reap wait_exit stop_process describe_status signal_name
    file_size read_from append_line tail_text process_cmdline child_pids
    process_alive
    free_port port_is_free
);

# Polls $cond every 50 ms until it returns a true value, which is returned.
# Dies with a message naming $what when $timeout seconds pass first; an
# exception thrown by $cond (e.g. "the process died") ends the wait at once.
sub wait_until {
    my ($cond, $timeout, $what) = @_;

    $timeout //= 10;
    my $deadline = time + $timeout;
    while (1) {
        my $value = $cond->();
        return $value if $value;
        if (time >= $deadline) {
            die sprintf "timed out after %gs waiting for %s\n",
                $timeout, $what // 'a condition';
        }
        sleep 0.05;
    }
}

# Forks and execs @$argv with stdin from /dev/null and stdout+stderr appended
# to $log. Returns the child's pid. The child resets the signal dispositions
# the harness changes (an ignored SIGPIPE would survive exec).
sub spawn {
    my ($argv, $log) = @_;

    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    return $pid if $pid;

    $SIG{$_} = 'DEFAULT' for qw(PIPE INT TERM HUP QUIT CHLD);
    open STDIN, '<', '/dev/null' or _exit(127);
    open STDOUT, '>>', $log or _exit(127);
    open STDERR, '>&', \*STDOUT or _exit(127);
    { no warnings 'exec'; exec { $argv->[0] } @$argv; }
    print STDERR "exec $argv->[0]: $!\n";
    _exit(127);
}

# Returns the wait status of an exited child (and reaps it), undef while it
# runs, or -1 when $pid is not our child (already reaped).
sub reap {
    my ($pid) = @_;

    my $r = waitpid($pid, WNOHANG);
    return undef if $r == 0;
    return $? if $r == $pid;
    return -1;
}

# Waits up to $timeout seconds for our child $pid to exit. Returns its wait
# status, or undef if it is still running.
sub wait_exit {
    my ($pid, $timeout) = @_;

    my $deadline = time + $timeout;
    while (1) {
        my $status = reap($pid);
        return $status if defined $status;
        return undef if time >= $deadline;
        sleep 0.02;
    }
}

# Sends $signal to our child $pid unless it already exited, then wait_exit.
sub stop_process {
    my ($pid, $signal, $timeout) = @_;

    my $status = reap($pid);
    return $status if defined $status;
    kill $signal, $pid;
    return wait_exit($pid, $timeout);
}

sub signal_name {
    my ($number) = @_;

    my @names = split ' ', $Config{sig_name};
    return $names[$number] // $number;
}

sub describe_status {
    my ($status) = @_;

    return 'unknown status' unless defined $status;
    return 'no such child' if $status == -1;
    if (my $sig = $status & 127) {
        return sprintf 'signal %d (SIG%s)%s', $sig, signal_name($sig),
            $status & 128 ? ', core dumped' : '';
    }
    return 'exit code ' . ($status >> 8);
}

sub file_size {
    my ($path) = @_;

    return (-s $path) || 0;
}

# The bytes of $path from $offset to its current end ('' if absent).
sub read_from {
    my ($path, $offset) = @_;

    open my $fh, '<:raw', $path or return '';
    seek $fh, $offset // 0, 0 or return '';
    local $/;
    my $data = <$fh>;
    close $fh;
    return $data // '';
}

sub append_line {
    my ($path, $line) = @_;

    open my $fh, '>>', $path or die "open $path: $!\n";
    print {$fh} "$line\n";
    close $fh or die "write $path: $!\n";
}

sub tail_text {
    my ($text, $lines) = @_;

    my @all = split /\n/, $text // '';
    splice @all, 0, @all - $lines if @all > $lines;
    return join '', map { "    $_\n" } @all;
}

sub process_cmdline {
    my ($pid) = @_;

    open my $fh, '<:raw', "/proc/$pid/cmdline" or return undef;
    local $/;
    my $cmd = <$fh> // '';
    close $fh;
    $cmd =~ s/\0+\z//;
    $cmd =~ tr/\0/ /;
    return $cmd;
}

# True while $pid runs. A zombie counts as gone: an orphan's zombie stays
# until init reaps it, and some container inits never do.
sub process_alive {
    my ($pid) = @_;

    return 0 unless kill 0, $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';
    close $fh;
    return $stat !~ /\) Z /;
}

# Pids whose parent is $ppid, read from /proc (nginx's process tree).
sub child_pids {
    my ($ppid) = @_;

    opendir my $dh, '/proc' or die "opendir /proc: $!\n";
    my @children;
    for my $pid (grep { /^\d+\z/ } readdir $dh) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh> // '';
        close $fh;
        # the command name is in parentheses and may contain either
        push @children, $pid + 0
            if $stat =~ /\) \S (\d+) / && $1 == $ppid;
    }
    closedir $dh;
    return sort { $a <=> $b } @children;
}

# A port below Linux's ephemeral range (32768+), so that client sockets of
# this or a parallel test cannot be holding it.
sub free_port {
    for (1 .. 100) {
        my $port = 20000 + int rand 12000;
        return $port if port_is_free($port);
    }
    die "no free TCP port found on 127.0.0.1\n";
}

# True when nothing listens on 127.0.0.1:$port. SO_REUSEADDR makes sockets
# in TIME_WAIT (closed connections) irrelevant: only a listener fails this.
sub port_is_free {
    my ($port) = @_;

    my $sock = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1', LocalPort => $port, Proto => 'tcp',
        ReuseAddr => 1, Listen => 1,
    ) or return 0;
    close $sock;
    return 1;
}

1;
