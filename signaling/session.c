/* session.c — one signaling WebSocket connection and its participant.
 *
 * Main thread. Turns parsed requests into room operations and room events
 * into frames. Every request gets exactly one response with its id. Output
 * is queued and written when lws says the socket is writeable; a client
 * that does not read is cut off rather than allowed to grow the queue.
 *
 * Not here: lws callbacks (ws.c), JSON validation (proto.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "signaling-private.h"

#define CAT "sig"

/* A client that leaves this much unread output is closed. */
#define TX_LIMIT_BYTES  (4u << 20)
#define TX_LIMIT_FRAMES 4096u

static int64_t mono_us(const tb_conn *conn)
{
	return tb_clock_mono_us(conn->sig->deps.clock);
}

void tb__peer_address(int fd, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const void *addr = NULL;
	int family = AF_INET;

	out[0] = '\0';
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		addr = &((struct sockaddr_in *)&ss)->sin_addr;
	} else if (ss.ss_family == AF_INET6) {
		const struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			addr = &a6->s6_addr[12];
		} else {
			addr = a6;
			family = AF_INET6;
		}
	}
	if (!addr || !inet_ntop(family, addr, out, (socklen_t)size))
		out[0] = '\0';
}

unsigned tb__conns_from(const tb_signaling *sig, const char *address)
{
	unsigned n = 0;

	for (const GList *l = sig->conns.head; l; l = l->next)
		n += strcmp(((const tb_conn *)l->data)->peer, address) == 0;
	return n;
}

void tb__conn_open(tb_conn *conn, tb_signaling *sig, struct lws *wsi)
{
	memset(conn, 0, sizeof(*conn));
	conn->wsi = wsi;
	conn->sig = sig;
	tb__peer_address(lws_get_socket_fd(wsi), conn->peer, sizeof(conn->peer));
	conn->rx = g_string_sized_new(256);
	g_queue_init(&conn->tx);
	conn->tokens = sig->deps.config->rate_burst;
	conn->tokens_at_us = mono_us(conn);
	g_queue_push_tail(&sig->conns, conn);
	conn->link = sig->conns.tail;
	sig->ws_accepted++;
}

void tb__conn_send(tb_conn *conn, char *text)
{
	size_t len;
	guint8 *buf;

	if (!text)
		return;
	if (conn->closing) {
		g_free(text);
		return;
	}
	len = strlen(text);
	if (conn->tx_bytes + len > TX_LIMIT_BYTES || conn->tx.length >= TX_LIMIT_FRAMES) {
		g_free(text);
		conn->sig->ws_slow_closed++;
		TB_WARN(CAT, "closing a connection that does not read its messages");
		/* Drop what is queued: the client is not reading it anyway. */
		g_queue_clear_full(&conn->tx, (GDestroyNotify)g_bytes_unref);
		conn->tx_bytes = 0;
		tb__conn_close(conn, LWS_CLOSE_STATUS_POLICY_VIOLATION, "not reading");
		return;
	}
	buf = g_malloc(LWS_PRE + len);
	memcpy(buf + LWS_PRE, text, len);
	g_free(text);
	g_queue_push_tail(&conn->tx, g_bytes_new_take(buf, LWS_PRE + len));
	conn->tx_bytes += len;
	lws_callback_on_writable(conn->wsi);
}

void tb__conn_send_error(tb_conn *conn, json_t *id, tb_sig_error code, const char *message)
{
	if (code > 0 && code < TB_SIG_N_ERRORS)
		conn->sig->ws_errors[code]++;
	tb__conn_send(conn, tb__proto_error(id, code, message));
}

static void reply_ok(tb_conn *conn, const tb_request *req, json_t *data)
{
	tb__conn_send(conn, tb__proto_ok(req->id, data));
}

void tb__conn_close(tb_conn *conn, int status, const char *reason)
{
	if (conn->closing)
		return;
	conn->closing = true;
	conn->close_status = status;
	conn->close_reason = reason;
	lws_callback_on_writable(conn->wsi);
}

