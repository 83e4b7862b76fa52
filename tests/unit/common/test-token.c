/* test-token.c — tb_token_sign / tb_token_verify.
 *
 * Single-threaded. Forged and malformed tokens are built by hand from
 * base64url pieces, signed with the real secret where the test needs the
 * signature to pass so the claim checks themselves are exercised.
 */
#include "common.h"

#include <openssl/hmac.h>
#include <string.h>

#define SECRET "0123456789abcdef0123456789abcdef"
#define NOW    1800000000

static tb_token_claims sample_claims(void)
{
	tb_token_claims claims = {
		.sub = "u-42",
		.name = "Ada Lovelace",
		.role = TB_ROLE_MENTOR,
		.room = "math-101",
		.kind = "coaching",
		.exp = NOW + 3600,
		.ends = NOW + 1800,
	};
	return claims;
}

/* Returns base64url(JSON) "." base64url(HMAC(SECRET)) for raw JSON text. */
static char *sign_raw(const char *json, const char *secret)
{
	unsigned char mac[32];
	unsigned int mac_len = 0;
	char *payload = tb_base64url_encode((const uint8_t *)json, strlen(json));
	char *sig, *token;

	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)payload,
	     strlen(payload), mac, &mac_len);
	g_assert_cmpuint(mac_len, ==, 32);
	sig = tb_base64url_encode(mac, mac_len);
	token = g_strconcat(payload, ".", sig, NULL);
	g_free(payload);
	g_free(sig);
	return token;
}

static void assert_rejected(const char *token, int expected)
{
	tb_token_claims out;

	memset(&out, 0x5a, sizeof(out));
	g_assert_cmpint(tb_token_verify(token, SECRET, NOW, &out), ==, expected);
	/* OUT is left empty on error. */
	g_assert_null(out.sub);
	g_assert_null(out.name);
	g_assert_null(out.room);
	g_assert_null(out.kind);
	g_assert_cmpint(out.role, ==, TB_ROLE_NONE);
	g_assert_cmpint(out.exp, ==, 0);
}

static void assert_raw_rejected(const char *json)
{
	char *token = sign_raw(json, SECRET);

	assert_rejected(token, TB_EAUTH);
	g_free(token);
}

static void test_round_trip(void)
{
	tb_token_claims in = sample_claims(), out;
	char *token = tb_token_sign(&in, SECRET);

	g_assert_nonnull(token);
	g_assert_nonnull(strchr(token, '.'));
	g_assert_cmpint(tb_token_verify(token, SECRET, NOW, &out), ==, 0);
	g_assert_cmpstr(out.sub, ==, "u-42");
	g_assert_cmpstr(out.name, ==, "Ada Lovelace");
	g_assert_cmpint(out.role, ==, TB_ROLE_MENTOR);
	g_assert_cmpstr(out.room, ==, "math-101");
	g_assert_cmpstr(out.kind, ==, "coaching");
	g_assert_cmpint(out.exp, ==, NOW + 3600);
	g_assert_cmpint(out.ends, ==, NOW + 1800);
	tb_token_claims_clear(&out);
	g_assert_null(out.sub);
	tb_token_claims_clear(&out);
	tb_token_claims_clear(NULL);
	g_free(token);
}

static void test_minimal_claims(void)
{
	tb_token_claims in = {
		.sub = "admin-1", .role = TB_ROLE_ADMIN, .room = "*", .exp = NOW + 10};
	tb_token_claims out;
	char *token = tb_token_sign(&in, SECRET);

	g_assert_cmpint(tb_token_verify(token, SECRET, NOW, &out), ==, 0);
	/* A missing name defaults to the subject. */
	g_assert_cmpstr(out.name, ==, "admin-1");
	g_assert_cmpstr(out.room, ==, "*");
	g_assert_null(out.kind);
	g_assert_cmpint(out.ends, ==, 0);
	tb_token_claims_clear(&out);
	g_free(token);
}

static void test_forged_signature(void)
{
	tb_token_claims in = sample_claims();
	char *token = tb_token_sign(&in, SECRET);
	char *dot = strchr(token, '.');
	char *forged;

	/* Flip one signature character (keeping it canonical base64url). */
	dot[1] = dot[1] == 'A' ? 'B' : 'A';
	assert_rejected(token, TB_EAUTH);

	/* An all-zero MAC of the right length. */
	*dot = '\0';
	forged = g_strconcat(token, ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL);
	assert_rejected(forged, TB_EAUTH);
	g_free(forged);

	/* A truncated MAC. */
	forged = g_strconcat(token, ".AAAA", NULL);
	assert_rejected(forged, TB_EAUTH);
	g_free(forged);
	g_free(token);
}

