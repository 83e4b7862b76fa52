/* library.h — the curator library: search, read and curate the catalog.
 *
 * A tb_library owns a second SQLite connection to the catalog (tribu.db,
 * WAL: readers never wait for the recorder's writes) on a thread of its own.
 * Every call copies its arguments, queues the work on that thread and
 * returns at once; the answer comes back through a callback run on the
 * reply context given at open (the main loop in tribud), never inside the
 * call. So a slow query never stalls signaling.
 *
 * Access rules are applied here, in the queries themselves, so that a
 * session a viewer may not see is absent from every list and a direct read
 * answers TB_EPERM:
 *  - curator, admin: every session;
 *  - mentor, student: the sessions they attended (attendance.user equals
 *    their token's sub) and every session marked 'reference'.
 * Only curators and admins curate (TB_EPERM otherwise); each change is an
 * audit row (who, role, when, session, field, old, new).
 *
 * The schema (vocabulary, curation, curation_fts, audit) is the catalog's
 * migration 3: open the catalog (tb_catalog_open) before the library.
 */
#ifndef TB_LIBRARY_H
#define TB_LIBRARY_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common.h"

G_BEGIN_DECLS

typedef struct tb_library tb_library;

/* Who asks: the token's sub and role. USER is copied by each call. */
typedef struct tb_library_viewer {
	const char *user;
	tb_role role;
} tb_library_viewer;

typedef enum {
	TB_LIBRARY_SORT_DEFAULT = 0, /* relevance with a text query, else newest first */
	TB_LIBRARY_SORT_RELEVANCE,   /* best match first (newest without a text query) */
	TB_LIBRARY_SORT_DATE,        /* oldest first */
	TB_LIBRARY_SORT_DATE_DESC,   /* newest first */
} tb_library_sort;

#define TB_LIBRARY_PER_PAGE_MAX 100
#define TB_LIBRARY_QUERY_MAX    256 /* bytes of the text query */
#define TB_LIBRARY_NO_TIME      INT64_MIN

/* A search. Strings are nullable (no filter) and copied. */
typedef struct tb_library_query {
	const char *text; /* words, all required (the last one also as a prefix when
			     it has 3 characters or more); FTS5 over title, notes
			     and keywords */
	const char *stage;
	const char *sector;
	const char *problem;
	const char *visibility; /* "confidential" | "reference" */
	const char *mentor;     /* user id of a mentor who attended */
	int64_t from_ms;        /* started at or after; TB_LIBRARY_NO_TIME: none */
	int64_t to_ms;          /* started before; TB_LIBRARY_NO_TIME: none */
	tb_library_sort sort;
	int page;     /* 1-based; 0 means 1 */
	int per_page; /* 1..TB_LIBRARY_PER_PAGE_MAX; 0 means 20 */
} tb_library_query;

/* The answer to one call. CODE is 0 or a TB_E* value:
 *  TB_EINVAL  bad input; FIELD names the parameter or body field;
 *  TB_EPERM   the viewer may not see or change this;
 *  TB_ENOENT  no such session, recording or vocabulary kind;
 *  TB_EEXIST  the vocabulary value exists already;
 *  TB_ECONFLICT the recording cannot be played (still recording, failed);
 *  TB_EIO     the catalog failed or stayed locked (MESSAGE says which).
 * MESSAGE is an English sentence for the client (never NULL). */
typedef struct tb_library_reply {
	int code;
	const char *field;
	const char *message;
	/* On success: the answer (transfer none: json_incref to keep it). */
	json_t *body;
	/* tb_library_open_recording: the open file (O_RDONLY), its size, its
	 * modification time (ns since the epoch) and MIME type. The callback
	 * takes FD by setting it to -1; otherwise it is closed afterwards. */
	int fd;
	int64_t size;
	int64_t mtime_ns;
	const char *content_type;
} tb_library_reply;

/* Runs on the reply context. REPLY is valid during the call only. */
typedef void (*tb_library_done)(tb_library_reply *reply, void *user_data);

/* Opens the catalog at DB_PATH (it must exist with schema 3 or later: open
 * the catalog first) for reading and curating, and starts the library
 * thread. DATA_DIR is where recordings' relative paths start; only files
 * under DATA_DIR/recordings are ever opened. Answers are delivered on
 * REPLY_CONTEXT (a ref is taken; NULL: the default context). Returns a new
 * library (transfer full) or NULL with ERROR. Main thread. */
