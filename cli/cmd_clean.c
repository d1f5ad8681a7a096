/*
 * cmd_clean.c - `newsfold clean`: ingest, clean and normalize, one JSONL
 * record per document, in input order.
 *
 * Documents are read and cleaned in batches (cli/common.c) and each batch is
 * written before the next is cleaned. Batch boundaries depend only on the
 * input, never on timing, so output bytes are identical for any -j. With
 * more than one thread the records of a batch are encoded in two halves at
 * once (each into its own buffer, written in order), so writing is not a
 * single-threaded step between two parallel ones.
 */
#include "cli.h"

#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>



static const char clean_usage[] =
    "usage: newsfold clean [options] INPUT...\n"
    "\n"
    "Cleans (boilerplate removal) and normalizes (language, date, tokens)\n"
    "documents; writes one JSON object per line:\n"
    "  id, title, lang, lang_confidence, lang_detected, published, source, url,\n"
    "  text, removed_lines [{line, reason, text}], invalid_utf8, tokens\n"
    "\n"
    "options:\n"
    "  -o, --output FILE      write here instead of stdout\n"
    "  -j, --threads N        worker threads (default: all cores; 0 = all)\n"
    "      --detect-lang      detect the language even when the input gives one\n"
    "      --keep-boilerplate report boilerplate lines but keep them in the text\n"
    "      --no-stem          do not stem tokens\n"
    "      --token-list       also write each token [start, length, norm, stem]\n"
    "      --max-record SIZE  skip records larger than SIZE (default 64M)\n"
    "      --batch N          documents per batch (default 4096)\n"
    "      --stats            print throughput and peak memory on stderr\n"
    "  -q, --quiet            no progress, no summary\n"
    "  -h, --help             this help\n";

typedef struct clean_cli {
    const char *output;
    nf_clean_options clean;
    bool token_list, quiet, stats;
    size_t max_record, batch_docs;
} clean_cli;

static int parse_args(int argc, char **argv, clean_cli *o)
{
    static const struct option longs[] = {
        {"output", required_argument, 0, 'o'}, {"threads", required_argument, 0, 'j'},
        {"detect-lang", no_argument, 0, 'L'},  {"keep-boilerplate", no_argument, 0, 'K'},
        {"no-stem", no_argument, 0, 'S'},      {"token-list", no_argument, 0, 'T'},
        {"max-record", required_argument, 0, 'M'}, {"batch", required_argument, 0, 'B'},
        {"stats", no_argument, 0, 's'},        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    nf_clean_options_default(&o->clean);
    o->clean.threads = nf_cli_default_threads();
    o->batch_docs = CLI_BATCH_DOCS;
    int c;
    while ((c = getopt_long(argc, argv, "o:j:qh", longs, NULL)) != -1) {
        switch (c) {
        case 'o': o->output = optarg; break;
        case 'j':
            if ((o->clean.threads = nf_cli_threads(optarg)) < 1) {
                fprintf(stderr, "newsfold clean: bad thread count '%s'\n", optarg);
                return -1;
            }
            break;
        case 'L': o->clean.detect_lang = 1; break;
        case 'K': o->clean.keep_boilerplate = 1; break;
        case 'S': o->clean.stem = 0; break;
        case 'T': o->token_list = true; break;
        case 'M':
            if (!(o->max_record = nf_cli_parse_size(optarg))) {
                fprintf(stderr, "newsfold clean: bad size '%s'\n", optarg);
                return -1;
            }
            break;
        case 'B':
            if ((o->batch_docs = strtoul(optarg, NULL, 10)) == 0) {
                fprintf(stderr, "newsfold clean: bad batch size '%s'\n", optarg);
                return -1;
            }
            break;
        case 's': o->stats = true; break;
        case 'q': o->quiet = true; break;
        case 'h': fputs(clean_usage, stdout); return 1;
        default: fputs(clean_usage, stderr); return -1;
        }
    }
    if (optind >= argc) {
        fputs("newsfold clean: no INPUT given\n", stderr);
        fputs(clean_usage, stderr);
        return -1;
    }
    return 0;
}

typedef struct clean_ctx {
    FILE *out;
    nf_buffer line[2]; /* the encoded records of the two halves of a batch */
    bool token_list;
    int threads;
} clean_ctx;

typedef struct encode_job {
    const nf_clean_doc *docs;
    size_t n;
    bool token_list;
    nf_buffer *out;
} encode_job;

static void *encode_docs(void *p)
{
    encode_job *j = p;
    j->out->len = 0;
    for (size_t i = 0; i < j->n; i++)
        nf_jsonl_clean_doc(j->out, &j->docs[i], j->token_list);
    return NULL;
}

static int write_batch(void *p, nf_clean_doc *docs, size_t n)
{
    clean_ctx *c = p;
    size_t half = c->threads > 1 ? n / 2 : 0;
    encode_job jobs[2] = {{docs, half, c->token_list, &c->line[0]}, {docs + half, n - half, c->token_list, &c->line[1]}};
    pthread_t t;
    bool threaded = half > 0 && pthread_create(&t, NULL, encode_docs, &jobs[0]) == 0;
    if (!threaded)
        encode_docs(&jobs[0]);
    encode_docs(&jobs[1]);
    if (threaded)
        pthread_join(t, NULL);
    for (int k = 0; k < 2; k++)
        if (c->line[k].oom ||
            (c->line[k].len && fwrite(c->line[k].data, 1, c->line[k].len, c->out) != c->line[k].len)) {
            perror("newsfold clean: write");
            return -1;
        }
    return 0;
}

int cmd_clean(int argc, char **argv)
{
    clean_cli o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc > 0 ? EXIT_ALL_GOOD : EXIT_FATAL;
    o.clean.token_count_only = !o.token_list; /* the record holds only the count then */
    cli_output outf;
    clean_ctx ctx = {cli_output_open(&outf, "clean", o.output), {{NULL, 0, 0, false}, {NULL, 0, 0, false}}, o.token_list,
                     o.clean.threads};
    if (!ctx.out)
        return EXIT_FATAL;
    cli_input in = {.command = "clean", .paths = argv + optind, .n_paths = (size_t)(argc - optind), .clean = o.clean, .max_record = o.max_record, .batch_docs = o.batch_docs, .quiet = o.quiet};
    cli_totals totals = {0};
    int status = cli_run_batches(&in, write_batch, &ctx, &totals);
    if (o.stats)
        cli_report_stats("clean", &totals, o.clean.threads);
    if (cli_output_close(&outf, status != EXIT_FATAL))
        status = EXIT_FATAL;
    nf_buffer_free(&ctx.line[0]);
    nf_buffer_free(&ctx.line[1]);
    return cli_finish_status("clean", &totals, o.quiet, status);
}
