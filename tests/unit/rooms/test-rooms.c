/* test-rooms.c — the room registry: joins, policy, presence events, workers,
 * shutdown, the booked-slot warning and what reaches the catalog.
 *
 * Runs on the test's main thread, which is the rooms' main thread. Clients
 * are fake sinks that record every event (conn, name, JSON dump) in order;
 * the clock is injected so times are exact. The slot warning is a real GLib
 * timeout on the default context: the tests iterate that context, bounded by
 * a guard timeout, and never sleep.
 */
#include "rooms.h"

#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#define T0_MS G_GINT64_CONSTANT(1700000000000)

/* ---- fake clock ---- */

typedef struct {
	int64_t wall_ms;
	int64_t mono_us;
} fake_time;

static int64_t fake_wall_ms(void *user_data)
{
	return ((fake_time *)user_data)->wall_ms;
}

static int64_t fake_mono_us(void *user_data)
{
	return ((fake_time *)user_data)->mono_us;
}

/* ---- recording sink ---- */

typedef struct fixture fixture;

typedef struct {
	fixture *f;
	const char *label;
	tb_participant *participant; /* NULL once left or removed */
	char *removed_reason;        /* set by removed() */
} fake_client;

typedef struct {
	fake_client *client;
	char *name; /* event name, or "removed" for the removed() callback */
	char *json; /* compact dump of the data, or the reason for "removed" */
} recorded_event;

#define N_CLIENTS 8

struct fixture {
	fake_time now;
	tb_clock clock;
	tb_worker *workers[2];
	tb_rooms_config config;
	tb_rooms *rooms;
	GPtrArray *events; /* recorded_event*, in delivery order */
	fake_client clients[N_CLIENTS];
};

static void recorded_event_free(gpointer data)
{
	recorded_event *ev = data;

	g_free(ev->name);
	g_free(ev->json);
	g_free(ev);
}

static void record(fake_client *client, const char *name, char *json)
{
	recorded_event *ev = g_new0(recorded_event, 1);

	ev->client = client;
	ev->name = g_strdup(name);
	ev->json = json;
	g_ptr_array_add(client->f->events, ev);
}

static void sink_event(void *conn, const char *name, json_t *data)
{
	fake_client *client = conn;

	g_assert_nonnull(name);
	g_assert_nonnull(data);
	record(client, name, json_dumps(data, JSON_COMPACT | JSON_SORT_KEYS));
}

static void sink_removed(void *conn, tb_participant *participant, const char *reason)
{
	fake_client *client = conn;

	g_assert_true(client->participant == participant);
	g_free(client->removed_reason);
	client->removed_reason = g_strdup(reason);
	client->participant = NULL;
	record(client, "removed", g_strdup(reason));
}

static const tb_participant_sink fake_sink = {
	.event = sink_event,
	.removed = sink_removed,
};

static void fixture_setup(fixture *f, gconstpointer data)
{
	static const char *const labels[N_CLIENTS] = {"a", "b", "c", "d", "e", "f", "g", "h"};

	f->now.wall_ms = T0_MS;
	f->now.mono_us = 5000000;
	f->clock.wall_ms = fake_wall_ms;
	f->clock.mono_us = fake_mono_us;
	f->clock.user_data = &f->now;
	f->workers[0] = tb_worker_new("test-w0");
	f->workers[1] = tb_worker_new("test-w1");
	f->config.coaching_capacity = 2;
	f->config.workshop_capacity = 50;
	f->config.max_rooms = 3;
	f->config.slot_warning_s = 300;
	f->events = g_ptr_array_new_with_free_func(recorded_event_free);
	for (int i = 0; i < N_CLIENTS; i++) {
		f->clients[i].f = f;
		f->clients[i].label = labels[i];
	}
	f->rooms = tb_rooms_new(&f->config, f->workers, 2, NULL, &f->clock, NULL);
	g_assert_nonnull(f->rooms);
}

static void fixture_teardown(fixture *f, gconstpointer data)
{
	tb_rooms_free(f->rooms);
	tb_worker_free(f->workers[0]);
	tb_worker_free(f->workers[1]);
	g_ptr_array_unref(f->events);
	for (int i = 0; i < N_CLIENTS; i++)
		g_free(f->clients[i].removed_reason);
}

/* Joins CLIENT as USER to ROOM_ID; returns the tb_rooms_join result. */
static int join_full(fixture *f, fake_client *client, const char *room_id, const char *user,
		     const char *name, tb_role role, tb_room_kind kind, int64_t slot_ends_ms)
{
	tb_join_params params = {
		.room_id = room_id,
		.user = user,
		.name = name,
		.role = role,
		.kind = kind,
		.slot_ends_ms = slot_ends_ms,
	};
	tb_participant *p = NULL;
	int rc = tb_rooms_join(f->rooms, &params, &fake_sink, client, &p);

	if (rc == 0) {
		g_assert_nonnull(p);
		client->participant = p;
	} else {
		g_assert_null(p); /* a failed call leaves *out alone */
	}
	return rc;
}

static int join(fixture *f, fake_client *client, const char *room_id, const char *user,
		tb_role role)
{
	return join_full(f, client, room_id, user, NULL, role, TB_ROOM_KIND_COACHING, 0);
}

static void leave(fake_client *client, const char *reason)
{
	g_assert_nonnull(client->participant);
	tb_participant_leave(client->participant, reason);
	client->participant = NULL;
}

static unsigned count_events(fixture *f, fake_client *client, const char *name)
{
	unsigned n = 0;

	for (guint i = 0; i < f->events->len; i++) {
		recorded_event *ev = f->events->pdata[i];
		if ((client == NULL || ev->client == client) &&
		    (name == NULL || !strcmp(ev->name, name)))
			n++;
	}
	return n;
}

