/* rooms.h — rooms, participants and their presence.
 *
 * The control plane of a room (roster, roles, capacity, lock, chat, booked
 * slot) lives on the main thread, beside signaling; each room is pinned at
 * creation to one media worker, where its media plane will run, so that all
 * packets of a room stay on one thread. Rooms know nothing of WebSockets:
 * they reach a participant's client through a tb_participant_sink.
 *
 * Threads: every function here is main-thread only.
 */
#ifndef TB_ROOMS_H
#define TB_ROOMS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "media.h"
#include "recorder.h"

G_BEGIN_DECLS

typedef struct tb_rooms tb_rooms;
typedef struct tb_room tb_room;
typedef struct tb_participant tb_participant;

typedef enum {
	TB_ROOM_KIND_COACHING = 0,
	TB_ROOM_KIND_WORKSHOP,
} tb_room_kind;

/* Parses "coaching" | "workshop"; returns FALSE otherwise. */
bool tb_room_kind_from_string(const char *s, tb_room_kind *out);
const char *tb_room_kind_to_string(tb_room_kind kind);

/* How the rooms reach one participant's client. */
typedef struct tb_participant_sink {
	/* Delivers event NAME with DATA (transfer none) to the client. */
	void (*event)(void *conn, const char *name, json_t *data);
	/* The server removed the participant (REASON: "replaced", "shutdown",
	 * "room-closed"); it is freed right after this returns, so CONN must
	 * forget it. Not called for tb_participant_leave. */
	void (*removed)(void *conn, tb_participant *participant, const char *reason);
	/* The answer to an asynchronous request (publish, subscriber-answer,
	 * stats): DATA (transfer full) on success, else NULL with ERROR_CODE
	 * (a signaling error code: "bad-field", "conflict", ...) and
	 * MESSAGE. ID is the request's id (transfer none). */
	void (*response)(void *conn, json_t *id, json_t *data, const char *error_code,
			 const char *message);
} tb_participant_sink;

/* What media needs, made once at start-up (nullable in tb_rooms_new: a
 * registry without media answers media requests with an error). */
typedef struct tb_rooms_media {
	tb_dtls_identity *identity; /* the server's DTLS certificate */
	tb_ice_config ice;          /* host addresses, port range, public address */
	bool record;                /* record every session (rooms may opt out) */
	const char *data_dir;       /* recordings go to DATA_DIR/recordings/... */
	tb_catalog *catalog;        /* nullable: recordings rows */
} tb_rooms_media;

/* Files still being written (any thread): a clean stop waits for 0. */
unsigned tb_rooms_recordings_active(void);

/* Turns recording of ROOM's media on or off (from its next packets). */
void tb_room_set_recording(tb_room *room, bool recording);

typedef struct tb_rooms_config {
	int coaching_capacity;
	int workshop_capacity;
	int last_n; /* workshop: camera videos each participant receives (0: 9) */
	int max_rooms;
	int slot_warning_s;
} tb_rooms_config;

/* Returns a new registry (transfer full). WORKERS (transfer none, N_WORKERS
 * >= 1) must outlive it; CATALOG (nullable, transfer none) receives sessions
 * and attendance; CLOCK (nullable: the default clock); MEDIA (nullable,
 * transfer none) must outlive the workers' pending tasks. */
tb_rooms *tb_rooms_new(const tb_rooms_config *config, tb_worker *const *workers, unsigned n_workers,
		       tb_catalog *catalog, const tb_clock *clock, const tb_rooms_media *media);
/* Removes every participant (reason "shutdown") and ends every session;
 * from then on joins and creations fail with TB_EFULL. Idempotent. */
void tb_rooms_close(tb_rooms *rooms);
/* Closes (as above) and frees the registry. NULL is ignored. */
void tb_rooms_free(tb_rooms *rooms);

typedef struct tb_join_params {
	const char *room_id; /* a valid room id */
	const char *user;
	const char *name;
	tb_role role;
	tb_room_kind kind;    /* used when this join creates the room */
	int64_t slot_ends_ms; /* end of the booked slot; 0: none */
} tb_join_params;

/* Adds a participant to PARAMS->room_id, creating the room when absent.
 * An earlier participant of the same user in that room is removed first
 * (reason "replaced"): a reconnecting client takes its own place back.
 * The others get "participant-joined". On success sets *OUT (owned by the
 * room; valid until it leaves or is removed) and returns 0. Errors:
 * TB_EPERM (a curator: library only), TB_EFULL (room at capacity, or no
 * room may be created), TB_ELOCKED (locked room, not mentor/admin),
 * TB_EAUTH (a facilitator removed this user from the room: refused for the
 * rest of the room's life, whatever the role or token). */
