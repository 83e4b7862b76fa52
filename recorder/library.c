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
#include "library.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAT "db"

#define LIB_BUSY_TIMEOUT_MS 2000
#define TITLE_MAX           200
#define NOTES_MAX           10000
#define KEYWORD_MAX         64
#define KEYWORDS_MAX        32
#define LABEL_MAX           80
#define VALUE_MAX           48
#define STMT_CACHE_MAX      256

struct tb_library {
	sqlite3 *db; /* library thread only, after open */
	char *data_dir;
	char *recordings_root; /* realpath of data_dir/recordings */
	tb_worker *worker;
	GMainContext *reply_context;
	GHashTable *stmts; /* SQL text -> sqlite3_stmt*, library thread only */
};

enum task_kind {
	TASK_SEARCH,
	TASK_SESSION,
	TASK_CURATE,
	TASK_RELATED,
	TASK_AUDIT,
	TASK_VOCABULARY,
	TASK_VOCABULARY_ADD,
	TASK_OPEN_RECORDING,
};

typedef struct task {
	enum task_kind kind;
	tb_library *lib;
	char *user;
	tb_role role;
	char *id; /* session id */
	int64_t recording_id;
	int limit;
	/* search */
	tb_library_query query;
	char *q_text, *q_stage, *q_sector, *q_problem, *q_visibility, *q_mentor;
	/* curate, vocabulary add */
	json_t *changes;
	char *kind_name, *value, *label;
	/* answer */
	tb_library_reply reply;
	char message[256];
	char *content_type;
	tb_library_done done;
	void *user_data;
} task;

/* ---- answers ---- */

static void fail(task *t, int code, const char *field, const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void fail(task *t, int code, const char *field, const char *fmt, ...)
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
static void fail_db(task *t, int rc, const char *what)
{
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
		fail(t, TB_EIO, NULL, "the catalog is busy (locked for more than %d ms); retry",
		     LIB_BUSY_TIMEOUT_MS);
		return;
	}
	TB_WARN(CAT, "library: %s: %s", what, sqlite3_errmsg(t->lib->db));
	fail(t, TB_EIO, NULL, "the catalog failed (%s)", sqlite3_errstr(rc));
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
static sqlite3_stmt *prepare(task *t, const char *sql)
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
		fail_db(t, rc, "prepare");
		return NULL;
	}
	g_hash_table_insert(lib->stmts, g_strdup(sql), stmt);
	return stmt;
}

static const char *col_text(sqlite3_stmt *stmt, int i)
{
	return (const char *)sqlite3_column_text(stmt, i);
}

static json_t *col_json_text(sqlite3_stmt *stmt, int i)
{
	const char *s = col_text(stmt, i);

	return s ? json_string(s) : json_null();
}

static json_t *col_json_int(sqlite3_stmt *stmt, int i)
{
	return sqlite3_column_type(stmt, i) == SQLITE_NULL
		       ? json_null()
		       : json_integer(sqlite3_column_int64(stmt, i));
}

/* Keywords are stored "a, b, c": the JSON array. */
static json_t *keywords_json(const char *stored)
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

static bool role_sees_all(tb_role role)
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

	json_object_set_new(row, "session_id", col_json_text(stmt, 0));
	json_object_set_new(row, "title", col_json_text(stmt, 1));
	json_object_set_new(row, "stage", col_json_text(stmt, 2));
	json_object_set_new(row, "sector", col_json_text(stmt, 3));
	json_object_set_new(row, "problem", col_json_text(stmt, 4));
	json_object_set_new(row, "keywords", keywords_json(col_text(stmt, 5)));
	json_object_set_new(row, "visibility", col_json_text(stmt, 6));
	json_object_set_new(row, "started_ms", col_json_int(stmt, 7));
	json_object_set_new(row, "ended_ms", col_json_int(stmt, 8));
	if (sqlite3_column_type(stmt, 8) != SQLITE_NULL)
		json_object_set_new(row, "duration_ms",
				    json_integer(sqlite3_column_int64(stmt, 8) -
						 sqlite3_column_int64(stmt, 7)));
	else
		json_object_set_new(row, "duration_ms", json_null());
	json_object_set_new(row, "room_id", col_json_text(stmt, 9));
	json_object_set_new(row, "kind", col_json_text(stmt, 10));
	if (sqlite3_column_type(stmt, 11) != SQLITE_NULL)
		mentor = json_pack("{s:s?, s:s?}", "user", col_text(stmt, 11), "name",
				   col_text(stmt, 12));
	json_object_set_new(row, "mentor", mentor);
	return row;
}

