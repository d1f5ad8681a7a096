/*
 * mpi_fold.c - the distributed fold over Open MPI: `newsfold run --mpi`
 * (docs/distributed.md, "run --mpi").
 *
 * Design: the skeleton of every distributed command (mpi.c,
 * nfi_mpi_gather) plus the distributed finishes of dedup and links, one
 * implementation each (mpi_dedup.c, mpi_links.c). The ranks read the
 * single process's batches, each batch on one rank, which cleans it and
 * computes, on its threads and with its own fold's stage objects, every
 * stage's per-document item:
 *   - the dedup sketch (nfi_dedup_sketch) stays on the rank
 *     (nfi_mpi_dd_add: metadata and signature in the fold's dedup stage,
 *     used as storage; band keys and samples in a temporary file);
 *   - the pivot (nf_links_add into the fold's links stage) stays on the
 *     rank too (nfi_mpi_links_keep: its pivot file, as links --mpi);
 *   - the event features (nfi_events_features) go to rank 0 with the
 *     pivot's projection: its feature hashes and counts, all the event
 *     stage reads of a pivot (nf_events_set_pivot: the neutral channel's
 *     weights, document frequencies and burst window), and only for
 *     documents with tokens (the stage ignores the others' pivots).
 * A batch leaves the rank as one message of records, one per document:
 * the event record (id, title, language, source, url, dates, token count
 * and features; never the text), then the projection. Rank 0 appends the
 * event records in input order (nfi_events_append_doc) and keeps the
 * projections. Then the ranks finish dedup and links together
 * (nfi_mpi_dd_finish with assignment records to rank 0, only for the
 * documents not unique alone; nfi_mpi_links_finish_on, the links to rank
 * 0), and rank 0 rebuilds the engine's results, sets each document's
 * projected pivot and runs the event stream and storylines
 * (nfi_fold_finish_given). The stream is serial in time order and stays on
 * rank 0 over features, as the issue allows; every step before it is the
 * single process's over the same documents in the same order, so the
 * result is byte-identical for any N.
 * Projection wire format (after the event record): n features and n_big
 * (u32 each), n hashes (u64), n counts (u8; 255: the next of n_big u32
 * counts that follow), padded to 8 bytes.
 * Memory: every rank holds one batch, its pivot and key files' offsets and
 * the finishes' state (docs/distributed.md); rank 0 also holds the event
 * stage (metadata, spill file) and the projections (16 bytes a feature).
 * Without MPI the entry points fail with "built without MPI".
 */
#include "mpi/mpi.h"

#include <stdlib.h>
#include <string.h>

#ifndef NF_HAVE_MPI

nf_status nf_mpi_fold_new(nf_mpi_fold **out, nf_mpi *m, const nf_fold_options *options, nf_error *err)
{
    (void)m, (void)options;
    *out = NULL;
    return nfi_fail(err, NF_ERR_ARG, "built without MPI (install libopenmpi-dev and rebuild)");
}
nf_status nf_mpi_fold_run(nf_mpi_fold *mf, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err)
{
    (void)mf, (void)in;
    memset(totals, 0, sizeof *totals);
    return nfi_fail(err, NF_ERR_ARG, "built without MPI (install libopenmpi-dev and rebuild)");
}
nf_status nf_mpi_fold_finish(nf_mpi_fold *mf, nf_fold_result *out, nf_error *err)
{
    (void)mf;
    memset(out, 0, sizeof *out);
    return nfi_fail(err, NF_ERR_ARG, "built without MPI (install libopenmpi-dev and rebuild)");
}
void nf_mpi_fold_stats(const nf_mpi_fold *mf, nf_mpi_stats *out)
{
    (void)mf;
    memset(out, 0, sizeof *out);
}
void nf_mpi_fold_free(nf_mpi_fold *mf) { (void)mf; }

#else

#include "dedup/dedup.h"
#include "events/events.h"
#include "fold/fold.h"
#include "links/links.h"

