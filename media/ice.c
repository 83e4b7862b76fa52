/* ice.c — ICE for one PeerConnection on libnice (see ice.h).
 *
 * One NiceAgent per tb_ice, made with nice_agent_new_full() on the worker's
 * context so every libnice timer and socket source runs on the worker thread,
 * with received datagrams handed over by nice_agent_attach_recv() straight
 * from libnice's receive buffer (no copy). Options:
 *   - RFC 5245/8445 full ICE; the offerer controls (RFC 8445 6.1.1): the
 *     client on a publish PC, tribud on a subscribe PC. ICE-TCP, UPnP off;
 *   - ICE_TRICKLE: candidates trickle, checks start with the first pair;
 *   - REGULAR_NOMINATION, the one RFC 8445 keeps: as controlling agent a
 *     successful check, then a second one with USE-CANDIDATE;
 *   - Ta (libnice's "stun-pacing-timer") 5 ms, the least RFC 8445 allows,
 *     instead of libnice's 20: the two checks of a regular nomination are
 *     paced by it, so a subscriber connects ~45 ms sooner (bench/compare.py:
 *     join p50 ~75 ms -> ~30 ms on loopback). A server has one or two
 *     candidates per family, so the checks stay few.
 *
 * Consent freshness (RFC 7675). libnice 0.1.21 (Debian 12) cannot do it as
 * the RFC says: its CONSENT_FRESHNESS option sends one check every 4-6 s,
 * never retransmitted, and revokes consent for good 10 s after the last
 * answer (the timeout is compiled in; 30 s from 0.1.22 on), so one or two
 * checks lost to ordinary 5 % loss ended a call. Its public API shows neither
 * the answers nor lets us send checks of our own (it takes every STUN answer
 * for itself and drops those it did not ask for). So consent is made of two
 * parts here:
 *   - libnice's "keepalive-conncheck" with CONSENT_FRESHNESS off: the same
 *     binding request with ICE credentials on the selected pair every 4-6 s
 *     (randomised), answered by browsers as consent checks; libnice fails the
 *     component after 50 s without an answer, or at once on a 403 (consent
 *     revoked by the peer). We report that FAILED;
 *   - a peer-silence deadline of our own: a peer we keep sending to that has
 *     sent nothing (no DTLS, RTP or RTCP; an RTP receiver must send RTCP) for
 *     TB_ICE_CONSENT_TIMEOUT_MS (RFC 7675's 30 s) has gone: FAILED. A one-
 *     second timer compares two counters the packet path bumps (no clock read,
 *     no lock, nothing else per packet). A connection we send nothing on
 *     (no one to forward) is left to libnice's 50 s.
 * Either way consent is never lost before 30 s of silence, so losses and
 * cuts shorter than that leave the call whole, and a peer that vanished is
 * removed some 30-31 s after its last packet.
 *
 * What libnice does not do and this file does:
 *   - report FAILED for a trickle session: libnice 0.1.21 ignores the peer's
 *     end-of-candidates and fails a component whose current pairs all failed
 *     even though more candidates may come. We report FAILED while checking
 *     only after end-of-candidates, and otherwise at the connect timeout;
 *   - the peer-silence deadline above;
 *   - queue remote candidates that arrive before the remote credentials;
 *   - filter remote candidates (TCP, mDNS, host names, other components);
 *   - rewrite host candidates to the public address (1:1 NAT): the candidate
 *     line carries the public IP and the socket's port, the socket stays on
 *     the private address;
 *   - survive the owner freeing the tb_ice from inside one of its callbacks
 *     (depth count + deferred free; libnice keeps the agent alive through its
 *     own signal emission and the close task).
 *
 * Threads: the worker's only (see ice.h). Not here: SDP, DTLS, demux.
 */
#include "ice.h"

#include "common.h"

#include <gio/gio.h>
#include <nice/agent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define LOG_CAT           "media.ice"
#define COMPONENT_ID      1
#define DEFAULT_STUN_PORT 3478
#define TA_MS             5 /* check pacing (see Options above) */
/* Longest candidate line accepted (a browser's is about 150 octets). */
#define MAX_CANDIDATE_LEN 1024

/* A remote candidate waiting for credentials and gathering. */
typedef struct {
	NiceCandidate *candidate;
	char *ufrag; /* its "ufrag" extension, or NULL */
} queued_candidate;

struct tb_ice {
	GMainContext *ctx; /* ref */
	NiceAgent *agent;  /* ref; NULL once closed */
	guint stream_id;
	tb_ice_callbacks cb;
	void *user_data;
	char *name;
	NiceAddress public_address;
	bool has_public_address;
	unsigned connect_timeout_ms;
	GSource *connect_timer; /* ref; armed while checking */

	/* Peer silence: the packet path bumps the counters; the consent timer
	 * (armed while connected) notes when they last moved. */
	const tb_clock *clock;
	GSource *consent_timer;    /* ref */
	guint64 n_in, n_out;       /* datagrams received (not STUN) and sent */
	guint64 seen_in, seen_out; /* their values at the last tick */
	gint64 heard_us, sent_us;  /* when they were last seen moving */

	tb_ice_state state;            /* what the owner was told */
	NiceComponentState nice_state; /* what libnice said last */
	bool checking;                 /* remote credentials set, no pair yet */
	bool gathering_started;
	bool gathering_done;

	char *remote_ufrag; /* NULL until set */
	char *remote_pwd;
	GPtrArray *queued;   /* queued_candidate; NULL when empty */
	unsigned n_remote;   /* remote candidates accepted this generation */
	bool cap_logged;     /* the cap above was reached and said so */
	bool remote_eoc;     /* the peer sent end-of-candidates */
	bool remote_eoc_set; /* ... and libnice was told */

