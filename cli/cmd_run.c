/*
 * cmd_run.c - `newsfold run`: the whole pipeline, from raw pages to a report.
 *
 * Reads and cleans like `clean`; each batch goes to the duplicate stage,
 * the cross-lingual stage and the event stage (which keep what they need
 * and let the batch go); then duplicates are grouped and translations
 * found, both become hard links for the events, every document's pivot
 * becomes its language-neutral channel, events and storylines are built,
 * and OUTDIR receives documents.jsonl, events.jsonl, storylines.jsonl and
 * report.html. Output is deterministic for any -j.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/common.h"

static const char run_usage[] =
    "usage: newsfold run [options] INPUT... -o OUTDIR\n"
    "\n"
    "Runs the whole pipeline: read, clean, duplicates, events, storylines.\n"
    "Writes OUTDIR/documents.jsonl (per document: id, lang, title, published,\n"
    "source, group, canonical, relation, score, event, storyline, role),\n"
    "OUTDIR/events.jsonl, OUTDIR/storylines.jsonl and OUTDIR/report.html.\n"
    "\n"
    "options:\n"
    "  -o, --output DIR            output folder (created when missing)\n"
    "      --threshold T           score below which a document starts a new event\n"
    "      --threshold-short T     the same for documents with (almost) no body\n"
    "      --weights T,B,N[,P]     same-language weights of title, body, names (and pivot) cosines\n"
    "      --cross-weights N[,P]   weights of the names (and pivot) cosines across languages\n"
    "      --window DAYS           days an event stays live without new reports (default 3)\n"
    "      --storyline-days DAYS   longest gap between events of a storyline (default 30)\n"
    "      --storyline-threshold T score needed to link two events\n"
    "      --prefer-lang LANG      take event headlines from reports in LANG when possible\n"
    "      --no-dedup              skip the duplicate stage (no copy links)\n"
    "      --no-links              skip the cross-lingual stage (no translations, no pivots)\n"
    "      --title TEXT            title of report.html\n"
    "      --max-docs N            documents listed per group and event in report.html\n"
    "  -j, --threads N             worker threads (default: all cores)\n"
    "      --stats                 print throughput and stage figures on stderr\n"
    "  -q, --quiet                 no progress, no summary\n"
    "  -h, --help                  this help\n";

typedef struct run_cli {
    const char *outdir;
    nf_events_options events;
    nf_dedup_options dedup;
    nf_links_options links;
    nf_clean_options clean;
    nf_report_options report;
    bool no_dedup, no_links, quiet, stats;
} run_cli;

typedef struct run_state {
    run_cli *o;
    nf_dedup *dedup;
    nf_links *links;
    nf_events *events;
    double t_dedup, t_links, t_events;
} run_state;

static int bad_value(const char *what, const char *v)
{
    fprintf(stderr, "newsfold run: bad %s '%s'\n", what, v);
    return -1;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return end != s && !*end;
}

static bool parse_int(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    *out = (int)v;
    return end != s && !*end && v >= 0 && v < 1000000;
}

static bool parse_weights(const char *s, nf_events_options *e)
{
    int n = sscanf(s, "%lf,%lf,%lf,%lf", &e->w_title, &e->w_body, &e->w_names, &e->w_pivot);
    return n == 3 || n == 4;
}

static bool parse_cross(const char *s, nf_events_options *e)
{
    int n = sscanf(s, "%lf,%lf", &e->w_cross_names, &e->w_cross_pivot);
    return n == 1 || n == 2;
}

static int parse_option(int c, run_cli *o)
{
    switch (c) {
    case 'o': o->outdir = optarg; return 0;
    case 't': return parse_double(optarg, &o->events.threshold) ? 0 : bad_value("threshold", optarg);
    case 'U': return parse_double(optarg, &o->events.threshold_short) ? 0 : bad_value("threshold", optarg);
    case 'W': return parse_weights(optarg, &o->events) ? 0 : bad_value("weights", optarg);
    case 'X': return parse_cross(optarg, &o->events) ? 0 : bad_value("cross weights", optarg);
    case 'w': return parse_int(optarg, &o->events.window_days) ? 0 : bad_value("window", optarg);
    case 'D': return parse_int(optarg, &o->events.storyline_days) ? 0 : bad_value("storyline days", optarg);
    case 'S':
        return parse_double(optarg, &o->events.storyline_threshold)
                   ? 0
                   : bad_value("storyline threshold", optarg);
    case 'L': o->events.prefer_lang = optarg; return 0;
    case 'N': o->no_dedup = true; return 0;
    case 'K': o->no_links = true; return 0;
    case 'T': o->report.title = optarg; return 0;
    case 'M': return parse_int(optarg, &o->report.max_docs) ? 0 : bad_value("max docs", optarg);
    case 'j':
        o->clean.threads = o->dedup.threads = o->events.threads = o->links.threads = nf_cli_threads(optarg);
        return o->clean.threads < 1 ? bad_value("thread count", optarg) : 0;
    case 's': o->stats = true; return 0;
    case 'q': o->quiet = true; return 0;
    case 'h': fputs(run_usage, stdout); return 1;
    default: fputs(run_usage, stderr); return -1;
    }
}

static int parse_args(int argc, char **argv, run_cli *o)
{
    static const struct option longs[] = {
        {"output", required_argument, 0, 'o'},
        {"threshold", required_argument, 0, 't'},
        {"threshold-short", required_argument, 0, 'U'},
        {"weights", required_argument, 0, 'W'},
        {"cross-weights", required_argument, 0, 'X'},
        {"window", required_argument, 0, 'w'},
        {"storyline-days", required_argument, 0, 'D'},
        {"storyline-threshold", required_argument, 0, 'S'},
        {"prefer-lang", required_argument, 0, 'L'},
        {"no-dedup", no_argument, 0, 'N'},
        {"title", required_argument, 0, 'T'},
        {"no-links", no_argument, 0, 'K'},
        {"max-docs", required_argument, 0, 'M'},
        {"threads", required_argument, 0, 'j'},
        {"stats", no_argument, 0, 's'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    nf_events_options_default(&o->events);
    nf_dedup_options_default(&o->dedup);
    nf_links_options_default(&o->links);
    nf_clean_options_default(&o->clean);
    o->clean.threads = o->dedup.threads = o->events.threads = o->links.threads = nf_cli_default_threads();
    int c, rc;
    while ((c = getopt_long(argc, argv, "o:j:qh", longs, NULL)) != -1)
        if ((rc = parse_option(c, o)) != 0)
            return rc;
    if (optind >= argc || !o->outdir) {
        fputs(optind >= argc ? "newsfold run: no INPUT given\n" : "newsfold run: no -o OUTDIR given\n",
              stderr);
        fputs(run_usage, stderr);
        return -1;
    }
    return 0;
}

static int add_batch(void *ctx, nf_clean_doc *docs, size_t n)
{
    run_state *s = ctx;
    nf_error err;
    double t0 = nf_cli_now();
    if (s->dedup && nf_dedup_add(s->dedup, docs, n, &err) != NF_OK)
        goto fail;
    double t1 = nf_cli_now();
    if (s->links && nf_links_add(s->links, docs, n, &err) != NF_OK)
        goto fail;
    double t2 = nf_cli_now();
    if (nf_events_add(s->events, docs, n, &err) != NF_OK)
        goto fail;
    s->t_dedup += t1 - t0;
    s->t_links += t2 - t1;
    s->t_events += nf_cli_now() - t2;
    return 0;
fail:
    fprintf(stderr, "newsfold run: %s\n", err.message);
    return -1;
}

/* ------------------------------------------------------------------ output */

