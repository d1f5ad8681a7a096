/*
 * sketch.c - what duplicate detection knows about a document: an exact
 * hash, a MinHash signature, a SimHash (only for the SimHash method), and
 * winnowed shingle samples for containment.
 *
 * Units and shingles. The units are the normalized tokens of the clean
 * stage, except that a token of a script written without spaces (Han, Kana,
 * Thai, ...) is split into its characters, so Chinese text gets character
 * n-grams and does not depend on the word segmenter's choices. A shingle is
 * `ngram` consecutive units, hashed to 64 bits; its rank is nfi_mix64(shingle ^
 * seed), computed once and shared by MinHash and winnowing. `newsfold
 * dedup` has the cleaner hash the units as it folds them
 * (nf_clean_options.token_hashes, with the exact hash of the normalized
 * text); other callers pass tokens and the units are made here, with the
 * same values (common.h, nfi_char_unit).
 *
 * MinHash: one-permutation hashing with optimal densification (Shrivastava,
 * ICML 2017). Each shingle's rank picks one of K bins and the bin keeps the
 * minimum of the other rank bits. Empty bins borrow the value of a bin
 * chosen by a per-bin pseudo-random probe sequence, which keeps the
 * estimator unbiased for Jaccard. Cost is O(shingles + K) instead of the
 * O(shingles x K) of K independent permutations; tests/test_dedup.c checks
 * the estimate against exact Jaccard on real documents within the
 * K-permutation bound. Repeated shingles need no removal: a minimum is
 * idempotent.
 *
 * SimHash: the classic 64-bit sign vector of shingle hashes (Charikar);
 * 64 operations per shingle, so it is computed only when asked for.
 *
 * Containment samples: winnowing (Schleimer, Wilkerson and Aiken, SIGMOD
 * 2003). In every window of `window` consecutive shingles the one of
 * smallest rank (the rightmost on a tie) is a sample. The choice depends
 * only on the window's contents, so when A is a contiguous passage of B
 * every window of A is a window of B and every sample of A is a sample of
 * B: |S_A ∩ S_B| / |S_A| is exactly 1 for an unedited excerpt, however
 * short, and degrades with the share of edited windows. Every window holds
 * a sample, so a passage of n shingles has at least (n - window + 1) /
 * window of them (about 2n / (window + 1) on average). The modulo sampling
 * used before (shingles with rank % 8 == 0) gave a 40-character Chinese
 * lead fewer than 4 samples one time in three and no guarantee at all.
 *
 * Distinct shingles are counted with a small open-addressing set (no sort);
 * only the samples, and the whole set when exact verification asks for it,
 * are sorted, with the radix sort of src/common/runs.c (for a document's
 * samples: one bucket pass and an insertion sort).
 */
#include "dedup/dedup.h"

#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL /* the same functions, inlined: one call per token costs more than the hash */
#include <xxhash.h>

static inline uint64_t shingle_hash(const uint64_t *units, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ULL;
    for (size_t k = 0; k < n; k++)
        h = (h ^ units[k]) * 0x100000001B3ULL + (h >> 29);
    return nfi_mix64(h);
}

size_t nfi_shingle_hashes(const uint64_t *units, size_t n_units, int ngram, uint64_t *out)
{
    size_t n = (size_t)ngram;
    if (n_units < n)
        return 0;
    size_t count = n_units - n + 1;
    if (n == 5) /* the default, as a constant the compiler unrolls */
        for (size_t i = 0; i < count; i++)
            out[i] = shingle_hash(units + i, 5);
    else
        for (size_t i = 0; i < count; i++)
            out[i] = shingle_hash(units + i, n);
    return count;
}

/* Sorts v ascending (the radix sort of runs.c) and drops repeats; scratch
 * holds n values. */
static size_t sort_unique(uint64_t *v, size_t n, uint64_t *scratch)
{
    nfi_u64_sort(v, n, scratch);
    if (n < 2)
        return n;
    size_t w = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[w - 1])
            v[w++] = v[i];
    return w;
}

/* The number of distinct values, with an open-addressing set in table
 * (a power of two >= 4n slots: at a quarter full at most, an insert rarely
 * probes a second slot, so the probe loop's exit is rarely mispredicted;
 * at half full it cost twice the time). The table is all zero on entry and
 * is left all zero: the slots filled are noted in used (room for n) and
 * emptied at the end, a store per distinct value instead of clearing the
 * whole table (4-8 slots per value) for every document. */
