/*
 * extractor.c - HTML extraction of a batch of pages on several threads.
 *
 * The reader can hand pages back unextracted (nf_reader_options.defer_extract)
 * so reading, which is serial, does not wait for extraction, which is not.
 * An nf_extractor owns one language identifier per thread and extracts a
 * batch through nfi_parallel_for: each page's status and message land in its
 * own slot, so the result does not depend on the thread count, and a page
 * that cannot be extracted (NF_SKIPPED) does not stop the others.
 */
#include "ingest/ingest.h"

#include <stdlib.h>

struct nf_extractor {
    int threads;
    nf_langid **langid; /* one per thread; NULL entries when detection is off */
};

nf_status nf_extractor_new(nf_extractor **out, int threads, int detect_lang, nf_error *err)
{
    *out = NULL;
    nf_extractor *x = calloc(1, sizeof *x);
    int t = threads > 0 ? threads : 1;
    if (x)
        x->langid = calloc((size_t)t, sizeof *x->langid);
    if (!x || !x->langid) {
        free(x);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    x->threads = t;
    for (int i = 0; detect_lang && i < t; i++) {
        nf_status st = nf_langid_new(&x->langid[i], err);
        if (st != NF_OK) {
            nf_extractor_free(x);
            return st;
        }
    }
    *out = x;
    return NF_OK;
}

void nf_extractor_free(nf_extractor *x)
{
    if (!x)
        return;
    for (int i = 0; i < x->threads; i++)
        nf_langid_free(x->langid[i]);
    free(x->langid);
    free(x);
}

typedef struct batch {
    nf_doc *docs;
    nf_status *status;
    nf_error *errors;
} batch;

static nf_status extract_task(void *ctx, void *worker, size_t i, nf_error *err)
{
    batch *b = ctx;
    nf_status st = nf_doc_extract(&b->docs[i], *(nf_langid **)worker, &b->errors[i]);
    b->status[i] = st;
    return st == NF_ERR_NOMEM ? nfi_fail(err, st, "%s", b->errors[i].message) : NF_OK;
}

nf_status nf_extractor_run(nf_extractor *x, nf_doc *docs, size_t n, nf_status *status, nf_error *errors,
                           nf_error *err)
{
    batch b = {docs, status, errors};
    return nfi_parallel_for(n, x->langid, sizeof *x->langid, x->threads, extract_task, &b, err);
}