	bool closed;
	int depth;         /* calls out in progress (owner callbacks, libnice calls) */
	bool free_pending; /* tb_ice_free() ran during a call out */
};

GQuark tb_ice_error_quark(void)
{
	return g_quark_from_static_string("tb-ice-error-quark");
}

const char *tb_ice_state_to_string(tb_ice_state state)
{
	switch (state) {
	case TB_ICE_NEW:
		return "new";
	case TB_ICE_CHECKING:
		return "checking";
	case TB_ICE_CONNECTED:
		return "connected";
	case TB_ICE_FAILED:
		return "failed";
	case TB_ICE_CLOSED:
		return "closed";
	}
	return "unknown";
}

/* ---- lifetime across calls out ----
 * Anything that may run an owner callback (directly or through a libnice
 * call that emits signals) is bracketed by hold()/release(). tb_ice_free()
 * inside the bracket only closes; the last release() frees. */

static void destroy(tb_ice *ice)
{
	g_free(ice->remote_ufrag);
	g_free(ice->remote_pwd);
	g_free(ice->name);
	g_main_context_unref(ice->ctx);
	g_free(ice);
}

static void hold(tb_ice *ice)
{
	ice->depth++;
}

/* Returns false if ICE was freed: the caller must not touch it again. */
static bool release(tb_ice *ice)
{
	if (--ice->depth > 0 || !ice->free_pending)
		return true;
	destroy(ice);
	return false;
}

static void queued_candidate_free(gpointer data)
{
	queued_candidate *q = data;

	nice_candidate_free(q->candidate);
	g_free(q->ufrag);
	g_free(q);
}

/* ---- connect timeout ---- */

static void stop_connect_timer(tb_ice *ice)
{
	if (ice->connect_timer == NULL)
		return;
	g_source_destroy(ice->connect_timer);
	g_clear_pointer(&ice->connect_timer, g_source_unref);
}

static void stop_consent_timer(tb_ice *ice)
{
	if (ice->consent_timer == NULL)
		return;
	g_source_destroy(ice->consent_timer);
	g_clear_pointer(&ice->consent_timer, g_source_unref);
}

/* Tells the owner; returns false if it freed ICE meanwhile. */
static bool report_state(tb_ice *ice, tb_ice_state state)
{
	if (ice->state == state || ice->closed)
		return true;
	TB_INFO(LOG_CAT, "[%s] %s -> %s", ice->name, tb_ice_state_to_string(ice->state),
		tb_ice_state_to_string(state));
	ice->state = state;
	if (ice->cb.state == NULL)
		return true;
	hold(ice);
	ice->cb.state(ice->user_data, state);
	return release(ice);
}

/* Reports FAILED (final until a restart); returns false if ICE was freed. */
static bool fail(tb_ice *ice, const char *why)
{
	stop_connect_timer(ice);
	stop_consent_timer(ice);
	ice->checking = false;
	TB_INFO(LOG_CAT, "[%s] failed: %s", ice->name, why);
	return report_state(ice, TB_ICE_FAILED);
}

static gboolean on_connect_timeout(gpointer user_data)
{
	tb_ice *ice = user_data;

	/* The context still holds the source until we return. */
	g_clear_pointer(&ice->connect_timer, g_source_unref);
	if (!ice->closed && ice->checking && ice->state != TB_ICE_FAILED)
		fail(ice, "no connectivity before the connect timeout");
	return G_SOURCE_REMOVE;
}

static void start_connect_timer(tb_ice *ice)
{
	GSource *source;

	stop_connect_timer(ice);
	source = g_timeout_source_new(ice->connect_timeout_ms);
	g_source_set_static_name(source, "tb_ice connect timeout");
	g_source_set_callback(source, on_connect_timeout, ice, NULL);
	g_source_attach(source, ice->ctx);
	ice->connect_timer = source;
}

/* ---- peer silence (consent, with libnice's checks: see the top) ---- */

bool tb_ice_peer_silent(int64_t heard_us, int64_t sent_us, int64_t now_us)
{
	return sent_us > heard_us && now_us - heard_us >= (int64_t)TB_ICE_CONSENT_TIMEOUT_MS * 1000;
}

static gboolean on_consent_tick(gpointer user_data)
{
	tb_ice *ice = user_data;
	gint64 now = tb_clock_mono_us(ice->clock);

	if (ice->n_in != ice->seen_in) {
		ice->seen_in = ice->n_in;
		ice->heard_us = now;
	}
	if (ice->n_out != ice->seen_out) {
		ice->seen_out = ice->n_out;
		ice->sent_us = now;
	}
	if (!tb_ice_peer_silent(ice->heard_us, ice->sent_us, now))
		return G_SOURCE_CONTINUE;
	stop_consent_timer(ice); /* the context holds the source until we return */
	fail(ice, "consent lost: nothing from the peer for 30 s while we sent to it");
	return G_SOURCE_REMOVE;
}

/* Arms the consent timer on reaching CONNECTED (once: READY follows). */
static void start_consent_timer(tb_ice *ice)
{
	GSource *source;

	if (ice->consent_timer != NULL)
		return;
	ice->heard_us = ice->sent_us = tb_clock_mono_us(ice->clock);
	ice->seen_in = ice->n_in;
	ice->seen_out = ice->n_out;
	/* Seconds: GLib wakes the worker once for all its connections. */
	source = g_timeout_source_new_seconds(1);
	g_source_set_static_name(source, "tb_ice consent");
	g_source_set_callback(source, on_consent_tick, ice, NULL);
	g_source_attach(source, ice->ctx);
	ice->consent_timer = source;
}

