/*
 * stream.c - streaming event clustering: the live set, its inverted index
 * and expiry.
 *
 * Invariants:
 * - Documents arrive in stream order (time, then id); each is assigned once,
 *   for good: to a hard-linked event, to the best-scoring live event when
 *   that score reaches the threshold, or to a new event.
 * - A live event holds centroids (sums of its members' unit vectors per
 *   channel, pruned to their largest weights) in a slot. Features that
 *   enter a centroid are posted once in the inverted index (feature ->
 *   event numbers, appended in time order; the index is a table of the
 *   lists themselves, and a list of one or two events holds them in its
 *   slot).
 * - Candidates are found only through the index: the document's strongest
 *   title terms, names, body and pivot terms (QUERY_TOP of each; not the
 *   pivot a headline-only record gets from its title: within one broad
 *   topic its shared names and numbers find every event of the topic, and
 *   the headline model gives it no weight, docs/events.md) look up
 *   their posting lists, newest entries first, at most POSTING_SCAN per list; entries of
 *   events no longer live are skipped (per event, one 8-byte entry holds
 *   its slot and the weight accumulated for the current document). The events with the most
 *   accumulated weight (at most options.candidates, and only those with at
 *   least CANDIDATE_RATIO of the best one's weight) are scored in full
 *   (the pivot channel only where its cosine can change the score:
 *   pivot_counts). Nothing ever scans all events. A candidate's body
 *   cosine is summed only while the score may still reach the threshold
 *   or the best score so far (best_event: exact, what it skips could not
 *   change the result).
 * - A timed headline joins its best candidate when the headline model's
 *   probability reaches threshold_short, or DOMINANT_SHARE of it when that
 *   candidate leads every other one by DOMINANT_MARGIN in logit (or is the
 *   only one):
 *   the model was fitted on single pairs, while a headline that only one
 *   live event comes near is more likely that event's than the pair's
 *   probability says (docs/events.md, "fifth round").
 * - A live event keeps the countries its reports' titles name (the country
 *   features of their title pivots, up to SLOT_COUNTRIES; more: never a
 *   conflict). A timed headline that names countries, none of them the
 *   event's, loses COUNTRY_CONFLICT in logit against it: within one broad
 *   topic a report of another country's athletes, team or delegation is
 *   another event (docs/events.md, "seventh round").
 * - An event whose last report is more than window_days before the current
 *   document leaves the live set: it is finalized (callback), its centroid
 *   freed, its slot reused. Its postings die with it and are swept once
 *   dead entries outnumber live ones (after a flush only if another
 *   document is pushed), so memory follows the live window.
 *   Membership lists (the output) stay.
 * - All choices break ties by event number, so the result depends only on
 *   the input order.
 */
#include "events/events.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POSTING_SCAN 128
#define TOUCH_AHEAD 32 /* postings prefetched ahead (two lines) while a list is read */
#define QUERY_TOP NFI_VEC_QUERY /* features of each channel used to look up candidates (build_vec ranks them) */
#define MAX_LANGS 16
#define CANDIDATE_RATIO \
    0.2f /* candidates with less accumulated weight than this share of the best are not scored */
#define NONE UINT32_MAX

static const uint32_t centroid_cap[N_CH] = {128, 512, 256, 256};
static const uint64_t channel_salt[N_CH] = {0x1111111111111111ULL, 0x2222222222222222ULL,
                                            0x3333333333333333ULL, 0x4444444444444444ULL};

#define SLOT_COUNTRIES 16 /* countries an event's reports name, kept to tell a conflict */

#define BODY_TAILS 17 /* block tails of a body centroid: up to 2 x its cap before pruning, 64 a block, + 1 */

typedef struct live_slot {
    nfi_svec c[N_CH];
    bool has_tails;                /* body_tail holds the body centroid's block tails */
    double body_tail[BODY_TAILS]; /* nfi_svec_block_tails of c[CH_BODY], for bounded scoring */
    uint64_t langs[MAX_LANGS];
    uint32_t n_langs;
    uint32_t n_countries; /* SLOT_COUNTRIES + 1: more than fit (never a conflict) */
    uint64_t countries[SLOT_COUNTRIES];
    size_t postings;
    bool single; /* one member, whose sets set holds (nfi_stream_single_set) */
    uint8_t n_set[N_CH];
    nfi_wfeat set[N_CH][NFI_VEC_TOP];
} live_slot;

typedef struct event_rec {
    uint32_t *members;
    uint32_t n, cap;
    double first_t, last_t, queued_t; /* times in days (fractional) */
} event_rec;

/* A posting is its event's number: the event's hot entry says whether it
 * is still live (and in which slot). */
typedef uint32_t posting;

/* A posting list, which is also the index's slot of its feature (the
 * index is an open-addressing table of lists keyed by salted feature hash,
 * linear probing, at most half full: one probe finds the list itself, with
 * no separate table of list numbers to read and grow). Up to LIST_INLINE
 * postings lie in the list itself (most lists hold the one or two events of
 * a rare feature: no allocation, and no second cache miss when the list is
 * read). */
#define LIST_INLINE 2
typedef struct plist {
    uint64_t key; /* salted feature hash, 0 stored as 1 (as nfi_hmap does); 0: an empty slot */
    union {
        posting *p;                /* cap > 0 */
        posting in[LIST_INLINE];   /* cap == 0 */
    } u;
    uint32_t n, cap;
} plist;

static posting *list_entries(plist *l) { return l->cap ? l->u.p : l->u.in; }
static const posting *list_entries_c(const plist *l) { return l->cap ? l->u.p : l->u.in; }

/* The posting arrays of lists out of their headers: 4 x LIST_INLINE
 * postings, doubled as a list grows (tens of thousands of growths for
 * 2,000 documents, each a realloc of a few dozen bytes in malloc's
 * bookkeeping). Each size has a free list (the next free array's address
 * in an array's first bytes); new arrays are cut from chunks. The pool
 * owns the chunks: arrays are never freed one by one. */
