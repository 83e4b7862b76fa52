/* srtp.c — SRTP/SRTCP for one PeerConnection: OpenSSL for GCM, libsrtp2 for CM.
 *
 * Two engines behind one API:
 *
 * - SRTP_AEAD_AES_128_GCM (what browsers negotiate with us, dtls.c prefers
 *   it) runs on an engine of our own over OpenSSL's EVP AES-GCM (RFC 7714).
 *   Debian's libsrtp2 is built on NSS, whose one-shot PK11_Encrypt makes and
 *   frees a PKCS#11 context per packet (3 calloc, 5 free, a lock; see
 *   docs/performance.md). Here each direction keeps two EVP_CIPHER_CTX (RTP
 *   and RTCP) keyed once in tb_srtp_new(); a packet only sets the IV, feeds
 *   the AAD and the payload, and gets or checks the tag. Nothing is allocated
 *   per packet.
 * - SRTP_AES128_CM_SHA1_80, and GCM when TRIBU_SRTP_BACKEND=libsrtp (or when
 *   built with -DTB_SRTP_GCM_DEFAULT_LIBSRTP), runs on libsrtp2: two srtp_t
 *   per tb_srtp, since one session with both an ssrc_any_outbound and an
 *   ssrc_any_inbound template is not allowed.
 *
 * The GCM engine behaves as libsrtp does with the policy made below, so that
 * either end can be libsrtp (Chrome's is): the session keys come from the
 * AES-CM PRF of RFC 3711 §4.3 (the 12-octet master salt padded with two zero
 * octets, RFC 7714 erratum 4938); the packet index is estimated as libsrtp's
 * srtp_rdbx_estimate_index() does (RFC 3711 Appendix A; a new stream starts
 * at ROC 0); a replay window of REPLAY_WINDOW packets per stream for inbound
 * RTP and SRTCP, and for outbound RTP a window that lets a sequence number be
 * protected again (NACK retransmissions, libsrtp's allow_repeat_tx) but
 * refuses one older than the window; the first SRTCP index sent is 1. Where
 * it differs: the SRTCP replay window is REPLAY_WINDOW wide (libsrtp's is
 * 128), and a stream table is bounded (STREAMS_MAX, then the least recently
 * used stream is replaced; libsrtp's list grows without bound).
 *
 * Streams: one gcm_stream per SSRC and direction, found through a small
 * open-addressing hash. STREAMS_INITIAL of them are allocated with the
 * session; a session that meets more SSRCs doubles its table (an allocation
 * per new SSRC at most, as libsrtp makes), up to STREAMS_MAX. An inbound
 * stream is created only once a packet of its SSRC has authenticated, so a
 * forger cannot fill the table.
 *
 * Runs on the worker thread that owns the PeerConnection. This file does not
 * log on the packet path and does not count drops (one warning per session
 * the first time a full stream table replaces a stream).
 */
#include "srtp.h"

#include "common.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <srtp2/srtp.h>
#include <string.h>

#define LOG_CAT             "media.srtp"
#define REPLAY_WINDOW       1024
#define RTP_HEADER_LEN      12
#define RTCP_HEADER_LEN     8
#define SRTCP_INDEX_LEN     4
#define GCM_SRTCP_E_BIT     0x80000000u
#define GCM_SRTCP_INDEX_MAX 0x7fffffffu

#define GCM_KEY_LEN  16
#define GCM_SALT_LEN 12
#define GCM_IV_LEN   12
#define GCM_TAG_LEN  16

/* RFC 3711 §4.3.1 key derivation labels. */
#define LABEL_RTP_KEY   0x00
#define LABEL_RTP_SALT  0x02
#define LABEL_RTCP_KEY  0x03
#define LABEL_RTCP_SALT 0x05

#define STREAMS_INITIAL 32
#define STREAMS_MAX     256
#define SLOT_EMPTY      UINT16_MAX
#define WINDOW_WORDS    (REPLAY_WINDOW / 64)

G_STATIC_ASSERT(TB_SRTP_MAX_TRAILER >= SRTP_MAX_TAG_LEN + SRTCP_INDEX_LEN);
G_STATIC_ASSERT(TB_SRTP_MAX_TRAILER >= GCM_TAG_LEN + SRTCP_INDEX_LEN);
G_STATIC_ASSERT(TB_SRTP_MAX_KEY_LEN + TB_SRTP_MAX_SALT_LEN >= SRTP_AES_ICM_128_KEY_LEN_WSALT);
G_STATIC_ASSERT(TB_SRTP_MAX_KEY_LEN + TB_SRTP_MAX_SALT_LEN >= SRTP_AES_GCM_128_KEY_LEN_WSALT);
G_STATIC_ASSERT((REPLAY_WINDOW & (REPLAY_WINDOW - 1)) == 0 && REPLAY_WINDOW % 64 == 0);
G_STATIC_ASSERT(STREAMS_MAX < SLOT_EMPTY && (STREAMS_MAX & (STREAMS_MAX - 1)) == 0);

