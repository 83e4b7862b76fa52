/* test-catalog.c — the SQLite catalog: open, migrations, queued writes, crash
 * repair, batching under load, and failures that must not stop the thread.
 *
 * Each test works in its own g_dir_make_tmp directory and reads what the
 * catalog wrote through a separate raw sqlite3 connection, as the library API
 * or an operator would.
 */
#include "catalog-private.h"
#include "recorder.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

typedef struct {
	char *dir;
	char *path;
} fixture;

static char *make_tmp_dir(void)
{
	GError *error = NULL;
	char *dir = g_dir_make_tmp("tribu-catalog-XXXXXX", &error);

	g_assert_no_error(error);
	return dir;
}

/* Removes DIR and the files in it (the database, -wal, -shm). */
static void remove_tmp_dir(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d))) {
		char *file = g_build_filename(dir, name, NULL);

		g_assert_cmpint(g_unlink(file), ==, 0);
		g_free(file);
	}
	g_dir_close(d);
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void fixture_setup(fixture *f, gconstpointer data)
{
	f->dir = make_tmp_dir();
	f->path = g_build_filename(f->dir, "catalog.db", NULL);
}

static void fixture_teardown(fixture *f, gconstpointer data)
{
	remove_tmp_dir(f->dir);
	g_free(f->path);
	g_free(f->dir);
}

static tb_catalog *open_catalog(const char *path)
{
	GError *error = NULL;
	tb_catalog *cat = tb_catalog_open(path, &error);

	g_assert_no_error(error);
	g_assert_nonnull(cat);
	return cat;
}

/* ---- a raw connection, as a reader outside the catalog ---- */

static sqlite3 *raw_open(const char *path)
{
	sqlite3 *db = NULL;

	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), ==, SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void raw_close(sqlite3 *db)
{
	g_assert_cmpint(sqlite3_close(db), ==, SQLITE_OK);
}

static void raw_exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		g_error("raw exec \"%s\": %s", sql, msg);
}

/* Returns the one row SQL gives, its columns joined by '|' (NULL for NULL),
 * or "" for no row (transfer full). More than one row fails the test. */
static char *raw_row(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	GString *row = g_string_new("");
	int rc;

	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		g_error("raw prepare \"%s\": %s", sql, sqlite3_errmsg(db));
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		for (int i = 0; i < sqlite3_column_count(stmt); i++) {
			const char *text = (const char *)sqlite3_column_text(stmt, i);

			g_string_append_printf(row, "%s%s", i ? "|" : "", text ? text : "NULL");
		}
		rc = sqlite3_step(stmt);
	}
	g_assert_cmpint(rc, ==, SQLITE_DONE);
	sqlite3_finalize(stmt);
	return g_string_free(row, FALSE);
}

static void assert_row(sqlite3 *db, const char *sql, const char *expected)
{
	char *row = raw_row(db, sql);

	g_assert_cmpstr(row, ==, expected);
	g_free(row);
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
	char *row = raw_row(db, sql);
	int64_t value = g_ascii_strtoll(row, NULL, 10);

	g_free(row);
	return value;
}

/* ---- tests ---- */

static void test_open(fixture *f, gconstpointer data)
{
	tb_catalog *cat = open_catalog(f->path);
	sqlite3 *db = raw_open(f->path);

	g_assert_cmpint(tb_catalog_schema_version(cat), ==, TB__CATALOG_SCHEMA_VERSION);
	g_assert_cmpint(TB__CATALOG_SCHEMA_VERSION, ==, 4);
	assert_row(db, "PRAGMA journal_mode", "wal");
	assert_row(db, "SELECT count(*), max(version) FROM schema_migrations", "4|4");
	assert_row(db,
		   "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_schema"
		   " WHERE type = 'table' AND name NOT LIKE 'curation_fts_%' ORDER BY name)",
		   "attendance,audit,curation,curation_fts,recordings,schema_migrations,sessions,"
		   "vocabulary");
	raw_close(db);
	g_assert_cmpuint(tb_catalog_error_count(cat), ==, 0);
	tb_catalog_close(cat);
	tb_catalog_close(NULL);
}

static void test_open_fails(void)
{
	GError *error = NULL;
	tb_catalog *cat = tb_catalog_open("/nonexistent-tribu-dir/catalog.db", &error);

	g_assert_null(cat);
	g_assert_error(error, TB_CATALOG_ERROR, SQLITE_CANTOPEN);
	g_clear_error(&error);
}