/* ---- libnice signals (worker thread; emitted with the agent unlocked) ---- */

static const char *candidate_type_name(NiceCandidateType type)
{
	switch (type) {
	case NICE_CANDIDATE_TYPE_HOST:
		return "host";
	case NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE:
		return "srflx";
	case NICE_CANDIDATE_TYPE_PEER_REFLEXIVE:
		return "prflx";
	case NICE_CANDIDATE_TYPE_RELAYED:
		return "relay";
	}
	return "unknown";
}

/* Writes "IP:PORT TYPE" ("[IP]:PORT TYPE" for IPv6). */
static void format_candidate(const NiceCandidate *c, char *out, size_t size)
{
	char ip[NICE_ADDRESS_STRING_LEN];

	if (out == NULL || size == 0)
		return;
	nice_address_to_string(&c->addr, ip);
	if (nice_address_ip_version(&c->addr) == 6)
		g_snprintf(out, size, "[%s]:%u %s", ip, nice_address_get_port(&c->addr),
			   candidate_type_name(c->type));
	else
		g_snprintf(out, size, "%s:%u %s", ip, nice_address_get_port(&c->addr),
			   candidate_type_name(c->type));
}

/* Hands one local candidate to the owner, with the public address in place
 * of a host candidate's IP. Returns false if the owner freed ICE. */
static bool announce_candidate(tb_ice *ice, NiceCandidate *candidate)
{
	NiceCandidate *rewritten = NULL;
	char *line;
	bool alive = true;

	if (ice->cb.local_candidate == NULL)
		return true;
	if (ice->has_public_address && candidate->type == NICE_CANDIDATE_TYPE_HOST &&
	    nice_address_ip_version(&candidate->addr) ==
		    nice_address_ip_version(&ice->public_address)) {
		guint port = nice_address_get_port(&candidate->addr);

		rewritten = nice_candidate_copy(candidate);
		rewritten->addr = ice->public_address;
		nice_address_set_port(&rewritten->addr, port);
		/* A base equal to the address keeps "raddr" (the private IP)
		 * out of the line, as for any host candidate. */
		rewritten->base_addr = rewritten->addr;
		candidate = rewritten;
	}
	line = nice_agent_generate_local_candidate_sdp(ice->agent, candidate);
	if (line != NULL && g_str_has_prefix(line, "a=")) {
		TB_DEBUG(LOG_CAT, "[%s] local %s", ice->name, line + 2);
		hold(ice);
		ice->cb.local_candidate(ice->user_data, line + 2);
		alive = release(ice);
	}
	g_free(line);
	if (rewritten != NULL)
		nice_candidate_free(rewritten);
	return alive;
}

static void on_new_candidate(G_GNUC_UNUSED NiceAgent *agent, NiceCandidate *candidate,
			     gpointer user_data)
{
	tb_ice *ice = user_data;

	if (ice->closed || candidate->stream_id != ice->stream_id ||
	    candidate->component_id != COMPONENT_ID ||
	    candidate->transport != NICE_CANDIDATE_TRANSPORT_UDP ||
	    candidate->type == NICE_CANDIDATE_TYPE_PEER_REFLEXIVE)
		return;
	announce_candidate(ice, candidate);
}

static void on_gathering_done(G_GNUC_UNUSED NiceAgent *agent, guint stream_id, gpointer user_data)
{
	tb_ice *ice = user_data;

	if (ice->closed || stream_id != ice->stream_id)
		return;
	ice->gathering_done = true;
	TB_DEBUG(LOG_CAT, "[%s] gathering done", ice->name);
	if (ice->cb.gathering_done == NULL)
		return;
	hold(ice);
	ice->cb.gathering_done(ice->user_data);
	release(ice);
}

static void on_component_state(G_GNUC_UNUSED NiceAgent *agent, guint stream_id, guint component_id,
			       guint nice_state, gpointer user_data)
{
	tb_ice *ice = user_data;

	if (ice->closed || stream_id != ice->stream_id || component_id != COMPONENT_ID)
		return;
	ice->nice_state = (NiceComponentState)nice_state;
	TB_DEBUG(LOG_CAT, "[%s] libnice component %s", ice->name,
		 nice_component_state_to_string(ice->nice_state));

	switch (ice->nice_state) {
	case NICE_COMPONENT_STATE_CONNECTING:
		if (ice->state == TB_ICE_NEW)
			report_state(ice, TB_ICE_CHECKING);
		break;
	case NICE_COMPONENT_STATE_CONNECTED:
	case NICE_COMPONENT_STATE_READY:
		ice->checking = false;
		stop_connect_timer(ice);
		if (ice->state != TB_ICE_FAILED) {
			start_consent_timer(ice);
			report_state(ice, TB_ICE_CONNECTED);
		}
		break;
	case NICE_COMPONENT_STATE_FAILED:
		if (ice->state == TB_ICE_FAILED)
			break;
		if (ice->checking && !ice->remote_eoc) {
			/* Trickle: a later candidate may still work. */
			TB_DEBUG(LOG_CAT, "[%s] every pair failed so far; waiting", ice->name);
			break;
		}
		fail(ice, ice->checking ? "every pair failed"
					: "consent lost: no answer to consent checks for 50 s, "
					  "consent revoked by the peer, or socket closed");
		break;
	default:
		break;
	}
}

