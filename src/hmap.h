/*
 * hmap.h - an open-addressing hash map from 64-bit keys to 64-bit values.
 *
 * Keys are already well-mixed hashes (XXH3), so the slot is the key's low
 * bits and probing is linear. Key 0 marks an empty slot; a caller's key 0 is
 * stored as 1 (one collision in 2^64 for hashes; callers with small integer
 * keys add 1 first). The table doubles at 1/2 load, so a
 * lookup touches one or two cache lines. There is no delete: a map that
 * must shrink is rebuilt (nf_hmap_clear, then re-insert what survives).
 * Iteration order is slot order, which depends only on the keys inserted
 * and the insertion order, so it is deterministic.
 */
#ifndef NF_HMAP_H
#define NF_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nf_hmap {
    uint64_t *keys;
    uint64_t *vals;
    size_t cap; /* power of two, or 0 */
    size_t count;
} nf_hmap;

void nf_hmap_init(nf_hmap *m);
void nf_hmap_free(nf_hmap *m);
/* Empties the map, keeping its memory when it is small. */
void nf_hmap_clear(nf_hmap *m);
/* The value slot of key, or NULL when absent. */
uint64_t *nf_hmap_get(const nf_hmap *m, uint64_t key);
/* The value slot of key, inserted with value 0 when absent; NULL when out
 * of memory. *created (when non-NULL) tells whether it was inserted. */
uint64_t *nf_hmap_put(nf_hmap *m, uint64_t key, bool *created);

#endif
