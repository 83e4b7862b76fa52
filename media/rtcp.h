/* rtcp.h — RTCP compound packet iteration, parsers and builders for the
 * reports and feedback an SFU handles, in-place SSRC rewriting of feedback,
 * and per-source receiver statistics for report blocks.
 *
 * Pure functions over caller buffers: no allocation, no I/O, no logging;
 * callable from any thread (a tb_rtcp_rx_stats belongs to whoever updates
 * it, normally the media worker of its room). Input is hostile: parsers
 * bounds-check every byte and return TB_EINVAL instead of reading past it.
 *
 * Covers RFC 3550 (SR, RR, SDES, BYE), RFC 5506 (reduced-size RTCP: any
 * packet may come alone), RFC 4585 (generic NACK, PLI), RFC 5104 (FIR),
 * draft-alvestrand-rmcat-remb (REMB) and draft-holmer-rmcat-transport-wide-cc
 * (transport-cc header only). Not here: SRTCP (media/srtp.c), deciding when
 * to send what (media/forward.c and the transport).
 */
#ifndef TB_MEDIA_RTCP_H
#define TB_MEDIA_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Packet types (RFC 3550, RFC 4585). */
enum {
	TB_RTCP_SR = 200,
	TB_RTCP_RR = 201,
	TB_RTCP_SDES = 202,
	TB_RTCP_BYE = 203,
	TB_RTCP_APP = 204,
	TB_RTCP_RTPFB = 205, /* transport layer feedback */
	TB_RTCP_PSFB = 206,  /* payload-specific feedback */
};

/* Feedback message types (FMT, the header's count field). */
enum {
	TB_RTCP_RTPFB_NACK = 1,
	TB_RTCP_RTPFB_TWCC = 15,
	TB_RTCP_PSFB_PLI = 1,
	TB_RTCP_PSFB_FIR = 4,
	TB_RTCP_PSFB_AFB = 15, /* application layer feedback: REMB */
};

#define TB_RTCP_HEADER_LEN        4
#define TB_RTCP_MAX_REPORT_BLOCKS 31
#define TB_RTCP_REPORT_BLOCK_LEN  24

/* ---- compound packets ---- */

/* One RTCP packet inside a compound datagram. DATA and BODY point into the
 * buffer given to the iterator (transfer none). */
typedef struct tb_rtcp_packet {
	uint8_t type;        /* PT, 0..255 */
	uint8_t count;       /* RC / SC / FMT: the header's low 5 bits */
	bool padding;        /* P bit */
	size_t offset;       /* of the packet in the compound buffer */
	size_t len;          /* whole packet: 4 * (length field + 1) */
	const uint8_t *data; /* the packet, header included */
	const uint8_t *body; /* after the 4-byte header */
	size_t body_len;     /* padding removed */
} tb_rtcp_packet;

typedef struct tb_rtcp_iter {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	bool error;
} tb_rtcp_iter;

/* Starts iterating the compound packet BUF[0..LEN) (transfer none: BUF must
 * outlive the iterator). Any thread. */
void tb_rtcp_iter_init(tb_rtcp_iter *iter, const uint8_t *buf, size_t len);

/* Returns true and fills PKT with the next packet; false at the end of the
 * buffer or at the first malformed packet (version != 2, a length running
 * past the buffer, a header cut short, or a bad padding count), after which
 * iter->error is true and iteration stays stopped. Packets before the bad
 * one have already been returned: callers that need all-or-nothing run
 * tb_rtcp_validate first. Any thread. */
bool tb_rtcp_iter_next(tb_rtcp_iter *iter, tb_rtcp_packet *pkt);

/* Returns 0 if BUF[0..LEN) is a well-formed (possibly reduced-size)
 * compound packet of at least one RTCP packet whose lengths add up exactly,
 * else TB_EINVAL. Any thread. */
int tb_rtcp_validate(const uint8_t *buf, size_t len);

/* Reads the I-th 32-bit SSRC of a big-endian list (BYE, REMB) that a parser
 * below has bounds-checked. Any thread. */
