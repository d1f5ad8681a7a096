/*
 * mpi_links.c - distributed links over Open MPI (docs/distributed.md,
 * "links --mpi").
 *
 * Design: the skeleton of distributed dedup (mpi.c, nfi_mpi_gather): the
 * ranks read the single process's batches, each batch on one rank, which
 * cleans it and builds its pivots on its threads (nf_links_add: the
 * dictionary work, the expensive part of links), and with --groups its
 * dedup sketches too. A batch leaves the rank as one message of records,
 * one per document: its id, language and publication date (what the output
 * names), its pivot (nfi_links_put_pivot: features, sequence, paragraphs,
 * names, language, text length; never the text) and, with groups, its
 * dedup item. Rank 0 appends every record in input order
 * (nfi_links_append_pivot, nfi_dedup_append_item) and runs nf_links_finish
 * (and nf_dedup_finish) alone: the stages see the single process's
 * documents in its order, so the result is identical for any N.
 *
 * A rank builds a batch's pivots in the same nf_links that rank 0 finishes
 * with, then truncates them away once serialised: rank 0's own batches take
 * the same path through the wire as everybody else's, so N = 1 checks the
 * round trip. Memory: a non-zero rank holds one batch; rank 0 holds every
 * pivot (as one process does: finish needs them all at once).
 * Without MPI the entry points fail with "built without MPI".
 */
#include "mpi/mpi.h"

#include <stdlib.h>
#include <string.h>

#ifndef NF_HAVE_MPI

nf_status nf_mpi_links_new(nf_mpi_links **out, nf_mpi *m, const nf_clean_options *clean,
                           const nf_links_options *links, const nf_dedup_options *groups, nf_error *err)
{
    (void)m, (void)clean, (void)links, (void)groups;
    *out = NULL;
    return nfi_fail(err, NF_ERR_ARG, "built without MPI (install libopenmpi-dev and rebuild)");
}
nf_status nf_mpi_links_run(nf_mpi_links *ml, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err)
{
    (void)ml, (void)in;
    memset(totals, 0, sizeof *totals);
    return nfi_fail(err, NF_ERR_ARG, "built without MPI (install libopenmpi-dev and rebuild)");
}
nf_status nf_mpi_links_finish(nf_mpi_links *ml, nf_links_result *links, nf_dedup_result *dedup, nf_error *err)
{
    (void)ml;
    memset(links, 0, sizeof *links);
    if (dedup)
        memset(dedup, 0, sizeof *dedup);
    return nfi_fail(err, NF_ERR_ARG, "built without MPI (install libopenmpi-dev and rebuild)");
}
size_t nf_mpi_links_size(const nf_mpi_links *ml) { (void)ml; return 0; }
nf_mpi_doc nf_mpi_links_doc(const nf_mpi_links *ml, size_t i)
{
    (void)ml, (void)i;
    return (nf_mpi_doc){"", "", ""};
}
void nf_mpi_links_stats(const nf_mpi_links *ml, nf_mpi_stats *out)
{
    (void)ml;
    memset(out, 0, sizeof *out);
}
void nf_mpi_links_free(nf_mpi_links *ml) { (void)ml; }

#else

#include "dedup/dedup.h"
#include "links/links.h"

/* A document's record on the wire: this, the id (padded to 8 bytes), the
 * pivot record, then (groups) the dedup item. */
typedef struct wire_doc {
    uint64_t id_size;
    char lang[12];      /* as nf_clean_doc's */
    char published[12]; /* YYYY-MM-DD or "" */
} wire_doc;

/* What rank 0 keeps of each document for the output. */
typedef struct kept_doc {
    size_t id_off;
    char lang[12];
    char published[12];
} kept_doc;

struct nf_mpi_links {
    nf_mpi *m;
    nf_links *links;   /* rank 0: the stage; every rank: the pivots of the batch being built */
    nf_dedup *dedup;   /* groups only; rank 0: the engine, others: sketch parameters */
    nf_cleaner *cleaner;
    nf_clean_doc *cleaned;
    nfi_dedup_item *items;
    size_t cap_cleaned;
    nfi_mpi_gather g;
    kept_doc *kept;    /* rank 0 */
    size_t n_kept, cap_kept;
    nfi_buf ids;       /* rank 0: the ids, NUL-separated */
    double cpu_finish;
};


