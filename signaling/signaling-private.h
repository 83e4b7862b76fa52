/* signaling-private.h — shared between the files of the signaling module. */
#ifndef TB_SIGNALING_PRIVATE_H
#define TB_SIGNALING_PRIVATE_H

#include <jansson.h>
#include <libwebsockets.h>

#include "signaling.h"

/* ---- proto.c: JSON <-> typed requests, pure, no I/O ---- */

/* One enum for every signaling error code (docs/protocol.md lists them). */
typedef enum {
	TB_SIG_OK = 0,
	TB_SIG_BAD_JSON,
	TB_SIG_UNKNOWN_TYPE,
	TB_SIG_MISSING_FIELD,
	TB_SIG_BAD_FIELD,
	TB_SIG_UNAUTHORIZED,
	TB_SIG_FORBIDDEN,
	TB_SIG_ROOM_FULL,
	TB_SIG_ROOM_LOCKED,
	TB_SIG_NOT_IN_ROOM,
	TB_SIG_NOT_FOUND,
	TB_SIG_RATE_LIMITED,
	TB_SIG_TOO_LARGE,
	TB_SIG_CONFLICT,
	TB_SIG_INTERNAL,
	TB_SIG_N_ERRORS
} tb_sig_error;

/* Returns the wire code ("bad-json", ...) of ERROR (static). */
const char *tb__sig_error_code(tb_sig_error error);

typedef enum {
	TB_REQ_PING = 0,
	TB_REQ_JOIN,
	TB_REQ_LEAVE,
	TB_REQ_CHAT,
	TB_REQ_PUBLISH,
	TB_REQ_UNPUBLISH,
	TB_REQ_SUBSCRIBER_ANSWER,
	TB_REQ_CANDIDATE,
	TB_REQ_MUTE,
	TB_REQ_STATS,
	TB_REQ_EXERCISE_START,
	TB_REQ_EXERCISE_END,
	TB_REQ_READING_ORDER_SET,
	TB_REQ_READING_NEXT,
	TB_REQ_READING_SKIP,
	TB_REQ_REMOVE,
	TB_REQ_LOCK,
	TB_REQ_RAISE_HAND,
	TB_REQ_LOWER_HAND,
	TB_REQ_VIEW,
	TB_REQ_N_TYPES
} tb_request_type;

/* A parsed, validated request. Fields point into OBJ (owned). */
typedef struct tb_request {
	tb_request_type type;
	json_t *id;  /* number or string (owned ref); NULL when absent or invalid */
	json_t *obj; /* the whole request object (owned ref) */
} tb_request;

/* A parse or validation failure: the response to send. */
typedef struct tb_request_error {
	tb_sig_error code;
	char message[160];
} tb_request_error;

/* Parses one text frame. On success fills REQ and returns TRUE; otherwise
 * fills ERR, sets REQ->id to the request id when one could be read (else
 * NULL) and returns FALSE. The caller clears REQ in both cases. */
bool tb__proto_parse(const char *text, size_t len, tb_request *req, tb_request_error *err);
void tb__proto_request_clear(tb_request *req);
/* Returns true if TYPE may be sent before join. */
bool tb__proto_allowed_outside_room(tb_request_type type);
const char *tb__proto_type_name(tb_request_type type);

/* Returns the string field NAME of REQ (validated present when required),
 * or NULL. */
const char *tb__proto_string(const tb_request *req, const char *name);

/* Serialises a success response {id, ok: true, data} (DATA: transfer full,
 * nullable = {}). Returns a new string. */
char *tb__proto_ok(json_t *id, json_t *data);
/* Serialises {id, ok: false, error: {code, message}}. */
char *tb__proto_error(json_t *id, tb_sig_error code, const char *message);
/* Serialises {event, data} (DATA: transfer none). */
char *tb__proto_event(const char *name, json_t *data);

/* Counts UTF-8 code points of a valid UTF-8 string. */
size_t tb__utf8_length(const char *s);

/* ---- ws.c / http.c / session.c ---- */

typedef struct tb_conn tb_conn;

/* Per-connection data, allocated zeroed by lws for each wsi. */
typedef struct tb_http_state tb_http_state;

struct tb_signaling {
	tb_signaling_deps deps;
	struct lws_context *context;
	struct lws_vhost *vhost;
	int port;
	bool tls;
	bool shutting_down;
	GQueue conns; /* tb_conn* (WebSocket connections) */
	unsigned refused_unlogged;  /* per-address refusals since the last log line */
	int64_t refused_logged_us;
	unsigned n_http;
	int64_t started_us;
	GSourceFunc shutdown_done;
	gpointer shutdown_data;
	guint shutdown_timer;
	int64_t shutdown_started_us;
	bool context_destroying;
	/* counters for /metrics */
	uint64_t ws_accepted;
	uint64_t ws_refused;
	uint64_t ws_messages;
	uint64_t ws_errors[TB_SIG_N_ERRORS];
	uint64_t ws_oversized;
	uint64_t ws_slow_closed;
	uint64_t http_requests;
	uint64_t http_status[6]; /* by class: 1xx..5xx, [0] other */
};

