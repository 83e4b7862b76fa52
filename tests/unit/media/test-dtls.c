/* test-dtls.c — tb_dtls handshakes and tb_srtp sessions, back to back.
 *
 * Two tb_dtls (client and server, each with its own identity) run on one
 * private GMainContext; each side's send() queues a copy of the datagram and
 * an idle source on that context delivers it to the other side, so no call
 * re-enters a tb_dtls. Links can drop datagrams to exercise the
 * retransmission timer. Single-threaded; the only sleeping is the real
 * retransmission and timeout timers (about 1.5 s in total).
 */
#include "common.h"
#include "dtls.h"
#include "srtp.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

#define PACKET_LEN     1200
#define RUN_TIMEOUT_MS 10000

static tb_dtls_identity *client_identity, *server_identity, *stranger_identity;

typedef struct peer peer;

/* One direction of the wire. */
typedef struct {
	GMainContext *context;
	peer *to;
	GQueue queue; /* GBytes waiting for delivery */
	GSource *idle;
	int drop_first; /* drop datagrams 0 .. drop_first-1 */
	int drop_index; /* and the one with this index (-1: none) */
	bool drop_all;
	int sent, dropped;
	size_t max_len;
	GPtrArray *record; /* copies of everything sent, when not NULL */
} wire;

struct peer {
	const char *name;
	tb_dtls *dtls;
	wire out;
	int connected_calls, failed_calls;
	char *reason;
	tb_srtp_keys keys;
	bool free_on_failed;
	bool free_on_connected;
};

typedef struct {
	GMainContext *context;
	peer client, server;
} pair;

static gboolean deliver(gpointer user_data)
{
	wire *w = user_data;
	GBytes *bytes;

	g_source_unref(w->idle);
	w->idle = NULL;
	while ((bytes = g_queue_pop_head(&w->queue)) != NULL) {
		gsize size;
		const uint8_t *data = g_bytes_get_data(bytes, &size);

		if (w->to->dtls != NULL)
			(void)tb_dtls_handle_datagram(w->to->dtls, data, size);
		g_bytes_unref(bytes);
	}
	return G_SOURCE_REMOVE;
}

static void on_send(void *user_data, const uint8_t *data, size_t len)
{
	peer *from = user_data;
	wire *w = &from->out;
	int index = w->sent++;

	w->max_len = MAX(w->max_len, len);
	if (w->record != NULL)
		g_ptr_array_add(w->record, g_bytes_new(data, len));
	if (w->drop_all || index < w->drop_first || index == w->drop_index) {
		w->dropped++;
		return;
	}
	g_queue_push_tail(&w->queue, g_bytes_new(data, len));
	if (w->idle == NULL) {
		w->idle = g_idle_source_new();
		g_source_set_callback(w->idle, deliver, w, NULL);
		g_source_attach(w->idle, w->context);
	}
}

static void on_connected(void *user_data, const tb_srtp_keys *keys)
{
	peer *p = user_data;

	p->connected_calls++;
	p->keys = *keys;
	if (p->free_on_connected) {
		tb_dtls_free(p->dtls);
		tb_dtls_free(p->dtls); /* idempotent inside a callback */
		p->dtls = NULL;
	}
}

static void on_failed(void *user_data, const char *reason)
{
	peer *p = user_data;

	p->failed_calls++;
	g_free(p->reason);
	p->reason = g_strdup(reason);
	if (p->free_on_failed) {
		tb_dtls_free(p->dtls);
		p->dtls = NULL;
	}
}

static const tb_dtls_callbacks callbacks = {
	.send = on_send,
	.connected = on_connected,
	.failed = on_failed,
};

static void peer_init(peer *p, const char *name, pair *owner, peer *to)
{
	memset(p, 0, sizeof(*p));
	p->name = name;
	p->out.context = owner->context;
	p->out.to = to;
	p->out.drop_index = -1;
	g_queue_init(&p->out.queue);
}

static void peer_clear(peer *p)
{
	tb_dtls_free(p->dtls);
	p->dtls = NULL;
	if (p->out.idle != NULL) {
		g_source_destroy(p->out.idle);
		g_source_unref(p->out.idle);
	}
	g_queue_clear_full(&p->out.queue, (GDestroyNotify)g_bytes_unref);
	if (p->out.record != NULL)
		g_ptr_array_unref(p->out.record);
	g_free(p->reason);
	memset(&p->keys, 0, sizeof(p->keys));
}

/* Makes a pair whose sides expect the given fingerprints (NULL: the real
 * one of the other side, sha-256). Nothing is started. */
static void pair_init_with(pair *p, const char *client_expects_alg, const char *client_expects,
			   const char *server_expects_alg, const char *server_expects)
{
	p->context = g_main_context_new();
	peer_init(&p->client, "client", p, &p->server);
	peer_init(&p->server, "server", p, &p->client);
	p->client.dtls = tb_dtls_new(client_identity, p->context, TB_DTLS_CLIENT,
				     client_expects_alg ? client_expects_alg : "sha-256",
				     client_expects ? client_expects
						    : tb_dtls_identity_fingerprint(server_identity),
				     &callbacks, &p->client);
	p->server.dtls = tb_dtls_new(server_identity, p->context, TB_DTLS_SERVER,
				     server_expects_alg ? server_expects_alg : "sha-256",
				     server_expects ? server_expects
						    : tb_dtls_identity_fingerprint(client_identity),
				     &callbacks, &p->server);
	g_assert_nonnull(p->client.dtls);
	g_assert_nonnull(p->server.dtls);
	tb_dtls_set_log_label(p->client.dtls, "test/client");
	tb_dtls_set_log_label(p->server.dtls, "test/server");
}

static void pair_init(pair *p)
{
	pair_init_with(p, NULL, NULL, NULL, NULL);
}

