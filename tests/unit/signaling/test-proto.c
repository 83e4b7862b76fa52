/* test-proto.c — signaling requests: parse and validation, and the JSON
 * the server sends back.
 *
 * proto.c is pure, so these tests call it directly on strings; responses
 * are read back with jansson rather than compared as text, so that key
 * order does not matter.
 */
#include "signaling-private.h"

#include <string.h>

/* Parses TEXT; the caller clears REQ. */
static bool parse(const char *text, tb_request *req, tb_request_error *err)
{
	memset(err, 0, sizeof(*err));
	return tb__proto_parse(text, strlen(text), req, err);
}

/* TEXT must parse; returns its type. */
static void assert_valid(const char *text, tb_request_type type)
{
	tb_request req;
	tb_request_error err;

	if (!parse(text, &req, &err))
		g_error("expected %s to parse, got %s: %s", text, tb__sig_error_code(err.code),
			err.message);
	g_assert_cmpint(req.type, ==, type);
	g_assert_nonnull(req.id);
	g_assert_nonnull(req.obj);
	tb__proto_request_clear(&req);
}

/* TEXT must fail with CODE; returns whether an id was read. */
static bool assert_invalid(const char *text, tb_sig_error code)
{
	tb_request req;
	tb_request_error err;
	bool has_id;

	if (parse(text, &req, &err))
		g_error("expected %s to fail with %s", text, tb__sig_error_code(code));
	if (err.code != code)
		g_error("%s: expected %s, got %s (%s)", text, tb__sig_error_code(code),
			tb__sig_error_code(err.code), err.message);
	g_assert_cmpstr(err.message, !=, "");
	g_assert_true(g_utf8_validate(err.message, -1, NULL));
	has_id = req.id != NULL;
	tb__proto_request_clear(&req);
	g_assert_null(req.id);
	g_assert_null(req.obj);
	return has_id;
}

static void test_valid_join(void)
{
	tb_request req;
	tb_request_error err;

	g_assert_true(parse("{\"type\":\"join\",\"id\":1,\"token\":\"abc.def\",\"room\":\"r-1\","
			    "\"name\":\"Zo\xc3\xa9\",\"extra\":[1,2]}",
			    &req, &err));
	g_assert_cmpint(req.type, ==, TB_REQ_JOIN);
	g_assert_true(json_is_integer(req.id));
	g_assert_cmpint(json_integer_value(req.id), ==, 1);
	g_assert_cmpstr(tb__proto_string(&req, "token"), ==, "abc.def");
	g_assert_cmpstr(tb__proto_string(&req, "room"), ==, "r-1");
	g_assert_cmpstr(tb__proto_string(&req, "name"), ==, "Zo\xc3\xa9");
	g_assert_null(tb__proto_string(&req, "nope"));
	g_assert_null(tb__proto_string(&req, "extra")); /* not a string */
	tb__proto_request_clear(&req);
	g_assert_null(req.obj);

	/* Only the token is required. */
	g_assert_true(parse("{\"id\":\"j\",\"type\":\"join\",\"token\":\"t\"}", &req, &err));
	g_assert_cmpint(req.type, ==, TB_REQ_JOIN);
	g_assert_cmpstr(json_string_value(req.id), ==, "j");
	g_assert_null(tb__proto_string(&req, "room"));
	g_assert_null(tb__proto_string(&req, "name"));
	tb__proto_request_clear(&req);
	/* Clearing twice is harmless. */
	tb__proto_request_clear(&req);
}

