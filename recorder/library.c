/* library.c — the curator library: search, read and curate the catalog.
 *
 * A thread of its own (a tb_worker, "tb-library") owns a second SQLite
 * connection to tribu.db. In WAL mode its reads never wait for the catalog
 * thread's writes; its curation writes take the write lock for a few
 * milliseconds (busy_timeout: a catalog that stays locked is a clear TB_EIO,
 * never a hang). Each public call copies its arguments into a task, posts it
 * to the thread, and the task's answer is posted back to the reply context,
 * where the caller's callback runs and the task is freed.
 *
 * The access rule (library.h) is one SQL condition, ACCESS_SQL, added to
 * every query that lists sessions, so that what a viewer may not see never
 * leaves the database.
 *
 * It does not speak HTTP (signaling/http-library.c does) and does not
 * write sessions, attendance or recordings (catalog.c does).
 */
#include "library-private.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAT "db"

typedef tb_library_task task;

#define LIB_BUSY_TIMEOUT_MS 2000
#define STMT_CACHE_MAX      256

/* ---- answers ---- */

void tb__library_fail(task *t, int code, const char *field, const char *fmt, ...)
{
	va_list ap;

	t->reply.code = code;
	t->reply.field = field;
	va_start(ap, fmt);
	g_vsnprintf(t->message, sizeof t->message, fmt, ap);
	va_end(ap);
	t->reply.message = t->message;
	if (t->reply.body) {
		json_decref(t->reply.body);
		t->reply.body = NULL;
	}
}

/* A SQLite failure: busy/locked says so, anything else is logged. */
void tb__library_fail_db(task *t, int rc, const char *what)
{
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
		tb__library_fail(t, TB_EIO, NULL,
				 "the catalog is busy (locked for more than %d ms); retry",
				 LIB_BUSY_TIMEOUT_MS);
		return;
	}
	TB_WARN(CAT, "library: %s: %s", what, sqlite3_errmsg(t->lib->db));
	tb__library_fail(t, TB_EIO, NULL, "the catalog failed (%s)", sqlite3_errstr(rc));
}

static void task_free(gpointer data)
{
	task *t = data;

	if (t->reply.fd >= 0)
		close(t->reply.fd);
	json_decref(t->reply.body);
	json_decref(t->changes);
	g_free(t->user);
	g_free(t->id);
	g_free(t->q_text);
	g_free(t->q_stage);
	g_free(t->q_sector);
	g_free(t->q_problem);
	g_free(t->q_visibility);
	g_free(t->q_mentor);
	g_free(t->kind_name);
	g_free(t->value);
	g_free(t->label);
	g_free(t->content_type);
	g_free(t);
}

static gboolean deliver(gpointer data)
{
	task *t = data;

	if (!t->reply.message)
		t->reply.message = t->reply.code == 0 ? "ok" : tb_strerror(t->reply.code);
	t->done(&t->reply, t->user_data);
	return G_SOURCE_REMOVE;
}

/* ---- statements ---- */

/* Returns the cached statement for SQL, reset and unbound, or NULL (then
 * the task has failed). */
