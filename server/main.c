/* main.c — tribud: command line, wiring and start/stop order.
 *
 * Main thread. Start: configuration, logging, data dir, token secret,
 * catalog (its own thread), media workers, rooms, then the HTTP/WebSocket
 * server. Stop (SIGINT/SIGTERM/SIGHUP): WebSocket clients are told and closed, the
 * rooms end their sessions, the workers and the catalog are joined.
 *
 * Subcommands: `tribud token ...` prints a signed token.
 */
#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "library.h"
#include "media.h"
#include "recorder.h"
#include "rooms.h"
#include "signaling.h"
#include "cmd.h"
#include "tb-build-config.h"

#define CAT "main"

typedef struct server_opts {
	char *config_file;
	char *data_dir;
	char *listen;
	char *log_level;
	gboolean dev;
	gboolean version;
} server_opts;

/* Loads the configuration: embedded defaults, then the file, then the
 * command line. Returns NULL with ERROR. */
static tb_config *load_config(const char *config_file, const char *data_dir, const char *listen,
			      const char *log_level, gboolean dev, GError **error)
{
	tb_config *config = tb_config_new();

	if (config_file && !tb_config_load_file(config, config_file, error))
		goto fail;
	if (data_dir) {
		g_free(config->data_dir);
		config->data_dir = g_strdup(data_dir);
	}
	if (listen && !tb_config_set_listen(config, listen, error))
		goto fail;
	if (log_level) {
		g_free(config->log_level);
		config->log_level = g_strdup(log_level);
	}
	if (dev)
		config->dev = true;
	if (!tb_config_validate(config, error))
		goto fail;
	/* Everything below the data dir is addressed from other threads and
	 * libraries (recordings): make it absolute once, here. */
	if (!g_path_is_absolute(config->data_dir)) {
		char *cwd = g_get_current_dir();
		char *abs = g_canonicalize_filename(config->data_dir, cwd);
		g_free(config->data_dir);
		config->data_dir = abs;
		g_free(cwd);
	}
	return config;
fail:
	tb_config_free(config);
	return NULL;
}

/* ---- tribud token ---- */

static int cmd_token(int argc, char **argv)
{
	char *user = NULL, *name = NULL, *role = NULL, *room = NULL, *kind = NULL;
	char *ttl = NULL, *ends = NULL, *config_file = NULL, *data_dir = NULL;
	GOptionEntry entries[] = {
		{"user", 0, 0, G_OPTION_ARG_STRING, &user, "User id (required)", "U"},
		{"name", 0, 0, G_OPTION_ARG_STRING, &name, "Display name", "NAME"},
		{"role", 0, 0, G_OPTION_ARG_STRING, &role,
		 "mentor, student, curator or admin (required)", "ROLE"},
		{"room", 0, 0, G_OPTION_ARG_STRING, &room, "Room id, or * for any (required)",
		 "ROOM"},
		{"kind", 0, 0, G_OPTION_ARG_STRING, &kind,
		 "coaching or workshop: the kind of room a join creates", "KIND"},
		{"ttl", 0, 0, G_OPTION_ARG_STRING, &ttl, "Lifetime, e.g. 90m, 2h (default 2h)",
		 "DURATION"},
		{"ends", 0, 0, G_OPTION_ARG_STRING, &ends,
		 "End of the booked slot: Unix seconds, or +DURATION from now", "TIME"},
		{"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file",
		 "FILE"},
		{"data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Data directory", "DIR"},
		{NULL},
	};
	GOptionContext *ctx = g_option_context_new("- print a signed access token");
	GError *error = NULL;
	tb_config *config = NULL;
	tb_token_claims claims = {0};
	char *secret = NULL, *token = NULL;
	int64_t now = g_get_real_time() / G_USEC_PER_SEC, lifetime;
	int status = 2;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error))
		goto fail;
	if (!user || !role || !room) {
		g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
			    "--user, --role and --room are required");
		goto fail;
	}
	claims.sub = user;
	claims.name = name ? name : user;
	claims.role = tb_role_from_string(role);
	claims.room = room;
	claims.kind = kind;
	if (claims.role == TB_ROLE_NONE) {
		g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "--role must be mentor, student, curator or admin");
		goto fail;
	}
	if (strcmp(room, "*") != 0 && !tb_room_id_valid(room)) {
		g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "--room must be * or 1 to 64 of A-Z a-z 0-9 _ -");
		goto fail;
	}
	if (kind && strcmp(kind, "coaching") != 0 && strcmp(kind, "workshop") != 0) {
		g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "--kind must be coaching or workshop");
		goto fail;
	}
	lifetime = tb_parse_duration_s(ttl ? ttl : "2h");
	if (lifetime <= 0) {
		g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
			    "--ttl must be a duration like 90s, 30m, 2h or 1d");
		goto fail;
	}
	claims.exp = now + lifetime;
	if (ends) {
		int64_t v = ends[0] == '+' ? tb_parse_duration_s(ends + 1)
					   : g_ascii_strtoll(ends, NULL, 10);
		if (v <= 0) {
			g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
				    "--ends must be Unix seconds or +DURATION");
			goto fail;
		}
		claims.ends = ends[0] == '+' ? now + v : v;
	}
	config = load_config(config_file, data_dir, NULL, NULL, FALSE, &error);
	if (!config)
		goto fail;
	secret = tb_config_load_secret(config, &error);
	if (!secret)
		goto fail;
	token = tb_token_sign(&claims, secret);
	if (!token) {
		g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "could not sign");
		goto fail;
	}
	printf("%s\n", token);
	status = 0;
	goto out;