static void on_selected_pair(G_GNUC_UNUSED NiceAgent *agent, guint stream_id,
			     G_GNUC_UNUSED guint component_id, NiceCandidate *local,
			     NiceCandidate *remote, gpointer user_data)
{
	tb_ice *ice = user_data;
	char l[96], r[96];
	GSocket *socket;

	if (ice->closed || stream_id != ice->stream_id)
		return;
	/* A publisher's burst (a keyframe at 2.5 Mbps) or a busy worker must
	 * not overflow the default 208 KiB receive buffer: room for ~1 s. */
	socket = nice_agent_get_selected_socket(ice->agent, stream_id, COMPONENT_ID);
	if (socket) {
		g_socket_set_option(socket, SOL_SOCKET, SO_RCVBUF, 1 << 20, NULL);
		g_socket_set_option(socket, SOL_SOCKET, SO_SNDBUF, 1 << 20, NULL);
		g_object_unref(socket);
	}
	if (!tb_log_enabled(LOG_CAT, TB_LOG_INFO))
		return;
	format_candidate(local, l, sizeof(l));
	format_candidate(remote, r, sizeof(r));
	TB_INFO(LOG_CAT, "[%s] selected pair %s <-> %s", ice->name, l, r);
}

/* The packet path: no log, no allocation. */
static void on_receive(G_GNUC_UNUSED NiceAgent *agent, G_GNUC_UNUSED guint stream_id,
		       G_GNUC_UNUSED guint component_id, guint len, gchar *buf, gpointer user_data)
{
	tb_ice *ice = user_data;

	if (ice->closed || ice->cb.receive == NULL || len == 0)
		return;
	ice->n_in++;
	hold(ice);
	ice->cb.receive(ice->user_data, (uint8_t *)buf, len);
	release(ice);
}

/* ---- construction and teardown ---- */

/* Numeric IPv4 (dotted quad only: getaddrinfo alone takes "10.1" too) or
 * IPv6. */
static bool parse_address(const char *text, NiceAddress *addr)
{
	nice_address_init(addr);
	return text != NULL && g_hostname_is_ip_address(text) &&
	       nice_address_set_from_string(addr, text);
}

/* Checks CONFIG before anything is made. */
static bool config_valid(const tb_ice_config *config, GError **error)
{
	NiceAddress addr;

	for (size_t i = 0; config->local_addresses && config->local_addresses[i]; i++) {
		if (!parse_address(config->local_addresses[i], &addr)) {
			g_set_error(error, TB_ICE_ERROR, TB_EINVAL,
				    "local address \"%s\" is not a numeric IP",
				    config->local_addresses[i]);
			return false;
		}
	}
	if (config->public_address && !parse_address(config->public_address, &addr)) {
		g_set_error(error, TB_ICE_ERROR, TB_EINVAL,
			    "public address \"%s\" is not a numeric IP", config->public_address);
		return false;
	}
	if ((config->port_min == 0) != (config->port_max == 0) ||
	    config->port_min > config->port_max) {
		g_set_error(error, TB_ICE_ERROR, TB_EINVAL, "bad UDP port range %u-%u",
			    config->port_min, config->port_max);
		return false;
	}
	if (config->stun_host && !parse_address(config->stun_host, &addr)) {
		g_set_error(error, TB_ICE_ERROR, TB_EINVAL,
			    "STUN server \"%s\" is not a numeric IP", config->stun_host);
		return false;
	}
	if (config->turn_host && (!parse_address(config->turn_host, &addr) ||
				  config->turn_username == NULL || config->turn_password == NULL)) {
		g_set_error(error, TB_ICE_ERROR, TB_EINVAL,
			    "TURN server \"%s\" needs a numeric IP, a username and a password",
			    config->turn_host);
		return false;
	}
	return true;
}

