/*
 * dedup.c - exact, near and partial duplicate detection at corpus scale.
 *
 * Pipeline (each stage bounded in memory):
 *   1. sketch   nf_dedup_add sketches documents on worker threads (sketch.c),
 *               then appends them in input order: metadata to an array
 *               (48 bytes per document plus its id), the signature to a
 *               temporary file, band keys and containment samples to two
 *               external sorters (runs.c). A document whose exact hash was
 *               seen before is linked to that first occurrence at once and
 *               emits no keys: mass copies cost nothing downstream.
 *   2. bands    documents sharing a band key become candidate pairs. A key
 *               shared by many documents (mass copies) yields a chain plus a
 *               star instead of all pairs, which keeps the pair count linear
 *               and still connects every copy.
 *   3. samples  documents sharing content-defined shingle samples become
 *               containment candidates, with the number of shared samples;
 *               very frequent samples (boilerplate phrases) are ignored.
 *   4. verify   every candidate is checked: exact (same 128-bit hash of the
 *               normalized token stream), near (estimated Jaccard from the
 *               full signature, or exact Jaccard of shingle sets with
 *               exact_verify; SimHash: Hamming distance), contained (shared
 *               samples / samples of the smaller document).
 *   5. group    union-find over verified pairs. The canonical member is a
 *               document of the index when the group has one (a new copy
 *               never displaces an indexed original), then the earliest
 *               published, then the longest, then the smallest id;
 *               each member gets its relation and score to the canonical.
 * Everything is visited in sorted key order, so the result is identical for
 * any thread count and any memory limit.
 */
#include "dedup/dedup.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIN_SAMPLES_CONTAINED 4 /* fewer samples cannot support a containment claim */
#define WINNOW_WINDOW 8   /* containment samples: see sketch.c */
#define NEAR_SAMPLE_DIVISOR 4                       /* see verify_pair and sample_floor */
#define NEAR_SAMPLE_SHARE (1.0 / NEAR_SAMPLE_DIVISOR) /* 0.25, exactly */
#define SKETCH_SEED 0x6E657773666F6C64ULL /* "newsfold" */

static const char *const relation_names[] = {"unique", "canonical", "exact", "near", "contained"};

const char *nf_relation_name(nf_relation r)
{
    return (unsigned)r < sizeof relation_names / sizeof *relation_names ? relation_names[r] : "unknown";
}

void nf_dedup_options_default(nf_dedup_options *o)
{
    memset(o, 0, sizeof *o);
    o->method = NF_DEDUP_MINHASH;
    o->threshold = 0.6;
    o->containment = 0.8;
    o->ngram = 5;
    o->perms = 128;
    o->hamming = 3;
    o->mem_limit = 512u << 20;
    o->threads = 1;
}

static nf_status check_options(const nf_dedup_options *o, nf_error *err)
{
    if (o->threshold <= 0 || o->threshold > 1)
        return nfi_fail(err, NF_ERR_ARG, "threshold must be in (0, 1], not %g", o->threshold);
    if (o->containment <= 0 || o->containment > 1)
        return nfi_fail(err, NF_ERR_ARG, "containment threshold must be in (0, 1], not %g", o->containment);
    if (o->ngram < 1 || o->ngram > 32)
        return nfi_fail(err, NF_ERR_ARG, "shingle size must be 1..32, not %d", o->ngram);
    if (o->perms < 8 || o->perms > NF_SKETCH_MAX_PERMS)
        return nfi_fail(err, NF_ERR_ARG, "permutations must be 8..%d, not %d", NF_SKETCH_MAX_PERMS, o->perms);
    if (o->hamming < 0 || o->hamming > 15)
        return nfi_fail(err, NF_ERR_ARG, "Hamming distance must be 0..15, not %d", o->hamming);
    return NF_OK;
}

nf_status nf_dedup_new(nf_dedup **out, const nf_dedup_options *options, nf_error *err)
{
    *out = NULL;
    nf_dedup_options o;
    if (options)
        o = *options;
    else
        nf_dedup_options_default(&o);
    nf_status st = check_options(&o, err);
    if (st != NF_OK)
        return st;
    nf_dedup *d = calloc(1, sizeof *d);
    if (!d)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    d->opt = o;
    if (d->opt.threads < 1)
        d->opt.threads = 1;
    d->params = (nfi_sketch_params){o.ngram, o.perms, WINNOW_WINDOW, SKETCH_SEED, o.method == NF_DEDUP_SIMHASH};
    if (o.method == NF_DEDUP_SIMHASH) {
        d->bands = o.hamming + 1;
        d->rows = 0;
    } else {
        nf_lsh_params(o.threshold, o.perms, &d->bands, &d->rows);
    }
    nfi_buf_init(&d->ids);
    size_t run_mem = o.mem_limit / 3 ? o.mem_limit / 3 : 1;
    d->sig_file = nfi_temp_file(o.tmp_dir, "newsfold-sig");
    if (o.exact_verify)
        d->shingle_file = nfi_temp_file(o.tmp_dir, "newsfold-sig");
    if (o.index_dir)
        d->sample_file = nfi_temp_file(o.tmp_dir, "newsfold-sig");
    if (!d->sig_file || (o.exact_verify && !d->shingle_file) || (o.index_dir && !d->sample_file)) {
        nf_dedup_free(d);
        return nfi_fail(err, NF_ERR_IO, "cannot create temporary files for signatures");
    }
    if ((st = nfi_runs_new(&d->band_runs, run_mem, o.tmp_dir, err)) != NF_OK ||
        (st = nfi_runs_new(&d->sample_runs, run_mem, o.tmp_dir, err)) != NF_OK ||
        (o.index_dir && (st = nfi_index_load(d, err)) != NF_OK)) {
        nf_dedup_free(d);
        return st;
    }
    nfi_runs_set_threads(d->band_runs, d->opt.threads);
    nfi_runs_set_threads(d->sample_runs, d->opt.threads);
    *out = d;
    return NF_OK;
}

