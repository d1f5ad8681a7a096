/*
 * lsh.c - locality-sensitive hashing parameters and band keys.
 *
 * With b bands of r rows, two documents of Jaccard similarity s share at
 * least one band with probability P(s) = 1 - (1 - s^r)^b. For a threshold T
 * the best (b, r) with b*r <= K minimizes the false-positive mass
 * integral_0^T P(s) ds plus the false-negative mass integral_T^1 (1 - P(s)) ds
 * weighted FALSE_POSITIVE_WEIGHT : FALSE_NEGATIVE_WEIGHT, integrated
 * numerically (datasketch's criterion, with recall-heavy weights). A false
 * positive only costs one signature comparison, since every candidate is
 * verified; a false negative is a duplicate lost for good. With K = 128 and
 * T = 0.6 this gives 24 bands of 4 rows: a pair exactly at the threshold
 * becomes a candidate with probability 0.96, one at 0.65 with 0.99.
 *
 * SimHash uses the same machinery through the pigeonhole principle: split
 * the 64 bits into k+1 blocks; two hashes within Hamming distance k agree
 * exactly on at least one block, so each block is a band.
 */
#include "dedup/dedup.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define FALSE_POSITIVE_WEIGHT 0.05
#define FALSE_NEGATIVE_WEIGHT 0.95

/* The weighted error mass of every (b, r) with b * r <= perms, minimized
 * over a 200-point midpoint rule. For each r the points' s^r are computed
 * once; (1 - s^r)^b then follows b by one multiplication a step, so the
 * search costs O(perms log perms x 200) multiplications instead of as many
 * pow() calls (it ran once per process and cost as much as 35 ms). */
#define STEPS 200

void nf_lsh_params(double threshold, int perms, int *bands, int *rows)
{
    double best = INFINITY;
    *bands = 1;
    *rows = perms;
    double h_fp = threshold / STEPS, h_fn = (1.0 - threshold) / STEPS;
    double x_fp[STEPS], x_fn[STEPS], y_fp[STEPS], y_fn[STEPS];
    for (int r = 1; r <= perms; r++) {
        for (int i = 0; i < STEPS; i++) {
            x_fp[i] = 1.0 - pow((i + 0.5) * h_fp, r);
            x_fn[i] = 1.0 - pow(threshold + (i + 0.5) * h_fn, r);
            y_fp[i] = y_fn[i] = 1.0;
        }
        for (int b = 1; b * r <= perms; b++) {
            double fp = 0, fn = 0; /* P(s) = 1 - (1 - s^r)^b below and above the threshold */
            for (int i = 0; i < STEPS; i++) {
                y_fp[i] *= x_fp[i];
                y_fn[i] *= x_fn[i];
                fp += (1.0 - y_fp[i]) * h_fp;
                fn += y_fn[i] * h_fn;
            }
            double cost = FALSE_POSITIVE_WEIGHT * fp + FALSE_NEGATIVE_WEIGHT * fn;
            if (cost < best - 1e-12 || (fabs(cost - best) <= 1e-12 && b < *bands)) { /* ties: fewest bands */
                best = cost;
                *bands = b;
                *rows = r;
            }
        }
    }
}

uint64_t nfi_band_key(const uint32_t *signature, int band, int rows)
{
    return XXH3_64bits_withSeed(signature + (size_t)band * (size_t)rows, (size_t)rows * sizeof *signature,
                                (uint64_t)band + 1);
}

uint64_t nfi_simhash_block_key(uint64_t simhash, int block, int n_blocks)
{
    int width = 64 / n_blocks, start = block * width;
    int end = block == n_blocks - 1 ? 64 : start + width;
    uint64_t mask = end - start == 64 ? ~0ULL : ((1ULL << (end - start)) - 1) << start;
    return XXH3_64bits_withSeed(&(uint64_t){simhash & mask}, sizeof(uint64_t), 0x5100ULL + (uint64_t)block);
}

