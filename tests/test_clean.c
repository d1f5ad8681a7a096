/* test_clean.c - the clean stage as a whole: determinism across thread
 * counts and slices, template lines learned across documents of one source, empty and
 * invalid input kept and counted. */
#include "test_util.h"

static void assert_same_docs(const nf_clean_doc *a, const nf_clean_doc *b)
{
    assert_string_equal(a->doc.id, b->doc.id);
    assert_string_equal(a->text, b->text);
    assert_string_equal(a->lang, b->lang);
    assert_true(a->lang_confidence == b->lang_confidence);
    assert_string_equal(a->published, b->published);
    assert_int_equal(a->n_removed, b->n_removed);
    assert_int_equal(a->n_tokens, b->n_tokens);
    assert_int_equal(a->pool_len, b->pool_len);
    assert_memory_equal(a->pool, b->pool, a->pool_len);
    for (size_t i = 0; i < a->n_tokens; i++) { /* field by field: the struct has padding */
        const nf_token *x = &a->tokens[i], *y = &b->tokens[i];
        assert_true(x->start == y->start && x->len == y->len && x->norm == y->norm &&
                    x->norm_len == y->norm_len && x->stem == y->stem && x->stem_len == y->stem_len &&
                    x->kind == y->kind && x->flags == y->flags);
    }
}

static void test_deterministic_across_threads(void **state)
{
    (void)state;
    tu_corpus one = tu_clean_path(NF_SOURCE_DIR "/examples/corpus", 1, 1);
    tu_corpus three = tu_clean_path(NF_SOURCE_DIR "/examples/corpus", 3, 1);
    assert_true(one.n >= 20);
    assert_int_equal(one.n, three.n);
    for (size_t i = 0; i < one.n; i++)
        assert_same_docs(&one.docs[i], &three.docs[i]);
    tu_corpus_free(&one);
    tu_corpus_free(&three);
}

/* A batch learned whole and cleaned in slices of any size is the batch
 * cleaned at once. */
static void test_slices_same_as_batch(void **state)
{
    (void)state;
    nf_clean_options o;
    nf_clean_options_default(&o);
    o.threads = 2;
    tu_corpus whole = tu_clean_path_with(NF_SOURCE_DIR "/examples/corpus", &o);
    const size_t slices[] = {1, 3, 7, 1000};
    for (size_t s = 0; s < sizeof slices / sizeof *slices; s++) {
        tu_corpus cut = tu_clean_path_sliced(NF_SOURCE_DIR "/examples/corpus", &o, slices[s]);
        assert_int_equal(whole.n, cut.n);
        for (size_t i = 0; i < whole.n; i++)
            assert_same_docs(&whole.docs[i], &cut.docs[i]);
        tu_corpus_free(&cut);
    }
    tu_corpus_free(&whole);
}

enum { EACH_DOCS = 2 * NF_CLEAN_SLICE + 5 };

typedef struct each_seen {
    size_t calls, docs, stop_at;
    char *texts[EACH_DOCS];
} each_seen;

static nf_status note_slice(void *ctx, nf_clean_doc *cd, size_t n, nf_error *err)
{
    each_seen *s = ctx;
    if (++s->calls == s->stop_at) {
        err->code = NF_ERR_ARG;
        return NF_ERR_ARG;
    }
    assert_true(n == NF_CLEAN_SLICE || s->docs + n == EACH_DOCS);
    for (size_t i = 0; i < n; i++)
        s->texts[s->docs++] = strdup(cd[i].text);
    return NF_OK;
}

static void make_docs(nf_doc *docs)
{
    memset(docs, 0, EACH_DOCS * sizeof *docs);
    for (size_t i = 0; i < EACH_DOCS; i++) {
        char id[32], text[96];
        snprintf(id, sizeof id, "d%zu", i);
        snprintf(text, sizeof text, "Site menu\nDocument %zu says that %zu ships sailed.\nSite footer", i, i % 7);
        docs[i].id = strdup(id), docs[i].text = strdup(text), docs[i].text_len = strlen(text);
        docs[i].origin = strdup("example.org");
    }
}