static nf_status grow_batch(nf_mpi_links *ml, size_t n, nf_error *err)
{
    if (n <= ml->cap_cleaned)
        return NF_OK;
    nf_clean_doc *c = realloc(ml->cleaned, n * sizeof *c);
    if (c)
        ml->cleaned = c;
    nfi_dedup_item *it = ml->dedup ? realloc(ml->items, n * sizeof *it) : NULL;
    if (it)
        ml->items = it;
    if (!c || (ml->dedup && !it))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    ml->cap_cleaned = n;
    return NF_OK;
}

static void put_doc(nfi_buf *b, const nf_clean_doc *cd)
{
    wire_doc w = {strlen(cd->doc.id) + 1, "", ""};
    memcpy(w.lang, cd->lang, sizeof w.lang);
    memcpy(w.published, cd->published, sizeof cd->published);
    nfi_buf_append(b, &w, sizeof w);
    nfi_buf_append(b, cd->doc.id, w.id_size);
    nfi_buf_pad8(b, w.id_size);
}

/* Cleans one batch and builds its pivots (and sketches) on this rank's
 * threads into wire; the pivots are then dropped from the stage. */
static nf_status pivot_batch(void *ctx, nf_doc *docs, size_t n, nfi_buf *wire, nf_error *err)
{
    nf_mpi_links *ml = ctx;
    nf_status st = grow_batch(ml, n, err);
    if (st != NF_OK)
        return st;
    st = nf_clean_batch(ml->cleaner, docs, n, ml->cleaned, err);
    if (st != NF_OK)
        return st;
    size_t first = nfi_links_size(ml->links);
    bool sketched = false;
    st = nf_links_add(ml->links, ml->cleaned, n, err);
    if (st == NF_OK && ml->dedup) {
        st = nfi_dedup_sketch(ml->dedup, ml->cleaned, n, ml->items, err);
        sketched = true;
    }
    for (size_t i = 0; i < n && st == NF_OK; i++) {
        put_doc(wire, &ml->cleaned[i]);
        nfi_links_put_pivot(ml->links, first + i, wire);
        if (ml->dedup)
            nfi_mpi_put_item(wire, &ml->items[i], ml->dedup->opt.perms);
    }
    for (size_t i = 0; i < n; i++) {
        if (sketched)
            nfi_dedup_item_free(&ml->items[i]);
        nf_clean_doc_free(&ml->cleaned[i]);
    }
    nfi_links_truncate(ml->links, first);
    return st;
}

static nf_status keep_doc(nf_mpi_links *ml, const wire_doc *w, const char *id, nf_error *err)
{
    kept_doc *k = nfi_grow_array(ml->kept, &ml->cap_kept, ml->n_kept + 1, sizeof *k);
    if (!k)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    ml->kept = k;
    k = &ml->kept[ml->n_kept++];
    k->id_off = ml->ids.len;
    nfi_buf_append(&ml->ids, id, w->id_size);
    memcpy(k->lang, w->lang, sizeof k->lang); /* NUL-terminated: checked */
    memcpy(k->published, w->published, sizeof k->published);
    return ml->ids.oom ? nfi_fail(err, NF_ERR_NOMEM, "out of memory") : NF_OK;
}

/* The document record at *pos of a batch: header and id. */
static nf_status get_doc(const char *buf, size_t len, size_t *pos, wire_doc *w, const char **id, nf_error *err)
{
    if (len - *pos < sizeof *w)
        return nfi_fail(err, NF_ERR_PARSE, "MPI: truncated batch");
    memcpy(w, buf + *pos, sizeof *w);
    *id = buf + *pos + sizeof *w;
    if (w->id_size == 0 || nfi_pad8(w->id_size) > len - *pos - sizeof *w || (*id)[w->id_size - 1] != '\0' ||
        !memchr(w->lang, '\0', sizeof w->lang) || !memchr(w->published, '\0', sizeof w->published))
        return nfi_fail(err, NF_ERR_PARSE, "MPI: malformed batch");
    *pos += sizeof *w + nfi_pad8(w->id_size);
    return NF_OK;
}

