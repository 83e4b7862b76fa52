/* test-srtp.c — tb_srtp's OpenSSL engine for SRTP_AEAD_AES_128_GCM against
 * libsrtp2, the reference, and against the RFC test vectors.
 *
 * Most tests are differential: the same keys make an OpenSSL-engine tb_srtp
 * and a libsrtp one (TRIBU_SRTP_BACKEND=libsrtp); every packet is protected
 * by both, which must give the same result and the same octets (so each
 * engine's output is also what the other's receiver takes), and every packet
 * the network delivers (reordered, duplicated, dropped) goes to both
 * receivers, which must agree on accepting it and on the plaintext. Random
 * choices come from g_test_rand_*(): run with --seed to repeat a failure.
 * Single-threaded, no network.
 */
#include "common.h"
#include "srtp.h"

#include <openssl/crypto.h>
#include <srtp2/srtp.h>
#include <string.h>

/* Internal to media/srtp.c (not in srtp.h). */
int tb_srtp_kdf_aes_cm(const uint8_t *master_key, size_t key_len, const uint8_t *master_salt,
		       size_t salt_len, uint8_t label, uint8_t *out, size_t out_len);
tb_srtp *tb_srtp_new_gcm_session_keys(const tb_srtp_keys *keys);
const char *tb_srtp_backend_name(const tb_srtp *srtp);
guint64 tb_srtp_evictions(const tb_srtp *srtp);

#define MAX_PACKET   1500
#define GCM_TAG      16
#define RTCP_TRAILER (GCM_TAG + 4)
#define WINDOW       1024

/* ---- helpers ---- */

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int half = -1;

	for (; *hex; hex++) {
		int v = g_ascii_xdigit_value(*hex);

		if (v < 0)
			continue; /* spaces between groups */
		if (half < 0) {
			half = v;
		} else {
			g_assert_cmpuint(n, <, cap);
			out[n++] = (uint8_t)(half << 4 | v);
			half = -1;
		}
	}
	g_assert_cmpint(half, ==, -1);
	return n;
}

static tb_srtp *new_srtp(const tb_srtp_keys *keys, const char *backend)
{
	GError *error = NULL;
	tb_srtp *srtp;

	if (backend != NULL)
		g_setenv("TRIBU_SRTP_BACKEND", backend, TRUE);
	else
		g_unsetenv("TRIBU_SRTP_BACKEND");
	srtp = tb_srtp_new(keys, &error);
	g_unsetenv("TRIBU_SRTP_BACKEND");
	g_assert_no_error(error);
	g_assert_nonnull(srtp);
	return srtp;
}

static void random_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)g_test_rand_int_range(0, 256);
}

/* A and B are the two ends: A's local key is B's remote key and so on. */
static void random_key_pair(tb_srtp_keys *a, tb_srtp_keys *b)
{
	memset(a, 0, sizeof(*a));
	a->profile = TB_SRTP_AEAD_AES_128_GCM;
	a->key_len = 16;
	a->salt_len = 12;
	random_bytes(a->local_key, a->key_len);
	random_bytes(a->local_salt, a->salt_len);
	random_bytes(a->remote_key, a->key_len);
	random_bytes(a->remote_salt, a->salt_len);
	*b = *a;
	memcpy(b->local_key, a->remote_key, sizeof(a->remote_key));
	memcpy(b->local_salt, a->remote_salt, sizeof(a->remote_salt));
	memcpy(b->remote_key, a->local_key, sizeof(a->local_key));
	memcpy(b->remote_salt, a->local_salt, sizeof(a->local_salt));
}

/* Four sessions from one key pair: each end on both engines. */
typedef struct {
	tb_srtp *ours[2]; /* [0] end A, [1] end B; OpenSSL engine */
	tb_srtp *lib[2];  /* libsrtp */
} quad;

static void quad_init(quad *q)
{
	tb_srtp_keys keys[2];

	random_key_pair(&keys[0], &keys[1]);
	for (int i = 0; i < 2; i++) {
		q->ours[i] = new_srtp(&keys[i], "openssl");
		q->lib[i] = new_srtp(&keys[i], "libsrtp");
		g_assert_cmpstr(tb_srtp_backend_name(q->ours[i]), ==, "openssl");
		g_assert_cmpstr(tb_srtp_backend_name(q->lib[i]), ==, "libsrtp");
	}
	OPENSSL_cleanse(keys, sizeof(keys));
}

static void quad_clear(quad *q)
{
	for (int i = 0; i < 2; i++) {
		tb_srtp_free(q->ours[i]);
		tb_srtp_free(q->lib[i]);
	}
}

/* An RTP packet of the given shape into BUF; returns its length. */
static size_t make_rtp(uint8_t *buf, uint32_t ssrc, uint16_t seq, int csrcs, int ext_words,
		       size_t payload)
{
	size_t n = 12;

	buf[0] = (uint8_t)(0x80 | (ext_words >= 0 ? 0x10 : 0) | csrcs);
	buf[1] = (uint8_t)(g_test_rand_bit() ? 0x80 : 0) | 96;
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	random_bytes(buf + 4, 4); /* timestamp */
	buf[8] = (uint8_t)(ssrc >> 24);
	buf[9] = (uint8_t)(ssrc >> 16);
	buf[10] = (uint8_t)(ssrc >> 8);
	buf[11] = (uint8_t)ssrc;
	random_bytes(buf + n, 4u * csrcs);
	n += 4u * csrcs;
	if (ext_words >= 0) {
		buf[n] = g_test_rand_bit() ? 0xbe : 0x10; /* one-byte or two-byte form */
		buf[n + 1] = g_test_rand_bit() ? 0xde : 0x00;
		buf[n + 2] = (uint8_t)(ext_words >> 8);
		buf[n + 3] = (uint8_t)ext_words;
		random_bytes(buf + n + 4, 4u * ext_words);
		n += 4 + 4u * ext_words;
	}
	random_bytes(buf + n, payload);
	return n + payload;
}

