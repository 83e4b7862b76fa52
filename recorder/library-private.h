/* library-private.h — shared by the files of the library: library.c (the
 * thread, the calls, the reads) and library-curate.c (curation, audit and
 * vocabulary: the writes). Everything here runs on the library thread,
 * except task_new and the public calls that fill a task.
 *
 * Not part of the public contract (library.h).
 */
#ifndef TB_LIBRARY_PRIVATE_H
#define TB_LIBRARY_PRIVATE_H

#include <sqlite3.h>

#include "library.h"

G_BEGIN_DECLS

struct tb_library {
	sqlite3 *db; /* library thread only, after open */
	char *data_dir;
	char *recordings_root; /* realpath of data_dir/recordings */
	tb_worker *worker;
	GMainContext *reply_context;
	GHashTable *stmts; /* SQL text -> sqlite3_stmt*, library thread only */
};

enum tb_library_task_kind {
	TASK_SEARCH,
	TASK_SESSION,
	TASK_CURATE,
	TASK_RELATED,
	TASK_AUDIT,
	TASK_VOCABULARY,
	TASK_VOCABULARY_ADD,
	TASK_OPEN_RECORDING,
	TASK_ATTENDANCE,
};

typedef struct tb_library_task {
	enum tb_library_task_kind kind;
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
} tb_library_task;

/* ---- library.c ---- */

/* Fails task T with CODE (a TB_E* value), FIELD (static or owned by the
 * task; nullable) and a message; drops any body. */
void tb__library_fail(tb_library_task *t, int code, const char *field, const char *fmt, ...)
	G_GNUC_PRINTF(4, 5);
/* Fails T for SQLite result RC: "busy" for a lock held too long, else logged. */
void tb__library_fail_db(tb_library_task *t, int rc, const char *what);
/* Returns the cached statement for SQL, reset and unbound (transfer none),
 * or NULL with T failed. */
sqlite3_stmt *tb__library_prepare(tb_library_task *t, const char *sql);
const char *tb__library_col_text(sqlite3_stmt *stmt, int i);
/* Column I as a JSON string or integer, or null (transfer full). */
json_t *tb__library_col_json_text(sqlite3_stmt *stmt, int i);
json_t *tb__library_col_json_int(sqlite3_stmt *stmt, int i);
/* Stored keywords ("a, b") as a JSON array (transfer full). */
json_t *tb__library_keywords_json(const char *stored);
bool tb__library_sees_all(tb_role role);
bool tb__library_tag_kind_valid(const char *kind);
/* True if VALUE is in vocabulary KIND; else T fails (TB_EINVAL naming FIELD). */
bool tb__library_check_tag(tb_library_task *t, const char *kind, const char *value,
			   const char *field);
/* True if session ID exists and T's viewer may see it; else T fails
 * (TB_ENOENT, TB_EPERM, TB_EIO). */
bool tb__library_check_session(tb_library_task *t, const char *id);
/* The rows of SQL (?1 = ID) through ROW, as a JSON array (transfer full), or
 * NULL with T failed. */
json_t *tb__library_read_list(tb_library_task *t, const char *sql, const char *id,
			      json_t *(*row)(sqlite3_stmt *stmt));
/* Sets T's body to session ID as GET /api/sessions/ID shows it. */
void tb__library_read_session(tb_library_task *t, const char *id);
/* Free text to an FTS5 query (transfer full; NULL: no word). Pure. */
char *tb__library_fts_query(const char *text);

/* ---- library-curate.c ---- */

/* Reads the stored value of FIELD (a curation column) of T's session. */
bool tb__library_stored_value(tb_library_task *t, const char *field, char **out);
bool tb__library_exec_step(tb_library_task *t, sqlite3_stmt *stmt, const char *what);
bool tb__library_exec_simple(tb_library_task *t, const char *sql);
void tb__library_run_curate(tb_library_task *t);
void tb__library_run_audit(tb_library_task *t);
void tb__library_run_vocabulary(tb_library_task *t);
void tb__library_run_vocabulary_add(tb_library_task *t);

/* ---- library-attendance.c ---- */

void tb__library_run_attendance(tb_library_task *t);

G_END_DECLS

#endif
