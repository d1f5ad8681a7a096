/*
 * cmd_links.c - `newsfold links` (translation pairs across languages, and
 * with --groups the versions of one text grouped) and `newsfold compare`
 * (why two documents are, or are not, linked). Arguments and printing only:
 * the pairs come from nf_links_finish, the groups from nf_links_group.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>


static const char links_usage[] =
    "usage: newsfold links [options] INPUT...\n"
    "\n"
    "Finds translations across languages without a neural model: names,\n"
    "numbers, dates and bilingual dictionaries. Writes one JSON object per\n"
    "pair: a, b, relation (translation), score, lang_a, lang_b.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   write here instead of stdout\n"
    "      --groups        instead, one record per document: id, group, canonical,\n"
    "                      relation (canonical|exact|near|contained|translation|unique), score\n"
    "      --threshold T   minimum calibrated score of a translation (default 0.5)\n"
    "      --lexicon FILE  your own word pairs, TSV: lang, word, english\n"
    "      --dict-dir DIR  dictionaries: FreeDict dictd files, edict, cedict_ts.u8\n"
    "                      (default /usr/share/dictd, /usr/share/edict and where\n"
    "                      scripts/cedict.sh installs CC-CEDICT)\n"
    "      --cache-dir DIR compiled dictionaries (default ~/.cache/newsfold)\n"
    "  -j, --threads N     worker threads (default: all cores)\n"
    "      --batch N       documents per batch (default 4096; cleaning learns a\n"
    "                      site's boilerplate within a batch)\n"
    "      --mpi           run under mpirun: ranks share the cleaning, pivots and\n"
    "                      finish, rank 0 writes the output (docs/distributed.md)\n"
    "      --stats         throughput and peak memory on stderr\n"
    "  -q, --quiet         no progress, no summary\n"
    "  -h, --help          this help\n";

static const char compare_usage[] =
    "usage: newsfold compare [options] A B\n"
    "\n"
    "Explains whether documents A and B (files, or ids with --in INPUT) are\n"
    "translations of each other: shared names, numbers, dates, dictionary\n"
    "terms, aligned paragraphs, each score component and the decision.\n"
    "\n"
    "options:\n"
    "      --in INPUT      look A and B up by id among INPUT's documents (also the\n"
    "                      background for term weights); repeatable\n"
    "      --threshold T, --lexicon FILE, --dict-dir DIR, --cache-dir DIR as for links\n"
    "  -h, --help          this help\n";

typedef struct links_cli {
    const char *output;
    nf_links_options links;
    nf_clean_options clean;
    bool groups, quiet, stats;
    bool mpi;          /* --mpi (docs/distributed.md) */
    size_t batch_docs; /* --batch; 0: the default */
    char **in;
    size_t n_in;
} links_cli;

enum { OPT_GROUPS = 256, OPT_THRESHOLD, OPT_LEXICON, OPT_DICT, OPT_CACHE, OPT_STATS, OPT_IN, OPT_MPI, OPT_BATCH };

static int parse_args(int argc, char **argv, links_cli *o, const char *usage)
{
    static const struct option longs[] = {
        {"output", required_argument, 0, 'o'},         {"groups", no_argument, 0, OPT_GROUPS},
        {"threshold", required_argument, 0, OPT_THRESHOLD}, {"lexicon", required_argument, 0, OPT_LEXICON},
        {"dict-dir", required_argument, 0, OPT_DICT},  {"cache-dir", required_argument, 0, OPT_CACHE},
        {"threads", required_argument, 0, 'j'},        {"stats", no_argument, 0, OPT_STATS},
        {"in", required_argument, 0, OPT_IN},          {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},                 {"mpi", no_argument, 0, OPT_MPI},
        {"batch", required_argument, 0, OPT_BATCH},    {0, 0, 0, 0},
    };
    nf_links_options_default(&o->links);
    nf_clean_options_default(&o->clean);
    o->clean.threads = o->links.threads = nf_cli_default_threads();
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "o:j:qh", longs, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case OPT_GROUPS: o->groups = true; break;
        case OPT_THRESHOLD:
            o->links.threshold = strtod(optarg, &end);
            if (*end || o->links.threshold < 0 || o->links.threshold > 1) {
                fprintf(stderr, "newsfold: bad threshold '%s'\n", optarg);
                return -1;
            }
            break;
        case OPT_LEXICON: o->links.lexicon_file = optarg; break;
        case OPT_DICT: o->links.dict_dir = optarg; break;
        case OPT_CACHE: o->links.cache_dir = optarg; break;
        case OPT_STATS: o->stats = true; break;
        case OPT_MPI: o->mpi = true; break;
        case OPT_BATCH:
            if (!(o->batch_docs = strtoul(optarg, &end, 10)) || *end) {
                fprintf(stderr, "newsfold: bad batch size '%s'\n", optarg);
                return -1;
            }
            break;
        case OPT_IN: {
            char **g = realloc(o->in, (o->n_in + 1) * sizeof *g);
            if (!g)
                return -1;
            o->in = g;
            o->in[o->n_in++] = optarg;
            break;
        }
        case 'j':
            if ((o->clean.threads = o->links.threads = nf_cli_threads(optarg)) < 1) {
                fprintf(stderr, "newsfold: bad thread count '%s'\n", optarg);
                return -1;
            }
            break;
        case 'q': o->quiet = true; break;
        case 'h': fputs(usage, stdout); return 1;
        default: fputs(usage, stderr); return -1;
        }
    }
    return 0;
}