sqlite3_stmt *tb__library_prepare(task *t, const char *sql)
{
	tb_library *lib = t->lib;
	sqlite3_stmt *stmt = g_hash_table_lookup(lib->stmts, sql);
	int rc;

	if (stmt) {
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		return stmt;
	}
	if (g_hash_table_size(lib->stmts) >= STMT_CACHE_MAX)
		g_hash_table_remove_all(lib->stmts);
	rc = sqlite3_prepare_v3(lib->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
	if (rc != SQLITE_OK) {
		tb__library_fail_db(t, rc, "prepare");
		return NULL;
	}
	g_hash_table_insert(lib->stmts, g_strdup(sql), stmt);
	return stmt;
}

const char *tb__library_col_text(sqlite3_stmt *stmt, int i)
{
	return (const char *)sqlite3_column_text(stmt, i);
}

json_t *tb__library_col_json_text(sqlite3_stmt *stmt, int i)
{
	const char *s = tb__library_col_text(stmt, i);

	return s ? json_string(s) : json_null();
}

json_t *tb__library_col_json_int(sqlite3_stmt *stmt, int i)
{
	return sqlite3_column_type(stmt, i) == SQLITE_NULL
		       ? json_null()
		       : json_integer(sqlite3_column_int64(stmt, i));
}

/* Keywords are stored "a, b, c": the JSON array. */
json_t *tb__library_keywords_json(const char *stored)
{
	json_t *array = json_array();
	char **parts;

	if (!stored || !*stored)
		return array;
	parts = g_strsplit(stored, ",", -1);
	for (char **p = parts; *p; p++) {
		g_strstrip(*p);
		if (**p)
			json_array_append_new(array, json_string(*p));
	}
	g_strfreev(parts);
	return array;
}

bool tb__library_sees_all(tb_role role)
{
	return role == TB_ROLE_CURATOR || role == TB_ROLE_ADMIN;
}

/* The access rule, with one parameter: the viewer's user id. */
#define ACCESS_SQL                                                                                 \
	" (c.visibility = 'reference' OR EXISTS (SELECT 1 FROM attendance a"                       \
	"  WHERE a.session_id = c.session_id AND a.user = ?))"

/* The columns of a result row, in this order (see row_json). */
#define ROW_COLUMNS                                                                                \
	" s.id, c.title, c.stage, c.sector, c.problem, c.keywords, c.visibility,"                  \
	" s.started_ms, s.ended_ms, s.room_id, s.kind,"                                            \
	" (SELECT m.user FROM attendance m WHERE m.session_id = s.id AND m.role = 'mentor'"        \
	"  ORDER BY m.joined_ms LIMIT 1),"                                                         \
	" (SELECT m.name FROM attendance m WHERE m.session_id = s.id AND m.role = 'mentor'"        \
	"  ORDER BY m.joined_ms LIMIT 1)"
#define ROW_N_COLUMNS 13

static json_t *row_json(sqlite3_stmt *stmt)
{
	json_t *row = json_object();
	json_t *mentor = json_null();

	json_object_set_new(row, "session_id", tb__library_col_json_text(stmt, 0));
	json_object_set_new(row, "title", tb__library_col_json_text(stmt, 1));
	json_object_set_new(row, "stage", tb__library_col_json_text(stmt, 2));
	json_object_set_new(row, "sector", tb__library_col_json_text(stmt, 3));
	json_object_set_new(row, "problem", tb__library_col_json_text(stmt, 4));
	json_object_set_new(row, "keywords",
			    tb__library_keywords_json(tb__library_col_text(stmt, 5)));
	json_object_set_new(row, "visibility", tb__library_col_json_text(stmt, 6));
	json_object_set_new(row, "started_ms", tb__library_col_json_int(stmt, 7));
	json_object_set_new(row, "ended_ms", tb__library_col_json_int(stmt, 8));
	if (sqlite3_column_type(stmt, 8) != SQLITE_NULL)
		json_object_set_new(row, "duration_ms",
				    json_integer(sqlite3_column_int64(stmt, 8) -
						 sqlite3_column_int64(stmt, 7)));
	else
		json_object_set_new(row, "duration_ms", json_null());
	json_object_set_new(row, "room_id", tb__library_col_json_text(stmt, 9));
	json_object_set_new(row, "kind", tb__library_col_json_text(stmt, 10));
	if (sqlite3_column_type(stmt, 11) != SQLITE_NULL)
		mentor = json_pack("{s:s?, s:s?}", "user", tb__library_col_text(stmt, 11), "name",
				   tb__library_col_text(stmt, 12));
	json_object_set_new(row, "mentor", mentor);
	return row;
}

/* ---- checks ---- */

bool tb_library_session_id_valid(const char *id)
{
	return id && tb_room_id_valid(id);
}

bool tb__library_tag_kind_valid(const char *kind)
{
	return kind && (strcmp(kind, "stage") == 0 || strcmp(kind, "sector") == 0 ||
			strcmp(kind, "problem") == 0);
}

/* True if VALUE is in vocabulary KIND; false with the task failed otherwise
 * (TB_EINVAL naming FIELD, or a database error). */
bool tb__library_check_tag(task *t, const char *kind, const char *value, const char *field)
{
	sqlite3_stmt *stmt =
		tb__library_prepare(t, "SELECT 1 FROM vocabulary WHERE kind = ?1 AND value = ?2");
	int rc;

	if (!stmt)
		return false;
	sqlite3_bind_text(stmt, 1, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc == SQLITE_ROW)
		return true;
	if (rc != SQLITE_DONE) {
		tb__library_fail_db(t, rc, "check tag");
		return false;
	}
	tb__library_fail(t, TB_EINVAL, field, "%s: unknown value '%.64s' (see GET /api/vocabulary)",
			 field, value);
	return false;
}

/* Looks session ID up and applies the access rule: true when the viewer may
 * see it; otherwise the task has failed (TB_ENOENT, TB_EPERM, TB_EIO). */
bool tb__library_check_session(task *t, const char *id)
{
	sqlite3_stmt *stmt;
	int rc;
	bool reference, attended;

	if (!tb_library_session_id_valid(id)) {
		tb__library_fail(t, TB_ENOENT, NULL, "no such session");
		return false;
	}
	stmt = tb__library_prepare(
		t, "SELECT c.visibility = 'reference', EXISTS (SELECT 1 FROM attendance a"
		   " WHERE a.session_id = c.session_id AND a.user = ?2)"
		   " FROM curation c WHERE c.session_id = ?1");
	if (!stmt)
		return false;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, t->user, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		if (rc == SQLITE_DONE)
			tb__library_fail(t, TB_ENOENT, NULL, "no such session");
		else
			tb__library_fail_db(t, rc, "read session");
		return false;
	}
	reference = sqlite3_column_int(stmt, 0) != 0;
	attended = sqlite3_column_int(stmt, 1) != 0;
	sqlite3_reset(stmt);
	if (tb__library_sees_all(t->role) || reference || attended)
		return true;
	tb__library_fail(t, TB_EPERM, NULL, "this session is confidential");
	return false;
}