static void pair_clear(pair *p)
{
	peer_clear(&p->client);
	peer_clear(&p->server);
	/* Nothing may be left on the context once both sides are freed. */
	while (g_main_context_iteration(p->context, FALSE))
		;
	g_main_context_unref(p->context);
}

static void pair_start(pair *p)
{
	g_assert_cmpint(tb_dtls_start(p->server.dtls), ==, 0);
	g_assert_cmpint(tb_dtls_start(p->client.dtls), ==, 0);
}

static gboolean set_flag(gpointer user_data)
{
	*(bool *)user_data = true;
	return G_SOURCE_REMOVE;
}

static bool peer_done(const peer *p)
{
	return p->connected_calls > 0 || p->failed_calls > 0;
}

static bool both_done(const pair *p)
{
	return peer_done(&p->client) && peer_done(&p->server);
}

static bool both_failed(const pair *p)
{
	return p->client.failed_calls > 0 && p->server.failed_calls > 0;
}

static bool client_failed(const pair *p)
{
	return p->client.failed_calls > 0;
}

static bool server_failed(const pair *p)
{
	return p->server.failed_calls > 0;
}

/* Runs the context until DONE or TIMEOUT_MS; returns the seconds taken. */
static double run_until(pair *p, bool (*done)(const pair *), unsigned timeout_ms)
{
	bool expired = false;
	GSource *timeout = g_timeout_source_new(timeout_ms);
	gint64 start = g_get_monotonic_time();

	g_source_set_callback(timeout, set_flag, &expired, NULL);
	g_source_attach(timeout, p->context);
	while (!done(p) && !expired)
		g_main_context_iteration(p->context, TRUE);
	g_source_destroy(timeout);
	g_source_unref(timeout);
	g_assert_false(expired);
	/* Deliver what is still in flight (e.g. a close_notify). */
	while (g_main_context_iteration(p->context, FALSE))
		;
	return (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
}

static void assert_connected(pair *p, tb_srtp_profile profile)
{
	size_t key_len, salt_len;

	g_assert_cmpint(p->client.failed_calls, ==, 0);
	g_assert_cmpint(p->server.failed_calls, ==, 0);
	g_assert_cmpint(p->client.connected_calls, ==, 1);
	g_assert_cmpint(p->server.connected_calls, ==, 1);
	g_assert_cmpint(tb_dtls_get_state(p->client.dtls), ==, TB_DTLS_STATE_CONNECTED);
	g_assert_cmpint(tb_dtls_get_state(p->server.dtls), ==, TB_DTLS_STATE_CONNECTED);
	g_assert_cmpint(p->client.keys.profile, ==, profile);
	g_assert_cmpint(p->server.keys.profile, ==, profile);
	g_assert_cmpint(tb_srtp_profile_lengths(profile, &key_len, &salt_len), ==, 0);
	g_assert_cmpuint(p->client.keys.key_len, ==, key_len);
	g_assert_cmpuint(p->client.keys.salt_len, ==, salt_len);
	g_assert_cmpuint(p->server.keys.key_len, ==, key_len);
	g_assert_cmpuint(p->server.keys.salt_len, ==, salt_len);
	g_assert_cmpmem(p->client.keys.local_key, key_len, p->server.keys.remote_key, key_len);
	g_assert_cmpmem(p->client.keys.local_salt, salt_len, p->server.keys.remote_salt, salt_len);
	g_assert_cmpmem(p->client.keys.remote_key, key_len, p->server.keys.local_key, key_len);
	g_assert_cmpmem(p->client.keys.remote_salt, salt_len, p->server.keys.local_salt, salt_len);
	/* The two directions use different keys. */
	g_assert_true(memcmp(p->client.keys.local_key, p->client.keys.remote_key, key_len) != 0);
	g_assert_cmpuint(p->client.out.max_len, <=, 1200);
	g_assert_cmpuint(p->server.out.max_len, <=, 1200);
}

/* ---- identity ---- */

static X509 *identity_certificate(const tb_dtls_identity *identity)
{
	char *pem = tb_dtls_identity_to_pem(identity);
	BIO *bio;
	X509 *cert;

	g_assert_nonnull(pem);
	bio = BIO_new_mem_buf(pem, -1);
	cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	g_free(pem);
	g_assert_nonnull(cert);
	return cert;
}

static char *fingerprint_of(const tb_dtls_identity *identity, const EVP_MD *md, bool lower)
{
	X509 *cert = identity_certificate(identity);
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	GString *s = g_string_new(NULL);

	g_assert_cmpint(X509_digest(cert, md, digest, &len), ==, 1);
	for (unsigned int i = 0; i < len; i++)
		g_string_append_printf(s, lower ? "%s%02x" : "%s%02X", i ? ":" : "", digest[i]);
	X509_free(cert);
	return g_string_free(s, FALSE);
}

static void test_identity(void)
{
	const char *fp = tb_dtls_identity_fingerprint(client_identity);
	X509 *cert = identity_certificate(client_identity);
	X509 *other = identity_certificate(server_identity);
	char *expected = fingerprint_of(client_identity, EVP_sha256(), false);
	EVP_PKEY *key = X509_get0_pubkey(cert);
	char cn[64];
	int days = 0, seconds = 0;

	/* "AB:CD:..": 32 uppercase hex pairs. */
	g_assert_cmpuint(strlen(fp), ==, 32 * 3 - 1);
	for (size_t i = 0; fp[i] != '\0'; i++) {
		if (i % 3 == 2)
			g_assert_cmpint(fp[i], ==, ':');
		else
			g_assert_true(g_ascii_isxdigit(fp[i]) && !g_ascii_islower(fp[i]));
	}
	g_assert_cmpstr(fp, ==, expected);
	g_assert_cmpstr(fp, !=, tb_dtls_identity_fingerprint(server_identity));

	/* Self-signed ECDSA P-256, CN "tribu". */
	g_assert_nonnull(key);
	g_assert_true(EVP_PKEY_is_a(key, "EC"));
	g_assert_cmpint(EVP_PKEY_get_bits(key), ==, 256);
	g_assert_cmpint(X509_verify(cert, key), ==, 1);
	g_assert_cmpint(X509_check_issued(cert, cert), ==, X509_V_OK);
	g_assert_cmpint(X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
						  sizeof(cn)),
			>, 0);
	g_assert_cmpstr(cn, ==, "tribu");
	g_assert_cmpint(X509_get_signature_nid(cert), ==, NID_ecdsa_with_SHA256);

	/* Valid from a day ago to 30 days ahead (give or take the test's run). */
	g_assert_cmpint(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert),
				       X509_get0_notAfter(cert)),
			==, 1);
	g_assert_cmpint(days, ==, 31);
	g_assert_cmpint(X509_cmp_current_time(X509_get0_notBefore(cert)), <, 0);
	g_assert_cmpint(X509_cmp_current_time(X509_get0_notAfter(cert)), >, 0);
	g_assert_cmpint(ASN1_TIME_diff(&days, &seconds, NULL, X509_get0_notBefore(cert)), ==, 1);
	g_assert_cmpint(days, ==, -1);

	/* Random, positive, different serials. */
	g_assert_cmpint(ASN1_INTEGER_get_int64(&(int64_t){0}, X509_get0_serialNumber(cert)), >=, 0);
	g_assert_cmpint(
		ASN1_INTEGER_cmp(X509_get0_serialNumber(cert), X509_get0_serialNumber(other)), !=,
		0);

	/* Refcounting. */
	g_assert_true(tb_dtls_identity_ref(client_identity) == client_identity);
	tb_dtls_identity_unref(client_identity);
	tb_dtls_identity_unref(NULL);

	X509_free(cert);
	X509_free(other);
	g_free(expected);
}

