/*
 * test_util.h - small helpers shared by the unit tests: temporary folders,
 * writing files, reading ../shared and the examples, cleaning a folder.
 */
#ifndef NF_TEST_UTIL_H
#define NF_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/common.h"

static inline char *tu_tempdir(void)
{
    char tmpl[] = "/tmp/nf-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static inline void tu_write(const char *dir, const char *name, const char *data, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* The raw bytes of a file (not decompressed: tests cut gzip files). */
static inline char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    nfi_buf b;
    nfi_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        nfi_buf_append(&b, chunk, n);
    fclose(f);
    return nfi_buf_take(&b, len);
}

static inline cJSON *tu_read_json(const char *path)
{
    size_t len;
    char *s = tu_read_file(path, &len);
    if (!s)
        return NULL;
    cJSON *j = cJSON_ParseWithLength(s, len);
    free(s);
    return j;
}

static inline void tu_rmtree(const char *dir)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Reads and cleans everything under path with the given thread count. */
typedef struct tu_corpus {
    nf_clean_doc *docs;
    size_t n;
    size_t skipped;
} tu_corpus;

static inline tu_corpus tu_clean_path_sliced(const char *path, const nf_clean_options *o, size_t slice);

static inline tu_corpus tu_clean_path_with(const char *path, const nf_clean_options *o)
{
    return tu_clean_path_sliced(path, o, 0);
}

static inline tu_corpus tu_clean_path(const char *path, int threads, int detect_lang)
{
    nf_clean_options o;
    nf_clean_options_default(&o);
    o.threads = threads;
    o.detect_lang = detect_lang;
    return tu_clean_path_with(path, &o);
}

/* The documents of path cleaned with options o as one batch: by
 * nf_clean_batch (slice 0), or learned whole and cleaned `slice` documents
 * at a time. */
static inline tu_corpus tu_clean_path_sliced(const char *path, const nf_clean_options *o, size_t slice)
{
    tu_corpus c = {NULL, 0, 0};
    nf_error err;
    nf_reader *r;
    const char *paths[] = {path};
    assert_int_equal(nf_reader_open(&r, paths, 1, NULL, &err), NF_OK);
    size_t cap = 64;
    nf_doc *docs = calloc(cap, sizeof *docs);
    size_t n = 0;
    for (;;) {
        if (n == cap) {
            cap *= 2;
            docs = realloc(docs, cap * sizeof *docs);
        }
        nf_status st = nf_reader_next(r, &docs[n], &err);
        if (st == NF_END)
            break;
        if (st == NF_SKIPPED) {
            c.skipped++;
            continue;
        }
        assert_int_equal(st, NF_OK);
        n++;
    }
    nf_reader_close(r);
    nf_cleaner *cl;
    assert_int_equal(nf_cleaner_new(&cl, o, &err), NF_OK);
    c.docs = calloc(n ? n : 1, sizeof *c.docs);
    if (!slice)
        assert_int_equal(nf_clean_batch(cl, docs, n, c.docs, &err), NF_OK);
    else {
        assert_int_equal(nf_clean_learn(cl, docs, n, &err), NF_OK);
        for (size_t at = 0; at < n; at += slice)
            assert_int_equal(nf_clean_slice(cl, docs + at, n - at < slice ? n - at : slice, c.docs + at, &err), NF_OK);
    }
    c.n = n;
    nf_cleaner_free(cl);
    free(docs);
    return c;
}

static inline void tu_corpus_free(tu_corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        nf_clean_doc_free(&c->docs[i]);
    free(c->docs);
}

static inline nf_clean_doc *tu_find(tu_corpus *c, const char *id)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->docs[i].doc.id, id) == 0)
            return &c->docs[i];
    return NULL;
}

/* Whether line (trimmed) occurs as a whole line of text. */
static inline int tu_has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++) {
        int starts = p == text || p[-1] == '\n';
        int ends = p[n] == '\0' || p[n] == '\n';
        if (starts && ends)
            return 1;
    }
    return 0;
}

#endif
