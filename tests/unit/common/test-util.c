/* test-util.c — base64url, durations, room ids, random hex, roles, logging.
 *
 * Runs on the test's main thread; logging output is checked in forked
 * subprocesses (g_test_trap_subprocess) so stderr can be captured.
 */
#include "common.h"

#include <string.h>

static void test_base64url_vectors(void)
{
	/* RFC 4648 §10, without padding. */
	static const struct {
		const char *plain, *encoded;
	} vectors[] = {
		{"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
		{"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(vectors); i++) {
		const char *plain = vectors[i].plain;
		char *enc = tb_base64url_encode((const uint8_t *)plain, strlen(plain));
		size_t len = 99;
		uint8_t *dec;

		g_assert_cmpstr(enc, ==, vectors[i].encoded);
		dec = tb_base64url_decode(enc, &len);
		g_assert_nonnull(dec);
		g_assert_cmpmem(dec, len, plain, strlen(plain));
		g_free(dec);
		g_free(enc);
	}
}

static void test_base64url_alphabet(void)
{
	const uint8_t bytes[] = {0xfb, 0xff, 0xbf};
	char *enc = tb_base64url_encode(bytes, sizeof(bytes));
	size_t len;
	uint8_t *dec;

	/* '-' and '_' replace '+' and '/'. */
	g_assert_cmpstr(enc, ==, "-_-_");
	dec = tb_base64url_decode(enc, &len);
	g_assert_cmpmem(dec, len, bytes, sizeof(bytes));
	g_free(dec);
	g_free(enc);
}

static void test_base64url_round_trip(void)
{
	uint8_t buf[200];

	for (size_t n = 0; n <= sizeof(buf); n++) {
		char *enc;
		uint8_t *dec;
		size_t len;

		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)g_test_rand_int();
		enc = tb_base64url_encode(buf, n);
		g_assert_cmpuint(strlen(enc), ==, (n * 4 + 2) / 3);
		dec = tb_base64url_decode(enc, &len);
		g_assert_nonnull(dec);
		g_assert_cmpmem(dec, len, buf, n);
		g_free(dec);
		g_free(enc);
	}
}

static void test_base64url_rejects(void)
{
	static const char *const bad[] = {
		"Zg==",  /* padding */
		"Zm8=",  /* padding */
		"Z",     /* len % 4 == 1 */
		"Zm9vY", /* len % 4 == 1 */
		"Zh",    /* non-canonical: low 4 bits set */
		"Zm9",   /* non-canonical: low 2 bits set */
		"Zm+v",  /* standard alphabet */
		"Zm/v",  /* standard alphabet */
		"Zm 9v", /* space */
		"Zm9v\n", "Zm9v.", "\xc3\xa9\xc3\xa9",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		size_t len = 7;
		uint8_t *dec = tb_base64url_decode(bad[i], &len);

		if (dec != NULL)
			g_error("accepted \"%s\"", bad[i]);
		g_assert_cmpuint(len, ==, 0);
	}
	{
		size_t len = 7;

		g_assert_null(tb_base64url_decode(NULL, &len));
	}
}

static void test_duration(void)
{
	g_assert_cmpint(tb_parse_duration_s("0"), ==, 0);
	g_assert_cmpint(tb_parse_duration_s("90"), ==, 90);
	g_assert_cmpint(tb_parse_duration_s("90s"), ==, 90);
	g_assert_cmpint(tb_parse_duration_s("15m"), ==, 900);
	g_assert_cmpint(tb_parse_duration_s("2h"), ==, 7200);
	g_assert_cmpint(tb_parse_duration_s("1d"), ==, 86400);
	g_assert_cmpint(tb_parse_duration_s("9223372036854775807"), ==, G_MAXINT64);
	g_assert_cmpint(tb_parse_duration_s("9223372036854775807s"), ==, G_MAXINT64);

	static const char *const bad[] = {
		NULL,
		"",
		"s",
		"-5",
		"+5",
		" 5",
		"5 ",
		"5x",
		"5ms",
		"5m5",
		"1.5h",
		"0x10",
		"9223372036854775808",
		"99999999999999999999",
		"106751991167301d",
		"153722867280912931m",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		if (tb_parse_duration_s(bad[i]) != -1)
			g_error("accepted duration \"%s\"", bad[i] ? bad[i] : "(null)");
	}
}

static void test_room_id(void)
{
	char id[66];

	g_assert_true(tb_room_id_valid("a"));
	g_assert_true(tb_room_id_valid("Room_42-b"));
	memset(id, 'x', 64);
	id[64] = '\0';
	g_assert_true(tb_room_id_valid(id));
	id[64] = 'x';
	id[65] = '\0';
	g_assert_false(tb_room_id_valid(id));
	g_assert_false(tb_room_id_valid(NULL));
	g_assert_false(tb_room_id_valid(""));
	g_assert_false(tb_room_id_valid("*"));
	g_assert_false(tb_room_id_valid("a b"));
	g_assert_false(tb_room_id_valid("a.b"));
	g_assert_false(tb_room_id_valid("a/b"));
	g_assert_false(tb_room_id_valid("caf\xc3\xa9"));
}

static void test_random_hex(void)
{
	char *a = tb_random_hex(16), *b = tb_random_hex(16), *empty = tb_random_hex(0);

	g_assert_cmpuint(strlen(a), ==, 32);
	for (size_t i = 0; a[i]; i++)
		g_assert_true(g_ascii_isdigit(a[i]) || (a[i] >= 'a' && a[i] <= 'f'));
	g_assert_cmpstr(a, !=, b);
	g_assert_cmpstr(empty, ==, "");
	g_free(a);
	g_free(b);
	g_free(empty);
}

static void test_roles_and_errors(void)
{
	static const char *const names[] = {"mentor", "student", "curator", "admin"};

	for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
		tb_role role = tb_role_from_string(names[i]);

		g_assert_cmpint(role, !=, TB_ROLE_NONE);
		g_assert_cmpstr(tb_role_to_string(role), ==, names[i]);
	}
	g_assert_cmpint(tb_role_from_string("Admin"), ==, TB_ROLE_NONE);
	g_assert_cmpint(tb_role_from_string(""), ==, TB_ROLE_NONE);
	g_assert_cmpint(tb_role_from_string(NULL), ==, TB_ROLE_NONE);
	g_assert_null(tb_role_to_string(TB_ROLE_NONE));
	g_assert_null(tb_role_to_string((tb_role)99));

	for (int code = TB_ECONFLICT; code <= TB_OK; code++)
		g_assert_cmpstr(tb_strerror(code), !=, "unknown error");
	g_assert_cmpstr(tb_strerror(-1000), ==, "unknown error");
	g_assert_cmpstr(tb_strerror(TB_EEXPIRED), ==, "token expired");
}

