/* room-recording.c — every participant's published media to a file.
 *
 * Worker side: the router's media tap hands each forwarded publisher packet
 * here; the first packets of a participant open its file (after a short
 * wait, so that audio and video that start together share one file), a
 * track that starts later joins the file or, once the file's header is
 * written, opens the participant's next file. Pushing a packet copies it
 * into the recording's queue and never blocks.
 *
 * Main side: the recorder calls back on the main context: keyframe
 * requests go back to the worker by task; a finished file completes its
 * catalog row.
 *
 * Files: <data>/recordings/<yyyy>/<mm>/<session-id>/<participant-id>-<n>.webm
 * (.mkv when a track is H.264); no part of a path comes from user input.
 */
#include <string.h>

#include "rooms-private.h"
#include "rtp.h"

#define CAT              "rec"
#define START_DELAY_US   (500 * 1000)
#define RETRY_MIN_US     (10 * G_USEC_PER_SEC) /* after a file failed (disk full, ...) */
#define RETRY_MAX_US     (300 * G_USEC_PER_SEC)
#define MAX_RTP_HEADER   1500

/* An Opus packet of 20 ms of silence (CELT-only fullband 20 ms, mono, one
 * frame): what a muted microphone's packets become in the file, so that the
 * audio track keeps time without the muted content. */
static const uint8_t opus_silence[] = {0xf8, 0xff, 0xfe};

static gint active_recordings; /* files not finished yet (atomic) */

unsigned tb_rooms_recordings_active(void)
{
	return (unsigned)g_atomic_int_get(&active_recordings);
}

/* One participant's recording state, on the worker. */
struct tb__precord {
	tb__room_media *rm;
	char *participant_id;
	char *user;
	char *role;
	tb_recording *rec; /* the current file, or NULL */
	unsigned file_no;  /* n of the current or next file */
	size_t n_tracks;   /* tracks seen (in file order) */
	size_t in_file;    /* tracks [0, in_file) are in the current file */
	char track_ids[TB_RECORDING_MAX_TRACKS][TB_SDP_MAX_ID_LEN + 2];
	tb_recording_track tracks[TB_RECORDING_MAX_TRACKS];
	char codecs[TB_RECORDING_MAX_TRACKS][8];
	int64_t first_us;    /* arrival of the first packet waiting for a file */
	int64_t retry_at_us; /* a file failed: no new file before this */
	int64_t retry_us;    /* the wait after the next failure */
	bool failed;         /* could not open a file: stop trying */
};

/* What the recorder's callbacks need on the main thread. */
typedef struct rec_ctx {
	tb__rooms_handle *handle;
	tb_catalog *catalog;
	char *room_id;
	char *session_id;
	char *participant_id;
	char *relpath;
	int64_t session_started_ms; /* wall time */
	char track_ids[TB_RECORDING_MAX_TRACKS][TB_SDP_MAX_ID_LEN + 2];
	size_t n_tracks;
} rec_ctx;

tb__precord *tb__precord_new(tb__room_media *rm, const char *participant_id, const char *user,
			     const char *role)
{
	tb__precord *pr = g_new0(tb__precord, 1);

	pr->rm = rm;
	pr->participant_id = g_strdup(participant_id);
	pr->user = g_strdup(user);
	pr->role = g_strdup(role);
	return pr;
}

/* Closes the current file (if any) and numbers the next one; the track
 * list stays. */
static void close_file(tb__precord *pr)
{
	if (!pr->rec)
		return;
	tb_recording_stop(pr->rec);
	tb_recording_unref(pr->rec);
	pr->rec = NULL;
	pr->in_file = 0;
	pr->file_no++;
}

/* Closes the current file and forgets its tracks; the next packet of any
 * track opens the next file. */
void tb__precord_stop(tb__precord *pr)
{
	close_file(pr);
	pr->n_tracks = 0;
	pr->first_us = 0;
}