/* A random RTP shape: CSRCs and an extension now and then, payload 0..1200. */
static size_t make_random_rtp(uint8_t *buf, uint32_t ssrc, uint16_t seq)
{
	int csrcs = g_test_rand_int_range(0, 8) == 0 ? g_test_rand_int_range(1, 16) : 0;
	int ext = g_test_rand_int_range(0, 3) == 0 ? g_test_rand_int_range(0, 12) : -1;
	size_t payload;

	switch (g_test_rand_int_range(0, 4)) {
	case 0:
		payload = (size_t)g_test_rand_int_range(0, 8);
		break;
	case 1:
		payload = (size_t)g_test_rand_int_range(60, 200); /* audio */
		break;
	default:
		payload = (size_t)g_test_rand_int_range(200, 1201); /* video */
		break;
	}
	return make_rtp(buf, ssrc, seq, csrcs, ext, payload);
}

/* An RTCP packet (one or more reports' worth of octets) from SSRC. */
static size_t make_rtcp(uint8_t *buf, uint32_t ssrc, size_t len)
{
	buf[0] = 0x81;
	buf[1] = g_test_rand_bit() ? 200 : 201;
	buf[2] = (uint8_t)((len / 4 - 1) >> 8);
	buf[3] = (uint8_t)(len / 4 - 1);
	buf[4] = (uint8_t)(ssrc >> 24);
	buf[5] = (uint8_t)(ssrc >> 16);
	buf[6] = (uint8_t)(ssrc >> 8);
	buf[7] = (uint8_t)ssrc;
	random_bytes(buf + 8, len - 8);
	return len;
}

/* ---- the differential harness ---- */

typedef struct {
	uint8_t *wire; /* protected octets */
	size_t wire_len;
	uint8_t *plain; /* what was protected */
	size_t plain_len;
	uint64_t index; /* RTP: the packet index (ROC << 16 | SEQ) the test meant */
} sent_packet;

static void sent_packet_free(gpointer p)
{
	sent_packet *s = p;

	g_free(s->wire);
	g_free(s->plain);
	g_free(s);
}

/* Protects PLAIN[0..LEN) with both engines of end FROM; they must agree.
 * Returns the packet (to deliver later) or NULL if both refused. */
static sent_packet *send_both(quad *q, int from, bool rtcp, const uint8_t *plain, size_t len)
{
	size_t trailer = rtcp ? RTCP_TRAILER : GCM_TAG, cap = len + trailer;
	/* Exact-size buffers: AddressSanitizer sees a write past the trailer. */
	uint8_t *a = g_malloc(cap), *b = g_malloc(cap);
	size_t a_len = len, b_len = len;
	int ra, rb;
	sent_packet *s;

	memcpy(a, plain, len);
	memcpy(b, plain, len);
	if (rtcp) {
		ra = tb_srtp_protect_rtcp(q->ours[from], a, &a_len, cap);
		rb = tb_srtp_protect_rtcp(q->lib[from], b, &b_len, cap);
	} else {
		ra = tb_srtp_protect_rtp(q->ours[from], a, &a_len, cap);
		rb = tb_srtp_protect_rtp(q->lib[from], b, &b_len, cap);
	}
	g_assert_cmpint(ra, ==, rb);
	if (ra != 0) {
		g_free(a);
		g_free(b);
		return NULL;
	}
	g_assert_cmpuint(a_len, ==, len + trailer);
	g_assert_cmpmem(a, a_len, b, b_len);
	g_free(b);
	s = g_new0(sent_packet, 1);
	s->wire = a;
	s->wire_len = a_len;
	s->plain = g_memdup2(plain, len);
	s->plain_len = len;
	return s;
}

/* Delivers S to both engines of end TO; they must agree. Returns whether
 * it was accepted. */
static bool deliver_both(quad *q, int to, bool rtcp, const sent_packet *s)
{
	uint8_t *a = g_memdup2(s->wire, s->wire_len), *b = g_memdup2(s->wire, s->wire_len);
	size_t a_len = s->wire_len, b_len = s->wire_len;
	int ra, rb;

	if (rtcp) {
		ra = tb_srtp_unprotect_rtcp(q->ours[to], a, &a_len);
		rb = tb_srtp_unprotect_rtcp(q->lib[to], b, &b_len);
	} else {
		ra = tb_srtp_unprotect_rtp(q->ours[to], a, &a_len);
		rb = tb_srtp_unprotect_rtp(q->lib[to], b, &b_len);
	}
	g_assert_cmpint(ra, ==, rb);
	if (ra == 0) {
		g_assert_cmpmem(a, a_len, s->plain, s->plain_len);
		g_assert_cmpmem(b, b_len, s->plain, s->plain_len);
	} else {
		g_assert_cmpint(ra, ==, TB_EINVAL);
	}
	g_free(a);
	g_free(b);
	return ra == 0;
}

/* The network: delivers SENT (sent_packet*, in sending order) to end TO
 * with each packet delayed by up to MAX_DELAY places, DUP_PCT % duplicated
 * and DROP_PCT % lost. Returns the number accepted; *OFFERED counts the
 * deliveries. */
