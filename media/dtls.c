/* dtls.c — DTLS-SRTP handshakes over OpenSSL memory BIOs.
 *
 * The identity (key, self-signed certificate, SSL_CTX) is made once and
 * shared read-only by all workers. Each tb_dtls owns one SSL whose read and
 * write BIOs are memory BIOs: the caller's datagrams are written into the
 * read BIO one at a time, and whatever OpenSSL writes is cut back into
 * datagrams (see flush_output) and handed to send(). Retransmissions are
 * driven by one GSource on the worker's GMainContext whose ready time follows
 * DTLSv1_get_timeout(); no default-context timers, no threads, no locks.
 *
 * Authentication is the WebRTC one: any certificate is accepted during the
 * handshake and, once it is done, the peer's certificate must match the
 * fingerprint from its SDP (constant-time compare) before keys leave here.
 * Keys come from the "EXTRACTOR-dtls_srtp" exporter (RFC 5764 §4.2).
 *
 * Not here: SRTP (srtp.c), ICE, demultiplexing, application data.
 */
#include "dtls.h"

#include "common.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/srtp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

#define LOG_CAT "media.dtls"

/* Largest datagram we emit: fits a 1280-octet IPv6 path with UDP, TURN and
 * ICE overhead to spare. */
#define DTLS_MTU 1200
#define RECORD_HEADER_LEN 13
#define MAX_DATAGRAM 65535
#define DEFAULT_INITIAL_RTO_MS 1000
/* OpenSSL counts a timer with less than 15 ms left as expired (and
 * retransmits at once), so a shorter first timeout would double the first
 * flight. */
#define MIN_RTO_MS 20
#define MAX_RTO_MS 4000
#define DEFAULT_HANDSHAKE_TIMEOUT_MS 15000

/* GCM first: libsrtp on NSS protects about five times faster with it, and
 * OpenSSL picks the first profile of the server's list that the client
 * offers, whatever the client's order. */
#define SRTP_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
/* AEAD suites with forward secrecy only. The RSA ones matter only when we are
 * the client of a peer with an RSA certificate. */
#define CIPHER_LIST                                                                            \
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:"                         \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:"                           \
	"ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384"
#define GROUPS_LIST "X25519:P-256:P-384"
#define CERT_CN "tribu"
#define CERT_NOT_BEFORE_S (-24L * 3600)
#define CERT_NOT_AFTER_S (30L * 24 * 3600)
#define EXPORTER_LABEL "EXTRACTOR-dtls_srtp"

/* ---- rate-limited warnings: outside input can make connections fail ---- */
#define WARNINGS_PER_SECOND 10

static gint warn_second;
static gint warn_count;

/* Failed handshakes since start, for /metrics (tb_dtls_global_totals):
 * one update per failure, never per packet. */
static uint64_t total_fingerprint_mismatches;
static uint64_t total_timeouts;
static uint64_t total_other_failures;

static bool warning_allowed(void)
{
	gint now = (gint)(g_get_monotonic_time() / G_USEC_PER_SEC);
	gint second = g_atomic_int_get(&warn_second);

	if (second != now && g_atomic_int_compare_and_exchange(&warn_second, second, now))
		g_atomic_int_set(&warn_count, 0);
	return g_atomic_int_add(&warn_count, 1) < WARNINGS_PER_SECOND;
}

/* Copies the most recent OpenSSL error of this thread into BUF and empties
 * the thread's error queue, so that the next SSL call starts clean. */
static void take_openssl_error(char *buf, size_t size)
{
	unsigned long e = ERR_peek_last_error();
	const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (reason != NULL)
		g_strlcpy(buf, reason, size);
	else if (e != 0)
		ERR_error_string_n(e, buf, size);
	else
		g_strlcpy(buf, "unknown error", size);
	ERR_clear_error();
}

/* ---- identity ---- */

