/*
 * ingest_json.c - JSON documents: JSONL (one object per line), a .json file
 * holding one object or an array of objects, and JSONL on stdin.
 *
 * Parsing is cJSON's. Only "text" is required; "id", "title", "lang",
 * "source", "published" and "url" are taken when they are strings (an id
 * may also be a number); anything else is ignored, so richer exports can be
 * fed in unchanged. A record that is not an object, lacks text, or does not
 * parse is skipped with its file and line, and the rest of the file goes on.
 * A JSON file is read whole (bounded by max_record); JSONL streams.
 *
 * Escapes that are not Unicode: cJSON refuses a \u escape naming a lone
 * surrogate ("\ud800", as JavaScript writes when it cuts a string between
 * the two halves of a pair), and with it the whole record. Before parsing,
 * each such escape is rewritten in place to "\ufdd0" (same length, so byte
 * offsets in messages stay right); U+FDD0 is a noncharacter, never text, so
 * after parsing every U+FDD0 in a field becomes U+FFFD (same length again)
 * and is counted in invalid_utf8 like an invalid UTF-8 sequence.
 */
#include "ingest/ingest.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *string_field(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (cJSON_IsString(v) && v->valuestring && v->valuestring[0])
        return nfi_strdup(v->valuestring);
    return NULL;
}

static char *id_field(const cJSON *obj)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (cJSON_IsNumber(v)) {
        char num[64];
        snprintf(num, sizeof num, "%.17g", v->valuedouble);
        return nfi_strdup(num);
    }
    return string_field(obj, "id");
}

/* Feeds often carry only a headline (empty "text", a "title"): the title is
 * then the text (the cleaner takes it back as the title from the first
 * line), a normal document rather than an empty one. A "published_at"
 * timestamp (e.g. "2021-07-01T06:01:00Z") is preferred to a bare
 * "published" date: the event stage uses the time of day. */
static void take_headline_and_time(const cJSON *obj, nf_doc *doc)
{
    if (doc->text && doc->text_len == 0 && doc->title) {
        free(doc->text); /* the title moves: the cleaner takes it back from the first line */
        doc->text = doc->title;
        doc->text_len = strlen(doc->title);
        doc->title = NULL;
    }
    char *at = string_field(obj, "published_at");
    if (at) {
        free(doc->published);
        doc->published = at;
    }
}

static unsigned hex4(const char *s)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return 0x110000; /* not hex: cJSON reports it */
        v = v * 16 + (unsigned)d;
    }
    return v;
}

/* A copy of json with lone-surrogate escapes rewritten to \ufdd0, or NULL
 * when there are none (or memory ran out: then cJSON reports the record). */
static char *mark_bad_escapes(const char *json, size_t len)
{
    char *copy = NULL;
    for (size_t i = 0; i + 1 < len; i++) {
        const char *bs = memchr(json + i, '\\', len - 1 - i); /* most text has few escapes */
        if (!bs)
            break;
        i = (size_t)(bs - json);
        if (json[i + 1] != 'u' || i + 6 > len) {
            i++; /* another escape: skip its second character */
            continue;
        }
        unsigned v = hex4(json + i + 2);
        bool high = v >= 0xD800 && v <= 0xDBFF, low = v >= 0xDC00 && v <= 0xDFFF;
        if (high && i + 12 <= len && json[i + 6] == '\\' && json[i + 7] == 'u' && hex4(json + i + 8) >= 0xDC00 &&
            hex4(json + i + 8) <= 0xDFFF) {
            i += 11; /* a proper pair */
            continue;
        }
        if (high || low) {
            if (!copy && !(copy = nfi_strndup(json, len)))
                return NULL;
            memcpy(copy + i + 2, "fdd0", 4);
        }
        i += 5;
    }
    return copy;
}

/* Turns the U+FDD0 marks of mark_bad_escapes into U+FFFD; returns how many. */
static size_t settle_marks(char *s)
{
    size_t n = 0;
    for (char *p = s; p && (p = strstr(p, "\xEF\xB7\x90")); p += 3, n++)
        memcpy(p, "\xEF\xBF\xBD", 3);
    return n;
}

static void settle_doc_marks(nf_doc *doc)
{
    doc->invalid_utf8 += settle_marks(doc->text) + settle_marks(doc->title);
    char *other[] = {doc->id, doc->lang, doc->source, doc->published, doc->url};
    for (size_t i = 0; i < sizeof other / sizeof *other; i++)
        settle_marks(other[i]);
}