static int network(quad *q, int to, bool rtcp, GPtrArray *sent, int max_delay, int dup_pct,
		   int drop_pct, int *offered)
{
	GPtrArray *order = g_ptr_array_new();
	GArray *keys = g_array_new(FALSE, FALSE, sizeof(double));
	int accepted = 0;

	/* Sort by (position + random delay): a bounded shuffle. */
	for (guint i = 0; i < sent->len; i++) {
		int copies = g_test_rand_int_range(0, 100) < drop_pct  ? 0
			     : g_test_rand_int_range(0, 100) < dup_pct ? 2
								       : 1;

		/* The first packet always arrives (if late, after others): a
		 * receiver takes a new stream to be in its first sequence cycle,
		 * and one that starts at 65535 would otherwise never sync. */
		if (i == 0)
			copies = MAX(copies, 1);

		for (int c = 0; c < copies; c++) {
			double key = i + g_test_rand_double_range(0, max_delay + 1);

			g_ptr_array_add(order, sent->pdata[i]);
			g_array_append_val(keys, key);
		}
	}
	for (guint i = 1; i < order->len; i++) { /* insertion sort: nearly sorted */
		for (guint j = i;
		     j > 0 && g_array_index(keys, double, j - 1) > g_array_index(keys, double, j);
		     j--) {
			double k = g_array_index(keys, double, j);
			gpointer p = order->pdata[j];

			g_array_index(keys, double, j) = g_array_index(keys, double, j - 1);
			g_array_index(keys, double, j - 1) = k;
			order->pdata[j] = order->pdata[j - 1];
			order->pdata[j - 1] = p;
		}
	}
	for (guint i = 0; i < order->len; i++)
		accepted += deliver_both(q, to, rtcp, order->pdata[i]);
	*offered = (int)order->len;
	g_ptr_array_free(order, TRUE);
	g_array_free(keys, TRUE);
	return accepted;
}

/* One sender stream in the RTP schedule. */
typedef struct {
	uint32_t ssrc;
	uint64_t next_index; /* ROC << 16 | SEQ */
	GPtrArray *history;  /* sent_packet* of this SSRC, not owned */
} rtp_source;

/* Sends COUNT RTP packets from end FROM over N_SSRC streams: mostly the next
 * sequence number, sometimes a jump of up to MAX_JUMP, sometimes a NACK
 * retransmission (the same packet again, which must protect identically),
 * sometimes a retransmission older than the window (refused by both). */
static GPtrArray *rtp_schedule(quad *q, int from, int n_ssrc, int count, int jump_pct, int max_jump,
			       uint16_t first_seq)
{
	GPtrArray *sent = g_ptr_array_new_with_free_func(sent_packet_free);
	rtp_source src[8];
	uint8_t buf[MAX_PACKET];

	g_assert_cmpint(n_ssrc, <=, (int)G_N_ELEMENTS(src));
	for (int i = 0; i < n_ssrc; i++) {
		src[i].ssrc = g_test_rand_int();
		src[i].next_index = (uint16_t)(first_seq + 7919 * i);
		src[i].history = g_ptr_array_new();
	}
	for (int n = 0; n < count; n++) {
		rtp_source *s = &src[g_test_rand_int_range(0, n_ssrc)];
		int what = g_test_rand_int_range(0, 100);
		sent_packet *p;

		if (what < 8 && s->history->len > 0) {
			/* NACK: a recent packet again. Within the window it
			 * protects to the same octets; past it both refuse. */
			guint back =
				(guint)g_test_rand_int_range(1, (int)MIN(s->history->len, 60) + 1);
			sent_packet *old = s->history->pdata[s->history->len - back];
			uint64_t distance = s->next_index - 1 - old->index;

			/* Half a sequence cycle back, a number reads as the next
			 * cycle's (RFC 3711 Appendix A): not a retransmission. */
			if (distance >= 0x8000)
				continue;
			p = send_both(q, from, false, old->plain, old->plain_len);
			if (distance >= WINDOW) {
				g_assert_null(p);
				continue;
			}
			g_assert_nonnull(p);
			g_assert_cmpmem(p->wire, p->wire_len, old->wire, old->wire_len);
			p->index = old->index;
		} else if (what < 9 && s->history->len > WINDOW + 100) {
			/* Far too late for a retransmission. */
			sent_packet *old = s->history->pdata[s->history->len - WINDOW - 100];

			if (s->next_index - 1 - old->index < 0x8000) {
				p = send_both(q, from, false, old->plain, old->plain_len);
				g_assert_null(p);
			}
			continue;
		} else {
			if (g_test_rand_int_range(0, 100) < jump_pct)
				s->next_index += (uint64_t)g_test_rand_int_range(1, max_jump);
			size_t len = make_random_rtp(buf, s->ssrc, (uint16_t)s->next_index);

			p = send_both(q, from, false, buf, len);
			g_assert_nonnull(p);
			p->index = s->next_index++;
			g_ptr_array_add(s->history, p);
		}
		g_ptr_array_add(sent, p);
	}
	for (int i = 0; i < n_ssrc; i++)
		g_ptr_array_free(src[i].history, TRUE);
	return sent;
}

static void run_rtp_cross(int n_ssrc, int count, int jump_pct, int max_jump, uint16_t first_seq,
			  int max_delay, int min_accept_pct)
{
	quad q;

	quad_init(&q);
	for (int from = 0; from < 2; from++) {
		GPtrArray *sent =
			rtp_schedule(&q, from, n_ssrc, count, jump_pct, max_jump, first_seq);
		int offered, accepted;

		accepted = network(&q, !from, false, sent, max_delay, 5, 3, &offered);
		g_test_message("RTP %d -> %d: %u protected, %d delivered, %d accepted", from, !from,
			       sent->len, offered, accepted);
		/* Most get through: duplicates, NACK copies and packets late
		 * past the window do not. */
		g_assert_cmpint(accepted * 100, >=, offered * min_accept_pct);
		g_ptr_array_free(sent, TRUE);
	}
	quad_clear(&q);
}