/* Returns the Nth recorded event of CLIENT (any name), or NULL. */
static recorded_event *nth_event(fixture *f, fake_client *client, unsigned n)
{
	for (guint i = 0; i < f->events->len; i++) {
		recorded_event *ev = f->events->pdata[i];
		if (ev->client == client && n-- == 0)
			return ev;
	}
	return NULL;
}

/* Returns the data of the first event NAME to CLIENT (new ref), or fails. */
static json_t *event_data(fixture *f, fake_client *client, const char *name)
{
	for (guint i = 0; i < f->events->len; i++) {
		recorded_event *ev = f->events->pdata[i];
		if (ev->client == client && !strcmp(ev->name, name)) {
			json_error_t jerr;
			json_t *data = json_loads(ev->json, 0, &jerr);
			g_assert_nonnull(data);
			return data;
		}
	}
	g_test_message("no event '%s' for client %s", name, client->label);
	g_assert_not_reached();
	return NULL;
}

static json_t *parse_json(const char *text)
{
	json_error_t jerr;
	json_t *data = json_loads(text, 0, &jerr);

	g_assert_nonnull(data);
	return data;
}

static const char *json_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	g_assert_true(json_is_string(v));
	return json_string_value(v);
}

static void clear_events(fixture *f)
{
	g_ptr_array_set_size(f->events, 0);
}

/* ---- tests ---- */

static void test_kind_strings(void)
{
	tb_room_kind kind = TB_ROOM_KIND_WORKSHOP;

	g_assert_true(tb_room_kind_from_string("coaching", &kind));
	g_assert_cmpint(kind, ==, TB_ROOM_KIND_COACHING);
	g_assert_true(tb_room_kind_from_string("workshop", &kind));
	g_assert_cmpint(kind, ==, TB_ROOM_KIND_WORKSHOP);
	g_assert_false(tb_room_kind_from_string("Workshop", &kind));
	g_assert_false(tb_room_kind_from_string("", &kind));
	g_assert_false(tb_room_kind_from_string(NULL, &kind));
	g_assert_cmpstr(tb_room_kind_to_string(TB_ROOM_KIND_COACHING), ==, "coaching");
	g_assert_cmpstr(tb_room_kind_to_string(TB_ROOM_KIND_WORKSHOP), ==, "workshop");
}

static void test_join_creates_room(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0], *w = &f->clients[1];
	tb_room *room;
	json_t *o;

	g_assert_null(tb_rooms_lookup(f->rooms, "c1"));
	g_assert_cmpuint(tb_rooms_n_workers(f->rooms), ==, 2);
	g_assert_cmpint(join(f, a, "c1", "alice", TB_ROLE_MENTOR), ==, 0);

	room = tb_rooms_lookup(f->rooms, "c1");
	g_assert_nonnull(room);
	g_assert_true(tb_participant_room(a->participant) == room);
	g_assert_cmpstr(tb_room_id(room), ==, "c1");
	g_assert_cmpint(tb_room_kind_get(room), ==, TB_ROOM_KIND_COACHING);
	g_assert_nonnull(tb_room_session_id(room));
	g_assert_cmpstr(tb_room_session_id(room), !=, "");
	g_assert_true(tb_room_worker(room) == f->workers[0] ||
		      tb_room_worker(room) == f->workers[1]);
	g_assert_cmpuint(tb_rooms_count(f->rooms), ==, 1);
	g_assert_cmpuint(tb_rooms_participant_count(f->rooms), ==, 1);

	o = tb_room_to_json(room);
	g_assert_cmpstr(json_str(o, "id"), ==, "c1");
	g_assert_cmpstr(json_str(o, "kind"), ==, "coaching");
	g_assert_cmpint(json_integer_value(json_object_get(o, "capacity")), ==, 2);
	g_assert_true(json_is_false(json_object_get(o, "locked")));
	g_assert_cmpint(json_integer_value(json_object_get(o, "participants")), ==, 1);
	g_assert_cmpstr(json_str(o, "session_id"), ==, tb_room_session_id(room));
	g_assert_null(json_object_get(o, "slot_ends_ms"));
	json_decref(o);

	/* The participant: a fresh id, the user as name when none is given. */
	g_assert_cmpstr(tb_participant_id(a->participant), !=, "");
	g_assert_cmpstr(tb_participant_user(a->participant), ==, "alice");
	g_assert_cmpint(tb_participant_role(a->participant), ==, TB_ROLE_MENTOR);
	o = tb_participant_to_json(a->participant);
	g_assert_cmpstr(json_str(o, "participant_id"), ==, tb_participant_id(a->participant));
	g_assert_cmpstr(json_str(o, "user"), ==, "alice");
	g_assert_cmpstr(json_str(o, "name"), ==, "alice");
	g_assert_cmpstr(json_str(o, "role"), ==, "mentor");
	g_assert_true(json_is_array(json_object_get(o, "tracks")));
	json_decref(o);

	/* A workshop join takes the workshop capacity; a given name is kept. */
	g_assert_cmpint(join_full(f, w, "w1", "wendy", "Wendy W.", TB_ROLE_STUDENT,
				  TB_ROOM_KIND_WORKSHOP, 0),
			==, 0);
	room = tb_rooms_lookup(f->rooms, "w1");
	g_assert_nonnull(room);
	g_assert_cmpint(tb_room_kind_get(room), ==, TB_ROOM_KIND_WORKSHOP);
	o = tb_room_to_json(room);
	g_assert_cmpstr(json_str(o, "kind"), ==, "workshop");
	g_assert_cmpint(json_integer_value(json_object_get(o, "capacity")), ==, 50);
	json_decref(o);
	o = tb_participant_to_json(w->participant);
	g_assert_cmpstr(json_str(o, "name"), ==, "Wendy W.");
	g_assert_cmpstr(json_str(o, "role"), ==, "student");
	json_decref(o);

	/* A kind given to a join of an existing room does not change it. */
	g_assert_cmpint(join_full(f, &f->clients[2], "c1", "bob", NULL, TB_ROLE_STUDENT,
				  TB_ROOM_KIND_WORKSHOP, 0),
			==, 0);
	g_assert_cmpint(tb_room_kind_get(tb_rooms_lookup(f->rooms, "c1")), ==,
			TB_ROOM_KIND_COACHING);

	o = tb_rooms_list_json(f->rooms);
	g_assert_cmpuint(json_array_size(o), ==, 2);
	g_assert_cmpstr(json_str(json_array_get(o, 0), "id"), ==, "c1");
	g_assert_cmpstr(json_str(json_array_get(o, 1), "id"), ==, "w1");
	json_decref(o);

	/* Nobody was there to be told about the first joins. */
	g_assert_cmpuint(count_events(f, w, NULL), ==, 0);
}

