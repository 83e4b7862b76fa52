/* test-rtcp.c — RTCP compound iteration, parsers, builders, feedback SSRC
 * rewriting and receiver statistics (loss, wrap, jitter) against values
 * computed by hand from RFC 3550 A.1, A.3 and A.8.
 *
 * Truncation tests copy each prefix into a buffer of exactly that size so
 * AddressSanitizer catches any read past it. Runs on the main thread.
 */
#include "common.h"
#include "rtcp.h"

#include <string.h>

/* Chrome-style compound from a receive-only peer: RR + SDES CNAME + REMB. */
static const uint8_t chrome_rr_remb[] = {
	/* RR, 1 block, length 7 */
	0x81,
	0xc9,
	0x00,
	0x07,
	0x00,
	0x00,
	0x00,
	0x01,
	0x12,
	0x34,
	0x56,
	0x78, /* source */
	0x0a,
	0x00,
	0x00,
	0x05, /* fraction 10/256, cumulative lost 5 */
	0x00,
	0x01,
	0x1a,
	0x2b, /* extended highest seq: 1 cycle, 0x1a2b */
	0x00,
	0x00,
	0x00,
	0x1e, /* jitter 30 */
	0x9a,
	0xbc,
	0xde,
	0xf0, /* LSR */
	0x00,
	0x01,
	0x80,
	0x00, /* DLSR 1.5 s */
	/* SDES, 1 chunk, length 6: CNAME of 16 bytes, null, pad */
	0x81,
	0xca,
	0x00,
	0x06,
	0x00,
	0x00,
	0x00,
	0x01,
	0x01,
	0x10,
	'a',
	'b',
	'c',
	'd',
	'e',
	'f',
	'g',
	'h',
	'i',
	'j',
	'k',
	'l',
	'm',
	'n',
	'o',
	'p',
	0x00,
	0x00,
	/* PSFB AFB (REMB), length 5: 1.5 Mbit/s = 187500 << 3 for one SSRC */
	0x8f,
	0xce,
	0x00,
	0x05,
	0x00,
	0x00,
	0x00,
	0x01,
	0x00,
	0x00,
	0x00,
	0x00,
	'R',
	'E',
	'M',
	'B',
	0x01,
	0x0e,
	0xdc,
	0x6c,
	0x12,
	0x34,
	0x56,
	0x78,
};
static const size_t chrome_boundaries[] = {0, 32, 60, 84};

/* Generic NACK: PID 100, BLP 0x8005 -> 100, 101, 103, 116. */
static const uint8_t nack_blp[] = {
	0x81, 0xcd, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,
	0x12, 0x34, 0x56, 0x78, 0x00, 0x64, 0x80, 0x05,
};

static uint8_t *dup_exact(const uint8_t *src, size_t n)
{
	return n ? g_memdup2(src, n) : NULL;
}

/* Field by field: the struct has padding, so no memcmp. */
static void assert_block_eq(const tb_rtcp_report_block *a, const tb_rtcp_report_block *b)
{
	g_assert_cmphex(a->ssrc, ==, b->ssrc);
	g_assert_cmpuint(a->fraction_lost, ==, b->fraction_lost);
	g_assert_cmpint(a->cumulative_lost, ==, b->cumulative_lost);
	g_assert_cmphex(a->ext_highest_seq, ==, b->ext_highest_seq);
	g_assert_cmpuint(a->jitter, ==, b->jitter);
	g_assert_cmphex(a->lsr, ==, b->lsr);
	g_assert_cmpuint(a->dlsr, ==, b->dlsr);
}

/* Returns the only packet of BUF, asserting it is whole. */
static tb_rtcp_packet single(const uint8_t *buf, size_t len)
{
	tb_rtcp_iter it;
	tb_rtcp_packet pkt;

	tb_rtcp_iter_init(&it, buf, len);
	g_assert_true(tb_rtcp_iter_next(&it, &pkt));
	g_assert_cmpuint(pkt.len, ==, len);
	g_assert_false(tb_rtcp_iter_next(&it, &pkt));
	g_assert_false(it.error);
	return pkt;
}

static void test_chrome_compound(void)
{
	tb_rtcp_iter it;
	tb_rtcp_packet pkt;
	tb_rtcp_rr rr;
	tb_rtcp_report_block rb;
	tb_rtcp_sdes_iter sdes;
	tb_rtcp_remb remb;
	uint32_t ssrc;
	uint8_t type;
	const uint8_t *text;
	size_t text_len;

	g_assert_cmpint(tb_rtcp_validate(chrome_rr_remb, sizeof(chrome_rr_remb)), ==, 0);
	tb_rtcp_iter_init(&it, chrome_rr_remb, sizeof(chrome_rr_remb));

	g_assert_true(tb_rtcp_iter_next(&it, &pkt));
	g_assert_cmpuint(pkt.type, ==, TB_RTCP_RR);
	g_assert_cmpuint(pkt.count, ==, 1);
	g_assert_cmpuint(pkt.offset, ==, 0);
	g_assert_cmpuint(pkt.len, ==, 32);
	g_assert_cmpuint(pkt.body_len, ==, 28);
	g_assert_cmpint(tb_rtcp_parse_rr(&pkt, &rr), ==, 0);
	g_assert_cmpuint(rr.ssrc, ==, 1);
	g_assert_cmpuint(rr.block_count, ==, 1);
	tb_rtcp_report_block_at(rr.blocks, 0, &rb);
	g_assert_cmphex(rb.ssrc, ==, 0x12345678);
	g_assert_cmpuint(rb.fraction_lost, ==, 10);
	g_assert_cmpint(rb.cumulative_lost, ==, 5);
	g_assert_cmphex(rb.ext_highest_seq, ==, 0x00011a2b);
	g_assert_cmpuint(rb.jitter, ==, 30);
	g_assert_cmphex(rb.lsr, ==, 0x9abcdef0);
	g_assert_cmpuint(rb.dlsr, ==, 98304);
	g_assert_cmpint(tb_rtcp_parse_sr(&pkt, &(tb_rtcp_sr){0}), ==, TB_EINVAL);

	g_assert_true(tb_rtcp_iter_next(&it, &pkt));
	g_assert_cmpuint(pkt.type, ==, TB_RTCP_SDES);
	g_assert_cmpuint(pkt.offset, ==, 32);
	tb_rtcp_sdes_iter_init(&sdes, &pkt);
	g_assert_true(tb_rtcp_sdes_iter_next(&sdes, &ssrc, &type, &text, &text_len));
	g_assert_cmpuint(ssrc, ==, 1);
	g_assert_cmpuint(type, ==, 1);
	g_assert_cmpmem(text, text_len, "abcdefghijklmnop", 16);
	g_assert_false(tb_rtcp_sdes_iter_next(&sdes, &ssrc, &type, &text, &text_len));
	g_assert_false(sdes.error);

	g_assert_true(tb_rtcp_iter_next(&it, &pkt));
	g_assert_cmpuint(pkt.type, ==, TB_RTCP_PSFB);
	g_assert_cmpuint(pkt.count, ==, TB_RTCP_PSFB_AFB);
	g_assert_cmpint(tb_rtcp_parse_remb(&pkt, &remb), ==, 0);
	g_assert_cmpuint(remb.sender_ssrc, ==, 1);
	g_assert_cmpuint(remb.exponent, ==, 3);
	g_assert_cmpuint(remb.mantissa, ==, 187500);
	g_assert_cmpuint(remb.bitrate, ==, 1500000);
	g_assert_cmpuint(remb.ssrc_count, ==, 1);
	g_assert_cmphex(tb_rtcp_ssrc_at(remb.ssrcs, 0), ==, 0x12345678);
	g_assert_cmpint(tb_rtcp_parse_pli(&pkt, &(tb_rtcp_fb){0}), ==, TB_EINVAL);

	g_assert_false(tb_rtcp_iter_next(&it, &pkt));
	g_assert_false(it.error);
	g_assert_false(tb_rtcp_iter_next(&it, &pkt));
}

