/* test-library.c — the curator library over a real catalog: search (text,
 * filters, pagination, sort), related sessions, access rules per role,
 * curation and its audit rows, vocabulary, recordings to play, bad input and
 * a locked catalog.
 *
 * Each test makes its own data dir, fills the catalog through the catalog's
 * own queued writes (as tribud does), then asks the library and waits for
 * its answer on the default main context.
 */
#include "catalog-private.h"
#include "library.h"
#include "recorder.h"

#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	char *dir;
	char *db_path;
	tb_catalog *cat;
	tb_library *lib;
} fixture;

typedef struct {
	bool done;
	int code;
	char *field;
	char *message;
	json_t *body;
	int fd;
	int64_t size;
	char *content_type;
} answer;

static const tb_library_viewer curator = {"cora", TB_ROLE_CURATOR};
static const tb_library_viewer admin = {"root", TB_ROLE_ADMIN};

static void on_answer(tb_library_reply *r, void *user_data)
{
	answer *a = user_data;

	g_assert_false(a->done);
	a->done = true;
	a->code = r->code;
	a->field = g_strdup(r->field);
	a->message = g_strdup(r->message);
	a->body = r->body ? json_incref(r->body) : NULL;
	a->fd = r->fd;
	r->fd = -1;
	a->size = r->size;
	a->content_type = g_strdup(r->content_type);
}

static void answer_clear(answer *a)
{
	g_free(a->field);
	g_free(a->message);
	json_decref(a->body);
	if (a->fd >= 0)
		close(a->fd);
	g_free(a->content_type);
	memset(a, 0, sizeof *a);
}

static void wait_answer(answer *a)
{
	int64_t deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;

	while (!a->done) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_main_context_iteration(NULL, TRUE);
	}
}

/* ---- setup: six sessions ---- */

static void add_session(tb_catalog *cat, const char *id, int64_t start, const char *mentor,
			const char *student)
{
	char pid[32];

	tb_catalog_session_begin(cat, id, "room", "coaching", start);
	g_snprintf(pid, sizeof pid, "%s-m", id);
	tb_catalog_attendance_join(cat, id, pid, mentor, mentor, "mentor", start);
	tb_catalog_attendance_leave(cat, id, pid, start + 60000, "left");
	g_snprintf(pid, sizeof pid, "%s-s", id);
	tb_catalog_attendance_join(cat, id, pid, student, student, "student", start + 1000);
	tb_catalog_attendance_leave(cat, id, pid, start + 50000, "left");
	tb_catalog_session_end(cat, id, start + 60000);
}

static void curate(fixture *f, const char *id, const char *json)
{
	answer a = {0};
	json_t *changes = json_loads(json, 0, NULL);

	g_assert_nonnull(changes);
	tb_library_curate(f->lib, &curator, id, changes, on_answer, &a);
	json_decref(changes);
	wait_answer(&a);
	if (a.code != 0)
		g_error("curate %s: %s", id, a.message);
	answer_clear(&a);
}

