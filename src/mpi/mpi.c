/*
 * mpi.c - distributed dedup over Open MPI (docs/distributed.md).
 *
 * Design (the first, robust version: correctness before scale):
 * - Every rank reads the whole input in the same batches as the single
 *   process (the caller's reader loop, cli/batch.c). Cleaning depends on the
 *   batch (a site's template is learnt within a batch), so equal output
 *   needs equal batches; a rank cannot know where batch k starts in the
 *   stream without reading what comes before it. Reading and parsing are
 *   the cheap part; cleaning and sketching are the expensive part and are
 *   split: batch k is cleaned and sketched (on the rank's threads) by rank
 *   k mod N only.
 * - The sketch items of a batch (id, exact hash, signature, samples,
 *   lengths, date, flags: about 0.6-1 KB a document, never the text) are
 *   serialised and sent to rank 0 with one send per batch. Rank 0
 *   appends them in batch order, which is input order, with
 *   nfi_dedup_append_item, and runs nf_dedup_finish (external sorts,
 *   verification, union-find) alone. The engine thus sees exactly the items
 *   of the single process, in the same order: the result is byte-identical
 *   for any N.
 * - Batches are exchanged in rounds of N: within a round every rank cleans
 *   its batch at the same time; rank 0 owns the first batch of each round
 *   and appends it at once, then receives the others in order. Each rank
 *   holds one batch of items; rank 0 also holds the engine's state (about
 *   90 bytes a document plus the id, sort runs spilled past --mem-limit).
 * - Safety: a non-root rank ends with a message (TAG_END) carrying its
 *   batch count; rank 0 checks the tag of every message it expects, so
 *   ranks that saw different inputs are named in an error instead of
 *   waiting for each other. A rank with a fatal error calls nf_mpi_abort
 *   (MPI_Abort), and MPI_ERRORS_ARE_FATAL turns a dead peer into the end of
 *   the job: no rank waits forever.
 * - The wire format is the host's byte order and alignment (homogeneous
 *   clusters); every array starts at a multiple of 8 bytes.
 * Without MPI (NF_HAVE_MPI undefined) the entry points fail with NF_ERR_ARG.
 */
#include "newsfold.h"

#include <stdlib.h>
#include <string.h>

#include "common/common.h"

#ifndef NF_HAVE_MPI

int nf_mpi_available(void) { return 0; }

static nf_status no_mpi(nf_error *err)
{
    return nfi_fail(err, NF_ERR_ARG, "built without MPI (install libopenmpi-dev and rebuild)");
}

nf_status nf_mpi_init(nf_mpi **out, nf_error *err)
{
    *out = NULL;
    return no_mpi(err);
}
int nf_mpi_rank(const nf_mpi *m) { (void)m; return 0; }
int nf_mpi_size(const nf_mpi *m) { (void)m; return 1; }
void nf_mpi_finalize(nf_mpi *m) { (void)m; }
void nf_mpi_abort(nf_mpi *m, int code) { (void)m; (void)code; }
nf_status nf_mpi_dedup_new(nf_mpi_dedup **out, nf_mpi *m, const nf_clean_options *clean,
                           const nf_dedup_options *options, nf_error *err)
{
    (void)m, (void)clean, (void)options;
    *out = NULL;
    return no_mpi(err);
}
nf_status nf_mpi_dedup_add(nf_mpi_dedup *md, nf_doc *docs, size_t n, nf_error *err)
{
    (void)md, (void)docs, (void)n;
    return no_mpi(err);
}
nf_status nf_mpi_dedup_finish(nf_mpi_dedup *md, nf_dedup_result *out, nf_error *err)
{
    (void)md;
    memset(out, 0, sizeof *out);
    return no_mpi(err);
}
void nf_mpi_dedup_stats(const nf_mpi_dedup *md, nf_mpi_stats *out)
{
    (void)md;
    memset(out, 0, sizeof *out);
}
void nf_mpi_dedup_free(nf_mpi_dedup *md) { (void)md; }

#else

#include <limits.h>
#include <mpi.h>
#include <time.h>

#include "dedup/dedup.h"

enum { TAG_ITEMS = 1, TAG_END = 2 };

/* The wire format below copies every field of these two structs: a new
 * field must be added to wire_item, put_item and get_item too. */
_Static_assert(sizeof(nfi_sketch) == 80 && sizeof(nfi_dedup_item) == 112,
               "nfi_sketch or nfi_dedup_item changed: update the wire format in src/mpi/mpi.c");

