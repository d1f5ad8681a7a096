/*
 * routes.c - the HTTP API of `newsfold serve` (docs/service.md).
 *
 * A request (method, path, query, body) becomes a reply (status, type,
 * body). Reads go to the store (one prepared statement each); ingest parses
 * the body into documents and hands them to the writer, which answers once
 * they are committed. Every error is a JSON object {"error": "..."}.
 *
 * Ingest accepts, in one POST /api/documents:
 *   - one JSON object, a JSON array of objects, or JSONL (one per line);
 *     each object needs "id" and either "text" (the fields of the CLI's JSON
 *     reader: title, lang, source, published, published_at, url) or "html"
 *     with "url" (a page, extracted by the library like the CLI does);
 *   - an HTML page as the body (Content-Type: text/html) with ?url= and
 *     optionally ?id= (default: the url).
 * Each document is parsed by the library's own readers (nf_doc_from_json,
 * nf_extract_html) and kept as the JSON nf_doc_from_json reads back, so a
 * restart replays exactly what was folded. Bodies must be valid UTF-8
 * (HTML pages excepted: they declare their encoding).
 */
#include "service.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void nf_reply_error(nf_reply *out, int status, const char *fmt, ...)
{
    char msg[NF_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    out->status = status;
    out->type = "application/json";
    out->data = NULL;
    out->body.len = 0;
    nf_buffer_puts(&out->body, "{\"error\":");
    svc_buf_json_string(&out->body, msg, strlen(msg));
    nf_buffer_printf(&out->body, ",\"status\":%d}", status);
}

static void reply_json(nf_reply *out, int status)
{
    out->status = out->body.oom ? 500 : status;
    out->type = "application/json";
    if (out->body.oom) {
        nf_buffer_free(&out->body);
        nf_reply_error(out, 500, "out of memory");
    }
}

/* ------------------------------------------------------------ ingest */

typedef struct item_list {
    nf_ingest_item *v;
    size_t n, cap;
} item_list;

static nf_ingest_item *new_item(item_list *it)
{
    if (it->n == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 16;
        nf_ingest_item *p = realloc(it->v, cap * sizeof *p);
        if (!p)
            return NULL;
        it->v = p;
        it->cap = cap;
    }
    nf_ingest_item *x = &it->v[it->n++];
    memset(x, 0, sizeof *x);
    return x;
}

static void item_error(nf_ingest_item *x, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void item_error(nf_ingest_item *x, int status, const char *fmt, ...)
{
    char msg[NF_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nf_buffer b = {0};
    nf_buffer_puts(&b, "{\"id\":");
    if (x->id)
        svc_buf_json_string(&b, x->id, strlen(x->id));
    else
        nf_buffer_puts(&b, "null");
    nf_buffer_puts(&b, ",\"error\":");
    svc_buf_json_string(&b, msg, strlen(msg));
    nf_buffer_puts(&b, "}");
    x->status = status;
    free(x->answer);
    x->answer = b.oom ? NULL : b.data;
}

/* The document for the fold, parsed back from the JSON the store keeps. */
static void take_json(nf_ingest_item *x, char *json, uint64_t record)
{
    x->json = json;
    x->json_len = strlen(json);
    nf_error err;
    if (nf_doc_from_json(x->json, x->json_len, "request", record, &x->doc, &err) != NF_OK)
        item_error(x, 400, "%s", err.message);
    else if (!x->id)
        x->id = strdup(x->doc.id);
}

/* An HTML page: extracted, then kept as JSON. Fields given beside it win. */
static void take_page(nf_ingest_item *x, const char *html, size_t len, const char *url,
                      const char *content_type, const cJSON *given, uint64_t record)
{
    nf_doc doc = {0}; /* the extractor replaces what it fills */
    nf_error err;
    nf_extract_options eo = {.url = url, .content_type = content_type};
    nf_status st = nf_extract_html(html, len, &eo, &doc, &err);
    if (st != NF_OK) {
        item_error(x, st == NF_ERR_NOMEM ? 503 : 422, "%s", err.message);
        return;
    }
    const char *fields[] = {"title", "lang", "source", "published"};
    char **slots[] = {&doc.title, &doc.lang, &doc.source, &doc.published};
    for (size_t i = 0; given && i < 4; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(given, fields[i]);
        if (cJSON_IsString(v) && v->valuestring[0]) {
            free(*slots[i]);
            *slots[i] = strdup(v->valuestring);
        }
    }
    free(doc.id);
    doc.id = strdup(x->id);
    char *json = nf_store_doc_json(&doc, NULL);
    nf_doc_free(&doc);
    if (!json)
        item_error(x, 503, "out of memory");
    else
        take_json(x, json, record);
}

static char *id_of(const cJSON *obj)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "id");
    if (cJSON_IsNumber(v)) {
        char num[64];
        snprintf(num, sizeof num, "%.17g", v->valuedouble);
        return strdup(num);
    }
    return cJSON_IsString(v) && v->valuestring[0] ? strdup(v->valuestring) : NULL;
}

static void take_object(item_list *its, const cJSON *obj, uint64_t record)
{
    nf_ingest_item *x = new_item(its);
    if (!x)
        return;
    if (!cJSON_IsObject(obj)) {
        item_error(x, 400, "record %llu: not a JSON object", (unsigned long long)record);
        return;
    }
    x->id = id_of(obj);
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(obj, "text");
    const cJSON *html = cJSON_GetObjectItemCaseSensitive(obj, "html");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(obj, "url");
    if (!x->id) {
        item_error(x, 400, "record %llu: missing field \"id\" (a non-empty string or a number)",
                   (unsigned long long)record);
    } else if (cJSON_IsString(html)) {
        if (!cJSON_IsString(url) || !url->valuestring[0])
            item_error(x, 400, "record %llu: an \"html\" page needs its \"url\"", (unsigned long long)record);
        else
            take_page(x, html->valuestring, strlen(html->valuestring), url->valuestring, NULL, obj, record);
    } else if (!cJSON_IsString(text)) {
        item_error(x, 400, "record %llu: missing field \"text\" (or \"html\" with \"url\")",
                   (unsigned long long)record);
    } else {
        char *json = cJSON_PrintUnformatted(obj);
        if (!json)
            item_error(x, 503, "out of memory");
        else
            take_json(x, json, record);
    }
}

static int blank(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p == end;
}

/* One object, an array of objects, or JSONL. */
static int parse_json_body(const nf_request *req, item_list *its, nf_reply *out)
{
    size_t bad;
    if (!svc_utf8_valid(req->body, req->body_len, &bad)) {
        nf_reply_error(out, 400, "the body is not valid UTF-8 (byte %zu)", bad + 1);
        return 0;
    }
    if (blank(req->body, req->body + req->body_len)) {
        nf_reply_error(out, 400, "empty body: expected a JSON document or JSONL");
        return 0;
    }
    const char *end = NULL;
    cJSON *all = cJSON_ParseWithLengthOpts(req->body, req->body_len, &end, 0);
    if (all && blank(end, req->body + req->body_len)) {
        if (cJSON_IsArray(all)) {
            uint64_t rec = 0;
            for (const cJSON *o = all->child; o; o = o->next)
                take_object(its, o, ++rec);
        } else {
            take_object(its, all, 1);
        }
        cJSON_Delete(all);
        return 1;
    }
    cJSON_Delete(all);
    const char *p = req->body, *stop = req->body + req->body_len;
    uint64_t line = 0;
    while (p < stop) {
        const char *nl = memchr(p, '\n', (size_t)(stop - p));
        const char *e = nl ? nl : stop;
        line++;
        if (!blank(p, e)) {
            cJSON *o = cJSON_ParseWithLength(p, (size_t)(e - p));
            if (o) {
                take_object(its, o, line);
                cJSON_Delete(o);
            } else {
                nf_ingest_item *x = new_item(its);
                if (x)
                    item_error(x, 400, "line %llu: invalid JSON", (unsigned long long)line);
            }
        }
        p = e + (nl ? 1 : 0);
    }
    return 1;
}

static int starts_with_ci(const char *s, const char *prefix)
{
    return s && strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static void ingest(const nf_request *req, nf_reply *out)
{
    item_list its = {0};
    const char *ctype = req->header(req->ctx, "Content-Type");
    if (starts_with_ci(ctype, "text/html")) {
        const char *url = req->arg(req->ctx, "url");
        const char *id = req->arg(req->ctx, "id");
        if (!url || !*url) {
            nf_reply_error(out, 400, "an HTML page needs ?url= (and may have ?id=)");
            return;
        }
        nf_ingest_item *x = new_item(&its);
        if (x) {
            x->id = strdup(id && *id ? id : url);
            take_page(x, req->body, req->body_len, url, ctype, NULL, 1);
        }
    } else if (!parse_json_body(req, &its, out)) {
        return;
    }
    if (!its.n) {
        free(its.v);
        nf_reply_error(out, its.cap ? 503 : 400, its.cap ? "out of memory" : "no documents in the body");
        return;
    }
    out->items = its.v; /* the server hands them to the writer */
    out->n_items = its.n;
}

void nf_ingest_reply(nf_ingest_item *items, size_t n, nf_reply *out)
{
    size_t added = 0, existing = 0, refused = 0;
    int first_error = 0;
    char *first_message = NULL;
    nf_buffer *b = &out->body;
    nf_buffer_puts(b, "{\"documents\":[");
    for (size_t i = 0; i < n; i++) {
        nf_ingest_item *x = &items[i];
        int st = x->status ? x->status : 500;
        added += st == 201;
        existing += st == 200;
        const char *ans = x->answer ? x->answer : "{}";
        if (st >= 300) {
            refused++;
            first_error = first_error ? first_error : st;
            cJSON *a = first_message ? NULL : cJSON_Parse(ans);
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(a, "error");
            if (cJSON_IsString(e))
                first_message = strdup(e->valuestring);
            cJSON_Delete(a);
        }
        size_t alen = strlen(ans);
        nf_buffer_puts(b, i ? "," : "");
        nf_buffer_append(b, ans, alen > 1 ? alen - 1 : alen); /* reopen the object for "status" */
        nf_buffer_printf(b, "%s\"status\":%d}", alen > 2 ? "," : "", st);
        nf_ingest_item_free(x);
    }
    nf_buffer_printf(b, "],\"added\":%zu,\"existing\":%zu,\"refused\":%zu", added, existing, refused);
    if (refused == n) { /* nothing stored: an error reply like any other, with the details */
        nf_buffer_puts(b, ",\"error\":");
        const char *m = first_message ? first_message : "no document could be stored";
        svc_buf_json_string(b, m, strlen(m));
    }
    nf_buffer_puts(b, "}");
    free(first_message);
    free(items);
    reply_json(out, refused == n ? first_error : added ? 201 : 200);
}

/* ------------------------------------------------------------- reads */

static int int_arg(const nf_request *req, const char *name, int def, int max, int *out)
{
    const char *v = req->arg(req->ctx, name);
    if (!v || !*v) {
        *out = def;
        return 1;
    }
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 1)
        return 0;
    *out = n > max ? max : (int)n;
    return 1;
}

static void stats(nf_routes *r, nf_reply *out)
{
    nf_writer_stats ws;
    nf_writer_get_stats(r->writer, &ws);
    nf_buffer store = {0};
    int st = nf_store_stats(r->store, &store);
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    double up = (double)t.tv_sec + (double)t.tv_nsec / 1e9 - r->started;
    nf_buffer_printf(&out->body,
                   "{\"revision\":%llu,\"documents\":%zu,\"events\":%zu,\"storylines\":%zu,"
                   "\"groups\":%llu,\"added\":%llu,\"existing\":%llu,\"last_group\":{\"docs\":%zu,"
                   "\"changed\":%zu,\"ms\":%.1f,\"fold_ms\":%.1f},"
                   "\"replay_ms\":%.1f,\"writable\":%s,\"uptime_s\":%.0f,\"version\":\"%s\",\"store\":",
                   (unsigned long long)ws.revision, ws.n_docs, ws.n_events, ws.n_storylines,
                   (unsigned long long)ws.groups, (unsigned long long)ws.docs_added,
                   (unsigned long long)ws.docs_existing, ws.last_group_docs, ws.last_changed, ws.last_group_ms,
                   ws.last_fold_ms, ws.replay_ms,
                   ws.failed ? "false" : "true", up, nf_version());
    nf_buffer_append(&out->body, store.data ? store.data : "null", store.data ? store.len : 4);
    nf_buffer_puts(&out->body, "}");
    nf_buffer_free(&store);
    reply_json(out, st == 200 ? 200 : st);
}

static int read_route(nf_routes *r, const nf_request *req, nf_reply *out)
{
    const char *p = req->path;
    int st;
    if (strcmp(p, "/api/events") == 0) {
        nf_events_query q = {.since = req->arg(req->ctx, "since"), .lang = req->arg(req->ctx, "lang"),
                             .q = req->arg(req->ctx, "q"), .cursor = req->arg(req->ctx, "cursor")};
        if (!int_arg(req, "limit", 20, 200, &q.limit)) {
            nf_reply_error(out, 400, "limit must be a positive integer");
            return 1;
        }
        st = nf_store_events(r->store, &q, &out->body);
    } else if (strncmp(p, "/api/events/", 12) == 0) {
        st = nf_store_event(r->store, p + 12, &out->body);
    } else if (strncmp(p, "/api/storylines/", 16) == 0) {
        st = nf_store_storyline(r->store, p + 16, &out->body);
    } else if (strncmp(p, "/api/documents/", 15) == 0 && p[15]) {
        st = nf_store_document(r->store, p + 15, &out->body);
    } else if (strcmp(p, "/api/search") == 0) {
        const char *q = req->arg(req->ctx, "q");
        int limit;
        if (!q || !*q || !int_arg(req, "limit", 50, 500, &limit)) {
            nf_reply_error(out, 400, "search needs q= (and limit, a positive integer)");
            return 1;
        }
        st = nf_store_search(r->store, q, limit, &out->body);
    } else if (strcmp(p, "/api/stats") == 0) {
        stats(r, out);
        return 1;
    } else if (strcmp(p, "/healthz") == 0) {
        nf_writer_stats ws;
        nf_writer_get_stats(r->writer, &ws);
        nf_buffer_printf(&out->body, "{\"ok\":%s,\"documents\":%zu}", ws.failed ? "false" : "true", ws.n_docs);
        st = ws.failed ? 503 : 200;
    } else {
        return 0;
    }
    reply_json(out, st);
    return 1;
}

static int is_write_route(const char *p) { return strcmp(p, "/api/documents") == 0; }

void nf_route(nf_routes *r, const nf_request *req, nf_reply *out)
{
    int get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;
    const char *p = req->path;
    if (strcmp(req->method, "POST") == 0 && is_write_route(p)) {
        ingest(req, out);
        return;
    }
    if (get && read_route(r, req, out))
        return;
    const nf_asset *a = get ? nf_ui_asset(strcmp(p, "/") == 0 ? "/index.html" : p) : NULL;
    if (a) {
        out->status = 200;
        out->type = a->type;
        out->data = a->data;
        out->len = a->len;
        return;
    }
    int known = is_write_route(p) || strncmp(p, "/api/", 5) == 0 || strcmp(p, "/healthz") == 0;
    if (is_write_route(p) || (known && !get))
        nf_reply_error(out, 405, "%s is not allowed on %s", req->method, p);
    else
        nf_reply_error(out, 404, "no such route: %s %s", req->method, p);
}
