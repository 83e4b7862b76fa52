/* sdp.c — SDP parse and build for the publish and subscribe PeerConnections.
 *
 * GstSDPMessage splits the text into lines and attributes and writes ours;
 * this file interprets attribute values. Pure functions, no globals: any
 * thread. Nothing is logged; errors carry their reason in a GError.
 *
 * Rules the server's descriptions follow, and why:
 * - Publish answer ports: every accepted section gets the same dummy port 9
 *   and c=IN IP4 0.0.0.0 (RFC 8843 §7.3: the answerer BUNDLE address goes on
 *   the answerer-tagged and every other bundled section; JSEP 8829 §5.3.1:
 *   port 9 before candidates). A section offered bundle-only with port 0 is
 *   accepted the same way: "no m= sections in the answer should have an
 *   a=bundle-only line" (JSEP §5.3.1). Rejected sections get port 0, keep
 *   their mid and leave the BUNDLE group (RFC 8843 §7.3.3).
 * - The answer's BUNDLE group lists the accepted mids in the offered order,
 *   so the answerer-tagged section is the first accepted one (RFC 8843
 *   §7.3.1: when the offerer-tagged section is rejected, the answerer moves
 *   on to the next mid; Chromium takes the first mid as the tag).
 * - ICE and DTLS attributes (ice-ufrag, ice-pwd, fingerprint, setup) are
 *   repeated, identical, in EVERY section, rejected and port-0 ones too.
 *   RFC 8843 §7.1.3 and JSEP §5.2.1 would keep them to the tagged section,
 *   but GStreamer 1.22's webrtcbin (the integration tests' client) refuses
 *   a description where any m= section, even a rejected one, lacks
 *   a=setup, ICE credentials or the fingerprint (its validate_sdp), while
 *   Chromium reads them only from the BUNDLE tag and skips rejected
 *   sections (VerifyIceUfragPwdPresent, VerifyCrypto), and Chromium and
 *   Firefox repeat them in their own descriptions. Candidates and
 *   a=end-of-candidates go only in the tagged section (JSEP §5.3.2).
 * - a=setup: an actpass offer is answered passive by default (the server is
 *   the DTLS server in both PeerConnections, since browsers answer our
 *   actpass offers with active); JSEP §5.3.1 prefers active to save a round
 *   trip, which does not apply here because the client cannot start ICE
 *   before it has our answer. tb_sdp_local.answer_setup can choose active.
 *   An offer of active or of nothing (RFC 4145 default) gets passive, and
 *   passive gets active (RFC 5763 §5).
 * - a=ice-options:trickle is in the answer only if the offer has it (JSEP
 *   §5.3.1); the subscriber offer always has it.
 * - One codec (and its rtx) per accepted section, the first the server
 *   supports in the client's order (RFC 3264 §6.1 lets the answerer keep a
 *   subset): the forwarder passes the payload on unchanged, so a section
 *   must not switch codec mid-stream. RED and FEC are not negotiated.
 * - A section without rtcp-mux, or not DTLS-SRTP ("UDP/TLS/RTP/SAVPF",
 *   "TCP/DTLS/RTP/SAVPF"), is rejected: JSEP §5.3.1 rejects sections that
 *   lack what is mandatory to use; the transport is BUNDLE + rtcp-mux only.
 * - Sections outside the first BUNDLE group are rejected (one transport per
 *   PeerConnection); an offer without BUNDLE gets its first usable section.
 * - A section offered recvonly/inactive is answered inactive but stays
 *   accepted, so the browser can reuse the transceiver (a rejection would
 *   stop it for good).
 * - Subscriber offer: one fixed extension id per URI everywhere
 *   (TB_SDP_EXT_ID_*), since Chromium rejects a bundle whose ids disagree;
 *   a removed track keeps its index with port 0 and a=inactive and leaves
 *   the BUNDLE group (JSEP §5.2.2, stopped transceiver); a payload type
 *   means one codec in every bundled section (Chromium rejects "codec
 *   collisions").
 */
#include "sdp.h"

#include "common.h"

#include <gst/sdp/sdp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

// clang-format off
G_DEFINE_QUARK(tb-sdp-error-quark, tb_sdp_error)
// clang-format on

#define DUMMY_PORT 9 /* RFC 8840 §4.1.1: no candidates yet */
#define DUMMY_ADDR "0.0.0.0"
#define MAX_CANDIDATE_LEN 1024
#define MAX_NAME_LEN 32	 /* encoding names, format tokens */
#define MAX_VALUE_LEN 256 /* cname, msid, uri */

static bool fail(GError **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static bool fail(GError **error, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	g_set_error_literal(error, TB_SDP_ERROR, TB_EINVAL, msg);
	g_free(msg);
	return false;
}

/* ---- small text helpers ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Sets *TOK and *LEN to the next blank-separated token of *P and advances *P;
 * FALSE at the end. */
static bool next_token(const char **p, const char **tok, size_t *len)
{
	const char *s = *p;

	while (is_blank(*s))
		s++;
	*tok = s;
	while (*s != '\0' && !is_blank(*s))
		s++;
	*len = (size_t)(s - *tok);
	*p = s;
	return *len > 0;
}

static bool token_is(const char *tok, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(tok, word, len) == 0;
}

/* Reads LEN decimal digits (1..10) as a value <= MAX. */
static bool parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!g_ascii_isdigit(s[i]))
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

/* Returns the rest of P without surrounding blanks (transfer full), or NULL
 * when nothing is left. */
static char *rest_dup(const char *p)
{
	size_t len;

	while (is_blank(*p))
		p++;
	len = strlen(p);
	while (len > 0 && is_blank(p[len - 1]))
		len--;
	return len > 0 ? g_strndup(p, len) : NULL;
}

/* TRUE if S has no control character: values we copy into our own SDP. */
static bool is_text(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* RFC 4566 token of 1..MAX characters. */
static bool is_token(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_isalnum(s[i]) && (s[i] == '\0' || !strchr("!#$%&'*+-.^_`{|}~", s[i])))
			return false;
	return true;
}

/* RFC 8851 rid-id: alphanumerics, '-' and '_'. */
static bool is_rid(const char *s, size_t len)
{
	if (len == 0 || len > TB_SDP_MAX_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_isalnum(s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* RFC 8839 ice-ufrag / ice-pwd: MIN..256 of ALPHA / DIGIT / '+' / '/'. */
static bool is_ice_string(const char *s, size_t min)
{
	size_t len = s ? strlen(s) : 0;

	if (len < min || len > 256)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_isalnum(s[i]) && s[i] != '+' && s[i] != '/')
			return false;
	return true;
}

/* RFC 8122 fingerprint: 16..64 hex pairs separated by ':'. */
static bool is_fingerprint(const char *s)
{
	size_t pairs = 0;

	if (s == NULL)
		return false;
	for (;;) {
		if (!g_ascii_isxdigit(s[0]) || !g_ascii_isxdigit(s[1]))
			return false;
		pairs++;
		s += 2;
		if (*s == '\0')
			break;
		if (*s != ':')
			return false;
		s++;
	}
	return pairs >= 16 && pairs <= 64;
}

/* Copies the value of KEY (case ignored) in a "k=v;k=v" list into BUF. */
static bool param_get(const char *list, const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	const char *p = list;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, ';');
		const char *eq, *kend, *v, *vend;

		if (end == NULL)
			end = p + strlen(p);
		while (p < end && is_blank(*p))
			p++;
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq != NULL) {
			for (kend = eq; kend > p && is_blank(kend[-1]); kend--)
				;
			if ((size_t)(kend - p) == klen && g_ascii_strncasecmp(p, key, klen) == 0) {
				for (v = eq + 1; v < end && is_blank(*v); v++)
					;
				for (vend = end; vend > v && is_blank(vend[-1]); vend--)
					;
				if ((size_t)(vend - v) >= size)
					return false;
				memcpy(buf, v, (size_t)(vend - v));
				buf[vend - v] = '\0';
				return true;
			}
		}
		p = *end != '\0' ? end + 1 : end;
	}
	return false;
}

static bool str_eq0(const char *a, const char *b)
{
	return g_strcmp0(a != NULL && *a != '\0' ? a : NULL, b != NULL && *b != '\0' ? b : NULL) == 0;
}

const char *tb_sdp_kind_to_string(tb_sdp_kind kind)
{
	switch (kind) {
	case TB_SDP_KIND_AUDIO:
		return "audio";
	case TB_SDP_KIND_VIDEO:
		return "video";
	case TB_SDP_KIND_APPLICATION:
		return "application";
	default:
		return "other";
	}
}

const char *tb_sdp_direction_to_string(tb_sdp_direction direction)
{
	static const char *const names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};

	return (unsigned)direction < G_N_ELEMENTS(names) ? names[direction] : "sendrecv";
}

static int direction_from_string(const char *s)
{
	for (int d = TB_SDP_SENDRECV; d <= TB_SDP_INACTIVE; d++)
		if (strcmp(s, tb_sdp_direction_to_string(d)) == 0)
			return d;
	return -1;
}

/* ---- freeing ---- */

static void codec_clear(tb_sdp_codec *c)
{
	g_free(c->name);
	g_free(c->fmtp);
	g_strfreev(c->rtcp_fb);
}

static void section_clear(tb_sdp_section *s)
{
	g_free(s->mid);
	g_free(s->media);
	g_free(s->protocol);
	g_strfreev(s->formats);
	g_free(s->ice_ufrag);
	g_free(s->ice_pwd);
	g_free(s->fingerprint_alg);
	g_free(s->fingerprint);
	for (size_t i = 0; i < s->n_codecs; i++)
		codec_clear(&s->codecs[i]);
	g_free(s->codecs);
	for (size_t i = 0; i < s->n_extmaps; i++)
		g_free(s->extmaps[i].uri);
	g_free(s->extmaps);
	for (size_t i = 0; i < s->n_ssrcs; i++) {
		g_free(s->ssrcs[i].cname);
		g_free(s->ssrcs[i].msid);
	}
	g_free(s->ssrcs);
	for (size_t i = 0; i < s->n_ssrc_groups; i++) {
		g_free(s->ssrc_groups[i].semantics);
		g_free(s->ssrc_groups[i].ssrcs);
	}
	g_free(s->ssrc_groups);
	g_free(s->msid);
	for (size_t i = 0; i < s->n_rids; i++) {
		g_free(s->rids[i].id);
		g_free(s->rids[i].params);
	}
	g_free(s->rids);
	g_free(s->simulcast);
	g_strfreev(s->simulcast_send);
	g_strfreev(s->simulcast_recv);
	g_strfreev(s->candidates);
}

void tb_sdp_desc_free(tb_sdp_desc *desc)
{
	if (desc == NULL)
		return;
	for (size_t i = 0; i < desc->n_sections; i++)
		section_clear(&desc->sections[i]);
	g_free(desc->sections);
	for (size_t i = 0; i < desc->n_bundles; i++)
		g_strfreev(desc->bundles[i].mids);
	g_free(desc->bundles);
	g_free(desc->session_id);
	g_free(desc->session_version);
	g_free(desc->ice_ufrag);
	g_free(desc->ice_pwd);
	g_free(desc->fingerprint_alg);
	g_free(desc->fingerprint);
	g_free(desc->ice_options);
	g_free(desc);
}

/* ---- lookups ---- */

const tb_sdp_section *tb_sdp_desc_find_section(const tb_sdp_desc *desc, const char *mid)
{
	if (desc == NULL || mid == NULL)
		return NULL;
	for (size_t i = 0; i < desc->n_sections; i++)
		if (g_strcmp0(desc->sections[i].mid, mid) == 0)
			return &desc->sections[i];
	return NULL;
}