/* ---- search ---- */

typedef struct binding {
	bool is_text;
	const char *text;
	int64_t num;
} binding;

static void bind_text(GArray *b, const char *text)
{
	binding v = {.is_text = true, .text = text};
	g_array_append_val(b, v);
}

static void bind_num(GArray *b, int64_t num)
{
	binding v = {.is_text = false, .num = num};
	g_array_append_val(b, v);
}

static void bind_all(sqlite3_stmt *stmt, GArray *b)
{
	for (guint i = 0; i < b->len; i++) {
		binding *v = &g_array_index(b, binding, i);
		if (v->is_text)
			sqlite3_bind_text(stmt, (int)i + 1, v->text, -1, SQLITE_STATIC);
		else
			sqlite3_bind_int64(stmt, (int)i + 1, v->num);
	}
}

/* Turns free text into an FTS5 query: every word is required, as a quoted
 * string (so no FTS5 syntax from outside is ever interpreted), the last one
 * also as a prefix when it has 3 characters or more. Returns a new string,
 * or NULL when TEXT has no word. */
char *tb__library_fts_query(const char *text)
{
	GString *out = g_string_new(NULL);
	const char *p = text;
	int words = 0;

	while (*p) {
		const char *start;
		gunichar c = g_utf8_get_char(p);

		if (!g_unichar_isalnum(c)) {
			p = g_utf8_next_char(p);
			continue;
		}
		start = p;
		while (*p && g_unichar_isalnum(g_utf8_get_char(p)))
			p = g_utf8_next_char(p);
		if (words++)
			g_string_append_c(out, ' ');
		g_string_append_c(out, '"');
		g_string_append_len(out, start, p - start);
		g_string_append_c(out, '"');
		/* A prefix of one or two characters would expand to a large
		 * part of the index (docs/performance.md). */
		if (!*p && g_utf8_strlen(start, p - start) >= 3)
			g_string_append_c(out, '*');
	}
	if (words == 0) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

/* Appends to FTS the index word of tag VALUE (see curation.tags in
 * catalog.c's migration 3): PREFIX + lowercase hex of its bytes. */
static void append_tag_word(GString *fts, const char *prefix, const char *value)
{
	if (fts->len)
		g_string_append(fts, " AND ");
	g_string_append_printf(fts, "tags : \"%s", prefix);
	for (const unsigned char *c = (const unsigned char *)value; *c; c++)
		g_string_append_printf(fts, "%02x", *c);
	g_string_append_c(fts, '"');
}

/* The full-text query of a search: the words in title, notes and keywords,
 * and the tag filters as index words, so that SQLite intersects posting
 * lists instead of reading every row that has the words. Returns a new
 * string, or NULL when there is nothing to match (no text, no tag). */
static char *search_fts(const tb_library_query *q, const char *words)
{
	GString *fts = g_string_new(NULL);

	if (words)
		g_string_append_printf(fts, "{title notes keywords} : (%s)", words);
	if (q->stage)
		append_tag_word(fts, "s0", q->stage);
	if (q->sector)
		append_tag_word(fts, "c0", q->sector);
	if (q->problem)
		append_tag_word(fts, "p0", q->problem);
	if (q->visibility)
		append_tag_word(fts, "v0", q->visibility);
	if (fts->len == 0) {
		g_string_free(fts, TRUE);
		return NULL;
	}
	return g_string_free(fts, FALSE);
}

/* Appends the FROM and WHERE of a search to SQL, its parameters to B. The
 * tag filters are also plain conditions: the index words only make them
 * fast. */
static void search_where(task *t, const char *fts, GString *sql, GArray *b)
{
	const tb_library_query *q = &t->query;

	if (fts) {
		g_string_append(sql, " FROM curation_fts f JOIN curation c ON c.id = f.rowid"
				     " JOIN sessions s ON s.id = c.session_id"
				     " WHERE curation_fts MATCH ?");
		bind_text(b, fts);
	} else {
		g_string_append(sql, " FROM curation c JOIN sessions s ON s.id = c.session_id"
				     " WHERE 1");
	}
	if (q->stage) {
		g_string_append(sql, " AND c.stage = ?");
		bind_text(b, q->stage);
	}
	if (q->sector) {
		g_string_append(sql, " AND c.sector = ?");
		bind_text(b, q->sector);
	}
	if (q->problem) {
		g_string_append(sql, " AND c.problem = ?");
		bind_text(b, q->problem);
	}
	if (q->visibility) {
		g_string_append(sql, " AND c.visibility = ?");
		bind_text(b, q->visibility);
	}
	if (q->mentor) {
		g_string_append(sql,
				" AND EXISTS (SELECT 1 FROM attendance am WHERE"
				" am.session_id = s.id AND am.role = 'mentor' AND am.user = ?)");
		bind_text(b, q->mentor);
	}
	if (q->from_ms != TB_LIBRARY_NO_TIME) {
		g_string_append(sql, " AND s.started_ms >= ?");
		bind_num(b, q->from_ms);
	}
	if (q->to_ms != TB_LIBRARY_NO_TIME) {
		g_string_append(sql, " AND s.started_ms < ?");
		bind_num(b, q->to_ms);
	}
	if (!tb__library_sees_all(t->role)) {
		g_string_append(sql, " AND" ACCESS_SQL);
		bind_text(b, t->user);
	}
}

static bool check_query(task *t)
{
	tb_library_query *q = &t->query;

	if (q->page == 0)
		q->page = 1;
	if (q->per_page == 0)
		q->per_page = 20;
	if (q->page < 1 || q->page > 1000000) {
		tb__library_fail(t, TB_EINVAL, "page",
				 "page: must be an integer from 1 to 1000000");
		return false;
	}
	if (q->per_page < 1 || q->per_page > TB_LIBRARY_PER_PAGE_MAX) {
		tb__library_fail(t, TB_EINVAL, "per_page",
				 "per_page: must be an integer from 1 to %d",
				 TB_LIBRARY_PER_PAGE_MAX);
		return false;
	}
	if (q->text && strlen(q->text) > TB_LIBRARY_QUERY_MAX) {
		tb__library_fail(t, TB_EINVAL, "q", "q: at most %d bytes", TB_LIBRARY_QUERY_MAX);
		return false;
	}
	if (q->text && !g_utf8_validate(q->text, -1, NULL)) {
		tb__library_fail(t, TB_EINVAL, "q", "q: not valid UTF-8");
		return false;
	}
	if (q->visibility && strcmp(q->visibility, "confidential") != 0 &&
	    strcmp(q->visibility, "reference") != 0) {
		tb__library_fail(t, TB_EINVAL, "visibility",
				 "visibility: must be confidential or reference");
		return false;
	}
	if (q->sort < TB_LIBRARY_SORT_DEFAULT || q->sort > TB_LIBRARY_SORT_DATE_DESC) {
		tb__library_fail(t, TB_EINVAL, "sort", "sort: must be relevance, date or -date");
		return false;
	}
	if (q->from_ms != TB_LIBRARY_NO_TIME && q->to_ms != TB_LIBRARY_NO_TIME &&
	    q->from_ms > q->to_ms) {
		tb__library_fail(t, TB_EINVAL, "to", "to: before from");
		return false;
	}
	return (!q->stage || tb__library_check_tag(t, "stage", q->stage, "stage")) &&
	       (!q->sector || tb__library_check_tag(t, "sector", q->sector, "sector")) &&
	       (!q->problem || tb__library_check_tag(t, "problem", q->problem, "problem"));
}

static void run_search(task *t)
{
	tb_library_query *q = &t->query;
	char *words = NULL, *fts = NULL;
	GString *where = g_string_new(NULL), *sql = g_string_new(NULL);
	GArray *b = g_array_new(FALSE, FALSE, sizeof(binding));
	sqlite3_stmt *stmt;
	json_t *results;
	int64_t total = 0;
	int rc;

	if (!check_query(t))
		goto out;
	words = q->text ? tb__library_fts_query(q->text) : NULL;
	if (q->text && !words) {
		/* Only punctuation: nothing can match. */
		t->reply.body = json_pack("{s:i, s:i, s:i, s:[]}", "total", 0, "page", q->page,
					  "per_page", q->per_page, "results");
		goto out;
	}
	fts = search_fts(q, words);
	search_where(t, fts, where, b);

	g_string_printf(sql, "SELECT count(*)%s", where->str);
	stmt = tb__library_prepare(t, sql->str);
	if (!stmt)
		goto out;
	bind_all(stmt, b);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		tb__library_fail_db(t, rc, "count");
		goto out;
	}
	total = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);

	g_string_printf(sql, "SELECT" ROW_COLUMNS "%s ORDER BY ", where->str);
	if (q->sort == TB_LIBRARY_SORT_DATE)
		g_string_append(sql, "s.started_ms ASC, s.id");
	else if (words && q->sort != TB_LIBRARY_SORT_DATE_DESC)
		g_string_append(sql, "f.rank, s.started_ms DESC, s.id");
	else
		g_string_append(sql, "s.started_ms DESC, s.id");
	g_string_append(sql, " LIMIT ? OFFSET ?");
	bind_num(b, q->per_page);
	bind_num(b, (int64_t)(q->page - 1) * q->per_page);
	stmt = tb__library_prepare(t, sql->str);
	if (!stmt)
		goto out;
	bind_all(stmt, b);
	results = json_array();
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		json_array_append_new(results, row_json(stmt));
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		json_decref(results);
		tb__library_fail_db(t, rc, "search");
		goto out;
	}
	t->reply.body = json_pack("{s:I, s:i, s:i, s:o}", "total", (json_int_t)total, "page",
				  q->page, "per_page", q->per_page, "results", results);