/* Internal entry points for tests/unit/media/test-srtp.c, which declares
 * them itself; not part of the API in srtp.h. */
int tb_srtp_kdf_aes_cm(const uint8_t *master_key, size_t key_len, const uint8_t *master_salt,
		       size_t salt_len, uint8_t label, uint8_t *out, size_t out_len);
tb_srtp *tb_srtp_new_gcm_session_keys(const tb_srtp_keys *keys);
const char *tb_srtp_backend_name(const tb_srtp *srtp);
guint64 tb_srtp_evictions(const tb_srtp *srtp);

/* One SSRC in one direction. Replay windows are rings of REPLAY_WINDOW bits:
 * bit (i % REPLAY_WINDOW) says whether index i was seen, for the indices in
 * (top - REPLAY_WINDOW, top]. */
typedef struct gcm_stream {
	uint32_t ssrc;
	uint64_t rtp_top;  /* highest RTP index (ROC << 16 | SEQ) taken; 0 at start */
	uint64_t rtcp_top; /* outbound: last SRTCP index sent; inbound: highest taken */
	uint64_t last_use; /* the direction's packet count at the last packet, for LRU */
	uint64_t rtp_seen[WINDOW_WORDS];
	uint64_t rtcp_seen[WINDOW_WORDS]; /* inbound only */
} gcm_stream;

/* One direction (local key: outbound; remote key: inbound). */
typedef struct gcm_dir {
	EVP_CIPHER_CTX *rtp; /* AES-128-GCM keyed with the session key, encrypt or decrypt */
	EVP_CIPHER_CTX *rtcp;
	uint8_t rtp_salt[GCM_SALT_LEN];
	uint8_t rtcp_salt[GCM_SALT_LEN];
	gcm_stream *streams; /* n_streams used of cap_streams */
	unsigned n_streams, cap_streams;
	uint16_t *slots;    /* hash of SSRC -> index in streams, SLOT_EMPTY; 2 * cap_streams */
	unsigned slot_bits; /* log2 of the number of slots */
	uint64_t packets;   /* LRU clock */
	unsigned recent[2]; /* the last two streams used (checked: may be stale) */
	uint64_t evictions;
	uint64_t replayed; /* inbound packets refused by the replay window */
	bool inbound;
} gcm_dir;

typedef enum { BACKEND_LIBSRTP, BACKEND_OPENSSL_GCM } srtp_backend;

struct tb_srtp {
	tb_srtp_profile profile;
	srtp_backend backend;
	size_t rtp_trailer;  /* octets protect_rtp appends */
	size_t rtcp_trailer; /* octets protect_rtcp appends */
	/* BACKEND_LIBSRTP */
	srtp_t outbound;
	srtp_t inbound;
	uint64_t replayed; /* inbound replay_fail / replay_old */
	/* BACKEND_OPENSSL_GCM */
	gcm_dir tx;
	gcm_dir rx;
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

/* The engine for the GCM profile: TRIBU_SRTP_BACKEND=libsrtp or =openssl,
 * else the build's default. Read at every tb_srtp_new() (once per DTLS
 * handshake), so that a test or benchmark can compare both in one process. */
static srtp_backend gcm_backend(void)
{
#ifdef TB_SRTP_GCM_DEFAULT_LIBSRTP
	srtp_backend fallback = BACKEND_LIBSRTP;
#else
	srtp_backend fallback = BACKEND_OPENSSL_GCM;
#endif
	static gint warned;
	const char *value = g_getenv("TRIBU_SRTP_BACKEND");

	if (value == NULL || *value == '\0')
		return fallback;
	if (g_ascii_strcasecmp(value, "libsrtp") == 0)
		return BACKEND_LIBSRTP;
	if (g_ascii_strcasecmp(value, "openssl") == 0)
		return BACKEND_OPENSSL_GCM;
	if (g_atomic_int_compare_and_exchange(&warned, 0, 1))
		TB_WARN(LOG_CAT, "TRIBU_SRTP_BACKEND=%s is neither libsrtp nor openssl: ignored",
			value);
	return fallback;
}

/* ---- libsrtp backend ---- */

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

/* ---- key derivation (RFC 3711 §4.3.1, AES-CM PRF, key_derivation_rate 0) ---- */

/* Writes OUT_LEN octets of the PRF for LABEL: the AES-CTR keystream under
 * MASTER_KEY from the block x || 0x0000, where x is the master salt (padded
 * with zero octets to 14, i.e. a 12-octet GCM salt times 2^16) with LABEL
 * xored into its octet 7 (key_id = label || r, r = 0). KEY_LEN is 16 or 32.
 * Returns 0 or TB_EINVAL / TB_EIO. */
int tb_srtp_kdf_aes_cm(const uint8_t *master_key, size_t key_len, const uint8_t *master_salt,
		       size_t salt_len, uint8_t label, uint8_t *out, size_t out_len)
{
	uint8_t block[16] = {0};
	const EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *ctx;
	int n, rc = TB_EIO;

	if (salt_len > 14 || out_len > INT_MAX)
		return TB_EINVAL;
	if (key_len == 16)
		cipher = EVP_aes_128_ctr();
	else if (key_len == 32)
		cipher = EVP_aes_256_ctr();
	else
		return TB_EINVAL;
	memcpy(block, master_salt, salt_len);
	block[7] ^= label;
	memset(out, 0, out_len);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx != NULL && EVP_EncryptInit_ex(ctx, cipher, NULL, master_key, block) == 1 &&
	    EVP_EncryptUpdate(ctx, out, &n, out, (int)out_len) == 1 && n == (int)out_len)
		rc = 0;
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(block, sizeof(block));
	return rc;
}

