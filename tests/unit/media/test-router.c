/* test-router.c — the router's packet path on a room of two, through a fake
 * transport (tests/fuzz/fake-transport.c: no ICE, DTLS or SRTP; what the
 * router sends is collected in clear): bob publishes VP8 video, carol
 * receives it.
 *
 * Regression (found by tests/fuzz/fuzz-router): while bob's video is muted
 * nothing of it reaches carol, not even later through a NACK. A keyframe
 * that arrives after the unmute but is older than packets received while
 * muted (reordered) used to put those packets inside carol's
 * retransmission window.
 * Runs on the test's main thread; no main loop is iterated.
 */
#include <string.h>

#include "common.h"
#include "fake-transport.h"
#include "router-private.h"

#define BOB_SSRC  0xb0000002u
#define MUTED_TAG 0xeeu /* last payload byte of packets sent while muted */

static const char *const offer_text =
	"v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
	"a=msid-semantic: WMS s\r\n"
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n"
	"a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:ufrag\r\n"
	"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
	"a=fingerprint:sha-256 AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:"
	"AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89\r\n"
	"a=setup:actpass\r\na=mid:0\r\na=sendonly\r\na=msid:s t\r\na=rtcp-mux\r\n"
	"a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n"
	"a=ssrc:2952790018 cname:bob\r\n";

typedef struct sent {
	uint16_t seq;
	uint8_t last_byte;
	bool retransmission; /* sent while the test was NACKing */
} sent;

static GArray *to_carol; /* sent */
static bool nacking;

static void on_sent(void *user_data, bool rtcp, const uint8_t *buf, size_t len, size_t cap)
{
	tb_router_peer *peer = user_data;
	tb_rtp_header hdr;
	sent s;

	if (rtcp || strcmp(tb_router_peer_id(peer), "carol") != 0)
		return;
	g_assert_cmpint(tb_rtp_parse(buf, len, &hdr), ==, 0);
	s.seq = hdr.seq;
	s.last_byte = buf[hdr.payload_offset + hdr.payload_len - 1];
	s.retransmission = nacking;
	g_array_append_val(to_carol, s);
}

/* Bob's VP8 packet SEQ: a keyframe or not, its last payload byte TAG. */
static void bob_sends(tb_router_peer *bob, uint16_t seq, bool keyframe, uint8_t tag)
{
	uint8_t buf[64] = {0x80, 96, (uint8_t)(seq >> 8), (uint8_t)seq};
	/* VP8 descriptor without picture id, then a key or delta frame. */
	static const uint8_t key[] = {0x10, 0x10, 0x02, 0x00, 0x9d, 0x01,
				      0x2a, 0x40, 0x01, 0xf0, 0x00};
	static const uint8_t delta[] = {0x10, 0x11, 0x02, 0x00};
	size_t len = 12;

	buf[4] = (uint8_t)(seq >> 8); /* timestamp follows seq */
	buf[5] = (uint8_t)seq;
	buf[8] = (uint8_t)(BOB_SSRC >> 24);
	buf[9] = (uint8_t)(BOB_SSRC >> 16);
	buf[10] = (uint8_t)(BOB_SSRC >> 8);
	buf[11] = (uint8_t)BOB_SSRC;
	memcpy(buf + len, keyframe ? key : delta, keyframe ? sizeof key : sizeof delta);
	len += keyframe ? sizeof key : sizeof delta;
	buf[len++] = tag;
	tb_fake_transport_receive(bob->pub, false, buf, len);
}

static void test_muted_never_resent(void)
{
	GMainContext *ctx = g_main_context_new();
	tb_dtls_identity *identity = tb_dtls_identity_new();
	tb_ice_config ice = {0};
	tb_router_callbacks cb = {0};
	tb_router *router = tb_router_new(ctx, identity, &ice, "test", &cb, NULL);
	tb_router_peer *bob = tb_router_peer_new(router, "bob", NULL);
	tb_router_peer *carol = tb_router_peer_new(router, "carol", NULL);
	tb_router_subscription sub = {"bob", "0", TB_SIMULCAST_HIGH};
	tb_sdp_desc *offer = NULL;
	char *answer = NULL, *sub_offer = NULL;
	GArray *tracks = NULL, *map = NULL;
	uint16_t nack[64];
	uint8_t fb[512];
	uint32_t carol_ssrc;
	size_t n = 0;
	int len;

	to_carol = g_array_new(FALSE, FALSE, sizeof(sent));
	tb_fake_transport_set_sink(on_sent);
	g_assert_cmpint(tb_sdp_parse(offer_text, &offer, NULL), ==, 0);
	g_assert_cmpint(tb_router_publish(bob, offer, &answer, &tracks, NULL), ==, 0);
	g_assert_cmpint(tb_router_subscribe(carol, &sub, 1, 1, &sub_offer, &map, NULL), ==, 0);
	g_assert_cmpuint(map->len, ==, 1);
	tb_fake_transport_set_state(bob->pub, TB_TRANSPORT_CONNECTED);
	tb_fake_transport_set_state(carol->sub, TB_TRANSPORT_CONNECTED);
	carol_ssrc = ((sub_track *)carol->sub_tracks->pdata[0])->ssrc;

	/* A keyframe and two deltas reach carol. */
	bob_sends(bob, 100, true, 0);
	bob_sends(bob, 101, false, 0);
	bob_sends(bob, 102, false, 0);
	g_assert_cmpuint(to_carol->len, ==, 3);
	/* Muted: 103..110 reach nobody. */
	tb_router_set_muted(bob, TB_SDP_KIND_VIDEO, true);
	for (uint16_t seq = 103; seq <= 110; seq++)
		bob_sends(bob, seq, false, MUTED_TAG);
	g_assert_cmpuint(to_carol->len, ==, 3);
	/* Unmuted; the keyframe 104 comes late, after 105..110, then 111. */
	tb_router_set_muted(bob, TB_SDP_KIND_VIDEO, false);
	bob_sends(bob, 104, true, 0);
	bob_sends(bob, 111, false, 0);
	g_assert_cmpuint(to_carol->len, ==, 5);

	/* Carol asks again for every number it could have missed. */
	for (uint16_t seq = g_array_index(to_carol, sent, 0).seq;
	     seq != (uint16_t)(g_array_index(to_carol, sent, 4).seq + 1); seq++)
		nack[n++] = seq;
	len = tb_rtcp_build_nack(fb, sizeof fb, 1, carol_ssrc, nack, n);
	g_assert_cmpint(len, >, 0);
	nacking = true;
	tb_fake_transport_receive(carol->sub, true, fb, (size_t)len);
	nacking = false;

	/* The packets after the unmute are resent, none of the muted ones. */
	g_assert_cmpuint(to_carol->len, >, 5);
	for (guint i = 0; i < to_carol->len; i++)
		g_assert_cmpuint(g_array_index(to_carol, sent, i).last_byte, !=, MUTED_TAG);

	g_array_unref(to_carol);
	g_array_unref(tracks);
	g_array_unref(map);
	g_free(answer);
	g_free(sub_offer);
	tb_sdp_desc_free(offer);
	tb_router_free(router);
	tb_dtls_identity_unref(identity);
	g_main_context_unref(ctx);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/router/muted-never-resent", test_muted_never_resent);
	return g_test_run();
}
