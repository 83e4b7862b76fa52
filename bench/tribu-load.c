/* tribu-load.c — fan-out load client: K subscribers of one room in one
 * process.
 *
 * Usage: tribu-load --url ws://127.0.0.1:PORT/ws --secret-file DATA/secret
 *                   --room ROOM --subscribers K [--duration S] [...]
 *        tribu-load --server janus --url ws://127.0.0.1:PORT/ [--janus-room ID]
 *                   --subscribers K [...]
 *
 * With --server janus the signaling is Janus's VideoRoom API instead
 * (load-janus.c); media, counting and reports below are the same code for
 * both servers, so that bench/compare.py loads them identically.
 * With --participant one process is one workshop participant: the
 * synthetic publisher also receives everyone else (on tribud its subscribe
 * PeerConnection rides on the publisher's connection, kept in subs[0]).
 *
 * Each subscriber is a signaling WebSocket (libsoup) that joins ROOM with a
 * token minted here from the server's secret, answers every
 * subscriber-offer with a small recvonly answer (GstSDPMessage: each offered
 * section mirrored with its mid, payload types, extensions and rtcp-mux,
 * a=setup:active, our ICE credentials and fingerprint), trickles candidates
 * both ways and receives media on a tb_transport (ICE + DTLS client + SRTP,
 * the server's own media code). Once a second it sends each source an RTCP
 * receiver report, as a browser would. Nothing is decoded.
 *
 * Counted per subscriber: RTP packets and octets, sequence-number gaps per
 * SSRC (loss: the forwarder keeps each subscriber's sequence numbers
 * contiguous, so a gap is a packet that never arrived), and the times from
 * the join request to the join response, the subscriber offer, DTLS
 * connected, the first RTP packet and the first packet that starts a VP8
 * key frame. The last one is the "join time": the first frame the
 * subscriber could decode, less the decoder's own few milliseconds.
 *
 * With --publish-kbps N it also runs a synthetic publisher (joined first,
 * as a mentor) that sends packets shaped like a browser's at N kbit/s
 * (load-publisher.c). With --publishers P there are P of them, all joined
 * before the subscribers (a workshop; the first is the mentor), with
 * --simulcast three video layers each, and with --speakers S only the first
 * S talk (the others send Opus DTX). The "publishing" line comes when a
 * publisher's media starts.
 *
 * Output (stdout, one JSON object per line): a "snapshot" line on SIGUSR1
 * (cumulative totals, for a driver that measures a window), and a "final"
 * line with every subscriber on exit (--duration, SIGINT or SIGTERM).
 * Exit status 0 when every subscriber received a key frame, else 1.
 *
 * Threads: one, the GLib main loop on the default context; the transports
 * live there too. A load generator, not a test: it asserts nothing.
 *
 * Not here: decoding, NACKs (a lost packet stays lost and is counted),
 * RTCP sender reports from the synthetic publisher, congestion control.
 */
#include <glib-unix.h>
#include <gst/sdp/sdp.h>
#include <jansson.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dtls.h"
#include "rtcp.h"
#include "rtp.h"
#include "sdp.h"
#include "srtp.h"
#include "transport.h"

#include "load.h"

#define RTCP_CAP    (1500 + TB_SRTP_MAX_TRAILER)
#define TOKEN_TTL_S (6 * 3600)
#define SUB_ID_BASE (1 << 20) /* --participant: request ids of the subscribe side */

void fail(session *s, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "tribu-load: subscriber %u: %s\n", s->index, msg);
	if (s->error)
		g_free(msg);
	else
		s->error = msg;
}

/* ---- tokens (docs/protocol.md, Tokens) ---- */

static char *b64url(const uint8_t *data, size_t len)
{
	char *s = g_base64_encode(data, len);

	for (char *p = s; *p; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
		else if (*p == '=')
			*p = '\0';
	}
	return s;
}

static char *mint_token(const load *app, const char *user, const char *role)
{
	json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "sub", user, "name", user,
				   "role", role, "room", app->room, "kind", app->kind, "exp",
				   (json_int_t)(g_get_real_time() / G_USEC_PER_SEC + TOKEN_TTL_S));
	char *text = json_dumps(claims, JSON_COMPACT);
	char *payload = b64url((const uint8_t *)text, strlen(text));
	GHmac *hmac =
		g_hmac_new(G_CHECKSUM_SHA256, (const guchar *)app->secret, strlen(app->secret));
	uint8_t mac[32];
	gsize mac_len = sizeof(mac);
	char *sig, *token;

	g_hmac_update(hmac, (const guchar *)payload, (gssize)strlen(payload));
	g_hmac_get_digest(hmac, mac, &mac_len);
	sig = b64url(mac, mac_len);
	token = g_strdup_printf("%s.%s", payload, sig);
	g_hmac_unref(hmac);
	g_free(sig);
	g_free(payload);
	free(text);
	json_decref(claims);
	return token;
}

/* ---- signaling out ---- */

/* Sends REQ (a request object without id; reference stolen) with a new id,
 * which it returns. */