/* Runs every parser that matches PKT's type; all must stay in bounds. */
static void parse_everything(const tb_rtcp_packet *pkt)
{
	tb_rtcp_sr sr;
	tb_rtcp_rr rr;
	tb_rtcp_bye bye;
	tb_rtcp_fb fb;
	tb_rtcp_twcc twcc;
	tb_rtcp_remb remb;
	tb_rtcp_report_block rb;
	tb_rtcp_sdes_iter sdes;
	uint32_t ssrc;
	uint8_t type;
	const uint8_t *text;
	size_t text_len, n;
	uint16_t seqs[64];

	if (tb_rtcp_parse_sr(pkt, &sr) == 0)
		for (size_t i = 0; i < sr.block_count; i++)
			tb_rtcp_report_block_at(sr.blocks, i, &rb);
	if (tb_rtcp_parse_rr(pkt, &rr) == 0)
		for (size_t i = 0; i < rr.block_count; i++)
			tb_rtcp_report_block_at(rr.blocks, i, &rb);
	tb_rtcp_sdes_iter_init(&sdes, pkt);
	while (tb_rtcp_sdes_iter_next(&sdes, &ssrc, &type, &text, &text_len))
		g_assert_true(text + text_len <= pkt->body + pkt->body_len);
	if (tb_rtcp_parse_bye(pkt, &bye) == 0) {
		for (size_t i = 0; i < bye.ssrc_count; i++)
			(void)tb_rtcp_ssrc_at(bye.ssrcs, i);
		if (bye.reason)
			g_assert_true(bye.reason + bye.reason_len <= pkt->body + pkt->body_len);
	}
	if (tb_rtcp_parse_nack(pkt, &fb) == 0)
		(void)tb_rtcp_nack_expand(&fb, seqs, G_N_ELEMENTS(seqs), &n);
	if (tb_rtcp_parse_fir(pkt, &fb) == 0) {
		tb_rtcp_fir_entry e;

		for (size_t i = 0; i < tb_rtcp_fir_count(&fb); i++)
			tb_rtcp_fir_entry_at(&fb, i, &e);
	}
	(void)tb_rtcp_parse_pli(pkt, &fb);
	(void)tb_rtcp_parse_twcc(pkt, &twcc);
	if (tb_rtcp_parse_remb(pkt, &remb) == 0)
		for (size_t i = 0; i < remb.ssrc_count; i++)
			(void)tb_rtcp_ssrc_at(remb.ssrcs, i);
}

static bool is_boundary(size_t n)
{
	for (size_t i = 0; i < G_N_ELEMENTS(chrome_boundaries); i++)
		if (chrome_boundaries[i] == n)
			return true;
	return false;
}

static void test_compound_prefixes(void)
{
	for (size_t n = 0; n <= sizeof(chrome_rr_remb); n++) {
		uint8_t *buf = dup_exact(chrome_rr_remb, n);
		tb_rtcp_iter it;
		tb_rtcp_packet pkt;
		size_t end = 0;

		tb_rtcp_iter_init(&it, buf, n);
		while (tb_rtcp_iter_next(&it, &pkt)) {
			g_assert_cmpuint(pkt.offset, ==, end);
			g_assert_cmpuint(pkt.offset + pkt.len, <=, n);
			end = pkt.offset + pkt.len;
			parse_everything(&pkt);
		}
		/* A cut inside a packet is an error; one between packets is not. */
		g_assert_true(it.error == !is_boundary(n));
		g_assert_cmpint(tb_rtcp_validate(buf, n), ==,
				(n > 0 && is_boundary(n)) ? 0 : TB_EINVAL);
		g_free(buf);
	}
}

static void expect_invalid(const uint8_t *bytes, size_t n)
{
	uint8_t *buf = dup_exact(bytes, n);

	g_assert_cmpint(tb_rtcp_validate(buf, n), ==, TB_EINVAL);
	g_free(buf);
}

static void test_compound_rejects(void)
{
	uint8_t p[sizeof(chrome_rr_remb)];
	tb_rtcp_iter it;
	tb_rtcp_packet pkt;

	/* Version 1 in the second packet: the first is returned, then error. */
	memcpy(p, chrome_rr_remb, sizeof(p));
	p[32] = 0x41;
	expect_invalid(p, sizeof(p));
	tb_rtcp_iter_init(&it, p, sizeof(p));
	g_assert_true(tb_rtcp_iter_next(&it, &pkt));
	g_assert_false(tb_rtcp_iter_next(&it, &pkt));
	g_assert_true(it.error);
	g_assert_false(tb_rtcp_iter_next(&it, &pkt));

	/* Length running past the datagram. */
	memcpy(p, chrome_rr_remb, sizeof(p));
	p[3] = 0x30;
	expect_invalid(p, sizeof(p));
	/* Length field too short for the report count: iteration is fine,
	 * the RR parser refuses. */
	memcpy(p, chrome_rr_remb, sizeof(p));
	p[3] = 0x01;
	tb_rtcp_iter_init(&it, p, sizeof(p));
	g_assert_true(tb_rtcp_iter_next(&it, &pkt));
	g_assert_cmpint(tb_rtcp_parse_rr(&pkt, &(tb_rtcp_rr){0}), ==, TB_EINVAL);
	/* An RTP payload type is not RTCP. */
	memcpy(p, chrome_rr_remb, sizeof(p));
	p[1] = 0x60;
	expect_invalid(p, sizeof(p));
	/* Empty input, and trailing bytes shorter than a header. */
	expect_invalid(NULL, 0);
	{
		uint8_t q[36];

		memcpy(q, chrome_rr_remb, 32);
		memset(q + 32, 0, 4);
		q[32] = 0x80;
		q[33] = 0xc9;
		/* that last header is whole (RR, length 0, no SSRC) ... */
		g_assert_cmpint(tb_rtcp_validate(q, 36), ==, 0);
		tb_rtcp_iter_init(&it, q, 36);
		g_assert_true(tb_rtcp_iter_next(&it, &pkt));
		g_assert_true(tb_rtcp_iter_next(&it, &pkt));
		g_assert_cmpint(tb_rtcp_parse_rr(&pkt, &(tb_rtcp_rr){0}), ==, TB_EINVAL);
		/* ... but three bytes of one are not */
		expect_invalid(q, 35);
	}
	/* Padding: count 0, count larger than the body, and a valid one. */
	{
		uint8_t q[16] = {0xa1, 0xcd, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0};

		expect_invalid(q, sizeof(q));
		q[15] = 13;
		expect_invalid(q, sizeof(q));
		q[15] = 4;
		g_assert_cmpint(tb_rtcp_validate(q, sizeof(q)), ==, 0);
		pkt = single(q, sizeof(q));
		g_assert_true(pkt.padding);
		g_assert_cmpuint(pkt.body_len, ==, 8);
		/* a NACK whose only entry is padding has no entry */
		g_assert_cmpint(tb_rtcp_parse_nack(&pkt, &(tb_rtcp_fb){0}), ==, TB_EINVAL);
		/* header-only packet with P set: the count byte is in the header */
		{
			uint8_t h[4] = {0xa0, 0xc9, 0x00, 0x00};

			expect_invalid(h, sizeof(h));
		}
	}
}

