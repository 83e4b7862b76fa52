/* rec-probe.c — decodes a recording and prints what a viewer would check,
 * as one JSON object on stdout, for the recording integration tests.
 *
 *   rec-probe FILE [--at MS]...
 *
 * Pipeline: filesrc ! parsebin, then per elementary stream a queue, a
 * decodebin and an appsink: video as RGB, audio as mono F32. A probe on
 * each parsebin pad sees the encoded buffers (codec, count, the first
 * frame's keyframe flag as the container gives it and, for VP8, as its
 * bitstream says). The decoded frames give each frame's mean colour; the
 * decoded audio gives its level in 1 ms windows.
 *
 * Output:
 *   {"file":..., "duration_ms": the container's duration (null if none),
 *    "streams":[{"type":"video"|"audio","caps":"video/x-vp8","codec":"VP8",
 *                "buffers":N,"first_ms":T,"end_ms":T,"first_keyframe":B,
 *                "decoded":N,"width":W,"height":H (video),"rate":R (audio)}],
 *    "frames_at":[{"at_ms":T,"pts_ms":T,"rgb":[R,G,B]}]   (one per --at),
 *    "mean_rgb":[R,G,B] (all decoded frames),
 *    "flashes_ms":[T...]  frames whose mean luma rises past 128 from below,
 *    "beeps_ms":[T...]    1 ms windows whose RMS rises past 0.05 (of full
 *                         scale) after at least 100 ms below it,
 *    "gaps_ms":{"video":[[from,to]...],"audio":[...]}  decoded-time holes
 *                         longer than 250 ms,
 *    "jumps_ms":{"video":[[at,off]...],"audio":[...]}  buffers that start OFF
 *                         ms away from where the previous one said the next
 *                         would (video: > 20 ms, audio: > 2 ms; not gaps)}
 * Times are stream times in ms (from the start of the file's timeline).
 * Exit status: 0 when the file decoded to the end, 1 on a decoding error
 * (the JSON then has "error"), 2 on a usage error.
 *
 * Single process, main thread plus GStreamer's streaming threads; the
 * appsink callbacks write per-stream state behind one mutex.
 */
#include <gst/app/gstappsink.h>
#include <gst/audio/audio.h>
#include <gst/gst.h>
#include <gst/pbutils/pbutils.h>
#include <gst/video/video.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW_MS     1
#define BEEP_RMS      0.05
#define BEEP_QUIET_MS 100
#define FLASH_LUMA    128.0
#define GAP_MS        250

typedef struct frame_stat {
	double pts_ms;
	double rgb[3];
} frame_stat;

typedef struct stream {
	gboolean video;
	char *caps;
	char *codec;
	guint buffers;
	double first_ms, end_ms;
	gboolean first_seen, first_keyframe;
	guint decoded;
	int width, height, rate;
	double last_decoded_end_ms; /* for gaps */
	double last_decoded_start_ms;
	double last_step_ms; /* video: between the last two frames; < 0 before */
	json_t *gaps;
	json_t *jumps; /* [at, step] where the timeline does not advance as it should */
} stream;

typedef struct probe {
	GMutex lock; /* everything below */
	GMainLoop *loop;
	GstElement *pipeline;
	GPtrArray *streams;   /* stream * */
	GArray *frames;       /* frame_stat, in decode order */
	GArray *windows;      /* double: sum of squares per WINDOW_MS window */
	GArray *window_count; /* guint: samples per window */
	char *error;
} probe;

static probe P;

static double ns_to_ms(GstClockTime t)
{
	return GST_CLOCK_TIME_IS_VALID(t) ? (double)t / GST_MSECOND : -1;
}

/* ---- encoded side (parsebin pads) ---- */

static gboolean vp8_keyframe(GstBuffer *buf)
{
	guint8 tag = 0;
	/* VP8 frame tag (RFC 6386 9.1): bit 0 clear means a key frame. */
	return gst_buffer_extract(buf, 0, &tag, 1) == 1 && !(tag & 1);
}