unsigned tb_sdp_section_extmap_id(const tb_sdp_section *section, const char *uri)
{
	if (section == NULL || uri == NULL)
		return 0;
	for (size_t i = 0; i < section->n_extmaps; i++)
		if (strcmp(section->extmaps[i].uri, uri) == 0)
			return section->extmaps[i].id;
	return 0;
}

const tb_sdp_codec *tb_sdp_section_find_codec(const tb_sdp_section *section, int pt)
{
	if (section == NULL)
		return NULL;
	for (size_t i = 0; i < section->n_codecs; i++)
		if (section->codecs[i].pt == pt)
			return &section->codecs[i];
	return NULL;
}

static tb_sdp_codec *codec_by_pt(tb_sdp_section *s, uint64_t pt)
{
	return (tb_sdp_codec *)tb_sdp_section_find_codec(s, (int)pt);
}

/* ---- parsing: attributes valid at session and media level ---- */

/* Values a section (or the session) wrote itself, before inheritance. */
typedef struct own_attrs {
	char *ufrag;
	char *pwd;
	char *fp_alg; /* lowercase */
	char *fp;
	char *ice_options;
	tb_sdp_setup setup;
	int direction; /* -1: none */
	bool bundle_only;
	tb_sdp_extmap *extmaps; /* session level only */
	size_t n_extmaps;
} own_attrs;

static void own_clear(own_attrs *o)
{
	g_free(o->ufrag);
	g_free(o->pwd);
	g_free(o->fp_alg);
	g_free(o->fp);
	g_free(o->ice_options);
	for (size_t i = 0; i < o->n_extmaps; i++)
		g_free(o->extmaps[i].uri);
	g_free(o->extmaps);
}

static bool set_once(char **field, char *value, const char *what, GError **error)
{
	if (*field != NULL && strcmp(*field, value) != 0) {
		g_free(value);
		return fail(error, "conflicting a=%s values", what);
	}
	if (*field == NULL)
		*field = value;
	else
		g_free(value);
	return true;
}

/* Lower is better: the fingerprint kept when several are given. */
static int fingerprint_rank(const char *alg)
{
	static const char *const order[] = {"sha-256", "sha-384", "sha-512", "sha-1"};

	for (size_t i = 0; i < G_N_ELEMENTS(order); i++)
		if (strcmp(alg, order[i]) == 0)
			return (int)i;
	return (int)G_N_ELEMENTS(order);
}

static bool parse_fingerprint(own_attrs *o, const char *value, GError **error)
{
	const char *p = value, *tok, *fp;
	size_t len, fplen;
	char *alg, *hex;

	if (!next_token(&p, &tok, &len) || !is_token(tok, len, 16) || !next_token(&p, &fp, &fplen) ||
	    fplen > 200)
		return fail(error, "malformed a=fingerprint");
	hex = g_strndup(fp, fplen);
	if (!is_fingerprint(hex)) {
		g_free(hex);
		return fail(error, "malformed a=fingerprint value");
	}
	alg = g_ascii_strdown(tok, (gssize)len);
	if (o->fp_alg == NULL || fingerprint_rank(alg) < fingerprint_rank(o->fp_alg)) {
		g_free(o->fp_alg);
		g_free(o->fp);
		o->fp_alg = alg;
		o->fp = hex;
	} else {
		g_free(alg);
		g_free(hex);
	}
	return true;
}

static bool parse_setup(own_attrs *o, const char *value, GError **error)
{
	char *v = rest_dup(value);
	tb_sdp_setup setup = TB_SDP_SETUP_NONE;

	if (g_strcmp0(v, "actpass") == 0)
		setup = TB_SDP_SETUP_ACTPASS;
	else if (g_strcmp0(v, "active") == 0)
		setup = TB_SDP_SETUP_ACTIVE;
	else if (g_strcmp0(v, "passive") == 0)
		setup = TB_SDP_SETUP_PASSIVE;
	g_free(v);
	if (setup == TB_SDP_SETUP_NONE)
		return fail(error, "unsupported a=setup (actpass, active or passive)");
	if (o->setup != TB_SDP_SETUP_NONE && o->setup != setup)
		return fail(error, "conflicting a=setup values");
	o->setup = setup;
	return true;
}

static bool add_extmap(tb_sdp_extmap *maps, size_t *n, unsigned id, const char *uri, size_t urilen,
		       tb_sdp_direction direction, GError **error)
{
	for (size_t i = 0; i < *n; i++) {
		if (maps[i].id != id)
			continue;
		if (strlen(maps[i].uri) == urilen && memcmp(maps[i].uri, uri, urilen) == 0)
			return true;
		return fail(error, "a=extmap id %u used for two URIs", id);
	}
	if (*n >= TB_SDP_MAX_EXTMAPS)
		return fail(error, "more than %d a=extmap in a section", TB_SDP_MAX_EXTMAPS);
	maps[*n].id = id;
	maps[*n].uri = g_strndup(uri, urilen);
	maps[*n].direction = direction;
	(*n)++;
	return true;
}

static bool parse_extmap(tb_sdp_extmap *maps, size_t *n, const char *value, GError **error)
{
	const char *p = value, *tok, *uri, *slash;
	size_t len, urilen;
	uint64_t id;
	int direction = TB_SDP_SENDRECV;

	if (!next_token(&p, &tok, &len) || !next_token(&p, &uri, &urilen))
		return fail(error, "malformed a=extmap");
	slash = memchr(tok, '/', len);
	if (slash != NULL) {
		char *d = g_strndup(slash + 1, len - (size_t)(slash + 1 - tok));

		direction = direction_from_string(d);
		g_free(d);
		len = (size_t)(slash - tok);
	}
	if (direction < 0 || !parse_uint(tok, len, 255, &id) || id == 0)
		return fail(error, "malformed a=extmap id or direction");
	if (urilen > MAX_VALUE_LEN || !is_text(uri))
		return fail(error, "malformed a=extmap URI");
	return add_extmap(maps, n, (unsigned)id, uri, urilen, (tb_sdp_direction)direction, error);
}

/* Handles the attributes valid at both levels; *HANDLED says if KEY was one. */
static bool parse_common_attr(own_attrs *o, const char *key, const char *value, bool *handled,
			      GError **error)
{
	int direction;

	*handled = true;
	if (strcmp(key, "ice-ufrag") == 0 || strcmp(key, "ice-pwd") == 0) {
		bool ufrag = key[4] == 'u';
		char *v = rest_dup(value);

		if (!is_ice_string(v, ufrag ? 4 : 22)) {
			g_free(v);
			return fail(error, "malformed a=%s", key);
		}
		return set_once(ufrag ? &o->ufrag : &o->pwd, v, key, error);
	}
	if (strcmp(key, "ice-options") == 0) {
		char *v = rest_dup(value);

		if (v == NULL || !is_text(v)) {
			g_free(v);
			return fail(error, "malformed a=ice-options");
		}
		return set_once(&o->ice_options, v, key, error);
	}
	if (strcmp(key, "fingerprint") == 0)
		return parse_fingerprint(o, value, error);
	if (strcmp(key, "setup") == 0)
		return parse_setup(o, value, error);
	direction = direction_from_string(key);
	if (direction >= 0) {
		if (o->direction >= 0 && o->direction != direction)
			return fail(error, "conflicting direction attributes");
		o->direction = direction;
		return true;
	}
	*handled = false;
	return true;
}

static bool options_have(const char *options, const char *word)
{
	const char *p = options, *tok;
	size_t len;

	while (options != NULL && next_token(&p, &tok, &len))
		if (token_is(tok, len, word))
			return true;
	return false;
}

/* ---- parsing: media-level attributes ---- */

static bool parse_rtpmap(tb_sdp_section *s, const char *value, GError **error)
{
	const char *p = value, *tok, *name_end, *q;
	size_t len;
	uint64_t pt, clock = 0, channels = 0;
	tb_sdp_codec *c;

	if (!next_token(&p, &tok, &len) || !parse_uint(tok, len, 127, &pt) ||
	    !next_token(&p, &tok, &len))
		return fail(error, "malformed a=rtpmap in section %u", s->index);
	name_end = memchr(tok, '/', len);
	if (name_end == NULL || !is_token(tok, (size_t)(name_end - tok), MAX_NAME_LEN))
		return fail(error, "malformed a=rtpmap encoding in section %u", s->index);
	q = name_end + 1;
	{
		const char *end = tok + len, *slash = memchr(q, '/', (size_t)(end - q));

		if (!parse_uint(q, (size_t)((slash ? slash : end) - q), UINT32_MAX, &clock) ||
		    clock == 0 || (slash != NULL && (!parse_uint(slash + 1, (size_t)(end - slash - 1), 255, &channels) ||
						       channels == 0)))
			return fail(error, "malformed a=rtpmap rate in section %u", s->index);
	}
	c = codec_by_pt(s, pt);
	if (c == NULL)
		return true; /* not on the m= line */
	if (c->name != NULL) {
		if (strlen(c->name) != (size_t)(name_end - tok) || memcmp(c->name, tok, strlen(c->name)) != 0 ||
		    c->clock_rate != clock)
			return fail(error, "conflicting a=rtpmap for payload type %u", (unsigned)pt);
		return true;
	}
	c->name = g_strndup(tok, (size_t)(name_end - tok));
	c->clock_rate = (uint32_t)clock;
	if (channels > 0)
		c->channels = (unsigned)channels;
	return true;
}

static bool parse_fmtp(tb_sdp_section *s, const char *value, GError **error)
{
	const char *p = value, *tok;
	size_t len;
	uint64_t pt;
	tb_sdp_codec *c;
	char *params;

	if (!next_token(&p, &tok, &len) || !parse_uint(tok, len, 127, &pt))
		return fail(error, "malformed a=fmtp in section %u", s->index);
	c = codec_by_pt(s, pt);
	params = rest_dup(p);
	if (c == NULL || params == NULL) {
		g_free(params);
		return true;
	}
	if (!is_text(params)) {
		g_free(params);
		return fail(error, "control characters in a=fmtp");
	}
	return set_once(&c->fmtp, params, "fmtp", error);
}

static bool add_rtcp_fb(tb_sdp_codec *c, const char *fb, GError **error)
{
	size_t n = c->n_rtcp_fb;

	for (size_t i = 0; i < n; i++)
		if (strcmp(c->rtcp_fb[i], fb) == 0)
			return true;
	if (n >= TB_SDP_MAX_RTCP_FB)
		return fail(error, "more than %d a=rtcp-fb for payload type %u", TB_SDP_MAX_RTCP_FB, c->pt);
	if (c->rtcp_fb == NULL)
		c->rtcp_fb = g_new0(char *, TB_SDP_MAX_RTCP_FB + 1);
	c->rtcp_fb[n] = g_strdup(fb);
	c->n_rtcp_fb = n + 1;
	return true;
}