#define POOL_CLASSES 29 /* array sizes 8 << k postings, k <= 28 (2^31 postings) */
#define POOL_CHUNK (256 * 1024) /* bytes a chunk (more for a larger array) */
typedef struct posting_pool {
    posting *free[POOL_CLASSES];
    char *at;          /* the current chunk's unused bytes */
    size_t left;
    void **chunks;
    size_t n_chunks, cap_chunks;
} posting_pool;

static int pool_class(uint32_t cap) { return __builtin_ctz(cap) - __builtin_ctz(4 * LIST_INLINE); }

static posting *pool_get(posting_pool *p, uint32_t cap)
{
    int k = pool_class(cap);
    posting *a = p->free[k];
    if (a) {
        memcpy(&p->free[k], a, sizeof(posting *));
        return a;
    }
    size_t bytes = (size_t)cap * sizeof *a;
    if (bytes > p->left) {
        size_t size = bytes > POOL_CHUNK ? bytes : POOL_CHUNK;
        if (p->n_chunks == p->cap_chunks) {
            size_t c = p->cap_chunks ? 2 * p->cap_chunks : 16;
            void **q = realloc(p->chunks, c * sizeof *q);
            if (!q)
                return NULL;
            p->chunks = q;
            p->cap_chunks = c;
        }
        char *chunk = malloc(size);
        if (!chunk)
            return NULL;
        p->chunks[p->n_chunks++] = chunk;
        p->at = chunk;
        p->left = size;
    }
    a = (posting *)(void *)p->at;
    p->at += bytes;
    p->left -= bytes;
    return a;
}

static void pool_put(posting_pool *p, posting *a, uint32_t cap)
{
    int k = pool_class(cap);
    memcpy(a, &p->free[k], sizeof(posting *));
    p->free[k] = a;
}

static void pool_free(posting_pool *p)
{
    for (size_t i = 0; i < p->n_chunks; i++)
        free(p->chunks[i]);
    free(p->chunks);
    memset(p, 0, sizeof *p);
}

/* The part of an event that every posting scanned reads: a posting is live
 * when its event still has a slot, and it adds to the event's weight. */
typedef struct ev_hot {
    uint32_t slot; /* NONE when not live */
    float acc;     /* weight accumulated by the current document */
} ev_hot;

typedef struct qent {
    uint32_t event;
    double t;
} qent;

typedef struct cand {
    uint32_t slot, event;
    float acc;
} cand;

struct nfi_stream {
    nf_events_options o;
    nfi_finalize_fn fn;
    void *ctx;
    event_rec *ev;
    ev_hot *hot; /* per event: its slot and accumulator (apart from the events:
                    both are read for every posting scanned, one access) */
    size_t n_ev, cap_ev, cap_hot;
    live_slot *slots;
    size_t n_slots, cap_slots;
    uint32_t *free_slots;
    size_t n_free, cap_free, n_live, max_live;
    plist *lists;    /* the index: cap_lists slots (a power of two, or 0), n_lists of them lists */
    size_t n_lists, cap_lists;
    posting_pool pool; /* the lists' arrays */
    size_t live_postings, dead_postings;
    bool sweep_due; /* flushed: sweep (when due) before the next push reads the index */
    qent *queue;
    size_t q_head, q_len, q_cap;
    uint32_t *touched; /* events with a non-zero accumulator */
    size_t n_touched, cap_touched;
    cand *top; /* the best candidates, ranked */
    size_t n_top, cap_top;
    nfi_svec_table doc_table[N_CH]; /* the scored document's features, per channel */
    nfi_country_set country_set;     /* tells country features in title pivots */
    uint64_t doc_countries[SLOT_COUNTRIES]; /* the countries the pushed document's title names */
    size_t n_doc_countries;
    uint64_t *fresh; /* post_new: salted hashes of features to post, then their lists' slots */
    size_t cap_fresh;
    size_t scored;
    nfi_trace_fn trace;
    void *trace_ctx;
};

void nfi_stream_set_trace(nfi_stream *s, nfi_trace_fn fn, void *ctx)
{
    s->trace = fn;
    s->trace_ctx = ctx;
}

nf_status nfi_stream_new(nfi_stream **out, const nf_events_options *o, nfi_finalize_fn fn, void *ctx,
                        nf_error *err)
{
    nfi_stream *s = calloc(1, sizeof *s);
    if (!s)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    s->o = *o;
    s->fn = fn;
    s->ctx = ctx;
    nfi_country_set_init(&s->country_set);
    *out = s;
    return NF_OK;
}

static void free_slot_vectors(live_slot *l)
{
    for (int c = 0; c < N_CH; c++)
        nfi_svec_free(&l->c[c]);
}

void nfi_stream_free(nfi_stream *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_ev; i++)
        free(s->ev[i].members);
    free(s->ev);
    for (size_t i = 0; i < s->n_slots; i++)
        free_slot_vectors(&s->slots[i]);
    free(s->slots);
    free(s->hot);
    free(s->free_slots);
    pool_free(&s->pool);
    free(s->lists);
    free(s->queue);
    free(s->touched);
    free(s->top);
    for (int ch = 0; ch < N_CH; ch++)
        nfi_svec_table_free(&s->doc_table[ch]);
    free(s->fresh);
    free(s);
}

size_t nfi_stream_events(const nfi_stream *s) { return s->n_ev; }

const uint32_t *nfi_stream_members(const nfi_stream *s, uint32_t event, size_t *n)
{
    *n = s->ev[event].n;
    return s->ev[event].members;
}

const nfi_wfeat *nfi_stream_single_set(const nfi_stream *s, uint32_t event, int ch, uint32_t *n)
{
    uint32_t slot = s->hot[event].slot;
    if (slot == NONE || !s->slots[slot].single)
        return NULL;
    *n = s->slots[slot].n_set[ch];
    return s->slots[slot].set[ch];
}

