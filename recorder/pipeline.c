/* pipeline.c — one participant's recording: RTP in, a WebM/Matroska file out.
 *
 * Per track: appsrc (RTP, timestamped with the caller's arrival times) ->
 * rtpjitterbuffer -> depayloader -> parser -> webmmux/matroskamux ->
 * filesink. No transcoding. One pipeline per file, so a failing disk or a
 * broken stream ends that file only.
 *
 * Threads:
 * - tb_recording_push_rtp runs on the media worker that owns the publisher.
 *   It copies the packet into a GstBuffer and adds it to its track's batch;
 *   a batch goes to appsrc, which queues it for its own streaming thread,
 *   once it holds BATCH_US of arrivals (or BATCH_MAX packets): each
 *   streaming thread then wakes ~10 times a second instead of once a packet
 *   (the hand-offs, not the muxing, were most of a recording's cost:
 *   bench/recording-cost.py, 0.8 -> 0.5 % of a core per stream). No
 *   lock of ours, no I/O, no callout; a full queue drops the packet. A
 *   batch older than BATCH_US is sent at the next push of any track (a
 *   paused camera's last packets go while the audio goes on), and by
 *   tb_recording_stop when called on the pushing thread.
 * - GStreamer's streaming threads (one per appsrc, one per jitter buffer)
 *   run the elements and the pad probes below; the probes touch only
 *   atomics and their own track's fields (the first buffer of the file also
 *   takes `lock`, once).
 * - The callbacks' context (the main thread) starts the pipeline, watches
 *   its bus, runs the keyframe timer and calls the callbacks.
 * - A short-lived helper thread per recording takes the pipeline down to
 *   NULL at the end (that waits for the streaming threads and the last
 *   writes), so the main loop never waits on disk.
 *
 * Timestamps: the pipeline runs on the monotonic system clock with its base
 * time set to the recording's creation, so running time = arrival time -
 * creation, the same base for every track of the participant: audio and
 * video stay in sync as they arrived. Arrival is smoothed per track first
 * (smooth_arrival): a packet that came late after a stall keeps the time
 * its RTP timestamp gives it on the least-delay line, so bursts do not
 * bunch up or shift the file's timeline. The muxer's offset-to-zero then makes
 * the file start at 0. Silence and loss leave gaps, not a shifted timeline.
 *
 * Crash safety (measured by tests/unit/recorder/test-recording.c, kill -9
 * of a recording process 3 s in): the muxer is not "streamable", so a clean
 * stop writes duration, cues and seek head. max-cluster-duration is 1 s, and
 * closing a cluster seeks back to patch its size, which flushes filesink's
 * buffer; the header's Duration is rewritten in place once a second (see
 * patch_duration). A kill -9 leaves every cluster but the last intact: the
 * file plays up to about 0.5-1 s before the kill (2.49 s of 3.0 s) and
 * states a duration within about a second of the truth (GstDiscoverer: 2.97
 * s). It has no cues (seeking scans) until tb_recording_repair remuxes it
 * (2.51 s, cues, seekable; ~0.1 s of work for that file).
 *
 * Pauses: the muxer (collectpads in GStreamer 1.22) writes in timestamp
 * order and waits for every track: while one track sends nothing (a camera
 * muted on the server or stopped with replaceTrack(null)), the others would
 * wait in memory until it resumes. GAP events do not help: matroskamux's
 * audio/video pads are "locked" waiting pads. So a track that has been
 * given nothing for IDLE_END_US while another track of the file goes on is
 * ended (EOS on its appsrc): the others reach the disk again, and the
 * track's next packet gets TB_ECONFLICT from push_rtp, telling the caller
 * to go on in the next file. The last track still going is never ended.
 *
 * It does not decide what to record or name files (rooms/ and server/ do),
 * does not talk to the catalog (the caller writes the row from finished),
 * and does not send PLIs (need_keyframe asks the caller to).
 */
#include "common.h"
#include "recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG "rec"

#define JITTER_LATENCY_MS    200
#define TRACK_QUEUE_BYTES    (1024 * 1024)    /* ~4 s of 2 Mbit/s video */
#define CLUSTER_MAX_NS       (1 * GST_SECOND) /* what a kill -9 may lose, about */
#define TICK_MS              500
#define DURATION_PATCH_TICKS 2 /* header's Duration kept current every second */
#define KEYFRAME_RETRY_US    (1 * G_USEC_PER_SEC)
#define REPAIR_IDLE_TIMEOUT  (60 * GST_SECOND)
/* See "Pauses" above: a camera muted for a moment leaves a hole in the same
 * file; one off for longer than this does not keep the audio off the disk
 * (a crash would lose it) and comes back in the next file. */
#define IDLE_END_US (10 * G_USEC_PER_SEC)
/* Audio waits this long at most for the file's first video keyframe. */
#define AUDIO_WAIT_NS     (3 * GST_SECOND)
#define DRIFT_PPM         200 /* how fast two clocks may drift apart */
#define REANCHOR_LATE_US  (500 * 1000)
#define REANCHOR_AFTER_US (2 * G_USEC_PER_SEC)
/* Packets go to appsrc in batches this old at most (within the jitter
 * buffer's latency, so a batch's packets are not taken for lost), or this
 * many. */
#define BATCH_US  (100 * 1000)
#define BATCH_MAX 64
G_STATIC_ASSERT(BATCH_US / 1000 < JITTER_LATENCY_MS);

G_DEFINE_QUARK(tb - recorder - error - quark, tb_recorder_error)

/* ---- codecs ---- */

enum codec { CODEC_OPUS, CODEC_VP8, CODEC_VP9, CODEC_H264, N_CODECS };

static const struct codec_def {
	const char *name; /* as in SDP and the catalog */
	tb_recording_kind kind;
	const char *encoding_name; /* RTP caps */
	const char *depay;
	const char *parse; /* NULL: the depayloader's output goes to the muxer */
	bool webm;         /* WebM may hold it */
} codec_defs[N_CODECS] = {
	[CODEC_OPUS] = {"opus", TB_RECORDING_AUDIO, "OPUS", "rtpopusdepay", "opusparse", true},
	[CODEC_VP8] = {"VP8", TB_RECORDING_VIDEO, "VP8", "rtpvp8depay", NULL, true},
	[CODEC_VP9] = {"VP9", TB_RECORDING_VIDEO, "VP9", "rtpvp9depay", NULL, true},
	[CODEC_H264] = {"H264", TB_RECORDING_VIDEO, "H264", "rtph264depay", "h264parse", false},
};

static const char *const required_elements[] = {
	"appsrc",        "rtpjitterbuffer", "rtpopusdepay", "opusparse", "rtpvp8depay",
	"rtpvp9depay",   "rtph264depay",    "h264parse",    "webmmux",   "matroskamux",
	"matroskademux", "filesink",        "filesrc",      "fakesink",  "queue",
};

static int codec_from_name(const char *name)
{
	for (int i = 0; name && i < N_CODECS; i++)
		if (g_ascii_strcasecmp(name, codec_defs[i].name) == 0)
			return i;
	return -1;
}

/* Checks a track description; returns its codec or -1 with ERROR. */
static int check_track(const tb_recording_track *t, GError **error)
{
	int codec = t ? codec_from_name(t->codec) : -1;

	if (codec < 0) {
		g_set_error(error, TB_RECORDER_ERROR, TB_EINVAL, "unsupported codec \"%s\"",
			    t && t->codec ? t->codec : "(null)");
		return -1;
	}
	if (codec_defs[codec].kind != t->kind) {
		g_set_error(error, TB_RECORDER_ERROR, TB_EINVAL, "codec %s is not %s",
			    codec_defs[codec].name,
			    t->kind == TB_RECORDING_AUDIO ? "audio" : "video");
		return -1;
	}
	if (t->payload_type < 0 || t->payload_type > 127 || t->clock_rate <= 0) {
		g_set_error(error, TB_RECORDER_ERROR, TB_EINVAL,
			    "bad payload type %d or clock rate %d", t->payload_type, t->clock_rate);
		return -1;
	}
	return codec;
}

/* ---- the recording ---- */

enum phase {
	PHASE_NEW,       /* built; the start task is posted */
	PHASE_RUNNING,   /* PLAYING (or trying to) */
	PHASE_STOPPING,  /* EOS sent; waiting for it at the bus */
	PHASE_FINISHING, /* the helper thread takes the pipeline down */
	PHASE_DONE,      /* finished has been called */
};

enum outcome { OUTCOME_EOS, OUTCOME_ERROR, OUTCOME_TIMEOUT };

