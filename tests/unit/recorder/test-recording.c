/* test-recording.c — tb_recording with real GStreamer, real RTP, real files.
 *
 * A generator pipeline (videotestsrc/audiotestsrc -> encoder -> RTP
 * payloader -> appsink, live, synced to the clock) plays the publisher: each
 * packet is pushed into the recording as it comes out, with its arrival
 * time, from the appsink's streaming thread, as a media worker would. The
 * test's main thread runs the callbacks' context; need_keyframe turns into a
 * force-key-unit event to the encoder, as a PLI would.
 *
 * The files are then read back as a user would: GstDiscoverer (container,
 * codecs, duration), a demuxer (first video frame a keyframe, audio/video
 * start), a decoder (the first frame decodes). The crash test kills a child
 * process that records with SIGKILL and checks the file it left, then
 * repairs it.
 */
#include "common.h"
#include "recorder.h"

#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/pbutils/pbutils.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Under valgrind the publisher's encoders run a few times slower than real
 * time: fewer packets, more jitter. Timing bounds widen, counts shrink; what
 * is checked stays the same. Also TB_TEST_SLOW=1. */
static bool slow;
#define COUNT(n) (slow ? (n) / 10 : (n))
#define MS(n)    (slow ? (n)*4 : (n))

static char *self_path; /* this binary, for the child that gets killed */

#define AUDIO_PT 111
#define VIDEO_PT 96
#define WIDTH    320
#define HEIGHT   240

/* ---- the publisher: RTP from a live pipeline ---- */

typedef struct gen {
	GstElement *pipeline;
	GstElement *video_sink; /* appsink; keyframe requests go upstream from it */
	GMutex lock;            /* guards everything below */
	tb_recording *rec;      /* where packets go (ref), NULL: nowhere */
	int audio_track;        /* -1: do not push audio */
	int video_track;
	int64_t first_push_us, last_push_us; /* accepted packets */
	GstClockTime first_audio_pts;        /* generator time of the first accepted */
	GstClockTime first_key_pts;          /* ... and of the first accepted keyframe */
	unsigned int accepted, refused;
	bool announce; /* child: print "started" after the first accepted packet */
} gen;

/* True when the RTP packet starts a VP8 keyframe (RFC 7741). */
static bool vp8_packet_is_keyframe(const uint8_t *p, size_t len)
{
	size_t off = 12 + 4 * (p[0] & 0x0f);

	if (p[0] & 0x10) { /* header extension */
		if (len < off + 4)
			return false;
		off += 4 + 4 * ((p[off + 2] << 8) | p[off + 3]);
	}
	if (len < off + 2)
		return false;
	const uint8_t *d = p + off;
	size_t i = 1;

	if (!(d[0] & 0x10) || (d[0] & 0x07) != 0) /* S bit, partition 0 */
		return false;
	if (d[0] & 0x80) { /* X */
		uint8_t x = d[i++];

		if (x & 0x80) /* I: picture id, 7 or 15 bits */
			i += (d[i] & 0x80) ? 2 : 1;
		if (x & 0x40)
			i++;
		if (x & 0x30)
			i++;
	}
	return off + i < len && (d[i] & 0x01) == 0;
}

static void gen_push(gen *g, bool video, GstSample *sample)
{
	GstBuffer *buf = gst_sample_get_buffer(sample);
	int64_t now = g_get_monotonic_time();
	GstMapInfo map;

	if (!gst_buffer_map(buf, &map, GST_MAP_READ))
		return;
	g_mutex_lock(&g->lock);
	int track = video ? g->video_track : g->audio_track;

	if (g->rec && track >= 0) {
		int rc = tb_recording_push_rtp(g->rec, (size_t)track, map.data, map.size, now);

		if (rc == 0) {
			if (g->accepted++ == 0) {
				g->first_push_us = now;
				if (g->announce) {
					fputs("started\n", stdout);
					fflush(stdout);
				}
			}
			g->last_push_us = now;
			if (!video && !GST_CLOCK_TIME_IS_VALID(g->first_audio_pts))
				g->first_audio_pts = GST_BUFFER_PTS(buf);
			if (video && !GST_CLOCK_TIME_IS_VALID(g->first_key_pts) &&
			    vp8_packet_is_keyframe(map.data, map.size))
				g->first_key_pts = GST_BUFFER_PTS(buf);
		} else {
			g->refused++;
		}
	}
	g_mutex_unlock(&g->lock);
	gst_buffer_unmap(buf, &map);
}

static GstFlowReturn on_audio_sample(GstAppSink *sink, gpointer data)
{
	GstSample *sample = gst_app_sink_pull_sample(sink);

	if (sample) {
		gen_push(data, false, sample);
		gst_sample_unref(sample);
	}
	return GST_FLOW_OK;
}

static GstFlowReturn on_video_sample(GstAppSink *sink, gpointer data)
{
	GstSample *sample = gst_app_sink_pull_sample(sink);

	if (sample) {
		gen_push(data, true, sample);
		gst_sample_unref(sample);
	}
	return GST_FLOW_OK;
}

/* VIDEO: "VP8", "VP9", "H264" or NULL; KEYFRAME_DIST: frames between
 * keyframes the encoder makes on its own. */
