/*
 * mpi_input.c - ranks split the input and still see the batches of the
 * single process (docs/distributed.md, "Splitting the input").
 *
 * Why batches matter: cleaning learns a site's template within a batch, so
 * equal output needs the single process's batches: in input order, a batch
 * closes once it holds batch_docs documents or its text reaches batch_bytes
 * (cli/common.c read_batch; the rule is simulated in chain_docs below and
 * the equality tests hold the two together). Which documents count depends
 * on everything before them (a repeated id is skipped), so a rank cannot
 * cut batches alone. Steps, all collective:
 *
 * 1. Scan. The input's bytes are cut into N equal ranges. Plain JSONL files
 *    are split by byte range: a range starts at the first line starting at
 *    or after its offset and ends before the first line starting at or after
 *    its end (the reader, nfi_reader_set_span). Other files (.json, .txt,
 *    HTML, WARC, anything .gz) go whole to the rank whose range holds their
 *    first byte. Each rank parses its range once, without the duplicate-id
 *    check, and keeps per document only its position, the hash of its id and
 *    its batch cost (text bytes): about 100 bytes a document, no text.
 * 2. Line numbers: lines are counted per range; an MPI_Allgather of the
 *    ranges' line counts turns them into the file's line numbers, so every
 *    message names file:line as in one process.
 * 3. Repeated ids: (id hash, position) go to rank hash mod N (bounded
 *    all-to-all, mpi_exchange.c); that rank finds each id's first position
 *    and tells the owners of the later ones, which are skipped as in one
 *    process.
 * 4. Batches: the batch rule runs along the ranks in order (a chain: rank r
 *    receives the state after rank r-1's documents, a few integers, and
 *    passes it on). A batch belongs to the rank where it starts; that rank
 *    reads it whole in step 5, past the end of its range when the batch goes
 *    on (at most one batch, <= batch_bytes of text, is read twice).
 * 5. Reading. Rank r reads from just after the last document before its
 *    first batch to its last batch's last document (the last rank with a
 *    batch reads to the end): these spans tile the input, so every skipped
 *    record is named exactly once, by the rank whose span holds it. A span
 *    starting inside a JSONL file seeks there; one starting inside another
 *    file re-reads that file's earlier documents quietly. Ids first seen
 *    before a span but repeated inside it are seeded into the span's reader
 *    (an exchange to the span's owner), so the reader skips exactly the
 *    documents the single process skips.
 * Cost: input is parsed twice (scan and read; parsing is about a tenth of
 * dedup's work on JSONL, more on HTML/WARC where the scan extracts too).
 */
#include "mpi/mpi.h"

#ifdef NF_HAVE_MPI

#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

enum { TAG_CHAIN = 11 };

/* A document's place in the whole input: (file, byte offset of its line)
 * in splittable files (ord 0), (file, ordinal in the file) in others. */
typedef struct doc_key {
    uint64_t file, offset, ord;
} doc_key;

static int key_cmp(const doc_key *a, const doc_key *b)
{
    if (a->file != b->file)
        return a->file < b->file ? -1 : 1;
    if (a->offset != b->offset)
        return a->offset < b->offset ? -1 : 1;
    return a->ord < b->ord ? -1 : a->ord > b->ord;
}

typedef struct scan_doc {
    uint64_t hash[2];
    doc_key key;
    uint64_t end;   /* splittable: offset of the next line */
    uint64_t line;  /* its line (relative to the range until step 2) */
    uint64_t cost;  /* what it adds to its batch's bytes */
    doc_key first;  /* dup: where its id was first seen */
    uint64_t dup;
} scan_doc;

/* Where reading resumes: just after document `key` (valid 0: the start). */
typedef struct after_doc {
    doc_key key;
    uint64_t end, line, valid;
} after_doc;

typedef struct input_state {
    const nf_mpi *m;
    const nf_mpi_input *in;
    nf_reader *reader;      /* the scan's */
    scan_doc *docs;
    size_t n_docs, cap_docs;
    uint64_t first_file, first_offset; /* the scan's span */
    bool scanned_any;
    uint64_t bytes_sent;
} input_state;

