/* test-facilitation.c — the workshop tools as a state machine: the timed
 * exercise, the reading order and spotlight, hands, mute-other, remove,
 * lock, the late joiner's state, the active speaker and the attendance
 * counters.
 *
 * Runs on the test's main thread (the rooms' main thread), without media:
 * the server-side mute shows in each participant object's forced_muted,
 * which is what the router is told (room-media.c). Clients are fake sinks
 * that record events; the wall clock is injected. Exercise expiry is a real
 * GLib timeout: the test iterates the default context until the event, with
 * a guard, and never sleeps.
 */
#include "rooms-private.h"

#include <string.h>

#define T0_MS G_GINT64_CONSTANT(1700000000000)

typedef struct fixture fixture;

typedef struct {
	fixture *f;
	const char *label;
	tb_participant *participant;
	char *removed_reason;
} fake_client;

typedef struct {
	fake_client *client;
	char *name;
	json_t *data;
} recorded_event;

#define N_CLIENTS 6

struct fixture {
	int64_t wall_ms;
	tb_clock clock;
	tb_worker *workers[1];
	tb_rooms *rooms;
	GPtrArray *events;
	fake_client clients[N_CLIENTS];
};

static int64_t fake_wall_ms(void *user_data)
{
	return ((fixture *)user_data)->wall_ms;
}

static int64_t fake_mono_us(void *user_data)
{
	return ((fixture *)user_data)->wall_ms * 1000;
}

static void recorded_event_free(gpointer data)
{
	recorded_event *ev = data;

	g_free(ev->name);
	json_decref(ev->data);
	g_free(ev);
}

static void sink_event(void *conn, const char *name, json_t *data)
{
	fake_client *client = conn;
	recorded_event *ev = g_new0(recorded_event, 1);

	ev->client = client;
	ev->name = g_strdup(name);
	ev->data = json_deep_copy(data);
	g_ptr_array_add(client->f->events, ev);
}

static void sink_removed(void *conn, tb_participant *participant, const char *reason)
{
	fake_client *client = conn;

	g_assert_true(client->participant == participant);
	g_free(client->removed_reason);
	client->removed_reason = g_strdup(reason);
	client->participant = NULL;
}

static const tb_participant_sink fake_sink = {
	.event = sink_event,
	.removed = sink_removed,
};

static void fixture_setup(fixture *f, gconstpointer data)
{
	static const char *const labels[N_CLIENTS] = {"m", "s1", "s2", "s3", "s4", "m2"};
	tb_rooms_config config = {
		.coaching_capacity = 2,
		.workshop_capacity = 50,
		.max_rooms = 4,
		.slot_warning_s = 300,
	};

	f->wall_ms = T0_MS;
	f->clock.wall_ms = fake_wall_ms;
	f->clock.mono_us = fake_mono_us;
	f->clock.user_data = f;
	f->workers[0] = tb_worker_new("test-w0");
	f->events = g_ptr_array_new_with_free_func(recorded_event_free);
	for (int i = 0; i < N_CLIENTS; i++) {
		f->clients[i].f = f;
		f->clients[i].label = labels[i];
	}
	f->rooms = tb_rooms_new(&config, f->workers, 1, NULL, &f->clock, NULL);
}

static void fixture_teardown(fixture *f, gconstpointer data)
{
	tb_rooms_free(f->rooms);
	tb_worker_free(f->workers[0]);
	g_ptr_array_unref(f->events);
	for (int i = 0; i < N_CLIENTS; i++)
		g_free(f->clients[i].removed_reason);
}

static tb_participant *join_kind(fixture *f, int client, tb_role role, tb_room_kind kind,
				 const char *room)
{
	char user[16];
	tb_join_params params = {.room_id = room, .role = role, .kind = kind};
	tb_participant *p = NULL;

	g_snprintf(user, sizeof(user), "u-%s", f->clients[client].label);
	params.user = user;
	params.name = f->clients[client].label;
	g_assert_cmpint(tb_rooms_join(f->rooms, &params, &fake_sink, &f->clients[client], &p), ==,
			0);
	f->clients[client].participant = p;
	return p;
}

/* The usual room: a mentor (client 0) and students 1..N in workshop "w". */
static tb_participant *join(fixture *f, int client, tb_role role)
{
	return join_kind(f, client, role, TB_ROOM_KIND_WORKSHOP, "w");
}