static void test_write_read(fixture *f, gconstpointer data)
{
	tb_catalog *cat = open_catalog(f->path);
	sqlite3 *db;

	tb_catalog_session_begin(cat, "s1", "room-a", "coaching", 1000);
	tb_catalog_attendance_join(cat, "s1", "p1", "alice", "Alice", "mentor", 1100);
	tb_catalog_attendance_join(cat, "s1", "p2", "bob", "Zoë O'Brien; DROP", "student", 1200);
	tb_catalog_attendance_counters(cat, "s1", "p2", 12345, 2, 1);
	tb_catalog_attendance_leave(cat, "s1", "p2", 1500, "left");
	tb_catalog_attendance_leave(cat, "s1", "p1", 1600, "disconnected");
	tb_catalog_session_end(cat, "s1", 1700);
	tb_catalog_session_begin(cat, "s2", "room-b", "workshop", 2000);
	tb_catalog_flush(cat);

	/* Read while the catalog is still open: WAL lets a reader in. */
	db = raw_open(f->path);
	assert_row(db,
		   "SELECT room_id, kind, started_ms, ended_ms, end_reason FROM sessions"
		   " WHERE id = 's1'",
		   "room-a|coaching|1000|1700|ended");
	assert_row(db,
		   "SELECT room_id, kind, started_ms, ended_ms, end_reason FROM sessions"
		   " WHERE id = 's2'",
		   "room-b|workshop|2000|NULL|NULL");
	assert_row(db,
		   "SELECT user, name, role, joined_ms, left_ms, leave_reason FROM attendance"
		   " WHERE session_id = 's1' AND participant_id = 'p1'",
		   "alice|Alice|mentor|1100|1600|disconnected");
	assert_row(db,
		   "SELECT user, name, role, joined_ms, left_ms, leave_reason FROM attendance"
		   " WHERE session_id = 's1' AND participant_id = 'p2'",
		   "bob|Zoë O'Brien; DROP|student|1200|1500|left");
	assert_row(db, "SELECT count(*) FROM attendance", "2");
	/* Engagement (migration 4): written for p2, zero by default for p1. */
	assert_row(db,
		   "SELECT group_concat(participant_id || ':' || speaking_ms || ':' || hands_raised"
		   " || ':' || reading_turns, ' ') FROM (SELECT * FROM attendance"
		   " WHERE session_id = 's1' ORDER BY participant_id)",
		   "p1:0:0:0 p2:12345:2:1");
	g_assert_cmpuint(tb_catalog_error_count(cat), ==, 0);

	/* A flush with nothing queued returns too. */
	tb_catalog_flush(cat);
	tb_catalog_close(cat);
	raw_close(db);
}

static void test_reopen(fixture *f, gconstpointer data)
{
	tb_catalog *cat = open_catalog(f->path);
	sqlite3 *db;
	int64_t applied_ms;

	tb_catalog_session_begin(cat, "s1", "room-a", "coaching", 1000);
	tb_catalog_close(cat);
	db = raw_open(f->path);
	applied_ms = raw_int(db, "SELECT applied_ms FROM schema_migrations WHERE version = 1");
	g_assert_cmpint(applied_ms, >, 0);

	for (int i = 0; i < 3; i++) {
		cat = open_catalog(f->path);
		g_assert_cmpint(tb_catalog_schema_version(cat), ==, TB__CATALOG_SCHEMA_VERSION);
		tb_catalog_close(cat);
	}
	assert_row(db, "SELECT count(*) FROM schema_migrations", "4");
	g_assert_cmpint(raw_int(db, "SELECT applied_ms FROM schema_migrations WHERE version = 1"), ==,
			applied_ms);
	assert_row(db, "SELECT count(*) FROM sessions", "1");
	raw_close(db);
}

static void test_newer_schema(fixture *f, gconstpointer data)
{
	tb_catalog *cat = open_catalog(f->path);
	GError *error = NULL;
	sqlite3 *db;

	tb_catalog_close(cat);
	db = raw_open(f->path);
	raw_exec(db, "INSERT INTO schema_migrations(version, applied_ms) VALUES (99, 0)");
	raw_close(db);
	cat = tb_catalog_open(f->path, &error);
	g_assert_null(cat);
	g_assert_error(error, TB_CATALOG_ERROR, SQLITE_ERROR);
	g_assert_nonnull(strstr(error->message, "newer"));
	g_clear_error(&error);
}

