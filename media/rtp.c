/* rtp.c — RTP header parsing and rewriting, RFC 8285 header extensions and
 * codec payload descriptors (VP8, VP9, H.264).
 *
 * Pure functions over caller buffers, callable from any thread; run on the
 * media workers' hot path for every packet, so nothing here allocates, logs
 * or loops more than the packet's own structure asks. Every read is checked
 * against the length the caller gave: packets come from the network.
 *
 * Not here: SRTP, RTCP, and forwarding decisions (media/forward.c).
 */
#include "rtp.h"

#include "common.h"

#include <string.h>

#include "bytes.h"


/* ---- fixed header ---- */

int tb_rtp_parse(const uint8_t *buf, size_t len, tb_rtp_header *out)
{
	size_t pos;

	if (len < TB_RTP_FIXED_HEADER_LEN || (buf[0] >> 6) != TB_RTP_VERSION)
		return TB_EINVAL;

	out->version = TB_RTP_VERSION;
	out->padding = (buf[0] & 0x20) != 0;
	out->extension = (buf[0] & 0x10) != 0;
	out->csrc_count = buf[0] & 0x0f;
	out->marker = (buf[1] & 0x80) != 0;
	out->payload_type = buf[1] & 0x7f;
	out->seq = rd16(buf + 2);
	out->timestamp = rd32(buf + 4);
	out->ssrc = rd32(buf + 8);
	out->ext_profile = 0;
	out->ext_offset = 0;
	out->ext_len = 0;
	out->padding_len = 0;

	pos = TB_RTP_FIXED_HEADER_LEN + 4 * (size_t)out->csrc_count;
	if (pos > len)
		return TB_EINVAL;

	if (out->extension) {
		size_t ext_len;

		if (len - pos < 4)
			return TB_EINVAL;
		out->ext_profile = rd16(buf + pos);
		ext_len = 4 * (size_t)rd16(buf + pos + 2);
		pos += 4;
		if (ext_len > len - pos)
			return TB_EINVAL;
		out->ext_offset = pos;
		out->ext_len = ext_len;
		pos += ext_len;
	}

	out->header_len = pos;
	out->payload_offset = pos;
	out->payload_len = len - pos;

	if (out->padding) {
		/* RFC 3550 §5.1: the last byte counts the padding, itself included,
		 * so 0 is malformed; it may not eat into the header. */
		uint8_t pad = buf[len - 1];

		if (pad == 0 || pad > out->payload_len)
			return TB_EINVAL;
		out->padding_len = pad;
		out->payload_len -= pad;
	}
	return 0;
}

int tb_rtp_set_payload_type(uint8_t *buf, size_t len, uint8_t pt)
{
	if (len < TB_RTP_FIXED_HEADER_LEN || pt > 127)
		return TB_EINVAL;
	buf[1] = (uint8_t)((buf[1] & 0x80) | pt);
	return 0;
}

int tb_rtp_set_seq(uint8_t *buf, size_t len, uint16_t seq)
{
	if (len < TB_RTP_FIXED_HEADER_LEN)
		return TB_EINVAL;
	wr16(buf + 2, seq);
	return 0;
}

int tb_rtp_set_timestamp(uint8_t *buf, size_t len, uint32_t timestamp)
{
	if (len < TB_RTP_FIXED_HEADER_LEN)
		return TB_EINVAL;
	wr32(buf + 4, timestamp);
	return 0;
}

int tb_rtp_set_ssrc(uint8_t *buf, size_t len, uint32_t ssrc)
{
	if (len < TB_RTP_FIXED_HEADER_LEN)
		return TB_EINVAL;
	wr32(buf + 8, ssrc);
	return 0;
}

int tb_rtp_set_marker(uint8_t *buf, size_t len, bool marker)
{
	if (len < TB_RTP_FIXED_HEADER_LEN)
		return TB_EINVAL;
	buf[1] = (uint8_t)((buf[1] & 0x7f) | (marker ? 0x80 : 0));
	return 0;
}

/* ---- RFC 8285 header extensions ---- */

