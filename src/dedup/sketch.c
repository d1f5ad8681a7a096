/*
 * sketch.c - what duplicate detection knows about a document: an exact
 * hash, a MinHash signature, a SimHash, and a sample of shingles for
 * containment.
 *
 * Units and shingles. The units are the normalized tokens of the clean
 * stage, except that a token of a script written without spaces (Han, Kana,
 * Thai, ...) is split into its characters, so Chinese text gets character
 * n-grams and does not depend on the word segmenter's choices. A shingle is
 * `ngram` consecutive units, hashed to 64 bits.
 *
 * MinHash: one-permutation hashing with optimal densification (Shrivastava,
 * ICML 2017). Each shingle is hashed once; its hash picks one of K bins and
 * the bin keeps the minimum of the other hash bits. Empty bins borrow the
 * value of a bin chosen by a per-bin pseudo-random probe sequence, which
 * keeps the estimator unbiased for Jaccard. Cost is O(shingles + K) instead
 * of the O(shingles x K) of K independent permutations, which is what lets
 * sketching run at disk speed; tests/test_sketch.c checks the estimate
 * against exact Jaccard on real documents within the K-permutation bound.
 *
 * SimHash: the classic 64-bit sign vector of shingle hashes (Charikar).
 *
 * Containment samples: the shingles whose hash is 0 modulo sample_mod
 * (content-defined sampling, Broder 1997). Two documents sharing a passage
 * share about passage_length / sample_mod samples wherever the passage
 * sits, so |S_A ∩ S_B| / |S_A| estimates how much of A lies in B.
 */
#include "dedup/dedup.h"

#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ULL;
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ULL;
    x ^= x >> 32;
    return x;
}

size_t nfi_shingle_hashes(const uint64_t *units, size_t n_units, int ngram, uint64_t *out)
{
    size_t n = (size_t)ngram;
    if (n_units < n)
        return 0;
    size_t count = n_units - n + 1;
    for (size_t i = 0; i < count; i++) {
        uint64_t h = 0x9E3779B97F4A7C15ULL;
        for (size_t k = 0; k < n; k++)
            h = (h ^ units[i + k]) * 0x100000001B3ULL + (h >> 29);
        out[i] = mix64(h);
    }
    return count;
}

static size_t sort_unique(uint64_t *v, size_t n)
{
    if (n < 2)
        return n;
    qsort(v, n, sizeof *v, nfi_cmp_u64);
    size_t w = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[w - 1])
            v[w++] = v[i];
    return w;
}

void nfi_minhash_signature(const uint64_t *shingles, size_t n, int perms, uint64_t seed, uint32_t *sig)
{
    const uint32_t empty = UINT32_MAX;
    uint64_t k = (uint64_t)perms;
    bool filled[NF_SKETCH_MAX_PERMS];
    for (int i = 0; i < perms; i++) {
        sig[i] = empty;
        filled[i] = false;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t h = mix64(shingles[i] ^ seed);
        uint32_t bin = (uint32_t)(((h >> 32) * k) >> 32); /* fair bin from the high bits */
        uint32_t value = (uint32_t)h;
        if (value < sig[bin] || !filled[bin])
            sig[bin] = value;
        filled[bin] = true;
    }
    if (n == 0)
        return;
    /* optimal densification: each empty bin probes bins in its own order */
    uint32_t source[NF_SKETCH_MAX_PERMS];
    for (int i = 0; i < perms; i++) {
        if (filled[i]) {
            source[i] = sig[i];
            continue;
        }
        for (uint64_t attempt = 1;; attempt++) {
            uint64_t h = mix64(seed ^ ((uint64_t)i << 32) ^ attempt);
            uint32_t j = (uint32_t)(((h >> 32) * k) >> 32);
            if (filled[j]) {
                source[i] = sig[j];
                break;
            }
        }
    }
    memcpy(sig, source, (size_t)perms * sizeof *sig);
}

double nfi_minhash_similarity(const uint32_t *a, const uint32_t *b, int perms)
{
    int equal = 0;
    for (int i = 0; i < perms; i++)
        equal += a[i] == b[i];
    return (double)equal / perms;
}

size_t nfi_intersection_size(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    size_t i = 0, j = 0, both = 0;
    while (i < na && j < nb) {
        if (a[i] < b[j])
            i++;
        else if (a[i] > b[j])
            j++;
        else {
            both++;
            i++;
            j++;
        }
    }
    return both;
}

