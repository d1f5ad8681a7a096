/*
 * fuzz_tokenizer.c - fuzzes the tokenizer/normalizer (src/normalize.h).
 *
 * The first input byte picks the language (en de fr ru ja zh th ko, or NULL
 * for none) and whether to stem; the rest is repaired with nf_utf8_repair()
 * (the tokenizer's contract is valid UTF-8) and tokenized with nfi_tokenize()
 * on one nfi_normalizer created once for the process. Checked for every
 * token: start+len lies inside the text and len > 0; tokens come in
 * increasing, non-overlapping order; kind and flags are known values; norm
 * and stem lie inside the pool, are NUL-terminated there and are valid
 * UTF-8; without stemming stem == norm. A second call appending to the same
 * vector and pool must append exactly the same tokens again, and
 * nfi_count_tokens must count as many tokens.
 */
#include "text/text.h"

#include <stdint.h>
#include <string.h>

#include "fuzz_util.h"

static const char *const langs[] = {"en", "de", "fr", "ru", "ja", "zh", "th", "ko", NULL};
#define N_LANGS (sizeof langs / sizeof *langs)

static nfi_normalizer *normalizer(void)
{
    static nfi_normalizer *nz;
    if (!nz) {
        nf_error err = {NF_OK, ""};
        if (nfi_normalizer_new(&nz, &err) != NF_OK) {
            fprintf(stderr, "fuzz_tokenizer: %s\n", err.message);
            abort();
        }
    }
    return nz;
}

static void check_tokens(const char *text, size_t len, const nf_token *t, size_t n, const nfi_buf *pool,
                         bool stem)
{
    size_t prev_end = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(t[i].len > 0);
        CHECK((size_t)t[i].start + t[i].len <= len);
        CHECK(t[i].start >= prev_end);
        prev_end = (size_t)t[i].start + t[i].len;
        CHECK(t[i].kind <= NF_TOKEN_IDEOGRAPHIC);
        CHECK((t[i].flags & ~(NF_TOKEN_CAPITALIZED | NF_TOKEN_SENTENCE_START | NF_TOKEN_NON_LATIN)) == 0);
        CHECK((size_t)t[i].norm + t[i].norm_len < pool->len);
        CHECK(pool->data[t[i].norm + t[i].norm_len] == '\0');
        CHECK(fuzz_valid_utf8(pool->data + t[i].norm, t[i].norm_len, true));
        CHECK((size_t)t[i].stem + t[i].stem_len < pool->len);
        CHECK(pool->data[t[i].stem + t[i].stem_len] == '\0');
        if (!stem)
            CHECK(t[i].stem == t[i].norm && t[i].stem_len == t[i].norm_len);
        /* a token never starts or ends inside a UTF-8 sequence */
        CHECK(((unsigned char)text[t[i].start] & 0xC0) != 0x80);
        CHECK(prev_end == len || ((unsigned char)text[prev_end] & 0xC0) != 0x80);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *lang = langs[data[0] % N_LANGS];
    bool stem = (data[0] / N_LANGS) % 4 != 3; /* mostly stem, as the cleaner does */
    size_t len = 0;
    char *text = nf_utf8_repair((const char *)data + 1, size - 1, &len, NULL);
    if (!text)
        return 0;
    nfi_normalizer *nz = normalizer();
    nfi_token_vec tokens = {NULL, 0, 0};
    nfi_buf pool;
    nfi_buf_init(&pool);
    nf_error err = {NF_OK, ""};
    nf_status st = nfi_tokenize(nz, text, len, lang, stem, &tokens, &pool, &err);
    CHECK(st == NF_OK || st == NF_ERR_NOMEM);
    if (st == NF_OK) {
        CHECK(tokens.len <= tokens.cap);
        CHECK(tokens.len == 0 || pool.data != NULL);
        check_tokens(text, len, tokens.items, tokens.len, &pool, stem);
        /* counting (clean's path when only the count is kept) segments alike */
        size_t count = 0;
        if (nfi_count_tokens(nz, text, len, lang, &count, &err) == NF_OK)
            CHECK(count == tokens.len);
        /* tokenizing again appends the same tokens, offset into the pool */
        size_t n1 = tokens.len, pool1 = pool.len;
        st = nfi_tokenize(nz, text, len, lang, stem, &tokens, &pool, &err);
        if (st == NF_OK) {
            CHECK(tokens.len == 2 * n1);
            CHECK(pool.len == 2 * pool1);
            for (size_t i = 0; i < n1; i++) {
                const nf_token *a = &tokens.items[i], *b = &tokens.items[n1 + i];
                CHECK(a->start == b->start && a->len == b->len && a->kind == b->kind && a->flags == b->flags);
                CHECK(b->norm == a->norm + pool1 && b->norm_len == a->norm_len);
                CHECK(b->stem == a->stem + pool1 && b->stem_len == a->stem_len);
            }
            if (n1 > 0)
                check_tokens(text, len, tokens.items + n1, n1, &pool, stem);
        }
    }
    free(tokens.items);
    nfi_buf_free(&pool);
    free(text);
    return 0;
}