struct nf_mpi {
    int rank, size;
};

int nf_mpi_available(void) { return 1; }

nf_status nf_mpi_init(nf_mpi **out, nf_error *err)
{
    *out = NULL;
    int provided = 0, inited = 0;
    MPI_Initialized(&inited);
    if (!inited && MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return nfi_fail(err, NF_ERR_RESOURCE, "MPI_Init_thread failed");
    nf_mpi *m = calloc(1, sizeof *m);
    if (!m)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m->size);
    *out = m;
    return NF_OK;
}

int nf_mpi_rank(const nf_mpi *m) { return m ? m->rank : 0; }
int nf_mpi_size(const nf_mpi *m) { return m ? m->size : 1; }

void nf_mpi_finalize(nf_mpi *m)
{
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized)
        MPI_Finalize();
    free(m);
}

void nf_mpi_abort(nf_mpi *m, int code)
{
    (void)m;
    MPI_Abort(MPI_COMM_WORLD, code);
}

/* One document on the wire; followed by the id (NUL-terminated), the
 * signature, the samples and the shingles, each padded to 8 bytes. */
typedef struct wire_item {
    uint64_t exact_lo, exact_hi, simhash;
    uint64_t n_shingles, n_units, n_samples, n_shingle_vals;
    uint32_t id_size, text_len;
    int32_t published;
    uint32_t flags, has_sig, too_short;
} wire_item;

struct nf_mpi_dedup {
    nf_mpi *m;
    nf_dedup *d;          /* rank 0: the engine; other ranks: its sketch parameters only */
    nf_cleaner *cleaner;
    nf_clean_doc *cleaned;
    size_t cap_cleaned;
    nfi_dedup_item *items;
    size_t cap_items;
    nfi_buf wire;         /* this rank's serialised batch */
    char *recv;           /* rank 0: one received batch */
    size_t cap_recv;
    uint64_t batch;       /* batches seen so far */
    nf_mpi_stats stats;
};

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

static void put_padded(nfi_buf *b, const void *p, size_t n)
{
    static const char zeros[8];
    nfi_buf_append(b, p, n);
    nfi_buf_append(b, zeros, pad8(n) - n);
}

static void put_item(nfi_buf *b, const nfi_dedup_item *it, int perms)
{
    const nfi_sketch *s = &it->sketch;
    wire_item w = {s->exact_lo,   s->exact_hi,  s->simhash,    s->n_shingles, s->n_units,      s->n_samples,
                   s->shingles ? s->n_shingles : 0, (uint32_t)strlen(it->id) + 1, it->text_len, it->published,
                   it->flags,     s->signature != NULL, s->too_short};
    nfi_buf_append(b, &w, sizeof w);
    put_padded(b, it->id, w.id_size);
    if (w.has_sig)
        put_padded(b, s->signature, (size_t)perms * sizeof *s->signature);
    put_padded(b, s->samples, w.n_samples * sizeof *s->samples);
    put_padded(b, s->shingles, w.n_shingle_vals * sizeof *s->shingles);
}

/* Points item at the document at *pos of a received batch (no copies). */
static nf_status get_item(const char *buf, size_t len, size_t *pos, int perms, nfi_dedup_item *it, nf_error *err)
{
    wire_item w;
    if (len - *pos < sizeof w)
        return nfi_fail(err, NF_ERR_PARSE, "MPI: truncated batch");
    memcpy(&w, buf + *pos, sizeof w);
    size_t sig = w.has_sig ? pad8((size_t)perms * sizeof(uint32_t)) : 0;
    size_t need = sizeof w + pad8(w.id_size) + sig + pad8(w.n_samples * 8) + pad8(w.n_shingle_vals * 8);
    if (w.id_size == 0 || len - *pos < need || buf[*pos + sizeof w + w.id_size - 1] != '\0')
        return nfi_fail(err, NF_ERR_PARSE, "MPI: malformed batch");
    const char *p = buf + *pos + sizeof w;
    memset(it, 0, sizeof *it);
    it->id = p;
    p += pad8(w.id_size);
    it->signature = w.has_sig ? (uint32_t *)(uintptr_t)p : NULL;
    p += sig;
    nfi_sketch *s = &it->sketch;
    *s = (nfi_sketch){.exact_lo = w.exact_lo, .exact_hi = w.exact_hi, .simhash = w.simhash,
                      .signature = it->signature, .n_samples = w.n_samples, .n_shingles = w.n_shingles,
                      .n_units = w.n_units, .too_short = w.too_short != 0};
    s->samples = w.n_samples ? (uint64_t *)(uintptr_t)p : NULL;
    p += pad8(w.n_samples * 8);
    s->shingles = w.n_shingle_vals ? (uint64_t *)(uintptr_t)p : NULL;
    it->text_len = w.text_len;
    it->published = w.published;
    it->flags = w.flags;
    *pos += need;
    return NF_OK;
}