static void test_log_spec(void)
{
	g_assert_cmpint(tb_log_set_spec("info"), ==, 0);
	g_assert_true(tb_log_enabled("sig", TB_LOG_INFO));
	g_assert_false(tb_log_enabled("sig", TB_LOG_DEBUG));
	g_assert_true(tb_log_enabled(NULL, TB_LOG_ERROR));

	g_assert_cmpint(tb_log_set_spec("info,media.*:debug"), ==, 0);
	g_assert_true(tb_log_enabled("media.ice", TB_LOG_DEBUG));
	g_assert_false(tb_log_enabled("media.ice", TB_LOG_TRACE));
	g_assert_false(tb_log_enabled("media", TB_LOG_DEBUG));
	g_assert_false(tb_log_enabled("rooms", TB_LOG_DEBUG));

	/* The last matching rule wins. */
	g_assert_cmpint(tb_log_set_spec("warn, media.*:trace, media.dtls:error"), ==, 0);
	g_assert_false(tb_log_enabled("sig", TB_LOG_INFO));
	g_assert_true(tb_log_enabled("sig", TB_LOG_WARN));
	g_assert_true(tb_log_enabled("media.ice", TB_LOG_TRACE));
	g_assert_false(tb_log_enabled("media.dtls", TB_LOG_WARN));
	g_assert_cmpint(tb_log_set_spec("*:debug,db:error"), ==, 0);
	g_assert_true(tb_log_enabled("anything", TB_LOG_DEBUG));
	g_assert_false(tb_log_enabled("db", TB_LOG_WARN));

	/* Bad specs keep the old filter. */
	static const char *const bad[] = {
		NULL,   "",       "loud",      "info,",    ",info",     "info,,debug",
		"sig:", ":debug", "a*b:debug", "sig:loud", "s g:debug", "INFO",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		if (tb_log_set_spec(bad[i]) != TB_EINVAL)
			g_error("accepted log spec \"%s\"", bad[i] ? bad[i] : "(null)");
	}
	g_assert_true(tb_log_enabled("anything", TB_LOG_DEBUG));
	g_assert_false(tb_log_enabled("db", TB_LOG_WARN));
	g_assert_cmpint(tb_log_set_spec("info"), ==, 0);
}

static void test_log_output(void)
{
	if (g_test_subprocess()) {
		char big[5000];

		g_assert_cmpint(tb_log_set_spec("info"), ==, 0);
		TB_INFO("sig", "hello %d", 42);
		TB_DEBUG("sig", "hidden");
		TB_WARN("rooms", "two\nlines");
		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		TB_ERROR("db", "%s", big);
		return;
	}
	g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
	g_test_trap_assert_passed();
	/* "\?" keeps "??-" from reading as a trigraph. */
	g_test_trap_assert_stderr("\?\?\?\?-\?\?-\?\?T\?\?:\?\?:\?\?.\?\?\?Z INFO  [sig] hello 42\n"
				  "*WARN  [rooms] two?lines\n"
				  "*ERROR [db] xxx*x...\n");
	g_test_trap_assert_stderr_unmatched("*hidden*");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/util/base64url/vectors", test_base64url_vectors);
	g_test_add_func("/util/base64url/alphabet", test_base64url_alphabet);
	g_test_add_func("/util/base64url/round-trip", test_base64url_round_trip);
	g_test_add_func("/util/base64url/rejects", test_base64url_rejects);
	g_test_add_func("/util/duration", test_duration);
	g_test_add_func("/util/room-id", test_room_id);
	g_test_add_func("/util/random-hex", test_random_hex);
	g_test_add_func("/util/roles-and-errors", test_roles_and_errors);
	g_test_add_func("/log/spec", test_log_spec);
	g_test_add_func("/log/output", test_log_output);
	return g_test_run();
}