/* ---- tests ---- */

/* RFC 3711 Appendix B.3: the AES-CM PRF, 14-octet master salt. */
static void test_kdf_rfc3711(void)
{
	uint8_t key[16], salt[14], want[94], out[94];

	unhex("E1F97A0D3E018BE0D64FA32C06DE4139", key, sizeof(key));
	unhex("0EC675AD498AFEEBB6960B3AABE6", salt, sizeof(salt));

	g_assert_cmpint(tb_srtp_kdf_aes_cm(key, 16, salt, 14, 0x00, out, 16), ==, 0);
	unhex("C61E7A93744F39EE10734AFE3FF7A087", want, sizeof(want));
	g_assert_cmpmem(out, 16, want, 16);

	g_assert_cmpint(tb_srtp_kdf_aes_cm(key, 16, salt, 14, 0x02, out, 14), ==, 0);
	unhex("30CBBC08863D8C85D49DB34A9AE1", want, sizeof(want));
	g_assert_cmpmem(out, 14, want, 14);

	/* The 94-octet authentication key takes several counter blocks. */
	g_assert_cmpint(tb_srtp_kdf_aes_cm(key, 16, salt, 14, 0x01, out, 94), ==, 0);
	unhex("CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE"
	      "E049646C43D9327AD175578EF7227098 6371C10C9A369AC2F94A8C5FBCDDDC25"
	      "6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2",
	      want, sizeof(want));
	g_assert_cmpmem(out, 94, want, 94);

	/* A 12-octet (GCM) master salt is the 14-octet one with two zero
	 * octets at the end (RFC 7714 erratum 4938). */
	uint8_t padded[14] = {0}, a[16], b[16];

	memcpy(padded, salt, 12);
	for (uint8_t label = 0; label < 6; label++) {
		g_assert_cmpint(tb_srtp_kdf_aes_cm(key, 16, salt, 12, label, a, 16), ==, 0);
		g_assert_cmpint(tb_srtp_kdf_aes_cm(key, 16, padded, 14, label, b, 16), ==, 0);
		g_assert_cmpmem(a, 16, b, 16);
	}
	g_assert_cmpint(tb_srtp_kdf_aes_cm(key, 24, salt, 14, 0, out, 16), ==, TB_EINVAL);
	g_assert_cmpint(tb_srtp_kdf_aes_cm(key, 16, salt, 15, 0, out, 16), ==, TB_EINVAL);
}

/* RFC 7714 §16 and §17 use session keys directly: key 000102..0f and salt
 * "Quid pro quo" for SRTP and SRTCP alike. */
static tb_srtp *rfc7714_session(void)
{
	tb_srtp_keys keys = {.profile = TB_SRTP_AEAD_AES_128_GCM, .key_len = 16, .salt_len = 12};
	tb_srtp *srtp;

	unhex("000102030405060708090a0b0c0d0e0f", keys.local_key, 16);
	unhex("517569642070726f2071756f", keys.local_salt, 12);
	memcpy(keys.remote_key, keys.local_key, 16);
	memcpy(keys.remote_salt, keys.local_salt, 12);
	srtp = tb_srtp_new_gcm_session_keys(&keys);
	g_assert_nonnull(srtp);
	return srtp;
}

static const char rfc7714_rtp[] = "8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f"
				  "6d6e6973 20646976 69736120 696e2070 61727465 73207472 6573";
static const char rfc7714_rtcp[] = "81c8000d 4d617273 4e545031 4e545032 52545020 0000042a"
				   "0000e930 4c756e61 deadbeef deadbeef deadbeef deadbeef"
				   "deadbeef";

/* §16.1: SSRC 5501a0b2, ROC 0, SEQ f17b; IV 51753c6580c2726f20718414. */
static void test_rfc7714_rtp(void)
{
	tb_srtp *srtp = rfc7714_session();
	uint8_t plain[64], want[80], buf[80], copy[80];
	size_t plain_len = unhex(rfc7714_rtp, plain, sizeof(plain));
	size_t want_len = unhex("8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c"
				"9d7e4bca be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf"
				"8833899d 7f27beb1 6a9152cf 765ee439 0cce",
				want, sizeof(want));
	size_t len = plain_len;

	memcpy(buf, plain, plain_len);
	g_assert_cmpint(tb_srtp_protect_rtp(srtp, buf, &len, sizeof(buf)), ==, 0);
	g_assert_cmpmem(buf, len, want, want_len);

	memcpy(copy, want, want_len);
	len = want_len;
	g_assert_cmpint(tb_srtp_unprotect_rtp(srtp, copy, &len), ==, 0);
	g_assert_cmpmem(copy, len, plain, plain_len);
	memcpy(copy, want, want_len);
	len = want_len;
	g_assert_cmpuint(tb_srtp_replayed(srtp), ==, 0);
	g_assert_cmpint(tb_srtp_unprotect_rtp(srtp, copy, &len), ==, TB_EINVAL); /* replay */
	g_assert_cmpuint(tb_srtp_replayed(srtp), ==, 1);
	tb_srtp_free(srtp);

	/* Any bit flipped anywhere, header and tag included: refused. */
	for (size_t bit = 0; bit < want_len * 8; bit += 3) {
		srtp = rfc7714_session();
		memcpy(copy, want, want_len);
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		len = want_len;
		g_assert_cmpint(tb_srtp_unprotect_rtp(srtp, copy, &len), ==, TB_EINVAL);
		tb_srtp_free(srtp);
	}
}

