/* room-media.c — the bridge between a room (main thread) and its router
 * (the room's media worker).
 *
 * The main thread decides: who publishes what, who receives what, when a
 * subscriber offer goes out (at most one outstanding per participant,
 * PROTOCOL.md). The worker does: SDP, ICE, DTLS, forwarding. They talk only
 * by posted tasks that carry copies of what they need; a reply finds its
 * room and participant again by id, and is dropped if they are gone. Tasks
 * of one room run on its worker in posting order, so the router is made
 * before and freed after everything else that touches it.
 */
#include <string.h>

#include "rooms-private.h"

#define CAT "rooms.media"

/* ---- the registry handle ---- */

static tb__rooms_handle *handle_ref(tb__rooms_handle *h)
{
	g_atomic_int_inc(&h->ref);
	return h;
}

void tb__rooms_handle_unref(tb__rooms_handle *h)
{
	if (h && g_atomic_int_dec_and_test(&h->ref))
		g_free(h);
}

/* ---- worker → main ---- */

typedef enum {
	REPLY_PUBLISH,
	REPLY_SUBSCRIBE,
	REPLY_ANSWER,
	REPLY_STATS,
	REPLY_CANDIDATE,
	REPLY_STATE,
	REPLY_LEVELS,
} reply_kind;

/* One entry of REPLY_LEVELS: a copy of tb_router_audio_level. */
typedef struct level_copy {
	char participant_id[64];
	uint8_t level;
	bool muted;
} level_copy;

typedef struct reply {
	reply_kind kind;
	tb__rooms_handle *handle;
	char *room_id;
	char *session_id;
	char *participant_id;
	json_t *id; /* request id (deep copy) */
	char *sdp;
	GArray *tracks; /* tb_router_track (publish) or tb_router_mapping (subscribe) */
	json_t *data;
	const char *error_code;
	char *message;
	uint64_t version;
	tb_pc_kind pc;
	char *candidate; /* NULL: end of candidates */
	char *mid;
	int mline;
	tb_transport_state state;
	GArray *levels; /* level_copy */
	unsigned interval_ms;
} reply;

static void reply_free(reply *r)
{
	tb__rooms_handle_unref(r->handle);
	g_free(r->room_id);
	g_free(r->session_id);
	g_free(r->participant_id);
	if (r->id)
		json_decref(r->id);
	g_free(r->sdp);
	if (r->tracks)
		g_array_free(r->tracks, TRUE);
	if (r->data)
		json_decref(r->data);
	g_free(r->message);
	g_free(r->candidate);
	g_free(r->mid);
	if (r->levels)
		g_array_free(r->levels, TRUE);
	g_free(r);
}

static reply *reply_new(tb__room_media *rm, reply_kind kind, const char *participant_id)
{
	reply *r = g_new0(reply, 1);

	r->kind = kind;
	r->handle = handle_ref(rm->handle);
	r->room_id = g_strdup(rm->room_id);
	r->session_id = g_strdup(rm->session_id);
	r->participant_id = g_strdup(participant_id);
	return r;
}

static gboolean reply_dispatch(gpointer data);

static void post_reply(reply *r)
{
	g_main_context_invoke_full(NULL, G_PRIORITY_DEFAULT, reply_dispatch, r,
				   (GDestroyNotify)reply_free);
}

/* ---- main → worker ---- */

typedef enum {
	TASK_ROUTER_NEW,
	TASK_ROUTER_FREE,
	TASK_PEER_FREE,
	TASK_PUBLISH,
	TASK_UNPUBLISH,
	TASK_SUBSCRIBE,
	TASK_ANSWER,
	TASK_CANDIDATE,
	TASK_MUTE,
	TASK_FORCE_MUTE,
	TASK_STATS,
	TASK_QUALITY,
} task_kind;

typedef struct task {
	task_kind kind;
	tb__room_media *rm;
	char *participant_id;
	char *text; /* SDP or candidate */
	json_t *id;
	uint64_t version;
	tb_pc_kind pc;
	tb_sdp_kind media_kind;
	bool muted;
	char *user; /* TASK_PUBLISH: for the recordings catalog */
	char *role;
	char **sub_publishers; /* TASK_SUBSCRIBE, TASK_QUALITY: parallel arrays */
	char **sub_tracks;
	tb_simulcast_quality *sub_qualities;
	size_t n_subs;
} task;

static void task_free(task *t)
{
	g_free(t->participant_id);
	g_free(t->text);
	g_free(t->user);
	g_free(t->role);
	if (t->id)
		json_decref(t->id);
	g_strfreev(t->sub_publishers);
	g_strfreev(t->sub_tracks);
	g_free(t->sub_qualities);
	g_free(t);
}

static gboolean task_run(gpointer data);