tb_rtp_ext_form tb_rtp_ext_form_of(const tb_rtp_header *hdr)
{
	if (!hdr->extension)
		return TB_RTP_EXT_FORM_NONE;
	if (hdr->ext_profile == TB_RTP_EXT_PROFILE_ONE_BYTE)
		return TB_RTP_EXT_FORM_ONE_BYTE;
	if ((hdr->ext_profile & 0xfff0) == TB_RTP_EXT_PROFILE_TWO_BYTE)
		return TB_RTP_EXT_FORM_TWO_BYTE;
	return TB_RTP_EXT_FORM_NONE;
}

void tb_rtp_ext_iter_init(tb_rtp_ext_iter *iter, const uint8_t *buf, const tb_rtp_header *hdr)
{
	iter->form = tb_rtp_ext_form_of(hdr);
	iter->block = iter->form == TB_RTP_EXT_FORM_NONE ? NULL : buf + hdr->ext_offset;
	iter->len = iter->form == TB_RTP_EXT_FORM_NONE ? 0 : hdr->ext_len;
	iter->pos = 0;
}

/* Advances ITER to the next element. Sets *ELEM to the element's offset in
 * the block, *ELEM_LEN to its whole length (id/length bytes included) and
 * *DATA_LEN to its data length. Padding is skipped; a one-byte id 15 or an
 * element running past the block ends the iteration for good. */
static bool ext_next(tb_rtp_ext_iter *iter, uint8_t *id, size_t *elem, size_t *elem_len,
		     size_t *data_len)
{
	while (iter->pos < iter->len) {
		size_t pos = iter->pos, left = iter->len - iter->pos, head, dlen;
		uint8_t b = iter->block[pos];

		if (iter->form == TB_RTP_EXT_FORM_ONE_BYTE) {
			/* ID 0 is a padding byte whatever its length nibble says
			 * (as GStreamer and libwebrtc read it). */
			if ((b >> 4) == 0) {
				iter->pos++;
				continue;
			}
			if ((b >> 4) == 15)
				break;
			head = 1;
			dlen = (size_t)(b & 0x0f) + 1;
		} else if (iter->form == TB_RTP_EXT_FORM_TWO_BYTE) {
			if (b == 0) {
				iter->pos++;
				continue;
			}
			if (left < 2)
				break;
			head = 2;
			dlen = iter->block[pos + 1];
		} else {
			break;
		}
		if (dlen > left - head)
			break;
		*id = iter->form == TB_RTP_EXT_FORM_ONE_BYTE ? (uint8_t)(b >> 4) : b;
		*elem = pos;
		*elem_len = head + dlen;
		*data_len = dlen;
		iter->pos = pos + head + dlen;
		return true;
	}
	iter->pos = iter->len;
	return false;
}

bool tb_rtp_ext_iter_next(tb_rtp_ext_iter *iter, uint8_t *id, const uint8_t **data, size_t *len)
{
	size_t elem, elem_len, data_len;

	if (!ext_next(iter, id, &elem, &elem_len, &data_len))
		return false;
	*data = iter->block + elem + (elem_len - data_len);
	*len = data_len;
	return true;
}

bool tb_rtp_ext_find(const uint8_t *buf, const tb_rtp_header *hdr, uint8_t id, const uint8_t **data,
		     size_t *len)
{
	tb_rtp_ext_iter iter;
	const uint8_t *d;
	size_t l;
	uint8_t got;

	if (id == 0)
		return false;
	tb_rtp_ext_iter_init(&iter, buf, hdr);
	while (tb_rtp_ext_iter_next(&iter, &got, &d, &l)) {
		if (got == id) {
			if (data)
				*data = d;
			if (len)
				*len = l;
			return true;
		}
	}
	return false;
}

