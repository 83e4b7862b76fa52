/* test-sdp.c — media/sdp.c: parsing real browser and webrtcbin offers, the
 * publish answer, the subscriber offer and the check of its answer, trickled
 * candidates, and hostile descriptions.
 *
 * Single-threaded. Every answer or offer the module writes is parsed back
 * with tb_sdp_parse, so the checks read it as a peer would. Fixtures are
 * written line by line and joined with CRLF, as browsers send them.
 */
#include "sdp.h"

#include "common.h"

#include <string.h>

#define FP_CHROME                                                                                  \
	"4A:0B:7C:1D:2E:3F:40:51:62:73:84:95:A6:B7:C8:D9:EA:FB:0C:1D:2E:3F:40:51:62:73:84:95:A6:"  \
	"B7:C8:D9"
#define FP_FIREFOX                                                                                 \
	"D2:5B:19:8E:4F:A0:33:C7:61:0D:9E:2A:B5:74:E8:16:C3:5F:0A:92:7D:E4:28:B1:6C:03:F9:5E:A7:"  \
	"48:DB:21"
#define FP_GST                                                                                     \
	"1F:2E:3D:4C:5B:6A:79:88:97:A6:B5:C4:D3:E2:F1:00:1F:2E:3D:4C:5B:6A:79:88:97:A6:B5:C4:D3:"  \
	"E2:F1:00"
#define FP_SERVER                                                                                  \
	"AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:"  \
	"77:88:99"
#define STREAM      "6c1d3e2a-3b8b-4f4c-9b1e-2f1a7f0d6c11"
#define AUDIO_TRACK "0f5b7a1e-5d2c-4a3e-8e61-3d9f6b2a4c01"
#define VIDEO_TRACK "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

/* Chromium (unified plan) publish offer: addTransceiver(track, {direction:
 * "sendonly"}) for a microphone and a camera. */
static const char *const CHROME_OFFER[] = {
	"v=0",
	"o=- 7692913497315215823 2 IN IP4 127.0.0.1",
	"s=-",
	"t=0 0",
	"a=group:BUNDLE 0 1",
	"a=extmap-allow-mixed",
	"a=msid-semantic: WMS " STREAM,
	"m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
	"c=IN IP4 0.0.0.0",
	"a=rtcp:9 IN IP4 0.0.0.0",
	"a=ice-ufrag:Fv3v",
	"a=ice-pwd:9dG2lC0bLO5ix8Vrs2Wh3V5m",
	"a=ice-options:trickle",
	"a=fingerprint:sha-256 " FP_CHROME,
	"a=setup:actpass",
	"a=mid:0",
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
	"a=sendonly",
	"a=msid:" STREAM " " AUDIO_TRACK,
	"a=rtcp-mux",
	"a=rtpmap:111 opus/48000/2",
	"a=rtcp-fb:111 transport-cc",
	"a=fmtp:111 minptime=10;useinbandfec=1",
	"a=rtpmap:63 red/48000/2",
	"a=fmtp:63 111/111",
	"a=rtpmap:9 G722/8000",
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:8 PCMA/8000",
	"a=rtpmap:13 CN/8000",
	"a=rtpmap:110 telephone-event/48000",
	"a=rtpmap:126 telephone-event/8000",
	"a=ssrc:3735928559 cname:kZ7pQ2xW9yR4tL1m",
	"a=ssrc:3735928559 msid:" STREAM " " AUDIO_TRACK,
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 40 45 46 98 "
	"99 "
	"100 101 112 113 116 117 118",
	"c=IN IP4 0.0.0.0",
	"a=rtcp:9 IN IP4 0.0.0.0",
	"a=ice-ufrag:Fv3v",
	"a=ice-pwd:9dG2lC0bLO5ix8Vrs2Wh3V5m",
	"a=ice-options:trickle",
	"a=fingerprint:sha-256 " FP_CHROME,
	"a=setup:actpass",
	"a=mid:1",
	"a=extmap:14 urn:ietf:params:rtp-hdrext:toffset",
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
	"a=extmap:13 urn:3gpp:video-orientation",
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
	"a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
	"a=extmap:6 http://www.webrtc.org/experiments/rtp-hdrext/video-content-type",
	"a=extmap:7 http://www.webrtc.org/experiments/rtp-hdrext/video-timing",
	"a=extmap:8 http://www.webrtc.org/experiments/rtp-hdrext/color-space",
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
	"a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
	"a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
	"a=sendonly",
	"a=msid:" STREAM " " VIDEO_TRACK,
	"a=rtcp-mux",
	"a=rtcp-rsize",
	"a=rtpmap:96 VP8/90000",
	"a=rtcp-fb:96 goog-remb",
	"a=rtcp-fb:96 transport-cc",
	"a=rtcp-fb:96 ccm fir",
	"a=rtcp-fb:96 nack",
	"a=rtcp-fb:96 nack pli",
	"a=rtpmap:97 rtx/90000",
	"a=fmtp:97 apt=96",
	"a=rtpmap:102 H264/90000",
	"a=rtcp-fb:102 goog-remb",
	"a=rtcp-fb:102 transport-cc",
	"a=rtcp-fb:102 ccm fir",
	"a=rtcp-fb:102 nack",
	"a=rtcp-fb:102 nack pli",
	"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
	"a=rtpmap:103 rtx/90000",
	"a=fmtp:103 apt=102",
	"a=rtpmap:104 H264/90000",
	"a=rtcp-fb:104 nack",
	"a=rtcp-fb:104 nack pli",
	"a=fmtp:104 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f",
	"a=rtpmap:105 rtx/90000",
	"a=fmtp:105 apt=104",
	"a=rtpmap:106 H264/90000",
	"a=rtcp-fb:106 nack",
	"a=rtcp-fb:106 nack pli",
	"a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	"a=rtpmap:107 rtx/90000",
	"a=fmtp:107 apt=106",
	"a=rtpmap:108 H264/90000",
	"a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f",
	"a=rtpmap:109 rtx/90000",
	"a=fmtp:109 apt=108",
	"a=rtpmap:127 H264/90000",
	"a=rtcp-fb:127 nack",
	"a=rtcp-fb:127 nack pli",
	"a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f",
	"a=rtpmap:125 rtx/90000",
	"a=fmtp:125 apt=127",
	"a=rtpmap:39 H264/90000",
	"a=fmtp:39 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=4d001f",
	"a=rtpmap:40 rtx/90000",
	"a=fmtp:40 apt=39",
	"a=rtpmap:45 AV1/90000",
	"a=rtcp-fb:45 goog-remb",
	"a=rtcp-fb:45 transport-cc",
	"a=rtcp-fb:45 ccm fir",
	"a=rtcp-fb:45 nack",
	"a=rtcp-fb:45 nack pli",
	"a=fmtp:45 level-idx=5;profile=0;tier=0",
	"a=rtpmap:46 rtx/90000",
	"a=fmtp:46 apt=45",
	"a=rtpmap:98 VP9/90000",
	"a=rtcp-fb:98 goog-remb",
	"a=rtcp-fb:98 transport-cc",
	"a=rtcp-fb:98 ccm fir",
	"a=rtcp-fb:98 nack",
	"a=rtcp-fb:98 nack pli",
	"a=fmtp:98 profile-id=0",
	"a=rtpmap:99 rtx/90000",
	"a=fmtp:99 apt=98",
	"a=rtpmap:100 VP9/90000",
	"a=rtcp-fb:100 nack",
	"a=rtcp-fb:100 nack pli",
	"a=fmtp:100 profile-id=2",
	"a=rtpmap:101 rtx/90000",
	"a=fmtp:101 apt=100",
	"a=rtpmap:112 H264/90000",
	"a=rtcp-fb:112 nack",
	"a=rtcp-fb:112 nack pli",
	"a=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f",
	"a=rtpmap:113 rtx/90000",
	"a=fmtp:113 apt=112",
	"a=rtpmap:116 red/90000",
	"a=rtpmap:117 rtx/90000",
	"a=fmtp:117 apt=116",
	"a=rtpmap:118 ulpfec/90000",
	"a=ssrc-group:FID 1111111111 2222222222",
	"a=ssrc:1111111111 cname:kZ7pQ2xW9yR4tL1m",
	"a=ssrc:1111111111 msid:" STREAM " " VIDEO_TRACK,
	"a=ssrc:2222222222 cname:kZ7pQ2xW9yR4tL1m",
	"a=ssrc:2222222222 msid:" STREAM " " VIDEO_TRACK,
	NULL,
};

/* Firefox publish offer: session-level fingerprint and ice-options, ICE
 * credentials per section, other extension ids, gathered candidates and
 * a=end-of-candidates in each section. */
static const char *const FIREFOX_OFFER[] = {
	"v=0",
	"o=mozilla...THIS_IS_SDPARTA-99.0 3719232718475738416 0 IN IP4 0.0.0.0",
	"s=-",
	"t=0 0",
	"a=sendrecv",
	"a=fingerprint:sha-256 " FP_FIREFOX,
	"a=group:BUNDLE 0 1",
	"a=ice-options:trickle",
	"a=msid-semantic:WMS *",
	"m=audio 54321 UDP/TLS/RTP/SAVPF 109 9 0 8 101",
	"c=IN IP4 192.0.2.10",
	"a=candidate:0 1 UDP 2122252543 192.0.2.10 54321 typ host",
	"a=sendonly",
	"a=end-of-candidates",
	"a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
	"a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level",
	"a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid",
	"a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1",
	"a=fmtp:101 0-15",
	"a=ice-pwd:3e9f2bb1a3c8d7e6f5a4b3c2d1e0f9a8",
	"a=ice-ufrag:8f2c4a1b",
	"a=mid:0",
	"a=msid:{5f1bd0a2-7e4c-4b8e-a1f3-0c9d2e8b7a61} {a1c2e3f4-b5d6-4e7f-8a9b-0c1d2e3f4a5b}",
	"a=rtcp-mux",
	"a=rtpmap:109 opus/48000/2",
	"a=rtpmap:9 G722/8000/1",
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:8 PCMA/8000",
	"a=rtpmap:101 telephone-event/8000/1",
	"a=setup:actpass",
	"a=ssrc:2841537092 cname:{7c1f0e2d-3b4a-4c5d-8e6f-a7b8c9d0e1f2}",
	"m=video 54321 UDP/TLS/RTP/SAVPF 120 124 121 125 126 127 97 98 123 122 119",
	"c=IN IP4 192.0.2.10",
	"a=candidate:0 1 UDP 2122252543 192.0.2.10 54321 typ host",
	"a=sendonly",
	"a=end-of-candidates",
	"a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid",
	"a=extmap:4 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
	"a=extmap:5 urn:ietf:params:rtp-hdrext:toffset",
	"a=extmap:6/recvonly http://www.webrtc.org/experiments/rtp-hdrext/playout-delay",
	"a=extmap:7 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
	"a=fmtp:126 profile-level-id=42e01f;level-asymmetry-allowed=1;packetization-mode=1",
	"a=fmtp:97 profile-level-id=42e01f;level-asymmetry-allowed=1",
	"a=fmtp:120 max-fs=12288;max-fr=60",
	"a=fmtp:124 apt=120",
	"a=fmtp:121 max-fs=12288;max-fr=60",
	"a=fmtp:125 apt=121",
	"a=fmtp:127 apt=126",
	"a=fmtp:98 apt=97",
	"a=fmtp:119 apt=122",
	"a=ice-pwd:3e9f2bb1a3c8d7e6f5a4b3c2d1e0f9a8",
	"a=ice-ufrag:8f2c4a1b",
	"a=mid:1",
	"a=msid:{5f1bd0a2-7e4c-4b8e-a1f3-0c9d2e8b7a61} {b2d3f4a5-c6e7-4f8a-9b0c-1d2e3f4a5b6c}",
	"a=rtcp-fb:120 nack",
	"a=rtcp-fb:120 nack pli",
	"a=rtcp-fb:120 ccm fir",
	"a=rtcp-fb:120 goog-remb",
	"a=rtcp-fb:120 transport-cc",
	"a=rtcp-fb:121 nack",
	"a=rtcp-fb:121 nack pli",
	"a=rtcp-fb:121 ccm fir",
	"a=rtcp-fb:121 goog-remb",
	"a=rtcp-fb:121 transport-cc",
	"a=rtcp-fb:126 nack",
	"a=rtcp-fb:126 nack pli",
	"a=rtcp-fb:126 ccm fir",
	"a=rtcp-fb:126 goog-remb",
	"a=rtcp-fb:126 transport-cc",
	"a=rtcp-fb:97 nack",
	"a=rtcp-fb:97 nack pli",
	"a=rtcp-fb:97 ccm fir",
	"a=rtcp-fb:97 goog-remb",
	"a=rtcp-fb:97 transport-cc",
	"a=rtcp-fb:123 nack",
	"a=rtcp-fb:123 nack pli",
	"a=rtcp-fb:123 ccm fir",
	"a=rtcp-fb:123 goog-remb",
	"a=rtcp-fb:123 transport-cc",
	"a=rtcp-fb:122 nack",
	"a=rtcp-fb:122 nack pli",
	"a=rtcp-fb:122 ccm fir",
	"a=rtcp-fb:122 goog-remb",
	"a=rtcp-fb:122 transport-cc",
	"a=rtcp-mux",
	"a=rtcp-rsize",
	"a=rtpmap:120 VP8/90000",
	"a=rtpmap:124 rtx/90000",
	"a=rtpmap:121 VP9/90000",
	"a=rtpmap:125 rtx/90000",
	"a=rtpmap:126 H264/90000",
	"a=rtpmap:127 rtx/90000",
	"a=rtpmap:97 H264/90000",
	"a=rtpmap:98 rtx/90000",
	"a=rtpmap:123 ulpfec/90000",
	"a=rtpmap:122 red/90000",
	"a=rtpmap:119 rtx/90000",
	"a=setup:actpass",
	"a=ssrc:3014268562 cname:{7c1f0e2d-3b4a-4c5d-8e6f-a7b8c9d0e1f2}",
	"a=ssrc:1877461399 cname:{7c1f0e2d-3b4a-4c5d-8e6f-a7b8c9d0e1f2}",
	"a=ssrc-group:FID 3014268562 1877461399",
	NULL,
};

