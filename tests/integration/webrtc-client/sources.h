/* sources.h — what tribu-client's test sources show and play, and when it
 * mutes itself (see sources.c). */
#ifndef TRIBU_CLIENT_SOURCES_H
#define TRIBU_CLIENT_SOURCES_H

#include <gst/gst.h>

/* Sync pattern: a flash (white frames) and a 1 kHz beep start together
 * every SOURCES_SYNC_PERIOD_MS of pipeline running time, the first at one
 * period, and last SOURCES_SYNC_PULSE_MS; between them the video is black
 * and the audio silent. */
#define SOURCES_SYNC_PERIOD_MS 2000
#define SOURCES_SYNC_PULSE_MS  200
#define SOURCES_BEEP_HZ        1000

/* Called on the main thread with TRUE when --mute-after is due and with
 * FALSE when its unmute is; the caller sends the signaling requests. */
typedef void (*sources_mute_fn)(gboolean muted, gpointer user_data);

/**
 * Arranges the test sources that will be added to PIPELINE (a
 * videotestsrc and an audiotestsrc, in bins, any time later): PATTERN is
 * NULL or "ball" (videotestsrc's moving ball and a 440 Hz tone, unchanged),
 * "sync" (see SOURCES_SYNC_*), a colour name (black, white, grey, red,
 * green, blue, yellow, cyan, magenta) or "R,G,B" (0..255 each): the whole
 * frame in that colour, the tone unchanged. MUTE_AFTER is NULL or
 * "S[:D]": S seconds after the first published buffer, MUTE(TRUE, USER_DATA)
 * runs; D seconds later (when given) MUTE(FALSE, USER_DATA). MUTE may be
 * NULL when MUTE_AFTER is.
 *
 * Returns TRUE, or FALSE with *ERROR (transfer full) saying which option
 * is wrong. PIPELINE: transfer none, must outlive the sources. Main thread,
 * once, before any source is added.
 */
gboolean sources_install(GstElement *pipeline, const char *pattern, const char *mute_after,
			 sources_mute_fn mute, gpointer user_data, char **error);

#endif
