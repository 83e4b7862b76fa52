/* fuzz-demux.c — the first bytes of any datagram on a media port, through
 * the RFC 7983 classifier (STUN / DTLS / RTP / RTCP / drop). */
#include "demux.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tb_demux_kind kind = tb_demux_classify(data, size);
	const char *name = tb_demux_kind_name(kind);

	tb_fuzz_consume(name, 1);
	return 0;
}
