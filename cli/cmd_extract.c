/*
 * cmd_extract.c - `newsfold extract`: HTML pages and WARC records to one
 * JSONL record per page (main text, metadata, extraction statistics), in
 * input order.
 *
 * The reader runs with extraction deferred: it only reads (files, WARC
 * records, HTTP decoding), one batch of raw pages at a time, bounded by
 * count and bytes. A batch is extracted on -j threads that pull page
 * indices from a shared counter, each with its own language identifier,
 * while the main thread reads the next batch (then joins the extraction),
 * and is written in input order. Batch boundaries depend on the input
 * only, so the output is byte-identical for any -j; at most two batches
 * are held.
 * Other inputs (.txt, .jsonl ...) pass through with the fields they have.
 */
#include "cli.h"

#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/common.h"

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

/* ------------------------------------------------------------- output */

static void write_stats(nfi_buf *b, const nf_doc *d)
{
    const nf_extract_info *x = d->extract;
    if (!x) {
        nfi_buf_puts(b, ",\"stats\":null");
        return;
    }
    nfi_buf_printf(b,
                  ",\"stats\":{\"bytes_in\":%llu,\"text_bytes\":%zu,\"paragraphs_kept\":%u,"
                  "\"paragraphs_dropped\":%u,\"jsonld\":%s,\"charset\":",
                  (unsigned long long)x->bytes_in, d->text_len, x->paragraphs_kept, x->paragraphs_dropped,
                  x->used_jsonld ? "true" : "false");
    nfi_json_cstr_or_null(b, x->charset[0] ? x->charset : NULL);
    nfi_buf_puts(b, ",\"date_source\":");
    nfi_json_cstr_or_null(b, x->date_source);
    nfi_buf_printf(b, ",\"lang_detected\":%s", x->lang_detected ? "true" : "false");
    if (x->from_warc)
        nfi_buf_printf(b, ",\"offset\":%llu", (unsigned long long)x->offset);
    nfi_buf_putc(b, '}');
}

static void write_record(nfi_buf *b, const nf_doc *d)
{
    const nf_extract_info *x = d->extract;
    const char *fields[][2] = {{"id", d->id},         {"url", d->url},       {"title", d->title},
                               {"published", d->published}, {"lang", d->lang}, {"site", d->source},
                               {"author", x ? x->author : NULL}};
    nfi_buf_putc(b, '{');
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        nfi_buf_printf(b, "%s\"%s\":", i ? "," : "", fields[i][0]);
        nfi_json_cstr_or_null(b, fields[i][1]);
    }
    nfi_buf_puts(b, ",\"text\":");
    nfi_json_string(b, d->text ? d->text : "", d->text_len);
    nfi_buf_puts(b, ",\"fetched\":");
    nfi_json_cstr_or_null(b, x ? x->fetched : NULL);
    write_stats(b, d);
    nfi_buf_puts(b, "}\n");
}

/* ------------------------------------------------------------ workers */

typedef struct batch {
    nf_doc *docs;
    nf_status *status;
    nf_error *errors;
    size_t n;
    atomic_size_t next;
} batch;

typedef struct worker {
    pthread_t thread;
    nf_langid *langid;
    batch *work;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    batch *b = w->work;
    for (;;) {
        size_t i = atomic_fetch_add(&b->next, 1);
        if (i >= b->n)
            return NULL;
        b->status[i] = nf_doc_extract(&b->docs[i], w->langid, &b->errors[i]);
    }
}

/* Starts workers 1.. on the batch; returns how many threads run. */
static int start_workers(worker *workers, int n_workers, batch *b)
{
    atomic_store(&b->next, 0);
    int started = 1;
    for (int t = 1; t < n_workers && (size_t)t < b->n; t++) {
        workers[t].work = b;
        if (pthread_create(&workers[t].thread, NULL, work, &workers[t]) != 0)
            break;
        started++;
    }
    return started;
}

/* The calling thread joins in as worker 0, then waits for the others. */
static void finish_workers(worker *workers, int started, batch *b)
{
    workers[0].work = b;
    work(&workers[0]);
    for (int t = 1; t < started; t++)
        pthread_join(workers[t].thread, NULL);
}

/* ---------------------------------------------------------------- run */

typedef struct run {
    extract_cli o;
    nf_reader *reader;
    FILE *out;
    cli_output outf; /* out's file, renamed into place when complete */
    worker *workers;
    batch b[2]; /* one is extracted while the other is read */
    nfi_buf line;
    uint64_t pages, skipped, bytes_in;
    int status;
} run;

/* Reads the next batch; false when the input is done or broken. */
static bool read_batch(run *r, batch *b)
{
    nf_error err = {NF_OK, ""};
    size_t bytes = 0;
    b->n = 0;
    while (b->n < r->o.batch_docs && bytes < BATCH_BYTES) {
        nf_doc *d = &b->docs[b->n];
        nf_status st = nf_reader_next(r->reader, d, &err);
        if (st == NF_END)
            return false;
        if (st == NF_SKIPPED) {
            r->skipped++;
            fprintf(stderr, "newsfold extract: %s\n", err.message);
            continue;
        }
        if (st != NF_OK) {
            fprintf(stderr, "newsfold extract: %s\n", err.message);
            r->status = EXIT_FATAL;
            return false;
        }
        bytes += d->extract ? d->extract->raw_len : d->text_len;
        b->n++;
    }
    return true;
}