static size_t count_distinct(const uint64_t *v, size_t n, uint64_t *table, size_t cap, uint64_t *used)
{
    size_t filled = 0;
    bool zero = false;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = v[i];
        if (x == 0) {
            zero = true;
            continue;
        }
        size_t j = (size_t)(x >> 7) & (cap - 1); /* values are mixed: any bits do */
        while (table[j] != 0 && table[j] != x)
            j = (j + 1) & (cap - 1);
        if (table[j] == 0) {
            table[j] = x;
            used[filled++] = j;
        }
    }
    for (size_t k = 0; k < filled; k++)
        table[used[k]] = 0;
    return filled + zero;
}

/* MinHash from ranks (nfi_mix64(shingle ^ seed)), see the file comment. */
static inline void minhash_add(uint32_t *sig, bool *filled, uint64_t k, uint64_t rank)
{
    uint32_t bin = (uint32_t)(((rank >> 32) * k) >> 32); /* fair bin from the high bits */
    uint32_t value = (uint32_t)rank, old = sig[bin];
    sig[bin] = value < old ? value : old; /* an empty bin holds UINT32_MAX */
    filled[bin] = true;
}

/* Optimal densification: each empty bin probes bins in its own order. */
static void minhash_densify(uint32_t *sig, const bool *filled, int perms, uint64_t seed)
{
    uint64_t k = (uint64_t)perms;
    uint32_t source[NF_SKETCH_MAX_PERMS];
    for (int i = 0; i < perms; i++) {
        if (filled[i]) {
            source[i] = sig[i];
            continue;
        }
        for (uint64_t attempt = 1;; attempt++) {
            uint64_t h = nfi_mix64(seed ^ ((uint64_t)i << 32) ^ attempt);
            uint32_t j = (uint32_t)(((h >> 32) * k) >> 32);
            if (filled[j]) {
                source[i] = sig[j];
                break;
            }
        }
    }
    memcpy(sig, source, (size_t)perms * sizeof *sig);
}

/* The ranks of n shingles (into ranks) and their MinHash, in one pass. */
static void ranks_and_minhash(const uint64_t *sh, size_t n, int perms, uint64_t seed, uint64_t *ranks, uint32_t *sig)
{
    bool filled[NF_SKETCH_MAX_PERMS];
    for (int i = 0; i < perms; i++) {
        sig[i] = UINT32_MAX;
        filled[i] = false;
    }
    for (size_t i = 0; i < n; i++) {
        ranks[i] = nfi_mix64(sh[i] ^ seed);
        minhash_add(sig, filled, (uint64_t)perms, ranks[i]);
    }
    if (n)
        minhash_densify(sig, filled, perms, seed);
}