fail:
	fprintf(stderr, "tribud token: %s\n", error ? error->message : "failed");
out:
	g_clear_error(&error);
	if (secret)
		memset(secret, 0, strlen(secret));
	g_free(secret);
	g_free(token);
	tb_config_free(config);
	g_option_context_free(ctx);
	g_free(user);
	g_free(name);
	g_free(role);
	g_free(room);
	g_free(kind);
	g_free(ttl);
	g_free(ends);
	g_free(config_file);
	g_free(data_dir);
	return status;
}

/* ---- tribud recordings ---- */

static int cmd_recordings_main(int argc, char **argv)
{
	char *config_file = NULL, *data_dir = NULL;
	GOptionEntry entries[] = {
		{"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_file, "Configuration file",
		 "FILE"},
		{"data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir, "Data directory", "DIR"},
		{NULL},
	};
	GOptionContext *ctx = g_option_context_new(
		"list | show ID | verify - the recordings in the catalog and on disk");
	GError *error = NULL;
	tb_config *config = NULL;
	int status = 2;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error))
		goto fail;
	config = load_config(config_file, data_dir, NULL, NULL, FALSE, &error);
	if (!config)
		goto fail;
	status = tb_cmd_recordings(argc, argv, config);
	goto out;
fail:
	fprintf(stderr, "tribud recordings: %s\n", error ? error->message : "failed");
out:
	g_clear_error(&error);
	tb_config_free(config);
	g_option_context_free(ctx);
	g_free(config_file);
	g_free(data_dir);
	return status;
}

/* ---- the server ---- */

typedef struct server {
	tb_config *config;
	char *secret;
	tb_catalog *catalog;
	tb_library *library;
	tb_worker **workers;
	unsigned n_workers;
	tb_rooms *rooms;
	tb_signaling *signaling;
	tb_rooms_media media;
	char **media_addresses;
	GMainLoop *loop;
	guint sigint, sigterm, sighup;
	bool stopping;
	int64_t stop_started_us;
} server;

/* Recordings finish on the main loop (their files are finalised off it):
 * wait for them, at most a little longer than a recording's own stop
 * timeout, before the loop ends. */
static gboolean recordings_done(gpointer data)
{
	server *s = data;

	if (tb_rooms_recordings_active() > 0 &&
	    g_get_monotonic_time() - s->stop_started_us <
		    (int64_t)(TB_RECORDING_STOP_TIMEOUT_S + 5) * G_USEC_PER_SEC)
		return G_SOURCE_CONTINUE;
	if (tb_rooms_recordings_active() > 0)
		TB_WARN(CAT, "%u recording(s) did not finish in time",
			tb_rooms_recordings_active());
	g_main_loop_quit(s->loop);
	return G_SOURCE_REMOVE;
}

