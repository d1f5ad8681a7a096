/* links.h - the internal contract of src/links/ (never installed). */
#ifndef NF_LINKS_LINKS_H
#define NF_LINKS_LINKS_H

#include "common/common.h"

#include <xxhash.h> /* (pivot.c includes it first, with XXH_INLINE_ALL: its keys are made inline) */

/*
 * lexicon.h - bilingual dictionaries compiled for lookup (see lexicon.c).
 */


typedef struct nfi_lexicon nfi_lexicon;

/* The hash under which an English stem is a pivot term, for documents in
 * English and for dictionary translations alike. */
static inline uint64_t nfi_term_hash(const char *english_stem, size_t len)
{
    return XXH3_64bits_withSeed(english_stem, len, 0x7465726DULL);
}

/* Loads every FreeDict X-eng (and inverted eng-X) dictionary in dict_dir,
 * compiled into a cache file in cache_dir (rebuilt when a dictionary
 * changes), plus the user's TSV lexicon (lang, word, english) if given.
 * Missing dictionaries are not an error: the lexicon is then empty. */
nf_status nfi_lexicon_load(nfi_lexicon **out, const char *dict_dir, const char *cache_dir,
                          const char *user_file, nf_error *err);
void nfi_lexicon_free(nfi_lexicon *lex);

/* Index of the first element >= key in v[0,n), sorted uniform 64-bit
 * hashes: interpolation narrows the range to a few elements in about two
 * steps (the dictionaries hold millions of keys, bisection takes 23 cache
 * misses), then bisection finishes. */
size_t nfi_hash_lower_bound(const uint64_t *v, size_t n, uint64_t key);

/* English function words, which carry no content across languages. */
bool nfi_english_stopword(const char *w, size_t n);

/* Key of a word (or of several words joined by single spaces) of lang. */
uint64_t nfi_lexicon_key(const char *lang, const char *word, size_t len);
/* The same key in two steps, for a caller that keys many words of one
 * language: nfi_lexicon_key(lang, w, n) ==
 * nfi_lexicon_key_seeded(nfi_lexicon_lang_seed(lang), w, n). */
uint64_t nfi_lexicon_lang_seed(const char *lang);
static inline uint64_t nfi_lexicon_key_seeded(uint64_t lang_seed, const char *word, size_t len)
{
    return XXH3_64bits_withSeed(word, len, lang_seed);
}
/* English term hashes for a key; 0 when the word is not in the lexicon. */
size_t nfi_lexicon_lookup(const nfi_lexicon *lex, uint64_t key, const uint64_t **terms);
/* Starts fetching what nfi_lexicon_lookup will read first for key. */
void nfi_lexicon_prefetch(const nfi_lexicon *lex, uint64_t key);
/* Markers: every proper prefix of a headword without spaces (Chinese,
 * Japanese) is in the lexicon under its prefix key with the value
 * NFI_MARK_PREFIX; the first word of every phrase (normalized, and
 * stemmed) under its prefix key with NFI_MARK_HEAD2 or NFI_MARK_HEAD3 (a
 * phrase of 2 or 3 words), and its last word under its suffix key with
 * NFI_MARK_TAIL. So a reader stops extending a match as soon as no
 * headword can follow, and tries a phrase only between a word that begins
 * one and a word that ends one. The key is that of s[0,len) followed
 * (prefix) or preceded (suffix) by a space, which no headword has, keyed
 * in the language of lang_seed (nfi_lexicon_lang_seed) (buf:
 * cap bytes of scratch; 0 when s does not fit, and then s is unmarked and
 * readers must try). Marker values are never term hashes read as terms. */
enum { NFI_PREFIX_KEY_MAX = 128 };
#define NFI_MARK_PREFIX 0x707265666978ULL
#define NFI_MARK_HEAD2 0x6865616432ULL
#define NFI_MARK_HEAD3 0x6865616433ULL
#define NFI_MARK_TAIL 0x7461696CULL
uint64_t nfi_lexicon_prefix_key(uint64_t lang_seed, const char *s, size_t len, char *buf, size_t cap);
uint64_t nfi_lexicon_suffix_key(uint64_t lang_seed, const char *s, size_t len, char *buf, size_t cap);
/* Phrase filter: the key of a phrase of `words` words whose first and
 * last words have the lexicon keys first and last (each the key of a word
 * without spaces, as nfi_lexicon_key makes it); and whether the lexicon may
 * hold a phrase with that key. False means no headword joined from such
 * words exists (no false negatives: every multiword headword's key, by form
 * and by stem, is in the filter), so a reader skips building and looking up
 * the joined phrase; true is wrong for about 2% of the keys tried. */
