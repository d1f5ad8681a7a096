/*
 * eval_dedup.c - duplicate detection against brute force on real text.
 *
 * Corpus: every WMT21 version (source, references, nine machine
 * translations per document) and every paragraph of 20+ words of those
 * versions and of the article-extraction benchmark's article bodies (real
 * documents, all from ../shared/data), plus edited copies this program makes
 * of every fourth one: typos, truncation, paragraph reordering, site
 * boilerplate wrapped around, and excerpts.
 *
 * Truth: exact Jaccard of the shingle sets, computed for every pair that
 * shares a shingle (an inverted index, so no pair is skipped). A pair is a
 * true near duplicate when its exact Jaccard >= T. The engine's verified
 * exact/near pairs are compared with that, once with estimated verification
 * (the default) and once with --exact-verify. Prints recall and precision;
 * exits non-zero when either run misses the 0.99 targets.
 * usage: eval_dedup SHARED_DIR [THRESHOLD]
 */
#include "test_util.h"

#include "dedup/dedup.h"

typedef struct corpus_builder {
    nfi_buf jsonl;
    size_t n;
    uint64_t rng;
} corpus_builder;

static uint64_t next_rand(corpus_builder *b)
{
    b->rng ^= b->rng << 13;
    b->rng ^= b->rng >> 7;
    b->rng ^= b->rng << 17;
    return b->rng;
}

static void add_doc(corpus_builder *b, const char *text, size_t len)
{
    nfi_buf_printf(&b->jsonl, "{\"id\":\"d%06zu\",\"title\":\"-\",\"lang\":\"xx\",\"text\":", b->n++);
    nfi_json_string(&b->jsonl, text, len);
    nfi_buf_puts(&b->jsonl, "}\n");
}

/* One edited copy of text; the kind rotates. */
static void add_edited(corpus_builder *b, const char *text, size_t len)
{
    nfi_buf e;
    nfi_buf_init(&e);
    switch (next_rand(b) % 5) {
    case 0: /* typos: a few characters changed */
        nfi_buf_append(&e, text, len);
        for (int k = 0; k < 3 && e.len > 0; k++)
            e.data[next_rand(b) % e.len] = 'x';
        break;
    case 1: /* truncation */
        nfi_buf_append(&e, text, len * (60 + next_rand(b) % 35) / 100);
        break;
    case 2: { /* paragraph reorder: swap halves at a paragraph break */
        const char *mid = strstr(text + len / 3, "\n\n");
        if (!mid || mid >= text + len) {
            nfi_buf_append(&e, text, len);
            break;
        }
        nfi_buf_append(&e, mid + 2, (size_t)(text + len - mid - 2));
        nfi_buf_puts(&e, "\n\n");
        nfi_buf_append(&e, text, (size_t)(mid - text));
        break;
    }
    case 3: /* wrapped in site boilerplate */
        nfi_buf_puts(&e, "Home\nWorld\nSport\nSearch\n\n");
        nfi_buf_append(&e, text, len);
        nfi_buf_puts(&e, "\n\nShare this article\nComment (0)\nPREV Other news of the day\n");
        break;
    default: { /* excerpt from the middle */
        size_t start = len / 4, n = len / 2;
        nfi_buf_append(&e, text + start, n);
    }
    }
    add_doc(b, e.data ? e.data : "", e.len);
    nfi_buf_free(&e);
}

static void add_with_edits(corpus_builder *b, const char *text, size_t len)
{
    add_doc(b, text, len);
    if (next_rand(b) % 4 == 0)
        add_edited(b, text, len);
}

static void add_paragraphs(corpus_builder *b, const char *text, const char *sep)
{
    size_t seplen = strlen(sep);
    for (const char *p = text; *p;) {
        const char *e = strstr(p, sep);
        size_t n = e ? (size_t)(e - p) : strlen(p);
        size_t words = 1;
        for (size_t i = 0; i < n; i++)
            words += p[i] == ' ';
        if (words >= 20)
            add_with_edits(b, p, n);
        p = e ? e + seplen : p + n;
    }
}

static void load_wmt(corpus_builder *b, const char *path)
{
    size_t len;
    char *data = tu_read_file(path, &len);
    if (!data) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        const char *text = cJSON_GetObjectItem(j, "text")->valuestring;
        add_with_edits(b, text, strlen(text));
        add_paragraphs(b, text, "\n\n");
        cJSON_Delete(j);
    }
    free(data);
}

static void load_articles(corpus_builder *b, const char *path)
{
    cJSON *g = tu_read_json(path);
    const cJSON *item;
    cJSON_ArrayForEach(item, g)
    {
        const char *body = cJSON_GetObjectItem(item, "articleBody")->valuestring;
        add_paragraphs(b, body, "\n");
    }
    cJSON_Delete(g);
}

