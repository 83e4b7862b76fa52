/* fuzz-router.c — the router as a whole (media/router*.c) on a room of
 * three: alice publishes audio and simulcast video (rids h, m, l, RTX by
 * repaired rid), bob audio and one video layer with RTX (a=ssrc lines,
 * other extension ids), carol only subscribes. Everyone receives everyone
 * else. The transports are fakes (fake-transport.c): the input is one
 * byte (bit 0: the room may change shape) then a sequence of operations,
 * each a first byte then its arguments:
 *   - RTP from a publisher, built from a stream template (SSRC, payload
 *     type, mid/rid extensions, VP8 keyframe) with fuzzed numbers and
 *     payload, or raw bytes;
 *   - RTCP from a subscriber (NACK, PLI, FIR, REMB about the SSRCs it
 *     receives) or a publisher (SR), built or raw;
 *   - mute/unmute, layer qualities, subscriptions changed, carol leaving
 *     and joining, a publisher renegotiating, transports
 *     changing state, the periodic RTCP tick, time passing, stats.
 * Everything the router sends goes through the same parsers and must hold:
 * RTP parses, goes out under an SSRC and payload type the subscriber's
 * offer announced, carries only the server's extension ids, never carries
 * a packet the fuzzer built while its track was muted; RTCP is a valid
 * compound, each of its packets parses as its type; every packet leaves
 * room for the SRTP trailer.
 *
 * TB_FUZZ_ROUTER_VERBOSE=1 prints the router's totals after each input
 * (to see what a corpus reaches).
 *
 * Time is the fuzzer's: the router's g_get_monotonic_time is
 * tb_fuzz_clock_us (meson.build), and g_random is seeded. The room is
 * built once and brought back to the same shape after each input (carol
 * there, unmuted, subscribed to everything, connected); sequence numbers,
 * rewriters and NACK caches carry on from input to input, as in a long
 * call. So an input found by fuzzing may need the ones before it to fail
 * the same way: a finding is turned into a self-contained input (as
 * corpus/router/regress-muted-nack) and a unit test.
 */
#include <glib.h>
#include <string.h>

#include "fake-transport.h"
#include "fuzz.h"
#include "router-private.h"

int64_t tb_fuzz_clock_us(void);

static int64_t now_us = 1000000;

int64_t tb_fuzz_clock_us(void)
{
	return now_us;
}

#define N_PEERS      3
#define N_PUBLISHERS 2
#define CAROL        2
#define MUTE_TAG     0x4d555445u /* "MUTE": ends the payload built while muted */
#define LIVE_TAG     0x4c495645u /* "LIVE" */

static const char *const peer_ids[N_PEERS] = {"alice", "bob", "carol"};

/* Extension ids each publisher's offer gives. */
typedef struct ext_ids {
	uint8_t level, abs, mid, rid, rrid;
} ext_ids;
static const ext_ids peer_ext[N_PUBLISHERS] = {{1, 2, 4, 10, 11}, {5, 6, 7, 0, 0}};

/* What a publisher sends: one RTP stream. */
typedef struct stream {
	int peer;
	tb_sdp_kind kind;
	uint8_t pt;
	uint32_t ssrc;
	const char *mid;
	const char *rid; /* NULL: none */
	int media;       /* RTX: the index of the stream it repairs, else -1 */
	uint16_t seq;
	uint32_t ts;
} stream;

static stream streams[] = {
	{0, TB_SDP_KIND_AUDIO, 111, 0xa0000001, "0", NULL, -1, 0, 0},
	{0, TB_SDP_KIND_VIDEO, 96, 0xa0000011, "1", "h", -1, 0, 0},
	{0, TB_SDP_KIND_VIDEO, 96, 0xa0000012, "1", "m", -1, 0, 0},
	{0, TB_SDP_KIND_VIDEO, 96, 0xa0000013, "1", "l", -1, 0, 0},
	{0, TB_SDP_KIND_VIDEO, 97, 0xa0000021, "1", "h", 1, 0, 0},
	{0, TB_SDP_KIND_VIDEO, 97, 0xa0000023, "1", "l", 3, 0, 0},
	{1, TB_SDP_KIND_AUDIO, 111, 0xb0000001, "0", NULL, -1, 0, 0},
	{1, TB_SDP_KIND_VIDEO, 96, 0xb0000002, "1", NULL, -1, 0, 0},
	{1, TB_SDP_KIND_VIDEO, 97, 0xb0000003, "1", NULL, 7, 0, 0},
};
#define N_STREAMS G_N_ELEMENTS(streams)

