/*
 * tune_events.c - the search that chose the event stage's defaults.
 *
 * Features are extracted once per corpus (seeds, examples, UCI headlines,
 * WMT21; events_data.h); every option set is then a re-clustering. Phase 1
 * searches the event options (threshold, same-language weights of title,
 * body and names, cross-language names weight) on a grid; phase 2 the
 * storyline options for the best event options. The objective is the
 * B-cubed F1 of events on WMT21 (then UCI for the headline threshold),
 * among option sets that reproduce the seeds' and the examples' gold
 * events exactly (storylines: their gold storylines, with and without the
 * cross-lingual stage).
 * Prints every option set tried and the best; docs/events.md shows the
 * figures. Not a test: run it by hand (build/tests/tune_events [SHARED]).
 * Phase "headlines" dumps the headline model's training pairs; phase "og"
 * re-clusters og2021-dev, its halves and UCI for each option set read from
 * stdin (`echo "threshold_short=0.45 h5=-0.7" | tune_events SHARED og`).
 */
#include "events_data.h"
#include "events/events.h"

#include <time.h>

#define N_CORPORA 4

typedef struct tuner {
    ev_corpus c[N_CORPORA];
    nf_events *ev[N_CORPORA];
    nf_links *links[N_CORPORA];
    nf_events *plain[2]; /* the goldens without the cross-lingual stage */
} tuner;

typedef struct outcome {
    double event_f1[N_CORPORA], story_f1[N_CORPORA];
} outcome;

static void prepare(tuner *t, const char *shared)
{
    char seeds[4096], gold[4096];
    snprintf(seeds, sizeof seeds, "%s/seeds", shared);
    snprintf(gold, sizeof gold, "%s/seeds/gold.json", shared);
    t->c[0] = ev_load_dir("seeds", seeds, gold);
    t->c[1] = ev_load_dir("examples", NF_SOURCE_DIR "/examples/corpus", NF_SOURCE_DIR "/examples/gold.json");
    t->c[2] = ev_load_uci(shared);
    t->c[3] = ev_load_wmt(shared);
    for (int k = 0; k < N_CORPORA; k++) {
        nf_events_options o;
        nf_events_options_default(&o);
        o.threads = 2;
        t->ev[k] = ev_prepare(&t->c[k], &o, &t->links[k]);
        if (k < 2)
            t->plain[k] = ev_prepare_nolinks(&t->c[k], &o);
    }
}

/* Whether the goldens' storylines also come out exact without the
 * cross-lingual stage (its pivots change the storyline scores). */
static bool plain_storylines_exact(tuner *t, const nf_events_options *o)
{
    for (int k = 0; k < 2; k++) {
        nf_events_result res;
        nf_error err;
        assert_int_equal(nfi_events_recluster(t->plain[k], o, &res, &err), NF_OK);
        double f1 = ev_score(&t->c[k], &res, true).bcubed_f1;
        nf_events_result_free(&res);
        if (f1 < 1 - 1e-9)
            return false;
    }
    return true;
}

static outcome evaluate_n(tuner *t, const nf_events_options *o, int n)
{
    outcome r = {0};
    for (int k = 0; k < n; k++) {
        nf_events_result res;
        nf_error err;
        assert_int_equal(nfi_events_recluster(t->ev[k], o, &res, &err), NF_OK);
        r.event_f1[k] = ev_score(&t->c[k], &res, false).bcubed_f1;
        r.story_f1[k] = t->c[k].storyline ? ev_score(&t->c[k], &res, true).bcubed_f1 : 1;
        nf_events_result_free(&res);
    }
    return r;
}

static outcome evaluate(tuner *t, const nf_events_options *o) { return evaluate_n(t, o, N_CORPORA); }

static bool goldens_exact(const outcome *r, bool storylines)
{
    for (int k = 0; k < 2; k++)
        if (r->event_f1[k] < 1 - 1e-9 || (storylines && r->story_f1[k] < 1 - 1e-9))
            return false;
    return true;
}