static gen *gen_start(const char *video, int keyframe_dist)
{
	gen *g = g_new0(gen, 1);
	GError *error = NULL;
	GString *desc = g_string_new(NULL);
	GstAppSinkCallbacks audio_cb = {.new_sample = on_audio_sample};
	GstAppSinkCallbacks video_cb = {.new_sample = on_video_sample};
	GstElement *sink;

	g_mutex_init(&g->lock);
	g->audio_track = g->video_track = -1;
	g->first_audio_pts = g->first_key_pts = GST_CLOCK_TIME_NONE;
	g_string_append_printf(
		desc,
		"audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=48000,channels=2"
		" ! opusenc ! rtpopuspay pt=%d ! appsink name=audio ",
		AUDIO_PT);
	if (video) {
		g_string_append_printf(desc,
				       "videotestsrc is-live=true pattern=smpte"
				       " ! video/x-raw,width=%d,height=%d,framerate=30/1 ! ",
				       WIDTH, HEIGHT);
		if (strcmp(video, "VP8") == 0)
			g_string_append_printf(desc,
					       "vp8enc deadline=1 cpu-used=8 keyframe-max-dist=%d"
					       " ! rtpvp8pay pt=%d mtu=1200",
					       keyframe_dist, VIDEO_PT);
		else if (strcmp(video, "VP9") == 0)
			g_string_append_printf(desc,
					       "vp9enc deadline=1 cpu-used=8 lag-in-frames=0"
					       " keyframe-max-dist=%d"
					       " ! rtpvp9pay pt=%d mtu=1200",
					       keyframe_dist, VIDEO_PT);
		else
			g_string_append_printf(desc,
					       "openh264enc gop-size=%d ! h264parse"
					       " ! rtph264pay pt=%d mtu=1200 config-interval=-1",
					       keyframe_dist, VIDEO_PT);
		g_string_append(desc, " ! appsink name=video");
	}
	g->pipeline = gst_parse_launch(desc->str, &error);
	g_assert_no_error(error);
	g_string_free(desc, TRUE);
	sink = gst_bin_get_by_name(GST_BIN(g->pipeline), "audio");
	gst_app_sink_set_callbacks(GST_APP_SINK(sink), &audio_cb, g, NULL);
	gst_object_unref(sink);
	if (video) {
		g->video_sink = gst_bin_get_by_name(GST_BIN(g->pipeline), "video");
		gst_app_sink_set_callbacks(GST_APP_SINK(g->video_sink), &video_cb, g, NULL);
	}
	g_assert_cmpint(gst_element_set_state(g->pipeline, GST_STATE_PLAYING), !=,
			GST_STATE_CHANGE_FAILURE);
	return g;
}

/* Points the packets at REC's tracks (-1: not pushed); resets the counters. */
static void gen_target(gen *g, tb_recording *rec, int audio_track, int video_track)
{
	g_mutex_lock(&g->lock);
	if (g->rec)
		tb_recording_unref(g->rec);
	g->rec = rec ? tb_recording_ref(rec) : NULL;
	g->audio_track = audio_track;
	g->video_track = video_track;
	g->accepted = g->refused = 0;
	g->first_push_us = g->last_push_us = 0;
	g->first_audio_pts = g->first_key_pts = GST_CLOCK_TIME_NONE;
	g_mutex_unlock(&g->lock);
}

/* What a PLI does: the encoder makes a keyframe. */
static void gen_force_keyframe(gen *g)
{
	GstStructure *s =
		gst_structure_new("GstForceKeyUnit", "all-headers", G_TYPE_BOOLEAN, TRUE, NULL);

	if (g->video_sink)
		gst_element_send_event(g->video_sink,
				       gst_event_new_custom(GST_EVENT_CUSTOM_UPSTREAM, s));
	else
		gst_structure_free(s);
}

static void gen_stop(gen *g)
{
	gst_element_set_state(g->pipeline, GST_STATE_NULL);
	gen_target(g, NULL, -1, -1);
	if (g->video_sink)
		gst_object_unref(g->video_sink);
	gst_object_unref(g->pipeline);
	g_mutex_clear(&g->lock);
	g_free(g);
}

/* ---- the caller's side: context, callbacks ---- */

typedef struct waiter {
	gen *g;
	int finished_calls;
	tb_recording_result result;
	char path[512];
	char error[256];
	int keyframe_requests[TB_RECORDING_MAX_TRACKS];
} waiter;

static void on_need_keyframe(void *user_data, size_t track_index)
{
	waiter *w = user_data;

	g_assert_cmpuint(track_index, <, TB_RECORDING_MAX_TRACKS);
	w->keyframe_requests[track_index]++;
	if (w->g)
		gen_force_keyframe(w->g);
}

static void on_finished(void *user_data, const tb_recording_result *r)
{
	waiter *w = user_data;

	w->finished_calls++;
	w->result = *r;
	g_strlcpy(w->path, r->path ? r->path : "", sizeof w->path);
	g_strlcpy(w->error, r->error ? r->error : "", sizeof w->error);
	w->result.path = w->path;
	w->result.error = r->error ? w->error : NULL;
}

static GMainContext *ctx; /* the callbacks' context: this thread's */

static tb_recording_callbacks callbacks(void)
{
	tb_recording_callbacks cb = {
		.context = ctx,
		.need_keyframe = on_need_keyframe,
		.finished = on_finished,
	};
	return cb;
}

/* Runs the context for MS milliseconds. */
static void run_for(int ms)
{
	int64_t end = g_get_monotonic_time() + ms * 1000;

	while (g_get_monotonic_time() < end) {
		while (g_main_context_iteration(ctx, FALSE))
			;
		g_usleep(2000);
	}
}

/* Runs the context until W's finished has run (fails after 15 s). */
static void wait_finished(waiter *w)
{
	int64_t end = g_get_monotonic_time() + MS(15000) * 1000;

	while (w->finished_calls == 0) {
		g_assert_cmpint(g_get_monotonic_time(), <, end);
		while (g_main_context_iteration(ctx, FALSE))
			;
		g_usleep(2000);
	}
	/* Nothing more may come. */
	run_for(50);
	g_assert_cmpint(w->finished_calls, ==, 1);
}

static const tb_recording_track opus_track = {TB_RECORDING_AUDIO, "opus", 48000, AUDIO_PT};
static const tb_recording_track vp8_track = {TB_RECORDING_VIDEO, "VP8", 90000, VIDEO_PT};

static tb_recording *new_recording(const char *path, const tb_recording_track *tracks, size_t n,
				   waiter *w)
{
	tb_recording_callbacks cb = callbacks();
	GError *error = NULL;
	tb_recording *rec = tb_recording_new(path, tracks, n, &cb, w, &error);

	g_assert_no_error(error);
	g_assert_nonnull(rec);
	return rec;
}

/* ---- reading files back ---- */

typedef struct stream_scan {
	char caps[64];
	int n;
	GstClockTime first, last;
	bool first_is_key;    /* demuxer's flag */
	bool first_vp8_key;   /* the VP8 frame header's own bit */
	GstClockTime max_gap; /* longest time between two buffers */
	gsize min_size;       /* smallest buffer */
	GstClockTime last_dur;
} stream_scan;

typedef struct file_scan {
	stream_scan audio, video;
	GMutex lock;
} file_scan;

