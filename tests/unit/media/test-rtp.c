/* test-rtp.c — RTP header parsing, setters, RFC 8285 extensions and codec
 * payload descriptors, on hand-built packets shaped like Chrome's.
 *
 * Every parser also runs over every prefix of its sample, copied into a
 * buffer of exactly that size, so an out-of-bounds read shows up under
 * AddressSanitizer. Runs on the test's main thread.
 */
#include "common.h"
#include "rtp.h"

#include <string.h>

/* Chrome-style VP8 key frame, first packet: one-byte extensions
 * abs-send-time (id 2), transport-wide-cc (id 3) and mid (id 4). */
static const uint8_t vp8_key[] = {
	0x90, 0x60, 0x1a, 0x2b,       /* V=2 X=1, PT 96, seq 0x1a2b */
	0x00, 0x01, 0xe2, 0x40,       /* timestamp 123456 */
	0x12, 0x34, 0x56, 0x78,       /* SSRC */
	0xbe, 0xde, 0x00, 0x03,       /* one-byte form, 3 words */
	0x22, 0x12, 0x34, 0x56,       /* id 2, 3 bytes: abs-send-time 0x123456 */
	0x31, 0x00, 0x2a,             /* id 3, 2 bytes: transport seq 42 */
	0x40, 0x30,                   /* id 4, 1 byte: mid "0" */
	0x00, 0x00, 0x00,             /* padding to the word */
	0x90, 0x80, 0x92, 0x34,       /* VP8: X S PID 0; I; M picture id 0x1234 */
	0x50, 0x2b, 0x00, 0x9d, 0x01, /* frame tag P=0, key frame start code */
	0x2a, 0x80, 0x02, 0xe0, 0x01, /* 640x480 */
};
#define VP8_KEY_HEADER_LEN 28

/* Opus packet with two CSRCs, an audio level (id 1) and 4 bytes of RTP padding. */
static const uint8_t opus_padded[] = {
	0xb2, 0xef, 0x00, 0x07, /* V=2 P X CC=2, M, PT 111, seq 7 */
	0x00, 0x00, 0x03, 0xc0, /* timestamp 960 */
	0xca, 0xfe, 0xba, 0xbe, /* SSRC */
	0x00, 0x00, 0x00, 0x01, /* CSRC 1 */
	0x00, 0x00, 0x00, 0x02, /* CSRC 2 */
	0xbe, 0xde, 0x00, 0x01, /* one-byte form, 1 word */
	0x10, 0xaa, 0x00, 0x00, /* id 1, 1 byte: V=1, level 42 */
	0xfc, 0xff, 0xfe,       /* 3 payload bytes */
	0x00, 0x00, 0x00, 0x04, /* padding, count 4 */
};

/* Two-byte form (0x100X): id 1 with no data, a padding byte, id 200 "abc",
 * id 5 with 2 bytes: exactly 3 words. */
static const uint8_t two_byte[] = {
	0x90, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
	0x11, 0x11, 0x11, 0x11, 0x10, 0x00, 0x00, 0x03, /* two-byte form, appbits 0, 3 words */
	0x01, 0x00,                                     /* id 1, length 0 */
	0x00,                                           /* padding */
	0xc8, 0x03, 'a',  'b',  'c',                    /* id 200, length 3 */
	0x05, 0x02, 0xbe, 0xef,                         /* id 5, length 2 */
	0xde, 0xad,                                     /* payload */
};

static uint8_t *dup_exact(const uint8_t *src, size_t n)
{
	/* g_malloc(0) returns NULL, which every parser must accept with len 0. */
	return n ? g_memdup2(src, n) : NULL;
}

static void test_parse_chrome_vp8(void)
{
	tb_rtp_header h;
	tb_rtp_ext_iter it;
	const uint8_t *data;
	size_t len;
	uint8_t id;
	uint32_t abs;
	uint16_t tseq;
	tb_vp8_descriptor d;
	const uint8_t want_ids[] = {2, 3, 4}, want_lens[] = {3, 2, 1};
	unsigned n = 0;

	g_assert_cmpint(tb_rtp_parse(vp8_key, sizeof(vp8_key), &h), ==, 0);
	g_assert_cmpuint(h.version, ==, 2);
	g_assert_false(h.padding);
	g_assert_true(h.extension);
	g_assert_cmpuint(h.csrc_count, ==, 0);
	g_assert_false(h.marker);
	g_assert_cmpuint(h.payload_type, ==, 96);
	g_assert_cmpuint(h.seq, ==, 0x1a2b);
	g_assert_cmpuint(h.timestamp, ==, 123456);
	g_assert_cmpuint(h.ssrc, ==, 0x12345678);
	g_assert_cmpuint(h.ext_profile, ==, 0xbede);
	g_assert_cmpuint(h.ext_offset, ==, 16);
	g_assert_cmpuint(h.ext_len, ==, 12);
	g_assert_cmpuint(h.header_len, ==, VP8_KEY_HEADER_LEN);
	g_assert_cmpuint(h.payload_offset, ==, VP8_KEY_HEADER_LEN);
	g_assert_cmpuint(h.payload_len, ==, sizeof(vp8_key) - VP8_KEY_HEADER_LEN);
	g_assert_cmpuint(h.padding_len, ==, 0);
	g_assert_cmpint(tb_rtp_ext_form_of(&h), ==, TB_RTP_EXT_FORM_ONE_BYTE);

	tb_rtp_ext_iter_init(&it, vp8_key, &h);
	while (tb_rtp_ext_iter_next(&it, &id, &data, &len)) {
		g_assert_cmpuint(n, <, 3);
		g_assert_cmpuint(id, ==, want_ids[n]);
		g_assert_cmpuint(len, ==, want_lens[n]);
		n++;
	}
	g_assert_cmpuint(n, ==, 3);

	g_assert_true(tb_rtp_ext_find(vp8_key, &h, 2, &data, &len));
	g_assert_cmpint(tb_rtp_ext_read_abs_send_time(data, len, &abs), ==, 0);
	g_assert_cmphex(abs, ==, 0x123456);
	g_assert_true(tb_rtp_ext_find(vp8_key, &h, 3, &data, &len));
	g_assert_cmpint(tb_rtp_ext_read_transport_seq(data, len, &tseq), ==, 0);
	g_assert_cmpuint(tseq, ==, 42);
	g_assert_true(tb_rtp_ext_find(vp8_key, &h, 4, &data, &len));
	g_assert_cmpmem(data, len, "0", 1);
	g_assert_false(tb_rtp_ext_find(vp8_key, &h, 1, NULL, NULL));
	g_assert_false(tb_rtp_ext_find(vp8_key, &h, 0, NULL, NULL));
	g_assert_false(tb_rtp_ext_find(vp8_key, &h, 15, NULL, NULL));

	g_assert_true(tb_vp8_is_keyframe(vp8_key + h.payload_offset, h.payload_len));
	g_assert_cmpint(tb_vp8_parse_descriptor(vp8_key + h.payload_offset, h.payload_len, &d), ==,
			0);
	g_assert_true(d.start);
	g_assert_true(d.has_picture_id);
	g_assert_true(d.picture_id_15);
	g_assert_cmpuint(d.picture_id, ==, 0x1234);
	g_assert_false(d.has_tl0picidx);
	g_assert_cmpuint(d.header_len, ==, 4);
}

