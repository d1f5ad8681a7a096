/*
 * fuzz_html.c - fuzzes the HTML path: charset decoding, the reducer in
 * front of gumbo, gumbo itself, metadata and JSON-LD, and main-text
 * extraction (nf_extract_html, public API).
 *
 * The first byte picks an HTTP Content-Type (none, or one naming a
 * charset, some of them multi-byte or bogus) and whether a page URL is
 * given; the rest is the page. Then:
 * - the call returns NF_OK, NF_SKIPPED (with a message) or NF_ERR_NOMEM;
 * - on NF_OK: text is valid UTF-8 without NUL, text_len == strlen(text),
 *   the text neither starts nor ends with whitespace, every other string
 *   field is NULL or valid UTF-8, published is YYYY-MM-DD with a year from
 *   1990 to 2100, lang is 2-3 lower-case letters, extract is set with
 *   bytes_in equal to the input size, a charset name and no raw page left;
 * - extracting the same page again gives the same text (no hidden state).
 */
#include <newsfold.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

static const char *const content_types[] = {
    NULL, "text/html; charset=utf-8", "text/html; charset=Shift_JIS", "text/html; charset=\"windows-1251\"",
    "text/html; charset=utf-16", "text/html; charset=ISO-2022-JP", "text/html; charset=gb2312",
    "text/html; charset=no-such-charset-at-all",
};

static void check_str(const char *s)
{
    if (s)
        CHECK(fuzz_valid_utf8(s, strlen(s), true));
}

static void check_doc(const nf_doc *d, size_t size)
{
    CHECK(d->text != NULL);
    CHECK(d->text_len == strlen(d->text));
    CHECK(fuzz_valid_utf8(d->text, d->text_len, true));
    if (d->text_len) {
        CHECK(d->text[0] != ' ' && d->text[0] != '\n');
        CHECK(d->text[d->text_len - 1] != ' ' && d->text[d->text_len - 1] != '\n');
    }
    const char *fields[] = {d->title, d->url, d->source, d->lang, d->published};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        check_str(fields[i]);
    if (d->published) {
        CHECK(strlen(d->published) == 10 && d->published[4] == '-' && d->published[7] == '-');
        int y = atoi(d->published);
        CHECK(y >= 1990 && y <= 2100);
    }
    if (d->lang) {
        size_t n = strlen(d->lang);
        CHECK(n >= 2 && n <= 3);
        for (size_t i = 0; i < n; i++)
            CHECK(d->lang[i] >= 'a' && d->lang[i] <= 'z');
    }
    CHECK(d->extract != NULL);
    CHECK(d->extract->bytes_in == size);
    CHECK(d->extract->charset[0] != '\0');
    CHECK(d->extract->raw == NULL);
    check_str(d->extract->author);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t ntypes = sizeof content_types / sizeof *content_types;
    nf_extract_options o = {(data[0] & 0x80) ? "https://news.example/2024/01/02/story.html" : NULL,
                            content_types[data[0] % ntypes], NULL, NULL};
    const char *page = (const char *)data + 1;
    size_t len = size - 1;
    nf_doc d;
    memset(&d, 0, sizeof d);
    nf_error err = {NF_OK, ""};
    nf_status st = nf_extract_html(page, len, &o, &d, &err);
    CHECK(st == NF_OK || st == NF_SKIPPED || st == NF_ERR_NOMEM);
    if (st == NF_OK) {
        check_doc(&d, len);
        nf_doc again;
        memset(&again, 0, sizeof again);
        if (nf_extract_html(page, len, &o, &again, &err) == NF_OK)
            CHECK(again.text_len == d.text_len && memcmp(again.text, d.text, d.text_len) == 0);
        nf_doc_free(&again);
    } else {
        CHECK(err.code == st && err.message[0] != '\0');
    }
    nf_doc_free(&d);
    return 0;
}
