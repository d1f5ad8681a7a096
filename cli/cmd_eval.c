/*
 * cmd_eval.c - `newsfold eval`: scores a clustering against a gold one.
 *
 * Both files map ids to labels; each may be
 *   - JSONL: one object per line with "id" and the label field,
 *   - TSV: id in the first column; with a header row ("id" first), the
 *     label column is the one named by the key, else the second column,
 *   - a gold document like examples/gold.json: {"documents": {id: {...}}}.
 * Every gold id is scored; a gold id missing from the prediction (or with a
 * null label there) counts as a cluster of its own. Predicted ids that are
 * not in the gold file are ignored and counted. Labels are compared as
 * strings (numbers are written in decimal first). After the scores, the
 * worst split gold clusters and the worst merged predicted ones are listed
 * with their largest parts and a title of each (from the prediction).
 */
#include "cli.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>


static const char eval_usage[] =
    "usage: newsfold eval --gold GOLD [--gold GOLD2 ...] --pred PRED [--key K] [--gold-key K] [--json]\n"
    "\n"
    "Scores predicted clusters against gold clusters: pairwise precision,\n"
    "recall and F1, B-cubed precision, recall and F1, and the adjusted Rand\n"
    "index. Files are JSONL (objects with \"id\" and the label field), TSV (id,\n"
    "label; a header row names the columns) or {\"documents\": {id: {...}}}.\n"
    "Then the 3 gold clusters split worst and the 3 predicted clusters that\n"
    "merge the most, each with its largest parts and one title per part.\n"
    "\n"
    "options:\n"
    "      --gold FILE     gold labels (repeat to concatenate files)\n"
    "      --pred FILE     predicted labels, e.g. documents.jsonl of newsfold run\n"
    "      --key K         label field: group, event or storyline (default event)\n"
    "      --gold-key K    label field or column in the gold file (default: --key,\n"
    "                      else the second TSV column)\n"
    "      --json          print one JSON object instead of a table\n"
    "  -h, --help          this help\n";

typedef struct eval_cli {
    const char *gold[16];
    int n_gold;
    const char *pred, *key, *gold_key;
    bool json;
} eval_cli;

static int parse_args(int argc, char **argv, eval_cli *o)
{
    static const struct option longs[] = {
        {"gold", required_argument, 0, 'g'},
        {"pred", required_argument, 0, 'p'},
        {"key", required_argument, 0, 'k'},
        {"gold-key", required_argument, 0, 'G'},
        {"json", no_argument, 0, 'J'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    o->key = "event";
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'g':
            if (o->n_gold == 16) {
                fputs("newsfold eval: at most 16 --gold files\n", stderr);
                return -1;
            }
            o->gold[o->n_gold++] = optarg;
            break;
        case 'p': o->pred = optarg; break;
        case 'k': o->key = optarg; break;
        case 'G': o->gold_key = optarg; break;
        case 'J': o->json = true; break;
        case 'h': fputs(eval_usage, stdout); return 1;
        default: fputs(eval_usage, stderr); return -1;
        }
    }
    if (!o->n_gold || !o->pred || optind < argc) {
        fputs(optind < argc ? "newsfold eval: unexpected argument\n"
                            : "newsfold eval: --gold and --pred are required\n",
              stderr);
        fputs(eval_usage, stderr);
        return -1;
    }
    return 0;
}

static void print_scores(const eval_cli *o, const nf_cluster_scores *s, size_t missing, size_t extra)
{
    if (o->json) {
        printf(
            "{\"key\":\"%s\",\"items\":%zu,\"gold_clusters\":%zu,\"pred_clusters\":%zu,\"missing\":%zu,"
            "\"extra\":%zu,\"pair_precision\":%.4f,\"pair_recall\":%.4f,\"pair_f1\":%.4f,"
            "\"bcubed_precision\":%.4f,\"bcubed_recall\":%.4f,\"bcubed_f1\":%.4f,\"ari\":%.4f}\n",
            o->key, s->n, s->gold_clusters, s->pred_clusters, missing, extra, s->pair_precision,
            s->pair_recall, s->pair_f1, s->bcubed_precision, s->bcubed_recall, s->bcubed_f1, s->ari);
        return;
    }
    printf("key %s: %zu items, %zu gold clusters, %zu predicted clusters", o->key, s->n, s->gold_clusters,
           s->pred_clusters);
    printf(" (%zu gold ids missing from the prediction, %zu predicted ids not in gold)\n", missing, extra);
    printf("pairwise  P %.4f  R %.4f  F1 %.4f\n", s->pair_precision, s->pair_recall, s->pair_f1);
    printf("B-cubed   P %.4f  R %.4f  F1 %.4f\n", s->bcubed_precision, s->bcubed_recall, s->bcubed_f1);
    printf("ARI       %.4f\n", s->ari);
}

#define WORST 3      /* clusters shown on each side */
#define WORST_PARTS 4 /* parts shown per cluster */

typedef struct part {
    uint32_t label;
    size_t count, first; /* items, and the first item (for its title) */
} part;

static int cmp_part(const void *x, const void *y)
{
    const part *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return a->label < b->label ? -1 : a->label > b->label;
}

static const char *label_name(const nf_labels *l, uint32_t label)
{
    return label < l->n_names ? l->name[label] : "(none)";
}

/* The parts (clusters of the other side) of the cluster `label` of side a. */
static size_t parts_of(const uint32_t *a, const uint32_t *b, size_t n, uint32_t label, part *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] != label)
            continue;
        size_t k = 0;
        while (k < m && out[k].label != b[i])
            k++;
        if (k == m)
            out[m++] = (part){b[i], 0, i};
        out[k].count++;
    }
    qsort(out, m, sizeof *out, cmp_part);
    return m;
}

