/* facilitation.c — a facilitator's tools: the timed exercise, the reading
 * order and its spotlight, raised hands, mute-other, remove and lock.
 *
 * Main thread only. All of it is room state (tb__workshop in rooms-private.h):
 * every change goes to everyone as an event, and tb_room_workshop_json hands
 * the current state to a late joiner. The server-side mute of each
 * participant is derived from that state in one place (wanted_forced) and
 * only the differences reach the router, under its TB_ROUTER_MUTE_FORCED
 * reason, so the participant's own mute stays apart.
 *
 * Not here: who may join (rooms.c), the router (room-media.c), the active
 * speaker (active-speaker.c), wire validation (signaling/).
 */
#include <string.h>

#include "rooms-private.h"

#define CAT "rooms.ws"

#define EXERCISE_MIN_MS 1000
#define EXERCISE_MAX_MS (180 * 60 * 1000)

static int64_t now_ms(const tb_room *room)
{
	return tb_clock_wall_ms(room->rooms->clock);
}

bool tb__role_facilitates(tb_role role)
{
	return role == TB_ROLE_MENTOR || role == TB_ROLE_ADMIN;
}

bool tb_participant_facilitates(const tb_participant *p)
{
	return tb__role_facilitates(p->role);
}

void tb_participant_get_counters(const tb_participant *p, tb_participant_counters *out)
{
	*out = p->counters;
}

static void hand_free(tb__hand *hand)
{
	g_free(hand->participant_id);
	g_free(hand);
}

void tb__facilitation_free(tb_room *room)
{
	tb__workshop *ws = &room->ws;

	if (ws->exercise_timer)
		g_source_remove(ws->exercise_timer);
	ws->exercise_timer = 0;
	g_clear_pointer(&ws->exercise_title, g_free);
	if (ws->reading_order)
		g_ptr_array_free(ws->reading_order, TRUE);
	ws->reading_order = NULL;
	g_queue_clear_full(&ws->hands, (GDestroyNotify)hand_free);
	g_clear_pointer(&ws->spotlight, g_free);
	g_clear_pointer(&ws->imposed, g_hash_table_destroy);
	g_clear_pointer(&ws->removed_users, g_hash_table_destroy);
	g_clear_pointer(&ws->active_speaker, g_free);
	g_clear_pointer(&ws->challenger, g_free);
}

/* ---- server-side mutes ---- */

static bool reading_in_progress(const tb__workshop *ws)
{
	return ws->reading_order && !ws->reading_done;
}

static const char *current_reader(const tb__workshop *ws)
{
	if (!reading_in_progress(ws) || ws->reading_index >= ws->reading_order->len)
		return NULL;
	return ws->reading_order->pdata[ws->reading_index];
}

/* The server-side mute P should have now for KIND_INDEX (0 audio, 1 video):
 * a facilitator's mute always; for non-facilitators' audio also a running
 * exercise, and a reading order in which P is not the current reader. */
static bool wanted_forced(const tb_participant *p, int kind_index)
{
	const tb__workshop *ws = &p->room->ws;
	const char *reader;

	if (ws->imposed &&
	    (GPOINTER_TO_UINT(g_hash_table_lookup(ws->imposed, p->user)) & (1u << kind_index)))
		return true;
	if (kind_index != 0 || tb__role_facilitates(p->role))
		return false;
	if (ws->exercise_active)
		return true;
	reader = current_reader(ws);
	return reading_in_progress(ws) && (!reader || strcmp(reader, p->id) != 0);
}

/* Brings P's server-side mutes in line with the room state. Returns true
 * when one changed (NOTIFY: "participant-updated" to everyone). */
static bool apply_forced(tb_participant *p, bool notify)
{
	bool changed = false;

	for (int k = 0; k < 2; k++) {
		bool want = wanted_forced(p, k);
		if (want == p->forced_applied[k])
			continue;
		p->forced_applied[k] = want;
		tb__room_media_force_mute(p, k == 0 ? TB_SDP_KIND_AUDIO : TB_SDP_KIND_VIDEO, want);
		changed = true;
	}
	if (changed && notify)
		tb__participant_updated(p);
	return changed;
}

static void apply_forced_all(tb_room *room)
{
	for (GList *l = room->participants.head; l; l = l->next)
		apply_forced(l->data, true);
}

void tb__facilitation_joined(tb_participant *p)
{
	apply_forced(p, false);
}

/* ---- JSON of the state ---- */

