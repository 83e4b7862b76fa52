/* clock.c — the process clock: wall time and monotonic time.
 *
 * Any thread. Code that measures time takes a const tb_clock * so tests can
 * inject a fake one and run timeouts without sleeping; this file only
 * provides the system-backed default and does not keep any state.
 */
#include "common.h"

static int64_t system_wall_ms(void *user_data)
{
	return g_get_real_time() / 1000;
}

static int64_t system_mono_us(void *user_data)
{
	return g_get_monotonic_time();
}

static const tb_clock system_clock = {
	.wall_ms = system_wall_ms,
	.mono_us = system_mono_us,
	.user_data = NULL,
};

const tb_clock *tb_clock_default(void)
{
	return &system_clock;
}