static GMainContext *ctx;
static tb_router *router;
static tb_router_peer *peers[N_PEERS];
static tb_sdp_desc *offers[N_PUBLISHERS];
static bool subs_dirty[N_PEERS]; /* subscriptions other than everything */
static uint64_t sub_version;
/* Output seq last sent per subscriber SSRC, for NACKs that hit the cache. */
static struct {
	uint32_t ssrc;
	uint16_t seq;
} last_out[16];

/* ---- setup ---- */

static char *publish_offer(int p)
{
	const ext_ids *e = &peer_ext[p];
	GString *s = g_string_new(NULL);
	const char *fp = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
			 "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

	g_string_append_printf(s,
			       "v=0\r\no=- %d 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
			       "a=group:BUNDLE 0 1\r\na=msid-semantic: WMS s%d\r\n",
			       p + 1, p);
	for (int m = 0; m < 2; m++) {
		bool video = m == 1;
		g_string_append_printf(
			s,
			"m=%s 9 UDP/TLS/RTP/SAVPF %s\r\nc=IN IP4 0.0.0.0\r\n"
			"a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:ufrag%d\r\n"
			"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=fingerprint:sha-256 %s\r\n"
			"a=setup:actpass\r\na=mid:%d\r\na=sendonly\r\na=msid:s%d t%d\r\n"
			"a=rtcp-mux\r\na=rtcp-rsize\r\n"
			"a=extmap:%u " TB_SDP_EXT_URI_MID "\r\n"
			"a=extmap:%u " TB_SDP_EXT_URI_ABS_SEND_TIME "\r\n",
			video ? "video" : "audio", video ? "96 97" : "111", p, fp, m, p, m, e->mid,
			e->abs);
		if (!video) {
			g_string_append_printf(s,
					       "a=extmap:%u " TB_SDP_EXT_URI_AUDIO_LEVEL "\r\n"
					       "a=rtpmap:111 opus/48000/2\r\n"
					       "a=fmtp:111 minptime=10;useinbandfec=1\r\n",
					       e->level);
			if (p == 1)
				g_string_append_printf(s, "a=ssrc:%u cname:bob\r\n",
						       streams[6].ssrc);
			continue;
		}
		g_string_append(s, "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 goog-remb\r\n"
				   "a=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n"
				   "a=rtcp-fb:96 ccm fir\r\na=rtpmap:97 rtx/90000\r\n"
				   "a=fmtp:97 apt=96\r\n");
		if (p == 0)
			g_string_append_printf(s,
					       "a=extmap:%u " TB_SDP_EXT_URI_RID "\r\n"
					       "a=extmap:%u " TB_SDP_EXT_URI_REPAIRED_RID "\r\n"
					       "a=rid:h send\r\na=rid:m send\r\na=rid:l send\r\n"
					       "a=simulcast:send h;m;l\r\n",
					       e->rid, e->rrid);
		else
			g_string_append_printf(s,
					       "a=ssrc-group:FID %u %u\r\na=ssrc:%u cname:bob\r\n"
					       "a=ssrc:%u cname:bob\r\n",
					       streams[7].ssrc, streams[8].ssrc, streams[7].ssrc,
					       streams[8].ssrc);
	}
	return g_string_free(s, FALSE);
}