static task *task_new(tb__room_media *rm, task_kind kind, const char *participant_id)
{
	task *t = g_new0(task, 1);

	t->kind = kind;
	t->rm = rm;
	t->participant_id = g_strdup(participant_id);
	return t;
}

static void post_task(task *t)
{
	tb_worker_post(t->rm->worker, task_run, t, (GDestroyNotify)task_free);
}

/* ---- worker side ---- */

static void router_candidate(void *user_data, tb_router_peer *peer, tb_pc_kind pc,
			     const char *candidate)
{
	tb__room_media *rm = user_data;
	reply *r = reply_new(rm, REPLY_CANDIDATE, tb_router_peer_id(peer));

	r->pc = pc;
	r->candidate = g_strdup(candidate);
	post_reply(r);
}

/* Puts PEER's BUNDLE tag for PC into R, for the candidates' sdpMid. */
static void reply_set_tag(reply *r, tb_router_peer *peer, tb_pc_kind pc)
{
	char mid[TB_SDP_MAX_ID_LEN + 1];
	int index = 0;

	if (tb_router_peer_bundle_tag(peer, pc, mid, sizeof(mid), &index)) {
		r->mid = g_strdup(mid);
		r->mline = index;
	}
}

static void router_state(void *user_data, tb_router_peer *peer, tb_pc_kind pc,
			 tb_transport_state state, const char *reason)
{
	tb__room_media *rm = user_data;
	reply *r = reply_new(rm, REPLY_STATE, tb_router_peer_id(peer));

	r->pc = pc;
	r->state = state;
	r->message = g_strdup(reason);
	post_reply(r);
}

static void router_media_tap(void *user_data, tb_router_peer *peer,
			     const tb_router_track_codec *track, const uint8_t *buf, size_t len)
{
	tb__room_media *rm = user_data;
	tb__precord *pr = g_hash_table_lookup(rm->records, tb_router_peer_id(peer));

	if (pr && g_atomic_int_get(&rm->recording))
		tb__precord_packet(pr, track, buf, len);
}

/* A few times a second, not per packet: copied for the main thread. */
static void router_audio_levels(void *user_data, const tb_router_audio_level *levels, size_t n,
				unsigned interval_ms)
{
	tb__room_media *rm = user_data;
	reply *r = reply_new(rm, REPLY_LEVELS, NULL);

	r->levels = g_array_sized_new(FALSE, FALSE, sizeof(level_copy), (guint)n);
	for (size_t i = 0; i < n; i++) {
		level_copy c = {.level = levels[i].level, .muted = levels[i].muted};
		g_strlcpy(c.participant_id, levels[i].participant_id, sizeof(c.participant_id));
		g_array_append_val(r->levels, c);
	}
	r->interval_ms = interval_ms;
	post_reply(r);
}

static const tb_router_callbacks router_callbacks = {
	.candidate = router_candidate,
	.state = router_state,
	.media_tap = router_media_tap,
	.audio_levels = router_audio_levels,
};

static tb_router_peer *peer_for(tb__room_media *rm, const char *participant_id)
{
	tb_router_peer *peer = tb_router_find_peer(rm->router, participant_id);

	return peer ? peer : tb_router_peer_new(rm->router, participant_id, NULL);
}

static void fail_reply(reply *r, const char *code, GError *error, const char *fallback)
{
	r->error_code = code;
	r->message = g_strdup(error ? error->message : fallback);
}

static void run_publish(task *t)
{
	tb__room_media *rm = t->rm;
	reply *r = reply_new(rm, REPLY_PUBLISH, t->participant_id);
	tb_router_peer *peer;
	tb_sdp_desc *offer = NULL;
	GError *error = NULL;

	r->id = json_incref(t->id);
	if (tb_sdp_parse(t->text, &offer, &error) < 0) {
		fail_reply(r, "bad-field", error, "the SDP offer is not valid");
		goto out;
	}
	peer = peer_for(rm, t->participant_id);
	if (tb_router_publish(peer, offer, &r->sdp, &r->tracks, &error) < 0)
		fail_reply(r, "bad-field", error, "the SDP offer cannot be answered");
	else
		reply_set_tag(r, peer, TB_PC_PUBLISH);
out:
	g_clear_error(&error);
	tb_sdp_desc_free(offer);
	post_reply(r);
}

static tb_router_subscription *task_subscriptions(const task *t)
{
	tb_router_subscription *subs = g_new0(tb_router_subscription, t->n_subs + 1);

	for (size_t i = 0; i < t->n_subs; i++) {
		subs[i].publisher_id = t->sub_publishers[i];
		subs[i].track_id = t->sub_tracks[i];
		subs[i].quality = t->sub_qualities[i];
	}
	return subs;
}

