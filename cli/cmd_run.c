/*
 * cmd_run.c - `newsfold run`: the whole pipeline, from raw pages to a report.
 *
 * Parses the options into nf_fold_options, reads the input in batches and
 * hands each to the library's fold (nf_fold_add: clean, duplicates,
 * pivots, event features), finishes it, and writes OUTDIR/documents.jsonl,
 * events.jsonl, storylines.jsonl (the library's JSONL encoders) and
 * report.html. Output is deterministic for any -j. With --mpi the library's
 * distributed fold (nf_mpi_fold_*) does the reading and the stages' work
 * across the ranks and rank 0 writes the same files.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>


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
    "      --threshold-short T     the probability (0..1) a headline with a time of day needs\n"
    "                              to join an event (default 0.5; headline model, docs/events.md)\n"
    "      --weights T,B,N[,P]     same-language weights of title, body, names (and pivot) cosines\n"
    "      --cross-weights N[,P]   weights of the names (and pivot) cosines across languages\n"
    "      --window DAYS           days an event stays live without new reports (default 3)\n"
    "      --storyline-days DAYS   longest gap between events of a storyline (default 30)\n"
    "      --storyline-threshold T score needed to link two events\n"
    "      --prefer-lang LANG      take event headlines from reports in LANG when possible\n"
    "      --no-dedup              skip the duplicate stage (no copy links)\n"
    "      --no-links              skip the cross-lingual stage (no translations, no pivots)\n"
    "      --dict-dir DIR, --cache-dir DIR, --lexicon FILE\n"
    "                              dictionaries, as for links (both the cross-lingual stage and\n"
    "                              the event stage's headline pivots read them)\n"
    "      --title TEXT            title of report.html\n"
    "      --max-docs N            documents listed per group and event in report.html\n"
    "      --db FILE               also write FILE, a new store for newsfold serve (SQLite)\n"
    "  -j, --threads N             worker threads (default: all cores)\n"
    "      --mem-limit SIZE        memory for the duplicate stage's sort buffers before they\n"
    "                              spill (default 512M; bounds each rank's memory with --mpi)\n"
    "      --tmp-dir DIR           where spilled runs and signatures go (default $TMPDIR)\n"
    "      --batch N               documents per batch (default 4096; cleaning learns a site's\n"
    "                              boilerplate within a batch)\n"
    "      --mpi                   run under mpirun: ranks share the cleaning, every stage's\n"
    "                              per-document work and the dedup and links finish; rank 0 runs\n"
    "                              the event stream and writes OUTDIR\n"
    "                              (docs/distributed.md)\n"
    "      --stats                 print throughput and stage figures on stderr\n"
    "  -q, --quiet                 no progress, no summary\n"
    "  -h, --help                  this help\n";

typedef struct run_cli {
    const char *outdir;
    const char *db; /* --db: the store of newsfold serve, written in batch */
    nf_fold_options fold;
    nf_report_options report;
    bool quiet, stats;
    bool mpi; /* --mpi (docs/distributed.md) */
    int batch_docs; /* --batch; 0: the default */
} run_cli;