static void write_batch(run *r, batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        nf_doc *d = &b->docs[i];
        if (b->status[i] == NF_OK) {
            r->line.len = 0;
            write_record(&r->line, d);
            fwrite(r->line.data, 1, r->line.len, r->out);
            r->pages++;
            r->bytes_in += d->extract ? d->extract->bytes_in : d->text_len;
        } else {
            r->skipped++;
            fprintf(stderr, "newsfold extract: %s\n", b->errors[i].message);
            if (b->status[i] != NF_SKIPPED)
                r->status = EXIT_FATAL;
        }
        nf_doc_free(d);
    }
}

static bool setup(run *r, char **paths, size_t n_paths)
{
    nf_error err = {NF_OK, ""};
    nf_reader_options ropt = {.max_page_bytes = r->o.max_page, .defer_extract = 1};
    if (nf_reader_open(&r->reader, (const char *const *)paths, n_paths, &ropt, &err) != NF_OK) {
        fprintf(stderr, "newsfold extract: %s\n", err.message);
        return false;
    }
    r->workers = calloc((size_t)r->o.threads, sizeof *r->workers);
    if (!r->workers)
        return false;
    for (int k = 0; k < 2; k++) {
        batch *b = &r->b[k];
        b->docs = calloc(r->o.batch_docs, sizeof *b->docs);
        b->status = calloc(r->o.batch_docs, sizeof *b->status);
        b->errors = calloc(r->o.batch_docs, sizeof *b->errors);
        if (!b->docs || !b->status || !b->errors)
            return false;
    }
    for (int t = 0; r->o.detect_lang && t < r->o.threads; t++) {
        if (nf_langid_new(&r->workers[t].langid, &err) != NF_OK) {
            if (!r->o.quiet)
                fprintf(stderr, "newsfold extract: no language detection: %s\n", err.message);
            break;
        }
    }
    r->out = cli_output_open(&r->outf, "extract", r->o.output);
    return r->out != NULL;
}

static void teardown(run *r)
{
    if (r->out) /* not completed */
        cli_output_close(&r->outf, false);
    for (int t = 0; r->workers && t < r->o.threads; t++)
        nf_langid_free(r->workers[t].langid);
    free(r->workers);
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; r->b[k].docs && i < r->b[k].n; i++) /* a batch left by a fatal error */
            nf_doc_free(&r->b[k].docs[i]);
        free(r->b[k].docs);
        free(r->b[k].status);
        free(r->b[k].errors);
    }
    nfi_buf_free(&r->line);
    nf_reader_close(r->reader);
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

/* User + system CPU seconds of all threads so far. */
static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void summary(const run *r, const progress *p)
{
    uint64_t ignored = nf_reader_records_ignored(r->reader);
    if (r->o.stats) {
        double secs = nf_cli_now() - p->start, cpu = cpu_seconds();
        fprintf(stderr,
                "stats: extract: %llu pages, %.1f MB of HTML in %.2f s: %.1f MB/s, %.0f pages/s, %d threads, "
                "cpu %.2f s: %.1f MB/s per core, peak RSS %.1f MB\n",
                (unsigned long long)r->pages, r->bytes_in / 1e6, secs, secs > 0 ? r->bytes_in / 1e6 / secs : 0,
                secs > 0 ? r->pages / secs : 0, r->o.threads, cpu, cpu > 0 ? r->bytes_in / 1e6 / cpu : 0,
                peak_rss_mb());
    }
    if (!r->o.quiet && (r->skipped || ignored))
        fprintf(stderr, "newsfold extract: %llu pages written, %llu skipped, %llu WARC records ignored "
                        "(not HTML responses)\n",
                (unsigned long long)r->pages, (unsigned long long)r->skipped, (unsigned long long)ignored);
}

int cmd_extract(int argc, char **argv)
{
    run r;
    memset(&r, 0, sizeof r);
    int rc = parse_args(argc, argv, &r.o);
    if (rc)
        return rc > 0 ? EXIT_ALL_GOOD : EXIT_FATAL;
    r.status = EXIT_ALL_GOOD;
    if (!setup(&r, argv + optind, (size_t)(argc - optind))) {
        teardown(&r);
        return EXIT_FATAL;
    }
    progress prog;
    progress_init(&prog, r.o.quiet);
    /* Batch k is extracted by workers 1.. while this thread reads batch
     * k + 1, then helps finish k and writes it: reading and extraction
     * overlap, output stays in input order. */
    batch *cur = &r.b[0], *next = &r.b[1];
    bool more = read_batch(&r, cur);
    while (cur->n > 0 || more) {
        int started = start_workers(r.workers, r.o.threads, cur);
        next->n = 0;
        if (more && r.status != EXIT_FATAL)
            more = read_batch(&r, next);
        finish_workers(r.workers, started, cur);
        write_batch(&r, cur);
        cur->n = 0;
        progress_update(&prog, r.pages, nf_reader_bytes_done(r.reader), nf_reader_bytes_total(r.reader));
        batch *t = cur;
        cur = next;
        next = t;
        if (r.status == EXIT_FATAL)
            break;
    }
    progress_finish(&prog);
    summary(&r, &prog);
    if (cli_output_close(&r.outf, r.status != EXIT_FATAL))
        r.status = EXIT_FATAL;
    r.out = NULL;
    teardown(&r);
    return r.status == EXIT_ALL_GOOD && r.skipped ? EXIT_SKIPPED : r.status;
}
