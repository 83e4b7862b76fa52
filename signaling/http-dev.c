/* http-dev.c — routes that exist only in development mode (tribud --dev).
 *
 * Main thread, called from http.c's route_api for every path under
 * /api/dev. Without --dev every such path is the same 404 as any unknown
 * API endpoint, so a production server does not even reveal them.
 *
 *   GET  /api/dev       -> 200 {"dev": true}: lets the landing page show its
 *                          "try it" button.
 *   POST /api/dev/demo  -> 201 {room, kind, expires_at_ms, mentor_url,
 *                          student_url, student_urls}: a fresh demo room and
 *                          short-lived tokens for it, as links to the call
 *                          or workshop page.
 *
 * Anyone who reaches a --dev server can mint tokens through this: that is
 * its purpose, and why it never exists without --dev. It does not create the
 * room (the first join does) and keeps nothing.
 */
#include <string.h>

#include "signaling-private.h"

#define CAT               "sig"
#define DEMO_TTL_S        (30 * 60)
#define DEMO_MAX_STUDENTS 8

/* Returns a new link "PAGE#token=TOKEN" for a demo participant, or NULL if
 * the token could not be signed. */
static char *demo_link(tb_signaling *sig, const char *page, const char *user, const char *name,
		       tb_role role, const char *room, const char *kind, int64_t exp)
{
	tb_token_claims claims = {
		.sub = (char *)user,
		.name = (char *)name,
		.role = role,
		.room = (char *)room,
		.kind = (char *)kind,
		.exp = exp,
	};
	char *token = tb_token_sign(&claims, sig->deps.secret);
	char *link;

	if (!token)
		return NULL;
	link = g_strdup_printf("%s#token=%s", page, token);
	g_free(token);
	return link;
}

/* Reads the optional body {kind?, students?} of POST /api/dev/demo. Returns
 * NULL and sets KIND and STUDENTS, or the error code of a 400 and sets
 * *PROBLEM to its message (static). */
static const char *demo_options(const tb_http_state *http, const char **kind, int *students,
				const char **problem)
{
	const char *code = "bad-field";
	json_error_t jerr;
	json_t *body, *v;
	tb_room_kind parsed;

	*kind = "coaching";
	*students = 1;
	*problem = NULL;
	if (!http->body || http->body->len == 0)
		return NULL;
	body = json_loadb(http->body->str, http->body->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(body)) {
		code = "bad-json";
		*problem = "the body must be a JSON object";
		goto out;
	}
	v = json_object_get(body, "kind");
	if (v) {
		const char *name = json_string_value(v);
		if (!name || !tb_room_kind_from_string(name, &parsed)) {
			*problem = "field 'kind' must be \"coaching\" or \"workshop\"";
			goto out;
		}
		*kind = parsed == TB_ROOM_KIND_WORKSHOP ? "workshop" : "coaching";
	}
	v = json_object_get(body, "students");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > DEMO_MAX_STUDENTS) {
			*problem = "field 'students' must be an integer from 1 to 8";
			goto out;
		}
		*students = (int)json_integer_value(v);
	}
	if (strcmp(*kind, "coaching") == 0 && *students > 1) {
		*problem = "a coaching room holds one student";
		goto out;
	}
out:
	json_decref(body);
	return *problem ? code : NULL;
}

static int demo(tb_signaling *sig, struct lws *wsi, tb_http_state *http)
{
	const char *kind, *code, *problem, *page;
	int students;
	int64_t now_ms = tb_clock_wall_ms(sig->deps.clock);
	int64_t exp = now_ms / 1000 + DEMO_TTL_S;
	char *suffix = NULL, *room = NULL, *user = NULL, *link = NULL;
	json_t *student_urls = NULL, *reply;
	int rc;

	code = demo_options(http, &kind, &students, &problem);
	if (code)
		return tb__http_respond_error(sig, wsi, http, 400, code, problem);
	page = strcmp(kind, "workshop") == 0 ? "/workshop.html" : "/call.html";
	suffix = tb_random_hex(4);
	room = g_strdup_printf("demo-%s", suffix);
	user = g_strdup_printf("demo-mentor-%s", suffix);
	link = demo_link(sig, page, user, "Mentor (démo)", TB_ROLE_MENTOR, room, kind, exp);
	student_urls = json_array();
	for (int i = 1; link && i <= students; i++) {
		char *student = g_strdup_printf("demo-student-%d-%s", i, suffix);
		char *name = students == 1 ? g_strdup("Élève (démo)")
					   : g_strdup_printf("Élève %d (démo)", i);
		char *s_link =
			demo_link(sig, page, student, name, TB_ROLE_STUDENT, room, kind, exp);
		g_free(student);
		g_free(name);
		if (!s_link)
			break;
		json_array_append_new(student_urls, json_string(s_link));
		g_free(s_link);
	}
	if (!link || json_array_size(student_urls) != (size_t)students) {
		rc = tb__http_respond_error(sig, wsi, http, 500, "internal",
					    "could not sign the demo tokens");
		goto out;
	}
	reply = json_pack("{s:s, s:s, s:I, s:s, s:O, s:O}", "room", room, "kind", kind,
			  "expires_at_ms", (json_int_t)exp * 1000, "mentor_url", link,
			  "student_url", json_array_get(student_urls, 0), "student_urls",
			  student_urls);
	TB_INFO(CAT, "dev: demo %s room '%s' minted for %d student(s)", kind, room, students);
	rc = tb__http_respond_json(sig, wsi, http, 201, reply);
out:
	json_decref(student_urls);
	g_free(link);
	g_free(user);
	g_free(room);
	g_free(suffix);
	return rc;
}

int tb__http_dev_route(tb_signaling *sig, struct lws *wsi, tb_http_state *http)
{
	const char *path = http->path;

	if (!sig->deps.config->dev)
		return tb__http_respond_error(sig, wsi, http, 404, "not-found",
					      "no such API endpoint");
	if (strcmp(path, "/api/dev") == 0) {
		if (http->method != LWSHUMETH_GET && http->method != LWSHUMETH_HEAD)
			return tb__http_respond_error(sig, wsi, http, 405, "bad-method",
						      "use GET on /api/dev");
		return tb__http_respond_json(sig, wsi, http, 200, json_pack("{s:b}", "dev", 1));
	}
	if (strcmp(path, "/api/dev/demo") == 0) {
		if (http->method != LWSHUMETH_POST)
			return tb__http_respond_error(sig, wsi, http, 405, "bad-method",
						      "use POST on /api/dev/demo");
		return demo(sig, wsi, http);
	}
	return tb__http_respond_error(sig, wsi, http, 404, "not-found", "no such API endpoint");
}