static void test_parse_csrc_padding(void)
{
	tb_rtp_header h;
	const uint8_t *data;
	size_t len;
	bool voice;
	uint8_t level;

	g_assert_cmpint(tb_rtp_parse(opus_padded, sizeof(opus_padded), &h), ==, 0);
	g_assert_true(h.padding);
	g_assert_true(h.marker);
	g_assert_cmpuint(h.csrc_count, ==, 2);
	g_assert_cmpuint(h.payload_type, ==, 111);
	g_assert_cmpuint(h.timestamp, ==, 960);
	g_assert_cmpuint(h.ext_offset, ==, 24);
	g_assert_cmpuint(h.ext_len, ==, 4);
	g_assert_cmpuint(h.header_len, ==, 28);
	g_assert_cmpuint(h.padding_len, ==, 4);
	g_assert_cmpuint(h.payload_len, ==, 3);
	g_assert_cmpmem(opus_padded + h.payload_offset, h.payload_len, "\xfc\xff\xfe", 3);

	g_assert_true(tb_rtp_ext_find(opus_padded, &h, 1, &data, &len));
	g_assert_cmpint(tb_rtp_ext_read_audio_level(data, len, &voice, &level), ==, 0);
	g_assert_true(voice);
	g_assert_cmpuint(level, ==, 42);
	g_assert_cmpint(tb_rtp_ext_read_audio_level(data, 0, &voice, &level), ==, TB_EINVAL);
}

/* Parses every prefix of SAMPLE and everything reachable from it; with
 * PADDED false, a prefix parses exactly when it holds the whole header. */
static void check_prefixes(const uint8_t *sample, size_t size, size_t header_len, bool padded)
{
	for (size_t n = 0; n <= size; n++) {
		uint8_t *buf = dup_exact(sample, n);
		tb_rtp_header h;
		int rc = tb_rtp_parse(buf, n, &h);

		if (!padded)
			g_assert_cmpint(rc, ==, n >= header_len ? 0 : TB_EINVAL);
		if (rc == 0) {
			tb_rtp_ext_iter it;
			const uint8_t *data;
			size_t len;
			uint8_t id;
			tb_vp8_descriptor d8;
			tb_vp9_descriptor d9;
			const uint8_t *payload = buf + h.payload_offset;

			g_assert_cmpuint(h.header_len + h.payload_len + h.padding_len, ==, n);
			tb_rtp_ext_iter_init(&it, buf, &h);
			while (tb_rtp_ext_iter_next(&it, &id, &data, &len)) {
				g_assert_true(data >= buf + h.ext_offset);
				g_assert_true(data + len <= buf + h.ext_offset + h.ext_len);
			}
			(void)tb_vp8_parse_descriptor(payload, h.payload_len, &d8);
			(void)tb_vp9_parse_descriptor(payload, h.payload_len, &d9);
			(void)tb_vp8_is_keyframe(payload, h.payload_len);
			(void)tb_vp9_is_keyframe(payload, h.payload_len);
			(void)tb_h264_is_keyframe(payload, h.payload_len);
		}
		g_free(buf);
	}
}

static void test_parse_prefixes(void)
{
	check_prefixes(vp8_key, sizeof(vp8_key), VP8_KEY_HEADER_LEN, false);
	check_prefixes(two_byte, sizeof(two_byte), 28, false);
	check_prefixes(opus_padded, sizeof(opus_padded), 28, true);
}

static void expect_reject(const uint8_t *bytes, size_t n)
{
	uint8_t *buf = dup_exact(bytes, n);
	tb_rtp_header h;

	g_assert_cmpint(tb_rtp_parse(buf, n, &h), ==, TB_EINVAL);
	g_free(buf);
}