void nfi_stream_days(const nfi_stream *s, uint32_t event, int32_t *first, int32_t *last)
{
    *first = (int32_t)floor(s->ev[event].first_t);
    *last = (int32_t)floor(s->ev[event].last_t);
}

void nfi_stream_times(const nfi_stream *s, uint32_t event, double *first, double *last)
{
    *first = s->ev[event].first_t;
    *last = s->ev[event].last_t;
}

void nfi_stream_stats(const nfi_stream *s, size_t *scored, size_t *max_live)
{
    *scored = s->scored;
    *max_live = s->max_live;
}

/* ---------------------------------------------------------------- scoring */

static double centroid_cos(const nfi_svec *doc, const nfi_svec *c)
{
    if (doc->n == 0 || c->norm2 <= 0)
        return 0;
    return nfi_svec_dot(doc, c) / sqrt(c->norm2 * (doc->norm2 > 0 ? doc->norm2 : 1));
}

bool nfi_is_headline(const nfi_docvec *v) { return v->ch[CH_BODY].n < NF_SHORT_BODY_TERMS; }

/* For articles the weighted mean of p's channel cosines over the channels
 * the document has (across languages at least the names-and-pivot score),
 * and the rest of p but its cosines. */
static void mix_parts(const nf_events_options *o, const nfi_docvec *v, bool same_lang, int timed, double gap_days,
                      nfi_score_parts *p)
{
    const double w[N_CH] = {o->w_title, o->w_body, o->w_names, o->w_pivot};
    double mono = 0, wsum = 0;
    for (int ch = 0; ch < N_CH; ch++) {
        if (v->ch[ch].n) {
            mono += w[ch] * p->cos[ch];
            wsum += w[ch];
        }
    }
    double score = wsum > 0 ? mono / wsum : 0;
    if (!same_lang) {
        double cross = o->w_cross_names * p->cos[CH_NAMES] + o->w_cross_pivot * p->cos[CH_PIVOT];
        score = cross > score ? cross : score;
    }
    p->mixed = score;
    p->gap_days = gap_days > 0 ? gap_days : 0;
    p->same_lang = same_lang;
    p->headline = nfi_is_headline(v);
    p->timed = timed;
    p->country_conflict = false; /* set by the stream, which keeps the events' countries */
}

/* The channel cosines, and the rest of p (mix_parts). */
void nfi_score_parts_of(const nf_events_options *o, const nfi_docvec *v, const nfi_svec centroid[N_CH],
                        bool same_lang, int timed, double gap_days, nfi_score_parts *p)
{
    for (int ch = 0; ch < N_CH; ch++)
        p->cos[ch] = centroid_cos(&v->ch[ch], &centroid[ch]);
    mix_parts(o, v, same_lang, timed, gap_days, p);
}

#define COUNTRY_CONFLICT 3.0 /* logit lost by a headline naming only countries the event does not */

/* Headlines with a time of day: the probability that the headline reports
 * the event, from a logistic model of the cosines and the time gap in hours
 * (fitted on og2021-dev, docs/events.md). Articles and other headlines: the
 * weighted score times the time decay, compared with options.threshold
 * (articles) or threshold_undated_short (headlines with a date at most: the
 * gap in hours is unknown, and such streams (UCI) are best clustered by
 * topic, which wants a lenient threshold). */
double nfi_score_value(const nf_events_options *o, const nfi_score_parts *p)
{
    if (p->headline && p->timed == NFI_TIME_OF_DAY) {
        const double *b = o->headline_model;
        double lex = p->cos[CH_TITLE] > p->cos[CH_BODY] ? p->cos[CH_TITLE] : p->cos[CH_BODY];
        double other = p->same_lang ? 0 : 1;
        double z = b[0] + b[1] * lex + b[2] * p->cos[CH_NAMES] + b[3] * p->cos[CH_PIVOT] +
                   b[4] * other * p->cos[CH_PIVOT] + b[5] * log1p(24 * p->gap_days) + b[6] * other;
        if (p->country_conflict)
            z -= COUNTRY_CONFLICT;
        return 1 / (1 + exp(-z));
    }
    double decay = o->time_scale > 0 ? exp(-p->gap_days / o->time_scale) : 1;
    return p->mixed * (1 - o->time_weight + o->time_weight * decay);
}

#define DOMINANT_MARGIN 3.0 /* a timed headline's best candidate leads the rest by this much in logit ... */
#define DOMINANT_SHARE 0.5  /* ... and it is joined from this share of threshold_short */

bool nfi_leads(double best, double second, double margin)
{
    if (second <= 0 || best >= 1)
        return true; /* the only candidate (or the others' probability is 0) */
    if (second >= 1 || best <= 0)
        return false;
    return log(best / (1 - best)) - log(second / (1 - second)) >= margin;
}

/* Whether the pivot cosine can change the score of a document (headline:
 * nfi_is_headline; same_lang, timed as for nfi_score_parts_of): it must
 * name every use of cos[CH_PIVOT] in the two functions above. Where it
 * cannot (the defaults' pivot weight is 0 within a language), scoring
 * skips that channel, a third of the stream's probes on a crawl with
 * pivots; a zero weight times a finite cosine adds exactly 0 to the sums,
 * so the scores are the same bits. */
static bool pivot_counts(const nf_events_options *o, bool headline, bool same_lang, int timed)
{
    const double *b = o->headline_model;
    if (headline && timed == NFI_TIME_OF_DAY)
        return b[3] != 0 || (!same_lang && b[4] != 0);
    return o->w_pivot != 0 || (!same_lang && o->w_cross_pivot != 0);
}

double nfi_event_score(const nf_events_options *o, const nfi_docvec *v, const nfi_svec centroid[N_CH],
                      bool same_lang, double gap_days)
{
    nfi_score_parts p;
    nfi_score_parts_of(o, v, centroid, same_lang, false, gap_days, &p);
    p.headline = false; /* the weighted score: comparable across members */
    return nfi_score_value(o, &p);
}