/* What the commands keep per document after its batch is freed. */
typedef struct kept_docs {
    nf_links *links;
    nf_dedup *dedup; /* --groups only */
    char **ids, **langs;
    int32_t *published;
    char **origins, **texts; /* compare only */
    bool keep_text;
    size_t n, cap;
} kept_docs;

static int keep_batch(void *p, nf_clean_doc *docs, size_t n)
{
    kept_docs *k = p;
    nf_error err;
    if (nf_links_add(k->links, docs, n, &err) != NF_OK || (k->dedup && nf_dedup_add(k->dedup, docs, n, &err))) {
        fprintf(stderr, "newsfold: %s\n", err.message);
        return -1;
    }
    if (k->n + n > k->cap) {
        size_t cap = (k->n + n) * 2;
        char **ids = realloc(k->ids, cap * sizeof *ids);
        char **langs = ids ? realloc(k->langs, cap * sizeof *langs) : NULL;
        int32_t *pub = langs ? realloc(k->published, cap * sizeof *pub) : NULL;
        char **origins = pub ? realloc(k->origins, cap * sizeof *origins) : NULL;
        char **texts = origins ? realloc(k->texts, cap * sizeof *texts) : NULL;
        if (ids)
            k->ids = ids;
        if (langs)
            k->langs = langs;
        if (pub)
            k->published = pub;
        if (origins)
            k->origins = origins;
        if (texts)
            k->texts = texts;
        if (!ids || !langs || !pub || !origins || !texts)
            return -1;
        k->cap = cap;
    }
    for (size_t i = 0; i < n; i++, k->n++) {
        k->ids[k->n] = strdup(docs[i].doc.id);
        k->langs[k->n] = strdup(docs[i].lang);
        k->published[k->n] = docs[i].published[0] ? atoi(docs[i].published) * 10000 +
                                                         atoi(docs[i].published + 5) * 100 + atoi(docs[i].published + 8)
                                                   : INT32_MAX;
        k->origins[k->n] = k->keep_text ? strdup(docs[i].doc.origin) : NULL;
        k->texts[k->n] = k->keep_text ? strndup(docs[i].text, docs[i].text_len) : NULL;
        if (!k->ids[k->n] || !k->langs[k->n] || (k->keep_text && (!k->origins[k->n] || !k->texts[k->n])))
            return -1;
    }
    return 0;
}

static void kept_free(kept_docs *k)
{
    for (size_t i = 0; i < k->n; i++) {
        free(k->ids[i]);
        free(k->langs[i]);
        if (k->keep_text) {
            free(k->origins[i]);
            free(k->texts[i]);
        }
    }
    free(k->ids);
    free(k->langs);
    free(k->origins);
    free(k->texts);
    free(k->published);
    nf_links_free(k->links);
    nf_dedup_free(k->dedup);
}

static void write_pairs(FILE *out, const kept_docs *k, const nf_links_result *r)
{
    nf_buffer b = {0};
    for (size_t i = 0; i < r->n_links; i++) {
        const nf_link *l = &r->links[i];
        b.len = 0;
        nf_jsonl_link(&b, k->ids[l->a], k->ids[l->b], l->score, k->langs[l->a], k->langs[l->b]);
        fwrite(b.data, 1, b.len, out);
    }
    nf_buffer_free(&b);
}