/* nf_clean_each_slice hands on the batch in slices of NF_CLEAN_SLICE,
 * each document as nf_clean_batch cleans it, and stops at the first
 * status that is not NF_OK, leaving the rest of the batch the caller's. */
static void test_each_slice(void **state)
{
    (void)state;
    nf_clean_options o;
    nf_clean_options_default(&o);
    nf_cleaner *cl = NULL;
    nf_error err;
    assert_int_equal(nf_cleaner_new(&cl, &o, &err), NF_OK);
    static nf_doc docs[EACH_DOCS];
    static nf_clean_doc whole[EACH_DOCS], out[NF_CLEAN_SLICE];
    make_docs(docs);
    assert_int_equal(nf_clean_batch(cl, docs, EACH_DOCS, whole, &err), NF_OK);
    make_docs(docs);
    each_seen seen = {0};
    assert_int_equal(nf_clean_each_slice(cl, docs, EACH_DOCS, out, note_slice, &seen, &err), NF_OK);
    assert_int_equal(seen.calls, 3);
    assert_int_equal(seen.docs, EACH_DOCS);
    for (size_t i = 0; i < EACH_DOCS; i++) {
        assert_string_equal(seen.texts[i], whole[i].text);
        free(seen.texts[i]);
        nf_clean_doc_free(&whole[i]);
    }
    make_docs(docs);
    each_seen stop = {.stop_at = 2};
    assert_int_equal(nf_clean_each_slice(cl, docs, EACH_DOCS, out, note_slice, &stop, &err), NF_ERR_ARG);
    assert_int_equal(stop.calls, 2);
    assert_int_equal(stop.docs, NF_CLEAN_SLICE);
    assert_null(docs[0].text);                      /* cleaned: taken over */
    assert_non_null(docs[2 * NF_CLEAN_SLICE].text); /* not reached: still the caller's */
    for (size_t i = 0; i < EACH_DOCS; i++) {
        if (i < NF_CLEAN_SLICE)
            free(stop.texts[i]);
        nf_doc_free(&docs[i]);
    }
    nf_cleaner_free(cl);
}

static void test_site_template_learned(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    nfi_buf b;
    nfi_buf_init(&b);
    const char *bodies[] = {"The council met on Monday to discuss the new harbour budget and approved it.",
                            "A ferry ran aground near the northern pier on Sunday, but nobody was hurt.",
                            "The city library will extend its opening hours from next month, it said.",
                            "Fishermen reported the largest herring catch in a decade this week."};
    for (int i = 0; i < 4; i++) {
        nfi_buf_printf(&b, "{\"id\":\"p%d\",\"source\":\"portvale-post\",\"title\":\"T%d\",\"text\":", i, i);
        nfi_buf printed;
        nfi_buf_init(&printed);
        nfi_buf_printf(&printed, "%s\nDownload the Portvale Post app today", bodies[i]);
        nfi_json_string(&b, printed.data, printed.len);
        nfi_buf_free(&printed);
        nfi_buf_puts(&b, "}\n");
    }
    tu_write(dir, "p.jsonl", b.data, b.len);
    nfi_buf_free(&b);
    nf_clean_options o;
    nf_clean_options_default(&o);
    o.threads = 2;
    for (size_t slice = 0; slice <= 1; slice++) { /* a slice of one still knows the batch's template */
        tu_corpus c = tu_clean_path_sliced(dir, &o, slice);
        assert_int_equal(c.n, 4);
        for (size_t i = 0; i < c.n; i++) {
            assert_null(strstr(c.docs[i].text, "Download the Portvale Post app"));
            assert_string_equal(c.docs[i].text, bodies[i]);
        }
        tu_corpus_free(&c);
    }
    tu_rmtree(dir);
    free(dir);
}

