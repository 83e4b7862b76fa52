/* proto.c — signaling JSON to typed requests and back.
 *
 * Pure functions: no I/O, no state, callable from any thread (and from the
 * fuzzer). Validation is table driven: each request type lists its fields,
 * their JSON type, whether they are required and their size limit. Unknown
 * extra fields are ignored so that clients may send more than we read.
 */
#include <string.h>

#include "signaling-private.h"

static const char *const error_codes[TB_SIG_N_ERRORS] = {
	[TB_SIG_OK] = "ok",
	[TB_SIG_BAD_JSON] = "bad-json",
	[TB_SIG_UNKNOWN_TYPE] = "unknown-type",
	[TB_SIG_MISSING_FIELD] = "missing-field",
	[TB_SIG_BAD_FIELD] = "bad-field",
	[TB_SIG_UNAUTHORIZED] = "unauthorized",
	[TB_SIG_FORBIDDEN] = "forbidden",
	[TB_SIG_ROOM_FULL] = "room-full",
	[TB_SIG_ROOM_LOCKED] = "room-locked",
	[TB_SIG_NOT_IN_ROOM] = "not-in-room",
	[TB_SIG_NOT_FOUND] = "not-found",
	[TB_SIG_RATE_LIMITED] = "rate-limited",
	[TB_SIG_TOO_LARGE] = "too-large",
	[TB_SIG_CONFLICT] = "conflict",
	[TB_SIG_INTERNAL] = "internal",
};

const char *tb__sig_error_code(tb_sig_error error)
{
	if ((int)error < 0 || error >= TB_SIG_N_ERRORS)
		return "internal";
	return error_codes[error];
}

typedef enum {
	FIELD_STRING,
	FIELD_BOOL,
	FIELD_INT,
	FIELD_ARRAY,  /* max_len: most elements */
	FIELD_OBJECT, /* an object; null counts as absent */
} field_type;

typedef struct field_spec {
	const char *name;
	field_type type;
	bool required;
	size_t max_len;   /* strings: bytes */
	size_t max_chars; /* strings: code points (0: no limit) */
	bool non_empty;
	bool multiline; /* allows \n \r \t; other control characters never */
} field_spec;

typedef struct request_spec {
	const char *name;
	bool outside_room;
	const field_spec *fields;
} request_spec;

static const field_spec no_fields[] = {{0}};

static const field_spec join_fields[] = {
	{.name = "token",
	 .type = FIELD_STRING,
	 .required = true,
	 .max_len = 4096,
	 .non_empty = true},
	{.name = "room", .type = FIELD_STRING, .max_len = 64, .non_empty = true},
	{.name = "name", .type = FIELD_STRING, .max_len = 512, .max_chars = 64, .non_empty = true},
	{0},
};

static const field_spec chat_fields[] = {
	{.name = "text",
	 .type = FIELD_STRING,
	 .required = true,
	 .max_len = 8000,
	 .max_chars = 2000,
	 .non_empty = true,
	 .multiline = true},
	{0},
};

/* SDP text: browsers' descriptions are a few kilobytes; the frame limit
 * bounds it anyway. */
#define SDP_MAX (60 * 1024)

static const field_spec publish_fields[] = {
	{.name = "sdp",
	 .type = FIELD_STRING,
	 .required = true,
	 .max_len = SDP_MAX,
	 .non_empty = true,
	 .multiline = true},
	{.name = "tracks", .type = FIELD_ARRAY, .max_len = 16},
	{0},
};

static const field_spec answer_fields[] = {
	{.name = "sdp",
	 .type = FIELD_STRING,
	 .required = true,
	 .max_len = SDP_MAX,
	 .non_empty = true,
	 .multiline = true},
	{.name = "version", .type = FIELD_INT, .required = true},
	{0},
};

static const field_spec candidate_fields[] = {
	{.name = "pc", .type = FIELD_STRING, .required = true, .max_len = 16, .non_empty = true},
	{.name = "candidate", .type = FIELD_OBJECT},
	{0},
};

/* Participant ids are 16 hex digits; anything up to 64 bytes gets
 * not-found rather than bad-field. */
#define PARTICIPANT_ID_MAX 64

static const field_spec mute_fields[] = {
	{.name = "kind", .type = FIELD_STRING, .required = true, .max_len = 16, .non_empty = true},
	{.name = "muted", .type = FIELD_BOOL, .required = true},
	{.name = "participant_id",
	 .type = FIELD_STRING,
	 .max_len = PARTICIPANT_ID_MAX,
	 .non_empty = true},
	{0},
};

/* minutes (the public unit) or seconds (short drills and tests): exactly
 * one, ranges checked by session.c. */
static const field_spec exercise_start_fields[] = {
	{.name = "minutes", .type = FIELD_INT},
	{.name = "seconds", .type = FIELD_INT},
	{.name = "title", .type = FIELD_STRING, .max_len = 800, .max_chars = 200},
	{0},
};