static void collect_seq(uint16_t seq, void *user_data)
{
	g_array_append_val((GArray *)user_data, seq);
}

static void test_nack_parse(void)
{
	const uint16_t want[] = {100, 101, 103, 116};
	tb_rtcp_packet pkt = single(nack_blp, sizeof(nack_blp));
	tb_rtcp_fb fb;
	uint16_t seqs[8];
	size_t n;
	GArray *got = g_array_new(FALSE, FALSE, sizeof(uint16_t));

	g_assert_cmpint(tb_rtcp_parse_nack(&pkt, &fb), ==, 0);
	g_assert_cmpuint(fb.type, ==, TB_RTCP_RTPFB);
	g_assert_cmpuint(fb.fmt, ==, TB_RTCP_RTPFB_NACK);
	g_assert_cmpuint(fb.sender_ssrc, ==, 1);
	g_assert_cmphex(fb.media_ssrc, ==, 0x12345678);
	g_assert_cmpint(tb_rtcp_nack_expand(&fb, seqs, G_N_ELEMENTS(seqs), &n), ==, 0);
	g_assert_cmpmem(seqs, n * sizeof(uint16_t), want, sizeof(want));
	tb_rtcp_nack_foreach(&fb, collect_seq, got);
	g_assert_cmpmem(got->data, got->len * sizeof(uint16_t), want, sizeof(want));
	g_array_unref(got);

	g_assert_cmpint(tb_rtcp_nack_expand(&fb, seqs, 2, &n), ==, TB_EFULL);
	g_assert_cmpuint(n, ==, 2);
	g_assert_cmpmem(seqs, 2 * sizeof(uint16_t), want, 2 * sizeof(uint16_t));
	g_assert_cmpint(tb_rtcp_nack_expand(&fb, seqs, 0, &n), ==, TB_EFULL);
	g_assert_cmpuint(n, ==, 0);

	/* Not a NACK for the other parsers. */
	g_assert_cmpint(tb_rtcp_parse_pli(&pkt, &fb), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_parse_fir(&pkt, &fb), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_parse_twcc(&pkt, &(tb_rtcp_twcc){0}), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_parse_fb(&pkt, &fb), ==, 0);
	g_assert_cmpuint(fb.fci_len, ==, 4);

	/* A NACK without FCI. */
	{
		const uint8_t empty[] = {0x81, 0xcd, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2};
		tb_rtcp_packet e = single(empty, sizeof(empty));

		g_assert_cmpint(tb_rtcp_parse_nack(&e, &fb), ==, TB_EINVAL);
	}
	/* Shorter than the two SSRCs. */
	{
		const uint8_t tiny[] = {0x81, 0xcd, 0x00, 0x01, 0, 0, 0, 1};
		tb_rtcp_packet t = single(tiny, sizeof(tiny));

		g_assert_cmpint(tb_rtcp_parse_fb(&t, &fb), ==, TB_EINVAL);
	}
}

static void test_sr_round_trip(void)
{
	const tb_rtcp_sender_info info = {
		.ssrc = 0xcafebabe,
		.ntp_timestamp = 0xe8c1a2b3c4d5e6f7ULL,
		.rtp_timestamp = 0x11223344,
		.packet_count = 1000,
		.octet_count = 1200000,
	};
	const tb_rtcp_report_block blocks[2] = {
		{.ssrc = 1,
		 .fraction_lost = 25,
		 .cumulative_lost = -3,
		 .ext_highest_seq = 70000,
		 .jitter = 12,
		 .lsr = 0x1234,
		 .dlsr = 65536},
		{.ssrc = 2,
		 .fraction_lost = 255,
		 .cumulative_lost = 0x900000,
		 .ext_highest_seq = 0xffffffff,
		 .jitter = 0xffffffff,
		 .lsr = 0,
		 .dlsr = 0},
	};
	uint8_t buf[100];
	tb_rtcp_packet pkt;
	tb_rtcp_sr sr;
	tb_rtcp_report_block rb;
	int len = tb_rtcp_build_sr(buf, sizeof(buf), &info, blocks, 2);

	g_assert_cmpint(len, ==, 76);
	g_assert_cmphex(buf[0], ==, 0x82);
	g_assert_cmphex(buf[1], ==, 200);
	g_assert_cmpuint(buf[3], ==, 18);
	pkt = single(buf, (size_t)len);
	g_assert_cmpint(tb_rtcp_parse_sr(&pkt, &sr), ==, 0);
	g_assert_cmphex(sr.info.ssrc, ==, info.ssrc);
	g_assert_cmphex(sr.info.ntp_timestamp, ==, info.ntp_timestamp);
	g_assert_cmphex(sr.info.rtp_timestamp, ==, info.rtp_timestamp);
	g_assert_cmpuint(sr.info.packet_count, ==, 1000);
	g_assert_cmpuint(sr.info.octet_count, ==, 1200000);
	g_assert_cmpuint(sr.block_count, ==, 2);
	tb_rtcp_report_block_at(sr.blocks, 0, &rb);
	assert_block_eq(&rb, &blocks[0]);
	tb_rtcp_report_block_at(sr.blocks, 1, &rb);
	g_assert_cmpint(rb.cumulative_lost, ==, 0x7fffff); /* clamped to 24 bits */
	g_assert_cmpuint(rb.fraction_lost, ==, 255);
	g_assert_cmphex(rb.jitter, ==, 0xffffffff);
	/* -3 on the wire is 0xfffffd */
	g_assert_cmpmem(buf + 28 + 5, 3, "\xff\xff\xfd", 3);

	/* Too small by one byte, and too many blocks. */
	g_assert_cmpint(tb_rtcp_build_sr(buf, 75, &info, blocks, 2), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_build_sr(buf, 28, &info, NULL, 0), ==, 28);
	g_assert_cmpint(tb_rtcp_build_sr(buf, 27, &info, NULL, 0), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_build_sr(buf, sizeof(buf), &info, NULL, 1), ==, TB_EINVAL);
	{
		tb_rtcp_report_block many[32] = {{0}};
		uint8_t big[1024];

		g_assert_cmpint(tb_rtcp_build_sr(big, sizeof(big), &info, many, 31), ==,
				28 + 31 * 24);
		g_assert_cmpint(tb_rtcp_build_sr(big, sizeof(big), &info, many, 32), ==, TB_EINVAL);
		g_assert_cmpint(tb_rtcp_build_rr(big, sizeof(big), 1, many, 32), ==, TB_EINVAL);
	}
}

static void test_rr_round_trip(void)
{
	const tb_rtcp_report_block block = {
		.ssrc = 0x12345678,
		.fraction_lost = 10,
		.cumulative_lost = -8388608,
		.ext_highest_seq = 0x00011a2b,
		.jitter = 30,
		.lsr = 0x9abcdef0,
		.dlsr = 98304,
	};
	uint8_t buf[64];
	tb_rtcp_rr rr;
	tb_rtcp_report_block rb;
	tb_rtcp_packet pkt;

	for (size_t cap = 0; cap < 32; cap++)
		g_assert_cmpint(tb_rtcp_build_rr(buf, cap, 1, &block, 1), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_build_rr(buf, 32, 1, &block, 1), ==, 32);
	pkt = single(buf, 32);
	g_assert_cmpint(tb_rtcp_parse_rr(&pkt, &rr), ==, 0);
	g_assert_cmpuint(rr.ssrc, ==, 1);
	tb_rtcp_report_block_at(rr.blocks, 0, &rb);
	assert_block_eq(&rb, &block);

	/* Empty RR (a receiver with nothing to report yet). */
	g_assert_cmpint(tb_rtcp_build_rr(buf, 8, 7, NULL, 0), ==, 8);
	g_assert_cmpmem(buf, 8, "\x80\xc9\x00\x01\x00\x00\x00\x07", 8);
}