#define BIG_COUNT 255 /* a projection's count byte: the count follows as a u32 */

struct nf_mpi_fold {
    nf_mpi *m;
    nf_fold *fold;         /* every rank: its stages; rank 0 also finishes it */
    nfi_fold_stages st;
    nf_clean_doc *cleaned; /* one batch */
    nfi_dedup_item *items;
    nfi_docfeat *feats;
    size_t cap;
    nfi_mpi_gather g;
    nfi_mpi_dd *dd;        /* dedup on: this rank's documents, the distributed finish */
    nf_mpi_links *ml;      /* links on: this rank's pivot file, the distributed finish */
    nf_pivot *proj;        /* rank 0: each document's projected pivot (features owned) */
    size_t n_proj, cap_proj;
    nf_dedup_result dedup; /* rank 0: rebuilt from the assignments */
    double cpu_finish;
};

static nf_status grow_batch(nf_mpi_fold *mf, size_t n, nf_error *err)
{
    if (n <= mf->cap)
        return NF_OK;
    nf_clean_doc *c = realloc(mf->cleaned, n * sizeof *c);
    if (c)
        mf->cleaned = c;
    nfi_dedup_item *it = realloc(mf->items, n * sizeof *it);
    if (it)
        mf->items = it;
    nfi_docfeat *f = realloc(mf->feats, n * sizeof *f);
    if (f)
        mf->feats = f;
    if (!c || !it || !f)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    mf->cap = n;
    return NF_OK;
}

/* ------------------------------------------------------------ the projection */

/* What the event stage reads of document i's pivot (none without tokens). */
static void put_projection(nfi_buf *b, const nf_pivot *p, bool wanted)
{
    uint32_t head[2] = {wanted && p ? (uint32_t)p->n_features : 0, 0};
    for (uint32_t k = 0; k < head[0]; k++)
        head[1] += p->features[k].count >= BIG_COUNT;
    size_t start = b->len;
    nfi_buf_append(b, head, sizeof head);
    for (uint32_t k = 0; k < head[0]; k++)
        nfi_buf_append(b, &p->features[k].hash, 8);
    for (uint32_t k = 0; k < head[0]; k++) {
        uint8_t c = p->features[k].count >= BIG_COUNT ? BIG_COUNT : (uint8_t)p->features[k].count;
        nfi_buf_append(b, &c, 1);
    }
    for (uint32_t k = 0; k < head[0]; k++)
        if (p->features[k].count >= BIG_COUNT)
            nfi_buf_append(b, &p->features[k].count, 4);
    nfi_buf_pad8(b, b->len - start);
}

/* Rank 0: reads the projection at *pos into the next pivot. */
static nf_status get_projection(nf_mpi_fold *mf, const char *buf, size_t len, size_t *pos, nf_error *err)
{
    uint32_t head[2];
    if (len - *pos < sizeof head)
        return nfi_fail(err, NF_ERR_PARSE, "MPI: truncated batch");
    memcpy(head, buf + *pos, sizeof head);
    size_t n = head[0], need = nfi_pad8(sizeof head + 9 * n + 4 * (size_t)head[1]);
    if (head[1] > head[0] || len - *pos < need)
        return nfi_fail(err, NF_ERR_PARSE, "MPI: malformed batch (a pivot's projection)");
    nf_pivot *g = nfi_grow_array(mf->proj, &mf->cap_proj, mf->n_proj + 1, sizeof *g);
    if (!g)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    mf->proj = g;
    nf_pivot *p = &mf->proj[mf->n_proj++];
    memset(p, 0, sizeof *p);
    if (n && !(p->features = malloc(n * sizeof *p->features)))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    p->n_features = n;
    const char *hashes = buf + *pos + sizeof head, *counts = hashes + 8 * n, *big = counts + n;
    uint32_t n_big = 0;
    for (size_t k = 0; k < n; k++) {
        nf_pivot_feature *f = &p->features[k];
        memset(f, 0, sizeof *f);
        memcpy(&f->hash, hashes + 8 * k, 8);
        f->count = (uint8_t)counts[k];
        if (f->count == BIG_COUNT && n_big < head[1])
            memcpy(&f->count, big + 4 * (size_t)n_big++, 4);
        else if (f->count == BIG_COUNT)
            return nfi_fail(err, NF_ERR_PARSE, "MPI: malformed batch (a pivot's projection)");
    }
    if (n_big != head[1])
        return nfi_fail(err, NF_ERR_PARSE, "MPI: malformed batch (a pivot's projection)");
    *pos += need;
    return NF_OK;
}