/* What the probes learn of one muxer input (also used by the repair). */
typedef struct mux_input {
	GstClockTime first_pts; /* NONE until the first buffer */
	GstClockTime end_pts;
	int width, height;
	bool caps_fixed; /* a caps event went to the muxer; later ones are dropped */
	bool is_video;
} mux_input;

typedef struct track {
	tb_recording *rec; /* no ref: the recording owns its tracks */
	size_t index;
	enum codec codec;
	int payload_type;
	int clock_rate;
	GstElement *appsrc; /* owned by the pipeline */
	GstPad *mux_pad;    /* request pad (ref) */
	mux_input in;       /* written by this track's streaming thread */
	atomic_int have_keyframe;
	atomic_int want_keyframe; /* the depayloader asked (packet loss) */
	int64_t last_request_us;  /* context thread */
	struct {                  /* smooth_arrival; the pushing thread only */
		bool init;
		uint32_t last_rtp;  /* newest RTP timestamp seen */
		int64_t ext_rtp;    /* LAST_RTP, extended past wraps */
		int64_t offset_us;  /* arrival - media time, the least seen (drifting) */
		int64_t offset_at;  /* arrival when OFFSET_US was last lowered */
		int64_t late_since; /* first of a run of packets far behind the line */
	} sm;
	struct { /* packets taken, not yet given to appsrc; the pushing thread only */
		GstBufferList *list;
		int64_t first_us; /* arrival of its first packet */
		size_t bytes;
	} batch;
	atomic_int_fast64_t last_push_us; /* arrival of the last packet taken */
	atomic_int ended;                 /* idle: EOS sent (see "Pauses") */
	atomic_uint_fast64_t packets;
	atomic_uint_fast64_t dropped;
} track;

struct tb_recording {
	gint refcount;
	char *path;
	char *name; /* "<session>/<file>" for logs */
	tb_recording_callbacks cb;
	void *user_data;
	GMainContext *context; /* ref */
	GstElement *pipeline;  /* ref */
	GstElement *mux;
	bool webm;
	int64_t start_us; /* running time 0 */

	/* Slots are filled before n_tracks is published (release); readers
	 * load n_tracks (acquire) and then read only slots below it. */
	track *tracks[TB_RECORDING_MAX_TRACKS];
	atomic_size_t n_tracks;
	GThread *pusher;      /* the thread that pushes (set at its first push) */
	atomic_int accepting; /* push_rtp may hand packets to appsrc */
	atomic_int started;   /* accepting was set once: a 0 now means over */
	atomic_int data_started;
	/* Earliest start and latest end of media given to the muxer (ns of
	 * running time; UINT64_MAX / 0 when none), for the live Duration. */
	atomic_uint_fast64_t media_first_ns;
	atomic_uint_fast64_t media_end_ns;
	/* Running time of the file's first video keyframe (UINT64_MAX: none
	 * yet) and of the first audio buffer that waited for it. */
	atomic_uint_fast64_t video_start_ns;
	atomic_uint_fast64_t audio_wait_from_ns;

	/* `lock` guards phase, stop_requested, data_started's transition and
	 * adding tracks. Never held while calling out; taken after a sink pad's
	 * stream lock (in the probe), never the other way round. */
	GMutex lock;
	enum phase phase;
	bool stop_requested;
	enum outcome outcome;
	char *error; /* first error (transfer full) */

	/* context thread only */
	int header_fd;           /* to patch Duration; -1: not open */
	int64_t duration_offset; /* of the Duration float in the file; 0: unknown */
	unsigned int ticks;
	GSource *bus_source;
	GSource *tick_source;
	GSource *stop_timeout_source;

	tb_recording_result result; /* filled by the helper thread */
};

tb_recording *tb_recording_ref(tb_recording *rec)
{
	g_return_val_if_fail(rec != NULL, NULL);
	g_atomic_int_inc(&rec->refcount);
	return rec;
}

static void recording_free(tb_recording *rec)
{
	size_t n = atomic_load(&rec->n_tracks);

	if (rec->pipeline) {
		gst_element_set_state(rec->pipeline, GST_STATE_NULL);
		for (size_t i = 0; i < n; i++) {
			if (rec->tracks[i]->mux_pad) {
				gst_element_release_request_pad(rec->mux, rec->tracks[i]->mux_pad);
				gst_object_unref(rec->tracks[i]->mux_pad);
			}
		}
		gst_object_unref(rec->pipeline);
	}
	for (size_t i = 0; i < n; i++) {
		if (rec->tracks[i]->batch.list)
			gst_buffer_list_unref(rec->tracks[i]->batch.list);
		g_free(rec->tracks[i]);
	}
	if (rec->context)
		g_main_context_unref(rec->context);
	if (rec->header_fd >= 0)
		close(rec->header_fd);
	g_mutex_clear(&rec->lock);
	g_free(rec->error);
	g_free(rec->path);
	g_free(rec->name);
	g_free(rec);
}

void tb_recording_unref(tb_recording *rec)
{
	if (rec && g_atomic_int_dec_and_test(&rec->refcount))
		recording_free(rec);
}

static void unref_notify(gpointer data)
{
	tb_recording_unref(data);
}

const char *tb_recording_path(tb_recording *rec)
{
	g_return_val_if_fail(rec != NULL, NULL);
	return rec->path;
}

const char *tb_recording_state_to_string(tb_recording_state state)
{
	switch (state) {
	case TB_RECORDING_COMPLETE:
		return "complete";
	case TB_RECORDING_TRUNCATED:
		return "truncated";
	case TB_RECORDING_FAILED:
		return "failed";
	}
	return "failed";
}

/* Runs FN(REC) on the callbacks' context; the source holds a reference. */
static void post(tb_recording *rec, GSourceFunc fn)
{
	GSource *source = g_idle_source_new();

	g_source_set_priority(source, G_PRIORITY_DEFAULT);
	g_source_set_callback(source, fn, tb_recording_ref(rec), unref_notify);
	g_source_attach(source, rec->context);
	g_source_unref(source);
}

/* Attaches a timeout (context thread); returns the source (caller's ref). */
static GSource *add_timeout(tb_recording *rec, guint ms, GSourceFunc fn)
{
	GSource *source = g_timeout_source_new(ms);

	g_source_set_callback(source, fn, tb_recording_ref(rec), unref_notify);
	g_source_attach(source, rec->context);
	return source;
}

static void drop_source(GSource **source)
{
	if (*source) {
		g_source_destroy(*source);
		g_source_unref(*source);
		*source = NULL;
	}
}

/* ---- probes (streaming threads) ---- */

/* Records a muxer input's caps and buffers. Returns false for a caps event
 * the muxer must not see: Matroska cannot change a track's caps once its
 * header is out, and WebRTC senders change resolution at will; the VP8/VP9
 * bitstream (and H.264's in-band SPS/PPS, see config-interval) carries the
 * new size, so the first caps stay. Video caps without a size (some
 * depayloaders before their first keyframe) are held back too: the
 * muxer's template needs width and height. */
static bool mux_input_caps(mux_input *in, GstCaps *caps)
{
	const GstStructure *s = gst_caps_get_structure(caps, 0);
	int width = 0, height = 0;

	if (in->caps_fixed)
		return false;
	if (in->is_video) {
		if (!gst_structure_get_int(s, "width", &width) ||
		    !gst_structure_get_int(s, "height", &height))
			return false;
		in->width = width;
		in->height = height;
	}
	in->caps_fixed = true;
	return true;
}

static void mux_input_buffer(mux_input *in, GstBuffer *buf)
{
	GstClockTime ts = GST_BUFFER_PTS_IS_VALID(buf) ? GST_BUFFER_PTS(buf) : GST_BUFFER_DTS(buf);
	GstClockTime end;

	if (!GST_CLOCK_TIME_IS_VALID(ts))
		return;
	if (!GST_CLOCK_TIME_IS_VALID(in->first_pts) || ts < in->first_pts)
		in->first_pts = ts;
	end = ts + (GST_BUFFER_DURATION_IS_VALID(buf) ? GST_BUFFER_DURATION(buf) : 0);
	if (!GST_CLOCK_TIME_IS_VALID(in->end_pts) || end > in->end_pts)
		in->end_pts = end;
}

/* True for an audio buffer that comes before the file's first video frame,
 * in a file with video: it is dropped, so that every track starts at that
 * keyframe (audio that reaches the muxer while that keyframe is still being
 * assembled is dropped too: the file's audio may start up to a few hundred
 * ms after its video). Players index a file by its video keyframes only, and a file
 * whose audio starts earlier cannot be seeked back to 0 in Chromium. Audio
 * stops waiting after AUDIO_WAIT_NS (a camera that never sends a keyframe
 * does not silence the file). Streaming threads. */