static bool has_lang(const live_slot *l, uint64_t lang)
{
    for (uint32_t i = 0; i < l->n_langs; i++)
        if (l->langs[i] == lang)
            return true;
    return false;
}

/* ----------------------------------------------------------------- index */

/* Array p grown to hold need elements (capacity doubles); on failure the
 * old array is returned and *ok cleared. */
static void *grow_to(void *p, size_t *cap, size_t need, size_t size, bool *ok)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc(p, c * size);
    if (!q) {
        *ok = false;
        return p;
    }
    *cap = c;
    return q;
}

#define GROW(arr, cap, need, ok) ((arr) = grow_to((arr), &(cap), (need), sizeof *(arr), &(ok)), (ok))

static uint64_t index_key(uint64_t key) { return key ? key : 1; }

/* The slot of key's list, or of the empty place where it would go. */
static size_t index_place(const plist *lists, size_t cap, uint64_t key)
{
    size_t mask = cap - 1, i = key & mask;
    while (lists[i].key && lists[i].key != key)
        i = (i + 1) & mask;
    return i;
}

/* The slot of the list of a salted hash, SIZE_MAX when there is none. */
static size_t find_list(const nfi_stream *s, uint64_t key)
{
    if (!s->cap_lists)
        return SIZE_MAX;
    size_t i = index_place(s->lists, s->cap_lists, index_key(key));
    return s->lists[i].key ? i : SIZE_MAX;
}

static void prefetch_list(const nfi_stream *s, uint64_t key)
{
    if (s->cap_lists)
        __builtin_prefetch(&s->lists[index_key(key) & (s->cap_lists - 1)]);
}

/* The lists moved into a table of cap slots (a power of two that holds
 * them at most half full); their arrays stay where they are. */
static bool rehash(nfi_stream *s, size_t cap)
{
    plist *t = calloc(cap, sizeof *t);
    if (!t)
        return false;
    for (size_t k = 0; k < s->cap_lists; k++)
        if (s->lists[k].key)
            t[index_place(t, cap, s->lists[k].key)] = s->lists[k];
    free(s->lists);
    s->lists = t;
    s->cap_lists = cap;
    return true;
}

/* Room for `more` new lists without a rehash (so that slots found stay
 * where they are while a document is posted). */
static bool index_room(nfi_stream *s, size_t more)
{
    if ((s->n_lists + more) * 2 <= s->cap_lists)
        return true;
    size_t cap = s->cap_lists ? s->cap_lists : 16;
    while ((s->n_lists + more) * 2 > cap)
        cap *= 2;
    return rehash(s, cap);
}

/* Appends event to list l (the caller counts the postings). */
static bool append_posting(posting_pool *pool, plist *l, uint32_t event)
{
    if (l->cap == 0 && l->n == LIST_INLINE) { /* out of the list's slot */
        posting *p = pool_get(pool, 4 * LIST_INLINE);
        if (!p)
            return false;
        memcpy(p, l->u.in, sizeof l->u.in);
        l->u.p = p;
        l->cap = 4 * LIST_INLINE;
    } else if (l->cap && l->n == l->cap) {
        if (l->cap > UINT32_MAX / 2)
            return false;
        posting *p = pool_get(pool, 2 * l->cap);
        if (!p)
            return false;
        memcpy(p, l->u.p, (size_t)l->n * sizeof *p);
        pool_put(pool, l->u.p, l->cap);
        l->u.p = p;
        l->cap *= 2;
    }
    list_entries(l)[l->n++] = event;
    return true;
}

/* Posts the features of v not yet in the slot's centroids, in channel and
 * hash order: both vectors are sorted by hash, so one walk along the
 * centroid finds them (a binary search per feature cost more than the
 * centroid update). Then three passes (the lists' slots, found or made
 * with room reserved first so that none moves; the lists' tails; the
 * appends), each prefetching what the next one reads. */
static bool post_new(nfi_stream *s, uint32_t slot, uint32_t event, const nfi_docvec *v)
{
    live_slot *l = &s->slots[slot];
    size_t n = 0, need = 0;
    bool ok = true;
    for (int ch = 0; ch < N_CH; ch++)
        need += v->ch[ch].n;
    if (!GROW(s->fresh, s->cap_fresh, need, ok) || !index_room(s, need))
        return false;
    plist *lists = s->lists; /* (room is reserved: no list moves while the document is posted) */
    uint64_t *fresh = s->fresh; /* (locals: stores of keys and places could alias the stream's counts) */
    size_t mask = s->cap_lists - 1, n_lists = s->n_lists;
    for (int ch = 0; ch < N_CH; ch++) {
        const nfi_wfeat *c = l->c[ch].f, *ce = c ? c + l->c[ch].n : c; /* an empty centroid may have no array */
        if (c == ce) { /* a new event's: every feature is new (a walk that never moves) */
            for (uint32_t i = 0; i < v->ch[ch].n; i++) {
                uint64_t key = index_key(v->ch[ch].f[i].hash ^ channel_salt[ch]);
                fresh[n++] = key;
                __builtin_prefetch(&lists[key & mask]);
            }
            continue;
        }
        for (uint32_t i = 0; i < v->ch[ch].n; i++) {
            uint64_t h = v->ch[ch].f[i].hash;
            while (c < ce && c->hash < h)
                c++;
            if (c == ce || c->hash != h) {
                uint64_t key = index_key(h ^ channel_salt[ch]);
                fresh[n++] = key;
                __builtin_prefetch(&lists[key & mask]); /* misses of a document overlap */
            }
        }
    }
    for (size_t i = 0; i < n; i++) { /* salted hash -> its list's slot (made when new), in place */
        uint64_t key = fresh[i];
        size_t k = key & mask;
        while (lists[k].key && lists[k].key != key)
            k = (k + 1) & mask;
        plist *pl = &lists[k];
        if (!pl->key) {
            pl->key = key;
            n_lists++;
        } else if (pl->n < pl->cap) {
            __builtin_prefetch(&pl->u.p[pl->n], 1);
        }
        fresh[i] = k;
    }
    s->n_lists = n_lists;
    for (size_t i = 0; i < n; i++) {
        plist *pl = &lists[fresh[i]];
        if (pl->n < (pl->cap ? pl->cap : LIST_INLINE)) /* room: the usual case */
            list_entries(pl)[pl->n++] = event;
        else if (!append_posting(&s->pool, pl, event))
            return false;
    }
    l->postings += n;
    s->live_postings += n;
    return true;
}