/* Appends a serialised batch to the engine, in its order. */
static nf_status append_batch(nf_mpi_dedup *md, const char *buf, size_t len, nf_error *err)
{
    uint64_t n;
    if (len < sizeof n)
        return nfi_fail(err, NF_ERR_PARSE, "MPI: truncated batch");
    memcpy(&n, buf, sizeof n);
    size_t pos = sizeof n;
    nf_status st = NF_OK;
    for (uint64_t i = 0; i < n && st == NF_OK; i++) {
        nfi_dedup_item it;
        st = get_item(buf, len, &pos, md->d->opt.perms, &it, err);
        if (st == NF_OK)
            st = nfi_dedup_append_item(md->d, &it, err);
    }
    return st;
}

/* Cleans and sketches one batch on this rank's threads into md->wire. */
static nf_status sketch_batch(nf_mpi_dedup *md, nf_doc *docs, size_t n, nf_error *err)
{
    md->wire.len = 0;
    uint64_t count = n;
    nfi_buf_append(&md->wire, &count, sizeof count);
    if (n > md->cap_cleaned) {
        nf_clean_doc *c = realloc(md->cleaned, n * sizeof *c);
        nfi_dedup_item *it = realloc(md->items, n * sizeof *it);
        if (c)
            md->cleaned = c;
        if (it)
            md->items = it;
        if (!c || !it)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        md->cap_cleaned = n;
    }
    nf_status st = nf_clean_batch(md->cleaner, docs, n, md->cleaned, err);
    if (st != NF_OK)
        return st;
    st = nfi_dedup_sketch(md->d, md->cleaned, n, md->items, err);
    for (size_t i = 0; i < n; i++) {
        if (st == NF_OK)
            put_item(&md->wire, &md->items[i], md->d->opt.perms);
        nfi_dedup_item_free(&md->items[i]);
        nf_clean_doc_free(&md->cleaned[i]);
    }
    if (st == NF_OK && md->wire.oom)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    md->stats.batches_cleaned++;
    md->stats.docs_cleaned += n;
    return st;
}

/* Waiting polls every 200 us instead of spinning in MPI_Probe / MPI_Send
 * (Open MPI busy-waits there): a waiting rank then leaves its core to its
 * own cleaning threads or to the other ranks of a shared node, and its CPU
 * time is its work. The latency is nothing next to a batch's seconds. */
static void pause_briefly(void)
{
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
}

/* A synchronous send (completes when rank 0 has started receiving), waited
 * for by polling. */
static void send_to_root(const void *buf, int len, int tag)
{
    MPI_Request req;
    int done = 0;
    MPI_Issend(buf, len, MPI_BYTE, 0, tag, MPI_COMM_WORLD, &req);
    for (MPI_Test(&req, &done, MPI_STATUS_IGNORE); !done; MPI_Test(&req, &done, MPI_STATUS_IGNORE))
        pause_briefly();
}