static json_int_t send_request(session *s, const char *type, json_t *req)
{
	char *text;

	if (!req) { /* json_pack failed: a bug here, not load */
		fail(s, "cannot build a %s request", type);
		return 0;
	}
	json_object_set_new(req, "type", json_string(type));
	json_object_set_new(req, "id", json_integer(++s->next_id));
	text = json_dumps(req, JSON_COMPACT);
	if (s->ws && soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
		soup_websocket_connection_send_text(s->ws, text);
	if (s->app->verbose)
		fprintf(stderr, "[%u] → %.200s\n", s->index, text);
	free(text);
	json_decref(req);
	return s->next_id;
}

static const char *pc_name(const session *s)
{
	return s->publisher ? "publish" : "subscribe";
}

static void send_candidate(session *s, const char *candidate)
{
	json_t *req;

	if (s->app->janus) {
		janus_send_candidate(s, candidate);
		return;
	}
	if (candidate)
		req = json_pack("{s:s, s:{s:s, s:s, s:i}}", "pc", pc_name(s), "candidate",
				"candidate", candidate, "sdpMid", "0", "sdpMLineIndex", 0);
	else
		req = json_pack("{s:s, s:n}", "pc", pc_name(s), "candidate");
	send_request(s, "candidate", req);
}

/* ---- media ---- */

static stream *stream_for(session *s, uint32_t ssrc)
{
	stream *st;

	for (size_t i = 0; i < s->n_streams; i++)
		if (s->streams[i].ssrc == ssrc)
			return &s->streams[i];
	if (s->n_streams == MAX_STREAMS)
		return NULL;
	st = &s->streams[s->n_streams];
	for (size_t i = 0; i < s->n_offered; i++) {
		if (s->offered[i].ssrc == ssrc) {
			memset(st, 0, sizeof(*st));
			st->ssrc = ssrc;
			st->kind = s->offered[i].kind;
			st->vp8 = s->offered[i].vp8;
			tb_rtcp_rx_stats_init(&st->rx,
					      st->kind == TB_SDP_KIND_AUDIO ? 48000 : 90000);
			s->n_streams++;
			return st;
		}
	}
	return NULL;
}

static void on_rtp(void *user_data, uint8_t *buf, size_t len)
{
	session *s = user_data;
	int64_t now = now_us();
	tb_rtp_header hdr;
	stream *st;
	uint32_t ext;

	if (tb_rtp_parse(buf, len, &hdr) < 0)
		return;
	st = stream_for(s, hdr.ssrc);
	if (!st) {
		s->unknown_ssrc++;
		return;
	}
	if (!s->t_first_rtp)
		s->t_first_rtp = now;
	if (!st->started) {
		st->started = true;
		st->first_ext = st->max_ext = 65536u + hdr.seq;
		ext = st->max_ext;
	} else {
		int16_t delta = (int16_t)(hdr.seq - (uint16_t)st->max_ext);
		ext = st->max_ext + (uint32_t)(int32_t)delta;
		if (delta > 0)
			st->max_ext = ext;
		else if (delta == 0)
			st->duplicates++;
		if (ext < st->first_ext)
			st->first_ext = ext; /* reordered before the first one */
	}
	st->packets++;
	st->bytes += len;
	tb_rtcp_rx_stats_update(&st->rx, hdr.seq, hdr.timestamp, now);
	if (st->kind == TB_SDP_KIND_VIDEO) {
		if (!s->t_first_video)
			s->t_first_video = now;
		if (!s->t_keyframe && st->vp8 &&
		    tb_vp8_is_keyframe(buf + hdr.payload_offset, hdr.payload_len))
			s->t_keyframe = now;
	}
}

static void on_rtcp(void *user_data, uint8_t *buf, size_t len)
{
	session *s = user_data;
	tb_rtcp_iter iter;
	tb_rtcp_packet pkt;
	tb_rtcp_sr sr;

	tb_rtcp_iter_init(&iter, buf, len);
	while (tb_rtcp_iter_next(&iter, &pkt)) {
		if (s->publisher)
			load_publisher_rtcp(s, &pkt);
		else if (tb_rtcp_parse_sr(&pkt, &sr) == 0) {
			for (size_t i = 0; i < s->n_streams; i++)
				if (s->streams[i].ssrc == sr.info.ssrc)
					tb_rtcp_rx_stats_sr_received(
						&s->streams[i].rx, sr.info.ntp_timestamp, now_us());
		}
	}
}

static void on_local_candidate(void *user_data, const char *candidate)
{
	session *s = user_data;

	if (!s->answered) {
		if (candidate)
			g_ptr_array_add(s->local_candidates, g_strdup(candidate));
		else
			s->local_done = true;
		return;
	}
	send_candidate(s, candidate);
}

static void on_state(void *user_data, tb_transport_state state, const char *reason)
{
	session *s = user_data;

	if (state == TB_TRANSPORT_CONNECTED && !s->t_connected) {
		s->t_connected = now_us();
		s->srtp_profile = tb_transport_srtp_profile(s->transport);
		if (s->publisher)
			load_publisher_connected(s);
	} else if (state == TB_TRANSPORT_FAILED) {
		fail(s, "transport failed: %s", reason ? reason : "?");
	}
}

static const tb_transport_callbacks transport_callbacks = {
	.local_candidate = on_local_candidate,
	.state = on_state,
	.rtp = on_rtp,
	.rtcp = on_rtcp,
};

tb_transport *load_transport_new(session *s, bool controlling, const char *name, GError **error)
{
	static const char *const addresses[] = {"127.0.0.1", NULL};
	tb_ice_config ice = {
		.local_addresses = addresses,
		.controlling = controlling,
	};

	return tb_transport_new(g_main_context_default(), s->app->identity, &ice, name,
				&transport_callbacks, s, error);
}

/* One receiver report per subscriber, about every source it receives. */
static gboolean rtcp_tick(gpointer data)
{
	load *app = data;
	int64_t now = now_us();

	for (unsigned i = 0; i < app->started; i++) {
		session *s = &app->subs[i];
		tb_rtcp_report_block blocks[MAX_STREAMS];
		uint8_t buf[RTCP_CAP];
		size_t n = 0;
		int len;

		if (s->publisher || !s->transport ||
		    tb_transport_get_state(s->transport) != TB_TRANSPORT_CONNECTED)
			continue;
		for (size_t k = 0; k < s->n_streams; k++)
			if (tb_rtcp_rx_stats_report(&s->streams[k].rx, s->streams[k].ssrc, now,
						    &blocks[n]) == 0)
				n++;
		len = tb_rtcp_build_rr(buf, sizeof(buf), s->rtcp_ssrc, blocks, n);
		if (len > 0)
			tb_transport_send_rtcp(s->transport, buf, (size_t)len, sizeof(buf));
	}
	return G_SOURCE_CONTINUE;
}

/* ---- the answer ---- */

void add_attr(GstSDPMedia *m, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *value;

	va_start(ap, fmt);
	value = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	gst_sdp_media_add_attribute(m, key, value);
	g_free(value);
}

/* Builds a recvonly answer to OFFER: each section mirrored (mid, formats
 * with their rtpmap/fmtp/rtcp-fb, extensions, rtcp-mux, rtcp-rsize), live
 * ones bundled on one transport of ours, stopped ones (port 0) rejected.
 * Returns the text (transfer full, g_free). */
static char *build_answer(const tb_sdp_desc *offer, const char *ufrag, const char *pwd,
			  const char *fingerprint)
{
	GstSDPMessage *msg = NULL;
	GString *group = g_string_new("BUNDLE");
	char *text;

	gst_sdp_message_new(&msg);
	gst_sdp_message_set_version(msg, "0");
	gst_sdp_message_set_origin(msg, "-", "4611686018427387", "2", "IN", "IP4", "127.0.0.1");
	gst_sdp_message_set_session_name(msg, "-");
	gst_sdp_message_add_time(msg, "0", "0", NULL);
	for (size_t i = 0; i < offer->n_sections; i++)
		if (!offer->sections[i].rejected)
			g_string_append_printf(group, " %s", offer->sections[i].mid);
	if (group->len > strlen("BUNDLE"))
		gst_sdp_message_add_attribute(msg, "group", group->str);
	gst_sdp_message_add_attribute(msg, "ice-options", "trickle");
	gst_sdp_message_add_attribute(msg, "msid-semantic", "WMS");

	for (size_t i = 0; i < offer->n_sections; i++) {
		const tb_sdp_section *o = &offer->sections[i];
		GstSDPMedia *m = NULL;

		gst_sdp_media_new(&m);
		gst_sdp_media_set_media(m, o->media);
		gst_sdp_media_set_port_info(m, o->rejected ? 0 : 9, 0);
		gst_sdp_media_set_proto(m, o->protocol);
		for (size_t f = 0; f < o->n_formats; f++)
			gst_sdp_media_add_format(m, o->formats[f]);
		gst_sdp_media_add_connection(m, "IN", "IP4", "0.0.0.0", 0, 0);
		gst_sdp_media_add_attribute(m, "ice-ufrag", ufrag);
		gst_sdp_media_add_attribute(m, "ice-pwd", pwd);
		add_attr(m, "fingerprint", "sha-256 %s", fingerprint);
		gst_sdp_media_add_attribute(m, "setup", "active");
		gst_sdp_media_add_attribute(m, "mid", o->mid);
		if (o->rejected) {
			gst_sdp_media_add_attribute(m, "inactive", NULL);
		} else {
			for (size_t e = 0; e < o->n_extmaps; e++)
				add_attr(m, "extmap", "%u %s", o->extmaps[e].id, o->extmaps[e].uri);
			gst_sdp_media_add_attribute(m,
						    o->direction == TB_SDP_SENDONLY ||
								    o->direction == TB_SDP_SENDRECV
							    ? "recvonly"
							    : "inactive",
						    NULL);
			if (o->rtcp_mux)
				gst_sdp_media_add_attribute(m, "rtcp-mux", NULL);
			if (o->rtcp_rsize)
				gst_sdp_media_add_attribute(m, "rtcp-rsize", NULL);
		}
		for (size_t c = 0; c < o->n_codecs; c++) {
			const tb_sdp_codec *codec = &o->codecs[c];

			if (!codec->name)
				continue;
			if (codec->channels > 1)
				add_attr(m, "rtpmap", "%u %s/%u/%u", codec->pt, codec->name,
					 codec->clock_rate, codec->channels);
			else
				add_attr(m, "rtpmap", "%u %s/%u", codec->pt, codec->name,
					 codec->clock_rate);
			if (o->rejected)
				continue;
			for (size_t f = 0; f < codec->n_rtcp_fb; f++)
				add_attr(m, "rtcp-fb", "%u %s", codec->pt, codec->rtcp_fb[f]);
			if (codec->fmtp)
				add_attr(m, "fmtp", "%u %s", codec->pt, codec->fmtp);
		}
		gst_sdp_message_add_media(msg, m);
		gst_sdp_media_free(m);
	}
	text = gst_sdp_message_as_text(msg);
	gst_sdp_message_free(msg);
	g_string_free(group, TRUE);
	return text;
}

static void remember_offered(session *s, const tb_sdp_desc *offer)
{
	s->n_offered = 0;
	for (size_t i = 0; i < offer->n_sections; i++) {
		const tb_sdp_section *o = &offer->sections[i];
		bool vp8 = false;

		if (o->rejected)
			continue;
		for (size_t c = 0; c < o->n_codecs; c++)
			if (o->codecs[c].name && g_ascii_strcasecmp(o->codecs[c].name, "VP8") == 0)
				vp8 = true;
		for (size_t k = 0; k < o->n_ssrcs && s->n_offered < MAX_STREAMS; k++) {
			s->offered[s->n_offered].ssrc = o->ssrcs[k].ssrc;
			s->offered[s->n_offered].kind = o->kind;
			s->offered[s->n_offered].vp8 = vp8;
			s->n_offered++;
		}
	}
}

char *load_answer_offer(session *s, const char *sdp, bool controlling)
{
	load *app = s->app;
	tb_sdp_desc *offer = NULL;
	GError *error = NULL;
	char *ufrag = NULL, *pwd = NULL, *answer = NULL;
	int rc;

	if (!s->t_offer)
		s->t_offer = now_us();
	s->offers++;
	if (tb_sdp_parse(sdp, &offer, &error) < 0) {
		fail(s, "bad subscriber offer: %s", error->message);
		goto out;
	}
	if (!offer->ice_ufrag || !offer->fingerprint) {
		fail(s, "subscriber offer without a live transport");
		goto out;
	}
	remember_offered(s, offer);
	if (!s->transport) {
		char name[32];

		g_snprintf(name, sizeof(name), "load/%u", s->index);
		s->transport = load_transport_new(s, controlling, name, &error);
		if (!s->transport) {
			fail(s, "transport: %s", error->message);
			goto out;
		}
	}
	rc = tb_transport_set_remote(s->transport, offer->ice_ufrag, offer->ice_pwd,
				     offer->fingerprint_alg, offer->fingerprint, TB_DTLS_CLIENT);
	if (rc < 0) {
		fail(s, "set_remote: %s", tb_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < offer->n_sections; i++)
		for (size_t c = 0; c < offer->sections[i].n_candidates; c++)
			tb_transport_add_remote_candidate(s->transport,
							  offer->sections[i].candidates[c]);
	for (guint i = 0; i < s->remote_candidates->len; i++)
		tb_transport_add_remote_candidate(s->transport, s->remote_candidates->pdata[i]);
	g_ptr_array_set_size(s->remote_candidates, 0);

	if (tb_transport_local_credentials(s->transport, &ufrag, &pwd) < 0) {
		fail(s, "no local ICE credentials");
		goto out;
	}
	answer = build_answer(offer, ufrag, pwd, tb_dtls_identity_fingerprint(app->identity));
out:
	g_clear_error(&error);
	tb_sdp_desc_free(offer);
	g_free(ufrag);
	g_free(pwd);
	return answer;
}

void load_release_candidates(session *s)
{
	if (s->answered)
		return;
	s->answered = true;
	for (guint i = 0; i < s->local_candidates->len; i++)
		send_candidate(s, s->local_candidates->pdata[i]);
	g_ptr_array_set_size(s->local_candidates, 0);
	if (s->local_done)
		send_candidate(s, NULL);
}

/* tribud: "subscriber-offer" {sdp, version} -> "subscriber-answer". */
static void handle_offer(session *s, json_t *data)
{
	json_t *version = json_object_get(data, "version");
	char *answer;

	if (!json_is_integer(version)) {
		s->offers++;
		fail(s, "subscriber-offer without a version");
		return;
	}
	/* we answer as a browser does: the offerer (tribud) controls ICE */
	answer = load_answer_offer(s, json_string_value(json_object_get(data, "sdp")), false);
	if (!answer)
		return;
	send_request(s, "subscriber-answer",
		     json_pack("{s:s, s:O}", "sdp", answer, "version", version));
	load_release_candidates(s);
	g_free(answer);
}

static void handle_remote_candidate(session *s, json_t *data)
{
	json_t *cand = json_object_get(data, "candidate");
	const char *line = json_string_value(json_object_get(cand, "candidate"));

	if (g_strcmp0(json_string_value(json_object_get(data, "pc")), pc_name(s)) != 0)
		return;
	load_add_remote_candidate(s, line);
}

void load_add_remote_candidate(session *s, const char *line)
{
	if (!s->transport) {
		g_ptr_array_add(s->remote_candidates, g_strdup(line));
		return;
	}
	tb_transport_add_remote_candidate(s->transport, line);
}

/* ---- synthetic publishers (load-publisher.c does the media) ---- */

/* tribud: "publish" {sdp, tracks}; the answer comes in the response. */
static void start_publish(session *s)
{
	char *offer = load_publish_offer(s);

	if (!offer)
		return;
	s->publish_id = send_request(s, "publish",
				     json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s}]}", "sdp", offer,
					       "tracks", "mid", "0", "source", "camera", "mid", "1",
					       "source", "mic"));
	g_free(offer);
}