/* order: participant ids (checked one by one in session.c) or shuffle. */
static const field_spec reading_order_fields[] = {
	{.name = "order", .type = FIELD_ARRAY, .max_len = 1000},
	{.name = "shuffle", .type = FIELD_BOOL},
	{0},
};

static const field_spec target_fields[] = {
	{.name = "participant_id",
	 .type = FIELD_STRING,
	 .required = true,
	 .max_len = PARTICIPANT_ID_MAX,
	 .non_empty = true},
	{0},
};

static const field_spec optional_target_fields[] = {
	{.name = "participant_id",
	 .type = FIELD_STRING,
	 .max_len = PARTICIPANT_ID_MAX,
	 .non_empty = true},
	{0},
};

static const field_spec lock_fields[] = {
	{.name = "locked", .type = FIELD_BOOL, .required = true},
	{0},
};

/* The client's layout: who is large on its screen (null: nobody in
 * particular) and "grid" or "spotlight" (checked in session.c). */
static const field_spec view_fields[] = {
	{.name = "spotlight",
	 .type = FIELD_STRING,
	 .max_len = PARTICIPANT_ID_MAX,
	 .non_empty = true},
	{.name = "mode", .type = FIELD_STRING, .max_len = 16, .non_empty = true},
	{0},
};

static const request_spec requests[TB_REQ_N_TYPES] = {
	[TB_REQ_PING] = {"ping", true, no_fields},
	[TB_REQ_JOIN] = {"join", true, join_fields},
	[TB_REQ_LEAVE] = {"leave", false, no_fields},
	[TB_REQ_CHAT] = {"chat", false, chat_fields},
	[TB_REQ_PUBLISH] = {"publish", false, publish_fields},
	[TB_REQ_UNPUBLISH] = {"unpublish", false, no_fields},
	[TB_REQ_SUBSCRIBER_ANSWER] = {"subscriber-answer", false, answer_fields},
	[TB_REQ_CANDIDATE] = {"candidate", false, candidate_fields},
	[TB_REQ_MUTE] = {"mute", false, mute_fields},
	[TB_REQ_STATS] = {"stats", false, no_fields},
	[TB_REQ_EXERCISE_START] = {"exercise-start", false, exercise_start_fields},
	[TB_REQ_EXERCISE_END] = {"exercise-end", false, no_fields},
	[TB_REQ_READING_ORDER_SET] = {"reading-order-set", false, reading_order_fields},
	[TB_REQ_READING_NEXT] = {"reading-next", false, no_fields},
	[TB_REQ_READING_SKIP] = {"reading-skip", false, no_fields},
	[TB_REQ_REMOVE] = {"remove", false, target_fields},
	[TB_REQ_LOCK] = {"lock", false, lock_fields},
	[TB_REQ_RAISE_HAND] = {"raise-hand", false, no_fields},
	[TB_REQ_LOWER_HAND] = {"lower-hand", false, optional_target_fields},
	[TB_REQ_VIEW] = {"view", false, view_fields},
};

bool tb__proto_allowed_outside_room(tb_request_type type)
{
	return requests[type].outside_room;
}

const char *tb__proto_type_name(tb_request_type type)
{
	return requests[type].name;
}

size_t tb__utf8_length(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static bool fail(tb_request_error *err, tb_sig_error code, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);
static bool fail(tb_request_error *err, tb_sig_error code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	g_vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return false;
}

/* True if S holds a C0 control character or DEL; MULTILINE allows line
 * breaks and tabs. */
static bool has_control_chars(const char *s, bool multiline)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (multiline && (c == '\n' || c == '\t' || c == '\r'))
			continue;
		if (c < 0x20 || c == 0x7f)
			return true;
	}
	return false;
}

