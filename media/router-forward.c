/* router-forward.c — the router's packet path: publisher RTP in, one
 * rewritten copy per subscriber out; RTCP feedback both ways; simulcast
 * layer selection.
 *
 * Worker thread only. Per packet: nothing allocated, logged or locked;
 * each copy is made in a stack buffer, the NACK caches are preallocated
 * rings.
 *
 * A published video track may arrive as up to three simulcast layers
 * (RFC 8853: rids in the rtp-stream-id header extension, or an
 * a=ssrc-group:SIM). Each subscriber gets one of them, through its
 * tb_stream_rewriter: one continuous SSRC/seq/ts/picture-id stream, that
 * switches only on a keyframe of the new layer.
 *
 * Not here: negotiation, peers' life cycle (router.c); the rewrite rules
 * themselves (simulcast.c).
 */
#include <string.h>

#include "common.h"
#include "router-private.h"
#include "srtp.h"

/* ---- feedback to publishers ---- */

static void send_rtcp(tb_transport *t, uint8_t *buf, int len)
{
	if (t && len > 0)
		tb_transport_send_rtcp(t, buf, (size_t)len, OUT_CAP);
}

void tb__router_request_keyframe(pub_track *track, int layer, bool force)
{
	tb_router_peer *owner = track->owner;
	uint8_t buf[OUT_CAP];
	int64_t now;
	pub_layer *l;

	if (track->kind != TB_SDP_KIND_VIDEO || !owner->pub || layer < 0 ||
	    (size_t)layer >= track->n_layers)
		return;
	l = &track->layers[layer];
	if (!l->ssrc)
		return;
	now = g_get_monotonic_time();
	if (!force && now - l->last_pli_us < PLI_MIN_INTERVAL_US) {
		if (!l->pli_pending_us)
			l->pli_pending_us = now;
		return;
	}
	l->last_pli_us = now;
	l->pli_pending_us = 0;
	track->plis++;
	owner->router->totals.plis_sent++;
	send_rtcp(owner->pub, buf, tb_rtcp_build_pli(buf, sizeof(buf), owner->rtcp_ssrc, l->ssrc));
}

/* ---- forwarding ---- */

static bool is_keyframe(const pub_track *track, const uint8_t *payload, size_t len)
{
	const char *name = track->codec.name;

	if (!name)
		return false;
	if (track->vp8)
		return tb_vp8_is_keyframe(payload, len);
	if (g_ascii_strcasecmp(name, "VP9") == 0)
		return tb_vp9_is_keyframe(payload, len);
	if (g_ascii_strcasecmp(name, "H264") == 0)
		return tb_h264_is_keyframe(payload, len);
	return false;
}

/* Copies the publisher's packet for SUB with the output numbers, and sends
 * it. */
static void send_copy(sub_track *sub, const uint8_t *buf, size_t len, const tb_rtp_header *hdr,
		      uint16_t seq, uint32_t ts, bool retransmission)
{
	tb_transport *t = sub->peer->sub;
	uint8_t out[OUT_CAP];

	memcpy(out, buf, len);
	tb_rtp_set_ssrc(out, len, sub->ssrc);
	tb_rtp_set_payload_type(out, len, sub->pt);
	tb_rtp_set_seq(out, len, seq);
	tb_rtp_set_timestamp(out, len, ts);
	/* The copy has the layout HDR describes: no second parse. */
	if (hdr->extension)
		tb_rtp_ext_remap(out, len, hdr, sub->source->ext_map);
	if (sub->source->vp8)
		tb_stream_rewrite_vp8(&sub->rw, out + hdr->payload_offset, hdr->payload_len,
				      retransmission);
	if (tb_transport_send_rtp(t, out, len, sizeof(out)) == 0) {
		sub->packets++;
		sub->bytes += len;
		if (retransmission)
			sub->retransmissions++;
		sub->peer->router->totals.rtp_forwarded++;
	}
}