/* --------------------------------------------------------- 1. scan */

static uint64_t range_start(uint64_t total, int r, int N)
{
    return (uint64_t)((unsigned __int128)total * (unsigned)r / (unsigned)N);
}

/* The rank whose range holds byte c of the input. */
static int owner_of(uint64_t c, uint64_t total, int N)
{
    int r = total ? (int)((unsigned __int128)c * (unsigned)N / total) : 0;
    if (r >= N)
        r = N - 1;
    while (r > 0 && range_start(total, r, N) > c)
        r--;
    while (r + 1 < N && range_start(total, r + 1, N) <= c)
        r++;
    return r;
}

/* This rank's scan span; false when its range holds no file. */
static bool plan_scan(input_state *s, nfi_reader_span *span)
{
    int N = s->m->size, me = s->m->rank;
    size_t n = nfi_reader_n_files(s->reader);
    uint64_t total = 0, size;
    bool split;
    for (size_t i = 0; i < n; i++) {
        nfi_reader_file_info(s->reader, i, &size, &split);
        total += size;
    }
    uint64_t lo = range_start(total, me, N), hi = range_start(total, me + 1, N), c = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++, c += size) {
        nfi_reader_file_info(s->reader, i, &size, &split);
        bool mine = split ? (c < hi && c + size > lo) : owner_of(c, total, N) == me;
        if (!mine)
            continue;
        if (!any) {
            span->file = i;
            span->offset = split && lo > c ? lo - c : 0;
            span->line = 0;
            any = true;
        }
        span->end_file = i;
        span->end_offset = split && hi < c + size ? hi - c : 0;
    }
    return any;
}

static nf_status keep_doc(input_state *s, const nf_doc *d, nf_error *err)
{
    if (s->n_docs == s->cap_docs) {
        size_t cap = s->cap_docs ? s->cap_docs * 2 : 4096;
        scan_doc *g = realloc(s->docs, cap * sizeof *g);
        if (!g)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory scanning the input");
        s->docs = g;
        s->cap_docs = cap;
    }
    nfi_reader_pos pos;
    nfi_reader_position(s->reader, &pos);
    uint64_t size;
    bool split;
    nfi_reader_file_info(s->reader, pos.file, &size, &split);
    scan_doc *x = &s->docs[s->n_docs++];
    memset(x, 0, sizeof *x);
    nfi_reader_id_hash(d->id, x->hash);
    x->key = (doc_key){pos.file, split ? pos.offset : 0, split ? 0 : pos.ord};
    x->end = pos.end;
    x->line = pos.line;
    bool raw = d->extract && d->extract->raw;
    x->cost = raw ? d->extract->raw_len : d->text_len;
    return NF_OK;
}

/* Parses this rank's range; keeps what later steps need of each document. */
static nf_status scan(input_state *s, uint64_t *last_file, uint64_t *last_lines, nf_error *err)
{
    nfi_reader_span span;
    *last_file = UINT64_MAX;
    *last_lines = 0;
    if (!(s->scanned_any = plan_scan(s, &span)))
        return NF_OK;
    nf_status st = nfi_reader_set_span(s->reader, &span, err);
    nfi_reader_check_ids(s->reader, false);
    s->first_file = span.file;
    s->first_offset = span.offset;
    while (st == NF_OK) {
        nf_doc d;
        nf_error e;
        nf_status r = nf_reader_next(s->reader, &d, &e);
        if (r == NF_END)
            break;
        if (r == NF_SKIPPED) /* named in step 5 by the rank that reads it */
            continue;
        if (r != NF_OK) {
            *err = e;
            return r;
        }
        st = keep_doc(s, &d, err);
        nf_doc_free(&d);
    }
    *last_file = span.end_file;
    *last_lines = nfi_reader_last_lines(s->reader);
    return st;
}

