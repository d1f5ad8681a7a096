/*
 * fold.c - the whole pipeline behind one incremental API (nf_fold_*).
 *
 * A fold owns one cleaner and one object per stage and moves every batch
 * through them in the one direction data flows:
 *
 *   nf_fold_add     ids checked -> clean (threads) -> dedup sketches ->
 *                   links pivots -> event features; the batch is then freed
 *   finish          dedup groups -> events' hard links; translations ->
 *                   events' hard links, pivots -> events' neutral channel;
 *                   events and storylines
 *
 * which is exactly the order `newsfold run` has always used, so a batch
 * fold gives the same result, byte for byte once encoded, as before. A
 * distributed fold (run --mpi) finishes dedup and links across the ranks
 * and hands rank 0's fold their results and the pivots' features
 * (nfi_fold_finish_given): the event stage then runs as here.
 *
 * Batch folds (options.live = 0) keep only what the stages keep (dedup
 * spills to sorted runs, events to a feature file): memory stays bounded
 * and nf_fold_add answers with pending assignments. Finishing one frees
 * each stage as soon as nothing needs it any more (dedup once its result
 * is made; links' finish state, all but the pivots, once its result is
 * made; the cleaner, links and events once the event stage has made
 * its result, which owns its strings): the later stages and the caller's
 * encoders then reuse that memory instead of faulting in fresh pages.
 *
 * Live folds keep each document's dedup item (sketch and signature) and
 * leave the links and events stages open; every nf_fold_add then computes
 * the result as it stands: a fresh dedup stage is fed the kept items, links
 * are found again over all pivots, and the events stage is snapshotted.
 * That is the result nf_fold_finish would give at that moment, so a
 * document's assignment never depends on how the input was cut into
 * batches (beyond the cleaner's per-batch template detection), at the cost
 * of O(documents so far) per call. The previous answer's per-document
 * state (event, storyline, canonical, relation, role, of) is kept to report
 * which earlier documents changed.
 *
 * Ids are unique within a fold: a repeated id is refused by nf_fold_add
 * (counted in the update, named in err) and everything else is added.
 */
#include "common/common.h"
#include "dedup/dedup.h"
#include "events/events.h"
#include "fold/fold.h"
#include "links/links.h"

#include <stdlib.h>
#include <string.h>

#define ID_SALT 0x666f6c642d696473ULL /* "fold-ids" */

typedef struct doc_state { /* a live document's last reported assignment */
    uint32_t event, storyline, canonical, of;
    uint8_t relation, role;
} doc_state;

struct nf_fold {
    nf_fold_options o;
    nf_cleaner *cleaner;
    nf_dedup *dedup; /* batch: the stage; live: its parameters for sketching */
    nf_links *links;
    nf_events *events;
    size_t n_docs;
    nfi_hmap ids; /* hash of every id added (a 64-bit hash: a collision would refuse a new id) */
    bool finished;
    bool broken; /* a stage failed half-way through a batch: only nf_fold_close is left */
    /* live folds */
    nfi_dedup_item *items;
    size_t cap_items;
    nfi_buf item_ids; /* the items' ids, NUL-separated; items[i].id is set when appended */
    size_t *item_id_off;
    nf_fold_result current;
    bool has_current;
    doc_state *state;
};

void nf_fold_options_default(nf_fold_options *o)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    nf_clean_options_default(&o->clean);
    nf_dedup_options_default(&o->dedup);
    nf_links_options_default(&o->links);
    nf_events_options_default(&o->events);
    o->dedup_on = o->links_on = 1;
    o->threads = 1;
}

void nf_fold_result_free(nf_fold_result *r)
{
    nf_events_result_free(&r->events);
    nf_dedup_result_free(&r->dedup);
    nf_links_result_free(&r->links);
}

void nf_fold_update_free(nf_fold_update *u)
{
    free(u->added);
    free(u->changed);
    free(u->strings);
    memset(u, 0, sizeof *u);
}

/* ------------------------------------------------------------------ open */

/* Options from a caller built against any version of the struct: fields it
 * did not know keep their defaults. */
