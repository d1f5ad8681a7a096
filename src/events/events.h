/* events.h - the internal contract of src/events/ (never installed). */
#ifndef NF_EVENTS_EVENTS_H
#define NF_EVENTS_EVENTS_H

#include "common/common.h"
#include "text/text.h"

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


enum { CH_TITLE = 0, CH_BODY = 1, CH_NAMES = 2, CH_PIVOT = 3, N_CH = 4 };

/* Raw feature flags. A weak name is a capitalized word in a language that
 * capitalizes every noun (German): it only counts where some document
 * corroborates it as a name (see entities.c). */
enum { FEAT_WEAK = 1, FEAT_UNIGRAM = 2 };

/* The document-frequency key counting lowercase uses of a name key: the
 * name unigram hash xor this, so a name feature finds it without its text. */
#define NF_LOWER_SALT 0x6c6f776572636173ULL

typedef struct nfi_rawfeat {
    uint64_t hash;
    uint32_t count;
    uint32_t flags;
} nfi_rawfeat;

/* Everything extracted from one document, before weighting. */
typedef struct nfi_docfeat {
    nfi_rawfeat *f[N_CH]; /* sorted by hash, unique; CH_PIVOT: a headline-only record's title pivot */
    size_t n[N_CH], cap[N_CH];
    nfi_buf runs;     /* the document's name runs, serialized (entities.c) */
    uint64_t *lower; /* name-unigram hashes of words used in lower case (unique) */
    size_t n_lower, cap_lower;
} nfi_docfeat;

void nfi_docfeat_reset(nfi_docfeat *d);
void nfi_docfeat_free(nfi_docfeat *d);

/* Per-thread extraction state: a tokenizer for titles, a transliterator,
 * scratch space. */
typedef struct nfi_featctx nfi_featctx;

/* lex (may be NULL): the dictionaries for the pivots of headline-only
 * records (see evfeat.c), owned by the caller. */
struct nfi_lexicon;
nf_status nfi_featctx_new(nfi_featctx **out, const struct nfi_lexicon *lex, nf_error *err);
/* Where the event stage loads the dictionaries for headline pivots from
 * (as nf_links_options' dict_dir, cache_dir, lexicon_file; NULL: the
 * defaults). The strings are the caller's and must outlive the stage. The
 * fold passes its links options, so `run --dict-dir` reaches both stages. */
void nfi_events_dictionaries(nf_events *ev, const char *dict_dir, const char *cache_dir, const char *lexicon_file);
/* run --mpi (src/mpi/mpi_run.c): a rank extracts a batch's features on the
 * stage's threads (out[i] for docs[i], freed with nfi_docfeat_free) and puts
 * each document on the wire with what the stage keeps of it (id, title,
 * language, source, url, dates, token count; never the text); rank 0 appends
 * the record at *pos exactly as nf_events_add appends a document of its own,
 * refusing a malformed one, and moves *pos past it. */
nf_status nfi_events_features(nf_events *ev, const nf_clean_doc *docs, size_t n, nfi_docfeat *out, nf_error *err);
void nfi_events_put_doc(nfi_buf *b, const nf_clean_doc *cd, const nfi_docfeat *f);
nf_status nfi_events_append_doc(nf_events *ev, const char *buf, size_t len, size_t *pos, nf_error *err);
/* A record whose text is empty and whose title is the whole document. */
bool nfi_evfeat_is_headline_only(const nf_clean_doc *cd);
void nfi_featctx_free(nfi_featctx *c);
nf_status nfi_evfeat_extract(nfi_featctx *c, const nf_clean_doc *cd, nfi_docfeat *out, nf_error *err);

/* Feature namespaces: terms (title and body share document frequencies),
 * names, name bigrams, numbers. */
uint64_t nfi_feat_hash(char ns, const char *s, size_t n);

/* entities.c: the spelling-tolerant ASCII key of one name token given its
 * normalized form; appended to out. Returns false when nothing is left. */
typedef struct nfi_translit nfi_translit;
nf_status nfi_translit_new(nfi_translit **out, nf_error *err);
void nfi_translit_free(nfi_translit *t);
bool nfi_name_key(nfi_translit *t, const char *norm, size_t len, nfi_buf *out);

/* Adds the name and number features of cd to out->f[CH_NAMES] (unsorted,
 * possibly repeated; the caller merges) and its name runs to out->runs. */
nf_status nfi_names_extract(nfi_translit *t, const nf_clean_doc *cd, nfi_docfeat *out, nf_error *err);
/* Room for n more features of channel ch (grown as needed; d->n unchanged,
 * the caller counts what it writes there), or NULL when memory ran out. */