static void run_subscribe(task *t)
{
	tb__room_media *rm = t->rm;
	reply *r = reply_new(rm, REPLY_SUBSCRIBE, t->participant_id);
	tb_router_peer *peer;
	tb_router_subscription *subs = task_subscriptions(t);
	GError *error = NULL;

	r->version = t->version;
	peer = peer_for(rm, t->participant_id);
	if (tb_router_subscribe(peer, subs, t->n_subs, t->version, &r->sdp, &r->tracks, &error) < 0)
		fail_reply(r, "internal", error, "cannot make the subscriber offer");
	else
		reply_set_tag(r, peer, TB_PC_SUBSCRIBE);
	g_clear_error(&error);
	g_free(subs);
	post_reply(r);
}

static void run_answer(task *t)
{
	tb__room_media *rm = t->rm;
	reply *r = reply_new(rm, REPLY_ANSWER, t->participant_id);
	tb_router_peer *peer = tb_router_find_peer(rm->router, t->participant_id);
	tb_sdp_desc *answer = NULL;
	GError *error = NULL;

	r->id = json_incref(t->id);
	if (tb_sdp_parse(t->text, &answer, &error) < 0) {
		fail_reply(r, "bad-field", error, "the SDP answer is not valid");
		goto out;
	}
	if (!peer || tb_router_subscriber_answer(peer, answer, &error) < 0)
		fail_reply(r, "bad-field", error, "the SDP answer does not match the offer");
out:
	g_clear_error(&error);
	tb_sdp_desc_free(answer);
	post_reply(r);
}

static gboolean task_run(gpointer data)
{
	task *t = data;
	tb__room_media *rm = t->rm;
	tb_router_peer *peer;

	switch (t->kind) {
	case TASK_ROUTER_NEW:
		rm->records = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						    (GDestroyNotify)tb__precord_free);
		rm->router = tb_router_new(tb_worker_context(rm->worker), rm->media->identity,
					   &rm->media->ice, rm->room_id, &router_callbacks, rm);
		break;
	case TASK_ROUTER_FREE:
		g_hash_table_destroy(rm->records);
		tb_router_free(rm->router);
		tb__rooms_handle_unref(rm->handle);
		g_free(rm->room_id);
		g_free(rm->session_id);
		g_free(rm);
		break;
	case TASK_PEER_FREE:
		g_hash_table_remove(rm->records, t->participant_id);
		tb_router_peer_free(tb_router_find_peer(rm->router, t->participant_id));
		break;
	case TASK_PUBLISH:
		if (rm->media->record && !g_hash_table_contains(rm->records, t->participant_id)) {
			tb__precord *pr = tb__precord_new(rm, t->participant_id, t->user, t->role);
			g_hash_table_insert(rm->records, g_strdup(t->participant_id), pr);
		}
		run_publish(t);
		break;
	case TASK_UNPUBLISH:
		if (g_hash_table_contains(rm->records, t->participant_id))
			tb__precord_stop(g_hash_table_lookup(rm->records, t->participant_id));
		if ((peer = tb_router_find_peer(rm->router, t->participant_id)))
			tb_router_unpublish(peer);
		break;
	case TASK_SUBSCRIBE:
		run_subscribe(t);
		break;
	case TASK_ANSWER:
		run_answer(t);
		break;
	case TASK_CANDIDATE:
		tb_router_add_candidate(peer_for(rm, t->participant_id), t->pc, t->text);
		break;
	case TASK_MUTE:
		/* The peer may not publish yet: its tracks take the mute later. */
		tb_router_set_mute(peer_for(rm, t->participant_id), t->media_kind,
				   TB_ROUTER_MUTE_SELF, t->muted);
		break;
	case TASK_FORCE_MUTE:
		tb_router_set_mute(peer_for(rm, t->participant_id), t->media_kind,
				   TB_ROUTER_MUTE_FORCED, t->muted);
		break;
	case TASK_QUALITY:
		if ((peer = tb_router_find_peer(rm->router, t->participant_id))) {
			tb_router_subscription *subs = task_subscriptions(t);
			tb_router_set_qualities(peer, subs, t->n_subs);
			g_free(subs);
		}
		break;
	case TASK_STATS: {
		reply *r = reply_new(rm, REPLY_STATS, t->participant_id);
		r->id = json_incref(t->id);
		peer = tb_router_find_peer(rm->router, t->participant_id);
		r->data = peer ? tb_router_peer_stats(peer)
			       : json_pack("{s:n, s:n}", "publish", "subscribe");
		post_reply(r);
		break;
	}
	}
	return G_SOURCE_REMOVE;
}

/* ---- main side ---- */

