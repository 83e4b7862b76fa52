/* impair.c — a user-space netem between two network namespaces, for the
 * network-fault tests (test-netfault.mjs).
 *
 * The kernel of the test machines has no netem qdisc, so this tool plays the
 * impaired link itself: it makes one TUN device in the namespace it runs in
 * (A) and one in the namespace named by --peer-netns (B), gives them the two
 * ends of a /30 and moves every IP packet between the two file descriptors
 * in user space, losing, delaying, reordering, duplicating or cutting them on
 * the way. Nothing else is routed: a packet can only go from A to B or back.
 *
 *   impair --peer-netns /proc/PID/ns/net [--dev tnf0] [--addr-a 10.9.0.1]
 *          [--addr-b 10.9.0.2] [--prefix 30] [--seed N] [--all]
 *
 * The devices (TUNSETIFF, no packet information header, MTU 1500) are
 * configured by the tool itself with the SIOCSIF* ioctls: address, netmask,
 * up. The kernel then routes the /30 through them. Both namespaces need no
 * `ip` command. "ready" is printed on stdout once both are up.
 *
 * Commands, one per line on stdin; each is answered by one line on stdout
 * ("ok", a JSON object, or "error: ..."):
 *   [a2b|b2a|both] SETTING...   SETTING is one of
 *       loss P          drop P % of the packets (seeded pseudo-random)
 *       delay D         hold every packet D ms ...
 *       jitter J        ... plus a uniform -J..+J ms (never below 0): a packet
 *                       may overtake the ones sent before it, as with netem
 *       dup P           send P % of the packets twice
 *       cut             drop everything
 *       clean           none of the above
 *     e.g. "loss 5 delay 60 jitter 50", "b2a cut", "clean". Without a
 *     direction the settings apply to both. a2b is from A to B.
 *   stats         {"type":"stats","a2b":{...},"b2a":{...}}: packets in, out,
 *                 dropped (loss, cut or no room), delayed, duplicated,
 *                 reordered (sent after a held packet that came later) and
 *                 queued (held now)
 *   replay N      writes again, towards A, copies of the last N UDP packets
 *                 that went from B to A (at most REPLAY_MAX), oldest first,
 *                 unimpaired; answers {"type":"replay","replayed":N,"rtp":R,
 *                 "rtcp":C,"other":O} (RTP/RTCP told apart by RFC 5761's
 *                 payload-type ranges, "other" being STUN, DTLS, ...)
 *   scope S       which packets the settings apply to: udp (every UDP
 *                 datagram, the default), media (UDP but STUN: RTP, RTCP,
 *                 DTLS), stun (only STUN: ICE checks, consent), all (every
 *                 IP packet); the others pass untouched
 *   seed N        restart the loss/jitter generator
 * End of input ends the tool (the devices go with it).
 *
 * Only UDP is impaired (signaling over TCP goes through untouched, so a test
 * keeps its WebSocket), unless --all or the scope command say otherwise.
 * TUN writes never block: a packet that the kernel refuses (EAGAIN) is
 * dropped and counted.
 *
 * Delayed packets wait in a fixed pool of slots ordered by a binary min-heap
 * on their due time (ties in arrival order); no allocation per packet.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define MTU        1500
#define POOL_SLOTS 8192 /* packets held at once (about 12 MiB) */
#define REPLAY_MAX 1024 /* B→A UDP packets remembered for replay */
#define BATCH      64   /* packets read from one device per wake-up */

enum { A2B, B2A, N_DIRS };
static const char *const dir_names[N_DIRS] = {"a2b", "b2a"};

typedef struct {
	double loss, dup; /* percent */
	int delay_ms, jitter_ms;
	gboolean cut;
	guint64 in, out, dropped, delayed, duplicated, reordered;
	guint64 last_order; /* arrival order of the last held packet sent */
} link_dir;

/* Which packets the settings apply to; the others pass untouched. */
typedef enum {
	SCOPE_UDP,   /* every UDP datagram (the default) */
	SCOPE_MEDIA, /* UDP but STUN (RTP, RTCP, DTLS) */
	SCOPE_STUN,  /* STUN only (ICE checks and consent) */
	SCOPE_ALL,   /* every IP packet */
	N_SCOPES
} impair_scope;
static const char *const scope_names[N_SCOPES] = {"udp", "media", "stun", "all"};

