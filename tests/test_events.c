/*
 * test_events.c - the event stage: name keys and entities, the seeds' and
 * examples' gold events and storylines, roles, determinism across threads,
 * the live window (expiry and bounded live set), undated documents, hard
 * links, the pivot channel, and the clustering metrics against brute force.
 */
#include "events_data.h"
#include "events/events.h"

#include <math.h>

static nf_events_options opts(int threads)
{
    nf_events_options o;
    nf_events_options_default(&o);
    o.threads = threads;
    return o;
}

/* ----------------------------------------------------------------- names */

static void expect_same_key(nfi_translit *t, const char *a, const char *b)
{
    nfi_buf ka, kb;
    nfi_buf_init(&ka);
    nfi_buf_init(&kb);
    assert_true(nfi_name_key(t, a, strlen(a), &ka));
    assert_true(nfi_name_key(t, b, strlen(b), &kb));
    if (strcmp(ka.data, kb.data) != 0)
        fail_msg("'%s' -> '%s' but '%s' -> '%s'", a, ka.data, b, kb.data);
    nfi_buf_free(&ka);
    nfi_buf_free(&kb);
}

static void test_name_keys(void **state)
{
    (void)state;
    nfi_translit *t;
    nf_error err;
    assert_int_equal(nfi_translit_new(&t, &err), NF_OK);
    expect_same_key(t, "pjöngjang", "pyongyang");
    expect_same_key(t, "wladimir", "vladimir");
    expect_same_key(t, "putins", "putin");
    expect_same_key(t, "putin's", "putin");
    expect_same_key(t, "путин", "putin");
    expect_same_key(t, "selenskyj", "zelensky");
    expect_same_key(t, "campbell", "kampbell");
    nfi_buf k;
    nfi_buf_init(&k);
    assert_true(nfi_name_key(t, "seoul", 5, &k));
    nfi_buf k2;
    nfi_buf_init(&k2);
    assert_true(nfi_name_key(t, "tokyo", 5, &k2));
    assert_string_not_equal(k.data, k2.data);
    nfi_buf_free(&k);
    nfi_buf_free(&k2);
    nfi_translit_free(t);
}

/* Latin letters U+00C0-U+017F take a per-letter table instead of ICU
 * (entities.c, latin_fast): within a word, between lower- and upper-case
 * neighbours, each must give the key ICU gives. A Cyrillic "ж" (ICU's
 * "z") sends the word through ICU; the same word ending in "z" takes the
 * table. */
static void test_name_keys_latin_table(void **state)
{
    (void)state;
    nfi_translit *t;
    nf_error err;
    assert_int_equal(nfi_translit_new(&t, &err), NF_OK);
    static const char *const around[][2] = {{"a", "b"}, {"A", "B"}, {"", "e"}, {"K", ""}};
    for (unsigned cp = 0xC0; cp <= 0x17F; cp++) {
        char letter[3] = {(char)(0xC0 | cp >> 6), (char)(0x80 | (cp & 0x3F)), 0};
        for (size_t k = 0; k < sizeof around / sizeof *around; k++) {
            char icu[32], table[32];
            snprintf(icu, sizeof icu, "%s%s%s\xd0\xb6", around[k][0], letter, around[k][1]);
            snprintf(table, sizeof table, "%s%s%sz", around[k][0], letter, around[k][1]);
            expect_same_key(t, icu, table);
        }
    }
    nfi_translit_free(t);
}

/* ------------------------------------------------------------------ gold */

static ev_corpus seeds(void)
{
    return ev_load_dir("seeds", NF_SHARED_DIR "/seeds", NF_SHARED_DIR "/seeds/gold.json");
}

static ev_corpus examples(void)
{
    return ev_load_dir("examples", NF_SOURCE_DIR "/examples/corpus", NF_SOURCE_DIR "/examples/gold.json");
}

/* Same partition: two documents share a predicted cluster iff they share
 * a gold one. */
static void expect_partition(const ev_corpus *c, const nf_events_result *r, bool storylines)
{
    const uint32_t *gold = storylines ? c->storyline : c->event;
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = i + 1; j < c->n; j++) {
            uint32_t pi = r->docs[i].event, pj = r->docs[j].event;
            if (storylines) {
                pi = r->events[pi].storyline;
                pj = r->events[pj].storyline;
            }
            if ((gold[i] == gold[j]) != (pi == pj))
                fail_msg("%s: %s and %s: gold %s, predicted %s", storylines ? "storylines" : "events",
                         c->docs[i].doc.id, c->docs[j].doc.id, gold[i] == gold[j] ? "together" : "apart",
                         pi == pj ? "together" : "apart");
        }
}

static void test_seeds_gold(void **state)
{
    (void)state;
    ev_corpus c = seeds();
    assert_int_equal(c.n, 5);
    nf_events_options o = opts(2);
    nf_events_result r;
    ev_run(&c, &o, &r);
    expect_partition(&c, &r, false);
    expect_partition(&c, &r, true);
    assert_int_equal(r.n_storylines, 1);
    assert_int_equal(r.storylines[0].n_events, 2);
    /* the original is the report with a translation (000, whose German
     * version 002 links to it), not an earlier-sorted lone rewrite */
    assert_int_equal(r.docs[0].role, NF_ROLE_ORIGINAL);
    assert_int_equal(r.docs[2].role, NF_ROLE_TRANSLATION);
    assert_int_equal(r.docs[2].linked_to, 0);
    /* a document has a date when it gave one or is hard-linked to one that
     * did: an undated one never takes a neighbour's date */
    for (size_t i = 0; i < c.n; i++)
        assert_int_equal(*r.docs[i].date != 0, *r.docs[i].published || r.docs[i].date_inferred);
    /* the German report shares names with the English ones: the event's
     * entities include names seen in both languages */
    const nf_event *e = &r.events[r.docs[0].event];
    assert_int_equal(e->n_languages, 2);
    bool campbell = false, kim = false;
    for (size_t k = 0; k < e->n_entities; k++) {
        campbell |= strstr(e->entities[k].key, "kampbel") && e->entities[k].sources >= 3;
        kim |= strstr(e->entities[k].key, "kim hong kyun") && e->entities[k].sources >= 3;
    }
    assert_true(campbell && kim);
    nf_events_result_free(&r);
    ev_corpus_free(&c);
}

static const char *gold_field(cJSON *gold, const char *id, const char *field)
{
    const cJSON *d = cJSON_GetObjectItem(cJSON_GetObjectItem(gold, "documents"), id);
    const cJSON *f = cJSON_GetObjectItem(d, field);
    return cJSON_IsString(f) ? f->valuestring : NULL;
}