/* One worst cluster: its name, size, loss, then its largest parts with the
 * title of one document each (titles come from the prediction's JSONL). */
static void print_worst(const nf_cluster_error *e, const uint32_t *a, const uint32_t *b, size_t n,
                        const nf_labels *side, const nf_labels *other, const char *other_what, const nf_labels *gold,
                        const nf_labels *pred, const size_t *pred_index, part *parts)
{
    printf("  %s: %zu documents in %zu %s, %.1f lost\n", label_name(side, e->label), e->size, e->parts,
           other_what, e->loss);
    size_t m = parts_of(a, b, n, e->label, parts);
    for (size_t k = 0; k < m && k < WORST_PARTS; k++) {
        size_t i = parts[k].first;
        const char *t = pred_index[i] != SIZE_MAX ? pred->title[pred_index[i]] : NULL;
        printf("    %5zu x %-14s %s  \"%s\"\n", parts[k].count, label_name(other, parts[k].label), gold->id[i],
               t ? t : "");
    }
    if (m > WORST_PARTS)
        printf("    ... %zu more\n", m - WORST_PARTS);
}

static void report_worst(const uint32_t *g, const uint32_t *p, size_t n, const nf_labels *gold, const nf_labels *pred,
                         const size_t *pred_index)
{
    nf_cluster_error split[WORST], merged[WORST];
    size_t ns, nm;
    nf_error err;
    part *parts = malloc((n ? n : 1) * sizeof *parts);
    if (!parts || nf_cluster_worst(g, p, n, WORST, split, &ns, merged, &nm, &err) != NF_OK) {
        free(parts);
        return;
    }
    printf("worst split gold clusters (B-cubed recall lost, in documents):\n");
    for (size_t k = 0; k < ns; k++)
        print_worst(&split[k], g, p, n, gold, pred, "predicted clusters", gold, pred, pred_index, parts);
    printf("worst merged predicted clusters (B-cubed precision lost, in documents):\n");
    for (size_t k = 0; k < nm; k++)
        print_worst(&merged[k], p, g, n, pred, gold, "gold clusters", gold, pred, pred_index, parts);
    free(parts);
}

/* Gold and predicted label per gold id; a missing or null prediction
 * becomes a fresh label of its own. */
static int score(const eval_cli *o, nf_labels *gold, nf_labels *pred)
{
    uint32_t *g = malloc((gold->n ? gold->n : 1) * sizeof *g),
             *p = malloc((gold->n ? gold->n : 1) * sizeof *p);
    size_t *pi = malloc((gold->n ? gold->n : 1) * sizeof *pi); /* per gold item: its prediction's index */
    if (!g || !p || !pi) {
        free(g);
        free(p);
        free(pi);
        return EXIT_FATAL;
    }
    size_t missing = 0, found = 0;
    uint32_t fresh_g = gold->n_names, fresh_p = pred->n_names;
    for (size_t i = 0; i < gold->n; i++) {
        g[i] = gold->label[i] != NF_NO_LABEL ? gold->label[i] : fresh_g++;
        size_t at = nf_labels_find(pred, gold->id[i]);
        bool ok = at != SIZE_MAX;
        missing += !ok;
        found += ok;
        p[i] = ok && pred->label[at] != NF_NO_LABEL ? pred->label[at] : fresh_p++;
        pi[i] = at;
    }
    nf_cluster_scores s;
    nf_error err;
    int status = nf_cluster_eval(g, p, gold->n, &s, &err) == NF_OK ? EXIT_ALL_GOOD : EXIT_FATAL;
    if (status == EXIT_ALL_GOOD) {
        print_scores(o, &s, missing, pred->n - found);
        if (!o->json)
            report_worst(g, p, gold->n, gold, pred, pi);
    } else {
        fprintf(stderr, "newsfold eval: %s\n", err.message);
    }
    free(g);
    free(p);
    free(pi);
    return status;
}

static int load(nf_labels *l, const char *path, const char *key)
{
    nf_error err;
    size_t before = l->lines_ignored;
    if (nf_labels_read(l, path, key, &err) != NF_OK) {
        fprintf(stderr, "newsfold eval: cannot load %s\n", err.message);
        return EXIT_FATAL;
    }
    if (l->lines_ignored > before)
        fprintf(stderr, "newsfold eval: %s: %zu lines without \"id\" ignored (the first: line %zu)\n", path,
                l->lines_ignored - before, l->first_ignored);
    return EXIT_ALL_GOOD;
}

int cmd_eval(int argc, char **argv)
{
    eval_cli o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc > 0 ? EXIT_ALL_GOOD : EXIT_FATAL;
    nf_labels gold = {0}, pred = {0};
    int status = EXIT_ALL_GOOD;
    for (int i = 0; i < o.n_gold && status == EXIT_ALL_GOOD; i++)
        status = load(&gold, o.gold[i], o.gold_key ? o.gold_key : o.key);
    if (status == EXIT_ALL_GOOD)
        status = load(&pred, o.pred, o.key);
    if (status == EXIT_ALL_GOOD && gold.n == 0) {
        fprintf(stderr, "newsfold eval: no ids in the gold file\n");
        status = EXIT_FATAL;
    }
    if (status == EXIT_ALL_GOOD)
        status = score(&o, &gold, &pred);
    nf_labels_free(&gold);
    nf_labels_free(&pred);
    return status;
}