static nf_status doc_from_object(const cJSON *obj, const char *origin, uint64_t record, nf_doc *doc,
                                 nf_error *err)
{
    memset(doc, 0, sizeof *doc);
    if (!cJSON_IsObject(obj))
        return nfi_fail(err, NF_SKIPPED, "%s:%llu: not a JSON object, skipped", origin,
                       (unsigned long long)record);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(obj, "text");
    if (!cJSON_IsString(text) || !text->valuestring)
        return nfi_fail(err, NF_SKIPPED, "%s:%llu: no \"text\" string field, skipped", origin,
                       (unsigned long long)record);
    doc->text_len = strlen(text->valuestring);
    doc->text = nfi_strndup(text->valuestring, doc->text_len);
    doc->id = id_field(obj);
    doc->title = string_field(obj, "title");
    doc->lang = string_field(obj, "lang");
    doc->source = string_field(obj, "source");
    doc->published = string_field(obj, "published");
    take_headline_and_time(obj, doc);
    doc->url = string_field(obj, "url");
    doc->origin = nfi_strdup(origin);
    doc->record = record;
    if (!doc->id) {
        char suffix[32];
        snprintf(suffix, sizeof suffix, ":%llu", (unsigned long long)record);
        nfi_buf id;
        nfi_buf_init(&id);
        nfi_buf_puts(&id, origin);
        nfi_buf_puts(&id, suffix);
        doc->id = nfi_buf_take(&id, NULL);
    }
    if (!doc->text || !doc->id || !doc->origin) {
        nf_doc_free(doc);
        return nfi_fail(err, NF_ERR_NOMEM, "%s:%llu: out of memory", origin, (unsigned long long)record);
    }
    settle_doc_marks(doc);
    return NF_OK;
}

nf_status nf_doc_from_json(const char *json, size_t len, const char *origin, uint64_t record,
                           nf_doc *doc, nf_error *err)
{
    memset(doc, 0, sizeof *doc);
    char *marked = mark_bad_escapes(json, len);
    const char *parsed = marked ? marked : json;
    cJSON *obj = cJSON_ParseWithLength(parsed, len);
    if (!obj) {
        const char *where = cJSON_GetErrorPtr();
        long col = where && where >= parsed && where <= parsed + len ? (long)(where - parsed) + 1 : 0;
        free(marked);
        return nfi_fail(err, NF_SKIPPED, "%s:%llu: invalid JSON near byte %ld, skipped", origin,
                       (unsigned long long)record, col);
    }
    free(marked);
    nf_status st = doc_from_object(obj, origin, record, doc, err);
    cJSON_Delete(obj);
    return st;
}

/* ------------------------------------------------------------- JSONL */

static nf_status jsonl_open(nfi_source *src, nf_error *err)
{
    (void)src;
    (void)err;
    return NF_OK;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!nfi_is_space((unsigned char)s[i]))
            return false;
    return true;
}

static nf_status jsonl_next(nfi_source *src, nf_doc *doc, nf_error *err)
{
    for (;;) {
        const char *line;
        size_t len;
        nf_status st = nfi_source_getline(src, &line, &len, err);
        if (st != NF_OK)
            return st;
        if (blank(line, len))
            continue;
        src->record++;
        return nf_doc_from_json(line, len, src->path, src->line, doc, err);
    }
}

static void jsonl_close(nfi_source *src) { (void)src; }

static const char *const jsonl_extensions[] = {".jsonl", ".ndjson", NULL};
const nfi_format nfi_format_jsonl = {"jsonl", jsonl_extensions, jsonl_open, jsonl_next, jsonl_close};

/* -------------------------------------------------------------- JSON */

typedef struct json_state {
    cJSON *root;
    const cJSON *cursor; /* next array element, or the root object itself */
} json_state;

static nf_status json_open(nfi_source *src, nf_error *err)
{
    char *text;
    size_t len;
    nf_status st = nfi_source_slurp(src, &text, &len, err);
    if (st != NF_OK)
        return st;
    char *marked = mark_bad_escapes(text, len);
    if (marked) {
        free(text);
        text = marked;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        const char *where = cJSON_GetErrorPtr();
        long at = where && where >= text && where <= text + len ? (long)(where - text) : 0;
        long line = 1;
        for (long i = 0; i < at; i++)
            line += text[i] == '\n';
        free(text);
        return nfi_fail(err, NF_ERR_PARSE, "%s:%ld: invalid JSON, file skipped", src->path, line);
    }
    free(text);
    json_state *js = calloc(1, sizeof *js);
    if (!js) {
        cJSON_Delete(root);
        return nfi_fail(err, NF_ERR_NOMEM, "%s: out of memory", src->path);
    }
    js->root = root;
    js->cursor = cJSON_IsArray(root) ? root->child : root;
    src->state = js;
    return NF_OK;
}

static nf_status json_next(nfi_source *src, nf_doc *doc, nf_error *err)
{
    json_state *js = src->state;
    if (!js->cursor)
        return NF_END;
    const cJSON *item = js->cursor;
    js->cursor = cJSON_IsArray(js->root) ? item->next : NULL;
    src->record++;
    return doc_from_object(item, src->path, src->record, doc, err);
}

static void json_close(nfi_source *src)
{
    json_state *js = src->state;
    if (js) {
        cJSON_Delete(js->root);
        free(js);
    }
    src->state = NULL;
}

static const char *const json_extensions[] = {".json", NULL};
const nfi_format nfi_format_json = {"json", json_extensions, json_open, json_next, json_close};
