/* rooms-private.h — shared by rooms.c (main thread: presence) and
 * room-media.c (the bridge to each room's router on its media worker). */
#ifndef TB_ROOMS_PRIVATE_H
#define TB_ROOMS_PRIVATE_H

#include <stdatomic.h>

#include "rooms.h"

/* Outlives the registry while tasks and replies are in flight between the
 * main thread and the workers: a reply whose registry is gone is dropped. */
typedef struct tb__rooms_handle {
	gint ref;
	tb_rooms *rooms; /* NULL once the registry is freed; main thread only */
} tb__rooms_handle;

/* The worker-side half of a room: made on the main thread, then touched
 * only by tasks on the room's worker (which run in posting order). */
typedef struct tb__precord tb__precord;

typedef struct tb__room_media {
	tb_router *router;          /* worker only */
	GHashTable *records;        /* participant id -> tb__precord (owned); worker only */
	gint recording;             /* atomic: record this room's media */
	/* Wall time the session began (its first join; until then the room's
	 * creation): set on the main thread, read on the worker. */
	_Atomic int64_t session_started_ms;
	char *room_id;              /* immutable */
	char *session_id;           /* immutable */
	tb__rooms_handle *handle;
	tb_worker *worker;
	const tb_rooms_media *media; /* immutable, owned by the registry's owner */
} tb__room_media;

struct tb_rooms {
	tb_rooms_config config;
	tb_worker **workers;
	unsigned *worker_load;
	unsigned n_workers;
	tb_catalog *catalog; /* nullable */
	const tb_clock *clock;
	const tb_rooms_media *media; /* nullable: no media */
	GHashTable *by_id;           /* room id -> tb_room (owned) */
	unsigned n_participants;
	bool closing;
	tb__rooms_handle *handle;
};

/* A raised hand, in the room's queue. */
typedef struct tb__hand {
	char *participant_id;
	int64_t raised_ms;
} tb__hand;

/* Facilitation state of a room (facilitation.c); all main thread. Lives in
 * every room (mute-other, remove and lock apply to coaching rooms too). */
typedef struct tb__workshop {
	/* timed exercise */
	bool exercise_active;
	char *exercise_title;
	int64_t exercise_started_ms, exercise_ends_ms;
	guint exercise_timer; /* GSource id on the main context, 0 when none */
	/* reading order: participant ids (char*, owned) */
	GPtrArray *reading_order; /* NULL: no reading order set */
	guint reading_index;
	bool reading_done;
	GQueue hands;    /* tb__hand* (owned), in raising order */
	/* A facilitator's mutes, by user (not participant id), so that
	 * leaving and joining again does not lift them: user (owned) ->
	 * GUINT_TO_POINTER(bit 0 audio | bit 1 video). NULL until one. */
	GHashTable *imposed;
	/* Users (token sub) a facilitator removed: refused for the rest of
	 * this room's life. user (owned) -> GUINT_TO_POINTER(joins refused).
	 * NULL until one. */
	GHashTable *removed_users;
	char *spotlight; /* participant id or NULL */
	/* active speaker (active-speaker.c) */
	char *active_speaker;
	char *challenger; /* loudest now, not yet long enough */
	int64_t challenger_ms; /* how long it has been the loudest, in a row */
} tb__workshop;

struct tb_room {
	tb_rooms *rooms;
	char *id;
	char *session_id;
	tb_room_kind kind;
	int capacity;
	bool locked;
	bool session_open; /* a catalog session row exists for this life */
	unsigned worker_index;
	GQueue participants; /* tb_participant*, join order (owned) */
	int64_t created_ms;
	int64_t slot_ends_ms;
	guint slot_timer; /* GSource id on the main context, 0 when none */
	bool slot_warned;
	tb__room_media *rm; /* NULL without media */
	tb__workshop ws;    /* facilitation.c */
	/* Who receives which video (room-media.c). */
	GPtrArray *speakers;   /* participant ids (owned), most recently active first */
	char *media_speaker;   /* the active speaker and spotlight the */
	char *media_spotlight; /* subscriptions were last computed with */
};

/* A track as the room knows it (main thread). */
typedef struct tb__track {
	char track_id[TB_SDP_MAX_ID_LEN + 2];
	tb_sdp_kind kind;
	char source[8]; /* "mic", "camera", "screen" */
	bool muted;
} tb__track;