static void publish(int p)
{
	char *answer = NULL;
	GArray *tracks = NULL;
	GError *error = NULL;

	if (tb_router_publish(peers[p], offers[p], &answer, &tracks, &error) != 0 ||
	    tracks->len != 2)
		g_error("publish of %s: %s", peer_ids[p], error ? error->message : "tracks");
	g_free(answer);
	g_array_unref(tracks);
}

/* Subscribes peer P to the tracks of the other publishers selected by
 * MASK (bit 2*publisher + track). */
static void subscribe(int p, unsigned mask)
{
	tb_router_subscription subs[4];
	size_t n = 0;
	char *offer = NULL;
	GArray *map = NULL;
	GError *error = NULL;

	for (int q = 0; q < N_PUBLISHERS; q++)
		for (int t = 0; t < 2; t++)
			if (q != p && (mask & (1u << (2 * q + t))))
				subs[n++] = (tb_router_subscription){peer_ids[q], t ? "1" : "0",
								     TB_SIMULCAST_HIGH};
	if (tb_router_subscribe(peers[p], subs, n, ++sub_version, &offer, &map, &error) != 0)
		g_error("subscribe of %s: %s", peer_ids[p], error ? error->message : "?");
	g_free(offer);
	g_array_unref(map);
}

static void connect_peer(int p)
{
	tb_router_peer *peer = peers[p];

	if (peer->pub && tb_transport_get_state(peer->pub) != TB_TRANSPORT_CONNECTED)
		tb_fake_transport_set_state(peer->pub, TB_TRANSPORT_CONNECTED);
	if (peer->sub && tb_transport_get_state(peer->sub) != TB_TRANSPORT_CONNECTED)
		tb_fake_transport_set_state(peer->sub, TB_TRANSPORT_CONNECTED);
}

static void join_carol(void)
{
	peers[CAROL] = tb_router_peer_new(router, peer_ids[CAROL], NULL);
	subscribe(CAROL, 0xf);
	connect_peer(CAROL);
}

/* ---- what the router sends ---- */

static sub_track *sub_by_ssrc(tb_router_peer *peer, uint32_t ssrc)
{
	for (guint i = 0; i < peer->sub_tracks->len; i++) {
		sub_track *s = peer->sub_tracks->pdata[i];
		if (s->ssrc == ssrc)
			return s;
	}
	return NULL;
}

static void check_rtp(tb_router_peer *peer, const uint8_t *buf, size_t len)
{
	tb_rtp_header hdr;
	sub_track *sub;
	tb_rtp_ext_iter it;
	const uint8_t *data;
	size_t data_len;
	uint8_t id;

	if (tb_rtp_parse(buf, len, &hdr) < 0)
		g_error("the router sent RTP that does not parse (%zu octets)", len);
	if (len > MAX_PACKET)
		g_error("the router sent RTP of %zu octets", len);
	sub = sub_by_ssrc(peer, hdr.ssrc);
	if (!sub || !sub->source || !sub->active || sub->paused)
		g_error("RTP to %s under SSRC %08x it does not receive now", peer->id, hdr.ssrc);
	if (hdr.payload_type != sub->pt)
		g_error("RTP to %s with payload type %u, its offer says %u", peer->id,
			hdr.payload_type, sub->pt);
	tb_rtp_ext_iter_init(&it, buf, &hdr);
	while (tb_rtp_ext_iter_next(&it, &id, &data, &data_len))
		if (id != TB_SDP_EXT_ID_ABS_SEND_TIME &&
		    !(id == TB_SDP_EXT_ID_AUDIO_LEVEL && sub->kind == TB_SDP_KIND_AUDIO))
			g_error("RTP to %s carries extension id %u", peer->id, id);
	if (hdr.payload_len >= 4 && ((uint32_t)buf[hdr.payload_offset + hdr.payload_len - 4] << 24 |
				     (uint32_t)buf[hdr.payload_offset + hdr.payload_len - 3] << 16 |
				     (uint32_t)buf[hdr.payload_offset + hdr.payload_len - 2] << 8 |
				     buf[hdr.payload_offset + hdr.payload_len - 1]) == MUTE_TAG)
		g_error("%s received a packet %s sent while muted", peer->id,
			sub->source->owner->id);
	for (size_t i = 0; i < G_N_ELEMENTS(last_out); i++)
		if (last_out[i].ssrc == hdr.ssrc || last_out[i].ssrc == 0 ||
		    i == G_N_ELEMENTS(last_out) - 1) {
			last_out[i].ssrc = hdr.ssrc;
			last_out[i].seq = hdr.seq;
			break;
		}
	tb_fuzz_consume(buf + hdr.payload_offset, hdr.payload_len);
}