/* Drops dead postings and empty lists; the lists left go into a table
 * sized for them (their arrays stay where they are). */
static bool sweep(nfi_stream *s)
{
    size_t kept = 0;
    for (size_t k = 0; k < s->cap_lists; k++) {
        plist *l = &s->lists[k];
        if (!l->key)
            continue;
        posting *p = list_entries(l);
        uint32_t o = 0;
        for (uint32_t i = 0; i < l->n; i++)
            if (s->hot[p[i]].slot != NONE)
                p[o++] = p[i];
        l->n = o;
        kept += o > 0;
    }
    size_t cap = 16;
    while (kept * 2 > cap)
        cap *= 2;
    plist *t = calloc(cap, sizeof *t);
    if (!t)
        return false;
    for (size_t k = 0; k < s->cap_lists; k++) {
        plist *l = &s->lists[k];
        if (l->key && l->n)
            t[index_place(t, cap, l->key)] = *l;
        else if (l->key && l->cap)
            pool_put(&s->pool, l->u.p, l->cap);
    }
    free(s->lists);
    s->lists = t;
    s->cap_lists = cap;
    s->n_lists = kept;
    s->dead_postings = 0;
    return true;
}

/* ------------------------------------------------------------ live set */

/* sweep_ok: dead postings may be swept (not while flushing: every list
 * dies then, and nothing reads the index again until the next push). */
static nf_status finalize(nfi_stream *s, uint32_t event, bool sweep_ok, nf_error *err)
{
    uint32_t slot = s->hot[event].slot;
    live_slot *l = &s->slots[slot];
    nf_status st = s->fn ? s->fn(s->ctx, event, l->c, err) : NF_OK;
    free_slot_vectors(l);
    s->hot[event].slot = NONE;
    s->free_slots[s->n_free++] = slot;
    s->n_live--;
    s->live_postings -= l->postings;
    s->dead_postings += l->postings;
    l->postings = 0;
    if (st == NF_OK && sweep_ok && s->dead_postings > s->live_postings + 4096 && !sweep(s))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return st;
}

static nf_status expire(nfi_stream *s, double t, nf_error *err)
{
    while (s->q_len > 0) {
        qent q = s->queue[s->q_head];
        if (q.t >= t - s->o.window_days)
            break;
        s->q_head++;
        s->q_len--;
        event_rec *e = &s->ev[q.event];
        if (s->hot[q.event].slot != NONE && e->last_t == q.t) {
            nf_status st = finalize(s, q.event, true, err);
            if (st != NF_OK)
                return st;
        }
    }
    if (s->q_head > 1024 && s->q_head > s->q_len) {
        memmove(s->queue, s->queue + s->q_head, s->q_len * sizeof *s->queue);
        s->q_head = 0;
    }
    return NF_OK;
}

nf_status nfi_stream_flush(nfi_stream *s, nf_error *err)
{
    for (size_t e = 0; e < s->n_ev; e++)
        if (s->hot[e].slot != NONE) {
            nf_status st = finalize(s, (uint32_t)e, false, err);
            if (st != NF_OK)
                return st;
        }
    s->q_len = s->q_head = 0;
    s->sweep_due = true; /* (a stream that ends here is freed unswept) */
    return NF_OK;
}

/* The queue holds (event, last time) in time order; an entry whose event
 * got a later report since is stale and skipped at expiry, so the queue
 * holds at most one entry per report in the window. */
static bool enqueue(nfi_stream *s, uint32_t event, double t)
{
    event_rec *e = &s->ev[event];
    bool ok = true;
    if (e->queued_t == t)
        return true;
    if (!GROW(s->queue, s->q_cap, s->q_head + s->q_len + 1, ok))
        return false;
    s->queue[s->q_head + s->q_len++] = (qent){event, t};
    e->queued_t = t;
    return true;
}

static bool add_member(event_rec *e, uint32_t doc)
{
    if (e->n == e->cap) {
        uint32_t cap = e->cap ? e->cap * 2 : 4;
        uint32_t *m = realloc(e->members, cap * sizeof *m);
        if (!m)
            return false;
        e->members = m;
        e->cap = cap;
    }
    e->members[e->n++] = doc;
    return true;
}

/* The slot's countries, with those of a new member. */
static void add_countries(live_slot *l, const uint64_t *c, size_t n)
{
    for (size_t i = 0; i < n && l->n_countries <= SLOT_COUNTRIES; i++) {
        uint32_t k = 0;
        while (k < l->n_countries && l->countries[k] != c[i])
            k++;
        if (k < l->n_countries)
            continue;
        if (l->n_countries < SLOT_COUNTRIES)
            l->countries[l->n_countries] = c[i];
        l->n_countries++; /* past SLOT_COUNTRIES: too many to tell a conflict */
    }
}

/* Whether the pushed document names countries and the slot's reports
 * name only others. */
static bool country_conflict(const nfi_stream *s, const live_slot *l)
{
    return l->n_countries <= SLOT_COUNTRIES &&
           nfi_countries_conflict(s->doc_countries, s->n_doc_countries, l->countries, l->n_countries);
}