static void test_pli_fir(void)
{
	uint8_t buf[64];
	tb_rtcp_packet pkt;
	tb_rtcp_fb fb;
	tb_rtcp_fir_entry e;
	const tb_rtcp_fir_entry entries[2] = {{0xaaaaaaaa, 7}, {0xbbbbbbbb, 255}};

	g_assert_cmpint(tb_rtcp_build_pli(buf, 11, 1, 2), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_build_pli(buf, 12, 0x11111111, 0x22222222), ==, 12);
	g_assert_cmpmem(buf, 12, "\x81\xce\x00\x02\x11\x11\x11\x11\x22\x22\x22\x22", 12);
	pkt = single(buf, 12);
	g_assert_cmpint(tb_rtcp_parse_pli(&pkt, &fb), ==, 0);
	g_assert_cmphex(fb.sender_ssrc, ==, 0x11111111);
	g_assert_cmphex(fb.media_ssrc, ==, 0x22222222);
	g_assert_cmpuint(fb.fci_len, ==, 0);
	g_assert_cmpint(tb_rtcp_parse_fir(&pkt, &fb), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_parse_nack(&pkt, &fb), ==, TB_EINVAL);

	for (size_t cap = 0; cap < 28; cap++)
		g_assert_cmpint(tb_rtcp_build_fir(buf, cap, 1, entries, 2), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_build_fir(buf, sizeof(buf), 1, entries, 0), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_build_fir(buf, sizeof(buf), 0x11111111, entries, 2), ==, 28);
	pkt = single(buf, 28);
	g_assert_cmpuint(pkt.count, ==, TB_RTCP_PSFB_FIR);
	g_assert_cmpint(tb_rtcp_parse_fir(&pkt, &fb), ==, 0);
	g_assert_cmpuint(fb.media_ssrc, ==, 0);
	g_assert_cmpuint(tb_rtcp_fir_count(&fb), ==, 2);
	tb_rtcp_fir_entry_at(&fb, 0, &e);
	g_assert_cmphex(e.ssrc, ==, 0xaaaaaaaa);
	g_assert_cmpuint(e.seq, ==, 7);
	tb_rtcp_fir_entry_at(&fb, 1, &e);
	g_assert_cmphex(e.ssrc, ==, 0xbbbbbbbb);
	g_assert_cmpuint(e.seq, ==, 255);
	g_assert_cmpmem(buf + 17, 3, "\0\0\0", 3);
	g_assert_cmpint(tb_rtcp_parse_pli(&pkt, &fb), ==, TB_EINVAL);
}

static void check_nack_round_trip(const uint16_t *seqs, size_t n, const uint16_t *want,
				  size_t want_n, int want_len)
{
	uint8_t buf[256];
	uint16_t got[64];
	size_t got_n;
	tb_rtcp_packet pkt;
	tb_rtcp_fb fb;
	int len = tb_rtcp_build_nack(buf, sizeof(buf), 1, 2, seqs, n);

	g_assert_cmpint(len, ==, want_len);
	for (int cap = 0; cap < len; cap++)
		g_assert_cmpint(tb_rtcp_build_nack(buf, (size_t)cap, 1, 2, seqs, n), ==, TB_EINVAL);
	len = tb_rtcp_build_nack(buf, sizeof(buf), 1, 2, seqs, n);
	pkt = single(buf, (size_t)len);
	g_assert_cmpint(tb_rtcp_parse_nack(&pkt, &fb), ==, 0);
	g_assert_cmpint(tb_rtcp_nack_expand(&fb, got, G_N_ELEMENTS(got), &got_n), ==, 0);
	g_assert_cmpmem(got, got_n * sizeof(uint16_t), want, want_n * sizeof(uint16_t));
}

static void test_nack_build(void)
{
	/* Across the wrap, with a gap, a duplicate and a neighbour. */
	const uint16_t seqs[] = {65534, 65535, 0, 1, 20, 40, 40, 41};
	const uint16_t want[] = {65534, 65535, 0, 1, 20, 40, 41};
	const uint16_t span16[] = {10, 26};
	const uint16_t span17[] = {10, 27};
	uint8_t buf[64];

	check_nack_round_trip(seqs, G_N_ELEMENTS(seqs), want, G_N_ELEMENTS(want), 24);
	g_assert_cmpint(tb_rtcp_build_nack(buf, sizeof(buf), 1, 2, seqs, G_N_ELEMENTS(seqs)), ==,
			24);
	/* (65534, bits for +1 +2 +3), (20, none), (40, bit for +1) */
	g_assert_cmpmem(buf + 12, 12, "\xff\xfe\x00\x07\x00\x14\x00\x00\x00\x28\x00\x01", 12);

	check_nack_round_trip(span16, 2, span16, 2, 16);
	g_assert_cmpint(tb_rtcp_build_nack(buf, sizeof(buf), 1, 2, span16, 2), ==, 16);
	g_assert_cmpmem(buf + 12, 4, "\x00\x0a\x80\x00", 4);
	check_nack_round_trip(span17, 2, span17, 2, 20);

	g_assert_cmpint(tb_rtcp_build_nack(buf, sizeof(buf), 1, 2, seqs, 0), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_build_nack(buf, sizeof(buf), 1, 2, NULL, 3), ==, TB_EINVAL);
}

