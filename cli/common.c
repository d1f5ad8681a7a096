/*
 * common.c - what the commands share: the read -> clean loop, the progress
 * line, and thread, size and clock helpers.
 *
 * Documents are read in batches bounded by count and bytes and handed to
 * the command's callback in input order (cli_read_batches), or cleaned on
 * the cleaner's threads first (cli_run_batches). A reader thread reads the
 * next batch while the callback works on the current one, so reading and
 * JSON parsing overlap with the work; at most two batches are alive, so
 * memory stays flat. Skipped records are named on stderr and counted;
 * progress is drawn as it goes.
 */
#include "cli.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

/* Progress is drawn on stderr only when stderr is a terminal and --quiet is
 * not given, so logs and pipelines stay clean. */
double nf_cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void progress_init(progress *p, bool quiet)
{
    memset(p, 0, sizeof *p);
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->start = p->last = nf_cli_now();
}

void progress_update(progress *p, uint64_t docs, uint64_t done, uint64_t total)
{
    p->docs = docs;
    if (!p->enabled)
        return;
    double now = nf_cli_now();
    if (now - p->last < 0.25)
        return;
    p->last = now;
    double secs = now - p->start;
    double mbs = secs > 0 ? done / 1e6 / secs : 0;
    fprintf(stderr, "\r%llu docs, %.1f MB, %.1f MB/s", (unsigned long long)docs, done / 1e6, mbs);
    if (total > done && mbs > 0)
        fprintf(stderr, ", ETA %.0fs   ", (total - done) / 1e6 / mbs);
    else
        fputs("   ", stderr);
}

void progress_finish(progress *p)
{
    if (p->enabled)
        fputs("\r\033[K", stderr);
}

int nf_cli_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int nf_cli_threads(const char *arg)
{
    char *end;
    long n = strtol(arg, &end, 10);
    if (*end || n < 0 || n > 1024)
        return -1;
    return n == 0 ? nf_cli_default_threads() : (int)n;
}

size_t nf_cli_parse_size(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v <= 0)
        return 0;
    switch (*end) {
    case 'k': case 'K': v *= 1024; end++; break;
    case 'm': case 'M': v *= 1024 * 1024; end++; break;
    case 'g': case 'G': v *= 1024.0 * 1024 * 1024; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    return *end ? 0 : (size_t)v;
}


/* --------------------------------------------------------- read loop */


/* One batch being read on the reader thread while the previous one is
 * worked on: reading and JSON parsing overlap with cleaning and the stages. */
typedef struct read_job {
    const cli_input *in;
    nf_reader *reader;
    nf_doc *docs;
    size_t cap, n, bytes, skipped;
    bool more, fatal;
} read_job;

static void *read_batch(void *arg)
{
    read_job *j = arg;
    nf_error err = {NF_OK, ""};
    j->n = j->bytes = j->skipped = 0;
    size_t max_bytes = j->in->batch_bytes ? j->in->batch_bytes : CLI_BATCH_BYTES;
    while (j->n < j->cap && j->bytes < max_bytes) {
        nf_doc *d = &j->docs[j->n];
        nf_status st = nf_reader_next(j->reader, d, &err);
        if (st == NF_END) {
            j->more = false;
            break;
        }
        if (st == NF_SKIPPED) {
            j->skipped++;
            if (!j->in->quiet_skips)
                fprintf(stderr, "newsfold %s: %s\n", j->in->command, err.message);
            continue;
        }
        if (st != NF_OK) {
            fprintf(stderr, "newsfold %s: %s\n", j->in->command, err.message);
            j->more = false;
            j->fatal = true;
            break;
        }
        bool raw = d->extract && d->extract->raw; /* deferred HTML: no text yet */
        if (d->text_len == 0 && !raw && !(d->title && *d->title)) /* a headline alone is a document */
            fprintf(stderr, "newsfold %s: %s:%llu: no text and no title (kept, id \"%s\")\n", j->in->command,
                    d->origin, (unsigned long long)d->record, d->id);
        j->bytes += raw ? d->extract->raw_len : d->text_len;
        j->n++;
    }
    return NULL;
}