static void test_parse_rejects(void)
{
	uint8_t p[sizeof(vp8_key)];

	/* Versions 0, 1 and 3. */
	for (uint8_t v = 0; v < 4; v++) {
		if (v == 2)
			continue;
		memcpy(p, vp8_key, sizeof(p));
		p[0] = (uint8_t)((p[0] & 0x3f) | (v << 6));
		expect_reject(p, sizeof(p));
	}
	/* Shorter than the fixed header. */
	expect_reject(vp8_key, 11);
	/* CC = 15 needs 72 bytes. */
	memcpy(p, vp8_key, sizeof(p));
	p[0] = 0x8f;
	expect_reject(p, sizeof(p));
	/* Extension bit with the extension header cut. */
	expect_reject(vp8_key, 14);
	/* Extension length running past the packet. */
	memcpy(p, vp8_key, sizeof(p));
	p[14] = 0xff;
	p[15] = 0xff;
	expect_reject(p, sizeof(p));
	/* Padding count 0. */
	{
		uint8_t q[sizeof(opus_padded)];

		memcpy(q, opus_padded, sizeof(q));
		q[sizeof(q) - 1] = 0;
		expect_reject(q, sizeof(q));
		/* Padding larger than the payload (7 bytes follow the header). */
		q[sizeof(q) - 1] = 8;
		expect_reject(q, sizeof(q));
		q[sizeof(q) - 1] = 7; /* all of it: valid, empty payload */
		{
			tb_rtp_header h;

			g_assert_cmpint(tb_rtp_parse(q, sizeof(q), &h), ==, 0);
			g_assert_cmpuint(h.payload_len, ==, 0);
		}
	}
	/* P bit on a bare header: the count byte would be inside the header. */
	{
		const uint8_t bare[] = {0xa0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};

		expect_reject(bare, sizeof(bare));
	}
}

static void test_setters(void)
{
	uint8_t p[sizeof(vp8_key)];
	tb_rtp_header h;

	memcpy(p, vp8_key, sizeof(p));
	g_assert_cmpint(tb_rtp_set_payload_type(p, sizeof(p), 100), ==, 0);
	g_assert_cmpint(tb_rtp_set_seq(p, sizeof(p), 0xfffe), ==, 0);
	g_assert_cmpint(tb_rtp_set_timestamp(p, sizeof(p), 0xdeadbeef), ==, 0);
	g_assert_cmpint(tb_rtp_set_ssrc(p, sizeof(p), 0x01020304), ==, 0);
	g_assert_cmpint(tb_rtp_set_marker(p, sizeof(p), true), ==, 0);
	g_assert_cmpint(tb_rtp_parse(p, sizeof(p), &h), ==, 0);
	g_assert_cmpuint(h.payload_type, ==, 100);
	g_assert_true(h.marker);
	g_assert_cmpuint(h.seq, ==, 0xfffe);
	g_assert_cmphex(h.timestamp, ==, 0xdeadbeef);
	g_assert_cmphex(h.ssrc, ==, 0x01020304);
	g_assert_true(h.extension);
	g_assert_cmpuint(h.header_len, ==, VP8_KEY_HEADER_LEN);

	/* Marker and payload type share a byte: each keeps the other. */
	g_assert_cmpint(tb_rtp_set_payload_type(p, sizeof(p), 127), ==, 0);
	g_assert_cmphex(p[1], ==, 0xff);
	g_assert_cmpint(tb_rtp_set_marker(p, sizeof(p), false), ==, 0);
	g_assert_cmphex(p[1], ==, 0x7f);
	g_assert_cmpmem(p + 12, sizeof(p) - 12, vp8_key + 12, sizeof(p) - 12);

	/* Refusals write nothing. */
	memcpy(p, vp8_key, sizeof(p));
	g_assert_cmpint(tb_rtp_set_payload_type(p, sizeof(p), 128), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtp_set_payload_type(p, 11, 1), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtp_set_seq(p, 11, 1), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtp_set_timestamp(p, 11, 1), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtp_set_ssrc(p, 11, 1), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtp_set_marker(p, 11, true), ==, TB_EINVAL);
	g_assert_cmpmem(p, sizeof(p), vp8_key, sizeof(p));
}

static void test_ext_two_byte(void)
{
	uint8_t p[sizeof(two_byte)];
	tb_rtp_header h;
	const uint8_t *data;
	size_t len;
	uint8_t map[256] = {0};

	g_assert_cmpint(tb_rtp_parse(two_byte, sizeof(two_byte), &h), ==, 0);
	g_assert_cmpint(tb_rtp_ext_form_of(&h), ==, TB_RTP_EXT_FORM_TWO_BYTE);
	g_assert_true(tb_rtp_ext_find(two_byte, &h, 1, &data, &len));
	g_assert_cmpuint(len, ==, 0);
	g_assert_true(tb_rtp_ext_find(two_byte, &h, 200, &data, &len));
	g_assert_cmpmem(data, len, "abc", 3);
	g_assert_true(tb_rtp_ext_find(two_byte, &h, 5, &data, &len));
	g_assert_cmpmem(data, len, "\xbe\xef", 2);
	g_assert_false(tb_rtp_ext_find(two_byte, &h, 7, &data, &len));
	g_assert_cmpmem(two_byte + h.payload_offset, h.payload_len, "\xde\xad", 2);

	/* Appbits in the profile's low nibble are still the two-byte form. */
	memcpy(p, two_byte, sizeof(p));
	p[13] = 0x0f;
	g_assert_cmpint(tb_rtp_parse(p, sizeof(p), &h), ==, 0);
	g_assert_true(tb_rtp_ext_find(p, &h, 200, NULL, NULL));

	/* Remap: 200 -> 9 (above the one-byte range: fine here), drop 1, keep 5. */
	memcpy(p, two_byte, sizeof(p));
	g_assert_cmpint(tb_rtp_parse(p, sizeof(p), &h), ==, 0);
	map[200] = 9;
	map[5] = 5;
	g_assert_cmpint(tb_rtp_ext_remap(p, sizeof(p), &h, map), ==, 0);
	g_assert_cmphex(p[16], ==, 0);
	g_assert_cmphex(p[17], ==, 0);
	g_assert_cmpint(tb_rtp_parse(p, sizeof(p), &h), ==, 0);
	g_assert_false(tb_rtp_ext_find(p, &h, 1, NULL, NULL));
	g_assert_false(tb_rtp_ext_find(p, &h, 200, NULL, NULL));
	g_assert_true(tb_rtp_ext_find(p, &h, 9, &data, &len));
	g_assert_cmpmem(data, len, "abc", 3);
	g_assert_true(tb_rtp_ext_find(p, &h, 5, &data, &len));
	g_assert_cmpmem(data, len, "\xbe\xef", 2);
	g_assert_cmpmem(p + h.payload_offset, h.payload_len, "\xde\xad", 2);

	/* An unknown profile is not RFC 8285: nothing to iterate or remap. */
	memcpy(p, two_byte, sizeof(p));
	p[12] = 0x12;
	g_assert_cmpint(tb_rtp_parse(p, sizeof(p), &h), ==, 0);
	g_assert_cmpint(tb_rtp_ext_form_of(&h), ==, TB_RTP_EXT_FORM_NONE);
	g_assert_false(tb_rtp_ext_find(p, &h, 200, NULL, NULL));
	g_assert_cmpint(tb_rtp_ext_remap(p, sizeof(p), &h, map), ==, 0);
	g_assert_cmphex(p[16], ==, 0x01);
}

