/* router.c — one room's SFU: publish/subscribe negotiation, RTP fan-out,
 * RTCP feedback.
 *
 * Worker thread only. The packet path (publisher RTP in → per-subscriber
 * rewrite → SRTP → send) allocates nothing, logs nothing and takes no lock:
 * each copy is made in a stack buffer, the NACK cache is a preallocated ring.
 *
 * Rewrite per subscriber track: a fixed SSRC and payload type of its own;
 * sequence numbers and timestamps are re-based whenever forwarding
 * (re)starts so that the subscriber sees one contiguous stream across
 * mutes and source restarts; header-extension ids are mapped from the
 * publisher's negotiated ids to the server's fixed ids (sdp.h).
 *
 * Not here: deciding subscriptions (rooms/), ICE/DTLS/SRTP (transport.c).
 */
#include <string.h>

#include "common.h"
#include "router-private.h"
#include "srtp.h"

#define CAT "media.router"

/* Payload types of subscriber offers: the same in every section. */
enum {
	PT_VP8 = 96,
	PT_VP8_RTX = 97,
	PT_VP9 = 98,
	PT_VP9_RTX = 99,
	PT_H264 = 102,
	PT_H264_RTX = 103,
	PT_OPUS = 111,
};

/* Process-wide totals for /metrics: each router adds what it counted since
 * its last flush once a second (and when freed), so the packet path only
 * touches its own thread's counters. */
static uint64_t global_totals[sizeof(tb_router_totals) / sizeof(uint64_t)];

static void flush_totals(tb_router *router);

/* SRTP replays are counted by each transport, not on the packet path of the
 * router: gather them (the freed ones' included). */
static uint64_t replayed_now(tb_router *router)
{
	uint64_t sum = router->replayed_gone;
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, router->peers);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		tb_router_peer *peer = value;
		if (peer->pub)
			sum += tb_transport_get_stats(peer->pub)->replayed_in;
		if (peer->sub)
			sum += tb_transport_get_stats(peer->sub)->replayed_in;
	}
	return sum;
}

static void flush_totals(tb_router *router)
{
	const uint64_t *now = (const uint64_t *)&router->totals;
	uint64_t *done = (uint64_t *)&router->flushed;

	router->totals.srtp_replayed = replayed_now(router);

	G_STATIC_ASSERT(sizeof(tb_router_totals) == sizeof(global_totals));
	for (size_t i = 0; i < G_N_ELEMENTS(global_totals); i++) {
		if (now[i] != done[i])
			__atomic_fetch_add(&global_totals[i], now[i] - done[i], __ATOMIC_RELAXED);
		done[i] = now[i];
	}
}

void tb_router_global_totals(tb_router_totals *out)
{
	uint64_t *o = (uint64_t *)out;

	for (size_t i = 0; i < G_N_ELEMENTS(global_totals); i++)
		o[i] = __atomic_load_n(&global_totals[i], __ATOMIC_RELAXED);
}

const char *tb_pc_kind_to_string(tb_pc_kind pc)
{
	return pc == TB_PC_PUBLISH ? "publish" : "subscribe";
}

static uint32_t random_ssrc(void)
{
	uint32_t v;

	do
		v = g_random_int();
	while (v == 0);
	return v;
}

static void codec_params_copy(tb_sdp_codec_params *dst, const tb_sdp_codec_params *src)
{
	*dst = *src;
	dst->name = g_strdup(src->name);
	dst->fmtp = g_strdup(src->fmtp);
}

static void codec_params_clear(tb_sdp_codec_params *c)
{
	g_clear_pointer(&c->name, g_free);
	g_clear_pointer(&c->fmtp, g_free);
}

/* Every second: layer bitrates, receiver reports and a bandwidth estimate
 * to publishers; then each subscriber's layers, with the new bitrates. */
static gboolean rtcp_tick(gpointer data)
{
	tb_router *router = data;
	GHashTableIter it;
	gpointer value;
	int64_t now = g_get_monotonic_time();

	flush_totals(router);
	g_hash_table_iter_init(&it, router->peers);
	while (g_hash_table_iter_next(&it, NULL, &value))
		tb__router_peer_rtcp_tick(value, now);
	g_hash_table_iter_init(&it, router->peers);
	while (g_hash_table_iter_next(&it, NULL, &value))
		tb__router_select_layers(value);
	return G_SOURCE_CONTINUE;
}

/* Every TB_ROUTER_LEVEL_INTERVAL_MS: each audio publisher's mean level
 * over the interval, to the audio_levels callback. One array per tick, not
 * per packet. */
static gboolean level_tick(gpointer data)
{
	tb_router *router = data;
	GHashTableIter it;
	gpointer value;
	GArray *levels = NULL;
	int64_t now = g_get_monotonic_time();
	unsigned interval_ms = (unsigned)CLAMP((now - router->level_tick_us) / 1000, 1, 10000);

	router->level_tick_us = now;
	g_hash_table_iter_init(&it, router->peers);
	while (g_hash_table_iter_next(&it, NULL, &value)) {
		tb_router_peer *peer = value;
		tb_router_audio_level entry = {peer->id, 127, peer->mute_audio != 0};
		bool any = false;

		for (guint i = 0; i < peer->pub_tracks->len; i++) {
			pub_track *t = peer->pub_tracks->pdata[i];
			if (t->kind != TB_SDP_KIND_AUDIO || !t->active || !t->ext.audio_level)
				continue;
			any = true;
			if (t->level_count > 0) {
				uint8_t level = (uint8_t)(127u - t->level_sum / t->level_count);
				entry.level = MIN(entry.level, level);
			}
			t->level_sum = t->level_count = 0;
		}
		if (!any)
			continue;
		if (!levels)
			levels = g_array_new(FALSE, FALSE, sizeof(tb_router_audio_level));
		g_array_append_val(levels, entry);
	}
	if (levels && router->cb.audio_levels)
		router->cb.audio_levels(router->user_data, (tb_router_audio_level *)levels->data,
					levels->len, interval_ms);
	if (levels)
		g_array_free(levels, TRUE);
	return G_SOURCE_CONTINUE;
}

