/*
 * test_dedup.c - the duplicate engine: LSH parameters, the external sorter,
 * MinHash accuracy on real documents (property test), relations on planted
 * copies, determinism across threads and memory limits, the incremental
 * index (including crash leftovers, corruption and foreign directories),
 * the goldens on ../shared/seeds and examples/, and short leads (60-80
 * words; 40-60 Chinese or Japanese characters) reported as contained.
 */
#include "test_util.h"

#include "common/common.h"
#include "dedup/dedup.h"

#include <dirent.h>
#include <math.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

static uint64_t xxh128_low(const void *p, size_t n) { return XXH3_128bits(p, n).low64; }

static void test_lsh_params(void **state)
{
    (void)state;
    for (double t = 0.3; t <= 0.91; t += 0.1) {
        int b, r;
        nf_lsh_params(t, 128, &b, &r);
        assert_true(b * r <= 128 && b >= 1 && r >= 1);
        double p_at = 1 - pow(1 - pow(t, r), b), p_far = 1 - pow(1 - pow(t / 2, r), b);
        assert_true(p_at >= 0.9);  /* recall-heavy at the threshold */
        if (t >= 0.5)
            assert_true(p_far <= 0.35); /* but far below it, few candidates */
    }
}

static void test_runs_spill_equals_memory(void **state)
{
    (void)state;
    nfi_runs *small, *big;
    nf_error err;
    assert_int_equal(nfi_runs_new(&small, 16 * 1024, NULL, &err), NF_OK); /* 1024 records */
    assert_int_equal(nfi_runs_new(&big, 64u << 20, NULL, &err), NF_OK);
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        assert_int_equal(nfi_runs_add(small, x % 5000, x >> 40, &err), NF_OK);
        assert_int_equal(nfi_runs_add(big, x % 5000, x >> 40, &err), NF_OK);
    }
    assert_int_equal(nfi_runs_finish(small, &err), NF_OK);
    assert_int_equal(nfi_runs_finish(big, &err), NF_OK);
    assert_true(nfi_runs_spilled(small) >= 10);
    assert_int_equal(nfi_runs_spilled(big), 0);
    nfi_kv a, b, prev = {0, 0};
    size_t n = 0;
    while (nfi_runs_next(small, &a)) {
        assert_int_equal(nfi_runs_next(big, &b), 1);
        assert_true(a.key == b.key && a.val == b.val);
        assert_true(a.key > prev.key || (a.key == prev.key && a.val >= prev.val));
        prev = a;
        n++;
    }
    assert_int_equal(n, 20000);
    assert_int_equal(nfi_runs_next(big, &b), 0);
    nfi_runs_free(small);
    nfi_runs_free(big);
}

/* A buffer sorted on threads (split pass and parts) yields the records in
 * the one-thread order: full (key, val) order and key-only stable order
 * (vals added in order), hash keys and small keys (several leading bytes
 * shared, so the split is by a lower byte). */
static void test_runs_threads_same_order(void **state)
{
    (void)state;
    nf_error err;
    for (int mode = 0; mode < 4; mode++) {
        nfi_runs *one, *four;
        assert_int_equal(nfi_runs_new(&one, 64u << 20, NULL, &err), NF_OK);
        assert_int_equal(nfi_runs_new(&four, 64u << 20, NULL, &err), NF_OK);
        nfi_runs_set_threads(four, 4);
        uint64_t x = 88172645463325252ULL;
        for (uint64_t i = 0; i < 300000; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            uint64_t key = mode & 1 ? x % 70000 : x, val = mode & 2 ? i / 3 : x >> 20;
            assert_int_equal(nfi_runs_add(one, key, val, &err), NF_OK);
            assert_int_equal(nfi_runs_add(four, key, val, &err), NF_OK);
        }
        assert_int_equal(nfi_runs_finish(one, &err), NF_OK);
        assert_int_equal(nfi_runs_finish(four, &err), NF_OK);
        nfi_kv a, b, prev = {0, 0};
        size_t n = 0;
        while (nfi_runs_next(one, &a)) {
            assert_int_equal(nfi_runs_next(four, &b), 1);
            assert_true(a.key == b.key && a.val == b.val);
            assert_true(a.key > prev.key || (a.key == prev.key && a.val >= prev.val));
            prev = a;
            n++;
        }
        assert_int_equal(n, 300000);
        assert_int_equal(nfi_runs_next(four, &b), 0);
        nfi_runs_free(one);
        nfi_runs_free(four);
    }
}

