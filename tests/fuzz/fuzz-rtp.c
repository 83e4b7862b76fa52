/* fuzz-rtp.c — an RTP packet from a publisher, through what the forwarder
 * does with it: header and RFC 8285 extensions parsed, every element read,
 * the per-subscriber rewrite (payload type, sequence number, timestamp,
 * SSRC, marker, extension ids remapped, VP8/VP9 picture ids and TL0 indexes)
 * applied to a copy, keyframe detection for each codec. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tb_rtp_header hdr;
	tb_rtp_ext_iter it;
	uint8_t map[256], id;
	const uint8_t *ext;
	size_t ext_len;
	uint8_t *copy;

	if (tb_rtp_parse(data, size, &hdr) != 0)
		return 0;
	tb_fuzz_consume(data + hdr.payload_offset, hdr.payload_len);

	tb_rtp_ext_iter_init(&it, data, &hdr);
	while (tb_rtp_ext_iter_next(&it, &id, &ext, &ext_len)) {
		bool voice;
		uint8_t level;
		uint32_t abs;
		uint16_t seq;

		tb_fuzz_consume(ext, ext_len);
		tb_rtp_ext_read_audio_level(ext, ext_len, &voice, &level);
		tb_rtp_ext_read_abs_send_time(ext, ext_len, &abs);
		tb_rtp_ext_read_transport_seq(ext, ext_len, &seq);
	}

	/* The rewrite works on the subscriber's copy, exactly the input's size. */
	copy = malloc(size);
	memcpy(copy, data, size);
	tb_rtp_set_payload_type(copy, size, data[1] & 0x7f);
	tb_rtp_set_seq(copy, size, (uint16_t)(hdr.seq + 1000));
	tb_rtp_set_timestamp(copy, size, hdr.timestamp ^ 0x5a5a5a5au);
	tb_rtp_set_ssrc(copy, size, ~hdr.ssrc);
	tb_rtp_set_marker(copy, size, !hdr.marker);
	/* A map that moves some ids, drops others, keeps the rest. */
	for (unsigned i = 0; i < 256; i++)
		map[i] = (uint8_t)(i % 3 == 0 ? 0 : (i % 3 == 1 ? i : (i % 14) + 1));
	if (tb_rtp_ext_remap(copy, size, &hdr, map) == 0) {
		tb_rtp_header again;

		/* Same size, and it must still parse the same way. */
		if (tb_rtp_parse(copy, size, &again) != 0 ||
		    again.payload_offset != hdr.payload_offset)
			abort();
	}
	for (uint8_t wanted = 1; wanted <= 14; wanted++) {
		uint8_t *value;
		size_t value_len;

		if (tb_rtp_ext_find_mut(copy, &hdr, wanted, &value, &value_len)) {
			tb_rtp_ext_write_abs_send_time(value, value_len,
						       tb_rtp_abs_send_time_from_us(123456789));
			tb_rtp_ext_write_transport_seq(value, value_len, 4242);
		}
	}

	/* The payload as each video codec. */
	{
		uint8_t *payload = copy + hdr.payload_offset;
		size_t plen = hdr.payload_len;
		tb_vp8_descriptor vp8;
		tb_vp9_descriptor vp9;

		if (tb_vp8_parse_descriptor(payload, plen, &vp8) == 0) {
			tb_fuzz_consume(payload + vp8.header_len, plen - vp8.header_len);
			tb_vp8_set_picture_id(payload, plen, 0x7fff);
			tb_vp8_set_tl0picidx(payload, plen, 7);
		}
		tb_vp8_is_keyframe(payload, plen);
		if (tb_vp9_parse_descriptor(payload, plen, &vp9) == 0) {
			tb_vp9_set_picture_id(payload, plen, 0x1234);
			tb_vp9_set_tl0picidx(payload, plen, 3);
		}
		tb_vp9_is_keyframe(payload, plen);
		tb_h264_is_keyframe(payload, plen);
	}
	tb_fuzz_consume(copy, size);
	free(copy);
	return 0;
}