/* §17.1: SRTCP from SSRC "Mars" with index 0x5d4, encrypted; §17.3: the
 * same, authenticated only (E = 0). */
static void test_rfc7714_rtcp(void)
{
	tb_srtp *srtp = rfc7714_session(), *rx;
	uint8_t plain[64], want[96], buf[96];
	size_t plain_len = unhex(rfc7714_rtcp, plain, sizeof(plain)), len;
	size_t want_len = unhex("81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99"
				"7ff5c0f7 6c06f32d c676a5f1 730d6fda 4ce09b46 86303ded"
				"0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4",
				want, sizeof(want));

	/* Our first SRTCP index is 1 (as libsrtp's): send 0x5d3 first. */
	for (int i = 1; i < 0x5d4; i++) {
		memcpy(buf, plain, plain_len);
		len = plain_len;
		g_assert_cmpint(tb_srtp_protect_rtcp(srtp, buf, &len, sizeof(buf)), ==, 0);
		g_assert_cmpuint(len, ==, plain_len + RTCP_TRAILER);
		g_assert_cmpuint(buf[len - 4], ==, 0x80);
		g_assert_cmpuint((uint32_t)buf[len - 2] << 8 | buf[len - 1], ==, (uint32_t)i);
	}
	memcpy(buf, plain, plain_len);
	len = plain_len;
	g_assert_cmpint(tb_srtp_protect_rtcp(srtp, buf, &len, sizeof(buf)), ==, 0);
	g_assert_cmpmem(buf, len, want, want_len);
	tb_srtp_free(srtp);

	rx = rfc7714_session();
	memcpy(buf, want, want_len);
	len = want_len;
	g_assert_cmpint(tb_srtp_unprotect_rtcp(rx, buf, &len), ==, 0);
	g_assert_cmpmem(buf, len, plain, plain_len);
	memcpy(buf, want, want_len);
	len = want_len;
	g_assert_cmpint(tb_srtp_unprotect_rtcp(rx, buf, &len), ==, TB_EINVAL); /* replay */
	tb_srtp_free(rx);

	want_len = unhex("81c8000d 4d617273 4e545031 4e545032 52545020 0000042a"
			 "0000e930 4c756e61 deadbeef deadbeef deadbeef deadbeef"
			 "deadbeef 841dd968 3dd78ec9 2ae58790 125f62b3 000005d4",
			 want, sizeof(want));
	rx = rfc7714_session();
	memcpy(buf, want, want_len);
	len = want_len;
	g_assert_cmpint(tb_srtp_unprotect_rtcp(rx, buf, &len), ==, 0);
	g_assert_cmpmem(buf, len, plain, plain_len);
	tb_srtp_free(rx);
	/* The E flag is authenticated: set it, or touch the clear payload. */
	for (size_t at = 0; at < want_len; at += 7) {
		rx = rfc7714_session();
		memcpy(buf, want, want_len);
		buf[at] ^= 0x01;
		len = want_len;
		g_assert_cmpint(tb_srtp_unprotect_rtcp(rx, buf, &len), ==, TB_EINVAL);
		memcpy(buf, want, want_len);
		buf[want_len - 4] ^= 0x80;
		len = want_len;
		g_assert_cmpint(tb_srtp_unprotect_rtcp(rx, buf, &len), ==, TB_EINVAL);
		tb_srtp_free(rx);
	}
}

/* Many random packets, 3 SSRCs, one sequence wrap each, gentle reordering. */
static void test_cross_rtp(void)
{
	run_rtp_cross(3, 3000, 3, 8, 64000, 20, 80);
}

/* Big jumps: the rollover counter moves many times, with reordering across
 * each wrap (packets delayed past a wrap, or past the window). */
static void test_cross_rtp_rollovers(void)
{
	run_rtp_cross(2, 2500, 30, 3000, 1, 3, 50);
}

/* Heavy reordering (up to 600 places) inside the 1024-packet window. */
static void test_cross_rtp_reorder(void)
{
	run_rtp_cross(1, 3000, 0, 1, 65535 - 1500, 600, 80);
}

/* A new stream that starts high (above 2^15) and one whose first packet
 * arrives after later ones: libsrtp's start-up rules. */
static void test_cross_rtp_start(void)
{
	static const uint16_t starts[] = {0, 1, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff};

	for (size_t i = 0; i < G_N_ELEMENTS(starts); i++)
		run_rtp_cross(1, 300, 3, 2, starts[i], 30, 70);
}

static void test_cross_rtcp(void)
{
	quad q;
	uint8_t buf[MAX_PACKET];

	quad_init(&q);
	for (int from = 0; from < 2; from++) {
		GPtrArray *sent = g_ptr_array_new_with_free_func(sent_packet_free);
		uint32_t ssrcs[3] = {g_test_rand_int(), g_test_rand_int(), g_test_rand_int()};
		int offered, accepted;

		for (int n = 0; n < 1500; n++) {
			uint32_t ssrc = ssrcs[g_test_rand_int_range(0, 3)];
			size_t len = 8 + 4 * (size_t)g_test_rand_int_range(0, 300);
			sent_packet *p;

			make_rtcp(buf, ssrc, len);
			p = send_both(&q, from, true, buf, len);
			g_assert_nonnull(p);
			g_ptr_array_add(sent, p);
		}
		/* libsrtp's SRTCP replay window is 128 (ours 1024): keep the
		 * reordering within it for the comparison. */
		accepted = network(&q, !from, true, sent, 60, 5, 3, &offered);
		g_test_message("RTCP %d -> %d: %d delivered, %d accepted", from, !from, offered,
			       accepted);
		g_assert_cmpint(accepted, >, offered * 3 / 4);
		g_ptr_array_free(sent, TRUE);
	}
	quad_clear(&q);
}