static bool parse_rtcp_fb(tb_sdp_section *s, const char *value, GError **error)
{
	const char *p = value, *tok, *pt_tok;
	size_t len, pt_len;
	uint64_t pt = 0;
	bool all, ok = true;
	GString *fb;

	if (!next_token(&p, &pt_tok, &pt_len))
		return fail(error, "malformed a=rtcp-fb in section %u", s->index);
	all = token_is(pt_tok, pt_len, "*");
	if (!all && !parse_uint(pt_tok, pt_len, 127, &pt))
		return fail(error, "malformed a=rtcp-fb payload type in section %u", s->index);
	fb = g_string_new(NULL);
	while (next_token(&p, &tok, &len)) {
		if (fb->len > 0)
			g_string_append_c(fb, ' ');
		g_string_append_len(fb, tok, (gssize)len);
	}
	if (fb->len == 0 || fb->len > 64 || !is_text(fb->str)) {
		g_string_free(fb, TRUE);
		return fail(error, "malformed a=rtcp-fb in section %u", s->index);
	}
	for (size_t i = 0; ok && i < s->n_codecs; i++)
		if (all || s->codecs[i].pt == pt)
			ok = add_rtcp_fb(&s->codecs[i], fb->str, error);
	g_string_free(fb, TRUE);
	return ok;
}

static tb_sdp_ssrc *ssrc_entry(tb_sdp_section *s, uint32_t ssrc, GError **error)
{
	for (size_t i = 0; i < s->n_ssrcs; i++)
		if (s->ssrcs[i].ssrc == ssrc)
			return &s->ssrcs[i];
	if (s->n_ssrcs >= TB_SDP_MAX_SSRCS) {
		fail(error, "more than %d SSRCs in section %u", TB_SDP_MAX_SSRCS, s->index);
		return NULL;
	}
	if (s->ssrcs == NULL)
		s->ssrcs = g_new0(tb_sdp_ssrc, TB_SDP_MAX_SSRCS);
	s->ssrcs[s->n_ssrcs].ssrc = ssrc;
	return &s->ssrcs[s->n_ssrcs++];
}

static bool parse_ssrc(tb_sdp_section *s, const char *value, GError **error)
{
	const char *p = value, *tok, *colon;
	size_t len;
	uint64_t ssrc;
	tb_sdp_ssrc *e;
	char *v;

	if (!next_token(&p, &tok, &len) || !parse_uint(tok, len, UINT32_MAX, &ssrc))
		return fail(error, "malformed a=ssrc in section %u", s->index);
	e = ssrc_entry(s, (uint32_t)ssrc, error);
	if (e == NULL)
		return false;
	while (is_blank(*p))
		p++;
	colon = strchr(p, ':');
	if (colon == NULL)
		return true;
	v = rest_dup(colon + 1);
	if (v == NULL || strlen(v) > MAX_VALUE_LEN || !is_text(v)) {
		g_free(v);
		return fail(error, "malformed a=ssrc attribute in section %u", s->index);
	}
	if ((size_t)(colon - p) == 5 && strncmp(p, "cname", 5) == 0 && e->cname == NULL)
		e->cname = v;
	else if ((size_t)(colon - p) == 4 && strncmp(p, "msid", 4) == 0 && e->msid == NULL)
		e->msid = v;
	else
		g_free(v);
	return true;
}

static bool parse_ssrc_group(tb_sdp_section *s, const char *value, GError **error)
{
	const char *p = value, *tok;
	size_t len, n = 0;
	uint32_t ssrcs[TB_SDP_MAX_GROUP_SSRCS];
	tb_sdp_ssrc_group *g;
	uint64_t v;

	if (!next_token(&p, &tok, &len) || !is_token(tok, len, MAX_NAME_LEN))
		return fail(error, "malformed a=ssrc-group in section %u", s->index);
	if (s->n_ssrc_groups >= TB_SDP_MAX_SSRC_GROUPS)
		return fail(error, "more than %d a=ssrc-group in section %u", TB_SDP_MAX_SSRC_GROUPS, s->index);
	{
		const char *sem = tok;
		size_t sem_len = len;

		while (next_token(&p, &tok, &len)) {
			if (n >= TB_SDP_MAX_GROUP_SSRCS || !parse_uint(tok, len, UINT32_MAX, &v))
				return fail(error, "malformed or too long a=ssrc-group in section %u", s->index);
			ssrcs[n++] = (uint32_t)v;
		}
		if (n == 0)
			return fail(error, "empty a=ssrc-group in section %u", s->index);
		if (s->ssrc_groups == NULL)
			s->ssrc_groups = g_new0(tb_sdp_ssrc_group, TB_SDP_MAX_SSRC_GROUPS);
		g = &s->ssrc_groups[s->n_ssrc_groups++];
		g->semantics = g_strndup(sem, sem_len);
		g->ssrcs = g_memdup2(ssrcs, n * sizeof(uint32_t));
		g->n_ssrcs = n;
	}
	return true;
}

static bool parse_rid(tb_sdp_section *s, const char *value, GError **error)
{
	const char *p = value, *id, *dir;
	size_t id_len, dir_len;
	tb_sdp_rid *r;
	char *params;

	if (!next_token(&p, &id, &id_len) || !is_rid(id, id_len) || !next_token(&p, &dir, &dir_len) ||
	    !(token_is(dir, dir_len, "send") || token_is(dir, dir_len, "recv")))
		return fail(error, "malformed a=rid in section %u", s->index);
	for (size_t i = 0; i < s->n_rids; i++)
		if (strlen(s->rids[i].id) == id_len && memcmp(s->rids[i].id, id, id_len) == 0)
			return fail(error, "duplicate a=rid in section %u", s->index);
	if (s->n_rids >= TB_SDP_MAX_RIDS)
		return fail(error, "more than %d a=rid in section %u", TB_SDP_MAX_RIDS, s->index);
	params = rest_dup(p);
	if (params != NULL && !is_text(params)) {
		g_free(params);
		return fail(error, "control characters in a=rid");
	}
	if (s->rids == NULL)
		s->rids = g_new0(tb_sdp_rid, TB_SDP_MAX_RIDS);
	r = &s->rids[s->n_rids++];
	r->id = g_strndup(id, id_len);
	r->direction = dir[0] == 's' ? TB_SDP_RID_SEND : TB_SDP_RID_RECV;
	r->params = params;
	return true;
}

/* One RFC 8853 sc-str-list ("a;b,c;~d"): the first alternative of each
 * stream, without the paused mark '~'. The legacy "rid=" prefix is skipped. */
static bool parse_simulcast_list(const char *list, size_t len, char ***out, size_t *n, GError **error)
{
	const char *p = list, *end = list + len;
	char **ids = g_new0(char *, TB_SDP_MAX_RIDS + 1);
	size_t count = 0;

	if (len > 4 && strncmp(p, "rid=", 4) == 0)
		p += 4;
	while (p < end) {
		const char *stream_end = memchr(p, ';', (size_t)(end - p));
		const char *alt_end;

		if (stream_end == NULL)
			stream_end = end;
		alt_end = memchr(p, ',', (size_t)(stream_end - p));
		if (alt_end == NULL)
			alt_end = stream_end;
		if (p < alt_end && *p == '~')
			p++;
		if (!is_rid(p, (size_t)(alt_end - p)) || count >= TB_SDP_MAX_RIDS)
			goto bad;
		for (size_t i = 0; i < count; i++)
			if (strlen(ids[i]) == (size_t)(alt_end - p) && memcmp(ids[i], p, (size_t)(alt_end - p)) == 0)
				goto bad;
		ids[count++] = g_strndup(p, (size_t)(alt_end - p));
		p = stream_end < end ? stream_end + 1 : end;
		if (stream_end < end && p == end)
			goto bad; /* trailing ';' */
	}
	if (count == 0)
		goto bad;
	*out = ids;
	*n = count;
	return true;
bad:
	g_strfreev(ids);
	return fail(error, "malformed a=simulcast rid list");
}

static bool parse_simulcast(tb_sdp_section *s, const char *value, GError **error)
{
	const char *p = value, *dir, *list;
	size_t dir_len, list_len;
	char *raw = rest_dup(value);

	if (raw == NULL || !is_text(raw)) {
		g_free(raw);
		return fail(error, "malformed a=simulcast");
	}
	if (s->simulcast != NULL) {
		bool same = strcmp(s->simulcast, raw) == 0;

		g_free(raw);
		return same ? true : fail(error, "conflicting a=simulcast");
	}
	s->simulcast = raw;
	while (next_token(&p, &dir, &dir_len)) {
		bool send = token_is(dir, dir_len, "send");

		if ((!send && !token_is(dir, dir_len, "recv")) || !next_token(&p, &list, &list_len) ||
		    (send ? s->simulcast_send : s->simulcast_recv) != NULL)
			return fail(error, "malformed a=simulcast");
		if (!parse_simulcast_list(list, list_len, send ? &s->simulcast_send : &s->simulcast_recv,
					  send ? &s->n_simulcast_send : &s->n_simulcast_recv, error))
			return false;
	}
	if (s->simulcast_send == NULL && s->simulcast_recv == NULL)
		return fail(error, "malformed a=simulcast");
	return true;
}

static bool parse_candidate(tb_sdp_section *s, const char *value, GError **error)
{
	char *v = rest_dup(value);

	if (v == NULL || strlen(v) > MAX_CANDIDATE_LEN || !is_text(v)) {
		g_free(v);
		return fail(error, "malformed a=candidate in section %u", s->index);
	}
	if (s->n_candidates >= TB_SDP_MAX_CANDIDATES) {
		g_free(v);
		return fail(error, "more than %d a=candidate in section %u", TB_SDP_MAX_CANDIDATES, s->index);
	}
	if (s->candidates == NULL)
		s->candidates = g_new0(char *, TB_SDP_MAX_CANDIDATES + 1);
	s->candidates[s->n_candidates++] = g_strconcat("candidate:", v, NULL);
	g_free(v);
	return true;
}

static const struct {
	uint8_t pt;
	const char *name;
	uint32_t clock;
} static_payloads[] = {
	{0, "PCMU", 8000}, {8, "PCMA", 8000}, {9, "G722", 8000}, {13, "CN", 8000},
};

static bool parse_formats(tb_sdp_section *s, const GstSDPMedia *m, GError **error)
{
	size_t n = 0, total = gst_sdp_media_formats_len(m);
	bool rtp = strstr(s->protocol, "RTP/") != NULL;

	/* GStreamer turns trailing blanks into an empty format: skip those. */
	for (size_t i = 0; i < total; i++)
		if (*gst_sdp_media_get_format(m, (guint)i) != '\0')
			n++;
	if (n > TB_SDP_MAX_CODECS)
		return fail(error, "more than %d formats in section %u", TB_SDP_MAX_CODECS, s->index);
	s->formats = g_new0(char *, n + 1);
	if (rtp)
		s->codecs = g_new0(tb_sdp_codec, n);
	for (size_t i = 0; i < total; i++) {
		const char *fmt = gst_sdp_media_get_format(m, (guint)i);
		uint64_t pt;

		if (*fmt == '\0')
			continue;
		if (!is_token(fmt, strlen(fmt), MAX_NAME_LEN))
			return fail(error, "malformed format in section %u", s->index);
		s->formats[s->n_formats++] = g_strdup(fmt);
		if (!rtp)
			continue;
		if (!parse_uint(fmt, strlen(fmt), 127, &pt))
			return fail(error, "bad payload type '%s' in section %u", fmt, s->index);
		if (codec_by_pt(s, pt) != NULL)
			return fail(error, "payload type %u twice in section %u", (unsigned)pt, s->index);
		s->codecs[s->n_codecs].pt = (uint8_t)pt;
		s->codecs[s->n_codecs].rtx_apt = -1;
		s->n_codecs++;
	}
	return true;
}