typedef struct {
	gint64 due_us;
	guint64 order; /* arrival order, to keep equal due times FIFO */
	int dir;
	guint16 len;
	guint8 data[MTU];
} slot;

typedef struct {
	guint16 len;
	guint8 data[MTU];
} replay_entry;

typedef struct {
	int fd[N_DIRS]; /* fd[A2B] writes into B (B's TUN), fd[B2A] into A */
	int tun_a, tun_b;
	impair_scope scope;
	GRand *rand;
	link_dir dirs[N_DIRS];
	slot *pool;
	int *free_slots, n_free;
	int *heap, n_heap; /* slot indexes */
	guint64 next_order;
	int queued[N_DIRS];
	replay_entry *replay;
	int replay_next, replay_count;
	char line[4096];
	size_t line_len;
} impair;

/* ---- devices ---- */

/* Opens a TUN named NAME in the calling thread's namespace; -1 on error. */
static int tun_open(const char *name)
{
	struct ifreq ifr = {0};
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		fprintf(stderr, "impair: /dev/net/tun: %s\n", g_strerror(errno));
		return -1;
	}
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "impair: TUNSETIFF %s: %s\n", name, g_strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static gboolean set_inet(int sock, unsigned long req, const char *name, const char *addr)
{
	struct ifreq ifr = {0};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
	sin->sin_family = AF_INET;
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1) {
		fprintf(stderr, "impair: not an IPv4 address: %s\n", addr);
		return FALSE;
	}
	if (ioctl(sock, req, &ifr) < 0) {
		fprintf(stderr, "impair: configuring %s (%s): %s\n", name, addr, g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

/* Gives device NAME of the calling thread's namespace ADDR/PREFIX and MTU,
 * and brings it up. */
static gboolean tun_configure(const char *name, const char *addr, int prefix)
{
	struct ifreq ifr = {0};
	struct in_addr mask = {htonl(prefix ? ~0u << (32 - prefix) : 0)};
	char mask_text[INET_ADDRSTRLEN];
	int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	gboolean ok;

	if (sock < 0)
		return FALSE;
	inet_ntop(AF_INET, &mask, mask_text, sizeof(mask_text));
	ok = set_inet(sock, SIOCSIFADDR, name, addr) &&
	     set_inet(sock, SIOCSIFNETMASK, name, mask_text);
	g_strlcpy(ifr.ifr_name, name, IFNAMSIZ);
	ifr.ifr_mtu = MTU;
	if (ok && ioctl(sock, SIOCSIFMTU, &ifr) < 0)
		ok = FALSE;
	if (ok && ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		ok = FALSE;
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ok && ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
		ok = FALSE;
	if (!ok)
		fprintf(stderr, "impair: bringing %s up: %s\n", name, g_strerror(errno));
	close(sock);
	return ok;
}

/* Makes and configures the TUN of this namespace (A) and of PEER_NETNS (B),
 * coming back to A afterwards. */
static gboolean devices_open(impair *im, const char *peer_netns, const char *dev,
			     const char *addr_a, const char *addr_b, int prefix)
{
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int peer = open(peer_netns, O_RDONLY | O_CLOEXEC);
	gboolean ok = FALSE;

	if (home < 0 || peer < 0) {
		fprintf(stderr, "impair: opening %s: %s\n",
			home < 0 ? "/proc/self/ns/net" : peer_netns, g_strerror(errno));
		goto out;
	}
	im->tun_a = tun_open(dev);
	if (im->tun_a < 0 || !tun_configure(dev, addr_a, prefix))
		goto out;
	if (setns(peer, CLONE_NEWNET) < 0) {
		fprintf(stderr, "impair: setns %s: %s\n", peer_netns, g_strerror(errno));
		goto out;
	}
	im->tun_b = tun_open(dev);
	ok = im->tun_b >= 0 && tun_configure(dev, addr_b, prefix);
	if (setns(home, CLONE_NEWNET) < 0) {
		fprintf(stderr, "impair: setns back: %s\n", g_strerror(errno));
		ok = FALSE;
	}
out:
	if (home >= 0)
		close(home);
	if (peer >= 0)
		close(peer);
	im->fd[A2B] = im->tun_b;
	im->fd[B2A] = im->tun_a;
	return ok;
}

/* ---- packets ---- */

/* The UDP payload of the IP packet P[0..LEN), or NULL when it is not UDP
 * (IPv6 extension headers are not followed: such packets count as not UDP). */
static const guint8 *udp_payload(const guint8 *p, size_t len, size_t *out_len)
{
	size_t off;

	if (len < 1)
		return NULL;
	if (p[0] >> 4 == 4) {
		if (len < 20 || p[9] != IPPROTO_UDP)
			return NULL;
		off = (size_t)(p[0] & 0x0f) * 4;
	} else if (p[0] >> 4 == 6) {
		if (len < 40 || p[6] != IPPROTO_UDP)
			return NULL;
		off = 40;
	} else {
		return NULL;
	}
	if (len < off + 8)
		return NULL;
	*out_len = len - off - 8;
	return p + off + 8;
}

/* True when the UDP payload U[0..LEN) is STUN (RFC 5389: two zero bits,
 * then the magic cookie at octet 4). */
static gboolean is_stun(const guint8 *u, size_t len)
{
	return len >= 20 && u[0] < 4 && u[4] == 0x21 && u[5] == 0x12 && u[6] == 0xa4 &&
	       u[7] == 0x42;
}

static gboolean in_scope(impair_scope scope, const guint8 *data, size_t len)
{
	size_t ulen;
	const guint8 *u = udp_payload(data, len, &ulen);

	switch (scope) {
	case SCOPE_ALL:
		return TRUE;
	case SCOPE_MEDIA:
		return u && !is_stun(u, ulen);
	case SCOPE_STUN:
		return u && is_stun(u, ulen);
	default:
		return u != NULL;
	}
}

/* Writes one packet to the device of direction DIR; drops it on EAGAIN. */
static void deliver(impair *im, int dir, const guint8 *data, size_t len)
{
	size_t ulen;

	if (write(im->fd[dir], data, len) != (ssize_t)len) {
		im->dirs[dir].dropped++;
		return;
	}
	im->dirs[dir].out++;
	if (dir == B2A && udp_payload(data, len, &ulen)) {
		replay_entry *e = &im->replay[im->replay_next];
		memcpy(e->data, data, len);
		e->len = (guint16)len;
		im->replay_next = (im->replay_next + 1) % REPLAY_MAX;
		if (im->replay_count < REPLAY_MAX)
			im->replay_count++;
	}
}

static gboolean heap_less(const impair *im, int a, int b)
{
	const slot *x = &im->pool[im->heap[a]], *y = &im->pool[im->heap[b]];

	return x->due_us < y->due_us || (x->due_us == y->due_us && x->order < y->order);
}

static void heap_swap(impair *im, int a, int b)
{
	int t = im->heap[a];

	im->heap[a] = im->heap[b];
	im->heap[b] = t;
}

static void heap_push(impair *im, int s)
{
	int i = im->n_heap++;

	im->heap[i] = s;
	while (i > 0 && heap_less(im, i, (i - 1) / 2)) {
		heap_swap(im, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static int heap_pop(impair *im)
{
	int top = im->heap[0], i = 0;

	im->heap[0] = im->heap[--im->n_heap];
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		if (l < im->n_heap && heap_less(im, l, m))
			m = l;
		if (r < im->n_heap && heap_less(im, r, m))
			m = r;
		if (m == i)
			break;
		heap_swap(im, i, m);
		i = m;
	}
	return top;
}

/* Holds a copy of the packet until DUE_US (monotonic). */
static void hold(impair *im, int dir, const guint8 *data, size_t len, gint64 due_us)
{
	slot *s;
	int i;

	if (im->n_free == 0) {
		im->dirs[dir].dropped++;
		return;
	}
	i = im->free_slots[--im->n_free];
	s = &im->pool[i];
	s->due_us = due_us;
	s->order = im->next_order++;
	s->dir = dir;
	s->len = (guint16)len;
	memcpy(s->data, data, len);
	heap_push(im, i);
	im->queued[dir]++;
	im->dirs[dir].delayed++;
}

/* One copy of a packet through direction DIR's delay settings. */
static void send_one(impair *im, int dir, const guint8 *data, size_t len, gint64 now_us)
{
	link_dir *d = &im->dirs[dir];
	double ms = d->delay_ms;

	if (d->jitter_ms > 0)
		ms += g_rand_double_range(im->rand, -d->jitter_ms, d->jitter_ms);
	if (ms <= 0)
		deliver(im, dir, data, len);
	else
		hold(im, dir, data, len, now_us + (gint64)(ms * 1000));
}

/* A packet read from the source side of DIR. */
static void on_packet(impair *im, int dir, const guint8 *data, size_t len, gint64 now_us)
{
	link_dir *d = &im->dirs[dir];

	d->in++;
	if (!in_scope(im->scope, data, len)) {
		deliver(im, dir, data, len);
		return;
	}
	if (d->cut || (d->loss > 0 && g_rand_double_range(im->rand, 0, 100) < d->loss)) {
		d->dropped++;
		return;
	}
	send_one(im, dir, data, len, now_us);
	if (d->dup > 0 && g_rand_double_range(im->rand, 0, 100) < d->dup) {
		d->duplicated++;
		send_one(im, dir, data, len, now_us);
	}
}

/* Sends every held packet that is due. */
static void release_due(impair *im, gint64 now_us)
{
	while (im->n_heap > 0 && im->pool[im->heap[0]].due_us <= now_us) {
		int i = heap_pop(im);
		slot *s = &im->pool[i];
		link_dir *d = &im->dirs[s->dir];
		if (s->order < d->last_order)
			d->reordered++; /* overtaken by a packet that came after it */
		else
			d->last_order = s->order;
		deliver(im, s->dir, s->data, s->len);
		im->queued[s->dir]--;
		im->free_slots[im->n_free++] = i;
	}
}

/* Reads up to BATCH packets from the device feeding DIR. */
static void read_device(impair *im, int dir)
{
	int src = dir == A2B ? im->tun_a : im->tun_b;
	guint8 buf[MTU + 64];

	for (int n = 0; n < BATCH; n++) {
		ssize_t len = read(src, buf, sizeof(buf));
		if (len < 0) {
			if (errno != EAGAIN && errno != EINTR)
				fprintf(stderr, "impair: read: %s\n", g_strerror(errno));
			return;
		}
		if (len == 0 || len > MTU) {
			im->dirs[dir].dropped++;
			continue;
		}
		on_packet(im, dir, buf, (size_t)len, g_get_monotonic_time());
	}
}

/* ---- commands ---- */

static void print_stats(impair *im)
{
	printf("{\"type\":\"stats\"");
	for (int dir = 0; dir < N_DIRS; dir++) {
		const link_dir *d = &im->dirs[dir];
		printf(",\"%s\":{\"in\":%" G_GUINT64_FORMAT ",\"out\":%" G_GUINT64_FORMAT
		       ",\"dropped\":%" G_GUINT64_FORMAT ",\"delayed\":%" G_GUINT64_FORMAT
		       ",\"duplicated\":%" G_GUINT64_FORMAT ",\"reordered\":%" G_GUINT64_FORMAT
		       ",\"queued\":%d}",
		       dir_names[dir], d->in, d->out, d->dropped, d->delayed, d->duplicated,
		       d->reordered, im->queued[dir]);
	}
	printf("}\n");
}

static void replay(impair *im, int n)
{
	int rtp = 0, rtcp = 0, other = 0;

	n = CLAMP(n, 0, im->replay_count);
	for (int k = n; k > 0; k--) {
		replay_entry *e = &im->replay[(im->replay_next - k + REPLAY_MAX) % REPLAY_MAX];
		size_t ulen;
		const guint8 *u = udp_payload(e->data, e->len, &ulen);
		if (ulen >= 2 && u[0] >= 128 && u[0] <= 191) {
			if (u[1] >= 192 && u[1] <= 223)
				rtcp++;
			else
				rtp++;
		} else {
			other++;
		}
		if (write(im->fd[B2A], e->data, e->len) != (ssize_t)e->len)
			im->dirs[B2A].dropped++;
	}
	printf("{\"type\":\"replay\",\"replayed\":%d,\"rtp\":%d,\"rtcp\":%d,\"other\":%d}\n", n,
	       rtp, rtcp, other);
}

static gboolean parse_number(const char *text, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (!text)
		return FALSE;
	v = g_ascii_strtod(text, &end);
	if (end == text || *end || v < lo || v > hi)
		return FALSE;
	*out = v;
	return TRUE;
}

/* Applies "SETTING [VALUE]..." from WORDS to the directions in MASK;
 * returns an error message or NULL. Nothing is changed on error. */
static const char *apply_settings(impair *im, char **words, unsigned mask)
{
	link_dir next[N_DIRS];
	double v;

	memcpy(next, im->dirs, sizeof(next));
	for (int i = 0; words[i]; i++) {
		const char *w = words[i];
		for (int dir = 0; dir < N_DIRS; dir++) {
			link_dir *d = &next[dir];
			if (!(mask & (1u << dir)))
				continue;
			if (strcmp(w, "cut") == 0) {
				d->cut = TRUE;
			} else if (strcmp(w, "clean") == 0) {
				d->cut = FALSE;
				d->loss = d->dup = 0;
				d->delay_ms = d->jitter_ms = 0;
			} else if (strcmp(w, "loss") == 0 || strcmp(w, "dup") == 0) {
				if (!parse_number(words[i + 1], 0, 100, &v))
					return "loss and dup take a percentage (0-100)";
				*(w[0] == 'l' ? &d->loss : &d->dup) = v;
			} else if (strcmp(w, "delay") == 0 || strcmp(w, "jitter") == 0) {
				if (!parse_number(words[i + 1], 0, 60000, &v))
					return "delay and jitter take milliseconds (0-60000)";
				*(w[0] == 'd' ? &d->delay_ms : &d->jitter_ms) = (int)v;
			} else {
				return "unknown setting";
			}
		}
		if (strcmp(w, "cut") != 0 && strcmp(w, "clean") != 0)
			i++;
	}
	memcpy(im->dirs, next, sizeof(next));
	return NULL;
}

static void run_command(impair *im, char *line)
{
	char **words = g_strsplit_set(g_strstrip(line), " \t", -1);
	char **w = words;
	const char *error = NULL;
	unsigned mask = (1u << A2B) | (1u << B2A);
	double v;

	/* g_strsplit_set leaves empty words between repeated blanks. */
	int n = 0;
	for (int i = 0; words[i]; i++) {
		if (*words[i])
			words[n++] = words[i];
		else
			g_free(words[i]);
	}
	words[n] = NULL;
	if (n == 0)
		goto out;
	if (strcmp(w[0], "stats") == 0) {
		print_stats(im);
		goto out;
	}
	if (strcmp(w[0], "replay") == 0) {
		if (!parse_number(w[1], 0, REPLAY_MAX, &v))
			error = "replay takes a count (0-1024)";
		else
			replay(im, (int)v);
		goto out;
	}
	if (strcmp(w[0], "scope") == 0) {
		int i = 0;
		while (i < N_SCOPES && g_strcmp0(w[1], scope_names[i]) != 0)
			i++;
		if (i == N_SCOPES || w[2]) {
			error = "scope takes udp, media, stun or all";
		} else {
			im->scope = (impair_scope)i;
			printf("ok\n");
		}
		goto out;
	}
	if (strcmp(w[0], "seed") == 0) {
		if (!parse_number(w[1], 0, G_MAXUINT32, &v))
			error = "seed takes a number";
		else
			g_rand_set_seed(im->rand, (guint32)v);
		goto out;
	}
	if (strcmp(w[0], "a2b") == 0 || strcmp(w[0], "b2a") == 0 || strcmp(w[0], "both") == 0) {
		mask = w[0][0] == 'a' ? 1u << A2B : w[0][1] == '2' ? 1u << B2A : mask;
		w++;
	}
	if (!w[0])
		error = "no setting";
	else
		error = apply_settings(im, w, mask);
	if (!error)
		printf("ok\n");
out:
	if (error)
		printf("error: %s\n", error);
	fflush(stdout);
	g_strfreev(words);
}

/* Reads what stdin has; runs each complete line. FALSE at end of input. */
static gboolean read_commands(impair *im)
{
	ssize_t n =
		read(STDIN_FILENO, im->line + im->line_len, sizeof(im->line) - 1 - im->line_len);
	char *nl;

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return FALSE;
	im->line_len += (size_t)n;
	im->line[im->line_len] = '\0';
	while ((nl = strchr(im->line, '\n'))) {
		*nl = '\0';
		run_command(im, im->line);
		im->line_len -= (size_t)(nl + 1 - im->line);
		memmove(im->line, nl + 1, im->line_len + 1);
	}
	if (im->line_len == sizeof(im->line) - 1) {
		printf("error: line too long\n");
		fflush(stdout);
		im->line_len = 0;
	}
	return TRUE;
}

/* ---- main loop ---- */

static int run(impair *im)
{
	fcntl(STDIN_FILENO, F_SETFL, fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
	for (;;) {
		struct pollfd fds[3] = {
			{.fd = STDIN_FILENO, .events = POLLIN},
			{.fd = im->tun_a, .events = POLLIN},
			{.fd = im->tun_b, .events = POLLIN},
		};
		int timeout = -1;
		gint64 now = g_get_monotonic_time();

		release_due(im, now);
		if (im->n_heap > 0)
			timeout = (int)((im->pool[im->heap[0]].due_us - now + 999) / 1000);
		if (poll(fds, 3, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "impair: poll: %s\n", g_strerror(errno));
			return 1;
		}
		if (fds[1].revents & POLLIN)
			read_device(im, A2B);
		if (fds[2].revents & POLLIN)
			read_device(im, B2A);
		if ((fds[1].revents | fds[2].revents) & (POLLERR | POLLNVAL)) {
			fprintf(stderr, "impair: a device went away\n");
			return 1;
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR) && !read_commands(im))
			return 0;
	}
}

int main(int argc, char **argv)
{
	g_autofree char *peer_netns = NULL, *dev = NULL, *addr_a = NULL, *addr_b = NULL;
	gint prefix = 30, seed = 1;
	gboolean all = FALSE;
	GOptionEntry entries[] = {
		{"peer-netns", 0, 0, G_OPTION_ARG_FILENAME, &peer_netns,
		 "Network namespace B (e.g. /proc/PID/ns/net)", "PATH"},
		{"dev", 0, 0, G_OPTION_ARG_STRING, &dev, "Name of both TUN devices (tnf0)", "NAME"},
		{"addr-a", 0, 0, G_OPTION_ARG_STRING, &addr_a,
		 "Address in this namespace (10.9.0.1)", "IP"},
		{"addr-b", 0, 0, G_OPTION_ARG_STRING, &addr_b, "Address in namespace B (10.9.0.2)",
		 "IP"},
		{"prefix", 0, 0, G_OPTION_ARG_INT, &prefix, "Prefix length of both (30)", "N"},
		{"seed", 0, 0, G_OPTION_ARG_INT, &seed, "Seed of the loss/jitter generator (1)",
		 "N"},
		{"all", 0, 0, G_OPTION_ARG_NONE, &all, "Impair every packet, not only UDP", NULL},
		{NULL},
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("- user-space netem over two TUNs");
	g_autoptr(GError) error = NULL;
	impair im = {.tun_a = -1, .tun_b = -1};
	int rc;

	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || !peer_netns || prefix < 1 ||
	    prefix > 30) {
		fprintf(stderr, "impair: %s\n",
			error ? error->message : "--peer-netns is required; --prefix is 1-30");
		return 2;
	}
	im.scope = all ? SCOPE_ALL : SCOPE_UDP;
	im.rand = g_rand_new_with_seed((guint32)seed);
	im.pool = g_new(slot, POOL_SLOTS);
	im.free_slots = g_new(int, POOL_SLOTS);
	im.heap = g_new(int, POOL_SLOTS);
	for (int i = 0; i < POOL_SLOTS; i++)
		im.free_slots[im.n_free++] = POOL_SLOTS - 1 - i;
	im.replay = g_new(replay_entry, REPLAY_MAX);
	if (!devices_open(&im, peer_netns, dev ? dev : "tnf0", addr_a ? addr_a : "10.9.0.1",
			  addr_b ? addr_b : "10.9.0.2", prefix)) {
		rc = 1;
	} else {
		printf("ready\n");
		fflush(stdout);
		rc = run(&im);
	}
	if (im.tun_a >= 0)
		close(im.tun_a);
	if (im.tun_b >= 0)
		close(im.tun_b);
	g_free(im.replay);
	g_free(im.heap);
	g_free(im.free_slots);
	g_free(im.pool);
	g_rand_free(im.rand);
	return rc;
}
