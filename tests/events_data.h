/*
 * events_data.h - the corpora the event stage is tuned and evaluated on,
 * cleaned once, with their gold labels:
 *   seeds     ../shared/seeds (5 real pages; gold.json event and storyline)
 *   examples  examples/corpus (30 fictional documents; gold.json)
 *   uci       ../shared/data/uci-headlines/headlines.tsv (999 headlines;
 *             gold = the STORY column), read as documents whose title and
 *             text are the headline, with publisher as source and the URL
 *   wmt21     ../shared/data/wmt21/{de-fr,fr-de}/docs.jsonl (1485 versions;
 *             gold = the WMT document: every version is one event)
 *   og2021    ../shared/data/og2021-dev (4,982 dated multilingual headlines,
 *             675 gold events; evaluation only, nothing of it is copied)
 * Used by eval_events (the figures in docs/events.md) and tune_events.
 */
#ifndef NF_EVENTS_DATA_H
#define NF_EVENTS_DATA_H

#include "test_util.h"

typedef struct ev_corpus {
    const char *name;
    nf_clean_doc *docs;
    size_t n;
    uint32_t *event;     /* gold label per document */
    uint32_t *storyline; /* gold storyline label, or NULL */
} ev_corpus;

static inline uint32_t ev_label(char ***names, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*names)[i], s) == 0)
            return (uint32_t)i;
    *names = realloc(*names, (*n + 1) * sizeof **names);
    (*names)[*n] = strdup(s);
    return (uint32_t)(*n)++;
}

static inline void ev_free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Gold from a {"documents": {id: {"event", "storyline"}}} file; documents
 * the gold file does not know are dropped (e.g. gold.json read as input). */
static inline void ev_gold_json(ev_corpus *c, const char *gold_path)
{
    cJSON *g = tu_read_json(gold_path);
    assert_non_null(g);
    const cJSON *docs = cJSON_GetObjectItem(g, "documents");
    char **en = NULL, **sn = NULL;
    size_t ne = 0, ns = 0, o = 0;
    c->event = calloc(c->n + 1, sizeof *c->event);
    c->storyline = calloc(c->n + 1, sizeof *c->storyline);
    for (size_t i = 0; i < c->n; i++) {
        const cJSON *d = cJSON_GetObjectItem(docs, c->docs[i].doc.id);
        if (!d) {
            nf_clean_doc_free(&c->docs[i]);
            continue;
        }
        c->docs[o] = c->docs[i];
        c->event[o] = ev_label(&en, &ne, cJSON_GetObjectItem(d, "event")->valuestring);
        c->storyline[o] = ev_label(&sn, &ns, cJSON_GetObjectItem(d, "storyline")->valuestring);
        o++;
    }
    c->n = o;
    ev_free_names(en, ne);
    ev_free_names(sn, ns);
    cJSON_Delete(g);
}

static inline ev_corpus ev_load_dir(const char *name, const char *dir, const char *gold)
{
    ev_corpus c = {name, NULL, 0, NULL, NULL};
    tu_corpus t = tu_clean_path(dir, 2, 0);
    c.docs = t.docs;
    c.n = t.n;
    ev_gold_json(&c, gold);
    return c;
}

/* Cleans raw documents (taking them). */
static inline void ev_clean(ev_corpus *c, nf_doc *raw, size_t n)
{
    nf_clean_options o;
    nf_clean_options_default(&o);
    o.threads = 2;
    nf_cleaner *cl;
    nf_error err;
    assert_int_equal(nf_cleaner_new(&cl, &o, &err), NF_OK);
    c->docs = calloc(n ? n : 1, sizeof *c->docs);
    assert_int_equal(nf_clean_batch(cl, raw, n, c->docs, &err), NF_OK);
    c->n = n;
    nf_cleaner_free(cl);
}

static inline ev_corpus ev_load_uci(const char *shared)
{
    ev_corpus c = {"uci", NULL, 0, NULL, NULL};
    char path[4096];
    snprintf(path, sizeof path, "%s/data/uci-headlines/headlines.tsv", shared);
    size_t len;
    char *data = tu_read_file(path, &len);
    assert_non_null(data);
    nf_doc *raw = calloc(1200, sizeof *raw);
    uint32_t *labels = calloc(1200, sizeof *labels);
    char **names = NULL;
    size_t nn = 0, n = 0;
    char *save = NULL;
    for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[5];
        char *s2 = NULL, *p = line;
        int k = 0;
        for (char *tok = strtok_r(p, "\t", &s2); tok && k < 5; tok = strtok_r(NULL, "\t", &s2))
            f[k++] = tok;
        if (k < 4 || strcmp(f[0], "id") == 0 || n == 1200)
            continue;
        raw[n].id = strdup(f[0]);
        raw[n].title = strdup(f[1]);
        raw[n].text = strdup(f[1]);
        raw[n].text_len = strlen(f[1]);
        raw[n].lang = strdup("en");
        raw[n].source = strdup(f[2]);
        raw[n].url = k > 4 ? strdup(f[4]) : NULL;
        raw[n].origin = strdup(path);
        labels[n++] = ev_label(&names, &nn, f[3]);
    }
    free(data);
    ev_clean(&c, raw, n);
    c.event = labels;
    ev_free_names(names, nn);
    free(raw);
    return c;
}