static void test_examples_gold(void **state)
{
    (void)state;
    ev_corpus c = examples();
    assert_int_equal(c.n, 30);
    nf_events_options o = opts(2);
    nf_events_result r;
    ev_run(&c, &o, &r);
    expect_partition(&c, &r, false);
    expect_partition(&c, &r, true);
    cJSON *gold = tu_read_json(NF_SOURCE_DIR "/examples/gold.json");
    for (size_t i = 0; i < c.n; i++) {
        const nf_event_doc *d = &r.docs[i];
        const char *role = gold_field(gold, d->id, "role");
        /* byte-identical copies are copies of a member of their own event */
        if (strcmp(role, "exact") == 0 && strcmp(gold_field(gold, d->id, "of"), "ht-001") == 0) {
            assert_true(d->role == NF_ROLE_COPY || d->role == NF_ROLE_ORIGINAL);
            if (d->role == NF_ROLE_COPY)
                assert_int_equal(r.docs[d->linked_to].event, d->event);
        }
        if (d->role == NF_ROLE_ORIGINAL) /* the original is from the event's first day */
            assert_string_equal(d->date, r.events[d->event].first_seen);
    }
    for (size_t e = 0; e < r.n_events; e++) {
        assert_true(r.events[e].n_languages >= 3); /* every event was reported in 3+ languages */
        assert_true(r.events[e].n_entities > 0);
        size_t originals = 0;
        for (size_t k = 0; k < r.events[e].n_docs; k++)
            originals += r.docs[r.events[e].docs[k]].role == NF_ROLE_ORIGINAL;
        assert_int_equal(originals, 1);
    }
    cJSON_Delete(gold);
    nf_events_result_free(&r);
    ev_corpus_free(&c);
}

/* --prefer-lang: every examples event has German reports, so every
 * headline comes from one; without it, not all of them do. */
static void test_prefer_lang(void **state)
{
    (void)state;
    ev_corpus c = examples();
    nf_events_options o = opts(1);
    o.prefer_lang = "de";
    nf_events_result r;
    ev_run(&c, &o, &r);
    for (size_t e = 0; e < r.n_events; e++)
        assert_string_equal(r.docs[r.events[e].headline_doc].lang, "de");
    nf_events_result_free(&r);
    o.prefer_lang = NULL;
    ev_run(&c, &o, &r);
    size_t german = 0;
    for (size_t e = 0; e < r.n_events; e++)
        german += strcmp(r.docs[r.events[e].headline_doc].lang, "de") == 0;
    assert_true(german < r.n_events);
    nf_events_result_free(&r);
    ev_corpus_free(&c);
}

/* ----------------------------------------------------------- determinism */

static void expect_same_result(const nf_events_result *a, const nf_events_result *b)
{
    assert_int_equal(a->n_docs, b->n_docs);
    assert_int_equal(a->n_events, b->n_events);
    assert_int_equal(a->n_storylines, b->n_storylines);
    for (size_t i = 0; i < a->n_docs; i++) {
        assert_int_equal(a->docs[i].event, b->docs[i].event);
        assert_int_equal(a->docs[i].role, b->docs[i].role);
        assert_true(a->docs[i].score == b->docs[i].score);
    }
    for (size_t e = 0; e < a->n_events; e++) {
        assert_int_equal(a->events[e].headline_doc, b->events[e].headline_doc);
        assert_int_equal(a->events[e].n_entities, b->events[e].n_entities);
        for (size_t k = 0; k < a->events[e].n_entities; k++)
            assert_string_equal(a->events[e].entities[k].name, b->events[e].entities[k].name);
    }
}

static void test_threads_same_result(void **state)
{
    (void)state;
    ev_corpus c = ev_load_wmt(NF_SHARED_DIR);
    nf_events_options o1 = opts(1), o2 = opts(2);
    nf_events_result a, b;
    ev_run(&c, &o1, &a);
    ev_run(&c, &o2, &b);
    expect_same_result(&a, &b);
    nf_events_result_free(&a);
    nf_events_result_free(&b);
    ev_corpus_free(&c);
}

/* ---------------------------------------------------------- live window */

/* A synthetic document of a topic: a title, 60 words of the topic's own
 * vocabulary, a place and a person named after the topic (syllables that
 * no key folding can merge), a date. */
static void topic_name(char *out, size_t n, const char *prefix, int topic)
{
    static const char *const syl[] = {"ba", "di", "fo", "gu", "la", "mi", "no", "ru", "ti", "do"};
    size_t o = (size_t)snprintf(out, n, "%s", prefix);
    do {
        o += (size_t)snprintf(out + o, n - o, "%s", syl[topic % 10]);
        topic /= 10;
    } while (topic && o + 3 < n);
}

static void make_doc(nf_doc *raw, const char *id, const char *date, int topic)
{
    char text[4096], place[32], person[32];
    topic_name(place, sizeof place, "Bor", topic);
    topic_name(person, sizeof person, "Mal", topic);
    size_t o = (size_t)snprintf(text, sizeof text, "Report on %s.\n\n", place);
    for (int k = 0; k < 60; k++)
        o += (size_t)snprintf(text + o, sizeof text - o, "topic%dword%d ", topic, (k * 7) % 40);
    snprintf(text + o, sizeof text - o, "in %s said %s.\n", place, person);
    memset(raw, 0, sizeof *raw);
    raw->id = strdup(id);
    raw->title = strdup(text + 10);
    raw->title[strlen(place)] = '\0';
    raw->text = strdup(text);
    raw->text_len = strlen(text);
    raw->lang = strdup("en");
    raw->published = date ? strdup(date) : NULL;
    raw->origin = strdup("synthetic");
}

static void clean_docs(nf_doc *raw, nf_clean_doc *out, size_t n)
{
    nf_clean_options co;
    nf_clean_options_default(&co);
    nf_cleaner *cl;
    nf_error err;
    assert_int_equal(nf_cleaner_new(&cl, &co, &err), NF_OK);
    assert_int_equal(nf_clean_batch(cl, raw, n, out, &err), NF_OK);
    nf_cleaner_free(cl);
}

/* Frees n input documents and their cleaned forms (not the arrays). */
static void free_docs(nf_doc *raw, nf_clean_doc *cd, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        nf_clean_doc_free(&cd[i]);
        nf_doc_free(&raw[i]);
    }
}

static void run_plain(nf_clean_doc *docs, size_t n, const nf_events_options *o, nf_events_result *r)
{
    nf_events *ev;
    nf_error err;
    assert_int_equal(nf_events_new(&ev, o, &err), NF_OK);
    assert_int_equal(nf_events_add(ev, docs, n, &err), NF_OK);
    assert_int_equal(nf_events_finish(ev, r, &err), NF_OK);
    nf_events_free(ev);
}

static void test_window_expiry(void **state)
{
    (void)state;
    nf_doc raw[4];
    nf_clean_doc cd[4];
    make_doc(&raw[0], "a1", "2025-01-01", 1);
    make_doc(&raw[1], "a2", "2025-01-02", 1); /* within the window: joins */
    make_doc(&raw[2], "a3", "2025-01-20", 1); /* long after: a new event */
    make_doc(&raw[3], "b1", "2025-01-02", 2); /* another topic: its own event */
    clean_docs(raw, cd, 4);
    nf_events_options o = opts(1);
    nf_events_result r;
    run_plain(cd, 4, &o, &r);
    assert_int_equal(r.docs[0].event, r.docs[1].event);
    assert_int_not_equal(r.docs[0].event, r.docs[2].event);
    assert_int_not_equal(r.docs[0].event, r.docs[3].event);
    assert_true(r.docs[1].score >= o.threshold);
    /* a3 is the same topic 18 days later: same storyline (within 30 days) */
    assert_int_equal(r.events[r.docs[0].event].storyline, r.events[r.docs[2].event].storyline);
    assert_int_not_equal(r.events[r.docs[0].event].storyline, r.events[r.docs[3].event].storyline);
    nf_events_result_free(&r);
    o.storyline_days = 10; /* now too far apart */
    run_plain(cd, 4, &o, &r);
    assert_int_not_equal(r.events[r.docs[0].event].storyline, r.events[r.docs[2].event].storyline);
    nf_events_result_free(&r);
    free_docs(raw, cd, 4);
}

