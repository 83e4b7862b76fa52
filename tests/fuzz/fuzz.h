/* fuzz.h — what every fuzz target defines.
 *
 * Each fuzz-<name>.c defines the libFuzzer entry point below and feeds one
 * input to one parser of outside input, then uses everything the parser
 * returned (so that a wrong offset or length reads out of bounds under
 * ASan). Built two ways (tests/fuzz/meson.build): with -Dfuzzing=true and
 * clang, linked with libFuzzer (-fsanitize=fuzzer) for fuzzing runs
 * (tests/fuzz/run.sh); always, linked with replay.c, which runs every file
 * of the target's corpus once: the CI check that no input found so far
 * crashes again.
 */
#ifndef TB_FUZZ_H
#define TB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Folds BYTES into a value the compiler cannot drop, so reads of parser
 * output really happen. */
void tb_fuzz_consume(const void *bytes, size_t len);

#endif