static void fixture_setup(fixture *f, gconstpointer data)
{
	GError *error = NULL;
	char *recordings;

	f->dir = g_dir_make_tmp("tribu-library-XXXXXX", &error);
	g_assert_no_error(error);
	recordings = g_build_filename(f->dir, "recordings", "s1", NULL);
	g_assert_cmpint(g_mkdir_with_parents(recordings, 0700), ==, 0);
	g_free(recordings);
	f->db_path = g_build_filename(f->dir, "tribu.db", NULL);
	f->cat = tb_catalog_open(f->db_path, &error);
	g_assert_no_error(error);
	/* s1..s6, one minute apart; mentors alice and dave. */
	add_session(f->cat, "s1", 1000000, "alice", "bob");
	add_session(f->cat, "s2", 2000000, "alice", "carol");
	add_session(f->cat, "s3", 3000000, "dave", "bob");
	add_session(f->cat, "s4", 4000000, "dave", "erin");
	add_session(f->cat, "s5", 5000000, "dave", "frank");
	add_session(f->cat, "s6", 6000000, "alice", "gina");
	tb_catalog_flush(f->cat);
	g_assert_cmpuint(tb_catalog_error_count(f->cat), ==, 0);
	f->lib = tb_library_open(f->db_path, f->dir, NULL, &error);
	g_assert_no_error(error);

	curate(f, "s1",
	       "{\"title\": \"Pricing a food truck menu\", \"stage\": \"idea\","
	       " \"sector\": \"food\", \"problem\": \"pricing\","
	       " \"keywords\": [\"Pricing\", \"menu\", \"pricing\"],"
	       " \"notes\": \"Cost plus margin, then test.\", \"visibility\": \"reference\"}");
	curate(f, "s2",
	       "{\"title\": \"Carol and her bakery prices\", \"stage\": \"launching\","
	       " \"sector\": \"food\", \"problem\": \"pricing\", \"keywords\": [\"bakery\"]}");
	curate(f, "s3",
	       "{\"title\": \"Pricing street food\", \"stage\": \"idea\","
	       " \"sector\": \"food\", \"problem\": \"pricing\", \"keywords\": [\"pricing\"],"
	       " \"visibility\": \"reference\"}");
	curate(f, "s4",
	       "{\"title\": \"Instagram for a restaurant\", \"sector\": \"food\","
	       " \"problem\": \"social-media\", \"keywords\": [\"menu\", \"instagram\"],"
	       " \"visibility\": \"reference\"}");
	curate(f, "s5",
	       "{\"title\": \"Writing a landing page\", \"sector\": \"tech\","
	       " \"problem\": \"copywriting\", \"visibility\": \"reference\"}");
	curate(f, "s6",
	       "{\"title\": \"Gina pricing her food stall\", \"stage\": \"idea\","
	       " \"sector\": \"food\", \"problem\": \"pricing\"}");
}

static void remove_tree(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *name;

	if (!d) {
		g_assert_cmpint(g_unlink(path), ==, 0);
		return;
	}
	while ((name = g_dir_read_name(d))) {
		char *child = g_build_filename(path, name, NULL);
		remove_tree(child);
		g_free(child);
	}
	g_dir_close(d);
	g_assert_cmpint(g_rmdir(path), ==, 0);
}

static void fixture_teardown(fixture *f, gconstpointer data)
{
	tb_library_close(f->lib);
	/* Answers posted during close still run here. */
	while (g_main_context_iteration(NULL, FALSE))
		;
	tb_catalog_close(f->cat);
	remove_tree(f->dir);
	g_free(f->db_path);
	g_free(f->dir);
}

/* ---- helpers ---- */

static tb_library_query query_new(void)
{
	tb_library_query q = {0};

	q.from_ms = q.to_ms = TB_LIBRARY_NO_TIME;
	return q;
}

/* The session ids of a search, in order, joined by ','. */
static char *ids_of(json_t *results)
{
	GString *out = g_string_new(NULL);
	size_t i;
	json_t *row;

	json_array_foreach(results, i, row)
	{
		g_string_append_printf(out, "%s%s", i ? "," : "",
				       json_string_value(json_object_get(row, "session_id")));
	}
	return g_string_free(out, FALSE);
}

/* Runs a search; asserts success; returns "ids" and sets *TOTAL. */
static char *search(fixture *f, const tb_library_viewer *v, const tb_library_query *q,
		    int64_t *total)
{
	answer a = {0};
	char *ids;

	tb_library_search(f->lib, v, q, on_answer, &a);
	wait_answer(&a);
	if (a.code != 0)
		g_error("search: %s", a.message);
	if (total)
		*total = json_integer_value(json_object_get(a.body, "total"));
	ids = ids_of(json_object_get(a.body, "results"));
	answer_clear(&a);
	return ids;
}

static void assert_search(fixture *f, const tb_library_viewer *v, const tb_library_query *q,
			  const char *expected, int64_t expected_total)
{
	int64_t total = -1;
	char *ids = search(f, v, q, &total);

	g_assert_cmpstr(ids, ==, expected);
	g_assert_cmpint(total, ==, expected_total);
	g_free(ids);
}

static void assert_search_fails(fixture *f, const tb_library_viewer *v, const tb_library_query *q,
				int code, const char *field)
{
	answer a = {0};

	tb_library_search(f->lib, v, q, on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, code);
	g_assert_cmpstr(a.field, ==, field);
	g_assert_null(a.body);
	answer_clear(&a);
}

