/* test-demux.c — RFC 7983 first-byte classification and RFC 5761 RTP/RTCP
 * separation, over every first byte and the payload-type boundaries.
 * Runs on the test's main thread.
 */
#include "demux.h"

#include <glib.h>
#include <string.h>

/* What RFC 7983 §7 assigns to first byte B (for a long enough datagram
 * whose second byte is an ordinary RTP payload type). */
static tb_demux_kind expected_kind(unsigned b)
{
	if (b <= 3)
		return TB_DEMUX_STUN;
	if (b >= 16 && b <= 19)
		return TB_DEMUX_ZRTP;
	if (b >= 20 && b <= 63)
		return TB_DEMUX_DTLS;
	if (b >= 64 && b <= 79)
		return TB_DEMUX_TURN_CHANNEL;
	if (b >= 128 && b <= 191)
		return TB_DEMUX_RTP;
	return TB_DEMUX_UNKNOWN;
}

static void test_first_byte(void)
{
	uint8_t buf[20] = {0};

	buf[1] = 0x60; /* PT 96 */
	for (unsigned b = 0; b < 256; b++) {
		buf[0] = (uint8_t)b;
		g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, expected_kind(b));
	}
	/* Boundaries named one by one, as the RFC lists them. */
	buf[0] = 3;
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_STUN);
	buf[0] = 4;
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_UNKNOWN);
	buf[0] = 15;
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_UNKNOWN);
	buf[0] = 20; /* DTLS change_cipher_spec */
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_DTLS);
	buf[0] = 22; /* DTLS handshake */
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_DTLS);
	buf[0] = 63;
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_DTLS);
	buf[0] = 80;
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_UNKNOWN);
	buf[0] = 127;
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_UNKNOWN);
	buf[0] = 192;
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_UNKNOWN);
}

static void test_rtp_rtcp(void)
{
	uint8_t buf[12] = {0x80};

	for (unsigned b = 0; b < 256; b++) {
		tb_demux_kind want = (b >= 192 && b <= 223) ? TB_DEMUX_RTCP : TB_DEMUX_RTP;

		buf[1] = (uint8_t)b;
		g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, want);
	}
	/* SR, RR, PSFB; RTP PT 96 with the marker bit (224) and PT 63 (191). */
	buf[1] = 200;
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_RTCP);
	buf[1] = 201;
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_RTCP);
	buf[1] = 206;
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_RTCP);
	buf[1] = 0xe0;
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_RTP);
	buf[1] = 191;
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_RTP);
	/* Padding and CSRC/count bits in the first byte do not matter. */
	buf[0] = 0xbf;
	buf[1] = 0xc9;
	g_assert_cmpint(tb_demux_classify(buf, sizeof(buf)), ==, TB_DEMUX_RTCP);
}

static void test_lengths(void)
{
	const uint8_t rtcp[8] = {0x81, 0xc9, 0x00, 0x01, 0, 0, 0, 1};
	const uint8_t rtp[12] = {0x80, 0x6f, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1};
	const uint8_t stun[1] = {0x00};

	g_assert_cmpint(tb_demux_classify(NULL, 0), ==, TB_DEMUX_UNKNOWN);
	g_assert_cmpint(tb_demux_classify(stun, 1), ==, TB_DEMUX_STUN);
	/* Each prefix in its own exact-size buffer: no read past LEN. */
	for (size_t n = 0; n <= sizeof(rtcp); n++) {
		uint8_t *b = n ? g_memdup2(rtcp, n) : NULL;

		g_assert_cmpint(tb_demux_classify(b, n), ==,
				n == 8 ? TB_DEMUX_RTCP : TB_DEMUX_UNKNOWN);
		g_free(b);
	}
	for (size_t n = 0; n <= sizeof(rtp); n++) {
		uint8_t *b = n ? g_memdup2(rtp, n) : NULL;

		g_assert_cmpint(tb_demux_classify(b, n), ==,
				n == 12 ? TB_DEMUX_RTP : TB_DEMUX_UNKNOWN);
		g_free(b);
	}
}

static void test_names(void)
{
	g_assert_cmpstr(tb_demux_kind_name(TB_DEMUX_UNKNOWN), ==, "unknown");
	g_assert_cmpstr(tb_demux_kind_name(TB_DEMUX_STUN), ==, "stun");
	g_assert_cmpstr(tb_demux_kind_name(TB_DEMUX_ZRTP), ==, "zrtp");
	g_assert_cmpstr(tb_demux_kind_name(TB_DEMUX_DTLS), ==, "dtls");
	g_assert_cmpstr(tb_demux_kind_name(TB_DEMUX_TURN_CHANNEL), ==, "turn-channel");
	g_assert_cmpstr(tb_demux_kind_name(TB_DEMUX_RTP), ==, "rtp");
	g_assert_cmpstr(tb_demux_kind_name(TB_DEMUX_RTCP), ==, "rtcp");
	g_assert_cmpstr(tb_demux_kind_name((tb_demux_kind)99), ==, "unknown");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/demux/first-byte", test_first_byte);
	g_test_add_func("/demux/rtp-rtcp", test_rtp_rtcp);
	g_test_add_func("/demux/lengths", test_lengths);
	g_test_add_func("/demux/names", test_names);
	return g_test_run();
}