static bool audio_before_video(tb_recording *rec, GstBuffer *buf)
{
	size_t n = atomic_load_explicit(&rec->n_tracks, memory_order_acquire);
	uint_fast64_t video = atomic_load(&rec->video_start_ns), from;
	GstClockTime pts = GST_BUFFER_PTS(buf);
	bool has_video = false;

	if (!GST_CLOCK_TIME_IS_VALID(pts))
		return false;
	if (video != UINT64_MAX)
		return pts < video;
	for (size_t i = 0; i < n && !has_video; i++)
		has_video = rec->tracks[i]->in.is_video;
	if (!has_video)
		return false;
	from = atomic_load(&rec->audio_wait_from_ns);
	if (from == UINT64_MAX) {
		atomic_compare_exchange_strong(&rec->audio_wait_from_ns, &from, pts);
		from = atomic_load(&rec->audio_wait_from_ns);
	}
	return pts < from + AUDIO_WAIT_NS;
}

static GstPadProbeReturn mux_pad_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	track *t = data;
	tb_recording *rec = t->rec;

	if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
		GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
		GstCaps *caps;

		if (GST_EVENT_TYPE(event) != GST_EVENT_CAPS)
			return GST_PAD_PROBE_OK;
		gst_event_parse_caps(event, &caps);
		if (mux_input_caps(&t->in, caps))
			return GST_PAD_PROBE_OK;
		TB_DEBUG(LOG, "[%s] track %zu: caps change not passed to the muxer", rec->name,
			 t->index);
		return GST_PAD_PROBE_DROP;
	}
	if (!(info->type & GST_PAD_PROBE_TYPE_BUFFER))
		return GST_PAD_PROBE_OK;
	if (t->in.is_video && !atomic_load(&t->have_keyframe)) {
		GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);

		/* The file's first video frame must decode on its own. */
		if (GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT) || !t->in.caps_fixed)
			return GST_PAD_PROBE_DROP;
		atomic_store(&t->have_keyframe, 1);
		if (GST_BUFFER_PTS_IS_VALID(buf)) {
			uint_fast64_t none = UINT64_MAX;
			if (atomic_compare_exchange_strong(&rec->video_start_ns, &none,
							   GST_BUFFER_PTS(buf)))
				TB_INFO(LOG, "[%s] starts at the first video keyframe", rec->name);
		}
		TB_DEBUG(LOG, "[%s] track %zu: first keyframe", rec->name, t->index);
	}
	if (!t->in.is_video && audio_before_video(rec, GST_PAD_PROBE_INFO_BUFFER(info)))
		return GST_PAD_PROBE_DROP;
	if (!atomic_load(&rec->data_started)) {
		/* From here on the muxer may write its header: add_track must
		 * not add a pad any more. */
		g_mutex_lock(&rec->lock);
		atomic_store(&rec->data_started, 1);
		g_mutex_unlock(&rec->lock);
	}
	mux_input_buffer(&t->in, GST_PAD_PROBE_INFO_BUFFER(info));
	if (GST_CLOCK_TIME_IS_VALID(t->in.first_pts)) {
		uint_fast64_t v = atomic_load(&rec->media_first_ns);

		while (t->in.first_pts < v &&
		       !atomic_compare_exchange_weak(&rec->media_first_ns, &v, t->in.first_pts))
			;
		v = atomic_load(&rec->media_end_ns);
		while (t->in.end_pts > v &&
		       !atomic_compare_exchange_weak(&rec->media_end_ns, &v, t->in.end_pts))
			;
	}
	return GST_PAD_PROBE_OK;
}

/* A depayloader that lost packets asks upstream for a keyframe; appsrc would
 * drop the request, so it is passed on to the caller (by the tick). */
static GstPadProbeReturn appsrc_upstream_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	track *t = data;
	GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);

	if (gst_event_has_name(event, "GstForceKeyUnit")) {
		atomic_store(&t->want_keyframe, 1);
		/* HANDLED: the sender sees success; the event is ours to drop. */
		gst_event_unref(event);
		return GST_PAD_PROBE_HANDLED;
	}
	return GST_PAD_PROBE_OK;
}

/* ---- building ---- */

static GstElement *make_element(const char *factory, const char *name, GError **error)
{
	GstElement *e = gst_element_factory_make(factory, name);

	if (!e)
		g_set_error(error, TB_RECORDER_ERROR, TB_ENOENT,
			    "GStreamer element %s is not installed", factory);
	return e;
}

/* Builds TRACK's branch into the pipeline and links it to a new muxer pad.
 * Returns the track (its elements are in the bin, in state NULL) or NULL
 * with ERROR (nothing added). Caller holds rec->lock or owns rec alone. */
static track *build_track(tb_recording *rec, size_t index, enum codec codec,
			  const tb_recording_track *desc, GError **error)
{
	const struct codec_def *def = &codec_defs[codec];
	bool video = def->kind == TB_RECORDING_VIDEO;
	GstElement *e[4] = {NULL};
	size_t n = 0;
	track *t = g_new0(track, 1);
	GstCaps *caps = NULL;
	GstPad *src = NULL;
	char name[32];

	t->rec = rec;
	t->index = index;
	t->codec = codec;
	t->payload_type = desc->payload_type;
	t->clock_rate = desc->clock_rate;
	t->in.first_pts = GST_CLOCK_TIME_NONE;
	t->in.end_pts = GST_CLOCK_TIME_NONE;
	t->in.is_video = video;
	atomic_store(&t->last_push_us, g_get_monotonic_time());

	g_snprintf(name, sizeof name, "src%zu", index);
	if (!(e[n++] = make_element("appsrc", name, error)))
		goto fail;
	g_snprintf(name, sizeof name, "jitter%zu", index);
	if (!(e[n++] = make_element("rtpjitterbuffer", name, error)))
		goto fail;
	g_snprintf(name, sizeof name, "depay%zu", index);
	if (!(e[n++] = make_element(def->depay, name, error)))
		goto fail;
	if (def->parse) {
		g_snprintf(name, sizeof name, "parse%zu", index);
		if (!(e[n++] = make_element(def->parse, name, error)))
			goto fail;
	}

	caps = gst_caps_new_simple(
		"application/x-rtp", "media", G_TYPE_STRING, video ? "video" : "audio",
		"clock-rate", G_TYPE_INT, desc->clock_rate, "encoding-name", G_TYPE_STRING,
		def->encoding_name, "payload", G_TYPE_INT, desc->payload_type, NULL);
	/* Not live-timestamped by appsrc: push_rtp stamps the arrival time.
	 * leaky upstream: a full queue refuses the new packet, order stays. */
	g_object_set(e[0], "caps", caps, "format", GST_FORMAT_TIME, "is-live", TRUE, "do-timestamp",
		     FALSE, "block", FALSE, "max-bytes", (guint64)TRACK_QUEUE_BYTES, "leaky-type",
		     GST_APP_LEAKY_TYPE_UPSTREAM, "stream-type", GST_APP_STREAM_TYPE_STREAM, NULL);
	g_object_set(e[1], "latency", (guint)JITTER_LATENCY_MS, "do-lost", TRUE, NULL);
	if (video)
		g_object_set(e[2], "request-keyframe", TRUE, "wait-for-keyframe", TRUE, NULL);
	if (codec == CODEC_H264)
		/* SPS/PPS in-band before every IDR: the stream stays decodable
		 * when the sender changes them (the muxer keeps the first). */
		g_object_set(e[3], "config-interval", -1, NULL);

	for (size_t i = 0; i < n; i++)
		gst_bin_add(GST_BIN(rec->pipeline), e[i]);
	t->mux_pad = gst_element_request_pad_simple(rec->mux, video ? "video_%u" : "audio_%u");
	src = gst_element_get_static_pad(e[n - 1], "src");
	if (!t->mux_pad || !gst_element_link_many(e[0], e[1], e[2], n > 3 ? e[3] : NULL, NULL) ||
	    gst_pad_link(src, t->mux_pad) != GST_PAD_LINK_OK) {
		g_set_error(error, TB_RECORDER_ERROR, TB_EIO, "cannot link track %zu (%s)", index,
			    def->name);
		for (size_t i = 0; i < n; i++) {
			gst_element_set_state(e[i], GST_STATE_NULL);
			gst_bin_remove(GST_BIN(rec->pipeline), e[i]);
		}
		n = 0;
		if (t->mux_pad) {
			gst_element_release_request_pad(rec->mux, t->mux_pad);
			gst_object_unref(t->mux_pad);
		}
		goto fail;
	}
	gst_pad_add_probe(t->mux_pad,
			  GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
			  mux_pad_probe, t, NULL);
	gst_object_unref(src);
	src = gst_element_get_static_pad(e[0], "src");
	gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, appsrc_upstream_probe, t, NULL);
	t->appsrc = e[0];
	goto out;