static void test_tampered_claims(void)
{
	tb_token_claims in = sample_claims();
	char *token = tb_token_sign(&in, SECRET);
	char *dot = strchr(token, '.');
	char *payload = g_strndup(token, (size_t)(dot - token));
	size_t len;
	uint8_t *json = tb_base64url_decode(payload, &len);
	char *text = g_strndup((const char *)json, len);
	char *evil_json, *evil_payload, *evil;
	char *role = strstr(text, "mentor");

	/* Promote ourselves to admin, keep the original signature. */
	g_assert_nonnull(role);
	evil_json = g_strdup_printf("%.*sadmin%s", (int)(role - text), text, role + 6);
	evil_payload = tb_base64url_encode((const uint8_t *)evil_json, strlen(evil_json));
	evil = g_strconcat(evil_payload, dot, NULL);
	assert_rejected(evil, TB_EAUTH);

	g_free(evil);
	g_free(evil_payload);
	g_free(evil_json);
	g_free(text);
	g_free(json);
	g_free(payload);
	g_free(token);
}

static void test_expired(void)
{
	tb_token_claims in = sample_claims();
	tb_token_claims out;
	char *token;

	in.exp = NOW;
	token = tb_token_sign(&in, SECRET);
	memset(&out, 0, sizeof(out));
	/* exp <= now is expired; one second earlier it is valid. */
	g_assert_cmpint(tb_token_verify(token, SECRET, NOW, &out), ==, TB_EEXPIRED);
	g_assert_null(out.sub);
	g_assert_cmpint(tb_token_verify(token, SECRET, NOW - 1, &out), ==, 0);
	tb_token_claims_clear(&out);
	/* A forged expired token is a forgery, not an expiry. */
	g_assert_cmpint(tb_token_verify(token, "another-secret-0123456789", NOW, &out), ==,
			TB_EAUTH);
	g_free(token);
}

static void test_malformed(void)
{
	tb_token_claims in = sample_claims();
	char *good = tb_token_sign(&in, SECRET);
	char *two_dots = g_strconcat(good, ".", NULL);
	char *three_parts = g_strconcat(good, ".abcd", NULL);
	char *sig = strchr(good, '.');
	char *padded_sig = g_strconcat(good, "=", NULL);
	char *bad_payload = g_strconcat("e30!", sig, NULL);
	char *long_token = g_malloc(5000);

	assert_rejected(NULL, TB_EAUTH);
	assert_rejected("", TB_EAUTH);
	assert_rejected("nodot", TB_EAUTH);
	assert_rejected(".", TB_EAUTH);
	assert_rejected("abc.", TB_EAUTH);
	assert_rejected(sig, TB_EAUTH); /* empty payload */
	assert_rejected(two_dots, TB_EAUTH);
	assert_rejected(three_parts, TB_EAUTH);
	assert_rejected(padded_sig, TB_EAUTH);
	assert_rejected(bad_payload, TB_EAUTH);
	assert_rejected("e30.!!!!", TB_EAUTH);

	memset(long_token, 'A', 4999);
	long_token[4999] = '\0';
	long_token[100] = '.';
	assert_rejected(long_token, TB_EAUTH);

	/* Correctly signed, but the payload is not a JSON object. */
	assert_raw_rejected("not json");
	assert_raw_rejected("[\"sub\",\"u\"]");
	assert_raw_rejected("\"string\"");
	assert_raw_rejected("");
	{
		/* Correctly signed payload that is not valid base64url. */
		unsigned char mac[32];
		unsigned int mac_len;
		char *s, *tok;

		HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)"e3!x", 4,
		     mac, &mac_len);
		s = tb_base64url_encode(mac, mac_len);
		tok = g_strconcat("e3!x.", s, NULL);
		assert_rejected(tok, TB_EAUTH);
		g_free(tok);
		g_free(s);
	}

	g_free(long_token);
	g_free(bad_payload);
	g_free(padded_sig);
	g_free(three_parts);
	g_free(two_dots);
	g_free(good);
}

