/* test-config.c — tb_config defaults, INI loading, validation, secret file.
 *
 * Single-threaded; every file goes into a fresh g_dir_make_tmp directory
 * that the test removes.
 */
#include "common.h"
#include "tb-build-config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

static char *write_temp(const char *dir, const char *name, const char *content)
{
	char *path = g_build_filename(dir, name, NULL);
	GError *error = NULL;

	g_file_set_contents(path, content, -1, &error);
	g_assert_no_error(error);
	return path;
}

/* Removes DIR and the files in it (one level deep is all the tests make,
 * plus data/ under it). */
static void remove_tree(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		char *path = g_build_filename(dir, name, NULL);

		if (g_file_test(path, G_FILE_TEST_IS_DIR) &&
		    !g_file_test(path, G_FILE_TEST_IS_SYMLINK))
			remove_tree(path);
		else
			g_unlink(path);
		g_free(path);
	}
	g_dir_close(d);
	g_rmdir(dir);
}

static void test_defaults(void)
{
	tb_config *c = tb_config_new();
	GError *error = NULL;

	g_assert_cmpstr(c->listen_host, ==, "127.0.0.1");
	g_assert_cmpint(c->listen_port, ==, 8080);
	g_assert_cmpstr(c->data_dir, ==, "./data");
	if (g_file_test(TB_SOURCE_WEB_DIR, G_FILE_TEST_IS_DIR))
		g_assert_cmpstr(c->web_dir, ==, TB_SOURCE_WEB_DIR);
	else
		g_assert_cmpstr(c->web_dir, ==, TB_INSTALLED_WEB_DIR);
	g_assert_null(c->secret);
	g_assert_null(c->tls_cert);
	g_assert_null(c->tls_key);
	g_assert_cmpstr(c->log_level, ==, "info");
	g_assert_false(c->dev);
	g_assert_cmpint(c->workers, ==, 0);
	g_assert_cmpint(c->coaching_capacity, ==, 2);
	g_assert_cmpint(c->workshop_capacity, ==, 50);
	g_assert_cmpint(c->max_message_bytes, ==, 65536);
	g_assert_cmpint(c->rate_per_sec, ==, 20);
	g_assert_cmpint(c->rate_burst, ==, 40);
	g_assert_cmpint(c->max_connections, ==, 1000);
	g_assert_cmpint(c->max_rooms, ==, 1000);
	g_assert_cmpint(c->slot_warning_s, ==, 300);
	g_assert_cmpint(c->max_body_bytes, ==, 65536);
	g_assert_true(tb_config_validate(c, &error));
	g_assert_no_error(error);
	tb_config_free(c);
	tb_config_free(NULL);
}