/* ------------------------------------------------------------ the items */

/* Every stage's item of each cleaned document of the batch: sketches and
 * pivots kept on this rank, event records and projections to wire. */
static nf_status batch_items(nf_mpi_fold *mf, size_t n, nfi_buf *wire, nf_error *err)
{
    nf_status st = NF_OK;
    if (mf->st.links)
        st = nf_links_add(mf->st.links, mf->cleaned, n, err);
    if (st == NF_OK && mf->st.dedup)
        st = nfi_dedup_sketch(mf->st.dedup, mf->cleaned, n, mf->items, err);
    for (size_t i = 0; i < n && st == NF_OK && mf->dd; i++)
        st = nfi_mpi_dd_add(mf->dd, &mf->items[i], err);
    if (st == NF_OK)
        st = nfi_events_features(mf->st.events, mf->cleaned, n, mf->feats, err);
    for (size_t i = 0; i < n && st == NF_OK; i++) {
        nfi_events_put_doc(wire, &mf->cleaned[i], &mf->feats[i]);
        const nf_pivot *p = mf->st.links ? nf_links_pivot(mf->st.links, i) : NULL;
        put_projection(wire, p, mf->cleaned[i].n_tokens > 0);
    }
    return st;
}

/* Cleans one batch and puts every document's items where they go; the
 * pivots then leave the stage for the rank's pivot file. */
static nf_status fold_batch(void *ctx, nf_doc *docs, size_t n, nfi_buf *wire, nf_error *err)
{
    nf_mpi_fold *mf = ctx;
    nf_status st = grow_batch(mf, n, err);
    if (st != NF_OK)
        return st;
    memset(mf->items, 0, n * sizeof *mf->items);
    memset(mf->feats, 0, n * sizeof *mf->feats);
    st = nf_clean_batch(mf->st.cleaner, docs, n, mf->cleaned, err);
    if (st != NF_OK)
        return st;
    if (mf->st.links && nfi_links_size(mf->st.links) != 0)
        return nfi_fail(err, NF_ERR_ARG, "MPI: the links stage holds another batch");
    st = batch_items(mf, n, wire, err);
    for (size_t i = 0; i < n; i++) {
        if (mf->st.dedup)
            nfi_dedup_item_free(&mf->items[i]);
        nfi_docfeat_free(&mf->feats[i]);
        nf_clean_doc_free(&mf->cleaned[i]);
    }
    if (mf->ml) {
        nf_status kept = nfi_mpi_links_keep(mf->ml, err);
        st = st == NF_OK ? kept : st;
    }
    if (st == NF_OK && wire->oom)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return st;
}

/* Rank 0: appends the document at *pos to the event stage and keeps its
 * projection. */
static nf_status append_doc(void *ctx, const char *buf, size_t len, size_t *pos, nf_error *err)
{
    nf_mpi_fold *mf = ctx;
    nf_status st = nfi_events_append_doc(mf->st.events, buf, len, pos, err);
    if (st == NF_OK)
        st = get_projection(mf, buf, len, pos, err);
    if (st == NF_OK)
        nfi_fold_appended(mf->fold, 1);
    return st;
}

/* ------------------------------------------------------------ entry points */

