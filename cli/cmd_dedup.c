/*
 * cmd_dedup.c - `newsfold dedup`: exact, near and partial duplicates.
 *
 * Reads and cleans like `clean`, sketches each batch into the dedup engine,
 * then writes one record per document in input order (with --index, per
 * new document) and, with --pairs, every verified pair.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>


static const char dedup_usage[] =
    "usage: newsfold dedup [options] INPUT...\n"
    "\n"
    "Finds exact, near and partial (contained) duplicates. Writes one JSON\n"
    "object per document: id, group (the canonical member's id), canonical,\n"
    "relation (unique|canonical|exact|near|contained), score, and reason for\n"
    "documents too short to compare.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE     write here instead of stdout\n"
    "      --pairs FILE      also write every verified pair {a, b, relation, score}\n"
    "      --method M        minhash (default) or simhash\n"
    "      --threshold T     Jaccard threshold for near duplicates (default 0.6)\n"
    "      --containment C   share of a document inside another (default 0.8)\n"
    "      --ngram N         shingle size in words (characters for CJK/Thai; default 5)\n"
    "      --perms K         MinHash signature length (default 128)\n"
    "      --hamming K       SimHash: max Hamming distance (default 3)\n"
    "      --exact-verify    verify candidates with exact Jaccard of shingle sets\n"
    "      --index DIR       persistent index: add this run's documents, report\n"
    "                        the new ones (old documents are not re-sketched)\n"
    "      --mem-limit SIZE  memory for sort buffers before spilling (default 512M)\n"
    "      --tmp-dir DIR     where spilled runs and signatures go (default $TMPDIR)\n"
    "  -j, --threads N       worker threads (default: all cores)\n"
    "      --batch N         documents per batch (default 4096)\n"
    "      --mpi             run under mpirun: ranks share the cleaning and sketching,\n"
    "                        rank 0 writes the output (docs/distributed.md)\n"
    "      --shard-output    with --mpi and -o FILE: rank R writes the records of the\n"
    "                        documents it read to FILE.R (FILE.0 FILE.1 ... in order\n"
    "                        are the single output); --pairs stays whole on rank 0\n"
    "      --stats           print throughput, candidates and peak memory on stderr\n"
    "  -q, --quiet           no progress, no summary\n"
    "  -h, --help            this help\n";

typedef struct dedup_cli {
    const char *output, *pairs;
    nf_dedup_options dedup;
    nf_clean_options clean;
    bool quiet, stats;
    bool mpi;          /* --mpi (docs/distributed.md) */
    bool shard_output; /* --shard-output: each rank writes its part of -o */
    size_t batch_docs; /* --batch; 0: the default */
} dedup_cli;

static int bad_value(const char *what, const char *v)
{
    fprintf(stderr, "newsfold dedup: bad %s '%s'\n", what, v);
    return -1;
}

static int parse_args(int argc, char **argv, dedup_cli *o)
{
    static const struct option longs[] = {
        {"output", required_argument, 0, 'o'},      {"pairs", required_argument, 0, 'P'},
        {"method", required_argument, 0, 'm'},      {"threshold", required_argument, 0, 't'},
        {"containment", required_argument, 0, 'c'}, {"ngram", required_argument, 0, 'n'},
        {"perms", required_argument, 0, 'k'},       {"hamming", required_argument, 0, 'H'},
        {"exact-verify", no_argument, 0, 'E'},      {"index", required_argument, 0, 'I'},
        {"mem-limit", required_argument, 0, 'M'},   {"tmp-dir", required_argument, 0, 'T'},
        {"threads", required_argument, 0, 'j'},     {"stats", no_argument, 0, 's'},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {"mpi", no_argument, 0, 'X'},               {"batch", required_argument, 0, 'B'},
        {"shard-output", no_argument, 0, 'S'},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    nf_dedup_options_default(&o->dedup);
    nf_clean_options_default(&o->clean);
    /* dedup compares normalized tokens: no stems, no dates found in the
     * text (a date given in the record still orders the canonicals), no
     * language identification (segmentation goes by script) */
    o->clean.stem = 0;
    o->clean.dates = 0;
    o->clean.lang = 0;
    o->clean.token_hashes = 1; /* unit hashes and normalized text, no token records */
    o->clean.threads = o->dedup.threads = nf_cli_default_threads();
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "o:j:qh", longs, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case 'P': o->pairs = optarg; break;
        case 'm':
            if (strcmp(optarg, "minhash") == 0)
                o->dedup.method = NF_DEDUP_MINHASH;
            else if (strcmp(optarg, "simhash") == 0)
                o->dedup.method = NF_DEDUP_SIMHASH;
            else
                return bad_value("method", optarg);
            break;
        case 't': o->dedup.threshold = strtod(optarg, &end); if (*end) return bad_value("threshold", optarg); break;
        case 'c': o->dedup.containment = strtod(optarg, &end); if (*end) return bad_value("containment", optarg); break;
        case 'n': o->dedup.ngram = (int)strtol(optarg, &end, 10); if (*end) return bad_value("ngram", optarg); break;
        case 'k': o->dedup.perms = (int)strtol(optarg, &end, 10); if (*end) return bad_value("perms", optarg); break;
        case 'H': o->dedup.hamming = (int)strtol(optarg, &end, 10); if (*end) return bad_value("hamming", optarg); break;
        case 'E': o->dedup.exact_verify = 1; break;
        case 'I': o->dedup.index_dir = optarg; break;
        case 'M':
            if (!(o->dedup.mem_limit = nf_cli_parse_size(optarg)))
                return bad_value("size", optarg);
            break;
        case 'T': o->dedup.tmp_dir = optarg; break;
        case 'j':
            if ((o->clean.threads = o->dedup.threads = nf_cli_threads(optarg)) < 1)
                return bad_value("thread count", optarg);
            break;
        case 's': o->stats = true; break;
        case 'X': o->mpi = true; break;
        case 'S': o->shard_output = true; break;
        case 'B': if (!(o->batch_docs = strtoul(optarg, &end, 10)) || *end) return bad_value("batch size", optarg); break;
        case 'q': o->quiet = true; break;
        case 'h': fputs(dedup_usage, stdout); return 1;
        default: fputs(dedup_usage, stderr); return -1;
        }
    }
    if (o->shard_output && (!o->mpi || !o->output || strcmp(o->output, "-") == 0)) {
        fputs("newsfold dedup: --shard-output needs --mpi and -o FILE\n", stderr);
        return -1;
    }
    if (optind >= argc) {
        fputs("newsfold dedup: no INPUT given\n", stderr);
        fputs(dedup_usage, stderr);
        return -1;
    }
    return 0;
}

