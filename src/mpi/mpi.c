/*
 * mpi.c - the entry points of distributed runs over Open MPI, the ordered
 * gather they share, and distributed dedup (docs/distributed.md).
 *
 * Design:
 * - Ranks split the input by file and by byte range (mpi_input.c) and yet
 *   see the single process's batches: each batch is read and cleaned (on
 *   the rank's threads) by one rank only, the rank whose byte range holds
 *   its first document. A rank's batches are consecutive.
 * - The ordered gather (nfi_mpi_gather, one implementation for every
 *   distributed command): the command's produce callback turns a batch into
 *   a compact payload (dedup: sketch items; links, mpi_links.c: pivots;
 *   never the text). Rank 0 consumes its own batches at once (they come
 *   first in input order); the other ranks spill theirs to a temporary file
 *   and, once rank 0 asks for them in rank order, send them one batch per
 *   message. Rank 0 thus consumes every payload in input order.
 * - dedup: each rank keeps its documents and the ranks finish together
 *   (mpi_dedup.c); with --index or --exact-verify (or one rank) a batch's
 *   sketch items (id, exact hash, signature, samples, lengths, date,
 *   flags: about 0.6-1.4 KB a document) are gathered, appended with
 *   nfi_dedup_append_item and rank 0 runs nf_dedup_finish alone: the
 *   engine sees exactly the items of the single process, so the result is
 *   byte-identical for any N.
 * - Memory: a rank holds one batch of documents and payloads, plus about
 *   100 bytes a document of its range while planning (mpi_input.c); a
 *   gathered rank 0 also holds the engine's state (dedup: about 90 bytes a
 *   document plus the id, sort runs spilled past --mem-limit).
 * - Safety: rank 0 checks every message's tag and the batch count each rank
 *   announced, so a rank that went wrong is named instead of waited for. A
 *   rank with a fatal error calls nf_mpi_abort (MPI_Abort), and
 *   MPI_ERRORS_ARE_FATAL turns a dead peer into the end of the job: no rank
 *   waits forever.
 * - The wire format is the host's byte order and alignment (homogeneous
 *   clusters); every array starts at a multiple of 8 bytes.
 * Without MPI (NF_HAVE_MPI undefined) the entry points fail with NF_ERR_ARG.
 */
#include "mpi/mpi.h"