struct tb_dtls_identity {
	gatomicrefcount ref;
	EVP_PKEY *key;
	X509 *cert;
	SSL_CTX *ctx;
	char fingerprint[EVP_MAX_MD_SIZE * 3];
};

static void format_fingerprint(const uint8_t *md, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		*out++ = hex[md[i] >> 4];
		*out++ = hex[md[i] & 0xf];
		if (i + 1 < len)
			*out++ = ':';
	}
	*out = '\0';
}

/* The real check is the fingerprint after the handshake: WebRTC peers use
 * self-signed certificates that no chain validation would accept. */
static int accept_any_certificate(int preverify_ok, X509_STORE_CTX *store)
{
	(void)preverify_ok;
	(void)store;
	return 1;
}

static X509 *make_certificate(EVP_PKEY *key)
{
	X509 *cert = X509_new();
	BIGNUM *serial = BN_new();
	X509_NAME *name;

	if (cert == NULL || serial == NULL)
		goto fail;
	if (X509_set_version(cert, X509_VERSION_3) != 1)
		goto fail;
	if (BN_rand(serial, 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1)
		goto fail;
	if (BN_is_zero(serial) && BN_one(serial) != 1)
		goto fail;
	if (BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) == NULL)
		goto fail;
	if (X509_gmtime_adj(X509_getm_notBefore(cert), CERT_NOT_BEFORE_S) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(cert), CERT_NOT_AFTER_S) == NULL)
		goto fail;
	name = X509_get_subject_name(cert);
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)CERT_CN,
				       -1, -1, 0) != 1)
		goto fail;
	if (X509_set_issuer_name(cert, name) != 1 || X509_set_pubkey(cert, key) != 1)
		goto fail;
	if (X509_sign(cert, key, EVP_sha256()) <= 0)
		goto fail;
	BN_free(serial);
	return cert;

fail:
	BN_free(serial);
	X509_free(cert);
	return NULL;
}

static SSL_CTX *make_context(EVP_PKEY *key, X509 *cert)
{
	SSL_CTX *ctx = SSL_CTX_new(DTLS_method());

	if (ctx == NULL)
		goto fail;
	if (SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) != 1)
		goto fail;
	/* No resumption (a resumed session has no certificate to check), no
	 * renegotiation (keys must not change under SRTP), and the MTU is ours
	 * to set: a memory BIO has no path MTU to query. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_NO_QUERY_MTU | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_cipher_list(ctx, CIPHER_LIST) != 1)
		goto fail;
	if (SSL_CTX_set1_groups_list(ctx, GROUPS_LIST) != 1)
		goto fail;
	if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   accept_any_certificate);
	/* Unlike the rest of the API, 0 means success here. */
	if (SSL_CTX_set_tlsext_use_srtp(ctx, SRTP_PROFILES) != 0)
		goto fail;
	return ctx;

fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void identity_free(tb_dtls_identity *identity)
{
	SSL_CTX_free(identity->ctx);
	X509_free(identity->cert);
	EVP_PKEY_free(identity->key);
	g_free(identity);
}

tb_dtls_identity *tb_dtls_identity_new(void)
{
	tb_dtls_identity *identity = g_new0(tb_dtls_identity, 1);
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char reason[256];

	g_atomic_ref_count_init(&identity->ref);
	ERR_clear_error();
	identity->key = EVP_EC_gen("P-256");
	if (identity->key == NULL)
		goto fail;
	identity->cert = make_certificate(identity->key);
	if (identity->cert == NULL)
		goto fail;
	if (X509_digest(identity->cert, EVP_sha256(), md, &md_len) != 1)
		goto fail;
	format_fingerprint(md, md_len, identity->fingerprint);
	identity->ctx = make_context(identity->key, identity->cert);
	if (identity->ctx == NULL)
		goto fail;
	TB_DEBUG(LOG_CAT, "identity made, fingerprint sha-256 %s", identity->fingerprint);
	return identity;

fail:
	take_openssl_error(reason, sizeof(reason));
	TB_ERROR(LOG_CAT, "cannot make the DTLS identity: %s", reason);
	identity_free(identity);
	return NULL;
}