/* The rows a crash leaves (checked by assert_repaired): s1 open with p1 open
 * and p2 gone; s2 written raw, open, nobody joined; s3 ended but p3 open. */
static void write_open_rows(tb_catalog *cat, sqlite3 *db)
{
	tb_catalog_session_begin(cat, "s1", "room-a", "workshop", 1000);
	tb_catalog_attendance_join(cat, "s1", "p1", "alice", "Alice", "mentor", 2000);
	tb_catalog_attendance_join(cat, "s1", "p2", "bob", "Bob", "student", 3000);
	tb_catalog_attendance_leave(cat, "s1", "p2", 5000, "left");
	tb_catalog_flush(cat);
	raw_exec(db, "INSERT INTO sessions(id, room_id, kind, started_ms)"
		     " VALUES ('s2', 'room-b', 'coaching', 7000);"
		     "INSERT INTO sessions(id, room_id, kind, started_ms, ended_ms, end_reason)"
		     " VALUES ('s3', 'room-c', 'coaching', 100, 900, 'ended');"
		     "INSERT INTO attendance(session_id, participant_id, user, name, role,"
		     " joined_ms) VALUES ('s3', 'p3', 'carol', 'Carol', 'student', 200);");
}

static void assert_repaired(sqlite3 *db)
{
	const char *sessions =
		"SELECT group_concat(id || ':' || ended_ms || ':' || end_reason, ' ')"
		" FROM (SELECT * FROM sessions ORDER BY id)";
	const char *attendance =
		"SELECT group_concat(participant_id || ':' || left_ms || ':' || leave_reason, ' ')"
		" FROM (SELECT * FROM attendance ORDER BY participant_id)";

	assert_row(db, sessions, "s1:5000:crash s2:7000:crash s3:900:ended");
	assert_row(db, attendance, "p1:5000:crash p2:5000:left p3:900:crash");
}

static void test_crash_repair(fixture *f, gconstpointer data)
{
	tb_catalog *cat = open_catalog(f->path);
	sqlite3 *db = raw_open(f->path);

	write_open_rows(cat, db);
	/* Closing without ending is what a crash leaves, minus the torn WAL
	 * (test_crash_exit has that). */
	tb_catalog_close(cat);
	assert_row(db, "SELECT count(*) FROM sessions WHERE ended_ms IS NULL", "2");

	cat = open_catalog(f->path);
	assert_repaired(db);
	g_assert_cmpuint(tb_catalog_error_count(cat), ==, 0);
	tb_catalog_close(cat);

	/* Repair is idempotent. */
	cat = open_catalog(f->path);
	tb_catalog_close(cat);
	assert_repaired(db);
	raw_close(db);
}

/* The child opens the catalog, writes, flushes and dies without closing:
 * the WAL and its index stay behind, uncheckpointed. */
static void test_crash_exit(void)
{
	char *dir, *path;
	tb_catalog *cat;
	sqlite3 *db;

	if (g_test_subprocess()) {
		path = g_strdup(g_getenv("TB_TEST_CATALOG_DB"));
		g_assert_nonnull(path);
		cat = open_catalog(path);
		db = raw_open(path);
		write_open_rows(cat, db);
		raw_close(db);
		tb_catalog_session_begin(cat, "s4", "room-d", "coaching", 9000);
		tb_catalog_flush(cat);
		_exit(0);
	}
	/* main() made the directory and set the variable before any thread. */
	path = g_strdup(g_getenv("TB_TEST_CATALOG_DB"));
	dir = g_path_get_dirname(path);
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();

	cat = open_catalog(path);
	db = raw_open(path);
	assert_row(db, "SELECT ended_ms, end_reason FROM sessions WHERE id = 's4'", "9000|crash");
	raw_exec(db, "DELETE FROM sessions WHERE id = 's4'");
	assert_repaired(db);
	raw_close(db);
	tb_catalog_close(cat);
	g_free(path);
	g_free(dir);
}

#define N_SESSIONS 2500 /* four writes each: 10 000 */

