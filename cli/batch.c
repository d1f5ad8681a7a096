/*
 * batch.c - the read -> clean loop every command shares.
 *
 * Documents are read in batches bounded by count and bytes, cleaned on the
 * cleaner's threads, and handed to the command's callback in input order;
 * the batch is freed before the next is read, so memory stays flat. Skipped
 * records are named on stderr and counted; progress is drawn as it goes.
 */
#include "cli.h"

#include <stdlib.h>
#include <sys/resource.h>

#define BATCH_BYTES (64u << 20)

int cli_run_batches(const cli_input *in, cli_batch_fn fn, void *ctx, cli_totals *totals)
{
    nf_error err = {NF_OK, ""};
    nf_reader_options ropt = {.max_record_bytes = in->max_record};
    nf_reader *reader = NULL;
    nf_cleaner *cleaner = NULL;
    if (nf_reader_open(&reader, (const char *const *)in->paths, in->n_paths, &ropt, &err) ||
        nf_cleaner_new(&cleaner, &in->clean, &err)) {
        fprintf(stderr, "newsfold %s: %s\n", in->command, err.message);
        nf_reader_close(reader);
        return EXIT_FATAL;
    }
    size_t batch = in->batch_docs ? in->batch_docs : 4096;
    nf_doc *docs = calloc(batch, sizeof *docs);
    nf_clean_doc *cleaned = calloc(batch, sizeof *cleaned);
    int status = docs && cleaned ? EXIT_ALL_GOOD : EXIT_FATAL;
    progress_init(&totals->progress, in->quiet);
    bool more = status == EXIT_ALL_GOOD;
    while (more) {
        size_t n = 0, bytes = 0;
        while (n < batch && bytes < BATCH_BYTES) {
            nf_status st = nf_reader_next(reader, &docs[n], &err);
            if (st == NF_END) {
                more = false;
                break;
            }
            if (st == NF_SKIPPED) {
                totals->skipped++;
                fprintf(stderr, "newsfold %s: %s\n", in->command, err.message);
                continue;
            }
            if (st != NF_OK) {
                fprintf(stderr, "newsfold %s: %s\n", in->command, err.message);
                more = false;
                status = EXIT_FATAL;
                break;
            }
            if (docs[n].text_len == 0)
                fprintf(stderr, "newsfold %s: %s:%llu: empty text (kept, id \"%s\")\n", in->command,
                        docs[n].origin, (unsigned long long)docs[n].record, docs[n].id);
            bytes += docs[n].text_len;
            n++;
        }
        if (nf_clean_batch(cleaner, docs, n, cleaned, &err) != NF_OK) {
            fprintf(stderr, "newsfold %s: %s\n", in->command, err.message);
            status = EXIT_FATAL;
            more = false;
        }
        if (status != EXIT_FATAL && fn(ctx, cleaned, n) != 0) {
            status = EXIT_FATAL;
            more = false;
        }
        for (size_t i = 0; i < n; i++) {
            nf_clean_doc_free(&cleaned[i]);
            nf_doc_free(&docs[i]);
        }
        totals->docs += n;
        totals->bytes += bytes;
        progress_update(&totals->progress, totals->docs, nf_reader_bytes_done(reader), nf_reader_bytes_total(reader));
    }
    progress_finish(&totals->progress);
    free(docs);
    free(cleaned);
    nf_cleaner_free(cleaner);
    nf_reader_close(reader);
    return status;
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