out:
	g_free(words);
	g_free(fts);
	g_string_free(where, TRUE);
	g_string_free(sql, TRUE);
	g_array_free(b, TRUE);
}

/* ---- one session ---- */

json_t *tb__library_read_list(task *t, const char *sql, const char *id,
			      json_t *(*row)(sqlite3_stmt *stmt))
{
	sqlite3_stmt *stmt = tb__library_prepare(t, sql);
	json_t *list;
	int rc;

	if (!stmt)
		return NULL;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	list = json_array();
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		json_array_append_new(list, row(stmt));
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		json_decref(list);
		tb__library_fail_db(t, rc, "read");
		return NULL;
	}
	return list;
}

static json_t *attendance_row(sqlite3_stmt *s)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "participant_id",
			 tb__library_col_json_text(s, 0), "user", tb__library_col_json_text(s, 1),
			 "name", tb__library_col_json_text(s, 2), "role",
			 tb__library_col_json_text(s, 3), "joined_ms",
			 tb__library_col_json_int(s, 4), "left_ms", tb__library_col_json_int(s, 5),
			 "leave_reason", tb__library_col_json_text(s, 6));
}

static json_t *participant_row(sqlite3_stmt *s)
{
	return json_pack("{s:o, s:o, s:o, s:o}", "user", tb__library_col_json_text(s, 0), "name",
			 tb__library_col_json_text(s, 1), "role", tb__library_col_json_text(s, 2),
			 "present_ms", tb__library_col_json_int(s, 3));
}

