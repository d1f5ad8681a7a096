/*
 * test_pivot_wire.c - the pivot wire format of distributed links
 * (nfi_links_put_pivot / nfi_links_append_pivot, src/links/links.c): every
 * pivot of examples/ and the seeds survives the round trip field for field,
 * a stage fed the records finishes with exactly the links of the stage that
 * built them (also for a pivot of more than 65,536 features, whose sequence
 * is 32-bit), truncating drops built pivots, a record made by hand is read
 * field for field, and truncated or inconsistent records are refused
 * (never read past their end).
 */
#include "test_util.h"

#include <unistd.h>

#include "links/links.h"

static nf_links *new_links(int threads, int keep_surface)
{
    nf_links_options o;
    nf_links_options_default(&o);
    o.threads = threads;
    o.keep_surface = keep_surface;
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
    }
    for (size_t k = 0; k < a->n_sequence; k++)
        assert_int_equal(nf_pivot_place(a, k), nf_pivot_place(b, k));
    assert_true((a->surface == NULL) == (b->surface == NULL));
    if (a->surface)
        assert_memory_equal(a->surface, b->surface, a->n_features * 8 + (a->n_features == 0));
    assert_memory_equal(a->paragraph_ends, b->paragraph_ends, a->n_paragraphs * 4 + (a->n_paragraphs == 0));
    assert_true(a->term_share == b->term_share);
    const char *na = a->names, *nb = b->names, *ka = a->name_keys, *kb = b->name_keys;
    for (size_t k = 0; k < a->n_names; k++) {
        assert_string_equal(na, nb);
        assert_string_equal(ka, kb);
        na += strlen(na) + 1, nb += strlen(nb) + 1, ka += strlen(ka) + 1, kb += strlen(kb) + 1;
    }
}

/* Builds the pivots of path in one stage, sends them through the wire to a
 * second one; both must give the same pivots and the same links. */
static void round_trip(const char *path, int keep_surface)
{
    tu_corpus c = tu_clean_path(path, 2, 0);
    assert_true(c.n > 0);
    nf_links *built = new_links(2, keep_surface), *fed = new_links(1, 0);
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
    round_trip(NF_SOURCE_DIR "/examples/corpus", 0);
    round_trip(NF_SOURCE_DIR "/examples/corpus", 1); /* surfaces kept (newsfold compare) */
}

static void test_round_trip_seeds(void **state)
{
    (void)state;
    if (access(NF_SHARED_DIR "/seeds", R_OK) != 0)
        skip();
    round_trip(NF_SHARED_DIR "/seeds", 0);
}

/* A document of 70,000 distinct numbers (each a feature): its pivot has
 * more features than a 16-bit sequence can name, so its sequence is
 * 32-bit; it survives the round trip as the others do. */
static void test_round_trip_wide(void **state)
{
    (void)state;
    nfi_buf json;
    nfi_buf_init(&json);
    nfi_buf_puts(&json, "{\"id\":\"wide\",\"lang\":\"en\",\"text\":\"");
    for (int k = 0; k < 70000; k += 3)
        nfi_buf_printf(&json, "The council counted %d votes, %d ballots and %d letters on Monday.\\n",
                       100000 + k, 100001 + k, 100002 + k);
    nfi_buf_puts(&json,
                 "\"}\n{\"id\":\"small\",\"lang\":\"de\",\"text\":\"Der Rat zählte 100000 Stimmen.\"}\n");
    assert_false(json.oom);
    char *dir = tu_tempdir(), path[4096];
    tu_write(dir, "docs.jsonl", json.data, json.len);
    snprintf(path, sizeof path, "%s/docs.jsonl", dir);
    tu_corpus c = tu_clean_path(path, 1, 0);
    assert_int_equal(c.n, 2);
    nf_links *l = new_links(1, 0);
    nf_error err;
    assert_int_equal(nf_links_add(l, c.docs, c.n, &err), NF_OK);
    const nf_pivot *p = nf_links_pivot(l, 0);
    assert_true(p->n_features > NF_PIVOT_NARROW);
    for (size_t k = 0; k < p->n_sequence; k++) /* the sequence names every feature, in range */
        assert_true(nf_pivot_place(p, k) < p->n_features);
    assert_true(nf_links_pivot(l, 1)->n_features <= NF_PIVOT_NARROW);
    nf_links_free(l);
    tu_corpus_free(&c);
    round_trip(path, 0);
    round_trip(path, 1);
    tu_rmtree(dir);
    free(dir);
    nfi_buf_free(&json);
}