static bool validate_field(const field_spec *f, json_t *obj, tb_request_error *err)
{
	json_t *v = json_object_get(obj, f->name);

	if (!v || json_is_null(v)) {
		if (f->required)
			return fail(err, TB_SIG_MISSING_FIELD, "field '%s' is required", f->name);
		if (v)
			json_object_del(obj, f->name); /* null is the same as absent */
		return true;
	}
	switch (f->type) {
	case FIELD_STRING: {
		const char *s;
		size_t len;
		if (!json_is_string(v))
			return fail(err, TB_SIG_BAD_FIELD, "field '%s' must be a string", f->name);
		s = json_string_value(v);
		len = json_string_length(v);
		if (strlen(s) != len)
			return fail(err, TB_SIG_BAD_FIELD, "field '%s' must not contain NUL",
				    f->name);
		if (f->non_empty && len == 0)
			return fail(err, TB_SIG_BAD_FIELD, "field '%s' must not be empty", f->name);
		if (f->max_len && len > f->max_len)
			return fail(err, TB_SIG_BAD_FIELD, "field '%s' is longer than %zu bytes",
				    f->name, f->max_len);
		if (f->max_chars && tb__utf8_length(s) > f->max_chars)
			return fail(err, TB_SIG_BAD_FIELD,
				    "field '%s' is longer than %zu characters", f->name,
				    f->max_chars);
		if (has_control_chars(s, f->multiline))
			return fail(err, TB_SIG_BAD_FIELD,
				    "field '%s' must not contain control characters", f->name);
		break;
	}
	case FIELD_BOOL:
		if (!json_is_boolean(v))
			return fail(err, TB_SIG_BAD_FIELD, "field '%s' must be true or false",
				    f->name);
		break;
	case FIELD_INT:
		if (!json_is_integer(v))
			return fail(err, TB_SIG_BAD_FIELD, "field '%s' must be an integer",
				    f->name);
		break;
	case FIELD_ARRAY:
		if (!json_is_array(v))
			return fail(err, TB_SIG_BAD_FIELD, "field '%s' must be an array", f->name);
		if (f->max_len && json_array_size(v) > f->max_len)
			return fail(err, TB_SIG_BAD_FIELD, "field '%s' has more than %zu elements",
				    f->name, f->max_len);
		break;
	case FIELD_OBJECT:
		if (!json_is_object(v))
			return fail(err, TB_SIG_BAD_FIELD, "field '%s' must be an object or null",
				    f->name);
		break;
	}
	return true;
}

static bool id_valid(json_t *id)
{
	if (json_is_string(id))
		return json_string_length(id) <= 256;
	return json_is_integer(id) || json_is_real(id);
}

bool tb__proto_parse(const char *text, size_t len, tb_request *req, tb_request_error *err)
{
	json_error_t jerr;
	json_t *obj, *type, *id;
	const char *type_name;
	int t;

	memset(req, 0, sizeof(*req));
	obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj)
		return fail(err, TB_SIG_BAD_JSON, "invalid JSON at line %d column %d: %s",
			    jerr.line, jerr.column, jerr.text);
	req->obj = obj;
	if (!json_is_object(obj))
		return fail(err, TB_SIG_BAD_JSON, "a request must be a JSON object");

	id = json_object_get(obj, "id");
	if (id && id_valid(id))
		req->id = json_incref(id);

	type = json_object_get(obj, "type");
	if (!type)
		return fail(err, TB_SIG_MISSING_FIELD, "field 'type' is required");
	if (!json_is_string(type))
		return fail(err, TB_SIG_BAD_FIELD, "field 'type' must be a string");
	type_name = json_string_value(type);
	for (t = 0; t < TB_REQ_N_TYPES; t++)
		if (strcmp(type_name, requests[t].name) == 0)
			break;
	if (t == TB_REQ_N_TYPES) {
		char shown[40];
		g_strlcpy(shown, type_name, sizeof(shown));
		if (!g_utf8_validate(shown, -1, NULL) || has_control_chars(shown, false))
			g_strlcpy(shown, "?", sizeof(shown));
		return fail(err, TB_SIG_UNKNOWN_TYPE, "unknown request type '%s'", shown);
	}
	req->type = (tb_request_type)t;

	if (!id)
		return fail(err, TB_SIG_MISSING_FIELD, "field 'id' is required");
	if (!req->id)
		return fail(err, TB_SIG_BAD_FIELD,
			    "field 'id' must be a number or a string of at most 256 bytes");

	for (const field_spec *f = requests[t].fields; f->name; f++)
		if (!validate_field(f, obj, err))
			return false;
	return true;
}

void tb__proto_request_clear(tb_request *req)
{
	if (req->id)
		json_decref(req->id);
	if (req->obj)
		json_decref(req->obj);
	memset(req, 0, sizeof(*req));
}

const char *tb__proto_string(const tb_request *req, const char *name)
{
	return json_string_value(json_object_get(req->obj, name));
}

static char *dump(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);

	json_decref(o);
	return s;
}

char *tb__proto_ok(json_t *id, json_t *data)
{
	return dump(json_pack("{s:O?, s:b, s:o}", "id", id, "ok", 1, "data",
			      data ? data : json_object()));
}

char *tb__proto_error(json_t *id, tb_sig_error code, const char *message)
{
	/* A message may quote the client's bytes (jansson's "near '...'" cuts
	 * them anywhere, even inside a UTF-8 sequence): JSON needs them valid,
	 * or there would be no response at all. */
	char *valid = g_utf8_validate(message, -1, NULL) ? NULL : g_utf8_make_valid(message, -1);
	char *out = dump(json_pack("{s:O?, s:b, s:{s:s, s:s}}", "id", id, "ok", 0, "error", "code",
				   tb__sig_error_code(code), "message", valid ? valid : message));

	g_free(valid);
	return out;
}

char *tb__proto_event(const char *name, json_t *data)
{
	return dump(json_pack("{s:s, s:O}", "event", name, "data", data));
}
