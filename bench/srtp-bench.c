/* srtp-bench.c — cost of SRTP protect/unprotect per packet, per profile and engine.
 *
 * Usage: srtp-bench [PACKETS]   (default 200000)
 *
 * Compares, in one run, the two engines tb_srtp has for
 * SRTP_AEAD_AES_128_GCM: its own OpenSSL EVP engine (the default) and
 * libsrtp2 (TRIBU_SRTP_BACKEND=libsrtp; Debian's is built on NSS), and shows
 * SRTP_AES128_CM_SHA1_80 (libsrtp2 only) for reference. For each packet
 * size (a 200-octet audio packet, a 1200-octet video packet), each engine
 * protects PACKETS RTP packets (sequence numbers increasing, one SSRC, in
 * place, as the forwarder does) and unprotects PACKETS packets that a second
 * sender protected beforehand (untimed). The work is cut into rounds and the
 * engines take turns round by round, so that a change in the machine's load
 * hits both alike. Prints the mean ns per packet, the fastest batch of 1000
 * packets (which a busy machine disturbs less than the mean), and the ratio
 * libsrtp / OpenSSL of the means. Keys are random. Single-threaded; the
 * figures feed docs/performance.md.
 */
#include "common.h"
#include "srtp.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PACKET_LEN 1200
#define SLOT           (MAX_PACKET_LEN + TB_SRTP_MAX_TRAILER)
#define BATCH          1000
#define ROUNDS         10
#define WARMUP         2000

/* Internal to media/srtp.c: "openssl" or "libsrtp". */
const char *tb_srtp_backend_name(const tb_srtp *srtp);

typedef struct {
	const char *label;
	tb_srtp_profile profile;
	const char *backend; /* TRIBU_SRTP_BACKEND for tb_srtp_new() */
	tb_srtp *tx;         /* protect timing */
	tb_srtp *tx2, *rx;   /* unprotect timing: tx2 makes what rx takes */
	uint16_t seq, seq2;
	int64_t protect_ns, unprotect_ns;
	double protect_best, unprotect_best; /* fastest batch, ns/packet */
} engine;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void make_rtp(uint8_t *buf, uint16_t seq)
{
	buf[0] = 0x80;
	buf[1] = 96;
	buf[2] = (uint8_t)(seq >> 8);
	buf[3] = (uint8_t)seq;
	buf[4] = buf[5] = buf[6] = buf[7] = 0;
	buf[8] = 0x12;
	buf[9] = 0x34;
	buf[10] = 0x56;
	buf[11] = 0x78;
}

static void random_keys(tb_srtp_keys *keys, tb_srtp_profile profile)
{
	uint8_t *bytes = (uint8_t *)keys;

	for (size_t i = 0; i < sizeof(*keys); i++)
		bytes[i] = (uint8_t)g_random_int();
	keys->profile = profile;
	if (tb_srtp_profile_lengths(profile, &keys->key_len, &keys->salt_len) != 0)
		abort();
}

static tb_srtp *new_srtp(const tb_srtp_keys *keys, const char *backend)
{
	GError *error = NULL;
	tb_srtp *srtp;

	g_setenv("TRIBU_SRTP_BACKEND", backend, TRUE);
	srtp = tb_srtp_new(keys, &error);
	g_unsetenv("TRIBU_SRTP_BACKEND");
	if (srtp == NULL) {
		fprintf(stderr, "tb_srtp_new: %s\n", error->message);
		exit(1);
	}
	if (strcmp(tb_srtp_backend_name(srtp), backend) != 0) {
		fprintf(stderr, "asked for %s, got %s\n", backend, tb_srtp_backend_name(srtp));
		exit(1);
	}
	return srtp;
}

/* TX and TX2 send with one key, RX receives it. */
static void engine_init(engine *e, const char *label, tb_srtp_profile profile, const char *backend)
{
	tb_srtp_keys tx_keys, rx_keys;

	memset(e, 0, sizeof(*e));
	e->label = label;
	e->profile = profile;
	e->backend = backend;
	random_keys(&tx_keys, profile);
	rx_keys = tx_keys;
	memcpy(rx_keys.remote_key, tx_keys.local_key, sizeof(tx_keys.local_key));
	memcpy(rx_keys.remote_salt, tx_keys.local_salt, sizeof(tx_keys.local_salt));
	e->tx = new_srtp(&tx_keys, backend);
	e->tx2 = new_srtp(&tx_keys, backend);
	e->rx = new_srtp(&rx_keys, backend);
	e->seq = e->seq2 = 1;
	e->protect_best = e->unprotect_best = 1e12;
	OPENSSL_cleanse(&tx_keys, sizeof(tx_keys));
	OPENSSL_cleanse(&rx_keys, sizeof(rx_keys));
}

static void engine_clear(engine *e)
{
	tb_srtp_free(e->tx);
	tb_srtp_free(e->tx2);
	tb_srtp_free(e->rx);
}