/* ---- signaling in ---- */

/* tribud, --participant: the publisher's connection also carries its
 * subscribe PeerConnection, kept in subs[0]. Hands it what is its own (its
 * offers, candidates and the responses to its requests); returns whether
 * MSG was one. */
static bool route_to_subscriber(session *s, json_t *msg)
{
	session *sub = &s->app->subs[0];
	const char *event = json_string_value(json_object_get(msg, "event"));
	json_t *data = json_object_get(msg, "data");

	if (g_strcmp0(event, "subscriber-offer") == 0) {
		if (!sub->t_joined)
			sub->t_joined = now_us();
		handle_offer(sub, data);
		return true;
	}
	if (g_strcmp0(event, "candidate") == 0 &&
	    g_strcmp0(json_string_value(json_object_get(data, "pc")), "subscribe") == 0) {
		handle_remote_candidate(sub, data);
		return true;
	}
	if (!event && json_integer_value(json_object_get(msg, "id")) > SUB_ID_BASE) {
		if (json_is_false(json_object_get(msg, "ok")))
			fail(sub, "request failed: %s",
			     json_string_value(
				     json_object_get(json_object_get(msg, "error"), "message"))
				     ?: "?");
		return true;
	}
	return false;
}

static void on_ws_message(SoupWebsocketConnection *ws, gint type, GBytes *message,
			  gpointer user_data)
{
	session *s = user_data;
	gsize len;
	const char *text = g_bytes_get_data(message, &len);
	json_t *msg = json_loadb(text, len, 0, NULL);
	const char *event;

	if (s->app->verbose)
		fprintf(stderr, "[%u] ← %.200s\n", s->index, text);
	if (!msg)
		return;
	if (s->app->participant && s->publisher && !s->app->janus && route_to_subscriber(s, msg)) {
		json_decref(msg);
		return;
	}
	if (s->app->janus) {
		janus_message(s, msg);
		json_decref(msg);
		return;
	}
	event = json_string_value(json_object_get(msg, "event"));
	if (event) {
		json_t *data = json_object_get(msg, "data");
		if (strcmp(event, "subscriber-offer") == 0 && !s->publisher)
			handle_offer(s, data); /* publishers only publish */
		else if (strcmp(event, "candidate") == 0)
			handle_remote_candidate(s, data);
		else if (strcmp(event, "removed") == 0)
			fail(s, "removed: %s",
			     json_string_value(json_object_get(data, "reason")) ?: "?");
	} else if (json_is_false(json_object_get(msg, "ok"))) {
		json_t *err = json_object_get(msg, "error");
		fail(s, "request %" JSON_INTEGER_FORMAT " failed: %s: %s",
		     json_integer_value(json_object_get(msg, "id")),
		     json_string_value(json_object_get(err, "code")) ?: "?",
		     json_string_value(json_object_get(err, "message")) ?: "?");
	} else if (json_integer_value(json_object_get(msg, "id")) == 1 && !s->t_joined) {
		s->t_joined = now_us();
		if (s->publisher)
			start_publish(s);
	} else if (s->publisher &&
		   json_integer_value(json_object_get(msg, "id")) == s->publish_id) {
		load_apply_publish_answer(
			s, json_string_value(json_object_get(json_object_get(msg, "data"), "sdp")));
	} else if (s->stats_id && json_integer_value(json_object_get(msg, "id")) == s->stats_id) {
		print_line(json_pack("{s:O}", "data", json_object_get(msg, "data")),
			   "server-stats");
	}
	json_decref(msg);
}

