/*
 * mpi_dedup.c - the distributed finish of `dedup --mpi`: no rank gathers
 * the sketches; candidate search, verification, grouping and output are
 * shared by the ranks, and rank 0 (or each rank, --shard-output) writes
 * exactly the single process's bytes (docs/distributed.md, "dedup: the
 * distributed finish").
 *
 * Design. Rank r owns the global documents [start[r], start[r + 1]) (its
 * batches, which follow each other in input order); it keeps their
 * metadata, ids and signatures in a local engine used as storage only
 * (nfi_dedup_store), and their band keys and containment samples in a
 * temporary file. Then, every step an all-to-all through the bounded
 * exchange (mpi_exchange.c), fed from files or arrays 4 MiB at a time:
 *   1. exact   (exact hash, document) records go to rank lo mod N, which
 *              sorts them (external sort) and tells the owner of every
 *              later copy its first occurrence: the copy gets the engine's
 *              exact edge and emits no keys (nf_dedup's first_occurrence).
 *   2. keys    (key, document, kind) records go to rank key mod N, into a
 *              band and a sample sorter; the key's owner sees its whole
 *              group and applies the engine's group rules
 *              (nfi_dedup_key_pairs, lsh.c: set semantics, so partitioning
 *              by key changes nothing).
 *   3. pairs   every (a, b, kind) record goes to the owner of one of its
 *              documents (a when a + b is odd, else b: pairs spread evenly)
 *              and is summed there in a sorter: shared samples and banded,
 *              exactly the engine's per candidate.
 *   4. verify  in rounds, the pair's owner fetches the metadata of the
 *              other document of a slice of its candidates from its owner
 *              (request, then reply) and decides each pair with the
 *              engine's nfi_dedup_verify; the pairs whose rules need the
 *              signatures (banded, or many shared samples: few) wait for a
 *              second fetch with them. A round asks for at most
 *              FETCH_BYTES of replies per rank; an owner keeps the requests
 *              (16 bytes each) and makes its replies a chunk at a time.
 *   5. edges   every verified or exact edge goes to the owners of both its
 *              documents (their incident edges).
 *   6. groups  label propagation: each linked document's label is the best
 *              canonical it has heard of (nfi_dedup_better: date, length,
 *              id), sent along its edges while it changes, until no label
 *              changes anywhere; the component's best wins everywhere.
 *   7. relate  each member's relation and score to its canonical
 *              (nfi_dedup_relate), the canonical's signature fetched when
 *              the rules need it.
 *   8. output  each rank formats its documents' records (and the pairs
 *              whose smaller document it owns, the other id fetched);
 *              rank 0 writes its own and then receives the other ranks'
 *              in rank order, which is input order (pair order: by smaller,
 *              then larger document, the engine's sort). For run --mpi
 *              (output.assign) the records are instead the binary
 *              assignments (canonical, relation, score, reason) of the
 *              documents that are not unique alone, 24 bytes each, from
 *              which rank 0 rebuilds the engine's nf_dedup_result.
 * Memory per rank: the sorters (at most two at a time, a third of
 * --mem-limit each) spill; exchanges, fetches and output pieces go by
 * fixed chunks. What grows is per document of the rank's own range (the
 * engine's 48 bytes plus the id, 5 bytes of state), per edge incident to
 * its documents (16 bytes; verified duplicates) and per linked document
 * (a label: 72 bytes plus the longest id), and the largest group of exact
 * copies (24 bytes a copy, on the owner of its hash).
 * Determinism: every step is a set operation (sorted groups, sums,
 * the best of a total order), so neither N nor the arrival order of
 * records changes a byte.
 * Index (--index) and --exact-verify runs do not come here (mpi.c gathers
 * them on rank 0, which holds the index and the shingle sets).
 */
#include "mpi/mpi.h"

#ifdef NF_HAVE_MPI

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dedup/dedup.h"

#define CHUNK_BYTES (4u << 20) /* records handed to one exchange call */
#define FETCH_BYTES (16u << 20) /* replies one rank serves per fetch round */
#define OUT_PIECE (1u << 20)    /* bytes of output per message to rank 0 */
enum { KIND_BAND = 0, KIND_SAMPLE = 1 };
enum { TAG_OUT = 11, TAG_OUT_END = 12 };
enum { WANT_SIG = 1, WANT_ID = 2 };

struct nfi_mpi_dd {
    const nf_mpi *m;
    nf_dedup *d;            /* storage of this rank's documents (no keys) */
    FILE *keys;             /* (key, local << 1 | kind) of each document */
    uint64_t *start;        /* size + 1: the first global document of each rank */
    uint64_t first, n;      /* this rank's documents */
    uint8_t *repeat;        /* per local document: an exact copy of an earlier one */
    nfi_edge *made;         /* edges found here (verified, exact), global numbers */
    size_t n_made, cap_made;
    nfi_edge *inc;          /* edges incident to this rank's documents, by (min, max) */
    size_t n_inc, cap_inc;
    size_t idmax;           /* the longest id + 1, rounded up to 8 (every rank's) */
    uint64_t bytes;         /* bytes this rank sent in exchanges */
    uint64_t candidates;
    /* labels (6, 7): per local document its slot, or -1 when unlinked */
    int32_t *slot;
    size_t n_slots;
    char *labels;           /* n_slots label records */
    uint8_t *changed, *heard;
    float *contained_in;
    nf_relation *rel;
    double *score;
};

/* ------------------------------------------------------------ helpers */

static uint32_t owner_of(const nfi_mpi_dd *dd, uint64_t doc)
{
    return nfi_mpi_owner(dd->start, dd->m->size, doc);
}

static bool any_rank(bool mine) { return nfi_mpi_any(mine); }

typedef nfi_mpi_gen_fn gen_fn;

static nf_status exchange_all(nfi_mpi_dd *dd, size_t size, gen_fn gen, void *gctx, nfi_mpi_sink sink, void *sctx,
                              nf_error *err)
{
    return nfi_mpi_exchange_all(dd->m, size, CHUNK_BYTES, gen, gctx, sink, sctx, &dd->bytes, err);
}

static nf_status read_recs(FILE *f, void *out, size_t size, size_t max, size_t *n, nf_error *err)
{
    *n = fread(out, size, max, f);
    if (*n < max && ferror(f))
        return nfi_fail(err, NF_ERR_IO, "cannot read a temporary file back");
    return NF_OK;
}

static nf_status rewind_file(FILE *f, nf_error *err)
{
    if (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0)
        return nfi_fail(err, NF_ERR_IO, "cannot read a temporary file back (disk full?)");
    return NF_OK;
}

static nf_status push_made(nfi_mpi_dd *dd, nfi_edge e, nf_error *err)
{
    nfi_edge *g = nfi_grow_array(dd->made, &dd->cap_made, dd->n_made + 1, sizeof *g);
    if (!g)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    dd->made = g;
    dd->made[dd->n_made++] = e;
    return NF_OK;
}

/* ------------------------------------------------------------ storing */

nf_status nfi_mpi_dd_new(nfi_mpi_dd **out, const nf_mpi *m, nf_dedup *d, nf_error *err)
{
    *out = NULL;
    nfi_mpi_dd *dd = calloc(1, sizeof *dd);
    if (!dd)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    dd->m = m;
    dd->d = d;
    if (!(dd->keys = nfi_temp_file(d->opt.tmp_dir, "newsfold-keys"))) {
        free(dd);
        return nfi_fail(err, NF_ERR_IO, "cannot create a temporary file for band keys");
    }
    *out = dd;
    return NF_OK;
}