static void test_many_writes(fixture *f, gconstpointer data)
{
	tb_catalog *cat = open_catalog(f->path);
	sqlite3 *db;

	for (int i = 0; i < N_SESSIONS; i++) {
		char session[32], participant[32];

		g_snprintf(session, sizeof session, "s%d", i);
		g_snprintf(participant, sizeof participant, "p%d", i);
		tb_catalog_session_begin(cat, session, "room", i % 2 ? "workshop" : "coaching", i);
		tb_catalog_attendance_join(cat, session, participant, "user", "Name", "student",
					   i + 1);
		tb_catalog_attendance_leave(cat, session, participant, i + 2, "left");
		tb_catalog_session_end(cat, session, i + 3);
	}
	/* No flush: close must run everything still queued. */
	tb_catalog_close(cat);

	db = raw_open(f->path);
	assert_row(db,
		   "SELECT count(*), sum(ended_ms = started_ms + 3) FROM sessions"
		   " WHERE end_reason = 'ended'",
		   "2500|2500");
	assert_row(db,
		   "SELECT count(*), sum(left_ms = joined_ms + 1) FROM attendance"
		   " WHERE leave_reason = 'left'",
		   "2500|2500");
	raw_close(db);
}

#define N_WRITERS    4
#define N_PER_WRITER 250

typedef struct {
	tb_catalog *cat;
	int index;
} writer;

static gpointer writer_thread(gpointer data)
{
	const writer *w = data;

	for (int i = 0; i < N_PER_WRITER; i++) {
		char session[32];

		g_snprintf(session, sizeof session, "w%d-%d", w->index, i);
		tb_catalog_session_begin(w->cat, session, "room", "workshop", 10);
		tb_catalog_attendance_join(w->cat, session, "p", "u", "n", "student", 11);
		tb_catalog_attendance_leave(w->cat, session, "p", 12, "left");
		tb_catalog_session_end(w->cat, session, 13);
		if (i % 50 == 0)
			tb_catalog_flush(w->cat);
	}
	return NULL;
}

/* Writers on several threads, flushes among them, then close at once. */
static void test_close_pending(fixture *f, gconstpointer data)
{
	tb_catalog *cat = open_catalog(f->path);
	GThread *threads[N_WRITERS];
	writer writers[N_WRITERS];
	sqlite3 *db;

	for (int i = 0; i < N_WRITERS; i++) {
		writers[i] = (writer){cat, i};
		threads[i] = g_thread_new("writer", writer_thread, &writers[i]);
	}
	for (int i = 0; i < N_WRITERS; i++)
		g_thread_join(threads[i]);
	tb_catalog_close(cat);

	db = raw_open(f->path);
	assert_row(db, "SELECT count(*) FROM sessions WHERE ended_ms = 13", "1000");
	assert_row(db, "SELECT count(*) FROM attendance WHERE left_ms = 12", "1000");
	raw_close(db);
}

static void test_failed_writes(fixture *f, gconstpointer data)
{
	tb_catalog *cat = open_catalog(f->path);
	sqlite3 *db;

	g_test_message("the \"[db]\" lines below are expected");
	tb_catalog_session_begin(cat, "s1", "room-a", "coaching", 1000);
	tb_catalog_attendance_join(cat, "nope", "p0", "u", "n", "student", 1001); /* FK */
	tb_catalog_session_begin(cat, "s1", "room-a", "coaching", 1002);          /* dup */
	tb_catalog_session_begin(cat, "s2", "room-b", "party", 1003);             /* CHECK */
	tb_catalog_attendance_leave(cat, "s1", "p9", 1004, "left");               /* unmatched */
	tb_catalog_session_end(cat, "nope", 1005);                                /* unmatched */
	tb_catalog_attendance_join(cat, "s1", "p2", NULL, "n", "student", 1006);  /* NOT NULL */
	tb_catalog_session_begin(cat, NULL, "room-c", "coaching", 1007);          /* NOT NULL */
	tb_catalog_attendance_join(cat, "s1", "p1", "alice", "Alice", "mentor", 1008);
	tb_catalog_attendance_leave(cat, "s1", "p1", 1009, NULL); /* NULL reason is fine */
	tb_catalog_session_end(cat, "s1", 1010);
	tb_catalog_session_end(cat, "s1", 1011); /* twice */
	tb_catalog_flush(cat);
	g_assert_cmpuint(tb_catalog_error_count(cat), ==, 8);

	db = raw_open(f->path);
	assert_row(db, "SELECT id, started_ms, ended_ms FROM sessions", "s1|1000|1010");
	assert_row(db, "SELECT participant_id, left_ms, leave_reason FROM attendance",
		   "p1|1009|NULL");
	raw_close(db);
	tb_catalog_close(cat);
}

