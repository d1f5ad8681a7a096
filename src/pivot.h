/* pivot.h - building a document's language-neutral pivot (see pivot.c). */
#ifndef NF_PIVOT_H
#define NF_PIVOT_H

#include "lexicon.h"

typedef struct nf_pivoter nf_pivoter;

nf_status nf_pivoter_new(nf_pivoter **out, const nf_lexicon *lex, nf_error *err);
void nf_pivoter_free(nf_pivoter *p);
nf_status nf_pivot_build(nf_pivoter *p, const nf_clean_doc *doc, nf_pivot *out, nf_error *err);

/* The spelling-tolerant key of a name already in lower-case ASCII. */
size_t nf_name_skeleton(const char *ascii, size_t len, char *out, size_t cap);
uint64_t nf_pivot_hash(int kind, const char *key, size_t len);

#endif
