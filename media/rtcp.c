/* rtcp.c — RTCP compound iteration, report and feedback parsing/building,
 * feedback SSRC rewriting and receiver statistics.
 *
 * Pure functions over caller buffers, callable from any thread; they run
 * on the media workers for every RTCP datagram, so nothing here allocates
 * or logs. Every read is checked against the packet's own length, which is
 * checked against the datagram's: RTCP comes from the network.
 *
 * Not here: SRTCP, timers deciding when reports go out, transport-cc
 * chunk decoding.
 */
#include "rtcp.h"

#include "common.h"

#include <string.h>

#include "bytes.h"

/* Largest RTCP packet the 16-bit length field can describe. */
#define RTCP_MAX_PACKET_LEN (4 * ((size_t)UINT16_MAX + 1))


/* Sign-extends a 24-bit two's complement value. */
static inline int32_t sext24(uint32_t v)
{
	return (int32_t)(v ^ 0x800000) - 0x800000;
}

/* ---- compound packets ---- */

void tb_rtcp_iter_init(tb_rtcp_iter *iter, const uint8_t *buf, size_t len)
{
	iter->buf = buf;
	iter->len = len;
	iter->pos = 0;
	iter->error = false;
}

bool tb_rtcp_iter_next(tb_rtcp_iter *iter, tb_rtcp_packet *pkt)
{
	const uint8_t *p;
	size_t left, plen;

	if (iter->error || iter->pos >= iter->len)
		return false;
	left = iter->len - iter->pos;
	p = iter->buf + iter->pos;
	if (left < TB_RTCP_HEADER_LEN || (p[0] >> 6) != 2)
		goto fail;
	plen = 4 * ((size_t)rd16(p + 2) + 1);
	if (plen > left)
		goto fail;

	pkt->type = p[1];
	pkt->count = p[0] & 0x1f;
	pkt->padding = (p[0] & 0x20) != 0;
	pkt->offset = iter->pos;
	pkt->len = plen;
	pkt->data = p;
	pkt->body = p + TB_RTCP_HEADER_LEN;
	pkt->body_len = plen - TB_RTCP_HEADER_LEN;
	if (pkt->padding) {
		/* The last byte counts the padding, itself included. */
		uint8_t pad = p[plen - 1];

		if (pad == 0 || pad > pkt->body_len)
			goto fail;
		pkt->body_len -= pad;
	}
	iter->pos += plen;
	return true;

fail:
	iter->error = true;
	iter->pos = iter->len;
	return false;
}

int tb_rtcp_validate(const uint8_t *buf, size_t len)
{
	tb_rtcp_iter iter;
	tb_rtcp_packet pkt;
	size_t n = 0;

	tb_rtcp_iter_init(&iter, buf, len);
	while (tb_rtcp_iter_next(&iter, &pkt)) {
		/* RFC 5761 §4: RTCP types live in 192..223; anything else here is
		 * RTP that was misrouted. */
		if (pkt.type < 192 || pkt.type > 223)
			return TB_EINVAL;
		n++;
	}
	return (iter.error || n == 0) ? TB_EINVAL : 0;
}

/* ---- SR, RR ---- */

int tb_rtcp_parse_sr(const tb_rtcp_packet *pkt, tb_rtcp_sr *out)
{
	const uint8_t *b = pkt->body;

	if (pkt->type != TB_RTCP_SR ||
	    pkt->body_len < 24 + (size_t)pkt->count * TB_RTCP_REPORT_BLOCK_LEN)
		return TB_EINVAL;
	out->info.ssrc = rd32(b);
	out->info.ntp_timestamp = ((uint64_t)rd32(b + 4) << 32) | rd32(b + 8);
	out->info.rtp_timestamp = rd32(b + 12);
	out->info.packet_count = rd32(b + 16);
	out->info.octet_count = rd32(b + 20);
	out->block_count = pkt->count;
	out->blocks = b + 24;
	return 0;
}

