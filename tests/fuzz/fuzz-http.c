/* fuzz-http.c — what an HTTP request from outside carries, through the
 * parsers of http.c and http-library.c (signaling/http-parse.h).
 *
 * The input is text in lines ('\n'); a missing line is empty:
 *   1. the request path (decoded, at most 511 octets like tb_http_state's
 *      path): static file check and content type, the /api/sessions/ and
 *      /api/recordings/ ids, the /api/rooms/ id;
 *   2. the query string of GET /api/library, split at '&' into fragments
 *      of at most 1023 octets (what lws hands over, decoded);
 *   3. a Range header (at most 127 octets, the size kept for it);
 *   4. the file size in decimal (default 1000);
 *   5. an If-None-Match list (at most 255 octets) and 6. an If-Range.
 * Invariants checked: a safe static path joined to the web root stays
 * under it and has no dot segment; a parsed range lies inside the file; a
 * session id is valid; a search that parsed has its numbers in bounds.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http-parse.h"

#define WEB_ROOT "/srv/tribu/web"

/* Line N of LINES truncated to MAX octets (new string). */
static char *part(char **lines, guint n_lines, guint n, size_t max)
{
	return g_strndup(n < n_lines ? lines[n] : "", max);
}

static void check_path(const char *path)
{
	char id[80];
	const char *sub;
	int64_t rec;

	tb_fuzz_consume(tb__http_mime_type(path), 1);
	if (tb__http_static_path_safe(path)) {
		char *joined = g_build_filename(WEB_ROOT, path, NULL);
		char *canon = g_canonicalize_filename(joined, "/");

		if (path[0] != '/' || strstr(path, "/.") || strchr(path, '\\'))
			g_error("unsafe static path passed: %s", path);
		if (strcmp(canon, WEB_ROOT) != 0 && !g_str_has_prefix(canon, WEB_ROOT "/"))
			g_error("static path %s leaves the web root: %s", path, canon);
		g_free(canon);
		g_free(joined);
	}
	if (g_str_has_prefix(path, "/api/sessions/") &&
	    tb__http_session_path(path + strlen("/api/sessions/"), id, sizeof id, &sub)) {
		if (!tb_library_session_id_valid(id) || strchr(id, '/'))
			g_error("bad session id accepted: %s", id);
		tb_fuzz_consume(sub, strlen(sub));
	}
	if (g_str_has_prefix(path, "/api/recordings/") &&
	    tb__http_recording_path(path + strlen("/api/recordings/"), &rec) == 0 && rec < 0)
		g_error("negative recording id from %s", path);
	if (g_str_has_prefix(path, "/api/rooms/"))
		tb_room_id_valid(path + strlen("/api/rooms/"));
}

static void check_query(const char *query)
{
	tb_http_search_args a = {0};
	char **fragments = g_strsplit(query, "&", -1);
	char message[192];
	const char *field = NULL;
	bool ok = true;

	tb__http_search_init(&a);
	for (char **f = fragments; *f && ok; f++) {
		char arg[1024];
		if (!**f)
			continue;
		g_strlcpy(arg, *f, sizeof arg);
		ok = tb__http_search_fragment(&a, arg, &field, message, sizeof message);
		if (!ok) {
			if (!g_utf8_validate(message, -1, NULL))
				g_error("error message is not UTF-8");
			tb_fuzz_consume(message, strlen(message));
			if (field)
				tb_fuzz_consume(field, strlen(field));
		}
	}
	if (ok) {
		tb__http_search_finish(&a);
		if (a.query.per_page < 0 || a.query.per_page > TB_LIBRARY_PER_PAGE_MAX ||
		    a.query.page < 0 || a.query.page > 1000000)
			g_error("search page out of bounds: %d/%d", a.query.page, a.query.per_page);
		if (a.query.text && !g_utf8_validate(a.query.text, -1, NULL))
			g_error("search text is not UTF-8");
	}
	tb__http_search_args_clear(&a);
	g_strfreev(fragments);
}

static void check_range(const char *range, int64_t size, const char *inm, const char *if_range)
{
	int64_t start = -1, end = -1, n;
	char etag[96];

	if (tb__http_parse_range(range, size, &start, &end) &&
	    (start < 0 || start >= end || end > size))
		g_error("range %s of %" G_GINT64_FORMAT " octets gave [%" G_GINT64_FORMAT
			", %" G_GINT64_FORMAT ")",
			range, size, start, end);
	g_snprintf(etag, sizeof etag, "\"%x-%" G_GINT64_MODIFIER "x-0\"", 7u, size);
	tb__http_etag_listed(inm, etag);
	tb_fuzz_consume(if_range, strlen(if_range));
	if (tb__http_parse_uint(if_range, &n) && n < 0)
		g_error("negative integer from %s", if_range);
	tb__http_parse_time(if_range, false, &n);
	tb__http_parse_time(if_range, true, &n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = g_strndup((const char *)data, size);
	char **lines = g_strsplit(text, "\n", 7);
	guint n = g_strv_length(lines);
	char *path = part(lines, n, 0, 511), *query = part(lines, n, 1, 8192);
	char *range = part(lines, n, 2, 127), *size_text = part(lines, n, 3, 32);
	char *inm = part(lines, n, 4, 255), *if_range = part(lines, n, 5, 127);
	int64_t file_size = *size_text ? g_ascii_strtoll(size_text, NULL, 10) : 1000;

	check_path(path);
	check_query(query);
	check_range(range, MAX(file_size, 0), inm, if_range);
	g_free(path);
	g_free(query);
	g_free(range);
	g_free(size_text);
	g_free(inm);
	g_free(if_range);
	g_strfreev(lines);
	g_free(text);
	return 0;
}