void nf_dedup_free(nf_dedup *d)
{
    if (!d)
        return;
    free(d->docs);
    free(d->simhashes);
    free(d->shingle_offs);
    nfi_buf_free(&d->ids);
    if (d->sig_file)
        fclose(d->sig_file);
    if (d->shingle_file)
        fclose(d->shingle_file);
    if (d->sample_file)
        fclose(d->sample_file);
    nfi_runs_free(d->band_runs);
    nfi_runs_free(d->sample_runs);
    nfi_index_close(d);
    free(d->index_edges);
    free(d->exact_docs);
    free(d->exact_edges);
    free(d);
}

/* ------------------------------------------------------------ sketching */

static int32_t published_key(const char *date)
{
    if (!date || strlen(date) < 10)
        return INT32_MAX;
    int y = atoi(date), m = atoi(date + 5), dd = atoi(date + 8);
    return (y > 0 && m > 0 && dd > 0) ? y * 10000 + m * 100 + dd : INT32_MAX;
}

/* Looks the document's exact hash up; a repeat gets an exact edge to the
 * first occurrence (*seen = true). */
static nf_status first_occurrence(nf_dedup *d, uint32_t index, bool *seen, nf_error *err)
{
    *seen = false;
    if ((d->exact_count + 1) * 2 > d->exact_cap) {
        size_t cap = d->exact_cap ? d->exact_cap * 2 : 1024;
        uint32_t *docs = malloc(cap * sizeof *docs);
        if (!docs)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        memset(docs, 0xFF, cap * sizeof *docs);
        for (size_t i = 0; i < d->exact_cap; i++) {
            if (d->exact_docs[i] == UINT32_MAX)
                continue;
            size_t j = d->docs[d->exact_docs[i]].exact_lo & (cap - 1);
            while (docs[j] != UINT32_MAX)
                j = (j + 1) & (cap - 1);
            docs[j] = d->exact_docs[i];
        }
        free(d->exact_docs);
        d->exact_docs = docs;
        d->exact_cap = cap;
    }
    const doc_meta *m = &d->docs[index];
    size_t j = m->exact_lo & (d->exact_cap - 1);
    for (; d->exact_docs[j] != UINT32_MAX; j = (j + 1) & (d->exact_cap - 1)) {
        const doc_meta *first = &d->docs[d->exact_docs[j]];
        if (first->exact_lo != m->exact_lo || first->exact_hi != m->exact_hi)
            continue;
        *seen = true;
        nfi_edge *e = nfi_grow_array(d->exact_edges, &d->cap_exact_edges, d->n_exact_edges + 1, sizeof *e);
        if (!e)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        d->exact_edges = e;
        d->exact_edges[d->n_exact_edges++] = (nfi_edge){d->exact_docs[j], index, NF_REL_EXACT, 1.0f};
        return NF_OK;
    }
    d->exact_docs[j] = index;
    d->exact_count++;
    return NF_OK;
}

/* The signature stored for a document without one (too short). */
static const uint32_t zero_sig[NF_SKETCH_MAX_PERMS];

/* Room for one more document in docs and the side arrays in use. */
static bool grow_docs(nf_dedup *d)
{
    if (d->n_docs < d->cap_docs)
        return true;
    size_t cap = d->cap_docs;
    doc_meta *docs = nfi_grow_array(d->docs, &cap, d->n_docs + 1, sizeof *docs);
    if (!docs)
        return false;
    d->docs = docs;
    uint64_t **side[] = {d->opt.method == NF_DEDUP_SIMHASH ? &d->simhashes : NULL,
                         d->opt.exact_verify ? &d->shingle_offs : NULL};
    for (size_t k = 0; k < sizeof side / sizeof *side; k++) {
        if (!side[k])
            continue;
        uint64_t *v = realloc(*side[k], cap * sizeof *v);
        if (!v)
            return false; /* cap_docs unchanged: the next call grows them again */
        *side[k] = v;
    }
    d->cap_docs = cap;
    return true;
}