int tb_rtcp_parse_rr(const tb_rtcp_packet *pkt, tb_rtcp_rr *out)
{
	if (pkt->type != TB_RTCP_RR ||
	    pkt->body_len < 4 + (size_t)pkt->count * TB_RTCP_REPORT_BLOCK_LEN)
		return TB_EINVAL;
	out->ssrc = rd32(pkt->body);
	out->block_count = pkt->count;
	out->blocks = pkt->body + 4;
	return 0;
}

void tb_rtcp_report_block_at(const uint8_t *blocks, size_t index, tb_rtcp_report_block *out)
{
	const uint8_t *b = blocks + index * TB_RTCP_REPORT_BLOCK_LEN;

	out->ssrc = rd32(b);
	out->fraction_lost = b[4];
	out->cumulative_lost = sext24(rd24(b + 5));
	out->ext_highest_seq = rd32(b + 8);
	out->jitter = rd32(b + 12);
	out->lsr = rd32(b + 16);
	out->dlsr = rd32(b + 20);
}

static void write_report_block(uint8_t *b, const tb_rtcp_report_block *rb)
{
	int32_t lost = rb->cumulative_lost;

	if (lost > 0x7fffff)
		lost = 0x7fffff;
	if (lost < -0x800000)
		lost = -0x800000;
	wr32(b, rb->ssrc);
	b[4] = rb->fraction_lost;
	wr24(b + 5, (uint32_t)lost & 0xffffff);
	wr32(b + 8, rb->ext_highest_seq);
	wr32(b + 12, rb->jitter);
	wr32(b + 16, rb->lsr);
	wr32(b + 20, rb->dlsr);
}

/* ---- SDES ---- */

void tb_rtcp_sdes_iter_init(tb_rtcp_sdes_iter *iter, const tb_rtcp_packet *pkt)
{
	bool ok = pkt->type == TB_RTCP_SDES;

	iter->body = pkt->body;
	iter->len = ok ? pkt->body_len : 0;
	iter->pos = 0;
	iter->chunks_left = ok ? pkt->count : 0;
	iter->ssrc = 0;
	iter->in_chunk = false;
	iter->error = !ok;
}

bool tb_rtcp_sdes_iter_next(tb_rtcp_sdes_iter *iter, uint32_t *ssrc, uint8_t *type,
			    const uint8_t **text, size_t *text_len)
{
	for (;;) {
		size_t item_len;

		if (iter->error)
			return false;
		if (!iter->in_chunk) {
			if (iter->chunks_left == 0)
				return false;
			if (iter->len - iter->pos < 4)
				goto fail;
			iter->ssrc = rd32(iter->body + iter->pos);
			iter->pos += 4;
			iter->chunks_left--;
			iter->in_chunk = true;
		}
		if (iter->pos >= iter->len)
			goto fail; /* chunk without its null item */
		if (iter->body[iter->pos] == 0) {
			/* End of chunk: null octets up to the next 32-bit boundary
			 * (the body starts on one). */
			iter->pos = (iter->pos + 4) & ~(size_t)3;
			if (iter->pos > iter->len)
				goto fail;
			iter->in_chunk = false;
			continue;
		}
		if (iter->len - iter->pos < 2)
			goto fail;
		item_len = iter->body[iter->pos + 1];
		if (item_len > iter->len - iter->pos - 2)
			goto fail;
		*ssrc = iter->ssrc;
		*type = iter->body[iter->pos];
		*text = iter->body + iter->pos + 2;
		*text_len = item_len;
		iter->pos += 2 + item_len;
		return true;
	}

fail:
	iter->error = true;
	return false;
}

/* ---- BYE ---- */

int tb_rtcp_parse_bye(const tb_rtcp_packet *pkt, tb_rtcp_bye *out)
{
	size_t list = 4 * (size_t)pkt->count;

	if (pkt->type != TB_RTCP_BYE || pkt->body_len < list)
		return TB_EINVAL;
	out->ssrc_count = pkt->count;
	out->ssrcs = pkt->body;
	out->reason = NULL;
	out->reason_len = 0;
	if (pkt->body_len > list) {
		size_t rlen = pkt->body[list];

		if (rlen > pkt->body_len - list - 1)
			return TB_EINVAL;
		out->reason = pkt->body + list + 1;
		out->reason_len = rlen;
	}
	return 0;
}

