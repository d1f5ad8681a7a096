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
 *
 * Fast path: most records are flat objects of string fields
 * ({"id": "...", "text": "..."}). A JSONL record is first read by a small
 * scanner that takes exactly those (whitespace as cJSON skips it, the simple
 * escapes decoded as cJSON decodes them) straight into the document's
 * strings, with no tree. Anything else - a value that is not a string, a
 * \u escape, a NUL byte, a key with an escape, a byte-order mark, a record
 * that is malformed or lacks "text" - makes it give up, and the record
 * goes to cJSON as before, so documents and error messages are the same
 * either way. Both paths hand their fields to one function that builds
 * the document.
 */
#include "ingest/ingest.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields a document takes from a record. Each is owned; NULL when
 * absent, not a string or empty (text: NULL only when absent or not a
 * string; it may be empty). */
enum { F_TEXT, F_ID, F_TITLE, F_LANG, F_SOURCE, F_PUBLISHED, F_PUBLISHED_AT, F_URL, N_FIELDS };
static const char *const field_names[N_FIELDS] = {"text", "id", "title", "lang", "source",
                                                  "published", "published_at", "url"};

typedef struct json_fields {
    char *v[N_FIELDS];
    size_t text_len;
} json_fields;

static void fields_free(json_fields *f)
{
    for (int i = 0; i < N_FIELDS; i++)
        free(f->v[i]);
    memset(f, 0, sizeof *f);
}

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
static void take_headline_and_time(char *published_at, nf_doc *doc)
{
    if (doc->text && doc->text_len == 0 && doc->title) {
        free(doc->text); /* the title moves: the cleaner takes it back from the first line */
        doc->text = doc->title;
        doc->text_len = strlen(doc->title);
        doc->title = NULL;
    }
    if (published_at) {
        free(doc->published);
        doc->published = published_at;
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

/* The document of a record's fields (taken over, f is emptied). */
static nf_status doc_from_fields(json_fields *f, const char *origin, uint64_t record, nf_doc *doc, nf_error *err)
{
    memset(doc, 0, sizeof *doc);
    doc->text = f->v[F_TEXT];
    doc->text_len = f->text_len;
    doc->id = f->v[F_ID];
    doc->title = f->v[F_TITLE];
    doc->lang = f->v[F_LANG];
    doc->source = f->v[F_SOURCE];
    doc->published = f->v[F_PUBLISHED];
    take_headline_and_time(f->v[F_PUBLISHED_AT], doc);
    doc->url = f->v[F_URL];
    memset(f, 0, sizeof *f);
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
    json_fields f = {{NULL}, strlen(text->valuestring)};
    f.v[F_TEXT] = nfi_strndup(text->valuestring, f.text_len);
    f.v[F_ID] = id_field(obj);
    for (int i = F_TITLE; i < N_FIELDS; i++)
        f.v[i] = string_field(obj, field_names[i]);
    return doc_from_fields(&f, origin, record, doc, err);
}

/* ------------------------------------------------------- fast path */

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (unsigned char)*p <= 32) /* what cJSON skips */
        p++;
    return p;
}

/* The string value whose opening quote is at *pp, decoded into a new
 * buffer when out is given (else only passed over); *pp moves past its
 * closing quote. false: something the fast path leaves to cJSON (a \u or
 * unknown escape, a NUL byte, no closing quote) or no memory. */
static bool fast_string(const char **pp, const char *end, char **out, size_t *out_len)
{
    const char *s = *pp + 1, *p = s, *q;
    size_t escapes = 0;
    for (;;) { /* the closing quote: the next quote that no backslash escapes */
        if (!(q = memchr(p, '"', (size_t)(end - p))))
            return false;
        const char *bs = memchr(p, '\\', (size_t)(q - p));
        if (!bs)
            break;
        if (bs + 1 >= end || bs[1] == 'u' || !bs[1] || !strchr("\"\\/bfnrt", bs[1]))
            return false; /* also in a field passed over: cJSON refuses the record */
        escapes++;
        p = bs + 2;
    }
    if (memchr(s, '\0', (size_t)(q - s)))
        return false;
    *pp = q + 1;
    if (!out)
        return true;
    char *buf = malloc((size_t)(q - s) + 1);
    if (!buf)
        return false;
    size_t n = 0;
    for (p = s; escapes; escapes--) { /* runs between escapes copied whole */
        const char *bs = memchr(p, '\\', (size_t)(q - p));
        memcpy(buf + n, p, (size_t)(bs - p));
        n += (size_t)(bs - p);
        switch (bs[1]) {
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case '"': case '\\': case '/': buf[n++] = bs[1]; break;
        default: free(buf); return false; /* cJSON refuses it and says where */
        }
        p = bs + 2;
    }
    memcpy(buf + n, p, (size_t)(q - p));
    n += (size_t)(q - p);
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    return true;
}

/* The fields of a flat object of string values, or false (f left empty)
 * for anything else. */
static bool fast_fields(const char *json, size_t len, json_fields *f)
{
    const char *end = json + len;
    bool seen[N_FIELDS] = {false};
    memset(f, 0, sizeof *f);
    if (len >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0)
        return false;
    const char *p = skip_ws(json, end);
    if (p >= end || *p != '{')
        return false;
    for (p = skip_ws(p + 1, end);; p = skip_ws(p + 1, end)) {
        if (p >= end || *p != '"')
            goto give_up;
        const char *key = p + 1, *kq = memchr(key, '"', (size_t)(end - key));
        if (!kq || memchr(key, '\\', (size_t)(kq - key)) || memchr(key, '\0', (size_t)(kq - key)))
            goto give_up;
        p = skip_ws(kq + 1, end);
        if (p >= end || *p != ':' || (p = skip_ws(p + 1, end)) >= end || *p != '"')
            goto give_up; /* not a string value: cJSON reads it */
        int which = -1;
        for (int i = 0; i < N_FIELDS && which < 0; i++)
            if (!seen[i] && strlen(field_names[i]) == (size_t)(kq - key) && memcmp(field_names[i], key, (size_t)(kq - key)) == 0)
                which = i; /* a repeated key: the first one counts, as with cJSON */
        size_t n = 0;
        if (!fast_string(&p, end, which >= 0 ? &f->v[which] : NULL, &n))
            goto give_up;
        if (which >= 0) {
            seen[which] = true;
            if (which == F_TEXT)
                f->text_len = n;
            else if (n == 0) { /* an empty field is an absent one */
                free(f->v[which]);
                f->v[which] = NULL;
            }
        }
        p = skip_ws(p, end);
        if (p < end && *p == '}')
            break; /* what follows the object is not read, as with cJSON */
        if (p >= end || *p != ',')
            goto give_up;
    }
    if (seen[F_TEXT])
        return true;
give_up:
    fields_free(f);
    return false;
}

nf_status nf_doc_from_json(const char *json, size_t len, const char *origin, uint64_t record,
                           nf_doc *doc, nf_error *err)
{
    memset(doc, 0, sizeof *doc);
    json_fields f;
    if (fast_fields(json, len, &f))
        return doc_from_fields(&f, origin, record, doc, err);
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
