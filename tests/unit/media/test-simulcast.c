/* test-simulcast.c — layer choice and the subscriber stream rewrite:
 * switching layers only on a keyframe of the target layer, with sequence
 * numbers that go on by one (no gap, no duplicate), timestamps that only
 * move forward, and VP8 picture ids / TL0PICIDX that continue.
 * Runs on the test's main thread; time is passed in, never slept.
 */
#include "common.h"
#include "simulcast.h"

#include <string.h>

/* ---- layer choice ---- */

static void test_rank_by_rate(void)
{
	/* Declared h, m, l (a browser's sendEncodings order): rank by rate. */
	tb_simulcast_layers l = {3, {1500000, 400000, 120000}, {0}};
	int order[TB_SIMULCAST_MAX_LAYERS];

	g_assert_cmpuint(tb_simulcast_rank(&l, order), ==, 3);
	g_assert_cmpint(order[0], ==, 2);
	g_assert_cmpint(order[1], ==, 1);
	g_assert_cmpint(order[2], ==, 0);
	/* The top layer paused by the browser: two live. */
	l.rate_bps[0] = 0;
	g_assert_cmpuint(tb_simulcast_rank(&l, order), ==, 2);
	g_assert_cmpint(order[0], ==, 2);
	g_assert_cmpint(order[1], ==, 1);
	/* Nothing measured yet: the declared order. */
	memset(l.rate_bps, 0, sizeof(l.rate_bps));
	g_assert_cmpuint(tb_simulcast_rank(&l, order), ==, 3);
	g_assert_cmpint(order[0], ==, 0);
	g_assert_cmpint(order[2], ==, 2);
}

static void test_rank_by_width(void)
{
	/* Retransmissions made the low layer look costlier than the middle
	 * one: the keyframes' widths set the order right. */
	tb_simulcast_layers l = {3, {650000, 280000, 310000}, {1280, 640, 320}};
	int order[TB_SIMULCAST_MAX_LAYERS];

	g_assert_cmpuint(tb_simulcast_rank(&l, order), ==, 3);
	g_assert_cmpint(order[0], ==, 2);
	g_assert_cmpint(order[1], ==, 1);
	g_assert_cmpint(tb_simulcast_choose(&l, TB_SIMULCAST_LOW, 0), ==, 2);
	/* One width unknown: by rate. */
	l.width[1] = 0;
	tb_simulcast_rank(&l, order);
	g_assert_cmpint(order[0], ==, 1);
}

static void test_choose(void)
{
	tb_simulcast_layers l = {3, {1500000, 400000, 120000}, {0}};
	tb_simulcast_layers single = {1, {800000}, {0}};
	tb_simulcast_layers none = {0, {0}, {0}};

	g_assert_cmpint(tb_simulcast_choose(&l, TB_SIMULCAST_HIGH, 0), ==, 0);
	g_assert_cmpint(tb_simulcast_choose(&l, TB_SIMULCAST_MEDIUM, 0), ==, 1);
	g_assert_cmpint(tb_simulcast_choose(&l, TB_SIMULCAST_LOW, 0), ==, 2);
	/* Bandwidth caps what the layout wants. */
	g_assert_cmpint(tb_simulcast_choose(&l, TB_SIMULCAST_HIGH, 1000000), ==, 1);
	g_assert_cmpint(tb_simulcast_choose(&l, TB_SIMULCAST_HIGH, 300000), ==, 2);
	/* The lowest layer is the floor. */
	g_assert_cmpint(tb_simulcast_choose(&l, TB_SIMULCAST_HIGH, 50000), ==, 2);
	/* More bandwidth never raises above what the layout wants. */
	g_assert_cmpint(tb_simulcast_choose(&l, TB_SIMULCAST_LOW, 10000000), ==, 2);
	/* Without simulcast: the only layer whatever is asked. */
	g_assert_cmpint(tb_simulcast_choose(&single, TB_SIMULCAST_LOW, 100), ==, 0);
	g_assert_cmpint(tb_simulcast_choose(&none, TB_SIMULCAST_HIGH, 0), ==, -1);
	/* The high layer stopped: the best live one. */
	l.rate_bps[0] = 0;
	g_assert_cmpint(tb_simulcast_choose(&l, TB_SIMULCAST_HIGH, 0), ==, 1);
}