static void test_ext_one_byte_edges(void)
{
	/* id 0 with a non-zero length nibble is a single padding byte; id 15
	 * stops parsing even though id 2 follows. */
	const uint8_t stop[] = {
		0x90, 0x60, 0,    1,    0,    0,    0,    1,    0,    0,    0,    1,    0xbe,
		0xde, 0x00, 0x02, 0x03, 0x10, 0x07, 0xf0, 0x22, 0x01, 0x02, 0x03, 0x99,
	};
	/* The second element claims 16 bytes in a 4-byte block. */
	const uint8_t overrun[] = {
		0x90, 0x60, 0,    1,    0,    0,    0,    1,    0,    0,    0,
		1,    0xbe, 0xde, 0x00, 0x01, 0x10, 0x07, 0x2f, 0x00, 0x99,
	};
	/* Two-byte element whose length byte is cut by the block end. */
	const uint8_t cut2[] = {
		0x90, 0x60, 0,    1,    0,    0,    0,    1,    0,    0,    0,
		1,    0x10, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07, 0x99,
	};
	tb_rtp_header h;
	const uint8_t *data;
	size_t len;
	uint8_t map[256];
	uint8_t p[sizeof(stop)];

	g_assert_cmpint(tb_rtp_parse(stop, sizeof(stop), &h), ==, 0);
	g_assert_true(tb_rtp_ext_find(stop, &h, 1, &data, &len));
	g_assert_cmpuint(len, ==, 1);
	g_assert_cmphex(data[0], ==, 0x07);
	g_assert_false(tb_rtp_ext_find(stop, &h, 2, NULL, NULL));
	g_assert_false(tb_rtp_ext_find(stop, &h, 15, NULL, NULL));

	/* Remap leaves what follows id 15 alone. */
	for (unsigned i = 0; i < 256; i++)
		map[i] = 0;
	memcpy(p, stop, sizeof(p));
	g_assert_cmpint(tb_rtp_ext_remap(p, sizeof(p), &h, map), ==, 0);
	g_assert_cmpmem(p + 16, 3, "\x03\x00\x00", 3);
	g_assert_cmpmem(p + 19, 6, stop + 19, 6);

	g_assert_cmpint(tb_rtp_parse(overrun, sizeof(overrun), &h), ==, 0);
	g_assert_true(tb_rtp_ext_find(overrun, &h, 1, &data, &len));
	g_assert_false(tb_rtp_ext_find(overrun, &h, 2, NULL, NULL));

	g_assert_cmpint(tb_rtp_parse(cut2, sizeof(cut2), &h), ==, 0);
	g_assert_false(tb_rtp_ext_find(cut2, &h, 7, NULL, NULL));
}

