/* http-library.c — the library API over HTTP: search, sessions, curation,
 * vocabulary and playback of recordings.
 *
 * Main thread, called from http.c. A request is authenticated and parsed
 * here, then handed to the library (recorder/library.h), which answers on
 * the main loop later. The answer is kept in the request's tb_http_pending
 * and sent when lws says the socket is writeable. A client that goes away
 * meanwhile only detaches its pending request (tb__http_library_done); the
 * answer then finds it detached and is dropped: nothing refers to the
 * closed connection.
 *
 * Recordings are streamed from their file in chunks on writeable (never the
 * whole file in memory), with one byte range (RFC 9110 §14), ETag,
 * Last-Modified and If-None-Match. Files are addressed by recording id
 * only; the library opens them from the catalog's path.
 *
 * It does not decide who sees what (library.c does).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http-parse.h"
#include "signaling-private.h"

#define CAT        "sig"
#define FILE_CHUNK 32768

/* A request waiting for the library's answer. */
typedef struct tb_http_pending {
	tb_signaling *sig;
	struct lws *wsi;
	tb_http_state *http; /* NULL once the client went away */
	bool media;
	bool ready; /* the answer is here */
	/* request headers kept for the answer (media) */
	char range[128];
	char if_none_match[256];
	char if_range[128];
	bool bad_range; /* the Range header did not fit RANGE */
	/* the answer */
	int code;
	unsigned status; /* success status: 200 or 201 */
	char *field;
	char *message;
	json_t *body;
	int fd;
	int64_t size;
	int64_t mtime_ns;
	int64_t recording_id;
	char *content_type;
} tb_http_pending;

/* A file being sent. */
typedef struct tb_http_file {
	int fd;
	int64_t pos, end;   /* bytes [pos, end) are left */
	unsigned char *buf; /* LWS_PRE + FILE_CHUNK */
} tb_http_file;

static void pending_free(tb_http_pending *p)
{
	if (p->fd >= 0)
		close(p->fd);
	json_decref(p->body);
	g_free(p->field);
	g_free(p->message);
	g_free(p->content_type);
	g_free(p);
}

static void file_free(tb_http_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	g_free(f->buf);
	g_free(f);
}

void tb__http_library_done(tb_http_state *http)
{
	if (http->pending) {
		/* The library still owes an answer: it frees the request then. */
		if (http->pending->ready)
			pending_free(http->pending);
		else
			http->pending->http = NULL;
		http->pending = NULL;
	}
	if (http->file) {
		file_free(http->file);
		http->file = NULL;
	}
}

bool tb__http_library_path(const char *path)
{
	return strcmp(path, "/api/library") == 0 || strcmp(path, "/api/vocabulary") == 0 ||
	       g_str_has_prefix(path, "/api/vocabulary/") ||
	       g_str_has_prefix(path, "/api/sessions/") ||
	       g_str_has_prefix(path, "/api/recordings/");
}

/* ---- answers ---- */

static unsigned status_of(int code)
{
	switch (code) {
	case TB_EINVAL:
		return 400;
	case TB_EPERM:
		return 403;
	case TB_ENOENT:
		return 404;
	case TB_EEXIST:
	case TB_ECONFLICT:
		return 409;
	default:
		return 503;
	}
}

static const char *error_code_of(int code)
{
	switch (code) {
	case TB_EINVAL:
		return "bad-field";
	case TB_EPERM:
		return "forbidden";
	case TB_ENOENT:
		return "not-found";
	case TB_EEXIST:
	case TB_ECONFLICT:
		return "conflict";
	default:
		return "unavailable";
	}
}

/* {error: {code, message, field?}}: a 400 names what was wrong. */
static int respond_failure(tb_signaling *sig, struct lws *wsi, tb_http_state *http, unsigned status,
			   const char *code, const char *field, const char *message)
{
	json_t *error = json_pack("{s:s, s:s}", "code", code, "message", message);

	if (field)
		json_object_set_new(error, "field", json_string(field));
	return tb__http_respond_json(sig, wsi, http, status, json_pack("{s:o}", "error", error));
}

