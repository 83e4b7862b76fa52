/* load.h — what tribu-load.c (subscribers' media, reports, tribud's
 * signaling), load-publisher.c (the synthetic publishers) and load-janus.c
 * (Janus VideoRoom signaling) share.
 *
 * One process, one thread (the GLib main loop on the default context): the
 * sessions, their transports and their WebSockets all live there.
 *
 * The signaling modules only move SDP and candidates; everything about
 * media (transports, counting, the answer, the publishers' offers and
 * packets) is in tribu-load.c and load-publisher.c, so that both servers
 * get identical clients.
 */
#ifndef TB_BENCH_LOAD_H
#define TB_BENCH_LOAD_H

#include <gst/sdp/sdp.h>
#include <jansson.h>
#include <libsoup/soup.h>
#include <stdbool.h>
#include <stdint.h>

#include "rtcp.h"
#include "sdp.h"
#include "transport.h"

#define MAX_STREAMS         128 /* SSRCs received per session (a workshop: 50 audio + videos) */
#define PUB_LAYERS          3   /* simulcast layers of a synthetic publisher's video */
#define PUB_KEYFRAME_MIN_MS 300 /* libwebrtc's kMinKeyframeSendIntervalMs (the default) */

typedef struct load load;

/* One received SSRC. Sequence numbers are extended to 32 bits; the first
 * one starts at 65536 so that a packet reordered before it stays positive. */
typedef struct stream {
	uint32_t ssrc;
	tb_sdp_kind kind;
	bool vp8;
	bool started;
	uint32_t first_ext, max_ext;
	uint64_t packets, bytes, duplicates;
	tb_rtcp_rx_stats rx;
} stream;

/* One signaling connection and its PeerConnection: a subscriber, or a
 * synthetic publisher. */
typedef struct session {
	load *app;
	unsigned index;
	char *user;
	SoupWebsocketConnection *ws;
	tb_transport *transport;
	GPtrArray *local_candidates; /* char*, held until the first answer is sent */
	bool local_done;             /* gathering over (end-of-candidates held or sent) */
	bool answered;
	GPtrArray *remote_candidates; /* char* (NULL: end), held until the transport exists */
	json_int_t next_id;
	uint32_t rtcp_ssrc;
	/* what the last offer said: SSRC → kind, codec */
	struct {
		uint32_t ssrc;
		tb_sdp_kind kind;
		bool vp8;
	} offered[MAX_STREAMS];
	size_t n_offered;
	stream streams[MAX_STREAMS];
	size_t n_streams;
	uint64_t unknown_ssrc;
	unsigned offers;
	/* synthetic publisher only */
	bool publisher;
	json_int_t publish_id;
	json_int_t stats_id; /* last "stats" request (server's view of our PCs) */
	uint32_t video_ssrc, audio_ssrc;
	uint16_t audio_seq;
	/* video layer 0 (low) .. PUB_LAYERS-1 (--simulcast); without simulcast
	 * only layer 0, whose SSRC is video_ssrc */
	uint32_t layer_ssrc[PUB_LAYERS];
	uint16_t layer_seq[PUB_LAYERS], layer_pid[PUB_LAYERS];
	bool layer_key[PUB_LAYERS];             /* a key frame is due */
	int64_t layer_last_request[PUB_LAYERS]; /* last key frame request honoured */
	bool speaking;                          /* else Opus DTX (--speakers) */
	uint32_t video_ts0, audio_ts0;
	int64_t t_media_start;
	uint64_t frames, audio_frames, keyframes, keyframe_requests, requests_dropped;
	uint64_t sent_packets, sent_bytes;
	/* monotonic µs; 0: not yet */
	int64_t t_join_sent, t_joined, t_offer, t_connected, t_first_rtp, t_first_video, t_keyframe;
	const char *srtp_profile;
	char *error; /* first failure, or NULL */
	/* Janus VideoRoom signaling only (load-janus.c) */
	json_int_t janus_session, janus_handle;
	unsigned janus_tx; /* last transaction number */
	int janus_step;    /* where the handshake is (load-janus.c) */
} session;

