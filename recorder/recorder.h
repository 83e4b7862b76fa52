/* recorder.h — the catalog of sessions, attendance (and, later, recordings).
 *
 * One SQLite connection (WAL mode) owned by a dedicated catalog thread.
 * Writes are queued to that thread and return at once: signaling never waits
 * on disk. Schema changes go through numbered migrations run at open.
 *
 * Threads: every function may be called from any thread, except
 * tb_catalog_open/close, which the main thread calls once each.
 */
#ifndef TB_RECORDER_H
#define TB_RECORDER_H

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct tb_catalog tb_catalog;

/* Opens (creating when missing) the SQLite file at DB_PATH, switches it to
 * WAL, runs pending migrations, closes sessions and attendance left open by
 * a crash (ended = last known time, end_reason "crash"), and starts the
 * catalog thread. Returns a new catalog (transfer full) or NULL with ERROR. */
tb_catalog *tb_catalog_open(const char *db_path, GError **error);

/* Runs every queued write, closes the database and joins the thread.
 * NULL is ignored. */
void tb_catalog_close(tb_catalog *catalog);

/* Blocks until every write queued before the call has been committed. */
void tb_catalog_flush(tb_catalog *catalog);

/* Returns the schema version (the number of the last migration applied). */
int tb_catalog_schema_version(tb_catalog *catalog);

/* Error domain of tb_catalog_open; the codes are SQLite result codes
 * (SQLITE_CANTOPEN, SQLITE_CORRUPT, ...), or SQLITE_ERROR for a database
 * whose schema is newer than this build. */
#define TB_CATALOG_ERROR (tb_catalog_error_quark())
GQuark tb_catalog_error_quark(void);

/* Returns how many queued writes did not take effect since open: SQLite
 * errors (constraint, disk full, I/O) and updates that matched no open row
 * (ending an unknown or already ended session, leaving twice). Each is also
 * logged to stderr as one "[db] ..." line (rate-limited). */
unsigned int tb_catalog_error_count(tb_catalog *catalog);

/* Queues: a new session (one life of a room). Strings are copied. */
void tb_catalog_session_begin(tb_catalog *catalog, const char *session_id, const char *room_id,
			      const char *kind, int64_t started_ms);
/* Queues: the session ended at ENDED_MS. */
void tb_catalog_session_end(tb_catalog *catalog, const char *session_id, int64_t ended_ms);
/* Queues: a participant joined session SESSION_ID. */
void tb_catalog_attendance_join(tb_catalog *catalog, const char *session_id,
				const char *participant_id, const char *user, const char *name,
				const char *role, int64_t joined_ms);
/* Queues: that participant left, with REASON ("left", "disconnected",
 * "replaced", "shutdown", ...). */
void tb_catalog_attendance_leave(tb_catalog *catalog, const char *session_id,
				 const char *participant_id, int64_t left_ms, const char *reason);

G_END_DECLS

#endif