int tb_rooms_join(tb_rooms *rooms, const tb_join_params *params, const tb_participant_sink *sink,
		  void *conn, tb_participant **out);

/* Creates an empty room (HTTP API). CAPACITY 0 takes the configured one.
 * Returns 0 and sets *OUT (transfer none, nullable OUT), TB_EEXIST, TB_EFULL
 * (max rooms) or TB_EINVAL (bad id or capacity). */
int tb_rooms_create(tb_rooms *rooms, const char *room_id, tb_room_kind kind, int capacity,
		    bool locked, tb_room **out);

/* Returns the room (transfer none) or NULL. */
tb_room *tb_rooms_lookup(tb_rooms *rooms, const char *room_id);
unsigned tb_rooms_count(const tb_rooms *rooms);
unsigned tb_rooms_participant_count(const tb_rooms *rooms);
/* Returns a new JSON array of room objects (transfer full). */
json_t *tb_rooms_list_json(const tb_rooms *rooms);
/* Returns how many rooms are pinned to worker I. */
unsigned tb_rooms_worker_load(const tb_rooms *rooms, unsigned i);
unsigned tb_rooms_n_workers(const tb_rooms *rooms);

/* Sends a participant who just joined the events it missed (a
 * "slot-ending" already sent). Call after the join response went out, so
 * that the events follow it. */
void tb_participant_welcome(tb_participant *participant);

/* The participant leaves (REASON: "left", "disconnected"); the others get
 * "participant-left"; the room ends when it was the last. Frees PARTICIPANT. */
void tb_participant_leave(tb_participant *participant, const char *reason);

/* Sends event "chat" {participant_id, name, text, ts_ms} to everyone in the
 * room, the sender included. TEXT must be valid UTF-8 (checked by caller). */
void tb_participant_chat(tb_participant *participant, const char *text);

/* ---- media (PROTOCOL.md "Media: two PeerConnections per participant") ----
 * The answers come back through the sink's response() with ID (copied). */

/* Answers the participant's publish offer SDP. SOURCES (nullable, transfer
 * none): [{mid, source}] saying what each section carries. */
void tb_participant_publish(tb_participant *p, const char *sdp, json_t *sources, json_t *id);
/* Stops everything the participant publishes. */
void tb_participant_unpublish(tb_participant *p);
/* The client's answer to subscriber offer VERSION. Returns 0, or
 * TB_ECONFLICT when that offer is not the newest outstanding one (no
 * response is sent then: the caller answers). */
int tb_participant_subscriber_answer(tb_participant *p, const char *sdp, int64_t version,
				     json_t *id);
/* A trickled candidate for the participant's PC ("publish" or "subscribe");
 * NULL or "" means end-of-candidates. Returns 0, TB_EINVAL (bad PC) or
 * TB_EFULL: that PC already took TB_ICE_MAX_REMOTE_CANDIDATES trickled
 * candidates (the first refusal is logged; end-of-candidates is always
 * taken). */
int tb_participant_candidate(tb_participant *p, const char *pc, const char *candidate);
/* Mutes or unmutes the participant's own audio or video: the server stops
 * forwarding it and tells everyone ("participant-updated"). */
void tb_participant_mute(tb_participant *p, tb_sdp_kind kind, bool muted);
/* Answers with the participant's transport counters. */
void tb_participant_stats(tb_participant *p, json_t *id);

/* ---- facilitation (docs/protocol.md "Facilitation") ----
 * Facilitators are mentors and admins. Exercise and reading-order tools
 * work in workshop rooms only; mute-other, remove and lock in both kinds.
 * Every change is room state: it goes to everyone as an event, and
 * tb_room_workshop_json gives it to a late joiner. Server-side mutes (a
 * facilitator's, the exercise's, the reading order's) are kept apart from
 * the participant's own mute: the router forwards audio only when neither
 * mutes it. Errors of all: TB_EPERM (BY is not a facilitator, or the room
 * is not a workshop where that is required). */

/* Starts a timed exercise of DURATION_MS (1 s .. 180 min) titled TITLE
 * (nullable, at most 200 characters, checked by caller): every
 * non-facilitator's audio is muted on the server until it ends (early with
 * tb_participant_exercise_end, or when the time is up). Event "exercise"
 * to everyone. Returns 0 and sets *EXERCISE (transfer full, nullable OUT)
 * to the exercise object, TB_ECONFLICT (one is running) or TB_EINVAL. */
int tb_participant_exercise_start(tb_participant *by, int64_t duration_ms, const char *title,
				  json_t **exercise);