static inline uint64_t nfi_lexicon_phrase_key(uint64_t first, uint64_t last, size_t words)
{
    uint64_t h = first * 0x9E3779B97F4A7C15ULL ^ (last << 29 | last >> 35) ^ (uint64_t)words;
    h ^= h >> 33; /* murmur's finalizer: the filter reads the low and the high bits */
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    return (h ^ h >> 33) | 1;
}
/* The filter itself (inline: the pivot asks about most words of a German
 * or French text, several times each): words of 64 bits, mask of the word index;
 * a key sets two bits of one word. No filter (no phrase): mask 0 and one
 * empty word. */
typedef struct nfi_phrase_filter {
    const uint64_t *words;
    uint64_t mask;
} nfi_phrase_filter;
nfi_phrase_filter nfi_lexicon_phrase_filter(const nfi_lexicon *lex);
static inline uint64_t nfi_phrase_filter_bits(uint64_t phrase_key)
{
    return 1ULL << (phrase_key >> 52 & 63) | 1ULL << (phrase_key >> 58); /* apart from the word index's */
}
static inline bool nfi_phrase_filter_may_have(nfi_phrase_filter f, uint64_t phrase_key)
{
    uint64_t bits = nfi_phrase_filter_bits(phrase_key);
    return (f.words[phrase_key & f.mask] & bits) == bits;
}
/* Starts fetching what nfi_phrase_filter_may_have will read for the key. */
static inline void nfi_phrase_filter_prefetch(nfi_phrase_filter f, uint64_t phrase_key)
{
    __builtin_prefetch(&f.words[phrase_key & f.mask]);
}
/* Languages with entries, NULL-terminated. */
const char *const *nfi_lexicon_languages(const nfi_lexicon *lex);
bool nfi_lexicon_has(const nfi_lexicon *lex, const char *lang);
size_t nfi_lexicon_size(const nfi_lexicon *lex);

/* pivot.h - building a document's language-neutral pivot (see pivot.c). */


typedef struct nfi_pivoter nfi_pivoter;

/* keep_surface: pivots keep nf_pivot.surface (else NULL). */
nf_status nfi_pivoter_new(nfi_pivoter **out, const nfi_lexicon *lex, bool keep_surface, nf_error *err);
void nfi_pivoter_free(nfi_pivoter *p);
nf_status nfi_pivot_build(nfi_pivoter *p, const nf_clean_doc *doc, nf_pivot *out, nf_error *err);
/* The text a pivot is built from: the cleaned text, or the title where the
 * text holds no token (a headline-only record; a one-sentence document,
 * whose only line cleaning takes for its title). */
const char *nfi_pivot_text(const nf_clean_doc *doc, size_t *len);

/* The spelling-tolerant key of a name already in lower-case ASCII. */
size_t nfi_name_skeleton(const char *ascii, size_t len, char *out, size_t cap);
/* The name features of an ASCII (transliterated) name: its skeleton and,
 * for names of min_consonants+ consonants (at least 2), its consonant key,
 * which forgives what scripts lose or add (vowels, epenthetic vowels, l/r,
 * p/b/v); returns how many hashes (kind bits: name) it wrote, at most
 * NFI_NAME_KEYS. Documents' names key from two consonants (רוסו / Russo,
 * גת / Gat); the names of dictionary glosses from three, where a short key
 * would give common words (a gloss's capitalized "The") a name's weight. */
enum { NFI_NAME_KEYS = 2, NFI_NAME_CONSONANTS = 2, NFI_GLOSS_NAME_CONSONANTS = 3 };
size_t nfi_name_keys(const char *ascii, size_t len, size_t min_consonants, uint64_t *out);
uint64_t nfi_pivot_hash(int kind, const char *key, size_t len);

