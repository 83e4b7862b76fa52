/* common.h — leaf helpers shared by every Tribu module.
 *
 * Error codes, roles, logging categories, the injectable clock, media/catalog
 * worker threads (a thread running its own GMainContext), configuration and
 * signed tokens. Nothing here depends on another Tribu module.
 *
 * Threads: logging, clock, token and base64 functions may be called from any
 * thread. A tb_config is built on the main thread and then only read.
 */
#ifndef TB_COMMON_H
#define TB_COMMON_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

G_BEGIN_DECLS

/* ---- errors: functions return 0 or one of these (negative) ---- */
enum {
	TB_OK = 0,
	TB_EINVAL = -1,   /* malformed or out-of-range input */
	TB_ENOMEM = -2,   /* allocation failed */
	TB_ENOENT = -3,   /* no such object */
	TB_EEXIST = -4,   /* already exists */
	TB_EFULL = -5,    /* capacity reached */
	TB_ELOCKED = -6,  /* room locked */
	TB_EPERM = -7,    /* role does not allow it */
	TB_EAUTH = -8,    /* bad signature, malformed or wrong-scope token */
	TB_EEXPIRED = -9, /* token expired */
	TB_EIO = -10,     /* system or library failure */
	TB_ECONFLICT = -11,
};

/* Returns a static English description of a TB_E* code. */
const char *tb_strerror(int code);

/* ---- roles ---- */
typedef enum {
	TB_ROLE_NONE = 0,
	TB_ROLE_MENTOR,
	TB_ROLE_STUDENT,
	TB_ROLE_CURATOR,
	TB_ROLE_ADMIN,
} tb_role;

/* Parses "mentor" | "student" | "curator" | "admin"; TB_ROLE_NONE otherwise. */
tb_role tb_role_from_string(const char *s);
/* Returns the wire name of a role (static), or NULL for TB_ROLE_NONE. */
const char *tb_role_to_string(tb_role role);

/* ---- logging ----
 * Categories are short dotted names ("sig", "rooms", "db", "media.ice").
 * The level spec is "LEVEL" or a comma list of "PATTERN:LEVEL" where PATTERN
 * may end in '*' ("info,media.*:debug"). Levels: error warn info debug trace.
 * Messages go to stderr, one line each, with a timestamp. */
typedef enum {
	TB_LOG_ERROR = 0,
	TB_LOG_WARN,
	TB_LOG_INFO,
	TB_LOG_DEBUG,
	TB_LOG_TRACE,
} tb_log_level;

/* Sets the filter; returns TB_EINVAL (and keeps the old one) on a bad spec.
 * Call from the main thread before other threads start. */