static int add_batch(void *ctx, nf_clean_doc *docs, size_t n)
{
    nf_error err;
    if (nf_dedup_add(ctx, docs, n, &err) != NF_OK) {
        fprintf(stderr, "newsfold dedup: %s\n", err.message);
        return -1;
    }
    return 0;
}

static void write_docs(FILE *out, const nf_dedup_result *r)
{
    nf_buffer b = {0};
    for (size_t i = 0; i < r->n_docs; i++) {
        if (r->docs[i].from_index)
            continue;
        b.len = 0;
        nf_jsonl_dedup_record(&b, r, i);
        fwrite(b.data, 1, b.len, out);
    }
    nf_buffer_free(&b);
}

static void write_pairs(FILE *out, const nf_dedup_result *r)
{
    nf_buffer b = {0};
    for (size_t k = 0; k < r->n_pairs; k++) {
        const nf_dedup_pair *p = &r->pairs[k];
        if (r->docs[p->a].from_index && r->docs[p->b].from_index)
            continue;
        b.len = 0;
        nf_jsonl_dedup_pair(&b, r, k);
        fwrite(b.data, 1, b.len, out);
    }
    nf_buffer_free(&b);
}

/* --mpi (docs/distributed.md): the ranks split the input among them and
 * finish together (nf_mpi_dedup_write); rank 0 writes the output, or with
 * --shard-output each rank FILE.R with its documents' records (--pairs
 * stays whole, on rank 0). Each skipped record is named once, by the rank
 * that reads it. */
typedef struct mpi_out {
    cli_output file[2]; /* documents, pairs */
    FILE *f[2];
} mpi_out;

static nf_status write_piece(void *ctx, int which, const char *data, size_t len, nf_error *err)
{
    mpi_out *o = ctx;
    if (fwrite(data, 1, len, o->f[which]) == len)
        return NF_OK;
    err->code = NF_ERR_IO;
    snprintf(err->message, sizeof err->message, "cannot write the output");
    return NF_ERR_IO;
}

/* Opens what this rank writes; false after a message. */
static bool open_mpi_out(const dedup_cli *o, int rank, mpi_out *out)
{
    char path[4096];
    memset(out, 0, sizeof *out);
    out->file[1] = (cli_output){NULL, NULL, "dedup"};
    if (o->shard_output) {
        snprintf(path, sizeof path, "%s.%d", o->output, rank);
        out->f[0] = cli_output_open(&out->file[0], "dedup", path);
    } else if (rank == 0) {
        out->f[0] = cli_output_open(&out->file[0], "dedup", o->output);
    } else {
        out->f[0] = stdout; /* not written */
        out->file[0] = (cli_output){NULL, NULL, "dedup"};
    }
    if (rank == 0 && o->pairs)
        out->f[1] = cli_output_open(&out->file[1], "dedup", o->pairs);
    return out->f[0] && (rank != 0 || !o->pairs || out->f[1]);
}

/* Renames the outputs into place (complete) or discards them; 0 when
 * everything was written. */