static nf_status take_options(nf_fold *f, const nf_fold_options *given, nf_error *err)
{
    nf_fold_options_default(&f->o);
    if (!given)
        return NF_OK;
    if (given->size < sizeof(size_t) || given->size > sizeof f->o)
        return nfi_fail(err, NF_ERR_ARG, "nf_fold_options.size is %zu, this library knows %zu: use "
                                         "nf_fold_options_default", given->size, sizeof f->o);
    memcpy(&f->o, given, given->size);
    f->o.size = sizeof f->o;
    int t = f->o.threads > 0 ? f->o.threads : 1;
    f->o.clean.threads = f->o.dedup.threads = f->o.links.threads = f->o.events.threads = t;
    if (f->o.live && f->o.dedup_on && f->o.dedup.index_dir)
        return nfi_fail(err, NF_ERR_ARG, "a live fold keeps its own state: no dedup index");
    return NF_OK;
}

nf_status nf_fold_open(nf_fold **out, const nf_fold_options *options, nf_error *err)
{
    *out = NULL;
    nf_fold *f = calloc(1, sizeof *f);
    if (!f)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nfi_hmap_init(&f->ids);
    nfi_buf_init(&f->item_ids);
    nf_status st = take_options(f, options, err);
    if (st == NF_OK)
        st = nf_cleaner_new(&f->cleaner, &f->o.clean, err);
    if (st == NF_OK && f->o.dedup_on)
        st = nf_dedup_new(&f->dedup, &f->o.dedup, err);
    if (st == NF_OK && f->o.links_on)
        st = nf_links_new(&f->links, &f->o.links, err);
    if (st == NF_OK)
        st = nf_events_new(&f->events, &f->o.events, err);
    if (st == NF_OK) /* headline pivots read the same dictionaries as the links stage */
        nfi_events_dictionaries(f->events, f->o.links.dict_dir, f->o.links.cache_dir, f->o.links.lexicon_file);
    if (st != NF_OK) {
        nf_fold_close(f);
        return st;
    }
    *out = f;
    return NF_OK;
}

void nf_fold_close(nf_fold *f)
{
    if (!f)
        return;
    nf_cleaner_free(f->cleaner);
    nf_dedup_free(f->dedup);
    nf_links_free(f->links);
    nf_events_free(f->events);
    nfi_hmap_free(&f->ids);
    for (size_t i = 0; f->items && i < f->n_docs; i++)
        nfi_dedup_item_free(&f->items[i]);
    free(f->items);
    free(f->item_id_off);
    nfi_buf_free(&f->item_ids);
    nf_fold_result_free(&f->current);
    free(f->state);
    free(f);
}

size_t nf_fold_size(const nf_fold *f) { return f->n_docs; }

const nf_fold_result *nf_fold_current(const nf_fold *f) { return f->has_current ? &f->current : NULL; }

static void progress(const nf_fold *f, const char *stage, uint64_t done, uint64_t total)
{
    if (f->o.progress)
        f->o.progress(f->o.progress_ctx, stage, done, total);
}

nfi_fold_stages nfi_fold_stages_of(nf_fold *f)
{
    return (nfi_fold_stages){f->cleaner, f->dedup, f->links, f->events};
}

void nfi_fold_appended(nf_fold *f, size_t n) { f->n_docs += n; }

/* ------------------------------------------------------------------ add */

/* Moves the documents whose id is new to the front (in order); the others
 * are freed and counted. Returns how many were kept. */
static size_t keep_new_ids(nf_fold *f, nf_doc *docs, size_t n, size_t *refused, nf_error *err)
{
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id = docs[i].id ? docs[i].id : "";
        uint64_t h = nfi_hash64(id, strlen(id)) ^ ID_SALT;
        if (nfi_hmap_get(&f->ids, h)) {
            nfi_fail(err, NF_ERR_ARG, "%s:%llu: duplicate id \"%s\" (the document was not added)",
                     docs[i].origin ? docs[i].origin : "-", (unsigned long long)docs[i].record, id);
            (*refused)++;
            nf_doc_free(&docs[i]);
            continue;
        }
        uint64_t *v = nfi_hmap_put(&f->ids, h, NULL);
        if (v)
            *v = 1;
        if (kept != i) {
            docs[kept] = docs[i];
            memset(&docs[i], 0, sizeof docs[i]);
        }
        kept++;
    }
    return kept;
}

/* Live folds: the batch's dedup items, kept with a copy of their ids. */
static nf_status keep_items(nf_fold *f, const nf_clean_doc *cd, size_t n, nf_error *err)
{
    size_t need = f->n_docs + n, cap = f->cap_items;
    nfi_dedup_item *items = nfi_grow_array(f->items, &cap, need, sizeof *items);
    if (!items)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    f->items = items;
    size_t *offs = realloc(f->item_id_off, cap * sizeof *offs);
    if (!offs)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    f->item_id_off = offs;
    f->cap_items = cap;
    nf_status st = nfi_dedup_sketch(f->dedup, cd, n, items + f->n_docs, err);
    for (size_t i = 0; i < n; i++) {
        f->item_id_off[f->n_docs + i] = f->item_ids.len;
        nfi_buf_append(&f->item_ids, cd[i].doc.id, strlen(cd[i].doc.id) + 1);
        items[f->n_docs + i].id = NULL;
    }
    if (st == NF_OK && f->item_ids.oom)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return st;
}