nf_status nfi_mpi_dd_add(nfi_mpi_dd *dd, const nfi_dedup_item *it, nf_error *err)
{
    nf_dedup *d = dd->d;
    const nfi_sketch *s = &it->sketch;
    nf_status st = nfi_dedup_store(d, it->id, s, s->signature, it->text_len, it->published, it->flags, err);
    if (st != NF_OK || (it->flags & (DOC_TOO_SHORT | DOC_EMPTY)))
        return st;
    uint64_t local = d->n_docs - 1, rec[2];
    static const uint32_t zeros[NF_SKETCH_MAX_PERMS];
    const uint32_t *sig = s->signature ? s->signature : zeros;
    for (int b = 0; b < d->bands; b++) {
        rec[0] = nfi_dedup_band_key(d, sig, s->simhash, b);
        rec[1] = local << 1 | KIND_BAND;
        if (fwrite(rec, sizeof rec, 1, dd->keys) != 1)
            return nfi_fail(err, NF_ERR_IO, "cannot write band keys to a temporary file (disk full?)");
    }
    for (size_t i = 0; i < s->n_samples; i++) {
        rec[0] = s->samples[i];
        rec[1] = local << 1 | KIND_SAMPLE;
        if (fwrite(rec, sizeof rec, 1, dd->keys) != 1)
            return nfi_fail(err, NF_ERR_IO, "cannot write samples to a temporary file (disk full?)");
    }
    return NF_OK;
}

void nfi_mpi_dd_free(nfi_mpi_dd *dd)
{
    if (!dd)
        return;
    if (dd->keys)
        fclose(dd->keys);
    free(dd->start);
    free(dd->repeat);
    free(dd->made);
    free(dd->inc);
    free(dd->slot);
    free(dd->labels);
    free(dd->changed);
    free(dd->heard);
    free(dd->contained_in);
    free(dd->rel);
    free(dd->score);
    free(dd);
}

/* ------------------------------------------------------------ 1. exact copies */

typedef struct exact_rec {
    uint64_t lo, hi, doc;
} exact_rec;

typedef struct exact_step {
    nfi_mpi_dd *dd;
    uint64_t next;          /* generator: the next local document */
    FILE *file;             /* owner: the received records */
    uint64_t n_file;
    nfi_runs *runs;         /* owner: (lo, record number) */
    FILE *notes;            /* owner: (copy, first) for the copies' owners */
} exact_step;

static nf_status exact_gen(void *ctx, char *out, uint32_t *dest, size_t max, size_t *n, nf_error *err)
{
    (void)err;
    exact_step *x = ctx;
    nfi_mpi_dd *dd = x->dd;
    exact_rec *r = (exact_rec *)out;
    *n = 0;
    for (; x->next < dd->n && *n < max; x->next++) {
        const doc_meta *m = &dd->d->docs[x->next];
        if (m->flags & (DOC_TOO_SHORT | DOC_EMPTY)) /* as nf_dedup: no exact edge, no keys */
            continue;
        r[*n] = (exact_rec){m->exact_lo, m->exact_hi, dd->first + x->next};
        dest[(*n)++] = (uint32_t)(m->exact_lo % (uint64_t)dd->m->size);
    }
    return NF_OK;
}

static nf_status exact_sink(void *ctx, const void *recs, size_t n, nf_error *err)
{
    exact_step *x = ctx;
    const exact_rec *r = recs;
    if (fwrite(r, sizeof *r, n, x->file) != n)
        return nfi_fail(err, NF_ERR_IO, "cannot write exact hashes to a temporary file (disk full?)");
    nf_status st = NF_OK;
    for (size_t i = 0; i < n && st == NF_OK; i++)
        st = nfi_runs_add(x->runs, r[i].lo, x->n_file++, err);
    return st;
}

static int cmp_exact(const void *p, const void *q)
{
    const exact_rec *a = p, *b = q;
    if (a->hi != b->hi)
        return a->hi < b->hi ? -1 : 1;
    return (a->doc > b->doc) - (a->doc < b->doc);
}

/* One group of records with the same low half: within each full hash, the
 * smallest document is the first occurrence of the others. */
static nf_status exact_group(exact_step *x, const uint64_t *at, size_t n, exact_rec **g, size_t *cap, nf_error *err)
{
    if (n < 2)
        return NF_OK;
    exact_rec *grown = nfi_grow_array(*g, cap, n, sizeof *grown);
    if (!grown)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    *g = grown;
    int fd = fileno(x->file);
    for (size_t i = 0; i < n; i++)
        if (pread(fd, &grown[i], sizeof *grown, (off_t)(at[i] * sizeof *grown)) != (ssize_t)sizeof *grown)
            return nfi_fail(err, NF_ERR_IO, "cannot read exact hashes back from a temporary file");
    qsort(grown, n, sizeof *grown, cmp_exact);
    for (size_t i = 1, f = 0; i < n; i++) {
        if (grown[i].hi != grown[f].hi) { /* a new full hash: its first occurrence */
            f = i;
            continue;
        }
        uint64_t note[2] = {grown[i].doc, grown[f].doc};
        if (fwrite(note, sizeof note, 1, x->notes) != 1)
            return nfi_fail(err, NF_ERR_IO, "cannot write to a temporary file (disk full?)");
    }
    return NF_OK;
}

static nf_status exact_walk(exact_step *x, nf_error *err)
{
    nf_status st = nfi_runs_finish(x->runs, err);
    uint64_t *at = NULL, key = 0;
    size_t n = 0, cap = 0, gcap = 0;
    exact_rec *g = NULL;
    nfi_kv kv;
    while (st == NF_OK) {
        int more = nfi_runs_next(x->runs, &kv);
        if (!more || kv.key != key) {
            st = exact_group(x, at, n, &g, &gcap, err);
            n = 0;
            if (!more)
                break;
            key = kv.key;
        }
        uint64_t *grown = nfi_grow_array(at, &cap, n + 1, sizeof *grown);
        if (!grown) {
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
            break;
        }
        at = grown;
        at[n++] = kv.val;
    }
    if (st == NF_OK && nfi_runs_failed(x->runs, err))
        st = NF_ERR_IO;
    free(at);
    free(g);
    return st;
}

static nf_status note_gen(void *ctx, char *out, uint32_t *dest, size_t max, size_t *n, nf_error *err)
{
    exact_step *x = ctx;
    nf_status st = read_recs(x->notes, out, 16, max, n, err);
    const uint64_t *r = (const uint64_t *)out;
    for (size_t i = 0; i < *n; i++)
        dest[i] = owner_of(x->dd, r[2 * i]);
    return st;
}

/* The owner of a copy: the copy emits no keys and gets the exact edge. */
static nf_status note_sink(void *ctx, const void *recs, size_t n, nf_error *err)
{
    exact_step *x = ctx;
    const uint64_t *r = recs;
    nf_status st = NF_OK;
    for (size_t i = 0; i < n && st == NF_OK; i++) {
        x->dd->repeat[r[2 * i] - x->dd->first] = 1;
        st = push_made(x->dd, (nfi_edge){(uint32_t)r[2 * i + 1], (uint32_t)r[2 * i], NF_REL_EXACT, 1.0f}, err);
    }
    return st;
}