/* links.c - after nf_links_finish, every candidate pair scored (a < b,
 * sorted), and whether it was linked: what the calibration is fitted on
 * (tests/eval_links --dump, which rescores each with nf_links_explain). A
 * pair that scoring found could not reach the threshold (links.c,
 * score_pair) holds an upper bound of its score and logit (below the
 * threshold), not the exact ones. */
typedef struct nfi_scored_pair {
    uint32_t a, b;
    double score, logit;
    bool linked;
} nfi_scored_pair;

size_t nfi_links_scored(const nf_links *l, const nfi_scored_pair **out);

/* After the last nf_links_finish (a batch fold's): frees what only the
 * finish and nf_links_explain read (weights, cross arrays, paragraph sets,
 * the scored pairs: about 15 bytes a pivot feature), so the stages after
 * links reuse that memory. The stage then gives its pivots only
 * (nf_links_pivot); explain and finish fail. */
void nfi_links_release(nf_links *l);

/* Frees a pivot built by nfi_pivot_build (pivots belong to the links stage). */
void nfi_pivot_free(nf_pivot *p);

/* links.c - pivots on the wire (distributed links, src/mpi/mpi_links.c):
 * put appends document i's record (its pivot, language and text length,
 * never the text; a multiple of 8 bytes) to out; append_pivot adds the
 * document of the record at buf + *pos as the next one,
 * exactly as nf_links_add would have kept it, and moves *pos past it
 * (NF_ERR_PARSE: a truncated or inconsistent record); truncate frees the
 * documents from n on (a rank keeps its pivots only until they are sent). */
void nfi_links_put_pivot(const nf_links *l, size_t i, nfi_buf *out);
nf_status nfi_links_append_pivot(nf_links *l, const char *buf, size_t len, size_t *pos, nf_error *err);
void nfi_links_truncate(nf_links *l, size_t n);
/* Documents added so far. */
size_t nfi_links_size(const nf_links *l);

/* links.c - nf_links_finish in parts, for the distributed finish
 * (src/mpi/mpi_links.c, docs/distributed.md): a rank's stage holds its
 * documents, and each step gives exactly what the single process's finish
 * computes for them. */
enum { NFI_LINKS_LANGS = 255 }; /* languages numbered apart; beyond, the last number is shared */
typedef struct nfi_links_view {
    const nf_pivot *pivot;
    const float *weights; /* per feature, after nfi_links_weigh */
    double norm;
    uint32_t lang_id;
    const char *lang;
} nfi_links_view;
void nfi_links_get_view(const nf_links *l, size_t i, nfi_links_view *v);
/* Features in more documents than this (of n_docs) are not indexed. */
double nfi_links_max_df(size_t n_docs);
/* Numbers the languages by the table seen (the corpus's languages but
 * "und", in the order of their first document, at most NFI_LINKS_LANGS). */
void nfi_links_set_lang_ids(nf_links *l, const char (*seen)[12], uint32_t n_seen);
/* Weights and norms of the stage's documents from the document
 * frequencies of their features (df: every feature of document 0, then of
 * 1, ...) in a corpus of n_docs documents. */
nf_status nfi_links_weigh(nf_links *l, size_t n_docs, const uint32_t *df, nf_error *err);
/* The candidate search of some of the stage's documents over a space of
 * documents numbered in the corpus's order: per number, the stage's
 * document (local) or SIZE_MAX, and its norm; keys: the indexed features
 * of those stage documents, sorted, each with its postings (every document
 * of the corpus that has it, in number order, with its language number and
 * weight). *pairs: the sorted unique candidate pairs (min << 32 | max, in
 * numbers) of the stage's documents (caller frees). */
typedef struct nfi_links_hit {
    uint32_t doc, lang_id;
    float weight;
} nfi_links_hit;
typedef struct nfi_links_space {
    size_t n_docs;
    const size_t *local;
    const double *norms;
    const uint64_t *keys;
    size_t *offsets; /* n_keys + 1 into hits */
    const nfi_links_hit *hits;
    size_t n_keys;
} nfi_links_space;
nf_status nfi_links_search(nf_links *l, const nfi_links_space *s, uint64_t **pairs, size_t *n_pairs, nf_error *err);
/* Scores pairs (a << 32 | b, the stage's documents, a earlier in the
 * corpus than b, of different languages) into out, on the stage's
 * threads; a pair that cannot reach the threshold holds a bound, as in
 * nfi_links_scored. */