static void date_or_null(nfi_buf *b, const char *d)
{
    if (*d)
        nfi_buf_printf(b, "\"%s\"", d);
    else
        nfi_buf_puts(b, "null");
}

static void write_documents(FILE *f, const nf_events_result *r, const nf_dedup_result *d)
{
    nfi_buf b;
    nfi_buf_init(&b);
    for (size_t i = 0; i < r->n_docs; i++) {
        const nf_event_doc *x = &r->docs[i];
        b.len = 0;
        nfi_buf_puts(&b, "{\"id\":");
        nfi_json_cstr_or_null(&b, x->id);
        nfi_buf_puts(&b, ",\"lang\":");
        nfi_json_cstr_or_null(&b, x->lang);
        nfi_buf_puts(&b, ",\"title\":");
        nfi_json_cstr_or_null(&b, x->title);
        nfi_buf_puts(&b, ",\"published\":");
        date_or_null(&b, x->published);
        nfi_buf_puts(&b, ",\"source\":");
        nfi_json_cstr_or_null(&b, x->source);
        const nf_dedup_record *dr = d && d->n_docs == r->n_docs ? &d->docs[i] : NULL;
        nfi_buf_puts(&b, ",\"group\":");
        nfi_json_cstr_or_null(&b, dr ? d->docs[dr->canonical].id : x->id);
        nfi_buf_puts(&b, ",\"canonical\":");
        nfi_json_cstr_or_null(&b, dr ? d->docs[dr->canonical].id : x->id);
        nfi_buf_printf(&b, ",\"relation\":\"%s\",\"score\":%.4f",
                      nf_relation_name(dr ? dr->relation : NF_REL_UNIQUE), dr ? dr->score : 0.0);
        nfi_buf_printf(&b, ",\"event\":\"E%u\",\"storyline\":\"S%u\",\"role\":\"%s\"", x->event + 1,
                      r->events[x->event].storyline + 1, nf_event_role_name(x->role));
        if (x->linked_to != UINT32_MAX) {
            nfi_buf_puts(&b, ",\"of\":");
            nfi_json_cstr_or_null(&b, r->docs[x->linked_to].id);
        }
        nfi_buf_printf(&b, ",\"event_score\":%.4f,\"date\":", x->score);
        date_or_null(&b, x->date);
        nfi_buf_printf(&b, ",\"date_inferred\":%s}\n", x->date_inferred ? "true" : "false");
        fwrite(b.data, 1, b.len, f);
    }
    nfi_buf_free(&b);
}

