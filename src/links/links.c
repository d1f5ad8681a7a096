/*
 * links.c - translations across languages, found without a neural model.
 *
 * Each document becomes a pivot (pivot.c): English terms through bilingual
 * dictionaries, transliterated names, numbers, dates. Two versions of one
 * text in different languages share a large, specific part of their pivots,
 * and share it paragraph by paragraph in the same order.
 *
 * finish():
 *   1. Document frequency of every feature over the corpus; a feature's
 *      weight is kind weight x IDF x (1 + log count), and each document
 *      vector is normalized once. The same pass keeps, per document, the
 *      features that documents of two languages have (its cross arrays:
 *      hashes, weights, and the sequence with only them): a pair
 *      across languages can share no other, so scoring reads only those.
 *   2. Candidates: an inverted index of the features that are not too
 *      common; each document accumulates dot products with the documents of
 *      other languages along its features' postings and keeps the best
 *      `candidates`. No all-pairs comparison happens.
 *   3. Scoring: weighted cosine per feature kind, order agreement (the
 *      longest common subsequence of the features both share, in text
 *      order), paragraph alignment (the longest in-order chain of paragraph
 *      pairs that share enough features) and the ratio of text lengths,
 *      combined by a logistic function fitted on WMT21 and examples/
 *      (docs/links.md) into a score in [0,1]. A pair whose logit, with
 *      order as high as its shared features' counts allow and alignment
 *      at its most favourable, stays below the threshold skips both, and
 *      the longest common subsequence stops once the length it may still
 *      reach cannot link (score_pair): the pair cannot link, and its
 *      bound, kept as its logit, is below that of any pair that may link,
 *      so no best match changes.
 *   4. A pair is a translation when its languages differ, the score
 *      reaches the threshold, it is the best match of one of the two in
 *      the other's language, no third language testifies against it
 *      (witness.c, from each document's best per language) and, where only
 *      one side picks it far below the other's best, that side agrees in
 *      order with the other's best partner in its language (witness.c's
 *      sibling check: one more pair scored, nfi_links_agreement).
 * Documents are processed in index order and candidates sorted, so the
 * result does not depend on thread counts.
 */
#include "links/links.h"
#include "common/common.h"
#include "dedup/dedup.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DF_SHARE 0.05 /* features in more documents than this share are too common for candidates */
#define MIN_MAX_DF 20
#define MAX_MAX_DF 100    /* ... and in more than this many, whatever the corpus size */
#define PARAGRAPH_MATCH 0.25 /* share of a paragraph's features the other must contain */

static const double kind_weight[4] = {1.0, 2.0, 1.5, 1.0}; /* term, name, number, date */

/* Logistic calibration (docs/links.md): logistic regression, each class of
 * each data set weighted equally (the false pairs of examples/ CAL_EXAMPLES
 * times), on the candidate pairs of every visible WMT set (de-fr, fr-de,
 * he-en, zh-en, ja-en, uk-en; negatives: the other candidates) and every
 * cross-language pair of examples/ (negatives: rewrites of the same events,
 * sharing names and numbers but not the text). evidence = ln(1 + features
 * both share): short texts share few, so their order agreement says less;
 * coverage = the smaller share of dictionary terms among the two pivots:
 * where a language has no dictionary (Hebrew), missing terms say nothing
 * and names carry the decision. */
#define CALIBRATION {-2.217, 16.455, 0.558, 3.052, 2.945, 4.446, -6.950, -2.918, 6.221, -3.544, 17.213, 17.679}
static const struct calibration {
    double bias, terms, names, numbers, align, length, order, evidence, order_x_evidence, coverage,
        terms_x_coverage, names_x_uncovered;
} cal = CALIBRATION;
/* Decision: besides reaching the threshold, a pair must be the best match
 * of at least one side in the other's language: a text has one original
 * there, so a rewrite of the same event is not linked next to the real
 * translation. (A stricter threshold for one-sided picks was tried and cost
 * WMT21 recall without removing a false link; docs/links.md.) */

typedef struct doc_entry {
    nf_pivot pivot;
    float *weights;   /* per feature, after finish computed the IDF */
    uint64_t *para_sets; /* each paragraph's sorted unique features, back to back; NULL for a
                            single paragraph (its set is the features but dates: made when needed) */
    size_t *para_offsets; /* n_paragraphs + 1, or NULL */
    /* After the weigh pass, the features in finish's index, in feature
     * order, n_post pairs (feature, postings list) back to back: what the
     * candidate search reads (a quarter of the features or less, where a
     * number per feature took 4 bytes each). */
    uint32_t *post;
    size_t n_post;
    /* The features a pair across languages can share: those that some
     * document of another language has (where the finish knows; else all).
     * Their hashes and weights in hash order, and the sequence with only
     * them, as places in these arrays (not feature indices): what the
     * finish's scoring reads of the pair's other document (a feature's
     * kind is its hash's low two bits, as pivot.c makes it and the wire
     * reader checks). */
    uint64_t *cross_hash; /* NULL where cross_id holds the features */
    uint32_t *cross_id;   /* in nf_links_finish: each one's number in the index (half the bytes a
                             pair reads of a hash; its kind: nf_links.id_kind), else NULL */
    float *cross_w;
    uint16_t *cross_count; /* each one's occurrences in the sequence (at most UINT16_MAX: the
                              finish's bound on order agreement needs no more than MAX_SHARED) */
    void *cross_seq; /* 16-bit places where n_cross <= 65,536 (seq_narrow), else 32-bit */
    size_t n_cross, n_cross_seq;
    size_t n_nondate; /* features that are not dates (what paragraphs compare) */
    char lang[12];
    uint32_t lang_id; /* small integer per language ("und": 0), set in finish */
    size_t text_len;
    double norm;      /* of the weighted vector, all kinds */
    double kind_norm[4];
} doc_entry;

struct nf_links {
    nf_links_options opt;
    nfi_lexicon *lex;
    nfi_pivoter **pivoters;
    int n_pivoters;
    doc_entry *docs;
    size_t n, cap;
    nfi_scored_pair *scored; /* after finish: the candidate pairs, scored */
    uint8_t *id_kind;        /* after finish: per feature number of the index, its kind | ID_ZERO */
    size_t n_feature_ids;
    size_t n_scored;
    bool finished;
    bool released; /* nfi_links_release: pivots only */
    bool adding_ended; /* nf_links_end_adding: no pivoters, no lexicon */
    char *dict_langs;  /* then the dictionary languages, copied (NUL-separated) */
    const char **dict_lang_list; /* ... and listed, NULL-terminated */
};

void nf_links_options_default(nf_links_options *o)
{
    memset(o, 0, sizeof *o);
    o->threshold = 0.5;
    o->threads = 1;
    o->candidates = 10;
}

nf_status nf_links_new(nf_links **out, const nf_links_options *options, nf_error *err)
{
    *out = NULL;
    nf_links *l = calloc(1, sizeof *l);
    if (!l)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (options)
        l->opt = *options;
    else
        nf_links_options_default(&l->opt);
    if (l->opt.threads < 1)
        l->opt.threads = 1;
    if (l->opt.candidates < 1)
        l->opt.candidates = 10;
    nf_status st = nfi_lexicon_load(&l->lex, l->opt.dict_dir, l->opt.cache_dir, l->opt.lexicon_file, err);
    l->pivoters = calloc((size_t)l->opt.threads, sizeof *l->pivoters);
    if (st == NF_OK && !l->pivoters)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (int i = 0; st == NF_OK && i < l->opt.threads; i++, l->n_pivoters++)
        st = nfi_pivoter_new(&l->pivoters[i], l->lex, l->opt.keep_surface != 0, err);
    if (st != NF_OK) {
        nf_links_free(l);
        return st;
    }
    *out = l;
    return NF_OK;
}

/* Frees what the finish reads of an entry beside its pivot. */
static void free_finish_state(doc_entry *d)
{
    free(d->weights);
    free(d->para_sets);
    free(d->para_offsets);
    free(d->post);
    free(d->cross_hash), free(d->cross_id), free(d->cross_w), free(d->cross_count), free(d->cross_seq);
    d->weights = NULL, d->para_sets = NULL, d->para_offsets = NULL, d->post = NULL;
    d->cross_hash = NULL, d->cross_id = NULL, d->cross_w = NULL, d->cross_count = NULL, d->cross_seq = NULL;
    d->n_cross = d->n_cross_seq = 0;
}

/* Frees what an entry holds. */
static void free_entry(doc_entry *d)
{
    nfi_pivot_free(&d->pivot);
    free_finish_state(d);
}

void nfi_links_release(nf_links *l)
{
    for (size_t i = 0; i < l->n; i++)
        free_finish_state(&l->docs[i]);
    free(l->scored), free(l->id_kind);
    l->scored = NULL, l->n_scored = 0, l->id_kind = NULL, l->n_feature_ids = 0;
    l->released = true;
}

/* The pivoters and the lexicon: what only nf_links_add reads. */
static void free_adding_state(nf_links *l)
{
    for (int i = 0; i < l->n_pivoters; i++)
        nfi_pivoter_free(l->pivoters[i]);
    free(l->pivoters);
    nfi_lexicon_free(l->lex);
    l->pivoters = NULL, l->n_pivoters = 0, l->lex = NULL;
}

/* After the last nf_links_add of a batch caller (the links command, a
 * batch fold): the pivoters (their word caches, 16 MB mappings each, and
 * their arenas) and the lexicon (its mapped dictionaries) go back to the
 * kernel, so the finish's peak holds neither. The dictionary languages
 * are copied first: nf_links_dictionary_languages answers from the copy. */
nf_status nf_links_end_adding(nf_links *l, nf_error *err)
{
    if (l->adding_ended)
        return NF_OK;
    const char *const *langs = nfi_lexicon_languages(l->lex);
    size_t n = 0, bytes = 0;
    for (; langs[n]; n++)
        bytes += strlen(langs[n]) + 1;
    l->dict_langs = malloc(bytes + 1);
    l->dict_lang_list = malloc((n + 1) * sizeof *l->dict_lang_list);
    if (!l->dict_langs || !l->dict_lang_list) {
        free(l->dict_langs), free(l->dict_lang_list);
        l->dict_langs = NULL, l->dict_lang_list = NULL;
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0, at = 0; i < n; at += strlen(langs[i++]) + 1) {
        memcpy(l->dict_langs + at, langs[i], strlen(langs[i]) + 1);
        l->dict_lang_list[i] = l->dict_langs + at;
    }
    l->dict_lang_list[n] = NULL;
    free_adding_state(l);
    l->adding_ended = true;
    return NF_OK;
}

void nf_links_free(nf_links *l)
{
    if (!l)
        return;
    free_adding_state(l);
    free(l->dict_langs), free(l->dict_lang_list);
    for (size_t i = 0; i < l->n; i++)
        free_entry(&l->docs[i]);
    free(l->docs);
    free(l->scored), free(l->id_kind);
    free(l);
}

const char *const *nf_links_dictionary_languages(const nf_links *l)
{
    return l->adding_ended ? l->dict_lang_list : nfi_lexicon_languages(l->lex);
}

size_t nfi_links_scored(const nf_links *l, const nfi_scored_pair **out)
{
    *out = l->scored;
    return l->n_scored;
}

const nf_pivot *nf_links_pivot(const nf_links *l, size_t i) { return i < l->n ? &l->docs[i].pivot : NULL; }

/* ------------------------------------------------------------ adding */

typedef struct pivot_ctx {
    const nf_clean_doc *docs;
    doc_entry *out;
} pivot_ctx;

/* The features that are not dates, counted once (alignment compares
 * them). */
static void count_nondate(doc_entry *d)
{
    const nf_pivot *p = &d->pivot;
    d->n_nondate = 0;
    for (size_t j = 0; j < p->n_features; j++)
        d->n_nondate += (p->features[j].hash & 3) != NF_PIVOT_DATE;
}

static bool build_paragraph_sets(doc_entry *d);

static nf_status pivot_task(void *ctx, void *worker, size_t i, nf_error *err)
{
    pivot_ctx *c = ctx;
    snprintf(c->out[i].lang, sizeof c->out[i].lang, "%s", c->docs[i].lang);
    nfi_pivot_text(&c->docs[i], &c->out[i].text_len);
    nf_status st = nfi_pivot_build(*(nfi_pivoter **)worker, &c->docs[i], &c->out[i].pivot, err);
    if (st == NF_OK)
        count_nondate(&c->out[i]);
    if (st == NF_OK && !build_paragraph_sets(&c->out[i]))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return st;
}

nf_status nf_links_add(nf_links *l, const nf_clean_doc *docs, size_t n, nf_error *err)
{
    if (l->adding_ended)
        return nfi_fail(err, NF_ERR_ARG, "nf_links_add after nf_links_end_adding");
    if (l->n + n > l->cap) { /* also after nf_links_finish: a live fold finishes again later */
        size_t cap = l->cap ? l->cap : 1024;
        while (cap < l->n + n)
            cap *= 2;
        doc_entry *d = realloc(l->docs, cap * sizeof *d);
        if (!d)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        l->docs = d;
        l->cap = cap;
    }
    memset(l->docs + l->n, 0, n * sizeof *l->docs);
    pivot_ctx c = {docs, l->docs + l->n};
    nf_status st = nfi_parallel_for(n, l->pivoters, sizeof *l->pivoters, l->n_pivoters, pivot_task, &c, err);
    l->n += n; /* even after a failure: the entries are zeroed or built, and freed alike */
    return st;
}

/* ------------------------------------------------------------ weights */

/* The inverted index of the candidate search: the features found in at
 * least 2 and at most max_df documents, each with its documents. */