/* ---- the rewrite ---- */

/* One simulcast layer as a publisher sends it: its own SSRC, sequence
 * numbers, timestamps and picture ids; 30 frames/s, 3 packets a frame. */
typedef struct layer_src {
	uint16_t seq;
	uint32_t ts;
	uint16_t pid;
	uint8_t tl0;
	int packet_in_frame;
} layer_src;

#define PACKETS_PER_FRAME 3
#define FIRST_SEQ         65530 /* output starts near the wrap */
#define FIRST_TS          4294967000u
#define FRAME_US          33333

/* Builds the next packet of SRC into BUF (12-byte header + VP8 descriptor
 * with a 15-bit picture id and TL0PICIDX + a frame tag). */
static size_t next_packet(layer_src *src, bool key_frame, uint8_t *buf, tb_rtp_header *hdr,
			  bool *is_key)
{
	size_t len = 0;
	bool start = src->packet_in_frame == 0;

	memset(buf, 0, 64);
	buf[0] = 0x80;
	buf[1] = 96;
	buf[2] = (uint8_t)(src->seq >> 8);
	buf[3] = (uint8_t)src->seq;
	buf[4] = (uint8_t)(src->ts >> 24);
	buf[5] = (uint8_t)(src->ts >> 16);
	buf[6] = (uint8_t)(src->ts >> 8);
	buf[7] = (uint8_t)src->ts;
	len = 12;
	buf[len++] = (uint8_t)(0x80 | (start ? 0x10 : 0)); /* X, S */
	buf[len++] = 0xc0;                                 /* I, L */
	buf[len++] = (uint8_t)(0x80 | (src->pid >> 8));    /* M, 15-bit picture id */
	buf[len++] = (uint8_t)src->pid;
	buf[len++] = src->tl0;
	/* frame tag: P=0 for a key frame, then the start code */
	buf[len++] = key_frame ? 0x50 : 0x51;
	buf[len++] = 0x2b;
	buf[len++] = 0x00;
	buf[len++] = 0x9d;
	buf[len++] = 0x01;
	buf[len++] = 0x2a;
	buf[len++] = 0x80;
	buf[len++] = 0x02;
	buf[len++] = 0xe0;
	buf[len++] = 0x01;
	g_assert_cmpint(tb_rtp_parse(buf, len, hdr), ==, 0);
	*is_key = tb_vp8_is_keyframe(buf + hdr->payload_offset, hdr->payload_len);
	src->seq++;
	if (++src->packet_in_frame == PACKETS_PER_FRAME) {
		src->packet_in_frame = 0;
		src->ts += 3000;
		src->pid = (uint16_t)((src->pid + 1) & 0x7fff);
		src->tl0++;
	}
	return len;
}

typedef struct out_check {
	bool any;
	uint16_t seq;
	uint32_t ts;
	uint16_t pid;
	uint8_t tl0;
	unsigned forwarded;
} out_check;

