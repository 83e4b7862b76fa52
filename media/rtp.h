/* rtp.h — RTP packet views, in-place header rewrites, RFC 8285 header
 * extensions and codec payload inspection (VP8, VP9, H.264).
 *
 * Every function here is pure: it reads or writes only the buffer it is
 * given, allocates nothing, logs nothing and may be called from any thread.
 * Input is treated as hostile: parsers bounds-check every byte and return
 * TB_EINVAL (or false) rather than read past LEN.
 *
 * Not here: SRTP (media/srtp.c), RTCP (media/rtcp.h), deciding what to do
 * with a packet (media/forward.c).
 */
#ifndef TB_MEDIA_RTP_H
#define TB_MEDIA_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TB_RTP_VERSION          2
#define TB_RTP_FIXED_HEADER_LEN 12

/* Header extension profiles (RFC 8285 §4.2, §4.3). */
#define TB_RTP_EXT_PROFILE_ONE_BYTE 0xBEDE
#define TB_RTP_EXT_PROFILE_TWO_BYTE 0x1000 /* low 4 bits are "appbits" */

/* A view of one RTP packet's header. Offsets are from the start of the
 * buffer that was parsed; the view stays valid as long as that buffer is not
 * resized (the in-place setters below keep it valid). */
typedef struct tb_rtp_header {
	uint8_t version;      /* always 2 after a successful parse */
	bool padding;         /* P bit */
	bool extension;       /* X bit */
	uint8_t csrc_count;   /* CC, 0..15 */
	bool marker;          /* M bit */
	uint8_t payload_type; /* 0..127 */
	uint16_t seq;
	uint32_t timestamp;
	uint32_t ssrc;
	size_t header_len;     /* fixed header + CSRCs + extension block */
	uint16_t ext_profile;  /* "defined by profile" field; 0 when !extension */
	size_t ext_offset;     /* first byte of extension data (after its 4-byte header) */
	size_t ext_len;        /* bytes of extension data (4 * the length field) */
	size_t payload_offset; /* == header_len */
	size_t payload_len;    /* payload bytes, padding removed */
	uint8_t padding_len;   /* padding bytes at the end (0 when !padding) */
} tb_rtp_header;

/* Parses the RTP header of BUF[0..LEN) into OUT.
 * Returns 0, or TB_EINVAL when: LEN < 12, version != 2, the CSRC list or the
 * extension block runs past LEN, or the P bit is set with a padding count of
 * 0 or larger than what follows the header. OUT is undefined on error.
 * BUF, OUT: transfer none, not NULL (BUF may be NULL when LEN is 0). Any thread. */
int tb_rtp_parse(const uint8_t *buf, size_t len, tb_rtp_header *out);

/* In-place setters for a packet of LEN bytes. Each returns 0, or TB_EINVAL
 * when LEN < 12 (or, for the payload type, PT > 127) and then writes nothing.
 * A tb_rtp_header parsed before is not updated. Any thread. */
int tb_rtp_set_payload_type(uint8_t *buf, size_t len, uint8_t pt);
int tb_rtp_set_seq(uint8_t *buf, size_t len, uint16_t seq);
int tb_rtp_set_timestamp(uint8_t *buf, size_t len, uint32_t timestamp);
int tb_rtp_set_ssrc(uint8_t *buf, size_t len, uint32_t ssrc);
int tb_rtp_set_marker(uint8_t *buf, size_t len, bool marker);

/* ---- RFC 8285 header extensions ---- */

typedef enum {
	TB_RTP_EXT_FORM_NONE = 0, /* no extension block, or a profile other than RFC 8285 */
	TB_RTP_EXT_FORM_ONE_BYTE, /* 0xBEDE: ids 1..14, 1..16 data bytes */
	TB_RTP_EXT_FORM_TWO_BYTE, /* 0x100X: ids 1..255, 0..255 data bytes */
} tb_rtp_ext_form;

/* Returns which RFC 8285 form HDR's extension block uses. Any thread. */
tb_rtp_ext_form tb_rtp_ext_form_of(const tb_rtp_header *hdr);

/* Iterator over the extension elements of one packet. Padding bytes (id 0)
 * are skipped; iteration stops at the end of the block, at a one-byte id 15,
 * or at an element that would run past the block (the rest is ignored). */