static inline ev_corpus ev_load_wmt(const char *shared)
{
    ev_corpus c = {"wmt21", NULL, 0, NULL, NULL};
    const char *pairs[] = {"de-fr", "fr-de"};
    nf_doc *raw = calloc(2000, sizeof *raw);
    uint32_t *labels = calloc(2000, sizeof *labels);
    char **names = NULL;
    size_t nn = 0, n = 0;
    for (int p = 0; p < 2; p++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/data/wmt21/%s/docs.jsonl", shared, pairs[p]);
        size_t len;
        char *data = tu_read_file(path, &len);
        assert_non_null(data);
        uint64_t line = 0;
        char *save = NULL;
        for (char *l = strtok_r(data, "\n", &save); l && n < 2000; l = strtok_r(NULL, "\n", &save)) {
            nf_error err;
            assert_int_equal(nf_doc_from_json(l, strlen(l), path, ++line, &raw[n], &err), NF_OK);
            char group[512];
            snprintf(group, sizeof group, "%.*s", (int)strcspn(raw[n].id, "|"), raw[n].id);
            labels[n++] = ev_label(&names, &nn, group);
        }
        free(data);
    }
    ev_clean(&c, raw, n);
    c.event = labels;
    ev_free_names(names, nn);
    free(raw);
    return c;
}

/* ../shared/data/og2021-dev: 4,982 dated headlines (empty text, a title,
 * published_at) in 9 languages; gold = gold.tsv's event. Read through the
 * JSON ingest as `newsfold run` reads it. Returns n = 0 when missing. */
static inline ev_corpus ev_load_og2021(const char *shared)
{
    ev_corpus c = {"og2021-dev", NULL, 0, NULL, NULL};
    char path[4096], gpath[4096];
    snprintf(path, sizeof path, "%s/data/og2021-dev/docs.jsonl", shared);
    snprintf(gpath, sizeof gpath, "%s/data/og2021-dev/gold.tsv", shared);
    size_t len, glen;
    char *data = tu_read_file(path, &len), *gold = data ? tu_read_file(gpath, &glen) : NULL;
    if (!data || !gold) {
        free(data);
        return c;
    }
    size_t cap = 8192, n = 0, nn = 0;
    nf_doc *raw = calloc(cap, sizeof *raw);
    uint32_t *labels = calloc(cap, sizeof *labels);
    char **names = NULL, *save = NULL;
    uint64_t line = 0;
    for (char *l = strtok_r(data, "\n", &save); l && n < cap; l = strtok_r(NULL, "\n", &save)) {
        nf_error err;
        assert_int_equal(nf_doc_from_json(l, strlen(l), path, ++line, &raw[n], &err), NF_OK);
        n++;
    }
    /* gold.tsv: id <TAB> event, in any order: match by id (linear per line is
     * too slow for 5,000 ids, so both sides are looked up by a sorted copy) */
    char **gid = calloc(cap, sizeof *gid), **gev = calloc(cap, sizeof *gev);
    size_t ng = 0;
    save = NULL;
    for (char *l = strtok_r(gold, "\n", &save); l && ng < cap; l = strtok_r(NULL, "\n", &save)) {
        char *tab = strchr(l, '\t');
        if (!tab || strncmp(l, "id\t", 3) == 0)
            continue;
        *tab = '\0';
        gid[ng] = l;
        gev[ng++] = tab + 1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *ev = NULL;
        for (size_t k = 0; k < ng && !ev; k++) /* the files share their order: usually k == i */
            if (strcmp(gid[(i + k) % ng], raw[i].id) == 0)
                ev = gev[(i + k) % ng];
        assert_non_null(ev);
        labels[i] = ev_label(&names, &nn, ev);
    }
    free(gid);
    free(gev);
    free(gold);
    free(data);
    ev_clean(&c, raw, n);
    c.event = labels;
    ev_free_names(names, nn);
    free(raw);
    return c;
}

