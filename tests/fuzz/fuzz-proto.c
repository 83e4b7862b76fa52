/* fuzz-proto.c — one signaling WebSocket text frame, through the request
 * parser and validator, and the response a failure produces. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "signaling-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	tb_request req = {0};
	tb_request_error err = {0};
	char *out;

	if (tb__proto_parse((const char *)data, size, &req, &err)) {
		const char *name = tb__proto_type_name(req.type);
		static const char *const fields[] = {"token", "room", "name", "text", "sdp",
						     "pc",    "kind", "participant_id"};

		tb_fuzz_consume(name, strlen(name));
		for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
			const char *v = tb__proto_string(&req, fields[i]);
			if (v)
				tb_fuzz_consume(v, strlen(v));
		}
		tb__proto_allowed_outside_room(req.type);
		out = tb__proto_ok(req.id, NULL);
	} else {
		out = tb__proto_error(req.id, err.code, err.message);
	}
	/* What goes back to the client is JSON, whatever came in. */
	if (!out || out[0] != '{')
		abort();
	free(out);
	tb__proto_request_clear(&req);
	return 0;
}
