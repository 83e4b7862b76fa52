/* tone.c — the published tone's volume schedule and its RFC 6464 audio level.
 *
 * A browser tells the server how loud each audio packet is with the
 * ssrc-audio-level header extension; the server picks the active speaker
 * from it. This file does the same for tribu-client: a pad probe on opusenc's
 * sink pad measures the RMS of the raw tone (S16LE, the only format opusenc
 * takes) and stores it as -dBov; a probe on the RTP capsfilter's src pad
 * rewrites each outgoing audio packet with a one-byte-header extension
 * element (RFC 8285) carrying that level, before webrtcbin encrypts it.
 * GStreamer's own extension object for that URI is handed to rtpopuspay
 * ("add-extension") so that its caps, and so the offer, announce the
 * extension as id 1. The volume schedule (--tone-volume) sets audiotestsrc's
 * volume at the given times, so a test can make one client louder than
 * another and then swap.
 *
 * Threads: tone_setup and the schedule run on the main loop; the probes run
 * in streaming threads and share only one atomic integer.
 */
#include "tone.h"

#include <gst/rtp/rtp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXT_ID  1
#define EXT_URI "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
/* A level below this (-dBov) is voice activity (the V bit). */
#define VOICE_LEVEL 60

char *tone_volume_spec;

static gint current_level = 127; /* -dBov, atomic */

typedef struct volume_step {
	GstElement *src;
	double volume;
} volume_step;

static gboolean apply_volume(gpointer data)
{
	volume_step *step = data;

	g_object_set(step->src, "volume", step->volume, NULL);
	fprintf(stderr, "tribu-client: tone volume %.3f\n", step->volume);
	return G_SOURCE_REMOVE;
}

static void volume_step_free(gpointer data)
{
	volume_step *step = data;

	gst_object_unref(step->src);
	g_free(step);
}

static GstElement *find_by_factory(GstElement *pipeline, const char *factory,
				   gboolean (*accept)(GstElement *))
{
	GstIterator *it = gst_bin_iterate_recurse(GST_BIN(pipeline));
	GValue item = G_VALUE_INIT;
	GstElement *found = NULL;

	while (!found && gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
		GstElement *e = g_value_get_object(&item);
		GstElementFactory *f = gst_element_get_factory(e);
		if (f && strcmp(GST_OBJECT_NAME(f), factory) == 0 && (!accept || accept(e)))
			found = gst_object_ref(e);
		g_value_reset(&item);
	}
	g_value_unset(&item);
	gst_iterator_free(it);
	return found;
}

static gboolean is_audio_rtp_filter(GstElement *e)
{
	GstCaps *caps = NULL;
	gboolean yes = FALSE;

	g_object_get(e, "caps", &caps, NULL);
	if (caps && gst_caps_get_size(caps) > 0) {
		const GstStructure *s = gst_caps_get_structure(caps, 0);
		yes = gst_structure_has_name(s, "application/x-rtp") &&
		      g_strcmp0(gst_structure_get_string(s, "media"), "audio") == 0;
	}
	if (caps)
		gst_caps_unref(caps);
	return yes;
}

/* Raw S16 tone: its RMS as -dBov. */
static GstPadProbeReturn measure_level(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
	GstMapInfo map;
	(void)pad;
	(void)data;

	if (!buf || !gst_buffer_map(buf, &map, GST_MAP_READ))
		return GST_PAD_PROBE_OK;
	size_t n = map.size / 2;
	if (n > 0) {
		const gint16 *samples = (const gint16 *)map.data;
		double sum = 0;
		for (size_t i = 0; i < n; i++)
			sum += (double)samples[i] * samples[i];
		double rms = sqrt(sum / (double)n) / 32768.0;
		double dbov = rms > 0 ? 20.0 * log10(rms) : -127.0;
		int level = (int)lround(-dbov);
		g_atomic_int_set(&current_level, CLAMP(level, 0, 127));
	}
	gst_buffer_unmap(buf, &map);
	return GST_PAD_PROBE_OK;
}

/* A copy of RTP packet BUF with the audio-level element added (RFC 8285
 * one-byte header, padded to a word), or NULL when BUF cannot take it. */
static GstBuffer *with_level(GstBuffer *buf)
{
	GstMapInfo in, out;
	GstBuffer *copy = NULL;

	if (!gst_buffer_map(buf, &in, GST_MAP_READ))
		return NULL;
	if (in.size < 12 || (in.data[0] & 0xC0) != 0x80 || (in.data[0] & 0x10))
		goto out; /* not RTP v2, or an extension already there */
	size_t header = 12 + 4u * (in.data[0] & 0x0F);
	if (in.size < header)
		goto out;
	copy = gst_buffer_new_allocate(NULL, in.size + 8, NULL);
	gst_buffer_copy_into(copy, buf, GST_BUFFER_COPY_METADATA, 0, (gsize)-1);
	gst_buffer_map(copy, &out, GST_MAP_WRITE);
	memcpy(out.data, in.data, header);
	out.data[0] |= 0x10; /* X */
	guint8 level = (guint8)g_atomic_int_get(&current_level);
	guint8 ext[8] = {0xBE,
			 0xDE,
			 0x00,
			 0x01,
			 (guint8)(EXT_ID << 4),
			 (guint8)((level < VOICE_LEVEL ? 0x80 : 0) | level),
			 0,
			 0};
	memcpy(out.data + header, ext, sizeof(ext));
	memcpy(out.data + header + sizeof(ext), in.data + header, in.size - header);
	gst_buffer_unmap(copy, &out);
out:
	gst_buffer_unmap(buf, &in);
	return copy;
}

