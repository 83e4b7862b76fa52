/* config.c — tribud configuration: defaults, INI file, checks, token secret.
 *
 * Main thread, at start-up: a tb_config is built and loaded here, then only
 * read by other threads. Loading is all or nothing: a file with one bad key
 * leaves the config as it was. This file does not apply the config (log
 * level, listening, TLS) and does not watch the file for changes.
 */
#include "common-private.h"
#include "tb-build-config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_CAT "config"
/* A shorter secret makes HMAC tokens guessable offline. */
#define SECRET_MIN_CHARS      16
#define SECRET_FILE_MAX_BYTES 4096
#define SECRET_RANDOM_BYTES   32

tb_config *tb_config_new(void)
{
	tb_config *config = g_new0(tb_config, 1);

	config->listen_host = g_strdup("127.0.0.1");
	config->listen_port = 8080;
	config->data_dir = g_strdup("./data");
	/* Running from the source tree serves the web client being edited. */
	if (g_file_test(TB_SOURCE_WEB_DIR, G_FILE_TEST_IS_DIR))
		config->web_dir = g_strdup(TB_SOURCE_WEB_DIR);
	else
		config->web_dir = g_strdup(TB_INSTALLED_WEB_DIR);
	config->secret = NULL;
	config->tls_cert = NULL;
	config->tls_key = NULL;
	config->log_level = g_strdup("info");
	config->dev = false;
	config->workers = 0;
	config->coaching_capacity = 2;
	config->workshop_capacity = 50;
	config->last_n = 9;
	config->max_message_bytes = 65536;
	config->rate_per_sec = 20;
	config->rate_burst = 40;
	config->max_connections = 1000;
	config->max_connections_per_address = 200;
	config->max_rooms = 1000;
	config->slot_warning_s = 300;
	config->max_body_bytes = 65536;
	config->record = true;
	return config;
}

static void config_clear(tb_config *config)
{
	g_free(config->listen_host);
	g_free(config->data_dir);
	g_free(config->web_dir);
	g_free(config->secret);
	g_free(config->tls_cert);
	g_free(config->tls_key);
	g_free(config->log_level);
	g_free(config->media_addresses);
	g_free(config->media_public_address);
	memset(config, 0, sizeof(*config));
}

static void config_copy(tb_config *dst, const tb_config *src)
{
	*dst = *src;
	dst->listen_host = g_strdup(src->listen_host);
	dst->data_dir = g_strdup(src->data_dir);
	dst->web_dir = g_strdup(src->web_dir);
	dst->secret = g_strdup(src->secret);
	dst->tls_cert = g_strdup(src->tls_cert);
	dst->tls_key = g_strdup(src->tls_key);
	dst->log_level = g_strdup(src->log_level);
	dst->media_addresses = g_strdup(src->media_addresses);
	dst->media_public_address = g_strdup(src->media_public_address);
}

void tb_config_free(tb_config *config)
{
	if (config == NULL)
		return;
	config_clear(config);
	g_free(config);
}

/* ---- listen address ---- */

static bool parse_port(const char *s, int *port)
{
	int value = 0;
	size_t n;

	for (n = 0; g_ascii_isdigit(s[n]); n++) {
		if (n == 5)
			return false;
		value = value * 10 + (s[n] - '0');
	}
	if (n == 0 || s[n] != '\0' || value > 65535)
		return false;
	*port = value;
	return true;
}

static bool host_valid(const char *host, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)host[i];

		if (c <= ' ' || c == 0x7f || c == '[' || c == ']' || c == '/')
			return false;
	}
	return true;
}