static char *raw_text(fixture *f, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	GString *out = g_string_new(NULL);

	g_assert_cmpint(sqlite3_open_v2(f->db_path, &db, SQLITE_OPEN_READWRITE, NULL), ==, 0);
	sqlite3_busy_timeout(db, 5000);
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		if (out->len)
			g_string_append_c(out, '\n');
		for (int i = 0; i < sqlite3_column_count(stmt); i++) {
			const char *t = (const char *)sqlite3_column_text(stmt, i);
			g_string_append_printf(out, "%s%s", i ? "|" : "", t ? t : "NULL");
		}
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return g_string_free(out, FALSE);
}

static void raw_exec(fixture *f, const char *sql)
{
	sqlite3 *db;

	g_assert_cmpint(sqlite3_open_v2(f->db_path, &db, SQLITE_OPEN_READWRITE, NULL), ==, 0);
	sqlite3_busy_timeout(db, 5000);
	g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);
}

/* ---- tests ---- */

static void test_search_text(fixture *f, gconstpointer data)
{
	tb_library_query q = query_new();

	/* Relevance: a word in the title counts more than one in keywords only. */
	q.text = "menu";
	assert_search(f, &curator, &q, "s1,s4", 2);
	q.text = "instagram";
	assert_search(f, &curator, &q, "s4", 1);
	/* Every word is required; the last one as a prefix. */
	q.text = "food pric";
	q.sort = TB_LIBRARY_SORT_DATE;
	assert_search(f, &curator, &q, "s1,s3,s6", 3);
	q.sort = TB_LIBRARY_SORT_DEFAULT;
	/* Notes are searched; case and accents do not matter. */
	q.text = "MARGÍN";
	assert_search(f, &curator, &q, "s1", 1);
	/* FTS5 syntax from outside is only text. */
	q.text = "\"pricing\" OR NEAR(menu AND";
	assert_search(f, &curator, &q, "", 0);
	q.text = "*:-()^";
	assert_search(f, &curator, &q, "", 0);
	/* Sort by date either way. */
	q.text = "pricing";
	q.sort = TB_LIBRARY_SORT_DATE;
	assert_search(f, &curator, &q, "s1,s3,s6", 3);
	q.sort = TB_LIBRARY_SORT_DATE_DESC;
	assert_search(f, &curator, &q, "s6,s3,s1", 3);
	/* A prefix of the last word: "pric" finds "prices" too. */
	q.text = "pric";
	assert_search(f, &curator, &q, "s6,s3,s2,s1", 4);
	/* Not from one or two characters: "pr" is a whole word, and none. */
	q.text = "pr";
	assert_search(f, &curator, &q, "", 0);
}

static void test_search_filters(fixture *f, gconstpointer data)
{
	tb_library_query q = query_new();

	q.stage = "idea";
	q.sector = "food";
	assert_search(f, &curator, &q, "s6,s3,s1", 3);
	q.text = "street";
	assert_search(f, &curator, &q, "s3", 1);
	q = query_new();
	q.visibility = "reference";
	assert_search(f, &curator, &q, "s5,s4,s3,s1", 4);
	q = query_new();
	q.mentor = "alice";
	assert_search(f, &curator, &q, "s6,s2,s1", 3);
	q.from_ms = 2000000;
	q.to_ms = 6000000;
	assert_search(f, &curator, &q, "s2", 1);
	q = query_new();
	q.problem = "social-media";
	assert_search(f, &curator, &q, "s4", 1);
}

static void test_search_rows(fixture *f, gconstpointer data)
{
	tb_library_query q = query_new();
	answer a = {0};
	json_t *row;

	q.text = "truck";
	tb_library_search(f->lib, &curator, &q, on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, 0);
	row = json_array_get(json_object_get(a.body, "results"), 0);
	g_assert_cmpstr(json_string_value(json_object_get(row, "title")), ==,
			"Pricing a food truck menu");
	g_assert_cmpstr(json_string_value(json_object_get(row, "problem")), ==, "pricing");
	g_assert_cmpstr(json_string_value(json_object_get(row, "visibility")), ==, "reference");
	g_assert_cmpint(json_integer_value(json_object_get(row, "started_ms")), ==, 1000000);
	g_assert_cmpint(json_integer_value(json_object_get(row, "duration_ms")), ==, 60000);
	/* Keywords: lowercase, once each, in order. */
	g_assert_cmpuint(json_array_size(json_object_get(row, "keywords")), ==, 2);
	g_assert_cmpstr(json_string_value(json_array_get(json_object_get(row, "keywords"), 0)), ==,
			"pricing");
	g_assert_cmpstr(json_string_value(json_object_get(json_object_get(row, "mentor"), "user")),
			==, "alice");
	answer_clear(&a);
}