/* Truncation frees built pivots; cut or damaged records are refused. */
static void test_truncate_and_bad_records(void **state)
{
    (void)state;
    tu_corpus c = tu_clean_path(NF_SOURCE_DIR "/examples/corpus", 1, 0);
    nf_links *l = new_links(1, 0), *fed = new_links(1, 0);
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
    nf_links_free(l);
    nf_links_free(fed);
    nfi_buf_free(&wire);
    tu_corpus_free(&c);
}

/* A record made by hand in the layout of links.c's pivot_wire: one feature
 * (kind name, its words at offset 7, 5 bytes), a sequence of two elements
 * (so its count is 2), one paragraph, one name. It is read as such and
 * written back byte for byte; with a sequence element naming a feature the
 * pivot does not have, a paragraph ending past the sequence, a name too many
 * or a language without its NUL, it is refused. */
typedef struct hand_wire {
    uint64_t n_features, n_sequence, n_paragraphs, n_names, names_len, keys_len, text_len, body;
    double term_share;
    char lang[12];
    uint32_t flags; /* 1: surfaces */
    uint8_t bytes[24];
} hand_wire;

static hand_wire hand_record(uint8_t index, uint8_t para_end)
{
    hand_wire w = {1, 2, 1, 1, 4, 4, 99, 24, 0.25, "de", 1, {0}};
    uint64_t hash = 0x1234567890ABCDE1ULL;
    memcpy(w.bytes, &hash, 8);
    const uint8_t varints[] = {NF_PIVOT_NAME, 5, 7, 0, index, para_end};
    memcpy(w.bytes + 8, varints, sizeof varints);
    memcpy(w.bytes + 8 + sizeof varints, "Abc\0abk", 8);
    return w;
}

static nf_status append_hand(nf_links *l, const hand_wire *w)
{
    size_t pos = 0;
    nf_error err;
    return nfi_links_append_pivot(l, (const char *)w, sizeof *w, &pos, &err);
}

static void test_hand_made_record(void **state)
{
    (void)state;
    assert_int_equal(sizeof(hand_wire), 88 + 24);
    nf_links *l = new_links(1, 0);
    hand_wire w = hand_record(0, 2);
    assert_int_equal(append_hand(l, &w), NF_OK);
    const nf_pivot *p = nf_links_pivot(l, 0);
    assert_int_equal(p->n_features, 1);
    assert_true(p->features[0].hash == 0x1234567890ABCDE1ULL);
    assert_int_equal(p->features[0].count, 2);
    assert_int_equal(nf_pivot_kind_of(p->features[0].hash), NF_PIVOT_NAME);
    assert_int_equal(p->surface[0], 7);
    assert_int_equal(p->surface[1], 5);
    assert_int_equal(p->n_sequence, 2);
    assert_int_equal(nf_pivot_place(p, 0), 0);
    assert_int_equal(nf_pivot_place(p, 1), 0);
    assert_true(p->term_share == 0.25);
    assert_int_equal(p->n_paragraphs, 1);
    assert_int_equal(p->paragraph_ends[0], 2);
    assert_int_equal(p->n_names, 1);
    assert_string_equal(p->names, "Abc");
    assert_string_equal(p->name_keys, "abk");
    nfi_buf out; /* and written back, it is the same record */
    nfi_buf_init(&out);
    nfi_links_put_pivot(l, 0, &out);
    assert_int_equal(out.len, sizeof w);
    assert_memory_equal(out.data, &w, sizeof w);
    nfi_buf_free(&out);
    hand_wire bad = hand_record(1, 2);
    assert_int_equal(append_hand(l, &bad), NF_ERR_PARSE);
    bad = hand_record(0, 3);
    assert_int_equal(append_hand(l, &bad), NF_ERR_PARSE);
    bad = hand_record(0, 2);
    bad.n_names = 2;
    assert_int_equal(append_hand(l, &bad), NF_ERR_PARSE);
    bad = hand_record(0, 2);
    memset(bad.lang, 'x', sizeof bad.lang);
    assert_int_equal(append_hand(l, &bad), NF_ERR_PARSE);
    bad = hand_record(0, 2);
    bad.flags = 3; /* a flag this reader does not know */
    assert_int_equal(append_hand(l, &bad), NF_ERR_PARSE);
    bad = hand_record(0, 2);
    bad.body = 33;
    assert_int_equal(append_hand(l, &bad), NF_ERR_PARSE);
    bad = hand_record(0, 2);
    bad.bytes[8] = NF_PIVOT_TERM; /* a kind the hash's low bits do not carry */
    assert_int_equal(append_hand(l, &bad), NF_ERR_PARSE);
    bad = hand_record(0, 2);
    bad.names_len = 4, bad.keys_len = UINT64_MAX - 2; /* a sum that wraps (found by fuzz_pivot_wire) */
    assert_int_equal(append_hand(l, &bad), NF_ERR_PARSE);
    bad = hand_record(0, 2);
    memcpy(bad.bytes + 14, "Abc!abk!", 8); /* names not NUL-terminated, with the count the old */
    bad.n_names = UINT64_MAX;             /* reader's "not terminated" meant (found by fuzz_pivot_wire) */
    assert_int_equal(append_hand(l, &bad), NF_ERR_PARSE);
    assert_int_equal(nfi_links_size(l), 1);
    nf_links_free(l);
}