typedef struct postings {
    size_t *offsets;   /* n_keys + 1 into hits */
    /* Each posting as the search reads it: the document, its language and
     * the feature's weight side by side, where a (document, feature) pair
     * would send it to two other places (the document, its weights);
     * each feature's grouped by language (group_by_language). The 20 MB
     * file: 465,000 postings in 5.6 MB. */
    struct posting { uint32_t doc, lang_id; float weight; } *hits;
    size_t n_keys;
} postings;

/* Frees what an earlier finish weighed (live folds finish again). */
static void free_weighed(doc_entry *d)
{
    free(d->weights), free(d->post);
    free(d->cross_hash), free(d->cross_id), free(d->cross_w), free(d->cross_count), free(d->cross_seq);
    d->weights = NULL, d->post = NULL, d->n_post = 0;
    d->cross_hash = NULL, d->cross_id = NULL, d->cross_w = NULL, d->cross_count = NULL, d->cross_seq = NULL;
}

/* words: post gets room for a word (8 bytes) per feature; else a
 * postings number each (the distributed scoring's fetched entries). */
static nf_status alloc_doc_arrays(doc_entry *d, bool words)
{
    free_weighed(d);
    d->weights = malloc((d->pivot.n_features + 1) * sizeof *d->weights);
    d->post = malloc((d->pivot.n_features + 1) * (words ? sizeof(uint64_t) : sizeof *d->post));
    return d->weights && d->post ? NF_OK : NF_ERR_NOMEM;
}

/* The two logarithms of a weight, tabled: a feature's IDF by its document
 * frequency (0..n) and its count factor for small counts, each the very
 * expression a feature would compute (the same doubles), once per value
 * rather than once per feature. */
enum { TF_TABLE = 256 };
/* A feature's word, as the weigh pass reads it: its document frequency,
 * whether documents of two languages have it, and its postings list (or
 * UINT32_MAX) above. */
#define FOUND_DF 0x7FFFFFFFu
#define FOUND_ACROSS 0x80000000u
/* A slot's aux once numbered: the number, and this bit where the
 * feature is indexed (neither unique nor too common); so a word's top
 * bit. NO_NUMBER: a word's number where the index gives none. */
#define AUX_INDEXED 0x80000000u
#define NO_NUMBER 0x7FFFFFFFu
enum { INDEX_CHUNKS = 16, INDEX_CHUNK_SHIFT = 60 }; /* the chunk of a hash: its top 4 bits */
enum { ID_ZERO = 4 }; /* in nf_links.id_kind beside the kind: the feature's hash is 0 */

/* The index: every distinct feature of the corpus in a table, one per
 * chunk (the features whose hashes share their top 4 bits), counted
 * document by document. A slot holds the feature's hash, its document
 * frequency with the across flag (documents of two known languages have
 * it: only then can a pair across languages share it), and while
 * counting the first known language met, then the feature's number
 * within the chunk (key_base makes the numbers global): the number of
 * its postings list (empty unless it is indexed: neither unique nor too
 * common) and what the cross arrays hold in place of its hash. A slot's place is the hash's
 * bits below the chunk's, so a document, whose features are sorted by
 * hash, walks each table front to back. The corpus has far fewer
 * distinct features than (feature, document) pairs (22,566 for 4.4
 * million on the 20 MB file), so the tables are small (1 MB there),
 * where sorting every pair (the index before) moved 16 bytes a pair
 * several times and wrote an 8-byte word per pair for the weigh pass,
 * in fresh pages the kernel zeroes. A chunk's table is filled
 * by one thread in document order and numbered in slot order: nothing
 * depends on the thread count. */
typedef struct feature_slot {
    uint64_t hash;
    uint32_t df;  /* document frequency | FOUND_ACROSS; 0: an empty slot */
    uint32_t aux; /* the first known language, then the feature's number */
} feature_slot;

typedef struct feature_table {
    feature_slot *slot;
    size_t n, mask;
    int bits;         /* log2 of the slots */
    uint32_t *key_df; /* per feature number of the chunk, its postings list's length */
} feature_table;

static size_t slot_of(uint64_t hash, int bits) { return (size_t)(hash << (64 - INDEX_CHUNK_SHIFT) >> (64 - bits)); }

/* The table's slot of hash: its own, or the empty one where it goes. */
static feature_slot *table_probe(const feature_table *t, uint64_t hash)
{
    size_t k = slot_of(hash, t->bits);
    while (t->slot[k].hash != hash && t->slot[k].df) /* (an empty slot's hash is 0: stops there too) */
        k = (k + 1) & t->mask;
    return &t->slot[k];
}

/* A table of 2^bits empty slots, or one twice as large holding t's
 * features (at most half full). */
static bool table_resize(feature_table *t, int bits)
{
    feature_slot *old = t->slot;
    size_t old_n = old ? t->mask + 1 : 0;
    t->slot = calloc((size_t)1 << bits, sizeof *t->slot);
    if (!t->slot) {
        t->slot = old;
        return false;
    }
    t->bits = bits, t->mask = ((size_t)1 << bits) - 1;
    for (size_t k = 0; k < old_n; k++)
        if (old[k].df)
            *table_probe(t, old[k].hash) = old[k];
    free(old);
    return true;
}

/* One more document (of language lang) has the feature hash; the table
 * has room for it. */
static void table_count(feature_table *t, uint64_t hash, uint32_t lang)
{
    feature_slot *s = table_probe(t, hash);
    if (!s->df) {
        *s = (feature_slot){hash, 1, lang};
        t->n++;
        return;
    }
    uint32_t first = s->aux, differ = (lang != 0) & (first != 0) & (lang != first);
    s->df = (s->df + 1) | differ << 31; /* FOUND_ACROSS */
    s->aux = first ? first : lang;
}

typedef struct index_job {
    const nf_links *l;
    double max_df;
    feature_table table[INDEX_CHUNKS];
} index_job;

/* The place of a document's first feature of chunk c (or after: n) in
 * its n features, sorted by hash: the stretch of a chunk lies a few
 * places from its share of the features, as hashes are uniform (a walk,
 * where bisection would wait on ten misses). */
static size_t chunk_start(const nf_pivot_feature *f, size_t n, size_t c)
{
    if (c >= INDEX_CHUNKS)
        return n;
    uint64_t lo = (uint64_t)c << INDEX_CHUNK_SHIFT;
    size_t at = n * c / INDEX_CHUNKS;
    while (at > 0 && f[at - 1].hash >= lo)
        at--;
    while (at < n && f[at].hash < lo)
        at++;
    return at;
}

/* Chunk c's table: every document's features of the chunk (one stretch
 * of its sorted array) counted, then numbered in slot order. */
static nf_status index_chunk_task(void *ctx, void *worker, size_t c, nf_error *err)
{
    (void)worker;
    index_job *j = ctx;
    const nf_links *l = j->l;
    feature_table *t = &j->table[c];
    if (!table_resize(t, 10))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < l->n; i++) {
        const nf_pivot *p = &l->docs[i].pivot;
        const nf_pivot_feature *f = p->features;
        size_t end = p->n_features, at = chunk_start(f, end, c), stop = chunk_start(f, end, c + 1);
        uint32_t lang = l->docs[i].lang_id;
        while (2 * (t->n + stop - at) > t->mask + 1) /* at most half full */
            if (!table_resize(t, t->bits + 1))
                return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        for (; at < stop; at++)
            table_count(t, f[at].hash, lang);
    }
    if (!(t->key_df = malloc((t->n + 1) * sizeof *t->key_df)))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t k = 0, id = 0; k <= t->mask; k++) {
        feature_slot *s = &t->slot[k];
        uint32_t df = s->df & FOUND_DF;
        if (!df)
            continue;
        bool kept = df >= 2 && df <= j->max_df;
        t->key_df[id] = kept ? df : 0;
        s->aux = (uint32_t)id++ | (kept ? AUX_INDEXED : 0);
    }
    return NF_OK;
}

typedef struct weigh_ctx {
    nf_links *l;
    size_t n_docs; /* the corpus's (the stage's, or every rank's: nfi_links_weigh) */
    const feature_table *table; /* the index's tables (INDEX_CHUNKS), or NULL: ... */
    const uint32_t *df;         /* ... else every feature's document frequency, document by document */
    const size_t *df_at;        /* ... each document's first in df */
    double *idf; /* n_docs + 1 */
    double tf[TF_TABLE];
} weigh_ctx;

/* A thread's room for one document's words and cross places. */
typedef struct weigh_scratch {
    uint64_t *word;
    uint32_t *at;
} weigh_scratch;

static double idf_of(size_t n_docs, float df) { return 1.0 + log((double)(n_docs + 1) / (double)(df + 1)); }
static double tf_of(uint32_t count) { return 1.0 + log((double)count); }

static bool weigh_tables(weigh_ctx *c)
{
    if (!(c->idf = malloc((c->n_docs + 1) * sizeof *c->idf)))
        return false;
    for (size_t df = 0; df <= c->n_docs; df++)
        c->idf[df] = idf_of(c->n_docs, (float)df);
    for (uint32_t k = 0; k < TF_TABLE; k++)
        c->tf[k] = tf_of(k);
    return true;
}

/* Whether a sequence of places in a list of n features is kept in 16
 * bits (half the bytes a pair reads of it), and its element i. */
static bool seq_narrow(size_t n) { return n <= 65536; }
static inline uint32_t seq_at(const void *seq, bool narrow, size_t i)
{
    return narrow ? ((const uint16_t *)seq)[i] : ((const uint32_t *)seq)[i];
}
static inline void seq_set(void *seq, bool narrow, size_t i, uint32_t place)
{
    if (narrow)
        ((uint16_t *)seq)[i] = (uint16_t)place;
    else
        ((uint32_t *)seq)[i] = place;
}

static uint16_t count16(uint32_t count) { return count < UINT16_MAX ? (uint16_t)count : UINT16_MAX; }

/* Allocates d's cross arrays for n features (by number, else by hash)
 * and m sequence elements. */
static bool alloc_cross(doc_entry *d, size_t n, size_t m, bool numbers)
{
    if (numbers)
        d->cross_id = malloc((n + 1) * sizeof *d->cross_id);
    else
        d->cross_hash = malloc((n + 1) * sizeof *d->cross_hash);
    d->cross_w = malloc((n + 1) * sizeof *d->cross_w);
    d->cross_count = malloc((n + 1) * sizeof *d->cross_count);
    d->cross_seq = malloc((m + 1) * (seq_narrow(n) ? sizeof(uint16_t) : sizeof(uint32_t)));
    return (d->cross_id || d->cross_hash) && d->cross_w && d->cross_count && d->cross_seq;
}

/* Every feature of d in its cross arrays (where the document frequencies
 * are unknown: any feature may be shared), after its weights. */
static bool cross_all(doc_entry *d)
{
    const nf_pivot *p = &d->pivot;
    if (!alloc_cross(d, p->n_features, p->n_sequence, false))
        return false;
    for (size_t j = 0; j < p->n_features; j++) {
        d->cross_hash[j] = p->features[j].hash, d->cross_w[j] = d->weights[j];
        d->cross_count[j] = count16(p->features[j].count);
    }
    for (size_t k = 0; k < p->n_sequence; k++)
        seq_set(d->cross_seq, seq_narrow(p->n_features), k, nf_pivot_place(p, k));
    d->n_cross = p->n_features, d->n_cross_seq = p->n_sequence;
    return true;
}

/* Document i's words into word (one per feature): from the index's
 * tables (probed in hash order, each table front to back), or from the
 * summed document frequencies of the distributed finish, where the languages
 * are unknown (a feature another document has may be shared) and no
 * postings are kept; and each feature's place among those of the across
 * flag into at (NOT_ACROSS where it has none). Returns those places'
 * count, and in *n_indexed the indexed features'. */
#define NOT_ACROSS 0x80000000u
static size_t words_of(const weigh_ctx *c, size_t i, uint64_t *word, uint32_t *at, size_t *n_indexed)
{
    const nf_pivot *p = &c->l->docs[i].pivot;
    size_t nf = p->n_features, n = 0, q = 0;
    enum { AHEAD = 8 }; /* a document's slots lie ~100 apart: fetched ahead, the misses overlap */
    const nf_pivot_feature *f = p->features;
    for (size_t j = 0; j < nf; j++) {
        uint64_t x;
        if (!c->table) { /* (the same branch for every feature of a finish) */
            uint32_t df = c->df[c->df_at[i] + j];
            x = (uint64_t)NO_NUMBER << 32 | (df & FOUND_DF) | (df >= 2 ? FOUND_ACROSS : 0); /* not indexed */
        } else {
            if (j + AHEAD < nf) {
                uint64_t g = f[j + AHEAD].hash;
                const feature_table *t = &c->table[(size_t)(g >> INDEX_CHUNK_SHIFT)];
                __builtin_prefetch(&t->slot[slot_of(g, t->bits)]);
            }
            uint64_t h = f[j].hash;
            const feature_slot *s = table_probe(&c->table[(size_t)(h >> INDEX_CHUNK_SHIFT)], h);
            x = (uint64_t)s->aux << 32 | s->df;
        }
        word[j] = x;
        uint32_t across = (uint32_t)x >> 31; /* FOUND_ACROSS; no branch on the flags */
        at[j] = (uint32_t)n | (across ^ 1) << 31;
        n += across;
        q += x >> 63; /* AUX_INDEXED */
    }
    *n_indexed = q;
    return n;
}

/* d's sequence with only the features of the across flag, each as its
 * place among them (at), into seq (16 or 32 bits a place); returns its
 * length. The pivot's own sequence is 16-bit where in16 (nf_pivot_place).
 * No branch on the flag: each element is written at the next place, which
 * moves on only for a kept one. */
static inline __attribute__((always_inline)) uint32_t place_at(const void *seq, bool in16, size_t k)
{
    return in16 ? ((const uint16_t *)seq)[k] : ((const uint32_t *)seq)[k];
}