static void id_list(nfi_buf *b, const nf_events_result *r, const nf_event *e, nf_event_role role,
                    const char *name)
{
    nfi_buf_printf(b, ",\"%s\":[", name);
    bool first = true;
    for (size_t k = 0; k < e->n_docs; k++) {
        if (r->docs[e->docs[k]].role != role)
            continue;
        if (!first)
            nfi_buf_putc(b, ',');
        nfi_json_cstr_or_null(b, r->docs[e->docs[k]].id);
        first = false;
    }
    nfi_buf_putc(b, ']');
}

static void write_event(nfi_buf *b, const nf_events_result *r, uint32_t i)
{
    const nf_event *e = &r->events[i];
    const nf_event_doc *h = &r->docs[e->headline_doc];
    nfi_buf_printf(b, "{\"id\":\"E%u\",\"storyline\":\"S%u\",\"headline\":", i + 1, e->storyline + 1);
    nfi_json_cstr_or_null(b, h->title ? h->title : h->id);
    nfi_buf_puts(b, ",\"headline_doc\":");
    nfi_json_cstr_or_null(b, h->id);
    nfi_buf_puts(b, ",\"first_seen\":");
    date_or_null(b, e->first_seen);
    nfi_buf_puts(b, ",\"last_seen\":");
    date_or_null(b, e->last_seen);
    nfi_buf_printf(b, ",\"documents\":%zu,\"sources\":%u,\"languages\":[", e->n_docs, e->n_sources);
    for (size_t k = 0; k < e->n_languages; k++) {
        if (k)
            nfi_buf_putc(b, ',');
        nfi_json_cstr_or_null(b, e->languages[k]);
    }
    nfi_buf_puts(b, "],\"entities\":[");
    for (size_t k = 0; k < e->n_entities; k++) {
        nfi_buf_puts(b, k ? ",{\"name\":" : "{\"name\":");
        nfi_json_cstr_or_null(b, e->entities[k].name);
        nfi_buf_puts(b, ",\"key\":");
        nfi_json_cstr_or_null(b, e->entities[k].key);
        nfi_buf_printf(b, ",\"sources\":%u,\"mentions\":%u}", e->entities[k].sources, e->entities[k].mentions);
    }
    nfi_buf_putc(b, ']');
    id_list(b, r, e, NF_ROLE_ORIGINAL, "original");
    id_list(b, r, e, NF_ROLE_COPY, "copies");
    id_list(b, r, e, NF_ROLE_TRANSLATION, "translations");
    id_list(b, r, e, NF_ROLE_REPORT, "reports");
    nfi_buf_puts(b, "}\n");
}

