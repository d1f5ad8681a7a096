/*
 * fuzz_hash_mode.c - fuzzes the cleaner's hash-only mode (nf_clean_options.
 * token_hashes, what `newsfold dedup` uses) against its token mode.
 *
 * The hash mode folds and hashes each word as it normalizes it, with its own
 * fast paths (ASCII words, 8-byte masks); the token mode writes every token.
 * Whatever the text, the two must describe it alike. The input is repaired
 * with nf_utf8_repair() (what ingest gives the cleaner); the first byte
 * picks the language given (none, "en": the English apostrophe rule, "ja")
 * and whether the first line is the title. Each mode cleans its own copy of
 * the same document; then:
 * - both report the same number of tokens; the hash mode keeps no tokens,
 *   pool or text;
 * - norms_hash is the XXH3-128 of the token mode's norms, each followed by
 *   a space;
 * - sketching both (nfi_sketch_doc, shingles kept) gives the same exact
 *   hash, units, shingles, samples and MinHash signature.
 */
#include "dedup/dedup.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "fuzz_util.h"

static bool clean_one(const char *text, size_t len, const char *lang, bool title, int hashes, nf_clean_doc *out)
{
    nf_clean_options o;
    nf_clean_options_default(&o);
    o.lang = o.dates = o.stem = 0; /* as dedup asks */
    o.token_hashes = hashes;
    nf_cleaner *c;
    nf_error err;
    if (nf_cleaner_new(&c, &o, &err) != NF_OK)
        return false;
    nf_doc d;
    memset(&d, 0, sizeof d);
    d.id = strdup("f");
    d.text = malloc(len + 1);
    if (d.text) {
        memcpy(d.text, text, len);
        d.text[len] = '\0';
    }
    d.text_len = len;
    d.lang = lang ? strdup(lang) : NULL;
    const char *nl = title ? memchr(text, '\n', len) : NULL;
    d.title = nl ? strndup(text, (size_t)(nl - text)) : NULL;
    memset(out, 0, sizeof *out);
    nf_status st = d.id && d.text ? nf_clean_batch(c, &d, 1, out, &err) : NF_ERR_NOMEM;
    nf_cleaner_free(c);
    if (st != NF_OK) { /* the document is in *out once cleaning took it, else still in d */
        nf_clean_doc_free(out);
        free(d.id), free(d.text), free(d.lang), free(d.title);
        return false;
    }
    return true;
}

static void same_sketch(const nf_clean_doc *t, const nf_clean_doc *h)
{
    nfi_sketch_params p = {5, 128, 8, 0x1234, false};
    uint32_t sig_t[128], sig_h[128];
    nfi_sketch x, y;
    nf_error err;
    bool ok_t = nfi_sketch_doc(t, &p, true, sig_t, &x, &err) == NF_OK;
    bool ok_h = nfi_sketch_doc(h, &p, true, sig_h, &y, &err) == NF_OK;
    CHECK(ok_t == ok_h);
    if (!ok_t)
        return;
    CHECK(x.exact_lo == y.exact_lo && x.exact_hi == y.exact_hi);
    CHECK(x.n_units == y.n_units && h->n_units == y.n_units);
    CHECK(x.too_short == y.too_short);
    CHECK(x.too_short || memcmp(sig_t, sig_h, sizeof sig_t) == 0);
    CHECK(x.n_samples == y.n_samples && x.n_shingles == y.n_shingles);
    CHECK(!x.n_samples || memcmp(x.samples, y.samples, x.n_samples * sizeof *x.samples) == 0);
    CHECK(!x.shingles || memcmp(x.shingles, y.shingles, x.n_shingles * sizeof *x.shingles) == 0);
    nfi_sketch_free(&x);
    nfi_sketch_free(&y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static const char *const langs[] = {NULL, "en", "ja"};
    const char *lang = langs[data[0] % 3];
    bool title = data[0] & 4;
    size_t len = 0;
    char *text = nf_utf8_repair((const char *)data + 1, size - 1, &len, NULL);
    if (!text)
        return 0;
    nf_clean_doc t, h;
    bool ok_t = clean_one(text, len, lang, title, 0, &t);
    bool ok_h = clean_one(text, len, lang, title, 1, &h);
    CHECK(ok_t == ok_h);
    if (ok_t) {
        CHECK(t.n_tokens == h.n_tokens);
        CHECK(h.tokens == NULL && h.pool == NULL);
        size_t n = 0;
        for (size_t k = 0; k < t.n_tokens; k++)
            n += t.tokens[k].norm_len + 1;
        char *norms = malloc(n + 1);
        CHECK(norms != NULL);
        size_t at = 0;
        for (size_t k = 0; k < t.n_tokens; k++) {
            memcpy(norms + at, t.pool + t.tokens[k].norm, t.tokens[k].norm_len);
            at += t.tokens[k].norm_len;
            norms[at++] = ' ';
        }
        XXH128_hash_t want = XXH3_128bits(norms, at);
        CHECK(want.low64 == h.norms_hash[0] && want.high64 == h.norms_hash[1]);
        free(norms);
        same_sketch(&t, &h);
    }
    if (ok_t)
        nf_clean_doc_free(&t);
    if (ok_h)
        nf_clean_doc_free(&h);
    free(text);
    return 0;
}