static nf_status find_exact(nfi_mpi_dd *dd, nf_error *err)
{
    const nf_dedup_options *o = &dd->d->opt;
    exact_step x = {.dd = dd};
    x.file = nfi_temp_file(o->tmp_dir, "newsfold-exact");
    x.notes = nfi_temp_file(o->tmp_dir, "newsfold-exact");
    nf_status st = x.file && x.notes ? NF_OK : nfi_fail(err, NF_ERR_IO, "cannot create a temporary file");
    if (st == NF_OK)
        st = nfi_runs_new(&x.runs, o->mem_limit / 3 ? o->mem_limit / 3 : 1, o->tmp_dir, err);
    if (st == NF_OK)
        st = exchange_all(dd, sizeof(exact_rec), exact_gen, &x, exact_sink, &x, err);
    if (st == NF_OK && (st = rewind_file(x.file, err)) == NF_OK)
        st = exact_walk(&x, err);
    if (st == NF_OK && (st = rewind_file(x.notes, err)) == NF_OK)
        st = exchange_all(dd, 16, note_gen, &x, note_sink, &x, err);
    nfi_runs_free(x.runs);
    if (x.file)
        fclose(x.file);
    if (x.notes)
        fclose(x.notes);
    return st;
}

/* ------------------------------------------------------------ 2, 3. keys and pairs */

typedef struct key_step {
    nfi_mpi_dd *dd;
    nfi_runs *band, *sample; /* this rank's keys: (key, document) */
    FILE *pairs;             /* (a << 33 | b << 1 | kind) for the pairs' owners */
    uint64_t buf[4096];      /* pair records not yet written */
    size_t n_buf;
    nfi_runs *sum;           /* the pairs of this rank's documents */
} key_step;

static nf_status key_gen(void *ctx, char *out, uint32_t *dest, size_t max, size_t *n, nf_error *err)
{
    key_step *k = ctx;
    nfi_mpi_dd *dd = k->dd;
    uint64_t *r = (uint64_t *)out;
    *n = 0;
    while (*n < max) {
        size_t got;
        nf_status st = read_recs(dd->keys, r + 2 * *n, 16, max - *n, &got, err);
        if (st != NF_OK)
            return st;
        if (got == 0)
            break;
        size_t base = *n;
        for (size_t i = base; i < base + got; i++) { /* drop the keys of exact copies in place */
            uint64_t local = r[2 * i + 1] >> 1;
            if (dd->repeat[local])
                continue;
            r[2 * *n] = r[2 * i];
            r[2 * *n + 1] = (dd->first + local) << 1 | (r[2 * i + 1] & 1);
            dest[*n] = (uint32_t)(r[2 * i] % (uint64_t)dd->m->size);
            (*n)++; /* never past i: compacting in place */
        }
    }
    return NF_OK;
}

static nf_status key_sink(void *ctx, const void *recs, size_t n, nf_error *err)
{
    key_step *k = ctx;
    const uint64_t *r = recs;
    nf_status st = NF_OK;
    for (size_t i = 0; i < n && st == NF_OK; i++)
        st = nfi_runs_add((r[2 * i + 1] & 1) == KIND_BAND ? k->band : k->sample, r[2 * i], r[2 * i + 1] >> 1, err);
    return st;
}

static nf_status flush_pairs(key_step *k, nf_error *err)
{
    size_t n = k->n_buf;
    k->n_buf = 0;
    if (fwrite(k->buf, sizeof *k->buf, n, k->pairs) != n)
        return nfi_fail(err, NF_ERR_IO, "cannot write candidate pairs to a temporary file (disk full?)");
    return NF_OK;
}

static nf_status pair_emit(void *ctx, uint32_t a, uint32_t b, bool band, nf_error *err)
{
    key_step *k = ctx;
    k->buf[k->n_buf++] = (uint64_t)a << 33 | (uint64_t)b << 1 | (band ? KIND_BAND : KIND_SAMPLE);
    return k->n_buf == sizeof k->buf / sizeof *k->buf ? flush_pairs(k, err) : NF_OK;
}

/* The owner of a pair sums and verifies it (nfi_mpi_pair_home). */
static uint32_t pair_owner(const nfi_mpi_dd *dd, uint64_t pair) { return owner_of(dd, nfi_mpi_pair_home(pair)); }

static nf_status pair_gen(void *ctx, char *out, uint32_t *dest, size_t max, size_t *n, nf_error *err)
{
    key_step *k = ctx;
    nf_status st = read_recs(k->pairs, out, 8, max, n, err);
    const uint64_t *r = (const uint64_t *)out;
    for (size_t i = 0; i < *n; i++)
        dest[i] = pair_owner(k->dd, r[i] >> 1);
    return st;
}

static nf_status pair_sink(void *ctx, const void *recs, size_t n, nf_error *err)
{
    key_step *k = ctx;
    const uint64_t *r = recs;
    nf_status st = NF_OK;
    for (size_t i = 0; i < n && st == NF_OK; i++)
        st = nfi_runs_add(k->sum, r[i], 0, err);
    return st;
}

/* Steps 2 and 3: *sum gets this rank's pair records, sorted. */
static nf_status find_pairs(nfi_mpi_dd *dd, nfi_runs **sum, nf_error *err)
{
    const nf_dedup_options *o = &dd->d->opt;
    size_t mem = o->mem_limit / 3 ? o->mem_limit / 3 : 1;
    key_step k = {.dd = dd};
    nf_status st = rewind_file(dd->keys, err);
    if (st == NF_OK && !(k.pairs = nfi_temp_file(o->tmp_dir, "newsfold-pairs")))
        st = nfi_fail(err, NF_ERR_IO, "cannot create a temporary file for candidate pairs");
    if (st == NF_OK && (st = nfi_runs_new(&k.band, mem, o->tmp_dir, err)) == NF_OK)
        st = nfi_runs_new(&k.sample, mem, o->tmp_dir, err);
    if (st == NF_OK)
        st = exchange_all(dd, 16, key_gen, &k, key_sink, &k, err);
    if (st == NF_OK && (st = nfi_runs_finish(k.band, err)) == NF_OK)
        st = nfi_dedup_key_pairs(k.band, true, pair_emit, &k, err);
    nfi_runs_free(k.band);
    k.band = NULL;
    if (st == NF_OK && (st = nfi_runs_finish(k.sample, err)) == NF_OK)
        st = nfi_dedup_key_pairs(k.sample, false, pair_emit, &k, err);
    nfi_runs_free(k.sample);
    k.sample = NULL;
    if (st == NF_OK)
        st = flush_pairs(&k, err);
    if (st == NF_OK && (st = rewind_file(k.pairs, err)) == NF_OK)
        st = nfi_runs_new(&k.sum, mem, o->tmp_dir, err);
    if (st == NF_OK)
        st = exchange_all(dd, 8, pair_gen, &k, pair_sink, &k, err);
    if (st == NF_OK)
        st = nfi_runs_finish(k.sum, err);
    if (k.pairs)
        fclose(k.pairs);
    if (st != NF_OK) {
        nfi_runs_free(k.sum);
        k.sum = NULL;
    }
    *sum = k.sum;
    return st;
}

/* ------------------------------------------------------------ fetching documents */

/* What an owner sends of a document: metadata, SimHash, and as asked the
 * signature and the id (idmax bytes, NUL-padded). */
typedef struct doc_head {
    uint64_t doc;
    doc_meta meta;
    uint64_t simhash;
} doc_head;

typedef struct fetch {
    nfi_mpi_dd *dd;
    int want;
    size_t size;            /* one reply */
    uint64_t *asked;        /* owner: (document, requester) of a round */
    size_t n_asked, cap_asked, next_asked;
    char *got;              /* requester: the replies of docs[i] at i */
    size_t n_got, cap_got;
    const uint64_t *docs;   /* requester: what it asked for, sorted */
    size_t n_docs;
    uint64_t *remote;       /* requester: the other ranks' documents among them */
    size_t cap_remote;
    uint64_t *scratch;      /* unique_docs' */
    size_t cap_scratch;
    nf_error *err;
} fetch;

static size_t sig_bytes(const nfi_mpi_dd *dd) { return (size_t)dd->d->opt.perms * sizeof(uint32_t); }

