/* rooms.c — the room registry, room life and participants' presence.
 *
 * Main thread only. A room lives from its creation (first join or the HTTP
 * API) until its last participant leaves; each such life is one catalog
 * session. Rooms are pinned at creation to the least loaded media worker.
 * This file does not touch media or sockets: events go out through each
 * participant's sink.
 */
#include "rooms-private.h"

#include <string.h>

#define CAT "rooms"

bool tb_room_kind_from_string(const char *s, tb_room_kind *out)
{
	if (s && strcmp(s, "coaching") == 0) {
		*out = TB_ROOM_KIND_COACHING;
		return true;
	}
	if (s && strcmp(s, "workshop") == 0) {
		*out = TB_ROOM_KIND_WORKSHOP;
		return true;
	}
	return false;
}

const char *tb_room_kind_to_string(tb_room_kind kind)
{
	return kind == TB_ROOM_KIND_WORKSHOP ? "workshop" : "coaching";
}

static int64_t now_ms(const tb_rooms *rooms)
{
	return tb_clock_wall_ms(rooms->clock);
}

static void participant_free(tb_participant *p)
{
	if (p->tracks)
		g_array_free(p->tracks, TRUE);
	g_free(p->sub_signature);
	g_free(p->quality_signature);
	g_free(p->view_spotlight);
	for (int i = 0; i < 2; i++)
		if (p->held[i])
			g_ptr_array_free(p->held[i], TRUE);
	if (p->pending_sources)
		json_decref(p->pending_sources);
	g_free(p->id);
	g_free(p->user);
	g_free(p->name);
	g_free(p);
}

void tb__room_send(tb_room *room, const tb_participant *except, const char *name, json_t *data)
{
	for (GList *l = room->participants.head; l; l = l->next) {
		tb_participant *p = l->data;
		if (p != except)
			p->sink.event(p->conn, name, data);
	}
}

static void room_free(tb_room *room)
{
	tb__room_media_stop(room);
	tb__facilitation_free(room);
	if (room->slot_timer)
		g_source_remove(room->slot_timer);
	if (room->speakers)
		g_ptr_array_free(room->speakers, TRUE);
	g_free(room->media_speaker);
	g_free(room->media_spotlight);
	g_free(room->id);
	g_free(room->session_id);
	g_free(room);
}

/* Ends the room's life: the catalog session closes and the room is freed. */
static void room_end(tb_room *room)
{
	tb_rooms *rooms = room->rooms;

	g_assert(room->participants.length == 0);
	if (room->session_open && rooms->catalog)
		tb_catalog_session_end(rooms->catalog, room->session_id, now_ms(rooms));
	TB_INFO(CAT, "[%s] room ended (session %s)", room->id, room->session_id);
	rooms->worker_load[room->worker_index]--;
	g_hash_table_remove(rooms->by_id, room->id); /* frees the room */
}

static unsigned least_loaded_worker(const tb_rooms *rooms)
{
	unsigned best = 0;
	for (unsigned i = 1; i < rooms->n_workers; i++)
		if (rooms->worker_load[i] < rooms->worker_load[best])
			best = i;
	return best;
}

static int default_capacity(const tb_rooms *rooms, tb_room_kind kind)
{
	return kind == TB_ROOM_KIND_WORKSHOP ? rooms->config.workshop_capacity
					     : rooms->config.coaching_capacity;
}

static tb_room *room_new(tb_rooms *rooms, const char *room_id, tb_room_kind kind, int capacity)
{
	tb_room *room = g_new0(tb_room, 1);

	room->rooms = rooms;
	room->id = g_strdup(room_id);
	room->session_id = tb_random_hex(8);
	room->kind = kind;
	room->capacity = capacity > 0 ? capacity : default_capacity(rooms, kind);
	room->created_ms = now_ms(rooms);
	room->worker_index = least_loaded_worker(rooms);
	g_queue_init(&room->participants);
	rooms->worker_load[room->worker_index]++;
	g_hash_table_insert(rooms->by_id, room->id, room);
	if (rooms->media)
		tb__room_media_start(room);
	TB_INFO(CAT, "[%s] %s room created (capacity %d, worker %s)", room->id,
		tb_room_kind_to_string(kind), room->capacity,
		tb_worker_name(rooms->workers[room->worker_index]));
	return room;
}