static void test_disk_full(fixture *f, gconstpointer data)
{
	tb_catalog *cat = open_catalog(f->path);
	char *big = g_strnfill(1500, 'r');
	char *sql;
	sqlite3 *db = raw_open(f->path);
	int64_t pages = raw_int(db, "PRAGMA page_count");
	int64_t kept;
	unsigned int errors;

	g_test_message("the \"[db]\" lines below are expected");
	/* The database may grow a little, then it is "disk full". */
	sql = g_strdup_printf("PRAGMA max_page_count = %" G_GINT64_FORMAT, pages + 8);
	tb__catalog_exec(cat, sql);
	g_free(sql);
	for (int i = 0; i < 50; i++) {
		char session[32];

		g_snprintf(session, sizeof session, "s%d", i);
		tb_catalog_session_begin(cat, session, big, "coaching", i);
	}
	tb_catalog_flush(cat);
	errors = tb_catalog_error_count(cat);
	g_assert_cmpuint(errors, >, 0);
	/* Whatever fitted is kept: a full disk costs the writes that failed,
	 * not the batch they were queued with. */
	kept = raw_int(db, "SELECT count(*) FROM sessions");
	g_assert_cmpint(kept, >, 0);
	g_assert_cmpint(kept + errors, ==, 50);

	/* Space again: the thread is alive and writes land. */
	tb__catalog_exec(cat, "PRAGMA max_page_count = 1000000");
	tb_catalog_session_begin(cat, "after", "room", "workshop", 99);
	tb_catalog_flush(cat);
	g_assert_cmpuint(tb_catalog_error_count(cat), ==, errors);
	assert_row(db, "SELECT kind FROM sessions WHERE id = 'after'", "workshop");

	tb__catalog_exec(cat, "THIS IS NOT SQL");
	tb_catalog_flush(cat);
	g_assert_cmpuint(tb_catalog_error_count(cat), ==, errors + 1);
	raw_close(db);
	tb_catalog_close(cat);
	g_free(big);
}

/* ---- recordings (migration 2) ---- */

static void test_recordings(fixture *f, gconstpointer data)
{
	tb_catalog *cat = open_catalog(f->path);
	const char *row_sql = "SELECT session_id, participant_id, user, role, kinds, codecs,"
			      " width, height, started_ms, ended_ms, offset_ms, duration_ms,"
			      " bytes, state, error FROM recordings WHERE path = ";
	char *sql;
	sqlite3 *db;

	tb_catalog_session_begin(cat, "s1", "room-a", "coaching", 1000);
	tb_catalog_recording_begin(cat, "recordings/2025/01/s1/p1-1.webm", "s1", "p1", "alice",
				   "mentor", "audio,video", "opus,VP8", 1100, 100);
	tb_catalog_recording_begin(cat, "recordings/2025/01/s1/p2-1.webm", "s1", "p2", "bob",
				   "student", "audio", "opus", 1200, 200);
	tb_catalog_recording_begin(cat, "recordings/2025/01/s1/p2-2.webm", "s1", "p2", "bob",
				   "student", "audio,video", "opus,VP8", 5000, 4000);
	tb_catalog_flush(cat);
	db = raw_open(f->path);
	sql = g_strconcat(row_sql, "'recordings/2025/01/s1/p1-1.webm'", NULL);
	assert_row(db, sql,
		   "s1|p1|alice|mentor|audio,video|opus,VP8|NULL|NULL|1100|NULL|100|NULL|NULL|"
		   "recording|NULL");

	tb_catalog_recording_end(cat, "recordings/2025/01/s1/p1-1.webm", "complete", 9100, 7950,
				 123456, 640, 360, 130, NULL);
	tb_catalog_recording_end(cat, "recordings/2025/01/s1/p2-1.webm", "failed", 3000, 1700,
				 2048, 0, 0, -1, "filesink: No space left on device");
	tb_catalog_flush(cat);
	assert_row(db, sql,
		   "s1|p1|alice|mentor|audio,video|opus,VP8|640|360|1100|9100|130|7950|123456|"
		   "complete|NULL");
	g_free(sql);
	sql = g_strconcat(row_sql, "'recordings/2025/01/s1/p2-1.webm'", NULL);
	/* offset_ms < 0 keeps the one given at begin; no video: NULL size. */
	assert_row(db, sql,
		   "s1|p2|bob|student|audio|opus|NULL|NULL|1200|3000|200|1700|2048|failed|"
		   "filesink: No space left on device");
	g_free(sql);
	assert_row(db,
		   "SELECT group_concat(path, ' ') FROM (SELECT path FROM recordings"
		   " WHERE session_id = 's1' ORDER BY offset_ms)",
		   "recordings/2025/01/s1/p1-1.webm recordings/2025/01/s1/p2-1.webm"
		   " recordings/2025/01/s1/p2-2.webm");
	g_assert_cmpuint(tb_catalog_error_count(cat), ==, 0);

	g_test_message("the \"[db]\" lines below are expected");
	/* Ending twice, an unknown path, a duplicate path, an unknown session,
	 * a state outside the CHECK: each one failed write, nothing changed. */
	tb_catalog_recording_end(cat, "recordings/2025/01/s1/p1-1.webm", "failed", 1, 1, 1, 0, 0,
				 -1, "late");
	tb_catalog_recording_end(cat, "nope.webm", "complete", 1, 1, 1, 0, 0, -1, NULL);
	tb_catalog_recording_begin(cat, "recordings/2025/01/s1/p2-2.webm", "s1", "p2", "bob",
				   "student", "audio", "opus", 1, 0);
	tb_catalog_recording_begin(cat, "recordings/2025/01/s9/p1-1.webm", "s9", "p1", "alice",
				   "mentor", "audio", "opus", 1, 0);
	tb_catalog_recording_end(cat, "recordings/2025/01/s1/p2-2.webm", "lost", 1, 1, 1, 0, 0,
				 -1, NULL);
	tb_catalog_flush(cat);
	g_assert_cmpuint(tb_catalog_error_count(cat), ==, 5);
	assert_row(db, "SELECT count(*), sum(state = 'recording') FROM recordings", "3|1");
	assert_row(db,
		   "SELECT state, error FROM recordings"
		   " WHERE path = 'recordings/2025/01/s1/p1-1.webm'",
		   "complete|NULL");
	raw_close(db);
	tb_catalog_close(cat);
}