static inline __attribute__((always_inline)) size_t cross_sequence(const nf_pivot *p, const uint32_t *at, void *seq,
                                                                   bool in16, bool narrow)
{
    size_t m = 0, k = 0, len = p->n_sequence;
    const void *in = p->sequence;
    for (; k + 4 <= len; k += 4) { /* four a step: the loop's own count and test once */
        uint32_t x0 = at[place_at(in, in16, k)], x1 = at[place_at(in, in16, k + 1)],
                 x2 = at[place_at(in, in16, k + 2)], x3 = at[place_at(in, in16, k + 3)];
        seq_set(seq, narrow, m, x0), m += 1 - (x0 >> 31);
        seq_set(seq, narrow, m, x1), m += 1 - (x1 >> 31);
        seq_set(seq, narrow, m, x2), m += 1 - (x2 >> 31);
        seq_set(seq, narrow, m, x3), m += 1 - (x3 >> 31);
    }
    for (; k < len; k++) {
        uint32_t x = at[place_at(in, in16, k)];
        seq_set(seq, narrow, m, x), m += 1 - (x >> 31);
    }
    return m;
}

/* d's weights from its words, its postings and its cross features
 * (numbers where by_id, else hashes, and weights); returns the sum of
 * squared weights, kind by kind into kind_sum. */
static inline __attribute__((always_inline)) double weigh_features(const weigh_ctx *c, doc_entry *d,
                                                                   const uint64_t *word, bool by_id,
                                                                   double kind_sum[4])
{
    const nf_pivot *p = &d->pivot;
    const nf_pivot_feature *f = p->features;
    float *weights = d->weights, *cross_w = d->cross_w;
    uint16_t *cross_count = d->cross_count;
    uint32_t *post = d->post, *cross_id = d->cross_id;
    uint64_t *cross_hash = d->cross_hash;
    double sum = 0;
    size_t n = 0, q = 0;
    for (size_t j = 0; j < p->n_features; j++) {
        uint64_t x = word[j];
        uint32_t id = (uint32_t)(x >> 32) & ~AUX_INDEXED, kind = f[j].hash & 3, count = f[j].count;
        post[2 * q] = (uint32_t)j, post[2 * q + 1] = id; /* kept where indexed: no branch */
        q += x >> 63;
        double idf = c->idf[x & FOUND_DF];
        double tf = count < TF_TABLE ? c->tf[count] : tf_of(count);
        float wf = weights[j] = (float)(kind_weight[kind] * idf * tf);
        double w = wf;
        sum += w * w;
        kind_sum[kind] += w * w;
        if (by_id)
            cross_id[n] = id;
        else
            cross_hash[n] = f[j].hash;
        cross_w[n] = wf, cross_count[n] = count16(count); /* kept where across: no branch on it */
        n += (uint32_t)x >> 31;
    }
    d->n_post = q, d->n_cross = n;
    return sum;
}

/* A document's weights (kind weight x IDF x (1 + log count)) from its
 * words, its norms, postings (its indexed features: feature and list, 2
 * numbers each) and cross arrays: its features of the across flag (their
 * numbers where the index gave them, else hashes), and its sequence with
 * only them (each one's place among them, from `at`). Each array is made
 * at its size, once the words are counted. */
static nf_status weigh_task(void *ctx, void *worker, size_t i, nf_error *err)
{
    const weigh_ctx *c = ctx;
    weigh_scratch *s = worker;
    doc_entry *d = &c->l->docs[i];
    const nf_pivot *p = &d->pivot;
    double kind_sum[4] = {0};
    size_t q;
    size_t n = words_of(c, i, s->word, s->at, &q);
    free_weighed(d);
    d->weights = malloc((p->n_features + 1) * sizeof *d->weights);
    d->post = malloc((2 * q + 2) * sizeof *d->post); /* (room for the last unkept write) */
    if (!d->weights || !d->post || !alloc_cross(d, n, p->n_sequence, c->table != NULL)) /* the sequence at most; shrunk below */
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    bool narrow = seq_narrow(n);
    size_t m = p->n_features <= NF_PIVOT_NARROW ? cross_sequence(p, s->at, d->cross_seq, true, true) /* (n <= n_features) */
               : narrow                         ? cross_sequence(p, s->at, d->cross_seq, false, true)
                                                : cross_sequence(p, s->at, d->cross_seq, false, false);
    void *seq = realloc(d->cross_seq, (m + 1) * (narrow ? sizeof(uint16_t) : sizeof(uint32_t)));
    d->cross_seq = seq ? seq : d->cross_seq;
    d->n_cross_seq = m;
    double sum = d->cross_id ? weigh_features(c, d, s->word, true, kind_sum) /* each kind of list its own loop */
                             : weigh_features(c, d, s->word, false, kind_sum);
    d->norm = sqrt(sum);
    for (int kk = 0; kk < 4; kk++)
        d->kind_norm[kk] = sqrt(kind_sum[kk]);
    return NF_OK;
}

/* Runs weigh_task over the stage's documents, each thread with room for
 * the largest document's features. */
static nf_status weigh_all(weigh_ctx *c, nf_error *err)
{
    nf_links *l = c->l;
    int threads = l->opt.threads;
    size_t cap = 0;
    for (size_t i = 0; i < l->n; i++)
        cap = l->docs[i].pivot.n_features > cap ? l->docs[i].pivot.n_features : cap;
    weigh_scratch *s = calloc((size_t)threads, sizeof *s);
    nf_status st = s && weigh_tables(c) ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (int t = 0; st == NF_OK && t < threads; t++)
        if (!(s[t].word = malloc((cap + 1) * sizeof *s[t].word)) || !(s[t].at = malloc((cap + 1) * sizeof *s[t].at)))
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (st == NF_OK)
        st = nfi_parallel_for(l->n, s, sizeof *s, threads, weigh_task, c, err);
    for (int t = 0; s && t < threads; t++)
        free(s[t].word), free(s[t].at);
    free(s);
    free(c->idf);
    c->idf = NULL;
    return st;
}

double nfi_links_max_df(size_t n_docs)
{
    double max_df = n_docs * MAX_DF_SHARE;
    if (max_df > MAX_MAX_DF)
        max_df = MAX_MAX_DF;
    if (max_df < MIN_MAX_DF)
        max_df = MIN_MAX_DF;
    return max_df;
}

/* Orders one feature's postings by language, stably (each language's in
 * document order): the candidate search then finds the run of a
 * document's own language by bisection and skips it unread.
 * A document's sums do not depend on this order (each other document is
 * met once per feature, features in order), nor does its choice of
 * candidates (the best by score, then by document). */
static void group_by_language(struct posting *h, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (h[i].lang_id >= h[i - 1].lang_id)
            continue;
        struct posting x = h[i];
        size_t k = i;
        for (; k > 0 && h[k - 1].lang_id > x.lang_id; k--)
            h[k] = h[k - 1];
        h[k] = x;
    }
}

/* The postings, a list per feature number (empty unless the feature is
 * indexed), each in document order (documents are read in order, each
 * appending to the lists of its indexed features), then grouped by
 * language. */
static nf_status make_postings(const nf_links *l, postings *p, const index_job *j, const size_t *key_base,
                               nf_error *err)
{
    p->n_keys = key_base[INDEX_CHUNKS];
    p->offsets = malloc((p->n_keys + 1) * sizeof *p->offsets);
    if (!p->offsets)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    size_t total = 0; /* offsets[key + 1]: the list's start, then (filling moves it) its end */
    p->offsets[0] = 0;
    for (int c = 0; c < INDEX_CHUNKS; c++)
        for (size_t k = 0; k < j->table[c].n; k++) {
            p->offsets[key_base[c] + k + 1] = total;
            total += j->table[c].key_df[k];
        }
    if (!(p->hits = malloc((total ? total : 1) * sizeof *p->hits)))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < l->n; i++) {
        const doc_entry *d = &l->docs[i];
        for (size_t q = 0; q < d->n_post; q++)
            p->hits[p->offsets[d->post[2 * q + 1] + 1]++] = (struct posting){(uint32_t)i, d->lang_id,
                                                                             d->weights[d->post[2 * q]]};
    }
    for (size_t key = 0; key < p->n_keys; key++)
        group_by_language(p->hits + p->offsets[key], p->offsets[key + 1] - p->offsets[key]);
    return NF_OK;
}

/* The index (above) gives each feature's document frequency, hence
 * every weight, and the postings of the candidate search. The chunks'
 * tables and the per-document work run on all threads. */
static nf_status index_features(nf_links *l, postings *p, nf_error *err)
{
    memset(p, 0, sizeof *p);
    index_job *j = calloc(1, sizeof *j);
    size_t key_base[INDEX_CHUNKS + 1] = {0};
    int threads = l->opt.threads < INDEX_CHUNKS ? l->opt.threads : INDEX_CHUNKS;
    nf_status st = j ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (st == NF_OK) {
        j->l = l, j->max_df = nfi_links_max_df(l->n);
        st = nfi_parallel_for(INDEX_CHUNKS, NULL, 0, threads, index_chunk_task, j, err);
    }
    for (int c = 0; j && c < INDEX_CHUNKS; c++)
        key_base[c + 1] = key_base[c] + j->table[c].n;
    free(l->id_kind); /* an earlier finish's */
    l->n_feature_ids = key_base[INDEX_CHUNKS];
    if (!(l->id_kind = malloc(l->n_feature_ids + 1)) && st == NF_OK)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (int c = 0; st == NF_OK && c < INDEX_CHUNKS; c++) {
        const feature_table *t = &j->table[c];
        for (size_t k = 0; k <= t->mask; k++) { /* each number made global, its kind noted */
            feature_slot *f = &t->slot[k];
            f->aux += f->df ? (uint32_t)key_base[c] : 0;
            if (f->df)
                l->id_kind[f->aux & ~AUX_INDEXED] = (uint8_t)((f->hash & 3) | (f->hash ? 0 : ID_ZERO));
        }
    }
    weigh_ctx wc = {.l = l, .n_docs = l->n, .table = j ? j->table : NULL};
    if (st == NF_OK)
        st = weigh_all(&wc, err);
    for (int c = 0; j && c < INDEX_CHUNKS; c++)
        free(j->table[c].slot), j->table[c].slot = NULL;
    if (st == NF_OK)
        st = make_postings(l, p, j, key_base, err);
    for (int c = 0; j && c < INDEX_CHUNKS; c++)
        free(j->table[c].key_df);
    free(j);
    return st;
}

static void postings_free(postings *p)
{
    free(p->offsets);
    free(p->hits);
}

/* ------------------------------------------------------------ scoring */

/* Numbers the languages so the candidate search compares integers: in
 * the order of their first document (the table), "und" and none 0. */
static void assign_language_ids(nf_links *l)
{
    char seen[NFI_LINKS_LANGS][12];
    uint32_t n_seen = 0;
    for (size_t i = 0; i < l->n; i++) {
        const doc_entry *d = &l->docs[i];
        if (strcmp(d->lang, "und") == 0 || !d->lang[0])
            continue;
        uint32_t k = 0;
        while (k < n_seen && strcmp(seen[k], d->lang) != 0)
            k++;
        if (k == n_seen && n_seen < NFI_LINKS_LANGS)
            memcpy(seen[n_seen++], d->lang, sizeof seen[0]);
    }
    nfi_links_set_lang_ids(l, (const char(*)[12])seen, n_seen);
}

void nfi_links_set_lang_ids(nf_links *l, const char (*seen)[12], uint32_t n_seen)
{
    for (size_t i = 0; i < l->n; i++) {
        doc_entry *d = &l->docs[i];
        d->lang_id = 0;
        if (strcmp(d->lang, "und") == 0 || !d->lang[0])
            continue;
        uint32_t k = 0;
        while (k < n_seen && strcmp(seen[k], d->lang) != 0)
            k++;
        d->lang_id = k + 1; /* beyond 255 languages, the last id is shared: still correct, less selective */
    }
}

/* A single paragraph's set: the whole sequence but dates, that is the
 * features but dates (already sorted and unique). */
static size_t single_paragraph_set(const nf_pivot *p, uint64_t *out)
{
    size_t n = 0;
    for (size_t k = 0; k < p->n_features; k++)
        if ((p->features[k].hash & 3) != NF_PIVOT_DATE)
            out[n++] = p->features[k].hash;
    return n;
}

static size_t paragraph_set(const nf_pivot *p, size_t i, uint64_t *out, uint64_t *scratch)
{
    size_t start = i ? p->paragraph_ends[i - 1] : 0, end = p->paragraph_ends[i], n = 0;
    for (size_t k = start; k < end; k++)
        if ((p->features[nf_pivot_place(p, k)].hash & 3) != NF_PIVOT_DATE)
            out[n++] = p->features[nf_pivot_place(p, k)].hash;
    nfi_u64_sort(out, n, scratch); /* a paragraph may be a whole document */
    size_t w = 0;
    for (size_t a = 0; a < n; a++)
        if (!w || out[w - 1] != out[a])
            out[w++] = out[a];
    return w;
}

/* The paragraph sets of a document of several paragraphs, at their size
 * (they wait in memory with the pivot until finish). */
static bool build_paragraph_sets(doc_entry *d)
{
    const nf_pivot *p = &d->pivot;
    if (p->n_paragraphs < 2)
        return true;
    d->para_sets = malloc((p->n_sequence + 1) * sizeof *d->para_sets);
    d->para_offsets = malloc((p->n_paragraphs + 1) * sizeof *d->para_offsets);
    uint64_t *scratch = malloc((p->n_sequence + 1) * sizeof *scratch);
    if (!d->para_sets || !d->para_offsets || !scratch)
        return free(scratch), false;
    d->para_offsets[0] = 0;
    for (size_t i = 0; i < p->n_paragraphs; i++)
        d->para_offsets[i + 1] =
            d->para_offsets[i] + paragraph_set(p, i, d->para_sets + d->para_offsets[i], scratch);
    free(scratch);
    uint64_t *fit = realloc(d->para_sets, (d->para_offsets[p->n_paragraphs] + 1) * sizeof *fit);
    d->para_sets = fit ? fit : d->para_sets;
    return true;
}

