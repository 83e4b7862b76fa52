/* simulcast.c — subscriber stream rewriting (continuity across restarts
 * and layer switches) and layer choice. See simulcast.h.
 *
 * Pure, any thread, nothing allocated or logged: it runs per packet.
 */
#include "simulcast.h"

#include "common.h"

uint16_t tb_simulcast_vp8_width(const uint8_t *payload, size_t len)
{
	tb_vp8_descriptor d;
	const uint8_t *frame;

	if (!tb_vp8_is_keyframe(payload, len) || tb_vp8_parse_descriptor(payload, len, &d) < 0 ||
	    len < d.header_len + 10)
		return 0;
	/* frame tag (3), start code (3), then 14-bit width and scale */
	frame = payload + d.header_len;
	return (uint16_t)((frame[6] | frame[7] << 8) & 0x3fff);
}

/* The key a layer is ranked by. */
static uint32_t rank_key(const tb_simulcast_layers *layers, size_t i, bool by_width)
{
	return by_width ? layers->width[i] : layers->rate_bps[i];
}

size_t tb_simulcast_rank(const tb_simulcast_layers *layers, int order[TB_SIMULCAST_MAX_LAYERS])
{
	size_t n = layers->n < TB_SIMULCAST_MAX_LAYERS ? layers->n : TB_SIMULCAST_MAX_LAYERS;
	size_t live = 0;
	bool by_width = true;

	/* Bitrates mislead (retransmissions, probing, a keyframe): widths do
	 * not, once known. */
	for (size_t i = 0; i < n; i++)
		if (layers->rate_bps[i] && !layers->width[i])
			by_width = false;
	for (size_t i = 0; i < n; i++) {
		if (layers->rate_bps[i] == 0)
			continue;
		/* insertion, lowest first */
		size_t k = live++;
		while (k > 0 && rank_key(layers, (size_t)order[k - 1], by_width) >
					rank_key(layers, i, by_width)) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = (int)i;
	}
	if (live > 0)
		return live;
	for (size_t i = 0; i < n; i++)
		order[i] = (int)i;
	return n;
}

int tb_simulcast_choose(const tb_simulcast_layers *layers, tb_simulcast_quality wanted,
			uint32_t budget_bps)
{
	int order[TB_SIMULCAST_MAX_LAYERS];
	size_t live;
	int r;

	if (layers->n == 0)
		return -1;
	live = tb_simulcast_rank(layers, order);
	r = (int)wanted < (int)live - 1 ? (int)wanted : (int)live - 1;
	while (r > 0 && budget_bps && layers->rate_bps[order[r]] > budget_bps)
		r--;
	return order[r];
}

void tb_stream_rewriter_init(tb_stream_rewriter *rw, uint32_t clock_rate, bool video,
			     uint16_t first_seq, uint32_t first_ts)
{
	*rw = (tb_stream_rewriter){0};
	rw->first_seq = first_seq;
	rw->first_ts = first_ts;
	rw->clock_rate = clock_rate ? clock_rate : 90000;
	rw->video = video;
	rw->need_keyframe = video;
	rw->layer = -1;
	rw->target = 0;
}

bool tb_stream_rewriter_set_target(tb_stream_rewriter *rw, int layer)
{
	rw->target = layer;
	return rw->video && layer != rw->layer;
}

void tb_stream_rewriter_restart(tb_stream_rewriter *rw)
{
	rw->rebase = true;
	rw->need_keyframe = rw->video;
}

/* New offsets so that the packet HDR continues the output stream. */
static void rebase(tb_stream_rewriter *rw, const tb_rtp_header *hdr, int64_t now_us)
{
	uint16_t next_seq = rw->first_seq;
	uint32_t next_ts = rw->first_ts;

	if (rw->started) {
		int64_t elapsed = now_us - rw->last_sent_us;
		next_seq = (uint16_t)(rw->last_seq + 1);
		/* At least a millisecond on: never the timestamp of a frame
		 * already sent. */
		next_ts = rw->last_ts +
			  (uint32_t)((elapsed > 1000 ? elapsed : 1000) * rw->clock_rate / 1000000);
	}
	rw->seq_offset = (uint16_t)(next_seq - hdr->seq);
	rw->ts_offset = next_ts - hdr->timestamp;
	rw->base_seq = next_seq;
	rw->started = true;
	rw->rebase = false;
	rw->vp8_rebase = true;
}