static json_t *recording_row(sqlite3_stmt *s)
{
	json_t *row = json_pack(
		"{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
		tb__library_col_json_int(s, 0), "participant_id", tb__library_col_json_text(s, 1),
		"user", tb__library_col_json_text(s, 2), "role", tb__library_col_json_text(s, 3),
		"kinds", tb__library_col_json_text(s, 4), "codecs", tb__library_col_json_text(s, 5),
		"width", tb__library_col_json_int(s, 6), "height", tb__library_col_json_int(s, 7),
		"started_ms", tb__library_col_json_int(s, 8), "offset_ms",
		tb__library_col_json_int(s, 9), "duration_ms", tb__library_col_json_int(s, 10),
		"bytes", tb__library_col_json_int(s, 11), "state",
		tb__library_col_json_text(s, 12));
	const char *state = tb__library_col_text(s, 12);

	if (state && (strcmp(state, "complete") == 0 || strcmp(state, "truncated") == 0))
		json_object_set_new(row, "media_url",
				    json_sprintf("/api/recordings/%" G_GINT64_FORMAT "/media",
						 (gint64)sqlite3_column_int64(s, 0)));
	else
		json_object_set_new(row, "media_url", json_null());
	return row;
}

/* Fills the reply's body with session ID (the viewer may see it). */
void tb__library_read_session(task *t, const char *id)
{
	sqlite3_stmt *stmt = tb__library_prepare(
		t, "SELECT" ROW_COLUMNS ", s.end_reason, c.notes, c.updated_ms, c.updated_by"
		   " FROM curation c JOIN sessions s ON s.id = c.session_id"
		   " WHERE c.session_id = ?1");
	json_t *body, *list;
	int rc;

	if (!stmt)
		return;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		if (rc == SQLITE_DONE)
			tb__library_fail(t, TB_ENOENT, NULL, "no such session");
		else
			tb__library_fail_db(t, rc, "read session");
		return;
	}
	body = row_json(stmt);
	json_object_set_new(body, "id", json_string(id));
	json_object_set_new(body, "end_reason", tb__library_col_json_text(stmt, ROW_N_COLUMNS));
	json_object_set_new(body, "notes", tb__library_col_json_text(stmt, ROW_N_COLUMNS + 1));
	json_object_set_new(body, "updated_ms", tb__library_col_json_int(stmt, ROW_N_COLUMNS + 2));
	json_object_set_new(body, "updated_by", tb__library_col_json_text(stmt, ROW_N_COLUMNS + 3));
	sqlite3_reset(stmt);

	list = tb__library_read_list(
		t,
		"SELECT user, min(name), min(role), sum(coalesce(left_ms, joined_ms) - joined_ms)"
		" FROM attendance WHERE session_id = ?1 GROUP BY user ORDER BY min(joined_ms)",
		id, participant_row);
	if (!list)
		goto fail;
	json_object_set_new(body, "participants", list);
	list = tb__library_read_list(
		t,
		"SELECT participant_id, user, name, role, joined_ms, left_ms, leave_reason"
		" FROM attendance WHERE session_id = ?1 ORDER BY joined_ms, participant_id",
		id, attendance_row);
	if (!list)
		goto fail;
	json_object_set_new(body, "attendance", list);
	list = tb__library_read_list(
		t,
		"SELECT id, participant_id, user, role, kinds, codecs, width, height,"
		" started_ms, offset_ms, duration_ms, bytes, state"
		" FROM recordings WHERE session_id = ?1 ORDER BY offset_ms, id",
		id, recording_row);
	if (!list)
		goto fail;
	json_object_set_new(body, "recordings", list);
	t->reply.body = body;
	return;