/* After the attributes: static payload names, rtx apt, channel defaults. */
static void finish_codecs(tb_sdp_section *s)
{
	for (size_t i = 0; i < s->n_codecs; i++) {
		tb_sdp_codec *c = &s->codecs[i];
		char apt[8];
		uint64_t v;

		for (size_t k = 0; c->name == NULL && k < G_N_ELEMENTS(static_payloads); k++) {
			if (static_payloads[k].pt == c->pt) {
				c->name = g_strdup(static_payloads[k].name);
				c->clock_rate = static_payloads[k].clock;
			}
		}
		if (c->channels == 0 && s->kind == TB_SDP_KIND_AUDIO)
			c->channels = 1;
		if (c->name != NULL && g_ascii_strcasecmp(c->name, "rtx") == 0 &&
		    param_get(c->fmtp, "apt", apt, sizeof(apt)) && parse_uint(apt, strlen(apt), 127, &v))
			c->rtx_apt = (int)v;
	}
}

static bool parse_section(tb_sdp_section *s, const GstSDPMedia *m, unsigned index, own_attrs *own,
			  GError **error)
{
	const char *media = gst_sdp_media_get_media(m), *proto = gst_sdp_media_get_proto(m);

	s->index = index;
	s->bundle = -1;
	own->direction = -1;
	if (media == NULL || !is_token(media, strlen(media), MAX_NAME_LEN))
		return fail(error, "section %u: malformed m= line", index);
	if (proto == NULL || *proto == '\0' || strlen(proto) > MAX_NAME_LEN || !is_text(proto))
		return fail(error, "section %u: malformed m= protocol", index);
	if (gst_sdp_media_get_port(m) > 65535)
		return fail(error, "section %u: bad port", index);
	s->media = g_strdup(media);
	s->kind = strcmp(media, "audio") == 0	    ? TB_SDP_KIND_AUDIO
		  : strcmp(media, "video") == 0	    ? TB_SDP_KIND_VIDEO
		  : strcmp(media, "application") == 0 ? TB_SDP_KIND_APPLICATION
						      : TB_SDP_KIND_OTHER;
	s->port = gst_sdp_media_get_port(m);
	s->protocol = g_strdup(proto);
	if (!parse_formats(s, m, error))
		return false;

	for (guint i = 0; i < gst_sdp_media_attributes_len(m); i++) {
		const GstSDPAttribute *a = gst_sdp_media_get_attribute(m, i);
		const char *key = a->key, *value = a->value != NULL ? a->value : "";
		bool handled, ok = true;

		if (key == NULL)
			continue;
		if (!parse_common_attr(own, key, value, &handled, error))
			return false;
		if (handled)
			continue;
		if (strcmp(key, "mid") == 0) {
			char *v = rest_dup(value);

			if (v == NULL || !is_token(v, strlen(v), TB_SDP_MAX_ID_LEN)) {
				g_free(v);
				return fail(error, "section %u: malformed a=mid", index);
			}
			ok = set_once(&s->mid, v, key, error);
		} else if (strcmp(key, "rtpmap") == 0 && s->codecs != NULL) {
			ok = parse_rtpmap(s, value, error);
		} else if (strcmp(key, "fmtp") == 0 && s->codecs != NULL) {
			ok = parse_fmtp(s, value, error);
		} else if (strcmp(key, "rtcp-fb") == 0 && s->codecs != NULL) {
			ok = parse_rtcp_fb(s, value, error);
		} else if (strcmp(key, "extmap") == 0) {
			if (s->extmaps == NULL)
				s->extmaps = g_new0(tb_sdp_extmap, TB_SDP_MAX_EXTMAPS);
			ok = parse_extmap(s->extmaps, &s->n_extmaps, value, error);
		} else if (strcmp(key, "ssrc") == 0) {
			ok = parse_ssrc(s, value, error);
		} else if (strcmp(key, "ssrc-group") == 0) {
			ok = parse_ssrc_group(s, value, error);
		} else if (strcmp(key, "msid") == 0) {
			char *v = rest_dup(value);

			if (v == NULL || strlen(v) > MAX_VALUE_LEN || !is_text(v)) {
				g_free(v);
				return fail(error, "section %u: malformed a=msid", index);
			}
			if (s->msid == NULL)
				s->msid = v;
			else
				g_free(v);
		} else if (strcmp(key, "rid") == 0) {
			ok = parse_rid(s, value, error);
		} else if (strcmp(key, "simulcast") == 0) {
			ok = parse_simulcast(s, value, error);
		} else if (strcmp(key, "candidate") == 0) {
			ok = parse_candidate(s, value, error);
		} else if (strcmp(key, "end-of-candidates") == 0) {
			s->end_of_candidates = true;
		} else if (strcmp(key, "rtcp-mux") == 0) {
			s->rtcp_mux = true;
		} else if (strcmp(key, "rtcp-rsize") == 0) {
			s->rtcp_rsize = true;
		} else if (strcmp(key, "bundle-only") == 0) {
			own->bundle_only = true;
		}
		if (!ok)
			return false;
	}
	if (s->mid == NULL)
		return fail(error, "section %u has no a=mid (unified plan needs one)", index);
	finish_codecs(s);
	return true;
}

/* ---- parsing: whole description ---- */

/* The line-level checks GStreamer does not do: size, line length, number of
 * m= lines (so a hostile text cannot make it allocate thousands). */
static bool prescan(const char *text, size_t len, GError **error)
{
	size_t sections = 0;
	const char *p = text, *end = text + len;

	if (len > TB_SDP_MAX_TEXT)
		return fail(error, "description larger than %d octets", TB_SDP_MAX_TEXT);
	if (len < 4 || strncmp(text, "v=0", 3) != 0 || (text[3] != '\r' && text[3] != '\n'))
		return fail(error, "not an SDP description (must start with v=0)");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl != NULL ? nl : end, *q = p;

		if ((size_t)(line_end - p) > TB_SDP_MAX_LINE)
			return fail(error, "line longer than %d octets", TB_SDP_MAX_LINE);
		while (q < line_end && g_ascii_isspace(*q))
			q++; /* as GStreamer does before the type letter */
		if (line_end - q >= 2 && q[0] == 'm' && q[1] == '=' && ++sections > TB_SDP_MAX_SECTIONS)
			return fail(error, "more than %d m= sections", TB_SDP_MAX_SECTIONS);
		p = line_end + 1;
	}
	return true;
}

static bool parse_groups(tb_sdp_desc *d, const GstSDPMessage *msg, GError **error)
{
	d->bundles = g_new0(tb_sdp_bundle, d->n_sections + 1);
	for (guint i = 0; i < gst_sdp_message_attributes_len(msg); i++) {
		const GstSDPAttribute *a = gst_sdp_message_get_attribute(msg, i);
		const char *p = a->value != NULL ? a->value : "", *tok;
		size_t len;
		tb_sdp_bundle *b;

		if (a->key == NULL || strcmp(a->key, "group") != 0)
			continue;
		if (!next_token(&p, &tok, &len) || !token_is(tok, len, "BUNDLE"))
			continue; /* LS and others: not used */
		if (d->n_bundles >= d->n_sections) {
			if (next_token(&p, &tok, &len))
				return fail(error, "a=group:BUNDLE names unknown or repeated mids");
			continue;
		}
		/* counted at once so that tb_sdp_desc_free() sees it on error */
		b = &d->bundles[d->n_bundles++];
		b->mids = g_new0(char *, d->n_sections + 1);
		while (next_token(&p, &tok, &len)) {
			tb_sdp_section *s = NULL;

			for (size_t k = 0; k < d->n_sections && s == NULL; k++)
				if (token_is(tok, len, d->sections[k].mid))
					s = &d->sections[k];
			if (s == NULL)
				return fail(error, "a=group:BUNDLE names mid '%.*s' of no section",
					    (int)MIN(len, 64), tok);
			if (s->bundle >= 0)
				return fail(error, "mid '%s' is twice in BUNDLE groups", s->mid);
			s->bundle = (int)d->n_bundles - 1;
			b->mids[b->n_mids++] = g_strdup(s->mid);
		}
		if (b->n_mids == 0) {
			g_clear_pointer(&b->mids, g_strfreev);
			d->n_bundles--;
		}
	}
	return true;
}

/* Transport values that apply to a section, before BUNDLE. */
typedef struct transport {
	const char *ufrag, *pwd, *fp_alg, *fp, *options;
	tb_sdp_setup setup;
} transport;

static transport transport_of(const own_attrs *o, const own_attrs *sess)
{
	transport t = {
		.ufrag = o->ufrag ? o->ufrag : sess->ufrag,
		.pwd = o->pwd ? o->pwd : sess->pwd,
		.fp_alg = o->fp ? o->fp_alg : sess->fp_alg,
		.fp = o->fp ? o->fp : sess->fp,
		.options = o->ice_options ? o->ice_options : sess->ice_options,
		.setup = o->setup != TB_SDP_SETUP_NONE ? o->setup : sess->setup,
	};
	return t;
}

static void set_transport(char **ufrag, char **pwd, char **fp_alg, char **fp, tb_sdp_setup *setup,
			  const transport *t)
{
	*ufrag = g_strdup(t->ufrag);
	*pwd = g_strdup(t->pwd);
	*fp_alg = g_strdup(t->fp_alg);
	*fp = g_strdup(t->fp);
	*setup = t->setup;
}

static bool transport_complete(const transport *t, const char *mid, GError **error)
{
	if (t->ufrag == NULL || t->pwd == NULL)
		return fail(error, "mid '%s': no a=ice-ufrag / a=ice-pwd", mid);
	if (t->fp == NULL)
		return fail(error, "mid '%s': no a=fingerprint", mid);
	return true;
}

/* Within one BUNDLE group every live section gets the tagged section's
 * transport; a section that writes its own must agree (browsers require it). */
static bool resolve_bundle(tb_sdp_desc *d, size_t g, const own_attrs *own, const own_attrs *sess,
			   GError **error)
{
	const tb_sdp_bundle *b = &d->bundles[g];
	const char *uris[256] = {NULL};
	tb_sdp_section *tag = NULL;
	transport t;

	for (size_t i = 0; i < b->n_mids && tag == NULL; i++) {
		tb_sdp_section *s = (tb_sdp_section *)tb_sdp_desc_find_section(d, b->mids[i]);

		if (!s->rejected)
			tag = s;
	}
	if (tag == NULL)
		return true; /* every member rejected */
	t = transport_of(&own[tag->index], sess);
	if (!transport_complete(&t, tag->mid, error))
		return false;
	for (size_t i = 0; i < b->n_mids; i++) {
		tb_sdp_section *s = (tb_sdp_section *)tb_sdp_desc_find_section(d, b->mids[i]);
		const own_attrs *o = &own[s->index];

		if (s->rejected)
			continue;
		if ((o->ufrag && strcmp(o->ufrag, t.ufrag) != 0) || (o->pwd && strcmp(o->pwd, t.pwd) != 0))
			return fail(error, "ICE credentials differ inside the BUNDLE group (mid '%s')", s->mid);
		if (o->fp && (strcmp(o->fp_alg, t.fp_alg) != 0 || g_ascii_strcasecmp(o->fp, t.fp) != 0))
			return fail(error, "DTLS fingerprints differ inside the BUNDLE group (mid '%s')", s->mid);
		if (o->setup != TB_SDP_SETUP_NONE && o->setup != t.setup)
			return fail(error, "a=setup differs inside the BUNDLE group (mid '%s')", s->mid);
		set_transport(&s->ice_ufrag, &s->ice_pwd, &s->fingerprint_alg, &s->fingerprint, &s->setup, &t);
		for (size_t k = 0; k < s->n_extmaps; k++) {
			const tb_sdp_extmap *e = &s->extmaps[k];

			if (uris[e->id] != NULL && strcmp(uris[e->id], e->uri) != 0)
				return fail(error, "extmap id %u means two URIs inside the BUNDLE group", e->id);
			uris[e->id] = e->uri;
		}
	}
	if (d->ice_ufrag == NULL) {
		set_transport(&d->ice_ufrag, &d->ice_pwd, &d->fingerprint_alg, &d->fingerprint, &d->setup, &t);
		d->ice_trickle = options_have(t.options, "trickle");
	}
	return true;
}