static void on_ws_closed(SoupWebsocketConnection *ws, gpointer user_data)
{
	session *s = user_data;

	fail(s, "WebSocket closed (%u)", soup_websocket_connection_get_close_code(ws));
}

static void on_ws_connected(GObject *source, GAsyncResult *result, gpointer user_data)
{
	session *s = user_data;
	GError *error = NULL;
	char *token;

	s->ws = soup_session_websocket_connect_finish(SOUP_SESSION(source), result, &error);
	if (!s->ws) {
		fail(s, "WebSocket: %s", error->message);
		g_error_free(error);
		return;
	}
	soup_websocket_connection_set_max_incoming_payload_size(s->ws, 1 << 20);
	g_signal_connect(s->ws, "message", G_CALLBACK(on_ws_message), s);
	g_signal_connect(s->ws, "closed", G_CALLBACK(on_ws_closed), s);
	if (s->app->janus) {
		s->t_join_sent = now_us();
		janus_connected(s);
		return;
	}
	/* the first publisher is the room's mentor */
	token = mint_token(s->app, s->user,
			   s->publisher && s->index == s->app->n ? "mentor" : "student");
	s->t_join_sent = now_us();
	if (s->app->participant && s->publisher && !s->app->janus) {
		session *sub = &s->app->subs[0];
		sub->ws = g_object_ref(s->ws);
		sub->t_join_sent = s->t_join_sent;
	}
	send_request(s, "join", json_pack("{s:s, s:s}", "token", token, "name", s->user));
	g_free(token);
}