#include <stdlib.h>
#include <string.h>

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
nf_status nf_mpi_dedup_run(nf_mpi_dedup *md, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err)
{
    (void)md, (void)in;
    memset(totals, 0, sizeof *totals);
    return no_mpi(err);
}
nf_status nf_mpi_dedup_finish(nf_mpi_dedup *md, nf_dedup_result *out, nf_error *err)
{
    (void)md;
    memset(out, 0, sizeof *out);
    return no_mpi(err);
}
nf_status nf_mpi_dedup_shard(nf_mpi_dedup *md, const nf_dedup_result *res, nf_buffer *out, nf_error *err)
{
    (void)md, (void)res, (void)out;
    return no_mpi(err);
}
nf_status nf_mpi_dedup_write(nf_mpi_dedup *md, int pairs, int shard, nf_mpi_write_fn write, void *ctx,
                             nf_error *err)
{
    (void)md, (void)pairs, (void)shard, (void)write, (void)ctx;
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
#include <time.h>

#include "dedup/dedup.h"

enum { TAG_ITEMS = 1, TAG_END = 2, TAG_SHARD = 3 };

/* The wire format below copies every field of these two structs: a new
 * field must be added to wire_item, put_item and get_item too. */
_Static_assert(sizeof(nfi_sketch) == 80 && sizeof(nfi_dedup_item) == 112,
               "nfi_sketch or nfi_dedup_item changed: update the wire format in src/mpi/mpi.c");

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

double nfi_mpi_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void nfi_mpi_pause(void)
{
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
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
    nfi_mpi_gather g;
    nfi_mpi_dd *dd;       /* the distributed finish (mpi_dedup.c); NULL: rank 0 finishes alone */
    uint64_t *docs_of;    /* distributed: the documents each rank read */
    nf_mpi_stats stats;
};

static void put_padded(nfi_buf *b, const void *p, size_t n)
{
    nfi_buf_append(b, p, n);
    nfi_buf_pad8(b, n);
}

void nfi_mpi_put_item(nfi_buf *b, const nfi_dedup_item *it, int perms)
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
nf_status nfi_mpi_get_item(const char *buf, size_t len, size_t *pos, int perms, nfi_dedup_item *it, nf_error *err)
{
    wire_item w;
    if (len - *pos < sizeof w)
        return nfi_fail(err, NF_ERR_PARSE, "MPI: truncated batch");
    memcpy(&w, buf + *pos, sizeof w);
    size_t sig = w.has_sig ? nfi_pad8((size_t)perms * sizeof(uint32_t)) : 0;
    size_t need = sizeof w + nfi_pad8(w.id_size) + sig + nfi_pad8(w.n_samples * 8) + nfi_pad8(w.n_shingle_vals * 8);
    if (w.id_size == 0 || len - *pos < need || buf[*pos + sizeof w + w.id_size - 1] != '\0')
        return nfi_fail(err, NF_ERR_PARSE, "MPI: malformed batch");
    const char *p = buf + *pos + sizeof w;
    memset(it, 0, sizeof *it);
    it->id = p;
    p += nfi_pad8(w.id_size);
    it->signature = w.has_sig ? (uint32_t *)(uintptr_t)p : NULL;
    p += sig;
    nfi_sketch *s = &it->sketch;
    *s = (nfi_sketch){.exact_lo = w.exact_lo, .exact_hi = w.exact_hi, .simhash = w.simhash,
                      .signature = it->signature, .n_samples = w.n_samples, .n_shingles = w.n_shingles,
                      .n_units = w.n_units, .too_short = w.too_short != 0};
    s->samples = w.n_samples ? (uint64_t *)(uintptr_t)p : NULL;
    p += nfi_pad8(w.n_samples * 8);
    s->shingles = w.n_shingle_vals ? (uint64_t *)(uintptr_t)p : NULL;
    it->text_len = w.text_len;
    it->published = w.published;
    it->flags = w.flags;
    *pos += need;
    return NF_OK;
}

/* ------------------------------------------------------------ the gather */

static nf_status grow_recv(nfi_mpi_gather *g, size_t len, nf_error *err)
{
    if (len <= g->cap_recv)
        return NF_OK;
    char *grown = realloc(g->recv, len);
    if (!grown)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    g->recv = grown;
    g->cap_recv = len;
    return NF_OK;
}

/* Rank 0: the documents of one payload, in order, through consume. */
static nf_status consume_batch(const nfi_mpi_gather *g, const char *buf, size_t len, nf_error *err)
{
    uint64_t n;
    if (len < sizeof n)
        return nfi_fail(err, NF_ERR_PARSE, "MPI: truncated batch");
    memcpy(&n, buf, sizeof n);
    size_t pos = sizeof n;
    nf_status st = NF_OK;
    for (uint64_t i = 0; i < n && st == NF_OK; i++)
        st = g->consume(g->ctx, buf, len, &pos, err);
    if (st == NF_OK && pos != len)
        st = nfi_fail(err, NF_ERR_PARSE, "MPI: malformed batch (%zu bytes after its documents)", len - pos);
    return st;
}

/* A batch of this rank: rank 0 consumes it at once (its batches come first
 * in input order); the others keep it in their spill file until rank 0 asks. */
static nf_status own_batch(void *ctx, nf_doc *docs, size_t n, nf_error *err)
{
    nfi_mpi_gather *g = ctx;
    uint64_t count = n;
    g->wire.len = 0;
    nfi_buf_append(&g->wire, &count, sizeof count);
    nf_status st = g->produce(g->ctx, docs, n, &g->wire, err);
    if (st == NF_OK && g->wire.oom)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    g->stats.batches_cleaned++;
    g->stats.docs_cleaned += n;
    if (st != NF_OK || g->m->rank == 0)
        return st == NF_OK ? consume_batch(g, g->wire.data, g->wire.len, err) : st;
    if (!g->spill && !(g->spill = nfi_temp_file(g->tmp_dir, "nf-mpi")))
        return nfi_fail(err, NF_ERR_IO, "cannot create a temporary file in %s", g->tmp_dir ? g->tmp_dir : "$TMPDIR");
    uint64_t len = g->wire.len;
    if (fwrite(&len, sizeof len, 1, g->spill) != 1 || fwrite(g->wire.data, 1, g->wire.len, g->spill) != g->wire.len)
        return nfi_fail(err, NF_ERR_IO, "cannot write the temporary file of batches (disk full?)");
    return NF_OK;
}

/* A synchronous send (completes when rank 0 has started receiving), waited
 * for by polling. */
static void send_to_root(const void *buf, int len, int tag)
{
    MPI_Request req;
    int done = 0;
    MPI_Issend(buf, len, MPI_BYTE, 0, tag, MPI_COMM_WORLD, &req);
    for (MPI_Test(&req, &done, MPI_STATUS_IGNORE); !done; MPI_Test(&req, &done, MPI_STATUS_IGNORE))
        nfi_mpi_pause();
}

/* Ranks > 0: sends the spilled batches, then the count. */
static nf_status send_spilled(nfi_mpi_gather *g, uint64_t batches, nf_error *err)
{
    nf_status st = NF_OK;
    if (g->spill && fflush(g->spill) == 0)
        rewind(g->spill);
    for (uint64_t b = 0; b < batches && st == NF_OK; b++) {
        uint64_t len = 0;
        if (fread(&len, sizeof len, 1, g->spill) != 1 || len > INT_MAX)
            return nfi_fail(err, NF_ERR_IO, "cannot read back the temporary file of batches");
        st = grow_recv(g, (size_t)len, err);
        if (st == NF_OK && fread(g->recv, 1, (size_t)len, g->spill) != len)
            st = nfi_fail(err, NF_ERR_IO, "cannot read back the temporary file of batches");
        if (st == NF_OK) {
            send_to_root(g->recv, (int)len, TAG_ITEMS);
            g->stats.bytes_sent += len;
        }
    }
    if (st == NF_OK) {
        send_to_root(&batches, (int)sizeof batches, TAG_END);
        g->stats.bytes_sent += sizeof batches;
    }
    return st;
}

/* Rank 0: the next message from rank src, which must carry tag. */
static nf_status receive(nfi_mpi_gather *g, int src, int tag, size_t *len, nf_error *err)
{
    MPI_Status status;
    int ready = 0;
    for (MPI_Iprobe(src, MPI_ANY_TAG, MPI_COMM_WORLD, &ready, &status); !ready;
         MPI_Iprobe(src, MPI_ANY_TAG, MPI_COMM_WORLD, &ready, &status))
        nfi_mpi_pause();
    int count = 0;
    MPI_Get_count(&status, MPI_BYTE, &count);
    nf_status st = grow_recv(g, (size_t)count, err);
    if (st != NF_OK)
        return st;
    MPI_Recv(g->recv, count, MPI_BYTE, src, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    g->stats.bytes_received += (uint64_t)count;
    *len = (size_t)count;
    if (status.MPI_TAG == tag)
        return NF_OK;
    return nfi_fail(err, NF_ERR_ARG, "MPI: rank %d sent %s than the %llu batches planned for it", src,
                    tag == TAG_ITEMS ? "fewer" : "more", (unsigned long long)g->batches_of[src]);
}

/* Rank 0: consumes the other ranks' batches, rank by rank (input order). */
static nf_status collect(nfi_mpi_gather *g, nf_error *err)
{
    nf_status st = NF_OK;
    for (int r = 1; r < g->m->size && st == NF_OK; r++) {
        size_t len = 0;
        for (uint64_t b = 0; b < g->batches_of[r] && st == NF_OK; b++) {
            st = receive(g, r, TAG_ITEMS, &len, err);
            if (st == NF_OK)
                st = consume_batch(g, g->recv, len, err);
        }
        uint64_t theirs = 0;
        if (st == NF_OK)
            st = receive(g, r, TAG_END, &len, err);
        if (st == NF_OK && len == sizeof theirs)
            memcpy(&theirs, g->recv, sizeof theirs);
        if (st == NF_OK && theirs != g->batches_of[r])
            st = nfi_fail(err, NF_ERR_ARG, "MPI: rank %d read %llu batches, %llu were planned", r,
                          (unsigned long long)theirs, (unsigned long long)g->batches_of[r]);
    }
    return st;
}

nf_status nfi_mpi_gather_run(nfi_mpi_gather *g, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err)
{
    nfi_mpi_read_result res;
    double t0 = nfi_mpi_cpu();
    nf_status st = nfi_mpi_read(g->m, in, own_batch, g, &res, err);
    double t1 = nfi_mpi_cpu();
    g->stats.cpu_plan = res.cpu_planned - t0;
    g->stats.cpu_read = t1 - res.cpu_planned;
    *totals = res.totals;
    g->stats.docs_scanned = res.docs_scanned;
    g->stats.bytes_exchanged = res.bytes_exchanged;
    g->stats.batches = res.batches_of ? res.batches_of[g->m->rank] : 0;
    g->batches_of = res.batches_of;
    g->docs_of = res.docs_of;
    if (st != NF_OK)
        return st;
    st = g->m->rank != 0 ? send_spilled(g, g->batches_of[g->m->rank], err) : collect(g, err);
    g->stats.cpu_collect = nfi_mpi_cpu() - t1;
    return st;
}

void nfi_mpi_gather_free(nfi_mpi_gather *g)
{
    free(g->recv);
    free(g->batches_of);
    free(g->docs_of);
    if (g->spill)
        fclose(g->spill);
    nfi_buf_free(&g->wire);
    memset(g, 0, sizeof *g);
}

/* ------------------------------------------------------------ dedup */

/* rank 0: appends the sketch item at *pos to the engine. */
static nf_status append_item(void *ctx, const char *buf, size_t len, size_t *pos, nf_error *err)
{
    nf_mpi_dedup *md = ctx;
    nfi_dedup_item it;
    nf_status st = nfi_mpi_get_item(buf, len, pos, md->d->opt.perms, &it, err);
    return st == NF_OK ? nfi_dedup_append_item(md->d, &it, err) : st;
}

/* Cleans and sketches one batch on this rank's threads into wire. */
static nf_status sketch_batch(void *ctx, nf_doc *docs, size_t n, nfi_buf *wire, nf_error *err)
{
    nf_mpi_dedup *md = ctx;
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
        if (st == NF_OK && wire)
            nfi_mpi_put_item(wire, &md->items[i], md->d->opt.perms);
        else if (st == NF_OK)
            st = nfi_mpi_dd_add(md->dd, &md->items[i], err);
        nfi_dedup_item_free(&md->items[i]);
        nf_clean_doc_free(&md->cleaned[i]);
    }
    return st;
}

/* Distributed: one batch of this rank, kept here (nfi_mpi_dd_add). */
static nf_status keep_batch(void *ctx, nf_doc *docs, size_t n, nf_error *err)
{
    nf_mpi_dedup *md = ctx;
    md->stats.batches_cleaned++;
    md->stats.docs_cleaned += n;
    return sketch_batch(md, docs, n, NULL, err);
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
    md->g = (nfi_mpi_gather){.m = m, .tmp_dir = options->tmp_dir, .produce = sketch_batch,
                             .consume = append_item, .ctx = md};
    nfi_buf_init(&md->g.wire);
    nf_dedup_options o = *options;
    if (m->rank != 0)
        o.index_dir = NULL; /* only rank 0 touches the index (and holds its lock) */
    nf_status st = nf_dedup_new(&md->d, &o, err);
    if (st == NF_OK)
        st = nf_cleaner_new(&md->cleaner, clean, err);
    /* the index and the shingle sets (exact_verify) live on rank 0 only;
     * one rank holds every document anyway: the engine's finish */
    if (st == NF_OK && !options->index_dir && !options->exact_verify && m->size > 1)
        st = nfi_mpi_dd_new(&md->dd, m, md->d, err);
    if (st != NF_OK) {
        nf_mpi_dedup_free(md);
        return st;
    }
    *out = md;
    return NF_OK;
}

nf_status nf_mpi_dedup_run(nf_mpi_dedup *md, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err)
{
    if (!md->dd) {
        nf_status st = nfi_mpi_gather_run(&md->g, in, totals, err);
        md->stats = md->g.stats;
        return st;
    }
    nfi_mpi_read_result res;
    double t0 = nfi_mpi_cpu();
    nf_status st = nfi_mpi_read(md->m, in, keep_batch, md, &res, err);
    md->stats.cpu_plan = res.cpu_planned - t0;
    md->stats.cpu_read = nfi_mpi_cpu() - res.cpu_planned;
    *totals = res.totals;
    md->stats.docs_scanned = res.docs_scanned;
    md->stats.bytes_exchanged = res.bytes_exchanged;
    md->stats.batches = res.batches_of ? res.batches_of[md->m->rank] : 0;
    free(res.batches_of);
    md->docs_of = res.docs_of;
    return st;
}

nf_status nf_mpi_dedup_finish(nf_mpi_dedup *md, nf_dedup_result *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    if (md->dd) /* no rank holds every document: they finish together */
        return nfi_fail(err, NF_ERR_ARG, "distributed dedup finishes with nf_mpi_dedup_write");
    if (md->m->rank != 0)
        return NF_OK;
    double t0 = nfi_mpi_cpu();
    nf_status st = nf_dedup_finish(md->d, out, err);
    md->stats.cpu_finish = nfi_mpi_cpu() - t0;
    return st;
}

/* ------------------------------------------------------------ shards */

#define SHARD_PIECE (256u << 20) /* bytes a message carries at most */

/* Rank 0: the records of documents [first, first + n) of the result (the
 * documents of the index are not written, as in write_docs). */
static void format_shard(const nf_dedup_result *res, uint64_t first, uint64_t n, nf_buffer *b)
{
    b->len = 0;
    for (uint64_t i = first; i < first + n && i < res->n_docs; i++)
        if (!res->docs[i].from_index)
            nf_jsonl_dedup_record(b, res, (size_t)i);
}

static void send_shard(const nf_buffer *b, int to)
{
    for (size_t off = 0; off < b->len; off += SHARD_PIECE) {
        size_t len = b->len - off < SHARD_PIECE ? b->len - off : SHARD_PIECE;
        MPI_Request req;
        int done = 0;
        MPI_Issend(b->data + off, (int)len, MPI_BYTE, to, TAG_SHARD, MPI_COMM_WORLD, &req);
        for (MPI_Test(&req, &done, MPI_STATUS_IGNORE); !done; MPI_Test(&req, &done, MPI_STATUS_IGNORE))
            nfi_mpi_pause();
    }
    MPI_Send(NULL, 0, MPI_BYTE, to, TAG_END, MPI_COMM_WORLD);
}

static nf_status receive_shard(nf_buffer *b, nf_error *err)
{
    b->len = 0;
    for (;;) {
        MPI_Status status;
        int ready = 0, count = 0;
        for (MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &ready, &status); !ready;
             MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &ready, &status))
            nfi_mpi_pause();
        MPI_Get_count(&status, MPI_BYTE, &count);
        if (b->len + (size_t)count + 1 > b->cap) {
            char *g = realloc(b->data, b->len + (size_t)count + 1);
            if (!g)
                return nfi_fail(err, NF_ERR_NOMEM, "out of memory receiving an output shard");
            b->data = g;
            b->cap = b->len + (size_t)count + 1;
        }
        MPI_Recv(b->data + b->len, count, MPI_BYTE, 0, status.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        b->len += (size_t)count;
        b->data[b->len] = '\0';
        if (status.MPI_TAG == TAG_END)
            return NF_OK;
    }
}