gboolean tb_config_set_listen(tb_config *config, const char *addr_port, GError **error)
{
	const char *host, *port_text;
	size_t host_len;
	int port;

	g_return_val_if_fail(config != NULL, FALSE);

	if (addr_port == NULL)
		goto fail;
	if (addr_port[0] == '[') {
		const char *close = strchr(addr_port, ']');

		if (close == NULL || close[1] != ':')
			goto fail;
		host = addr_port + 1;
		host_len = (size_t)(close - host);
		port_text = close + 2;
	} else {
		const char *colon = strrchr(addr_port, ':');

		if (colon == NULL)
			goto fail;
		host = addr_port;
		host_len = (size_t)(colon - host);
		/* "::1:8080" is ambiguous: IPv6 needs brackets. */
		if (memchr(host, ':', host_len) != NULL)
			goto fail;
		port_text = colon + 1;
	}
	if (!host_valid(host, host_len) || !parse_port(port_text, &port))
		goto fail;

	g_free(config->listen_host);
	config->listen_host = g_strndup(host, host_len);
	config->listen_port = port;
	return TRUE;
fail:
	g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		    "bad listen address \"%s\": expected HOST:PORT or [IPV6]:PORT, port 0..65535",
		    addr_port ? addr_port : "(null)");
	return FALSE;
}

/* ---- INI file ---- */

typedef enum {
	VALUE_STRING,     /* required string */
	VALUE_OPT_STRING, /* empty means unset (NULL) */
	VALUE_INT,
	VALUE_BOOL,
	VALUE_DURATION, /* "5m" into seconds */
	VALUE_LISTEN,   /* "ADDR:PORT" into listen_host, listen_port */
} value_kind;

typedef struct {
	const char *group;
	const char *key;
	value_kind kind;
	size_t offset; /* of the tb_config field */
} config_key;

#define FIELD(name) offsetof(tb_config, name)

static const config_key config_keys[] = {
	{"server", "listen", VALUE_LISTEN, 0},
	{"server", "data_dir", VALUE_STRING, FIELD(data_dir)},
	{"server", "web_dir", VALUE_STRING, FIELD(web_dir)},
	{"server", "dev", VALUE_BOOL, FIELD(dev)},
	{"server", "log_level", VALUE_STRING, FIELD(log_level)},
	{"server", "workers", VALUE_INT, FIELD(workers)},
	{"server", "max_connections", VALUE_INT, FIELD(max_connections)},
	{"server", "max_connections_per_address", VALUE_INT, FIELD(max_connections_per_address)},
	{"tls", "cert", VALUE_OPT_STRING, FIELD(tls_cert)},
	{"tls", "key", VALUE_OPT_STRING, FIELD(tls_key)},
	{"auth", "secret", VALUE_OPT_STRING, FIELD(secret)},
	{"rooms", "coaching_capacity", VALUE_INT, FIELD(coaching_capacity)},
	{"rooms", "workshop_capacity", VALUE_INT, FIELD(workshop_capacity)},
	{"rooms", "last_n", VALUE_INT, FIELD(last_n)},
	{"rooms", "max_rooms", VALUE_INT, FIELD(max_rooms)},
	{"rooms", "slot_warning", VALUE_DURATION, FIELD(slot_warning_s)},
	{"signaling", "max_message_bytes", VALUE_INT, FIELD(max_message_bytes)},
	{"signaling", "rate_per_sec", VALUE_INT, FIELD(rate_per_sec)},
	{"signaling", "rate_burst", VALUE_INT, FIELD(rate_burst)},
	{"signaling", "max_body_bytes", VALUE_INT, FIELD(max_body_bytes)},
	{"media", "addresses", VALUE_OPT_STRING, FIELD(media_addresses)},
	{"media", "public_address", VALUE_OPT_STRING, FIELD(media_public_address)},
	{"media", "port_min", VALUE_INT, FIELD(media_port_min)},
	{"media", "port_max", VALUE_INT, FIELD(media_port_max)},
	{"recording", "enabled", VALUE_BOOL, FIELD(record)},
};

static bool group_known(const char *group)
{
	for (size_t i = 0; i < G_N_ELEMENTS(config_keys); i++) {
		if (strcmp(config_keys[i].group, group) == 0)
			return true;
	}
	return false;
}