static int close_mpi_out(const dedup_cli *o, int rank, mpi_out *out, bool complete)
{
    int rc = 0;
    if (o->shard_output || rank == 0)
        rc |= cli_output_close(&out->file[0], complete);
    if (rank == 0 && o->pairs)
        rc |= cli_output_close(&out->file[1], complete);
    return rc;
}

static void mpi_stats(nf_mpi *m, nf_mpi_dedup *md, const cli_totals *totals, int threads)
{
    nf_mpi_stats s;
    nf_mpi_dedup_stats(md, &s);
    cli_report_mpi_stats("dedup", "read+clean+sketch", m, &s, totals, threads);
}

static int dedup_mpi(const dedup_cli *o, char **paths, size_t n_paths)
{
    nf_error err;
    nf_mpi *m = cli_mpi_start("dedup");
    nf_mpi_dedup *md = NULL;
    if (!m)
        return EXIT_FATAL;
    int rank = nf_mpi_rank(m);
    if (nf_mpi_dedup_new(&md, m, &o->clean, &o->dedup, &err) != NF_OK)
        cli_mpi_stop("dedup", m, err.message);
    cli_totals totals = {0};
    progress_init(&totals.progress, true);
    nf_mpi_input in = cli_mpi_input("dedup", paths, n_paths, o->batch_docs);
    nf_mpi_totals t;
    int status = EXIT_ALL_GOOD;
    mpi_out out;
    if (nf_mpi_dedup_run(md, &in, &t, &err) != NF_OK) {
        fprintf(stderr, "newsfold dedup: rank %d: %s\n", rank, err.message);
        status = EXIT_FATAL;
    } else if (!open_mpi_out(o, rank, &out)) {
        close_mpi_out(o, rank, &out, false);
        status = EXIT_FATAL;
    } else {
        bool ok = nf_mpi_dedup_write(md, o->pairs != NULL, o->shard_output, write_piece, &out, &err) == NF_OK;
        if (!ok)
            fprintf(stderr, "newsfold dedup: rank %d: %s\n", rank, err.message);
        if (close_mpi_out(o, rank, &out, ok) != 0 || !ok)
            status = EXIT_FATAL;
    }
    cli_mpi_totals(&totals, &t);
    if (status == EXIT_FATAL)
        cli_mpi_stop("dedup", m, NULL);
    if (o->stats)
        mpi_stats(m, md, &totals, o->dedup.threads);
    nf_mpi_dedup_free(md);
    nf_mpi_finalize(m);
    return cli_finish_status("dedup", &totals, o->quiet || rank != 0, status);
}

int cmd_dedup(int argc, char **argv)
{
    dedup_cli o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc > 0 ? EXIT_ALL_GOOD : EXIT_FATAL;
    if (o.mpi)
        return dedup_mpi(&o, argv + optind, (size_t)(argc - optind));
    nf_error err;
    nf_dedup *d;
    if (o.dedup.index_dir)
        cli_index_notice("dedup", o.dedup.index_dir);
    if (nf_dedup_new(&d, &o.dedup, &err) != NF_OK) {
        fprintf(stderr, "newsfold dedup: %s\n", err.message);
        return EXIT_FATAL;
    }
    cli_input in = {.command = "dedup", .paths = argv + optind, .n_paths = (size_t)(argc - optind), .clean = o.clean, .batch_docs = o.batch_docs, .quiet = o.quiet};
    cli_totals totals = {0};
    int status = cli_run_batches(&in, add_batch, d, &totals);
    nf_dedup_result res = {0};
    if (status != EXIT_FATAL && nf_dedup_finish(d, &res, &err) != NF_OK) {
        fprintf(stderr, "newsfold dedup: %s\n", err.message);
        status = EXIT_FATAL;
    }
    if (status != EXIT_FATAL) {
        cli_output outf, pairsf = {NULL, NULL, "dedup"};
        FILE *out = cli_output_open(&outf, "dedup", o.output);
        FILE *pairs = o.pairs ? cli_output_open(&pairsf, "dedup", o.pairs) : NULL;
        bool opened = out && (!o.pairs || pairs);
        if (opened) {
            write_docs(out, &res);
            if (pairs)
                write_pairs(pairs, &res);
        }
        if (cli_output_close(&outf, opened) | (o.pairs && cli_output_close(&pairsf, opened)))
            status = EXIT_FATAL;
    }
    if (o.stats) {
        cli_report_stats("dedup", &totals, o.dedup.threads);
        fprintf(stderr, "stats: dedup: bands=%d rows=%d candidates=%zu verified pairs=%zu\n", res.bands, res.rows,
                res.candidates, res.n_pairs);
    }
    nf_dedup_result_free(&res);
    nf_dedup_free(d);
    return cli_finish_status("dedup", &totals, o.quiet, status);
}