static GstPadProbeReturn encoded_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
	(void)pad;
	stream *st = user;
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	GstClockTime pts = GST_BUFFER_PTS(buf);
	GstClockTime dur = GST_BUFFER_DURATION(buf);
	g_mutex_lock(&P.lock);
	st->buffers++;
	if (GST_CLOCK_TIME_IS_VALID(pts)) {
		double start = ns_to_ms(pts);
		double end = GST_CLOCK_TIME_IS_VALID(dur) ? ns_to_ms(pts + dur) : start;
		if (!st->first_seen) {
			st->first_seen = TRUE;
			st->first_ms = start;
			st->first_keyframe =
				!GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
			if (st->video && st->caps && strcmp(st->caps, "video/x-vp8") == 0)
				st->first_keyframe = st->first_keyframe && vp8_keyframe(buf);
		}
		st->first_ms = MIN(st->first_ms, start);
		st->end_ms = MAX(st->end_ms, end);
	}
	g_mutex_unlock(&P.lock);
	return GST_PAD_PROBE_OK;
}

/* ---- decoded side (appsinks) ---- */

/* Notes a decoded buffer [START_MS, END_MS): a hole longer than GAP_MS
 * since the previous one is a gap; otherwise a step that is not what was
 * due (audio: the previous buffer's end, ± 2 ms; video: the step between
 * the two frames before, ± 20 ms) is a jump (the timeline moved). */
static void note_gap(stream *st, double start_ms, double end_ms)
{
	double step = start_ms - st->last_decoded_start_ms;
	if (st->decoded > 0 && start_ms - st->last_decoded_end_ms > GAP_MS) {
		json_array_append_new(st->gaps,
				      json_pack("[f,f]", st->last_decoded_end_ms, start_ms));
	} else if (st->decoded > 0 && json_array_size(st->jumps) < 64) {
		double off = !st->video        ? start_ms - st->last_decoded_end_ms
			     : st->decoded > 1 ? step - st->last_step_ms
					       : 0;
		if (fabs(off) > (st->video ? 20 : 2))
			json_array_append_new(st->jumps, json_pack("[f,f]", start_ms, off));
	}
	st->last_step_ms = step;
	st->last_decoded_end_ms = MAX(st->last_decoded_end_ms, end_ms);
	st->last_decoded_start_ms = start_ms;
	st->decoded++;
}

static void video_frame(stream *st, GstSample *sample)
{
	GstVideoInfo vi;
	GstVideoFrame frame;
	GstBuffer *buf = gst_sample_get_buffer(sample);
	if (!gst_video_info_from_caps(&vi, gst_sample_get_caps(sample)) ||
	    !gst_video_frame_map(&frame, &vi, buf, GST_MAP_READ))
		return;
	double sum[3] = {0, 0, 0};
	guint n = 0;
	const guint8 *data = GST_VIDEO_FRAME_PLANE_DATA(&frame, 0);
	int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0);
	for (int y = 0; y < GST_VIDEO_FRAME_HEIGHT(&frame); y += 2) {
		for (int x = 0; x < GST_VIDEO_FRAME_WIDTH(&frame); x += 2) {
			const guint8 *px = data + (gsize)y * stride + (gsize)x * 3;
			sum[0] += px[0];
			sum[1] += px[1];
			sum[2] += px[2];
			n++;
		}
	}
	frame_stat fs = {.pts_ms = ns_to_ms(GST_BUFFER_PTS(buf))};
	for (int c = 0; c < 3; c++)
		fs.rgb[c] = n ? sum[c] / n : 0;
	double end = GST_BUFFER_DURATION_IS_VALID(buf)
			     ? fs.pts_ms + ns_to_ms(GST_BUFFER_DURATION(buf))
			     : fs.pts_ms;
	g_mutex_lock(&P.lock);
	st->width = GST_VIDEO_FRAME_WIDTH(&frame);
	st->height = GST_VIDEO_FRAME_HEIGHT(&frame);
	note_gap(st, fs.pts_ms, end);
	g_array_append_val(P.frames, fs);
	g_mutex_unlock(&P.lock);
	gst_video_frame_unmap(&frame);
}

