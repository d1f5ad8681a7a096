/*
 * main.c - the newsfold command: dispatches to subcommands and holds the
 * helpers they share (progress line, thread and size arguments).
 *
 * Progress is drawn on stderr only when stderr is a terminal and --quiet is
 * not given, so logs and pipelines stay clean.
 */
#include "cli.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: newsfold [--version] [--help] COMMAND [options] INPUT...\n"
    "\n"
    "Folds raw news pages into stories.\n"
    "\n"
    "commands:\n"
    "  clean     clean and normalize documents; one JSONL record per document\n"
    "  dedup     find exact, near and partial duplicates; one record per document\n"
    "  extract   main text and metadata of HTML pages and WARC records; one record per page\n"
    "  links     find translations across languages; one record per pair (or --groups)\n"
    "  compare   explain why two documents are or are not translations\n"
    "  run       the whole pipeline: duplicates, events, storylines, report.html\n"
    "  eval      score clusters (group, event, storyline) against a gold file\n"
    "\n"
    "INPUT is a file or directory (recursive) of .txt, .json, .jsonl, .html, .htm,\n"
    ".warc (each may be .gz), or - for JSONL on stdin. HTML pages and WARC records\n"
    "are reduced to their main text. 'newsfold COMMAND --help' for options.\n"
    "exit status: 0 all good, 1 some records skipped, 2 usage or fatal error\n";

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

FILE *nf_cli_open_output(const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "wb");
    if (!f)
        perror(path);
    return f;
}

int main(int argc, char **argv)
{
    /* Batches allocate and free large buffers over and over; keep them in
     * the heap instead of mapping and faulting them in every time. */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_FATAL;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(usage, stdout);
        return EXIT_ALL_GOOD;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("newsfold %s\n", nf_version());
        return EXIT_ALL_GOOD;
    }
    if (strcmp(cmd, "clean") == 0)
        return cmd_clean(argc - 1, argv + 1);
    if (strcmp(cmd, "dedup") == 0)
        return cmd_dedup(argc - 1, argv + 1);
    if (strcmp(cmd, "extract") == 0)
        return cmd_extract(argc - 1, argv + 1);
    if (strcmp(cmd, "links") == 0)
        return cmd_links(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0)
        return cmd_compare(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0)
        return cmd_eval(argc - 1, argv + 1);
    fprintf(stderr, "newsfold: unknown command '%s'\n\n%s", cmd, usage);
    return EXIT_FATAL;
}