static json_t *exercise_json(const tb_room *room)
{
	const tb__workshop *ws = &room->ws;

	return json_pack("{s:b, s:s, s:I, s:I, s:I}", "active", 1, "title",
			 ws->exercise_title ? ws->exercise_title : "", "started_at_ms",
			 (json_int_t)ws->exercise_started_ms, "ends_at_ms",
			 (json_int_t)ws->exercise_ends_ms, "server_time_ms",
			 (json_int_t)now_ms(room));
}

static json_t *reading_json(const tb_room *room)
{
	const tb__workshop *ws = &room->ws;
	json_t *order = json_array();
	const char *reader = current_reader(ws);

	for (guint i = 0; i < ws->reading_order->len; i++)
		json_array_append_new(order, json_string(ws->reading_order->pdata[i]));
	return json_pack("{s:o, s:s?, s:i, s:b}", "order", order, "current", reader, "index",
			 (int)ws->reading_index, "done", ws->reading_done);
}

static json_t *hands_json(const tb_room *room)
{
	json_t *queue = json_array();

	for (GList *l = room->ws.hands.head; l; l = l->next) {
		const tb__hand *hand = l->data;
		json_array_append_new(queue, json_pack("{s:s, s:I}", "participant_id",
						       hand->participant_id, "raised_at_ms",
						       (json_int_t)hand->raised_ms));
	}
	return queue;
}

json_t *tb_room_workshop_json(const tb_room *room)
{
	const tb__workshop *ws = &room->ws;

	return json_pack("{s:o, s:o, s:o, s:s?, s:s?}", "exercise",
			 ws->exercise_active ? exercise_json(room) : json_null(), "reading",
			 ws->reading_order ? reading_json(room) : json_null(), "hands",
			 hands_json(room), "spotlight", ws->spotlight, "active_speaker",
			 ws->active_speaker);
}

static void send_event(tb_room *room, const char *name, json_t *data)
{
	tb__room_send(room, NULL, name, data);
	json_decref(data);
}

static void send_hands(tb_room *room)
{
	send_event(room, "hands", json_pack("{s:o}", "queue", hands_json(room)));
}

/* Sets the spotlight to ID (nullable); event "spotlight" when it changes. */
static void set_spotlight(tb_room *room, const char *id)
{
	tb__workshop *ws = &room->ws;

	if (g_strcmp0(ws->spotlight, id) == 0)
		return;
	g_free(ws->spotlight);
	ws->spotlight = g_strdup(id);
	send_event(room, "spotlight", json_pack("{s:s?}", "participant_id", id));
}

static bool may_facilitate(const tb_participant *by, bool workshop_only)
{
	if (!tb__role_facilitates(by->role))
		return false;
	return !workshop_only || by->room->kind == TB_ROOM_KIND_WORKSHOP;
}

/* ---- timed exercise ---- */

static void exercise_stop(tb_room *room, const char *reason)
{
	tb__workshop *ws = &room->ws;

	if (ws->exercise_timer)
		g_source_remove(ws->exercise_timer);
	ws->exercise_timer = 0;
	ws->exercise_active = false;
	g_clear_pointer(&ws->exercise_title, g_free);
	TB_INFO(CAT, "[%s] exercise %s", room->id, reason);
	send_event(room, "exercise",
		   json_pack("{s:b, s:s, s:I}", "active", 0, "reason", reason, "server_time_ms",
			     (json_int_t)now_ms(room)));
	apply_forced_all(room);
}

static gboolean exercise_due(gpointer data)
{
	tb_room *room = data;

	room->ws.exercise_timer = 0;
	exercise_stop(room, "expired");
	return G_SOURCE_REMOVE;
}

int tb_participant_exercise_start(tb_participant *by, int64_t duration_ms, const char *title,
				  json_t **exercise)
{
	tb_room *room = by->room;
	tb__workshop *ws = &room->ws;

	if (!may_facilitate(by, true))
		return TB_EPERM;
	if (duration_ms < EXERCISE_MIN_MS || duration_ms > EXERCISE_MAX_MS)
		return TB_EINVAL;
	if (ws->exercise_active)
		return TB_ECONFLICT;
	ws->exercise_active = true;
	ws->exercise_title = g_strdup(title ? title : "");
	ws->exercise_started_ms = now_ms(room);
	ws->exercise_ends_ms = ws->exercise_started_ms + duration_ms;
	/* The timer runs on the monotonic clock; the wire carries wall times
	 * so that every client counts down to the same instant. */
	ws->exercise_timer = g_timeout_add_full(G_PRIORITY_DEFAULT, (guint)duration_ms,
						exercise_due, room, NULL);
	TB_INFO(CAT, "[%s/%s] exercise \"%s\" for %" G_GINT64_FORMAT " s", room->id, by->id,
		ws->exercise_title, duration_ms / 1000);
	send_event(room, "exercise", exercise_json(room));
	apply_forced_all(room);
	if (exercise)
		*exercise = exercise_json(room);
	return 0;
}