fail:
	json_decref(body);
}

static void run_session(task *t)
{
	if (tb__library_check_session(t, t->id))
		tb__library_read_session(t, t->id);
}

/* ---- related ---- */

static void run_related(task *t)
{
	sqlite3_stmt *stmt = NULL;
	json_t *results, *mine;
	char *keywords = NULL, *mine_text;
	int rc;

	if (t->limit < 1 || t->limit > 50) {
		tb__library_fail(t, TB_EINVAL, "limit", "limit: must be an integer from 1 to 50");
		return;
	}
	if (!tb__library_check_session(t, t->id) ||
	    !tb__library_stored_value(t, "keywords", &keywords))
		return;
	mine = tb__library_keywords_json(keywords);
	mine_text = json_dumps(mine, JSON_COMPACT);
	/* Tags weigh 4 (problem), 2 (sector), 1 (stage): all three first, then
	 * problem and sector, ...; keyword overlap breaks ties. Reference
	 * sessions only, which every viewer may see. */
	stmt = tb__library_prepare(
		t, "WITH me AS (SELECT stage, sector, problem, keywords FROM curation"
		   "  WHERE session_id = ?1),"
		   " mine(k) AS (SELECT value FROM json_each(?3)),"
		   " scored AS (SELECT c.session_id AS sid,"
		   "  4 * coalesce(c.problem = (SELECT problem FROM me), 0)"
		   "  + 2 * coalesce(c.sector = (SELECT sector FROM me), 0)"
		   "  + coalesce(c.stage = (SELECT stage FROM me), 0) AS tags,"
		   "  (SELECT count(*) FROM mine WHERE instr(', ' || c.keywords || ', ',"
		   "   ', ' || mine.k || ', ') > 0) AS overlap"
		   "  FROM curation c WHERE c.visibility = 'reference' AND c.session_id != ?1)"
		   " SELECT" ROW_COLUMNS ", scored.tags, scored.overlap"
		   " FROM scored JOIN curation c ON c.session_id = scored.sid"
		   " JOIN sessions s ON s.id = c.session_id"
		   " WHERE scored.tags > 0 OR scored.overlap > 0"
		   " ORDER BY scored.tags DESC, scored.overlap DESC, s.started_ms DESC, s.id"
		   " LIMIT ?2");
	if (!stmt)
		goto out;
	sqlite3_bind_text(stmt, 1, t->id, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 2, t->limit);
	sqlite3_bind_text(stmt, 3, mine_text, -1, SQLITE_STATIC);
	results = json_array();
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		json_t *row = row_json(stmt);
		json_object_set_new(row, "score",
				    json_pack("{s:i, s:i}", "tags",
					      sqlite3_column_int(stmt, ROW_N_COLUMNS), "keywords",
					      sqlite3_column_int(stmt, ROW_N_COLUMNS + 1)));
		json_array_append_new(results, row);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		json_decref(results);
		tb__library_fail_db(t, rc, "related");
		goto out;
	}
	t->reply.body = json_pack("{s:s, s:o}", "session_id", t->id, "results", results);
out:
	if (stmt)
		sqlite3_clear_bindings(stmt);
	json_decref(mine);
	free(mine_text);
	g_free(keywords);
}

/* ---- recordings ---- */

