/*
 * cli.h - what the subcommands of the newsfold command share: option
 * parsing conventions, progress reporting and exit codes.
 *
 * Exit status everywhere: 0 all input processed, 1 some records or files
 * were skipped (each named on stderr), 2 usage or fatal error.
 */
#ifndef NF_CLI_H
#define NF_CLI_H

#include "newsfold.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum { EXIT_ALL_GOOD = 0, EXIT_SKIPPED = 1, EXIT_FATAL = 2 };

typedef struct progress {
    bool enabled;
    double start, last;
    uint64_t docs;
} progress;

double nf_cli_now(void);
void progress_init(progress *p, bool quiet);
/* Redraws at most a few times a second. */
void progress_update(progress *p, uint64_t docs, uint64_t bytes_done, uint64_t bytes_total);
void progress_finish(progress *p);

/* Parses "-j N" style thread counts; 0 means all cores. */
int nf_cli_threads(const char *arg);
int nf_cli_default_threads(void);
/* Parses sizes like "64M", "2G", "4096". Returns 0 on error. */
size_t nf_cli_parse_size(const char *s);


/* -o FILE / --pairs FILE through nf_outfile: written under a temporary name
 * and renamed into place by cli_output_close when complete, so a failed or
 * killed run leaves the previous file (stdout for NULL / "-"). Open returns
 * the stream, or NULL after a message; close(complete = false) discards.
 * Close returns 0 when everything was written. */
typedef struct cli_output {
    FILE *f;
    nf_outfile *file;
    const char *command;
} cli_output;
FILE *cli_output_open(cli_output *o, const char *command, const char *path);
int cli_output_close(cli_output *o, bool complete);
/* Before a call that locks an index: when another process holds the lock
 * for more than a second, says so on stderr (the call then waits). */
void cli_index_notice(const char *command, const char *dir);

/* The shared read -> clean loop (common.c). A batch holds at most
 * batch_docs documents (0: CLI_BATCH_DOCS) and batch_bytes of text. */
#define CLI_BATCH_DOCS 4096
#define CLI_BATCH_BYTES (64u << 20) /* batch_bytes 0 */
typedef struct cli_input {
    const char *command; /* for messages */
    char **paths;
    size_t n_paths;
    nf_clean_options clean;
    size_t max_record, batch_docs;
    bool quiet;
    size_t batch_bytes;  /* 0 = 64 MiB of text (or raw pages) a batch */
    size_t max_page;     /* HTML pages / WARC payloads (0 = the reader's default) */
    bool defer_extract;  /* HTML comes back unextracted (see nf_extractor) */
    bool quiet_skips;    /* count skipped records without naming them (MPI ranks but 0: rank 0 names them) */
} cli_input;

typedef struct cli_totals {
    uint64_t docs, skipped, bytes;
    uint64_t ignored; /* records passed over on purpose (nf_reader_records_ignored) */
    progress progress;
} cli_totals;

/* Called with each cleaned batch, in input order; non-zero stops the run. */
typedef int (*cli_batch_fn)(void *ctx, nf_clean_doc *docs, size_t n);

int cli_run_batches(const cli_input *in, cli_batch_fn fn, void *ctx, cli_totals *totals);
/* The same without cleaning: fn takes the raw documents over (the caller
 * frees whatever fn leaves in docs). */
typedef int (*cli_raw_fn)(void *ctx, nf_doc *docs, size_t n);
int cli_read_batches(const cli_input *in, cli_raw_fn fn, void *ctx, cli_totals *totals);
void cli_report_stats(const char *command, const cli_totals *t, int threads);
/* The input of an --mpi run: the single process's batch rule (batch_docs
 * 0: CLI_BATCH_DOCS), each skipped record named on stderr after
 * "newsfold COMMAND: " (command must outlive the run). */
nf_mpi_input cli_mpi_input(const char *command, char **paths, size_t n_paths, size_t batch_docs);
/* nf_mpi_init for `newsfold COMMAND --mpi`; NULL, said on stderr, when MPI
 * cannot start. */
nf_mpi *cli_mpi_start(const char *command);
/* A rank's fatal error (message, or NULL when already said) named with the
 * rank, then every rank stopped: the others would wait for this one. Does
 * not return while MPI runs. */
void cli_mpi_stop(const char *command, nf_mpi *m, const char *message);
/* An --mpi run's totals into the command's. */
void cli_mpi_totals(cli_totals *t, const nf_mpi_totals *mpi);
/* --stats of an --mpi run: this rank's exchange figures and CPU by phase
 * (work: what the ranks do to their batches), then cli_report_stats. */
void cli_report_mpi_stats(const char *command, const char *work, nf_mpi *m, const nf_mpi_stats *s,
                          const cli_totals *t, int threads);
/* Prints the skipped summary; turns ALL_GOOD into SKIPPED when needed. */
int cli_finish_status(const char *command, const cli_totals *t, bool quiet, int status);

int cmd_clean(int argc, char **argv);
int cmd_dedup(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_links(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_serve(int argc, char **argv);
/* newsfold run --db FILE (cmd_serve.c): the store of newsfold serve written
 * in batch: documents before nf_fold_add takes them, then the final result
 * (NULL: abandon). Messages on stderr; NULL or non-zero on failure. */
typedef struct cli_db cli_db;
cli_db *cli_db_open(const char *path);
int cli_db_add(cli_db *db, const nf_doc *docs, size_t n);
int cli_db_finish(cli_db *db, const nf_fold_result *result);
int cmd_index(int argc, char **argv);

#endif