/* 100 days, 5 new topics a day: the live set stays near window x 5. */
static void test_live_set_bounded(void **state)
{
    (void)state;
    enum { DAYS = 100, PER_DAY = 5, N = DAYS * PER_DAY };
    nf_doc *raw = calloc(N, sizeof *raw);
    nf_clean_doc *cd = calloc(N, sizeof *cd);
    for (int d = 0; d < DAYS; d++)
        for (int k = 0; k < PER_DAY; k++) {
            char id[32], date[16];
            snprintf(id, sizeof id, "d%03d-%d", d, k);
            snprintf(date, sizeof date, "2025-%02d-%02d", 1 + d / 28, 1 + d % 28);
            make_doc(&raw[d * PER_DAY + k], id, date, d * PER_DAY + k);
        }
    clean_docs(raw, cd, N);
    nf_events_options o = opts(2);
    nf_events_result r;
    run_plain(cd, N, &o, &r);
    assert_int_equal(r.n_events, N);
    assert_true(r.max_live_events <= (size_t)(o.window_days + 2) * PER_DAY);
    nf_events_result_free(&r);
    free_docs(raw, cd, N);
    free(raw);
    free(cd);
}

/* Timestamps: the time of day orders documents of one day, an offset moves
 * the date to UTC, and a headline-only JSON record (empty text, a title) is
 * a normal document whose title is its text. */
static void test_timestamps_and_headlines(void **state)
{
    (void)state;
    nf_doc raw[3];
    nf_clean_doc cd[3];
    make_doc(&raw[0], "t1", "2025-02-10T23:30:00-02:00", 3); /* 01:30 UTC on the 11th */
    make_doc(&raw[1], "t2", "2025-02-11 00:10", 8);
    make_doc(&raw[2], "t3", "2025-02-11T00:05:00Z", 9);
    clean_docs(raw, cd, 3);
    nf_events_options o = opts(1);
    nf_events_result r;
    run_plain(cd, 3, &o, &r);
    assert_string_equal(r.docs[0].date, "2025-02-11");
    assert_string_equal(r.docs[1].date, "2025-02-11");
    /* stream (= event) order: t3 00:05, t2 00:10, t1 01:30 */
    assert_true(r.docs[2].event < r.docs[1].event && r.docs[1].event < r.docs[0].event);
    nf_events_result_free(&r);
    free_docs(raw, cd, 3);
    const char *json = "{\"id\": \"h1\", \"title\": \"Runner wins the final\", \"text\": \"\", "
                       "\"published_at\": \"2021-07-30T10:15:00Z\"}";
    nf_doc d;
    nf_error err;
    assert_int_equal(nf_doc_from_json(json, strlen(json), "mem", 1, &d, &err), NF_OK);
    assert_string_equal(d.text, "Runner wins the final");
    assert_int_equal(d.text_len, strlen("Runner wins the final"));
    assert_string_equal(d.published, "2021-07-30T10:15:00Z");
    nf_doc_free(&d);
}

/* Without any date the position is the clock (5,000 documents a day): the
 * live set stays bounded on undated streams too (issue 10). */
static void test_undated_live_set_bounded(void **state)
{
    (void)state;
    enum { N = 6000 };
    nf_doc *raw = calloc(N, sizeof *raw);
    nf_clean_doc *cd = calloc(N, sizeof *cd);
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "u%05d", i);
        make_doc(&raw[i], id, NULL, i);
    }
    clean_docs(raw, cd, N);
    nf_events_options o = opts(2);
    o.window_days = 1; /* an event without reports leaves after 5,000 more documents */
    nf_events_result r;
    run_plain(cd, N, &o, &r);
    assert_int_equal(r.n_events, N);
    assert_true(r.max_live_events >= 4990 && r.max_live_events <= 5002);
    assert_string_equal(r.docs[0].date, "");
    nf_events_result_free(&r);
    free_docs(raw, cd, N);
    free(raw);
    free(cd);
}

/* The worst split gold cluster and the worst merged predicted one, and no
 * entry for clusters that lose nothing. */
static void test_worst_clusters(void **state)
{
    (void)state;
    const uint32_t gold[] = {0, 0, 0, 1, 1}, pred[] = {7, 7, 9, 9, 9};
    nf_cluster_error split[3], merged[3];
    size_t ns, nm;
    nf_error err;
    assert_int_equal(nf_cluster_worst(gold, pred, 5, 3, split, &ns, merged, &nm, &err), NF_OK);
    assert_int_equal(ns, 1);
    assert_int_equal(split[0].label, 0);
    assert_int_equal(split[0].size, 3);
    assert_int_equal(split[0].parts, 2);
    assert_true(fabs(split[0].loss - 4.0 / 3) < 1e-9);
    assert_int_equal(nm, 1);
    assert_int_equal(merged[0].label, 9);
    assert_int_equal(merged[0].parts, 2);
    assert_true(fabs(merged[0].loss - 4.0 / 3) < 1e-9);
    assert_int_equal(nf_cluster_worst(gold, gold, 5, 3, split, &ns, merged, &nm, &err), NF_OK);
    assert_int_equal(ns + nm, 0);
}

static void test_undated_and_links(void **state)
{
    (void)state;
    nf_doc raw[6];
    nf_clean_doc cd[6];
    make_doc(&raw[0], "x1", "2025-02-10", 3);
    make_doc(&raw[1], "x2", NULL, 4);         /* undated: streamed after x1, gets no date */
    make_doc(&raw[2], "x3", "2025-03-01", 5);
    make_doc(&raw[3], "x4", "2025-03-02", 6); /* unrelated text, but linked to x1 */
    make_doc(&raw[4], "x5", "2026-02-10", 7); /* linked to x1 too, but a year later */
    make_doc(&raw[5], "x6", "2025-02-10", 8); /* a headline linked to x1 */
    free(raw[5].text);
    raw[5].text = strdup("Eight words on another matter entirely, said Quox.");
    raw[5].text_len = strlen(raw[5].text);
    clean_docs(raw, cd, 6);
    nf_events *ev;
    nf_error err;
    nf_events_options o = opts(1);
    assert_int_equal(nf_events_new(&ev, &o, &err), NF_OK);
    assert_int_equal(nf_events_add(ev, cd, 6, &err), NF_OK);
    nf_link links[] = {{0, 3, 0.9}, {0, 4, 0.9}, {0, 5, 1.0}};
    assert_int_equal(nf_events_add_links(ev, links, 3, &err), NF_OK);
    nf_link bad = {0, 9, 0.9};
    assert_int_equal(nf_events_add_links(ev, &bad, 1, &err), NF_ERR_ARG);
    nf_events_result r;
    assert_int_equal(nf_events_finish(ev, &r, &err), NF_OK);
    assert_string_equal(r.docs[1].date, "");
    assert_int_equal(r.docs[1].date_inferred, 0);
    assert_string_equal(r.docs[1].published, "");
    assert_int_equal(r.docs[3].date_inferred, 0); /* dated itself */
    /* the link wins over text and time: x4 joins x1's event, as a translation */
    assert_int_equal(r.docs[3].event, r.docs[0].event);
    assert_int_equal(r.docs[3].role, NF_ROLE_TRANSLATION);
    assert_int_equal(r.docs[3].linked_to, 0);
    assert_int_not_equal(r.docs[2].event, r.docs[0].event);
    /* a "translation" a year apart is not believed */
    assert_int_not_equal(r.docs[4].event, r.docs[0].event);
    assert_int_equal(r.docs[4].role, NF_ROLE_ORIGINAL);
    /* nor is a headline's (a few shared words are no translation) */
    assert_int_not_equal(r.docs[5].event, r.docs[0].event);
    assert_int_not_equal(r.docs[5].role, NF_ROLE_TRANSLATION);
    nf_events_result_free(&r);
    assert_int_equal(nf_events_finish(ev, &r, &err), NF_ERR_ARG); /* only once */
    nf_events_free(ev);
    free_docs(raw, cd, 6);
}

