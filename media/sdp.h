/* sdp.h — SDP for the two PeerConnections of a participant (JSEP, RFC 8829).
 *
 * Publish: the client offers its send-only tracks and the server answers
 * recvonly (tb_sdp_build_publish_answer). Subscribe: the server offers
 * send-only tracks (tb_sdp_build_subscriber_offer) and checks the client's
 * answer (tb_sdp_check_subscriber_answer). Both directions read SDP into a
 * typed description (tb_sdp_parse) that the transport reads its ICE
 * credentials, DTLS fingerprint and role from.
 *
 * Lines are split and written by GStreamer's GstSDPMessage (gst-sdp-1.0);
 * this module only interprets attribute values, validates them against what
 * WebRTC needs (and what browsers enforce), and applies size limits so a
 * hostile description cannot make us allocate without bound.
 *
 * Threads: no global state; every function may be called from any thread,
 * and what it returns belongs to the caller.
 *
 * Not here: negotiation state across exchanges (the caller keeps mids,
 * payload types and session versions and passes them in), ICE, DTLS, RTP.
 */
#ifndef TB_MEDIA_SDP_H
#define TB_MEDIA_SDP_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* ---- limits: a description over any of them is refused (TB_EINVAL) ---- */
#define TB_SDP_MAX_TEXT (128 * 1024) /* whole description, octets */
#define TB_SDP_MAX_LINE (16 * 1024)  /* one line (attribute), octets */
#define TB_SDP_MAX_SECTIONS 64	     /* m= sections */
#define TB_SDP_MAX_CODECS 64	     /* formats on one m= line */
#define TB_SDP_MAX_RTCP_FB 16	     /* a=rtcp-fb per codec */
#define TB_SDP_MAX_EXTMAPS 32	     /* a=extmap per section */
#define TB_SDP_MAX_SSRCS 32	     /* distinct SSRCs per section */
#define TB_SDP_MAX_SSRC_GROUPS 16    /* a=ssrc-group per section */
#define TB_SDP_MAX_GROUP_SSRCS 8     /* SSRCs in one a=ssrc-group */
#define TB_SDP_MAX_RIDS 8	     /* a=rid per section, rids per simulcast direction */
#define TB_SDP_MAX_CANDIDATES 64     /* a=candidate per section */
#define TB_SDP_MAX_ID_LEN 32	     /* a mid or a rid */
#define TB_SDP_MAX_SIMULCAST 3	     /* simulcast layers the server receives */

/* ---- RTP header extensions ----
 * The subscriber offer uses ONE FIXED ID PER URI in every section; the
 * forwarder rewrites publisher ids to these. Publish answers keep the ids
 * the client offered (tb_sdp_ext_ids says which). */
#define TB_SDP_EXT_URI_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define TB_SDP_EXT_URI_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define TB_SDP_EXT_URI_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define TB_SDP_EXT_URI_TWCC "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define TB_SDP_EXT_URI_RID "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
#define TB_SDP_EXT_URI_REPAIRED_RID "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"

enum {
	TB_SDP_EXT_ID_MID = 1,
	TB_SDP_EXT_ID_ABS_SEND_TIME = 2,
	TB_SDP_EXT_ID_TWCC = 3,
	TB_SDP_EXT_ID_AUDIO_LEVEL = 4, /* audio sections only */
};

/* Negotiated extension ids of one section; 0: not negotiated. */
typedef struct tb_sdp_ext_ids {
	uint8_t mid;
	uint8_t audio_level;
	uint8_t abs_send_time;
	uint8_t twcc;
	uint8_t rid;
	uint8_t repaired_rid;
} tb_sdp_ext_ids;

/* ---- RTCP feedback the server speaks (RFC 4585, 5104; flags) ---- */
enum {
	TB_SDP_FB_NACK = 1 << 0, /* "nack" */
	TB_SDP_FB_PLI = 1 << 1,	 /* "nack pli" */
	TB_SDP_FB_FIR = 1 << 2,	 /* "ccm fir" */
	TB_SDP_FB_REMB = 1 << 3, /* "goog-remb" */
	TB_SDP_FB_TWCC = 1 << 4, /* "transport-cc" */
};