/* Forwards a new packet of layer LAYER to SUB if its rewriter takes it. */
static void forward_one(sub_track *sub, int layer, const uint8_t *buf, size_t len,
			const tb_rtp_header *hdr, bool keyframe, int64_t now)
{
	tb_transport *t = sub->peer->sub;
	uint16_t seq;
	uint32_t ts;

	if (!t || tb_transport_get_state(t) != TB_TRANSPORT_CONNECTED || len > MAX_PACKET)
		return;
	switch (tb_stream_rewrite(&sub->rw, layer, hdr, keyframe, now, &seq, &ts)) {
	case TB_REWRITE_DROP:
		return;
	case TB_REWRITE_WANT_KEYFRAME:
		/* A video that has not started: this packet is in the cache
		 * already, at the end of the group replayed. */
		if (!tb__router_replay_gop(sub, layer, now))
			tb__router_request_keyframe(sub->source, layer, false);
		return;
	case TB_REWRITE_FORWARD:
		break;
	}
	/* Still waiting for the target layer's keyframe: ask again (throttled). */
	if (sub->rw.target != sub->rw.layer)
		tb__router_request_keyframe(sub->source, sub->rw.target, false);
	send_copy(sub, buf, len, hdr, seq, ts, false);
}

/* The cached packet of LAYER numbered SEQ (its header in *HDR), or NULL. */
static const cached_packet *cached(const pub_layer *l, uint16_t seq, tb_rtp_header *hdr)
{
	const cached_packet *slot = &l->cache[seq % CACHE_SLOTS];

	if (!slot->used || slot->seq != seq || tb_rtp_parse(slot->data, slot->len, hdr) < 0 ||
	    hdr->ssrc != l->ssrc)
		return NULL;
	return slot;
}

bool tb__router_replay_gop(sub_track *sub, int layer, int64_t now)
{
	pub_track *src = sub->source;
	const pub_layer *l;
	const cached_packet *slot;
	tb_rtp_header hdr;
	uint16_t n, seq;
	uint32_t ts;

	if (!src || src->muted || src->kind != TB_SDP_KIND_VIDEO || sub->rw.started ||
	    layer != sub->rw.target || layer < 0 || (size_t)layer >= src->n_layers)
		return false;
	l = &src->layers[layer];
	if (!l->cache || !l->gop_known || !l->have_highest)
		return false;
	n = (uint16_t)(l->highest_seq - l->gop_seq + 1);
	if (n == 0 || n > GOP_REPLAY_MAX_PACKETS)
		return false;
	/* Complete (a hole would stop the decoder until a repair) and recent. */
	for (uint16_t i = 0; i < n; i++)
		if (!cached(l, (uint16_t)(l->gop_seq + i), &hdr))
			return false;
	if (hdr.timestamp - l->gop_ts > (uint64_t)src->codec.clock_rate * GOP_REPLAY_MAX_MS / 1000)
		return false;
	for (uint16_t i = 0; i < n; i++) {
		slot = cached(l, (uint16_t)(l->gop_seq + i), &hdr);
		if (tb_stream_rewrite(&sub->rw, layer, &hdr, i == 0, now, &seq, &ts) ==
		    TB_REWRITE_FORWARD)
			send_copy(sub, slot->data, slot->len, &hdr, seq, ts, false);
	}
	sub->peer->router->totals.gop_replays++;
	return sub->rw.started;
}

/* The layer of TRACK named by the rid extension RID_ID of the packet, or
 * -1. */
static int layer_by_rid(const pub_track *track, const uint8_t *buf, const tb_rtp_header *hdr,
			uint8_t rid_id)
{
	const uint8_t *rid;
	size_t rid_len;

	if (!rid_id || !tb_rtp_ext_find(buf, hdr, rid_id, &rid, &rid_len))
		return -1;
	for (size_t i = 0; i < track->n_layers; i++)
		if (rid_len == strlen(track->layers[i].rid) &&
		    memcmp(rid, track->layers[i].rid, rid_len) == 0)
			return (int)i;
	return -1;
}

