/* sources.c — tribu-client's test sources: what they show and play, so that
 * a recording can be checked against what was sent.
 *
 * tribu-client builds its sources as gst-launch bins (a videotestsrc and an
 * audiotestsrc each) and adds them to its pipeline when it starts to
 * publish. This file does not build them: it watches the pipeline's
 * "deep-element-added" signal and configures each test source as it
 * arrives, so tribu-client itself only calls sources_install().
 *
 *  - A solid colour: videotestsrc's solid-color pattern with that
 *    foreground colour. A recording's decoded frames then have that mean
 *    colour (within what VP8 and the colour conversions change).
 *  - "sync": black video and silent audio, except that every
 *    SOURCES_SYNC_PERIOD_MS of running time (the pipeline clock's, which
 *    both sources share and which webrtcbin maps to RTP timestamps and
 *    RTCP sender reports) every frame turns white and the audio carries a
 *    SOURCES_BEEP_HZ sine for SOURCES_SYNC_PULSE_MS. Buffer probes on the
 *    sources' src pads write the flash and the beep into the buffers whose
 *    running time falls in a pulse: frame-exact for video (the period is a
 *    whole number of frames at the usual rates), sample-exact for audio. In
 *    a recording whose audio and video are in sync, each flash and its beep
 *    then start at the same instant.
 *  - --mute-after: the first buffer either source produces (publishing has
 *    started) arms a main-loop timer; the caller's callback sends the
 *    signaling requests.
 *
 * Threads: sources_install() and the timers run on the main thread (the
 * default GMainContext); the probes run on the sources' streaming threads
 * and touch only their own pad's state (one streaming thread per source)
 * and one atomic flag.
 */
#include "sources.h"

#include <gst/audio/audio.h>
#include <gst/video/video.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { PATTERN_BALL, PATTERN_COLOUR, PATTERN_SYNC } pattern_kind;

typedef struct sources {
	pattern_kind kind;
	guint8 rgb[3];
	double mute_s, unmute_s; /* < 0: none */
	sources_mute_fn mute;
	gpointer user_data;
	gint armed; /* atomic: the mute timer is set */
	/* The video frame grid (running time of frame n = first + n·fps_d/fps_n
	 * s), written once by the video probe before any pulse (the first is
	 * one period in), read by the audio probe: pulses start on a frame. */
	gint grid_set; /* atomic; the fields below are valid once it is 1 */
	GstClockTime grid_first;
	int fps_n, fps_d;
} sources;

/* Per source pad (one streaming thread): its segment and caps. */
typedef struct pad_state {
	sources *s;
	gboolean video;
	GstSegment segment;
	gboolean have_info;
	GstVideoInfo vinfo;
	GstAudioInfo ainfo;
} pad_state;

static const struct {
	const char *name;
	guint8 rgb[3];
} colours[] = {
	{"black", {0, 0, 0}},      {"white", {255, 255, 255}}, {"grey", {128, 128, 128}},
	{"red", {255, 0, 0}},      {"green", {0, 255, 0}},     {"blue", {0, 0, 255}},
	{"yellow", {255, 255, 0}}, {"cyan", {0, 255, 255}},    {"magenta", {255, 0, 255}},
};

static gboolean parse_rgb(const char *text, guint8 rgb[3])
{
	char **parts = g_strsplit(text, ",", -1);
	gboolean ok = g_strv_length(parts) == 3;
	for (int i = 0; ok && i < 3; i++) {
		char *end = NULL;
		long v = strtol(parts[i], &end, 10);
		ok = end != parts[i] && *end == '\0' && v >= 0 && v <= 255;
		rgb[i] = (guint8)v;
	}
	g_strfreev(parts);
	return ok;
}

static gboolean parse_pattern(sources *s, const char *pattern)
{
	if (!pattern || strcmp(pattern, "ball") == 0) {
		s->kind = PATTERN_BALL;
		return TRUE;
	}
	if (strcmp(pattern, "sync") == 0) {
		s->kind = PATTERN_SYNC;
		return TRUE;
	}
	s->kind = PATTERN_COLOUR;
	for (size_t i = 0; i < G_N_ELEMENTS(colours); i++) {
		if (strcmp(pattern, colours[i].name) == 0) {
			memcpy(s->rgb, colours[i].rgb, 3);
			return TRUE;
		}
	}
	return parse_rgb(pattern, s->rgb);
}