/* ---- transports ---- */

typedef struct pc_ref {
	tb_router_peer *peer;
	tb_pc_kind pc;
} pc_ref;

static void on_candidate(tb_router_peer *peer, tb_pc_kind pc, const char *candidate)
{
	tb_router *router = peer->router;

	if (router->cb.candidate)
		router->cb.candidate(router->user_data, peer, pc, candidate);
}

static void pub_candidate(void *user_data, const char *candidate)
{
	on_candidate(user_data, TB_PC_PUBLISH, candidate);
}

static void sub_candidate(void *user_data, const char *candidate)
{
	on_candidate(user_data, TB_PC_SUBSCRIBE, candidate);
}

static void on_state(tb_router_peer *peer, tb_pc_kind pc, tb_transport_state state,
		     const char *reason)
{
	tb_router *router = peer->router;

	if (pc == TB_PC_SUBSCRIBE && state == TB_TRANSPORT_CONNECTED) {
		/* Video starts at a keyframe: from the cache when the current
		 * group of pictures is short (fast start: the keyframe asked for
		 * at subscribe time is usually there by now), else a new one,
		 * unless one was asked for within the last 300 ms: browsers
		 * ignore a request that comes sooner than that after the last one
		 * they honoured. The throttle sends it as soon as the publisher
		 * takes it (forward_one asks at every packet until the keyframe). */
		int64_t now = g_get_monotonic_time();
		for (guint i = 0; i < peer->sub_tracks->len; i++) {
			sub_track *sub = peer->sub_tracks->pdata[i];
			if (sub->source && sub->kind == TB_SDP_KIND_VIDEO) {
				tb_stream_rewriter_restart(&sub->rw);
				if (!tb__router_replay_gop(sub, sub->rw.target, now))
					tb__router_request_keyframe(sub->source, sub->rw.target,
								    false);
			}
		}
	}
	if (router->cb.state)
		router->cb.state(router->user_data, peer, pc, state, reason);
}

static void pub_state(void *user_data, tb_transport_state state, const char *reason)
{
	on_state(user_data, TB_PC_PUBLISH, state, reason);
}

static void sub_state(void *user_data, tb_transport_state state, const char *reason)
{
	on_state(user_data, TB_PC_SUBSCRIBE, state, reason);
}

static void subscriber_rtp(void *user_data, uint8_t *buf, size_t len)
{
	/* A subscriber sends no media on this PC: drop. */
}

static const tb_transport_callbacks pub_callbacks = {
	.local_candidate = pub_candidate,
	.state = pub_state,
	.rtp = tb__router_publisher_rtp,
	.rtcp = tb__router_publisher_rtcp,
};

static const tb_transport_callbacks sub_callbacks = {
	.local_candidate = sub_candidate,
	.state = sub_state,
	.rtp = subscriber_rtp,
	.rtcp = tb__router_subscriber_rtcp,
};

static tb_transport *make_transport(tb_router_peer *peer, tb_pc_kind pc, GError **error)
{
	tb_router *router = peer->router;
	tb_ice_config config = router->ice_config;
	char name[128];
	tb_transport *t;

	g_snprintf(name, sizeof(name), "%s/%s/%s", router->name, peer->id,
		   pc == TB_PC_PUBLISH ? "pub" : "sub");
	/* JSEP: the offerer is the controlling agent; we offer the subscribe PC. */
	config.controlling = pc == TB_PC_SUBSCRIBE;
	t = tb_transport_new(router->ctx, router->identity, &config, name,
			     pc == TB_PC_PUBLISH ? &pub_callbacks : &sub_callbacks, peer, error);
	if (!t)
		return NULL;
	if (pc == TB_PC_PUBLISH)
		peer->pub = t;
	else
		peer->sub = t;
	/* Candidates that arrived before the PC existed. */
	for (guint i = 0; i < peer->pending[pc]->len; i++)
		tb_transport_add_remote_candidate(t, peer->pending[pc]->pdata[i]);
	g_ptr_array_set_size(peer->pending[pc], 0);
	if (peer->pending_end[pc])
		tb_transport_add_remote_candidate(t, NULL);
	return t;
}

static tb_dtls_role our_dtls_role(tb_sdp_setup remote)
{
	/* The peer active (DTLS client) makes us the server, and vice versa;
	 * actpass is answered passive, so we are the server then too. */
	return remote == TB_SDP_SETUP_PASSIVE ? TB_DTLS_CLIENT : TB_DTLS_SERVER;
}

/* ---- router and peers ---- */

