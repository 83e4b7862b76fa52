/* consume.c — tb_fuzz_consume, shared by the fuzz targets. */
#include "fuzz.h"

static volatile uint8_t sink;

void tb_fuzz_consume(const void *bytes, size_t len)
{
	const uint8_t *b = bytes;
	uint8_t x = 0;

	for (size_t i = 0; i < len; i++)
		x ^= b[i];
	sink ^= x;
}