static void test_recordings_in_progress(fixture *f, gconstpointer data)
{
	tb_catalog *cat = open_catalog(f->path);
	tb_catalog_recording *r;
	GPtrArray *left;
	sqlite3 *db;

	left = tb_catalog_recordings_in_progress(cat);
	g_assert_cmpuint(left->len, ==, 0);
	g_ptr_array_unref(left);

	tb_catalog_session_begin(cat, "s1", "room-a", "workshop", 1000);
	tb_catalog_recording_begin(cat, "r/s1/p1-1.webm", "s1", "p1", "alice", "mentor", "audio",
				   "opus", 1000, 0);
	tb_catalog_recording_begin(cat, "r/s1/p2-1.webm", "s1", "p2", "bob", "student",
				   "audio,video", "opus,VP8", 1500, 500);
	tb_catalog_recording_begin(cat, "r/s1/p3-1.mkv", "s1", "p3", "carol", "student",
				   "video", "H264", 1600, 600);
	tb_catalog_recording_end(cat, "r/s1/p1-1.webm", "complete", 2000, 1000, 10, 0, 0, -1,
				 NULL);
	/* Closed without ending: what a kill -9 leaves. */
	tb_catalog_close(cat);

	cat = open_catalog(f->path);
	/* Rows begun after open are not crash leftovers. */
	tb_catalog_recording_begin(cat, "r/s1/p1-2.webm", "s1", "p1", "alice", "mentor", "audio",
				   "opus", 3000, 2000);
	tb_catalog_flush(cat);
	left = tb_catalog_recordings_in_progress(cat);
	g_assert_cmpuint(left->len, ==, 2);
	r = left->pdata[0];
	g_assert_cmpstr(r->path, ==, "r/s1/p2-1.webm");
	g_assert_cmpstr(r->session_id, ==, "s1");
	g_assert_cmpstr(r->participant_id, ==, "p2");
	g_assert_cmpint(r->started_ms, ==, 1500);
	g_assert_cmpint(r->offset_ms, ==, 500);
	g_assert_cmpint(r->id, >, 0);
	r = left->pdata[1];
	g_assert_cmpstr(r->path, ==, "r/s1/p3-1.mkv");
	/* The server repairs the files and ends the rows. */
	tb_catalog_recording_end(cat, "r/s1/p2-1.webm", "truncated", 4400, 2900, 4096, 320, 240,
				 -1, "server stopped; repaired");
	tb_catalog_recording_end(cat, "r/s1/p3-1.mkv", "failed", 1600, 0, 0, 0, 0, -1,
				 "no readable media");
	g_ptr_array_unref(left);
	tb_catalog_close(cat);

	cat = open_catalog(f->path);
	left = tb_catalog_recordings_in_progress(cat);
	g_assert_cmpuint(left->len, ==, 1);
	g_assert_cmpstr(((tb_catalog_recording *)left->pdata[0])->path, ==, "r/s1/p1-2.webm");
	g_ptr_array_unref(left);
	g_assert_cmpuint(tb_catalog_error_count(cat), ==, 0);
	tb_catalog_close(cat);
	db = raw_open(f->path);
	assert_row(db,
		   "SELECT state, duration_ms, bytes, width, height, error FROM recordings"
		   " WHERE path = 'r/s1/p2-1.webm'",
		   "truncated|2900|4096|320|240|server stopped; repaired");
	raw_close(db);
}

