/*
 * fuzz_event_wire.c - fuzzes the event stage's wire reader
 * (nfi_events_append_doc, src/events/events.c): what rank 0 of `run --mpi`
 * parses from the other ranks. The input is read as back-to-back records
 * until one is refused. Invariants: a refused record leaves the position
 * where it was; every accepted record is a document the stage can finish
 * with (nf_events_finish succeeds and returns one assignment per record,
 * each in a valid event). Seeds: the records of a few examples/ documents.
 */
#include <newsfold.h>

#include "common/common.h"
#include "events/events.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nf_events_options o;
    nf_events_options_default(&o);
    o.threads = 1;
    nf_events *ev;
    nf_error err;
    if (nf_events_new(&ev, &o, &err) != NF_OK)
        abort();
    size_t pos = 0, n = 0;
    while (pos < size) {
        size_t before = pos;
        if (nfi_events_append_doc(ev, (const char *)data, size, &pos, &err) != NF_OK) {
            CHECK(pos == before);
            break;
        }
        CHECK(pos > before && pos <= size);
        n++;
    }
    nf_events_result r;
    CHECK(nf_events_finish(ev, &r, &err) == NF_OK);
    CHECK(r.n_docs == n);
    for (size_t i = 0; i < r.n_docs; i++)
        CHECK(r.docs[i].event < r.n_events);
    nf_events_result_free(&r);
    nf_events_free(ev);
    return 0;
}
