/*
 * storylines.c - chains of events over a longer window.
 *
 * Events come in time order of their first report (their numbering). Each
 * event is compared with earlier events whose last report is at most
 * storyline_days before its first one, found through an inverted index of
 * the events' profiles (the top names and terms of their final centroids);
 * it links to the best of them when
 *     w_names * cos(names) + (1 - w_names) * max(cos(terms), cos(pivot))
 * reaches storyline_threshold. Linked events form a storyline (union-find),
 * which lists its events in time order. An event that links to nothing
 * starts its own storyline. Storylines are numbered by their first event,
 * so the result depends only on the events.
 *
 * Every event is indexed before any is linked, and an event reads only the
 * entries of earlier events in its lists, so the links are those of one
 * pass in event order whichever thread finds them (events are cut into
 * chunks for the stage's threads); indexing records, per profile feature,
 * its list and where in it the event went, so linking neither looks the
 * lists up again nor searches them for the event. The postings carry the
 * profile weight, so gathering the candidates also sums their dot products
 * with the event. Where one of a channel's lists was read in part (more
 * than SCAN earlier entries), only the candidates no later than the latest
 * entry left unread are scored again by a merge: lists are in event order,
 * so a later candidate's entries were all read and its sum is whole.
 *
 * The same profile index joins headline events across languages after the
 * stream (nfi_events_merge_languages): each event joins the earlier event
 * of another main language, within merge_days, whose names or pivot
 * profile agrees best, when that cosine reaches merge_threshold, or of its
 * own language, within SAME_LANG_DAYS, whose title profile agrees best,
 * from SAME_LANG_TITLE (join_score; candidates come from the names and
 * pivot index: a headline's title pivot holds its words in English). Each
 * event also joins the later event that agrees best with it by the same
 * score (its best later partner): after the stream both directions of
 * time are known, and an event that several later ones prefer to an
 * earlier partner's rival is still reached (ties: the first later one). Then
 * small events of timed headlines (at most ATTACH_MAX reports) join the
 * larger one within ATTACH_DAYS, earlier or later, that the headline model
 * scores best on their title profiles, from probability ATTACH_P, or
 * ATTACH_LEAD_P when that event leads the other candidates by
 * ATTACH_MARGIN in logit (attach_small; a title-profile index of its own),
 * unless both name countries in their pivot profiles and share none (the
 * stream's country conflict, stream.c, as a veto). Both kinds of joins go
 * into one union-find, so the groups do not depend on the order in which
 * joins are found. An event's title, names and pivot profiles get tables
 * (sparse.c) before its candidates are scored, so each candidate's few
 * features probe them instead of a merge per pair: the same products,
 * added in the same order.
 */
#include "events/events.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SCAN 256  /* most recent events read from one feature's list */
#define SCORED 64 /* candidates scored in full per event */
#define CHUNK 64  /* events per parallel task */
#define NONE UINT32_MAX

typedef struct sposting {
    uint32_t ev;
    float w; /* the feature's weight in the event's profile */
} sposting;

typedef struct slist {
    sposting *p; /* in event order */
    uint32_t n, cap;
} slist;

typedef struct sl_index {
    nfi_hmap map; /* feature hash (salted by channel) -> list */
    slist *lists;
    size_t n, cap;
    sposting *all; /* index_all: every list's entries, list after list (else each list owns its own) */
} sl_index;

/* Where an event's profile feature went in the index: its list, and the
 * list's entries before the event's own (entries_before: the index is
 * built in event order, so that is where the event was appended). */
typedef struct sl_at {
    uint32_t list, before;
} sl_at;

/* The list of salted hash h, created empty when new; NULL when out of
 * memory. */
static uint64_t *list_of(sl_index *ix, uint64_t h)
{
    bool created;
    uint64_t *v = nfi_hmap_put(&ix->map, h, &created);
    if (!v || !created)
        return v;
    slist *l = nfi_grow_array(ix->lists, &ix->cap, ix->n + 1, sizeof *l);
    if (!l)
        return NULL;
    ix->lists = l;
    memset(&ix->lists[ix->n], 0, sizeof *ix->lists);
    *v = ix->n++;
    return v;
}

/* Appends e to the lists of its profile features of channels [ch_from,
 * ch_to), each list growing as it fills (the links of an index built at
 * once, with where each event lies, come from index_all). */
