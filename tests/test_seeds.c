/*
 * test_seeds.c - golden test on the five real seed pages in ../shared/seeds,
 * checked against gold.json there: languages, dates, and the boilerplate
 * the gold notes name, while no article sentence is lost.
 */
#include "test_util.h"

#define SEEDS NF_SHARED_DIR "/seeds"

typedef struct seeds {
    tu_corpus c;
    cJSON *gold;
} seeds;

static int setup(void **state)
{
    seeds *s = calloc(1, sizeof *s);
    s->gold = tu_read_json(SEEDS "/gold.json");
    if (!s->gold) {
        fprintf(stderr, "cannot read %s/gold.json\n", SEEDS);
        return -1;
    }
    s->c = tu_clean_path(SEEDS, 2, 1);
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    seeds *s = *state;
    tu_corpus_free(&s->c);
    cJSON_Delete(s->gold);
    free(s);
    return 0;
}

static const cJSON *gold_docs(seeds *s) { return cJSON_GetObjectItem(s->gold, "documents"); }

static void test_languages_and_dates(void **state)
{
    seeds *s = *state;
    const cJSON *g;
    size_t n = 0, dated = 0;
    cJSON_ArrayForEach(g, gold_docs(s))
    {
        nf_clean_doc *d = tu_find(&s->c, g->string);
        assert_non_null(d);
        n++;
        assert_string_equal(d->lang, cJSON_GetObjectItem(g, "lang")->valuestring);
        assert_true(d->lang_confidence > 0.5);
        if (d->published[0]) { /* a date found must be the right one */
            assert_string_equal(d->published, cJSON_GetObjectItem(g, "published")->valuestring);
            dated++;
        }
    }
    assert_int_equal(n, 5);
    assert_true(dated >= 3); /* 000, 002 (wire datelines), 004 ("Written:") */
}

/* Lines that are article sentences by shape: long and ending like one. */
static int is_sentence_line(const char *line, size_t n)
{
    size_t words = 1;
    for (size_t i = 0; i < n; i++)
        words += line[i] == ' ';
    while (n && strchr(" \"”’)", line[n - 1]))
        n--;
    return words >= 12 && n && strchr(".!?", line[n - 1]);
}

static void test_no_sentence_lost(void **state)
{
    seeds *s = *state;
    for (size_t i = 0; i < s->c.n; i++) {
        const nf_clean_doc *d = &s->c.docs[i];
        const char *raw = d->doc.text;
        for (const char *p = raw; *p;) {
            const char *e = strchr(p, '\n');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            char *line = strndup(p, n);
            char *t = line;
            while (*t == ' ')
                t++;
            if (is_sentence_line(t, strlen(t)) && !strstr(t, "cookie") && !strstr(d->text, t) &&
                !(d->title && strcmp(d->title, t) == 0))
                fail_msg("%s lost the sentence: %s", d->doc.id, t);
            free(line);
            p = e ? e + 1 : p + n;
        }
    }
}

static void test_named_boilerplate_dropped(void **state)
{
    seeds *s = *state;
    const cJSON *g;
    cJSON_ArrayForEach(g, gold_docs(s))
    {
        nf_clean_doc *d = tu_find(&s->c, g->string);
        const char *note = cJSON_GetObjectItem(g, "note")->valuestring;
        if (strstr(note, "PREV/NEXT")) {
            assert_null(strstr(d->text, "\nPREV "));
            assert_null(strstr(d->text, "\nNEXT "));
        }
        if (strstr(note, "Follow us"))
            assert_null(strstr(d->text, "Follow us"));
        if (strstr(note, "(END)"))
            assert_null(strstr(d->text, "(END"));
        if (strstr(note, "Comment (0)"))
            assert_null(strstr(d->text, "Comment (0)"));
        if (strstr(note, "Reference(s)"))
            assert_null(strstr(d->text, "Reference(s)"));
        if (strstr(note, "title repeated")) /* the title occurs once, as title */
            assert_null(strstr(d->text, d->title));
        if (strstr(note, "cookie"))
            assert_null(strstr(d->text, "cookie"));
        if (strstr(note, "menu lines at the top")) {
            /* the page starts at its headline: the line the page repeats */
            assert_non_null(d->title);
            const char *first = strstr(d->doc.text, d->title);
            assert_non_null(first);
            assert_non_null(strstr(first + strlen(d->title), d->title));
            assert_null(strstr(d->text, "Menu"));
            assert_true(is_sentence_line(d->text, strcspn(d->text, "\n")));
        }
        for (size_t i = 0; i < d->n_removed; i++) /* every drop is explained */
            assert_non_null(d->removed[i].reason);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_languages_and_dates),
        cmocka_unit_test(test_no_sentence_lost),
        cmocka_unit_test(test_named_boilerplate_dropped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