nf_status nf_mpi_fold_new(nf_mpi_fold **out, nf_mpi *m, const nf_fold_options *options, nf_error *err)
{
    *out = NULL;
    if (!m)
        return nfi_fail(err, NF_ERR_ARG, "MPI is not initialised (nf_mpi_init)");
    if (options && options->live)
        return nfi_fail(err, NF_ERR_ARG, "a distributed fold is a batch fold (options.live must be 0)");
    if (options && options->dedup_on && (options->dedup.index_dir || options->dedup.exact_verify))
        return nfi_fail(err, NF_ERR_ARG, "a distributed fold has no dedup index and no exact verification");
    nf_mpi_fold *mf = calloc(1, sizeof *mf);
    if (!mf)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    mf->m = m;
    mf->g = (nfi_mpi_gather){.m = m, .tmp_dir = options ? options->dedup.tmp_dir : NULL, .produce = fold_batch,
                             .consume = append_doc, .ctx = mf};
    nfi_buf_init(&mf->g.wire);
    nf_status st = nf_fold_open(&mf->fold, options, err);
    if (st == NF_OK) {
        mf->st = nfi_fold_stages_of(mf->fold);
        if (mf->st.dedup)
            st = nfi_mpi_dd_new(&mf->dd, m, mf->st.dedup, err);
    }
    if (st == NF_OK && mf->st.links)
        st = nfi_mpi_links_on(&mf->ml, m, mf->st.links, mf->g.tmp_dir, err);
    if (st != NF_OK) {
        nf_mpi_fold_free(mf);
        return st;
    }
    *out = mf;
    return NF_OK;
}

nf_status nf_mpi_fold_run(nf_mpi_fold *mf, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err)
{
    return nfi_mpi_gather_run(&mf->g, in, totals, err);
}

/* Rank 0: the assignments of another rank's documents (or its own), whole
 * records, into the rebuilt result. */
static nf_status take_assign(void *ctx, int which, const char *data, size_t len, nf_error *err)
{
    nf_dedup_result *r = ctx;
    if (which != 0 || len % sizeof(nfi_mpi_dd_assign) != 0)
        return nfi_fail(err, NF_ERR_PARSE, "MPI: malformed dedup assignments");
    for (size_t off = 0; off < len; off += sizeof(nfi_mpi_dd_assign)) {
        nfi_mpi_dd_assign a;
        memcpy(&a, data + off, sizeof a);
        if (a.doc >= r->n_docs || a.canonical >= r->n_docs || a.relation > NF_REL_CONTAINED ||
            a.reason > NFI_MPI_DD_TOO_SHORT)
            return nfi_fail(err, NF_ERR_PARSE, "MPI: malformed dedup assignments");
        nf_dedup_record *d = &r->docs[a.doc];
        d->canonical = a.canonical;
        d->relation = (nf_relation)a.relation;
        d->score = a.score;
        d->reason = a.reason == NFI_MPI_DD_EMPTY ? "empty" : a.reason == NFI_MPI_DD_TOO_SHORT ? "too_short" : NULL;
    }
    return NF_OK;
}

/* Collective: the distributed dedup finish; rank 0 rebuilds the engine's
 * result (without pairs; ids set after the events, from theirs). */
static nf_status finish_dedup(nf_mpi_fold *mf, nf_error *err)
{
    nf_dedup_result *r = &mf->dedup;
    uint64_t total = 0;
    for (int k = 0; k < mf->m->size; k++)
        total += mf->g.docs_of[k];
    nf_status st = NF_OK;
    if (mf->m->rank == 0) {
        r->n_docs = (size_t)total;
        r->docs = calloc(total ? total : 1, sizeof *r->docs);
        r->bands = mf->st.dedup->bands;
        r->rows = mf->st.dedup->rows;
        if (!r->docs)
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == NF_OK && i < r->n_docs; i++)
            r->docs[i] = (nf_dedup_record){.canonical = (uint32_t)i, .relation = NF_REL_UNIQUE};
    }
    if (st != NF_OK) /* the others are inside the finish: stop them all */
        return st;
    nfi_mpi_dd_output out = {.assign = true, .write = take_assign, .ctx = r};
    st = nfi_mpi_dd_finish(mf->dd, mf->g.docs_of, &out, &mf->g.stats, err);
    return st;
}