/* Two documents with nothing in common but their pivots. */
static void test_pivot_channel(void **state)
{
    (void)state;
    nf_doc raw[2];
    nf_clean_doc cd[2];
    make_doc(&raw[0], "p1", "2025-05-05", 7);
    make_doc(&raw[1], "p2", "2025-05-05", 8);
    free(raw[1].lang);
    raw[1].lang = strdup("de");
    clean_docs(raw, cd, 2);
    nf_pivot_feature f[12];
    for (int k = 0; k < 12; k++)
        f[k] = (nf_pivot_feature){0x1000 + (uint64_t)k * 0x10001, 1 + k % 3}; /* low bits 0: NF_PIVOT_TERM */
    nf_pivot p = {0};
    p.features = f;
    p.n_features = 12;
    for (int with_pivot = 0; with_pivot < 2; with_pivot++) {
        nf_events *ev;
        nf_error err;
        nf_events_options o = opts(1);
        o.w_pivot = 0.3;
        o.w_cross_pivot = 0.8;
        assert_int_equal(nf_events_new(&ev, &o, &err), NF_OK);
        assert_int_equal(nf_events_add(ev, cd, 2, &err), NF_OK);
        if (with_pivot) {
            assert_int_equal(nf_events_set_pivot(ev, 0, &p, &err), NF_OK);
            assert_int_equal(nf_events_set_pivot(ev, 1, &p, &err), NF_OK);
        }
        nf_events_result r;
        assert_int_equal(nf_events_finish(ev, &r, &err), NF_OK);
        if (with_pivot)
            assert_int_equal(r.docs[0].event, r.docs[1].event);
        else
            assert_int_not_equal(r.docs[0].event, r.docs[1].event);
        nf_events_result_free(&r);
        nf_events_free(ev);
    }
    free_docs(raw, cd, 2);
}

/* Events of two languages join after the stream when their pivot (or
 * names) profiles agree, both are headline events and the later starts
 * within merge_days of the earlier's last report; two events of one
 * language never join directly (they may through a third), an article
 * event never. */
static void test_merge_languages(void **state)
{
    (void)state;
    enum { N = 6 };
    nfi_event_profile prof[N];
    nfi_wfeat f[N][3];
    memset(prof, 0, sizeof prof);
    for (int e = 0; e < N; e++) {
        for (int k = 0; k < 3; k++) /* events 0-4 share two of three features, event 5 none */
            f[e][k] = (nfi_wfeat){e == 5 ? 0x9000 + (uint64_t)k : 0x100 + (uint64_t)(k == 2 ? 0x50 + e : k), 1.0f};
        prof[e].ch[CH_PIVOT] = (nfi_svec){.f = f[e], .n = 3, .cap = 3, .norm2 = 3.0};
    }
    const double day = 1;
    nfi_merge_event m[N] = {
        {&prof[0], 1, 10.0, 10.2, true, true, 1},  /* en */
        {&prof[1], 2, 10.5, 10.6, true, true, 1},  /* es, within a day: joins 0 */
        {&prof[2], 1, 10.7, 10.8, true, true, 1},  /* en: joins es event 1, whose group holds 0 */
        {&prof[3], 3, 15.0, 15.1, true, true, 1},  /* ru, days later: alone */
        {&prof[4], 4, 10.9, 11.0, false, true, 1}, /* de article event: alone */
        {&prof[5], 5, 10.9, 11.0, true, true, 1},  /* fr, nothing shared: alone */
    };
    uint32_t group[N];
    size_t n_groups;
    nf_error err;
    assert_int_equal(nfi_events_merge_languages(m, N, 0.2, day, NULL, group, &n_groups, &err), NF_OK);
    assert_int_equal(n_groups, 4);
    assert_memory_equal(group, ((uint32_t[N]){0, 0, 0, 1, 2, 3}), sizeof group);
    m[1].lang = 1; /* all English: nothing joins (events 1 and 2 then only reach 0 in their language) */
    assert_int_equal(nfi_events_merge_languages(m, N, 0.2, day, NULL, group, &n_groups, &err), NF_OK);
    assert_int_equal(n_groups, N);
    m[1].lang = 2;
    assert_int_equal(nfi_events_merge_languages(m, N, 0.99, day, NULL, group, &n_groups, &err), NF_OK);
    assert_int_equal(n_groups, N); /* cosine 2/3 is below 0.99 */
}

/* An event also joins its best later partner: here the Portuguese event
 * prefers the English one, earlier still, to the Spanish one, which would
 * otherwise stay alone although the Portuguese event is the best it has. */
static void test_best_later_partner(void **state)
{
    (void)state;
    enum { N = 3 };
    static const uint64_t feats[N][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {1, 2, 3, 5}};
    static const uint64_t lang[N] = {1, 2, 3}; /* en, es, pt */
    static const double first[N] = {9.9, 10.0, 10.2}, last[N] = {9.9, 10.0, 10.2};
    nfi_event_profile prof[N];
    nfi_wfeat f[N][4];
    nfi_merge_event m[N];
    memset(prof, 0, sizeof prof);
    for (int e = 0; e < N; e++) {
        for (int k = 0; k < 4; k++)
            f[e][k] = (nfi_wfeat){0x300 + feats[e][k], 1.0f};
        prof[e].ch[CH_PIVOT] = (nfi_svec){.f = f[e], .n = 4, .cap = 4, .norm2 = 4.0};
        m[e] = (nfi_merge_event){&prof[e], lang[e], first[e], last[e], true, false, 2};
    }
    uint32_t group[N];
    size_t n_groups;
    nf_error err;
    /* pt-en 3/4, pt-es 1/4, es-en 0: pt joins en (earlier), es joins pt (its best later partner) */
    assert_int_equal(nfi_events_merge_languages(m, N, 0.2, 1, NULL, group, &n_groups, &err), NF_OK);
    assert_int_equal(n_groups, 1);
    assert_memory_equal(group, ((uint32_t[N]){0, 0, 0}), sizeof group);
    /* from 0.3, 1/4 is too little: the Spanish event stays alone */
    assert_int_equal(nfi_events_merge_languages(m, N, 0.3, 1, NULL, group, &n_groups, &err), NF_OK);
    assert_int_equal(n_groups, 2);
    assert_memory_equal(group, ((uint32_t[N]){0, 1, 0}), sizeof group);
}