fail:
	for (size_t i = 0; i < n; i++)
		gst_object_unref(e[i]);
	g_clear_pointer(&t, g_free);
out:
	if (src)
		gst_object_unref(src);
	if (caps)
		gst_caps_unref(caps);
	return t;
}

static char *log_name_of(const char *path)
{
	char *dir = g_path_get_dirname(path);
	char *session = g_path_get_basename(dir);
	char *file = g_path_get_basename(path);
	char *name = g_strdup_printf("%s/%s", session, file);

	g_free(dir);
	g_free(session);
	g_free(file);
	return name;
}

static gboolean start_task(gpointer data);

bool tb_recorder_init(GError **error)
{
	if (!gst_init_check(NULL, NULL, error))
		return false;
	for (size_t i = 0; i < G_N_ELEMENTS(required_elements); i++) {
		GstElementFactory *f = gst_element_factory_find(required_elements[i]);

		if (!f) {
			g_set_error(error, TB_RECORDER_ERROR, TB_ENOENT,
				    "GStreamer element %s is not installed (recordings need"
				    " gstreamer1.0-plugins-good and -bad)",
				    required_elements[i]);
			return false;
		}
		gst_object_unref(f);
	}
	return true;
}

tb_recording *tb_recording_new(const char *abs_path, const tb_recording_track *tracks,
			       size_t n_tracks, const tb_recording_callbacks *cb, void *user_data,
			       GError **error)
{
	int codecs[TB_RECORDING_MAX_TRACKS];
	tb_recording *rec = NULL;
	GstElement *sink = NULL;
	GstClock *clock;
	bool h264 = false;

	g_return_val_if_fail(abs_path != NULL && cb != NULL, NULL);
	g_return_val_if_fail(cb->context != NULL && cb->finished != NULL, NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!g_path_is_absolute(abs_path)) {
		g_set_error(error, TB_RECORDER_ERROR, TB_EINVAL, "path %s is not absolute",
			    abs_path);
		return NULL;
	}
	if (n_tracks == 0 || n_tracks > TB_RECORDING_MAX_TRACKS || !tracks) {
		g_set_error(error, TB_RECORDER_ERROR, TB_EINVAL, "%zu tracks (1..%d)", n_tracks,
			    TB_RECORDING_MAX_TRACKS);
		return NULL;
	}
	for (size_t i = 0; i < n_tracks; i++) {
		codecs[i] = check_track(&tracks[i], error);
		if (codecs[i] < 0)
			return NULL;
		h264 |= codecs[i] == CODEC_H264;
	}
	if (h264 && g_str_has_suffix(abs_path, ".webm")) {
		g_set_error(error, TB_RECORDER_ERROR, TB_EINVAL,
			    "H264 goes to Matroska: name the file .mkv, not %s", abs_path);
		return NULL;
	}

	rec = g_new0(tb_recording, 1);
	rec->refcount = 1;
	rec->header_fd = -1;
	atomic_store(&rec->media_first_ns, UINT64_MAX);
	atomic_store(&rec->video_start_ns, UINT64_MAX);
	atomic_store(&rec->audio_wait_from_ns, UINT64_MAX);
	g_mutex_init(&rec->lock);
	rec->path = g_strdup(abs_path);
	rec->name = log_name_of(abs_path);
	rec->cb = *cb;
	rec->user_data = user_data;
	rec->context = g_main_context_ref(cb->context);
	rec->webm = !h264;
	rec->pipeline = gst_object_ref_sink(gst_pipeline_new(rec->name));
	rec->mux = make_element(rec->webm ? "webmmux" : "matroskamux", "mux", error);
	sink = rec->mux ? make_element("filesink", "sink", error) : NULL;
	if (!sink) {
		if (rec->mux)
			gst_object_unref(rec->mux);
		rec->mux = NULL;
		goto fail;
	}
	g_object_set(rec->mux, "streamable", FALSE, "offset-to-zero", TRUE, "max-cluster-duration",
		     (gint64)CLUSTER_MAX_NS, "writing-app", "Tribu", NULL);
	g_object_set(sink, "location", abs_path, NULL);
	gst_bin_add_many(GST_BIN(rec->pipeline), rec->mux, sink, NULL);
	if (!gst_element_link(rec->mux, sink)) {
		g_set_error(error, TB_RECORDER_ERROR, TB_EIO, "cannot link muxer to filesink");
		goto fail;
	}
	for (size_t i = 0; i < n_tracks; i++) {
		rec->tracks[i] = build_track(rec, i, codecs[i], &tracks[i], error);
		if (!rec->tracks[i])
			goto fail;
		atomic_store(&rec->n_tracks, i + 1);
	}

	/* Running time = monotonic now - creation, for every track. */
	clock = gst_system_clock_obtain();
	gst_pipeline_use_clock(GST_PIPELINE(rec->pipeline), clock);
	gst_object_unref(clock);
	rec->start_us = g_get_monotonic_time();
	gst_element_set_start_time(rec->pipeline, GST_CLOCK_TIME_NONE);
	gst_element_set_base_time(rec->pipeline, (GstClockTime)rec->start_us * GST_USECOND);

	rec->phase = PHASE_NEW;
	post(rec, start_task);
	return rec;
fail:
	tb_recording_unref(rec);
	return NULL;
}

/* ---- running (context thread) ---- */

static void request_keyframe(tb_recording *rec, track *t, int64_t now)
{
	t->last_request_us = now;
	atomic_store(&t->want_keyframe, 0);
	if (rec->cb.need_keyframe)
		rec->cb.need_keyframe(rec->user_data, t->index);
}

static void check_keyframes(tb_recording *rec)
{
	int64_t now = g_get_monotonic_time();
	size_t n = atomic_load_explicit(&rec->n_tracks, memory_order_acquire);

	for (size_t i = 0; i < n; i++) {
		track *t = rec->tracks[i];

		if (codec_defs[t->codec].kind != TB_RECORDING_VIDEO)
			continue;
		if (!atomic_load(&t->have_keyframe) || atomic_load(&t->want_keyframe)) {
			if (t->last_request_us == 0 ||
			    now - t->last_request_us >= KEYFRAME_RETRY_US)
				request_keyframe(rec, t, now);
		}
	}
}

/* ---- live Duration (context thread) ----
 * The muxer writes Duration 0 in its header and the real value only when it
 * finalises, so a killed writer leaves a file whose duration players must
 * guess (GStreamer guesses from the last cluster, badly; ffprobe shows none).
 * Once a second the Duration float is rewritten in place, through a second
 * descriptor, with the media time given to the muxer so far: a killed file
 * then states its duration within about a second of the truth. The muxer
 * never writes there between its header and its finalisation, and patching
 * stops (under `lock`) before EOS is sent. */

/* Reads an EBML variable-length number at B[*POS] (ID: marker kept). */
static bool ebml_vint(const uint8_t *b, size_t n, size_t *pos, bool keep_marker, uint64_t *value,
		      bool *unknown)
{
	unsigned int len = 1;
	uint64_t v;

	if (*pos >= n || b[*pos] == 0)
		return false;
	while (!(b[*pos] & (0x80 >> (len - 1))))
		len++;
	if (*pos + len > n)
		return false;
	v = keep_marker ? b[*pos] : (uint64_t)(b[*pos] & (0xff >> len));
	for (unsigned int i = 1; i < len; i++)
		v = (v << 8) | b[*pos + i];
	if (unknown)
		*unknown = !keep_marker && v == (((uint64_t)1 << (7 * len)) - 1);
	*pos += len;
	*value = v;
	return true;
}

