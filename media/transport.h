/* transport.h — one WebRTC PeerConnection transport: ICE + DTLS + SRTP.
 *
 * Glues ice.c, dtls.c and srtp.c: datagrams from ICE are demultiplexed
 * (RFC 7983) to DTLS or, once keys exist, SRTP/SRTCP; decrypted RTP and RTCP
 * go to the owner's callbacks. Sending protects in place and hands the
 * datagram to ICE. BUNDLE + rtcp-mux: one ICE component carries everything.
 *
 * Threads: a transport lives on one media worker; create, use and free it
 * there. Callbacks run on that thread. No locks, no per-packet allocation.
 *
 * Not here: SDP (the caller extracts ICE credentials, fingerprint and setup
 * role from it), RTP semantics (router.c).
 */
#ifndef TB_MEDIA_TRANSPORT_H
#define TB_MEDIA_TRANSPORT_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "dtls.h"
#include "ice.h"

G_BEGIN_DECLS

typedef struct tb_transport tb_transport;

typedef enum tb_transport_state {
	TB_TRANSPORT_NEW = 0,
	TB_TRANSPORT_CONNECTING, /* ICE checking or DTLS handshaking */
	TB_TRANSPORT_CONNECTED,  /* SRTP keys in place: media flows */
	TB_TRANSPORT_FAILED,     /* ICE failed, consent lost, DTLS failed */
	TB_TRANSPORT_CLOSED,
} tb_transport_state;

const char *tb_transport_state_to_string(tb_transport_state state);

/* Counters of one transport, read on its worker. */
typedef struct tb_transport_stats {
	uint64_t packets_in, bytes_in;   /* SRTP/SRTCP datagrams received and decrypted */
	uint64_t packets_out, bytes_out; /* datagrams sent */
	uint64_t dropped_in;             /* undecryptable, unknown or malformed datagrams */
	uint64_t replayed_in;            /* of those, SRTP/SRTCP refused as replayed */
	uint64_t dropped_out;            /* could not protect or send */
	int64_t connected_at_us;         /* monotonic; 0 until connected */
} tb_transport_stats;

typedef struct tb_transport_callbacks {
	/* A local ICE candidate line ("candidate:..."), or NULL when
	 * gathering is over (end-of-candidates). */
	void (*local_candidate)(void *user_data, const char *candidate);
	/* The state changed; REASON says why for FAILED (else NULL). */
	void (*state)(void *user_data, tb_transport_state state, const char *reason);
	/* A decrypted RTP packet: BUF (LEN octets) may be modified in place;
	 * valid during the call only. */
	void (*rtp)(void *user_data, uint8_t *buf, size_t len);
	/* A decrypted RTCP compound packet. */
	void (*rtcp)(void *user_data, uint8_t *buf, size_t len);
} tb_transport_callbacks;

/* Makes a transport and starts gathering candidates. IDENTITY (ref taken)
 * is the server's DTLS certificate; ICE_CONFIG is read now. Returns a new
 * transport (transfer full) or NULL with ERROR. Worker thread. */
tb_transport *tb_transport_new(GMainContext *ctx, tb_dtls_identity *identity,
			       const tb_ice_config *ice_config, const char *name,
			       const tb_transport_callbacks *cb, void *user_data, GError **error);

/* Our ICE credentials (transfer full). Returns 0 or TB_EIO. */
int tb_transport_local_credentials(tb_transport *t, char **ufrag, char **pwd);

/* Applies what the peer's description says: ICE credentials, certificate
 * fingerprint and our DTLS role (TB_DTLS_SERVER when the peer is active).
 * Starts connectivity checks, then DTLS. The fingerprint and role are fixed
 * by the first call; later calls may only restart ICE (new credentials).
 * Returns 0, TB_EINVAL (malformed values) or TB_ECONFLICT (fingerprint or
 * role changed). */
int tb_transport_set_remote(tb_transport *t, const char *ufrag, const char *pwd,
			    const char *fingerprint_alg, const char *fingerprint,
			    tb_dtls_role role);

/* Adds a trickled remote candidate (with or without "a="); NULL or "" is
 * end-of-candidates. Returns 0 or TB_EINVAL. */
int tb_transport_add_remote_candidate(tb_transport *t, const char *candidate);

/* Protects the RTP packet in BUF (LEN octets, CAP octets of room, at least
 * LEN + TB_SRTP_MAX_TRAILER) in place and sends it. Returns 0, TB_EIO (not
 * connected, send failed) or TB_EINVAL. No allocation, no log. */
int tb_transport_send_rtp(tb_transport *t, uint8_t *buf, size_t len, size_t cap);
/* The same for an RTCP compound packet. */
int tb_transport_send_rtcp(tb_transport *t, uint8_t *buf, size_t len, size_t cap);

tb_transport_state tb_transport_get_state(const tb_transport *t);
const tb_transport_stats *tb_transport_get_stats(const tb_transport *t);
/* Selected candidate pair as text for stats ("" when none). */
void tb_transport_selected_pair(tb_transport *t, char *local, size_t local_len, char *remote,
				size_t remote_len);
/* Negotiated SRTP profile name, or NULL before DTLS is done. */
const char *tb_transport_srtp_profile(const tb_transport *t);

/* Closes ICE and DTLS; no callback runs after this returns. Frees T.
 * NULL is ignored. Worker thread; may be called from a callback. */
void tb_transport_free(tb_transport *t);

G_END_DECLS

#endif