/* Rank 0: appends the document at *pos to the stages. */
static nf_status append_doc(void *ctx, const char *buf, size_t len, size_t *pos, nf_error *err)
{
    nf_mpi_links *ml = ctx;
    wire_doc w;
    const char *id = NULL;
    nf_status st = get_doc(buf, len, pos, &w, &id, err);
    if (st == NF_OK)
        st = keep_doc(ml, &w, id, err);
    if (st == NF_OK)
        st = nfi_links_append_pivot(ml->links, buf, len, pos, err);
    nfi_dedup_item it;
    if (st == NF_OK && ml->dedup)
        st = nfi_mpi_get_item(buf, len, pos, ml->dedup->opt.perms, &it, err);
    if (st == NF_OK && ml->dedup)
        st = nfi_dedup_append_item(ml->dedup, &it, err);
    return st;
}

nf_status nf_mpi_links_new(nf_mpi_links **out, nf_mpi *m, const nf_clean_options *clean,
                           const nf_links_options *links, const nf_dedup_options *groups, nf_error *err)
{
    *out = NULL;
    if (!m)
        return nfi_fail(err, NF_ERR_ARG, "MPI is not initialised (nf_mpi_init)");
    nf_mpi_links *ml = calloc(1, sizeof *ml);
    if (!ml)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    ml->m = m;
    ml->g = (nfi_mpi_gather){.m = m, .tmp_dir = groups ? groups->tmp_dir : NULL, .produce = pivot_batch,
                             .consume = append_doc, .ctx = ml};
    nfi_buf_init(&ml->g.wire);
    nfi_buf_init(&ml->ids);
    nf_status st = nf_links_new(&ml->links, links, err);
    if (st == NF_OK && groups) {
        nf_dedup_options o = *groups;
        if (m->rank != 0)
            o.index_dir = NULL;
        st = nf_dedup_new(&ml->dedup, &o, err);
    }
    if (st == NF_OK)
        st = nf_cleaner_new(&ml->cleaner, clean, err);
    if (st != NF_OK) {
        nf_mpi_links_free(ml);
        return st;
    }
    *out = ml;
    return NF_OK;
}

nf_status nf_mpi_links_run(nf_mpi_links *ml, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err)
{
    return nfi_mpi_gather_run(&ml->g, in, totals, err);
}

nf_status nf_mpi_links_finish(nf_mpi_links *ml, nf_links_result *links, nf_dedup_result *dedup, nf_error *err)
{
    memset(links, 0, sizeof *links);
    if (dedup)
        memset(dedup, 0, sizeof *dedup);
    if (ml->m->rank != 0)
        return NF_OK;
    double t0 = nfi_mpi_cpu();
    nf_status st = nf_links_finish(ml->links, links, err);
    if (st == NF_OK && ml->dedup && dedup)
        st = nf_dedup_finish(ml->dedup, dedup, err);
    ml->cpu_finish = nfi_mpi_cpu() - t0;
    return st;
}

size_t nf_mpi_links_size(const nf_mpi_links *ml) { return ml->n_kept; }

nf_mpi_doc nf_mpi_links_doc(const nf_mpi_links *ml, size_t i)
{
    const kept_doc *k = &ml->kept[i];
    return (nf_mpi_doc){ml->ids.data + k->id_off, k->lang, k->published};
}

void nf_mpi_links_stats(const nf_mpi_links *ml, nf_mpi_stats *out)
{
    *out = ml->g.stats;
    out->cpu_finish = ml->cpu_finish;
}

void nf_mpi_links_free(nf_mpi_links *ml)
{
    if (!ml)
        return;
    nf_links_free(ml->links);
    nf_dedup_free(ml->dedup);
    nf_cleaner_free(ml->cleaner);
    free(ml->cleaned);
    free(ml->items);
    free(ml->kept);
    nfi_buf_free(&ml->ids);
    nfi_mpi_gather_free(&ml->g);
    free(ml);
}

#endif
