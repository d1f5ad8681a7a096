/*
 * fuzz_clean.c - fuzzes line-level boilerplate classification and date
 * finding (src/boilerplate.h, nf_find_date, nf_parse_date, nf_date_from_url).
 *
 * The input is repaired with nf_utf8_repair() (what every stage after ingest
 * sees). The first byte, when it is not a newline, also picks whether the
 * first line of the input is passed as the given title. Then:
 * - nfi_split_lines() and nfi_boilerplate_classify() must return NF_OK (or
 *   NF_ERR_NOMEM); every line range lies inside the text, is non-empty and
 *   trimmed, lines are in order and do not overlap, line numbers increase,
 *   both functions agree on the lines, a reason is NULL or a non-empty
 *   string, and title_line is SIZE_MAX or the index of a kept line.
 * - The same classification with a template set built from the text's own
 *   lines (so the template lookup is exercised) must give the same line
 *   ranges and again a valid title_line.
 * - nf_parse_date() and nf_date_from_url() on the first line, and
 *   nf_find_date() on the text (without a year hint, and with the URL's year
 *   as the cleaner passes it): a date found has the form YYYY-MM-DD with year
 *   1900-2100, month 01-12 and day 01-31, and is NUL-terminated; the URL's
 *   year is 0 or a year in that range (and the date's year when a date was
 *   found).
 * - nfi_month_days() (every date of the text, the links stage's date
 *   features): each is month * 100 + day with month 1-12 and day 1-31, at
 *   most max are given, and a smaller max gives a prefix of the same list.
 */
#include "text/text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

static void check_date(const char d[11])
{
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7)
            CHECK(d[i] == '-');
        else
            CHECK(d[i] >= '0' && d[i] <= '9');
    }
    CHECK(d[10] == '\0');
    int y = atoi(d), m = atoi(d + 5), day = atoi(d + 8);
    CHECK(y >= 1900 && y <= 2100);
    CHECK(m >= 1 && m <= 12);
    CHECK(day >= 1 && day <= 31);
}

static void check_lines(const char *text, size_t len, const nfi_line *lines, size_t n)
{
    size_t prev_end = 0;
    uint32_t prev_number = 0;
    for (size_t i = 0; i < n; i++) {
        const nfi_line *l = &lines[i];
        CHECK(l->len > 0);
        CHECK((size_t)l->start + l->len <= len);
        CHECK(i == 0 || l->start >= prev_end);
        CHECK(l->number > prev_number);
        CHECK(memchr(text + l->start, '\n', l->len) == NULL);
        CHECK(!nfi_is_space((unsigned char)text[l->start]));
        CHECK(!nfi_is_space((unsigned char)text[l->start + l->len - 1]));
        CHECK(l->reason == NULL || l->reason[0] != '\0');
        prev_end = (size_t)l->start + l->len;
        prev_number = l->number;
    }
}

static void check_month_days(const char *text, size_t len)
{
    enum { MAX = 64, FEW = 3 };
    uint16_t all[MAX], few[FEW];
    size_t n = nfi_month_days(text, len, all, MAX), k = nfi_month_days(text, len, few, FEW);
    CHECK(n <= MAX && k <= FEW && k == (n < FEW ? n : FEW));
    for (size_t i = 0; i < n; i++)
        CHECK(all[i] / 100 >= 1 && all[i] / 100 <= 12 && all[i] % 100 >= 1 && all[i] % 100 <= 31);
    for (size_t i = 0; i < k; i++)
        CHECK(few[i] == all[i]);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = 0;
    char *text = nf_utf8_repair((const char *)data, size, &len, NULL);
    if (!text)
        return 0;
    nf_error err = {NF_OK, ""};

    nfi_line *split = NULL;
    size_t n_split = 0;
    nf_status st = nfi_split_lines(text, len, &split, &n_split, &err);
    CHECK(st == NF_OK || st == NF_ERR_NOMEM);
    if (st == NF_OK)
        check_lines(text, len, split, n_split);

    char *title = NULL;
    if (size > 0 && data[0] % 2 == 1 && n_split > 0)
        title = nfi_strndup(text + split[0].start, split[0].len);

    nfi_boilerplate_result res;
    st = nfi_boilerplate_classify(text, len, title, NULL, 0, &res, &err);
    CHECK(st == NF_OK || st == NF_ERR_NOMEM);
    if (st == NF_OK) {
        check_lines(text, len, res.lines, res.n_lines);
        CHECK(split == NULL || res.n_lines == n_split);
        for (size_t i = 0; split && i < res.n_lines; i++)
            CHECK(res.lines[i].start == split[i].start && res.lines[i].len == split[i].len &&
                  res.lines[i].number == split[i].number &&
                  res.lines[i].blank_before == split[i].blank_before);
        CHECK(res.title_line == SIZE_MAX ||
              (res.title_line < res.n_lines && !res.lines[res.title_line].reason));
        if (title)
            CHECK(res.title_line == SIZE_MAX);

        /* every line of the text in the template set: the lookup path */
        uint64_t group = nfi_hash64("fuzz", 4);
        nfi_template_set set = {malloc((res.n_lines ? res.n_lines : 1) * sizeof(uint64_t)), res.n_lines};
        if (set.hashes) {
            for (size_t i = 0; i < res.n_lines; i++)
                set.hashes[i] = nfi_template_key(group, text + res.lines[i].start, res.lines[i].len);
            qsort(set.hashes, set.len, sizeof *set.hashes, cmp_u64);
            nfi_boilerplate_result res2;
            if (nfi_boilerplate_classify(text, len, title, &set, group, &res2, &err) == NF_OK) {
                check_lines(text, len, res2.lines, res2.n_lines);
                CHECK(res2.n_lines == res.n_lines);
                for (size_t i = 0; i < res.n_lines; i++)
                    CHECK(res2.lines[i].start == res.lines[i].start && res2.lines[i].len == res.lines[i].len);
                CHECK(res2.title_line == SIZE_MAX ||
                      (res2.title_line < res2.n_lines && !res2.lines[res2.title_line].reason));
                nfi_boilerplate_result_free(&res2);
            }
            free(set.hashes);
        }
        nfi_boilerplate_result_free(&res);
    }

    /* the first line doubles as metadata: a date string and a URL */
    char date[11];
    int url_year = 0;
    if (n_split > 0) {
        char *first = nfi_strndup(text + split[0].start, split[0].len);
        memset(date, 'x', sizeof date);
        if (first && nf_parse_date(first, date))
            check_date(date);
        memset(date, 'x', sizeof date);
        if (first && nf_date_from_url(first, date, &url_year)) {
            check_date(date);
            CHECK(url_year == atoi(date));
        }
        CHECK(url_year == 0 || (url_year >= 1900 && url_year <= 2100));
        free(first);
    }
    memset(date, 'x', sizeof date);
    if (nf_find_date(text, len, 0, date))
        check_date(date);
    if (url_year) { /* as the cleaner calls it, with the URL's year */
        memset(date, 'x', sizeof date);
        if (nf_find_date(text, len, url_year, date))
            check_date(date);
    }
    check_month_days(text, len);
    free(title);
    free(split);
    free(text);
    return 0;
}
