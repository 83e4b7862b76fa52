#!/usr/bin/env python3
"""make-seeds.py — writes the seed inputs of each fuzz target into corpus/<name>/.

Seeds are small valid (and a few nearly valid) inputs that fuzzing mutates
from; run.sh adds what libFuzzer finds. Run again after changing it:
    python3 tests/fuzz/make-seeds.py
"""
import base64, hashlib, hmac, json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, 'seed-' + name), 'wb') as f:
        f.write(data)


# ---- RTP ----
def rtp(pt, seq, ts, ssrc, payload, marker=False, ext=None, csrcs=(), padding=0):
    b0 = 0x80 | (0x20 if padding else 0) | (0x10 if ext is not None else 0) | len(csrcs)
    out = struct.pack('!BBHII', b0, (0x80 if marker else 0) | pt, seq, ts, ssrc)
    for c in csrcs:
        out += struct.pack('!I', c)
    if ext is not None:
        profile, body = ext
        body += b'\0' * (-len(body) % 4)
        out += struct.pack('!HH', profile, len(body) // 4) + body
    out += payload
    if padding:
        out += b'\0' * (padding - 1) + bytes([padding])
    return out

one_byte = (0xBEDE, bytes([0x10, 0x80]) + bytes([0x22, 1, 2, 3]) + bytes([0x31, 0, 7]))
two_byte = (0x1000, bytes([1, 1, 0x80, 3, 3, 1, 2, 3, 0, 0]))
vp8_key = bytes([0x90, 0x80, 0x12]) + bytes([0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00])
vp8_long = bytes([0x90, 0xe0, 0x81, 0x23, 0x05, 0x40]) + bytes([0x11, 0x02, 0x00])
vp9 = bytes([0x8c, 0x81, 0x23]) + bytes([0x00] * 8)
h264_idr = bytes([0x65, 0x88, 0x84, 0x00])
h264_stapa = bytes([0x18, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce])
h264_fua = bytes([0x7c, 0x85, 0x88, 0x84])
opus = bytes([0xf8, 0xff, 0xfe])
write('rtp', 'opus-level', rtp(111, 1, 960, 0x11111111, opus, ext=one_byte))
write('rtp', 'vp8-key', rtp(96, 2, 3000, 0x22222222, vp8_key, marker=True, ext=one_byte))
write('rtp', 'vp8-long-pid', rtp(96, 3, 3000, 0x22222222, vp8_long, ext=two_byte))
write('rtp', 'vp9', rtp(98, 4, 6000, 0x33333333, vp9, ext=one_byte))
write('rtp', 'h264-idr', rtp(102, 5, 9000, 0x44444444, h264_idr, csrcs=(1, 2)))
write('rtp', 'h264-stapa', rtp(102, 6, 9000, 0x44444444, h264_stapa, padding=4))
write('rtp', 'h264-fua', rtp(102, 7, 9000, 0x44444444, h264_fua))
write('rtp', 'rtx', rtp(97, 8, 3000, 0x55555555, struct.pack('!H', 2) + vp8_key, ext=one_byte))
write('rtp', 'header-only', rtp(0, 0, 0, 0, b''))

# ---- RTCP ----
def rtcp(pt, count, body):
    body += b'\0' * (-len(body) % 4)
    return struct.pack('!BBH', 0x80 | count, pt, len(body) // 4) + body

block = struct.pack('!IIIIII', 0x22222222, 0x01000010, 1000, 20, 0x12345678, 65536)
sr = rtcp(200, 1, struct.pack('!IIIIII', 0x11111111, 0xe0000000, 0x80000000, 3000, 10, 1000) + block)
rr = rtcp(201, 1, struct.pack('!I', 0x11111111) + block)
sdes = rtcp(202, 1, struct.pack('!I', 0x11111111) + bytes([1, 5]) + b'cname' + b'\0')
bye = rtcp(203, 2, struct.pack('!II', 1, 2) + bytes([3]) + b'bye')
nack = rtcp(205, 1, struct.pack('!IIHH', 1, 0x22222222, 100, 0x8001))
twcc = rtcp(205, 15, struct.pack('!IIHHI', 1, 0x22222222, 10, 3, 0x00000101) + bytes([0x20, 3, 4, 4, 4]))
pli = rtcp(206, 1, struct.pack('!II', 1, 0x22222222))
fir = rtcp(206, 4, struct.pack('!IIIBBBB', 1, 0, 0x22222222, 7, 0, 0, 0))
remb = rtcp(206, 15, struct.pack('!II', 1, 0) + b'REMB' + bytes([1, 0x0b, 0xd0, 0x90]) + struct.pack('!I', 0x22222222))
write('rtcp', 'sr-sdes', sr + sdes)
write('rtcp', 'rr-sdes-bye', rr + sdes + bye)
write('rtcp', 'nack', rr + nack)
write('rtcp', 'twcc', twcc)
write('rtcp', 'pli-fir', pli + fir)
write('rtcp', 'remb', rr + remb)
write('rtcp', 'reduced-size-pli', pli)

# ---- demux (RFC 7983) ----
stun = struct.pack('!HHI', 0x0001, 8, 0x2112A442) + b'\x01' * 12 + struct.pack('!HHI', 0x0024, 4, 0x6e7f1eff)
write('demux', 'stun', stun)
write('demux', 'dtls', bytes([22, 0xfe, 0xfd]) + b'\0' * 10)
write('demux', 'rtp', rtp(96, 1, 1, 1, vp8_key))
write('demux', 'rtcp', sr)
write('demux', 'zrtp', bytes([0x10]) + b'\0' * 11)

# ---- SDP ----
def offer(sections):
    lines = ['v=0', 'o=- 4611731400430051336 2 IN IP4 127.0.0.1', 's=-', 't=0 0',
             'a=group:BUNDLE ' + ' '.join(str(i) for i in range(len(sections))),
             'a=extmap-allow-mixed', 'a=msid-semantic: WMS stream']
    for i, s in enumerate(sections):
        lines += s(i)
    return '\r\n'.join(lines) + '\r\n'

def common(i):
    return ['c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0', 'a=ice-ufrag:abcd',
            'a=ice-pwd:abcdefghijklmnopqrstuvwx', 'a=ice-options:trickle',
            'a=fingerprint:sha-256 ' + ':'.join(['AB'] * 32), 'a=setup:actpass',
            'a=mid:%d' % i, 'a=sendonly', 'a=msid:stream track%d' % i, 'a=rtcp-mux', 'a=rtcp-rsize']

def audio(i):
    return (['m=audio 9 UDP/TLS/RTP/SAVPF 111 63'] + common(i) +
            ['a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
             'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
             'a=rtpmap:111 opus/48000/2', 'a=rtcp-fb:111 transport-cc',
             'a=fmtp:111 minptime=10;useinbandfec=1', 'a=rtpmap:63 red/48000/2',
             'a=ssrc:1111 cname:abc', 'a=ssrc:1111 msid:stream track%d' % i])

def video(i):
    return (['m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 102'] + common(i) +
            ['a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
             'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
             'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
             'a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id',
             'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 goog-remb', 'a=rtcp-fb:96 nack',
             'a=rtcp-fb:96 nack pli', 'a=rtcp-fb:96 ccm fir', 'a=rtpmap:97 rtx/90000', 'a=fmtp:97 apt=96',
             'a=rtpmap:98 VP9/90000', 'a=fmtp:98 profile-id=0', 'a=rtpmap:99 rtx/90000', 'a=fmtp:99 apt=98',
             'a=rtpmap:102 H264/90000',
             'a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
             'a=ssrc-group:FID 2222 3333', 'a=ssrc:2222 cname:abc', 'a=ssrc:3333 cname:abc'])

def simulcast(i):
    return (video(i)[:-3] + ['a=rid:h send', 'a=rid:m send', 'a=rid:l send', 'a=simulcast:send h;m;l'])

write('sdp', 'chrome-av', offer([audio, video]))
write('sdp', 'simulcast', offer([audio, simulcast]))
write('sdp', 'audio-only', offer([audio]))
write('sdp', 'candidate', 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0 ufrag abcd')
write('sdp', 'candidate-srflx', 'a=candidate:2 1 UDP 1686052607 203.0.113.5 40000 typ srflx raddr 10.0.0.2 rport 40000')

# ---- signaling requests ----
for name, req in {
    'join': {'type': 'join', 'id': 1, 'token': 'x.y', 'room': 'r1', 'name': 'Alice'},
    'chat': {'type': 'chat', 'id': 'c', 'text': 'bonjour à tous'},
    'publish': {'type': 'publish', 'id': 2, 'sdp': 'v=0\r\n', 'tracks': [{'mid': '0', 'source': 'mic'}]},
    'answer': {'type': 'subscriber-answer', 'id': 3, 'sdp': 'v=0\r\n', 'version': 4},
    'candidate': {'type': 'candidate', 'id': 4, 'pc': 'publish',
                  'candidate': {'candidate': 'candidate:1 1 udp 1 127.0.0.1 1 typ host', 'sdpMid': '0', 'sdpMLineIndex': 0}},
    'end-of-candidates': {'type': 'candidate', 'id': 5, 'pc': 'subscribe', 'candidate': None},
    'mute': {'type': 'mute', 'id': 6, 'kind': 'audio', 'muted': True},
    'ping': {'type': 'ping', 'id': 7},
    'leave': {'type': 'leave', 'id': 8},
    'stats': {'type': 'stats', 'id': 9},
    'unknown': {'type': 'dance', 'id': 10},
}.items():
    write('proto', name, json.dumps(req, ensure_ascii=False))
write('proto', 'not-an-object', '[1,2,3]')
write('proto', 'bad-json', '{"type": "join", "id": ')

# ---- tokens (tests/fuzz/fuzz-token.c's secret and time) ----
SECRET = b'fuzzing-secret-0123456789abcdef'
def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b'=').decode()
def token(claims):
    head = b64(json.dumps(claims, separators=(',', ':')).encode())
    return head + '.' + b64(hmac.new(SECRET, head.encode(), hashlib.sha256).digest())
write('token', 'mentor', token({'sub': 'alice', 'name': 'Alice', 'role': 'mentor', 'room': 'r1', 'exp': 1900000000}))
write('token', 'student-slot', token({'sub': 'bob', 'name': 'Bob', 'role': 'student', 'room': 'r1', 'kind': 'coaching',
                                      'exp': 1900000000, 'ends': 1800000600}))
write('token', 'curator-any', token({'sub': 'cu', 'role': 'curator', 'room': '*', 'exp': 1900000000}))
write('token', 'expired', token({'sub': 'x', 'role': 'student', 'room': 'r', 'exp': 1000}))
write('token', 'forged', token({'sub': 'alice', 'role': 'admin', 'room': '*', 'exp': 1900000000})[:-4] + 'AAAA')

# ---- HTTP (tests/fuzz/fuzz-http.c: path, query, Range, size, If-None-Match,
# If-Range, one per line) ----
def http(path, query='', rng='', size='', inm='', if_range=''):
    return '\n'.join([path, query, rng, str(size), inm, if_range])
ETAG = '"7-%x-0"'
for name, req in {
    'index': http('/', size=4096),
    'static-js': http('/js/call.mjs', rng='bytes=0-', size=12000),
    'static-dotdot': http('/js/../../etc/passwd'),
    'static-hidden': http('/.git/config'),
    'static-backslash': http('/js\\..\\secret.txt'),
    'search-words': http('/api/library', 'q=pricing&stage=launching&sector=food'),
    'search-sort': http('/api/library', 'mentor=alice&problem=pricing&sort=-date'),
    'search-pages': http('/api/library', 'per_page=2&page=3&sort=relevance'),
    'search-times': http('/api/library', 'from=2026-01-01&to=2026-03-01T12:00:00+01:00'),
    'search-ms': http('/api/library', 'from=1767225600000&to=1767312000000&visibility=reference'),
    'search-unknown': http('/api/library', 'colour=red'),
    'search-twice': http('/api/library', 'q=a&q=b'),
    'search-fts': http('/api/library', 'q="pricing" OR (&per_page=100'),
    'session': http('/api/sessions/0123456789abcdef'),
    'session-related': http('/api/sessions/0123456789abcdef/related', 'limit=50'),
    'session-traversal': http('/api/sessions/../../etc/passwd'),
    'recording-range': http('/api/recordings/42/media', rng='bytes=100-199', size=1000,
                            if_range=ETAG % 1000),
    'recording-suffix': http('/api/recordings/42/media', rng='bytes=-500', size=1000,
                             inm='W/"x", ' + ETAG % 1000),
    'recording-open': http('/api/recordings/7/media', rng='bytes=999-', size=1000, inm='*'),
    'recording-unsatisfiable': http('/api/recordings/7/media', rng='bytes=1000-2000', size=1000),
    'recording-multi': http('/api/recordings/7/media', rng='bytes=0-1,5-9', size=1000),
    'recording-huge': http('/api/recordings/999999999999999999/media',
                           rng='bytes=0-999999999999999999', size=9223372036854775807),
    'recording-empty-file': http('/api/recordings/1/media', rng='bytes=-1', size=0),
    'recording-bad-id': http('/api/recordings/abc/media'),
    'room': http('/api/rooms/r1'),
}.items():
    write('http', name, req)

# ---- router (tests/fuzz/fuzz-router.c: a header byte, bit 0 letting the room
# change shape, then a sequence of operations) ----
# Streams: 0 alice audio, 1-3 alice video h/m/l, 4-5 alice RTX h/l,
# 6 bob audio, 7 bob video, 8 bob RTX. Peers: 0 alice, 1 bob, 2 carol.
MID, RID, LEVEL, KEY, PID, MARK = 2, 4, 8, 64, 128, 1
def r_rtp(stream, flags, seqd=1, tsd=1, payload=b'\x01\x02\x03'):
    return bytes([0, stream, flags, seqd & 0xff, tsd, len(payload)]) + payload
def r_raw_rtp(peer, data):
    return bytes([12, peer]) + struct.pack('!H', len(data)) + data
def r_raw_rtcp(peer, pub, data):
    return bytes([14, peer, pub]) + struct.pack('!H', len(data)) + data
def r_fb(peer, kind, index, a=0, b=0):
    return bytes([16, peer, kind, index, a, b])
def r_sr(stream, ts=0):
    return bytes([20, stream, ts])
def r_mute(peer, video, forced, muted):
    return bytes([22, peer, video | (2 if forced else 0) | (4 if muted else 0)])
def r_qualities(peer, q):
    return bytes([24, peer, q])
def r_subscribe(peer, mask):
    return bytes([31, 2, peer, mask])
R_CAROL = bytes([31, 1])
def r_publish(peer):
    return bytes([31, 0, peer])
def r_state(peer, pub, state):
    return bytes([29, peer, pub, state])
R_TICK = bytes([26])
def r_time(n):
    return bytes([27, n])
def r_stats(peer):
    return bytes([30, peer])
def r_keyframe(peer, track):
    return bytes([28, peer, track])

PACKETS, SHAPE = b'\x00', b'\x01'
def r_call(frames=3):
    out = b''
    for s in (1, 2, 3):
        out += r_rtp(s, MID | RID | KEY | MARK)
    out += r_rtp(7, MID | KEY | MARK)
    for _ in range(frames):
        out += r_rtp(0, MID | LEVEL) + r_rtp(6, MID | LEVEL)
        for s in (1, 2, 3, 7):
            out += r_rtp(s, MID | RID | PID, tsd=10)
        out += r_time(5)
    return out

write('router', 'call', SHAPE + r_call() + R_TICK + r_stats(2) + r_sr(1) + r_sr(0))
write('router', 'loss-nack', PACKETS + r_call() + r_rtp(1, MID | RID | PID, seqd=4) + r_rtp(7, MID | PID, seqd=3)
      + r_fb(2, 0, 1, 1, 0x03) + r_fb(0, 0, 1, 2, 0xff) + r_fb(1, 0, 0, 0, 0))
write('router', 'rtx', PACKETS + r_call() + r_rtp(4, MID | RID, seqd=0) + r_rtp(5, MID | RID, seqd=0)
      + r_rtp(8, 0, seqd=0) + r_rtp(8, MID, seqd=1, payload=b''))
write('router', 'mute-unmute', PACKETS + r_call(1) + r_mute(0, 1, False, True) + r_rtp(1, MID | RID | PID)
      + r_rtp(1, MID | RID | PID) + r_mute(0, 1, False, False) + r_rtp(1, MID | RID | KEY | MARK)
      + r_rtp(1, MID | RID | PID) + r_fb(2, 0, 1, 3, 0x07) + r_mute(1, 0, True, True)
      + r_rtp(6, MID | LEVEL) + r_mute(1, 0, False, False) + r_rtp(6, MID | LEVEL))
write('router', 'simulcast', PACKETS + r_call() + R_TICK + r_qualities(2, 0x00) + r_rtp(3, MID | RID | KEY)
      + r_rtp(1, MID | RID | PID) + R_TICK + r_fb(2, 3, 1, 0x40, 0x01) + R_TICK
      + r_qualities(2, 0xaa) + r_fb(2, 3, 1, 0xff, 0xff) + r_rtp(1, MID | RID | KEY)
      + r_fb(2, 1, 1) + r_fb(2, 2, 1, 1))
# One change of shape an input.
write('router', 'carol-leaves', SHAPE + r_call(1) + R_CAROL + r_call(1) + r_stats(0))
write('router', 'renegotiate', SHAPE + r_call(1) + r_publish(0) + r_call(1))
write('router', 'subscribe-less', SHAPE + r_call(1) + r_subscribe(1, 0x1) + r_call(1) + r_stats(1))
write('router', 'transport-states', PACKETS + r_call(1) + r_state(2, 0, 3) + r_call(1) + r_state(2, 0, 2)
      + r_keyframe(0, 1) + r_call(1))
write('router', 'raw', PACKETS + r_raw_rtp(0, rtp(96, 9, 9000, 0xa0000011, vp8_key, ext=one_byte))
      + r_raw_rtp(1, rtp(111, 1, 960, 0xb0000001, opus)) + r_raw_rtcp(2, 0, rr + nack + pli + remb)
      + r_raw_rtcp(0, 1, sr + sdes + bye) + r_raw_rtp(0, b'\x80'))