/* Rank 0: the ids of the rebuilt dedup result, the event documents'. */
static nf_status dedup_ids(nf_fold_result *out, nf_error *err)
{
    nf_dedup_result *r = &out->dedup;
    if (r->n_docs != out->events.n_docs)
        return nfi_fail(err, NF_ERR_ARG, "MPI: %zu dedup documents, %zu events documents", r->n_docs,
                        out->events.n_docs);
    nfi_buf ids;
    nfi_buf_init(&ids);
    size_t *at = malloc((r->n_docs ? r->n_docs : 1) * sizeof *at);
    for (size_t i = 0; at && i < r->n_docs; i++) {
        at[i] = ids.len;
        const char *id = out->events.docs[i].id ? out->events.docs[i].id : "";
        nfi_buf_append(&ids, id, strlen(id) + 1);
    }
    r->ids = at ? nfi_buf_take(&ids, NULL) : NULL;
    nfi_buf_free(&ids);
    for (size_t i = 0; r->ids && i < r->n_docs; i++)
        r->docs[i].id = r->ids + at[i];
    free(at);
    return r->ids || !r->n_docs ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
}

nf_status nf_mpi_fold_finish(nf_mpi_fold *mf, nf_fold_result *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    double t0 = nfi_mpi_cpu();
    nf_status st = mf->dd ? finish_dedup(mf, err) : NF_OK;
    if (st == NF_OK && mf->ml)
        st = nfi_mpi_links_finish_on(mf->ml, mf->g.docs_of, &out->links, err);
    if (mf->ml)
        mf->g.stats.bytes_exchanged += nfi_mpi_links_bytes(mf->ml);
    if (st == NF_OK && mf->m->rank == 0 && mf->n_proj != nf_fold_size(mf->fold))
        st = nfi_fail(err, NF_ERR_ARG, "MPI: %zu projections for %zu documents", mf->n_proj,
                      nf_fold_size(mf->fold));
    for (size_t i = 0; st == NF_OK && mf->m->rank == 0 && mf->st.links && i < mf->n_proj; i++)
        st = nf_events_set_pivot(mf->st.events, i, &mf->proj[i], err);
    if (st == NF_OK && mf->m->rank == 0) {
        out->dedup = mf->dedup;
        memset(&mf->dedup, 0, sizeof mf->dedup);
        st = nfi_fold_finish_given(mf->fold, out, err);
        if (st == NF_OK && mf->st.dedup)
            st = dedup_ids(out, err);
    }
    mf->cpu_finish = nfi_mpi_cpu() - t0;
    if (st != NF_OK || mf->m->rank != 0)
        nf_fold_result_free(out);
    return st;
}

void nf_mpi_fold_stats(const nf_mpi_fold *mf, nf_mpi_stats *out)
{
    *out = mf->g.stats;
    out->cpu_finish = mf->cpu_finish;
}

void nf_mpi_fold_free(nf_mpi_fold *mf)
{
    if (!mf)
        return;
    nfi_mpi_dd_free(mf->dd);
    nf_mpi_links_free(mf->ml); /* before the fold: it borrows its links stage */
    nf_fold_close(mf->fold);
    for (size_t i = 0; i < mf->n_proj; i++)
        free(mf->proj[i].features);
    free(mf->proj);
    nf_dedup_result_free(&mf->dedup);
    free(mf->cleaned);
    free(mf->items);
    free(mf->feats);
    nfi_mpi_gather_free(&mf->g);
    free(mf);
}

#endif
