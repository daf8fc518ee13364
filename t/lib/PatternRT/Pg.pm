package PatternRT::Pg;

# A private PostgreSQL server for one test file (docs/scale-out.md): a
# cluster made by initdb in a temporary directory, listening only on a unix
# socket in that directory, stopped when the file ends (also when it
# fails). The server refuses to run as root, so as root the directory
# belongs to the `postgres` system user (Debian's package creates it) and
# initdb / pg_ctl run through runuser.
#
#   my $why = PatternRT::Pg::unavailable();   # undef, or why to skip
#   my $pg = PatternRT::Pg->start;            # one per test file
#   my $conninfo = $pg->create_db('jobs');    # a fresh database
#   $pg->stop; $pg->restart;                  # the database down, and back
#   PatternRT::Pg::rerun('./t/050-jobs.t');   # a whole suite on PostgreSQL

use strict;
use warnings;

use File::Temp qw(tempdir);

use PatternRT::Util qw(describe_status);

our $BIN = $ENV{TEST_PRT_PG_BIN} || '/usr/lib/postgresql/15/bin';
our $Dbs = 0;                          # databases made (their names)
my $Server;
my $Owner = $$;

# undef when a server can be made here; otherwise the reason to skip.
sub unavailable {
    return "PostgreSQL 15 is not installed ($BIN/initdb is absent): "
         . 'apt-get install postgresql-15'
        unless -x "$BIN/initdb" && -x "$BIN/pg_ctl" && -x "$BIN/psql";
    return 'running as root, but there is no `postgres` user to run the '
         . 'server as' if $> == 0 && !defined getpwnam('postgres');
    return undef;
}

# Runs an LMDB suite's blocks with every engine on a private PostgreSQL
# server (TEST_PRT_STORE=pg: PatternRT::Engine makes and migrates a
# database with each fresh data dir); skips, saying why, where it can't.
sub rerun {
    my ($suite) = @_;
    if (my $why = unavailable()) {
        require Test::More;
        Test::More::plan(skip_all => $why);
    }
    $ENV{TEST_PRT_STORE} = 'pg';
    package main;
    do $suite;
    die "$suite: $@" if $@;
    return 1;
}

sub _as_server {
    my ($self, @cmd) = @_;

    return $> == 0 ? ('runuser', '-u', 'postgres', '--', @cmd) : @cmd;
}

sub _run {
    my ($self, @cmd) = @_;

    my $log = "$self->{dir}/commands.log";
    local $ENV{PGOPTIONS} = '-c client_min_messages=warning';
    open my $out, '>>', $log or die "$log: $!\n";
    print {$out} "# @cmd\n";
    close $out;
    system("@{[ map { _quote($_) } @cmd ]} >>" . _quote($log) . ' 2>&1') == 0
        or die "@cmd failed (" . describe_status($?) . "), see $log:\n"
             . _tail($log);
}

sub _quote {
    my ($s) = @_;

    $s =~ s/'/'\\''/g;
    return "'$s'";
}

sub _tail {
    my ($path) = @_;

    open my $in, '<', $path or return '';
    my @lines = <$in>;
    return join '', @lines[($#lines > 15 ? $#lines - 15 : 0) .. $#lines];
}

# Starts this file's server (once); returns it.
sub start {
    my ($class) = @_;

    return $Server if $Server;
    my $why = unavailable();
    die "$why\n" if $why;
    my $dir = tempdir('prt-pg-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $self = bless { dir => $dir, user => 'postgres', port => 5432 },
        $class;
    if ($> == 0) {
        my (undef, undef, $uid, $gid) = getpwnam('postgres');
        chown $uid, $gid, $dir or die "chown postgres $dir: $!\n";
    } else {
        $self->{user} = getpwuid($>) // 'postgres';
    }
    chmod 0700, $dir;
    $self->_run($self->_as_server("$BIN/initdb", '-D', "$dir/data",
        '-U', $self->{user}, '-A', 'trust', '-E', 'UTF8', '--locale=C',
        '--no-sync'));
    $Server = $self;
    $self->restart;
    return $self;
}

sub dir { $_[0]{dir} }

# Up again (after stop); waits until it accepts connections.
sub restart {
    my ($self) = @_;

    # no TCP: the unix socket in our directory only; no fsync (a test
    # server: the engine's commits are what the tests check, not the disk)
    $self->_run($self->_as_server("$BIN/pg_ctl", '-D', "$self->{dir}/data",
        '-l', "$self->{dir}/server.log", '-w', '-t', '60', '-o',
        "-k $self->{dir} -c listen_addresses= -p $self->{port} "
        . '-c fsync=off -c max_connections=200', 'start'));
    $self->{running} = 1;
}

sub stop {
    my ($self, $mode) = @_;

    return unless $self->{running};
    $self->_run($self->_as_server("$BIN/pg_ctl", '-D', "$self->{dir}/data",
        '-w', '-t', '60', '-m', $mode // 'fast', 'stop'));
    $self->{running} = 0;
}

sub conninfo {
    my ($self, $db) = @_;

    return "host=$self->{dir} port=$self->{port} user=$self->{user} "
         . "dbname=$db";
}

# Runs SQL in database $db; returns psql's unaligned output.
sub psql {
    my ($self, $db, $sql) = @_;

    my @cmd = ("$BIN/psql", '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
               '-d', $self->conninfo($db), '-c', $sql);
    local $ENV{PGOPTIONS} = '-c client_min_messages=warning';
    open my $in, '-|', @cmd or die "psql: $!\n";
    local $/;
    my $out = <$in>;
    close $in or die "psql -c '$sql' failed (" . describe_status($?) . ")\n";
    $out =~ s/\n\z//;
    return $out;
}

# A new, empty database (dropped first if it exists); its conninfo.
sub create_db {
    my ($self, $name) = @_;

    die "bad database name $name\n" unless $name =~ /\A\w+\z/;
    $self->psql('postgres', "DROP DATABASE IF EXISTS $name WITH (FORCE)");
    $self->psql('postgres', "CREATE DATABASE $name");
    return $self->conninfo($name);
}

END {
    local $?;
    if ($Server && $$ == $Owner) {
        eval { $Server->stop('immediate') };
    }
}

1;