static GstPadProbeReturn scan_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	stream_scan *s = data;
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);

	if (s->n == 0 || gst_buffer_get_size(buf) < s->min_size)
		s->min_size = gst_buffer_get_size(buf);
	if (s->n++ == 0) {
		GstMapInfo map;

		s->first = GST_BUFFER_PTS(buf);
		s->first_is_key = !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
		if (gst_buffer_map(buf, &map, GST_MAP_READ)) {
			s->first_vp8_key = map.size > 0 && (map.data[0] & 1) == 0;
			gst_buffer_unmap(buf, &map);
		}
	} else if (GST_BUFFER_PTS(buf) > s->last && GST_BUFFER_PTS(buf) - s->last > s->max_gap)
		s->max_gap = GST_BUFFER_PTS(buf) - s->last;
	s->last = GST_BUFFER_PTS(buf);
	return GST_PAD_PROBE_OK;
}

static void scan_pad_added(GstElement *demux, GstPad *pad, gpointer data)
{
	file_scan *fs = data;
	GstElement *pipeline = GST_ELEMENT(gst_element_get_parent(demux));
	GstElement *sink = gst_element_factory_make("fakesink", NULL);
	GstCaps *caps = gst_pad_get_current_caps(pad);
	const char *name = gst_structure_get_name(gst_caps_get_structure(caps, 0));
	stream_scan *s = g_str_has_prefix(name, "video/") ? &fs->video : &fs->audio;
	GstPad *sinkpad;

	g_strlcpy(s->caps, name, sizeof s->caps);
	g_object_set(sink, "sync", FALSE, "async", FALSE, NULL);
	gst_bin_add(GST_BIN(pipeline), sink);
	gst_element_sync_state_with_parent(sink);
	sinkpad = gst_element_get_static_pad(sink, "sink");
	gst_pad_link(pad, sinkpad);
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, scan_probe, s, NULL);
	gst_object_unref(sinkpad);
	gst_caps_unref(caps);
	gst_object_unref(pipeline);
}

/* Demuxes PATH to the end; fails the test on an error. */
static void scan_file(const char *path, file_scan *fs)
{
	GstElement *pipeline = gst_pipeline_new(NULL);
	GstElement *src = gst_element_factory_make("filesrc", NULL);
	GstElement *demux = gst_element_factory_make("matroskademux", NULL);
	GstMessage *msg;

	memset(fs, 0, sizeof *fs);
	g_object_set(src, "location", path, NULL);
	gst_bin_add_many(GST_BIN(pipeline), src, demux, NULL);
	g_assert_true(gst_element_link(src, demux));
	g_signal_connect(demux, "pad-added", G_CALLBACK(scan_pad_added), fs);
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	msg = gst_bus_timed_pop_filtered(GST_ELEMENT_BUS(pipeline), 20 * GST_SECOND,
					 GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
	g_assert_nonnull(msg);
	if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
		GError *err;

		gst_message_parse_error(msg, &err, NULL);
		g_test_message("demuxing %s stopped: %s", path, err->message);
		g_error_free(err);
	}
	gst_message_unref(msg);
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(pipeline);
	g_test_message("%s: audio %s n=%d %.3f..%.3f; video %s n=%d %.3f..%.3f key=%d/%d", path,
		       fs->audio.caps, fs->audio.n, fs->audio.first / 1e9, fs->audio.last / 1e9,
		       fs->video.caps, fs->video.n, fs->video.first / 1e9, fs->video.last / 1e9,
		       fs->video.first_is_key, fs->video.first_vp8_key);
}

typedef struct discovered {
	char container[64];
	char audio[64];
	char video[64];
	int64_t duration_ms;
	bool seekable;
} discovered;

static void discover(const char *path, discovered *d)
{
	GError *error = NULL;
	GstDiscoverer *disc = gst_discoverer_new(10 * GST_SECOND, &error);
	char *uri = gst_filename_to_uri(path, NULL);
	GstDiscovererInfo *info;
	GstDiscovererStreamInfo *top;
	GList *list;

	g_assert_no_error(error);
	memset(d, 0, sizeof *d);
	info = gst_discoverer_discover_uri(disc, uri, &error);
	g_assert_no_error(error);
	g_assert_nonnull(info);
	g_assert_cmpint(gst_discoverer_info_get_result(info), ==, GST_DISCOVERER_OK);
	d->duration_ms = (int64_t)(gst_discoverer_info_get_duration(info) / GST_MSECOND);
	d->seekable = gst_discoverer_info_get_seekable(info);
	top = gst_discoverer_info_get_stream_info(info);
	if (top) {
		GstCaps *caps = gst_discoverer_stream_info_get_caps(top);

		g_strlcpy(d->container, gst_structure_get_name(gst_caps_get_structure(caps, 0)),
			  sizeof d->container);
		gst_caps_unref(caps);
		gst_discoverer_stream_info_unref(top);
	}
	list = gst_discoverer_info_get_audio_streams(info);
	if (list) {
		GstCaps *caps = gst_discoverer_stream_info_get_caps(list->data);

		g_strlcpy(d->audio, gst_structure_get_name(gst_caps_get_structure(caps, 0)),
			  sizeof d->audio);
		gst_caps_unref(caps);
	}
	gst_discoverer_stream_info_list_free(list);
	list = gst_discoverer_info_get_video_streams(info);
	if (list) {
		GstCaps *caps = gst_discoverer_stream_info_get_caps(list->data);

		g_strlcpy(d->video, gst_structure_get_name(gst_caps_get_structure(caps, 0)),
			  sizeof d->video);
		gst_caps_unref(caps);
	}
	gst_discoverer_stream_info_list_free(list);
	g_test_message("discoverer %s: %s audio=%s video=%s %" G_GINT64_FORMAT " ms seekable=%d",
		       path, d->container, d->audio, d->video, d->duration_ms, d->seekable);
	g_object_unref(info);
	g_object_unref(disc);
	g_free(uri);
}

