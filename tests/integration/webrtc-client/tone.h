/* tone.h — tribu-client's published tone: a volume schedule, and the RFC
 * 6464 audio level (urn:ietf:params:rtp-hdrext:ssrc-audio-level) measured
 * on the tone and sent in every published audio packet. See tone.c.
 */
#ifndef TRIBU_CLIENT_TONE_H
#define TRIBU_CLIENT_TONE_H

#include <gst/gst.h>

/* --tone-volume: "V" or "V,S:V,..." (volume 0..1 from the start, then at S
 * seconds after start-up, ...). NULL: the option was not given. */
extern char *tone_volume_spec;

/* With tone_volume_spec set: finds the audio source bin's audiotestsrc,
 * opusenc and RTP capsfilter in PIPELINE, applies the schedule (main
 * loop timers), announces the extension in the caps (so in the offer) and
 * adds it to each packet. Call after the audio source is added and before
 * the offer is made. Without the option: does nothing, returns TRUE.
 * Returns TRUE; on a bad spec or a missing element it prints why on
 * stderr and exits with status 2 (a usage error). Main thread. */
gboolean tone_setup(GstElement *pipeline);

#endif