static void test_roster_excludes_self(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0], *b = &f->clients[1];
	tb_room *room;
	json_t *roster;

	g_assert_cmpint(join(f, a, "r1", "alice", TB_ROLE_MENTOR), ==, 0);
	room = tb_participant_room(a->participant);
	roster = tb_room_roster_json(room, a->participant);
	g_assert_true(json_is_array(roster));
	g_assert_cmpuint(json_array_size(roster), ==, 0);
	json_decref(roster);

	g_assert_cmpint(join(f, b, "r1", "bob", TB_ROLE_STUDENT), ==, 0);
	roster = tb_room_roster_json(room, b->participant);
	g_assert_cmpuint(json_array_size(roster), ==, 1);
	g_assert_cmpstr(json_str(json_array_get(roster, 0), "participant_id"), ==,
			tb_participant_id(a->participant));
	json_decref(roster);

	roster = tb_room_roster_json(room, a->participant);
	g_assert_cmpuint(json_array_size(roster), ==, 1);
	g_assert_cmpstr(json_str(json_array_get(roster, 0), "user"), ==, "bob");
	json_decref(roster);

	/* NULL: everyone, in join order. */
	roster = tb_room_roster_json(room, NULL);
	g_assert_cmpuint(json_array_size(roster), ==, 2);
	g_assert_cmpstr(json_str(json_array_get(roster, 0), "user"), ==, "alice");
	g_assert_cmpstr(json_str(json_array_get(roster, 1), "user"), ==, "bob");
	json_decref(roster);
}

static void test_joined_sent_to_others(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0], *b = &f->clients[1], *c = &f->clients[2];
	json_t *ev, *who;

	g_assert_cmpint(
		join_full(f, a, "w", "alice", NULL, TB_ROLE_MENTOR, TB_ROOM_KIND_WORKSHOP, 0), ==,
		0);
	g_assert_cmpuint(count_events(f, NULL, NULL), ==, 0);

	g_assert_cmpint(
		join_full(f, b, "w", "bob", "Bob", TB_ROLE_STUDENT, TB_ROOM_KIND_WORKSHOP, 0), ==,
		0);
	g_assert_cmpuint(count_events(f, a, "participant-joined"), ==, 1);
	g_assert_cmpuint(count_events(f, b, NULL), ==, 0);
	ev = event_data(f, a, "participant-joined");
	who = json_object_get(ev, "participant");
	g_assert_true(json_is_object(who));
	g_assert_cmpstr(json_str(who, "participant_id"), ==, tb_participant_id(b->participant));
	g_assert_cmpstr(json_str(who, "user"), ==, "bob");
	g_assert_cmpstr(json_str(who, "name"), ==, "Bob");
	g_assert_cmpstr(json_str(who, "role"), ==, "student");
	g_assert_true(json_is_array(json_object_get(who, "tracks")));
	json_decref(ev);

	clear_events(f);
	g_assert_cmpint(
		join_full(f, c, "w", "carol", NULL, TB_ROLE_STUDENT, TB_ROOM_KIND_WORKSHOP, 0), ==,
		0);
	g_assert_cmpuint(count_events(f, a, "participant-joined"), ==, 1);
	g_assert_cmpuint(count_events(f, b, "participant-joined"), ==, 1);
	g_assert_cmpuint(count_events(f, c, NULL), ==, 0);
	g_assert_cmpuint(count_events(f, NULL, NULL), ==, 2);
}

static void test_capacity(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0], *b = &f->clients[1], *c = &f->clients[2];
	tb_room *room = NULL;

	g_assert_cmpint(join(f, a, "r", "alice", TB_ROLE_MENTOR), ==, 0);
	g_assert_cmpint(join(f, b, "r", "bob", TB_ROLE_STUDENT), ==, 0);
	clear_events(f);
	g_assert_cmpint(join(f, c, "r", "carol", TB_ROLE_STUDENT), ==, TB_EFULL);
	/* Capacity binds admins and mentors too. */
	g_assert_cmpint(join(f, c, "r", "root", TB_ROLE_ADMIN), ==, TB_EFULL);
	g_assert_cmpuint(count_events(f, NULL, NULL), ==, 0);
	g_assert_cmpuint(tb_rooms_participant_count(f->rooms), ==, 2);

	/* A room created with an explicit capacity. */
	g_assert_cmpint(tb_rooms_create(f->rooms, "small", TB_ROOM_KIND_WORKSHOP, 1, false, &room),
			==, 0);
	g_assert_nonnull(room);
	g_assert_true(tb_rooms_lookup(f->rooms, "small") == room);
	g_assert_cmpint(
		join_full(f, c, "small", "carol", NULL, TB_ROLE_STUDENT, TB_ROOM_KIND_WORKSHOP, 0),
		==, 0);
	g_assert_cmpint(join_full(f, &f->clients[3], "small", "dave", NULL, TB_ROLE_STUDENT,
				  TB_ROOM_KIND_WORKSHOP, 0),
			==, TB_EFULL);

	/* A place freed is a place taken. */
	leave(b, "left");
	g_assert_cmpint(join(f, &f->clients[4], "r", "erin", TB_ROLE_STUDENT), ==, 0);
}

