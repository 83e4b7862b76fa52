/* media.h — the media module's public face: WebRTC transports (ICE, DTLS,
 * SRTP), SDP, RTP/RTCP and the per-room SFU router.
 *
 * Threads: see each header; a router and everything it owns lives on one
 * media worker.
 */
#ifndef TB_MEDIA_H
#define TB_MEDIA_H

#include "dtls.h"
#include "ice.h"
#include "router.h"
#include "sdp.h"
#include "srtp.h"
#include "transport.h"

#endif