/* Share of paragraphs that align in order (longest chain of matches).
 * Only cells near the diagonal are computed: a translation keeps its
 * paragraphs in place, so a chain far off the diagonal is no evidence.
 * shared: the features both documents have, dates aside. */
static double alignment(const doc_entry *a, const doc_entry *b, size_t shared, uint64_t *single)
{
    size_t pa = a->pivot.n_paragraphs, pb = b->pivot.n_paragraphs;
    if (!pa || !pb || pa > 400 || pb > 400)
        return 0;
    if (pa == 1 && pb == 1) { /* one cell, whose paragraphs are the documents: the merge counted it */
        size_t smaller = a->n_nondate < b->n_nondate ? a->n_nondate : b->n_nondate;
        return shared >= 2 && shared >= PARAGRAPH_MATCH * (double)smaller ? 1.0 : 0.0;
    }
    uint16_t *dp = calloc((pa + 1) * (pb + 1), sizeof *dp);
    if (!dp)
        return 0;
    /* one side of a single paragraph: its set made here (single: room for its features) */
    size_t one[2] = {0, 0};
    const uint64_t *seta = a->para_sets, *setb = b->para_sets;
    const size_t *offa = a->para_offsets, *offb = b->para_offsets;
    if (pa == 1)
        one[1] = single_paragraph_set(&a->pivot, single), seta = single, offa = one;
    if (pb == 1)
        one[1] = single_paragraph_set(&b->pivot, single), setb = single, offb = one;
    size_t band = pb / 8 > 2 ? pb / 8 : 2;
    for (size_t i = 1; i <= pa; i++) {
        size_t centre = i * pb / pa, lo = centre > band ? centre - band : 1, hi = centre + band < pb ? centre + band : pb;
        for (size_t j = 1; j <= pb; j++) {
            if (j < lo || j > hi) { /* outside the band: carry the best so far */
                uint16_t up = dp[(i - 1) * (pb + 1) + j], left = dp[i * (pb + 1) + j - 1];
                dp[i * (pb + 1) + j] = up > left ? up : left;
                continue;
            }
            size_t na = offa[i] - offa[i - 1], nb = offb[j] - offb[j - 1];
            size_t both = nfi_intersection_size(seta + offa[i - 1], na, setb + offb[j - 1], nb);
            size_t smaller = na < nb ? na : nb;
            bool match = both >= 2 && both >= PARAGRAPH_MATCH * (double)smaller;
            uint16_t up = dp[(i - 1) * (pb + 1) + j], left = dp[i * (pb + 1) + j - 1];
            uint16_t diag = (uint16_t)(dp[(i - 1) * (pb + 1) + j - 1] + (match ? 1 : 0));
            uint16_t best = up > left ? up : left;
            dp[i * (pb + 1) + j] = diag > best ? diag : best;
        }
    }
    double result = (double)dp[pa * (pb + 1) + pb] / (double)(pa > pb ? pa : pb);
    free(dp);
    return result;
}

/* Order agreement compares at most 64 x LCS_MAX_WORDS shared features. */
enum { LCS_MAX_WORDS = 10, MAX_SHARED = 64 * LCS_MAX_WORDS };
#define SHARED_MARK 0x80000000u /* on a shared feature's number in the sequences order agreement compares */

/* One thread's scratch for scoring pairs. Matching two feature lists
 * numbers the features both have (dates and hash 0 aside) 0, 1, ... in
 * hash order; shared_a/shared_b give each number's place in a's and b's
 * lists.
 * For order agreement, each document's sequence is read for those
 * numbers (scan_places; id_of), and the longest common subsequence
 * (pair_lcs) keeps a match mask at each number (masks).
 *
 * The features of a are found through a table built once per document a
 * (pairs come sorted by a, so one table serves a run of a's candidates):
 * a bit filter of their hashes, then an open-addressing table of their
 * indices. Walking b in hash order and probing a meets the shared
 * features in hash order, as a merge of the two sorted lists would, so
 * the sums add up in the same order; but most of b's features stop at
 * the filter, and each probe is independent of the last where a merge's
 * next load waits on its last comparison. */
enum { MATCH_FILTER_LOG = 15, MATCH_FILTER_BITS = 1 << MATCH_FILTER_LOG };
typedef struct pair_scratch {
    uint32_t *shared_a, *shared_b; /* for each number, its place in a's list and in b's */
    uint32_t *id_of[2];            /* per place in a's list and in b's, SHARED_MARK | its number (0: none) */
    uint64_t *masks;               /* pair_lcs's match masks: LCS_MAX_WORDS words per number */
    uint32_t *passed;              /* b's features that pass a's filter, in b's order */
    uint64_t *single;              /* a single-paragraph document's paragraph set (alignment) */
    size_t cap;                    /* features of the largest document */
    size_t table_of;               /* the document whose features the table holds (SIZE_MAX: none) */
    size_t table_mask;             /* its slots - 1 */
    uint32_t *table;               /* feature index per slot, UINT32_MAX: empty */
    uint64_t filter[MATCH_FILTER_BITS / 64];
    uint64_t *id_bits;             /* lists of feature numbers: the table's document's, a bit each ... */
    uint32_t *id_place;            /* ... and each one's place in its list (valid where its bit is set) */
    const uint32_t *bits_of;       /* the list whose bits are set (cleared by it), n_bits_of numbers */
    size_t n_bits_of;
    double prune_logit;            /* score_pair's (prune_logit), -inf: no pruning */
    uint32_t sa[MAX_SHARED], sb[MAX_SHARED];
} pair_scratch;

/* At most a quarter full: a probe's length varies less (at half full,
 * the varying lengths cost more mispredicted branches than the larger
 * table's clearing costs once per document a). */
static size_t table_slots(size_t n_features)
{
    size_t slots = 64;
    while (slots < 4 * n_features)
        slots *= 2;
    return slots;
}
static size_t table_slot(uint64_t hash, size_t mask) { return (size_t)(hash >> 7) & mask; }
static size_t filter_bit(uint64_t hash) { return (size_t)(hash >> (64 - MATCH_FILTER_LOG)); /* the top bits: no mask */ }

/* What a pair's scoring reads of one document: some of its features
 * (their hashes, kind in the low two bits, and weights, in hash order) and its sequence with
 * only those, each as its place in the list. The finish reads the cross arrays, which leave
 * out features no pair across languages can share; nf_links_explain, for
 * any pair, every feature. */
typedef struct feature_list {
    const uint64_t *hash;    /* NULL where ... */
    const uint32_t *id;      /* ... the features are the index's numbers */
    const uint8_t *id_kind;  /* (then each number's kind and ID_ZERO) */
    const float *w;
    const uint16_t *count; /* each one's occurrences in seq (count16) */
    size_t n;
    const void *seq;
    size_t n_seq;
    bool seq16; /* seq holds 16-bit places, else 32-bit */
} feature_list;

static feature_list cross_list(const nf_links *l, const doc_entry *d)
{
    return (feature_list){d->cross_hash, d->cross_id, l->id_kind, d->cross_w, d->cross_count, d->n_cross,
                          d->cross_seq, d->n_cross_seq, seq_narrow(d->n_cross)};
}

/* Makes the scratch's table hold the features of list fa, document ia's. */
static void match_table_for(size_t ia, const feature_list *fa, pair_scratch *s)
{
    if (s->table_of == ia)
        return;
    s->table_of = ia;
    s->table_mask = table_slots(fa->n) - 1;
    memset(s->table, 0xFF, (s->table_mask + 1) * sizeof *s->table);
    memset(s->filter, 0, sizeof s->filter);
    for (size_t i = 0; i < fa->n; i++) {
        uint64_t h = fa->hash[i];
        size_t k = table_slot(h, s->table_mask);
        while (s->table[k] != UINT32_MAX)
            k = (k + 1) & s->table_mask;
        s->table[k] = (uint32_t)i;
        s->filter[filter_bit(h) / 64] |= 1ULL << (filter_bit(h) % 64);
    }
}

/* Which of the n hashes hb pass the filter of the table's document:
 * their positions, in order, into s->passed; returns how many. No branch on
 * the outcome (a pair's features pass or fail in no pattern): the probes
 * of the table then follow for those that passed. */
static size_t match_filter(pair_scratch *s, const uint64_t *hb, size_t n)
{
    size_t m = 0, j = 0;
    const uint64_t *f = s->filter;
    for (; j + 4 <= n; j += 4) { /* four a step: the loop's own count and test once */
        size_t f0 = filter_bit(hb[j]), f1 = filter_bit(hb[j + 1]), f2 = filter_bit(hb[j + 2]), f3 = filter_bit(hb[j + 3]);
        s->passed[m] = (uint32_t)j, m += f[f0 / 64] >> (f0 % 64) & 1;
        s->passed[m] = (uint32_t)j + 1, m += f[f1 / 64] >> (f1 % 64) & 1;
        s->passed[m] = (uint32_t)j + 2, m += f[f2 / 64] >> (f2 % 64) & 1;
        s->passed[m] = (uint32_t)j + 3, m += f[f3 / 64] >> (f3 % 64) & 1;
    }
    for (; j < n; j++) {
        size_t fj = filter_bit(hb[j]);
        s->passed[m] = (uint32_t)j, m += f[fj / 64] >> (fj % 64) & 1;
    }
    return m;
}

/* The same for lists of feature numbers (the finish's cross arrays): the
 * table's document's numbers are bits of an exact filter and their
 * places are read by number, so nothing is probed; 4 bytes of b are read
 * a feature where a hash is 8. The bits of the last such document are
 * cleared by its list. */
static void match_ids_for(size_t ia, const feature_list *fa, pair_scratch *s)
{
    if (s->table_of == ia)
        return;
    s->table_of = ia;
    for (size_t i = 0; i < s->n_bits_of; i++)
        s->id_bits[s->bits_of[i] / 64] = 0;
    for (size_t i = 0; i < fa->n; i++) {
        uint32_t id = fa->id[i];
        s->id_bits[id / 64] |= 1ULL << (id % 64);
        s->id_place[id] = (uint32_t)i;
    }
    s->bits_of = fa->id, s->n_bits_of = fa->n;
}

static size_t match_filter_ids(pair_scratch *s, const uint32_t *ib, size_t n)
{
    size_t m = 0, j = 0;
    const uint64_t *f = s->id_bits;
    for (; j + 4 <= n; j += 4) { /* four a step, as match_filter */
        uint32_t f0 = ib[j], f1 = ib[j + 1], f2 = ib[j + 2], f3 = ib[j + 3];
        s->passed[m] = (uint32_t)j, m += f[f0 / 64] >> (f0 % 64) & 1;
        s->passed[m] = (uint32_t)j + 1, m += f[f1 / 64] >> (f1 % 64) & 1;
        s->passed[m] = (uint32_t)j + 2, m += f[f2 / 64] >> (f2 % 64) & 1;
        s->passed[m] = (uint32_t)j + 3, m += f[f3 / 64] >> (f3 % 64) & 1;
    }
    for (; j < n; j++)
        s->passed[m] = (uint32_t)j, m += f[ib[j] / 64] >> (ib[j] % 64) & 1;
    return m;
}

/* The position of hash (it passed the filter) in the table's list ha, or
 * UINT32_MAX. */
static uint32_t match_find(const pair_scratch *s, const uint64_t *ha, uint64_t h)
{
    for (size_t k = table_slot(h, s->table_mask);; k = (k + 1) & s->table_mask) {
        uint32_t i = s->table[k];
        if (i == UINT32_MAX || ha[i] == h)
            return i;
    }
}

static void pair_scratch_free(pair_scratch *s);

/* A pair scratch for documents of up to cap features, and lists of up
 * to n_ids feature numbers (0: lists of hashes only). */
static pair_scratch *pair_scratch_new(size_t cap, size_t n_ids)
{
    pair_scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->id_bits = calloc(n_ids / 64 + 1, sizeof *s->id_bits);
    s->id_place = malloc((n_ids + 1) * sizeof *s->id_place);
    s->cap = cap;
    s->table_of = SIZE_MAX;
    s->prune_logit = -INFINITY;
    s->table = malloc(table_slots(cap) * sizeof *s->table);
    s->id_of[0] = calloc(cap + 1, sizeof *s->id_of[0]);
    s->id_of[1] = calloc(cap + 1, sizeof *s->id_of[1]);
    s->shared_a = malloc((cap + 1) * sizeof *s->shared_a);
    s->shared_b = malloc((cap + 1) * sizeof *s->shared_b);
    s->masks = malloc((cap + 1) * LCS_MAX_WORDS * sizeof *s->masks);
    s->passed = malloc((cap + 1) * sizeof *s->passed);
    s->single = malloc((cap + 1) * sizeof *s->single);
    if (!s->id_of[0] || !s->id_of[1] || !s->shared_a || !s->shared_b || !s->masks || !s->single || !s->table ||
        !s->passed || !s->id_bits || !s->id_place) {
        pair_scratch_free(s);
        return NULL;
    }
    return s;
}

static void pair_scratch_free(pair_scratch *s)
{
    if (!s)
        return;
    free(s->id_of[0]), free(s->id_of[1]), free(s->shared_a), free(s->shared_b), free(s->masks), free(s->single), free(s->table);
    free(s->passed), free(s->id_bits), free(s->id_place);
    free(s);
}

/* Length of the longest common subsequence of a (at most 64 x
 * LCS_MAX_WORDS symbols) and b, symbols numbered below n_ids (each with
 * SHARED_MARK set, as scan_places gives them), bit-parallel (Hyyrö
 * 2004): one pass over b, each step a few word operations per 64 symbols
 * of a. Each symbol's match mask (`words` words) is at its number: no
 * branch asks whether a symbol was met before, and a symbol of b that a's
 * window cut off has an empty mask, under which a step leaves v as it is
 * (no carry arises from v + 0). The pieces below are inlined once for
 * each count of words up to 4 (a constant there: v stays in registers
 * and the word loop unrolls; most pairs have at most 256 shared symbols)
 * and once for any count. */