static const config_key *find_key(const char *group, const char *key)
{
	for (size_t i = 0; i < G_N_ELEMENTS(config_keys); i++) {
		if (strcmp(config_keys[i].group, group) == 0 &&
		    strcmp(config_keys[i].key, key) == 0)
			return &config_keys[i];
	}
	return NULL;
}

static gboolean bad_value(const char *path, const config_key *k, const char *raw,
			  const char *expected, GError **error)
{
	g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		    "%s: %s.%s: expected %s, got \"%s\"", path, k->group, k->key, expected,
		    raw ? raw : "");
	return FALSE;
}

static gboolean apply_key(GKeyFile *file, const char *path, const config_key *k, tb_config *config,
			  GError **error)
{
	char *raw = g_key_file_get_value(file, k->group, k->key, NULL);
	char **str_field = (char **)((char *)config + k->offset);
	int *int_field = (int *)((char *)config + k->offset);
	bool *bool_field = (bool *)((char *)config + k->offset);
	GError *local = NULL;
	gboolean ok = FALSE;
	char *s = NULL;

	switch (k->kind) {
	case VALUE_STRING:
	case VALUE_OPT_STRING:
		s = g_key_file_get_string(file, k->group, k->key, &local);
		if (s == NULL) {
			bad_value(path, k, raw, "a string", error);
			goto out;
		}
		g_free(*str_field);
		if (k->kind == VALUE_OPT_STRING && s[0] == '\0') {
			*str_field = NULL;
		} else {
			*str_field = s;
			s = NULL;
		}
		break;
	case VALUE_INT: {
		int value = g_key_file_get_integer(file, k->group, k->key, &local);

		if (local != NULL) {
			bad_value(path, k, raw, "an integer", error);
			goto out;
		}
		*int_field = value;
		break;
	}
	case VALUE_BOOL: {
		gboolean value = g_key_file_get_boolean(file, k->group, k->key, &local);

		if (local != NULL) {
			bad_value(path, k, raw, "true or false", error);
			goto out;
		}
		*bool_field = value;
		break;
	}
	case VALUE_DURATION: {
		int64_t seconds;

		s = g_key_file_get_string(file, k->group, k->key, NULL);
		seconds = tb_parse_duration_s(s);
		if (seconds < 0 || seconds > G_MAXINT) {
			bad_value(path, k, raw, "a duration like 90s, 5m, 2h or 1d", error);
			goto out;
		}
		*int_field = (int)seconds;
		break;
	}
	case VALUE_LISTEN:
		s = g_key_file_get_string(file, k->group, k->key, NULL);
		if (!tb_config_set_listen(config, s, &local)) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
				    "%s: %s.%s: %s", path, k->group, k->key, local->message);
			goto out;
		}
		break;
	}
	ok = TRUE;
out:
	g_clear_error(&local);
	g_free(s);
	g_free(raw);
	return ok;
}

gboolean tb_config_load_file(tb_config *config, const char *path, GError **error)
{
	GKeyFile *file = g_key_file_new();
	tb_config next;
	char **groups = NULL, **keys = NULL;
	gboolean ok = FALSE;

	g_return_val_if_fail(config != NULL && path != NULL, FALSE);

	config_copy(&next, config);
	if (!g_key_file_load_from_file(file, path, G_KEY_FILE_NONE, error)) {
		g_prefix_error(error, "%s: ", path);
		goto out;
	}
	groups = g_key_file_get_groups(file, NULL);
	for (size_t g = 0; groups[g] != NULL; g++) {
		if (!group_known(groups[g])) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
				    "%s: unknown group [%s]", path, groups[g]);
			goto out;
		}
		keys = g_key_file_get_keys(file, groups[g], NULL, NULL);
		for (size_t i = 0; keys != NULL && keys[i] != NULL; i++) {
			const config_key *k = find_key(groups[g], keys[i]);

			if (k == NULL) {
				g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
					    "%s: unknown key %s.%s", path, groups[g], keys[i]);
				goto out;
			}
			if (!apply_key(file, path, k, &next, error))
				goto out;
		}
		g_clear_pointer(&keys, g_strfreev);
	}

	config_clear(config);
	*config = next;
	memset(&next, 0, sizeof(next));
	ok = TRUE;
