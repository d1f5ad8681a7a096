/*
 * test_event_wire.c - the event stage's wire format of the distributed fold
 * (nfi_events_features / nfi_events_put_doc / nfi_events_append_doc,
 * src/events/events.c): a stage fed the records of examples/, the seeds
 * and og2021-dev headlines (title-only records with their title pivots)
 * finishes with exactly the events, storylines and roles of a stage fed the
 * documents themselves; a record cut short anywhere, or whose features are
 * out of order, is refused and never read past its end.
 */
#include "test_util.h"

#include "events/events.h"

#include <unistd.h>

static nf_events *new_events(int threads)
{
    nf_events_options o;
    nf_events_options_default(&o);
    o.threads = threads;
    nf_events *ev;
    nf_error err;
    if (nf_events_new(&ev, &o, &err) != NF_OK)
        fail_msg("events: %s", err.message);
    return ev;
}

/* The documents' and events' JSONL records of a finished stage. */
static nf_buffer encode(nf_events *ev)
{
    nf_fold_result r;
    memset(&r, 0, sizeof r);
    nf_error err;
    assert_int_equal(nf_events_finish(ev, &r.events, &err), NF_OK);
    nf_buffer b = {0};
    for (size_t i = 0; i < r.events.n_docs; i++)
        nf_jsonl_document(&b, &r, i);
    for (size_t i = 0; i < r.events.n_events; i++)
        nf_jsonl_event(&b, &r, i);
    for (size_t i = 0; i < r.events.n_storylines; i++)
        nf_jsonl_storyline(&b, &r, i);
    nf_events_result_free(&r.events);
    assert_false(b.oom);
    return b;
}

/* Every document of c on the wire, one record after another. */
static nfi_buf put_all(const tu_corpus *c)
{
    nf_events *ev = new_events(2);
    nfi_docfeat *f = calloc(c->n, sizeof *f);
    nf_error err;
    assert_int_equal(nfi_events_features(ev, c->docs, c->n, f, &err), NF_OK);
    nfi_buf wire;
    nfi_buf_init(&wire);
    for (size_t i = 0; i < c->n; i++) {
        nfi_events_put_doc(&wire, &c->docs[i], &f[i]);
        assert_int_equal(wire.len % 8, 0);
        nfi_docfeat_free(&f[i]);
    }
    free(f);
    nf_events_free(ev);
    assert_false(wire.oom);
    return wire;
}

static void same_result(const char *path)
{
    tu_corpus c = tu_clean_path(path, 2, 0);
    assert_true(c.n > 0);
    nf_events *added = new_events(2), *fed = new_events(1);
    nf_error err;
    assert_int_equal(nf_events_add(added, c.docs, c.n, &err), NF_OK);
    nfi_buf wire = put_all(&c);
    size_t pos = 0;
    for (size_t i = 0; i < c.n; i++)
        assert_int_equal(nfi_events_append_doc(fed, wire.data, wire.len, &pos, &err), NF_OK);
    assert_int_equal(pos, wire.len);
    nf_buffer a = encode(added), b = encode(fed);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    nf_buffer_free(&a);
    nf_buffer_free(&b);
    nfi_buf_free(&wire);
    nf_events_free(added);
    nf_events_free(fed);
    tu_corpus_free(&c);
}

static void examples_round_trip(void **state)
{
    (void)state;
    same_result(NF_SOURCE_DIR "/examples/corpus");
}

static void seeds_round_trip(void **state)
{
    (void)state;
    if (access(NF_SHARED_DIR "/seeds", R_OK) != 0)
        skip();
    same_result(NF_SHARED_DIR "/seeds");
}

static void headlines_round_trip(void **state)
{
    (void)state;
    const char *og = NF_SHARED_DIR "/data/og2021-dev/docs.jsonl";
    if (access(og, R_OK) != 0)
        skip();
    same_result(og);
}

/* The first record of examples/ cut at every length, and with two
 * features swapped: refused, *pos left alone. */
static void damaged_records_refused(void **state)
{
    (void)state;
    tu_corpus c = tu_clean_path(NF_SOURCE_DIR "/examples/corpus", 1, 0);
    tu_corpus one = {c.docs, 1, 0};
    nfi_buf wire = put_all(&one);
    nf_events *ev = new_events(1);
    nf_error err;
    for (size_t len = 0; len < wire.len; len++) {
        char *copy = malloc(len ? len : 1); /* exactly len bytes: ASan sees a read past the end */
        memcpy(copy, wire.data, len);
        size_t pos = 0;
        assert_int_not_equal(nfi_events_append_doc(ev, copy, len, &pos, &err), NF_OK);
        assert_int_equal(pos, 0);
        free(copy);
    }
    size_t pos = 0;
    assert_int_equal(nfi_events_append_doc(ev, wire.data, wire.len, &pos, &err), NF_OK);
    /* the same document with two body features swapped */
    nfi_docfeat f;
    memset(&f, 0, sizeof f);
    nf_events *x = new_events(1);
    assert_int_equal(nfi_events_features(x, one.docs, 1, &f, &err), NF_OK);
    assert_true(f.n[CH_BODY] >= 2);
    nfi_rawfeat t = f.f[CH_BODY][0];
    f.f[CH_BODY][0] = f.f[CH_BODY][1];
    f.f[CH_BODY][1] = t;
    nfi_buf bad;
    nfi_buf_init(&bad);
    nfi_events_put_doc(&bad, &one.docs[0], &f);
    pos = 0;
    assert_int_equal(nfi_events_append_doc(ev, bad.data, bad.len, &pos, &err), NF_ERR_PARSE);
    assert_int_equal(pos, 0);
    nfi_buf_free(&bad);
    nfi_docfeat_free(&f);
    nf_events_free(x);
    nf_events_free(ev);
    nfi_buf_free(&wire);
    tu_corpus_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(examples_round_trip),
        cmocka_unit_test(seeds_round_trip),
        cmocka_unit_test(headlines_round_trip),
        cmocka_unit_test(damaged_records_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