static void test_remb(void)
{
	const uint32_t ssrcs[] = {0x12345678, 0x9abcdef0};
	uint8_t buf[64];
	tb_rtcp_packet pkt;
	tb_rtcp_remb remb;
	int len;

	len = tb_rtcp_build_remb(buf, sizeof(buf), 1, 1500000, ssrcs, 1);
	g_assert_cmpint(len, ==, 24);
	g_assert_cmpmem(buf, 24, chrome_rr_remb + 60, 24);

	for (size_t cap = 0; cap < 28; cap++)
		g_assert_cmpint(tb_rtcp_build_remb(buf, cap, 1, 1, ssrcs, 2), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_build_remb(buf, sizeof(buf), 1, 0, ssrcs, 2), ==, 28);
	pkt = single(buf, 28);
	g_assert_cmpint(tb_rtcp_parse_remb(&pkt, &remb), ==, 0);
	g_assert_cmpuint(remb.bitrate, ==, 0);
	g_assert_cmpuint(remb.ssrc_count, ==, 2);
	g_assert_cmphex(tb_rtcp_ssrc_at(remb.ssrcs, 1), ==, 0x9abcdef0);

	/* Exactly 18 bits: exponent 0. One more bit: exponent 1, rounded down. */
	g_assert_cmpint(tb_rtcp_build_remb(buf, sizeof(buf), 1, 0x3ffff, NULL, 0), ==, 20);
	pkt = single(buf, 20);
	g_assert_cmpint(tb_rtcp_parse_remb(&pkt, &remb), ==, 0);
	g_assert_cmpuint(remb.exponent, ==, 0);
	g_assert_cmpuint(remb.bitrate, ==, 0x3ffff);
	g_assert_cmpint(tb_rtcp_build_remb(buf, sizeof(buf), 1, 0x40001, NULL, 0), ==, 20);
	pkt = single(buf, 20);
	g_assert_cmpint(tb_rtcp_parse_remb(&pkt, &remb), ==, 0);
	g_assert_cmpuint(remb.exponent, ==, 1);
	g_assert_cmpuint(remb.bitrate, ==, 0x40000);
	g_assert_cmpint(tb_rtcp_build_remb(buf, sizeof(buf), 1, UINT64_MAX, NULL, 0), ==, 20);
	pkt = single(buf, 20);
	g_assert_cmpint(tb_rtcp_parse_remb(&pkt, &remb), ==, 0);
	g_assert_cmpuint(remb.exponent, ==, 46);
	g_assert_cmpuint(remb.mantissa, ==, 0x3ffff);

	/* Exponent 63 with a full mantissa overflows 64 bits. */
	buf[17] = 0xff;
	g_assert_cmpint(tb_rtcp_parse_remb(&pkt, &remb), ==, TB_EINVAL);
	/* Wrong identifier; SSRC count beyond the packet. */
	len = tb_rtcp_build_remb(buf, sizeof(buf), 1, 1000, ssrcs, 1);
	buf[15] = 'X';
	pkt = single(buf, (size_t)len);
	g_assert_cmpint(tb_rtcp_parse_remb(&pkt, &remb), ==, TB_EINVAL);
	buf[15] = 'B';
	buf[16] = 2;
	g_assert_cmpint(tb_rtcp_parse_remb(&pkt, &remb), ==, TB_EINVAL);
	buf[16] = 1;
	g_assert_cmpint(tb_rtcp_parse_remb(&pkt, &remb), ==, 0);
	g_assert_cmpint(tb_rtcp_build_remb(buf, sizeof(buf), 1, 1, NULL, 1), ==, TB_EINVAL);
}

static void test_twcc(void)
{
	const uint8_t twcc[] = {
		0x8f, 0xcd, 0x00, 0x05, 0x00, 0x00, 0x00, 0x01,
		0x12, 0x34, 0x56, 0x78, 0x01, 0x02, 0x00, 0x02, /* base seq 258, 2 statuses */
		0xff, 0xff, 0xfe, 0x07, /* reference time -2 (x64 ms), feedback #7 */
		0x20, 0x02, 0x04, 0x08, /* run-length chunk, two small deltas */
	};
	tb_rtcp_packet pkt = single(twcc, sizeof(twcc));
	tb_rtcp_twcc t;

	g_assert_cmpint(tb_rtcp_parse_twcc(&pkt, &t), ==, 0);
	g_assert_cmpuint(t.sender_ssrc, ==, 1);
	g_assert_cmphex(t.media_ssrc, ==, 0x12345678);
	g_assert_cmpuint(t.base_seq, ==, 258);
	g_assert_cmpuint(t.status_count, ==, 2);
	g_assert_cmpint(t.reference_time, ==, -2);
	g_assert_cmpuint(t.fb_count, ==, 7);
	g_assert_cmpuint(t.fci_len, ==, 12);
	g_assert_cmpint(tb_rtcp_parse_nack(&pkt, &(tb_rtcp_fb){0}), ==, TB_EINVAL);

	/* Fixed part cut: header says 4 words, so only 4 FCI bytes. */
	{
		const uint8_t cut[] = {0x8f, 0xcd, 0x00, 0x04, 0,    0,    0,    1,    0,    0,
				       0,    2,    0x01, 0x02, 0x00, 0x02, 0xff, 0xff, 0xfe, 0x07};
		tb_rtcp_packet c = single(cut, sizeof(cut));

		g_assert_cmpint(tb_rtcp_parse_twcc(&c, &t), ==, 0);
		c.body_len -= 4;
		g_assert_cmpint(tb_rtcp_parse_twcc(&c, &t), ==, TB_EINVAL);
	}
}

static void test_bye_sdes(void)
{
	const uint8_t bye[] = {0x82, 0xcb, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,
			       0x00, 0x00, 0x00, 0x02, 0x03, 'b',  'y',  'e'};
	const uint32_t ssrcs[] = {5, 6, 7};
	uint8_t buf[300];
	tb_rtcp_packet pkt = single(bye, sizeof(bye));
	tb_rtcp_bye b;
	tb_rtcp_sdes_iter it;
	uint32_t ssrc;
	uint8_t type;
	const uint8_t *text;
	size_t text_len;
	char cname[256];

	g_assert_cmpint(tb_rtcp_parse_bye(&pkt, &b), ==, 0);
	g_assert_cmpuint(b.ssrc_count, ==, 2);
	g_assert_cmpuint(tb_rtcp_ssrc_at(b.ssrcs, 1), ==, 2);
	g_assert_cmpmem(b.reason, b.reason_len, "bye", 3);
	{
		uint8_t q[sizeof(bye)];

		memcpy(q, bye, sizeof(q));
		q[12] = 4; /* reason one byte longer than the packet */
		pkt = single(q, sizeof(q));
		g_assert_cmpint(tb_rtcp_parse_bye(&pkt, &b), ==, TB_EINVAL);
		q[0] = 0x85; /* five SSRCs in a three-word body */
		pkt = single(q, sizeof(q));
		g_assert_cmpint(tb_rtcp_parse_bye(&pkt, &b), ==, TB_EINVAL);
	}
	g_assert_cmpint(tb_rtcp_build_bye(buf, sizeof(buf), ssrcs, 3), ==, 16);
	pkt = single(buf, 16);
	g_assert_cmpint(tb_rtcp_parse_bye(&pkt, &b), ==, 0);
	g_assert_cmpuint(b.ssrc_count, ==, 3);
	g_assert_cmpuint(tb_rtcp_ssrc_at(b.ssrcs, 2), ==, 7);
	g_assert_null(b.reason);
	g_assert_cmpint(tb_rtcp_build_bye(buf, 15, ssrcs, 3), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_build_bye(buf, sizeof(buf), ssrcs, 0), ==, TB_EINVAL);

	/* CNAMEs of every length: the null item and padding always fit. */
	memset(cname, 'x', sizeof(cname));
	for (size_t n = 1; n <= 255; n++) {
		int len = tb_rtcp_build_sdes_cname(buf, sizeof(buf), 0x42, cname, n);

		g_assert_cmpint(len, >, 0);
		g_assert_cmpint(len % 4, ==, 0);
		g_assert_cmpint(len, >=, (int)(8 + 2 + n + 1));
		g_assert_cmpint(len, <=, (int)(8 + 2 + n + 4));
		g_assert_cmpint(tb_rtcp_build_sdes_cname(buf, (size_t)len - 1, 0x42, cname, n), ==,
				TB_EINVAL);
		pkt = single(buf, (size_t)len);
		tb_rtcp_sdes_iter_init(&it, &pkt);
		g_assert_true(tb_rtcp_sdes_iter_next(&it, &ssrc, &type, &text, &text_len));
		g_assert_cmpuint(ssrc, ==, 0x42);
		g_assert_cmpuint(type, ==, 1);
		g_assert_cmpmem(text, text_len, cname, n);
		g_assert_false(tb_rtcp_sdes_iter_next(&it, &ssrc, &type, &text, &text_len));
		g_assert_false(it.error);
	}
	g_assert_cmpint(tb_rtcp_build_sdes_cname(buf, sizeof(buf), 1, cname, 0), ==, TB_EINVAL);
	g_assert_cmpint(tb_rtcp_build_sdes_cname(buf, sizeof(buf), 1, cname, 256), ==, TB_EINVAL);

	/* Malformed SDES: a second chunk announced but absent; an item past the
	 * end; a chunk without its null item. */
	{
		uint8_t q[28];

		memcpy(q, chrome_rr_remb + 32, sizeof(q));
		q[0] = 0x82;
		pkt = single(q, sizeof(q));
		tb_rtcp_sdes_iter_init(&it, &pkt);
		g_assert_true(tb_rtcp_sdes_iter_next(&it, &ssrc, &type, &text, &text_len));
		g_assert_false(tb_rtcp_sdes_iter_next(&it, &ssrc, &type, &text, &text_len));
		g_assert_true(it.error);

		memcpy(q, chrome_rr_remb + 32, sizeof(q));
		q[9] = 0x13;
		pkt = single(q, sizeof(q));
		tb_rtcp_sdes_iter_init(&it, &pkt);
		g_assert_false(tb_rtcp_sdes_iter_next(&it, &ssrc, &type, &text, &text_len));
		g_assert_true(it.error);

		memcpy(q, chrome_rr_remb + 32, sizeof(q));
		q[9] = 0x12; /* the CNAME now swallows the null octets */
		pkt = single(q, sizeof(q));
		tb_rtcp_sdes_iter_init(&it, &pkt);
		g_assert_true(tb_rtcp_sdes_iter_next(&it, &ssrc, &type, &text, &text_len));
		g_assert_false(tb_rtcp_sdes_iter_next(&it, &ssrc, &type, &text, &text_len));
		g_assert_true(it.error);

		/* The chunk's null octets would run into the RTCP padding: the
		 * body is 9 bytes, the chunk would end at 12. */
		{
			const uint8_t padded[] = {0xa1, 0xca, 0x00, 0x03, 0,    0,    0,    9,
						  0x01, 0x02, 'x',  'y',  0x00, 0x00, 0x00, 0x03};

			pkt = single(padded, sizeof(padded));
			g_assert_cmpuint(pkt.body_len, ==, 9);
			tb_rtcp_sdes_iter_init(&it, &pkt);
			g_assert_true(tb_rtcp_sdes_iter_next(&it, &ssrc, &type, &text, &text_len));
			g_assert_cmpmem(text, text_len, "xy", 2);
			g_assert_false(tb_rtcp_sdes_iter_next(&it, &ssrc, &type, &text, &text_len));
			g_assert_true(it.error);
		}

		/* Not an SDES at all. */
		pkt = single(nack_blp, sizeof(nack_blp));
		tb_rtcp_sdes_iter_init(&it, &pkt);
		g_assert_false(tb_rtcp_sdes_iter_next(&it, &ssrc, &type, &text, &text_len));
		g_assert_true(it.error);
	}
}