/* GStreamer 1.22 webrtcbin offer (bundle-policy max-bundle, sendrecv
 * transceivers): no extmap, "OPUS" in capitals, rtcp-fb nack / nack pli. */
static const char *const GST_OFFER[] = {
	"v=0",
	"o=- 8463213523384583893 0 IN IP4 0.0.0.0",
	"s=-",
	"t=0 0",
	"a=ice-options:trickle",
	"a=group:BUNDLE video0 audio1",
	"m=video 9 UDP/TLS/RTP/SAVPF 96",
	"c=IN IP4 0.0.0.0",
	"a=setup:actpass",
	"a=ice-ufrag:Gv2H6I2Qm2A2kh5C9Yc2wq4XrAMmWbsH",
	"a=ice-pwd:Q2e4Dc7bQ5bUVYc0vDQmA2gG6kwV8s9Q",
	"a=rtcp-mux",
	"a=rtcp-rsize",
	"a=sendrecv",
	"a=rtpmap:96 VP8/90000",
	"a=rtcp-fb:96 nack",
	"a=rtcp-fb:96 nack pli",
	"a=framerate:30",
	"a=ssrc:2718546451 msid:user1234@host-5f3d webrtctransceiver0",
	"a=ssrc:2718546451 cname:user1234@host-5f3d",
	"a=mid:video0",
	"a=fingerprint:sha-256 " FP_GST,
	"m=audio 9 UDP/TLS/RTP/SAVPF 97",
	"c=IN IP4 0.0.0.0",
	"a=setup:actpass",
	"a=ice-ufrag:Gv2H6I2Qm2A2kh5C9Yc2wq4XrAMmWbsH",
	"a=ice-pwd:Q2e4Dc7bQ5bUVYc0vDQmA2gG6kwV8s9Q",
	"a=rtcp-mux",
	"a=rtcp-rsize",
	"a=sendrecv",
	"a=rtpmap:97 OPUS/48000/2",
	"a=rtcp-fb:97 nack",
	"a=rtcp-fb:97 nack pli",
	"a=fmtp:97 sprop-maxcapturerate=48000;sprop-stereo=0",
	"a=ssrc:1349207121 msid:user1234@host-5f3d webrtctransceiver1",
	"a=ssrc:1349207121 cname:user1234@host-5f3d",
	"a=mid:audio1",
	"a=fingerprint:sha-256 " FP_GST,
	NULL,
};

/* Chromium simulcast publish offer: sendEncodings with rids q, h, f. No
 * a=ssrc lines: the layers are told apart by rid. */
static const char *const SIMULCAST_OFFER[] = {
	"v=0",
	"o=- 2061720452612458215 2 IN IP4 127.0.0.1",
	"s=-",
	"t=0 0",
	"a=group:BUNDLE 0",
	"a=extmap-allow-mixed",
	"a=msid-semantic: WMS " STREAM,
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99",
	"c=IN IP4 0.0.0.0",
	"a=rtcp:9 IN IP4 0.0.0.0",
	"a=ice-ufrag:Xy7Q",
	"a=ice-pwd:u2WcMx7yV5zL3tA8bN1pQ9rS",
	"a=ice-options:trickle",
	"a=fingerprint:sha-256 " FP_CHROME,
	"a=setup:actpass",
	"a=mid:0",
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
	"a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
	"a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id",
	"a=extmap:11 urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id",
	"a=sendonly",
	"a=msid:" STREAM " " VIDEO_TRACK,
	"a=rtcp-mux",
	"a=rtcp-rsize",
	"a=rtpmap:96 VP8/90000",
	"a=rtcp-fb:96 goog-remb",
	"a=rtcp-fb:96 transport-cc",
	"a=rtcp-fb:96 ccm fir",
	"a=rtcp-fb:96 nack",
	"a=rtcp-fb:96 nack pli",
	"a=rtpmap:97 rtx/90000",
	"a=fmtp:97 apt=96",
	"a=rtpmap:98 VP9/90000",
	"a=fmtp:98 profile-id=0",
	"a=rtpmap:99 rtx/90000",
	"a=fmtp:99 apt=98",
	"a=rid:q send",
	"a=rid:h send",
	"a=rid:f send",
	"a=simulcast:send q;h;f",
	NULL,
};

/* Chromium's answer to the subscriber offer of subscriber_tracks(). */
static const char *const SUBSCRIBER_ANSWER[] = {
	"v=0",
	"o=- 5981420377516239016 2 IN IP4 127.0.0.1",
	"s=-",
	"t=0 0",
	"a=group:BUNDLE a0 a1 v0 v1",
	"a=msid-semantic: WMS",
	"m=audio 9 UDP/TLS/RTP/SAVPF 111",
	"c=IN IP4 0.0.0.0",
	"a=rtcp:9 IN IP4 0.0.0.0",
	"a=ice-ufrag:Cl1E",
	"a=ice-pwd:Kj3nB8vW2qLp9xYt6rZm4cFd",
	"a=ice-options:trickle",
	"a=fingerprint:sha-256 " FP_CHROME,
	"a=setup:active",
	"a=mid:a0",
	"a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
	"a=extmap:4 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
	"a=recvonly",
	"a=rtcp-mux",
	"a=rtpmap:111 opus/48000/2",
	"a=rtcp-fb:111 transport-cc",
	"a=fmtp:111 minptime=10;useinbandfec=1",
	"m=audio 9 UDP/TLS/RTP/SAVPF 111",
	"c=IN IP4 0.0.0.0",
	"a=rtcp:9 IN IP4 0.0.0.0",
	"a=ice-ufrag:Cl1E",
	"a=ice-pwd:Kj3nB8vW2qLp9xYt6rZm4cFd",
	"a=ice-options:trickle",
	"a=fingerprint:sha-256 " FP_CHROME,
	"a=setup:active",
	"a=mid:a1",
	"a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
	"a=extmap:4 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
	"a=recvonly",
	"a=rtcp-mux",
	"a=rtpmap:111 opus/48000/2",
	"a=fmtp:111 minptime=10;useinbandfec=1",
	"m=video 0 UDP/TLS/RTP/SAVPF 96",
	"c=IN IP4 0.0.0.0",
	"a=rtcp:9 IN IP4 0.0.0.0",
	"a=mid:x2",
	"a=inactive",
	"a=rtpmap:96 VP8/90000",
	"m=video 9 UDP/TLS/RTP/SAVPF 96 97",
	"c=IN IP4 0.0.0.0",
	"a=rtcp:9 IN IP4 0.0.0.0",
	"a=ice-ufrag:Cl1E",
	"a=ice-pwd:Kj3nB8vW2qLp9xYt6rZm4cFd",
	"a=ice-options:trickle",
	"a=fingerprint:sha-256 " FP_CHROME,
	"a=setup:active",
	"a=mid:v0",
	"a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
	"a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
	"a=recvonly",
	"a=rtcp-mux",
	"a=rtcp-rsize",
	"a=rtpmap:96 VP8/90000",
	"a=rtcp-fb:96 goog-remb",
	"a=rtcp-fb:96 transport-cc",
	"a=rtcp-fb:96 ccm fir",
	"a=rtcp-fb:96 nack",
	"a=rtcp-fb:96 nack pli",
	"a=rtpmap:97 rtx/90000",
	"a=fmtp:97 apt=96",
	"m=video 9 UDP/TLS/RTP/SAVPF 102 103",
	"c=IN IP4 0.0.0.0",
	"a=rtcp:9 IN IP4 0.0.0.0",
	"a=ice-ufrag:Cl1E",
	"a=ice-pwd:Kj3nB8vW2qLp9xYt6rZm4cFd",
	"a=ice-options:trickle",
	"a=fingerprint:sha-256 " FP_CHROME,
	"a=setup:active",
	"a=mid:v1",
	"a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
	"a=recvonly",
	"a=rtcp-mux",
	"a=rtcp-rsize",
	"a=rtpmap:102 H264/90000",
	"a=rtcp-fb:102 nack",
	"a=rtcp-fb:102 nack pli",
	"a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
	"a=rtpmap:103 rtx/90000",
	"a=fmtp:103 apt=102",
	NULL,
};

/* Captured from GStreamer 1.22 webrtcbin on Debian 12 (bundle-policy max-bundle,
 * two sendonly transceivers): the video section is bundle-only with port 0, and
 * webrtcbin writes only "nack pli", no plain "nack". */
static const char *const WEBRTCBIN_OFFER[] = {
	"v=0",
	"o=- 8098113057522812799 0 IN IP4 0.0.0.0",
	"s=-",
	"t=0 0",
	"a=ice-options:trickle",
	"a=group:BUNDLE audio0 video1",
	"m=audio 9 UDP/TLS/RTP/SAVPF 111",
	"c=IN IP4 0.0.0.0",
	"a=setup:actpass",
	"a=ice-ufrag:N27oCqfCqSRVlE7hiGYmhzVtAQpTq4D1",
	"a=ice-pwd:SA8PQXCJrrUpAgSfjXD1ImSbfAW6pgKX",
	"a=rtcp-mux",
	"a=rtcp-rsize",
	"a=sendonly",
	"a=rtpmap:111 OPUS/48000/2",
	"a=rtcp-fb:111 transport-cc",
	"a=mid:audio0",
	"a=fingerprint:sha-256 BF:82:6A:98:FC:AA:09:E0:C3:8A:D2:D9:5E:CD:9F:64:E5:81:67:99:6A:99:32:8E:4A:4C:4C:A1:D6:B9:98:3B",
	"a=rtcp-mux-only",
	"m=video 0 UDP/TLS/RTP/SAVPF 96",
	"c=IN IP4 0.0.0.0",
	"a=setup:actpass",
	"a=ice-ufrag:N27oCqfCqSRVlE7hiGYmhzVtAQpTq4D1",
	"a=ice-pwd:SA8PQXCJrrUpAgSfjXD1ImSbfAW6pgKX",
	"a=bundle-only",
	"a=rtcp-mux",
	"a=rtcp-rsize",
	"a=sendonly",
	"a=rtpmap:96 VP8/90000",
	"a=rtcp-fb:96 nack pli",
	"a=rtcp-fb:96 ccm fir",
	"a=rtcp-fb:96 transport-cc",
	"a=mid:video1",
	"a=fingerprint:sha-256 BF:82:6A:98:FC:AA:09:E0:C3:8A:D2:D9:5E:CD:9F:64:E5:81:67:99:6A:99:32:8E:4A:4C:4C:A1:D6:B9:98:3B",
	"a=rtcp-mux-only",
	NULL,
};