static void test_pagination(fixture *f, gconstpointer data)
{
	tb_library_query q = query_new();

	q.sort = TB_LIBRARY_SORT_DATE;
	q.per_page = 4;
	q.page = 1;
	assert_search(f, &curator, &q, "s1,s2,s3,s4", 6);
	q.page = 2;
	assert_search(f, &curator, &q, "s5,s6", 6);
	q.page = 3;
	assert_search(f, &curator, &q, "", 6);
	/* Defaults: 20 per page, newest first. */
	q = query_new();
	assert_search(f, &curator, &q, "s6,s5,s4,s3,s2,s1", 6);
}

static void test_access(fixture *f, gconstpointer data)
{
	const tb_library_viewer bob = {"bob", TB_ROLE_STUDENT};
	const tb_library_viewer carol = {"carol", TB_ROLE_STUDENT};
	const tb_library_viewer alice = {"alice", TB_ROLE_MENTOR};
	const tb_library_viewer dave = {"dave", TB_ROLE_MENTOR};
	tb_library_query q = query_new();
	answer a = {0};

	/* A student: their own sessions and the references. */
	assert_search(f, &bob, &q, "s5,s4,s3,s1", 4);
	assert_search(f, &carol, &q, "s5,s4,s3,s2,s1", 5);
	/* A mentor: the sessions they took part in and the references. */
	assert_search(f, &alice, &q, "s6,s5,s4,s3,s2,s1", 6);
	assert_search(f, &dave, &q, "s5,s4,s3,s1", 4);
	/* Filters never widen it: asking for confidential ones gives one's own. */
	q.visibility = "confidential";
	assert_search(f, &bob, &q, "", 0);
	assert_search(f, &carol, &q, "s2", 1);
	q = query_new();
	q.text = "pricing";
	assert_search(f, &bob, &q, "s3,s1", 2);
	q.text = "bakery";
	assert_search(f, &bob, &q, "", 0);
	q = query_new();
	q.mentor = "alice";
	assert_search(f, &bob, &q, "s1", 1);

	/* Direct reads. */
	tb_library_session(f->lib, &bob, "s2", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_EPERM);
	g_assert_null(a.body);
	answer_clear(&a);
	tb_library_session(f->lib, &carol, "s2", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, 0);
	g_assert_cmpstr(json_string_value(json_object_get(a.body, "title")), ==,
			"Carol and her bakery prices");
	g_assert_cmpuint(json_array_size(json_object_get(a.body, "participants")), ==, 2);
	g_assert_cmpuint(json_array_size(json_object_get(a.body, "attendance")), ==, 2);
	answer_clear(&a);
	tb_library_session(f->lib, &dave, "s6", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_EPERM);
	answer_clear(&a);
	tb_library_session(f->lib, &admin, "s6", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, 0);
	answer_clear(&a);
	/* Related, from a session one may see: never a confidential one. */
	tb_library_related(f->lib, &carol, "s2", 10, on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, 0);
	{
		char *ids = ids_of(json_object_get(a.body, "results"));
		g_assert_cmpstr(ids, ==, "s3,s1,s4");
		g_free(ids);
	}
	answer_clear(&a);
	tb_library_related(f->lib, &bob, "s2", 10, on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_EPERM);
	answer_clear(&a);
	/* Curation and audit are for curators and admins. */
	{
		json_t *changes = json_pack("{s:s}", "visibility", "reference");
		tb_library_curate(f->lib, &alice, "s2", changes, on_answer, &a);
		wait_answer(&a);
		g_assert_cmpint(a.code, ==, TB_EPERM);
		answer_clear(&a);
		json_decref(changes);
	}
	tb_library_audit(f->lib, &alice, "s1", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_EPERM);
	answer_clear(&a);
}