static bool carries_mid(const pub_track *t, const uint8_t *buf, const tb_rtp_header *hdr,
			bool *has_mid)
{
	const uint8_t *mid;
	size_t mid_len;

	*has_mid = t->ext.mid && tb_rtp_ext_find(buf, hdr, t->ext.mid, &mid, &mid_len);
	return *has_mid && mid_len == strlen(t->mid) && memcmp(mid, t->mid, mid_len) == 0;
}

/* The track and layer of a media packet; binds a new SSRC to the track
 * whose mid the packet carries (and to the layer its rid names), or to the
 * only unbound track with this payload type. Sets *RTX when the packet is
 * a retransmission stream's (repaired rid). */
static pub_track *find_pub_track(tb_router_peer *peer, const uint8_t *buf, const tb_rtp_header *hdr,
				 int *layer, bool *rtx)
{
	pub_track *unbound = NULL;
	unsigned n_unbound = 0;

	*rtx = false;
	for (guint i = 0; i < peer->pub_tracks->len; i++) {
		pub_track *t = peer->pub_tracks->pdata[i];
		for (size_t k = 0; k < t->n_layers; k++) {
			if (t->layers[k].ssrc == hdr->ssrc) {
				*layer = (int)k;
				return t;
			}
			if (t->layers[k].rtx_ssrc == hdr->ssrc) {
				*layer = (int)k;
				*rtx = true;
				return t;
			}
		}
	}
	for (guint i = 0; i < peer->pub_tracks->len; i++) {
		pub_track *t = peer->pub_tracks->pdata[i];
		bool has_mid;
		int k;
		if (!t->active)
			continue;
		if (t->n_layers > 1 || t->layers[0].rid[0]) {
			if (!carries_mid(t, buf, hdr, &has_mid))
				continue;
			if (hdr->payload_type == t->codec.pt &&
			    (k = layer_by_rid(t, buf, hdr, t->ext.rid)) >= 0 &&
			    !t->layers[k].ssrc) {
				t->layers[k].ssrc = hdr->ssrc;
				*layer = k;
				return t;
			}
			if (hdr->payload_type == t->codec.rtx_pt &&
			    (k = layer_by_rid(t, buf, hdr, t->ext.repaired_rid)) >= 0 &&
			    !t->layers[k].rtx_ssrc) {
				t->layers[k].rtx_ssrc = hdr->ssrc;
				*layer = k;
				*rtx = true;
				return t;
			}
			continue;
		}
		if (t->layers[0].ssrc)
			continue;
		/* The mid alone would also bind an RTX stream that comes first. */
		if (carries_mid(t, buf, hdr, &has_mid) && t->codec.pt == hdr->payload_type) {
			t->layers[0].ssrc = hdr->ssrc;
			*layer = 0;
			return t;
		}
		if (!has_mid && t->codec.pt == hdr->payload_type) {
			unbound = t;
			n_unbound++;
		}
	}
	if (n_unbound == 1) {
		unbound->layers[0].ssrc = hdr->ssrc;
		*layer = 0;
		return unbound;
	}
	return NULL;
}

/* An RTX stream (RFC 4588) not announced: the one track without rids
 * whose RTX payload type this is, and whose media SSRC is known. */
static pub_track *guess_rtx_track(tb_router_peer *peer, const tb_rtp_header *hdr)
{
	for (guint i = 0; i < peer->pub_tracks->len; i++) {
		pub_track *t = peer->pub_tracks->pdata[i];
		pub_layer *l = &t->layers[0];
		if (t->codec.rtx_pt < 0 || hdr->payload_type != t->codec.rtx_pt ||
		    t->n_layers > 1 || l->rid[0])
			continue;
		if (!l->rtx_ssrc && l->ssrc && l->ssrc != hdr->ssrc) {
			l->rtx_ssrc = hdr->ssrc;
			return t;
		}
	}
	return NULL;
}

/* Turns an RTX packet back into the original one of layer L, in place: the
 * first two payload bytes are the original sequence number. Returns the new
 * length, or 0 when the packet is too short. */