nfi_rawfeat *nfi_docfeat_room(nfi_docfeat *d, int ch, size_t n);
/* Appends one feature (count 1); inline: names push one a name token. */
static inline bool nfi_docfeat_push(nfi_docfeat *d, int ch, uint64_t hash, uint32_t flags)
{
    nfi_rawfeat *f = d->n[ch] < d->cap[ch] && d->f[ch] ? d->f[ch] + d->n[ch] : nfi_docfeat_room(d, ch, 1);
    if (!f)
        return false;
    *f = (nfi_rawfeat){hash, 1, flags};
    d->n[ch]++;
    return true;
}
/* For a document without text: the name runs of its title (tokens into
 * pool), for its event's entities only (no features). */
nf_status nfi_title_runs(nfi_translit *t, const nf_clean_doc *cd, const nf_token *tokens, size_t n,
                        const char *pool, nfi_docfeat *out, nf_error *err);

/* Whether a name token (its unigram hash, weak or not) counts as a name:
 * a weak one must be corroborated (seen strong somewhere), and no name may
 * be a common word (used in lower case by enough documents). */
typedef bool (*nfi_name_ok_fn)(const void *ctx, uint64_t hash, bool weak);

/* One event's entities from the runs of its members. */
typedef struct nfi_entity_input {
    const char *runs; /* a member's serialized runs */
    size_t runs_len;
    uint32_t component; /* members with the same component are not independent */
    bool headline_lang; /* the member is in the language of the event's headline */
} nfi_entity_input;

/* An entity whose strings lie at offsets in the caller's string buffer
 * (which may still grow). */
typedef struct nfi_entity_tmp {
    size_t name_off, key_off;
    uint32_t sources, mentions;
} nfi_entity_tmp;

/* Whether serialized runs (nfi_docfeat.runs) read to their end: what rank
 * 0 of run --mpi checks before it keeps a remote document's runs. */
bool nfi_runs_valid(const char *runs, size_t len);
nf_status nfi_entities_collect(const nfi_entity_input *in, size_t n, nfi_name_ok_fn name_ok, const void *ctx,
                              size_t max_entities, nfi_entity_tmp **out, size_t *n_out, nfi_buf *strings,
                              nf_error *err);
/* A map from hashes to 64-bit values for one document or event at a
 * time, whose table is kept from one to the next (entities.c: smap_*;
 * zero-initialized; its slots are freed with free). */
typedef struct nfi_smap {
    struct nfi_smap_slot *slots;
    size_t cap, mask, count;
    uint32_t stamp;
} nfi_smap;
/* A thread's maps for collecting entities, kept from one event to the next
 * (zero-initialized; nfi_entity_maps_free): an event's maps that started
 * empty grew about four times, each a new table and a rehash (most of the
 * maps' cost); cleared maps still cost a clearing or a regrowth per event,
 * which nfi_smap's stamps spare. Their contents do not carry over. */
typedef struct nfi_entity_maps {
    nfi_smap doc_seen, evidence;
    void *items, *recs; /* the members' runs as read (entities.c's types), kept like the maps */
    size_t cap_items, cap_recs;
    size_t *member_end;
    size_t cap_members;
} nfi_entity_maps;
void nfi_entity_maps_free(nfi_entity_maps *m);
/* nfi_entities_collect with the maps of maps (the same result). */
nf_status nfi_entities_collect_with(nfi_entity_maps *maps, const nfi_entity_input *in, size_t n,
                                   nfi_name_ok_fn name_ok, const void *ctx, size_t max_entities,
                                   nfi_entity_tmp **out, size_t *n_out, nfi_buf *strings, nf_error *err);

/* sparse.c: weighted sparse vectors sorted by hash. A feature is 12 bytes,
 * packed (4-byte aligned): the live centroids, profiles and documents'
 * vectors are most of the event stage's memory, and their scans read a
 * quarter fewer bytes than with the 4 bytes of padding a 16-byte struct
 * would carry. */
typedef struct __attribute__((packed, aligned(4))) nfi_wfeat {
    uint64_t hash;
    float w;
} nfi_wfeat;
_Static_assert(sizeof(nfi_wfeat) == 12, "nfi_wfeat is packed");

typedef struct nfi_svec_table nfi_svec_table;

typedef struct nfi_svec {
    nfi_wfeat *f;
    uint32_t n, cap;
    double norm2; /* sum of squared weights */
    const nfi_svec_table *table; /* optional: a hash table of f (nfi_svec_table_build), not owned */
} nfi_svec;