static void on_library_reply(tb_library_reply *reply, void *user_data)
{
	tb_http_pending *p = user_data;

	if (!p->http) {
		/* The client went away; the library closes REPLY->fd itself. */
		pending_free(p);
		return;
	}
	p->code = reply->code;
	p->field = g_strdup(reply->field);
	p->message = g_strdup(reply->message);
	p->body = reply->body ? json_incref(reply->body) : NULL;
	if (reply->code == 0 && p->media) {
		p->fd = reply->fd;
		reply->fd = -1;
		p->size = reply->size;
		p->mtime_ns = reply->mtime_ns;
		p->content_type = g_strdup(reply->content_type);
	}
	p->ready = true;
	lws_callback_on_writable(p->wsi);
}

static tb_http_pending *pending_new(tb_signaling *sig, struct lws *wsi, tb_http_state *http)
{
	tb_http_pending *p = g_new0(tb_http_pending, 1);

	p->sig = sig;
	p->wsi = wsi;
	p->http = http;
	p->fd = -1;
	p->status = 200;
	http->pending = p;
	return p;
}

/* ---- media: ranges and validators ---- */

/* See http-parse.h. */
bool tb__http_parse_range(const char *range, int64_t size, int64_t *start, int64_t *end)
{
	const char *spec, *dash;
	char *rest;
	guint64 a = 0, b = 0;
	bool has_a, has_b;

	if (g_ascii_strncasecmp(range, "bytes=", 6) != 0)
		return false;
	spec = range + 6;
	while (*spec == ' ')
		spec++;
	dash = strchr(spec, '-');
	if (!dash || strchr(spec, ','))
		return false;
	has_a = dash > spec;
	has_b = dash[1] != '\0';
	for (const char *c = spec; *c; c++)
		if (c != dash && !g_ascii_isdigit(*c))
			return false;
	if ((has_a && dash - spec > 18) || (has_b && strlen(dash + 1) > 18))
		return false;
	if (has_a)
		a = g_ascii_strtoull(spec, &rest, 10);
	if (has_b)
		b = g_ascii_strtoull(dash + 1, &rest, 10);
	if (has_a) {
		if ((int64_t)a >= size || (has_b && b < a))
			return false;
		*start = (int64_t)a;
		*end = has_b ? MIN((int64_t)b + 1, size) : size;
		return true;
	}
	if (!has_b || b == 0 || size == 0)
		return false;
	*start = size - MIN((int64_t)b, size);
	*end = size;
	return true;
}

static void http_date(int64_t mtime_ns, char *out, size_t len)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = (time_t)(mtime_ns / 1000000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	g_snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
		   months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* See http-parse.h. */
bool tb__http_etag_listed(const char *list, const char *etag)
{
	char **items = g_strsplit(list, ",", -1);
	bool found = false;

	for (char **i = items; *i && !found; i++) {
		char *item = g_strstrip(*i);
		if (g_str_has_prefix(item, "W/"))
			item += 2;
		found = strcmp(item, "*") == 0 || strcmp(item, etag) == 0;
	}
	g_strfreev(items);
	return found;
}

static int add_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
		      unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
					   (const unsigned char *)value, (int)strlen(value), p,
					   end);
}

/* Sends the headers of a media answer; the body follows on writeable when
 * FILE is given. Returns what the lws callback must return. */