/* SRTCP that libsrtp sends without encryption (E = 0, all of it AAD), which
 * our receiver takes as RFC 7714 §9.3 says. */
static void test_cross_rtcp_unencrypted(void)
{
	tb_srtp_keys keys[2];
	unsigned char master[28];
	srtp_policy_t policy;
	srtp_t sender;
	tb_srtp *rx;
	uint8_t buf[MAX_PACKET + RTCP_TRAILER], plain[MAX_PACKET];

	random_key_pair(&keys[0], &keys[1]);
	memcpy(master, keys[0].local_key, 16);
	memcpy(master + 16, keys[0].local_salt, 12);
	memset(&policy, 0, sizeof(policy));
	srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
	srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp);
	policy.rtcp.sec_serv = sec_serv_auth;
	policy.ssrc.type = ssrc_any_outbound;
	policy.key = master;
	policy.window_size = WINDOW;
	g_assert_cmpint(srtp_create(&sender, &policy), ==, srtp_err_status_ok);
	rx = new_srtp(&keys[1], "openssl");

	for (int n = 0; n < 200; n++) {
		size_t len = 8 + 4 * (size_t)g_test_rand_int_range(0, 100);
		int wire_len = (int)len;
		size_t got;

		make_rtcp(plain, 0x1234 + (uint32_t)(n % 2), len);
		memcpy(buf, plain, len);
		g_assert_cmpint(srtp_protect_rtcp(sender, buf, &wire_len), ==, srtp_err_status_ok);
		g_assert_cmpint(wire_len, ==, (int)(len + RTCP_TRAILER));
		g_assert_cmpuint(buf[wire_len - 4] & 0x80, ==, 0); /* E = 0 */
		g_assert_cmpmem(buf, len, plain, len);             /* in clear */
		got = (size_t)wire_len;
		if (n % 10 == 5) {
			uint8_t copy[sizeof(buf)];
			size_t copy_len = got;

			memcpy(copy, buf, got);
			copy[g_test_rand_int_range(0, (int)len)] ^= 0x20;
			g_assert_cmpint(tb_srtp_unprotect_rtcp(rx, copy, &copy_len), ==, TB_EINVAL);
		}
		g_assert_cmpint(tb_srtp_unprotect_rtcp(rx, buf, &got), ==, 0);
		g_assert_cmpmem(buf, got, plain, len);
	}
	srtp_dealloc(sender);
	tb_srtp_free(rx);
	OPENSSL_cleanse(master, sizeof(master));
	OPENSSL_cleanse(keys, sizeof(keys));
}

/* Tampering anywhere is refused by both engines, and a forgery does not
 * move the replay window: the genuine packet passes afterwards. */
static void test_tamper(void)
{
	quad q;
	uint8_t buf[MAX_PACKET];

	quad_init(&q);
	for (int n = 0; n < 300; n++) {
		bool rtcp = n % 3 == 2;
		size_t len = rtcp ? make_rtcp(buf, 0xabcdef,
					      8 + 4 * (size_t)g_test_rand_int_range(0, 50))
				  : make_random_rtp(buf, 0x5555, (uint16_t)(1000 + n));
		sent_packet *p = send_both(&q, 0, rtcp, buf, len);
		sent_packet forged = *p;

		forged.wire = g_memdup2(p->wire, p->wire_len);
		forged.wire[g_test_rand_int_range(0, (int)p->wire_len)] ^=
			(uint8_t)(1u << g_test_rand_int_range(0, 8));
		g_assert_false(deliver_both(&q, 1, rtcp, &forged));
		/* Truncated by one octet. */
		forged.wire_len = p->wire_len - 1;
		memcpy(forged.wire, p->wire, forged.wire_len);
		g_assert_false(deliver_both(&q, 1, rtcp, &forged));
		g_free(forged.wire);
		g_assert_true(deliver_both(&q, 1, rtcp, p));
		g_assert_false(deliver_both(&q, 1, rtcp, p)); /* replay */
		sent_packet_free(p);
	}
	quad_clear(&q);
}

/* The replay window in detail: 1024 packets back, no further. */
static void test_replay_window(void)
{
	quad q;
	uint8_t buf[MAX_PACKET];
	sent_packet *ps[3000] = {0};

	quad_init(&q);
	for (int i = 0; i < 3000; i++) {
		size_t len = make_rtp(buf, 0x77, (uint16_t)(60000 + i), 0, -1, 40);

		ps[i] = send_both(&q, 0, false, buf, len);
		g_assert_nonnull(ps[i]);
	}
	/* Deliver every other packet in order up to 2999, then the skipped
	 * ones, newest first: the 1024 newest (indices 2999 - 1023 ..) pass,
	 * older ones are too old. */
	for (int i = 0; i < 3000; i += 2)
		g_assert_true(deliver_both(&q, 1, false, ps[i]));
	g_assert_true(deliver_both(&q, 1, false, ps[2999]));
	for (int i = 2997; i >= 1; i -= 2)
		g_assert_cmpint(deliver_both(&q, 1, false, ps[i]), ==, 2999 - i < WINDOW);
	for (int i = 0; i < 3000; i++) {
		g_assert_false(deliver_both(&q, 1, false, ps[i]));
		sent_packet_free(ps[i]);
	}
	quad_clear(&q);
}

/* A NACK retransmission re-protects the same packet to the same octets,
 * on both engines; the receiver takes one copy. */