/* ------------------------------------------------- 2. line numbers */

/* A range starting inside a file numbers its lines from 1; the lines of
 * the earlier ranges of that file come before them. */
static nf_status fix_lines(input_state *s, uint64_t last_file, uint64_t last_lines, nf_error *err)
{
    int N = s->m->size;
    uint64_t mine[2] = {last_file, last_lines};
    uint64_t *all = malloc((size_t)N * sizeof mine);
    if (!all)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    MPI_Allgather(mine, 2, MPI_UINT64_T, all, 2, MPI_UINT64_T, MPI_COMM_WORLD);
    uint64_t base = 0;
    if (s->scanned_any && s->first_offset > 0)
        for (int r = 0; r < s->m->rank; r++)
            if (all[2 * r] == s->first_file)
                base += all[2 * r + 1];
    free(all);
    for (size_t i = 0; i < s->n_docs && base; i++)
        if (s->docs[i].key.file == s->first_file)
            s->docs[i].line += base;
    return NF_OK;
}

/* ---------------------------------------------------- 3. repeated ids */

typedef struct id_rec {
    uint64_t hash[2];
    doc_key key;
    uint64_t src, idx;
} id_rec;

typedef struct id_reply {
    uint64_t idx;
    doc_key first;
} id_reply;

typedef struct rec_vec {
    char *data;
    size_t n, cap, size;
} rec_vec;

static nf_status vec_sink(void *ctx, const void *recs, size_t n, nf_error *err)
{
    rec_vec *v = ctx;
    if (v->n + n > v->cap) {
        size_t cap = v->cap ? v->cap : 1024;
        while (cap < v->n + n)
            cap *= 2;
        char *g = realloc(v->data, cap * v->size);
        if (!g)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory receiving MPI records");
        v->data = g;
        v->cap = cap;
    }
    memcpy(v->data + v->n * v->size, recs, n * v->size);
    v->n += n;
    return NF_OK;
}

static int id_rec_cmp(const void *a, const void *b)
{
    const id_rec *x = a, *y = b;
    if (x->hash[0] != y->hash[0])
        return x->hash[0] < y->hash[0] ? -1 : 1;
    if (x->hash[1] != y->hash[1])
        return x->hash[1] < y->hash[1] ? -1 : 1;
    return key_cmp(&x->key, &y->key);
}

static nf_status reply_sink(void *ctx, const void *recs, size_t n, nf_error *err)
{
    input_state *s = ctx;
    const id_reply *r = recs;
    for (size_t i = 0; i < n; i++) {
        if (r[i].idx >= s->n_docs)
            return nfi_fail(err, NF_ERR_PARSE, "MPI: bad id reply");
        s->docs[r[i].idx].dup = 1;
        s->docs[r[i].idx].first = r[i].first;
    }
    return NF_OK;
}

/* Marks every document whose id was seen earlier in the whole input. */
static nf_status find_repeated_ids(input_state *s, nf_error *err)
{
    size_t n = s->n_docs, N = (size_t)s->m->size;
    id_rec *out = malloc((n ? n : 1) * sizeof *out);
    uint32_t *dest = malloc((n ? n : 1) * sizeof *dest);
    rec_vec got = {.size = sizeof(id_rec)};
    nf_status st = out && dest ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && st == NF_OK; i++) {
        out[i] = (id_rec){{s->docs[i].hash[0], s->docs[i].hash[1]}, s->docs[i].key, (uint64_t)s->m->rank, i};
        dest[i] = (uint32_t)(s->docs[i].hash[0] % N);
    }
    if (st == NF_OK)
        st = nfi_mpi_exchange(s->m, out, sizeof *out, n, dest, vec_sink, &got, &s->bytes_sent, err);
    free(out);
    free(dest);
    /* the owner of a hash: all but the first position are repeats */
    id_rec *g = (id_rec *)got.data;
    if (st == NF_OK && got.n)
        qsort(g, got.n, sizeof *g, id_rec_cmp);
    size_t n_rep = 0;
    for (size_t i = 1; i < got.n; i++)
        n_rep += g[i].hash[0] == g[i - 1].hash[0] && g[i].hash[1] == g[i - 1].hash[1];
    id_reply *rep = malloc((n_rep ? n_rep : 1) * sizeof *rep);
    uint32_t *rdest = malloc((n_rep ? n_rep : 1) * sizeof *rdest);
    if (st == NF_OK && (!rep || !rdest))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    size_t k = 0, first = 0;
    for (size_t i = 1; i < got.n && st == NF_OK; i++) {
        if (g[i].hash[0] != g[first].hash[0] || g[i].hash[1] != g[first].hash[1]) {
            first = i;
            continue;
        }
        rep[k] = (id_reply){g[i].idx, g[first].key};
        rdest[k++] = (uint32_t)g[i].src;
    }
    free(got.data);
    if (st == NF_OK)
        st = nfi_mpi_exchange(s->m, rep, sizeof *rep, k, rdest, reply_sink, s, &s->bytes_sent, err);
    free(rep);
    free(rdest);
    return st;
}