static nf_status feed_stages(nf_fold *f, const nf_clean_doc *cd, size_t n, nf_error *err)
{
    nf_status st = NF_OK;
    if (f->dedup)
        st = f->o.live ? keep_items(f, cd, n, err) : nf_dedup_add(f->dedup, cd, n, err);
    if (st == NF_OK && f->links)
        st = nf_links_add(f->links, cd, n, err);
    if (st == NF_OK)
        st = nf_events_add(f->events, cd, n, err);
    return st;
}

static nf_status feed_slice(void *f, nf_clean_doc *cd, size_t n, nf_error *err)
{
    return feed_stages(f, cd, n, err);
}

/* Cleaned a slice at a time (nf_clean_each_slice), so that only one slice
 * of cleaned documents is alive while the stages read them. */
static nf_status clean_and_feed(nf_fold *f, nf_doc *docs, size_t n, nf_error *err)
{
    size_t slice = n < NF_CLEAN_SLICE ? n : NF_CLEAN_SLICE;
    nf_clean_doc *cd = calloc(slice ? slice : 1, sizeof *cd);
    if (!cd)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nf_status st = nf_clean_each_slice(f->cleaner, docs, n, cd, feed_slice, f, err);
    free(cd);
    return st;
}

/* --------------------------------------------------------------- result */

/* A dedup stage fed every kept item (live folds). */
static nf_status dedup_again(nf_fold *f, nf_dedup_result *out, nf_error *err)
{
    nf_dedup *d = NULL;
    nf_status st = nf_dedup_new(&d, &f->o.dedup, err);
    for (size_t i = 0; i < f->n_docs && st == NF_OK; i++) {
        f->items[i].id = f->item_ids.data + f->item_id_off[i];
        st = nfi_dedup_append_item(d, &f->items[i], err);
    }
    if (st == NF_OK)
        st = nf_dedup_finish(d, out, err);
    nf_dedup_free(d);
    return st;
}

/* Duplicates (r->dedup) and translations (r->links) become the events'
 * hard links (the pivots are set already); then events and storylines. */
static nf_status events_result(nf_fold *f, nf_fold_result *r, nf_error *err)
{
    nf_status st = f->o.dedup_on ? nf_events_set_dedup(f->events, &r->dedup, err) : NF_OK;
    if (st == NF_OK && f->links) {
        nfi_events_clear_links(f->events);
        st = nf_events_add_links(f->events, r->links.links, r->links.n_links, err);
    }
    if (st == NF_OK)
        st = f->o.live && !f->finished ? nfi_events_snapshot(f->events, &r->events, err)
                                       : nf_events_finish(f->events, &r->events, err);
    return st;
}

/* A finished batch fold's stages, freed once their results are made (the
 * fold then only answers nf_fold_size and nf_fold_close). */
static void release_dedup(nf_fold *f)
{
    nf_dedup_free(f->dedup);
    f->dedup = NULL;
}

static void release_stages(nf_fold *f)
{
    nf_events_free(f->events);
    nf_links_free(f->links); /* after events: they read its pivots */
    nf_cleaner_free(f->cleaner);
    nfi_hmap_free(&f->ids);
    f->events = NULL;
    f->links = NULL;
    f->cleaner = NULL;
}

/* Dedup groups and translations, pivots as the events' language-neutral
 * channel; then events and storylines. */
static nf_status fold_result(nf_fold *f, nf_fold_result *r, nf_error *err)
{
    memset(r, 0, sizeof *r);
    nf_status st = NF_OK;
    progress(f, "dedup", 0, f->n_docs);
    if (f->dedup)
        st = f->o.live ? dedup_again(f, &r->dedup, err) : nf_dedup_finish(f->dedup, &r->dedup, err);
    if (!f->o.live)
        release_dedup(f);
    progress(f, "links", 0, f->n_docs);
    if (st == NF_OK && f->links && !f->o.live) /* a batch fold adds no more */
        st = nf_links_end_adding(f->links, err);
    if (st == NF_OK && f->links) {
        st = nf_links_finish(f->links, &r->links, err);
        for (size_t i = 0; i < f->n_docs && st == NF_OK; i++)
            st = nf_events_set_pivot(f->events, i, nf_links_pivot(f->links, i), err);
        if (!f->o.live) /* the events read the pivots only: the finish's state goes now */
            nfi_links_release(f->links);
    }
    progress(f, "events", 0, f->n_docs);
    if (st == NF_OK)
        st = events_result(f, r, err);
    if (!f->o.live)
        release_stages(f);
    if (st != NF_OK)
        nf_fold_result_free(r);
    return st;
}