nf_status nfi_dedup_store(nf_dedup *d, const char *id, const nfi_sketch *s, const uint32_t *signature,
                         uint32_t text_len, int32_t published, uint32_t flags, nf_error *err)
{
    if (d->n_docs >= (size_t)INT32_MAX) /* candidate keys hold two numbers and a bit */
        return nfi_fail(err, NF_ERR_ARG, "more than 2 billion documents");
    if (!grow_docs(d))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    size_t index = d->n_docs;
    doc_meta *m = &d->docs[d->n_docs++];
    *m = (doc_meta){s->exact_lo, s->exact_hi, d->ids.len, (uint32_t)s->n_shingles, (uint32_t)s->n_samples,
                    text_len,    published,   flags};
    if (d->simhashes)
        d->simhashes[index] = s->simhash;
    if (d->shingle_offs)
        d->shingle_offs[index] = d->shingle_bytes;
    nfi_buf_append(&d->ids, id, strlen(id) + 1);
    const uint32_t *sig = signature ? signature : zero_sig;
    if (fwrite(sig, sizeof *sig, (size_t)d->opt.perms, d->sig_file) != (size_t)d->opt.perms)
        return nfi_fail(err, NF_ERR_IO, "cannot write signatures to a temporary file (disk full?)");
    if (d->shingle_file && s->shingles) {
        if (fwrite(s->shingles, sizeof *s->shingles, s->n_shingles, d->shingle_file) != s->n_shingles)
            return nfi_fail(err, NF_ERR_IO, "cannot write shingles to a temporary file (disk full?)");
        d->shingle_bytes += s->n_shingles * sizeof *s->shingles;
    }
    if (d->sample_file && s->n_samples) {
        if (fwrite(s->samples, sizeof *s->samples, s->n_samples, d->sample_file) != s->n_samples)
            return nfi_fail(err, NF_ERR_IO, "cannot write samples to a temporary file (disk full?)");
        d->sample_bytes += s->n_samples * sizeof *s->samples;
    }
    if (d->ids.oom)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return NF_OK;
}

uint64_t nfi_dedup_band_key(const nf_dedup *d, const uint32_t *signature, uint64_t simhash, int band)
{
    return d->opt.method == NF_DEDUP_SIMHASH ? nfi_simhash_block_key(simhash, band, d->bands)
                                             : nfi_band_key(signature, band, d->rows);
}

nf_status nfi_dedup_append(nf_dedup *d, const char *id, const nfi_sketch *s, const uint32_t *signature,
                          uint32_t text_len, int32_t published, uint32_t flags, nf_error *err)
{
    nf_status st = nfi_dedup_store(d, id, s, signature, text_len, published, flags, err);
    if (st != NF_OK || (flags & (DOC_TOO_SHORT | DOC_EMPTY)))
        return st;
    uint32_t index = (uint32_t)(d->n_docs - 1);
    const uint32_t *sig = signature ? signature : zero_sig;
    bool seen;
    st = first_occurrence(d, index, &seen, err);
    if (st != NF_OK || seen)
        return st;
    for (int b = 0; b < d->bands && st == NF_OK; b++)
        st = nfi_runs_add(d->band_runs, nfi_dedup_band_key(d, sig, s->simhash, b), index, err);
    for (size_t i = 0; i < s->n_samples && st == NF_OK; i++)
        st = nfi_runs_add(d->sample_runs, s->samples[i], index, err);
    return st;
}

typedef struct sketch_ctx {
    const nf_dedup *d;
    const nf_clean_doc *docs;
    nfi_dedup_item *items;
} sketch_ctx;

static nf_status sketch_task(void *ctx, void *worker, size_t i, nf_error *err)
{
    sketch_ctx *c = ctx;
    const nf_clean_doc *cd = &c->docs[i];
    nfi_dedup_item *it = &c->items[i];
    it->id = cd->doc.id;
    it->text_len = (uint32_t)cd->text_len;
    it->published = published_key(cd->published);
    it->signature = malloc((size_t)c->d->opt.perms * sizeof *it->signature);
    if (!it->signature)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nf_status st =
        nfi_sketch_doc_with(cd, &c->d->params, c->d->opt.exact_verify, it->signature, worker, &it->sketch, err);
    it->flags = cd->n_tokens == 0 ? DOC_EMPTY : it->sketch.too_short ? DOC_TOO_SHORT : 0;
    return st;
}

