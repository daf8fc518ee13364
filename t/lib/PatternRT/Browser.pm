package PatternRT::Browser;

# A real browser for the suites: Debian's headless Chromium, driven over
# the DevTools protocol by t/clients/cdp.js (Node's `ws`), one JSON command
# per line. Used by t/080-web-page.t.
#
#   my ($b, $why) = PatternRT::Browser->start(width => 1440, height => 900);
#   skip "no browser: $why" unless $b;
#   $b->open($url);
#   my $v = $b->eval('document.title');
#   $b->wait_for('document.body.dataset.ready', 30);   # dies after 30 s
#   $b->screenshot($file);
#   my @p = $b->problems;    # console errors, exceptions, failed loads
#   $b->quit;

use strict;
use warnings;

use Carp qw(croak);
use IPC::Run ();
use JSON::PP ();
use Time::HiRes qw(time sleep);

my $JSON = JSON::PP->new->utf8->canonical->allow_nonref;   # bytes on the pipes
my $DRIVER = 't/clients/cdp.js';

# argv of the driver, or (undef, why it cannot run here).
sub driver_command {
    my ($node) = grep { -x } map { "$_/node" } split /:/, $ENV{PATH} // '';
    return (undef, 'node is not installed') unless $node;
    return (undef, 't/clients/node_modules/ws is missing: run scripts/install-deps')
        unless -f 't/clients/node_modules/ws/package.json';
    my ($chromium) = grep { -x } ($ENV{CHROMIUM} // (), '/usr/bin/chromium');
    return (undef, 'chromium is not installed (scripts/install-deps installs it)')
        unless $chromium;
    return ([$node, $DRIVER, '--chromium', $chromium]);
}

# Starts the browser; returns the handle, or (undef, the reason it could
# not start).
sub start {
    my ($class, %o) = @_;

    my ($cmd, $why) = driver_command();
    return (undef, $why) unless $cmd;
    my $self = bless { in => '', out => '', err => '', id => 0 }, $class;
    $self->{h} = IPC::Run::start([@$cmd, '--width', $o{width} // 1440,
                                  '--height', $o{height} // 900],
                                 '<', \$self->{in}, '>', \$self->{out},
                                 '2>', \$self->{err});
    my $first = eval { $self->_line(sub { exists $_[0]{ready} }, 60) };
    if (!$first || !$first->{ready}) {
        my $reason = $first ? $first->{error} : $@;
        $self->_kill;
        $reason =~ s/\s+/ /g;
        return (undef, 'chromium cannot start: ' . substr($reason, 0, 300));
    }
    $self->{version} = $first->{version};
    return $self;
}

sub version { $_[0]{version} }

# The next JSON line $want->($line) accepts; dies after $timeout seconds or
# when the driver exits.
sub _line {
    my ($self, $want, $timeout) = @_;

    my $deadline = time + $timeout;
    while (1) {
        while ($self->{out} =~ s/\A([^\n]*)\n//) {
            my $line = $1;
            my $m = eval { $JSON->decode($line) };
            croak "driver printed something else than JSON: $line" unless $m;
            return $m if $want->($m);
        }
        croak "the browser driver ended: $self->{err}" unless $self->{h}->pumpable;
        croak "no answer from the browser driver after ${timeout}s" if time > $deadline;
        $self->{h}->pump_nb;
        sleep 0.02;
    }
}

sub cmd {
    my ($self, %c) = @_;

    my $id = ++$self->{id};
    $self->{in} .= $JSON->encode({ %c, id => $id }) . "\n";
    my $a = $self->_line(sub { ($_[0]{id} // 0) == $id },
                         ($c{timeout} // 30) + 30);
    croak "browser $c{cmd}: $a->{error}" unless $a->{ok};
    return $a->{value};
}

sub open       { my ($s, $url) = @_; return $s->cmd(cmd => 'open', url => $url) }
sub eval       { my ($s, $expr) = @_; return $s->cmd(cmd => 'eval', expr => $expr) }
sub problems   { my ($s) = @_; return @{ $s->cmd(cmd => 'problems') } }

sub wait_for {
    my ($s, $expr, $timeout) = @_;

    return $s->cmd(cmd => 'wait', expr => $expr, timeout => $timeout // 30);
}

sub screenshot {
    my ($s, $path) = @_;

    return $s->cmd(cmd => 'screenshot', path => $path, full => JSON::PP::true);
}

sub _kill {
    my ($self) = @_;

    return unless $self->{h};
    $self->{h}->kill_kill(grace => 2) if $self->{h}->pumpable;
    eval { $self->{h}->finish };
    delete $self->{h};
}

sub quit {
    my ($self) = @_;

    return unless $self->{h};
    eval { $self->cmd(cmd => 'quit', timeout => 5) };
    my $deadline = time + 10;
    while ($self->{h}->pumpable && time < $deadline) {
        $self->{h}->pump_nb;
        sleep 0.02;
    }
    $self->_kill;
}

sub DESTROY {
    my ($self) = @_;

    local ($., $@, $!, $^E, $?);
    $self->_kill;
}

1;