/* Decodes the first video frame of PATH (VP8) and checks its size. */
static void assert_first_frame_decodes(const char *path)
{
	GError *error = NULL;
	char *desc =
		g_strdup_printf("filesrc location=\"%s\" ! matroskademux ! vp8dec ! videoconvert"
				" ! video/x-raw,format=RGB ! appsink name=s sync=false",
				path);
	GstElement *pipeline = gst_parse_launch(desc, &error);
	GstElement *sink;
	GstSample *sample;
	GstStructure *s;
	int width = 0, height = 0;

	g_assert_no_error(error);
	sink = gst_bin_get_by_name(GST_BIN(pipeline), "s");
	gst_element_set_state(pipeline, GST_STATE_PLAYING);
	sample = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 10 * GST_SECOND);
	if (!sample)
		sample = gst_app_sink_try_pull_preroll(GST_APP_SINK(sink), 0);
	g_assert_nonnull(sample);
	s = gst_caps_get_structure(gst_sample_get_caps(sample), 0);
	gst_structure_get_int(s, "width", &width);
	gst_structure_get_int(s, "height", &height);
	g_assert_cmpint(width, ==, WIDTH);
	g_assert_cmpint(height, ==, HEIGHT);
	gst_sample_unref(sample);
	gst_element_set_state(pipeline, GST_STATE_NULL);
	gst_object_unref(sink);
	gst_object_unref(pipeline);
	g_free(desc);
}

static int64_t size_of(const char *path)
{
	GStatBuf st;

	g_assert_cmpint(g_stat(path, &st), ==, 0);
	return (int64_t)st.st_size;
}

/* ---- fixture: a temp dir ---- */

typedef struct fixture {
	char *dir;
} fixture;

static void fixture_setup(fixture *f, gconstpointer data)
{
	GError *error = NULL;

	f->dir = g_dir_make_tmp("tribu-rec-XXXXXX", &error);
	g_assert_no_error(error);
}

static void remove_tree(const char *path)
{
	GDir *d = g_dir_open(path, 0, NULL);
	const char *name;

	if (!d) {
		g_unlink(path);
		return;
	}
	while ((name = g_dir_read_name(d))) {
		char *child = g_build_filename(path, name, NULL);

		remove_tree(child);
		g_free(child);
	}
	g_dir_close(d);
	g_rmdir(path);
}

static void fixture_teardown(fixture *f, gconstpointer data)
{
	remove_tree(f->dir);
	g_free(f->dir);
}

/* ---- tests ---- */

/* A participant with microphone and camera: 3 s of VP8 + Opus. */
static void test_vp8_opus(fixture *f, gconstpointer data)
{
	tb_recording_track tracks[] = {opus_track, vp8_track};
	char *path = g_build_filename(f->dir, "2025", "01", "sess", "p1-1.webm", NULL);
	waiter w = {0};
	gen *g = gen_start("VP8", 30);
	tb_recording *rec;
	int64_t truth_ms, sync_expected_ms, sync_file_ms;
	GstClockTime first_audio_pts, first_key_pts;
	file_scan fs;
	discovered d;

	w.g = g;
	/* The publisher has been sending for a while: the first video packets
	 * the recording sees are mid-GOP and must be dropped. */
	run_for(500);
	rec = new_recording(path, tracks, 2, &w);
	gen_target(g, rec, 0, 1);
	run_for(3000);
	tb_recording_stop(rec);
	g_mutex_lock(&g->lock);
	truth_ms = (g->last_push_us - g->first_push_us) / 1000;
	first_audio_pts = g->first_audio_pts;
	first_key_pts = g->first_key_pts;
	g_assert_cmpuint(g->accepted, >, COUNT(100));
	g_mutex_unlock(&g->lock);
	wait_finished(&w);
	gen_target(g, NULL, -1, -1);

	g_assert_cmpint(w.result.state, ==, TB_RECORDING_COMPLETE);
	g_assert_null(w.result.error);
	g_assert_cmpstr(w.result.path, ==, path);
	g_assert_cmpint(w.result.bytes, ==, size_of(path));
	g_assert_cmpint(w.result.bytes, >, 10000);
	g_assert_cmpint(w.result.width, ==, WIDTH);
	g_assert_cmpint(w.result.height, ==, HEIGHT);
	g_assert_cmpint(w.result.start_mono_us, >, 0);
	g_assert_cmpuint(w.result.packets, >, COUNT(100));
	g_assert_cmpint(w.keyframe_requests[1], >=, 1);
	g_assert_cmpint(w.keyframe_requests[0], ==, 0);
	g_test_message("truth %" G_GINT64_FORMAT " ms, result %" G_GINT64_FORMAT
		       " ms, %" G_GUINT64_FORMAT " packets, %" G_GUINT64_FORMAT " dropped",
		       truth_ms, w.result.duration_ms, w.result.packets, w.result.packets_dropped);
	g_assert_cmpint(labs(w.result.duration_ms - truth_ms), <, MS(500));

	discover(path, &d);
	g_assert_cmpstr(d.container, ==, "video/webm");
	g_assert_cmpstr(d.video, ==, "video/x-vp8");
	g_assert_cmpstr(d.audio, ==, "audio/x-opus");
	g_assert_cmpint(labs(d.duration_ms - truth_ms), <, MS(500));
	g_assert_true(d.seekable);

	scan_file(path, &fs);
	g_assert_cmpint(fs.audio.n, >, COUNT(100));
	g_assert_cmpint(fs.video.n, >, COUNT(30));
	g_assert_true(fs.video.first_is_key);
	g_assert_true(fs.video.first_vp8_key);
	/* Starts at zero, every track at the first keyframe: the audio sent
	 * before it is not in the file (a file whose audio starts before its
	 * first video frame cannot be seeked back to 0 in Chromium). A/V sync
	 * inside the file: tests/integration/test-recording.mjs (flash + beep). */
	g_assert_cmpuint(MIN(fs.audio.first, fs.video.first), <, MS(20) * GST_MSECOND);
	g_assert_true(GST_CLOCK_TIME_IS_VALID(first_audio_pts));
	g_assert_true(GST_CLOCK_TIME_IS_VALID(first_key_pts));
	sync_expected_ms = ((gint64)first_key_pts - (gint64)first_audio_pts) / GST_MSECOND;
	sync_file_ms = ((gint64)fs.audio.first - (gint64)fs.video.first) / GST_MSECOND;
	g_test_message("audio starts %" G_GINT64_FORMAT " ms after the first keyframe; the "
		       "publisher sent %" G_GINT64_FORMAT " ms of audio before it",
		       sync_file_ms, sync_expected_ms);
	g_assert_cmpint(sync_file_ms, >=, 0);
	/* Audio that reaches the muxer while the keyframe is still being put
	 * together (its packets, the jitter buffer) is dropped too: a fraction
	 * of a second at most. */
	if (!slow)
		g_assert_cmpint(sync_file_ms, <, 500);
	assert_first_frame_decodes(path);

	/* Stop after the end is a no-op. */
	tb_recording_stop(rec);
	run_for(50);
	g_assert_cmpint(w.finished_calls, ==, 1);
	tb_recording_unref(rec);
	gen_stop(g);
	g_free(path);
}