int tb_participant_exercise_end(tb_participant *by)
{
	if (!may_facilitate(by, true))
		return TB_EPERM;
	if (!by->room->ws.exercise_active)
		return TB_ECONFLICT;
	exercise_stop(by->room, "ended");
	return 0;
}

/* ---- reading order ---- */

static void send_reading(tb_room *room)
{
	send_event(room, "reading", reading_json(room));
}

/* Makes the first present reader from the current index on the current
 * one, or ends the reading past the end; then spotlight, events, mutes. */
static void reading_settle(tb_room *room)
{
	tb__workshop *ws = &room->ws;

	while (ws->reading_index < ws->reading_order->len &&
	       !tb__room_find_participant(room, ws->reading_order->pdata[ws->reading_index]))
		ws->reading_index++; /* a reader who left is skipped */
	if (ws->reading_index >= ws->reading_order->len) {
		ws->reading_index = ws->reading_order->len;
		ws->reading_done = true;
	}
	send_reading(room);
	set_spotlight(room, current_reader(ws));
	apply_forced_all(room);
}

static void shuffle(GPtrArray *ids)
{
	for (guint i = ids->len; i > 1; i--) {
		guint j = (guint)g_random_int_range(0, (gint32)i);
		gpointer tmp = ids->pdata[i - 1];
		ids->pdata[i - 1] = ids->pdata[j];
		ids->pdata[j] = tmp;
	}
}

int tb_participant_reading_set(tb_participant *by, const char *const *order, size_t n)
{
	tb_room *room = by->room;
	tb__workshop *ws = &room->ws;
	GPtrArray *ids;

	if (!may_facilitate(by, true))
		return TB_EPERM;
	ids = g_ptr_array_new_with_free_func(g_free);
	if (order) {
		for (size_t i = 0; i < n; i++) {
			if (!tb__room_find_participant(room, order[i])) {
				g_ptr_array_free(ids, TRUE);
				return TB_ENOENT;
			}
			for (guint k = 0; k < ids->len; k++)
				if (strcmp(ids->pdata[k], order[i]) == 0) {
					g_ptr_array_free(ids, TRUE);
					return TB_EINVAL;
				}
			g_ptr_array_add(ids, g_strdup(order[i]));
		}
	} else {
		for (GList *l = room->participants.head; l; l = l->next) {
			tb_participant *p = l->data;
			if (!tb__role_facilitates(p->role))
				g_ptr_array_add(ids, g_strdup(p->id));
		}
		shuffle(ids);
	}
	if (ids->len == 0) {
		g_ptr_array_free(ids, TRUE);
		return TB_EINVAL;
	}
	if (ws->reading_order)
		g_ptr_array_free(ws->reading_order, TRUE);
	ws->reading_order = ids;
	ws->reading_index = 0;
	ws->reading_done = false;
	TB_INFO(CAT, "[%s/%s] reading order of %u", room->id, by->id, ids->len);
	reading_settle(room);
	return 0;
}

int tb_participant_reading_next(tb_participant *by, bool skipped)
{
	tb_room *room = by->room;
	tb__workshop *ws = &room->ws;
	tb_participant *reader;

	if (!may_facilitate(by, true))
		return TB_EPERM;
	if (!reading_in_progress(ws))
		return TB_ECONFLICT;
	reader = current_reader(ws) ? tb__room_find_participant(room, current_reader(ws)) : NULL;
	if (reader && !skipped)
		reader->counters.reading_turns++;
	ws->reading_index++;
	reading_settle(room);
	return 0;
}

/* ---- moderation ---- */

int tb_participant_mute_other(tb_participant *by, const char *target_id, tb_sdp_kind kind,
			      bool muted)
{
	tb_participant *target;
	int k = kind == TB_SDP_KIND_AUDIO ? 0 : 1;

	if (!may_facilitate(by, false))
		return TB_EPERM;
	target = tb__room_find_participant(by->room, target_id);
	if (!target)
		return TB_ENOENT;
	if (kind != TB_SDP_KIND_AUDIO && kind != TB_SDP_KIND_VIDEO)
		return TB_EINVAL;
	{
		tb__workshop *ws = &by->room->ws;
		guint bits;
		if (!ws->imposed)
			ws->imposed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		bits = GPOINTER_TO_UINT(g_hash_table_lookup(ws->imposed, target->user));
		bits = muted ? bits | (1u << k) : bits & ~(1u << k);
		if (bits)
			g_hash_table_replace(ws->imposed, g_strdup(target->user),
					     GUINT_TO_POINTER(bits));
		else
			g_hash_table_remove(ws->imposed, target->user);
	}
	TB_INFO(CAT, "[%s/%s] %s %s of %s", by->room->id, by->id, muted ? "mutes" : "unmutes",
		tb_sdp_kind_to_string(kind), target->id);
	apply_forced(target, true);
	return 0;
}