static gboolean parse_seconds(const char *text, double *out)
{
	char *end = NULL;
	double v = g_ascii_strtod(text, &end);
	if (end == text || *end != '\0' || !(v >= 0 && v <= 3600))
		return FALSE;
	*out = v;
	return TRUE;
}

static gboolean parse_mute(sources *s, const char *spec)
{
	s->mute_s = s->unmute_s = -1;
	if (!spec)
		return TRUE;
	char **parts = g_strsplit(spec, ":", -1);
	guint n = g_strv_length(parts);
	gboolean ok = (n == 1 || n == 2) && parse_seconds(parts[0], &s->mute_s) &&
		      (n == 1 || parse_seconds(parts[1], &s->unmute_s));
	g_strfreev(parts);
	return ok;
}

/* ---- mute timers (main thread) ---- */

static gboolean unmute_due(gpointer user)
{
	sources *s = user;
	g_printerr("tribu-client: unmuting audio and video (--mute-after)\n");
	s->mute(FALSE, s->user_data);
	return G_SOURCE_REMOVE;
}

static gboolean mute_due(gpointer user)
{
	sources *s = user;
	g_printerr("tribu-client: muting audio and video (--mute-after)\n");
	s->mute(TRUE, s->user_data);
	if (s->unmute_s >= 0)
		g_timeout_add((guint)(s->unmute_s * 1000), unmute_due, s);
	return G_SOURCE_REMOVE;
}

/* Any streaming thread: the first buffer arms the mute timer, once. */
static void arm_mute(sources *s)
{
	if (s->mute_s >= 0 && g_atomic_int_compare_and_exchange(&s->armed, 0, 1))
		g_timeout_add((guint)(s->mute_s * 1000), mute_due, s); /* the default context */
}

/* ---- the sync pulse ---- */

/* The running time at which pulse K (≥ 1) starts: the first video frame at
 * or after K periods (a live videotestsrc started mid-pipeline puts its
 * frames anywhere on the clock), or K periods exactly without video. */
static GstClockTime pulse_start(sources *s, guint64 k)
{
	GstClockTime at = k * SOURCES_SYNC_PERIOD_MS * GST_MSECOND;
	if (!g_atomic_int_get(&s->grid_set) || at <= s->grid_first)
		return at;
	guint64 step_num = (guint64)s->fps_d * GST_SECOND;
	guint64 n = gst_util_uint64_scale_ceil(at - s->grid_first, s->fps_n, step_num);
	return s->grid_first + gst_util_uint64_scale(n, step_num, s->fps_n);
}

/* Whether running time RT (ns) lies in a pulse. Pulse K starts within a
 * frame of K periods and is shorter than a period, so K = RT / period. */
static gboolean in_pulse(sources *s, GstClockTime rt)
{
	guint64 k = rt / (SOURCES_SYNC_PERIOD_MS * GST_MSECOND);
	if (k < 1)
		return FALSE;
	GstClockTime start = pulse_start(s, k);
	return rt >= start && rt < start + SOURCES_SYNC_PULSE_MS * GST_MSECOND;
}

/* The 8-bit value of each component of FINFO for the colour RGB. */
static void component_values(const GstVideoFormatInfo *finfo, const guint8 rgb[3], guint8 out[4])
{
	if (GST_VIDEO_FORMAT_INFO_IS_YUV(finfo)) {
		/* BT.601, limited range: what videotestsrc and videoconvert use. */
		double r = rgb[0], g = rgb[1], b = rgb[2];
		out[0] = (guint8)lround(16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255);
		out[1] = (guint8)lround(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255);
		out[2] = (guint8)lround(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255);
	} else {
		memcpy(out, rgb, 3);
	}
	out[3] = 255; /* alpha */
}