/* Ends the running exercise ("pens down"): audio returns to what it was.
 * Returns 0 or TB_ECONFLICT (none running). */
int tb_participant_exercise_end(tb_participant *by);

/* Sets the reading order to the N participant ids ORDER (transfer none),
 * or, with ORDER NULL, to everyone present but the facilitators in random
 * order. The first is the current reader: spotlighted, and with the
 * facilitators the only ones unmuted. Events "reading" and "spotlight".
 * Returns 0, TB_ENOENT (an id is not in the room) or TB_EINVAL (empty,
 * duplicate ids, nobody to shuffle). */
int tb_participant_reading_set(tb_participant *by, const char *const *order, size_t n);
/* Moves to the next reader: the current one finished (SKIPPED false: a
 * reading turn is counted) or is skipped. Past the end the reading is done:
 * audio restored, spotlight null. Returns 0 or TB_ECONFLICT (no reading in
 * progress). */
int tb_participant_reading_next(tb_participant *by, bool skipped);

/* A facilitator mutes or unmutes TARGET_ID's audio or video on the server.
 * Returns 0 or TB_ENOENT (no such participant in the room). */
int tb_participant_mute_other(tb_participant *by, const char *target_id, tb_sdp_kind kind,
			      bool muted);
/* A facilitator removes TARGET_ID from the room (reason "removed"): it gets
 * "removed" through its sink, the others "participant-left". The removal
 * sticks: its user may not join this room again until the room ends
 * (tb_rooms_join returns TB_EAUTH). Returns 0, TB_EPERM (BY does not
 * facilitate), TB_ENOENT or TB_EINVAL (BY itself: use leave). */
int tb_participant_remove_other(tb_participant *by, const char *target_id);
/* Locks or unlocks the room; event "room-updated" {room}. Returns 0. */
int tb_participant_lock(tb_participant *by, bool locked);

/* Raises P's hand (anyone; raising it again changes nothing). Event
 * "hands" {queue}. */
void tb_participant_raise_hand(tb_participant *p);

/* P's layout: SPOTLIGHT (nullable, copied) is the participant shown large,
 * GRID says tiles (else one large video). It sets the simulcast layer P
 * receives of each video (docs/protocol.md, "view"). Returns 0 or
 * TB_ENOENT (SPOTLIGHT is not in the room). Main thread. */
int tb_participant_set_view(tb_participant *p, const char *spotlight, bool grid);
/* Lowers TARGET_ID's hand (NULL: BY's own); lowering someone else's is for
 * facilitators. Returns 0, TB_EPERM or TB_ENOENT. */
int tb_participant_lower_hand(tb_participant *by, const char *target_id);

/* {exercise, reading, hands, spotlight, active_speaker}: the room's current
 * facilitation state for a late joiner, in the events' shapes (transfer
 * full). */
json_t *tb_room_workshop_json(const tb_room *room);

/* Attendance and engagement of one participant (for the catalog). */
typedef struct tb_participant_counters {
	int64_t speaking_ms;    /* from the audio levels, while not muted */
	unsigned hands_raised;  /* times raised */
	unsigned reading_turns; /* readings finished (reading-next), skips not counted */
} tb_participant_counters;

/* Copies P's counters into *OUT. */
void tb_participant_get_counters(const tb_participant *p, tb_participant_counters *out);
/* True when P may use the facilitation tools (mentor or admin). */
bool tb_participant_facilitates(const tb_participant *p);

tb_room *tb_participant_room(const tb_participant *participant);
const char *tb_participant_id(const tb_participant *participant);
const char *tb_participant_user(const tb_participant *participant);
tb_role tb_participant_role(const tb_participant *participant);

/* {participant_id, user, name, role, tracks, audio_muted, video_muted,
 * forced_muted: {audio, video}, hand_raised} — new JSON object (transfer
 * full). */
json_t *tb_participant_to_json(const tb_participant *participant);
/* {id, kind, capacity, locked, participants: count, session_id} (transfer full). */
json_t *tb_room_to_json(const tb_room *room);
/* Participant objects of everyone but EXCEPT (nullable), in join order. */
json_t *tb_room_roster_json(const tb_room *room, const tb_participant *except);
const char *tb_room_id(const tb_room *room);
const char *tb_room_session_id(const tb_room *room);
tb_room_kind tb_room_kind_get(const tb_room *room);
bool tb_room_locked(const tb_room *room);
/* Returns the worker this room is pinned to (transfer none). */
tb_worker *tb_room_worker(const tb_room *room);

G_END_DECLS

#endif