/* ---- feedback ---- */

int tb_rtcp_parse_fb(const tb_rtcp_packet *pkt, tb_rtcp_fb *out)
{
	if ((pkt->type != TB_RTCP_RTPFB && pkt->type != TB_RTCP_PSFB) || pkt->body_len < 8)
		return TB_EINVAL;
	out->type = pkt->type;
	out->fmt = pkt->count;
	out->sender_ssrc = rd32(pkt->body);
	out->media_ssrc = rd32(pkt->body + 4);
	out->fci = pkt->body + 8;
	out->fci_len = pkt->body_len - 8;
	return 0;
}

static int parse_fb_of(const tb_rtcp_packet *pkt, uint8_t type, uint8_t fmt, size_t min_fci,
		       tb_rtcp_fb *out)
{
	if (pkt->type != type || pkt->count != fmt || tb_rtcp_parse_fb(pkt, out) != 0 ||
	    out->fci_len < min_fci)
		return TB_EINVAL;
	return 0;
}

int tb_rtcp_parse_pli(const tb_rtcp_packet *pkt, tb_rtcp_fb *out)
{
	return parse_fb_of(pkt, TB_RTCP_PSFB, TB_RTCP_PSFB_PLI, 0, out);
}

int tb_rtcp_parse_nack(const tb_rtcp_packet *pkt, tb_rtcp_fb *out)
{
	return parse_fb_of(pkt, TB_RTCP_RTPFB, TB_RTCP_RTPFB_NACK, 4, out);
}

void tb_rtcp_nack_foreach(const tb_rtcp_fb *nack, tb_rtcp_nack_func func, void *user_data)
{
	size_t entries = nack->fci_len / 4;

	for (size_t i = 0; i < entries; i++) {
		uint16_t pid = rd16(nack->fci + 4 * i);
		uint16_t blp = rd16(nack->fci + 4 * i + 2);

		func(pid, user_data);
		for (unsigned bit = 0; bit < 16; bit++)
			if (blp & (1u << bit))
				func((uint16_t)(pid + bit + 1), user_data);
	}
}

int tb_rtcp_nack_expand(const tb_rtcp_fb *nack, uint16_t *seqs, size_t cap, size_t *n)
{
	size_t entries = nack->fci_len / 4, count = 0;

	for (size_t i = 0; i < entries; i++) {
		uint16_t pid = rd16(nack->fci + 4 * i);
		uint32_t bits = ((uint32_t)rd16(nack->fci + 4 * i + 2) << 1) | 1;

		/* Bit 0 stands for the PID itself, bit k for PID + k. */
		for (unsigned k = 0; k < 17; k++) {
			if (!(bits & (1u << k)))
				continue;
			if (count == cap) {
				*n = count;
				return TB_EFULL;
			}
			seqs[count++] = (uint16_t)(pid + k);
		}
	}
	*n = count;
	return 0;
}

int tb_rtcp_parse_twcc(const tb_rtcp_packet *pkt, tb_rtcp_twcc *out)
{
	tb_rtcp_fb fb;

	if (parse_fb_of(pkt, TB_RTCP_RTPFB, TB_RTCP_RTPFB_TWCC, 8, &fb) != 0)
		return TB_EINVAL;
	out->sender_ssrc = fb.sender_ssrc;
	out->media_ssrc = fb.media_ssrc;
	out->base_seq = rd16(fb.fci);
	out->status_count = rd16(fb.fci + 2);
	out->reference_time = sext24(rd24(fb.fci + 4));
	out->fb_count = fb.fci[7];
	out->fci = fb.fci;
	out->fci_len = fb.fci_len;
	return 0;
}

int tb_rtcp_parse_fir(const tb_rtcp_packet *pkt, tb_rtcp_fb *out)
{
	return parse_fb_of(pkt, TB_RTCP_PSFB, TB_RTCP_PSFB_FIR, 8, out);
}

