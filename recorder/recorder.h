/* recorder.h — recordings of sessions (GStreamer, pipeline.c) and the catalog
 * of sessions, attendance and recordings (SQLite, catalog.c).
 *
 * Catalog: one SQLite connection (WAL mode) owned by a dedicated catalog
 * thread. Writes are queued to that thread and return at once: signaling
 * never waits on disk. Schema changes go through numbered migrations run at
 * open. Every catalog function may be called from any thread, except
 * tb_catalog_open/close, which the main thread calls once each.
 *
 * Recordings: one tb_recording is one participant's file. A media worker
 * pushes the decrypted RTP it already has; the recording never blocks it.
 * The threads of each function are said at the function.
 */
#ifndef TB_RECORDER_H
#define TB_RECORDER_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
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

/* Queues: the engagement of that participant so far (workshops): SPEAKING_MS
 * as the active speaker, hands raised, reading turns. Replaces the values
 * written before; call it before tb_catalog_attendance_leave. */
void tb_catalog_attendance_counters(tb_catalog *catalog, const char *session_id,
				    const char *participant_id, int64_t speaking_ms,
				    int64_t hands_raised, int64_t reading_turns);

/* ---- recordings in the catalog ----
 * A row is keyed by its file's PATH relative to the data dir (unique: the
 * caller names each file once, "<yyyy>/<mm>/<session>/<participant>-<n>.webm"
 * under recordings/), so the queued writes need no id back from the
 * database. */

/* Queues: a new row in state 'recording'. KINDS is "audio", "video" or
 * "audio,video"; CODECS lists the codecs in the same order ("opus,VP8").
 * STARTED_MS is wall time (Unix ms); OFFSET_MS the file's start relative to
 * the session's start (a guess that tb_catalog_recording_end may correct).
 * Strings are copied; a duplicate PATH or an unknown SESSION_ID is a failed
 * write (counted, logged). */
void tb_catalog_recording_begin(tb_catalog *catalog, const char *path, const char *session_id,
				const char *participant_id, const char *user, const char *role,
				const char *kinds, const char *codecs, int64_t started_ms,
				int64_t offset_ms);

/* Queues: the row of PATH (still in 'recording') ends in STATE, one of
 * "complete", "truncated" or "failed", with what the file holds: DURATION_MS,
 * BYTES, the video's WIDTH x HEIGHT (<= 0: none, stored NULL), OFFSET_MS
 * (< 0: keep the value given at begin) and ERROR (NULL unless failed; a
 * truncated row may say why). ENDED_MS is wall time. A row that is not in
 * 'recording' any more is left alone and counted as a failed write. */
void tb_catalog_recording_end(tb_catalog *catalog, const char *path, const char *state,
			      int64_t ended_ms, int64_t duration_ms, int64_t bytes, int width,
			      int height, int64_t offset_ms, const char *error);

/* A row a crash left in 'recording'. */
typedef struct tb_catalog_recording {
	int64_t id;
	char *path; /* relative to the data dir */
	char *session_id;
	char *participant_id;
	int64_t started_ms;
	int64_t offset_ms;
} tb_catalog_recording;

/* Returns the rows that were in state 'recording' when the catalog opened,
 * i.e. files a crash or kill left unfinalised, oldest first, as a new array
 * of tb_catalog_recording * (transfer full; its free function frees the
 * rows; empty when none). The server repairs each file
 * (tb_recording_repair, off the main thread) and ends its row 'truncated'
 * (or 'failed' when nothing could be read). Rows begun after open are never
 * listed. Any thread. */
GPtrArray *tb_catalog_recordings_in_progress(tb_catalog *catalog);

/* ---- recordings: the files (pipeline.c) ---- */

/* Initialises GStreamer (once per process; repeated calls are cheap) and
 * checks that every element a recording needs is installed. Returns false
 * with ERROR naming what is missing. Call from the main thread at start-up,
 * before any other tb_recording function. */
bool tb_recorder_init(GError **error);

typedef struct tb_recording tb_recording;

typedef enum {
	TB_RECORDING_AUDIO,
	TB_RECORDING_VIDEO,
} tb_recording_kind;

/* One RTP stream of the participant, as negotiated in SDP. */
typedef struct tb_recording_track {
	tb_recording_kind kind;
	const char *codec; /* "opus" | "VP8" | "VP9" | "H264" (any case); not kept */
	int clock_rate;    /* RTP clock rate: 48000 for Opus, 90000 for video */
	int payload_type;  /* of the media packets (0..127); others are dropped */
} tb_recording_track;

