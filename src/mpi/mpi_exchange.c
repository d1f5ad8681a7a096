/*
 * mpi_exchange.c - the bounded all-to-all every hash-partitioned step uses
 * (document ids now; band keys are meant to go the same way).
 *
 * Design: the records are first ordered by destination (a counting sort
 * into one copy), then sent in rounds. In a round a rank sends at most
 * `quota` records to each destination, quota = (16 MiB / record size) / N,
 * so what a rank sends and receives in a round is at most about 16 MiB
 * whatever N and the number of records: memory per rank stays flat. The
 * counts of a round go first (MPI_Alltoall), then the records
 * (MPI_Alltoallv); rounds go on until no rank has anything left (one
 * MPI_Allreduce per round). Received records are handed to the sink round
 * by round, so the receiver decides what it keeps. Every collective is
 * non-blocking and waited for by nfi_mpi_wait: a rank that waits for a
 * slower one tests for 2 ms, then pauses between tests instead of spinning
 * (Open MPI busy-polls), so it leaves its core to the working ranks.
 */
#include "mpi/mpi.h"

#ifdef NF_HAVE_MPI

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define ROUND_BYTES (16u << 20)
#define SPIN_SECONDS 0.002 /* a wait tests without pausing this long first */

void nfi_mpi_wait(MPI_Request *req)
{
    int done = 0;
    double t0 = MPI_Wtime();
    unsigned tests = 0;
    bool slow = false;
    for (MPI_Test(req, &done, MPI_STATUS_IGNORE); !done; MPI_Test(req, &done, MPI_STATUS_IGNORE)) {
        if (!slow && ++tests % 64 == 0) /* the clock costs more than a test */
            slow = MPI_Wtime() - t0 > SPIN_SECONDS;
        if (slow)
            nfi_mpi_pause();
    }
}

bool nfi_mpi_any(bool mine)
{
    int v = mine, any = 0;
    MPI_Request req;
    MPI_Iallreduce(&v, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &req);
    nfi_mpi_wait(&req);
    return any != 0;
}

typedef struct exchange {
    const nf_mpi *m;
    char *sorted;              /* records ordered by destination */
    size_t size, quota;
    size_t *next, *end;        /* per destination: cursor and end in sorted */
    int *scount, *sdispl, *rcount, *rdispl;
    char *sbuf, *rbuf;
} exchange;

static void exchange_free(exchange *x)
{
    free(x->sorted);
    free(x->next);
    free(x->end);
    free(x->scount);
    free(x->sdispl);
    free(x->rcount);
    free(x->rdispl);
    free(x->sbuf);
    free(x->rbuf);
}

