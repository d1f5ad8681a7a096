/*
 * events_internal.h - what the event stage's files share: per-document
 * features (evfeat.c), names and entities (entities.c), sparse vectors
 * (sparse.c), storylines (storylines.c) and the engine (events.c).
 *
 * A document is seen through channels, each a sparse vector of hashed
 * features: its title terms, its body terms, its names and numbers
 * (language-neutral), and optionally a pivot from the cross-lingual stage.
 * The engine only ever compares channels, so adding or swapping a channel
 * (the pivot) does not touch the clustering.
 */
#ifndef NF_EVENTS_INTERNAL_H
#define NF_EVENTS_INTERNAL_H

#include "hmap.h"
#include "internal.h"
#include "normalize.h"

enum { CH_TITLE = 0, CH_BODY = 1, CH_NAMES = 2, CH_PIVOT = 3, N_CH = 4 };

/* Raw feature flags. A weak name is a capitalized word in a language that
 * capitalizes every noun (German): it only counts where some document
 * corroborates it as a name (see entities.c). */
enum { FEAT_WEAK = 1, FEAT_UNIGRAM = 2 };

/* The document-frequency key counting lowercase uses of a name key: the
 * name unigram hash xor this, so a name feature finds it without its text. */
#define NF_LOWER_SALT 0x6c6f776572636173ULL

typedef struct nf_rawfeat {
    uint64_t hash;
    uint32_t count;
    uint32_t flags;
} nf_rawfeat;

/* Everything extracted from one document, before weighting. */
typedef struct nf_docfeat {
    nf_rawfeat *f[N_CH]; /* sorted by hash, unique; CH_PIVOT unused here */
    size_t n[N_CH], cap[N_CH];
    nf_buf runs;     /* the document's name runs, serialized (entities.c) */
    uint64_t *lower; /* name-unigram hashes of words used in lower case (unique) */
    size_t n_lower, cap_lower;
} nf_docfeat;

void nf_docfeat_reset(nf_docfeat *d);
void nf_docfeat_free(nf_docfeat *d);

/* Per-thread extraction state: a tokenizer for titles, a transliterator,
 * scratch space. */
typedef struct nf_featctx nf_featctx;

nf_status nf_featctx_new(nf_featctx **out, nf_error *err);
void nf_featctx_free(nf_featctx *c);
nf_status nf_evfeat_extract(nf_featctx *c, const nf_clean_doc *cd, nf_docfeat *out, nf_error *err);

/* Feature namespaces: terms (title and body share document frequencies),
 * names, name bigrams, numbers. */
uint64_t nf_feat_hash(char ns, const char *s, size_t n);

/* entities.c: the spelling-tolerant ASCII key of one name token given its
 * normalized form; appended to out. Returns false when nothing is left. */
typedef struct nf_translit nf_translit;
nf_status nf_translit_new(nf_translit **out, nf_error *err);
void nf_translit_free(nf_translit *t);
bool nf_name_key(nf_translit *t, const char *norm, size_t len, nf_buf *out);

/* Adds the name and number features of cd to out->f[CH_NAMES] (unsorted,
 * possibly repeated; the caller merges) and its name runs to out->runs. */
nf_status nf_names_extract(nf_translit *t, const nf_clean_doc *cd, nf_docfeat *out, nf_error *err);
bool nf_docfeat_push(nf_docfeat *d, int ch, uint64_t hash, uint32_t flags);

/* Whether a name token (its unigram hash, weak or not) counts as a name:
 * a weak one must be corroborated (seen strong somewhere), and no name may
 * be a common word (used in lower case by enough documents). */
typedef bool (*nf_name_ok_fn)(const void *ctx, uint64_t hash, bool weak);

/* One event's entities from the runs of its members. */
typedef struct nf_entity_input {
    const char *runs; /* a member's serialized runs */
    size_t runs_len;
    uint32_t component; /* members with the same component are not independent */
} nf_entity_input;

/* An entity whose strings lie at offsets in the caller's string buffer
 * (which may still grow). */
typedef struct nf_entity_tmp {
    size_t name_off, key_off;
    uint32_t sources, mentions;
} nf_entity_tmp;