static bool start_read(read_job *j, pthread_t *t)
{
    if (pthread_create(t, NULL, read_batch, j) == 0)
        return true;
    read_batch(j); /* no thread: read in line */
    return false;
}

int cli_read_batches(const cli_input *in, cli_raw_fn fn, void *ctx, cli_totals *totals)
{
    nf_error err = {NF_OK, ""};
    nf_reader_options ropt = {.max_record_bytes = in->max_record, .max_page_bytes = in->max_page,
                              .defer_extract = in->defer_extract};
    nf_reader *reader = NULL;
    if (nf_reader_open(&reader, (const char *const *)in->paths, in->n_paths, &ropt, &err)) {
        fprintf(stderr, "newsfold %s: %s\n", in->command, err.message);
        return EXIT_FATAL;
    }
    size_t batch = in->batch_docs ? in->batch_docs : CLI_BATCH_DOCS;
    read_job jobs[2] = {{in, reader, calloc(batch, sizeof(nf_doc)), batch, 0, 0, 0, true, false},
                        {in, reader, calloc(batch, sizeof(nf_doc)), batch, 0, 0, 0, true, false}};
    int status = jobs[0].docs && jobs[1].docs ? EXIT_ALL_GOOD : EXIT_FATAL;
    progress_init(&totals->progress, in->quiet);
    pthread_t thread;
    int cur = 0;
    bool threaded = false;
    if (status == EXIT_ALL_GOOD)
        read_batch(&jobs[0]);
    while (status == EXIT_ALL_GOOD) {
        read_job *j = &jobs[cur], *next = &jobs[1 - cur];
        totals->skipped += j->skipped;
        if (j->fatal)
            status = EXIT_FATAL;
        bool more = j->more && !j->fatal;
        if (more) /* the reader works on the next batch meanwhile; it shares no state with fn */
            threaded = start_read(next, &thread);
        if (status == EXIT_ALL_GOOD && j->n && fn(ctx, j->docs, j->n) != 0)
            status = EXIT_FATAL;
        for (size_t i = 0; i < j->n; i++)
            nf_doc_free(&j->docs[i]);
        totals->docs += j->n;
        totals->bytes += j->bytes;
        j->n = 0;
        if (threaded)
            pthread_join(thread, NULL);
        threaded = false;
        progress_update(&totals->progress, totals->docs, nf_reader_bytes_done(reader), nf_reader_bytes_total(reader));
        if (!more)
            break;
        cur = 1 - cur;
    }
    for (int k = 0; k < 2; k++) { /* what a stopped run had read ahead */
        for (size_t i = 0; i < jobs[k].n; i++)
            nf_doc_free(&jobs[k].docs[i]);
        free(jobs[k].docs);
    }
    progress_finish(&totals->progress);
    totals->ignored = nf_reader_records_ignored(reader);
    nf_reader_close(reader);
    return status;
}

typedef struct clean_job {
    const cli_input *in;
    nf_cleaner *cleaner;
    nf_clean_doc *cleaned;
    cli_batch_fn fn;
    void *ctx;
    int rc; /* the batch function's non-zero answer, which stopped the run */
} clean_job;

static nf_status hand_slice(void *ctx, nf_clean_doc *cleaned, size_t n, nf_error *err)
{
    clean_job *c = ctx;
    c->rc = c->fn(c->ctx, cleaned, n);
    if (c->rc == 0)
        return NF_OK;
    err->code = NF_ERR_ARG, err->message[0] = '\0'; /* clean_batch reports c->rc instead */
    return NF_ERR_ARG;
}

/* The batch's template is learned whole, then the batch is cleaned and
 * handed on a slice at a time (nf_clean_each_slice): only one slice of
 * cleaned documents (about ten times their text) is alive, so the stages
 * read them from cache and the kernel zeroes fewer fresh pages. */
static int clean_batch(void *ctx, nf_doc *docs, size_t n)
{
    clean_job *c = ctx;
    nf_error err;
    nf_status st = nf_clean_each_slice(c->cleaner, docs, n, c->cleaned, hand_slice, c, &err);
    if (c->rc != 0)
        return c->rc; /* the batch function said why */
    if (st != NF_OK) {
        fprintf(stderr, "newsfold %s: %s\n", c->in->command, err.message);
        return -1;
    }
    return 0;
}

