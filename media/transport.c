/* transport.c — ICE + DTLS + SRTP for one PeerConnection.
 *
 * Worker thread only. Received datagrams are classified by their first byte
 * (RFC 7983): DTLS records go to the handshake, SRTP/SRTCP are decrypted in
 * libnice's buffer and handed up; anything else is dropped and counted.
 * Outgoing packets are protected in the caller's buffer and sent at once.
 */
#include <string.h>

#include "common.h"
#include "demux.h"
#include "srtp.h"
#include "transport.h"

#define CAT "media.transport"

struct tb_transport {
	GMainContext *ctx;
	tb_dtls_identity *identity;
	tb_ice *ice;
	tb_dtls *dtls;
	tb_srtp *srtp;
	tb_srtp_profile profile;
	char *name;
	char *fingerprint_alg;
	char *fingerprint;
	tb_dtls_role role;
	bool remote_set;
	bool dtls_started;
	tb_transport_state state;
	tb_ice_state ice_state;
	tb_transport_callbacks cb;
	void *user_data;
	tb_transport_stats stats;
};

const char *tb_transport_state_to_string(tb_transport_state state)
{
	switch (state) {
	case TB_TRANSPORT_NEW:
		return "new";
	case TB_TRANSPORT_CONNECTING:
		return "connecting";
	case TB_TRANSPORT_CONNECTED:
		return "connected";
	case TB_TRANSPORT_FAILED:
		return "failed";
	case TB_TRANSPORT_CLOSED:
		return "closed";
	}
	return "unknown";
}

static void set_state(tb_transport *t, tb_transport_state state, const char *reason)
{
	if (t->state == state || t->state == TB_TRANSPORT_FAILED || t->state == TB_TRANSPORT_CLOSED)
		return;
	t->state = state;
	if (state == TB_TRANSPORT_FAILED)
		TB_INFO(CAT, "[%s] failed: %s", t->name, reason ? reason : "?");
	else
		TB_DEBUG(CAT, "[%s] %s", t->name, tb_transport_state_to_string(state));
	if (t->cb.state)
		t->cb.state(t->user_data, state, reason);
}

/* ---- DTLS ---- */

static void dtls_send(void *user_data, const uint8_t *data, size_t len)
{
	tb_transport *t = user_data;

	if (tb_ice_send(t->ice, data, len) == 0) {
		t->stats.packets_out++;
		t->stats.bytes_out += len;
	}
}

static void dtls_connected(void *user_data, const tb_srtp_keys *keys)
{
	tb_transport *t = user_data;
	GError *error = NULL;

	t->srtp = tb_srtp_new(keys, &error);
	if (!t->srtp) {
		set_state(t, TB_TRANSPORT_FAILED, error ? error->message : "SRTP setup failed");
		g_clear_error(&error);
		return;
	}
	t->profile = keys->profile;
	t->stats.connected_at_us = g_get_monotonic_time();
	TB_INFO(CAT, "[%s] connected (%s)", t->name, tb_srtp_profile_name(keys->profile));
	set_state(t, TB_TRANSPORT_CONNECTED, NULL);
}

static void dtls_failed(void *user_data, const char *reason)
{
	tb_transport *t = user_data;
	char message[160];

	g_snprintf(message, sizeof(message), "DTLS: %s", reason);
	set_state(t, TB_TRANSPORT_FAILED, message);
}

static const tb_dtls_callbacks dtls_callbacks = {
	.send = dtls_send,
	.connected = dtls_connected,
	.failed = dtls_failed,
};

static void maybe_start_dtls(tb_transport *t)
{
	if (!t->dtls || t->dtls_started || t->ice_state != TB_ICE_CONNECTED)
		return;
	t->dtls_started = true;
	tb_dtls_start(t->dtls);
}

/* ---- ICE ---- */

static void ice_candidate(void *user_data, const char *candidate)
{
	tb_transport *t = user_data;

	if (t->cb.local_candidate)
		t->cb.local_candidate(t->user_data, candidate);
}