int tb_log_set_spec(const char *spec);
bool tb_log_enabled(const char *category, tb_log_level level);
void tb_log(const char *category, tb_log_level level, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

#define TB_ERROR(cat, ...) tb_log((cat), TB_LOG_ERROR, __VA_ARGS__)
#define TB_WARN(cat, ...)  tb_log((cat), TB_LOG_WARN, __VA_ARGS__)
#define TB_INFO(cat, ...)  tb_log((cat), TB_LOG_INFO, __VA_ARGS__)
#define TB_DEBUG(cat, ...)                                                                         \
	do {                                                                                       \
		if (tb_log_enabled((cat), TB_LOG_DEBUG))                                           \
			tb_log((cat), TB_LOG_DEBUG, __VA_ARGS__);                                  \
	} while (0)

/* ---- clock ----
 * Wall time (Unix) and monotonic time. Tests may inject a clock; the default
 * reads the system clocks. Any thread. */
typedef struct tb_clock {
	int64_t (*wall_ms)(void *user_data);
	int64_t (*mono_us)(void *user_data);
	void *user_data;
} tb_clock;

/* Returns the process clock (transfer none, never NULL). */
const tb_clock *tb_clock_default(void);
static inline int64_t tb_clock_wall_ms(const tb_clock *c)
{
	return c->wall_ms(c->user_data);
}
static inline int64_t tb_clock_mono_us(const tb_clock *c)
{
	return c->mono_us(c->user_data);
}

/* ---- worker: a thread running a GMainLoop on its own GMainContext ---- */
typedef struct tb_worker tb_worker;

/* Starts a thread named NAME. Returns a new worker (transfer full). */
tb_worker *tb_worker_new(const char *name);
/* Returns the worker's context (transfer none). Any thread. */
GMainContext *tb_worker_context(tb_worker *worker);
/* Runs FN(DATA) once on the worker's thread, then DESTROY(DATA) there.
 * Never runs FN synchronously. Any thread. */
void tb_worker_post(tb_worker *worker, GSourceFunc fn, gpointer data, GDestroyNotify destroy);
/* Runs FN(DATA) on the worker and waits for it to return. Must not be
 * called from the worker's own thread. */
void tb_worker_call_sync(tb_worker *worker, GSourceFunc fn, gpointer data);
/* Stops the loop, joins the thread and frees the worker. Tasks already
 * posted run first. Not from the worker's own thread. NULL is ignored. */
void tb_worker_free(tb_worker *worker);
const char *tb_worker_name(tb_worker *worker);

/* ---- random ids ---- */
/* Returns a new string of NBYTES random bytes as lowercase hex (transfer full). */
char *tb_random_hex(size_t nbytes);

/* ---- base64url without padding (RFC 4648 §5) ---- */
/* Returns a new string (transfer full). */
char *tb_base64url_encode(const uint8_t *data, size_t len);
/* Decodes TEXT; returns a new buffer (transfer full) and sets *LEN, or NULL on
 * any character outside the alphabet, padding, or a bad length. */
uint8_t *tb_base64url_decode(const char *text, size_t *len);

/* ---- configuration ---- */
typedef struct tb_config {
	char *listen_host;          /* "127.0.0.1" */
	int listen_port;            /* 8080; 0 picks a free port */
	char *data_dir;             /* "./data" */
	char *web_dir;              /* static files of the web client */
	char *secret;               /* token secret; NULL: read or made in data_dir/secret */
	char *tls_cert;             /* PEM certificate: serve https/wss when set */
	char *tls_key;              /* PEM private key */
	char *log_level;            /* "info" */
	bool dev;                   /* development mode (demo tokens) */
	int workers;                /* media worker threads; 0: one per core */
	int coaching_capacity;      /* 2 */
	int workshop_capacity;      /* 50 */
	int last_n;                 /* 9: workshop videos each participant receives */
	int max_message_bytes;      /* 65536 */
	int rate_per_sec;           /* signaling messages per second per connection */
	int rate_burst;             /* burst allowance */
	int max_connections;        /* simultaneous WebSocket + HTTP connections */
	int max_connections_per_address; /* simultaneous WebSockets from one IP address */
	int max_rooms;              /* rooms on this server */
	int slot_warning_s;         /* "slot-ending" this long before a booked slot ends */
	int max_body_bytes;         /* HTTP API request body limit */
	char *media_addresses;      /* comma-separated local IPs for ICE host candidates; NULL: all
				       interfaces */
	char *media_public_address; /* 1:1 NAT: IP announced instead of the local one */
	int media_port_min;         /* UDP port range for media; 0/0: any */
	int media_port_max;
	bool record; /* record every session (rooms created through the API may opt out) */
} tb_config;

/* Returns a config holding the embedded defaults (transfer full). */
tb_config *tb_config_new(void);
/* Reads a GKeyFile INI file over CONFIG. Unknown keys are an error, so typos
 * do not go unnoticed. Returns FALSE and sets ERROR on failure. */
gboolean tb_config_load_file(tb_config *config, const char *path, GError **error);
/* Checks ranges and combinations; returns FALSE and sets ERROR on failure. */
gboolean tb_config_validate(const tb_config *config, GError **error);
/* Parses "ADDR:PORT" (or "[v6]:PORT") into the config. FALSE on error. */
gboolean tb_config_set_listen(tb_config *config, const char *addr_port, GError **error);
/* Returns the token secret: the configured one, else the contents of
 * DATA_DIR/secret, which is created (mode 0600, 32 random bytes as hex) when
 * missing, making DATA_DIR too. Returns a new string or NULL with ERROR. */
char *tb_config_load_secret(const tb_config *config, GError **error);
void tb_config_free(tb_config *config);

/* Parses a duration like "90", "90s", "15m", "2h", "1d" into seconds.
 * Returns -1 on error. */
int64_t tb_parse_duration_s(const char *text);

/* ---- tokens ----
 * base64url(JSON claims) "." base64url(HMAC-SHA256(secret, first part)). */
typedef struct tb_token_claims {
	char *sub;  /* user id */
	char *name; /* display name */
	tb_role role;
	char *room;   /* room id or "*" */
	char *kind;   /* "coaching" | "workshop" or NULL */
	int64_t exp;  /* Unix seconds */
	int64_t ends; /* end of the booked slot, Unix seconds; 0: none */
} tb_token_claims;

/* Signs CLAIMS; returns a new token string (transfer full) or NULL if a
 * required claim (sub, role, room, exp) is missing. Any thread. */
char *tb_token_sign(const tb_token_claims *claims, const char *secret);
/* Verifies TOKEN at time NOW_S and fills OUT (caller clears it with
 * tb_token_claims_clear). Returns 0, TB_EAUTH (malformed, forged, bad
 * claims) or TB_EEXPIRED. OUT is left empty on error. Any thread. */
int tb_token_verify(const char *token, const char *secret, int64_t now_s, tb_token_claims *out);
void tb_token_claims_clear(tb_token_claims *claims);

/* Returns TRUE if ID is a valid room id: 1..64 of [A-Za-z0-9_-]. */
bool tb_room_id_valid(const char *id);

G_END_DECLS

#endif