/* ------------------------------------------------------- 4. batches */

typedef struct chain_state {
    uint64_t n, bytes;   /* the open batch */
    uint64_t batches;    /* batches started so far */
    uint64_t docs;       /* documents counted so far */
    after_doc prev;      /* just after the last document counted */
} chain_state;

/* What every rank learns about every other (MPI_Allgather). */
typedef struct owner_info {
    uint64_t n_batches, first_batch, first_doc;
    after_doc begin; /* where its span starts */
} owner_info;

typedef struct plan {
    uint64_t *starts; /* global ordinals of this rank's batch starts */
    size_t n_starts;
    owner_info *owners; /* size entries */
    uint64_t total_docs;
} plan;

static after_doc after(const scan_doc *d)
{
    return (after_doc){d->key, d->end, d->line, 1};
}

static void wait_recv(void *buf, int len, int src, int tag)
{
    MPI_Request req;
    int done = 0;
    MPI_Irecv(buf, len, MPI_BYTE, src, tag, MPI_COMM_WORLD, &req);
    for (MPI_Test(&req, &done, MPI_STATUS_IGNORE); !done; MPI_Test(&req, &done, MPI_STATUS_IGNORE))
        nfi_mpi_pause();
}

/* Runs the batch rule over this rank's counted documents (the single
 * process's read_batch: a batch closes at cap documents or once its bytes
 * reach max_bytes). */
static nf_status chain_docs(input_state *s, chain_state *c, plan *p, owner_info *me, nf_error *err)
{
    size_t cap = s->in->batch_docs, max = s->in->batch_bytes;
    for (size_t i = 0; i < s->n_docs; i++) {
        const scan_doc *d = &s->docs[i];
        if (d->dup)
            continue;
        if (c->n == 0) {
            if (p->n_starts == 0) {
                me->first_batch = c->batches;
                me->first_doc = c->docs;
                me->begin = c->prev;
            }
            uint64_t *g = realloc(p->starts, (p->n_starts + 1) * sizeof *g);
            if (!g)
                return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
            p->starts = g;
            p->starts[p->n_starts++] = c->docs;
            c->batches++;
        }
        c->n++;
        c->bytes += d->cost;
        if (c->n >= cap || c->bytes >= max)
            c->n = c->bytes = 0;
        c->docs++;
        c->prev = after(d);
    }
    me->n_batches = p->n_starts;
    return NF_OK;
}