/* One record per document: its translation group (nf_links_group). */
static int write_groups(FILE *out, const kept_docs *k, const nf_links_result *r, const nf_dedup_result *d)
{
    nf_links_group_order order = {(const char *const *)k->ids, k->published};
    nf_links_groups g;
    nf_error err;
    if (nf_links_group(r, d, k->n, &order, &g, &err) != NF_OK) {
        fprintf(stderr, "newsfold links: %s\n", err.message);
        return -1;
    }
    nf_buffer b = {0};
    for (size_t i = 0; i < g.n_docs; i++) {
        const nf_links_group_doc *gd = &g.docs[i];
        b.len = 0;
        nf_jsonl_group_member(&b, k->ids[i], k->ids[gd->canonical], gd->relation, gd->score, k->langs[i]);
        fwrite(b.data, 1, b.len, out);
    }
    nf_buffer_free(&b);
    nf_links_groups_free(&g);
    return 0;
}

/* Writes the pairs (or with --groups the groups) to -o; the exit status. */
static int write_links(const links_cli *o, const kept_docs *k, const nf_links_result *lr, const nf_dedup_result *dr)
{
    cli_output outf;
    FILE *out = cli_output_open(&outf, "links", o->output);
    if (!out)
        return EXIT_FATAL;
    int status = EXIT_ALL_GOOD;
    if (o->groups) {
        if (write_groups(out, k, lr, dr) != 0)
            status = EXIT_FATAL;
    } else
        write_pairs(out, k, lr);
    if (cli_output_close(&outf, true))
        status = EXIT_FATAL;
    return status;
}

/* --mpi (docs/distributed.md): the ranks split the input, build the pivots
 * of their batches and finish together; rank 0 gets the ids and the links
 * and alone writes. Each skipped record is named once, by the rank that reads it. */
/* Rank 0: the output's view of the gathered documents (ids and languages
 * stay the nf_mpi_links'). */
static int mpi_kept(const nf_mpi_links *ml, kept_docs *k)
{
    k->n = nf_mpi_links_size(ml);
    k->ids = calloc(k->n + 1, sizeof *k->ids);
    k->langs = calloc(k->n + 1, sizeof *k->langs);
    k->published = calloc(k->n + 1, sizeof *k->published);
    if (!k->ids || !k->langs || !k->published)
        return -1;
    for (size_t i = 0; i < k->n; i++) {
        nf_mpi_doc d = nf_mpi_links_doc(ml, i);
        k->ids[i] = (char *)d.id;
        k->langs[i] = (char *)d.lang;
        k->published[i] = d.published[0] ? atoi(d.published) * 10000 + atoi(d.published + 5) * 100 +
                                               atoi(d.published + 8)
                                         : INT32_MAX;
    }
    return 0;
}

static void mpi_stats(nf_mpi *m, const nf_mpi_links *ml, const cli_totals *totals, int threads)
{
    nf_mpi_stats s;
    nf_mpi_links_stats(ml, &s);
    cli_report_mpi_stats("links", "read+clean+pivots", m, &s, totals, threads);
}

static int links_mpi(const links_cli *o, char **paths, size_t n_paths)
{
    nf_error err;
    nf_mpi *m = cli_mpi_start("links");
    nf_mpi_links *ml = NULL;
    if (!m)
        return EXIT_FATAL;
    int rank = nf_mpi_rank(m);
    nf_dedup_options dopt;
    nf_dedup_options_default(&dopt);
    dopt.threads = o->links.threads;
    if (nf_mpi_links_new(&ml, m, &o->clean, &o->links, o->groups ? &dopt : NULL, &err) != NF_OK)
        cli_mpi_stop("links", m, err.message);
    cli_totals totals = {0};
    progress_init(&totals.progress, true);
    nf_mpi_input in = cli_mpi_input("links", paths, n_paths, o->batch_docs);
    nf_mpi_totals t;
    int status = EXIT_ALL_GOOD;
    nf_links_result lr = {0};
    nf_dedup_result dr = {0};
    if (nf_mpi_links_run(ml, &in, &t, &err) != NF_OK || nf_mpi_links_finish(ml, &lr, &dr, &err) != NF_OK) {
        fprintf(stderr, "newsfold links: rank %d: %s\n", rank, err.message);
        status = EXIT_FATAL;
    }
    cli_mpi_totals(&totals, &t);
    kept_docs k;
    memset(&k, 0, sizeof k);
    if (status != EXIT_FATAL && rank == 0 && mpi_kept(ml, &k) != 0) {
        fprintf(stderr, "newsfold links: rank 0: out of memory\n");
        status = EXIT_FATAL;
    }
    if (status != EXIT_FATAL && rank == 0)
        status = write_links(o, &k, &lr, &dr);
    if (status == EXIT_FATAL)
        cli_mpi_stop("links", m, NULL);
    if (o->stats)
        mpi_stats(m, ml, &totals, o->links.threads);
    free(k.ids), free(k.langs), free(k.published);
    nf_links_result_free(&lr);
    nf_dedup_result_free(&dr);
    nf_mpi_links_free(ml);
    nf_mpi_finalize(m);
    return cli_finish_status("links", &totals, o->quiet || rank != 0, status);
}