static void test_related(fixture *f, gconstpointer data)
{
	answer a = {0};
	json_t *results, *first;
	char *ids;

	/* s3: same problem, sector and stage (7); s4: same sector (2) and a
	 * shared keyword; s5 shares nothing; s2 and s6 are confidential. */
	tb_library_related(f->lib, &curator, "s1", 10, on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, 0);
	results = json_object_get(a.body, "results");
	ids = ids_of(results);
	g_assert_cmpstr(ids, ==, "s3,s4");
	g_free(ids);
	first = json_object_get(json_array_get(results, 0), "score");
	g_assert_cmpint(json_integer_value(json_object_get(first, "tags")), ==, 7);
	g_assert_cmpint(json_integer_value(json_object_get(first, "keywords")), ==, 1);
	answer_clear(&a);

	/* Keyword overlap breaks ties between equal tags. */
	curate(f, "s5", "{\"sector\": \"food\", \"keywords\": [\"menu\", \"pricing\"]}");
	tb_library_related(f->lib, &curator, "s1", 10, on_answer, &a);
	wait_answer(&a);
	ids = ids_of(json_object_get(a.body, "results"));
	g_assert_cmpstr(ids, ==, "s3,s5,s4");
	g_free(ids);
	answer_clear(&a);
	tb_library_related(f->lib, &curator, "s1", 1, on_answer, &a);
	wait_answer(&a);
	ids = ids_of(json_object_get(a.body, "results"));
	g_assert_cmpstr(ids, ==, "s3");
	g_free(ids);
	answer_clear(&a);
	tb_library_related(f->lib, &curator, "nope", 10, on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_ENOENT);
	answer_clear(&a);
	tb_library_related(f->lib, &curator, "s1", 0, on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_EINVAL);
	g_assert_cmpstr(a.field, ==, "limit");
	answer_clear(&a);
}

static void test_curate_and_audit(fixture *f, gconstpointer data)
{
	answer a = {0};
	json_t *changes, *entries, *last;
	char *rows;

	/* Setup wrote s1's fields once each (7 rows, the unchanged ones none). */
	rows = raw_text(f, "SELECT count(*) FROM audit WHERE session_id = 's1'");
	g_assert_cmpstr(rows, ==, "7");
	g_free(rows);

	changes = json_pack("{s:s, s:n, s:s}", "visibility", "confidential", "stage", "title",
			    "Pricing a food truck menu");
	tb_library_curate(f->lib, &admin, "s1", changes, on_answer, &a);
	json_decref(changes);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, 0);
	g_assert_cmpstr(json_string_value(json_object_get(a.body, "visibility")), ==,
			"confidential");
	g_assert_true(json_is_null(json_object_get(a.body, "stage")));
	g_assert_cmpstr(json_string_value(json_object_get(a.body, "updated_by")), ==, "root");
	answer_clear(&a);

	/* Two fields changed (the title did not): two rows, who and what. */
	tb_library_audit(f->lib, &curator, "s1", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, 0);
	entries = json_object_get(a.body, "entries");
	g_assert_cmpuint(json_array_size(entries), ==, 9);
	last = json_array_get(entries, 8);
	g_assert_cmpstr(json_string_value(json_object_get(last, "user")), ==, "root");
	g_assert_cmpstr(json_string_value(json_object_get(last, "role")), ==, "admin");
	g_assert_cmpstr(json_string_value(json_object_get(last, "field")), ==, "visibility");
	g_assert_cmpstr(json_string_value(json_object_get(last, "old")), ==, "reference");
	g_assert_cmpstr(json_string_value(json_object_get(last, "new")), ==, "confidential");
	last = json_array_get(entries, 7);
	g_assert_cmpstr(json_string_value(json_object_get(last, "field")), ==, "stage");
	g_assert_cmpstr(json_string_value(json_object_get(last, "old")), ==, "idea");
	g_assert_true(json_is_null(json_object_get(last, "new")));
	g_assert_cmpint(json_integer_value(json_object_get(last, "at_ms")), >, 0);
	answer_clear(&a);

	/* The full-text index follows the edits, tags included. */
	curate(f, "s1", "{\"title\": \"Costing recipes\"}");
	{
		tb_library_query q = query_new();
		q.stage = "idea";
		assert_search(f, &curator, &q, "s6,s3", 2);
		q.stage = NULL;
		q.visibility = "confidential";
		q.sort = TB_LIBRARY_SORT_DATE;
		assert_search(f, &curator, &q, "s1,s2,s6", 3);
		q = query_new();
		q.text = "truck";
		assert_search(f, &curator, &q, "", 0);
		q.text = "costing";
		assert_search(f, &curator, &q, "s1", 1);
	}
}