static size_t unwrap_rtx(pub_track *track, const pub_layer *l, uint8_t *buf, size_t len,
			 const tb_rtp_header *hdr)
{
	uint16_t osn;

	if (hdr->payload_len < 2 || !l->ssrc)
		return 0;
	osn = (uint16_t)(buf[hdr->payload_offset] << 8 | buf[hdr->payload_offset + 1]);
	memmove(buf + hdr->payload_offset, buf + hdr->payload_offset + 2,
		len - hdr->payload_offset - 2);
	len -= 2;
	tb_rtp_set_seq(buf, len, osn);
	tb_rtp_set_ssrc(buf, len, l->ssrc);
	tb_rtp_set_payload_type(buf, len, track->codec.pt);
	return len;
}

/* Asks the publisher again for packets of layer L missing between the
 * highest sequence number seen and SEQ (a gap of at most 64). */
static void detect_loss(pub_track *track, pub_layer *l, uint16_t seq)
{
	tb_router_peer *owner = track->owner;
	uint16_t missing[64];
	size_t n = 0;
	int16_t diff;
	uint8_t buf[OUT_CAP];

	if (!l->have_highest) {
		l->have_highest = true;
		l->highest_seq = seq;
		return;
	}
	diff = (int16_t)(seq - l->highest_seq);
	if (diff <= 0)
		return;
	if (diff > 1 && diff <= 64 && (track->codec.rtcp_fb & TB_SDP_FB_NACK) && owner->pub) {
		for (uint16_t s = (uint16_t)(l->highest_seq + 1); s != seq; s++)
			missing[n++] = s;
		track->nacks_sent++;
		send_rtcp(owner->pub, buf,
			  tb_rtcp_build_nack(buf, sizeof(buf), owner->rtcp_ssrc, l->ssrc, missing,
					     n));
	}
	l->highest_seq = seq;
}

/* Adds the packet's RFC 6464 level to TRACK's interval. */
static void note_audio_level(pub_track *track, const uint8_t *buf, const tb_rtp_header *hdr)
{
	const uint8_t *data;
	size_t len;
	bool voice;
	uint8_t level;

	if (tb_rtp_ext_find(buf, hdr, track->ext.audio_level, &data, &len) &&
	    tb_rtp_ext_read_audio_level(data, len, &voice, &level) == 0) {
		track->level_sum += 127u - level;
		track->level_count++;
	}
}