static int media_headers(tb_signaling *sig, struct lws *wsi, tb_http_state *http,
			 tb_http_pending *p, unsigned status, int64_t start, int64_t end,
			 const char *etag)
{
	unsigned char headers[LWS_PRE + 2048];
	unsigned char *h = headers + LWS_PRE, *q = h, *hend = headers + sizeof(headers) - 1;
	char date[64], range[96];
	bool body = status == 200 || status == 206;
	lws_filepos_t length = body ? (lws_filepos_t)(end - start) : 0;

	tb__http_count_status(sig, status);
	http_date(p->mtime_ns, date, sizeof date);
	if (lws_add_http_common_headers(wsi, status, status == 416 ? "text/plain" : p->content_type,
					length, &q, hend) ||
	    tb__http_add_security_headers(wsi, &q, hend) ||
	    add_header(wsi, "accept-ranges:", "bytes", &q, hend) ||
	    add_header(wsi, "etag:", etag, &q, hend) ||
	    add_header(wsi, "last-modified:", date, &q, hend) ||
	    add_header(wsi, "cache-control:", "private, no-cache", &q, hend))
		return -1;
	if (status == 206) {
		g_snprintf(range, sizeof range,
			   "bytes %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT,
			   start, end - 1, p->size);
		if (add_header(wsi, "content-range:", range, &q, hend))
			return -1;
	} else if (status == 416) {
		g_snprintf(range, sizeof range, "bytes */%" G_GINT64_FORMAT, p->size);
		if (add_header(wsi, "content-range:", range, &q, hend))
			return -1;
	}
	if (lws_finalize_write_http_header(wsi, h, &q, hend))
		return -1;
	if (!body || length == 0 || http->method == LWSHUMETH_HEAD)
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	http->file = g_new0(tb_http_file, 1);
	http->file->fd = p->fd;
	p->fd = -1;
	http->file->pos = start;
	http->file->end = end;
	http->file->buf = g_malloc(LWS_PRE + FILE_CHUNK);
	lws_callback_on_writable(wsi);
	return 0;
}

static int respond_media(tb_signaling *sig, struct lws *wsi, tb_http_state *http,
			 tb_http_pending *p)
{
	char etag[96];
	int64_t start = 0, end = p->size;
	bool ranged = p->range[0] || p->bad_range;

	g_snprintf(etag, sizeof etag,
		   "\"%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER "x\"",
		   p->recording_id, p->size, p->mtime_ns);
	if (p->if_none_match[0] && tb__http_etag_listed(p->if_none_match, etag))
		return media_headers(sig, wsi, http, p, 304, 0, 0, etag);
	/* If-Range with another validator: the file changed, send it whole. */
	if (ranged && p->if_range[0] && strcmp(p->if_range, etag) != 0)
		ranged = false;
	if (!ranged)
		return media_headers(sig, wsi, http, p, 200, start, end, etag);
	if (p->bad_range || !tb__http_parse_range(p->range, p->size, &start, &end))
		return media_headers(sig, wsi, http, p, 416, 0, 0, etag);
	return media_headers(sig, wsi, http, p, 206, start, end, etag);
}

static int write_file_chunk(tb_signaling *sig, struct lws *wsi, tb_http_state *http)
{
	tb_http_file *f = http->file;
	size_t n = (size_t)MIN((int64_t)FILE_CHUNK, f->end - f->pos);
	ssize_t got = pread(f->fd, f->buf + LWS_PRE, n, (off_t)f->pos);
	bool last;

	if (got <= 0) {
		/* Truncated under us: the length promised cannot be kept. */
		TB_WARN(CAT, "recording read failed at %" G_GINT64_FORMAT ": %s", f->pos,
			got < 0 ? g_strerror(errno) : "end of file");
		return -1;
	}
	f->pos += got;
	last = f->pos >= f->end;
	if (lws_write(wsi, f->buf + LWS_PRE, (size_t)got,
		      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)got)
		return -1;
	if (!last) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	file_free(f);
	http->file = NULL;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int tb__http_library_writeable(tb_signaling *sig, struct lws *wsi, tb_http_state *http)
{
	tb_http_pending *p = http->pending;
	int rc;

	if (http->file)
		return write_file_chunk(sig, wsi, http);
	if (!p || !p->ready)
		return 0;
	http->pending = NULL;
	if (p->code != 0)
		rc = respond_failure(sig, wsi, http, status_of(p->code), error_code_of(p->code),
				     p->field, p->message);
	else if (p->media)
		rc = respond_media(sig, wsi, http, p);
	else
		rc = tb__http_respond_json(sig, wsi, http, p->status, json_incref(p->body));
	pending_free(p);
	return rc;
}

/* ---- request parsing ---- */

/* See http-parse.h. */
bool tb__http_parse_uint(const char *s, int64_t *out)
{
	size_t n = strlen(s);

	if (n == 0 || n > 18)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!g_ascii_isdigit(s[i]))
			return false;
	*out = (int64_t)g_ascii_strtoll(s, NULL, 10);
	return true;
}

