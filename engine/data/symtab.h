/*
 * Symbol table: ticker text (at most 15 bytes) -> dense id 0..n-1, in
 * insertion order. Open addressing with linear probing over a power-of-two
 * table kept at most half full; ids index a plain array of names.
 * Not thread-safe for writers; concurrent readers are fine once built.
 */
#ifndef PRT_SYMTAB_H
#define PRT_SYMTAB_H

#include <stddef.h>
#include <stdint.h>

#include "data/bar.h"

#define PRT_SYMTAB_NONE  UINT32_MAX

typedef struct {
    char      (*names)[PRT_TICKER_SIZE];   /* by id, NUL-padded */
    uint32_t   *slots;                     /* id + 1, 0 = empty */
    uint32_t    count;
    uint32_t    cap;                       /* names capacity */
    uint32_t    mask;                      /* slots - 1 */
} prt_symtab_t;

int  prt_symtab_init(prt_symtab_t *t, uint32_t expected);
void prt_symtab_free(prt_symtab_t *t);

/* id of ticker, or PRT_SYMTAB_NONE */
uint32_t prt_symtab_find(const prt_symtab_t *t, const char *ticker);

/* id of ticker, added when new; PRT_SYMTAB_NONE when out of memory or the
 * ticker is longer than PRT_TICKER_SIZE - 1 */
uint32_t prt_symtab_add(prt_symtab_t *t, const char *ticker);

static inline const char *
prt_symtab_name(const prt_symtab_t *t, uint32_t id)
{
    return t->names[id];
}

#endif