static nf_status plan_batches(input_state *s, plan *p, nf_error *err)
{
    int me = s->m->rank, N = s->m->size;
    chain_state c = {0};
    owner_info mine = {0};
    if (me > 0)
        wait_recv(&c, (int)sizeof c, me - 1, TAG_CHAIN);
    nf_status st = chain_docs(s, &c, p, &mine, err);
    if (me + 1 < N) /* the next rank waits even when this one failed: it is aborted then */
        MPI_Send(&c, (int)sizeof c, MPI_BYTE, me + 1, TAG_CHAIN, MPI_COMM_WORLD);
    if (st != NF_OK)
        return st;
    p->owners = malloc((size_t)N * sizeof *p->owners);
    if (!p->owners)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    MPI_Allgather(&mine, (int)sizeof mine, MPI_BYTE, p->owners, (int)sizeof mine, MPI_BYTE, MPI_COMM_WORLD);
    MPI_Allreduce(&c.docs, &p->total_docs, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return NF_OK;
}

/* The first rank after r that reads batches (N: none). */
static int next_owner(const plan *p, int r, int N)
{
    for (r++; r < N && !p->owners[r].n_batches; r++)
        ;
    return r;
}

/* ------------------------------------------------ 5. seeds and reading */

typedef struct seed_rec {
    uint64_t hash[2];
} seed_rec;

/* The rank whose span holds position k (-1: none reads batches). */
static int span_of(const plan *p, const doc_key *k, int N)
{
    int found = -1;
    for (int r = 0; r < N; r++) {
        const owner_info *o = &p->owners[r];
        if (!o->n_batches)
            continue;
        if (found >= 0 && o->begin.valid && key_cmp(&o->begin.key, k) >= 0)
            break;
        found = r;
    }
    return found;
}

/* Sends to each span's owner the ids repeated in its span whose first
 * occurrence lies before the span; receives this rank's. */
static nf_status send_seeds(input_state *s, const plan *p, rec_vec *seeds, nf_error *err)
{
    int N = s->m->size;
    size_t n = 0;
    for (size_t i = 0; i < s->n_docs; i++)
        n += s->docs[i].dup != 0;
    seed_rec *out = malloc((n ? n : 1) * sizeof *out);
    uint32_t *dest = malloc((n ? n : 1) * sizeof *dest);
    if (!out || !dest) {
        free(out);
        free(dest);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n_docs; i++) {
        const scan_doc *d = &s->docs[i];
        int r = d->dup ? span_of(p, &d->key, N) : -1;
        if (r < 0 || !p->owners[r].begin.valid || key_cmp(&d->first, &p->owners[r].begin.key) > 0)
            continue; /* the span's own reader sees the first occurrence */
        out[k] = (seed_rec){{d->hash[0], d->hash[1]}};
        dest[k++] = (uint32_t)r;
    }
    nf_status st = nfi_mpi_exchange(s->m, out, sizeof *out, k, dest, vec_sink, seeds, &s->bytes_sent, err);
    free(out);
    free(dest);
    return st;
}

typedef struct span_reader {
    const nf_mpi_input *in;
    nf_reader *reader;
    uint64_t skip_file, skip_ord; /* quietly re-read up to this document */
    bool skipping;
    uint64_t skipped, ignored;
} span_reader;

static void warn(const nf_mpi_input *in, const char *msg)
{
    if (in->warn)
        in->warn(in->warn_ctx, msg);
}

/* The next document of the span (NF_END at its end). */
static nf_status span_next(span_reader *sr, nf_doc *d, nf_error *err)
{
    for (;;) {
        nf_status st = nf_reader_next(sr->reader, d, err);
        if (st == NF_SKIPPED) {
            if (!sr->skipping) {
                warn(sr->in, err->message);
                sr->skipped++;
            }
            continue;
        }
        if (st != NF_OK || !sr->skipping)
            return st;
        nfi_reader_pos pos;
        nfi_reader_position(sr->reader, &pos);
        if (pos.file == sr->skip_file && pos.ord >= sr->skip_ord) {
            sr->skipping = false; /* what follows is this span's */
            nfi_reader_check_ids(sr->reader, true);
        }
        nf_doc_free(d);
    }
}

static nf_status open_span(input_state *s, const owner_info *o, const rec_vec *seeds,
                           span_reader *sr, nf_error *err)
{
    nf_reader_options ropt = {.max_record_bytes = s->in->max_record};
    nf_status st = nf_reader_open(&sr->reader, s->in->paths, s->in->n_paths, &ropt, err);
    if (st != NF_OK)
        return st;
    size_t n_files = nfi_reader_n_files(sr->reader);
    nfi_reader_span span = {0, 0, 0, n_files ? n_files - 1 : 0, 0};
    if (o->begin.valid && o->begin.key.ord == 0) { /* after a line of a JSONL file */
        span.file = o->begin.key.file;
        span.offset = o->begin.end;
        span.line = o->begin.line;
    } else if (o->begin.valid) { /* after a document inside another file */
        span.file = o->begin.key.file;
        sr->skip_file = o->begin.key.file;
        sr->skip_ord = o->begin.key.ord;
        sr->skipping = true;
        nfi_reader_check_ids(sr->reader, false);
    }
    if (n_files)
        st = nfi_reader_set_span(sr->reader, &span, err);
    const seed_rec *sd = (const seed_rec *)seeds->data;
    for (size_t i = 0; i < seeds->n && st == NF_OK; i++)
        st = nfi_reader_seed_id(sr->reader, sd[i].hash, err);
    return st;
}

static void warn_empty(const nf_mpi_input *in, const nf_doc *d)
{
    bool raw = d->extract && d->extract->raw;
    if (d->text_len || raw || (d->title && *d->title))
        return;
    char msg[512];
    snprintf(msg, sizeof msg, "%s:%llu: no text and no title (kept, id \"%s\")", d->origin,
             (unsigned long long)d->record, d->id);
    warn(in, msg);
}

/* Reads this rank's batches (sizes from the plan) and hands them to fn. */
static nf_status read_batches(input_state *s, const plan *p, const rec_vec *seeds, nfi_mpi_batch_fn fn,
                              void *ctx, nfi_mpi_read_result *res, nf_error *err)
{
    int me = s->m->rank, N = s->m->size;
    const owner_info *o = &p->owners[me];
    if (!o->n_batches)
        return NF_OK;
    int nxt = next_owner(p, me, N);
    uint64_t span_end = nxt < N ? p->owners[nxt].first_doc : p->total_docs;
    span_reader sr = {.in = s->in};
    nf_status st = open_span(s, o, seeds, &sr, err);
    size_t cap = s->in->batch_docs;
    nf_doc *docs = calloc(cap, sizeof *docs);
    if (st == NF_OK && !docs)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t b = 0; b < p->n_starts && st == NF_OK; b++) {
        uint64_t want = (b + 1 < p->n_starts ? p->starts[b + 1] : span_end) - p->starts[b];
        size_t n = 0;
        while (n < want && st == NF_OK) {
            st = span_next(&sr, &docs[n], err);
            if (st == NF_OK)
                warn_empty(s->in, &docs[n++]);
            else if (st == NF_END)
                st = nfi_fail(err, NF_ERR_ARG, "MPI: rank %d found fewer documents than its scan (input changed?)", me);
        }
        if (st == NF_OK)
            st = fn(ctx, docs, n, err);
        for (size_t i = 0; i < n; i++)
            nf_doc_free(&docs[i]);
    }
    nf_doc extra;
    if (st == NF_OK && nxt == N) { /* the last span: skipped records up to the end */
        st = span_next(&sr, &extra, err);
        if (st == NF_OK) {
            nf_doc_free(&extra);
            st = nfi_fail(err, NF_ERR_ARG, "MPI: rank %d found more documents than planned (input changed?)", me);
        } else if (st == NF_END) {
            st = NF_OK;
        }
    }
    free(docs);
    res->totals.skipped = sr.skipped;
    if (sr.reader)
        res->totals.ignored = nf_reader_records_ignored(sr.reader);
    nf_reader_close(sr.reader);
    return st;
}

