/* ws.c — the libwebsockets context and its one protocol callback.
 *
 * Main thread: lws joins the GLib main loop as a foreign loop. The callback
 * only routes: WebSocket frames to session.c, HTTP requests to http.c. It
 * owns the connection limits (count, frame size, UTF-8, idle pings) and the
 * clean stop.
 */
#include <string.h>

#include "signaling-private.h"

#define CAT "sig"

/* What lws allocates (zeroed) for each connection of our protocol. */
typedef struct pss {
	bool is_ws;
	bool http_counted; /* counted in sig->n_http */
	tb_conn conn;
	tb_http_state http;
} pss;

static unsigned open_connections(const tb_signaling *sig)
{
	return sig->conns.length + sig->n_http;
}

static bool ws_path_ok(struct lws *wsi)
{
	char path[16];
	int n = lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);

	return n > 0 && strcmp(path, "/ws") == 0;
}

/* Logs a refusal by the per-address limit: at most one line a second,
 * saying how many were refused since the last one. */
static void log_refused(tb_signaling *sig, const char *peer)
{
	int64_t now = tb_clock_mono_us(sig->deps.clock);

	sig->refused_unlogged++;
	if (sig->refused_logged_us && now - sig->refused_logged_us < G_USEC_PER_SEC)
		return;
	TB_WARN(CAT, "refused %u WebSocket(s), the last from %s: %d already open from that address",
		sig->refused_unlogged, peer, sig->deps.config->max_connections_per_address);
	sig->refused_unlogged = 0;
	sig->refused_logged_us = now;
}

static int on_ws_receive(tb_signaling *sig, tb_conn *conn, const void *in, size_t len)
{
	const tb_config *config = sig->deps.config;
	bool final =
		lws_is_final_fragment(conn->wsi) && lws_remaining_packet_payload(conn->wsi) == 0;

	if (conn->rx_discard) {
		if (final)
			conn->rx_discard = false;
		return 0;
	}
	if (lws_frame_is_binary(conn->wsi)) {
		g_string_truncate(conn->rx, 0);
		conn->rx_discard = !final;
		tb__conn_send_error(conn, NULL, TB_SIG_BAD_JSON,
				    "binary frames are not accepted: send JSON text");
		return 0;
	}
	if (conn->rx->len + len > (size_t)config->max_message_bytes) {
		char message[96];
		sig->ws_oversized++;
		g_string_truncate(conn->rx, 0);
		g_snprintf(message, sizeof(message), "messages are limited to %d bytes",
			   config->max_message_bytes);
		tb__conn_send_error(conn, NULL, TB_SIG_TOO_LARGE, message);
		tb__conn_close(conn, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
		conn->rx_discard = !final;
		return 0;
	}
	g_string_append_len(conn->rx, in, (gssize)len);
	if (!final)
		return 0;
	tb__conn_message(conn, conn->rx->str, conn->rx->len);
	if (conn->rx) {
		if (conn->rx->allocated_len > 16384) {
			g_string_free(conn->rx, TRUE);
			conn->rx = g_string_sized_new(256);
		} else {
			g_string_truncate(conn->rx, 0);
		}
	}
	return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct lws_vhost *vhost = lws_get_vhost(wsi);
	tb_signaling *sig = vhost ? lws_get_vhost_user(vhost) : NULL;
	pss *s = user;

	if (!sig)
		return lws_callback_http_dummy(wsi, reason, user, in, len);

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		if (sig->shutting_down ||
		    open_connections(sig) >= (unsigned)sig->deps.config->max_connections) {
			sig->ws_refused++;
			return 1;
		}
		return 0;

	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		char peer[48];

		if (sig->shutting_down || !ws_path_ok(wsi) ||
		    sig->conns.length >= (unsigned)sig->deps.config->max_connections) {
			sig->ws_refused++;
			return 1;
		}
		tb__peer_address(lws_get_socket_fd(wsi), peer, sizeof(peer));
		if (tb__conns_from(sig, peer) >=
		    (unsigned)sig->deps.config->max_connections_per_address) {
			sig->ws_refused++;
			log_refused(sig, peer);
			return 1;
		}
		return 0;
	}

	case LWS_CALLBACK_ESTABLISHED:
		/* An upgraded connection stops counting as HTTP: lws sends no
		 * HTTP_DROP_PROTOCOL for it. */
		if (s->http_counted && sig->n_http > 0)
			sig->n_http--;
		s->http_counted = false;
		s->is_ws = true;
		tb__conn_open(&s->conn, sig, wsi);
		return 0;

	case LWS_CALLBACK_RECEIVE:
		return on_ws_receive(sig, &s->conn, in, len);

	case LWS_CALLBACK_SERVER_WRITEABLE:
		return tb__conn_writeable(&s->conn);

	case LWS_CALLBACK_CLOSED:
		if (s && s->is_ws) {
			tb__conn_closed(&s->conn);
			s->is_ws = false;
		}
		return 0;

	case LWS_CALLBACK_HTTP_BIND_PROTOCOL:
		if (s && !s->http_counted) {
			s->http_counted = true;
			sig->n_http++;
		}
		return 0;

	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		if (s && s->http_counted && sig->n_http > 0)
			sig->n_http--;
		if (s) {
			s->http_counted = false;
			tb__http_done(&s->http);
		}
		return 0;

	case LWS_CALLBACK_HTTP:
		return tb__http_request(sig, wsi, &s->http, in);

	case LWS_CALLBACK_HTTP_BODY:
		return tb__http_body(sig, wsi, &s->http, in, len);

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return tb__http_body_complete(sig, wsi, &s->http);

	case LWS_CALLBACK_HTTP_WRITEABLE:
		return tb__http_writeable(sig, wsi, &s->http);

	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		if (lws_http_transaction_completed(wsi))
			return -1;
		return 0;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{"tribu", callback, sizeof(pss), 4096, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Idle WebSockets get a ping after 30 s and are dropped after 75 s. */
static const lws_retry_bo_t idle_policy = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 75,
};

static void lws_log(int level, const char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	if (level & LLL_ERR)
		tb_log("lws", TB_LOG_WARN, "%.*s", (int)n, line);
	else if (level & LLL_WARN)
		tb_log("lws", TB_LOG_INFO, "%.*s", (int)n, line);
	else
		tb_log("lws", TB_LOG_DEBUG, "%.*s", (int)n, line);
}

tb_signaling *tb_signaling_new(const tb_signaling_deps *deps, GError **error)
{
	tb_signaling *sig = g_new0(tb_signaling, 1);
	struct lws_context_creation_info info;
	void *foreign_loops[1];
	int lws_levels = LLL_ERR;

	sig->deps = *deps;
	if (!sig->deps.clock)
		sig->deps.clock = tb_clock_default();
	g_queue_init(&sig->conns);
	sig->started_us = tb_clock_mono_us(sig->deps.clock);
	sig->tls = deps->config->tls_cert != NULL;

	if (tb_log_enabled("lws", TB_LOG_DEBUG))
		lws_levels |= LLL_WARN | LLL_NOTICE;
	else if (tb_log_enabled("lws", TB_LOG_INFO))
		lws_levels |= LLL_WARN;
	lws_set_log_level(lws_levels, lws_log);

	memset(&info, 0, sizeof(info));
	foreign_loops[0] = deps->loop;
	info.foreign_loops = foreign_loops;
	/* Security headers are ours (http.c): lws's set forbids media-src. */
	info.options = LWS_SERVER_OPTION_GLIB | LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (strchr(deps->config->listen_host, ':') == NULL)
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	info.port = deps->config->listen_port;
	info.iface = deps->config->listen_host;
	info.protocols = protocols;
	info.vhost_name = "tribu";
	info.user = sig;
	info.pcontext = &sig->context;
	info.retry_and_idle_policy = &idle_policy;
	info.timeout_secs = 20;
	info.max_http_header_data = 4096;
	info.keepalive_timeout = 30;
	info.fd_limit_per_thread = (unsigned)deps->config->max_connections + 64;
	info.server_string = "tribud";
	if (sig->tls) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = deps->config->tls_cert;
		info.ssl_private_key_filepath = deps->config->tls_key;
	}

	sig->context = lws_create_context(&info);
	if (!sig->context) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
			    "cannot serve on %s:%d (address in use, not local, or bad TLS files?)",
			    deps->config->listen_host, deps->config->listen_port);
		g_free(sig);
		return NULL;
	}
	sig->vhost = lws_get_vhost_by_name(sig->context, "tribu");
	sig->port = sig->vhost ? lws_get_vhost_listen_port(sig->vhost) : -1;
	if (!sig->vhost || sig->port <= 0) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot listen on %s:%d",
			    deps->config->listen_host, deps->config->listen_port);
		lws_context_destroy(sig->context);
		g_free(sig);
		return NULL;
	}
	return sig;
}

