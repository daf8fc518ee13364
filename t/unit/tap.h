/*
 * Minimal TAP producer for the C unit tests (t/run feeds them to prove).
 *
 *   ok(cond, "name %d", i);   is_int(got, want, "name");   done_testing();
 */
#ifndef PRT_TAP_H
#define PRT_TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_count, tap_failed;

static int
tap_result(int pass, const char *fmt, va_list ap)
{
    tap_count++;
    if (!pass) {
        tap_failed++;
    }
    printf("%sok %d - ", pass ? "" : "not ", tap_count);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    return pass;
}

__attribute__((format(printf, 2, 3), unused)) static int
ok(int pass, const char *fmt, ...)
{
    va_list ap;
    int     r;

    va_start(ap, fmt);
    r = tap_result(pass, fmt, ap);
    va_end(ap);
    return r;
}

#define is_int(got, want, ...) do {                                          \
    long long got_ = (long long) (got), want_ = (long long) (want);          \
    if (!ok(got_ == want_, __VA_ARGS__)) {                                   \
        printf("#   got %lld, want %lld\n", got_, want_);                    \
    }                                                                        \
} while (0)

#define is_double(got, want, tol, ...) do {                                  \
    double got_ = (got), want_ = (want);                                     \
    int same_ = (isnan(got_) && isnan(want_))                                \
                || fabs(got_ - want_) <= (tol);                              \
    if (!ok(same_, __VA_ARGS__)) {                                           \
        printf("#   got %.17g, want %.17g\n", got_, want_);                  \
    }                                                                        \
} while (0)

#define is_str(got, want, ...) do {                                          \
    const char *got_ = (got), *want_ = (want);                               \
    if (!ok(got_ != NULL && strcmp(got_, want_) == 0, __VA_ARGS__)) {        \
        printf("#   got \"%s\", want \"%s\"\n", got_ ? got_ : "(null)", want_);\
    }                                                                        \
} while (0)

__attribute__((unused)) static int
done_testing(void)
{
    printf("1..%d\n", tap_count);
    return tap_failed ? 1 : 0;
}

#endif