/* Steps over b's symbols b[0, nb). The carry out of the last word is
 * dropped, as no word after it is counted. */
static inline __attribute__((always_inline)) void lcs_steps(uint64_t *v, const uint64_t *masks, const uint32_t *b,
                                                            size_t nb, const size_t words)
{
    for (size_t j = 0; j < nb; j++) {
        const uint64_t *m = masks + (b[j] & ~SHARED_MARK) * words;
        bool carry = false;
        for (size_t w = 0; w < words; w++) { /* v + u with carries across words */
            uint64_t u = v[w] & m[w], partial, sum;
            bool c1 = __builtin_add_overflow(v[w], u, &partial), c2 = __builtin_add_overflow(partial, (uint64_t)carry, &sum);
            carry = c1 | c2;
            v[w] = sum | (v[w] - u);
        }
    }
}

/* The longest common subsequence so far of a's first na symbols: v's
 * zeros among its first na bits. */
static inline __attribute__((always_inline)) size_t lcs_zeros(const uint64_t *v, size_t na, const size_t words)
{
    size_t zeros = 0;
    for (size_t w = 0; w < words && 64 * w < na; w++) {
        uint64_t live = 64 * (w + 1) <= na ? ~0ULL : (1ULL << (na % 64)) - 1;
        zeros += nfi_popcount64(~v[w] & live);
    }
    return zeros;
}

/* The numbers of the shared features in d's text order (the list whose
 * per-place table is id_of: SHARED_MARK | number where shared, 0
 * elsewhere), from place i of its sequence on, until `limit` are found or
 * the sequence ends, into out (limit slots); *n: how many. Returns the
 * place after the last read. Each element's entry is written and the
 * count moved on by its mark: one pass over the sequence, contiguous,
 * with no branch on whether an element is shared, where looking up each
 * feature's occurrences would wait on cold lines of d at every feature
 * (inlined once per width of the places). */
static inline __attribute__((always_inline)) size_t scan_places(const void *seq, bool narrow, size_t len, size_t i,
                                                                size_t limit, const uint32_t *id_of, uint32_t *out,
                                                                size_t *n_out)
{
    size_t n = 0;
    while (i < len && n < limit) {
        size_t stop = i + (limit - n) < len ? i + (limit - n) : len; /* n grows by 1 at most a step */
        for (; i + 4 <= stop; i += 4) { /* four a step: the loop's own count and test once */
            uint32_t id0 = id_of[seq_at(seq, narrow, i)], id1 = id_of[seq_at(seq, narrow, i + 1)],
                     id2 = id_of[seq_at(seq, narrow, i + 2)], id3 = id_of[seq_at(seq, narrow, i + 3)];
            out[n] = id0, n += id0 >> 31; /* a number is below 2^31 (a count of features) */
            out[n] = id1, n += id1 >> 31;
            out[n] = id2, n += id2 >> 31;
            out[n] = id3, n += id3 >> 31;
        }
        for (; i < stop; i++) {
            uint32_t id = id_of[seq_at(seq, narrow, i)];
            out[n] = id, n += id >> 31;
        }
    }
    *n_out = n;
    return i;
}

static size_t scan_list(const feature_list *d, size_t i, size_t limit, const uint32_t *id_of, uint32_t *out,
                        size_t *n_out)
{
    return d->seq16 ? scan_places(d->seq, true, d->n_seq, i, limit, id_of, out, n_out) /* each width its own loop */
                    : scan_places(d->seq, false, d->n_seq, i, limit, id_of, out, n_out);
}

/* Clears the marks of a per-place table (the places of, n_ids). */
static void clear_marks(uint32_t *id_of, const uint32_t *of, size_t n_ids)
{
    for (size_t k = 0; k < n_ids; k++)
        id_of[of[k]] = 0;
}

/* The shared features' numbers among the elements [i, end) of d's
 * sequence (at most LCS_BLOCK), as scan_places finds them; returns how
 * many. A block of a fixed length: its loop's count is known ahead. */
enum { LCS_BLOCK = 96 };
static size_t scan_block(const feature_list *d, size_t i, size_t end, const uint32_t *id_of, uint32_t *out)
{
    size_t n;
    if (d->seq16) /* (limit never reached: one pass) */
        scan_places(d->seq, true, end, i, LCS_BLOCK, id_of, out, &n);
    else
        scan_places(d->seq, false, end, i, LCS_BLOCK, id_of, out, &n);
    return n;
}

/* The pass over b, nb of its shared symbols at most (MAX_SHARED), read
 * from its sequence a block at a time. need: with need > 0, the pass
 * stops (and returns SIZE_MAX) once the length so far plus b's symbols
 * still to come falls below need, a bound the rest cannot beat: after b's
 * first symbols, LCS(a, b) is at most the longest common subsequence of
 * those with a's first na - rest symbols, plus rest, b's symbols still to
 * come (the rest of b meets a's last rest symbols at best). */
static inline __attribute__((always_inline)) size_t lcs_stream(const uint64_t *masks, size_t na, const feature_list *b,
                                                               const uint32_t *id_of, size_t nb, size_t need,
                                                               uint32_t *buf, const size_t words)
{
    uint64_t v[LCS_MAX_WORDS];
    for (size_t w = 0; w < words; w++)
        v[w] = ~0ULL;
    for (size_t i = 0, done = 0; done < nb && i < b->n_seq; i += LCS_BLOCK) {
        size_t m = scan_block(b, i, i + LCS_BLOCK < b->n_seq ? i + LCS_BLOCK : b->n_seq, id_of, buf);
        m = m < nb - done ? m : nb - done; /* (b cut to its first MAX_SHARED) */
        lcs_steps(v, masks, buf, m, words);
        done += m;
        size_t rest = nb - done;
        if (need && rest && rest < na && lcs_zeros(v, na - rest, words) + rest < need)
            return SIZE_MAX;
    }
    return lcs_zeros(v, na, words);
}

/* The longest common subsequence of the two lists' shared features in
 * text order (n_ids of them, numbered by the match, which marked them in
 * s->id_of), each cut to its first MAX_SHARED: na and nb of them, as
 * their counts give; or SIZE_MAX where need (lcs_stream) stops it. The
 * marks are cleared. */
static size_t pair_lcs(const feature_list *a, const feature_list *b, size_t n_ids, size_t na, size_t nb, size_t need,
                       pair_scratch *s)
{
    size_t got;
    scan_list(a, 0, MAX_SHARED, s->id_of[0], s->sa, &got); /* (na, where the cut does not bind: one pass) */
    clear_marks(s->id_of[0], s->shared_a, n_ids);
    na = got; /* (the same where counts and sequence agree, as pivots keep them) */
    size_t words = (na + 63) / 64, lcs;
    uint64_t *masks = s->masks;
    memset(masks, 0, n_ids * words * sizeof *masks);
    for (size_t i = 0; i < na; i++) /* match masks: positions of each symbol in a */
        masks[(s->sa[i] & ~SHARED_MARK) * words + i / 64] |= 1ULL << (i % 64);
    const uint32_t *id_of = s->id_of[1];
    switch (words) {
    case 1:
        lcs = lcs_stream(masks, na, b, id_of, nb, need, s->sb, 1);
        break;
    case 2:
        lcs = lcs_stream(masks, na, b, id_of, nb, need, s->sb, 2);
        break;
    case 3:
        lcs = lcs_stream(masks, na, b, id_of, nb, need, s->sb, 3);
        break;
    case 4:
        lcs = lcs_stream(masks, na, b, id_of, nb, need, s->sb, 4);
        break;
    default:
        lcs = lcs_stream(masks, na, b, id_of, nb, need, s->sb, words);
    }
    clear_marks(s->id_of[1], s->shared_b, n_ids);
    return lcs;
}

/* The calibrated logit of a pair's components (ev: ln(1 + shared)). */
static double logit_of(const nf_link_explain *e, double ev)
{
    double cov = e->coverage;
    return cal.bias + cal.terms * e->terms + cal.names * e->names + cal.numbers * e->numbers +
           cal.align * e->alignment + cal.length * e->length_ratio + cal.order * e->order + cal.evidence * ev +
           cal.order_x_evidence * e->order * ev + cal.coverage * cov + cal.terms_x_coverage * e->terms * cov +
           cal.names_x_uncovered * e->names * (1 - cov);
}

static double score_of(double logit) { return 1.0 / (1.0 + exp(-logit)); }

/* Margin of the bounds below: far above the rounding of a dozen terms of a
 * few tens, far below any gap that matters. */
#define BOUND_MARGIN 1e-6

/* The logit a pair may reach at most, its other components known, with
 * order in [0, order_max] and alignment in [0,1] (or as e holds it, where
 * known): the logit is linear in each of the two, so the most favourable
 * value is at a corner. e's order (and alignment, unless known) are left
 * 0. */
static double logit_bound(nf_link_explain *e, double ev, double order_max, bool align_known)
{
    double align = e->alignment, best = -INFINITY;
    for (int corner = 0; corner < 4; corner++) {
        if (align_known && corner >> 1)
            break;
        e->order = corner & 1 ? order_max : 0;
        e->alignment = align_known ? align : corner >> 1;
        double z = logit_of(e, ev);
        best = z > best ? z : best;
    }
    e->order = 0, e->alignment = align_known ? align : 0;
    return best;
}

/* The logit below which, margin included, a bound prunes (-inf: none
 * does): that of the threshold, and never above 0, the logit the third
 * language's checks compare best logits with (witness.c): a pruned pair's
 * bound stands for its logit among a document's best logits, and so
 * changes no comparison there either (a best logit at or above the pruning
 * logit is a pair's own). */
static double prune_logit(double threshold)
{
    if (!(threshold > 1e-6 && threshold < 1 - 1e-6)) /* where the score saturates, no margin is safe */
        return -INFINITY;
    double t = threshold < 0.5 ? threshold : 0.5;
    return log(t / (1 - t));
}

static bool below(const pair_scratch *s, double bound) { return bound + BOUND_MARGIN < s->prune_logit; }

/* The sums of a pair's match: its dot product, over all kinds and per
 * kind, the features both have but dates (shared), and of those the
 * n_ids whose hash is not 0, numbered for order agreement in the order
 * met: each one's places (s->shared_a, s->shared_b) and, in each side's
 * per-place table (s->id_of), its marked number; their occurrences in a
 * and in b, and the sum of the smaller of the two (common: no common
 * subsequence is longer). */
typedef struct pair_sums {
    double dot, kind_dot[4];
    size_t shared, n_ids;
    size_t count_a, count_b, common;
} pair_sums;

/* Where a match reads and writes (the lists' counts, the scratch's
 * arrays, apart). */
typedef struct match_out {
    const uint16_t *restrict count_a, *restrict count_b;
    uint32_t *restrict id_of_a, *restrict id_of_b, *restrict shared_a, *restrict shared_b;
} match_out;

static match_out match_out_of(const feature_list *la, const feature_list *lb, pair_scratch *s)
{
    return (match_out){la->count, lb->count, s->id_of[0], s->id_of[1], s->shared_a, s->shared_b};
}

/* One shared feature, at place k of a's list and j of b's, of weight
 * product w. */
static inline __attribute__((always_inline)) void add_shared(match_out o, pair_sums *restrict m, uint32_t k,
                                                             uint32_t j, uint32_t kind, bool nonzero, double w)
{
    m->dot += w;
    m->kind_dot[kind] += w;
    if (kind == NF_PIVOT_DATE)
        return;
    m->shared++;
    if (nonzero) { /* numbered for order agreement (the feature's hash, in both) */
        uint32_t mark = SHARED_MARK | (uint32_t)m->n_ids, ca = o.count_a[k], cb = o.count_b[j];
        o.id_of_a[k] = mark, o.id_of_b[j] = mark;
        o.shared_a[m->n_ids] = k, o.shared_b[m->n_ids++] = j;
        m->count_a += ca, m->count_b += cb, m->common += ca < cb ? ca : cb;
    }
}

/* b's features that pass a's filter, in b's (hash) order, as a merge
 * would meet them: the finish's lists of numbers (each one's place in a
 * read by number) ... */
static void match_ids(const feature_list *la, const feature_list *lb, pair_scratch *restrict s, size_t n_passed,
                      pair_sums *restrict m)
{
    const uint32_t *restrict passed = s->passed, *restrict ib = lb->id, *restrict place = s->id_place;
    const uint8_t *restrict id_kind = lb->id_kind;
    const float *restrict wa = la->w, *restrict wb = lb->w;
    match_out o = match_out_of(la, lb, s);
    pair_sums t = *m;
    for (size_t n = 0; n < n_passed; n++) {
        uint32_t j = passed[n], id = ib[j], kk = id_kind[id], k = place[id];
        add_shared(o, &t, k, j, kk & 3, !(kk & ID_ZERO), (double)wa[k] * wb[j]);
    }
    *m = t;
}

/* ... and lists of hashes (each one's place in a found in the table). */
static void match_hashes(const feature_list *la, const feature_list *lb, pair_scratch *restrict s, size_t n_passed,
                         pair_sums *restrict m)
{
    match_out o = match_out_of(la, lb, s);
    pair_sums t = *m;
    for (size_t n = 0; n < n_passed; n++) {
        uint32_t j = s->passed[n], k;
        uint64_t h = lb->hash[j];
        if ((k = match_find(s, la->hash, h)) == UINT32_MAX)
            continue;
        add_shared(o, &t, k, j, (uint32_t)(h & 3), h != 0, (double)la->w[k] * lb->w[j]); /* the kind rides in the hash (pivot.c) */
    }
    *m = t;
}

