/* mpi.h - the internal contract of src/mpi/ (never installed).
 *
 * mpi.c: entry points (nf_mpi_*), the ordered gather of per-batch payloads
 * on rank 0 (nfi_mpi_gather, shared by every distributed command), the
 * dedup item wire format and distributed dedup. mpi_dedup.c: dedup's
 * distributed finish. mpi_links.c: distributed links and its finish.
 * mpi_fold.c: the distributed fold (run), which calls both finishes.
 * mpi_input.c: how ranks split the input and still
 * see the single process's batches. mpi_exchange.c: the bounded all-to-all.
 * Everything MPI is compiled only with NF_HAVE_MPI. */
#ifndef NF_MPI_MPI_H
#define NF_MPI_MPI_H

#include "newsfold.h"

#include "common/common.h"

#ifdef NF_HAVE_MPI
#include <mpi.h>

struct nf_mpi {
    int rank, size;
};

/* CPU seconds of this process so far (all its threads). */
double nfi_mpi_cpu(void);

/* Sleeps 200 us: waiting ranks poll instead of spinning in MPI (Open MPI
 * busy-waits), so a waiting rank leaves its core to the working ones. */
void nfi_mpi_pause(void);

/* Waits for a request: tests for 2 ms, then pauses between tests
 * (mpi_exchange.c); every collective of the exchanges waits through it. */
void nfi_mpi_wait(MPI_Request *req);
/* Collective: whether mine is true on any rank. */
bool nfi_mpi_any(bool mine);

/* Receives what it was sent, a chunk at a time (records of the exchange's
 * size, in no particular order across senders). */
typedef nf_status (*nfi_mpi_sink)(void *ctx, const void *recs, size_t n, nf_error *err);

/* The rank whose range holds global document doc: start has n_ranks + 1
 * entries, each rank's first document (ranks split the input in order). */
uint32_t nfi_mpi_owner(const uint64_t *start, int n_ranks, uint64_t doc);

/* The document of a candidate pair (a << 32 | b) whose owner handles it:
 * a when a + b is odd, else b. The owner then holds one of the two and
 * fetches the other, and the pairs spread evenly (by the smaller document
 * alone, the first ranks would get most of them). */
uint32_t nfi_mpi_pair_home(uint64_t pair);

/* All-to-all of n records of `size` bytes, record i to rank dest[i], with
 * MPI_Alltoallv in rounds that carry at most about 16 MiB per rank (a
 * quota per destination), so memory stays flat whatever N and n. Collective:
 * every rank calls it, with its own records (n may be 0). *bytes_sent
 * (may be NULL) grows by what this rank sent. */
nf_status nfi_mpi_exchange(const nf_mpi *m, const void *recs, size_t size, size_t n, const uint32_t *dest,
                           nfi_mpi_sink sink, void *ctx, uint64_t *bytes_sent, nf_error *err);

/* The same fed chunk by chunk: gen fills up to max records (and their
 * destinations; *n = 0: nothing left) of chunk_bytes at most, and each
 * chunk is exchanged, until no rank has any left (collective). */
typedef nf_status (*nfi_mpi_gen_fn)(void *ctx, char *out, uint32_t *dest, size_t max, size_t *n, nf_error *err);
nf_status nfi_mpi_exchange_all(const nf_mpi *m, size_t size, size_t chunk_bytes, nfi_mpi_gen_fn gen, void *gctx,
                               nfi_mpi_sink sink, void *sctx, uint64_t *bytes_sent, nf_error *err);

/* The same for records of any size: out[d] (one per rank) holds the
 * records for rank d, each starting with its length in bytes (a u64 that
 * counts itself); the sink gets whole records back to back. */
typedef nf_status (*nfi_mpi_records_sink)(void *ctx, const char *recs, size_t len, nf_error *err);
nf_status nfi_mpi_exchange_records(const nf_mpi *m, const nfi_buf *out, nfi_mpi_records_sink sink, void *ctx,
                                   uint64_t *bytes_sent, nf_error *err);

/* One planned batch, read by this rank (mpi_input.c): the callback cleans
 * and sketches it. The documents stay the reader's. */
typedef nf_status (*nfi_mpi_batch_fn)(void *ctx, nf_doc *docs, size_t n, nf_error *err);

typedef struct nfi_mpi_read_result {
    uint64_t *batches_of;   /* size entries: batches each rank reads (caller frees) */
    uint64_t *docs_of;      /* size entries: documents each rank reads (caller frees) */
    uint64_t first_batch;   /* global index of this rank's first batch */
    uint64_t docs_scanned;  /* documents this rank scanned in its byte range */
    uint64_t bytes_exchanged;
    double cpu_planned;     /* nfi_mpi_cpu() when the plan was made */
    nf_mpi_totals totals;   /* the whole job's */
} nfi_mpi_read_result;

/* Splits the input among the ranks, finds the single process's batches and
 * calls fn with each batch this rank owns, in input order (collective). */
nf_status nfi_mpi_read(const nf_mpi *m, const nf_mpi_input *in, nfi_mpi_batch_fn fn, void *ctx,
                       nfi_mpi_read_result *res, nf_error *err);

/* ------------------------------------------------ the ordered gather */