tb_ice *tb_ice_new(GMainContext *ctx, const tb_ice_config *config, const tb_ice_callbacks *cb,
		   void *user_data, GError **error)
{
	tb_ice *ice = NULL;
	NiceAddress addr;

	g_return_val_if_fail(ctx != NULL && config != NULL && cb != NULL, NULL);

	if (!config_valid(config, error))
		goto fail;

	ice = g_new0(tb_ice, 1);
	ice->ctx = g_main_context_ref(ctx);
	ice->cb = *cb;
	ice->user_data = user_data;
	ice->name = g_strdup(config->name ? config->name : "ice");
	ice->connect_timeout_ms = config->connect_timeout_ms ? config->connect_timeout_ms
							     : TB_ICE_DEFAULT_CONNECT_TIMEOUT_MS;
	ice->has_public_address = config->public_address &&
				  parse_address(config->public_address, &ice->public_address);
	ice->nice_state = NICE_COMPONENT_STATE_DISCONNECTED;
	ice->clock = config->clock ? config->clock : tb_clock_default();

	/* No CONSENT_FRESHNESS: see the top of this file. */
	ice->agent = nice_agent_new_full(ctx, NICE_COMPATIBILITY_RFC5245,
					 NICE_AGENT_OPTION_ICE_TRICKLE |
						 NICE_AGENT_OPTION_REGULAR_NOMINATION);
	if (ice->agent == NULL) {
		g_set_error_literal(error, TB_ICE_ERROR, TB_EIO, "nice_agent_new_full failed");
		goto fail;
	}
	g_object_set(ice->agent, "controlling-mode", (gboolean)config->controlling, "ice-tcp",
		     FALSE, "upnp", FALSE, "keepalive-conncheck", TRUE, "stun-pacing-timer",
		     (guint)TA_MS, NULL);
	nice_agent_set_software(ice->agent, "Tribu");
	if (config->stun_host)
		g_object_set(ice->agent, "stun-server", config->stun_host, "stun-server-port",
			     (guint)(config->stun_port ? config->stun_port : DEFAULT_STUN_PORT),
			     NULL);

	/* Given addresses replace libnice's enumeration, which skips loopback. */
	for (size_t i = 0; config->local_addresses && config->local_addresses[i]; i++) {
		parse_address(config->local_addresses[i], &addr);
		if (!nice_agent_add_local_address(ice->agent, &addr)) {
			g_set_error(error, TB_ICE_ERROR, TB_EIO, "cannot add local address %s",
				    config->local_addresses[i]);
			goto fail;
		}
	}

	ice->stream_id = nice_agent_add_stream(ice->agent, 1);
	if (ice->stream_id == 0) {
		g_set_error_literal(error, TB_ICE_ERROR, TB_EIO, "nice_agent_add_stream failed");
		goto fail;
	}
	if (config->port_min != 0)
		nice_agent_set_port_range(ice->agent, ice->stream_id, COMPONENT_ID,
					  config->port_min, config->port_max);
	if (config->turn_host &&
	    !nice_agent_set_relay_info(ice->agent, ice->stream_id, COMPONENT_ID, config->turn_host,
				       config->turn_port ? config->turn_port : DEFAULT_STUN_PORT,
				       config->turn_username, config->turn_password,
				       NICE_RELAY_TYPE_TURN_UDP)) {
		g_set_error(error, TB_ICE_ERROR, TB_EINVAL, "TURN server %s refused by libnice",
			    config->turn_host);
		goto fail;
	}

	g_signal_connect(ice->agent, "new-candidate-full", G_CALLBACK(on_new_candidate), ice);
	g_signal_connect(ice->agent, "candidate-gathering-done", G_CALLBACK(on_gathering_done),
			 ice);
	g_signal_connect(ice->agent, "component-state-changed", G_CALLBACK(on_component_state),
			 ice);
	g_signal_connect(ice->agent, "new-selected-pair-full", G_CALLBACK(on_selected_pair), ice);
	if (!nice_agent_attach_recv(ice->agent, ice->stream_id, COMPONENT_ID, ctx, on_receive,
				    ice)) {
		g_set_error_literal(error, TB_ICE_ERROR, TB_EIO, "nice_agent_attach_recv failed");
		goto fail;
	}
	TB_DEBUG(LOG_CAT, "[%s] new agent (%s)", ice->name,
		 config->controlling ? "controlling" : "controlled");
	return ice;

fail:
	tb_ice_free(ice);
	return NULL;
}

void tb_ice_close(tb_ice *ice)
{
	GMainContext *current;
	bool push;

	if (ice == NULL || ice->closed)
		return;
	ice->closed = true;
	ice->state = TB_ICE_CLOSED;
	ice->checking = false;
	stop_connect_timer(ice);
	stop_consent_timer(ice);
	g_clear_pointer(&ice->queued, g_ptr_array_unref);
	if (ice->agent == NULL)
		return;

	g_signal_handlers_disconnect_by_data(ice->agent, ice);
	if (ice->stream_id != 0)
		nice_agent_attach_recv(ice->agent, ice->stream_id, COMPONENT_ID, ice->ctx, NULL,
				       NULL);
	/* The close task (TURN deallocation) completes on the thread-default
	 * context and holds the agent until then, so the agent is finalised on
	 * the worker even when this runs inside one of its signals. */
	current = g_main_context_ref_thread_default();
	push = current != ice->ctx;
	g_main_context_unref(current);
	if (push)
		g_main_context_push_thread_default(ice->ctx);
	nice_agent_close_async(ice->agent, NULL, NULL);
	if (push)
		g_main_context_pop_thread_default(ice->ctx);
	g_clear_object(&ice->agent);
	TB_DEBUG(LOG_CAT, "[%s] closed", ice->name);
}

void tb_ice_free(tb_ice *ice)
{
	if (ice == NULL || ice->free_pending)
		return;
	tb_ice_close(ice);
	if (ice->depth > 0) {
		ice->free_pending = true;
		return;
	}
	destroy(ice);
}

tb_ice_state tb_ice_get_state(const tb_ice *ice)
{
	g_return_val_if_fail(ice != NULL, TB_ICE_CLOSED);
	return ice->state;
}

/* ---- credentials ---- */

int tb_ice_get_local_credentials(tb_ice *ice, char **ufrag, char **pwd)
{
	g_return_val_if_fail(ice != NULL && ufrag != NULL && pwd != NULL, TB_EINVAL);
	*ufrag = NULL;
	*pwd = NULL;
	if (ice->closed ||
	    !nice_agent_get_local_credentials(ice->agent, ice->stream_id, ufrag, pwd))
		return TB_EIO;
	return 0;
}

/* ice-char = ALPHA / DIGIT / "+" / "/" (RFC 8839). */
static bool ice_chars(const char *s, size_t min, size_t max)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++) {
		if (n >= max || !(g_ascii_isalnum(s[n]) || s[n] == '+' || s[n] == '/'))
			return false;
	}
	return n >= min;
}

static bool ready_for_remote(const tb_ice *ice)
{
	return !ice->closed && ice->remote_ufrag != NULL && ice->gathering_started;
}

/* Applies queued candidates, then a queued end-of-candidates, once remote
 * credentials are set and gathering has started. Runs libnice calls that
 * may emit signals: the caller holds ICE and checks ice->closed after.
 * Returns 0 or TB_EIO. */