nf_status nfi_dedup_sketch(const nf_dedup *d, const nf_clean_doc *docs, size_t n, nfi_dedup_item *out,
                           nf_error *err)
{
    memset(out, 0, n * sizeof *out);
    sketch_ctx c = {d, docs, out};
    /* each thread's shingle and work buffers serve all its documents */
    int threads = d->opt.threads > 0 ? d->opt.threads : 1;
    nfi_sketch_scratch *scratch = calloc((size_t)threads, sizeof *scratch);
    if (!scratch)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nf_status st = nfi_parallel_for(n, scratch, sizeof *scratch, threads, sketch_task, &c, err);
    for (int t = 0; t < threads; t++) {
        free(scratch[t].sh);
        free(scratch[t].work);
    }
    free(scratch);
    return st;
}

nf_status nfi_dedup_append_item(nf_dedup *d, const nfi_dedup_item *it, nf_error *err)
{
    return nfi_dedup_append(d, it->id, &it->sketch, it->sketch.signature, it->text_len, it->published, it->flags,
                            err);
}

void nfi_dedup_item_free(nfi_dedup_item *it)
{
    nfi_sketch_free(&it->sketch);
    free(it->signature);
    memset(it, 0, sizeof *it);
}

nf_status nf_dedup_add(nf_dedup *d, const nf_clean_doc *docs, size_t n, nf_error *err)
{
    if (n == 0)
        return NF_OK;
    nfi_dedup_item *items = calloc(n, sizeof *items);
    if (!items)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nf_status st = nfi_dedup_sketch(d, docs, n, items, err);
    for (size_t i = 0; i < n && st == NF_OK; i++)
        st = nfi_dedup_append_item(d, &items[i], err);
    for (size_t i = 0; i < n; i++)
        nfi_dedup_item_free(&items[i]);
    free(items);
    return st;
}

/* ------------------------------------------------------------ candidates */

/* Maps a temporary file read-only; NULL with len 0 for an empty file. */
static const void *map_file(FILE *f, size_t len, nf_error *err, nf_status *st)
{
    *st = NF_OK;
    if (len == 0)
        return NULL;
    if (fflush(f) != 0) {
        *st = nfi_fail(err, NF_ERR_IO, "cannot flush a temporary file");
        return NULL;
    }
    void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fileno(f), 0);
    if (p == MAP_FAILED) {
        *st = nfi_fail(err, NF_ERR_IO, "cannot map a temporary file");
        return NULL;
    }
    return p;
}

static bool is_new_pair(const nf_dedup *d, uint32_t a, uint32_t b)
{
    return a >= d->n_index_docs || b >= d->n_index_docs;
}

/* ------------------------------------------------------------ verification */

/* Signatures are read back from their file two at a time (pread), not
 * mapped: verification touches few of them (sample-only candidates rarely
 * need one), and mapped pages would count as resident memory. Candidates
 * come sorted by their first document, so slot 0 mostly hits its cache. */
typedef struct sig_cache {
    int fd;
    uint32_t *buf[2];
    uint32_t doc[2];
    bool failed;
} sig_cache;

typedef struct verifier {
    const nf_dedup *d;
    sig_cache *sigs;
    const uint64_t *shingles;
} verifier;

static const uint32_t *sig_of(const verifier *v, int slot, uint32_t i)
{
    sig_cache *c = v->sigs;
    if (c->doc[slot] == i)
        return c->buf[slot];
    size_t len = (size_t)v->d->opt.perms * sizeof(uint32_t), got = 0;
    off_t at = (off_t)((uint64_t)i * len);
    while (got < len) {
        ssize_t r = pread(c->fd, (char *)c->buf[slot] + got, len - got, at + (off_t)got);
        if (r <= 0) {
            memset(c->buf[slot], 0, len);
            c->failed = true;
            c->doc[slot] = UINT32_MAX;
            return c->buf[slot];
        }
        got += (size_t)r;
    }
    c->doc[slot] = i;
    return c->buf[slot];
}

static double jaccard(const verifier *v, uint32_t a, uint32_t b)
{
    const doc_meta *x = &v->d->docs[a], *y = &v->d->docs[b];
    if (v->shingles && !(x->flags & DOC_FROM_INDEX) && !(y->flags & DOC_FROM_INDEX))
        return nfi_exact_jaccard(v->shingles + v->d->shingle_offs[a] / 8, x->n_shingles,
                                v->shingles + v->d->shingle_offs[b] / 8, y->n_shingles);
    return nfi_minhash_similarity(sig_of(v, 0, a), sig_of(v, 1, b), v->d->opt.perms);
}

