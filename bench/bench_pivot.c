/*
 * bench_pivot.c - the links stage's pivots alone: CPU time of building
 * every document's pivot (nfi_pivot_build, one thread), and a dump of
 * every pivot to compare two builds byte for byte.
 *
 * The documents are read and cleaned first (in batches of 4,096, as the
 * command does; not timed), then each repetition builds all pivots with a
 * new pivoter (its word caches cold, as at the start of a run; the mapped
 * dictionaries stay warm after the first). The dump holds, per document,
 * its language, the features (hash, count, kind), the sequence, paragraph
 * ends, names with their keys, term_share in %a and, with --surface, the
 * surfaces: everything the links stage reads of a pivot.
 * usage: bench_pivot FILE [REPS] [--dump OUT] [--surface]
 * e.g. build-rel/bench_pivot bench/data/rc20m.jsonl 3 --dump /tmp/pivots.txt
 */
#include "newsfold.h"
#include "links/links.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { BATCH = 4096 };

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Every document of path, cleaned with the default options; NULL on error. */
static nf_clean_doc *clean_all(const char *path, size_t *n_out)
{
    nf_error err;
    nf_reader *r;
    nf_cleaner *cl;
    nf_clean_options o;
    nf_clean_options_default(&o);
    if (nf_reader_open(&r, &path, 1, NULL, &err) != NF_OK || nf_cleaner_new(&cl, &o, &err) != NF_OK) {
        fprintf(stderr, "bench_pivot: %s\n", err.message);
        return NULL;
    }
    nf_doc *batch = calloc(BATCH, sizeof *batch);
    nf_clean_doc *docs = NULL;
    size_t n = 0, nb = 0;
    for (nf_status st = NF_OK; st != NF_END;) {
        st = nf_reader_next(r, &batch[nb], &err);
        nb += st == NF_OK;
        if (nb == BATCH || (st == NF_END && nb)) {
            nf_clean_doc *more = realloc(docs, (n + nb) * sizeof *docs);
            if (!more || nf_clean_batch(cl, batch, nb, more + n, &err) != NF_OK) {
                fprintf(stderr, "bench_pivot: cleaning failed\n");
                exit(1);
            }
            docs = more, n += nb, nb = 0;
        }
    }
    nf_reader_close(r);
    nf_cleaner_free(cl);
    free(batch);
    *n_out = n;
    return docs;
}

static void dump_pivot(FILE *f, size_t i, const char *lang, const nf_pivot *q)
{
    fprintf(f, "doc %zu %s nf %zu ns %zu np %zu nn %zu ts %a\n", i, lang, q->n_features, q->n_sequence,
            q->n_paragraphs, q->n_names, q->term_share);
    for (size_t k = 0; k < q->n_features; k++)
        fprintf(f, "%016llx %u %u\n", (unsigned long long)q->features[k].hash, q->features[k].count,
                (unsigned)(q->features[k].hash & 3));
    for (size_t k = 0; k < q->n_sequence; k++)
        fprintf(f, "%u ", nf_pivot_place(q, k));
    fprintf(f, "\np ");
    for (size_t k = 0; k < q->n_paragraphs; k++)
        fprintf(f, "%u ", q->paragraph_ends[k]);
    fprintf(f, "\n");
    const char *name = q->names, *key = q->name_keys;
    for (size_t k = 0; k < q->n_names; k++, name += strlen(name) + 1, key += strlen(key) + 1)
        fprintf(f, "%s|%s\n", name, key);
    for (size_t k = 0; q->surface && k < 2 * q->n_features; k++)
        fprintf(f, "%u ", q->surface[k]);
    fprintf(f, "\n");
}

int main(int argc, char **argv)
{
    const char *dump_path = NULL;
    int reps = 1;
    bool surface = false;
    if (argc < 2) {
        fprintf(stderr, "usage: bench_pivot FILE [REPS] [--dump OUT] [--surface]\n");
        return 2;
    }
    for (int a = 2; a < argc; a++)
        if (strcmp(argv[a], "--dump") == 0 && a + 1 < argc)
            dump_path = argv[++a];
        else if (strcmp(argv[a], "--surface") == 0)
            surface = true;
        else
            reps = atoi(argv[a]) > 0 ? atoi(argv[a]) : 1;
    size_t n;
    nf_clean_doc *docs = clean_all(argv[1], &n);
    nf_error err;
    nfi_lexicon *lex;
    if (!docs || nfi_lexicon_load(&lex, NULL, NULL, NULL, &err) != NF_OK)
        return 1;
    nf_pivot *pivots = calloc(n ? n : 1, sizeof *pivots);
    for (int rep = 0; rep < reps; rep++) {
        nfi_pivoter *p;
        if (nfi_pivoter_new(&p, lex, surface, &err) != NF_OK)
            return 1;
        for (size_t i = 0; rep > 0 && i < n; i++)
            nfi_pivot_free(&pivots[i]);
        double t0 = cpu_seconds();
        for (size_t i = 0; i < n; i++)
            if (nfi_pivot_build(p, &docs[i], &pivots[i], &err) != NF_OK) {
                fprintf(stderr, "bench_pivot: %s\n", err.message);
                return 1;
            }
        printf("rep %d: %.3f s CPU, %zu documents\n", rep, cpu_seconds() - t0, n);
        nfi_pivoter_free(p);
    }
    FILE *f = dump_path ? fopen(dump_path, "w") : NULL;
    for (size_t i = 0; f && i < n; i++)
        dump_pivot(f, i, docs[i].lang, &pivots[i]);
    if (f)
        fclose(f);
    for (size_t i = 0; i < n; i++) {
        nfi_pivot_free(&pivots[i]);
        nf_clean_doc_free(&docs[i]);
    }
    free(pivots);
    free(docs);
    nfi_lexicon_free(lex);
    return 0;
}