static size_t reply_size(const nfi_mpi_dd *dd, int want)
{
    return sizeof(doc_head) + (want & WANT_SIG ? sig_bytes(dd) : 0) + (want & WANT_ID ? dd->idmax : 0);
}

/* A local document's signature, read back from the engine's file. */
static nf_status read_sig(const nfi_mpi_dd *dd, uint64_t local, uint32_t *sig, nf_error *err)
{
    size_t len = sig_bytes(dd);
    if (pread(fileno(dd->d->sig_file), sig, len, (off_t)(local * len)) != (ssize_t)len)
        return nfi_fail(err, NF_ERR_IO, "cannot read signatures back from a temporary file");
    return NF_OK;
}

static bool is_local(const nfi_mpi_dd *dd, uint64_t doc) { return doc >= dd->first && doc - dd->first < dd->n; }

static const char *local_id(const nfi_mpi_dd *dd, uint64_t local)
{
    return dd->d->ids.data + dd->d->docs[local].id_off;
}

/* Writes what is asked of local document doc at p (f->size bytes). */
static nf_status make_reply(const fetch *f, uint64_t doc, char *p, nf_error *err)
{
    const nfi_mpi_dd *dd = f->dd;
    uint64_t local = doc - dd->first;
    memset(p, 0, f->size);
    doc_head h = {doc, dd->d->docs[local], dd->d->simhashes ? dd->d->simhashes[local] : 0};
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    if (f->want & WANT_SIG) {
        nf_status st = read_sig(dd, local, (uint32_t *)(void *)p, err);
        if (st != NF_OK)
            return st;
        p += sig_bytes(dd);
    }
    if (f->want & WANT_ID)
        memcpy(p, local_id(dd, local), strlen(local_id(dd, local)) + 1);
    return NF_OK;
}

/* The owner: one reply per request (document, requester). */
static nf_status request_sink(void *ctx, const void *recs, size_t n, nf_error *err)
{
    fetch *f = ctx;
    nfi_mpi_dd *dd = f->dd;
    const uint64_t *r = recs;
    uint64_t *grown = nfi_grow_array(f->asked, &f->cap_asked, f->n_asked + 2 * n, sizeof *grown);
    if (!grown)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    f->asked = grown;
    for (size_t i = 0; i < n; i++) {
        uint64_t doc = r[2 * i];
        if (!is_local(dd, doc) || r[2 * i + 1] >= (uint64_t)dd->m->size)
            return nfi_fail(err, NF_ERR_ARG, "MPI: rank %d asked for document %llu, not rank %d's",
                            (int)r[2 * i + 1], (unsigned long long)doc, dd->m->rank);
    }
    memcpy(f->asked + f->n_asked, r, 2 * n * sizeof *r);
    f->n_asked += 2 * n;
    return NF_OK;
}

/* The owner's replies, made a chunk at a time from the requests. */
static nf_status reply_gen(void *ctx, char *out, uint32_t *dest, size_t max, size_t *n, nf_error *err)
{
    fetch *f = ctx;
    nf_status st = NF_OK;
    for (*n = 0; *n < max && f->next_asked < f->n_asked && st == NF_OK; (*n)++, f->next_asked += 2) {
        st = make_reply(f, f->asked[f->next_asked], out + *n * f->size, err);
        dest[*n] = (uint32_t)f->asked[f->next_asked + 1];
    }
    return st;
}

static size_t doc_index(const fetch *f, uint64_t doc)
{
    return nfi_lower_bound_u64(f->docs, f->n_docs, doc);
}

/* The requester: each reply goes to the place of its document. */
static nf_status reply_sink(void *ctx, const void *recs, size_t n, nf_error *err)
{
    fetch *f = ctx;
    for (size_t i = 0; i < n; i++) {
        const char *r = (const char *)recs + i * f->size;
        uint64_t doc;
        memcpy(&doc, r, sizeof doc);
        size_t at = doc_index(f, doc);
        if (at == f->n_docs || f->docs[at] != doc)
            return nfi_fail(err, NF_ERR_ARG, "MPI: document %llu was not asked for", (unsigned long long)doc);
        memcpy(f->got + at * f->size, r, f->size);
    }
    f->n_got += n;
    return NF_OK;
}

typedef struct request_list {
    const uint64_t *docs;   /* the documents of other ranks */
    size_t n;
    const nfi_mpi_dd *dd;
    bool sent;
} request_list;

static nf_status request_gen(void *ctx, char *out, uint32_t *dest, size_t max, size_t *n, nf_error *err)
{
    (void)err;
    request_list *q = ctx;
    uint64_t *r = (uint64_t *)out;
    *n = 0;
    if (q->sent)
        return NF_OK;
    for (; *n < q->n && *n < max; (*n)++) { /* a round asks for fewer than a chunk holds */
        r[2 * *n] = q->docs[*n];
        r[2 * *n + 1] = (uint64_t)q->dd->m->rank;
        dest[*n] = owner_of(q->dd, q->docs[*n]);
    }
    q->sent = true;
    return NF_OK;
}


/* Collective, one round: f->got gets the replies for docs (sorted,
 * unique, at most fetch_max): this rank's own documents are read here,
 * the others' asked for. */
static nf_status fetch_round(fetch *f, const uint64_t *docs, size_t n, nf_error *err)
{
    f->n_got = f->n_asked = f->next_asked = 0;
    f->docs = docs;
    f->n_docs = n;
    char *grown = nfi_grow_array(f->got, &f->cap_got, n ? n : 1, f->size);
    uint64_t *remote = nfi_grow_array(f->remote, &f->cap_remote, n ? n : 1, sizeof *remote);
    if (grown)
        f->got = grown;
    if (remote)
        f->remote = remote;
    if (!grown || !remote)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    size_t n_remote = 0;
    nf_status st = NF_OK;
    for (size_t i = 0; i < n && st == NF_OK; i++) {
        if (is_local(f->dd, docs[i]))
            st = make_reply(f, docs[i], f->got + i * f->size, err);
        else
            f->remote[n_remote++] = docs[i];
    }
    request_list q = {f->remote, n_remote, f->dd, false};
    if (st == NF_OK)
        st = exchange_all(f->dd, 16, request_gen, &q, request_sink, f, err);
    if (st == NF_OK)
        st = exchange_all(f->dd, f->size, reply_gen, f, reply_sink, f, err);
    if (st == NF_OK && f->n_got != n_remote)
        st = nfi_fail(err, NF_ERR_ARG, "MPI: %zu documents fetched, %zu asked for", f->n_got, n_remote);
    return st;
}

/* The reply for doc after fetch_round (doc was asked for). */
static const char *fetched(const fetch *f, uint64_t doc) { return f->got + doc_index(f, doc) * f->size; }

/* The documents a rank may ask for in one round: FETCH_BYTES of replies.
 * An owner keeps the requests it gets (16 bytes each: about as many as one
 * rank asks, since documents spread evenly over the owners) and makes the
 * replies a chunk at a time. */
static size_t fetch_max(const nfi_mpi_dd *dd, int want)
{
    size_t k = FETCH_BYTES / reply_size(dd, want);
    return k > 2 ? k : 2;
}

static void fetch_free(fetch *f)
{
    free(f->remote);
    free(f->scratch);
    free(f->asked);
    free(f->got);
}

/* Sorts and dedups docs in place (f's scratch); returns the new count, or
 * 0 with docs untouched when out of memory (*ok false). */
static size_t unique_docs(fetch *f, uint64_t *docs, size_t n, bool *ok)
{
    *ok = true;
    if (n == 0)
        return 0;
    uint64_t *scratch = nfi_grow_array(f->scratch, &f->cap_scratch, n, sizeof *scratch);
    if (!scratch) {
        *ok = false;
        return 0;
    }
    f->scratch = scratch;
    nfi_u64_sort(docs, n, scratch);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (docs[i] != docs[k - 1])
            docs[k++] = docs[i];
    return k;
}

