/*
 * runs.c - external sort of 16-byte (key, value) records.
 *
 * Every corpus-scale stage of duplicate detection (band keys -> candidate
 * pairs, samples -> containment pairs) is "emit records, then visit them
 * grouped by key". Records go into a buffer bounded by the memory limit;
 * a full buffer is radix-sorted and written as a run to an unlinked
 * temporary file; finishing merges the runs with a binary heap, reading each
 * through its own small buffer. Memory is therefore the buffer plus one read
 * buffer per run, whatever the number of records, and the visiting order is
 * the total (key, val) order, so results do not depend on spill points or
 * thread counts. When nothing spilled, the buffer is simply sorted in place.
 * With threads (nfi_runs_set_threads), a large buffer is split by its first
 * varying byte (a stable counting pass, in chunks on the threads) and the
 * 256 parts are sorted on the threads (each part its own slice of both
 * buffers), so the result is the same records in the same order as the
 * one-thread sort.
 *
 * The merge is where an MPI build would exchange records between ranks by
 * key range; the record format is fixed-size for that reason.
 */
#include "common/common.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_BUFFER_RECORDS 4096
#define MIN_BUFFER_RECORDS 1024

typedef struct run {
    FILE *file;
    nfi_kv *buf;
    size_t len, pos;
} run;

struct nfi_runs {
    nfi_kv *buf;
    size_t len, alloc, cap; /* cap: the memory limit in records */
    run *runs;
    size_t n_runs;
    size_t *heap; /* indices of runs, ordered by their head record */
    size_t heap_len;
    size_t mem_pos; /* when nothing spilled: position in buf */
    bool finished, failed;
    bool vals_sorted; /* buf's vals never decreased since it was empty */
    int threads;      /* sorting a large buffer splits it on this many threads */
    nf_error error;
    char *tmp_dir;
    uint64_t count;
};

static int cmp_kv(const void *a, const void *b)
{
    const nfi_kv *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->val > y->val) - (x->val < y->val);
}

static bool kv_less(const nfi_kv *x, const nfi_kv *y)
{
    return x->key < y->key || (x->key == y->key && x->val < y->val);
}

/* The one radix sort, for 8-byte words (size 8) and for nfi_kv records
 * (size 16), over byte positions [first, last): for records, positions 0-7
 * are the val's bytes (least significant first) and 8-15 the key's. Every
 * pass is stable, so starting at 8 sorts records by key alone and keeps
 * equal keys in their input order. The result is in v; scratch holds n
 * elements. Inlined into its callers, so the size is a constant there.
 *
 * LSD: one read pass fills every position's histogram; a position where all
 * records share the byte is skipped, so small keys (document numbers) cost
 * two or three scatter passes, not eight. A large input is sorted MSD
 * instead (msd_in_place): split by its top byte, then each part, a 256th of
 * the whole and so mostly in cache, by the next byte, and so on until the
 * buckets are small enough for insertion sort: one pass over main memory,
 * and for hashes two or three in all instead of eight. */
#define MSD_MIN 32768

static inline uint64_t radix_word(const unsigned char *rec, size_t size, int pos)
{
    uint64_t w;
    memcpy(&w, rec + (size == 8 ? 0 : pos < 8 ? offsetof(nfi_kv, val) : offsetof(nfi_kv, key)), sizeof w);
    return w;
}

static inline unsigned radix_byte(const unsigned char *rec, size_t size, int pos)
{
    return (unsigned)(radix_word(rec, size, pos) >> (pos % 8 * 8)) & 0xFF;
}

static inline __attribute__((always_inline)) void radix_lsd(unsigned char *v, unsigned char *scratch, size_t n,
                                                            size_t size, int first, int last)
{
    if (n < 2 || last <= first)
        return;
    size_t count[16][256];
    memset(count, 0, (size_t)(last - first) * sizeof *count);
    const unsigned char *p = v;
    for (size_t i = 0; i < n; i++, p += size)
        for (int pos = first; pos < last; pos++)
            count[pos - first][radix_byte(p, size, pos)]++;
    unsigned char *src = v, *dst = scratch;
    for (int pos = first; pos < last; pos++) {
        size_t *c = count[pos - first];
        if (c[radix_byte(src, size, pos)] == n)
            continue; /* every record has this byte */
        size_t sum = 0;
        for (int b = 0; b < 256; b++) {
            size_t k = c[b];
            c[b] = sum;
            sum += k;
        }
        const unsigned char *q = src;
        for (size_t i = 0; i < n; i++, q += size)
            memcpy(dst + c[radix_byte(q, size, pos)]++ * size, q, size);
        unsigned char *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * size);
}