/* ---- checks ---- */

bool tb_library_session_id_valid(const char *id)
{
	return id && tb_room_id_valid(id);
}

static bool tag_kind_valid(const char *kind)
{
	return kind && (strcmp(kind, "stage") == 0 || strcmp(kind, "sector") == 0 ||
			strcmp(kind, "problem") == 0);
}

/* True if VALUE is in vocabulary KIND; false with the task failed otherwise
 * (TB_EINVAL naming FIELD, or a database error). */
static bool check_tag(task *t, const char *kind, const char *value, const char *field)
{
	sqlite3_stmt *stmt = prepare(t, "SELECT 1 FROM vocabulary WHERE kind = ?1 AND value = ?2");
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
		fail_db(t, rc, "check tag");
		return false;
	}
	fail(t, TB_EINVAL, field, "%s: unknown value '%.64s' (see GET /api/vocabulary)", field,
	     value);
	return false;
}

/* Looks session ID up and applies the access rule: true when the viewer may
 * see it; otherwise the task has failed (TB_ENOENT, TB_EPERM, TB_EIO). */
static bool check_session(task *t, const char *id)
{
	sqlite3_stmt *stmt;
	int rc;
	bool reference, attended;

	if (!tb_library_session_id_valid(id)) {
		fail(t, TB_ENOENT, NULL, "no such session");
		return false;
	}
	stmt = prepare(t, "SELECT c.visibility = 'reference', EXISTS (SELECT 1 FROM attendance a"
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
			fail(t, TB_ENOENT, NULL, "no such session");
		else
			fail_db(t, rc, "read session");
		return false;
	}
	reference = sqlite3_column_int(stmt, 0) != 0;
	attended = sqlite3_column_int(stmt, 1) != 0;
	sqlite3_reset(stmt);
	if (role_sees_all(t->role) || reference || attended)
		return true;
	fail(t, TB_EPERM, NULL, "this session is confidential");
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
char *tb__library_fts_query(const char *text);

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
	if (!role_sees_all(t->role)) {
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
		fail(t, TB_EINVAL, "page", "page: must be an integer from 1 to 1000000");
		return false;
	}
	if (q->per_page < 1 || q->per_page > TB_LIBRARY_PER_PAGE_MAX) {
		fail(t, TB_EINVAL, "per_page", "per_page: must be an integer from 1 to %d",
		     TB_LIBRARY_PER_PAGE_MAX);
		return false;
	}
	if (q->text && strlen(q->text) > TB_LIBRARY_QUERY_MAX) {
		fail(t, TB_EINVAL, "q", "q: at most %d bytes", TB_LIBRARY_QUERY_MAX);
		return false;
	}
	if (q->text && !g_utf8_validate(q->text, -1, NULL)) {
		fail(t, TB_EINVAL, "q", "q: not valid UTF-8");
		return false;
	}
	if (q->visibility && strcmp(q->visibility, "confidential") != 0 &&
	    strcmp(q->visibility, "reference") != 0) {
		fail(t, TB_EINVAL, "visibility", "visibility: must be confidential or reference");
		return false;
	}
	if (q->sort < TB_LIBRARY_SORT_DEFAULT || q->sort > TB_LIBRARY_SORT_DATE_DESC) {
		fail(t, TB_EINVAL, "sort", "sort: must be relevance, date or -date");
		return false;
	}
	if (q->from_ms != TB_LIBRARY_NO_TIME && q->to_ms != TB_LIBRARY_NO_TIME &&
	    q->from_ms > q->to_ms) {
		fail(t, TB_EINVAL, "to", "to: before from");
		return false;
	}
	return (!q->stage || check_tag(t, "stage", q->stage, "stage")) &&
	       (!q->sector || check_tag(t, "sector", q->sector, "sector")) &&
	       (!q->problem || check_tag(t, "problem", q->problem, "problem"));
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
	stmt = prepare(t, sql->str);
	if (!stmt)
		goto out;
	bind_all(stmt, b);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		fail_db(t, rc, "count");
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
	stmt = prepare(t, sql->str);
	if (!stmt)
		goto out;
	bind_all(stmt, b);
	results = json_array();
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		json_array_append_new(results, row_json(stmt));
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		json_decref(results);
		fail_db(t, rc, "search");
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

static json_t *read_list(task *t, const char *sql, const char *id,
			 json_t *(*row)(sqlite3_stmt *stmt))
{
	sqlite3_stmt *stmt = prepare(t, sql);
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
		fail_db(t, rc, "read");
		return NULL;
	}
	return list;
}