void tb__router_publisher_rtp(void *user_data, uint8_t *buf, size_t len)
{
	tb_router_peer *peer = user_data;
	tb_router *router = peer->router;
	tb_rtp_header hdr;
	pub_track *track;
	pub_layer *l;
	int layer = 0;
	bool keyframe = false, rtx = false;
	int64_t now;

	router->totals.rtp_in++;
	if (tb_rtp_parse(buf, len, &hdr) < 0 || len > MAX_PACKET) {
		router->totals.rtp_dropped++;
		return;
	}
	track = find_pub_track(peer, buf, &hdr, &layer, &rtx);
	if (!track && (track = guess_rtx_track(peer, &hdr)))
		rtx = true;
	if (track && rtx) {
		len = unwrap_rtx(track, &track->layers[layer], buf, len, &hdr);
		if (len == 0 || tb_rtp_parse(buf, len, &hdr) < 0) {
			router->totals.rtp_dropped++; /* RTX padding probe or malformed */
			return;
		}
		track->rtx_received++;
	}
	if (!track || hdr.payload_type != track->codec.pt) {
		/* Unknown SSRC or another codec: not forwarded. */
		router->totals.rtp_dropped++;
		return;
	}
	l = &track->layers[layer];
	now = g_get_monotonic_time();
	track->packets++;
	track->bytes += len;
	l->packets++;
	if (!rtx)
		l->tick_bytes += len;
	if (!l->rx_started) {
		tb_rtcp_rx_stats_init(&l->rx,
				      track->codec.clock_rate ? track->codec.clock_rate : 90000);
		l->rx_started = true;
	}
	tb_rtcp_rx_stats_update(&l->rx, hdr.seq, hdr.timestamp, now);
	if (!rtx && track->kind == TB_SDP_KIND_VIDEO)
		detect_loss(track, l, hdr.seq);
	/* Nothing of a muted track is kept for NACKs either: a keyframe that
	 * arrives after the unmute but is older than packets received while
	 * muted would put them inside the subscribers' retransmission window. */
	if (l->cache && !track->muted) {
		cached_packet *slot = &l->cache[hdr.seq % CACHE_SLOTS];
		slot->seq = hdr.seq;
		slot->len = (uint16_t)len;
		slot->used = true;
		memcpy(slot->data, buf, len);
	}
	if (track->kind == TB_SDP_KIND_AUDIO && track->ext.audio_level && hdr.extension)
		note_audio_level(track, buf, &hdr);
	/* The recorder takes the first layer only: one stream per file. */
	if (router->cb.media_tap && layer == 0) {
		tb_router_track_codec info = {track->track_id,   track->kind,
					      track->codec.name, track->codec.clock_rate,
					      track->codec.pt,   track->muted};
		router->cb.media_tap(router->user_data, peer, &info, buf, len);
	}
	if (track->muted)
		return;
	if (track->kind == TB_SDP_KIND_VIDEO)
		keyframe = is_keyframe(track, buf + hdr.payload_offset, hdr.payload_len);
	if (keyframe && track->vp8)
		l->width = tb_simulcast_vp8_width(buf + hdr.payload_offset, hdr.payload_len);
	if (keyframe && l->pli_pending_us)
		l->pli_pending_us = 0; /* what was asked for came */
	else if (l->pli_pending_us && now - l->last_pli_us >= PLI_MIN_INTERVAL_US)
		tb__router_request_keyframe(track, layer, false);
	if (keyframe && l->cache && (!l->gop_known || (int16_t)(hdr.seq - l->gop_seq) > 0)) {
		l->gop_known = true;
		l->gop_seq = hdr.seq;
		l->gop_ts = hdr.timestamp;
		l->gop_at_us = now;
	}
	for (guint i = 0; i < track->subs->len; i++)
		forward_one(track->subs->pdata[i], layer, buf, len, &hdr, keyframe, now);
}

static pub_track *pub_track_by_ssrc(tb_router_peer *peer, uint32_t ssrc, int *layer)
{
	for (guint i = 0; i < peer->pub_tracks->len; i++) {
		pub_track *t = peer->pub_tracks->pdata[i];
		for (size_t k = 0; k < t->n_layers; k++)
			if (t->layers[k].ssrc == ssrc) {
				*layer = (int)k;
				return t;
			}
	}
	return NULL;
}

/* The publisher's SR of one layer, rewritten for each subscriber that gets
 * that layer, so that receivers can line audio and video up. */
static void relay_sender_report(pub_track *track, int layer, const tb_rtcp_sr *sr)
{
	tb_rtcp_rx_stats_sr_received(&track->layers[layer].rx, sr->info.ntp_timestamp,
				     g_get_monotonic_time());
	for (guint i = 0; i < track->subs->len; i++) {
		sub_track *sub = track->subs->pdata[i];
		tb_rtcp_sender_info info = sr->info;
		uint8_t buf[OUT_CAP];
		if (!sub->rw.started || sub->rw.layer != layer || !sub->peer->sub)
			continue;
		info.ssrc = sub->ssrc;
		info.rtp_timestamp = sr->info.rtp_timestamp + sub->rw.ts_offset;
		info.packet_count = (uint32_t)sub->packets;
		info.octet_count = (uint32_t)sub->bytes;
		send_rtcp(sub->peer->sub, buf, tb_rtcp_build_sr(buf, sizeof(buf), &info, NULL, 0));
	}
}

void tb__router_publisher_rtcp(void *user_data, uint8_t *buf, size_t len)
{
	tb_router_peer *peer = user_data;
	tb_rtcp_iter it;
	tb_rtcp_packet pkt;

	tb_rtcp_iter_init(&it, buf, len);
	while (tb_rtcp_iter_next(&it, &pkt)) {
		if (pkt.type == TB_RTCP_SR) {
			tb_rtcp_sr sr;
			pub_track *track;
			int layer;
			if (tb_rtcp_parse_sr(&pkt, &sr) == 0 &&
			    (track = pub_track_by_ssrc(peer, sr.info.ssrc, &layer)))
				relay_sender_report(track, layer, &sr);
		}
	}
}