static void test_rewrite(void)
{
	uint8_t buf[128];
	tb_rtcp_packet pkt;
	tb_rtcp_fb fb;
	tb_rtcp_remb remb;
	tb_rtcp_fir_entry e;
	const tb_rtcp_fir_entry entries[2] = {{0xaaaa, 1}, {0xcccc, 2}};
	const uint32_t ssrcs[] = {0xaaaa, 0xdddd};
	uint16_t seqs[8];
	size_t n;
	int len;

	/* PLI from a subscriber about our outbound SSRC 0xaaaa, relayed to the
	 * publisher's real SSRC 0xbbbb from our own SSRC 0x5555. */
	len = tb_rtcp_build_pli(buf, sizeof(buf), 0x1111, 0xaaaa);
	g_assert_cmpint(tb_rtcp_fb_rewrite_ssrc(buf, (size_t)len, 0x5555, 0xaaaa, 0xbbbb), ==, 1);
	pkt = single(buf, (size_t)len);
	g_assert_cmpint(tb_rtcp_parse_pli(&pkt, &fb), ==, 0);
	g_assert_cmphex(fb.sender_ssrc, ==, 0x5555);
	g_assert_cmphex(fb.media_ssrc, ==, 0xbbbb);
	/* Another media SSRC is left alone. */
	g_assert_cmpint(tb_rtcp_fb_rewrite_ssrc(buf, (size_t)len, 0x5555, 0xaaaa, 0xcccc), ==, 0);
	g_assert_cmpint(tb_rtcp_parse_pli(&pkt, &fb), ==, 0);
	g_assert_cmphex(fb.media_ssrc, ==, 0xbbbb);

	/* NACK inside a compound, addressed at its offset; its FCI is kept. */
	memcpy(buf, chrome_rr_remb, 32);
	memcpy(buf + 32, nack_blp, sizeof(nack_blp));
	{
		tb_rtcp_iter it;

		tb_rtcp_iter_init(&it, buf, 32 + sizeof(nack_blp));
		g_assert_true(tb_rtcp_iter_next(&it, &pkt));
		g_assert_cmpint(
			tb_rtcp_fb_rewrite_ssrc(buf + pkt.offset, pkt.len, 9, 0x12345678, 7), ==,
			TB_EINVAL); /* the RR */
		g_assert_true(tb_rtcp_iter_next(&it, &pkt));
		g_assert_cmpint(
			tb_rtcp_fb_rewrite_ssrc(buf + pkt.offset, pkt.len, 9, 0x12345678, 7), ==,
			1);
		g_assert_cmpint(tb_rtcp_parse_nack(&pkt, &fb), ==, 0);
		g_assert_cmpuint(fb.sender_ssrc, ==, 9);
		g_assert_cmpuint(fb.media_ssrc, ==, 7);
		g_assert_cmpint(tb_rtcp_nack_expand(&fb, seqs, G_N_ELEMENTS(seqs), &n), ==, 0);
		g_assert_cmpuint(n, ==, 4);
		g_assert_cmpmem(buf, 32, chrome_rr_remb, 32);
	}

	/* FIR: only the entry naming the old SSRC changes; header stays 0. */
	len = tb_rtcp_build_fir(buf, sizeof(buf), 0x1111, entries, 2);
	g_assert_cmpint(tb_rtcp_fb_rewrite_ssrc(buf, (size_t)len, 0x5555, 0xaaaa, 0xbbbb), ==, 1);
	pkt = single(buf, (size_t)len);
	g_assert_cmpint(tb_rtcp_parse_fir(&pkt, &fb), ==, 0);
	g_assert_cmpuint(fb.media_ssrc, ==, 0);
	tb_rtcp_fir_entry_at(&fb, 0, &e);
	g_assert_cmphex(e.ssrc, ==, 0xbbbb);
	g_assert_cmpuint(e.seq, ==, 1);
	tb_rtcp_fir_entry_at(&fb, 1, &e);
	g_assert_cmphex(e.ssrc, ==, 0xcccc);
	/* FIR with old SSRC 0 does not touch the header's zero. */
	g_assert_cmpint(tb_rtcp_fb_rewrite_ssrc(buf, (size_t)len, 0x5555, 0, 0xeeee), ==, 0);
	g_assert_cmpint(tb_rtcp_parse_fir(&pkt, &fb), ==, 0);
	g_assert_cmpuint(fb.media_ssrc, ==, 0);

	/* REMB SSRC list. */
	len = tb_rtcp_build_remb(buf, sizeof(buf), 0x1111, 300000, ssrcs, 2);
	g_assert_cmpint(tb_rtcp_fb_rewrite_ssrc(buf, (size_t)len, 0x5555, 0xaaaa, 0xbbbb), ==, 1);
	pkt = single(buf, (size_t)len);
	g_assert_cmpint(tb_rtcp_parse_remb(&pkt, &remb), ==, 0);
	g_assert_cmphex(tb_rtcp_ssrc_at(remb.ssrcs, 0), ==, 0xbbbb);
	g_assert_cmphex(tb_rtcp_ssrc_at(remb.ssrcs, 1), ==, 0xdddd);

	/* Truncated feedback: refused, nothing written. */
	len = tb_rtcp_build_pli(buf, sizeof(buf), 0x1111, 0xaaaa);
	for (size_t cut = 0; cut < (size_t)len; cut++) {
		uint8_t *t = dup_exact(buf, cut);

		g_assert_cmpint(tb_rtcp_fb_rewrite_ssrc(t, cut, 0x5555, 0xaaaa, 0xbbbb), ==,
				TB_EINVAL);
		if (cut)
			g_assert_cmpmem(t, cut, buf, cut);
		g_free(t);
	}
}

