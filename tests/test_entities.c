/*
 * test_entities.c - the entities shown for an event (entities.c): job
 * titles stripped in each language that has a list, capitalized function
 * and common words dropped, short and reordered forms merged, the display
 * form taken from reports in the headline's language, names read from the
 * titles of headline-only documents; and the seeds' and examples' events.
 *
 * The synthetic cases go through the real cleaner and feature extraction
 * (nfi_evfeat_extract), then nfi_entities_collect with a name test that
 * calls everything a name except the keys a case lists as common: so each
 * case checks the display rules alone, independent of corpus statistics.
 */
#include "events_data.h"
#include "events/events.h"

typedef struct case_doc {
    const char *title, *text, *lang;
    bool pref; /* in the headline's language */
} case_doc;

typedef struct shown {
    nfi_entity_tmp *e;
    size_t n;
    nfi_buf strings;
} shown;

/* ctx: NULL-terminated list of name keys that count as common words. */
static bool name_ok_stub(const void *ctx, uint64_t hash, bool weak)
{
    (void)weak;
    for (const char *const *k = ctx; k && *k; k++)
        if (nfi_feat_hash('n', *k, strlen(*k)) == hash)
            return false;
    return true;
}

/* A corpus of headlines only has no name statistics: nothing is known. */
static bool name_ok_none(const void *ctx, uint64_t hash, bool weak)
{
    (void)ctx, (void)hash, (void)weak;
    return false;
}

/* The entities of one event made of docs (each its own component). */
static shown collect_with(const case_doc *docs, size_t n, nfi_name_ok_fn ok, const char *const *common)
{
    nf_doc raw[8];
    nf_clean_doc cd[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        memset(&raw[i], 0, sizeof raw[i]);
        raw[i].id = malloc(32);
        snprintf(raw[i].id, 32, "d%zu", i);
        raw[i].title = docs[i].title ? strdup(docs[i].title) : NULL;
        raw[i].text = strdup(docs[i].text ? docs[i].text : "");
        raw[i].text_len = strlen(raw[i].text);
        raw[i].lang = strdup(docs[i].lang);
        raw[i].origin = strdup("synthetic");
    }
    nf_clean_options co;
    nf_clean_options_default(&co);
    nf_cleaner *cl;
    nf_error err;
    assert_int_equal(nf_cleaner_new(&cl, &co, &err), NF_OK);
    assert_int_equal(nf_clean_batch(cl, raw, n, cd, &err), NF_OK);
    nf_cleaner_free(cl);
    nfi_featctx *fc;
    assert_int_equal(nfi_featctx_new(&fc, NULL, &err), NF_OK); /* no lexicon: no pivots */
    nfi_docfeat f[8];
    nfi_entity_input in[8];
    memset(f, 0, sizeof f);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(nfi_evfeat_extract(fc, &cd[i], &f[i], &err), NF_OK);
        in[i] = (nfi_entity_input){f[i].runs.data, f[i].runs.len, (uint32_t)i, docs[i].pref};
    }
    shown s = {NULL, 0, {0}};
    nfi_buf_init(&s.strings);
    assert_int_equal(nfi_entities_collect(in, n, ok, common, 20, &s.e, &s.n, &s.strings, &err), NF_OK);
    for (size_t i = 0; i < n; i++) {
        nfi_docfeat_free(&f[i]);
        nf_clean_doc_free(&cd[i]);
        nf_doc_free(&raw[i]);
    }
    nfi_featctx_free(fc);
    return s;
}

static shown collect(const case_doc *docs, size_t n, const char *const *common)
{
    return collect_with(docs, n, name_ok_stub, common);
}

static const char *shown_name(const shown *s, size_t i) { return s->strings.data + s->e[i].name_off; }

static bool has(const shown *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(shown_name(s, i), name) == 0)
            return true;
    return false;
}