/* Headline events of one language join after the stream when their title
 * profiles reach 0.4 and the later starts within half a day of the
 * earlier's last report. */
static void test_same_language_join(void **state)
{
    (void)state;
    enum { N = 3 };
    static const uint64_t titles[N][3] = {{1, 2, 3}, {1, 2, 4}, {1, 2, 3}};
    static const double first[N] = {10.0, 10.5, 11.5}, last[N] = {10.2, 10.6, 11.6};
    nfi_event_profile prof[N];
    nfi_wfeat t[N][3], pv[N][1];
    nfi_merge_event m[N];
    memset(prof, 0, sizeof prof);
    for (int e = 0; e < N; e++) {
        for (int k = 0; k < 3; k++)
            t[e][k] = (nfi_wfeat){0x700 + titles[e][k], 1.0f};
        pv[e][0] = (nfi_wfeat){0x900, 1.0f}; /* a shared pivot feature: they are candidates */
        prof[e].ch[CH_TITLE] = (nfi_svec){.f = t[e], .n = 3, .cap = 3, .norm2 = 3.0};
        prof[e].ch[CH_PIVOT] = (nfi_svec){.f = pv[e], .n = 1, .cap = 1, .norm2 = 1.0};
        m[e] = (nfi_merge_event){&prof[e], 1, first[e], last[e], true, false, 3};
    }
    uint32_t group[N];
    size_t n_groups;
    nf_error err;
    /* 0 and 1: cosine 2/3, 0.3 days apart; 2 starts 0.9 days after 1 ends */
    assert_int_equal(nfi_events_merge_languages(m, N, 0.2, 1, NULL, group, &n_groups, &err), NF_OK);
    assert_int_equal(n_groups, 2);
    assert_int_equal(group[1], 0);
    assert_int_equal(group[2], 1);
    t[1][1].hash = 0x705, t[1][2].hash = 0x706; /* 1 now shares one word of three: 1/3 */
    assert_int_equal(nfi_events_merge_languages(m, N, 0.2, 1, NULL, group, &n_groups, &err), NF_OK);
    assert_int_equal(n_groups, N);
}

/* After the stream, a small event of timed headlines joins the larger
 * timed headline event nearby that the headline model scores best from
 * their title profiles, at probability 0.7 or more, or 0.6 when no other
 * candidate comes near: also an event formed after it; not one more than
 * a day away, nor one sharing too little, nor an event whose reports have
 * only a date. */
static void test_attach_small(void **state)
{
    (void)state;
    enum { N = 6 };
    static const uint64_t feats[N][3] = {
        {1, 2, 7}, /* one report before the large event starts: joins it */
        {1, 2, 3}, /* the large event (5 reports) */
        {1, 2, 4}, /* one report, 5 hours after: joins it */
        {1, 5, 6}, /* two reports sharing one word of three: p about 0.61, the only candidate: joins */
        {1, 2, 3}, /* one report with a date only: alone */
        {1, 2, 3}, /* one report two days later: alone */
    };
    static const double first[N] = {9.5, 10.0, 10.5, 10.5, 10.6, 12.0}, last[N] = {9.5, 10.3, 10.5, 10.5, 10.6, 12.0};
    static const uint32_t size[N] = {1, 5, 1, 2, 1, 1};
    nfi_event_profile prof[N];
    nfi_wfeat f[N][3];
    nfi_merge_event m[N];
    memset(prof, 0, sizeof prof);
    for (int e = 0; e < N; e++) {
        for (int k = 0; k < 3; k++)
            f[e][k] = (nfi_wfeat){0x700 + feats[e][k], 1.0f};
        prof[e].ch[CH_TITLE] = (nfi_svec){.f = f[e], .n = 3, .cap = 3, .norm2 = 3.0};
        m[e] = (nfi_merge_event){&prof[e], 1, first[e], last[e], true, e != 4, size[e]};
    }
    nf_events_options o;
    nf_events_options_default(&o);
    uint32_t group[N];
    size_t n_groups;
    nf_error err;
    assert_int_equal(nfi_events_merge_languages(m, N, 0.2, 1, o.headline_model, group, &n_groups, &err), NF_OK);
    assert_int_equal(n_groups, 3);
    assert_memory_equal(group, ((uint32_t[N]){0, 0, 0, 0, 1, 2}), sizeof group);
    /* a quarter of a day later, p about 0.58: alone */
    m[3].first_t = m[3].last_t = 10.55;
    assert_int_equal(nfi_events_merge_languages(m, N, 0.2, 1, o.headline_model, group, &n_groups, &err), NF_OK);
    assert_memory_equal(group, ((uint32_t[N]){0, 0, 0, 1, 2, 3}), sizeof group);
    /* back at p 0.61, but another large event scores as well: none leads, alone */
    m[3].first_t = m[3].last_t = 10.5;
    m[4] = (nfi_merge_event){&prof[4], 1, 10.2, 10.3, true, true, 5};
    f[4][1].hash = 0x708, f[4][2].hash = 0x709;
    assert_int_equal(nfi_events_merge_languages(m, N, 0.2, 1, o.headline_model, group, &n_groups, &err), NF_OK);
    assert_memory_equal(group, ((uint32_t[N]){0, 0, 0, 1, 2, 3}), sizeof group);
    assert_int_equal(nfi_events_merge_languages(m, N, 0.2, 1, NULL, group, &n_groups, &err), NF_OK);
    assert_int_equal(n_groups, N);
}

/* A candidate leads when its probability is ahead of every other one's by
 * the margin in logit, or when it is the only one. */
static void test_leads(void **state)
{
    (void)state;
    assert_true(nfi_leads(0.3, -1, 3.0));   /* the only candidate */
    assert_true(nfi_leads(0.3, 0.01, 3.0)); /* logit -0.85 against -4.60 */
    assert_false(nfi_leads(0.3, 0.2, 3.0));
    assert_false(nfi_leads(0.6, 0.6, 2.0));
}

/* The title's features of a clean document, its text tokenized (stemmed
 * or not) from `text`, its title `title`. */
static nfi_docfeat title_features(nfi_featctx *fc, nfi_normalizer *nz, const char *title, const char *text,
                                  bool stem)
{
    nf_clean_doc cd;
    memset(&cd, 0, sizeof cd);
    cd.title = (char *)title;
    cd.text = (char *)text;
    cd.text_len = strlen(text);
    strcpy(cd.lang, "en");
    nfi_token_vec tv = {0};
    nfi_buf pool;
    nfi_buf_init(&pool);
    nf_error err;
    assert_int_equal(nfi_tokenize(nz, text, strlen(text), "en", stem, &tv, &pool, &err), NF_OK);
    cd.tokens = tv.items;
    cd.n_tokens = tv.len;
    cd.pool = pool.data;
    cd.pool_len = pool.len;
    nfi_docfeat f = {0};
    assert_int_equal(nfi_evfeat_extract(fc, &cd, &f, &err), NF_OK);
    free(tv.items);
    nfi_buf_free(&pool);
    return f;
}

