/* fuzz-sdp.c — an SDP offer from a client, through parsing and the
 * server's publish answer, whose text is parsed again; and the same text as
 * a subscriber answer checked against a two-section subscriber offer.
 * The input is text: a NUL ends it. */
#include <glib.h>
#include <string.h>

#include "fuzz.h"
#include "sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const tb_sdp_local local = {
		.ice_ufrag = "fuzz",
		.ice_pwd = "fuzzpassword0123456789ab",
		.fingerprint = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
			       "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89",
		.session_id = 1,
		.session_version = 2,
	};
	char *text = g_strndup((const char *)data, size);
	tb_sdp_desc *offer = NULL, *again = NULL;
	tb_sdp_publish_result result = {0};
	GError *error = NULL;
	char *answer;

	/* A trickled candidate line is outside input too. */
	tb_sdp_candidate_is_end(text);
	g_free(tb_sdp_candidate_to_nice(text));
	if (tb_sdp_parse(text, &offer, &error) != 0) {
		g_clear_error(&error);
		g_free(text);
		return 0;
	}
	answer = tb_sdp_build_publish_answer(offer, &local, &result, &error);
	g_clear_error(&error);
	if (answer) {
		/* What we answer must parse: a browser would refuse it otherwise. */
		if (tb_sdp_parse(answer, &again, &error) != 0)
			g_error("the answer to a parsed offer does not parse: %s",
				error ? error->message : "?");
		tb_sdp_desc_free(again);
		for (size_t i = 0; i < result.n_sections; i++) {
			tb_sdp_publish_section *s = &result.sections[i];
			tb_fuzz_consume(s->mid, strlen(s->mid));
			for (size_t k = 0; k < s->n_rids; k++)
				tb_fuzz_consume(s->rids[k], strlen(s->rids[k]));
		}
		tb_sdp_publish_result_clear(&result);
		g_free(answer);
	}
	{
		tb_sdp_subscriber_track tracks[2] = {0};
		tb_sdp_codec_params opus = {.pt = 111, .name = "opus", .clock_rate = 48000,
					    .channels = 2, .rtx_pt = -1};
		tb_sdp_codec_params vp8 = {.pt = 96, .name = "VP8", .clock_rate = 90000,
					   .rtx_pt = 97};

		tracks[0].mid = "0";
		tracks[0].kind = TB_SDP_KIND_AUDIO;
		tracks[0].codec = opus;
		tracks[0].ssrc = 1111;
		tracks[0].active = true;
		tracks[1].mid = "1";
		tracks[1].kind = TB_SDP_KIND_VIDEO;
		tracks[1].codec = vp8;
		tracks[1].ssrc = 2222;
		tracks[1].rtx_ssrc = 3333;
		tracks[1].active = true;
		tb_sdp_check_subscriber_answer(offer, tracks, 2, &error);
		g_clear_error(&error);
	}
	tb_sdp_desc_free(offer);
	g_free(text);
	return 0;
}