/* Asserts that a forwarded packet continues the output stream. */
static void check_out(out_check *c, uint16_t seq, uint32_t ts, const uint8_t *payload, size_t len)
{
	tb_vp8_descriptor d;

	g_assert_cmpint(tb_vp8_parse_descriptor(payload, len, &d), ==, 0);
	if (c->any) {
		g_assert_cmpuint(seq, ==, (uint16_t)(c->seq + 1)); /* no gap, no duplicate */
		g_assert_cmpint((int32_t)(ts - c->ts), >=, 0);
		g_assert_cmpint((int32_t)(ts - c->ts), <, 10 * 90000);
		if (d.start && ts != c->ts) {
			/* a new picture: the next picture id and TL0 index */
			g_assert_cmpuint(d.picture_id, ==, (uint16_t)((c->pid + 1) & 0x7fff));
			g_assert_cmpuint(d.tl0picidx, ==, (uint8_t)(c->tl0 + 1));
		} else {
			g_assert_cmpuint(d.picture_id, ==, c->pid);
		}
	}
	c->any = true;
	c->seq = seq;
	c->ts = ts;
	c->pid = d.picture_id;
	c->tl0 = d.tl0picidx;
	c->forwarded++;
}

/* Feeds one packet of layer LAYER; returns the action, checking output. */
static tb_rewrite_action feed(tb_stream_rewriter *rw, layer_src *src, int layer, bool key,
			      int64_t now, out_check *c)
{
	uint8_t buf[64];
	tb_rtp_header hdr;
	bool is_key;
	uint16_t seq;
	uint32_t ts;
	tb_rewrite_action a;

	next_packet(src, key, buf, &hdr, &is_key);
	a = tb_stream_rewrite(rw, layer, &hdr, is_key, now, &seq, &ts);

	if (a == TB_REWRITE_FORWARD) {
		g_assert_cmpint(
			tb_stream_rewrite_vp8(rw, buf + hdr.payload_offset, hdr.payload_len, false),
			==, 0);
		check_out(c, seq, ts, buf + hdr.payload_offset, hdr.payload_len);
	}
	return a;
}

/* One frame time: a frame of each layer, the key ones as asked. */
static void frame(tb_stream_rewriter *rw, layer_src *src, const bool key[2], int64_t *now,
		  out_check *c, tb_rewrite_action actions[2][PACKETS_PER_FRAME])
{
	for (int p = 0; p < PACKETS_PER_FRAME; p++)
		for (int l = 0; l < 2; l++)
			actions[l][p] = feed(rw, &src[l], l, key[l] && p == 0, *now, c);
	*now += FRAME_US;
}

static void test_vp8_width(void)
{
	layer_src src = {1, 1, 1, 1, 0};
	uint8_t buf[64];
	tb_rtp_header hdr;
	bool k;

	next_packet(&src, true, buf, &hdr, &k);
	g_assert_cmpuint(tb_simulcast_vp8_width(buf + hdr.payload_offset, hdr.payload_len), ==,
			 640);
	next_packet(&src, false, buf, &hdr, &k);
	g_assert_cmpuint(tb_simulcast_vp8_width(buf + hdr.payload_offset, hdr.payload_len), ==, 0);
	g_assert_cmpuint(tb_simulcast_vp8_width(buf + hdr.payload_offset, 3), ==, 0);
}