static void expect_same_title(const nfi_docfeat *a, const nfi_docfeat *b)
{
    assert_int_equal(a->n[CH_TITLE], b->n[CH_TITLE]);
    for (size_t i = 0; i < a->n[CH_TITLE]; i++) {
        assert_true(a->f[CH_TITLE][i].hash == b->f[CH_TITLE][i].hash);
        assert_int_equal(a->f[CH_TITLE][i].count, b->f[CH_TITLE][i].count);
    }
}

/* A title that is the text's first line takes its terms from the text's
 * tokens; they equal those of the title tokenized on its own (stemmed),
 * also when the text was not stemmed (then the title is tokenized). */
static void test_title_from_text(void **state)
{
    (void)state;
    nfi_featctx *fc;
    nfi_normalizer *nz;
    nf_error err;
    assert_int_equal(nfi_featctx_new(&fc, NULL, &err), NF_OK);
    assert_int_equal(nfi_normalizer_new(&nz, &err), NF_OK);
    const char *title = "Runners running the finals: 2,300 watched";
    const char *in_text = "Runners running the finals: 2,300 watched\nThe crowd cheered the runners.";
    const char *apart = "The crowd cheered the runners.";
    nfi_docfeat own = title_features(fc, nz, title, apart, true);
    nfi_docfeat reused = title_features(fc, nz, title, in_text, true);
    nfi_docfeat unstemmed = title_features(fc, nz, title, in_text, false);
    assert_true(own.n[CH_TITLE] >= 4);
    expect_same_title(&own, &reused);
    expect_same_title(&own, &unstemmed);
    nfi_docfeat_free(&own);
    nfi_docfeat_free(&reused);
    nfi_docfeat_free(&unstemmed);
    nfi_normalizer_free(nz);
    nfi_featctx_free(fc);
}

/* The pivot features of a headline-only record (no lexicon: only the
 * countries it names). */
static nfi_docfeat headline_pivot(nfi_featctx *fc, const char *title, const char *lang)
{
    nf_clean_doc cd;
    memset(&cd, 0, sizeof cd);
    cd.title = (char *)title;
    cd.text = (char *)"";
    snprintf(cd.lang, sizeof cd.lang, "%s", lang);
    nfi_docfeat f = {0};
    nf_error err;
    assert_int_equal(nfi_evfeat_extract(fc, &cd, &f, &err), NF_OK);
    return f;
}

/* Headlines of any language naming one country share one pivot feature,
 * through the CLDR names in each language: inflected (Russian genitive),
 * without a stemmer (Slovene: the final vowel dropped), of two words; a
 * lower-case word that spells a country ("turkey") is none. */
static void test_title_countries(void **state)
{
    (void)state;
    nfi_featctx *fc;
    nf_error err;
    assert_int_equal(nfi_featctx_new(&fc, NULL, &err), NF_OK);
    static const char *const guinea[][2] = {{"Guinea pulls out of the Games", "en"},
                                            {"Сборная Гвинеи снялась с Игр", "ru"},
                                            {"Gvineje ne bo na igrah", "sl"},
                                            {"Guiné desiste dos Jogos", "pt"}};
    nfi_docfeat first = headline_pivot(fc, guinea[0][0], guinea[0][1]);
    assert_int_equal(first.n[CH_PIVOT], 1);
    for (size_t i = 1; i < sizeof guinea / sizeof *guinea; i++) {
        nfi_docfeat f = headline_pivot(fc, guinea[i][0], guinea[i][1]);
        assert_int_equal(f.n[CH_PIVOT], 1);
        assert_true(f.f[CH_PIVOT][0].hash == first.f[CH_PIVOT][0].hash);
        nfi_docfeat_free(&f);
    }
    nfi_docfeat us = headline_pivot(fc, "United States beat France", "en");
    nfi_docfeat eeuu = headline_pivot(fc, "Francia vence a Estados Unidos", "es");
    assert_int_equal(us.n[CH_PIVOT], 2);
    assert_int_equal(eeuu.n[CH_PIVOT], 2);
    for (size_t i = 0; i < 2; i++) {
        assert_true(us.f[CH_PIVOT][i].hash == eeuu.f[CH_PIVOT][i].hash);
        assert_true(us.f[CH_PIVOT][i].hash != first.f[CH_PIVOT][0].hash);
    }
    nfi_docfeat lower = headline_pivot(fc, "A turkey for the team dinner", "en");
    assert_int_equal(lower.n[CH_PIVOT], 0);
    nfi_docfeat_free(&first);
    nfi_docfeat_free(&us);
    nfi_docfeat_free(&eeuu);
    nfi_docfeat_free(&lower);
    nfi_featctx_free(fc);
}

static void test_empty(void **state)
{
    (void)state;
    nf_events *ev;
    nf_error err;
    nf_events_options o = opts(2);
    assert_int_equal(nf_events_new(&ev, &o, &err), NF_OK);
    assert_int_equal(nf_events_add(ev, NULL, 0, &err), NF_OK);
    nf_events_result r;
    assert_int_equal(nf_events_finish(ev, &r, &err), NF_OK);
    assert_int_equal(r.n_docs, 0);
    assert_int_equal(r.n_events, 0);
    assert_int_equal(r.n_storylines, 0);
    char *html;
    size_t len;
    assert_int_equal(nf_report_html(&r, NULL, &html, &len, &err), NF_OK);
    assert_non_null(strstr(html, "0 documents"));
    free(html);
    nf_events_result_free(&r);
    nf_events_free(ev);
}

/* --------------------------------------------------------------- metrics */

typedef struct brute {
    double pp, pr, bp, br, ari;
} brute;

static brute brute_force(const uint32_t *g, const uint32_t *p, size_t n)
{
    double tp = 0, gp = 0, pp = 0, bp = 0, br = 0;
    for (size_t i = 0; i < n; i++) {
        double same_both = 0, same_g = 0, same_p = 0;
        for (size_t j = 0; j < n; j++) {
            same_both += g[i] == g[j] && p[i] == p[j];
            same_g += g[i] == g[j];
            same_p += p[i] == p[j];
            if (j > i) {
                tp += g[i] == g[j] && p[i] == p[j];
                gp += g[i] == g[j];
                pp += p[i] == p[j];
            }
        }
        bp += same_both / same_p;
        br += same_both / same_g;
    }
    double all = n * (n - 1) / 2.0, e = all > 0 ? gp * pp / all : 0;
    brute b = {pp ? tp / pp : 1, gp ? tp / gp : 1, bp / n, br / n, 0};
    double den = (gp + pp) / 2 - e;
    b.ari = den != 0 ? (tp - e) / den : 1;
    return b;
}

/* Burst-aware weights: a term as frequent in the window as in the run keeps
 * its idf ("Olympics" all along), one whose rate rises in the window is
 * weighed up by weight x ln(the rise), and one rarer in the window than in
 * the run is not weighed down. */