void tb__precord_free(tb__precord *pr)
{
	if (!pr)
		return;
	tb__precord_stop(pr);
	g_free(pr->participant_id);
	g_free(pr->user);
	g_free(pr->role);
	g_free(pr);
}

/* ---- main thread: the recorder's callbacks ---- */

typedef struct keyframe_task {
	tb__room_media *rm;
	char *participant_id;
	char *track_id;
} keyframe_task;

static void keyframe_task_free(keyframe_task *k)
{
	g_free(k->participant_id);
	g_free(k->track_id);
	g_free(k);
}

static gboolean keyframe_run(gpointer data)
{
	keyframe_task *k = data;
	tb_router_peer *peer =
		k->rm->router ? tb_router_find_peer(k->rm->router, k->participant_id) : NULL;

	if (peer)
		tb_router_request_keyframe(peer, k->track_id);
	return G_SOURCE_REMOVE;
}

static void on_need_keyframe(void *user_data, size_t track_index)
{
	rec_ctx *ctx = user_data;
	tb_rooms *rooms = ctx->handle->rooms;
	tb_room *room = rooms ? tb_rooms_lookup(rooms, ctx->room_id) : NULL;
	keyframe_task *k;

	if (!room || !room->rm || strcmp(room->session_id, ctx->session_id) != 0 ||
	    track_index >= ctx->n_tracks)
		return;
	k = g_new0(keyframe_task, 1);
	k->rm = room->rm;
	k->participant_id = g_strdup(ctx->participant_id);
	k->track_id = g_strdup(ctx->track_ids[track_index]);
	/* Posted after any router free of this room: rm is still alive then,
	 * since tasks run in order and ROUTER_FREE frees rm last. */
	tb_worker_post(room->rm->worker, keyframe_run, k, (GDestroyNotify)keyframe_task_free);
}

static void on_finished(void *user_data, const tb_recording_result *r)
{
	rec_ctx *ctx = user_data;
	int64_t offset_ms = -1;

	/* The file's t=0 is its first media's arrival, not when the file was
	 * opened: line participants up by that. */
	if (r->start_mono_us > 0) {
		int64_t t0_wall_ms =
			(g_get_real_time() - (g_get_monotonic_time() - r->start_mono_us)) / 1000;
		offset_ms = MAX(t0_wall_ms - ctx->session_started_ms, 0);
	}

	TB_INFO(CAT, "[%s/%s] %s %s: %" G_GINT64_FORMAT " ms, %" G_GINT64_FORMAT " bytes%s%s",
		ctx->room_id, ctx->participant_id, ctx->relpath,
		tb_recording_state_to_string(r->state), r->duration_ms, r->bytes,
		r->error ? ": " : "", r->error ? r->error : "");
	if (ctx->catalog)
		tb_catalog_recording_end(ctx->catalog, ctx->relpath,
					 tb_recording_state_to_string(r->state),
					 g_get_real_time() / 1000, r->duration_ms, r->bytes,
					 r->width, r->height, offset_ms, r->error);
	tb__rooms_handle_unref(ctx->handle);
	g_free(ctx->room_id);
	g_free(ctx->session_id);
	g_free(ctx->participant_id);
	g_free(ctx->relpath);
	g_free(ctx);
	g_atomic_int_dec_and_test(&active_recordings);
}

/* ---- worker: files ---- */