static gboolean stopped(gpointer data)
{
	server *s = data;

	g_timeout_add(50, recordings_done, s);
	return G_SOURCE_REMOVE;
}

/* Files a crash left in 'recording': repair them and complete their rows
 * ('truncated' with the real duration, or 'failed'). Blocking, at start-up,
 * before anything is served. */
static void repair_recordings(tb_catalog *catalog, const char *data_dir)
{
	GPtrArray *rows = tb_catalog_recordings_in_progress(catalog);

	for (guint i = 0; rows && i < rows->len; i++) {
		const tb_catalog_recording *row = rows->pdata[i];
		char *path = g_build_filename(data_dir, row->path, NULL);
		tb_recording_result result = {0};
		GError *error = NULL;
		int64_t now_ms = g_get_real_time() / 1000;

		if (tb_recording_repair(path, &result, &error)) {
			TB_INFO(CAT, "repaired %s: %" G_GINT64_FORMAT " ms", row->path,
				result.duration_ms);
			tb_catalog_recording_end(catalog, row->path, "truncated", now_ms,
						 result.duration_ms, result.bytes, result.width,
						 result.height, -1,
						 "tribud stopped while recording");
		} else {
			TB_WARN(CAT, "cannot repair %s: %s", row->path,
				error ? error->message : "?");
			tb_catalog_recording_end(catalog, row->path, "failed", now_ms, 0, 0, 0, 0,
						 -1, error ? error->message : "repair failed");
		}
		g_clear_error(&error);
		g_free(path);
	}
	if (rows)
		g_ptr_array_free(rows, TRUE);
}

static gboolean on_signal(gpointer data)
{
	server *s = data;

	if (s->stopping) {
		TB_WARN(CAT, "second signal: stopping now");
		g_main_loop_quit(s->loop);
		return G_SOURCE_CONTINUE;
	}
	s->stopping = true;
	s->stop_started_us = g_get_monotonic_time();
	TB_INFO(CAT, "stopping");
	/* Rooms first: participants are told, sessions and attendance close. */
	tb_rooms_close(s->rooms);
	tb_signaling_shutdown(s->signaling, stopped, s);
	return G_SOURCE_CONTINUE;
}

static int make_dir(const char *path, GError **error)
{
	if (g_mkdir_with_parents(path, 0750) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "cannot create %s: %s", path, g_strerror(errno));
		return -1;
	}
	return 0;
}