static void init_session(load *app, session *s)
{
	s->app = app;
	if (!s->publisher)
		s->user = g_strdup_printf("%s%03u", app->name_prefix, s->index);
	else if (s->index == app->n)
		s->user = g_strdup_printf("%spublisher", app->name_prefix);
	else
		s->user = g_strdup_printf("%spublisher%03u", app->name_prefix, s->index - app->n);
	s->local_candidates = g_ptr_array_new_with_free_func(g_free);
	s->remote_candidates = g_ptr_array_new_with_free_func(g_free);
	s->rtcp_ssrc = g_random_int() | 1u;
}

static void start_session(load *app, session *s)
{
	static const char *janus_protocols[] = {"janus-protocol", NULL};
	SoupMessage *msg = soup_message_new("GET", app->url);

	init_session(app, s);
	if (!msg) {
		fail(s, "bad URL %s", app->url);
		return;
	}
	soup_session_websocket_connect_async(app->session, msg, NULL,
					     app->janus ? (char **)janus_protocols : NULL,
					     G_PRIORITY_DEFAULT, NULL, on_ws_connected, s);
	g_object_unref(msg);
}

static gboolean start_next(gpointer data)
{
	load *app = data;

	if (app->started >= app->n)
		return G_SOURCE_REMOVE;
	start_session(app, &app->subs[app->started]);
	app->started++;
	return app->started < app->n ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Starts the subscribers' joins, once: at start-up, or when every synthetic
 * publisher's media flows, so that no join waits for a publisher. */
void start_joins(load *app)
{
	if (app->joins_started || app->n == 0)
		return;
	if (app->participant && !app->janus)
		return; /* tribud: the subscribe side came with the publisher's join */
	if (app->subscribe_on_usr2 && !app->usr2)
		return;
	app->joins_started = true;
	if (start_next(app) && app->n > 1)
		g_timeout_add(app->join_interval_ms ? app->join_interval_ms : 1, start_next, app);
}

/* ---- reports ---- */

typedef struct totals {
	unsigned joined, connected, receiving, keyframe, failed;
	uint64_t packets, bytes, expected, lost, duplicates;
	uint64_t video_packets, video_bytes, audio_packets, audio_bytes;
} totals;

static uint64_t stream_expected(const stream *st)
{
	return st->started ? (uint64_t)(st->max_ext - st->first_ext) + 1 : 0;
}

static uint64_t stream_lost(const stream *st)
{
	uint64_t got = st->packets - st->duplicates;
	uint64_t expected = stream_expected(st);

	return expected > got ? expected - got : 0;
}

static void sum(const load *app, totals *t)
{
	memset(t, 0, sizeof(*t));
	for (unsigned i = 0; i < app->started; i++) {
		const session *s = &app->subs[i];
		t->joined += s->t_joined != 0;
		t->connected += s->t_connected != 0;
		t->receiving += s->t_first_rtp != 0;
		t->keyframe += s->t_keyframe != 0;
		t->failed += s->error != NULL;
		for (size_t k = 0; k < s->n_streams; k++) {
			const stream *st = &s->streams[k];
			t->packets += st->packets;
			t->bytes += st->bytes;
			t->expected += stream_expected(st);
			t->lost += stream_lost(st);
			t->duplicates += st->duplicates;
			if (st->kind == TB_SDP_KIND_VIDEO) {
				t->video_packets += st->packets;
				t->video_bytes += st->bytes;
			} else {
				t->audio_packets += st->packets;
				t->audio_bytes += st->bytes;
			}
		}
	}
}

static json_t *totals_json(const load *app)
{
	totals t;

	sum(app, &t);
	return json_pack("{s:f, s:i, s:i, s:i, s:i, s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			 "s:I, s:I}",
			 "t_s", (double)(now_us() - app->t_start) / 1e6, "subscribers",
			 (int)app->started, "joined", (int)t.joined, "connected", (int)t.connected,
			 "receiving", (int)t.receiving, "keyframe", (int)t.keyframe, "failed",
			 (int)t.failed, "packets", (json_int_t)t.packets, "bytes",
			 (json_int_t)t.bytes, "expected", (json_int_t)t.expected, "lost",
			 (json_int_t)t.lost, "duplicates", (json_int_t)t.duplicates,
			 "video_packets", (json_int_t)t.video_packets, "video_bytes",
			 (json_int_t)t.video_bytes, "audio_packets", (json_int_t)t.audio_packets,
			 "audio_bytes", (json_int_t)t.audio_bytes);
}