/* ------------------------------------------------------------ truth */

typedef struct posting {
    uint64_t shingle;
    uint32_t doc;
} posting;

static int cmp_posting(const void *a, const void *b)
{
    const posting *x = a, *y = b;
    if (x->shingle != y->shingle)
        return x->shingle < y->shingle ? -1 : 1;
    return (x->doc > y->doc) - (x->doc < y->doc);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Pairs (a<<32|b) with exact Jaccard >= t, sorted. */
static uint64_t *true_pairs(nfi_sketch *sk, size_t n, double t, size_t *n_out)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += sk[i].too_short ? 0 : sk[i].n_shingles;
    posting *post = malloc(total * sizeof *post);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; !sk[i].too_short && j < sk[i].n_shingles; j++)
            post[k++] = (posting){sk[i].shingles[j], (uint32_t)i};
    qsort(post, k, sizeof *post, cmp_posting);
    nfi_buf cand;
    nfi_buf_init(&cand);
    for (size_t i = 0; i < k;) {
        size_t j = i;
        while (j < k && post[j].shingle == post[i].shingle)
            j++;
        for (size_t a = i; a < j; a++)
            for (size_t c = a + 1; c < j; c++) {
                uint64_t key = (uint64_t)post[a].doc << 32 | post[c].doc;
                nfi_buf_append(&cand, &key, sizeof key);
            }
        i = j;
    }
    size_t nc = cand.len / 8;
    uint64_t *c = (uint64_t *)cand.data;
    if (nc)
        qsort(c, nc, 8, cmp_u64);
    uint64_t *out = malloc((nc ? nc : 1) * 8);
    size_t m = 0;
    for (size_t i = 0; i < nc; i++) {
        if (i && c[i] == c[i - 1])
            continue;
        uint32_t a = (uint32_t)(c[i] >> 32), b = (uint32_t)c[i];
        if (nfi_exact_jaccard(sk[a].shingles, sk[a].n_shingles, sk[b].shingles, sk[b].n_shingles) >= t)
            out[m++] = c[i];
    }
    nfi_buf_free(&cand);
    free(post);
    *n_out = m;
    return out;
}

static uint64_t *found_pairs(tu_corpus *c, double t, int exact_verify, size_t *n_out)
{
    nf_dedup_options o;
    nf_dedup_options_default(&o);
    o.threshold = t;
    o.exact_verify = exact_verify;
    o.threads = 2;
    nf_dedup *d;
    nf_error err;
    nf_dedup_result r;
    if (nf_dedup_new(&d, &o, &err) || nf_dedup_add(d, c->docs, c->n, &err) || nf_dedup_finish(d, &r, &err)) {
        fprintf(stderr, "dedup failed: %s\n", err.message);
        exit(2);
    }
    /* Repeats of a text are linked to its first occurrence only; they share
     * every shingle with it, so its pairs are theirs: expand through the
     * exact classes before comparing with the truth. */
    uint32_t *cls = malloc(c->n * sizeof *cls);
    for (uint32_t i = 0; i < c->n; i++)
        cls[i] = i;
    for (size_t k = 0; k < r.n_pairs; k++)
        if (r.pairs[k].relation == NF_REL_EXACT) {
            uint32_t a = r.pairs[k].a, b = r.pairs[k].b;
            while (cls[a] != a)
                a = cls[a];
            while (cls[b] != b)
                b = cls[b];
            cls[a > b ? a : b] = a < b ? a : b;
        }
    nfi_buf members; /* per class root, its members: pairs (root, doc) sorted */
    nfi_buf_init(&members);
    for (uint32_t i = 0; i < c->n; i++) {
        uint32_t root = i;
        while (cls[root] != root)
            root = cls[root];
        uint64_t key = (uint64_t)root << 32 | i;
        nfi_buf_append(&members, &key, 8);
    }
    size_t nm = members.len / 8;
    uint64_t *mem = (uint64_t *)members.data;
    qsort(mem, nm, 8, cmp_u64);
    size_t *first = malloc((c->n + 1) * sizeof *first); /* first member index per root */
    for (size_t i = 0; i <= c->n; i++)
        first[i] = SIZE_MAX;
    for (size_t i = nm; i-- > 0;)
        first[mem[i] >> 32] = i;
    nfi_buf pairs;
    nfi_buf_init(&pairs);
    for (size_t k = 0; k < r.n_pairs; k++) {
        if (r.pairs[k].relation != NF_REL_EXACT && r.pairs[k].relation != NF_REL_NEAR)
            continue;
        uint32_t ra = r.pairs[k].a, rb = r.pairs[k].b;
        while (cls[ra] != ra)
            ra = cls[ra];
        while (cls[rb] != rb)
            rb = cls[rb];
        for (size_t i = first[ra]; i < nm && (mem[i] >> 32) == ra; i++)
            for (size_t j = first[rb]; j < nm && (mem[j] >> 32) == rb; j++) {
                uint32_t a = (uint32_t)mem[i], b = (uint32_t)mem[j];
                if (a == b)
                    continue;
                uint64_t key = (uint64_t)(a < b ? a : b) << 32 | (a < b ? b : a);
                nfi_buf_append(&pairs, &key, 8);
            }
    }
    size_t m = pairs.len / 8;
    uint64_t *out = (uint64_t *)nfi_buf_take(&pairs, NULL);
    qsort(out, m, 8, cmp_u64);
    size_t w = 0;
    for (size_t i = 0; i < m; i++)
        if (!w || out[w - 1] != out[i])
            out[w++] = out[i];
    m = w;
    free(cls);
    free(first);
    nfi_buf_free(&members);
    nf_dedup_result_free(&r);
    nf_dedup_free(d);
    *n_out = m;
    return out;
}