static int run_server(tb_config *config)
{
	server s = {.config = config};
	GError *error = NULL;
	char *db_path = NULL, *recordings = NULL;
	int status = 1;
	unsigned n_workers;
	tb_rooms_config rooms_config;
	tb_signaling_deps deps = {0};

	if (make_dir(config->data_dir, &error) < 0)
		goto fail;
	recordings = g_build_filename(config->data_dir, "recordings", NULL);
	if (make_dir(recordings, &error) < 0)
		goto fail;
	s.secret = tb_config_load_secret(config, &error);
	if (!s.secret)
		goto fail;
	db_path = g_build_filename(config->data_dir, "tribu.db", NULL);
	s.catalog = tb_catalog_open(db_path, &error);
	if (!s.catalog)
		goto fail;
	if (!tb_recorder_init(&error))
		goto fail;
	repair_recordings(s.catalog, config->data_dir);
	/* The library API's own connection and thread (after the catalog's
	 * migrations); its answers land on the main loop. */
	s.library = tb_library_open(db_path, config->data_dir, NULL, &error);
	if (!s.library)
		goto fail;

	n_workers = config->workers > 0 ? (unsigned)config->workers : g_get_num_processors();
	s.workers = g_new0(tb_worker *, n_workers);
	for (unsigned i = 0; i < n_workers; i++) {
		char name[16];
		g_snprintf(name, sizeof(name), "media-%u", i);
		s.workers[i] = tb_worker_new(name);
	}
	s.n_workers = n_workers;

	rooms_config.coaching_capacity = config->coaching_capacity;
	rooms_config.workshop_capacity = config->workshop_capacity;
	rooms_config.last_n = config->last_n;
	rooms_config.max_rooms = config->max_rooms;
	rooms_config.slot_warning_s = config->slot_warning_s;

	/* Media: one DTLS certificate for the process, ICE settings. */
	if (tb_srtp_global_init() < 0) {
		g_set_error(&error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "cannot initialise SRTP");
		goto fail;
	}
	s.media.identity = tb_dtls_identity_new();
	if (!s.media.identity) {
		g_set_error(&error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
			    "cannot make the DTLS certificate");
		goto fail;
	}
	if (config->media_addresses) {
		s.media_addresses = g_strsplit(config->media_addresses, ",", -1);
		for (char **a = s.media_addresses; *a; a++)
			g_strstrip(*a);
		s.media.ice.local_addresses = (const char *const *)s.media_addresses;
	}
	s.media.ice.public_address = config->media_public_address;
	s.media.ice.port_min = (uint16_t)config->media_port_min;
	s.media.ice.port_max = (uint16_t)config->media_port_max;
	s.media.record = config->record;
	s.media.data_dir = config->data_dir;
	s.media.catalog = s.catalog;
	s.rooms = tb_rooms_new(&rooms_config, s.workers, n_workers, s.catalog, NULL, &s.media);

	for (const char *const *f = (const char *const[]){config->tls_cert, config->tls_key, NULL};
	     *f; f++) {
		if (access(*f, R_OK) != 0) {
			g_set_error(&error, G_FILE_ERROR, g_file_error_from_errno(errno),
				    "TLS file %s: %s", *f, g_strerror(errno));
			goto fail;
		}
	}
	if (s.media_addresses) {
		for (char **a = s.media_addresses; *a; a++) {
			GInetAddress *ip = g_inet_address_new_from_string(*a);
			if (!ip) {
				g_set_error(&error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
					    "media.addresses: \"%s\" is not a numeric IP address",
					    *a);
				goto fail;
			}
			g_object_unref(ip);
		}
	}
	s.loop = g_main_loop_new(NULL, FALSE);
	deps.config = config;
	deps.secret = s.secret;
	deps.rooms = s.rooms;
	deps.catalog = s.catalog;
	deps.library = s.library;
	deps.loop = s.loop;
	s.signaling = tb_signaling_new(&deps, &error);
	if (!s.signaling)
		goto fail;

	s.sigint = g_unix_signal_add(SIGINT, on_signal, &s);
	s.sigterm = g_unix_signal_add(SIGTERM, on_signal, &s);
	/* The terminal went away: stop cleanly too (there is no reload). */
	s.sighup = g_unix_signal_add(SIGHUP, on_signal, &s);
	printf("Tribu %s listening on %s://%s:%d/\n", TB_VERSION, tb_signaling_scheme(s.signaling),
	       strchr(config->listen_host, ':') ? "[::1]" : config->listen_host,
	       tb_signaling_port(s.signaling));
	fflush(stdout);
	TB_INFO(CAT, "data in %s, web client from %s, %u media worker(s)%s", config->data_dir,
		config->web_dir, n_workers, config->dev ? ", development mode" : "");

	g_main_loop_run(s.loop);
	status = 0;
	TB_INFO(CAT, "stopped");
	goto out;
fail:
	TB_ERROR(CAT, "%s", error ? error->message : "start-up failed");
out:
	g_clear_error(&error);
	if (s.sigint)
		g_source_remove(s.sigint);
	if (s.sigterm)
		g_source_remove(s.sigterm);
	if (s.sighup)
		g_source_remove(s.sighup);
	tb_signaling_free(s.signaling);
	tb_rooms_free(s.rooms);
	/* Workers run their pending tasks (routers freed) before they stop;
	 * then replies they posted to the main context are dropped. */
	for (unsigned i = 0; i < s.n_workers; i++)
		tb_worker_free(s.workers[i]);
	g_free(s.workers);
	/* Its last answers are posted to the main context, where the drain
	 * below frees them (their HTTP requests are gone). */
	tb_library_close(s.library);
	/* Only after a run: when lws fails to start on the GLib loop it leaves
	 * sources behind on the default context that must never dispatch. */
	if (status == 0)
		while (g_main_context_iteration(NULL, FALSE))
			;
	if (s.media.identity)
		tb_dtls_identity_unref(s.media.identity);
	g_strfreev(s.media_addresses);
	tb_catalog_close(s.catalog);
	if (s.loop)
		g_main_loop_unref(s.loop);
	if (s.secret)
		memset(s.secret, 0, strlen(s.secret));
	g_free(s.secret);
	g_free(db_path);
	g_free(recordings);
	return status;
}

