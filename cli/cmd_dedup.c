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

/* --mpi (docs/distributed.md): the ranks split the input among them,
 * nf_mpi_dedup hands rank 0 the single-process result, rank 0 alone writes
 * it. Each skipped record is named once, by the rank that reads it. */
static int write_result(const dedup_cli *o, const nf_dedup_result *res);

/* --shard-output: FILE.R from every rank (collective); rank 0 also writes
 * --pairs. */
static int write_shard(const dedup_cli *o, nf_mpi *m, nf_mpi_dedup *md, const nf_dedup_result *res)
{
    nf_error err;
    nf_buffer shard = {0};
    int rank = nf_mpi_rank(m), status = EXIT_ALL_GOOD;
    if (nf_mpi_dedup_shard(md, res, &shard, &err) != NF_OK) {
        fprintf(stderr, "newsfold dedup: rank %d: %s\n", rank, err.message);
        nf_buffer_free(&shard);
        return EXIT_FATAL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s.%d", o->output, rank);
    cli_output outf;
    FILE *out = cli_output_open(&outf, "dedup", path);
    if (out)
        fwrite(shard.data, 1, shard.len, out);
    if (cli_output_close(&outf, out != NULL) != 0)
        status = EXIT_FATAL;
    nf_buffer_free(&shard);
    if (rank == 0 && o->pairs) {
        cli_output pairsf = {NULL, NULL, "dedup"};
        FILE *pairs = cli_output_open(&pairsf, "dedup", o->pairs);
        if (pairs)
            write_pairs(pairs, res);
        if (cli_output_close(&pairsf, pairs != NULL) != 0)
            status = EXIT_FATAL;
    }
    return status;
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
    nf_mpi *m = NULL;
    nf_mpi_dedup *md = NULL;
    if (nf_mpi_init(&m, &err) != NF_OK) {
        fprintf(stderr, "newsfold dedup: --mpi: %s\n", err.message);
        return EXIT_FATAL;
    }
    int rank = nf_mpi_rank(m);
    if (nf_mpi_dedup_new(&md, m, &o->clean, &o->dedup, &err) != NF_OK) {
        fprintf(stderr, "newsfold dedup: rank %d: %s\n", rank, err.message);
        nf_mpi_abort(m, EXIT_FATAL);
    }
    cli_totals totals = {0};
    progress_init(&totals.progress, true);
    nf_mpi_input in = cli_mpi_input("dedup", paths, n_paths, o->batch_docs);
    nf_mpi_totals t;
    int status = EXIT_ALL_GOOD;
    nf_dedup_result res = {0};
    if (nf_mpi_dedup_run(md, &in, &t, &err) != NF_OK || nf_mpi_dedup_finish(md, &res, &err) != NF_OK) {
        fprintf(stderr, "newsfold dedup: rank %d: %s\n", rank, err.message);
        status = EXIT_FATAL;
    }
    cli_mpi_totals(&totals, &t);
    if (status != EXIT_FATAL && o->shard_output)
        status = write_shard(o, m, md, &res);
    else if (status != EXIT_FATAL && rank == 0 && write_result(o, &res) != 0)
        status = EXIT_FATAL;
    if (status == EXIT_FATAL) { /* the other ranks would wait for this one */
        fprintf(stderr, "newsfold dedup: rank %d failed: stopping all %d ranks\n", rank, nf_mpi_size(m));
        nf_mpi_abort(m, EXIT_FATAL);
    }
    if (o->stats)
        mpi_stats(m, md, &totals, o->dedup.threads);
    nf_dedup_result_free(&res);
    nf_mpi_dedup_free(md);
    nf_mpi_finalize(m);
    return cli_finish_status("dedup", &totals, o->quiet || rank != 0, status);
}

/* Writes the documents (and --pairs); 0 when everything was written. */
static int write_result(const dedup_cli *o, const nf_dedup_result *res)
{
    cli_output outf, pairsf = {NULL, NULL, "dedup"};
    FILE *out = cli_output_open(&outf, "dedup", o->output);
    FILE *pairs = o->pairs ? cli_output_open(&pairsf, "dedup", o->pairs) : NULL;
    bool opened = out && (!o->pairs || pairs);
    if (opened) {
        write_docs(out, res);
        if (pairs)
            write_pairs(pairs, res);
    }
    return cli_output_close(&outf, opened) | (o->pairs && cli_output_close(&pairsf, opened));
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
