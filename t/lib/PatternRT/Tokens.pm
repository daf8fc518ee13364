package PatternRT::Tokens;

# Tokens for the suites, minted here from docs/auth.md's format
#
#   prt1.<scopes>.<expires>.<nonce>.<HMAC-SHA256 of the rest, base64url>
#
# rather than by the engine's `token` command, so that expired and forged
# ones can be made as well (t/020-auth.t checks the command itself). The
# secret nginx reads is written by test_secret().

use strict;
use warnings;

use Carp qw(croak);
use Digest::SHA qw(hmac_sha256);
use Exporter 'import';
use MIME::Base64 qw(encode_base64url);

our @EXPORT_OK = qw(test_secret mint);

my $SECRET;

# A random secret in $dir/secret (mode 0600), named by
# $ENV{TEST_PRT_SECRET_FILE} for the blocks' configurations; returns it.
sub test_secret {
    my ($dir) = @_;

    $SECRET = join '', map { sprintf '%02x', int rand 256 } 1 .. 32;
    open my $fh, '>', "$dir/secret" or croak "$dir/secret: $!";
    print {$fh} "$SECRET\n";
    close $fh or croak "$dir/secret: $!";
    chmod 0600, "$dir/secret";
    $ENV{TEST_PRT_SECRET_FILE} = "$dir/secret";
    return $SECRET;
}

# A token of $scopes ('read', 'feed-admin', ...) valid until $expires (Unix
# seconds; an hour from now by default).
sub mint {
    my ($scopes, $expires) = @_;

    croak 'mint before test_secret' unless defined $SECRET;
    my $payload = sprintf 'prt1.%s.%d.%s', $scopes, $expires // time + 3600,
                          encode_base64url(join '', map { chr int rand 256 }
                                                   1 .. 12);
    return "$payload." . encode_base64url(hmac_sha256($payload, $SECRET));
}

1;
