/*
 * Growable arrays: the one helper for the "double the capacity when full"
 * step of the engine's append-only lists (calibration series, performance
 * outcomes, the start-up calibration rebuild).
 *
 *     if (s->n == s->cap) {
 *         entry_t  *v = prt_array_grow(s->v, &s->cap, sizeof(*v), 1024);
 *         if (v == NULL) {
 *             return -1;
 *         }
 *         s->v = v;
 *     }
 *     s->v[s->n++] = e;
 */
#ifndef PRT_ARRAY_H
#define PRT_ARRAY_H

#include <stddef.h>

/*
 * v (NULL at first) reallocated to twice *cap elements of size bytes,
 * first when *cap is 0. Returns the new array and sets *cap; NULL when out
 * of memory or the size would overflow, v and *cap then unchanged (still
 * the caller's to free).
 */
void *prt_array_grow(void *v, size_t *cap, size_t size, size_t first);

#endif