/* Captured: webrtcbin 1.22's answer to tb_sdp_build_subscriber_offer() of
 * subscriber_tracks(). It answers the stopped section x2 as live and bundles
 * it, drops every header extension, and rewrites the H.264 fmtp. */
static const char *const WEBRTCBIN_SUBSCRIBER_ANSWER[] = {
	"v=0",
	"o=- 77 1 IN IP4 0.0.0.0",
	"s=-",
	"t=0 0",
	"a=group:BUNDLE a0 a1 x2 v0 v1",
	"m=audio 9 UDP/TLS/RTP/SAVPF 111",
	"c=IN IP4 0.0.0.0",
	"a=ice-ufrag:WyjGWQ79crEYUsk+/m95PnOzchmil/uE",
	"a=ice-pwd:xgfVVdiqcETMnOCWGxzElVZ823wAGF1r",
	"a=mid:a0",
	"a=rtcp-mux",
	"a=setup:active",
	"a=rtpmap:111 OPUS/48000/2",
	"a=rtcp-fb:111 transport-cc",
	"a=fmtp:111 minptime=10;useinbandfec=1",
	"a=recvonly",
	"a=fingerprint:sha-256 BF:82:6A:98:FC:AA:09:E0:C3:8A:D2:D9:5E:CD:9F:64:E5:81:67:99:6A:99:32:8E:4A:4C:4C:A1:D6:B9:98:3B",
	"m=audio 9 UDP/TLS/RTP/SAVPF 111",
	"c=IN IP4 0.0.0.0",
	"a=ice-ufrag:WyjGWQ79crEYUsk+/m95PnOzchmil/uE",
	"a=ice-pwd:xgfVVdiqcETMnOCWGxzElVZ823wAGF1r",
	"a=mid:a1",
	"a=rtcp-mux",
	"a=setup:active",
	"a=rtpmap:111 OPUS/48000/2",
	"a=rtcp-fb:111 transport-cc",
	"a=fmtp:111 minptime=10;useinbandfec=1",
	"a=recvonly",
	"a=fingerprint:sha-256 BF:82:6A:98:FC:AA:09:E0:C3:8A:D2:D9:5E:CD:9F:64:E5:81:67:99:6A:99:32:8E:4A:4C:4C:A1:D6:B9:98:3B",
	"m=video 9 UDP/TLS/RTP/SAVPF 96",
	"c=IN IP4 0.0.0.0",
	"a=ice-ufrag:WyjGWQ79crEYUsk+/m95PnOzchmil/uE",
	"a=ice-pwd:xgfVVdiqcETMnOCWGxzElVZ823wAGF1r",
	"a=mid:x2",
	"a=setup:active",
	"a=rtpmap:96 VP8/90000",
	"a=inactive",
	"a=fingerprint:sha-256 BF:82:6A:98:FC:AA:09:E0:C3:8A:D2:D9:5E:CD:9F:64:E5:81:67:99:6A:99:32:8E:4A:4C:4C:A1:D6:B9:98:3B",
	"m=video 9 UDP/TLS/RTP/SAVPF 96",
	"c=IN IP4 0.0.0.0",
	"a=ice-ufrag:WyjGWQ79crEYUsk+/m95PnOzchmil/uE",
	"a=ice-pwd:xgfVVdiqcETMnOCWGxzElVZ823wAGF1r",
	"a=mid:v0",
	"a=rtcp-mux",
	"a=setup:active",
	"a=rtpmap:96 VP8/90000",
	"a=rtcp-fb:96 nack pli",
	"a=rtcp-fb:96 ccm fir",
	"a=rtcp-fb:96 transport-cc",
	"a=recvonly",
	"a=fingerprint:sha-256 BF:82:6A:98:FC:AA:09:E0:C3:8A:D2:D9:5E:CD:9F:64:E5:81:67:99:6A:99:32:8E:4A:4C:4C:A1:D6:B9:98:3B",
	"m=video 9 UDP/TLS/RTP/SAVPF 102",
	"c=IN IP4 0.0.0.0",
	"a=ice-ufrag:WyjGWQ79crEYUsk+/m95PnOzchmil/uE",
	"a=ice-pwd:xgfVVdiqcETMnOCWGxzElVZ823wAGF1r",
	"a=mid:v1",
	"a=rtcp-mux",
	"a=setup:active",
	"a=rtpmap:102 H264/90000",
	"a=rtcp-fb:102 nack pli",
	"a=fmtp:102 packetization-mode=1;level-asymmetry-allowed=1",
	"a=recvonly",
	"a=fingerprint:sha-256 BF:82:6A:98:FC:AA:09:E0:C3:8A:D2:D9:5E:CD:9F:64:E5:81:67:99:6A:99:32:8E:4A:4C:4C:A1:D6:B9:98:3B",
	NULL,
};

static const char *const SERVER_CANDIDATES[] = {
	"candidate:1 1 udp 2130706431 203.0.113.7 40000 typ host",
	"a=candidate:2 1 tcp 1518280447 203.0.113.7 443 typ host tcptype passive\r\n",
};

static tb_sdp_local server_local(void)
{
	tb_sdp_local local = {
		.ice_ufrag = "srv1",
		.ice_pwd = "serverpassword0123456789",
		.fingerprint = FP_SERVER,
		.session_id = 4242424242424242ULL,
		.session_version = 7,
	};
	return local;
}

/* ---- helpers ---- */

static char *join(const char *const *lines)
{
	GString *s = g_string_new(NULL);

	for (size_t i = 0; lines[i] != NULL; i++)
		g_string_append_printf(s, "%s\r\n", lines[i]);
	return g_string_free(s, FALSE);
}

/* Returns TEXT with the first OLD replaced by NEW (which must be there). */
static char *replace(const char *text, const char *old, const char *new_text)
{
	const char *at = strstr(text, old);

	g_assert_nonnull(at);
	return g_strdup_printf("%.*s%s%s", (int)(at - text), text, new_text, at + strlen(old));
}

/* Returns TEXT with every OLD replaced by NEW. */
static char *replace_all(const char *text, const char *old, const char *new_text)
{
	char **parts = g_strsplit(text, old, -1);
	char *out = g_strjoinv(new_text, parts);

	g_strfreev(parts);
	return out;
}

static tb_sdp_desc *parse_ok(const char *text)
{
	tb_sdp_desc *desc = NULL;
	GError *error = NULL;
	int rc = tb_sdp_parse(text, &desc, &error);

	g_assert_no_error(error);
	g_assert_cmpint(rc, ==, 0);
	g_assert_nonnull(desc);
	return desc;
}

static tb_sdp_desc *parse_lines(const char *const *lines)
{
	char *text = join(lines);
	tb_sdp_desc *desc = parse_ok(text);

	g_free(text);
	return desc;
}

static void parse_fails(const char *text, const char *why)
{
	tb_sdp_desc *desc = NULL;
	GError *error = NULL;
	int rc = tb_sdp_parse(text, &desc, &error);

	if (rc == 0)
		g_error("parse accepted: %s", why);
	g_assert_cmpint(rc, ==, TB_EINVAL);
	g_assert_null(desc);
	g_assert_error(error, TB_SDP_ERROR, TB_EINVAL);
	g_test_message("%s -> %s", why, error->message);
	g_error_free(error);
}

/* Builds the publish answer to OFFER_TEXT, parses it back and checks what
 * every answer must hold: mids in order, one BUNDLE group of the accepted
 * mids, our credentials and fingerprint in every accepted section,
 * recvonly/inactive, rtcp-mux, and rejected sections at port 0. */
static tb_sdp_desc *answer_checked(const char *offer_text, const tb_sdp_local *local,
				   tb_sdp_publish_result *result, char **answer_text)
{
	tb_sdp_desc *offer = parse_ok(offer_text);
	GError *error = NULL;
	char *text = tb_sdp_build_publish_answer(offer, local, result, &error);
	tb_sdp_desc *answer;
	size_t accepted = 0;

	g_assert_no_error(error);
	g_assert_nonnull(text);
	g_assert_null(strstr(text, "bundle-only"));
	answer = parse_ok(text);
	g_assert_cmpuint(answer->n_sections, ==, offer->n_sections);
	g_assert_cmpuint(result->n_sections, ==, offer->n_sections);
	for (size_t i = 0; i < answer->n_sections; i++) {
		const tb_sdp_section *s = &answer->sections[i];

		g_assert_cmpstr(s->mid, ==, offer->sections[i].mid);
		g_assert_cmpstr(result->sections[i].mid, ==, s->mid);
		g_assert_cmpstr(s->media, ==, offer->sections[i].media);
		g_assert_cmpstr(s->protocol, ==, offer->sections[i].protocol);
		if (!result->sections[i].accepted) {
			g_assert_cmpuint(s->port, ==, 0);
			g_assert_true(s->rejected);
			g_assert_cmpint(s->bundle, ==, -1);
			g_assert_nonnull(result->sections[i].reject_reason);
			/* webrtcbin 1.22 wants these even in rejected sections */
			g_assert_cmpstr(s->ice_ufrag, ==, local->ice_ufrag);
			g_assert_cmpstr(s->fingerprint, ==, local->fingerprint);
			g_assert_cmpint(s->setup, ==, result->local_setup);
			continue;
		}
		accepted++;
		g_assert_cmpuint(s->port, ==, 9);
		g_assert_false(s->rejected);
		g_assert_cmpstr(s->ice_ufrag, ==, local->ice_ufrag);
		g_assert_cmpstr(s->ice_pwd, ==, local->ice_pwd);
		g_assert_cmpstr(s->fingerprint_alg, ==, "sha-256");
		g_assert_cmpstr(s->fingerprint, ==, local->fingerprint);
		g_assert_cmpint(s->setup, ==, result->local_setup);
		g_assert_true(s->rtcp_mux);
		g_assert_true(s->direction == TB_SDP_RECVONLY || s->direction == TB_SDP_INACTIVE);
		g_assert_cmpint(s->direction == TB_SDP_RECVONLY, ==, result->sections[i].receiving);
		if (offer->n_bundles > 0)
			g_assert_cmpint(s->bundle, ==, 0);
	}
	g_assert_cmpuint(accepted, ==, result->n_accepted);
	if (offer->n_bundles > 0 && accepted > 0) {
		g_assert_cmpuint(answer->n_bundles, ==, 1);
		g_assert_cmpuint(answer->bundles[0].n_mids, ==, accepted);
		g_assert_cmpstr(answer->bundles[0].mids[0], ==, result->bundle_tag);
	}
	if (answer_text != NULL)
		*answer_text = text;
	else
		g_free(text);
	tb_sdp_desc_free(offer);
	return answer;
}

/* ---- parsing real offers ---- */

