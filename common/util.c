/* util.c — error strings, roles, random ids, base64url, room ids, durations.
 *
 * Pure functions, callable from any thread. Decoders here take untrusted
 * input (tokens, URLs, config files) and reject anything not canonical
 * rather than guessing.
 */
#include "common.h"

#include <openssl/rand.h>
#include <string.h>

const char *tb_strerror(int code)
{
	switch (code) {
	case TB_OK:
		return "success";
	case TB_EINVAL:
		return "invalid argument";
	case TB_ENOMEM:
		return "out of memory";
	case TB_ENOENT:
		return "no such object";
	case TB_EEXIST:
		return "already exists";
	case TB_EFULL:
		return "capacity reached";
	case TB_ELOCKED:
		return "room locked";
	case TB_EPERM:
		return "not permitted for this role";
	case TB_EAUTH:
		return "authentication failed";
	case TB_EEXPIRED:
		return "token expired";
	case TB_EIO:
		return "system or library failure";
	case TB_ECONFLICT:
		return "conflict";
	default:
		return "unknown error";
	}
}

static const char *const role_names[] = {
	[TB_ROLE_MENTOR] = "mentor",
	[TB_ROLE_STUDENT] = "student",
	[TB_ROLE_CURATOR] = "curator",
	[TB_ROLE_ADMIN] = "admin",
};

tb_role tb_role_from_string(const char *s)
{
	if (s == NULL)
		return TB_ROLE_NONE;
	for (size_t i = 0; i < G_N_ELEMENTS(role_names); i++) {
		if (role_names[i] != NULL && strcmp(s, role_names[i]) == 0)
			return (tb_role)i;
	}
	return TB_ROLE_NONE;
}

const char *tb_role_to_string(tb_role role)
{
	if ((unsigned)role >= G_N_ELEMENTS(role_names))
		return NULL;
	return role_names[role];
}

char *tb_random_hex(size_t nbytes)
{
	static const char digits[] = "0123456789abcdef";
	uint8_t *bytes;
	char *hex;

	g_return_val_if_fail(nbytes <= (G_MAXSIZE - 1) / 2, NULL);

	bytes = g_malloc(nbytes ? nbytes : 1);
	hex = g_malloc(nbytes * 2 + 1);
	/* Ids and secrets must never be predictable: no fallback generator. */
	for (size_t off = 0; off < nbytes;) {
		int chunk = (int)MIN(nbytes - off, (size_t)G_MAXINT);

		if (RAND_bytes(bytes + off, chunk) != 1)
			g_error("tb_random_hex: RAND_bytes failed");
		off += (size_t)chunk;
	}
	for (size_t i = 0; i < nbytes; i++) {
		hex[2 * i] = digits[bytes[i] >> 4];
		hex[2 * i + 1] = digits[bytes[i] & 0x0f];
	}
	hex[nbytes * 2] = '\0';
	g_free(bytes);
	return hex;
}

/* ---- base64url ---- */

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *tb_base64url_encode(const uint8_t *data, size_t len)
{
	size_t out_len, i, o = 0;
	char *out;

	g_return_val_if_fail(data != NULL || len == 0, NULL);
	g_return_val_if_fail(len <= (G_MAXSIZE / 4) * 3 - 3, NULL);

	out_len = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
	out = g_malloc(out_len + 1);
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];

		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
		out[o++] = b64url_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)data[i] << 16;

		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;

		out[o++] = b64url_alphabet[v >> 18 & 63];
		out[o++] = b64url_alphabet[v >> 12 & 63];
		out[o++] = b64url_alphabet[v >> 6 & 63];
	}
	out[o] = '\0';
	return out;
}

/* Returns the 6-bit value of C, or -1 outside the alphabet. */
static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

uint8_t *tb_base64url_decode(const char *text, size_t *len)
{
	size_t text_len, out_len, rem, i, o = 0;
	uint8_t *out = NULL;
	uint32_t v = 0;
	int bits = 0;

	g_return_val_if_fail(len != NULL, NULL);
	*len = 0;
	if (text == NULL)
		goto fail;

	text_len = strlen(text);
	rem = text_len % 4;
	/* One leftover character carries only 6 bits: not a whole byte. */
	if (rem == 1)
		goto fail;
	out_len = text_len / 4 * 3 + (rem ? rem - 1 : 0);
	out = g_malloc(out_len ? out_len : 1);

	for (i = 0; i < text_len; i++) {
		int c = b64url_value(text[i]);

		if (c < 0)
			goto fail;
		v = v << 6 | (uint32_t)c;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(v >> bits);
			v &= (1u << bits) - 1;
		}
	}
	/* Canonical encodings leave the unused low bits zero; anything else is
	 * a second spelling of the same bytes. */
	if (v != 0)
		goto fail;
	g_assert(o == out_len);
	*len = out_len;
	return out;
fail:
	g_free(out);
	return NULL;
}

bool tb_room_id_valid(const char *id)
{
	size_t n;

	if (id == NULL)
		return false;
	for (n = 0; id[n] != '\0'; n++) {
		if (n == 64)
			return false;
		if (!g_ascii_isalnum(id[n]) && id[n] != '-' && id[n] != '_')
			return false;
	}
	return n > 0;
}

int64_t tb_parse_duration_s(const char *text)
{
	int64_t value = 0, unit = 1;
	const char *p = text;

	if (text == NULL || !g_ascii_isdigit(*p))
		return -1;
	for (; g_ascii_isdigit(*p); p++) {
		int digit = *p - '0';

		if (value > (G_MAXINT64 - digit) / 10)
			return -1;
		value = value * 10 + digit;
	}
	switch (*p) {
	case '\0':
		return value;
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	default:
		return -1;
	}
	if (p[1] != '\0' || value > G_MAXINT64 / unit)
		return -1;
	return value * unit;
}