void tb__room_media_start(tb_room *room)
{
	tb__room_media *rm = g_new0(tb__room_media, 1);

	rm->room_id = g_strdup(room->id);
	rm->session_id = g_strdup(room->session_id);
	rm->handle = handle_ref(room->rooms->handle);
	rm->worker = tb_room_worker(room);
	rm->media = room->rooms->media;
	atomic_store(&rm->session_started_ms, room->created_ms);
	rm->recording = room->rooms->media->record;
	room->rm = rm;
	post_task(task_new(rm, TASK_ROUTER_NEW, NULL));
}

void tb__room_media_session_started(tb_room *room, int64_t started_ms)
{
	if (room->rm)
		atomic_store(&room->rm->session_started_ms, started_ms);
}

int64_t tb__room_media_session_started_ms(tb__room_media *rm)
{
	return atomic_load(&rm->session_started_ms);
}

void tb__room_media_stop(tb_room *room)
{
	if (!room->rm)
		return;
	post_task(task_new(room->rm, TASK_ROUTER_FREE, NULL));
	room->rm = NULL;
}

void tb_room_set_recording(tb_room *room, bool recording)
{
	if (room->rm)
		g_atomic_int_set(&room->rm->recording, recording);
}

void tb__room_media_participant_left(tb_participant *p)
{
	tb_room *room = p->room;

	for (guint i = 0; room->speakers && i < room->speakers->len; i++)
		if (strcmp(room->speakers->pdata[i], p->id) == 0) {
			g_ptr_array_remove_index(room->speakers, i);
			break;
		}
	if (p->room->rm)
		post_task(task_new(p->room->rm, TASK_PEER_FREE, p->id));
}

static const tb__track *find_track(const tb_participant *p, const char *track_id)
{
	for (guint i = 0; i < p->tracks->len; i++) {
		const tb__track *t = &g_array_index(p->tracks, tb__track, i);
		if (strcmp(t->track_id, track_id) == 0)
			return t;
	}
	return NULL;
}

/* ---- who receives what ----
 *
 * Coaching rooms: everything of everyone. Workshops: audio of everyone;
 * screen shares of everyone; camera video of the last-N: the N
 * participants who were the active speaker most recently (then the others
 * in join order), plus the room's spotlight (reading order) and the
 * participant's own view spotlight. Each video gets a simulcast quality:
 * screen shares and the participant's focus high, other tiles low (see
 * quality_for). */

static int last_n(const tb_room *room)
{
	int n = room->rooms->config.last_n;

	return n > 0 ? n : 9;
}

static bool is_screen(const tb__track *t)
{
	return t->kind == TB_SDP_KIND_VIDEO && strcmp(t->source, "screen") == 0;
}

static bool has_camera(const tb_participant *q)
{
	for (guint i = 0; i < q->tracks->len; i++) {
		const tb__track *t = &g_array_index(q->tracks, tb__track, i);
		if (t->kind == TB_SDP_KIND_VIDEO && !is_screen(t))
			return true;
	}
	return false;
}

/* Whether P receives Q's camera in a workshop: Q among the N first of the
 * room's speaking order (P itself, and those without a camera, left out),
 * or spotlighted. */
static bool camera_wanted(const tb_participant *p, const tb_participant *q)
{
	tb_room *room = p->room;
	int rank = 0, n = last_n(room);

	if (room->kind != TB_ROOM_KIND_WORKSHOP)
		return true;
	if (g_strcmp0(room->ws.spotlight, q->id) == 0 || g_strcmp0(p->view_spotlight, q->id) == 0)
		return true;
	/* The recent speakers first, ... */
	for (guint i = 0; room->speakers && i < room->speakers->len; i++) {
		const char *id = room->speakers->pdata[i];
		const tb_participant *r;
		if (strcmp(id, p->id) == 0 || !(r = tb__room_find_participant(room, id)) ||
		    !has_camera(r))
			continue;
		if (strcmp(id, q->id) == 0)
			return rank < n;
		if (++rank >= n)
			return false;
	}
	/* ... then the ones who never spoke, in join order. */
	for (GList *l = room->participants.head; l; l = l->next) {
		const tb_participant *r = l->data;
		bool spoke = false;
		if (r == p || !has_camera(r))
			continue;
		for (guint i = 0; room->speakers && i < room->speakers->len && !spoke; i++)
			spoke = strcmp(room->speakers->pdata[i], r->id) == 0;
		if (spoke)
			continue;
		if (r == q)
			return rank < n;
		if (++rank >= n)
			return false;
	}
	return false;
}