static int flush_remote(tb_ice *ice)
{
	GPtrArray *queued;
	GSList *list = NULL;
	int rc = 0;

	if (!ready_for_remote(ice))
		return 0;
	queued = g_steal_pointer(&ice->queued);
	for (guint i = 0; queued && i < queued->len; i++) {
		queued_candidate *q = g_ptr_array_index(queued, i);

		if (q->ufrag != NULL && strcmp(q->ufrag, ice->remote_ufrag) != 0) {
			TB_DEBUG(LOG_CAT, "[%s] dropped a queued candidate of ufrag %s", ice->name,
				 q->ufrag);
			continue;
		}
		list = g_slist_prepend(list, q->candidate);
	}
	list = g_slist_reverse(list);
	if (list != NULL &&
	    nice_agent_set_remote_candidates(ice->agent, ice->stream_id, COMPONENT_ID, list) < 0)
		rc = TB_EIO;
	g_slist_free(list);
	if (queued != NULL)
		g_ptr_array_unref(queued);

	if (rc == 0 && !ice->closed && ice->remote_eoc && !ice->remote_eoc_set) {
		ice->remote_eoc_set = true;
		nice_agent_peer_candidate_gathering_done(ice->agent, ice->stream_id);
	}
	return rc;
}

int tb_ice_set_remote_credentials(tb_ice *ice, const char *ufrag, const char *pwd)
{
	int rc = 0;

	g_return_val_if_fail(ice != NULL, TB_EINVAL);
	if (ice->closed)
		return TB_EIO;
	if (!ice_chars(ufrag, 4, 256) || !ice_chars(pwd, 22, 256))
		return TB_EINVAL;
	if (ice->remote_ufrag != NULL) {
		if (strcmp(ufrag, ice->remote_ufrag) == 0 && strcmp(pwd, ice->remote_pwd) == 0)
			return 0;
		return TB_ECONFLICT;
	}

	hold(ice);
	if (!nice_agent_set_remote_credentials(ice->agent, ice->stream_id, ufrag, pwd)) {
		rc = TB_EIO;
		goto out;
	}
	if (ice->closed)
		goto out;
	ice->remote_ufrag = g_strdup(ufrag);
	ice->remote_pwd = g_strdup(pwd);
	/* Checks may now run (incoming ones were held for the credentials). */
	if (ice->state != TB_ICE_FAILED) {
		ice->checking = true;
		start_connect_timer(ice);
	}
	rc = flush_remote(ice);
out:
	release(ice);
	return rc;
}

/* ---- gathering ---- */

int tb_ice_gather(tb_ice *ice)
{
	GSList *local = NULL;
	int rc = 0;

	g_return_val_if_fail(ice != NULL, TB_EINVAL);
	if (ice->closed)
		return TB_EIO;

	hold(ice);
	if (!ice->gathering_started) {
		ice->gathering_started = true;
		if (!nice_agent_gather_candidates(ice->agent, ice->stream_id)) {
			TB_WARN(LOG_CAT,
				"[%s] no host candidate: check the addresses and port "
				"range",
				ice->name);
			ice->gathering_started = false;
			rc = TB_EIO;
			goto out;
		}
		rc = flush_remote(ice);
		goto out;
	}

	/* Again (after a restart): hand out what we have. */
	local = nice_agent_get_local_candidates(ice->agent, ice->stream_id, COMPONENT_ID);
	for (GSList *l = local; l != NULL && !ice->closed; l = l->next) {
		NiceCandidate *c = l->data;

		if (c->transport == NICE_CANDIDATE_TRANSPORT_UDP &&
		    c->type != NICE_CANDIDATE_TYPE_PEER_REFLEXIVE)
			announce_candidate(ice, c);
	}
	if (!ice->closed && ice->gathering_done && ice->cb.gathering_done != NULL)
		ice->cb.gathering_done(ice->user_data);
out:
	g_slist_free_full(local, (GDestroyNotify)nice_candidate_free);
	release(ice);
	return rc;
}

/* ---- remote candidates ---- */

static bool all_digits(const char *s, size_t max_len)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (n >= max_len || !g_ascii_isdigit(s[n]))
			return false;
	}
	return n > 0;
}

static bool token_chars(const char *s, size_t max_len)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (n >= max_len || !(g_ascii_isalnum(s[n]) || s[n] == '-' || s[n] == '_'))
			return false;
	}
	return n > 0;
}

/* A DNS name (RFC 8839 allows an FQDN as connection-address): labels of
 * letters, digits and '-', the last one not all digits. */
static bool host_name(const char *s)
{
	const char *last = strrchr(s, '.');
	bool letter = false;

	if (strlen(s) > 253)
		return false;
	for (const char *p = s; *p != '\0'; p++) {
		if (!(g_ascii_isalnum(*p) || *p == '-' || *p == '.'))
			return false;
	}
	for (const char *p = last ? last + 1 : s; *p != '\0'; p++)
		letter = letter || g_ascii_isalpha(*p);
	return letter;
}

/* An mDNS name (RFC 8828 hides host IPs behind "<uuid>.local"). */
static bool mdns_name(const char *s)
{
	size_t len = strlen(s);

	if (len > 0 && s[len - 1] == '.')
		len--;
	return len >= 6 && g_ascii_strncasecmp(s + len - 6, ".local", 6) == 0;
}

/* Parses one candidate line (grammar of RFC 8839 §5.1, checked here because
 * libnice's parser reads numbers leniently). Returns 0 with *OUT set to a
 * new NiceCandidate (component 1, UDP) and *UFRAG to its "ufrag" extension
 * or NULL; 0 with *OUT NULL when the candidate is to be ignored; TB_EINVAL
 * when malformed. */
