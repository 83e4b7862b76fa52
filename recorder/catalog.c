/* catalog.c — the SQLite catalog of sessions, attendance and recordings.
 *
 * tb_catalog_open runs on the main thread: it opens the database, switches it
 * to WAL, applies the numbered migrations (each in its own transaction,
 * recorded in schema_migrations), closes the sessions and attendance a crash
 * left open, prepares every statement, then hands the connection to the
 * catalog thread. From then on only that thread touches the connection until
 * tb_catalog_close joins it.
 *
 * Writers on any thread queue typed jobs (strings copied) on a GAsyncQueue and
 * return at once. The catalog thread runs whatever is queued back to back in
 * one transaction (up to TB__CATALOG_BATCH_MAX jobs), so a burst of joins costs
 * one fsync, not one each. A job that fails is logged (category "db",
 * rate-limited) and counted; it never stops the thread or the other jobs.
 *
 * Recordings (migration 2) are keyed by their file's path relative to the
 * data dir, which the caller makes unique, so a queued begin and its end
 * need no id from the database. The rows a crash left in 'recording' are read
 * at open (main thread, before the catalog thread exists) and kept for
 * tb_catalog_recordings_in_progress: the server repairs those files.
 *
 * It does not read otherwise: the library API (library.c) reads and curates
 * through a connection of its own; migration 3 is its schema. It does not
 * decide what a session is (rooms/ does) nor touch files
 * (pipeline.c does).
 */
#include "catalog-private.h"
#include "common.h"
#include "recorder.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

/* ---- schema ---- */

/* Migration N is migrations[N - 1]. Append only: a migration that has shipped
 * never changes, a new schema is a new entry. */
