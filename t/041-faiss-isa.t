# FAISS's AVX2 library against Debian's generic one (docs/build.md): the
# engine's search path (FAISS candidates re-ranked exactly) must return the
# same neighbours on either, for an IVF-PQ and a fast-scan IVF-PQ index
# (4-bit codes: quick to train) built from the demo fixture's flat files,
# with and without an id limit (a historical search: only patterns before
# the query). t/unit/faiss_neighbours prints
# the neighbours and the library FAISS itself says it was compiled as; it
# runs once with PRT_FAISS_ISA=generic (the forced generic path) and once
# with PRT_FAISS_ISA=avx2. The AVX2 half skips on a CPU without AVX2 or
# where scripts/install-deps built no AVX2 library.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

my $FIXTURES = $ENV{TEST_PRT_FIXTURES} // '';
plan(skip_all => 'no demo fixture: run this file through t/run, which '
                 . 'builds build/t/fixtures and sets TEST_PRT_FIXTURES')
    unless -d "$FIXTURES/demo-flat";

my $ENGINE = $ENV{TEST_PRT_ENGINE} || 'build/pattern-rt-engine';
my $PROBE = 'build/t/unit/faiss_neighbours';
my $NQ = 300;
my $K = 40;
my $TMP = tempdir(CLEANUP => 1);

sub cpu_has_avx2 {
    open my $fh, '<', '/proc/cpuinfo' or return 0;
    my %flags;
    while (<$fh>) {
        if (/^flags\s*:\s*(.*)/) { %flags = map { $_ => 1 } split ' ', $1; last }
    }
    return (grep { $flags{$_} } qw(avx2 fma f16c popcnt)) == 4;
}

# neighbours(ISA, INDEX_DIR[, 'before']): (library, { query => [ [id, dist] ... ] })
sub neighbours {
    my ($isa, $dir, @mode) = @_;

    local $ENV{PRT_FAISS_ISA} = $isa;
    open my $fh, '-|', $PROBE, $dir, $NQ, $K, @mode or die "$PROBE: $!\n";
    my ($library, %by_query);
    while (my $line = <$fh>) {
        chomp $line;
        if ($line =~ /^library (.*)/) { $library = $1; next }
        my ($q, @pairs) = split ' ', $line;
        $by_query{$q} = [ map { [ split /:/ ] } @pairs ];
    }
    close $fh or die "$PROBE $isa $dir failed (exit $?)\n";
    return ($library, \%by_query);
}

# Equal lists; neighbours at one distance may come in either order (FAISS
# proposes candidates in its own order), so ranks are compared as
# (distance, id) pairs sorted.
sub ranked {
    my ($list) = @_;

    return join ' ', map { "$_->[1]/$_->[0]" }
        sort { $a->[1] <=> $b->[1] || $a->[0] <=> $b->[0] } @{ $list || [] };
}

sub same_neighbours {
    my ($want, $got, $name) = @_;

    my @diff = grep { ranked($want->{$_}) ne ranked($got->{$_}) }
               sort { $a <=> $b } keys %$want;
    is(scalar keys %$got, scalar keys %$want, "$name: as many queries");
    ok(!@diff, "$name: the same neighbours and distances for every query")
        or diag("queries that differ: @diff[0 .. ($#diff < 9 ? $#diff : 9)]");
}

die "$PROBE missing: make unit\n" unless -x $PROBE;
my $avx2 = cpu_has_avx2() && -x "$PROBE-avx2";

for my $factory ('IVF32,PQ10x4', 'IVF32,PQ10x4fs') {
    (my $name = $factory) =~ tr/,/_/;
    my $out = "$TMP/$name";
    my $log = "$TMP/$name.log";
    {
        local $ENV{PRT_FAISS_ISA} = 'generic';
        system("$ENGINE build-index --data $FIXTURES/demo-flat --out $out "
               . "--factory '$factory' --nprobe 8 > $log 2>&1") == 0
            or BAIL_OUT("build-index $factory failed:\n" . do { local (@ARGV, $/) = $log; <> });
    }

    my ($glib, $g) = neighbours('generic', "$out/index");
    like($glib, qr/\bGENERIC\b/, "$factory: PRT_FAISS_ISA=generic runs the generic library");
    is(scalar keys %$g, $NQ, "$factory: $NQ queries answered");
    # itself, at distance 0 (an identical window elsewhere may rank first;
    # the index is approximate, so a few may miss: a sanity check only)
    my $self_found = grep { my $q = $_; grep { $_->[0] == $q && $_->[1] == 0 } @{ $g->{$q} } } keys %$g;
    cmp_ok($self_found, '>=', 0.9 * $NQ, "$factory: queries find themselves at distance 0");
    is(scalar(grep { @{ $g->{$_} } == $K && $g->{$_}[-1][0] >= 0 } keys %$g), $NQ,
       "$factory: $K neighbours each");

    # only patterns numbered below the query; the first query has none
    my (undef, $gb) = neighbours('generic', "$out/index", 'before');
    my @late = grep { my $q = $_; grep { $_->[0] >= $q } @{ $gb->{$q} } } keys %$gb;
    ok(!@late, "$factory, id limit: only patterns before the query")
        or diag("queries with later patterns: @late[0 .. ($#late < 9 ? $#late : 9)]");
    my @short = grep { $_ >= $K && $gb->{$_}[-1][0] < 0 } keys %$gb;
    ok(!@short, "$factory, id limit: $K neighbours wherever $K earlier patterns exist")
        or diag("short: @short[0 .. ($#short < 9 ? $#short : 9)]");

    SKIP: {
        skip 'no AVX2 on this CPU or no AVX2 build (scripts/install-deps)', 5
            unless $avx2;
        my ($alib, $x) = neighbours('avx2', "$out/index");
        like($alib, qr/\bAVX2\b/, "$factory: PRT_FAISS_ISA=avx2 runs the AVX2 library");
        same_neighbours($g, $x, "$factory, AVX2 vs generic");
        my (undef, $xb) = neighbours('avx2', "$out/index", 'before');
        same_neighbours($gb, $xb, "$factory, id limit, AVX2 vs generic");
    }
}

done_testing();