typedef enum tb_sdp_kind {
	TB_SDP_KIND_OTHER = 0,
	TB_SDP_KIND_AUDIO,
	TB_SDP_KIND_VIDEO,
	TB_SDP_KIND_APPLICATION,
} tb_sdp_kind;

/* "audio", "video", "application" or "other" (static). */
const char *tb_sdp_kind_to_string(tb_sdp_kind kind);

typedef enum tb_sdp_direction {
	TB_SDP_SENDRECV = 0, /* also when the description says nothing */
	TB_SDP_SENDONLY,
	TB_SDP_RECVONLY,
	TB_SDP_INACTIVE,
} tb_sdp_direction;

/* "sendrecv", "sendonly", "recvonly", "inactive" (static). */
const char *tb_sdp_direction_to_string(tb_sdp_direction direction);

/* a=setup (RFC 4145, RFC 5763). NONE: absent. */
typedef enum tb_sdp_setup {
	TB_SDP_SETUP_NONE = 0,
	TB_SDP_SETUP_ACTPASS,
	TB_SDP_SETUP_ACTIVE,  /* DTLS client */
	TB_SDP_SETUP_PASSIVE, /* DTLS server */
} tb_sdp_setup;

/* ---- parsed description (transparent, owned by the tb_sdp_desc) ---- */
typedef struct tb_sdp_codec {
	uint8_t pt;
	char *name;	     /* "opus", "VP8", "rtx", ... as written; NULL: no rtpmap
			      * for a dynamic payload type */
	uint32_t clock_rate; /* 0 when unknown */
	unsigned channels;   /* audio: 1 when not written; other kinds: 0 */
	char *fmtp;	     /* a=fmtp parameters after the payload type, or NULL */
	char **rtcp_fb;	     /* "nack", "nack pli", "ccm fir", "goog-remb", ... */
	size_t n_rtcp_fb;
	int rtx_apt;	     /* rtx: the payload type it repairs (fmtp apt=); else -1 */
} tb_sdp_codec;

typedef struct tb_sdp_extmap {
	unsigned id; /* 1..255 */
	char *uri;
	tb_sdp_direction direction;
} tb_sdp_extmap;

typedef struct tb_sdp_ssrc {
	uint32_t ssrc;
	char *cname; /* a=ssrc:N cname:..., or NULL */
	char *msid;  /* a=ssrc:N msid:... ("stream track"), or NULL */
} tb_sdp_ssrc;

typedef struct tb_sdp_ssrc_group {
	char *semantics; /* "FID", "SIM", "FEC-FR", ... */
	uint32_t *ssrcs;
	size_t n_ssrcs;
} tb_sdp_ssrc_group;

typedef enum tb_sdp_rid_direction {
	TB_SDP_RID_SEND = 0,
	TB_SDP_RID_RECV,
} tb_sdp_rid_direction;

typedef struct tb_sdp_rid {
	char *id;
	tb_sdp_rid_direction direction;
	char *params; /* restrictions after the direction ("pt=96;max-width=640"), or NULL */
} tb_sdp_rid;

typedef struct tb_sdp_bundle {
	char **mids; /* as written; the first is the BUNDLE tag */
	size_t n_mids;
} tb_sdp_bundle;

