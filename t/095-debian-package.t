# The Debian packages (debian/, scripts/build-deb), end to end on this
# machine: built with dpkg-buildpackage from a copy of the tree, installed
# into Debian's own nginx, the engine started the way its systemd unit
# starts it, /health answered through Debian's nginx with the packaged
# example site, then both packages purged and nothing of theirs left.
#
# It installs into the real system, so it restores it whatever happens (the
# END block purges) and refuses to touch an installation it did not make.
# Skips, saying so, without root, dpkg-buildpackage/debhelper, nginx or the
# FAISS sources.

use strict;
use warnings;

use lib 't/lib';
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP qw(decode_json);
use POSIX qw(strftime);
use Test::More;
use Time::HiRes qw(time);
use PatternRT::Util qw(spawn stop_process wait_until free_port tail_text
                       process_alive);

my $ROOT = abs_path('.');
my $NGINX = '/usr/sbin/nginx';
my @PACKAGES = qw(libnginx-mod-http-pattern-rt pattern-rt-engine);
my $USER = 'pattern-rt';

sub installed {
    my ($pkg) = @_;

    my $status = `dpkg-query -W -f '\${db:Status-Abbrev}' $pkg 2>/dev/null`;
    return $status =~ /^.[iUFHWt]/;
}

# Installed, or removed with its configuration files still there.
sub present {
    my ($pkg) = @_;

    my $status = `dpkg-query -W -f '\${db:Status-Abbrev}' $pkg 2>/dev/null`;
    return $status =~ /^.[^n ]/;
}

# Purges $pkg, waiting for the dpkg lock while an interrupted dpkg run
# (ours, cut short) still holds it.
sub purge {
    my ($pkg) = @_;

    for (1 .. 120) {
        return 1 unless present($pkg);
        system("dpkg --purge $pkg >/dev/null 2>&1");
        sleep 1 if present($pkg);
    }
    return !present($pkg);
}

sub reason_to_skip {
    return 'installing packages needs root' if $> != 0;
    for my $tool (qw(dpkg-buildpackage dh dh_nginx)) {
        return "$tool is missing (scripts/install-deps installs it)"
            unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
    }
    return "Debian's nginx ($NGINX) is missing" unless -x $NGINX;
    return 'the FAISS sources (.deps/faiss) are missing: scripts/install-deps'
        unless -d "$ROOT/.deps/faiss/c_api";
    for my $pkg (@PACKAGES) {
        return "$pkg is installed on this machine: not touching it"
            if present($pkg);
    }
    return;
}

if (my $why = reason_to_skip()) {
    plan skip_all => $why;
}

my $tmp = tempdir('prt-deb-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $user_existed = defined getpwnam($USER);
my $nginx_pid_before = system_nginx_pid();
my ($engine_pid, $nginx_pid);
my $touched = 0;

# Whatever happens below: stop what we started, purge what we installed,
# and remove the system user we made. An interrupted run (Ctrl-C, a
# harness's TERM) exits through perl's exit, which runs END (the default
# action would not; a die could be caught by an eval below).
$SIG{INT} = $SIG{TERM} = $SIG{HUP} = sub {
    print STDERR "# interrupted by SIG$_[0]: cleaning up\n";
    exit 1;
};
END {
    local $?;
    stop_process($nginx_pid, 'QUIT', 10) if $nginx_pid;
    stop_process($engine_pid, 'TERM', 30) if $engine_pid;
    if ($touched) {
        my $purged = 1;
        for my $pkg (@PACKAGES) {
            $purged = purge($pkg) && $purged;
        }
        print STDERR "# could not purge @PACKAGES: dpkg --purge them\n"
            unless $purged;
        remove_user() unless $user_existed;
    }
}

sub remove_user {
    system("deluser --quiet --system $USER >/dev/null 2>&1")
        if defined getpwnam($USER);
    system("delgroup --quiet --system $USER >/dev/null 2>&1")
        if defined getgrnam($USER);
}

sub system_nginx_pid {
    open my $fh, '<', '/run/nginx.pid' or return;
    my $pid = <$fh> // '';
    chomp $pid;
    return $pid =~ /^\d+$/ && kill(0, $pid) ? $pid : undef;
}

sub slurp {
    my ($path) = @_;

    open my $fh, '<', $path or die "$path: $!\n";
    local $/;
    return <$fh>;
}

sub spew {
    my ($path, $text) = @_;

    open my $fh, '>', $path or die "$path: $!\n";
    print {$fh} $text;
    close $fh or die "$path: $!\n";
}

sub run_ok {
    my ($what, @cmd) = @_;

    my $out = `@cmd 2>&1`;
    ok($? == 0, $what) or diag("@cmd:\n$out");
    return $out;
}

sub http_get {
    my ($port, $path, $method) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 10) or return;
    $method //= 'GET';
    print {$s} "$method $path HTTP/1.0\r\nHost: localhost\r\n"
        . ($method eq 'POST' ? "Content-Length: 0\r\n" : '') . "\r\n";
    local $/;
    my $resp = <$s> // '';
    my ($code) = $resp =~ m{^HTTP/1\.\d (\d{3})} or return;
    my ($body) = $resp =~ /\r\n\r\n(.*)\z/s;
    return ($code, $body);
}

