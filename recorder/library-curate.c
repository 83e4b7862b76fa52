/* library-curate.c — the library's writes: curation of a session, its audit
 * rows, and the tag vocabularies.
 *
 * Library thread (library.c posts the tasks). Every change is validated
 * whole before anything is written, then written with its audit rows in one
 * IMMEDIATE transaction on the library's connection; a catalog locked for
 * longer than the busy timeout fails the task (TB_EIO), never hangs it.
 *
 * It does not decide who may see a session (library.c's check does).
 */
#include "library-private.h"

#include <string.h>

#define TITLE_MAX    200
#define NOTES_MAX    10000
#define KEYWORD_MAX  64
#define KEYWORDS_MAX 32
#define LABEL_MAX    80
#define VALUE_MAX    48

typedef tb_library_task task;

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
		tb__library_fail(t, TB_EINVAL, "keywords",
				 "keywords: an array of at most %d strings", KEYWORDS_MAX);
		return NULL;
	}
	out = g_string_new(NULL);
	seen = g_ptr_array_new_with_free_func(g_free);
	json_array_foreach(array, i, v)
	{
		const char *s = json_string_value(v);
		char *k;

		if (!s || !g_utf8_validate(s, -1, NULL) || strchr(s, ',')) {
			tb__library_fail(t, TB_EINVAL, "keywords",
					 "keywords: each is a string without commas");
			goto fail;
		}
		k = g_utf8_strdown(s, -1);
		g_strstrip(k);
		if (!*k || strlen(k) > KEYWORD_MAX) {
			g_free(k);
			tb__library_fail(t, TB_EINVAL, "keywords",
					 "keywords: each is 1 to %d bytes", KEYWORD_MAX);
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
	if (tb__library_tag_kind_valid(field) && json_is_null(v))
		return true;
	if (!s || !g_utf8_validate(s, -1, NULL)) {
		tb__library_fail(t, TB_EINVAL, field, "%s: must be a string%s", field,
				 tb__library_tag_kind_valid(field) ? " or null" : "");
		return false;
	}
	if (strcmp(field, "title") == 0 && strlen(s) > TITLE_MAX) {
		tb__library_fail(t, TB_EINVAL, field, "title: at most %d bytes", TITLE_MAX);
		return false;
	}
	if (strcmp(field, "notes") == 0 && strlen(s) > NOTES_MAX) {
		tb__library_fail(t, TB_EINVAL, field, "notes: at most %d bytes", NOTES_MAX);
		return false;
	}
	if (strcmp(field, "visibility") == 0 && strcmp(s, "confidential") != 0 &&
	    strcmp(s, "reference") != 0) {
		tb__library_fail(t, TB_EINVAL, field,
				 "visibility: must be confidential or reference");
		return false;
	}
	if (tb__library_tag_kind_valid(field) && !tb__library_check_tag(t, field, s, field))
		return false;
	*out = g_strdup(s);
	return true;
}

/* Reads the stored value of FIELD (a column name from curated_fields). */
bool tb__library_stored_value(task *t, const char *field, char **out)
{
	char sql[96];
	sqlite3_stmt *stmt;
	int rc;

	g_snprintf(sql, sizeof sql, "SELECT %s FROM curation WHERE session_id = ?1", field);
	stmt = tb__library_prepare(t, sql);
	if (!stmt)
		return false;
	sqlite3_bind_text(stmt, 1, t->id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	*out = rc == SQLITE_ROW ? g_strdup(tb__library_col_text(stmt, 0)) : NULL;
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW) {
		tb__library_fail_db(t, rc == SQLITE_DONE ? SQLITE_ERROR : rc, "read curation");
		return false;
	}
	return true;
}

bool tb__library_exec_step(task *t, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	if (rc != SQLITE_DONE) {
		tb__library_fail_db(t, rc, what);
		return false;
	}
	return true;
}

bool tb__library_exec_simple(task *t, const char *sql)
{
	sqlite3_stmt *stmt = tb__library_prepare(t, sql);

	return stmt && tb__library_exec_step(t, stmt, sql);
}

static bool audit(task *t, int64_t now_ms, const char *session_id, const char *field,
		  const char *old_value, const char *new_value)
{
	sqlite3_stmt *stmt = tb__library_prepare(
		t, "INSERT INTO audit(at_ms, user, role, session_id, field,"
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
	return tb__library_exec_step(t, stmt, "audit");
}

/* Writes one changed field and its audit row. */
static bool write_field(task *t, int64_t now_ms, const char *field, const char *value)
{
	char sql[128];
	char *old = NULL;
	sqlite3_stmt *stmt;
	bool ok = false;

	if (!tb__library_stored_value(t, field, &old))
		return false;
	if (g_strcmp0(old, value) == 0) {
		ok = true;
		goto out;
	}
	g_snprintf(sql, sizeof sql,
		   "UPDATE curation SET %s = ?1, updated_ms = ?2, updated_by = ?3"
		   " WHERE session_id = ?4",
		   field);
	stmt = tb__library_prepare(t, sql);
	if (!stmt)
		goto out;
	sqlite3_bind_text(stmt, 1, value, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, now_ms);
	sqlite3_bind_text(stmt, 3, t->user, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, t->id, -1, SQLITE_STATIC);
	ok = tb__library_exec_step(t, stmt, "update curation") &&
	     audit(t, now_ms, t->id, field, old, value);
out:
	g_free(old);
	return ok;
}

void tb__library_run_curate(task *t)
{
	const char *key;
	json_t *v;
	char *values[G_N_ELEMENTS(curated_fields)] = {0};
	bool present[G_N_ELEMENTS(curated_fields)] = {0};
	int64_t now_ms = g_get_real_time() / 1000;
	bool in_transaction = false;

	if (!tb__library_sees_all(t->role)) {
		tb__library_fail(t, TB_EPERM, NULL, "only curators and admins curate sessions");
		return;
	}
	if (!tb__library_check_session(t, t->id))
		return;
	if (!json_is_object(t->changes)) {
		tb__library_fail(t, TB_EINVAL, NULL, "the body must be a JSON object");
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
			tb__library_fail(t, TB_EINVAL, NULL,
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
	if (!tb__library_exec_simple(t, "BEGIN IMMEDIATE"))
		goto out;
	in_transaction = true;
	for (size_t i = 0; i < G_N_ELEMENTS(curated_fields); i++)
		if (present[i] && !write_field(t, now_ms, curated_fields[i], values[i]))
			goto out;
	if (!tb__library_exec_simple(t, "COMMIT"))
		goto out;
	in_transaction = false;
	tb__library_read_session(t, t->id);
out:
	if (in_transaction && !sqlite3_get_autocommit(t->lib->db))
		sqlite3_exec(t->lib->db, "ROLLBACK", NULL, NULL, NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(curated_fields); i++)
		g_free(values[i]);
}

/* ---- audit ---- */

static json_t *audit_row(sqlite3_stmt *s)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "at_ms", tb__library_col_json_int(s, 0),
			 "user", tb__library_col_json_text(s, 1), "role",
			 tb__library_col_json_text(s, 2), "field", tb__library_col_json_text(s, 3),
			 "old", tb__library_col_json_text(s, 4), "new",
			 tb__library_col_json_text(s, 5));
}

void tb__library_run_audit(task *t)
{
	json_t *entries;

	if (!tb__library_sees_all(t->role)) {
		tb__library_fail(t, TB_EPERM, NULL, "only curators and admins read the audit");
		return;
	}
	if (!tb__library_check_session(t, t->id))
		return;
	entries = tb__library_read_list(
		t,
		"SELECT at_ms, user, role, field, old_value, new_value FROM audit"
		" WHERE session_id = ?1 ORDER BY id",
		t->id, audit_row);
	if (entries)
		t->reply.body = json_pack("{s:s, s:o}", "session_id", t->id, "entries", entries);
}

/* ---- vocabulary ---- */

void tb__library_run_vocabulary(task *t)
{
	sqlite3_stmt *stmt = tb__library_prepare(t, "SELECT kind, value, label FROM vocabulary"
						    " ORDER BY rowid");
	json_t *body;
	int rc;

	if (!stmt)
		return;
	body = json_pack("{s:[], s:[], s:[]}", "stage", "sector", "problem");
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		json_t *list = json_object_get(body, tb__library_col_text(stmt, 0));
		if (list)
			json_array_append_new(list,
					      json_pack("{s:s, s:s}", "value",
							tb__library_col_text(stmt, 1), "label",
							tb__library_col_text(stmt, 2)));
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		json_decref(body);
		tb__library_fail_db(t, rc, "vocabulary");
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

void tb__library_run_vocabulary_add(task *t)
{
	sqlite3_stmt *stmt;
	int64_t now_ms = g_get_real_time() / 1000;
	char field[32];
	int rc;

	if (!tb__library_sees_all(t->role)) {
		tb__library_fail(t, TB_EPERM, NULL,
				 "only curators and admins extend the vocabulary");
		return;
	}
	if (!tb__library_tag_kind_valid(t->kind_name)) {
		tb__library_fail(t, TB_ENOENT, NULL,
				 "no such vocabulary: use stage, sector or problem");
		return;
	}
	if (!slug_valid(t->value)) {
		tb__library_fail(t, TB_EINVAL, "value",
				 "value: 1 to %d of a-z 0-9 -, starting with a letter or digit",
				 VALUE_MAX);
		return;
	}
	if (!t->label || !*t->label || strlen(t->label) > LABEL_MAX ||
	    !g_utf8_validate(t->label, -1, NULL)) {
		tb__library_fail(t, TB_EINVAL, "label", "label: 1 to %d bytes of text", LABEL_MAX);
		return;
	}
	if (!tb__library_exec_simple(t, "BEGIN IMMEDIATE"))
		return;
	stmt = tb__library_prepare(
		t, "INSERT INTO vocabulary(kind, value, label, created_ms, created_by)"
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
		tb__library_fail(t, TB_EEXIST, "value", "%s '%s' exists already", t->kind_name,
				 t->value);
		goto fail;
	}
	if (rc != SQLITE_DONE) {
		tb__library_fail_db(t, rc, "add vocabulary");
		goto fail;
	}
	g_snprintf(field, sizeof field, "vocabulary.%s", t->kind_name);
	if (!audit(t, now_ms, NULL, field, NULL, t->value) || !tb__library_exec_simple(t, "COMMIT"))
		goto fail;
	t->reply.body = json_pack("{s:s, s:s, s:s}", "kind", t->kind_name, "value", t->value,
				  "label", t->label);
	return;
fail:
	if (!sqlite3_get_autocommit(t->lib->db))
		sqlite3_exec(t->lib->db, "ROLLBACK", NULL, NULL, NULL);
}