/* The sorts agree with qsort: words (insertion, bucket and radix sizes, hashes
 * and small numbers) and records by (key, val) and by key alone (stable). */
static void test_radix_sorts(void **state)
{
    (void)state;
    enum { N = 100000 };
    uint64_t *v = malloc(N * sizeof *v), *w = malloc(N * sizeof *w), *scratch = malloc(N * sizeof *scratch);
    nfi_kv *r = malloc(N * sizeof *r), *q = malloc(N * sizeof *q);
    assert_non_null(v && w && scratch && r && q);
    static const size_t sizes[] = {0, 1, 47, 48, 300, 1000, 1023, 1024, 40000, N};
    uint64_t x = 88172645463325252ULL;
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        for (int small = 0; small < 2; small++) {
            size_t n = sizes[s];
            for (size_t i = 0; i < n; i++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                v[i] = w[i] = small ? x % 3000 : x;
                r[i] = q[i] = (nfi_kv){small ? x % 3000 : x, (x >> 20) % 7};
            }
            nfi_u64_sort(v, n, scratch);
            qsort(w, n, sizeof *w, nfi_cmp_u64);
            if (n)
                assert_memory_equal(v, w, n * sizeof *v);
            nfi_kv_sort(r, n);
            for (size_t i = 1; i < n; i++)
                assert_true(r[i - 1].key < r[i].key || (r[i - 1].key == r[i].key && r[i - 1].val <= r[i].val));
            memcpy(r, q, n * sizeof *r);
            nfi_kv_sort_by_key_stable(r, n);
            for (size_t i = 1; i < n; i++) /* equal keys keep their input order: find them in q */
                assert_true(r[i - 1].key <= r[i].key);
            for (size_t i = 0, j = 0; i < n; i++) { /* the records of one key, in input order */
                if (i > 0 && r[i].key == r[i - 1].key)
                    continue;
                j = 0;
                for (size_t k = 0; k < n; k++)
                    if (q[k].key == r[i].key) {
                        assert_true(q[k].val == r[i + j].val);
                        j++;
                    }
                if (n > 1000) /* quadratic check: only the first keys of big inputs */
                    break;
            }
        }
    }
    free(v);
    free(w);
    free(scratch);
    free(r);
    free(q);
}

/* Property: on pairs of real documents (the German versions of one WMT21
 * source: a reference and nine machine translations, similar but not equal),
 * the mean absolute error of the MinHash estimate stays within the
 * theoretical standard error sqrt(J(1-J)/K), averaged over the pairs. */
static void test_minhash_estimate_property(void **state)
{
    (void)state;
    tu_corpus c = tu_clean_path(NF_SHARED_DIR "/data/wmt21/fr-de/docs.jsonl", 2, 0);
    assert_true(c.n > 100);
    nfi_sketch_params p = {5, 128, 8, 0x1234, false};
    nfi_sketch *sk = calloc(c.n, sizeof *sk);
    uint32_t *sigs = malloc(c.n * 128 * sizeof *sigs);
    nf_error err;
    for (size_t i = 0; i < c.n; i++)
        assert_int_equal(nfi_sketch_doc(&c.docs[i], &p, true, sigs + i * 128, &sk[i], &err), NF_OK);
    double abs_err = 0, bound = 0, jsum = 0;
    size_t pairs = 0;
    for (size_t i = 0; i + 1 < c.n && pairs < 3000; i++) {
        for (size_t j = i + 1; j < c.n && j < i + 10; j++) {
            if (strncmp(c.docs[i].doc.id, c.docs[j].doc.id, strcspn(c.docs[i].doc.id, "|")) != 0)
                continue; /* same source document only */
            if (sk[i].too_short || sk[j].too_short || strcmp(c.docs[i].lang, c.docs[j].lang) != 0)
                continue;
            double exact = nfi_exact_jaccard(sk[i].shingles, sk[i].n_shingles, sk[j].shingles, sk[j].n_shingles);
            double est = nfi_minhash_similarity(sigs + i * 128, sigs + j * 128, 128);
            abs_err += fabs(est - exact);
            bound += sqrt(exact * (1 - exact) / 128);
            jsum += exact;
            pairs++;
        }
    }
    assert_true(pairs >= 500);
    print_message("minhash property: %zu pairs, mean J %.3f, MAE %.4f, mean sigma %.4f\n", pairs, jsum / pairs,
                  abs_err / pairs, bound / pairs);
    assert_true(jsum / pairs > 0.05); /* the pairs really overlap */
    assert_true(abs_err / pairs <= bound / pairs);
    for (size_t i = 0; i < c.n; i++)
        nfi_sketch_free(&sk[i]);
    free(sk);
    free(sigs);
    tu_corpus_free(&c);
}