static bool update_live(nfi_stream *s, uint32_t event, const nfi_docvec *v)
{
    uint32_t slot = s->hot[event].slot;
    live_slot *l = &s->slots[slot];
    if (!post_new(s, slot, event, v))
        return false;
    for (int ch = 0; ch < N_CH; ch++)
        if (v->ch[ch].n && !nfi_svec_add(&l->c[ch], &v->ch[ch], 1.0, centroid_cap[ch]))
            return false;
    l->has_tails = nfi_svec_block_tails(&l->c[CH_BODY], l->body_tail, BODY_TAILS);
    if (!has_lang(l, v->lang) && l->n_langs < MAX_LANGS)
        l->langs[l->n_langs++] = v->lang;
    add_countries(l, s->doc_countries, s->n_doc_countries);
    return true;
}

static bool take_slot(nfi_stream *s, uint32_t *slot)
{
    if (s->n_free) {
        *slot = s->free_slots[--s->n_free];
        return true;
    }
    bool ok = true;
    if (!GROW(s->slots, s->cap_slots, s->n_slots + 1, ok) || !GROW(s->free_slots, s->cap_free, s->n_slots + 1, ok))
        return false;
    memset(s->slots + s->n_slots, 0, sizeof *s->slots);
    *slot = (uint32_t)s->n_slots++;
    return true;
}

static bool new_event(nfi_stream *s, uint32_t doc, double t, const nfi_docvec *v, uint32_t *event)
{
    uint32_t slot;
    bool ok = true;
    if (!GROW(s->ev, s->cap_ev, s->n_ev + 1, ok) || !GROW(s->hot, s->cap_hot, s->n_ev + 1, ok) ||
        !take_slot(s, &slot))
        return false;
    *event = (uint32_t)s->n_ev++;
    event_rec *e = &s->ev[*event];
    memset(e, 0, sizeof *e);
    e->first_t = e->last_t = t;
    e->queued_t = -HUGE_VAL;
    s->hot[*event] = (ev_hot){slot, 0};
    s->slots[slot].n_langs = 0;
    s->slots[slot].n_countries = 0;
    s->slots[slot].postings = 0;
    s->slots[slot].single = v->has_top;
    if (v->has_top) {
        memcpy(s->slots[slot].n_set, v->n_set, sizeof v->n_set);
        for (int ch = 0; ch < N_CH; ch++)
            memcpy(s->slots[slot].set[ch], v->set[ch], v->n_set[ch] * sizeof *v->set[ch]);
    }
    if (++s->n_live > s->max_live)
        s->max_live = s->n_live;
    return add_member(e, doc) && update_live(s, *event, v) && enqueue(s, *event, t);
}

static bool join(nfi_stream *s, uint32_t event, uint32_t doc, double t, const nfi_docvec *v)
{
    event_rec *e = &s->ev[event];
    if (!add_member(e, doc))
        return false;
    if (t > e->last_t)
        e->last_t = t;
    if (s->hot[event].slot == NONE) /* a hard link to an event already out of the window */
        return true;
    s->slots[s->hot[event].slot].single = false;
    return update_live(s, event, v) && enqueue(s, event, e->last_t);
}

/* -------------------------------------------------------------- candidates */

/* Adds w to the accumulator of every live event posted in list li (the
 * newest POSTING_SCAN entries). */
static bool touch(nfi_stream *s, size_t li, float w)
{
    const plist *l = &s->lists[li];
    bool ok = true;
    uint32_t stop = l->n > POSTING_SCAN ? l->n - POSTING_SCAN : 0;
    if (!GROW(s->touched, s->cap_touched, s->n_touched + (l->n - stop), ok)) /* room for every entry read */
        return false;
    const posting *lp = list_entries_c(l);
    ev_hot *hot = s->hot; /* (locals: the accumulators' stores cannot move them) */
    uint32_t *touched = s->touched;
    size_t n_touched = s->n_touched;
    float add = w > 0 ? w : 1e-6f;
    for (uint32_t i = l->n; i-- > stop;) {
        if ((i & 15) == 0 && i >= stop + TOUCH_AHEAD) /* a line of older entries, read backwards */
            __builtin_prefetch(&lp[i - TOUCH_AHEAD]);
        ev_hot *h = &hot[lp[i]];
        if (h->slot == NONE)
            continue;
        uint32_t bits; /* acc == 0: it is +0 or a sum of positive adds, so its bits tell (no float compare) */
        memcpy(&bits, &h->acc, sizeof bits);
        touched[n_touched] = lp[i]; /* (kept when first touched, without a branch) */
        n_touched += bits == 0;
        h->acc += add;
    }
    s->n_touched = n_touched;
    return true;
}

/* Looks up the strongest features of each channel (QUERY_TOP of each; the
 * pivot's unless it is a headline's title pivot) in the index and touches
 * their lists in channel order (title, names, body, pivot), strongest
 * first. The lookups are prefetched together first (the lists' slots,
 * then their tails), which changes only timing. */
static bool touch_all(nfi_stream *s, const nfi_docvec *v)
{
    static const int order[N_CH] = {CH_TITLE, CH_NAMES, CH_BODY, CH_PIVOT};
    nfi_wfeat q[N_CH * QUERY_TOP];
    size_t li[N_CH * QUERY_TOP];
    uint32_t n = 0;
    for (int k = 0; k < N_CH; k++) {
        int ch = order[k];
        if (ch == CH_PIVOT && v->title_pivot)
            continue;
        uint32_t m;
        if (v->has_top) { /* (ranked while its vectors were built) */
            m = v->n_query[ch];
            memcpy(q + n, v->query[ch], m * sizeof *q);
        } else {
            m = nfi_svec_ranked_top(v->ch[ch].f, v->ch[ch].n, QUERY_TOP, q + n);
        }
        for (uint32_t i = n; i < n + m; i++) {
            q[i].hash ^= channel_salt[ch];
            prefetch_list(s, q[i].hash); /* issued together: the misses overlap */
        }
        n += m;
    }
    for (uint32_t i = 0; i < n; i++) {
        li[i] = find_list(s, q[i].hash);
        if (li[i] != SIZE_MAX && s->lists[li[i]].cap)
            __builtin_prefetch(&s->lists[li[i]].u.p[s->lists[li[i]].n - 1]);
    }
    for (uint32_t i = 0; i < n; i++)
        if (li[i] != SIZE_MAX && !touch(s, li[i], q[i].w))
            return false;
    return true;
}