/* Returns the file offset of Info/Duration (an 8-byte float), or 0. */
static int64_t find_duration_offset(int fd)
{
	uint8_t b[4096];
	ssize_t got = pread(fd, b, sizeof b, 0);
	size_t n = got > 0 ? (size_t)got : 0, pos = 0;
	uint64_t id, size;
	bool unknown;

	/* EBML header, then into the Segment. */
	if (!ebml_vint(b, n, &pos, true, &id, NULL) || id != 0x1A45DFA3 ||
	    !ebml_vint(b, n, &pos, false, &size, &unknown) || unknown)
		return 0;
	pos += size;
	if (!ebml_vint(b, n, &pos, true, &id, NULL) || id != 0x18538067 ||
	    !ebml_vint(b, n, &pos, false, &size, &unknown))
		return 0;
	while (ebml_vint(b, n, &pos, true, &id, NULL) &&
	       ebml_vint(b, n, &pos, false, &size, &unknown) && !unknown) {
		size_t end = pos + size;

		if (id == 0x1549A966) { /* Info */
			while (pos < end && ebml_vint(b, n, &pos, true, &id, NULL) &&
			       ebml_vint(b, n, &pos, false, &size, &unknown) && !unknown) {
				if (id == 0x4489 && size == 8 && pos + 8 <= n)
					return (int64_t)pos;
				pos += size;
			}
			return 0;
		}
		if (id == 0x1F43B675) /* Cluster: no Info before it */
			return 0;
		pos = end;
	}
	return 0;
}

static void patch_duration(tb_recording *rec)
{
	uint_fast64_t first = atomic_load(&rec->media_first_ns);
	uint_fast64_t end = atomic_load(&rec->media_end_ns);
	union {
		double d;
		uint64_t u;
	} ms;
	uint8_t be[8];

	if (first == UINT64_MAX || end <= first)
		return;
	if (rec->header_fd < 0) {
		rec->header_fd = open(rec->path, O_RDWR | O_CLOEXEC);
		if (rec->header_fd < 0)
			return;
	}
	if (rec->duration_offset == 0)
		rec->duration_offset = find_duration_offset(rec->header_fd);
	if (rec->duration_offset == 0)
		return;                               /* header not on disk yet */
	ms.d = (double)((end - first) / GST_MSECOND); /* TimecodeScale is 1 ms */
	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(ms.u >> (56 - 8 * i));
	g_mutex_lock(&rec->lock);
	if (rec->phase == PHASE_RUNNING &&
	    pwrite(rec->header_fd, be, sizeof be, rec->duration_offset) != sizeof be)
		TB_DEBUG(LOG, "[%s] cannot update Duration: %s", rec->name, g_strerror(errno));
	g_mutex_unlock(&rec->lock);
}

/* Ends the tracks that have been idle for IDLE_END_US while another track
 * went on (context thread). */
static void end_idle_tracks(tb_recording *rec)
{
	int64_t now = g_get_monotonic_time();
	size_t n = atomic_load_explicit(&rec->n_tracks, memory_order_acquire);
	size_t going = 0;

	if (!atomic_load(&rec->data_started))
		return;
	for (size_t i = 0; i < n; i++)
		if (!atomic_load(&rec->tracks[i]->ended) &&
		    now - atomic_load(&rec->tracks[i]->last_push_us) < IDLE_END_US)
			going++;
	if (going == 0)
		return; /* everything paused: nothing waits in memory */
	g_mutex_lock(&rec->lock);
	for (size_t i = 0; rec->phase == PHASE_RUNNING && i < n; i++) {
		track *t = rec->tracks[i];

		if (atomic_load(&t->ended) || now - atomic_load(&t->last_push_us) < IDLE_END_US)
			continue;
		/* Flag first: a push racing with the EOS sees it. */
		atomic_store(&t->ended, 1);
		gst_app_src_end_of_stream(GST_APP_SRC(t->appsrc));
		TB_DEBUG(LOG, "[%s] track %zu idle: ended in this file", rec->name, i);
	}
	g_mutex_unlock(&rec->lock);
}

static gboolean tick(gpointer data)
{
	tb_recording *rec = data;

	check_keyframes(rec);
	end_idle_tracks(rec);
	if (++rec->ticks % DURATION_PATCH_TICKS == 0 && atomic_load(&rec->data_started))
		patch_duration(rec);
	return G_SOURCE_CONTINUE;
}

static gboolean check_keyframes_task(gpointer data)
{
	tb_recording *rec = data;

	g_mutex_lock(&rec->lock);
	if (rec->phase == PHASE_RUNNING) {
		g_mutex_unlock(&rec->lock);
		check_keyframes(rec);
	} else {
		g_mutex_unlock(&rec->lock);
	}
	return G_SOURCE_REMOVE;
}

/* Sends EOS into every track. Caller holds rec->lock. */
static void send_eos_locked(tb_recording *rec)
{
	size_t n = atomic_load(&rec->n_tracks);

	atomic_store(&rec->accepting, 0);
	for (size_t i = 0; i < n; i++)
		gst_app_src_end_of_stream(GST_APP_SRC(rec->tracks[i]->appsrc));
}

static gboolean stop_timeout(gpointer data);
static void begin_finish(tb_recording *rec, enum outcome outcome);
static gboolean on_bus_message(GstBus *bus, GstMessage *msg, gpointer data);

static gboolean start_task(gpointer data)
{
	tb_recording *rec = data;
	GstStateChangeReturn ret;
	GstBus *bus;
	char *dir;
	bool stop_now;

	g_mutex_lock(&rec->lock);
	if (rec->phase != PHASE_NEW) {
		g_mutex_unlock(&rec->lock);
		return G_SOURCE_REMOVE;
	}
	rec->phase = PHASE_RUNNING;
	g_mutex_unlock(&rec->lock);

	bus = gst_element_get_bus(rec->pipeline);
	rec->bus_source = gst_bus_create_watch(bus);
	g_source_set_callback(rec->bus_source, (GSourceFunc)(void (*)(void))on_bus_message,
			      tb_recording_ref(rec), unref_notify);
	g_source_attach(rec->bus_source, rec->context);
	gst_object_unref(bus);
	rec->tick_source = add_timeout(rec, TICK_MS, tick);

	/* A failure here shows as filesink's error on the bus, the one path
	 * to finished(FAILED). */
	dir = g_path_get_dirname(rec->path);
	if (g_mkdir_with_parents(dir, 0750) != 0)
		TB_WARN(LOG, "[%s] cannot create %s: %s", rec->name, dir, g_strerror(errno));
	g_free(dir);

	atomic_store(&rec->started, 1);
	atomic_store(&rec->accepting, 1);
	ret = gst_element_set_state(rec->pipeline, GST_STATE_PLAYING);
	if (ret == GST_STATE_CHANGE_FAILURE) {
		atomic_store(&rec->accepting, 0);
		return G_SOURCE_REMOVE;
	}
	TB_INFO(LOG, "[%s] recording %zu tracks to %s", rec->name, atomic_load(&rec->n_tracks),
		rec->path);

	g_mutex_lock(&rec->lock);
	stop_now = rec->stop_requested && rec->phase == PHASE_RUNNING;
	if (stop_now) {
		rec->phase = PHASE_STOPPING;
		send_eos_locked(rec);
	}
	g_mutex_unlock(&rec->lock);
	if (stop_now)
		rec->stop_timeout_source =
			add_timeout(rec, TB_RECORDING_STOP_TIMEOUT_S * 1000, stop_timeout);
	else
		check_keyframes(rec);
	return G_SOURCE_REMOVE;
}

static gboolean arm_stop_timeout_task(gpointer data)
{
	tb_recording *rec = data;

	g_mutex_lock(&rec->lock);
	if (rec->phase == PHASE_STOPPING && !rec->stop_timeout_source) {
		g_mutex_unlock(&rec->lock);
		rec->stop_timeout_source =
			add_timeout(rec, TB_RECORDING_STOP_TIMEOUT_S * 1000, stop_timeout);
	} else {
		g_mutex_unlock(&rec->lock);
	}
	return G_SOURCE_REMOVE;
}

static void flush_batches(tb_recording *rec, int64_t older_than_us);

void tb_recording_stop(tb_recording *rec)
{
	bool arm = false;

	g_return_if_fail(rec != NULL);
	/* The batches belong to the pushing thread: on it, they go first. */
	if (g_atomic_pointer_get(&rec->pusher) == g_thread_self())
		flush_batches(rec, G_MAXINT64);
	g_mutex_lock(&rec->lock);
	switch (rec->phase) {
	case PHASE_NEW:
		rec->stop_requested = true;
		break;
	case PHASE_RUNNING:
		rec->phase = PHASE_STOPPING;
		send_eos_locked(rec);
		arm = true;
		break;
	default:
		break;
	}
	g_mutex_unlock(&rec->lock);
	if (arm)
		post(rec, arm_stop_timeout_task);
}

static gboolean stop_timeout(gpointer data)
{
	tb_recording *rec = data;
	bool finish;

	g_mutex_lock(&rec->lock);
	finish = rec->phase == PHASE_STOPPING;
	g_mutex_unlock(&rec->lock);
	if (finish) {
		TB_WARN(LOG, "[%s] not finalised within %d s; repairing", rec->name,
			TB_RECORDING_STOP_TIMEOUT_S);
		begin_finish(rec, OUTCOME_TIMEOUT);
	}
	return G_SOURCE_REMOVE;
}