/* Winnowing against its definition, window by window: the rightmost
 * minimum rank of each window, a position written once when it is chosen
 * by consecutive windows. Ranks from a small range, so ties are common. */
static void test_winnow_definition(void **state)
{
    (void)state;
    uint64_t shingles[60], ranks[60], got[60], want[60];
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int round = 0; round < 400; round++) {
        size_t n = (size_t)round % 53;
        int window = 1 + round % 11;
        for (size_t i = 0; i < n; i++) {
            x = nfi_mix64(x + i);
            shingles[i] = x;
            ranks[i] = round % 2 ? x % 5 : x;
        }
        size_t w = (size_t)window < n ? (size_t)window : n, count = 0, last = SIZE_MAX;
        for (size_t start = 0; n && start + w <= n; start++) {
            size_t min = start;
            for (size_t i = start; i < start + w; i++)
                if (ranks[i] <= ranks[min])
                    min = i;
            if (min != last)
                want[count++] = shingles[min];
            last = min;
        }
        assert_int_equal(nfi_winnow(shingles, ranks, n, window, got), count);
        if (count)
            assert_memory_equal(got, want, count * sizeof *got);
    }
}

/* The cleaner's hash mode (nf_clean_options.token_hashes, what `newsfold
 * dedup` asks for) gives the same sketches as the tokens: same exact hash,
 * units, signature, samples and shingles, on every script of the shared
 * data and on edge cases (case, numbers with joiners, apostrophes with and
 * without the English rule, NFKC forms, combining marks, runs longer than
 * a token may be, empty texts); its norms_hash is the hash of the norms,
 * each followed by a space. */
static void compare_hash_mode(const char *path, nf_clean_options o)
{
    o.token_hashes = 0;
    tu_corpus t = tu_clean_path_with(path, &o);
    o.token_hashes = 1;
    tu_corpus h = tu_clean_path_with(path, &o);
    assert_int_equal(t.n, h.n);
    assert_true(t.n >= 4);
    print_message("hash mode: %zu documents of %s\n", t.n, path);
    nfi_sketch_params p = {5, 128, 8, 0x1234, false};
    uint32_t sig_t[128], sig_h[128];
    nf_error err;
    nfi_buf norms;
    nfi_buf_init(&norms);
    for (size_t i = 0; i < t.n; i++) {
        const nf_clean_doc *a = &t.docs[i], *b = &h.docs[i];
        assert_int_equal(a->n_tokens, b->n_tokens);
        assert_null(b->tokens);
        assert_null(b->pool);
        assert_null(b->text); /* assembled in the cleaner's buffer, not kept */
        assert_int_equal(a->text_len, b->text_len);
        assert_non_null(b->units);
        norms.len = 0; /* the normalized text norms_hash is the hash of */
        for (size_t k = 0; k < a->n_tokens; k++) {
            nfi_buf_append(&norms, a->pool + a->tokens[k].norm, a->tokens[k].norm_len);
            nfi_buf_putc(&norms, ' ');
        }
        assert_true(xxh128_low(norms.data, norms.len) == b->norms_hash[0]);
        nfi_sketch x, y;
        assert_int_equal(nfi_sketch_doc(a, &p, true, sig_t, &x, &err), NF_OK);
        assert_int_equal(nfi_sketch_doc(b, &p, true, sig_h, &y, &err), NF_OK);
        assert_true(x.exact_lo == y.exact_lo && x.exact_hi == y.exact_hi);
        assert_int_equal(x.n_units, y.n_units);
        assert_int_equal(b->n_units, y.n_units);
        assert_int_equal(x.too_short, y.too_short);
        if (!x.too_short)
            assert_memory_equal(sig_t, sig_h, sizeof sig_t);
        assert_int_equal(x.n_samples, y.n_samples);
        assert_int_equal(x.n_shingles, y.n_shingles);
        if (x.n_samples)
            assert_memory_equal(x.samples, y.samples, x.n_samples * sizeof *x.samples);
        if (x.shingles)
            assert_memory_equal(x.shingles, y.shingles, x.n_shingles * sizeof *x.shingles);
        nfi_sketch_free(&x);
        nfi_sketch_free(&y);
    }
    nfi_buf_free(&norms);
    tu_corpus_free(&t);
    tu_corpus_free(&h);
}