int tb_signaling_port(const tb_signaling *sig)
{
	return sig->port;
}

const char *tb_signaling_scheme(const tb_signaling *sig)
{
	return sig->tls ? "https" : "http";
}

/* Runs every 20 ms during a stop: waits (up to a second) for WebSocket
 * clients to take their close frames, destroys the lws context, then waits
 * for lws to finish its foreign-loop teardown (it writes NULL into
 * sig->context) before calling the owner back. */
static gboolean shutdown_tick(gpointer data)
{
	tb_signaling *sig = data;
	int64_t elapsed_us = tb_clock_mono_us(sig->deps.clock) - sig->shutdown_started_us;
	GSourceFunc done;

	if (!sig->context_destroying) {
		if (sig->conns.length > 0 && elapsed_us < 1000000)
			return G_SOURCE_CONTINUE;
		if (sig->conns.length > 0)
			TB_WARN(CAT, "%u connection(s) did not close in time", sig->conns.length);
		sig->context_destroying = true;
		lws_context_destroy(sig->context);
	}
	if (sig->context && elapsed_us < 5000000)
		return G_SOURCE_CONTINUE;
	if (sig->context)
		TB_WARN(CAT, "the HTTP server did not finish closing in time");
	sig->shutdown_timer = 0;
	done = sig->shutdown_done;
	sig->shutdown_done = NULL;
	if (done)
		done(sig->shutdown_data);
	return G_SOURCE_REMOVE;
}

void tb_signaling_shutdown(tb_signaling *sig, GSourceFunc done, gpointer data)
{
	if (sig->shutting_down)
		return;
	sig->shutting_down = true;
	sig->shutdown_done = done;
	sig->shutdown_data = data;
	sig->shutdown_started_us = tb_clock_mono_us(sig->deps.clock);
	for (GList *l = sig->conns.head; l; l = l->next)
		tb__conn_close(l->data, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
	sig->shutdown_timer = g_timeout_add(20, shutdown_tick, sig);
}

void tb_signaling_free(tb_signaling *sig)
{
	if (!sig)
		return;
	if (sig->shutdown_timer)
		g_source_remove(sig->shutdown_timer);
	if (sig->context && !sig->context_destroying)
		lws_context_destroy(sig->context);
	g_free(sig);
}