/* The hand-made record with three paragraphs whose ends come as the
 * delta varints `ends` (n bytes), read by a new stage. */
static nf_status append_with_ends(const uint8_t *ends, size_t n)
{
    hand_wire w = hand_record(0, 2);
    struct {
        uint64_t head[11]; /* hand_wire's fields up to its bytes */
        uint8_t bytes[40];
    } rec;
    memcpy(rec.head, &w, sizeof rec.head);
    rec.head[2] = 3;                /* n_paragraphs */
    rec.head[7] = sizeof rec.bytes; /* body */
    size_t at = 8 + 5;              /* the hash, the kind, the surface (2 bytes), the sequence (2 bytes) */
    memset(rec.bytes, 0, sizeof rec.bytes);
    memcpy(rec.bytes, w.bytes, at);
    memcpy(rec.bytes + at, ends, n);
    memcpy(rec.bytes + at + n, "Abc\0abk", 8);
    nf_links *l = new_links(1, 0);
    size_t pos = 0;
    nf_error err;
    nf_status st = nfi_links_append_pivot(l, (const char *)&rec, sizeof rec, &pos, &err);
    if (st == NF_OK)
        assert_int_equal(nf_links_pivot(l, 0)->n_paragraphs, 3);
    nf_links_free(l);
    return st;
}

/* Paragraph ends come as deltas: one that wraps the running end (here back
 * to 0, so the ends would read 2, 0, 2 over a sequence of 2) would make
 * paragraphs that overlap and sets larger than the sequence; such a record
 * is refused (found by fuzz_pivot_wire: the paragraph sets overflowed), as
 * is one past the sequence; ends 2, 2, 2 are read. */
static void test_paragraph_end_wraps(void **state)
{
    (void)state;
    static const uint8_t wraps[] = {2, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 2}; /* 2^64 - 2 */
    static const uint8_t past[] = {2, 0, 1}, fits[] = {2, 0, 0};
    assert_int_equal(append_with_ends(wraps, sizeof wraps), NF_ERR_PARSE);
    assert_int_equal(append_with_ends(past, sizeof past), NF_ERR_PARSE);
    assert_int_equal(append_with_ends(fits, sizeof fits), NF_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_examples),
        cmocka_unit_test(test_round_trip_seeds),
        cmocka_unit_test(test_round_trip_wide),
        cmocka_unit_test(test_truncate_and_bad_records),
        cmocka_unit_test(test_hand_made_record),
        cmocka_unit_test(test_paragraph_end_wraps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