/* ------------------------------------------------------------ driver */

/* Every rank must list the same files: (count, bytes) are compared. */
static nf_status same_files(input_state *s, nf_error *err)
{
    uint64_t mine[2] = {nfi_reader_n_files(s->reader), 0}, lo[2], hi[2];
    for (size_t i = 0; i < mine[0]; i++) {
        uint64_t size;
        bool split;
        nfi_reader_file_info(s->reader, i, &size, &split);
        mine[1] += size;
    }
    MPI_Allreduce(mine, lo, 2, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(mine, hi, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (lo[0] != hi[0] || lo[1] != hi[1])
        return nfi_fail(err, NF_ERR_ARG,
                        "MPI: the ranks see different inputs (%llu..%llu files, %llu..%llu bytes); every rank must "
                        "read the same files",
                        (unsigned long long)lo[0], (unsigned long long)hi[0], (unsigned long long)lo[1],
                        (unsigned long long)hi[1]);
    return NF_OK;
}

static void sum_totals(input_state *s, const plan *p, nfi_mpi_read_result *res)
{
    uint64_t mine[3] = {res->totals.skipped, res->totals.ignored, 0}, all[3];
    for (size_t i = 0; i < s->n_docs; i++)
        if (!s->docs[i].dup)
            mine[2] += s->docs[i].cost;
    MPI_Allreduce(mine, all, 3, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    res->totals.docs = p->total_docs;
    res->totals.skipped = all[0];
    res->totals.ignored = all[1];
    res->totals.bytes = all[2];
}

nf_status nfi_mpi_read(const nf_mpi *m, const nf_mpi_input *in, nfi_mpi_batch_fn fn, void *ctx,
                       nfi_mpi_read_result *res, nf_error *err)
{
    memset(res, 0, sizeof *res);
    input_state s = {.m = m, .in = in};
    plan p = {0};
    rec_vec seeds = {.size = sizeof(seed_rec)};
    nf_reader_options ropt = {.max_record_bytes = in->max_record};
    uint64_t last_file = 0, last_lines = 0;
    for (size_t i = 0; i < in->n_paths; i++)
        if (strcmp(in->paths[i], "-") == 0) /* mpirun gives stdin to rank 0 only */
            return nfi_fail(err, NF_ERR_ARG, "MPI: standard input cannot be shared among ranks: give files");
    nf_status st = nf_reader_open(&s.reader, in->paths, in->n_paths, &ropt, err);
    if (st == NF_OK)
        st = same_files(&s, err);
    if (st == NF_OK)
        st = scan(&s, &last_file, &last_lines, err);
    nf_reader_close(s.reader);
    s.reader = NULL;
    if (st == NF_OK)
        st = fix_lines(&s, last_file, last_lines, err);
    if (st == NF_OK)
        st = find_repeated_ids(&s, err);
    if (st == NF_OK)
        st = plan_batches(&s, &p, err);
    if (st == NF_OK)
        st = send_seeds(&s, &p, &seeds, err);
    if (st == NF_OK) {
        res->first_batch = p.owners[m->rank].first_batch;
        res->docs_scanned = s.n_docs;
        res->cpu_planned = nfi_mpi_cpu();
        st = read_batches(&s, &p, &seeds, fn, ctx, res, err);
    }
    if (st == NF_OK) {
        res->batches_of = malloc((size_t)m->size * sizeof *res->batches_of);
        res->docs_of = malloc((size_t)m->size * sizeof *res->docs_of);
    }
    if (st == NF_OK && res->batches_of && res->docs_of) {
        for (int r = 0; r < m->size; r++) {
            int nxt = next_owner(&p, r, m->size);
            res->batches_of[r] = p.owners[r].n_batches;
            res->docs_of[r] = !p.owners[r].n_batches ? 0
                              : (nxt < m->size ? p.owners[nxt].first_doc : p.total_docs) - p.owners[r].first_doc;
        }
        sum_totals(&s, &p, res);
    } else if (st == NF_OK) {
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    res->bytes_exchanged = s.bytes_sent;
    free(s.docs);
    free(p.starts);
    free(p.owners);
    free(seeds.data);
    return st;
}

#endif