static void run_open_recording(task *t)
{
	sqlite3_stmt *stmt = tb__library_prepare(t, "SELECT path, state, session_id FROM recordings"
						    " WHERE id = ?1");
	char *path = NULL, *state = NULL, *session_id = NULL, *abs = NULL, *real = NULL;
	struct stat st;
	int rc, fd = -1;

	if (!stmt)
		return;
	sqlite3_bind_int64(stmt, 1, t->recording_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		path = g_strdup(tb__library_col_text(stmt, 0));
		state = g_strdup(tb__library_col_text(stmt, 1));
		session_id = g_strdup(tb__library_col_text(stmt, 2));
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			tb__library_fail(t, TB_ENOENT, NULL, "no such recording");
		else
			tb__library_fail_db(t, rc, "read recording");
		goto out;
	}
	if (!tb__library_check_session(t, session_id)) {
		if (t->reply.code == TB_EPERM)
			tb__library_fail(t, TB_EPERM, NULL,
					 "this recording's session is confidential");
		goto out;
	}
	if (strcmp(state, "complete") != 0 && strcmp(state, "truncated") != 0) {
		tb__library_fail(t, TB_ECONFLICT, NULL,
				 strcmp(state, "recording") == 0
					 ? "this recording is still being made; it plays once the "
					   "session ends"
					 : "this recording failed and cannot be played");
		goto out;
	}
	abs = g_build_filename(t->lib->data_dir, path, NULL);
	real = realpath(abs, NULL);
	if (!real || !t->lib->recordings_root || !g_str_has_prefix(real, t->lib->recordings_root) ||
	    real[strlen(t->lib->recordings_root)] != '/') {
		if (real)
			TB_WARN(CAT,
				"library: recording %" G_GINT64_FORMAT
				" points outside the recordings dir; refused",
				(gint64)t->recording_id);
		tb__library_fail(t, TB_ENOENT, NULL, "the file of this recording is missing");
		goto out;
	}
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		tb__library_fail(t, TB_ENOENT, NULL, "the file of this recording is missing");
		goto out;
	}
	t->reply.fd = fd;
	fd = -1;
	t->reply.size = st.st_size;
	t->reply.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	t->content_type =
		g_strdup(g_str_has_suffix(real, ".webm") ? "video/webm" : "video/x-matroska");
	t->reply.content_type = t->content_type;
	t->reply.body = json_pack("{s:I, s:s, s:s}", "recording_id", (json_int_t)t->recording_id,
				  "session_id", session_id, "path", path);
out:
	if (fd >= 0)
		close(fd);
	g_free(path);
	g_free(state);
	g_free(session_id);
	g_free(abs);
	free(real);
}

/* ---- the library thread ---- */

static gboolean task_run(gpointer data)
{
	task *t = data;
	GSource *source;

	switch (t->kind) {
	case TASK_SEARCH:
		run_search(t);
		break;
	case TASK_SESSION:
		run_session(t);
		break;
	case TASK_CURATE:
		tb__library_run_curate(t);
		break;
	case TASK_RELATED:
		run_related(t);
		break;
	case TASK_AUDIT:
		tb__library_run_audit(t);
		break;
	case TASK_VOCABULARY:
		tb__library_run_vocabulary(t);
		break;
	case TASK_VOCABULARY_ADD:
		tb__library_run_vocabulary_add(t);
		break;
	case TASK_OPEN_RECORDING:
		run_open_recording(t);
		break;
	case TASK_ATTENDANCE:
		tb__library_run_attendance(t);
		break;
	}
	/* The answer goes back with the task; the reply context frees it. */
	source = g_idle_source_new();
	g_source_set_priority(source, G_PRIORITY_DEFAULT);
	g_source_set_static_name(source, "tb_library_reply");
	g_source_set_callback(source, deliver, t, task_free);
	g_source_attach(source, t->lib->reply_context);
	g_source_unref(source);
	return G_SOURCE_REMOVE;
}

static task *task_new(tb_library *lib, enum tb_library_task_kind kind,
		      const tb_library_viewer *viewer, tb_library_done done, void *user_data)
{
	task *t = g_new0(task, 1);

	t->kind = kind;
	t->lib = lib;
	t->user = g_strdup(viewer && viewer->user ? viewer->user : "");
	t->role = viewer ? viewer->role : TB_ROLE_NONE;
	t->done = done;
	t->user_data = user_data;
	t->reply.fd = -1;
	return t;
}

static void post(task *t)
{
	/* No destroy notify: task_run hands the task on to the reply. */
	tb_worker_post(t->lib->worker, task_run, t, NULL);
}

void tb_library_search(tb_library *lib, const tb_library_viewer *viewer,
		       const tb_library_query *query, tb_library_done done, void *user_data)
{
	task *t;

	g_return_if_fail(lib && query && done);
	t = task_new(lib, TASK_SEARCH, viewer, done, user_data);
	t->query = *query;
	t->query.text = t->q_text = g_strdup(query->text);
	t->query.stage = t->q_stage = g_strdup(query->stage);
	t->query.sector = t->q_sector = g_strdup(query->sector);
	t->query.problem = t->q_problem = g_strdup(query->problem);
	t->query.visibility = t->q_visibility = g_strdup(query->visibility);
	t->query.mentor = t->q_mentor = g_strdup(query->mentor);
	post(t);
}

static void post_session_task(tb_library *lib, enum tb_library_task_kind kind,
			      const tb_library_viewer *viewer, const char *session_id, int limit,
			      const json_t *changes, tb_library_done done, void *user_data)
{
	task *t;

	g_return_if_fail(lib && done);
	t = task_new(lib, kind, viewer, done, user_data);
	t->id = g_strdup(session_id ? session_id : "");
	t->limit = limit;
	t->changes = changes ? json_deep_copy(changes) : NULL;
	post(t);
}

void tb_library_session(tb_library *lib, const tb_library_viewer *viewer, const char *session_id,
			tb_library_done done, void *user_data)
{
	post_session_task(lib, TASK_SESSION, viewer, session_id, 0, NULL, done, user_data);
}