/* Every packet of an RTCP compound the router made parses as its type. */
static void check_rtcp(const uint8_t *buf, size_t len)
{
	tb_rtcp_iter it;
	tb_rtcp_packet pkt;
	tb_rtcp_sr sr;
	tb_rtcp_rr rr;
	tb_rtcp_fb fb;
	tb_rtcp_remb remb;
	uint16_t seqs[MAX_NACK_SEQS];
	size_t n;
	int rc = 0;

	if (tb_rtcp_validate(buf, len) != 0)
		g_error("the router sent an invalid RTCP compound (%zu octets)", len);
	tb_rtcp_iter_init(&it, buf, len);
	while (tb_rtcp_iter_next(&it, &pkt)) {
		if (pkt.type == TB_RTCP_SR)
			rc = tb_rtcp_parse_sr(&pkt, &sr);
		else if (pkt.type == TB_RTCP_RR)
			rc = tb_rtcp_parse_rr(&pkt, &rr);
		else if (pkt.type == TB_RTCP_RTPFB && pkt.count == TB_RTCP_RTPFB_NACK) {
			rc = tb_rtcp_parse_nack(&pkt, &fb);
			if (rc == 0)
				rc = tb_rtcp_nack_expand(&fb, seqs, G_N_ELEMENTS(seqs), &n);
		} else if (pkt.type == TB_RTCP_PSFB && pkt.count == 1)
			rc = tb_rtcp_parse_pli(&pkt, &fb);
		else if (pkt.type == TB_RTCP_PSFB && pkt.count == TB_RTCP_PSFB_AFB)
			rc = tb_rtcp_parse_remb(&pkt, &remb);
		else
			g_error("the router sent RTCP type %u/%u", pkt.type, pkt.count);
		if (rc < 0)
			g_error("RTCP type %u/%u from the router does not parse", pkt.type,
				pkt.count);
	}
}

static void on_sent(void *user_data, bool rtcp, const uint8_t *buf, size_t len, size_t cap)
{
	if (rtcp)
		check_rtcp(buf, len);
	else
		check_rtp(user_data, buf, len);
	tb_fuzz_consume(buf, len);
}

/* ---- input ---- */

typedef struct input {
	const uint8_t *data;
	size_t size, pos;
} input;

static bool more(const input *in)
{
	return in->pos < in->size;
}

static uint8_t byte(input *in)
{
	return in->pos < in->size ? in->data[in->pos++] : 0;
}

static uint16_t u16(input *in)
{
	uint16_t hi = byte(in);
	return (uint16_t)(hi << 8 | byte(in));
}