static gboolean replace_in_list(GstBuffer **buf, guint idx, gpointer data)
{
	GstBuffer *copy = with_level(*buf);
	(void)idx;
	(void)data;

	if (copy) {
		gst_buffer_unref(*buf);
		*buf = copy;
	}
	return TRUE;
}

static GstPadProbeReturn add_level(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
	(void)pad;
	(void)data;

	if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
		GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
		GstBuffer *copy = with_level(buf);
		if (copy) {
			gst_buffer_unref(buf);
			GST_PAD_PROBE_INFO_DATA(info) = copy;
		}
	} else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
		GstBufferList *list =
			gst_buffer_list_make_writable(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
		gst_buffer_list_foreach(list, replace_in_list, NULL);
		GST_PAD_PROBE_INFO_DATA(info) = list;
	}
	return GST_PAD_PROBE_OK;
}

/* "V[,S:V]...": the first volume, then timed changes. */
static gboolean schedule_volumes(GstElement *src)
{
	gchar **parts = g_strsplit(tone_volume_spec, ",", -1);
	gboolean ok = TRUE;

	for (guint i = 0; ok && parts[i]; i++) {
		double at = 0, volume;
		char *end;
		const char *v = parts[i];
		if (i > 0) {
			const char *colon = strchr(parts[i], ':');
			at = colon ? g_ascii_strtod(parts[i], &end) : -1;
			if (!colon || end != colon || at < 0) {
				ok = FALSE;
				break;
			}
			v = colon + 1;
		}
		volume = g_ascii_strtod(v, &end);
		if (*end || end == v || volume < 0 || volume > 1) {
			ok = FALSE;
			break;
		}
		if (i == 0) {
			g_object_set(src, "volume", volume, NULL);
			continue;
		}
		volume_step *step = g_new0(volume_step, 1);
		step->src = gst_object_ref(src);
		step->volume = volume;
		g_timeout_add_full(G_PRIORITY_DEFAULT, (guint)(at * 1000), apply_volume, step,
				   volume_step_free);
	}
	g_strfreev(parts);
	if (!ok)
		fprintf(stderr, "tribu-client: --tone-volume takes V or V,S:V,... (V in 0..1)\n");
	return ok;
}

gboolean tone_setup(GstElement *pipeline)
{
	GstElement *src, *enc, *filter, *pay = NULL;
	gboolean ok = FALSE;

	if (!tone_volume_spec)
		return TRUE;
	src = find_by_factory(pipeline, "audiotestsrc", NULL);
	enc = find_by_factory(pipeline, "opusenc", NULL);
	filter = find_by_factory(pipeline, "capsfilter", is_audio_rtp_filter);
	pay = find_by_factory(pipeline, "rtpopuspay", NULL);
	if (!src || !enc || !filter || !pay) {
		fprintf(stderr, "tribu-client: --tone-volume needs the published audio\n");
		goto out;
	}
	if (!schedule_volumes(src))
		goto out;
	{
		/* The payloader puts extmap-1 in its caps for an extension it
		 * was given, so webrtcbin offers it. This one writes only when
		 * a buffer carries GstAudioLevelMeta, which ours do not: the
		 * level itself goes in with add_level below. */
		GstRTPHeaderExtension *ext = gst_rtp_header_extension_create_from_uri(EXT_URI);
		if (!ext) {
			fprintf(stderr, "tribu-client: no GStreamer RTP header extension for %s\n",
				EXT_URI);
			goto out;
		}
		gst_rtp_header_extension_set_id(ext, EXT_ID);
		g_signal_emit_by_name(pay, "add-extension", ext);
		gst_object_unref(ext);
	}
	{
		GstPad *sink = gst_element_get_static_pad(enc, "sink");
		GstPad *out = gst_element_get_static_pad(filter, "src");
		gst_pad_add_probe(sink, GST_PAD_PROBE_TYPE_BUFFER, measure_level, NULL, NULL);
		gst_pad_add_probe(out, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
				  add_level, NULL, NULL);
		gst_object_unref(sink);
		gst_object_unref(out);
	}
	ok = TRUE;
out:
	if (src)
		gst_object_unref(src);
	if (enc)
		gst_object_unref(enc);
	if (filter)
		gst_object_unref(filter);
	if (pay)
		gst_object_unref(pay);
	if (!ok)
		exit(2); /* a usage error: nothing useful can be measured */
	return ok;
}
