/* dtls.h — DTLS-SRTP key agreement for one PeerConnection (RFC 5763/5764).
 *
 * tb_dtls_identity: the server's certificate (ECDSA P-256, self-signed), its
 * SDP fingerprint and the OpenSSL context, made once at start-up and shared
 * by every worker (immutable, refcounted).
 *
 * tb_dtls: one handshake over datagrams that the caller moves: incoming DTLS
 * records go in through tb_dtls_handle_datagram(), outgoing ones come out
 * through the send() callback. When the handshake is done and the peer's
 * certificate matches the fingerprint from its SDP, connected() hands over
 * the SRTP master keys (see srtp.h); any failure calls failed() once.
 *
 * Threads: a tb_dtls lives on one media worker. It is created, driven and
 * freed on the thread that runs the GMainContext passed to tb_dtls_new(),
 * where it keeps its retransmission timer; callbacks run on that thread.
 * Identities may be used from any thread.
 *
 * Not here: demultiplexing (demux.c hands us bytes 20..63), ICE, SRTP itself,
 * DTLS application data (data channels are not supported; it is discarded).
 */
#ifndef TB_MEDIA_DTLS_H
#define TB_MEDIA_DTLS_H

#include "srtp.h"

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* ---- identity ---- */
typedef struct tb_dtls_identity tb_dtls_identity;

/* Makes a new P-256 key and a self-signed certificate (CN "tribu", random
 * serial, valid from one day ago to 30 days ahead) and the SSL_CTX that
 * every tb_dtls of this identity uses. Slow (milliseconds): call at start-up.
 * Returns a new identity (transfer full), or NULL if OpenSSL failed (logged).
 * Any thread. */
tb_dtls_identity *tb_dtls_identity_new(void);

/* Returns IDENTITY with one more reference (transfer full). Any thread. */
tb_dtls_identity *tb_dtls_identity_ref(tb_dtls_identity *identity);

/* Drops a reference; the last one frees. NULL is ignored. Any thread. */
void tb_dtls_identity_unref(tb_dtls_identity *identity);

/* Returns the SHA-256 fingerprint of the certificate for SDP's
 * "a=fingerprint:sha-256 ...": uppercase hex pairs separated by ':'
 * (transfer none, lives as long as IDENTITY). Any thread. */
const char *tb_dtls_identity_fingerprint(const tb_dtls_identity *identity);

/* Returns the certificate in PEM (transfer full, g_free), or NULL if OpenSSL
 * failed. For diagnostics and tests. Any thread. */
char *tb_dtls_identity_to_pem(const tb_dtls_identity *identity);

/* ---- handshake ---- */
typedef struct tb_dtls tb_dtls;

/* From SDP a=setup: actpass offers answered with "active" make us the
 * server; our "active" answer makes us the client. */
typedef enum tb_dtls_role {
	TB_DTLS_CLIENT,
	TB_DTLS_SERVER,
} tb_dtls_role;

typedef enum tb_dtls_state {
	TB_DTLS_STATE_NEW,	  /* made, not started */
	TB_DTLS_STATE_CONNECTING, /* started: handshake in progress */
	TB_DTLS_STATE_CONNECTED,  /* keys delivered */
	TB_DTLS_STATE_FAILED,	  /* failed() was called (or would have been) */
	TB_DTLS_STATE_CLOSED,	  /* tb_dtls_close() */
} tb_dtls_state;

/* Callbacks run on the owning thread, never after tb_dtls_free() or
 * tb_dtls_close(). A callback may call tb_dtls_close() or tb_dtls_free() on
 * its own tb_dtls (the free is finished when the call that fired the
 * callback returns) but must not call tb_dtls_start() or
 * tb_dtls_handle_datagram() on it. */
typedef struct tb_dtls_callbacks {
	/* One datagram (one or more DTLS records, at most 1200 octets) to send
	 * to the peer; DATA is transfer none, valid during the call. */
	void (*send)(void *user_data, const uint8_t *data, size_t len);
	/* Handshake done and the peer's certificate matched its fingerprint.
	 * KEYS (transfer none) is wiped after the call: copy it or pass it to
	 * tb_srtp_new() now. Called at most once. */
	void (*connected)(void *user_data, const tb_srtp_keys *keys);
	/* The association failed or the peer closed it: "fingerprint mismatch",
	 * "closed by peer", "handshake timeout", "handshake failed: ...", ...
	 * REASON is transfer none. Called at most once, and nothing else is
	 * called afterwards. */
	void (*failed)(void *user_data, const char *reason);
} tb_dtls_callbacks;