void tb_library_curate(tb_library *lib, const tb_library_viewer *viewer, const char *session_id,
		       const json_t *changes, tb_library_done done, void *user_data)
{
	post_session_task(lib, TASK_CURATE, viewer, session_id, 0, changes, done, user_data);
}

void tb_library_related(tb_library *lib, const tb_library_viewer *viewer, const char *session_id,
			int limit, tb_library_done done, void *user_data)
{
	post_session_task(lib, TASK_RELATED, viewer, session_id, limit, NULL, done, user_data);
}

void tb_library_audit(tb_library *lib, const tb_library_viewer *viewer, const char *session_id,
		      tb_library_done done, void *user_data)
{
	post_session_task(lib, TASK_AUDIT, viewer, session_id, 0, NULL, done, user_data);
}

void tb_library_attendance(tb_library *lib, const tb_library_viewer *viewer,
			   const char *session_id, tb_library_done done, void *user_data)
{
	post_session_task(lib, TASK_ATTENDANCE, viewer, session_id, 0, NULL, done, user_data);
}

void tb_library_vocabulary(tb_library *lib, const tb_library_viewer *viewer, tb_library_done done,
			   void *user_data)
{
	g_return_if_fail(lib && done);
	post(task_new(lib, TASK_VOCABULARY, viewer, done, user_data));
}

void tb_library_vocabulary_add(tb_library *lib, const tb_library_viewer *viewer, const char *kind,
			       const char *value, const char *label, tb_library_done done,
			       void *user_data)
{
	task *t;

	g_return_if_fail(lib && done);
	t = task_new(lib, TASK_VOCABULARY_ADD, viewer, done, user_data);
	t->kind_name = g_strdup(kind);
	t->value = g_strdup(value);
	t->label = g_strdup(label);
	post(t);
}

void tb_library_open_recording(tb_library *lib, const tb_library_viewer *viewer,
			       int64_t recording_id, tb_library_done done, void *user_data)
{
	task *t;

	g_return_if_fail(lib && done);
	t = task_new(lib, TASK_OPEN_RECORDING, viewer, done, user_data);
	t->recording_id = recording_id;
	post(t);
}

/* ---- open and close ---- */

static void stmt_finalize(gpointer stmt)
{
	sqlite3_finalize(stmt);
}

static gboolean close_db(gpointer data)
{
	tb_library *lib = data;

	g_hash_table_destroy(lib->stmts);
	lib->stmts = NULL;
	sqlite3_close(lib->db);
	lib->db = NULL;
	return G_SOURCE_REMOVE;
}

tb_library *tb_library_open(const char *db_path, const char *data_dir, GMainContext *reply_context,
			    GError **error)
{
	tb_library *lib = g_new0(tb_library, 1);
	sqlite3_stmt *stmt = NULL;
	char *recordings;
	int rc, version = 0;

	g_return_val_if_fail(db_path && data_dir, NULL);
	lib->data_dir = g_strdup(data_dir);
	recordings = g_build_filename(data_dir, "recordings", NULL);
	lib->recordings_root = realpath(recordings, NULL);
	g_free(recordings);
	lib->reply_context = reply_context ? g_main_context_ref(reply_context)
					   : g_main_context_ref(g_main_context_default());
	/* NOMUTEX: one thread at a time (this one until the worker starts,
	 * then only the worker; post orders the two). */
	rc = sqlite3_open_v2(db_path, &lib->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(lib->db, LIB_BUSY_TIMEOUT_MS);
	/* A search reads index pages all over the file: map it and keep more
	 * of it cached than SQLite's 2 MB default (docs/performance.md). */
	rc = sqlite3_exec(lib->db,
			  "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
			  " PRAGMA mmap_size = 268435456; PRAGMA cache_size = -32768",
			  NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_prepare_v2(lib->db, "SELECT coalesce(max(version), 0) FROM schema_migrations",
				-1, &stmt, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		version = sqlite3_column_int(stmt, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_OK)
		goto fail;
	if (version < 3) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "library: %s has schema %d; open the catalog first (needs 3)", db_path,
			    version);
		goto fail_set;
	}
	lib->stmts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, stmt_finalize);
	lib->worker = tb_worker_new("tb-library");
	return lib;
fail:
	g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "library: cannot open %s: %s",
		    db_path, lib->db ? sqlite3_errmsg(lib->db) : sqlite3_errstr(rc));
fail_set:
	sqlite3_close(lib->db);
	g_main_context_unref(lib->reply_context);
	free(lib->recordings_root);
	g_free(lib->data_dir);
	g_free(lib);
	return NULL;
}

void tb_library_close(tb_library *lib)
{
	if (!lib)
		return;
	/* After every task already posted; their answers stay queued on the
	 * reply context. */
	tb_worker_call_sync(lib->worker, close_db, lib);
	tb_worker_free(lib->worker);
	g_main_context_unref(lib->reply_context);
	free(lib->recordings_root);
	g_free(lib->data_dir);
	g_free(lib);
}