tb_library *tb_library_open(const char *db_path, const char *data_dir, GMainContext *reply_context,
			    GError **error);

/* Runs the calls already queued (their answers are posted to the reply
 * context, where they still run), closes the connection and joins the
 * thread. NULL is ignored. Main thread. */
void tb_library_close(tb_library *lib);

/* The calls. Each copies what it is given, never blocks, and runs DONE
 * exactly once, later, on the reply context. Main thread (any thread, in
 * fact: they only queue). */

/* Searches: body {total, page, per_page, results: [{session_id, title,
 * stage, sector, problem, keywords[], visibility, started_ms, ended_ms,
 * duration_ms, room_id, kind, mentor: {user, name} | null}]}. Unknown tag
 * values are TB_EINVAL naming the filter. */
void tb_library_search(tb_library *lib, const tb_library_viewer *viewer,
		       const tb_library_query *query, tb_library_done done, void *user_data);

/* One session: body {id, room_id, kind, started_ms, ended_ms, end_reason,
 * duration_ms, title, notes, keywords[], stage, sector, problem, visibility,
 * updated_ms, updated_by, mentor, participants: [{user, name, role,
 * present_ms}], attendance: [...], recordings: [...]}. */
void tb_library_session(tb_library *lib, const tb_library_viewer *viewer, const char *session_id,
			tb_library_done done, void *user_data);

/* Changes the curation of a session from CHANGES, a JSON object with any of
 * title, notes, keywords (array of strings), stage, sector, problem (a
 * vocabulary value or null), visibility; deep-copied. Curators and admins
 * only. One audit row per field that changed, in the same transaction.
 * Body: the session as tb_library_session gives it. */
void tb_library_curate(tb_library *lib, const tb_library_viewer *viewer, const char *session_id,
		       const json_t *changes, tb_library_done done, void *user_data);

/* The reference sessions closest to SESSION_ID that the viewer may see:
 * same problem, then sector, then stage first, then keyword overlap, then
 * newest; at most LIMIT (1..50). Body {session_id, results: [...]} with
 * the rows of a search plus "score" {tags, keywords}. */
void tb_library_related(tb_library *lib, const tb_library_viewer *viewer, const char *session_id,
			int limit, tb_library_done done, void *user_data);

/* The audit rows of a session, oldest first: body {session_id, entries:
 * [{at_ms, user, role, field, old, new}]}. Curators and admins only. */
void tb_library_audit(tb_library *lib, const tb_library_viewer *viewer, const char *session_id,
		      tb_library_done done, void *user_data);

/* Who attended and how (workshops): body {session_id, participants: [{user,
 * name, role, present_ms, speaking_ms, speaking_share, hands_raised,
 * reading_turns, joins, silent}], attendance: [{participant_id, user, name,
 * role, joined_ms, left_ms, leave_reason, speaking_ms, hands_raised,
 * reading_turns}]}, one participants entry per user, "silent" when heard
 * for less than a second. The session's mentors, curators and admins only
 * (TB_EPERM otherwise). */
void tb_library_attendance(tb_library *lib, const tb_library_viewer *viewer,
			   const char *session_id, tb_library_done done, void *user_data);

/* The vocabulary: body {stage: [{value, label}], sector: [...], problem:
 * [...]}. Any viewer. */
void tb_library_vocabulary(tb_library *lib, const tb_library_viewer *viewer, tb_library_done done,
			   void *user_data);

/* Adds VALUE (1..48 of a-z 0-9 -, starting with a letter or digit) with
 * LABEL (1..80 bytes of UTF-8) to KIND ("stage", "sector", "problem").
 * Curators and admins only; audited. Body {kind, value, label}. */
void tb_library_vocabulary_add(tb_library *lib, const tb_library_viewer *viewer, const char *kind,
			       const char *value, const char *label, tb_library_done done,
			       void *user_data);

/* Opens the file of recording RECORDING_ID for playback, if the viewer may
 * see its session and the recording is 'complete' or 'truncated'. The path
 * comes from the catalog, is resolved (realpath) and must stay under
 * DATA_DIR/recordings. Body {recording_id, session_id, path}; FD, SIZE,
 * MTIME_NS and CONTENT_TYPE are set. */
void tb_library_open_recording(tb_library *lib, const tb_library_viewer *viewer,
			       int64_t recording_id, tb_library_done done, void *user_data);

/* True if ID could be a session id (1..64 of A-Z a-z 0-9 _ -). Any thread. */
bool tb_library_session_id_valid(const char *id);

G_END_DECLS

#endif