/* Whether alignment costs next to nothing (no paragraph table to fill). */
static bool alignment_cheap(const doc_entry *a, const doc_entry *b)
{
    size_t pa = a->pivot.n_paragraphs, pb = b->pivot.n_paragraphs;
    return !pa || !pb || pa > 400 || pb > 400 || (pa == 1 && pb == 1);
}

/* The least common subsequence length of a pair (shorter: the length of
 * its shorter side) that may still let it link, e's other components
 * known; 0 where every length may, above top (the longest possible)
 * where none does. *bound: the pair's logit bound below
 * that length (order at most (need - 1) / shorter), which prunes. Found
 * from the logit's slope in order, then checked against the bound itself
 * (the bound decides, not the arithmetic of the estimate). */
static size_t lcs_needed(const pair_scratch *s, nf_link_explain *e, double ev, size_t shorter, size_t top,
                         double *bound)
{
    double z0 = logit_bound(e, ev, 0, true), slope = logit_bound(e, ev, 1, true) - z0;
    if (!(slope > 0))
        return 0;
    double est = floor((double)shorter * (s->prune_logit - BOUND_MARGIN - z0) / slope);
    long x = est < -1 ? -1 : est > (double)top ? (long)top : (long)est; /* the longest length that prunes */
    while (x >= 0 && !below(s, logit_bound(e, ev, (double)x / (double)shorter, true)))
        x--;
    while (x < (long)top && below(s, logit_bound(e, ev, (double)(x + 1) / (double)shorter, true)))
        x++;
    if (x < 0)
        return 0;
    *bound = logit_bound(e, ev, (double)x / (double)shorter, true);
    return (size_t)x + 1;
}

/* A pruned pair: its bound as its logit; order and alignment 0. */
static void pruned(nf_link_explain *e, double bound)
{
    e->order = e->alignment = 0;
    e->logit = bound;
    e->score = score_of(bound);
}

/* Scores pair (ia, ib) into e. With prune (the finish's scoring), a pair
 * that cannot reach the threshold skips what it need not compute: where
 * its logit, with order as high as the shared features' counts allow (no
 * common subsequence is longer than the sum over them of the smaller
 * count) and alignment at its most favourable (unless it costs nothing),
 * stays below (prune_logit), it skips order and alignment; else the
 * longest common subsequence stops as soon as the length it may still
 * reach is too short to link. e->logit and e->score then hold the bound
 * (above the pair's own, below the threshold) and order and alignment
 * are 0. Such a pair is never linked, and its logit never decides
 * another's: a pair that may link has a higher logit, so a document's
 * best in a language is the same as with the exact logit wherever a pair
 * of it in that language may link (and see prune_logit). */
static void score_pair(const nf_links *l, size_t ia, size_t ib, const feature_list *la, const feature_list *lb,
                       nf_link_explain *e, pair_scratch *s, bool prune)
{
    const doc_entry *a = &l->docs[ia], *b = &l->docs[ib];
    pair_sums m = {0};
    if (la->id && lb->id) {
        match_ids_for(ia, la, s);
        match_ids(la, lb, s, match_filter_ids(s, lb->id, lb->n), &m);
    } else {
        match_table_for(ia, la, s);
        match_hashes(la, lb, s, match_filter(s, lb->hash, lb->n), &m);
    }
    double dot = m.dot, *kind_dot = m.kind_dot;
    size_t shared = m.shared, n_ids = m.n_ids;
    memset(e, 0, sizeof *e);
    double cosine = a->norm > 0 && b->norm > 0 ? dot / (a->norm * b->norm) : 0;
    double *parts[4] = {&e->terms, &e->names, &e->numbers, &e->dates};
    for (int k = 0; k < 4; k++)
        *parts[k] = a->kind_norm[k] > 0 && b->kind_norm[k] > 0 ? kind_dot[k] / (a->kind_norm[k] * b->kind_norm[k]) : 0;
    size_t len_a = a->text_len, len_b = b->text_len; /* translations keep roughly the length */
    e->length_ratio = len_a && len_b ? (double)(len_a < len_b ? len_a : len_b) / (double)(len_a > len_b ? len_a : len_b) : 0;
    e->cosine = cosine;
    double ev = log1p((double)shared);
    e->shared = (double)shared;
    e->coverage = a->pivot.term_share < b->pivot.term_share ? a->pivot.term_share : b->pivot.term_share;
    /* each side's shared features in text order, cut to MAX_SHARED: order agreement is 0 below 4 */
    size_t na = m.count_a < MAX_SHARED ? m.count_a : MAX_SHARED, nb = m.count_b < MAX_SHARED ? m.count_b : MAX_SHARED;
    size_t shorter = na < nb ? na : nb, top = shorter < 4 ? 0 : m.common < shorter ? m.common : shorter;
    bool align_known = alignment_cheap(a, b);
    if (align_known)
        e->alignment = alignment(a, b, shared, s->single);
    double bound = 0;
    if (prune && below(s, bound = logit_bound(e, ev, top ? (double)top / (double)shorter : 0, align_known))) {
        clear_marks(s->id_of[0], s->shared_a, n_ids), clear_marks(s->id_of[1], s->shared_b, n_ids);
        pruned(e, bound);
        return;
    }
    if (!align_known)
        e->alignment = alignment(a, b, shared, s->single);
    size_t need = prune && top ? lcs_needed(s, e, ev, shorter, top, &bound) : 0;
    if (need > top) {
        clear_marks(s->id_of[0], s->shared_a, n_ids), clear_marks(s->id_of[1], s->shared_b, n_ids);
        pruned(e, bound);
        return;
    }
    if (!top) {
        clear_marks(s->id_of[0], s->shared_a, n_ids), clear_marks(s->id_of[1], s->shared_b, n_ids);
    } else {
        size_t lcs = pair_lcs(la, lb, n_ids, na, nb, need, s);
        if (lcs == SIZE_MAX) {
            pruned(e, bound);
            return;
        }
        e->order = (double)lcs / (double)shorter;
    }
    e->logit = logit_of(e, ev);
    e->score = score_of(e->logit);
}

/* Every feature of d as a list (hash, count: room for its hashes and
 * counts); a place in it is the feature's index. */
static void every_feature(const doc_entry *d, uint64_t *hash, uint16_t *count, feature_list *out)
{
    const nf_pivot *p = &d->pivot;
    for (size_t j = 0; j < p->n_features; j++)
        hash[j] = p->features[j].hash, count[j] = count16(p->features[j].count);
    bool narrow = p->n_features <= NF_PIVOT_NARROW; /* (nf_pivot_place) */
    *out = (feature_list){hash, NULL, NULL, d->weights, count, p->n_features, p->sequence, p->n_sequence, narrow};
}

/* The room nf_links_explain scores a pair in, over every feature: a
 * pair's scratch and each side's hashes, for documents of up to
 * cap features. Kept across the sibling check's pairs (nfi_links_agreement),
 * where making it for each pair cost more than scoring it. */
struct nfi_agree_scratch {
    pair_scratch *pair;
    uint64_t *hash[2];
    uint16_t *count[2];
    size_t cap;
};

/* Frees what s holds (s itself stays). */
static void agree_release(nfi_agree_scratch *s)
{
    pair_scratch_free(s->pair);
    free(s->hash[0]), free(s->hash[1]), free(s->count[0]), free(s->count[1]);
}

void nfi_agree_scratch_free(nfi_agree_scratch *s)
{
    if (!s)
        return;
    agree_release(s);
    free(s);
}

/* s with room for two documents of n features; false without memory (s
 * then still whole, as it was or empty). */
static bool agree_room(nfi_agree_scratch *s, size_t n)
{
    if (n <= s->cap && s->pair)
        return true;
    agree_release(s);
    s->pair = pair_scratch_new(n, 0);
    for (int k = 0; k < 2; k++)
        s->hash[k] = malloc((n + 1) * sizeof *s->hash[k]), s->count[k] = malloc((n + 1) * sizeof *s->count[k]);
    s->cap = n;
    if (s->pair && s->hash[0] && s->hash[1] && s->count[0] && s->count[1])
        return true;
    agree_release(s);
    memset(s, 0, sizeof *s);
    return false;
}

/* nf_links_explain's scoring, in scratch s. The table of a's features is
 * made anew (s's lists are refilled for each pair). */
static nf_status explain_in(const nf_links *l, size_t a, size_t b, nfi_agree_scratch *s, nf_link_explain *out,
                            nf_error *err)
{
    size_t na = l->docs[a].pivot.n_features, nb = l->docs[b].pivot.n_features;
    if (!agree_room(s, na > nb ? na : nb))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    feature_list la, lb;
    every_feature(&l->docs[a], s->hash[0], s->count[0], &la);
    every_feature(&l->docs[b], s->hash[1], s->count[1], &lb);
    s->pair->table_of = SIZE_MAX;
    score_pair(l, a, b, &la, &lb, out, s->pair, false);
    return NF_OK;
}

nf_status nf_links_explain(const nf_links *l, size_t a, size_t b, nf_link_explain *out, nf_error *err)
{
    if (!l->finished)
        return nfi_fail(err, NF_ERR_ARG, "nf_links_explain before nf_links_finish");
    if (l->released)
        return nfi_fail(err, NF_ERR_ARG, "nf_links_explain after the stage was released");
    if (a >= l->n || b >= l->n)
        return nfi_fail(err, NF_ERR_ARG, "no document %zu or %zu", a, b);
    nfi_agree_scratch *s = calloc(1, sizeof *s);
    nf_status st = s ? explain_in(l, a, b, s, out, err) : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nfi_agree_scratch_free(s);
    return st;
}

/* ------------------------------------------------------------ candidates */

typedef struct scored {
    double value;
    uint32_t doc;
} scored;

static int cmp_scored(const void *x, const void *y)
{
    const scored *a = x, *b = y;
    if (a->value != b->value)
        return a->value > b->value ? -1 : 1;
    return (a->doc > b->doc) - (a->doc < b->doc);
}

/* The best-scoring other-language documents for doc a, by the dot product
 * over non-common features; appended as pairs (min << 32 | max). */
/* One thread's scratch for the candidate search. */
typedef struct search_scratch {
    double *acc;
    uint32_t *touched;
    scored *top;
    size_t *range; /* per indexed feature of the document at hand, its postings' start and end */
} search_scratch;

typedef struct search_ctx {
    const nf_links *l;
    const postings *p;
    const double *norm; /* per document, its norm (the search's one read of another document) */
    uint64_t *pairs; /* candidates slots per document, UINT64_MAX when unused */
} search_ctx;

/* One posting of a document's feature of weight wa: the other
 * document's sum, and the list of those touched (acc 0 before). */
static inline size_t accumulate(double *acc, uint32_t *touched, size_t n_touched, double wa, const struct posting *h)
{
    uint32_t b = h->doc;
    touched[n_touched] = b;
    n_touched += acc[b] == 0;
    acc[b] += wa * h->weight;
    return n_touched;
}

/* Document a's candidates. Its features' postings lists lie far apart
 * (one cold line each): their bounds are read, and their first lines
 * fetched, for every feature first, so the misses overlap, then summed. */
static void candidates_of(const nf_links *l, const postings *p, const double *norm, size_t a, search_scratch *s,
                          uint64_t *slots)
{
    const doc_entry *d = &l->docs[a];
    double *acc = s->acc;
    uint32_t *touched = s->touched;
    scored *top = s->top;
    size_t n_touched = 0, n_range = 0;
    if (!d->lang_id)
        return; /* an unknown language links to nothing */
    for (; n_range < d->n_post; n_range++) {
        uint32_t at = d->post[2 * n_range + 1];
        size_t *r = s->range + 3 * n_range;
        r[0] = p->offsets[at], r[1] = p->offsets[at + 1], r[2] = d->post[2 * n_range];
        __builtin_prefetch(&p->hits[r[0]]);
        __builtin_prefetch(&p->hits[r[1] - (r[1] > 0)]); /* where the search reads first */
    }
    for (size_t q = 0; q < n_range; q++) {
        const size_t *r = s->range + 3 * q;
        double wa = d->weights[r[2]];
        /* Linkable: known languages that differ (so never a itself).
         * The postings come sorted by language (group_by_language), so the
         * document's own language is one run: where the corpus has a main
         * language, most of the postings (94% on the 20 MB file). The
         * languages after it are read from the end, those before it (and
         * the unknown ones, first) from the start, each up to the run,
         * which is not read at all. A list holds a document once, so the
         * order a list is read in changes no sum, and the choice of the
         * best does not depend on the order documents are touched in. */
        const struct posting *h = p->hits;
        for (size_t e = r[1]; e > r[0] && h[e - 1].lang_id > d->lang_id; e--)
            n_touched = accumulate(acc, touched, n_touched, wa, &h[e - 1]);
        for (size_t e = r[0]; e < r[1] && h[e].lang_id < d->lang_id; e++)
            if (h[e].lang_id) /* (unknown languages come first) */
                n_touched = accumulate(acc, touched, n_touched, wa, &h[e]);
    }
    size_t keep = 0, k = (size_t)l->opt.candidates;
    for (size_t t = 0; t < n_touched; t++) { /* the k best, kept sorted by insertion */
        uint32_t b = touched[t];
        double denom = d->norm * norm[b];
        scored c = {denom > 0 ? acc[b] / denom : 0, b};
        acc[b] = 0;
        if (keep == k && cmp_scored(&c, &top[k - 1]) >= 0)
            continue;
        size_t at = keep < k ? keep++ : k - 1;
        while (at > 0 && cmp_scored(&c, &top[at - 1]) < 0) {
            top[at] = top[at - 1];
            at--;
        }
        top[at] = c;
    }
    for (size_t t = 0; t < keep; t++) {
        uint64_t x = a < top[t].doc ? a : top[t].doc, y = a < top[t].doc ? top[t].doc : a;
        slots[t] = x << 32 | y;
    }
}