static void test_ext_remap_one_byte(void)
{
	uint8_t p[sizeof(vp8_key)], before[sizeof(vp8_key)];
	tb_rtp_header h, h2;
	uint8_t map[256] = {0};
	const uint8_t *data;
	size_t len;
	uint32_t abs;

	memcpy(p, vp8_key, sizeof(p));
	g_assert_cmpint(tb_rtp_parse(p, sizeof(p), &h), ==, 0);
	map[2] = 5;
	map[3] = 0; /* transport-cc not negotiated with this subscriber */
	map[4] = 4;
	g_assert_cmpint(tb_rtp_ext_remap(p, sizeof(p), &h, map), ==, 0);
	/* Element 3 (3 bytes at offset 20) is now zero padding. */
	g_assert_cmpmem(p + 20, 3, "\0\0\0", 3);
	g_assert_cmphex(p[16], ==, 0x52);
	g_assert_cmpint(tb_rtp_parse(p, sizeof(p), &h2), ==, 0);
	g_assert_cmpuint(h2.header_len, ==, h.header_len);
	g_assert_cmpuint(h2.payload_len, ==, h.payload_len);
	g_assert_true(tb_rtp_ext_find(p, &h2, 5, &data, &len));
	g_assert_cmpint(tb_rtp_ext_read_abs_send_time(data, len, &abs), ==, 0);
	g_assert_cmphex(abs, ==, 0x123456);
	g_assert_false(tb_rtp_ext_find(p, &h2, 2, NULL, NULL));
	g_assert_false(tb_rtp_ext_find(p, &h2, 3, NULL, NULL));
	g_assert_true(tb_rtp_ext_find(p, &h2, 4, &data, &len));
	g_assert_cmpmem(data, len, "0", 1);
	g_assert_true(tb_vp8_is_keyframe(p + h2.payload_offset, h2.payload_len));

	/* A one-byte id cannot become 15 or more: refused, packet untouched. */
	memcpy(p, vp8_key, sizeof(p));
	memcpy(before, p, sizeof(p));
	map[3] = 3;
	map[4] = 15;
	g_assert_cmpint(tb_rtp_ext_remap(p, sizeof(p), &h, map), ==, TB_EINVAL);
	g_assert_cmpmem(p, sizeof(p), before, sizeof(before));

	/* A view that does not fit the buffer is refused. */
	map[4] = 4;
	g_assert_cmpint(tb_rtp_ext_remap(p, 20, &h, map), ==, TB_EINVAL);
	g_assert_cmpmem(p, sizeof(p), before, sizeof(before));

	/* No extension: nothing to do. */
	{
		uint8_t plain[] = {0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x10, 0x00};

		g_assert_cmpint(tb_rtp_parse(plain, sizeof(plain), &h), ==, 0);
		g_assert_cmpint(tb_rtp_ext_remap(plain, sizeof(plain), &h, map), ==, 0);
		g_assert_false(tb_rtp_ext_find(plain, &h, 1, NULL, NULL));
	}
}

static void test_ext_values(void)
{
	uint8_t p[sizeof(vp8_key)];
	tb_rtp_header h;
	uint8_t *data;
	size_t len;
	uint32_t abs;
	uint16_t seq;

	memcpy(p, vp8_key, sizeof(p));
	g_assert_cmpint(tb_rtp_parse(p, sizeof(p), &h), ==, 0);
	g_assert_true(tb_rtp_ext_find_mut(p, &h, 2, &data, &len));
	g_assert_cmpint(tb_rtp_ext_write_abs_send_time(data, len, 0xabcdef), ==, 0);
	g_assert_cmpint(tb_rtp_ext_write_abs_send_time(data, 2, 1), ==, TB_EINVAL);
	g_assert_true(tb_rtp_ext_find_mut(p, &h, 3, &data, &len));
	g_assert_cmpint(tb_rtp_ext_write_transport_seq(data, len, 0xfffe), ==, 0);
	g_assert_cmpint(tb_rtp_ext_write_transport_seq(data, 1, 1), ==, TB_EINVAL);
	g_assert_cmpmem(p + 16, 7, "\x22\xab\xcd\xef\x31\xff\xfe", 7);

	g_assert_true(tb_rtp_ext_find_mut(p, &h, 2, &data, &len));
	g_assert_cmpint(tb_rtp_ext_read_abs_send_time(data, len, &abs), ==, 0);
	g_assert_cmphex(abs, ==, 0xabcdef);
	g_assert_cmpint(tb_rtp_ext_read_abs_send_time(data, 2, &abs), ==, TB_EINVAL);
	g_assert_true(tb_rtp_ext_find_mut(p, &h, 3, &data, &len));
	g_assert_cmpint(tb_rtp_ext_read_transport_seq(data, len, &seq), ==, 0);
	g_assert_cmpuint(seq, ==, 0xfffe);
	g_assert_cmpint(tb_rtp_ext_read_transport_seq(data, 1, &seq), ==, TB_EINVAL);
	g_assert_false(tb_rtp_ext_find_mut(p, &h, 9, &data, &len));
	g_assert_null(data);

	/* 6.18 fixed point seconds, wrapping every 64 s. */
	g_assert_cmphex(tb_rtp_abs_send_time_from_us(0), ==, 0);
	g_assert_cmphex(tb_rtp_abs_send_time_from_us(1000000), ==, 0x040000);
	g_assert_cmphex(tb_rtp_abs_send_time_from_us(500000), ==, 0x020000);
	g_assert_cmphex(tb_rtp_abs_send_time_from_us(63500000), ==, 0xfe0000);
	g_assert_cmphex(tb_rtp_abs_send_time_from_us(64000000), ==, 0);
	g_assert_cmphex(tb_rtp_abs_send_time_from_us(64000000ULL * 1000000 + 1000000), ==,
			0x040000);
	g_assert_cmphex(tb_rtp_abs_send_time_from_us(UINT64_MAX), <=, 0xffffff);
}