static void test_nack_retransmission(void)
{
	quad q;
	uint8_t buf[MAX_PACKET];
	sent_packet *first, *again;
	size_t len;

	quad_init(&q);
	for (int i = 0; i < 100; i++) {
		len = make_random_rtp(buf, 0x9999, (uint16_t)(65500 + i));
		first = send_both(&q, 0, false, buf, len);
		g_assert_nonnull(first);
		again = send_both(&q, 0, false, buf, len);
		g_assert_nonnull(again);
		g_assert_cmpmem(first->wire, first->wire_len, again->wire, again->wire_len);
		if (i % 2) {
			g_assert_true(deliver_both(&q, 1, false, again));
			g_assert_false(deliver_both(&q, 1, false, first));
		}
		sent_packet_free(first);
		sent_packet_free(again);
	}
	quad_clear(&q);
}

/* Malformed input: both engines refuse the same packets. */
static void test_malformed(void)
{
	quad q;
	uint8_t buf[MAX_PACKET], copy[MAX_PACKET + RTCP_TRAILER];
	size_t len, l1, l2;

	quad_init(&q);
	/* Header longer than the packet: CSRCs, an extension header, its words. */
	len = make_rtp(buf, 1, 1, 15, -1, 0);
	for (size_t cut = 12; cut < len; cut += 4) {
		l1 = l2 = cut;
		memcpy(copy, buf, cut);
		g_assert_cmpint(tb_srtp_protect_rtp(q.ours[0], copy, &l1, sizeof(copy)), ==,
				TB_EINVAL);
		g_assert_cmpint(tb_srtp_protect_rtp(q.lib[0], copy, &l2, sizeof(copy)), ==,
				TB_EINVAL);
	}
	len = make_rtp(buf, 1, 2, 2, 10, 0);
	for (size_t cut = 12; cut < len; cut++) {
		l1 = l2 = cut;
		memcpy(copy, buf, cut);
		g_assert_cmpint(tb_srtp_protect_rtp(q.ours[0], copy, &l1, sizeof(copy)), ==,
				TB_EINVAL);
		g_assert_cmpint(tb_srtp_protect_rtp(q.lib[0], copy, &l2, sizeof(copy)), ==,
				TB_EINVAL);
	}
	/* An empty payload is fine. */
	l1 = len;
	memcpy(copy, buf, len);
	g_assert_cmpint(tb_srtp_protect_rtp(q.ours[0], copy, &l1, sizeof(copy)), ==, 0);
	g_assert_cmpint(tb_srtp_unprotect_rtp(q.lib[1], copy, &l1), ==, 0);
	g_assert_cmpmem(copy, l1, buf, len);

	/* Received: a header that reaches into the tag. */
	for (int n = 0; n < 200; n++) {
		uint8_t wire[MAX_PACKET];
		size_t wl = (size_t)g_test_rand_int_range(0, 120);

		random_bytes(wire, wl);
		if (wl > 0)
			wire[0] = (uint8_t)(0x80 | (wire[0] & 0x1f));
		l1 = l2 = wl;
		memcpy(copy, wire, wl);
		g_assert_cmpint(tb_srtp_unprotect_rtp(q.ours[1], copy, &l1), ==, TB_EINVAL);
		memcpy(copy, wire, wl);
		g_assert_cmpint(tb_srtp_unprotect_rtp(q.lib[1], copy, &l2), ==, TB_EINVAL);
		l1 = l2 = wl;
		memcpy(copy, wire, wl);
		g_assert_cmpint(tb_srtp_unprotect_rtcp(q.ours[1], copy, &l1), ==, TB_EINVAL);
		memcpy(copy, wire, wl);
		g_assert_cmpint(tb_srtp_unprotect_rtcp(q.lib[1], copy, &l2), ==, TB_EINVAL);
	}
	/* Sizes the wrapper checks for both. */
	len = make_rtp(buf, 1, 3, 0, -1, 100);
	l1 = len;
	g_assert_cmpint(tb_srtp_protect_rtp(q.ours[0], buf, &l1, len + GCM_TAG - 1), ==, TB_EINVAL);
	l1 = 11;
	g_assert_cmpint(tb_srtp_protect_rtp(q.ours[0], buf, &l1, sizeof(buf)), ==, TB_EINVAL);
	len = make_rtcp(buf, 1, 8);
	l1 = len;
	g_assert_cmpint(tb_srtp_protect_rtcp(q.ours[0], buf, &l1, len + RTCP_TRAILER - 1), ==,
			TB_EINVAL);
	l1 = 7;
	g_assert_cmpint(tb_srtp_protect_rtcp(q.ours[0], buf, &l1, sizeof(buf)), ==, TB_EINVAL);
	/* The smallest SRTCP packet: a bare 8-octet header. */
	l1 = 8;
	g_assert_cmpint(tb_srtp_protect_rtcp(q.ours[0], buf, &l1, sizeof(buf)), ==, 0);
	g_assert_cmpuint(l1, ==, 8 + RTCP_TRAILER);
	g_assert_cmpint(tb_srtp_unprotect_rtcp(q.lib[1], buf, &l1), ==, 0);
	g_assert_cmpuint(l1, ==, 8);
	quad_clear(&q);
}

/* More SSRCs than the table holds: it grows, then replaces the least
 * recently used; every packet still round-trips. A forged packet from a new
 * SSRC takes no entry. */