double nfi_exact_jaccard(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    if (na + nb == 0)
        return 1.0;
    size_t both = nfi_intersection_size(a, na, b, nb);
    return (double)both / (double)(na + nb - both);
}

static uint64_t simhash_of(const uint64_t *shingles, size_t n)
{
    int32_t votes[64] = {0};
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 64; b++)
            votes[b] += (shingles[i] >> b & 1) ? 1 : -1;
    uint64_t h = 0;
    for (int b = 0; b < 64; b++)
        if (votes[b] > 0)
            h |= 1ULL << b;
    return h;
}

typedef struct unit_vec {
    uint64_t *v;
    size_t n, cap;
} unit_vec;

static bool push_unit(unit_vec *u, uint64_t h)
{
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 256;
        uint64_t *g = realloc(u->v, cap * sizeof *g);
        if (!g)
            return false;
        u->v = g;
        u->cap = cap;
    }
    u->v[u->n++] = h;
    return true;
}

/* Units: token norm hashes; characters of ideographic tokens one by one. */
static nf_status units_of(const nf_clean_doc *doc, unit_vec *u, nf_error *err)
{
    memset(u, 0, sizeof *u);
    for (size_t i = 0; i < doc->n_tokens; i++) {
        const nf_token *t = &doc->tokens[i];
        const char *s = doc->pool + t->norm;
        bool ok = true;
        if (t->kind != NF_TOKEN_IDEOGRAPHIC) {
            ok = push_unit(u, XXH3_64bits(s, t->norm_len));
        } else {
            for (size_t k = 0; k < t->norm_len && ok;) {
                uint32_t cp;
                k += nfi_utf8_decode((const unsigned char *)s + k, t->norm_len - k, &cp);
                ok = push_unit(u, mix64(cp + 0x51ED27ULL));
            }
        }
        if (!ok) {
            free(u->v);
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        }
    }
    return NF_OK;
}

static void exact_hash(const nf_clean_doc *doc, nfi_sketch *out)
{
    XXH3_state_t st;
    XXH3_128bits_reset(&st);
    for (size_t i = 0; i < doc->n_tokens; i++) {
        XXH3_128bits_update(&st, doc->pool + doc->tokens[i].norm, doc->tokens[i].norm_len);
        XXH3_128bits_update(&st, " ", 1);
    }
    XXH128_hash_t h = XXH3_128bits_digest(&st);
    out->exact_lo = h.low64;
    out->exact_hi = h.high64;
}

nf_status nfi_sketch_doc(const nf_clean_doc *doc, const nfi_sketch_params *p, bool keep_shingles,
                        uint32_t *signature, nfi_sketch *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    exact_hash(doc, out);
    unit_vec uv;
    nf_status st = units_of(doc, &uv, err);
    if (st != NF_OK)
        return st;
    uint64_t *units = uv.v;
    size_t n_units = uv.n;
    out->n_units = n_units;
    if (n_units < (size_t)p->ngram) {
        out->too_short = true;
        free(units);
        return NF_OK;
    }
    /* shingles overwrite the unit array in place: shingle i needs units i.. */
    size_t n = nfi_shingle_hashes(units, n_units, p->ngram, units);
    nfi_minhash_signature(units, n, p->perms, p->seed, signature);
    out->signature = signature;
    out->simhash = simhash_of(units, n);
    n = sort_unique(units, n);
    out->n_shingles = n;
    size_t n_samples = 0;
    for (size_t i = 0; i < n; i++)
        if (mix64(units[i] ^ p->seed) % (uint64_t)p->sample_mod == 0)
            n_samples++;
    out->samples = malloc((n_samples ? n_samples : 1) * sizeof *out->samples);
    if (!out->samples) {
        free(units);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        if (mix64(units[i] ^ p->seed) % (uint64_t)p->sample_mod == 0)
            out->samples[out->n_samples++] = units[i];
    if (keep_shingles) {
        out->shingles = units;
    } else {
        free(units);
    }
    return NF_OK;
}

void nfi_sketch_free(nfi_sketch *s)
{
    free(s->samples);
    free(s->shingles);
    memset(s, 0, sizeof *s);
}