static bool start_file(tb__precord *pr)
{
	tb__room_media *rm = pr->rm;
	const tb_rooms_media *media = rm->media;
	GDateTime *dt = g_date_time_new_now_utc();
	bool h264 = false;
	char *dir, *relpath, *abspath, name[96];
	GString *kinds = g_string_new(NULL), *codecs = g_string_new(NULL);
	tb_recording_callbacks cb = {0};
	rec_ctx *ctx;
	GError *error = NULL;
	int64_t now_ms = g_get_real_time() / 1000;
	int64_t session_started_ms = tb__room_media_session_started_ms(rm);

	for (size_t i = 0; i < pr->n_tracks; i++) {
		h264 |= g_ascii_strcasecmp(pr->codecs[i], "H264") == 0;
		g_string_append_printf(kinds, "%s%s", i ? "," : "",
				       pr->tracks[i].kind == TB_RECORDING_AUDIO ? "audio"
										: "video");
		g_string_append_printf(codecs, "%s%s", i ? "," : "", pr->codecs[i]);
	}
	g_snprintf(name, sizeof(name), "%s-%u.%s", pr->participant_id, pr->file_no,
		   h264 ? "mkv" : "webm");
	dir = g_date_time_format(dt, "recordings/%Y/%m");
	relpath = g_build_filename(dir, rm->session_id, name, NULL);
	abspath = g_build_filename(media->data_dir, relpath, NULL);

	ctx = g_new0(rec_ctx, 1);
	ctx->handle = rm->handle;
	g_atomic_int_inc(&ctx->handle->ref);
	ctx->catalog = media->catalog;
	ctx->room_id = g_strdup(rm->room_id);
	ctx->session_id = g_strdup(rm->session_id);
	ctx->participant_id = g_strdup(pr->participant_id);
	ctx->relpath = g_strdup(relpath);
	ctx->session_started_ms = session_started_ms;
	ctx->n_tracks = pr->n_tracks;
	memcpy(ctx->track_ids, pr->track_ids, sizeof(ctx->track_ids));

	cb.context = g_main_context_default();
	cb.need_keyframe = on_need_keyframe;
	cb.finished = on_finished;
	/* The row first: the recorder may fail (and end the row) on the main
	 * thread before this worker gets back, and catalog writes run in order. */
	if (media->catalog)
		tb_catalog_recording_begin(media->catalog, relpath, rm->session_id,
					   pr->participant_id, pr->user, pr->role, kinds->str,
					   codecs->str, now_ms, MAX(now_ms - session_started_ms, 0));
	g_atomic_int_inc(&active_recordings);
	pr->rec = tb_recording_new(abspath, pr->tracks, pr->n_tracks, &cb, ctx, &error);
	if (!pr->rec) {
		if (media->catalog)
			tb_catalog_recording_end(media->catalog, relpath, "failed", now_ms, 0, 0, 0,
						 0, -1, error ? error->message : "cannot record");
		TB_WARN(CAT, "[%s/%s] cannot record: %s", rm->room_id, pr->participant_id,
			error ? error->message : "?");
		g_clear_error(&error);
		pr->failed = true;
		/* finished() will not run: undo what it would have. */
		tb__rooms_handle_unref(ctx->handle);
		g_free(ctx->room_id);
		g_free(ctx->session_id);
		g_free(ctx->participant_id);
		g_free(ctx->relpath);
		g_free(ctx);
		g_atomic_int_dec_and_test(&active_recordings);
	} else {
		pr->in_file = pr->n_tracks;
		TB_INFO(CAT, "[%s/%s] recording %s (%s)", rm->room_id, pr->participant_id, relpath,
			codecs->str);
	}
	g_string_free(kinds, TRUE);
	g_string_free(codecs, TRUE);
	g_free(dir);
	g_free(relpath);
	g_free(abspath);
	g_date_time_unref(dt);
	return pr->rec != NULL;
}

static int find_track(const tb__precord *pr, const char *track_id)
{
	for (size_t i = 0; i < pr->n_tracks; i++)
		if (strcmp(pr->track_ids[i], track_id) == 0)
			return (int)i;
	return -1;
}

/* Writes into OUT (OUT_SIZE bytes) the RTP packet BUF with its payload
 * replaced by Opus silence; returns its length, or 0 if BUF is no RTP. */