static gboolean on_bus_message(GstBus *bus, GstMessage *msg, gpointer data)
{
	tb_recording *rec = data;
	GError *err = NULL;
	char *debug = NULL;

	switch (GST_MESSAGE_TYPE(msg)) {
	case GST_MESSAGE_ERROR: {
		bool first;
		char *text;

		const char *why;

		gst_message_parse_error(msg, &err, &debug);
		/* The debug text ends in the errno's words: keep those. */
		why = debug ? strstr(debug, "system error: ") : NULL;
		text = g_strdup_printf("%s: %s%s%s%s", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)),
				       err->message, why ? " (" : "",
				       why ? why + strlen("system error: ") : "", why ? ")" : "");
		g_mutex_lock(&rec->lock);
		first = !rec->error;
		if (first)
			rec->error = g_strdup(text);
		g_mutex_unlock(&rec->lock);
		/* Elements often follow an error with more of the same. */
		if (first)
			TB_WARN(LOG, "[%s] %s", rec->name, text);
		TB_DEBUG(LOG, "[%s] %s (%s)", rec->name, text, debug ? debug : "");
		g_free(text);
		begin_finish(rec, OUTCOME_ERROR);
		break;
	}
	case GST_MESSAGE_EOS:
		begin_finish(rec, OUTCOME_EOS);
		break;
	case GST_MESSAGE_WARNING:
		gst_message_parse_warning(msg, &err, &debug);
		TB_DEBUG(LOG, "[%s] %s: %s", rec->name, GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)),
			 err->message);
		break;
	default:
		break;
	}
	g_clear_error(&err);
	g_free(debug);
	return G_SOURCE_CONTINUE;
}

/* ---- finishing ---- */