/* ---- GCM engine: stream table ---- */

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline unsigned slot_hash(const gcm_dir *d, uint32_t ssrc)
{
	return (ssrc * 2654435761u) >> (32 - d->slot_bits);
}

/* Finds the stream of SSRC, or -1. The two streams used last are tried
 * first: a transport's packets mostly alternate between its audio and video
 * SSRCs, and this spares the hash's cache line. */
static inline int stream_find(gcm_dir *d, uint32_t ssrc)
{
	unsigned mask = (1u << d->slot_bits) - 1, r0 = d->recent[0], r1 = d->recent[1];

	if (G_LIKELY(r0 < d->n_streams && d->streams[r0].ssrc == ssrc))
		return (int)r0;
	if (r1 < d->n_streams && d->streams[r1].ssrc == ssrc) {
		d->recent[0] = r1;
		d->recent[1] = r0;
		return (int)r1;
	}
	/* At most half the slots are used: the probe ends at an empty one. */
	for (unsigned h = slot_hash(d, ssrc);; h = (h + 1) & mask) {
		uint16_t i = d->slots[h];

		if (i == SLOT_EMPTY)
			return -1;
		if (d->streams[i].ssrc == ssrc) {
			d->recent[1] = r0;
			d->recent[0] = i;
			return i;
		}
	}
}

static void slots_insert(gcm_dir *d, unsigned i)
{
	unsigned mask = (1u << d->slot_bits) - 1;
	unsigned h = slot_hash(d, d->streams[i].ssrc);

	while (d->slots[h] != SLOT_EMPTY)
		h = (h + 1) & mask;
	d->slots[h] = (uint16_t)i;
}

/* Sizes the table for CAP streams and rebuilds the hash. */
static void streams_resize(gcm_dir *d, unsigned cap)
{
	d->streams = g_renew(gcm_stream, d->streams, cap);
	d->cap_streams = cap;
	d->slot_bits = (unsigned)g_bit_storage(cap * 2 - 1);
	g_free(d->slots);
	d->slots = g_new(uint16_t, 1u << d->slot_bits);
	memset(d->slots, 0xff, sizeof(uint16_t) << d->slot_bits);
	for (unsigned i = 0; i < d->n_streams; i++)
		slots_insert(d, i);
}

/* Adds a fresh stream for SSRC (not in the table) and returns its index:
 * a free entry, a grown table, or the least recently used stream's entry. */
static int stream_add(gcm_dir *d, uint32_t ssrc)
{
	unsigned i;
	bool rebuild = false;

	if (d->n_streams == d->cap_streams && d->cap_streams < STREAMS_MAX)
		streams_resize(d, d->cap_streams * 2);
	if (d->n_streams < d->cap_streams) {
		i = d->n_streams++;
	} else {
		i = 0;
		for (unsigned k = 1; k < d->n_streams; k++)
			if (d->streams[k].last_use < d->streams[i].last_use)
				i = k;
		if (d->evictions++ == 0)
			TB_WARN(LOG_CAT,
				"%s SRTP stream table full (%u SSRCs): SSRC %08x replaces the "
				"least recently used, %08x",
				d->inbound ? "inbound" : "outbound", d->n_streams, ssrc,
				d->streams[i].ssrc);
		rebuild = true;
	}
	memset(&d->streams[i], 0, sizeof(d->streams[i]));
	d->streams[i].ssrc = ssrc;
	d->recent[1] = d->recent[0];
	d->recent[0] = i;
	if (rebuild) {
		memset(d->slots, 0xff, sizeof(uint16_t) << d->slot_bits);
		for (unsigned k = 0; k < d->n_streams; k++)
			slots_insert(d, k);
	} else {
		slots_insert(d, i);
	}
	return (int)i;
}

/* ---- GCM engine: packet index and replay window ---- */

/* Estimates the index of sequence number SEQ against TOP, the highest index
 * taken so far, as libsrtp's srtp_rdbx_estimate_index() does: RFC 3711
 * Appendix A once TOP is past 2^15, else ROC 0. Sets *INDEX and returns
 * *INDEX - TOP. */