/* See http-parse.h ("to" includes its day: END_OF_DAY). */
bool tb__http_parse_time(const char *s, bool end_of_day, int64_t *out)
{
	GDateTime *dt = NULL;
	int y, m, d;
	char tail;

	if (tb__http_parse_uint(s, out))
		return true;
	if (strlen(s) == 10 && sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3) {
		dt = g_date_time_new_utc(y, m, d, 0, 0, 0);
		if (dt && end_of_day) {
			GDateTime *next = g_date_time_add_days(dt, 1);
			g_date_time_unref(dt);
			dt = next;
		}
	} else {
		dt = g_date_time_new_from_iso8601(s, NULL);
	}
	if (!dt)
		return false;
	*out = g_date_time_to_unix(dt) * 1000 + g_date_time_get_microsecond(dt) / 1000;
	g_date_time_unref(dt);
	return true;
}

void tb__http_search_args_clear(tb_http_search_args *a)
{
	g_free(a->text);
	g_free(a->stage);
	g_free(a->sector);
	g_free(a->problem);
	g_free(a->visibility);
	g_free(a->mentor);
}

/* Parses one NAME=VALUE of the search; false with *FIELD and MESSAGE set. */
static bool search_arg(tb_http_search_args *a, const char *name, const char *value,
		       const char **field, char *message, size_t message_len)
{
	static const char *const names[] = {"q",       "stage",      "sector",
					    "problem", "visibility", "mentor"};
	char **slots[] = {&a->text, &a->stage, &a->sector, &a->problem, &a->visibility, &a->mentor};
	int64_t n;

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		if (strcmp(name, names[i]) != 0)
			continue;
		*field = names[i];
		if (*slots[i]) {
			g_snprintf(message, message_len, "%s: given twice", names[i]);
			return false;
		}
		if (*value)
			*slots[i] = g_strdup(value);
		return true;
	}
	if (strcmp(name, "from") == 0 || strcmp(name, "to") == 0) {
		bool to = name[0] == 't';
		*field = to ? "to" : "from";
		if (!tb__http_parse_time(value, to, to ? &a->query.to_ms : &a->query.from_ms)) {
			g_snprintf(message, message_len,
				   "%s: Unix milliseconds, YYYY-MM-DD or an ISO 8601 time", *field);
			return false;
		}
		return true;
	}
	if (strcmp(name, "sort") == 0) {
		*field = "sort";
		if (strcmp(value, "relevance") == 0)
			a->query.sort = TB_LIBRARY_SORT_RELEVANCE;
		else if (strcmp(value, "date") == 0)
			a->query.sort = TB_LIBRARY_SORT_DATE;
		else if (strcmp(value, "-date") == 0)
			a->query.sort = TB_LIBRARY_SORT_DATE_DESC;
		else {
			g_snprintf(message, message_len, "sort: relevance, date or -date");
			return false;
		}
		return true;
	}
	if (strcmp(name, "page") == 0 || strcmp(name, "per_page") == 0) {
		bool per = name[0] == 'p' && name[1] == 'e';
		*field = per ? "per_page" : "page";
		if (!tb__http_parse_uint(value, &n) || n < 1 ||
		    n > (per ? TB_LIBRARY_PER_PAGE_MAX : 1000000)) {
			g_snprintf(message, message_len, "%s: an integer from 1 to %d", *field,
				   per ? TB_LIBRARY_PER_PAGE_MAX : 1000000);
			return false;
		}
		if (per)
			a->query.per_page = (int)n;
		else
			a->query.page = (int)n;
		return true;
	}
	*field = NULL;
	g_snprintf(message, message_len,
		   "unknown parameter '%.40s' (q, stage, sector, problem, visibility, mentor, "
		   "from, to, sort, page, per_page)",
		   name);
	return false;
}

