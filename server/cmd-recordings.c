/* cmd-recordings.c — `tribud recordings list | show ID | verify`.
 *
 * Reads the catalog with its own read-only SQLite connection (the server
 * may be running: WAL lets readers in) and checks the files on disk: each
 * exists, has the size the catalog says, and parses (GstDiscoverer gives a
 * duration). Main thread of a short-lived process.
 */
#include <gst/pbutils/pbutils.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd.h"
#include "common.h"

#define COLUMNS                                                                                    \
	"id, path, session_id, participant_id, user, role, kinds, codecs, width, height, "         \
	"started_ms, ended_ms, offset_ms, duration_ms, bytes, state, error"

static const char *text(sqlite3_stmt *st, int col)
{
	const unsigned char *v = sqlite3_column_text(st, col);

	return v ? (const char *)v : "";
}

static void print_row(sqlite3_stmt *st, bool full)
{
	if (!full) {
		printf("%-6lld %-10s %8lld ms %10lld B  %s\n", sqlite3_column_int64(st, 0),
		       text(st, 15), sqlite3_column_int64(st, 13), sqlite3_column_int64(st, 14),
		       text(st, 1));
		return;
	}
	printf("id:             %lld\n", sqlite3_column_int64(st, 0));
	printf("path:           %s\n", text(st, 1));
	printf("session:        %s\n", text(st, 2));
	printf("participant:    %s (%s, %s)\n", text(st, 3), text(st, 4), text(st, 5));
	printf("tracks:         %s (%s)\n", text(st, 6), text(st, 7));
	printf("resolution:     %lldx%lld\n", sqlite3_column_int64(st, 8),
	       sqlite3_column_int64(st, 9));
	printf("started_ms:     %lld\n", sqlite3_column_int64(st, 10));
	printf("ended_ms:       %lld\n", sqlite3_column_int64(st, 11));
	printf("offset_ms:      %lld\n", sqlite3_column_int64(st, 12));
	printf("duration_ms:    %lld\n", sqlite3_column_int64(st, 13));
	printf("bytes:          %lld\n", sqlite3_column_int64(st, 14));
	printf("state:          %s\n", text(st, 15));
	if (*text(st, 16))
		printf("error:          %s\n", text(st, 16));
}

/* Checks one file: exists, size, parses. Returns true when all hold. */
static bool verify_file(GstDiscoverer *disc, const char *data_dir, sqlite3_stmt *st)
{
	const char *rel = text(st, 1), *state = text(st, 15);
	char *path = g_build_filename(data_dir, rel, NULL), *uri = NULL;
	struct stat sb;
	GstDiscovererInfo *info = NULL;
	GError *error = NULL;
	bool ok = false;

	if (strcmp(state, "failed") == 0 || strcmp(state, "recording") == 0) {
		printf("skip   %s (%s)\n", rel, state);
		ok = true;
		goto out;
	}
	if (stat(path, &sb) != 0) {
		printf("FAIL   %s: missing\n", rel);
		goto out;
	}
	if (sb.st_size != sqlite3_column_int64(st, 14)) {
		printf("FAIL   %s: %lld bytes on disk, %lld in the catalog\n", rel,
		       (long long)sb.st_size, sqlite3_column_int64(st, 14));
		goto out;
	}
	uri = gst_filename_to_uri(path, NULL);
	info = uri ? gst_discoverer_discover_uri(disc, uri, &error) : NULL;
	if (!info || gst_discoverer_info_get_result(info) != GST_DISCOVERER_OK) {
		printf("FAIL   %s: does not parse (%s)\n", rel, error ? error->message : "?");
		goto out;
	}
	printf("ok     %s: %" G_GUINT64_FORMAT " ms\n", rel,
	       gst_discoverer_info_get_duration(info) / GST_MSECOND);
	ok = true;
out:
	if (info)
		g_object_unref(info);
	g_clear_error(&error);
	g_free(uri);
	g_free(path);
	return ok;
}

int tb_cmd_recordings(int argc, char **argv, const tb_config *config)
{
	char *db_path = g_build_filename(config->data_dir, "tribu.db", NULL);
	const char *what = argc > 1 ? argv[1] : "list";
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	GstDiscoverer *disc = NULL;
	int status = 2, rc, failures = 0, n = 0;

	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fprintf(stderr, "tribud recordings: cannot open %s: %s\n", db_path,
			db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	if (strcmp(what, "list") == 0 || strcmp(what, "verify") == 0) {
		rc = sqlite3_prepare_v2(db, "SELECT " COLUMNS " FROM recordings ORDER BY id", -1,
					&st, NULL);
	} else if (strcmp(what, "show") == 0 && argc > 2) {
		rc = sqlite3_prepare_v2(db, "SELECT " COLUMNS " FROM recordings WHERE id = ?", -1,
					&st, NULL);
		if (rc == SQLITE_OK)
			sqlite3_bind_int64(st, 1, g_ascii_strtoll(argv[2], NULL, 10));
	} else {
		fprintf(stderr, "usage: tribud recordings list | show ID | verify "
				"[--data-dir DIR | --config FILE]\n");
		goto out;
	}
	if (rc != SQLITE_OK) {
		fprintf(stderr, "tribud recordings: %s (has tribud run with this data dir?)\n",
			sqlite3_errmsg(db));
		goto out;
	}
	if (strcmp(what, "verify") == 0) {
		gst_init(NULL, NULL);
		disc = gst_discoverer_new(10 * GST_SECOND, NULL);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		if (disc)
			failures += !verify_file(disc, config->data_dir, st);
		else
			print_row(st, strcmp(what, "show") == 0);
	}
	if (rc != SQLITE_DONE) {
		fprintf(stderr, "tribud recordings: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	if (strcmp(what, "show") == 0 && n == 0) {
		fprintf(stderr, "tribud recordings: no recording %s\n", argv[2]);
		status = 1;
		goto out;
	}
	if (disc)
		printf("%d recording(s), %d failed verification\n", n, failures);
	status = failures ? 1 : 0;
out:
	if (disc)
		g_object_unref(disc);
	sqlite3_finalize(st);
	sqlite3_close(db);
	g_free(db_path);
	return status;
}
