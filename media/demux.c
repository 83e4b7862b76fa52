/* demux.c — RFC 7983 first-byte classification of ICE datagrams, with
 * RFC 5761 RTP/RTCP separation.
 *
 * Pure, any thread; called for every datagram on the media workers, so it
 * is a handful of comparisons. Not here: acting on the result.
 */
#include "demux.h"

/* Minimum sizes: the RTP fixed header; an RTCP header plus sender SSRC,
 * which SRTCP keeps in the clear. */
#define DEMUX_RTP_MIN  12
#define DEMUX_RTCP_MIN 8

tb_demux_kind tb_demux_classify(const uint8_t *buf, size_t len)
{
	uint8_t b;

	if (len == 0)
		return TB_DEMUX_UNKNOWN;
	b = buf[0];
	if (b <= 3)
		return TB_DEMUX_STUN;
	if (b >= 16 && b <= 19)
		return TB_DEMUX_ZRTP;
	if (b >= 20 && b <= 63)
		return TB_DEMUX_DTLS;
	if (b >= 64 && b <= 79)
		return TB_DEMUX_TURN_CHANNEL;
	if (b >= 128 && b <= 191) {
		if (len >= 2 && buf[1] >= 192 && buf[1] <= 223)
			return len >= DEMUX_RTCP_MIN ? TB_DEMUX_RTCP : TB_DEMUX_UNKNOWN;
		return len >= DEMUX_RTP_MIN ? TB_DEMUX_RTP : TB_DEMUX_UNKNOWN;
	}
	return TB_DEMUX_UNKNOWN;
}

const char *tb_demux_kind_name(tb_demux_kind kind)
{
	switch (kind) {
	case TB_DEMUX_STUN:
		return "stun";
	case TB_DEMUX_ZRTP:
		return "zrtp";
	case TB_DEMUX_DTLS:
		return "dtls";
	case TB_DEMUX_TURN_CHANNEL:
		return "turn-channel";
	case TB_DEMUX_RTP:
		return "rtp";
	case TB_DEMUX_RTCP:
		return "rtcp";
	case TB_DEMUX_UNKNOWN:
	default:
		return "unknown";
	}
}
