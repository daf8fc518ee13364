package PatternRT::JSONMatch;

# --- response_json (subset matching) and --- response_json_path (one
# comparison per line) for decoded JSON values.
#
# Subset rules: objects need every expected key, with a matching value
# (extra keys are fine); arrays need the same length and matching elements;
# numbers compare numerically, strings and booleans exactly, null matches
# only null. The expected string "~any" matches any value that is present,
# "~/regex/flags" matches a string or number by regex.

use strict;
use warnings;

use B ();
use Exporter 'import';
use JSON::PP ();
use Scalar::Util qw(looks_like_number);

our @EXPORT_OK = qw(decode_json_text json_mismatch json_path_check show);

my $DECODER = JSON::PP->new->utf8->allow_nonref;
my $SHOW = JSON::PP->new->canonical->allow_nonref->ascii;
my $SHOW_MAX = 200;

# Decodes UTF-8 JSON text; dies with JSON::PP's message on bad input.
sub decode_json_text {
    my ($text) = @_;

    return $DECODER->decode($text);
}

sub show {
    my ($value) = @_;

    my $text = $SHOW->encode($value);
    $text = substr($text, 0, $SHOW_MAX) . '...' if length $text > $SHOW_MAX;
    return $text;
}

sub _kind {
    my ($v) = @_;

    return 'null' unless defined $v;
    return 'boolean' if JSON::PP::is_bool($v);
    return 'object' if ref $v eq 'HASH';
    return 'array' if ref $v eq 'ARRAY';
    return 'regexp' if ref $v eq 'Regexp';
    # A decoded JSON number carries only numeric flags; a string has POK.
    my $flags = B::svref_2object(\$v)->FLAGS;
    return 'number'
        if $flags & (B::SVp_IOK | B::SVp_NOK) && !($flags & B::SVp_POK);
    return 'string';
}

sub _where {
    my ($path) = @_;

    return length $path ? $path : '(top)';
}

