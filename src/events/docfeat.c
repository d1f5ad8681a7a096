/*
 * docfeat.c - one document's raw event features (nfi_docfeat): per channel
 * a growable list of (hash, count, flags), filled by evfeat.c (terms) and
 * entities.c (names), and the feature hash they share.
 *
 * Kept apart from both so neither depends on the other's file: evfeat.c
 * calls entities.c for names, and both write features through here. A
 * docfeat is reset, not freed, between the documents a worker handles, so
 * its arrays are allocated once per worker.
 */
#include "events/events.h"

#include <stdlib.h>
#include <string.h>
#include "events/feathash.h"

uint64_t nfi_feat_hash(char ns, const char *s, size_t n) { return nfi_feat_hash_inline(ns, s, n); }

void nfi_docfeat_reset(nfi_docfeat *d)
{
    for (int c = 0; c < N_CH; c++)
        d->n[c] = 0;
    d->runs.len = 0;
    d->n_lower = 0;
}

void nfi_docfeat_free(nfi_docfeat *d)
{
    for (int c = 0; c < N_CH; c++)
        free(d->f[c]);
    nfi_buf_free(&d->runs);
    free(d->lower);
    memset(d, 0, sizeof *d);
}

nfi_rawfeat *nfi_docfeat_room(nfi_docfeat *d, int ch, size_t n)
{
    if (d->n[ch] + n > d->cap[ch] || !d->f[ch]) { /* (never NULL for n = 0 either) */
        size_t cap = d->cap[ch] ? d->cap[ch] * 2 : 64;
        while (cap < d->n[ch] + n)
            cap *= 2;
        nfi_rawfeat *f = realloc(d->f[ch], cap * sizeof *f);
        if (!f)
            return NULL;
        d->f[ch] = f;
        d->cap[ch] = cap;
    }
    return d->f[ch] + d->n[ch];
}
