/*
 * bench_events.c - throughput and memory of the event stage alone.
 *
 * Base documents: every WMT21 version and every article body of the
 * article-extraction benchmark in the shared folder (news-length text in
 * German, French and English), read and cleaned once, untimed.
 *
 * Stream: N documents, DOCS_PER_DAY a day. A base document is reported on
 * the days d with d % PERIOD == its number % PERIOD, COPIES times each day,
 * each copy a different random 85% of its tokens (a different rewrite), so
 * every base document makes a new event every PERIOD days, long after the
 * previous one left the live window. Each copy is a fresh nf_clean_doc view
 * over the base document's text (no copy of the text), fed to the stage in
 * batches of 4096 and freed; the clock covers nf_events_add (features) and
 * nf_events_finish (clustering, entities, storylines) on one thread.
 *
 * With "headlines" as the fourth argument the base documents are instead
 * og2021-dev's headline-only records (a title, no text), each copy its
 * title with a random 85% of the title's tokens.
 *
 * Prints docs/s of wall and of CPU time (user + system: the machine may be
 * shared), events, the largest live set and peak RSS (which includes the
 * cleaned base documents, reported separately).
 * usage: bench_events SHARED_DIR [N] [THREADS] [headlines]
 */
#include "newsfold.h"

#include <cjson/cJSON.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define DOCS_PER_DAY 5000
#define PERIOD 7
#define COPIES 20
#define BATCH 4096

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;
}

typedef struct base {
    nf_doc *raw;
    size_t n, cap;
} base;

static nf_doc *push(base *b)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 2048;
        b->raw = realloc(b->raw, b->cap * sizeof *b->raw);
        if (!b->raw)
            exit(2);
    }
    memset(&b->raw[b->n], 0, sizeof *b->raw);
    return &b->raw[b->n++];
}

static void read_path(base *b, const char *path)
{
    nf_reader *r;
    nf_error err;
    const char *paths[] = {path};
    if (nf_reader_open(&r, paths, 1, NULL, &err) != NF_OK) {
        fprintf(stderr, "bench_events: %s\n", err.message);
        exit(2);
    }
    for (;;) {
        nf_doc *d = push(b);
        nf_status st = nf_reader_next(r, d, &err);
        if (st == NF_OK)
            continue;
        b->n--;
        if (st == NF_END)
            break;
        if (st != NF_SKIPPED) {
            fprintf(stderr, "bench_events: %s\n", err.message);
            exit(2);
        }
    }
    nf_reader_close(r);
}

static void read_articles(base *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)len + 1);
    if (!s || fread(s, 1, (size_t)len, f) != (size_t)len)
        exit(2);
    s[len] = '\0';
    fclose(f);
    cJSON *g = cJSON_Parse(s);
    free(s);
    const cJSON *item;
    cJSON_ArrayForEach(item, g)
    {
        const cJSON *body = cJSON_GetObjectItem(item, "articleBody");
        if (!cJSON_IsString(body))
            continue;
        nf_doc *d = push(b);
        d->id = strdup(item->string);
        d->text = strdup(body->valuestring);
        d->text_len = strlen(d->text);
        d->origin = strdup(path);
    }
    cJSON_Delete(g);
}

static nf_clean_doc *clean_all(base *b)
{
    nf_clean_options o;
    nf_clean_options_default(&o);
    o.threads = 2;
    nf_cleaner *cl;
    nf_error err;
    nf_clean_doc *out = calloc(b->n, sizeof *out);
    if (!out || nf_cleaner_new(&cl, &o, &err) != NF_OK ||
        nf_clean_batch(cl, b->raw, b->n, out, &err) != NF_OK) {
        fprintf(stderr, "bench_events: cleaning failed\n");
        exit(2);
    }
    nf_cleaner_free(cl);
    return out;
}