nf_status nf_mpi_dedup_shard(nf_mpi_dedup *md, const nf_dedup_result *res, nf_buffer *out, nf_error *err)
{
    if (md->dd)
        return nfi_fail(err, NF_ERR_ARG, "distributed dedup writes shards with nf_mpi_dedup_write");
    if (md->m->rank != 0)
        return receive_shard(out, err);
    uint64_t total = 0;
    for (int r = 0; r < md->m->size; r++)
        total += md->g.docs_of[r];
    uint64_t first = res->n_docs - total; /* the index's documents come first */
    uint64_t at = first + md->g.docs_of[0];
    for (int r = 1; r < md->m->size; r++) {
        format_shard(res, at, md->g.docs_of[r], out);
        if (out->oom)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory formatting an output shard");
        send_shard(out, r);
        at += md->g.docs_of[r];
    }
    format_shard(res, first, md->g.docs_of[0], out);
    return out->oom ? nfi_fail(err, NF_ERR_NOMEM, "out of memory formatting an output shard") : NF_OK;
}

/* Rank 0 of a gathered run: the result's documents (not the index's) and
 * pairs, through write. */
static nf_status write_result(const nf_dedup_result *res, int pairs, nf_mpi_write_fn write, void *ctx,
                              nf_error *err)
{
    nf_buffer b = {0};
    nf_status st = NF_OK;
    for (size_t i = 0; i < res->n_docs && st == NF_OK; i++) {
        if (!res->docs[i].from_index)
            nf_jsonl_dedup_record(&b, res, i);
        if (b.len >= (1u << 20) || i + 1 == res->n_docs) {
            st = b.oom ? nfi_fail(err, NF_ERR_NOMEM, "out of memory") : write(ctx, 0, b.data, b.len, err);
            b.len = 0;
        }
    }
    for (size_t k = 0; pairs && k < res->n_pairs && st == NF_OK; k++) {
        const nf_dedup_pair *p = &res->pairs[k];
        if (!res->docs[p->a].from_index || !res->docs[p->b].from_index)
            nf_jsonl_dedup_pair(&b, res, k);
        if (b.len >= (1u << 20) || k + 1 == res->n_pairs) {
            st = b.oom ? nfi_fail(err, NF_ERR_NOMEM, "out of memory") : write(ctx, 1, b.data, b.len, err);
            b.len = 0;
        }
    }
    nf_buffer_free(&b);
    return st;
}