tb_rooms *tb_rooms_new(const tb_rooms_config *config, tb_worker *const *workers, unsigned n_workers,
		       tb_catalog *catalog, const tb_clock *clock, const tb_rooms_media *media)
{
	tb_rooms *rooms;

	g_return_val_if_fail(n_workers >= 1, NULL);
	rooms = g_new0(tb_rooms, 1);
	rooms->config = *config;
	rooms->workers = g_memdup2(workers, sizeof(*workers) * n_workers);
	rooms->worker_load = g_new0(unsigned, n_workers);
	rooms->n_workers = n_workers;
	rooms->catalog = catalog;
	rooms->clock = clock ? clock : tb_clock_default();
	rooms->media = media;
	rooms->handle = g_new0(tb__rooms_handle, 1);
	rooms->handle->ref = 1;
	rooms->handle->rooms = rooms;
	rooms->by_id =
		g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)room_free);
	return rooms;
}

/* Takes P out of its room and frees it; the room ends if it was the last.
 * NOTIFY_SELF: call the sink's removed() first (server-side removal). */
static void participant_remove(tb_participant *p, const char *reason, bool notify_self)
{
	tb_room *room = p->room;
	tb_rooms *rooms = room->rooms;
	json_t *data;

	g_queue_delete_link(&room->participants, p->link);
	rooms->n_participants--;
	tb__room_media_participant_left(p);
	if (notify_self)
		p->sink.removed(p->conn, p, reason);
	if (rooms->catalog) {
		tb_participant_counters c;
		tb_participant_get_counters(p, &c);
		tb_catalog_attendance_counters(rooms->catalog, room->session_id, p->id,
					       c.speaking_ms, c.hands_raised, c.reading_turns);
		tb_catalog_attendance_leave(rooms->catalog, room->session_id, p->id, now_ms(rooms),
					    reason);
	}
	TB_INFO(CAT, "[%s/%s] %s left (%s)", room->id, p->id, p->user, reason);
	data = json_pack("{s:s, s:s}", "participant_id", p->id, "reason", reason);
	tb__room_send(room, NULL, "participant-left", data);
	json_decref(data);
	tb__facilitation_left(p);
	participant_free(p);
	if (room->participants.length == 0 && room->session_open)
		room_end(room);
	else
		tb__room_media_update(room);
}

void tb_rooms_close(tb_rooms *rooms)
{
	GHashTableIter it;
	gpointer value;

	rooms->closing = true;
	/* Removing the last participant frees the room, so restart the walk. */
	for (;;) {
		tb_room *busy = NULL;
		g_hash_table_iter_init(&it, rooms->by_id);
		while (g_hash_table_iter_next(&it, NULL, &value)) {
			tb_room *room = value;
			if (room->participants.length > 0) {
				busy = room;
				break;
			}
		}
		if (!busy)
			break;
		participant_remove(busy->participants.head->data, "shutdown", true);
	}
}

void tb_rooms_free(tb_rooms *rooms)
{
	if (!rooms)
		return;
	tb_rooms_close(rooms);
	g_hash_table_destroy(rooms->by_id);
	rooms->handle->rooms = NULL;
	tb__rooms_handle_unref(rooms->handle);
	g_free(rooms->workers);
	g_free(rooms->worker_load);
	g_free(rooms);
}

static gboolean slot_warning_due(gpointer data);

static void room_send_slot_warning(tb_room *room, tb_participant *only)
{
	json_t *data = json_pack("{s:I}", "ends_at_ms", (json_int_t)room->slot_ends_ms);

	if (only)
		only->sink.event(only->conn, "slot-ending", data);
	else
		tb__room_send(room, NULL, "slot-ending", data);
	json_decref(data);
}

/* Sets or moves the end of the booked slot and (re)arms the warning. */
static void room_set_slot_end(tb_room *room, int64_t ends_ms)
{
	int64_t warn_at, delay;

	if (ends_ms <= 0 || ends_ms == room->slot_ends_ms)
		return;
	room->slot_ends_ms = ends_ms;
	room->slot_warned = false;
	if (room->slot_timer) {
		g_source_remove(room->slot_timer);
		room->slot_timer = 0;
	}
	warn_at = ends_ms - (int64_t)room->rooms->config.slot_warning_s * 1000;
	delay = warn_at - now_ms(room->rooms);
	if (delay < 0)
		delay = 0;
	room->slot_timer = g_timeout_add_full(G_PRIORITY_DEFAULT, (guint)MIN(delay, G_MAXUINT),
					      slot_warning_due, room, NULL);
}

static gboolean slot_warning_due(gpointer data)
{
	tb_room *room = data;

	room->slot_timer = 0;
	room->slot_warned = true;
	TB_INFO(CAT, "[%s] booked slot ends at %" G_GINT64_FORMAT " ms", room->id,
		room->slot_ends_ms);
	room_send_slot_warning(room, NULL);
	return G_SOURCE_REMOVE;
}