static inline int32_t estimate_index(uint64_t top, uint16_t seq, uint64_t *index)
{
	uint32_t roc = (uint32_t)(top >> 16);
	int32_t s_l = (uint16_t)top, s = seq;

	if (top <= 0x8000) {
		*index = seq;
		return (int32_t)((int64_t)seq - (int64_t)top);
	}
	if (s_l < 0x8000) {
		if (s - s_l > 0x8000) {
			*index = (uint64_t)(roc - 1) << 16 | seq;
			return s - s_l - 0x10000;
		}
	} else if (s_l - 0x8000 > s) {
		*index = (uint64_t)(roc + 1) << 16 | seq;
		return s - s_l + 0x10000;
	}
	*index = (uint64_t)roc << 16 | seq;
	return s - s_l;
}

static inline bool window_test(const uint64_t *w, uint64_t index)
{
	unsigned b = (unsigned)(index & (REPLAY_WINDOW - 1));

	return (w[b / 64] >> (b % 64)) & 1;
}

/* 0: INDEX (DELTA from the top) is new; 1: seen; TB_EINVAL: older than the
 * window. libsrtp's srtp_rdbx_check(). */
static inline int window_check(const uint64_t *w, uint64_t index, int64_t delta)
{
	if (delta > 0)
		return 0;
	if (delta <= -REPLAY_WINDOW)
		return TB_EINVAL;
	return window_test(w, index) ? 1 : 0;
}

/* Records INDEX, DELTA from *TOP (window_check() said it may be taken). */
static inline void window_take(uint64_t *w, uint64_t *top, uint64_t index, int64_t delta)
{
	unsigned b;

	if (delta > 0) {
		/* The positions of the indices that leave the window are those of
		 * the new ones (*TOP, INDEX]: clear them. */
		if (delta >= REPLAY_WINDOW) {
			memset(w, 0, WINDOW_WORDS * sizeof(*w));
		} else {
			for (uint64_t i = *top + 1; i <= index; i++) {
				b = (unsigned)(i & (REPLAY_WINDOW - 1));
				w[b / 64] &= ~(UINT64_C(1) << (b % 64));
			}
		}
		*top = index;
	}
	b = (unsigned)(index & (REPLAY_WINDOW - 1));
	w[b / 64] |= UINT64_C(1) << (b % 64);
}

/* ---- GCM engine: AEAD ---- */

/* The tag through the parameter API: what EVP_CIPHER_CTX_ctrl() would do
 * for EVP_CTRL_AEAD_GET_TAG / SET_TAG, without its translation. */
static inline bool get_tag(EVP_CIPHER_CTX *ctx, uint8_t *tag)
{
	OSSL_PARAM params[2] = {
		OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, GCM_TAG_LEN),
		OSSL_PARAM_END,
	};

	return EVP_CIPHER_CTX_get_params(ctx, params) == 1;
}

static inline bool set_tag(EVP_CIPHER_CTX *ctx, const uint8_t *tag)
{
	OSSL_PARAM params[2] = {
		OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, (void *)tag, GCM_TAG_LEN),
		OSSL_PARAM_END,
	};

	return EVP_CIPHER_CTX_set_params(ctx, params) == 1;
}

/* Encrypts DATA in place under IV with AAD = AAD1 || AAD2 and writes the
 * tag to TAG. */
static bool gcm_seal(EVP_CIPHER_CTX *ctx, const uint8_t *iv, const uint8_t *aad1, size_t aad1_len,
		     const uint8_t *aad2, size_t aad2_len, uint8_t *data, size_t data_len,
		     uint8_t *tag)
{
	uint8_t none[16];
	int n;

	if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, aad1, (int)aad1_len) != 1 ||
	    (aad2_len > 0 && EVP_EncryptUpdate(ctx, NULL, &n, aad2, (int)aad2_len) != 1) ||
	    (data_len > 0 && EVP_EncryptUpdate(ctx, data, &n, data, (int)data_len) != 1) ||
	    EVP_EncryptFinal_ex(ctx, none, &n) != 1)
		return false;
	return get_tag(ctx, tag);
}

/* Decrypts DATA in place and checks TAG; DATA is garbage on failure. */
static bool gcm_open(EVP_CIPHER_CTX *ctx, const uint8_t *iv, const uint8_t *aad1, size_t aad1_len,
		     const uint8_t *aad2, size_t aad2_len, uint8_t *data, size_t data_len,
		     const uint8_t *tag)
{
	uint8_t none[16];
	int n;

	return EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) == 1 &&
	       EVP_DecryptUpdate(ctx, NULL, &n, aad1, (int)aad1_len) == 1 &&
	       (aad2_len == 0 || EVP_DecryptUpdate(ctx, NULL, &n, aad2, (int)aad2_len) == 1) &&
	       (data_len == 0 || EVP_DecryptUpdate(ctx, data, &n, data, (int)data_len) == 1) &&
	       set_tag(ctx, tag) && EVP_DecryptFinal_ex(ctx, none, &n) == 1;
}