/* Full documents (WMT21) choose the weights and the threshold; headlines
 * (UCI) then choose the short-document threshold. */
static double objective(const outcome *r) { return r->event_f1[3]; }

static void print_row(const nf_events_options *o, const outcome *r)
{
    printf(
        "thr %.3f/%.3f w %.2f/%.2f/%.2f/%.2f cross %.2f/%.2f | sl %.3f/%.2f | seeds %.3f/%.3f examples "
        "%.3f/%.3f | uci %.4f "
        "wmt %.4f | obj %.4f%s\n",
        o->threshold, o->threshold_short, o->w_title, o->w_body, o->w_names, o->w_pivot, o->w_cross_names,
        o->w_cross_pivot, o->storyline_threshold, o->storyline_w_names, r->event_f1[0], r->story_f1[0],
        r->event_f1[1], r->story_f1[1], r->event_f1[2], r->event_f1[3], objective(r),
        goldens_exact(r, false) ? "" : " (goldens differ)");
}

/* Option sets k with k % parts == part (to split the grid over processes). */
static nf_events_options search_events(tuner *t, nf_events_options base, int part, int parts)
{
    nf_events_options best = base;
    double best_obj = -1;
    int k = 0;
    /* a title weight of 0 would leave headlines without a score */
    for (int wt = 1; wt <= 4; wt++)
        for (int wb = 0; wt + wb <= 10; wb++) {
            int wn = 10 - wt - wb;
            for (int wx = 10; wx <= 10; wx += 2)
                for (int ti = 30; ti <= 60; ti += 2) {
                    if (k++ % parts != part)
                        continue;
                    double thr = ti / 100.0;
                    nf_events_options o = base;
                    o.w_title = wt / 10.0;
                    o.w_body = wb / 10.0;
                    o.w_names = wn / 10.0;
                    o.w_cross_names = wx / 10.0;
                    o.threshold = thr;
                    outcome r = evaluate(t, &o);
                    print_row(&o, &r);
                    if (goldens_exact(&r, false) && objective(&r) > best_obj) {
                        best_obj = objective(&r);
                        best = o;
                    }
                }
        }
    return best;
}

/* With the cross-lingual stage: weights of the pivot channel, same- and
 * cross-language, with the threshold (the other weights as found). */
static nf_events_options search_pivot(tuner *t, nf_events_options base)
{
    nf_events_options best = base;
    double best_obj = -1;
    for (int wp = 0; wp <= 4; wp++)
        for (int wx = 0; wx <= 10; wx += 2)
            for (int ti = 30; ti <= 50; ti += 2) {
                nf_events_options o = base;
                o.w_pivot = wp / 10.0;
                o.w_cross_pivot = wx / 10.0;
                o.threshold = ti / 100.0;
                outcome r = evaluate(t, &o);
                print_row(&o, &r);
                if (goldens_exact(&r, false) && objective(&r) > best_obj + 1e-9) {
                    best_obj = objective(&r);
                    best = o;
                }
            }
    return best;
}

static nf_events_options search_short(tuner *t, nf_events_options base)
{
    nf_events_options best = base;
    double best_f1 = -1;
    for (int ti = 1; ti <= 40; ti++) {
        nf_events_options o = base;
        o.threshold_short = ti / 100.0;
        outcome r = evaluate(t, &o);
        print_row(&o, &r);
        if (goldens_exact(&r, false) && r.event_f1[2] > best_f1) {
            best_f1 = r.event_f1[2];
            best = o;
        }
    }
    return best;
}