static void test_empty_and_invalid_kept(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    const char data[] = "{\"id\":\"empty\",\"text\":\"\"}\n{\"id\":\"bad\",\"title\":\"T\",\"text\":\"caf\xE9 au lait\"}\n";
    tu_write(dir, "x.jsonl", data, sizeof data - 1);
    tu_corpus c = tu_clean_path(dir, 1, 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.docs[0].n_tokens, 0);
    assert_string_equal(c.docs[0].lang, "und");
    assert_int_equal(c.docs[1].doc.invalid_utf8, 1);
    assert_non_null(strstr(c.docs[1].text, "caf\xEF\xBF\xBD"));
    tu_corpus_free(&c);
    tu_rmtree(dir);
    free(dir);
}

/* Cleans one document (id, title, text given; no lang) with the options. */
static nf_clean_doc clean_text(const char *text, const nf_clean_options *o)
{
    nf_doc d;
    memset(&d, 0, sizeof d);
    d.id = strdup("d");
    d.title = strdup("A title for the document");
    d.text = strdup(text);
    d.text_len = strlen(text);
    nf_error err;
    nf_cleaner *cl;
    assert_int_equal(nf_cleaner_new(&cl, o, &err), NF_OK);
    nf_clean_doc cd;
    assert_int_equal(nf_clean_batch(cl, &d, 1, &cd, &err), NF_OK);
    nf_cleaner_free(cl);
    return cd;
}

/* What dedup asks for (no language, dates or stems): lang "und", no date
 * search, stems equal to norms, and the same token boundaries and norms as
 * a full clean, Han by dictionary words and Thai by words per character
 * script, Latin and Cyrillic by spaces. */
static void test_minimal_options_segment_by_script(void **state)
{
    (void)state;
    const char *text = "Written: 2024-06-22\n"
                       "The harbour council approved the budget on Monday after a long debate.\n"
                       "\xe6\xb8\xaf\xe5\x8f\xa3\xe5\xa7\x94\xe5\x91\x98\xe4\xbc\x9a\xe6\x89\xb9\xe5\x87\x86"
                       "\xe4\xba\x86\xe9\xa2\x84\xe7\xae\x97\xe3\x80\x82 "
                       "\xe0\xb8\xaa\xe0\xb8\xa0\xe0\xb8\xb2\xe0\xb8\x97\xe0\xb9\x88\xe0\xb8\xb2\xe0\xb9\x80"
                       "\xe0\xb8\xa3\xe0\xb8\xb7\xe0\xb8\xad Городской совет утвердил бюджет.";
    nf_clean_options full, min;
    nf_clean_options_default(&full);
    nf_clean_options_default(&min);
    min.lang = min.dates = min.stem = 0;
    nf_clean_doc a = clean_text(text, &full), b = clean_text(text, &min);
    assert_string_equal(b.lang, "und");
    assert_int_equal(b.lang_detected, 0);
    assert_string_equal(b.published, "");
    assert_string_equal(a.published, "2024-06-22");
    assert_int_equal(a.n_tokens, b.n_tokens);
    size_t ideographic = 0;
    for (size_t i = 0; i < b.n_tokens; i++) {
        const nf_token *x = &a.tokens[i], *y = &b.tokens[i];
        assert_true(x->start == y->start && x->len == y->len && x->kind == y->kind && x->flags == y->flags);
        assert_string_equal(a.pool + x->norm, b.pool + y->norm);
        assert_true(y->stem == y->norm && y->stem_len == y->norm_len);
        ideographic += y->kind == NF_TOKEN_IDEOGRAPHIC;
    }
    assert_true(ideographic >= 4); /* several Han words and Thai words, never one run */
    nf_clean_doc_free(&a);
    nf_clean_doc_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic_across_threads),
        cmocka_unit_test(test_slices_same_as_batch),
        cmocka_unit_test(test_each_slice),
        cmocka_unit_test(test_site_template_learned),
        cmocka_unit_test(test_empty_and_invalid_kept),
        cmocka_unit_test(test_minimal_options_segment_by_script),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