static json_t *attendance_row(sqlite3_stmt *s)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "participant_id",
			 col_json_text(s, 0), "user", col_json_text(s, 1), "name",
			 col_json_text(s, 2), "role", col_json_text(s, 3), "joined_ms",
			 col_json_int(s, 4), "left_ms", col_json_int(s, 5), "leave_reason",
			 col_json_text(s, 6));
}

static json_t *participant_row(sqlite3_stmt *s)
{
	return json_pack("{s:o, s:o, s:o, s:o}", "user", col_json_text(s, 0), "name",
			 col_json_text(s, 1), "role", col_json_text(s, 2), "present_ms",
			 col_json_int(s, 3));
}

static json_t *recording_row(sqlite3_stmt *s)
{
	json_t *row = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
				"id", col_json_int(s, 0), "participant_id", col_json_text(s, 1),
				"user", col_json_text(s, 2), "role", col_json_text(s, 3), "kinds",
				col_json_text(s, 4), "codecs", col_json_text(s, 5), "width",
				col_json_int(s, 6), "height", col_json_int(s, 7), "started_ms",
				col_json_int(s, 8), "offset_ms", col_json_int(s, 9), "duration_ms",
				col_json_int(s, 10), "bytes", col_json_int(s, 11), "state",
				col_json_text(s, 12));
	const char *state = col_text(s, 12);

	if (state && (strcmp(state, "complete") == 0 || strcmp(state, "truncated") == 0))
		json_object_set_new(row, "media_url",
				    json_sprintf("/api/recordings/%" G_GINT64_FORMAT "/media",
						 (gint64)sqlite3_column_int64(s, 0)));
	else
		json_object_set_new(row, "media_url", json_null());
	return row;
}

