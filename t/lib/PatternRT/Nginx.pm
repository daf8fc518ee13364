package PatternRT::Nginx;

# One nginx instance run by the harness inside a servroot: the config
# written from a template, the master started with "daemon off" as our own
# child (so its exit status and crashes are ours to see, and HUP/reload
# still work through the pid file), its worker processes, and clean stops.

use strict;
use warnings;

use PatternRT::Util qw(
    wait_until spawn reap stop_process describe_status file_size read_from
    tail_text process_cmdline process_alive child_pids port_is_free
);

my $START_TIMEOUT = 10;
my $QUIT_TIMEOUT = 10;    # graceful shutdown must end within this
my $TERM_TIMEOUT = 5;
my @TEMP_PATHS = qw(client_body proxy fastcgi uwsgi scgi);

# %o: servroot (absolute), port, binary
sub new {
    my ($class, %o) = @_;

    return bless { %o, master => undef, seen_workers => {} }, $class;
}

sub servroot       { $_[0]{servroot} }
sub master_pid     { $_[0]{master} }
sub conf_path      { "$_[0]{servroot}/conf/nginx.conf" }
sub error_log_path { "$_[0]{servroot}/logs/error.log" }
sub stderr_path    { "$_[0]{servroot}/logs/nginx.stderr" }
sub pid_path       { "$_[0]{servroot}/logs/nginx.pid" }

# %c: title, workers, user (or undef), module (path or undef), engine_socket
# (or undef), main_config, http_config, config.
sub write_config {
    my ($self, %c) = @_;

    my $conf = $self->render_config(%c);
    my $path = $self->conf_path;
    open my $fh, '>', $path or die "open $path: $!\n";
    print {$fh} $conf;
    close $fh or die "write $path: $!\n";
    $self->{workers} = $c{workers};
}

# Where a block serves the API, the errors nginx raises itself (a malformed
# request, a URI or header too long...) come back as the API's JSON, as in
# conf/nginx.conf; a block that sets error_page or pattern_rt_error itself
# keeps its own.
our $JSON_ERRORS = <<'CONF';

        error_page 400 401 403 404 405 408 411 413 414 429
                   500 501 502 503 504 505 /_pattern_rt_error;
        error_page 494 =431 /_pattern_rt_error;
        location = /_pattern_rt_error {
            internal;
            pattern_rt_error;
        }
CONF