out:
	config_clear(&next);
	g_strfreev(keys);
	g_strfreev(groups);
	g_key_file_free(file);
	return ok;
}

/* ---- checks ---- */

static gboolean check_range(const char *name, int value, int lo, int hi, GError **error)
{
	if (value >= lo && value <= hi)
		return TRUE;
	g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
		    "%s must be %d..%d, not %d", name, lo, hi, value);
	return FALSE;
}

static gboolean check_set(const char *name, const char *value, GError **error)
{
	if (value != NULL && value[0] != '\0')
		return TRUE;
	g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "%s must be set",
		    name);
	return FALSE;
}

gboolean tb_config_validate(const tb_config *c, GError **error)
{
	g_return_val_if_fail(c != NULL, FALSE);

	if (!check_set("server.listen host", c->listen_host, error) ||
	    !check_range("server.listen port", c->listen_port, 0, 65535, error) ||
	    !check_set("server.data_dir", c->data_dir, error) ||
	    !check_set("server.web_dir", c->web_dir, error) ||
	    !check_set("server.log_level", c->log_level, error) ||
	    !check_range("server.workers", c->workers, 0, 64, error) ||
	    !check_range("server.max_connections", c->max_connections, 1, G_MAXINT, error) ||
	    !check_range("server.max_connections_per_address", c->max_connections_per_address, 1,
			 G_MAXINT, error) ||
	    !check_range("rooms.coaching_capacity", c->coaching_capacity, 1, 1000, error) ||
	    !check_range("rooms.workshop_capacity", c->workshop_capacity, 1, 1000, error) ||
	    !check_range("rooms.last_n", c->last_n, 1, 1000, error) ||
	    !check_range("rooms.max_rooms", c->max_rooms, 1, G_MAXINT, error) ||
	    !check_range("rooms.slot_warning (seconds)", c->slot_warning_s, 0, G_MAXINT, error) ||
	    !check_range("signaling.max_message_bytes", c->max_message_bytes, 1, G_MAXINT, error) ||
	    !check_range("signaling.rate_per_sec", c->rate_per_sec, 1, G_MAXINT, error) ||
	    !check_range("signaling.rate_burst", c->rate_burst, 1, G_MAXINT, error) ||
	    !check_range("signaling.max_body_bytes", c->max_body_bytes, 1, G_MAXINT, error) ||
	    !check_range("media.port_min", c->media_port_min, 0, 65535, error) ||
	    !check_range("media.port_max", c->media_port_max, 0, 65535, error))
		return FALSE;
	if (c->media_port_min > c->media_port_max ||
	    (c->media_port_min == 0) != (c->media_port_max == 0)) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			    "media.port_min and media.port_max: set both, with min <= max");
		return FALSE;
	}

	if (!tb__log_spec_valid(c->log_level)) {
		g_set_error(
			error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			"server.log_level \"%s\" is not a level spec like \"info,media.*:debug\"",
			c->log_level);
		return FALSE;
	}
	if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			    "tls.cert and tls.key must be set together");
		return FALSE;
	}
	if (c->secret != NULL && strlen(c->secret) < SECRET_MIN_CHARS) {
		g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
			    "auth.secret must be at least %d characters", SECRET_MIN_CHARS);
		return FALSE;
	}
	return TRUE;
}

/* ---- token secret ---- */

static void set_errno_error(GError **error, int err, const char *what, const char *path)
{
	g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s %s: %s", what, path,
		    g_strerror(err));
}

/* Reads and trims the secret in PATH. Returns a new string, or NULL with
 * ERROR (G_FILE_ERROR_NOENT when the file does not exist). */
