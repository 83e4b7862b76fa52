/* router-private.h — what router.c (negotiation, peers, stats) and
 * router-forward.c (the packet path and RTCP feedback) share.
 *
 * Worker thread only, like the router itself. Not a public header: only
 * media/router*.c include it.
 */
#ifndef TB_MEDIA_ROUTER_PRIVATE_H
#define TB_MEDIA_ROUTER_PRIVATE_H

#include "router.h"
#include "rtcp.h"
#include "rtp.h"
#include "simulcast.h"

#define MAX_PACKET          1500
#define OUT_CAP             (MAX_PACKET + TB_SRTP_MAX_TRAILER)
#define CACHE_SLOTS         512 /* video packets kept per layer for NACKs (~2 s at 1 Mbps) */
#define PLI_MIN_INTERVAL_US (300 * 1000)
#define RTCP_INTERVAL_MS    1000
#define REMB_BITRATE        2500000 /* what a publisher may send (bps) */
#define MAX_NACK_SEQS       128
/* Fast start: a subscriber's video may begin with the current group of
 * pictures from the cache (keyframe onwards) when it is at most this long
 * (the keyframe asked for at subscribe time is that old when ICE and DTLS
 * are up: 70 ms here, over a second under a sanitizer; the burst is at
 * most half the cache, which answers NACKs for it). */
#define GOP_REPLAY_MAX_PACKETS 256
#define GOP_REPLAY_MAX_MS      3000

typedef struct cached_packet {
	uint16_t seq;
	uint16_t len;
	bool used;
	uint8_t data[MAX_PACKET];
} cached_packet;

typedef struct sub_track sub_track;

/* One encoding of a published track: the only one without simulcast,
 * else one per rid (or per SSRC of an a=ssrc-group:SIM). */
typedef struct pub_layer {
	char rid[TB_SDP_MAX_ID_LEN + 1]; /* "" without rids */
	uint32_t ssrc;                   /* 0 until known */
	uint32_t rtx_ssrc;               /* 0: none (yet) */
	cached_packet *cache;            /* CACHE_SLOTS for video, NULL for audio */
	tb_rtcp_rx_stats rx;
	bool rx_started;
	int64_t last_pli_us;
	int64_t pli_pending_us; /* a request the throttle held back (its time); 0: none */
	bool have_highest;
	uint16_t highest_seq; /* for loss detection on the publisher's uplink */
	uint64_t tick_bytes;  /* since the last RTCP tick */
	uint32_t rate_bps;    /* measured each tick (retransmissions left out); 0: nothing lately */
	uint16_t width;       /* of its last VP8 keyframe; 0: unknown */
	uint64_t packets;
	/* The newest keyframe's first packet (unmuted since): where the
	 * current group of pictures starts in the cache. */
	bool gop_known;
	uint16_t gop_seq;
	uint32_t gop_ts;
	int64_t gop_at_us; /* when it arrived */
} pub_layer;

/* A track a peer publishes. */
typedef struct pub_track {
	tb_router_peer *owner;
	char track_id[TB_SDP_MAX_ID_LEN + 2];
	char mid[TB_SDP_MAX_ID_LEN + 1];
	tb_sdp_kind kind;
	bool active;
	bool muted;
	tb_sdp_codec_params codec; /* name/fmtp owned */
	tb_sdp_ext_ids ext;
	bool vp8;
	size_t n_layers; /* 1..TB_SIMULCAST_MAX_LAYERS */
	pub_layer layers[TB_SIMULCAST_MAX_LAYERS];
	uint8_t ext_map[256]; /* publisher id -> server id; 0: dropped */
	GPtrArray *subs;      /* sub_track* (not owned) */
	uint64_t packets, bytes, plis, nacks_sent, rtx_received;
	/* RFC 6464 levels of the current interval (audio): summed loudness
	 * (127 - level) and how many packets carried one. */
	uint32_t level_sum;
	uint32_t level_count;
} pub_track;