bool nfi_dedup_verify(const nf_dedup_options *o, const nfi_pair_view *p, uint32_t a, uint32_t b,
                      size_t shared_samples, bool banded, nfi_edge *e)
{
    const doc_meta *x = p->x, *y = p->y;
    *e = (nfi_edge){a, b, NF_REL_EXACT, 1.0f};
    if (x->exact_lo == y->exact_lo && x->exact_hi == y->exact_hi)
        return true;
    double s;
    bool near;
    if (o->method == NF_DEDUP_SIMHASH) {
        int dist = (int)nfi_popcount64(p->simhash_x ^ p->simhash_y);
        s = 1.0 - dist / 64.0;
        near = dist <= o->hamming;
    } else if (banded || shared_samples >= NEAR_SAMPLE_SHARE * (x->n_samples < y->n_samples ? x->n_samples
                                                                                          : y->n_samples)) {
        s = p->similarity(p->ctx);
        near = s >= o->threshold;
    } else {
        /* Found only through a few shared samples (a shared sentence): a
         * near duplicate shares most of its windows, hence most of the
         * smaller one's samples, so the signatures are not read. */
        s = 0;
        near = false;
    }
    if (near) {
        *e = (nfi_edge){a, b, NF_REL_NEAR, (float)s};
        return true;
    }
    /* containment of the smaller document in the larger */
    bool x_small = x->n_shingles <= y->n_shingles;
    uint32_t small = x_small ? a : b, big = x_small ? b : a;
    const doc_meta *sm = x_small ? x : y;
    if (sm->n_samples < MIN_SAMPLES_CONTAINED)
        return false;
    double c = p->containment ? p->containment(p->ctx, x_small) : -1;
    if (c < 0)
        c = (double)shared_samples / sm->n_samples;
    if (c < o->containment)
        return false;
    *e = (nfi_edge){small, big, NF_REL_CONTAINED, (float)(c > 1 ? 1 : c)};
    return true;
}

/* The pair (a, b) of the stage, for nfi_dedup_verify and nfi_dedup_relate. */
typedef struct stage_pair {
    const verifier *v;
    uint32_t a, b;
} stage_pair;

static double stage_jaccard(void *ctx)
{
    const stage_pair *p = ctx;
    return jaccard(p->v, p->a, p->b);
}

static double stage_minhash(void *ctx)
{
    const stage_pair *p = ctx;
    return nfi_minhash_similarity(sig_of(p->v, 0, p->a), sig_of(p->v, 1, p->b), p->v->d->opt.perms);
}

/* Exact containment from the shingle sets (exact_verify), else -1. */
static double stage_containment(void *ctx, bool a_small)
{
    const stage_pair *p = ctx;
    const nf_dedup *d = p->v->d;
    uint32_t small = a_small ? p->a : p->b, big = a_small ? p->b : p->a;
    const doc_meta *sm = &d->docs[small], *bg = &d->docs[big];
    if (!p->v->shingles || (sm->flags & DOC_FROM_INDEX) || (bg->flags & DOC_FROM_INDEX))
        return -1;
    return (double)nfi_intersection_size(p->v->shingles + d->shingle_offs[small] / 8, sm->n_shingles,
                                         p->v->shingles + d->shingle_offs[big] / 8, bg->n_shingles) /
           sm->n_shingles;
}

static nfi_pair_view stage_view(const verifier *v, stage_pair *p, bool minhash_only)
{
    const nf_dedup *d = v->d;
    return (nfi_pair_view){&d->docs[p->a], &d->docs[p->b], d->simhashes ? d->simhashes[p->a] : 0,
                           d->simhashes ? d->simhashes[p->b] : 0, minhash_only ? stage_minhash : stage_jaccard,
                           minhash_only ? NULL : stage_containment, p};
}

/* Decides one candidate pair; returns false when it is not a duplicate. */
static bool verify_pair(const verifier *v, uint32_t a, uint32_t b, size_t shared_samples, bool banded, nfi_edge *e)
{
    stage_pair p = {v, a, b};
    nfi_pair_view view = stage_view(v, &p, false);
    return nfi_dedup_verify(&v->d->opt, &view, a, b, shared_samples, banded, e);
}

static nf_status push_edge(nfi_edge **edges, size_t *n, size_t *cap, const nfi_edge *e, nf_error *err)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        nfi_edge *g = realloc(*edges, c * sizeof *g);
        if (!g)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        *edges = g;
        *cap = c;
    }
    (*edges)[(*n)++] = *e;
    return NF_OK;
}

static nf_status append_edges(nfi_edge **edges, size_t *n, const nfi_edge *more, size_t n_more, nf_error *err)
{
    if (n_more == 0)
        return NF_OK;
    nfi_edge *g = realloc(*edges, (*n + n_more) * sizeof *g);
    if (!g)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    memcpy(g + *n, more, n_more * sizeof *more);
    *edges = g;
    *n += n_more;
    return NF_OK;
}

/* One verifying thread: its signature cache and the edges it found. */
typedef struct verify_worker {
    verifier v;
    sig_cache sigs;
    nfi_edge *edges;
    size_t n_edges, cap;
} verify_worker;