static void audio_buffer(stream *st, GstSample *sample)
{
	GstAudioInfo ai;
	GstMapInfo map;
	GstBuffer *buf = gst_sample_get_buffer(sample);
	if (!gst_audio_info_from_caps(&ai, gst_sample_get_caps(sample)) ||
	    !GST_BUFFER_PTS_IS_VALID(buf) || !gst_buffer_map(buf, &map, GST_MAP_READ))
		return;
	int rate = GST_AUDIO_INFO_RATE(&ai);
	const float *x = (const float *)map.data;
	gsize n = map.size / sizeof(float);
	guint64 first = gst_util_uint64_scale_round(GST_BUFFER_PTS(buf), rate, GST_SECOND);
	guint64 per_window = (guint64)rate * WINDOW_MS / 1000;
	g_mutex_lock(&P.lock);
	st->rate = rate;
	note_gap(st, ns_to_ms(GST_BUFFER_PTS(buf)),
		 ns_to_ms(GST_BUFFER_PTS(buf)) + 1000.0 * n / rate);
	for (gsize i = 0; i < n && per_window > 0; i++) {
		guint w = (guint)((first + i) / per_window);
		if (w >= 24u * 3600 * 1000 / WINDOW_MS)
			break;
		if (w >= P.windows->len) {
			g_array_set_size(P.windows, w + 1);
			g_array_set_size(P.window_count, w + 1);
		}
		g_array_index(P.windows, double, w) += (double)x[i] * x[i];
		g_array_index(P.window_count, guint, w)++;
	}
	g_mutex_unlock(&P.lock);
	gst_buffer_unmap(buf, &map);
}

static GstFlowReturn on_sample(GstAppSink *sink, gpointer user)
{
	stream *st = user;
	GstSample *sample = gst_app_sink_pull_sample(sink);
	if (!sample)
		return GST_FLOW_EOS;
	if (st->video)
		video_frame(st, sample);
	else
		audio_buffer(st, sample);
	gst_sample_unref(sample);
	return GST_FLOW_OK;
}

/* decodebin's decoded pad: convert, then the stream's appsink. */
static void on_decoded_pad(GstElement *decodebin, GstPad *pad, gpointer user)
{
	stream *st = user;
	GstElement *bin = GST_ELEMENT(gst_element_get_parent(decodebin));
	const char *desc =
		st->video
			? "videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false"
			: "audioconvert ! audio/x-raw,format=F32LE,channels=1,layout=interleaved ! "
			  "appsink name=sink sync=false";
	GError *err = NULL;
	GstElement *tail = gst_parse_bin_from_description(desc, TRUE, &err);
	if (!tail) {
		g_printerr("rec-probe: %s\n", err->message);
		g_clear_error(&err);
		gst_object_unref(bin);
		return;
	}
	GstElement *sink = gst_bin_get_by_name(GST_BIN(tail), "sink");
	GstAppSinkCallbacks cb = {.new_sample = on_sample};
	gst_app_sink_set_callbacks(GST_APP_SINK(sink), &cb, st, NULL);
	g_object_set(sink, "async", FALSE, NULL);
	gst_object_unref(sink);
	gst_bin_add(GST_BIN(bin), tail);
	GstPad *sinkpad = gst_element_get_static_pad(tail, "sink");
	if (gst_pad_link(pad, sinkpad) != GST_PAD_LINK_OK)
		g_printerr("rec-probe: cannot link a decoded %s pad\n",
			   st->video ? "video" : "audio");
	gst_object_unref(sinkpad);
	gst_element_sync_state_with_parent(tail);
	gst_object_unref(bin);
}

/* parsebin's pad: one elementary stream. */
static void on_parsed_pad(GstElement *parsebin, GstPad *pad, gpointer user)
{
	(void)parsebin;
	(void)user;
	GstCaps *caps = gst_pad_get_current_caps(pad);
	if (!caps)
		caps = gst_pad_query_caps(pad, NULL);
	const GstStructure *s = gst_caps_get_structure(caps, 0);
	const char *name = gst_structure_get_name(s);
	gboolean video = g_str_has_prefix(name, "video/");
	if (!video && !g_str_has_prefix(name, "audio/")) {
		gst_caps_unref(caps);
		return;
	}
	stream *st = g_new0(stream, 1);
	st->video = video;
	st->caps = g_strdup(name);
	st->codec = gst_pb_utils_get_codec_description(caps);
	st->gaps = json_array();
	st->jumps = json_array();
	gst_caps_unref(caps);
	g_mutex_lock(&P.lock);
	g_ptr_array_add(P.streams, st);
	g_mutex_unlock(&P.lock);
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, encoded_probe, st, NULL);

	/* Unbounded queue: one stream may start well after the other (video
	 * waits for a keyframe); a bounded one would stall the demuxer. */
	GstElement *queue = gst_element_factory_make("queue", NULL);
	GstElement *dec = gst_element_factory_make("decodebin", NULL);
	g_object_set(queue, "max-size-buffers", 0, "max-size-bytes", 0, "max-size-time", (guint64)0,
		     NULL);
	g_signal_connect(dec, "pad-added", G_CALLBACK(on_decoded_pad), st);
	gst_bin_add_many(GST_BIN(P.pipeline), queue, dec, NULL);
	gst_element_link(queue, dec);
	GstPad *qsink = gst_element_get_static_pad(queue, "sink");
	gst_pad_link(pad, qsink);
	gst_object_unref(qsink);
	gst_element_sync_state_with_parent(dec);
	gst_element_sync_state_with_parent(queue);
}

