/*
 * test_report.c - report.html: structure (well nested, self-contained, no
 * script, responsive and print styles), content (the seeds' storyline with
 * its two events in time order, their documents and entities) and escaping
 * of every piece of text that comes from documents; nfi_buf_printf, which
 * writes the reports' pieces itself for simple formats, against snprintf.
 */
#include "events_data.h"

#include <ctype.h>
#include <math.h>

static const char *const void_tags[] = {"meta", "br", "hr", "img", "link", "input", NULL};

static bool is_void(const char *name, size_t n)
{
    for (int i = 0; void_tags[i]; i++)
        if (strlen(void_tags[i]) == n && strncmp(void_tags[i], name, n) == 0)
            return true;
    return false;
}

/* Every element closed in order; raw '<' only as tags; no text inside <style> but CSS. */
static void expect_well_nested(const char *html)
{
    const char *stack[256];
    size_t len[256], depth = 0;
    const char *p = strstr(html, "<html");
    assert_non_null(p);
    while ((p = strchr(p, '<'))) {
        if (strncmp(p, "<!", 2) == 0) {
            p++;
            continue;
        }
        bool closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t n = 0;
        while (isalnum((unsigned char)name[n]))
            n++;
        assert_true(n > 0); /* a '<' that is not a tag would be unescaped text */
        const char *end = strchr(name, '>');
        assert_non_null(end);
        if (closing) {
            assert_true(depth > 0);
            depth--;
            if (len[depth] != n || strncmp(stack[depth], name, n) != 0)
                fail_msg("</%.*s> closes <%.*s>", (int)n, name, (int)len[depth], stack[depth]);
        } else if (!is_void(name, n)) {
            assert_true(depth < 256);
            stack[depth] = name;
            len[depth++] = n;
        }
        p = end;
    }
    assert_int_equal(depth, 0);
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static char *seeds_report(nf_events_result *r)
{
    ev_corpus c = ev_load_dir("seeds", NF_SHARED_DIR "/seeds", NF_SHARED_DIR "/seeds/gold.json");
    nf_events_options o;
    nf_events_options_default(&o);
    ev_run(&c, &o, r);
    ev_corpus_free(&c);
    char *html;
    size_t len;
    nf_error err;
    nf_report_options ro = {"Seeds report", 0};
    assert_int_equal(nf_report_html(r, &ro, &html, &len, &err), NF_OK);
    assert_int_equal(strlen(html), len);
    return html;
}

static void test_structure(void **state)
{
    (void)state;
    nf_events_result r;
    char *html = seeds_report(&r);
    assert_int_equal(strncmp(html, "<!DOCTYPE html>", 15), 0);
    expect_well_nested(html);
    assert_non_null(strstr(html, "<meta name=\"viewport\""));
    assert_non_null(strstr(html, "@media print"));
    assert_non_null(strstr(html, "@media (max-width"));
    assert_int_equal(count(html, "<style>"), 1);
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<link"));
    assert_null(strstr(html, "src="));
    assert_null(strstr(html, "url("));
    assert_non_null(strstr(html, "<title>Seeds report</title>"));
    free(html);
    nf_events_result_free(&r);
}

static void test_seeds_storyline(void **state)
{
    (void)state;
    nf_events_result r;
    char *html = seeds_report(&r);
    assert_int_equal(r.n_storylines, 1);
    const char *s1 = strstr(html, "<section class=\"storyline\" id=\"s1\">");
    assert_non_null(s1);
    const char *end = strstr(s1, "</section>");
    assert_non_null(end);
    size_t n = (size_t)(end - s1);
    char *sec = strndup(s1, n);
    assert_int_equal(count(sec, "<li class=\"event\""), 2);
    /* the events in time order, each with its first-seen date */
    const char *e1 = strstr(sec, "2024-06-14</time> · E"), *e2 = strstr(sec, "2024-06-22</time> · E");
    assert_true(e1 && e2 && e1 < e2);
    /* all five documents are listed under their events, by id */
    for (size_t i = 0; i < r.n_docs; i++)
        assert_non_null(strstr(sec, r.docs[i].id));
    assert_non_null(strstr(sec, "<h4>Original (1)</h4>"));
    assert_non_null(strstr(sec, "class=\"entities\""));
    assert_non_null(strstr(sec, "Campbell"));
    assert_non_null(strstr(sec, "class=\"track\""));
    free(sec);
    free(html);
    nf_events_result_free(&r);
}

static void test_escaping(void **state)
{
    (void)state;
    nf_doc raw = {0};
    raw.id = strdup("<id>&\"1\"");
    raw.title = strdup("<script>alert('x')</script> & \"Co\"");
    raw.text = strdup("Some text about Acme Corp and the <b>markup</b> & more words here.");
    raw.text_len = strlen(raw.text);
    raw.lang = strdup("en");
    raw.source = strdup("<src>");
    raw.url = strdup("javascript:alert(1)");
    raw.origin = strdup("test");
    nf_clean_options co;
    nf_clean_options_default(&co);
    nf_cleaner *cl;
    nf_error err;
    nf_clean_doc cd;
    assert_int_equal(nf_cleaner_new(&cl, &co, &err), NF_OK);
    assert_int_equal(nf_clean_batch(cl, &raw, 1, &cd, &err), NF_OK);
    nf_events *ev;
    assert_int_equal(nf_events_new(&ev, NULL, &err), NF_OK);
    assert_int_equal(nf_events_add(ev, &cd, 1, &err), NF_OK);
    nf_events_result r;
    assert_int_equal(nf_events_finish(ev, &r, &err), NF_OK);
    char *html;
    size_t len;
    assert_int_equal(nf_report_html(&r, NULL, &html, &len, &err), NF_OK);
    expect_well_nested(html);
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<src>"));
    assert_null(strstr(html, "javascript:"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;Co&quot;"));
    free(html);
    nf_events_result_free(&r);
    nf_events_free(ev);
    nf_clean_doc_free(&cd);
    nf_doc_free(&raw);
    nf_cleaner_free(cl);
}

/* nfi_buf_printf writes what snprintf writes: integers at their limits,
 * NULL strings, and %.Nf on ties (exact binary halves: to even), negative
 * values that round to zero ("-0.0000"), subnormals, infinities, NaN and
 * values past 2^64 (given to snprintf). */
#define EXPECT_AS_SNPRINTF(...)                                                                                        \
    do {                                                                                                               \
        char want[4096];                                                                                               \
        int n = snprintf(want, sizeof want, __VA_ARGS__);                                                              \
        nfi_buf got;                                                                                                   \
        nfi_buf_init(&got);                                                                                            \
        nfi_buf_printf(&got, __VA_ARGS__);                                                                             \
        assert_int_equal(got.len, (size_t)n);                                                                          \
        assert_memory_equal(got.data ? got.data : "", want, (size_t)n);                                                \
        nfi_buf_free(&got);                                                                                            \
    } while (0)

static void test_buf_printf(void **state)
{
    (void)state;
    static const double values[] = {0.0, -0.0, 0.5, 1.5, 2.5, -2.5, 0.125, 0.375, 0.00005, -0.00004, 0.99995,
                                    1e-310, 4.9e-324, 123456.78125, 1e15, 1.8446744073709552e19, 1e300, -1e300,
                                    1.0 / 3, 2.0 / 3, 0.1, 0.7, 1e-5, 9.99999e-5};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        double x = values[i];
        EXPECT_AS_SNPRINTF("%.4f|%.3f|%.1f|%.0f|%.9f", x, x, x, x, x);
        EXPECT_AS_SNPRINTF("%.4f", -x);
    }
    EXPECT_AS_SNPRINTF("%.4f %.4f %.1f", (double)INFINITY, -(double)INFINITY, (double)NAN);
    for (double x = -3.0; x <= 3.0; x += 1.0 / 64) /* every tie of %.1f to %.4f on the way */
        EXPECT_AS_SNPRINTF("%.0f %.1f %.2f %.3f %.4f", x, x, x, x, x);
    EXPECT_AS_SNPRINTF("E%u S%zu %d %d %llu %c%%%s", 4294967295u, (size_t)SIZE_MAX, -2147483647 - 1, 0,
                       18446744073709551615ull, 'x', "tail");
    const char *volatile nothing = NULL; /* not known at compile time: no format warning */
    EXPECT_AS_SNPRINTF("%s|%s", "", nothing);
    EXPECT_AS_SNPRINTF("%04x %.80s", 17u, "not simple: vsnprintf"); /* flags and widths go to vsnprintf */
    EXPECT_AS_SNPRINTF("no conversion");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structure),
        cmocka_unit_test(test_seeds_storyline),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_buf_printf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