int cmd_links(int argc, char **argv)
{
    links_cli o;
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o, links_usage);
    if (rc || optind >= argc) {
        if (!rc)
            fputs("newsfold links: no INPUT given\n", stderr);
        free(o.in);
        return rc > 0 ? EXIT_ALL_GOOD : EXIT_FATAL;
    }
    o.clean.dates = o.groups; /* publication dates only order a group's members; pivots read no date of it */
    if (o.mpi) {
        free(o.in);
        return links_mpi(&o, argv + optind, (size_t)(argc - optind));
    }
    kept_docs k;
    memset(&k, 0, sizeof k);
    nf_error err;
    nf_dedup_options dopt;
    nf_dedup_options_default(&dopt);
    dopt.threads = o.links.threads;
    if (nf_links_new(&k.links, &o.links, &err) != NF_OK || (o.groups && nf_dedup_new(&k.dedup, &dopt, &err))) {
        fprintf(stderr, "newsfold links: %s\n", err.message);
        kept_free(&k);
        return EXIT_FATAL;
    }
    cli_input in = {.command = "links", .paths = argv + optind, .n_paths = (size_t)(argc - optind), .clean = o.clean, .max_record = 0, .batch_docs = o.batch_docs, .quiet = o.quiet};
    cli_totals totals = {0};
    int status = cli_run_batches(&in, keep_batch, &k, &totals);
    nf_links_result lr = {0};
    nf_dedup_result dr = {0};
    if (status != EXIT_FATAL &&
        (nf_links_end_adding(k.links, &err) != NF_OK || nf_links_finish(k.links, &lr, &err) != NF_OK ||
         (k.dedup && nf_dedup_finish(k.dedup, &dr, &err)))) {
        fprintf(stderr, "newsfold links: %s\n", err.message);
        status = EXIT_FATAL;
    }
    if (status != EXIT_FATAL) {
        int written = write_links(&o, &k, &lr, &dr);
        if (written != EXIT_ALL_GOOD)
            status = written;
    }
    if (o.stats)
        cli_report_stats("links", &totals, o.links.threads);
    nf_links_result_free(&lr);
    nf_dedup_result_free(&dr);
    kept_free(&k);
    free(o.in);
    return cli_finish_status("links", &totals, o.quiet, status);
}

/* ------------------------------------------------------------ compare */

static long resolve(const kept_docs *k, const char *what)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->ids[i], what) == 0)
            return (long)i;
    for (size_t i = 0; i < k->n; i++)
        if (k->origins[i] && strcmp(k->origins[i], what) == 0)
            return (long)i;
    return -1;
}

static const char *kind_names[] = {"dictionary terms", "names", "numbers", "dates"};

/* The words behind feature f of document d, or "" (dates have none). */
static void surface(const kept_docs *k, const nf_pivot *p, size_t d, size_t f, char *out, size_t cap)
{
    uint32_t at = p->surface[2 * f], len = p->surface[2 * f + 1];
    snprintf(out, cap, "%.*s", (int)(len < cap - 1 ? len : cap - 1), len ? k->texts[d] + at : "");
}

static void show_shared(const kept_docs *k, const nf_links *l, size_t a, size_t b, int kind)
{
    const nf_pivot *pa = nf_links_pivot(l, a), *pb = nf_links_pivot(l, b);
    size_t i = 0, j = 0, shown = 0, total = 0;
    nf_buffer line = {0};
    while (i < pa->n_features && j < pb->n_features) {
        const nf_pivot_feature *fa = &pa->features[i], *fb = &pb->features[j];
        if (fa->hash < fb->hash) {
            i++;
            continue;
        }
        if (fa->hash > fb->hash) {
            j++;
            continue;
        }
        if (nf_pivot_kind_of(fa->hash) == (nf_pivot_kind)kind) {
            total++;
            char sa[80], sb[80];
            surface(k, pa, a, i, sa, sizeof sa);
            surface(k, pb, b, j, sb, sizeof sb);
            if (shown < 40 && (sa[0] || sb[0])) {
                nf_buffer_printf(&line, "%s%s", shown ? ", " : "", sa);
                if (strcmp(sa, sb) != 0)
                    nf_buffer_printf(&line, " = %s", sb);
                shown++;
            }
        }
        i++, j++;
    }
    printf("  %-17s %zu shared%s%s\n", kind_names[kind], total, line.len ? ": " : "", line.len ? line.data : "");
    nf_buffer_free(&line);
}

