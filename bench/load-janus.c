/* load-janus.c — tribu-load's other signaling: the Janus VideoRoom API over
 * a WebSocket (subprotocol "janus-protocol"), so that the same client, with
 * the same media, loads the server tribud is compared with.
 *
 * Each session walks these steps, one request at a time:
 *
 *   create (Janus session) -> attach janus.plugin.videoroom (handle)
 *   publisher:  join {ptype publisher, id FEED} -> "joined"
 *               -> configure {audio, video} + our sendonly offer
 *               -> event with Janus's answer (applied to our transport)
 *   subscriber: join {ptype subscriber, streams: feeds 1..N but our own}
 *               -> "attached" with Janus's offer -> start + our answer
 *
 * Candidates go both ways as "trickle" messages (ours are held until our
 * description is out, as with tribud); Janus's may also be in its SDP.
 * The time of the join is the first request after the WebSocket opened
 * ("create"), as for tribud, where it is "join": the round trips that Janus
 * needs before media (session, handle) are part of its join time.
 *
 * Janus is the full-ICE offerer of the subscriber connection, so there we
 * are the controlled agent; for the publisher we offer and control.
 *
 * Threads: the main loop's, like everything in tribu-load.
 * Not here: anything about media (tribu-load.c does it for both servers).
 */
#include <stdio.h>
#include <string.h>

#include "load.h"

enum {
	STEP_CREATE = 0, /* "create" sent */
	STEP_ATTACH,     /* "attach" sent */
	STEP_JOIN,       /* "join" sent */
	STEP_NEGOTIATE,  /* publisher: "configure" sent; subscriber: "start" sent */
	STEP_DONE,       /* publisher: answer applied */
};

/* Sends OBJ (reference stolen) as a Janus request of type JANUS on S's
 * session and handle, once they exist. */
static void janus_send(session *s, const char *janus, json_t *obj)
{
	char tx[32];
	char *text;

	if (!obj) {
		fail(s, "cannot build a Janus %s request", janus);
		return;
	}
	g_snprintf(tx, sizeof(tx), "%u-%u", s->index, ++s->janus_tx);
	json_object_set_new(obj, "janus", json_string(janus));
	json_object_set_new(obj, "transaction", json_string(tx));
	if (s->janus_session)
		json_object_set_new(obj, "session_id", json_integer(s->janus_session));
	if (s->janus_handle)
		json_object_set_new(obj, "handle_id", json_integer(s->janus_handle));
	text = json_dumps(obj, JSON_COMPACT);
	if (text && s->ws &&
	    soup_websocket_connection_get_state(s->ws) == SOUP_WEBSOCKET_STATE_OPEN)
		soup_websocket_connection_send_text(s->ws, text);
	if (s->app->verbose && text)
		fprintf(stderr, "[%u] → %.300s\n", s->index, text);
	free(text);
	json_decref(obj);
}

/* A VideoRoom request BODY (stolen), with JSEP (stolen; NULL: none). */
static void janus_message_send(session *s, json_t *body, json_t *jsep)
{
	json_t *obj = json_pack("{s:o}", "body", body);

	if (obj && jsep)
		json_object_set_new(obj, "jsep", jsep);
	else if (jsep)
		json_decref(jsep);
	janus_send(s, "message", obj);
}

void janus_connected(session *s)
{
	s->janus_step = STEP_CREATE;
	janus_send(s, "create", json_object());
}

void janus_send_candidate(session *s, const char *candidate)
{
	json_t *cand;

	if (candidate)
		cand = json_pack("{s:s, s:s, s:i}", "candidate", candidate, "sdpMid", "0",
				 "sdpMLineIndex", 0);
	else
		cand = json_pack("{s:b}", "completed", 1);
	janus_send(s, "trickle", json_pack("{s:o}", "candidate", cand));
}

gboolean janus_keepalive(gpointer data)
{
	load *app = data;

	for (unsigned i = 0; i < app->started; i++)
		if (app->subs[i].janus_session)
			janus_send(&app->subs[i], "keepalive", json_object());
	if (app->pub && app->pub->janus_session)
		janus_send(app->pub, "keepalive", json_object());
	return G_SOURCE_CONTINUE;
}

static void send_join(session *s)
{
	load *app = s->app;
	json_t *body;

	if (s->publisher) {
		body = json_pack("{s:s, s:s, s:I, s:I, s:s}", "request", "join", "ptype",
				 "publisher", "room", app->janus_room, "id", app->janus_feed,
				 "display", s->user);
	} else {
		json_t *streams = json_array();

		/* never our own publisher's feed (a participant does not receive itself) */
		for (unsigned i = 0; i < app->janus_feeds; i++)
			if (!app->pub || (json_int_t)(1 + i) != app->janus_feed)
				json_array_append_new(
					streams, json_pack("{s:I}", "feed", (json_int_t)(1 + i)));
		body = json_pack("{s:s, s:s, s:I, s:o}", "request", "join", "ptype", "subscriber",
				 "room", app->janus_room, "streams", streams);
	}
	s->janus_step = STEP_JOIN;
	janus_message_send(s, body, NULL);
}