/* Whether record x sorts before y: words by value; records by key, and by
 * val too unless only the key's positions (first >= 8) are sorted. */
static inline bool radix_less(const unsigned char *x, const unsigned char *y, size_t size, int first)
{
    uint64_t kx = radix_word(x, size, 8), ky = radix_word(y, size, 8);
    if (size == 8 || kx != ky)
        return kx < ky;
    return first < 8 && radix_word(x, size, 0) < radix_word(y, size, 0);
}

/* Insertion sort (stable) for the few records of an MSD bucket, whose
 * higher bytes are all equal. */
static inline __attribute__((always_inline)) void radix_insertion(unsigned char *v, size_t n, size_t size, int first)
{
    unsigned char x[16];
    for (size_t i = 1; i < n; i++) {
        if (!radix_less(v + i * size, v + (i - 1) * size, size, first))
            continue;
        memcpy(x, v + i * size, size);
        size_t j = i;
        for (; j > 0 && radix_less(x, v + (j - 1) * size, size, first); j--)
            memcpy(v + j * size, v + (j - 1) * size, size);
        memcpy(v + j * size, x, size);
    }
}

/* MSD from byte position pos down to first, for large inputs (well-mixed
 * keys leave a few thousand records per top byte at corpus scale): each
 * level splits by one byte, and a bucket of MSD_SMALL records or fewer is
 * finished by insertion sort, so uniform keys are done after two or three
 * byte passes instead of eight. A byte all records share costs one
 * counting pass. The levels scatter back and forth between the two
 * buffers (each level's result lands in the buffer its caller wants), so
 * no level copies its records back. */
#define MSD_SMALL 48

/* Counts byte pos of n records into start[1..256]; false when they all
 * share it. */
static bool msd_count(const unsigned char *v, size_t n, size_t size, int pos, size_t start[257])
{
    memset(start, 0, 257 * sizeof *start);
    const unsigned char *p = v;
    for (size_t i = 0; i < n; i++, p += size)
        start[radix_byte(p, size, pos) + 1]++;
    if (start[radix_byte(v, size, pos) + 1] == n)
        return false;
    for (int k = 0; k < 256; k++)
        start[k + 1] += start[k];
    return true;
}

static void msd_scatter(const unsigned char *src, unsigned char *dst, size_t n, size_t size, int pos,
                        const size_t start[257])
{
    size_t at[256];
    memcpy(at, start, sizeof at);
    for (size_t i = 0; i < n; i++, src += size)
        memcpy(dst + at[radix_byte(src, size, pos)]++ * size, src, size);
}

/* Sorts the n records at src by bytes pos down to first, using other as
 * the second buffer; the result lands in other when into, else in src. */
static void msd(unsigned char *src, unsigned char *other, size_t n, size_t size, int first, int pos, bool into)
{
    size_t start[257];
    for (; n > MSD_SMALL && pos >= first; pos--) {
        if (!msd_count(src, n, size, pos, start))
            continue;
        msd_scatter(src, other, n, size, pos, start);
        for (int k = 0; k < 256; k++) /* each bucket now in other: sorted back, or left there */
            msd(other + start[k] * size, src + start[k] * size, start[k + 1] - start[k], size, first, pos - 1,
                !into);
        return;
    }
    if (into)
        memcpy(other, src, n * size);
    if (pos >= first)
        radix_insertion(into ? other : src, n, size, first);
}

static inline __attribute__((always_inline)) void radix_sort(void *v, void *scratch, size_t n, size_t size,
                                                             int first, int last)
{
    if (n < MSD_MIN || last - first < 2)
        radix_lsd(v, scratch, n, size, first, last);
    else
        msd(v, scratch, n, size, first, last - 1, false);
}