typedef enum {
	TB_RECORDING_COMPLETE,  /* finalised: duration and cues written */
	TB_RECORDING_TRUNCATED, /* was not finalised; repaired from what was written */
	TB_RECORDING_FAILED,    /* I/O or stream error, or no media at all (the empty
				 * file is removed); ERROR says which */
} tb_recording_state;

/* Returns "complete", "truncated" or "failed" (static), the catalog's words. */
const char *tb_recording_state_to_string(tb_recording_state state);

/* What a file holds. In finished, the pointers are valid during the
 * callback; from tb_recording_repair, PATH is the caller's and ERROR NULL. */
typedef struct tb_recording_result {
	tb_recording_state state;
	const char *path;    /* absolute, as given */
	const char *error;   /* NULL unless FAILED (TRUNCATED: may say why) */
	int64_t duration_ms; /* from the first to the last media in the file */
	int64_t bytes;       /* size of the file on disk */
	int width, height;   /* first video resolution; 0 without video */
	/* Monotonic time (g_get_monotonic_time) that the file's t=0 stands for,
	 * i.e. the arrival of its first media; 0 when nothing was written.
	 * The catalog's offset_ms = this minus the session's start. */
	int64_t start_mono_us;
	uint64_t packets;         /* RTP packets taken */
	uint64_t packets_dropped; /* refused: full queue, wrong payload type, stopped */
	char error_buf[256];      /* storage behind ERROR */
} tb_recording_result;

/* Callbacks; all run on CONTEXT's thread, never inside a tb_recording call. */
typedef struct tb_recording_callbacks {
	/* Where the bus is watched, the timers run and the callbacks are called:
	 * the main (or catalog) thread's context, not a media worker's (stopping
	 * a pipeline may wait on disk; that wait happens on a helper thread, but
	 * the main loop is where it lands). Required; a ref is taken. */
	GMainContext *context;
	/* The video track TRACK_INDEX needs a keyframe: send the publisher a PLI
	 * (or FIR). Called when a video track starts, every second while its
	 * first keyframe is missing, and (at most once a second) when the
	 * depayloader lost packets it needs a keyframe to recover from. May be
	 * NULL. */
	void (*need_keyframe)(void *user_data, size_t track_index);
	/* The file is closed: complete, failed, or (an end that could not be
	 * finalised in time) repaired and truncated. Called exactly once for
	 * every recording tb_recording_new returned, whether or not stop was
	 * called first (an error ends a recording on its own); after it no
	 * callback runs. Required. */
	void (*finished)(void *user_data, const tb_recording_result *result);
} tb_recording_callbacks;

/* Starts recording to ABS_PATH (parent directories are created; an existing
 * file is replaced) with N_TRACKS tracks (1..TB_RECORDING_MAX_TRACKS):
 * WebM (webmmux) for VP8/VP9 + Opus, Matroska (matroskamux) when a track is
 * H264. Per track: appsrc -> rtpjitterbuffer (200 ms, do-lost) ->
 * depayloader -> parser -> muxer -> filesink. Timestamps come from the
 * arrival times given to tb_recording_push_rtp (smoothed along each track's
 * RTP timestamps, so that packets delayed in a burst keep their spacing),
 * relative to one base per recording, so audio and video stay in sync; the file starts at 0 and the
 * first video frame is a keyframe (video is dropped until one comes, see
 * need_keyframe).
 *
 * Give only tracks that are sending (their first packet has arrived), and
 * add the others when they start: the muxer writes in timestamp order and
 * waits for every track, so a track that sends nothing holds the others in
 * memory. A track given nothing for 10 s while another goes on is therefore
 * ended in this file (push_rtp then says TB_ECONFLICT: go on in the next
 * file); a shorter pause is a gap in the file.
 *
 * Returns a new recording (transfer full) or NULL with ERROR for bad
 * arguments (unknown codec, too many tracks, H264 into a .webm path, a
 * relative path) or a missing GStreamer
 * element; then no callback fires. I/O failures (an unwritable directory, a
 * full disk) do not fail this call: they end the recording through
 * finished(FAILED) and touch nothing else. Cheap and non-blocking (no file
 * I/O: the pipeline starts on CALLBACKS->context), so a worker may call it.
 * CALLBACKS is copied; USER_DATA must stay valid until finished has
 * returned. Any thread; tb_recorder_init must have succeeded. */
