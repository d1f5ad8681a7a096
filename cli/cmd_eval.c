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

#include "common/common.h"

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

typedef struct labels {
    nfi_hmap ids; /* hash of id -> index */
    char **id;   /* per index */
    uint32_t *label;
    size_t n, cap;
    char **title;  /* per index: the document's title (JSONL "title"), or NULL */
    nfi_hmap names; /* hash of label text -> label number */
    char **name;   /* per label number: its text */
    uint32_t n_names, cap_names;
} labels;

static void labels_free(labels *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->id[i]), free(l->title ? l->title[i] : NULL);
    for (uint32_t i = 0; i < l->n_names; i++)
        free(l->name[i]);
    free(l->name);
    free(l->title);
    free(l->id);
    free(l->label);
    nfi_hmap_free(&l->ids);
    nfi_hmap_free(&l->names);
}

#define NO_LABEL UINT32_MAX

static uint32_t intern(labels *l, const char *s)
{
    if (!s)
        return NO_LABEL;
    bool created;
    uint64_t *v = nfi_hmap_put(&l->names, nfi_hash64(s, strlen(s)), &created);
    if (!v)
        return NO_LABEL;
    if (created) {
        if (l->n_names == l->cap_names) {
            uint32_t cap = l->cap_names ? l->cap_names * 2 : 1024;
            char **names = realloc(l->name, cap * sizeof *names);
            if (!names)
                return NO_LABEL;
            l->name = names;
            l->cap_names = cap;
        }
        l->name[l->n_names] = nfi_strdup(s);
        *v = l->n_names++;
    }
    return (uint32_t)*v;
}

/* Adds id -> label (text or NULL) and title (or NULL); a repeated id keeps
 * its first label. */
static int put(labels *l, const char *id, const char *label, const char *title)
{
    bool created;
    uint64_t *v = nfi_hmap_put(&l->ids, nfi_hash64(id, strlen(id)), &created);
    if (!v)
        return -1;
    if (!created)
        return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 1024;
        char **ids = realloc(l->id, cap * sizeof *ids);
        uint32_t *lab = ids ? realloc(l->label, cap * sizeof *lab) : NULL;
        if (ids)
            l->id = ids;
        if (lab)
            l->label = lab;
        char **titles = lab ? realloc(l->title, cap * sizeof *titles) : NULL;
        if (!ids || !lab || !titles)
            return -1;
        l->title = titles;
        l->cap = cap;
    }
    *v = l->n;
    l->id[l->n] = nfi_strdup(id);
    l->title[l->n] = title ? nfi_strdup(title) : NULL;
    l->label[l->n++] = intern(l, label);
    return l->id[l->n - 1] ? 0 : -1;
}

/* The label text of a JSON value (string or number), NULL for null/absent. */
static const char *json_label(const cJSON *v, char *num, size_t n)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        snprintf(num, n, "%.17g", v->valuedouble);
        return num;
    }
    return NULL;
}

static int load_gold_doc(labels *l, const cJSON *docs, const char *key)
{
    const cJSON *d;
    char num[64];
    cJSON_ArrayForEach(d, docs)
    {
        const char *label = json_label(cJSON_GetObjectItemCaseSensitive(d, key), num, sizeof num);
        if (put(l, d->string, label, NULL) != 0)
            return -1;
    }
    return 0;
}