tb_router *tb_router_new(GMainContext *ctx, tb_dtls_identity *identity,
			 const tb_ice_config *ice_config, const char *name,
			 const tb_router_callbacks *cb, void *user_data)
{
	tb_router *router = g_new0(tb_router, 1);

	router->ctx = g_main_context_ref(ctx);
	router->identity = tb_dtls_identity_ref(identity);
	router->ice_config = *ice_config;
	router->name = g_strdup(name);
	router->cb = *cb;
	router->user_data = user_data;
	router->peers = g_hash_table_new(g_str_hash, g_str_equal);
	router->rtcp_timer = g_timeout_source_new(RTCP_INTERVAL_MS);
	g_source_set_callback(router->rtcp_timer, rtcp_tick, router, NULL);
	g_source_attach(router->rtcp_timer, ctx);
	if (cb->audio_levels) {
		router->level_tick_us = g_get_monotonic_time();
		router->level_timer = g_timeout_source_new(TB_ROUTER_LEVEL_INTERVAL_MS);
		g_source_set_callback(router->level_timer, level_tick, router, NULL);
		g_source_attach(router->level_timer, ctx);
	}
	return router;
}

void tb_router_free(tb_router *router)
{
	GHashTableIter it;
	gpointer value;

	if (!router)
		return;
	router->cb = (tb_router_callbacks){0};
	for (;;) {
		g_hash_table_iter_init(&it, router->peers);
		if (!g_hash_table_iter_next(&it, NULL, &value))
			break;
		tb_router_peer_free(value);
	}
	flush_totals(router); /* before the (now empty) table goes */
	g_hash_table_destroy(router->peers);
	g_source_destroy(router->rtcp_timer);
	g_source_unref(router->rtcp_timer);
	if (router->level_timer) {
		g_source_destroy(router->level_timer);
		g_source_unref(router->level_timer);
	}
	tb_dtls_identity_unref(router->identity);
	g_main_context_unref(router->ctx);
	g_free(router->name);
	g_free(router);
}

static void sub_track_free(sub_track *sub)
{
	codec_params_clear(&sub->codec);
	g_free(sub);
}

static void pub_track_free(pub_track *track)
{
	/* Its subscribers stop receiving it. */
	for (guint i = 0; i < track->subs->len; i++)
		((sub_track *)track->subs->pdata[i])->source = NULL;
	g_ptr_array_free(track->subs, TRUE);
	codec_params_clear(&track->codec);
	for (size_t k = 0; k < TB_SIMULCAST_MAX_LAYERS; k++)
		g_free(track->layers[k].cache);
	g_free(track);
}

tb_router_peer *tb_router_peer_new(tb_router *router, const char *participant_id, void *user_data)
{
	tb_router_peer *peer = g_new0(tb_router_peer, 1);

	peer->router = router;
	peer->id = g_strdup(participant_id);
	peer->user_data = user_data;
	peer->pub_tracks = g_ptr_array_new_with_free_func((GDestroyNotify)pub_track_free);
	peer->sub_tracks = g_ptr_array_new_with_free_func((GDestroyNotify)sub_track_free);
	peer->pending[0] = g_ptr_array_new_with_free_func(g_free);
	peer->pending[1] = g_ptr_array_new_with_free_func(g_free);
	peer->session_id = ((uint64_t)g_random_int() << 20) ^ g_random_int();
	peer->rtcp_ssrc = random_ssrc();
	peer->cname = tb_random_hex(8);
	g_hash_table_insert(router->peers, peer->id, peer);
	return peer;
}

tb_router_peer *tb_router_find_peer(tb_router *router, const char *participant_id)
{
	return g_hash_table_lookup(router->peers, participant_id);
}

void *tb_router_peer_user_data(const tb_router_peer *peer)
{
	return peer->user_data;
}

const char *tb_router_peer_id(const tb_router_peer *peer)
{
	return peer->id;
}

static void detach_sub(sub_track *sub)
{
	if (sub->source)
		g_ptr_array_remove_fast(sub->source->subs, sub);
	sub->source = NULL;
}

void tb_router_peer_free(tb_router_peer *peer)
{
	if (!peer)
		return;
	if (peer->pub)
		peer->router->replayed_gone += tb_transport_get_stats(peer->pub)->replayed_in;
	if (peer->sub)
		peer->router->replayed_gone += tb_transport_get_stats(peer->sub)->replayed_in;
	tb_transport_free(peer->pub);
	tb_transport_free(peer->sub);
	peer->pub = peer->sub = NULL;
	for (guint i = 0; i < peer->sub_tracks->len; i++)
		detach_sub(peer->sub_tracks->pdata[i]);
	g_ptr_array_free(peer->sub_tracks, TRUE);
	g_ptr_array_free(peer->pub_tracks, TRUE);
	g_ptr_array_free(peer->pending[0], TRUE);
	g_ptr_array_free(peer->pending[1], TRUE);
	g_hash_table_remove(peer->router->peers, peer->id);
	g_free(peer->cname);
	g_free(peer->id);
	g_free(peer);
}

/* ---- publish ---- */

static void set_ext_map(pub_track *track)
{
	memset(track->ext_map, 0, sizeof(track->ext_map));
	/* The publisher's mid is never forwarded: its value names a section of
	 * the publish PC, and in a subscriber's bundle it would steer the packet
	 * to whichever section has that mid there (Chromium then binds the SSRC
	 * to it and refuses the answer that adds the stream's own section).
	 * Subscribers demultiplex by the SSRCs their offer signals. */
	if (track->ext.abs_send_time)
		track->ext_map[track->ext.abs_send_time] = TB_SDP_EXT_ID_ABS_SEND_TIME;
	if (track->ext.audio_level && track->kind == TB_SDP_KIND_AUDIO)
		track->ext_map[track->ext.audio_level] = TB_SDP_EXT_ID_AUDIO_LEVEL;
	/* transport-cc sequence numbers belong to the publisher's transport:
	 * never forwarded (publish answers do not accept it either). */
}

