/* load-publisher.c — tribu-load's synthetic publishers: a hand-made
 * sendonly offer and packets shaped like a browser's encoders', at
 * --publish-kbps, with no encoder.
 *
 * The offer: VP8 + Opus, a=ssrc, the mid, abs-send-time and audio-level
 * extensions; packets carry the last two, as Chrome's do once the mid is
 * known. Opus 20 ms frames of 160 octets; VP8 frames at 30 fps cut into
 * equal packets of at most 1200 octets, payloads of arbitrary bytes behind a
 * valid VP8 descriptor and frame tag. Key frames go out as Chrome sends
 * them: one at the start, then only on PLI/FIR, and a request that comes
 * within --keyframe-min-ms (300 ms) of the last one honoured is dropped, not
 * deferred (libwebrtc's EncoderRtcpFeedback, kMinKeyframeSendIntervalMs); a
 * key frame is 4 average frames, of 640x360.
 *
 * With --simulcast the video is three layers (a=ssrc-group:SIM, low to
 * high: 15 %, 25 % and 60 % of the video bit rate, key frames of 320x180,
 * 640x360 and 1280x720), each layer its own SSRC, sequence numbers, picture
 * ids and key frames on request. With --speakers S only the first S
 * publishers talk (Opus every 20 ms, audio level -30 dBov); the others are
 * silent as a browser's Opus DTX is: one small packet every 400 ms at
 * -127 dBov.
 *
 * The server never decodes, so this costs it what a browser's stream
 * costs, at a bit rate that test content does not reach.
 *
 * Threads: the GLib main loop on the default context (load.h).
 * Not here: RTCP sender reports, NACK retransmissions, congestion control.
 */
#include <string.h>

#include "common.h"
#include "dtls.h"
#include "rtp.h"
#include "srtp.h"

#include "load.h"

/* The PTs and ids are the publisher's own; the server remaps. */
#define PUB_VIDEO_PT        96
#define PUB_AUDIO_PT        111
#define PUB_EXT_MID         1
#define PUB_EXT_ABS_SEND    2
#define PUB_EXT_AUDIO_LEVEL 3
#define PUB_FPS             30
#define PUB_MAX_PACKET      1200 /* RTP packet, like rtpvp8pay mtu=1200 */
#define PUB_OPUS_OCTETS     160  /* 64 kbit/s in 20 ms frames */
#define PUB_KEYFRAME_SCALE  4    /* a key frame is this many average frames */
#define PUB_DTX_INTERVAL    20   /* a silent publisher sends one frame in 20 (400 ms) */

/* Writes the RTP header and a one-byte-form extension block with
 * abs-send-time (and the audio level for audio); returns its length. */
static size_t write_header(uint8_t *buf, uint8_t pt, bool marker, uint16_t seq, uint32_t ts,
			   uint32_t ssrc, bool audio, int64_t now, bool loud)
{
	uint32_t ast = tb_rtp_abs_send_time_from_us((uint64_t)now);
	size_t n = 12;

	buf[0] = 0x90; /* V=2, X=1 */
	buf[1] = (uint8_t)((marker ? 0x80 : 0) | pt);
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	buf[4] = (uint8_t)(ts >> 24);
	buf[5] = (uint8_t)(ts >> 16);
	buf[6] = (uint8_t)(ts >> 8);
	buf[7] = (uint8_t)ts;
	buf[8] = (uint8_t)(ssrc >> 24);
	buf[9] = (uint8_t)(ssrc >> 16);
	buf[10] = (uint8_t)(ssrc >> 8);
	buf[11] = (uint8_t)ssrc;
	buf[n++] = 0xBE;
	buf[n++] = 0xDE;
	buf[n++] = 0;
	buf[n++] = audio ? 2 : 1; /* length in 32-bit words */
	buf[n++] = (uint8_t)(PUB_EXT_ABS_SEND << 4 | 2);
	buf[n++] = (uint8_t)(ast >> 16);
	buf[n++] = (uint8_t)(ast >> 8);
	buf[n++] = (uint8_t)ast;
	if (audio) {
		buf[n++] = (uint8_t)(PUB_EXT_AUDIO_LEVEL << 4 | 0);
		buf[n++] = loud ? 0x80 | 30 : 127; /* voice, -30 dBov, or silence */
		buf[n++] = 0;
		buf[n++] = 0;
	}
	return n;
}