static tb_participant *find_user(tb_room *room, const char *user)
{
	for (GList *l = room->participants.head; l; l = l->next) {
		tb_participant *p = l->data;
		if (strcmp(p->user, user) == 0)
			return p;
	}
	return NULL;
}

int tb_rooms_join(tb_rooms *rooms, const tb_join_params *params, const tb_participant_sink *sink,
		  void *conn, tb_participant **out)
{
	tb_room *room;
	tb_participant *p, *previous;
	json_t *data;
	bool privileged = params->role == TB_ROLE_MENTOR || params->role == TB_ROLE_ADMIN;

	g_return_val_if_fail(tb_room_id_valid(params->room_id), TB_EINVAL);
	if (rooms->closing)
		return TB_EFULL;
	if (params->role == TB_ROLE_CURATOR || params->role == TB_ROLE_NONE)
		return TB_EPERM;

	room = g_hash_table_lookup(rooms->by_id, params->room_id);
	previous = room ? find_user(room, params->user) : NULL;
	if (room) {
		if (tb__facilitation_refuses(room, params->user))
			return TB_EAUTH;
		if (room->locked && !privileged && !previous)
			return TB_ELOCKED;
		if (!previous && (int)room->participants.length >= room->capacity)
			return TB_EFULL;
	} else {
		if ((int)g_hash_table_size(rooms->by_id) >= rooms->config.max_rooms)
			return TB_EFULL;
		room = room_new(rooms, params->room_id, params->kind, 0);
	}
	if (previous) {
		/* Keep the room alive across the swap: it must not end in between. */
		bool open = room->session_open;
		room->session_open = false;
		participant_remove(previous, "replaced", true);
		room->session_open = open;
	}
	if (!room->session_open) {
		int64_t started = now_ms(rooms);
		room->session_open = true;
		tb__room_media_session_started(room, started);
		if (rooms->catalog)
			tb_catalog_session_begin(rooms->catalog, room->session_id, room->id,
						 tb_room_kind_to_string(room->kind), started);
	}

	p = g_new0(tb_participant, 1);
	p->room = room;
	p->id = tb_random_hex(8);
	p->user = g_strdup(params->user);
	p->name = g_strdup(params->name && *params->name ? params->name : params->user);
	p->role = params->role;
	p->joined_ms = now_ms(rooms);
	p->sink = *sink;
	p->conn = conn;
	p->tracks = g_array_new(FALSE, TRUE, sizeof(tb__track));
	tb__facilitation_joined(p);

	data = json_pack("{s:o}", "participant", tb_participant_to_json(p));
	tb__room_send(room, NULL, "participant-joined", data);
	json_decref(data);

	g_queue_push_tail(&room->participants, p);
	p->link = room->participants.tail;
	rooms->n_participants++;
	if (rooms->catalog)
		tb_catalog_attendance_join(rooms->catalog, room->session_id, p->id, p->user,
					   p->name, tb_role_to_string(p->role), p->joined_ms);
	TB_INFO(CAT, "[%s/%s] %s joined as %s (%u/%d)", room->id, p->id, p->user,
		tb_role_to_string(p->role), room->participants.length, room->capacity);

	if (room->kind == TB_ROOM_KIND_COACHING && params->slot_ends_ms > 0)
		room_set_slot_end(room, params->slot_ends_ms);
	*out = p;
	return 0;
}

void tb_participant_welcome(tb_participant *p)
{
	if (p->room->slot_warned)
		room_send_slot_warning(p->room, p);
	/* What the others publish. */
	tb__room_media_update(p->room);
}

int tb_rooms_create(tb_rooms *rooms, const char *room_id, tb_room_kind kind, int capacity,
		    bool locked, tb_room **out)
{
	tb_room *room;

	if (!tb_room_id_valid(room_id) || capacity < 0 || capacity > 1000)
		return TB_EINVAL;
	if (g_hash_table_contains(rooms->by_id, room_id))
		return TB_EEXIST;
	if (rooms->closing || (int)g_hash_table_size(rooms->by_id) >= rooms->config.max_rooms)
		return TB_EFULL;
	room = room_new(rooms, room_id, kind, capacity);
	room->locked = locked;
	if (out)
		*out = room;
	return 0;
}

tb_room *tb_rooms_lookup(tb_rooms *rooms, const char *room_id)
{
	return g_hash_table_lookup(rooms->by_id, room_id);
}

unsigned tb_rooms_count(const tb_rooms *rooms)
{
	return g_hash_table_size(rooms->by_id);
}

unsigned tb_rooms_participant_count(const tb_rooms *rooms)
{
	return rooms->n_participants;
}