# ---- build ------------------------------------------------------------------

my $t0 = time;
my $built = `scripts/build-deb $tmp/deb 2>&1`;
ok($? == 0, 'dpkg-buildpackage builds the packages') or do {
    diag($built);
    done_testing();
    exit;
};
note(sprintf 'package build: %.1f s', time - $t0);

my %deb;
for my $pkg (@PACKAGES) {
    my ($file) = glob "$tmp/deb/${pkg}_*.deb";
    ok($file, "$pkg built") or BAIL_OUT("no $pkg .deb in $tmp/deb");
    $deb{$pkg} = $file;
}

# The ABI dependency: the one the installed nginx provides.
my $abi = `dpkg-deb -f $deb{'libnginx-mod-http-pattern-rt'} Depends`;
my ($abi_dep) = $abi =~ /(nginx-abi-[\w.\-]+)/;
my $provides = `dpkg-query -W -f '\${Provides}' nginx`;
ok($abi_dep && $provides =~ /(?:^|[\s,])\Q$abi_dep\E(?:[\s,]|$)/,
   "the module depends on the nginx ABI it was built against ($abi_dep)")
    or diag("module Depends: $abi; nginx Provides: $provides");

my %contents;
for my $pkg (@PACKAGES) {
    for (split /\n/, `dpkg-deb -c $deb{$pkg}`) {
        my ($path) = m{ \./(\S*)$} or next;
        $path =~ s{/$}{};
        $contents{$pkg}{"/$path"} = 1 if length $path;
    }
}
for my $want ('/usr/lib/nginx/modules/ngx_http_pattern_rt_module.so',
              '/usr/share/nginx/modules-available/mod-http-pattern-rt.conf') {
    ok($contents{'libnginx-mod-http-pattern-rt'}{$want}, "module package: $want");
}
for my $want ('/usr/bin/pattern-rt-engine',
              '/lib/systemd/system/pattern-rt-engine.service',
              '/etc/pattern-rt/engine.conf',
              '/etc/nginx/sites-available/pattern-rt') {
    ok($contents{'pattern-rt-engine'}{$want}, "engine package: $want");
}

# ---- install ----------------------------------------------------------------

# What the maintainer scripts make besides the packages' own files.
my $enabled = '/etc/nginx/modules-enabled/50-mod-http-pattern-rt.conf';
my @made_by_scripts = (
    $enabled, "$enabled.removed", '/var/lib/pattern-rt', '/run/pattern-rt',
    '/etc/pattern-rt/token.secret', '/etc/pattern-rt',
    '/etc/systemd/system/multi-user.target.wants/pattern-rt-engine.service',
    '/var/lib/systemd/deb-systemd-helper-enabled/pattern-rt-engine.service.dsh-also',
    '/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/pattern-rt-engine.service',
);
my %existed = map { $_ => (-e $_ || -l $_) ? 1 : 0 }
              @made_by_scripts, map { keys %$_ } values %contents;