static void explain(const kept_docs *k, const nf_links *l, const nf_links_result *r, size_t a, size_t b,
                    double threshold)
{
    nf_link_explain e;
    nf_error err;
    if (nf_links_explain(l, a, b, &e, &err) != NF_OK) {
        fprintf(stderr, "newsfold compare: %s\n", err.message);
        return;
    }
    printf("A: %s (%s)\nB: %s (%s)\n\nshared:\n", k->ids[a], k->langs[a], k->ids[b], k->langs[b]);
    for (int kind = NF_PIVOT_NAME; kind <= NF_PIVOT_DATE; kind++)
        show_shared(k, l, a, b, kind);
    show_shared(k, l, a, b, NF_PIVOT_TERM);
    const nf_pivot *pa = nf_links_pivot(l, a), *pb = nf_links_pivot(l, b);
    printf("\nparagraphs: A %zu, B %zu; aligned in order: %.0f%% of the longer\n", pa->n_paragraphs,
           pb->n_paragraphs, 100 * e.alignment);
    printf("\nscore components (weighted cosine unless noted):\n"
           "  all features %.3f   terms %.3f   names %.3f   numbers %.3f   dates %.3f\n"
           "  paragraph alignment %.3f   length ratio %.3f\n"
           "  calibrated score %.3f (logit %.2f), threshold %.2f\n",
           e.cosine, e.terms, e.names, e.numbers, e.dates, e.alignment, e.length_ratio, e.score, e.logit, threshold);
    bool linked = false;
    for (size_t i = 0; i < r->n_links; i++)
        linked |= (r->links[i].a == a && r->links[i].b == b) || (r->links[i].a == b && r->links[i].b == a);
    const char *why = strcmp(k->langs[a], k->langs[b]) == 0 ? " (same language: translations are across languages)"
                      : linked                              ? ""
                      : e.score < threshold                 ? " (score below the threshold)"
                                                            : " (a better match exists for one side in the other's language)";
    printf("\ndecision: %s%s\n", linked ? "translation" : "not a translation", why);
}

int cmd_compare(int argc, char **argv)
{
    links_cli o;
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o, compare_usage);
    if (!rc && o.mpi) {
        fputs("newsfold compare: --mpi is for links\n", stderr);
        rc = -1;
    }
    if (rc || argc - optind != 2) {
        if (!rc)
            fputs(compare_usage, stderr);
        free(o.in);
        return rc > 0 ? EXIT_ALL_GOOD : EXIT_FATAL;
    }
    kept_docs k;
    memset(&k, 0, sizeof k);
    k.keep_text = true;
    o.links.keep_surface = 1; /* the words behind the shared features are shown */
    nf_error err;
    if (nf_links_new(&k.links, &o.links, &err) != NF_OK) {
        fprintf(stderr, "newsfold compare: %s\n", err.message);
        free(o.in);
        return EXIT_FATAL;
    }
    char **paths = o.n_in ? o.in : argv + optind;
    cli_input in = {.command = "compare", .paths = paths, .n_paths = o.n_in ? o.n_in : 2, .clean = o.clean, .max_record = 0, .batch_docs = 0, .quiet = true};
    cli_totals totals = {0};
    int status = cli_run_batches(&in, keep_batch, &k, &totals);
    nf_links_result lr = {0};
    long a = resolve(&k, argv[optind]), b = resolve(&k, argv[optind + 1]);
    if (status != EXIT_FATAL && (a < 0 || b < 0)) {
        fprintf(stderr, "newsfold compare: no document '%s'\n", a < 0 ? argv[optind] : argv[optind + 1]);
        status = EXIT_FATAL;
    }
    if (status != EXIT_FATAL && (nf_links_end_adding(k.links, &err) != NF_OK || nf_links_finish(k.links, &lr, &err) != NF_OK)) {
        fprintf(stderr, "newsfold compare: %s\n", err.message);
        status = EXIT_FATAL;
    }
    if (status != EXIT_FATAL)
        explain(&k, k.links, &lr, (size_t)a, (size_t)b, o.links.threshold);
    nf_links_result_free(&lr);
    kept_free(&k);
    free(o.in);
    return status == EXIT_FATAL ? EXIT_FATAL : cli_finish_status("compare", &totals, true, status);
}