/* Whether candidate x ranks before y: more accumulated weight, then the
 * older event. */
static bool better(const cand *x, const cand *y)
{
    if (x->acc != y->acc)
        return x->acc > y->acc;
    return x->event < y->event;
}

/* Moves the `keep` best touched events, ranked, into s->top and clears the
 * accumulators. */
static void select_cands(nfi_stream *s, size_t keep)
{
    s->n_top = 0;
    for (size_t i = 0; i < s->n_touched; i++) {
        uint32_t event = s->touched[i];
        cand c = {s->hot[event].slot, event, s->hot[event].acc};
        s->hot[event].acc = 0;
        if (s->n_top == keep && !better(&c, &s->top[keep - 1]))
            continue;
        size_t j = s->n_top < keep ? s->n_top++ : keep - 1;
        while (j > 0 && better(&c, &s->top[j - 1])) {
            s->top[j] = s->top[j - 1];
            j--;
        }
        s->top[j] = c;
    }
    s->n_touched = 0;
}

static bool candidates(nfi_stream *s, const nfi_docvec *v)
{
    size_t keep = (size_t)(s->o.candidates > 0 ? s->o.candidates : 1);
    bool ok = true;
    if (!GROW(s->top, s->cap_top, keep, ok))
        return false;
    s->n_touched = 0;
    ok = touch_all(s, v);
    select_cands(s, keep);
    return ok;
}

/* ------------------------------------------------------------------ push */

/* Prefetches the first lines of a candidate's centroids, which are
 * scored next: each is a stream the hardware prefetcher picks up only
 * after its first misses (a candidate's centroids are rarely in cache). */
static void prefetch_centroids(const live_slot *l)
{
    for (int ch = 0; ch < N_CH; ch++)
        if (l->c[ch].n) {
            __builtin_prefetch(l->c[ch].f);
            __builtin_prefetch((const char *)l->c[ch].f + 64);
        }
}

/* Bounded scoring. A candidate whose score cannot reach the document's
 * threshold, nor the best score so far, changes nothing: the document joins
 * the best candidate only at or above the threshold, ties go to the older
 * event, and the runner-up counts only for timed headlines (the headline
 * model, never bounded). So for the others the body cosine, most of a
 * candidate's cost, is summed only while it may still lift the score to
 * that cut-off: the other channels first, then the body a block at a time
 * (nfi_svec_dot_bounded) against the body cosine the score needs. What is
 * not abandoned is computed as before, so every score is the same bits. */
#define BOUND_MARGIN 1e-6 /* on cosines and scores: far above their rounding errors (about 1e-15) */

/* Whether the document's candidates may be scored with bounds: the article
 * score (mixed, times the time decay) with weights that never lower it, a
 * body table with its tails, no trace (which wants every score). */
static bool may_bound(const nfi_stream *s, const nfi_docvec *v, int timed)
{
    const nf_events_options *o = &s->o;
    double wsum = o->w_title + o->w_body + o->w_names + o->w_pivot;
    return !s->trace && !(nfi_is_headline(v) && timed == NFI_TIME_OF_DAY) && v->ch[CH_BODY].n &&
           v->ch[CH_BODY].table && o->w_title >= 0 && o->w_names >= 0 && o->w_pivot >= 0 &&
           o->w_cross_names >= 0 && o->w_cross_pivot >= 0 && o->w_body >= 1e-3 * wsum &&
           o->time_weight >= 0 && o->time_weight <= 1;
}

/* The body cosine that the score of p (its other cosines set) needs to
 * reach cutoff, less BOUND_MARGIN (mix_parts and nfi_score_value solved
 * for cos[CH_BODY]); 0 when nothing can be told (any body cosine may). */
static double body_needed(const nf_events_options *o, const nfi_docvec *v, const nfi_score_parts *p, bool same_lang,
                          double gap_days, double cutoff)
{
    const double w[N_CH] = {o->w_title, o->w_body, o->w_names, o->w_pivot};
    double decay = o->time_scale > 0 ? exp(-(gap_days > 0 ? gap_days : 0) / o->time_scale) : 1;
    double factor = 1 - o->time_weight + o->time_weight * decay;
    if (!(factor > 0))
        return 0;
    double goal = cutoff / factor; /* what the mixed score must reach */
    if (!same_lang && o->w_cross_names * p->cos[CH_NAMES] + o->w_cross_pivot * p->cos[CH_PIVOT] >= goal - BOUND_MARGIN)
        return 0;
    double rest = 0, wsum = 0;
    for (int ch = 0; ch < N_CH; ch++)
        if (v->ch[ch].n) {
            wsum += w[ch];
            rest += ch == CH_BODY ? 0 : w[ch] * p->cos[ch];
        }
    double need = (goal * wsum - rest) / w[CH_BODY] - BOUND_MARGIN;
    return need > 0 ? need : 0;
}

/* p for the document v and the centroids c of live slot l, as
 * nfi_score_parts_of makes it; false (p unset) when the bounded body
 * cosine shows the score stays below cutoff (cutoff <= 0: no bound). */