/* ------------------------------------------------------------ candidate pairs
 *
 * Documents sharing a band key, or a containment sample, become candidate
 * pairs; verification needs, per distinct pair, whether a band was shared
 * and how many samples were. Band groups and the rare large sample groups
 * (more than BAND_CLIQUE_MAX documents: chain + star instead of all pairs)
 * emit explicit (pair, kind) records into an external sorter. The many
 * small sample groups do not: text that shares passages (each sentence of
 * the recombined benchmark corpus is in about 6 documents) makes millions
 * of pair records, and sorting them was a fifth of the run. Instead the
 * small groups are kept as member lists, each document gets the list of
 * groups it is in (compressed rows), and pairs are counted document by
 * document: for each a, every later member b of each of a's groups adds one
 * to a counter indexed by b, the explicit records of a are added, and every
 * touched b is one candidate. Counters are one array over the documents,
 * hot in cache, and nothing is sorted. Memory: the kept groups are
 * bounded by the budget; when they do not fit, they go to a temporary file
 * and the first documents are cut into ranges, each reading the file back
 * and keeping what it needs.
 *
 * Pairs reach the visitor grouped by their first document, ascending; the
 * counts do not depend on the memory limit or the order of the walk.
 */

#define BAND_CLIQUE_MAX 48 /* larger groups: chain + star */
#define SAMPLE_DF_MAX 64   /* samples in more documents are ignored */
#define GROUP_END UINT32_MAX
#define BANDED NFI_PAIR_BANDED /* counter bit: the pair shares a band key */
#define RECORD_WORDS 4     /* an explicit pair record, in 32-bit words */
#define CHUNK_DOCS 256     /* first documents per parallel task */
#define PREFETCH_AHEAD 8   /* rows (and candidates) asked for ahead of their use */
enum { KIND_BAND = 0, KIND_SAMPLE = 1 }; /* in the low bit of a pair record */

static bool is_new_pair(const nf_dedup *d, uint32_t a, uint32_t b)
{
    return a >= d->n_index_docs || b >= d->n_index_docs;
}

typedef nf_status (*group_fn)(void *ctx, const uint32_t *g, size_t n, nf_error *err);

/* Calls fn with the documents (ascending, each once) of every key of a
 * finished sorter that more than one and at most max_group documents share. */
static nf_status walk_groups(nfi_runs *src, size_t max_group, group_fn fn, void *ctx, nf_error *err)
{
    size_t cap = 64, n = 0;
    uint32_t *group = malloc(cap * sizeof *group);
    if (!group)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nf_status st = NF_OK;
    nfi_kv kv;
    uint64_t key = 0;
    bool overflow = false;
    while (st == NF_OK) {
        int more = nfi_runs_next(src, &kv);
        if (!more || kv.key != key) {
            if (n > 1 && !overflow)
                st = fn(ctx, group, n, err);
            n = 0;
            overflow = false;
            if (!more)
                break;
            key = kv.key;
        }
        if (n >= max_group) {
            overflow = true;
            continue;
        }
        if (n == cap) {
            uint32_t *g = realloc(group, (cap *= 2) * sizeof *g);
            if (!g) {
                st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
                break;
            }
            group = g;
        }
        if (n == 0 || group[n - 1] != (uint32_t)kv.val) /* a doc repeats a key in several bands */
            group[n++] = (uint32_t)kv.val;
    }
    free(group);
    if (st == NF_OK && nfi_runs_failed(src, err))
        st = NF_ERR_IO;
    return st;
}

typedef struct cand_search {
    const nf_dedup *d;
    nfi_runs *pairs;     /* band pairs and pairs of large sample groups */
    bool keep_all;       /* the first walk keeps every group while they fit */
    uint32_t *weight;    /* per document: a bound on the words a range spends on it */
    uint64_t words;      /* all small groups' words, and the explicit records' */
    uint32_t lo, hi;     /* the range of first documents being counted */
    uint64_t budget;     /* words for the kept groups and their rows */
    uint32_t *mem;       /* kept groups, each followed by GROUP_END */
    size_t n_mem, cap_mem;
    FILE *groups;        /* every small group (length, members), when they do not fit */
    nfi_kv *recs;        /* the explicit pair records of [lo, hi) */
    size_t n_recs, cap_recs;
    uint32_t *row, *at;  /* see build_rows */
} cand_search;