void tb_rtcp_fir_entry_at(const tb_rtcp_fb *fir, size_t index, tb_rtcp_fir_entry *out)
{
	out->ssrc = rd32(fir->fci + 8 * index);
	out->seq = fir->fci[8 * index + 4];
}

int tb_rtcp_parse_remb(const tb_rtcp_packet *pkt, tb_rtcp_remb *out)
{
	tb_rtcp_fb fb;
	uint8_t exponent;
	uint32_t mantissa;

	if (parse_fb_of(pkt, TB_RTCP_PSFB, TB_RTCP_PSFB_AFB, 8, &fb) != 0 ||
	    memcmp(fb.fci, "REMB", 4) != 0 || fb.fci_len - 8 < 4 * (size_t)fb.fci[4])
		return TB_EINVAL;
	exponent = fb.fci[5] >> 2;
	mantissa = ((uint32_t)(fb.fci[5] & 0x03) << 16) | rd16(fb.fci + 6);
	if ((uint64_t)mantissa > (UINT64_MAX >> exponent))
		return TB_EINVAL;
	out->sender_ssrc = fb.sender_ssrc;
	out->exponent = exponent;
	out->mantissa = mantissa;
	out->bitrate = (uint64_t)mantissa << exponent;
	out->ssrc_count = fb.fci[4];
	out->ssrcs = fb.fci + 8;
	return 0;
}

/* ---- builders ---- */

/* Writes a header for a packet of LEN bytes (a multiple of 4, >= 4). */
static void write_header(uint8_t *p, uint8_t count, uint8_t type, size_t len)
{
	p[0] = (uint8_t)(0x80 | (count & 0x1f));
	p[1] = type;
	wr16(p + 2, (uint16_t)(len / 4 - 1));
}

int tb_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t ssrc, const tb_rtcp_report_block *blocks,
		     size_t n)
{
	size_t len = 8 + n * TB_RTCP_REPORT_BLOCK_LEN;

	if (n > TB_RTCP_MAX_REPORT_BLOCKS || (n > 0 && !blocks) || len > cap)
		return TB_EINVAL;
	write_header(buf, (uint8_t)n, TB_RTCP_RR, len);
	wr32(buf + 4, ssrc);
	for (size_t i = 0; i < n; i++)
		write_report_block(buf + 8 + i * TB_RTCP_REPORT_BLOCK_LEN, &blocks[i]);
	return (int)len;
}

int tb_rtcp_build_sr(uint8_t *buf, size_t cap, const tb_rtcp_sender_info *info,
		     const tb_rtcp_report_block *blocks, size_t n)
{
	size_t len = 28 + n * TB_RTCP_REPORT_BLOCK_LEN;

	if (n > TB_RTCP_MAX_REPORT_BLOCKS || (n > 0 && !blocks) || len > cap)
		return TB_EINVAL;
	write_header(buf, (uint8_t)n, TB_RTCP_SR, len);
	wr32(buf + 4, info->ssrc);
	wr32(buf + 8, (uint32_t)(info->ntp_timestamp >> 32));
	wr32(buf + 12, (uint32_t)info->ntp_timestamp);
	wr32(buf + 16, info->rtp_timestamp);
	wr32(buf + 20, info->packet_count);
	wr32(buf + 24, info->octet_count);
	for (size_t i = 0; i < n; i++)
		write_report_block(buf + 28 + i * TB_RTCP_REPORT_BLOCK_LEN, &blocks[i]);
	return (int)len;
}

int tb_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname,
			     size_t cname_len)
{
	/* header, SSRC, CNAME item (type, length, text), then at least one
	 * null octet and more up to a 32-bit boundary */
	size_t items = (2 + cname_len + 1 + 3) & ~(size_t)3;
	size_t len = 8 + items;

	if (cname_len == 0 || cname_len > 255 || !cname || len > cap)
		return TB_EINVAL;
	write_header(buf, 1, TB_RTCP_SDES, len);
	wr32(buf + 4, ssrc);
	buf[8] = 1; /* CNAME */
	buf[9] = (uint8_t)cname_len;
	memcpy(buf + 10, cname, cname_len);
	memset(buf + 10 + cname_len, 0, len - 10 - cname_len);
	return (int)len;
}

