/* router.h — the SFU of one room: publishers' tracks fanned out to
 * subscribers.
 *
 * A router holds one peer per participant. A peer has up to two transports
 * (PeerConnections): publish (the client offers its tracks, the router
 * answers) and subscribe (the router offers the tracks the peer receives,
 * the client answers). Each publisher packet is decrypted once, then for
 * every subscriber its SSRC, payload type, sequence number, timestamp and
 * header-extension ids are rewritten and it is encrypted for that
 * subscriber. RTCP: keyframe requests (PLI/FIR) are relayed to publishers
 * (throttled), NACKs are answered from a per-track packet cache, SRs are
 * rewritten for subscribers, and the router sends RR + REMB to publishers.
 * A subscriber's video starts from the same cache when it holds a short
 * group of pictures (keyframe onwards): no keyframe wait at join.
 *
 * Threads: a router and its peers live on one media worker (the thread
 * running CTX): every function and callback here runs there. No locks.
 *
 * Not here: who subscribes to what (rooms/ decides), signaling.
 */
#ifndef TB_MEDIA_ROUTER_H
#define TB_MEDIA_ROUTER_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "dtls.h"
#include "ice.h"
#include "sdp.h"
#include "simulcast.h"
#include "transport.h"

G_BEGIN_DECLS

typedef struct tb_router tb_router;
typedef struct tb_router_peer tb_router_peer;

typedef enum tb_pc_kind {
	TB_PC_PUBLISH = 0,
	TB_PC_SUBSCRIBE,
} tb_pc_kind;

const char *tb_pc_kind_to_string(tb_pc_kind pc);

/* What a tap needs to know of a published track. */
typedef struct tb_router_track_codec {
	const char *track_id;
	tb_sdp_kind kind;
	const char *codec; /* "opus", "VP8", ... */
	uint32_t clock_rate;
	uint8_t payload_type;
	bool muted; /* not forwarded: the recorder keeps time, not content */
} tb_router_track_codec;

#define TB_ROUTER_LEVEL_INTERVAL_MS 250

/* One peer's audio level over the last interval. */
typedef struct tb_router_audio_level {
	const char *participant_id;
	uint8_t level; /* -dBov (RFC 6464): 0 loudest .. 127 silence; the mean of the
			* interval's packets, 127 when none carried a level */
	bool muted;    /* its audio is not forwarded (any mute reason) */
} tb_router_audio_level;

typedef struct tb_router_callbacks {
	/* A local candidate of PEER's PC, or NULL: end of candidates. */
	void (*candidate)(void *user_data, tb_router_peer *peer, tb_pc_kind pc,
			  const char *candidate);
	/* PEER's PC changed state (REASON for failures). */
	void (*state)(void *user_data, tb_router_peer *peer, tb_pc_kind pc,
		      tb_transport_state state, const char *reason);
	/* Nullable. A decrypted publisher packet of PEER's track TRACK, as
	 * received (RTX restored): for recording. Muted tracks are tapped too,
	 * with TRACK->muted set, so that a recording can keep its timeline
	 * (silence) without their content. BUF is valid during the call only.
	 * Per packet: no log. */
	void (*media_tap)(void *user_data, tb_router_peer *peer, const tb_router_track_codec *track,
			  const uint8_t *buf, size_t len);
	/* Nullable. Every TB_ROUTER_LEVEL_INTERVAL_MS: the audio level of each
	 * peer that publishes audio with the RFC 6464 extension (N >= 1
	 * entries; LEVELS valid during the call only). INTERVAL_MS is the time
	 * the levels cover. */
	void (*audio_levels)(void *user_data, const tb_router_audio_level *levels, size_t n,
			     unsigned interval_ms);
} tb_router_callbacks;

/* Why a peer's tracks of one kind are not forwarded. Each holder sets and
 * clears its own bit; a track is forwarded only when no bit is set, so
 * unmuting oneself does not lift a mute the room imposed. */
typedef enum tb_router_mute_reason {
	TB_ROUTER_MUTE_SELF = 1 << 0,   /* the participant's own mute */
	TB_ROUTER_MUTE_FORCED = 1 << 1, /* the room's: facilitator, exercise, reading order */
} tb_router_mute_reason;

/* A track a peer publishes, as the publish negotiation found it. */
typedef struct tb_router_track {
	char track_id[TB_SDP_MAX_ID_LEN + 2]; /* stable per peer: the publish mid */
	char mid[TB_SDP_MAX_ID_LEN + 1];
	tb_sdp_kind kind;
	bool active; /* the client sends it */
} tb_router_track;

/* One track PEER should receive: publisher participant id + track id, and
 * for video the simulcast quality the layout wants (the layer actually
 * sent is also capped by the subscriber's bandwidth estimate; a publisher
 * without simulcast sends its one layer whatever is asked). */
typedef struct tb_router_subscription {
	const char *publisher_id;
	const char *track_id;
	tb_simulcast_quality quality;
} tb_router_subscription;

