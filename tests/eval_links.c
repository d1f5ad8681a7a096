/*
 * eval_links.c - translation links on WMT21 (../shared/data/wmt21/de-fr and
 * fr-de): every version of a document (source, references, machine
 * translations) must land in that document's group.
 *
 * Groups join translation links and exact/near duplicates (union-find), as
 * `newsfold links --groups` does. Reports B-cubed precision/recall/F1 of the
 * groups against the gold document ids, P@1 (for each source document, is
 * the highest-scoring other-language document one of its versions?), the
 * precision of the translation links themselves, and score statistics of
 * true and false candidate pairs (what the calibration in src/links.c was
 * fitted on). Exits non-zero below F1 0.97 or P@1 0.97.
 * usage: eval_links SHARED_DIR [--dump FILE]   (--dump: components per pair)
 */
#include "test_util.h"

typedef struct gold_doc {
    char *id, *group, *lang;
    bool is_src;
} gold_doc;

static uint32_t find_root(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x)
        x = parent[x] = parent[parent[x]];
    return x;
}

static void join(uint32_t *parent, uint32_t a, uint32_t b)
{
    a = find_root(parent, a), b = find_root(parent, b);
    if (a != b)
        parent[a > b ? a : b] = a < b ? a : b;
}

/* B-cubed over items with predicted root and gold group. */
static void bcubed(const uint32_t *pred, const gold_doc *g, size_t n, double *p, double *r)
{
    double sp = 0, sr = 0;
    for (size_t i = 0; i < n; i++) {
        size_t same_pred = 0, same_gold = 0, both = 0;
        for (size_t j = 0; j < n; j++) {
            bool sg = strcmp(g[i].group, g[j].group) == 0, spd = pred[i] == pred[j];
            same_pred += spd, same_gold += sg, both += sg && spd;
        }
        sp += (double)both / same_pred;
        sr += (double)both / same_gold;
    }
    *p = sp / n, *r = sr / n;
}

static int eval_pair(const char *shared, const char *pair, FILE *dump, double *f1_out, double *p1_out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/data/wmt21/%s/docs.jsonl", shared, pair);
    tu_corpus c = tu_clean_path(path, 2, 0);
    gold_doc *g = calloc(c.n, sizeof *g);
    for (size_t i = 0; i < c.n; i++) {
        g[i].id = c.docs[i].doc.id;
        g[i].group = strndup(g[i].id, strcspn(g[i].id, "|"));
        g[i].lang = c.docs[i].lang;
        g[i].is_src = strstr(g[i].id, "|src") != NULL;
    }
    nf_links_options lo;
    nf_links_options_default(&lo);
    lo.threads = 2;
    nf_links *l;
    nf_error err;
    nf_links_result lr;
    if (nf_links_new(&l, &lo, &err) || nf_links_add(l, c.docs, c.n, &err) || nf_links_finish(l, &lr, &err)) {
        fprintf(stderr, "links: %s\n", err.message);
        return 2;
    }
    nf_dedup_options dopt;
    nf_dedup_options_default(&dopt);
    nf_dedup *d;
    nf_dedup_result dr;
    if (nf_dedup_new(&d, &dopt, &err) || nf_dedup_add(d, c.docs, c.n, &err) || nf_dedup_finish(d, &dr, &err)) {
        fprintf(stderr, "dedup: %s\n", err.message);
        return 2;
    }
    uint32_t *parent = malloc(c.n * sizeof *parent);
    for (uint32_t i = 0; i < c.n; i++)
        parent[i] = i;
    size_t correct_links = 0;
    for (size_t k = 0; k < lr.n_links; k++) {
        join(parent, lr.links[k].a, lr.links[k].b);
        bool right = strcmp(g[lr.links[k].a].group, g[lr.links[k].b].group) == 0;
        correct_links += right;
        if (!right && getenv("EVAL_LINKS_VERBOSE"))
            fprintf(stderr, "false link %.3f %s %s\n", lr.links[k].score, g[lr.links[k].a].id, g[lr.links[k].b].id);
    }
    for (size_t k = 0; k < dr.n_pairs; k++)
        if (dr.pairs[k].relation == NF_REL_EXACT || dr.pairs[k].relation == NF_REL_NEAR)
            join(parent, dr.pairs[k].a, dr.pairs[k].b);
    for (uint32_t i = 0; i < c.n; i++)
        parent[i] = find_root(parent, i);
    double bp, br;
    bcubed(parent, g, c.n, &bp, &br);
    double f1 = 2 * bp * br / (bp + br);
    /* P@1 and score statistics over all source x other-language pairs */
    size_t n_src = 0, hits = 0, n_true = 0, n_false = 0;
    double true_min = 1, false_max = 0;
    for (size_t a = 0; a < c.n; a++) {
        if (!g[a].is_src)
            continue;
        n_src++;
        double best = -1;
        size_t best_b = 0;
        for (size_t b = 0; b < c.n; b++) {
            if (strcmp(g[a].lang, g[b].lang) == 0)
                continue;
            nf_link_explain e;
            nf_links_explain(l, a, b, &e, &err);
            bool truth = strcmp(g[a].group, g[b].group) == 0;
            if (truth) {
                n_true++;
                true_min = e.score < true_min ? e.score : true_min;
            } else {
                n_false++;
                false_max = e.score > false_max ? e.score : false_max;
            }
            if (dump)
                fprintf(dump, "%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\n", truth, e.cosine,
                        e.terms, e.names, e.numbers, e.dates, e.alignment, e.length_ratio, e.score, e.order);
            if (e.score > best)
                best = e.score, best_b = b;
        }
        hits += best >= 0 && strcmp(g[a].group, g[best_b].group) == 0;
    }
    double p1 = n_src ? (double)hits / n_src : 0;
    printf("%s: %zu versions, %zu links (precision %.4f); B-cubed P %.4f R %.4f F1 %.4f; P@1 %.4f (%zu/%zu); "
           "true pairs min score %.3f (%zu), false pairs max %.3f (%zu)\n",
           pair, c.n, lr.n_links, lr.n_links ? (double)correct_links / lr.n_links : 1.0, bp, br, f1, p1, hits,
           n_src, true_min, n_true, false_max, n_false);
    *f1_out = f1, *p1_out = p1;
    nf_links_result_free(&lr);
    nf_links_free(l);
    nf_dedup_result_free(&dr);
    nf_dedup_free(d);
    for (size_t i = 0; i < c.n; i++)
        free(g[i].group);
    free(g);
    free(parent);
    tu_corpus_free(&c);
    return 0;
}