static void test_hash_mode_same_sketches(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    nfi_buf b;
    nfi_buf_init(&b);
    nfi_buf_puts(&b, "{\"id\": \"edge\", \"lang\": \"en\", \"text\": \"Don't STOP: 1,500.25 and 3.14, 12abc abc12 12. "
                     "l'arm\u00e9e Stra\u00dfe \u00c9COLE \u01c5emal \u0130stanbul \ufb01ne \uff26\uff55\uff4c\uff4c "
                     "\uff12\uff10\uff12\uff14 e\u0301t\u00e9 caf\u00e9s \u041c\u043e\u0441\u043a\u0432\u0430 "
                     "it\u2019s O\u2019Neill x'y \u6e2f\u53e3\u59d4\u5458\u4f1a \u30ab\u30bf\u30ab\u30ca "
                     "\u0e2a\u0e20\u0e32 ");
    for (int i = 0; i < 300; i++)
        nfi_buf_putc(&b, i % 7 ? 'a' : 'B');
    nfi_buf_puts(&b, " ");
    for (int i = 0; i < 150; i++)
        nfi_buf_puts(&b, "\u00e9");
    nfi_buf_puts(&b, " 0123456789012345678901234567890 END\"}\n");
    /* The 64-byte windows of the hash mode's fast path: the same words at
     * every offset in a window, each ending at the kinds of bytes that end
     * or join it, and words of 31 to 34 and 63 to 65 letters. */
    nfi_buf_puts(&b, "{\"id\": \"windows\", \"lang\": \"en\", \"text\": \"");
    for (int shift = 0; shift < 70; shift++) {
        for (int k = 0; k < shift; k++)
            nfi_buf_putc(&b, k % 3 ? 'q' : ' ');
        nfi_buf_puts(&b, " Stra\u00dfe.\u00a0gr\u00f6\u00dften\u00bb \u00abMus\u00e9e\u2019s caf\u00e9\u2019 d\u2019Orsay "
                         "word\u00a0word\u201d \u201cQuote\u2014dash 2\u00e8me 12,5 12\u00e9 ab\u00aacd \u00b5m "
                         "\u0661\u0662abc x\u0661 na\u00efve e\u0301t\u00e9 \u05e9\u05c1\u05dc\u05d5\u05dd "
                         "\u041f\u0440\u0438\u0432\u0435\u0442 it's 1990's abc'd 7'8 ");
        for (int len = 31; len < 66; len += len == 34 ? 29 : 1) {
            for (int k = 0; k < len; k++)
                nfi_buf_putc(&b, (char)(k % 5 ? 'a' + k % 26 : 'A' + k % 26));
            nfi_buf_puts(&b, len % 2 ? " " : "\u00e9 ");
        }
    }
    nfi_buf_puts(&b, "\"}\n"
                     "{\"id\": \"empty\", \"text\": \"\"}\n"
                     "{\"id\": \"punct\", \"text\": \"... -- !!! ??\"}\n"
                     "{\"id\": \"short\", \"text\": \"two words\"}\n");
    tu_write(dir, "edge.jsonl", b.data, b.len);
    nfi_buf_free(&b);
    nf_clean_options dedup_like, with_lang;
    nf_clean_options_default(&dedup_like);
    dedup_like.lang = dedup_like.dates = dedup_like.stem = 0;
    nf_clean_options_default(&with_lang); /* given languages: the English apostrophe rule, stems */
    with_lang.dates = 0;
    compare_hash_mode(dir, dedup_like);
    compare_hash_mode(dir, with_lang);
    compare_hash_mode(NF_SHARED_DIR "/data/wmt-more", dedup_like);
    compare_hash_mode(NF_SHARED_DIR "/data/wmt21/de-fr/docs.jsonl", dedup_like);
    tu_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------ planted copies */

static const char *base_text =
    "The harbour authority of Portvale announced on Monday that the northern pier will close for repairs "
    "from the first of June until the end of September, affecting ferries to the islands. "
    "Engineers found cracks in three of the concrete pillars during a routine inspection in April, "
    "the authority said, and the repairs will cost about four million euros. "
    "Ferry operators will move their departures to the southern terminal, where two new berths were opened "
    "last year, and timetables will change by ten to fifteen minutes. "
    "Local shops near the pier said they feared losing customers during the busiest months of the year, "
    "and the council promised a support fund for businesses that can show lost revenue. "
    "The mayor said the safety of passengers came first and that the pier would reopen stronger.";

typedef struct planted {
    char *dir;
    tu_corpus c;
} planted;

static void write_record(nfi_buf *b, const char *id, const char *date, const char *text)
{
    nfi_buf_printf(b, "{\"id\":\"%s\",\"lang\":\"en\",\"title\":\"T\",\"published\":\"%s\",\"text\":", id, date);
    nfi_json_string(b, text, strlen(text));
    nfi_buf_puts(b, "}\n");
}

static char *replaced(const char *s, const char *from, const char *to)
{
    const char *p = strstr(s, from);
    assert_non_null(p);
    nfi_buf b;
    nfi_buf_init(&b);
    nfi_buf_append(&b, s, (size_t)(p - s));
    nfi_buf_puts(&b, to);
    nfi_buf_puts(&b, p + strlen(from));
    return nfi_buf_take(&b, NULL);
}

static tu_corpus planted_corpus(char **dir_out)
{
    char *dir = tu_tempdir();
    nfi_buf b;
    nfi_buf_init(&b);
    char *typo = replaced(base_text, "concrete pillars", "concrete pilars");
    char *edited = replaced(typo, "about four million euros", "roughly four million euros");
    char excerpt[400];
    memcpy(excerpt, base_text + 101, 340); /* a passage from the middle */
    excerpt[340] = '\0';
    write_record(&b, "orig", "2024-05-02", base_text);
    write_record(&b, "copy", "2024-05-03", base_text);
    write_record(&b, "edit", "2024-05-03", edited);
    write_record(&b, "excerpt", "2024-05-04", excerpt);
    write_record(&b, "other", "2024-05-02",
                 "The city library will extend its opening hours from next month and add a reading room for "
                 "children, the council said on Tuesday after a vote that passed with a large majority.");
    write_record(&b, "short", "2024-05-02", "Pier closes.");
    write_record(&b, "empty", "2024-05-02", "");
    free(typo);
    free(edited);
    tu_write(dir, "p.jsonl", b.data, b.len);
    nfi_buf_free(&b);
    *dir_out = dir;
    return tu_clean_path(dir, 1, 0);
}

static nf_dedup_result run_dedup(tu_corpus *c, const nf_dedup_options *o)
{
    nf_dedup *d;
    nf_error err;
    assert_int_equal(nf_dedup_new(&d, o, &err), NF_OK);
    assert_int_equal(nf_dedup_add(d, c->docs, c->n, &err), NF_OK);
    nf_dedup_result r;
    if (nf_dedup_finish(d, &r, &err) != NF_OK)
        fail_msg("finish: %s", err.message);
    nf_dedup_free(d);
    return r;
}

static const nf_dedup_record *rec(const nf_dedup_result *r, const char *id)
{
    for (size_t i = 0; i < r->n_docs; i++)
        if (strcmp(r->docs[i].id, id) == 0)
            return &r->docs[i];
    fail_msg("no record %s", id);
    return NULL;
}

static void check_planted(const nf_dedup_result *r)
{
    assert_int_equal(rec(r, "orig")->relation, NF_REL_CANONICAL); /* earliest */
    assert_int_equal(rec(r, "copy")->relation, NF_REL_EXACT);
    assert_int_equal(rec(r, "edit")->relation, NF_REL_NEAR);
    assert_true(rec(r, "edit")->score > 0.6 && rec(r, "edit")->score < 1.0);
    assert_int_equal(rec(r, "excerpt")->relation, NF_REL_CONTAINED);
    assert_string_equal(r->docs[rec(r, "excerpt")->canonical].id, "orig");
    assert_int_equal(rec(r, "other")->relation, NF_REL_UNIQUE);
    assert_int_equal(rec(r, "short")->relation, NF_REL_UNIQUE);
    assert_string_equal(rec(r, "short")->reason, "too_short");
    assert_string_equal(rec(r, "empty")->reason, "empty");
}

static void test_planted_relations(void **state)
{
    (void)state;
    char *dir;
    tu_corpus c = planted_corpus(&dir);
    nf_dedup_options o;
    nf_dedup_options_default(&o);
    nf_dedup_result r = run_dedup(&c, &o);
    check_planted(&r);
    nf_dedup_result_free(&r);
    o.exact_verify = 1;
    r = run_dedup(&c, &o);
    check_planted(&r);
    nf_dedup_result_free(&r);
    o.exact_verify = 0;
    o.method = NF_DEDUP_SIMHASH; /* a one-word typo stays within 3 bits? not promised: only exact + unique */
    r = run_dedup(&c, &o);
    assert_int_equal(rec(&r, "copy")->relation, NF_REL_EXACT);
    assert_int_equal(rec(&r, "other")->relation, NF_REL_UNIQUE);
    nf_dedup_result_free(&r);
    tu_corpus_free(&c);
    tu_rmtree(dir);
    free(dir);
}

static void assert_same_result(const nf_dedup_result *a, const nf_dedup_result *b)
{
    assert_int_equal(a->n_docs, b->n_docs);
    assert_int_equal(a->n_pairs, b->n_pairs);
    for (size_t i = 0; i < a->n_docs; i++) {
        assert_string_equal(a->docs[i].id, b->docs[i].id);
        assert_int_equal(a->docs[i].canonical, b->docs[i].canonical);
        assert_int_equal(a->docs[i].relation, b->docs[i].relation);
        assert_true(a->docs[i].score == b->docs[i].score);
    }
}

static void test_deterministic_threads_and_memory(void **state)
{
    (void)state;
    tu_corpus c = tu_clean_path(NF_SHARED_DIR "/data/wmt21/de-fr/docs.jsonl", 2, 0);
    nf_dedup_options o;
    nf_dedup_options_default(&o);
    o.threshold = 0.3; /* many pairs among machine translations */
    nf_dedup_result one = run_dedup(&c, &o);
    o.threads = 3;
    o.mem_limit = 48 * 1024; /* forces spilled runs */
    nf_dedup_result three = run_dedup(&c, &o);
    assert_true(one.n_pairs > 100);
    assert_same_result(&one, &three);
    assert_int_equal(one.candidates, three.candidates);
    nf_dedup_result_free(&one);
    nf_dedup_result_free(&three);
    tu_corpus_free(&c);
}

/* ------------------------------------------------------ index */

static void test_incremental_index(void **state)
{
    (void)state;
    char *dir;
    tu_corpus c = planted_corpus(&dir);
    char index[1100];
    snprintf(index, sizeof index, "%s/index", dir);
    nf_dedup_options o;
    nf_dedup_options_default(&o);
    o.index_dir = index;
    tu_corpus first = {c.docs, 1, 0};          /* orig */
    tu_corpus second = {c.docs + 1, c.n - 1, 0}; /* the rest */
    nf_dedup_result r1 = run_dedup(&first, &o);
    assert_int_equal(r1.n_docs, 1);
    nf_dedup_result_free(&r1);
    tu_write(index, "seg-000009.nfs.tmp", "torn", 4); /* a crash leftover */
    nf_dedup_result r2 = run_dedup(&second, &o);
    assert_int_equal(r2.n_docs, c.n);
    assert_true(r2.docs[0].from_index);
    check_planted(&r2); /* the copies of the indexed document are found */
    nf_dedup_result_free(&r2);
    char leftover[1200];
    snprintf(leftover, sizeof leftover, "%s/seg-000009.nfs.tmp", index);
    assert_int_not_equal(access(leftover, F_OK), 0);

    nf_dedup *d;
    nf_error err;
    nf_dedup_options other = o; /* other parameters are refused */
    other.perms = 64;
    assert_int_not_equal(nf_dedup_new(&d, &other, &err), NF_OK);
    assert_non_null(strstr(err.message, "other options"));

    char seg[1400] = ""; /* corruption of a named segment is refused */
    DIR *dd = opendir(index);
    for (struct dirent *e; dd && (e = readdir(dd));)
        if (strncmp(e->d_name, "seg-", 4) == 0)
            snprintf(seg, sizeof seg, "%s/%s", index, e->d_name);
    if (dd)
        closedir(dd);
    FILE *f = fopen(seg, "r+b");
    assert_non_null(f);
    fseek(f, 40, SEEK_SET);
    fputc(0x5A, f);
    fclose(f);
    assert_int_not_equal(nf_dedup_new(&d, &o, &err), NF_OK);
    assert_non_null(strstr(err.message, "corrupt"));

    o.index_dir = dir; /* a folder that is not an index */
    assert_int_not_equal(nf_dedup_new(&d, &o, &err), NF_OK);
    assert_non_null(strstr(err.message, "not a newsfold index"));
    tu_corpus_free(&c);
    tu_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------ goldens */

static void test_seeds_have_no_near_duplicates(void **state)
{
    (void)state;
    tu_corpus c = tu_clean_path(NF_SHARED_DIR "/seeds", 1, 1);
    nf_dedup_options o;
    nf_dedup_options_default(&o);
    nf_dedup_result r = run_dedup(&c, &o);
    assert_int_equal(r.n_docs, 5);
    for (size_t i = 0; i < r.n_docs; i++)
        assert_int_equal(r.docs[i].relation, NF_REL_UNIQUE);
    nf_dedup_result_free(&r);
    tu_corpus_free(&c);
}

static void test_examples_every_planted_copy_found(void **state)
{
    (void)state;
    cJSON *gold = tu_read_json(NF_SOURCE_DIR "/examples/gold.json");
    assert_non_null(gold);
    tu_corpus c = tu_clean_path(NF_SOURCE_DIR "/examples/corpus", 2, 0);
    nf_dedup_options o;
    nf_dedup_options_default(&o);
    nf_dedup_result r = run_dedup(&c, &o);
    const cJSON *p;
    size_t checked = 0;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(gold, "pairs"))
    {
        const char *rel = cJSON_GetObjectItem(p, "relation")->valuestring;
        const nf_dedup_record *a = rec(&r, cJSON_GetObjectItem(p, "a")->valuestring);
        const nf_dedup_record *b = rec(&r, cJSON_GetObjectItem(p, "b")->valuestring);
        bool same_group = a->canonical == b->canonical;
        if (strcmp(rel, "exact") == 0 || strcmp(rel, "near") == 0) {
            if (!same_group)
                fail_msg("%s pair %s / %s not grouped", rel, a->id, b->id);
            checked++;
        } else if (strcmp(rel, "translation") != 0 && same_group) {
            fail_msg("%s pair %s / %s grouped as copies", rel, a->id, b->id);
        }
    }
    assert_true(checked >= 10);
    nf_dedup_result_free(&r);
    tu_corpus_free(&c);
    cJSON_Delete(gold);
}


/* ------------------------------------------------------ short excerpts */

static void write_lang_record(nfi_buf *b, const char *id, const char *lang, const char *date, const char *text,
                              size_t len)
{
    nfi_buf_printf(b, "{\"id\":\"%s\",\"lang\":\"%s\",\"title\":\"T\",\"published\":\"%s\",\"text\":", id, lang,
                   date);
    nfi_json_string(b, text, len);
    nfi_buf_puts(b, "}\n");
}

/* Appends up to `max` original documents of lang (one version per source
 * document, at least four times as long as the lead) and each one's lead:
 * the first 60-80 words, or for Chinese and Japanese the first 40-60
 * characters of a first line at least that long and mostly Han or Kana
 * (these sources are line-broken scans whose short lines are boilerplate
 * to the cleaner, and some open with code tables). */
static size_t add_leads(nfi_buf *b, const char *path, const char *lang, size_t max)
{
    size_t len, added = 0;
    char *data = tu_read_file(path, &len);
    assert_non_null(data);
    bool by_char = strcmp(lang, "zh") == 0 || strcmp(lang, "ja") == 0;
    char last_base[256] = "";
    for (char *line = strtok(data, "\n"); line && added < max; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        const char *id = cJSON_GetObjectItem(j, "id")->valuestring;
        const char *text = cJSON_GetObjectItem(j, "text")->valuestring;
        const cJSON *l = cJSON_GetObjectItem(j, "lang");
        size_t base_len = strcspn(id, "|");
        bool same_source = strlen(last_base) == base_len && strncmp(last_base, id, base_len) == 0;
        if (cJSON_IsString(l) && strcmp(l->valuestring, lang) == 0 && !same_source &&
            strlen(text) >= (by_char ? 600 : 2000)) {
            snprintf(last_base, sizeof last_base, "%.*s", (int)base_len, id);
            size_t want = (by_char ? 40 : 60) + added % 21, units = 0, cut = 0;
            for (size_t i = 0; text[i] && units < want; i++) {
                if (by_char ? ((unsigned char)text[i] & 0xC0) != 0x80 : (text[i] == ' ' || text[i] == '\n'))
                    units += by_char || (i > 0 && text[i - 1] != ' ' && text[i - 1] != '\n');
                cut = i + 1;
            }
            while (by_char && ((unsigned char)text[cut] & 0xC0) == 0x80)
                cut++; /* whole characters */
            size_t wide = 0; /* characters of three or more bytes: Han, Kana, CJK punctuation */
            for (size_t i = 0; by_char && i < cut; i++)
                wide += (unsigned char)text[i] >= 0xE0;
            if (by_char && (memchr(text, '\n', cut) || wide * 10 < units * 8)) {
                cJSON_Delete(j);
                continue;
            }
            char oid[64], lid[64];
            snprintf(oid, sizeof oid, "%s-%zu", lang, added);
            snprintf(lid, sizeof lid, "%s-%zu-lead", lang, added);
            write_lang_record(b, oid, lang, "2024-05-01", text, strlen(text));
            write_lang_record(b, lid, lang, "2024-05-02", text, cut);
            added++;
        }
        cJSON_Delete(j);
    }
    free(data);
    return added;
}

/* A lead of a longer article shares no window-independent samples with it
 * by chance alone (modulo sampling left a 40-character Chinese lead with
 * fewer than 4 samples one time in three); winnowing keeps every sample of
 * an unedited passage, so every lead must be reported contained. */
static void test_short_excerpts_contained(void **state)
{
    (void)state;
    char *dir = tu_tempdir();
    nfi_buf b;
    nfi_buf_init(&b);
    size_t n = add_leads(&b, NF_SHARED_DIR "/data/wmt21/de-fr/docs.jsonl", "de", 60);
    n += add_leads(&b, NF_SHARED_DIR "/data/wmt21/fr-de/docs.jsonl", "fr", 60);
    n += add_leads(&b, NF_SHARED_DIR "/data/wmt-more/wmt23-zh-en/docs.jsonl", "zh", 100);
    n += add_leads(&b, NF_SHARED_DIR "/data/wmt-more/wmt23-ja-en/docs.jsonl", "ja", 100);
    print_message("short excerpts: %zu originals with a lead\n", n);
    assert_true(n >= 80);
    tu_write(dir, "leads.jsonl", b.data, b.len);
    nfi_buf_free(&b);
    tu_corpus c = tu_clean_path(dir, 2, 0);
    nf_dedup_options o;
    nf_dedup_options_default(&o);
    for (int exact = 0; exact <= 1; exact++) {
        o.exact_verify = exact;
        nf_dedup_result r = run_dedup(&c, &o);
        size_t contained = 0, leads = 0;
        for (size_t i = 0; i < r.n_docs; i++) {
            const char *id = r.docs[i].id;
            size_t len = strlen(id);
            if (len < 5 || strcmp(id + len - 5, "-lead") != 0)
                continue;
            char orig[64];
            snprintf(orig, sizeof orig, "%.*s", (int)(len - 5), id);
            leads++;
            if (r.docs[i].relation == NF_REL_CONTAINED && r.docs[i].canonical == rec(&r, orig)->canonical)
                contained++;
            else
                print_message("lead %s: %s\n", id, nf_relation_name(r.docs[i].relation));
        }
        print_message("short excerpts (exact_verify=%d): %zu of %zu leads contained\n", exact, contained, leads);
        assert_int_equal(leads, n);
        assert_int_equal(contained, leads);
        nf_dedup_result_free(&r);
    }
    tu_corpus_free(&c);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lsh_params),
        cmocka_unit_test(test_runs_spill_equals_memory),
        cmocka_unit_test(test_runs_threads_same_order),
        cmocka_unit_test(test_radix_sorts),
        cmocka_unit_test(test_minhash_estimate_property),
        cmocka_unit_test(test_winnow_definition),
        cmocka_unit_test(test_hash_mode_same_sketches),
        cmocka_unit_test(test_planted_relations),
        cmocka_unit_test(test_deterministic_threads_and_memory),
        cmocka_unit_test(test_incremental_index),
        cmocka_unit_test(test_seeds_have_no_near_duplicates),
        cmocka_unit_test(test_examples_every_planted_copy_found),
        cmocka_unit_test(test_short_excerpts_contained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