static inline void ev_corpus_free(ev_corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        nf_clean_doc_free(&c->docs[i]);
    free(c->docs);
    free(c->event);
    free(c->storyline);
}

/* Prepares the event stage as `newsfold run` does: duplicate groups and
 * translations as hard links, pivots as a channel. *links must be freed
 * (nf_links_free) after nf_events_finish. */
static inline nf_events *ev_prepare(const ev_corpus *c, const nf_events_options *o, nf_links **links)
{
    nf_error err;
    nf_dedup *d;
    nf_dedup_options dopt;
    nf_dedup_options_default(&dopt);
    nf_links_options lopt;
    nf_links_options_default(&lopt);
    lopt.threads = o->threads;
    nf_events *ev;
    assert_int_equal(nf_dedup_new(&d, &dopt, &err), NF_OK);
    assert_int_equal(nf_links_new(links, &lopt, &err), NF_OK);
    assert_int_equal(nf_events_new(&ev, o, &err), NF_OK);
    assert_int_equal(nf_dedup_add(d, c->docs, c->n, &err), NF_OK);
    assert_int_equal(nf_links_add(*links, c->docs, c->n, &err), NF_OK);
    assert_int_equal(nf_events_add(ev, c->docs, c->n, &err), NF_OK);
    nf_dedup_result dr;
    assert_int_equal(nf_dedup_finish(d, &dr, &err), NF_OK);
    assert_int_equal(nf_events_set_dedup(ev, &dr, &err), NF_OK);
    nf_links_result lr;
    assert_int_equal(nf_links_finish(*links, &lr, &err), NF_OK);
    assert_int_equal(nf_events_add_links(ev, lr.links, lr.n_links, &err), NF_OK);
    for (size_t i = 0; i < c->n; i++)
        assert_int_equal(nf_events_set_pivot(ev, i, nf_links_pivot(*links, i), &err), NF_OK);
    nf_links_result_free(&lr);
    nf_dedup_result_free(&dr);
    nf_dedup_free(d);
    return ev;
}

/* Runs the whole event pipeline of `newsfold run` on a corpus. */
static inline void ev_run(const ev_corpus *c, const nf_events_options *o, nf_events_result *r)
{
    nf_error err;
    nf_links *links;
    nf_events *ev = ev_prepare(c, o, &links);
    assert_int_equal(nf_events_finish(ev, r, &err), NF_OK);
    nf_events_free(ev);
    nf_links_free(links);
}

/* The event stage with duplicate groups only: no translations, no pivots
 * (what `newsfold run --no-links` does). */
static inline nf_events *ev_prepare_nolinks(const ev_corpus *c, const nf_events_options *o)
{
    nf_error err;
    nf_dedup *d;
    nf_dedup_options dopt;
    nf_dedup_options_default(&dopt);
    nf_events *ev;
    assert_int_equal(nf_dedup_new(&d, &dopt, &err), NF_OK);
    assert_int_equal(nf_events_new(&ev, o, &err), NF_OK);
    assert_int_equal(nf_dedup_add(d, c->docs, c->n, &err), NF_OK);
    assert_int_equal(nf_events_add(ev, c->docs, c->n, &err), NF_OK);
    nf_dedup_result dr;
    assert_int_equal(nf_dedup_finish(d, &dr, &err), NF_OK);
    assert_int_equal(nf_events_set_dedup(ev, &dr, &err), NF_OK);
    nf_dedup_result_free(&dr);
    nf_dedup_free(d);
    return ev;
}

static inline void ev_run_nolinks(const ev_corpus *c, const nf_events_options *o, nf_events_result *r)
{
    nf_error err;
    nf_events *ev = ev_prepare_nolinks(c, o);
    assert_int_equal(nf_events_finish(ev, r, &err), NF_OK);
    nf_events_free(ev);
}

/* Scores predicted events (or storylines) against the gold labels. */
static inline nf_cluster_scores ev_score(const ev_corpus *c, const nf_events_result *r, bool storylines)
{
    uint32_t *pred = malloc((c->n ? c->n : 1) * sizeof *pred);
    for (size_t i = 0; i < c->n; i++)
        pred[i] = storylines ? r->events[r->docs[i].event].storyline : r->docs[i].event;
    nf_cluster_scores s;
    nf_error err;
    assert_int_equal(nf_cluster_eval(storylines ? c->storyline : c->event, pred, c->n, &s, &err), NF_OK);
    free(pred);
    return s;
}

#endif