static nf_events_options search_storylines(tuner *t, nf_events_options base)
{
    nf_events_options best = base;
    int best_margin = -1;
    /* the goldens are the only storyline data: keep the middle of the widest
     * run of thresholds that reproduces them, with and without the
     * cross-lingual stage, over the names weights */
    for (int wn = 0; wn <= 10; wn++) {
        int run = 0, run_start = 0;
        for (int k = 1; k <= 60; k++) {
            nf_events_options o = base;
            o.storyline_w_names = wn / 10.0;
            o.storyline_threshold = k / 100.0;
            outcome r = evaluate_n(t, &o, 2); /* only the goldens have storylines */
            print_row(&o, &r);
            bool ok = goldens_exact(&r, true) && plain_storylines_exact(t, &o);
            if (ok && run++ == 0)
                run_start = k;
            if ((!ok || k == 60) && run > 0)
                printf("storyline run: names weight %.1f, thresholds %.2f-%.2f\n", wn / 10.0, run_start / 100.0,
                       (run_start + run - 1) / 100.0);
            if ((!ok || k == 60) && run > best_margin) {
                best_margin = run;
                best = o;
                best.storyline_threshold = (run_start + (run - 1) / 2.0) / 100.0;
            }
            if (!ok)
                run = 0;
        }
    }
    return best;
}

/* ----------------------------------------------- headline model (dump) */

typedef struct trace_row {
    uint32_t doc, event;
    nfi_score_parts p;
} trace_row;

typedef struct trace_buf {
    trace_row *r;
    size_t n, cap;
} trace_buf;

static void collect(void *ctx, uint32_t doc, uint32_t event, const nfi_score_parts *p)
{
    trace_buf *t = ctx;
    if (!p->headline)
        return;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 4096;
        t->r = realloc(t->r, t->cap * sizeof *t->r);
    }
    t->r[t->n++] = (trace_row){doc, event, *p};
}

/* The gold label most members of each event carry (ties: the smaller). */
static uint32_t *majority(const ev_corpus *c, const nf_events_result *r)
{
    uint32_t *maj = calloc(r->n_events + 1, sizeof *maj), *count = calloc(c->n + 1, sizeof *count);
    for (size_t e = 0; e < r->n_events; e++) {
        const nf_event *E = &r->events[e];
        uint32_t best = 0, bc = 0;
        for (size_t i = 0; i < E->n_docs; i++) {
            uint32_t g = c->event[E->docs[i]], k = ++count[g];
            if (k > bc || (k == bc && g < best))
                best = g, bc = k;
        }
        for (size_t i = 0; i < E->n_docs; i++)
            count[c->event[E->docs[i]]] = 0;
        maj[e] = best;
    }
    free(count);
    return maj;
}

/* Clusters the headline corpora with the defaults (or the headline model's
 * coefficients and threshold_short given; events are not joined across
 * languages, so the F1 printed is the stream's alone) and writes every scored
 * (headline, event) pair with its score parts and whether the headline's
 * gold event is the event's majority one: the rows the headline model is
 * fitted on (tests/fit_headline_model.py; docs/events.md), then the
 * document, the event and the score (for analysis). */
static void dump_headlines(const char *shared, const char *path, char **model, int n_model)
{
    ev_corpus cs[2] = {ev_load_og2021(shared), ev_load_uci(shared)};
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    fprintf(out, "corpus\tlabel\ttitle\tbody\tnames\tpivot\tgap_days\tother_lang\tdoc\tevent\tp\n");
    for (int k = 0; k < 2; k++) {
        if (!cs[k].n)
            continue;
        nf_events_options o;
        nf_events_options_default(&o);
        o.threads = 2;
        for (int m = 0; m < n_model && m < 7; m++) /* coefficients to try, else the defaults */
            o.headline_model[m] = atof(model[m]);
        if (n_model > 7)
            o.threshold_short = atof(model[7]);
        /* the trace names the stream's events, and the labels need the same
         * events: no joins across languages after the stream here */
        o.merge_threshold = 0;
        nf_links *links;
        nf_events *ev = ev_prepare(&cs[k], &o, &links);
        trace_buf tb = {0};
        nfi_events_set_trace(ev, collect, &tb);
        nf_events_result r;
        nf_error err;
        assert_int_equal(nfi_events_recluster(ev, &o, &r, &err), NF_OK);
        nf_cluster_scores sc = ev_score(&cs[k], &r, false);
        printf("%s: %zu events, B-cubed P %.4f R %.4f F1 %.4f; %zu rows\n", cs[k].name, r.n_events,
               sc.bcubed_precision, sc.bcubed_recall, sc.bcubed_f1, tb.n);
        uint32_t *maj = majority(&cs[k], &r);
        for (size_t i = 0; i < tb.n; i++) {
            const nfi_score_parts *p = &tb.r[i].p;
            fprintf(out, "%s\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%d\t%u\t%u\t%.4f\n", cs[k].name,
                    cs[k].event[tb.r[i].doc] == maj[tb.r[i].event], p->cos[CH_TITLE], p->cos[CH_BODY],
                    p->cos[CH_NAMES], p->cos[CH_PIVOT], p->gap_days, !p->same_lang, tb.r[i].doc,
                    tb.r[i].event, nfi_score_value(&o, p));
        }
        free(maj);
        free(tb.r);
        nf_events_result_free(&r);
        nf_events_free(ev);
        nf_links_free(links);
        ev_corpus_free(&cs[k]);
    }
    fclose(out);
}