tb_dtls_identity *tb_dtls_identity_ref(tb_dtls_identity *identity)
{
	g_return_val_if_fail(identity != NULL, NULL);
	g_atomic_ref_count_inc(&identity->ref);
	return identity;
}

void tb_dtls_identity_unref(tb_dtls_identity *identity)
{
	if (identity != NULL && g_atomic_ref_count_dec(&identity->ref))
		identity_free(identity);
}

void tb_dtls_global_totals(tb_dtls_totals *out)
{
	out->fingerprint_mismatches =
		__atomic_load_n(&total_fingerprint_mismatches, __ATOMIC_RELAXED);
	out->timeouts = __atomic_load_n(&total_timeouts, __ATOMIC_RELAXED);
	out->other_failures = __atomic_load_n(&total_other_failures, __ATOMIC_RELAXED);
}

const char *tb_dtls_identity_fingerprint(const tb_dtls_identity *identity)
{
	g_return_val_if_fail(identity != NULL, NULL);
	return identity->fingerprint;
}

char *tb_dtls_identity_to_pem(const tb_dtls_identity *identity)
{
	BIO *bio;
	char *data = NULL, *pem = NULL;
	long len;

	g_return_val_if_fail(identity != NULL, NULL);
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL)
		goto out;
	if (PEM_write_bio_X509(bio, identity->cert) != 1)
		goto out;
	len = BIO_get_mem_data(bio, &data);
	if (len > 0)
		pem = g_strndup(data, (gsize)len);
out:
	BIO_free(bio);
	ERR_clear_error();
	return pem;
}

/* ---- handshake ---- */

typedef struct {
	GSource base;
	tb_dtls *dtls;
} dtls_timer_source;

struct tb_dtls {
	tb_dtls_identity *identity;
	GMainContext *context;
	GSource *timer; /* owned; destroyed by tb_dtls_free() */
	SSL *ssl;
	BIO *rbio; /* owned by SSL */
	BIO *wbio; /* owned by SSL */
	tb_dtls_role role;
	tb_dtls_state state;
	tb_dtls_callbacks cb;
	void *user_data;

	const EVP_MD *fingerprint_md;
	uint8_t fingerprint[EVP_MAX_MD_SIZE];
	size_t fingerprint_len;

	unsigned initial_rto_ms;
	unsigned handshake_timeout_ms;
	gint64 deadline_us; /* monotonic; the handshake fails after it */

	int depth;	   /* nesting of public calls and timer dispatch */
	bool detached;	   /* closed or freed: no callbacks any more */
	bool free_pending; /* tb_dtls_free() ran inside a callback */
	char label[64];
};

static bool parse_fingerprint(tb_dtls *d, const char *alg, const char *hex)
{
	static const struct {
		const char *name;
		const EVP_MD *(*md)(void);
	} algs[] = {
		{"sha-1", EVP_sha1},
		{"sha-256", EVP_sha256},
		{"sha-384", EVP_sha384},
		{"sha-512", EVP_sha512},
	};
	const EVP_MD *md = NULL;
	size_t len;

	for (size_t i = 0; i < G_N_ELEMENTS(algs) && md == NULL; i++) {
		if (g_ascii_strcasecmp(alg, algs[i].name) == 0)
			md = algs[i].md();
	}
	if (md == NULL)
		return false;
	len = (size_t)EVP_MD_get_size(md);
	for (size_t i = 0; i < len; i++) {
		int hi = g_ascii_xdigit_value(hex[0]);
		int lo = hi < 0 ? -1 : g_ascii_xdigit_value(hex[1]);

		if (lo < 0)
			return false;
		d->fingerprint[i] = (uint8_t)(hi << 4 | lo);
		hex += 2;
		if (i + 1 < len && *hex++ != ':')
			return false;
	}
	if (*hex != '\0')
		return false;
	d->fingerprint_md = md;
	d->fingerprint_len = len;
	return true;
}

