/* fake-transport.h — a tb_transport (media/transport.h) without ICE, DTLS
 * or SRTP, for fuzz-router: what the router sends goes to a sink function
 * in clear, and the fuzzer hands packets to the router through the
 * transport's own callbacks, as if they had been received and decrypted.
 *
 * Linked instead of media/transport.c (fuzz-router only). One thread.
 */
#ifndef TB_FUZZ_FAKE_TRANSPORT_H
#define TB_FUZZ_FAKE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transport.h"

/* Called for every packet the router sends on a transport: RTCP or RTP in
 * BUF (LEN octets of CAP), USER_DATA the transport's owner. BUF may be
 * read only. */
typedef void (*tb_fake_transport_sink)(void *user_data, bool rtcp, const uint8_t *buf, size_t len,
				       size_t cap);

void tb_fake_transport_set_sink(tb_fake_transport_sink sink);

/* Moves T to STATE and tells its owner (the state callback), as the real
 * transport does when ICE/DTLS progress. New transports are NEW, and only
 * a CONNECTED one sends. */
void tb_fake_transport_set_state(tb_transport *t, tb_transport_state state);

/* Hands BUF (LEN octets; modified in place by the receiver) to T's owner as
 * a received, decrypted RTP or RTCP packet. */
void tb_fake_transport_receive(tb_transport *t, bool rtcp, uint8_t *buf, size_t len);

#endif