static pub_track *find_track_by_mid(tb_router_peer *peer, const char *mid)
{
	for (guint i = 0; i < peer->pub_tracks->len; i++) {
		pub_track *t = peer->pub_tracks->pdata[i];
		if (strcmp(t->mid, mid) == 0)
			return t;
	}
	return NULL;
}

/* The layers of TRACK as section S declares them: one per accepted rid,
 * else one per stream of an a=ssrc-group:SIM, else one. A layer whose rid
 * and SSRC stay keeps its state; when any changes, subscribers restart on
 * the first layer (then layer selection moves them). */
static void set_layers(pub_track *track, const tb_sdp_publish_section *s)
{
	size_t n = s->n_rids > 0 ? s->n_rids : s->n_streams > 1 ? s->n_streams : 1;
	bool changed;

	n = MIN(n, TB_SIMULCAST_MAX_LAYERS);
	changed = n != track->n_layers;
	for (size_t k = 0; k < TB_SIMULCAST_MAX_LAYERS; k++) {
		pub_layer *l = &track->layers[k];
		const char *rid = k < s->n_rids ? s->rids[k] : "";
		uint32_t ssrc = 0, rtx = 0;
		cached_packet *cache = l->cache;

		if (k >= n) {
			g_free(cache);
			memset(l, 0, sizeof(*l));
			continue;
		}
		/* With rids, SSRCs come with the packets (rid extension). */
		if (s->n_rids == 0 && k < s->n_streams) {
			ssrc = s->streams[k].ssrc;
			rtx = s->streams[k].rtx_ssrc;
		}
		if (strcmp(l->rid, rid) != 0 || (ssrc && l->ssrc != ssrc)) {
			memset(l, 0, sizeof(*l));
			l->cache = cache;
			g_strlcpy(l->rid, rid, sizeof(l->rid));
			l->ssrc = ssrc;
			changed = true;
		}
		if (rtx)
			l->rtx_ssrc = rtx;
		if (track->kind == TB_SDP_KIND_VIDEO && !l->cache)
			l->cache = g_new0(cached_packet, CACHE_SLOTS);
	}
	track->n_layers = n;
	if (!changed)
		return;
	for (guint i = 0; i < track->subs->len; i++) {
		sub_track *sub = track->subs->pdata[i];
		sub->rw.layer = -1;
		tb_stream_rewriter_set_target(&sub->rw, 0);
		tb_stream_rewriter_restart(&sub->rw);
	}
}

static void apply_publish_result(tb_router_peer *peer, const tb_sdp_publish_result *result)
{
	for (size_t i = 0; i < result->n_sections; i++) {
		const tb_sdp_publish_section *s = &result->sections[i];
		pub_track *track = find_track_by_mid(peer, s->mid);
		bool receiving = s->accepted && s->receiving &&
				 (s->kind == TB_SDP_KIND_AUDIO || s->kind == TB_SDP_KIND_VIDEO);

		if (!track && !receiving)
			continue;
		if (!track) {
			track = g_new0(pub_track, 1);
			track->owner = peer;
			g_strlcpy(track->mid, s->mid, sizeof(track->mid));
			g_strlcpy(track->track_id, s->mid, sizeof(track->track_id));
			track->kind = s->kind;
			track->subs = g_ptr_array_new();
			track->muted = (s->kind == TB_SDP_KIND_AUDIO ? peer->mute_audio
								     : peer->mute_video) != 0;
			g_ptr_array_add(peer->pub_tracks, track);
		}
		track->active = receiving;
		if (!receiving)
			continue;
		if (track->codec.name &&
		    (track->codec.pt != s->codec.pt ||
		     g_ascii_strcasecmp(track->codec.name, s->codec.name) != 0)) {
			/* Another codec: subscribers must restart at a keyframe. */
			for (guint k = 0; k < track->subs->len; k++) {
				sub_track *sub = track->subs->pdata[k];
				tb_stream_rewriter_restart(&sub->rw);
			}
		}
		codec_params_clear(&track->codec);
		codec_params_copy(&track->codec, &s->codec);
		track->vp8 = g_ascii_strcasecmp(s->codec.name, "VP8") == 0;
		track->ext = s->ext;
		set_ext_map(track);
		set_layers(track, s);
	}
}