static bool resolve(tb_sdp_desc *d, const GstSDPMessage *msg, own_attrs *own, const own_attrs *sess,
		    GError **error)
{
	for (size_t i = 0; i < d->n_sections; i++)
		for (size_t k = 0; k < i; k++)
			if (strcmp(d->sections[i].mid, d->sections[k].mid) == 0)
				return fail(error, "duplicate mid '%s'", d->sections[i].mid);
	if (!parse_groups(d, msg, error))
		return false;

	for (size_t i = 0; i < d->n_sections; i++) {
		tb_sdp_section *s = &d->sections[i];

		/* RFC 8843 §6: bundle-only means something only with port 0
		 * inside a BUNDLE group; elsewhere it is discarded. */
		s->bundle_only = own[i].bundle_only && s->port == 0 && s->bundle >= 0;
		s->rejected = s->port == 0 && !s->bundle_only;
		s->direction = own[i].direction >= 0	? (tb_sdp_direction)own[i].direction
			       : sess->direction >= 0 ? (tb_sdp_direction)sess->direction
						      : TB_SDP_SENDRECV;
		for (size_t k = 0; k < sess->n_extmaps; k++) {
			if (tb_sdp_section_extmap_id(s, sess->extmaps[k].uri) != 0)
				continue;
			if (s->extmaps == NULL)
				s->extmaps = g_new0(tb_sdp_extmap, TB_SDP_MAX_EXTMAPS);
			if (!add_extmap(s->extmaps, &s->n_extmaps, sess->extmaps[k].id, sess->extmaps[k].uri,
					strlen(sess->extmaps[k].uri), sess->extmaps[k].direction, error))
				return false;
		}
	}
	for (size_t g = 0; g < d->n_bundles; g++)
		if (!resolve_bundle(d, g, own, sess, error))
			return false;
	for (size_t i = 0; i < d->n_sections; i++) {
		tb_sdp_section *s = &d->sections[i];
		transport t = transport_of(&own[i], sess);

		if (s->ice_ufrag != NULL)
			continue; /* set by its BUNDLE group */
		if (!s->rejected && !transport_complete(&t, s->mid, error))
			return false;
		set_transport(&s->ice_ufrag, &s->ice_pwd, &s->fingerprint_alg, &s->fingerprint, &s->setup, &t);
		if (d->ice_ufrag == NULL && !s->rejected) {
			set_transport(&d->ice_ufrag, &d->ice_pwd, &d->fingerprint_alg, &d->fingerprint, &d->setup, &t);
			d->ice_trickle = options_have(t.options, "trickle");
		}
	}
	if (d->ice_ufrag == NULL) {
		transport t = transport_of(sess, sess);

		set_transport(&d->ice_ufrag, &d->ice_pwd, &d->fingerprint_alg, &d->fingerprint, &d->setup, &t);
		d->ice_trickle = options_have(t.options, "trickle");
	}
	return true;
}

static bool parse_session(tb_sdp_desc *d, const GstSDPMessage *msg, own_attrs *sess, GError **error)
{
	const GstSDPOrigin *o = gst_sdp_message_get_origin(msg);

	if (g_strcmp0(gst_sdp_message_get_version(msg), "0") != 0)
		return fail(error, "not an SDP description (v=0)");
	if (o == NULL || o->sess_id == NULL || o->sess_version == NULL || !is_text(o->sess_id) ||
	    !is_text(o->sess_version))
		return fail(error, "missing or malformed o= line");
	d->session_id = g_strdup(o->sess_id);
	d->session_version = g_strdup(o->sess_version);
	sess->direction = -1;
	for (guint i = 0; i < gst_sdp_message_attributes_len(msg); i++) {
		const GstSDPAttribute *a = gst_sdp_message_get_attribute(msg, i);
		const char *value = a->value != NULL ? a->value : "";
		bool handled;

		if (a->key == NULL)
			continue;
		if (!parse_common_attr(sess, a->key, value, &handled, error))
			return false;
		if (handled)
			continue;
		if (strcmp(a->key, "extmap") == 0) {
			if (sess->extmaps == NULL)
				sess->extmaps = g_new0(tb_sdp_extmap, TB_SDP_MAX_EXTMAPS);
			if (!parse_extmap(sess->extmaps, &sess->n_extmaps, value, error))
				return false;
		} else if (strcmp(a->key, "ice-lite") == 0)
			d->ice_lite = true;
		else if (strcmp(a->key, "extmap-allow-mixed") == 0)
			d->extmap_allow_mixed = true;
	}
	d->ice_options = g_strdup(sess->ice_options);
	return true;
}

int tb_sdp_parse(const char *text, tb_sdp_desc **out, GError **error)
{
	GstSDPMessage *msg = NULL;
	tb_sdp_desc *d = NULL;
	own_attrs sess = {0};
	own_attrs *own = NULL;
	size_t len, n, n_own = 0;
	int rc = TB_EINVAL;

	g_return_val_if_fail(out != NULL, TB_EINVAL);
	*out = NULL;
	if (text == NULL) {
		fail(error, "no description");
		goto out;
	}
	len = strnlen(text, TB_SDP_MAX_TEXT + 1);
	if (!prescan(text, len, error))
		goto out;
	if (gst_sdp_message_new(&msg) != GST_SDP_OK ||
	    gst_sdp_message_parse_buffer((const guint8 *)text, (guint)len, msg) != GST_SDP_OK) {
		fail(error, "GStreamer could not parse the description");
		goto out;
	}
	d = g_new0(tb_sdp_desc, 1);
	if (!parse_session(d, msg, &sess, error))
		goto out;
	n = gst_sdp_message_medias_len(msg);
	if (n > TB_SDP_MAX_SECTIONS) { /* prescan() counted them already */
		fail(error, "more than %d m= sections", TB_SDP_MAX_SECTIONS);
		goto out;
	}
	d->sections = g_new0(tb_sdp_section, n + 1);
	own = g_new0(own_attrs, n + 1);
	n_own = n;
	for (size_t i = 0; i < n; i++) {
		d->n_sections = i + 1;
		if (!parse_section(&d->sections[i], gst_sdp_message_get_media(msg, (guint)i), (unsigned)i,
				   &own[i], error))
			goto out;
	}
	if (!resolve(d, msg, own, &sess, error))
		goto out;
	*out = d;
	d = NULL;
	rc = 0;
out:
	for (size_t i = 0; i < n_own; i++)
		own_clear(&own[i]);
	g_free(own);
	own_clear(&sess);
	tb_sdp_desc_free(d);
	if (msg != NULL)
		gst_sdp_message_free(msg);
	return rc;
}

/* ---- writing helpers ---- */