struct tb_participant {
	tb_room *room;
	GList *link; /* in room->participants */
	char *id;
	char *user;
	char *name;
	tb_role role;
	int64_t joined_ms;
	tb_participant_sink sink;
	void *conn;
	/* media, main-thread view */
	GArray *tracks; /* tb__track */
	bool audio_muted, video_muted;
	bool publishing;         /* a publish is in flight */
	json_t *pending_sources; /* its [{mid, source}] */
	uint64_t sub_version;
	bool sub_outstanding; /* an offer awaits its answer */
	bool sub_dirty;       /* the wanted set changed meanwhile */
	char *sub_signature;  /* the wanted set last offered */
	char *quality_signature; /* the qualities last sent to the router */
	/* its layout ("view" request): the participant it shows large, and
	 * tiles or one large video; !view_set: the room kind's default */
	bool view_set;
	bool view_grid;
	char *view_spotlight;
	/* Server candidates wait until the client has our description of
	 * that PC (a browser refuses candidates before it). */
	bool described[2];  /* by tb_pc_kind */
	GPtrArray *held[2]; /* char* candidate lines; "" for end-of-candidates */
	char tag_mid[2][TB_SDP_MAX_ID_LEN + 1]; /* BUNDLE tag of each PC, for sdpMid */
	int tag_index[2];
	/* Trickled candidates taken for each PC (its transport lives as long
	 * as the participant): past TB_ICE_MAX_REMOTE_CANDIDATES they are
	 * refused, and the first refusal is logged. */
	unsigned trickled[2];
	bool trickle_refusal_logged[2];
	/* facilitation (facilitation.c) */
	/* The server-side mute in force ([0] audio, [1] video): a
	 * facilitator's, the exercise's or the reading order's. */
	bool forced_applied[2];
	bool hand_raised;
	tb_participant_counters counters; /* attendance */
};

/* room-recording.c (worker side, except where said) */
tb__precord *tb__precord_new(tb__room_media *rm, const char *participant_id, const char *user,
			     const char *role);
void tb__precord_packet(tb__precord *pr, const tb_router_track_codec *track, const uint8_t *buf,
			size_t len);
void tb__precord_stop(tb__precord *pr);
void tb__precord_free(tb__precord *pr);

/* room-media.c */
void tb__room_media_start(tb_room *room);
void tb__room_media_stop(tb_room *room);
void tb__room_media_participant_left(tb_participant *p);
/* The room's session began at STARTED_MS (wall time; main thread). */
void tb__room_media_session_started(tb_room *room, int64_t started_ms);
/* Returns that time (any thread). */
int64_t tb__room_media_session_started_ms(tb__room_media *rm);
/* Recomputes every participant's subscriptions and offers what changed. */
void tb__room_media_update(tb_room *room);
void tb__rooms_handle_unref(tb__rooms_handle *handle);

/* facilitation.c */
/* P is joining (not in the roster yet): applies the room's mutes to it,
 * silently (its participant object shows them). */
void tb__facilitation_joined(tb_participant *p);
/* P left (out of the roster, not freed yet): hands, reading order,
 * spotlight and active speaker forget it; events go out. */
void tb__facilitation_left(tb_participant *p);
/* Frees the room's facilitation state and stops its timer. */
void tb__facilitation_free(tb_room *room);
/* Whether USER was removed from ROOM by a facilitator (then every join of
 * that user is refused until the room ends). Counts the refusal and logs
 * the first one per user (later ones at debug level). Main thread. */
bool tb__facilitation_refuses(tb_room *room, const char *user);
/* True for roles that facilitate: mentor and admin. */
bool tb__role_facilitates(tb_role role);

/* active-speaker.c */
/* The levels of one router interval (main thread): speaking time and the
 * active speaker. LEVELS: as tb_router_audio_level, ids copied. */
void tb__room_audio_levels(tb_room *room, const tb_router_audio_level *levels, size_t n,
			   unsigned interval_ms);
/* P left: a current active speaker becomes null (event). */
void tb__active_speaker_left(tb_participant *p);

/* room-media.c */
/* Tells the router P's server-side mute of KIND. */
void tb__room_media_force_mute(tb_participant *p, tb_sdp_kind kind, bool muted);

/* rooms.c */
tb_participant *tb__room_find_participant(tb_room *room, const char *participant_id);
void tb__room_send(tb_room *room, const tb_participant *except, const char *name, json_t *data);
/* Sends "participant-updated" {participant} to everyone in the room, P
 * included (its own clients learn the server state too). */
void tb__participant_updated(tb_participant *p);
/* The server removes P (REASON), telling it first. */
void tb__participant_remove(tb_participant *p, const char *reason);

#endif