int cli_run_batches(const cli_input *in, cli_batch_fn fn, void *ctx, cli_totals *totals)
{
    nf_error err;
    clean_job c = {in, NULL, calloc(NF_CLEAN_SLICE, sizeof(nf_clean_doc)), fn, ctx, 0};
    if (!c.cleaned || nf_cleaner_new(&c.cleaner, &in->clean, &err) != NF_OK) {
        fprintf(stderr, "newsfold %s: %s\n", in->command, c.cleaned ? err.message : "out of memory");
        free(c.cleaned);
        return EXIT_FATAL;
    }
    int status = cli_read_batches(in, clean_batch, &c, totals);
    nf_cleaner_free(c.cleaner);
    free(c.cleaned);
    return status;
}

static void mpi_warn(void *command, const char *message)
{
    fprintf(stderr, "newsfold %s: %s\n", (const char *)command, message);
}

nf_mpi_input cli_mpi_input(const char *command, char **paths, size_t n_paths, size_t batch_docs)
{
    return (nf_mpi_input){(const char *const *)paths, n_paths, batch_docs ? batch_docs : CLI_BATCH_DOCS,
                          CLI_BATCH_BYTES, 0, mpi_warn, (void *)(uintptr_t)command};
}

nf_mpi *cli_mpi_start(const char *command)
{
    nf_error err;
    nf_mpi *m = NULL;
    if (nf_mpi_init(&m, &err) == NF_OK)
        return m;
    fprintf(stderr, "newsfold %s: --mpi: %s\n", command, err.message);
    return NULL;
}

void cli_mpi_stop(const char *command, nf_mpi *m, const char *message)
{
    int rank = nf_mpi_rank(m);
    if (message)
        fprintf(stderr, "newsfold %s: rank %d: %s\n", command, rank, message);
    fprintf(stderr, "newsfold %s: rank %d failed: stopping all %d ranks\n", command, rank, nf_mpi_size(m));
    nf_mpi_abort(m, EXIT_FATAL);
}

void cli_mpi_totals(cli_totals *t, const nf_mpi_totals *mpi)
{
    t->docs = mpi->docs;
    t->skipped = mpi->skipped;
    t->bytes = mpi->bytes;
}

void cli_report_mpi_stats(const char *command, const char *work, nf_mpi *m, const nf_mpi_stats *s,
                          const cli_totals *t, int threads)
{
    fprintf(stderr,
            "stats: %s --mpi rank %d/%d: scanned %llu docs, batches %llu (%llu docs), exchanged %llu B, sent %llu B, "
            "received %llu B; cpu s: plan %.2f, %s %.2f, collect %.2f, finish %.2f\n",
            command, nf_mpi_rank(m), nf_mpi_size(m), (unsigned long long)s->docs_scanned,
            (unsigned long long)s->batches_cleaned, (unsigned long long)s->docs_cleaned,
            (unsigned long long)s->bytes_exchanged, (unsigned long long)s->bytes_sent,
            (unsigned long long)s->bytes_received, s->cpu_plan, work, s->cpu_read, s->cpu_collect, s->cpu_finish);
    cli_report_stats(command, t, threads);
}

void cli_report_stats(const char *command, const cli_totals *t, int threads)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double secs = nf_cli_now() - t->progress.start;
    fprintf(stderr,
            "stats: %s: %llu docs, %.1f MB in %.2f s: %.1f MB/s, %.0f docs/s, %d threads, peak RSS %.1f MB\n",
            command, (unsigned long long)t->docs, t->bytes / 1e6, secs, secs > 0 ? t->bytes / 1e6 / secs : 0,
            secs > 0 ? t->docs / secs : 0, threads, ru.ru_maxrss / 1024.0);
}

int cli_finish_status(const char *command, const cli_totals *t, bool quiet, int status)
{
    if (!quiet && t->skipped)
        fprintf(stderr, "newsfold %s: %llu documents processed, %llu records skipped\n", command,
                (unsigned long long)t->docs, (unsigned long long)t->skipped);
    if (status == EXIT_ALL_GOOD && t->skipped)
        status = EXIT_SKIPPED;
    return status;
}
