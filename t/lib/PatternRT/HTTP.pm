package PatternRT::HTTP;

# A small HTTP/1.x client on a raw TCP socket. The harness must control every
# byte it sends (--- raw_request, requests split into delayed pieces) and see
# every header and the exact body nginx returns, which LWP hides or rewrites.
# One exchange = one connection = one response; reading stops as soon as the
# response is complete, so keep-alive connections do not stall a test.

use strict;
use warnings;

use Errno qw(EAGAIN EINTR EWOULDBLOCK);
use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(build_request request_method exchange parse_response
    header_value);

my $READ_CHUNK = 65536;

# Turns the text of a --- request section ("METHOD URI [PROTOCOL]" on the
# first line, the body after it) and [name, value] header pairs into the
# bytes to send. Host, Connection: close and Content-Length are added unless
# the headers already name them.
sub build_request {
    my ($text, $headers) = @_;

    $text =~ s/\n\z//;
    my ($line, $body) = split /\n/, $text, 2;
    $body //= '';
    my ($method, $uri, $proto) = split ' ', $line // '';
    die "the request line is empty\n" unless defined $method;
    $uri //= '/';
    $proto //= 'HTTP/1.1';

    my %given = map { lc($_->[0]) => 1 } @$headers;
    my @all = @$headers;
    push @all, ['Host', 'localhost'] unless $given{host};
    push @all, ['Connection', 'close']
        unless $given{connection} || $proto eq 'HTTP/1.0';
    if (!$given{'content-length'} && !$given{'transfer-encoding'}
        && (length $body || $method =~ /^(?:POST|PUT|PATCH)\z/))
    {
        push @all, ['Content-Length', length $body];
    }

    my $head = "$method $uri $proto\r\n"
        . join('', map { "$_->[0]: $_->[1]\r\n" } @all);
    return "$head\r\n$body";
}

sub request_method {
    my ($bytes) = @_;

    return $bytes =~ /\A\s*([A-Z]+)/ ? $1 : 'GET';
}

# Sends the pieces in order ($o{delay} seconds apart, so nginx sees separate
# reads) and reads one response. Returns a hash: raw => bytes received,
# response => parsed response or undef, error => why there is none.
sub exchange {
    my (%o) = @_;

    my $timeout = $o{timeout} // 10;
    my $sock = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1', PeerPort => $o{port}, Proto => 'tcp',
        Timeout => $timeout,
    ) or return { raw => '', error => "connect to 127.0.0.1:$o{port}: $!" };
    $sock->blocking(0);

    my $state = {
        sock => $sock, pieces => [@{$o{pieces}}], out => '',
        next_write => 0, delay => $o{delay} // 0.05, in => '',
        method => $o{method} // 'GET',
    };
    local $SIG{PIPE} = 'IGNORE';
    my $result = _pump($state, time + $timeout, $timeout);
    close $sock;
    return $result;
}

sub _pump {
    my ($st, $deadline, $timeout) = @_;

    my $select = IO::Select->new($st->{sock});
    while (1) {
        my $now = time;
        if ($now >= $deadline) {
            return { raw => $st->{in},
                     error => "timed out after ${timeout}s (no complete "
                              . "response)" };
        }
        _next_piece($st, $now);
        my $writing = length $st->{out} && $now >= $st->{next_write};
        my $wait = $deadline - $now;
        if (!$writing && @{$st->{pieces}} + length $st->{out}) {
            my $until_write = $st->{next_write} - $now;
            $wait = $until_write if $until_write < $wait;
        }
        my ($readable, $writable) = IO::Select->select(
            $select, $writing ? $select : undef, undef, $wait);
        _write_some($st) if $writable && @$writable;
        next unless $readable && @$readable;

        my $chunk;
        my $n = sysread $st->{sock}, $chunk, $READ_CHUNK;
        if (!defined $n) {
            next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            return _finish($st, "read: $!");
        }
        return _finish($st, undef) if $n == 0;
        $st->{in} .= $chunk;
        my $resp = parse_response($st->{in}, $st->{method}, 0);
        return { raw => $st->{in}, response => $resp }
            if $resp && !$resp->{error};
    }
}

# Moves the next piece into the output buffer once the previous one is sent.
sub _next_piece {
    my ($st, $now) = @_;

    return if length $st->{out} || !@{$st->{pieces}};
    $st->{out} = shift @{$st->{pieces}};
    $st->{next_write} = $st->{first_sent} ? $now + $st->{delay} : 0;
}