static void test_burst_weight(void **state)
{
    (void)state;
    double idf = log(1021.0 / 101); /* df 100 of 1,000 documents, prior 20 */
    /* df_w 10 of N_w 100: the run's rate, about */
    assert_true(fabs(nfi_burst_weight(idf, log(11.0), log(121.0), 3) - idf) < 0.02);
    double rise = log(51.0 / 121) - log(101.0 / 1021); /* df_w 50 of 100 */
    assert_true(fabs(nfi_burst_weight(idf, log(51.0), log(121.0), 3) - (idf + 3 * rise)) < 1e-9);
    assert_true(nfi_burst_weight(idf, log(51.0), log(121.0), 3) > nfi_burst_weight(idf, log(51.0), log(121.0), 1));
    assert_true(fabs(nfi_burst_weight(idf, log(1.0), log(121.0), 3) - idf) < 1e-12); /* absent: no penalty */
    nf_events_options o = opts(1);
    assert_true(o.burst_days > 0 && o.burst_weight > 0);
}

/* A headline record (empty text: its title is the text) is a headline
 * however long: a translation link between two such records of different
 * stories is not believed (hard links of headlines are not, docs/events.md),
 * even with 30 words each (more than NF_SHORT_BODY_TERMS tokens). */
static void test_long_headline_links(void **state)
{
    (void)state;
    const char *json[2] = {
        "{\"id\": \"a\", \"lang\": \"en\", \"text\": \"\", \"published_at\": \"2021-07-22T10:00:00Z\", "
        "\"title\": \"alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
        "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu amber basil cedar dune\"}",
        "{\"id\": \"b\", \"lang\": \"es\", \"text\": \"\", \"published_at\": \"2021-07-22T10:05:00Z\", "
        "\"title\": \"uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
        "dieciseis diecisiete dieciocho diecinueve veinte ventana puerta mesa silla campo playa monte lago cielo "
        "nube\"}"};
    nf_doc raw[2];
    nf_clean_doc cd[2];
    nf_error err;
    for (int i = 0; i < 2; i++)
        assert_int_equal(nf_doc_from_json(json[i], strlen(json[i]), "mem", 1, &raw[i], &err), NF_OK);
    clean_docs(raw, cd, 2);
    assert_true(cd[0].n_tokens >= NF_SHORT_BODY_TERMS && cd[1].n_tokens >= NF_SHORT_BODY_TERMS);
    nf_events_options o = opts(1);
    nf_events *ev;
    nf_events_result r;
    assert_int_equal(nf_events_new(&ev, &o, &err), NF_OK);
    assert_int_equal(nf_events_add(ev, cd, 2, &err), NF_OK);
    nf_link link = {0, 1, 0.95};
    assert_int_equal(nf_events_add_links(ev, &link, 1, &err), NF_OK);
    assert_int_equal(nf_events_finish(ev, &r, &err), NF_OK);
    assert_int_not_equal(r.docs[0].event, r.docs[1].event);
    nf_events_result_free(&r);
    nf_events_free(ev);
    free_docs(raw, cd, 2);
}

static void test_metrics_brute_force(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + round % 60;
        uint32_t g[64], p[64];
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            g[i] = (uint32_t)(x % (1 + round % 7));
            p[i] = round % 5 == 0 ? g[i] : (uint32_t)((x >> 20) % (1 + round % 9)) * 1000003u;
        }
        nf_cluster_scores s;
        nf_error err;
        assert_int_equal(nf_cluster_eval(g, p, n, &s, &err), NF_OK);
        brute b = brute_force(g, p, n);
        assert_true(fabs(s.pair_precision - b.pp) < 1e-9 && fabs(s.pair_recall - b.pr) < 1e-9);
        assert_true(fabs(s.bcubed_precision - b.bp) < 1e-9 && fabs(s.bcubed_recall - b.br) < 1e-9);
        assert_true(fabs(s.ari - b.ari) < 1e-9);
        if (round % 5 == 0)
            assert_true(fabs(s.bcubed_f1 - 1) < 1e-12 && fabs(s.ari - 1) < 1e-12);
    }
}

/* nfi_svec_sum gives the bits of adding the vectors one after another
 * (random vectors over a small hash range, so many hashes repeat; weights
 * of mixed magnitudes, so the order of float additions shows). */
static void test_svec_sum(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    for (int round = 0; round < 50; round++) {
        size_t n = 1 + (size_t)round % 40;
        nfi_svec v[40];
        const nfi_svec *pv[40];
        memset(v, 0, sizeof v);
        for (size_t k = 0; k < n; k++) {
            uint32_t m = 0;
            v[k].f = malloc(64 * sizeof *v[k].f);
            assert_non_null(v[k].f);
            for (uint64_t h = 1; h <= 200 && m < 64; h++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                if (x % 5 == 0)
                    v[k].f[m++] = (nfi_wfeat){h * 0x9E3779B97F4A7C15ULL >> 8 << 8 | h, (float)((x >> 20) % 100000) / (float)(1 + (x >> 40) % 997)};
            }
            v[k].n = v[k].cap = m;
            pv[k] = &v[k];
        }
        /* hashes must be sorted: the multiplied hashes are not, so sort them */
        for (size_t k = 0; k < n; k++)
            for (uint32_t i = 1; i < v[k].n; i++)
                for (uint32_t j = i; j > 0 && v[k].f[j - 1].hash > v[k].f[j].hash; j--) {
                    nfi_wfeat t = v[k].f[j];
                    v[k].f[j] = v[k].f[j - 1];
                    v[k].f[j - 1] = t;
                }
        nfi_svec a = {0}, b = {0};
        for (size_t k = 0; k < n; k++)
            assert_true(nfi_svec_add(&a, &v[k], 1.0, 0));
        assert_true(nfi_svec_sum(&b, pv, n));
        assert_int_equal(a.n, b.n);
        assert_memory_equal(&a.norm2, &b.norm2, sizeof a.norm2);
        for (uint32_t i = 0; i < a.n; i++) {
            assert_true(a.f[i].hash == b.f[i].hash);
            assert_memory_equal(&a.f[i].w, &b.f[i].w, sizeof a.f[i].w);
        }
        nfi_svec_free(&a);
        nfi_svec_free(&b);
        for (size_t k = 0; k < n; k++)
            nfi_svec_free(&v[k]);
    }
}

