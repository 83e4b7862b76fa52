/* test-ice.c — tb_ice with real libnice on loopback.
 *
 * Two tb_ice on 127.0.0.1 in one process: "server" (controlled, as in
 * production) and "browser" (controlling, through the test-only config flag).
 * The test thread iterates their GMainContext, pushed as its thread-default
 * context as a tb_worker does, until a condition holds or a deadline passes:
 * nothing sleeps. Credentials and trickled candidates leave through the
 * callbacks into per-peer lists, which the loop delivers as signaling would.
 * One test runs both peers on a real tb_worker instead.
 *
 * Consent: the server's tb_ice reads a test clock (the monotonic clock plus
 * an offset the test moves), so the 30 s peer-silence deadline is checked in
 * seconds; libnice's own timers run on real time. The tests that wait for
 * real deadlines (30 s, libnice's 50 s) run only with TB_TEST_SLOW=1.
 */
#include "ice.h"

#include "common.h"

#include <stdlib.h>
#include <string.h>

#define DEADLINE_MS 10000

typedef struct fixture fixture;

typedef struct peer {
	const char *name;
	fixture *f;
	tb_ice *ice;
	GPtrArray *emitted;       /* candidate lines, in order */
	guint delivered;          /* emitted[0..delivered) went to the other peer */
	bool deliver;             /* the loop delivers this peer's candidates */
	const char *replace_with; /* deliver this line instead of each candidate */
	bool gathering_done;
	bool eoc_delivered;
	GArray *states; /* tb_ice_state, as reported */
	guint8 last[2048];
	size_t last_len;
	guint n_received;
	guint64 bytes_received;
	guint n_gathering_done;
	/* free our own tb_ice inside a callback */
	bool free_in_receive, free_in_connected, free_in_candidate, free_in_gathering_done;
} peer;

struct fixture {
	GMainContext *ctx;
	peer server, browser;
};

static const char *const loopback[] = {"127.0.0.1", NULL};

/* ---- test clock: real monotonic time plus an offset the test moves ---- */

static gint64 clock_offset_us;

static int64_t test_wall_ms(void *user_data)
{
	return g_get_real_time() / 1000;
}

static int64_t test_mono_us(void *user_data)
{
	return g_get_monotonic_time() + clock_offset_us;
}

static const tb_clock test_clock = {.wall_ms = test_wall_ms, .mono_us = test_mono_us};

/* ---- callbacks ---- */

static void free_own(peer *p)
{
	tb_ice_free(p->ice);
	p->ice = NULL;
}

static void on_candidate(void *user_data, const char *line)
{
	peer *p = user_data;

	g_assert_true(g_str_has_prefix(line, "candidate:"));
	g_assert_null(strchr(line, '\r'));
	g_assert_null(strchr(line, '\n'));
	g_ptr_array_add(p->emitted, g_strdup(line));
	if (p->free_in_candidate)
		free_own(p);
}

static void on_gathering_done(void *user_data)
{
	peer *p = user_data;

	p->gathering_done = true;
	p->n_gathering_done++;
	if (p->free_in_gathering_done)
		free_own(p);
}

static void on_state(void *user_data, tb_ice_state state)
{
	peer *p = user_data;

	g_assert_cmpint(state, !=, TB_ICE_CLOSED);
	g_array_append_val(p->states, state);
	if (state == TB_ICE_CONNECTED && p->free_in_connected)
		free_own(p);
}

static void on_receive(void *user_data, uint8_t *buf, size_t len)
{
	peer *p = user_data;

	g_assert_cmpuint(len, >, 0);
	p->last_len = MIN(len, sizeof(p->last));
	memcpy(p->last, buf, p->last_len);
	buf[0] ^= 0xff; /* the buffer is ours to change (in-place decryption) */
	p->n_received++;
	p->bytes_received += len;
	if (p->free_in_receive)
		free_own(p);
}

static const tb_ice_callbacks callbacks = {
	.local_candidate = on_candidate,
	.gathering_done = on_gathering_done,
	.state = on_state,
	.receive = on_receive,
};

/* ---- fixture ---- */

static tb_ice_state last_state(const peer *p)
{
	return p->states->len ? g_array_index(p->states, tb_ice_state, p->states->len - 1)
			      : TB_ICE_NEW;
}

static bool saw_state(const peer *p, tb_ice_state state)
{
	for (guint i = 0; i < p->states->len; i++) {
		if (g_array_index(p->states, tb_ice_state, i) == state)
			return true;
	}
	return false;
}

static peer *other(peer *p)
{
	return p == &p->f->server ? &p->f->browser : &p->f->server;
}

static void peer_start(fixture *f, peer *p, const tb_ice_config *config)
{
	GError *error = NULL;

	p->ice = tb_ice_new(f->ctx, config, &callbacks, p, &error);
	g_assert_no_error(error);
	g_assert_nonnull(p->ice);
	g_assert_cmpint(tb_ice_get_state(p->ice), ==, TB_ICE_NEW);
}

static void peer_init(fixture *f, peer *p, const char *name)
{
	p->name = name;
	p->f = f;
	p->emitted = g_ptr_array_new_with_free_func(g_free);
	p->states = g_array_new(FALSE, FALSE, sizeof(tb_ice_state));
}

static void peer_clear(peer *p)
{
	tb_ice_free(p->ice);
	p->ice = NULL;
	g_ptr_array_unref(p->emitted);
	g_array_unref(p->states);
}

/* Both peers on 127.0.0.1: the server controlled, the browser controlling. */
static void setup(fixture *f, gconstpointer data)
{
	tb_ice_config server = {
		.local_addresses = loopback, .name = "server", .clock = &test_clock};
	tb_ice_config browser = {.local_addresses = loopback,
				 .name = "browser",
				 .controlling = true,
				 .clock = &test_clock};

	clock_offset_us = 0;
	f->ctx = g_main_context_new();
	g_main_context_push_thread_default(f->ctx);
	peer_init(f, &f->server, "server");
	peer_init(f, &f->browser, "browser");
	if (data == NULL) {
		peer_start(f, &f->server, &server);
		peer_start(f, &f->browser, &browser);
	}
}

/* Dispatches whatever is ready (agents closing) until nothing is. */
static void drain(fixture *f)
{
	while (g_main_context_iteration(f->ctx, FALSE))
		;
}

