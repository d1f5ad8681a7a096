/*
 * fuzz_pivot_wire.c - fuzzes the pivot wire reader (nfi_links_append_pivot,
 * src/links/links.c): what rank 0 of `links --mpi` parses from the other
 * ranks. The input is read as back-to-back records until one is refused.
 * Invariants: every record the reader accepts is a pivot the links stage
 * can use (nf_links_finish runs over all of them: no feature index,
 * paragraph end, name or surface out of range); written back
 * (nfi_links_put_pivot) and read again, it is written back as the same
 * bytes. Seeds: hand-made records in the layout of tests/test_pivot_wire.c.
 */
#include <newsfold.h>

#include "common/common.h"
#include "links/links.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

static nf_links *links;

/* Record i written back, read again (appended last) and written back once
 * more: the two writings agree. The appended copy is dropped again. */
static void check_round_trip(size_t i)
{
    nfi_buf a, b;
    nfi_buf_init(&a);
    nfi_buf_init(&b);
    nfi_links_put_pivot(links, i, &a);
    CHECK(!a.oom);
    size_t pos = 0, n = nfi_links_size(links);
    nf_error err;
    CHECK(nfi_links_append_pivot(links, a.data, a.len, &pos, &err) == NF_OK && pos == a.len);
    nfi_links_put_pivot(links, n, &b);
    CHECK(!b.oom && a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    nfi_links_truncate(links, n);
    nfi_buf_free(&a);
    nfi_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nf_error err;
    if (!links) {
        nf_links_options o;
        nf_links_options_default(&o);
        o.threads = 1;
        if (nf_links_new(&links, &o, &err) != NF_OK)
            abort();
    }
    size_t pos = 0;
    while (pos < size && nfi_links_append_pivot(links, (const char *)data, size, &pos, &err) == NF_OK)
        ;
    size_t n = nfi_links_size(links);
    for (size_t i = 0; i < n; i++)
        check_round_trip(i);
    if (n) {
        nf_links_result r;
        CHECK(nf_links_finish(links, &r, &err) == NF_OK);
        for (size_t k = 0; k < r.n_links; k++)
            CHECK(r.links[k].a < r.links[k].b && r.links[k].b < n);
        nf_links_result_free(&r);
    }
    nfi_links_truncate(links, 0);
    return 0;
}
