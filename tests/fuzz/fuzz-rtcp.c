/* fuzz-rtcp.c — a compound RTCP packet from a peer, through every parser
 * the router uses (SR, RR and report blocks, SDES, BYE, NACK expanded,
 * PLI, FIR entries, REMB, transport-cc) and the feedback SSRC rewrite that
 * relays a subscriber's request to the publisher (on a copy). */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "rtcp.h"

static void on_seq(uint16_t seq, void *user_data)
{
	(*(unsigned *)user_data) += seq;
}

static void one_packet(const tb_rtcp_packet *pkt)
{
	tb_rtcp_sr sr;
	tb_rtcp_rr rr;
	tb_rtcp_bye bye;
	tb_rtcp_fb fb;
	tb_rtcp_remb remb;
	tb_rtcp_twcc twcc;
	tb_rtcp_sdes_iter sdes;
	tb_rtcp_report_block block;
	uint32_t ssrc;
	uint8_t type;
	const uint8_t *text;
	size_t text_len;

	tb_fuzz_consume(pkt->body, pkt->body_len);
	if (tb_rtcp_parse_sr(pkt, &sr) == 0)
		for (size_t i = 0; i < sr.block_count; i++)
			tb_rtcp_report_block_at(sr.blocks, i, &block);
	if (tb_rtcp_parse_rr(pkt, &rr) == 0)
		for (size_t i = 0; i < rr.block_count; i++)
			tb_rtcp_report_block_at(rr.blocks, i, &block);
	if (pkt->type == TB_RTCP_SDES) {
		tb_rtcp_sdes_iter_init(&sdes, pkt);
		while (tb_rtcp_sdes_iter_next(&sdes, &ssrc, &type, &text, &text_len))
			tb_fuzz_consume(text, text_len);
	}
	if (tb_rtcp_parse_bye(pkt, &bye) == 0)
		for (size_t i = 0; i < bye.ssrc_count; i++)
			ssrc = tb_rtcp_ssrc_at(bye.ssrcs, i);
	if (tb_rtcp_parse_fb(pkt, &fb) == 0)
		tb_fuzz_consume(fb.fci, fb.fci_len);
	if (tb_rtcp_parse_nack(pkt, &fb) == 0) {
		uint16_t seqs[64];
		size_t n;
		unsigned sum = 0;

		tb_rtcp_nack_expand(&fb, seqs, 64, &n);
		tb_rtcp_nack_foreach(&fb, on_seq, &sum);
		tb_fuzz_consume(&sum, sizeof sum);
	}
	tb_rtcp_parse_pli(pkt, &fb);
	if (tb_rtcp_parse_fir(pkt, &fb) == 0)
		for (size_t i = 0; i < tb_rtcp_fir_count(&fb); i++) {
			tb_rtcp_fir_entry e;
			tb_rtcp_fir_entry_at(&fb, i, &e);
		}
	if (tb_rtcp_parse_remb(pkt, &remb) == 0)
		for (size_t i = 0; i < remb.ssrc_count; i++)
			ssrc = tb_rtcp_ssrc_at(remb.ssrcs, i);
	if (tb_rtcp_parse_twcc(pkt, &twcc) == 0)
		tb_fuzz_consume(twcc.fci, twcc.fci_len);
	(void)ssrc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tb_rtcp_iter it;
	tb_rtcp_packet pkt;
	uint8_t *copy;

	tb_rtcp_validate(data, size);
	tb_rtcp_iter_init(&it, data, size);
	while (tb_rtcp_iter_next(&it, &pkt))
		one_packet(&pkt);

	/* Relaying: rewrite each feedback packet of a copy in place. */
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	tb_rtcp_iter_init(&it, copy, size);
	while (tb_rtcp_iter_next(&it, &pkt))
		if (pkt.type == TB_RTCP_RTPFB || pkt.type == TB_RTCP_PSFB)
			tb_rtcp_fb_rewrite_ssrc((uint8_t *)pkt.data, pkt.len, 1, 2, 3);
	free(copy);
	return 0;
}