void print_line(json_t *obj, const char *type)
{
	char *text;

	json_object_set_new(obj, "type", json_string(type));
	text = json_dumps(obj, JSON_COMPACT);
	printf("%s\n", text);
	fflush(stdout);
	free(text);
	json_decref(obj);
}

/* SIGUSR2 (--subscribe-on-usr2): the subscribers join now. */
static gboolean on_usr2(gpointer data)
{
	load *app = data;

	app->usr2 = true;
	start_joins(app);
	return G_SOURCE_CONTINUE;
}

/* SIGUSR1: our totals now, with what the synthetic publishers sent
 * (pub_packets, pub_bytes: all of them). A single publisher on tribud also
 * asks the server for its view of the publish PC (printed as a
 * "server-stats" line when the answer comes), so a driver can tell where a
 * lost packet was lost. */
static gboolean on_snapshot(gpointer data)
{
	load *app = data;
	json_t *obj = totals_json(app);

	if (app->pub) {
		uint64_t packets = 0, bytes = 0;

		for (unsigned i = 0; i < app->n_pubs; i++) {
			packets += app->pubs[i].sent_packets;
			bytes += app->pubs[i].sent_bytes;
		}
		json_object_set_new(obj, "pub_packets", json_integer((json_int_t)packets));
		json_object_set_new(obj, "pub_bytes", json_integer((json_int_t)bytes));
		/* One publisher's server view: with several, the driver compares
		 * totals instead. */
		if (!app->janus && app->n_pubs == 1)
			app->pub->stats_id = send_request(app->pub, "stats", json_object());
	}
	print_line(obj, "snapshot");
	return G_SOURCE_CONTINUE;
}

static json_t *session_json(const session *s)
{
	json_t *streams = json_array();
	json_t *obj;

	for (size_t k = 0; k < s->n_streams; k++) {
		const stream *st = &s->streams[k];
		json_array_append_new(streams, json_pack("{s:I, s:s, s:I, s:I, s:I, s:I}", "ssrc",
							 (json_int_t)st->ssrc, "kind",
							 tb_sdp_kind_to_string(st->kind), "packets",
							 (json_int_t)st->packets, "bytes",
							 (json_int_t)st->bytes, "expected",
							 (json_int_t)stream_expected(st), "lost",
							 (json_int_t)stream_lost(st)));
	}
	obj = json_pack("{s:i, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:I, s:s?, s:s?, s:o}",
			"index", (int)s->index, "user", s->user, "joined_ms",
			ms_since(s->t_join_sent, s->t_joined), "offer_ms",
			ms_since(s->t_join_sent, s->t_offer), "connected_ms",
			ms_since(s->t_join_sent, s->t_connected), "first_rtp_ms",
			ms_since(s->t_join_sent, s->t_first_rtp), "first_video_ms",
			ms_since(s->t_join_sent, s->t_first_video), "join_ms",
			ms_since(s->t_join_sent, s->t_keyframe), "offers", (int)s->offers,
			"unknown_ssrc", (json_int_t)s->unknown_ssrc, "srtp_profile",
			s->srtp_profile, "error", s->error, "streams", streams);
	return obj;
}