void nfi_minhash_signature(const uint64_t *shingles, size_t n, int perms, uint64_t seed, uint32_t *sig)
{
    bool filled[NF_SKETCH_MAX_PERMS];
    for (int i = 0; i < perms; i++) {
        sig[i] = UINT32_MAX;
        filled[i] = false;
    }
    for (size_t i = 0; i < n; i++)
        minhash_add(sig, filled, (uint64_t)perms, nfi_mix64(shingles[i] ^ seed));
    if (n)
        minhash_densify(sig, filled, perms, seed);
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

/* Winnowing: writes the shingles chosen in each window of `window` ranks
 * (rightmost minimum) to out, each chosen position once; returns the count.
 * A text shorter than one window has one (partial) window. out has room
 * for one shingle per window. The minimum is kept with conditional moves
 * (a rank is smaller than the window's minimum at random, so a branch
 * there is mispredicted one time in eight) and rescanned, window wide,
 * only when it leaves the window. */
size_t nfi_winnow(const uint64_t *shingles, const uint64_t *ranks, size_t n, int window, uint64_t *out)
{
    if (n == 0)
        return 0;
    size_t w = (size_t)window < n ? (size_t)window : n, count = 0, min = 0, last = SIZE_MAX;
    uint64_t best = 0;
    for (size_t end = w; end <= n; end++) { /* the window is [end - w, end) */
        size_t start = end - w;
        if (end == w || min < start) {
            min = start;
            best = ranks[start];
            for (size_t i = start + 1; i < end; i++) {
                bool le = ranks[i] <= best;
                best = le ? ranks[i] : best;
                min = le ? i : min;
            }
        } else {
            bool le = ranks[end - 1] <= best;
            best = le ? ranks[end - 1] : best;
            min = le ? end - 1 : min;
        }
        out[count] = shingles[min]; /* kept only when the choice moved */
        count += min != last;
        last = min;
    }
    return count;
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

/* A token's units (common.h, nfi_char_unit): its norm's hash, or the
 * characters of an ideographic token one by one. */
static bool push_units(unit_vec *u, const nf_token *t, const char *s)
{
    if (t->kind != NF_TOKEN_IDEOGRAPHIC)
        return push_unit(u, XXH3_64bits(s, t->norm_len));
    bool ok = true;
    for (size_t k = 0; k < t->norm_len && ok;) {
        uint32_t cp;
        k += nfi_utf8_decode((const unsigned char *)s + k, t->norm_len - k, &cp);
        ok = push_unit(u, nfi_char_unit(cp));
    }
    return ok;
}

/* The units from the tokens, and the exact hash: XXH3-128 of the norms,
 * each followed by a space, hashed in one call over a copy (the same value
 * as feeding the pieces to a streaming state, the old way, at a fraction
 * of the per-call cost), in one pass over the tokens. A norm of up to 16
 * bytes is copied in one 16-byte move (no call) where the pool holds 16
 * bytes from its start: what it copies past the norm is overwritten by the
 * space and the next norm. A norm never holds a NUL or a space (tokens
 * are letters, digits and joiners). */
static nf_status units_and_exact(const nf_clean_doc *doc, unit_vec *u, nfi_sketch *out, nf_error *err)
{
    memset(u, 0, sizeof *u);
    u->cap = doc->n_tokens ? doc->n_tokens : 1; /* one unit per token but for ideographic ones */
    size_t cap = doc->pool_len + 32, len = 0; /* (each norm and its NUL lie apart in the pool) */
    char *text = malloc(cap);
    u->v = malloc(u->cap * sizeof *u->v);
    bool ok = text && u->v;
    /* the loop's state in locals: the text's byte stores could alias the
     * vector's fields, which were read again after every one */
    const nf_token *t = doc->tokens, *end = ok ? t + doc->n_tokens : t;
    const char *pool = doc->pool;
    size_t pool_len = doc->pool_len, n = 0, room = u->cap;
    uint64_t *v = u->v;
    for (; t < end; t++) {
        size_t norm_len = t->norm_len;
        const char *s = pool + t->norm;
        if (len + norm_len + 17 > cap) { /* (only if some norms share their bytes) */
            char *g = realloc(text, cap = 2 * cap + norm_len + 17);
            if (!(ok = g != NULL))
                break;
            text = g;
        }
        char *w = text + len;
        if (norm_len <= 16 && t->norm + (size_t)16 <= pool_len)
            memcpy(w, s, 16);
        else
            memcpy(w, s, norm_len);
        w[norm_len] = ' ';
        len += norm_len + 1;
        if (t->kind != NF_TOKEN_IDEOGRAPHIC && n < room) { /* (room but after ideographs) */
            v[n++] = XXH3_64bits(s, norm_len);
            continue;
        }
        u->n = n;
        ok = push_units(u, t, s);
        if (!ok)
            break;
        n = u->n;
        room = u->cap;
        v = u->v;
    }
    u->n = n;
    if (ok) {
        XXH128_hash_t h = XXH3_128bits(text, len);
        out->exact_lo = h.low64;
        out->exact_hi = h.high64;
    }
    free(text);
    if (!ok) {
        free(u->v);
        u->v = NULL;
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    return NF_OK;
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p *= 2;
    return p;
}

/* Samples, signature, SimHash and counts of n shingles (sh, overwritten
 * when keep_shingles) into out. table: the distinct count's set, a power
 * of two >= 4n values, all zero on entry and left so; rest: room for 2n
 * values (the ranks and the samples) apart from it. */
static nf_status sketch_shingles(uint64_t *sh, size_t n, const nfi_sketch_params *p, bool keep_shingles,
                                 uint32_t *signature, uint64_t *table, size_t table_cap, uint64_t *rest,
                                 nfi_sketch *out, nf_error *err)
{
    uint64_t *ranks = rest, *picked = rest + n;
    ranks_and_minhash(sh, n, p->perms, p->seed, ranks, signature);
    out->signature = signature;
    if (p->simhash)
        out->simhash = simhash_of(sh, n);
    size_t n_picked = nfi_winnow(sh, ranks, n, p->window, picked);
    n_picked = sort_unique(picked, n_picked, ranks); /* ranks are spent */
    out->samples = malloc((n_picked ? n_picked : 1) * sizeof *out->samples);
    if (!out->samples)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    memcpy(out->samples, picked, n_picked * sizeof *picked);
    out->n_samples = n_picked;
    if (keep_shingles) {
        out->n_shingles = sort_unique(sh, n, ranks);
        out->shingles = sh;
    } else {
        out->n_shingles = count_distinct(sh, n, table, table_cap, ranks);
    }
    return NF_OK;
}

/* scratch's buffer *v with room for n values, or NULL */
static uint64_t *scratch_room(uint64_t **v, size_t *cap, size_t n)
{
    uint64_t *g = nfi_grow_array(*v, cap, n, sizeof *g);
    if (g)
        *v = g;
    return g;
}

/* The scratch's work buffer with room for 2 * table values. Invariant:
 * the first half of scratch->work is all zero between documents (the
 * distinct count's table lies there and is left zero; ranks and samples go
 * to the second half), so only what a growth adds to that half is cleared. */
static uint64_t *scratch_work(nfi_sketch_scratch *scratch, size_t table)
{
    size_t old_half = scratch->work_cap / 2;
    uint64_t *work = scratch_room(&scratch->work, &scratch->work_cap, 2 * table);
    if (work && scratch->work_cap / 2 > old_half)
        memset(work + old_half, 0, (scratch->work_cap / 2 - old_half) * sizeof *work);
    return work;
}

nf_status nfi_sketch_doc_with(const nf_clean_doc *doc, const nfi_sketch_params *p, bool keep_shingles,
                             uint32_t *signature, nfi_sketch_scratch *scratch, nfi_sketch *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    /* the cleaner's hash mode made the units and the exact hash (the same
     * as units_and_exact's); else they come from the tokens, into an array of
     * our own */
    uint64_t *own = NULL;
    const uint64_t *units = doc->units;
    size_t n_units = doc->n_units;
    if (units) {
        out->exact_lo = doc->norms_hash[0];
        out->exact_hi = doc->norms_hash[1];
    } else {
        unit_vec uv;
        nf_status st = units_and_exact(doc, &uv, out, err);
        if (st != NF_OK)
            return st;
        units = own = uv.v;
        n_units = uv.n;
    }
    out->n_units = n_units;
    if (n_units < (size_t)p->ngram) {
        out->too_short = true;
        free(own);
        return NF_OK;
    }
    /* shingles overwrite our own unit array in place (shingle i needs
     * units i..), the cleaner's go to a new one: the scratch's unless the
     * sketch keeps them */
    size_t count = n_units - (size_t)p->ngram + 1;
    bool sh_scratch = !own && scratch && !keep_shingles;
    uint64_t *sh = own                ? own
                   : sh_scratch       ? scratch_room(&scratch->sh, &scratch->sh_cap, count)
                                      : malloc(count * sizeof *sh);
    if (!sh)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    size_t n = nfi_shingle_hashes(units, n_units, p->ngram, sh);
    size_t table = pow2_at_least(4 * n);
    uint64_t *work = scratch ? scratch_work(scratch, table) : calloc(2 * table, sizeof *work);
    uint64_t *rest = work ? work + (scratch ? scratch->work_cap / 2 : table) : NULL;
    nf_status st = work ? sketch_shingles(sh, n, p, keep_shingles, signature, work, table, rest, out, err)
                        : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (!scratch)
        free(work);
    if (!out->shingles && !sh_scratch)
        free(sh);
    return st;
}

nf_status nfi_sketch_doc(const nf_clean_doc *doc, const nfi_sketch_params *p, bool keep_shingles,
                        uint32_t *signature, nfi_sketch *out, nf_error *err)
{
    return nfi_sketch_doc_with(doc, p, keep_shingles, signature, NULL, out, err);
}

void nfi_sketch_free(nfi_sketch *s)
{
    free(s->samples);
    free(s->shingles);
    memset(s, 0, sizeof *s);
}