static bool index_event(sl_index *ix, const nfi_event_profile *p, uint32_t e, int ch_from, int ch_to)
{
    for (int ch = ch_from; ch < ch_to; ch++) {
        for (uint32_t i = 0; i < p->ch[ch].n; i++) {
            uint64_t *v = list_of(ix, p->ch[ch].f[i].hash + (uint64_t)ch);
            if (!v)
                return false;
            slist *l = &ix->lists[*v];
            if (l->n == l->cap) {
                uint32_t cap = l->cap ? l->cap * 2 : 4;
                sposting *q = realloc(l->p, cap * sizeof *q);
                if (!q)
                    return false;
                l->p = q;
                l->cap = cap;
            }
            l->p[l->n++] = (sposting){e, p->ch[ch].f[i].w};
        }
    }
    return true;
}

/* Per-list counters of index_all, zero-extended to hold need lists. */
static bool grow_counts(uint32_t **fill, uint32_t **last, size_t *cap, size_t need)
{
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    uint32_t *a = realloc(*fill, c * sizeof *a);
    if (a)
        *fill = a;
    uint32_t *b = a ? realloc(*last, c * sizeof *b) : NULL;
    if (!b)
        return false;
    *last = b;
    memset(a + *cap, 0, (c - *cap) * sizeof *a);
    memset(b + *cap, 0, (c - *cap) * sizeof *b);
    *cap = c;
    return true;
}

/* index_event of events 0..n-1 in order, channels [ch_from, N_CH), into an
 * empty index, with `at` for all (event e's after those of the events
 * before it): the same lists, entries and `at`, in two passes (count each
 * list, then place its entries in one array) instead of growing every list
 * (about 25 reallocations an event). */
static bool index_all(sl_index *ix, const nfi_event_profile *ev, size_t n, int ch_from, sl_at *at)
{
    uint32_t *fill = NULL, *last = NULL; /* per list: its entries so far; its last event + 1 */
    size_t cap = 0, f = 0;
    bool ok = true;
    for (uint32_t e = 0; ok && e < n; e++)
        for (int ch = ch_from; ok && ch < N_CH; ch++)
            for (uint32_t i = 0; ok && i < ev[e].ch[ch].n; i++, f++) {
                uint64_t *v = list_of(ix, ev[e].ch[ch].f[i].hash + (uint64_t)ch);
                ok = v && (ix->n <= cap || grow_counts(&fill, &last, &cap, ix->n));
                if (!ok)
                    break;
                uint32_t li = (uint32_t)*v;
                slist *l = &ix->lists[li];
                if (last[li] != e + 1) /* l->n: the list's entries before e's (two features of e may share it) */
                    l->n = fill[li], last[li] = e + 1;
                at[f] = (sl_at){li, l->n};
                fill[li]++;
            }
    size_t total = 0;
    for (size_t li = 0; ok && li < ix->n; li++)
        total += fill[li];
    ok = ok && (ix->all = malloc((total ? total : 1) * sizeof *ix->all));
    total = 0;
    for (size_t li = 0; ok && li < ix->n; li++) {
        ix->lists[li] = (slist){ix->all + total, 0, fill[li]};
        total += fill[li];
    }
    f = 0;
    for (uint32_t e = 0; ok && e < n; e++)
        for (int ch = ch_from; ch < N_CH; ch++)
            for (uint32_t i = 0; i < ev[e].ch[ch].n; i++, f++) {
                slist *l = &ix->lists[at[f].list];
                l->p[l->n++] = (sposting){e, ev[e].ch[ch].f[i].w};
            }
    if (!ok) /* no list owns an array yet */
        for (size_t li = 0; li < ix->n; li++)
            ix->lists[li] = (slist){NULL, 0, 0};
    free(fill);
    free(last);
    return ok;
}

/* cos(a, b) as nfi_svec_cos computes it, from their dot product. */
static double cos_of(double dot, const nfi_svec *a, const nfi_svec *b)
{
    if (a->norm2 <= 0 || b->norm2 <= 0)
        return 0;
    return dot / sqrt(a->norm2 * b->norm2);
}

/* What gathering counts of one earlier event while e's lists are read, in
 * 32 bytes (a posting's event is a random index: the counters and the
 * products are one cache line; apart, the products of rc20m's storylines
 * were a second miss, most of the gathering's time). */
typedef struct sl_acc {
    uint32_t seen;   /* e + 1 once counted as a candidate of e */
    uint32_t hits;   /* features it shares with e */
    double dot[3];   /* partial products with e of channels CH_BODY.. (attach_small: dot[0], the title's) */
} sl_acc;
_Static_assert(N_CH - 1 == 3 && CH_BODY == 1, "sl_acc's products are those of channels CH_BODY..N_CH-1");

