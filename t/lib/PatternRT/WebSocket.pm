package PatternRT::WebSocket;

# A WebSocket client on a raw TCP socket, for the t/07x suites: every byte
# is built here by hand (handshake, frame headers, masking) so a test can
# send exactly the malformed frame it wants and see exactly the frames, close
# codes and TCP shutdown the server produces. Nothing here is shared with
# the module's own codec: the expectations are RFC 6455's, not the server's.
#
#   my $ws = PatternRT::WebSocket->connect(port => server_port());
#   $ws->status == 101 or die;
#   $ws->send_json({type => 'ping'});
#   my $m = $ws->next_message(2);          # {type => 'pong', ...}
#   $ws->send_frame(opcode => 3);          # reserved opcode
#   my ($code) = $ws->expect_close(2);     # 1002
#
# Reading never blocks longer than the timeout given; a timeout returns
# undef, end of stream returns { eof => 1 }.

use strict;
use warnings;

use Carp qw(croak);
use Digest::SHA qw(sha1);
use Errno qw(EAGAIN EINTR EWOULDBLOCK ECONNRESET);
use Exporter 'import';
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use Socket qw(SOL_SOCKET SO_RCVBUF SOCK_STREAM IPPROTO_TCP TCP_NODELAY);
use Time::HiRes qw(time sleep);

use PatternRT::HTTP qw(parse_response header_value);

our @EXPORT_OK = qw(ws_accept_for ws_random_key ws_frame ws_close_payload
    WS_PATH);

use constant WS_PATH => '/ws/pattern-realtime';
use constant GUID => '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

my $JSON = JSON::PP->new->canonical->allow_nonref;
my $READ_CHUNK = 65536;

my %OPCODE = (continuation => 0, text => 1, binary => 2, close => 8,
              ping => 9, pong => 10);

# ---------------------------------------------------------------------------
# Pure helpers

# Sec-WebSocket-Accept for a key (RFC 6455 4.2.2): base64(SHA-1(key GUID)).
sub ws_accept_for {
    my ($key) = @_;

    return encode_base64(sha1($key . GUID), '');
}

sub ws_random_key {
    return encode_base64(join('', map { chr int rand 256 } 1 .. 16), '');
}