typedef struct tb_rtp_ext_iter {
	const uint8_t *block; /* extension data (after the 4-byte header) */
	size_t len;
	size_t pos;
	tb_rtp_ext_form form;
} tb_rtp_ext_iter;

/* Starts iterating the extensions of BUF, which HDR came from (tb_rtp_parse
 * on the same bytes: HDR's offsets are trusted). A packet without an RFC
 * 8285 block yields nothing. Any thread. */
void tb_rtp_ext_iter_init(tb_rtp_ext_iter *iter, const uint8_t *buf, const tb_rtp_header *hdr);

/* Returns true and sets *ID, *DATA (transfer none, points into the packet)
 * and *LEN to the next element; false at the end. Any thread. */
bool tb_rtp_ext_iter_next(tb_rtp_ext_iter *iter, uint8_t *id, const uint8_t **data, size_t *len);

/* Finds the first element with local id ID (1..255; 1..14 in the one-byte
 * form). Returns true and sets *DATA (transfer none, into BUF) and *LEN, or
 * false when absent. HDR must come from tb_rtp_parse of BUF. DATA and LEN
 * may be NULL. Any thread. */
bool tb_rtp_ext_find(const uint8_t *buf, const tb_rtp_header *hdr, uint8_t id, const uint8_t **data,
		     size_t *len);

/* tb_rtp_ext_find for a writable packet, so a value can be rewritten in place
 * (see the tb_rtp_ext_write_* functions). Any thread. */
static inline bool tb_rtp_ext_find_mut(uint8_t *buf, const tb_rtp_header *hdr, uint8_t id,
				       uint8_t **data, size_t *len)
{
	const uint8_t *found = NULL;
	bool ok = tb_rtp_ext_find(buf, hdr, id, &found, len);

	if (data)
		*data = (uint8_t *)found;
	return ok;
}

/* Rewrites every extension id in place: element id I becomes MAP[I]; when
 * MAP[I] is 0 the whole element (id/length bytes and data) is overwritten
 * with zero padding bytes, which RFC 8285 lets receivers skip. The packet
 * stays the same size and parses the same way. Bytes after a one-byte id 15
 * or after a truncated element are left as they are.
 * Returns 0 (also when the packet has no RFC 8285 block), or TB_EINVAL when
 * HDR's extension block does not fit in LEN or a one-byte element would get
 * an id above 14; nothing is written then. MAP: 256 entries, transfer none.
 * Any thread. */
int tb_rtp_ext_remap(uint8_t *buf, size_t len, const tb_rtp_header *hdr, const uint8_t map[256]);

/* Element readers. Each takes the element data from tb_rtp_ext_find and
 * returns 0 or TB_EINVAL when LEN is too short for the value. Any thread. */

/* RFC 6464 client-to-mixer audio level: *VOICE is the V bit, *LEVEL 0..127
 * is -dBov (0 loudest, 127 silence). */
int tb_rtp_ext_read_audio_level(const uint8_t *data, size_t len, bool *voice, uint8_t *level);
/* abs-send-time: 24-bit 6.18 fixed-point seconds. */
int tb_rtp_ext_read_abs_send_time(const uint8_t *data, size_t len, uint32_t *abs_send_time);
/* transport-wide-cc-01: 16-bit transport-wide sequence number. */
int tb_rtp_ext_read_transport_seq(const uint8_t *data, size_t len, uint16_t *seq);

/* Element writers, over the data of an existing element (tb_rtp_ext_find_mut).
 * Return 0 or TB_EINVAL when LEN is too short. Any thread. */
int tb_rtp_ext_write_abs_send_time(uint8_t *data, size_t len, uint32_t abs_send_time);
int tb_rtp_ext_write_transport_seq(uint8_t *data, size_t len, uint16_t seq);

/* Converts a time in microseconds to abs-send-time (6.18 fixed point,
 * wrapping every 64 s). Any thread. */
uint32_t tb_rtp_abs_send_time_from_us(uint64_t time_us);

/* ---- VP8 (RFC 7741) ---- */

