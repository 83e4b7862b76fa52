/* active-speaker.c — who is speaking, from the router's audio levels.
 *
 * Main thread only. The room's router reports, every
 * TB_ROUTER_LEVEL_INTERVAL_MS, each publisher's mean RFC 6464 level over
 * the interval (room-media.c brings it here). From it: speaking time per
 * participant (attendance), and the active speaker, with hysteresis: a
 * participant becomes the active speaker after being the loudest one above
 * the floor for ACTIVE_HOLD_MS in a row; silence keeps the last one; a muted
 * participant (its own mute or the server's) neither speaks nor wins.
 *
 * Not here: reading the levels from packets (media/router.c).
 */
#include <string.h>

#include "rooms-private.h"

#define CAT "rooms.ws"

/* -dBov at or below which (that loud or louder) a participant speaks:
 * speech sits around -20 to -40 dBov, background noise below -50. */
#define SPEAKING_LEVEL 50
/* How long a new speaker must stay the loudest before taking over. */
#define ACTIVE_HOLD_MS 1000

static void set_active_speaker(tb_room *room, const char *id)
{
	tb__workshop *ws = &room->ws;
	json_t *data;

	if (g_strcmp0(ws->active_speaker, id) == 0)
		return;
	g_free(ws->active_speaker);
	ws->active_speaker = g_strdup(id);
	TB_DEBUG(CAT, "[%s] active speaker %s", room->id, id ? id : "(none)");
	data = json_pack("{s:s?, s:I}", "participant_id", id, "server_time_ms",
			 (json_int_t)tb_clock_wall_ms(room->rooms->clock));
	tb__room_send(room, NULL, "active-speaker", data);
	json_decref(data);
}

void tb__room_audio_levels(tb_room *room, const tb_router_audio_level *levels, size_t n,
			   unsigned interval_ms)
{
	tb__workshop *ws = &room->ws;
	tb_participant *loudest = NULL;
	unsigned best = SPEAKING_LEVEL + 1;

	for (size_t i = 0; i < n; i++) {
		tb_participant *p = tb__room_find_participant(room, levels[i].participant_id);
		if (!p || levels[i].muted || p->audio_muted || p->forced_applied[0])
			continue;
		if (levels[i].level > SPEAKING_LEVEL)
			continue;
		p->counters.speaking_ms += interval_ms;
		if (levels[i].level < best) {
			best = levels[i].level;
			loudest = p;
		}
	}
	if (!loudest || g_strcmp0(ws->active_speaker, loudest->id) == 0) {
		/* Silence, or the active speaker is still the loudest. */
		g_clear_pointer(&ws->challenger, g_free);
		return;
	}
	if (g_strcmp0(ws->challenger, loudest->id) != 0) {
		g_free(ws->challenger);
		ws->challenger = g_strdup(loudest->id);
		ws->challenger_ms = 0;
	}
	ws->challenger_ms += interval_ms; /* time spent loudest, in a row */
	if (ws->challenger_ms >= ACTIVE_HOLD_MS) {
		g_clear_pointer(&ws->challenger, g_free);
		set_active_speaker(room, loudest->id);
	}
}

void tb__active_speaker_left(tb_participant *p)
{
	tb__workshop *ws = &p->room->ws;

	if (g_strcmp0(ws->challenger, p->id) == 0)
		g_clear_pointer(&ws->challenger, g_free);
	if (g_strcmp0(ws->active_speaker, p->id) == 0)
		set_active_speaker(p->room, NULL);
}
