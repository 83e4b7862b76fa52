/* token.c — signed access tokens: base64url(JSON claims) "." base64url(HMAC).
 *
 * Any thread; no shared state. The signature is HMAC-SHA256 over the first
 * part as sent, checked in constant time before the claims are parsed, so
 * unauthenticated bytes never reach the JSON parser. Expiry is checked last,
 * so TB_EEXPIRED always means "genuine but too old".
 *
 * This file does not decide what a token allows (rooms/ does) and does not
 * know about revocation.
 */
#include "common.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define TOKEN_MAX_BYTES      4096
#define CLAIM_TEXT_MAX_BYTES 128
#define SIGNATURE_BYTES      32

static bool kind_valid(const char *kind)
{
	return strcmp(kind, "coaching") == 0 || strcmp(kind, "workshop") == 0;
}

static bool room_claim_valid(const char *room)
{
	return strcmp(room, "*") == 0 || tb_room_id_valid(room);
}

static bool text_claim_valid(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len <= CLAIM_TEXT_MAX_BYTES;
}

/* Writes HMAC-SHA256(SECRET, DATA[0..LEN)) into MAC. */
static bool sign_bytes(const char *secret, const char *data, size_t len,
		       uint8_t mac[SIGNATURE_BYTES])
{
	size_t secret_len = strlen(secret);
	unsigned int mac_len = 0;

	if (secret_len == 0 || secret_len > (size_t)G_MAXINT)
		return false;
	if (HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)data, len, mac,
		 &mac_len) == NULL)
		return false;
	return mac_len == SIGNATURE_BYTES;
}

char *tb_token_sign(const tb_token_claims *claims, const char *secret)
{
	uint8_t mac[SIGNATURE_BYTES];
	json_t *obj = NULL;
	char *json = NULL, *payload = NULL, *sig = NULL, *token = NULL;
	const char *role;

	if (claims == NULL || secret == NULL)
		return NULL;
	role = tb_role_to_string(claims->role);
	/* Refuse what verify would reject rather than hand out a dead token. */
	if (claims->sub == NULL || !text_claim_valid(claims->sub) || role == NULL ||
	    claims->room == NULL || !room_claim_valid(claims->room) || claims->exp <= 0 ||
	    claims->ends < 0 ||
	    (claims->name != NULL && strlen(claims->name) > CLAIM_TEXT_MAX_BYTES) ||
	    (claims->kind != NULL && !kind_valid(claims->kind)))
		goto out;
	if (!g_utf8_validate(claims->sub, -1, NULL) ||
	    (claims->name != NULL && !g_utf8_validate(claims->name, -1, NULL)))
		goto out;

	obj = json_object();
	if (obj == NULL || json_object_set_new(obj, "sub", json_string(claims->sub)) != 0 ||
	    (claims->name != NULL &&
	     json_object_set_new(obj, "name", json_string(claims->name)) != 0) ||
	    json_object_set_new(obj, "role", json_string(role)) != 0 ||
	    json_object_set_new(obj, "room", json_string(claims->room)) != 0 ||
	    (claims->kind != NULL &&
	     json_object_set_new(obj, "kind", json_string(claims->kind)) != 0) ||
	    json_object_set_new(obj, "exp", json_integer(claims->exp)) != 0 ||
	    (claims->ends != 0 &&
	     json_object_set_new(obj, "ends", json_integer(claims->ends)) != 0))
		goto out;
	json = json_dumps(obj, JSON_COMPACT);
	if (json == NULL)
		goto out;
	payload = tb_base64url_encode((const uint8_t *)json, strlen(json));
	if (!sign_bytes(secret, payload, strlen(payload), mac))
		goto out;
	sig = tb_base64url_encode(mac, sizeof(mac));
	token = g_strconcat(payload, ".", sig, NULL);
	if (strlen(token) > TOKEN_MAX_BYTES)
		g_clear_pointer(&token, g_free);
out:
	OPENSSL_cleanse(mac, sizeof(mac));
	json_decref(obj);
	free(json);
	g_free(payload);
	g_free(sig);
	return token;
}