/* Chooses the retransmission timeouts: OpenSSL asks with TIMER_US 0 for the
 * first one, then with the last one on each expiry. */
static unsigned int retransmit_timeout(SSL *ssl, unsigned int timer_us)
{
	tb_dtls *d = SSL_get_app_data(ssl);

	if (timer_us == 0)
		return d->initial_rto_ms * 1000u;
	return MIN(timer_us * 2u, MAX_RTO_MS * 1000u);
}

static void stop_timer(tb_dtls *d)
{
	if (d->timer != NULL)
		g_source_set_ready_time(d->timer, -1);
}

/* Sets the timer to the next DTLS retransmission or, while connecting, the
 * handshake deadline, whichever comes first. */
static void arm_timer(tb_dtls *d)
{
	struct timeval tv;
	gint64 next = -1;

	if (d->detached || d->timer == NULL ||
	    (d->state != TB_DTLS_STATE_CONNECTING && d->state != TB_DTLS_STATE_CONNECTED)) {
		stop_timer(d);
		return;
	}
	if (d->state == TB_DTLS_STATE_CONNECTING)
		next = d->deadline_us;
	if (DTLSv1_get_timeout(d->ssl, &tv) == 1) {
		gint64 at = g_get_monotonic_time() + (gint64)tv.tv_sec * G_USEC_PER_SEC +
			    tv.tv_usec;

		next = next < 0 ? at : MIN(next, at);
	}
	g_source_set_ready_time(d->timer, next);
}

static void destroy(tb_dtls *d)
{
	SSL_free(d->ssl);
	tb_dtls_identity_unref(d->identity);
	g_main_context_unref(d->context);
	g_free(d);
}

static void enter(tb_dtls *d)
{
	d->depth++;
}

/* Ends a public call; D may be gone afterwards. */
static void leave(tb_dtls *d)
{
	if (--d->depth == 0 && d->free_pending)
		destroy(d);
}

static void fail(tb_dtls *d, const char *reason)
{
	if (d->state == TB_DTLS_STATE_FAILED || d->state == TB_DTLS_STATE_CLOSED)
		return;
	d->state = TB_DTLS_STATE_FAILED;
	stop_timer(d);
	/* A peer closing is routine; anything else is worth a (rate-limited)
	 * warning. */
	if (strcmp(reason, "fingerprint mismatch") == 0)
		__atomic_fetch_add(&total_fingerprint_mismatches, 1, __ATOMIC_RELAXED);
	else if (strcmp(reason, "handshake timeout") == 0)
		__atomic_fetch_add(&total_timeouts, 1, __ATOMIC_RELAXED);
	else if (strcmp(reason, "closed by peer") != 0)
		__atomic_fetch_add(&total_other_failures, 1, __ATOMIC_RELAXED);
	if (strcmp(reason, "closed by peer") == 0)
		TB_DEBUG(LOG_CAT, "[%s] DTLS closed by peer", d->label);
	else if (warning_allowed())
		TB_WARN(LOG_CAT, "[%s] DTLS %s failed: %s", d->label,
			d->role == TB_DTLS_CLIENT ? "client" : "server", reason);
	if (!d->detached)
		d->cb.failed(d->user_data, reason);
}

static void fail_with_openssl_error(tb_dtls *d, const char *what)
{
	char reason[256], text[320];

	take_openssl_error(reason, sizeof(reason));
	g_snprintf(text, sizeof(text), "%s: %s", what, reason);
	fail(d, text);
}

/* Length of the DTLS record at P, or LEFT if it does not parse (it is
 * OpenSSL's own output, so that does not happen). */
static size_t record_length(const uint8_t *p, size_t left)
{
	size_t len;

	if (left < RECORD_HEADER_LEN)
		return left;
	len = RECORD_HEADER_LEN + ((size_t)p[11] << 8 | p[12]);
	return len <= left ? len : left;
}