static int64_t file_size(const char *path)
{
	GStatBuf st;

	return g_stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

/* Fills duration, size and resolution from what the muxer's inputs saw. */
static void fill_from_inputs(tb_recording_result *r, const mux_input *const *in, size_t n)
{
	GstClockTime first = GST_CLOCK_TIME_NONE, end = GST_CLOCK_TIME_NONE;

	for (size_t i = 0; i < n; i++) {
		if (GST_CLOCK_TIME_IS_VALID(in[i]->first_pts) &&
		    (!GST_CLOCK_TIME_IS_VALID(first) || in[i]->first_pts < first))
			first = in[i]->first_pts;
		if (GST_CLOCK_TIME_IS_VALID(in[i]->end_pts) &&
		    (!GST_CLOCK_TIME_IS_VALID(end) || in[i]->end_pts > end))
			end = in[i]->end_pts;
		if (r->width == 0 && in[i]->width > 0) {
			r->width = in[i]->width;
			r->height = in[i]->height;
		}
	}
	if (GST_CLOCK_TIME_IS_VALID(first) && GST_CLOCK_TIME_IS_VALID(end) && end > first)
		r->duration_ms = (int64_t)((end - first) / GST_MSECOND);
}

static gboolean deliver_task(gpointer data)
{
	tb_recording *rec = data;

	drop_source(&rec->bus_source);
	g_mutex_lock(&rec->lock);
	rec->phase = PHASE_DONE;
	g_mutex_unlock(&rec->lock);
	TB_INFO(LOG, "[%s] %s: %" G_GINT64_FORMAT " ms, %" G_GINT64_FORMAT " bytes%s%s", rec->name,
		tb_recording_state_to_string(rec->result.state), rec->result.duration_ms,
		rec->result.bytes, rec->result.error ? ": " : "",
		rec->result.error ? rec->result.error : "");
	rec->cb.finished(rec->user_data, &rec->result);
	return G_SOURCE_REMOVE;
}

static gpointer finish_thread(gpointer data)
{
	tb_recording *rec = data;
	tb_recording_result *r = &rec->result;
	const mux_input *in[TB_RECORDING_MAX_TRACKS] = {0};
	size_t n = atomic_load(&rec->n_tracks);
	GstClockTime first = GST_CLOCK_TIME_NONE;

	/* Joins the streaming threads: their probes' writes are visible after. */
	gst_element_set_state(rec->pipeline, GST_STATE_NULL);

	memset(r, 0, sizeof *r);
	r->path = rec->path;
	for (size_t i = 0; i < n; i++) {
		track *t = rec->tracks[i];

		in[i] = &t->in;
		r->packets += atomic_load(&t->packets);
		r->packets_dropped += atomic_load(&t->dropped);
		if (GST_CLOCK_TIME_IS_VALID(t->in.first_pts) &&
		    (!GST_CLOCK_TIME_IS_VALID(first) || t->in.first_pts < first))
			first = t->in.first_pts;
	}
	fill_from_inputs(r, in, n);
	if (GST_CLOCK_TIME_IS_VALID(first))
		r->start_mono_us = rec->start_us + (int64_t)(first / GST_USECOND);

	switch (rec->outcome) {
	case OUTCOME_EOS:
		if (!GST_CLOCK_TIME_IS_VALID(first)) {
			/* A header and no media (the publisher left within a
			 * moment, or before its first keyframe): nothing would
			 * play it. Not kept. */
			r->state = TB_RECORDING_FAILED;
			g_strlcpy(r->error_buf, "no media reached the file", sizeof r->error_buf);
			r->error = r->error_buf;
			if (g_unlink(rec->path) != 0 && errno != ENOENT)
				TB_WARN(LOG, "[%s] cannot remove the empty file: %s", rec->name,
					g_strerror(errno));
			break;
		}
		r->state = TB_RECORDING_COMPLETE;
		break;
	case OUTCOME_ERROR:
		r->state = TB_RECORDING_FAILED;
		g_mutex_lock(&rec->lock);
		g_strlcpy(r->error_buf, rec->error ? rec->error : "unknown error",
			  sizeof r->error_buf);
		g_mutex_unlock(&rec->lock);
		r->error = r->error_buf;
		break;
	case OUTCOME_TIMEOUT: {
		tb_recording_result repaired;
		GError *err = NULL;

		if (tb_recording_repair(rec->path, &repaired, &err)) {
			r->state = TB_RECORDING_TRUNCATED;
			r->duration_ms = repaired.duration_ms;
			g_strlcpy(r->error_buf, "not finalised in time; repaired",
				  sizeof r->error_buf);
		} else {
			r->state = TB_RECORDING_FAILED;
			g_strlcpy(r->error_buf, err->message, sizeof r->error_buf);
			g_clear_error(&err);
		}
		r->error = r->error_buf;
		break;
	}
	}
	r->bytes = file_size(rec->path);
	post(rec, deliver_task);
	tb_recording_unref(rec);
	return NULL;
}

/* Ends the recording once (context thread). */
static void begin_finish(tb_recording *rec, enum outcome outcome)
{
	GThread *thread;
	GError *err = NULL;

	g_mutex_lock(&rec->lock);
	if (rec->phase >= PHASE_FINISHING) {
		g_mutex_unlock(&rec->lock);
		return;
	}
	rec->phase = PHASE_FINISHING;
	rec->outcome = outcome;
	atomic_store(&rec->accepting, 0);
	g_mutex_unlock(&rec->lock);

	drop_source(&rec->tick_source);
	drop_source(&rec->stop_timeout_source);
	if (rec->header_fd >= 0) {
		close(rec->header_fd);
		rec->header_fd = -1;
	}
	thread = g_thread_try_new("tb-rec-finish", finish_thread, tb_recording_ref(rec), &err);
	if (thread) {
		g_thread_unref(thread);
		return;
	}
	/* No thread: finish here (blocks this loop for the teardown). */
	TB_WARN(LOG, "[%s] %s; finishing on the main loop", rec->name, err->message);
	g_clear_error(&err);
	finish_thread(rec);
}

/* ---- worker-facing ---- */

int tb_recording_add_track(tb_recording *rec, const tb_recording_track *desc)
{
	GError *err = NULL;
	int codec, rc;
	size_t n;
	track *t;
	bool video;

	g_return_val_if_fail(rec != NULL, TB_EINVAL);
	codec = check_track(desc, &err);
	if (codec < 0) {
		TB_WARN(LOG, "[%s] add_track: %s", rec->name, err->message);
		g_clear_error(&err);
		return TB_EINVAL;
	}
	video = codec_defs[codec].kind == TB_RECORDING_VIDEO;

	g_mutex_lock(&rec->lock);
	n = atomic_load(&rec->n_tracks);
	if (rec->phase >= PHASE_STOPPING || rec->stop_requested) {
		rc = TB_ENOENT;
	} else if (n == TB_RECORDING_MAX_TRACKS) {
		rc = TB_EFULL;
	} else if (atomic_load(&rec->data_started) || (rec->webm && !codec_defs[codec].webm)) {
		rc = TB_ECONFLICT;
	} else if (!(t = build_track(rec, n, codec, desc, &err))) {
		TB_WARN(LOG, "[%s] add_track: %s", rec->name, err->message);
		g_clear_error(&err);
		rc = TB_EIO;
	} else {
		if (rec->phase == PHASE_RUNNING) {
			/* Downstream first, so nothing pushes into a NULL element. */
			GstElement *e = t->appsrc;
			GPtrArray *chain = g_ptr_array_new();

			while (e && e != rec->mux) {
				GstPad *src = gst_element_get_static_pad(e, "src");
				GstPad *peer = gst_pad_get_peer(src);

				g_ptr_array_add(chain, e);
				e = peer ? gst_pad_get_parent_element(peer) : NULL;
				if (e)
					gst_object_unref(e); /* the bin keeps it */
				if (peer)
					gst_object_unref(peer);
				gst_object_unref(src);
			}
			for (guint i = chain->len; i > 0; i--)
				gst_element_sync_state_with_parent(chain->pdata[i - 1]);
			g_ptr_array_unref(chain);
		}
		rec->tracks[n] = t;
		atomic_store_explicit(&rec->n_tracks, n + 1, memory_order_release);
		rc = (int)n;
	}
	g_mutex_unlock(&rec->lock);
	if (rc >= 0) {
		TB_INFO(LOG, "[%s] track %d added (%s)", rec->name, rc, codec_defs[codec].name);
		if (video)
			post(rec, check_keyframes_task);
	}
	return rc;
}

/* The time packet BUF of track T should be taken to have arrived: its RTP
 * timestamp on the arrival clock, at the least delay seen so far. Packets
 * that came late (a burst after a stall of the network, the publisher or
 * this server) get the time they would have had on time, so the file keeps
 * the publisher's own spacing and audio and video stay lined up; the least
 * delay may rise by DRIFT_PPM (the two clocks drift), and a delay that
 * stays REANCHOR_LATE_US higher for REANCHOR_AFTER_US (a new path, an RTP
 * clock that jumped back) becomes the new line. Never later than ARRIVAL. */
static int64_t smooth_arrival(track *t, const uint8_t *buf, int64_t arrival)
{
	uint32_t rtp =
		(uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
	int32_t delta;
	int64_t ext, media_us, sample, allowed;

	if (!t->sm.init) {
		t->sm.init = true;
		t->sm.last_rtp = rtp;
		t->sm.ext_rtp = (int64_t)rtp + ((int64_t)1 << 32); /* room to go back */
		t->sm.offset_us = arrival - t->sm.ext_rtp * G_USEC_PER_SEC / t->clock_rate;
		t->sm.offset_at = arrival;
		return arrival;
	}
	delta = (int32_t)(rtp - t->sm.last_rtp);
	ext = t->sm.ext_rtp + delta;
	if (delta > 0) {
		t->sm.last_rtp = rtp;
		t->sm.ext_rtp = ext;
	}
	media_us = ext * G_USEC_PER_SEC / t->clock_rate;
	sample = arrival - media_us;
	allowed = t->sm.offset_us + (arrival - t->sm.offset_at) * DRIFT_PPM / 1000000;
	if (sample <= allowed) {
		t->sm.offset_us = sample;
		t->sm.offset_at = arrival;
		t->sm.late_since = 0;
	} else if (sample - allowed > REANCHOR_LATE_US) {
		if (!t->sm.late_since) {
			t->sm.late_since = arrival;
		} else if (arrival - t->sm.late_since > REANCHOR_AFTER_US) {
			t->sm.offset_us = sample;
			t->sm.offset_at = arrival;
			t->sm.late_since = 0;
		}
	} else {
		t->sm.late_since = 0;
	}
	return MIN(arrival, media_us + MIN(sample, allowed));
}

/* Gives T's batch to appsrc (pushing thread). Returns appsrc's answer;
 * the batch's packets are counted taken or dropped here. */
static GstFlowReturn flush_batch(track *t)
{
	GstBufferList *list = t->batch.list;
	guint n;
	GstFlowReturn flow;

	if (!list)
		return GST_FLOW_OK;
	t->batch.list = NULL;
	t->batch.bytes = 0;
	n = gst_buffer_list_length(list);
	flow = gst_app_src_push_buffer_list(GST_APP_SRC(t->appsrc), list);
	if (flow == GST_FLOW_OK)
		atomic_fetch_add_explicit(&t->packets, n, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&t->dropped, n, memory_order_relaxed);
	return flow;
}

/* Flushes every batch whose first packet arrived before OLDER_THAN_US
 * (pushing thread). */
static void flush_batches(tb_recording *rec, int64_t older_than_us)
{
	size_t n = atomic_load_explicit(&rec->n_tracks, memory_order_acquire);

	for (size_t i = 0; i < n; i++) {
		track *t = rec->tracks[i];
		if (t->batch.list && t->batch.first_us < older_than_us)
			flush_batch(t);
	}
}

int tb_recording_push_rtp(tb_recording *rec, size_t index, const uint8_t *buf, size_t len,
			  int64_t arrival_mono_us)
{
	size_t n = atomic_load_explicit(&rec->n_tracks, memory_order_acquire);
	GstAppSrc *appsrc;
	GstBuffer *gbuf;
	GstFlowReturn flow = GST_FLOW_OK;
	GstClockTime ts;
	int64_t smoothed;
	track *t;

	if (index >= n)
		return TB_EINVAL;
	t = rec->tracks[index];
	if (!buf || len < 12 || (buf[0] >> 6) != 2 || (buf[1] & 0x7f) != t->payload_type)
		goto dropped_einval;
	if (!atomic_load(&rec->accepting))
		goto dropped_enoent;
	if (atomic_load(&t->ended))
		goto dropped_econflict;
	if (G_UNLIKELY(!rec->pusher))
		g_atomic_pointer_set(&rec->pusher, g_thread_self());
	appsrc = GST_APP_SRC(t->appsrc);
	if (gst_app_src_get_current_level_bytes(appsrc) + t->batch.bytes + len > TRACK_QUEUE_BYTES)
		goto dropped_efull;

	gbuf = gst_buffer_new_memdup(buf, len);
	smoothed = smooth_arrival(t, buf, arrival_mono_us);
	ts = smoothed > rec->start_us ? (GstClockTime)(smoothed - rec->start_us) * GST_USECOND : 0;
	GST_BUFFER_PTS(gbuf) = ts;
	GST_BUFFER_DTS(gbuf) = ts;
	if (!t->batch.list) {
		t->batch.list = gst_buffer_list_new_sized(BATCH_MAX);
		t->batch.first_us = arrival_mono_us;
	}
	gst_buffer_list_add(t->batch.list, gbuf);
	t->batch.bytes += len;
	if (gst_buffer_list_length(t->batch.list) >= BATCH_MAX ||
	    arrival_mono_us - t->batch.first_us >= BATCH_US)
		flow = flush_batch(t);
	/* Another track's batch left behind (that track paused). */
	flush_batches(rec, arrival_mono_us - BATCH_US);
	if (flow != GST_FLOW_OK)
		goto ended_or_enoent;
	atomic_store_explicit(&t->last_push_us, arrival_mono_us, memory_order_relaxed);
	return 0;

ended_or_enoent:
	/* The tick ended the track, or the recording stopped, after the
	 * checks above; the batch was counted dropped. */
	return atomic_load(&t->ended) ? TB_ECONFLICT : TB_ENOENT;
dropped_econflict:
	/* Ended while idle: what waited in the batch was for this file. */
	if (t->batch.list) {
		atomic_fetch_add_explicit(&t->dropped, gst_buffer_list_length(t->batch.list),
					  memory_order_relaxed);
		g_clear_pointer(&t->batch.list, gst_buffer_list_unref);
		t->batch.bytes = 0;
	}
	atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
	return TB_ECONFLICT;
dropped_einval:
	atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
	return TB_EINVAL;
dropped_enoent:
	atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
	return TB_ENOENT;
dropped_efull:
	atomic_fetch_add_explicit(&t->dropped, 1, memory_order_relaxed);
	return TB_EFULL;
}

bool tb_recording_is_over(tb_recording *rec)
{
	g_return_val_if_fail(rec != NULL, true);
	return atomic_load(&rec->started) && !atomic_load(&rec->accepting);
}

/* ---- repair ---- */

typedef struct repair {
	GstElement *pipeline;
	GstElement *mux;
	GMutex lock;         /* guards inputs (pads are added on the demuxer's thread) */
	GPtrArray *inputs;   /* of mux_input *, owned */
	GPtrArray *mux_pads; /* of GstPad * (ref) */
	atomic_int have_data;
} repair;

static GstPadProbeReturn repair_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	mux_input *in = data;
	repair *rp = g_object_get_data(G_OBJECT(pad), "tb-repair");

	if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
		GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
		GstCaps *caps;

		if (GST_EVENT_TYPE(event) == GST_EVENT_CAPS) {
			gst_event_parse_caps(event, &caps);
			mux_input_caps(in, caps);
		}
		return GST_PAD_PROBE_OK;
	}
	if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
		mux_input_buffer(in, GST_PAD_PROBE_INFO_BUFFER(info));
		atomic_store(&rp->have_data, 1);
	}
	return GST_PAD_PROBE_OK;
}