/* RFC 7714 §8.1: (0^16 || SSRC || ROC || SEQ) xor salt; HDR is the RTP
 * header (SSRC and SEQ in network order). */
static inline void rtp_iv(uint8_t *iv, const uint8_t *salt, const uint8_t *hdr, uint64_t index)
{
	uint32_t roc = (uint32_t)(index >> 16);

	iv[0] = salt[0];
	iv[1] = salt[1];
	for (int i = 0; i < 4; i++)
		iv[2 + i] = hdr[8 + i] ^ salt[2 + i];
	iv[6] = (uint8_t)(roc >> 24) ^ salt[6];
	iv[7] = (uint8_t)(roc >> 16) ^ salt[7];
	iv[8] = (uint8_t)(roc >> 8) ^ salt[8];
	iv[9] = (uint8_t)roc ^ salt[9];
	iv[10] = hdr[2] ^ salt[10];
	iv[11] = hdr[3] ^ salt[11];
}

/* RFC 7714 §9.1: (0^16 || SSRC || 0^16 || 0 || SRTCP index) xor salt. */
static inline void rtcp_iv(uint8_t *iv, const uint8_t *salt, const uint8_t *hdr, uint32_t index)
{
	iv[0] = salt[0];
	iv[1] = salt[1];
	for (int i = 0; i < 4; i++)
		iv[2 + i] = hdr[4 + i] ^ salt[2 + i];
	iv[6] = salt[6];
	iv[7] = salt[7];
	iv[8] = (uint8_t)(index >> 24) ^ salt[8];
	iv[9] = (uint8_t)(index >> 16) ^ salt[9];
	iv[10] = (uint8_t)(index >> 8) ^ salt[10];
	iv[11] = (uint8_t)index ^ salt[11];
}

/* Length of the RTP header at BUF (fixed part, CSRCs, extension), or 0 if
 * it does not fit in LEN octets (LEN >= RTP_HEADER_LEN). */
static inline size_t rtp_header_len(const uint8_t *buf, size_t len)
{
	size_t n = RTP_HEADER_LEN + 4u * (buf[0] & 0x0f);

	if (buf[0] & 0x10) {
		if (n + 4 > len)
			return 0;
		n += 4 + 4u * ((size_t)buf[n + 2] << 8 | buf[n + 3]);
	}
	return n <= len ? n : 0;
}

/* ---- GCM engine: set-up ---- */

static EVP_CIPHER_CTX *gcm_context(const uint8_t *key, bool encrypt)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	/* The key is expanded once here; packets only set the IV. The IV
	 * length is GCM's default, 12. */
	if (ctx != NULL &&
	    (encrypt ? EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, NULL)
		     : EVP_DecryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, key, NULL)) == 1)
		return ctx;
	EVP_CIPHER_CTX_free(ctx);
	return NULL;
}

/* Sets up D from session keys and salts. Returns 0 or TB_EIO. */
static int gcm_dir_init_session(gcm_dir *d, bool inbound, const uint8_t *rtp_key,
				const uint8_t *rtp_salt, const uint8_t *rtcp_key,
				const uint8_t *rtcp_salt)
{
	d->inbound = inbound;
	d->rtp = gcm_context(rtp_key, !inbound);
	d->rtcp = gcm_context(rtcp_key, !inbound);
	memcpy(d->rtp_salt, rtp_salt, GCM_SALT_LEN);
	memcpy(d->rtcp_salt, rtcp_salt, GCM_SALT_LEN);
	streams_resize(d, STREAMS_INITIAL);
	return d->rtp != NULL && d->rtcp != NULL ? 0 : TB_EIO;
}

/* Sets up D from a master key and salt (RFC 3711 §4.3 session keys). */
static int gcm_dir_init(gcm_dir *d, bool inbound, const uint8_t *master_key,
			const uint8_t *master_salt)
{
	uint8_t rtp_key[GCM_KEY_LEN], rtp_salt[GCM_SALT_LEN];
	uint8_t rtcp_key[GCM_KEY_LEN], rtcp_salt[GCM_SALT_LEN];
	int rc = TB_EIO;

	if (tb_srtp_kdf_aes_cm(master_key, GCM_KEY_LEN, master_salt, GCM_SALT_LEN, LABEL_RTP_KEY,
			       rtp_key, sizeof(rtp_key)) == 0 &&
	    tb_srtp_kdf_aes_cm(master_key, GCM_KEY_LEN, master_salt, GCM_SALT_LEN, LABEL_RTP_SALT,
			       rtp_salt, sizeof(rtp_salt)) == 0 &&
	    tb_srtp_kdf_aes_cm(master_key, GCM_KEY_LEN, master_salt, GCM_SALT_LEN, LABEL_RTCP_KEY,
			       rtcp_key, sizeof(rtcp_key)) == 0 &&
	    tb_srtp_kdf_aes_cm(master_key, GCM_KEY_LEN, master_salt, GCM_SALT_LEN, LABEL_RTCP_SALT,
			       rtcp_salt, sizeof(rtcp_salt)) == 0)
		rc = gcm_dir_init_session(d, inbound, rtp_key, rtp_salt, rtcp_key, rtcp_salt);
	OPENSSL_cleanse(rtp_key, sizeof(rtp_key));
	OPENSSL_cleanse(rtp_salt, sizeof(rtp_salt));
	OPENSSL_cleanse(rtcp_key, sizeof(rtcp_key));
	OPENSSL_cleanse(rtcp_salt, sizeof(rtcp_salt));
	return rc;
}

