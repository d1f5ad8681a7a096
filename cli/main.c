/*
 * main.c - the newsfold command: dispatches to its subcommands (cmd_*.c);
 * what they share is in common.c.
 */
#include "cli.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
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
    "  index     verify, repair or describe a dedup index (--index DIR)\n"
    "  serve     the live news desk: HTTP API, web UI and an embedded store\n"
    "\n"
    "INPUT is a file or directory (recursive) of .txt, .json, .jsonl, .html, .htm,\n"
    ".warc (each may be .gz), or - for JSONL on stdin. HTML pages and WARC records\n"
    "are reduced to their main text. 'newsfold COMMAND --help' for options.\n"
    "exit status: 0 all good, 1 some records skipped, 2 usage or fatal error\n";

/* The heap grows to tens or thousands of megabytes (pivots, sort buffers)
 * and the kernel faults it in page by page: dedup on the 20 MB benchmark
 * corpus took 18,000 page faults, an eighth of its CPU time in the kernel.
 * glibc asks for transparent huge pages on its heap when its tunable
 * glibc.malloc.hugetlb is 1 (18,000 -> 3,300 faults), but reads tunables
 * only when a program starts: so the command starts itself once more with
 * it set, unless the caller set GLIBC_TUNABLES or NEWSFOLD_HUGE_PAGES=0
 * (or runs it under valgrind, which would not follow the exec).
 * Where the kernel gives no huge pages (THP off) it changes nothing; where
 * the exec fails, the command runs as it is. */
static void ask_for_huge_pages(char **argv)
{
    const char *choice = getenv("NEWSFOLD_HUGE_PAGES"), *preload = getenv("LD_PRELOAD");
    if (getenv("GLIBC_TUNABLES") || (choice && strcmp(choice, "0") == 0))
        return;
    if (preload && strstr(preload, "vgpreload")) /* under valgrind the new image would run without it */
        return;
    if (setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
    unsetenv("GLIBC_TUNABLES");
}

int main(int argc, char **argv)
{
    ask_for_huge_pages(argv);
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
    static const struct {
        const char *name;
        int (*run)(int argc, char **argv);
    } commands[] = {
        {"clean", cmd_clean}, {"dedup", cmd_dedup}, {"extract", cmd_extract}, {"links", cmd_links},
        {"compare", cmd_compare}, {"run", cmd_run}, {"eval", cmd_eval}, {"index", cmd_index},
        {"serve", cmd_serve},
    };
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "newsfold: unknown command '%s'\n\n%s", cmd, usage);
    return EXIT_FATAL;
}