static nf_status search_task(void *ctx, void *worker, size_t a, nf_error *err)
{
    (void)err;
    search_ctx *c = ctx;
    candidates_of(c->l, c->p, c->norm, a, worker, c->pairs + a * (size_t)c->l->opt.candidates);
    return NF_OK;
}

typedef struct score_ctx {
    const nf_links *l;
    const uint64_t *pairs;
    nfi_scored_pair *out;
    size_t n;
} score_ctx;

/* The pair after next's other document is asked for ahead: a pair reads
 * all of its features, weights and sequence, which are cold (the other
 * documents of a's pairs are anywhere in the corpus), and waiting on them
 * line by line was a third of the scoring. */
enum { PREFETCH_AHEAD = 2 };
static void prefetch_lines(const void *p, size_t bytes)
{
    for (size_t off = 0; off < bytes; off += 64)
        __builtin_prefetch((const char *)p + off);
}
static void prefetch_entry(const doc_entry *d)
{
    if (d->cross_id)
        prefetch_lines(d->cross_id, d->n_cross * sizeof *d->cross_id);
    else
        prefetch_lines(d->cross_hash, d->n_cross * sizeof *d->cross_hash);
    prefetch_lines(d->cross_w, d->n_cross * sizeof *d->cross_w);
    prefetch_lines(d->cross_count, d->n_cross * sizeof *d->cross_count);
    prefetch_lines(d->cross_seq, d->n_cross_seq * (seq_narrow(d->n_cross) ? sizeof(uint16_t) : sizeof(uint32_t)));
}

/* Best score of each document per other language, over the candidates. */
typedef nfi_lang_best best_entry;

typedef nfi_scored_pair scored_pair;

static nf_status score_task(void *ctx, void *worker, size_t i, nf_error *err)
{
    (void)err;
    score_ctx *c = ctx;
    nf_link_explain e;
    uint32_t a = (uint32_t)(c->pairs[i] >> 32), b = (uint32_t)c->pairs[i];
    if (i + PREFETCH_AHEAD < c->n)
        prefetch_entry(&c->l->docs[(uint32_t)c->pairs[i + PREFETCH_AHEAD]]);
    feature_list la = cross_list(c->l, &c->l->docs[a]), lb = cross_list(c->l, &c->l->docs[b]);
    score_pair(c->l, a, b, &la, &lb, &e, *(pair_scratch **)worker, true);
    c->out[i] = (scored_pair){a, b, e.score, e.logit, false};
    return NF_OK;
}


/* doc's best in the language of other (pairs come sorted: on a tie, the
 * first partner, the smallest number, stays) */
static void note_best(best_entry **slots, size_t *n, uint32_t doc, uint32_t other, const char *lang, double score)
{
    for (size_t i = 0; i < n[doc]; i++)
        if (strcmp(slots[doc][i].lang, lang) == 0) {
            if (score > slots[doc][i].score)
                slots[doc][i].score = score, slots[doc][i].doc = other;
            return;
        }
    best_entry *g = realloc(slots[doc], (n[doc] + 1) * sizeof *g);
    if (!g)
        return;
    slots[doc] = g;
    g[n[doc]] = (best_entry){other, "", score, -INFINITY}; /* score: a logit here */
    snprintf(g[n[doc]].lang, sizeof g[n[doc]].lang, "%s", lang);
    n[doc]++;
}

static nf_status is_translation(const nf_links *l, const scored_pair *p, best_entry **best, const size_t *n_best,
                                nfi_agree_scratch **scratch, bool *linked, nf_error *err)
{
    *linked = false;
    if (!nfi_links_may_link(l, p->score))
        return NF_OK;
    const doc_entry *a = &l->docs[p->a], *b = &l->docs[p->b];
    const best_entry *ba = best[p->a], *bb = best[p->b];
    uint64_t sib;
    nfi_agreement agree;
    bool picked = nfi_links_picked(p->logit, ba, n_best[p->a], a->lang, bb, n_best[p->b], b->lang);
    bool check = nfi_links_sibling(picked, p->logit, ba, n_best[p->a], a->lang, bb, n_best[p->b], b->lang, p->a, p->b,
                                   &sib);
    if (check) {
        nf_status st = nfi_links_agreement(l, (size_t)(sib >> 32), (size_t)(uint32_t)sib, scratch, &agree, err);
        if (st != NF_OK)
            return st;
    }
    *linked = nfi_links_decide(picked, check ? &agree : NULL);
    return NF_OK;
}

bool nfi_links_may_link(const nf_links *l, double score) { return score >= l->opt.threshold; }

nf_status nfi_links_agreement(const nf_links *l, size_t a, size_t b, nfi_agree_scratch **scratch, nfi_agreement *out,
                              nf_error *err)
{
    nf_link_explain e;
    memset(&e, 0, sizeof e);
    if (!*scratch && !(*scratch = calloc(1, sizeof **scratch)))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nf_status st = explain_in(l, a, b, *scratch, &e, err);
    *out = (nfi_agreement){e.order, e.shared};
    return st;
}

static void free_scratch(search_scratch *s, int n)
{
    for (int t = 0; s && t < n; t++) {
        free(s[t].acc);
        free(s[t].touched);
        free(s[t].top);
        free(s[t].range);
    }
    free(s);
}

/* Every document's best candidates (on all threads): sorted unique pairs. */
static nf_status find_candidates(const nf_links *l, const postings *p, uint64_t **out, size_t *n_out, nf_error *err)
{
    size_t k = (size_t)l->opt.candidates, n_slots = l->n * k;
    uint64_t *pairs = malloc((n_slots ? n_slots : 1) * sizeof *pairs);
    int threads = l->opt.threads;
    search_scratch *scratch = calloc((size_t)threads, sizeof *scratch);
    double *norm = malloc((l->n ? l->n : 1) * sizeof *norm);
    size_t cap = 0;
    for (size_t i = 0; norm && i < l->n; i++) {
        norm[i] = l->docs[i].norm;
        cap = l->docs[i].pivot.n_features > cap ? l->docs[i].pivot.n_features : cap;
    }
    nf_status st = pairs && scratch && norm ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (int t = 0; st == NF_OK && t < threads; t++) {
        scratch[t].acc = calloc(l->n ? l->n : 1, sizeof *scratch[t].acc);
        scratch[t].touched = malloc((l->n ? l->n : 1) * sizeof *scratch[t].touched);
        scratch[t].top = malloc((l->n ? l->n : 1) * sizeof *scratch[t].top);
        scratch[t].range = malloc(3 * (cap + 1) * sizeof *scratch[t].range);
        if (!scratch[t].acc || !scratch[t].touched || !scratch[t].top || !scratch[t].range)
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; st == NF_OK && i < n_slots; i++)
        pairs[i] = UINT64_MAX;
    search_ctx ctx = {l, p, norm, pairs};
    if (st == NF_OK)
        st = nfi_parallel_for(l->n, scratch, sizeof *scratch, threads, search_task, &ctx, err);
    free_scratch(scratch, threads);
    free(norm);
    if (st != NF_OK) {
        free(pairs);
        return st;
    }
    uint64_t *scratch_sort = malloc((n_slots ? n_slots : 1) * sizeof *scratch_sort);
    if (scratch_sort) /* radix passes, where qsort's comparisons cost ten times more */
        nfi_u64_sort(pairs, n_slots, scratch_sort);
    else
        qsort(pairs, n_slots, 8, nfi_cmp_u64);
    free(scratch_sort);
    size_t n = 0;
    for (size_t i = 0; i < n_slots && pairs[i] != UINT64_MAX; i++)
        if (!n || pairs[n - 1] != pairs[i])
            pairs[n++] = pairs[i];
    *out = pairs;
    *n_out = n;
    return NF_OK;
}

/* Scores the n candidate pairs of c, each thread with its scratch. */
static nf_status score_pairs(const nf_links *l, score_ctx *c, size_t n, nf_error *err)
{
    size_t cap = 0;
    for (size_t i = 0; i < l->n; i++)
        cap = l->docs[i].pivot.n_features > cap ? l->docs[i].pivot.n_features : cap;
    int threads = l->opt.threads;
    pair_scratch **scratch = calloc((size_t)threads, sizeof *scratch);
    nf_status st = scratch ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (int t = 0; st == NF_OK && t < threads; t++)
        if (!(scratch[t] = pair_scratch_new(cap, l->id_kind ? l->n_feature_ids : 0)))
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        else
            scratch[t]->prune_logit = prune_logit(l->opt.threshold);
    if (st == NF_OK)
        st = nfi_parallel_for(n, scratch, sizeof *scratch, threads, score_task, c, err);
    for (int t = 0; scratch && t < threads; t++)
        pair_scratch_free(scratch[t]);
    free(scratch);
    return st;
}

nf_status nf_links_finish(nf_links *l, nf_links_result *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    if (l->released)
        return nfi_fail(err, NF_ERR_ARG, "nf_links_finish after the stage was released");
    l->finished = true;
    postings p;
    memset(&p, 0, sizeof p);
    uint64_t *pv = NULL;
    size_t n_pairs = 0;
    assign_language_ids(l);
    nf_status st = index_features(l, &p, err);
    if (st == NF_OK)
        st = find_candidates(l, &p, &pv, &n_pairs, err);
    postings_free(&p);
    out->links = malloc((n_pairs ? n_pairs : 1) * sizeof *out->links);
    scored_pair *sp = malloc((n_pairs ? n_pairs : 1) * sizeof *sp);
    best_entry **best = calloc(l->n ? l->n : 1, sizeof *best);
    size_t *n_best = calloc(l->n ? l->n : 1, sizeof *n_best);
    if (st == NF_OK && (!out->links || !sp || !best || !n_best))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    score_ctx sc = {l, pv, sp, n_pairs};
    if (st == NF_OK)
        st = score_pairs(l, &sc, n_pairs, err);
    for (size_t i = 0; st == NF_OK && i < n_pairs; i++) {
        note_best(best, n_best, sp[i].a, sp[i].b, l->docs[sp[i].b].lang, sp[i].logit);
        note_best(best, n_best, sp[i].b, sp[i].a, l->docs[sp[i].a].lang, sp[i].logit);
    }
    for (size_t d = 0; st == NF_OK && d < l->n; d++) /* each best partner's own best back (witness.c) */
        for (size_t k = 0; k < n_best[d]; k++)
            best[d][k].back = nfi_links_best_in(best[best[d][k].doc], n_best[best[d][k].doc], l->docs[d].lang);
    nfi_agree_scratch *agree = NULL; /* the sibling check's, made at its first pair */
    for (size_t i = 0; st == NF_OK && i < n_pairs; i++)
        if ((st = is_translation(l, &sp[i], best, n_best, &agree, &sp[i].linked, err)) == NF_OK && sp[i].linked)
            out->links[out->n_links++] = (nf_link){sp[i].a, sp[i].b, sp[i].score};
    nfi_agree_scratch_free(agree);
    for (size_t i = 0; best && i < l->n; i++)
        free(best[i]);
    free(best), free(n_best), free(pv);
    free(l->scored); /* an earlier finish's (live folds finish again) */
    l->scored = sp;
    l->n_scored = st == NF_OK ? n_pairs : 0;
    if (st != NF_OK)
        nf_links_result_free(out);
    return st;
}

void nf_links_result_free(nf_links_result *r)
{
    free(r->links);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------ the finish in parts */

/* The distributed finish (src/mpi/mpi_links.c) runs the steps of
 * nf_links_finish over a rank's documents: the same weights from document
 * frequencies summed over the ranks, the same candidate search over
 * postings fetched from their owners, the same scoring and decision. */

void nfi_links_get_view(const nf_links *l, size_t i, nfi_links_view *v)
{
    const doc_entry *d = &l->docs[i];
    *v = (nfi_links_view){&d->pivot, d->weights, d->norm, d->lang_id, d->lang};
}

nf_status nfi_links_weigh(nf_links *l, size_t n_docs, const uint32_t *df, nf_error *err)
{
    l->finished = true;
    size_t *df_at = malloc((l->n + 1) * sizeof *df_at);
    if (!df_at)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0, k = 0; i < l->n; k += l->docs[i++].pivot.n_features)
        df_at[i] = k;
    weigh_ctx wc = {.l = l, .n_docs = n_docs, .df = df, .df_at = df_at};
    nf_status st = weigh_all(&wc, err);
    free(df_at);
    return st;
}

/* The space's documents are entries of a stage made for the search:
 * the stage's own (shallow copies, with their features' pairs in the
 * space's keys)
 * and, for the others, entries that hold only their norm; find_candidates
 * then runs as in nf_links_finish. */