/* One explicit pair record; the first walk weighs it for its first document. */
static nf_status emit_pair(cand_search *c, uint32_t a, uint32_t b, uint64_t kind, nf_error *err)
{
    if (a == b || !is_new_pair(c->d, a, b)) /* index pairs were verified in their own run */
        return NF_OK;
    if (a > b) {
        uint32_t t = a;
        a = b;
        b = t;
    }
    c->words += RECORD_WORDS;
    c->weight[a] = c->weight[a] + RECORD_WORDS < UINT32_MAX ? c->weight[a] + RECORD_WORDS : UINT32_MAX;
    /* the kind rides in the key's lowest bit and the value is constant, so
     * the sorter skips the value's radix passes */
    return nfi_runs_add(c->pairs, (uint64_t)a << 33 | (uint64_t)b << 1 | kind, 0, err);
}

/* The pairs of one key group (ascending documents): all pairs when small,
 * else chain + star. The one implementation of the rule: the engine and
 * the distributed finish (nfi_dedup_key_pairs) both call it. */
static nf_status group_pairs(const uint32_t *g, size_t n, bool band, nfi_group_pair_fn fn, void *ctx, nf_error *err)
{
    nf_status st = NF_OK;
    if (n <= BAND_CLIQUE_MAX) {
        for (size_t i = 0; i < n && st == NF_OK; i++)
            for (size_t j = i + 1; j < n && st == NF_OK; j++)
                st = fn(ctx, g[i], g[j], band, err);
        return st;
    }
    for (size_t i = 1; i < n && st == NF_OK; i++) {
        st = fn(ctx, g[i - 1], g[i], band, err);
        if (st == NF_OK && i > 1)
            st = fn(ctx, g[0], g[i], band, err);
    }
    return st;
}

static nf_status emit_pair_fn(void *ctx, uint32_t a, uint32_t b, bool band, nf_error *err)
{
    return emit_pair(ctx, a, b, band ? KIND_BAND : KIND_SAMPLE, err);
}

static nf_status emit_group(cand_search *c, const uint32_t *g, size_t n, uint64_t kind, nf_error *err)
{
    return group_pairs(g, n, kind == KIND_BAND, emit_pair_fn, c, err);
}

static nf_status band_group(void *ctx, const uint32_t *g, size_t n, nf_error *err)
{
    return emit_group(ctx, g, n, KIND_BAND, err);
}

static nf_status write_group(cand_search *c, const uint32_t *g, size_t n, nf_error *err)
{
    uint32_t len = (uint32_t)n;
    if (fwrite(&len, sizeof len, 1, c->groups) != 1 || fwrite(g, sizeof *g, n, c->groups) != n)
        return nfi_fail(err, NF_ERR_IO, "cannot write sample groups to a temporary file (disk full?)");
    return NF_OK;
}

/* The groups kept so far no longer fit in one range: they move to a
 * temporary file, which each range reads back (sequentially: much cheaper
 * than merging the sample runs again). */
static nf_status spill_groups(cand_search *c, nf_error *err)
{
    c->keep_all = false;
    if (!(c->groups = nfi_temp_file(c->d->opt.tmp_dir, "newsfold-groups")))
        return nfi_fail(err, NF_ERR_IO, "cannot create a temporary file for sample groups");
    nf_status st = NF_OK;
    for (size_t q = 0, start = 0; q < c->n_mem && st == NF_OK; q++)
        if (c->mem[q] == GROUP_END) {
            st = write_group(c, c->mem + start, q - start, err);
            start = q + 1;
        }
    free(c->mem);
    c->mem = NULL;
    c->n_mem = c->cap_mem = 0;
    return st;
}

/* Keeps what a range needs of a group: the members from the first one in
 * [lo, hi) that has a later one, to the end. */
static nf_status keep_group(cand_search *c, const uint32_t *g, size_t n, nf_error *err)
{
    size_t j = 0;
    while (j + 1 < n && (g[j] < c->lo || g[j] >= c->hi))
        j++;
    if (j + 1 >= n)
        return NF_OK;
    uint32_t *m = nfi_grow_array(c->mem, &c->cap_mem, c->n_mem + n - j + 1, sizeof *m);
    if (!m)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    c->mem = m;
    memcpy(m + c->n_mem, g + j, (n - j) * sizeof *g);
    c->n_mem += n - j;
    m[c->n_mem++] = GROUP_END;
    return NF_OK;
}