static void insertion_sort_u64(uint64_t *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint64_t x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* Up to a few thousand words (a document's shingle samples, a pivot's
 * sequence): one counting pass on the highest bits that vary among them
 * (from their OR and AND), about as many buckets as words, puts them
 * nearly in order, and an insertion sort finishes: well-mixed hashes
 * leave about one word per bucket, so it moves few. Eight LSD passes, each
 * with its 256 counters, cost several times more at this size. */
#define BUCKET_SORT_MAX 8192

static void bucket_sort_u64(uint64_t *v, size_t n, uint64_t *scratch)
{
    uint64_t any = 0, all = ~0ull;
    for (size_t i = 0; i < n; i++) {
        any |= v[i];
        all &= v[i];
    }
    if (any == all)
        return; /* all equal */
    int bits = 8;
    while (bits < 13 && ((size_t)1 << bits) < n)
        bits++;
    int top = 63 - __builtin_clzll(any ^ all), shift = top >= bits - 1 ? top - (bits - 1) : 0;
    uint64_t mask = ((uint64_t)1 << bits) - 1;
    uint32_t start[(1 << 13) + 1];
    memset(start, 0, (((size_t)1 << bits) + 1) * sizeof *start);
    for (size_t i = 0; i < n; i++)
        start[(v[i] >> shift & mask) + 1]++;
    for (size_t b = 0; b < ((size_t)1 << bits); b++)
        start[b + 1] += start[b];
    for (size_t i = 0; i < n; i++)
        scratch[start[v[i] >> shift & mask]++] = v[i];
    memcpy(v, scratch, n * sizeof *v);
    insertion_sort_u64(v, n);
}

void nfi_u64_sort(uint64_t *v, size_t n, uint64_t *scratch)
{
    if (n < 48) /* insertion sort: below this the counting passes cost more */
        insertion_sort_u64(v, n);
    else if (n < BUCKET_SORT_MAX)
        bucket_sort_u64(v, n, scratch);
    else
        radix_sort(v, scratch, n, sizeof *v, 0, 8);
}

static inline __attribute__((always_inline)) void radix_passes(nfi_kv *v, size_t n, int first_pass)
{
    if (n < 2)
        return;
    nfi_kv *tmp = malloc(n * sizeof *tmp);
    if (!tmp) {
        qsort(v, n, sizeof *v, cmp_kv);
        return;
    }
    radix_sort(v, tmp, n, sizeof *v, first_pass, 16);
    free(tmp);
}

void nfi_kv_sort(nfi_kv *v, size_t n)
{
    if (n < 2)
        return;
    if (n < 256)
        qsort(v, n, sizeof *v, cmp_kv);
    else
        radix_passes(v, n, 0);
}

void nfi_kv_sort_by_key_stable(nfi_kv *v, size_t n) { radix_passes(v, n, 8); }

nf_status nfi_runs_new(nfi_runs **out, size_t mem_bytes, const char *tmp_dir, nf_error *err)
{
    *out = NULL;
    nfi_runs *r = calloc(1, sizeof *r);
    if (!r)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    r->cap = mem_bytes / sizeof(nfi_kv);
    if (r->cap < MIN_BUFFER_RECORDS)
        r->cap = MIN_BUFFER_RECORDS;
    const char *dir = tmp_dir ? tmp_dir : getenv("TMPDIR");
    r->tmp_dir = nfi_strdup(dir && *dir ? dir : "/tmp");
    if (!r->tmp_dir) {
        free(r);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    *out = r;
    return NF_OK;
}

void nfi_runs_set_threads(nfi_runs *r, int threads) { r->threads = threads; }

/* Below this many records one thread sorts: the split pass and the threads
 * cost more than they save. */
#define PARALLEL_SORT_MIN 16384

/* The split pass itself runs on the threads too: each takes a contiguous
 * chunk of the records, counts its bytes, and scatters them to offsets
 * that put chunk c's records of a bucket after those of chunks below c,
 * so the split is stable as the one-thread scatter is. */
#define SPLIT_CHUNKS 16

typedef struct split_sort {
    unsigned char *src, *dst; /* the split records lie in dst, by bucket */
    size_t n;
    int first, pos;           /* pos: the byte being counted, then split by */
    size_t count[SPLIT_CHUNKS][256]; /* per chunk: counts, then scatter offsets */
    size_t start[257];
} split_sort;

static const unsigned char *chunk_at(const split_sort *s, size_t c, size_t *len)
{
    size_t lo = s->n * c / SPLIT_CHUNKS, hi = s->n * (c + 1) / SPLIT_CHUNKS;
    *len = hi - lo;
    return s->src + lo * sizeof(nfi_kv);
}

static nf_status count_split_chunk(void *ctx, void *worker, size_t c, nf_error *err)
{
    (void)worker, (void)err;
    split_sort *s = ctx;
    size_t len, *count = s->count[c];
    const unsigned char *p = chunk_at(s, c, &len);
    memset(count, 0, 256 * sizeof *count);
    for (size_t i = 0; i < len; i++, p += sizeof(nfi_kv))
        count[radix_byte(p, sizeof(nfi_kv), s->pos)]++;
    return NF_OK;
}

static nf_status scatter_split_chunk(void *ctx, void *worker, size_t c, nf_error *err)
{
    (void)worker, (void)err;
    split_sort *s = ctx;
    size_t len, *at = s->count[c];
    const unsigned char *p = chunk_at(s, c, &len);
    for (size_t i = 0; i < len; i++, p += sizeof(nfi_kv))
        memcpy(s->dst + at[radix_byte(p, sizeof(nfi_kv), s->pos)]++ * sizeof(nfi_kv), p, sizeof(nfi_kv));
    return NF_OK;
}

/* Task: sorts bucket k of the split by the bytes below pos, back into src
 * (MSD's own recursion step, so the order is the one-thread order). */
static nf_status sort_split_bucket(void *ctx, void *worker, size_t k, nf_error *err)
{
    (void)worker, (void)err;
    const split_sort *s = ctx;
    size_t at = s->start[k] * sizeof(nfi_kv);
    msd(s->dst + at, s->src + at, s->start[k + 1] - s->start[k], sizeof(nfi_kv), s->first, s->pos - 1, true);
    return NF_OK;
}

/* Counts byte s->pos on the threads into s->start; false when every record
 * has the same byte there. Leaves each chunk's scatter offsets in count. */
static bool count_split(split_sort *s, int threads)
{
    nf_error err;
    nfi_parallel_for(SPLIT_CHUNKS, NULL, 0, threads, count_split_chunk, s, &err); /* the tasks cannot fail */
    size_t sum = 0;
    for (int b = 0; b < 256; b++) {
        s->start[b] = sum;
        for (int c = 0; c < SPLIT_CHUNKS; c++) {
            size_t k = s->count[c][b];
            s->count[c][b] = sum;
            sum += k;
        }
        if (sum - s->start[b] == s->n)
            return false;
    }
    s->start[256] = sum;
    return true;
}

/* Sorts records by byte positions [first, 16) as radix_passes does: the
 * first varying byte splits them, and the parts are sorted, on threads. */
static void kv_sort_threads(nfi_kv *v, size_t n, int first, int threads)
{
    split_sort *s = NULL;
    if (threads < 2 || n < PARALLEL_SORT_MIN || !(s = calloc(1, sizeof *s)) || !(s->dst = malloc(n * sizeof *v))) {
        free(s);
        if (first == 8)
            nfi_kv_sort_by_key_stable(v, n);
        else
            nfi_kv_sort(v, n);
        return;
    }
    *s = (split_sort){.src = (unsigned char *)v, .dst = s->dst, .n = n, .first = first, .pos = 15};
    while (s->pos >= first && !count_split(s, threads))
        s->pos--;
    if (s->pos >= first) { /* else every record is equal at every position */
        nf_error err;      /* the tasks cannot fail */
        nfi_parallel_for(SPLIT_CHUNKS, NULL, 0, threads, scatter_split_chunk, s, &err);
        nfi_parallel_for(256, NULL, 0, threads, sort_split_bucket, s, &err);
    }
    free(s->dst);
    free(s);
}

/* Records added in nondecreasing val order (document numbers, as every
 * dedup sorter adds them) need only the key passes. */
static void sort_buffer(nfi_runs *r)
{
    kv_sort_threads(r->buf, r->len, r->vals_sorted ? 8 : 0, r->threads);
}

static nf_status spill(nfi_runs *r, nf_error *err)
{
    sort_buffer(r);
    run *runs = realloc(r->runs, (r->n_runs + 1) * sizeof *runs);
    if (!runs)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    r->runs = runs;
    FILE *f = nfi_temp_file(r->tmp_dir, "newsfold-run");
    if (!f)
        return nfi_fail(err, NF_ERR_IO, "%s: cannot create a temporary file: %s", r->tmp_dir, strerror(errno));
    if (fwrite(r->buf, sizeof *r->buf, r->len, f) != r->len || fflush(f) != 0) {
        fclose(f);
        return nfi_fail(err, NF_ERR_IO, "%s: cannot write a sort run (disk full?)", r->tmp_dir);
    }
    r->runs[r->n_runs++] = (run){f, NULL, 0, 0};
    r->len = 0;
    return NF_OK;
}

nf_status nfi_runs_add(nfi_runs *r, uint64_t key, uint64_t val, nf_error *err)
{
    if (r->len == r->alloc) {
        if (r->alloc == r->cap) {
            nf_status st = spill(r, err);
            if (st != NF_OK)
                return st;
        } else { /* grow by doubling up to the limit: small inputs stay small */
            size_t alloc = r->alloc ? r->alloc * 2 : 4096;
            if (alloc > r->cap)
                alloc = r->cap;
            nfi_kv *b = realloc(r->buf, alloc * sizeof *b);
            if (!b)
                return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
            r->buf = b;
            r->alloc = alloc;
        }
    }
    r->vals_sorted = r->len == 0 || (r->vals_sorted && val >= r->buf[r->len - 1].val);
    r->buf[r->len++] = (nfi_kv){key, val};
    r->count++;
    return NF_OK;
}

static bool refill(nfi_runs *r, run *u)
{
    if (u->pos < u->len)
        return true;
    u->len = fread(u->buf, sizeof *u->buf, READ_BUFFER_RECORDS, u->file);
    u->pos = 0;
    if (u->len == 0 && ferror(u->file)) {
        r->failed = true;
        nfi_fail(&r->error, NF_ERR_IO, "read error in a temporary sort run");
    }
    return u->len > 0;
}

static bool heap_less(nfi_runs *r, size_t a, size_t b)
{
    run *x = &r->runs[r->heap[a]], *y = &r->runs[r->heap[b]];
    return kv_less(&x->buf[x->pos], &y->buf[y->pos]);
}

static void sift_down(nfi_runs *r, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < r->heap_len && heap_less(r, l, m))
            m = l;
        if (l + 1 < r->heap_len && heap_less(r, l + 1, m))
            m = l + 1;
        if (m == i)
            return;
        size_t t = r->heap[i];
        r->heap[i] = r->heap[m];
        r->heap[m] = t;
        i = m;
    }
}