typedef struct tb_vp8_descriptor {
	bool start;           /* S: first packet of a partition */
	bool non_reference;   /* N */
	uint8_t partition_id; /* PID, 0..7 */
	bool has_picture_id;  /* I */
	bool picture_id_15;   /* M: 15-bit picture id (else 7-bit) */
	uint16_t picture_id;
	bool has_tl0picidx; /* L */
	uint8_t tl0picidx;
	bool has_tid;             /* T */
	uint8_t tid;              /* 0..3 */
	bool layer_sync;          /* Y */
	bool has_keyidx;          /* K */
	uint8_t keyidx;           /* 0..31 */
	size_t picture_id_offset; /* offsets into the payload, valid when present */
	size_t tl0picidx_offset;
	size_t header_len; /* descriptor length: the VP8 payload starts here */
} tb_vp8_descriptor;

/* Parses the VP8 payload descriptor at the start of PAYLOAD[0..LEN).
 * Returns 0, or TB_EINVAL when the descriptor is truncated or no VP8 payload
 * byte follows it. Any thread. */
int tb_vp8_parse_descriptor(const uint8_t *payload, size_t len, tb_vp8_descriptor *out);

/* Returns true when PAYLOAD starts a VP8 key frame: a valid descriptor with
 * S = 1 and partition index 0, then a frame tag whose P bit is 0.
 * False on anything malformed. Any thread. */
bool tb_vp8_is_keyframe(const uint8_t *payload, size_t len);

/* Rewrite the picture id (kept at its wire width: 7 or 15 bits, the value is
 * masked to that width) or TL0PICIDX in place. Return 0, TB_EINVAL on a
 * malformed descriptor, TB_ENOENT when the field is absent. Any thread. */
int tb_vp8_set_picture_id(uint8_t *payload, size_t len, uint16_t picture_id);
int tb_vp8_set_tl0picidx(uint8_t *payload, size_t len, uint8_t tl0picidx);

/* ---- VP9 (RFC 9628, formerly draft-ietf-payload-vp9) ---- */

typedef struct tb_vp9_descriptor {
	bool inter_picture;  /* P: the frame is inter-picture predicted */
	bool flexible;       /* F */
	bool begin;          /* B: first packet of a layer frame */
	bool end;            /* E */
	bool has_ss;         /* V: scalability structure present */
	bool not_reference;  /* Z */
	bool has_picture_id; /* I */
	bool picture_id_15;  /* M */
	uint16_t picture_id;
	bool has_layers;    /* L */
	uint8_t tid;        /* 0..7 */
	bool switching_up;  /* U */
	uint8_t sid;        /* 0..7 */
	bool inter_layer;   /* D */
	bool has_tl0picidx; /* non-flexible mode with L */
	uint8_t tl0picidx;
	uint8_t num_ref_pics; /* flexible mode P_DIFF count, 0..3 */
	uint8_t p_diff[3];
	size_t picture_id_offset;
	size_t tl0picidx_offset;
	size_t header_len; /* descriptor length, SS included */
} tb_vp9_descriptor;

/* Parses the VP9 payload descriptor (including a scalability structure,
 * which is skipped after validation). Returns 0 or TB_EINVAL when truncated
 * or when no payload byte follows. Any thread. */
int tb_vp9_parse_descriptor(const uint8_t *payload, size_t len, tb_vp9_descriptor *out);

/* Returns true when PAYLOAD begins a VP9 key frame: a valid descriptor with
 * P = 0 and B = 1 and, when layer indices are present, spatial layer 0.
 * Any thread. */
bool tb_vp9_is_keyframe(const uint8_t *payload, size_t len);

/* Rewrite the VP9 picture id (at its wire width) or TL0PICIDX in place.
 * Return 0, TB_EINVAL on a malformed descriptor, TB_ENOENT when absent. */
int tb_vp9_set_picture_id(uint8_t *payload, size_t len, uint16_t picture_id);
int tb_vp9_set_tl0picidx(uint8_t *payload, size_t len, uint8_t tl0picidx);

/* ---- H.264 (RFC 6184) ---- */

/* Returns true when PAYLOAD carries an IDR slice (NAL type 5) or an SPS
 * (type 7): as a single NAL unit, inside a STAP-A, or as the start of an
 * FU-A. Other packetizations (STAP-B, MTAP, FU-B) and malformed input give
 * false. Any thread. */
bool tb_h264_is_keyframe(const uint8_t *payload, size_t len);

#ifdef __cplusplus
}
#endif

#endif