static gboolean on_bus(GstBus *bus, GstMessage *msg, gpointer user)
{
	(void)bus;
	(void)user;
	if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
		g_main_loop_quit(P.loop);
	} else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
		GError *err = NULL;
		char *dbg = NULL;
		gst_message_parse_error(msg, &err, &dbg);
		g_mutex_lock(&P.lock);
		if (!P.error)
			P.error = g_strdup_printf("%s: %s (%s)", GST_OBJECT_NAME(msg->src),
						  err->message, dbg ? dbg : "");
		g_mutex_unlock(&P.lock);
		g_clear_error(&err);
		g_free(dbg);
		g_main_loop_quit(P.loop);
	}
	return G_SOURCE_CONTINUE;
}

static gboolean on_timeout(gpointer user)
{
	(void)user;
	P.error = g_strdup("timed out decoding");
	g_main_loop_quit(P.loop);
	return G_SOURCE_REMOVE;
}

/* ---- analysis (after EOS) ---- */

static double luma(const double rgb[3])
{
	return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
}

static json_t *rgb_json(const double rgb[3])
{
	return json_pack("[f,f,f]", round(rgb[0] * 10) / 10, round(rgb[1] * 10) / 10,
			 round(rgb[2] * 10) / 10);
}

static json_t *flashes(void)
{
	json_t *out = json_array();
	for (guint i = 1; i < P.frames->len; i++) {
		frame_stat *prev = &g_array_index(P.frames, frame_stat, i - 1);
		frame_stat *cur = &g_array_index(P.frames, frame_stat, i);
		if (luma(prev->rgb) < FLASH_LUMA && luma(cur->rgb) >= FLASH_LUMA)
			json_array_append_new(out, json_real(cur->pts_ms));
	}
	return out;
}

static json_t *beeps(void)
{
	json_t *out = json_array();
	guint quiet = BEEP_QUIET_MS / WINDOW_MS; /* windows below the threshold so far */
	for (guint w = 0; w < P.windows->len; w++) {
		guint n = g_array_index(P.window_count, guint, w);
		double rms = n ? sqrt(g_array_index(P.windows, double, w) / n) : 0;
		if (rms >= BEEP_RMS) {
			if (quiet >= BEEP_QUIET_MS / WINDOW_MS)
				json_array_append_new(out, json_real((double)w * WINDOW_MS));
			quiet = 0;
		} else {
			quiet++;
		}
	}
	return out;
}

static json_t *frame_at(double at_ms)
{
	frame_stat *best = NULL;
	for (guint i = 0; i < P.frames->len; i++) {
		frame_stat *f = &g_array_index(P.frames, frame_stat, i);
		if (f->pts_ms <= at_ms && (!best || f->pts_ms > best->pts_ms))
			best = f;
	}
	if (!best)
		return json_pack("{s:f, s:n, s:n}", "at_ms", at_ms, "pts_ms", "rgb");
	return json_pack("{s:f, s:f, s:o}", "at_ms", at_ms, "pts_ms", best->pts_ms, "rgb",
			 rgb_json(best->rgb));
}

