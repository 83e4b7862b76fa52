/* log.c — leveled, per-category logging to stderr.
 *
 * Any thread may log. Each message is formatted into a stack buffer and
 * handed to the kernel with one write(2), so lines from different threads do
 * not interleave and no lock is taken. The filter is plain static data: it is
 * set by tb_log_set_spec() on the main thread before other threads start and
 * only read afterwards.
 *
 * This file does not rate-limit (callers do, for warnings driven by outside
 * input), does not buffer, and does not route GLib's own log messages.
 */
#include "common-private.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RULES   32
#define MAX_PATTERN 64
/* Longest line written; longer messages are cut and end in "...". */
#define LINE_MAX_BYTES 2048

typedef struct {
	char prefix[MAX_PATTERN]; /* pattern without its trailing '*' */
	bool wildcard;            /* pattern ended in '*': prefix match */
	tb_log_level level;
} log_rule;

typedef struct {
	tb_log_level default_level;
	int n_rules;
	log_rule rules[MAX_RULES]; /* the last matching rule wins */
} log_filter;

static log_filter active_filter = {.default_level = TB_LOG_INFO};

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};
static const char *const level_labels[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

static bool parse_level(const char *s, size_t len, tb_log_level *out)
{
	for (size_t i = 0; i < G_N_ELEMENTS(level_names); i++) {
		if (strlen(level_names[i]) == len && strncmp(s, level_names[i], len) == 0) {
			*out = (tb_log_level)i;
			return true;
		}
	}
	if (len == 7 && strncmp(s, "warning", 7) == 0) {
		*out = TB_LOG_WARN;
		return true;
	}
	return false;
}

static bool category_char(char c)
{
	return g_ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
}

/* Parses "PATTERN" of S[0..LEN) into RULE. */
static bool parse_pattern(const char *s, size_t len, log_rule *rule)
{
	bool wildcard = len > 0 && s[len - 1] == '*';
	size_t prefix_len = wildcard ? len - 1 : len;

	if (len == 0 || prefix_len >= MAX_PATTERN)
		return false;
	for (size_t i = 0; i < prefix_len; i++) {
		if (!category_char(s[i]))
			return false;
	}
	memcpy(rule->prefix, s, prefix_len);
	rule->prefix[prefix_len] = '\0';
	rule->wildcard = wildcard;
	return true;
}

static void trim(const char **s, size_t *len)
{
	while (*len > 0 && g_ascii_isspace((*s)[0])) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && g_ascii_isspace((*s)[*len - 1]))
		(*len)--;
}

static bool parse_spec(const char *spec, log_filter *out)
{
	log_filter filter = {.default_level = TB_LOG_INFO};
	const char *item = spec;

	if (spec == NULL)
		return false;
	for (;;) {
		const char *comma = strchr(item, ',');
		size_t len = comma ? (size_t)(comma - item) : strlen(item);
		const char *colon = memchr(item, ':', len);

		trim(&item, &len);
		if (len == 0)
			return false;
		if (colon == NULL) {
			if (!parse_level(item, len, &filter.default_level))
				return false;
		} else {
			const char *pat = item, *lvl = colon + 1;
			size_t pat_len = (size_t)(colon - item);
			size_t lvl_len = len - pat_len - 1;
			log_rule *rule;

			trim(&pat, &pat_len);
			trim(&lvl, &lvl_len);
			if (filter.n_rules == MAX_RULES)
				return false;
			rule = &filter.rules[filter.n_rules];
			if (!parse_pattern(pat, pat_len, rule) ||
			    !parse_level(lvl, lvl_len, &rule->level))
				return false;
			filter.n_rules++;
		}
		if (comma == NULL)
			break;
		item = comma + 1;
	}
	*out = filter;
	return true;
}

bool tb__log_spec_valid(const char *spec)
{
	log_filter scratch;

	return parse_spec(spec, &scratch);
}

int tb_log_set_spec(const char *spec)
{
	log_filter filter;

	if (!parse_spec(spec, &filter))
		return TB_EINVAL;
	active_filter = filter;
	return 0;
}

static bool rule_matches(const log_rule *rule, const char *category)
{
	if (rule->wildcard)
		return g_str_has_prefix(category, rule->prefix);
	return strcmp(category, rule->prefix) == 0;
}

bool tb_log_enabled(const char *category, tb_log_level level)
{
	const log_filter *filter = &active_filter;
	tb_log_level max = filter->default_level;

	if (category != NULL) {
		for (int i = filter->n_rules - 1; i >= 0; i--) {
			if (rule_matches(&filter->rules[i], category)) {
				max = filter->rules[i].level;
				break;
			}
		}
	}
	return level <= max;
}

/* Replaces control characters so one message stays one line: messages may
 * quote outside input. */
static void sanitize(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			s[i] = '?';
	}
}

static void write_all(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

void tb_log(const char *category, tb_log_level level, const char *fmt, ...)
{
	char line[LINE_MAX_BYTES];
	int saved_errno = errno;
	struct timespec ts;
	struct tm tm;
	size_t head, end, cap;
	va_list ap;
	int n;

	if ((unsigned)level > TB_LOG_TRACE || !tb_log_enabled(category, level))
		goto out;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%.*s] ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000, level_labels[level], MAX_PATTERN,
		     category ? category : "-");
	if (n < 0)
		goto out;
	head = (size_t)n;

	/* Keep one byte for the newline. */
	cap = sizeof(line) - 1 - head;
	va_start(ap, fmt);
	n = vsnprintf(line + head, cap, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto out;
	if ((size_t)n < cap) {
		end = head + (size_t)n;
	} else {
		/* Cut on a UTF-8 boundary and mark the cut. */
		end = head + cap - 4;
		while (end > head && ((unsigned char)line[end] & 0xC0) == 0x80)
			end--;
		memcpy(line + end, "...", 3);
		end += 3;
	}
	sanitize(line + head, end - head);
	line[end++] = '\n';
	write_all(line, end);
out:
	errno = saved_errno;
}