/* The simulcast quality P wants of Q's video track T. */
static tb_simulcast_quality quality_for(const tb_participant *p, const tb_participant *q,
					const tb__track *t)
{
	const tb_room *room = p->room;
	const char *focus;

	if (t->kind != TB_SDP_KIND_VIDEO || is_screen(t))
		return TB_SIMULCAST_HIGH;
	if (!p->view_set) {
		/* Defaults: a coaching call shows the other large; a workshop
		 * shows tiles, the current reader large. */
		if (room->kind != TB_ROOM_KIND_WORKSHOP)
			return TB_SIMULCAST_HIGH;
		focus = room->ws.spotlight;
	} else if (p->view_spotlight) {
		focus = p->view_spotlight;
	} else if (!p->view_grid) {
		focus = room->ws.spotlight ? room->ws.spotlight : room->ws.active_speaker;
	} else {
		focus = room->ws.spotlight;
	}
	return g_strcmp0(focus, q->id) == 0 ? TB_SIMULCAST_HIGH : TB_SIMULCAST_LOW;
}

typedef struct wanted_set {
	GPtrArray *publishers; /* char* (owned) */
	GPtrArray *tracks;     /* char* (owned) */
	GArray *qualities;     /* tb_simulcast_quality */
	GString *signature;    /* ids: a change needs an offer */
	GString *quality_signature;
} wanted_set;

static void wanted_add(wanted_set *w, const tb_participant *p, const tb_participant *q,
		       const tb__track *track)
{
	tb_simulcast_quality quality = quality_for(p, q, track);

	g_ptr_array_add(w->publishers, g_strdup(q->id));
	g_ptr_array_add(w->tracks, g_strdup(track->track_id));
	g_array_append_val(w->qualities, quality);
	g_string_append_printf(w->signature, "%s/%s;", q->id, track->track_id);
	g_string_append_printf(w->quality_signature, "%s/%s=%d;", q->id, track->track_id,
			       (int)quality);
}

/* What P should receive, screen shares first (they go ahead of cameras
 * in the offer and in the bandwidth given out). */
static void wanted_compute(tb_participant *p, wanted_set *w)
{
	tb_room *room = p->room;

	for (int pass = 0; pass < 2; pass++) {
		for (GList *l = room->participants.head; l; l = l->next) {
			tb_participant *q = l->data;
			if (q == p)
				continue;
			for (guint i = 0; i < q->tracks->len; i++) {
				const tb__track *track = &g_array_index(q->tracks, tb__track, i);
				if (is_screen(track) != (pass == 0))
					continue;
				if (track->kind == TB_SDP_KIND_VIDEO && !is_screen(track) &&
				    !camera_wanted(p, q))
					continue;
				wanted_add(w, p, q, track);
			}
		}
	}
}

static task *wanted_task(tb_participant *p, task_kind kind, wanted_set *w)
{
	task *t = task_new(p->room->rm, kind, p->id);

	t->n_subs = w->publishers->len;
	g_ptr_array_add(w->publishers, NULL);
	g_ptr_array_add(w->tracks, NULL);
	t->sub_publishers = (char **)g_ptr_array_free(w->publishers, FALSE);
	t->sub_tracks = (char **)g_ptr_array_free(w->tracks, FALSE);
	t->sub_qualities = (tb_simulcast_quality *)g_array_free(w->qualities, FALSE);
	w->publishers = w->tracks = NULL;
	w->qualities = NULL;
	return t;
}

/* Offers P what it should receive now, unless an offer awaits its answer
 * (then the change goes into the next one) or nothing changed; a change of
 * qualities alone goes to the router without an offer. */
static void update_subscriber(tb_participant *p)
{
	wanted_set w = {g_ptr_array_new_with_free_func(g_free),
			g_ptr_array_new_with_free_func(g_free),
			g_array_new(FALSE, FALSE, sizeof(tb_simulcast_quality)), g_string_new(NULL),
			g_string_new(NULL)};
	bool ids_changed, qualities_changed;
	task *t;

	wanted_compute(p, &w);
	ids_changed = !((!p->sub_signature && w.signature->len == 0) ||
			g_strcmp0(p->sub_signature, w.signature->str) == 0);
	qualities_changed = g_strcmp0(p->quality_signature, w.quality_signature->str) != 0;
	if (qualities_changed) {
		g_free(p->quality_signature);
		p->quality_signature = g_strdup(w.quality_signature->str);
	}
	if (!ids_changed) {
		if (qualities_changed)
			post_task(wanted_task(p, TASK_QUALITY, &w));
		goto out;
	}
	if (p->sub_outstanding) {
		p->sub_dirty = true;
		/* Kept tracks may change quality now; the rest waits. */
		if (qualities_changed)
			post_task(wanted_task(p, TASK_QUALITY, &w));
		goto out;
	}
	g_free(p->sub_signature);
	p->sub_signature = g_strdup(w.signature->str);
	p->sub_outstanding = true;
	p->sub_dirty = false;
	t = wanted_task(p, TASK_SUBSCRIBE, &w);
	t->version = ++p->sub_version;
	post_task(t);
out:
	if (w.publishers)
		g_ptr_array_free(w.publishers, TRUE);
	if (w.tracks)
		g_ptr_array_free(w.tracks, TRUE);
	if (w.qualities)
		g_array_free(w.qualities, TRUE);
	g_string_free(w.signature, TRUE);
	g_string_free(w.quality_signature, TRUE);
}