/* The camera comes on mid-call. A track added before any media reached the
 * muxer joins the file; after that the caller rolls over to the next file.
 * The encoder makes keyframes only when asked (need_keyframe -> PLI). */
static void test_late_track(fixture *f, gconstpointer data)
{
	char *path1 = g_build_filename(f->dir, "p1-1.webm", NULL);
	char *path2 = g_build_filename(f->dir, "p1-2.webm", NULL);
	waiter w1 = {0}, w2 = {0};
	gen *g = gen_start("VP8", 100000);
	tb_recording *rec;
	int64_t truth1_ms, truth2_ms;
	file_scan fs;
	discovered d;

	w1.g = w2.g = g;
	rec = new_recording(path1, &opus_track, 1, &w1);
	gen_target(g, rec, 0, -1);
	run_for(1200);
	/* The muxer has written its header: no new track in this file. */
	g_assert_cmpint(tb_recording_add_track(rec, &vp8_track), ==, TB_ECONFLICT);
	tb_recording_stop(rec);
	g_mutex_lock(&g->lock);
	truth1_ms = (g->last_push_us - g->first_push_us) / 1000;
	g_mutex_unlock(&g->lock);
	tb_recording_unref(rec);

	/* The next file: same tracks in the same order, plus the camera. */
	rec = new_recording(path2, &opus_track, 1, &w2);
	g_assert_cmpint(tb_recording_add_track(rec, &vp8_track), ==, 1);
	gen_target(g, rec, 0, 1);
	run_for(2000);
	tb_recording_stop(rec);
	g_mutex_lock(&g->lock);
	truth2_ms = (g->last_push_us - g->first_push_us) / 1000;
	g_mutex_unlock(&g->lock);
	wait_finished(&w1);
	wait_finished(&w2);
	gen_target(g, NULL, -1, -1);

	g_assert_cmpint(w1.result.state, ==, TB_RECORDING_COMPLETE);
	g_assert_cmpint(w1.result.width, ==, 0);
	g_assert_cmpint(labs(w1.result.duration_ms - truth1_ms), <, MS(500));
	discover(path1, &d);
	g_assert_cmpstr(d.audio, ==, "audio/x-opus");
	g_assert_cmpstr(d.video, ==, "");

	g_assert_cmpint(w2.result.state, ==, TB_RECORDING_COMPLETE);
	g_assert_cmpint(w2.keyframe_requests[1], >=, 1);
	g_assert_cmpint(w2.result.width, ==, WIDTH);
	discover(path2, &d);
	g_assert_cmpstr(d.audio, ==, "audio/x-opus");
	g_assert_cmpstr(d.video, ==, "video/x-vp8");
	g_assert_cmpint(labs(d.duration_ms - truth2_ms), <, MS(500));
	scan_file(path2, &fs);
	g_assert_true(fs.video.first_vp8_key);
	/* The only keyframes are the ones asked for: the first came within
	 * a round trip of the request, not a GOP later. */
	g_assert_cmpint(fs.video.n, >, COUNT(20));
	g_assert_cmpuint(fs.video.first, <, MS(700) * GST_MSECOND);
	assert_first_frame_decodes(path2);

	tb_recording_unref(rec);
	gen_stop(g);
	g_free(path1);
	g_free(path2);
}

/* The camera pauses (no video packets for 2 s) while the microphone goes
 * on: the file has a 2 s hole in its video, continuous audio, and the
 * right duration. Then a camera that never sends at all. */
/* Stops pushing video for MS milliseconds, then resumes. */
static void pause_video(gen *g, int ms)
{
	g_mutex_lock(&g->lock);
	g->video_track = -1;
	g_mutex_unlock(&g->lock);
	run_for(ms);
	g_mutex_lock(&g->lock);
	g->video_track = 1;
	g->refused = 0;
	g_mutex_unlock(&g->lock);
}

/* A camera that pauses: briefly, a gap in the same file; for longer than the
 * recorder waits, the video track ends in this file (the audio reaches the
 * disk meanwhile) and its next packet says TB_ECONFLICT: next file. */
