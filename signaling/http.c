/* http.c — HTTP routes: /healthz, /metrics, /api/..., static web files.
 *
 * Main thread, called from the lws callback in ws.c. Responses are built
 * whole in memory (the API answers are small) and written when lws says the
 * socket is writeable; static files go through lws_serve_http_file. Every
 * path from outside is checked so that nothing outside web_dir is served.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dtls.h"
#include "http-parse.h"
#include "signaling-private.h"
#include "tb-build-config.h"

#define CAT   "sig"
#define CHUNK 16384

/* Headers every response carries. */
#define SECURITY_HEADERS                                                                           \
	"x-content-type-options: nosniff\r\n"                                                      \
	"referrer-policy: no-referrer\r\n"                                                         \
	"x-frame-options: DENY\r\n"                                                                \
	"content-security-policy: default-src 'self'; connect-src 'self' ws: wss:; "               \
	"media-src 'self' blob:; img-src 'self' data: blob:; style-src 'self' "                    \
	"'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'\r\n"

static void count_status(tb_signaling *sig, unsigned status)
{
	unsigned cls = status / 100;

	sig->http_requests++;
	sig->http_status[cls >= 1 && cls <= 5 ? cls : 0]++;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
		      unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
					   (const unsigned char *)value, (int)strlen(value), p,
					   end);
}

static int add_security_headers(struct lws *wsi, unsigned char **p, unsigned char *end)
{
	static const char *const h[][2] = {
		{"x-content-type-options:", "nosniff"},
		{"referrer-policy:", "no-referrer"},
		{"x-frame-options:", "DENY"},
		{"content-security-policy:",
		 "default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob:; "
		 "img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
		 "frame-ancestors 'none'; base-uri 'none'"},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(h); i++)
		if (add_header(wsi, h[i][0], h[i][1], p, end))
			return -1;
	return 0;
}

/* Sends STATUS with BODY (transfer full, nullable) of CONTENT_TYPE. The
 * headers go now, the body when the socket is writeable. Returns what the
 * lws callback must return. */
static int respond(tb_signaling *sig, struct lws *wsi, tb_http_state *http, unsigned status,
		   const char *content_type, const char *cache_control, char *body)
{
	unsigned char headers[LWS_PRE + 2048];
	unsigned char *start = headers + LWS_PRE, *p = start, *end = headers + sizeof(headers) - 1;
	size_t len = body ? strlen(body) : 0;
	guint8 *buf;

	count_status(sig, status);
	if (lws_add_http_common_headers(wsi, status, content_type, len, &p, end) ||
	    add_security_headers(wsi, &p, end) ||
	    add_header(wsi, "cache-control:", cache_control ? cache_control : "no-store", &p,
		       end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end)) {
		g_free(body);
		return -1;
	}
	if (http->method == LWSHUMETH_HEAD || len == 0) {
		g_free(body);
		if (lws_http_transaction_completed(wsi))
			return -1;
		return 0;
	}
	buf = g_malloc(LWS_PRE + len);
	memcpy(buf + LWS_PRE, body, len);
	g_free(body);
	if (http->response)
		g_bytes_unref(http->response);
	http->response = g_bytes_new_take(buf, LWS_PRE + len);
	http->response_sent = 0;
	lws_callback_on_writable(wsi);
	return 0;
}

static int respond_json(tb_signaling *sig, struct lws *wsi, tb_http_state *http, unsigned status,
			json_t *body /* transfer full */)
{
	char *text = json_dumps(body, JSON_COMPACT);
	char *with_newline = g_strconcat(text, "\n", NULL);

	free(text);
	json_decref(body);
	return respond(sig, wsi, http, status, "application/json", NULL, with_newline);
}

static int respond_error(tb_signaling *sig, struct lws *wsi, tb_http_state *http, unsigned status,
			 const char *code, const char *message)
{
	return respond_json(sig, wsi, http, status,
			    json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message));
}