/* og2021-dev and stand-ins for its held-out half, prepared once: the whole
 * stream, its two halves by time (as eval_events cuts them) and 8 pairs of
 * halves by event (label hashed with a salt: whole events, a thinner
 * stream, as the held-out half was cut), plus UCI as a guard. Each line of
 * stdin is an option set ("key=value ..."; keys below) re-clustered on all
 * of them; prints full, the time halves, the mean of the event halves and
 * UCI (B-cubed F1). */
#define OG_SETS 19
typedef struct og_set {
    ev_corpus c;
    nf_events *ev;
    nf_links *links;
} og_set;

static int og_cmp_time(const void *a, const void *b)
{
    const nf_clean_doc *x = *(nf_clean_doc *const *)a, *y = *(nf_clean_doc *const *)b;
    int c = strcmp(x->doc.published ? x->doc.published : "", y->doc.published ? y->doc.published : "");
    return c ? c : strcmp(x->doc.id, y->doc.id);
}

static ev_corpus og_subset(const ev_corpus *c, const char *name, const bool *keep)
{
    ev_corpus h = {name, calloc(c->n, sizeof(nf_clean_doc)), 0, calloc(c->n, sizeof(uint32_t)), NULL};
    for (size_t i = 0; i < c->n; i++)
        if (keep[i]) {
            h.docs[h.n] = c->docs[i];
            h.event[h.n++] = c->event[i];
        }
    return h;
}

static void og_option(nf_events_options *o, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq)
        return;
    double v = atof(eq + 1);
    size_t k = (size_t)(eq - kv);
#define OPT(name, field)                                  \
    if (k == strlen(name) && strncmp(kv, name, k) == 0) { \
        o->field = v;                                     \
        return;                                           \
    }
    OPT("threshold", threshold)
    OPT("threshold_short", threshold_short)
    OPT("merge_threshold", merge_threshold)
    OPT("merge_days", merge_days)
    OPT("burst_days", burst_days)
    OPT("burst_weight", burst_weight)
    OPT("time_weight", time_weight)
    OPT("time_scale", time_scale)
    OPT("window_days", window_days)
    OPT("candidates", candidates)
#undef OPT
    if (k == 2 && kv[0] == 'h' && kv[1] >= '0' && kv[1] <= '6')
        o->headline_model[kv[1] - '0'] = v;
    else
        fprintf(stderr, "unknown option %s\n", kv);
}