static void test_bad_claims(void)
{
	char long_sub[200];

	/* Unknown role. */
	assert_raw_rejected("{\"sub\":\"u\",\"role\":\"root\",\"room\":\"r\",\"exp\":1900000000}");
	assert_raw_rejected("{\"sub\":\"u\",\"role\":\"\",\"room\":\"r\",\"exp\":1900000000}");
	/* Missing claims. */
	assert_raw_rejected("{\"role\":\"mentor\",\"room\":\"r\",\"exp\":1900000000}");
	assert_raw_rejected("{\"sub\":\"u\",\"room\":\"r\",\"exp\":1900000000}");
	assert_raw_rejected("{\"sub\":\"u\",\"role\":\"mentor\",\"exp\":1900000000}");
	assert_raw_rejected("{\"sub\":\"u\",\"role\":\"mentor\",\"room\":\"r\"}");
	assert_raw_rejected("{}");
	/* Wrong types. */
	assert_raw_rejected("{\"sub\":7,\"role\":\"mentor\",\"room\":\"r\",\"exp\":1900000000}");
	assert_raw_rejected("{\"sub\":\"u\",\"role\":1,\"room\":\"r\",\"exp\":1900000000}");
	assert_raw_rejected("{\"sub\":\"u\",\"role\":\"mentor\",\"room\":[],\"exp\":1900000000}");
	assert_raw_rejected(
		"{\"sub\":\"u\",\"role\":\"mentor\",\"room\":\"r\",\"exp\":\"1900000000\"}");
	assert_raw_rejected("{\"sub\":\"u\",\"role\":\"mentor\",\"room\":\"r\",\"exp\":1.9e9}");
	assert_raw_rejected("{\"sub\":\"u\",\"name\":null,\"role\":\"mentor\",\"room\":\"r\","
			    "\"exp\":1900000000}");
	assert_raw_rejected("{\"sub\":\"u\",\"role\":\"mentor\",\"room\":\"r\",\"exp\":1900000000,"
			    "\"ends\":\"soon\"}");
	assert_raw_rejected("{\"sub\":\"u\",\"role\":\"mentor\",\"room\":\"r\",\"exp\":1900000000,"
			    "\"kind\":5}");
	/* Bad values. */
	assert_raw_rejected("{\"sub\":\"\",\"role\":\"mentor\",\"room\":\"r\",\"exp\":1900000000}");
	assert_raw_rejected(
		"{\"sub\":\"u\",\"role\":\"mentor\",\"room\":\"a b\",\"exp\":1900000000}");
	assert_raw_rejected("{\"sub\":\"u\",\"role\":\"mentor\",\"room\":\"\",\"exp\":1900000000}");
	assert_raw_rejected("{\"sub\":\"u\",\"role\":\"mentor\",\"room\":\"r\",\"exp\":1900000000,"
			    "\"kind\":\"party\"}");
	assert_raw_rejected("{\"sub\":\"u\",\"role\":\"mentor\",\"room\":\"r\",\"exp\":1900000000,"
			    "\"ends\":-1}");
	/* Duplicate keys could make two parsers disagree. */
	assert_raw_rejected("{\"sub\":\"u\",\"role\":\"student\",\"role\":\"admin\",\"room\":\"r\","
			    "\"exp\":1900000000}");
	/* Over-long subject and name. */
	memset(long_sub, 'x', 129);
	long_sub[129] = '\0';
	{
		char *json = g_strdup_printf(
			"{\"sub\":\"%s\",\"role\":\"mentor\",\"room\":\"r\",\"exp\":1900000000}",
			long_sub);
		assert_raw_rejected(json);
		g_free(json);
		json = g_strdup_printf("{\"sub\":\"u\",\"name\":\"%s\",\"role\":\"mentor\","
				       "\"room\":\"r\",\"exp\":1900000000}",
				       long_sub);
		assert_raw_rejected(json);
		g_free(json);
	}
	/* 128 bytes is fine; unknown extra claims are ignored. */
	long_sub[128] = '\0';
	{
		char *json = g_strdup_printf("{\"sub\":\"%s\",\"role\":\"student\",\"room\":\"r\","
					     "\"exp\":1900000000,\"x-extra\":true}",
					     long_sub);
		char *token = sign_raw(json, SECRET);
		tb_token_claims out;

		g_assert_cmpint(tb_token_verify(token, SECRET, NOW, &out), ==, 0);
		g_assert_cmpstr(out.sub, ==, long_sub);
		g_assert_cmpint(out.role, ==, TB_ROLE_STUDENT);
		tb_token_claims_clear(&out);
		g_free(token);
		g_free(json);
	}
}

static void test_wrong_secret(void)
{
	tb_token_claims in = sample_claims();
	tb_token_claims out;
	char *token = tb_token_sign(&in, SECRET);

	g_assert_cmpint(tb_token_verify(token, "fedcba9876543210fedcba9876543210", NOW, &out), ==,
			TB_EAUTH);
	g_assert_null(out.sub);
	g_assert_cmpint(tb_token_verify(token, "", NOW, &out), ==, TB_EAUTH);
	g_assert_cmpint(tb_token_verify(token, NULL, NOW, &out), ==, TB_EAUTH);
	g_free(token);
}

static void test_sign_refuses(void)
{
	tb_token_claims c;

	c = sample_claims();
	c.sub = NULL;
	g_assert_null(tb_token_sign(&c, SECRET));
	c = sample_claims();
	c.role = TB_ROLE_NONE;
	g_assert_null(tb_token_sign(&c, SECRET));
	c = sample_claims();
	c.room = NULL;
	g_assert_null(tb_token_sign(&c, SECRET));
	c = sample_claims();
	c.room = "bad room";
	g_assert_null(tb_token_sign(&c, SECRET));
	c = sample_claims();
	c.exp = 0;
	g_assert_null(tb_token_sign(&c, SECRET));
	c = sample_claims();
	c.kind = "party";
	g_assert_null(tb_token_sign(&c, SECRET));
	c = sample_claims();
	g_assert_null(tb_token_sign(&c, NULL));
	g_assert_null(tb_token_sign(NULL, SECRET));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/token/round-trip", test_round_trip);
	g_test_add_func("/token/minimal-claims", test_minimal_claims);
	g_test_add_func("/token/forged-signature", test_forged_signature);
	g_test_add_func("/token/tampered-claims", test_tampered_claims);
	g_test_add_func("/token/expired", test_expired);
	g_test_add_func("/token/malformed", test_malformed);
	g_test_add_func("/token/bad-claims", test_bad_claims);
	g_test_add_func("/token/wrong-secret", test_wrong_secret);
	g_test_add_func("/token/sign-refuses", test_sign_refuses);
	return g_test_run();
}