int main(int argc, char **argv)
{
	server_opts o = {0};
	GOptionEntry entries[] = {
		{"config", 'c', 0, G_OPTION_ARG_FILENAME, &o.config_file,
		 "Configuration file (INI; see tribud.conf.example)", "FILE"},
		{"data-dir", 'd', 0, G_OPTION_ARG_FILENAME, &o.data_dir,
		 "Where the catalog (tribu.db) and recordings live (default ./data)", "DIR"},
		{"listen", 'l', 0, G_OPTION_ARG_STRING, &o.listen,
		 "Address and port to serve on (default 127.0.0.1:8080; port 0 picks one)",
		 "ADDR:PORT"},
		{"log-level", 0, 0, G_OPTION_ARG_STRING, &o.log_level,
		 "error, warn, info, debug or trace; or CATEGORY:LEVEL,... (default info)", "SPEC"},
		{"dev", 0, 0, G_OPTION_ARG_NONE, &o.dev, "Development mode (demo tokens)", NULL},
		{"version", 'V', 0, G_OPTION_ARG_NONE, &o.version, "Print the version and exit",
		 NULL},
		{NULL},
	};
	GOptionContext *ctx;
	GError *error = NULL;
	tb_config *config = NULL;
	int status = 2;
	const char *env_log;

	if (argc > 1 && strcmp(argv[1], "token") == 0)
		return cmd_token(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "recordings") == 0)
		return cmd_recordings_main(argc - 1, argv + 1);

	ctx = g_option_context_new("- Tribu media server");
	g_option_context_set_summary(
		ctx, "Serves coaching calls, workshops and the recordings library.\n\n"
		     "Commands:\n"
		     "  tribud [OPTION...]          run the server\n"
		     "  tribud token --help         print a signed access token\n"
		     "  tribud recordings list|show ID|verify   the recordings");
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
		fprintf(stderr, "tribud: %s (see --help)\n", error->message);
		goto out;
	}
	if (argc > 1) {
		fprintf(stderr, "tribud: unexpected argument '%s' (see --help)\n", argv[1]);
		goto out;
	}
	if (o.version) {
		printf("tribud %s\n", TB_VERSION);
		status = 0;
		goto out;
	}
	config = load_config(o.config_file, o.data_dir, o.listen, o.log_level, o.dev, &error);
	if (!config) {
		fprintf(stderr, "tribud: %s\n", error->message);
		goto out;
	}
	/* TRIBU_DEBUG=category:level,... refines the configured level. */
	env_log = g_getenv("TRIBU_DEBUG");
	if (tb_log_set_spec(config->log_level) < 0) {
		fprintf(stderr, "tribud: bad log level '%s'\n", config->log_level);
		goto out;
	}
	if (env_log && *env_log) {
		char *spec = g_strconcat(config->log_level, ",", env_log, NULL);
		if (tb_log_set_spec(spec) < 0)
			fprintf(stderr, "tribud: ignoring bad TRIBU_DEBUG '%s'\n", env_log);
		g_free(spec);
	}
	status = run_server(config);
out:
	g_clear_error(&error);
	tb_config_free(config);
	g_option_context_free(ctx);
	g_free(o.config_file);
	g_free(o.data_dir);
	g_free(o.listen);
	g_free(o.log_level);
	return status;
}