int tb_rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrcs, size_t n)
{
	size_t len = 4 + 4 * n;

	if (n == 0 || n > 31 || !ssrcs || len > cap)
		return TB_EINVAL;
	write_header(buf, (uint8_t)n, TB_RTCP_BYE, len);
	for (size_t i = 0; i < n; i++)
		wr32(buf + 4 + 4 * i, ssrcs[i]);
	return (int)len;
}

static void write_fb_header(uint8_t *buf, uint8_t type, uint8_t fmt, size_t len, uint32_t sender,
			    uint32_t media)
{
	write_header(buf, fmt, type, len);
	wr32(buf + 4, sender);
	wr32(buf + 8, media);
}

int tb_rtcp_build_pli(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc)
{
	if (cap < 12)
		return TB_EINVAL;
	write_fb_header(buf, TB_RTCP_PSFB, TB_RTCP_PSFB_PLI, 12, sender_ssrc, media_ssrc);
	return 12;
}

int tb_rtcp_build_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc,
		      const tb_rtcp_fir_entry *entries, size_t n)
{
	size_t len;

	if (n == 0 || !entries || cap < 12 || n > (cap - 12) / 8)
		return TB_EINVAL;
	len = 12 + 8 * n;
	if (len > RTCP_MAX_PACKET_LEN)
		return TB_EINVAL;
	write_fb_header(buf, TB_RTCP_PSFB, TB_RTCP_PSFB_FIR, len, sender_ssrc, 0);
	for (size_t i = 0; i < n; i++) {
		uint8_t *e = buf + 12 + 8 * i;

		wr32(e, entries[i].ssrc);
		e[4] = entries[i].seq;
		e[5] = e[6] = e[7] = 0;
	}
	return (int)len;
}

/* Packs SEQS into PID+BLP entries; writes them at OUT when not NULL.
 * Returns the number of entries. */
static size_t pack_nack(const uint16_t *seqs, size_t n, uint8_t *out)
{
	size_t entries = 0;
	uint16_t pid = 0, blp = 0;

	for (size_t i = 0; i < n; i++) {
		uint16_t diff = (uint16_t)(seqs[i] - pid);

		if (entries > 0 && diff == 0)
			continue;
		if (entries > 0 && diff <= 16) {
			blp |= (uint16_t)(1u << (diff - 1));
		} else {
			if (entries > 0 && out) {
				wr16(out + 4 * (entries - 1), pid);
				wr16(out + 4 * (entries - 1) + 2, blp);
			}
			entries++;
			pid = seqs[i];
			blp = 0;
		}
	}
	if (entries > 0 && out) {
		wr16(out + 4 * (entries - 1), pid);
		wr16(out + 4 * (entries - 1) + 2, blp);
	}
	return entries;
}

int tb_rtcp_build_nack(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
		       const uint16_t *seqs, size_t n)
{
	size_t entries, len;

	if (n == 0 || !seqs)
		return TB_EINVAL;
	entries = pack_nack(seqs, n, NULL);
	if (cap < 12 || entries > (cap - 12) / 4)
		return TB_EINVAL;
	len = 12 + 4 * entries;
	if (len > RTCP_MAX_PACKET_LEN)
		return TB_EINVAL;
	write_fb_header(buf, TB_RTCP_RTPFB, TB_RTCP_RTPFB_NACK, len, sender_ssrc, media_ssrc);
	pack_nack(seqs, n, buf + 12);
	return (int)len;
}

int tb_rtcp_build_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
		       const uint32_t *ssrcs, size_t n)
{
	size_t len = 20 + 4 * n;
	unsigned exponent = 0;
	uint32_t mantissa;

	if (n > 255 || (n > 0 && !ssrcs) || len > cap)
		return TB_EINVAL;
	while ((bitrate >> exponent) > 0x3ffff)
		exponent++;
	mantissa = (uint32_t)(bitrate >> exponent);

	write_fb_header(buf, TB_RTCP_PSFB, TB_RTCP_PSFB_AFB, len, sender_ssrc, 0);
	memcpy(buf + 12, "REMB", 4);
	buf[16] = (uint8_t)n;
	buf[17] = (uint8_t)((exponent << 2) | (mantissa >> 16));
	wr16(buf + 18, (uint16_t)mantissa);
	for (size_t i = 0; i < n; i++)
		wr32(buf + 20 + 4 * i, ssrcs[i]);
	return (int)len;
}