int tb_participant_remove_other(tb_participant *by, const char *target_id)
{
	tb_participant *target;

	if (!may_facilitate(by, false))
		return TB_EPERM;
	target = tb__room_find_participant(by->room, target_id);
	if (!target)
		return TB_ENOENT;
	if (target == by)
		return TB_EINVAL;
	TB_INFO(CAT, "[%s/%s] removes %s (%s): refused in this room until it ends", by->room->id,
		by->id, target->id, target->user);
	{
		tb__workshop *ws = &by->room->ws;
		if (!ws->removed_users)
			ws->removed_users =
				g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
		g_hash_table_replace(ws->removed_users, g_strdup(target->user),
				     GUINT_TO_POINTER(0));
	}
	tb__participant_remove(target, "removed");
	return 0;
}

bool tb__facilitation_refuses(tb_room *room, const char *user)
{
	GHashTable *removed = room->ws.removed_users;
	gpointer value;
	guint refused;

	if (!removed || !g_hash_table_lookup_extended(removed, user, NULL, &value))
		return false;
	refused = GPOINTER_TO_UINT(value);
	/* One line per removed user: a client retrying in a loop must not
	 * flood the log. */
	if (refused == 0)
		TB_INFO(CAT, "[%s] join of %s refused: removed by a facilitator", room->id, user);
	else
		TB_DEBUG(CAT, "[%s] join of %s refused again (%u): removed by a facilitator",
			 room->id, user, refused + 1);
	/* insert keeps the stored key and frees the one passed. */
	if (refused < G_MAXUINT)
		g_hash_table_insert(removed, g_strdup(user), GUINT_TO_POINTER(refused + 1));
	return true;
}

int tb_participant_lock(tb_participant *by, bool locked)
{
	tb_room *room = by->room;

	if (!may_facilitate(by, false))
		return TB_EPERM;
	room->locked = locked;
	send_event(room, "room-updated", json_pack("{s:o}", "room", tb_room_to_json(room)));
	return 0;
}

/* ---- hands ---- */

static GList *find_hand(tb_room *room, const char *participant_id)
{
	for (GList *l = room->ws.hands.head; l; l = l->next)
		if (strcmp(((tb__hand *)l->data)->participant_id, participant_id) == 0)
			return l;
	return NULL;
}

void tb_participant_raise_hand(tb_participant *p)
{
	tb__hand *hand;

	if (p->hand_raised)
		return;
	hand = g_new0(tb__hand, 1);
	hand->participant_id = g_strdup(p->id);
	hand->raised_ms = now_ms(p->room);
	g_queue_push_tail(&p->room->ws.hands, hand);
	p->hand_raised = true;
	p->counters.hands_raised++;
	send_hands(p->room);
	tb__participant_updated(p);
}

/* Takes P's hand out of the queue; returns false when it was not raised. */
static bool drop_hand(tb_participant *p)
{
	GList *l = find_hand(p->room, p->id);

	p->hand_raised = false;
	if (!l)
		return false;
	hand_free(l->data);
	g_queue_delete_link(&p->room->ws.hands, l);
	return true;
}

int tb_participant_lower_hand(tb_participant *by, const char *target_id)
{
	tb_participant *target = by;

	if (target_id && strcmp(target_id, by->id) != 0) {
		if (!tb__role_facilitates(by->role))
			return TB_EPERM;
		target = tb__room_find_participant(by->room, target_id);
		if (!target)
			return TB_ENOENT;
	}
	if (drop_hand(target)) {
		send_hands(by->room);
		tb__participant_updated(target);
	}
	return 0;
}

/* ---- departures ---- */

void tb__facilitation_left(tb_participant *p)
{
	tb_room *room = p->room;
	tb__workshop *ws = &room->ws;

	if (drop_hand(p))
		send_hands(room);
	if (g_strcmp0(current_reader(ws), p->id) == 0) {
		ws->reading_index++;
		reading_settle(room);
	} else if (g_strcmp0(ws->spotlight, p->id) == 0) {
		set_spotlight(room, NULL);
	}
	tb__active_speaker_left(p);
}