/* Sends what OpenSSL wrote. The write BIO is a byte stream, so datagram
 * boundaries are rebuilt from record headers: OpenSSL keeps each record
 * within the MTU, and consecutive records are packed into one datagram up to
 * the MTU (a whole flight often fits one datagram, so one loss costs one
 * retransmission instead of several). */
static void flush_output(tb_dtls *d)
{
	char *data = NULL;
	long pending = BIO_get_mem_data(d->wbio, &data);
	const uint8_t *p = (const uint8_t *)data;
	size_t left = pending > 0 ? (size_t)pending : 0;

	while (left > 0 && !d->detached) {
		size_t datagram = record_length(p, left);

		while (datagram < left) {
			size_t next = record_length(p + datagram, left - datagram);

			if (datagram + next > DTLS_MTU)
				break;
			datagram += next;
		}
		d->cb.send(d->user_data, p, datagram);
		p += datagram;
		left -= datagram;
	}
	if (pending > 0)
		(void)BIO_reset(d->wbio);
}

static bool export_keys(tb_dtls *d, const SRTP_PROTECTION_PROFILE *profile, tb_srtp_keys *keys)
{
	uint8_t material[2 * (TB_SRTP_MAX_KEY_LEN + TB_SRTP_MAX_SALT_LEN)];
	const uint8_t *client_key, *server_key, *client_salt, *server_salt;
	size_t key_len, salt_len;
	bool ok = false;

	memset(keys, 0, sizeof(*keys));
	keys->profile = (tb_srtp_profile)profile->id;
	if (tb_srtp_profile_lengths(keys->profile, &key_len, &salt_len) != 0)
		goto out;
	keys->key_len = key_len;
	keys->salt_len = salt_len;
	/* RFC 5764 §4.2: client key | server key | client salt | server salt. */
	if (SSL_export_keying_material(d->ssl, material, 2 * (key_len + salt_len), EXPORTER_LABEL,
				       strlen(EXPORTER_LABEL), NULL, 0, 0) != 1)
		goto out;
	client_key = material;
	server_key = material + key_len;
	client_salt = material + 2 * key_len;
	server_salt = client_salt + salt_len;
	if (d->role == TB_DTLS_CLIENT) {
		memcpy(keys->local_key, client_key, key_len);
		memcpy(keys->local_salt, client_salt, salt_len);
		memcpy(keys->remote_key, server_key, key_len);
		memcpy(keys->remote_salt, server_salt, salt_len);
	} else {
		memcpy(keys->local_key, server_key, key_len);
		memcpy(keys->local_salt, server_salt, salt_len);
		memcpy(keys->remote_key, client_key, key_len);
		memcpy(keys->remote_salt, client_salt, salt_len);
	}
	ok = true;
out:
	OPENSSL_cleanse(material, sizeof(material));
	return ok;
}

/* Refuses a completed handshake: a close_notify tells the peer at once
 * rather than let it wait for SRTP that will never come. */
static void reject(tb_dtls *d, const char *reason)
{
	ERR_clear_error();
	(void)SSL_shutdown(d->ssl);
	ERR_clear_error();
	flush_output(d);
	fail(d, reason);
}

/* The handshake finished: check the peer, export keys, tell the owner.
 * Returns true if D is still connected and attached afterwards. */