static void gcm_dir_clear(gcm_dir *d)
{
	/* Freeing a context cleanses its key schedule. */
	EVP_CIPHER_CTX_free(d->rtp);
	EVP_CIPHER_CTX_free(d->rtcp);
	if (d->streams != NULL)
		OPENSSL_cleanse(d->streams, d->cap_streams * sizeof(*d->streams));
	g_free(d->streams);
	g_free(d->slots);
	OPENSSL_cleanse(d, sizeof(*d));
}

/* ---- GCM engine: packets (lengths checked by the callers) ---- */

static int gcm_protect_rtp(gcm_dir *d, uint8_t *buf, size_t *len)
{
	size_t hlen = rtp_header_len(buf, *len);
	uint8_t iv[GCM_IV_LEN];
	gcm_stream *st;
	uint64_t index;
	int32_t delta;
	int i;

	if (G_UNLIKELY(hlen == 0))
		return TB_EINVAL;
	i = stream_find(d, rd32(buf + 8));
	if (G_UNLIKELY(i < 0))
		i = stream_add(d, rd32(buf + 8));
	st = &d->streams[i];
	delta = estimate_index(st->rtp_top, (uint16_t)(buf[2] << 8 | buf[3]), &index);
	switch (window_check(st->rtp_seen, index, delta)) {
	case 0:
		window_take(st->rtp_seen, &st->rtp_top, index, delta);
		break;
	case 1:
		/* Protected before: a NACK retransmission of the same packet,
		 * which encrypts to the same octets (allow_repeat_tx). */
		break;
	default:
		return TB_EINVAL; /* older than the window (libsrtp: replay_old) */
	}
	st->last_use = ++d->packets;
	rtp_iv(iv, d->rtp_salt, buf, index);
	if (G_UNLIKELY(
		    !gcm_seal(d->rtp, iv, buf, hlen, NULL, 0, buf + hlen, *len - hlen, buf + *len)))
		return TB_EIO;
	*len += GCM_TAG_LEN;
	return 0;
}

static int gcm_unprotect_rtp(gcm_dir *d, uint8_t *buf, size_t *len)
{
	size_t body = *len - GCM_TAG_LEN; /* header + ciphertext */
	size_t hlen = rtp_header_len(buf, body);
	uint32_t ssrc = rd32(buf + 8);
	uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);
	uint8_t iv[GCM_IV_LEN];
	uint64_t index, top = 0;
	int32_t delta;
	int i;

	if (G_UNLIKELY(hlen == 0))
		return TB_EINVAL;
	i = stream_find(d, ssrc);
	if (G_LIKELY(i >= 0)) {
		delta = estimate_index(d->streams[i].rtp_top, seq, &index);
		if (window_check(d->streams[i].rtp_seen, index, delta) != 0) {
			d->replayed++;
			return TB_EINVAL; /* replayed, or older than the window */
		}
	} else {
		/* A new SSRC starts at ROC 0 (libsrtp's provisional stream). */
		index = seq;
		delta = seq;
	}
	rtp_iv(iv, d->rtp_salt, buf, index);
	if (!gcm_open(d->rtp, iv, buf, hlen, NULL, 0, buf + hlen, body - hlen, buf + body))
		return TB_EINVAL;
	if (i < 0)
		i = stream_add(d, ssrc);
	top = d->streams[i].rtp_top;
	window_take(d->streams[i].rtp_seen, &top, index, delta);
	d->streams[i].rtp_top = top;
	d->streams[i].last_use = ++d->packets;
	*len = body;
	return 0;
}

