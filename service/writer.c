/*
 * writer.c - the one writer of `newsfold serve`: group commit over a live fold.
 *
 * Ingest requests (any number of HTTP threads) queue jobs; one thread takes
 * every job waiting (up to max_group_docs documents) as a group and, in ONE
 * SQLite transaction: inserts the documents (INSERT OR IGNORE: an id already
 * stored, or seen earlier in the group, is answered with its stored
 * assignment: ingest is idempotent by id), folds the new ones with ONE
 * nf_fold_add (a live fold re-folds its whole state per call, so grouping is
 * what keeps the cost per document down under concurrent load), writes the
 * added and changed assignments and replaces events and storylines from
 * nf_fold_current(), then COMMITs. Only after COMMIT returned are the
 * requests of the group answered (2xx); see store.c for what a COMMIT
 * guarantees under each synchronous setting.
 *
 * Invariant: the fold holds exactly the committed documents, in arrival
 * order. When a group fails after nf_fold_add (the store refused the write,
 * COMMIT failed), the transaction is rolled back and the fold is rebuilt
 * from the store, which is the truth; the group's requests get 503 and may
 * be retried (idempotent). The same rebuild is the start-up replay: all
 * stored documents, in arrival order, in one nf_fold_add.
 */
#include "service.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct job {
    nf_ingest_item *items;
    size_t n;
    void (*done)(void *ctx);
    void *ctx;
    struct job *next;
} job;

struct nf_writer {
    nf_store *store;
    nf_fold *fold;
    nf_writer_options o;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    job *head, *tail;
    int stop, stopped;
    nf_writer_stats stats; /* under mu */
};

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

void nf_ingest_item_free(nf_ingest_item *it)
{
    free(it->id);
    free(it->json);
    free(it->answer);
    nf_doc_free(&it->doc);
    memset(it, 0, sizeof *it);
}

static char *error_json(const char *id, const char *msg)
{
    nf_buffer b = {0};
    nf_buffer_puts(&b, "{\"id\":");
    if (id)
        svc_buf_json_string(&b, id, strlen(id));
    else
        nf_buffer_puts(&b, "null");
    nf_buffer_puts(&b, ",\"error\":");
    svc_buf_json_string(&b, msg, strlen(msg));
    nf_buffer_puts(&b, "}");
    return b.oom ? (nf_buffer_free(&b), NULL) : b.data;
}

static void refuse(nf_ingest_item *it, int status, const char *msg)
{
    it->status = status;
    free(it->answer);
    it->answer = error_json(it->id, msg);
}

/* ------------------------------------------------------------ replay */

typedef struct replay {
    nf_doc *docs;
    size_t n, cap;
    uint64_t record;
    nf_status st;
    nf_error *err;
} replay;

static int replay_doc(void *ctx, const char *id, const char *json, size_t len)
{
    replay *r = ctx;
    (void)id;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        nf_doc *p = realloc(r->docs, cap * sizeof *p);
        if (!p) {
            r->st = NF_ERR_NOMEM;
            return 1;
        }
        r->docs = p;
        r->cap = cap;
    }
    nf_error e;
    if (nf_doc_from_json(json, len, "store", ++r->record, &r->docs[r->n], &e) != NF_OK) {
        fprintf(stderr, "newsfold serve: stored document %s does not parse (%s); left out of the fold\n",
                id, e.message);
        return 0;
    }
    r->n++;
    return 0;
}

/* A fresh live fold holding every stored document; assignments refreshed. */
static nf_status rebuild(nf_writer *w, nf_error *err)
{
    double t0 = now_ms();
    if (w->fold)
        nf_fold_close(w->fold);
    w->fold = NULL;
    nf_status st = nf_fold_open(&w->fold, &w->o.fold, err);
    if (st != NF_OK)
        return st;
    replay r = {.err = err};
    st = nf_store_each_doc(w->store, replay_doc, &r, err);
    if (st == NF_OK && r.st != NF_OK)
        st = r.st;
    nf_fold_update u = {0};
    if (st == NF_OK && r.n) {
        st = nf_fold_add(w->fold, r.docs, r.n, &u, err);
        if (st == NF_SKIPPED) /* cannot happen: ids are unique in the store */
            st = NF_OK;
        if (st == NF_OK)
            st = nf_store_begin(w->store, err);
        if (st == NF_OK) {
            st = nf_store_reapply(w->store, &u, nf_fold_current(w->fold), err);
            st = st == NF_OK ? nf_store_commit(w->store, err) : st;
            if (st != NF_OK)
                nf_store_rollback(w->store);
        }
    }
    for (size_t i = 0; i < r.n; i++)
        nf_doc_free(&r.docs[i]);
    free(r.docs);
    pthread_mutex_lock(&w->mu);
    w->stats.n_docs = u.n_docs;
    w->stats.n_events = u.n_events;
    w->stats.n_storylines = u.n_storylines;
    w->stats.replay_ms = now_ms() - t0;
    w->stats.failed = st != NF_OK;
    w->stats.revision++;
    pthread_mutex_unlock(&w->mu);
    nf_fold_update_free(&u);
    return st;
}