static int parse_candidate(tb_ice *ice, const char *text, NiceCandidate **out, char **ufrag)
{
	static const char *const types[] = {"host", "srflx", "prflx", "relay"};
	char *body = NULL, *line = NULL;
	char **tok = NULL;
	const char *raddr = NULL, *rport = NULL, *why = NULL;
	NiceAddress addr;
	guint n;
	size_t len;
	bool type_ok = false;
	int rc = TB_EINVAL;

	*out = NULL;
	*ufrag = NULL;
	if (g_str_has_prefix(text, "a="))
		text += 2;
	if (!g_str_has_prefix(text, "candidate:"))
		goto out;
	text += strlen("candidate:");
	len = strlen(text);
	while (len > 0 && (text[len - 1] == '\r' || text[len - 1] == '\n'))
		len--;
	if (len == 0 || len > MAX_CANDIDATE_LEN)
		goto out;
	body = g_strndup(text, len);
	for (size_t i = 0; i < len; i++) {
		if ((guchar)body[i] < 0x20 || (guchar)body[i] > 0x7e)
			goto out;
	}

	/* foundation component transport priority address port "typ" type
	 * followed by name/value pairs, single spaces. */
	tok = g_strsplit(body, " ", 0);
	n = g_strv_length(tok);
	if (n < 8 || (n - 8) % 2 != 0)
		goto out;
	for (guint i = 0; i < n; i++) {
		if (tok[i][0] == '\0')
			goto out;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(types); i++)
		type_ok = type_ok || strcmp(tok[7], types[i]) == 0;
	if (!ice_chars(tok[0], 1, 32) || !all_digits(tok[1], 3) || atoi(tok[1]) < 1 ||
	    atoi(tok[1]) > 256 || !token_chars(tok[2], 16) || !all_digits(tok[3], 10) ||
	    g_ascii_strtoull(tok[3], NULL, 10) > G_MAXUINT32 ||
	    g_ascii_strtoull(tok[3], NULL, 10) == 0 || strlen(tok[4]) > 253 ||
	    !all_digits(tok[5], 5) || atoi(tok[5]) < 1 || atoi(tok[5]) > 65535 ||
	    strcmp(tok[6], "typ") != 0 || !type_ok)
		goto out;
	for (guint i = 8; i < n; i += 2) {
		if (!token_chars(tok[i], 32))
			goto out;
		if (strcmp(tok[i], "raddr") == 0)
			raddr = tok[i + 1];
		else if (strcmp(tok[i], "rport") == 0)
			rport = tok[i + 1];
		else if (strcmp(tok[i], "ufrag") == 0)
			*ufrag = g_strdup(tok[i + 1]);
	}

	/* Well formed: from here on a candidate we cannot use is ignored. */
	rc = 0;
	if (strcmp(tok[1], "1") != 0)
		why = "component other than 1 (rtcp-mux only)";
	else if (g_ascii_strcasecmp(tok[2], "udp") != 0)
		why = "not UDP (no ICE-TCP)";
	else if (mdns_name(tok[4]))
		why = "mDNS host name (the peer's checks will show as peer-reflexive)";
	else if (!parse_address(tok[4], &addr))
		why = host_name(tok[4]) ? "host name (not resolved)" : NULL;
	else if (*ufrag != NULL && ice->remote_ufrag != NULL && strcmp(*ufrag, ice->remote_ufrag))
		why = "ufrag of another ICE generation";
	if (why != NULL) {
		TB_DEBUG(LOG_CAT, "[%s] ignored remote candidate %s: %s", ice->name, body, why);
		goto out;
	}
	if (!parse_address(tok[4], &addr)) {
		rc = TB_EINVAL; /* neither an IP nor a host name */
		goto out;
	}

	/* Normalised for libnice: known fields only, "raddr" only when usable. */
	if (raddr != NULL && rport != NULL && all_digits(rport, 5) && atoi(rport) > 0 &&
	    atoi(rport) <= 65535 && parse_address(raddr, &addr))
		line = g_strdup_printf("a=candidate:%s 1 UDP %s %s %s typ %s raddr %s rport %s",
				       tok[0], tok[3], tok[4], tok[5], tok[7], raddr, rport);
	else
		line = g_strdup_printf("a=candidate:%s 1 UDP %s %s %s typ %s", tok[0], tok[3],
				       tok[4], tok[5], tok[7]);
	*out = nice_agent_parse_remote_candidate_sdp(ice->agent, ice->stream_id, line);
	if (*out == NULL)
		rc = TB_EINVAL;
	else
		TB_DEBUG(LOG_CAT, "[%s] remote %s", ice->name, body);
out:
	if (rc < 0 || *out == NULL)
		g_clear_pointer(ufrag, g_free);
	g_strfreev(tok);
	g_free(line);
	g_free(body);
	return rc;
}

