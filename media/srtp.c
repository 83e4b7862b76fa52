/* srtp.c — libsrtp2 sessions for one PeerConnection.
 *
 * Two srtp_t per tb_srtp: libsrtp picks the stream by SSRC, and one session
 * with both an ssrc_any_outbound and an ssrc_any_inbound template is not
 * allowed, so the outbound (local key) and inbound (remote key) sides are
 * separate sessions. Runs on the worker thread that owns the PeerConnection.
 *
 * Debian's libsrtp2 is built on NSS: AEAD_AES_128_GCM costs about a fifth of
 * AES_CM_128_HMAC_SHA1_80 per packet, which is why dtls.c prefers GCM.
 *
 * This file does not log on the packet path and does not count drops.
 */
#include "srtp.h"

#include "common.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <srtp2/srtp.h>
#include <string.h>

#define LOG_CAT "media.srtp"
#define REPLAY_WINDOW 1024
#define RTP_HEADER_LEN 12
#define RTCP_HEADER_LEN 8
#define SRTCP_INDEX_LEN 4

G_STATIC_ASSERT(TB_SRTP_MAX_TRAILER >= SRTP_MAX_TAG_LEN + SRTCP_INDEX_LEN);
G_STATIC_ASSERT(TB_SRTP_MAX_KEY_LEN + TB_SRTP_MAX_SALT_LEN >= SRTP_AES_ICM_128_KEY_LEN_WSALT);
G_STATIC_ASSERT(TB_SRTP_MAX_KEY_LEN + TB_SRTP_MAX_SALT_LEN >= SRTP_AES_GCM_128_KEY_LEN_WSALT);

struct tb_srtp {
	srtp_t outbound;
	srtp_t inbound;
	tb_srtp_profile profile;
	size_t rtp_trailer;  /* octets protect_rtp appends */
	size_t rtcp_trailer; /* octets protect_rtcp appends */
};

// clang-format off
G_DEFINE_QUARK(tb-srtp-error-quark, tb_srtp_error)
// clang-format on

const char *tb_srtp_profile_name(tb_srtp_profile profile)
{
	switch (profile) {
	case TB_SRTP_AES128_CM_SHA1_80:
		return "SRTP_AES128_CM_SHA1_80";
	case TB_SRTP_AEAD_AES_128_GCM:
		return "SRTP_AEAD_AES_128_GCM";
	}
	return "unknown";
}

int tb_srtp_profile_lengths(tb_srtp_profile profile, size_t *key_len, size_t *salt_len)
{
	switch (profile) {
	case TB_SRTP_AES128_CM_SHA1_80:
		*key_len = SRTP_AES_128_KEY_LEN;
		*salt_len = SRTP_SALT_LEN;
		return 0;
	case TB_SRTP_AEAD_AES_128_GCM:
		*key_len = SRTP_AES_128_KEY_LEN;
		*salt_len = SRTP_AEAD_SALT_LEN;
		return 0;
	}
	return TB_EINVAL;
}

/* srtp_init() result + 1, so that 0 means "not run yet" for g_once. */
static gsize init_status;

int tb_srtp_global_init(void)
{
	if (g_once_init_enter(&init_status)) {
		srtp_err_status_t status = srtp_init();

		if (status != srtp_err_status_ok)
			TB_ERROR(LOG_CAT, "srtp_init failed: status %d", (int)status);
		g_once_init_leave(&init_status, (gsize)status + 1);
	}
	return init_status == (gsize)srtp_err_status_ok + 1 ? 0 : TB_EIO;
}

/* Fills POLICY for one direction; MASTER is key || salt as libsrtp wants it. */
static void make_policy(srtp_policy_t *policy, tb_srtp_profile profile, srtp_ssrc_type_t direction,
			unsigned char *master)
{
	memset(policy, 0, sizeof(*policy));
	if (profile == TB_SRTP_AEAD_AES_128_GCM) {
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtcp);
	} else {
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->rtcp);
	}
	policy->ssrc.type = direction;
	policy->key = master;
	policy->window_size = REPLAY_WINDOW;
	/* A NACKed packet is re-sent with its original sequence number and the
	 * same payload; libsrtp would otherwise refuse the second protect. */
	policy->allow_repeat_tx = 1;
}

static int create_session(srtp_t *session, tb_srtp_profile profile, srtp_ssrc_type_t direction,
			  const uint8_t *key, const uint8_t *salt, size_t key_len, size_t salt_len)
{
	unsigned char master[TB_SRTP_MAX_KEY_LEN + TB_SRTP_MAX_SALT_LEN];
	srtp_policy_t policy;
	srtp_err_status_t status;

	memcpy(master, key, key_len);
	memcpy(master + key_len, salt, salt_len);
	make_policy(&policy, profile, direction, master);
	status = srtp_create(session, &policy);
	/* libsrtp derived its session keys; the master key is not kept. */
	OPENSSL_cleanse(master, sizeof(master));
	if (status != srtp_err_status_ok) {
		*session = NULL;
		return (int)status;
	}
	return 0;
}

