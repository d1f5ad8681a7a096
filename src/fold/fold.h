/* fold.h - the internal contract of src/fold/ (never installed).
 *
 * A distributed fold (src/mpi/mpi_fold.c, `run --mpi`) works on a fold's
 * stages directly: every rank cleans its batches and computes each stage's
 * per-document item (dedup sketch, pivot, event features) with the fold's
 * own stage objects; rank 0 appends the event features gathered from all
 * ranks to its event stage in input order, the ranks finish dedup and links
 * together, and rank 0 finishes with nfi_fold_finish_given. The
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
/* Finishes a batch fold whose dedup and links results were computed
 * elsewhere (the distributed finishes): r->dedup and r->links are given
 * (empty for a stage that is off), every document's pivot is set in the
 * event stage (nf_events_set_pivot); the event stage and storylines run
 * as in nf_fold_finish and fill r->events. On failure r is freed. */
nf_status nfi_fold_finish_given(nf_fold *f, nf_fold_result *r, nf_error *err);

#endif
