/* simulcast.h — per-subscriber stream rewriting and simulcast layer choice.
 *
 * A subscriber track is one continuous RTP stream (its own SSRC, sequence
 * numbers, timestamps and, for VP8, picture ids) whatever happens at the
 * source: mutes, source restarts, codec changes and switches between the
 * simulcast layers of a publisher. tb_stream_rewriter holds that state and
 * decides, packet by packet, what is forwarded; tb_simulcast_choose picks
 * the layer a subscriber should get.
 *
 * Pure: no allocation, no logging, no clock of its own (callers pass the
 * time), any thread (one rewriter is used by one thread).
 *
 * Not here: sending, SRTP, keyframe requests (the router acts on
 * TB_REWRITE_WANT_KEYFRAME), measuring layer bitrates (the router).
 */
#ifndef TB_MEDIA_SIMULCAST_H
#define TB_MEDIA_SIMULCAST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rtp.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TB_SIMULCAST_MAX_LAYERS 3

/* What a subscriber would like of one video track, before bandwidth. */
typedef enum tb_simulcast_quality {
	TB_SIMULCAST_LOW = 0,
	TB_SIMULCAST_MEDIUM = 1,
	TB_SIMULCAST_HIGH = 2,
} tb_simulcast_quality;

/* What the router knows of a publisher's layers: index I is the layer as
 * the publisher declared it (rid or SIM order). */
typedef struct tb_simulcast_layers {
	size_t n;                                   /* 1..TB_SIMULCAST_MAX_LAYERS */
	uint32_t rate_bps[TB_SIMULCAST_MAX_LAYERS]; /* measured; 0: not received lately */
	uint16_t width[TB_SIMULCAST_MAX_LAYERS];    /* of its last keyframe; 0: unknown */
} tb_simulcast_layers;

/* Sorts the live layers of LAYERS, lowest first, into ORDER (indexes into
 * LAYERS): by picture width when every live layer's is known (the
 * dependable order), else by measured bitrate. Returns how many are live (rate > 0); with
 * none live yet, returns LAYERS->n and the declared order. Any thread. */
size_t tb_simulcast_rank(const tb_simulcast_layers *layers, int order[TB_SIMULCAST_MAX_LAYERS]);

/* The layer index a subscriber should receive: the live layer of rank
 * WANTED (lowest, middle, highest; the nearest below when fewer layers are
 * live), lowered while its bitrate exceeds BUDGET_BPS (0: no limit). The
 * lowest live layer is the floor even when it exceeds the budget. Returns
 * -1 when LAYERS->n is 0. Any thread. */
int tb_simulcast_choose(const tb_simulcast_layers *layers, tb_simulcast_quality wanted,
			uint32_t budget_bps);

/* The picture width a VP8 keyframe payload (descriptor included) declares,
 * or 0 when PAYLOAD is not the start of a keyframe. Any thread. */
uint16_t tb_simulcast_vp8_width(const uint8_t *payload, size_t len);

/* What to do with one source packet. */
typedef enum tb_rewrite_action {
	TB_REWRITE_DROP = 0,      /* not for this subscriber (another layer) */
	TB_REWRITE_FORWARD,       /* OUT_SEQ/OUT_TS are set */
	TB_REWRITE_WANT_KEYFRAME, /* dropped: ask the source layer for a keyframe */
} tb_rewrite_action;

/* Output stream state of one subscriber track. Zero it (or call
 * tb_stream_rewriter_init) before use; the fields are read by the router
 * for SR rewriting and NACK answers. */
typedef struct tb_stream_rewriter {
	uint32_t clock_rate;
	bool video;
	bool started;       /* offsets valid */
	bool rebase;        /* recompute the offsets at the next forwarded packet */
	bool need_keyframe; /* video: forward nothing until a keyframe */
	int layer;          /* source layer forwarded now, -1: none yet */
	int target;         /* layer wanted; differs from LAYER until its keyframe */
	uint16_t seq_offset;
	uint32_t ts_offset;
	uint16_t base_seq; /* first output seq of the current offsets */
	uint16_t last_seq; /* highest output seq sent */
	uint32_t last_ts;
	int64_t last_sent_us;
	uint16_t first_seq; /* where the output starts (random in the router) */
	uint32_t first_ts;
	uint64_t forwarded; /* packets FORWARD was returned for */
	uint64_t switches;  /* layer changes made */
	/* VP8 picture id (15 bits) and TL0PICIDX continuity */
	bool vp8_started;
	uint16_t pid_offset;
	uint8_t tl0_offset;
	uint16_t last_pid;
	uint8_t last_tl0;
	bool vp8_rebase;
} tb_stream_rewriter;

/* Resets RW for a new stream whose first packet will be numbered
 * FIRST_SEQ / FIRST_TS. VIDEO streams start at a keyframe. */
void tb_stream_rewriter_init(tb_stream_rewriter *rw, uint32_t clock_rate, bool video,
			     uint16_t first_seq, uint32_t first_ts);

/* Sets the layer RW should forward. A change takes effect at the next
 * keyframe of that layer; until then the current layer keeps flowing.
 * Returns true when a keyframe of LAYER is needed. */
bool tb_stream_rewriter_set_target(tb_stream_rewriter *rw, int layer);

/* The source paused (mute, codec or source change): the next forwarded
 * packet continues the output contiguously and, for video, is a keyframe. */
void tb_stream_rewriter_restart(tb_stream_rewriter *rw);

/* Decides about a new (not retransmitted) packet HDR of source layer LAYER
 * at NOW_US. On TB_REWRITE_FORWARD sets *OUT_SEQ and *OUT_TS: sequence
 * numbers go on by one across a restart or a layer switch (no gap, no
 * duplicate) and the timestamp advances by the wall time since the last
 * packet sent. */
tb_rewrite_action tb_stream_rewrite(tb_stream_rewriter *rw, int layer, const tb_rtp_header *hdr,
				    bool keyframe, int64_t now_us, uint16_t *out_seq,
				    uint32_t *out_ts);

/* Output numbers for a retransmission of source packet HDR: returns false
 * when it was not sent under the current offsets (never resend a number
 * with other bytes). */
bool tb_stream_rewrite_retransmission(const tb_stream_rewriter *rw, const tb_rtp_header *hdr,
				      uint16_t *out_seq, uint32_t *out_ts);

/* Rewrites the VP8 picture id and TL0PICIDX of PAYLOAD (a forwarded copy)
 * so that they continue across restarts and layer switches. Call after a
 * TB_REWRITE_FORWARD, in order; RETRANSMISSION packets are mapped with the
 * current offsets without moving them. Returns 0 or TB_EINVAL (malformed:
 * left as is). */
int tb_stream_rewrite_vp8(tb_stream_rewriter *rw, uint8_t *payload, size_t len,
			  bool retransmission);

#ifdef __cplusplus
}
#endif

#endif