static void test_pause(fixture *f, gconstpointer data)
{
	tb_recording_track tracks[] = {opus_track, vp8_track};
	char *path = g_build_filename(f->dir, "p1-1.webm", NULL);
	char *path2 = g_build_filename(f->dir, "p2-1.webm", NULL);
	char *path3 = g_build_filename(f->dir, "p3-1.webm", NULL);
	waiter w = {0}, w2 = {0}, w3 = {0};
	gen *g = gen_start("VP8", 30);
	tb_recording *rec;
	int64_t truth_ms, size_before, size_during;
	unsigned refused;
	file_scan fs;
	discovered d;

	w.g = w2.g = w3.g = g;
	run_for(300);

	/* A short pause: a hole in the video, same file. */
	rec = new_recording(path, tracks, 2, &w);
	gen_target(g, rec, 0, 1);
	run_for(1000);
	pause_video(g, 1200);
	run_for(1000);
	/* Refused since the video came back (none: same file, no roll). */
	g_mutex_lock(&g->lock);
	refused = g->refused;
	g_mutex_unlock(&g->lock);
	tb_recording_stop(rec);
	g_mutex_lock(&g->lock);
	truth_ms = (g->last_push_us - g->first_push_us) / 1000;
	g_mutex_unlock(&g->lock);
	wait_finished(&w);
	gen_target(g, NULL, -1, -1);
	g_assert_cmpint(w.result.state, ==, TB_RECORDING_COMPLETE);
	g_assert_cmpint(labs(w.result.duration_ms - truth_ms), <, MS(500));
	scan_file(path, &fs);
	g_test_message("short pause: longest gap audio %" G_GUINT64_FORMAT " ms, video %" G_GUINT64_FORMAT
		       " ms, %u refused",
		       fs.audio.max_gap / GST_MSECOND, fs.video.max_gap / GST_MSECOND, refused);
	/* Under valgrind the encoder lags too far behind for a timed pause. */
	if (!slow) {
		g_assert_cmpuint(refused, ==, 0);
		/* Audio is never held for the paused video (a loaded machine
		 * delays the generator by a few hundred ms at most). */
		g_assert_cmpuint(fs.audio.max_gap, <, 500 * GST_MSECOND);
		g_assert_cmpuint(fs.video.max_gap, >, 900 * GST_MSECOND);
		g_assert_cmpuint(fs.video.max_gap, <, 2000 * GST_MSECOND);
		g_assert_cmpuint(fs.video.last, >, fs.audio.last - 200 * GST_MSECOND);
	}
	tb_recording_unref(rec);

	/* A long pause: the audio does not wait for the camera. */
	rec = new_recording(path3, tracks, 2, &w3);
	gen_target(g, rec, 0, 1);
	run_for(1000);
	g_mutex_lock(&g->lock);
	g->video_track = -1;
	g_mutex_unlock(&g->lock);
	run_for(1000);
	size_before = size_of(path3);
	run_for(11000);
	size_during = size_of(path3);
	g_mutex_lock(&g->lock);
	g->video_track = 1;
	g->refused = 0;
	g_mutex_unlock(&g->lock);
	run_for(700);
	g_mutex_lock(&g->lock);
	refused = g->refused;
	g_mutex_unlock(&g->lock);
	{
		/* What the caller sees: a valid video packet is refused with
		 * TB_ECONFLICT (roll to the next file). */
		uint8_t pkt[16] = {0x80, VIDEO_PT, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0x90, 0, 0, 0};
		g_assert_cmpint(tb_recording_push_rtp(rec, 1, pkt, sizeof pkt,
						      g_get_monotonic_time()),
				==, TB_ECONFLICT);
	}
	tb_recording_stop(rec);
	wait_finished(&w3);
	gen_target(g, NULL, -1, -1);
	g_test_message("long pause: file %" G_GINT64_FORMAT " bytes 1 s into the pause, %" G_GINT64_FORMAT
		       " 11 s later; %u video packets refused after it",
		       size_before, size_during, refused);
	g_assert_cmpint(w3.result.state, ==, TB_RECORDING_COMPLETE);
	g_assert_cmpint(size_during, >, size_before);
	g_assert_cmpuint(refused, >, 0);
	scan_file(path3, &fs);
	g_assert_cmpstr(fs.video.caps, ==, "video/x-vp8");
	if (!slow) {
		/* Video ends at the pause; audio covers the whole recording. */
		g_assert_cmpuint(fs.video.last, <, fs.audio.last - 11500 * GST_MSECOND);
		g_assert_cmpuint(fs.audio.max_gap, <, 500 * GST_MSECOND);
		g_assert_cmpint(labs(w3.result.duration_ms - 13700), <, MS(600));
	}
	tb_recording_unref(rec);

	/* A camera announced but never sending: the audio waits 3 s for its
	 * first keyframe, then goes on without it. */
	rec = new_recording(path2, tracks, 2, &w2);
	gen_target(g, rec, 0, -1);
	run_for(4500);
	tb_recording_stop(rec);
	wait_finished(&w2);
	gen_target(g, NULL, -1, -1);
	g_test_message("silent camera: %s %" G_GINT64_FORMAT " ms %" G_GINT64_FORMAT " bytes %s",
		       tb_recording_state_to_string(w2.result.state), w2.result.duration_ms,
		       w2.result.bytes, w2.result.error ? w2.result.error : "");
	g_assert_cmpint(w2.result.state, ==, TB_RECORDING_COMPLETE);
	discover(path2, &d);
	g_assert_cmpstr(d.audio, ==, "audio/x-opus");
	g_assert_cmpint(labs(d.duration_ms - 1500), <, MS(500));
	tb_recording_unref(rec);
	gen_stop(g);
	g_free(path);
	g_free(path2);
	g_free(path3);
}

/* The recordings directory cannot be made: finished(FAILED) with the
 * reason, and the recording next to it goes on. A full disk (/dev/full)
 * fails the same way, mid-stream. */
static void test_io_errors(fixture *f, gconstpointer data)
{
	char *blocker = g_build_filename(f->dir, "not-a-dir", NULL);
	char *bad_path = g_build_filename(blocker, "2025", "p1-1.webm", NULL);
	char *good_path = g_build_filename(f->dir, "p2-1.webm", NULL);
	tb_recording_track tracks[] = {opus_track, vp8_track};
	waiter w_bad = {0}, w_full = {0}, w_good = {0};
	gen *g = gen_start("VP8", 30);
	tb_recording *bad, *full, *good;

	w_good.g = w_full.g = g;
	g_assert_true(g_file_set_contents(blocker, "x", 1, NULL));
	g_test_message("the \"[rec]\" warnings below are expected");
	bad = new_recording(bad_path, tracks, 2, &w_bad);
	good = new_recording(good_path, tracks, 2, &w_good);
	gen_target(g, good, 0, 1);
	run_for(300);
	g_assert_cmpint(w_bad.finished_calls, ==, 1);
	g_assert_cmpint(w_bad.result.state, ==, TB_RECORDING_FAILED);
	g_assert_nonnull(w_bad.result.error);
	g_test_message("unwritable: %s", w_bad.result.error);
	g_assert_nonnull(strstr(w_bad.result.error, "not-a-dir"));
	g_assert_cmpint(tb_recording_push_rtp(bad, 0, (const uint8_t *)"x", 1, 0), ==, TB_EINVAL);
	tb_recording_stop(bad); /* after failing: a no-op */

	run_for(1000);
	tb_recording_stop(good);
	wait_finished(&w_good);
	g_assert_cmpint(w_good.result.state, ==, TB_RECORDING_COMPLETE);
	g_assert_cmpint(w_good.result.duration_ms, >, slow ? 200 : 800);
	g_assert_cmpint(w_bad.finished_calls, ==, 1);

	full = new_recording("/dev/full", tracks, 2, &w_full);
	gen_target(g, full, 0, 1);
	for (int i = 0; i < 100 && w_full.finished_calls == 0; i++)
		run_for(50);
	tb_recording_stop(full);
	wait_finished(&w_full);
	gen_target(g, NULL, -1, -1);
	g_assert_cmpint(w_full.result.state, ==, TB_RECORDING_FAILED);
	g_test_message("disk full: %s", w_full.result.error);
	g_assert_nonnull(strstr(w_full.result.error, "space"));

	tb_recording_unref(bad);
	tb_recording_unref(full);
	tb_recording_unref(good);
	gen_stop(g);
	g_free(blocker);
	g_free(bad_path);
	g_free(good_path);
}

