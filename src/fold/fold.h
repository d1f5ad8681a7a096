/* fold.h - the internal contract of src/fold/ (never installed).
 *
 * A distributed fold (src/mpi/mpi_fold.c, `run --mpi`) works on a fold's
 * stages directly: every rank cleans its batches and computes each stage's
 * per-document item (dedup sketch, pivot, event features) with the fold's
 * own stage objects, and rank 0 appends the items gathered from all ranks
 * to its stages in input order, then finishes with nf_fold_finish. The
 * stages stay the fold's; nfi_fold_appended counts what was appended so
 * that the fold's size and progress see it. Batch folds only. */
#ifndef NF_FOLD_FOLD_H
#define NF_FOLD_FOLD_H

#include "newsfold.h"

typedef struct nfi_fold_stages {
    nf_cleaner *cleaner;
    nf_dedup *dedup; /* NULL when the stage is off */
    nf_links *links; /* NULL when the stage is off */
    nf_events *events;
} nfi_fold_stages;

nfi_fold_stages nfi_fold_stages_of(nf_fold *f);
/* n documents were appended to the stages outside nf_fold_add. */
void nfi_fold_appended(nf_fold *f, size_t n);

#endif
