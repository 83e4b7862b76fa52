/* ice.h — ICE for one PeerConnection (libnice).
 *
 * BUNDLE + rtcp-mux only, so a PeerConnection is one libnice stream with one
 * component, and DTLS, RTP and RTCP share it. The server runs full ICE
 * (RFC 8445) as the controlled agent; candidates trickle both ways
 * (RFC 8838); consent freshness (RFC 7675) notices a peer that went away:
 * checks every 4-6 s, and FAILED only after 30 s without a word from a peer
 * we send to (50 s without an answer to the checks when we send nothing,
 * at once if the peer revokes consent); see ice.c for why two parts.
 * Host candidates come from the configured addresses; an optional public
 * address (1:1 NAT) replaces their IP in the candidates handed out; optional
 * STUN and TURN (UDP) servers add server-reflexive and relayed candidates.
 *
 * Threads: a tb_ice lives on one media worker. It is made with the worker's
 * GMainContext, which must be that thread's thread-default context (tb_worker
 * does this), and every function here and every callback runs on that
 * thread. Nothing here takes a lock.
 *
 * Callbacks may fire from inside tb_ice_gather(), tb_ice_set_remote_
 * credentials(), tb_ice_add_remote_candidate(), tb_ice_end_of_candidates()
 * and tb_ice_restart() as well as from the worker's loop. A callback may call
 * any function here, tb_ice_free() included.
 *
 * Not here: SDP (the caller takes ice-ufrag/ice-pwd and candidate lines out of
 * it and puts ours in), DTLS/SRTP (the caller demultiplexes received
 * datagrams), ICE-TCP, mDNS resolution and TURN over TCP/TLS.
 */
#ifndef TB_MEDIA_ICE_H
#define TB_MEDIA_ICE_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct tb_ice tb_ice;

/* What the owner sees. NEW → CHECKING → CONNECTED; FAILED is final until
 * tb_ice_restart(). An ICE restart from CONNECTED stays CONNECTED (media keeps
 * flowing on the old pair) unless the new checks fail. */
typedef enum tb_ice_state {
	TB_ICE_NEW = 0,   /* no check yet */
	TB_ICE_CHECKING,  /* connectivity checks under way */
	TB_ICE_CONNECTED, /* a pair is selected: tb_ice_send() works */
	TB_ICE_FAILED,    /* checks failed, connect timeout, or consent lost */
	TB_ICE_CLOSED,    /* after tb_ice_close(); never passed to the state callback */
} tb_ice_state;

/* Returns a static lowercase name ("connected"), or "unknown". Any thread. */
const char *tb_ice_state_to_string(tb_ice_state state);

/* Default for tb_ice_config.connect_timeout_ms. */
#define TB_ICE_DEFAULT_CONNECT_TIMEOUT_MS 30000
/* Remote candidates accepted per ICE generation (outside input is bounded). */
#define TB_ICE_MAX_REMOTE_CANDIDATES 64
/* Datagrams handed to libnice per call by tb_ice_send_batch(). */
#define TB_ICE_BATCH_MAX 64
/* A connected peer we send to and that sends nothing back for this long has
 * lost consent (RFC 7675's 30 s). */
#define TB_ICE_CONSENT_TIMEOUT_MS 30000

struct tb_clock;

/* Read only during tb_ice_new(); nothing in it is kept. Zero is the default
 * for every field. Addresses are numeric IPv4/IPv6 literals: nothing here
 * resolves a name (it would block the worker). */
typedef struct tb_ice_config {
	/* NULL-terminated list of local IPs to gather host candidates on,
	 * loopback allowed. NULL or empty: libnice enumerates the interfaces
	 * (which skips loopback). */
	const char *const *local_addresses;
	/* 1:1 NAT: host candidates are handed out with this IP and their own
	 * port (same IP family only). NULL: none. */
	const char *public_address;
	/* UDP port range for host candidates; 0/0: any port. */
	uint16_t port_min, port_max;
	/* STUN server for server-reflexive candidates; NULL: none. Port 0: 3478. */
	const char *stun_host;
	uint16_t stun_port;
	/* TURN server (UDP) for relayed candidates; NULL: none. Port 0: 3478. */
	const char *turn_host;
	uint16_t turn_port;
	const char *turn_username;
	const char *turn_password;
	/* No pair within this time once remote credentials are set → FAILED.
	 * 0: TB_ICE_DEFAULT_CONNECT_TIMEOUT_MS. */
	unsigned connect_timeout_ms;
	/* Monotonic time for the consent deadline (transfer none; must outlive
	 * the tb_ice). NULL: tb_clock_default(). Tests inject one. */
	const struct tb_clock *clock;
	/* Log prefix, e.g. "room/participant/pub". NULL: "ice". */
	const char *name;
	/* Tests only: be the controlling agent (play the browser). The server
	 * is always controlled. */
	bool controlling;
} tb_ice_config;

/* Any member may be NULL. Called on the worker thread, never after
 * tb_ice_close()/tb_ice_free() returns. */
typedef struct tb_ice_callbacks {
	/* A local candidate to trickle to the peer: "candidate:..." without
	 * "a=" and without line end (transfer none, valid during the call). */
	void (*local_candidate)(void *user_data, const char *candidate);
	/* No more local candidates (send end-of-candidates). */
	void (*gathering_done)(void *user_data);
	/* The state changed (never to TB_ICE_CLOSED). */
	void (*state)(void *user_data, tb_ice_state state);
	/* One received datagram that is not STUN. BUF is libnice's receive
	 * buffer, writable in place (decrypt into it), valid during the call;
	 * LEN > 0. Per packet: do not log or allocate here. */
	void (*receive)(void *user_data, uint8_t *buf, size_t len);
} tb_ice_callbacks;