int tb__conn_writeable(tb_conn *conn)
{
	GBytes *frame = g_queue_pop_head(&conn->tx);

	if (frame) {
		gsize size;
		guint8 *data = (guint8 *)g_bytes_get_data(frame, &size);
		size_t len = size - LWS_PRE;
		int n = lws_write(conn->wsi, data + LWS_PRE, len, LWS_WRITE_TEXT);
		conn->tx_bytes -= len;
		g_bytes_unref(frame);
		if (n < (int)len)
			return -1;
		if (conn->tx.length > 0 || conn->closing)
			lws_callback_on_writable(conn->wsi);
		return 0;
	}
	if (conn->closing) {
		const char *reason = conn->close_reason ? conn->close_reason : "";
		lws_close_reason(conn->wsi, (enum lws_close_status)conn->close_status,
				 (unsigned char *)reason, strlen(reason));
		return -1;
	}
	return 0;
}

/* ---- room sink: events from the rooms to this connection ---- */

static void sink_event(void *data, const char *name, json_t *payload)
{
	tb__conn_send(data, tb__proto_event(name, payload));
}

static void sink_removed(void *data, tb_participant *participant, const char *reason)
{
	tb_conn *conn = data;
	json_t *payload = json_pack("{s:s}", "reason", reason);

	g_assert(conn->participant == participant);
	conn->participant = NULL;
	tb__conn_send(conn, tb__proto_event("removed", payload));
	json_decref(payload);
	if (strcmp(reason, "shutdown") == 0)
		tb__conn_close(conn, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
}

static void sink_response(void *data, json_t *id, json_t *payload, const char *error_code,
			  const char *message)
{
	tb_conn *conn = data;
	int code;

	if (!error_code) {
		tb__conn_send(conn, tb__proto_ok(id, payload));
		return;
	}
	for (code = 1; code < TB_SIG_N_ERRORS; code++)
		if (strcmp(tb__sig_error_code((tb_sig_error)code), error_code) == 0)
			break;
	tb__conn_send_error(conn, id, code < TB_SIG_N_ERRORS ? (tb_sig_error)code : TB_SIG_INTERNAL,
			    message ? message : error_code);
}

static const tb_participant_sink conn_sink = {
	.event = sink_event,
	.removed = sink_removed,
	.response = sink_response,
};

/* ---- requests ---- */

static void handle_ping(tb_conn *conn, const tb_request *req)
{
	reply_ok(conn, req,
		 json_pack("{s:I}", "server_time_ms",
			   (json_int_t)tb_clock_wall_ms(conn->sig->deps.clock)));
}

static void handle_join(tb_conn *conn, const tb_request *req)
{
	tb_signaling *sig = conn->sig;
	const char *token = tb__proto_string(req, "token");
	const char *room_id = tb__proto_string(req, "room");
	const char *name = tb__proto_string(req, "name");
	tb_token_claims claims = {0};
	tb_join_params params = {0};
	tb_participant *p = NULL;
	tb_room *room;
	json_t *you;
	int rc;

	if (conn->participant) {
		tb__conn_send_error(conn, req->id, TB_SIG_CONFLICT,
				    "already in a room: send leave first");
		return;
	}
	rc = tb_token_verify(token, sig->deps.secret, tb_clock_wall_ms(sig->deps.clock) / 1000,
			     &claims);
	if (rc == TB_EEXPIRED) {
		tb__conn_send_error(conn, req->id, TB_SIG_UNAUTHORIZED, "token expired");
		goto out;
	}
	if (rc < 0) {
		tb__conn_send_error(conn, req->id, TB_SIG_UNAUTHORIZED, "invalid token");
		goto out;
	}
	if (strcmp(claims.room, "*") == 0) {
		if (!room_id) {
			tb__conn_send_error(conn, req->id, TB_SIG_MISSING_FIELD,
					    "field 'room' is required with this token");
			goto out;
		}
		if (!tb_room_id_valid(room_id)) {
			tb__conn_send_error(conn, req->id, TB_SIG_BAD_FIELD,
					    "field 'room' must be 1 to 64 of A-Z a-z 0-9 _ -");
			goto out;
		}
	} else if (room_id && strcmp(room_id, claims.room) != 0) {
		tb__conn_send_error(conn, req->id, TB_SIG_UNAUTHORIZED,
				    "this token does not give access to that room");
		goto out;
	} else {
		room_id = claims.room;
	}

	params.room_id = room_id;
	params.user = claims.sub;
	params.name = name ? name : claims.name;
	params.role = claims.role;
	params.kind = TB_ROOM_KIND_COACHING;
	if (claims.kind)
		tb_room_kind_from_string(claims.kind, &params.kind);
	params.slot_ends_ms = claims.ends * 1000;
	rc = tb_rooms_join(sig->deps.rooms, &params, &conn_sink, conn, &p);
	switch (rc) {
	case 0:
		break;
	case TB_EPERM:
		tb__conn_send_error(conn, req->id, TB_SIG_FORBIDDEN,
				    "this role cannot join rooms (the library only)");
		goto out;
	case TB_EFULL:
		tb__conn_send_error(conn, req->id, TB_SIG_ROOM_FULL, "the room is full");
		goto out;
	case TB_ELOCKED:
		tb__conn_send_error(conn, req->id, TB_SIG_ROOM_LOCKED, "the room is locked");
		goto out;
	case TB_EAUTH:
		tb__conn_send_error(conn, req->id, TB_SIG_FORBIDDEN,
				    "you were removed from this room by a facilitator");
		goto out;
	default:
		tb__conn_send_error(conn, req->id, TB_SIG_INTERNAL, "could not join the room");
		goto out;
	}
	conn->participant = p;
	room = tb_participant_room(p);
	you = tb_participant_to_json(p);
	json_object_del(you, "tracks");
	reply_ok(conn, req,
		 json_pack("{s:o, s:o, s:o, s:I, s:o}", "room", tb_room_to_json(room), "you", you,
			   "participants", tb_room_roster_json(room, p), "server_time_ms",
			   (json_int_t)tb_clock_wall_ms(sig->deps.clock), "workshop",
			   tb_room_workshop_json(room)));
	tb_participant_welcome(p);
out:
	tb_token_claims_clear(&claims);
}

static void handle_leave(tb_conn *conn, const tb_request *req)
{
	tb_participant *p = conn->participant;

	conn->participant = NULL;
	tb_participant_leave(p, "left");
	reply_ok(conn, req, NULL);
}

static void handle_chat(tb_conn *conn, const tb_request *req)
{
	reply_ok(conn, req, NULL);
	tb_participant_chat(conn->participant, tb__proto_string(req, "text"));
}

/* tracks: [{mid, source}], each checked. */
static bool sources_valid(json_t *tracks, char *message, size_t message_len)
{
	size_t i;
	json_t *entry;

	json_array_foreach(tracks, i, entry)
	{
		const char *mid = json_string_value(json_object_get(entry, "mid"));
		const char *source = json_string_value(json_object_get(entry, "source"));
		if (!json_is_object(entry) || !mid || !source || strlen(mid) > 32 ||
		    (strcmp(source, "mic") != 0 && strcmp(source, "camera") != 0 &&
		     strcmp(source, "screen") != 0)) {
			g_snprintf(
				message, message_len,
				"tracks[%zu] must be {mid, source: \"mic\"|\"camera\"|\"screen\"}",
				i);
			return false;
		}
	}
	return true;
}

static void handle_publish(tb_conn *conn, const tb_request *req)
{
	json_t *tracks = json_object_get(req->obj, "tracks");
	char message[96];

	if (tracks && !sources_valid(tracks, message, sizeof(message))) {
		tb__conn_send_error(conn, req->id, TB_SIG_BAD_FIELD, message);
		return;
	}
	tb_participant_publish(conn->participant, tb__proto_string(req, "sdp"), tracks, req->id);
}

static void handle_unpublish(tb_conn *conn, const tb_request *req)
{
	tb_participant_unpublish(conn->participant);
	reply_ok(conn, req, NULL);
}

static void handle_subscriber_answer(tb_conn *conn, const tb_request *req)
{
	json_int_t version = json_integer_value(json_object_get(req->obj, "version"));

	if (tb_participant_subscriber_answer(conn->participant, tb__proto_string(req, "sdp"),
					     (int64_t)version, req->id) < 0)
		tb__conn_send_error(conn, req->id, TB_SIG_CONFLICT,
				    "that offer is not the newest: answer the latest "
				    "subscriber-offer");
}

#define CANDIDATES_FULL                                                                            \
	"too many candidates for this PeerConnection (" G_STRINGIFY(                               \
		TB_ICE_MAX_REMOTE_CANDIDATES) " at most): this one is ignored"

static void handle_candidate(tb_conn *conn, const tb_request *req)
{
	const char *pc = tb__proto_string(req, "pc");
	json_t *cand = json_object_get(req->obj, "candidate");
	json_t *line = cand ? json_object_get(cand, "candidate") : NULL;
	const char *text = NULL;

	if (strcmp(pc, "publish") != 0 && strcmp(pc, "subscribe") != 0) {
		tb__conn_send_error(conn, req->id, TB_SIG_BAD_FIELD,
				    "field 'pc' must be \"publish\" or \"subscribe\"");
		return;
	}
	if (line && !json_is_null(line)) {
		if (!json_is_string(line) || json_string_length(line) > 1024) {
			tb__conn_send_error(conn, req->id, TB_SIG_BAD_FIELD,
					    "field 'candidate.candidate' must be a string");
			return;
		}
		text = json_string_value(line);
	}
	/* null, or an empty string (Firefox, per section): end-of-candidates. */
	switch (tb_participant_candidate(conn->participant, pc, text)) {
	case 0:
		break;
	case TB_EFULL:
		tb__conn_send_error(conn, req->id, TB_SIG_BAD_FIELD, CANDIDATES_FULL);
		return;
	default:
		tb__conn_send_error(conn, req->id, TB_SIG_BAD_FIELD, "bad candidate");
		return;
	}
	reply_ok(conn, req, NULL);
}

/* Answers a facilitation call's result RC: ok (DATA, transfer full,
 * nullable) or the error for its code; CONFLICT and INVALID are the
 * messages of TB_ECONFLICT and TB_EINVAL for this request. */
static void reply_facilitation(tb_conn *conn, const tb_request *req, int rc, json_t *data,
			       const char *conflict, const char *invalid)
{
	tb_participant *p = conn->participant;

	switch (rc) {
	case 0:
		reply_ok(conn, req, data);
		return;
	case TB_EPERM:
		tb__conn_send_error(conn, req->id, TB_SIG_FORBIDDEN,
				    !tb_participant_facilitates(p)
					    ? "only a facilitator (mentor or admin) may do this"
					    : "this tool works in workshop rooms only");
		break;
	case TB_ENOENT:
		tb__conn_send_error(conn, req->id, TB_SIG_NOT_FOUND,
				    "no participant with that id in this room");
		break;
	case TB_ECONFLICT:
		tb__conn_send_error(conn, req->id, TB_SIG_CONFLICT,
				    conflict ? conflict : "conflict");
		break;
	case TB_EINVAL:
		tb__conn_send_error(conn, req->id, TB_SIG_BAD_FIELD,
				    invalid ? invalid : "bad field");
		break;
	default:
		tb__conn_send_error(conn, req->id, TB_SIG_INTERNAL, "could not do that");
		break;
	}
	if (data)
		json_decref(data);
}

static void handle_mute(tb_conn *conn, const tb_request *req)
{
	const char *kind = tb__proto_string(req, "kind");
	const char *target = tb__proto_string(req, "participant_id");
	bool muted = json_is_true(json_object_get(req->obj, "muted"));
	tb_sdp_kind media_kind;

	if (strcmp(kind, "audio") != 0 && strcmp(kind, "video") != 0) {
		tb__conn_send_error(conn, req->id, TB_SIG_BAD_FIELD,
				    "field 'kind' must be \"audio\" or \"video\"");
		return;
	}
	media_kind = strcmp(kind, "audio") == 0 ? TB_SDP_KIND_AUDIO : TB_SDP_KIND_VIDEO;
	if (target && strcmp(target, tb_participant_id(conn->participant)) != 0) {
		/* Someone else's: a facilitator's server-side mute. */
		reply_facilitation(conn, req,
				   tb_participant_mute_other(conn->participant, target, media_kind,
							     muted),
				   NULL, NULL, NULL);
		return;
	}
	tb_participant_mute(conn->participant, media_kind, muted);
	reply_ok(conn, req, NULL);
}

static void handle_exercise_start(tb_conn *conn, const tb_request *req)
{
	json_t *minutes = json_object_get(req->obj, "minutes");
	json_t *seconds = json_object_get(req->obj, "seconds");
	const char *title = tb__proto_string(req, "title");
	json_t *exercise = NULL;
	int64_t duration_ms;
	int rc;

	if (!minutes == !seconds) {
		tb__conn_send_error(conn, req->id,
				    minutes ? TB_SIG_BAD_FIELD : TB_SIG_MISSING_FIELD,
				    "give field 'minutes' (or 'seconds'), not both");
		return;
	}
	if (minutes && (json_integer_value(minutes) < 1 || json_integer_value(minutes) > 180)) {
		tb__conn_send_error(conn, req->id, TB_SIG_BAD_FIELD,
				    "field 'minutes' must be 1 to 180");
		return;
	}
	if (seconds &&
	    (json_integer_value(seconds) < 1 || json_integer_value(seconds) > 180 * 60)) {
		tb__conn_send_error(conn, req->id, TB_SIG_BAD_FIELD,
				    "field 'seconds' must be 1 to 10800");
		return;
	}
	duration_ms = minutes ? json_integer_value(minutes) * 60000
			      : json_integer_value(seconds) * 1000;
	rc = tb_participant_exercise_start(conn->participant, duration_ms, title, &exercise);
	reply_facilitation(conn, req, rc, rc == 0 ? json_pack("{s:o}", "exercise", exercise) : NULL,
			   "an exercise is already running: end it first", "bad duration");
}

static void handle_exercise_end(tb_conn *conn, const tb_request *req)
{
	reply_facilitation(conn, req, tb_participant_exercise_end(conn->participant), NULL,
			   "no exercise is running", NULL);
}

static void handle_reading_order_set(tb_conn *conn, const tb_request *req)
{
	json_t *order = json_object_get(req->obj, "order");
	bool shuffle = json_is_true(json_object_get(req->obj, "shuffle"));
	const char **ids = NULL;
	size_t n = 0, i;
	json_t *entry;
	int rc;

	if (!order == !shuffle) {
		tb__conn_send_error(conn, req->id, order ? TB_SIG_BAD_FIELD : TB_SIG_MISSING_FIELD,
				    "give field 'order' (participant ids) or 'shuffle': true");
		return;
	}
	if (order) {
		n = json_array_size(order);
		ids = g_new0(const char *, n + 1);
		json_array_foreach(order, i, entry)
		{
			if (!json_is_string(entry) || json_string_length(entry) == 0 ||
			    json_string_length(entry) > 64) {
				tb__conn_send_error(conn, req->id, TB_SIG_BAD_FIELD,
						    "field 'order' must list participant ids");
				g_free(ids);
				return;
			}
			ids[i] = json_string_value(entry);
		}
	}
	rc = tb_participant_reading_set(conn->participant, ids, n);
	reply_facilitation(conn, req, rc, NULL, NULL,
			   order ? "field 'order' must list participant ids once each"
				 : "nobody to shuffle: no participant but facilitators");
	g_free(ids);
}

static void handle_reading_next(tb_conn *conn, const tb_request *req)
{
	reply_facilitation(conn, req,
			   tb_participant_reading_next(conn->participant,
						       req->type == TB_REQ_READING_SKIP),
			   NULL, "no reading is in progress: set a reading order first", NULL);
}

static void handle_remove(tb_conn *conn, const tb_request *req)
{
	reply_facilitation(conn, req,
			   tb_participant_remove_other(conn->participant,
						       tb__proto_string(req, "participant_id")),
			   NULL, NULL, "to leave the room yourself, send leave");
}

static void handle_lock(tb_conn *conn, const tb_request *req)
{
	reply_facilitation(conn, req,
			   tb_participant_lock(conn->participant,
					       json_is_true(json_object_get(req->obj, "locked"))),
			   NULL, NULL, NULL);
}

static void handle_raise_hand(tb_conn *conn, const tb_request *req)
{
	reply_ok(conn, req, NULL);
	tb_participant_raise_hand(conn->participant);
}

static void handle_lower_hand(tb_conn *conn, const tb_request *req)
{
	reply_facilitation(conn, req,
			   tb_participant_lower_hand(conn->participant,
						     tb__proto_string(req, "participant_id")),
			   NULL, NULL, NULL);
}

static void handle_view(tb_conn *conn, const tb_request *req)
{
	const char *mode = tb__proto_string(req, "mode");
	const char *spotlight = tb__proto_string(req, "spotlight");
	bool grid = !mode || strcmp(mode, "grid") == 0;

	if (mode && !grid && strcmp(mode, "spotlight") != 0) {
		tb__conn_send_error(conn, req->id, TB_SIG_BAD_FIELD,
				    "field 'mode' must be \"grid\" or \"spotlight\"");
		return;
	}
	if (tb_participant_set_view(conn->participant, spotlight, grid) < 0) {
		tb__conn_send_error(conn, req->id, TB_SIG_NOT_FOUND,
				    "no such participant in the room");
		return;
	}
	reply_ok(conn, req, NULL);
}

static void handle_stats(tb_conn *conn, const tb_request *req)
{
	tb_participant_stats(conn->participant, req->id);
}

typedef void (*request_handler)(tb_conn *conn, const tb_request *req);

static const request_handler handlers[TB_REQ_N_TYPES] = {
	[TB_REQ_PING] = handle_ping,
	[TB_REQ_JOIN] = handle_join,
	[TB_REQ_LEAVE] = handle_leave,
	[TB_REQ_CHAT] = handle_chat,
	[TB_REQ_PUBLISH] = handle_publish,
	[TB_REQ_UNPUBLISH] = handle_unpublish,
	[TB_REQ_SUBSCRIBER_ANSWER] = handle_subscriber_answer,
	[TB_REQ_CANDIDATE] = handle_candidate,
	[TB_REQ_MUTE] = handle_mute,
	[TB_REQ_STATS] = handle_stats,
	[TB_REQ_EXERCISE_START] = handle_exercise_start,
	[TB_REQ_EXERCISE_END] = handle_exercise_end,
	[TB_REQ_READING_ORDER_SET] = handle_reading_order_set,
	[TB_REQ_READING_NEXT] = handle_reading_next,
	[TB_REQ_READING_SKIP] = handle_reading_next,
	[TB_REQ_REMOVE] = handle_remove,
	[TB_REQ_LOCK] = handle_lock,
	[TB_REQ_RAISE_HAND] = handle_raise_hand,
	[TB_REQ_LOWER_HAND] = handle_lower_hand,
	[TB_REQ_VIEW] = handle_view,
};

/* Token bucket: RATE_PER_SEC tokens a second, up to RATE_BURST. */
static bool rate_allows(tb_conn *conn)
{
	const tb_config *config = conn->sig->deps.config;
	int64_t now = mono_us(conn);

	conn->tokens += (double)(now - conn->tokens_at_us) * config->rate_per_sec / 1e6;
	conn->tokens_at_us = now;
	if (conn->tokens > config->rate_burst)
		conn->tokens = config->rate_burst;
	if (conn->tokens < 1.0)
		return false;
	conn->tokens -= 1.0;
	return true;
}

void tb__conn_message(tb_conn *conn, const char *text, size_t len)
{
	tb_request req;
	tb_request_error err;

	conn->sig->ws_messages++;
	if (conn->closing)
		return;
	if (!rate_allows(conn)) {
		/* Answer without parsing: a flood must stay cheap. The id is
		 * still read when the frame is small, so the client can match. */
		json_t *obj = len <= 4096 ? json_loadb(text, len, 0, NULL) : NULL;
		json_t *id = json_is_object(obj) ? json_object_get(obj, "id") : NULL;
		tb__conn_send_error(conn, json_is_string(id) || json_is_number(id) ? id : NULL,
				    TB_SIG_RATE_LIMITED, "too many messages; slow down");
		json_decref(obj);
		return;
	}
	if (!tb__proto_parse(text, len, &req, &err)) {
		tb__conn_send_error(conn, req.id, err.code, err.message);
		goto out;
	}
	if (!conn->participant && !tb__proto_allowed_outside_room(req.type)) {
		tb__conn_send_error(conn, req.id, TB_SIG_NOT_IN_ROOM, "join a room first");
		goto out;
	}
	handlers[req.type](conn, &req);
out:
	tb__proto_request_clear(&req);
}

void tb__conn_closed(tb_conn *conn)
{
	tb_signaling *sig = conn->sig;

	if (conn->participant) {
		tb_participant *p = conn->participant;
		conn->participant = NULL;
		tb_participant_leave(p, "disconnected");
	}
	if (conn->link)
		g_queue_delete_link(&sig->conns, conn->link);
	conn->link = NULL;
	g_queue_clear_full(&conn->tx, (GDestroyNotify)g_bytes_unref);
	if (conn->rx)
		g_string_free(conn->rx, TRUE);
	conn->rx = NULL;
}