/* fetch_round over the distinct documents of docs[0, n) */
static nf_status fetch_docs(fetch *f, uint64_t *docs, size_t n, nf_error *err)
{
    bool ok;
    size_t k = unique_docs(f, docs, n, &ok);
    return ok ? fetch_round(f, docs, k, err) : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
}

/* ------------------------------------------------------------ 4. verification */

typedef struct cand {
    uint32_t a, b, shared;
    bool banded;
} cand;

/* The similarity of a candidate's signatures; NULL y: only notes that the
 * rules asked for it (a first pass that needs no signature). */
typedef struct sig_pair {
    const uint32_t *x, *y;
    int perms;
    bool needed;
} sig_pair;

static double sig_similarity(void *ctx)
{
    sig_pair *p = ctx;
    p->needed = true;
    return p->y ? nfi_minhash_similarity(p->x, p->y, p->perms) : 0;
}

/* Reads the next candidates (summed pair records) of this rank, at most max. */
static void next_cands(nfi_runs *sum, nfi_kv *kv, bool *have, cand *c, size_t max, size_t *n)
{
    *n = 0;
    while (*have && *n < max) {
        uint64_t pair = kv->key >> 1;
        cand x = {(uint32_t)(pair >> 32), (uint32_t)pair, 0, false};
        while (*have && kv->key >> 1 == pair) {
            if ((kv->key & 1) == KIND_BAND)
                x.banded = true;
            else
                x.shared++;
            *have = nfi_runs_next(sum, kv) == 1;
        }
        c[(*n)++] = x;
    }
}

/* The metadata and (with signatures) signature of a candidate's document
 * after a fetch round. */
static doc_head doc_of(const fetch *f, uint64_t doc, const uint32_t **sig)
{
    const char *r = fetched(f, doc);
    doc_head h;
    memcpy(&h, r, sizeof h);
    *sig = (const uint32_t *)(const void *)(r + sizeof h);
    return h;
}

/* Decides candidate c with the documents of f: false in *decided when the
 * rules need the signatures and f has none. */
/* A candidate's document: this rank's own from its engine (no signature),
 * else from f. */
static doc_head head_of(const nfi_mpi_dd *dd, const fetch *f, uint64_t doc, const uint32_t **sig)
{
    if (!is_local(dd, doc) || (f->want & WANT_SIG))
        return doc_of(f, doc, sig);
    uint64_t local = doc - dd->first;
    *sig = NULL;
    return (doc_head){doc, dd->d->docs[local], dd->d->simhashes ? dd->d->simhashes[local] : 0};
}

static nf_status verify_one(nfi_mpi_dd *dd, const fetch *f, const cand *c, bool *decided, nf_error *err)
{
    const uint32_t *sa, *sb;
    doc_head x = head_of(dd, f, c->a, &sa), y = head_of(dd, f, c->b, &sb);
    bool sigs = f->want & WANT_SIG;
    sig_pair sp = {sa, sigs ? sb : NULL, dd->d->opt.perms, false};
    nfi_pair_view v = {&x.meta, &y.meta, x.simhash, y.simhash, sig_similarity, NULL, &sp};
    nfi_edge e;
    bool dup = nfi_dedup_verify(&dd->d->opt, &v, c->a, c->b, c->shared, c->banded, &e);
    *decided = sigs || !sp.needed;
    return *decided && dup ? push_made(dd, e, err) : NF_OK;
}

/* One round of at most max candidates: their documents' metadata fetched,
 * the pairs that need no signature decided, the others (moved to the front
 * of c, *n_sig of them) left for signature rounds. */
static nf_status verify_heads(nfi_mpi_dd *dd, fetch *f, cand *c, size_t n, uint64_t *docs, size_t *n_sig,
                              nf_error *err)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) { /* the other rank's documents */
        if (!is_local(dd, c[i].a))
            docs[k++] = c[i].a;
        if (!is_local(dd, c[i].b))
            docs[k++] = c[i].b;
    }
    nf_status st = fetch_docs(f, docs, k, err);
    *n_sig = 0;
    for (size_t i = 0; i < n && st == NF_OK; i++) {
        bool decided;
        st = verify_one(dd, f, &c[i], &decided, err);
        if (!decided)
            c[(*n_sig)++] = c[i];
    }
    return st;
}

/* Signature rounds (collective): the candidates c[0, n) that need their
 * signatures, at most max_sig / 2 a round. */
static nf_status verify_sigs(nfi_mpi_dd *dd, fetch *f, const cand *c, size_t n, size_t max_sig, uint64_t *docs,
                             nf_error *err)
{
    nf_status st = NF_OK;
    for (size_t at = 0; st == NF_OK;) {
        size_t k = n - at < max_sig / 2 ? n - at : max_sig / 2;
        if (!any_rank(k > 0))
            break;
        for (size_t i = 0; i < k; i++) {
            docs[2 * i] = c[at + i].a;
            docs[2 * i + 1] = c[at + i].b;
        }
        st = fetch_docs(f, docs, 2 * k, err);
        for (size_t i = 0; i < k && st == NF_OK; i++) {
            bool decided;
            st = verify_one(dd, f, &c[at + i], &decided, err);
        }
        at += k;
    }
    return st;
}

static nf_status verify_all(nfi_mpi_dd *dd, nfi_runs *sum, nf_error *err)
{
    size_t max = fetch_max(dd, 0) / 2, max_sig = fetch_max(dd, WANT_SIG);
    fetch heads = {.dd = dd, .want = 0, .size = reply_size(dd, 0)};
    fetch sigs = {.dd = dd, .want = WANT_SIG, .size = reply_size(dd, WANT_SIG)};
    cand *c = malloc(max * sizeof *c);
    uint64_t *docs = malloc(2 * max * sizeof *docs);
    nf_status st = c && docs ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nfi_kv kv;
    bool have = st == NF_OK && nfi_runs_next(sum, &kv) == 1;
    while (st == NF_OK) {
        size_t n = 0, n_sig = 0;
        next_cands(sum, &kv, &have, c, max, &n);
        if (!any_rank(n > 0))
            break;
        dd->candidates += n;
        st = verify_heads(dd, &heads, c, n, docs, &n_sig, err);
        if (dd->d->opt.method != NF_DEDUP_SIMHASH && st == NF_OK)
            st = verify_sigs(dd, &sigs, c, n_sig, max_sig, docs, err);
    }
    if (st == NF_OK && nfi_runs_failed(sum, err))
        st = NF_ERR_IO;
    fetch_free(&heads);
    fetch_free(&sigs);
    free(c);
    free(docs);
    return st;
}

/* ------------------------------------------------------------ 5. incident edges */

typedef struct edge_step {
    nfi_mpi_dd *dd;
    size_t next;
} edge_step;

static nf_status edge_gen(void *ctx, char *out, uint32_t *dest, size_t max, size_t *n, nf_error *err)
{
    (void)err;
    edge_step *x = ctx;
    nfi_edge *r = (nfi_edge *)out;
    *n = 0;
    for (; x->next < x->dd->n_made && *n + 2 <= max; x->next++) {
        nfi_edge e = x->dd->made[x->next];
        uint32_t oa = owner_of(x->dd, e.a), ob = owner_of(x->dd, e.b);
        r[*n] = e;
        dest[(*n)++] = oa;
        if (ob != oa) {
            r[*n] = e;
            dest[(*n)++] = ob;
        }
    }
    return NF_OK;
}

