/* test_boilerplate.c - line classification on pages written for this test:
 * menus, prompts and notices go; article sentences stay; repeated template
 * lines across one source's documents go. */
#include "test_util.h"

#include "text/text.h"

static const char page[] =
    "Home\n"
    "World\n"
    "Sport\n"
    "Harbour reopens after storm\n"
    "\n"
    "Harbour reopens after storm\n"
    "Photo: City Archive\n"
    "The harbour of Portvale reopened on Tuesday after a storm closed it for three days.\n"
    "Ferries will run on the winter timetable until the end of the month, the operator said.\n"
    "Share this article\n"
    "Our newsletter\n"
    "We use cookies to improve your experience on our website. By continuing you accept them.\n"
    "Comments (4)\n"
    "PREV Council approves the new budget for the next year after a long debate\n"
    "NEXT Bridge works delayed\n"
    "Tags\n";

static const char *reason_of(const nfi_boilerplate_result *r, const char *text, const char *line)
{
    for (size_t i = 0; i < r->n_lines; i++)
        if (r->lines[i].len == strlen(line) && memcmp(text + r->lines[i].start, line, r->lines[i].len) == 0)
            return r->lines[i].reason ? r->lines[i].reason : "kept";
    return "absent";
}

static void test_page(void **state)
{
    (void)state;
    nfi_boilerplate_result r;
    nf_error err;
    assert_int_equal(nfi_boilerplate_classify(page, sizeof page - 1, NULL, NULL, 0, &r, &err), NF_OK);
    assert_string_equal(reason_of(&r, page, "Home"), "navigation"); /* a navigation word */
    assert_string_equal(reason_of(&r, page, "World"), "menu");      /* by position and shape */
    assert_string_equal(reason_of(&r, page, "Photo: City Archive"), "photo_credit");
    assert_string_equal(reason_of(&r, page, "Share this article"), "share_prompt");
    assert_string_equal(reason_of(&r, page, "Comments (4)"), "comments");
    assert_string_equal(reason_of(&r, page, "NEXT Bridge works delayed"), "navigation");
    assert_string_equal(reason_of(&r, page, "Tags"), "footer");
    assert_string_equal(
        reason_of(&r, page, "We use cookies to improve your experience on our website. By continuing you accept them."),
        "cookie_notice");
    assert_string_equal(
        reason_of(&r, page, "The harbour of Portvale reopened on Tuesday after a storm closed it for three days."),
        "kept");
    /* the headline becomes the title; its repetition is dropped */
    assert_true(r.title_line != SIZE_MAX);
    assert_memory_equal(page + r.lines[r.title_line].start, "Harbour reopens after storm", 27);
    assert_false(r.title_in_text);
    size_t repeated = 0;
    for (size_t i = 0; i < r.n_lines; i++)
        repeated += r.lines[i].reason && strcmp(r.lines[i].reason, "repeated_title") == 0;
    assert_int_equal(repeated, 1);
    nfi_boilerplate_result_free(&r);
}

static void test_prose_survives_and_short_headline_kept(void **state)
{
    (void)state;
    static const char text[] = "Storm\n\nThe storm that hit Portvale on Monday was the strongest in ten years, "
                               "officials said.\n\nMore rain is expected.\n";
    nfi_boilerplate_result r;
    nf_error err;
    assert_int_equal(nfi_boilerplate_classify(text, sizeof text - 1, NULL, NULL, 0, &r, &err), NF_OK);
    assert_int_equal(r.n_lines, 3);
    for (size_t i = 0; i < r.n_lines; i++)
        assert_null(r.lines[i].reason);
    assert_int_equal(r.title_line, 0);
    nfi_boilerplate_result_free(&r);
}

static void test_template_set(void **state)
{
    (void)state;
    static const char text[] = "The port reopened on Tuesday after the storm, officials said on the radio.\n"
                               "Download the Portvale Post app\n";
    uint64_t group = 42;
    uint64_t key = nfi_template_key(group, "Download the Portvale Post app", 30);
    nfi_template_set set = {&key, 1};
    nfi_boilerplate_result r;
    nf_error err;
    assert_int_equal(nfi_boilerplate_classify(text, sizeof text - 1, "Title", &set, group, &r, &err), NF_OK);
    assert_null(r.lines[0].reason);
    assert_non_null(r.lines[1].reason);
    nfi_boilerplate_result_free(&r);
    /* another source's line with the same text is not template */
    assert_int_equal(nfi_boilerplate_classify(text, sizeof text - 1, "Title", &set, 43, &r, &err), NF_OK);
    assert_true(r.lines[1].reason == NULL || strcmp(r.lines[1].reason, "site_template") != 0);
    nfi_boilerplate_result_free(&r);
}

/* Cookie words are found wherever they stand in a line of any length and
 * case (a skip scan), and only whole: near misses stay. */
static void test_cookie_words_anywhere(void **state)
{
    (void)state;
    const char *words[] = {"Cookies", "consent", "PRIVACY", "Datenschutz", "Einwilligung", "confidentialité",
                           "privacidad"};
    const char *near[] = {"cooki", "consen", "privac", "datenschut", "einwilligun", "confidential", "privacida"};
    for (size_t w = 0; w < sizeof words / sizeof *words; w++)
        for (size_t before = 0; before < 40; before += 3) {
            for (int miss = 0; miss < 2; miss++) {
                char line[1024] = "";
                for (size_t k = 0; k < before; k++)
                    strcat(line, k % 2 ? "ab " : "c ");
                strcat(line, miss ? near[w] : words[w]);
                strcat(line, " settings of this website help us");
                nfi_boilerplate_result r;
                nf_error err;
                assert_int_equal(nfi_boilerplate_classify(line, strlen(line), "T", NULL, 0, &r, &err), NF_OK);
                assert_int_equal(r.n_lines, 1);
                const char *reason = r.lines[0].reason ? r.lines[0].reason : "kept";
                if (miss)
                    assert_string_not_equal(reason, "cookie_notice");
                else
                    assert_string_equal(reason, "cookie_notice");
                nfi_boilerplate_result_free(&r);
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_prose_survives_and_short_headline_kept),
        cmocka_unit_test(test_template_set),
        cmocka_unit_test(test_cookie_words_anywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
