/* test_dates.c - dates from metadata and from text, including what must
 * NOT be taken as the publication date. */
#include "test_util.h"

static void expect_parse(const char *in, const char *want)
{
    char out[11] = "";
    int ok = nf_parse_date(in, out);
    if (!want) {
        assert_int_equal(ok, 0);
        return;
    }
    assert_int_equal(ok, 1);
    assert_string_equal(out, want);
}

static void expect_find(const char *text, const char *want)
{
    char out[11] = "";
    int ok = nf_find_date(text, strlen(text), 0, out);
    if (!want) {
        if (ok)
            fail_msg("expected no date, got %s", out);
        return;
    }
    assert_int_equal(ok, 1);
    assert_string_equal(out, want);
}

static void test_metadata_formats(void **state)
{
    (void)state;
    expect_parse("2024-06-14T10:00:00Z", "2024-06-14");
    expect_parse("2024/06/14", "2024-06-14");
    expect_parse("14.06.2024", "2024-06-14");
    expect_parse("June 14, 2024", "2024-06-14");
    expect_parse("14 juin 2024", "2024-06-14");
    expect_parse("14. Juni 2024", "2024-06-14");
    expect_parse("Fri, 14 Jun 2024 08:00:00 GMT", "2024-06-14");
    expect_parse("14 de junio de 2024", "2024-06-14");
    expect_parse("2024-02-30", NULL);
    expect_parse("yesterday", NULL);
}

static void test_dates_in_text(void **state)
{
    (void)state;
    expect_find("Menu\nWritten: 2024-06-22 14:57:31Updated: 2024-06-23\nBody.", "2024-06-22");
    expect_find(" date 2024-06-21 Menu\nWritten: 2024-06-22\n", "2024-06-22");
    expect_find("Updated: 2024-06-23\nBody.", "2024-06-23");
    expect_find("Photo taken on June 1, 2024.\n\nSEOUL, June 14 (Yonhap) -- The minister spoke.",
                "2024-06-14");
    expect_find("SEOUL, 14. Juni (Yonhap) – Der Minister sprach. Foto vom 1. Juni 2024.", "2024-06-14");
    /* the year is ambiguous: 2000 and 2023 are both mentioned */
    expect_find("MOSCOW, June 14 (Agency) - He visited in July 2000 and again in September 2023.", NULL);
    /* a date in a caption is not the publication date */
    expect_find("The file photo, taken on June 1, 2024, shows the minister.", NULL);
    expect_find("", NULL);
    /* a place name in mixed case only counts opening the text */
    expect_find("Castrobel, 15 de abril de 2025. Los vecinos...", "2025-04-15");
    expect_find("Intro line.\nMore text.\nThird line.\nLater, 15 de abril de 2025 it rained.", NULL);
}

static void test_dates_in_urls(void **state)
{
    (void)state;
    char out[11];
    int year;
    assert_int_equal(nf_date_from_url("https://x.example/2025/03/11/fire", out, &year), 1);
    assert_string_equal(out, "2025-03-11");
    assert_int_equal(nf_date_from_url("https://x.example/news/2025/fire-123", out, &year), 0);
    assert_int_equal(year, 2025);
    assert_int_equal(nf_date_from_url("https://x.example/a/12345678/b", out, &year), 0);
    assert_int_equal(year, 0);
    /* the URL's year completes a dateline */
    char found[11];
    assert_int_equal(nf_find_date("KELLMOUTH, March 11 (MPA) - Fire.", 33, 2025, found), 1);
    assert_string_equal(found, "2025-03-11");
}

/* The month and day of every date in text (the links stage's dates):
 * found wherever lexing the text whole finds them, also where only digits
 * draw the lexer (dates after many numbers, across its chunks, after long
 * prose), and not past the tokens the lexer keeps of a window. */
static void test_month_days(void **state)
{
    (void)state;
    uint16_t days[16];
    const char *text = "Am 14. Juni 2024 und am 3. März; June 1, 2024 / 2024-06-15 / 2024\u5E746\u670820\u65E5";
    assert_int_equal(nfi_month_days(text, strlen(text), days, 16), 5);
    assert_int_equal(days[0], 614), assert_int_equal(days[1], 303), assert_int_equal(days[2], 601);
    assert_int_equal(days[3], 615), assert_int_equal(days[4], 620);
    nfi_buf b;
    nfi_buf_init(&b);
    for (int before = 0; before < 40; before++) { /* numbers that are no day or year, then dates */
        b.len = 0;
        for (int k = 0; k < before; k++)
            nfi_buf_printf(&b, "%d%s", 100 + k, k % 3 ? " " : ", ");
        nfi_buf_puts(&b, "June 14, 2024 - 2024-06-15, 16. Juni 2024");
        for (int k = 0; k < before; k++)
            nfi_buf_puts(&b, " Wort");
        nfi_buf_puts(&b, " 17 juin");
        assert_int_equal(nfi_month_days(b.data, b.len, days, 16), 4);
        assert_int_equal(days[0], 614), assert_int_equal(days[1], 615), assert_int_equal(days[2], 616);
        assert_int_equal(days[3], 617);
    }
    b.len = 0; /* 750 one-byte tokens: a date after them, in the same window, is past what is kept */
    for (int k = 0; k < 750; k++)
        nfi_buf_putc(&b, '.');
    nfi_buf_puts(&b, " 14. Juni");
    assert_int_equal(nfi_month_days(b.data, b.len, days, 16), 0);
    nfi_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metadata_formats),
        cmocka_unit_test(test_dates_in_text),
        cmocka_unit_test(test_dates_in_urls),
        cmocka_unit_test(test_month_days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