/* ---- receiver statistics ---- */

static void test_rx_probation(void)
{
	tb_rtcp_rx_stats s;
	tb_rtcp_report_block rb;

	tb_rtcp_rx_stats_init(&s, 90000);
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, TB_ENOENT);
	g_assert_false(tb_rtcp_rx_stats_update(&s, 1000, 0, 0));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, TB_ENOENT);
	/* Not sequential: probation starts over. */
	g_assert_false(tb_rtcp_rx_stats_update(&s, 1005, 0, 0));
	g_assert_true(tb_rtcp_rx_stats_update(&s, 1006, 0, 0));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, 0);
	g_assert_cmpuint(rb.ext_highest_seq, ==, 1006);
	g_assert_cmpint(rb.cumulative_lost, ==, 0);
	g_assert_cmpuint(rb.fraction_lost, ==, 0);
	g_assert_cmpuint(rb.lsr, ==, 0);
	g_assert_cmpuint(rb.dlsr, ==, 0);

	/* Probation across the wrap: 65535 then 0. */
	tb_rtcp_rx_stats_init(&s, 90000);
	g_assert_false(tb_rtcp_rx_stats_update(&s, 65535, 0, 0));
	g_assert_true(tb_rtcp_rx_stats_update(&s, 0, 0, 0));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, 0);
	g_assert_cmpuint(rb.ext_highest_seq, ==, 0);
}

static void test_rx_wrap_and_loss(void)
{
	tb_rtcp_rx_stats s;
	tb_rtcp_report_block rb;
	const uint16_t first[] = {65533, 65534, 65535, 0, 1, 4, 5};
	const uint16_t second[] = {6, 7, 8, 9, 9};

	tb_rtcp_rx_stats_init(&s, 90000);
	for (size_t i = 0; i < G_N_ELEMENTS(first); i++)
		(void)tb_rtcp_rx_stats_update(&s, first[i], 0, 0);
	/* Valid from 65534 (base): received 65534 65535 0 1 4 5 = 6;
	 * extended max 65536 + 5 = 65541; expected 65541 - 65534 + 1 = 8;
	 * lost 2; fraction 2/8 * 256 = 64. */
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 0xfeed, 0, &rb), ==, 0);
	g_assert_cmphex(rb.ssrc, ==, 0xfeed);
	g_assert_cmphex(rb.ext_highest_seq, ==, 0x00010005);
	g_assert_cmpint(rb.cumulative_lost, ==, 2);
	g_assert_cmpuint(rb.fraction_lost, ==, 64);

	/* Second interval: 4 expected, 5 received (a duplicate): fraction 0,
	 * cumulative 12 - 11 = 1. */
	for (size_t i = 0; i < G_N_ELEMENTS(second); i++)
		g_assert_true(tb_rtcp_rx_stats_update(&s, second[i], 0, 0));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 0xfeed, 0, &rb), ==, 0);
	g_assert_cmphex(rb.ext_highest_seq, ==, 0x00010009);
	g_assert_cmpint(rb.cumulative_lost, ==, 1);
	g_assert_cmpuint(rb.fraction_lost, ==, 0);

	/* Late packet from before the wrap: counted, no new cycle. Then a big
	 * loss: 10..109 lost, 110 received: 101 expected, 2 received (110 and
	 * the late 65535) -> lost 99, fraction 99 * 256 / 101 = 250. */
	g_assert_true(tb_rtcp_rx_stats_update(&s, 65535, 0, 0));
	g_assert_true(tb_rtcp_rx_stats_update(&s, 110, 0, 0));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 0xfeed, 0, &rb), ==, 0);
	g_assert_cmphex(rb.ext_highest_seq, ==, 0x0001006e);
	g_assert_cmpint(rb.cumulative_lost, ==, 1 + 99);
	g_assert_cmpuint(rb.fraction_lost, ==, 250);

	/* Nothing new: empty interval, fraction 0. */
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 0xfeed, 0, &rb), ==, 0);
	g_assert_cmpuint(rb.fraction_lost, ==, 0);
	g_assert_cmpint(rb.cumulative_lost, ==, 100);

	/* Many cycles: 3 more wraps in steps of 2000. */
	for (uint32_t seq = 110 + 2000; seq < 110 + 3 * 65536; seq += 2000)
		g_assert_true(tb_rtcp_rx_stats_update(&s, (uint16_t)seq, 0, 0));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 0xfeed, 0, &rb), ==, 0);
	g_assert_cmpuint(rb.ext_highest_seq >> 16, ==, 3);
}

static void test_rx_restart(void)
{
	tb_rtcp_rx_stats s;
	tb_rtcp_report_block rb;

	tb_rtcp_rx_stats_init(&s, 48000);
	for (uint16_t seq = 100; seq < 110; seq++)
		(void)tb_rtcp_rx_stats_update(&s, seq, 0, 0);
	/* A jump of more than MAX_DROPOUT is ignored once ... */
	g_assert_false(tb_rtcp_rx_stats_update(&s, 40000, 0, 0));
	/* ... as is a stray packet more than MAX_MISORDER (100) behind ... */
	g_assert_false(tb_rtcp_rx_stats_update(&s, 5, 0, 0));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, 0);
	g_assert_cmpuint(rb.ext_highest_seq, ==, 109);
	g_assert_cmpint(rb.cumulative_lost, ==, 0);
	/* ... until the next one follows it: the sender restarted. */
	g_assert_false(tb_rtcp_rx_stats_update(&s, 40000, 0, 0));
	g_assert_true(tb_rtcp_rx_stats_update(&s, 40001, 0, 0));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, 0);
	g_assert_cmpuint(rb.ext_highest_seq, ==, 40001);
	g_assert_cmpint(rb.cumulative_lost, ==, 0);
	g_assert_true(tb_rtcp_rx_stats_update(&s, 40003, 0, 0));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, 0);
	g_assert_cmpint(rb.cumulative_lost, ==, 1);
	g_assert_cmpuint(rb.fraction_lost, ==, 128); /* 1 of 2 in this interval */

	/* More duplicates than packets: cumulative lost goes negative. */
	for (int i = 0; i < 5; i++)
		g_assert_true(tb_rtcp_rx_stats_update(&s, 40003, 0, 0));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, 0);
	g_assert_cmpint(rb.cumulative_lost, ==, 3 - 7);
	g_assert_cmpuint(rb.fraction_lost, ==, 0);
}

