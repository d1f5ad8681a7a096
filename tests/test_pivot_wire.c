/*
 * test_pivot_wire.c - the pivot wire format of distributed links
 * (nfi_links_put_pivot / nfi_links_append_pivot, src/links/links.c): every
 * pivot of examples/ and the seeds survives the round trip field for field,
 * a stage fed the records finishes with exactly the links of the stage that
 * built them, truncating drops built pivots, and truncated or inconsistent
 * records are refused (never read past their end).
 */
#include "test_util.h"

#include <unistd.h>

#include "links/links.h"

static nf_links *new_links(int threads)
{
    nf_links_options o;
    nf_links_options_default(&o);
    o.threads = threads;
    nf_links *l;
    nf_error err;
    if (nf_links_new(&l, &o, &err) != NF_OK)
        fail_msg("links: %s", err.message);
    return l;
}

static void assert_same_pivot(const nf_pivot *a, const nf_pivot *b)
{
    assert_int_equal(a->n_features, b->n_features);
    assert_int_equal(a->n_sequence, b->n_sequence);
    assert_int_equal(a->n_paragraphs, b->n_paragraphs);
    assert_int_equal(a->n_names, b->n_names);
    for (size_t j = 0; j < a->n_features; j++) {
        assert_true(a->features[j].hash == b->features[j].hash);
        assert_int_equal(a->features[j].count, b->features[j].count);
        assert_int_equal(a->features[j].kind, b->features[j].kind);
    }
    assert_memory_equal(a->sequence, b->sequence, a->n_sequence * 8 + (a->n_sequence == 0));
    assert_memory_equal(a->sequence_at, b->sequence_at, a->n_sequence * 8 + (a->n_sequence == 0));
    assert_memory_equal(a->paragraph_ends, b->paragraph_ends, a->n_paragraphs * 4 + (a->n_paragraphs == 0));
    const char *na = a->names, *nb = b->names, *ka = a->name_keys, *kb = b->name_keys;
    for (size_t k = 0; k < a->n_names; k++) {
        assert_string_equal(na, nb);
        assert_string_equal(ka, kb);
        na += strlen(na) + 1, nb += strlen(nb) + 1, ka += strlen(ka) + 1, kb += strlen(kb) + 1;
    }
}

/* Builds the pivots of path in one stage, sends them through the wire to a
 * second one; both must give the same pivots and the same links. */
static void round_trip(const char *path)
{
    tu_corpus c = tu_clean_path(path, 2, 0);
    assert_true(c.n > 0);
    nf_links *built = new_links(2), *fed = new_links(1);
    nf_error err;
    assert_int_equal(nf_links_add(built, c.docs, c.n, &err), NF_OK);
    nfi_buf wire;
    nfi_buf_init(&wire);
    for (size_t i = 0; i < c.n; i++) {
        nfi_links_put_pivot(built, i, &wire);
        assert_int_equal(wire.len % 8, 0);
    }
    assert_false(wire.oom);
    size_t pos = 0;
    for (size_t i = 0; i < c.n; i++)
        assert_int_equal(nfi_links_append_pivot(fed, wire.data, wire.len, &pos, &err), NF_OK);
    assert_int_equal(pos, wire.len);
    assert_int_equal(nfi_links_size(fed), c.n);
    for (size_t i = 0; i < c.n; i++)
        assert_same_pivot(nf_links_pivot(built, i), nf_links_pivot(fed, i));
    nf_links_result r1, r2;
    assert_int_equal(nf_links_finish(built, &r1, &err), NF_OK);
    assert_int_equal(nf_links_finish(fed, &r2, &err), NF_OK);
    assert_int_equal(r1.n_links, r2.n_links);
    for (size_t i = 0; i < r1.n_links; i++) {
        assert_int_equal(r1.links[i].a, r2.links[i].a);
        assert_int_equal(r1.links[i].b, r2.links[i].b);
        assert_true(r1.links[i].score == r2.links[i].score);
    }
    for (size_t i = 0; i < r1.n_links; i++) { /* the scores too, component by component */
        nf_link_explain e1, e2;
        assert_int_equal(nf_links_explain(built, r1.links[i].a, r1.links[i].b, &e1, &err), NF_OK);
        assert_int_equal(nf_links_explain(fed, r1.links[i].a, r1.links[i].b, &e2, &err), NF_OK);
        assert_memory_equal(&e1, &e2, sizeof e1);
    }
    nf_links_result_free(&r1);
    nf_links_result_free(&r2);
    nfi_buf_free(&wire);
    nf_links_free(built);
    nf_links_free(fed);
    tu_corpus_free(&c);
}

static void test_round_trip_examples(void **state)
{
    (void)state;
    round_trip(NF_SOURCE_DIR "/examples/corpus");
}

static void test_round_trip_seeds(void **state)
{
    (void)state;
    if (access(NF_SHARED_DIR "/seeds", R_OK) != 0)
        skip();
    round_trip(NF_SHARED_DIR "/seeds");
}

/* Truncation frees built pivots; cut or damaged records are refused. */
static void test_truncate_and_bad_records(void **state)
{
    (void)state;
    tu_corpus c = tu_clean_path(NF_SOURCE_DIR "/examples/corpus", 1, 0);
    nf_links *l = new_links(1), *fed = new_links(1);
    nf_error err;
    assert_int_equal(nf_links_add(l, c.docs, 3, &err), NF_OK);
    nfi_buf wire;
    nfi_buf_init(&wire);
    nfi_links_put_pivot(l, 2, &wire);
    nfi_links_truncate(l, 1);
    assert_int_equal(nfi_links_size(l), 1);
    assert_null(nf_links_pivot(l, 1));
    for (size_t cut = 0; cut < wire.len; cut += 8) { /* every cut short of the record */
        size_t pos = 0;
        char *copy = malloc(cut + 8);
        memcpy(copy, wire.data, cut);
        assert_int_equal(nfi_links_append_pivot(fed, copy, cut, &pos, &err), NF_ERR_PARSE);
        assert_int_equal(pos, 0);
        free(copy);
    }
    assert_int_equal(nfi_links_size(fed), 0);
    const nf_pivot *p = nf_links_pivot(l, 0);
    nfi_buf_free(&wire);
    nfi_buf_init(&wire);
    nfi_links_put_pivot(l, 0, &wire);
    if (p->n_sequence) { /* a sequence element naming a feature it does not have */
        uint64_t n_features;
        memcpy(&n_features, wire.data, 8);
        size_t seq = 72 + ((n_features * 8 + 7) & ~7ULL) + ((n_features * 4 + 7) & ~7ULL) + ((n_features + 7) & ~7ULL);
        uint32_t bad = (uint32_t)n_features;
        memcpy(wire.data + seq, &bad, 4);
        size_t pos = 0;
        assert_int_equal(nfi_links_append_pivot(fed, wire.data, wire.len, &pos, &err), NF_ERR_PARSE);
    }
    nfi_buf_free(&wire);
    nf_links_free(l);
    nf_links_free(fed);
    tu_corpus_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_examples),
        cmocka_unit_test(test_round_trip_seeds),
        cmocka_unit_test(test_truncate_and_bad_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