/* The duplicate record of document i, when the dedup stage saw exactly the
 * documents of the event stage (no index documents before them). */
static const nf_dedup_record *dedup_of(const nf_fold_result *r, size_t i)
{
    const nf_dedup_result *d = &r->dedup;
    return d->n_docs && d->n_docs == r->events.n_docs ? &d->docs[i] : NULL;
}

void nf_fold_assignment(const nf_fold_result *r, size_t i, nf_assignment *out)
{
    const nf_event_doc *x = &r->events.docs[i];
    const nf_dedup_record *dr = dedup_of(r, i);
    *out = (nf_assignment){(uint32_t)i,
                           x->id,
                           dr ? r->dedup.docs[dr->canonical].id : x->id,
                           dr ? dr->relation : NF_REL_UNIQUE,
                           dr ? dr->score : 0.0,
                           x->event,
                           r->events.events[x->event].storyline,
                           x->role,
                           x->linked_to != UINT32_MAX ? r->events.docs[x->linked_to].id : NULL,
                           x->score,
                           0};
}

static doc_state state_of(const nf_fold_result *r, size_t i)
{
    const nf_event_doc *x = &r->events.docs[i];
    const nf_dedup_record *dr = dedup_of(r, i);
    return (doc_state){x->event, r->events.events[x->event].storyline, dr ? dr->canonical : (uint32_t)i,
                       x->linked_to, (uint8_t)(dr ? dr->relation : NF_REL_UNIQUE), (uint8_t)x->role};
}

static bool same_state(const doc_state *a, const doc_state *b)
{
    return a->event == b->event && a->storyline == b->storyline && a->canonical == b->canonical &&
           a->of == b->of && a->relation == b->relation && a->role == b->role;
}

/* Strings of an update are offsets into u->strings until fix_strings. */
static const char *keep_string(nfi_buf *b, const char *s)
{
    if (!s)
        return NULL;
    size_t off = b->len;
    nfi_buf_append(b, s, strlen(s) + 1);
    return (const char *)(uintptr_t)(off + 1); /* 0 stays NULL */
}

/* Document i's assignment with its strings copied into the update's. */
static nf_assignment assignment_of(const nf_fold_result *r, size_t i, nfi_buf *strings)
{
    nf_assignment a;
    nf_fold_assignment(r, i, &a);
    a.id = keep_string(strings, a.id);
    a.canonical = keep_string(strings, a.canonical);
    a.of = keep_string(strings, a.of);
    return a;
}

static void fix_strings(nf_assignment *a, size_t n, const char *base)
{
    for (size_t i = 0; i < n; i++) {
        a[i].id = a[i].id ? base + ((uintptr_t)a[i].id - 1) : NULL;
        a[i].canonical = a[i].canonical ? base + ((uintptr_t)a[i].canonical - 1) : NULL;
        a[i].of = a[i].of ? base + ((uintptr_t)a[i].of - 1) : NULL;
    }
}

/* The answer to one nf_fold_add of a live fold: the added documents, then
 * every earlier one whose state differs from the last answer. */
static nf_status live_update(nf_fold *f, size_t first, nf_fold_update *u, nf_error *err)
{
    const nf_fold_result *r = &f->current;
    doc_state *state = realloc(f->state, (f->n_docs ? f->n_docs : 1) * sizeof *state);
    if (!state)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    f->state = state;
    nfi_buf strings;
    nfi_buf_init(&strings);
    size_t n_added = f->n_docs - first, n_changed = 0;
    u->added = malloc((n_added ? n_added : 1) * sizeof *u->added);
    u->changed = malloc((first ? first : 1) * sizeof *u->changed);
    if (!u->added || !u->changed)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < f->n_docs; i++) {
        doc_state now = state_of(r, i);
        if (i >= first)
            u->added[i - first] = assignment_of(r, i, &strings);
        else if (!same_state(&state[i], &now))
            u->changed[n_changed++] = assignment_of(r, i, &strings);
        state[i] = now;
    }
    u->n_added = n_added;
    u->n_changed = n_changed;
    u->strings = nfi_buf_take(&strings, NULL);
    if (!u->strings)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    fix_strings(u->added, n_added, u->strings);
    fix_strings(u->changed, n_changed, u->strings);
    return NF_OK;
}

