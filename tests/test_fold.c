/*
 * test_fold.c - the fold API: the seeds added one document at a time give
 * the gold events and storyline; any cut of the input into batches, live or
 * not, gives the same final result, byte for byte once encoded; the changes
 * a live fold reports keep a mirror of every document's assignment equal to
 * the final result; repeated ids are refused; options are checked.
 */
#include "test_util.h"

typedef struct docs {
    nf_doc *d;
    size_t n;
} docs;

/* Every document under dir that gold.json knows, in reader order. */
static docs read_docs(const char *dir, const char *gold_path)
{
    cJSON *gold = tu_read_json(gold_path);
    assert_non_null(gold);
    const cJSON *known = cJSON_GetObjectItem(gold, "documents");
    const char *paths[] = {dir};
    nf_reader *r = NULL;
    nf_error err;
    assert_int_equal(nf_reader_open(&r, paths, 1, NULL, &err), NF_OK);
    docs out = {calloc(256, sizeof(nf_doc)), 0};
    nf_status st;
    while ((st = nf_reader_next(r, &out.d[out.n], &err)) != NF_END) {
        if (st != NF_OK)
            continue;
        if (cJSON_GetObjectItem(known, out.d[out.n].id))
            out.n++;
        else
            nf_doc_free(&out.d[out.n]);
        assert_true(out.n < 256);
    }
    nf_reader_close(r);
    cJSON_Delete(gold);
    return out;
}

static nf_doc copy_doc(const nf_doc *s)
{
    nf_doc d = *s;
    d.id = strdup(s->id);
    d.title = s->title ? strdup(s->title) : NULL;
    d.text = s->text ? strdup(s->text) : NULL;
    d.lang = s->lang ? strdup(s->lang) : NULL;
    d.source = s->source ? strdup(s->source) : NULL;
    d.published = s->published ? strdup(s->published) : NULL;
    d.url = s->url ? strdup(s->url) : NULL;
    d.origin = s->origin ? strdup(s->origin) : NULL;
    d.extract = NULL;
    return d;
}

static void docs_free(docs *c)
{
    for (size_t i = 0; i < c->n; i++)
        nf_doc_free(&c->d[i]);
    free(c->d);
}

/* documents.jsonl + events.jsonl + storylines.jsonl of a result. */
static char *encode(const nf_fold_result *r)
{
    nf_buffer b = {0};
    for (size_t i = 0; i < r->events.n_docs; i++)
        nf_jsonl_document(&b, r, i);
    for (size_t i = 0; i < r->events.n_events; i++)
        nf_jsonl_event(&b, r, i);
    for (size_t i = 0; i < r->events.n_storylines; i++)
        nf_jsonl_storyline(&b, r, i);
    assert_false(b.oom);
    return b.data;
}

typedef struct mirror { /* what a store keeps from the updates */
    char **lines;
    size_t n;
} mirror;

static void mirror_apply(mirror *m, const nf_assignment *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (a[i].doc >= m->n) {
            m->lines = realloc(m->lines, (a[i].doc + 1) * sizeof *m->lines);
            for (size_t k = m->n; k <= a[i].doc; k++)
                m->lines[k] = NULL;
            m->n = a[i].doc + 1;
        }
        nf_buffer b = {0};
        nf_jsonl_assignment(&b, &a[i]);
        free(m->lines[a[i].doc]);
        m->lines[a[i].doc] = b.data;
    }
}

/* Folds c cut into batches of `batch` documents; returns the encoded final
 * result. A live fold's updates must keep the mirror equal to the final
 * assignments. */
static char *fold_in_batches(const docs *c, size_t batch, int live, nf_fold_result *keep)
{
    nf_fold_options o;
    nf_fold_options_default(&o);
    o.live = live;
    o.threads = 2;
    nf_fold *f = NULL;
    nf_error err;
    assert_int_equal(nf_fold_open(&f, &o, &err), NF_OK);
    mirror m = {NULL, 0};
    for (size_t at = 0; at < c->n; at += batch) {
        size_t n = c->n - at < batch ? c->n - at : batch;
        nf_doc *part = calloc(n, sizeof *part);
        for (size_t i = 0; i < n; i++)
            part[i] = copy_doc(&c->d[at + i]);
        nf_fold_update u;
        assert_int_equal(nf_fold_add(f, part, n, &u, &err), NF_OK);
        assert_int_equal(u.n_added, n);
        assert_int_equal(u.n_docs, at + n);
        for (size_t i = 0; i < n; i++) {
            assert_string_equal(u.added[i].id, c->d[at + i].id);
            assert_int_equal(u.added[i].doc, at + i);
            assert_int_equal(!!(u.added[i].flags & NF_ASSIGN_PENDING), !live);
        }
        if (live) {
            assert_non_null(nf_fold_current(f));
            mirror_apply(&m, u.added, u.n_added);
            mirror_apply(&m, u.changed, u.n_changed);
        }
        nf_fold_update_free(&u);
        free(part);
    }
    nf_fold_result r;
    assert_int_equal(nf_fold_finish(f, &r, &err), NF_OK);
    if (live) { /* the mirror is what the final result says of each document */
        assert_int_equal(m.n, r.events.n_docs);
        for (size_t i = 0; i < m.n; i++) {
            const nf_event_doc *x = &r.events.docs[i];
            char want[64];
            snprintf(want, sizeof want, "\"event\":\"E%u\",\"storyline\":\"S%u\"", x->event + 1,
                     r.events.events[x->event].storyline + 1);
            if (!strstr(m.lines[i], want))
                fail_msg("document %zu: mirror %s, final %s", i, m.lines[i], want);
            free(m.lines[i]);
        }
        free(m.lines);
    }
    nf_fold_close(f);
    char *enc = encode(&r);
    if (keep)
        *keep = r;
    else
        nf_fold_result_free(&r);
    return enc;
}

