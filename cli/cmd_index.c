/*
 * cmd_index.c - `newsfold index verify|repair|stats DIR`: looks after the
 * incremental duplicate index that `newsfold dedup --index DIR` keeps.
 *
 * All the work is the library's (nf_index_verify / nf_index_repair /
 * nf_index_stats); this file prints their reports. Exit status: 0 the index
 * is sound (verify), repaired or sound (repair), counted (stats); 1 verify
 * found problems; 2 usage error or DIR is not an index at all.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static const char index_usage[] =
    "usage: newsfold index verify DIR   check every segment and the manifest\n"
    "       newsfold index repair DIR   drop what cannot be read, keep the rest\n"
    "       newsfold index stats DIR    documents, segments, bytes, options\n"
    "\n"
    "DIR is an index written by `newsfold dedup --index DIR`. verify names each\n"
    "bad segment and what is wrong with it and exits 0 only when all is sound\n"
    "(1 when something is wrong). repair drops every segment verify finds bad,\n"
    "says how many documents were dropped and from which runs, and leaves an\n"
    "index that verifies; the runs that wrote the dropped documents can then\n"
    "be fed again. Both wait while a `dedup --index` run is writing DIR.\n";

static void print_segment_problems(const nf_index_report *r, bool repaired)
{
    for (size_t i = 0; i < r->n_segments; i++) {
        const nf_index_segment *s = &r->segments[i];
        if (!s->problem)
            continue;
        printf("%s %s (run written %s, %llu documents): %s\n",
               !repaired ? "bad" : s->dropped ? "dropped" : "kept", s->name, s->written[0] ? s->written : "at an unknown time",
               (unsigned long long)s->docs, s->problem);
    }
    for (size_t i = 0; i < r->n_problems; i++)
        printf("%s %s\n", repaired ? "dropped" : "bad", r->problems[i]);
}

static void print_totals(const char *dir, const nf_index_report *r)
{
    printf("%s: %zu segments, %llu documents, %llu pairs, %llu bytes", dir, r->n_segments,
           (unsigned long long)r->docs, (unsigned long long)r->pairs, (unsigned long long)r->bytes);
    if (r->leftovers)
        printf(", %llu leftover files of an interrupted run", (unsigned long long)r->leftovers);
    putchar('\n');
}

static int do_verify(const char *dir)
{
    nf_index_report r;
    nf_error err;
    cli_index_notice("index", dir);
    if (nf_index_verify(dir, &r, &err) != NF_OK) {
        fprintf(stderr, "newsfold index: %s\n", err.message);
        return EXIT_FATAL;
    }
    print_segment_problems(&r, false);
    print_totals(dir, &r);
    int status = EXIT_ALL_GOOD;
    if (r.n_bad) {
        uint64_t docs = 0;
        for (size_t i = 0; i < r.n_segments; i++)
            docs += r.segments[i].problem ? r.segments[i].docs : 0;
        printf("%s: %zu problems, %llu documents affected; `newsfold index repair %s` drops the damaged part\n", dir,
               r.n_bad, (unsigned long long)docs, dir);
        status = EXIT_SKIPPED;
    } else {
        printf("%s: sound\n", dir);
    }
    nf_index_report_free(&r);
    return status;
}

static int do_repair(const char *dir)
{
    nf_index_report r;
    nf_error err;
    cli_index_notice("index", dir);
    if (nf_index_repair(dir, &r, &err) != NF_OK) {
        fprintf(stderr, "newsfold index: %s\n", err.message);
        return EXIT_FATAL;
    }
    print_segment_problems(&r, true);
    size_t runs = 0;
    for (size_t i = 0; i < r.n_segments; i++)
        runs += r.segments[i].dropped;
    if (r.n_bad)
        printf("%s: dropped %llu documents from %zu runs and %llu pairs; %llu documents kept\n", dir,
               (unsigned long long)r.dropped_docs, runs, (unsigned long long)r.dropped_pairs,
               (unsigned long long)r.docs);
    else
        printf("%s: nothing to repair, %llu documents\n", dir, (unsigned long long)r.docs);
    if (r.leftovers)
        printf("%s: removed %llu leftover files of an interrupted run\n", dir, (unsigned long long)r.leftovers);
    nf_index_report_free(&r);
    return EXIT_ALL_GOOD;
}

static int do_stats(const char *dir)
{
    nf_index_report r;
    nf_error err;
    cli_index_notice("index", dir);
    if (nf_index_stats(dir, &r, &err) != NF_OK) {
        fprintf(stderr, "newsfold index: %s\n", err.message);
        return EXIT_FATAL;
    }
    const char *options = strncmp(r.options, "params ", 7) == 0 ? r.options + 7 : r.options;
    printf("index:     %s\n", dir);
    printf("documents: %llu\n", (unsigned long long)r.docs);
    printf("pairs:     %llu\n", (unsigned long long)r.pairs);
    printf("segments:  %zu\n", r.n_segments);
    printf("bytes:     %llu\n", (unsigned long long)r.bytes);
    printf("options:   %s\n", options);
    if (r.leftovers)
        printf("leftovers: %llu files of an interrupted run\n", (unsigned long long)r.leftovers);
    if (r.n_bad)
        printf("problems:  %zu (run `newsfold index verify %s`)\n", r.n_bad, dir);
    nf_index_report_free(&r);
    return EXIT_ALL_GOOD;
}

int cmd_index(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(index_usage, stdout);
        return EXIT_ALL_GOOD;
    }
    if (argc != 3) {
        fputs(index_usage, stderr);
        return EXIT_FATAL;
    }
    const char *what = argv[1], *dir = argv[2];
    if (strcmp(what, "verify") == 0)
        return do_verify(dir);
    if (strcmp(what, "repair") == 0)
        return do_repair(dir);
    if (strcmp(what, "stats") == 0)
        return do_stats(dir);
    fprintf(stderr, "newsfold index: unknown action '%s'\n", what);
    fputs(index_usage, stderr);
    return EXIT_FATAL;
}
