/* signaling.h — the one HTTP/WebSocket server of tribud.
 *
 * libwebsockets runs on the GLib main loop (foreign loop). It serves the
 * signaling WebSocket at /ws (docs/protocol.md), /healthz, /metrics, the
 * HTTP API under /api/ and the web client's static files.
 *
 * Threads: main thread only.
 */
#ifndef TB_SIGNALING_H
#define TB_SIGNALING_H

#include <glib.h>

#include "common.h"
#include "library.h"
#include "recorder.h"
#include "rooms.h"

G_BEGIN_DECLS

typedef struct tb_signaling tb_signaling;

typedef struct tb_signaling_deps {
	const tb_config *config; /* transfer none; outlives the server */
	const char *secret;      /* token secret; transfer none */
	tb_rooms *rooms;         /* transfer none */
	tb_catalog *catalog;     /* transfer none, nullable */
	tb_library *library;     /* transfer none, nullable: the library API answers 503 */
	GMainLoop *loop;         /* the main loop lws joins */
	const tb_clock *clock;   /* nullable: default clock */
} tb_signaling_deps;

/* Creates the lws context and starts listening. Returns a new server
 * (transfer full) or NULL with ERROR (port taken, bad certificate, ...). */
tb_signaling *tb_signaling_new(const tb_signaling_deps *deps, GError **error);

/* Returns the TCP port actually listened on. */
int tb_signaling_port(const tb_signaling *sig);
/* Returns "http" or "https". */
const char *tb_signaling_scheme(const tb_signaling *sig);

/* Starts a clean stop: WebSocket clients get a close frame (going away),
 * then the lws context is destroyed; DONE(DATA) runs on the main loop when
 * everything is closed (or after a short grace period). Idempotent. */
void tb_signaling_shutdown(tb_signaling *sig, GSourceFunc done, gpointer data);

/* Frees the server; call after shutdown completed. NULL is ignored. */
void tb_signaling_free(tb_signaling *sig);

G_END_DECLS

#endif