typedef struct sl_scratch {
    sl_acc *acc;     /* per event (aligned to 32 bytes: one line each) */
    uint32_t *cands; /* the candidates of e */
    const slist **lists; /* the lists of e's profile features (find_lists) */
    uint32_t *ties;  /* candidates at the cut-off count */
    uint32_t *hist;  /* candidates per shared-feature count, 0..max_hits */
    uint32_t max_hits; /* the most profile features of one event */
    bool cut[N_CH];    /* a list of e's channel was read only in part: its dots may be partial */
    uint32_t unread[N_CH]; /* when cut: the latest event among the entries not read (lists are in event
                              order, so a later candidate's entries were all read: its dot is whole) */
} sl_scratch;

/* The entries of list l of events before e: l is in event order. */
static uint32_t entries_before(const slist *l, uint32_t e)
{
    uint32_t a = 0, b = l->n;
    if (b == 0 || l->p[b - 1].ev < e)
        return b;
    while (a < b) {
        uint32_t m = a + (b - a) / 2;
        if (l->p[m].ev < e)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

/* The list of each profile feature of channels ch_from.. (NULL: none), in
 * sc->lists, in the order gather reads them. Each feature's list is three
 * dependent cache misses (index slot, list header, its newest entries), so
 * the lookups go in three passes, each prefetching what the next reads, and
 * the misses of an event's features overlap; this changes only timing. */
static void find_lists(const sl_index *ix, const nfi_event_profile *p, int ch_from, sl_scratch *sc)
{
    const nfi_hmap *m = &ix->map;
    size_t f = 0;
    for (int ch = ch_from; ch < N_CH && m->cap; ch++)
        for (uint32_t i = 0; i < p->ch[ch].n; i++) {
            uint64_t h = p->ch[ch].f[i].hash + (uint64_t)ch;
            nfi_hmap_prefetch(m, h);
        }
    for (int ch = ch_from; ch < N_CH; ch++)
        for (uint32_t i = 0; i < p->ch[ch].n; i++) {
            const uint64_t *v = nfi_hmap_get(m, p->ch[ch].f[i].hash + (uint64_t)ch);
            sc->lists[f] = v ? &ix->lists[*v] : NULL;
            if (v)
                __builtin_prefetch(sc->lists[f]);
            f++;
        }
    for (size_t k = 0; k < f; k++)
        if (sc->lists[k] && sc->lists[k]->n)
            __builtin_prefetch(&sc->lists[k]->p[sc->lists[k]->n - 1]);
}

/* find_lists for an event indexed with `at` (index_all): its lists are
 * known, and so is where it lies in each (no look-up, no binary search). */
static void at_lists(const sl_index *ix, const nfi_event_profile *p, int ch_from, const sl_at *at,
                     sl_scratch *sc)
{
    size_t f = 0;
    for (int ch = ch_from; ch < N_CH; ch++)
        f += p->ch[ch].n;
    for (size_t k = 0; k < f; k++) { /* list headers, then their entries before e */
        sc->lists[k] = &ix->lists[at[k].list];
        __builtin_prefetch(sc->lists[k]);
    }
    for (size_t k = 0; k < f; k++)
        if (at[k].before)
            __builtin_prefetch(&sc->lists[k]->p[at[k].before - 1]);
}

/* The earlier events sharing a profile feature with e (each list scanned
 * from its most recent SCAN entries before e), with their shared-feature
 * counts and their dot products with e per channel. The products are added
 * in the order of e's features, which is hash order, as nfi_svec_dot adds
 * them, so a channel none of whose lists was cut gives the same dot
 * product, bit for bit, as the merge would. dots: false when the caller
 * needs only the counts (the joins across languages score candidates
 * afresh), which spares the products. */
static inline size_t gather(const sl_index *ix, const nfi_event_profile *p, uint32_t e, int ch_from, bool dots,
                            const sl_at *at, sl_scratch *sc)
{
    size_t n = 0, f = 0;
    if (at)
        at_lists(ix, p, ch_from, at, sc);
    else
        find_lists(ix, p, ch_from, sc);
    for (int ch = ch_from; ch < N_CH; ch++) {
        sc->cut[ch] = false;
        for (uint32_t i = 0; i < p->ch[ch].n; i++, f++) {
            const slist *l = sc->lists[f];
            if (!l)
                continue;
            uint32_t end = at ? at[f].before : entries_before(l, e);
            uint32_t stop = end > SCAN ? end - SCAN : 0;
            double w = p->ch[ch].f[i].w;
            if (stop > 0 && (!sc->cut[ch] || l->p[stop - 1].ev > sc->unread[ch]))
                sc->unread[ch] = l->p[stop - 1].ev;
            sc->cut[ch] |= stop > 0;
            for (uint32_t k = end; k-- > stop;) {
                uint32_t a = l->p[k].ev;
                sl_acc *x = &sc->acc[a];
                if (x->seen != e + 1) {
                    *x = (sl_acc){e + 1, 0, {0, 0, 0}};
                    sc->cands[n++] = a;
                }
                x->hits++;
                if (dots)
                    x->dot[ch - CH_BODY] += w * l->p[k].w;
            }
        }
    }
    return n;
}

/* cos of channel ch between candidate a and e (gathered into sc). */
static double gathered_cos(const sl_scratch *sc, const nfi_event_profile *ev, uint32_t a, uint32_t e, int ch)
{
    if (sc->cut[ch] && a <= sc->unread[ch]) /* a's share of a cut list may be missing */
        return nfi_svec_cos(&ev[a].ch[ch], &ev[e].ch[ch]);
    return cos_of(sc->acc[a].dot[ch - CH_BODY], &ev[a].ch[ch], &ev[e].ch[ch]);
}

static double story_score(const sl_scratch *sc, const nfi_event_profile *ev, uint32_t a, uint32_t e,
                          const nf_events_options *o)
{
    double names = gathered_cos(sc, ev, a, e, CH_NAMES);
    double terms = gathered_cos(sc, ev, a, e, CH_BODY);
    double pivot = gathered_cos(sc, ev, a, e, CH_PIVOT);
    if (pivot > terms)
        terms = pivot;
    return o->storyline_w_names * names + (1 - o->storyline_w_names) * terms;
}

/* Cuts the n candidates down to the SCORED that share the most features
 * with e, of those sharing as many the later events: a histogram of the
 * counts finds the cut-off count, a selection the cut-off among the events
 * at that count. Linear in n; which candidates are kept does not depend on
 * their order (nor does what their callers make of them), so they are
 * left in another order: those above the cut-off count, then the ties kept. */
static size_t keep_best(sl_scratch *sc, size_t n)
{
    uint32_t top = 0;
    memset(sc->hist, 0, ((size_t)sc->max_hits + 1) * sizeof *sc->hist);
    for (size_t k = 0; k < n; k++) {
        uint32_t h = sc->acc[sc->cands[k]].hits;
        sc->hist[h]++;
        top = h > top ? h : top;
    }
    size_t above = 0;
    uint32_t cut = top;
    while (above + sc->hist[cut] < SCORED)
        above += sc->hist[cut--];
    size_t m = 0, o = 0;
    for (size_t k = 0; k < n; k++) { /* those above the cut stay, those at it are ties */
        uint32_t a = sc->cands[k], h = sc->acc[a].hits;
        if (h > cut)
            sc->cands[o++] = a;
        else if (h == cut)
            sc->ties[m++] = a;
    }
    memcpy(sc->cands + o, sc->ties, m * sizeof *sc->ties); /* (the selection reorders the ties) */
    uint32_t last = nfi_kth_largest_u32(sc->ties, m, SCORED - above);
    size_t kept = o;
    for (size_t k = o; k < o + m; k++)
        if (sc->cands[k] >= last)
            sc->cands[kept++] = sc->cands[k];
    return kept;
}

/* The best earlier event for e, or NONE: only the SCORED candidates that
 * share the most profile features are scored in full, which keeps linking
 * linear in the number of events however many share a common word. The
 * best is the highest score, ties to the earlier event, so the order in
 * which candidates are scored does not matter. */
static uint32_t best_link(const sl_index *ix, const nfi_event_profile *ev, uint32_t e, const sl_at *at,
                          const nf_events_options *o, sl_scratch *sc)
{
    uint32_t best = NONE;
    double best_score = o->storyline_threshold;
    const nfi_event_profile *p = &ev[e];
    size_t n = gather(ix, p, e, CH_BODY, true, at, sc);
    if (n > SCORED)
        n = keep_best(sc, n);
    for (size_t k = 0; k < n; k++) {
        uint32_t a = sc->cands[k];
        if ((int64_t)p->first_day - ev[a].last_day > o->storyline_days)
            continue;
        double s = story_score(sc, ev, a, e, o);
        if (s > best_score || (s == best_score && best != NONE && a < best)) {
            best_score = s;
            best = a;
        }
    }
    return best;
}

static bool scratch_init(sl_scratch *sc, const nfi_event_profile *ev, size_t n)
{
    memset(sc, 0, sizeof *sc);
    for (size_t e = 0; e < n; e++) {
        uint32_t f = ev[e].ch[CH_BODY].n + ev[e].ch[CH_NAMES].n + ev[e].ch[CH_PIVOT].n;
        sc->max_hits = f > sc->max_hits ? f : sc->max_hits;
    }
    size_t m = n ? n : 1;
    sc->acc = aligned_alloc(32, m * sizeof *sc->acc);
    if (sc->acc)
        memset(sc->acc, 0, m * sizeof *sc->acc);
    sc->cands = malloc(m * sizeof *sc->cands);
    sc->ties = malloc(m * sizeof *sc->ties);
    sc->hist = malloc(((size_t)sc->max_hits + 1) * sizeof *sc->hist);
    sc->lists = malloc(((size_t)sc->max_hits + 1) * sizeof *sc->lists);
    return sc->acc && sc->cands && sc->ties && sc->hist && sc->lists;
}

static void scratch_free(sl_scratch *sc)
{
    free(sc->acc), free(sc->cands), free(sc->ties), free(sc->hist), free(sc->lists);
}

static void free_index(sl_index *ix)
{
    for (size_t i = 0; !ix->all && i < ix->n; i++)
        free(ix->lists[i].p);
    free(ix->all);
    free(ix->lists);
    nfi_hmap_free(&ix->map);
}

typedef struct link_job {
    const sl_index *ix;
    const nfi_event_profile *ev;
    const sl_at *at;       /* where each event lies in its lists (index_all) */
    const size_t *at_off;  /* event e's in at[at_off[e] ..] */
    size_t n;
    const nf_events_options *o;
    uint32_t *best; /* per event: the event it links to, or NONE */
} link_job;

/* Task i: the best links of events [i * CHUNK, (i + 1) * CHUNK). */
static nf_status link_task(void *ctx, void *worker, size_t i, nf_error *err)
{
    (void)err;
    const link_job *j = ctx;
    size_t end = (i + 1) * CHUNK < j->n ? (i + 1) * CHUNK : j->n;
    for (size_t e = i * CHUNK; e < end; e++)
        j->best[e] = best_link(j->ix, j->ev, (uint32_t)e, j->at + j->at_off[e], j->o, worker);
    return NF_OK;
}

/* Each event's best link, on o->threads threads: every event is indexed
 * first, and each one reads only its lists' entries of earlier events, so
 * the links are those of one pass in event order. */
static nf_status find_links(const nfi_event_profile *ev, size_t n, const nf_events_options *o, uint32_t *best,
                            nf_error *err)
{
    sl_index ix = {0};
    nfi_hmap_init(&ix.map);
    int threads = o->threads > 1 ? o->threads : 1;
    size_t tasks = (n + CHUNK - 1) / CHUNK;
    if ((size_t)threads > tasks)
        threads = tasks ? (int)tasks : 1;
    sl_scratch *sc = calloc((size_t)threads, sizeof *sc);
    size_t *at_off = malloc((n + 1) * sizeof *at_off);
    bool ok = sc && at_off;
    if (ok)
        at_off[0] = 0;
    for (size_t e = 0; ok && e < n; e++) /* (the channels gather reads: CH_BODY on) */
        at_off[e + 1] = at_off[e] + ev[e].ch[CH_BODY].n + ev[e].ch[CH_NAMES].n + ev[e].ch[CH_PIVOT].n;
    sl_at *at = ok ? malloc((at_off[n] ? at_off[n] : 1) * sizeof *at) : NULL;
    ok = ok && at;
    for (int t = 0; ok && t < threads; t++)
        ok = scratch_init(&sc[t], ev, n);
    ok = ok && index_all(&ix, ev, n, CH_BODY, at);
    nf_status st = ok ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory while linking storylines");
    link_job job = {&ix, ev, at, at_off, n, o, best};
    if (st == NF_OK)
        st = nfi_parallel_for(tasks, sc, sizeof *sc, threads, link_task, &job, err);
    for (int t = 0; sc && t < threads; t++)
        scratch_free(&sc[t]);
    free(sc);
    free(at);
    free(at_off);
    free_index(&ix);
    return st;
}

nf_status nfi_storylines_link(const nfi_event_profile *ev, size_t n, const nf_events_options *o,
                             uint32_t *storyline, size_t *n_storylines, nf_error *err)
{
    uint32_t *parent = malloc((n ? n : 1) * sizeof *parent);
    uint32_t *best = malloc((n ? n : 1) * sizeof *best);
    nf_status st = parent && best ? find_links(ev, n, o, best, err)
                                  : nfi_fail(err, NF_ERR_NOMEM, "out of memory while linking storylines");
    for (uint32_t e = 0; st == NF_OK && e < n; e++) {
        parent[e] = e;
        if (best[e] != NONE)
            nfi_uf_union(parent, e, best[e]); /* the earlier root stays the root */
    }
    *n_storylines = 0;
    for (uint32_t e = 0; st == NF_OK && e < n; e++) { /* number by first event */
        uint32_t r = nfi_uf_find(parent, e);
        storyline[e] = r == e ? (uint32_t)(*n_storylines)++ : storyline[r];
    }
    free(parent);
    free(best);
    return st;
}

/* ------------------------------------------------- events across languages */

/* Whether events a and e (a earlier) may report one happening in two
 * languages: both are headline events, their main languages differ, and
 * a's last report is at most `days` before e's first. */
static bool may_join(const nfi_merge_event *m, uint32_t a, uint32_t e, double days)
{
    return m[a].headlines && m[e].headlines && m[a].lang != m[e].lang && m[e].first_t - m[a].last_t <= days;
}

static double cross_score(const nfi_event_profile *a, const nfi_event_profile *b)
{
    double names = nfi_svec_cos(&a->ch[CH_NAMES], &b->ch[CH_NAMES]);
    double pivot = nfi_svec_cos(&a->ch[CH_PIVOT], &b->ch[CH_PIVOT]);
    return names > pivot ? names : pivot;
}

#define SAME_LANG_TITLE 0.4 /* same-language headline events join from this title-profile cosine */
#define SAME_LANG_DAYS 0.5  /* ... when the later starts at most this long after the earlier's last report */

/* The score with which e (later) may join a, or -1 when it may not: two
 * headline events of one main language by their title profiles (from
 * SAME_LANG_TITLE, within SAME_LANG_DAYS: the stream judged each report
 * against one centroid, two events' titles are many reports' words), of
 * two languages by names or pivot (may_join, from threshold). */
static double join_score(const nfi_merge_event *m, uint32_t a, uint32_t e, const nfi_event_profile *pe,
                         double threshold, double days)
{
    if (m[a].headlines && m[e].headlines && m[a].lang == m[e].lang) {
        if (m[e].first_t - m[a].last_t > SAME_LANG_DAYS)
            return -1;
        double c = nfi_svec_cos(&m[a].prof->ch[CH_TITLE], &pe->ch[CH_TITLE]);
        return c >= SAME_LANG_TITLE ? c : -1;
    }
    if (!may_join(m, a, e, days))
        return -1;
    double c = cross_score(m[a].prof, pe);
    return c >= threshold ? c : -1;
}

/* e's profile (pe, a shallow copy) with tables of the channels join_score
 * reads, built in t: e meets up to SCORED candidates, whose few features
 * then probe e's table instead of merging with e's (nfi_svec_dot: the same
 * products added in the same order). A channel whose table cannot be built
 * is merged. */
static void profile_tables(const nfi_event_profile *p, nfi_event_profile *pe, nfi_svec_table t[N_CH])
{
    static const int ch[3] = {CH_TITLE, CH_NAMES, CH_PIVOT};
    *pe = *p;
    for (int k = 0; k < 3; k++)
        if (pe->ch[ch[k]].n && nfi_svec_table_build(&t[ch[k]], &pe->ch[ch[k]]))
            pe->ch[ch[k]].table = &t[ch[k]];
}

typedef struct partner {
    uint32_t ev;  /* NONE: none yet */
    double score; /* its join_score */
} partner;

/* ------------------------------------------------- small events attached */

#define ATTACH_MAX 2      /* events of at most this many reports are attached */
#define ATTACH_DAYS 1.0   /* ... to an event at most this far away in time */
#define ATTACH_P 0.7      /* ... when the headline model gives at least this */
#define ATTACH_LEAD_P 0.6 /* ... or this, when the event leads the other candidates */
#define ATTACH_MARGIN 2.0 /* ... by this much in logit (nfi_leads) */

/* The first event whose first report is after t (events are numbered in
 * order of their first report). */
static uint32_t first_after(const nfi_merge_event *m, size_t n, double t)
{
    uint32_t a = 0, b = (uint32_t)n;
    while (a < b) {
        uint32_t k = a + (b - a) / 2;
        if (m[k].first_t <= t)
            a = k + 1;
        else
            b = k;
    }
    return a;
}

/* The countries each timed headline event's pivot profile names:
 * (*cl)[(*coff)[e] .. (*coff)[e + 1]) (nfi_countries_of). */
static bool event_countries(const nfi_merge_event *m, const nfi_event_profile *prof, size_t n, size_t **coff,
                            uint64_t **cl)
{
    nfi_country_set cs;
    nfi_country_set_init(&cs);
    size_t total = 0;
    for (size_t e = 0; e < n; e++)
        total += m[e].timed && m[e].headlines ? prof[e].ch[CH_PIVOT].n : 0;
    *coff = malloc((n + 1) * sizeof **coff);
    *cl = malloc((total ? total : 1) * sizeof **cl);
    if (!*coff || !*cl)
        return false;
    (*coff)[0] = 0;
    for (size_t e = 0; e < n; e++) {
        size_t k = m[e].timed && m[e].headlines ? prof[e].ch[CH_PIVOT].n : 0;
        (*coff)[e + 1] = (*coff)[e] + nfi_countries_of(&cs, &prof[e].ch[CH_PIVOT], *cl + (*coff)[e], k);
    }
    return true;
}

/* Small timed headline events (at most ATTACH_MAX reports: most are one
 * report that started an event the stream's later reports did not join)
 * join the larger timed headline event within ATTACH_DAYS that the
 * headline model scores best, when that probability reaches ATTACH_P
 * (ATTACH_LEAD_P when it leads the other candidates by ATTACH_MARGIN in
 * logit: nfi_leads): the
 * model's lex is the cosine of the two title profiles, its gap the time
 * between the events, its other-language term whether their main languages
 * differ. Unlike the stream, an event formed after the small one's report
 * is a candidate too. Candidates share a title-profile feature (each list
 * read back at most SCAN entries from the last event starting within
 * ATTACH_DAYS after the small one). An event that names countries (its
 * pivot profile's country features) never attaches to one that names only
 * others: a conflict costs the stream's model COUNTRY_CONFLICT in logit,
 * here, where the stream already passed both by, it vetoes. */
static bool attach_small(const nfi_merge_event *m, const nfi_event_profile *prof, size_t n, const double *b,
                         uint32_t *parent, sl_scratch *sc)
{
    size_t *coff = NULL;
    uint64_t *cl = NULL;
    sl_index ix = {0};
    nfi_hmap_init(&ix.map);
    bool ok = true;
    for (uint32_t e = 0; ok && e < n; e++)
        ok = !m[e].timed || !m[e].headlines || index_event(&ix, &prof[e], e, CH_TITLE, CH_TITLE + 1);
    uint32_t *best = malloc((n ? n : 1) * sizeof *best);
    ok = ok && best && event_countries(m, prof, n, &coff, &cl);
    if (ok)
        for (size_t k = 0; k < n; k++) /* the joins before marked their own candidates */
            sc->acc[k].seen = 0;
    for (uint32_t s = 0; ok && s < n; s++) {
        best[s] = NONE;
        if (!m[s].timed || !m[s].headlines || m[s].n > ATTACH_MAX)
            continue;
        const nfi_svec *q = &prof[s].ch[CH_TITLE];
        uint32_t end_ev = first_after(m, n, m[s].last_t + ATTACH_DAYS);
        size_t nc = 0;
        for (uint32_t i = 0; i < q->n; i++) {
            const uint64_t *v = nfi_hmap_get(&ix.map, q->f[i].hash + (uint64_t)CH_TITLE);
            if (!v)
                continue;
            const slist *l = &ix.lists[*v];
            uint32_t end = entries_before(l, end_ev), stop = end > SCAN ? end - SCAN : 0;
            for (uint32_t k = end; k-- > stop;) {
                uint32_t a = l->p[k].ev;
                if (sc->acc[a].seen != s + 1) {
                    sc->acc[a].seen = s + 1;
                    sc->acc[a].dot[0] = 0;
                    sc->cands[nc++] = a;
                }
                sc->acc[a].dot[0] += q->f[i].w * l->p[k].w;
            }
        }
        double best_p = ATTACH_LEAD_P, second = 0;
        for (size_t k = 0; k < nc; k++) {
            uint32_t a = sc->cands[k];
            if (a == s || m[a].n <= m[s].n)
                continue;
            double gap = m[s].first_t - m[a].last_t;
            if (m[a].first_t - m[s].last_t > gap)
                gap = m[a].first_t - m[s].last_t;
            if (gap > ATTACH_DAYS ||
                nfi_countries_conflict(cl + coff[s], coff[s + 1] - coff[s], cl + coff[a], coff[a + 1] - coff[a]))
                continue;
            double other = m[a].lang != m[s].lang;
            double lex = cos_of(sc->acc[a].dot[0], q, &prof[a].ch[CH_TITLE]);
            double z = b[0] + b[1] * lex + b[5] * log1p(24 * (gap > 0 ? gap : 0)) + b[6] * other;
            double p = 1 / (1 + exp(-z));
            if (p > best_p || (p == best_p && best[s] != NONE && a < best[s])) {
                if (best[s] != NONE && best_p > second)
                    second = best_p;
                best_p = p;
                best[s] = a;
            } else if (p > second) {
                second = p;
            }
        }
        if (best[s] != NONE && best_p < ATTACH_P && !nfi_leads(best_p, second, ATTACH_MARGIN))
            best[s] = NONE;
    }
    for (uint32_t s = 0; ok && s < n; s++)
        if (best[s] != NONE)
            nfi_uf_union(parent, best[s] < s ? best[s] : s, best[s] < s ? s : best[s]);
    free(best);
    free(coff);
    free(cl);
    free_index(&ix);
    return ok;
}

nf_status nfi_events_merge_languages(const nfi_merge_event *m, size_t n, double threshold, double days,
                                    const double *model, uint32_t *group, size_t *n_groups, nf_error *err)
{
    sl_index ix = {0};
    nfi_hmap_init(&ix.map);
    nfi_event_profile *prof = malloc((n ? n : 1) * sizeof *prof);
    uint32_t *parent = malloc((n ? n : 1) * sizeof *parent);
    partner *later = malloc((n ? n : 1) * sizeof *later); /* each event's best later partner */
    sl_scratch sc = {0};
    nfi_svec_table tables[N_CH] = {{0}};
    bool ok = prof && parent && later;
    for (size_t e = 0; ok && e < n; e++)
        prof[e] = *m[e].prof;
    bool have_scratch = ok && scratch_init(&sc, prof, n);
    ok = ok && have_scratch;
    for (uint32_t e = 0; ok && e < n; e++)
        later[e] = (partner){NONE, -1};
    for (uint32_t e = 0; ok && e < n; e++) {
        parent[e] = e;
        size_t k = m[e].headlines ? gather(&ix, &prof[e], e, CH_NAMES, false, NULL, &sc) : 0;
        if (k > SCORED)
            k = keep_best(&sc, k);
        uint32_t best = NONE;
        double best_score = -1;
        nfi_event_profile pe;
        if (k > 0)
            profile_tables(m[e].prof, &pe, tables);
        for (size_t i = 0; i < k; i++) {
            uint32_t a = sc.cands[i];
            double s = join_score(m, a, e, &pe, threshold, days);
            if (s < 0)
                continue;
            if (s > later[a].score) /* ties: the first later event */
                later[a] = (partner){e, s};
            if (s > best_score || (s == best_score && best != NONE && a < best)) {
                best_score = s;
                best = a;
            }
        }
        if (best != NONE)
            nfi_uf_union(parent, best, e); /* the earlier root stays the root */
        ok = !m[e].headlines || index_event(&ix, &prof[e], e, CH_NAMES, N_CH);
    }
    for (uint32_t a = 0; ok && a < n; a++)
        if (later[a].ev != NONE)
            nfi_uf_union(parent, a, later[a].ev);
    if (ok && model)
        ok = attach_small(m, prof, n, model, parent, &sc);
    *n_groups = 0;
    for (uint32_t e = 0; ok && e < n; e++) { /* number by first event */
        uint32_t r = nfi_uf_find(parent, e);
        group[e] = r == e ? (uint32_t)(*n_groups)++ : group[r];
    }
    free_index(&ix);
    if (have_scratch)
        scratch_free(&sc);
    for (int ch = 0; ch < N_CH; ch++)
        nfi_svec_table_free(&tables[ch]);
    free(prof);
    free(parent);
    free(later);
    return ok ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory while merging events");
}