/* ---- feedback from subscribers ---- */

static sub_track *sub_track_by_ssrc(tb_router_peer *peer, uint32_t ssrc)
{
	for (guint i = 0; i < peer->sub_tracks->len; i++) {
		sub_track *s = peer->sub_tracks->pdata[i];
		if (s->ssrc == ssrc)
			return s;
	}
	return NULL;
}

static void answer_nack(sub_track *sub, const tb_rtcp_fb *fb)
{
	uint16_t seqs[MAX_NACK_SEQS];
	size_t n = 0;
	pub_track *src = sub->source;
	tb_transport *t = sub->peer->sub;
	pub_layer *l;

	tb_rtcp_nack_expand(fb, seqs, G_N_ELEMENTS(seqs), &n);
	sub->nacks++;
	sub->peer->router->totals.nacks++;
	if (!src || !sub->rw.started || sub->rw.layer < 0 ||
	    (size_t)sub->rw.layer >= src->n_layers || !t ||
	    tb_transport_get_state(t) != TB_TRANSPORT_CONNECTED)
		return;
	l = &src->layers[sub->rw.layer];
	if (!l->cache)
		return;
	for (size_t i = 0; i < n; i++) {
		uint16_t orig = (uint16_t)(seqs[i] - sub->rw.seq_offset);
		cached_packet *slot = &l->cache[orig % CACHE_SLOTS];
		tb_rtp_header hdr;
		uint16_t seq;
		uint32_t ts;
		/* A number sent under earlier offsets maps to another packet
		 * now: resending that under the same number would reuse an SRTP
		 * nonce with other bytes (fatal for GCM). Skip it. */
		if (!slot->used || slot->seq != orig ||
		    tb_rtp_parse(slot->data, slot->len, &hdr) < 0 ||
		    !tb_stream_rewrite_retransmission(&sub->rw, &hdr, &seq, &ts))
			continue;
		send_copy(sub, slot->data, slot->len, &hdr, seq, ts, true);
		sub->peer->router->totals.retransmissions++;
	}
}

static void keyframe_for(sub_track *sub)
{
	if (!sub || !sub->source)
		return;
	sub->plis++;
	tb__router_request_keyframe(sub->source,
				    sub->rw.layer >= 0 ? sub->rw.layer : sub->rw.target, false);
}

void tb__router_subscriber_rtcp(void *user_data, uint8_t *buf, size_t len)
{
	tb_router_peer *peer = user_data;
	tb_rtcp_iter it;
	tb_rtcp_packet pkt;
	tb_rtcp_fb fb;
	tb_rtcp_remb remb;
	sub_track *sub;

	tb_rtcp_iter_init(&it, buf, len);
	while (tb_rtcp_iter_next(&it, &pkt)) {
		if (pkt.type == TB_RTCP_RTPFB && pkt.count == 1) {
			if (tb_rtcp_parse_nack(&pkt, &fb) == 0 &&
			    (sub = sub_track_by_ssrc(peer, fb.media_ssrc)))
				answer_nack(sub, &fb);
		} else if (pkt.type == TB_RTCP_PSFB && pkt.count == 1) {
			if (tb_rtcp_parse_pli(&pkt, &fb) == 0)
				keyframe_for(sub_track_by_ssrc(peer, fb.media_ssrc));
		} else if (pkt.type == TB_RTCP_PSFB && pkt.count == 4) {
			if (tb_rtcp_parse_fir(&pkt, &fb) == 0) {
				for (size_t i = 0; i < tb_rtcp_fir_count(&fb); i++) {
					tb_rtcp_fir_entry e;
					tb_rtcp_fir_entry_at(&fb, i, &e);
					keyframe_for(sub_track_by_ssrc(peer, e.ssrc));
				}
			}
		} else if (pkt.type == TB_RTCP_PSFB && pkt.count == TB_RTCP_PSFB_AFB) {
			if (tb_rtcp_parse_remb(&pkt, &remb) == 0) {
				uint32_t bps = remb.bitrate > UINT32_MAX ? UINT32_MAX
									 : (uint32_t)remb.bitrate;
				bool changed = !peer->remb_bps || bps < peer->remb_bps * 9 / 10 ||
					       bps > peer->remb_bps * 11 / 10;
				peer->remb_bps = bps ? bps : 1;
				/* Not per REMB (several a second): on a real change. */
				if (changed)
					tb__router_select_layers(peer);
			}
		}
	}
}