/* One datagram for tb_ice_send_batch(). */
typedef struct tb_ice_datagram {
	const uint8_t *buf;
	size_t len;
} tb_ice_datagram;

#define TB_ICE_ERROR (tb_ice_error_quark())
/* GError domain of tb_ice_new(); codes are TB_E* values. */
GQuark tb_ice_error_quark(void);

/* Makes an agent with one stream on CTX (transfer none; must stay alive as
 * long as the tb_ice and is the worker's thread-default context). CONFIG is
 * read now; CB is copied. Nothing is gathered until tb_ice_gather().
 * Returns a new tb_ice (transfer full), or NULL with ERROR set (TB_EINVAL:
 * malformed address or port range in CONFIG; TB_EIO: libnice refused).
 * Worker thread. */
tb_ice *tb_ice_new(GMainContext *ctx, const tb_ice_config *config, const tb_ice_callbacks *cb,
		   void *user_data, GError **error);

/* Stops ICE: no callback runs after this returns (pending ones are dropped),
 * sends fail, TURN allocations are released in the background. Idempotent;
 * afterwards tb_ice_get_state() is TB_ICE_CLOSED and other calls return
 * TB_EIO. NULL is ignored. Worker thread, callbacks included. */
void tb_ice_close(tb_ice *ice);

/* tb_ice_close(), then frees ICE (deferred to the end of the callback when
 * called from one). NULL is ignored. Worker thread, callbacks included. */
void tb_ice_free(tb_ice *ice);

/* The consent rule on its own (pure): true when the peer was last heard at
 * HEARD_US, we sent to it later (SENT_US), and NOW_US is at least
 * TB_ICE_CONSENT_TIMEOUT_MS past HEARD_US. Times in µs on one monotonic
 * clock. Any thread. */
bool tb_ice_peer_silent(int64_t heard_us, int64_t sent_us, int64_t now_us);

/* Returns the current state. Worker thread. */
tb_ice_state tb_ice_get_state(const tb_ice *ice);

/* Sets *UFRAG and *PWD to our current ICE credentials (transfer full,
 * g_free). They change on tb_ice_restart(). Returns 0 or TB_EIO (closed).
 * Worker thread. */
int tb_ice_get_local_credentials(tb_ice *ice, char **ufrag, char **pwd);

/* Sets the peer's ice-ufrag (4..256 ice-chars) and ice-pwd (22..256); checks
 * start and the connect timeout runs from here. Queued remote candidates are
 * applied (once gathering has started). Setting the same values again is a
 * no-op. Returns 0, TB_EINVAL (malformed), TB_ECONFLICT (different values
 * without tb_ice_restart() in between: the peer restarted ICE) or TB_EIO.
 * Worker thread. */
int tb_ice_set_remote_credentials(tb_ice *ice, const char *ufrag, const char *pwd);

/* Starts gathering: candidates come through local_candidate, then
 * gathering_done (host candidates arrive before this returns). Called again
 * (after tb_ice_restart()), it hands out the candidates gathered so far once
 * more, and gathering_done if gathering had ended. Returns 0 or TB_EIO (no
 * host candidate could be made: addresses or port range). Worker thread. */
int tb_ice_gather(tb_ice *ice);

/* Adds one trickled remote candidate: "candidate:..." or "a=candidate:...",
 * trailing CR/LF allowed. Before remote credentials are set and gathering
 * has started it is queued and applied then. Returns 0 when added or
 * deliberately ignored (TCP or other non-UDP transport, mDNS ".local" or
 * other host names, component other than 1, ufrag of an older generation),
 * TB_EINVAL for a malformed line, TB_EFULL past TB_ICE_MAX_REMOTE_CANDIDATES,
 * TB_EIO if closed. Worker thread. */
int tb_ice_add_remote_candidate(tb_ice *ice, const char *candidate);

/* The peer sent end-of-candidates: if every pair has failed, FAILED is
 * reported now rather than at the connect timeout. Returns 0 or TB_EIO.
 * Worker thread. */
int tb_ice_end_of_candidates(tb_ice *ice);

/* Sends one datagram on the selected pair. No allocation, no log. Returns 0,
 * or TB_EIO (not connected, consent lost, socket buffer full, closed): the
 * caller counts the drop. Worker thread. */
int tb_ice_send(tb_ice *ice, const uint8_t *buf, size_t len);

/* Sends N datagrams with one sendmmsg(2) per TB_ICE_BATCH_MAX. Returns how
 * many left (the first ones; fewer than N when the socket buffer filled), or
 * TB_EIO if none could be sent for another reason. Worker thread. */
int tb_ice_send_batch(tb_ice *ice, const tb_ice_datagram *datagrams, size_t n);

/* ICE restart: new local credentials, remote credentials and candidates
 * forgotten (queue again, set the peer's new credentials), local candidates
 * kept (call tb_ice_gather() to hand them out with the new credentials).
 * A FAILED or CHECKING state goes back to NEW without a callback; CONNECTED
 * stays. Returns 0 or TB_EIO. Worker thread. */
int tb_ice_restart(tb_ice *ice);

/* Writes the selected pair as "IP:PORT TYPE" ("[IPv6]:PORT" for IPv6,
 * TYPE host|srflx|prflx|relay) into LOCAL and REMOTE (either may be NULL),
 * cut to their sizes. The local one is the socket's address, before any
 * public-address rewrite. Returns 0, or TB_ENOENT (no pair selected) or
 * TB_EIO (closed). Worker thread. */
int tb_ice_selected_pair(tb_ice *ice, char *local, size_t local_size, char *remote,
			 size_t remote_size);

G_END_DECLS

#endif