/* Batch folds answer with the ids and nothing known yet. */
static nf_status pending_update(const nf_doc *docs, size_t n, size_t first, nf_fold_update *u, nf_error *err)
{
    nfi_buf strings;
    nfi_buf_init(&strings);
    u->added = calloc(n ? n : 1, sizeof *u->added);
    if (!u->added)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        u->added[i] = (nf_assignment){.doc = (uint32_t)(first + i), .id = keep_string(&strings, docs[i].id),
                                      .event = UINT32_MAX, .storyline = UINT32_MAX, .flags = NF_ASSIGN_PENDING};
    u->n_added = n;
    u->strings = nfi_buf_take(&strings, NULL);
    if (!u->strings)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    fix_strings(u->added, n, u->strings);
    return NF_OK;
}

/* Live folds: the result as it stands, and the answer from it. */
static nf_status live_answer(nf_fold *f, size_t first, nf_fold_update *u, nf_error *err)
{
    nf_fold_result_free(&f->current);
    f->has_current = false;
    nf_status st = fold_result(f, &f->current, err);
    f->has_current = st == NF_OK;
    if (st == NF_OK && u) {
        st = live_update(f, first, u, err);
        u->n_events = f->current.events.n_events;
        u->n_storylines = f->current.events.n_storylines;
    }
    return st;
}

nf_status nf_fold_add(nf_fold *f, nf_doc *docs, size_t n, nf_fold_update *update, nf_error *err)
{
    if (update)
        memset(update, 0, sizeof *update);
    if (f->finished || f->broken)
        return nfi_fail(err, NF_ERR_ARG, f->broken ? "nf_fold_add after a failed nf_fold_add"
                                                   : "nf_fold_add after nf_fold_finish");
    size_t refused = 0, first = f->n_docs;
    nf_error dup_err = {NF_OK, ""};
    size_t kept = keep_new_ids(f, docs, n, &refused, &dup_err);
    /* the pending answer needs the ids, which cleaning moves away */
    nf_fold_update pending = {0};
    nf_status st = !f->o.live && update ? pending_update(docs, kept, first, &pending, err) : NF_OK;
    if (st == NF_OK && kept)
        st = clean_and_feed(f, docs, kept, err);
    for (size_t i = 0; i < n; i++)
        nf_doc_free(&docs[i]);
    if (st == NF_OK)
        f->n_docs += kept;
    progress(f, "clean", f->n_docs, 0);
    if (st == NF_OK && f->o.live)
        st = live_answer(f, first, update, err);
    else if (st == NF_OK && update) {
        *update = pending;
        memset(&pending, 0, sizeof pending);
    }
    if (st == NF_OK && update)
        update->n_docs = f->n_docs;
    nf_fold_update_free(&pending);
    if (st != NF_OK) {
        f->broken = true; /* the stages may hold part of the batch */
        if (update)
            nf_fold_update_free(update);
        return st;
    }
    if (update)
        update->skipped = refused;
    if (refused) {
        if (err)
            *err = dup_err;
        return NF_SKIPPED;
    }
    return NF_OK;
}

nf_status nf_fold_finish(nf_fold *f, nf_fold_result *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    if (f->finished || f->broken)
        return nfi_fail(err, NF_ERR_ARG, f->broken ? "nf_fold_finish after a failed nf_fold_add"
                                                   : "nf_fold_finish called twice");
    f->finished = true;
    if (f->o.live && f->has_current) { /* the current result is the final one */
        *out = f->current;
        memset(&f->current, 0, sizeof f->current);
        f->has_current = false;
        return NF_OK;
    }
    return fold_result(f, out, err);
}

nf_status nfi_fold_finish_given(nf_fold *f, nf_fold_result *r, nf_error *err)
{
    if (f->finished || f->broken || f->o.live) {
        nf_fold_result_free(r);
        return nfi_fail(err, NF_ERR_ARG, "nfi_fold_finish_given: a batch fold, once");
    }
    f->finished = true;
    progress(f, "events", 0, f->n_docs);
    nf_status st = events_result(f, r, err);
    if (st != NF_OK)
        nf_fold_result_free(r);
    return st;
}