sub _child {
    my ($path, $key) = @_;

    return $key =~ /^\[/ || !length $path ? "$path$key" : "$path.$key";
}

# Returns undef when $got contains $want (rules above), else a message
# naming the first difference by its path, e.g.
#   error.field: got "k", want "horizon"
sub json_mismatch {
    my ($got, $want, $path) = @_;

    $path //= '';
    my $wk = _kind($want);
    return _pattern_mismatch($got, $want, $path) if $wk eq 'string'
        && ($want eq '~any' || $want =~ m{\A~/});
    return _pattern_mismatch($got, $want, $path) if $wk eq 'regexp';

    my $gk = _kind($got);
    return _where($path) . ': got ' . show($got) . ', want ' . show($want)
        if $gk ne $wk;
    return _object_mismatch($got, $want, $path) if $wk eq 'object';
    return _array_mismatch($got, $want, $path) if $wk eq 'array';

    my $same = $wk eq 'null'    ? 1
             : $wk eq 'number'  ? $got == $want
             : $wk eq 'boolean' ? !!$got == !!$want
             :                    $got eq $want;
    return undef if $same;
    return _where($path) . ': got ' . show($got) . ', want ' . show($want);
}

sub _pattern_mismatch {
    my ($got, $want, $path) = @_;

    return undef if !ref $want && $want eq '~any';
    my $re = ref $want ? $want : _regex($want, $path);
    my $gk = _kind($got);
    return _where($path) . ': got ' . show($got)
        . ", want a string matching $re"
        unless $gk eq 'string' || $gk eq 'number';
    return undef if $got =~ $re;
    return _where($path) . ': got ' . show($got) . ", want a match for $re";
}

sub _regex {
    my ($spec, $path) = @_;

    my ($body, $flags) = $spec =~ m{\A~/(.*)/([imsx]*)\z}s
        or die "expected value at " . _where($path)
               . " is not of the form ~/regex/flags: $spec\n";
    my $re = eval { $flags ? qr/(?$flags)$body/ : qr/$body/ };
    die "bad regex in expected value at " . _where($path) . ": $@" unless $re;
    return $re;
}

sub _object_mismatch {
    my ($got, $want, $path) = @_;

    for my $key (sort keys %$want) {
        my $at = _child($path, $key);
        return "$at: missing, want " . show($want->{$key})
            unless exists $got->{$key};
        my $m = json_mismatch($got->{$key}, $want->{$key}, $at);
        return $m if defined $m;
    }
    return undef;
}

sub _array_mismatch {
    my ($got, $want, $path) = @_;

    return sprintf '%s: got an array of %d elements, want %d',
        _where($path), scalar @$got, scalar @$want
        if @$got != @$want;
    for my $i (0 .. $#$want) {
        my $m = json_mismatch($got->[$i], $want->[$i], _child($path, "[$i]"));
        return $m if defined $m;
    }
    return undef;
}

# --- response_json_path: one "PATH OP VALUE" line, e.g.
#   results.length == 3      error.code eq E_NOT_FOUND
#   results[0].edge > 0.5    job_id =~ /^[0-9a-f]+$/      stats exists
# PATH is dot-separated keys and array indexes (a.0.b or a[0].b); "length"
# gives the size of an array, object or string. ==, !=, <, <=, >, >= need a
# JSON number; eq and ne compare text (null, true and false by name).
# Returns (passed, detail).
sub json_path_check {
    my ($data, $line) = @_;

    my ($path, $op, $value) = $line =~
        /\A\s*(\S+)\s+(==|!=|<=|>=|<|>|eq|ne|=~|!~)\s+(.*?)\s*\z/;
    if (!defined $op) {
        ($path, $op) = $line =~ /\A\s*(\S+)\s+(exists|missing)\s*\z/
            or die "cannot parse response_json_path line: $line\n";
    }
    my ($found, $got) = _resolve($data, $path);
    return ($found, $found ? "$path exists" : "$path is missing")
        if $op eq 'exists';
    return (!$found, $found ? "$path exists: " . show($got) : '')
        if $op eq 'missing';
    return (0, "$path is missing") unless $found;
    return _compare($got, $op, _unquote($value), $path);
}

sub _unquote {
    my ($value) = @_;

    return $1 if $value =~ /\A"(.*)"\z/s || $value =~ /\A'(.*)'\z/s;
    return $value;
}

sub _resolve {
    my ($data, $path) = @_;

    (my $norm = $path) =~ s/\[(-?\d+)\]/.$1/g;
    my $node = $data;
    for my $key (grep { length } split /\./, $norm) {
        if (ref $node eq 'HASH' && exists $node->{$key}) {
            $node = $node->{$key};
        } elsif (ref $node eq 'ARRAY' && $key =~ /\A-?\d+\z/
                 && $key < @$node && $key >= -@$node) {
            $node = $node->[$key];
        } elsif ($key eq 'length'
                 && _kind($node) =~ /\A(?:array|object|string)\z/) {
            $node = ref $node eq 'ARRAY' ? scalar @$node
                  : ref $node eq 'HASH'  ? scalar keys %$node
                  :                        length $node;
        } else {
            return (0, undef);
        }
    }
    return (1, $node);
}

sub _as_text {
    my ($v) = @_;

    my $kind = _kind($v);
    return 'null' if $kind eq 'null';
    return $v ? 'true' : 'false' if $kind eq 'boolean';
    return show($v) if ref $v;
    return "$v";
}

sub _compare {
    my ($got, $op, $want, $path) = @_;

    my $text = _as_text($got);
    my $detail = "$path is " . show($got);
    if ($op eq 'eq' || $op eq 'ne') {
        return (($text eq $want) == ($op eq 'eq'), $detail);
    }
    if ($op eq '=~' || $op eq '!~') {
        (my $re = $want) =~ s{\A/(.*)/\z}{$1}s;
        my $match = $text =~ /$re/;
        return (($match ? 1 : 0) == ($op eq '=~' ? 1 : 0), $detail);
    }
    die "response_json_path: '$want' is not a number in '$path $op $want'\n"
        unless looks_like_number($want);
    # a string "1" where the API promises a number is a bug worth seeing
    return (0, "$detail, not a JSON number") unless _kind($got) eq 'number';
    my $pass = $op eq '==' ? $got == $want
             : $op eq '!=' ? $got != $want
             : $op eq '<'  ? $got < $want
             : $op eq '<=' ? $got <= $want
             : $op eq '>'  ? $got > $want
             :               $got >= $want;
    return ($pass ? 1 : 0, $detail);
}

1;