static nf_status edge_sink(void *ctx, const void *recs, size_t n, nf_error *err)
{
    nfi_mpi_dd *dd = ((edge_step *)ctx)->dd;
    nfi_edge *g = nfi_grow_array(dd->inc, &dd->cap_inc, dd->n_inc + n, sizeof *g);
    if (!g)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    dd->inc = g;
    memcpy(dd->inc + dd->n_inc, recs, n * sizeof *g);
    dd->n_inc += n;
    return NF_OK;
}

static uint64_t edge_key(const nfi_edge *e)
{
    return (uint64_t)(e->a < e->b ? e->a : e->b) << 32 | (e->a < e->b ? e->b : e->a);
}

static int cmp_edge_key(const void *p, const void *q)
{
    uint64_t x = edge_key(p), y = edge_key(q);
    return (x > y) - (x < y);
}

static const nfi_edge *find_inc(const nfi_mpi_dd *dd, uint32_t a, uint32_t b)
{
    nfi_edge key = {a, b, 0, 0};
    return bsearch(&key, dd->inc, dd->n_inc, sizeof key, cmp_edge_key);
}

static nf_status spread_edges(nfi_mpi_dd *dd, nf_error *err)
{
    edge_step x = {dd, 0};
    nf_status st = exchange_all(dd, sizeof(nfi_edge), edge_gen, &x, edge_sink, &x, err);
    free(dd->made);
    dd->made = NULL;
    dd->n_made = dd->cap_made = 0;
    if (st == NF_OK && dd->n_inc > 1)
        qsort(dd->inc, dd->n_inc, sizeof *dd->inc, cmp_edge_key);
    return st;
}

/* ------------------------------------------------------------ 6. groups */

/* A label: the best canonical a document has heard of (target: the
 * document it is sent to), with what relate needs of it; the id follows. */
typedef struct label_head {
    uint64_t target, doc;
    doc_meta meta;
    uint64_t simhash;
} label_head;

static size_t label_size(const nfi_mpi_dd *dd) { return sizeof(label_head) + dd->idmax; }

static char *label_at(const nfi_mpi_dd *dd, size_t slot) { return dd->labels + slot * label_size(dd); }

static nf_status make_slots(nfi_mpi_dd *dd, nf_error *err)
{
    size_t longest = 0;
    for (uint64_t i = 0; i < dd->n; i++) {
        size_t len = strlen(local_id(dd, i)) + 1;
        longest = len > longest ? len : longest;
    }
    uint64_t mine = longest, all = 0;
    MPI_Request req;
    MPI_Iallreduce(&mine, &all, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD, &req);
    nfi_mpi_wait(&req);
    dd->idmax = (size_t)((all + 7) & ~(uint64_t)7);
    dd->slot = malloc((dd->n ? dd->n : 1) * sizeof *dd->slot);
    if (!dd->slot)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    memset(dd->slot, 0xFF, (dd->n ? dd->n : 1) * sizeof *dd->slot);
    for (size_t k = 0; k < dd->n_inc; k++) {
        uint32_t ends[2] = {dd->inc[k].a, dd->inc[k].b};
        for (int j = 0; j < 2; j++)
            if (is_local(dd, ends[j]) && dd->slot[ends[j] - dd->first] < 0) {
                if (dd->n_slots >= INT32_MAX)
                    return nfi_fail(err, NF_ERR_ARG, "too many linked documents on one rank");
                dd->slot[ends[j] - dd->first] = (int32_t)dd->n_slots++;
            }
    }
    size_t ns = dd->n_slots ? dd->n_slots : 1;
    dd->labels = calloc(ns, label_size(dd));
    dd->changed = calloc(ns, 1);
    dd->heard = calloc(ns, 1);
    dd->contained_in = malloc(ns * sizeof *dd->contained_in);
    dd->rel = calloc(ns, sizeof *dd->rel);
    dd->score = calloc(ns, sizeof *dd->score);
    if (!dd->labels || !dd->changed || !dd->heard || !dd->contained_in || !dd->rel || !dd->score)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (uint64_t i = 0; i < dd->n; i++) {
        int32_t s = dd->slot[i];
        if (s < 0)
            continue;
        char *l = label_at(dd, (size_t)s);
        label_head h = {dd->first + i, dd->first + i, dd->d->docs[i], dd->d->simhashes ? dd->d->simhashes[i] : 0};
        memcpy(l, &h, sizeof h);
        memcpy(l + sizeof h, local_id(dd, i), strlen(local_id(dd, i)) + 1);
        dd->changed[s] = 1;
        dd->contained_in[s] = -1;
    }
    for (size_t k = 0; k < dd->n_inc; k++) { /* the best containment of a in another */
        const nfi_edge *e = &dd->inc[k];
        if (e->relation == NF_REL_CONTAINED && is_local(dd, e->a)) {
            int32_t s = dd->slot[e->a - dd->first];
            if (e->score > dd->contained_in[s])
                dd->contained_in[s] = e->score;
        }
    }
    return NF_OK;
}

typedef struct label_step {
    nfi_mpi_dd *dd;
    size_t next;
    int end;          /* 0 or 1: which end of edge next is sent next */
} label_step;

static nf_status label_gen(void *ctx, char *out, uint32_t *dest, size_t max, size_t *n, nf_error *err)
{
    (void)err;
    label_step *x = ctx;
    nfi_mpi_dd *dd = x->dd;
    size_t size = label_size(dd);
    *n = 0;
    for (; x->next < dd->n_inc && *n < max; x->end = !x->end, x->next += x->end == 0) {
        const nfi_edge *e = &dd->inc[x->next];
        uint32_t from = x->end ? e->b : e->a, to = x->end ? e->a : e->b;
        if (!is_local(dd, from) || !dd->changed[dd->slot[from - dd->first]])
            continue;
        char *r = out + *n * size;
        memcpy(r, label_at(dd, (size_t)dd->slot[from - dd->first]), size);
        uint64_t target = to;
        memcpy(r, &target, sizeof target);
        dest[(*n)++] = owner_of(dd, to);
    }
    return NF_OK;
}

static bool better_label(const char *x, const char *y)
{
    label_head a, b;
    memcpy(&a, x, sizeof a);
    memcpy(&b, y, sizeof b);
    return nfi_dedup_better(&a.meta, x + sizeof a, &b.meta, y + sizeof b);
}

static nf_status label_sink(void *ctx, const void *recs, size_t n, nf_error *err)
{
    nfi_mpi_dd *dd = ((label_step *)ctx)->dd;
    size_t size = label_size(dd);
    for (size_t i = 0; i < n; i++) {
        const char *r = (const char *)recs + i * size;
        uint64_t target;
        memcpy(&target, r, sizeof target);
        if (!is_local(dd, target) || dd->slot[target - dd->first] < 0)
            return nfi_fail(err, NF_ERR_ARG, "MPI: a label for document %llu, not linked on rank %d",
                            (unsigned long long)target, dd->m->rank);
        size_t s = (size_t)dd->slot[target - dd->first];
        if (better_label(r, label_at(dd, s))) {
            memcpy(label_at(dd, s) + sizeof target, r + sizeof target, size - sizeof target);
            dd->heard[s] = 1;
        }
    }
    return NF_OK;
}

/* Label propagation until no label changes on any rank. */
static nf_status find_groups(nfi_mpi_dd *dd, nf_error *err)
{
    nf_status st = make_slots(dd, err);
    while (st == NF_OK) {
        label_step x = {dd, 0, 0};
        st = exchange_all(dd, label_size(dd), label_gen, &x, label_sink, &x, err);
        bool any = false;
        for (size_t s = 0; s < dd->n_slots; s++) {
            dd->changed[s] = dd->heard[s];
            any |= dd->heard[s] != 0;
            dd->heard[s] = 0;
        }
        if (st != NF_OK || !any_rank(any))
            break;
    }
    return st;
}