/* First walk: every small group's words are counted (2n: n members and the
 * end mark, n - 1 row entries), and each member is charged what a range
 * starting at it would keep (the suffix from it, and its row entry): the
 * sum over a range bounds what the range keeps. The groups stay in memory
 * while everything fits, else go to the group file. */
static nf_status sample_group(void *ctx, const uint32_t *g, size_t n, nf_error *err)
{
    cand_search *c = ctx;
    if (n > BAND_CLIQUE_MAX)
        return emit_group(c, g, n, KIND_SAMPLE, err);
    if (g[n - 1] < c->d->n_index_docs) /* index documents only: no new pair */
        return NF_OK;
    c->words += 2 * (uint64_t)n;
    for (size_t i = 0; i + 1 < n; i++) {
        uint64_t w = (uint64_t)c->weight[g[i]] + (n - i + 1) + 1;
        c->weight[g[i]] = w < UINT32_MAX ? (uint32_t)w : UINT32_MAX;
    }
    nf_status st = NF_OK;
    if (c->keep_all && c->words + c->d->n_docs > c->budget)
        st = spill_groups(c, err);
    if (st != NF_OK)
        return st;
    return c->keep_all ? keep_group(c, g, n, err) : write_group(c, g, n, err);
}

/* Reads the group file back, keeping what the range [lo, hi) needs. */
static nf_status read_groups(cand_search *c, nf_error *err)
{
    c->n_mem = 0;
    if (fflush(c->groups) != 0 || fseek(c->groups, 0, SEEK_SET) != 0)
        return nfi_fail(err, NF_ERR_IO, "cannot read sample groups back from a temporary file");
    uint32_t n, g[BAND_CLIQUE_MAX];
    nf_status st = NF_OK;
    while (st == NF_OK && fread(&n, sizeof n, 1, c->groups) == 1) {
        if (n > BAND_CLIQUE_MAX || fread(g, sizeof *g, n, c->groups) != n)
            return nfi_fail(err, NF_ERR_IO, "cannot read sample groups back from a temporary file");
        st = keep_group(c, g, n, err);
    }
    if (st == NF_OK && ferror(c->groups))
        st = nfi_fail(err, NF_ERR_IO, "cannot read sample groups back from a temporary file");
    return st;
}

/* The rows of documents [lo, hi): row[k]..row[k + 1] index `at`, whose
 * entries are the positions in mem of document lo + k in its groups
 * (those where a later member follows). */
static nf_status build_rows(cand_search *c, nf_error *err)
{
    size_t span = c->hi - c->lo;
    uint32_t *row = calloc(span + 1, sizeof *row);
    if (!row)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t q = 0; q + 1 < c->n_mem; q++)
        if (c->mem[q] != GROUP_END && c->mem[q + 1] != GROUP_END && c->mem[q] >= c->lo && c->mem[q] < c->hi)
            row[c->mem[q] - c->lo + 1]++;
    for (size_t k = 0; k < span; k++)
        row[k + 1] += row[k];
    uint32_t *at = malloc((row[span] ? row[span] : 1) * sizeof *at);
    if (!at) {
        free(row);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    for (size_t q = 0; q + 1 < c->n_mem; q++) /* row[k] ends as the start of k + 1 */
        if (c->mem[q] != GROUP_END && c->mem[q + 1] != GROUP_END && c->mem[q] >= c->lo && c->mem[q] < c->hi)
            at[row[c->mem[q] - c->lo]++] = (uint32_t)q;
    memmove(row + 1, row, span * sizeof *row);
    row[0] = 0;
    c->row = row;
    c->at = at;
    return NF_OK;
}

/* Reads the explicit records of documents below c->hi (the stream is
 * sorted by first document; *next is its next record). */
static nf_status load_records(cand_search *c, nfi_kv *next, bool *have, nf_error *err)
{
    c->n_recs = 0;
    for (; *have && next->key >> 33 < c->hi; *have = nfi_runs_next(c->pairs, next) == 1) {
        nfi_kv *r = nfi_grow_array(c->recs, &c->cap_recs, c->n_recs + 1, sizeof *r);
        if (!r)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        c->recs = r;
        c->recs[c->n_recs++] = *next;
    }
    return NF_OK;
}