static size_t silence_packet(const uint8_t *buf, size_t len, uint8_t *out, size_t out_size)
{
	tb_rtp_header hdr;

	if (tb_rtp_parse(buf, len, &hdr) != 0 ||
	    hdr.payload_offset + sizeof(opus_silence) > out_size)
		return 0;
	memcpy(out, buf, hdr.payload_offset);
	out[0] &= (uint8_t)~0x20; /* no padding */
	memcpy(out + hdr.payload_offset, opus_silence, sizeof(opus_silence));
	return hdr.payload_offset + sizeof(opus_silence);
}

/* A file ended on its own (an I/O error, already in the catalog): try a
 * new one later, waiting longer after each failure. */
static void file_failed(tb__precord *pr, int64_t now)
{
	close_file(pr);
	pr->retry_us = pr->retry_us ? MIN(pr->retry_us * 2, RETRY_MAX_US) : RETRY_MIN_US;
	pr->retry_at_us = now + pr->retry_us;
	TB_INFO(CAT, "[%s/%s] recording stopped; next attempt in %" G_GINT64_FORMAT " s",
		pr->rm->room_id, pr->participant_id, pr->retry_us / G_USEC_PER_SEC);
}

void tb__precord_packet(tb__precord *pr, const tb_router_track_codec *track, const uint8_t *buf,
			size_t len)
{
	uint8_t silence[MAX_RTP_HEADER];
	int64_t now = g_get_monotonic_time();
	int idx, rc;

	if (pr->failed || !track->codec)
		return;
	if (track->muted) {
		/* Muted content is not recorded. A muted microphone becomes
		 * silence (the audio keeps time); a muted camera sends nothing,
		 * and the recorder ends its track if that lasts. */
		if (track->kind != TB_SDP_KIND_AUDIO || g_ascii_strcasecmp(track->codec, "opus") != 0)
			return;
		len = silence_packet(buf, len, silence, sizeof(silence));
		if (len == 0)
			return;
		buf = silence;
	}
	if (pr->retry_at_us) {
		if (now < pr->retry_at_us)
			return;
		pr->retry_at_us = 0;
	}
	idx = find_track(pr, track->track_id);
	if (idx < 0) {
		tb_recording_track *t;
		if (pr->n_tracks >= TB_RECORDING_MAX_TRACKS)
			return;
		idx = (int)pr->n_tracks++;
		g_strlcpy(pr->track_ids[idx], track->track_id, sizeof(pr->track_ids[idx]));
		g_strlcpy(pr->codecs[idx], track->codec, sizeof(pr->codecs[idx]));
		t = &pr->tracks[idx];
		t->kind =
			track->kind == TB_SDP_KIND_AUDIO ? TB_RECORDING_AUDIO : TB_RECORDING_VIDEO;
		t->codec = pr->codecs[idx];
		t->clock_rate = (int)track->clock_rate;
		t->payload_type = track->payload_type;
		if (!pr->first_us)
			pr->first_us = now;
		if (pr->rec) {
			int added = tb_recording_add_track(pr->rec, t);
			if (added >= 0) {
				pr->in_file = pr->n_tracks;
			} else {
				/* The file's header is written: go on in the next
				 * file, with every track. */
				close_file(pr);
				if (!start_file(pr))
					return;
			}
		}
	}
	if (!pr->rec) {
		/* Audio and video of one participant start within moments of
		 * each other: wait a little so that both are in the file. */
		if (now - pr->first_us < START_DELAY_US || !start_file(pr))
			return;
	}
	if ((size_t)idx >= pr->in_file)
		return;
	rc = tb_recording_push_rtp(pr->rec, (size_t)idx, buf, len, now);
	if (rc == TB_ECONFLICT) {
		/* The track paused long enough to be ended in this file (a
		 * camera muted, then back): go on in the next one. */
		close_file(pr);
		if (start_file(pr))
			rc = tb_recording_push_rtp(pr->rec, (size_t)idx, buf, len, now);
	}
	if (rc == TB_ENOENT && pr->rec && tb_recording_is_over(pr->rec))
		file_failed(pr, now);
	else if (rc == 0)
		pr->retry_us = 0;
}
