/*
 * hmap.c - open-addressing hash map u64 -> u64 (see hmap.h for the design:
 * linear probing on pre-hashed keys, 1/2 maximum load, no deletion).
 */
#include "common/common.h"

#include <stdlib.h>
#include <string.h>

#define MIN_CAP 16

void nfi_hmap_init(nfi_hmap *m) { memset(m, 0, sizeof *m); }

void nfi_hmap_free(nfi_hmap *m)
{
    free(m->keys);
    free(m->vals);
    nfi_hmap_init(m);
}

void nfi_hmap_clear(nfi_hmap *m)
{
    if (m->cap > 4096) {
        nfi_hmap_free(m);
        return;
    }
    if (m->cap)
        memset(m->keys, 0, m->cap * sizeof *m->keys);
    m->count = 0;
}

static inline uint64_t fix_key(uint64_t key) { return key ? key : 1; }

uint64_t *nfi_hmap_get(const nfi_hmap *m, uint64_t key)
{
    if (!m->cap)
        return NULL;
    key = fix_key(key);
    size_t mask = m->cap - 1;
    for (size_t i = key & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == key)
            return &m->vals[i];
        if (m->keys[i] == 0)
            return NULL;
    }
}

static bool grow(nfi_hmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : MIN_CAP;
    uint64_t *keys = calloc(cap, sizeof *keys);
    uint64_t *vals = malloc(cap * sizeof *vals);
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return false;
    }
    for (size_t j = 0; j < m->cap; j++) {
        if (!m->keys[j])
            continue;
        size_t i = m->keys[j] & (cap - 1);
        while (keys[i])
            i = (i + 1) & (cap - 1);
        keys[i] = m->keys[j];
        vals[i] = m->vals[j];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return true;
}

uint64_t *nfi_hmap_put(nfi_hmap *m, uint64_t key, bool *created)
{
    if ((m->count + 1) * 2 > m->cap && !grow(m))
        return NULL;
    key = fix_key(key);
    size_t mask = m->cap - 1;
    size_t i = key & mask;
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & mask;
    bool fresh = m->keys[i] == 0;
    if (fresh) {
        m->keys[i] = key;
        m->vals[i] = 0;
        m->count++;
    }
    if (created)
        *created = fresh;
    return &m->vals[i];
}