static void test_parse_chrome(void)
{
	tb_sdp_desc *d = parse_lines(CHROME_OFFER);
	const tb_sdp_section *a, *v;
	const tb_sdp_codec *c;

	g_assert_cmpstr(d->session_id, ==, "7692913497315215823");
	g_assert_cmpstr(d->session_version, ==, "2");
	g_assert_cmpstr(d->ice_ufrag, ==, "Fv3v");
	g_assert_cmpstr(d->ice_pwd, ==, "9dG2lC0bLO5ix8Vrs2Wh3V5m");
	g_assert_cmpstr(d->fingerprint_alg, ==, "sha-256");
	g_assert_cmpstr(d->fingerprint, ==, FP_CHROME);
	g_assert_cmpint(d->setup, ==, TB_SDP_SETUP_ACTPASS);
	g_assert_true(d->ice_trickle);
	g_assert_true(d->extmap_allow_mixed);
	g_assert_cmpuint(d->n_bundles, ==, 1);
	g_assert_cmpuint(d->bundles[0].n_mids, ==, 2);
	g_assert_cmpuint(d->n_sections, ==, 2);

	a = tb_sdp_desc_find_section(d, "0");
	g_assert_nonnull(a);
	g_assert_cmpint(a->kind, ==, TB_SDP_KIND_AUDIO);
	g_assert_cmpint(a->direction, ==, TB_SDP_SENDONLY);
	g_assert_true(a->rtcp_mux);
	g_assert_false(a->rtcp_rsize);
	g_assert_cmpuint(a->n_codecs, ==, 8);
	c = tb_sdp_section_find_codec(a, 111);
	g_assert_cmpstr(c->name, ==, "opus");
	g_assert_cmpuint(c->clock_rate, ==, 48000);
	g_assert_cmpuint(c->channels, ==, 2);
	g_assert_cmpstr(c->fmtp, ==, "minptime=10;useinbandfec=1");
	g_assert_cmpuint(c->n_rtcp_fb, ==, 1);
	g_assert_cmpstr(c->rtcp_fb[0], ==, "transport-cc");
	c = tb_sdp_section_find_codec(a, 0);
	g_assert_cmpstr(c->name, ==, "PCMU");
	g_assert_cmpuint(c->channels, ==, 1);
	g_assert_cmpuint(tb_sdp_section_extmap_id(a, TB_SDP_EXT_URI_AUDIO_LEVEL), ==, 1);
	g_assert_cmpuint(tb_sdp_section_extmap_id(a, TB_SDP_EXT_URI_MID), ==, 4);
	g_assert_cmpuint(a->n_ssrcs, ==, 1);
	g_assert_cmpuint(a->ssrcs[0].ssrc, ==, 3735928559u);
	g_assert_cmpstr(a->ssrcs[0].cname, ==, "kZ7pQ2xW9yR4tL1m");
	g_assert_cmpstr(a->msid, ==, STREAM " " AUDIO_TRACK);

	v = &d->sections[1];
	g_assert_cmpstr(v->mid, ==, "1");
	g_assert_cmpint(v->kind, ==, TB_SDP_KIND_VIDEO);
	g_assert_true(v->rtcp_rsize);
	g_assert_cmpuint(v->n_codecs, ==, 25);
	g_assert_cmpuint(v->codecs[0].pt, ==, 96);
	g_assert_cmpuint(v->codecs[0].n_rtcp_fb, ==, 5);
	g_assert_cmpstr(v->codecs[0].rtcp_fb[4], ==, "nack pli");
	g_assert_cmpint(tb_sdp_section_find_codec(v, 97)->rtx_apt, ==, 96);
	g_assert_cmpint(tb_sdp_section_find_codec(v, 40)->rtx_apt, ==, 39);
	g_assert_cmpint(tb_sdp_section_find_codec(v, 96)->rtx_apt, ==, -1);
	g_assert_cmpstr(tb_sdp_section_find_codec(v, 45)->name, ==, "AV1");
	g_assert_cmpstr(tb_sdp_section_find_codec(v, 118)->name, ==, "ulpfec");
	g_assert_cmpuint(v->n_extmaps, ==, 11);
	g_assert_cmpuint(v->n_ssrc_groups, ==, 1);
	g_assert_cmpstr(v->ssrc_groups[0].semantics, ==, "FID");
	g_assert_cmpuint(v->ssrc_groups[0].n_ssrcs, ==, 2);
	g_assert_cmpuint(v->ssrc_groups[0].ssrcs[1], ==, 2222222222u);
	g_assert_cmpstr(v->ice_ufrag, ==, d->ice_ufrag);
	tb_sdp_desc_free(d);
}

static void test_parse_firefox(void)
{
	tb_sdp_desc *d = parse_lines(FIREFOX_OFFER);

	g_assert_cmpstr(d->ice_ufrag, ==, "8f2c4a1b");
	g_assert_cmpstr(d->ice_options, ==, "trickle");
	g_assert_true(d->ice_trickle);
	g_assert_cmpstr(d->fingerprint, ==, FP_FIREFOX);
	for (size_t i = 0; i < d->n_sections; i++) {
		const tb_sdp_section *s = &d->sections[i];

		/* session-level fingerprint, media-level direction wins */
		g_assert_cmpstr(s->fingerprint, ==, FP_FIREFOX);
		g_assert_cmpint(s->direction, ==, TB_SDP_SENDONLY);
		g_assert_true(s->end_of_candidates);
		g_assert_cmpuint(s->n_candidates, ==, 1);
		g_assert_cmpstr(s->candidates[0], ==,
				"candidate:0 1 UDP 2122252543 192.0.2.10 54321 typ host");
		g_assert_cmpuint(s->port, ==, 54321);
	}
	g_assert_cmpint(d->sections[0].extmaps[1].direction, ==, TB_SDP_RECVONLY);
	g_assert_cmpuint(tb_sdp_section_extmap_id(&d->sections[1], TB_SDP_EXT_URI_TWCC), ==, 7);
	g_assert_cmpstr(tb_sdp_section_find_codec(&d->sections[0], 9)->name, ==, "G722");
	g_assert_cmpuint(tb_sdp_section_find_codec(&d->sections[0], 9)->channels, ==, 1);
	g_assert_cmpint(tb_sdp_section_find_codec(&d->sections[1], 119)->rtx_apt, ==, 122);
	tb_sdp_desc_free(d);

	/* a session-level extmap applies to every section (RFC 8285 §5) */
	{
		char *text = join(FIREFOX_OFFER);
		char *m = replace(text, "a=ice-options:trickle\r\n",
				  "a=ice-options:trickle\r\na=extmap:9 urn:ietf:params:rtp-hdrext:toffset\r\n");

		d = parse_ok(m);
		g_assert_cmpuint(tb_sdp_section_extmap_id(&d->sections[0], "urn:ietf:params:rtp-hdrext:toffset"), ==, 9);
		g_assert_cmpuint(tb_sdp_section_extmap_id(&d->sections[1], "urn:ietf:params:rtp-hdrext:toffset"), ==, 5);
		tb_sdp_desc_free(d);
		g_free(m);
		g_free(text);
	}
}

/* ---- publish answers ---- */

static void test_answer_chrome(void)
{
	tb_sdp_local local = server_local();
	tb_sdp_publish_result r;
	char *offer = join(CHROME_OFFER), *text = NULL;
	tb_sdp_desc *ans = answer_checked(offer, &local, &r, &text);
	const tb_sdp_section *a = &ans->sections[0], *v = &ans->sections[1];
	const tb_sdp_publish_section *ra = &r.sections[0], *rv = &r.sections[1];

	g_assert_nonnull(strstr(text, "o=- 4242424242424242 7 IN IP4 0.0.0.0\r\n"));
	g_assert_nonnull(strstr(text, "a=group:BUNDLE 0 1\r\n"));
	g_assert_null(strstr(text, "extmap-allow-mixed"));
	g_assert_cmpuint(r.n_accepted, ==, 2);
	g_assert_cmpstr(r.bundle_tag, ==, "0");
	g_assert_cmpint(r.local_setup, ==, TB_SDP_SETUP_PASSIVE);
	g_assert_cmpint(ans->setup, ==, TB_SDP_SETUP_PASSIVE);
	g_assert_true(ans->ice_trickle);

	/* audio: Opus only, the client's fmtp, no transport-cc (the server
	 * sends REMB, not transport-wide feedback), offered ids */
	g_assert_cmpuint(a->n_codecs, ==, 1);
	g_assert_cmpuint(a->codecs[0].pt, ==, 111);
	g_assert_cmpstr(a->codecs[0].name, ==, "opus");
	g_assert_cmpuint(a->codecs[0].channels, ==, 2);
	g_assert_cmpstr(a->codecs[0].fmtp, ==, "minptime=10;useinbandfec=1");
	g_assert_cmpuint(a->codecs[0].n_rtcp_fb, ==, 0);
	g_assert_cmpuint(a->n_extmaps, ==, 3);
	g_assert_cmpuint(tb_sdp_section_extmap_id(a, TB_SDP_EXT_URI_AUDIO_LEVEL), ==, 1);
	g_assert_cmpuint(tb_sdp_section_extmap_id(a, TB_SDP_EXT_URI_ABS_SEND_TIME), ==, 2);
	g_assert_cmpuint(tb_sdp_section_extmap_id(a, TB_SDP_EXT_URI_TWCC), ==, 0);
	g_assert_cmpuint(tb_sdp_section_extmap_id(a, TB_SDP_EXT_URI_MID), ==, 4);
	g_assert_false(a->rtcp_rsize);
	g_assert_cmpuint(a->n_candidates, ==, 0);

	/* video: VP8 (first in the client's order) and its rtx */
	g_assert_cmpuint(v->n_codecs, ==, 2);
	g_assert_cmpstr(v->codecs[0].name, ==, "VP8");
	g_assert_cmpuint(v->codecs[0].pt, ==, 96);
	g_assert_cmpuint(v->codecs[0].n_rtcp_fb, ==, 4);
	g_assert_cmpstr(v->codecs[1].name, ==, "rtx");
	g_assert_cmpint(v->codecs[1].rtx_apt, ==, 96);
	g_assert_cmpuint(v->codecs[1].pt, ==, 97);
	g_assert_true(v->rtcp_rsize);
	g_assert_cmpuint(v->n_extmaps, ==, 2); /* no toffset, twcc, or rid without simulcast */
	g_assert_cmpuint(tb_sdp_section_extmap_id(v, TB_SDP_EXT_URI_MID), ==, 4);
	g_assert_cmpuint(tb_sdp_section_extmap_id(v, TB_SDP_EXT_URI_RID), ==, 0);
	g_assert_cmpuint(v->n_simulcast_recv, ==, 0);

	/* the result */
	g_assert_true(ra->accepted);
	g_assert_true(ra->receiving);
	g_assert_cmpint(ra->kind, ==, TB_SDP_KIND_AUDIO);
	g_assert_cmpint(ra->direction, ==, TB_SDP_SENDONLY);
	g_assert_cmpuint(ra->codec.pt, ==, 111);
	g_assert_cmpstr(ra->codec.name, ==, "opus");
	g_assert_cmpuint(ra->codec.clock_rate, ==, 48000);
	g_assert_cmpuint(ra->codec.channels, ==, 2);
	g_assert_cmpstr(ra->codec.fmtp, ==, "minptime=10;useinbandfec=1");
	g_assert_cmpuint(ra->codec.rtcp_fb, ==, 0);
	g_assert_cmpint(ra->codec.rtx_pt, ==, -1);
	g_assert_cmpuint(ra->ext.audio_level, ==, 1);
	g_assert_cmpuint(ra->ext.mid, ==, 4);
	g_assert_cmpuint(ra->n_streams, ==, 1);
	g_assert_cmpuint(ra->streams[0].ssrc, ==, 3735928559u);
	g_assert_cmpuint(ra->streams[0].rtx_ssrc, ==, 0);
	g_assert_cmpstr(ra->cname, ==, "kZ7pQ2xW9yR4tL1m");
	g_assert_cmpstr(ra->msid_stream, ==, STREAM);
	g_assert_cmpstr(ra->msid_track, ==, AUDIO_TRACK);
	g_assert_cmpuint(rv->codec.pt, ==, 96);
	g_assert_cmpstr(rv->codec.name, ==, "VP8");
	g_assert_cmpint(rv->codec.rtx_pt, ==, 97);
	g_assert_cmpuint(rv->codec.channels, ==, 0);
	g_assert_cmpuint(rv->codec.rtcp_fb, ==,
			 TB_SDP_FB_NACK | TB_SDP_FB_PLI | TB_SDP_FB_FIR | TB_SDP_FB_REMB);
	g_assert_cmpuint(rv->ext.audio_level, ==, 0);
	g_assert_cmpuint(rv->ext.abs_send_time, ==, 2);
	g_assert_cmpuint(rv->ext.twcc, ==, 0);
	g_assert_cmpuint(rv->n_streams, ==, 1);
	g_assert_cmpuint(rv->streams[0].ssrc, ==, 1111111111u);
	g_assert_cmpuint(rv->streams[0].rtx_ssrc, ==, 2222222222u);
	g_assert_cmpstr(rv->msid_track, ==, VIDEO_TRACK);
	g_assert_cmpuint(rv->n_rids, ==, 0);

	tb_sdp_publish_result_clear(&r);
	g_assert_null(r.sections);
	tb_sdp_desc_free(ans);
	g_free(text);
	g_free(offer);
}