/* session.c: one WebSocket connection and its participant. */
struct tb_conn {
	struct lws *wsi;
	tb_signaling *sig;
	GList *link; /* in sig->conns */
	GString *rx;
	bool rx_discard;
	GQueue tx; /* GBytes* holding LWS_PRE + payload */
	size_t tx_bytes;
	bool closing;
	int close_status;
	const char *close_reason;
	double tokens;
	int64_t tokens_at_us;
	tb_participant *participant;
	char peer[48]; /* the client's IP address, for the per-address limit */
};

/* Writes the IP address of the peer of socket FD into OUT (IPv4-mapped
 * IPv6 addresses as IPv4); "" when it cannot be read. */
void tb__peer_address(int fd, char *out, size_t size);
/* Returns how many WebSockets are open from ADDRESS. */
unsigned tb__conns_from(const tb_signaling *sig, const char *address);
void tb__conn_open(tb_conn *conn, tb_signaling *sig, struct lws *wsi);
/* Handles one complete text message. */
void tb__conn_message(tb_conn *conn, const char *text, size_t len);
/* Queues TEXT (transfer full) for sending. */
void tb__conn_send(tb_conn *conn, char *text);
/* Queues a response error with a null id. */
void tb__conn_send_error(tb_conn *conn, json_t *id, tb_sig_error code, const char *message);
/* Sends what is queued, then closes with STATUS. */
void tb__conn_close(tb_conn *conn, int status, const char *reason);
/* Writes one queued frame; returns -1 when lws must close the connection. */
int tb__conn_writeable(tb_conn *conn);
/* The socket closed: leave the room, free buffers. */
void tb__conn_closed(tb_conn *conn);

/* http.c: one HTTP request. */
struct tb_http_state {
	int method; /* LWSHUMETH_* */
	char path[512];
	GString *body;
	bool body_too_large;
	/* the response being written */
	GBytes *response; /* LWS_PRE + body */
	size_t response_sent;
	bool response_started;
	/* http-library.c: a request waiting for the library, a file being sent */
	struct tb_http_pending *pending;
	struct tb_http_file *file;
};

/* LWS_CALLBACK_HTTP: returns what the lws callback must return. */
int tb__http_request(tb_signaling *sig, struct lws *wsi, tb_http_state *http, const char *uri);
int tb__http_body(tb_signaling *sig, struct lws *wsi, tb_http_state *http, const void *in,
		  size_t len);
int tb__http_body_complete(tb_signaling *sig, struct lws *wsi, tb_http_state *http);
int tb__http_writeable(tb_signaling *sig, struct lws *wsi, tb_http_state *http);
void tb__http_done(tb_http_state *http);
/* http-dev.c: everything under /api/dev; a 404 unless config->dev. */
int tb__http_dev_route(tb_signaling *sig, struct lws *wsi, tb_http_state *http);

/* http.c, for http-library.c and http-dev.c: a JSON response (BODY: transfer
 * full) or an API error {"error": {code, message}}, returning what the lws
 * callback must return; the bearer-token check. */
int tb__http_respond_json(tb_signaling *sig, struct lws *wsi, tb_http_state *http, unsigned status,
			  json_t *body /* transfer full */);
int tb__http_respond_error(tb_signaling *sig, struct lws *wsi, tb_http_state *http, unsigned status,
			   const char *code, const char *message);
/* Returns 0 with CLAIMS filled, or 1 after sending the 401 (*RC: what the
 * callback returns). */
int tb__http_authenticate(tb_signaling *sig, struct lws *wsi, tb_http_state *http,
			  tb_token_claims *claims, int *rc);
void tb__http_count_status(tb_signaling *sig, unsigned status);
int tb__http_add_security_headers(struct lws *wsi, unsigned char **p, unsigned char *end);

/* http-library.c: the library API (/api/library, /api/sessions/...,
 * /api/recordings/..., /api/vocabulary...). */
bool tb__http_library_path(const char *path);
int tb__http_library_route(tb_signaling *sig, struct lws *wsi, tb_http_state *http);
/* The socket is writeable and HTTP->pending or HTTP->file is set. */
int tb__http_library_writeable(tb_signaling *sig, struct lws *wsi, tb_http_state *http);
/* The request is over (answered, or the client went away): forget it. */
void tb__http_library_done(tb_http_state *http);

#endif