int tb__http_writeable(tb_signaling *sig, struct lws *wsi, tb_http_state *http)
{
	gsize size;
	const guint8 *data;
	size_t left, n;
	bool last;

	if (!http->response && (http->pending || http->file))
		return tb__http_library_writeable(sig, wsi, http);
	if (!http->response)
		return 0;
	data = g_bytes_get_data(http->response, &size);
	left = size - LWS_PRE - http->response_sent;
	n = MIN(left, CHUNK);
	last = n == left;
	/* lws_write needs LWS_PRE writable bytes before the data it sends. */
	if (http->response_sent == 0) {
		if (lws_write(wsi, (unsigned char *)data + LWS_PRE, n,
			      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
			return -1;
	} else {
		unsigned char tmp[LWS_PRE + CHUNK];
		memcpy(tmp + LWS_PRE, data + LWS_PRE + http->response_sent, n);
		if (lws_write(wsi, tmp + LWS_PRE, n,
			      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
			return -1;
	}
	http->response_sent += n;
	if (!last) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	g_bytes_unref(http->response);
	http->response = NULL;
	if (lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

void tb__http_done(tb_http_state *http)
{
	tb__http_library_done(http);
	if (http->response)
		g_bytes_unref(http->response);
	http->response = NULL;
	if (http->body)
		g_string_free(http->body, TRUE);
	http->body = NULL;
}

/* ---- /healthz and /metrics ---- */

static int route_healthz(tb_signaling *sig, struct lws *wsi, tb_http_state *http)
{
	int64_t uptime = (tb_clock_mono_us(sig->deps.clock) - sig->started_us) / 1000000;

	return respond_json(sig, wsi, http, 200,
			    json_pack("{s:s, s:s, s:I, s:i, s:i}", "status", "ok", "version",
				      TB_VERSION, "uptime_s", (json_int_t)uptime, "rooms",
				      (int)tb_rooms_count(sig->deps.rooms), "participants",
				      (int)tb_rooms_participant_count(sig->deps.rooms)));
}

static void metric(GString *out, const char *name, const char *type, const char *help)
{
	g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int route_metrics(tb_signaling *sig, struct lws *wsi, tb_http_state *http)
{
	GString *out = g_string_sized_new(2048);
	tb_rooms *rooms = sig->deps.rooms;
	static const char *const classes[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};

	metric(out, "tribu_uptime_seconds", "gauge", "Seconds since tribud started.");
	g_string_append_printf(out, "tribu_uptime_seconds %" G_GINT64_FORMAT "\n",
			       (tb_clock_mono_us(sig->deps.clock) - sig->started_us) / 1000000);
	metric(out, "tribu_rooms", "gauge", "Rooms open.");
	g_string_append_printf(out, "tribu_rooms %u\n", tb_rooms_count(rooms));
	metric(out, "tribu_participants", "gauge", "Participants in rooms.");
	g_string_append_printf(out, "tribu_participants %u\n", tb_rooms_participant_count(rooms));
	metric(out, "tribu_worker_rooms", "gauge", "Rooms pinned to each media worker.");
	for (unsigned i = 0; i < tb_rooms_n_workers(rooms); i++)
		g_string_append_printf(out, "tribu_worker_rooms{worker=\"%u\"} %u\n", i,
				       tb_rooms_worker_load(rooms, i));
	metric(out, "tribu_ws_connections", "gauge", "Open signaling WebSockets.");
	g_string_append_printf(out, "tribu_ws_connections %u\n", sig->conns.length);
	metric(out, "tribu_ws_connections_total", "counter", "WebSocket connections by outcome.");
	g_string_append_printf(
		out, "tribu_ws_connections_total{result=\"accepted\"} %" G_GUINT64_FORMAT "\n",
		sig->ws_accepted);
	g_string_append_printf(
		out, "tribu_ws_connections_total{result=\"refused\"} %" G_GUINT64_FORMAT "\n",
		sig->ws_refused);
	metric(out, "tribu_ws_messages_total", "counter", "Signaling messages received.");
	g_string_append_printf(out, "tribu_ws_messages_total %" G_GUINT64_FORMAT "\n",
			       sig->ws_messages);
	metric(out, "tribu_ws_errors_total", "counter", "Error responses sent, by code.");
	for (int c = 1; c < TB_SIG_N_ERRORS; c++)
		g_string_append_printf(out,
				       "tribu_ws_errors_total{code=\"%s\"} %" G_GUINT64_FORMAT "\n",
				       tb__sig_error_code((tb_sig_error)c), sig->ws_errors[c]);
	metric(out, "tribu_ws_slow_consumers_closed_total", "counter",
	       "Connections closed because they did not read their messages.");
	g_string_append_printf(out, "tribu_ws_slow_consumers_closed_total %" G_GUINT64_FORMAT "\n",
			       sig->ws_slow_closed);
	{
		tb_router_totals t;
		tb_router_global_totals(&t);
		metric(out, "tribu_rtp_received_total", "counter",
		       "RTP packets received from publishers (decrypted).");
		g_string_append_printf(out, "tribu_rtp_received_total %" G_GUINT64_FORMAT "\n",
				       t.rtp_in);
		metric(out, "tribu_rtp_forwarded_total", "counter",
		       "RTP packets sent to subscribers.");
		g_string_append_printf(out, "tribu_rtp_forwarded_total %" G_GUINT64_FORMAT "\n",
				       t.rtp_forwarded);
		metric(out, "tribu_rtp_dropped_total", "counter",
		       "RTP packets dropped: malformed, unknown SSRC or payload type.");
		g_string_append_printf(out, "tribu_rtp_dropped_total %" G_GUINT64_FORMAT "\n",
				       t.rtp_dropped);
		metric(out, "tribu_nacks_received_total", "counter", "NACKs from subscribers.");
		g_string_append_printf(out, "tribu_nacks_received_total %" G_GUINT64_FORMAT "\n",
				       t.nacks);
		metric(out, "tribu_retransmissions_total", "counter",
		       "Packets resent from the NACK cache.");
		g_string_append_printf(out, "tribu_retransmissions_total %" G_GUINT64_FORMAT "\n",
				       t.retransmissions);
		metric(out, "tribu_plis_sent_total", "counter",
		       "Keyframe requests sent to publishers.");
		g_string_append_printf(out, "tribu_plis_sent_total %" G_GUINT64_FORMAT "\n",
				       t.plis_sent);
		metric(out, "tribu_video_fast_starts_total", "counter",
		       "Subscriber videos started from the cached group of pictures.");
		g_string_append_printf(out, "tribu_video_fast_starts_total %" G_GUINT64_FORMAT "\n",
				       t.gop_replays);
		metric(out, "tribu_srtp_replayed_total", "counter",
		       "SRTP/SRTCP packets dropped as replayed (or older than the replay window).");
		g_string_append_printf(out, "tribu_srtp_replayed_total %" G_GUINT64_FORMAT "\n",
				       t.srtp_replayed);
	}
	{
		tb_dtls_totals d;
		tb_dtls_global_totals(&d);
		metric(out, "tribu_dtls_failures_total", "counter",
		       "DTLS handshakes refused or failed, by reason.");
		g_string_append_printf(out,
				       "tribu_dtls_failures_total{reason=\"fingerprint-mismatch\"} "
				       "%" G_GUINT64_FORMAT "\n",
				       d.fingerprint_mismatches);
		g_string_append_printf(
			out,
			"tribu_dtls_failures_total{reason=\"timeout\"} %" G_GUINT64_FORMAT "\n",
			d.timeouts);
		g_string_append_printf(
			out, "tribu_dtls_failures_total{reason=\"other\"} %" G_GUINT64_FORMAT "\n",
			d.other_failures);
	}
	metric(out, "tribu_http_requests_total", "counter", "HTTP responses by status class.");
	for (int c = 0; c < 6; c++)
		g_string_append_printf(
			out, "tribu_http_requests_total{class=\"%s\"} %" G_GUINT64_FORMAT "\n",
			classes[c], sig->http_status[c]);
	return respond(sig, wsi, http, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
		       g_string_free(out, FALSE));
}

/* ---- API authentication ---- */

/* Verifies the request's bearer token into CLAIMS. Returns 0, or sends the
 * 401 itself and returns 1 (then *RC holds the callback's return). */
static int authenticate(tb_signaling *sig, struct lws *wsi, tb_http_state *http,
			tb_token_claims *claims, int *rc)
{
	char header[4200];
	int n = lws_hdr_copy(wsi, header, sizeof(header), WSI_TOKEN_HTTP_AUTHORIZATION);
	int verified;

	if (n <= 0 || g_ascii_strncasecmp(header, "Bearer ", 7) != 0) {
		*rc = respond_error(sig, wsi, http, 401, "unauthorized",
				    "send 'Authorization: Bearer <token>'");
		return 1;
	}
	verified = tb_token_verify(header + 7, sig->deps.secret,
				   tb_clock_wall_ms(sig->deps.clock) / 1000, claims);
	if (verified < 0) {
		*rc = respond_error(sig, wsi, http, 401, "unauthorized",
				    verified == TB_EEXPIRED ? "token expired" : "invalid token");
		return 1;
	}
	return 0;
}

static bool may_see_room(const tb_token_claims *claims, const char *room_id)
{
	if (claims->role == TB_ROLE_ADMIN)
		return true;
	if (claims->role == TB_ROLE_CURATOR)
		return false;
	return strcmp(claims->room, "*") == 0 || strcmp(claims->room, room_id) == 0;
}

static int api_create_room(tb_signaling *sig, struct lws *wsi, tb_http_state *http,
			   const tb_token_claims *claims)
{
	json_error_t jerr;
	json_t *body, *v;
	const char *id, *kind_name = "coaching";
	tb_room_kind kind;
	int capacity = 0, rc;
	bool locked = false, recording = true;
	tb_room *room;
	char message[160];

	if (claims->role != TB_ROLE_MENTOR && claims->role != TB_ROLE_ADMIN)
		return respond_error(sig, wsi, http, 403, "forbidden",
				     "only mentors and admins create rooms");
	body = json_loadb(http->body ? http->body->str : "", http->body ? http->body->len : 0,
			  JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(body)) {
		json_decref(body);
		return respond_error(sig, wsi, http, 400, "bad-json",
				     "the body must be a JSON object");
	}
	v = json_object_get(body, "id");
	if (!v) {
		rc = respond_error(sig, wsi, http, 400, "missing-field", "field 'id' is required");
		goto out;
	}
	id = json_string_value(v);
	if (!id || !tb_room_id_valid(id)) {
		rc = respond_error(sig, wsi, http, 400, "bad-field",
				   "field 'id' must be 1 to 64 of A-Z a-z 0-9 _ -");
		goto out;
	}
	if (!may_see_room(claims, id)) {
		rc = respond_error(sig, wsi, http, 403, "forbidden",
				   "this token is for another room");
		goto out;
	}
	v = json_object_get(body, "kind");
	if (v)
		kind_name = json_string_value(v);
	if (!kind_name || !tb_room_kind_from_string(kind_name, &kind)) {
		rc = respond_error(sig, wsi, http, 400, "bad-field",
				   "field 'kind' must be \"coaching\" or \"workshop\"");
		goto out;
	}
	v = json_object_get(body, "capacity");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 1000) {
			rc = respond_error(sig, wsi, http, 400, "bad-field",
					   "field 'capacity' must be an integer from 1 to 1000");
			goto out;
		}
		capacity = (int)json_integer_value(v);
	}
	v = json_object_get(body, "locked");
	if (v) {
		if (!json_is_boolean(v)) {
			rc = respond_error(sig, wsi, http, 400, "bad-field",
					   "field 'locked' must be true or false");
			goto out;
		}
		locked = json_is_true(v);
	}
	v = json_object_get(body, "recording");
	if (v) {
		if (!json_is_boolean(v)) {
			rc = respond_error(sig, wsi, http, 400, "bad-field",
					   "field 'recording' must be true or false");
			goto out;
		}
		recording = json_is_true(v);
	}
	switch (tb_rooms_create(sig->deps.rooms, id, kind, capacity, locked, &room)) {
	case 0:
		if (!recording)
			tb_room_set_recording(room, false);
		rc = respond_json(sig, wsi, http, 201, tb_room_to_json(room));
		break;
	case TB_EEXIST:
		g_snprintf(message, sizeof(message), "room '%s' already exists", id);
		rc = respond_error(sig, wsi, http, 409, "conflict", message);
		break;
	case TB_EFULL:
		rc = respond_error(sig, wsi, http, 409, "room-full",
				   "the server has reached its room limit");
		break;
	default:
		rc = respond_error(sig, wsi, http, 400, "bad-field", "invalid room");
		break;
	}
out:
	json_decref(body);
	return rc;
}

static int route_api(tb_signaling *sig, struct lws *wsi, tb_http_state *http)
{
	const char *path = http->path;
	tb_token_claims claims = {0};
	int rc = 0;

	if (tb__http_library_path(path))
		return tb__http_library_route(sig, wsi, http);
	if (strcmp(path, "/api/dev") == 0 || g_str_has_prefix(path, "/api/dev/"))
		return tb__http_dev_route(sig, wsi, http);
	if (strcmp(path, "/api/rooms") == 0) {
		if (http->method != LWSHUMETH_GET && http->method != LWSHUMETH_POST)
			return respond_error(sig, wsi, http, 405, "bad-method",
					     "use GET or POST on /api/rooms");
		if (authenticate(sig, wsi, http, &claims, &rc))
			return rc;
		if (http->method == LWSHUMETH_POST) {
			rc = api_create_room(sig, wsi, http, &claims);
		} else if (claims.role != TB_ROLE_ADMIN && claims.role != TB_ROLE_MENTOR) {
			rc = respond_error(sig, wsi, http, 403, "forbidden",
					   "only mentors and admins list rooms");
		} else {
			rc = respond_json(
				sig, wsi, http, 200,
				json_pack("{s:o}", "rooms", tb_rooms_list_json(sig->deps.rooms)));
		}
		goto out;
	}
	if (g_str_has_prefix(path, "/api/rooms/")) {
		const char *id = path + strlen("/api/rooms/");
		tb_room *room;
		if (http->method != LWSHUMETH_GET)
			return respond_error(sig, wsi, http, 405, "bad-method",
					     "use GET on /api/rooms/ID");
		if (authenticate(sig, wsi, http, &claims, &rc))
			return rc;
		if (!tb_room_id_valid(id)) {
			rc = respond_error(sig, wsi, http, 404, "not-found", "no such room");
			goto out;
		}
		if (!may_see_room(&claims, id)) {
			rc = respond_error(sig, wsi, http, 403, "forbidden",
					   "this token is for another room");
			goto out;
		}
		room = tb_rooms_lookup(sig->deps.rooms, id);
		if (!room) {
			rc = respond_error(sig, wsi, http, 404, "not-found", "no such room");
			goto out;
		}
		rc = respond_json(sig, wsi, http, 200,
				  json_pack("{s:o, s:o}", "room", tb_room_to_json(room),
					    "participants", tb_room_roster_json(room, NULL)));
		goto out;
	}
	return respond_error(sig, wsi, http, 404, "not-found", "no such API endpoint");
out:
	tb_token_claims_clear(&claims);
	return rc;
}

/* ---- static files ---- */

const char *tb__http_mime_type(const char *path)
{
	static const char *const map[][2] = {
		{".html", "text/html; charset=utf-8"},
		{".js", "text/javascript; charset=utf-8"},
		{".mjs", "text/javascript; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".json", "application/json"},
		{".svg", "image/svg+xml"},
		{".png", "image/png"},
		{".jpg", "image/jpeg"},
		{".jpeg", "image/jpeg"},
		{".webp", "image/webp"},
		{".ico", "image/x-icon"},
		{".woff2", "font/woff2"},
		{".txt", "text/plain; charset=utf-8"},
		{".webm", "video/webm"},
		{".wasm", "application/wasm"},
	};
	const char *dot = strrchr(path, '.');

	if (dot && !strchr(dot, '/'))
		for (size_t i = 0; i < G_N_ELEMENTS(map); i++)
			if (g_ascii_strcasecmp(dot, map[i][0]) == 0)
				return map[i][1];
	return "application/octet-stream";
}

/* See http-parse.h. */
bool tb__http_static_path_safe(const char *path)
{
	if (path[0] != '/')
		return false;
	for (const char *s = path; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == '\\' || *s == 0x7f)
			return false;
	for (const char *seg = path; seg; seg = strchr(seg + 1, '/'))
		if (seg[1] == '.')
			return false;
	return true;
}

static int route_static(tb_signaling *sig, struct lws *wsi, tb_http_state *http)
{
	const char *web_dir = sig->deps.config->web_dir;
	char *file = NULL, *real = NULL, *real_root = NULL;
	struct stat st;
	int rc, n;

	if (http->method != LWSHUMETH_GET && http->method != LWSHUMETH_HEAD)
		return respond_error(sig, wsi, http, 405, "bad-method", "use GET");
	if (!tb__http_static_path_safe(http->path))
		return respond_error(sig, wsi, http, 404, "not-found", "no such file");
	file = g_build_filename(web_dir, http->path, NULL);
	if (stat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
		char *index = g_build_filename(file, "index.html", NULL);
		g_free(file);
		file = index;
	}
	real = realpath(file, NULL);
	real_root = realpath(web_dir, NULL);
	if (!real || !real_root || !g_str_has_prefix(real, real_root) ||
	    real[strlen(real_root)] != '/' || stat(real, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = respond_error(sig, wsi, http, 404, "not-found", "no such file");
		goto out;
	}
	count_status(sig, 200);
	n = lws_serve_http_file(wsi, real, tb__http_mime_type(real),
				SECURITY_HEADERS "cache-control: no-cache\r\n",
				(int)strlen(SECURITY_HEADERS "cache-control: no-cache\r\n"));
	rc = (n < 0 || (n > 0 && lws_http_transaction_completed(wsi))) ? -1 : 0;
out:
	free(real);
	free(real_root);
	g_free(file);
	return rc;
}

/* ---- entry points from ws.c ---- */

static int dispatch(tb_signaling *sig, struct lws *wsi, tb_http_state *http)
{
	http->response_started = true;
	if (strcmp(http->path, "/healthz") == 0) {
		if (http->method != LWSHUMETH_GET && http->method != LWSHUMETH_HEAD)
			return respond_error(sig, wsi, http, 405, "bad-method", "use GET");
		return route_healthz(sig, wsi, http);
	}
	if (strcmp(http->path, "/metrics") == 0) {
		if (http->method != LWSHUMETH_GET && http->method != LWSHUMETH_HEAD)
			return respond_error(sig, wsi, http, 405, "bad-method", "use GET");
		return route_metrics(sig, wsi, http);
	}
	if (strcmp(http->path, "/api") == 0 || g_str_has_prefix(http->path, "/api/"))
		return route_api(sig, wsi, http);
	if (strcmp(http->path, "/ws") == 0)
		return respond_error(sig, wsi, http, 400, "bad-request",
				     "/ws speaks WebSocket only");
	return route_static(sig, wsi, http);
}

int tb__http_request(tb_signaling *sig, struct lws *wsi, tb_http_state *http, const char *uri)
{
	char *method_uri = NULL;
	int uri_len = 0;
	char length[24];

	tb__http_done(http);
	memset(http, 0, sizeof(*http));
	http->method = lws_http_get_uri_and_method(wsi, &method_uri, &uri_len);
	if (!uri || strlen(uri) >= sizeof(http->path))
		return respond_error(sig, wsi, http, 414, "too-large", "the URL is too long");
	g_strlcpy(http->path, uri, sizeof(http->path));
	if (http->method < 0)
		return respond_error(sig, wsi, http, 405, "bad-method", "unsupported method");

	if (http->method == LWSHUMETH_POST || http->method == LWSHUMETH_PUT ||
	    http->method == LWSHUMETH_PATCH) {
		long long declared = -1;
		if (lws_hdr_copy(wsi, length, sizeof(length), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
			declared = g_ascii_strtoll(length, NULL, 10);
		if (declared > sig->deps.config->max_body_bytes)
			return respond_error(sig, wsi, http, 413, "too-large",
					     "the request body is too large");
		http->body = g_string_new(NULL);
		if (declared > 0 || lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
			return 0; /* wait for the body */
	}
	return dispatch(sig, wsi, http);
}

int tb__http_body(tb_signaling *sig, struct lws *wsi, tb_http_state *http, const void *in,
		  size_t len)
{
	if (!http->body || http->body_too_large)
		return 0;
	if (http->body->len + len > (size_t)sig->deps.config->max_body_bytes) {
		http->body_too_large = true;
		return 0;
	}
	g_string_append_len(http->body, in, (gssize)len);
	return 0;
}

int tb__http_body_complete(tb_signaling *sig, struct lws *wsi, tb_http_state *http)
{
	/* A POST with "content-length: 0" is answered when its headers come, and
	 * lws still reports its empty body complete: answer once. */
	if (http->response_started)
		return 0;
	if (http->body_too_large)
		return respond_error(sig, wsi, http, 413, "too-large",
				     "the request body is too large");
	return dispatch(sig, wsi, http);
}

/* ---- for http-library.c and http-dev.c ---- */

int tb__http_respond_json(tb_signaling *sig, struct lws *wsi, tb_http_state *http, unsigned status,
			  json_t *body)
{
	return respond_json(sig, wsi, http, status, body);
}

int tb__http_respond_error(tb_signaling *sig, struct lws *wsi, tb_http_state *http, unsigned status,
			   const char *code, const char *message)
{
	return respond_error(sig, wsi, http, status, code, message);
}

int tb__http_authenticate(tb_signaling *sig, struct lws *wsi, tb_http_state *http,
			  tb_token_claims *claims, int *rc)
{
	return authenticate(sig, wsi, http, claims, rc);
}

void tb__http_count_status(tb_signaling *sig, unsigned status)
{
	count_status(sig, status);
}

int tb__http_add_security_headers(struct lws *wsi, unsigned char **p, unsigned char *end)
{
	return add_security_headers(wsi, p, end);
}