static void compare(const char *mode, const uint64_t *truth, size_t nt, const uint64_t *found, size_t nf,
                    double *recall, double *precision)
{
    size_t both = 0;
    for (size_t i = 0, j = 0; i < nt && j < nf;) {
        if (truth[i] < found[j])
            i++;
        else if (truth[i] > found[j])
            j++;
        else
            both++, i++, j++;
    }
    *recall = nt ? (double)both / nt : 1.0;
    *precision = nf ? (double)both / nf : 1.0;
    printf("%-22s true pairs %zu, found %zu, correct %zu: recall %.4f, precision %.4f\n", mode, nt, nf, both,
           *recall, *precision);
}

int main(int argc, char **argv)
{
    const char *shared = argc > 1 ? argv[1] : NF_SHARED_DIR;
    double t = argc > 2 ? atof(argv[2]) : 0.6;
    corpus_builder b = {{NULL, 0, 0, false}, 0, 0x2545F4914F6CDD1DULL};
    char path[4096];
    snprintf(path, sizeof path, "%s/data/wmt21/de-fr/docs.jsonl", shared);
    load_wmt(&b, path);
    snprintf(path, sizeof path, "%s/data/wmt21/fr-de/docs.jsonl", shared);
    load_wmt(&b, path);
    snprintf(path, sizeof path, "%s/data/article-extraction/ground-truth.json", shared);
    load_articles(&b, path);
    char *dir = strdup("/tmp/nf-eval-XXXXXX");
    if (!mkdtemp(dir))
        return 2;
    snprintf(path, sizeof path, "%s/corpus.jsonl", dir);
    FILE *f = fopen(path, "wb");
    fwrite(b.jsonl.data, 1, b.jsonl.len, f);
    fclose(f);
    nfi_buf_free(&b.jsonl);
    tu_corpus c = tu_clean_path(path, 2, 0);
    nfi_sketch *sk = calloc(c.n, sizeof *sk);
    uint32_t *sig = malloc(128 * sizeof *sig);
    nfi_sketch_params p = {5, 128, 8, 1, false};
    nf_error err;
    for (size_t i = 0; i < c.n; i++)
        nfi_sketch_doc(&c.docs[i], &p, true, sig, &sk[i], &err);
    size_t nt, nf1, nf2;
    uint64_t *truth = true_pairs(sk, c.n, t, &nt);
    printf("dedup eval: %zu documents, threshold %.2f, 5-word shingles, 128 permutations\n", c.n, t);
    double r1, p1, r2, p2;
    uint64_t *est = found_pairs(&c, t, 0, &nf1);
    compare("estimated (default):", truth, nt, est, nf1, &r1, &p1);
    uint64_t *exact = found_pairs(&c, t, 1, &nf2);
    compare("--exact-verify:", truth, nt, exact, nf2, &r2, &p2);
    for (size_t i = 0; i < c.n; i++)
        nfi_sketch_free(&sk[i]);
    free(sk);
    free(sig);
    free(truth);
    free(est);
    free(exact);
    tu_corpus_free(&c);
    unlink(path);
    rmdir(dir);
    free(dir);
    bool ok = r1 >= 0.99 && p1 >= 0.99 && r2 >= 0.99 && p2 >= 0.99 && c.n >= 5000;
    printf("eval_dedup: %d passed, %d failed\n", ok ? 1 : 0, ok ? 0 : 1);
    return ok ? 0 : 1;
}
