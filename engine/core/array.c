#include <stdint.h>
#include <stdlib.h>

#include "core/array.h"

void *
prt_array_grow(void *v, size_t *cap, size_t size, size_t first)
{
    size_t  n;
    void   *p;

    if (*cap == 0) {
        n = first;
    } else if (*cap > SIZE_MAX / 2) {
        return NULL;
    } else {
        n = *cap * 2;
    }
    if (n == 0 || size == 0 || n > SIZE_MAX / size) {
        return NULL;
    }
    p = realloc(v, n * size);
    if (p == NULL) {
        return NULL;
    }
    *cap = n;
    return p;
}