/* No shown name contains the word w (as a whole word). */
static void expect_no_word(const shown *s, const char *w)
{
    size_t n = strlen(w);
    for (size_t i = 0; i < s->n; i++) {
        const char *name = shown_name(s, i);
        for (const char *p = strstr(name, w); p; p = strstr(p + 1, w))
            if ((p == name || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
                fail_msg("'%s' shown with '%s'", name, w);
    }
}

static void expect_has(const shown *s, const char *name)
{
    if (has(s, name))
        return;
    for (size_t i = 0; i < s->n; i++)
        print_message("  shown: %s\n", shown_name(s, i));
    fail_msg("'%s' not shown", name);
}

static void shown_free(shown *s)
{
    free(s->e);
    nfi_buf_free(&s->strings);
}

/* -------------------------------------------------------- the key cache */

/* Cleans one synthetic document and extracts its features with fc. */
static void extract_one(nfi_featctx *fc, const case_doc *d, nfi_docfeat *f)
{
    nf_doc raw;
    nf_clean_doc cd;
    memset(&raw, 0, sizeof raw);
    raw.id = strdup("d");
    raw.title = d->title ? strdup(d->title) : NULL;
    raw.text = strdup(d->text ? d->text : "");
    raw.text_len = strlen(raw.text);
    raw.lang = strdup(d->lang);
    raw.origin = strdup("synthetic");
    nf_clean_options co;
    nf_clean_options_default(&co);
    nf_cleaner *cl;
    nf_error err;
    assert_int_equal(nf_cleaner_new(&cl, &co, &err), NF_OK);
    assert_int_equal(nf_clean_batch(cl, &raw, 1, &cd, &err), NF_OK);
    nf_cleaner_free(cl);
    memset(f, 0, sizeof *f);
    assert_int_equal(nfi_evfeat_extract(fc, &cd, f, &err), NF_OK);
    nf_clean_doc_free(&cd);
    nf_doc_free(&raw);
}

static void expect_same_feats(const nfi_docfeat *a, const nfi_docfeat *b)
{
    for (int c = 0; c < N_CH; c++) {
        assert_int_equal(a->n[c], b->n[c]);
        if (a->n[c])
            assert_memory_equal(a->f[c], b->f[c], a->n[c] * sizeof *a->f[c]);
    }
    assert_int_equal(a->runs.len, b->runs.len);
    if (a->runs.len)
        assert_memory_equal(a->runs.data, b->runs.data, a->runs.len);
    assert_int_equal(a->n_lower, b->n_lower);
    if (a->n_lower)
        assert_memory_equal(a->lower, b->lower, a->n_lower * sizeof *a->lower);
}

/* A context that has already keyed a document's words (the per-context
 * key cache, transliterations included) extracts exactly what a fresh
 * context does, for the same words in other places, forms and cases. */
static void test_key_cache(void **state)
{
    (void)state;
    static const case_doc warm = {
        "Putin meets Selenskyj", "Officials said Putin's talks with Wladimir Selenskyj in Pjöngjang went on. "
        "The Президент Путин spoke. Kim Jong-un and the UN Security Council waited on Monday.", "en", true};
    static const case_doc probe[] = {
        {"Talks go on", "Later Putin said the Президент Путин and Kim Jong-un met in Pjöngjang. Putin's aides, "
                        "the putin fans and Selenskyj's team met the UN Security Council on Monday.", "en", true},
        {NULL, "Der Präsident Wladimir Putin traf Selenskyj in Pjöngjang. Die Putin-Gegner schwiegen.", "de", false},
        {"Президент Путин и Ким Чен Ын", "", "ru", false},
    };
    nf_error err;
    nfi_featctx *used;
    assert_int_equal(nfi_featctx_new(&used, NULL, &err), NF_OK);
    nfi_docfeat f;
    extract_one(used, &warm, &f);
    nfi_docfeat_free(&f);
    for (size_t i = 0; i < sizeof probe / sizeof *probe; i++) {
        nfi_featctx *fresh;
        assert_int_equal(nfi_featctx_new(&fresh, NULL, &err), NF_OK);
        nfi_docfeat a, b, again;
        extract_one(fresh, &probe[i], &a);
        extract_one(used, &probe[i], &b);
        extract_one(used, &probe[i], &again);
        assert_true(a.runs.len > 0);
        expect_same_feats(&a, &b);
        expect_same_feats(&a, &again);
        nfi_docfeat_free(&a);
        nfi_docfeat_free(&b);
        nfi_docfeat_free(&again);
        nfi_featctx_free(fresh);
    }
    nfi_featctx_free(used);
}

/* ------------------------------------------------------------ job titles */

static void test_job_titles(void **state)
{
    (void)state;
    static const struct {
        const char *lang, *text, *name, *title;
    } cases[] = {
        {"en", "Talks were held in Seoul on Friday, where Foreign Minister Cho Tae-yul spoke.", "Cho Tae-yul",
         "Minister"},
        {"en", "On Friday the visiting South Korean First Vice Foreign Minister Kim Hong-kyun spoke.",
         "Kim Hong-kyun", "Minister"},
        {"en", "In Washington, US Secretary of State Antony Blinken met his counterpart.", "Antony Blinken",
         "State"},
        {"en", "In London, Prime Minister Boris Johnson resigned on Thursday.", "Boris Johnson", "Prime"},
        {"en", "In Detroit, CEO Mary Barra said the plant would close.", "Mary Barra", "CEO"},
        {"en", "The storm hit Florida, where Governor Ron DeSantis declared an emergency.", "Ron DeSantis",
         "Governor"},
        {"de", "Am Montag sagte Bundeskanzlerin Angela Merkel in Berlin, dass die Lage ernst sei.",
         "Angela Merkel", "Bundeskanzlerin"},
        {"de", "Die Reise des russischen Präsidenten Wladimir Putin nach Pjöngjang wurde bestätigt.",
         "Wladimir Putin", "Präsidenten"},
        {"es", "En Madrid, el Presidente Pedro Sánchez dijo que el acuerdo es bueno.", "Pedro Sánchez",
         "Presidente"},
        {"pt", "Em Brasília, o Presidente Jair Bolsonaro disse que a decisão é final.", "Jair Bolsonaro",
         "Presidente"},
        {"fr", "À Paris, le Porte-parole Gabriel Attal et la Ministre Élisabeth Borne ont parlé.",
         "Élisabeth Borne", "Ministre"},
        {"ru", "В Москве Министр Сергей Лавров заявил, что переговоры продолжатся.", "Сергей Лавров",
         "Министр"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        case_doc d = {NULL, cases[i].text, cases[i].lang, true};
        shown s = collect(&d, 1, NULL);
        expect_has(&s, cases[i].name);
        expect_no_word(&s, cases[i].title);
        shown_free(&s);
    }
    /* a weak title that starts a name stays when one word follows it */
    case_doc gm = {NULL, "Shares of General Motors rose in New York on Monday.", "en", true};
    shown s = collect(&gm, 1, NULL);
    expect_has(&s, "General Motors");
    shown_free(&s);
    /* a title alone is no entity: French "Premier ministre" */
    case_doc fr = {NULL, "À Paris, le Premier ministre a parlé avec Olaf Scholz.", "fr", true};
    s = collect(&fr, 1, NULL);
    expect_has(&s, "Olaf Scholz");
    assert_false(has(&s, "Premier"));
    shown_free(&s);
}

/* ---------------------------------------------------------- common words */

static void test_common_words(void **state)
{
    (void)state;
    /* "North" is the short form of "North Korea" in the same report;
     * "Security" is common (the stub's list) but stays inside "UN Security
     * Council", so no lone "Council" appears */
    static const char *const common[] = {"sekurity", NULL};
    case_doc e2 = {NULL,
                   "Seoul condemned the pact between Moscow and North Korea. Any support for the "
                   "North's military violates UN Security Council resolutions, said Cho Tae-yul.",
                   "en", true};
    shown s = collect(&e2, 1, common);
    expect_has(&s, "North Korea");
    expect_has(&s, "UN Security Council");
    assert_false(has(&s, "North"));
    assert_false(has(&s, "Council"));
    shown_free(&s);
    /* a function word capitalized by a sentence start or a dateline dash is
     * no name ("El Ayuntamiento"), one inside a sentence is ("El País") */
    case_doc es = {NULL,
                   "CASTROBEL, 2 de abril — El Ayuntamiento de Castrobel cortará el agua. Lo publicó "
                   "ayer el diario El País en Madrid. El alcalde Tomás Ilundain lo confirmó.",
                   "es", true};
    s = collect(&es, 1, NULL);
    expect_has(&s, "El País");
    expect_has(&s, "Ayuntamiento");
    assert_false(has(&s, "El"));
    assert_false(has(&s, "El Ayuntamiento"));
    shown_free(&s);
    /* a lone word that its own report writes in lower case */
    case_doc en = {NULL, "Residents of Kellmouth thanked Police on Monday. The police said the fire is out.",
                   "en", true};
    s = collect(&en, 1, NULL);
    expect_has(&s, "Kellmouth");
    assert_false(has(&s, "Police"));
    shown_free(&s);
}

/* ------------------------------------------------------------ merged forms */

static void test_merged_forms(void **state)
{
    (void)state;
    case_doc docs[] = {
        {NULL, "In Tokyo, the skater Momiji Nishiya won gold on Monday.", "en", true},
        {NULL, "The crowd in Tokyo cheered Nishiya Momiji after the final.", "en", true},
        {NULL, "In Paris, President Emmanuel Macron praised Nishiya. Macron called her.", "en", true},
        {NULL, "In Lyon, fans of Macron watched the final with Nishiya.", "en", true},
    };
    shown s = collect(docs, 4, NULL);
    expect_has(&s, "Momiji Nishiya");
    expect_has(&s, "Emmanuel Macron");
    assert_false(has(&s, "Nishiya Momiji"));
    assert_false(has(&s, "Nishiya"));
    assert_false(has(&s, "Macron"));
    shown_free(&s);
}

/* ------------------------------------------------- headline's language */

static void test_display_language(void **state)
{
    (void)state;
    case_doc docs[] = {
        {NULL, "In Moskau sagte Wladimir Putin am Montag, die Reise finde statt.", "de", false},
        {NULL, "In Berlin wurde Wladimir Putin am Dienstag erwartet.", "de", false},
        {NULL, "Aus Pjöngjang hieß es, Wladimir Putin komme bald.", "de", false},
        {NULL, "In Seoul, officials said Vladimir Putin would visit soon.", "en", true},
    };
    shown s = collect(docs, 4, NULL);
    expect_has(&s, "Vladimir Putin"); /* one English report against three German ones */
    assert_false(has(&s, "Wladimir Putin"));
    shown_free(&s);
    for (size_t i = 0; i < 4; i++)
        docs[i].pref = !docs[i].pref;
    s = collect(docs, 4, NULL);
    expect_has(&s, "Wladimir Putin");
    shown_free(&s);
}

/* --------------------------------------------------------- headline only */

static void test_headline_only(void **state)
{
    (void)state;
    case_doc docs[] = {
        {"Japan's Momiji Nishiya wins skateboarding gold in Tokyo", NULL, "en", true},
        {"Momiji Nishiya Wins Gold In Skateboarding At Tokyo Games", NULL, "en", true},
        {"Olympics Latest: Nishiya, 13, wins gold - Sport News Daily", NULL, "en", true},
        {"Skateboarder Momiji Nishiya takes gold for Japan", NULL, "en", true},
    };
    shown s = collect_with(docs, 4, name_ok_none, NULL);
    expect_has(&s, "Momiji Nishiya");
    expect_has(&s, "Japan");
    expect_has(&s, "Tokyo");
    static const char *const never[] = {"Wins", "Gold", "Latest", "Olympics", "Sport", "Daily", "Skateboarding"};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++)
        expect_no_word(&s, never[i]);
    shown_free(&s);
}

/* ---------------------------------------------------- seeds and examples */

static const nf_event *event_of(const nf_events_result *r, const ev_corpus *c, const char *id)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->docs[i].doc.id, id) == 0)
            return &r->events[r->docs[i].event];
    fail_msg("no document %s", id);
    return NULL;
}