static void repair_pad_added(GstElement *demux, GstPad *pad, gpointer data)
{
	repair *rp = data;
	GstCaps *caps = gst_pad_get_current_caps(pad);
	const char *media = caps ? gst_structure_get_name(gst_caps_get_structure(caps, 0)) : "";
	const char *templ = g_str_has_prefix(media, "video/")   ? "video_%u"
			    : g_str_has_prefix(media, "audio/") ? "audio_%u"
								: NULL;
	GstPad *sinkpad = templ ? gst_element_request_pad_simple(rp->mux, templ) : NULL;
	GstElement *queue;
	GstPad *qsrc, *qsink;
	mux_input *in;

	if (!sinkpad) {
		/* Not ours to keep (subtitles?): let it run into a fakesink. */
		GstElement *fake = gst_element_factory_make("fakesink", NULL);
		GstPad *fpad;

		g_object_set(fake, "sync", FALSE, "async", FALSE, NULL);
		gst_bin_add(GST_BIN(rp->pipeline), fake);
		gst_element_sync_state_with_parent(fake);
		fpad = gst_element_get_static_pad(fake, "sink");
		gst_pad_link(pad, fpad);
		gst_object_unref(fpad);
		goto out;
	}
	/* The demuxer pushes every track from its one thread, and the muxer
	 * holds a track's buffer until all tracks have one: a queue per track
	 * lets the thread go on. Files are interleaved within a cluster (1 s). */
	queue = gst_element_factory_make("queue", NULL);
	g_object_set(queue, "max-size-buffers", 0, "max-size-bytes", 0, "max-size-time",
		     (guint64)(10 * GST_SECOND), NULL);
	gst_bin_add(GST_BIN(rp->pipeline), queue);
	qsrc = gst_element_get_static_pad(queue, "src");
	qsink = gst_element_get_static_pad(queue, "sink");
	in = g_new0(mux_input, 1);
	in->first_pts = GST_CLOCK_TIME_NONE;
	in->end_pts = GST_CLOCK_TIME_NONE;
	in->is_video = g_str_has_prefix(media, "video/");
	g_object_set_data(G_OBJECT(sinkpad), "tb-repair", rp);
	gst_pad_add_probe(sinkpad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
			  repair_probe, in, NULL);
	g_mutex_lock(&rp->lock);
	g_ptr_array_add(rp->inputs, in);
	g_ptr_array_add(rp->mux_pads, sinkpad);
	g_mutex_unlock(&rp->lock);
	if (gst_pad_link(qsrc, sinkpad) != GST_PAD_LINK_OK ||
	    !gst_element_sync_state_with_parent(queue) ||
	    gst_pad_link(pad, qsink) != GST_PAD_LINK_OK)
		TB_WARN(LOG, "repair: cannot link %s", media);
	gst_object_unref(qsrc);
	gst_object_unref(qsink);
out:
	if (caps)
		gst_caps_unref(caps);
}

/* After the demuxer stopped on a cut last block, what went into the muxer is
 * good: end its inputs so it writes duration and cues. */
static void repair_end_inputs(repair *rp)
{
	g_mutex_lock(&rp->lock);
	for (guint i = 0; i < rp->mux_pads->len; i++)
		gst_pad_send_event(rp->mux_pads->pdata[i], gst_event_new_eos());
	g_mutex_unlock(&rp->lock);
}

bool tb_recording_repair(const char *path, tb_recording_result *out, GError **error)
{
	repair rp = {0};
	GstElement *src = NULL, *demux = NULL, *sink = NULL;
	char *tmp = g_strconcat(path, ".repair", NULL);
	bool ok = false, ended_inputs = false;
	GstBus *bus = NULL;

	g_return_val_if_fail(path != NULL && out != NULL, false);
	g_return_val_if_fail(error == NULL || *error == NULL, false);
	memset(out, 0, sizeof *out);
	g_mutex_init(&rp.lock);
	rp.inputs = g_ptr_array_new_with_free_func(g_free);
	rp.mux_pads = g_ptr_array_new_with_free_func(gst_object_unref);

	if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
		g_set_error(error, TB_RECORDER_ERROR, TB_ENOENT, "%s: no such file", path);
		goto out;
	}
	rp.pipeline = gst_object_ref_sink(gst_pipeline_new("repair"));
	if (!(src = make_element("filesrc", NULL, error)) ||
	    !(demux = make_element("matroskademux", NULL, error)) ||
	    !(rp.mux = make_element(g_str_has_suffix(path, ".webm") ? "webmmux" : "matroskamux",
				    NULL, error)) ||
	    !(sink = make_element("filesink", NULL, error))) {
		if (src)
			gst_object_unref(src);
		if (demux)
			gst_object_unref(demux);
		if (rp.mux)
			gst_object_unref(rp.mux);
		goto out;
	}
	g_object_set(src, "location", path, NULL);
	g_object_set(sink, "location", tmp, NULL);
	g_object_set(rp.mux, "writing-app", "Tribu (repaired)", NULL);
	gst_bin_add_many(GST_BIN(rp.pipeline), src, demux, rp.mux, sink, NULL);
	gst_element_link(src, demux);
	gst_element_link(rp.mux, sink);
	g_signal_connect(demux, "pad-added", G_CALLBACK(repair_pad_added), &rp);

	bus = gst_element_get_bus(rp.pipeline);
	if (gst_element_set_state(rp.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
		TB_DEBUG(LOG, "repair %s: cannot start", path);
	for (;;) {
		GstMessage *msg = gst_bus_timed_pop_filtered(bus, REPAIR_IDLE_TIMEOUT,
							     GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
		GError *err = NULL;

		if (!msg) {
			g_set_error(error, TB_RECORDER_ERROR, TB_EIO, "%s: repair timed out", path);
			break;
		}
		if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
			gst_message_unref(msg);
			ok = atomic_load(&rp.have_data);
			if (!ok)
				g_set_error(error, TB_RECORDER_ERROR, TB_EIO,
					    "%s: no readable media", path);
			break;
		}
		gst_message_parse_error(msg, &err, NULL);
		if (GST_MESSAGE_SRC(msg) == GST_OBJECT(demux) && atomic_load(&rp.have_data) &&
		    !ended_inputs) {
			/* The cut end of a killed writer: keep what was read. */
			TB_DEBUG(LOG, "repair %s: stops reading at: %s", path, err->message);
			ended_inputs = true;
			repair_end_inputs(&rp);
		} else {
			g_set_error(error, TB_RECORDER_ERROR, TB_EIO, "%s: %s", path,
				    atomic_load(&rp.have_data) ? err->message
							       : "no readable media");
			g_clear_error(&err);
			gst_message_unref(msg);
			break;
		}
		g_clear_error(&err);
		gst_message_unref(msg);
	}
	gst_element_set_state(rp.pipeline, GST_STATE_NULL);

	if (ok && g_rename(tmp, path) != 0) {
		g_set_error(error, TB_RECORDER_ERROR, TB_EIO, "rename %s: %s", tmp,
			    g_strerror(errno));
		ok = false;
	}
	if (ok) {
		out->state = TB_RECORDING_TRUNCATED;
		out->path = path;
		fill_from_inputs(out, (const mux_input *const *)rp.inputs->pdata, rp.inputs->len);
		out->bytes = file_size(path);
	}
out:
	if (!ok)
		g_unlink(tmp);
	if (bus)
		gst_object_unref(bus);
	g_ptr_array_unref(rp.mux_pads);
	if (rp.pipeline)
		gst_object_unref(rp.pipeline);
	g_ptr_array_unref(rp.inputs);
	g_mutex_clear(&rp.lock);
	g_free(tmp);
	return ok;
}