/* ------------------------------------------------------------- group */

/* The assignment JSON of an added document (without the newline). */
static char *assignment_json(const nf_assignment *a)
{
    nf_buffer b = {0};
    nf_jsonl_assignment(&b, a);
    if (b.oom || !b.data) {
        nf_buffer_free(&b);
        return NULL;
    }
    if (b.len && b.data[b.len - 1] == '\n')
        b.data[--b.len] = 0;
    return b.data;
}

typedef struct group {
    nf_ingest_item **items; /* every item of the group's jobs */
    size_t n;
    nf_ingest_item **fresh; /* those whose document goes to the fold */
    nf_doc *docs;
    size_t n_fresh;
    double fold_ms; /* in nf_fold_add */
} group;

/* Everything up to nf_fold_add; returns its status or the store's. */
static nf_status fold_group(nf_writer *w, group *g, nf_fold_update *u, nf_error *err)
{
    nf_status st = nf_store_begin(w->store, err);
    for (size_t i = 0; st == NF_OK && i < g->n; i++) {
        nf_ingest_item *it = g->items[i];
        if (it->status) /* refused while parsing */
            continue;
        nf_status put = nf_store_put(w->store, it->id, it->json, it->json_len, err);
        if (put == NF_SKIPPED) {
            it->status = 200; /* answered after the fold, from the store */
        } else if (put == NF_OK) {
            g->fresh[g->n_fresh] = it;
            g->docs[g->n_fresh++] = it->doc;
            memset(&it->doc, 0, sizeof it->doc);
        } else {
            st = put;
        }
    }
    if (st != NF_OK || g->n_fresh == 0)
        return st;
    double t0 = now_ms();
    st = nf_fold_add(w->fold, g->docs, g->n_fresh, u, err);
    g->fold_ms = now_ms() - t0;
    if (st == NF_SKIPPED) /* some refused: their rows go, the rest stays */
        st = NF_OK;
    return st;
}

/* Matches the fold's answers to the items (both in order), writes them. */
static nf_status answer_group(nf_writer *w, group *g, const nf_fold_update *u, const char *why, nf_error *err)
{
    size_t k = 0;
    for (size_t i = 0; i < g->n_fresh; i++) {
        nf_ingest_item *it = g->fresh[i];
        if (k < u->n_added && strcmp(u->added[k].id, it->id) == 0) {
            it->status = 201;
            it->answer = assignment_json(&u->added[k++]);
            if (!it->answer)
                return NF_ERR_NOMEM;
        } else {
            nf_store_drop(w->store, it->id);
            refuse(it, 422, why[0] ? why : "refused by the fold");
        }
    }
    return nf_store_apply(w->store, u, nf_fold_current(w->fold), err);
}

/* Documents stored before (or earlier in the group): their assignment now. */
static void answer_existing(nf_writer *w, group *g)
{
    for (size_t i = 0; i < g->n; i++) {
        nf_ingest_item *it = g->items[i];
        if (it->status == 200 && !it->answer && !nf_store_has(w->store, it->id, &it->answer))
            refuse(it, 500, "stored document vanished");
    }
}

static void process_group(nf_writer *w, group *g)
{
    double t0 = now_ms();
    nf_error err = {0};
    nf_fold_update u = {0};
    size_t before = nf_fold_size(w->fold);
    nf_status st = fold_group(w, g, &u, &err);
    char why[NF_ERROR_MESSAGE_MAX];
    snprintf(why, sizeof why, "%s", u.skipped ? err.message : "");
    if (st == NF_OK && g->n_fresh)
        st = answer_group(w, g, &u, why, &err);
    if (st == NF_OK)
        answer_existing(w, g);
    if (st == NF_OK)
        st = nf_store_commit(w->store, &err);
    if (st != NF_OK) {
        nf_store_rollback(w->store);
        fprintf(stderr, "newsfold serve: a group of %zu documents failed: %s\n", g->n, err.message);
        for (size_t i = 0; i < g->n; i++)
            if (g->items[i]->status != 400 && g->items[i]->status != 413 && g->items[i]->status != 422)
                refuse(g->items[i], 503, "not stored: the store or the fold failed; retry");
        nf_error e2 = {0};
        if (nf_fold_size(w->fold) != before && rebuild(w, &e2) != NF_OK)
            fprintf(stderr, "newsfold serve: rebuilding the fold failed: %s\n", e2.message);
    }
    pthread_mutex_lock(&w->mu);
    if (st == NF_OK) {
        w->stats.groups++;
        w->stats.revision++;
        for (size_t i = 0; i < g->n; i++) {
            w->stats.docs_added += g->items[i]->status == 201;
            w->stats.docs_existing += g->items[i]->status == 200;
        }
        if (g->n_fresh) {
            w->stats.n_docs = u.n_docs;
            w->stats.n_events = u.n_events;
            w->stats.n_storylines = u.n_storylines;
        }
    }
    w->stats.last_group_ms = now_ms() - t0;
    w->stats.last_fold_ms = g->fold_ms;
    w->stats.last_group_docs = g->n;
    w->stats.last_changed = u.n_changed;
    pthread_mutex_unlock(&w->mu);
    nf_fold_update_free(&u);
}