static void test_vp8(void)
{
	static const uint8_t minimal_key[] = {0x10, 0x00};
	static const uint8_t minimal_delta[] = {0x10, 0x01};
	static const uint8_t not_start[] = {0x00, 0x00};
	static const uint8_t second_partition[] = {0x11, 0x00};
	static const uint8_t short_pid[] = {0x90, 0x80, 0x05, 0x00};
	/* X; I L T K; 15-bit picture id 0x0123; TL0PICIDX 0x17; TID 2, Y, KEYIDX 3 */
	static const uint8_t full[] = {0x90, 0xf0, 0x81, 0x23, 0x17, 0xa3, 0x00, 0x9d};
	static const uint8_t k_only[] = {0x90, 0x10, 0x05, 0x00};
	tb_vp8_descriptor d;
	uint8_t p[sizeof(full)];

	g_assert_true(tb_vp8_is_keyframe(minimal_key, sizeof(minimal_key)));
	g_assert_cmpint(tb_vp8_parse_descriptor(minimal_key, 2, &d), ==, 0);
	g_assert_cmpuint(d.header_len, ==, 1);
	g_assert_false(tb_vp8_is_keyframe(minimal_delta, sizeof(minimal_delta)));
	g_assert_false(tb_vp8_is_keyframe(not_start, sizeof(not_start)));
	g_assert_false(tb_vp8_is_keyframe(second_partition, sizeof(second_partition)));
	g_assert_false(tb_vp8_is_keyframe(minimal_key, 1)); /* no frame tag */
	g_assert_false(tb_vp8_is_keyframe(NULL, 0));

	g_assert_cmpint(tb_vp8_parse_descriptor(short_pid, sizeof(short_pid), &d), ==, 0);
	g_assert_true(d.has_picture_id);
	g_assert_false(d.picture_id_15);
	g_assert_cmpuint(d.picture_id, ==, 5);
	g_assert_cmpuint(d.header_len, ==, 3);
	g_assert_true(tb_vp8_is_keyframe(short_pid, sizeof(short_pid)));

	g_assert_cmpint(tb_vp8_parse_descriptor(full, sizeof(full), &d), ==, 0);
	g_assert_true(d.picture_id_15);
	g_assert_cmpuint(d.picture_id, ==, 0x0123);
	g_assert_true(d.has_tl0picidx);
	g_assert_cmpuint(d.tl0picidx, ==, 0x17);
	g_assert_true(d.has_tid);
	g_assert_cmpuint(d.tid, ==, 2);
	g_assert_true(d.layer_sync);
	g_assert_true(d.has_keyidx);
	g_assert_cmpuint(d.keyidx, ==, 3);
	g_assert_cmpuint(d.header_len, ==, 6);
	g_assert_true(tb_vp8_is_keyframe(full, sizeof(full)));

	g_assert_cmpint(tb_vp8_parse_descriptor(k_only, sizeof(k_only), &d), ==, 0);
	g_assert_false(d.has_tid);
	g_assert_true(d.has_keyidx);
	g_assert_cmpuint(d.keyidx, ==, 5);
	g_assert_cmpuint(d.header_len, ==, 3);

	/* Every strict prefix that cuts the descriptor or leaves no payload fails. */
	for (size_t n = 0; n <= sizeof(full); n++) {
		uint8_t *buf = dup_exact(full, n);

		g_assert_cmpint(tb_vp8_parse_descriptor(buf, n, &d), ==, n > 6 ? 0 : TB_EINVAL);
		g_assert_true(tb_vp8_is_keyframe(buf, n) == (n > 6));
		g_free(buf);
	}

	/* Rewrites keep the wire width. */
	memcpy(p, full, sizeof(p));
	g_assert_cmpint(tb_vp8_set_picture_id(p, sizeof(p), 0x7ffe), ==, 0);
	g_assert_cmpint(tb_vp8_parse_descriptor(p, sizeof(p), &d), ==, 0);
	g_assert_cmpuint(d.picture_id, ==, 0x7ffe);
	g_assert_cmpint(tb_vp8_set_picture_id(p, sizeof(p), 0x8001), ==, 0);
	g_assert_cmpint(tb_vp8_parse_descriptor(p, sizeof(p), &d), ==, 0);
	g_assert_true(d.picture_id_15);
	g_assert_cmpuint(d.picture_id, ==, 1);
	g_assert_cmpint(tb_vp8_set_tl0picidx(p, sizeof(p), 0xff), ==, 0);
	g_assert_cmpint(tb_vp8_parse_descriptor(p, sizeof(p), &d), ==, 0);
	g_assert_cmpuint(d.tl0picidx, ==, 0xff);
	g_assert_cmpuint(d.tid, ==, 2);
	g_assert_cmpmem(p + 5, 3, full + 5, 3);
	{
		uint8_t q[sizeof(short_pid)];

		memcpy(q, short_pid, sizeof(q));
		g_assert_cmpint(tb_vp8_set_picture_id(q, sizeof(q), 200), ==, 0);
		g_assert_cmphex(q[2], ==, 200 & 0x7f);
		g_assert_cmpint(tb_vp8_set_tl0picidx(q, sizeof(q), 1), ==, TB_ENOENT);
		g_assert_cmpint(tb_vp8_set_picture_id(q, 2, 1), ==, TB_EINVAL);
	}
	{
		uint8_t q[] = {0x10, 0x00};

		g_assert_cmpint(tb_vp8_set_picture_id(q, sizeof(q), 1), ==, TB_ENOENT);
		g_assert_cmpmem(q, 2, minimal_key, 2);
	}
}