static void test_curator_refused(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0];

	g_assert_cmpint(join(f, a, "r", "cora", TB_ROLE_CURATOR), ==, TB_EPERM);
	g_assert_cmpint(join(f, a, "r", "nobody", TB_ROLE_NONE), ==, TB_EPERM);
	/* Refusals create nothing. */
	g_assert_cmpuint(tb_rooms_count(f->rooms), ==, 0);
	g_assert_null(tb_rooms_lookup(f->rooms, "r"));

	/* Nor into an existing room. */
	g_assert_cmpint(join(f, a, "r", "alice", TB_ROLE_MENTOR), ==, 0);
	g_assert_cmpint(join(f, &f->clients[1], "r", "cora", TB_ROLE_CURATOR), ==, TB_EPERM);
	g_assert_cmpuint(count_events(f, a, NULL), ==, 0);
}

static void test_locked(fixture *f, gconstpointer data)
{
	fake_client *s = &f->clients[0], *m = &f->clients[1], *adm = &f->clients[2];
	tb_room *room = NULL;
	json_t *o;

	g_assert_cmpint(tb_rooms_create(f->rooms, "locked", TB_ROOM_KIND_WORKSHOP, 0, true, &room),
			==, 0);
	o = tb_room_to_json(room);
	g_assert_true(json_is_true(json_object_get(o, "locked")));
	g_assert_cmpint(json_integer_value(json_object_get(o, "capacity")), ==, 50);
	g_assert_cmpint(json_integer_value(json_object_get(o, "participants")), ==, 0);
	json_decref(o);

	g_assert_cmpint(
		join_full(f, s, "locked", "sam", NULL, TB_ROLE_STUDENT, TB_ROOM_KIND_WORKSHOP, 0),
		==, TB_ELOCKED);
	g_assert_cmpint(
		join_full(f, m, "locked", "mia", NULL, TB_ROLE_MENTOR, TB_ROOM_KIND_WORKSHOP, 0),
		==, 0);
	g_assert_cmpint(
		join_full(f, adm, "locked", "root", NULL, TB_ROLE_ADMIN, TB_ROOM_KIND_WORKSHOP, 0),
		==, 0);
	/* Still locked with a mentor inside. */
	g_assert_cmpint(
		join_full(f, s, "locked", "sam", NULL, TB_ROLE_STUDENT, TB_ROOM_KIND_WORKSHOP, 0),
		==, TB_ELOCKED);
	g_assert_cmpuint(count_events(f, m, "participant-joined"), ==, 1); /* the admin only */
	g_assert_cmpuint(tb_rooms_participant_count(f->rooms), ==, 2);
}

static void test_create_errors(fixture *f, gconstpointer data)
{
	tb_room *room = NULL;

	g_assert_cmpint(tb_rooms_create(f->rooms, "x", TB_ROOM_KIND_COACHING, 0, false, NULL), ==,
			0);
	g_assert_cmpint(tb_rooms_create(f->rooms, "x", TB_ROOM_KIND_COACHING, 0, false, &room), ==,
			TB_EEXIST);
	g_assert_null(room);
	g_assert_cmpint(tb_rooms_create(f->rooms, "bad id", TB_ROOM_KIND_COACHING, 0, false, NULL),
			==, TB_EINVAL);
	g_assert_cmpint(tb_rooms_create(f->rooms, "", TB_ROOM_KIND_COACHING, 0, false, NULL), ==,
			TB_EINVAL);
	g_assert_cmpint(tb_rooms_create(f->rooms, "y", TB_ROOM_KIND_COACHING, -1, false, NULL), ==,
			TB_EINVAL);
	g_assert_cmpint(tb_rooms_create(f->rooms, "y", TB_ROOM_KIND_COACHING, 1001, false, NULL),
			==, TB_EINVAL);
	g_assert_cmpuint(tb_rooms_count(f->rooms), ==, 1);
}

static void test_rejoin_replaces(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0], *b = &f->clients[1], *a2 = &f->clients[2];
	tb_room *room;
	char *session, *old_id;
	recorded_event *ev;
	json_t *o;

	g_assert_cmpint(join(f, a, "r", "alice", TB_ROLE_MENTOR), ==, 0);
	g_assert_cmpint(join(f, b, "r", "bob", TB_ROLE_STUDENT), ==, 0);
	room = tb_rooms_lookup(f->rooms, "r");
	session = g_strdup(tb_room_session_id(room));
	old_id = g_strdup(tb_participant_id(a->participant));
	clear_events(f);

	/* The room is full (capacity 2), but alice takes her own place back. */
	g_assert_cmpint(join(f, a2, "r", "alice", TB_ROLE_MENTOR), ==, 0);
	g_assert_cmpstr(a->removed_reason, ==, "replaced");
	g_assert_null(a->participant);
	g_assert_cmpstr(tb_participant_id(a2->participant), !=, old_id);

	/* The old connection hears only that it was removed. */
	g_assert_cmpuint(count_events(f, a, NULL), ==, 1);
	g_assert_cmpstr(nth_event(f, a, 0)->name, ==, "removed");
	/* The new one hears nothing about itself. */
	g_assert_cmpuint(count_events(f, a2, NULL), ==, 0);

	/* Bob: left, then joined, in that order. */
	g_assert_cmpuint(count_events(f, b, NULL), ==, 2);
	ev = nth_event(f, b, 0);
	g_assert_cmpstr(ev->name, ==, "participant-left");
	o = parse_json(ev->json);
	g_assert_cmpstr(json_str(o, "participant_id"), ==, old_id);
	g_assert_cmpstr(json_str(o, "reason"), ==, "replaced");
	json_decref(o);
	ev = nth_event(f, b, 1);
	g_assert_cmpstr(ev->name, ==, "participant-joined");
	o = parse_json(ev->json);
	g_assert_cmpstr(json_str(json_object_get(o, "participant"), "participant_id"), ==,
			tb_participant_id(a2->participant));
	json_decref(o);

	/* The same room life. */
	g_assert_true(tb_rooms_lookup(f->rooms, "r") == room);
	g_assert_cmpstr(tb_room_session_id(room), ==, session);
	g_assert_cmpuint(tb_rooms_participant_count(f->rooms), ==, 2);
	o = tb_room_roster_json(room, NULL);
	g_assert_cmpuint(json_array_size(o), ==, 2);
	g_assert_cmpstr(json_str(json_array_get(o, 0), "user"), ==, "bob");
	g_assert_cmpstr(json_str(json_array_get(o, 1), "participant_id"), ==,
			tb_participant_id(a2->participant));
	json_decref(o);

	g_free(session);
	g_free(old_id);
}