/* Sample floors: the fast rejection of pairs found only through a few
 * shared samples (a shared sentence). Nearly all candidate pairs are such
 * (rc20m: 1.59 M pairs, 128 of which read signatures, none a duplicate),
 * and reading two doc_metas to run nfi_dedup_verify's tests cost a sixth
 * of the candidate search. With MinHash and containment estimated from
 * samples (no exact_verify), a pair without a shared band that
 * nfi_dedup_verify does not reject at once needs one of
 *   - the same text: never in a candidate pair, since only the first
 *     occurrence of an exact text emits keys (nfi_dedup_append);
 *   - shared >= NEAR_SAMPLE_SHARE * the fewer samples, so that the
 *     signatures are read: 4 * shared >= the samples of a or of b;
 *   - containment: shared / the smaller document's samples >= the
 *     containment threshold, with at least MIN_SAMPLES_CONTAINED of them.
 * So a pair whose count is below the floor of both documents, floor(d) =
 * the least count that meets either of the last two tests on d's side, is
 * rejected; every other pair takes the general path, which decides as
 * before. */
static uint32_t sample_floor(uint32_t n_samples, double containment)
{
    /* ceil(n_samples * NEAR_SAMPLE_SHARE), in integers */
    uint32_t near = (uint32_t)(((uint64_t)n_samples + NEAR_SAMPLE_DIVISOR - 1) / NEAR_SAMPLE_DIVISOR);
    if (n_samples < MIN_SAMPLES_CONTAINED)
        return near;
    if (isnan(containment)) /* verify's `c < containment` never rejects */
        return 0;
    /* the least s with (double)s / n_samples >= containment, as verify
     * computes it: from the real ceiling, then checked step by step (the
     * quotient is monotone in s) */
    double t = ceil(containment * n_samples);
    uint64_t s = t <= 0 ? 0 : t >= (double)UINT32_MAX ? UINT32_MAX : (uint64_t)t;
    while (s > 0 && (double)(s - 1) / n_samples >= containment)
        s--;
    while (s < UINT32_MAX && (double)s / n_samples < containment)
        s++;
    return s < near ? (uint32_t)s : near;
}

/* Every document's floor, or NULL (*st set on failure) when the fast
 * rejection does not apply (SimHash, exact verification). */
static uint32_t *sample_floors(const nf_dedup *d, nf_status *st, nf_error *err)
{
    *st = NF_OK;
    if (d->opt.method != NF_DEDUP_MINHASH || d->opt.exact_verify)
        return NULL;
    uint32_t *f = malloc((d->n_docs ? d->n_docs : 1) * sizeof *f);
    if (!f) {
        *st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < d->n_docs; i++)
        f[i] = sample_floor(d->docs[i].n_samples, d->opt.containment);
    return f;
}

/* The general path for one pair: nfi_dedup_verify, and the edge kept. */
static __attribute__((noinline)) nf_status verify_one(verify_worker *w, uint32_t a, uint32_t b, uint32_t count,
                                                      nf_error *err)
{
    nfi_edge e;
    if (!verify_pair(&w->v, a, b, count & ~NFI_PAIR_BANDED, (count & NFI_PAIR_BANDED) != 0, &e))
        return NF_OK;
    return push_edge(&w->edges, &w->n_edges, &w->cap, &e, err);
}

#define FLOOR_PREFETCH_AHEAD 8 /* candidates whose floor is asked for ahead of its test */

/* ctx: the sample floors, or NULL. A banded count has its top bit set,
 * above every floor (at most 2^30), so it always takes the general path. */
static nf_status verify_visit(void *ctx, void *worker, uint32_t a, const uint32_t *b, const uint32_t *counts,
                              size_t n, nf_error *err)
{
    const uint32_t *floors = ctx;
    verify_worker *w = worker;
    nf_status st = NF_OK;
    if (!floors) {
        for (size_t i = 0; i < n && st == NF_OK; i++)
            st = verify_one(w, a, b[i], counts[i], err);
        return st;
    }
    uint32_t floor_a = floors[a];
    for (size_t i = 0; i < n && st == NF_OK; i++) {
        if (i + FLOOR_PREFETCH_AHEAD < n)
            __builtin_prefetch(&floors[b[i + FLOOR_PREFETCH_AHEAD]]);
        if (counts[i] < floor_a && counts[i] < floors[b[i]])
            continue;
        st = verify_one(w, a, b[i], counts[i], err);
    }
    return st;
}

