/*
 * lexicon.h - bilingual dictionaries compiled for lookup (see lexicon.c).
 */
#ifndef NF_LEXICON_H
#define NF_LEXICON_H

#include "internal.h"

typedef struct nf_lexicon nf_lexicon;

/* The hash under which an English stem is a pivot term, for documents in
 * English and for dictionary translations alike. */
uint64_t nf_term_hash(const char *english_stem, size_t len);

/* Loads every FreeDict X-eng (and inverted eng-X) dictionary in dict_dir,
 * compiled into a cache file in cache_dir (rebuilt when a dictionary
 * changes), plus the user's TSV lexicon (lang, word, english) if given.
 * Missing dictionaries are not an error: the lexicon is then empty. */
nf_status nf_lexicon_load(nf_lexicon **out, const char *dict_dir, const char *cache_dir,
                          const char *user_file, nf_error *err);
void nf_lexicon_free(nf_lexicon *lex);

/* English function words, which carry no content across languages. */
bool nf_english_stopword(const char *w, size_t n);

/* Key of a word (or of several words joined by single spaces) of lang. */
uint64_t nf_lexicon_key(const char *lang, const char *word, size_t len);
/* English term hashes for a key; 0 when the word is not in the lexicon. */
size_t nf_lexicon_lookup(const nf_lexicon *lex, uint64_t key, const uint64_t **terms);
/* Languages with entries, NULL-terminated. */
const char *const *nf_lexicon_languages(const nf_lexicon *lex);
bool nf_lexicon_has(const nf_lexicon *lex, const char *lang);
size_t nf_lexicon_size(const nf_lexicon *lex);

#endif