int tb_router_publish(tb_router_peer *peer, const tb_sdp_desc *offer, char **answer,
		      GArray **tracks, GError **error)
{
	tb_sdp_publish_result result = {0};
	tb_sdp_local local = {0};
	char *ufrag = NULL, *pwd = NULL;
	const char *fp = tb_dtls_identity_fingerprint(peer->router->identity);
	int rc = TB_EINVAL;

	*answer = NULL;
	*tracks = NULL;
	if (!offer->ice_ufrag || !offer->ice_pwd || !offer->fingerprint) {
		g_set_error(error, TB_SDP_ERROR, TB_EINVAL,
			    "the offer has no ICE credentials or fingerprint");
		return TB_EINVAL;
	}
	if (!peer->pub && !make_transport(peer, TB_PC_PUBLISH, error))
		return TB_EIO;
	/* The remote side first: an ICE restart changes our credentials. */
	rc = tb_transport_set_remote(peer->pub, offer->ice_ufrag, offer->ice_pwd,
				     offer->fingerprint_alg, offer->fingerprint,
				     our_dtls_role(offer->setup));
	if (rc < 0) {
		g_set_error(error, TB_SDP_ERROR, rc,
			    rc == TB_ECONFLICT ? "the DTLS fingerprint or role changed"
					       : "bad ICE credentials or fingerprint");
		goto out;
	}
	tb_transport_local_credentials(peer->pub, &ufrag, &pwd);
	local.ice_ufrag = ufrag;
	local.ice_pwd = pwd;
	local.fingerprint_alg = "sha-256";
	local.fingerprint = fp;
	local.answer_setup = TB_SDP_SETUP_PASSIVE;
	local.session_id = peer->session_id;
	local.session_version = ++peer->pub_version;
	*answer = tb_sdp_build_publish_answer(offer, &local, &result, error);
	if (!*answer)
		goto out;
	for (size_t i = 0; i < offer->n_sections; i++) {
		const tb_sdp_section *s = &offer->sections[i];
		for (size_t c = 0; c < s->n_candidates; c++)
			tb_transport_add_remote_candidate(peer->pub, s->candidates[c]);
		if (s->end_of_candidates)
			tb_transport_add_remote_candidate(peer->pub, NULL);
	}
	apply_publish_result(peer, &result);
	if (result.bundle_tag) {
		g_strlcpy(peer->pub_tag, result.bundle_tag, sizeof(peer->pub_tag));
		for (size_t i = 0; i < offer->n_sections; i++)
			if (strcmp(offer->sections[i].mid, result.bundle_tag) == 0)
				peer->pub_tag_index = (int)i;
	}
	*tracks = g_array_new(FALSE, TRUE, sizeof(tb_router_track));
	for (guint i = 0; i < peer->pub_tracks->len; i++) {
		pub_track *t = peer->pub_tracks->pdata[i];
		tb_router_track info = {0};
		if (!t->active)
			continue;
		g_strlcpy(info.track_id, t->track_id, sizeof(info.track_id));
		g_strlcpy(info.mid, t->mid, sizeof(info.mid));
		info.kind = t->kind;
		info.active = t->active;
		g_array_append_val(*tracks, info);
	}
	rc = 0;
out:
	tb_sdp_publish_result_clear(&result);
	g_free(ufrag);
	g_free(pwd);
	return rc;
}

void tb_router_unpublish(tb_router_peer *peer)
{
	for (guint i = 0; i < peer->pub_tracks->len; i++)
		((pub_track *)peer->pub_tracks->pdata[i])->active = false;
	g_ptr_array_set_size(peer->pub_tracks, 0);
}

/* ---- subscribe ---- */

static uint8_t subscriber_pt(const tb_sdp_codec_params *codec)
{
	if (!codec->name)
		return PT_VP8;
	if (g_ascii_strcasecmp(codec->name, "opus") == 0)
		return PT_OPUS;
	if (g_ascii_strcasecmp(codec->name, "VP9") == 0)
		return PT_VP9;
	if (g_ascii_strcasecmp(codec->name, "H264") == 0)
		return PT_H264;
	return PT_VP8;
}

/* One fmtp per payload type in every subscriber section (a payload type
 * must mean one codec across the bundle): the publisher's own parameters
 * are not needed by the receiver for these codecs. */
static void canonical_fmtp(tb_sdp_codec_params *codec)
{
	const char *fmtp = NULL;

	if (g_ascii_strcasecmp(codec->name, "opus") == 0)
		fmtp = "minptime=10;useinbandfec=1";
	else if (g_ascii_strcasecmp(codec->name, "VP9") == 0)
		fmtp = "profile-id=0";
	else if (g_ascii_strcasecmp(codec->name, "H264") == 0)
		fmtp = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f";
	g_free(codec->fmtp);
	codec->fmtp = g_strdup(fmtp);
	if (g_ascii_strcasecmp(codec->name, "opus") == 0)
		codec->channels = 2;
}

static pub_track *lookup_source(tb_router *router, const tb_router_subscription *s)
{
	tb_router_peer *publisher = g_hash_table_lookup(router->peers, s->publisher_id);
	pub_track *track;

	if (!publisher)
		return NULL;
	track = find_track_by_mid(publisher, s->track_id);
	return track && track->active && track->codec.name ? track : NULL;
}

/* Whether layer LAYER of TRACK has a keyframe recent enough to serve from
 * the cache a subscriber that connects within the next 3/4 of
 * GOP_REPLAY_MAX_MS (ICE and DTLS take 70 ms here, several hundred under a
 * sanitizer or across the internet). */
static bool gop_fresh(const pub_track *track, int layer)
{
	const pub_layer *l;

	if (layer < 0 || (size_t)layer >= track->n_layers)
		return false;
	l = &track->layers[layer];
	return l->gop_known && !track->muted &&
	       (uint16_t)(l->highest_seq - l->gop_seq) < GOP_REPLAY_MAX_PACKETS / 4 &&
	       g_get_monotonic_time() - l->gop_at_us < GOP_REPLAY_MAX_MS * 1000 / 4;
}

static sub_track *find_sub(tb_router_peer *peer, const char *publisher_id, const char *track_id)
{
	for (guint i = 0; i < peer->sub_tracks->len; i++) {
		sub_track *sub = peer->sub_tracks->pdata[i];
		if (sub->active && !sub->paused && strcmp(sub->publisher_id, publisher_id) == 0 &&
		    strcmp(sub->track_id, track_id) == 0)
			return sub;
	}
	return NULL;
}