static bool event_has(const nf_event *e, const char *name)
{
    for (size_t k = 0; k < e->n_entities; k++)
        if (strcmp(e->entities[k].name, name) == 0)
            return true;
    return false;
}

static void test_seeds(void **state)
{
    (void)state;
    ev_corpus c = ev_load_dir("seeds", NF_SHARED_DIR "/seeds", NF_SHARED_DIR "/seeds/gold.json");
    nf_events_options o;
    nf_events_options_default(&o);
    nf_events_result r;
    ev_run(&c, &o, &r);
    const nf_event *e1 = event_of(&r, &c, "000_d1b32bc23ae043b6.txt");
    const nf_event *e2 = event_of(&r, &c, "004_e12e520f705a4e69.txt");
    assert_true(event_has(e1, "Vladimir Putin")); /* English headline: not "Wladimir Putin" */
    assert_true(event_has(e1, "Kim Hong-kyun"));
    assert_true(event_has(e2, "Cho Tae-yul"));
    assert_true(event_has(e2, "Antony Blinken"));
    static const char *const never[] = {"Wladimir Putin", "Council", "North", "Cho", "US Secretary",
                                        "Foreign Minister Cho Tae-yul"};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++) {
        assert_false(event_has(e1, never[i]));
        assert_false(event_has(e2, never[i]));
    }
    for (const nf_event *e = e1; e; e = e == e1 ? e2 : NULL)
        for (size_t k = 0; k < e->n_entities; k++)
            assert_null(strstr(e->entities[k].name, "Minister"));
    nf_events_result_free(&r);
    ev_corpus_free(&c);
}