static const char *const migrations[] = {
	/* 1: sessions and attendance */
	"CREATE TABLE sessions("
	/* NOT NULL: SQLite lets a NULL into a TEXT primary key otherwise. */
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  room_id TEXT NOT NULL,"
	"  kind TEXT NOT NULL CHECK(kind IN ('coaching', 'workshop')),"
	"  started_ms INTEGER NOT NULL,"
	"  ended_ms INTEGER,"
	"  end_reason TEXT);"
	"CREATE INDEX sessions_room ON sessions(room_id, started_ms);"
	"CREATE INDEX sessions_started ON sessions(started_ms);"
	/* Partial indexes keep the crash repair at open proportional to what
	 * is open, not to the whole history. */
	"CREATE INDEX sessions_open ON sessions(id) WHERE ended_ms IS NULL;"
	"CREATE TABLE attendance("
	"  session_id TEXT NOT NULL REFERENCES sessions(id),"
	"  participant_id TEXT NOT NULL,"
	"  user TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  role TEXT NOT NULL,"
	"  joined_ms INTEGER NOT NULL,"
	"  left_ms INTEGER,"
	"  leave_reason TEXT,"
	"  PRIMARY KEY(session_id, participant_id));"
	"CREATE INDEX attendance_user ON attendance(user);"
	"CREATE INDEX attendance_open ON attendance(session_id) WHERE left_ms IS NULL;",

	/* 2: recordings, one row per file */
	"CREATE TABLE recordings("
	"  id INTEGER PRIMARY KEY,"
	"  session_id TEXT NOT NULL REFERENCES sessions(id),"
	"  participant_id TEXT NOT NULL,"
	"  user TEXT NOT NULL,"
	"  role TEXT NOT NULL,"
	/* relative to the data dir; the key of the queued writes */
	"  path TEXT NOT NULL UNIQUE,"
	"  kinds TEXT NOT NULL,"
	"  codecs TEXT NOT NULL,"
	"  width INTEGER,"
	"  height INTEGER,"
	"  started_ms INTEGER NOT NULL,"
	"  ended_ms INTEGER,"
	"  offset_ms INTEGER NOT NULL DEFAULT 0,"
	"  duration_ms INTEGER,"
	"  bytes INTEGER,"
	"  state TEXT NOT NULL DEFAULT 'recording'"
	"    CHECK(state IN ('recording', 'complete', 'truncated', 'failed')),"
	"  error TEXT);"
	"CREATE INDEX recordings_session ON recordings(session_id, offset_ms);"
	"CREATE INDEX recordings_open ON recordings(id) WHERE state = 'recording';",

	/* 3: the curator library (library.c): tag vocabularies, per-session
	 * curation with full-text search, and the audit of every change. */
	"CREATE TABLE vocabulary("
	"  kind TEXT NOT NULL CHECK(kind IN ('stage', 'sector', 'problem')),"
	"  value TEXT NOT NULL,"
	"  label TEXT NOT NULL,"
	"  created_ms INTEGER,"
	"  created_by TEXT,"
	/* rowid order is the order of the list: seeds first, as written */
	"  UNIQUE(kind, value));"
	"INSERT INTO vocabulary(kind, value, label) VALUES"
	"  ('stage', 'idea', 'Idea'), ('stage', 'launching', 'Launching'),"
	"  ('stage', 'first-clients', 'First clients'), ('stage', 'revenue', 'Revenue'),"
	"  ('stage', 'self-funded', 'Self-funded'), ('stage', 'scaling', 'Scaling'),"
	"  ('sector', 'marketing', 'Marketing'), ('sector', 'fashion', 'Fashion'),"
	"  ('sector', 'wellbeing', 'Wellbeing'), ('sector', 'arts', 'Arts'),"
	"  ('sector', 'food', 'Food'), ('sector', 'crafts', 'Crafts'),"
	"  ('sector', 'education', 'Education'), ('sector', 'tech', 'Tech'),"
	"  ('problem', 'find-first-clients', 'Find first clients'),"
	"  ('problem', 'define-persona', 'Define a persona'),"
	"  ('problem', 'grow-association', 'Grow an association'),"
	"  ('problem', 'promote-art', 'Promote art'),"
	"  ('problem', 'e-commerce-site', 'E-commerce site'),"
	"  ('problem', 'get-known', 'Get known'), ('problem', 'pricing', 'Pricing'),"
	"  ('problem', 'social-media', 'Social media'), ('problem', 'copywriting', 'Copywriting');"
	/* One row per session, made with it: the library joins, never guesses.
	 * An INTEGER id (not the implicit rowid, which VACUUM may renumber)
	 * keys the full-text index. Keywords: lowercase, ", "-separated. */
	"CREATE TABLE curation("
	"  id INTEGER PRIMARY KEY,"
	"  session_id TEXT NOT NULL UNIQUE REFERENCES sessions(id),"
	"  title TEXT NOT NULL DEFAULT '',"
	"  notes TEXT NOT NULL DEFAULT '',"
	"  keywords TEXT NOT NULL DEFAULT '',"
	"  stage TEXT,"
	"  sector TEXT,"
	"  problem TEXT,"
	"  visibility TEXT NOT NULL DEFAULT 'confidential'"
	"    CHECK(visibility IN ('confidential', 'reference')),"
	"  updated_ms INTEGER,"
	"  updated_by TEXT,"
	/* The tags as words of the full-text index, so that a text query with
	 * tag filters is one intersection of posting lists: "s0" + hex(stage),
	 * "c0" + hex(sector), "p0" + hex(problem), "v0" + hex(visibility). */
	"  tags TEXT GENERATED ALWAYS AS ("
	"    's0' || lower(hex(coalesce(stage, ''))) || ' c0' || lower(hex(coalesce(sector, '')))"
	"    || ' p0' || lower(hex(coalesce(problem, ''))) || ' v0' || lower(hex(visibility)))"
	"    VIRTUAL);"
	"CREATE INDEX curation_stage ON curation(stage);"
	"CREATE INDEX curation_sector ON curation(sector);"
	"CREATE INDEX curation_problem ON curation(problem);"
	"CREATE INDEX curation_reference ON curation(id) WHERE visibility = 'reference';"
	"CREATE VIRTUAL TABLE curation_fts USING fts5(title, notes, keywords, tags,"
	"  content = 'curation', content_rowid = 'id',"
	"  tokenize = 'unicode61 remove_diacritics 2');"
	/* Relevance: a word in the title counts most, then keywords, then
	 * notes; the tag words not at all. */
	"INSERT INTO curation_fts(curation_fts, rank) VALUES ('rank', 'bm25(10.0, 1.0, 5.0, 0.0)');"
	"CREATE TRIGGER curation_fts_insert AFTER INSERT ON curation BEGIN"
	"  INSERT INTO curation_fts(rowid, title, notes, keywords, tags)"
	"    VALUES (new.id, new.title, new.notes, new.keywords, new.tags);"
	"END;"
	"CREATE TRIGGER curation_fts_delete AFTER DELETE ON curation BEGIN"
	"  INSERT INTO curation_fts(curation_fts, rowid, title, notes, keywords, tags)"
	"    VALUES ('delete', old.id, old.title, old.notes, old.keywords, old.tags);"
	"END;"
	"CREATE TRIGGER curation_fts_update AFTER UPDATE OF title, notes, keywords, stage, sector,"
	"  problem, visibility ON curation BEGIN"
	"  INSERT INTO curation_fts(curation_fts, rowid, title, notes, keywords, tags)"
	"    VALUES ('delete', old.id, old.title, old.notes, old.keywords, old.tags);"
	"  INSERT INTO curation_fts(rowid, title, notes, keywords, tags)"
	"    VALUES (new.id, new.title, new.notes, new.keywords, new.tags);"
	"END;"
	"CREATE TRIGGER sessions_curation AFTER INSERT ON sessions BEGIN"
	"  INSERT INTO curation(session_id) VALUES (new.id);"
	"END;"
	"INSERT INTO curation(session_id) SELECT id FROM sessions ORDER BY started_ms;"
	"CREATE TABLE audit("
	"  id INTEGER PRIMARY KEY,"
	"  at_ms INTEGER NOT NULL,"
	"  user TEXT NOT NULL,"
	"  role TEXT NOT NULL,"
	"  session_id TEXT REFERENCES sessions(id),"
	"  field TEXT NOT NULL,"
	"  old_value TEXT,"
	"  new_value TEXT);"
	"CREATE INDEX audit_session ON audit(session_id, id);"
	/* The mentor filter and the access rule look attendance up by both. */
	"CREATE INDEX attendance_user_session ON attendance(user, session_id);",

	/* 4: engagement per participant (workshops): time heard as the
	 * active speaker, hands raised, reading turns. */
	"ALTER TABLE attendance ADD COLUMN speaking_ms INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE attendance ADD COLUMN hands_raised INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE attendance ADD COLUMN reading_turns INTEGER NOT NULL DEFAULT 0;",
};