void tb__http_search_init(tb_http_search_args *a)
{
	a->query.from_ms = a->query.to_ms = TB_LIBRARY_NO_TIME;
}

bool tb__http_search_fragment(tb_http_search_args *a, char *arg, const char **field, char *message,
			      size_t message_len)
{
	char *eq = strchr(arg, '=');

	if (eq)
		*eq = '\0';
	if (!g_utf8_validate(arg, -1, NULL) || (eq && !g_utf8_validate(eq + 1, -1, NULL))) {
		*field = NULL;
		g_strlcpy(message, "the query string is not valid UTF-8", message_len);
		return false;
	}
	return search_arg(a, arg, eq ? eq + 1 : "", field, message, message_len);
}

void tb__http_search_finish(tb_http_search_args *a)
{
	a->query.text = a->text;
	a->query.stage = a->stage;
	a->query.sector = a->sector;
	a->query.problem = a->problem;
	a->query.visibility = a->visibility;
	a->query.mentor = a->mentor;
}

/* Reads the query string into A. Returns 0, or sends the 400 and returns 1
 * (*RC: what the callback returns). */
static int parse_search(tb_signaling *sig, struct lws *wsi, tb_http_state *http,
			tb_http_search_args *a, int *rc)
{
	char arg[1024], message[192];
	const char *field = NULL;

	tb__http_search_init(a);
	for (int i = 0;; i++) {
		int n = lws_hdr_copy_fragment(wsi, arg, sizeof arg, WSI_TOKEN_HTTP_URI_ARGS, i);

		if (n < 0) {
			if (lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i) > 0) {
				*rc = respond_failure(sig, wsi, http, 400, "bad-query", NULL,
						      "a query parameter is too long");
				return 1;
			}
			break;
		}
		if (n == 0)
			continue;
		if (!tb__http_search_fragment(a, arg, &field, message, sizeof message)) {
			*rc = respond_failure(sig, wsi, http, 400,
					      field ? "bad-field" : "bad-query", field, message);
			return 1;
		}
	}
	tb__http_search_finish(a);
	return 0;
}

/* The JSON object body of a POST or PATCH (transfer full), or NULL after
 * sending the 400 (*RC). */
static json_t *body_object(tb_signaling *sig, struct lws *wsi, tb_http_state *http, int *rc)
{
	json_error_t jerr;
	json_t *body = json_loadb(http->body ? http->body->str : "",
				  http->body ? http->body->len : 0, JSON_REJECT_DUPLICATES, &jerr);

	if (!json_is_object(body)) {
		json_decref(body);
		*rc = tb__http_respond_error(sig, wsi, http, 400, "bad-json",
					     "the body must be a JSON object");
		return NULL;
	}
	return body;
}

static int method_not_allowed(tb_signaling *sig, struct lws *wsi, tb_http_state *http,
			      const char *allowed)
{
	char message[96];

	g_snprintf(message, sizeof message, "use %s", allowed);
	return tb__http_respond_error(sig, wsi, http, 405, "bad-method", message);
}

/* ---- ids in paths ---- */

bool tb__http_session_path(const char *rest, char *id, size_t id_size, const char **sub)
{
	const char *slash = strchr(rest, '/');

	*sub = slash ? slash + 1 : "";
	if (!slash)
		slash = rest + strlen(rest);
	if ((size_t)(slash - rest) >= id_size)
		return false;
	memcpy(id, rest, (size_t)(slash - rest));
	id[slash - rest] = '\0';
	return tb_library_session_id_valid(id);
}

int tb__http_recording_path(const char *rest, int64_t *id)
{
	const char *slash = strchr(rest, '/');
	char digits[24];

	if (!slash || strcmp(slash, "/media") != 0 || (size_t)(slash - rest) >= sizeof digits)
		return TB_ENOENT;
	memcpy(digits, rest, (size_t)(slash - rest));
	digits[slash - rest] = '\0';
	return tb__http_parse_uint(digits, id) ? 0 : TB_EINVAL;
}

/* ---- routes ---- */