static void send_configure(session *s)
{
	char *offer = load_publish_offer(s);

	if (!offer)
		return;
	s->janus_step = STEP_NEGOTIATE;
	janus_message_send(
		s, json_pack("{s:s, s:b, s:b}", "request", "configure", "audio", 1, "video", 1),
		json_pack("{s:s, s:s}", "type", "offer", "sdp", offer));
	g_free(offer);
}

static void answer_offer(session *s, const char *sdp)
{
	char *answer = load_answer_offer(s, sdp, false);

	if (!answer)
		return;
	s->janus_step = STEP_NEGOTIATE;
	janus_message_send(s, json_pack("{s:s}", "request", "start"),
			   json_pack("{s:s, s:s}", "type", "answer", "sdp", answer));
	load_release_candidates(s);
	g_free(answer);
}

/* "success": the data of a create or an attach. */
static void on_success(session *s, json_t *msg)
{
	json_int_t id = json_integer_value(json_object_get(json_object_get(msg, "data"), "id"));

	if (s->janus_step == STEP_CREATE && id) {
		s->janus_session = id;
		s->janus_step = STEP_ATTACH;
		janus_send(s, "attach", json_pack("{s:s}", "plugin", "janus.plugin.videoroom"));
	} else if (s->janus_step == STEP_ATTACH && id) {
		s->janus_handle = id;
		send_join(s);
	}
}

/* "event": what the VideoRoom plugin says, with a JSEP or not. */
static void on_event(session *s, json_t *msg)
{
	json_t *data = json_object_get(json_object_get(msg, "plugindata"), "data");
	json_t *jsep = json_object_get(msg, "jsep");
	const char *what = json_string_value(json_object_get(data, "videoroom"));
	const char *sdp = json_string_value(json_object_get(jsep, "sdp"));
	const char *type = json_string_value(json_object_get(jsep, "type"));

	if (json_object_get(data, "error_code")) {
		fail(s, "videoroom error %" JSON_INTEGER_FORMAT ": %s",
		     json_integer_value(json_object_get(data, "error_code")),
		     json_string_value(json_object_get(data, "error")) ?: "?");
		return;
	}
	if (s->publisher && s->janus_step == STEP_JOIN && g_strcmp0(what, "joined") == 0) {
		s->t_joined = now_us();
		send_configure(s);
	} else if (s->publisher && s->janus_step == STEP_NEGOTIATE && sdp &&
		   g_strcmp0(type, "answer") == 0) {
		s->janus_step = STEP_DONE;
		load_apply_publish_answer(s, sdp);
	} else if (!s->publisher && s->janus_step == STEP_JOIN && sdp &&
		   g_strcmp0(type, "offer") == 0) {
		s->t_joined = now_us();
		answer_offer(s, sdp);
	} else if (!s->publisher && sdp && g_strcmp0(type, "offer") == 0) {
		answer_offer(s, sdp); /* Janus renegotiates ("updated"): same transport */
	}
}

static void on_trickle(session *s, json_t *msg)
{
	json_t *cand = json_object_get(msg, "candidate");
	const char *line = json_string_value(json_object_get(cand, "candidate"));

	if (line)
		load_add_remote_candidate(s, line);
	else if (json_is_true(json_object_get(cand, "completed")))
		load_add_remote_candidate(s, NULL);
}

void janus_message(session *s, json_t *msg)
{
	const char *janus = json_string_value(json_object_get(msg, "janus"));

	if (!janus)
		return;
	if (strcmp(janus, "success") == 0) {
		on_success(s, msg);
	} else if (strcmp(janus, "event") == 0) {
		on_event(s, msg);
	} else if (strcmp(janus, "trickle") == 0) {
		on_trickle(s, msg);
	} else if (strcmp(janus, "error") == 0) {
		json_t *err = json_object_get(msg, "error");
		fail(s, "Janus error %" JSON_INTEGER_FORMAT ": %s",
		     json_integer_value(json_object_get(err, "code")),
		     json_string_value(json_object_get(err, "reason")) ?: "?");
	} else if (strcmp(janus, "hangup") == 0) {
		fail(s, "hangup: %s", json_string_value(json_object_get(msg, "reason")) ?: "?");
	} else if (strcmp(janus, "timeout") == 0 || strcmp(janus, "detached") == 0) {
		fail(s, "Janus %s", janus);
	}
	/* ack, webrtcup, media, slowlink: nothing to do */
}