/* ---- handshakes ---- */

static void test_handshake(void)
{
	pair p;
	double seconds;

	pair_init(&p);
	g_assert_cmpint(tb_dtls_get_state(p.client.dtls), ==, TB_DTLS_STATE_NEW);
	pair_start(&p);
	g_assert_cmpint(tb_dtls_get_state(p.client.dtls), ==, TB_DTLS_STATE_CONNECTING);
	/* The ClientHello went out synchronously; the server sent nothing. */
	g_assert_cmpint(p.client.out.sent, ==, 1);
	g_assert_cmpint(p.server.out.sent, ==, 0);
	seconds = run_until(&p, both_done, RUN_TIMEOUT_MS);
	assert_connected(&p, TB_SRTP_AEAD_AES_128_GCM);
	/* No retransmission was needed: the server answered the first
	 * ClientHello at once, each flight fit one datagram. */
	g_assert_cmpfloat(seconds, <, 0.5);
	g_assert_cmpint(p.client.out.sent, ==, 2);
	g_assert_cmpint(p.server.out.sent, ==, 2);
	g_assert_cmpint(tb_dtls_start(p.client.dtls), ==, 0); /* already started */
	pair_clear(&p);
}

static void test_server_not_started(void)
{
	pair p;

	/* A ClientHello that arrives before the server's start() is answered. */
	pair_init(&p);
	g_assert_cmpint(tb_dtls_start(p.client.dtls), ==, 0);
	run_until(&p, both_done, RUN_TIMEOUT_MS);
	assert_connected(&p, TB_SRTP_AEAD_AES_128_GCM);
	pair_clear(&p);
}

static void test_profile_server_preference(void)
{
	pair p;

	/* The client prefers CM; the server's GCM-first order wins. */
	pair_init(&p);
	g_assert_cmpint(tb_dtls_set_srtp_profiles(p.client.dtls,
						  "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM"),
			==, 0);
	pair_start(&p);
	run_until(&p, both_done, RUN_TIMEOUT_MS);
	assert_connected(&p, TB_SRTP_AEAD_AES_128_GCM);
	pair_clear(&p);
}

static void test_profile_cm_only(void)
{
	pair p;

	pair_init(&p);
	g_assert_cmpint(tb_dtls_set_srtp_profiles(p.client.dtls, "SRTP_AES128_CM_SHA1_80"), ==, 0);
	g_assert_cmpint(tb_dtls_set_srtp_profiles(p.client.dtls, "NOT_A_PROFILE"), ==, TB_EINVAL);
	pair_start(&p);
	g_assert_cmpint(tb_dtls_set_srtp_profiles(p.client.dtls, "SRTP_AES128_CM_SHA1_80"), ==,
			TB_EINVAL);
	run_until(&p, both_done, RUN_TIMEOUT_MS);
	assert_connected(&p, TB_SRTP_AES128_CM_SHA1_80);
	pair_clear(&p);
}

static void test_profile_none_in_common(void)
{
	pair p;

	/* A client offering only a profile we do not support: the server
	 * negotiates no use_srtp, and the client refuses to go on. */
	pair_init(&p);
	g_assert_cmpint(tb_dtls_set_srtp_profiles(p.client.dtls, "SRTP_AES128_CM_SHA1_32"), ==, 0);
	pair_start(&p);
	run_until(&p, both_failed, RUN_TIMEOUT_MS);
	g_assert_cmpint(p.client.connected_calls, ==, 0);
	g_assert_cmpint(p.server.connected_calls, ==, 0);
	pair_clear(&p);
}

/* ---- SRTP over the negotiated keys ---- */