static json_t *report(const char *file, double *at, int n_at)
{
	gint64 dur = -1;
	json_t *out = json_pack("{s:s}", "file", file);
	if (gst_element_query_duration(P.pipeline, GST_FORMAT_TIME, &dur) && dur >= 0)
		json_object_set_new(out, "duration_ms", json_real(ns_to_ms((GstClockTime)dur)));
	else
		json_object_set_new(out, "duration_ms", json_null());
	json_t *streams = json_array();
	json_t *gaps = json_object();
	json_t *jumps = json_object();
	for (guint i = 0; i < P.streams->len; i++) {
		stream *st = g_ptr_array_index(P.streams, i);
		json_t *js =
			json_pack("{s:s, s:s, s:s, s:i, s:f, s:f, s:b, s:i}", "type",
				  st->video ? "video" : "audio", "caps", st->caps, "codec",
				  st->codec ? st->codec : "", "buffers", st->buffers, "first_ms",
				  st->first_ms, "end_ms", st->end_ms, "first_keyframe",
				  st->first_keyframe, "decoded", st->decoded);
		if (st->video) {
			json_object_set_new(js, "width", json_integer(st->width));
			json_object_set_new(js, "height", json_integer(st->height));
		} else {
			json_object_set_new(js, "rate", json_integer(st->rate));
		}
		json_array_append_new(streams, js);
		json_object_set(gaps, st->video ? "video" : "audio", st->gaps);
		json_object_set(jumps, st->video ? "video" : "audio", st->jumps);
	}
	json_object_set_new(out, "streams", streams);
	json_t *ats = json_array();
	for (int i = 0; i < n_at; i++)
		json_array_append_new(ats, frame_at(at[i]));
	json_object_set_new(out, "frames_at", ats);
	double mean[3] = {0, 0, 0};
	for (guint i = 0; i < P.frames->len; i++)
		for (int c = 0; c < 3; c++)
			mean[c] += g_array_index(P.frames, frame_stat, i).rgb[c] / P.frames->len;
	json_object_set_new(out, "mean_rgb", P.frames->len ? rgb_json(mean) : json_null());
	json_object_set_new(out, "flashes_ms", flashes());
	json_object_set_new(out, "beeps_ms", beeps());
	json_object_set_new(out, "gaps_ms", gaps);
	json_object_set_new(out, "jumps_ms", jumps);
	if (P.error)
		json_object_set_new(out, "error", json_string(P.error));
	return out;
}

int main(int argc, char **argv)
{
	gst_init(&argc, &argv);
	const char *file = NULL;
	double at[64];
	int n_at = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--at") == 0 && i + 1 < argc && n_at < (int)G_N_ELEMENTS(at)) {
			char *end = NULL;
			at[n_at++] = g_ascii_strtod(argv[++i], &end);
			if (end == argv[i] || *end) {
				fprintf(stderr, "rec-probe: --at takes milliseconds\n");
				return 2;
			}
		} else if (!file && argv[i][0] != '-') {
			file = argv[i];
		} else {
			fprintf(stderr, "usage: rec-probe FILE [--at MS]...\n");
			return 2;
		}
	}
	if (!file) {
		fprintf(stderr, "usage: rec-probe FILE [--at MS]...\n");
		return 2;
	}
	g_mutex_init(&P.lock);
	P.loop = g_main_loop_new(NULL, FALSE);
	P.streams = g_ptr_array_new();
	P.frames = g_array_new(FALSE, FALSE, sizeof(frame_stat));
	P.windows = g_array_new(FALSE, TRUE, sizeof(double));
	P.window_count = g_array_new(FALSE, TRUE, sizeof(guint));
	P.pipeline = gst_pipeline_new("rec-probe");
	GstElement *src = gst_element_factory_make("filesrc", NULL);
	GstElement *parse = gst_element_factory_make("parsebin", NULL);
	if (!src || !parse) {
		fprintf(stderr,
			"rec-probe: filesrc or parsebin missing (gstreamer1.0-plugins-base)\n");
		return 1;
	}
	g_object_set(src, "location", file, NULL);
	g_signal_connect(parse, "pad-added", G_CALLBACK(on_parsed_pad), NULL);
	gst_bin_add_many(GST_BIN(P.pipeline), src, parse, NULL);
	gst_element_link(src, parse);
	GstBus *bus = gst_element_get_bus(P.pipeline);
	gst_bus_add_watch(bus, on_bus, NULL);
	gst_object_unref(bus);
	g_timeout_add_seconds(120, on_timeout, NULL);
	gst_element_set_state(P.pipeline, GST_STATE_PLAYING);
	g_main_loop_run(P.loop);

	json_t *out = report(file, at, n_at);
	char *text = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(8));
	printf("%s\n", text);
	fflush(stdout);
	int code = P.error ? 1 : 0;
	free(text);
	json_decref(out);
	gst_element_set_state(P.pipeline, GST_STATE_NULL);
	return code;
}
