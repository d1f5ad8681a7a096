/*
 * boilerplate.h - line-level boilerplate classification (see boilerplate.c).
 */
#ifndef NF_BOILERPLATE_H
#define NF_BOILERPLATE_H

#include "internal.h"

typedef struct nf_line {
    uint32_t start, len; /* trimmed line, bytes into the text */
    uint32_t number;     /* 1-based line number in the text */
    uint32_t blank_before; /* blank lines between this and the previous line */
    const char *reason;  /* NULL: kept */
} nf_line;

/* Lines shared by several documents of one source: a sorted set of hashes. */
typedef struct nf_template_set {
    uint64_t *hashes;
    size_t len;
} nf_template_set;

/* Hash of a trimmed line within a source group, as used by the set. */
uint64_t nf_template_key(uint64_t group_hash, const char *line, size_t len);
bool nf_template_contains(const nf_template_set *set, uint64_t key);

typedef struct nf_boilerplate_result {
    nf_line *lines; /* every non-blank line, in order */
    size_t n_lines;
    size_t title_line;    /* index of the line used as title, or SIZE_MAX */
    bool title_in_text;   /* the title line is prose and stays in the text */
} nf_boilerplate_result;

/*
 * Splits text into lines and marks boilerplate. title is the given title or
 * NULL (then the first kept headline-like line becomes the title).
 * templates and group_hash may be NULL/0.
 */
nf_status nf_boilerplate_classify(const char *text, size_t len, const char *title,
                                  const nf_template_set *templates, uint64_t group_hash,
                                  nf_boilerplate_result *out, nf_error *err);
void nf_boilerplate_result_free(nf_boilerplate_result *r);

/* Splits text into trimmed non-blank lines only (no classification). */
nf_status nf_split_lines(const char *text, size_t len, nf_line **lines, size_t *n, nf_error *err);

#endif