typedef struct tb_sdp_section {
	unsigned index; /* position in the description, from 0 */
	char *mid;	/* never NULL: a section without one is refused */
	tb_sdp_kind kind;
	char *media; /* the m= media token as written */
	unsigned port;
	char *protocol;	 /* "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", ... */
	char **formats;	 /* m= line formats as written */
	size_t n_formats;
	bool bundle_only; /* a=bundle-only with port 0 inside a BUNDLE group */
	bool rejected;	  /* port 0 and not bundle-only */
	int bundle;	  /* index into tb_sdp_desc.bundles, or -1 */
	tb_sdp_direction direction;
	bool rtcp_mux;
	bool rtcp_rsize;
	/* Transport, after inheritance (own value, else the BUNDLE group's,
	 * else session-level); NULL / NONE when there is none. */
	char *ice_ufrag;
	char *ice_pwd;
	char *fingerprint_alg; /* lowercase: "sha-256" */
	char *fingerprint;     /* hex pairs as written */
	tb_sdp_setup setup;
	tb_sdp_codec *codecs; /* RTP sections: one per m= format, in m= order */
	size_t n_codecs;
	tb_sdp_extmap *extmaps;
	size_t n_extmaps;
	tb_sdp_ssrc *ssrcs; /* in order of first appearance */
	size_t n_ssrcs;
	tb_sdp_ssrc_group *ssrc_groups;
	size_t n_ssrc_groups;
	char *msid; /* first a=msid value ("stream track"), or NULL */
	tb_sdp_rid *rids;
	size_t n_rids;
	char *simulcast;	/* a=simulcast value as written, or NULL */
	char **simulcast_send;	/* rids of the send direction (first alternative each) */
	size_t n_simulcast_send;
	char **simulcast_recv;
	size_t n_simulcast_recv;
	char **candidates; /* "candidate:..." (no "a=") */
	size_t n_candidates;
	bool end_of_candidates;
} tb_sdp_section;

typedef struct tb_sdp_desc {
	char *session_id;      /* o= sess-id as written */
	char *session_version; /* o= sess-version as written */
	/* The transport: of the first BUNDLE group with a live section, else of
	 * the first live section, else session-level; NULL / NONE if none. */
	char *ice_ufrag;
	char *ice_pwd;
	char *fingerprint_alg;
	char *fingerprint;
	tb_sdp_setup setup;
	char *ice_options; /* session-level a=ice-options as written, or NULL */
	bool ice_trickle;  /* "trickle" in the ice-options that apply */
	bool ice_lite;
	bool extmap_allow_mixed;
	tb_sdp_bundle *bundles; /* a=group:BUNDLE, in order */
	size_t n_bundles;
	tb_sdp_section *sections;
	size_t n_sections;
} tb_sdp_desc;

#define TB_SDP_ERROR (tb_sdp_error_quark())
/* GError domain of this module; codes are TB_E* values (TB_EINVAL). */
GQuark tb_sdp_error_quark(void);

/* Parses TEXT (an offer or an answer) and checks what WebRTC needs: "v=0"
 * first; a unique a=mid on every section; every live (not rejected) section
 * has ICE ufrag/pwd and a DTLS fingerprint (its own, its BUNDLE group's or
 * session-level); within one BUNDLE group they are equal, and an extmap id
 * names the same URI in every section; BUNDLE mids name sections; limits.
 * Returns 0 and sets *OUT (transfer full, tb_sdp_desc_free), or TB_EINVAL
 * with ERROR set and *OUT NULL. TEXT is untrusted (nullable: an error). */
int tb_sdp_parse(const char *text, tb_sdp_desc **out, GError **error);

/* Frees DESC. NULL is ignored. */
void tb_sdp_desc_free(tb_sdp_desc *desc);

/* Returns the section with MID (transfer none), or NULL. */
const tb_sdp_section *tb_sdp_desc_find_section(const tb_sdp_desc *desc, const char *mid);

/* Returns the id SECTION uses for extension URI, or 0. */
unsigned tb_sdp_section_extmap_id(const tb_sdp_section *section, const char *uri);

/* Returns the codec with payload type PT (transfer none), or NULL. */
const tb_sdp_codec *tb_sdp_section_find_codec(const tb_sdp_section *section, int pt);