/* Rank 0: receives the next message from rank src, which must carry tag. */
static nf_status receive(nf_mpi_dedup *md, int src, int tag, size_t *len, nf_error *err)
{
    MPI_Status status;
    int ready = 0;
    for (MPI_Iprobe(src, MPI_ANY_TAG, MPI_COMM_WORLD, &ready, &status); !ready;
         MPI_Iprobe(src, MPI_ANY_TAG, MPI_COMM_WORLD, &ready, &status))
        pause_briefly();
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    if ((size_t)count > md->cap_recv) {
        char *grown = realloc(md->recv, (size_t)count);
        if (!grown)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        md->recv = grown;
        md->cap_recv = (size_t)count;
    }
    MPI_Recv(md->recv, count, MPI_BYTE, src, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    md->stats.bytes_received += (uint64_t)count;
    *len = (size_t)count;
    if (status.MPI_TAG == tag)
        return NF_OK;
    return nfi_fail(err, NF_ERR_ARG,
                    "MPI: rank %d saw a different input than rank 0 (%s after %llu batches on rank 0); "
                    "every rank must read the same files",
                    src, tag == TAG_ITEMS ? "it ended early" : "it has more batches",
                    (unsigned long long)md->batch);
}

/* Rank 0, at the end of a round: appends the other ranks' batches
 * first_batch+1 .. last, in order. */
static nf_status collect_round(nf_mpi_dedup *md, uint64_t first_batch, uint64_t last, nf_error *err)
{
    nf_status st = NF_OK;
    for (uint64_t k = first_batch + 1; k <= last && st == NF_OK; k++) {
        size_t len = 0;
        st = receive(md, (int)(k % (uint64_t)md->m->size), TAG_ITEMS, &len, err);
        if (st == NF_OK)
            st = append_batch(md, md->recv, len, err);
    }
    return st;
}

nf_status nf_mpi_dedup_new(nf_mpi_dedup **out, nf_mpi *m, const nf_clean_options *clean,
                           const nf_dedup_options *options, nf_error *err)
{
    *out = NULL;
    if (!m)
        return nfi_fail(err, NF_ERR_ARG, "MPI is not initialised (nf_mpi_init)");
    nf_mpi_dedup *md = calloc(1, sizeof *md);
    if (!md)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    md->m = m;
    nfi_buf_init(&md->wire);
    nf_dedup_options o = *options;
    if (m->rank != 0)
        o.index_dir = NULL; /* only rank 0 touches the index (and holds its lock) */
    nf_status st = nf_dedup_new(&md->d, &o, err);
    if (st == NF_OK)
        st = nf_cleaner_new(&md->cleaner, clean, err);
    if (st != NF_OK) {
        nf_mpi_dedup_free(md);
        return st;
    }
    *out = md;
    return NF_OK;
}

nf_status nf_mpi_dedup_add(nf_mpi_dedup *md, nf_doc *docs, size_t n, nf_error *err)
{
    if (n == 0)
        return NF_OK;
    uint64_t k = md->batch++, size = (uint64_t)md->m->size;
    md->stats.batches++;
    nf_status st = NF_OK;
    if (k % size == (uint64_t)md->m->rank) {
        st = sketch_batch(md, docs, n, err);
        if (st != NF_OK)
            return st;
        if (md->m->rank == 0) {
            st = append_batch(md, md->wire.data, md->wire.len, err);
        } else {
            if (md->wire.len > INT_MAX)
                return nfi_fail(err, NF_ERR_ARG, "MPI: a batch's sketches exceed 2 GiB");
            send_to_root(md->wire.data, (int)md->wire.len, TAG_ITEMS);
            md->stats.bytes_sent += md->wire.len;
        }
    }
    if (st == NF_OK && md->m->rank == 0 && k % size == size - 1)
        st = collect_round(md, k - (size - 1), k, err);
    return st;
}

nf_status nf_mpi_dedup_finish(nf_mpi_dedup *md, nf_dedup_result *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    uint64_t size = (uint64_t)md->m->size;
    if (md->m->rank != 0) {
        send_to_root(&md->batch, (int)sizeof md->batch, TAG_END);
        md->stats.bytes_sent += sizeof md->batch;
        return NF_OK;
    }
    nf_status st = NF_OK;
    if (md->batch % size != 0) /* the last, partial round */
        st = collect_round(md, md->batch - md->batch % size, md->batch - 1, err);
    for (int r = 1; r < md->m->size && st == NF_OK; r++) {
        size_t len = 0;
        uint64_t theirs = 0;
        st = receive(md, r, TAG_END, &len, err);
        if (st == NF_OK && len == sizeof theirs)
            memcpy(&theirs, md->recv, sizeof theirs);
        if (st == NF_OK && theirs != md->batch)
            st = nfi_fail(err, NF_ERR_ARG, "MPI: rank %d read %llu batches, rank 0 read %llu: every rank must read the same files",
                          r, (unsigned long long)theirs, (unsigned long long)md->batch);
    }
    return st == NF_OK ? nf_dedup_finish(md->d, out, err) : st;
}

void nf_mpi_dedup_stats(const nf_mpi_dedup *md, nf_mpi_stats *out) { *out = md->stats; }

void nf_mpi_dedup_free(nf_mpi_dedup *md)
{
    if (!md)
        return;
    nf_dedup_free(md->d);
    nf_cleaner_free(md->cleaner);
    free(md->cleaned);
    free(md->items);
    free(md->recv);
    nfi_buf_free(&md->wire);
    free(md);
}

#endif