static int load_jsonl(labels *l, char *text, const char *key, const char *path)
{
    size_t line = 0;
    for (char *p = text, *e; *p; p = e + (*e != '\0')) {
        e = p + strcspn(p, "\n");
        char save = *e;
        *e = '\0';
        line++;
        if (p[strspn(p, " \t\r")] == '\0') {
            *e = save;
            continue;
        }
        cJSON *o = cJSON_Parse(p);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        char num[64], idnum[64];
        const char *ids = json_label(id, idnum, sizeof idnum);
        const cJSON *title = cJSON_GetObjectItemCaseSensitive(o, "title");
        int rc = ids ? put(l, ids, json_label(cJSON_GetObjectItemCaseSensitive(o, key), num, sizeof num),
                           cJSON_IsString(title) ? title->valuestring : NULL)
                     : 1;
        cJSON_Delete(o);
        *e = save;
        if (rc > 0)
            fprintf(stderr, "newsfold eval: %s:%zu: no \"id\", line ignored\n", path, line);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Column of key in a TSV header, else 1. */
static int tsv_column(char *header, const char *key)
{
    int col = 0;
    for (char *f = header, *e;; f = e + 1, col++) {
        e = f + strcspn(f, "\t");
        if ((size_t)(e - f) == strlen(key) && strncmp(f, key, (size_t)(e - f)) == 0)
            return col;
        if (*e != '\t')
            return 1;
    }
}

static char *tsv_field(char *line, int col)
{
    char *f = line;
    for (int c = 0; c < col; c++) {
        f = strchr(f, '\t');
        if (!f)
            return NULL;
        f++;
    }
    f[strcspn(f, "\t")] = '\0';
    return f;
}

static int load_tsv(labels *l, char *text, const char *key)
{
    int col = 1;
    bool first = true;
    for (char *p = text, *next; p && *p; p = next) {
        char *e = p + strcspn(p, "\n");
        next = *e ? e + 1 : NULL;
        *e = '\0';
        if (e > p && e[-1] == '\r')
            e[-1] = '\0';
        if (first && strncmp(p, "id\t", 3) == 0) {
            col = tsv_column(p, key);
            first = false;
            continue;
        }
        first = false;
        size_t idlen = strcspn(p, "\t");
        char *label = tsv_field(p, col);
        p[idlen] = '\0';
        if (*p && put(l, p, label && *label ? label : NULL, NULL) != 0)
            return -1;
    }
    return 0;
}

static int load_labels(labels *l, const char *path, const char *key)
{
    char *text = nfi_read_file(path, NULL);
    if (!text) {
        perror(path);
        return -1;
    }
    int rc;
    cJSON *whole = text[strspn(text, " \t\r\n")] == '{' ? cJSON_Parse(text) : NULL;
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(whole, "documents");
    if (cJSON_IsObject(docs))
        rc = load_gold_doc(l, docs, key);
    else if (text[strspn(text, " \t\r\n")] == '{')
        rc = load_jsonl(l, text, key, path);
    else
        rc = load_tsv(l, text, key);
    cJSON_Delete(whole);
    free(text);
    if (rc != 0)
        fprintf(stderr, "newsfold eval: cannot load %s\n", path);
    return rc;
}

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

static const char *label_name(const labels *l, uint32_t label)
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
                        const labels *side, const labels *other, const char *other_what, const labels *gold,
                        const labels *pred, const size_t *pred_index, part *parts)
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

static void report_worst(const uint32_t *g, const uint32_t *p, size_t n, const labels *gold, const labels *pred,
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
static int score(const eval_cli *o, labels *gold, labels *pred)
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
        g[i] = gold->label[i] != NO_LABEL ? gold->label[i] : fresh_g++;
        const uint64_t *v = nfi_hmap_get(&pred->ids, nfi_hash64(gold->id[i], strlen(gold->id[i])));
        bool ok = v && strcmp(pred->id[*v], gold->id[i]) == 0;
        missing += !ok;
        found += ok;
        p[i] = ok && pred->label[*v] != NO_LABEL ? pred->label[*v] : fresh_p++;
        pi[i] = ok ? (size_t)*v : SIZE_MAX;
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

int cmd_eval(int argc, char **argv)
{
    eval_cli o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc > 0 ? EXIT_ALL_GOOD : EXIT_FATAL;
    labels gold = {0}, pred = {0};
    int status = EXIT_ALL_GOOD;
    for (int i = 0; i < o.n_gold && status == EXIT_ALL_GOOD; i++)
        if (load_labels(&gold, o.gold[i], o.gold_key ? o.gold_key : o.key) != 0)
            status = EXIT_FATAL;
    if (status == EXIT_ALL_GOOD && load_labels(&pred, o.pred, o.key) != 0)
        status = EXIT_FATAL;
    if (status == EXIT_ALL_GOOD && gold.n == 0) {
        fprintf(stderr, "newsfold eval: no ids in the gold file\n");
        status = EXIT_FATAL;
    }
    if (status == EXIT_ALL_GOOD)
        status = score(&o, &gold, &pred);
    labels_free(&gold);
    labels_free(&pred);
    return status;
}