/* The first codec the server supports in the client's order wins. */
static void check_video_choice(const char *mline, int pt, const char *name, int rtx_pt)
{
	tb_sdp_local local = server_local();
	tb_sdp_publish_result r;
	char *offer = join(CHROME_OFFER);
	char *modified = replace(
		offer,
		"m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 "
		"40 45 46 98 99 100 101 112 113 116 117 118",
		mline);
	tb_sdp_desc *ans = answer_checked(modified, &local, &r, NULL);

	g_assert_true(r.sections[1].accepted);
	g_assert_cmpuint(r.sections[1].codec.pt, ==, pt);
	g_assert_cmpstr(r.sections[1].codec.name, ==, name);
	g_assert_cmpint(r.sections[1].codec.rtx_pt, ==, rtx_pt);
	g_assert_cmpuint(ans->sections[1].codecs[0].pt, ==, pt);
	g_assert_cmpuint(ans->sections[1].n_codecs, ==, rtx_pt >= 0 ? 2 : 1);
	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);
	g_free(modified);
	g_free(offer);
}

static void test_answer_codec_order(void)
{
	/* AV1, H.264 high and H.264 packetization-mode 0 are skipped */
	check_video_choice("m=video 9 UDP/TLS/RTP/SAVPF 45 46 112 113 104 105 102 103 96 97", 102,
			   "H264", 103);
	/* VP9 profile 2 is skipped, profile 0 taken */
	check_video_choice("m=video 9 UDP/TLS/RTP/SAVPF 100 101 98 99 96 97", 98, "VP9", 99);
	/* main profile, constrained baseline */
	check_video_choice("m=video 9 UDP/TLS/RTP/SAVPF 127 125 96", 127, "H264", 125);
	check_video_choice("m=video 9 UDP/TLS/RTP/SAVPF 106 96", 106, "H264", -1);
	/* VP8 without its rtx on the m= line: no rtx */
	check_video_choice("m=video 9 UDP/TLS/RTP/SAVPF 96 116 118", 96, "VP8", -1);
}

static void test_answer_firefox(void)
{
	tb_sdp_local local = server_local();
	tb_sdp_publish_result r;
	char *offer = join(FIREFOX_OFFER), *text = NULL;
	tb_sdp_desc *ans;
	const tb_sdp_section *a, *v;

	local.candidates = SERVER_CANDIDATES;
	local.n_candidates = G_N_ELEMENTS(SERVER_CANDIDATES);
	local.end_of_candidates = true;
	ans = answer_checked(offer, &local, &r, &text);
	a = &ans->sections[0];
	v = &ans->sections[1];

	/* different extension ids than Chromium: kept as offered */
	g_assert_cmpuint(a->n_extmaps, ==, 2); /* csrc-audio-level was recvonly */
	g_assert_cmpuint(tb_sdp_section_extmap_id(a, TB_SDP_EXT_URI_AUDIO_LEVEL), ==, 1);
	g_assert_cmpuint(tb_sdp_section_extmap_id(a, TB_SDP_EXT_URI_MID), ==, 3);
	g_assert_cmpuint(v->n_extmaps, ==, 2);
	g_assert_cmpuint(tb_sdp_section_extmap_id(v, TB_SDP_EXT_URI_MID), ==, 3);
	g_assert_cmpuint(tb_sdp_section_extmap_id(v, TB_SDP_EXT_URI_ABS_SEND_TIME), ==, 4);
	g_assert_cmpuint(tb_sdp_section_extmap_id(v, TB_SDP_EXT_URI_TWCC), ==, 0);
	g_assert_cmpuint(r.sections[1].ext.twcc, ==, 0);

	g_assert_cmpuint(a->codecs[0].pt, ==, 109);
	g_assert_cmpstr(a->codecs[0].fmtp, ==, "maxplaybackrate=48000;stereo=1;useinbandfec=1");
	g_assert_cmpuint(r.sections[1].codec.pt, ==, 120);
	g_assert_cmpint(r.sections[1].codec.rtx_pt, ==, 124);
	g_assert_cmpstr(v->codecs[0].fmtp, ==, "max-fs=12288;max-fr=60");
	g_assert_cmpuint(r.sections[1].streams[0].ssrc, ==, 3014268562u);
	g_assert_cmpuint(r.sections[1].streams[0].rtx_ssrc, ==, 1877461399u);
	g_assert_cmpstr(r.sections[0].msid_stream, ==, "{5f1bd0a2-7e4c-4b8e-a1f3-0c9d2e8b7a61}");

	/* our candidates, normalised, in the tagged section only */
	g_assert_cmpuint(a->n_candidates, ==, 2);
	g_assert_cmpstr(a->candidates[0], ==,
			"candidate:1 1 udp 2130706431 203.0.113.7 40000 typ host");
	g_assert_cmpstr(a->candidates[1], ==,
			"candidate:2 1 tcp 1518280447 203.0.113.7 443 typ host tcptype passive");
	g_assert_true(a->end_of_candidates);
	g_assert_cmpuint(v->n_candidates, ==, 0);
	g_assert_false(v->end_of_candidates);
	g_assert_nonnull(strstr(text, "a=ice-options:trickle\r\n"));

	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);
	g_free(text);
	g_free(offer);
}

static void test_answer_gstreamer(void)
{
	tb_sdp_local local = server_local();
	tb_sdp_publish_result r;
	char *offer = join(GST_OFFER), *text = NULL;
	tb_sdp_desc *ans = answer_checked(offer, &local, &r, &text);

	g_assert_cmpstr(ans->sections[0].mid, ==, "video0");
	g_assert_cmpstr(ans->sections[1].mid, ==, "audio1");
	g_assert_cmpstr(r.bundle_tag, ==, "video0");
	g_assert_nonnull(strstr(text, "a=group:BUNDLE video0 audio1\r\n"));
	g_assert_nonnull(strstr(text, "a=setup:passive\r\n"));
	g_assert_null(strstr(text, "a=extmap"));
	for (size_t i = 0; i < 2; i++) {
		g_assert_cmpint(ans->sections[i].direction, ==, TB_SDP_RECVONLY);
		g_assert_true(r.sections[i].receiving);
		g_assert_cmpint(r.sections[i].direction, ==, TB_SDP_SENDRECV);
		g_assert_cmpuint(r.sections[i].codec.rtcp_fb, ==, TB_SDP_FB_NACK | TB_SDP_FB_PLI);
		g_assert_cmpuint(ans->sections[i].n_extmaps, ==, 0);
	}
	g_assert_cmpstr(r.sections[1].codec.name, ==, "OPUS");
	g_assert_cmpuint(r.sections[1].codec.pt, ==, 97);
	g_assert_cmpstr(ans->sections[1].codecs[0].fmtp, ==,
			"sprop-maxcapturerate=48000;sprop-stereo=0");
	g_assert_cmpstr(r.sections[0].msid_stream, ==, "user1234@host-5f3d");
	g_assert_cmpstr(r.sections[0].msid_track, ==, "webrtctransceiver0");
	g_assert_cmpuint(r.sections[0].streams[0].ssrc, ==, 2718546451u);
	g_assert_true(ans->ice_trickle);
	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);
	g_free(text);
	g_free(offer);
}

static void test_answer_simulcast(void)
{
	tb_sdp_local local = server_local();
	tb_sdp_publish_result r;
	char *offer = join(SIMULCAST_OFFER), *text = NULL, *four;
	tb_sdp_desc *ans = answer_checked(offer, &local, &r, &text);
	const tb_sdp_section *v = &ans->sections[0];

	g_assert_nonnull(strstr(text, "a=simulcast:recv q;h;f\r\n"));
	g_assert_cmpuint(v->n_rids, ==, 3);
	for (size_t i = 0; i < 3; i++)
		g_assert_cmpint(v->rids[i].direction, ==, TB_SDP_RID_RECV);
	g_assert_cmpstr(v->rids[0].id, ==, "q");
	g_assert_cmpuint(v->n_simulcast_recv, ==, 3);
	g_assert_cmpstr(v->simulcast_recv[2], ==, "f");
	g_assert_cmpuint(tb_sdp_section_extmap_id(v, TB_SDP_EXT_URI_RID), ==, 10);
	g_assert_cmpuint(tb_sdp_section_extmap_id(v, TB_SDP_EXT_URI_REPAIRED_RID), ==, 11);
	g_assert_cmpuint(r.sections[0].n_rids, ==, 3);
	g_assert_cmpstr(r.sections[0].rids[1], ==, "h");
	g_assert_cmpuint(r.sections[0].ext.rid, ==, 10);
	g_assert_cmpuint(r.sections[0].ext.repaired_rid, ==, 11);
	g_assert_cmpuint(r.sections[0].n_streams, ==, 0);
	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);
	g_free(text);

	/* a fourth layer, and one restricted to VP9: at most 3, VP8 ones */
	four = replace(offer, "a=simulcast:send q;h;f",
		       "a=rid:x send pt=98\r\na=rid:y send\r\na=simulcast:send x;q;~h,f;y");
	ans = answer_checked(four, &local, &r, &text);
	g_assert_nonnull(strstr(text, "a=simulcast:recv q;h;y\r\n"));
	g_assert_cmpuint(r.sections[0].n_rids, ==, 3);
	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);
	g_free(text);
	g_free(four);

	/* without the rtp-stream-id extension there is no simulcast */
	four = replace(offer, "a=extmap:10 urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id\r\n", "");
	ans = answer_checked(four, &local, &r, &text);
	g_assert_null(strstr(text, "simulcast"));
	g_assert_cmpuint(r.sections[0].n_rids, ==, 0);
	g_assert_cmpuint(r.sections[0].ext.repaired_rid, ==, 0);
	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);
	g_free(text);
	g_free(four);
	g_free(offer);
}

/* A data channel created first: its section is the offerer-tagged one and
 * is rejected, so the tag moves to the next accepted mid (RFC 8843 §7.3.1). */