/* A track a peer receives: one section of its subscriber offer. */
struct sub_track {
	tb_router_peer *peer;
	pub_track *source; /* NULL when the source is gone or unsubscribed */
	char mid[16];
	char publisher_id[64];
	char track_id[TB_SDP_MAX_ID_LEN + 2];
	tb_sdp_kind kind;
	bool active; /* in the offer as a live section */
	bool paused; /* live section that carries nothing now: reusable */
	uint32_t ssrc;
	uint8_t pt;
	tb_sdp_codec_params codec;    /* name/fmtp owned */
	tb_simulcast_quality quality; /* what the layout wants of it */
	tb_stream_rewriter rw;
	uint64_t packets, bytes, nacks, retransmissions, plis;
};

struct tb_router_peer {
	tb_router *router;
	char *id;
	void *user_data;
	tb_transport *pub;
	tb_transport *sub;
	GPtrArray *pub_tracks; /* pub_track* (owned) */
	GPtrArray *sub_tracks; /* sub_track* (owned), in offer order */
	GPtrArray *pending[2]; /* candidates (char*) waiting for each PC */
	bool pending_end[2];
	unsigned next_mid;
	uint64_t session_id;
	uint64_t pub_version;
	uint32_t rtcp_ssrc;             /* sender SSRC of our RTCP to this peer */
	uint8_t mute_audio, mute_video; /* tb_router_mute_reason bits */
	uint32_t remb_bps;              /* the subscriber's estimate; 0: none yet */
	char *cname;
	char pub_tag[TB_SDP_MAX_ID_LEN + 1]; /* BUNDLE tag mid of the publish PC */
	int pub_tag_index;
};

struct tb_router {
	GMainContext *ctx;
	tb_dtls_identity *identity;
	tb_ice_config ice_config;
	char *name;
	tb_router_callbacks cb;
	void *user_data;
	GHashTable *peers; /* id -> tb_router_peer* (owned) */
	GSource *rtcp_timer;
	GSource *level_timer; /* NULL without an audio_levels callback */
	int64_t level_tick_us;
	tb_router_totals totals;
	tb_router_totals flushed; /* part of totals already added to global_totals */
	uint64_t replayed_gone; /* srtp_replayed of the transports already freed */
};

/* router-forward.c: transport callbacks of the packet path. USER_DATA is
 * the peer. */
void tb__router_publisher_rtp(void *user_data, uint8_t *buf, size_t len);
void tb__router_publisher_rtcp(void *user_data, uint8_t *buf, size_t len);
void tb__router_subscriber_rtcp(void *user_data, uint8_t *buf, size_t len);

/* Asks TRACK's publisher for a keyframe of layer LAYER, at most every
 * 300 ms per layer (FORCE: now, whatever the last one). A request the
 * throttle holds back is sent when the 300 ms are over, unless a keyframe
 * came after it (tb__router_publisher_rtp): every requester is served. */
void tb__router_request_keyframe(pub_track *track, int layer, bool force);

/* Fast start: when SUB's video has not started yet, sends it the current
 * group of pictures of LAYER from the cache (its keyframe and every packet
 * since, in order, through SUB's rewriter), so that it decodes now instead
 * of waiting for a new keyframe. Returns false, sending nothing, when that
 * group is unknown, incomplete, older than GOP_REPLAY_MAX_MS or longer than
 * GOP_REPLAY_MAX_PACKETS, or the source is muted. */
bool tb__router_replay_gop(sub_track *sub, int layer, int64_t now);

/* Every RTCP_INTERVAL_MS: layer bitrates, receiver reports and REMB to
 * PEER's publish PC. */
void tb__router_peer_rtcp_tick(tb_router_peer *peer, int64_t now_us);

/* Picks the layer each of PEER's video subscriptions should receive now
 * (its quality, capped by the peer's REMB) and asks for the keyframes a
 * switch needs. */
void tb__router_select_layers(tb_router_peer *peer);

#endif