static uint64_t rng(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Copy k of base document src: a view with its own id, date and a random
 * 85% of the tokens (the text and token strings stay the base's). */
static void make_copy(const nf_clean_doc *src, nf_clean_doc *dst, char *id, size_t k, int day, uint64_t *x)
{
    *dst = *src;
    dst->tokens = malloc((src->n_tokens ? src->n_tokens : 1) * sizeof *dst->tokens);
    size_t n = 0;
    for (size_t t = 0; t < src->n_tokens; t++)
        if (rng(x) % 100 < 85)
            dst->tokens[n++] = src->tokens[t];
    dst->n_tokens = n;
    snprintf(id, 32, "c%zu", k);
    dst->doc.id = id;
    unsigned y = 2025 + (unsigned)day / (28 * 12) % 7000, m = 1 + (unsigned)day / 28 % 12,
             d = 1 + (unsigned)day % 28;
    snprintf(dst->published, sizeof dst->published, "%04u-%02u-%02u", y, m, d);
}

int main(int argc, char **argv)
{
    /* as the newsfold command does: keep batch buffers in the heap */
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    const char *shared = argc > 1 ? argv[1] : "../shared";
    size_t total = argc > 2 ? strtoul(argv[2], NULL, 10) : 200000;
    int threads = argc > 3 ? atoi(argv[3]) : 1;
    int headlines = argc > 4 && strcmp(argv[4], "headlines") == 0;
    base b = {0};
    char path[4096];
    if (headlines) {
        snprintf(path, sizeof path, "%s/data/og2021-dev/docs.jsonl", shared);
        read_path(&b, path);
    } else {
        snprintf(path, sizeof path, "%s/data/wmt21", shared);
        read_path(&b, path);
        snprintf(path, sizeof path, "%s/data/article-extraction/ground-truth.json", shared);
        read_articles(&b, path);
    }
    nf_clean_doc *docs = clean_all(&b);
    size_t nb = b.n;
    double base_rss = peak_rss_mb();
    size_t tokens = 0;
    for (size_t i = 0; i < nb; i++)
        tokens += docs[i].n_tokens;

    nf_events_options o;
    nf_events_options_default(&o);
    o.threads = threads;
    nf_events *ev;
    nf_error err;
    if (nf_events_new(&ev, &o, &err) != NF_OK)
        return 2;
    nf_clean_doc *batch = calloc(BATCH, sizeof *batch);
    char *ids = malloc(BATCH * 32);
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    double t0 = now(), c0 = cpu_seconds();
    size_t per_day_base = DOCS_PER_DAY / COPIES, made = 0;
    for (int day = 0; made < total; day++) {
        size_t n = 0;
        for (size_t j = 0; j < per_day_base && made < total; j++)
            for (int c = 0; c < COPIES && made < total; c++) {
                size_t src =
                    ((size_t)(day % PERIOD) + PERIOD * (j + per_day_base * (size_t)(day / PERIOD))) % nb;
                make_copy(&docs[src], &batch[n], ids + 32 * n, made, day, &x);
                n++;
                made++;
                if (n == BATCH || made == total || (j + 1 == per_day_base && c + 1 == COPIES)) {
                    if (nf_events_add(ev, batch, n, &err) != NF_OK) {
                        fprintf(stderr, "bench_events: %s\n", err.message);
                        return 2;
                    }
                    for (size_t k = 0; k < n; k++)
                        free(batch[k].tokens);
                    n = 0;
                }
            }
    }
    double t1 = now();
    nf_events_result r;
    if (nf_events_finish(ev, &r, &err) != NF_OK) {
        fprintf(stderr, "bench_events: %s\n", err.message);
        return 2;
    }
    double t2 = now(), c2 = cpu_seconds();
    printf("base: %zu cleaned %s, %.0f tokens on average\n", nb, headlines ? "headlines" : "documents",
           (double)tokens / nb);
    printf(
        "event stage, %d thread%s: %zu documents in %.2f s (features %.2f s, clustering %.2f s): %.0f "
        "docs/s; %.2f s CPU: %.0f docs/s per CPU second\n",
        threads, threads == 1 ? "" : "s", total, t2 - t0, t1 - t0, t2 - t1, total / (t2 - t0), c2 - c0,
        total / (c2 - c0));
    printf("%zu events, %zu storylines, at most %zu live events, %zu candidates scored (%.1f per document)\n",
           r.n_events, r.n_storylines, r.max_live_events, r.candidates_scored,
           (double)r.candidates_scored / total);
    printf("peak RSS %.1f MB (of which %.1f MB before the stage: the cleaned base documents)\n",
           peak_rss_mb(), base_rss);
    nf_events_result_free(&r);
    nf_events_free(ev);
    for (size_t i = 0; i < nb; i++) {
        nf_clean_doc_free(&docs[i]);
        nf_doc_free(&b.raw[i]);
    }
    free(docs);
    free(b.raw);
    free(batch);
    free(ids);
    return 0;
}