/* Fills FRAME with RGB; any 8-bit-per-component format. */
static gboolean fill_frame(GstVideoFrame *frame, const guint8 rgb[3])
{
	const GstVideoFormatInfo *finfo = frame->info.finfo;
	if (GST_VIDEO_FORMAT_INFO_BITS(finfo) != 8 || GST_VIDEO_FORMAT_INFO_N_COMPONENTS(finfo) > 4)
		return FALSE;
	guint8 values[4];
	component_values(finfo, rgb, values);
	for (guint c = 0; c < GST_VIDEO_FORMAT_INFO_N_COMPONENTS(finfo); c++) {
		guint8 *data = GST_VIDEO_FRAME_COMP_DATA(frame, c);
		int stride = GST_VIDEO_FRAME_COMP_STRIDE(frame, c);
		int pstride = GST_VIDEO_FRAME_COMP_PSTRIDE(frame, c);
		int w = GST_VIDEO_FRAME_COMP_WIDTH(frame, c);
		int h = GST_VIDEO_FRAME_COMP_HEIGHT(frame, c);
		guint8 v = GST_VIDEO_FORMAT_INFO_HAS_ALPHA(finfo) && c == 3 ? 255 : values[c];
		for (int y = 0; y < h; y++) {
			guint8 *row = data + (gsize)y * stride;
			for (int x = 0; x < w; x++)
				row[(gsize)x * pstride] = v;
		}
	}
	return TRUE;
}

static void flash(pad_state *ps, GstBuffer *buf)
{
	static const guint8 white[3] = {255, 255, 255};
	GstVideoFrame frame;
	if (!ps->have_info || !gst_video_frame_map(&frame, &ps->vinfo, buf, GST_MAP_WRITE))
		return;
	if (!fill_frame(&frame, white))
		g_printerr("tribu-client: cannot draw a flash in %s\n",
			   GST_VIDEO_INFO_NAME(&ps->vinfo));
	gst_video_frame_unmap(&frame);
}

/* Writes the beep into the samples of BUF (running time RT) that lie in a
 * pulse, silence elsewhere; interleaved S16/S32/F32/F64. */
static void beep(pad_state *ps, GstBuffer *buf, GstClockTime rt)
{
	const GstAudioInfo *ai = &ps->ainfo;
	int rate = GST_AUDIO_INFO_RATE(ai), channels = GST_AUDIO_INFO_CHANNELS(ai);
	GstAudioFormat fmt = GST_AUDIO_INFO_FORMAT(ai);
	GstMapInfo map;
	if (!ps->have_info || rate <= 0 || channels <= 0 ||
	    !gst_buffer_map(buf, &map, GST_MAP_WRITE))
		return;
	const guint64 period = (guint64)rate * SOURCES_SYNC_PERIOD_MS / 1000;
	const guint64 pulse = (guint64)rate * SOURCES_SYNC_PULSE_MS / 1000;
	guint64 first = gst_util_uint64_scale_round(rt, rate, GST_SECOND);
	gsize frames = map.size / GST_AUDIO_INFO_BPF(ai);
	guint64 k = G_MAXUINT64, start = 0; /* the pulse of the current period, in samples */
	for (gsize i = 0; i < frames; i++) {
		guint64 n = first + i;
		double v = 0;
		if (n / period != k) {
			k = n / period;
			start = k ? gst_util_uint64_scale_round(pulse_start(ps->s, k), rate,
								GST_SECOND)
				  : G_MAXUINT64;
		}
		if (n >= start && n - start < pulse)
			v = 0.5 * sin(2 * G_PI * SOURCES_BEEP_HZ * (double)(n - start) / rate);
		for (int c = 0; c < channels; c++) {
			gsize j = i * channels + c;
			switch (fmt) {
			case GST_AUDIO_FORMAT_S16:
				((gint16 *)map.data)[j] = (gint16)lround(v * 32767);
				break;
			case GST_AUDIO_FORMAT_S32:
				((gint32 *)map.data)[j] = (gint32)lround(v * 2147483647.0);
				break;
			case GST_AUDIO_FORMAT_F32:
				((float *)map.data)[j] = (float)v;
				break;
			case GST_AUDIO_FORMAT_F64:
				((double *)map.data)[j] = v;
				break;
			default:
				break;
			}
		}
	}
	gst_buffer_unmap(buf, &map);
}

