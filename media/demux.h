/* demux.h — classify a datagram received on the ICE socket (RFC 7983).
 *
 * One bundled, rtcp-muxed 5-tuple carries STUN, DTLS, SRTP and SRTCP; the
 * first byte tells them apart, and for RTP versus RTCP the second byte
 * (RFC 5761 §4: RTCP packet types 192..223, which as an RTP marker bit plus
 * payload type would be 64..95, never used for RTP). Only the header is
 * read, which SRTP/SRTCP leave in the clear, so this runs before
 * decryption. Pure and cheap: any thread.
 *
 * Not here: STUN handling (libnice consumes STUN before we see data),
 * validating the packets themselves (the DTLS, SRTP and RTP layers do).
 */
#ifndef TB_MEDIA_DEMUX_H
#define TB_MEDIA_DEMUX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
	TB_DEMUX_UNKNOWN = 0, /* empty, too short, or a first byte RFC 7983 does not assign: drop */
	TB_DEMUX_STUN,        /* 0..3 */
	TB_DEMUX_ZRTP,        /* 16..19: not used by WebRTC, drop */
	TB_DEMUX_DTLS,        /* 20..63 */
	TB_DEMUX_TURN_CHANNEL, /* 64..79: TURN ChannelData, not expected here, drop */
	TB_DEMUX_RTP,          /* 128..191, second byte outside 192..223, at least 12 bytes */
	TB_DEMUX_RTCP,         /* 128..191, second byte 192..223, at least 8 bytes */
} tb_demux_kind;

/* Returns the kind of the datagram BUF[0..LEN) (transfer none; BUF may be
 * NULL when LEN is 0). RTP shorter than its 12-byte fixed header and RTCP
 * shorter than a header plus SSRC are TB_DEMUX_UNKNOWN. Any thread. */
tb_demux_kind tb_demux_classify(const uint8_t *buf, size_t len);

/* Returns a static lowercase name for KIND ("rtp", "dtls", ...), for
 * counters and logs. Any thread. */
const char *tb_demux_kind_name(tb_demux_kind kind);

#ifdef __cplusplus
}
#endif

#endif
