/*
 * Building file paths: like snprintf, but truncation is an error (-1)
 * instead of a silently shortened path.
 */
#ifndef PRT_PATH_H
#define PRT_PATH_H

#include <stddef.h>

__attribute__((format(printf, 3, 4)))
int prt_fmt(char *out, size_t cap, const char *fmt, ...);

#endif