/* ------------------------------------------------------------ 7. relations */

typedef struct relate_ctx {
    const uint32_t *x, *y; /* NULL y: only note that it is needed */
    int perms;
    bool needed;
} relate_ctx;

static double relate_similarity(void *ctx)
{
    relate_ctx *r = ctx;
    r->needed = true;
    return r->y ? nfi_minhash_similarity(r->x, r->y, r->perms) : 0;
}

/* The relation of linked local document i to its canonical; sig_c: the
 * canonical's signature (NULL: *needed says whether it is). */
static nf_status relate_one(nfi_mpi_dd *dd, uint64_t i, const uint32_t *sig_c, uint32_t *sig_i, bool *needed,
                            nf_error *err)
{
    size_t s = (size_t)dd->slot[i];
    label_head h;
    memcpy(&h, label_at(dd, s), sizeof h);
    if (sig_c && dd->d->opt.method != NF_DEDUP_SIMHASH) {
        nf_status st = read_sig(dd, i, sig_i, err);
        if (st != NF_OK)
            return st;
    }
    relate_ctx rc = {sig_i, sig_c, dd->d->opt.perms, false};
    nfi_pair_view v = {&dd->d->docs[i], &h.meta, dd->d->simhashes ? dd->d->simhashes[i] : 0, h.simhash,
                       relate_similarity, NULL, &rc};
    uint32_t gi = (uint32_t)(dd->first + i), gc = (uint32_t)h.doc;
    nfi_dedup_relate(&dd->d->opt, &v, gi == gc ? NULL : find_inc(dd, gi, gc), gi, gc, dd->contained_in[s],
                     &dd->rel[s], &dd->score[s]);
    *needed = rc.needed;
    return NF_OK;
}

/* In rounds of at most fetch_max documents: the relations that need no
 * signature of another rank's document at once, the others after fetching
 * their canonicals' signatures. */
static nf_status relate_all(nfi_mpi_dd *dd, nf_error *err)
{
    size_t max = fetch_max(dd, WANT_SIG);
    fetch f = {.dd = dd, .want = WANT_SIG, .size = reply_size(dd, WANT_SIG)};
    uint64_t *docs = malloc(max * sizeof *docs), *members = malloc(max * sizeof *members);
    uint32_t *sig_i = malloc(sig_bytes(dd));
    nf_status st = docs && members && sig_i ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    uint64_t next = 0;
    while (st == NF_OK) {
        size_t n = 0;
        for (; next < dd->n && n < max && st == NF_OK; next++) {
            bool needed = false;
            if (dd->slot[next] >= 0 && (st = relate_one(dd, next, NULL, sig_i, &needed, err)) == NF_OK && needed)
                members[n++] = next;
        }
        if (st != NF_OK || !any_rank(n > 0))
            break;
        for (size_t k = 0; k < n; k++) {
            label_head h;
            memcpy(&h, label_at(dd, (size_t)dd->slot[members[k]]), sizeof h);
            docs[k] = h.doc;
        }
        st = fetch_docs(&f, docs, n, err);
        for (size_t k = 0; k < n && st == NF_OK; k++) {
            label_head h;
            memcpy(&h, label_at(dd, (size_t)dd->slot[members[k]]), sizeof h);
            bool needed;
            const char *r = fetched(&f, h.doc);
            st = relate_one(dd, members[k], (const uint32_t *)(const void *)(r + sizeof(doc_head)), sig_i, &needed,
                            err);
        }
    }
    fetch_free(&f);
    free(docs);
    free(members);
    free(sig_i);
    return st;
}

/* ------------------------------------------------------------ 8. output */

/* The JSONL record of local document i, through the report's own writer
 * (a two-document result: the document and its canonical). */
static void format_doc(const nfi_mpi_dd *dd, uint64_t i, nf_buffer *b)
{
    const doc_meta *m = &dd->d->docs[i];
    nf_dedup_record r[2] = {{0}};
    nf_dedup_result res = {.docs = r, .n_docs = 2};
    r[0].id = local_id(dd, i);
    int32_t s = dd->slot[i];
    if (s < 0) {
        r[0].canonical = 0;
        r[0].relation = NF_REL_UNIQUE;
        r[0].score = 0;
        r[0].reason = m->flags & DOC_EMPTY ? "empty" : m->flags & DOC_TOO_SHORT ? "too_short" : NULL;
    } else {
        r[0].canonical = 1;
        r[0].relation = dd->rel[s];
        r[0].score = dd->score[s];
        r[1].id = label_at(dd, (size_t)s) + sizeof(label_head);
    }
    nf_jsonl_dedup_record(b, &res, 0);
}

/* run --mpi: the assignment of local document i, when it is not the
 * default (unique, its own canonical, score 0, no reason). */
static bool assign_doc(const nfi_mpi_dd *dd, uint64_t i, nfi_mpi_dd_assign *a)
{
    const doc_meta *m = &dd->d->docs[i];
    int32_t s = dd->slot[i];
    *a = (nfi_mpi_dd_assign){(uint32_t)(dd->first + i), (uint32_t)(dd->first + i), NF_REL_UNIQUE, 0, 0};
    if (s < 0) {
        a->reason = m->flags & DOC_EMPTY ? NFI_MPI_DD_EMPTY : m->flags & DOC_TOO_SHORT ? NFI_MPI_DD_TOO_SHORT : 0;
        return a->reason != 0;
    }
    label_head h;
    memcpy(&h, label_at(dd, (size_t)s), sizeof h);
    a->canonical = (uint32_t)h.doc;
    a->relation = (uint32_t)dd->rel[s];
    a->score = dd->score[s];
    return true;
}

/* The pairs whose smaller document is this rank's, in the engine's order,
 * formatted into a temporary file (the other ids fetched in rounds). */
static nf_status format_pairs(nfi_mpi_dd *dd, FILE *out, nf_error *err)
{
    size_t max = fetch_max(dd, WANT_ID);
    fetch f = {.dd = dd, .want = WANT_ID, .size = reply_size(dd, WANT_ID)};
    uint64_t *docs = malloc(max * sizeof *docs);
    nf_buffer b = {0};
    nf_status st = docs ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    size_t next = 0;
    while (st == NF_OK) {
        size_t first = next, n = 0;
        for (; next < dd->n_inc && n < max; next++) {
            const nfi_edge *e = &dd->inc[next];
            uint32_t lo = e->a < e->b ? e->a : e->b, hi = e->a < e->b ? e->b : e->a;
            if (is_local(dd, lo))
                docs[n++] = hi;
        }
        if (!any_rank(n > 0))
            break;
        st = fetch_docs(&f, docs, n, err);
        for (size_t k = first; k < next && st == NF_OK; k++) {
            const nfi_edge *e = &dd->inc[k];
            uint32_t lo = e->a < e->b ? e->a : e->b, hi = e->a < e->b ? e->b : e->a;
            if (!is_local(dd, lo))
                continue;
            const char *other = fetched(&f, hi) + sizeof(doc_head);
            nf_dedup_record r[2] = {{0}};
            nf_dedup_pair p = {e->a == lo ? 0 : 1, e->a == lo ? 1 : 0, (nf_relation)e->relation, e->score};
            r[0].id = local_id(dd, lo - dd->first);
            r[1].id = other;
            nf_dedup_result res = {.docs = r, .n_docs = 2, .pairs = &p, .n_pairs = 1};
            b.len = 0;
            nf_jsonl_dedup_pair(&b, &res, 0);
            if (b.oom || fwrite(b.data, 1, b.len, out) != b.len)
                st = nfi_fail(err, NF_ERR_IO, "cannot write pairs to a temporary file (disk full?)");
        }
    }
    nf_buffer_free(&b);
    free(docs);
    fetch_free(&f);
    return st;
}