static void test_file_override(void)
{
	char *dir = g_dir_make_tmp("tribu-config-XXXXXX", NULL);
	char *path = write_temp(dir, "tribud.conf",
				"# comment\n"
				"[server]\n"
				"listen = [::1]:9443\n"
				"data_dir = /var/lib/tribu\n"
				"web_dir = /srv/web\n"
				"dev = true\n"
				"log_level = info,media.*:debug\n"
				"workers = 4\n"
				"max_connections = 200\n"
				"[tls]\n"
				"cert = /etc/tribu/cert.pem\n"
				"key = /etc/tribu/key.pem\n"
				"[auth]\n"
				"secret = a-very-long-secret-value\n"
				"[rooms]\n"
				"coaching_capacity = 3\n"
				"workshop_capacity = 30\n"
				"max_rooms = 10\n"
				"slot_warning = 10m\n"
				"[signaling]\n"
				"max_message_bytes = 1024\n"
				"rate_per_sec = 5\n"
				"rate_burst = 10\n"
				"max_body_bytes = 2048\n");
	tb_config *c = tb_config_new();
	GError *error = NULL;

	g_assert_true(tb_config_load_file(c, path, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(c->listen_host, ==, "::1");
	g_assert_cmpint(c->listen_port, ==, 9443);
	g_assert_cmpstr(c->data_dir, ==, "/var/lib/tribu");
	g_assert_cmpstr(c->web_dir, ==, "/srv/web");
	g_assert_true(c->dev);
	g_assert_cmpstr(c->log_level, ==, "info,media.*:debug");
	g_assert_cmpint(c->workers, ==, 4);
	g_assert_cmpint(c->max_connections, ==, 200);
	g_assert_cmpstr(c->tls_cert, ==, "/etc/tribu/cert.pem");
	g_assert_cmpstr(c->tls_key, ==, "/etc/tribu/key.pem");
	g_assert_cmpstr(c->secret, ==, "a-very-long-secret-value");
	g_assert_cmpint(c->coaching_capacity, ==, 3);
	g_assert_cmpint(c->workshop_capacity, ==, 30);
	g_assert_cmpint(c->max_rooms, ==, 10);
	g_assert_cmpint(c->slot_warning_s, ==, 600);
	g_assert_cmpint(c->max_message_bytes, ==, 1024);
	g_assert_cmpint(c->rate_per_sec, ==, 5);
	g_assert_cmpint(c->rate_burst, ==, 10);
	g_assert_cmpint(c->max_body_bytes, ==, 2048);
	g_assert_true(tb_config_validate(c, &error));
	tb_config_free(c);

	/* A partial file changes only its keys; empty optional strings unset. */
	g_free(path);
	path = write_temp(dir, "partial.conf", "[rooms]\nworkshop_capacity=12\n[tls]\ncert=\n");
	c = tb_config_new();
	g_assert_true(tb_config_load_file(c, path, &error));
	g_assert_cmpint(c->workshop_capacity, ==, 12);
	g_assert_cmpint(c->coaching_capacity, ==, 2);
	g_assert_cmpint(c->listen_port, ==, 8080);
	g_assert_null(c->tls_cert);
	tb_config_free(c);

	g_free(path);
	remove_tree(dir);
	g_free(dir);
}

/* Loads CONTENT and expects failure with a message containing NEEDLE; the
 * config must be unchanged. */
static void assert_load_fails(const char *content, const char *needle)
{
	char *dir = g_dir_make_tmp("tribu-config-XXXXXX", NULL);
	char *path = write_temp(dir, "bad.conf", content);
	tb_config *c = tb_config_new();
	GError *error = NULL;

	if (tb_config_load_file(c, path, &error))
		g_error("accepted config:\n%s", content);
	g_assert_nonnull(error);
	if (strstr(error->message, needle) == NULL)
		g_error("error \"%s\" does not mention \"%s\"", error->message, needle);
	/* All or nothing: keys before the bad one were not applied. */
	g_assert_cmpint(c->workers, ==, 0);
	g_assert_cmpstr(c->data_dir, ==, "./data");
	g_assert_cmpstr(c->listen_host, ==, "127.0.0.1");
	g_error_free(error);
	tb_config_free(c);
	g_free(path);
	remove_tree(dir);
	g_free(dir);
}

static void test_unknown_keys(void)
{
	assert_load_fails("[server]\nworkers=2\nlisten_port=80\n", "server.listen_port");
	assert_load_fails("[server]\nworkers=2\n[rooms]\ncapacity=3\n", "rooms.capacity");
	assert_load_fails("[server]\nworkers=2\n[sever]\nlisten=1.2.3.4:5\n", "[sever]");
	assert_load_fails("[auth]\ncert=x\n", "auth.cert");
}

static void test_bad_types(void)
{
	assert_load_fails("[server]\ndata_dir=/x\nworkers=four\n", "server.workers");
	assert_load_fails("[server]\nworkers=2.5\n", "server.workers");
	assert_load_fails("[server]\nworkers=99999999999\n", "server.workers");
	assert_load_fails("[server]\ndev=maybe\n", "server.dev");
	assert_load_fails("[rooms]\nslot_warning=soon\n", "rooms.slot_warning");
	assert_load_fails("[rooms]\nslot_warning=-5m\n", "rooms.slot_warning");
	assert_load_fails("[rooms]\nslot_warning=99999999999999d\n", "rooms.slot_warning");
	assert_load_fails("[signaling]\nrate_burst=\n", "signaling.rate_burst");
	assert_load_fails("[server]\nworkers=3\nlisten=localhost\n", "server.listen");
	assert_load_fails("[server]\nlisten=0.0.0.0:http\n", "server.listen");
	/* Not INI at all. */
	assert_load_fails("workers=3\n", "bad.conf");
	assert_load_fails("[server\n", "bad.conf");

	{
		tb_config *c = tb_config_new();
		GError *error = NULL;

		g_assert_false(tb_config_load_file(c, "/nonexistent/tribud.conf", &error));
		g_assert_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
		g_error_free(error);
		tb_config_free(c);
	}
}

static void test_set_listen(void)
{
	tb_config *c = tb_config_new();
	GError *error = NULL;

	g_assert_true(tb_config_set_listen(c, "0.0.0.0:443", &error));
	g_assert_cmpstr(c->listen_host, ==, "0.0.0.0");
	g_assert_cmpint(c->listen_port, ==, 443);
	g_assert_true(tb_config_set_listen(c, "[::1]:0", &error));
	g_assert_cmpstr(c->listen_host, ==, "::1");
	g_assert_cmpint(c->listen_port, ==, 0);
	g_assert_true(tb_config_set_listen(c, "example.org:65535", &error));
	g_assert_cmpstr(c->listen_host, ==, "example.org");
	g_assert_cmpint(c->listen_port, ==, 65535);
	g_assert_no_error(error);

	static const char *const bad[] = {
		NULL,      "",         ":8080",    "host",        "host:", "host:65536",
		"host:-1", "host:80x", "::1:8080", "[::1]8080",   "[::1]", "[]:80",
		"[::1:80", "host: 80", "ho st:80", "host:123456",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		if (tb_config_set_listen(c, bad[i], &error))
			g_error("accepted listen \"%s\"", bad[i] ? bad[i] : "(null)");
		g_assert_nonnull(error);
		g_clear_error(&error);
	}
	/* Failures leave the old value. */
	g_assert_cmpstr(c->listen_host, ==, "example.org");
	g_assert_cmpint(c->listen_port, ==, 65535);
	tb_config_free(c);
}

static void assert_invalid(tb_config *c, const char *needle)
{
	GError *error = NULL;

	g_assert_false(tb_config_validate(c, &error));
	g_assert_nonnull(error);
	if (strstr(error->message, needle) == NULL)
		g_error("error \"%s\" does not mention \"%s\"", error->message, needle);
	g_error_free(error);
}

static void test_validate(void)
{
	tb_config *c;

#define INVALID(stmt, needle)                                                                      \
	do {                                                                                       \
		c = tb_config_new();                                                               \
		stmt;                                                                              \
		assert_invalid(c, needle);                                                         \
		tb_config_free(c);                                                                 \
	} while (0)

	INVALID(c->listen_port = 70000, "port");
	INVALID(c->listen_port = -1, "port");
	INVALID(c->coaching_capacity = 0, "coaching_capacity");
	INVALID(c->workshop_capacity = 1001, "workshop_capacity");
	INVALID(c->workers = 65, "workers");
	INVALID(c->workers = -1, "workers");
	INVALID(c->max_message_bytes = 0, "max_message_bytes");
	INVALID(c->rate_per_sec = 0, "rate_per_sec");
	INVALID(c->rate_burst = -3, "rate_burst");
	INVALID(c->max_connections = 0, "max_connections");
	INVALID(c->max_rooms = 0, "max_rooms");
	INVALID(c->max_body_bytes = 0, "max_body_bytes");
	INVALID(c->tls_cert = g_strdup("cert.pem"), "tls");
	INVALID(c->tls_key = g_strdup("key.pem"), "tls");
	INVALID(c->secret = g_strdup("short"), "auth.secret");
	INVALID((g_free(c->log_level), c->log_level = g_strdup("loud")), "log_level");
	INVALID((g_free(c->data_dir), c->data_dir = g_strdup("")), "data_dir");
#undef INVALID

	c = tb_config_new();
	c->workers = 64;
	c->coaching_capacity = 1;
	c->workshop_capacity = 1000;
	c->listen_port = 0;
	c->tls_cert = g_strdup("cert.pem");
	c->tls_key = g_strdup("key.pem");
	c->secret = g_strdup("0123456789abcdef");
	g_assert_true(tb_config_validate(c, NULL));
	tb_config_free(c);
}

static void test_secret_file(void)
{
	char *dir = g_dir_make_tmp("tribu-config-XXXXXX", NULL);
	char *data_dir = g_build_filename(dir, "data", "nested", NULL);
	char *secret_path = g_build_filename(data_dir, "secret", NULL);
	tb_config *c = tb_config_new();
	GError *error = NULL;
	char *first, *second, *content = NULL;
	GStatBuf st;

	g_free(c->data_dir);
	c->data_dir = g_strdup(data_dir);

	first = tb_config_load_secret(c, &error);
	g_assert_no_error(error);
	g_assert_nonnull(first);
	g_assert_cmpuint(strlen(first), ==, 64);
	for (size_t i = 0; first[i]; i++)
		g_assert_true(g_ascii_isxdigit(first[i]));

	g_assert_cmpint(g_stat(secret_path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);
	g_assert_cmpint(g_stat(data_dir, &st), ==, 0);
	g_assert_true(S_ISDIR(st.st_mode));
	g_assert_cmpint(st.st_mode & 0027, ==, 0);
	g_assert_true(g_file_get_contents(secret_path, &content, NULL, NULL));
	g_assert_cmpstr(g_strstrip(content), ==, first);
	g_free(content);

	/* The second call reads the same secret back. */
	second = tb_config_load_secret(c, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(second, ==, first);
	g_free(second);

	/* No temporary files left behind. */
	{
		GDir *d = g_dir_open(data_dir, 0, NULL);
		const char *name;
		int n = 0;

		while ((name = g_dir_read_name(d)) != NULL) {
			g_assert_cmpstr(name, ==, "secret");
			n++;
		}
		g_assert_cmpint(n, ==, 1);
		g_dir_close(d);
	}

	/* Whitespace around a hand-written secret is trimmed. */
	g_assert_true(g_file_set_contents(secret_path, "  hand-written-secret-123 \n\n", -1, NULL));
	second = tb_config_load_secret(c, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(second, ==, "hand-written-secret-123");
	g_free(second);

	/* A short secret file is refused, not replaced. */
	g_assert_true(g_file_set_contents(secret_path, "tooshort\n", -1, NULL));
	second = tb_config_load_secret(c, &error);
	g_assert_null(second);
	g_assert_nonnull(error);
	g_clear_error(&error);
	g_assert_true(g_file_get_contents(secret_path, &content, NULL, NULL));
	g_assert_cmpstr(content, ==, "tooshort\n");
	g_free(content);

	/* A configured secret wins over the file. */
	c->secret = g_strdup("configured-secret-value");
	second = tb_config_load_secret(c, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(second, ==, "configured-secret-value");
	g_free(second);
	g_free(c->secret);
	c->secret = g_strdup("short");
	g_assert_null(tb_config_load_secret(c, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);

	g_free(first);
	tb_config_free(c);
	g_free(secret_path);
	g_free(data_dir);
	remove_tree(dir);
	g_free(dir);
}

static gpointer load_secret_thread(gpointer user_data)
{
	return tb_config_load_secret(user_data, NULL);
}

static void test_secret_race(void)
{
	char *dir = g_dir_make_tmp("tribu-config-XXXXXX", NULL);
	tb_config *c = tb_config_new();
	GThread *threads[8];
	char *secrets[8];

	g_free(c->data_dir);
	c->data_dir = g_build_filename(dir, "data", NULL);
	/* Racing first starts must agree on one secret, never a torn file. */
	for (size_t i = 0; i < G_N_ELEMENTS(threads); i++)
		threads[i] = g_thread_new("secret", load_secret_thread, c);
	for (size_t i = 0; i < G_N_ELEMENTS(threads); i++) {
		secrets[i] = g_thread_join(threads[i]);
		g_assert_nonnull(secrets[i]);
		g_assert_cmpstr(secrets[i], ==, secrets[0]);
	}
	for (size_t i = 0; i < G_N_ELEMENTS(threads); i++)
		g_free(secrets[i]);
	tb_config_free(c);
	remove_tree(dir);
	g_free(dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/config/defaults", test_defaults);
	g_test_add_func("/config/file-override", test_file_override);
	g_test_add_func("/config/unknown-keys", test_unknown_keys);
	g_test_add_func("/config/bad-types", test_bad_types);
	g_test_add_func("/config/set-listen", test_set_listen);
	g_test_add_func("/config/validate", test_validate);
	g_test_add_func("/config/secret-file", test_secret_file);
	g_test_add_func("/config/secret-race", test_secret_race);
	return g_test_run();
}
