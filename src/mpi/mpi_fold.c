/*
 * mpi_fold.c - the distributed fold over Open MPI: `newsfold run --mpi`
 * (docs/distributed.md, "run --mpi").
 *
 * Design: the skeleton of every distributed command (mpi.c,
 * nfi_mpi_gather). The ranks read the single process's batches, each batch
 * on one rank, which cleans it and computes, on its threads and with its
 * own fold's stage objects, every stage's per-document item: the dedup
 * sketch (nfi_dedup_sketch), the pivot (nf_links_add, then
 * nfi_links_put_pivot) and the event features (nfi_events_features). A
 * batch leaves the rank as one message of records, one per document:
 * pivot, dedup item, event record (id, title, language, source, url,
 * dates, token count and features; never the text). Rank 0 appends every
 * record in input order to its fold's stages exactly as nf_fold_add would
 * (nfi_links_append_pivot, nfi_dedup_append_item, nfi_events_append_doc)
 * and finishes alone with nf_fold_finish: dedup groups, translations, the
 * event stream and storylines see the single process's documents in its
 * order, so the result is byte-identical for any N.
 *
 * A rank builds a batch's pivots in its fold's links stage and truncates
 * them away once serialised; rank 0's own batches take the same path through
 * the wire as everybody else's, so N = 1 checks the round trip. Memory: a
 * non-zero rank holds one batch; rank 0 holds what the single process holds
 * (every pivot, the dedup runs and the event features' spill file).
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

struct nf_mpi_fold {
    nf_mpi *m;
    nf_fold *fold;         /* every rank: its stages; rank 0 also finishes it */
    nfi_fold_stages st;
    int perms;             /* the dedup signature's length */
    nf_clean_doc *cleaned; /* one batch */
    nfi_dedup_item *items;
    nfi_docfeat *feats;
    size_t cap;
    nfi_mpi_gather g;
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

/* Every stage's item of each cleaned document of the batch. */
static nf_status batch_items(nf_mpi_fold *mf, size_t n, size_t first_pivot, nfi_buf *wire, nf_error *err)
{
    nf_status st = NF_OK;
    if (mf->st.links)
        st = nf_links_add(mf->st.links, mf->cleaned, n, err);
    if (st == NF_OK && mf->st.dedup)
        st = nfi_dedup_sketch(mf->st.dedup, mf->cleaned, n, mf->items, err);
    if (st == NF_OK)
        st = nfi_events_features(mf->st.events, mf->cleaned, n, mf->feats, err);
    for (size_t i = 0; i < n && st == NF_OK; i++) {
        if (mf->st.links)
            nfi_links_put_pivot(mf->st.links, first_pivot + i, wire);
        if (mf->st.dedup)
            nfi_mpi_put_item(wire, &mf->items[i], mf->perms);
        nfi_events_put_doc(wire, &mf->cleaned[i], &mf->feats[i]);
    }
    return st;
}

/* Cleans one batch and puts every document's items on the wire; the pivots
 * are then dropped from the stage. */
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
    size_t first = mf->st.links ? nfi_links_size(mf->st.links) : 0;
    st = batch_items(mf, n, first, wire, err);
    for (size_t i = 0; i < n; i++) {
        if (mf->st.dedup)
            nfi_dedup_item_free(&mf->items[i]);
        nfi_docfeat_free(&mf->feats[i]);
        nf_clean_doc_free(&mf->cleaned[i]);
    }
    if (mf->st.links)
        nfi_links_truncate(mf->st.links, first);
    if (st == NF_OK && wire->oom)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return st;
}

/* Rank 0: appends the document at *pos to the fold's stages. */
static nf_status append_doc(void *ctx, const char *buf, size_t len, size_t *pos, nf_error *err)
{
    nf_mpi_fold *mf = ctx;
    nf_status st = NF_OK;
    if (mf->st.links)
        st = nfi_links_append_pivot(mf->st.links, buf, len, pos, err);
    nfi_dedup_item it;
    if (st == NF_OK && mf->st.dedup)
        st = nfi_mpi_get_item(buf, len, pos, mf->perms, &it, err);
    if (st == NF_OK && mf->st.dedup)
        st = nfi_dedup_append_item(mf->st.dedup, &it, err);
    if (st == NF_OK)
        st = nfi_events_append_doc(mf->st.events, buf, len, pos, err);
    if (st == NF_OK)
        nfi_fold_appended(mf->fold, 1);
    return st;
}

nf_status nf_mpi_fold_new(nf_mpi_fold **out, nf_mpi *m, const nf_fold_options *options, nf_error *err)
{
    *out = NULL;
    if (!m)
        return nfi_fail(err, NF_ERR_ARG, "MPI is not initialised (nf_mpi_init)");
    if (options && options->live)
        return nfi_fail(err, NF_ERR_ARG, "a distributed fold is a batch fold (options.live must be 0)");
    nf_mpi_fold *mf = calloc(1, sizeof *mf);
    if (!mf)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    mf->m = m;
    mf->g = (nfi_mpi_gather){.m = m, .tmp_dir = options ? options->dedup.tmp_dir : NULL, .produce = fold_batch,
                             .consume = append_doc, .ctx = mf};
    nfi_buf_init(&mf->g.wire);
    nf_status st = nf_fold_open(&mf->fold, options, err);
    if (st != NF_OK) {
        nf_mpi_fold_free(mf);
        return st;
    }
    mf->st = nfi_fold_stages_of(mf->fold);
    mf->perms = mf->st.dedup ? mf->st.dedup->opt.perms : 0;
    *out = mf;
    return NF_OK;
}

nf_status nf_mpi_fold_run(nf_mpi_fold *mf, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err)
{
    return nfi_mpi_gather_run(&mf->g, in, totals, err);
}

nf_status nf_mpi_fold_finish(nf_mpi_fold *mf, nf_fold_result *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    if (mf->m->rank != 0)
        return NF_OK;
    double t0 = nfi_mpi_cpu();
    nf_status st = nf_fold_finish(mf->fold, out, err);
    mf->cpu_finish = nfi_mpi_cpu() - t0;
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
    nf_fold_close(mf->fold);
    free(mf->cleaned);
    free(mf->items);
    free(mf->feats);
    nfi_mpi_gather_free(&mf->g);
    free(mf);
}

#endif