/* Fills the reply's body with session ID (the viewer may see it). */
static void read_session(task *t, const char *id)
{
	sqlite3_stmt *stmt = prepare(t, "SELECT" ROW_COLUMNS
					", s.end_reason, c.notes, c.updated_ms, c.updated_by"
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
			fail(t, TB_ENOENT, NULL, "no such session");
		else
			fail_db(t, rc, "read session");
		return;
	}
	body = row_json(stmt);
	json_object_set_new(body, "id", json_string(id));
	json_object_set_new(body, "end_reason", col_json_text(stmt, ROW_N_COLUMNS));
	json_object_set_new(body, "notes", col_json_text(stmt, ROW_N_COLUMNS + 1));
	json_object_set_new(body, "updated_ms", col_json_int(stmt, ROW_N_COLUMNS + 2));
	json_object_set_new(body, "updated_by", col_json_text(stmt, ROW_N_COLUMNS + 3));
	sqlite3_reset(stmt);

	list = read_list(
		t,
		"SELECT user, min(name), min(role), sum(coalesce(left_ms, joined_ms) - joined_ms)"
		" FROM attendance WHERE session_id = ?1 GROUP BY user ORDER BY min(joined_ms)",
		id, participant_row);
	if (!list)
		goto fail;
	json_object_set_new(body, "participants", list);
	list = read_list(
		t,
		"SELECT participant_id, user, name, role, joined_ms, left_ms, leave_reason"
		" FROM attendance WHERE session_id = ?1 ORDER BY joined_ms, participant_id",
		id, attendance_row);
	if (!list)
		goto fail;
	json_object_set_new(body, "attendance", list);
	list = read_list(t,
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
	if (check_session(t, t->id))
		read_session(t, t->id);
}

/* ---- curation ---- */

static const char *const curated_fields[] = {"title",  "notes",   "keywords",  "stage",
					     "sector", "problem", "visibility"};

/* Normalises a keywords array into the stored text ("a, b"): trimmed,
 * lowercase, no duplicates. NULL with the task failed when invalid. */
static char *keywords_text(task *t, json_t *array)
{
	GString *out;
	GPtrArray *seen;
	size_t i;
	json_t *v;

	if (!json_is_array(array) || json_array_size(array) > KEYWORDS_MAX) {
		fail(t, TB_EINVAL, "keywords", "keywords: an array of at most %d strings",
		     KEYWORDS_MAX);
		return NULL;
	}
	out = g_string_new(NULL);
	seen = g_ptr_array_new_with_free_func(g_free);
	json_array_foreach(array, i, v)
	{
		const char *s = json_string_value(v);
		char *k;

		if (!s || !g_utf8_validate(s, -1, NULL) || strchr(s, ',')) {
			fail(t, TB_EINVAL, "keywords", "keywords: each is a string without commas");
			goto fail;
		}
		k = g_utf8_strdown(s, -1);
		g_strstrip(k);
		if (!*k || strlen(k) > KEYWORD_MAX) {
			g_free(k);
			fail(t, TB_EINVAL, "keywords", "keywords: each is 1 to %d bytes",
			     KEYWORD_MAX);
			goto fail;
		}
		if (g_ptr_array_find_with_equal_func(seen, k, g_str_equal, NULL)) {
			g_free(k);
			continue;
		}
		if (out->len)
			g_string_append(out, ", ");
		g_string_append(out, k);
		g_ptr_array_add(seen, k);
	}
	g_ptr_array_unref(seen);
	return g_string_free(out, FALSE);
fail:
	g_ptr_array_unref(seen);
	g_string_free(out, TRUE);
	return NULL;
}

/* Validates one field of CHANGES into its stored value (*OUT, transfer
 * full; NULL for a cleared tag). False with the task failed otherwise. */
static bool curated_value(task *t, const char *field, json_t *v, char **out)
{
	const char *s = json_string_value(v);

	*out = NULL;
	if (strcmp(field, "keywords") == 0) {
		*out = keywords_text(t, v);
		return *out != NULL;
	}
	if (tag_kind_valid(field) && json_is_null(v))
		return true;
	if (!s || !g_utf8_validate(s, -1, NULL)) {
		fail(t, TB_EINVAL, field, "%s: must be a string%s", field,
		     tag_kind_valid(field) ? " or null" : "");
		return false;
	}
	if (strcmp(field, "title") == 0 && strlen(s) > TITLE_MAX) {
		fail(t, TB_EINVAL, field, "title: at most %d bytes", TITLE_MAX);
		return false;
	}
	if (strcmp(field, "notes") == 0 && strlen(s) > NOTES_MAX) {
		fail(t, TB_EINVAL, field, "notes: at most %d bytes", NOTES_MAX);
		return false;
	}
	if (strcmp(field, "visibility") == 0 && strcmp(s, "confidential") != 0 &&
	    strcmp(s, "reference") != 0) {
		fail(t, TB_EINVAL, field, "visibility: must be confidential or reference");
		return false;
	}
	if (tag_kind_valid(field) && !check_tag(t, field, s, field))
		return false;
	*out = g_strdup(s);
	return true;
}

/* Reads the stored value of FIELD (a column name from curated_fields). */
static bool stored_value(task *t, const char *field, char **out)
{
	char sql[96];
	sqlite3_stmt *stmt;
	int rc;

	g_snprintf(sql, sizeof sql, "SELECT %s FROM curation WHERE session_id = ?1", field);
	stmt = prepare(t, sql);
	if (!stmt)
		return false;
	sqlite3_bind_text(stmt, 1, t->id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	*out = rc == SQLITE_ROW ? g_strdup(col_text(stmt, 0)) : NULL;
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW) {
		fail_db(t, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "read curation");
		return false;
	}
	return true;
}

static bool exec_step(task *t, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (rc != SQLITE_DONE) {
		fail_db(t, rc, what);
		return false;
	}
	return true;
}

static bool exec_simple(task *t, const char *sql)
{
	sqlite3_stmt *stmt = prepare(t, sql);

	return stmt && exec_step(t, stmt, sql);
}

static bool audit(task *t, int64_t now_ms, const char *session_id, const char *field,
		  const char *old_value, const char *new_value)
{
	sqlite3_stmt *stmt =
		prepare(t, "INSERT INTO audit(at_ms, user, role, session_id, field,"
			   " old_value, new_value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");

	if (!stmt)
		return false;
	sqlite3_bind_int64(stmt, 1, now_ms);
	sqlite3_bind_text(stmt, 2, t->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, tb_role_to_string(t->role), -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, session_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, field, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, old_value, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 7, new_value, -1, SQLITE_STATIC);
	return exec_step(t, stmt, "audit");
}

/* Writes one changed field and its audit row. */
static bool write_field(task *t, int64_t now_ms, const char *field, const char *value)
{
	char sql[128];
	char *old = NULL;
	sqlite3_stmt *stmt;
	bool ok = false;

	if (!stored_value(t, field, &old))
		return false;
	if (g_strcmp0(old, value) == 0) {
		ok = true;
		goto out;
	}
	g_snprintf(sql, sizeof sql,
		   "UPDATE curation SET %s = ?1, updated_ms = ?2, updated_by = ?3"
		   " WHERE session_id = ?4",
		   field);
	stmt = prepare(t, sql);
	if (!stmt)
		goto out;
	sqlite3_bind_text(stmt, 1, value, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now_ms);
	sqlite3_bind_text(stmt, 3, t->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, t->id, -1, SQLITE_STATIC);
	ok = exec_step(t, stmt, "update curation") && audit(t, now_ms, t->id, field, old, value);
out:
	g_free(old);
	return ok;
}

static void run_curate(task *t)
{
	const char *key;
	json_t *v;
	char *values[G_N_ELEMENTS(curated_fields)] = {0};
	bool present[G_N_ELEMENTS(curated_fields)] = {0};
	int64_t now_ms = g_get_real_time() / 1000;
	bool in_transaction = false;

	if (!role_sees_all(t->role)) {
		fail(t, TB_EPERM, NULL, "only curators and admins curate sessions");
		return;
	}
	if (!check_session(t, t->id))
		return;
	if (!json_is_object(t->changes)) {
		fail(t, TB_EINVAL, NULL, "the body must be a JSON object");
		return;
	}
	/* Validate everything first: a bad field changes nothing. */
	json_object_foreach(t->changes, key, v)
	{
		size_t i;

		for (i = 0; i < G_N_ELEMENTS(curated_fields); i++)
			if (strcmp(key, curated_fields[i]) == 0)
				break;
		if (i == G_N_ELEMENTS(curated_fields)) {
			fail(t, TB_EINVAL, NULL,
			     "unknown field '%.64s' (title, notes, keywords,"
			     " stage, sector, problem, visibility)",
			     key);
			/* field: the key itself, which lives in CHANGES */
			t->reply.field = key;
			goto out;
		}
		if (!curated_value(t, curated_fields[i], v, &values[i]))
			goto out;
		present[i] = true;
	}
	if (!exec_simple(t, "BEGIN IMMEDIATE"))
		goto out;
	in_transaction = true;
	for (size_t i = 0; i < G_N_ELEMENTS(curated_fields); i++)
		if (present[i] && !write_field(t, now_ms, curated_fields[i], values[i]))
			goto out;
	if (!exec_simple(t, "COMMIT"))
		goto out;
	in_transaction = false;
	read_session(t, t->id);
out:
	if (in_transaction && !sqlite3_get_autocommit(t->lib->db))
		sqlite3_exec(t->lib->db, "ROLLBACK", NULL, NULL, NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(curated_fields); i++)
		g_free(values[i]);
}

/* ---- related ---- */

static void run_related(task *t)
{
	sqlite3_stmt *stmt = NULL;
	json_t *results, *mine;
	char *keywords = NULL, *mine_text;
	int rc;

	if (t->limit < 1 || t->limit > 50) {
		fail(t, TB_EINVAL, "limit", "limit: must be an integer from 1 to 50");
		return;
	}
	if (!check_session(t, t->id) || !stored_value(t, "keywords", &keywords))
		return;
	mine = keywords_json(keywords);
	mine_text = json_dumps(mine, JSON_COMPACT);
	/* Tags weigh 4 (problem), 2 (sector), 1 (stage): all three first, then
	 * problem and sector, ...; keyword overlap breaks ties. Reference
	 * sessions only, which every viewer may see. */
	stmt = prepare(t,
		       "WITH me AS (SELECT stage, sector, problem, keywords FROM curation"
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
		fail_db(t, rc, "related");
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

/* ---- audit ---- */

static json_t *audit_row(sqlite3_stmt *s)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "at_ms", col_json_int(s, 0), "user",
			 col_json_text(s, 1), "role", col_json_text(s, 2), "field",
			 col_json_text(s, 3), "old", col_json_text(s, 4), "new",
			 col_json_text(s, 5));
}

static void run_audit(task *t)
{
	json_t *entries;

	if (!role_sees_all(t->role)) {
		fail(t, TB_EPERM, NULL, "only curators and admins read the audit");
		return;
	}
	if (!check_session(t, t->id))
		return;
	entries = read_list(t,
			    "SELECT at_ms, user, role, field, old_value, new_value FROM audit"
			    " WHERE session_id = ?1 ORDER BY id",
			    t->id, audit_row);
	if (entries)
		t->reply.body = json_pack("{s:s, s:o}", "session_id", t->id, "entries", entries);
}

/* ---- vocabulary ---- */

static void run_vocabulary(task *t)
{
	sqlite3_stmt *stmt = prepare(t, "SELECT kind, value, label FROM vocabulary"
					" ORDER BY rowid");
	json_t *body;
	int rc;

	if (!stmt)
		return;
	body = json_pack("{s:[], s:[], s:[]}", "stage", "sector", "problem");
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		json_t *list = json_object_get(body, col_text(stmt, 0));
		if (list)
			json_array_append_new(list,
					      json_pack("{s:s, s:s}", "value", col_text(stmt, 1),
							"label", col_text(stmt, 2)));
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		json_decref(body);
		fail_db(t, rc, "vocabulary");
		return;
	}
	t->reply.body = body;
}