static void send_piece(const void *p, size_t len, int tag)
{
    MPI_Request req;
    int done = 0;
    MPI_Issend(p, (int)len, MPI_BYTE, 0, tag, MPI_COMM_WORLD, &req);
    for (MPI_Test(&req, &done, MPI_STATUS_IGNORE); !done; MPI_Test(&req, &done, MPI_STATUS_IGNORE))
        nfi_mpi_pause();
}

/* Rank 0: the pieces of rank src until its end mark, through write. */
static nf_status receive_pieces(int src, int which, nf_mpi_write_fn write, void *ctx, nf_mpi_stats *stats,
                                nf_error *err)
{
    char *buf = malloc(OUT_PIECE);
    if (!buf)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nf_status st = NF_OK;
    for (;;) {
        MPI_Status status;
        int ready = 0, count = 0;
        for (MPI_Iprobe(src, MPI_ANY_TAG, MPI_COMM_WORLD, &ready, &status); !ready;
             MPI_Iprobe(src, MPI_ANY_TAG, MPI_COMM_WORLD, &ready, &status))
            nfi_mpi_pause();
        MPI_Get_count(&status, MPI_BYTE, &count);
        if ((status.MPI_TAG != TAG_OUT && status.MPI_TAG != TAG_OUT_END) || count < 0 || (size_t)count > OUT_PIECE) {
            st = nfi_fail(err, NF_ERR_ARG, "MPI: rank %d sent an unexpected message (tag %d)", src, status.MPI_TAG);
            break;
        }
        MPI_Recv(buf, count, MPI_BYTE, src, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        stats->bytes_received += (uint64_t)count;
        if (status.MPI_TAG == TAG_OUT_END)
            break;
        if ((st = write(ctx, which, buf, (size_t)count, err)) != NF_OK)
            break;
    }
    free(buf);
    return st;
}

/* A piece of this rank's output: written here (rank 0, or a shard) or
 * sent to rank 0. */
typedef struct out_dest {
    bool local;
    int which;
    nf_mpi_write_fn write;
    void *ctx;
    nf_mpi_stats *stats;
} out_dest;

static nf_status put_piece(const out_dest *o, const char *p, size_t len, nf_error *err)
{
    if (o->local)
        return len ? o->write(o->ctx, o->which, p, len, err) : NF_OK;
    for (size_t off = 0; off < len; off += OUT_PIECE) { /* the receiver's buffer holds a piece */
        size_t k = len - off < OUT_PIECE ? len - off : OUT_PIECE;
        send_piece(p + off, k, TAG_OUT);
        o->stats->bytes_sent += k;
    }
    return NF_OK;
}

/* This rank's documents: their JSONL records, or (assign) the
 * nfi_mpi_dd_assign records of those that are not unique alone; a piece
 * holds whole records. */
static nf_status put_docs(const nfi_mpi_dd *dd, const out_dest *o, bool assign, nf_error *err)
{
    nf_buffer b = {0};
    nf_status st = NF_OK;
    for (uint64_t i = 0; i < dd->n && st == NF_OK; i++) {
        nfi_mpi_dd_assign a;
        if (!assign)
            format_doc(dd, i, &b);
        else if (assign_doc(dd, i, &a))
            nfi_buf_append(&b, &a, sizeof a);
        if (b.oom)
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        else if (b.len >= OUT_PIECE / 2 || i + 1 == dd->n) {
            st = put_piece(o, b.data, b.len, err);
            b.len = 0;
        }
    }
    nf_buffer_free(&b);
    return st;
}

static nf_status put_file(FILE *f, const out_dest *o, nf_error *err)
{
    char *buf = malloc(OUT_PIECE);
    nf_status st = buf ? rewind_file(f, err) : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    size_t got;
    while (st == NF_OK && (got = fread(buf, 1, OUT_PIECE, f)) > 0)
        st = put_piece(o, buf, got, err);
    if (st == NF_OK && ferror(f))
        st = nfi_fail(err, NF_ERR_IO, "cannot read a temporary file back");
    free(buf);
    return st;
}

/* One output stream (which) in rank order on rank 0; shard: each rank's
 * own. pieces: this rank's part (docs, or a file of pairs). */
static nf_status write_stream(nfi_mpi_dd *dd, int which, const nfi_mpi_dd_output *out, FILE *pairs,
                              nf_mpi_stats *stats, nf_error *err)
{
    int rank = dd->m->rank;
    bool shard = out->shard && !pairs;
    out_dest o = {shard || rank == 0, which, out->write, out->ctx, stats};
    nf_status st = pairs ? put_file(pairs, &o, err) : put_docs(dd, &o, out->assign, err);
    if (shard)
        return st;
    if (rank != 0) {
        if (st == NF_OK)
            send_piece(NULL, 0, TAG_OUT_END);
        return st;
    }
    for (int r = 1; r < dd->m->size && st == NF_OK; r++)
        st = receive_pieces(r, which, out->write, out->ctx, stats, err);
    return st;
}

/* ------------------------------------------------------------ the finish */

nf_status nfi_mpi_dd_finish(nfi_mpi_dd *dd, const uint64_t *docs_of, const nfi_mpi_dd_output *out,
                            nf_mpi_stats *stats, nf_error *err)
{
    int N = dd->m->size;
    dd->n = dd->d->n_docs;
    dd->start = calloc((size_t)N + 1, sizeof *dd->start);
    dd->repeat = calloc(dd->n ? dd->n : 1, 1);
    if (!dd->start || !dd->repeat)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (int r = 0; r < N; r++)
        dd->start[r + 1] = dd->start[r] + docs_of[r];
    dd->first = dd->start[dd->m->rank];
    if (dd->start[dd->m->rank + 1] - dd->first != dd->n)
        return nfi_fail(err, NF_ERR_ARG, "MPI: rank %d sketched %llu documents, %llu were planned", dd->m->rank,
                        (unsigned long long)dd->n, (unsigned long long)docs_of[dd->m->rank]);
    if (dd->start[N] >= (uint64_t)INT32_MAX) /* pair records hold two numbers and a bit */
        return nfi_fail(err, NF_ERR_ARG, "more than 2 billion documents");
    if (fflush(dd->d->sig_file) != 0)
        return nfi_fail(err, NF_ERR_IO, "cannot write signatures to a temporary file (disk full?)");
    nfi_runs *sum = NULL;
    nf_status st = find_exact(dd, err);
    if (st == NF_OK)
        st = find_pairs(dd, &sum, err);
    if (st == NF_OK)
        st = verify_all(dd, sum, err);
    nfi_runs_free(sum);
    if (st == NF_OK)
        st = spread_edges(dd, err);
    if (st == NF_OK)
        st = find_groups(dd, err);
    if (st == NF_OK)
        st = relate_all(dd, err);
    FILE *pairs = NULL;
    if (st == NF_OK && out->pairs && !(pairs = nfi_temp_file(dd->d->opt.tmp_dir, "newsfold-out")))
        st = nfi_fail(err, NF_ERR_IO, "cannot create a temporary file for pairs");
    if (st == NF_OK && pairs)
        st = format_pairs(dd, pairs, err);
    stats->bytes_exchanged += dd->bytes;
    if (st == NF_OK)
        st = write_stream(dd, 0, out, NULL, stats, err);
    if (st == NF_OK && pairs)
        st = write_stream(dd, 1, out, pairs, stats, err);
    if (pairs)
        fclose(pairs);
    return st;
}

uint64_t nfi_mpi_dd_candidates(const nfi_mpi_dd *dd) { return dd->candidates; }

#endif