static void test_answer_rejected_first(void)
{
	tb_sdp_local local = server_local();
	tb_sdp_publish_result r;
	char *offer = join(CHROME_OFFER), *text = NULL;
	char *with_dc = replace(offer, "a=group:BUNDLE 0 1", "a=group:BUNDLE 2 0 1");
	char *dc;
	tb_sdp_desc *ans;

	dc = replace(with_dc, "m=audio 9",
		     "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
		     "c=IN IP4 0.0.0.0\r\n"
		     "a=ice-ufrag:Fv3v\r\n"
		     "a=ice-pwd:9dG2lC0bLO5ix8Vrs2Wh3V5m\r\n"
		     "a=ice-options:trickle\r\n"
		     "a=fingerprint:sha-256 " FP_CHROME "\r\n"
		     "a=setup:actpass\r\n"
		     "a=mid:2\r\n"
		     "a=sctp-port:5000\r\n"
		     "a=max-message-size:262144\r\n"
		     "m=audio 9");
	local.candidates = SERVER_CANDIDATES;
	local.n_candidates = 1;
	ans = answer_checked(dc, &local, &r, &text);
	g_assert_cmpuint(ans->n_sections, ==, 3);
	g_assert_nonnull(strstr(text, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
	g_assert_nonnull(strstr(text, "a=group:BUNDLE 0 1\r\n"));
	g_assert_false(r.sections[0].accepted);
	g_assert_cmpstr(r.sections[0].reject_reason, ==, "unsupported media");
	g_assert_cmpint(r.sections[0].kind, ==, TB_SDP_KIND_APPLICATION);
	g_assert_cmpstr(r.bundle_tag, ==, "0");
	g_assert_cmpuint(ans->sections[1].n_candidates, ==, 1);
	g_assert_cmpuint(ans->sections[2].n_candidates, ==, 0);
	g_assert_cmpstr(ans->sections[0].mid, ==, "2");
	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);
	g_free(text);
	g_free(dc);
	g_free(with_dc);
	g_free(offer);
}

/* max-bundle: the video section is bundle-only with port 0 and no transport
 * attributes. It is bundled, not rejected, and answered with port 9. */
static void test_answer_bundle_only(void)
{
	static const char *const lines[] = {
		"v=0",
		"o=- 1 2 IN IP4 127.0.0.1",
		"s=-",
		"t=0 0",
		"a=group:BUNDLE a v",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111",
		"c=IN IP4 0.0.0.0",
		"a=ice-ufrag:Fv3v",
		"a=ice-pwd:9dG2lC0bLO5ix8Vrs2Wh3V5m",
		"a=fingerprint:sha-256 " FP_CHROME,
		"a=setup:actpass",
		"a=mid:a",
		"a=sendonly",
		"a=rtcp-mux",
		"a=rtpmap:111 opus/48000/2",
		"m=video 0 UDP/TLS/RTP/SAVPF 96",
		"c=IN IP4 0.0.0.0",
		"a=bundle-only",
		"a=mid:v",
		"a=sendonly",
		"a=rtcp-mux",
		"a=rtpmap:96 VP8/90000",
		NULL,
	};
	tb_sdp_local local = server_local();
	tb_sdp_publish_result r;
	char *offer = join(lines), *text = NULL;
	tb_sdp_desc *d = parse_ok(offer), *ans;

	g_assert_true(d->sections[1].bundle_only);
	g_assert_false(d->sections[1].rejected);
	g_assert_cmpstr(d->sections[1].ice_ufrag, ==, "Fv3v");
	g_assert_cmpstr(d->sections[1].fingerprint, ==, FP_CHROME);
	g_assert_false(d->ice_trickle);
	tb_sdp_desc_free(d);

	ans = answer_checked(offer, &local, &r, &text);
	g_assert_true(r.sections[1].accepted);
	g_assert_cmpuint(ans->sections[1].port, ==, 9);
	g_assert_false(ans->sections[1].bundle_only);
	g_assert_nonnull(strstr(text, "a=group:BUNDLE a v\r\n"));
	g_assert_null(strstr(text, "ice-options")); /* not offered */
	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);
	g_free(text);
	g_free(offer);
}

/* A real webrtcbin max-bundle offer: bundle-only video, rtcp-mux-only. */
static void test_answer_webrtcbin_max_bundle(void)
{
	tb_sdp_local local = server_local();
	tb_sdp_publish_result r;
	char *offer = join(WEBRTCBIN_OFFER), *text = NULL;
	tb_sdp_desc *ans = answer_checked(offer, &local, &r, &text);

	g_assert_cmpuint(r.n_accepted, ==, 2);
	g_assert_nonnull(strstr(text, "a=group:BUNDLE audio0 video1\r\n"));
	g_assert_cmpuint(ans->sections[1].port, ==, 9);
	g_assert_cmpstr(r.sections[1].codec.name, ==, "VP8");
	g_assert_cmpuint(r.sections[1].codec.rtcp_fb, ==, TB_SDP_FB_PLI | TB_SDP_FB_FIR);
	g_assert_cmpstr(r.sections[0].codec.name, ==, "OPUS");
	g_assert_cmpuint(r.sections[0].codec.channels, ==, 2);
	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);
	g_free(text);
	g_free(offer);
}

static void expect_rejection(const char *offer, size_t index, const char *reason)
{
	tb_sdp_local local = server_local();
	tb_sdp_publish_result r;
	tb_sdp_desc *ans = answer_checked(offer, &local, &r, NULL);

	g_assert_false(r.sections[index].accepted);
	g_assert_cmpstr(r.sections[index].reject_reason, ==, reason);
	g_assert_cmpuint(ans->sections[index].port, ==, 0);
	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);
}

static void test_answer_rejections(void)
{
	char *offer = join(CHROME_OFFER), *m;

	m = replace(offer,
		    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125 39 "
		    "40 45 46 98 "
		    "99 100 101 112 113 116 117 118",
		    "m=video 9 UDP/TLS/RTP/SAVPF 45 46 112 113 104 100 116 118");
	expect_rejection(m, 1, "no common codec");
	g_free(m);
	m = replace(offer, "a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus/48000");
	expect_rejection(m, 0, "no common codec"); /* mono Opus is not WebRTC Opus */
	g_free(m);
	m = replace(offer, "a=rtcp-mux\r\na=rtcp-rsize", "a=rtcp-rsize");
	expect_rejection(m, 1, "no rtcp-mux");
	g_free(m);
	m = replace(offer, "m=audio 9 UDP/TLS/RTP/SAVPF", "m=audio 9 RTP/SAVPF");
	expect_rejection(m, 0, "not DTLS-SRTP");
	g_free(m);
	m = replace(offer, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0");
	expect_rejection(m, 1, "outside the first BUNDLE group");
	g_free(m);
	m = replace(offer, "m=audio 9 UDP", "m=audio 0 UDP");
	expect_rejection(m, 0, "rejected in the offer");
	g_free(m);
	g_free(offer);
}

static void test_answer_roles_and_directions(void)
{
	tb_sdp_local local = server_local();
	tb_sdp_publish_result r;
	char *offer = join(GST_OFFER), *m, *m2;
	tb_sdp_desc *ans;

	local.answer_setup = TB_SDP_SETUP_ACTIVE;
	ans = answer_checked(offer, &local, &r, NULL);
	g_assert_cmpint(r.local_setup, ==, TB_SDP_SETUP_ACTIVE);
	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);

	m = replace_all(offer, "a=setup:actpass", "a=setup:passive");
	ans = answer_checked(m, &local, &r, NULL);
	g_assert_cmpint(r.local_setup, ==, TB_SDP_SETUP_ACTIVE);
	g_assert_cmpint(ans->setup, ==, TB_SDP_SETUP_ACTIVE);
	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);
	g_free(m);

	m = replace_all(offer, "a=setup:actpass", "a=setup:active");
	ans = answer_checked(m, &local, &r, NULL);
	g_assert_cmpint(r.local_setup, ==, TB_SDP_SETUP_PASSIVE);
	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);
	g_free(m);

	/* recvonly / inactive offers: accepted, answered inactive */
	m = replace(offer, "a=sendrecv", "a=recvonly");
	m2 = replace(m, "a=sendrecv", "a=inactive");
	ans = answer_checked(m2, &local, &r, NULL);
	for (size_t i = 0; i < 2; i++) {
		g_assert_true(r.sections[i].accepted);
		g_assert_false(r.sections[i].receiving);
		g_assert_cmpint(ans->sections[i].direction, ==, TB_SDP_INACTIVE);
	}
	g_assert_cmpint(r.sections[0].direction, ==, TB_SDP_RECVONLY);
	tb_sdp_publish_result_clear(&r);
	tb_sdp_desc_free(ans);
	g_free(m);
	g_free(m2);
	g_free(offer);
}

static void test_answer_bad_local(void)
{
	tb_sdp_desc *d = parse_lines(GST_OFFER);
	tb_sdp_local local = server_local();
	tb_sdp_publish_result r;
	GError *error = NULL;
	static const char *const bad_candidates[] = {"candidate:1 1 udp 1 1.2.3.4 5\r\na=evil"};

	local.ice_pwd = "short";
	g_assert_null(tb_sdp_build_publish_answer(d, &local, &r, &error));
	g_assert_error(error, TB_SDP_ERROR, TB_EINVAL);
	g_assert_null(r.sections);
	g_clear_error(&error);
	local = server_local();
	local.fingerprint = "AA:BB";
	g_assert_null(tb_sdp_build_publish_answer(d, &local, NULL, &error));
	g_clear_error(&error);
	local = server_local();
	local.candidates = bad_candidates;
	local.n_candidates = 1;
	g_assert_null(tb_sdp_build_publish_answer(d, &local, NULL, &error));
	g_clear_error(&error);
	local = server_local();
	local.answer_setup = TB_SDP_SETUP_ACTPASS;
	g_assert_null(tb_sdp_build_publish_answer(d, &local, NULL, &error));
	g_clear_error(&error);
	tb_sdp_desc_free(d);
}

/* ---- subscriber offer ---- */

static void subscriber_tracks(tb_sdp_subscriber_track t[5])
{
	static const tb_sdp_codec_params opus = {
		.pt = 111,
		.name = (char *)"opus",
		.clock_rate = 48000,
		.channels = 2,
		.fmtp = (char *)"minptime=10;useinbandfec=1",
		.rtcp_fb = TB_SDP_FB_TWCC,
		.rtx_pt = -1,
	};
	static const tb_sdp_codec_params vp8 = {
		.pt = 96,
		.name = (char *)"VP8",
		.clock_rate = 90000,
		.rtcp_fb = TB_SDP_FB_NACK | TB_SDP_FB_PLI | TB_SDP_FB_FIR | TB_SDP_FB_REMB |
			   TB_SDP_FB_TWCC,
		.rtx_pt = 97,
	};
	static const tb_sdp_codec_params h264 = {
		.pt = 102,
		.name = (char *)"H264",
		.clock_rate = 90000,
		.fmtp = (char *)"level-asymmetry-allowed=1;packetization-mode=1;profile-level-id="
				"42e01f",
		.rtcp_fb = TB_SDP_FB_NACK | TB_SDP_FB_PLI,
		.rtx_pt = 103,
	};

	memset(t, 0, 5 * sizeof(*t));
	t[0] = (tb_sdp_subscriber_track){"a0", TB_SDP_KIND_AUDIO, true,    opus,       1001,
					 0,    "alicecname",      "alice", "alice-mic", false};
	t[1] = (tb_sdp_subscriber_track){"a1", TB_SDP_KIND_AUDIO, true,  opus,     2001,
					 0,    "bobcname",        "bob", "bob-mic", false};
	t[2] = (tb_sdp_subscriber_track){"x2", TB_SDP_KIND_VIDEO, false, vp8, 0, 0, NULL, NULL,
					 NULL, false};
	t[3] = (tb_sdp_subscriber_track){"v0", TB_SDP_KIND_VIDEO, true,    vp8,        1002,
					 1003, "alicecname",      "alice", "alice-cam", false};
	t[4] = (tb_sdp_subscriber_track){"v1", TB_SDP_KIND_VIDEO, true,  h264,        2002,
					 2003, "bobcname",        "bob", "bob-screen", false};
}