/* A hash table over one vector's features, for a vector dotted with many
 * others (the document being streamed, with each candidate's centroids):
 * nfi_svec_dot then probes it with the other vector's features instead of
 * merging, and adds the same products in the same (hash) order. */
struct nfi_svec_table {
    nfi_wfeat *slot; /* each feature in one of its two places (cuckoo); hash 0: empty */
    size_t mask, cap;
    uint32_t *used; /* the places filled by the last build (all others are empty) */
    size_t n_used;
    uint8_t *filter; /* a one-byte-per-hash filter of the features (1: some feature's), 4 bytes a place (sparse.c) */
    size_t filter_mask; /* bytes in the filter - 1 */
    double *tail; /* nfi_svec_table_tails: tail[i] = sum of w^2 over the vector's f[i..n) */
    size_t cap_tail;
};
/* Builds t over v's features; false (and v is to be used without a table)
 * when memory is short or the features do not fit. */
bool nfi_svec_table_build(nfi_svec_table *t, const nfi_svec *v);
void nfi_svec_table_free(nfi_svec_table *t);
/* The table's tails of v (the vector it was built over), for
 * nfi_svec_dot_bounded; false when memory is short. */
bool nfi_svec_table_tails(nfi_svec_table *t, const nfi_svec *v);
/* Block tails of a vector b for nfi_svec_dot_bounded: tail[k] = sum of w^2
 * over b's f[k * NFI_DOT_BLOCK ..), k = 0 .. blocks; false when b has
 * max or more blocks. */
#define NFI_DOT_BLOCK 64
bool nfi_svec_block_tails(const nfi_svec *b, double *tail, size_t max);
/* nfi_svec_dot of a (with a table and its tails) and b, abandoned (*cut
 * set, the partial sum returned) as soon as it is certain to stay below
 * limit (Cauchy-Schwarz over the features not yet passed); otherwise the
 * same bits as nfi_svec_dot. */
double nfi_svec_dot_bounded(const nfi_svec *a, const nfi_svec *b, const double *b_tail, double limit, bool *cut);

/* The `top` largest weights of f[0..n) into best, largest first, ties to
 * the smaller hash; how many (at most top and n). */
uint32_t nfi_svec_ranked_top(const nfi_wfeat *f, uint32_t n, uint32_t top, nfi_wfeat *best);
/* The n largest weights of v (ties to the smaller hash) into out in hash
 * order, as nfi_svec_top_of selects them; how many (all of v when it has
 * no more; 0 when memory is short). */
uint32_t nfi_svec_top_set(const nfi_svec *v, uint32_t n, nfi_wfeat *out);
/* dst = set[0..n) (nfi_svec_top_set of a vector v) with its norm:
 * nfi_svec_top_of(dst, v, n) bit for bit when v has more than n. */
bool nfi_svec_from_set(nfi_svec *dst, const nfi_wfeat *set, uint32_t n);

void nfi_svec_free(nfi_svec *v);
double nfi_svec_dot(const nfi_svec *a, const nfi_svec *b);
double nfi_svec_cos(const nfi_svec *a, const nfi_svec *b);
/* a += scale * b; then keeps the max_n largest weights (0 = all). */
bool nfi_svec_add(nfi_svec *a, const nfi_svec *b, double scale, uint32_t max_n);
/* Empty *a = v[0] + ... + v[n-1]: the same bits as nfi_svec_add(a, v[k],
 * 1.0, 0) for k in order, in one stable sort instead of n merges. */
bool nfi_svec_sum(nfi_svec *a, const nfi_svec *const *v, size_t n);
/* Scales to unit length (no-op on the zero vector). */
void nfi_svec_normalize(nfi_svec *v);
/* Keeps the n largest weights (ties by hash), still sorted by hash. */
void nfi_svec_top(nfi_svec *v, uint32_t n);
/* dst = src with nfi_svec_top(dst, n) applied, without copying src whole. */
bool nfi_svec_top_of(nfi_svec *dst, const nfi_svec *src, uint32_t n);
/* The k-th largest of a[0..n) (1 <= k <= n), reordering a (radix
 * selection: linear; the one selection of the stage). */
uint32_t nfi_kth_largest_u32(uint32_t *a, size_t n, size_t k);
/* Room for n weights in v (its capacity doubled until they fit). */
bool nfi_svec_reserve(nfi_svec *v, uint32_t n);
bool nfi_svec_copy(nfi_svec *dst, const nfi_svec *src);