int tb_ice_add_remote_candidate(tb_ice *ice, const char *candidate)
{
	NiceCandidate *parsed = NULL;
	char *ufrag = NULL;
	int rc;

	g_return_val_if_fail(ice != NULL, TB_EINVAL);
	if (ice->closed)
		return TB_EIO;
	if (candidate == NULL)
		return TB_EINVAL;

	rc = parse_candidate(ice, candidate, &parsed, &ufrag);
	if (rc < 0 || parsed == NULL)
		goto out;
	if (ice->n_remote >= TB_ICE_MAX_REMOTE_CANDIDATES) {
		/* Once per generation: a peer sending thousands must not
		 * flood the log. */
		if (!ice->cap_logged)
			TB_INFO(LOG_CAT, "[%s] %d remote candidates: ignoring the rest", ice->name,
				TB_ICE_MAX_REMOTE_CANDIDATES);
		ice->cap_logged = true;
		rc = TB_EFULL;
		goto out;
	}
	ice->n_remote++;

	if (!ready_for_remote(ice)) {
		queued_candidate *q = g_new(queued_candidate, 1);

		q->candidate = g_steal_pointer(&parsed);
		q->ufrag = g_steal_pointer(&ufrag);
		if (ice->queued == NULL)
			ice->queued = g_ptr_array_new_with_free_func(queued_candidate_free);
		g_ptr_array_add(ice->queued, q);
		goto out;
	}

	hold(ice);
	{
		GSList one = {.data = parsed, .next = NULL};

		if (nice_agent_set_remote_candidates(ice->agent, ice->stream_id, COMPONENT_ID,
						     &one) < 0)
			rc = TB_EIO;
	}
	release(ice);
out:
	if (parsed != NULL)
		nice_candidate_free(parsed);
	g_free(ufrag);
	return rc;
}

int tb_ice_end_of_candidates(tb_ice *ice)
{
	int rc;

	g_return_val_if_fail(ice != NULL, TB_EINVAL);
	if (ice->closed)
		return TB_EIO;
	ice->remote_eoc = true;

	hold(ice);
	rc = flush_remote(ice);
	/* libnice may have failed every pair before this; it will not say so
	 * again. */
	if (rc == 0 && !ice->closed && ice->checking &&
	    ice->nice_state == NICE_COMPONENT_STATE_FAILED)
		fail(ice, "every pair failed and the peer has no more candidates");
	release(ice);
	return rc;
}

/* ---- sending (packet path: no allocation, no log) ---- */

int tb_ice_send(tb_ice *ice, const uint8_t *buf, size_t len)
{
	if (G_UNLIKELY(ice == NULL || ice->state != TB_ICE_CONNECTED || buf == NULL || len == 0 ||
		       len > G_MAXUINT16))
		return TB_EIO;
	if (G_UNLIKELY(nice_agent_send(ice->agent, ice->stream_id, COMPONENT_ID, (guint)len,
				       (const gchar *)buf) != (gint)len))
		return TB_EIO;
	ice->n_out++;
	return 0;
}

int tb_ice_send_batch(tb_ice *ice, const tb_ice_datagram *datagrams, size_t n)
{
	NiceOutputMessage messages[TB_ICE_BATCH_MAX];
	GOutputVector vectors[TB_ICE_BATCH_MAX];
	size_t sent = 0;

	if (G_UNLIKELY(ice == NULL || ice->state != TB_ICE_CONNECTED ||
		       (datagrams == NULL && n > 0)))
		return TB_EIO;
	n = MIN(n, (size_t)G_MAXINT);
	while (sent < n) {
		guint chunk = (guint)MIN(n - sent, (size_t)TB_ICE_BATCH_MAX);
		GError *error = NULL;
		gint done;

		for (guint i = 0; i < chunk; i++) {
			vectors[i].buffer = datagrams[sent + i].buf;
			vectors[i].size = datagrams[sent + i].len;
			messages[i].buffers = &vectors[i];
			messages[i].n_buffers = 1;
		}
		done = nice_agent_send_messages_nonblocking(
			ice->agent, ice->stream_id, COMPONENT_ID, messages, chunk, NULL, &error);
		if (done < 0) {
			/* Only failures allocate (libnice's GError). */
			bool would_block =
				g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);

			g_error_free(error);
			if (sent == 0 && !would_block)
				return TB_EIO;
			break;
		}
		sent += (size_t)done;
		if ((guint)done < chunk)
			break;
	}
	ice->n_out += sent;
	return (int)sent;
}

/* ---- restart and stats ---- */

int tb_ice_restart(tb_ice *ice)
{
	int rc = 0;

	g_return_val_if_fail(ice != NULL, TB_EINVAL);
	if (ice->closed)
		return TB_EIO;

	hold(ice);
	if (!nice_agent_restart_stream(ice->agent, ice->stream_id)) {
		rc = TB_EIO;
		goto out;
	}
	if (ice->closed)
		goto out;
	g_clear_pointer(&ice->remote_ufrag, g_free);
	g_clear_pointer(&ice->remote_pwd, g_free);
	g_clear_pointer(&ice->queued, g_ptr_array_unref);
	ice->n_remote = 0;
	ice->cap_logged = false;
	ice->remote_eoc = false;
	ice->remote_eoc_set = false;
	ice->checking = false;
	stop_connect_timer(ice);
	if (ice->state != TB_ICE_CONNECTED)
		ice->state = TB_ICE_NEW;
	TB_INFO(LOG_CAT, "[%s] ICE restart", ice->name);
out:
	release(ice);
	return rc;
}

int tb_ice_selected_pair(tb_ice *ice, char *local, size_t local_size, char *remote,
			 size_t remote_size)
{
	NiceCandidate *l = NULL, *r = NULL;

	g_return_val_if_fail(ice != NULL, TB_EINVAL);
	if (local != NULL && local_size > 0)
		local[0] = '\0';
	if (remote != NULL && remote_size > 0)
		remote[0] = '\0';
	if (ice->closed)
		return TB_EIO;
	/* transfer none: libnice's own candidates */
	if (!nice_agent_get_selected_pair(ice->agent, ice->stream_id, COMPONENT_ID, &l, &r))
		return TB_ENOENT;
	format_candidate(l, local, local_size);
	format_candidate(r, remote, remote_size);
	return 0;
}
