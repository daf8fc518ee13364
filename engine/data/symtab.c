#include <stdlib.h>
#include <string.h>

#include "data/symtab.h"

static uint32_t
symtab_hash(const char *s)
{
    uint32_t  h = 2166136261u;          /* FNV-1a */

    for ( ; *s; s++) {
        h = (h ^ (uint8_t) *s) * 16777619u;
    }
    return h;
}

static int
symtab_rehash(prt_symtab_t *t, uint32_t nslots)
{
    uint32_t  *slots = calloc(nslots, sizeof(uint32_t));
    uint32_t   mask = nslots - 1, h;

    if (slots == NULL) {
        return -1;
    }
    for (uint32_t id = 0; id < t->count; id++) {
        for (h = symtab_hash(t->names[id]) & mask; slots[h];
             h = (h + 1) & mask)
        {
            /* probe */
        }
        slots[h] = id + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->mask = mask;
    return 0;
}

int
prt_symtab_init(prt_symtab_t *t, uint32_t expected)
{
    uint32_t  nslots = 64;

    memset(t, 0, sizeof(*t));
    while (nslots < expected * 2) {
        nslots *= 2;
    }
    t->cap = expected > 16 ? expected : 16;
    t->names = calloc(t->cap, PRT_TICKER_SIZE);
    if (t->names == NULL || symtab_rehash(t, nslots) != 0) {
        prt_symtab_free(t);
        return -1;
    }
    return 0;
}

void
prt_symtab_free(prt_symtab_t *t)
{
    free(t->names);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

uint32_t
prt_symtab_find(const prt_symtab_t *t, const char *ticker)
{
    uint32_t  h, id;

    for (h = symtab_hash(ticker) & t->mask; (id = t->slots[h]) != 0;
         h = (h + 1) & t->mask)
    {
        if (strcmp(t->names[id - 1], ticker) == 0) {
            return id - 1;
        }
    }
    return PRT_SYMTAB_NONE;
}

uint32_t
prt_symtab_add(prt_symtab_t *t, const char *ticker)
{
    uint32_t  id = prt_symtab_find(t, ticker), h;
    size_t    len = strlen(ticker);
    void     *p;

    if (id != PRT_SYMTAB_NONE) {
        return id;
    }
    if (len >= PRT_TICKER_SIZE || t->count == PRT_SYMTAB_NONE - 1) {
        return PRT_SYMTAB_NONE;
    }
    if (t->count == t->cap) {
        p = realloc(t->names, (size_t) t->cap * 2 * PRT_TICKER_SIZE);
        if (p == NULL) {
            return PRT_SYMTAB_NONE;
        }
        t->names = p;
        t->cap *= 2;
    }
    if ((t->count + 1) * 2 > t->mask + 1
        && symtab_rehash(t, (t->mask + 1) * 2) != 0)
    {
        return PRT_SYMTAB_NONE;
    }

    id = t->count++;
    memset(t->names[id], 0, PRT_TICKER_SIZE);
    memcpy(t->names[id], ticker, len);
    for (h = symtab_hash(ticker) & t->mask; t->slots[h]; h = (h + 1) & t->mask) {
        /* probe */
    }
    t->slots[h] = id + 1;
    return id;
}