nf_status nfi_links_score(const nf_links *l, const uint64_t *pairs, size_t n, nfi_scored_pair *out, nf_error *err);
/* The decision: whether a score may link at all, and whether a pair of
 * that logit links given the best logits of a in b's language and of b in
 * a's language over every candidate pair. */
bool nfi_links_may_link(const nf_links *l, double score);
/* A document's best logit in one other language, with the partner that
 * has it (the smallest number on a tie) and that partner's best logit back
 * in the document's language (witness.c). */
typedef struct nfi_lang_best {
    uint32_t doc;
    char lang[12];
    double score; /* a logit */
    double back;
} nfi_lang_best;
/* The entry's score for lang among n, -INFINITY where none is. */
double nfi_links_best_in(const nfi_lang_best *b, size_t n, const char *lang);
/* The third-language check (witness.c): true when a pair of that logit
 * between a (its best logits per other language: ba) and b (bb) is outranked
 * in a third language: one side has a far closer partner there than the
 * pair and the other side nothing near it, or one side's partner there has
 * a far closer version in that side's language. */
bool nfi_links_witness_veto(const nfi_lang_best *ba, size_t na, const char *lang_a, const nfi_lang_best *bb,
                            size_t nb, const char *lang_b, double logit);
/* Two documents of one language against each other: the order agreement
 * and the shared features of nf_links_explain, over all their features
 * (the stage's documents a and b). */
typedef struct nfi_agreement {
    double order, shared;
} nfi_agreement;
/* The room it scores in, kept from call to call (one caller at a time):
 * *scratch NULL at first, made at the first call and grown as needed;
 * freed by nfi_agree_scratch_free. */
typedef struct nfi_agree_scratch nfi_agree_scratch;
nf_status nfi_links_agreement(const nf_links *l, size_t a, size_t b, nfi_agree_scratch **scratch, nfi_agreement *out,
                              nf_error *err);
void nfi_agree_scratch_free(nfi_agree_scratch *s);
/* The best-match rule and the third-language checks (witness.c), what
 * decides a pair that may link before the sibling check: it is the best
 * match of one side in the other's language (ba: a's best logits per
 * other language, bb: b's) and no third language testifies against it.
 * The caller asks once per pair and passes the answer (picked) to
 * nfi_links_sibling and nfi_links_decide. */
bool nfi_links_picked(double logit, const nfi_lang_best *ba, size_t na, const char *lang_a, const nfi_lang_best *bb,
                      size_t nb, const char *lang_b);
/* The sibling check (witness.c): whether the decision of a pair that may
 * link (documents a and b, by their numbers; partners in ba, bb by the
 * same numbers) needs the agreement of one side x with z, the other side's
 * best partner in x's language: true for a picked pair that only x picks,
 * far below z; *pair: x and z (smaller << 32 | larger). */
bool nfi_links_sibling(bool picked, double logit, const nfi_lang_best *ba, size_t na, const char *lang_a,
                       const nfi_lang_best *bb, size_t nb, const char *lang_b, uint32_t a, uint32_t b, uint64_t *pair);
/* The decision of a pair that may link (one implementation for
 * nf_links_finish and the distributed finish): it is picked
 * (nfi_links_picked) and, where nfi_links_sibling named a pair, that
 * pair's agreement (sibling; NULL where it named none) does not show a
 * rewrite. */
bool nfi_links_decide(bool picked, const nfi_agreement *sibling);
/* A weighted entry (pivot, weights, norms, language number) on the wire:
 * put appends document i's; append adds one as the next document. */
void nfi_links_put_weighted(const nf_links *l, size_t i, nfi_buf *out);
nf_status nfi_links_append_weighted(nf_links *l, const char *buf, size_t len, size_t *pos, nf_error *err);

#endif