/* stream.c: the streaming clusterer. Documents arrive in stream order as
 * weighted unit vectors per channel; events live while they get reports. */
#define NFI_VEC_QUERY 16 /* a streamed document's strongest features ranked per channel: the stream's queries */
#define NFI_VEC_TOP 32   /* ... and the most it keeps per channel for an event's profile */
typedef struct nfi_docvec {
    nfi_svec ch[N_CH];
    uint64_t lang; /* hash of the language code */
    bool title_pivot; /* the pivot is a headline's title pivot: scored and
                         kept in the centroid (storylines), but it looks up
                         no candidates (see stream.c) */
    bool has_top; /* query and set are made (a document being streamed, build_vec) */
    uint8_t n_query[N_CH];
    nfi_wfeat query[N_CH][NFI_VEC_QUERY]; /* each channel's largest weights, ranked (nfi_svec_ranked_top) */
    uint8_t n_set[N_CH]; /* a channel longer than its profile: that many largest (nfi_svec_top_set), else 0 */
    nfi_wfeat set[N_CH][NFI_VEC_TOP]; /* (the profile of an event of this document only: no selection) */
} nfi_docvec;

typedef struct nfi_stream nfi_stream;

/* A document with fewer distinct body terms is judged as a headline
 * (threshold_short): its title cosine alone runs lower. */
#define NF_SHORT_BODY_TERMS 24

/* A title is short: a headline record counts as a headline, and a title
 * taken from the text's first line gives title features, only below this
 * many tokens (og2021-dev's and UCI's longest titles have 32, WMT21's
 * first lines 31 words; a one-line record without a title, as in rc20m,
 * reads its whole 3 KB text as its title: an article, not a headline). */
#define NF_HEADLINE_MAX_TOKENS 64

/* Called once per event when it leaves the live set (expiry or flush),
 * with its centroid, which the callback may take over (leaving the vectors
 * zeroed); what is left is freed. */
typedef nf_status (*nfi_finalize_fn)(void *ctx, uint32_t event, nfi_svec centroid[N_CH], nf_error *err);

/* How much of a document's time is known. */
enum { NFI_TIME_NONE = 0, NFI_TIME_DAY = 1, NFI_TIME_OF_DAY = 2 };

/* What a document's score against an event is made of. */
typedef struct nfi_score_parts {
    double cos[N_CH];  /* channel cosines with the event's centroids */
    double mixed;      /* articles: the weighted mean (before the time decay) */
    double gap_days;   /* stream time since the event's last report */
    bool same_lang;    /* the event has a report in the document's language */
    bool headline;     /* judged as a headline (nfi_is_headline) */
    int timed;         /* NFI_TIME_* of the document (its own or its component's) */
    bool country_conflict; /* the headline names countries, the event others only */
} nfi_score_parts;

bool nfi_is_headline(const nfi_docvec *v);

/* Countries in title pivots (evfeat.c): a headline-only record's title
 * pivot holds one feature per country its title names
 * (nfi_country_feature of the ISO region code). A set of all of them tells
 * those features from the pivot's others; a headline that names countries,
 * none of which an event's reports name, rarely reports that event
 * (docs/events.md, "seventh round"). */
#define NFI_MAX_REGIONS 512
typedef struct nfi_country_set {
    uint64_t h[NFI_MAX_REGIONS]; /* sorted */
    size_t n;
} nfi_country_set;
uint64_t nfi_country_feature(const char *region);
void nfi_country_set_init(nfi_country_set *s);
/* The country features of a pivot vector (at most max, in its order). */
size_t nfi_countries_of(const nfi_country_set *s, const nfi_svec *pivot, uint64_t *out, size_t max);
/* Whether both lists name countries and share none. */
bool nfi_countries_conflict(const uint64_t *a, size_t na, const uint64_t *b, size_t nb);
void nfi_score_parts_of(const nf_events_options *o, const nfi_docvec *v, const nfi_svec centroid[N_CH],
                        bool same_lang, int timed, double gap_days, nfi_score_parts *p);
/* A headline's probability of belonging to the event, or an article's
 * decayed score (see stream.c). */
double nfi_score_value(const nf_events_options *o, const nfi_score_parts *p);
/* Whether the best candidate's probability leads the others' best (second;
 * <= 0 when there are none) by at least margin in logit (stream.c): such a
 * candidate is joined below the threshold (stream, small events attached). */
bool nfi_leads(double best, double second, double margin);

/* Called for every event scored against a document (tuning). */
typedef void (*nfi_trace_fn)(void *ctx, uint32_t doc, uint32_t event, const nfi_score_parts *p);