/* Every distributed command is the same skeleton: the ranks read the single
 * process's batches (nfi_mpi_read), each batch on one rank, which turns it
 * into a compact payload (produce: clean, then the per-document work, then
 * serialise into wire, never the text); rank 0 receives every payload in
 * input order, its own at once (they come first), the other ranks'
 * spilled to a temporary file until rank 0 asks for them in rank order,
 * one batch per message. A payload is the batch's document count (written
 * by the gather) and one record per document (appended by produce); rank
 * 0 reads it back record by record (consume: the record at *pos, moving
 * *pos past it) and refuses a payload with bytes left over. What rank 0
 * then does with the documents (append to an engine and finish) is the
 * command's. */
typedef nf_status (*nfi_mpi_produce_fn)(void *ctx, nf_doc *docs, size_t n, nfi_buf *wire, nf_error *err);
typedef nf_status (*nfi_mpi_consume_fn)(void *ctx, const char *buf, size_t len, size_t *pos, nf_error *err);

typedef struct nfi_mpi_gather {
    nf_mpi *m;
    const char *tmp_dir;  /* the spill file's folder (NULL: $TMPDIR) */
    nfi_mpi_produce_fn produce;
    nfi_mpi_consume_fn consume; /* rank 0 only */
    void *ctx;
    /* after nfi_mpi_gather_run */
    uint64_t *batches_of; /* how many batches each rank reads */
    uint64_t *docs_of;    /* how many documents each rank reads */
    nf_mpi_stats stats;   /* all but cpu_finish */
    /* private */
    nfi_buf wire;         /* this rank's serialised batch */
    char *recv;           /* one batch read back or received */
    size_t cap_recv;
    FILE *spill;          /* ranks > 0: their serialised batches, each after its length */
} nfi_mpi_gather;

/* Collective; on failure the caller calls nf_mpi_abort (the other ranks
 * may be waiting inside MPI). */
nf_status nfi_mpi_gather_run(nfi_mpi_gather *g, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err);
void nfi_mpi_gather_free(nfi_mpi_gather *g);

/* ------------------------------------------------ distributed dedup finish */

/* mpi_dedup.c: rank r keeps its documents (nfi_mpi_dd_add, in input order,
 * into d, an engine used as storage only) and the ranks finish together:
 * exact copies, band and sample keys, candidate pairs, verification,
 * groups and relations, each step an exchange; the output goes through
 * write (rank 0, in input order; shard: each rank its documents' records). */
struct nfi_dedup_item;
typedef struct nfi_mpi_dd nfi_mpi_dd;
typedef struct nfi_mpi_dd_output {
    bool pairs, shard;
    bool assign; /* run --mpi: write gets nfi_mpi_dd_assign records, not JSONL (no pairs, no shard) */
    nf_mpi_write_fn write;
    void *ctx;
} nfi_mpi_dd_output;
/* A document's dedup assignment (output.assign): sent only for documents
 * that are not unique alone (linked, or empty or too short), in input
 * order, whole records per write; the others are their own canonical,
 * NF_REL_UNIQUE, score 0. Global document numbers. */
enum { NFI_MPI_DD_EMPTY = 1, NFI_MPI_DD_TOO_SHORT = 2 };
typedef struct nfi_mpi_dd_assign {
    uint32_t doc, canonical, relation, reason; /* reason: 0 or NFI_MPI_DD_* */
    double score;
} nfi_mpi_dd_assign;
nf_status nfi_mpi_dd_new(nfi_mpi_dd **out, const nf_mpi *m, nf_dedup *d, nf_error *err);
nf_status nfi_mpi_dd_add(nfi_mpi_dd *dd, const struct nfi_dedup_item *it, nf_error *err);
/* Collective; docs_of: the documents each rank read (the plan). */
nf_status nfi_mpi_dd_finish(nfi_mpi_dd *dd, const uint64_t *docs_of, const nfi_mpi_dd_output *out,
                            nf_mpi_stats *stats, nf_error *err);
uint64_t nfi_mpi_dd_candidates(const nfi_mpi_dd *dd);
void nfi_mpi_dd_free(nfi_mpi_dd *dd);

/* ------------------------------------------------ distributed links finish */

/* mpi_links.c for run --mpi (mpi_fold.c): the same pivot files and finish
 * as links --mpi over another's stage (borrowed: the fold's, never
 * freed here). After nf_links_add of a batch into stage, keep spills the
 * batch's pivots to this rank's pivot file (in tmp_dir, NULL: $TMPDIR) and
 * empties the stage. finish_on is collective (docs_of: the plan's
 * documents per rank); rank 0 gets the links, the others an empty result. */
nf_status nfi_mpi_links_on(nf_mpi_links **out, nf_mpi *m, nf_links *stage, const char *tmp_dir, nf_error *err);
nf_status nfi_mpi_links_keep(nf_mpi_links *ml, nf_error *err);
nf_status nfi_mpi_links_finish_on(nf_mpi_links *ml, const uint64_t *docs_of, nf_links_result *out, nf_error *err);
uint64_t nfi_mpi_links_bytes(const nf_mpi_links *ml); /* sent through the finish's exchanges */

/* The dedup item wire format (mpi.c), also carried by links --groups:
 * put appends item it; get points *it into buf at *pos (no copies) and
 * moves *pos past it. perms: the signature length. */
struct nfi_dedup_item;
void nfi_mpi_put_item(nfi_buf *b, const struct nfi_dedup_item *it, int perms);
nf_status nfi_mpi_get_item(const char *buf, size_t len, size_t *pos, int perms, struct nfi_dedup_item *it,
                           nf_error *err);

#endif
#endif