/* One line of the subscriber's track map. */
typedef struct tb_router_mapping {
	char mid[16];
	char publisher_id[64];
	char track_id[TB_SDP_MAX_ID_LEN + 2];
	tb_sdp_kind kind;
} tb_router_mapping;

/* Makes a router on CTX (the worker's thread-default context). IDENTITY
 * (ref taken) signs DTLS; ICE_CONFIG is copied (its strings must outlive
 * the router). Worker thread. */
tb_router *tb_router_new(GMainContext *ctx, tb_dtls_identity *identity,
			 const tb_ice_config *ice_config, const char *name,
			 const tb_router_callbacks *cb, void *user_data);
/* Frees every peer (no callbacks) and the router. NULL is ignored. */
void tb_router_free(tb_router *router);

/* Adds a peer for PARTICIPANT_ID (copied). USER_DATA comes back with it. */
tb_router_peer *tb_router_peer_new(tb_router *router, const char *participant_id, void *user_data);
tb_router_peer *tb_router_find_peer(tb_router *router, const char *participant_id);
void *tb_router_peer_user_data(const tb_router_peer *peer);
const char *tb_router_peer_id(const tb_router_peer *peer);
/* Closes PEER's transports and stops every forwarding from or to it, then
 * frees it. Subscribers of its tracks get nothing more from them. */
void tb_router_peer_free(tb_router_peer *peer);

/* Answers PEER's publish OFFER (first or renegotiation). Sets *ANSWER
 * (transfer full) and *TRACKS (transfer full, element tb_router_track: every
 * track the peer publishes now). Returns 0, or TB_EINVAL with ERROR (bad
 * offer: nothing usable, fingerprint or role changed, ...). */
int tb_router_publish(tb_router_peer *peer, const tb_sdp_desc *offer, char **answer,
		      GArray **tracks, GError **error);

/* Stops everything PEER publishes (the publish PC stays open). */
void tb_router_unpublish(tb_router_peer *peer);

/* Sets what PEER receives and makes the subscriber offer for it, numbered
 * VERSION. Tracks no longer wanted keep their section, inactive (paused),
 * and a later subscription of the same kind reuses it. Sets
 * *OFFER (transfer full) and *MAP (transfer full, tb_router_mapping of the
 * active sections). Returns 0 or TB_EINVAL with ERROR. */
int tb_router_subscribe(tb_router_peer *peer, const tb_router_subscription *subs, size_t n,
			uint64_t version, char **offer, GArray **map, GError **error);

/* Sets the quality PEER wants of the N subscriptions of SUBS it has now
 * (others are ignored), without a new offer: a layout change. */
void tb_router_set_qualities(tb_router_peer *peer, const tb_router_subscription *subs, size_t n);

/* Applies PEER's answer to the last subscriber offer. Returns 0 or
 * TB_EINVAL with ERROR. */
int tb_router_subscriber_answer(tb_router_peer *peer, const tb_sdp_desc *answer, GError **error);

/* Adds a trickled candidate to PEER's PC (queued until the PC exists);
 * NULL or "" is end-of-candidates. Returns 0 or TB_EINVAL. */
int tb_router_add_candidate(tb_router_peer *peer, tb_pc_kind pc, const char *candidate);

/* Sets or clears REASON for PEER's tracks of KIND (AUDIO or VIDEO; also
 * for tracks published later). Forwarding stops while any reason is set;
 * when the last one clears, it resumes contiguous (the subscribers'
 * sequence numbers and timestamps are re-based) and, for video, at a
 * keyframe (one is requested). */
void tb_router_set_mute(tb_router_peer *peer, tb_sdp_kind kind, tb_router_mute_reason reason,
			bool muted);
/* tb_router_set_mute with TB_ROUTER_MUTE_SELF. */
void tb_router_set_muted(tb_router_peer *peer, tb_sdp_kind kind, bool muted);

/* Asks PEER for a keyframe of its track TRACK_ID (throttled like every
 * keyframe request). */
void tb_router_request_keyframe(tb_router_peer *peer, const char *track_id);

/* Returns PEER's counters as a new JSON object (transfer full):
 * {publish: {...}, subscribe: {...}}. */
json_t *tb_router_peer_stats(tb_router_peer *peer);

/* The mid and m-line index of the BUNDLE-tagged section of PEER's PC, for
 * trickled candidates. Returns false when not negotiated yet. */
bool tb_router_peer_bundle_tag(const tb_router_peer *peer, tb_pc_kind pc, char *mid, size_t mid_len,
			       int *index);

/* Totals over the router's life, for /metrics. */
typedef struct tb_router_totals {
	uint64_t rtp_in, rtp_forwarded, rtp_dropped, nacks, retransmissions, plis_sent;
	uint64_t gop_replays;   /* video starts served from the cache (fast start) */
	uint64_t srtp_replayed; /* SRTP/SRTCP from peers refused as replayed */
} tb_router_totals;
void tb_router_get_totals(const tb_router *router, tb_router_totals *out);
/* Sums over every router of the process, up to a second old. Any thread. */
void tb_router_global_totals(tb_router_totals *out);

G_END_DECLS

#endif