G_STATIC_ASSERT(G_N_ELEMENTS(migrations) == TB__CATALOG_SCHEMA_VERSION);

/* The latest time the catalog knows of for session S: its start, its end,
 * any join or leave. A crash closes what was open at that time. */
#define LAST_KNOWN_MS(s)                                                                           \
	"max(" s ".started_ms, coalesce(" s ".ended_ms, " s ".started_ms),"                        \
	"    coalesce((SELECT max(a.joined_ms) FROM attendance a"                                  \
	"              WHERE a.session_id = " s ".id), " s ".started_ms),"                         \
	"    coalesce((SELECT max(a.left_ms) FROM attendance a"                                    \
	"              WHERE a.session_id = " s ".id), " s ".started_ms))"

/* Open attendance of a session that did end (a leave never queued) closes at
 * that end; the order of the two updates does not change the result. */
static const char repair_attendance_sql[] =
	"UPDATE attendance SET leave_reason = 'crash', left_ms = max(joined_ms, coalesce("
	"  (SELECT " LAST_KNOWN_MS("s") " FROM sessions s WHERE s.id = attendance.session_id),"
					"  joined_ms))"
					" WHERE left_ms IS NULL";

static const char repair_sessions_sql[] =
	"UPDATE sessions SET end_reason = 'crash', ended_ms = " LAST_KNOWN_MS(
		"sessions") " WHERE ended_ms IS NULL";

/* ---- jobs and statements ---- */

enum job_kind {
	/* writes: batched; each is one prepared statement, same index */
	JOB_SESSION_BEGIN,
	JOB_SESSION_END,
	JOB_ATTENDANCE_JOIN,
	JOB_ATTENDANCE_LEAVE,
	JOB_ATTENDANCE_COUNTERS,
	JOB_RECORDING_BEGIN,
	JOB_RECORDING_END,
	JOB_N_WRITES,
	/* control: each runs alone, after the batch before it has committed */
	JOB_BARRIER = JOB_N_WRITES,
	JOB_EXEC,
	JOB_STOP,
};

enum {
	STMT_BEGIN = JOB_N_WRITES,
	STMT_COMMIT,
	STMT_ROLLBACK,
	N_STMT,
};

#define JOB_MAX_TEXT 7
#define JOB_MAX_NUM 6
/* A number bound as NULL. */
#define NUM_NULL INT64_MIN

/* A write binds text[0..n_text-1] to ?1..?n_text and num[0..n_num-1] (num[0]
 * is the time; n_num 0 means 1) to the parameters after. text[0] is the
 * session id (the path for recordings), text[1] the participant for
 * attendance. */
static const struct statement_def {
	const char *name;
	const char *sql;
	int n_text;
	int n_num;
	bool must_change; /* an UPDATE that matches no open row did not take effect */
} statement_defs[N_STMT] = {
	[JOB_SESSION_BEGIN] = {"session_begin",
			       "INSERT INTO sessions(id, room_id, kind, started_ms)"
			       " VALUES (?1, ?2, ?3, ?4)",
			       3, 0, false},
	[JOB_SESSION_END] = {"session_end",
			     "UPDATE sessions SET ended_ms = ?2, end_reason = 'ended'"
			     " WHERE id = ?1 AND ended_ms IS NULL",
			     1, 0, true},
	[JOB_ATTENDANCE_JOIN] = {"attendance_join",
				 "INSERT INTO attendance(session_id, participant_id, user, name,"
				 " role, joined_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
				 5, 0, false},
	[JOB_ATTENDANCE_LEAVE] = {"attendance_leave",
				  "UPDATE attendance SET leave_reason = ?3, left_ms = ?4"
				  " WHERE session_id = ?1 AND participant_id = ?2"
				  " AND left_ms IS NULL",
				  3, 0, true},
	[JOB_ATTENDANCE_COUNTERS] = {"attendance_counters",
				     "UPDATE attendance SET speaking_ms = ?3, hands_raised = ?4,"
				     " reading_turns = ?5"
				     " WHERE session_id = ?1 AND participant_id = ?2",
				     2, 3, true},
	[JOB_RECORDING_BEGIN] = {"recording_begin",
				 "INSERT INTO recordings(path, session_id, participant_id, user,"
				 " role, kinds, codecs, started_ms, offset_ms)"
				 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
				 7, 2, false},
	[JOB_RECORDING_END] = {"recording_end",
			       "UPDATE recordings SET state = ?2, error = ?3, ended_ms = ?4,"
			       " duration_ms = ?5, bytes = ?6, width = ?7, height = ?8,"
			       " offset_ms = coalesce(?9, offset_ms)"
			       " WHERE path = ?1 AND state = 'recording'",
			       3, 6, true},
	/* IMMEDIATE: take the write lock up front, never upgrade mid-batch. */
	[STMT_BEGIN] = {"begin", "BEGIN IMMEDIATE", 0, 0, false},
	[STMT_COMMIT] = {"commit", "COMMIT", 0, 0, false},
	[STMT_ROLLBACK] = {"rollback", "ROLLBACK", 0, 0, false},
};