static void test_switch_on_keyframe(void)
{
	tb_stream_rewriter rw;
	/* Two layers with unrelated numbering, near the wrap. */
	layer_src src[2] = {{65500, 4294960000u, 32760, 250, 0}, {1000, 77777, 5, 9, 0}};
	out_check c = {0};
	int64_t now = 1000000;
	tb_rewrite_action a[2][PACKETS_PER_FRAME];
	const bool none[2] = {false, false}, key0[2] = {true, false}, key1[2] = {false, true};

	tb_stream_rewriter_init(&rw, 90000, true, FIRST_SEQ, FIRST_TS);
	/* Starts only at a keyframe of its target (layer 0). */
	frame(&rw, src, none, &now, &c, a);
	g_assert_cmpint(a[0][0], ==, TB_REWRITE_WANT_KEYFRAME);
	g_assert_cmpint(a[1][0], ==, TB_REWRITE_DROP);
	g_assert_cmpuint(c.forwarded, ==, 0);
	frame(&rw, src, key0, &now, &c, a);
	g_assert_cmpuint(c.forwarded, ==, PACKETS_PER_FRAME);
	g_assert_cmpuint(c.seq, ==, (uint16_t)(FIRST_SEQ + PACKETS_PER_FRAME - 1));
	for (int i = 0; i < 20; i++)
		frame(&rw, src, none, &now, &c, a);
	g_assert_cmpuint(c.forwarded, ==, 21 * PACKETS_PER_FRAME);

	/* Switch to layer 1: layer 0 flows until layer 1's keyframe. */
	g_assert_true(tb_stream_rewriter_set_target(&rw, 1));
	frame(&rw, src, none, &now, &c, a);
	g_assert_cmpint(a[0][0], ==, TB_REWRITE_FORWARD);
	g_assert_cmpint(a[1][0], ==, TB_REWRITE_WANT_KEYFRAME);
	/* A keyframe of the old layer does not switch. */
	frame(&rw, src, key0, &now, &c, a);
	g_assert_cmpint(rw.layer, ==, 0);
	frame(&rw, src, key1, &now, &c, a);
	g_assert_cmpint(a[0][0], ==, TB_REWRITE_FORWARD); /* sent before the key packet */
	g_assert_cmpint(a[1][0], ==, TB_REWRITE_FORWARD);
	g_assert_cmpint(a[0][1], ==, TB_REWRITE_DROP); /* the old layer stops at once */
	g_assert_cmpint(rw.layer, ==, 1);
	g_assert_cmpuint(rw.switches, ==, 1);
	for (int i = 0; i < 20; i++)
		frame(&rw, src, none, &now, &c, a);
	g_assert_cmpint(a[0][2], ==, TB_REWRITE_DROP);
	g_assert_cmpint(a[1][2], ==, TB_REWRITE_FORWARD);

	/* And back down, again only on a keyframe. */
	g_assert_true(tb_stream_rewriter_set_target(&rw, 0));
	frame(&rw, src, key1, &now, &c, a);
	g_assert_cmpint(rw.layer, ==, 1);
	frame(&rw, src, key0, &now, &c, a);
	g_assert_cmpint(rw.layer, ==, 0);
	g_assert_cmpuint(rw.switches, ==, 2);
	for (int i = 0; i < 5; i++)
		frame(&rw, src, none, &now, &c, a);
	/* Every packet forwarded continued the stream (check_out): frames of
	 * 24 + 2 + 21 + 1 + 6 in all, with the partial ones at the switches. */
	g_assert_cmpuint(c.forwarded, ==, rw.forwarded);
}

static void test_restart_after_mute(void)
{
	tb_stream_rewriter rw;
	layer_src src[2] = {{100, 1000, 10, 1, 0}, {0, 0, 0, 0, 0}};
	out_check c = {0};
	int64_t now = 5000000;
	tb_rewrite_action a[2][PACKETS_PER_FRAME];
	const bool key0[2] = {true, false}, none[2] = {false, false};
	uint32_t ts_before;

	tb_stream_rewriter_init(&rw, 90000, true, FIRST_SEQ, FIRST_TS);
	frame(&rw, src, key0, &now, &c, a);
	for (int i = 0; i < 10; i++)
		frame(&rw, src, none, &now, &c, a);
	ts_before = c.ts;
	/* Muted for two seconds: the source goes on, nothing is forwarded. */
	for (int i = 0; i < 2 * 30 * PACKETS_PER_FRAME; i++) {
		uint8_t buf[64];
		tb_rtp_header hdr;
		bool k;
		next_packet(&src[0], false, buf, &hdr, &k);
		now += FRAME_US / PACKETS_PER_FRAME;
	}
	tb_stream_rewriter_restart(&rw);
	frame(&rw, src, none, &now, &c, a);
	g_assert_cmpint(a[0][0], ==, TB_REWRITE_WANT_KEYFRAME);
	frame(&rw, src, key0, &now, &c, a);
	g_assert_cmpint(a[0][0], ==, TB_REWRITE_FORWARD);
	/* The timestamp moved on by about the time that passed. */
	g_assert_cmpint((int32_t)(c.ts - ts_before), >, 90000 * 3 / 2);
}