static int route_sessions(tb_signaling *sig, struct lws *wsi, tb_http_state *http,
			  const tb_library_viewer *viewer)
{
	char id[80];
	const char *sub;
	tb_library *lib = sig->deps.library;
	int rc = 0;

	if (!tb__http_session_path(http->path + strlen("/api/sessions/"), id, sizeof id, &sub))
		return tb__http_respond_error(sig, wsi, http, 404, "not-found", "no such session");
	if (*sub == '\0') {
		if (http->method == LWSHUMETH_GET) {
			tb_library_session(lib, viewer, id, on_library_reply,
					   pending_new(sig, wsi, http));
		} else if (http->method == LWSHUMETH_PATCH) {
			json_t *changes = body_object(sig, wsi, http, &rc);
			if (!changes)
				return rc;
			tb_library_curate(lib, viewer, id, changes, on_library_reply,
					  pending_new(sig, wsi, http));
			json_decref(changes);
		} else {
			return method_not_allowed(sig, wsi, http, "GET or PATCH");
		}
		return 0;
	}
	if (http->method != LWSHUMETH_GET)
		return method_not_allowed(sig, wsi, http, "GET");
	if (strcmp(sub, "related") == 0) {
		char buf[64];
		const char *v = lws_get_urlarg_by_name(wsi, "limit=", buf, sizeof buf);
		int64_t limit = 10;
		if (v && (!tb__http_parse_uint(v, &limit) || limit < 1 || limit > 50))
			return respond_failure(sig, wsi, http, 400, "bad-field", "limit",
					       "limit: an integer from 1 to 50");
		tb_library_related(lib, viewer, id, (int)limit, on_library_reply,
				   pending_new(sig, wsi, http));
		return 0;
	}
	if (strcmp(sub, "audit") == 0) {
		tb_library_audit(lib, viewer, id, on_library_reply, pending_new(sig, wsi, http));
		return 0;
	}
	if (strcmp(sub, "attendance") == 0) {
		tb_library_attendance(lib, viewer, id, on_library_reply,
				      pending_new(sig, wsi, http));
		return 0;
	}
	return tb__http_respond_error(sig, wsi, http, 404, "not-found", "no such API endpoint");
}

static int route_vocabulary(tb_signaling *sig, struct lws *wsi, tb_http_state *http,
			    const tb_library_viewer *viewer)
{
	const char *kind;
	json_t *body, *value, *label;
	tb_http_pending *p;
	int rc = 0;

	if (strcmp(http->path, "/api/vocabulary") == 0) {
		if (http->method != LWSHUMETH_GET)
			return method_not_allowed(sig, wsi, http, "GET");
		tb_library_vocabulary(sig->deps.library, viewer, on_library_reply,
				      pending_new(sig, wsi, http));
		return 0;
	}
	kind = http->path + strlen("/api/vocabulary/");
	if (http->method != LWSHUMETH_POST)
		return method_not_allowed(sig, wsi, http, "POST");
	body = body_object(sig, wsi, http, &rc);
	if (!body)
		return rc;
	value = json_object_get(body, "value");
	label = json_object_get(body, "label");
	if (!json_is_string(value)) {
		rc = respond_failure(sig, wsi, http, 400, "bad-field", "value",
				     "value: a string is required");
	} else if (!json_is_string(label)) {
		rc = respond_failure(sig, wsi, http, 400, "bad-field", "label",
				     "label: a string is required");
	} else if (json_object_size(body) != 2) {
		rc = respond_failure(sig, wsi, http, 400, "bad-field", NULL,
				     "only 'value' and 'label' are accepted");
	} else {
		p = pending_new(sig, wsi, http);
		p->status = 201;
		tb_library_vocabulary_add(sig->deps.library, viewer, kind, json_string_value(value),
					  json_string_value(label), on_library_reply, p);
	}
	json_decref(body);
	return rc;
}