static void test_rx_jitter(void)
{
	tb_rtcp_rx_stats s;
	tb_rtcp_report_block rb;
	const int64_t t0 = 5000000;
	const uint32_t ts0 = 0xfffffc18; /* RTP timestamps wrap too */

	/* 90 kHz, one packet per ms (90 ticks), arrival exactly on time. */
	tb_rtcp_rx_stats_init(&s, 90000);
	for (uint32_t k = 0; k < 5; k++)
		(void)tb_rtcp_rx_stats_update(&s, (uint16_t)(10 + k), ts0 + 90 * k, t0 + 1000 * k);
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, 0);
	g_assert_cmpuint(rb.jitter, ==, 0);

	/* Packet 5 arrives 2 ms late: D = 180 ticks; J = 180/16 = 11.25. */
	g_assert_true(tb_rtcp_rx_stats_update(&s, 15, ts0 + 90 * 5, t0 + 1000 * 5 + 2000));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, 0);
	g_assert_cmpuint(rb.jitter, ==, 11);
	/* Packet 6 on time again: D = 180; J = 11.25 + (180 - 11.25)/16 = 21.8. */
	g_assert_true(tb_rtcp_rx_stats_update(&s, 16, ts0 + 90 * 6, t0 + 1000 * 6));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, 0);
	g_assert_cmpuint(rb.jitter, ==, 21);
	/* Packet 7 shares packet 6's timestamp (same frame) and arrives 5 ms
	 * later: no jitter sample. */
	g_assert_true(tb_rtcp_rx_stats_update(&s, 17, ts0 + 90 * 6, t0 + 1000 * 6 + 5000));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, 0);
	g_assert_cmpuint(rb.jitter, ==, 21);
	/* A reordered packet gives no sample either. */
	g_assert_true(tb_rtcp_rx_stats_update(&s, 12, ts0 + 90 * 2, t0 + 90000));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, 0);
	g_assert_cmpuint(rb.jitter, ==, 21);
	/* Packet 8 at its slot relative to packet 7's arrival: transit of 7 was
	 * +5 ms - 0, so on-time packet 8 gives D = 450 ticks;
	 * J_q4 = 349 + 450 - (357 >> 4 = 22) = 777 -> 48. */
	g_assert_true(tb_rtcp_rx_stats_update(&s, 18, ts0 + 90 * 8, t0 + 1000 * 8));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, 0);
	g_assert_cmpuint(rb.jitter, ==, 48);
	/* A duplicate of packet 8, 10 ms late, is neither a sample nor the
	 * reference for the next one. Packets 9..11 on time: D = 0 each, and
	 * J_q4 -= (J_q4 + 8) >> 4: 777 -> 728 -> 682 -> 639, reported 39 (the
	 * floating-point form of A.8 would give 40.0). */
	g_assert_true(tb_rtcp_rx_stats_update(&s, 18, ts0 + 90 * 8, t0 + 1000 * 8 + 10000));
	for (uint32_t k = 9; k <= 11; k++)
		g_assert_true(tb_rtcp_rx_stats_update(&s, (uint16_t)(10 + k), ts0 + 90 * k,
						      t0 + 1000 * k));
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 1, 0, &rb), ==, 0);
	g_assert_cmpuint(rb.jitter, ==, 39);
}

static void test_rx_lsr_dlsr(void)
{
	tb_rtcp_rx_stats s;
	tb_rtcp_report_block rb;
	uint8_t buf[64];
	tb_rtcp_packet pkt;
	tb_rtcp_rr rr;
	tb_rtcp_report_block back;

	tb_rtcp_rx_stats_init(&s, 48000);
	(void)tb_rtcp_rx_stats_update(&s, 1, 0, 0);
	(void)tb_rtcp_rx_stats_update(&s, 2, 960, 20000);
	tb_rtcp_rx_stats_sr_received(&s, 0x123456789abcdef0ULL, 1000000);
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 0x77, 1500000, &rb), ==, 0);
	g_assert_cmphex(rb.lsr, ==, 0x56789abc);
	g_assert_cmpuint(rb.dlsr, ==, 32768); /* 0.5 s in 1/65536 s */
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 0x77, 900000, &rb), ==, 0);
	g_assert_cmpuint(rb.dlsr, ==, 0); /* clock before the SR: no negative delay */

	/* The block goes on the wire and comes back unchanged. */
	g_assert_cmpint(tb_rtcp_rx_stats_report(&s, 0x77, 3000000, &rb), ==, 0);
	g_assert_cmpuint(rb.dlsr, ==, 131072);
	g_assert_cmpint(tb_rtcp_build_rr(buf, sizeof(buf), 0x99, &rb, 1), ==, 32);
	pkt = single(buf, 32);
	g_assert_cmpint(tb_rtcp_parse_rr(&pkt, &rr), ==, 0);
	tb_rtcp_report_block_at(rr.blocks, 0, &back);
	assert_block_eq(&back, &rb);
}

/* Random bytes through the iterator and every parser, and random feedback
 * through the rewriter. The seed comes from GTest (--seed to replay). */
static void test_random_input(void)
{
	for (unsigned round = 0; round < 20000; round++) {
		size_t n = (size_t)g_test_rand_int_range(0, 64);
		uint8_t *buf = g_malloc(n ? n : 1);
		tb_rtcp_iter it;
		tb_rtcp_packet pkt;

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)g_test_rand_int();
		if (n >= 4) {
			/* Mostly well-formed headers so the parsers get exercised. */
			buf[0] = (uint8_t)(0x80 | (buf[0] & 0x3f));
			buf[1] = (uint8_t)(200 + g_test_rand_int_range(0, 7));
			buf[2] = 0;
			buf[3] = (uint8_t)((n / 4) - 1 - (size_t)g_test_rand_int_range(0, 2));
			if (round % 3 == 0 && n >= 20)
				memcpy(buf + 12, "REMB", 4);
		}
		tb_rtcp_iter_init(&it, buf, n);
		while (tb_rtcp_iter_next(&it, &pkt)) {
			g_assert_cmpuint(pkt.offset + pkt.len, <=, n);
			parse_everything(&pkt);
		}
		(void)tb_rtcp_validate(buf, n);
		(void)tb_rtcp_fb_rewrite_ssrc(buf, n, 1, 2, 3);
		g_free(buf);
	}
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/rtcp/compound/chrome-rr-sdes-remb", test_chrome_compound);
	g_test_add_func("/rtcp/compound/prefixes", test_compound_prefixes);
	g_test_add_func("/rtcp/compound/rejects", test_compound_rejects);
	g_test_add_func("/rtcp/nack/parse", test_nack_parse);
	g_test_add_func("/rtcp/nack/build", test_nack_build);
	g_test_add_func("/rtcp/sr/round-trip", test_sr_round_trip);
	g_test_add_func("/rtcp/rr/round-trip", test_rr_round_trip);
	g_test_add_func("/rtcp/pli-fir", test_pli_fir);
	g_test_add_func("/rtcp/remb", test_remb);
	g_test_add_func("/rtcp/twcc", test_twcc);
	g_test_add_func("/rtcp/bye-sdes", test_bye_sdes);
	g_test_add_func("/rtcp/rewrite", test_rewrite);
	g_test_add_func("/rtcp/rx-stats/probation", test_rx_probation);
	g_test_add_func("/rtcp/rx-stats/wrap-and-loss", test_rx_wrap_and_loss);
	g_test_add_func("/rtcp/rx-stats/restart", test_rx_restart);
	g_test_add_func("/rtcp/rx-stats/jitter", test_rx_jitter);
	g_test_add_func("/rtcp/rx-stats/lsr-dlsr", test_rx_lsr_dlsr);
	g_test_add_func("/rtcp/random-input", test_random_input);
	return g_test_run();
}