static void send_packet(session *s, uint8_t *buf, size_t len, size_t cap)
{
	if (tb_transport_send_rtp(s->transport, buf, len, cap) == 0) {
		s->sent_packets++;
		s->sent_bytes += len;
	}
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

/* One VP8 frame of SIZE payload octets of layer LAYER, in equal packets. */
static void send_video_frame(session *s, int layer, size_t size, bool key, uint32_t ts, int64_t now)
{
	/* key frame start code and size: 1280x720 >> (2 - layer) */
	static const uint8_t sizes[PUB_LAYERS][4] = {
		{0x40, 0x01, 0xb4, 0x00}, {0x80, 0x02, 0x68, 0x01}, {0x00, 0x05, 0xd0, 0x02}};
	enum { DESC = 4 }; /* X=1, I=1, 15-bit picture id */
	const size_t room = PUB_MAX_PACKET - (12 + 8) - DESC;
	size_t n = (size + room - 1) / room;
	uint8_t buf[PUB_MAX_PACKET + TB_SRTP_MAX_TRAILER];

	for (size_t i = 0; i < n; i++) {
		size_t chunk = size / n + (i < size % n ? 1 : 0);
		size_t h = write_header(buf, PUB_VIDEO_PT, i == n - 1, s->layer_seq[layer]++, ts,
					s->layer_ssrc[layer], false, now, false);
		uint8_t *d = buf + h;

		d[0] = (uint8_t)(0x80 | (i == 0 ? 0x10 : 0)); /* X, S on the first packet, PID 0 */
		d[1] = 0x80;                                  /* I */
		d[2] = (uint8_t)(0x80 | (s->layer_pid[layer] >> 8));
		d[3] = (uint8_t)s->layer_pid[layer];
		fill(d + DESC, chunk, (uint32_t)(s->layer_seq[layer] * 2654435761u));
		if (i == 0) {
			/* frame tag: P = 0 for a key frame; show_frame */
			d[DESC] = (uint8_t)(0x10 | (key ? 0 : 1));
			if (key && chunk >= 10) {
				static const uint8_t start[3] = {0x9d, 0x01, 0x2a};
				memcpy(d + DESC + 3, start, sizeof(start));
				memcpy(d + DESC + 6, sizes[s->app->simulcast ? layer : 1],
				       4); /* 640x360 alone */
			}
		}
		send_packet(s, buf, h + DESC + chunk, sizeof(buf));
	}
	s->layer_pid[layer] = (uint16_t)((s->layer_pid[layer] + 1) & 0x7fff);
}

static void send_audio_frame(session *s, uint32_t ts, int64_t now)
{
	uint8_t buf[256 + TB_SRTP_MAX_TRAILER];
	size_t h = write_header(buf, PUB_AUDIO_PT, false, s->audio_seq++, ts, s->audio_ssrc, true,
				now, s->speaking);

	fill(buf + h, PUB_OPUS_OCTETS, s->audio_seq);
	buf[h] = 0x78; /* TOC: SILK+CELT 20 ms, stereo off, one frame */
	send_packet(s, buf, h + PUB_OPUS_OCTETS, sizeof(buf));
}

/* Sends every frame of S due since its media started; a late tick
 * catches up. */
static void publish_due(load *app, session *s)
{
	/* share of the video bit rate per layer, low to high */
	static const double share[PUB_LAYERS] = {0.15, 0.25, 0.60};
	int64_t now = now_us(), elapsed;
	/* Opus: 8 octets of RTP+ext overhead per frame counted in the budget. */
	double audio_bps = (PUB_OPUS_OCTETS + 12 + 8) * 8.0 * 50;
	double video_bps = MAX(app->publish_kbps * 1000.0 - audio_bps, 50000.0);
	size_t average = (size_t)(video_bps / 8 / PUB_FPS);

	if (!s->t_media_start || tb_transport_get_state(s->transport) != TB_TRANSPORT_CONNECTED)
		return;
	elapsed = now - s->t_media_start;
	while ((int64_t)s->audio_frames * 20000 <= elapsed) {
		if (s->speaking || s->audio_frames % PUB_DTX_INTERVAL == 0)
			send_audio_frame(s, s->audio_ts0 + (uint32_t)(s->audio_frames * 960), now);
		s->audio_frames++;
	}
	while ((int64_t)s->frames * 1000000 / PUB_FPS <= elapsed) {
		uint32_t ts = s->video_ts0 + (uint32_t)(s->frames * 90000 / PUB_FPS);
		for (int k = 0; k < (app->simulcast ? PUB_LAYERS : 1); k++) {
			size_t layer_avg = app->simulcast ? (size_t)(average * share[k]) : average;
			bool key = s->layer_key[k];
			if (key) {
				s->keyframes++;
				s->layer_key[k] = false;
			}
			send_video_frame(s, k,
					 MAX(key ? layer_avg * PUB_KEYFRAME_SCALE : layer_avg, 20),
					 key, ts, now);
		}
		s->frames++;
	}
}

gboolean load_publish_tick(gpointer data)
{
	load *app = data;

	for (unsigned i = 0; i < app->n_pubs; i++)
		publish_due(app, &app->pubs[i]);
	return G_SOURCE_CONTINUE;
}

/* The sendonly offer: video then audio, bundled, with a=ssrc. */
static char *build_publish_offer(session *s, const char *ufrag, const char *pwd,
				 const char *fingerprint)
{
	GstSDPMessage *msg = NULL;
	char *text;

	gst_sdp_message_new(&msg);
	gst_sdp_message_set_version(msg, "0");
	gst_sdp_message_set_origin(msg, "-", "4611686018427388", "1", "IN", "IP4", "127.0.0.1");
	gst_sdp_message_set_session_name(msg, "-");
	gst_sdp_message_add_time(msg, "0", "0", NULL);
	gst_sdp_message_add_attribute(msg, "group", "BUNDLE 0 1");
	gst_sdp_message_add_attribute(msg, "ice-options", "trickle");
	gst_sdp_message_add_attribute(msg, "msid-semantic", "WMS load");
	for (int i = 0; i < 2; i++) {
		bool audio = i == 1;
		unsigned pt = audio ? PUB_AUDIO_PT : PUB_VIDEO_PT;
		uint32_t ssrc = audio ? s->audio_ssrc : s->video_ssrc;
		GstSDPMedia *m = NULL;
		char fmt[8];

		g_snprintf(fmt, sizeof(fmt), "%u", pt);
		gst_sdp_media_new(&m);
		gst_sdp_media_set_media(m, audio ? "audio" : "video");
		gst_sdp_media_set_port_info(m, 9, 0);
		gst_sdp_media_set_proto(m, "UDP/TLS/RTP/SAVPF");
		gst_sdp_media_add_format(m, fmt);
		gst_sdp_media_add_connection(m, "IN", "IP4", "0.0.0.0", 0, 0);
		gst_sdp_media_add_attribute(m, "ice-ufrag", ufrag);
		gst_sdp_media_add_attribute(m, "ice-pwd", pwd);
		add_attr(m, "fingerprint", "sha-256 %s", fingerprint);
		gst_sdp_media_add_attribute(m, "setup", "actpass");
		gst_sdp_media_add_attribute(m, "mid", audio ? "1" : "0");
		add_attr(m, "extmap", "%d %s", PUB_EXT_MID, TB_SDP_EXT_URI_MID);
		add_attr(m, "extmap", "%d %s", PUB_EXT_ABS_SEND, TB_SDP_EXT_URI_ABS_SEND_TIME);
		if (audio)
			add_attr(m, "extmap", "%d %s", PUB_EXT_AUDIO_LEVEL,
				 TB_SDP_EXT_URI_AUDIO_LEVEL);
		gst_sdp_media_add_attribute(m, "sendonly", NULL);
		add_attr(m, "msid", "load %s", audio ? "audio0" : "video0");
		gst_sdp_media_add_attribute(m, "rtcp-mux", NULL);
		gst_sdp_media_add_attribute(m, "rtcp-rsize", NULL);
		if (audio) {
			add_attr(m, "rtpmap", "%u opus/48000/2", pt);
			add_attr(m, "fmtp", "%u minptime=10;useinbandfec=1", pt);
		} else {
			add_attr(m, "rtpmap", "%u VP8/90000", pt);
			add_attr(m, "rtcp-fb", "%u nack", pt);
			add_attr(m, "rtcp-fb", "%u nack pli", pt);
			add_attr(m, "rtcp-fb", "%u ccm fir", pt);
			add_attr(m, "rtcp-fb", "%u goog-remb", pt);
		}
		if (!audio && s->app->simulcast) {
			add_attr(m, "ssrc-group", "SIM %u %u %u", s->layer_ssrc[0],
				 s->layer_ssrc[1], s->layer_ssrc[2]);
			for (int k = 0; k < PUB_LAYERS; k++) {
				add_attr(m, "ssrc", "%u cname:load", s->layer_ssrc[k]);
				add_attr(m, "ssrc", "%u msid:load video0", s->layer_ssrc[k]);
			}
		} else {
			add_attr(m, "ssrc", "%u cname:load", ssrc);
			add_attr(m, "ssrc", "%u msid:load %s", ssrc, audio ? "audio0" : "video0");
		}
		gst_sdp_message_add_media(msg, m);
		gst_sdp_media_free(m);
	}
	text = gst_sdp_message_as_text(msg);
	gst_sdp_message_free(msg);
	return text;
}

char *load_publish_offer(session *s)
{
	load *app = s->app;
	GError *error = NULL;
	char *ufrag = NULL, *pwd = NULL, *offer = NULL;

	s->video_ssrc = g_random_int() | 1u;
	s->audio_ssrc = s->video_ssrc + 2;
	s->audio_seq = (uint16_t)g_random_int();
	for (int k = 0; k < PUB_LAYERS; k++) {
		s->layer_ssrc[k] = k == 0 ? s->video_ssrc : s->video_ssrc + 2 + 2 * (uint32_t)k;
		s->layer_seq[k] = (uint16_t)g_random_int();
		s->layer_pid[k] = (uint16_t)(g_random_int() & 0x7fff);
	}
	s->speaking = s->index - app->n < app->speakers;
	s->video_ts0 = g_random_int();
	s->audio_ts0 = g_random_int();
	s->transport = load_transport_new(s, true, "load/pub", &error);
	if (!s->transport) {
		fail(s, "transport: %s", error->message);
		goto out;
	}
	if (tb_transport_local_credentials(s->transport, &ufrag, &pwd) < 0) {
		fail(s, "no local ICE credentials");
		goto out;
	}
	offer = build_publish_offer(s, ufrag, pwd, tb_dtls_identity_fingerprint(app->identity));
out:
	g_clear_error(&error);
	g_free(ufrag);
	g_free(pwd);
	return offer;
}

void load_apply_publish_answer(session *s, const char *sdp)
{
	tb_sdp_desc *answer = NULL;
	GError *error = NULL;
	int rc;

	s->t_offer = now_us();
	if (tb_sdp_parse(sdp, &answer, &error) < 0) {
		fail(s, "bad publish answer: %s", error->message);
		goto out;
	}
	/* The server answering "active" is the DTLS client. */
	rc = tb_transport_set_remote(s->transport, answer->ice_ufrag, answer->ice_pwd,
				     answer->fingerprint_alg, answer->fingerprint,
				     answer->setup == TB_SDP_SETUP_ACTIVE ? TB_DTLS_SERVER
									  : TB_DTLS_CLIENT);
	if (rc < 0) {
		fail(s, "set_remote: %s", tb_strerror(rc));
		goto out;
	}
	for (size_t i = 0; i < answer->n_sections; i++)
		for (size_t c = 0; c < answer->sections[i].n_candidates; c++)
			tb_transport_add_remote_candidate(s->transport,
							  answer->sections[i].candidates[c]);
	for (guint i = 0; i < s->remote_candidates->len; i++)
		tb_transport_add_remote_candidate(s->transport, s->remote_candidates->pdata[i]);
	g_ptr_array_set_size(s->remote_candidates, 0);
	load_release_candidates(s);
out:
	g_clear_error(&error);
	tb_sdp_desc_free(answer);
}

void load_publisher_connected(session *s)
{
	load *app = s->app;

	print_line(json_pack("{s:f}", "connected_ms", ms_since(s->t_join_sent, s->t_connected)),
		   "publishing");
	s->t_media_start = s->t_connected;
	for (int k = 0; k < PUB_LAYERS; k++)
		s->layer_key[k] = true;
	/* The subscribers join once every publisher's media flows. */
	if (++app->pubs_connected == app->n_pubs)
		start_joins(app);
}

void load_publisher_rtcp(session *s, const tb_rtcp_packet *pkt)
{
	tb_rtcp_fb fb;
	int64_t now;
	uint32_t target;
	int layer = 0;

	if (tb_rtcp_parse_pli(pkt, &fb) < 0 && tb_rtcp_parse_fir(pkt, &fb) < 0)
		return;
	now = now_us();
	/* FIR names its SSRC in the entry, PLI in the header. */
	target = fb.media_ssrc;
	if (pkt->count == 4 && tb_rtcp_fir_count(&fb) > 0) {
		tb_rtcp_fir_entry e;
		tb_rtcp_fir_entry_at(&fb, 0, &e);
		target = e.ssrc;
	}
	for (int k = 0; k < PUB_LAYERS; k++)
		if (s->layer_ssrc[k] == target)
			layer = k;
	s->keyframe_requests++;
	if (s->layer_last_request[layer] &&
	    now - s->layer_last_request[layer] < (int64_t)s->app->keyframe_min_ms * 1000) {
		s->requests_dropped++;
		return;
	}
	s->layer_last_request[layer] = now;
	s->layer_key[layer] = true;
}