static int gcm_protect_rtcp(gcm_dir *d, uint8_t *buf, size_t *len)
{
	uint8_t iv[GCM_IV_LEN], trailer[SRTCP_INDEX_LEN];
	uint32_t index;
	gcm_stream *st;
	int i;

	i = stream_find(d, rd32(buf + 4));
	if (G_UNLIKELY(i < 0))
		i = stream_add(d, rd32(buf + 4));
	st = &d->streams[i];
	/* The index space used up means the keys must change. */
	if (G_UNLIKELY(st->rtcp_top >= GCM_SRTCP_INDEX_MAX))
		return TB_EIO;
	/* The first index is 1, as libsrtp's. */
	index = (uint32_t)++st->rtcp_top;
	st->last_use = ++d->packets;
	trailer[0] = (uint8_t)((GCM_SRTCP_E_BIT | index) >> 24);
	trailer[1] = (uint8_t)(index >> 16);
	trailer[2] = (uint8_t)(index >> 8);
	trailer[3] = (uint8_t)index;
	rtcp_iv(iv, d->rtcp_salt, buf, index);
	/* header (8) || ciphertext || tag (16) || E || index (4) */
	if (G_UNLIKELY(!gcm_seal(d->rtcp, iv, buf, RTCP_HEADER_LEN, trailer, sizeof(trailer),
				 buf + RTCP_HEADER_LEN, *len - RTCP_HEADER_LEN, buf + *len)))
		return TB_EIO;
	memcpy(buf + *len + GCM_TAG_LEN, trailer, sizeof(trailer));
	*len += GCM_TAG_LEN + SRTCP_INDEX_LEN;
	return 0;
}

static int gcm_unprotect_rtcp(gcm_dir *d, uint8_t *buf, size_t *len)
{
	size_t body = *len - GCM_TAG_LEN - SRTCP_INDEX_LEN; /* header + ciphertext */
	const uint8_t *trailer = buf + *len - SRTCP_INDEX_LEN;
	uint32_t word = rd32(trailer), ssrc = rd32(buf + 4);
	uint32_t index = word & GCM_SRTCP_INDEX_MAX;
	uint8_t iv[GCM_IV_LEN];
	uint64_t top;
	int64_t delta;
	bool ok;
	int i;

	i = stream_find(d, ssrc);
	if (G_LIKELY(i >= 0)) {
		delta = (int64_t)index - (int64_t)d->streams[i].rtcp_top;
		if (window_check(d->streams[i].rtcp_seen, index, delta) != 0) {
			d->replayed++;
			return TB_EINVAL;
		}
	} else {
		delta = index;
	}
	rtcp_iv(iv, d->rtcp_salt, buf, index);
	if (word & GCM_SRTCP_E_BIT)
		ok = gcm_open(d->rtcp, iv, buf, RTCP_HEADER_LEN, trailer, SRTCP_INDEX_LEN,
			      buf + RTCP_HEADER_LEN, body - RTCP_HEADER_LEN, buf + body);
	else /* not encrypted (RFC 7714 §9.3): all of it is AAD */
		ok = gcm_open(d->rtcp, iv, buf, body, trailer, SRTCP_INDEX_LEN, NULL, 0,
			      buf + body);
	if (!ok)
		return TB_EINVAL;
	if (i < 0)
		i = stream_add(d, ssrc);
	top = d->streams[i].rtcp_top;
	window_take(d->streams[i].rtcp_seen, &top, index, delta);
	d->streams[i].rtcp_top = top;
	d->streams[i].last_use = ++d->packets;
	*len = body;
	return 0;
}

/* ---- public API ---- */

/* Checks KEYS against its profile; sets ERROR. */
static bool check_keys(const tb_srtp_keys *keys, GError **error)
{
	size_t key_len, salt_len;

	if (tb_srtp_profile_lengths(keys->profile, &key_len, &salt_len) != 0) {
		g_set_error(error, TB_SRTP_ERROR, TB_EINVAL, "unsupported SRTP profile %d",
			    (int)keys->profile);
		return false;
	}
	if (keys->key_len != key_len || keys->salt_len != salt_len) {
		g_set_error(error, TB_SRTP_ERROR, TB_EINVAL,
			    "%s needs a %zu-octet key and a %zu-octet salt, got %zu and %zu",
			    tb_srtp_profile_name(keys->profile), key_len, salt_len, keys->key_len,
			    keys->salt_len);
		return false;
	}
	return true;
}

static tb_srtp *srtp_alloc(tb_srtp_profile profile, srtp_backend backend)
{
	tb_srtp *srtp = g_new0(tb_srtp, 1);

	srtp->profile = profile;
	srtp->backend = backend;
	srtp->rtp_trailer = profile == TB_SRTP_AEAD_AES_128_GCM ? GCM_TAG_LEN : 10;
	srtp->rtcp_trailer = srtp->rtp_trailer + SRTCP_INDEX_LEN;
	return srtp;
}

