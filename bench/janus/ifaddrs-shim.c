/* ifaddrs-shim.c — LD_PRELOAD shim for the comparison bench: getifaddrs()
 * without the loopback flag.
 *
 * The media server the bench compares tribud with gathers ICE candidates
 * only on interfaces that getifaddrs() does not flag IFF_LOOPBACK, so inside
 * the bench's loopback-only network namespace it would gather none. Loaded
 * into that server alone (LD_PRELOAD=.../libifaddrs-shim.so), this calls the
 * real getifaddrs() through dlsym(RTLD_NEXT) and clears IFF_LOOPBACK on every
 * entry of the interface "lo"; nothing else changes. freeifaddrs() is not
 * wrapped: the list is the C library's own.
 *
 * Bench only: never loaded into tribud or a test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>

typedef int (*getifaddrs_fn)(struct ifaddrs **);

int getifaddrs(struct ifaddrs **ifap)
{
	static getifaddrs_fn real;
	int rc;

	if (!real)
		real = (getifaddrs_fn)dlsym(RTLD_NEXT, "getifaddrs");
	if (!real)
		return -1;
	rc = real(ifap);
	if (rc != 0 || !ifap)
		return rc;
	for (struct ifaddrs *ifa = *ifap; ifa; ifa = ifa->ifa_next)
		if (ifa->ifa_name && strcmp(ifa->ifa_name, "lo") == 0)
			ifa->ifa_flags &= ~(unsigned)IFF_LOOPBACK;
	return rc;
}