static void test_many_ssrcs(void)
{
	quad q;
	uint8_t buf[MAX_PACKET];
	int n_ssrc = 300;

	quad_init(&q);
	for (int round = 0; round < 3; round++) {
		for (int s = 0; s < n_ssrc; s++) {
			size_t len = make_rtp(buf, 0x10000 + (uint32_t)s,
					      (uint16_t)(round * 10 + s), 0, -1, 50);
			sent_packet *p = send_both(&q, 0, false, buf, len);

			g_assert_nonnull(p);
			g_assert_true(deliver_both(&q, 1, false, p));
			sent_packet_free(p);
		}
	}
	g_assert_cmpuint(tb_srtp_evictions(q.ours[0]), >, 0);
	g_assert_cmpuint(tb_srtp_evictions(q.ours[1]), >, 0);
	quad_clear(&q);

	/* Exactly a full table (256) of genuine SSRCs, then forgeries from new
	 * SSRCs: nothing is evicted. */
	quad_init(&q);
	for (int s = 0; s < 256; s++) {
		size_t len = make_rtp(buf, 0x20000 + (uint32_t)s, 1, 0, -1, 20);
		sent_packet *p = send_both(&q, 0, false, buf, len);

		g_assert_true(deliver_both(&q, 1, false, p));
		sent_packet_free(p);
	}
	g_assert_cmpuint(tb_srtp_evictions(q.ours[1]), ==, 0);
	for (int s = 0; s < 100; s++) {
		uint8_t forged[100];
		size_t fl = make_rtp(forged, 0x30000 + (uint32_t)s, 1, 0, -1, 20) + GCM_TAG;

		random_bytes(forged + fl - GCM_TAG, GCM_TAG);
		g_assert_cmpint(tb_srtp_unprotect_rtp(q.ours[1], forged, &fl), ==, TB_EINVAL);
	}
	g_assert_cmpuint(tb_srtp_evictions(q.ours[1]), ==, 0);
	/* A genuine one does take the least recently used entry. */
	{
		size_t len = make_rtp(buf, 0x40000, 1, 0, -1, 20);
		sent_packet *p = send_both(&q, 0, false, buf, len);

		g_assert_true(deliver_both(&q, 1, false, p));
		sent_packet_free(p);
	}
	g_assert_cmpuint(tb_srtp_evictions(q.ours[1]), ==, 1);
	quad_clear(&q);
}

/* TRIBU_SRTP_BACKEND picks the GCM engine; CM is always libsrtp. */
static void test_backend_choice(void)
{
	tb_srtp_keys keys[2];
	const char *fallback;
	tb_srtp *s;

	random_key_pair(&keys[0], &keys[1]);
	/* Unset: the build's default (OpenSSL unless built with
	 * -DTB_SRTP_GCM_DEFAULT_LIBSRTP). */
	s = new_srtp(&keys[0], NULL);
	fallback = tb_srtp_backend_name(s);
	g_assert_true(g_str_equal(fallback, "openssl") || g_str_equal(fallback, "libsrtp"));
	tb_srtp_free(s);
	s = new_srtp(&keys[0], "libsrtp");
	g_assert_cmpstr(tb_srtp_backend_name(s), ==, "libsrtp");
	tb_srtp_free(s);
	s = new_srtp(&keys[0], "LIBSRTP");
	g_assert_cmpstr(tb_srtp_backend_name(s), ==, "libsrtp");
	tb_srtp_free(s);
	s = new_srtp(&keys[0], "openssl");
	g_assert_cmpstr(tb_srtp_backend_name(s), ==, "openssl");
	tb_srtp_free(s);
	s = new_srtp(&keys[0], "nonsense"); /* warns once, default engine */
	g_assert_cmpstr(tb_srtp_backend_name(s), ==, fallback);
	tb_srtp_free(s);

	keys[0].profile = TB_SRTP_AES128_CM_SHA1_80;
	keys[0].salt_len = 14;
	s = new_srtp(&keys[0], "openssl");
	g_assert_cmpstr(tb_srtp_backend_name(s), ==, "libsrtp");
	tb_srtp_free(s);

	/* The test hook refuses what it cannot do. */
	g_assert_null(tb_srtp_new_gcm_session_keys(&keys[0]));
	OPENSSL_cleanse(keys, sizeof(keys));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_assert_cmpint(
		tb_log_set_spec(g_getenv("TRIBU_DEBUG") ? g_getenv("TRIBU_DEBUG") : "error"), ==,
		0);
	g_assert_cmpint(tb_srtp_global_init(), ==, 0);

	g_test_add_func("/srtp/kdf/rfc3711", test_kdf_rfc3711);
	g_test_add_func("/srtp/rfc7714/rtp", test_rfc7714_rtp);
	g_test_add_func("/srtp/rfc7714/rtcp", test_rfc7714_rtcp);
	g_test_add_func("/srtp/cross/rtp", test_cross_rtp);
	g_test_add_func("/srtp/cross/rtp-rollovers", test_cross_rtp_rollovers);
	g_test_add_func("/srtp/cross/rtp-reorder", test_cross_rtp_reorder);
	g_test_add_func("/srtp/cross/rtp-start", test_cross_rtp_start);
	g_test_add_func("/srtp/cross/rtcp", test_cross_rtcp);
	g_test_add_func("/srtp/cross/rtcp-unencrypted", test_cross_rtcp_unencrypted);
	g_test_add_func("/srtp/tamper", test_tamper);
	g_test_add_func("/srtp/replay-window", test_replay_window);
	g_test_add_func("/srtp/nack-retransmission", test_nack_retransmission);
	g_test_add_func("/srtp/malformed", test_malformed);
	g_test_add_func("/srtp/many-ssrcs", test_many_ssrcs);
	g_test_add_func("/srtp/backend-choice", test_backend_choice);
	return g_test_run();
}