static bool finish_handshake(tb_dtls *d)
{
	X509 *peer = SSL_get1_peer_certificate(d->ssl);
	const SRTP_PROTECTION_PROFILE *profile;
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	tb_srtp_keys keys;

	if (peer == NULL) {
		reject(d, "no peer certificate");
		return false;
	}
	if (X509_digest(peer, d->fingerprint_md, md, &md_len) != 1) {
		X509_free(peer);
		reject(d, "certificate digest failed");
		return false;
	}
	X509_free(peer);
	if (md_len != d->fingerprint_len || CRYPTO_memcmp(md, d->fingerprint, md_len) != 0) {
		reject(d, "fingerprint mismatch");
		return false;
	}
	profile = SSL_get_selected_srtp_profile(d->ssl);
	if (profile == NULL) {
		reject(d, "no SRTP profile negotiated");
		return false;
	}
	if (!export_keys(d, profile, &keys)) {
		OPENSSL_cleanse(&keys, sizeof(keys));
		reject(d, "SRTP key export failed");
		return false;
	}
	d->state = TB_DTLS_STATE_CONNECTED;
	TB_DEBUG(LOG_CAT, "[%s] DTLS connected as %s: %s, %s", d->label,
		 d->role == TB_DTLS_CLIENT ? "client" : "server", SSL_get_cipher_name(d->ssl),
		 profile->name);
	if (!d->detached)
		d->cb.connected(d->user_data, &keys);
	OPENSSL_cleanse(&keys, sizeof(keys));
	return !d->detached && d->state == TB_DTLS_STATE_CONNECTED;
}

/* Advances the handshake with what the read BIO holds. Returns true if D is
 * still attached and not failed. */
static bool step_handshake(tb_dtls *d)
{
	char reason[256] = "";
	int rc, error;

	ERR_clear_error();
	rc = SSL_do_handshake(d->ssl);
	error = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(d->ssl, rc);
	if (rc != 1 && error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE)
		take_openssl_error(reason, sizeof(reason));
	/* Alerts included: the peer learns why. */
	flush_output(d);
	if (d->detached)
		return false;
	if (rc == 1)
		return finish_handshake(d);
	if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE)
		return true;
	char text[320];

	g_snprintf(text, sizeof(text), "handshake failed: %s", reason);
	fail(d, text);
	return false;
}

/* Reads records after the handshake: alerts, a peer's retransmitted last
 * flight (OpenSSL answers it), application data (discarded). */
static void read_records(tb_dtls *d)
{
	uint8_t sink[2048];

	for (;;) {
		int rc, error;

		ERR_clear_error();
		rc = SSL_read(d->ssl, sink, sizeof(sink));
		error = rc > 0 ? SSL_ERROR_NONE : SSL_get_error(d->ssl, rc);
		flush_output(d);
		if (d->detached)
			return;
		if (rc > 0) {
			TB_DEBUG(LOG_CAT, "[%s] discarding %d octets of application data",
				 d->label, rc);
			continue;
		}
		if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE)
			return;
		if (error == SSL_ERROR_ZERO_RETURN) {
			ERR_clear_error();
			fail(d, "closed by peer");
		} else {
			fail_with_openssl_error(d, "read failed");
		}
		return;
	}
}

static void begin(tb_dtls *d)
{
	d->state = TB_DTLS_STATE_CONNECTING;
	d->deadline_us = g_get_monotonic_time() + (gint64)d->handshake_timeout_ms * 1000;
}

static void on_timer(tb_dtls *d)
{
	char reason[256] = "";
	int rc;

	if (d->detached)
		return;
	if (d->state == TB_DTLS_STATE_CONNECTING && g_get_monotonic_time() >= d->deadline_us) {
		fail(d, "handshake timeout");
		return;
	}
	ERR_clear_error();
	rc = DTLSv1_handle_timeout(d->ssl);
	if (rc < 0)
		take_openssl_error(reason, sizeof(reason));
	flush_output(d);
	if (d->detached)
		return;
	if (rc < 0) {
		char text[320];

		g_snprintf(text, sizeof(text), "retransmission failed: %s", reason);
		fail(d, text);
		return;
	}
	arm_timer(d);
}

static gboolean timer_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	tb_dtls *d = ((dtls_timer_source *)source)->dtls;

	(void)callback;
	(void)user_data;
	g_source_set_ready_time(source, -1);
	enter(d);
	on_timer(d);
	leave(d);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs timer_funcs = {
	.dispatch = timer_dispatch,
};