nf_status nfi_stream_new(nfi_stream **out, const nf_events_options *o, nfi_finalize_fn fn, void *ctx,
                        nf_error *err);
void nfi_stream_free(nfi_stream *s);
void nfi_stream_set_trace(nfi_stream *s, nfi_trace_fn fn, void *ctx);
/* Assigns document doc at time t (days, fractional; the stream clock):
 * to event `forced` when it is not UINT32_MAX (a hard link), else to the
 * best live event or a new one. timed is the NFI_TIME_* level of t: the
 * headline model needs a time of day; an undated document's t is the
 * stream clock at its place. */
nf_status nfi_stream_push(nfi_stream *s, uint32_t doc, double t, int timed, const nfi_docvec *v,
                         uint32_t forced, uint32_t *event, double *score, nf_error *err);
/* Finalizes every event still live. */
nf_status nfi_stream_flush(nfi_stream *s, nf_error *err);
size_t nfi_stream_events(const nfi_stream *s);
const uint32_t *nfi_stream_members(const nfi_stream *s, uint32_t event, size_t *n);
/* While the event's slot is live and it has one member (pushed with its
 * sets): that document's set of channel ch (nfi_docvec.set; *n: n_set),
 * which is its centroid's too (a copy of that document's vectors); else
 * NULL. For the finalize callback. */
const nfi_wfeat *nfi_stream_single_set(const nfi_stream *s, uint32_t event, int ch, uint32_t *n);
void nfi_stream_days(const nfi_stream *s, uint32_t event, int32_t *first, int32_t *last);
void nfi_stream_times(const nfi_stream *s, uint32_t event, double *first, double *last);
void nfi_stream_stats(const nfi_stream *s, size_t *scored, size_t *max_live);
/* The mixed score of a document against a centroid (also used to find an
 * event's most central report). */
double nfi_event_score(const nf_events_options *o, const nfi_docvec *v, const nfi_svec centroid[N_CH],
                      bool same_lang, double gap_days);

/* events.c: a term's weight given its inverse document frequency over the
 * run, idf = ln((N + prior + 1) / (df + 1)), and in the window around the
 * document ln_df_w = ln(df_w + 1), ln_n_w = ln(N_w + prior + 1): idf plus
 * weight x ln(window rate / run rate) when the rate rises in the window (a
 * burst), else idf. */
double nfi_burst_weight(double idf, double ln_df_w, double ln_n_w, double weight);

/* events.c: clusters again with other options (features are kept): for
 * tuning. Call it instead of nf_events_finish (which hands the documents'
 * strings over to its result), as often as needed. */
/* The result over the documents added so far, leaving the stage open for
 * more (live folds); hard links are then set afresh: nfi_events_clear_links
 * drops the translation links given so far. */
nf_status nfi_events_snapshot(nf_events *ev, nf_events_result *out, nf_error *err);
void nfi_events_clear_links(nf_events *ev);
nf_status nfi_events_recluster(nf_events *ev, const nf_events_options *o, nf_events_result *out,
                              nf_error *err);
/* Every candidate scored in later clusterings goes to fn (tuning dumps). */
void nfi_events_set_trace(nf_events *ev, nfi_trace_fn fn, void *ctx);

/* storylines.c: links events into storylines. */
typedef struct nfi_event_profile {
    nfi_svec ch[N_CH]; /* the final centroid's top features, unit length */
    int32_t first_day, last_day;
} nfi_event_profile;

/* storyline[e] gets the storyline of event e; storylines are numbered in
 * order of their first event (events are numbered in time order). */
nf_status nfi_storylines_link(const nfi_event_profile *ev, size_t n, const nf_events_options *o,
                             uint32_t *storyline, size_t *n_storylines, nf_error *err);

/* storylines.c: events of different languages that report one happening,
 * joined after the stream (see docs/events.md). group[e] gets the joined
 * event of e, numbered by first event. */
typedef struct nfi_merge_event {
    const nfi_event_profile *prof;
    uint64_t lang; /* its main language (hash) */
    double first_t, last_t;
    bool headlines; /* every member is a headline: only such events are joined */
    bool timed;     /* every member has a time of day (the headline model applies) */
    uint32_t n;     /* its reports */
} nfi_merge_event;

/* model: the headline model's coefficients (nf_events_options), with which
 * small timed headline events are attached to a larger one nearby; NULL:
 * no attaching. */
nf_status nfi_events_merge_languages(const nfi_merge_event *m, size_t n, double threshold, double days,
                                    const double *model, uint32_t *group, size_t *n_groups, nf_error *err);

#endif