static gint compare_room_ids(gconstpointer a, gconstpointer b)
{
	return strcmp(tb_room_id(*(tb_room *const *)a), tb_room_id(*(tb_room *const *)b));
}

json_t *tb_rooms_list_json(const tb_rooms *rooms)
{
	json_t *list = json_array();
	GPtrArray *sorted = g_ptr_array_new();
	GHashTableIter it;
	gpointer value;

	g_hash_table_iter_init(&it, rooms->by_id);
	while (g_hash_table_iter_next(&it, NULL, &value))
		g_ptr_array_add(sorted, value);
	g_ptr_array_sort(sorted, compare_room_ids);
	for (guint i = 0; i < sorted->len; i++)
		json_array_append_new(list, tb_room_to_json(sorted->pdata[i]));
	g_ptr_array_free(sorted, TRUE);
	return list;
}

unsigned tb_rooms_worker_load(const tb_rooms *rooms, unsigned i)
{
	return i < rooms->n_workers ? rooms->worker_load[i] : 0;
}

unsigned tb_rooms_n_workers(const tb_rooms *rooms)
{
	return rooms->n_workers;
}

void tb_participant_leave(tb_participant *participant, const char *reason)
{
	participant_remove(participant, reason, false);
}

void tb_participant_chat(tb_participant *p, const char *text)
{
	json_t *data = json_pack("{s:s, s:s, s:s, s:I}", "participant_id", p->id, "name", p->name,
				 "text", text, "ts_ms", (json_int_t)now_ms(p->room->rooms));

	tb__room_send(p->room, NULL, "chat", data);
	json_decref(data);
}

tb_room *tb_participant_room(const tb_participant *participant)
{
	return participant->room;
}

const char *tb_participant_id(const tb_participant *participant)
{
	return participant->id;
}

const char *tb_participant_user(const tb_participant *participant)
{
	return participant->user;
}

tb_role tb_participant_role(const tb_participant *participant)
{
	return participant->role;
}

json_t *tb_participant_to_json(const tb_participant *p)
{
	json_t *tracks = json_array();

	for (guint i = 0; p->tracks && i < p->tracks->len; i++) {
		const tb__track *t = &g_array_index(p->tracks, tb__track, i);
		json_array_append_new(tracks,
				      json_pack("{s:s, s:s, s:s, s:b}", "track_id", t->track_id,
						"kind", tb_sdp_kind_to_string(t->kind), "source",
						t->source, "muted", t->muted));
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:b, s:{s:b, s:b}, s:b}", "participant_id",
			 p->id, "user", p->user, "name", p->name, "role",
			 tb_role_to_string(p->role), "tracks", tracks, "audio_muted",
			 p->audio_muted, "video_muted", p->video_muted, "forced_muted", "audio",
			 p->forced_applied[0], "video", p->forced_applied[1], "hand_raised",
			 p->hand_raised);
}

tb_participant *tb__room_find_participant(tb_room *room, const char *participant_id)
{
	for (GList *l = room->participants.head; l; l = l->next) {
		tb_participant *p = l->data;
		if (strcmp(p->id, participant_id) == 0)
			return p;
	}
	return NULL;
}

void tb__participant_updated(tb_participant *p)
{
	json_t *data = json_pack("{s:o}", "participant", tb_participant_to_json(p));

	tb__room_send(p->room, NULL, "participant-updated", data);
	json_decref(data);
}

void tb__participant_remove(tb_participant *p, const char *reason)
{
	participant_remove(p, reason, true);
}

json_t *tb_room_to_json(const tb_room *room)
{
	json_t *o = json_pack("{s:s, s:s, s:i, s:b, s:i, s:s}", "id", room->id, "kind",
			      tb_room_kind_to_string(room->kind), "capacity", room->capacity,
			      "locked", room->locked, "participants",
			      (int)room->participants.length, "session_id", room->session_id);

	if (room->slot_ends_ms > 0)
		json_object_set_new(o, "slot_ends_ms", json_integer(room->slot_ends_ms));
	return o;
}

json_t *tb_room_roster_json(const tb_room *room, const tb_participant *except)
{
	json_t *list = json_array();

	for (GList *l = room->participants.head; l; l = l->next)
		if (l->data != except)
			json_array_append_new(list, tb_participant_to_json(l->data));
	return list;
}

const char *tb_room_id(const tb_room *room)
{
	return room->id;
}

const char *tb_room_session_id(const tb_room *room)
{
	return room->session_id;
}

tb_room_kind tb_room_kind_get(const tb_room *room)
{
	return room->kind;
}

bool tb_room_locked(const tb_room *room)
{
	return room->locked;
}

tb_worker *tb_room_worker(const tb_room *room)
{
	return room->rooms->workers[room->worker_index];
}