typedef struct job {
	enum job_kind kind;
	int64_t num[JOB_MAX_NUM]; /* num[0]: the time */
	char *text[JOB_MAX_TEXT]; /* owned; JOB_EXEC: text[0] is the SQL */
	uint64_t ticket;          /* JOB_BARRIER */
	/* outcome of the last run (catalog thread only) */
	int rc;
	int changes;
	char *errmsg;
} job;

/* ---- the catalog ---- */

#define LOG_BURST 10 /* "[db]" lines per second before suppressing */

struct tb_catalog {
	sqlite3 *db; /* main thread during open and close, catalog thread between */
	sqlite3_stmt *stmts[N_STMT];
	GThread *thread;
	GAsyncQueue *queue; /* of job *, owned */
	int schema_version; /* set at open, read-only after */
	GPtrArray *in_progress; /* of tb_catalog_recording *: set at open, read-only after */
	gint errors;        /* atomic */

	/* `lock` guards the barrier tickets; taken before the queue's own lock,
	 * never held while calling out. */
	GMutex lock;
	GCond barrier_cond;
	uint64_t barrier_issued;
	uint64_t barrier_passed;

	/* log rate limit: whichever thread owns db */
	int64_t log_window_us;
	unsigned int log_lines;
	unsigned int log_suppressed;
};

G_DEFINE_QUARK(tb - catalog - error - quark, tb_catalog_error)

static const char *str_or_null(const char *s)
{
	return s ? s : "(null)";
}

static void db_log(tb_catalog *cat, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void db_log(tb_catalog *cat, const char *fmt, ...)
{
	int64_t now = g_get_monotonic_time();
	va_list ap;
	char *line;

	if (now - cat->log_window_us >= G_USEC_PER_SEC) {
		if (cat->log_suppressed > 0)
			TB_WARN("db", "%u more messages suppressed", cat->log_suppressed);
		cat->log_window_us = now;
		cat->log_lines = 0;
		cat->log_suppressed = 0;
	}
	if (cat->log_lines >= LOG_BURST) {
		cat->log_suppressed++;
		return;
	}
	cat->log_lines++;
	va_start(ap, fmt);
	line = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	TB_WARN("db", "%s", line);
	g_free(line);
}

static job *job_new(enum job_kind kind)
{
	job *j = g_new0(job, 1);

	j->kind = kind;
	return j;
}

static void job_free(gpointer data)
{
	job *j = data;

	for (int i = 0; i < JOB_MAX_TEXT; i++)
		g_free(j->text[i]);
	g_free(j->errmsg);
	g_free(j);
}

/* ---- open-time helpers (main thread) ---- */

static void set_db_error(GError **error, sqlite3 *db, int rc, const char *what)
{
	g_set_error(error, TB_CATALOG_ERROR, rc, "catalog: %s: %s", what,
		    db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static bool exec_sql(sqlite3 *db, const char *sql, const char *what, GError **error)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK)
		g_set_error(error, TB_CATALOG_ERROR, rc, "catalog: %s: %s", what,
			    msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return rc == SQLITE_OK;
}

/* Runs a one-row query and gives its first column as text (transfer full). */
static char *query_text(sqlite3 *db, const char *sql, const char *what, GError **error)
{
	sqlite3_stmt *stmt = NULL;
	char *value = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);

	if (rc != SQLITE_OK)
		goto fail;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW)
		goto fail;
	value = g_strdup((const char *)sqlite3_column_text(stmt, 0));
	if (!value) {
		rc = SQLITE_NOMEM;
		goto fail;
	}
	goto out;
fail:
	set_db_error(error, db, rc, what);
out:
	sqlite3_finalize(stmt);
	return value;
}

static bool read_schema_version(sqlite3 *db, int *version, GError **error)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_migrations",
				    -1, &stmt, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(stmt, 0);
	else
		set_db_error(error, db, rc, "read schema version");
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW;
}

/* Applies the pending migrations, each in its own IMMEDIATE transaction that
 * re-reads the version, so two processes opening one file apply each once. */
