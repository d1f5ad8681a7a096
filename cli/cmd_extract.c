/*
 * cmd_extract.c - `newsfold extract`: HTML pages and WARC records to one
 * JSONL record per page (main text, metadata, extraction statistics), in
 * input order.
 *
 * The reader runs with extraction deferred: it only reads (files, WARC
 * records, HTTP decoding), one batch of raw pages at a time, bounded by
 * count and bytes, on the shared loop's reader thread (common.c). Each
 * batch is extracted by the library's nf_extractor on -j threads, each
 * with its own language identifier, and written in input order. Batch
 * boundaries depend on the input only, so the output is byte-identical
 * for any -j; at most two batches are held.
 * Other inputs (.txt, .jsonl ...) pass through with the fields they have.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>


#define DEFAULT_BATCH_DOCS 256
#define BATCH_BYTES (32u << 20)

static const char extract_usage[] =
    "usage: newsfold extract [options] INPUT...\n"
    "\n"
    "Extracts the main text and metadata of HTML pages (.html, .htm, .xhtml)\n"
    "and of HTML responses in WARC files (.warc), each optionally .gz; writes\n"
    "one JSON object per page:\n"
    "  id (path or WARC-Target-URI), url, title, published, lang, site, author,\n"
    "  text, fetched (WARC-Date), stats {bytes_in, text_bytes, paragraphs_kept,\n"
    "  paragraphs_dropped, jsonld, charset, date_source, lang_detected, offset}\n"
    "\n"
    "options:\n"
    "  -o, --output FILE     write here instead of stdout\n"
    "  -j, --threads N       worker threads (default: all cores; 0 = all)\n"
    "      --max-page SIZE   skip pages larger than SIZE (default 20M)\n"
    "      --no-detect-lang  leave lang null when the page declares none\n"
    "      --batch N         pages per batch (default 256)\n"
    "      --stats           print throughput and peak memory on stderr\n"
    "  -q, --quiet           no progress, no summary\n"
    "  -h, --help            this help\n";

typedef struct extract_cli {
    const char *output;
    int threads;
    size_t max_page, batch_docs;
    bool quiet, stats, detect_lang;
} extract_cli;

static int parse_args(int argc, char **argv, extract_cli *o)
{
    static const struct option longs[] = {
        {"output", required_argument, 0, 'o'},   {"threads", required_argument, 0, 'j'},
        {"max-page", required_argument, 0, 'M'}, {"no-detect-lang", no_argument, 0, 'L'},
        {"batch", required_argument, 0, 'B'},    {"stats", no_argument, 0, 's'},
        {"quiet", no_argument, 0, 'q'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    o->threads = nf_cli_default_threads();
    o->batch_docs = DEFAULT_BATCH_DOCS;
    o->detect_lang = true;
    int c;
    while ((c = getopt_long(argc, argv, "o:j:qh", longs, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case 'j':
            if ((o->threads = nf_cli_threads(optarg)) < 1) {
                fprintf(stderr, "newsfold extract: bad thread count '%s'\n", optarg);
                return -1;
            }
            break;
        case 'M':
            if (!(o->max_page = nf_cli_parse_size(optarg))) {
                fprintf(stderr, "newsfold extract: bad size '%s'\n", optarg);
                return -1;
            }
            break;
        case 'B':
            if ((o->batch_docs = strtoul(optarg, NULL, 10)) == 0) {
                fprintf(stderr, "newsfold extract: bad batch size '%s'\n", optarg);
                return -1;
            }
            break;
        case 'L': o->detect_lang = false; break;
        case 's': o->stats = true; break;
        case 'q': o->quiet = true; break;
        case 'h': fputs(extract_usage, stdout); return 1;
        default: fputs(extract_usage, stderr); return -1;
        }
    }
    if (optind >= argc) {
        fputs("newsfold extract: no INPUT given\n", stderr);
        fputs(extract_usage, stderr);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- run */

typedef struct run {
    extract_cli o;
    nf_extractor *extractor;
    FILE *out;
    cli_output outf; /* out's file, renamed into place when complete */
    nf_status *status;
    nf_error *errors;
    nf_buffer line;
    uint64_t pages, skipped, bytes_in;
    int fatal;
} run;