static inline uint32_t tb_rtcp_ssrc_at(const uint8_t *list, size_t i)
{
	const uint8_t *p = list + 4 * i;

	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* ---- SR, RR ---- */

typedef struct tb_rtcp_report_block {
	uint32_t ssrc;            /* source this block reports on */
	uint8_t fraction_lost;    /* lost fraction since the last report, / 256 */
	int32_t cumulative_lost;  /* 24-bit signed: -8388608 .. 8388607 */
	uint32_t ext_highest_seq; /* cycles << 16 | highest sequence number */
	uint32_t jitter;          /* interarrival jitter, RTP timestamp units */
	uint32_t lsr;             /* middle 32 bits of the last SR's NTP time, 0: none */
	uint32_t dlsr;            /* delay since that SR, 1/65536 s */
} tb_rtcp_report_block;

typedef struct tb_rtcp_sender_info {
	uint32_t ssrc;
	uint64_t ntp_timestamp; /* 32.32 fixed point seconds since 1900 */
	uint32_t rtp_timestamp;
	uint32_t packet_count;
	uint32_t octet_count;
} tb_rtcp_sender_info;

typedef struct tb_rtcp_sr {
	tb_rtcp_sender_info info;
	uint8_t block_count;
	const uint8_t *blocks; /* block_count * 24 bytes: read with tb_rtcp_report_block_at */
} tb_rtcp_sr;

typedef struct tb_rtcp_rr {
	uint32_t ssrc; /* sender of the report */
	uint8_t block_count;
	const uint8_t *blocks;
} tb_rtcp_rr;

/* Parse an SR / RR packet. Return 0, or TB_EINVAL when PKT is not of that
 * type or too short for its report count. Profile extensions after the
 * blocks are ignored. Any thread. */
int tb_rtcp_parse_sr(const tb_rtcp_packet *pkt, tb_rtcp_sr *out);
int tb_rtcp_parse_rr(const tb_rtcp_packet *pkt, tb_rtcp_rr *out);

/* Decodes report block INDEX (< block_count) of a parsed SR or RR. */
void tb_rtcp_report_block_at(const uint8_t *blocks, size_t index, tb_rtcp_report_block *out);

/* ---- SDES ---- */

typedef struct tb_rtcp_sdes_iter {
	const uint8_t *body;
	size_t len;
	size_t pos;
	unsigned chunks_left;
	uint32_t ssrc;
	bool in_chunk;
	bool error;
} tb_rtcp_sdes_iter;

/* Starts walking the items of an SDES packet (PKT must outlive the walk).
 * Any thread. */
void tb_rtcp_sdes_iter_init(tb_rtcp_sdes_iter *iter, const tb_rtcp_packet *pkt);

/* Returns true with the next item: its chunk's *SSRC, *TYPE (1 CNAME, 2 NAME,
 * ...) and *TEXT (transfer none, not NUL-terminated) of *TEXT_LEN bytes.
 * Returns false at the end, or on a malformed chunk with iter->error set.
 * Any thread. */
bool tb_rtcp_sdes_iter_next(tb_rtcp_sdes_iter *iter, uint32_t *ssrc, uint8_t *type,
			    const uint8_t **text, size_t *text_len);

/* ---- BYE ---- */

typedef struct tb_rtcp_bye {
	uint8_t ssrc_count;
	const uint8_t *ssrcs;  /* tb_rtcp_ssrc_at(ssrcs, i) */
	const uint8_t *reason; /* NULL when absent; not NUL-terminated */
	size_t reason_len;
} tb_rtcp_bye;

/* Returns 0 or TB_EINVAL (not a BYE, SSRC list or reason past the end). */
int tb_rtcp_parse_bye(const tb_rtcp_packet *pkt, tb_rtcp_bye *out);

/* ---- feedback (RFC 4585 §6.1 common format) ---- */

typedef struct tb_rtcp_fb {
	uint8_t type; /* TB_RTCP_RTPFB or TB_RTCP_PSFB */
	uint8_t fmt;
	uint32_t sender_ssrc;
	uint32_t media_ssrc;
	const uint8_t *fci; /* feedback control information (transfer none) */
	size_t fci_len;
} tb_rtcp_fb;

/* Parses any RTPFB/PSFB packet. Returns 0 or TB_EINVAL (another type, or
 * shorter than the two SSRCs). Any thread. */
int tb_rtcp_parse_fb(const tb_rtcp_packet *pkt, tb_rtcp_fb *out);

/* Parses a PLI (PSFB, FMT 1). Returns 0 or TB_EINVAL. */
int tb_rtcp_parse_pli(const tb_rtcp_packet *pkt, tb_rtcp_fb *out);

/* Parses a generic NACK (RTPFB, FMT 1) with at least one PID+BLP entry.
 * Returns 0 or TB_EINVAL. Expand it with the two functions below. */
int tb_rtcp_parse_nack(const tb_rtcp_packet *pkt, tb_rtcp_fb *out);

typedef void (*tb_rtcp_nack_func)(uint16_t seq, void *user_data);

/* Calls FUNC for every sequence number a parsed NACK asks for, in wire
 * order: each PID, then the BLP bits from least significant (PID+1) up.
 * Any thread; FUNC runs synchronously. */
void tb_rtcp_nack_foreach(const tb_rtcp_fb *nack, tb_rtcp_nack_func func, void *user_data);

/* Writes the sequence numbers of a parsed NACK into SEQS[0..CAP) and their
 * number into *N. Returns 0, or TB_EFULL when there were more than CAP
 * (then the first CAP are written and *N == CAP). Any thread. */
int tb_rtcp_nack_expand(const tb_rtcp_fb *nack, uint16_t *seqs, size_t cap, size_t *n);

typedef struct tb_rtcp_twcc {
	uint32_t sender_ssrc;
	uint32_t media_ssrc;
	uint16_t base_seq;
	uint16_t status_count;
	int32_t reference_time; /* 24-bit signed, multiples of 64 ms */
	uint8_t fb_count;       /* feedback packet count */
	const uint8_t *fci;     /* whole FCI, for a full decoder later */
	size_t fci_len;
} tb_rtcp_twcc;

/* Parses the fixed part of a transport-cc feedback (RTPFB, FMT 15); the
 * packet chunks and deltas are not decoded. Returns 0 or TB_EINVAL. */
int tb_rtcp_parse_twcc(const tb_rtcp_packet *pkt, tb_rtcp_twcc *out);

typedef struct tb_rtcp_fir_entry {
	uint32_t ssrc; /* the media sender asked for a key frame */
	uint8_t seq;   /* command sequence number; repeats are the same request */
} tb_rtcp_fir_entry;

/* Parses a FIR (PSFB, FMT 4) with at least one entry. Returns 0 or
 * TB_EINVAL. The entries: tb_rtcp_fir_count and tb_rtcp_fir_entry_at. */
int tb_rtcp_parse_fir(const tb_rtcp_packet *pkt, tb_rtcp_fb *out);

static inline size_t tb_rtcp_fir_count(const tb_rtcp_fb *fir)
{
	return fir->fci_len / 8;
}

/* Decodes entry INDEX (< tb_rtcp_fir_count) of a parsed FIR. */
void tb_rtcp_fir_entry_at(const tb_rtcp_fb *fir, size_t index, tb_rtcp_fir_entry *out);

typedef struct tb_rtcp_remb {
	uint32_t sender_ssrc;
	uint64_t bitrate;  /* bits per second: mantissa << exponent */
	uint8_t exponent;  /* 0..63 */
	uint32_t mantissa; /* 0..2^18-1 */
	uint8_t ssrc_count;
	const uint8_t *ssrcs; /* tb_rtcp_ssrc_at(ssrcs, i) */
} tb_rtcp_remb;

/* Parses a REMB (PSFB, FMT 15, "REMB" identifier). Returns 0 or TB_EINVAL
 * (another message, SSRC list past the end, a bitrate overflowing 64 bits). */
int tb_rtcp_parse_remb(const tb_rtcp_packet *pkt, tb_rtcp_remb *out);

/* ---- builders ----
 * Each writes one RTCP packet at BUF (capacity CAP) and returns its length
 * in bytes (a multiple of 4), or TB_EINVAL when it does not fit in CAP or
 * an argument is out of range; nothing useful is in BUF then. Append packets
 * one after another to make a compound. Any thread. */

/* RR with N (0..31) report blocks from SSRC. */
int tb_rtcp_build_rr(uint8_t *buf, size_t cap, uint32_t ssrc, const tb_rtcp_report_block *blocks,
		     size_t n);
/* SR with N (0..31) report blocks. */
int tb_rtcp_build_sr(uint8_t *buf, size_t cap, const tb_rtcp_sender_info *info,
		     const tb_rtcp_report_block *blocks, size_t n);
/* SDES with one chunk holding a CNAME of CNAME_LEN (1..255) bytes. */
int tb_rtcp_build_sdes_cname(uint8_t *buf, size_t cap, uint32_t ssrc, const char *cname,
			     size_t cname_len);
/* BYE for N (1..31) SSRCs, no reason. */
int tb_rtcp_build_bye(uint8_t *buf, size_t cap, const uint32_t *ssrcs, size_t n);
/* PLI from SENDER_SSRC about MEDIA_SSRC. */
int tb_rtcp_build_pli(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc);
/* FIR with N (>= 1) entries; the header's media SSRC is 0 (RFC 5104 §4.3.1). */
int tb_rtcp_build_fir(uint8_t *buf, size_t cap, uint32_t sender_ssrc,
		      const tb_rtcp_fir_entry *entries, size_t n);
/* Generic NACK for N (>= 1) sequence numbers. Each number joins the
 * previous entry when it lies 1..16 after its PID, else starts a new entry;
 * pass them in ascending RTP order (wrap allowed) for the tightest packing.
 * A number equal to the previous entry's PID is dropped as a duplicate. */
int tb_rtcp_build_nack(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
		       const uint16_t *seqs, size_t n);
/* REMB of BITRATE bits/s (rounded down to 18 bits of mantissa) for N
 * (0..255) SSRCs. */
int tb_rtcp_build_remb(uint8_t *buf, size_t cap, uint32_t sender_ssrc, uint64_t bitrate,
		       const uint32_t *ssrcs, size_t n);

/* ---- relaying feedback ---- */

/* Rewrites one feedback packet (RTPFB or PSFB; PACKET[0..LEN) is
 * tb_rtcp_packet.offset/.len of a parsed compound, or a whole packet) so a
 * publisher sees its own SSRC: sets the sender SSRC to SENDER_SSRC and
 * replaces OLD_MEDIA by NEW_MEDIA wherever the packet names a media source:
 * the header's media SSRC, every FIR entry, every REMB SSRC.
 * Returns how many media SSRCs were replaced (0 or more), or TB_EINVAL when
 * PACKET is not a well-formed feedback packet (then nothing is written).
 * Any thread. */
int tb_rtcp_fb_rewrite_ssrc(uint8_t *packet, size_t len, uint32_t sender_ssrc, uint32_t old_media,
			    uint32_t new_media);

/* ---- receiver statistics (RFC 3550 A.1, A.3, A.8) ---- */

/* Per-source state, owned by the caller (normally one per received SSRC on
 * the room's worker). Fields are private to the functions below. */
typedef struct tb_rtcp_rx_stats {
	uint32_t clock_rate; /* RTP clock, Hz */
	bool started;        /* a first packet was seen */
	uint16_t max_seq;    /* highest sequence number seen */
	uint32_t cycles;     /* shifted count of sequence number cycles */
	uint32_t base_seq;
	uint32_t bad_seq;   /* last "bad" seq + 1 */
	uint32_t probation; /* sequential packets still needed to validate */
	uint32_t received;
	uint32_t expected_prior; /* at the last report */
	uint32_t received_prior;
	bool have_transit;
	uint32_t transit; /* arrival - timestamp of the last in-order packet */
	uint32_t last_timestamp;
	uint64_t jitter_q4; /* jitter * 16 (A.8 integer form) */
	bool have_sr;
	uint32_t last_sr;   /* middle 32 bits of the last SR's NTP time */
	int64_t last_sr_us; /* when that SR arrived, caller's monotonic clock */
} tb_rtcp_rx_stats;

/* Resets STATS for a source of CLOCK_RATE Hz (> 0). Any thread. */
void tb_rtcp_rx_stats_init(tb_rtcp_rx_stats *stats, uint32_t clock_rate);

/* Accounts one received packet with sequence number SEQ and RTP TIMESTAMP,
 * arrived at ARRIVAL_US (caller's monotonic clock, microseconds). Follows
 * RFC 3550 A.1: a new source needs 2 sequential packets (probation) before
 * it counts; sequence wraps add a cycle; a jump of more than 3000 ahead or
 * 100 behind is ignored unless the next packet follows it (a restart: then
 * the state resyncs). Jitter (A.8) is updated on in-order packets whose
 * timestamp differs from the previous in-order one, since the packets of one
 * video frame share a timestamp but leave in a burst.
 * Returns true when the packet was counted (duplicates and late packets
 * included), false during probation or for a rejected jump. The caller's
 * forwarding decision need not follow the return value. Any thread. */
bool tb_rtcp_rx_stats_update(tb_rtcp_rx_stats *stats, uint16_t seq, uint32_t timestamp,
			     int64_t arrival_us);

/* Records an SR from this source (its 64-bit NTP time) that arrived at
 * NOW_US, for the LSR/DLSR fields of later reports. Any thread. */
void tb_rtcp_rx_stats_sr_received(tb_rtcp_rx_stats *stats, uint64_t ntp_timestamp, int64_t now_us);

/* Fills OUT with a report block for SSRC at NOW_US (RFC 3550 A.3): fraction
 * lost over the interval since the previous call, cumulative lost (clamped
 * to 24 bits, negative with duplicates), extended highest sequence number,
 * jitter, LSR and DLSR. Starts a new interval. Returns 0, or TB_ENOENT while
 * the source is not yet valid (nothing to report; OUT untouched). */
int tb_rtcp_rx_stats_report(tb_rtcp_rx_stats *stats, uint32_t ssrc, int64_t now_us,
			    tb_rtcp_report_block *out);

#ifdef __cplusplus
}
#endif

#endif
