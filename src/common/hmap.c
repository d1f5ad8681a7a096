/*
 * hmap.c - open-addressing hash map u64 -> u64 (see hmap.h for the design:
 * linear probing on pre-hashed keys, key and value in one 16-byte slot,
 * 1/2 maximum load, no deletion). nfi_hmap_get and nfi_hmap_put are inline
 * in the header; a put that must grow the map first comes here.
 */
#include "common/common.h"

#include <stdlib.h>
#include <string.h>

#define MIN_CAP 16

void nfi_hmap_init(nfi_hmap *m) { memset(m, 0, sizeof *m); }

void nfi_hmap_free(nfi_hmap *m)
{
    free(m->slots);
    nfi_hmap_init(m);
}

void nfi_hmap_clear(nfi_hmap *m)
{
    if (m->cap > 4096) {
        nfi_hmap_free(m);
        return;
    }
    if (m->cap)
        memset(m->slots, 0, m->cap * sizeof *m->slots);
    m->count = 0;
}

void nfi_hmap_reset(nfi_hmap *m, size_t keys)
{
    if (m->cap > 64 && m->cap / 4 > keys)
        nfi_hmap_free(m);
    else
        nfi_hmap_clear(m);
}

static bool grow(nfi_hmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : MIN_CAP;
    nfi_hmap_slot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return false;
    for (size_t j = 0; j < m->cap; j++) {
        if (!m->slots[j].key)
            continue;
        size_t i = m->slots[j].key & (cap - 1);
        while (slots[i].key)
            i = (i + 1) & (cap - 1);
        slots[i] = m->slots[j];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return true;
}

/* The put that must grow the map first (nfi_hmap_put, inline in the
 * header, does the rest). */
uint64_t *nfi_hmap_put_grow(nfi_hmap *m, uint64_t key, bool *created)
{
    return grow(m) ? nfi_hmap_insert_with_room(m, key, created) : NULL;
}