/* ---- what the server puts in its own descriptions ---- */
typedef struct tb_sdp_local {
	const char *ice_ufrag;	     /* 4..256 ice-chars */
	const char *ice_pwd;	     /* 22..256 ice-chars */
	const char *fingerprint_alg; /* NULL: "sha-256" */
	const char *fingerprint;     /* hex pairs, see tb_dtls_identity_fingerprint */
	/* Role answered to an "actpass" offer: PASSIVE (also for NONE: the
	 * server is the DTLS server) or ACTIVE. Offers are always actpass. */
	tb_sdp_setup answer_setup;
	bool ice_lite;		       /* write a=ice-lite */
	const char *const *candidates; /* "candidate:..." or "a=candidate:..."; may be NULL */
	size_t n_candidates;
	bool end_of_candidates; /* write a=end-of-candidates */
	uint64_t session_id;	/* o= sess-id; keep it below 2^62 (JSEP 5.2.1) */
	uint64_t session_version; /* o= sess-version of a publish answer */
} tb_sdp_local;

/* A negotiated codec. In a tb_sdp_publish_result the strings are owned by
 * the result; in a tb_sdp_subscriber_track they are borrowed. */
typedef struct tb_sdp_codec_params {
	uint8_t pt;
	char *name; /* "opus", "VP8", "VP9", "H264" */
	uint32_t clock_rate;
	unsigned channels; /* audio: 2 for Opus; video: 0 */
	char *fmtp;	   /* nullable */
	unsigned rtcp_fb;  /* TB_SDP_FB_* */
	int rtx_pt;	   /* -1: no rtx */
} tb_sdp_codec_params;

/* One RTP stream the client announced with a=ssrc (media SSRC, and its
 * retransmission SSRC from a=ssrc-group:FID, or 0). */
typedef struct tb_sdp_stream {
	uint32_t ssrc;
	uint32_t rtx_ssrc;
} tb_sdp_stream;

typedef struct tb_sdp_publish_section {
	char *mid;
	tb_sdp_kind kind;
	bool accepted;		    /* in the answer with a port, in the BUNDLE group */
	const char *reject_reason;  /* static text when not accepted, else NULL */
	tb_sdp_direction direction; /* as offered */
	bool receiving;		    /* accepted, and offered sendonly or sendrecv */
	tb_sdp_codec_params codec;  /* when accepted */
	tb_sdp_ext_ids ext;
	tb_sdp_stream *streams; /* a=ssrc streams: SIM order, else order of appearance */
	size_t n_streams;
	char **rids; /* simulcast layers accepted (a=simulcast:recv order) */
	size_t n_rids;
	char *cname;	   /* nullable */
	char *msid_stream; /* nullable */
	char *msid_track;  /* nullable */
} tb_sdp_publish_section;

typedef struct tb_sdp_publish_result {
	tb_sdp_publish_section *sections; /* one per offered section, in order */
	size_t n_sections;
	size_t n_accepted;
	char *bundle_tag;	  /* mid of the answerer-tagged section, or NULL */
	tb_sdp_setup local_setup; /* our a=setup: ACTIVE (DTLS client) or PASSIVE */
} tb_sdp_publish_result;

/* Releases what RESULT holds and zeroes it. NULL is ignored. */
void tb_sdp_publish_result_clear(tb_sdp_publish_result *result);

/* Builds the server's answer to a publish OFFER (from tb_sdp_parse) with
 * LOCAL's transport. Per section: audio takes Opus/48000/2; video the first
 * of VP8, VP9 (profile-id 0) and H.264 (packetization-mode=1, baseline,
 * constrained baseline or main) in the client's order; the answer lists that
 * codec and its rtx, the rtcp-fb and extensions the server speaks (offered
 * ids kept), a=recvonly (a=inactive when the client does not send), and
 * a=simulcast:recv for up to TB_SDP_MAX_SIMULCAST offered send rids. Other
 * kinds, sections without rtcp-mux, a DTLS profile or a common codec, and
 * sections outside the first BUNDLE group are rejected (port 0). See sdp.c
 * for the JSEP / RFC 8843 rules applied.
 * Returns the answer (transfer full, g_free) and fills RESULT (nullable;
 * clear it with tb_sdp_publish_result_clear), or NULL with ERROR set
 * (TB_EINVAL: bad LOCAL). RESULT is left zeroed on error. */