static void print_final(load *app)
{
	json_t *obj = totals_json(app);
	json_t *subs = json_array();
	totals t;

	sum(app, &t);
	for (unsigned i = 0; i < app->started; i++)
		json_array_append_new(subs, session_json(&app->subs[i]));
	json_object_set_new(obj, "per_subscriber", subs);
	if (app->pub) { /* the first publisher's figures */
		const session *p = app->pub;
		json_object_set_new(
			obj, "publisher",
			json_pack("{s:f, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:s?}",
				  "connected_ms", ms_since(p->t_join_sent, p->t_connected),
				  "srtp_profile", p->srtp_profile, "packets",
				  (json_int_t)p->sent_packets, "bytes", (json_int_t)p->sent_bytes,
				  "frames", (json_int_t)p->frames, "keyframes",
				  (json_int_t)p->keyframes, "keyframe_requests",
				  (json_int_t)p->keyframe_requests, "keyframe_requests_dropped",
				  (json_int_t)p->requests_dropped, "kbps",
				  p->t_media_start ? (double)p->sent_bytes * 8 * 1000 /
							     (double)(now_us() - p->t_media_start)
						   : 0.0,
				  "error", p->error));
	}
	print_line(obj, "final");
	app->exit_status = t.keyframe == app->n && (!app->pub || app->pub->t_connected) ? 0 : 1;
}

static gboolean on_stop(gpointer data)
{
	load *app = data;

	g_main_loop_quit(app->loop);
	return G_SOURCE_REMOVE;
}