nf_status nf_entities_collect(const nf_entity_input *in, size_t n, nf_name_ok_fn name_ok, const void *ctx,
                              size_t max_entities, nf_entity_tmp **out, size_t *n_out, nf_buf *strings,
                              nf_error *err);

/* sparse.c: weighted sparse vectors sorted by hash. */
typedef struct nf_wfeat {
    uint64_t hash;
    float w;
} nf_wfeat;

typedef struct nf_svec {
    nf_wfeat *f;
    uint32_t n, cap;
    double norm2; /* sum of squared weights */
} nf_svec;

void nf_svec_free(nf_svec *v);
bool nf_svec_has(const nf_svec *v, uint64_t hash);
double nf_svec_dot(const nf_svec *a, const nf_svec *b);
double nf_svec_cos(const nf_svec *a, const nf_svec *b);
/* a += scale * b; then keeps the max_n largest weights (0 = all). */
bool nf_svec_add(nf_svec *a, const nf_svec *b, double scale, uint32_t max_n);
/* Scales to unit length (no-op on the zero vector). */
void nf_svec_normalize(nf_svec *v);
/* Keeps the n largest weights (ties by hash), still sorted by hash. */
void nf_svec_top(nf_svec *v, uint32_t n);
bool nf_svec_copy(nf_svec *dst, const nf_svec *src);

/* stream.c: the streaming clusterer. Documents arrive in stream order as
 * weighted unit vectors per channel; events live while they get reports. */
typedef struct nf_docvec {
    nf_svec ch[N_CH];
    uint64_t lang; /* hash of the language code */
} nf_docvec;

typedef struct nf_stream nf_stream;

/* A document with fewer distinct body terms is judged as a headline
 * (threshold_short): its title cosine alone runs lower. */
#define NF_SHORT_BODY_TERMS 24

/* Called once per event when it leaves the live set (expiry or flush),
 * with its centroid, before the centroid is freed. */
typedef nf_status (*nf_finalize_fn)(void *ctx, uint32_t event, const nf_svec centroid[N_CH], nf_error *err);

nf_status nf_stream_new(nf_stream **out, const nf_events_options *o, nf_finalize_fn fn, void *ctx,
                        nf_error *err);
void nf_stream_free(nf_stream *s);
/* Assigns document doc of day `day`: to event `forced` when it is not
 * UINT32_MAX (a hard link), else to the best live event or a new one. */
nf_status nf_stream_push(nf_stream *s, uint32_t doc, int32_t day, const nf_docvec *v, uint32_t forced,
                         uint32_t *event, double *score, nf_error *err);
/* Finalizes every event still live. */
nf_status nf_stream_flush(nf_stream *s, nf_error *err);
size_t nf_stream_events(const nf_stream *s);
const uint32_t *nf_stream_members(const nf_stream *s, uint32_t event, size_t *n);
void nf_stream_days(const nf_stream *s, uint32_t event, int32_t *first, int32_t *last);
void nf_stream_stats(const nf_stream *s, size_t *scored, size_t *max_live);
/* The mixed score of a document against a centroid (also used to find an
 * event's most central report). */
double nf_event_score(const nf_events_options *o, const nf_docvec *v, const nf_svec centroid[N_CH],
                      bool same_lang, int32_t days_apart);

/* events.c: clusters again with other options (features are kept): for
 * tuning. Call it instead of nf_events_finish (which hands the documents'
 * strings over to its result), as often as needed. */
nf_status nf_events_recluster(nf_events *ev, const nf_events_options *o, nf_events_result *out,
                              nf_error *err);

/* storylines.c: links events into storylines. */
typedef struct nf_event_profile {
    nf_svec ch[N_CH]; /* the final centroid's top features, unit length */
    int32_t first_day, last_day;
} nf_event_profile;

/* storyline[e] gets the storyline of event e; storylines are numbered in
 * order of their first event (events are numbered in time order). */
nf_status nf_storylines_link(const nf_event_profile *ev, size_t n, const nf_events_options *o,
                             uint32_t *storyline, size_t *n_storylines, nf_error *err);

#endif