static void expect_curate_error(fixture *f, const char *json, int code, const char *field)
{
	answer a = {0};
	json_t *changes = json_loads(json, 0, NULL);

	g_assert_nonnull(changes);
	tb_library_curate(f->lib, &curator, "s2", changes, on_answer, &a);
	json_decref(changes);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, code);
	g_assert_cmpstr(a.field, ==, field);
	g_assert_nonnull(a.message);
	answer_clear(&a);
}

static void test_bad_input(fixture *f, gconstpointer data)
{
	tb_library_query q = query_new();
	char *long_text = g_strnfill(TB_LIBRARY_QUERY_MAX + 1, 'a');
	char *rows;
	answer a = {0};

	q.stage = "dreaming";
	assert_search_fails(f, &curator, &q, TB_EINVAL, "stage");
	q = query_new();
	q.sector = "x";
	assert_search_fails(f, &curator, &q, TB_EINVAL, "sector");
	q = query_new();
	q.problem = "' OR 1 --";
	assert_search_fails(f, &curator, &q, TB_EINVAL, "problem");
	q = query_new();
	q.visibility = "public";
	assert_search_fails(f, &curator, &q, TB_EINVAL, "visibility");
	q = query_new();
	q.per_page = TB_LIBRARY_PER_PAGE_MAX + 1;
	assert_search_fails(f, &curator, &q, TB_EINVAL, "per_page");
	q = query_new();
	q.page = -1;
	assert_search_fails(f, &curator, &q, TB_EINVAL, "page");
	q = query_new();
	q.text = long_text;
	assert_search_fails(f, &curator, &q, TB_EINVAL, "q");
	q = query_new();
	q.text = "\xff\xfe";
	assert_search_fails(f, &curator, &q, TB_EINVAL, "q");
	q = query_new();
	q.from_ms = 10;
	q.to_ms = 5;
	assert_search_fails(f, &curator, &q, TB_EINVAL, "to");

	expect_curate_error(f, "{\"stage\": \"dreaming\"}", TB_EINVAL, "stage");
	expect_curate_error(f, "{\"problem\": 3}", TB_EINVAL, "problem");
	expect_curate_error(f, "{\"visibility\": \"public\"}", TB_EINVAL, "visibility");
	expect_curate_error(f, "{\"visibility\": null}", TB_EINVAL, "visibility");
	expect_curate_error(f, "{\"keywords\": \"a, b\"}", TB_EINVAL, "keywords");
	expect_curate_error(f, "{\"keywords\": [\"a,b\"]}", TB_EINVAL, "keywords");
	expect_curate_error(f, "{\"keywords\": [\"  \"]}", TB_EINVAL, "keywords");
	expect_curate_error(f, "{\"owner\": \"me\"}", TB_EINVAL, "owner");
	/* A bad field changes nothing, even with good ones beside it. */
	expect_curate_error(f, "{\"title\": \"new\", \"sector\": \"nope\"}", TB_EINVAL, "sector");
	rows = raw_text(f, "SELECT title FROM curation WHERE session_id = 's2'");
	g_assert_cmpstr(rows, ==, "Carol and her bakery prices");
	g_free(rows);

	/* Ids that do not exist, or cannot. */
	tb_library_session(f->lib, &curator, "../../etc/passwd", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_ENOENT);
	answer_clear(&a);
	tb_library_session(f->lib, &curator, "s9", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_ENOENT);
	answer_clear(&a);
	tb_library_audit(f->lib, &curator, "s9", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_ENOENT);
	answer_clear(&a);
	g_free(long_text);
}

