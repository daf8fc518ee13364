#include <stdarg.h>
#include <stdio.h>

#include "core/path.h"

int
prt_fmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list  ap;
    int      n;

    va_start(ap, fmt);
    n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    return (n < 0 || (size_t) n >= cap) ? -1 : 0;
}