tb_rewrite_action tb_stream_rewrite(tb_stream_rewriter *rw, int layer, const tb_rtp_header *hdr,
				    bool keyframe, int64_t now_us, uint16_t *out_seq,
				    uint32_t *out_ts)
{
	bool switching = layer != rw->layer;
	uint16_t seq;

	if (switching && layer != rw->target)
		return TB_REWRITE_DROP;
	if ((switching || rw->need_keyframe) && rw->video && !keyframe)
		return TB_REWRITE_WANT_KEYFRAME;
	if (switching || !rw->started || rw->rebase) {
		if (switching && rw->layer >= 0)
			rw->switches++;
		rw->layer = layer;
		rebase(rw, hdr, now_us);
	}
	rw->need_keyframe = false;
	seq = (uint16_t)(hdr->seq + rw->seq_offset);
	/* A packet older than the current offsets' first one would take a
	 * number already used under the previous offsets. */
	if ((int16_t)(seq - rw->base_seq) < 0)
		return TB_REWRITE_DROP;
	if (rw->forwarded == 0 || (int16_t)(seq - rw->last_seq) > 0) {
		rw->last_seq = seq;
		rw->last_ts = hdr->timestamp + rw->ts_offset;
	}
	rw->last_sent_us = now_us;
	rw->forwarded++;
	*out_seq = seq;
	*out_ts = hdr->timestamp + rw->ts_offset;
	return TB_REWRITE_FORWARD;
}

bool tb_stream_rewrite_retransmission(const tb_stream_rewriter *rw, const tb_rtp_header *hdr,
				      uint16_t *out_seq, uint32_t *out_ts)
{
	uint16_t seq = (uint16_t)(hdr->seq + rw->seq_offset);

	if (!rw->started || rw->forwarded == 0 || (int16_t)(seq - rw->base_seq) < 0 ||
	    (int16_t)(rw->last_seq - seq) < 0)
		return false;
	*out_seq = seq;
	*out_ts = hdr->timestamp + rw->ts_offset;
	return true;
}

int tb_stream_rewrite_vp8(tb_stream_rewriter *rw, uint8_t *payload, size_t len, bool retransmission)
{
	tb_vp8_descriptor d;
	uint16_t mask;

	if (tb_vp8_parse_descriptor(payload, len, &d) < 0)
		return TB_EINVAL;
	if (!d.has_picture_id)
		return 0;
	mask = d.picture_id_15 ? 0x7fff : 0x7f;
	if (!retransmission && rw->vp8_rebase) {
		/* The first picture under new offsets follows the last one sent. */
		rw->pid_offset = rw->vp8_started ? (uint16_t)(rw->last_pid + 1 - d.picture_id) : 0;
		if (d.has_tl0picidx)
			rw->tl0_offset =
				rw->vp8_started ? (uint8_t)(rw->last_tl0 + 1 - d.tl0picidx) : 0;
		rw->vp8_rebase = false;
		if (!rw->vp8_started) {
			rw->last_pid = d.picture_id;
			rw->last_tl0 = d.tl0picidx;
		}
		rw->vp8_started = true;
	}
	{
		uint16_t pid = (uint16_t)((d.picture_id + rw->pid_offset) & mask);
		tb_vp8_set_picture_id(payload, len, pid);
		if (!retransmission &&
		    ((uint16_t)((pid - rw->last_pid) & mask) < mask / 2 || pid == rw->last_pid))
			rw->last_pid = pid;
	}
	if (d.has_tl0picidx) {
		uint8_t tl0 = (uint8_t)(d.tl0picidx + rw->tl0_offset);
		tb_vp8_set_tl0picidx(payload, len, tl0);
		if (!retransmission && (int8_t)(tl0 - rw->last_tl0) >= 0)
			rw->last_tl0 = tl0;
	}
	return 0;
}