typedef struct run_state {
    nf_fold *fold;
    cli_db *db;
    int status;
    double stage_start[3]; /* dedup, links, events: when the fold began finishing each */
    double finished;       /* when nf_fold_finish returned */
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
    case 't': return parse_double(optarg, &o->fold.events.threshold) ? 0 : bad_value("threshold", optarg);
    case 'U': return parse_double(optarg, &o->fold.events.threshold_short) ? 0 : bad_value("threshold", optarg);
    case 'W': return parse_weights(optarg, &o->fold.events) ? 0 : bad_value("weights", optarg);
    case 'X': return parse_cross(optarg, &o->fold.events) ? 0 : bad_value("cross weights", optarg);
    case 'w': return parse_int(optarg, &o->fold.events.window_days) ? 0 : bad_value("window", optarg);
    case 'D': return parse_int(optarg, &o->fold.events.storyline_days) ? 0 : bad_value("storyline days", optarg);
    case 'S':
        return parse_double(optarg, &o->fold.events.storyline_threshold)
                   ? 0
                   : bad_value("storyline threshold", optarg);
    case 'L': o->fold.events.prefer_lang = optarg; return 0;
    case 'N': o->fold.dedup_on = 0; return 0;
    case 'K': o->fold.links_on = 0; return 0;
    case 'd': o->fold.links.dict_dir = optarg; return 0;
    case 'c': o->fold.links.cache_dir = optarg; return 0;
    case 'x': o->fold.links.lexicon_file = optarg; return 0;
    case 'T': o->report.title = optarg; return 0;
    case 'M': return parse_int(optarg, &o->report.max_docs) ? 0 : bad_value("max docs", optarg);
    case 'j':
        o->fold.threads = nf_cli_threads(optarg);
        return o->fold.threads < 1 ? bad_value("thread count", optarg) : 0;
    case 's': o->stats = true; return 0;
    case 'B': o->db = optarg; return 0;
    case 'P': o->mpi = true; return 0;
    case 'm': return (o->fold.dedup.mem_limit = nf_cli_parse_size(optarg)) ? 0 : bad_value("size", optarg);
    case 'y': o->fold.dedup.tmp_dir = optarg; return 0;
    case 'b': return parse_int(optarg, &o->batch_docs) && o->batch_docs > 0 ? 0 : bad_value("batch size", optarg);
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
        {"dict-dir", required_argument, 0, 'd'},
        {"cache-dir", required_argument, 0, 'c'},
        {"lexicon", required_argument, 0, 'x'},
        {"max-docs", required_argument, 0, 'M'},
        {"threads", required_argument, 0, 'j'},
        {"stats", no_argument, 0, 's'},
        {"db", required_argument, 0, 'B'},
        {"mpi", no_argument, 0, 'P'},
        {"batch", required_argument, 0, 'b'},
        {"mem-limit", required_argument, 0, 'm'},
        {"tmp-dir", required_argument, 0, 'y'},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    nf_fold_options_default(&o->fold);
    o->fold.threads = nf_cli_default_threads();
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

static int add_batch(void *ctx, nf_doc *docs, size_t n)
{
    run_state *s = ctx;
    nf_error err;
    if (s->db && cli_db_add(s->db, docs, n) != 0)
        return -1;
    nf_status st = nf_fold_add(s->fold, docs, n, NULL, &err);
    if (st == NF_OK)
        return 0;
    fprintf(stderr, "newsfold run: %s\n", err.message);
    if (st == NF_SKIPPED) {
        s->status = EXIT_SKIPPED;
        return 0;
    }
    return -1;
}

/* ------------------------------------------------------------------ output */

typedef void (*encode_fn)(nf_buffer *b, const nf_fold_result *r, size_t i);

static int write_jsonl(FILE *f, encode_fn encode, size_t n, const nf_fold_result *r)
{
    nf_buffer b = {0};
    int bad = 0;
    for (size_t i = 0; i < n && !bad; i++) {
        b.len = 0;
        encode(&b, r, i);
        bad = b.oom || fwrite(b.data, 1, b.len, f) != b.len;
    }
    nf_buffer_free(&b);
    return bad;
}

static int write_report(FILE *f, const nf_events_result *r, const nf_report_options *o)
{
    char *html;
    size_t len;
    nf_error err;
    if (nf_report_html(r, o, &html, &len, &err) != NF_OK) {
        fprintf(stderr, "newsfold run: %s\n", err.message);
        return -1;
    }
    int bad = fwrite(html, 1, len, f) != len;
    free(html);
    return bad;
}

enum { N_OUTPUTS = 4 };
static const char *const output_names[N_OUTPUTS] = {"documents.jsonl", "events.jsonl", "storylines.jsonl",
                                                    "report.html"};

static int write_output(int k, FILE *f, const run_cli *o, const nf_fold_result *r)
{
    switch (k) {
    case 0: return write_jsonl(f, nf_jsonl_document, r->events.n_docs, r);
    case 1: return write_jsonl(f, nf_jsonl_event, r->events.n_events, r);
    case 2: return write_jsonl(f, nf_jsonl_storyline, r->events.n_storylines, r);
    default: return write_report(f, &r->events, &o->report);
    }
}

/* The four outputs change together (nf_outdir): a failed or killed run
 * leaves the folder as it was, or holding the complete new set. */
static int write_outputs(const run_cli *o, const nf_fold_result *r)
{
    nf_outdir *dir = NULL;
    nf_error err = {NF_OK, ""};
    int bad = nf_outdir_open(&dir, o->outdir, &err) != NF_OK;
    for (int k = 0; k < N_OUTPUTS && !bad; k++) {
        FILE *f;
        bad = nf_outdir_file(dir, output_names[k], &f, &err) != NF_OK || write_output(k, f, o, r);
        if (bad && !err.message[0])
            snprintf(err.message, sizeof err.message, "%.400s/%s: cannot write", o->outdir, output_names[k]);
    }
    if (bad)
        nf_outdir_abort(dir);
    else
        bad = nf_outdir_commit(dir, &err) != NF_OK;
    if (bad)
        fprintf(stderr, "newsfold run: %s\n", err.message);
    return bad ? -1 : 0;
}

/* ------------------------------------------------------------------- main */

enum { N_STAGES = 3 };
static const char *const stage_names[N_STAGES] = {"dedup", "links", "events"};

/* Times the finishing stages for --stats (the fold names each as it starts). */
static void on_progress(void *ctx, const char *stage, uint64_t done, uint64_t total)
{
    (void)done, (void)total;
    run_state *s = ctx;
    for (int k = 0; k < N_STAGES; k++)
        if (strcmp(stage, stage_names[k]) == 0)
            s->stage_start[k] = nf_cli_now();
}

static void report_stats(const run_state *s, const cli_totals *t, const run_cli *o, const nf_fold_result *r)
{
    cli_report_stats("run", t, o->fold.threads);
    double secs[N_STAGES];
    for (int k = 0; k < N_STAGES; k++)
        secs[k] = (k + 1 < N_STAGES ? s->stage_start[k + 1] : s->finished) - s->stage_start[k];
    fprintf(stderr,
            "stats: run: finishing: dedup %.2f s; links %.2f s; events %.2f s: %zu events, %zu storylines, "
            "%zu candidates scored, at most %zu live events\n",
            secs[0], secs[1], secs[2], r->events.n_events, r->events.n_storylines, r->events.candidates_scored,
            r->events.max_live_events);
}

/* Opens a fold (one process or distributed) with the options given;
 * without dictionaries the cross-lingual stage is left out with a message,
 * said when `say` (rank 0), and events still work on names and terms. */
typedef nf_status (*fold_opener)(void *ctx, const nf_fold_options *options, nf_error *err);

static nf_status open_with_fallback(run_cli *o, bool say, fold_opener open, void *ctx, nf_error *err)
{
    nf_status st = open(ctx, &o->fold, err);
    if (st == NF_ERR_RESOURCE && o->fold.links_on) {
        if (say)
            fprintf(stderr, "newsfold run: cross-lingual stage off: %s\n", err->message);
        o->fold.links_on = 0;
        st = open(ctx, &o->fold, err);
    }
    return st;
}

static nf_status open_local(void *ctx, const nf_fold_options *options, nf_error *err)
{
    return nf_fold_open(&((run_state *)ctx)->fold, options, err);
}

typedef struct mpi_opening {
    nf_mpi *m;
    nf_mpi_fold **out;
} mpi_opening;

static nf_status open_distributed(void *ctx, const nf_fold_options *options, nf_error *err)
{
    mpi_opening *mo = ctx;
    return nf_mpi_fold_new(mo->out, mo->m, options, err);
}

static nf_status open_fold(run_cli *o, run_state *s, nf_error *err)
{
    o->fold.progress = on_progress;
    o->fold.progress_ctx = s;
    return open_with_fallback(o, true, open_local, s, err);
}

static nf_status open_mpi_fold(run_cli *o, nf_mpi *m, nf_mpi_fold **mf, nf_error *err)
{
    mpi_opening mo = {m, mf};
    return open_with_fallback(o, nf_mpi_rank(m) == 0, open_distributed, &mo, err);
}

/* --mpi (docs/distributed.md): the ranks split the input and the stages'
 * per-document work; rank 0 finishes the fold and writes OUTDIR. A rank
 * that fails stops them all (nf_mpi_abort): never a hang. */
static int run_mpi(run_cli *o, char **paths, size_t n_paths)
{
    if (o->db) {
        fputs("newsfold run: --db is not available with --mpi\n", stderr);
        return EXIT_FATAL;
    }
    nf_error err;
    nf_mpi *m = cli_mpi_start("run");
    nf_mpi_fold *mf = NULL;
    if (!m)
        return EXIT_FATAL;
    int rank = nf_mpi_rank(m);
    if (open_mpi_fold(o, m, &mf, &err) != NF_OK)
        cli_mpi_stop("run", m, err.message);
    cli_totals totals = {0};
    progress_init(&totals.progress, true);
    nf_mpi_input in = cli_mpi_input("run", paths, n_paths, (size_t)o->batch_docs);
    nf_mpi_totals t;
    int status = EXIT_ALL_GOOD;
    nf_fold_result result = {0};
    if (nf_mpi_fold_run(mf, &in, &t, &err) != NF_OK || nf_mpi_fold_finish(mf, &result, &err) != NF_OK) {
        fprintf(stderr, "newsfold run: rank %d: %s\n", rank, err.message);
        status = EXIT_FATAL;
    }
    cli_mpi_totals(&totals, &t);
    if (status != EXIT_FATAL && rank == 0 && write_outputs(o, &result) != 0)
        status = EXIT_FATAL;
    if (status == EXIT_FATAL)
        cli_mpi_stop("run", m, NULL);
    if (o->stats) {
        nf_mpi_stats ms;
        nf_mpi_fold_stats(mf, &ms);
        cli_report_mpi_stats("run", "read+clean+items", m, &ms, &totals, o->fold.threads);
    }
    nf_fold_result_free(&result);
    nf_mpi_fold_free(mf);
    nf_mpi_finalize(m);
    return cli_finish_status("run", &totals, o->quiet || rank != 0, status);
}

int cmd_run(int argc, char **argv)
{
    run_cli o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc > 0 ? EXIT_ALL_GOOD : EXIT_FATAL;
    if (o.mpi)
        return run_mpi(&o, argv + optind, (size_t)(argc - optind));
    run_state s = {.status = EXIT_ALL_GOOD};
    if (o.db && !(s.db = cli_db_open(o.db)))
        return EXIT_FATAL;
    nf_error err;
    if (open_fold(&o, &s, &err) != NF_OK) {
        fprintf(stderr, "newsfold run: %s\n", err.message);
        return EXIT_FATAL;
    }
    cli_input in = {.command = "run", .paths = argv + optind, .n_paths = (size_t)(argc - optind), .clean = o.fold.clean, .max_record = 0, .batch_docs = (size_t)o.batch_docs, .quiet = o.quiet};
    cli_totals totals = {0};
    int status = cli_read_batches(&in, add_batch, &s, &totals);
    if (status == EXIT_ALL_GOOD)
        status = s.status;
    nf_fold_result result = {0};
    if (status != EXIT_FATAL && nf_fold_finish(s.fold, &result, &err) != NF_OK) {
        fprintf(stderr, "newsfold run: %s\n", err.message);
        status = EXIT_FATAL;
    }
    s.finished = nf_cli_now();
    if (status != EXIT_FATAL && write_outputs(&o, &result) != 0)
        status = EXIT_FATAL;
    if (s.db && cli_db_finish(s.db, status != EXIT_FATAL ? &result : NULL) != 0)
        status = EXIT_FATAL;
    if (o.stats && status != EXIT_FATAL)
        report_stats(&s, &totals, &o, &result);
    nf_fold_result_free(&result);
    nf_fold_close(s.fold);
    return cli_finish_status("run", &totals, o.quiet, status);
}