tb_srtp *tb_srtp_new(const tb_srtp_keys *keys, GError **error)
{
	tb_srtp *srtp = NULL;
	int status;

	g_return_val_if_fail(keys != NULL, NULL);

	if (tb_srtp_global_init() != 0) {
		g_set_error(error, TB_SRTP_ERROR, TB_EIO, "libsrtp initialisation failed");
		goto fail;
	}
	if (!check_keys(keys, error))
		goto fail;

	if (keys->profile == TB_SRTP_AEAD_AES_128_GCM && gcm_backend() == BACKEND_OPENSSL_GCM) {
		srtp = srtp_alloc(keys->profile, BACKEND_OPENSSL_GCM);
		if (gcm_dir_init(&srtp->tx, false, keys->local_key, keys->local_salt) != 0 ||
		    gcm_dir_init(&srtp->rx, true, keys->remote_key, keys->remote_salt) != 0) {
			g_set_error(error, TB_SRTP_ERROR, TB_EIO, "OpenSSL AES-GCM set-up failed");
			goto fail;
		}
		TB_DEBUG(LOG_CAT, "%s on OpenSSL", tb_srtp_profile_name(keys->profile));
		return srtp;
	}

	srtp = srtp_alloc(keys->profile, BACKEND_LIBSRTP);
	status = create_session(&srtp->outbound, keys->profile, ssrc_any_outbound, keys->local_key,
				keys->local_salt, keys->key_len, keys->salt_len);
	if (status == 0)
		status = create_session(&srtp->inbound, keys->profile, ssrc_any_inbound,
					keys->remote_key, keys->remote_salt, keys->key_len,
					keys->salt_len);
	if (status != 0) {
		g_set_error(error, TB_SRTP_ERROR, TB_EIO, "srtp_create failed: status %d", status);
		goto fail;
	}
	TB_DEBUG(LOG_CAT, "%s on libsrtp", tb_srtp_profile_name(keys->profile));
	return srtp;

fail:
	tb_srtp_free(srtp);
	return NULL;
}

/* For tests (RFC 7714 vectors): a GCM tb_srtp on the OpenSSL engine whose
 * local_* and remote_* are *session* keys and salts, used for both SRTP and
 * SRTCP, without key derivation. NULL on bad lengths or failure. */
tb_srtp *tb_srtp_new_gcm_session_keys(const tb_srtp_keys *keys)
{
	tb_srtp *srtp;

	if (keys->profile != TB_SRTP_AEAD_AES_128_GCM || !check_keys(keys, NULL))
		return NULL;
	srtp = srtp_alloc(keys->profile, BACKEND_OPENSSL_GCM);
	if (gcm_dir_init_session(&srtp->tx, false, keys->local_key, keys->local_salt,
				 keys->local_key, keys->local_salt) != 0 ||
	    gcm_dir_init_session(&srtp->rx, true, keys->remote_key, keys->remote_salt,
				 keys->remote_key, keys->remote_salt) != 0) {
		tb_srtp_free(srtp);
		return NULL;
	}
	return srtp;
}

/* For tests and benchmarks: "openssl" or "libsrtp". */
const char *tb_srtp_backend_name(const tb_srtp *srtp)
{
	return srtp->backend == BACKEND_OPENSSL_GCM ? "openssl" : "libsrtp";
}

/* Inbound packets refused as replayed or older than the replay window. */
uint64_t tb_srtp_replayed(const tb_srtp *srtp)
{
	return srtp->replayed + srtp->rx.replayed;
}

/* Counts a libsrtp replay refusal; returns STATUS. */
static srtp_err_status_t count_replay(tb_srtp *srtp, srtp_err_status_t status)
{
	if (G_UNLIKELY(status == srtp_err_status_replay_fail ||
		       status == srtp_err_status_replay_old))
		srtp->replayed++;
	return status;
}

/* For tests: streams replaced because a table was full, both directions. */
guint64 tb_srtp_evictions(const tb_srtp *srtp)
{
	return srtp->tx.evictions + srtp->rx.evictions;
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
	gcm_dir_clear(&srtp->tx);
	gcm_dir_clear(&srtp->rx);
	g_free(srtp);
}

int tb_srtp_protect_rtp(tb_srtp *srtp, uint8_t *buf, size_t *len, size_t cap)
{
	int n;

	if (G_UNLIKELY(*len < RTP_HEADER_LEN || *len > INT_MAX - TB_SRTP_MAX_TRAILER ||
		       cap < *len || cap - *len < srtp->rtp_trailer))
		return TB_EINVAL;
	if (srtp->backend == BACKEND_OPENSSL_GCM)
		return gcm_protect_rtp(&srtp->tx, buf, len);
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
	if (srtp->backend == BACKEND_OPENSSL_GCM)
		return gcm_unprotect_rtp(&srtp->rx, buf, len);
	n = (int)*len;
	int rc = map_status(count_replay(srtp, srtp_unprotect(srtp->inbound, buf, &n)), true);
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
	if (srtp->backend == BACKEND_OPENSSL_GCM)
		return gcm_protect_rtcp(&srtp->tx, buf, len);
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
	if (srtp->backend == BACKEND_OPENSSL_GCM)
		return gcm_unprotect_rtcp(&srtp->rx, buf, len);
	n = (int)*len;
	int rc = map_status(count_replay(srtp, srtp_unprotect_rtcp(srtp->inbound, buf, &n)), true);
	if (rc == 0)
		*len = (size_t)n;
	return rc;
}