int tb_router_subscribe(tb_router_peer *peer, const tb_router_subscription *subs, size_t n,
			uint64_t version, char **offer, GArray **map, GError **error)
{
	tb_router *router = peer->router;
	tb_sdp_subscriber_track *tracks = NULL;
	tb_sdp_local local = {0};
	char *ufrag = NULL, *pwd = NULL;
	char **msid_tracks = NULL;
	int rc = TB_EINVAL;

	*offer = NULL;
	*map = NULL;
	if (!peer->sub && !make_transport(peer, TB_PC_SUBSCRIBE, error))
		return TB_EIO;

	/* Drop what is no longer wanted (its section goes inactive). */
	for (guint i = 0; i < peer->sub_tracks->len; i++) {
		sub_track *sub = peer->sub_tracks->pdata[i];
		bool wanted = false;
		if (!sub->active || sub->paused)
			continue;
		for (size_t k = 0; k < n && !wanted; k++)
			wanted = strcmp(subs[k].publisher_id, sub->publisher_id) == 0 &&
				 strcmp(subs[k].track_id, sub->track_id) == 0 &&
				 lookup_source(router, &subs[k]) == sub->source && sub->source;
		if (!wanted) {
			/* The section stays in the bundle, inactive, for reuse. */
			detach_sub(sub);
			sub->paused = true;
			sub->publisher_id[0] = sub->track_id[0] = 0;
		}
	}
	/* Add what is new. */
	for (size_t k = 0; k < n; k++) {
		pub_track *source = lookup_source(router, &subs[k]);
		sub_track *sub;
		if (!source || find_sub(peer, subs[k].publisher_id, subs[k].track_id))
			continue;
		sub = NULL;
		for (guint i = 0; i < peer->sub_tracks->len && !sub; i++) {
			sub_track *idle = peer->sub_tracks->pdata[i];
			if (idle->paused && idle->kind == source->kind &&
			    idle->pt == subscriber_pt(&source->codec))
				sub = idle;
		}
		if (sub) {
			/* Reuse an idle section: same mid, a new stream. */
			codec_params_clear(&sub->codec);
			sub->paused = false;
			sub->packets = sub->bytes = 0;
		} else {
			sub = g_new0(sub_track, 1);
			sub->peer = peer;
			g_snprintf(sub->mid, sizeof(sub->mid), "%u", peer->next_mid++);
			g_ptr_array_add(peer->sub_tracks, sub);
		}
		sub->source = source;
		g_strlcpy(sub->publisher_id, subs[k].publisher_id, sizeof(sub->publisher_id));
		g_strlcpy(sub->track_id, subs[k].track_id, sizeof(sub->track_id));
		sub->kind = source->kind;
		sub->active = true;
		sub->ssrc = random_ssrc();
		codec_params_copy(&sub->codec, &source->codec);
		sub->codec.pt = sub->pt = subscriber_pt(&source->codec);
		sub->codec.rtx_pt = -1;
		/* What we can serve: NACK from our cache, PLI/FIR relayed; and
		 * the subscriber's REMB, which caps its simulcast layers. */
		sub->codec.rtcp_fb =
			sub->kind == TB_SDP_KIND_VIDEO
				? (TB_SDP_FB_NACK | TB_SDP_FB_PLI | TB_SDP_FB_FIR | TB_SDP_FB_REMB)
				: 0;
		canonical_fmtp(&sub->codec);
		/* A new stream (new SSRC): starts at a keyframe of layer 0
		 * until layer selection below says otherwise. */
		tb_stream_rewriter_init(&sub->rw, sub->codec.clock_rate,
					sub->kind == TB_SDP_KIND_VIDEO, (uint16_t)g_random_int(),
					g_random_int());
		sub->quality = subs[k].quality;
		/* A keyframe now, while ICE and DTLS connect, unless a recent
		 * one is cached: the subscriber starts from the cache when its
		 * transport connects (or at its first packet if it is connected
		 * already, forward_one), with no request left to wait for. */
		g_ptr_array_add(source->subs, sub);
		if (sub->kind == TB_SDP_KIND_VIDEO && !gop_fresh(source, sub->rw.target))
			tb__router_request_keyframe(source, sub->rw.target, false);
	}
	/* Kept subscriptions may want another quality now. */
	tb_router_set_qualities(peer, subs, n);

	if (tb_transport_local_credentials(peer->sub, &ufrag, &pwd) < 0) {
		g_set_error(error, TB_SDP_ERROR, TB_EIO, "the subscribe PC is closed");
		rc = TB_EIO;
		goto out;
	}
	tracks = g_new0(tb_sdp_subscriber_track, peer->sub_tracks->len + 1);
	msid_tracks = g_new0(char *, peer->sub_tracks->len + 1);
	for (guint i = 0; i < peer->sub_tracks->len; i++) {
		sub_track *sub = peer->sub_tracks->pdata[i];
		tb_sdp_subscriber_track *t = &tracks[i];
		msid_tracks[i] = g_strdup_printf("%s-%s", sub->publisher_id, sub->track_id);
		t->mid = sub->mid;
		t->kind = sub->kind;
		t->active = sub->active;
		t->paused = sub->paused;
		t->codec = sub->codec;
		t->ssrc = sub->ssrc;
		t->cname = peer->cname;
		t->msid_stream = sub->publisher_id;
		t->msid_track = msid_tracks[i];
	}
	local.ice_ufrag = ufrag;
	local.ice_pwd = pwd;
	local.fingerprint_alg = "sha-256";
	local.fingerprint = tb_dtls_identity_fingerprint(router->identity);
	local.session_id = peer->session_id;
	*offer = tb_sdp_build_subscriber_offer(tracks, peer->sub_tracks->len, &local, version,
					       error);
	if (!*offer)
		goto out;
	*map = g_array_new(FALSE, TRUE, sizeof(tb_router_mapping));
	for (guint i = 0; i < peer->sub_tracks->len; i++) {
		sub_track *sub = peer->sub_tracks->pdata[i];
		tb_router_mapping m = {0};
		if (!sub->active || sub->paused)
			continue;
		g_strlcpy(m.mid, sub->mid, sizeof(m.mid));
		g_strlcpy(m.publisher_id, sub->publisher_id, sizeof(m.publisher_id));
		g_strlcpy(m.track_id, sub->track_id, sizeof(m.track_id));
		m.kind = sub->kind;
		g_array_append_val(*map, m);
	}
	rc = 0;
out:
	if (msid_tracks)
		g_strfreev(msid_tracks);
	g_free(tracks);
	g_free(ufrag);
	g_free(pwd);
	return rc;
}

