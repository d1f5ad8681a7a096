/*
 * fuzz_jsonl.c - fuzzes JSONL record parsing and UTF-8 repair.
 *
 * 1. The input is one JSONL record for nf_doc_from_json() (public API). The
 *    call must return NF_OK or NF_SKIPPED (NF_ERR_NOMEM is tolerated) with an
 *    error message on skip and a zeroed doc; on success the doc must hold
 *    text with text_len == strlen(text), an id, the origin and record it was
 *    given, and its text, once put through nf_utf8_repair(), must be valid
 *    UTF-8 with no invalid sequences left to count.
 *    Records of string fields only are read by a fast scanner, others by
 *    cJSON: the same record with a number field put first (so cJSON reads
 *    it) must give the same outcome and, on success, the same document.
 * 2. The raw bytes go through nf_utf8_repair(): the output must be valid
 *    UTF-8 (checked by an independent validator) with no NUL bytes,
 *    out_len == strlen(out), at most 3 bytes out per byte in, unchanged
 *    (and nothing counted) when the input was already valid and NUL-free, and
 *    repair must be idempotent.
 */
#include <newsfold.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

static void check_repair(const char *data, size_t size)
{
    size_t out_len = (size_t)-1, n_invalid = (size_t)-1;
    char *out = nf_utf8_repair(data, size, &out_len, &n_invalid);
    if (!out)
        return; /* allocation failure is allowed */
    CHECK(out_len == strlen(out));
    CHECK(out_len <= 3 * size);
    CHECK(fuzz_valid_utf8(out, out_len, true));
    CHECK(n_invalid <= size);
    if (fuzz_valid_utf8(data, size, true)) {
        CHECK(n_invalid == 0);
        CHECK(out_len == size && memcmp(out, data, size) == 0);
    } else {
        CHECK(n_invalid > 0);
    }
    size_t again_len = 0, again_invalid = 1;
    char *again = nf_utf8_repair(out, out_len, &again_len, &again_invalid);
    if (again) {
        CHECK(again_invalid == 0);
        CHECK(again_len == out_len && memcmp(again, out, out_len) == 0);
        free(again);
    }
    free(out);
}

static void check_doc(const nf_doc *doc)
{
    CHECK(doc->text != NULL);
    CHECK(doc->text_len == strlen(doc->text));
    CHECK(doc->id != NULL && doc->id[0] != '\0');
    CHECK(doc->origin != NULL && strcmp(doc->origin, "fuzz.jsonl") == 0);
    CHECK(doc->record == 7);
    const char *fields[] = {doc->title, doc->lang, doc->source, doc->published, doc->url};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        CHECK(fields[i] == NULL || fields[i][0] != '\0'); /* empty strings are dropped */
    size_t len = 0, n_invalid = 0;
    char *text = nf_utf8_repair(doc->text, doc->text_len, &len, &n_invalid);
    if (text) {
        CHECK(len == strlen(text));
        CHECK(fuzz_valid_utf8(text, len, true));
        size_t len2 = 0, n_invalid2 = 1;
        char *text2 = nf_utf8_repair(text, len, &len2, &n_invalid2);
        if (text2) {
            CHECK(n_invalid2 == 0 && len2 == len);
            free(text2);
        }
        free(text);
    }
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The record again with "zz":0 put after its opening brace, which keeps it
 * the same object but sends it to cJSON; the two documents must agree. */
static void check_both_paths(const char *json, size_t size, nf_status st, const nf_doc *doc)
{
    size_t i = 0;
    while (i < size && (json[i] == ' ' || json[i] == '\t' || json[i] == '\r' || json[i] == '\n'))
        i++;
    size_t j = i + 1;
    while (j < size && (json[j] == ' ' || json[j] == '\t' || json[j] == '\r' || json[j] == '\n'))
        j++;
    if (i >= size || json[i] != '{' || j >= size || json[j] == '}' || memchr(json, '\0', size))
        return;
    char *slow = malloc(size + 8);
    if (!slow)
        return;
    memcpy(slow, json, i + 1);
    memcpy(slow + i + 1, "\"zz\":0,", 7);
    memcpy(slow + i + 8, json + i + 1, size - i - 1);
    nf_doc other;
    nf_error err = {NF_OK, ""};
    nf_status st2 = nf_doc_from_json(slow, size + 7, "fuzz.jsonl", 7, &other, &err);
    if (st != NF_ERR_NOMEM && st2 != NF_ERR_NOMEM) {
        CHECK(st == st2);
        if (st == NF_OK && st2 == NF_OK) {
            CHECK(doc->text_len == other.text_len && memcmp(doc->text, other.text, doc->text_len) == 0);
            CHECK(same_str(doc->id, other.id) && same_str(doc->title, other.title));
            CHECK(same_str(doc->lang, other.lang) && same_str(doc->source, other.source));
            CHECK(same_str(doc->published, other.published) && same_str(doc->url, other.url));
            CHECK(doc->invalid_utf8 == other.invalid_utf8);
        }
    }
    nf_doc_free(&other);
    free(slow);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *json = (const char *)data;
    nf_doc doc;
    nf_error err = {NF_OK, ""};
    nf_status st = nf_doc_from_json(json, size, "fuzz.jsonl", 7, &doc, &err);
    CHECK(st == NF_OK || st == NF_SKIPPED || st == NF_ERR_NOMEM);
    if (st == NF_OK) {
        check_doc(&doc);
    } else {
        CHECK(err.code == st);
        CHECK(err.message[0] != '\0');
        CHECK(memchr(err.message, '\0', sizeof err.message) != NULL);
        CHECK(doc.text == NULL && doc.id == NULL && doc.origin == NULL);
    }
    check_both_paths(json, size, st, &doc);
    nf_doc_free(&doc);
    check_repair(json, size);
    return 0;
}