sub _write_some {
    my ($st) = @_;

    my $n = syswrite $st->{sock}, $st->{out};
    if (!defined $n) {
        return if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
        # nginx may answer and close before reading everything (413, 400):
        # stop sending and keep reading the response.
        $st->{write_error} = "$!";
        $st->{out} = '';
        $st->{pieces} = [];
        return;
    }
    substr($st->{out}, 0, $n, '');
    $st->{first_sent} = 1;
}

# End of stream (or a read error): parse what arrived, close-delimited
# bodies are complete now.
sub _finish {
    my ($st, $read_error) = @_;

    my $resp = parse_response($st->{in}, $st->{method}, 1);
    return { raw => $st->{in}, response => $resp } unless $resp->{error};
    my $error = $resp->{error};
    $error .= " ($read_error)" if $read_error;
    $error .= " (write: $st->{write_error})" if $st->{write_error};
    return { raw => $st->{in}, error => $error };
}

# Parses one HTTP response from the start of $buf. Returns undef while more
# bytes are needed (and $eof is false); a hash with status, reason, proto,
# headers ([name, value] in order), body (de-chunked) and extra (bytes after
# the response); or a hash with only error.
sub parse_response {
    my ($buf, $method, $eof) = @_;

    my $end = index $buf, "\r\n\r\n";
    if ($end < 0) {
        return undef unless $eof;
        return { error => length $buf
            ? 'connection closed inside the response header'
            : 'connection closed without a response' };
    }
    my $resp = _parse_head(substr $buf, 0, $end);
    return $resp if $resp->{error};

    my ($body, $used) = _body($resp, substr($buf, $end + 4), $method, $eof);
    if (!defined $body) {
        return undef unless $eof;
        return { error => 'connection closed inside the response body' };
    }
    $resp->{body} = $body;
    $resp->{extra} = substr $buf, $end + 4 + $used;
    return $resp;
}

sub _parse_head {
    my ($head) = @_;

    my ($status_line, @lines) = split /\r\n/, $head;
    my ($proto, $status, $reason) =
        $status_line =~ m{\A(HTTP/\d\.\d) (\d{3})(?: (.*))?\z}
        or return { error => "malformed status line: $status_line" };
    my @headers;
    for my $line (@lines) {
        $line =~ /\A([^:\s]+):[ \t]*(.*?)[ \t]*\z/
            or return { error => "malformed header line: $line" };
        push @headers, [$1, $2];
    }
    return { proto => $proto, status => $status, reason => $reason // '',
             headers => \@headers };
}

# Returns (body, bytes consumed) or an empty list when incomplete.
sub _body {
    my ($resp, $rest, $method, $eof) = @_;

    my $status = $resp->{status};
    return ('', 0)
        if $method eq 'HEAD' || $status =~ /\A1/ || $status == 204
           || $status == 304;
    my $te = header_value($resp, 'Transfer-Encoding') // '';
    return _dechunk($rest) if $te =~ /\bchunked\b/i;
    my $len = header_value($resp, 'Content-Length');
    if (defined $len) {
        return () if length $rest < $len;
        return (substr($rest, 0, $len), $len);
    }
    return $eof ? ($rest, length $rest) : ();
}

sub _dechunk {
    my ($data) = @_;

    my ($body, $pos) = ('', 0);
    while (1) {
        my $eol = index $data, "\r\n", $pos;
        return () if $eol < 0;
        my ($size) = substr($data, $pos, $eol - $pos) =~ /\A([0-9a-fA-F]+)/
            or return ();
        $size = hex $size;
        $pos = $eol + 2;
        if ($size == 0) {
            # trailer fields, then an empty line
            my $end = index $data, "\r\n\r\n", $pos - 2;
            return () if $end < 0;
            return ($body, $end + 4);
        }
        return () if length($data) < $pos + $size + 2;
        $body .= substr $data, $pos, $size;
        $pos += $size + 2;
    }
}

# The value of header $name (case-insensitive); several fields of the same
# name are joined with ", " as RFC 9110 allows. Undef when absent.
sub header_value {
    my ($resp, $name) = @_;

    my @values = map { $_->[1] }
                 grep { lc $_->[0] eq lc $name } @{$resp->{headers} || []};
    return @values ? join(', ', @values) : undef;
}

1;