static void add_attr(GstSDPMedia *m, const char *key, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void add_attr(GstSDPMedia *m, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *value;

	va_start(ap, fmt);
	value = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	gst_sdp_media_add_attribute(m, key, value);
	g_free(value);
}

static GstSDPMessage *new_message(uint64_t session_id, uint64_t version)
{
	GstSDPMessage *msg = NULL;
	char id[24], ver[24];

	g_snprintf(id, sizeof(id), "%" G_GUINT64_FORMAT, session_id);
	g_snprintf(ver, sizeof(ver), "%" G_GUINT64_FORMAT, version);
	gst_sdp_message_new(&msg);
	gst_sdp_message_set_version(msg, "0");
	gst_sdp_message_set_origin(msg, "-", id, ver, "IN", "IP4", DUMMY_ADDR);
	gst_sdp_message_set_session_name(msg, "-");
	gst_sdp_message_add_time(msg, "0", "0", NULL);
	return msg;
}

static void begin_media(GstSDPMedia *m, const char *media, unsigned port, const char *proto)
{
	memset(m, 0, sizeof(*m)); /* gst_sdp_media_init() frees what it finds */
	gst_sdp_media_init(m);
	gst_sdp_media_set_media(m, media);
	gst_sdp_media_set_port_info(m, port, 0);
	gst_sdp_media_set_proto(m, proto);
	gst_sdp_media_add_connection(m, "IN", "IP4", DUMMY_ADDR, 0, 0);
}

static const char *setup_name(tb_sdp_setup setup)
{
	switch (setup) {
	case TB_SDP_SETUP_ACTPASS:
		return "actpass";
	case TB_SDP_SETUP_ACTIVE:
		return "active";
	default:
		return "passive";
	}
}

/* LOCAL checked and its candidates turned into a=candidate values. */
typedef struct local_checked {
	const char *fp_alg;
	GPtrArray *candidates; /* char *, "candidate:..." minus the key */
} local_checked;

static bool check_local(const tb_sdp_local *local, local_checked *lc, GError **error)
{
	lc->candidates = g_ptr_array_new_with_free_func(g_free);
	if (local == NULL)
		return fail(error, "no local transport");
	lc->fp_alg = local->fingerprint_alg != NULL ? local->fingerprint_alg : "sha-256";
	if (!is_ice_string(local->ice_ufrag, 4) || !is_ice_string(local->ice_pwd, 22))
		return fail(error, "bad local ICE credentials");
	if (!is_token(lc->fp_alg, strlen(lc->fp_alg), 16) || !is_fingerprint(local->fingerprint))
		return fail(error, "bad local fingerprint");
	if (local->answer_setup == TB_SDP_SETUP_ACTPASS)
		return fail(error, "an answer cannot be actpass");
	if (local->n_candidates > TB_SDP_MAX_CANDIDATES || (local->n_candidates > 0 && local->candidates == NULL))
		return fail(error, "bad local candidates");
	for (size_t i = 0; i < local->n_candidates; i++) {
		char *nice = tb_sdp_candidate_to_nice(local->candidates[i]);

		if (nice == NULL)
			return fail(error, "bad local candidate %zu", i);
		g_ptr_array_add(lc->candidates, g_strdup(nice + strlen("a=candidate:")));
		g_free(nice);
	}
	return true;
}

static void add_transport(GstSDPMedia *m, const tb_sdp_local *local, const local_checked *lc,
			  tb_sdp_setup setup, bool trickle)
{
	gst_sdp_media_add_attribute(m, "ice-ufrag", local->ice_ufrag);
	gst_sdp_media_add_attribute(m, "ice-pwd", local->ice_pwd);
	if (trickle)
		gst_sdp_media_add_attribute(m, "ice-options", "trickle");
	add_attr(m, "fingerprint", "%s %s", lc->fp_alg, local->fingerprint);
	gst_sdp_media_add_attribute(m, "setup", setup_name(setup));
}

static void add_candidates(GstSDPMedia *m, const tb_sdp_local *local, const local_checked *lc)
{
	for (guint i = 0; i < lc->candidates->len; i++)
		gst_sdp_media_add_attribute(m, "candidate", g_ptr_array_index(lc->candidates, i));
	if (local->end_of_candidates)
		gst_sdp_media_add_attribute(m, "end-of-candidates", NULL);
}

static void add_codec(GstSDPMedia *m, tb_sdp_kind kind, const tb_sdp_codec_params *c)
{
	static const struct {
		unsigned flag;
		const char *text;
	} fbs[] = {
		{TB_SDP_FB_REMB, "goog-remb"}, {TB_SDP_FB_TWCC, "transport-cc"}, {TB_SDP_FB_FIR, "ccm fir"},
		{TB_SDP_FB_NACK, "nack"},      {TB_SDP_FB_PLI, "nack pli"},
	};

	if (kind == TB_SDP_KIND_AUDIO && c->channels > 1)
		add_attr(m, "rtpmap", "%u %s/%u/%u", c->pt, c->name, c->clock_rate, c->channels);
	else
		add_attr(m, "rtpmap", "%u %s/%u", c->pt, c->name, c->clock_rate);
	for (size_t i = 0; i < G_N_ELEMENTS(fbs); i++)
		if (c->rtcp_fb & fbs[i].flag)
			add_attr(m, "rtcp-fb", "%u %s", c->pt, fbs[i].text);
	if (c->fmtp != NULL && *c->fmtp != '\0')
		add_attr(m, "fmtp", "%u %s", c->pt, c->fmtp);
	if (c->rtx_pt >= 0) {
		add_attr(m, "rtpmap", "%d rtx/%u", c->rtx_pt, c->clock_rate);
		add_attr(m, "fmtp", "%d apt=%u", c->rtx_pt, c->pt);
	}
}

static void add_formats(GstSDPMedia *m, const tb_sdp_codec_params *c)
{
	char buf[8];

	g_snprintf(buf, sizeof(buf), "%u", c->pt);
	gst_sdp_media_add_format(m, buf);
	if (c->rtx_pt >= 0) {
		g_snprintf(buf, sizeof(buf), "%d", c->rtx_pt);
		gst_sdp_media_add_format(m, buf);
	}
}

/* ---- publish answer ---- */

static bool h264_supported(const char *fmtp)
{
	char mode[8], plid[8];
	unsigned profile, iop;

	if (!param_get(fmtp, "packetization-mode", mode, sizeof(mode)) || strcmp(mode, "1") != 0)
		return false;
	if (!param_get(fmtp, "profile-level-id", plid, sizeof(plid)))
		return true; /* RFC 6184 default 42000a: baseline */
	if (strlen(plid) != 6 || sscanf(plid, "%2x%2x", &profile, &iop) != 2)
		return false;
	for (int i = 0; i < 6; i++)
		if (!g_ascii_isxdigit(plid[i]))
			return false;
	/* Baseline and constrained baseline (42xx), main (4dxx), and
	 * extended with constraint_set0+1 (58cx): constrained baseline. */
	return profile == 0x42 || profile == 0x4d || (profile == 0x58 && (iop & 0xc0) == 0xc0);
}

static bool codec_supported(tb_sdp_kind kind, const tb_sdp_codec *c)
{
	char v[8];

	if (c->name == NULL)
		return false;
	if (kind == TB_SDP_KIND_AUDIO)
		return g_ascii_strcasecmp(c->name, "opus") == 0 && c->clock_rate == 48000 && c->channels == 2;
	if (kind != TB_SDP_KIND_VIDEO || c->clock_rate != 90000)
		return false;
	if (g_ascii_strcasecmp(c->name, "VP8") == 0)
		return true;
	if (g_ascii_strcasecmp(c->name, "VP9") == 0)
		return !param_get(c->fmtp, "profile-id", v, sizeof(v)) || strcmp(v, "0") == 0;
	if (g_ascii_strcasecmp(c->name, "H264") == 0)
		return h264_supported(c->fmtp);
	return false;
}

static unsigned fb_flags(const tb_sdp_codec *c)
{
	unsigned flags = 0;

	for (size_t i = 0; i < c->n_rtcp_fb; i++) {
		const char *fb = c->rtcp_fb[i];

		flags |= strcmp(fb, "nack") == 0	 ? TB_SDP_FB_NACK
			 : strcmp(fb, "nack pli") == 0	 ? TB_SDP_FB_PLI
			 : strcmp(fb, "ccm fir") == 0	 ? TB_SDP_FB_FIR
			 : strcmp(fb, "goog-remb") == 0	 ? TB_SDP_FB_REMB
			 : strcmp(fb, "transport-cc") == 0 ? TB_SDP_FB_TWCC
							   : 0u;
	}
	return flags;
}

/* What the answer says about one offered section. */
typedef struct plan {
	const char *reject_reason; /* NULL: accepted */
	bool sending;		   /* the client sends: answer recvonly */
	tb_sdp_codec_params codec; /* strings borrowed from the offer */
	const tb_sdp_extmap *ext[TB_SDP_MAX_EXTMAPS];
	size_t n_ext;
	tb_sdp_ext_ids ids;
	const char *rids[TB_SDP_MAX_SIMULCAST];
	size_t n_rids;
} plan;

static bool rid_allows_pt(const tb_sdp_rid *rid, unsigned pt)
{
	char list[256];
	char **pts;
	bool ok = false;

	if (!param_get(rid->params, "pt", list, sizeof(list)))
		return true;
	pts = g_strsplit(list, ",", 0);
	for (size_t i = 0; pts[i] != NULL && !ok; i++) {
		uint64_t v;

		ok = parse_uint(pts[i], strlen(pts[i]), 127, &v) && v == pt;
	}
	g_strfreev(pts);
	return ok;
}

static void plan_simulcast(const tb_sdp_section *s, plan *p)
{
	if (!p->sending || s->n_simulcast_send == 0 || tb_sdp_section_extmap_id(s, TB_SDP_EXT_URI_RID) == 0)
		return;
	for (size_t i = 0; i < s->n_simulcast_send && p->n_rids < TB_SDP_MAX_SIMULCAST; i++) {
		for (size_t k = 0; k < s->n_rids; k++) {
			const tb_sdp_rid *r = &s->rids[k];

			if (strcmp(r->id, s->simulcast_send[i]) == 0 && r->direction == TB_SDP_RID_SEND &&
			    rid_allows_pt(r, p->codec.pt))
				p->rids[p->n_rids++] = r->id;
		}
	}
}

static void plan_extensions(const tb_sdp_section *s, plan *p)
{
	for (size_t i = 0; i < s->n_extmaps; i++) {
		const tb_sdp_extmap *e = &s->extmaps[i];
		uint8_t *slot = NULL;

		if (e->direction == TB_SDP_RECVONLY || e->direction == TB_SDP_INACTIVE)
			continue; /* the client would only receive it: the server sends nothing here */
		if (strcmp(e->uri, TB_SDP_EXT_URI_MID) == 0)
			slot = &p->ids.mid;
		else if (strcmp(e->uri, TB_SDP_EXT_URI_ABS_SEND_TIME) == 0)
			slot = &p->ids.abs_send_time;
		else if (strcmp(e->uri, TB_SDP_EXT_URI_AUDIO_LEVEL) == 0 && s->kind == TB_SDP_KIND_AUDIO)
			slot = &p->ids.audio_level;
		else if (strcmp(e->uri, TB_SDP_EXT_URI_RID) == 0 && p->n_rids > 0)
			slot = &p->ids.rid;
		else if (strcmp(e->uri, TB_SDP_EXT_URI_REPAIRED_RID) == 0 && p->n_rids > 0)
			slot = &p->ids.repaired_rid;
		if (slot == NULL || *slot != 0)
			continue;
		*slot = (uint8_t)e->id;
		p->ext[p->n_ext++] = e;
	}
}

static bool is_dtls_rtp(const char *proto)
{
	return strcmp(proto, "UDP/TLS/RTP/SAVPF") == 0 || strcmp(proto, "TCP/DTLS/RTP/SAVPF") == 0;
}

static void plan_section(const tb_sdp_desc *offer, const tb_sdp_section *s, size_t n_accepted, plan *p)
{
	const tb_sdp_codec *codec = NULL, *rtx = NULL;

	p->codec.rtx_pt = -1;
	if (s->rejected) {
		p->reject_reason = "rejected in the offer";
		return;
	}
	if (s->kind != TB_SDP_KIND_AUDIO && s->kind != TB_SDP_KIND_VIDEO) {
		p->reject_reason = "unsupported media";
		return;
	}
	if (offer->n_bundles > 0 ? s->bundle != 0 : n_accepted > 0) {
		p->reject_reason = "outside the first BUNDLE group";
		return;
	}
	if (!is_dtls_rtp(s->protocol)) {
		p->reject_reason = "not DTLS-SRTP";
		return;
	}
	if (!s->rtcp_mux) {
		p->reject_reason = "no rtcp-mux";
		return;
	}
	for (size_t i = 0; i < s->n_codecs && codec == NULL; i++)
		if (codec_supported(s->kind, &s->codecs[i]))
			codec = &s->codecs[i];
	if (codec == NULL) {
		p->reject_reason = "no common codec";
		return;
	}
	for (size_t i = 0; i < s->n_codecs && rtx == NULL; i++) {
		const tb_sdp_codec *c = &s->codecs[i];

		if (c->name != NULL && g_ascii_strcasecmp(c->name, "rtx") == 0 && c->rtx_apt == codec->pt &&
		    c->clock_rate == codec->clock_rate)
			rtx = c;
	}
	p->sending = s->direction == TB_SDP_SENDRECV || s->direction == TB_SDP_SENDONLY;
	p->codec.pt = codec->pt;
	p->codec.name = codec->name;
	p->codec.clock_rate = codec->clock_rate;
	p->codec.channels = s->kind == TB_SDP_KIND_AUDIO ? codec->channels : 0;
	p->codec.fmtp = codec->fmtp;
	/* No transport-cc: the server sends no transport-wide feedback, and a
	 * browser that negotiated it would not fall back to REMB. */
	p->codec.rtcp_fb = fb_flags(codec) & ~(unsigned)TB_SDP_FB_TWCC;
	p->codec.rtx_pt = rtx != NULL ? rtx->pt : -1;
	plan_simulcast(s, p);
	plan_extensions(s, p);
}

static void write_answer_section(GstSDPMessage *msg, const tb_sdp_desc *offer, const tb_sdp_section *s,
				 const plan *p, const tb_sdp_local *local, const local_checked *lc,
				 tb_sdp_setup setup, bool tagged)
{
	GstSDPMedia m;

	if (p->reject_reason != NULL) {
		/* RFC 3264 §6: port 0; keep the mid and one offered format. */
		begin_media(&m, s->media, 0, s->protocol);
		gst_sdp_media_add_format(&m, s->n_formats > 0 ? s->formats[0] : "0");
		add_transport(&m, local, lc, setup, offer->ice_trickle);
		gst_sdp_media_add_attribute(&m, "mid", s->mid);
		if (s->n_codecs > 0 && s->codecs[0].name != NULL && s->codecs[0].clock_rate > 0) {
			tb_sdp_codec_params c = {
				.pt = s->codecs[0].pt,
				.name = s->codecs[0].name,
				.clock_rate = s->codecs[0].clock_rate,
				.channels = s->codecs[0].channels,
				.rtx_pt = -1,
			};

			add_codec(&m, s->kind, &c);
		}
		gst_sdp_message_add_media(msg, &m);
		return;
	}
	begin_media(&m, s->media, DUMMY_PORT, s->protocol);
	add_formats(&m, &p->codec);
	add_transport(&m, local, lc, setup, offer->ice_trickle);
	gst_sdp_media_add_attribute(&m, "mid", s->mid);
	for (size_t i = 0; i < p->n_ext; i++) {
		if (p->ext[i]->direction == TB_SDP_SENDONLY)
			add_attr(&m, "extmap", "%u/recvonly %s", p->ext[i]->id, p->ext[i]->uri);
		else
			add_attr(&m, "extmap", "%u %s", p->ext[i]->id, p->ext[i]->uri);
	}
	gst_sdp_media_add_attribute(&m, p->sending ? "recvonly" : "inactive", NULL);
	gst_sdp_media_add_attribute(&m, "rtcp-mux", NULL);
	if (s->rtcp_rsize)
		gst_sdp_media_add_attribute(&m, "rtcp-rsize", NULL);
	add_codec(&m, s->kind, &p->codec);
	if (p->n_rids > 0) {
		GString *list = g_string_new(NULL);

		for (size_t i = 0; i < p->n_rids; i++) {
			add_attr(&m, "rid", "%s recv", p->rids[i]);
			g_string_append_printf(list, "%s%s", i > 0 ? ";" : "", p->rids[i]);
		}
		add_attr(&m, "simulcast", "recv %s", list->str);
		g_string_free(list, TRUE);
	}
	if (tagged)
		add_candidates(&m, local, lc);
	gst_sdp_message_add_media(msg, &m);
}

/* Media SSRCs (SIM order, else order of appearance, without the second
 * member of FID / FEC-FR groups) and their FID retransmission SSRCs. */
static void fill_streams(const tb_sdp_section *s, tb_sdp_publish_section *r)
{
	const tb_sdp_ssrc_group *sim = NULL;
	uint32_t media[TB_SDP_MAX_SSRCS];
	size_t n = 0;

	for (size_t i = 0; i < s->n_ssrc_groups && sim == NULL; i++)
		if (strcmp(s->ssrc_groups[i].semantics, "SIM") == 0)
			sim = &s->ssrc_groups[i];
	if (sim != NULL) {
		for (size_t i = 0; i < sim->n_ssrcs && n < TB_SDP_MAX_SSRCS; i++)
			media[n++] = sim->ssrcs[i];
	} else {
		for (size_t i = 0; i < s->n_ssrcs; i++) {
			bool secondary = false;

			for (size_t g = 0; g < s->n_ssrc_groups && !secondary; g++) {
				const tb_sdp_ssrc_group *grp = &s->ssrc_groups[g];

				if (strcmp(grp->semantics, "FID") != 0 && strcmp(grp->semantics, "FEC-FR") != 0)
					continue;
				for (size_t k = 1; k < grp->n_ssrcs; k++)
					secondary = secondary || grp->ssrcs[k] == s->ssrcs[i].ssrc;
			}
			if (!secondary)
				media[n++] = s->ssrcs[i].ssrc;
		}
	}
	r->streams = g_new0(tb_sdp_stream, n + 1);
	for (size_t i = 0; i < n; i++) {
		r->streams[i].ssrc = media[i];
		for (size_t g = 0; g < s->n_ssrc_groups; g++) {
			const tb_sdp_ssrc_group *grp = &s->ssrc_groups[g];

			if (strcmp(grp->semantics, "FID") == 0 && grp->n_ssrcs >= 2 && grp->ssrcs[0] == media[i])
				r->streams[i].rtx_ssrc = grp->ssrcs[1];
		}
	}
	r->n_streams = n;
}

static void fill_result_section(const tb_sdp_section *s, const plan *p, tb_sdp_publish_section *r)
{
	const char *msid = s->msid;

	r->mid = g_strdup(s->mid);
	r->kind = s->kind;
	r->accepted = p->reject_reason == NULL;
	r->reject_reason = p->reject_reason;
	r->direction = s->direction;
	r->receiving = r->accepted && p->sending;
	r->codec.rtx_pt = -1;
	if (r->accepted) {
		r->codec = p->codec;
		r->codec.name = g_strdup(p->codec.name);
		r->codec.fmtp = g_strdup(p->codec.fmtp);
		r->ext = p->ids;
	}
	r->rids = g_new0(char *, p->n_rids + 1);
	for (size_t i = 0; i < p->n_rids; i++)
		r->rids[i] = g_strdup(p->rids[i]);
	r->n_rids = p->n_rids;
	fill_streams(s, r);
	for (size_t i = 0; i < s->n_ssrcs; i++) {
		if (r->cname == NULL && s->ssrcs[i].cname != NULL)
			r->cname = g_strdup(s->ssrcs[i].cname);
		if (msid == NULL)
			msid = s->ssrcs[i].msid;
	}
	if (msid != NULL) {
		const char *p_ = msid, *tok;
		size_t len;

		if (next_token(&p_, &tok, &len))
			r->msid_stream = g_strndup(tok, len);
		if (next_token(&p_, &tok, &len))
			r->msid_track = g_strndup(tok, len);
	}
}

void tb_sdp_publish_result_clear(tb_sdp_publish_result *result)
{
	if (result == NULL)
		return;
	for (size_t i = 0; i < result->n_sections; i++) {
		tb_sdp_publish_section *r = &result->sections[i];

		g_free(r->mid);
		g_free(r->codec.name);
		g_free(r->codec.fmtp);
		g_free(r->streams);
		g_strfreev(r->rids);
		g_free(r->cname);
		g_free(r->msid_stream);
		g_free(r->msid_track);
	}
	g_free(result->sections);
	g_free(result->bundle_tag);
	memset(result, 0, sizeof(*result));
}

char *tb_sdp_build_publish_answer(const tb_sdp_desc *offer, const tb_sdp_local *local,
				  tb_sdp_publish_result *result, GError **error)
{
	local_checked lc = {0};
	GstSDPMessage *msg = NULL;
	plan *plans = NULL;
	tb_sdp_setup setup;
	const tb_sdp_section *tag = NULL;
	size_t n_accepted = 0;
	char *text = NULL;

	if (result != NULL)
		memset(result, 0, sizeof(*result));
	if (offer == NULL) {
		fail(error, "no offer");
		goto out;
	}
	if (!check_local(local, &lc, error))
		goto out;
	/* RFC 5763 §5 / RFC 4145 §4 (no a=setup in an offer means active). */
	setup = offer->setup == TB_SDP_SETUP_PASSIVE   ? TB_SDP_SETUP_ACTIVE
		: offer->setup == TB_SDP_SETUP_ACTPASS ? (local->answer_setup == TB_SDP_SETUP_ACTIVE
								  ? TB_SDP_SETUP_ACTIVE
								  : TB_SDP_SETUP_PASSIVE)
						       : TB_SDP_SETUP_PASSIVE;

	plans = g_new0(plan, offer->n_sections + 1);
	for (size_t i = 0; i < offer->n_sections; i++) {
		plan_section(offer, &offer->sections[i], n_accepted, &plans[i]);
		if (plans[i].reject_reason == NULL)
			n_accepted++;
	}
	/* The answerer-tagged section: the first accepted mid in the offered
	 * group order (RFC 8843 §7.3.1), or the one accepted section. */
	if (offer->n_bundles > 0) {
		const tb_sdp_bundle *b = &offer->bundles[0];

		for (size_t i = 0; i < b->n_mids && tag == NULL; i++) {
			const tb_sdp_section *s = tb_sdp_desc_find_section(offer, b->mids[i]);

			if (plans[s->index].reject_reason == NULL)
				tag = s;
		}
	} else {
		for (size_t i = 0; i < offer->n_sections && tag == NULL; i++)
			if (plans[i].reject_reason == NULL)
				tag = &offer->sections[i];
	}

	msg = new_message(local->session_id, local->session_version);
	if (offer->n_bundles > 0 && tag != NULL) {
		GString *group = g_string_new("BUNDLE");
		const tb_sdp_bundle *b = &offer->bundles[0];

		for (size_t i = 0; i < b->n_mids; i++) {
			const tb_sdp_section *s = tb_sdp_desc_find_section(offer, b->mids[i]);

			if (plans[s->index].reject_reason == NULL)
				g_string_append_printf(group, " %s", s->mid);
		}
		gst_sdp_message_add_attribute(msg, "group", group->str);
		g_string_free(group, TRUE);
	}
	if (local->ice_lite)
		gst_sdp_message_add_attribute(msg, "ice-lite", NULL);
	for (size_t i = 0; i < offer->n_sections; i++)
		write_answer_section(msg, offer, &offer->sections[i], &plans[i], local, &lc, setup,
				     &offer->sections[i] == tag);
	text = gst_sdp_message_as_text(msg);

	if (result != NULL) {
		result->sections = g_new0(tb_sdp_publish_section, offer->n_sections + 1);
		result->n_sections = offer->n_sections;
		for (size_t i = 0; i < offer->n_sections; i++)
			fill_result_section(&offer->sections[i], &plans[i], &result->sections[i]);
		result->n_accepted = n_accepted;
		result->bundle_tag = tag != NULL ? g_strdup(tag->mid) : NULL;
		result->local_setup = setup;
	}
out:
	if (lc.candidates != NULL)
		g_ptr_array_unref(lc.candidates);
	g_free(plans);
	if (msg != NULL)
		gst_sdp_message_free(msg);
	return text;
}

/* ---- subscriber offer ---- */

static bool pt_allowed(int pt)
{
	return pt >= 0 && pt <= 127 && !(pt >= 64 && pt <= 95); /* RFC 5761 §4 */
}

static bool is_msid_id(const char *s)
{
	return s != NULL && is_token(s, strlen(s), 64);
}

static bool check_track(const tb_sdp_subscriber_track *t, size_t i, GError **error)
{
	const tb_sdp_codec_params *c = &t->codec;

	if (t->mid == NULL || !is_token(t->mid, strlen(t->mid), TB_SDP_MAX_ID_LEN))
		return fail(error, "track %zu: bad mid", i);
	if (t->kind != TB_SDP_KIND_AUDIO && t->kind != TB_SDP_KIND_VIDEO)
		return fail(error, "track %zu: kind must be audio or video", i);
	if (c->name == NULL || !is_token(c->name, strlen(c->name), MAX_NAME_LEN) || c->clock_rate == 0 ||
	    !pt_allowed(c->pt) || (c->rtx_pt != -1 && (!pt_allowed(c->rtx_pt) || c->rtx_pt == c->pt)) ||
	    c->channels > 255 || (c->fmtp != NULL && !is_text(c->fmtp)))
		return fail(error, "track %zu: bad codec", i);
	if (!t->active || t->paused)
		return true;
	if (t->ssrc == 0 || (t->rtx_ssrc != 0 && (c->rtx_pt < 0 || t->rtx_ssrc == t->ssrc)))
		return fail(error, "track %zu: bad SSRCs", i);
	if (t->cname == NULL || !is_token(t->cname, strlen(t->cname), MAX_VALUE_LEN))
		return fail(error, "track %zu: bad cname", i);
	if ((t->msid_stream != NULL && !is_msid_id(t->msid_stream)) ||
	    (t->msid_track != NULL && !is_msid_id(t->msid_track)))
		return fail(error, "track %zu: bad msid", i);
	return true;
}

/* A payload type means one codec in every bundled section (Chromium
 * rejects a bundle with "codec collisions"). */
static bool check_payload_types(const tb_sdp_subscriber_track *tracks, size_t n, GError **error)
{
	for (size_t i = 0; i < n; i++) {
		const tb_sdp_codec_params *a = &tracks[i].codec;

		if (!tracks[i].active)
			continue;
		for (size_t k = 0; k < i; k++) {
			const tb_sdp_codec_params *b = &tracks[k].codec;

			if (!tracks[k].active)
				continue;
			if (a->pt == b->pt &&
			    (g_ascii_strcasecmp(a->name, b->name) != 0 || a->clock_rate != b->clock_rate ||
			     a->channels != b->channels || !str_eq0(a->fmtp, b->fmtp)))
				return fail(error, "payload type %u means two codecs (mids %s, %s)", a->pt,
					    tracks[k].mid, tracks[i].mid);
			if ((a->rtx_pt >= 0 && (a->rtx_pt == b->pt || (a->rtx_pt == b->rtx_pt && a->pt != b->pt))) ||
			    (b->rtx_pt >= 0 && b->rtx_pt == a->pt))
				return fail(error, "rtx payload type collision (mids %s, %s)", tracks[k].mid,
					    tracks[i].mid);
		}
	}
	return true;
}

static void write_subscriber_section(GstSDPMessage *msg, const tb_sdp_subscriber_track *t,
				     const tb_sdp_local *local, const local_checked *lc, bool tagged)
{
	const char *kind = tb_sdp_kind_to_string(t->kind);
	GstSDPMedia m;

	if (!t->active) {
		tb_sdp_codec_params c = t->codec;

		c.rtcp_fb = 0;
		c.rtx_pt = -1;
		c.fmtp = NULL;
		begin_media(&m, kind, 0, "UDP/TLS/RTP/SAVPF");
		add_formats(&m, &c);
		add_transport(&m, local, lc, TB_SDP_SETUP_ACTPASS, true);
		gst_sdp_media_add_attribute(&m, "mid", t->mid);
		gst_sdp_media_add_attribute(&m, "inactive", NULL);
		add_codec(&m, t->kind, &c);
		gst_sdp_message_add_media(msg, &m);
		return;
	}
	begin_media(&m, kind, DUMMY_PORT, "UDP/TLS/RTP/SAVPF");
	add_formats(&m, &t->codec);
	add_transport(&m, local, lc, TB_SDP_SETUP_ACTPASS, true);
	gst_sdp_media_add_attribute(&m, "mid", t->mid);
	add_attr(&m, "extmap", "%d %s", TB_SDP_EXT_ID_MID, TB_SDP_EXT_URI_MID);
	add_attr(&m, "extmap", "%d %s", TB_SDP_EXT_ID_ABS_SEND_TIME, TB_SDP_EXT_URI_ABS_SEND_TIME);
	add_attr(&m, "extmap", "%d %s", TB_SDP_EXT_ID_TWCC, TB_SDP_EXT_URI_TWCC);
	if (t->kind == TB_SDP_KIND_AUDIO)
		add_attr(&m, "extmap", "%d %s", TB_SDP_EXT_ID_AUDIO_LEVEL, TB_SDP_EXT_URI_AUDIO_LEVEL);
	if (t->paused) {
		gst_sdp_media_add_attribute(&m, "inactive", NULL);
		gst_sdp_media_add_attribute(&m, "rtcp-mux", NULL);
		gst_sdp_media_add_attribute(&m, "rtcp-rsize", NULL);
		add_codec(&m, t->kind, &t->codec);
		if (tagged)
			add_candidates(&m, local, lc);
		gst_sdp_message_add_media(msg, &m);
		return;
	}
	gst_sdp_media_add_attribute(&m, "sendonly", NULL);
	if (t->msid_track != NULL)
		add_attr(&m, "msid", "%s %s", t->msid_stream != NULL ? t->msid_stream : "-", t->msid_track);
	gst_sdp_media_add_attribute(&m, "rtcp-mux", NULL);
	gst_sdp_media_add_attribute(&m, "rtcp-rsize", NULL);
	add_codec(&m, t->kind, &t->codec);
	if (t->rtx_ssrc != 0)
		add_attr(&m, "ssrc-group", "FID %u %u", t->ssrc, t->rtx_ssrc);
	for (int k = 0; k < (t->rtx_ssrc != 0 ? 2 : 1); k++) {
		uint32_t ssrc = k == 0 ? t->ssrc : t->rtx_ssrc;

		add_attr(&m, "ssrc", "%u cname:%s", ssrc, t->cname);
		if (t->msid_track != NULL)
			add_attr(&m, "ssrc", "%u msid:%s %s", ssrc, t->msid_stream != NULL ? t->msid_stream : "-",
				 t->msid_track);
	}
	if (tagged)
		add_candidates(&m, local, lc);
	gst_sdp_message_add_media(msg, &m);
}

char *tb_sdp_build_subscriber_offer(const tb_sdp_subscriber_track *tracks, size_t n,
				    const tb_sdp_local *local, uint64_t session_version,
				    GError **error)
{
	local_checked lc = {0};
	GstSDPMessage *msg = NULL;
	GString *group = NULL;
	const tb_sdp_subscriber_track *tag = NULL;
	char *text = NULL;

	if (!check_local(local, &lc, error))
		goto out;
	if (n > TB_SDP_MAX_SECTIONS || (n > 0 && tracks == NULL)) {
		fail(error, "more than %d tracks", TB_SDP_MAX_SECTIONS);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (!check_track(&tracks[i], i, error))
			goto out;
		for (size_t k = 0; k < i; k++) {
			if (strcmp(tracks[i].mid, tracks[k].mid) == 0) {
				fail(error, "duplicate mid '%s'", tracks[i].mid);
				goto out;
			}
		}
	}
	if (!check_payload_types(tracks, n, error))
		goto out;

	msg = new_message(local->session_id, session_version);
	group = g_string_new("BUNDLE");
	for (size_t i = 0; i < n; i++) {
		if (!tracks[i].active)
			continue;
		if (tag == NULL)
			tag = &tracks[i];
		g_string_append_printf(group, " %s", tracks[i].mid);
	}
	if (tag != NULL)
		gst_sdp_message_add_attribute(msg, "group", group->str);
	if (local->ice_lite)
		gst_sdp_message_add_attribute(msg, "ice-lite", NULL);
	for (size_t i = 0; i < n; i++)
		write_subscriber_section(msg, &tracks[i], local, &lc, &tracks[i] == tag);
	text = gst_sdp_message_as_text(msg);
out:
	if (group != NULL)
		g_string_free(group, TRUE);
	if (lc.candidates != NULL)
		g_ptr_array_unref(lc.candidates);
	if (msg != NULL)
		gst_sdp_message_free(msg);
	return text;
}

static bool check_answer_section(const tb_sdp_section *s, const tb_sdp_subscriber_track *t, GError **error)
{
	static const struct {
		const char *uri;
		unsigned id;
		bool audio_only;
	} ours[] = {
		{TB_SDP_EXT_URI_MID, TB_SDP_EXT_ID_MID, false},
		{TB_SDP_EXT_URI_ABS_SEND_TIME, TB_SDP_EXT_ID_ABS_SEND_TIME, false},
		{TB_SDP_EXT_URI_TWCC, TB_SDP_EXT_ID_TWCC, false},
		{TB_SDP_EXT_URI_AUDIO_LEVEL, TB_SDP_EXT_ID_AUDIO_LEVEL, true},
	};
	const tb_sdp_codec *c;

	if (s->rejected)
		return fail(error, "the answer rejects mid '%s'", s->mid);
	if (s->direction != TB_SDP_RECVONLY && s->direction != TB_SDP_INACTIVE)
		return fail(error, "mid '%s' must be recvonly or inactive in the answer", s->mid);
	if (s->kind != t->kind)
		return fail(error, "mid '%s' changed its media", s->mid);
	c = tb_sdp_section_find_codec(s, t->codec.pt);
	if (c == NULL || c->name == NULL || g_ascii_strcasecmp(c->name, t->codec.name) != 0)
		return fail(error, "mid '%s': the answer lacks payload type %u", s->mid, t->codec.pt);
	for (size_t i = 0; i < G_N_ELEMENTS(ours); i++) {
		unsigned id = tb_sdp_section_extmap_id(s, ours[i].uri);

		if (ours[i].audio_only && t->kind != TB_SDP_KIND_AUDIO)
			continue;
		if (id != 0 && id != ours[i].id)
			return fail(error, "mid '%s': extension %s answered with id %u, offered %u", s->mid,
				    ours[i].uri, id, ours[i].id);
	}
	return true;
}

static bool check_answer(const tb_sdp_desc *answer, const tb_sdp_subscriber_track *tracks, size_t n,
			 GError **error)
{
	const tb_sdp_bundle *b;
	size_t n_active = 0;

	if (answer == NULL || (n > 0 && tracks == NULL))
		return fail(error, "no answer");
	if (answer->n_sections != n)
		return fail(error, "the answer has %zu sections, the offer %zu", answer->n_sections, n);
	for (size_t i = 0; i < n; i++) {
		const tb_sdp_section *s = &answer->sections[i];

		if (tracks[i].mid == NULL || strcmp(s->mid, tracks[i].mid) != 0)
			return fail(error, "section %zu: mid '%s', offered '%s'", i, s->mid,
				    tracks[i].mid != NULL ? tracks[i].mid : "(null)");
		if (!tracks[i].active)
			continue;
		n_active++;
		if (!check_answer_section(s, &tracks[i], error))
			return false;
	}
	if (n_active == 0)
		return true;
	/* Every active mid in the one group. A stopped section inside it is
	 * tolerated: GStreamer 1.22's webrtcbin answers a port-0 section as
	 * live and bundles it; no media flows there either way. */
	b = answer->n_bundles == 1 ? &answer->bundles[0] : NULL;
	for (size_t i = 0; i < n; i++)
		if (tracks[i].active && (b == NULL || answer->sections[i].bundle != 0))
			return fail(error, "mid '%s' is not in the answer's one BUNDLE group", tracks[i].mid);
	if (answer->setup != TB_SDP_SETUP_ACTIVE && answer->setup != TB_SDP_SETUP_PASSIVE)
		return fail(error, "the answer's a=setup must be active or passive");
	if (answer->ice_ufrag == NULL || answer->ice_pwd == NULL || answer->fingerprint == NULL)
		return fail(error, "the answer lacks ICE credentials or a fingerprint");
	return true;
}

int tb_sdp_check_subscriber_answer(const tb_sdp_desc *answer, const tb_sdp_subscriber_track *tracks,
				   size_t n, GError **error)
{
	return check_answer(answer, tracks, n, error) ? 0 : TB_EINVAL;
}

/* ---- candidates ---- */

static const char *trim(const char *s, size_t *len)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	*len = n;
	return s;
}