/* Copies the string member KEY of OBJ into *OUT. A missing member is fine
 * unless REQUIRED; a present one must be a string. */
static bool claim_string(json_t *obj, const char *key, bool required, char **out)
{
	json_t *value = json_object_get(obj, key);

	if (value == NULL)
		return !required;
	if (!json_is_string(value))
		return false;
	*out = g_strdup(json_string_value(value));
	return true;
}

static bool claim_integer(json_t *obj, const char *key, bool required, int64_t *out)
{
	json_t *value = json_object_get(obj, key);

	if (value == NULL)
		return !required;
	if (!json_is_integer(value))
		return false;
	*out = json_integer_value(value);
	return true;
}

static int parse_claims(const uint8_t *json, size_t len, tb_token_claims *out)
{
	char *role = NULL;
	json_t *obj;
	int rc = TB_EAUTH;

	obj = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, NULL);
	if (obj == NULL || !json_is_object(obj))
		goto out;
	if (!claim_string(obj, "sub", true, &out->sub) ||
	    !claim_string(obj, "name", false, &out->name) ||
	    !claim_string(obj, "role", true, &role) ||
	    !claim_string(obj, "room", true, &out->room) ||
	    !claim_string(obj, "kind", false, &out->kind) ||
	    !claim_integer(obj, "exp", true, &out->exp) ||
	    !claim_integer(obj, "ends", false, &out->ends))
		goto out;
	out->role = tb_role_from_string(role);
	if (out->role == TB_ROLE_NONE || !text_claim_valid(out->sub) ||
	    (out->name != NULL && strlen(out->name) > CLAIM_TEXT_MAX_BYTES) ||
	    !room_claim_valid(out->room) || (out->kind != NULL && !kind_valid(out->kind)) ||
	    out->ends < 0)
		goto out;
	if (out->name == NULL)
		out->name = g_strdup(out->sub);
	rc = 0;
out:
	g_free(role);
	json_decref(obj);
	return rc;
}

int tb_token_verify(const char *token, const char *secret, int64_t now_s, tb_token_claims *out)
{
	uint8_t expected[SIGNATURE_BYTES];
	uint8_t *sig = NULL, *json = NULL;
	const char *dot;
	char *payload = NULL;
	size_t token_len, sig_len = 0, json_len = 0;
	int rc = TB_EAUTH;

	g_return_val_if_fail(out != NULL, TB_EINVAL);
	memset(out, 0, sizeof(*out));
	if (token == NULL || secret == NULL)
		goto out;
	token_len = strnlen(token, TOKEN_MAX_BYTES + 1);
	if (token_len > TOKEN_MAX_BYTES)
		goto out;
	dot = strchr(token, '.');
	if (dot == NULL || dot == token || dot[1] == '\0' || strchr(dot + 1, '.') != NULL)
		goto out;

	payload = g_strndup(token, (size_t)(dot - token));
	sig = tb_base64url_decode(dot + 1, &sig_len);
	if (sig == NULL || sig_len != SIGNATURE_BYTES)
		goto out;
	if (!sign_bytes(secret, payload, strlen(payload), expected) ||
	    CRYPTO_memcmp(expected, sig, SIGNATURE_BYTES) != 0)
		goto out;

	json = tb_base64url_decode(payload, &json_len);
	if (json == NULL || parse_claims(json, json_len, out) != 0)
		goto out;
	rc = out->exp <= now_s ? TB_EEXPIRED : 0;
out:
	if (rc != 0)
		tb_token_claims_clear(out);
	OPENSSL_cleanse(expected, sizeof(expected));
	g_free(payload);
	g_free(sig);
	g_free(json);
	return rc;
}

void tb_token_claims_clear(tb_token_claims *claims)
{
	if (claims == NULL)
		return;
	g_free(claims->sub);
	g_free(claims->name);
	g_free(claims->room);
	g_free(claims->kind);
	memset(claims, 0, sizeof(*claims));
}