void tb_router_set_qualities(tb_router_peer *peer, const tb_router_subscription *subs, size_t n)
{
	for (guint i = 0; i < peer->sub_tracks->len; i++) {
		sub_track *sub = peer->sub_tracks->pdata[i];
		for (size_t k = 0; k < n && sub->source; k++)
			if (strcmp(subs[k].publisher_id, sub->publisher_id) == 0 &&
			    strcmp(subs[k].track_id, sub->track_id) == 0)
				sub->quality = subs[k].quality;
	}
	tb__router_select_layers(peer);
}

int tb_router_subscriber_answer(tb_router_peer *peer, const tb_sdp_desc *answer, GError **error)
{
	tb_sdp_subscriber_track *tracks;
	int rc;

	if (!peer->sub) {
		g_set_error(error, TB_SDP_ERROR, TB_EINVAL, "no subscriber offer was made");
		return TB_EINVAL;
	}
	tracks = g_new0(tb_sdp_subscriber_track, peer->sub_tracks->len + 1);
	for (guint i = 0; i < peer->sub_tracks->len; i++) {
		sub_track *sub = peer->sub_tracks->pdata[i];
		tracks[i].mid = sub->mid;
		tracks[i].kind = sub->kind;
		tracks[i].active = sub->active;
		tracks[i].paused = sub->paused;
		tracks[i].codec = sub->codec;
		tracks[i].ssrc = sub->ssrc;
	}
	rc = tb_sdp_check_subscriber_answer(answer, tracks, peer->sub_tracks->len, error);
	g_free(tracks);
	if (rc < 0)
		return rc;
	rc = tb_transport_set_remote(peer->sub, answer->ice_ufrag, answer->ice_pwd,
				     answer->fingerprint_alg, answer->fingerprint,
				     our_dtls_role(answer->setup));
	if (rc < 0) {
		g_set_error(error, TB_SDP_ERROR, rc,
			    rc == TB_ECONFLICT ? "the DTLS fingerprint or role changed"
					       : "bad ICE credentials or fingerprint");
		return rc;
	}
	for (size_t i = 0; i < answer->n_sections; i++) {
		const tb_sdp_section *s = &answer->sections[i];
		for (size_t c = 0; c < s->n_candidates; c++)
			tb_transport_add_remote_candidate(peer->sub, s->candidates[c]);
		if (s->end_of_candidates)
			tb_transport_add_remote_candidate(peer->sub, NULL);
	}
	return 0;
}

int tb_router_add_candidate(tb_router_peer *peer, tb_pc_kind pc, const char *candidate)
{
	tb_transport *t = pc == TB_PC_PUBLISH ? peer->pub : peer->sub;
	bool end = !candidate || !*candidate;

	if (t)
		return tb_transport_add_remote_candidate(t, end ? NULL : candidate);
	if (end) {
		peer->pending_end[pc] = true;
		return 0;
	}
	if (peer->pending[pc]->len >= TB_ICE_MAX_REMOTE_CANDIDATES)
		return TB_EFULL;
	g_ptr_array_add(peer->pending[pc], g_strdup(candidate));
	return 0;
}

void tb_router_set_mute(tb_router_peer *peer, tb_sdp_kind kind, tb_router_mute_reason reason,
			bool muted)
{
	uint8_t *mask = kind == TB_SDP_KIND_AUDIO ? &peer->mute_audio : &peer->mute_video;
	bool now_muted;

	if (kind != TB_SDP_KIND_AUDIO && kind != TB_SDP_KIND_VIDEO)
		return;
	if (muted)
		*mask |= (uint8_t)reason;
	else
		*mask &= (uint8_t)~reason;
	now_muted = *mask != 0;
	for (guint i = 0; i < peer->pub_tracks->len; i++) {
		pub_track *t = peer->pub_tracks->pdata[i];
		if (t->kind != kind || t->muted == now_muted)
			continue;
		t->muted = now_muted;
		/* Never replay what was sent while muted. */
		for (size_t k = 0; k < t->n_layers; k++)
			t->layers[k].gop_known = false;
		if (!now_muted) {
			/* Resume contiguous, at a keyframe. */
			for (guint k = 0; k < t->subs->len; k++)
				tb_stream_rewriter_restart(&((sub_track *)t->subs->pdata[k])->rw);
			for (size_t k = 0; k < t->n_layers; k++)
				tb__router_request_keyframe(t, (int)k, true);
		}
	}
}

void tb_router_set_muted(tb_router_peer *peer, tb_sdp_kind kind, bool muted)
{
	tb_router_set_mute(peer, kind, TB_ROUTER_MUTE_SELF, muted);
}