/* ------------------------------------------------------------ thread */

/* The requests may now read their items: the writer touches them no more. */
static void finish_jobs(job *jobs)
{
    while (jobs) {
        job *next = jobs->next;
        void (*done)(void *) = jobs->done;
        void *ctx = jobs->ctx;
        free(jobs);
        done(ctx);
        jobs = next;
    }
}

static void run_jobs(nf_writer *w, job *jobs, size_t n_items)
{
    group g = {0};
    g.items = malloc((n_items ? n_items : 1) * sizeof *g.items);
    g.fresh = malloc((n_items ? n_items : 1) * sizeof *g.fresh);
    g.docs = calloc(n_items ? n_items : 1, sizeof *g.docs);
    for (job *j = jobs; g.items && j; j = j->next)
        for (size_t i = 0; i < j->n; i++)
            g.items[g.n++] = &j->items[i];
    if (g.items && g.fresh && g.docs) {
        process_group(w, &g);
        for (size_t i = 0; i < g.n_fresh; i++) /* the fold zeroed those it took */
            nf_doc_free(&g.docs[i]);
    } else {
        for (job *j = jobs; j; j = j->next)
            for (size_t i = 0; i < j->n; i++)
                refuse(&j->items[i], 503, "out of memory");
    }
    free(g.items);
    free(g.fresh);
    free(g.docs);
}

static void *writer_main(void *arg)
{
    nf_writer *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->head && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->head) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        /* whole jobs, at least one, up to max_group_docs documents */
        job *first = w->head, *last = w->head;
        size_t n = last->n;
        while (last->next && n + last->next->n <= w->o.max_group_docs) {
            last = last->next;
            n += last->n;
        }
        w->head = last->next;
        if (!w->head)
            w->tail = NULL;
        last->next = NULL;
        int failed = w->stats.failed;
        pthread_mutex_unlock(&w->mu);
        if (failed) {
            for (job *j = first; j; j = j->next)
                for (size_t i = 0; i < j->n; i++)
                    refuse(&j->items[i], 503, "the service could not rebuild its state; see its log");
        } else {
            run_jobs(w, first, n);
        }
        finish_jobs(first);
    }
    return NULL;
}

nf_status nf_writer_start(nf_writer **out, nf_store *store, const nf_writer_options *o, nf_error *err)
{
    *out = NULL;
    nf_writer *w = calloc(1, sizeof *w);
    if (!w)
        return NF_ERR_NOMEM;
    w->store = store;
    w->o = *o;
    w->o.fold.live = 1;
    if (!w->o.max_group_docs)
        w->o.max_group_docs = 10000;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    nf_status st = rebuild(w, err);
    if (st == NF_OK && pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        snprintf(err->message, sizeof err->message, "cannot start the writer thread");
        st = NF_ERR_RESOURCE;
    }
    if (st != NF_OK) {
        nf_fold_close(w->fold);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return st;
    }
    *out = w;
    return NF_OK;
}

int nf_writer_submit(nf_writer *w, nf_ingest_item *items, size_t n, void (*done)(void *ctx), void *ctx)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return 0;
    j->items = items;
    j->n = n;
    j->done = done;
    j->ctx = ctx;
    pthread_mutex_lock(&w->mu);
    int open = !w->stop;
    if (open) {
        if (w->tail)
            w->tail->next = j;
        else
            w->head = j;
        w->tail = j;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    if (!open)
        free(j);
    return open;
}

void nf_writer_get_stats(nf_writer *w, nf_writer_stats *out)
{
    pthread_mutex_lock(&w->mu);
    *out = w->stats;
    pthread_mutex_unlock(&w->mu);
}

void nf_writer_stop(nf_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    int running = !w->stop;
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (running)
        pthread_join(w->thread, NULL); /* after the jobs queued before stop */
}

void nf_writer_free(nf_writer *w)
{
    if (!w)
        return;
    nf_writer_stop(w);
    nf_fold_close(w->fold);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