static void session_clear(session *s)
{
	if (s->ws) {
		g_signal_handlers_disconnect_by_data(s->ws, s);
		if (soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
			soup_websocket_connection_close(s->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
		g_object_unref(s->ws);
	}
	tb_transport_free(s->transport);
	if (s->local_candidates)
		g_ptr_array_unref(s->local_candidates);
	if (s->remote_candidates)
		g_ptr_array_unref(s->remote_candidates);
	g_free(s->user);
	g_free(s->error);
}

int main(int argc, char **argv)
{
	load app = {.exit_status = 1};
	char *secret_file = NULL, *log_level = NULL, *server = NULL;
	gint64 janus_room = 1234, janus_feed = 1;
	int janus_feeds = 1;
	char *secret_text = NULL;
	int subscribers = 1, join_interval = 50, duration = 0, publish_kbps = 0;
	int keyframe_min_ms = PUB_KEYFRAME_MIN_MS, publishers = 1, speakers = -1;
	gboolean verbose = FALSE, participant = FALSE, on_usr2_opt = FALSE, simulcast = FALSE;
	GError *error = NULL;
	GOptionContext *ctx;
	GOptionEntry entries[] = {
		{"url", 0, 0, G_OPTION_ARG_STRING, &app.url, "Signaling URL",
		 "ws://127.0.0.1:PORT/ws"},
		{"secret-file", 0, 0, G_OPTION_ARG_FILENAME, &secret_file,
		 "The server's token secret (DATA_DIR/secret); tribud only", "FILE"},
		{"server", 0, 0, G_OPTION_ARG_STRING, &server,
		 "Whose signaling to speak (default tribud)", "tribud|janus"},
		{"janus-room", 0, 0, G_OPTION_ARG_INT64, &janus_room,
		 "Janus: VideoRoom room id (default 1234)", "ID"},
		{"janus-feed", 0, 0, G_OPTION_ARG_INT64, &janus_feed,
		 "Janus: our synthetic publisher's feed id (default 1)", "ID"},
		{"janus-feeds", 0, 0, G_OPTION_ARG_INT, &janus_feeds,
		 "Janus: subscribers take feeds 1..N, never our own publisher's (default 1)", "N"},
		{"room", 0, 0, G_OPTION_ARG_STRING, &app.room, "Room to join", "ROOM"},
		{"kind", 0, 0, G_OPTION_ARG_STRING, &app.kind,
		 "Room kind in the tokens (default workshop)", "coaching|workshop"},
		{"subscribers", 'k', 0, G_OPTION_ARG_INT, &subscribers, "Subscribers (default 1)",
		 "K"},
		{"publish-kbps", 0, 0, G_OPTION_ARG_INT, &publish_kbps,
		 "Also run a synthetic VP8 + Opus publisher at this bit rate; the "
		 "subscribers join once its media flows (default 0: none)",
		 "KBPS"},
		{"keyframe-min-ms", 0, 0, G_OPTION_ARG_INT, &keyframe_min_ms,
		 "Synthetic publisher: drop a key frame request that comes within this many ms "
		 "of the last one honoured (default 300, as libwebrtc; 0: honour every one)",
		 "MS"},
		{"publishers", 0, 0, G_OPTION_ARG_INT, &publishers,
		 "Synthetic publishers with --publish-kbps, all joined before the subscribers "
		 "(default 1); tribud only",
		 "P"},
		{"simulcast", 0, 0, G_OPTION_ARG_NONE, &simulcast,
		 "Publishers send three simulcast layers (a=ssrc-group:SIM); tribud only", NULL},
		{"speakers", 0, 0, G_OPTION_ARG_INT, &speakers,
		 "Publishers that talk; the others send Opus DTX (default: all)", "S"},
		{"join-interval-ms", 0, 0, G_OPTION_ARG_INT, &join_interval,
		 "Delay between two joins (default 50)", "MS"},
		{"duration", 0, 0, G_OPTION_ARG_INT, &duration,
		 "Seconds to run, 0: until SIGINT/SIGTERM (default 0)", "S"},
		{"name-prefix", 0, 0, G_OPTION_ARG_STRING, &app.name_prefix,
		 "User ids are PREFIX000.., the publishers' PREFIXpublisher, PREFIXpublisher001.. "
		 "(default load-)",
		 "PREFIX"},
		{"log-level", 0, 0, G_OPTION_ARG_STRING, &log_level,
		 "tribu log filter for the media code (default warn)", "SPEC"},
		{"participant", 0, 0, G_OPTION_ARG_NONE, &participant,
		 "One workshop participant: the synthetic publisher also receives everyone "
		 "else (tribud: its subscribe PeerConnection; Janus: a subscriber of every "
		 "other feed 1..N); needs --publish-kbps, implies --subscribers 1",
		 NULL},
		{"subscribe-on-usr2", 0, 0, G_OPTION_ARG_NONE, &on_usr2_opt,
		 "Start the subscribers' joins on SIGUSR2, not when the publisher's media "
		 "flows",
		 NULL},
		{"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Print signaling to stderr", NULL},
		G_OPTION_ENTRY_NULL,
	};

	ctx = g_option_context_new("- fan-out load client for tribud (K subscribers)");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "tribu-load: %s\n", error->message);
		return 2;
	}
	g_option_context_free(ctx);
	app.janus = g_strcmp0(server, "janus") == 0;
	if (server && !app.janus && strcmp(server, "tribud") != 0) {
		fprintf(stderr, "tribu-load: --server is tribud or janus\n");
		return 2;
	}
	if (app.janus && !secret_file)
		secret_file = g_strdup("/dev/null");
	if (!app.room && app.janus)
		app.room = g_strdup_printf("%" G_GINT64_FORMAT, janus_room);
	if (!app.url || !secret_file || !app.room || subscribers < 0 || subscribers > 1000 ||
	    janus_feeds < 1 || janus_feeds > MAX_STREAMS / 2 || janus_room <= 0 ||
	    janus_feed <= 0 || (subscribers == 0 && publish_kbps <= 0) || publish_kbps < 0 ||
	    publish_kbps > 50000 || join_interval < 0 || duration < 0 || publishers < 1 ||
	    publishers > 200 || speakers < -1) {
		fprintf(stderr, "tribu-load: --url, --secret-file and --room are required; "
				"0 <= --subscribers <= 1000 (0 only with --publish-kbps); "
				"--publish-kbps <= 50000; 1 <= --publishers <= 200\n");
		return 2;
	}
	if ((publishers > 1 || simulcast) && (app.janus || participant)) {
		fprintf(stderr, "tribu-load: --publishers and --simulcast are for tribud, "
				"without --participant\n");
		return 2;
	}
	if (!g_file_get_contents(secret_file, &secret_text, NULL, &error)) {
		fprintf(stderr, "tribu-load: %s\n", error->message);
		return 2;
	}
	app.secret = g_strstrip(secret_text);
	if (participant) {
		if (publish_kbps <= 0) {
			fprintf(stderr, "tribu-load: --participant needs --publish-kbps\n");
			return 2;
		}
		subscribers = 1;
	}
	app.participant = participant;
	app.subscribe_on_usr2 = on_usr2_opt;
	app.n = (unsigned)subscribers;
	app.publish_kbps = (unsigned)publish_kbps;
	app.simulcast = simulcast;
	app.speakers = speakers < 0 ? (unsigned)publishers : (unsigned)speakers;
	app.join_interval_ms = (unsigned)join_interval;
	app.duration_s = (unsigned)duration;
	app.verbose = verbose;
	app.keyframe_min_ms = (unsigned)CLAMP(keyframe_min_ms, 0, 10000);
	app.janus_room = (json_int_t)janus_room;
	app.janus_feed = (json_int_t)janus_feed;
	app.janus_feeds = (unsigned)janus_feeds;
	if (!app.kind)
		app.kind = g_strdup("workshop");
	if (!app.name_prefix)
		app.name_prefix = g_strdup("load-");
	tb_log_set_spec(log_level ? log_level : "warn");
	if (tb_srtp_global_init() < 0)
		return 1;
	app.identity = tb_dtls_identity_new();
	if (!app.identity)
		return 1;
	app.session = soup_session_new_with_options("max-conns", 4096, "max-conns-per-host", 4096,
						    "timeout", 0, "idle-timeout", 0, NULL);
	app.loop = g_main_loop_new(NULL, FALSE);
	app.subs = g_new0(session, app.n);
	for (unsigned i = 0; i < app.n; i++)
		app.subs[i].index = i;
	app.t_start = now_us();

	g_unix_signal_add(SIGINT, on_stop, &app);
	g_unix_signal_add(SIGTERM, on_stop, &app);
	g_unix_signal_add(SIGUSR1, on_snapshot, &app);
	g_unix_signal_add(SIGUSR2, on_usr2, &app);
	g_timeout_add(1000, rtcp_tick, &app);
	if (app.janus)
		g_timeout_add_seconds(15, janus_keepalive, &app);
	if (app.duration_s)
		g_timeout_add_seconds(app.duration_s, on_stop, &app);
	if (app.participant && !app.janus) {
		/* the subscribe side, on the publisher's connection */
		init_session(&app, &app.subs[0]);
		app.subs[0].next_id = SUB_ID_BASE;
		app.started = 1;
		app.joins_started = true;
	}
	if (app.publish_kbps) {
		app.n_pubs = (unsigned)publishers;
		app.pubs = g_new0(session, app.n_pubs);
		app.pub = &app.pubs[0];
		for (unsigned i = 0; i < app.n_pubs; i++) {
			app.pubs[i].publisher = true;
			app.pubs[i].index = app.n + i;
			start_session(&app, &app.pubs[i]);
		}
		g_timeout_add(PUB_TICK_MS, load_publish_tick, &app);
	} else {
		start_joins(&app);
	}

	g_main_loop_run(app.loop);
	print_final(&app);

	for (unsigned i = 0; i < app.started; i++)
		session_clear(&app.subs[i]);
	for (unsigned i = 0; i < app.n_pubs; i++)
		session_clear(&app.pubs[i]);
	g_free(app.pubs);
	g_free(app.subs);
	g_object_unref(app.session);
	g_main_loop_unref(app.loop);
	tb_dtls_identity_unref(app.identity);
	g_free(app.url);
	g_free(app.room);
	g_free(app.kind);
	g_free(app.name_prefix);
	g_free(secret_file);
	g_free(secret_text);
	g_free(log_level);
	g_free(server);
	return app.exit_status;
}