static void test_subscriber_offer(void)
{
	tb_sdp_subscriber_track t[5];
	tb_sdp_local local = server_local();
	GError *error = NULL;
	char *text;
	tb_sdp_desc *d;

	subscriber_tracks(t);
	local.ice_lite = true;
	text = tb_sdp_build_subscriber_offer(t, 5, &local, 12, &error);
	g_assert_no_error(error);
	g_assert_nonnull(text);
	g_test_message("%s", text);
	g_assert_nonnull(strstr(text, "o=- 4242424242424242 12 IN IP4 0.0.0.0\r\n"));
	g_assert_nonnull(strstr(text, "a=ice-lite\r\n"));
	d = parse_ok(text);
	g_assert_true(d->ice_lite);
	g_assert_cmpint(d->setup, ==, TB_SDP_SETUP_ACTPASS);
	g_assert_true(d->ice_trickle);
	g_assert_cmpuint(d->n_sections, ==, 5);
	g_assert_cmpuint(d->n_bundles, ==, 1);
	g_assert_cmpuint(d->bundles[0].n_mids, ==, 4);
	g_assert_cmpstr(d->bundles[0].mids[0], ==, "a0");
	g_assert_cmpstr(d->bundles[0].mids[2], ==, "v0");
	for (size_t i = 0; i < 5; i++) {
		const tb_sdp_section *s = &d->sections[i];

		g_assert_cmpstr(s->mid, ==, t[i].mid);
		g_assert_cmpint(s->kind, ==, t[i].kind);
		g_assert_cmpuint(s->codecs[0].pt, ==, t[i].codec.pt);
		if (!t[i].active) {
			g_assert_cmpuint(s->port, ==, 0);
			g_assert_true(s->rejected);
			g_assert_cmpint(s->bundle, ==, -1);
			g_assert_cmpint(s->direction, ==, TB_SDP_INACTIVE);
			g_assert_cmpuint(s->n_ssrcs, ==, 0);
			g_assert_null(s->msid);
			g_assert_cmpstr(s->fingerprint, ==, FP_SERVER); /* for webrtcbin */
			g_assert_cmpint(s->setup, ==, TB_SDP_SETUP_ACTPASS);
			continue;
		}
		g_assert_cmpuint(s->port, ==, 9);
		g_assert_cmpint(s->bundle, ==, 0);
		g_assert_cmpint(s->direction, ==, TB_SDP_SENDONLY);
		g_assert_true(s->rtcp_mux);
		g_assert_true(s->rtcp_rsize);
		g_assert_cmpstr(s->ice_ufrag, ==, "srv1");
		g_assert_cmpstr(s->fingerprint, ==, FP_SERVER);
		g_assert_cmpint(s->setup, ==, TB_SDP_SETUP_ACTPASS);
		/* one fixed id per URI, equal in every section */
		g_assert_cmpuint(tb_sdp_section_extmap_id(s, TB_SDP_EXT_URI_MID), ==,
				 TB_SDP_EXT_ID_MID);
		g_assert_cmpuint(tb_sdp_section_extmap_id(s, TB_SDP_EXT_URI_ABS_SEND_TIME), ==,
				 TB_SDP_EXT_ID_ABS_SEND_TIME);
		g_assert_cmpuint(tb_sdp_section_extmap_id(s, TB_SDP_EXT_URI_TWCC), ==,
				 TB_SDP_EXT_ID_TWCC);
		g_assert_cmpuint(tb_sdp_section_extmap_id(s, TB_SDP_EXT_URI_AUDIO_LEVEL), ==,
				 t[i].kind == TB_SDP_KIND_AUDIO ? TB_SDP_EXT_ID_AUDIO_LEVEL : 0);
		g_assert_cmpuint(s->ssrcs[0].ssrc, ==, t[i].ssrc);
		g_assert_cmpstr(s->ssrcs[0].cname, ==, t[i].cname);
		g_assert_nonnull(s->msid);
		g_assert_true(g_str_has_prefix(s->msid, t[i].msid_stream));
		if (t[i].rtx_ssrc != 0) {
			g_assert_cmpuint(s->n_ssrcs, ==, 2);
			g_assert_cmpuint(s->n_ssrc_groups, ==, 1);
			g_assert_cmpstr(s->ssrc_groups[0].semantics, ==, "FID");
			g_assert_cmpuint(s->ssrc_groups[0].ssrcs[0], ==, t[i].ssrc);
			g_assert_cmpuint(s->ssrc_groups[0].ssrcs[1], ==, t[i].rtx_ssrc);
			g_assert_cmpint(tb_sdp_section_find_codec(s, t[i].codec.rtx_pt)->rtx_apt,
					==, t[i].codec.pt);
		}
	}
	g_assert_cmpstr(d->sections[4].codecs[0].fmtp, ==, t[4].codec.fmtp);
	g_assert_cmpuint(d->sections[3].codecs[0].n_rtcp_fb, ==, 5);
	tb_sdp_desc_free(d);
	g_free(text);
}

static void test_subscriber_offer_errors(void)
{
	tb_sdp_subscriber_track t[5];
	tb_sdp_local local = server_local();
	GError *error = NULL;
	char *text;

	subscriber_tracks(t);
	t[1].mid = "a0";
	g_assert_null(tb_sdp_build_subscriber_offer(t, 5, &local, 1, &error));
	g_assert_error(error, TB_SDP_ERROR, TB_EINVAL);
	g_clear_error(&error);

	subscriber_tracks(t);
	t[4].codec.pt = 96; /* H264 on VP8's payload type */
	g_assert_null(tb_sdp_build_subscriber_offer(t, 5, &local, 1, &error));
	g_assert_nonnull(strstr(error->message, "two codecs"));
	g_clear_error(&error);

	subscriber_tracks(t);
	t[4].codec.rtx_pt = 96; /* rtx on VP8's payload type */
	g_assert_null(tb_sdp_build_subscriber_offer(t, 5, &local, 1, &error));
	g_clear_error(&error);

	subscriber_tracks(t);
	t[3].codec.pt = 72; /* collides with RTCP in rtcp-mux */
	g_assert_null(tb_sdp_build_subscriber_offer(t, 5, &local, 1, &error));
	g_clear_error(&error);

	subscriber_tracks(t);
	t[0].cname = "bad\r\na=injected";
	g_assert_null(tb_sdp_build_subscriber_offer(t, 5, &local, 1, &error));
	g_clear_error(&error);

	subscriber_tracks(t);
	t[0].codec.fmtp = (char *)"minptime=10\r\na=injected:1";
	g_assert_null(tb_sdp_build_subscriber_offer(t, 5, &local, 1, &error));
	g_clear_error(&error);

	subscriber_tracks(t);
	t[0].ssrc = 0;
	g_assert_null(tb_sdp_build_subscriber_offer(t, 5, &local, 1, &error));
	g_clear_error(&error);

	subscriber_tracks(t);
	local.ice_ufrag = "a b";
	g_assert_null(tb_sdp_build_subscriber_offer(t, 5, &local, 1, &error));
	g_clear_error(&error);

	/* the inactive track's codec does not count for collisions */
	subscriber_tracks(t);
	local = server_local();
	t[2].codec.pt = 102;
	text = tb_sdp_build_subscriber_offer(t, 5, &local, 1, &error);
	g_assert_no_error(error);
	g_free(text);

	/* no track at all: a valid offer without sections */
	text = tb_sdp_build_subscriber_offer(NULL, 0, &local, 1, &error);
	g_assert_no_error(error);
	g_assert_null(strstr(text, "m="));
	g_free(text);
}

static void check_answer_fails(const char *text, const char *why)
{
	tb_sdp_subscriber_track t[5];
	tb_sdp_desc *d = parse_ok(text);
	GError *error = NULL;

	subscriber_tracks(t);
	if (tb_sdp_check_subscriber_answer(d, t, 5, &error) == 0)
		g_error("answer accepted: %s", why);
	g_assert_error(error, TB_SDP_ERROR, TB_EINVAL);
	g_test_message("%s -> %s", why, error->message);
	g_error_free(error);
	tb_sdp_desc_free(d);
}