static void write_events(FILE *f, const nf_events_result *r)
{
    nfi_buf b;
    nfi_buf_init(&b);
    for (uint32_t i = 0; i < r->n_events; i++) {
        b.len = 0;
        write_event(&b, r, i);
        fwrite(b.data, 1, b.len, f);
    }
    nfi_buf_free(&b);
}

static void write_storylines(FILE *f, const nf_events_result *r)
{
    nfi_buf b;
    nfi_buf_init(&b);
    for (uint32_t i = 0; i < r->n_storylines; i++) {
        const nf_storyline *s = &r->storylines[i];
        b.len = 0;
        nfi_buf_printf(&b, "{\"id\":\"S%u\",\"events\":[", i + 1);
        for (size_t k = 0; k < s->n_events; k++)
            nfi_buf_printf(&b, k ? ",\"E%u\"" : "\"E%u\"", s->events[k] + 1);
        nfi_buf_puts(&b, "],\"first_seen\":");
        date_or_null(&b, s->first_seen);
        nfi_buf_puts(&b, ",\"last_seen\":");
        date_or_null(&b, s->last_seen);
        nfi_buf_printf(&b, ",\"documents\":%zu}\n", s->n_docs);
        fwrite(b.data, 1, b.len, f);
    }
    nfi_buf_free(&b);
}

typedef void (*writer_fn)(FILE *f, const nf_events_result *r, const nf_dedup_result *d);

static void w_docs(FILE *f, const nf_events_result *r, const nf_dedup_result *d) { write_documents(f, r, d); }
static void w_events(FILE *f, const nf_events_result *r, const nf_dedup_result *d)
{
    (void)d, write_events(f, r);
}
static void w_story(FILE *f, const nf_events_result *r, const nf_dedup_result *d)
{
    (void)d, write_storylines(f, r);
}

static int write_file(const char *dir, const char *name, writer_fn fn, const nf_events_result *r,
                      const nf_dedup_result *d)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    fn(f, r, d);
    int bad = fflush(f) != 0 || ferror(f);
    bad |= fclose(f) != 0;
    if (bad)
        fprintf(stderr, "newsfold run: cannot write %s\n", path);
    return bad ? -1 : 0;
}

static int write_report(const char *dir, const nf_events_result *r, const nf_report_options *o)
{
    char *html;
    size_t len;
    nf_error err;
    if (nf_report_html(r, o, &html, &len, &err) != NF_OK) {
        fprintf(stderr, "newsfold run: %s\n", err.message);
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/report.html", dir);
    FILE *f = fopen(path, "wb");
    int bad = !f || fwrite(html, 1, len, f) != len;
    if (f)
        bad |= fclose(f) != 0;
    if (bad)
        fprintf(stderr, "newsfold run: cannot write %s\n", path);
    free(html);
    return bad ? -1 : 0;
}

/* mkdir -p: the output folder and any missing parents. */
static int make_dirs(const char *dir)
{
    char *path = strdup(dir);
    int rc = path ? 0 : -1;
    for (char *p = path ? path + 1 : NULL; p && *p && rc == 0; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST)
            rc = -1;
        *p = '/';
    }
    if (rc == 0 && mkdir(path, 0777) != 0 && errno != EEXIST)
        rc = -1;
    if (rc != 0)
        perror(dir);
    free(path);
    return rc;
}

static int write_outputs(const run_cli *o, const nf_events_result *r, const nf_dedup_result *d)
{
    if (make_dirs(o->outdir) != 0)
        return -1;
    if (write_file(o->outdir, "documents.jsonl", w_docs, r, d) ||
        write_file(o->outdir, "events.jsonl", w_events, r, d) ||
        write_file(o->outdir, "storylines.jsonl", w_story, r, d) || write_report(o->outdir, r, &o->report))
        return -1;
    return 0;
}