/* ---- layer selection ---- */

static void layers_of(const pub_track *track, tb_simulcast_layers *out)
{
	out->n = track->n_layers;
	for (size_t k = 0; k < track->n_layers; k++) {
		out->rate_bps[k] = track->layers[k].rate_bps;
		out->width[k] = track->layers[k].width;
	}
}

void tb__router_select_layers(tb_router_peer *peer)
{
	/* Spend the subscriber's estimate on the tracks it wants most first. */
	uint32_t budget = peer->remb_bps;

	for (int q = TB_SIMULCAST_HIGH; q >= TB_SIMULCAST_LOW; q--) {
		for (guint i = 0; i < peer->sub_tracks->len; i++) {
			sub_track *sub = peer->sub_tracks->pdata[i];
			tb_simulcast_layers layers;
			int layer;
			if (!sub->source || sub->kind != TB_SDP_KIND_VIDEO ||
			    (int)sub->quality != q)
				continue;
			layers_of(sub->source, &layers);
			layer = tb_simulcast_choose(&layers, sub->quality,
						    peer->remb_bps ? MAX(budget, 1) : 0);
			if (layer < 0)
				continue;
			if (budget > layers.rate_bps[layer])
				budget -= layers.rate_bps[layer];
			else
				budget = 0;
			if (layer != sub->rw.target &&
			    tb_stream_rewriter_set_target(&sub->rw, layer))
				tb__router_request_keyframe(sub->source, layer, false);
		}
	}
}

/* ---- periodic RTCP ---- */

void tb__router_peer_rtcp_tick(tb_router_peer *peer, int64_t now)
{
	tb_rtcp_report_block blocks[12];
	uint32_t video[12];
	size_t n = 0, nv = 0;
	uint8_t buf[OUT_CAP];
	int len, more;

	for (guint i = 0; i < peer->pub_tracks->len; i++) {
		pub_track *t = peer->pub_tracks->pdata[i];
		for (size_t k = 0; k < t->n_layers; k++) {
			pub_layer *l = &t->layers[k];
			uint32_t rate = (uint32_t)MIN(l->tick_bytes * 8 * 1000 / RTCP_INTERVAL_MS,
						      UINT32_MAX);
			/* Smoothed, so that a keyframe does not reorder layers. */
			l->rate_bps = rate == 0 ? 0 : l->rate_bps ? (l->rate_bps + rate) / 2 : rate;
			l->tick_bytes = 0;
			if (!l->ssrc || !l->rx_started)
				continue;
			if (n < G_N_ELEMENTS(blocks) &&
			    tb_rtcp_rx_stats_report(&l->rx, l->ssrc, now, &blocks[n]) == 0)
				n++;
			if (t->kind == TB_SDP_KIND_VIDEO && nv < G_N_ELEMENTS(video))
				video[nv++] = l->ssrc;
		}
	}
	if (!peer->pub || tb_transport_get_state(peer->pub) != TB_TRANSPORT_CONNECTED)
		return;
	len = tb_rtcp_build_rr(buf, sizeof(buf), peer->rtcp_ssrc, blocks, n);
	if (len < 0)
		return;
	/* REMB for the video streams: lets the browser ramp up (and keep
	 * every simulcast layer on). */
	if (nv > 0) {
		more = tb_rtcp_build_remb(buf + len, sizeof(buf) - (size_t)len, peer->rtcp_ssrc,
					  REMB_BITRATE, video, nv);
		if (more > 0)
			len += more;
	}
	send_rtcp(peer->pub, buf, len);
}