tb_dtls *tb_dtls_new(tb_dtls_identity *identity, GMainContext *context, tb_dtls_role role,
		     const char *remote_fingerprint_alg, const char *remote_fingerprint_hex,
		     const tb_dtls_callbacks *cb, void *user_data)
{
	tb_dtls *d = NULL;
	char reason[256];

	g_return_val_if_fail(identity != NULL && context != NULL && cb != NULL, NULL);
	g_return_val_if_fail(cb->send != NULL && cb->connected != NULL && cb->failed != NULL, NULL);
	g_return_val_if_fail(role == TB_DTLS_CLIENT || role == TB_DTLS_SERVER, NULL);
	if (remote_fingerprint_alg == NULL || remote_fingerprint_hex == NULL)
		return NULL;

	d = g_new0(tb_dtls, 1);
	d->identity = tb_dtls_identity_ref(identity);
	d->context = g_main_context_ref(context);
	d->role = role;
	d->state = TB_DTLS_STATE_NEW;
	d->cb = *cb;
	d->user_data = user_data;
	d->initial_rto_ms = DEFAULT_INITIAL_RTO_MS;
	d->handshake_timeout_ms = DEFAULT_HANDSHAKE_TIMEOUT_MS;
	g_strlcpy(d->label, "-", sizeof(d->label));
	if (!parse_fingerprint(d, remote_fingerprint_alg, remote_fingerprint_hex)) {
		TB_DEBUG(LOG_CAT, "bad remote fingerprint %s %s", remote_fingerprint_alg,
			 remote_fingerprint_hex);
		goto fail;
	}

	ERR_clear_error();
	d->ssl = SSL_new(identity->ctx);
	if (d->ssl == NULL)
		goto fail_openssl;
	d->rbio = BIO_new(BIO_s_mem());
	d->wbio = BIO_new(BIO_s_mem());
	if (d->rbio == NULL || d->wbio == NULL) {
		BIO_free(d->rbio);
		BIO_free(d->wbio);
		goto fail_openssl;
	}
	/* An empty read BIO means "no datagram yet", not end of file. */
	BIO_set_mem_eof_return(d->rbio, -1);
	BIO_set_mem_eof_return(d->wbio, -1);
	SSL_set_bio(d->ssl, d->rbio, d->wbio);
	SSL_set_app_data(d->ssl, d);
	SSL_set_options(d->ssl, SSL_OP_NO_QUERY_MTU);
	if (SSL_set_mtu(d->ssl, DTLS_MTU) <= 0)
		goto fail_openssl;
	DTLS_set_timer_cb(d->ssl, retransmit_timeout);
	if (role == TB_DTLS_CLIENT)
		SSL_set_connect_state(d->ssl);
	else
		SSL_set_accept_state(d->ssl);

	d->timer = g_source_new(&timer_funcs, sizeof(dtls_timer_source));
	((dtls_timer_source *)d->timer)->dtls = d;
	g_source_set_name(d->timer, "tb-dtls-retransmit");
	g_source_set_ready_time(d->timer, -1);
	g_source_attach(d->timer, context);
	return d;

fail_openssl:
	take_openssl_error(reason, sizeof(reason));
	TB_ERROR(LOG_CAT, "cannot make a DTLS session: %s", reason);
fail:
	destroy(d);
	return NULL;
}

int tb_dtls_start(tb_dtls *d)
{
	g_return_val_if_fail(d != NULL, TB_EINVAL);
	if (d->detached || d->state == TB_DTLS_STATE_FAILED || d->state == TB_DTLS_STATE_CLOSED ||
	    d->depth > 0)
		return TB_EINVAL;
	if (d->state != TB_DTLS_STATE_NEW)
		return 0;
	begin(d);
	enter(d);
	/* The client's first flight goes out now; the server has nothing to do
	 * until a ClientHello arrives, and answers it as soon as it does. */
	if (d->role == TB_DTLS_CLIENT)
		(void)step_handshake(d);
	arm_timer(d);
	leave(d);
	return 0;
}