/* Rank 0 finishes alone (--index, --exact-verify). */
static nf_status write_gathered(nf_mpi_dedup *md, int pairs, int shard, nf_mpi_write_fn write, void *ctx,
                                nf_error *err)
{
    nf_dedup_result res = {0};
    nf_status st = nf_mpi_dedup_finish(md, &res, err);
    if (st == NF_OK && shard) {
        nf_buffer b = {0};
        st = nf_mpi_dedup_shard(md, &res, &b, err);
        if (st == NF_OK && b.len)
            st = write(ctx, 0, b.data, b.len, err);
        nf_buffer_free(&b);
        if (st == NF_OK && md->m->rank == 0 && pairs) {
            nf_dedup_result only_pairs = res;
            only_pairs.n_docs = 0; /* the documents went to the shards */
            st = write_result(&only_pairs, pairs, write, ctx, err);
        }
    } else if (st == NF_OK && md->m->rank == 0) {
        st = write_result(&res, pairs, write, ctx, err);
    }
    nf_dedup_result_free(&res);
    return st;
}

nf_status nf_mpi_dedup_write(nf_mpi_dedup *md, int pairs, int shard, nf_mpi_write_fn write, void *ctx,
                             nf_error *err)
{
    if (!md->dd)
        return write_gathered(md, pairs, shard, write, ctx, err);
    double t0 = nfi_mpi_cpu();
    nfi_mpi_dd_output out = {.pairs = pairs != 0, .shard = shard != 0, .write = write, .ctx = ctx};
    nf_status st = nfi_mpi_dd_finish(md->dd, md->docs_of, &out, &md->stats, err);
    md->stats.cpu_finish = nfi_mpi_cpu() - t0;
    return st;
}

void nf_mpi_dedup_stats(const nf_mpi_dedup *md, nf_mpi_stats *out) { *out = md->stats; }

void nf_mpi_dedup_free(nf_mpi_dedup *md)
{
    if (!md)
        return;
    nfi_mpi_dd_free(md->dd);
    free(md->docs_of);
    nf_dedup_free(md->d);
    nf_cleaner_free(md->cleaner);
    free(md->cleaned);
    free(md->items);
    nfi_mpi_gather_free(&md->g);
    free(md);
}

#endif