/* After the levels of an interval: a new active speaker moves to the front
 * of the speaking order, and a new active speaker or spotlight changes who
 * receives which video. */
static void speaker_or_spotlight_changed(tb_room *room)
{
	const char *speaker = room->ws.active_speaker;

	if (g_strcmp0(room->media_speaker, speaker) == 0 &&
	    g_strcmp0(room->media_spotlight, room->ws.spotlight) == 0)
		return;
	if (speaker && g_strcmp0(room->media_speaker, speaker) != 0) {
		if (!room->speakers)
			room->speakers = g_ptr_array_new_with_free_func(g_free);
		for (guint i = 0; i < room->speakers->len; i++)
			if (strcmp(room->speakers->pdata[i], speaker) == 0) {
				g_ptr_array_remove_index(room->speakers, i);
				break;
			}
		g_ptr_array_insert(room->speakers, 0, g_strdup(speaker));
	}
	g_free(room->media_speaker);
	room->media_speaker = g_strdup(speaker);
	g_free(room->media_spotlight);
	room->media_spotlight = g_strdup(room->ws.spotlight);
	tb__room_media_update(room);
}

int tb_participant_set_view(tb_participant *p, const char *spotlight, bool grid)
{
	if (spotlight && !tb__room_find_participant(p->room, spotlight))
		return TB_ENOENT;
	p->view_set = true;
	p->view_grid = grid;
	g_free(p->view_spotlight);
	p->view_spotlight = g_strdup(spotlight);
	if (p->room->rm && !p->room->rooms->closing)
		update_subscriber(p);
	return 0;
}

void tb__room_media_update(tb_room *room)
{
	if (!room->rm || room->rooms->closing)
		return;
	for (GList *l = room->participants.head; l; l = l->next)
		update_subscriber(l->data);
}

static void respond_error(tb_participant *p, json_t *id, const char *code, const char *message)
{
	p->sink.response(p->conn, id, NULL, code, message);
}

void tb_participant_publish(tb_participant *p, const char *sdp, json_t *sources, json_t *id)
{
	task *t;

	if (!p->room->rm) {
		respond_error(p, id, "internal", "media is not available on this server");
		return;
	}
	if (p->publishing) {
		respond_error(p, id, "conflict", "a publish is already in progress");
		return;
	}
	p->publishing = true;
	/* What each mid carries, applied when the answer is back. */
	if (p->pending_sources)
		json_decref(p->pending_sources);
	p->pending_sources = sources ? json_deep_copy(sources) : NULL;
	t = task_new(p->room->rm, TASK_PUBLISH, p->id);
	t->user = g_strdup(p->user);
	t->role = g_strdup(tb_role_to_string(p->role));
	t->text = g_strdup(sdp);
	t->id = json_deep_copy(id);
	post_task(t);
}

void tb_participant_unpublish(tb_participant *p)
{
	if (!p->room->rm)
		return;
	post_task(task_new(p->room->rm, TASK_UNPUBLISH, p->id));
	if (p->tracks->len > 0) {
		g_array_set_size(p->tracks, 0);
		tb__participant_updated(p);
		tb__room_media_update(p->room);
	}
}

int tb_participant_subscriber_answer(tb_participant *p, const char *sdp, int64_t version,
				     json_t *id)
{
	task *t;

	if (!p->room->rm || !p->sub_outstanding || version < 0 ||
	    (uint64_t)version != p->sub_version)
		return TB_ECONFLICT;
	p->sub_outstanding = false;
	t = task_new(p->room->rm, TASK_ANSWER, p->id);
	t->text = g_strdup(sdp);
	t->id = json_deep_copy(id);
	post_task(t);
	if (p->sub_dirty) {
		p->sub_dirty = false;
		update_subscriber(p);
	}
	return 0;
}

int tb_participant_candidate(tb_participant *p, const char *pc, const char *candidate)
{
	task *t;
	tb_pc_kind kind;

	if (g_strcmp0(pc, "publish") == 0)
		kind = TB_PC_PUBLISH;
	else if (g_strcmp0(pc, "subscribe") == 0)
		kind = TB_PC_SUBSCRIBE;
	else
		return TB_EINVAL;
	if (candidate && *candidate) {
		/* The transport keeps at most this many anyway (media/ice.c);
		 * refusing here tells the client, which the worker cannot. */
		if (p->trickled[kind] >= TB_ICE_MAX_REMOTE_CANDIDATES) {
			if (!p->trickle_refusal_logged[kind])
				TB_INFO(CAT,
					"[%s/%s] more than %d candidates for %s: refusing the rest",
					p->room->id, p->id, TB_ICE_MAX_REMOTE_CANDIDATES, pc);
			p->trickle_refusal_logged[kind] = true;
			return TB_EFULL;
		}
		p->trickled[kind]++;
	}
	if (!p->room->rm)
		return 0;
	t = task_new(p->room->rm, TASK_CANDIDATE, p->id);
	t->pc = kind;
	t->text = g_strdup(candidate);
	post_task(t);
	return 0;
}