static bool score_parts(const nfi_stream *s, const nfi_docvec *v, const nfi_svec c[N_CH], const live_slot *l,
                        bool same_lang, int timed, double gap_days, double cutoff, nfi_score_parts *p)
{
    const nfi_svec *d = &v->ch[CH_BODY], *cb = &c[CH_BODY];
    if (cutoff <= 0 || !l->has_tails || cb->n == 0 || !(cb->norm2 > 0)) {
        nfi_score_parts_of(&s->o, v, c, same_lang, timed, gap_days, p);
        return true;
    }
    for (int ch = 0; ch < N_CH; ch++)
        if (ch != CH_BODY)
            p->cos[ch] = centroid_cos(&v->ch[ch], &c[ch]);
    double scale = sqrt(cb->norm2 * (d->norm2 > 0 ? d->norm2 : 1)); /* as centroid_cos divides */
    double need = body_needed(&s->o, v, p, same_lang, gap_days, cutoff);
    bool cut = false;
    double dot = need > 0 ? nfi_svec_dot_bounded(d, cb, l->body_tail, need * scale, &cut) : nfi_svec_dot(d, cb);
    if (cut)
        return false;
    p->cos[CH_BODY] = dot / scale;
    mix_parts(&s->o, v, same_lang, timed, gap_days, p);
    return true;
}

/* The best of the ranked candidates for the document v, whose channels
 * have tables (nfi_stream_push) except the pivot's: its table is built
 * here when the first candidate needs it (pivot_counts). bound: scores may
 * be bounded (may_bound) by threshold and the best so far. */
static uint32_t best_event(nfi_stream *s, uint32_t doc, nfi_docvec *v, double t, int timed, bool bound,
                           double threshold, double *best_score, double *second)
{
    uint32_t best = NONE;
    *best_score = -1;
    *second = -1; /* the best score of the other candidates */
    for (size_t i = 0; i < s->n_top; i++) {
        if (s->top[i].acc < CANDIDATE_RATIO * s->top[0].acc)
            break; /* ranked: the rest share even less with the document */
        live_slot *l = &s->slots[s->top[i].slot];
        if (i + 1 < s->n_top)
            prefetch_centroids(&s->slots[s->top[i + 1].slot]);
        uint32_t event = s->top[i].event;
        const event_rec *e = &s->ev[event];
        bool same_lang = has_lang(l, v->lang);
        nfi_svec c[N_CH]; /* the centroids, the pivot's hidden when it cannot count (pivot_counts) */
        memcpy(c, l->c, sizeof c);
        if (!s->trace && v->ch[CH_PIVOT].n && !pivot_counts(&s->o, nfi_is_headline(v), same_lang, timed))
            c[CH_PIVOT].n = 0, c[CH_PIVOT].norm2 = 0; /* its cosine stays 0: unused */
        else if (v->ch[CH_PIVOT].n && !v->ch[CH_PIVOT].table &&
                 nfi_svec_table_build(&s->doc_table[CH_PIVOT], &v->ch[CH_PIVOT]))
            v->ch[CH_PIVOT].table = &s->doc_table[CH_PIVOT];
        s->scored++;
        double cutoff = !bound ? 0 : best != NONE && *best_score > threshold ? *best_score : threshold;
        nfi_score_parts p;
        if (!score_parts(s, v, c, l, same_lang, timed, t - e->last_t, cutoff, &p)) /* clock gap */
            continue; /* below the cut-off: changes nothing */
        p.country_conflict = p.headline && timed == NFI_TIME_OF_DAY && country_conflict(s, l);
        double sc = nfi_score_value(&s->o, &p);
        if (s->trace)
            s->trace(s->trace_ctx, doc, event, &p);
        if (sc > *best_score || (sc == *best_score && event < best)) {
            if (best != NONE)
                *second = *best_score;
            *best_score = sc;
            best = event;
        } else if (sc > *second) {
            *second = sc;
        }
    }
    return best;
}

nf_status nfi_stream_push(nfi_stream *s, uint32_t doc, double t, int timed, const nfi_docvec *v,
                         uint32_t forced, uint32_t *event, double *score, nf_error *err)
{
    if (s->sweep_due) { /* the sweep nfi_stream_flush left: as if it had swept */
        s->sweep_due = false;
        if (s->dead_postings > s->live_postings + 4096 && !sweep(s))
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    nf_status st = expire(s, t, err);
    if (st != NF_OK)
        return st;
    s->n_doc_countries = v->title_pivot ? nfi_countries_of(&s->country_set, &v->ch[CH_PIVOT], s->doc_countries,
                                                           SLOT_COUNTRIES)
                                        : 0;
    bool ok;
    if (forced != NONE) {
        *event = forced;
        *score = 1;
        ok = join(s, forced, doc, t, v);
    } else {
        double best_score = -1, second = -1;
        uint32_t best = NONE;
        bool headline = nfi_is_headline(v);
        double threshold = !headline                 ? s->o.threshold
                           : timed == NFI_TIME_OF_DAY ? s->o.threshold_short
                                                      : s->o.threshold_undated_short;
        ok = candidates(s, v);
        if (ok && s->n_top > 0) {
            /* the document meets every candidate: its features in tables
             * (a shallow copy of v points at them; the pivot's is built
             * when a candidate needs it, see best_event), the body's with
             * its tails for bounded scoring */
            nfi_docvec tv = *v;
            prefetch_centroids(&s->slots[s->top[0].slot]);
            for (int ch = 0; ch < CH_PIVOT; ch++)
                if (v->ch[ch].n && nfi_svec_table_build(&s->doc_table[ch], &v->ch[ch]))
                    tv.ch[ch].table = &s->doc_table[ch];
            bool bound = may_bound(s, &tv, timed) && /* (it asks for the body's table) the tails only then */
                         nfi_svec_table_tails(&s->doc_table[CH_BODY], &v->ch[CH_BODY]);
            best = best_event(s, doc, &tv, t, timed, bound, threshold, &best_score, &second);
        }
        bool dominant = headline && timed == NFI_TIME_OF_DAY && best != NONE &&
                        best_score >= DOMINANT_SHARE * threshold &&
                        nfi_leads(best_score, second, DOMINANT_MARGIN);
        if (ok && best != NONE && (best_score >= threshold || dominant)) {
            *event = best;
            *score = best_score;
            ok = join(s, best, doc, t, v);
        } else if (ok) {
            *score = 0;
            ok = new_event(s, doc, t, v, event);
        }
    }
    return ok ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory while clustering");
}