/* A database made by a build with migration 1 only gets migrations 2 and 3
 * and keeps its rows; its sessions get their curation rows (confidential). */
static void test_migrate_from_1(fixture *f, gconstpointer data)
{
	tb_catalog *cat = open_catalog(f->path);
	sqlite3 *db;

	tb_catalog_session_begin(cat, "old", "room-a", "coaching", 1000);
	tb_catalog_close(cat);
	db = raw_open(f->path);
	raw_exec(db, "DROP TABLE recordings; DROP TRIGGER sessions_curation;"
		     " DROP TABLE curation_fts; DROP TABLE curation; DROP TABLE audit;"
		     " DROP TABLE vocabulary; DROP INDEX attendance_user_session;"
		     " ALTER TABLE attendance DROP COLUMN speaking_ms;"
		     " ALTER TABLE attendance DROP COLUMN hands_raised;"
		     " ALTER TABLE attendance DROP COLUMN reading_turns;"
		     " DELETE FROM schema_migrations WHERE version >= 2");
	raw_close(db);

	cat = open_catalog(f->path);
	g_assert_cmpint(tb_catalog_schema_version(cat), ==, TB__CATALOG_SCHEMA_VERSION);
	tb_catalog_recording_begin(cat, "r/old/p1-1.webm", "old", "p1", "alice", "mentor",
				   "audio", "opus", 1000, 0);
	tb_catalog_close(cat);
	db = raw_open(f->path);
	assert_row(db, "SELECT count(*) FROM schema_migrations", "4");
	assert_row(db, "SELECT id FROM sessions", "old");
	assert_row(db, "SELECT session_id, visibility FROM curation", "old|confidential");
	assert_row(db, "SELECT path, state FROM recordings", "r/old/p1-1.webm|recording");
	raw_close(db);
}

int main(int argc, char **argv)
{
	char *crash_dir = NULL, *crash_db;
	int rc;

	g_test_init(&argc, &argv, NULL);
	/* setenv is only safe before threads; the crash-exit child inherits it. */
	if (!g_test_subprocess()) {
		crash_dir = make_tmp_dir();
		crash_db = g_build_filename(crash_dir, "catalog.db", NULL);
		g_setenv("TB_TEST_CATALOG_DB", crash_db, TRUE);
		g_free(crash_db);
	}

#define ADD(name, fn)                                                                              \
	g_test_add("/catalog/" name, fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("open", test_open);
	g_test_add_func("/catalog/open-fails", test_open_fails);
	ADD("write-read", test_write_read);
	ADD("reopen", test_reopen);
	ADD("newer-schema", test_newer_schema);
	ADD("crash-repair", test_crash_repair);
	g_test_add_func("/catalog/crash-exit", test_crash_exit);
	ADD("many-writes", test_many_writes);
	ADD("close-pending", test_close_pending);
	ADD("failed-writes", test_failed_writes);
	ADD("disk-full", test_disk_full);
	ADD("recordings", test_recordings);
	ADD("recordings-in-progress", test_recordings_in_progress);
	ADD("migrate-from-1", test_migrate_from_1);
#undef ADD
	rc = g_test_run();
	if (crash_dir) {
		remove_tmp_dir(crash_dir);
		g_free(crash_dir);
	}
	return rc;
}