static bool slug_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > VALUE_MAX || !g_ascii_isalnum(s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(g_ascii_islower(s[i]) || g_ascii_isdigit(s[i]) || s[i] == '-'))
			return false;
	return true;
}

static void run_vocabulary_add(task *t)
{
	sqlite3_stmt *stmt;
	int64_t now_ms = g_get_real_time() / 1000;
	char field[32];
	int rc;

	if (!role_sees_all(t->role)) {
		fail(t, TB_EPERM, NULL, "only curators and admins extend the vocabulary");
		return;
	}
	if (!tag_kind_valid(t->kind_name)) {
		fail(t, TB_ENOENT, NULL, "no such vocabulary: use stage, sector or problem");
		return;
	}
	if (!slug_valid(t->value)) {
		fail(t, TB_EINVAL, "value",
		     "value: 1 to %d of a-z 0-9 -, starting with a letter or digit", VALUE_MAX);
		return;
	}
	if (!t->label || !*t->label || strlen(t->label) > LABEL_MAX ||
	    !g_utf8_validate(t->label, -1, NULL)) {
		fail(t, TB_EINVAL, "label", "label: 1 to %d bytes of text", LABEL_MAX);
		return;
	}
	if (!exec_simple(t, "BEGIN IMMEDIATE"))
		return;
	stmt = prepare(t, "INSERT INTO vocabulary(kind, value, label, created_ms, created_by)"
			  " VALUES (?1, ?2, ?3, ?4, ?5)");
	if (!stmt)
		goto fail;
	sqlite3_bind_text(stmt, 1, t->kind_name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, t->value, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, t->label, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, now_ms);
	sqlite3_bind_text(stmt, 5, t->user, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (rc == SQLITE_CONSTRAINT) {
		fail(t, TB_EEXIST, "value", "%s '%s' exists already", t->kind_name, t->value);
		goto fail;
	}
	if (rc != SQLITE_DONE) {
		fail_db(t, rc, "add vocabulary");
		goto fail;
	}
	g_snprintf(field, sizeof field, "vocabulary.%s", t->kind_name);
	if (!audit(t, now_ms, NULL, field, NULL, t->value) || !exec_simple(t, "COMMIT"))
		goto fail;
	t->reply.body = json_pack("{s:s, s:s, s:s}", "kind", t->kind_name, "value", t->value,
				  "label", t->label);
	return;
fail:
	if (!sqlite3_get_autocommit(t->lib->db))
		sqlite3_exec(t->lib->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- recordings ---- */

static void run_open_recording(task *t)
{
	sqlite3_stmt *stmt = prepare(t, "SELECT path, state, session_id FROM recordings"
					" WHERE id = ?1");
	char *path = NULL, *state = NULL, *session_id = NULL, *abs = NULL, *real = NULL;
	struct stat st;
	int rc, fd = -1;

	if (!stmt)
		return;
	sqlite3_bind_int64(stmt, 1, t->recording_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		path = g_strdup(col_text(stmt, 0));
		state = g_strdup(col_text(stmt, 1));
		session_id = g_strdup(col_text(stmt, 2));
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			fail(t, TB_ENOENT, NULL, "no such recording");
		else
			fail_db(t, rc, "read recording");
		goto out;
	}
	if (!check_session(t, session_id)) {
		if (t->reply.code == TB_EPERM)
			fail(t, TB_EPERM, NULL, "this recording's session is confidential");
		goto out;
	}
	if (strcmp(state, "complete") != 0 && strcmp(state, "truncated") != 0) {
		fail(t, TB_ECONFLICT, NULL,
		     strcmp(state, "recording") == 0
			     ? "this recording is still being made; it plays once the session ends"
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
		fail(t, TB_ENOENT, NULL, "the file of this recording is missing");
		goto out;
	}
	fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		fail(t, TB_ENOENT, NULL, "the file of this recording is missing");
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
		run_curate(t);
		break;
	case TASK_RELATED:
		run_related(t);
		break;
	case TASK_AUDIT:
		run_audit(t);
		break;
	case TASK_VOCABULARY:
		run_vocabulary(t);
		break;
	case TASK_VOCABULARY_ADD:
		run_vocabulary_add(t);
		break;
	case TASK_OPEN_RECORDING:
		run_open_recording(t);
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

static task *task_new(tb_library *lib, enum task_kind kind, const tb_library_viewer *viewer,
		      tb_library_done done, void *user_data)
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

static void post_session_task(tb_library *lib, enum task_kind kind, const tb_library_viewer *viewer,
			      const char *session_id, int limit, const json_t *changes,
			      tb_library_done done, void *user_data)
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