static nf_status verify_workers_new(const nf_dedup *d, const uint64_t *shingles, int n, verify_worker **out,
                                    nf_error *err)
{
    size_t sig_len = (size_t)d->opt.perms * sizeof(uint32_t);
    verify_worker *w = calloc((size_t)n, sizeof *w);
    *out = w;
    if (!w)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (int t = 0; t < n; t++) {
        w[t].sigs = (sig_cache){fileno(d->sig_file), {malloc(sig_len), malloc(sig_len)}, {UINT32_MAX, UINT32_MAX},
                                false};
        w[t].v = (verifier){d, &w[t].sigs, shingles};
        if (!w[t].sigs.buf[0] || !w[t].sigs.buf[1])
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    return NF_OK;
}

static void verify_workers_free(verify_worker *w, int n)
{
    for (int t = 0; w && t < n; t++) {
        free(w[t].sigs.buf[0]);
        free(w[t].sigs.buf[1]);
        free(w[t].edges);
    }
    free(w);
}

/* Verifies every candidate pair on the stage's threads; the edges come out
 * in an order that may depend on the threads, which build_result's sort
 * and order-free union-find undo. */
static nf_status verify_candidates(const nf_dedup *d, verify_worker *w, int threads, nfi_edge **edges,
                                   size_t *n_edges, size_t *n_candidates, nf_error *err)
{
    nf_status st;
    uint32_t *floors = sample_floors(d, &st, err);
    /* the candidate search's share of memory: what the pair sorter had */
    if (st == NF_OK)
        st = nfi_dedup_candidates(d, d->opt.mem_limit / 3 ? d->opt.mem_limit / 3 : 1, verify_visit, floors, w,
                                  sizeof *w, n_candidates, err);
    free(floors);
    for (int t = 0; t < threads && st == NF_OK; t++)
        st = append_edges(edges, n_edges, w[t].edges, w[t].n_edges, err);
    for (int t = 0; t < threads && st == NF_OK; t++)
        if (w[t].sigs.failed)
            st = nfi_fail(err, NF_ERR_IO, "cannot read signatures back from a temporary file");
    return st;
}

/* ------------------------------------------------------------ grouping */

bool nfi_dedup_better(const doc_meta *x, const char *id_x, const doc_meta *y, const char *id_y)
{
    if ((x->flags & DOC_FROM_INDEX) != (y->flags & DOC_FROM_INDEX))
        return x->flags & DOC_FROM_INDEX; /* an indexed document keeps its group */
    if (x->published != y->published)
        return x->published < y->published;
    if (x->text_len != y->text_len)
        return x->text_len > y->text_len;
    return strcmp(id_x, id_y) < 0;
}

/* Whether a is a better canonical than b (ids: the stage's, now the result's). */
static bool better_canonical(const nf_dedup *d, const char *ids, uint32_t a, uint32_t b)
{
    return nfi_dedup_better(&d->docs[a], ids + d->docs[a].id_off, &d->docs[b], ids + d->docs[b].id_off);
}

static int cmp_edge(const void *p, const void *q)
{
    const nfi_edge *x = p, *y = q;
    uint64_t kx = (uint64_t)(x->a < x->b ? x->a : x->b) << 32 | (x->a < x->b ? x->b : x->a);
    uint64_t ky = (uint64_t)(y->a < y->b ? y->a : y->b) << 32 | (y->a < y->b ? y->b : y->a);
    return (kx > ky) - (kx < ky);
}

static const nfi_edge *find_edge(const nfi_edge *edges, size_t n, uint32_t a, uint32_t b)
{
    nfi_edge key = {a, b, 0, 0};
    return bsearch(&key, edges, n, sizeof *edges, cmp_edge);
}

void nfi_dedup_relate(const nf_dedup_options *o, const nfi_pair_view *p, const nfi_edge *e, uint32_t i,
                      uint32_t canon, float contained_in, nf_relation *relation, double *score)
{
    const doc_meta *m = p->x, *c = p->y;
    if (i == canon) {
        *relation = NF_REL_CANONICAL;
        *score = 1.0;
        return;
    }
    if (m->exact_lo == c->exact_lo && m->exact_hi == c->exact_hi) {
        *relation = NF_REL_EXACT;
        *score = 1.0;
        return;
    }
    if (e && e->relation == NF_REL_CONTAINED && e->a == i) {
        *relation = NF_REL_CONTAINED;
        *score = e->score;
        return;
    }
    *relation = NF_REL_NEAR;
    if (e && e->relation == NF_REL_NEAR)
        *score = e->score;
    else if (o->method == NF_DEDUP_SIMHASH)
        *score = 1.0 - nfi_popcount64(p->simhash_x ^ p->simhash_y) / 64.0;
    else
        *score = p->similarity(p->ctx);
    if (!e && contained_in >= 0) { /* joined through containment, not similarity */
        *relation = NF_REL_CONTAINED;
        *score = contained_in;
    }
}

/* contained_in[i]: the best containment score of i inside another, or < 0 */
static void relate_to_canonical(const verifier *v, const nfi_edge *edges, size_t n_edges, const float *contained_in,
                                uint32_t i, uint32_t canon, nf_dedup_record *r)
{
    r->canonical = canon;
    stage_pair p = {v, i, canon};
    nfi_pair_view view = stage_view(v, &p, true);
    nfi_dedup_relate(&v->d->opt, &view, i == canon ? NULL : find_edge(edges, n_edges, i, canon), i, canon,
                     contained_in[i], &r->relation, &r->score);
}

/* ids: the stage's (its nfi_buf data, NULL when out of memory), owned by
 * out from here on: the stage is done with them, so they move, not copy. */
static nf_status build_result(const verifier *v, char *ids, nfi_edge *edges, size_t n_edges, nf_dedup_result *out,
                              nf_error *err)
{
    const nf_dedup *d = v->d;
    size_t n = d->n_docs;
    uint32_t *parent = malloc((n ? n : 1) * sizeof *parent);
    uint32_t *best = malloc((n ? n : 1) * sizeof *best);
    float *contained_in = malloc((n ? n : 1) * sizeof *contained_in);
    bool *linked = calloc(n ? n : 1, sizeof *linked);
    out->docs = calloc(n ? n : 1, sizeof *out->docs);
    out->pairs = malloc((n_edges ? n_edges : 1) * sizeof *out->pairs);
    out->ids = ids;
    if (!parent || !best || !contained_in || !linked || !out->docs || !out->pairs || !out->ids) {
        free(parent);
        free(best);
        free(contained_in);
        free(linked);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < n; i++) {
        parent[i] = best[i] = i;
        contained_in[i] = -1;
    }
    for (size_t k = 0; k < n_edges; k++) {
        linked[edges[k].a] = linked[edges[k].b] = true;
        if (edges[k].relation == NF_REL_CONTAINED && edges[k].score > contained_in[edges[k].a])
            contained_in[edges[k].a] = edges[k].score;
        nfi_uf_union(parent, edges[k].a, edges[k].b);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = nfi_uf_find(parent, i);
        if (better_canonical(d, out->ids, i, best[r]))
            best[r] = i;
    }
    if (n_edges)
        qsort(edges, n_edges, sizeof *edges, cmp_edge);
    for (uint32_t i = 0; i < n; i++) {
        nf_dedup_record *r = &out->docs[i];
        const doc_meta *m = &d->docs[i];
        r->id = out->ids + m->id_off;
        r->from_index = (m->flags & DOC_FROM_INDEX) != 0;
        if (!linked[i]) {
            r->canonical = i;
            r->relation = NF_REL_UNIQUE;
            r->score = 0;
            r->reason = m->flags & DOC_EMPTY ? "empty" : m->flags & DOC_TOO_SHORT ? "too_short" : NULL;
            continue;
        }
        relate_to_canonical(v, edges, n_edges, contained_in, i, best[nfi_uf_find(parent, i)], r);
    }
    for (size_t k = 0; k < n_edges; k++)
        out->pairs[k] = (nf_dedup_pair){edges[k].a, edges[k].b, (nf_relation)edges[k].relation, edges[k].score};
    out->n_docs = n;
    out->n_pairs = n_edges;
    free(parent);
    free(best);
    free(contained_in);
    free(linked);
    return NF_OK;
}


nf_status nf_dedup_finish(nf_dedup *d, nf_dedup_result *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    out->bands = d->bands;
    out->rows = d->rows;
    nf_status st = NF_OK;
    int threads = d->opt.threads > 0 ? d->opt.threads : 1;
    const uint64_t *shingles = NULL;
    verify_worker *w = NULL;
    free(d->exact_docs); /* repeats are all found: only appending reads it */
    d->exact_docs = NULL;
    d->exact_cap = d->exact_count = 0;
    if (fflush(d->sig_file) != 0)
        st = nfi_fail(err, NF_ERR_IO, "cannot write signatures to a temporary file (disk full?)");
    if (st == NF_OK && d->shingle_file)
        shingles = map_file(d->shingle_file, d->shingle_bytes, err, &st);
    if (st == NF_OK)
        st = verify_workers_new(d, shingles, threads, &w, err);
    nfi_edge *edges = NULL;
    size_t n_edges = 0;
    if (st == NF_OK)
        st = verify_candidates(d, w, threads, &edges, &n_edges, &out->candidates, err);
    if (st == NF_OK) /* groups from earlier runs, and repeats of an exact text */
        st = append_edges(&edges, &n_edges, d->index_edges, d->n_index_edges, err);
    for (size_t k = 0; k < d->n_exact_edges && st == NF_OK; k++)
        if (is_new_pair(d, d->exact_edges[k].a, d->exact_edges[k].b))
            st = append_edges(&edges, &n_edges, &d->exact_edges[k], 1, err);
    if (st == NF_OK)
        st = build_result(&w[0].v, nfi_buf_take(&d->ids, NULL), edges, n_edges, out, err);
    if (st == NF_OK && w[0].sigs.failed)
        st = nfi_fail(err, NF_ERR_IO, "cannot read signatures back from a temporary file");
    if (st == NF_OK && d->opt.index_dir)
        st = nfi_index_save(d, out, err);
    free(edges);
    verify_workers_free(w, threads);
    if (shingles)
        munmap((void *)shingles, d->shingle_bytes);
    if (st != NF_OK)
        nf_dedup_result_free(out);
    return st;
}

void nf_dedup_result_free(nf_dedup_result *r)
{
    free(r->docs);
    free(r->pairs);
    free(r->ids);
    memset(r, 0, sizeof *r);
}