/* Alone in the room: the swap must not end the room in between. */
static void test_rejoin_alone_keeps_room(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0], *a2 = &f->clients[1], *b = &f->clients[2];
	char *session;

	g_assert_cmpint(join(f, a, "r", "alice", TB_ROLE_STUDENT), ==, 0);
	session = g_strdup(tb_room_session_id(tb_rooms_lookup(f->rooms, "r")));

	g_assert_cmpint(join(f, a2, "r", "alice", TB_ROLE_STUDENT), ==, 0);
	g_assert_cmpstr(a->removed_reason, ==, "replaced");
	g_assert_nonnull(tb_rooms_lookup(f->rooms, "r"));
	g_assert_cmpstr(tb_room_session_id(tb_rooms_lookup(f->rooms, "r")), ==, session);
	g_assert_cmpuint(tb_rooms_count(f->rooms), ==, 1);
	g_assert_cmpuint(tb_rooms_participant_count(f->rooms), ==, 1);
	g_assert_cmpuint(tb_rooms_worker_load(f->rooms, 0) + tb_rooms_worker_load(f->rooms, 1), ==,
			 1);

	/* The room still works and still ends with its last leave. */
	g_assert_cmpint(join(f, b, "r", "bob", TB_ROLE_STUDENT), ==, 0);
	g_assert_cmpuint(count_events(f, a2, "participant-joined"), ==, 1);
	leave(b, "left");
	leave(a2, "left");
	g_assert_null(tb_rooms_lookup(f->rooms, "r"));
	g_free(session);
}

static void test_last_leave_ends_room(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0], *b = &f->clients[1];
	char *session, *a_id;
	json_t *o;

	g_assert_cmpint(join(f, a, "r", "alice", TB_ROLE_MENTOR), ==, 0);
	g_assert_cmpint(join(f, b, "r", "bob", TB_ROLE_STUDENT), ==, 0);
	session = g_strdup(tb_room_session_id(tb_rooms_lookup(f->rooms, "r")));
	a_id = g_strdup(tb_participant_id(a->participant));
	clear_events(f);

	leave(a, "left");
	g_assert_null(a->removed_reason); /* not called for a leave */
	g_assert_cmpuint(count_events(f, a, NULL), ==, 0);
	g_assert_cmpuint(count_events(f, b, NULL), ==, 1);
	o = event_data(f, b, "participant-left");
	g_assert_cmpstr(json_str(o, "participant_id"), ==, a_id);
	g_assert_cmpstr(json_str(o, "reason"), ==, "left");
	json_decref(o);
	g_assert_nonnull(tb_rooms_lookup(f->rooms, "r"));
	g_assert_cmpuint(tb_rooms_count(f->rooms), ==, 1);

	leave(b, "disconnected");
	g_assert_null(b->removed_reason);
	g_assert_null(tb_rooms_lookup(f->rooms, "r"));
	g_assert_cmpuint(tb_rooms_count(f->rooms), ==, 0);
	g_assert_cmpuint(tb_rooms_participant_count(f->rooms), ==, 0);
	g_assert_cmpuint(tb_rooms_worker_load(f->rooms, 0), ==, 0);
	g_assert_cmpuint(tb_rooms_worker_load(f->rooms, 1), ==, 0);
	o = tb_rooms_list_json(f->rooms);
	g_assert_cmpuint(json_array_size(o), ==, 0);
	json_decref(o);

	/* The same id again is a new life: a new session. */
	g_assert_cmpint(join(f, a, "r", "alice", TB_ROLE_MENTOR), ==, 0);
	g_assert_cmpstr(tb_room_session_id(tb_rooms_lookup(f->rooms, "r")), !=, session);
	g_free(session);
	g_free(a_id);
}

static void test_chat(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0], *b = &f->clients[1], *c = &f->clients[2];
	json_t *o;

	g_assert_cmpint(
		join_full(f, a, "r", "alice", "Alice", TB_ROLE_MENTOR, TB_ROOM_KIND_COACHING, 0),
		==, 0);
	g_assert_cmpint(join(f, b, "r", "bob", TB_ROLE_STUDENT), ==, 0);
	g_assert_cmpint(join(f, c, "other", "carol", TB_ROLE_STUDENT), ==, 0);
	clear_events(f);
	f->now.wall_ms = T0_MS + 4242;

	tb_participant_chat(a->participant, "h\xc3\xa9llo\nworld");
	g_assert_cmpuint(count_events(f, a, "chat"), ==, 1);
	g_assert_cmpuint(count_events(f, b, "chat"), ==, 1);
	g_assert_cmpuint(count_events(f, c, NULL), ==, 0); /* another room */
	g_assert_cmpuint(count_events(f, NULL, NULL), ==, 2);
	for (int i = 0; i < 2; i++) {
		o = event_data(f, i == 0 ? a : b, "chat");
		g_assert_cmpstr(json_str(o, "participant_id"), ==,
				tb_participant_id(a->participant));
		g_assert_cmpstr(json_str(o, "name"), ==, "Alice");
		g_assert_cmpstr(json_str(o, "text"), ==, "h\xc3\xa9llo\nworld");
		g_assert_cmpint(json_integer_value(json_object_get(o, "ts_ms")), ==, T0_MS + 4242);
		json_decref(o);
	}
}