static int cmp_top_ref(const void *a, const void *b)
{
    const nfi_wfeat *x = a, *y = b;
    if (x->w != y->w)
        return x->w > y->w ? -1 : 1;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static int cmp_hash_ref(const void *a, const void *b)
{
    const nfi_wfeat *x = a, *y = b;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static int cmp_u32_desc(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* nfi_kth_largest_u32 finds what a sort finds, for every k, with many ties,
 * shared leading bytes and few values left after a pass. */
static void test_kth_largest(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    uint32_t a[600], sorted[600], work[600];
    for (int round = 0; round < 300; round++) {
        uint32_t n = 1 + (uint32_t)(x % 600), spread = round % 4 == 0 ? 7 : round % 4 == 1 ? 300 : 0xffffffffu;
        uint32_t base = round % 2 ? 0xBF800000u : 0;
        for (uint32_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            a[i] = base + (uint32_t)(x % ((uint64_t)spread + 1));
        }
        memcpy(sorted, a, n * sizeof *a);
        qsort(sorted, n, sizeof *sorted, cmp_u32_desc);
        for (uint32_t k = 1; k <= n; k += 1 + n / 17) {
            memcpy(work, a, n * sizeof *a);
            assert_int_equal(nfi_kth_largest_u32(work, n, k), sorted[k - 1]);
        }
    }
}

/* nfi_svec_top of a few hundred out of thousands (a document's pivot: the
 * selection among the keys that reach a sampled floor, or among all when
 * too few reach it; vectors past the stack's room) keeps what a sort by
 * (weight, smaller hash) keeps, with few, many and no ties. */
static void test_svec_top_large(void **state)
{
    (void)state;
    uint64_t x = 0x6A09E667F3BCC909ULL;
    for (int round = 0; round < 120; round++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint32_t m = 300 + (uint32_t)(x % 5800), keep = round % 3 ? 256 : 65 + (uint32_t)(x >> 20) % (m - 65);
        uint32_t spread = round % 4 == 0 ? 3 : round % 4 == 1 ? 40 : round % 4 == 2 ? 2000 : 1u << 30;
        nfi_svec w = {0}, ref = {0};
        w.f = malloc(m * sizeof *w.f);
        ref.f = malloc(m * sizeof *ref.f);
        assert_true(w.f && ref.f);
        for (uint32_t i = 0; i < m; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* one round in five: every eighth weight (what a sample of every eighth reads) larger than
             * the rest, so the sample's floor lets too few through */
            float wt = round % 5 == 4 && i % 8 == 0 ? (float)(100000 + i) : (float)(x % spread) + 1;
            w.f[i] = (nfi_wfeat){(uint64_t)(i + 1) << 40 | (x & 0xffffffffffULL), wt};
        }
        w.n = w.cap = m;
        memcpy(ref.f, w.f, m * sizeof *w.f);
        qsort(ref.f, m, sizeof *ref.f, cmp_top_ref);
        ref.n = keep;
        qsort(ref.f, ref.n, sizeof *ref.f, cmp_hash_ref);
        nfi_svec_top(&w, keep);
        assert_int_equal(w.n, ref.n);
        for (uint32_t i = 0; i < w.n; i++)
            assert_true(w.f[i].hash == ref.f[i].hash);
        free(w.f);
        free(ref.f);
    }
}

/* nfi_svec_top keeps what a sort by (weight, smaller hash) keeps, with many
 * ties; a dot product through a table (its filter and cuckoo places)
 * gives the merge's bits; a bounded one is abandoned only below its limit
 * and otherwise gives the same bits. */
static void test_svec_top_and_table(void **state)
{
    (void)state;
    uint64_t x = 0x2545F4914F6CDD1DULL;
    for (int round = 0; round < 200; round++) {
        uint32_t m = 1 + (uint32_t)(x % 700), keep = 1 + (uint32_t)round % 90;
        nfi_svec v = {0}, ref = {0}, w = {0};
        v.f = malloc(m * sizeof *v.f);
        ref.f = malloc(m * sizeof *ref.f);
        w.f = malloc(m * sizeof *w.f);
        assert_true(v.f && ref.f && w.f);
        for (uint32_t i = 0; i < m; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v.f[i] = (nfi_wfeat){(uint64_t)(i + 1) << 40 | (x & 0xffffffffffULL), (float)(x % (round % 3 ? 7 : 5000)) + 1};
        }
        v.n = v.cap = m;
        memcpy(ref.f, v.f, m * sizeof *v.f);
        qsort(ref.f, m, sizeof *ref.f, cmp_top_ref);
        ref.n = keep < m ? keep : m;
        qsort(ref.f, ref.n, sizeof *ref.f, cmp_hash_ref);
        memcpy(w.f, v.f, m * sizeof *v.f);
        w.n = w.cap = m;
        nfi_svec_top(&w, keep);
        assert_int_equal(w.n, ref.n);
        for (uint32_t i = 0; i < w.n; i++)
            assert_true(w.f[i].hash == ref.f[i].hash);
        /* v with a table, dotted with its top (a subset) and with ref */
        nfi_svec_table t = {0};
        double merged = nfi_svec_dot(&v, &w), merged_ref = nfi_svec_dot(&ref, &v);
        assert_true(nfi_svec_table_build(&t, &v));
        v.table = &t;
        double tabled = nfi_svec_dot(&v, &w), tabled_ref = nfi_svec_dot(&ref, &v);
        assert_memory_equal(&merged, &tabled, sizeof merged);
        assert_memory_equal(&merged_ref, &tabled_ref, sizeof merged);
        /* bounded: abandoned only below the limit, else the same bits; the
         * table on the short vector, the long one (up to 11 blocks) scanned */
        nfi_svec_table tw = {0};
        double tails[16];
        v.table = NULL;
        bool built = nfi_svec_table_build(&tw, &w); /* (may fail: cuckoo places) */
        assert_true(!built || nfi_svec_table_tails(&tw, &w));
        assert_true(nfi_svec_block_tails(&v, tails, 16));
        w.table = &tw;
        const double frac[] = {0, 0.3, 0.9, 0.999, 1.001, 1.5, 1e9};
        for (size_t k = 0; built && k < sizeof frac / sizeof *frac; k++) {
            bool cut;
            double b = nfi_svec_dot_bounded(&w, &v, tails, merged * frac[k], &cut);
            if (cut)
                assert_true(merged < merged * frac[k]);
            else
                assert_memory_equal(&merged, &b, sizeof merged);
            if (frac[k] <= 1)
                assert_false(cut);
        }
        w.table = NULL;
        nfi_svec_table_free(&tw);
        nfi_svec_table_free(&t);
        v.table = NULL;
        nfi_svec_free(&v);
        nfi_svec_free(&ref);
        nfi_svec_free(&w);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_keys),           cmocka_unit_test(test_name_keys_latin_table),           cmocka_unit_test(test_seeds_gold),
        cmocka_unit_test(test_examples_gold),       cmocka_unit_test(test_prefer_lang),
        cmocka_unit_test(test_threads_same_result), cmocka_unit_test(test_window_expiry),
        cmocka_unit_test(test_live_set_bounded),    cmocka_unit_test(test_undated_and_links),
        cmocka_unit_test(test_timestamps_and_headlines), cmocka_unit_test(test_worst_clusters),
        cmocka_unit_test(test_undated_live_set_bounded),
        cmocka_unit_test(test_pivot_channel),       cmocka_unit_test(test_empty),
        cmocka_unit_test(test_kth_largest),
        cmocka_unit_test(test_merge_languages),     cmocka_unit_test(test_best_later_partner),
        cmocka_unit_test(test_attach_small),        cmocka_unit_test(test_same_language_join),
        cmocka_unit_test(test_leads),
        cmocka_unit_test(test_title_from_text),     cmocka_unit_test(test_title_countries),
        cmocka_unit_test(test_metrics_brute_force), cmocka_unit_test(test_burst_weight),
        cmocka_unit_test(test_long_headline_links), cmocka_unit_test(test_svec_sum),
        cmocka_unit_test(test_svec_top_large),
        cmocka_unit_test(test_svec_top_and_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
