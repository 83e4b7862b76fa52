/* srtp.h — SRTP/SRTCP protection for one PeerConnection.
 *
 * A tb_srtp holds an outbound side (any SSRC we send, local key) and an
 * inbound side (any SSRC the peer sends, remote key) made from the keys a
 * DTLS-SRTP handshake exported (see dtls.h). Packets are transformed in
 * place; nothing is allocated per packet (at most once per new SSRC).
 *
 * Engines: SRTP_AEAD_AES_128_GCM runs on srtp.c's own engine over OpenSSL's
 * AES-GCM (preallocated contexts keyed once per session); environment
 * variable TRIBU_SRTP_BACKEND=libsrtp, read by each tb_srtp_new(), puts it on
 * libsrtp2 instead (a fallback, and for comparison; building with
 * -DTB_SRTP_GCM_DEFAULT_LIBSRTP makes that the default and
 * TRIBU_SRTP_BACKEND=openssl the exception). SRTP_AES128_CM_SHA1_80 always
 * runs on libsrtp2. The two engines interoperate packet for packet.
 *
 * Threads: tb_srtp_global_init() may be called from any thread, any number of
 * times. A tb_srtp is used by one thread at a time (its media worker); it has
 * no lock.
 *
 * Not here: key exchange (dtls.c), RTP/RTCP parsing (rtp.c, rtcp.c), counting
 * dropped packets (the caller counts; these functions never log per packet).
 */
#ifndef TB_MEDIA_SRTP_H
#define TB_MEDIA_SRTP_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* Longest master key and salt of any supported profile (room for AES-256). */
#define TB_SRTP_MAX_KEY_LEN 32
#define TB_SRTP_MAX_SALT_LEN 14

/* Most octets a protect call appends: a 16-octet GCM tag plus the 4-octet
 * SRTCP index (RTP: 16 at most). No MKI is ever configured, so libsrtp's own
 * SRTP_MAX_TRAILER_LEN (which counts a 128-octet MKI) does not apply. Size
 * packet buffers as payload + TB_SRTP_MAX_TRAILER. */
#define TB_SRTP_MAX_TRAILER 20

/* DTLS-SRTP protection profiles; the values are the IANA ids (RFC 5764,
 * RFC 7714) that the use_srtp extension carries. */
typedef enum tb_srtp_profile {
	TB_SRTP_AES128_CM_SHA1_80 = 0x0001,
	TB_SRTP_AEAD_AES_128_GCM = 0x0007,
} tb_srtp_profile;

/* Master keys for one PeerConnection. "local" protects what we send,
 * "remote" unprotects what the peer sends. Transparent value type; wipe it
 * (OPENSSL_cleanse or memset_explicit) when done. */
typedef struct tb_srtp_keys {
	tb_srtp_profile profile;
	size_t key_len;	 /* octets used in each *_key: 16 for both profiles */
	size_t salt_len; /* octets used in each *_salt: 12 for GCM, 14 for CM */
	uint8_t local_key[TB_SRTP_MAX_KEY_LEN];
	uint8_t local_salt[TB_SRTP_MAX_SALT_LEN];
	uint8_t remote_key[TB_SRTP_MAX_KEY_LEN];
	uint8_t remote_salt[TB_SRTP_MAX_SALT_LEN];
} tb_srtp_keys;

typedef struct tb_srtp tb_srtp;

#define TB_SRTP_ERROR (tb_srtp_error_quark())
/* GError domain of tb_srtp_new(); codes are TB_E* values. */
GQuark tb_srtp_error_quark(void);

/* Returns the profile's name as in the use_srtp registry
 * ("SRTP_AEAD_AES_128_GCM"), or "unknown". Static string. Any thread. */
const char *tb_srtp_profile_name(tb_srtp_profile profile);

/* Fills *KEY_LEN and *SALT_LEN for PROFILE. Returns 0, or TB_EINVAL for an
 * unsupported profile. Any thread. */
int tb_srtp_profile_lengths(tb_srtp_profile profile, size_t *key_len, size_t *salt_len);

/* Initialises libsrtp once per process (later calls return the first
 * result). Returns 0 or TB_EIO. Any thread; tb_srtp_new() calls it too. */
int tb_srtp_global_init(void);

/* Makes the outbound and inbound sessions for KEYS (transfer none: copied,
 * the caller may wipe it at once). Replay window 1024 packets; the outbound
 * session allows re-protecting a sequence number (NACK retransmissions).
 * Returns a new tb_srtp (transfer full), or NULL with ERROR set
 * (TB_EINVAL: lengths do not match the profile; TB_EIO: libsrtp or OpenSSL
 * failed).
 * Any thread; the result is then used by one thread. */
tb_srtp *tb_srtp_new(const tb_srtp_keys *keys, GError **error);

/* Frees SRTP and wipes its keys. NULL is ignored. Owning thread. */
void tb_srtp_free(tb_srtp *srtp);

/* Protects the RTP packet BUF[0..*LEN) in place and sets *LEN to the SRTP
 * length. CAP is the size of BUF; it must leave TB_SRTP_MAX_TRAILER octets
 * (at least the profile's tag) after *LEN. Returns 0, or TB_EINVAL (packet
 * shorter than an RTP header, no room for the tag) or TB_EIO (library
 * failure); BUF and *LEN are then unspecified. Owning thread. */
int tb_srtp_protect_rtp(tb_srtp *srtp, uint8_t *buf, size_t *len, size_t cap);

/* Verifies and decrypts the SRTP packet BUF[0..*LEN) in place and sets *LEN
 * to the RTP length. Returns 0, or TB_EINVAL for anything the peer (or an
 * attacker) can cause: authentication failure, replay, malformed packet;
 * BUF is then unspecified (the payload may have been decrypted before the
 * tag was checked): drop it. Cheap on failure and silent: the caller counts
 * drops. Owning thread. */
int tb_srtp_unprotect_rtp(tb_srtp *srtp, uint8_t *buf, size_t *len);

/* As tb_srtp_protect_rtp() for one compound RTCP packet (SRTCP adds the tag
 * and a 4-octet index). Owning thread. */
int tb_srtp_protect_rtcp(tb_srtp *srtp, uint8_t *buf, size_t *len, size_t cap);

/* As tb_srtp_unprotect_rtp() for SRTCP. Owning thread. */
int tb_srtp_unprotect_rtcp(tb_srtp *srtp, uint8_t *buf, size_t *len);

/* How many inbound SRTP and SRTCP packets were refused because they were
 * replayed or older than the replay window (a subset of the TB_EINVAL
 * returns above). Owning thread. */
uint64_t tb_srtp_replayed(const tb_srtp *srtp);

G_END_DECLS

#endif
