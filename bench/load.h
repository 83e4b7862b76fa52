/* load.h — what tribu-load.c (media, synthetic publisher, reports, tribud's
 * signaling) shares with load-janus.c (Janus VideoRoom signaling).
 *
 * One process, one thread (the GLib main loop on the default context): the
 * sessions, their transports and their WebSockets all live there.
 *
 * The signaling modules only move SDP and candidates; everything about
 * media (transports, counting, the answer, the publisher's offer) is in
 * tribu-load.c, so that both servers get identical clients.
 */
#ifndef TB_BENCH_LOAD_H
#define TB_BENCH_LOAD_H

#include <jansson.h>
#include <libsoup/soup.h>
#include <stdbool.h>
#include <stdint.h>

#include "rtcp.h"
#include "sdp.h"
#include "transport.h"

#define MAX_STREAMS 32 /* SSRCs received per session */

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

/* One signaling connection and its PeerConnection: a subscriber, or the
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
	uint16_t video_seq, audio_seq, picture_id;
	uint32_t video_ts0, audio_ts0;
	int64_t t_media_start, t_last_request;
	uint64_t frames, audio_frames, keyframes, keyframe_requests, requests_dropped;
	uint64_t sent_packets, sent_bytes;
	bool want_keyframe;
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
	session *pub;
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

/* ---- tribu-load.c, for the signaling modules ---- */

/* Records S's first failure (printed to stderr, kept for the report). */
void fail(session *s, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Prints OBJ (reference stolen) as one JSON line of type TYPE on stdout. */
void print_line(json_t *obj, const char *type);

/* Starts the subscribers' joins (once; later calls do nothing). */
void start_joins(load *app);

/* Takes the server's subscriber offer SDP for S: makes S's transport the
 * first time (ICE CONTROLLING or not), applies credentials, fingerprint and
 * candidates, notes the offered SSRCs. Returns our recvonly answer
 * (transfer full, g_free) or NULL after fail(). */
char *load_answer_offer(session *s, const char *sdp, bool controlling);

/* Our offer for the synthetic publisher S (sendonly VP8 + Opus, a=ssrc),
 * after making its transport (controlling). Transfer full, or NULL after
 * fail(). */
char *load_publish_offer(session *s);

/* Applies the server's answer SDP to the publisher S's transport. */
void load_apply_publish_answer(session *s, const char *sdp);

/* A candidate line from the server (held until S has a transport). */
void load_add_remote_candidate(session *s, const char *line);

/* Once the description is sent: sends the local candidates held so far
 * and lets later ones go out as they come. */
void load_release_candidates(session *s);

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
