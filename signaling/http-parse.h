/* http-parse.h — the pure parsers of what an HTTP request from outside
 * carries: static file paths, API paths that hold ids, the library search
 * parameters, the Range header and ETag lists.
 *
 * Defined in http.c and http-library.c, where the routes use them; declared
 * here so that tests/fuzz/fuzz-http.c reaches them without lws. Pure: no
 * I/O, no lws, no global state; any thread. Every input is untrusted and
 * NUL-terminated.
 */
#ifndef TB_SIGNALING_HTTP_PARSE_H
#define TB_SIGNALING_HTTP_PARSE_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "library.h"

/* ---- http.c: static files ---- */

/* True if every segment of PATH (an absolute URL path, already decoded) is
 * a plain name: PATH starts with '/', no segment starts with '.' (so no
 * "..", no hidden file), no backslash or control character. Only then may
 * it be joined to the web directory. */
bool tb__http_static_path_safe(const char *path);

/* The content type served for PATH, by its extension (static string; never
 * NULL: application/octet-stream when unknown). */
const char *tb__http_mime_type(const char *path);

/* ---- http-library.c: ids in paths ---- */

/* Splits REST, what follows "/api/sessions/", into the session id (copied
 * into ID, ID_SIZE octets) and *SUB, what follows its '/' ("" when none;
 * points into REST). Returns false when the id is too long or not a valid
 * session id (tb_library_session_id_valid): the answer is then 404. */
bool tb__http_session_path(const char *rest, char *id, size_t id_size, const char **sub);

/* Parses REST, what follows "/api/recordings/", which must be
 * "<digits>/media", into *ID. Returns 0, TB_ENOENT when REST is not that
 * shape (no such endpoint) or TB_EINVAL when the digits are not a
 * recording id (no such recording). */
int tb__http_recording_path(const char *rest, int64_t *id);

/* ---- http-library.c: query strings ---- */

/* A non-negative decimal integer of 1 to 18 digits, nothing else. */
bool tb__http_parse_uint(const char *s, int64_t *out);

/* A time into *OUT (Unix milliseconds): Unix milliseconds, a date
 * (YYYY-MM-DD, UTC midnight; END_OF_DAY gives the next midnight) or an ISO
 * 8601 time with its zone. False when it is none of these. */
bool tb__http_parse_time(const char *s, bool end_of_day, int64_t *out);

/* The parameters of GET /api/library; the strings are owned and QUERY's
 * strings point to them once tb__http_search_finish ran. */
typedef struct tb_http_search_args {
	char *text, *stage, *sector, *problem, *visibility, *mentor;
	tb_library_query query;
} tb_http_search_args;

/* Starts A (zeroed by the caller): no time bounds. */
void tb__http_search_init(tb_http_search_args *a);

/* Parses one fragment ARG of the query string ("name=value" or "name",
 * URL-decoded, NUL-terminated; modified in place) into A. Returns true, or
 * false with *FIELD (the parameter at fault; NULL when the fragment itself
 * is bad: an unknown name, invalid UTF-8) and MESSAGE set. A parameter
 * given twice is refused. */
bool tb__http_search_fragment(tb_http_search_args *a, char *arg, const char **field, char *message,
			      size_t message_len);

/* Points A->query's strings at A's (after the last fragment). */
void tb__http_search_finish(tb_http_search_args *a);

void tb__http_search_args_clear(tb_http_search_args *a);

/* ---- http-library.c: ranges and validators ---- */

/* Parses RANGE ("bytes=a-b", "bytes=a-", "bytes=-n", one range) against a
 * file of SIZE bytes (>= 0) into [*START, *END), with 0 <= START < END <=
 * SIZE. False when it is malformed or unsatisfiable: the answer is then
 * 416. */
bool tb__http_parse_range(const char *range, int64_t size, int64_t *start, int64_t *end);

/* True if the If-None-Match list LIST holds ETAG (weak comparison) or "*". */
bool tb__http_etag_listed(const char *list, const char *etag);

#endif