/* Starts the merge of the spilled runs from their beginnings. */
static nf_status start_merge(nfi_runs *r, nf_error *err)
{
    r->heap_len = 0;
    for (size_t i = 0; i < r->n_runs; i++) {
        run *u = &r->runs[i];
        rewind(u->file);
        u->len = u->pos = 0;
        if (!u->buf && !(u->buf = malloc(READ_BUFFER_RECORDS * sizeof *u->buf)))
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        if (refill(r, u))
            r->heap[r->heap_len++] = i;
    }
    for (size_t i = r->heap_len; i-- > 0;)
        sift_down(r, i);
    return r->failed ? nfi_fail(err, NF_ERR_IO, "%s", r->error.message) : NF_OK;
}

nf_status nfi_runs_finish(nfi_runs *r, nf_error *err)
{
    r->finished = true;
    if (r->n_runs == 0) {
        sort_buffer(r);
        return NF_OK;
    }
    if (r->len) {
        nf_status st = spill(r, err);
        if (st != NF_OK)
            return st;
    }
    free(r->buf); /* the merge needs only the read buffers */
    r->buf = NULL;
    r->alloc = 0;
    r->heap = malloc(r->n_runs * sizeof *r->heap);
    if (!r->heap)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return start_merge(r, err);
}

int nfi_runs_next(nfi_runs *r, nfi_kv *out)
{
    if (r->n_runs == 0) {
        if (r->mem_pos >= r->len)
            return 0;
        *out = r->buf[r->mem_pos++];
        return 1;
    }
    if (r->heap_len == 0)
        return 0;
    run *u = &r->runs[r->heap[0]];
    *out = u->buf[u->pos++];
    if (!refill(r, u))
        r->heap[0] = r->heap[--r->heap_len];
    if (r->heap_len)
        sift_down(r, 0);
    return 1;
}

bool nfi_runs_failed(const nfi_runs *r, nf_error *err)
{
    if (r->failed && err)
        *err = r->error;
    return r->failed;
}

size_t nfi_runs_spilled(const nfi_runs *r) { return r->n_runs; }
uint64_t nfi_runs_count(const nfi_runs *r) { return r->count; }

void nfi_runs_free(nfi_runs *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_runs; i++) {
        if (r->runs[i].file)
            fclose(r->runs[i].file);
        free(r->runs[i].buf);
    }
    free(r->runs);
    free(r->heap);
    free(r->buf);
    free(r->tmp_dir);
    free(r);
}