static const char *pid(fixture *f, int client)
{
	return tb_participant_id(f->clients[client].participant);
}

static tb_room *room_of(fixture *f)
{
	return tb_rooms_lookup(f->rooms, "w");
}

/* The last event NAME that CLIENT got (transfer none), or NULL. */
static json_t *last_event(fixture *f, int client, const char *name)
{
	for (guint i = f->events->len; i > 0; i--) {
		recorded_event *ev = f->events->pdata[i - 1];
		if (ev->client == &f->clients[client] && strcmp(ev->name, name) == 0)
			return ev->data;
	}
	return NULL;
}

static unsigned count_events(fixture *f, int client, const char *name)
{
	unsigned n = 0;

	for (guint i = 0; i < f->events->len; i++) {
		recorded_event *ev = f->events->pdata[i];
		if (ev->client == &f->clients[client] && strcmp(ev->name, name) == 0)
			n++;
	}
	return n;
}

/* forced_muted.audio of CLIENT as the room describes it. */
static bool forced_audio(fixture *f, int client)
{
	json_t *o = tb_participant_to_json(f->clients[client].participant);
	bool v = json_is_true(json_object_get(json_object_get(o, "forced_muted"), "audio"));

	json_decref(o);
	return v;
}

static bool self_audio_muted(fixture *f, int client)
{
	json_t *o = tb_participant_to_json(f->clients[client].participant);
	bool v = json_is_true(json_object_get(o, "audio_muted"));

	json_decref(o);
	return v;
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* ---- exercise ---- */

static void test_exercise_forbidden(fixture *f, gconstpointer data)
{
	tb_participant *m, *s;

	m = join(f, 0, TB_ROLE_MENTOR);
	s = join(f, 1, TB_ROLE_STUDENT);
	g_assert_cmpint(tb_participant_exercise_start(s, 60000, "x", NULL), ==, TB_EPERM);
	g_assert_cmpint(tb_participant_exercise_end(s), ==, TB_EPERM);
	g_assert_cmpint(tb_participant_reading_set(s, NULL, 0), ==, TB_EPERM);
	g_assert_cmpint(tb_participant_reading_next(s, false), ==, TB_EPERM);
	g_assert_cmpint(tb_participant_lock(s, true), ==, TB_EPERM);
	g_assert_cmpint(tb_participant_remove_other(s, tb_participant_id(m)), ==, TB_EPERM);
	g_assert_cmpint(tb_participant_mute_other(s, tb_participant_id(m), TB_SDP_KIND_AUDIO, true),
			==, TB_EPERM);
	g_assert_cmpuint(count_events(f, 0, "exercise"), ==, 0);
	g_assert_false(tb_participant_facilitates(s));
	g_assert_true(tb_participant_facilitates(m));

	/* A coaching room: no exercise or reading, but lock and mute work. */
	m = join_kind(f, 4, TB_ROLE_MENTOR, TB_ROOM_KIND_COACHING, "c");
	s = join_kind(f, 5, TB_ROLE_STUDENT, TB_ROOM_KIND_COACHING, "c");
	g_assert_cmpint(tb_participant_exercise_start(m, 60000, NULL, NULL), ==, TB_EPERM);
	g_assert_cmpint(tb_participant_reading_set(m, NULL, 0), ==, TB_EPERM);
	g_assert_cmpint(tb_participant_lock(m, true), ==, 0);
	g_assert_cmpint(tb_participant_mute_other(m, tb_participant_id(s), TB_SDP_KIND_VIDEO, true),
			==, 0);
}

static void test_exercise_mutes_and_restores(fixture *f, gconstpointer data)
{
	tb_participant *m = join(f, 0, TB_ROLE_MENTOR);
	tb_participant *s1 = join(f, 1, TB_ROLE_STUDENT);
	json_t *ex = NULL, *ev, *state;

	join(f, 2, TB_ROLE_STUDENT);
	/* s1 muted itself before: that stays its own business. */
	tb_participant_mute(s1, TB_SDP_KIND_AUDIO, true);
	g_assert_cmpint(tb_participant_exercise_start(m, 10 * 60000, "Free writing", &ex), ==, 0);
	g_assert_nonnull(ex);
	g_assert_true(json_is_true(json_object_get(ex, "active")));
	g_assert_cmpstr(str(ex, "title"), ==, "Free writing");
	g_assert_cmpint(json_integer_value(json_object_get(ex, "started_at_ms")), ==, T0_MS);
	g_assert_cmpint(json_integer_value(json_object_get(ex, "ends_at_ms")), ==,
			T0_MS + 10 * 60000);
	json_decref(ex);

	for (int c = 0; c < 3; c++) {
		ev = last_event(f, c, "exercise");
		g_assert_nonnull(ev);
		g_assert_true(json_is_true(json_object_get(ev, "active")));
		g_assert_cmpint(json_integer_value(json_object_get(ev, "ends_at_ms")), ==,
				T0_MS + 10 * 60000);
		g_assert_cmpint(json_integer_value(json_object_get(ev, "server_time_ms")), ==,
				T0_MS);
	}
	g_assert_false(forced_audio(f, 0)); /* the facilitator speaks */
	g_assert_true(forced_audio(f, 1));
	g_assert_true(forced_audio(f, 2));
	/* Everyone saw the students' new state. */
	ev = last_event(f, 0, "participant-updated");
	g_assert_nonnull(ev);
	g_assert_cmpint(tb_participant_exercise_start(m, 60000, NULL, NULL), ==, TB_ECONFLICT);

	/* A late joiner is muted at once and gets the countdown. */
	f->wall_ms += 30000;
	join(f, 3, TB_ROLE_STUDENT);
	g_assert_true(forced_audio(f, 3));
	state = tb_room_workshop_json(room_of(f));
	ex = json_object_get(state, "exercise");
	g_assert_true(json_is_object(ex));
	g_assert_cmpint(json_integer_value(json_object_get(ex, "ends_at_ms")), ==,
			T0_MS + 10 * 60000);
	g_assert_cmpint(json_integer_value(json_object_get(ex, "server_time_ms")), ==,
			T0_MS + 30000);
	g_assert_true(json_is_null(json_object_get(state, "reading")));
	json_decref(state);

	/* Unmuting oneself does not lift the exercise. */
	tb_participant_mute(s1, TB_SDP_KIND_AUDIO, false);
	g_assert_true(forced_audio(f, 1));
	tb_participant_mute(s1, TB_SDP_KIND_AUDIO, true);

	g_assert_cmpint(tb_participant_exercise_end(m), ==, 0);
	ev = last_event(f, 3, "exercise");
	g_assert_true(json_is_false(json_object_get(ev, "active")));
	g_assert_cmpstr(str(ev, "reason"), ==, "ended");
	for (int c = 1; c < 4; c++)
		g_assert_false(forced_audio(f, c));
	g_assert_true(self_audio_muted(f, 1)); /* as before the exercise */
	g_assert_false(self_audio_muted(f, 2));
	g_assert_cmpint(tb_participant_exercise_end(m), ==, TB_ECONFLICT);
	state = tb_room_workshop_json(room_of(f));
	g_assert_true(json_is_null(json_object_get(state, "exercise")));
	json_decref(state);
}

static gboolean guard_expired(gpointer data)
{
	*(bool *)data = true;
	return G_SOURCE_REMOVE;
}

static void test_exercise_expires(fixture *f, gconstpointer data)
{
	tb_participant *m = join(f, 0, TB_ROLE_MENTOR);
	bool timed_out = false;
	guint guard;
	json_t *ev;

	join(f, 1, TB_ROLE_STUDENT);
	g_assert_cmpint(tb_participant_exercise_start(m, 1000, "short", NULL), ==, 0);
	g_assert_true(forced_audio(f, 1));
	guard = g_timeout_add(5000, guard_expired, &timed_out);
	while (!timed_out) {
		ev = last_event(f, 1, "exercise");
		if (ev && json_is_false(json_object_get(ev, "active")))
			break;
		g_main_context_iteration(NULL, TRUE);
	}
	g_assert_false(timed_out);
	g_source_remove(guard);
	g_assert_cmpstr(str(last_event(f, 1, "exercise"), "reason"), ==, "expired");
	g_assert_false(forced_audio(f, 1));
}

static void test_exercise_timer_freed_with_room(fixture *f, gconstpointer data)
{
	tb_participant *m = join(f, 0, TB_ROLE_MENTOR);

	g_assert_cmpint(tb_participant_exercise_start(m, 1000, NULL, NULL), ==, 0);
	tb_participant_leave(m, "left");
	f->clients[0].participant = NULL;
	g_assert_null(room_of(f));
	/* The timer went with the room: nothing fires on a freed room. */
	for (int i = 0; i < 3; i++)
		g_main_context_iteration(NULL, FALSE);
}

/* ---- reading order ---- */

static void assert_reading(fixture *f, int client, int current, int index, bool done)
{
	json_t *ev = last_event(f, client, "reading");

	g_assert_nonnull(ev);
	if (current < 0)
		g_assert_true(json_is_null(json_object_get(ev, "current")));
	else
		g_assert_cmpstr(str(ev, "current"), ==, pid(f, current));
	g_assert_cmpint(json_integer_value(json_object_get(ev, "index")), ==, index);
	g_assert_cmpint(json_is_true(json_object_get(ev, "done")), ==, done);
}

static void assert_spotlight(fixture *f, int client, int who)
{
	json_t *ev = last_event(f, client, "spotlight");

	g_assert_nonnull(ev);
	if (who < 0)
		g_assert_true(json_is_null(json_object_get(ev, "participant_id")));
	else
		g_assert_cmpstr(str(ev, "participant_id"), ==, pid(f, who));
}

static void test_reading_order(fixture *f, gconstpointer data)
{
	tb_participant *m = join(f, 0, TB_ROLE_MENTOR);
	const char *order[3];
	tb_participant_counters counters;
	json_t *state;

	for (int c = 1; c <= 3; c++)
		join(f, c, TB_ROLE_STUDENT);
	g_assert_cmpint(tb_participant_reading_next(m, false), ==, TB_ECONFLICT);
	order[0] = pid(f, 2);
	order[1] = pid(f, 1);
	order[2] = pid(f, 3);
	g_assert_cmpint(tb_participant_reading_set(m, order, 3), ==, 0);
	assert_reading(f, 1, 2, 0, false);
	assert_spotlight(f, 3, 2);
	g_assert_false(forced_audio(f, 0));
	g_assert_false(forced_audio(f, 2));
	g_assert_true(forced_audio(f, 1));
	g_assert_true(forced_audio(f, 3));

	/* Late joiner: the state, and muted (not a reader). */
	join(f, 4, TB_ROLE_STUDENT);
	g_assert_true(forced_audio(f, 4));
	state = tb_room_workshop_json(room_of(f));
	g_assert_cmpstr(str(state, "spotlight"), ==, pid(f, 2));
	g_assert_cmpstr(str(json_object_get(state, "reading"), "current"), ==, pid(f, 2));
	g_assert_cmpuint(
		json_array_size(json_object_get(json_object_get(state, "reading"), "order")), ==,
		3);
	json_decref(state);

	g_assert_cmpint(tb_participant_reading_next(m, false), ==, 0); /* s2 finished */
	assert_reading(f, 0, 1, 1, false);
	assert_spotlight(f, 0, 1);
	g_assert_false(forced_audio(f, 1));
	g_assert_true(forced_audio(f, 2));
	g_assert_cmpint(tb_participant_reading_next(m, true), ==, 0); /* s1 skipped */
	assert_reading(f, 0, 3, 2, false);
	g_assert_true(forced_audio(f, 1));
	g_assert_false(forced_audio(f, 3));
	g_assert_cmpint(tb_participant_reading_next(m, false), ==, 0); /* s3 finished: done */
	assert_reading(f, 2, -1, 3, true);
	assert_spotlight(f, 2, -1);
	for (int c = 0; c <= 4; c++)
		g_assert_false(forced_audio(f, c));
	g_assert_cmpint(tb_participant_reading_next(m, false), ==, TB_ECONFLICT);

	tb_participant_get_counters(f->clients[2].participant, &counters);
	g_assert_cmpuint(counters.reading_turns, ==, 1);
	tb_participant_get_counters(f->clients[1].participant, &counters);
	g_assert_cmpuint(counters.reading_turns, ==, 0); /* skipped */
	tb_participant_get_counters(f->clients[3].participant, &counters);
	g_assert_cmpuint(counters.reading_turns, ==, 1);
}

static void test_reading_errors_and_shuffle(fixture *f, gconstpointer data)
{
	tb_participant *m = join(f, 0, TB_ROLE_MENTOR);
	const char *order[2];
	json_t *ev, *ids;
	bool seen[3] = {false};

	join(f, 5, TB_ROLE_ADMIN); /* a second facilitator: not shuffled */
	g_assert_cmpint(tb_participant_reading_set(m, NULL, 0), ==, TB_EINVAL); /* nobody */
	join(f, 1, TB_ROLE_STUDENT);
	join(f, 2, TB_ROLE_STUDENT);
	order[0] = pid(f, 1);
	order[1] = "0123456789abcdef";
	g_assert_cmpint(tb_participant_reading_set(m, order, 2), ==, TB_ENOENT);
	order[1] = pid(f, 1);
	g_assert_cmpint(tb_participant_reading_set(m, order, 2), ==, TB_EINVAL);
	g_assert_cmpint(tb_participant_reading_set(m, order, 0), ==, TB_EINVAL);
	g_assert_cmpuint(count_events(f, 0, "reading"), ==, 0);

	g_assert_cmpint(tb_participant_reading_set(m, NULL, 0), ==, 0);
	ev = last_event(f, 0, "reading");
	ids = json_object_get(ev, "order");
	g_assert_cmpuint(json_array_size(ids), ==, 2);
	for (size_t i = 0; i < 2; i++)
		for (int c = 1; c <= 2; c++)
			if (g_strcmp0(json_string_value(json_array_get(ids, i)), pid(f, c)) == 0)
				seen[c] = true;
	g_assert_true(seen[1] && seen[2]);
	g_assert_false(forced_audio(f, 5)); /* facilitators keep their voice */
}

static void test_reader_leaves(fixture *f, gconstpointer data)
{
	tb_participant *m = join(f, 0, TB_ROLE_MENTOR);
	const char *order[3];

	for (int c = 1; c <= 3; c++)
		join(f, c, TB_ROLE_STUDENT);
	for (int c = 1; c <= 3; c++)
		order[c - 1] = pid(f, c);
	g_assert_cmpint(tb_participant_reading_set(m, order, 3), ==, 0);
	/* The second reader leaves before its turn, then the current one. */
	tb_participant_leave(f->clients[2].participant, "left");
	f->clients[2].participant = NULL;
	assert_reading(f, 0, 1, 0, false);
	tb_participant_leave(f->clients[1].participant, "disconnected");
	f->clients[1].participant = NULL;
	assert_reading(f, 0, 3, 2, false);
	assert_spotlight(f, 0, 3);
	g_assert_false(forced_audio(f, 3));
	/* A removed reader too: the reading ends. */
	g_assert_cmpint(tb_participant_remove_other(m, pid(f, 3)), ==, 0);
	g_assert_cmpstr(f->clients[3].removed_reason, ==, "removed");
	assert_reading(f, 0, -1, 3, true);
}

/* ---- hands, moderation ---- */

static void test_hands(fixture *f, gconstpointer data)
{
	tb_participant *m = join(f, 0, TB_ROLE_MENTOR);
	tb_participant *s1 = join(f, 1, TB_ROLE_STUDENT);
	tb_participant *s2 = join(f, 2, TB_ROLE_STUDENT);
	tb_participant_counters counters;
	json_t *queue, *state, *o;

	tb_participant_raise_hand(s2);
	f->wall_ms += 1000;
	tb_participant_raise_hand(s1);
	tb_participant_raise_hand(s1); /* again: no change */
	g_assert_cmpuint(count_events(f, 0, "hands"), ==, 2);
	queue = json_object_get(last_event(f, 0, "hands"), "queue");
	g_assert_cmpuint(json_array_size(queue), ==, 2);
	g_assert_cmpstr(str(json_array_get(queue, 0), "participant_id"), ==, pid(f, 2));
	g_assert_cmpint(
		json_integer_value(json_object_get(json_array_get(queue, 1), "raised_at_ms")), ==,
		T0_MS + 1000);
	o = tb_participant_to_json(s1);
	g_assert_true(json_is_true(json_object_get(o, "hand_raised")));
	json_decref(o);

	g_assert_cmpint(tb_participant_lower_hand(s1, pid(f, 2)), ==, TB_EPERM);
	g_assert_cmpint(tb_participant_lower_hand(s1, NULL), ==, 0);
	g_assert_cmpint(tb_participant_lower_hand(m, "0123456789abcdef"), ==, TB_ENOENT);
	g_assert_cmpint(tb_participant_lower_hand(m, pid(f, 2)), ==, 0);
	queue = json_object_get(last_event(f, 1, "hands"), "queue");
	g_assert_cmpuint(json_array_size(queue), ==, 0);
	tb_participant_raise_hand(s1);
	state = tb_room_workshop_json(room_of(f));
	g_assert_cmpuint(json_array_size(json_object_get(state, "hands")), ==, 1);
	json_decref(state);
	tb_participant_get_counters(s1, &counters);
	g_assert_cmpuint(counters.hands_raised, ==, 2);
	tb_participant_get_counters(s2, &counters);
	g_assert_cmpuint(counters.hands_raised, ==, 1);

	/* A hand goes down with its owner. */
	tb_participant_leave(s1, "left");
	f->clients[1].participant = NULL;
	queue = json_object_get(last_event(f, 0, "hands"), "queue");
	g_assert_cmpuint(json_array_size(queue), ==, 0);
}

static void test_mute_other_remove_lock(fixture *f, gconstpointer data)
{
	tb_participant *m = join(f, 0, TB_ROLE_MENTOR);
	tb_participant *s1 = join(f, 1, TB_ROLE_STUDENT);
	json_t *ev, *room;
	tb_join_params params = {.room_id = "w", .user = "late", .role = TB_ROLE_STUDENT};
	tb_participant *p = NULL;

	join(f, 2, TB_ROLE_STUDENT);
	g_assert_cmpint(tb_participant_mute_other(m, "nobody", TB_SDP_KIND_AUDIO, true), ==,
			TB_ENOENT);
	g_assert_cmpint(tb_participant_mute_other(m, pid(f, 1), TB_SDP_KIND_AUDIO, true), ==, 0);
	g_assert_true(forced_audio(f, 1));
	ev = last_event(f, 1, "participant-updated");
	g_assert_true(json_is_true(json_object_get(
		json_object_get(json_object_get(ev, "participant"), "forced_muted"), "audio")));
	/* Unmuting oneself does not lift it; an exercise ending does not either. */
	tb_participant_mute(s1, TB_SDP_KIND_AUDIO, false);
	g_assert_true(forced_audio(f, 1));
	g_assert_cmpint(tb_participant_exercise_start(m, 60000, NULL, NULL), ==, 0);
	g_assert_cmpint(tb_participant_exercise_end(m), ==, 0);
	g_assert_true(forced_audio(f, 1));
	g_assert_false(forced_audio(f, 2));
	/* Nor does leaving and joining again (the mute follows the user). */
	tb_participant_leave(s1, "left");
	s1 = join(f, 1, TB_ROLE_STUDENT);
	g_assert_true(forced_audio(f, 1));
	g_assert_cmpint(tb_participant_mute_other(m, pid(f, 1), TB_SDP_KIND_AUDIO, false), ==, 0);
	g_assert_false(forced_audio(f, 1));

	g_assert_cmpint(tb_participant_remove_other(m, tb_participant_id(m)), ==, TB_EINVAL);
	g_assert_cmpint(tb_participant_remove_other(m, "nobody"), ==, TB_ENOENT);
	g_assert_cmpint(tb_participant_remove_other(m, pid(f, 2)), ==, 0);
	g_assert_cmpstr(f->clients[2].removed_reason, ==, "removed");
	ev = last_event(f, 1, "participant-left");
	g_assert_cmpstr(str(ev, "reason"), ==, "removed");

	g_assert_cmpint(tb_participant_lock(m, true), ==, 0);
	room = json_object_get(last_event(f, 1, "room-updated"), "room");
	g_assert_true(json_is_true(json_object_get(room, "locked")));
	g_assert_true(tb_room_locked(room_of(f)));
	g_assert_cmpint(tb_rooms_join(f->rooms, &params, &fake_sink, &f->clients[3], &p), ==,
			TB_ELOCKED);
	g_assert_cmpint(tb_participant_lock(m, false), ==, 0);
	g_assert_cmpint(tb_rooms_join(f->rooms, &params, &fake_sink, &f->clients[3], &p), ==, 0);
	f->clients[3].participant = p;
}

/* A removal sticks to the user for the room's life: a fresh token of the same
 * user (any role) is refused; other users and other rooms are not; a student
 * cannot remove anyone, so a mentor cannot be locked out by one; a new life
 * of the room starts clean. */
static void test_remove_sticks(fixture *f, gconstpointer data)
{
	tb_participant *m = join(f, 0, TB_ROLE_MENTOR);
	tb_participant *s1 = join(f, 1, TB_ROLE_STUDENT);
	tb_join_params again = {.room_id = "w",
				.user = "u-s2",
				.role = TB_ROLE_STUDENT,
				.kind = TB_ROOM_KIND_WORKSHOP};
	tb_participant *p = NULL;
	char *removed_id;

	join(f, 2, TB_ROLE_STUDENT);
	/* A student cannot remove the mentor (nor anyone). */
	g_assert_cmpint(tb_participant_remove_other(s1, tb_participant_id(m)), ==, TB_EPERM);
	g_assert_cmpint(tb_participant_remove_other(s1, pid(f, 2)), ==, TB_EPERM);
	g_assert_null(f->clients[0].removed_reason);
	g_assert_null(f->clients[2].removed_reason);

	removed_id = g_strdup(pid(f, 2));
	g_assert_cmpint(tb_participant_remove_other(m, removed_id), ==, 0);
	g_assert_cmpstr(f->clients[2].removed_reason, ==, "removed");
	f->clients[2].participant = NULL;
	/* The same user comes back, as a student or with a mentor token. */
	g_assert_cmpint(tb_rooms_join(f->rooms, &again, &fake_sink, &f->clients[2], &p), ==,
			TB_EAUTH);
	g_assert_null(p);
	again.role = TB_ROLE_MENTOR;
	g_assert_cmpint(tb_rooms_join(f->rooms, &again, &fake_sink, &f->clients[2], &p), ==,
			TB_EAUTH);
	g_assert_null(tb__room_find_participant(room_of(f), removed_id));
	g_assert_cmpuint(tb_rooms_participant_count(f->rooms), ==, 2);
	/* A locked room does not change the answer. */
	g_assert_cmpint(tb_participant_lock(m, true), ==, 0);
	g_assert_cmpint(tb_rooms_join(f->rooms, &again, &fake_sink, &f->clients[2], &p), ==,
			TB_EAUTH);
	g_assert_cmpint(tb_participant_lock(m, false), ==, 0);

	/* Another user joins; the removed user may join another room. */
	join(f, 3, TB_ROLE_STUDENT);
	again.room_id = "w-other";
	again.role = TB_ROLE_STUDENT;
	g_assert_cmpint(tb_rooms_join(f->rooms, &again, &fake_sink, &f->clients[2], &p), ==, 0);
	g_assert_nonnull(p);
	f->clients[2].participant = p;
	tb_participant_leave(p, "left");
	f->clients[2].participant = NULL;

	/* Leaving and coming back (not removed) is still fine for the others. */
	tb_participant_leave(s1, "left");
	join(f, 1, TB_ROLE_STUDENT);

	/* The room ends with its last participant; its next life has no
	 * memory of the removal. */
	tb_participant_leave(f->clients[1].participant, "left");
	tb_participant_leave(f->clients[3].participant, "left");
	tb_participant_leave(m, "left");
	g_assert_null(room_of(f));
	again.room_id = "w";
	p = NULL;
	g_assert_cmpint(tb_rooms_join(f->rooms, &again, &fake_sink, &f->clients[2], &p), ==, 0);
	f->clients[2].participant = p;
	g_free(removed_id);
}

/* ---- active speaker and speaking time ---- */

static void feed(fixture *f, int a, uint8_t level_a, int b, uint8_t level_b, int times)
{
	tb_router_audio_level levels[2] = {
		{pid(f, a), level_a, false},
		{pid(f, b), level_b, false},
	};

	for (int i = 0; i < times; i++)
		tb__room_audio_levels(room_of(f), levels, 2, 250);
}

static void test_active_speaker(fixture *f, gconstpointer data)
{
	tb_participant *m = join(f, 0, TB_ROLE_MENTOR);
	tb_participant_counters counters;
	json_t *state;

	join(f, 1, TB_ROLE_STUDENT);
	join(f, 2, TB_ROLE_STUDENT);
	/* Quiet noise from both: nobody speaks. */
	feed(f, 1, 70, 2, 90, 8);
	g_assert_cmpuint(count_events(f, 0, "active-speaker"), ==, 0);
	/* s1 louder: after ~1 s it becomes the active speaker, once. */
	feed(f, 1, 20, 2, 40, 3);
	g_assert_cmpuint(count_events(f, 0, "active-speaker"), ==, 0);
	feed(f, 1, 20, 2, 40, 1);
	g_assert_cmpstr(str(last_event(f, 0, "active-speaker"), "participant_id"), ==, pid(f, 1));
	feed(f, 1, 20, 2, 40, 8);
	g_assert_cmpuint(count_events(f, 2, "active-speaker"), ==, 1);
	/* A short burst from s2 does not take over; a sustained one does. */
	feed(f, 1, 40, 2, 10, 2);
	feed(f, 1, 20, 2, 40, 1);
	feed(f, 1, 40, 2, 10, 3);
	g_assert_cmpuint(count_events(f, 2, "active-speaker"), ==, 1);
	feed(f, 1, 40, 2, 10, 1);
	g_assert_cmpstr(str(last_event(f, 0, "active-speaker"), "participant_id"), ==, pid(f, 2));
	/* Silence keeps the last speaker. */
	feed(f, 1, 127, 2, 127, 10);
	g_assert_cmpuint(count_events(f, 0, "active-speaker"), ==, 2);
	state = tb_room_workshop_json(room_of(f));
	g_assert_cmpstr(str(state, "active_speaker"), ==, pid(f, 2));
	json_decref(state);

	/* A muted participant never wins, however loud (exercise: students). */
	g_assert_cmpint(tb_participant_exercise_start(m, 60000, NULL, NULL), ==, 0);
	feed(f, 1, 5, 2, 127, 10);
	g_assert_cmpuint(count_events(f, 0, "active-speaker"), ==, 2);
	g_assert_cmpint(tb_participant_exercise_end(m), ==, 0);

	/* Speaking time: the intervals at or above the floor, unmuted. s1:
	 * 4+8+2+1 intervals above -50 dBov before the exercise, plus the ones
	 * where it was quieter than s2 but still speaking (40 dBov: 3+1). */
	tb_participant_get_counters(f->clients[1].participant, &counters);
	g_assert_cmpint(counters.speaking_ms, ==, (4 + 8 + 2 + 1 + 3 + 1) * 250);
	tb_participant_get_counters(f->clients[2].participant, &counters);
	g_assert_cmpint(counters.speaking_ms, ==, (4 + 8 + 2 + 1 + 3 + 1) * 250);

	/* The active speaker leaves: nobody. */
	tb_participant_leave(f->clients[2].participant, "left");
	f->clients[2].participant = NULL;
	g_assert_true(json_is_null(
		json_object_get(last_event(f, 0, "active-speaker"), "participant_id")));
	/* Unknown ids in a report are ignored. */
	{
		tb_router_audio_level ghost = {"0123456789abcdef", 10, false};
		for (int i = 0; i < 8; i++)
			tb__room_audio_levels(room_of(f), &ghost, 1, 250);
	}
	g_assert_cmpuint(count_events(f, 0, "active-speaker"), ==, 3);
}

static void test_join_state_empty(fixture *f, gconstpointer data)
{
	json_t *state, *o;

	join(f, 1, TB_ROLE_STUDENT);
	state = tb_room_workshop_json(room_of(f));
	g_assert_true(json_is_null(json_object_get(state, "exercise")));
	g_assert_true(json_is_null(json_object_get(state, "reading")));
	g_assert_true(json_is_null(json_object_get(state, "spotlight")));
	g_assert_true(json_is_null(json_object_get(state, "active_speaker")));
	g_assert_cmpuint(json_array_size(json_object_get(state, "hands")), ==, 0);
	json_decref(state);
	o = tb_participant_to_json(f->clients[1].participant);
	g_assert_true(json_is_false(json_object_get(json_object_get(o, "forced_muted"), "audio")));
	g_assert_true(json_is_false(json_object_get(json_object_get(o, "forced_muted"), "video")));
	g_assert_true(json_is_false(json_object_get(o, "hand_raised")));
	json_decref(o);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, fn)                                                                              \
	g_test_add("/facilitation/" name, fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("exercise-forbidden", test_exercise_forbidden);
	ADD("exercise-mutes-and-restores", test_exercise_mutes_and_restores);
	ADD("exercise-expires", test_exercise_expires);
	ADD("exercise-timer-freed-with-room", test_exercise_timer_freed_with_room);
	ADD("reading-order", test_reading_order);
	ADD("reading-errors-and-shuffle", test_reading_errors_and_shuffle);
	ADD("reader-leaves", test_reader_leaves);
	ADD("hands", test_hands);
	ADD("mute-other-remove-lock", test_mute_other_remove_lock);
	ADD("remove-sticks", test_remove_sticks);
	ADD("active-speaker", test_active_speaker);
	ADD("join-state-empty", test_join_state_empty);
	return g_test_run();
}
