/* text.h - the internal contract of src/text/ (never installed). */
#ifndef NF_TEXT_TEXT_H
#define NF_TEXT_TEXT_H

#include "common/common.h"

#include <unicode/utrans.h>

/*
 * normalize.h - the tokenizer/normalizer used by the cleaner, exposed
 * inside the library (and to tests and fuzzers) but not in the public API.
 */


typedef struct nfi_normalizer nfi_normalizer;

nf_status nfi_normalizer_new(nfi_normalizer **out, nf_error *err);
void nfi_normalizer_free(nfi_normalizer *nz);

/* Tokens of text (valid UTF-8) appended to *tokens (grown with realloc) and
 * their strings to pool. lang selects the stemmer (NULL or unknown: none). */
typedef struct nfi_token_vec {
    nf_token *items;
    size_t len, cap;
} nfi_token_vec;

nf_status nfi_tokenize(nfi_normalizer *nz, const char *text, size_t len, const char *lang, bool stem,
                      nfi_token_vec *tokens, nfi_buf *pool, nf_error *err);

/* Hash mode (nf_clean_options.token_hashes): the same tokens, norms only
 * (no stems, whatever the language), each norm followed by a space in pool
 * (the normalized text) and no token records; units gets duplicate
 * detection's unit hashes (nfi_char_unit in common.h) and *count the number
 * of tokens. */
typedef struct nfi_unit_vec {
    uint64_t *items;
    size_t len, cap;
} nfi_unit_vec;

nf_status nfi_tokenize_units(nfi_normalizer *nz, const char *text, size_t len, const char *lang, nfi_unit_vec *units,
                            nfi_buf *pool, size_t *count, nf_error *err);

/* Raised whenever nfi_tokenize's tokens for some input change: caches built
 * from tokens (the links stage's compiled dictionaries) carry it, so a
 * build with another tokenizer compiles its own instead of reading stale
 * keys. */
#define NFI_TOKENIZER_VERSION 2

/* The number of tokens nfi_tokenize would make of text (same segmentation),
 * without folding, stemming or storing them. */
nf_status nfi_count_tokens(nfi_normalizer *nz, const char *text, size_t len, const char *lang, size_t *count,
                          nf_error *err);

/* Whether a Snowball stemmer exists for this language code. */
bool nfi_has_stemmer(nfi_normalizer *nz, const char *lang);

/* The ASCII that ICU's "Any-Latin; Latin-ASCII" transliterator makes of
 * text of printable ASCII and the Latin letters of U+00C0-U+017F that
 * decompose (NFD) to an ASCII letter and combining marks, or are "ß" or
 * one of the lower-case æ œ ø ł đ ð ħ ı: each such letter becomes its base
 * letter ("é" -> "e", "Ö" -> "O"), "ß" becomes "ss", "æ" "ae", "œ" "oe"
 * and so on, whatever its neighbours (tests/test_normalize.c checks this
 * against the transliterator). Opening the transliterator costs about 150 M
 * instructions a process (its registry), so names of European languages
 * are read through this table and only other text needs it. Made from
 * ICU's NFD data by nfi_latin_ascii_init (false when that is unavailable). */
#define NFI_LATIN_FIRST 0xC0
#define NFI_LATIN_END 0x180
typedef struct nfi_latin_ascii {
    char form[NFI_LATIN_END - NFI_LATIN_FIRST][2]; /* its ASCII (second byte 0: one letter); "\0": not covered */
} nfi_latin_ascii;

bool nfi_latin_ascii_init(nfi_latin_ascii *t);
/* ICU's "Any-Latin; Latin-ASCII" transliterator, which the stages open
 * only at the first name the table above cannot read: *tr once opened
 * (opened here at the first call), NULL when ICU cannot open it, which
 * sets *failed so that it is not tried again. The caller owns *tr
 * (utrans_close). */
UTransliterator *nfi_latin_translit(UTransliterator **tr, bool *failed);

/* The ASCII of s[0,n) into out (room for n bytes: it is never longer) and
 * its length, and the number of characters of s (UTF-16 units: none is
 * outside the BMP); false when s holds a byte or character the table does
 * not cover (out then holds nothing of use). */
bool nfi_latin_to_ascii(const nfi_latin_ascii *t, const char *s, size_t n, char *out, size_t *out_len,
                        size_t *chars);

/* CLD2 behind a C entry point (cld2_shim.cc): the codes of the three most
 * likely languages of text (valid UTF-8; "un" when unknown), best first,
 * their shares in percent and CLD2's reliability verdict. Returns 1, or 0
 * on failure. Reentrant. */
int nfi_cld2_detect(const char *text, int len, char codes[3][8], int percent[3], int *reliable);

/*
 * boilerplate.h - line-level boilerplate classification (see boilerplate.c).
 */


typedef struct nfi_line {
    uint32_t start, len; /* trimmed line, bytes into the text */
    uint32_t number;     /* 1-based line number in the text */
    uint32_t blank_before; /* blank lines between this and the previous line */
    const char *reason;  /* NULL: kept */
} nfi_line;

/* Lines shared by several documents of one source: a sorted set of hashes. */
typedef struct nfi_template_set {
    uint64_t *hashes;
    size_t len;
} nfi_template_set;

/* Hash of a trimmed line within a source group, as used by the set. */
uint64_t nfi_template_key(uint64_t group_hash, const char *line, size_t len);
bool nfi_template_contains(const nfi_template_set *set, uint64_t key);

typedef struct nfi_boilerplate_result {
    nfi_line *lines; /* every non-blank line, in order */
    size_t n_lines;
    size_t title_line;    /* index of the line used as title, or SIZE_MAX */
    bool title_in_text;   /* the title line is prose and stays in the text */
} nfi_boilerplate_result;

/*
 * Splits text into lines and marks boilerplate. title is the given title or
 * NULL (then the first kept headline-like line becomes the title).
 * templates and group_hash may be NULL/0.
 */
nf_status nfi_boilerplate_classify(const char *text, size_t len, const char *title,
                                  const nfi_template_set *templates, uint64_t group_hash,
                                  nfi_boilerplate_result *out, nf_error *err);
void nfi_boilerplate_result_free(nfi_boilerplate_result *r);

/* Splits text into trimmed non-blank lines only (no classification). */
nf_status nfi_split_lines(const char *text, size_t len, nfi_line **lines, size_t *n, nf_error *err);

#endif