static bool migrate(tb_catalog *cat, GError **error)
{
	const int latest = (int)G_N_ELEMENTS(migrations);
	sqlite3 *db = cat->db;
	sqlite3_stmt *record = NULL;
	int version = 0;
	bool ok = false;
	int rc;

	if (!exec_sql(db,
		      "CREATE TABLE IF NOT EXISTS schema_migrations("
		      "version INTEGER PRIMARY KEY, applied_ms INTEGER)",
		      "create schema_migrations", error))
		goto out;
	rc = sqlite3_prepare_v2(
		db, "INSERT INTO schema_migrations(version, applied_ms) VALUES (?1, ?2)", -1,
		&record, NULL);
	if (rc != SQLITE_OK) {
		set_db_error(error, db, rc, "prepare schema_migrations insert");
		goto out;
	}
	for (;;) {
		char what[48];

		if (!exec_sql(db, "BEGIN IMMEDIATE", "begin migration", error))
			goto fail;
		if (!read_schema_version(db, &version, error))
			goto fail;
		if (version > latest) {
			g_set_error(
				error, TB_CATALOG_ERROR, SQLITE_ERROR,
				"catalog: database schema version %d is newer than this build's %d",
				version, latest);
			goto fail;
		}
		if (version == latest)
			break;
		g_snprintf(what, sizeof what, "migration %d", version + 1);
		if (!exec_sql(db, migrations[version], what, error))
			goto fail;
		sqlite3_bind_int(record, 1, version + 1);
		sqlite3_bind_int64(record, 2, g_get_real_time() / 1000);
		rc = sqlite3_step(record);
		sqlite3_reset(record);
		if (rc != SQLITE_DONE) {
			set_db_error(error, db, rc, what);
			goto fail;
		}
		if (!exec_sql(db, "COMMIT", what, error))
			goto fail;
	}
	if (!exec_sql(db, "COMMIT", "end migrations", error))
		goto fail;
	cat->schema_version = version;
	ok = true;
	goto out;
fail:
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
	sqlite3_finalize(record);
	return ok;
}

/* Closes what a crash (or a close without ends) left open, in one transaction. */
static bool repair(tb_catalog *cat, GError **error)
{
	sqlite3 *db = cat->db;
	int n_attendance, n_sessions;

	if (!exec_sql(db, "BEGIN IMMEDIATE", "begin repair", error))
		return false;
	if (!exec_sql(db, repair_attendance_sql, "repair attendance", error))
		goto fail;
	n_attendance = sqlite3_changes(db);
	if (!exec_sql(db, repair_sessions_sql, "repair sessions", error))
		goto fail;
	n_sessions = sqlite3_changes(db);
	if (!exec_sql(db, "COMMIT", "commit repair", error))
		goto fail;
	if (n_sessions > 0 || n_attendance > 0)
		db_log(cat, "closed %d sessions and %d attendance rows left open (reason 'crash')",
		       n_sessions, n_attendance);
	return true;
fail:
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return false;
}

static void catalog_recording_free(gpointer data)
{
	tb_catalog_recording *r = data;

	g_free(r->path);
	g_free(r->session_id);
	g_free(r->participant_id);
	g_free(r);
}

/* Keeps the recordings a crash left in 'recording' for the server to repair. */
static bool read_in_progress(tb_catalog *cat, GError **error)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(cat->db,
				    "SELECT id, path, session_id, participant_id, started_ms,"
				    " offset_ms FROM recordings WHERE state = 'recording' ORDER BY id",
				    -1, &stmt, NULL);

	cat->in_progress = g_ptr_array_new_with_free_func(catalog_recording_free);
	while (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		tb_catalog_recording *r = g_new0(tb_catalog_recording, 1);

		r->id = sqlite3_column_int64(stmt, 0);
		r->path = g_strdup((const char *)sqlite3_column_text(stmt, 1));
		r->session_id = g_strdup((const char *)sqlite3_column_text(stmt, 2));
		r->participant_id = g_strdup((const char *)sqlite3_column_text(stmt, 3));
		r->started_ms = sqlite3_column_int64(stmt, 4);
		r->offset_ms = sqlite3_column_int64(stmt, 5);
		g_ptr_array_add(cat->in_progress, r);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		set_db_error(error, cat->db, rc, "read recordings in progress");
		return false;
	}
	if (cat->in_progress->len > 0)
		db_log(cat, "%u recordings were left unfinished", cat->in_progress->len);
	return true;
}

/* ---- catalog thread ---- */

