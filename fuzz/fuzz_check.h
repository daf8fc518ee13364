/*
 * CHECK(cond): an invariant of a fuzz target. A false one prints what and
 * where, then aborts, which libFuzzer reports as a crash with its input.
 */
#ifndef PRT_FUZZ_CHECK_H
#define PRT_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond) do {                                                     \
    if (!(cond)) {                                                           \
        fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__,  \
                __LINE__);                                                   \
        abort();                                                             \
    }                                                                        \
} while (0)

#endif