int tb_dtls_handle_datagram(tb_dtls *d, const uint8_t *buf, size_t len)
{
	g_return_val_if_fail(d != NULL, TB_EINVAL);
	if (d->detached || d->depth > 0 || d->state == TB_DTLS_STATE_FAILED ||
	    d->state == TB_DTLS_STATE_CLOSED)
		return TB_EINVAL;
	if (buf == NULL || len == 0 || len > MAX_DATAGRAM)
		return TB_EINVAL;
	if (d->state == TB_DTLS_STATE_NEW) {
		if (d->role == TB_DTLS_CLIENT)
			return TB_EINVAL;
		begin(d);
	}

	enter(d);
	ERR_clear_error();
	if (BIO_write(d->rbio, buf, (int)len) != (int)len) {
		fail_with_openssl_error(d, "out of memory");
		goto out;
	}
	if (d->state == TB_DTLS_STATE_CONNECTING && !step_handshake(d))
		goto out;
	if (d->state == TB_DTLS_STATE_CONNECTED && !d->detached)
		read_records(d);
out:
	/* One datagram at a time: what OpenSSL left unread (the rest of a
	 * record it dropped) must not be glued to the next datagram. */
	if (BIO_ctrl_pending(d->rbio) > 0)
		(void)BIO_reset(d->rbio);
	arm_timer(d);
	leave(d);
	return 0;
}

tb_dtls_state tb_dtls_get_state(const tb_dtls *d)
{
	g_return_val_if_fail(d != NULL, TB_DTLS_STATE_FAILED);
	return d->state;
}

void tb_dtls_close(tb_dtls *d)
{
	if (d == NULL || d->detached)
		return;
	enter(d);
	if (d->state == TB_DTLS_STATE_CONNECTED && d->depth == 1) {
		ERR_clear_error();
		(void)SSL_shutdown(d->ssl);
		ERR_clear_error();
		flush_output(d);
	}
	d->detached = true;
	if (d->state != TB_DTLS_STATE_FAILED)
		d->state = TB_DTLS_STATE_CLOSED;
	stop_timer(d);
	leave(d);
}

void tb_dtls_free(tb_dtls *d)
{
	if (d == NULL || d->free_pending)
		return;
	d->detached = true;
	if (d->timer != NULL) {
		g_source_destroy(d->timer);
		g_source_unref(d->timer);
		d->timer = NULL;
	}
	if (d->depth > 0) {
		d->free_pending = true;
		return;
	}
	destroy(d);
}

void tb_dtls_set_log_label(tb_dtls *d, const char *label)
{
	g_return_if_fail(d != NULL);
	g_strlcpy(d->label, label != NULL ? label : "-", sizeof(d->label));
}

void tb_dtls_set_timeouts(tb_dtls *d, unsigned initial_retransmit_ms,
			  unsigned handshake_timeout_ms)
{
	g_return_if_fail(d != NULL && d->state == TB_DTLS_STATE_NEW);
	if (initial_retransmit_ms > 0)
		d->initial_rto_ms = CLAMP(initial_retransmit_ms, MIN_RTO_MS, MAX_RTO_MS);
	if (handshake_timeout_ms > 0)
		d->handshake_timeout_ms = handshake_timeout_ms;
}

int tb_dtls_set_srtp_profiles(tb_dtls *d, const char *profiles)
{
	int rc = 0;

	g_return_val_if_fail(d != NULL && profiles != NULL, TB_EINVAL);
	if (d->state != TB_DTLS_STATE_NEW)
		return TB_EINVAL;
	ERR_clear_error();
	/* 0 means success. */
	if (SSL_set_tlsext_use_srtp(d->ssl, profiles) != 0)
		rc = TB_EINVAL;
	ERR_clear_error();
	return rc;
}