static GstPadProbeReturn source_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user)
{
	(void)pad;
	pad_state *ps = user;
	if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
		GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
		if (GST_EVENT_TYPE(ev) == GST_EVENT_SEGMENT) {
			gst_event_copy_segment(ev, &ps->segment);
		} else if (GST_EVENT_TYPE(ev) == GST_EVENT_CAPS) {
			GstCaps *caps = NULL;
			gst_event_parse_caps(ev, &caps);
			ps->have_info = ps->video ? gst_video_info_from_caps(&ps->vinfo, caps)
						  : gst_audio_info_from_caps(&ps->ainfo, caps);
			if (!ps->have_info)
				g_printerr("tribu-client: the %s source has caps the sync pattern "
					   "cannot draw on\n",
					   ps->video ? "video" : "audio");
		}
		return GST_PAD_PROBE_OK;
	}
	arm_mute(ps->s);
	if (ps->s->kind != PATTERN_SYNC)
		return GST_PAD_PROBE_OK;
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	GstClockTime rt =
		gst_segment_to_running_time(&ps->segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buf));
	if (!GST_CLOCK_TIME_IS_VALID(rt))
		return GST_PAD_PROBE_OK;
	if (ps->video && !g_atomic_int_get(&ps->s->grid_set) && ps->have_info &&
	    GST_VIDEO_INFO_FPS_N(&ps->vinfo) > 0 && GST_VIDEO_INFO_FPS_D(&ps->vinfo) > 0) {
		ps->s->grid_first = rt;
		ps->s->fps_n = GST_VIDEO_INFO_FPS_N(&ps->vinfo);
		ps->s->fps_d = GST_VIDEO_INFO_FPS_D(&ps->vinfo);
		g_atomic_int_set(&ps->s->grid_set, 1);
	}
	if (ps->video && !in_pulse(ps->s, rt))
		return GST_PAD_PROBE_OK;
	buf = gst_buffer_make_writable(buf);
	GST_PAD_PROBE_INFO_DATA(info) = buf;
	if (ps->video)
		flash(ps, buf);
	else
		beep(ps, buf, rt);
	return GST_PAD_PROBE_OK;
}

static void watch_source(sources *s, GstElement *src, gboolean video)
{
	GstPad *pad = gst_element_get_static_pad(src, "src");
	if (!pad)
		return;
	pad_state *ps = g_new0(pad_state, 1);
	ps->s = s;
	ps->video = video;
	gst_segment_init(&ps->segment, GST_FORMAT_TIME);
	gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
			  source_probe, ps, g_free);
	gst_object_unref(pad);
}

static void on_element_added(GstBin *pipeline, GstBin *bin, GstElement *element, gpointer user)
{
	(void)pipeline;
	(void)bin;
	sources *s = user;
	GstElementFactory *f = gst_element_get_factory(element);
	const char *name = f ? gst_plugin_feature_get_name(GST_PLUGIN_FEATURE(f)) : "";
	gboolean video = strcmp(name, "videotestsrc") == 0;
	if (!video && strcmp(name, "audiotestsrc") != 0)
		return;
	if (video && s->kind != PATTERN_BALL) {
		const guint8 *rgb = s->kind == PATTERN_SYNC ? (const guint8[3]){0, 0, 0} : s->rgb;
		gst_util_set_object_arg(G_OBJECT(element), "pattern", "solid-color");
		g_object_set(
			element, "foreground-color",
			(guint)(0xff000000u | (guint)rgb[0] << 16 | (guint)rgb[1] << 8 | rgb[2]),
			NULL);
	} else if (!video && s->kind == PATTERN_SYNC) {
		gst_util_set_object_arg(G_OBJECT(element), "wave", "silence");
	}
	watch_source(s, element, video);
}

gboolean sources_install(GstElement *pipeline, const char *pattern, const char *mute_after,
			 sources_mute_fn mute, gpointer user_data, char **error)
{
	sources *s = g_new0(sources, 1); /* lives as long as the process */
	if (!parse_pattern(s, pattern)) {
		*error = g_strdup_printf(
			"--pattern takes ball, sync, a colour name or R,G,B (0..255), not %s",
			pattern);
		g_free(s);
		return FALSE;
	}
	if (!parse_mute(s, mute_after) || (mute_after && !mute)) {
		*error = g_strdup_printf("--mute-after takes S or S:D (seconds, 0..3600), not %s",
					 mute_after);
		g_free(s);
		return FALSE;
	}
	s->mute = mute;
	s->user_data = user_data;
	if (s->kind != PATTERN_BALL || s->mute_s >= 0)
		g_signal_connect(pipeline, "deep-element-added", G_CALLBACK(on_element_added), s);
	return TRUE;
}