static void test_vocabulary(fixture *f, gconstpointer data)
{
	const tb_library_viewer bob = {"bob", TB_ROLE_STUDENT};
	answer a = {0};
	json_t *stages;
	char *rows;

	tb_library_vocabulary(f->lib, &bob, on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, 0);
	stages = json_object_get(a.body, "stage");
	g_assert_cmpuint(json_array_size(stages), ==, 6);
	g_assert_cmpstr(json_string_value(json_object_get(json_array_get(stages, 0), "value")), ==,
			"idea");
	g_assert_cmpuint(json_array_size(json_object_get(a.body, "sector")), ==, 8);
	g_assert_cmpuint(json_array_size(json_object_get(a.body, "problem")), ==, 9);
	answer_clear(&a);

	tb_library_vocabulary_add(f->lib, &bob, "problem", "podcast", "Podcast", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_EPERM);
	answer_clear(&a);
	tb_library_vocabulary_add(f->lib, &curator, "mood", "happy", "Happy", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_ENOENT);
	answer_clear(&a);
	tb_library_vocabulary_add(f->lib, &curator, "problem", "Pod Cast", "x", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_EINVAL);
	g_assert_cmpstr(a.field, ==, "value");
	answer_clear(&a);
	tb_library_vocabulary_add(f->lib, &curator, "problem", "podcast", "", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_EINVAL);
	g_assert_cmpstr(a.field, ==, "label");
	answer_clear(&a);
	tb_library_vocabulary_add(f->lib, &curator, "problem", "podcast", "Podcast", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, 0);
	answer_clear(&a);
	tb_library_vocabulary_add(f->lib, &curator, "problem", "podcast", "Again", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_EEXIST);
	answer_clear(&a);
	/* The new value is usable at once, and its addition audited. */
	curate(f, "s2", "{\"problem\": \"podcast\"}");
	rows = raw_text(f, "SELECT user, field, new_value FROM audit WHERE session_id IS NULL");
	g_assert_cmpstr(rows, ==, "cora|vocabulary.problem|podcast");
	g_free(rows);
}

static void add_recording(fixture *f, const char *rel, const char *state, const char *content)
{
	char *abs = g_build_filename(f->dir, rel, NULL);

	g_assert_true(g_file_set_contents(abs, content, -1, NULL));
	tb_catalog_recording_begin(f->cat, rel, "s2", "s2-m", "alice", "mentor", "audio,video",
				   "opus,VP8", 2000000, 0);
	if (state)
		tb_catalog_recording_end(f->cat, rel, state, 2060000, 60000,
					 (int64_t)strlen(content), 320, 240, 0, NULL);
	tb_catalog_flush(f->cat);
	g_free(abs);
}

static void open_recording(fixture *f, const tb_library_viewer *v, int64_t id, answer *a)
{
	tb_library_open_recording(f->lib, v, id, on_answer, a);
	wait_answer(a);
}

static void test_recordings(fixture *f, gconstpointer data)
{
	const tb_library_viewer bob = {"bob", TB_ROLE_STUDENT};
	const tb_library_viewer carol = {"carol", TB_ROLE_STUDENT};
	answer a = {0};
	char buf[16] = {0};
	char *outside;

	add_recording(f, "recordings/s1/a.webm", "complete", "0123456789");
	add_recording(f, "recordings/s1/b.mkv", NULL, "x");
	add_recording(f, "recordings/s1/c.webm", "failed", "x");

	open_recording(f, &carol, 1, &a);
	g_assert_cmpint(a.code, ==, 0);
	g_assert_cmpint(a.size, ==, 10);
	g_assert_cmpstr(a.content_type, ==, "video/webm");
	g_assert_cmpint(pread(a.fd, buf, 4, 3), ==, 4);
	g_assert_cmpstr(buf, ==, "3456");
	answer_clear(&a);
	/* s2 is confidential: bob may not play it. */
	open_recording(f, &bob, 1, &a);
	g_assert_cmpint(a.code, ==, TB_EPERM);
	g_assert_cmpint(a.fd, ==, -1);
	answer_clear(&a);
	open_recording(f, &carol, 2, &a);
	g_assert_cmpint(a.code, ==, TB_ECONFLICT);
	answer_clear(&a);
	open_recording(f, &carol, 3, &a);
	g_assert_cmpint(a.code, ==, TB_ECONFLICT);
	answer_clear(&a);
	open_recording(f, &carol, 99, &a);
	g_assert_cmpint(a.code, ==, TB_ENOENT);
	answer_clear(&a);

	/* A path in the catalog that leads out of the recordings dir is never
	 * opened, even when the file exists. */
	outside = g_build_filename(f->dir, "secret.webm", NULL);
	g_assert_true(g_file_set_contents(outside, "secret", -1, NULL));
	raw_exec(f, "UPDATE recordings SET path = 'recordings/../secret.webm' WHERE id = 1");
	open_recording(f, &curator, 1, &a);
	g_assert_cmpint(a.code, ==, TB_ENOENT);
	answer_clear(&a);
	raw_exec(f, "UPDATE recordings SET path = 'recordings/s1/missing.webm' WHERE id = 1");
	open_recording(f, &curator, 1, &a);
	g_assert_cmpint(a.code, ==, TB_ENOENT);
	answer_clear(&a);
	g_free(outside);

	/* The session shows its recordings, with a media URL for those that play. */
	tb_library_session(f->lib, &curator, "s2", on_answer, &a);
	wait_answer(&a);
	g_assert_cmpuint(json_array_size(json_object_get(a.body, "recordings")), ==, 3);
	g_assert_cmpstr(
		json_string_value(json_object_get(
			json_array_get(json_object_get(a.body, "recordings"), 0), "media_url")),
		==, "/api/recordings/1/media");
	g_assert_true(json_is_null(json_object_get(
		json_array_get(json_object_get(a.body, "recordings"), 1), "media_url")));
	answer_clear(&a);
}