static void ice_gathering_done(void *user_data)
{
	tb_transport *t = user_data;

	if (t->cb.local_candidate)
		t->cb.local_candidate(t->user_data, NULL);
}

static void ice_state(void *user_data, tb_ice_state state)
{
	tb_transport *t = user_data;

	t->ice_state = state;
	switch (state) {
	case TB_ICE_CHECKING:
		set_state(t, TB_TRANSPORT_CONNECTING, NULL);
		break;
	case TB_ICE_CONNECTED:
		if (t->state == TB_TRANSPORT_NEW)
			set_state(t, TB_TRANSPORT_CONNECTING, NULL);
		maybe_start_dtls(t);
		break;
	case TB_ICE_FAILED:
		set_state(t, TB_TRANSPORT_FAILED,
			  t->state == TB_TRANSPORT_CONNECTED ? "ICE: consent lost" : "ICE failed");
		break;
	default:
		break;
	}
}

static void ice_receive(void *user_data, uint8_t *buf, size_t len)
{
	tb_transport *t = user_data;
	size_t plain = len;

	switch (tb_demux_classify(buf, len)) {
	case TB_DEMUX_DTLS:
		if (t->dtls) {
			/* A peer that is DTLS client may send its ClientHello
			 * before our ICE state says connected: take it. */
			if (!t->dtls_started && t->role == TB_DTLS_SERVER)
				t->dtls_started = tb_dtls_start(t->dtls) == 0;
			tb_dtls_handle_datagram(t->dtls, buf, len);
		} else {
			t->stats.dropped_in++;
		}
		return;
	case TB_DEMUX_RTP:
		if (!t->srtp || tb_srtp_unprotect_rtp(t->srtp, buf, &plain) < 0)
			break;
		t->stats.packets_in++;
		t->stats.bytes_in += len;
		if (t->cb.rtp)
			t->cb.rtp(t->user_data, buf, plain);
		return;
	case TB_DEMUX_RTCP:
		if (!t->srtp || tb_srtp_unprotect_rtcp(t->srtp, buf, &plain) < 0)
			break;
		t->stats.packets_in++;
		t->stats.bytes_in += len;
		if (t->cb.rtcp)
			t->cb.rtcp(t->user_data, buf, plain);
		return;
	default:
		break;
	}
	t->stats.dropped_in++;
	if (t->srtp)
		t->stats.replayed_in = tb_srtp_replayed(t->srtp);
}

static const tb_ice_callbacks ice_callbacks = {
	.local_candidate = ice_candidate,
	.gathering_done = ice_gathering_done,
	.state = ice_state,
	.receive = ice_receive,
};

tb_transport *tb_transport_new(GMainContext *ctx, tb_dtls_identity *identity,
			       const tb_ice_config *ice_config, const char *name,
			       const tb_transport_callbacks *cb, void *user_data, GError **error)
{
	tb_transport *t = g_new0(tb_transport, 1);
	tb_ice_config config = *ice_config;

	t->ctx = g_main_context_ref(ctx);
	t->identity = tb_dtls_identity_ref(identity);
	t->name = g_strdup(name ? name : "pc");
	t->cb = *cb;
	t->user_data = user_data;
	config.name = t->name;
	t->ice = tb_ice_new(ctx, &config, &ice_callbacks, t, error);
	if (!t->ice)
		goto fail;
	if (tb_ice_gather(t->ice) < 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "ICE gathering failed");
		goto fail;
	}
	return t;
fail:
	tb_transport_free(t);
	return NULL;
}

int tb_transport_local_credentials(tb_transport *t, char **ufrag, char **pwd)
{
	return tb_ice_get_local_credentials(t->ice, ufrag, pwd);
}