/* Arguments that are refused, packets that are dropped, a stop that comes
 * before the pipeline even started. */
static void test_bad_input(fixture *f, gconstpointer data)
{
	tb_recording_track av1 = {TB_RECORDING_VIDEO, "AV1", 90000, 45};
	tb_recording_track opus_as_video = {TB_RECORDING_VIDEO, "opus", 48000, 111};
	tb_recording_track h264 = {TB_RECORDING_VIDEO, "h264", 90000, 102};
	tb_recording_callbacks cb = callbacks();
	char *path = g_build_filename(f->dir, "p1-1.webm", NULL);
	uint8_t rtcp[12] = {0x80, 200};
	uint8_t rtx[12] = {0x80, 97};
	waiter w = {0};
	GError *error = NULL;
	tb_recording *rec;

	g_assert_null(tb_recording_new(path, &av1, 1, &cb, &w, &error));
	g_assert_error(error, TB_RECORDER_ERROR, TB_EINVAL);
	g_clear_error(&error);
	g_assert_null(tb_recording_new(path, &opus_as_video, 1, &cb, &w, &error));
	g_assert_error(error, TB_RECORDER_ERROR, TB_EINVAL);
	g_clear_error(&error);
	g_assert_null(tb_recording_new(path, &h264, 1, &cb, &w, &error)); /* .webm */
	g_assert_error(error, TB_RECORDER_ERROR, TB_EINVAL);
	g_clear_error(&error);
	g_assert_null(tb_recording_new("relative.webm", &opus_track, 1, &cb, &w, &error));
	g_assert_error(error, TB_RECORDER_ERROR, TB_EINVAL);
	g_clear_error(&error);
	g_assert_null(tb_recording_new(path, &opus_track, 0, &cb, &w, &error));
	g_assert_error(error, TB_RECORDER_ERROR, TB_EINVAL);
	g_clear_error(&error);

	rec = new_recording(path, &opus_track, 1, &w);
	/* WebM cannot hold H.264: that needs the next file, as .mkv. */
	g_assert_cmpint(tb_recording_add_track(rec, &h264), ==, TB_ECONFLICT);
	g_assert_cmpint(tb_recording_add_track(rec, &av1), ==, TB_EINVAL);
	g_assert_cmpint(tb_recording_push_rtp(rec, 5, rtx, sizeof rtx, 0), ==, TB_EINVAL);
	/* Not started yet (the context has not run). */
	rtx[1] = AUDIO_PT;
	g_assert_cmpint(tb_recording_push_rtp(rec, 0, rtx, sizeof rtx, 0), ==, TB_ENOENT);
	run_for(50);
	g_assert_cmpint(tb_recording_push_rtp(rec, 0, rtcp, sizeof rtcp, 0), ==, TB_EINVAL);
	rtx[1] = 97;
	g_assert_cmpint(tb_recording_push_rtp(rec, 0, rtx, sizeof rtx, 0), ==, TB_EINVAL);
	g_assert_cmpint(tb_recording_push_rtp(rec, 0, rtx, 5, 0), ==, TB_EINVAL);
	tb_recording_stop(rec);
	g_assert_cmpint(tb_recording_add_track(rec, &vp8_track), ==, TB_ENOENT);
	wait_finished(&w);
	/* No media at all: no file a player could open, so none is kept. */
	g_assert_cmpint(w.result.state, ==, TB_RECORDING_FAILED);
	g_assert_cmpstr(w.result.error, ==, "no media reached the file");
	g_assert_cmpint(w.result.duration_ms, ==, 0);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	/* Those of track 0 (5 is no track). */
	g_assert_cmpuint(w.result.packets_dropped, ==, 4);
	tb_recording_unref(rec);

	/* Stopped before the context ever ran: it still finishes, once. */
	memset(&w, 0, sizeof w);
	rec = new_recording(path, &opus_track, 1, &w);
	tb_recording_stop(rec);
	tb_recording_unref(rec);
	wait_finished(&w);
	g_assert_cmpint(w.result.state, ==, TB_RECORDING_FAILED);
	g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
	g_free(path);
}

/* Other codecs: VP9 in WebM, H.264 in Matroska (when an encoder is here). */
static void record_codec(fixture *f, const char *codec, const char *file, const char *container,
			 const char *caps)
{
	tb_recording_track tracks[] = {opus_track, {TB_RECORDING_VIDEO, codec, 90000, VIDEO_PT}};
	char *path = g_build_filename(f->dir, file, NULL);
	waiter w = {0};
	gen *g;

	if (slow) {
		/* Their encoders are too slow under valgrind; the code paths
		 * are VP8's. */
		g_test_skip("slow run");
		g_free(path);
		return;
	}
	g = gen_start(codec, 30);
	tb_recording *rec;
	file_scan fs;
	discovered d;

	w.g = g;
	run_for(500); /* encoders warm up */
	rec = new_recording(path, tracks, 2, &w);
	gen_target(g, rec, 0, 1);
	run_for(1500);
	tb_recording_stop(rec);
	wait_finished(&w);
	gen_target(g, NULL, -1, -1);
	g_assert_cmpint(w.result.state, ==, TB_RECORDING_COMPLETE);
	g_assert_cmpint(w.result.width, ==, WIDTH);
	discover(path, &d);
	g_assert_cmpstr(d.container, ==, container);
	g_assert_cmpstr(d.video, ==, caps);
	g_assert_cmpstr(d.audio, ==, "audio/x-opus");
	g_assert_cmpint(d.duration_ms, >, slow ? 200 : 800);
	scan_file(path, &fs);
	g_assert_true(fs.video.first_is_key);
	g_assert_cmpint(fs.video.n, >, COUNT(10));
	tb_recording_unref(rec);
	gen_stop(g);
	g_free(path);
}