static void test_workers_spread(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0], *b = &f->clients[1], *c = &f->clients[2];
	tb_worker *w1, *w2;

	g_assert_cmpint(join(f, a, "r1", "alice", TB_ROLE_MENTOR), ==, 0);
	g_assert_cmpint(join(f, b, "r2", "bob", TB_ROLE_MENTOR), ==, 0);
	w1 = tb_room_worker(tb_rooms_lookup(f->rooms, "r1"));
	w2 = tb_room_worker(tb_rooms_lookup(f->rooms, "r2"));
	g_assert_true(w1 != w2);
	g_assert_true(w1 == f->workers[0] || w1 == f->workers[1]);
	g_assert_true(w2 == f->workers[0] || w2 == f->workers[1]);
	g_assert_cmpuint(tb_rooms_worker_load(f->rooms, 0), ==, 1);
	g_assert_cmpuint(tb_rooms_worker_load(f->rooms, 1), ==, 1);
	g_assert_cmpuint(tb_rooms_worker_load(f->rooms, 2), ==, 0); /* out of range */

	/* r1 ends: its worker is free again and takes the next room. */
	leave(a, "left");
	g_assert_cmpuint(tb_rooms_worker_load(f->rooms, w1 == f->workers[0] ? 0 : 1), ==, 0);
	g_assert_cmpint(join(f, c, "r3", "carol", TB_ROLE_MENTOR), ==, 0);
	g_assert_true(tb_room_worker(tb_rooms_lookup(f->rooms, "r3")) == w1);
	g_assert_cmpuint(tb_rooms_worker_load(f->rooms, 0), ==, 1);
	g_assert_cmpuint(tb_rooms_worker_load(f->rooms, 1), ==, 1);

	/* Rooms created empty through the API count too. */
	g_assert_cmpint(tb_rooms_create(f->rooms, "r4", TB_ROOM_KIND_WORKSHOP, 0, false, NULL), ==,
			0);
	g_assert_cmpuint(tb_rooms_worker_load(f->rooms, 0) + tb_rooms_worker_load(f->rooms, 1), ==,
			 3);
}

static void test_max_rooms(fixture *f, gconstpointer data)
{
	fake_client *c = f->clients;

	g_assert_cmpint(f->config.max_rooms, ==, 3);
	g_assert_cmpint(join(f, &c[0], "r1", "u1", TB_ROLE_MENTOR), ==, 0);
	g_assert_cmpint(join(f, &c[1], "r2", "u2", TB_ROLE_MENTOR), ==, 0);
	g_assert_cmpint(tb_rooms_create(f->rooms, "r3", TB_ROOM_KIND_COACHING, 0, false, NULL), ==,
			0);
	g_assert_cmpint(join(f, &c[2], "r4", "u3", TB_ROLE_MENTOR), ==, TB_EFULL);
	g_assert_cmpint(tb_rooms_create(f->rooms, "r4", TB_ROOM_KIND_COACHING, 0, false, NULL), ==,
			TB_EFULL);
	g_assert_null(tb_rooms_lookup(f->rooms, "r4"));
	g_assert_cmpuint(tb_rooms_count(f->rooms), ==, 3);

	/* Existing rooms still take joins. */
	g_assert_cmpint(join(f, &c[3], "r1", "u4", TB_ROLE_STUDENT), ==, 0);
	g_assert_cmpint(join(f, &c[4], "r3", "u5", TB_ROLE_STUDENT), ==, 0);

	/* A room that ends makes room for another. */
	leave(&c[1], "left");
	g_assert_cmpint(join(f, &c[2], "r4", "u3", TB_ROLE_MENTOR), ==, 0);
}

static void test_close(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0], *b = &f->clients[1], *c = &f->clients[2];

	g_assert_cmpint(join(f, a, "r1", "alice", TB_ROLE_MENTOR), ==, 0);
	g_assert_cmpint(join(f, b, "r1", "bob", TB_ROLE_STUDENT), ==, 0);
	g_assert_cmpint(join(f, c, "r2", "carol", TB_ROLE_MENTOR), ==, 0);
	clear_events(f);

	tb_rooms_close(f->rooms);
	g_assert_cmpstr(a->removed_reason, ==, "shutdown");
	g_assert_cmpstr(b->removed_reason, ==, "shutdown");
	g_assert_cmpstr(c->removed_reason, ==, "shutdown");
	g_assert_null(a->participant);
	g_assert_cmpuint(count_events(f, NULL, "removed"), ==, 3);
	g_assert_cmpuint(tb_rooms_participant_count(f->rooms), ==, 0);
	g_assert_cmpuint(tb_rooms_count(f->rooms), ==, 0);
	g_assert_null(tb_rooms_lookup(f->rooms, "r1"));
	g_assert_null(tb_rooms_lookup(f->rooms, "r2"));
	g_assert_cmpuint(tb_rooms_worker_load(f->rooms, 0) + tb_rooms_worker_load(f->rooms, 1), ==,
			 0);

	/* Nothing gets in afterwards. */
	g_assert_cmpint(join(f, a, "r1", "alice", TB_ROLE_MENTOR), ==, TB_EFULL);
	g_assert_cmpint(join(f, a, "r9", "alice", TB_ROLE_ADMIN), ==, TB_EFULL);
	g_assert_cmpint(tb_rooms_create(f->rooms, "r9", TB_ROOM_KIND_COACHING, 0, false, NULL), ==,
			TB_EFULL);
	g_assert_cmpuint(tb_rooms_count(f->rooms), ==, 0);

	/* Idempotent, and tells nobody twice. */
	clear_events(f);
	tb_rooms_close(f->rooms);
	g_assert_cmpuint(count_events(f, NULL, NULL), ==, 0);
}