/* Makes a handshake of IDENTITY (a reference is taken) in ROLE, whose peer
 * must present the certificate whose REMOTE_FINGERPRINT_ALG ("sha-256",
 * also "sha-1", "sha-384", "sha-512"; case ignored) fingerprint is
 * REMOTE_FINGERPRINT_HEX ("AB:CD:..", case ignored). The retransmission timer
 * is attached to CONTEXT (a reference is taken), which must be the calling
 * thread's. CB (copied) needs all three callbacks. Nothing is sent before
 * tb_dtls_start(). Returns a new tb_dtls (transfer full), or NULL on a bad
 * argument (unknown algorithm, malformed fingerprint) or an OpenSSL failure. */
tb_dtls *tb_dtls_new(tb_dtls_identity *identity, GMainContext *context, tb_dtls_role role,
		     const char *remote_fingerprint_alg, const char *remote_fingerprint_hex,
		     const tb_dtls_callbacks *cb, void *user_data);

/* Starts the handshake: a client sends its ClientHello now; a server waits
 * for one (a ClientHello arriving before tb_dtls_start() also starts a
 * server). The handshake must finish within the handshake timeout (15 s by
 * default) or failed("handshake timeout") is called. Returns 0 (also if
 * already started), or TB_EINVAL if D failed or was closed. */
int tb_dtls_start(tb_dtls *d);

/* Feeds one datagram received from the peer (BUF transfer none). Records
 * that do not parse or authenticate are dropped, as DTLS requires; fatal
 * protocol errors, a close_notify and the certificate check end in failed().
 * Returns 0 when the datagram was processed (even if that failed the
 * association), or TB_EINVAL when it was ignored: empty or too long, a
 * client that was not started, D already failed or closed, or a call from
 * one of D's callbacks. Owning thread. */
int tb_dtls_handle_datagram(tb_dtls *d, const uint8_t *buf, size_t len);

/* Returns D's state. Owning thread. */
tb_dtls_state tb_dtls_get_state(const tb_dtls *d);

/* Closes D: if connected (and not called from a callback) a close_notify
 * goes out through send() first; then the timer stops and no callback is
 * called again. Idempotent. Owning thread. */
void tb_dtls_close(tb_dtls *d);

/* Closes D without sending anything, removes its timer and frees it. No
 * callback runs during or after the call. NULL is ignored; calling it again
 * from the same callback is harmless. Owning thread. */
void tb_dtls_free(tb_dtls *d);

/* Sets the "[room/participant]" tag of D's log lines (copied, cut at 63
 * octets). Owning thread. */
void tb_dtls_set_log_label(tb_dtls *d, const char *label);

/* Tuning and tests, before tb_dtls_start(): the first retransmission
 * timeout (20 ms to 4 s, default 1000 ms; doubles on each retry up to 4 s)
 * and the limit for the whole handshake from start (default 15000 ms).
 * 0 keeps the current value. Owning thread. */
void tb_dtls_set_timeouts(tb_dtls *d, unsigned initial_retransmit_ms,
			  unsigned handshake_timeout_ms);

/* Handshakes that failed since start, in every thread: the peer's
 * certificate did not match its SDP fingerprint (refused after the
 * handshake, with a close_notify), no handshake within the limit, or any
 * other failure (an alert, a protocol error). A peer closing is not
 * counted. */
typedef struct tb_dtls_totals {
	uint64_t fingerprint_mismatches;
	uint64_t timeouts;
	uint64_t other_failures;
} tb_dtls_totals;

/* Fills *OUT with the totals above. Any thread. */
void tb_dtls_global_totals(tb_dtls_totals *out);

/* Tests and interop, before tb_dtls_start(): replaces the use_srtp profile
 * list (OpenSSL syntax, "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM"; the
 * server's order wins). Returns 0, TB_EINVAL if started or if OpenSSL
 * rejects the list. Owning thread. */
int tb_dtls_set_srtp_profiles(tb_dtls *d, const char *profiles);

G_END_DECLS

#endif