static void test_examples(void **state)
{
    (void)state;
    ev_corpus c = ev_load_dir("examples", NF_SOURCE_DIR "/examples/corpus", NF_SOURCE_DIR "/examples/gold.json");
    nf_events_options o;
    nf_events_options_default(&o);
    nf_events_result r;
    ev_run(&c, &o, &r);
    static const char *const articles[] = {"El", "La", "Le", "Der", "Die", "The"};
    for (size_t e = 0; e < r.n_events; e++)
        for (size_t k = 0; k < r.events[e].n_entities; k++) {
            const char *name = r.events[e].entities[k].name;
            for (size_t a = 0; a < sizeof articles / sizeof *articles; a++) {
                size_t n = strlen(articles[a]);
                if (strncmp(name, articles[a], n) == 0 && (name[n] == '\0' || name[n] == ' '))
                    fail_msg("event %zu shows '%s'", e, name);
            }
        }
    nf_events_result_free(&r);
    ev_corpus_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_job_titles),      cmocka_unit_test(test_common_words),
        cmocka_unit_test(test_merged_forms),    cmocka_unit_test(test_display_language),
        cmocka_unit_test(test_headline_only),   cmocka_unit_test(test_seeds),
        cmocka_unit_test(test_examples),        cmocka_unit_test(test_key_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