struct load {
	GMainLoop *loop;
	SoupSession *session;
	tb_dtls_identity *identity;
	char *url;
	char *secret;
	char *room;
	char *kind;
	char *name_prefix;
	unsigned n;
	unsigned publish_kbps;
	unsigned keyframe_min_ms; /* synthetic publisher: key frame requests dropped within */
	session *pub;             /* the first of PUBS, or NULL */
	session *pubs;            /* N_PUBS synthetic publishers (--publishers) */
	unsigned n_pubs;
	unsigned pubs_connected;
	bool simulcast;    /* publishers send PUB_LAYERS layers */
	unsigned speakers; /* publishers 0..speakers-1 talk */
	unsigned join_interval_ms;
	unsigned duration_s;
	bool verbose;
	/* the server's signaling: tribud's (docs/protocol.md) or Janus's VideoRoom */
	bool janus;
	bool participant;       /* --participant: one workshop participant */
	bool subscribe_on_usr2; /* joins wait for SIGUSR2 */
	bool usr2;              /* SIGUSR2 came */
	json_int_t janus_room;  /* room id */
	json_int_t janus_feed;  /* our synthetic publisher's feed id */
	unsigned janus_feeds;   /* subscribers take feeds 1..janus_feeds, never our own */
	session *subs;
	unsigned started;
	bool joins_started;
	int64_t t_start;
	int exit_status;
};

static inline int64_t now_us(void)
{
	return g_get_monotonic_time();
}

/* Milliseconds from FROM to TO (monotonic µs), or -1 when either is 0. */
static inline double ms_since(int64_t from, int64_t to)
{
	return from && to ? (double)(to - from) / 1000.0 : -1.0;
}

/* ---- tribu-load.c, for the signaling modules ---- */

/* Records S's first failure (printed to stderr, kept for the report). */
void fail(session *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Prints OBJ (reference stolen) as one JSON line of type TYPE on stdout. */
void print_line(json_t *obj, const char *type);

/* Starts the subscribers' joins (once; later calls do nothing). */
void start_joins(load *app);

/* Adds "a=KEY:VALUE" (VALUE from FMT) to M. */
void add_attr(GstSDPMedia *m, const char *key, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* A new transport for S on the default context with our callbacks (ICE
 * CONTROLLING or not; NAME for its logs). Transfer full, or NULL with
 * ERROR set. */
tb_transport *load_transport_new(session *s, bool controlling, const char *name, GError **error);

/* Takes the server's subscriber offer SDP for S: makes S's transport the
 * first time (ICE CONTROLLING or not), applies credentials, fingerprint and
 * candidates, notes the offered SSRCs. Returns our recvonly answer
 * (transfer full, g_free) or NULL after fail(). */
char *load_answer_offer(session *s, const char *sdp, bool controlling);

/* A candidate line from the server (held until S has a transport). */
void load_add_remote_candidate(session *s, const char *line);

/* Once the description is sent: sends the local candidates held so far
 * and lets later ones go out as they come. */
void load_release_candidates(session *s);

/* ---- load-publisher.c: the synthetic publishers ---- */

/* Our offer for the synthetic publisher S (sendonly VP8 + Opus, a=ssrc;
 * with app->simulcast three video SSRCs in an a=ssrc-group:SIM), after
 * making its transport (controlling) and drawing its SSRCs, sequence
 * numbers and picture ids. Transfer full, or NULL after fail(). */
char *load_publish_offer(session *s);

/* Applies the server's answer SDP to the publisher S's transport. */
void load_apply_publish_answer(session *s, const char *sdp);

/* The publisher S's transport is connected: prints the "publishing" line,
 * starts its media with a key frame on every layer, and starts the
 * subscribers' joins once every publisher is there. */
void load_publisher_connected(session *s);

/* One RTCP packet from the server to the publisher S: a PLI or FIR asks
 * the layer it names for a key frame (dropped within app->keyframe_min_ms
 * of the last one honoured on that layer); other packets are ignored. */
void load_publisher_rtcp(session *s, const tb_rtcp_packet *pkt);

/* Timer (every PUB_TICK_MS): each connected publisher of APP sends every
 * frame due since its media started; a late tick catches up. */
gboolean load_publish_tick(gpointer app);

#define PUB_TICK_MS 5

/* ---- load-janus.c: Janus VideoRoom API over WebSocket ("janus-protocol") ---- */

/* The WebSocket of S is open: creates a Janus session, attaches the
 * VideoRoom plugin, then joins as publisher (and configures with our offer)
 * or as subscriber of app->janus_feeds feeds (and answers Janus's offer). */
void janus_connected(session *s);

/* One message from Janus for S. */
void janus_message(session *s, json_t *msg);

/* Trickles one local candidate of S (NULL: gathering is over). */
void janus_send_candidate(session *s, const char *candidate);

/* Keeps every open Janus session of APP alive (call every few seconds). */
gboolean janus_keepalive(gpointer app);

#endif