/* ---- relaying feedback ---- */

int tb_rtcp_fb_rewrite_ssrc(uint8_t *packet, size_t len, uint32_t sender_ssrc, uint32_t old_media,
			    uint32_t new_media)
{
	tb_rtcp_iter iter;
	tb_rtcp_packet pkt;
	tb_rtcp_fb fb;
	tb_rtcp_remb remb;
	int replaced = 0;

	tb_rtcp_iter_init(&iter, packet, len);
	if (!tb_rtcp_iter_next(&iter, &pkt) || tb_rtcp_parse_fb(&pkt, &fb) != 0)
		return TB_EINVAL;

	wr32(packet + 4, sender_ssrc);
	if (fb.type == TB_RTCP_PSFB && fb.fmt == TB_RTCP_PSFB_FIR) {
		/* FIR names its targets in the entries; the header field is 0. */
		for (size_t i = 0; i < tb_rtcp_fir_count(&fb); i++) {
			uint8_t *e = packet + 12 + 8 * i;

			if (rd32(e) == old_media) {
				wr32(e, new_media);
				replaced++;
			}
		}
	} else if (fb.type == TB_RTCP_PSFB && fb.fmt == TB_RTCP_PSFB_AFB &&
		   tb_rtcp_parse_remb(&pkt, &remb) == 0) {
		for (size_t i = 0; i < remb.ssrc_count; i++) {
			uint8_t *s = packet + 20 + 4 * i;

			if (rd32(s) == old_media) {
				wr32(s, new_media);
				replaced++;
			}
		}
	} else if (fb.media_ssrc == old_media) {
		wr32(packet + 8, new_media);
		replaced++;
	}
	return replaced;
}

/* ---- receiver statistics ---- */

enum {
	RX_SEQ_MOD = 1 << 16,
	RX_MAX_DROPOUT = 3000,
	RX_MAX_MISORDER = 100,
	RX_MIN_SEQUENTIAL = 2,
};

void tb_rtcp_rx_stats_init(tb_rtcp_rx_stats *stats, uint32_t clock_rate)
{
	memset(stats, 0, sizeof(*stats));
	stats->clock_rate = clock_rate;
}

/* RFC 3550 A.1 init_seq. */
static void rx_init_seq(tb_rtcp_rx_stats *s, uint16_t seq)
{
	s->base_seq = seq;
	s->max_seq = seq;
	s->bad_seq = RX_SEQ_MOD + 1; /* so seq == bad_seq is false */
	s->cycles = 0;
	s->received = 0;
	s->received_prior = 0;
	s->expected_prior = 0;
	s->have_transit = false;
}

/* Converts a monotonic time to RTP clock units, modulo 2^32; split in
 * seconds and the rest so the product never overflows. */
static uint32_t rx_to_rtp_units(int64_t time_us, uint32_t clock_rate)
{
	uint64_t us = (uint64_t)time_us;

	return (uint32_t)((us / 1000000) * clock_rate + (us % 1000000) * clock_rate / 1000000);
}

/* RFC 3550 A.8, integer form, on an in-order packet. */
static void rx_update_jitter(tb_rtcp_rx_stats *s, uint32_t timestamp, int64_t arrival_us)
{
	uint32_t transit = rx_to_rtp_units(arrival_us, s->clock_rate) - timestamp;

	if (s->have_transit && timestamp != s->last_timestamp) {
		uint32_t d = transit - s->transit;

		if (d > UINT32_MAX - d) /* negative as a 32-bit difference: |d| */
			d = (uint32_t)-d;
		s->jitter_q4 += d - ((s->jitter_q4 + 8) >> 4);
	}
	s->transit = transit;
	s->last_timestamp = timestamp;
	s->have_transit = true;
}