void tb_participant_mute(tb_participant *p, tb_sdp_kind kind, bool muted)
{
	task *t;

	if ((kind == TB_SDP_KIND_AUDIO ? p->audio_muted : p->video_muted) == muted)
		return; /* nothing changes: nobody is told */
	if (kind == TB_SDP_KIND_AUDIO)
		p->audio_muted = muted;
	else
		p->video_muted = muted;
	for (guint i = 0; i < p->tracks->len; i++) {
		tb__track *track = &g_array_index(p->tracks, tb__track, i);
		if (track->kind == kind)
			track->muted = muted;
	}
	if (p->room->rm) {
		t = task_new(p->room->rm, TASK_MUTE, p->id);
		t->media_kind = kind;
		t->muted = muted;
		post_task(t);
	}
	tb__participant_updated(p);
}

void tb__room_media_force_mute(tb_participant *p, tb_sdp_kind kind, bool muted)
{
	task *t;

	if (!p->room->rm)
		return;
	t = task_new(p->room->rm, TASK_FORCE_MUTE, p->id);
	t->media_kind = kind;
	t->muted = muted;
	post_task(t);
}

void tb_participant_stats(tb_participant *p, json_t *id)
{
	task *t;

	if (!p->room->rm) {
		p->sink.response(p->conn, id, json_pack("{s:n, s:n}", "publish", "subscribe"), NULL,
				 NULL);
		return;
	}
	t = task_new(p->room->rm, TASK_STATS, p->id);
	t->id = json_deep_copy(id);
	post_task(t);
}

/* ---- replies, on the main thread ---- */

static const char *source_for(const tb_participant *p, const tb_router_track *track)
{
	size_t i;
	json_t *entry;

	json_array_foreach(p->pending_sources, i, entry)
	{
		const char *mid = json_string_value(json_object_get(entry, "mid"));
		const char *source = json_string_value(json_object_get(entry, "source"));
		if (mid && source && strcmp(mid, track->mid) == 0)
			return source;
	}
	return track->kind == TB_SDP_KIND_AUDIO ? "mic" : "camera";
}

static void send_candidate(tb_participant *p, tb_pc_kind pc, const char *candidate)
{
	json_t *data;

	if (candidate && *candidate)
		data = json_pack("{s:s, s:{s:s, s:s, s:i}}", "pc", tb_pc_kind_to_string(pc),
				 "candidate", "candidate", candidate, "sdpMid",
				 p->tag_mid[pc][0] ? p->tag_mid[pc] : "0", "sdpMLineIndex",
				 p->tag_index[pc]);
	else
		data = json_pack("{s:s, s:n}", "pc", tb_pc_kind_to_string(pc), "candidate");
	p->sink.event(p->conn, "candidate", data);
	json_decref(data);
}

/* PC's description went out (with its BUNDLE tag MID at INDEX): send the
 * candidates held until now. */
static void release_candidates(tb_participant *p, tb_pc_kind pc, const char *mid, int index)
{
	if (mid) {
		g_strlcpy(p->tag_mid[pc], mid, sizeof(p->tag_mid[pc]));
		p->tag_index[pc] = index;
	}
	p->described[pc] = true;
	if (!p->held[pc])
		return;
	for (guint i = 0; i < p->held[pc]->len; i++)
		send_candidate(p, pc, p->held[pc]->pdata[i]);
	g_ptr_array_set_size(p->held[pc], 0);
}

static void publish_done(tb_participant *p, reply *r)
{
	p->publishing = false;
	if (r->error_code) {
		respond_error(p, r->id, r->error_code, r->message);
		return;
	}
	g_array_set_size(p->tracks, 0);
	for (guint i = 0; i < r->tracks->len; i++) {
		const tb_router_track *rt = &g_array_index(r->tracks, tb_router_track, i);
		tb__track t = {0};
		g_strlcpy(t.track_id, rt->track_id, sizeof(t.track_id));
		t.kind = rt->kind;
		g_strlcpy(t.source, source_for(p, rt), sizeof(t.source));
		t.muted = rt->kind == TB_SDP_KIND_AUDIO ? p->audio_muted : p->video_muted;
		g_array_append_val(p->tracks, t);
	}
	TB_INFO(CAT, "[%s/%s] publishes %u track(s)", p->room->id, p->id, p->tracks->len);
	p->sink.response(p->conn, r->id, json_pack("{s:s}", "sdp", r->sdp), NULL, NULL);
	release_candidates(p, TB_PC_PUBLISH, r->mid, r->mline);
	tb__participant_updated(p);
	tb__room_media_update(p->room);
}

