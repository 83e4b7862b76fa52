/* fake-transport.c — see fake-transport.h. */
#include <glib.h>
#include <string.h>

#include "common.h"
#include "fake-transport.h"
#include "srtp.h"

struct tb_transport {
	tb_transport_callbacks cb;
	void *user_data;
	tb_transport_state state;
	tb_transport_stats stats;
	bool remote_set;
};

static tb_fake_transport_sink sink;

void tb_fake_transport_set_sink(tb_fake_transport_sink func)
{
	sink = func;
}

const char *tb_transport_state_to_string(tb_transport_state state)
{
	static const char *const names[] = {"new", "connecting", "connected", "failed", "closed"};

	return (unsigned)state < G_N_ELEMENTS(names) ? names[state] : "?";
}

tb_transport *tb_transport_new(GMainContext *ctx, tb_dtls_identity *identity,
			       const tb_ice_config *ice_config, const char *name,
			       const tb_transport_callbacks *cb, void *user_data, GError **error)
{
	tb_transport *t = g_new0(tb_transport, 1);

	t->cb = *cb;
	t->user_data = user_data;
	return t;
}

int tb_transport_local_credentials(tb_transport *t, char **ufrag, char **pwd)
{
	*ufrag = g_strdup("fake");
	*pwd = g_strdup("fakepassword0123456789ab");
	return 0;
}

int tb_transport_set_remote(tb_transport *t, const char *ufrag, const char *pwd,
			    const char *fingerprint_alg, const char *fingerprint, tb_dtls_role role)
{
	if (!ufrag || !pwd || !fingerprint)
		return TB_EINVAL;
	t->remote_set = true;
	return 0;
}

int tb_transport_add_remote_candidate(tb_transport *t, const char *candidate)
{
	return 0;
}

static int send_packet(tb_transport *t, bool rtcp, uint8_t *buf, size_t len, size_t cap)
{
	if (t->state != TB_TRANSPORT_CONNECTED)
		return TB_EIO;
	if (len + TB_SRTP_MAX_TRAILER > cap)
		g_error("%s of %zu octets sent in a buffer of %zu: no room for SRTP",
			rtcp ? "RTCP" : "RTP", len, cap);
	t->stats.packets_out++;
	t->stats.bytes_out += len;
	if (sink)
		sink(t->user_data, rtcp, buf, len, cap);
	return 0;
}

int tb_transport_send_rtp(tb_transport *t, uint8_t *buf, size_t len, size_t cap)
{
	return send_packet(t, false, buf, len, cap);
}

int tb_transport_send_rtcp(tb_transport *t, uint8_t *buf, size_t len, size_t cap)
{
	return send_packet(t, true, buf, len, cap);
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
	g_strlcpy(local, "", local_len);
	g_strlcpy(remote, "", remote_len);
}

const char *tb_transport_srtp_profile(const tb_transport *t)
{
	return t->state == TB_TRANSPORT_CONNECTED ? "SRTP_AEAD_AES_128_GCM" : NULL;
}

void tb_transport_free(tb_transport *t)
{
	g_free(t);
}

void tb_fake_transport_set_state(tb_transport *t, tb_transport_state state)
{
	t->state = state;
	if (t->cb.state)
		t->cb.state(t->user_data, state, NULL);
}

void tb_fake_transport_receive(tb_transport *t, bool rtcp, uint8_t *buf, size_t len)
{
	t->stats.packets_in++;
	t->stats.bytes_in += len;
	if (rtcp)
		t->cb.rtcp(t->user_data, buf, len);
	else
		t->cb.rtp(t->user_data, buf, len);
}