static gboolean guard_fired(gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
	return G_SOURCE_REMOVE;
}

/* Iterates the default context until CLIENT got event NAME, at most 5 s of
 * real time (a guard timeout, not a sleep). Returns whether it arrived. */
static gboolean wait_for_event(fixture *f, fake_client *client, const char *name)
{
	gboolean timed_out = FALSE;
	guint guard = g_timeout_add(5000, guard_fired, &timed_out);

	while (count_events(f, client, name) == 0 && !timed_out)
		g_main_context_iteration(NULL, TRUE);
	if (!timed_out)
		g_source_remove(guard);
	return count_events(f, client, name) > 0;
}

/* Runs whatever is ready on the default context, without blocking. */
static void drain_default_context(void)
{
	for (int i = 0; i < 100 && g_main_context_iteration(NULL, FALSE); i++)
		;
}

static void test_slot_ending_due(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0], *b = &f->clients[1];
	int64_t ends = T0_MS + 120 * 1000; /* inside the 300 s window */
	json_t *o;

	g_assert_cmpint(
		join_full(f, a, "r", "alice", NULL, TB_ROLE_MENTOR, TB_ROOM_KIND_COACHING, ends),
		==, 0);
	o = tb_room_to_json(tb_rooms_lookup(f->rooms, "r"));
	g_assert_cmpint(json_integer_value(json_object_get(o, "slot_ends_ms")), ==, ends);
	json_decref(o);

	/* Not from inside the join: the join response must go first. */
	g_assert_cmpuint(count_events(f, a, "slot-ending"), ==, 0);
	tb_participant_welcome(a->participant);
	g_assert_cmpuint(count_events(f, a, "slot-ending"), ==, 0);

	g_assert_true(wait_for_event(f, a, "slot-ending"));
	g_assert_cmpuint(count_events(f, a, "slot-ending"), ==, 1);
	o = event_data(f, a, "slot-ending");
	g_assert_cmpint(json_integer_value(json_object_get(o, "ends_at_ms")), ==, ends);
	json_decref(o);

	/* A later joiner gets it from welcome, and only it does. */
	clear_events(f);
	g_assert_cmpint(join(f, b, "r", "bob", TB_ROLE_STUDENT), ==, 0);
	g_assert_cmpuint(count_events(f, b, NULL), ==, 0);
	tb_participant_welcome(b->participant);
	g_assert_cmpuint(count_events(f, b, "slot-ending"), ==, 1);
	g_assert_cmpuint(count_events(f, a, "slot-ending"), ==, 0);
	o = event_data(f, b, "slot-ending");
	g_assert_cmpint(json_integer_value(json_object_get(o, "ends_at_ms")), ==, ends);
	json_decref(o);

	/* The timer does not fire again. */
	drain_default_context();
	g_assert_cmpuint(count_events(f, NULL, "slot-ending"), ==, 1);
}

static void test_slot_ending_far(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0], *w = &f->clients[1];

	g_assert_cmpint(join_full(f, a, "r", "alice", NULL, TB_ROLE_MENTOR, TB_ROOM_KIND_COACHING,
				  T0_MS + 3600 * 1000),
			==, 0);
	drain_default_context();
	tb_participant_welcome(a->participant);
	g_assert_cmpuint(count_events(f, a, "slot-ending"), ==, 0);

	/* Workshops have no booked slot: a due end is ignored. */
	g_assert_cmpint(join_full(f, w, "w", "wendy", NULL, TB_ROLE_MENTOR, TB_ROOM_KIND_WORKSHOP,
				  T0_MS + 1000),
			==, 0);
	drain_default_context();
	tb_participant_welcome(w->participant);
	g_assert_cmpuint(count_events(f, NULL, NULL), ==, 0);
	/* Teardown frees the room with its timer still armed. */
}

/* A room that ends before its warning is due takes its timer with it. */
static void test_slot_timer_removed_with_room(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0];

	g_assert_cmpint(join_full(f, a, "r", "alice", NULL, TB_ROLE_MENTOR, TB_ROOM_KIND_COACHING,
				  T0_MS + 1000),
			==, 0);
	leave(a, "left");
	g_assert_null(tb_rooms_lookup(f->rooms, "r"));
	drain_default_context();
	g_assert_cmpuint(count_events(f, NULL, NULL), ==, 0);
}

/* ---- catalog ---- */

static void remove_tree(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d))) {
		char *path = g_build_filename(dir, name, NULL);
		g_assert_cmpint(g_unlink(path), ==, 0);
		g_free(path);
	}
	g_dir_close(d);
	g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* Returns the rows of SQL as "a|b|c" lines joined by ';' (transfer full). */
static char *query(sqlite3 *db, const char *sql)
{
	GString *out = g_string_new(NULL);
	sqlite3_stmt *stmt = NULL;
	int rc;

	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (out->len)
			g_string_append_c(out, ';');
		for (int i = 0; i < sqlite3_column_count(stmt); i++) {
			const unsigned char *v = sqlite3_column_text(stmt, i);
			if (i)
				g_string_append_c(out, '|');
			g_string_append(out, v ? (const char *)v : "NULL");
		}
	}
	g_assert_cmpint(rc, ==, SQLITE_DONE);
	sqlite3_finalize(stmt);
	return g_string_free(out, FALSE);
}

static void assert_query(sqlite3 *db, const char *sql, const char *expected)
{
	char *got = query(db, sql);

	g_assert_cmpstr(got, ==, expected);
	g_free(got);
}