/* Orders the records by destination; false when out of memory. */
static bool sort_by_dest(exchange *x, const void *recs, size_t n, const uint32_t *dest)
{
    size_t N = (size_t)x->m->size;
    x->sorted = malloc(n ? n * x->size : 1);
    if (!x->sorted)
        return false;
    for (size_t i = 0; i < n; i++)
        x->end[dest[i]]++;
    size_t at = 0;
    for (size_t d = 0; d < N; d++) { /* end[] holds counts, then starts, then ends */
        size_t c = x->end[d];
        x->next[d] = at;
        x->end[d] = at;
        at += c;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(x->sorted + x->end[dest[i]]++ * x->size, (const char *)recs + i * x->size, x->size);
    return true;
}

/* The counts, then the bytes of a round: sbuf's scount[d] bytes from
 * sdispl[d] to each rank d; what arrives lands in x->rbuf (grown when a
 * round brings more than it holds), *received its length. */
static bool alltoallv_round(exchange *x, size_t *rcap, size_t *received)
{
    int N = x->m->size;
    MPI_Request req;
    MPI_Ialltoall(x->scount, 1, MPI_INT, x->rcount, 1, MPI_INT, MPI_COMM_WORLD, &req);
    nfi_mpi_wait(&req);
    size_t roff = 0;
    for (int d = 0; d < N; d++) {
        x->rdispl[d] = (int)roff;
        roff += (size_t)x->rcount[d];
    }
    if (roff > *rcap) {
        char *r = realloc(x->rbuf, roff);
        if (!r) /* the others are in the collective: the caller aborts the job */
            return false;
        x->rbuf = r, *rcap = roff;
    }
    MPI_Ialltoallv(x->sbuf, x->scount, x->sdispl, MPI_BYTE, x->rbuf, x->rcount, x->rdispl, MPI_BYTE,
                   MPI_COMM_WORLD, &req);
    nfi_mpi_wait(&req);
    *received = roff;
    return true;
}

/* One round: what is left, up to quota per destination. */
static nf_status exchange_round(exchange *x, nfi_mpi_sink sink, void *ctx, uint64_t *bytes_sent, nf_error *err)
{
    int N = x->m->size;
    size_t off = 0;
    for (int d = 0; d < N; d++) {
        size_t k = x->end[d] - x->next[d];
        if (k > x->quota)
            k = x->quota;
        memcpy(x->sbuf + off, x->sorted + x->next[d] * x->size, k * x->size);
        x->next[d] += k;
        x->scount[d] = (int)(k * x->size);
        x->sdispl[d] = (int)off;
        off += k * x->size;
    }
    size_t rcap = (size_t)N * x->quota * x->size, roff = 0; /* rbuf's size: a round never brings more */
    if (!alltoallv_round(x, &rcap, &roff))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory in the MPI exchange");
    if (bytes_sent)
        *bytes_sent += off;
    return roff ? sink(ctx, x->rbuf, roff / x->size, err) : NF_OK;
}

static bool anything_left(const exchange *x)
{
    bool mine = false;
    for (int d = 0; d < x->m->size && !mine; d++)
        mine = x->next[d] < x->end[d];
    return nfi_mpi_any(mine);
}

nf_status nfi_mpi_exchange(const nf_mpi *m, const void *recs, size_t size, size_t n, const uint32_t *dest,
                           nfi_mpi_sink sink, void *ctx, uint64_t *bytes_sent, nf_error *err)
{
    size_t N = (size_t)m->size;
    exchange x = {.m = m, .size = size};
    x.quota = ROUND_BYTES / size / N;
    if (x.quota == 0)
        x.quota = 1;
    x.next = calloc(N, sizeof *x.next);
    x.end = calloc(N, sizeof *x.end);
    x.scount = calloc(N, sizeof(int));
    x.sdispl = calloc(N, sizeof(int));
    x.rcount = calloc(N, sizeof(int));
    x.rdispl = calloc(N, sizeof(int));
    x.sbuf = malloc(N * x.quota * size);
    x.rbuf = malloc(N * x.quota * size);
    bool ok = x.next && x.end && x.scount && x.sdispl && x.rcount && x.rdispl && x.sbuf && x.rbuf &&
              sort_by_dest(&x, recs, n, dest);
    /* a rank out of memory cannot leave the collective calls: it says so
     * and the caller aborts the job (nf_mpi_abort) */
    nf_status st = ok ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory in the MPI exchange");
    while (st == NF_OK && anything_left(&x))
        st = exchange_round(&x, sink, ctx, bytes_sent, err);
    exchange_free(&x);
    return st;
}

uint32_t nfi_mpi_pair_home(uint64_t pair)
{
    uint32_t a = (uint32_t)(pair >> 32), b = (uint32_t)pair;
    return (a + b) & 1 ? a : b;
}

uint32_t nfi_mpi_owner(const uint64_t *start, int n_ranks, uint64_t doc)
{
    uint32_t lo = 0, hi = (uint32_t)n_ranks - 1;
    while (lo < hi) { /* the last rank whose start is <= doc */
        uint32_t mid = (lo + hi + 1) / 2;
        if (start[mid] <= doc)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

nf_status nfi_mpi_exchange_all(const nf_mpi *m, size_t size, size_t chunk_bytes, nfi_mpi_gen_fn gen, void *gctx,
                               nfi_mpi_sink sink, void *sctx, uint64_t *bytes_sent, nf_error *err)
{
    size_t max = chunk_bytes / size ? chunk_bytes / size : 1;
    char *buf = malloc(max * size);
    uint32_t *dest = malloc(max * sizeof *dest);
    nf_status st = buf && dest ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    bool more = true;
    while (st == NF_OK) {
        size_t n = 0;
        if (more && (st = gen(gctx, buf, dest, max, &n, err)) != NF_OK)
            break;
        more = n > 0;
        if (!nfi_mpi_any(more))
            break;
        st = nfi_mpi_exchange(m, buf, size, n, dest, sink, sctx, bytes_sent, err);
    }
    free(buf);
    free(dest);
    return st;
}

/* Records of any size: out[d] holds the records for rank d back to back,
 * each starting with its length (u64, the length included). A round
 * sends each destination whole records up to the quota's bytes (at least
 * one record), so a round carries about 16 MiB per rank, or one record
 * more per destination. */
static size_t record_len(const char *at)
{
    uint64_t len;
    memcpy(&len, at, sizeof len);
    return (size_t)len;
}

nf_status nfi_mpi_exchange_records(const nf_mpi *m, const nfi_buf *out, nfi_mpi_records_sink sink, void *ctx,
                                   uint64_t *bytes_sent, nf_error *err)
{
    size_t N = (size_t)m->size, quota = ROUND_BYTES / N, rcap = 0, scap = 0;
    exchange x = {.m = m};
    x.next = calloc(N, sizeof *x.next);
    x.scount = calloc(N, sizeof(int));
    x.sdispl = calloc(N, sizeof(int));
    x.rcount = calloc(N, sizeof(int));
    x.rdispl = calloc(N, sizeof(int));
    nf_status st = x.next && x.scount && x.sdispl && x.rcount && x.rdispl
                       ? NF_OK
                       : nfi_fail(err, NF_ERR_NOMEM, "out of memory in the MPI exchange");
    for (;;) {
        bool mine = false;
        for (size_t d = 0; st == NF_OK && d < N && !mine; d++)
            mine = x.next[d] < out[d].len;
        if (!nfi_mpi_any(mine || st != NF_OK) || st != NF_OK)
            break;
        size_t off = 0;
        for (size_t d = 0; d < N; d++) { /* whole records, up to the quota */
            size_t from = x.next[d], to = from;
            while (to < out[d].len && (to == from || to + record_len(out[d].data + to) - from <= quota))
                to += record_len(out[d].data + to);
            if (off + (to - from) > scap) {
                size_t cap = (off + (to - from)) * 2;
                char *b = realloc(x.sbuf, cap);
                if (!b) {
                    st = nfi_fail(err, NF_ERR_NOMEM, "out of memory in the MPI exchange");
                    to = from;
                } else
                    x.sbuf = b, scap = cap;
            }
            if (to > from)
                memcpy(x.sbuf + off, out[d].data + from, to - from);
            x.next[d] = to;
            x.scount[d] = (int)(to - from);
            x.sdispl[d] = (int)off;
            off += to - from;
        }
        size_t received = 0;
        if (!alltoallv_round(&x, &rcap, &received) && st == NF_OK)
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory in the MPI exchange");
        if (bytes_sent)
            *bytes_sent += off;
        if (st == NF_OK && received)
            st = sink(ctx, x.rbuf, received, err);
    }
    exchange_free(&x);
    return st;
}
#endif
