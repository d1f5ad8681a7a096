/*
 * normalize.h - the tokenizer/normalizer used by the cleaner, exposed
 * inside the library (and to tests and fuzzers) but not in the public API.
 */
#ifndef NF_NORMALIZE_H
#define NF_NORMALIZE_H

#include "internal.h"

typedef struct nf_normalizer nf_normalizer;

nf_status nf_normalizer_new(nf_normalizer **out, nf_error *err);
void nf_normalizer_free(nf_normalizer *nz);

/* Tokens of text (valid UTF-8) appended to *tokens (grown with realloc) and
 * their strings to pool. lang selects the stemmer (NULL or unknown: none). */
typedef struct nf_token_vec {
    nf_token *items;
    size_t len, cap;
} nf_token_vec;

nf_status nf_tokenize(nf_normalizer *nz, const char *text, size_t len, const char *lang, bool stem,
                      nf_token_vec *tokens, nf_buf *pool, nf_error *err);

/* Whether a Snowball stemmer exists for this language code. */
bool nf_has_stemmer(nf_normalizer *nz, const char *lang);

#endif