static int route_recording(tb_signaling *sig, struct lws *wsi, tb_http_state *http,
			   const tb_library_viewer *viewer)
{
	int64_t id;
	tb_http_pending *p;

	switch (tb__http_recording_path(http->path + strlen("/api/recordings/"), &id)) {
	case 0:
		break;
	case TB_ENOENT:
		return tb__http_respond_error(sig, wsi, http, 404, "not-found",
					      "no such API endpoint");
	default:
		return tb__http_respond_error(sig, wsi, http, 404, "not-found",
					      "no such recording");
	}
	if (http->method != LWSHUMETH_GET && http->method != LWSHUMETH_HEAD)
		return method_not_allowed(sig, wsi, http, "GET or HEAD");
	p = pending_new(sig, wsi, http);
	p->media = true;
	p->recording_id = id;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_RANGE) > 0 &&
	    lws_hdr_copy(wsi, p->range, sizeof p->range, WSI_TOKEN_HTTP_RANGE) <= 0)
		p->bad_range = true;
	if (lws_hdr_copy(wsi, p->if_none_match, sizeof p->if_none_match,
			 WSI_TOKEN_HTTP_IF_NONE_MATCH) < 0)
		p->if_none_match[0] = '\0';
	if (lws_hdr_copy(wsi, p->if_range, sizeof p->if_range, WSI_TOKEN_HTTP_IF_RANGE) < 0)
		p->if_range[0] = '\0';
	tb_library_open_recording(sig->deps.library, viewer, id, on_library_reply, p);
	return 0;
}

static int route_search(tb_signaling *sig, struct lws *wsi, tb_http_state *http,
			const tb_library_viewer *viewer)
{
	tb_http_search_args args = {0};
	int rc = 0;

	if (http->method != LWSHUMETH_GET)
		return method_not_allowed(sig, wsi, http, "GET");
	if (parse_search(sig, wsi, http, &args, &rc) == 0)
		tb_library_search(sig->deps.library, viewer, &args.query, on_library_reply,
				  pending_new(sig, wsi, http));
	tb__http_search_args_clear(&args);
	return rc;
}

/* A <video> element cannot send a header: the media route also takes the
 * token as ?token=. Returns 0 with CLAIMS, 1 when there is no such
 * parameter (the header is then required), or -1 after sending the 401. */
static int media_token(tb_signaling *sig, struct lws *wsi, tb_http_state *http,
		       tb_token_claims *claims, int *rc)
{
	char buf[4200];
	const char *token;
	int verified;

	if (!g_str_has_prefix(http->path, "/api/recordings/") ||
	    lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION) > 0)
		return 1;
	token = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof buf);
	if (!token)
		return 1;
	verified = tb_token_verify(token, sig->deps.secret,
				   tb_clock_wall_ms(sig->deps.clock) / 1000, claims);
	if (verified < 0) {
		*rc = tb__http_respond_error(sig, wsi, http, 401, "unauthorized",
					     verified == TB_EEXPIRED ? "token expired"
								     : "invalid token");
		return -1;
	}
	return 0;
}

int tb__http_library_route(tb_signaling *sig, struct lws *wsi, tb_http_state *http)
{
	tb_token_claims claims = {0};
	tb_library_viewer viewer;
	int rc = 0, from_url;

	/* Every endpoint checks the token first: nothing is said without one. */
	from_url = media_token(sig, wsi, http, &claims, &rc);
	if (from_url < 0)
		return rc;
	if (from_url > 0 && tb__http_authenticate(sig, wsi, http, &claims, &rc))
		return rc;
	if (!sig->deps.library) {
		rc = tb__http_respond_error(sig, wsi, http, 503, "unavailable",
					    "the library is not available on this server");
		goto out;
	}
	viewer.user = claims.sub;
	viewer.role = claims.role;
	if (strcmp(http->path, "/api/library") == 0)
		rc = route_search(sig, wsi, http, &viewer);
	else if (g_str_has_prefix(http->path, "/api/sessions/"))
		rc = route_sessions(sig, wsi, http, &viewer);
	else if (g_str_has_prefix(http->path, "/api/recordings/"))
		rc = route_recording(sig, wsi, http, &viewer);
	else
		rc = route_vocabulary(sig, wsi, http, &viewer);
out:
	tb_token_claims_clear(&claims);
	return rc;
}