static void test_vp9(void)
{
	/* I L B, non-flexible; picture id 0x0102; TID 0 SID 0; TL0PICIDX 7 */
	static const uint8_t key[] = {0xa8, 0x81, 0x02, 0x00, 0x07, 0x82};
	/* same, spatial layer 1 */
	static const uint8_t key_sl1[] = {0xa8, 0x81, 0x02, 0x02, 0x07, 0x82};
	/* I P F B; 7-bit picture id 5; P_DIFF 1 (N), P_DIFF 2 */
	static const uint8_t flex_delta[] = {0xd8, 0x05, 0x03, 0x04, 0x00};
	/* four P_DIFFs chained: at most three are allowed */
	static const uint8_t flex_bad[] = {0xd8, 0x05, 0x03, 0x05, 0x07, 0x08, 0x00};
	/* I B V; picture id 1; SS: 1 layer with resolution 640x480, 1 group
	 * (T 0, U 0, R 1, P_DIFF 1) */
	static const uint8_t key_ss[] = {0x8a, 0x01, 0x18, 0x02, 0x80, 0x01,
					 0xe0, 0x01, 0x04, 0x01, 0x82};
	static const uint8_t p_and_b[] = {0x48, 0x00};
	static const uint8_t no_b[] = {0x00, 0x00};
	tb_vp9_descriptor d;
	uint8_t p[sizeof(key)];

	g_assert_cmpint(tb_vp9_parse_descriptor(key, sizeof(key), &d), ==, 0);
	g_assert_true(d.has_picture_id);
	g_assert_true(d.picture_id_15);
	g_assert_cmpuint(d.picture_id, ==, 0x0102);
	g_assert_true(d.has_layers);
	g_assert_cmpuint(d.sid, ==, 0);
	g_assert_true(d.has_tl0picidx);
	g_assert_cmpuint(d.tl0picidx, ==, 7);
	g_assert_cmpuint(d.header_len, ==, 5);
	g_assert_true(tb_vp9_is_keyframe(key, sizeof(key)));
	g_assert_false(tb_vp9_is_keyframe(key_sl1, sizeof(key_sl1)));
	g_assert_false(tb_vp9_is_keyframe(p_and_b, sizeof(p_and_b)));
	g_assert_false(tb_vp9_is_keyframe(no_b, sizeof(no_b)));
	g_assert_false(tb_vp9_is_keyframe(key, 5)); /* no payload */

	g_assert_cmpint(tb_vp9_parse_descriptor(flex_delta, sizeof(flex_delta), &d), ==, 0);
	g_assert_true(d.flexible);
	g_assert_true(d.inter_picture);
	g_assert_false(d.picture_id_15);
	g_assert_cmpuint(d.picture_id, ==, 5);
	g_assert_cmpuint(d.num_ref_pics, ==, 2);
	g_assert_cmpuint(d.p_diff[0], ==, 1);
	g_assert_cmpuint(d.p_diff[1], ==, 2);
	g_assert_cmpuint(d.header_len, ==, 4);
	g_assert_false(tb_vp9_is_keyframe(flex_delta, sizeof(flex_delta)));
	g_assert_cmpint(tb_vp9_parse_descriptor(flex_bad, sizeof(flex_bad), &d), ==, TB_EINVAL);

	g_assert_cmpint(tb_vp9_parse_descriptor(key_ss, sizeof(key_ss), &d), ==, 0);
	g_assert_true(d.has_ss);
	g_assert_cmpuint(d.header_len, ==, 10);
	g_assert_true(tb_vp9_is_keyframe(key_ss, sizeof(key_ss)));
	for (size_t n = 0; n <= sizeof(key_ss); n++) {
		uint8_t *buf = dup_exact(key_ss, n);

		g_assert_cmpint(tb_vp9_parse_descriptor(buf, n, &d), ==, n > 10 ? 0 : TB_EINVAL);
		g_free(buf);
	}
	for (size_t n = 0; n <= sizeof(flex_delta); n++) {
		uint8_t *buf = dup_exact(flex_delta, n);

		g_assert_cmpint(tb_vp9_parse_descriptor(buf, n, &d), ==, n > 4 ? 0 : TB_EINVAL);
		g_free(buf);
	}

	memcpy(p, key, sizeof(p));
	g_assert_cmpint(tb_vp9_set_picture_id(p, sizeof(p), 0x7001), ==, 0);
	g_assert_cmpint(tb_vp9_set_tl0picidx(p, sizeof(p), 9), ==, 0);
	g_assert_cmpint(tb_vp9_parse_descriptor(p, sizeof(p), &d), ==, 0);
	g_assert_cmpuint(d.picture_id, ==, 0x7001);
	g_assert_cmpuint(d.tl0picidx, ==, 9);
	g_assert_cmpint(tb_vp9_set_tl0picidx(NULL, 0, 1), ==, TB_EINVAL);
	{
		uint8_t q[sizeof(flex_delta)];

		memcpy(q, flex_delta, sizeof(q));
		g_assert_cmpint(tb_vp9_set_tl0picidx(q, sizeof(q), 1), ==, TB_ENOENT);
		g_assert_cmpint(tb_vp9_set_picture_id(q, sizeof(q), 0x85), ==, 0);
		g_assert_cmphex(q[1], ==, 0x05);
	}
}