/* ------------------------------------------------------------------- main */

/* Translations become hard links, pivots the events' language-neutral
 * channel (the links object must outlive nf_events_finish). */
static nf_status hand_links(run_state *s, nf_links_result *lres, size_t n_docs, nf_error *err)
{
    nf_status st = nf_links_finish(s->links, lres, err);
    if (st == NF_OK)
        st = nf_events_add_links(s->events, lres->links, lres->n_links, err);
    for (size_t i = 0; i < n_docs && st == NF_OK; i++)
        st = nf_events_set_pivot(s->events, i, nf_links_pivot(s->links, i), err);
    return st;
}

static int finish_stages(run_state *s, size_t n_docs, nf_dedup_result *dres, nf_events_result *eres)
{
    nf_error err;
    nf_links_result lres = {0};
    double t0 = nf_cli_now();
    if (s->dedup && (nf_dedup_finish(s->dedup, dres, &err) != NF_OK ||
                     nf_events_set_dedup(s->events, dres, &err) != NF_OK))
        goto fail;
    double t1 = nf_cli_now();
    if (s->links && hand_links(s, &lres, n_docs, &err) != NF_OK)
        goto fail;
    double t2 = nf_cli_now();
    if (nf_events_finish(s->events, eres, &err) != NF_OK)
        goto fail;
    s->t_dedup += t1 - t0;
    s->t_links += t2 - t1;
    s->t_events += nf_cli_now() - t2;
    nf_links_result_free(&lres);
    return 0;
fail:
    fprintf(stderr, "newsfold run: %s\n", err.message);
    nf_links_result_free(&lres);
    return -1;
}

static void report_stats(const run_state *s, const cli_totals *t, const nf_events_result *r)
{
    cli_report_stats("run", t, s->o->clean.threads);
    fprintf(
        stderr,
        "stats: run: dedup %.2f s; links %.2f s; events %.2f s (%.0f docs/s): %zu events, %zu storylines, "
        "%zu candidates scored, at most %zu live events\n",
        s->t_dedup, s->t_links, s->t_events, s->t_events > 0 ? t->docs / s->t_events : 0, r->n_events,
        r->n_storylines, r->candidates_scored, r->max_live_events);
}

int cmd_run(int argc, char **argv)
{
    run_cli o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc > 0 ? EXIT_ALL_GOOD : EXIT_FATAL;
    run_state s = {&o, NULL, NULL, NULL, 0, 0, 0};
    nf_error err;
    if ((!o.no_dedup && nf_dedup_new(&s.dedup, &o.dedup, &err) != NF_OK) ||
        nf_events_new(&s.events, &o.events, &err) != NF_OK) {
        fprintf(stderr, "newsfold run: %s\n", err.message);
        nf_dedup_free(s.dedup);
        return EXIT_FATAL;
    }
    if (!o.no_links && nf_links_new(&s.links, &o.links, &err) != NF_OK) {
        /* events still work on their own names and terms */
        fprintf(stderr, "newsfold run: cross-lingual stage off: %s\n", err.message);
        s.links = NULL;
    }
    cli_input in = {"run", argv + optind, (size_t)(argc - optind), o.clean, 0, 0, o.quiet};
    cli_totals totals = {0};
    int status = cli_run_batches(&in, add_batch, &s, &totals);
    nf_dedup_result dres = {0};
    nf_events_result eres = {0};
    if (status != EXIT_FATAL && finish_stages(&s, (size_t)totals.docs, &dres, &eres) != 0)
        status = EXIT_FATAL;
    if (status != EXIT_FATAL && write_outputs(&o, &eres, s.dedup ? &dres : NULL) != 0)
        status = EXIT_FATAL;
    if (o.stats && status != EXIT_FATAL)
        report_stats(&s, &totals, &eres);
    nf_events_result_free(&eres);
    nf_dedup_result_free(&dres);
    nf_events_free(s.events);
    nf_links_free(s.links);
    nf_dedup_free(s.dedup);
    return cli_finish_status("run", &totals, o.quiet, status);
}