static void tune_og(const char *shared)
{
    static og_set s[OG_SETS + 1];
    s[0].c = ev_load_og2021(shared);
    assert_true(s[0].c.n > 0);
    const ev_corpus *c = &s[0].c;
    bool *keep = calloc(c->n, sizeof *keep);
    const nf_clean_doc **t = malloc(c->n * sizeof *t);
    for (size_t i = 0; i < c->n; i++)
        t[i] = &c->docs[i];
    qsort(t, c->n, sizeof *t, og_cmp_time);
    for (int h = 0; h < 2; h++) {
        memset(keep, 0, c->n);
        for (size_t k = h ? c->n / 2 : 0; k < (h ? c->n : c->n / 2); k++)
            keep[t[k] - c->docs] = true;
        s[1 + h].c = og_subset(c, h ? "time2" : "time1", keep);
    }
    for (int salt = 0; salt < 8; salt++)
        for (int h = 0; h < 2; h++) {
            for (size_t i = 0; i < c->n; i++) {
                uint64_t x =
                    (c->event[i] + 1) * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(salt + 1) * 0xbf58476d1ce4e5b9ULL;
                x ^= x >> 31;
                x *= 0x94d049bb133111ebULL;
                x ^= x >> 29;
                keep[i] = (int)(x & 1) == h;
            }
            s[3 + salt * 2 + h].c = og_subset(c, "event-half", keep);
        }
    s[OG_SETS].c = ev_load_uci(shared);
    free(keep);
    free(t);
    for (int k = 0; k <= OG_SETS; k++) {
        nf_events_options o;
        nf_events_options_default(&o);
        o.threads = 2;
        s[k].ev = ev_prepare(&s[k].c, &o, &s[k].links);
    }
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = '\0';
        nf_events_options o;
        nf_events_options_default(&o);
        o.threads = 2;
        char *save = NULL, shown[4096];
        snprintf(shown, sizeof shown, "%s", line);
        for (char *kv = strtok_r(line, " ", &save); kv; kv = strtok_r(NULL, " ", &save))
            og_option(&o, kv);
        double f[OG_SETS + 1], mean = 0;
        nf_cluster_scores full = {0};
        for (int k = 0; k <= OG_SETS; k++) {
            nf_events_result r;
            nf_error err;
            assert_int_equal(nfi_events_recluster(s[k].ev, &o, &r, &err), NF_OK);
            nf_cluster_scores sc = ev_score(&s[k].c, &r, false);
            f[k] = sc.bcubed_f1;
            if (k == 0)
                full = sc;
            if (k >= 3 && k < OG_SETS)
                mean += f[k] / 16;
            nf_events_result_free(&r);
        }
        printf("og %.4f (P %.4f R %.4f) time %.4f/%.4f event-halves %.4f uci %.4f | %s\n", f[0],
               full.bcubed_precision, full.bcubed_recall, f[1], f[2], mean, f[OG_SETS], shown);
        fflush(stdout);
    }
}

int main(int argc, char **argv)
{
    const char *shared = argc > 1 ? argv[1] : NF_SHARED_DIR;
    const char *phase = argc > 2 ? argv[2] : "all";
    if (strcmp(phase, "og") == 0) {
        tune_og(shared);
        return 0;
    }
    if (strcmp(phase, "headlines") == 0) {
        dump_headlines(shared, argc > 3 ? argv[3] : "headlines.tsv", argv + 4, argc > 4 ? argc - 4 : 0);
        return 0;
    }
    int part = argc > 3 ? atoi(argv[3]) : 0, parts = argc > 4 ? atoi(argv[4]) : 1;
    tuner t;
    prepare(&t, shared);
    nf_events_options o;
    nf_events_options_default(&o);
    if (strcmp(phase, "pivot") == 0) {
        o = search_pivot(&t, o);
        printf("best pivot: ");
        print_row(&o, &(outcome){0});
    } else if (strcmp(phase, "storylines") != 0) {
        o = search_events(&t, o, part, parts);
        printf("best events: ");
        print_row(&o, &(outcome){0});
    }
    if (strcmp(phase, "storylines") != 0) {
        o = search_short(&t, o);
        printf("best short: ");
        print_row(&o, &(outcome){0});
    }
    if (strcmp(phase, "events") != 0)
        o = search_storylines(&t, o);
    outcome r = evaluate(&t, &o);
    printf("best: ");
    print_row(&o, &r);
    for (int k = 0; k < N_CORPORA; k++) {
        nf_events_free(t.ev[k]);
        nf_links_free(t.links[k]);
        if (k < 2)
            nf_events_free(t.plain[k]);
        ev_corpus_free(&t.c[k]);
    }
    return 0;
}