static void test_vp9(fixture *f, gconstpointer data)
{
	record_codec(f, "VP9", "p1-1.webm", "video/webm", "video/x-vp9");
}

static void test_h264(fixture *f, gconstpointer data)
{
	GstElementFactory *enc = gst_element_factory_find("openh264enc");

	if (!enc) {
		g_test_skip("no H.264 encoder (openh264enc)");
		return;
	}
	gst_object_unref(enc);
	record_codec(f, "H264", "p1-1.mkv", "video/x-matroska", "video/x-h264");
}

/* ---- kill -9 ---- */

/* The child: records until it is killed. */
static int child_record(const char *path)
{
	tb_recording_track tracks[] = {opus_track, vp8_track};
	waiter w = {0};
	GError *error = NULL;
	gen *g;
	tb_recording *rec;

	if (!tb_recorder_init(&error))
		g_error("%s", error->message);
	ctx = g_main_context_new();
	g = gen_start("VP8", 30);
	w.g = g;
	g->announce = true;
	rec = new_recording(path, tracks, 2, &w);
	gen_target(g, rec, 0, 1);
	for (;;)
		run_for(1000);
	return 0;
}

static void test_kill_repair(fixture *f, gconstpointer data)
{
	char *path = g_build_filename(f->dir, "p1-1.webm", NULL);
	char *self = g_strdup(self_path);
	char *argv[] = {self, "--child-record", path, NULL};
	GError *error = NULL;
	GPid pid;
	int out_fd, status;
	char line[16] = {0};
	ssize_t got;
	tb_recording_result r;
	file_scan fs;
	discovered d;
	const int64_t truth_ms = 3000;
	char *tmp;

	g_assert_true(g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
					       NULL, &pid, NULL, &out_fd, NULL, &error));
	g_assert_no_error(error);
	/* "started": the first packet went into the recording. */
	got = read(out_fd, line, sizeof line - 1);
	g_assert_cmpint(got, >, 0);
	g_assert_nonnull(strstr(line, "started"));
	g_usleep(truth_ms * 1000);
	g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFSIGNALED(status));
	close(out_fd);
	g_spawn_close_pid(pid);

	/* What the kill left plays as it is. */
	g_test_message("killed after %" G_GINT64_FORMAT " ms: %" G_GINT64_FORMAT " bytes", truth_ms,
		       size_of(path));
	scan_file(path, &fs);
	g_assert_cmpint(fs.audio.n, >, 50);
	g_assert_cmpint(fs.video.n, >, 20);
	g_assert_true(fs.video.first_vp8_key);
	g_test_message("unrepaired: media up to %.3f s (truth %.3f s)",
		       MAX(fs.audio.last, fs.video.last) / 1e9, truth_ms / 1e3);
	g_assert_cmpint(MAX(fs.audio.last, fs.video.last) / GST_MSECOND, >, truth_ms - 3000);
	/* The header's Duration was kept current while recording. */
	discover(path, &d);
	g_assert_cmpstr(d.video, ==, "video/x-vp8");
	g_assert_cmpstr(d.audio, ==, "audio/x-opus");
	g_assert_cmpint(labs(d.duration_ms - truth_ms), <, 3000);
	g_assert_cmpint(d.duration_ms, >, 1000);

	g_assert_true(tb_recording_repair(path, &r, &error));
	g_assert_no_error(error);
	g_assert_cmpint(r.state, ==, TB_RECORDING_TRUNCATED);
	g_assert_cmpint(r.bytes, ==, size_of(path));
	g_assert_cmpint(r.width, ==, WIDTH);
	g_test_message("repaired: %" G_GINT64_FORMAT " ms, %" G_GINT64_FORMAT " bytes",
		       r.duration_ms, r.bytes);
	g_assert_cmpint(labs(r.duration_ms - truth_ms), <, 3000);
	g_assert_cmpint(r.duration_ms, >, 1000);
	discover(path, &d);
	g_assert_cmpstr(d.container, ==, "video/webm");
	g_assert_cmpint(labs(d.duration_ms - r.duration_ms), <, 100);
	g_assert_true(d.seekable);
	scan_file(path, &fs);
	g_assert_true(fs.video.first_vp8_key);
	assert_first_frame_decodes(path);
	tmp = g_strconcat(path, ".repair", NULL);
	g_assert_false(g_file_test(tmp, G_FILE_TEST_EXISTS));
	g_free(tmp);

	/* Repairing again is harmless; nothing to repair is an error. */
	g_assert_true(tb_recording_repair(path, &r, &error));
	g_assert_cmpint(labs(r.duration_ms - d.duration_ms), <, 100);
	g_assert_false(tb_recording_repair("/nonexistent/p1-1.webm", &r, &error));
	g_assert_error(error, TB_RECORDER_ERROR, TB_ENOENT);
	g_clear_error(&error);
	g_assert_true(g_file_set_contents(path, "not a webm file", -1, NULL));
	g_assert_false(tb_recording_repair(path, &r, &error));
	g_assert_nonnull(error);
	g_test_message("garbage: %s", error->message);
	g_clear_error(&error);

	g_free(self);
	g_free(path);
}

int main(int argc, char **argv)
{
	GError *error = NULL;
	int rc;

	if (argc == 3 && strcmp(argv[1], "--child-record") == 0)
		return child_record(argv[2]);

	/* Before g_test_init, which rewrites argv. */
	self_path = g_canonicalize_filename(argv[0], NULL);
	slow = g_strcmp0(g_getenv("TB_TEST_SLOW"), "1") == 0 ||
	       strstr(g_getenv("LD_PRELOAD") ? g_getenv("LD_PRELOAD") : "", "valgrind");
	g_test_init(&argc, &argv, NULL);
	if (!tb_recorder_init(&error))
		g_error("%s", error->message);
	ctx = g_main_context_new();

#define ADD(name, fn)                                                                              \
	g_test_add("/recording/" name, fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("vp8-opus", test_vp8_opus);
	ADD("late-track", test_late_track);
	ADD("pause", test_pause);
	ADD("io-errors", test_io_errors);
	ADD("bad-input", test_bad_input);
	ADD("vp9", test_vp9);
	ADD("h264", test_h264);
	ADD("kill-repair", test_kill_repair);
#undef ADD
	rc = g_test_run();
	g_main_context_unref(ctx);
	g_free(self_path);
	return rc;
}
