# The folders' include graph (scripts/include-graph, docs/development.md):
# the tree itself has no cycle and its module side reaches only include/;
# small trees made up here show that the script does fail on each kind of
# breach.

use strict;
use warnings;

use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IPC::Run ();
use Test::More;

my $SCRIPT = 'scripts/include-graph';

# (exit code, stdout and stderr) of the script over $root (undef: this tree)
sub graph {
    my ($root) = @_;
    my $out = '';

    IPC::Run::run([$SCRIPT, defined $root ? ('--root', $root) : ()],
                  '<', \undef, '>&', \$out);
    return ($? >> 8, $out);
}

# a tree of files: path => content
sub tree {
    my (%files) = @_;
    my $dir = tempdir(CLEANUP => 1);

    for my $path (sort keys %files) {
        (my $parent = "$dir/$path") =~ s{/[^/]+\z}{};
        make_path($parent);
        open my $fh, '>', "$dir/$path" or die "$dir/$path: $!";
        print {$fh} $files{$path};
        close $fh;
    }
    return $dir;
}

my ($code, $out) = graph();
is($code, 0, 'this tree: no cycle, the module side reaches only include/')
    or diag($out);
like($out, qr/^core\s+-> include$/m, 'core/ includes nothing of the engine');
like($out, qr/^ngx_module\s+-> include$/m, 'the module includes only include/');
like($out, qr/^common\s+-> include$/m, 'common/ includes only include/');
like($out, qr/^engine\s+-> .*\btools\b/m, 'main.c reaches the tools');
unlike($out, qr/^(?!engine\b|tools\b)\S+\s+-> .*\btools\b/m,
       'no folder of the daemon includes tools/');

my %base = (
    'include/pattern_rt_msg.h' => "/* */\n",
    'engine/core/log.h'        => "#include \"pattern_rt_msg.h\"\n",
    'common/nytime.c'          => "#include \"pattern_rt_msg.h\"\n",
    'ngx_module/m.c'           => "#include \"pattern_rt_msg.h\"\n",
);
($code, $out) = graph(tree(%base));
is($code, 0, 'a layered tree passes') or diag($out);

($code, $out) = graph(tree(%base,
    'engine/jobs/jobs.h'     => "#include \"events/events.h\"\n",
    'engine/events/events.c' => "#include \"core/log.h\"\n"
                                . "#include \"jobs/jobs.h\"\n",
    'engine/events/events.h' => "\n"));
is($code, 1, 'a cycle between two folders fails');
like($out, qr{\Qcycle: events -> jobs -> events (engine/events/events.c:2,\E
              \Q engine/jobs/jobs.h:1)\E}x,
     'the cycle is named with its lines');

($code, $out) = graph(tree(%base,
    'engine/a/a.h' => "#include \"b/b.h\"\n",
    'engine/b/b.h' => "#include \"c/c.h\"\n",
    'engine/c/c.h' => "#include \"a/a.h\"\n"));
is($code, 1, 'a cycle through three folders fails');
like($out, qr/cycle: a -> b -> c -> a/, 'the three-folder cycle is named');

($code, $out) = graph(tree(%base,
    'ngx_module/m.c' => "#include \"core/log.h\"\n"));
is($code, 1, 'the module including engine/ fails');
like($out, qr{ngx_module must not include core \(ngx_module/m\.c:1\)},
     'the module breach is named');

($code, $out) = graph(tree(%base,
    'common/nytime.c' => "#include \"core/log.h\"\n"));
is($code, 1, 'common/ including engine/ fails');

($code, $out) = graph(tree(%base,
    'include/pattern_rt_ring.h' => "#include \"core/log.h\"\n"));
is($code, 1, 'include/ including engine/ fails');

($code, $out) = graph(tree(%base,
    'engine/core/log.c' => "#include \"core/nothere.h\"\n"));
is($code, 1, 'an include that names no file fails');
like($out, qr{engine/core/log\.c:1: "core/nothere\.h" is not a file},
     'the unknown include is named');

($code, $out) = graph(tree(%base,
    'tools/replay.h'    => "#include \"core/log.h\"\n",
    'tools/replay.c'    => "#include \"tools/replay.h\"\n",
    'engine/main.c'     => "#include \"tools/replay.h\"\n"));
is($code, 0, 'the top of engine/ may include tools/') or diag($out);
like($out, qr/^tools\s+-> core$/m, 'tools/ is a node of its own');

($code, $out) = graph(tree(%base,
    'tools/replay.h'    => "/* */\n",
    'engine/core/log.c' => "#include \"tools/replay.h\"\n"));
is($code, 1, 'a daemon folder including tools/ fails');
like($out, qr{core must not include tools \(engine/core/log\.c:1\)},
     'the daemon breach is named');

done_testing();