int tb_rtp_ext_remap(uint8_t *buf, size_t len, const tb_rtp_header *hdr, const uint8_t map[256])
{
	tb_rtp_ext_iter iter;
	size_t elem, elem_len, data_len;
	uint8_t id;
	uint8_t *block;

	if (!hdr->extension)
		return 0;
	if (hdr->ext_offset > len || hdr->ext_len > len - hdr->ext_offset)
		return TB_EINVAL;

	/* First pass: refuse before touching anything if an id does not fit
	 * the one-byte form, so a failed call leaves the packet intact. */
	tb_rtp_ext_iter_init(&iter, buf, hdr);
	if (iter.form == TB_RTP_EXT_FORM_NONE)
		return 0;
	if (iter.form == TB_RTP_EXT_FORM_ONE_BYTE) {
		while (ext_next(&iter, &id, &elem, &elem_len, &data_len))
			if (map[id] > 14)
				return TB_EINVAL;
		tb_rtp_ext_iter_init(&iter, buf, hdr);
	}

	/* The iterator has moved past an element before it is rewritten, and
	 * rewriting never changes a length, so the walk stays the same. */
	block = buf + hdr->ext_offset;
	while (ext_next(&iter, &id, &elem, &elem_len, &data_len)) {
		uint8_t to = map[id];

		if (to == 0)
			memset(block + elem, 0, elem_len);
		else if (iter.form == TB_RTP_EXT_FORM_ONE_BYTE)
			block[elem] = (uint8_t)((to << 4) | (block[elem] & 0x0f));
		else
			block[elem] = to;
	}
	return 0;
}

int tb_rtp_ext_read_audio_level(const uint8_t *data, size_t len, bool *voice, uint8_t *level)
{
	if (len < 1)
		return TB_EINVAL;
	*voice = (data[0] & 0x80) != 0;
	*level = data[0] & 0x7f;
	return 0;
}

int tb_rtp_ext_read_abs_send_time(const uint8_t *data, size_t len, uint32_t *abs_send_time)
{
	if (len < 3)
		return TB_EINVAL;
	*abs_send_time = rd24(data);
	return 0;
}

int tb_rtp_ext_read_transport_seq(const uint8_t *data, size_t len, uint16_t *seq)
{
	if (len < 2)
		return TB_EINVAL;
	*seq = rd16(data);
	return 0;
}

int tb_rtp_ext_write_abs_send_time(uint8_t *data, size_t len, uint32_t abs_send_time)
{
	if (len < 3)
		return TB_EINVAL;
	wr24(data, abs_send_time & 0xffffff);
	return 0;
}

int tb_rtp_ext_write_transport_seq(uint8_t *data, size_t len, uint16_t seq)
{
	if (len < 2)
		return TB_EINVAL;
	wr16(data, seq);
	return 0;
}

uint32_t tb_rtp_abs_send_time_from_us(uint64_t time_us)
{
	/* Only 6 bits of seconds survive, so shift the parts separately and
	 * never overflow, however long the clock has run. */
	uint64_t seconds = (time_us / 1000000) & 0x3f;
	uint64_t fraction = ((time_us % 1000000) << 18) / 1000000;

	return (uint32_t)(((seconds << 18) | fraction) & 0xffffff);
}

/* ---- VP8 ---- */

int tb_vp8_parse_descriptor(const uint8_t *payload, size_t len, tb_vp8_descriptor *out)
{
	size_t pos = 1;
	uint8_t b;

	memset(out, 0, sizeof(*out));
	if (len < 1)
		return TB_EINVAL;
	b = payload[0];
	out->non_reference = (b & 0x20) != 0;
	out->start = (b & 0x10) != 0;
	out->partition_id = b & 0x07;

	if (b & 0x80) { /* X: extension octet */
		uint8_t x;

		if (pos >= len)
			return TB_EINVAL;
		x = payload[pos++];
		if (x & 0x80) { /* I */
			if (pos >= len)
				return TB_EINVAL;
			out->has_picture_id = true;
			out->picture_id_offset = pos;
			if (payload[pos] & 0x80) {
				if (len - pos < 2)
					return TB_EINVAL;
				out->picture_id_15 = true;
				out->picture_id = rd16(payload + pos) & 0x7fff;
				pos += 2;
			} else {
				out->picture_id = payload[pos] & 0x7f;
				pos += 1;
			}
		}
		if (x & 0x40) { /* L */
			if (pos >= len)
				return TB_EINVAL;
			out->has_tl0picidx = true;
			out->tl0picidx_offset = pos;
			out->tl0picidx = payload[pos++];
		}
		if (x & 0x30) { /* T or K share one octet */
			uint8_t tk;

			if (pos >= len)
				return TB_EINVAL;
			tk = payload[pos++];
			if (x & 0x20) {
				out->has_tid = true;
				out->tid = tk >> 6;
				out->layer_sync = (tk & 0x20) != 0;
			}
			if (x & 0x10) {
				out->has_keyidx = true;
				out->keyidx = tk & 0x1f;
			}
		}
	}
	if (pos >= len) /* a descriptor with no VP8 payload after it */
		return TB_EINVAL;
	out->header_len = pos;
	return 0;
}