/* Protects N packets of LEN octets in BUF, in batches; timed. */
static void run_protect(engine *e, uint8_t *buf, size_t len, long n, bool timed)
{
	for (long done = 0; done < n; done += BATCH) {
		int k = (int)MIN((long)BATCH, n - done);
		int64_t start = now_ns(), took;

		for (int i = 0; i < k; i++) {
			size_t plen = len;

			/* The payload is re-encrypted in place each time, which
			 * costs the same as fresh plaintext. */
			make_rtp(buf, e->seq++);
			if (tb_srtp_protect_rtp(e->tx, buf, &plen, SLOT) != 0) {
				fprintf(stderr, "%s: protect failed\n", e->label);
				exit(1);
			}
		}
		took = now_ns() - start;
		if (timed) {
			e->protect_ns += took;
			e->protect_best = MIN(e->protect_best, (double)took / k);
		}
	}
}

/* Unprotects N packets of LEN octets that TX2 protects beforehand (untimed);
 * BATCHBUF holds BATCH slots. */
static void run_unprotect(engine *e, uint8_t *batchbuf, const uint8_t *plain, size_t len, long n,
			  bool timed)
{
	size_t lens[BATCH];

	for (long done = 0; done < n; done += BATCH) {
		int k = (int)MIN((long)BATCH, n - done);
		int64_t start, took;

		for (int i = 0; i < k; i++) {
			uint8_t *p = batchbuf + (size_t)i * SLOT;

			memcpy(p, plain, len);
			make_rtp(p, e->seq2++);
			lens[i] = len;
			if (tb_srtp_protect_rtp(e->tx2, p, &lens[i], SLOT) != 0)
				exit(1);
		}
		start = now_ns();
		for (int i = 0; i < k; i++) {
			if (tb_srtp_unprotect_rtp(e->rx, batchbuf + (size_t)i * SLOT, &lens[i]) !=
			    0) {
				fprintf(stderr, "%s: unprotect failed\n", e->label);
				exit(1);
			}
		}
		took = now_ns() - start;
		if (timed) {
			e->unprotect_ns += took;
			e->unprotect_best = MIN(e->unprotect_best, (double)took / k);
		}
	}
}

static void run_size(size_t len, long packets, bool with_cm)
{
	engine engines[3];
	int n_engines = with_cm ? 3 : 2;
	uint8_t *batchbuf = g_malloc((size_t)BATCH * SLOT);
	uint8_t buf[SLOT], plain[SLOT];
	long per_round = (packets + ROUNDS - 1) / ROUNDS;

	engine_init(&engines[0], "GCM openssl", TB_SRTP_AEAD_AES_128_GCM, "openssl");
	engine_init(&engines[1], "GCM libsrtp", TB_SRTP_AEAD_AES_128_GCM, "libsrtp");
	if (with_cm)
		engine_init(&engines[2], "CM_SHA1_80 libsrtp", TB_SRTP_AES128_CM_SHA1_80,
			    "libsrtp");
	for (size_t i = 0; i < sizeof(plain); i++)
		plain[i] = buf[i] = (uint8_t)i;

	for (int i = 0; i < n_engines; i++) {
		run_protect(&engines[i], buf, len, WARMUP, false);
		run_unprotect(&engines[i], batchbuf, plain, len, WARMUP, false);
	}
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < n_engines; i++) {
			/* Alternate which engine goes first. */
			engine *e = &engines[(i + r) % n_engines];

			run_protect(e, buf, len, per_round, true);
			run_unprotect(e, batchbuf, plain, len, per_round, true);
		}
	}

	long total = per_round * ROUNDS;

	printf("%zu-octet RTP packets, %ld per engine, %d rounds:\n", len, total, ROUNDS);
	printf("  %-20s %12s %12s %12s %12s\n", "engine", "protect ns", "(best)", "unprotect ns",
	       "(best)");
	for (int i = 0; i < n_engines; i++) {
		engine *e = &engines[i];

		printf("  %-20s %12.0f %12.0f %12.0f %12.0f\n", e->label,
		       (double)e->protect_ns / (double)total, e->protect_best,
		       (double)e->unprotect_ns / (double)total, e->unprotect_best);
	}
	printf("  GCM libsrtp / openssl: protect %.2fx (best batch %.2fx), "
	       "unprotect %.2fx (best batch %.2fx)\n\n",
	       (double)engines[1].protect_ns / (double)engines[0].protect_ns,
	       engines[1].protect_best / engines[0].protect_best,
	       (double)engines[1].unprotect_ns / (double)engines[0].unprotect_ns,
	       engines[1].unprotect_best / engines[0].unprotect_best);
	fflush(stdout);
	for (int i = 0; i < n_engines; i++)
		engine_clear(&engines[i]);
	g_free(batchbuf);
}

int main(int argc, char **argv)
{
	long packets = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;

	if (packets <= 0 || argc > 2) {
		fprintf(stderr, "usage: %s [PACKETS]\n", argv[0]);
		return 2;
	}
	if (tb_srtp_global_init() != 0)
		return 1;
	run_size(200, packets, false);
	run_size(MAX_PACKET_LEN, packets, true);
	return 0;
}