$touched = 1;
run_ok('dpkg -i installs both packages', 'dpkg', '-i', @deb{@PACKAGES});
ok(installed($_), "$_ installed") for @PACKAGES;

is(readlink($enabled),
   '/usr/share/nginx/modules-available/mod-http-pattern-rt.conf',
   'the module is enabled through /etc/nginx/modules-enabled');
like(slurp('/usr/share/nginx/modules-available/mod-http-pattern-rt.conf'),
     qr{^load_module modules/ngx_http_pattern_rt_module\.so;$}m,
     'its load file');
run_ok("Debian's nginx -t accepts the configuration with the module",
       $NGINX, '-t', '-q');

my @pw = getpwnam($USER);
ok(@pw, "system user $USER created");
ok(@pw && $pw[2] < 1000, 'a system uid') or diag("uid $pw[2]");
like($pw[8] // '', qr{/(?:nologin|false)$}, 'without a login shell');
my $secret = -f '/etc/pattern-rt/token.secret'
             ? slurp('/etc/pattern-rt/token.secret') : '';
like($secret, qr/^[0-9a-f]{64}$/, 'a token secret was generated');
is((stat '/etc/pattern-rt/token.secret')[2] & 07777, 0600,
   'readable by root only');

# ---- the engine, as its unit starts it ------------------------------------

my $unit_text = slurp('/lib/systemd/system/pattern-rt-engine.service');
my %unit;
for (split /\n/, $unit_text) {
    $unit{$1} = $2 if /^(\w+)=(.*)$/;
}
is($unit{User}, $USER, 'the unit runs as its own user');
like($unit{ExecStart} // '', qr{^/usr/bin/pattern-rt-engine serve },
     'ExecStart runs the packaged engine');
for my $opt (qw(StateDirectory RuntimeDirectory NoNewPrivileges
                ProtectSystem ProtectHome PrivateTmp CapabilityBoundingSet
                RestrictAddressFamilies)) {
    ok(exists $unit{$opt}, "unit sets $opt");
}

# systemd is not PID 1 here: make what it would make, then run ExecStart
# as User/Group with the supplementary groups and the umask.
my ($uid, $gid) = ((getpwnam $unit{User})[2], scalar getgrnam $unit{Group});
for my $d (["/var/lib/$unit{StateDirectory}", $unit{StateDirectoryMode}],
           ["/run/$unit{RuntimeDirectory}", $unit{RuntimeDirectoryMode}]) {
    my ($dir, $mode) = @$d;
    mkdir $dir unless -d $dir;
    chown $uid, $gid, $dir;
    chmod oct($mode // '0755'), $dir;
}
my @exec = split ' ', $unit{ExecStart};
my $engine_log = "$tmp/engine.log";
{
    my $old = umask oct($unit{UMask} // '0022');
    $engine_pid = spawn([
        'setpriv', "--reuid=$unit{User}", "--regid=$unit{Group}",
        ($unit{SupplementaryGroups}
            ? "--groups=" . join(',', split ' ', $unit{SupplementaryGroups})
            : '--clear-groups'),
        '--no-new-privs', '--', @exec], $engine_log);
    umask $old;
}
my $sock = '/run/pattern-rt/engine.sock';
ok(eval { wait_until(sub {
        die "the engine exited\n" unless process_alive($engine_pid);
        -S $sock }, 60, 'the engine socket') },
   'the engine listens on /run/pattern-rt/engine.sock')
    or diag($@, tail_text($engine_log, 2000));
my @st = stat $sock;
is(@st ? scalar getgrgid($st[5]) : '', 'www-data',
   'the socket belongs to the nginx workers\' group');
is(@st ? $st[2] & 0777 : 0, 0660, 'mode 0660');
is(@st ? scalar getpwuid($st[4]) : '', $USER, 'made by the engine user');

# ---- Debian's nginx with the example site ---------------------------------

# Debian's own nginx.conf, with only the pid, the logs and the sites
# replaced: modules-enabled (our module) and the rest stay as installed.
my $port = free_port();
my $main = slurp('/etc/nginx/nginx.conf');
like($main, qr{^\s*include /etc/nginx/modules-enabled/\*\.conf;}m,
     "Debian's nginx.conf includes modules-enabled");
my $site = slurp('/etc/nginx/sites-available/pattern-rt');
my $n = $site =~ s/^(\s*)listen\s+\d+;/${1}listen 127.0.0.1:$port;/mg;
is($n, 1, 'the example site has one listen port to set');
spew("$tmp/site.conf", $site);
$main =~ s{^(\s*)pid\s+[^;]+;}{${1}pid $tmp/nginx.pid;}m;
$main =~ s{^(\s*)error_log\s+[^;]+;}{${1}error_log $tmp/error.log;}mg;
$main =~ s{^(\s*)access_log\s+[^;]+;}{${1}access_log $tmp/access.log;}mg;
$n = $main =~ s{include /etc/nginx/sites-enabled/\*;}{include $tmp/site.conf;};
is($n, 1, 'sites-enabled replaced by the example site');
spew("$tmp/nginx.conf", $main);

run_ok('nginx -t accepts the example site', $NGINX, '-t', '-q',
       '-c', "$tmp/nginx.conf");
$nginx_pid = spawn([$NGINX, '-c', "$tmp/nginx.conf", '-g', 'daemon off;'],
                   "$tmp/nginx.stderr");

my ($code, $body);
eval {
    wait_until(sub {
        die "nginx exited\n" unless process_alive($nginx_pid);
        ($code, $body) = http_get($port, '/patterns/health');
        defined $code && $code == 200;
    }, 60, '/patterns/health');
};
is($code, 200, 'GET /patterns/health through Debian\'s nginx')
    or diag($@, $body // '', tail_text("$tmp/error.log", 2000),
            tail_text($engine_log, 2000));
my $health = eval { decode_json($body // '') } // {};
is($health->{engine}{pid} // $health->{pid}, $engine_pid,
   'answered by the packaged engine')
    or diag($body);
($code) = http_get($port, '/patterns/api/pattern-realtime/bars', 'POST');
is($code, 401, 'the feed needs a token (auth on with the generated secret)');

# ---- stop, purge, nothing left ----------------------------------------------

my $status = stop_process($nginx_pid, 'QUIT', 30);
is($status, 0, 'nginx stopped');
undef $nginx_pid;
$status = stop_process($engine_pid, 'TERM', 60);
is($status, 0, 'the engine stopped on SIGTERM, exit 0')
    or diag(tail_text($engine_log, 2000));
undef $engine_pid;
like(slurp($engine_log), qr/^\S+Z \[info\] .*ready on \Q$sock\E/m,
     'the engine logged to stderr with levels');

my %listed;
for my $pkg (@PACKAGES) {
    $listed{$_} = 1 for grep { m{^/.} && $_ ne '/.' } split /\n/, `dpkg -L $pkg`;
}
ok(keys %listed > 8, 'dpkg -L lists the installed files')
    or diag(join "\n", sort keys %listed);
run_ok('dpkg --purge removes both packages', 'dpkg', '--purge', @PACKAGES);
ok(!present($_), "$_ purged") for @PACKAGES;

my @left = grep { !$existed{$_} && (-e $_ || -l $_) }
           sort(keys %listed, @made_by_scripts);
is_deeply(\@left, [], 'nothing of the packages is left behind')
    or diag("left: @left");

# Debian keeps system users on purge (their uid may own files elsewhere);
# the account was made by this test, so the test removes it.
ok(defined getpwnam($USER), 'the system user is kept on purge, as Debian does');
remove_user() unless $user_existed;
ok($user_existed || !defined getpwnam($USER), 'the test removed it');
$touched = 0;

is(system_nginx_pid(), $nginx_pid_before,
   "Debian's own nginx service left as it was (not started)");

done_testing();