bool tb_vp8_is_keyframe(const uint8_t *payload, size_t len)
{
	tb_vp8_descriptor d;

	if (tb_vp8_parse_descriptor(payload, len, &d) != 0)
		return false;
	/* RFC 7741 §4.3: the frame tag's first bit is the inverse key frame flag. */
	return d.start && d.partition_id == 0 && (payload[d.header_len] & 0x01) == 0;
}

static void write_picture_id(uint8_t *p, bool wide, uint16_t picture_id)
{
	if (wide)
		wr16(p, (uint16_t)(0x8000 | (picture_id & 0x7fff)));
	else
		p[0] = picture_id & 0x7f;
}

int tb_vp8_set_picture_id(uint8_t *payload, size_t len, uint16_t picture_id)
{
	tb_vp8_descriptor d;

	if (tb_vp8_parse_descriptor(payload, len, &d) != 0)
		return TB_EINVAL;
	if (!d.has_picture_id)
		return TB_ENOENT;
	write_picture_id(payload + d.picture_id_offset, d.picture_id_15, picture_id);
	return 0;
}

int tb_vp8_set_tl0picidx(uint8_t *payload, size_t len, uint8_t tl0picidx)
{
	tb_vp8_descriptor d;

	if (tb_vp8_parse_descriptor(payload, len, &d) != 0)
		return TB_EINVAL;
	if (!d.has_tl0picidx)
		return TB_ENOENT;
	payload[d.tl0picidx_offset] = tl0picidx;
	return 0;
}

/* ---- VP9 ---- */

/* Skips the scalability structure (RFC 9628 §4.2.1) starting at *POS. */
static int vp9_skip_ss(const uint8_t *p, size_t len, size_t *pos)
{
	size_t at = *pos;
	unsigned n_s;
	bool has_res, has_groups;

	if (at >= len)
		return TB_EINVAL;
	n_s = (unsigned)(p[at] >> 5) + 1;
	has_res = (p[at] & 0x10) != 0;
	has_groups = (p[at] & 0x08) != 0;
	at++;
	if (has_res) {
		if (len - at < 4 * (size_t)n_s)
			return TB_EINVAL;
		at += 4 * (size_t)n_s;
	}
	if (has_groups) {
		unsigned n_g;

		if (at >= len)
			return TB_EINVAL;
		n_g = p[at++];
		for (unsigned i = 0; i < n_g; i++) {
			size_t refs;

			if (at >= len)
				return TB_EINVAL;
			refs = (p[at] >> 2) & 0x03;
			at++;
			if (len - at < refs)
				return TB_EINVAL;
			at += refs;
		}
	}
	*pos = at;
	return 0;
}