# The bytes of one frame. %f: opcode (number or name), payload (bytes),
# fin (default 1), rsv (0-7, the three RSV bits), mask (default 1: clients
# mask), key (4 bytes, random by default), length (announced payload
# length, default the real one: lets a test announce more than it sends).
sub ws_frame {
    my (%f) = @_;

    my $op = $f{opcode} // 'text';
    $op = $OPCODE{$op} // croak("unknown opcode '$op'") if $op !~ /\A\d+\z/;
    my $payload = $f{payload} // '';
    croak 'ws_frame: payload must be bytes' if utf8::is_utf8($payload)
                                             && $payload =~ /[^\x00-\xff]/;
    my $fin = $f{fin} // 1;
    my $mask = $f{mask} // 1;
    my $len = $f{length} // length $payload;

    my $head = chr(($fin ? 0x80 : 0) | (($f{rsv} // 0) << 4) | $op);
    my $mbit = $mask ? 0x80 : 0;
    if ($len < 126) {
        $head .= chr($mbit | $len);
    } elsif ($len < 65536) {
        $head .= chr($mbit | 126) . pack('n', $len);
    } else {
        $head .= chr($mbit | 127) . pack('Q>', $len);
    }
    return $head . $payload unless $mask;

    my $key = $f{key} // pack('N', int rand 2**32);
    my $masked = $payload ^ substr($key x (int(length($payload) / 4) + 1), 0,
                                   length $payload);
    return $head . $key . $masked;
}

# Payload of a close frame: the code (2 bytes, network order) and a reason.
sub ws_close_payload {
    my ($code, $reason) = @_;

    return defined $code ? pack('n', $code) . ($reason // '') : '';
}

# ---------------------------------------------------------------------------
# A connection

# Opens a TCP connection and sends a handshake; reads the response head.
# %o: port (required), host (default 127.0.0.1), path (default WS_PATH),
# query (appended after ?), key (default random), version (default 13),
# origin, method (GET),
# protocol ('HTTP/1.1'), headers ([name, value] pairs added last),
# omit (names of the default headers to leave out), after (bytes sent in
# the same write as the handshake: a first frame in the same packet),
# rcvbuf (SO_RCVBUF before connecting: a small window makes a slow reader),
# timeout (seconds for the response, default 5).
# Returns the connection; ->status, ->response (PatternRT::HTTP's hash:
# status, headers, body) and ->header($name) describe the answer.
sub connect {
    my ($class, %o) = @_;

    my $port = $o{port} or croak 'connect: port is required';
    my $timeout = $o{timeout} // 5;
    my $sock = IO::Socket::INET->new(Proto => 'tcp', Type => SOCK_STREAM)
        or die "socket: $!\n";
    if ($o{rcvbuf}) {
        setsockopt($sock, SOL_SOCKET, SO_RCVBUF, pack('i', $o{rcvbuf}))
            or die "SO_RCVBUF: $!\n";
    }
    my $addr = Socket::pack_sockaddr_in($port,
                                       Socket::inet_aton($o{host} // '127.0.0.1'));
    CORE::connect($sock, $addr) or die "connect to 127.0.0.1:$port: $!\n";
    setsockopt($sock, IPPROTO_TCP, TCP_NODELAY, 1);
    binmode $sock;

    my $self = bless { sock => $sock, in => '', port => $port,
                       key => $o{key} // ws_random_key(), eof => 0 }, $class;
    my $request = $self->_handshake_text(%o);
    $self->send_raw($request . ($o{after} // ''));
    $self->_read_response($o{method} // 'GET', $timeout);
    return $self;
}

sub _handshake_text {
    my ($self, %o) = @_;

    my $path = ($o{path} // WS_PATH)
               . (defined $o{query} ? "?$o{query}" : '');
    my %omit = map { lc($_) => 1 } @{ $o{omit} || [] };
    my @h = (['Host', 'localhost'], ['Upgrade', 'websocket'],
             ['Connection', 'Upgrade'],
             ['Sec-WebSocket-Version', $o{version} // 13],
             ['Sec-WebSocket-Key', $self->{key}]);
    push @h, ['Origin', $o{origin}] if defined $o{origin};
    @h = grep { !$omit{lc $_->[0]} } @h;
    push @h, @{ $o{headers} || [] };
    return sprintf("%s %s %s\r\n", $o{method} // 'GET', $path,
                   $o{protocol} // 'HTTP/1.1')
           . join('', map { "$_->[0]: $_->[1]\r\n" } @h) . "\r\n";
}

# Reads the HTTP answer; bytes after its head (frames the server sent at
# once) stay in the input buffer.
sub _read_response {
    my ($self, $method, $timeout) = @_;

    my $deadline = time + $timeout;
    while (1) {
        my $resp = parse_response($self->{in}, $method, $self->{eof});
        if ($resp) {
            die "handshake: $resp->{error}\n" if $resp->{error};
            $self->{response} = $resp;
            # a 101 has no body: whatever follows is WebSocket frames
            $self->{in} = $resp->{status} == 101 ? $resp->{extra} : '';
            return;
        }
        my $left = $deadline - time;
        die "handshake: no complete answer within ${timeout}s\n"
            if $left <= 0;
        $self->_fill($left);
    }
}

sub response { $_[0]{response} }
sub status   { $_[0]{response}{status} }
sub key      { $_[0]{key} }
sub sock     { $_[0]{sock} }

sub header {
    my ($self, $name) = @_;

    return header_value($self->{response}, $name);
}

# The answer's body as JSON (undef when it is not JSON).
sub body_json {
    my ($self) = @_;

    return eval { $JSON->decode($self->{response}{body}) };
}

# ---------------------------------------------------------------------------
# Sending

sub send_raw {
    my ($self, $bytes) = @_;

    local $SIG{PIPE} = 'IGNORE';
    my $off = 0;
    while ($off < length $bytes) {
        my $n = syswrite $self->{sock}, $bytes, length($bytes) - $off, $off;
        if (!defined $n) {
            next if $! == EINTR;
            return 0;               # the server closed: the caller checks
        }
        $off += $n;
    }
    return 1;
}

sub send_frame {
    my ($self, %f) = @_;

    return $self->send_raw(ws_frame(%f));
}

sub send_text {
    my ($self, $text, %f) = @_;

    utf8::encode($text) if utf8::is_utf8($text);
    return $self->send_frame(%f, opcode => 'text', payload => $text);
}

sub send_json {
    my ($self, $value) = @_;

    return $self->send_text($JSON->encode($value));
}

sub send_close {
    my ($self, $code, $reason) = @_;

    return $self->send_frame(opcode => 'close',
                             payload => ws_close_payload($code, $reason));
}

# ---------------------------------------------------------------------------
# Receiving

# Reads once (up to $timeout seconds). Returns the number of bytes read,
# 0 at end of stream (also after a reset), undef on timeout.
sub _fill {
    my ($self, $timeout) = @_;

    return 0 if $self->{eof};
    my $sel = IO::Select->new($self->{sock});
    return undef unless $sel->can_read($timeout < 0 ? 0 : $timeout);
    my $chunk;
    my $n = sysread $self->{sock}, $chunk, $READ_CHUNK;
    if (!defined $n) {
        return undef if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
        $self->{eof} = $! == ECONNRESET ? 'reset' : "error: $!";
        return 0;
    }
    if ($n == 0) {
        $self->{eof} = 'eof';
        return 0;
    }
    $self->{in} .= $chunk;
    return $n;
}

# One frame from the input buffer, or undef when it holds less than one.
sub _take_frame {
    my ($self) = @_;

    my $in = \$self->{in};
    return undef if length $$in < 2;
    my ($b0, $b1) = unpack 'CC', $$in;
    my $len = $b1 & 0x7f;
    my $pos = 2;
    if ($len == 126) {
        return undef if length $$in < 4;
        $len = unpack 'n', substr($$in, 2, 2);
        $pos = 4;
    } elsif ($len == 127) {
        return undef if length $$in < 10;
        $len = unpack 'Q>', substr($$in, 2, 8);
        $pos = 10;
    }
    my $masked = $b1 & 0x80;
    my $key = '';
    if ($masked) {
        return undef if length $$in < $pos + 4;
        $key = substr $$in, $pos, 4;
        $pos += 4;
    }
    return undef if length $$in < $pos + $len;
    my $payload = substr $$in, $pos, $len;
    substr($$in, 0, $pos + $len) = '';
    if ($masked) {
        $payload ^= substr($key x (int($len / 4) + 1), 0, $len);
    }
    my $f = { fin => $b0 >> 7, rsv => ($b0 >> 4) & 7, opcode => $b0 & 0x0f,
              masked => $masked ? 1 : 0, payload => $payload,
              length => $len };
    if ($f->{opcode} == 8) {
        $f->{close_code} = $len >= 2 ? unpack('n', $payload) : undef;
        $f->{reason} = $len > 2 ? substr($payload, 2) : '';
    }
    return $f;
}

# The next frame within $timeout seconds: a hash (fin, rsv, opcode,
# masked, payload, length; close_code and reason for a close), { eof =>
# why } at end of stream, undef on timeout.
sub next_frame {
    my ($self, $timeout) = @_;

    my $deadline = time + ($timeout // 5);
    while (1) {
        my $f = $self->_take_frame;
        return $f if $f;
        return { eof => $self->{eof} } if $self->{eof};
        my $left = $deadline - time;
        return undef if $left <= 0;
        $self->_fill($left);
    }
}

# The next text message (reassembled), decoded as JSON: the decoded value
# (a hash for every message the server sends). Control frames on the way:
# pings are answered with a pong unless the connection was told not to
# (->auto_pong(0)); a close frame or end of stream ends the wait and is
# returned as { close => code (1005 when it has none), reason => ...,
# frame => ... } or { eof => why }. undef on timeout.
sub next_message {
    my ($self, $timeout) = @_;

    my $deadline = time + ($timeout // 5);
    my $text = '';
    while (1) {
        my $f = $self->next_frame($deadline - time);
        return undef unless $f;
        return $f if $f->{eof};
        push @{ $self->{frames} }, $f if $self->{keep_frames};
        if ($f->{opcode} == 9) {
            $self->{pings}++;
            $self->send_frame(opcode => 'pong', payload => $f->{payload})
                if $self->{auto_pong} // 1;
            next;
        }
        next if $f->{opcode} == 10;
        if ($f->{opcode} == 8) {
            # a close without a code counts as 1005 (RFC 6455 7.1.5)
            return { close => $f->{close_code} // 1005,
                     reason => $f->{reason}, frame => $f };
        }
        $text .= $f->{payload};
        next unless $f->{fin};
        my $m = eval { $JSON->decode($text) };
        return $m // { unparsable => $text };
    }
}

sub auto_pong {
    my ($self, $on) = @_;

    $self->{auto_pong} = $on;
}

# Messages until $stop->($message) is true (the stopping one included), a
# close, end of stream or $timeout. Returns the list (a close or eof entry
# last when one ended it).
sub messages_until {
    my ($self, $stop, $timeout) = @_;

    my $deadline = time + $timeout;
    my @got;
    while (1) {
        my $m = $self->next_message($deadline - time);
        last unless $m;
        push @got, $m;
        last if $m->{close} || $m->{eof} || $stop->($m);
    }
    return @got;
}

# Frames until a close frame: (code, reason, the frames before it).
# (undef, 'eof: ...') when the stream ends first, (undef, 'timeout') on
# timeout. Pings are not answered here: the test decides.
sub expect_close {
    my ($self, $timeout) = @_;

    my $deadline = time + ($timeout // 5);
    my @before;
    while (1) {
        my $f = $self->next_frame($deadline - time);
        return (undef, 'timeout', @before) unless $f;
        return (undef, "eof: $f->{eof}", @before) if $f->{eof};
        return ($f->{close_code}, $f->{reason}, @before)
            if $f->{opcode} == 8;
        push @before, $f;
    }
}

# Waits for the server to close the TCP connection, discarding anything
# read. Returns the seconds waited, or undef on timeout.
sub wait_eof {
    my ($self, $timeout) = @_;

    my $t0 = time;
    my $deadline = $t0 + $timeout;
    while (!$self->{eof}) {
        my $left = $deadline - time;
        return undef if $left <= 0;
        $self->_fill($left);
        $self->{in} = '';
    }
    return time - $t0;
}

sub eof_seen { $_[0]{eof} }

# True while the server answers a WebSocket ping within $timeout: the
# connection is alive and its reader is not stuck. Other frames read on the
# way are kept for the next reads.
sub alive {
    my ($self, $timeout) = @_;

    my $token = sprintf 'alive-%d', int rand 1e9;
    $self->send_frame(opcode => 'ping', payload => $token) or return 0;
    my $deadline = time + ($timeout // 2);
    my @kept;
    my $ok = 0;
    while (1) {
        my $f = $self->next_frame($deadline - time);
        last if !$f || $f->{eof};
        if ($f->{opcode} == 10 && $f->{payload} eq $token) {
            $ok = 1;
            last;
        }
        push @kept, $f;
        last if $f->{opcode} == 8;
    }
    # put back what was read meanwhile, in order
    $self->{in} = join('', map { ws_frame(opcode => $_->{opcode},
                                          payload => $_->{payload},
                                          fin => $_->{fin}, mask => 0) }
                           @kept) . $self->{in};
    return $ok;
}

sub close_socket {
    my ($self) = @_;

    close $self->{sock} if $self->{sock};
    $self->{sock} = undef;
    $self->{eof} ||= 'closed here';
}

sub DESTROY {
    my ($self) = @_;

    close $self->{sock} if $self->{sock};
}

1;