tb_srtp *tb_srtp_new(const tb_srtp_keys *keys, GError **error)
{
	tb_srtp *srtp = NULL;
	size_t key_len, salt_len;
	int status;

	g_return_val_if_fail(keys != NULL, NULL);

	if (tb_srtp_global_init() != 0) {
		g_set_error(error, TB_SRTP_ERROR, TB_EIO, "libsrtp initialisation failed");
		goto fail;
	}
	if (tb_srtp_profile_lengths(keys->profile, &key_len, &salt_len) != 0) {
		g_set_error(error, TB_SRTP_ERROR, TB_EINVAL, "unsupported SRTP profile %d",
			    (int)keys->profile);
		goto fail;
	}
	if (keys->key_len != key_len || keys->salt_len != salt_len) {
		g_set_error(error, TB_SRTP_ERROR, TB_EINVAL,
			    "%s needs a %zu-octet key and a %zu-octet salt, got %zu and %zu",
			    tb_srtp_profile_name(keys->profile), key_len, salt_len, keys->key_len,
			    keys->salt_len);
		goto fail;
	}

	srtp = g_new0(tb_srtp, 1);
	srtp->profile = keys->profile;
	if (keys->profile == TB_SRTP_AEAD_AES_128_GCM)
		srtp->rtp_trailer = 16;
	else
		srtp->rtp_trailer = 10;
	srtp->rtcp_trailer = srtp->rtp_trailer + SRTCP_INDEX_LEN;

	status = create_session(&srtp->outbound, keys->profile, ssrc_any_outbound, keys->local_key,
				keys->local_salt, key_len, salt_len);
	if (status == 0)
		status = create_session(&srtp->inbound, keys->profile, ssrc_any_inbound,
					keys->remote_key, keys->remote_salt, key_len, salt_len);
	if (status != 0) {
		g_set_error(error, TB_SRTP_ERROR, TB_EIO, "srtp_create failed: status %d", status);
		goto fail;
	}
	return srtp;

fail:
	tb_srtp_free(srtp);
	return NULL;
}

void tb_srtp_free(tb_srtp *srtp)
{
	if (srtp == NULL)
		return;
	/* srtp_dealloc zeroes the session keys before freeing them. */
	if (srtp->outbound != NULL)
		srtp_dealloc(srtp->outbound);
	if (srtp->inbound != NULL)
		srtp_dealloc(srtp->inbound);
	g_free(srtp);
}

/* Maps a libsrtp status to a TB_E* code. Anything but an allocation failure
 * on the receive side is the peer's doing, hence TB_EINVAL. */
static int map_status(srtp_err_status_t status, bool inbound)
{
	switch (status) {
	case srtp_err_status_ok:
		return 0;
	case srtp_err_status_alloc_fail:
		return TB_ENOMEM;
	case srtp_err_status_auth_fail:
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
	case srtp_err_status_bad_param:
	case srtp_err_status_parse_err:
		return TB_EINVAL;
	default:
		return inbound ? TB_EINVAL : TB_EIO;
	}
}

int tb_srtp_protect_rtp(tb_srtp *srtp, uint8_t *buf, size_t *len, size_t cap)
{
	int n;

	if (G_UNLIKELY(*len < RTP_HEADER_LEN || *len > INT_MAX - TB_SRTP_MAX_TRAILER ||
		       cap < *len || cap - *len < srtp->rtp_trailer))
		return TB_EINVAL;
	n = (int)*len;
	int rc = map_status(srtp_protect(srtp->outbound, buf, &n), false);
	if (rc == 0)
		*len = (size_t)n;
	return rc;
}

int tb_srtp_unprotect_rtp(tb_srtp *srtp, uint8_t *buf, size_t *len)
{
	int n;

	if (G_UNLIKELY(*len < RTP_HEADER_LEN + srtp->rtp_trailer || *len > INT_MAX))
		return TB_EINVAL;
	n = (int)*len;
	int rc = map_status(srtp_unprotect(srtp->inbound, buf, &n), true);
	if (rc == 0)
		*len = (size_t)n;
	return rc;
}

int tb_srtp_protect_rtcp(tb_srtp *srtp, uint8_t *buf, size_t *len, size_t cap)
{
	int n;

	if (G_UNLIKELY(*len < RTCP_HEADER_LEN || *len > INT_MAX - TB_SRTP_MAX_TRAILER ||
		       cap < *len || cap - *len < srtp->rtcp_trailer))
		return TB_EINVAL;
	n = (int)*len;
	int rc = map_status(srtp_protect_rtcp(srtp->outbound, buf, &n), false);
	if (rc == 0)
		*len = (size_t)n;
	return rc;
}

int tb_srtp_unprotect_rtcp(tb_srtp *srtp, uint8_t *buf, size_t *len)
{
	int n;

	if (G_UNLIKELY(*len < RTCP_HEADER_LEN + srtp->rtcp_trailer || *len > INT_MAX))
		return TB_EINVAL;
	n = (int)*len;
	int rc = map_status(srtp_unprotect_rtcp(srtp->inbound, buf, &n), true);
	if (rc == 0)
		*len = (size_t)n;
	return rc;
}