int tb_vp9_parse_descriptor(const uint8_t *payload, size_t len, tb_vp9_descriptor *out)
{
	size_t pos = 1;
	uint8_t b;

	memset(out, 0, sizeof(*out));
	if (len < 1)
		return TB_EINVAL;
	b = payload[0];
	out->has_picture_id = (b & 0x80) != 0;
	out->inter_picture = (b & 0x40) != 0;
	out->has_layers = (b & 0x20) != 0;
	out->flexible = (b & 0x10) != 0;
	out->begin = (b & 0x08) != 0;
	out->end = (b & 0x04) != 0;
	out->has_ss = (b & 0x02) != 0;
	out->not_reference = (b & 0x01) != 0;

	if (out->has_picture_id) {
		if (pos >= len)
			return TB_EINVAL;
		out->picture_id_offset = pos;
		if (payload[pos] & 0x80) {
			if (len - pos < 2)
				return TB_EINVAL;
			out->picture_id_15 = true;
			out->picture_id = rd16(payload + pos) & 0x7fff;
			pos += 2;
		} else {
			out->picture_id = payload[pos++] & 0x7f;
		}
	}
	if (out->has_layers) {
		if (pos >= len)
			return TB_EINVAL;
		out->tid = payload[pos] >> 5;
		out->switching_up = (payload[pos] & 0x10) != 0;
		out->sid = (payload[pos] >> 1) & 0x07;
		out->inter_layer = (payload[pos] & 0x01) != 0;
		pos++;
		if (!out->flexible) {
			if (pos >= len)
				return TB_EINVAL;
			out->has_tl0picidx = true;
			out->tl0picidx_offset = pos;
			out->tl0picidx = payload[pos++];
		}
	}
	if (out->flexible && out->inter_picture) {
		bool more = true;

		/* Up to three P_DIFF octets, each with N set if another follows. */
		while (more) {
			if (out->num_ref_pics == 3 || pos >= len)
				return TB_EINVAL;
			out->p_diff[out->num_ref_pics++] = payload[pos] >> 1;
			more = (payload[pos] & 0x01) != 0;
			pos++;
		}
	}
	if (out->has_ss && vp9_skip_ss(payload, len, &pos) != 0)
		return TB_EINVAL;
	if (pos >= len)
		return TB_EINVAL;
	out->header_len = pos;
	return 0;
}

bool tb_vp9_is_keyframe(const uint8_t *payload, size_t len)
{
	tb_vp9_descriptor d;

	if (tb_vp9_parse_descriptor(payload, len, &d) != 0)
		return false;
	return !d.inter_picture && d.begin && (!d.has_layers || d.sid == 0);
}

int tb_vp9_set_picture_id(uint8_t *payload, size_t len, uint16_t picture_id)
{
	tb_vp9_descriptor d;

	if (tb_vp9_parse_descriptor(payload, len, &d) != 0)
		return TB_EINVAL;
	if (!d.has_picture_id)
		return TB_ENOENT;
	write_picture_id(payload + d.picture_id_offset, d.picture_id_15, picture_id);
	return 0;
}

int tb_vp9_set_tl0picidx(uint8_t *payload, size_t len, uint8_t tl0picidx)
{
	tb_vp9_descriptor d;

	if (tb_vp9_parse_descriptor(payload, len, &d) != 0)
		return TB_EINVAL;
	if (!d.has_tl0picidx)
		return TB_ENOENT;
	payload[d.tl0picidx_offset] = tl0picidx;
	return 0;
}

/* ---- H.264 ---- */

enum {
	H264_NAL_IDR = 5,
	H264_NAL_SPS = 7,
	H264_STAP_A = 24,
	H264_FU_A = 28,
};

static inline bool h264_is_key_nal(uint8_t type)
{
	return type == H264_NAL_IDR || type == H264_NAL_SPS;
}

bool tb_h264_is_keyframe(const uint8_t *payload, size_t len)
{
	uint8_t type;

	if (len < 1)
		return false;
	type = payload[0] & 0x1f;
	if (type >= 1 && type <= 23)
		return h264_is_key_nal(type);

	if (type == H264_STAP_A) {
		/* Walk the whole aggregate so a malformed one is refused even
		 * when an early unit looks like a key frame. */
		size_t pos = 1;
		bool key = false;

		while (pos < len) {
			size_t size;

			if (len - pos < 2)
				return false;
			size = rd16(payload + pos);
			pos += 2;
			if (size == 0 || size > len - pos)
				return false;
			key = key || h264_is_key_nal(payload[pos] & 0x1f);
			pos += size;
		}
		return key;
	}

	if (type == H264_FU_A) {
		/* FU header: S|E|R|type; only the first fragment says "start". */
		return len >= 3 && (payload[1] & 0x80) && h264_is_key_nal(payload[1] & 0x1f);
	}
	return false;
}