tb_recording *tb_recording_new(const char *abs_path, const tb_recording_track *tracks,
			       size_t n_tracks, const tb_recording_callbacks *callbacks,
			       void *user_data, GError **error);

#define TB_RECORDING_MAX_TRACKS 8

/* Adds a track to a running recording (a camera turned on mid-call).
 * Returns its index (>= 0, the next one), or:
 *  TB_ECONFLICT: this file cannot take it: its muxer has already written the
 *    header (Matroska cannot add a track then), or the file is WebM and the
 *    track H264. Roll over: tb_recording_stop this one, and start the next
 *    file (<participant>-<n+1>, .mkv for H264) with the old tracks in the
 *    same order plus the new one, so track indexes stay the same.
 *  TB_EINVAL: bad track; TB_EFULL: TB_RECORDING_MAX_TRACKS reached;
 *  TB_ENOENT: the recording is stopping or over.
 * So a track added before any media reached the muxer (e.g. right after
 * tb_recording_new) lands in this file. Any thread; does not block on I/O. */
int tb_recording_add_track(tb_recording *rec, const tb_recording_track *track);

/* Copies one RTP packet of track TRACK_INDEX that arrived at ARRIVAL_MONO_US
 * (g_get_monotonic_time(), the real monotonic clock: the jitter buffer times
 * losses against it) into the pipeline. Never blocks and never calls out.
 * Returns 0, or (the packet is dropped and counted):
 *  TB_EINVAL: unknown track, not RTP, or another payload type (RTX, FEC);
 *  TB_EFULL: the track's queue is full (the pipeline is behind);
 *  TB_ENOENT: not started yet, already stopping, or ended by an error;
 *  TB_ECONFLICT: this track was idle for 10 s and is ended in this file:
 *    roll over as for tb_recording_add_track (stop this recording, start
 *    the next file with the same tracks) and push the packet there.
 * Meant for the media worker that owns the publisher: one thread at a time
 * per recording. Push only what the recording should hold: one SSRC per
 * track (for simulcast, the layer the SFU forwards, sequence numbers and
 * timestamps rewritten to be continuous). */
int tb_recording_push_rtp(tb_recording *rec, size_t track_index, const uint8_t *buf,
			  size_t len, int64_t arrival_mono_us);

/* Ends the recording: sends end-of-stream into every track and returns;
 * the muxer writes duration and cues, then finished(COMPLETE) runs on the
 * context. If that takes more than TB_RECORDING_STOP_TIMEOUT_S, the pipeline
 * is torn down, the file repaired, and finished says TRUNCATED. Idempotent;
 * a no-op after the recording failed. Any thread. */
void tb_recording_stop(tb_recording *rec);

#define TB_RECORDING_STOP_TIMEOUT_S 10

/* Returns true once the recording takes no more packets: stopped, or ended
 * by an error (a TB_ENOENT from push_rtp before the recording started is
 * not that). Lock-free; any thread. */
bool tb_recording_is_over(tb_recording *rec);

/* Returns the path given to tb_recording_new (transfer none). Any thread. */
const char *tb_recording_path(tb_recording *rec);

/* Reference counting: tb_recording_new gives the caller one reference; the
 * recording keeps itself alive until finished has run, so dropping the
 * caller's reference early is allowed (after tb_recording_stop; without it,
 * the recording runs on until an error). Any thread. */
tb_recording *tb_recording_ref(tb_recording *rec);
void tb_recording_unref(tb_recording *rec);

/* Rewrites the Matroska/WebM file at PATH, as a crash or kill left it (no
 * duration, no cues, a cut last cluster), into a finalised file with
 * duration and cues: demuxes what can be read and remuxes it (no
 * transcoding) into a temporary file beside it, then renames it over PATH.
 * Fills OUT (state TRUNCATED, duration_ms, bytes, width, height; path points
 * to PATH) and returns true; returns false with ERROR when PATH is missing or
 * holds no readable media (PATH is then left as it was). Blocks for as long
 * as reading and writing the file takes (about a second for an hour of
 * 1 Mbit/s): call it from a start-up or helper thread, never a media worker.
 * Any thread. */
bool tb_recording_repair(const char *path, tb_recording_result *out, GError **error);

/* Error domain for tb_recorder_init, tb_recording_new and _repair; the code
 * is a TB_E* value. */
#define TB_RECORDER_ERROR (tb_recorder_error_quark())
GQuark tb_recorder_error_quark(void);

G_END_DECLS

#endif