sub render_config {
    my ($self, %c) = @_;

    my $temp = join '', map { "    ${_}_temp_path ${_}_temp;\n" } @TEMP_PATHS;
    my $main = join '',
        ($c{user} ? "user $c{user};\n" : ''),
        ($c{module} ? "load_module $c{module};\n" : '');
    my $engine = $c{engine_socket}
        ? "    pattern_rt_engine $c{engine_socket};\n" : '';
    my ($main_config, $http_config, $config) =
        map { $_ // '' } @c{qw(main_config http_config config)};
    $config .= $JSON_ERRORS
        if $c{module} && $config =~ /\bpattern_rt_api\b/
           && $config !~ /\b(?:error_page|pattern_rt_error)\b/;

    return <<"CONF";
# written by PatternRT::Test for: $c{title}
daemon off;
master_process on;
worker_processes $c{workers};
pid logs/nginx.pid;
error_log logs/error.log debug;
$main
$main_config

events {
    worker_connections 1024;
}

http {
    access_log logs/access.log;
$temp    default_type text/plain;
$engine
$http_config

    server {
        listen 127.0.0.1:$self->{port};
        server_name localhost;

$config
    }
}
CONF
}

# Starts the master and waits until the pid file names it and the configured
# number of workers exist. nginx opens its listening sockets before it writes
# the pid file, so no probe connection is needed (it would only add a
# connection to every block's log). Dies with the tail of the logs when
# nginx exits or does not come up in time.
sub start {
    my ($self) = @_;

    die "nginx is already running (master $self->{master})\n"
        if $self->{master};
    my $stderr_offset = file_size($self->stderr_path);
    my $log_offset = file_size($self->error_log_path);
    my @argv = ($self->{binary}, '-p', "$self->{servroot}/",
                '-c', 'conf/nginx.conf', '-e', 'logs/error.log');
    $self->{master} = spawn(\@argv, $self->stderr_path);
    $self->{exit_status} = undef;

    my $ok = eval {
        wait_until(sub { $self->_is_up }, $START_TIMEOUT, 'nginx to start');
        1;
    };
    return 1 if $ok;
    my $error = $@;
    $self->_kill_tree if $self->{master};
    die $error
        . "  nginx stderr:\n"
        . tail_text(read_from($self->stderr_path, $stderr_offset), 20)
        . "  error.log:\n"
        . tail_text(read_from($self->error_log_path, $log_offset), 20);
}

sub _is_up {
    my ($self) = @_;

    $self->check_master;
    my $pid = read_from($self->pid_path, 0);
    return 0 unless $pid =~ /\A\s*(\d+)/ && $1 == $self->{master};
    my @workers = $self->worker_pids;
    return 0 if @workers < $self->{workers};
    $self->_remember(@workers);
    return 1;
}

# Dies if the master exited behind our back (records its status).
sub check_master {
    my ($self) = @_;

    die "nginx is not running\n" unless $self->{master};
    my $status = reap($self->{master});
    return 1 unless defined $status;
    $self->{master} = undef;
    $self->{exit_status} = $status;
    die 'nginx master exited (' . describe_status($status) . ")\n";
}

# The pids of the master's current worker processes (not those that are
# shutting down after a reload), ascending.
sub worker_pids {
    my ($self) = @_;

    return () unless $self->{master};
    return grep {
        my $cmd = process_cmdline($_) // '';
        $cmd =~ /\Anginx: worker process/ && $cmd !~ /shutting down/;
    } child_pids($self->{master});
}

sub _remember {
    my ($self, @pids) = @_;

    $self->{seen_workers}{$_} = 1 for @pids;
}

# SIGHUP, then waits until every current worker is a new one. Returns the
# new worker pids. A config that fails to load leaves the old workers in
# place, which ends in a timeout that shows the error log.
sub reload {
    my ($self, $timeout) = @_;

    $self->check_master;
    my %old = map { $_ => 1 } $self->worker_pids;
    my $log_offset = file_size($self->error_log_path);
    kill 'HUP', $self->{master} or die "kill -HUP $self->{master}: $!\n";
    my @new;
    my $ok = eval {
        wait_until(sub {
            $self->check_master;
            @new = $self->worker_pids;
            return @new >= $self->{workers} && !grep { $old{$_} } @new;
        }, $timeout // $START_TIMEOUT, 'new nginx workers after SIGHUP');
        1;
    };
    die $@ . "  error.log:\n"
        . tail_text(read_from($self->error_log_path, $log_offset), 20)
        unless $ok;
    $self->_remember(@new);
    return @new;
}

# Graceful stop (SIGQUIT), then SIGTERM/SIGKILL if it hangs. Returns a list
# of problems: slow or unclean exit, workers that outlived the master, the
# listening port still taken. Empty means a clean stop.
sub stop {
    my ($self) = @_;

    my @problems;
    if (my $pid = $self->{master}) {
        my $status = stop_process($pid, 'QUIT', $QUIT_TIMEOUT);
        if (!defined $status) {
            push @problems, "nginx did not finish a graceful shutdown "
                . "(SIGQUIT) within ${QUIT_TIMEOUT}s";
            $status = stop_process($pid, 'TERM', $TERM_TIMEOUT)
                // stop_process($pid, 'KILL', $TERM_TIMEOUT);
        }
        $self->{master} = undef;
        $self->{exit_status} = $status;
        push @problems, 'nginx master exited with '
            . describe_status($status)
            if !defined $status || $status != 0;
    }
    push @problems, $self->_reap_orphans;
    push @problems, "port $self->{port} is still in use after nginx stopped "
        . "(leaked listening socket)"
        unless eval { wait_until(sub { port_is_free($self->{port}) }, 2) };
    return @problems;
}

# Workers keep serving when their master is killed; any we ever saw that
# still run are leaks, killed here so they cannot disturb the next block.
sub _reap_orphans {
    my ($self) = @_;

    my @alive = grep {
        process_alive($_)
            && (process_cmdline($_) // '') =~ /\Anginx: (?:worker|cache)/
    } sort { $a <=> $b } keys %{$self->{seen_workers}};
    $self->{seen_workers} = {};
    return () unless @alive;
    kill 'KILL', @alive;
    return "nginx worker process(es) @alive outlived the master (killed)";
}

# Last resort when startup failed or the harness is being torn down.
sub _kill_tree {
    my ($self) = @_;

    my $pid = $self->{master} or return;
    $self->_remember($self->worker_pids);
    stop_process($pid, 'TERM', $TERM_TIMEOUT)
        // stop_process($pid, 'KILL', $TERM_TIMEOUT);
    $self->{master} = undef;
    $self->_reap_orphans;
}

sub kill_now {
    my ($self) = @_;

    $self->_kill_tree;
}

1;
