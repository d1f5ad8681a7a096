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
 *
 * The merge is where an MPI build would exchange records between ranks by
 * key range; the record format is fixed-size for that reason.
 */
#include "common/common.h"

#include <errno.h>
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

/* LSD radix passes [first_pass, 16): 0-7 sort by val bytes, 8-15 by key
 * bytes. Each pass is stable, so starting at 8 sorts by key alone and keeps
 * records with equal keys in their original order. */
static void radix_passes(nfi_kv *v, size_t n, int first_pass)
{
    if (n < 2)
        return;
    nfi_kv *tmp = malloc(n * sizeof *tmp);
    if (!tmp) {
        qsort(v, n, sizeof *v, cmp_kv);
        return;
    }
    /* 16 passes of 8 bits: val first (least significant), then key; passes
     * where every record has the same byte are skipped */
    nfi_kv *src = v, *dst = tmp;
    for (int pass = first_pass; pass < 16; pass++) {
        int shift = (pass % 8) * 8;
        bool on_key = pass >= 8;
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[((on_key ? src[i].key : src[i].val) >> shift) & 0xFF]++;
        if (count[((on_key ? src[0].key : src[0].val) >> shift) & 0xFF] == n)
            continue;
        size_t sum = 0;
        for (int b = 0; b < 256; b++) {
            size_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[((on_key ? src[i].key : src[i].val) >> shift) & 0xFF]++] = src[i];
        nfi_kv *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
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

static nf_status spill(nfi_runs *r, nf_error *err)
{
    nfi_kv_sort(r->buf, r->len);
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

nf_status nfi_runs_finish(nfi_runs *r, nf_error *err)
{
    r->finished = true;
    if (r->n_runs == 0) {
        nfi_kv_sort(r->buf, r->len);
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
    for (size_t i = 0; i < r->n_runs; i++) {
        run *u = &r->runs[i];
        rewind(u->file);
        if (!(u->buf = malloc(READ_BUFFER_RECORDS * sizeof *u->buf)))
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        if (refill(r, u))
            r->heap[r->heap_len++] = i;
    }
    for (size_t i = r->heap_len; i-- > 0;)
        sift_down(r, i);
    return r->failed ? nfi_fail(err, NF_ERR_IO, "%s", r->error.message) : NF_OK;
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