static char *read_secret_file(const char *path, GError **error)
{
	char buf[SECRET_FILE_MAX_BYTES + 1];
	char *secret = NULL;
	size_t len = 0;
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		set_errno_error(error, errno, "cannot open", path);
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		set_errno_error(error, errno, "cannot stat", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s is not a regular file",
			    path);
		goto out;
	}
	if ((st.st_mode & 077) != 0)
		TB_WARN(LOG_CAT, "%s is readable by other users (mode %03o); chmod 600 it", path,
			(unsigned)(st.st_mode & 0777));
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_errno_error(error, errno, "cannot read", path);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > SECRET_FILE_MAX_BYTES) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s is larger than %d bytes: not a token secret", path,
			    SECRET_FILE_MAX_BYTES);
		goto out;
	}
	secret = g_strstrip(g_strndup(buf, len));
	if (strlen(secret) < SECRET_MIN_CHARS) {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			    "%s holds a secret shorter than %d characters", path, SECRET_MIN_CHARS);
		g_clear_pointer(&secret, g_free);
	}
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return secret;
}

/* Makes a new secret and publishes it at PATH without ever replacing an
 * existing file: it is written to a private temporary file (created with
 * O_CREAT|O_EXCL, mode 0600) and hard-linked into place, so a process racing
 * us either wins the link or reads the complete file the winner wrote. */
static char *create_secret_file(const char *data_dir, const char *path, GError **error)
{
	char *secret = tb_random_hex(SECRET_RANDOM_BYTES);
	char *content = g_strconcat(secret, "\n", NULL);
	char *tmp = g_build_filename(data_dir, ".secret.XXXXXX", NULL);
	size_t len = strlen(content), off = 0;
	bool tmp_made = false;
	int fd;

	fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0) {
		set_errno_error(error, errno, "cannot create", tmp);
		goto fail;
	}
	tmp_made = true;
	while (off < len) {
		ssize_t n = write(fd, content + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			set_errno_error(error, errno, "cannot write", tmp);
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0) {
		set_errno_error(error, errno, "cannot sync", tmp);
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		set_errno_error(error, errno, "cannot close", tmp);
		goto fail;
	}
	fd = -1;
	if (link(tmp, path) != 0) {
		int err = errno;

		if (err != EEXIST) {
			set_errno_error(error, err, "cannot create", path);
			goto fail;
		}
		/* Another process got there first: use its secret. */
		g_free(secret);
		secret = read_secret_file(path, error);
	} else {
		TB_INFO(LOG_CAT, "created a new token secret in %s", path);
	}
	goto out;
fail:
	g_clear_pointer(&secret, g_free);
out:
	if (fd >= 0)
		close(fd);
	if (tmp_made)
		unlink(tmp);
	explicit_bzero(content, len);
	g_free(content);
	g_free(tmp);
	return secret;
}

char *tb_config_load_secret(const tb_config *config, GError **error)
{
	GError *local = NULL;
	char *path = NULL, *secret = NULL;

	g_return_val_if_fail(config != NULL, NULL);

	if (config->secret != NULL) {
		if (strlen(config->secret) < SECRET_MIN_CHARS) {
			g_set_error(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
				    "auth.secret must be at least %d characters", SECRET_MIN_CHARS);
			goto out;
		}
		secret = g_strdup(config->secret);
		goto out;
	}
	if (config->data_dir == NULL || config->data_dir[0] == '\0') {
		g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "server.data_dir must be set");
		goto out;
	}
	if (g_mkdir_with_parents(config->data_dir, 0750) != 0) {
		set_errno_error(error, errno, "cannot create directory", config->data_dir);
		goto out;
	}
	path = g_build_filename(config->data_dir, "secret", NULL);
	secret = read_secret_file(path, &local);
	if (secret == NULL && g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		g_clear_error(&local);
		secret = create_secret_file(config->data_dir, path, &local);
	}
	if (secret == NULL)
		g_propagate_error(error, local);
out:
	g_free(path);
	return secret;
}