/* Runs a write job's statement; records the outcome in the job. */
static void run_job(tb_catalog *cat, job *j)
{
	const struct statement_def *def = &statement_defs[j->kind];
	sqlite3_stmt *stmt = cat->stmts[j->kind];
	int rc = SQLITE_OK;

	int n_num = def->n_num ? def->n_num : 1;

	for (int i = 0; i < def->n_text && rc == SQLITE_OK; i++)
		rc = sqlite3_bind_text(stmt, i + 1, j->text[i], -1, SQLITE_STATIC);
	for (int i = 0; i < n_num && rc == SQLITE_OK; i++) {
		if (j->num[i] == NUM_NULL)
			rc = sqlite3_bind_null(stmt, def->n_text + 1 + i);
		else
			rc = sqlite3_bind_int64(stmt, def->n_text + 1 + i, j->num[i]);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	j->rc = rc;
	j->changes = rc == SQLITE_DONE ? sqlite3_changes(cat->db) : 0;
	g_free(j->errmsg);
	j->errmsg = rc == SQLITE_DONE ? NULL : g_strdup(sqlite3_errmsg(cat->db));
	sqlite3_reset(stmt);
	/* The texts are bound SQLITE_STATIC: unbind before the job is freed. */
	sqlite3_clear_bindings(stmt);
}

/* Logs and counts a write that did not take effect. */
static void report_job(tb_catalog *cat, const job *j)
{
	const struct statement_def *def = &statement_defs[j->kind];
	const char *problem;
	bool attendance = j->kind == JOB_ATTENDANCE_JOIN || j->kind == JOB_ATTENDANCE_LEAVE ||
			  j->kind == JOB_ATTENDANCE_COUNTERS;
	bool recording = j->kind == JOB_RECORDING_BEGIN || j->kind == JOB_RECORDING_END;

	if (j->rc != SQLITE_DONE)
		problem = j->errmsg ? j->errmsg : sqlite3_errstr(j->rc);
	else if (def->must_change && j->changes == 0)
		problem = "no open row matches";
	else
		return;
	g_atomic_int_inc(&cat->errors);
	db_log(cat, "%s %s=%s%s%s: %s", def->name, recording ? "path" : "session",
	       str_or_null(j->text[0]), attendance ? " participant=" : "",
	       attendance ? str_or_null(j->text[1]) : "", problem);
}

/* Steps BEGIN, COMMIT or ROLLBACK; logs a failure. */
static bool run_control(tb_catalog *cat, int index)
{
	sqlite3_stmt *stmt = cat->stmts[index];
	int rc = sqlite3_step(stmt);

	if (rc != SQLITE_DONE)
		db_log(cat, "%s: %s", statement_defs[index].name, sqlite3_errmsg(cat->db));
	sqlite3_reset(stmt);
	return rc == SQLITE_DONE;
}

/* Runs the batch in one transaction; false when it did not commit (nothing of
 * it is then in the database). */
static bool run_in_transaction(tb_catalog *cat, GPtrArray *batch)
{
	guint i;

	if (!run_control(cat, STMT_BEGIN))
		goto fail;
	for (i = 0; i < batch->len; i++) {
		job *j = batch->pdata[i];

		run_job(cat, j);
		/* A failed statement is undone alone (a constraint), unless SQLite
		 * rolled the whole transaction back (disk full, I/O error). */
		if (j->rc != SQLITE_DONE && sqlite3_get_autocommit(cat->db))
			goto fail;
	}
	if (!run_control(cat, STMT_COMMIT))
		goto fail;
	return true;
fail:
	if (!sqlite3_get_autocommit(cat->db))
		run_control(cat, STMT_ROLLBACK);
	db_log(cat, "a batch of %u writes did not commit; retrying them one by one", batch->len);
	return false;
}

static void run_batch(tb_catalog *cat, GPtrArray *batch)
{
	bool committed = batch->len > 1 && run_in_transaction(cat, batch);

	for (guint i = 0; i < batch->len; i++) {
		/* Alone, each write is its own transaction: one failure loses one. */
		if (!committed)
			run_job(cat, batch->pdata[i]);
		report_job(cat, batch->pdata[i]);
	}
	g_ptr_array_set_size(batch, 0);
}

static void pass_barrier(tb_catalog *cat, const job *j)
{
	g_mutex_lock(&cat->lock);
	cat->barrier_passed = j->ticket;
	g_cond_broadcast(&cat->barrier_cond);
	g_mutex_unlock(&cat->lock);
}

static void run_exec(tb_catalog *cat, const job *j)
{
	char *msg = NULL;
	int rc = sqlite3_exec(cat->db, j->text[0], NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		g_atomic_int_inc(&cat->errors);
		db_log(cat, "exec: %s", msg ? msg : sqlite3_errstr(rc));
	}
	sqlite3_free(msg);
}

static gpointer catalog_thread(gpointer data)
{
	tb_catalog *cat = data;
	GPtrArray *batch = g_ptr_array_new_full(TB__CATALOG_BATCH_MAX, job_free);
	job *next = NULL;

	for (;;) {
		job *j = next ? next : g_async_queue_pop(cat->queue);

		/* Take the writes already waiting, no more: batching never delays
		 * a write to wait for company. */
		next = NULL;
		while (j && j->kind < JOB_N_WRITES) {
			if (batch->len == TB__CATALOG_BATCH_MAX) {
				next = j;
				j = NULL;
				break;
			}
			g_ptr_array_add(batch, j);
			j = g_async_queue_try_pop(cat->queue);
		}
		if (batch->len > 0)
			run_batch(cat, batch);
		if (!j)
			continue;
		if (j->kind == JOB_STOP) {
			job_free(j);
			break;
		}
		if (j->kind == JOB_BARRIER)
			pass_barrier(cat, j);
		else if (j->kind == JOB_EXEC)
			run_exec(cat, j);
		job_free(j);
	}
	/* Recommended before closing a long-lived connection: cheap, keeps the
	 * planner's statistics fresh for the library queries. */
	sqlite3_exec(cat->db, "PRAGMA optimize", NULL, NULL, NULL);
	g_ptr_array_unref(batch);
	return NULL;
}

/* ---- public ---- */

static void catalog_free(tb_catalog *cat)
{
	int rc;

	for (int i = 0; i < N_STMT; i++)
		sqlite3_finalize(cat->stmts[i]);
	/* sqlite3_close (not _v2) fails with SQLITE_BUSY if a statement leaked. */
	rc = sqlite3_close(cat->db);
	if (rc != SQLITE_OK)
		db_log(cat, "close: %s", sqlite3_errstr(rc));
	if (cat->log_suppressed > 0)
		TB_WARN("db", "%u more messages suppressed", cat->log_suppressed);
	if (cat->queue)
		g_async_queue_unref(cat->queue);
	if (cat->in_progress)
		g_ptr_array_unref(cat->in_progress);
	g_mutex_clear(&cat->lock);
	g_cond_clear(&cat->barrier_cond);
	g_free(cat);
}

tb_catalog *tb_catalog_open(const char *db_path, GError **error)
{
	tb_catalog *cat;
	char *mode = NULL;
	char what[64];
	int rc;

	g_return_val_if_fail(db_path != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	cat = g_new0(tb_catalog, 1);
	g_mutex_init(&cat->lock);
	g_cond_init(&cat->barrier_cond);
	/* NOMUTEX: one thread at a time uses the connection (open and close on
	 * the main thread, all else on the catalog thread; thread start and
	 * join order them), so SQLite's own mutexes would only cost. */
	rc = sqlite3_open_v2(db_path, &cat->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		g_set_error(error, TB_CATALOG_ERROR, rc, "catalog: cannot open %s: %s", db_path,
			    cat->db ? sqlite3_errmsg(cat->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(cat->db, 5000);
	mode = query_text(cat->db, "PRAGMA journal_mode = WAL", "set WAL", error);
	if (!mode)
		goto fail;
	if (g_ascii_strcasecmp(mode, "wal") != 0) {
		g_set_error(error, TB_CATALOG_ERROR, SQLITE_ERROR,
			    "catalog: %s cannot use WAL (journal_mode stays %s)", db_path, mode);
		goto fail;
	}
	/* NORMAL in WAL: a power cut may lose the last commits, never corrupts. */
	if (!exec_sql(cat->db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
		      "set pragmas", error))
		goto fail;
	if (!migrate(cat, error) || !repair(cat, error) || !read_in_progress(cat, error))
		goto fail;
	for (int i = 0; i < N_STMT; i++) {
		rc = sqlite3_prepare_v3(cat->db, statement_defs[i].sql, -1,
					SQLITE_PREPARE_PERSISTENT, &cat->stmts[i], NULL);
		if (rc != SQLITE_OK) {
			g_snprintf(what, sizeof what, "prepare %s", statement_defs[i].name);
			set_db_error(error, cat->db, rc, what);
			goto fail;
		}
	}
	cat->queue = g_async_queue_new_full(job_free);
	cat->thread = g_thread_try_new("tb-catalog", catalog_thread, cat, error);
	if (!cat->thread)
		goto fail;
	goto out;
fail:
	catalog_free(cat);
	cat = NULL;
out:
	g_free(mode);
	return cat;
}

void tb_catalog_close(tb_catalog *cat)
{
	if (!cat)
		return;
	/* FIFO: the stop job runs after every write queued before it. */
	g_async_queue_push(cat->queue, job_new(JOB_STOP));
	g_thread_join(cat->thread);
	catalog_free(cat);
}

void tb_catalog_flush(tb_catalog *cat)
{
	uint64_t ticket;
	job *j;

	g_return_if_fail(cat != NULL);
	j = job_new(JOB_BARRIER);
	/* Ticket and push under one lock, so tickets reach the thread in order
	 * and barrier_passed only grows. */
	g_mutex_lock(&cat->lock);
	ticket = j->ticket = ++cat->barrier_issued;
	g_async_queue_push(cat->queue, j);
	while (cat->barrier_passed < ticket)
		g_cond_wait(&cat->barrier_cond, &cat->lock);
	g_mutex_unlock(&cat->lock);
}

int tb_catalog_schema_version(tb_catalog *cat)
{
	g_return_val_if_fail(cat != NULL, 0);
	return cat->schema_version;
}

unsigned int tb_catalog_error_count(tb_catalog *cat)
{
	g_return_val_if_fail(cat != NULL, 0);
	return (unsigned int)g_atomic_int_get(&cat->errors);
}

static void enqueue_write(tb_catalog *cat, enum job_kind kind, int64_t ms, const char *text0,
			  const char *text1, const char *text2, const char *text3,
			  const char *text4)
{
	job *j = job_new(kind);

	j->num[0] = ms;
	j->text[0] = g_strdup(text0);
	j->text[1] = g_strdup(text1);
	j->text[2] = g_strdup(text2);
	j->text[3] = g_strdup(text3);
	j->text[4] = g_strdup(text4);
	g_async_queue_push(cat->queue, j);
}

void tb_catalog_session_begin(tb_catalog *cat, const char *session_id, const char *room_id,
			      const char *kind, int64_t started_ms)
{
	g_return_if_fail(cat != NULL);
	enqueue_write(cat, JOB_SESSION_BEGIN, started_ms, session_id, room_id, kind, NULL, NULL);
}

void tb_catalog_session_end(tb_catalog *cat, const char *session_id, int64_t ended_ms)
{
	g_return_if_fail(cat != NULL);
	enqueue_write(cat, JOB_SESSION_END, ended_ms, session_id, NULL, NULL, NULL, NULL);
}

void tb_catalog_attendance_join(tb_catalog *cat, const char *session_id, const char *participant_id,
				const char *user, const char *name, const char *role,
				int64_t joined_ms)
{
	g_return_if_fail(cat != NULL);
	enqueue_write(cat, JOB_ATTENDANCE_JOIN, joined_ms, session_id, participant_id, user, name,
		      role);
}

void tb_catalog_attendance_leave(tb_catalog *cat, const char *session_id,
				 const char *participant_id, int64_t left_ms, const char *reason)
{
	g_return_if_fail(cat != NULL);
	enqueue_write(cat, JOB_ATTENDANCE_LEAVE, left_ms, session_id, participant_id, reason, NULL,
		      NULL);
}

void tb_catalog_attendance_counters(tb_catalog *cat, const char *session_id,
				    const char *participant_id, int64_t speaking_ms,
				    int64_t hands_raised, int64_t reading_turns)
{
	job *j;

	g_return_if_fail(cat != NULL);
	j = job_new(JOB_ATTENDANCE_COUNTERS);
	j->num[0] = speaking_ms;
	j->num[1] = hands_raised;
	j->num[2] = reading_turns;
	j->text[0] = g_strdup(session_id);
	j->text[1] = g_strdup(participant_id);
	g_async_queue_push(cat->queue, j);
}

void tb__catalog_exec(tb_catalog *cat, const char *sql)
{
	job *j;

	g_return_if_fail(cat != NULL && sql != NULL);
	j = job_new(JOB_EXEC);
	j->text[0] = g_strdup(sql);
	g_async_queue_push(cat->queue, j);
}

void tb_catalog_recording_begin(tb_catalog *cat, const char *path, const char *session_id,
				const char *participant_id, const char *user, const char *role,
				const char *kinds, const char *codecs, int64_t started_ms,
				int64_t offset_ms)
{
	job *j;

	g_return_if_fail(cat != NULL);
	j = job_new(JOB_RECORDING_BEGIN);
	j->text[0] = g_strdup(path);
	j->text[1] = g_strdup(session_id);
	j->text[2] = g_strdup(participant_id);
	j->text[3] = g_strdup(user);
	j->text[4] = g_strdup(role);
	j->text[5] = g_strdup(kinds);
	j->text[6] = g_strdup(codecs);
	j->num[0] = started_ms;
	j->num[1] = offset_ms;
	g_async_queue_push(cat->queue, j);
}

void tb_catalog_recording_end(tb_catalog *cat, const char *path, const char *state,
			      int64_t ended_ms, int64_t duration_ms, int64_t bytes, int width,
			      int height, int64_t offset_ms, const char *error)
{
	job *j;

	g_return_if_fail(cat != NULL);
	j = job_new(JOB_RECORDING_END);
	j->text[0] = g_strdup(path);
	j->text[1] = g_strdup(state);
	j->text[2] = g_strdup(error);
	j->num[0] = ended_ms;
	j->num[1] = duration_ms;
	j->num[2] = bytes;
	j->num[3] = width > 0 ? width : NUM_NULL;
	j->num[4] = height > 0 ? height : NUM_NULL;
	j->num[5] = offset_ms >= 0 ? offset_ms : NUM_NULL;
	g_async_queue_push(cat->queue, j);
}

static gpointer catalog_recording_copy(gconstpointer src, gpointer data)
{
	const tb_catalog_recording *r = src;
	tb_catalog_recording *copy = g_new0(tb_catalog_recording, 1);

	*copy = *r;
	copy->path = g_strdup(r->path);
	copy->session_id = g_strdup(r->session_id);
	copy->participant_id = g_strdup(r->participant_id);
	return copy;
}

GPtrArray *tb_catalog_recordings_in_progress(tb_catalog *cat)
{
	GPtrArray *copy;

	g_return_val_if_fail(cat != NULL, NULL);
	copy = g_ptr_array_copy(cat->in_progress, catalog_recording_copy, NULL);
	g_ptr_array_set_free_func(copy, catalog_recording_free);
	return copy;
}