bool tb_rtcp_rx_stats_update(tb_rtcp_rx_stats *stats, uint16_t seq, uint32_t timestamp,
			     int64_t arrival_us)
{
	tb_rtcp_rx_stats *s = stats;
	uint16_t udelta;
	bool in_order = false;

	if (!s->started) {
		s->started = true;
		rx_init_seq(s, seq);
		s->max_seq = (uint16_t)(seq - 1);
		s->probation = RX_MIN_SEQUENTIAL;
	}
	udelta = (uint16_t)(seq - s->max_seq);

	if (s->probation) {
		if (seq == (uint16_t)(s->max_seq + 1)) {
			s->probation--;
			s->max_seq = seq;
			if (s->probation == 0) {
				rx_init_seq(s, seq);
				s->received++;
				rx_update_jitter(s, timestamp, arrival_us);
				return true;
			}
		} else {
			s->probation = RX_MIN_SEQUENTIAL - 1;
			s->max_seq = seq;
		}
		return false;
	} else if (udelta < RX_MAX_DROPOUT) {
		/* in order, with a permissible gap */
		if (seq < s->max_seq)
			s->cycles += RX_SEQ_MOD;
		s->max_seq = seq;
		in_order = udelta != 0;
	} else if (udelta <= RX_SEQ_MOD - RX_MAX_MISORDER) {
		/* a very large jump: a restart if the next packet follows it */
		if (seq != s->bad_seq) {
			s->bad_seq = (uint32_t)(seq + 1) & (RX_SEQ_MOD - 1);
			return false;
		}
		rx_init_seq(s, seq);
		in_order = true;
	} else {
		/* duplicate or reordered packet: counted, no jitter sample */
	}
	s->received++;
	if (in_order)
		rx_update_jitter(s, timestamp, arrival_us);
	return true;
}

void tb_rtcp_rx_stats_sr_received(tb_rtcp_rx_stats *stats, uint64_t ntp_timestamp, int64_t now_us)
{
	stats->have_sr = true;
	stats->last_sr = (uint32_t)(ntp_timestamp >> 16);
	stats->last_sr_us = now_us;
}

int tb_rtcp_rx_stats_report(tb_rtcp_rx_stats *stats, uint32_t ssrc, int64_t now_us,
			    tb_rtcp_report_block *out)
{
	tb_rtcp_rx_stats *s = stats;
	uint32_t ext_max, expected, expected_interval, received_interval;
	int64_t lost, lost_interval;

	if (!s->started || s->probation)
		return TB_ENOENT;

	ext_max = s->cycles + s->max_seq;
	expected = ext_max - s->base_seq + 1;
	lost = (int64_t)expected - (int64_t)s->received;
	if (lost > 0x7fffff)
		lost = 0x7fffff;
	if (lost < -0x800000)
		lost = -0x800000;

	expected_interval = expected - s->expected_prior;
	s->expected_prior = expected;
	received_interval = s->received - s->received_prior;
	s->received_prior = s->received;
	lost_interval = (int64_t)expected_interval - (int64_t)received_interval;

	out->ssrc = ssrc;
	if (expected_interval == 0 || lost_interval <= 0)
		out->fraction_lost = 0;
	else if (lost_interval >= (int64_t)expected_interval)
		out->fraction_lost = 255; /* all lost: 256/256 does not fit */
	else
		out->fraction_lost = (uint8_t)((lost_interval << 8) / expected_interval);
	out->cumulative_lost = (int32_t)lost;
	out->ext_highest_seq = ext_max;
	out->jitter = (s->jitter_q4 >> 4) > UINT32_MAX ? UINT32_MAX : (uint32_t)(s->jitter_q4 >> 4);
	if (s->have_sr) {
		int64_t delay = now_us - s->last_sr_us;

		out->lsr = s->last_sr;
		out->dlsr = delay <= 0 ? 0 : (uint32_t)(((uint64_t)delay << 16) / 1000000);
	} else {
		out->lsr = 0;
		out->dlsr = 0;
	}
	return 0;
}