bool tb_sdp_candidate_is_end(const char *candidate)
{
	size_t len;
	const char *s;

	if (candidate == NULL)
		return true;
	s = trim(candidate, &len);
	if (len >= 2 && strncmp(s, "a=", 2) == 0) {
		s += 2;
		len -= 2;
	}
	return len == 0 || (len == strlen("end-of-candidates") && strncmp(s, "end-of-candidates", len) == 0);
}

char *tb_sdp_candidate_to_nice(const char *candidate)
{
	const char *s, *end, *tok;
	size_t len, tok_len, fields = 0;
	GString *out;
	bool typ = false;

	if (candidate == NULL)
		return NULL;
	s = trim(candidate, &len);
	if (len > MAX_CANDIDATE_LEN)
		return NULL;
	if (len >= 2 && strncmp(s, "a=", 2) == 0) {
		s += 2;
		len -= 2;
	}
	if (len <= strlen("candidate:") || strncmp(s, "candidate:", strlen("candidate:")) != 0)
		return NULL;
	end = s + len;
	for (const char *p = s; p < end; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			return NULL;
	out = g_string_new("a=candidate:");
	s += strlen("candidate:");
	while (s < end) {
		while (s < end && is_blank(*s))
			s++;
		tok = s;
		while (s < end && !is_blank(*s))
			s++;
		tok_len = (size_t)(s - tok);
		if (tok_len == 0)
			break;
		if (fields > 0)
			g_string_append_c(out, ' ');
		g_string_append_len(out, tok, (gssize)tok_len);
		if (fields == 6)
			typ = token_is(tok, tok_len, "typ");
		fields++;
	}
	if (fields < 8 || !typ) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}