/* A writer that holds the catalog: the library answers TB_EIO after its busy
 * timeout instead of hanging; reads still work (WAL). */
static void test_locked(fixture *f, gconstpointer data)
{
	sqlite3 *db;
	answer a = {0};
	json_t *changes = json_pack("{s:s}", "title", "x");
	tb_library_query q = query_new();
	int64_t t0;

	g_assert_cmpint(sqlite3_open_v2(f->db_path, &db, SQLITE_OPEN_READWRITE, NULL), ==, 0);
	g_assert_cmpint(sqlite3_exec(db, "BEGIN IMMEDIATE; UPDATE sessions SET room_id = 'r'", NULL,
				     NULL, NULL),
			==, SQLITE_OK);
	t0 = g_get_monotonic_time();
	tb_library_curate(f->lib, &curator, "s2", changes, on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, TB_EIO);
	g_assert_nonnull(strstr(a.message, "busy"));
	g_assert_cmpint(g_get_monotonic_time() - t0, <, 10 * G_USEC_PER_SEC);
	answer_clear(&a);
	assert_search(f, &curator, &q, "s6,s5,s4,s3,s2,s1", 6);
	g_assert_cmpint(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), ==, SQLITE_OK);
	sqlite3_close(db);
	tb_library_curate(f->lib, &curator, "s2", changes, on_answer, &a);
	wait_answer(&a);
	g_assert_cmpint(a.code, ==, 0);
	answer_clear(&a);
	json_decref(changes);
}

/* A library on a database the catalog has not migrated is refused. */
static void test_needs_schema(void)
{
	GError *error = NULL;
	char *dir = g_dir_make_tmp("tribu-library-XXXXXX", &error);
	char *path = g_build_filename(dir, "tribu.db", NULL);
	sqlite3 *db;
	tb_library *lib;

	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db,
				     "CREATE TABLE schema_migrations(version INTEGER);"
				     " INSERT INTO schema_migrations VALUES (2)",
				     NULL, NULL, NULL),
			==, SQLITE_OK);
	sqlite3_close(db);
	lib = tb_library_open(path, dir, NULL, &error);
	g_assert_null(lib);
	g_assert_nonnull(error);
	g_assert_nonnull(strstr(error->message, "schema 2"));
	g_clear_error(&error);
	remove_tree(dir);
	g_free(path);
	g_free(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                                              \
	g_test_add("/library/" name, fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("search-text", test_search_text);
	ADD("search-filters", test_search_filters);
	ADD("search-rows", test_search_rows);
	ADD("pagination", test_pagination);
	ADD("access", test_access);
	ADD("related", test_related);
	ADD("curate-and-audit", test_curate_and_audit);
	ADD("bad-input", test_bad_input);
	ADD("vocabulary", test_vocabulary);
	ADD("recordings", test_recordings);
	ADD("locked", test_locked);
#undef ADD
	g_test_add_func("/library/needs-schema", test_needs_schema);
	return g_test_run();
}