int tb_transport_set_remote(tb_transport *t, const char *ufrag, const char *pwd,
			    const char *fingerprint_alg, const char *fingerprint, tb_dtls_role role)
{
	int rc;

	if (!ufrag || !pwd || !fingerprint_alg || !fingerprint)
		return TB_EINVAL;
	if (t->remote_set) {
		if (role != t->role || g_ascii_strcasecmp(fingerprint, t->fingerprint) != 0 ||
		    g_ascii_strcasecmp(fingerprint_alg, t->fingerprint_alg) != 0)
			return TB_ECONFLICT;
		rc = tb_ice_set_remote_credentials(t->ice, ufrag, pwd);
		if (rc == TB_ECONFLICT) {
			/* The peer restarted ICE: follow with new credentials. */
			rc = tb_ice_restart(t->ice);
			if (rc == 0)
				rc = tb_ice_gather(t->ice);
			if (rc == 0)
				rc = tb_ice_set_remote_credentials(t->ice, ufrag, pwd);
		}
		return rc;
	}
	t->dtls = tb_dtls_new(t->identity, t->ctx, role, fingerprint_alg, fingerprint,
			      &dtls_callbacks, t);
	if (!t->dtls)
		return TB_EINVAL;
	tb_dtls_set_log_label(t->dtls, t->name);
	t->role = role;
	t->fingerprint_alg = g_strdup(fingerprint_alg);
	t->fingerprint = g_strdup(fingerprint);
	t->remote_set = true;
	rc = tb_ice_set_remote_credentials(t->ice, ufrag, pwd);
	if (rc < 0)
		return rc;
	maybe_start_dtls(t);
	return 0;
}

int tb_transport_add_remote_candidate(tb_transport *t, const char *candidate)
{
	if (!candidate || !*candidate || strcmp(candidate, "a=end-of-candidates") == 0 ||
	    strcmp(candidate, "end-of-candidates") == 0)
		return tb_ice_end_of_candidates(t->ice);
	return tb_ice_add_remote_candidate(t->ice, candidate);
}

int tb_transport_send_rtp(tb_transport *t, uint8_t *buf, size_t len, size_t cap)
{
	if (!t->srtp || t->state != TB_TRANSPORT_CONNECTED ||
	    tb_srtp_protect_rtp(t->srtp, buf, &len, cap) < 0 || tb_ice_send(t->ice, buf, len) < 0) {
		t->stats.dropped_out++;
		return TB_EIO;
	}
	t->stats.packets_out++;
	t->stats.bytes_out += len;
	return 0;
}

int tb_transport_send_rtcp(tb_transport *t, uint8_t *buf, size_t len, size_t cap)
{
	if (!t->srtp || t->state != TB_TRANSPORT_CONNECTED ||
	    tb_srtp_protect_rtcp(t->srtp, buf, &len, cap) < 0 ||
	    tb_ice_send(t->ice, buf, len) < 0) {
		t->stats.dropped_out++;
		return TB_EIO;
	}
	t->stats.packets_out++;
	t->stats.bytes_out += len;
	return 0;
}

tb_transport_state tb_transport_get_state(const tb_transport *t)
{
	return t->state;
}

const tb_transport_stats *tb_transport_get_stats(const tb_transport *t)
{
	return &t->stats;
}

void tb_transport_selected_pair(tb_transport *t, char *local, size_t local_len, char *remote,
				size_t remote_len)
{
	if (local_len)
		local[0] = 0;
	if (remote_len)
		remote[0] = 0;
	if (t->ice)
		tb_ice_selected_pair(t->ice, local, local_len, remote, remote_len);
}

const char *tb_transport_srtp_profile(const tb_transport *t)
{
	return t->srtp ? tb_srtp_profile_name(t->profile) : NULL;
}

void tb_transport_free(tb_transport *t)
{
	if (!t)
		return;
	t->cb = (tb_transport_callbacks){0};
	if (t->dtls) {
		tb_dtls_close(t->dtls);
		tb_dtls_free(t->dtls);
	}
	tb_ice_free(t->ice);
	tb_srtp_free(t->srtp);
	tb_dtls_identity_unref(t->identity);
	g_main_context_unref(t->ctx);
	g_free(t->fingerprint_alg);
	g_free(t->fingerprint);
	g_free(t->name);
	g_free(t);
}