char *tb_sdp_build_publish_answer(const tb_sdp_desc *offer, const tb_sdp_local *local,
				  tb_sdp_publish_result *result, GError **error);

/* One section of a subscriber offer. Strings are borrowed. */
typedef struct tb_sdp_subscriber_track {
	const char *mid; /* server-chosen, stable while the section lives */
	tb_sdp_kind kind; /* AUDIO or VIDEO */
	/* FALSE: the section stays at its index with port 0 and a=inactive
	 * (a stopped transceiver, JSEP 5.2.2), outside the BUNDLE group. Its
	 * index may later carry a new track, which needs a NEW mid. */
	bool active;
	tb_sdp_codec_params codec; /* pt outside 64..95; same pt = same codec in every section */
	uint32_t ssrc;		   /* non-zero */
	uint32_t rtx_ssrc;	   /* 0: none (needs codec.rtx_pt >= 0 otherwise) */
	const char *cname;
	const char *msid_stream;
	const char *msid_track;
	/* With ACTIVE: the section stays in the BUNDLE group with a=inactive
	 * and no SSRC or msid: a live transceiver that sends nothing now, which
	 * a later offer may give a new track (new SSRC and msid, same mid).
	 * Keeps the BUNDLE transport alive when nothing is received. */
	bool paused;
} tb_sdp_subscriber_track;

/* Builds the server's offer for the subscribe PeerConnection: one section
 * per track in order; a=setup:actpass, a=ice-options:trickle, one BUNDLE
 * group with the active mids, a=sendonly, rtcp-mux, rtcp-rsize, a=ssrc and
 * a=ssrc-group:FID lines, and the fixed TB_SDP_EXT_ID_* extension ids.
 * SESSION_VERSION must grow with every offer (o= line). Returns the offer
 * (transfer full, g_free), or NULL with ERROR set (TB_EINVAL: bad LOCAL or
 * track, duplicate mid, too many tracks, payload type collision). */
char *tb_sdp_build_subscriber_offer(const tb_sdp_subscriber_track *tracks, size_t n,
				    const tb_sdp_local *local, uint64_t session_version,
				    GError **error);

/* Checks the client's ANSWER (from tb_sdp_parse) to the offer built from
 * TRACKS: same mids in the same order; every active track accepted
 * (non-zero port, recvonly or inactive, our payload type, our extension ids
 * where it kept an extension) inside the answer's one BUNDLE group;
 * a=setup active or passive; ICE credentials and a fingerprint. An inactive
 * track's section may be anything (webrtcbin 1.22 even bundles it). The
 * answer may drop extensions: the forwarder sends only those
 * tb_sdp_section_extmap_id() finds in ANSWER. The server is the DTLS server
 * when ANSWER->setup is ACTIVE. Returns 0, or TB_EINVAL with ERROR. */
int tb_sdp_check_subscriber_answer(const tb_sdp_desc *answer, const tb_sdp_subscriber_track *tracks,
				   size_t n, GError **error);

/* ---- trickled candidates ---- */

/* TRUE if CANDIDATE means end-of-candidates: NULL, "" (or blanks),
 * "end-of-candidates" or "a=end-of-candidates". */
bool tb_sdp_candidate_is_end(const char *candidate);

/* Turns "candidate:..." or "a=candidate:..." (surrounding blanks and a
 * trailing CR/LF allowed) into the one form libnice 0.1.21's
 * nice_agent_parse_remote_candidate_sdp() accepts: "a=candidate:" then the
 * fields separated by single spaces. Returns a new string (transfer full),
 * or NULL if it is not a candidate line, holds control characters, has
 * fewer than the 8 mandatory fields or is longer than 1024 octets. */
char *tb_sdp_candidate_to_nice(const char *candidate);

G_END_DECLS

#endif
