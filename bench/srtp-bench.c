/* srtp-bench.c — cost of SRTP protect/unprotect per packet, per profile.
 *
 * Usage: srtp-bench [PACKETS]   (default 200000)
 *
 * For each DTLS-SRTP profile, protects PACKETS RTP packets of 1200 octets
 * (sequence numbers increasing, one SSRC, in place, as the forwarder does)
 * and prints the mean cost in ns; then unprotects the same number, in
 * batches protected beforehand (untimed), and prints that too. Each figure
 * also shows the fastest batch of 1000 packets, which a busy machine
 * disturbs less than the mean. Keys are random. Single-threaded; the
 * figures feed docs/performance.md.
 */
#include "common.h"
#include "srtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PACKET_LEN 1200
#define SLOT (PACKET_LEN + TB_SRTP_MAX_TRAILER)
#define BATCH 1000
#define WARMUP 2000

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

/* Both directions of one session: TX protects what RX then unprotects. */
static void run_profile(tb_srtp_profile profile, long packets)
{
	tb_srtp_keys tx_keys, rx_keys;
	tb_srtp *tx, *rx;
	GError *error = NULL;
	uint8_t *batch = g_malloc((size_t)BATCH * SLOT);
	size_t lens[BATCH];
	uint8_t buf[SLOT];
	uint16_t seq = 1;
	int64_t start, protect_ns = 0, unprotect_ns = 0;
	double protect_best = 1e12, unprotect_best = 1e12; /* fastest batch, ns/packet */
	long done;

	random_keys(&tx_keys, profile);
	rx_keys = tx_keys;
	memcpy(rx_keys.remote_key, tx_keys.local_key, sizeof(tx_keys.local_key));
	memcpy(rx_keys.remote_salt, tx_keys.local_salt, sizeof(tx_keys.local_salt));
	tx = tb_srtp_new(&tx_keys, &error);
	rx = tx != NULL ? tb_srtp_new(&rx_keys, &error) : NULL;
	if (rx == NULL) {
		fprintf(stderr, "tb_srtp_new: %s\n", error->message);
		exit(1);
	}
	for (size_t i = PACKET_LEN; i-- > 12;)
		buf[i] = (uint8_t)i;

	/* Protect: the payload is re-encrypted in place each time, which costs
	 * the same as fresh plaintext. */
	for (long i = 0; i < WARMUP; i++) {
		size_t len = PACKET_LEN;

		make_rtp(buf, seq++);
		(void)tb_srtp_protect_rtp(tx, buf, &len, sizeof(buf));
	}
	for (done = 0; done < packets; done += BATCH) {
		int n = (int)MIN((long)BATCH, packets - done);
		int64_t took;

		start = now_ns();
		for (int i = 0; i < n; i++) {
			size_t len = PACKET_LEN;

			make_rtp(buf, seq++);
			if (tb_srtp_protect_rtp(tx, buf, &len, sizeof(buf)) != 0) {
				fprintf(stderr, "protect failed\n");
				exit(1);
			}
		}
		took = now_ns() - start;
		protect_ns += took;
		protect_best = MIN(protect_best, (double)took / n);
	}

	/* Unprotect: a receiver cannot guess the rollover count of a sender
	 * that has already wrapped, so a fresh sender (same key, sequence
	 * numbers from 1) makes the packets. */
	tb_srtp_free(tx);
	tx = tb_srtp_new(&tx_keys, &error);
	if (tx == NULL)
		exit(1);
	seq = 1;
	for (done = 0; done < packets; done += BATCH) {
		int n = (int)MIN((long)BATCH, packets - done);

		for (int i = 0; i < n; i++) {
			uint8_t *p = batch + (size_t)i * SLOT;

			memcpy(p, buf, PACKET_LEN);
			make_rtp(p, seq++);
			lens[i] = PACKET_LEN;
			if (tb_srtp_protect_rtp(tx, p, &lens[i], SLOT) != 0)
				exit(1);
		}
		start = now_ns();
		for (int i = 0; i < n; i++) {
			if (tb_srtp_unprotect_rtp(rx, batch + (size_t)i * SLOT, &lens[i]) != 0) {
				fprintf(stderr, "unprotect failed\n");
				exit(1);
			}
		}
		int64_t took = now_ns() - start;

		unprotect_ns += took;
		unprotect_best = MIN(unprotect_best, (double)took / n);
	}

	printf("%-24s protect %6.0f ns/packet (best batch %6.0f)   "
	       "unprotect %6.0f ns/packet (best batch %6.0f)   %ld x %d octets\n",
	       tb_srtp_profile_name(profile), (double)protect_ns / (double)packets, protect_best,
	       (double)unprotect_ns / (double)packets, unprotect_best, packets, PACKET_LEN);
	tb_srtp_free(tx);
	tb_srtp_free(rx);
	g_free(batch);
}

int main(int argc, char **argv)
{
	long packets = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;

	if (packets <= 0) {
		fprintf(stderr, "usage: %s [PACKETS]\n", argv[0]);
		return 2;
	}
	if (tb_srtp_global_init() != 0)
		return 1;
	run_profile(TB_SRTP_AEAD_AES_128_GCM, packets);
	run_profile(TB_SRTP_AES128_CM_SHA1_80, packets);
	return 0;
}