static void subscribe_done(tb_participant *p, reply *r)
{
	json_t *map, *offer;

	if (r->version != p->sub_version)
		return; /* a newer offer is on its way */
	if (r->error_code) {
		TB_WARN(CAT, "[%s/%s] subscriber offer failed: %s", p->room->id, p->id, r->message);
		p->sub_outstanding = false;
		return;
	}
	map = json_array();
	for (guint i = 0; i < r->tracks->len; i++) {
		const tb_router_mapping *m = &g_array_index(r->tracks, tb_router_mapping, i);
		tb_participant *publisher = tb__room_find_participant(p->room, m->publisher_id);
		const tb__track *track = publisher ? find_track(publisher, m->track_id) : NULL;
		json_array_append_new(map,
				      json_pack("{s:s, s:s, s:s, s:s, s:s}", "mid", m->mid,
						"participant_id", m->publisher_id, "track_id",
						m->track_id, "kind", tb_sdp_kind_to_string(m->kind),
						"source", track ? track->source : "camera"));
	}
	map = json_pack("{s:o}", "tracks", map);
	p->sink.event(p->conn, "track-map", map);
	json_decref(map);
	offer = json_pack("{s:s, s:I}", "sdp", r->sdp, "version", (json_int_t)r->version);
	p->sink.event(p->conn, "subscriber-offer", offer);
	json_decref(offer);
	release_candidates(p, TB_PC_SUBSCRIBE, r->mid, r->mline);
}

static void candidate_event(tb_participant *p, reply *r)
{
	if (!p->described[r->pc]) {
		if (!p->held[r->pc])
			p->held[r->pc] = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_add(p->held[r->pc], g_strdup(r->candidate ? r->candidate : ""));
		return;
	}
	send_candidate(p, r->pc, r->candidate);
}

static void state_event(tb_participant *p, reply *r)
{
	json_t *data = json_pack("{s:s, s:s, s:s?}", "pc", tb_pc_kind_to_string(r->pc), "state",
				 tb_transport_state_to_string(r->state), "reason", r->message);

	p->sink.event(p->conn, "media-state", data);
	json_decref(data);
	if (r->state == TB_TRANSPORT_FAILED) {
		/* ICE, DTLS or consent failed: free everything and tell the
		 * others; the client may join again. */
		TB_INFO(CAT, "[%s/%s] media failed (%s): removing", p->room->id, p->id,
			r->message ? r->message : "?");
		tb__participant_remove(p, "media-failed");
	}
}

static gboolean reply_dispatch(gpointer data)
{
	reply *r = data;
	tb_rooms *rooms = r->handle->rooms;
	tb_room *room;
	tb_participant *p;

	if (!rooms || rooms->closing)
		return G_SOURCE_REMOVE;
	room = tb_rooms_lookup(rooms, r->room_id);
	if (!room || strcmp(room->session_id, r->session_id) != 0)
		return G_SOURCE_REMOVE;
	if (r->kind == REPLY_LEVELS) {
		tb_router_audio_level *levels = g_new0(tb_router_audio_level, r->levels->len + 1);
		for (guint i = 0; i < r->levels->len; i++) {
			const level_copy *c = &g_array_index(r->levels, level_copy, i);
			levels[i] = (tb_router_audio_level){c->participant_id, c->level, c->muted};
		}
		tb__room_audio_levels(room, levels, r->levels->len, r->interval_ms);
		g_free(levels);
		speaker_or_spotlight_changed(room);
		return G_SOURCE_REMOVE;
	}
	p = tb__room_find_participant(room, r->participant_id);
	if (!p)
		return G_SOURCE_REMOVE;
	switch (r->kind) {
	case REPLY_PUBLISH:
		publish_done(p, r);
		break;
	case REPLY_SUBSCRIBE:
		subscribe_done(p, r);
		break;
	case REPLY_ANSWER:
		if (r->error_code) {
			respond_error(p, r->id, r->error_code, r->message);
			/* That offer is spent: make a fresh one to answer. */
			g_clear_pointer(&p->sub_signature, g_free);
			update_subscriber(p);
		} else
			p->sink.response(p->conn, r->id, NULL, NULL, NULL);
		break;
	case REPLY_STATS:
		p->sink.response(p->conn, r->id, r->data, NULL, NULL);
		r->data = NULL;
		break;
	case REPLY_CANDIDATE:
		candidate_event(p, r);
		break;
	case REPLY_STATE:
		state_event(p, r);
		break;
	case REPLY_LEVELS:
		break; /* handled above */
	}
	return G_SOURCE_REMOVE;
}