static void test_late_packet_not_duplicated(void)
{
	tb_stream_rewriter rw;
	uint8_t buf[64];
	tb_rtp_header hdr, late;
	layer_src a = {500, 0, 1, 1, 0}, b = {9000, 0, 1, 1, 0};
	uint16_t seq, late_seq;
	uint32_t ts;
	bool k;

	tb_stream_rewriter_init(&rw, 90000, true, FIRST_SEQ, FIRST_TS);
	next_packet(&a, true, buf, &hdr, &k);
	g_assert_cmpint(tb_stream_rewrite(&rw, 0, &hdr, k, 0, &seq, &ts), ==, TB_REWRITE_FORWARD);
	tb_stream_rewriter_set_target(&rw, 1);
	/* Layer 1: a delta packet that arrives after its successor key frame. */
	next_packet(&b, false, buf, &late, &k);
	b.packet_in_frame = 0;
	next_packet(&b, true, buf, &hdr, &k);
	g_assert_true(k);
	g_assert_cmpint(tb_stream_rewrite(&rw, 1, &hdr, k, 1000, &seq, &ts), ==,
			TB_REWRITE_FORWARD);
	g_assert_cmpuint(seq, ==, (uint16_t)(FIRST_SEQ + 1));
	g_assert_cmpint(tb_stream_rewrite(&rw, 1, &late, false, 2000, &late_seq, &ts), ==,
			TB_REWRITE_DROP);
	/* Retransmissions map only what the current offsets sent. */
	g_assert_false(tb_stream_rewrite_retransmission(&rw, &late, &late_seq, &ts));
	g_assert_true(tb_stream_rewrite_retransmission(&rw, &hdr, &late_seq, &ts));
	g_assert_cmpuint(late_seq, ==, (uint16_t)(FIRST_SEQ + 1));
}

static void test_audio_needs_no_keyframe(void)
{
	tb_stream_rewriter rw;
	tb_rtp_header hdr = {.seq = 7, .timestamp = 960};
	uint16_t seq;
	uint32_t ts;

	tb_stream_rewriter_init(&rw, 48000, false, FIRST_SEQ, FIRST_TS);
	g_assert_cmpint(tb_stream_rewrite(&rw, 0, &hdr, false, 0, &seq, &ts), ==,
			TB_REWRITE_FORWARD);
	g_assert_cmpuint(seq, ==, FIRST_SEQ);
	g_assert_false(tb_stream_rewriter_set_target(&rw, 0));
	tb_stream_rewriter_restart(&rw);
	hdr.seq = 500;
	hdr.timestamp = 100000;
	g_assert_cmpint(tb_stream_rewrite(&rw, 0, &hdr, false, 20000, &seq, &ts), ==,
			TB_REWRITE_FORWARD);
	g_assert_cmpuint(seq, ==, (uint16_t)(FIRST_SEQ + 1));
	g_assert_cmpuint(ts, ==, FIRST_TS + 960); /* 20 ms at 48 kHz */
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/simulcast/rank", test_rank_by_rate);
	g_test_add_func("/simulcast/rank-by-width", test_rank_by_width);
	g_test_add_func("/simulcast/choose", test_choose);
	g_test_add_func("/simulcast/vp8-width", test_vp8_width);
	g_test_add_func("/simulcast/switch-on-keyframe", test_switch_on_keyframe);
	g_test_add_func("/simulcast/restart-after-mute", test_restart_after_mute);
	g_test_add_func("/simulcast/late-packet", test_late_packet_not_duplicated);
	g_test_add_func("/simulcast/audio", test_audio_needs_no_keyframe);
	return g_test_run();
}