/* Components of every cross-language pair of examples/, labelled by its
 * gold translation pairs (for fitting the calibration). */
static void dump_examples(const char *source_dir, FILE *dump)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/examples/gold.json", source_dir);
    cJSON *gold = tu_read_json(path);
    snprintf(path, sizeof path, "%s/examples/corpus", source_dir);
    tu_corpus c = tu_clean_path(path, 2, 0);
    nf_links *l;
    nf_error err;
    nf_links_result lr;
    if (!gold || nf_links_new(&l, NULL, &err) || nf_links_add(l, c.docs, c.n, &err) || nf_links_finish(l, &lr, &err))
        exit(2);
    for (size_t a = 0; a < c.n; a++)
        for (size_t b = a + 1; b < c.n; b++) {
            if (strcmp(c.docs[a].lang, c.docs[b].lang) == 0)
                continue;
            int truth = 0;
            const cJSON *p;
            cJSON_ArrayForEach(p, cJSON_GetObjectItem(gold, "pairs"))
            {
                const char *x = cJSON_GetObjectItem(p, "a")->valuestring, *y = cJSON_GetObjectItem(p, "b")->valuestring;
                if (strcmp(cJSON_GetObjectItem(p, "relation")->valuestring, "translation") == 0 &&
                    ((!strcmp(x, c.docs[a].doc.id) && !strcmp(y, c.docs[b].doc.id)) ||
                     (!strcmp(y, c.docs[a].doc.id) && !strcmp(x, c.docs[b].doc.id))))
                    truth = 1;
            }
            nf_link_explain e;
            nf_links_explain(l, a, b, &e, &err);
            fprintf(dump, "%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\n", truth, e.cosine, e.terms,
                    e.names, e.numbers, e.dates, e.alignment, e.length_ratio, e.score, e.order);
        }
    nf_links_result_free(&lr);
    nf_links_free(l);
    tu_corpus_free(&c);
    cJSON_Delete(gold);
}

int main(int argc, char **argv)
{
    if (argc > 3 && strcmp(argv[1], "--dump-examples") == 0) {
        FILE *f = fopen(argv[3], "w");
        dump_examples(argv[2], f);
        fclose(f);
        return 0;
    }
    const char *shared = argc > 1 ? argv[1] : NF_SHARED_DIR;
    FILE *dump = argc > 3 && strcmp(argv[2], "--dump") == 0 ? fopen(argv[3], "w") : NULL;
    double f1a, p1a, f1b, p1b;
    if (eval_pair(shared, "de-fr", dump, &f1a, &p1a) || eval_pair(shared, "fr-de", dump, &f1b, &p1b))
        return 2;
    if (dump)
        fclose(dump);
    bool ok = f1a >= 0.97 && f1b >= 0.97 && p1a >= 0.97 && p1b >= 0.97;
    printf("eval_links: %d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
    return ok ? 0 : 1;
}
