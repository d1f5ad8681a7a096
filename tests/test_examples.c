/*
 * test_examples.c - golden test on the bundled corpus examples/corpus
 * against examples/gold.json: languages (given or detected), dates (given or
 * found in datelines), and every boilerplate line the gold lists is dropped
 * while template copies keep exactly their article's lines.
 */
#include "test_util.h"

typedef struct examples {
    tu_corpus c;
    cJSON *gold;
} examples;

static int setup(void **state)
{
    examples *e = calloc(1, sizeof *e);
    e->gold = tu_read_json(NF_SOURCE_DIR "/examples/gold.json");
    if (!e->gold)
        return -1;
    e->c = tu_clean_path(NF_SOURCE_DIR "/examples/corpus", 2, 0);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    examples *e = *state;
    tu_corpus_free(&e->c);
    cJSON_Delete(e->gold);
    free(e);
    return 0;
}

static void test_every_document_read(void **state)
{
    examples *e = *state;
    assert_int_equal(e->c.skipped, 0);
    assert_int_equal((size_t)cJSON_GetArraySize(cJSON_GetObjectItem(e->gold, "documents")), e->c.n);
}

static void test_languages_and_dates(void **state)
{
    examples *e = *state;
    const cJSON *g;
    cJSON_ArrayForEach(g, cJSON_GetObjectItem(e->gold, "documents"))
    {
        nf_clean_doc *d = tu_find(&e->c, g->string);
        if (!d)
            fail_msg("document %s not read", g->string);
        if (strcmp(d->lang, cJSON_GetObjectItem(g, "lang")->valuestring) != 0)
            fail_msg("%s: lang %s, gold %s", g->string, d->lang, cJSON_GetObjectItem(g, "lang")->valuestring);
        if (strcmp(d->published, cJSON_GetObjectItem(g, "published")->valuestring) != 0)
            fail_msg("%s: published '%s', gold %s", g->string, d->published,
                     cJSON_GetObjectItem(g, "published")->valuestring);
    }
}

static size_t count_lines(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        n += len > 0;
        p = e ? e + 1 : p + len;
    }
    return n;
}

static void test_boilerplate(void **state)
{
    examples *e = *state;
    const cJSON *lines;
    size_t templates = 0;
    cJSON_ArrayForEach(lines, cJSON_GetObjectItem(e->gold, "boilerplate"))
    {
        nf_clean_doc *d = tu_find(&e->c, lines->string);
        assert_non_null(d);
        const cJSON *l;
        cJSON_ArrayForEach(l, lines)
        {
            if (tu_has_line(d->text, l->valuestring))
                fail_msg("%s kept boilerplate line: %s", d->doc.id, l->valuestring);
        }
        const cJSON *g = cJSON_GetObjectItem(cJSON_GetObjectItem(e->gold, "documents"), lines->string);
        nf_clean_doc *orig = tu_find(&e->c, cJSON_GetObjectItem(g, "of")->valuestring);
        assert_non_null(orig);
        if (count_lines(d->text) != count_lines(orig->text))
            fail_msg("%s keeps %zu lines, its original %s has %zu", d->doc.id, count_lines(d->text),
                     orig->doc.id, count_lines(orig->text));
        templates++;
    }
    assert_true(templates >= 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_document_read),
        cmocka_unit_test(test_languages_and_dates),
        cmocka_unit_test(test_boilerplate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