/* One batch read by the shared loop (on its reader thread, so reading
 * overlaps with extraction): extracted on the extractor's threads, written
 * in input order. */
static int extract_batch(void *ctx, nf_doc *docs, size_t n)
{
    run *r = ctx;
    nf_error err;
    if (nf_extractor_run(r->extractor, docs, n, r->status, r->errors, &err) != NF_OK) {
        fprintf(stderr, "newsfold extract: %s\n", err.message);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const nf_doc *d = &docs[i];
        if (r->status[i] != NF_OK) {
            r->skipped++;
            fprintf(stderr, "newsfold extract: %s\n", r->errors[i].message);
            continue;
        }
        r->line.len = 0;
        nf_jsonl_extract(&r->line, d);
        if (r->line.oom || fwrite(r->line.data, 1, r->line.len, r->out) != r->line.len)
            return -1;
        r->pages++;
        r->bytes_in += d->extract ? d->extract->bytes_in : d->text_len;
    }
    return 0;
}

static bool setup(run *r)
{
    nf_error err = {NF_OK, ""};
    if (nf_extractor_new(&r->extractor, r->o.threads, r->o.detect_lang, &err) != NF_OK &&
        (r->o.quiet || fprintf(stderr, "newsfold extract: no language detection: %s\n", err.message)) &&
        nf_extractor_new(&r->extractor, r->o.threads, 0, &err) != NF_OK) {
        fprintf(stderr, "newsfold extract: %s\n", err.message);
        return false;
    }
    r->status = calloc(r->o.batch_docs, sizeof *r->status);
    r->errors = calloc(r->o.batch_docs, sizeof *r->errors);
    if (!r->status || !r->errors)
        return false;
    r->out = cli_output_open(&r->outf, "extract", r->o.output);
    return r->out != NULL;
}

static void teardown(run *r)
{
    if (r->out) /* not completed */
        cli_output_close(&r->outf, false);
    nf_extractor_free(r->extractor);
    free(r->status);
    free(r->errors);
    nf_buffer_free(&r->line);
}

/* User + system CPU seconds of all threads so far. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void summary(const run *r, const cli_totals *t)
{
    if (r->o.stats) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double secs = nf_cli_now() - t->progress.start, cpu = cpu_seconds();
        fprintf(stderr,
                "stats: extract: %llu pages, %.1f MB of HTML in %.2f s: %.1f MB/s, %.0f pages/s, %d threads, "
                "cpu %.2f s: %.1f MB/s per core, peak RSS %.1f MB\n",
                (unsigned long long)r->pages, r->bytes_in / 1e6, secs, secs > 0 ? r->bytes_in / 1e6 / secs : 0,
                secs > 0 ? r->pages / secs : 0, r->o.threads, cpu, cpu > 0 ? r->bytes_in / 1e6 / cpu : 0,
                ru.ru_maxrss / 1024.0);
    }
    uint64_t skipped = r->skipped + t->skipped;
    if (!r->o.quiet && (skipped || t->ignored))
        fprintf(stderr, "newsfold extract: %llu pages written, %llu skipped, %llu WARC records ignored "
                        "(not HTML responses)\n",
                (unsigned long long)r->pages, (unsigned long long)skipped, (unsigned long long)t->ignored);
}

int cmd_extract(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    int rc = parse_args(argc, argv, &r.o);
    if (rc)
        return rc > 0 ? EXIT_ALL_GOOD : EXIT_FATAL;
    if (!setup(&r)) {
        teardown(&r);
        return EXIT_FATAL;
    }
    cli_input in = {.command = "extract", .paths = argv + optind, .n_paths = (size_t)(argc - optind)};
    in.batch_docs = r.o.batch_docs;
    in.batch_bytes = BATCH_BYTES;
    in.max_page = r.o.max_page;
    in.defer_extract = true;
    in.quiet = r.o.quiet;
    cli_totals totals = {0};
    int status = cli_read_batches(&in, extract_batch, &r, &totals);
    summary(&r, &totals);
    if (cli_output_close(&r.outf, status != EXIT_FATAL))
        status = EXIT_FATAL;
    r.out = NULL;
    teardown(&r);
    return status == EXIT_ALL_GOOD && (r.skipped || totals.skipped) ? EXIT_SKIPPED : status;
}
