/*
 * labels.c - cluster labels of documents read from a file, for evaluation
 * (`newsfold eval`, tests): a gold file ({"documents": {id: {key: label}}}),
 * JSONL records (id, the key field, title) or TSV (id, then the key column
 * named in a header, else the second column).
 *
 * Items keep file order; a repeated id keeps its first label. Label texts
 * are numbered in order of first appearance, so the same files give the
 * same numbers. Ids and label texts are found through hash maps of their
 * XXH3 hashes, each hit checked against the stored string.
 */
#include "common/common.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nfi_labels_index {
    nfi_hmap ids;   /* hash of id -> index */
    nfi_hmap names; /* hash of label text -> label number */
    size_t cap;
    uint32_t cap_names;
};

void nf_labels_free(nf_labels *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->id[i]), free(l->title ? l->title[i] : NULL);
    for (uint32_t i = 0; i < l->n_names; i++)
        free(l->name[i]);
    free(l->name);
    free(l->title);
    free(l->id);
    free(l->label);
    if (l->index) {
        nfi_hmap_free(&l->index->ids);
        nfi_hmap_free(&l->index->names);
        free(l->index);
    }
    memset(l, 0, sizeof *l);
}

static uint32_t intern(nf_labels *l, const char *s)
{
    if (!s)
        return NF_NO_LABEL;
    bool created;
    uint64_t *v = nfi_hmap_put(&l->index->names, nfi_hash64(s, strlen(s)), &created);
    if (!v)
        return NF_NO_LABEL;
    if (created) {
        if (l->n_names == l->index->cap_names) {
            uint32_t cap = l->index->cap_names ? l->index->cap_names * 2 : 1024;
            char **names = realloc(l->name, cap * sizeof *names);
            if (!names)
                return NF_NO_LABEL;
            l->name = names;
            l->index->cap_names = cap;
        }
        l->name[l->n_names] = nfi_strdup(s);
        *v = l->n_names++;
    }
    return (uint32_t)*v;
}

/* Adds id -> label (text or NULL) and title (or NULL); a repeated id keeps
 * its first label. */
static int put(nf_labels *l, const char *id, const char *label, const char *title)
{
    bool created;
    uint64_t *v = nfi_hmap_put(&l->index->ids, nfi_hash64(id, strlen(id)), &created);
    if (!v)
        return -1;
    if (!created)
        return 0;
    if (l->n == l->index->cap) {
        size_t cap = l->index->cap ? l->index->cap * 2 : 1024;
        char **ids = realloc(l->id, cap * sizeof *ids);
        uint32_t *lab = ids ? realloc(l->label, cap * sizeof *lab) : NULL;
        if (ids)
            l->id = ids;
        if (lab)
            l->label = lab;
        char **titles = lab ? realloc(l->title, cap * sizeof *titles) : NULL;
        if (!ids || !lab || !titles)
            return -1;
        l->title = titles;
        l->index->cap = cap;
    }
    *v = l->n;
    l->id[l->n] = nfi_strdup(id);
    l->title[l->n] = title ? nfi_strdup(title) : NULL;
    l->label[l->n++] = intern(l, label);
    return l->id[l->n - 1] ? 0 : -1;
}

/* The label text of a JSON value (string or number), NULL for null/absent. */
static const char *json_label(const cJSON *v, char *num, size_t n)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    if (cJSON_IsNumber(v)) {
        snprintf(num, n, "%.17g", v->valuedouble);
        return num;
    }
    return NULL;
}

static int load_gold_doc(nf_labels *l, const cJSON *docs, const char *key)
{
    const cJSON *d;
    char num[64];
    cJSON_ArrayForEach(d, docs)
    {
        const char *label = json_label(cJSON_GetObjectItemCaseSensitive(d, key), num, sizeof num);
        if (put(l, d->string, label, NULL) != 0)
            return -1;
    }
    return 0;
}

static int load_jsonl(nf_labels *l, char *text, const char *key)
{
    size_t line = 0;
    for (char *p = text, *e; *p; p = e + (*e != '\0')) {
        e = p + strcspn(p, "\n");
        char save = *e;
        *e = '\0';
        line++;
        if (p[strspn(p, " \t\r")] == '\0') {
            *e = save;
            continue;
        }
        cJSON *o = cJSON_Parse(p);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        char num[64], idnum[64];
        const char *ids = json_label(id, idnum, sizeof idnum);
        const cJSON *title = cJSON_GetObjectItemCaseSensitive(o, "title");
        int rc = ids ? put(l, ids, json_label(cJSON_GetObjectItemCaseSensitive(o, key), num, sizeof num),
                           cJSON_IsString(title) ? title->valuestring : NULL)
                     : 1;
        cJSON_Delete(o);
        *e = save;
        if (rc > 0 && !l->lines_ignored++)
            l->first_ignored = line;
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Column of key in a TSV header, else 1. */
static int tsv_column(char *header, const char *key)
{
    int col = 0;
    for (char *f = header, *e;; f = e + 1, col++) {
        e = f + strcspn(f, "\t");
        if ((size_t)(e - f) == strlen(key) && strncmp(f, key, (size_t)(e - f)) == 0)
            return col;
        if (*e != '\t')
            return 1;
    }
}

static char *tsv_field(char *line, int col)
{
    char *f = line;
    for (int c = 0; c < col; c++) {
        f = strchr(f, '\t');
        if (!f)
            return NULL;
        f++;
    }
    f[strcspn(f, "\t")] = '\0';
    return f;
}

static int load_tsv(nf_labels *l, char *text, const char *key)
{
    int col = 1;
    bool first = true;
    for (char *p = text, *next; p && *p; p = next) {
        char *e = p + strcspn(p, "\n");
        next = *e ? e + 1 : NULL;
        *e = '\0';
        if (e > p && e[-1] == '\r')
            e[-1] = '\0';
        if (first && strncmp(p, "id\t", 3) == 0) {
            col = tsv_column(p, key);
            first = false;
            continue;
        }
        first = false;
        size_t idlen = strcspn(p, "\t");
        char *label = tsv_field(p, col);
        p[idlen] = '\0';
        if (*p && put(l, p, label && *label ? label : NULL, NULL) != 0)
            return -1;
    }
    return 0;
}

nf_status nf_labels_read(nf_labels *l, const char *path, const char *key, nf_error *err)
{
    if (!l->index && !(l->index = calloc(1, sizeof *l->index)))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    char *text = nfi_read_file(path, NULL);
    if (!text)
        return nfi_fail(err, NF_ERR_IO, "%s: %s", path, strerror(errno));
    int rc;
    cJSON *whole = text[strspn(text, " \t\r\n")] == '{' ? cJSON_Parse(text) : NULL;
    const cJSON *docs = cJSON_GetObjectItemCaseSensitive(whole, "documents");
    if (cJSON_IsObject(docs))
        rc = load_gold_doc(l, docs, key);
    else if (text[strspn(text, " \t\r\n")] == '{')
        rc = load_jsonl(l, text, key);
    else
        rc = load_tsv(l, text, key);
    cJSON_Delete(whole);
    free(text);
    return rc != 0 ? nfi_fail(err, NF_ERR_NOMEM, "%s: out of memory", path) : NF_OK;
}

size_t nf_labels_find(const nf_labels *l, const char *id)
{
    const uint64_t *v = l->index ? nfi_hmap_get(&l->index->ids, nfi_hash64(id, strlen(id))) : NULL;
    return v && strcmp(l->id[*v], id) == 0 ? (size_t)*v : SIZE_MAX;
}