static void test_catalog(fixture *f, gconstpointer data)
{
	fake_client *a = &f->clients[0], *b = &f->clients[1], *a2 = &f->clients[2];
	fake_client *c = &f->clients[3];
	GError *error = NULL;
	char *dir = g_dir_make_tmp("tribu-rooms-XXXXXX", &error);
	char *path, *s1, *s2, *sql, *ids[3];
	tb_catalog *catalog;
	sqlite3 *db;

	g_assert_no_error(error);
	path = g_build_filename(dir, "catalog.db", NULL);
	catalog = tb_catalog_open(path, &error);
	g_assert_no_error(error);
	g_assert_nonnull(catalog);
	tb_rooms_free(f->rooms);
	f->rooms = tb_rooms_new(&f->config, f->workers, 2, catalog, &f->clock, NULL);

	/* Life of r1: alice and bob; alice reconnects; bob leaves; alice leaves. */
	f->now.wall_ms = T0_MS;
	g_assert_cmpint(
		join_full(f, a, "r1", "alice", "Alice", TB_ROLE_MENTOR, TB_ROOM_KIND_COACHING, 0),
		==, 0);
	s1 = g_strdup(tb_room_session_id(tb_rooms_lookup(f->rooms, "r1")));
	ids[0] = g_strdup(tb_participant_id(a->participant));
	f->now.wall_ms = T0_MS + 1000;
	g_assert_cmpint(join(f, b, "r1", "bob", TB_ROLE_STUDENT), ==, 0);
	ids[1] = g_strdup(tb_participant_id(b->participant));
	f->now.wall_ms = T0_MS + 2000;
	g_assert_cmpint(
		join_full(f, a2, "r1", "alice", "Alice", TB_ROLE_MENTOR, TB_ROOM_KIND_COACHING, 0),
		==, 0);
	ids[2] = g_strdup(tb_participant_id(a2->participant));
	f->now.wall_ms = T0_MS + 3000;
	leave(b, "left");
	f->now.wall_ms = T0_MS + 4000;
	leave(a2, "disconnected");
	g_assert_null(tb_rooms_lookup(f->rooms, "r1"));

	/* r2: a workshop still going when the server shuts down. */
	f->now.wall_ms = T0_MS + 5000;
	g_assert_cmpint(
		join_full(f, c, "r2", "carol", NULL, TB_ROLE_STUDENT, TB_ROOM_KIND_WORKSHOP, 0), ==,
		0);
	s2 = g_strdup(tb_room_session_id(tb_rooms_lookup(f->rooms, "r2")));
	f->now.wall_ms = T0_MS + 6000;
	tb_rooms_close(f->rooms);

	tb_catalog_flush(catalog);
	g_assert_cmpuint(tb_catalog_error_count(catalog), ==, 0);

	g_assert_cmpint(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
	g_assert_cmpstr(s1, !=, s2);
	sql = g_strdup_printf("SELECT room_id, kind, started_ms, ended_ms, end_reason FROM sessions"
			      " WHERE id = '%s'",
			      s1);
	assert_query(db, sql, "r1|coaching|1700000000000|1700000004000|ended");
	g_free(sql);
	sql = g_strdup_printf("SELECT room_id, kind, started_ms, ended_ms, end_reason FROM sessions"
			      " WHERE id = '%s'",
			      s2);
	assert_query(db, sql, "r2|workshop|1700000005000|1700000006000|ended");
	g_free(sql);
	assert_query(db, "SELECT count(*) FROM sessions", "2");

	sql = g_strdup_printf("SELECT participant_id, user, name, role, joined_ms, left_ms,"
			      " leave_reason FROM attendance WHERE session_id = '%s'"
			      " ORDER BY joined_ms",
			      s1);
	{
		char *expected = g_strdup_printf(
			"%s|alice|Alice|mentor|1700000000000|1700000002000|replaced;"
			"%s|bob|bob|student|1700000001000|1700000003000|left;"
			"%s|alice|Alice|mentor|1700000002000|1700000004000|disconnected",
			ids[0], ids[1], ids[2]);
		assert_query(db, sql, expected);
		g_free(expected);
	}
	g_free(sql);
	sql = g_strdup_printf("SELECT user, role, joined_ms, left_ms, leave_reason FROM attendance"
			      " WHERE session_id = '%s'",
			      s2);
	assert_query(db, sql, "carol|student|1700000005000|1700000006000|shutdown");
	g_free(sql);
	assert_query(db, "SELECT count(*) FROM attendance WHERE left_ms IS NULL", "0");
	sqlite3_close(db);

	tb_rooms_free(f->rooms);
	f->rooms = NULL;
	tb_catalog_close(catalog);
	remove_tree(dir);
	for (int i = 0; i < 3; i++)
		g_free(ids[i]);
	g_free(s1);
	g_free(s2);
	g_free(path);
	g_free(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	tb_log_set_spec(g_getenv("TRIBU_DEBUG") ? g_getenv("TRIBU_DEBUG") : "warn");

#define ADD(name, fn) g_test_add("/rooms/" name, fixture, NULL, fixture_setup, fn, fixture_teardown)
	g_test_add_func("/rooms/kind-strings", test_kind_strings);
	ADD("join-creates-room", test_join_creates_room);
	ADD("roster-excludes-self", test_roster_excludes_self);
	ADD("joined-sent-to-others", test_joined_sent_to_others);
	ADD("capacity", test_capacity);
	ADD("curator-refused", test_curator_refused);
	ADD("locked", test_locked);
	ADD("create-errors", test_create_errors);
	ADD("rejoin-replaces", test_rejoin_replaces);
	ADD("rejoin-alone-keeps-room", test_rejoin_alone_keeps_room);
	ADD("last-leave-ends-room", test_last_leave_ends_room);
	ADD("chat", test_chat);
	ADD("workers-spread", test_workers_spread);
	ADD("max-rooms", test_max_rooms);
	ADD("close", test_close);
	ADD("slot-ending-due", test_slot_ending_due);
	ADD("slot-ending-far", test_slot_ending_far);
	ADD("slot-timer-removed-with-room", test_slot_timer_removed_with_room);
	ADD("catalog", test_catalog);
#undef ADD
	return g_test_run();
}