static void test_valid_other(void)
{
	tb_request req;
	tb_request_error err;

	assert_valid("{\"type\":\"ping\",\"id\":\"p1\"}", TB_REQ_PING);
	assert_valid("  {\"type\" : \"ping\", \"id\" : 0}\n", TB_REQ_PING);
	assert_valid("{\"type\":\"ping\",\"id\":-7}", TB_REQ_PING);
	assert_valid("{\"type\":\"leave\",\"id\":1.5}", TB_REQ_LEAVE);
	assert_valid("{\"type\":\"chat\",\"id\":3,\"text\":\"hi\\nthere\\t\\u00e9\"}", TB_REQ_CHAT);

	g_assert_true(parse("{\"type\":\"chat\",\"id\":3,\"text\":\"a\\\"b\"}", &req, &err));
	g_assert_cmpstr(tb__proto_string(&req, "text"), ==, "a\"b");
	tb__proto_request_clear(&req);

	/* An id of exactly 256 bytes is fine; 257 is not. */
	{
		char *id256 = g_strnfill(256, 'x'), *id257 = g_strnfill(257, 'x');
		char *ok = g_strdup_printf("{\"type\":\"ping\",\"id\":\"%s\"}", id256);
		char *bad = g_strdup_printf("{\"type\":\"ping\",\"id\":\"%s\"}", id257);
		assert_valid(ok, TB_REQ_PING);
		g_assert_false(assert_invalid(bad, TB_SIG_BAD_FIELD));
		g_free(id256);
		g_free(id257);
		g_free(ok);
		g_free(bad);
	}

	/* The length is honoured: what follows it is not read. */
	{
		const char *text = "{\"type\":\"ping\",\"id\":1}GARBAGE";
		g_assert_true(tb__proto_parse(text, strlen(text) - 7, &req, &err));
		g_assert_cmpint(req.type, ==, TB_REQ_PING);
		tb__proto_request_clear(&req);
	}
}

static void test_type_table(void)
{
	g_assert_cmpstr(tb__proto_type_name(TB_REQ_PING), ==, "ping");
	g_assert_cmpstr(tb__proto_type_name(TB_REQ_JOIN), ==, "join");
	g_assert_cmpstr(tb__proto_type_name(TB_REQ_LEAVE), ==, "leave");
	g_assert_cmpstr(tb__proto_type_name(TB_REQ_CHAT), ==, "chat");
	g_assert_true(tb__proto_allowed_outside_room(TB_REQ_PING));
	g_assert_true(tb__proto_allowed_outside_room(TB_REQ_JOIN));
	g_assert_false(tb__proto_allowed_outside_room(TB_REQ_LEAVE));
	g_assert_false(tb__proto_allowed_outside_room(TB_REQ_CHAT));
}

static void test_error_codes(void)
{
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);

	for (int i = 0; i < TB_SIG_N_ERRORS; i++) {
		const char *code = tb__sig_error_code((tb_sig_error)i);
		g_assert_nonnull(code);
		g_assert_false(g_hash_table_contains(seen, code));
		g_hash_table_add(seen, (gpointer)code);
	}
	g_hash_table_destroy(seen);
	g_assert_cmpstr(tb__sig_error_code(TB_SIG_BAD_JSON), ==, "bad-json");
	g_assert_cmpstr(tb__sig_error_code(TB_SIG_UNKNOWN_TYPE), ==, "unknown-type");
	g_assert_cmpstr(tb__sig_error_code(TB_SIG_MISSING_FIELD), ==, "missing-field");
	g_assert_cmpstr(tb__sig_error_code(TB_SIG_BAD_FIELD), ==, "bad-field");
	g_assert_cmpstr(tb__sig_error_code(TB_SIG_N_ERRORS), ==, "internal");
	g_assert_cmpstr(tb__sig_error_code((tb_sig_error)-1), ==, "internal");
}