static void teardown(fixture *f, gconstpointer data)
{
	peer_clear(&f->server);
	peer_clear(&f->browser);
	drain(f);
	g_main_context_pop_thread_default(f->ctx);
	g_main_context_unref(f->ctx);
}

/* Hands each peer's new candidates (and end-of-candidates once gathering is
 * done) to the other, as signaling would. */
static void deliver(fixture *f)
{
	peer *peers[] = {&f->server, &f->browser};

	for (size_t i = 0; i < G_N_ELEMENTS(peers); i++) {
		peer *p = peers[i], *o = other(p);

		if (!p->deliver)
			continue;
		while (o->ice != NULL && p->delivered < p->emitted->len) {
			const char *line = g_ptr_array_index(p->emitted, p->delivered++);

			g_assert_cmpint(tb_ice_add_remote_candidate(
						o->ice, p->replace_with ? p->replace_with : line),
					==, 0);
		}
		if (o->ice != NULL && p->gathering_done && !p->eoc_delivered &&
		    p->delivered == p->emitted->len) {
			p->eoc_delivered = true;
			g_assert_cmpint(tb_ice_end_of_candidates(o->ice), ==, 0);
		}
	}
}

typedef bool (*predicate)(fixture *f);

static gboolean wake_up(gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

/* Iterates the context (delivering candidates) until COND or TIMEOUT_MS. */
static bool run_until(fixture *f, predicate cond, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	GSource *wake = g_timeout_source_new(timeout_ms);
	bool ok;

	g_source_set_callback(wake, wake_up, NULL, NULL);
	g_source_attach(wake, f->ctx);
	for (;;) {
		deliver(f);
		ok = cond(f);
		if (ok || g_get_monotonic_time() >= deadline)
			break;
		g_main_context_iteration(f->ctx, TRUE);
	}
	g_source_destroy(wake);
	g_source_unref(wake);
	return ok;
}

static bool both_connected(fixture *f)
{
	return last_state(&f->server) == TB_ICE_CONNECTED &&
	       last_state(&f->browser) == TB_ICE_CONNECTED;
}

static bool browser_gathered(fixture *f)
{
	return f->browser.gathering_done;
}

static bool server_gathered(fixture *f)
{
	return f->server.gathering_done;
}

static bool server_failed(fixture *f)
{
	return last_state(&f->server) == TB_ICE_FAILED;
}

static bool server_gone(fixture *f)
{
	return f->server.ice == NULL;
}

static void give_credentials(peer *from, peer *to)
{
	char *ufrag = NULL, *pwd = NULL;

	g_assert_cmpint(tb_ice_get_local_credentials(from->ice, &ufrag, &pwd), ==, 0);
	g_assert_cmpuint(strlen(ufrag), >=, 4);
	g_assert_cmpuint(strlen(pwd), >=, 22);
	g_assert_cmpint(tb_ice_set_remote_credentials(to->ice, ufrag, pwd), ==, 0);
	g_free(ufrag);
	g_free(pwd);
}

static void exchange_credentials(fixture *f)
{
	give_credentials(&f->server, &f->browser);
	give_credentials(&f->browser, &f->server);
}

static void connect_peers(fixture *f)
{
	f->server.deliver = f->browser.deliver = true;
	g_assert_cmpint(tb_ice_gather(f->server.ice), ==, 0);
	g_assert_cmpint(tb_ice_gather(f->browser.ice), ==, 0);
	exchange_credentials(f);
	g_assert_true(run_until(f, both_connected, DEADLINE_MS));
}

static guint received_target;

static bool browser_received_target(fixture *f)
{
	return f->browser.n_received >= received_target;
}

static bool server_received_target(fixture *f)
{
	return f->server.n_received >= received_target;
}

/* Sends LEN bytes of a pattern seeded by SEED from P and checks they arrive. */
static void send_and_check(fixture *f, peer *p, size_t len, guint8 seed)
{
	guint8 buf[1500];
	peer *o = other(p);

	g_assert_cmpuint(len, <=, sizeof(buf));
	for (size_t i = 0; i < len; i++)
		buf[i] = (guint8)(seed + i * 7);
	received_target = o->n_received + 1;
	g_assert_cmpint(tb_ice_send(p->ice, buf, len), ==, 0);
	g_assert_true(run_until(f,
				o == &f->browser ? browser_received_target : server_received_target,
				DEADLINE_MS));
	g_assert_cmpmem(o->last, o->last_len, buf, len);
}

/* Returns the address and port tokens of a candidate line. */
static void candidate_address(const char *line, char **addr, guint *port)
{
	char **tok = g_strsplit(line, " ", 0);

	g_assert_cmpuint(g_strv_length(tok), >=, 8);
	*addr = g_strdup(tok[4]);
	*port = (guint)atoi(tok[5]);
	g_strfreev(tok);
}

/* ---- tests ---- */

static void test_connect(fixture *f, gconstpointer data)
{
	char local[128], remote[128];
	const guint8 one = 1;

	/* Nothing selected yet: sending fails, quietly. */
	g_assert_cmpint(tb_ice_send(f->server.ice, &one, 1), ==, TB_EIO);
	g_assert_cmpint(
		tb_ice_selected_pair(f->server.ice, local, sizeof(local), remote, sizeof(remote)),
		==, TB_ENOENT);

	connect_peers(f);
	g_assert_true(saw_state(&f->server, TB_ICE_CHECKING));
	g_assert_false(saw_state(&f->server, TB_ICE_FAILED));
	g_assert_false(saw_state(&f->browser, TB_ICE_FAILED));
	g_assert_cmpint(tb_ice_get_state(f->server.ice), ==, TB_ICE_CONNECTED);

	/* Host candidates on the configured loopback address only. */
	g_assert_cmpuint(f->server.emitted->len, >=, 1);
	for (guint i = 0; i < f->server.emitted->len; i++) {
		const char *line = g_ptr_array_index(f->server.emitted, i);
		char *addr;
		guint port;

		candidate_address(line, &addr, &port);
		g_assert_cmpstr(addr, ==, "127.0.0.1");
		g_assert_cmpuint(port, >, 0);
		g_assert_nonnull(strstr(line, " 1 UDP "));
		g_assert_nonnull(strstr(line, " typ host"));
		g_free(addr);
	}
	g_assert_cmpuint(f->server.n_gathering_done, ==, 1);

	send_and_check(f, &f->server, 1200, 0x10);
	send_and_check(f, &f->browser, 200, 0x80);
	send_and_check(f, &f->server, 1, 0x42);

	g_assert_cmpint(
		tb_ice_selected_pair(f->server.ice, local, sizeof(local), remote, sizeof(remote)),
		==, 0);
	g_assert_true(g_str_has_prefix(local, "127.0.0.1:"));
	g_assert_true(g_str_has_suffix(local, " host"));
	g_assert_true(g_str_has_prefix(remote, "127.0.0.1:"));
	/* NULL buffers and tiny ones are fine. */
	g_assert_cmpint(tb_ice_selected_pair(f->server.ice, NULL, 0, remote, 4), ==, 0);
	g_assert_cmpuint(strlen(remote), ==, 3);

	/* Bad arguments to send. */
	g_assert_cmpint(tb_ice_send(f->server.ice, NULL, 10), ==, TB_EIO);
	g_assert_cmpint(tb_ice_send(f->server.ice, &one, 0), ==, TB_EIO);
}

/* The browser's candidates reach the server before the server gathered or
 * got credentials; the server's reach the browser before its credentials. */
static void test_candidates_before_credentials(fixture *f, gconstpointer data)
{
	g_assert_cmpint(tb_ice_gather(f->browser.ice), ==, 0);
	g_assert_true(run_until(f, browser_gathered, DEADLINE_MS));
	f->browser.deliver = true;
	deliver(f); /* queued: no credentials, not gathering */
	g_assert_true(f->browser.eoc_delivered);

	give_credentials(&f->browser, &f->server); /* still queued: not gathering */
	g_assert_cmpint(tb_ice_gather(f->server.ice), ==, 0);
	g_assert_true(run_until(f, server_gathered, DEADLINE_MS));
	f->server.deliver = true;
	deliver(f); /* queued on the browser: no credentials yet */
	g_assert_cmpint(last_state(&f->browser), ==, TB_ICE_NEW);

	give_credentials(&f->server, &f->browser);
	g_assert_true(run_until(f, both_connected, DEADLINE_MS));
	send_and_check(f, &f->browser, 100, 3);
	send_and_check(f, &f->server, 100, 4);
}

static void test_bad_candidates(fixture *f, gconstpointer data)
{
	static const char *const malformed[] = {
		"",
		"candidate:",
		"a=candidate:",
		"a=",
		"hello",
		"a=candidate",
		"candidate:1 1 udp",
		"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ",
		"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ bogus",
		"candidate:1 1 udp 2122260223 127.0.0.1 5000 type host",
		"candidate:1 1 udp 2122260223 127.0.0.1 notaport typ host",
		"candidate:1 1 udp 2122260223 127.0.0.1 0 typ host",
		"candidate:1 1 udp 2122260223 127.0.0.1 70000 typ host",
		"candidate:1 1 udp -5 127.0.0.1 5000 typ host",
		"candidate:1 1 udp 0 127.0.0.1 5000 typ host",
		"candidate:1 1 udp 99999999999 127.0.0.1 5000 typ host",
		"candidate:1 x udp 2122260223 127.0.0.1 5000 typ host",
		"candidate:1 0 udp 2122260223 127.0.0.1 5000 typ host",
		"candidate:1 1 udp 2122260223 999.1.1.1 5000 typ host",
		"candidate:1 1 udp 2122260223 1.2.3.4.5 5000 typ host",
		"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host generation",
		"candidate:1  1 udp 2122260223 127.0.0.1 5000 typ host",
		"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host ",
		"candidate:f\xc3\xa9 1 udp 2122260223 127.0.0.1 5000 typ host",
		"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host\x01",
		"candidate:1 1 u@p 2122260223 127.0.0.1 5000 typ host",
		"candidate:\n",
		"candidate:1 1 udp 2122260223 127.0.0.1 5000\ttyp host",
		"x=candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host",
	};
	static const char *const ignored[] = {
		"candidate:2 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
		"candidate:2 1 TCP 1518280447 127.0.0.1 9 typ host tcptype passive",
		("candidate:3 1 udp 2122260223 3c8b2b8a-7b2f-4f0a-9f7a-1a2b3c4d5e6f.local 54321 "
		 "typ host generation 0 network-cost 999"),
		"candidate:4 2 udp 2122260222 127.0.0.1 5001 typ host",
		"candidate:5 1 udp 1686052607 turn.example.org 3478 typ relay raddr 0.0.0.0 rport "
		"0",
	};
	static const char *const valid[] = {
		("candidate:842163049 1 udp 1677729535 192.0.2.77 54321 typ srflx raddr 0.0.0.0 "
		 "rport 0 generation 0 ufrag Ab1+ network-cost 999"),
		"a=candidate:1 1 UDP 2015363327 127.0.0.1 5002 typ host\r\n",
		"candidate:2 1 udp 2122262783 ::1 5003 typ host generation 0",
		"candidate:3 1 udp 41885439 192.0.2.9 60000 typ relay raddr 192.0.2.77 rport 54321",
		"candidate:4 1 udp 1853817087 192.0.2.78 5004 typ srflx raddr host.local rport 9",
	};
	char big[4096];

	for (size_t i = 0; i < G_N_ELEMENTS(malformed); i++) {
		if (g_test_verbose())
			g_test_message("malformed: %s", malformed[i]);
		g_assert_cmpint(tb_ice_add_remote_candidate(f->server.ice, malformed[i]), ==,
				TB_EINVAL);
	}
	g_assert_cmpint(tb_ice_add_remote_candidate(f->server.ice, NULL), ==, TB_EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "candidate:", 10);
	g_assert_cmpint(tb_ice_add_remote_candidate(f->server.ice, big), ==, TB_EINVAL);
	for (size_t i = 0; i < G_N_ELEMENTS(ignored); i++)
		g_assert_cmpint(tb_ice_add_remote_candidate(f->server.ice, ignored[i]), ==, 0);
	for (size_t i = 0; i < G_N_ELEMENTS(valid); i++)
		g_assert_cmpint(tb_ice_add_remote_candidate(f->server.ice, valid[i]), ==, 0);

	/* Random bytes after the prefix never crash. */
	for (int round = 0; round < 500; round++) {
		char junk[80] = "candidate:";
		size_t n = 10 + (size_t)g_test_rand_int_range(0, 60);
		int rc;

		for (size_t i = 10; i < n; i++)
			junk[i] = (char)g_test_rand_int_range(1, 256);
		junk[n] = '\0';
		rc = tb_ice_add_remote_candidate(f->server.ice, junk);
		g_assert_true(rc == TB_EINVAL || rc == 0);
	}

	/* Credentials: ice-chars only, RFC 8839 lengths. */
	g_assert_cmpint(
		tb_ice_set_remote_credentials(f->server.ice, "abc", "0123456789012345678901"), ==,
		TB_EINVAL);
	g_assert_cmpint(tb_ice_set_remote_credentials(f->server.ice, "abcd", "0123456789"), ==,
			TB_EINVAL);
	g_assert_cmpint(
		tb_ice_set_remote_credentials(f->server.ice, "ab:d", "0123456789012345678901"), ==,
		TB_EINVAL);
	g_assert_cmpint(tb_ice_set_remote_credentials(f->server.ice, NULL, NULL), ==, TB_EINVAL);
	g_assert_cmpint(
		tb_ice_set_remote_credentials(f->server.ice, "Ab1+", "0123456789/+abcdefghijkl"),
		==, 0);
	g_assert_cmpint(
		tb_ice_set_remote_credentials(f->server.ice, "Ab1+", "0123456789/+abcdefghijkl"),
		==, 0);
	g_assert_cmpint(
		tb_ice_set_remote_credentials(f->server.ice, "Zz99", "0123456789/+abcdefghijkl"),
		==, TB_ECONFLICT);
	/* A candidate of another generation (ufrag) is ignored. */
	g_assert_cmpint(tb_ice_add_remote_candidate(
				f->server.ice,
				"candidate:9 1 udp 2122260223 127.0.0.1 5009 typ host ufrag Zz99"),
			==, 0);
	/* Gathering applies what was queued; all still fine. */
	g_assert_cmpint(tb_ice_gather(f->server.ice), ==, 0);
	g_assert_true(run_until(f, server_gathered, DEADLINE_MS));
	g_assert_cmpint(tb_ice_add_remote_candidate(f->server.ice, malformed[8]), ==, TB_EINVAL);
}

static void test_candidate_limit(fixture *f, gconstpointer data)
{
	guint i;

	for (i = 0; i < TB_ICE_MAX_REMOTE_CANDIDATES; i++) {
		char *line = g_strdup_printf("candidate:%u 1 udp 2122260223 192.0.2.1 %u typ host",
					     i, 10000 + i);

		g_assert_cmpint(tb_ice_add_remote_candidate(f->server.ice, line), ==, 0);
		g_free(line);
	}
	g_assert_cmpint(
		tb_ice_add_remote_candidate(f->server.ice,
					    "candidate:x 1 udp 2122260223 192.0.2.1 9999 typ host"),
		==, TB_EFULL);
	/* A restart starts a new generation. */
	g_assert_cmpint(tb_ice_restart(f->server.ice), ==, 0);
	g_assert_cmpint(
		tb_ice_add_remote_candidate(f->server.ice,
					    "candidate:x 1 udp 2122260223 192.0.2.1 9999 typ host"),
		==, 0);
}

/* The browser hides its host address behind mDNS (ignored); its checks
 * still reach the server, which learns it as peer-reflexive. */
static void test_mdns_ignored(fixture *f, gconstpointer data)
{
	char local[128], remote[128];

	f->browser.replace_with = "candidate:1 1 udp 2122260223 "
				  "0c0b3c8a-3f3e-4b6a-9a3b-1c2d3e4f5a6b.local 50000 typ host "
				  "generation 0 network-id 1";
	connect_peers(f);
	g_assert_cmpint(
		tb_ice_selected_pair(f->server.ice, local, sizeof(local), remote, sizeof(remote)),
		==, 0);
	g_assert_true(g_str_has_prefix(remote, "127.0.0.1:"));
	g_assert_true(g_str_has_suffix(remote, " prflx"));
	send_and_check(f, &f->server, 500, 9);
	send_and_check(f, &f->browser, 500, 10);
}

/* 1:1 NAT: the server's host candidates carry the public IP and the socket's
 * port; the browser cannot reach that IP on loopback, but the server's own
 * checks make it peer-reflexive at the browser, so ICE still connects. */
static void test_public_address(fixture *f, gconstpointer data)
{
	tb_ice_config config = {
		.local_addresses = loopback, .public_address = "203.0.113.7", .name = "server-nat"};
	char local[128];

	peer_start(f, &f->server, &config);
	peer_start(f, &f->browser,
		   &(tb_ice_config){.local_addresses = loopback, .controlling = true});
	connect_peers(f);

	g_assert_cmpuint(f->server.emitted->len, >=, 1);
	for (guint i = 0; i < f->server.emitted->len; i++) {
		const char *line = g_ptr_array_index(f->server.emitted, i);
		char *addr;
		guint port;

		candidate_address(line, &addr, &port);
		g_assert_cmpstr(addr, ==, "203.0.113.7");
		g_assert_cmpuint(port, >, 0);
		g_assert_null(strstr(line, "127.0.0.1"));
		g_assert_null(strstr(line, "raddr"));
		g_free(addr);
	}
	/* Stats show the socket's own address. */
	g_assert_cmpint(tb_ice_selected_pair(f->server.ice, local, sizeof(local), NULL, 0), ==, 0);
	g_assert_true(g_str_has_prefix(local, "127.0.0.1:"));
	send_and_check(f, &f->browser, 300, 11);
}

static void test_port_range(fixture *f, gconstpointer data)
{
	tb_ice_config config = {.local_addresses = loopback, .port_min = 41000, .port_max = 41999};
	char *addr;
	guint port;

	peer_start(f, &f->server, &config);
	g_assert_cmpint(tb_ice_gather(f->server.ice), ==, 0);
	g_assert_true(run_until(f, server_gathered, DEADLINE_MS));
	g_assert_cmpuint(f->server.emitted->len, ==, 1);
	candidate_address(g_ptr_array_index(f->server.emitted, 0), &addr, &port);
	g_assert_cmpuint(port, >=, 41000);
	g_assert_cmpuint(port, <=, 41999);
	g_free(addr);
}

/* Without addresses libnice enumerates interfaces, skipping loopback. */
static void test_enumeration(fixture *f, gconstpointer data)
{
	tb_ice_config config = {.name = "enumerated"};
	int rc;

	peer_start(f, &f->server, &config);
	rc = tb_ice_gather(f->server.ice);
	if (rc == TB_EIO) {
		g_test_skip("no non-loopback interface here");
		return;
	}
	g_assert_cmpint(rc, ==, 0);
	g_assert_true(run_until(f, server_gathered, DEADLINE_MS));
	for (guint i = 0; i < f->server.emitted->len; i++)
		g_assert_null(strstr(g_ptr_array_index(f->server.emitted, i), " 127.0.0.1 "));
}

static void test_config_errors(fixture *f, gconstpointer data)
{
	static const char *const bad_local[] = {"127.0.0.1", "localhost", NULL};
	const tb_ice_config configs[] = {
		{.local_addresses = bad_local},
		{.public_address = "203.0.113"},
		{.port_min = 5000, .port_max = 4000},
		{.port_min = 5000},
		{.stun_host = "stun.example.org"},
		{.turn_host = "192.0.2.1"},
		{.turn_host = "turn.example.org", .turn_username = "u", .turn_password = "p"},
	};

	for (size_t i = 0; i < G_N_ELEMENTS(configs); i++) {
		GError *error = NULL;
		tb_ice *ice = tb_ice_new(f->ctx, &configs[i], &callbacks, &f->server, &error);

		g_assert_null(ice);
		g_assert_error(error, TB_ICE_ERROR, TB_EINVAL);
		g_error_free(error);
	}
	/* STUN and TURN given as IPs are accepted (nothing is contacted until
	 * gathering). */
	{
		tb_ice_config ok = {.local_addresses = loopback,
				    .stun_host = "127.0.0.1",
				    .stun_port = 3478,
				    .turn_host = "::1",
				    .turn_username = "user",
				    .turn_password = "secret"};

		peer_start(f, &f->server, &ok);
	}
}

/* Batches cross the TB_ICE_BATCH_MAX chunking; each batch stays well under
 * the loopback socket's receive buffer (UDP drops past it). */
static void test_send_batch(fixture *f, gconstpointer data)
{
	enum { N = 100, FIRST = TB_ICE_BATCH_MAX + 6 };
	static guint8 payload[N][400];
	tb_ice_datagram dgrams[N] = {{0}};
	guint64 bytes = 0;

	g_assert_cmpint(tb_ice_send_batch(f->server.ice, dgrams, 1), ==, TB_EIO); /* not yet */
	connect_peers(f);
	g_assert_cmpint(tb_ice_send_batch(f->server.ice, dgrams, 0), ==, 0);
	for (guint i = 0; i < N; i++) {
		memset(payload[i], (int)i, sizeof(payload[i]));
		dgrams[i].buf = payload[i];
		dgrams[i].len = 100 + i * 3;
		bytes += dgrams[i].len;
	}
	g_assert_cmpint(tb_ice_send_batch(f->server.ice, dgrams, FIRST), ==, FIRST);
	received_target = FIRST;
	g_assert_true(run_until(f, browser_received_target, DEADLINE_MS));
	g_assert_cmpint(tb_ice_send_batch(f->server.ice, dgrams + FIRST, N - FIRST), ==, N - FIRST);
	received_target = N;
	g_assert_true(run_until(f, browser_received_target, DEADLINE_MS));
	g_assert_cmpuint(f->browser.n_received, ==, N);
	g_assert_cmpuint(f->browser.bytes_received, ==, bytes);
	g_assert_cmpmem(f->browser.last, f->browser.last_len, payload[N - 1], dgrams[N - 1].len);
}

/* No pair before the connect timeout → FAILED; a restart recovers, and a
 * second gather hands the candidates out again. */
static void test_timeout_then_restart(fixture *f, gconstpointer data)
{
	tb_ice_config server = {.local_addresses = loopback, .connect_timeout_ms = 200};
	char *ufrag1, *pwd1, *ufrag2, *pwd2;
	guint emitted;

	peer_start(f, &f->server, &server);
	peer_start(f, &f->browser,
		   &(tb_ice_config){.local_addresses = loopback, .controlling = true});
	g_assert_cmpint(tb_ice_gather(f->server.ice), ==, 0);
	g_assert_cmpint(tb_ice_gather(f->browser.ice), ==, 0);
	exchange_credentials(f); /* but no candidate goes anywhere */
	g_assert_true(run_until(f, server_failed, DEADLINE_MS));
	g_assert_cmpint(tb_ice_get_state(f->server.ice), ==, TB_ICE_FAILED);

	g_assert_cmpint(tb_ice_get_local_credentials(f->server.ice, &ufrag1, &pwd1), ==, 0);
	g_assert_cmpint(tb_ice_restart(f->server.ice), ==, 0);
	g_assert_cmpint(tb_ice_restart(f->browser.ice), ==, 0);
	g_assert_cmpint(tb_ice_get_state(f->server.ice), ==, TB_ICE_NEW);
	g_assert_cmpint(tb_ice_get_local_credentials(f->server.ice, &ufrag2, &pwd2), ==, 0);
	g_assert_cmpstr(ufrag1, !=, ufrag2);
	g_assert_cmpstr(pwd1, !=, pwd2);
	g_free(ufrag1);
	g_free(pwd1);
	g_free(ufrag2);
	g_free(pwd2);

	emitted = f->server.emitted->len;
	g_assert_cmpint(tb_ice_gather(f->server.ice), ==, 0);
	g_assert_cmpint(tb_ice_gather(f->browser.ice), ==, 0);
	g_assert_cmpuint(f->server.emitted->len, ==, 2 * emitted);
	g_assert_cmpuint(f->server.n_gathering_done, ==, 2);

	f->server.deliver = f->browser.deliver = true;
	exchange_credentials(f);
	g_assert_true(run_until(f, both_connected, DEADLINE_MS));
	send_and_check(f, &f->server, 64, 1);
}

/* Restart while connected: media keeps flowing and no state is reported;
 * the old remote credentials are gone. The connect timeout (short here) runs
 * again from the new credentials: it stays quiet when the restart's checks
 * succeed, and reports FAILED when the peer never answers a second restart. */
static void test_restart_connected(fixture *f, gconstpointer data)
{
	tb_ice_config server = {.local_addresses = loopback, .connect_timeout_ms = 500};
	guint server_states;

	peer_start(f, &f->server, &server);
	peer_start(f, &f->browser,
		   &(tb_ice_config){.local_addresses = loopback, .controlling = true});
	connect_peers(f);
	server_states = f->server.states->len;
	g_assert_cmpint(
		tb_ice_set_remote_credentials(f->server.ice, "Zz99", "0123456789/+abcdefghijkl"),
		==, TB_ECONFLICT);
	g_assert_cmpint(tb_ice_restart(f->server.ice), ==, 0);
	g_assert_cmpint(tb_ice_restart(f->browser.ice), ==, 0);
	g_assert_cmpint(tb_ice_get_state(f->server.ice), ==, TB_ICE_CONNECTED);
	send_and_check(f, &f->server, 100, 5); /* the old pair still carries media */

	g_assert_cmpint(tb_ice_gather(f->server.ice), ==, 0);
	g_assert_cmpint(tb_ice_gather(f->browser.ice), ==, 0);
	exchange_credentials(f);
	send_and_check(f, &f->browser, 100, 6);
	send_and_check(f, &f->server, 100, 7);
	/* Twice the connect timeout: no FAILED, so the new checks concluded. */
	g_assert_false(run_until(f, server_failed, 1000));
	g_assert_cmpuint(f->server.states->len, ==, server_states);
	g_assert_cmpint(tb_ice_get_state(f->server.ice), ==, TB_ICE_CONNECTED);

	/* The browser restarts again but its new credentials never come. */
	g_assert_cmpint(tb_ice_restart(f->server.ice), ==, 0);
	g_assert_cmpint(
		tb_ice_set_remote_credentials(f->server.ice, "Zz99", "0123456789/+abcdefghijkl"),
		==, 0);
	g_assert_true(run_until(f, server_failed, DEADLINE_MS));
	g_assert_cmpint(tb_ice_send(f->server.ice, (const uint8_t *)"x", 1), ==, TB_EIO);
}

/* ---- freeing with work pending ---- */

static void test_free_unused(fixture *f, gconstpointer data)
{
	tb_ice_free(NULL);
	tb_ice_close(NULL);
	/* Never gathered. */
	tb_ice_free(f->browser.ice);
	f->browser.ice = NULL;
	/* Gathered, not iterated: sources and the close task still pending. */
	g_assert_cmpint(tb_ice_gather(f->server.ice), ==, 0);
	g_assert_cmpint(tb_ice_add_remote_candidate(
				f->server.ice, "candidate:1 1 udp 2122260223 127.0.0.1 9 typ host"),
			==, 0);
	tb_ice_close(f->server.ice);
	tb_ice_close(f->server.ice); /* idempotent */
	g_assert_cmpint(tb_ice_get_state(f->server.ice), ==, TB_ICE_CLOSED);
	g_assert_cmpint(tb_ice_gather(f->server.ice), ==, TB_EIO);
	g_assert_cmpint(tb_ice_add_remote_candidate(f->server.ice, "candidate:"), ==, TB_EIO);
	g_assert_cmpint(tb_ice_end_of_candidates(f->server.ice), ==, TB_EIO);
	g_assert_cmpint(tb_ice_restart(f->server.ice), ==, TB_EIO);
	g_assert_cmpint(tb_ice_send(f->server.ice, (const uint8_t *)"x", 1), ==, TB_EIO);
	g_assert_cmpint(tb_ice_selected_pair(f->server.ice, NULL, 0, NULL, 0), ==, TB_EIO);
	tb_ice_free(f->server.ice);
	f->server.ice = NULL;
	drain(f);
}

/* Datagrams and checks in flight when the server is freed: none reaches a
 * callback, nothing touches freed memory (ASan/valgrind). */
static void test_free_with_traffic(fixture *f, gconstpointer data)
{
	const guint8 buf[300] = {1, 2, 3};
	guint states;

	connect_peers(f);
	states = f->server.states->len;
	for (int i = 0; i < 5; i++)
		g_assert_cmpint(tb_ice_send(f->browser.ice, buf, sizeof(buf)), ==, 0);
	tb_ice_free(f->server.ice);
	f->server.ice = NULL;
	for (int i = 0; i < 5; i++)
		tb_ice_send(f->browser.ice, buf, sizeof(buf));
	/* Let the browser's checks and packets hit the closed socket. */
	for (int i = 0; i < 50; i++)
		g_main_context_iteration(f->ctx, FALSE);
	drain(f);
	g_assert_cmpuint(f->server.n_received, ==, 0);
	g_assert_cmpuint(f->server.states->len, ==, states);
}

static void test_free_in_receive(fixture *f, gconstpointer data)
{
	const guint8 buf[100] = {7};

	connect_peers(f);
	f->server.free_in_receive = true;
	for (int i = 0; i < 3; i++)
		g_assert_cmpint(tb_ice_send(f->browser.ice, buf, sizeof(buf)), ==, 0);
	g_assert_true(run_until(f, server_gone, DEADLINE_MS));
	drain(f);
	/* The other two were in the socket: dropped, not delivered. */
	g_assert_cmpuint(f->server.n_received, ==, 1);
}

static void test_free_in_state(fixture *f, gconstpointer data)
{
	f->server.free_in_connected = true;
	f->server.deliver = f->browser.deliver = true;
	g_assert_cmpint(tb_ice_gather(f->server.ice), ==, 0);
	g_assert_cmpint(tb_ice_gather(f->browser.ice), ==, 0);
	exchange_credentials(f);
	g_assert_true(run_until(f, server_gone, DEADLINE_MS));
	drain(f);
	g_assert_cmpint(last_state(&f->server), ==, TB_ICE_CONNECTED);
}

/* Freed from inside tb_ice_gather() (host candidates arrive before it
 * returns) and from inside gathering_done. */
static void test_free_in_gather(fixture *f, gconstpointer data)
{
	tb_ice *ice = f->server.ice;

	f->server.free_in_candidate = true;
	g_assert_cmpint(tb_ice_gather(ice), ==, 0);
	g_assert_null(f->server.ice);
	g_assert_cmpuint(f->server.emitted->len, ==, 1);

	f->browser.free_in_gathering_done = true;
	g_assert_cmpint(tb_ice_gather(f->browser.ice), ==, 0);
	g_assert_true(run_until(f, browser_gathered, DEADLINE_MS));
	g_assert_null(f->browser.ice);
	drain(f);
}

/* ---- on a real worker: candidates forwarded synchronously in callbacks ---- */

typedef struct {
	GMutex lock; /* guards the counters below (read by the test thread) */
	GCond cond;
	int connected;
	int received;
	int failed;
} worker_shared;

typedef struct wpeer {
	tb_ice *ice;
	struct wpeer *other;
	worker_shared *shared;
} wpeer;

static void w_candidate(void *user_data, const char *line)
{
	wpeer *p = user_data;

	g_assert_cmpint(tb_ice_add_remote_candidate(p->other->ice, line), ==, 0);
}

static void w_gathering_done(void *user_data)
{
	wpeer *p = user_data;

	g_assert_cmpint(tb_ice_end_of_candidates(p->other->ice), ==, 0);
}

static void w_bump(worker_shared *s, int *counter)
{
	g_mutex_lock(&s->lock);
	(*counter)++;
	g_cond_broadcast(&s->cond);
	g_mutex_unlock(&s->lock);
}

static void w_state(void *user_data, tb_ice_state state)
{
	wpeer *p = user_data;

	if (state == TB_ICE_CONNECTED)
		w_bump(p->shared, &p->shared->connected);
	else if (state == TB_ICE_FAILED)
		w_bump(p->shared, &p->shared->failed);
}

static void w_receive(void *user_data, uint8_t *buf, size_t len)
{
	wpeer *p = user_data;

	if (len == 4 && memcmp(buf, "ping", 4) == 0)
		w_bump(p->shared, &p->shared->received);
}

typedef struct {
	tb_worker *worker;
	wpeer server, browser;
	worker_shared shared;
} worker_test;

static gboolean w_start(gpointer data)
{
	worker_test *t = data;
	static const tb_ice_callbacks cbs = {w_candidate, w_gathering_done, w_state, w_receive};
	tb_ice_config sc = {.local_addresses = loopback, .name = "w-server"};
	tb_ice_config bc = {.local_addresses = loopback, .name = "w-browser", .controlling = true};
	GMainContext *ctx = tb_worker_context(t->worker);
	char *u, *p;

	t->server.ice = tb_ice_new(ctx, &sc, &cbs, &t->server, NULL);
	t->browser.ice = tb_ice_new(ctx, &bc, &cbs, &t->browser, NULL);
	g_assert_nonnull(t->server.ice);
	g_assert_nonnull(t->browser.ice);
	tb_ice_get_local_credentials(t->server.ice, &u, &p);
	g_assert_cmpint(tb_ice_set_remote_credentials(t->browser.ice, u, p), ==, 0);
	g_free(u);
	g_free(p);
	tb_ice_get_local_credentials(t->browser.ice, &u, &p);
	g_assert_cmpint(tb_ice_set_remote_credentials(t->server.ice, u, p), ==, 0);
	g_free(u);
	g_free(p);
	g_assert_cmpint(tb_ice_gather(t->server.ice), ==, 0);
	g_assert_cmpint(tb_ice_gather(t->browser.ice), ==, 0);
	return G_SOURCE_REMOVE;
}

static gboolean w_ping(gpointer data)
{
	worker_test *t = data;

	g_assert_cmpint(tb_ice_send(t->server.ice, (const uint8_t *)"ping", 4), ==, 0);
	return G_SOURCE_REMOVE;
}

static gboolean w_stop(gpointer data)
{
	worker_test *t = data;

	tb_ice_free(t->server.ice);
	tb_ice_free(t->browser.ice);
	return G_SOURCE_REMOVE;
}

static bool w_wait(worker_test *t, int *counter, int target)
{
	gint64 deadline = g_get_monotonic_time() + DEADLINE_MS * G_TIME_SPAN_MILLISECOND;
	bool ok = true;

	g_mutex_lock(&t->shared.lock);
	while (*counter < target && ok)
		ok = g_cond_wait_until(&t->shared.cond, &t->shared.lock, deadline);
	ok = *counter >= target;
	g_mutex_unlock(&t->shared.lock);
	return ok;
}

static void test_worker(void)
{
	worker_test t = {0};

	g_mutex_init(&t.shared.lock);
	g_cond_init(&t.shared.cond);
	t.server = (wpeer){.other = &t.browser, .shared = &t.shared};
	t.browser = (wpeer){.other = &t.server, .shared = &t.shared};
	t.worker = tb_worker_new("test-ice");

	tb_worker_call_sync(t.worker, w_start, &t);
	g_assert_true(w_wait(&t, &t.shared.connected, 2));
	tb_worker_call_sync(t.worker, w_ping, &t);
	g_assert_true(w_wait(&t, &t.shared.received, 1));
	tb_worker_call_sync(t.worker, w_stop, &t);
	tb_worker_free(t.worker); /* the agents' close tasks ran or go with the context */
	g_assert_cmpint(t.shared.failed, ==, 0);
	g_mutex_clear(&t.shared.lock);
	g_cond_clear(&t.shared.cond);
}

/* ---- consent ---- */

static void test_consent_rule(void)
{
	const int64_t s = G_USEC_PER_SEC, t = (int64_t)TB_ICE_CONSENT_TIMEOUT_MS * 1000;

	g_assert_cmpint(TB_ICE_CONSENT_TIMEOUT_MS, ==, 30000); /* RFC 7675 */
	/* Sent to a peer silent since 100 s: lost from 130 s on, not before. */
	g_assert_false(tb_ice_peer_silent(100 * s, 101 * s, 100 * s + t - 1));
	g_assert_true(tb_ice_peer_silent(100 * s, 101 * s, 100 * s + t));
	g_assert_true(tb_ice_peer_silent(100 * s, 129 * s, 200 * s));
	/* Nothing sent since the peer was last heard: libnice's checks decide. */
	g_assert_false(tb_ice_peer_silent(100 * s, 100 * s, 1000 * s));
	g_assert_false(tb_ice_peer_silent(100 * s, 50 * s, 1000 * s));
}

static bool never(fixture *f)
{
	return false;
}

/* Runs the loop past at least one consent tick (once a second). */
static void run_past_tick(fixture *f)
{
	run_until(f, never, 2200);
}

/* The browser vanishes while the server sends to it: FAILED once 30 s (of
 * the test clock) passed without a datagram from it, not before. */
static void test_consent_silent_peer(fixture *f, gconstpointer data)
{
	connect_peers(f);
	send_and_check(f, &f->server, 100, 1);
	tb_ice_free(f->browser.ice); /* a tab killed: not a word */
	f->browser.ice = NULL;
	g_assert_cmpint(tb_ice_send(f->server.ice, (const uint8_t *)"x", 1), ==, 0);
	run_past_tick(f);
	g_assert_false(saw_state(&f->server, TB_ICE_FAILED));

	clock_offset_us += 22 * G_USEC_PER_SEC; /* under 30 s since connected */
	g_assert_cmpint(tb_ice_send(f->server.ice, (const uint8_t *)"x", 1), ==, 0);
	run_past_tick(f);
	g_assert_false(saw_state(&f->server, TB_ICE_FAILED));

	clock_offset_us += 8 * G_USEC_PER_SEC;
	g_assert_true(run_until(f, server_failed, 3000));
	g_assert_cmpint(tb_ice_send(f->server.ice, (const uint8_t *)"x", 1), ==, TB_EIO);
}

/* Peers that hear each other keep consent however long it runs. */
static void test_consent_heard(fixture *f, gconstpointer data)
{
	connect_peers(f);
	for (guint i = 0; i < 4; i++) {
		clock_offset_us += 12 * G_USEC_PER_SEC;
		send_and_check(f, &f->server, 100, (guint8)i);
		send_and_check(f, &f->browser, 100, (guint8)i);
		run_past_tick(f);
	}
	g_assert_false(saw_state(&f->server, TB_ICE_FAILED));
	g_assert_false(saw_state(&f->browser, TB_ICE_FAILED));
	send_and_check(f, &f->server, 100, 9);
}

/* A connection with nothing to send is not judged on silence (libnice's
 * checks keep it: 50 s without an answer). */
static void test_consent_idle(fixture *f, gconstpointer data)
{
	connect_peers(f);
	run_past_tick(f);
	clock_offset_us += 120 * G_USEC_PER_SEC;
	run_past_tick(f);
	g_assert_false(saw_state(&f->server, TB_ICE_FAILED));
	g_assert_false(saw_state(&f->browser, TB_ICE_FAILED));
	send_and_check(f, &f->server, 100, 1);
	send_and_check(f, &f->browser, 100, 2);
}

/* Slow, real time: the browser vanishes while the server sends to it once a
 * second: FAILED 30-32 s after its last datagram. */
static void test_consent_lost(fixture *f, gconstpointer data)
{
	gint64 start;
	double seconds;

	if (g_strcmp0(g_getenv("TB_TEST_SLOW"), "1") != 0) {
		g_test_skip("waits for the 30 s consent deadline; set TB_TEST_SLOW=1");
		return;
	}
	connect_peers(f);
	send_and_check(f, &f->browser, 100, 1);
	tb_ice_free(f->browser.ice);
	f->browser.ice = NULL;
	start = g_get_monotonic_time();
	for (int i = 0; i < 60 && !server_failed(f); i++) {
		g_assert_cmpint(tb_ice_send(f->server.ice, (const uint8_t *)"x", 1), ==, 0);
		run_until(f, server_failed, 1000);
	}
	g_assert_true(server_failed(f));
	seconds = (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
	g_test_message("consent lost after %.1f s", seconds);
	g_assert_cmpfloat(seconds, >=, 29.0);
	g_assert_cmpfloat(seconds, <=, 33.0);
	g_assert_cmpint(tb_ice_send(f->server.ice, (const uint8_t *)"x", 1), ==, TB_EIO);
}

/* Slow, real time: the browser vanishes and the server sends nothing:
 * libnice's unanswered checks end it after 50 s. */
static void test_consent_lost_idle(fixture *f, gconstpointer data)
{
	gint64 start;
	double seconds;

	if (g_strcmp0(g_getenv("TB_TEST_SLOW"), "1") != 0) {
		g_test_skip("waits for libnice's 50 s keepalive timeout; set TB_TEST_SLOW=1");
		return;
	}
	connect_peers(f);
	tb_ice_free(f->browser.ice);
	f->browser.ice = NULL;
	start = g_get_monotonic_time();
	g_assert_true(run_until(f, server_failed, 70000));
	seconds = (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC;
	g_test_message("consent lost after %.1f s", seconds);
	g_assert_cmpfloat(seconds, >=, 44.0);
	g_assert_cmpint(tb_ice_send(f->server.ice, (const uint8_t *)"x", 1), ==, TB_EIO);
}

/* Slow, real time: two live agents keep consent well past 30 s and past
 * libnice's keepalive timeout (50 s), sending nothing: no false FAILED. */
static void test_consent_kept(fixture *f, gconstpointer data)
{
	if (g_strcmp0(g_getenv("TB_TEST_SLOW"), "1") != 0) {
		g_test_skip("runs for 65 s; set TB_TEST_SLOW=1");
		return;
	}
	connect_peers(f);
	for (int i = 0; i < 13; i++) {
		run_until(f, never, 5000);
		g_assert_false(saw_state(&f->server, TB_ICE_FAILED));
		g_assert_false(saw_state(&f->browser, TB_ICE_FAILED));
	}
	send_and_check(f, &f->server, 100, 1);
	send_and_check(f, &f->browser, 100, 2);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (g_getenv("TRIBU_DEBUG"))
		tb_log_set_spec(g_getenv("TRIBU_DEBUG"));
	else
		tb_log_set_spec("warn");

#define ADD(path, fn) g_test_add("/media/ice/" path, fixture, NULL, setup, fn, teardown)
#define ADD_BARE(path, fn)                                                                         \
	g_test_add("/media/ice/" path, fixture, (gconstpointer)1, setup, fn, teardown)
	ADD("connect", test_connect);
	ADD("candidates-before-credentials", test_candidates_before_credentials);
	ADD("bad-candidates", test_bad_candidates);
	ADD("candidate-limit", test_candidate_limit);
	ADD("mdns-ignored", test_mdns_ignored);
	ADD_BARE("public-address", test_public_address);
	ADD_BARE("port-range", test_port_range);
	ADD_BARE("enumeration", test_enumeration);
	ADD_BARE("config-errors", test_config_errors);
	ADD("send-batch", test_send_batch);
	ADD_BARE("timeout-then-restart", test_timeout_then_restart);
	ADD_BARE("restart-connected", test_restart_connected);
	ADD("free/unused", test_free_unused);
	ADD("free/with-traffic", test_free_with_traffic);
	ADD("free/in-receive", test_free_in_receive);
	ADD("free/in-state", test_free_in_state);
	ADD("free/in-gather", test_free_in_gather);
	g_test_add_func("/media/ice/worker", test_worker);
	g_test_add_func("/media/ice/consent/rule", test_consent_rule);
	ADD("consent/silent-peer", test_consent_silent_peer);
	ADD("consent/heard", test_consent_heard);
	ADD("consent/idle", test_consent_idle);
	ADD("consent/lost", test_consent_lost);
	ADD("consent/lost-idle", test_consent_lost_idle);
	ADD("consent/kept", test_consent_kept);
	return g_test_run();
}