static docs seeds(void) { return read_docs(NF_SHARED_DIR "/seeds", NF_SHARED_DIR "/seeds/gold.json"); }

static uint32_t event_of(const nf_fold_result *r, const char *id)
{
    for (size_t i = 0; i < r->events.n_docs; i++)
        if (strcmp(r->events.docs[i].id, id) == 0)
            return r->events.docs[i].event;
    fail_msg("no document %s", id);
    return UINT32_MAX;
}

static void test_seeds_one_by_one_live(void **state)
{
    (void)state;
    docs c = seeds();
    assert_int_equal(c.n, 5);
    nf_fold_result r;
    char *one = fold_in_batches(&c, 1, 1, &r);
    uint32_t e1 = event_of(&r, "000_d1b32bc23ae043b6.txt");
    assert_int_equal(event_of(&r, "001_005966a9e4b686f2.txt"), e1);
    assert_int_equal(event_of(&r, "002_a47900e475f345e2.txt"), e1);
    assert_int_equal(event_of(&r, "003_f5148bdb9b328363.txt"), e1);
    uint32_t e2 = event_of(&r, "004_e12e520f705a4e69.txt");
    assert_int_not_equal(e2, e1);
    assert_int_equal(r.events.n_storylines, 1);
    assert_int_equal(r.events.events[e1].storyline, r.events.events[e2].storyline);
    assert_int_equal(r.links.n_links, 1); /* 000 <-> 002 */
    nf_fold_result_free(&r);
    char *all = fold_in_batches(&c, c.n, 1, NULL);
    char *batch = fold_in_batches(&c, c.n, 0, NULL);
    char *two = fold_in_batches(&c, 2, 0, NULL);
    assert_string_equal(one, all);
    assert_string_equal(one, batch);
    assert_string_equal(one, two);
    free(one), free(all), free(batch), free(two);
    docs_free(&c);
}

/* The examples share site templates within a source, which the cleaner
 * learns per batch: equal cuts give equal results, live or not. */
static void test_examples_live_equals_batch(void **state)
{
    (void)state;
    docs c = read_docs(NF_SOURCE_DIR "/examples/corpus", NF_SOURCE_DIR "/examples/gold.json");
    assert_int_equal(c.n, 30);
    char *live = fold_in_batches(&c, 7, 1, NULL);
    char *batch = fold_in_batches(&c, 7, 0, NULL);
    assert_string_equal(live, batch);
    free(live), free(batch);
    docs_free(&c);
}

static void test_repeated_id_refused(void **state)
{
    (void)state;
    docs c = seeds();
    nf_fold_options o;
    nf_fold_options_default(&o);
    o.live = 1;
    nf_fold *f = NULL;
    nf_error err;
    assert_int_equal(nf_fold_open(&f, &o, &err), NF_OK);
    nf_doc two[2] = {copy_doc(&c.d[0]), copy_doc(&c.d[0])};
    nf_fold_update u;
    assert_int_equal(nf_fold_add(f, two, 2, &u, &err), NF_SKIPPED);
    assert_non_null(strstr(err.message, "duplicate id"));
    assert_int_equal(u.skipped, 1);
    assert_int_equal(u.n_added, 1);
    assert_int_equal(nf_fold_size(f), 1);
    nf_fold_update_free(&u);
    nf_doc again = copy_doc(&c.d[0]);
    assert_int_equal(nf_fold_add(f, &again, 1, NULL, &err), NF_SKIPPED);
    assert_int_equal(nf_fold_size(f), 1);
    nf_fold_close(f);
    docs_free(&c);
}

static void test_options_checked(void **state)
{
    (void)state;
    nf_fold_options o;
    nf_fold_options_default(&o);
    nf_fold *f = NULL;
    nf_error err;
    o.size = 0;
    assert_int_equal(nf_fold_open(&f, &o, &err), NF_ERR_ARG);
    assert_null(f);
    nf_fold_options_default(&o);
    o.size = sizeof o + 8; /* built against a newer library */
    assert_int_equal(nf_fold_open(&f, &o, &err), NF_ERR_ARG);
    nf_fold_options_default(&o);
    o.live = 1;
    o.dedup.index_dir = "/tmp";
    assert_int_equal(nf_fold_open(&f, &o, &err), NF_ERR_ARG);
    assert_int_equal(nf_fold_open(&f, NULL, &err), NF_OK); /* all defaults */
    nf_fold_result r;
    assert_int_equal(nf_fold_finish(f, &r, &err), NF_OK); /* empty */
    assert_int_equal(r.events.n_docs, 0);
    nf_fold_result_free(&r);
    nf_doc d = {0};
    assert_int_equal(nf_fold_add(f, &d, 1, NULL, &err), NF_ERR_ARG); /* after finish */
    nf_fold_close(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds_one_by_one_live),
        cmocka_unit_test(test_examples_live_equals_batch),
        cmocka_unit_test(test_repeated_id_refused),
        cmocka_unit_test(test_options_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