static void test_subscriber_answer(void)
{
	tb_sdp_subscriber_track t[5];
	char *text = join(SUBSCRIBER_ANSWER), *m, *m2;
	tb_sdp_desc *d = parse_ok(text);
	GError *error = NULL;

	subscriber_tracks(t);
	g_assert_cmpint(tb_sdp_check_subscriber_answer(d, t, 5, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpint(d->setup, ==, TB_SDP_SETUP_ACTIVE); /* the server is the DTLS server */
	g_assert_cmpstr(d->ice_ufrag, ==, "Cl1E");
	g_assert_cmpint(tb_sdp_check_subscriber_answer(d, t, 4, &error), ==, TB_EINVAL);
	g_clear_error(&error);
	tb_sdp_desc_free(d);

	/* webrtcbin: the stopped section answered live and bundled, no extensions */
	m = join(WEBRTCBIN_SUBSCRIBER_ANSWER);
	d = parse_ok(m);
	g_assert_cmpint(tb_sdp_check_subscriber_answer(d, t, 5, &error), ==, 0);
	g_assert_no_error(error);
	g_assert_cmpuint(tb_sdp_section_extmap_id(&d->sections[0], TB_SDP_EXT_URI_MID), ==, 0);
	tb_sdp_desc_free(d);
	g_free(m);

	m = replace(text, "a=mid:a1", "a=mid:zz");
	m2 = replace(m, "BUNDLE a0 a1", "BUNDLE a0 zz");
	check_answer_fails(m2, "mid changed");
	g_free(m);
	g_free(m2);
	m = replace(text, "a=recvonly\r\na=rtcp-mux\r\na=rtpmap:111",
		    "a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111");
	check_answer_fails(m, "sendrecv on the subscribe side");
	g_free(m);
	m = replace(text, "a=group:BUNDLE a0 a1 v0 v1", "a=group:BUNDLE a0 a1 v0");
	check_answer_fails(m, "v1 outside the BUNDLE group");
	g_free(m);
	m = replace_all(text, "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid", "a=extmap:5 urn:ietf:params:rtp-hdrext:sdes:mid");
	check_answer_fails(m, "mid extension id changed");
	g_free(m);
	m = replace_all(text, "a=setup:active", "a=setup:actpass");
	check_answer_fails(m, "actpass in an answer");
	g_free(m);
	m = replace(text, "m=video 9 UDP/TLS/RTP/SAVPF 102 103",
		    "m=video 0 UDP/TLS/RTP/SAVPF 102 103");
	m2 = replace(m, "a=group:BUNDLE a0 a1 v0 v1", "a=group:BUNDLE a0 a1 v0");
	check_answer_fails(m2, "client rejected an active track");
	g_free(m);
	g_free(m2);
	m = replace(text, "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\n",
		    "m=video 9 UDP/TLS/RTP/SAVPF 98\r\n");
	check_answer_fails(m, "payload type missing");
	g_free(m);
	g_free(text);
}

/* The subscriber offer round trip: what the server writes, parsed back,
 * answered by hand as Chromium would, checked. */
static void test_subscriber_round_trip_inactive_only(void)
{
	tb_sdp_subscriber_track t[5];
	tb_sdp_local local = server_local();
	GError *error = NULL;
	char *text;
	tb_sdp_desc *d;

	subscriber_tracks(t);
	for (size_t i = 0; i < 5; i++)
		t[i].active = false;
	text = tb_sdp_build_subscriber_offer(t, 5, &local, 3, &error);
	g_assert_no_error(error);
	g_assert_null(strstr(text, "BUNDLE"));
	d = parse_ok(text);
	g_assert_cmpuint(d->n_bundles, ==, 0);
	for (size_t i = 0; i < 5; i++)
		g_assert_true(d->sections[i].rejected);
	/* all stopped: the answer needs nothing but the mids */
	g_assert_cmpint(tb_sdp_check_subscriber_answer(d, t, 5, &error), ==, 0);
	g_assert_no_error(error);
	tb_sdp_desc_free(d);
	g_free(text);
}

/* ---- candidates ---- */

static void test_candidates(void)
{
	char *s;

	g_assert_true(tb_sdp_candidate_is_end(NULL));
	g_assert_true(tb_sdp_candidate_is_end(""));
	g_assert_true(tb_sdp_candidate_is_end("  \r\n"));
	g_assert_true(tb_sdp_candidate_is_end("a=end-of-candidates"));
	g_assert_true(tb_sdp_candidate_is_end("a=end-of-candidates\r\n"));
	g_assert_true(tb_sdp_candidate_is_end("end-of-candidates"));
	g_assert_false(tb_sdp_candidate_is_end("candidate:1 1 udp 1 1.2.3.4 5 typ host"));
	g_assert_false(tb_sdp_candidate_is_end("a=end-of-candidatesX"));

	s = tb_sdp_candidate_to_nice(
		"candidate:842163049 1 udp 1677729535 198.51.100.7 61665 typ srflx "
		"raddr 10.0.0.2 rport 61665 generation 0 ufrag Fv3v network-cost 999");
	g_assert_cmpstr(s, ==,
			"a=candidate:842163049 1 udp 1677729535 198.51.100.7 61665 typ srflx raddr "
			"10.0.0.2 "
			"rport 61665 generation 0 ufrag Fv3v network-cost 999");
	g_free(s);
	s = tb_sdp_candidate_to_nice(
		"  a=candidate:1  1 UDP\t2122252543 192.0.2.10 54321 typ  host\r\n");
	g_assert_cmpstr(s, ==, "a=candidate:1 1 UDP 2122252543 192.0.2.10 54321 typ host");
	g_free(s);
	g_assert_null(tb_sdp_candidate_to_nice(NULL));
	g_assert_null(tb_sdp_candidate_to_nice(""));
	g_assert_null(tb_sdp_candidate_to_nice("a=end-of-candidates"));
	g_assert_null(tb_sdp_candidate_to_nice("candidate:"));
	g_assert_null(tb_sdp_candidate_to_nice("candidate:1 1 udp 1 1.2.3.4 5 host x"));
	g_assert_null(tb_sdp_candidate_to_nice("candidate:1 1 udp 1 1.2.3.4 5 typ"));
	g_assert_null(tb_sdp_candidate_to_nice("candidate:1 1 udp 1 1.2.3.4 5 typ host\r\na=x"));
	g_assert_null(tb_sdp_candidate_to_nice("ice-candidate:1 1 udp 1 1.2.3.4 5 typ host"));
	s = g_strnfill(2000, 'x');
	g_assert_null(tb_sdp_candidate_to_nice(s));
	g_free(s);
}

/* ---- hostile input ---- */

/* HEAD, then N copies of LINE (a format given the index twice), then TAIL. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
static char *repeat_lines(const char *head, const char *line, size_t n, const char *tail)
{
	GString *s = g_string_new(head);

	for (size_t i = 0; i < n; i++)
		g_string_append_printf(s, line, (unsigned)i, (unsigned)i);
	g_string_append(s, tail);
	return g_string_free(s, FALSE);
}
#pragma GCC diagnostic pop

#define MIN_HEAD                                                                                   \
	"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=ice-ufrag:abcd\r\n"                    \
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 " FP_SERVER "\r\n"

static void test_hostile(void)
{
	char *offer = join(CHROME_OFFER), *m, *big;

	parse_fails(NULL, "NULL");
	parse_fails("", "empty");
	parse_fails("hello world", "garbage");
	parse_fails("\x01\x02\x03 v=0", "binary");
	parse_fails("v=1\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", "version 1");
	parse_fails("v=0\r\ns=-\r\nt=0 0\r\n", "no o= line");
	parse_fails(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtcp-mux\r\n", "no mid");
	parse_fails(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF abc\r\na=mid:0\r\n",
		    "non-numeric payload type");
	parse_fails(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 200\r\na=mid:0\r\n",
		    "payload type over 127");
	parse_fails(MIN_HEAD "m=audio 99999 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n",
		    "port over 65535");
	parse_fails(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111 111\r\na=mid:0\r\n",
		    "payload type twice");
	parse_fails(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=mid:1\r\n",
		    "two mids");
	parse_fails(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=setup:holdconn\r\n",
		    "holdconn");
	parse_fails(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=extmap:0 urn:x\r\n",
		    "extmap id 0");
	parse_fails(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=extmap:1 "
			     "urn:x\r\na=extmap:1 urn:y\r\n",
		    "extmap id twice");
	parse_fails(MIN_HEAD
		    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/abc\r\n",
		    "bad rtpmap");
	parse_fails(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ssrc:-5 cname:x\r\n",
		    "bad ssrc");
	parse_fails(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=simulcast:send\r\n",
		    "bad simulcast");
	parse_fails(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rid:a%b send\r\n",
		    "bad rid");
	parse_fails(MIN_HEAD
		    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=fingerprint:sha-256 zz\r\n",
		    "bad fingerprint");
	parse_fails(MIN_HEAD "a=group:BUNDLE 0 9\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n",
		    "BUNDLE names no section");

	/* transport */
	m = replace_all(offer, "a=ice-ufrag:Fv3v\r\n", "");
	parse_fails(m, "no ice-ufrag anywhere");
	g_free(m);
	m = replace_all(offer, "a=fingerprint:sha-256 " FP_CHROME "\r\n", "");
	parse_fails(m, "no fingerprint anywhere");
	g_free(m);
	m = replace(offer,
		    "a=ice-ufrag:Fv3v\r\na=ice-pwd:9dG2lC0bLO5ix8Vrs2Wh3V5m\r\na=ice-options:"
		    "trickle\r\n"
		    "a=fingerprint:sha-256 " FP_CHROME "\r\na=setup:actpass\r\na=mid:0",
		    "a=ice-ufrag:Zz9z\r\na=ice-pwd:9dG2lC0bLO5ix8Vrs2Wh3V5m\r\na=ice-options:"
		    "trickle\r\n"
		    "a=fingerprint:sha-256 " FP_CHROME "\r\na=setup:actpass\r\na=mid:0");
	parse_fails(m, "ICE ufrag differs inside one BUNDLE group");
	g_free(m);
	m = replace(offer, "a=fingerprint:sha-256 4A:0B", "a=fingerprint:sha-256 4B:0B");
	parse_fails(m, "fingerprint differs inside one BUNDLE group");
	g_free(m);
	m = replace(offer,
		    "a=extmap:2 "
		    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\na=extmap:13",
		    "a=extmap:1 "
		    "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\na=extmap:13");
	parse_fails(m, "extmap id 1 means two URIs in the bundle");
	g_free(m);
	m = replace(offer, "a=mid:1", "a=mid:0");
	parse_fails(m, "duplicate mid");
	g_free(m);
	m = replace(offer, "a=mid:1\r\n", "");
	parse_fails(m, "missing mid");
	g_free(m);
	m = replace(offer, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0 0");
	parse_fails(m, "mid twice in BUNDLE");
	g_free(m);

	/* sizes */
	big = repeat_lines(MIN_HEAD,
			   "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:m%u\r\na=x:%u\r\n",
			   65, "");
	parse_fails(big, "65 sections");
	g_free(big);
	big = repeat_lines(MIN_HEAD, " \t m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n a=mid:m%u\r\na=x:%u\r\n", 65, "");
	parse_fails(big, "65 sections behind blanks");
	g_free(big);
	big = repeat_lines(MIN_HEAD, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:m%u\r\na=x:%u\r\n",
			   64, "");
	tb_sdp_desc_free(parse_ok(big)); /* 64 is fine */
	g_free(big);
	{
		GString *fmts = g_string_new(MIN_HEAD "m=video 9 UDP/TLS/RTP/SAVPF");

		for (int i = 0; i < 65; i++)
			g_string_append_printf(fmts, " %d", i);
		g_string_append(fmts, "\r\na=mid:0\r\n");
		parse_fails(fmts->str, "65 formats");
		g_string_free(fmts, TRUE);
	}
	big = repeat_lines(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n",
			   "a=ssrc:%u cname:c%u\r\n", 33, "");
	parse_fails(big, "33 SSRCs");
	g_free(big);
	big = repeat_lines(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n",
			   "a=rtcp-fb:* fb%u x%u\r\n", 17, "");
	parse_fails(big, "17 rtcp-fb");
	g_free(big);
	big = repeat_lines(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n",
			   "a=extmap:1%02u urn:x:%u\r\n", 40, "");
	parse_fails(big, "40 extmaps");
	g_free(big);
	big = repeat_lines(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n",
			   "a=candidate:%u 1 udp 1 192.0.2.1 %u typ host\r\n", 65, "");
	parse_fails(big, "65 candidates");
	g_free(big);
	big = repeat_lines(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n",
			   "a=ssrc-group:FID %u %u\r\n", 17, "");
	parse_fails(big, "17 ssrc-groups");
	g_free(big);
	big = repeat_lines(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n",
			   "a=rid:r%u send\r\n", 9, "");
	parse_fails(big, "9 rids");
	g_free(big);
	parse_fails(MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ssrc-group:SIM 1 2 3 "
			     "4 5 6 7 8 9\r\n",
		    "9 SSRCs in a group");
	{
		char *pad = g_strnfill(TB_SDP_MAX_LINE + 1, 'x');

		big = g_strdup_printf(
			MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=fmtp:111 %s\r\n",
			pad);
		parse_fails(big, "16 KB attribute");
		g_free(big);
		g_free(pad);
	}
	big = repeat_lines(
		MIN_HEAD "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n",
		"a=x-filler:%08u %08u................................................\r\n", 2000,
		"");
	parse_fails(big, "over 128 KB");
	g_free(big);
	g_free(offer);
}

/* Truncations and byte flips of real offers never crash; whatever parses
 * can be answered, and the answer parses. */
static void test_mutations(void)
{
	const char *const *fixtures[] = {CHROME_OFFER, FIREFOX_OFFER, GST_OFFER, SIMULCAST_OFFER,
					 SUBSCRIBER_ANSWER};
	static const char alphabet[] = " \r\n:=/;,~*0123456789amv-";
	tb_sdp_local local = server_local();
	GRand *rand = g_rand_new_with_seed(20240611);
	unsigned parsed = 0, total = 0;

	for (size_t f = 0; f < G_N_ELEMENTS(fixtures); f++) {
		char *text = join(fixtures[f]);
		size_t len = strlen(text);

		for (int iter = 0; iter < 1500; iter++) {
			char *m = g_strdup(text);
			int flips = g_rand_int_range(rand, 1, 6);
			tb_sdp_desc *d = NULL;
			GError *error = NULL;

			if (iter % 5 == 0)
				m[g_rand_int_range(rand, 0, (gint32)len)] = '\0';
			for (int k = 0; k < flips; k++)
				m[g_rand_int_range(rand, 0, (gint32)len)] =
					iter % 2 ? alphabet[g_rand_int_range(rand, 0,
									     sizeof(alphabet) - 1)]
						 : (char)g_rand_int_range(rand, 1, 256);
			total++;
			if (tb_sdp_parse(m, &d, &error) == 0) {
				tb_sdp_publish_result r;
				char *ans = tb_sdp_build_publish_answer(d, &local, &r, &error);

				parsed++;
				g_assert_no_error(error);
				g_assert_nonnull(ans);
				tb_sdp_desc_free(parse_ok(ans));
				tb_sdp_publish_result_clear(&r);
				g_free(ans);
				tb_sdp_desc_free(d);
			} else {
				g_assert_null(d);
				g_assert_nonnull(error);
				g_error_free(error);
			}
			g_free(m);
		}
		g_free(text);
	}
	g_test_message("%u of %u mutated descriptions parsed", parsed, total);
	g_assert_cmpuint(parsed, >, 0);
	g_rand_free(rand);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/media/sdp/parse/chrome", test_parse_chrome);
	g_test_add_func("/media/sdp/parse/firefox", test_parse_firefox);
	g_test_add_func("/media/sdp/answer/chrome", test_answer_chrome);
	g_test_add_func("/media/sdp/answer/codec-order", test_answer_codec_order);
	g_test_add_func("/media/sdp/answer/firefox", test_answer_firefox);
	g_test_add_func("/media/sdp/answer/gstreamer", test_answer_gstreamer);
	g_test_add_func("/media/sdp/answer/simulcast", test_answer_simulcast);
	g_test_add_func("/media/sdp/answer/rejected-tag", test_answer_rejected_first);
	g_test_add_func("/media/sdp/answer/bundle-only", test_answer_bundle_only);
	g_test_add_func("/media/sdp/answer/webrtcbin-max-bundle", test_answer_webrtcbin_max_bundle);
	g_test_add_func("/media/sdp/answer/rejections", test_answer_rejections);
	g_test_add_func("/media/sdp/answer/roles-directions", test_answer_roles_and_directions);
	g_test_add_func("/media/sdp/answer/bad-local", test_answer_bad_local);
	g_test_add_func("/media/sdp/subscriber/offer", test_subscriber_offer);
	g_test_add_func("/media/sdp/subscriber/offer-errors", test_subscriber_offer_errors);
	g_test_add_func("/media/sdp/subscriber/answer", test_subscriber_answer);
	g_test_add_func("/media/sdp/subscriber/all-inactive",
			test_subscriber_round_trip_inactive_only);
	g_test_add_func("/media/sdp/candidates", test_candidates);
	g_test_add_func("/media/sdp/hostile", test_hostile);
	g_test_add_func("/media/sdp/mutations", test_mutations);
	return g_test_run();
}