static void test_h264(void)
{
	static const uint8_t idr[] = {0x65, 0x88, 0x84};
	static const uint8_t sps[] = {0x67, 0x42, 0x00, 0x1f};
	static const uint8_t pps[] = {0x68, 0xce, 0x3c};
	static const uint8_t non_idr[] = {0x41, 0x9a};
	static const uint8_t stap_key[] = {0x78, 0x00, 0x04, 0x67, 0x42, 0x00, 0x1f, 0x00,
					   0x02, 0x68, 0xce, 0x00, 0x02, 0x65, 0x88};
	static const uint8_t stap_delta[] = {0x78, 0x00, 0x02, 0x41, 0x9a, 0x00, 0x02, 0x41, 0x9b};
	static const uint8_t stap_overrun[] = {0x78, 0x00, 0x04, 0x67, 0x42, 0x00,
					       0x1f, 0x00, 0x05, 0x65, 0x88};
	static const uint8_t stap_zero[] = {0x78, 0x00, 0x00, 0x00, 0x02, 0x65, 0x88};
	static const uint8_t stap_trailing[] = {0x78, 0x00, 0x02, 0x65, 0x88, 0x00};
	static const uint8_t fu_start_idr[] = {0x7c, 0x85, 0xb8};
	static const uint8_t fu_mid_idr[] = {0x7c, 0x05, 0xb8};
	static const uint8_t fu_start_p[] = {0x7c, 0x81, 0x9a};
	static const uint8_t fu_empty[] = {0x7c, 0x85};
	static const uint8_t stap_b[] = {0x79, 0x00, 0x01, 0x00, 0x02, 0x65, 0x88};
	static const uint8_t fu_b[] = {0x7d, 0x85, 0x00, 0x01, 0xb8};

	g_assert_true(tb_h264_is_keyframe(idr, sizeof(idr)));
	g_assert_true(tb_h264_is_keyframe(sps, sizeof(sps)));
	g_assert_false(tb_h264_is_keyframe(pps, sizeof(pps)));
	g_assert_false(tb_h264_is_keyframe(non_idr, sizeof(non_idr)));
	g_assert_true(tb_h264_is_keyframe(stap_key, sizeof(stap_key)));
	g_assert_false(tb_h264_is_keyframe(stap_delta, sizeof(stap_delta)));
	g_assert_false(tb_h264_is_keyframe(stap_overrun, sizeof(stap_overrun)));
	g_assert_false(tb_h264_is_keyframe(stap_zero, sizeof(stap_zero)));
	g_assert_false(tb_h264_is_keyframe(stap_trailing, sizeof(stap_trailing)));
	g_assert_true(tb_h264_is_keyframe(fu_start_idr, sizeof(fu_start_idr)));
	g_assert_false(tb_h264_is_keyframe(fu_mid_idr, sizeof(fu_mid_idr)));
	g_assert_false(tb_h264_is_keyframe(fu_start_p, sizeof(fu_start_p)));
	g_assert_false(tb_h264_is_keyframe(fu_empty, sizeof(fu_empty)));
	g_assert_false(tb_h264_is_keyframe(stap_b, sizeof(stap_b)));
	g_assert_false(tb_h264_is_keyframe(fu_b, sizeof(fu_b)));
	g_assert_false(tb_h264_is_keyframe(NULL, 0));
	{
		const uint8_t type0[] = {0x00, 0x00};

		g_assert_false(tb_h264_is_keyframe(type0, sizeof(type0)));
	}

	/* Every prefix of the STAP-A is read safely; only the whole one (or
	 * one ending on a unit boundary that already holds the SPS) is key. */
	for (size_t n = 0; n <= sizeof(stap_key); n++) {
		uint8_t *buf = dup_exact(stap_key, n);

		g_assert_true(tb_h264_is_keyframe(buf, n) == (n == 7 || n == 11 || n == 15));
		g_free(buf);
	}
}

/* Random bytes through every parser, and remap with a random map: nothing
 * may read or write out of bounds, and a parseable packet stays parseable
 * with the same layout. The seed comes from GTest (--seed to replay). */
static void test_random_input(void)
{
	uint8_t map[256];

	for (unsigned round = 0; round < 20000; round++) {
		size_t n = (size_t)g_test_rand_int_range(0, 80);
		uint8_t *buf = g_malloc(n ? n : 1);
		tb_rtp_header h, h2;

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)g_test_rand_int();
		if (n > 0 && round % 2 == 0)
			buf[0] = (uint8_t)(0x80 | (buf[0] & 0x3f)); /* version 2 */
		if (n >= 16 && round % 4 == 0) {
			buf[0] = (uint8_t)((buf[0] & 0xf0) | 0x10); /* X, no CSRC */
			buf[12] = round % 8 == 0 ? 0xbe : 0x10;
			buf[13] = round % 8 == 0 ? 0xde : 0x00;
			buf[14] = 0;
			buf[15] = (uint8_t)g_test_rand_int_range(0, 16);
		}
		for (unsigned i = 0; i < 256; i++)
			map[i] = (uint8_t)g_test_rand_int_range(0, 15);

		if (tb_rtp_parse(buf, n, &h) == 0) {
			const uint8_t *payload = buf + h.payload_offset;

			g_assert_cmpuint(h.header_len + h.payload_len + h.padding_len, ==, n);
			(void)tb_rtp_ext_find(buf, &h, (uint8_t)g_test_rand_int(), NULL, NULL);
			g_assert_cmpint(tb_rtp_ext_remap(buf, n, &h, map), ==, 0);
			g_assert_cmpint(tb_rtp_parse(buf, n, &h2), ==, 0);
			g_assert_cmpuint(h2.header_len, ==, h.header_len);
			g_assert_cmpuint(h2.payload_len, ==, h.payload_len);
			(void)tb_vp8_is_keyframe(payload, h.payload_len);
			(void)tb_vp9_is_keyframe(payload, h.payload_len);
			(void)tb_h264_is_keyframe(payload, h.payload_len);
		}
		(void)tb_vp8_set_picture_id(buf, n, 1);
		(void)tb_vp8_set_tl0picidx(buf, n, 1);
		(void)tb_vp9_set_picture_id(buf, n, 1);
		(void)tb_vp9_set_tl0picidx(buf, n, 1);
		(void)tb_h264_is_keyframe(buf, n);
		g_free(buf);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/rtp/parse/chrome-vp8", test_parse_chrome_vp8);
	g_test_add_func("/rtp/parse/csrc-padding", test_parse_csrc_padding);
	g_test_add_func("/rtp/parse/prefixes", test_parse_prefixes);
	g_test_add_func("/rtp/parse/rejects", test_parse_rejects);
	g_test_add_func("/rtp/setters", test_setters);
	g_test_add_func("/rtp/ext/two-byte", test_ext_two_byte);
	g_test_add_func("/rtp/ext/one-byte-edges", test_ext_one_byte_edges);
	g_test_add_func("/rtp/ext/remap-one-byte", test_ext_remap_one_byte);
	g_test_add_func("/rtp/ext/values", test_ext_values);
	g_test_add_func("/rtp/vp8", test_vp8);
	g_test_add_func("/rtp/vp9", test_vp9);
	g_test_add_func("/rtp/h264", test_h264);
	g_test_add_func("/rtp/random-input", test_random_input);
	return g_test_run();
}
