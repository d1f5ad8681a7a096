/*
 * output.c - what the commands share for writing safely: output files that
 * appear only when complete, and the notice that an index is busy.
 *
 * cli_output wraps the library's nf_outfile (a temporary beside the target,
 * fsync'ed and renamed into place on success, removed on failure), so a
 * failed or killed command leaves the previous -o FILE untouched rather than
 * a truncated one; "-" and no -o mean stdout, which is only flushed.
 *
 * cli_index_notice polls the index lock for a second before a command locks
 * it, so a user whose run waits for another writer is told why.
 */
#include "cli.h"

#include <string.h>
#include <time.h>

FILE *cli_output_open(cli_output *o, const char *command, const char *path)
{
    *o = (cli_output){stdout, NULL, command};
    if (!path || strcmp(path, "-") == 0)
        return o->f;
    nf_error err;
    if (nf_outfile_open(&o->file, path, &err) != NF_OK) {
        fprintf(stderr, "newsfold %s: %s\n", command, err.message);
        return o->f = NULL;
    }
    return o->f = nf_outfile_stream(o->file);
}

int cli_output_close(cli_output *o, bool complete)
{
    if (!o->f)
        return 1;
    o->f = NULL;
    if (!o->file) {
        if (fflush(stdout) == 0 && !ferror(stdout))
            return 0;
        fprintf(stderr, "newsfold %s: cannot write standard output\n", o->command);
        return 1;
    }
    nf_outfile *file = o->file;
    o->file = NULL;
    if (!complete) {
        nf_outfile_abort(file);
        return 1;
    }
    nf_error err;
    if (nf_outfile_commit(file, &err) == NF_OK)
        return 0;
    fprintf(stderr, "newsfold %s: %s\n", o->command, err.message);
    return 1;
}

void cli_index_notice(const char *command, const char *dir)
{
    long pid = 0;
    for (int tries = 0; tries < 10; tries++) {
        if (!nf_index_busy(dir, &pid))
            return;
        struct timespec tenth = {0, 100000000};
        nanosleep(&tenth, NULL);
    }
    if (!nf_index_busy(dir, &pid))
        return;
    if (pid > 0)
        fprintf(stderr, "newsfold %s: index %s is in use by another newsfold process (pid %ld); waiting for it\n",
                command, dir, pid);
    else
        fprintf(stderr, "newsfold %s: index %s is in use by another newsfold process; waiting for it\n", command, dir);
}