nf_status nfi_links_search(nf_links *l, const nfi_links_space *s, uint64_t **pairs, size_t *n_pairs, nf_error *err)
{
    *pairs = NULL, *n_pairs = 0;
    nf_links space;
    memset(&space, 0, sizeof space);
    space.opt = l->opt;
    postings p;
    memset(&p, 0, sizeof p);
    size_t n_hits = s->offsets[s->n_keys];
    space.docs = calloc(s->n_docs ? s->n_docs : 1, sizeof *space.docs);
    p.hits = malloc((n_hits ? n_hits : 1) * sizeof *p.hits);
    if (!space.docs || !p.hits) {
        free(space.docs), free(p.hits);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    for (size_t e = 0; e < n_hits; e++)
        p.hits[e] = (struct posting){s->hits[e].doc, s->hits[e].lang_id, s->hits[e].weight};
    p.offsets = s->offsets;
    p.n_keys = s->n_keys;
    for (size_t key = 0; key < p.n_keys; key++) /* the search passes over a language's run */
        group_by_language(p.hits + p.offsets[key], p.offsets[key + 1] - p.offsets[key]);
    nf_status st = NF_OK;
    for (size_t i = 0; i < s->n_docs; i++) {
        space.docs[i].norm = s->norms[i];
        if (s->local[i] == SIZE_MAX || st != NF_OK)
            continue;
        const doc_entry *d = &l->docs[s->local[i]];
        uint32_t *post = malloc((2 * d->pivot.n_features + 1) * sizeof *post); /* the space's pairs */
        size_t q = 0;
        for (size_t f = 0; post && f < d->pivot.n_features; f++) {
            size_t k = nfi_hash_lower_bound(s->keys, s->n_keys, d->pivot.features[f].hash);
            if (k < s->n_keys && s->keys[k] == d->pivot.features[f].hash)
                post[2 * q] = (uint32_t)f, post[2 * q + 1] = (uint32_t)k, q++;
        }
        space.docs[i] = *d;
        space.docs[i].post = post, space.docs[i].n_post = q;
        if (!post)
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    space.n = s->n_docs;
    if (st == NF_OK)
        st = find_candidates(&space, &p, pairs, n_pairs, err);
    for (size_t i = 0; i < s->n_docs; i++)
        if (s->local[i] != SIZE_MAX)
            free(space.docs[i].post);
    free(space.docs);
    free(p.hits);
    return st;
}

nf_status nfi_links_score(const nf_links *l, const uint64_t *pairs, size_t n, nfi_scored_pair *out, nf_error *err)
{
    score_ctx sc = {l, pairs, out, n};
    return score_pairs(l, &sc, n, err);
}

/* ------------------------------------------------------------ pivots on the wire */

/* Distributed links (src/mpi/mpi_links.c) builds pivots on the rank that
 * reads a batch and appends them, in input order, to rank 0's stage: what
 * nf_links_finish reads of a document (its pivot, language and text length;
 * never the text) crosses in this format, in the host's byte order: the
 * header; the feature hashes (u64, incompressible); then LEB128 varints:
 * per feature its kind and, when the pivot keeps surfaces (keep_surface),
 * its surface (length, then the offset when the length is not 0); per
 * sequence element its feature's index; the paragraph
 * ends as differences; then the names and name keys (NUL-separated); zeros
 * to a multiple of 8 bytes. Counts are not sent: a feature's count is its
 * number of occurrences in the sequence (pivot.c counts the sequence).
 * nfi_links_append_pivot rebuilds the very
 * entry pivot_task makes, so the stage's result does not depend on where
 * pivots were built. */
typedef struct pivot_wire {
    uint64_t n_features, n_sequence, n_paragraphs, n_names, names_len, keys_len, text_len;
    uint64_t body;  /* bytes after the header, a multiple of 8 */
    double term_share;
    char lang[12];  /* as doc_entry's */
    uint32_t flags; /* WIRE_SURFACE: surfaces follow the kinds */
} pivot_wire;

enum { WIRE_SURFACE = 1 };

enum { VARINT_MAX = 10 };

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
    for (; v >= 0x80; v >>= 7)
        *p++ = (uint8_t)(v | 0x80);
    *p++ = (uint8_t)v;
    return p;
}

/* The varint at *p (not past end); false when it is cut or too long. */
static bool get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t b = *(*p)++;
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Bytes of n NUL-terminated strings back to back. */
static size_t strings_len(const char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; s && i < n; i++)
        len += strlen(s + len) + 1;
    return len;
}

/* The varints of a pivot, written at p (room for the worst case). */
static uint8_t *put_pivot_varints(const nf_pivot *pv, uint8_t *p)
{
    for (size_t j = 0; j < pv->n_features; j++) {
        *p++ = (uint8_t)(pv->features[j].hash & 3);
        if (!pv->surface)
            continue;
        p = put_varint(p, pv->surface[2 * j + 1]);
        if (pv->surface[2 * j + 1])
            p = put_varint(p, pv->surface[2 * j]);
    }
    for (size_t k = 0; k < pv->n_sequence; k++)
        p = put_varint(p, nf_pivot_place(pv, k));
    for (size_t k = 0; k < pv->n_paragraphs; k++)
        p = put_varint(p, pv->paragraph_ends[k] - (k ? pv->paragraph_ends[k - 1] : 0));
    return p;
}

void nfi_links_put_pivot(const nf_links *l, size_t i, nfi_buf *out)
{
    const doc_entry *d = &l->docs[i];
    const nf_pivot *p = &d->pivot;
    pivot_wire w = {p->n_features, p->n_sequence, p->n_paragraphs, p->n_names, strings_len(p->names, p->n_names),
                    strings_len(p->name_keys, p->n_names), d->text_len, 0, p->term_share, "",
                    p->surface ? WIRE_SURFACE : 0};
    memcpy(w.lang, d->lang, sizeof d->lang);
    size_t worst = p->n_features * (8 + 1 + 2 * VARINT_MAX) + p->n_sequence * VARINT_MAX +
                   p->n_paragraphs * VARINT_MAX + w.names_len + w.keys_len + 8;
    size_t start = out->len;
    if (!nfi_buf_reserve(out, sizeof w + worst))
        return; /* out->oom tells */
    uint8_t *body = (uint8_t *)out->data + start + sizeof w, *q = body;
    for (size_t j = 0; j < p->n_features; j++, q += 8)
        memcpy(q, &p->features[j].hash, 8);
    q = put_pivot_varints(p, q);
    memcpy(q, p->names, w.names_len), q += w.names_len;
    memcpy(q, p->name_keys, w.keys_len), q += w.keys_len;
    while ((size_t)(q - body) % 8)
        *q++ = 0;
    w.body = (uint64_t)(q - body);
    memcpy(out->data + start, &w, sizeof w);
    out->len = start + sizeof w + w.body;
    out->data[out->len] = '\0';
}

/* Whether len bytes hold exactly n NUL-terminated strings (the last byte
 * a NUL). A bool, not a count with a "none" value: a record's n is any
 * 64-bit number, so no count is safe to mean "not terminated". */
static bool wire_strings(const char *s, size_t len, uint64_t n)
{
    if (len && s[len - 1] != '\0')
        return false;
    uint64_t found = 0;
    for (const char *at = s; (at = memchr(at, '\0', len - (size_t)(at - s))) != NULL; at++)
        found++;
    return found == n;
}

/* A copy of n bytes (n + 1 allocated, the last a NUL: never NULL, as the
 * builder's buffers are never NULL). */
static void *wire_copy(const void *at, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, at, n);
        p[n] = '\0';
    }
    return p;
}

/* Reads the varints into the allocated pivot (counts from the sequence);
 * false when the record is cut or inconsistent (an index out of range,
 * ends past the sequence). */
static bool get_pivot_varints(nf_pivot *p, const uint8_t **at, const uint8_t *end)
{
    uint64_t v, len, end_at = 0;
    for (size_t j = 0; j < p->n_features; j++) {
        if (*at >= end)
            return false;
        if (*(*at)++ != (p->features[j].hash & 3)) /* the kind its hash carries (pivot.c) */
            return false;
        p->features[j].count = 0;
        if (!p->surface)
            continue;
        if (!get_varint(at, end, &len) || len > UINT32_MAX || (len && !get_varint(at, end, &v)) ||
            (len && v > UINT32_MAX))
            return false;
        p->surface[2 * j] = len ? (uint32_t)v : 0, p->surface[2 * j + 1] = (uint32_t)len;
    }
    for (size_t k = 0; k < p->n_sequence; k++) {
        if (!get_varint(at, end, &v) || v >= p->n_features)
            return false;
        if (p->n_features <= NF_PIVOT_NARROW)
            ((uint16_t *)p->sequence)[k] = (uint16_t)v;
        else
            ((uint32_t *)p->sequence)[k] = (uint32_t)v;
        p->features[v].count++;
    }
    for (size_t k = 0; k < p->n_paragraphs; k++) {
        if (!get_varint(at, end, &v) || v > p->n_sequence - end_at) /* (a sum could wrap) */
            return false;
        end_at += v;
        p->paragraph_ends[k] = (uint32_t)end_at;
    }
    for (size_t j = 0; j < p->n_features; j++) /* what pivot.c makes: sorted, unique, each in the sequence */
        if ((j && p->features[j].hash <= p->features[j - 1].hash) || p->features[j].count == 0)
            return false;
    return true;
}

/* The entry of record w (body at body), as pivot_task makes it, into d;
 * NF_ERR_PARSE or NF_ERR_NOMEM. */
static nf_status rebuild_entry(doc_entry *d, const pivot_wire *w, const uint8_t *body)
{
    nf_pivot *p = &d->pivot;
    size_t nf = w->n_features, ns = w->n_sequence;
    p->n_features = nf, p->n_sequence = ns, p->n_paragraphs = w->n_paragraphs, p->n_names = w->n_names;
    p->term_share = w->term_share;
    p->features = malloc((nf ? nf : 1) * sizeof *p->features);
    p->sequence = malloc((ns ? ns : 1) * (nf <= NF_PIVOT_NARROW ? sizeof(uint16_t) : sizeof(uint32_t)));
    p->surface = w->flags & WIRE_SURFACE ? calloc(2 * nf + 1, sizeof *p->surface) : NULL;
    p->paragraph_ends = malloc((w->n_paragraphs + 1) * sizeof *p->paragraph_ends);
    if (!p->features || !p->sequence || ((w->flags & WIRE_SURFACE) && !p->surface) || !p->paragraph_ends)
        return NF_ERR_NOMEM;
    for (size_t j = 0; j < nf; j++)
        memcpy(&p->features[j].hash, body + 8 * j, 8);
    const uint8_t *at = body + 8 * nf, *end = body + w->body;
    if (!get_pivot_varints(p, &at, end) || w->names_len > (size_t)(end - at) ||
        w->keys_len > (size_t)(end - at) - w->names_len || /* each: their sum may wrap */
        !wire_strings((const char *)at, w->names_len, w->n_names) ||
        !wire_strings((const char *)at + w->names_len, w->keys_len, w->n_names))
        return NF_ERR_PARSE;
    p->names = wire_copy(at, w->names_len);
    p->name_keys = wire_copy(at + w->names_len, w->keys_len);
    memcpy(d->lang, w->lang, sizeof d->lang); /* NUL-terminated: checked */
    d->text_len = w->text_len;
    count_nondate(d);
    return p->names && p->name_keys && build_paragraph_sets(d) ? NF_OK : NF_ERR_NOMEM;
}

nf_status nfi_links_append_pivot(nf_links *l, const char *buf, size_t len, size_t *pos, nf_error *err)
{
    pivot_wire w;
    if (*pos > len || len - *pos < sizeof w)
        return nfi_fail(err, NF_ERR_PARSE, "links: truncated pivot");
    memcpy(&w, buf + *pos, sizeof w);
    size_t left = len - *pos - sizeof w;
    if (w.body > left || w.body % 8)
        return nfi_fail(err, NF_ERR_PARSE, "links: truncated pivot");
    if (w.n_features > w.body / 9 || w.n_sequence > w.body || w.n_paragraphs > w.body ||
        !memchr(w.lang, '\0', sizeof w.lang) || (w.flags & ~(uint32_t)WIRE_SURFACE))
        return nfi_fail(err, NF_ERR_PARSE, "links: malformed pivot");
    doc_entry d;
    memset(&d, 0, sizeof d);
    nf_status st = rebuild_entry(&d, &w, (const uint8_t *)buf + *pos + sizeof w);
    doc_entry *grown = st == NF_OK ? nfi_grow_array(l->docs, &l->cap, l->n + 1, sizeof *l->docs) : NULL;
    if (!grown) {
        free_entry(&d);
        return st == NF_ERR_PARSE ? nfi_fail(err, st, "links: malformed pivot")
                                  : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    l->docs = grown;
    l->docs[l->n++] = d;
    *pos += sizeof w + w.body;
    return NF_OK;
}

void nfi_links_truncate(nf_links *l, size_t n)
{
    for (size_t i = n; i < l->n; i++)
        free_entry(&l->docs[i]);
    if (n < l->n)
        l->n = n;
}

size_t nfi_links_size(const nf_links *l) { return l->n; }

/* A weighted entry on the wire (the distributed scoring fetches the other
 * document of a pair): its pivot record, then its weights (floats, padded
 * to 8 bytes), then this. */
typedef struct weighted_wire {
    double norm, kind_norm[4];
    uint64_t lang_id;
} weighted_wire;

void nfi_links_put_weighted(const nf_links *l, size_t i, nfi_buf *out)
{
    const doc_entry *d = &l->docs[i];
    nfi_links_put_pivot(l, i, out);
    size_t n = d->pivot.n_features * sizeof *d->weights;
    nfi_buf_append(out, d->weights, n);
    nfi_buf_pad8(out, n);
    weighted_wire w = {d->norm, {d->kind_norm[0], d->kind_norm[1], d->kind_norm[2], d->kind_norm[3]}, d->lang_id};
    nfi_buf_append(out, &w, sizeof w);
}

nf_status nfi_links_append_weighted(nf_links *l, const char *buf, size_t len, size_t *pos, nf_error *err)
{
    nf_status st = nfi_links_append_pivot(l, buf, len, pos, err);
    if (st != NF_OK)
        return st;
    doc_entry *d = &l->docs[l->n - 1];
    size_t n = d->pivot.n_features * sizeof *d->weights;
    weighted_wire w;
    if (len - *pos < nfi_pad8(n) + sizeof w)
        return nfi_fail(err, NF_ERR_PARSE, "links: truncated weights");
    if (alloc_doc_arrays(d, false) != NF_OK)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    memcpy(d->weights, buf + *pos, n);
    memcpy(&w, buf + *pos + nfi_pad8(n), sizeof w);
    *pos += nfi_pad8(n) + sizeof w;
    d->norm = w.norm;
    memcpy(d->kind_norm, w.kind_norm, sizeof d->kind_norm);
    d->lang_id = (uint32_t)w.lang_id;
    for (size_t f = 0; f < d->pivot.n_features; f++)
        d->post[f] = UINT32_MAX;
    return cross_all(d) ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
}