static void test_bad_json(void)
{
	static const char *const cases[] = {
		"",
		"{",
		"{\"type\":",
		"{\"type\":\"ping\",\"id\":1",
		"{\"type\":\"ping\",\"id\":1,}",
		"{'type':'ping','id':1}",
		"{\"type\":\"ping\",\"id\":1} trailing",
		"{\"type\":\"ping\",\"id\":1}{}",
		"{\"type\":\"ping\",\"id\":1,\"x\":\"\xff\"}", /* invalid UTF-8 */
		"{\"type\":\"ping\",\"id\":1,\"x\":\"a\tb\"}", /* raw control char */
		"{\"type\":\"ping\",\"id\":NaN}",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_false(assert_invalid(cases[i], TB_SIG_BAD_JSON));

	/* A buffer with a NUL inside the given length. */
	{
		static const char text[] = "{\"type\":\"ping\",\"id\":1}\0";
		tb_request req;
		tb_request_error err;
		g_assert_false(tb__proto_parse(text, sizeof(text) - 1, &req, &err));
		g_assert_cmpint(err.code, ==, TB_SIG_BAD_JSON);
		g_assert_null(req.id);
		tb__proto_request_clear(&req);
	}
}

static void test_not_object(void)
{
	static const char *const cases[] = {
		"[1,2]", "[{\"type\":\"ping\",\"id\":1}]", "\"ping\"", "42", "null", "true",
	};

	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_false(assert_invalid(cases[i], TB_SIG_BAD_JSON));
}

static void test_type_errors(void)
{
	tb_request req;
	tb_request_error err;

	/* Missing type: the id is still known, so the reply can carry it. */
	g_assert_true(assert_invalid("{\"id\":1}", TB_SIG_MISSING_FIELD));
	g_assert_false(assert_invalid("{}", TB_SIG_MISSING_FIELD));

	g_assert_true(assert_invalid("{\"id\":1,\"type\":5}", TB_SIG_BAD_FIELD));
	g_assert_true(assert_invalid("{\"id\":1,\"type\":[\"ping\"]}", TB_SIG_BAD_FIELD));
	g_assert_true(assert_invalid("{\"id\":1,\"type\":true}", TB_SIG_BAD_FIELD));

	/* Unknown type, id kept. */
	g_assert_false(parse("{\"type\":\"dance\",\"id\":\"q7\"}", &req, &err));
	g_assert_cmpint(err.code, ==, TB_SIG_UNKNOWN_TYPE);
	g_assert_true(json_is_string(req.id));
	g_assert_cmpstr(json_string_value(req.id), ==, "q7");
	g_assert_nonnull(strstr(err.message, "dance"));
	tb__proto_request_clear(&req);

	/* Type names are exact. */
	g_assert_true(assert_invalid("{\"type\":\"PING\",\"id\":1}", TB_SIG_UNKNOWN_TYPE));
	g_assert_true(assert_invalid("{\"type\":\"ping \",\"id\":1}", TB_SIG_UNKNOWN_TYPE));
	g_assert_true(assert_invalid("{\"type\":\"\",\"id\":1}", TB_SIG_UNKNOWN_TYPE));
	g_assert_false(assert_invalid("{\"type\":\"dance\"}", TB_SIG_UNKNOWN_TYPE));

	/* What the message echoes of an unknown type is bounded and printable. */
	g_assert_false(parse("{\"type\":\"a\\u0001b\",\"id\":1}", &req, &err));
	g_assert_cmpint(err.code, ==, TB_SIG_UNKNOWN_TYPE);
	g_assert_null(strchr(err.message, '\001'));
	tb__proto_request_clear(&req);
	{
		char *long_type = g_strnfill(1000, 'z');
		char *text = g_strdup_printf("{\"type\":\"%s\",\"id\":1}", long_type);
		g_assert_false(parse(text, &req, &err));
		g_assert_cmpint(err.code, ==, TB_SIG_UNKNOWN_TYPE);
		g_assert_cmpuint(strlen(err.message), <, 100);
		tb__proto_request_clear(&req);
		g_free(text);
		g_free(long_type);
	}
	/* A multibyte character cut by the bound is not echoed half. */
	{
		GString *s = g_string_new("{\"type\":\"");
		for (int i = 0; i < 100; i++)
			g_string_append(s, "\xc3\xa9");
		g_string_append(s, "\",\"id\":1}");
		g_assert_false(parse(s->str, &req, &err));
		g_assert_cmpint(err.code, ==, TB_SIG_UNKNOWN_TYPE);
		g_assert_true(g_utf8_validate(err.message, -1, NULL));
		tb__proto_request_clear(&req);
		g_string_free(s, TRUE);
	}
}

static void test_id_errors(void)
{
	tb_request req;
	tb_request_error err;

	g_assert_false(parse("{\"type\":\"ping\"}", &req, &err));
	g_assert_cmpint(err.code, ==, TB_SIG_MISSING_FIELD);
	g_assert_nonnull(strstr(err.message, "id"));
	g_assert_null(req.id);
	tb__proto_request_clear(&req);

	g_assert_false(parse("{\"type\":\"ping\",\"id\":{}}", &req, &err));
	g_assert_cmpint(err.code, ==, TB_SIG_BAD_FIELD);
	g_assert_null(req.id);
	tb__proto_request_clear(&req);

	g_assert_false(assert_invalid("{\"type\":\"ping\",\"id\":{\"a\":1}}", TB_SIG_BAD_FIELD));
	g_assert_false(assert_invalid("{\"type\":\"ping\",\"id\":[1]}", TB_SIG_BAD_FIELD));
	g_assert_false(assert_invalid("{\"type\":\"ping\",\"id\":true}", TB_SIG_BAD_FIELD));
	g_assert_false(
		assert_invalid("{\"type\":\"chat\",\"id\":{},\"text\":\"x\"}", TB_SIG_BAD_FIELD));
}

static void test_field_types(void)
{
	tb_request req;
	tb_request_error err;

	g_assert_true(assert_invalid("{\"type\":\"join\",\"id\":1,\"token\":5}", TB_SIG_BAD_FIELD));
	g_assert_true(
		assert_invalid("{\"type\":\"join\",\"id\":1,\"token\":[\"t\"]}", TB_SIG_BAD_FIELD));
	g_assert_true(assert_invalid("{\"type\":\"join\",\"id\":1,\"token\":\"t\",\"room\":true}",
				     TB_SIG_BAD_FIELD));
	g_assert_true(assert_invalid("{\"type\":\"join\",\"id\":1,\"token\":\"t\",\"name\":{}}",
				     TB_SIG_BAD_FIELD));
	g_assert_true(assert_invalid("{\"type\":\"chat\",\"id\":1,\"text\":42}", TB_SIG_BAD_FIELD));
	g_assert_true(
		assert_invalid("{\"type\":\"chat\",\"id\":1,\"text\":false}", TB_SIG_BAD_FIELD));

	/* Required fields. */
	g_assert_true(assert_invalid("{\"type\":\"join\",\"id\":1}", TB_SIG_MISSING_FIELD));
	g_assert_true(assert_invalid("{\"type\":\"join\",\"id\":1,\"room\":\"r\"}",
				     TB_SIG_MISSING_FIELD));
	g_assert_true(assert_invalid("{\"type\":\"chat\",\"id\":1}", TB_SIG_MISSING_FIELD));

	/* The message names the field. */
	g_assert_false(
		parse("{\"type\":\"join\",\"id\":1,\"token\":\"t\",\"room\":1}", &req, &err));
	g_assert_nonnull(strstr(err.message, "room"));
	tb__proto_request_clear(&req);
	g_assert_false(parse("{\"type\":\"chat\",\"id\":1}", &req, &err));
	g_assert_nonnull(strstr(err.message, "text"));
	tb__proto_request_clear(&req);
}

/* Control characters: a display name or token is one line of printable
 * text; chat text may hold line breaks and tabs but no other control
 * character (escape sequences, bells, backspaces). */
static void test_control_chars(void)
{
	static const char *const refused[] = {
		"{\"type\":\"join\",\"id\":1,\"token\":\"t\",\"name\":\"a\\u0001\"}",
		"{\"type\":\"join\",\"id\":1,\"token\":\"t\",\"name\":\"a\\u001b[31m\"}",
		"{\"type\":\"join\",\"id\":1,\"token\":\"t\",\"name\":\"Eve\\nAdmin\"}",
		"{\"type\":\"join\",\"id\":1,\"token\":\"t\",\"name\":\"Eve\\r\"}",
		"{\"type\":\"join\",\"id\":1,\"token\":\"t\",\"name\":\"a\\tb\"}",
		"{\"type\":\"join\",\"id\":1,\"token\":\"t\\n\"}",
		"{\"type\":\"chat\",\"id\":1,\"text\":\"\\u001b[2J\"}",
		"{\"type\":\"chat\",\"id\":1,\"text\":\"bell\\u0007\"}",
		"{\"type\":\"chat\",\"id\":1,\"text\":\"back\\bspace\"}",
	};

	unsigned n_accepted = 0;

	assert_valid("{\"type\":\"chat\",\"id\":1,\"text\":\"line\\r\\nline\\ttab\"}", TB_REQ_CHAT);
	for (size_t i = 0; i < G_N_ELEMENTS(refused); i++) {
		tb_request req;
		tb_request_error err;
		bool ok = parse(refused[i], &req, &err);
		tb__proto_request_clear(&req);
		if (ok || err.code != TB_SIG_BAD_FIELD) {
			g_test_message("not refused as bad-field: %s", refused[i]);
			n_accepted++;
		}
	}
	/* Fails without aborting, so that the tests after this one still run. */
	if (n_accepted)
		g_test_fail_printf("%u requests with control characters accepted", n_accepted);
}

static char *repeat(const char *unit, int n)
{
	GString *s = g_string_new(NULL);

	for (int i = 0; i < n; i++)
		g_string_append(s, unit);
	return g_string_free(s, FALSE);
}

static char *chat_request(const char *text)
{
	return g_strdup_printf("{\"type\":\"chat\",\"id\":1,\"text\":\"%s\"}", text);
}

static void check_chat_length(const char *unit)
{
	char *ok_text = repeat(unit, 2000), *long_text = repeat(unit, 2001);
	char *ok = chat_request(ok_text), *bad = chat_request(long_text);
	tb_request req;
	tb_request_error err;

	g_test_message("unit '%s' (%zu bytes)", unit, strlen(unit));
	g_assert_true(parse(ok, &req, &err));
	g_assert_cmpuint(tb__utf8_length(tb__proto_string(&req, "text")), ==, 2000);
	tb__proto_request_clear(&req);
	g_assert_true(assert_invalid(bad, TB_SIG_BAD_FIELD));
	g_free(ok_text);
	g_free(long_text);
	g_free(ok);
	g_free(bad);
}

static void test_chat_length(void)
{
	check_chat_length("a");
	check_chat_length("\xc3\xa9");         /* é: 2 bytes */
	check_chat_length("\xe2\x82\xac");     /* €: 3 bytes */
	check_chat_length("\xf0\x9f\x98\x80"); /* 😀: 4 bytes, 8000 bytes at the limit */
	check_chat_length("\\u00e9");          /* é written as an escape */
	check_chat_length("\\ud83d\\ude00");   /* 😀 as a surrogate pair */
}

static void test_utf8_length(void)
{
	g_assert_cmpuint(tb__utf8_length(""), ==, 0);
	g_assert_cmpuint(tb__utf8_length("abc"), ==, 3);
	g_assert_cmpuint(tb__utf8_length("\xc3\xa9t\xc3\xa9"), ==, 3);
	g_assert_cmpuint(tb__utf8_length("\xe2\x82\xac\xf0\x9f\x98\x80"), ==, 2);
}

static void test_empty_fields(void)
{
	g_assert_true(
		assert_invalid("{\"type\":\"join\",\"id\":1,\"token\":\"\"}", TB_SIG_BAD_FIELD));
	g_assert_true(assert_invalid("{\"type\":\"join\",\"id\":1,\"token\":\"t\",\"room\":\"\"}",
				     TB_SIG_BAD_FIELD));
	g_assert_true(assert_invalid("{\"type\":\"join\",\"id\":1,\"token\":\"t\",\"name\":\"\"}",
				     TB_SIG_BAD_FIELD));
	g_assert_true(
		assert_invalid("{\"type\":\"chat\",\"id\":1,\"text\":\"\"}", TB_SIG_BAD_FIELD));
}

static void test_null_is_absent(void)
{
	tb_request req;
	tb_request_error err;

	g_assert_true(
		parse("{\"type\":\"join\",\"id\":1,\"token\":\"t\",\"room\":null,\"name\":null}",
		      &req, &err));
	g_assert_null(tb__proto_string(&req, "room"));
	g_assert_null(tb__proto_string(&req, "name"));
	tb__proto_request_clear(&req);

	g_assert_true(assert_invalid("{\"type\":\"join\",\"id\":1,\"token\":null}",
				     TB_SIG_MISSING_FIELD));
	g_assert_true(
		assert_invalid("{\"type\":\"chat\",\"id\":1,\"text\":null}", TB_SIG_MISSING_FIELD));
}

static void check_nul_refused(const char *text)
{
	tb_request req;
	tb_request_error err;

	g_assert_false(parse(text, &req, &err));
	/* jansson refuses \u0000 unless asked; either way it must not pass. */
	g_assert_true(err.code == TB_SIG_BAD_JSON || err.code == TB_SIG_BAD_FIELD);
	tb__proto_request_clear(&req);
}

static void test_nul_refused(void)
{
	check_nul_refused("{\"type\":\"chat\",\"id\":1,\"text\":\"a\\u0000b\"}");
	check_nul_refused("{\"type\":\"join\",\"id\":1,\"token\":\"\\u0000\"}");
	check_nul_refused("{\"type\":\"join\",\"id\":1,\"token\":\"t\",\"room\":\"r\\u0000x\"}");
	check_nul_refused("{\"type\":\"ping\\u0000\",\"id\":1}");
	check_nul_refused("{\"type\":\"ping\",\"id\":\"a\\u0000\"}");
}

static void test_duplicate_keys(void)
{
	g_assert_false(assert_invalid("{\"type\":\"ping\",\"id\":1,\"id\":2}", TB_SIG_BAD_JSON));
	g_assert_false(
		assert_invalid("{\"type\":\"ping\",\"type\":\"join\",\"id\":1}", TB_SIG_BAD_JSON));
	g_assert_false(assert_invalid("{\"type\":\"chat\",\"id\":1,\"text\":\"a\",\"text\":\"b\"}",
				      TB_SIG_BAD_JSON));
	/* Even in an ignored nested object. */
	g_assert_false(assert_invalid("{\"type\":\"ping\",\"id\":1,\"x\":{\"a\":1,\"a\":2}}",
				      TB_SIG_BAD_JSON));
}

/* Parses a serialised response (new ref). */
static json_t *load(char *text)
{
	json_error_t jerr;
	json_t *o;

	g_assert_nonnull(text);
	g_assert_null(strchr(text, '\n')); /* one frame, compact */
	o = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		g_error("cannot parse %s: %s", text, jerr.text);
	g_assert_true(json_is_object(o));
	g_free(text);
	return o;
}

/* The facilitation requests (docs/protocol.md "Facilitation"). */
static void test_facilitation_requests(void)
{
	assert_valid("{\"type\":\"exercise-start\",\"id\":1,\"minutes\":10,\"title\":\"Ecrire\"}",
		     TB_REQ_EXERCISE_START);
	assert_valid("{\"type\":\"exercise-start\",\"id\":1,\"seconds\":3}",
		     TB_REQ_EXERCISE_START);
	assert_invalid("{\"type\":\"exercise-start\",\"id\":1,\"minutes\":\"10\"}",
		       TB_SIG_BAD_FIELD);
	assert_invalid("{\"type\":\"exercise-start\",\"id\":1,\"minutes\":1.5}",
		       TB_SIG_BAD_FIELD);
	assert_invalid("{\"type\":\"exercise-start\",\"id\":1,\"minutes\":1,\"title\":7}",
		       TB_SIG_BAD_FIELD);
	assert_valid("{\"type\":\"exercise-end\",\"id\":1}", TB_REQ_EXERCISE_END);
	assert_valid("{\"type\":\"reading-order-set\",\"id\":1,\"order\":[\"a\",\"b\"]}",
		     TB_REQ_READING_ORDER_SET);
	assert_valid("{\"type\":\"reading-order-set\",\"id\":1,\"shuffle\":true}",
		     TB_REQ_READING_ORDER_SET);
	assert_invalid("{\"type\":\"reading-order-set\",\"id\":1,\"order\":\"a\"}",
		       TB_SIG_BAD_FIELD);
	assert_valid("{\"type\":\"reading-next\",\"id\":1}", TB_REQ_READING_NEXT);
	assert_valid("{\"type\":\"reading-skip\",\"id\":1}", TB_REQ_READING_SKIP);
	assert_valid("{\"type\":\"remove\",\"id\":1,\"participant_id\":\"ab\"}", TB_REQ_REMOVE);
	assert_invalid("{\"type\":\"remove\",\"id\":1}", TB_SIG_MISSING_FIELD);
	assert_valid("{\"type\":\"lock\",\"id\":1,\"locked\":true}", TB_REQ_LOCK);
	assert_invalid("{\"type\":\"lock\",\"id\":1,\"locked\":1}", TB_SIG_BAD_FIELD);
	assert_valid("{\"type\":\"raise-hand\",\"id\":1}", TB_REQ_RAISE_HAND);
	assert_valid("{\"type\":\"lower-hand\",\"id\":1}", TB_REQ_LOWER_HAND);
	assert_valid("{\"type\":\"lower-hand\",\"id\":1,\"participant_id\":\"ab\"}",
		     TB_REQ_LOWER_HAND);
	assert_valid("{\"type\":\"mute\",\"id\":1,\"kind\":\"audio\",\"muted\":true,"
		     "\"participant_id\":\"ab\"}",
		     TB_REQ_MUTE);
	assert_invalid("{\"type\":\"mute\",\"id\":1,\"kind\":\"audio\",\"muted\":true,"
		       "\"participant_id\":\"\"}",
		       TB_SIG_BAD_FIELD);
	assert_invalid("{\"type\":\"lower-hand\",\"id\":1,\"participant_id\":\"a\\u0001\"}",
		       TB_SIG_BAD_FIELD);
	/* Facilitation needs a room. */
	g_assert_false(tb__proto_allowed_outside_room(TB_REQ_EXERCISE_START));
	g_assert_false(tb__proto_allowed_outside_room(TB_REQ_RAISE_HAND));
}

static void test_serialise_ok(void)
{
	json_t *id = json_integer(7), *o, *data;

	o = load(tb__proto_ok(id, json_pack("{s:i, s:s}", "x", 1, "s", "\xc3\xa9")));
	g_assert_cmpint(json_integer_value(json_object_get(o, "id")), ==, 7);
	g_assert_true(json_is_true(json_object_get(o, "ok")));
	data = json_object_get(o, "data");
	g_assert_cmpint(json_integer_value(json_object_get(data, "x")), ==, 1);
	g_assert_cmpstr(json_string_value(json_object_get(data, "s")), ==, "\xc3\xa9");
	g_assert_null(json_object_get(o, "error"));
	json_decref(o);
	/* The id is borrowed. */
	g_assert_cmpint(id->refcount, ==, 1);
	json_decref(id);

	/* No id, no data. */
	o = load(tb__proto_ok(NULL, NULL));
	g_assert_true(json_is_null(json_object_get(o, "id")));
	g_assert_true(json_is_true(json_object_get(o, "ok")));
	data = json_object_get(o, "data");
	g_assert_true(json_is_object(data));
	g_assert_cmpuint(json_object_size(data), ==, 0);
	json_decref(o);

	id = json_string("req-1");
	o = load(tb__proto_ok(id, json_array()));
	g_assert_cmpstr(json_string_value(json_object_get(o, "id")), ==, "req-1");
	g_assert_true(json_is_array(json_object_get(o, "data")));
	json_decref(o);
	json_decref(id);

	/* An id read by the parser goes back as it came. */
	{
		tb_request req;
		tb_request_error err;
		g_assert_true(parse("{\"type\":\"ping\",\"id\":1.25}", &req, &err));
		o = load(tb__proto_ok(req.id, NULL));
		g_assert_true(json_is_real(json_object_get(o, "id")));
		g_assert_cmpfloat(json_real_value(json_object_get(o, "id")), ==, 1.25);
		json_decref(o);
		tb__proto_request_clear(&req);
	}
}

static void test_serialise_error(void)
{
	json_t *id = json_string("abc"), *o, *error;

	o = load(tb__proto_error(id, TB_SIG_ROOM_FULL, "the room is full \xe2\x80\x94 sorry"));
	g_assert_cmpstr(json_string_value(json_object_get(o, "id")), ==, "abc");
	g_assert_true(json_is_false(json_object_get(o, "ok")));
	g_assert_null(json_object_get(o, "data"));
	error = json_object_get(o, "error");
	g_assert_true(json_is_object(error));
	g_assert_cmpstr(json_string_value(json_object_get(error, "code")), ==, "room-full");
	g_assert_cmpstr(json_string_value(json_object_get(error, "message")), ==,
			"the room is full \xe2\x80\x94 sorry");
	json_decref(o);
	g_assert_cmpint(id->refcount, ==, 1);
	json_decref(id);

	o = load(tb__proto_error(NULL, TB_SIG_BAD_JSON, "quote \" and \\ backslash"));
	g_assert_nonnull(json_object_get(o, "id"));
	g_assert_true(json_is_null(json_object_get(o, "id")));
	error = json_object_get(o, "error");
	g_assert_cmpstr(json_string_value(json_object_get(error, "code")), ==, "bad-json");
	g_assert_cmpstr(json_string_value(json_object_get(error, "message")), ==,
			"quote \" and \\ backslash");
	json_decref(o);

	/* A parse failure's message serialises as is. */
	{
		tb_request req;
		tb_request_error err;
		g_assert_false(parse("{\"type\":", &req, &err));
		o = load(tb__proto_error(req.id, err.code, err.message));
		g_assert_true(json_is_null(json_object_get(o, "id")));
		g_assert_cmpstr(
			json_string_value(json_object_get(json_object_get(o, "error"), "message")),
			==, err.message);
		json_decref(o);
		tb__proto_request_clear(&req);
	}
}

static void test_serialise_event(void)
{
	json_t *data =
		json_pack("{s:s, s:I}", "participant_id", "p1", "ts_ms", (json_int_t)1700000000000);
	json_t *o;

	o = load(tb__proto_event("chat", data));
	g_assert_cmpstr(json_string_value(json_object_get(o, "event")), ==, "chat");
	g_assert_true(json_equal(json_object_get(o, "data"), data));
	g_assert_cmpint(json_integer_value(json_object_get(json_object_get(o, "data"), "ts_ms")),
			==, 1700000000000);
	g_assert_null(json_object_get(o, "id"));
	json_decref(o);
	/* DATA is borrowed. */
	g_assert_cmpint(data->refcount, ==, 1);
	json_decref(data);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/proto/valid-join", test_valid_join);
	g_test_add_func("/proto/valid-other", test_valid_other);
	g_test_add_func("/proto/type-table", test_type_table);
	g_test_add_func("/proto/error-codes", test_error_codes);
	g_test_add_func("/proto/bad-json", test_bad_json);
	g_test_add_func("/proto/not-object", test_not_object);
	g_test_add_func("/proto/type-errors", test_type_errors);
	g_test_add_func("/proto/id-errors", test_id_errors);
	g_test_add_func("/proto/field-types", test_field_types);
	g_test_add_func("/proto/control-chars", test_control_chars);
	g_test_add_func("/proto/chat-length", test_chat_length);
	g_test_add_func("/proto/utf8-length", test_utf8_length);
	g_test_add_func("/proto/empty-fields", test_empty_fields);
	g_test_add_func("/proto/null-is-absent", test_null_is_absent);
	g_test_add_func("/proto/nul-refused", test_nul_refused);
	g_test_add_func("/proto/duplicate-keys", test_duplicate_keys);
	g_test_add_func("/proto/facilitation-requests", test_facilitation_requests);
	g_test_add_func("/proto/serialise-ok", test_serialise_ok);
	g_test_add_func("/proto/serialise-error", test_serialise_error);
	g_test_add_func("/proto/serialise-event", test_serialise_event);
	return g_test_run();
}