/* One thread's counting state. */
typedef struct counter {
    uint32_t *count;   /* per document: shared samples | BANDED; 0 = untouched */
    uint32_t *touched; /* documents with a nonzero count: room for every document */
    uint32_t *counts;  /* their counts, as visit gets them: as much room */
    size_t n_touched;
    size_t n_pairs;
    void *user;        /* the caller's worker, handed to visit */
} counter;

/* A document is touched at most once per first document, so touched
 * never overflows and the loop has no growth test. b is written to the
 * next slot every time and kept only on its first touch: no branch, which
 * on shared sentences (a first touch about one time in two) would be
 * mispredicted at random. */
static inline void touch(counter *k, uint32_t b, uint32_t add)
{
    uint32_t v = k->count[b];
    k->touched[k->n_touched] = b;
    k->n_touched += v == 0;
    k->count[b] = add == BANDED ? v | BANDED : v + add;
}

typedef struct count_job {
    const cand_search *c;
    nfi_pair_visit visit;
    void *ctx;
} count_job;

/* The first record of document a or later in the sorted records. */
static size_t first_record(const cand_search *c, uint32_t a)
{
    size_t lo = 0, hi = c->n_recs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->recs[mid].key >> 33 < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Task: counts and visits the pairs of first documents in one chunk. */
static nf_status count_chunk(void *ctx, void *worker, size_t chunk, nf_error *err)
{
    const count_job *j = ctx;
    const cand_search *c = j->c;
    counter *k = worker;
    const nf_dedup *d = c->d;
    uint32_t start = c->lo + (uint32_t)(chunk * CHUNK_DOCS);
    uint32_t end = c->hi - start > CHUNK_DOCS ? start + CHUNK_DOCS : c->hi;
    size_t r = first_record(c, start);
    uint32_t rows_end = c->row[c->hi - c->lo]; /* prefetches stay below it */
    nf_status st = NF_OK;
    for (uint32_t a = start; a < end && st == NF_OK; a++) {
        k->n_touched = 0;
        for (; r < c->n_recs && c->recs[r].key >> 33 == a; r++)
            touch(k, (uint32_t)(c->recs[r].key >> 1), (c->recs[r].key & 1) == KIND_BAND ? BANDED : 1);
        bool old = a < d->n_index_docs;
        for (uint32_t p = c->row[a - c->lo]; p < c->row[a - c->lo + 1]; p++) {
            /* the groups lie in key order, so each row entry is a jump in
             * mem: a cache miss, hidden by asking for one a few rows ahead */
            if (p + PREFETCH_AHEAD < rows_end)
                __builtin_prefetch(c->mem + c->at[p + PREFETCH_AHEAD] + 1);
            for (const uint32_t *b = c->mem + c->at[p] + 1; *b != GROUP_END; b++)
                if (!old || *b >= d->n_index_docs)
                    touch(k, *b, 1);
        }
        for (size_t i = 0; i < k->n_touched; i++) {
            k->counts[i] = k->count[k->touched[i]];
            k->count[k->touched[i]] = 0;
        }
        if (k->n_touched)
            st = j->visit(j->ctx, k->user, a, k->touched, k->counts, k->n_touched, err);
        k->n_pairs += k->n_touched;
    }
    return st;
}

/* Counts and visits the pairs whose first document is in [c->lo, c->hi),
 * a chunk of first documents per task. */
static nf_status count_range(cand_search *c, counter *workers, int threads, const count_job *job, nf_error *err)
{
    nf_status st = build_rows(c, err);
    size_t chunks = (c->hi - c->lo + CHUNK_DOCS - 1) / CHUNK_DOCS;
    if (st == NF_OK)
        st = nfi_parallel_for(chunks, workers, sizeof *workers, threads, count_chunk, (void *)job, err);
    free(c->row);
    free(c->at);
    c->row = c->at = NULL;
    return st;
}

/* The end of the range starting at lo whose groups fit in budget words (at
 * least one document). */
static uint32_t range_end(const cand_search *c, uint32_t lo, uint64_t budget)
{
    uint64_t used = 0;
    uint32_t hi = lo;
    while (hi < c->d->n_docs && (hi == lo || used + c->weight[hi] + 1 <= budget))
        used += c->weight[hi++] + 1;
    return hi;
}

nf_status nfi_dedup_candidates(const nf_dedup *d, size_t mem_bytes, nfi_pair_visit visit, void *ctx, void *workers,
                               size_t worker_size, size_t *n_pairs, nf_error *err)
{
    *n_pairs = 0;
    size_t n_docs = d->n_docs;
    int threads = d->opt.threads > 0 ? d->opt.threads : 1;
    cand_search c = {.d = d, .keep_all = true, .lo = 0, .hi = (uint32_t)n_docs};
    c.budget = mem_bytes / 2 / sizeof(uint32_t);
    if (c.budget > UINT32_MAX / 2) /* positions in mem are 32-bit */
        c.budget = UINT32_MAX / 2;
    counter *k = calloc((size_t)threads, sizeof *k);
    nf_status st = nfi_runs_new(&c.pairs, mem_bytes / 2 ? mem_bytes / 2 : 1, d->opt.tmp_dir, err);
    if (st == NF_OK)
        nfi_runs_set_threads(c.pairs, threads);
    c.weight = calloc(n_docs ? n_docs : 1, sizeof *c.weight);
    if (st == NF_OK && (!c.weight || !k))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (int t = 0; t < threads && st == NF_OK; t++) {
        k[t].user = (char *)workers + (size_t)t * worker_size;
        k[t].count = calloc(n_docs ? n_docs : 1, sizeof *k[t].count);
        k[t].touched = malloc((n_docs + 1) * sizeof *k[t].touched); /* touch writes one past the kept */
        k[t].counts = malloc((n_docs ? n_docs : 1) * sizeof *k[t].counts);
        if (!k[t].count || !k[t].touched || !k[t].counts)
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    if (st == NF_OK && (st = nfi_runs_finish(d->band_runs, err)) == NF_OK)
        st = walk_groups(d->band_runs, SIZE_MAX, band_group, &c, err);
    if (st == NF_OK && (st = nfi_runs_finish(d->sample_runs, err)) == NF_OK)
        st = walk_groups(d->sample_runs, SAMPLE_DF_MAX, sample_group, &c, err);
    nfi_kv next = {0, 0};
    bool have = false;
    if (st == NF_OK && (st = nfi_runs_finish(c.pairs, err)) == NF_OK)
        have = nfi_runs_next(c.pairs, &next) == 1;
    if (st == NF_OK && c.keep_all && c.words + n_docs > c.budget) /* the explicit records alone */
        st = spill_groups(&c, err);
    count_job job = {&c, visit, ctx};
    for (uint32_t lo = 0; lo < n_docs && st == NF_OK; lo = c.hi) {
        c.lo = lo;
        if (!c.keep_all) { /* read this range's groups back */
            c.hi = range_end(&c, lo, c.budget);
            st = read_groups(&c, err);
        }
        if (st == NF_OK && (st = load_records(&c, &next, &have, err)) == NF_OK)
            st = count_range(&c, k, threads, &job, err);
    }
    if (st == NF_OK && nfi_runs_failed(c.pairs, err))
        st = NF_ERR_IO;
    for (int t = 0; k && t < threads; t++) {
        *n_pairs += k[t].n_pairs;
        free(k[t].count);
        free(k[t].touched);
        free(k[t].counts);
    }
    free(k);
    nfi_runs_free(c.pairs);
    free(c.weight);
    free(c.mem);
    free(c.recs);
    if (c.groups)
        fclose(c.groups);
    return st;
}

/* ------------------------------------------------------------ one key's pairs */

typedef struct key_pairs {
    bool band;
    nfi_group_pair_fn emit;
    void *ctx;
} key_pairs;

static nf_status key_group(void *ctx, const uint32_t *g, size_t n, nf_error *err)
{
    const key_pairs *k = ctx;
    return group_pairs(g, n, k->band, k->emit, k->ctx, err);
}

nf_status nfi_dedup_key_pairs(nfi_runs *runs, bool band, nfi_group_pair_fn emit, void *ctx, nf_error *err)
{
    key_pairs k = {band, emit, ctx};
    return walk_groups(runs, band ? SIZE_MAX : SAMPLE_DF_MAX, key_group, &k, err);
}