void tb_router_request_keyframe(tb_router_peer *peer, const char *track_id)
{
	pub_track *track = find_track_by_mid(peer, track_id);

	/* Throttled like a subscriber's: within 300 ms of another request it
	 * is held back and sent when they are over, unless a keyframe comes
	 * first (which the recorder gets too). */
	if (track)
		tb__router_request_keyframe(track, 0, false);
}

/* ---- stats ---- */

static json_t *transport_json(tb_transport *t)
{
	const tb_transport_stats *s;
	char local[128], remote[128];
	const char *profile;

	if (!t)
		return json_null();
	s = tb_transport_get_stats(t);
	tb_transport_selected_pair(t, local, sizeof(local), remote, sizeof(remote));
	profile = tb_transport_srtp_profile(t);
	return json_pack("{s:s, s:s?, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "state",
			 tb_transport_state_to_string(tb_transport_get_state(t)), "srtp_profile",
			 profile, "local_candidate", local, "remote_candidate", remote,
			 "packets_in", (json_int_t)s->packets_in, "bytes_in",
			 (json_int_t)s->bytes_in, "packets_out", (json_int_t)s->packets_out,
			 "bytes_out", (json_int_t)s->bytes_out, "dropped_in",
			 (json_int_t)s->dropped_in, "dropped_out", (json_int_t)s->dropped_out);
}

json_t *tb_router_peer_stats(tb_router_peer *peer)
{
	json_t *pub = transport_json(peer->pub), *sub = transport_json(peer->sub);
	json_t *pub_tracks = json_array(), *sub_tracks = json_array();
	int64_t now = g_get_monotonic_time();

	for (guint i = 0; i < peer->pub_tracks->len; i++) {
		pub_track *t = peer->pub_tracks->pdata[i];
		tb_rtcp_report_block rb = {0};
		json_t *layers = json_array();
		for (size_t k = 0; k < t->n_layers; k++) {
			const pub_layer *l = &t->layers[k];
			tb_rtcp_report_block lrb = {0};
			tb_rtcp_rx_stats copy = l->rx;
			if (l->rx_started)
				tb_rtcp_rx_stats_report(&copy, l->ssrc, now, &lrb);
			rb.cumulative_lost += lrb.cumulative_lost;
			json_array_append_new(
				layers, json_pack("{s:s, s:I, s:I, s:i}", "rid", l->rid, "packets",
						  (json_int_t)l->packets, "bitrate",
						  (json_int_t)l->rate_bps, "width", (int)l->width));
		}
		json_array_append_new(
			pub_tracks,
			json_pack("{s:s, s:s, s:s?, s:b, s:b, s:I, s:I, s:i, s:I, s:I, s:I, s:I, "
				  "s:o}",
				  "track_id", t->track_id, "kind", tb_sdp_kind_to_string(t->kind),
				  "codec", t->codec.name, "active", t->active, "muted", t->muted,
				  "packets", (json_int_t)t->packets, "bytes", (json_int_t)t->bytes,
				  "lost", (int)rb.cumulative_lost, "plis_sent", (json_int_t)t->plis,
				  "nacks_sent", (json_int_t)t->nacks_sent, "rtx_received",
				  (json_int_t)t->rtx_received, "subscribers",
				  (json_int_t)t->subs->len, "layers", layers));
	}
	for (guint i = 0; i < peer->sub_tracks->len; i++) {
		sub_track *s = peer->sub_tracks->pdata[i];
		if (!s->active)
			continue;
		json_array_append_new(
			sub_tracks,
			json_pack(
				"{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:i, s:i, s:I, s:s}",
				"mid", s->mid, "participant_id", s->publisher_id, "track_id",
				s->track_id, "kind", tb_sdp_kind_to_string(s->kind), "packets",
				(json_int_t)s->packets, "bytes", (json_int_t)s->bytes, "nacks",
				(json_int_t)s->nacks, "retransmissions",
				(json_int_t)s->retransmissions, "plis", (json_int_t)s->plis,
				"layer", s->rw.layer, "target_layer", s->rw.target,
				"layer_switches", (json_int_t)s->rw.switches, "quality",
				s->quality == TB_SIMULCAST_HIGH     ? "high"
				: s->quality == TB_SIMULCAST_MEDIUM ? "medium"
								    : "low"));
	}
	if (json_is_object(pub))
		json_object_set_new(pub, "tracks", pub_tracks);
	else
		json_decref(pub_tracks);
	if (json_is_object(sub))
		json_object_set_new(sub, "tracks", sub_tracks);
	else
		json_decref(sub_tracks);
	return json_pack("{s:o, s:o}", "publish", pub, "subscribe", sub);
}

bool tb_router_peer_bundle_tag(const tb_router_peer *peer, tb_pc_kind pc, char *mid, size_t mid_len,
			       int *index)
{
	if (pc == TB_PC_PUBLISH) {
		if (!peer->pub_tag[0])
			return false;
		g_strlcpy(mid, peer->pub_tag, mid_len);
		*index = peer->pub_tag_index;
		return true;
	}
	for (guint i = 0; i < peer->sub_tracks->len; i++) {
		const sub_track *sub = peer->sub_tracks->pdata[i];
		if (sub->active) {
			g_strlcpy(mid, sub->mid, mid_len);
			*index = (int)i;
			return true;
		}
	}
	return false;
}

void tb_router_get_totals(const tb_router *router, tb_router_totals *out)
{
	*out = router->totals;
}