static size_t make_rtp(uint8_t *buf, uint16_t seq, uint32_t ssrc, size_t len)
{
	buf[0] = 0x80;
	buf[1] = 96;
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	for (int i = 0; i < 4; i++) {
		buf[4 + i] = (uint8_t)((seq * 960u) >> (24 - 8 * i));
		buf[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	}
	for (size_t i = 12; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + seq);
	return len;
}

/* One RTCP APP packet of LEN octets (a multiple of 4). */
static size_t make_rtcp(uint8_t *buf, uint32_t ssrc, uint8_t fill, size_t len)
{
	size_t words = len / 4 - 1;

	buf[0] = 0x80;
	buf[1] = 204;
	buf[2] = (uint8_t)(words >> 8);
	buf[3] = (uint8_t)words;
	for (int i = 0; i < 4; i++)
		buf[4 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
	memcpy(buf + 8, "TEST", 4);
	for (size_t i = 12; i < len; i++)
		buf[i] = (uint8_t)(i + fill);
	return len;
}

/* BACKEND: TRIBU_SRTP_BACKEND for this session (NULL: the default). */
static tb_srtp *srtp_for(const tb_srtp_keys *keys, const char *backend)
{
	GError *error = NULL;
	tb_srtp *srtp;

	if (backend != NULL)
		g_setenv("TRIBU_SRTP_BACKEND", backend, TRUE);
	srtp = tb_srtp_new(keys, &error);
	g_unsetenv("TRIBU_SRTP_BACKEND");
	g_assert_no_error(error);
	g_assert_nonnull(srtp);
	return srtp;
}

/* RTP from TX to RX: buffers are exactly as large as the profile needs,
 * so that AddressSanitizer sees any write past the trailer. */
static void check_rtp(tb_srtp *tx, tb_srtp *rx, size_t tag, uint32_t ssrc)
{
	size_t cap = PACKET_LEN + tag;
	uint8_t *buf = g_malloc(cap), *orig = g_malloc(PACKET_LEN), *copy = g_malloc(cap);
	size_t len, copy_len;
	uint16_t seq = 65500; /* crosses a rollover */
	uint64_t replayed = tb_srtp_replayed(rx);

	for (int i = 0; i < 100; i++, seq++) {
		len = make_rtp(orig, seq, ssrc, PACKET_LEN);
		memcpy(buf, orig, len);
		g_assert_cmpint(tb_srtp_protect_rtp(tx, buf, &len, cap), ==, 0);
		g_assert_cmpuint(len, ==, PACKET_LEN + tag);
		g_assert_cmpmem(buf, 12, orig, 12);
		g_assert_true(memcmp(buf + 12, orig + 12, 32) != 0);
		memcpy(copy, buf, len);
		copy_len = len;
		g_assert_cmpint(tb_srtp_unprotect_rtp(rx, buf, &len), ==, 0);
		g_assert_cmpmem(buf, len, orig, PACKET_LEN);
		/* The same packet again is a replay. */
		g_assert_cmpint(tb_srtp_unprotect_rtp(rx, copy, &copy_len), ==, TB_EINVAL);
	}
	g_assert_cmpuint(tb_srtp_replayed(rx) - replayed, ==, 100); /* counted apart */

	/* Tampered payload, then tampered tag: refused; the genuine packet still
	 * passes afterwards (a forgery must not advance the replay window). */
	len = make_rtp(orig, seq, ssrc, PACKET_LEN);
	memcpy(buf, orig, len);
	g_assert_cmpint(tb_srtp_protect_rtp(tx, buf, &len, cap), ==, 0);
	memcpy(copy, buf, len);
	copy_len = len;
	copy[100] ^= 0x01;
	g_assert_cmpint(tb_srtp_unprotect_rtp(rx, copy, &copy_len), ==, TB_EINVAL);
	memcpy(copy, buf, len);
	copy_len = len;
	copy[len - 1] ^= 0x80;
	g_assert_cmpint(tb_srtp_unprotect_rtp(rx, copy, &copy_len), ==, TB_EINVAL);
	memcpy(copy, buf, len);
	copy_len = len;
	copy[2] ^= 0x01; /* header (sequence number) is authenticated too */
	g_assert_cmpint(tb_srtp_unprotect_rtp(rx, copy, &copy_len), ==, TB_EINVAL);
	copy_len = 11;
	g_assert_cmpint(tb_srtp_unprotect_rtp(rx, copy, &copy_len), ==, TB_EINVAL);
	g_assert_cmpint(tb_srtp_unprotect_rtp(rx, buf, &len), ==, 0);
	g_assert_cmpmem(buf, len, orig, PACKET_LEN);
	seq++;

	/* A NACK retransmission re-protects the same sequence number: allowed,
	 * and byte-identical; the receiver takes it once. */
	len = make_rtp(orig, seq, ssrc, PACKET_LEN);
	memcpy(buf, orig, len);
	g_assert_cmpint(tb_srtp_protect_rtp(tx, buf, &len, cap), ==, 0);
	memcpy(copy, buf, len);
	copy_len = len;
	len = make_rtp(buf, seq, ssrc, PACKET_LEN);
	g_assert_cmpint(tb_srtp_protect_rtp(tx, buf, &len, cap), ==, 0);
	g_assert_cmpmem(buf, len, copy, copy_len);
	g_assert_cmpint(tb_srtp_unprotect_rtp(rx, buf, &len), ==, 0);
	g_assert_cmpint(tb_srtp_unprotect_rtp(rx, copy, &copy_len), ==, TB_EINVAL);
	seq++;

	/* No room for the tag; too short for an RTP header. */
	len = make_rtp(buf, seq, ssrc, PACKET_LEN);
	g_assert_cmpint(tb_srtp_protect_rtp(tx, buf, &len, cap - 1), ==, TB_EINVAL);
	len = 11;
	g_assert_cmpint(tb_srtp_protect_rtp(tx, buf, &len, cap), ==, TB_EINVAL);

	g_free(buf);
	g_free(orig);
	g_free(copy);
}

static void check_rtcp(tb_srtp *tx, tb_srtp *rx, size_t tag, uint32_t ssrc)
{
	size_t cap = PACKET_LEN + tag + 4;
	uint8_t *buf = g_malloc(cap), *orig = g_malloc(PACKET_LEN), *copy = g_malloc(cap);
	size_t len, copy_len;

	for (int i = 0; i < 50; i++) {
		len = make_rtcp(orig, ssrc, (uint8_t)i, PACKET_LEN);
		memcpy(buf, orig, len);
		g_assert_cmpint(tb_srtp_protect_rtcp(tx, buf, &len, cap), ==, 0);
		g_assert_cmpuint(len, ==, PACKET_LEN + tag + 4);
		g_assert_cmpmem(buf, 8, orig, 8);
		memcpy(copy, buf, len);
		copy_len = len;
		if (i == 10) {
			copy[50] ^= 0x04;
			g_assert_cmpint(tb_srtp_unprotect_rtcp(rx, copy, &copy_len), ==, TB_EINVAL);
			memcpy(copy, buf, len);
			copy_len = len;
		}
		g_assert_cmpint(tb_srtp_unprotect_rtcp(rx, buf, &len), ==, 0);
		g_assert_cmpmem(buf, len, orig, PACKET_LEN);
		g_assert_cmpint(tb_srtp_unprotect_rtcp(rx, copy, &copy_len), ==, TB_EINVAL);
	}
	len = make_rtcp(buf, ssrc, 0, PACKET_LEN);
	g_assert_cmpint(tb_srtp_protect_rtcp(tx, buf, &len, cap - 1), ==, TB_EINVAL);
	len = 7;
	g_assert_cmpint(tb_srtp_protect_rtcp(tx, buf, &len, cap), ==, TB_EINVAL);
	copy_len = 8 + tag + 3;
	g_assert_cmpint(tb_srtp_unprotect_rtcp(rx, copy, &copy_len), ==, TB_EINVAL);

	g_free(buf);
	g_free(orig);
	g_free(copy);
}

/* The keys DTLS exported, on each side's engine (see srtp_for()): the
 * OpenSSL GCM engine and libsrtp must interoperate in both roles. */
static void check_srtp_profile(const char *client_profiles, tb_srtp_profile profile, size_t tag,
			       const char *client_backend, const char *server_backend)
{
	pair p;
	tb_srtp *client_srtp, *server_srtp;

	pair_init(&p);
	if (client_profiles != NULL)
		g_assert_cmpint(tb_dtls_set_srtp_profiles(p.client.dtls, client_profiles), ==, 0);
	pair_start(&p);
	run_until(&p, both_done, RUN_TIMEOUT_MS);
	assert_connected(&p, profile);

	client_srtp = srtp_for(&p.client.keys, client_backend);
	server_srtp = srtp_for(&p.server.keys, server_backend);
	check_rtp(client_srtp, server_srtp, tag, 0x11223344);
	check_rtp(server_srtp, client_srtp, tag, 0x55667788);
	/* A second stream (SSRC) on the same sessions. */
	check_rtp(client_srtp, server_srtp, tag, 0x99aabbcc);
	check_rtcp(client_srtp, server_srtp, tag, 0x11223344);
	check_rtcp(server_srtp, client_srtp, tag, 0x55667788);
	tb_srtp_free(client_srtp);
	tb_srtp_free(server_srtp);
	pair_clear(&p);
}

static void test_srtp_gcm(void)
{
	check_srtp_profile(NULL, TB_SRTP_AEAD_AES_128_GCM, 16, NULL, NULL);
}

static void test_srtp_gcm_libsrtp(void)
{
	check_srtp_profile(NULL, TB_SRTP_AEAD_AES_128_GCM, 16, "libsrtp", "libsrtp");
}

static void test_srtp_gcm_mixed(void)
{
	check_srtp_profile(NULL, TB_SRTP_AEAD_AES_128_GCM, 16, "openssl", "libsrtp");
	check_srtp_profile(NULL, TB_SRTP_AEAD_AES_128_GCM, 16, "libsrtp", "openssl");
}

static void test_srtp_cm(void)
{
	check_srtp_profile("SRTP_AES128_CM_SHA1_80", TB_SRTP_AES128_CM_SHA1_80, 10, NULL, NULL);
}

static void test_srtp_bad_keys(void)
{
	tb_srtp_keys keys = {.profile = TB_SRTP_AEAD_AES_128_GCM, .key_len = 16, .salt_len = 14};
	GError *error = NULL;

	g_assert_null(tb_srtp_new(&keys, &error));
	g_assert_error(error, TB_SRTP_ERROR, TB_EINVAL);
	g_clear_error(&error);
	keys.profile = (tb_srtp_profile)2;
	g_assert_null(tb_srtp_new(&keys, &error));
	g_assert_error(error, TB_SRTP_ERROR, TB_EINVAL);
	g_clear_error(&error);
	g_assert_cmpstr(tb_srtp_profile_name(TB_SRTP_AEAD_AES_128_GCM), ==,
			"SRTP_AEAD_AES_128_GCM");
	g_assert_cmpstr(tb_srtp_profile_name((tb_srtp_profile)2), ==, "unknown");
	tb_srtp_free(NULL);
}

/* ---- fingerprints ---- */

static void test_fingerprint_mismatch_server(void)
{
	pair p;

	/* The server expects someone else: it finishes the handshake, finds
	 * the wrong certificate, gives no keys and closes. */
	pair_init_with(&p, NULL, NULL, "sha-256", tb_dtls_identity_fingerprint(stranger_identity));
	pair_start(&p);
	run_until(&p, both_failed, RUN_TIMEOUT_MS);
	g_assert_cmpint(p.server.connected_calls, ==, 0);
	g_assert_cmpint(p.server.failed_calls, ==, 1);
	g_assert_cmpstr(p.server.reason, ==, "fingerprint mismatch");
	g_assert_cmpint(tb_dtls_get_state(p.server.dtls), ==, TB_DTLS_STATE_FAILED);
	/* The client had nothing to object to, then heard the close_notify. */
	g_assert_cmpint(p.client.failed_calls, ==, 1);
	g_assert_cmpstr(p.client.reason, ==, "closed by peer");
	pair_clear(&p);
}

static void test_fingerprint_mismatch_client(void)
{
	pair p;

	pair_init_with(&p, "sha-256", tb_dtls_identity_fingerprint(stranger_identity), NULL, NULL);
	pair_start(&p);
	run_until(&p, both_failed, RUN_TIMEOUT_MS);
	g_assert_cmpint(p.client.connected_calls, ==, 0);
	g_assert_cmpint(p.client.failed_calls, ==, 1);
	g_assert_cmpstr(p.client.reason, ==, "fingerprint mismatch");
	g_assert_cmpstr(p.server.reason, ==, "closed by peer");
	/* Ignored after failure. */
	g_assert_cmpint(tb_dtls_handle_datagram(p.client.dtls, (const uint8_t *)"\x16", 1), ==,
			TB_EINVAL);
	g_assert_cmpint(tb_dtls_start(p.client.dtls), ==, TB_EINVAL);
	pair_clear(&p);
}

static void test_fingerprint_algorithms(void)
{
	static const struct {
		const char *alg;
		const EVP_MD *(*md)(void);
		bool lower;
	} cases[] = {
		{"sha-1", EVP_sha1, false},
		{"sha-384", EVP_sha384, false},
		{"SHA-512", EVP_sha512, true},
		{"Sha-256", EVP_sha256, true},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *for_client = fingerprint_of(server_identity, cases[i].md(), cases[i].lower);
		char *for_server = fingerprint_of(client_identity, cases[i].md(), cases[i].lower);
		pair p;

		pair_init_with(&p, cases[i].alg, for_client, cases[i].alg, for_server);
		pair_start(&p);
		run_until(&p, both_done, RUN_TIMEOUT_MS);
		assert_connected(&p, TB_SRTP_AEAD_AES_128_GCM);
		pair_clear(&p);
		g_free(for_client);
		g_free(for_server);
	}
}

static void test_fingerprint_bad_arguments(void)
{
	const char *good = tb_dtls_identity_fingerprint(server_identity);
	char *truncated = g_strndup(good, strlen(good) - 3);
	char *trailing = g_strconcat(good, ":00", NULL);
	char *no_colon = g_strdup(good);
	char *not_hex = g_strdup(good);
	char *space = g_strconcat(good, " ", NULL);
	GMainContext *context = g_main_context_new();
	const char *bad[] = {"", truncated, trailing, no_colon, not_hex, space, "AB"};

	no_colon[2] = '-';
	not_hex[0] = 'G';
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_null(tb_dtls_new(client_identity, context, TB_DTLS_CLIENT, "sha-256",
					  bad[i], &callbacks, NULL));
	g_assert_null(tb_dtls_new(client_identity, context, TB_DTLS_CLIENT, "md5", good, &callbacks,
				  NULL));
	g_assert_null(tb_dtls_new(client_identity, context, TB_DTLS_CLIENT, "sha-1", good,
				  &callbacks, NULL));
	g_assert_null(tb_dtls_new(client_identity, context, TB_DTLS_CLIENT, NULL, good, &callbacks,
				  NULL));
	g_assert_null(tb_dtls_new(client_identity, context, TB_DTLS_CLIENT, "sha-256", NULL,
				  &callbacks, NULL));
	g_free(truncated);
	g_free(trailing);
	g_free(no_colon);
	g_free(not_hex);
	g_free(space);
	g_main_context_unref(context);
}

/* ---- loss and timers ---- */

static void test_lost_client_hello(void)
{
	pair p;
	double seconds;

	/* Default timers: the ClientHello goes again after one second. */
	pair_init(&p);
	p.client.out.drop_first = 1;
	pair_start(&p);
	seconds = run_until(&p, both_done, RUN_TIMEOUT_MS);
	assert_connected(&p, TB_SRTP_AEAD_AES_128_GCM);
	g_assert_cmpint(p.client.out.dropped, ==, 1);
	g_assert_cmpint(p.client.out.sent, ==, 3);
	g_assert_cmpfloat(seconds, >=, 0.9);
	g_assert_cmpfloat(seconds, <, 3.0);
	pair_clear(&p);
}

static bool client_sent_two(const pair *p)
{
	return p->client.out.sent >= 2;
}

static void test_duplicate_client_hello(void)
{
	pair p;
	GBytes *first, *second;

	/* The server answers a ClientHello the moment it arrives; a
	 * retransmitted one (new record number) is harmless. OpenSSL 3.0 does
	 * not resend its flight on it but waits for its own timer. */
	pair_init(&p);
	tb_dtls_set_timeouts(p.client.dtls, 20, 0);
	p.client.out.record = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	p.client.out.drop_all = true;
	pair_start(&p);
	run_until(&p, client_sent_two, RUN_TIMEOUT_MS);
	p.client.out.drop_all = false;
	first = g_ptr_array_index(p.client.out.record, 0);
	second = g_ptr_array_index(p.client.out.record, 1);
	g_assert_false(g_bytes_equal(first, second));
	g_assert_cmpint(tb_dtls_handle_datagram(p.server.dtls, g_bytes_get_data(first, NULL),
						g_bytes_get_size(first)),
			==, 0);
	g_assert_cmpint(p.server.out.sent, ==, 1);
	g_assert_cmpint(tb_dtls_handle_datagram(p.server.dtls, g_bytes_get_data(second, NULL),
						g_bytes_get_size(second)),
			==, 0);
	g_assert_cmpint(p.server.out.sent, >=, 1);
	run_until(&p, both_done, RUN_TIMEOUT_MS);
	assert_connected(&p, TB_SRTP_AEAD_AES_128_GCM);
	pair_clear(&p);
}

static void test_lost_flights(void)
{
	pair p;

	/* The server's first flight and, separately, its last flight (CCS +
	 * Finished) get lost; the client's timer brings both back. */
	for (int lost = 0; lost < 2; lost++) {
		pair_init(&p);
		tb_dtls_set_timeouts(p.client.dtls, 50, 0);
		tb_dtls_set_timeouts(p.server.dtls, 50, 0);
		p.server.out.drop_index = lost;
		pair_start(&p);
		run_until(&p, both_done, RUN_TIMEOUT_MS);
		assert_connected(&p, TB_SRTP_AEAD_AES_128_GCM);
		g_assert_cmpint(p.server.out.dropped, ==, 1);
		g_assert_cmpint(p.server.out.sent, >=, 3);
		pair_clear(&p);
	}
}

static void test_handshake_timeout(void)
{
	pair p;
	double seconds;

	/* Everything the client sends is lost: it retransmits with a doubling
	 * timeout until the handshake limit, then gives up. The server, started
	 * but never reached, gives up too. */
	pair_init(&p);
	tb_dtls_set_timeouts(p.client.dtls, 20, 300);
	tb_dtls_set_timeouts(p.server.dtls, 20, 300);
	p.client.out.drop_all = true;
	pair_start(&p);
	seconds = run_until(&p, both_failed, RUN_TIMEOUT_MS);
	g_assert_cmpstr(p.client.reason, ==, "handshake timeout");
	g_assert_cmpstr(p.server.reason, ==, "handshake timeout");
	g_assert_cmpint(p.client.out.sent, >=, 4); /* 0, 20, 60, 140 ms ... */
	g_assert_cmpint(p.server.out.sent, ==, 0);
	g_assert_cmpfloat(seconds, >=, 0.29);
	g_assert_cmpfloat(seconds, <, 2.0);
	pair_clear(&p);
}

/* ---- teardown ---- */

static void test_close(void)
{
	pair p;

	pair_init(&p);
	pair_start(&p);
	run_until(&p, both_done, RUN_TIMEOUT_MS);
	assert_connected(&p, TB_SRTP_AEAD_AES_128_GCM);
	tb_dtls_close(p.client.dtls);
	tb_dtls_close(p.client.dtls);
	g_assert_cmpint(tb_dtls_get_state(p.client.dtls), ==, TB_DTLS_STATE_CLOSED);
	run_until(&p, server_failed, RUN_TIMEOUT_MS);
	g_assert_cmpstr(p.server.reason, ==, "closed by peer");
	g_assert_cmpint(p.client.failed_calls, ==, 0);
	g_assert_cmpint(tb_dtls_handle_datagram(p.client.dtls, (const uint8_t *)"\x17", 1), ==,
			TB_EINVAL);
	pair_clear(&p);
}

static void test_free_in_callbacks(void)
{
	pair p;

	/* Freed from failed(), in the middle of handling a datagram. */
	pair_init_with(&p, NULL, NULL, "sha-256", tb_dtls_identity_fingerprint(stranger_identity));
	p.server.free_on_failed = true;
	pair_start(&p);
	run_until(&p, both_failed, RUN_TIMEOUT_MS);
	g_assert_null(p.server.dtls);
	pair_clear(&p);

	/* Freed from connected(). */
	pair_init(&p);
	p.client.free_on_connected = true;
	p.server.free_on_connected = true;
	pair_start(&p);
	run_until(&p, both_done, RUN_TIMEOUT_MS);
	g_assert_null(p.client.dtls);
	g_assert_null(p.server.dtls);
	pair_clear(&p);

	/* Freed from the timer's failed(). */
	pair_init(&p);
	tb_dtls_set_timeouts(p.client.dtls, 20, 100);
	p.client.out.drop_all = true;
	p.client.free_on_failed = true;
	g_assert_cmpint(tb_dtls_start(p.client.dtls), ==, 0);
	run_until(&p, client_failed, RUN_TIMEOUT_MS);
	g_assert_null(p.client.dtls);
	pair_clear(&p);

	/* Freed while a timer is pending: it must never fire. */
	pair_init(&p);
	tb_dtls_set_timeouts(p.client.dtls, 10, 0);
	p.client.out.drop_all = true;
	g_assert_cmpint(tb_dtls_start(p.client.dtls), ==, 0);
	tb_dtls_free(p.client.dtls);
	p.client.dtls = NULL;
	tb_dtls_free(NULL);
	g_usleep(30 * 1000);
	while (g_main_context_iteration(p.context, FALSE))
		;
	g_assert_cmpint(p.client.out.sent, ==, 1);
	pair_clear(&p);
}

/* ---- hostile input ---- */

static void feed_garbage(tb_dtls *d, GRand *rand, int count)
{
	uint8_t buf[1500];

	for (int i = 0; i < count && tb_dtls_get_state(d) != TB_DTLS_STATE_FAILED; i++) {
		size_t len = (size_t)g_rand_int_range(rand, 1, sizeof(buf));
		int rc;

		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)g_rand_int(rand);
		switch (i % 4) {
		case 0: /* a plausible DTLS 1.2 handshake record header */
			buf[0] = 22;
			buf[1] = 0xfe;
			buf[2] = 0xfd;
			break;
		case 1: /* a plausible alert, epoch 0 */
			buf[0] = 21;
			buf[1] = 0xfe;
			buf[2] = 0xfd;
			buf[3] = buf[4] = 0;
			break;
		case 2: /* any first byte of the DTLS range */
			buf[0] = (uint8_t)g_rand_int_range(rand, 20, 64);
			break;
		default:
			break;
		}
		rc = tb_dtls_handle_datagram(d, buf, len);
		g_assert_true(rc == 0 || rc == TB_EINVAL);
	}
}

static void test_garbage(void)
{
	GRand *rand = g_rand_new_with_seed(20240601);
	GBytes *hello;
	pair p;

	/* Random datagrams at a started server, then at a client mid-handshake:
	 * each may be dropped or fail the handshake, never crash. */
	pair_init(&p);
	g_assert_cmpint(tb_dtls_start(p.server.dtls), ==, 0);
	feed_garbage(p.server.dtls, rand, 2000);
	g_assert_cmpint(p.server.failed_calls, <=, 1);
	g_assert_cmpint(tb_dtls_handle_datagram(p.server.dtls, NULL, 0), ==, TB_EINVAL);
	pair_clear(&p);

	pair_init(&p);
	g_assert_cmpint(tb_dtls_handle_datagram(p.client.dtls, (const uint8_t *)"\x16", 1), ==,
			TB_EINVAL); /* client not started */
	g_assert_cmpint(tb_dtls_start(p.client.dtls), ==, 0);
	feed_garbage(p.client.dtls, rand, 2000);
	g_assert_cmpint(p.client.failed_calls, <=, 1);
	pair_clear(&p);

	/* Mutations of a real ClientHello, each at a fresh server. */
	pair_init(&p);
	p.client.out.record = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	p.client.out.drop_all = true;
	g_assert_cmpint(tb_dtls_start(p.client.dtls), ==, 0);
	g_assert_cmpuint(p.client.out.record->len, ==, 1);
	hello = g_bytes_ref(g_ptr_array_index(p.client.out.record, 0));
	pair_clear(&p);
	for (int i = 0; i < 300; i++) {
		gsize size;
		const uint8_t *data = g_bytes_get_data(hello, &size);
		uint8_t *copy = g_memdup2(data, size);
		size_t len = size;

		if (i % 3 == 0)
			len = (size_t)g_rand_int_range(rand, 1, (gint32)size);
		for (int flips = g_rand_int_range(rand, 1, 4); flips > 0; flips--)
			copy[g_rand_int_range(rand, 0, (gint32)len)] ^=
				(uint8_t)g_rand_int_range(rand, 1, 256);
		pair_init(&p);
		(void)tb_dtls_handle_datagram(p.server.dtls, copy, len);
		while (g_main_context_iteration(p.context, FALSE))
			;
		g_assert_cmpint(p.server.failed_calls, <=, 1);
		g_assert_cmpint(p.server.connected_calls, ==, 0);
		pair_clear(&p);
		g_free(copy);
	}
	g_bytes_unref(hello);

	/* After the handshake: junk is dropped (records that do not
	 * authenticate) and the association stays up. */
	pair_init(&p);
	pair_start(&p);
	run_until(&p, both_done, RUN_TIMEOUT_MS);
	assert_connected(&p, TB_SRTP_AEAD_AES_128_GCM);
	feed_garbage(p.client.dtls, rand, 2000);
	feed_garbage(p.server.dtls, rand, 2000);
	g_assert_cmpint(p.client.failed_calls + p.server.failed_calls, <=, 2);
	pair_clear(&p);

	g_rand_free(rand);
}

int main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	/* Failures are what these tests provoke: keep their warnings quiet
	 * unless asked (TRIBU_DEBUG=media.*:debug). */
	g_assert_cmpint(
		tb_log_set_spec(g_getenv("TRIBU_DEBUG") ? g_getenv("TRIBU_DEBUG") : "error"), ==,
		0);
	g_assert_cmpint(tb_srtp_global_init(), ==, 0);
	client_identity = tb_dtls_identity_new();
	server_identity = tb_dtls_identity_new();
	stranger_identity = tb_dtls_identity_new();
	g_assert_nonnull(client_identity);
	g_assert_nonnull(server_identity);
	g_assert_nonnull(stranger_identity);

	g_test_add_func("/dtls/identity", test_identity);
	g_test_add_func("/dtls/handshake", test_handshake);
	g_test_add_func("/dtls/handshake/server-not-started", test_server_not_started);
	g_test_add_func("/dtls/profile/server-preference", test_profile_server_preference);
	g_test_add_func("/dtls/profile/cm-only", test_profile_cm_only);
	g_test_add_func("/dtls/profile/none-in-common", test_profile_none_in_common);
	g_test_add_func("/dtls/srtp/gcm", test_srtp_gcm);
	g_test_add_func("/dtls/srtp/gcm-libsrtp", test_srtp_gcm_libsrtp);
	g_test_add_func("/dtls/srtp/gcm-mixed", test_srtp_gcm_mixed);
	g_test_add_func("/dtls/srtp/cm", test_srtp_cm);
	g_test_add_func("/dtls/srtp/bad-keys", test_srtp_bad_keys);
	g_test_add_func("/dtls/fingerprint/mismatch-server", test_fingerprint_mismatch_server);
	g_test_add_func("/dtls/fingerprint/mismatch-client", test_fingerprint_mismatch_client);
	g_test_add_func("/dtls/fingerprint/algorithms", test_fingerprint_algorithms);
	g_test_add_func("/dtls/fingerprint/bad-arguments", test_fingerprint_bad_arguments);
	g_test_add_func("/dtls/retransmit/lost-client-hello", test_lost_client_hello);
	g_test_add_func("/dtls/retransmit/duplicate-client-hello", test_duplicate_client_hello);
	g_test_add_func("/dtls/retransmit/lost-server-flights", test_lost_flights);
	g_test_add_func("/dtls/retransmit/handshake-timeout", test_handshake_timeout);
	g_test_add_func("/dtls/close", test_close);
	g_test_add_func("/dtls/free-in-callbacks", test_free_in_callbacks);
	g_test_add_func("/dtls/garbage", test_garbage);
	rc = g_test_run();

	tb_dtls_identity_unref(client_identity);
	tb_dtls_identity_unref(server_identity);
	tb_dtls_identity_unref(stranger_identity);
	return rc;
}