/* Up to MAX octets of the input into OUT; returns how many. */
static size_t bytes(input *in, uint8_t *out, size_t max)
{
	size_t n = MIN(max, in->size - in->pos);

	memcpy(out, in->data + in->pos, n);
	in->pos += n;
	return n;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static bool track_muted(const stream *s)
{
	tb_router_peer *peer = peers[s->peer];

	for (guint i = 0; i < peer->pub_tracks->len; i++) {
		pub_track *t = peer->pub_tracks->pdata[i];
		if (strcmp(t->mid, s->mid) == 0)
			return t->muted;
	}
	return (s->kind == TB_SDP_KIND_AUDIO ? peer->mute_audio : peer->mute_video) != 0;
}

/* One-byte-header element ID of DATA (LEN 1..16) at P. */
static uint8_t *ext_element(uint8_t *p, uint8_t id, const void *data, size_t len)
{
	*p++ = (uint8_t)(id << 4 | (len - 1));
	memcpy(p, data, len);
	return p + len;
}

/* RTP of a stream template: [stream][flags][seq delta][ts delta][payload
 * length][payload]. Flags: 1 marker, 2 mid, 4 rid, 8 audio level / abs
 * send time, 16 padding, 32 another payload type, 64 VP8 keyframe, 128
 * VP8 descriptor with a picture id. */
static void op_rtp(input *in)
{
	stream *s = &streams[byte(in) % N_STREAMS];
	uint8_t flags = byte(in);
	int8_t seq_delta = (int8_t)byte(in);
	uint8_t ts_delta = byte(in);
	size_t want = byte(in);
	uint8_t buf[MAX_PACKET], *p = buf + 12, *ext;
	const ext_ids *e = &peer_ext[s->peer];
	stream *media = s->media >= 0 ? &streams[s->media] : NULL;
	size_t len;

	s->seq = (uint16_t)(s->seq + seq_delta);
	s->ts += (uint32_t)ts_delta * (s->kind == TB_SDP_KIND_AUDIO ? 960u : 300u);
	buf[0] = 0x90 | ((flags & 16) ? 0x20 : 0);
	buf[1] = (uint8_t)(((flags & 1) ? 0x80 : 0) | ((flags & 32) ? (s->pt ^ 1) : s->pt));
	buf[2] = (uint8_t)(s->seq >> 8);
	buf[3] = (uint8_t)s->seq;
	put32(buf + 4, media ? media->ts : s->ts);
	put32(buf + 8, s->ssrc);
	/* RFC 8285 one-byte block. */
	p[0] = 0xbe;
	p[1] = 0xde;
	ext = p + 4;
	if (flags & 2)
		ext = ext_element(ext, e->mid, s->mid, strlen(s->mid));
	if ((flags & 4) && s->rid && (media ? e->rrid : e->rid))
		ext = ext_element(ext, media ? e->rrid : e->rid, s->rid, strlen(s->rid));
	if (flags & 8) {
		uint8_t v[3] = {0x80 | (ts_delta & 0x7f), (uint8_t)s->seq, 0};
		ext = s->kind == TB_SDP_KIND_AUDIO ? ext_element(ext, e->level, v, 1)
						   : ext_element(ext, e->abs, v, 3);
	}
	while ((ext - p) % 4)
		*ext++ = 0;
	p[2] = 0;
	p[3] = (uint8_t)((ext - p - 4) / 4);
	p = ext;
	if (media) {
		/* RTX: the original sequence number first. */
		uint16_t osn = (uint16_t)(media->seq - (uint16_t)(seq_delta & 7));
		*p++ = (uint8_t)(osn >> 8);
		*p++ = (uint8_t)osn;
	}
	if (s->kind == TB_SDP_KIND_VIDEO && (flags & (64 | 128))) {
		uint16_t pid = (uint16_t)((media ? media->seq : s->seq) & 0x7fff);
		uint16_t width = s->rid && s->rid[0] == 'l'   ? 320
				 : s->rid && s->rid[0] == 'm' ? 640
							      : 1280;
		uint8_t vp8[] = {0x90, 0x80, (uint8_t)(0x80 | pid >> 8), (uint8_t)pid};
		uint8_t key[] = {0x10, 0x02, 0x00,           0x9d,
				 0x01, 0x2a, (uint8_t)width, (uint8_t)(width >> 8),
				 0xf0, 0x00};
		memcpy(p, vp8, sizeof vp8);
		p += sizeof vp8;
		if (flags & 64) {
			memcpy(p, key, sizeof key);
			p += sizeof key;
		}
	}
	p += bytes(in, p, MIN(want, (size_t)(buf + sizeof buf - 64 - p)));
	put32(p, track_muted(media ? media : s) ? MUTE_TAG : LIVE_TAG);
	p += 4;
	if (flags & 16) {
		memset(p, 0, 3);
		p[3] = 4;
		p += 4;
	}
	len = (size_t)(p - buf);
	if (peers[s->peer]->pub)
		tb_fake_transport_receive(peers[s->peer]->pub, false, buf, len);
}

/* Raw bytes as RTP from a publisher: [peer][length][bytes]. */
static void op_rtp_raw(input *in)
{
	tb_router_peer *peer = peers[byte(in) % N_PUBLISHERS];
	uint8_t buf[MAX_PACKET + 100];
	size_t want = u16(in);
	size_t len = bytes(in, buf, MIN(want, sizeof buf));

	/* Only built packets end with the mute tag. */
	if (len >= 4 && buf[len - 4] == 'M' && buf[len - 3] == 'U')
		buf[len - 4] = 'm';
	if (peer->pub)
		tb_fake_transport_receive(peer->pub, false, buf, len);
}

/* Raw bytes as RTCP: [peer][publish or subscribe][length][bytes]. */
static void op_rtcp_raw(input *in)
{
	tb_router_peer *peer = peers[byte(in) % N_PEERS];
	bool pub = byte(in) & 1;
	uint8_t buf[MAX_PACKET];
	size_t want = u16(in);
	size_t len = bytes(in, buf, MIN(want, sizeof buf));
	tb_transport *t = !peer ? NULL : pub ? peer->pub : peer->sub;

	if (t)
		tb_fake_transport_receive(t, true, buf, len);
}

static uint16_t last_out_seq(uint32_t ssrc)
{
	for (size_t i = 0; i < G_N_ELEMENTS(last_out); i++)
		if (last_out[i].ssrc == ssrc)
			return last_out[i].seq;
	return 0;
}

/* Feedback from a subscriber: [peer][kind][track][a][b]. */
static void op_feedback(input *in)
{
	tb_router_peer *peer = peers[byte(in) % N_PEERS];
	uint8_t kind = byte(in), index = byte(in), a = byte(in), b = byte(in);
	uint8_t buf[256];
	uint32_t ssrc;
	int len = -1;

	if (!peer || !peer->sub || peer->sub_tracks->len == 0)
		return;
	ssrc = ((sub_track *)peer->sub_tracks->pdata[index % peer->sub_tracks->len])->ssrc;
	if (index & 0x80)
		ssrc ^= 1; /* an SSRC it does not receive */
	switch (kind % 4) {
	case 0: {
		uint16_t seqs[17];
		uint16_t top = last_out_seq(ssrc);
		size_t n = 0;
		seqs[n++] = (uint16_t)(top - (a & 63));
		for (int bit = 0; bit < 8; bit++)
			if (b & (1 << bit))
				seqs[n++] = (uint16_t)(seqs[0] + 1 + bit);
		len = tb_rtcp_build_nack(buf, sizeof buf, 1, ssrc, seqs, n);
		break;
	}
	case 1:
		len = tb_rtcp_build_pli(buf, sizeof buf, 1, ssrc);
		break;
	case 2: {
		tb_rtcp_fir_entry e = {.ssrc = ssrc, .seq = a};
		len = tb_rtcp_build_fir(buf, sizeof buf, 1, &e, 1);
		break;
	}
	case 3:
		len = tb_rtcp_build_remb(buf, sizeof buf, 1, (uint64_t)(a | b << 8) * 1000 + b,
					 &ssrc, 1);
		break;
	}
	if (len > 0)
		tb_fake_transport_receive(peer->sub, true, buf, (size_t)len);
}

/* A publisher's SR about one of its streams: [stream][ts]. */
static void op_sr(input *in)
{
	stream *s = &streams[byte(in) % N_STREAMS];
	tb_rtcp_sender_info info = {.ssrc = s->ssrc,
				    .ntp_timestamp = (uint64_t)now_us << 12,
				    .rtp_timestamp = s->ts - byte(in),
				    .packet_count = s->seq,
				    .octet_count = s->seq * 100u};
	uint8_t buf[128];
	int len = tb_rtcp_build_sr(buf, sizeof buf, &info, NULL, 0);

	if (len > 0 && peers[s->peer]->pub)
		tb_fake_transport_receive(peers[s->peer]->pub, true, buf, (size_t)len);
}

/* [peer][bits: 1 video, 2 forced, 4 muted]. */
static void op_mute(input *in)
{
	tb_router_peer *peer = peers[byte(in) % N_PUBLISHERS];
	uint8_t b = byte(in);

	tb_router_set_mute(peer, (b & 1) ? TB_SDP_KIND_VIDEO : TB_SDP_KIND_AUDIO,
			   (b & 2) ? TB_ROUTER_MUTE_FORCED : TB_ROUTER_MUTE_SELF, (b & 4) != 0);
}

/* [peer][quality of each of its subscriptions, 2 bits each]. */
static void op_qualities(input *in)
{
	tb_router_peer *peer = peers[byte(in) % N_PEERS];
	uint8_t q = byte(in);
	tb_router_subscription subs[8];
	size_t n = 0;

	if (!peer)
		return;
	for (guint i = 0; i < peer->sub_tracks->len && n < G_N_ELEMENTS(subs); i++) {
		sub_track *s = peer->sub_tracks->pdata[i];
		if (!s->source)
			continue;
		subs[n] = (tb_router_subscription){s->publisher_id, s->track_id,
						   (tb_simulcast_quality)((q >> (2 * n)) & 3) % 3};
		n++;
	}
	tb_router_set_qualities(peer, subs, n);
}

/* [peer][mask of tracks wanted]. */
static void op_subscribe(input *in)
{
	int p = byte(in) % N_PEERS;
	uint8_t mask = byte(in);

	if (!peers[p])
		return;
	subscribe(p, mask);
	subs_dirty[p] = true;
}

static void op_carol(void)
{
	if (peers[CAROL]) {
		tb_router_peer_free(peers[CAROL]);
		peers[CAROL] = NULL;
	} else {
		join_carol();
	}
}

/* A publisher renegotiates with the same offer (its tracks stay). Not an
 * unpublish: that frees the NACK caches (2 MiB a video track) and the
 * republish makes them anew, which would take most of the fuzzing time. */
static void op_publish(input *in)
{
	publish(byte(in) % N_PUBLISHERS);
}

/* [peer][publish or subscribe][state]. */
static void op_state(input *in)
{
	tb_router_peer *peer = peers[byte(in) % N_PEERS];
	bool pub = byte(in) & 1;
	tb_transport_state state = (tb_transport_state)(byte(in) % 5);
	tb_transport *t = peer ? (pub ? peer->pub : peer->sub) : NULL;

	if (t)
		tb_fake_transport_set_state(t, state);
}

static void op_tick(void)
{
	now_us += RTCP_INTERVAL_MS * 1000;
	for (int p = 0; p < N_PEERS; p++)
		if (peers[p])
			tb__router_peer_rtcp_tick(peers[p], now_us);
	for (int p = 0; p < N_PEERS; p++)
		if (peers[p])
			tb__router_select_layers(peers[p]);
}

static void op_stats(input *in)
{
	tb_router_peer *peer = peers[byte(in) % N_PEERS];
	json_t *stats;
	char *text;

	if (!peer)
		return;
	stats = tb_router_peer_stats(peer);
	text = json_dumps(stats, JSON_COMPACT);
	tb_fuzz_consume(text, strlen(text));
	free(text);
	json_decref(stats);
}

static void op_keyframe(input *in)
{
	tb_router_peer *peer = peers[byte(in) % N_PUBLISHERS];

	tb_router_request_keyframe(peer, (byte(in) & 1) ? "1" : "0");
}

/* [which][its arguments]. */
static void op_shape(input *in)
{
	switch (byte(in) % 3) {
	case 0:
		op_publish(in);
		break;
	case 1:
		op_carol();
		break;
	default:
		op_subscribe(in);
		break;
	}
}

/* Back to the room's shape: everyone there, published, subscribed to
 * everything, unmuted, connected. */
static void restore(void)
{
	if (!peers[CAROL])
		join_carol();
	for (int p = 0; p < N_PUBLISHERS; p++) {
		for (int k = 0; k < 2; k++) {
			tb_sdp_kind kind = k ? TB_SDP_KIND_VIDEO : TB_SDP_KIND_AUDIO;
			tb_router_set_mute(peers[p], kind,
					   TB_ROUTER_MUTE_SELF | TB_ROUTER_MUTE_FORCED, false);
		}
	}
	for (int p = 0; p < N_PEERS; p++) {
		if (subs_dirty[p] && peers[p])
			subscribe(p, 0xf);
		subs_dirty[p] = false;
	}
	for (int p = 0; p < N_PEERS; p++)
		connect_peer(p);
}

static void setup(void)
{
	static const tb_router_callbacks cb = {0};
	tb_ice_config ice = {0};
	tb_dtls_identity *identity;
	GError *error = NULL;

	g_random_set_seed(9);
	ctx = g_main_context_new();
	identity = tb_dtls_identity_new();
	if (!identity)
		g_error("no DTLS identity");
	router = tb_router_new(ctx, identity, &ice, "fuzz", &cb, NULL);
	tb_dtls_identity_unref(identity);
	tb_fake_transport_set_sink(on_sent);
	for (int p = 0; p < N_PEERS; p++)
		peers[p] = tb_router_peer_new(router, peer_ids[p], NULL);
	for (int p = 0; p < N_PUBLISHERS; p++) {
		char *text = publish_offer(p);
		if (tb_sdp_parse(text, &offers[p], &error) != 0)
			g_error("offer of %s: %s\n%s", peer_ids[p], error->message, text);
		g_free(text);
		publish(p);
	}
	for (int p = 0; p < N_PEERS; p++)
		subscribe(p, 0xf);
	for (int p = 0; p < N_PEERS; p++)
		connect_peer(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	input in = {data, size, 0};
	/* The first byte says whether the room may change shape (leave, join,
	 * publish, subscribe; stats): those build SDP and JSON, slow next to
	 * packets, so inputs are mostly packets, with one change or stats at most. */
	bool shape = byte(&in) & 1;

	if (!router)
		setup();
	now_us += 20000;
	while (more(&in)) {
		uint8_t op = byte(&in) % 32;
		if (op < 12)
			op_rtp(&in);
		else if (op < 14)
			op_rtp_raw(&in);
		else if (op < 16)
			op_rtcp_raw(&in);
		else if (op < 20)
			op_feedback(&in);
		else if (op < 22)
			op_sr(&in);
		else if (op < 24)
			op_mute(&in);
		else if (op < 26)
			op_qualities(&in);
		else if (op == 26)
			op_tick();
		else if (op == 27)
			now_us += (int64_t)byte(&in) * 4000;
		else if (op == 28)
			op_keyframe(&in);
		else if (op == 29)
			op_state(&in);
		else if (!shape)
			continue;
		else if (op == 30) {
			shape = false; /* JSON: as slow */
			op_stats(&in);
		} else {
			shape = false; /* one change of shape an input */
			op_shape(&in);
		}
	}
	restore();
	if (g_getenv("TB_FUZZ_ROUTER_VERBOSE")) {
		tb_router_totals t;
		tb_router_get_totals(router, &t);
		g_printerr("in %" G_GUINT64_FORMAT " forwarded %" G_GUINT64_FORMAT
			   " dropped %" G_GUINT64_FORMAT " nacks %" G_GUINT64_FORMAT
			   " retransmissions %" G_GUINT64_FORMAT " plis %" G_GUINT64_FORMAT "\n",
			   t.rtp_in, t.rtp_forwarded, t.rtp_dropped, t.nacks, t.retransmissions,
			   t.plis_sent);
	}
	return 0;
}
