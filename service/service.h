/*
 * service.h - what the parts of `newsfold serve` share (service/ only; the
 * command line sees nf_serve_main and the store writer of `run --db`).
 *
 *   store.c   the SQLite store: schema, the writes of one group commit,
 *             the batch writer of `newsfold run --db`, and every read the
 *             API answers (JSON built by SQLite's json_object from
 *             prepared statements; read connections pooled).
 *   writer.c  the one writer thread: ingest requests queue up, the writer
 *             takes all that are waiting as one group, folds them with one
 *             nf_fold_add and commits them in one transaction; replays the
 *             store into a fresh live fold on start.
 *   routes.c  the HTTP API: request -> store read or writer job -> reply.
 *   server.c  libmicrohttpd: threads, limits, auth, headers, the UI assets.
 *
 * The store is the truth: documents (the JSON the fold was given, so a
 * restart replays exactly the same input), their assignments, and the
 * events and storylines derived from the fold's current result.
 */
#ifndef NF_SERVICE_H
#define NF_SERVICE_H

#include "newsfold.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ buffer */

/* A JSON string literal (quotes included) of s[0..n); unlike the
 * library's nf_json_append it also escapes "<", so no answer can close a
 * script element. The buffer is the library's nf_buffer. */
void svc_buf_json_string(nf_buffer *b, const char *s, size_t n);

/* 1 when s[0..n) is valid UTF-8; else 0 and *bad = offset of the first bad byte. */
int svc_utf8_valid(const char *s, size_t n, size_t *bad);

/* ------------------------------------------------------------- store */

typedef struct nf_store nf_store;

typedef struct nf_store_options {
    int sync_full;  /* 1 (default): synchronous=FULL, every commit survives power loss;
                       0: NORMAL, commits survive a crash of the process, not of the machine */
    int readers;    /* read connections (default 8) */
} nf_store_options;

nf_status nf_store_open(nf_store **out, const char *path, const nf_store_options *o, nf_error *err);
void nf_store_close(nf_store *s);

/* The canonical JSON the store keeps for a document (its id, title, lang,
 * source, published, url and text): what nf_doc_from_json reads back into
 * the same document. malloc'ed; NULL when memory runs out. */
char *nf_store_doc_json(const nf_doc *doc, size_t *len);

/* Writes (one thread only: the writer, or `run --db`). */
nf_status nf_store_begin(nf_store *s, nf_error *err);
nf_status nf_store_commit(nf_store *s, nf_error *err);
void nf_store_rollback(nf_store *s);
/* 1 when a document with this id is stored (its assignment JSON in *json, malloc'ed, when json). */
int nf_store_has(nf_store *s, const char *id, char **json);
/* Inserts a document's JSON (arrival order = insertion order); an id already
 * stored is left as it is (returns NF_SKIPPED). */
nf_status nf_store_put(nf_store *s, const char *id, const char *json, size_t len, nf_error *err);
/* Removes a document put in this transaction that the fold refused. */
void nf_store_drop(nf_store *s, const char *id);
/* Applies a live fold's update (added and changed assignments) and replaces
 * events and storylines by those of cur. */
nf_status nf_store_apply(nf_store *s, const nf_fold_update *u, const nf_fold_result *cur, nf_error *err);
/* The same after a restart's replay: assignments refreshed, the text index kept. */
nf_status nf_store_reapply(nf_store *s, const nf_fold_update *u, const nf_fold_result *cur, nf_error *err);
/* The same from a final result (`newsfold run --db`): every document's
 * assignment, events and storylines. Call inside begin/commit. */
nf_status nf_store_write_result(nf_store *s, const nf_fold_result *r, nf_error *err);

/* `newsfold run --db FILE`: a new (empty) store written in one transaction:
 * open, the documents of each batch before nf_fold_add takes them, then the
 * final result; commits and leaves the store open (nf_store_close). */
nf_status nf_store_run_open(nf_store **out, const char *path, nf_error *err);
nf_status nf_store_run_docs(nf_store *s, const nf_doc *docs, size_t n, nf_error *err);
nf_status nf_store_run_finish(nf_store *s, const nf_fold_result *r, nf_error *err);

/* Replay: calls fn(ctx, id, json, len) for every stored document in arrival order. */
typedef int (*nf_store_doc_fn)(void *ctx, const char *id, const char *json, size_t len);
nf_status nf_store_each_doc(nf_store *s, nf_store_doc_fn fn, void *ctx, nf_error *err);

/* Reads (any thread; each takes a pooled read connection). The answer is
 * a JSON text in *out (malloc'ed); the return is an HTTP status. */
typedef struct nf_events_query {
    const char *since, *lang, *q, *cursor;
    int limit;
} nf_events_query;

int nf_store_events(nf_store *s, const nf_events_query *q, nf_buffer *out);
int nf_store_event(nf_store *s, const char *id, nf_buffer *out);
int nf_store_storyline(nf_store *s, const char *id, nf_buffer *out);
int nf_store_document(nf_store *s, const char *id, nf_buffer *out);
int nf_store_search(nf_store *s, const char *q, int limit, nf_buffer *out);
int nf_store_stats(nf_store *s, nf_buffer *out);

/* ------------------------------------------------------------ writer */

typedef struct nf_writer nf_writer;

/* One document of an ingest request, parsed. */
typedef struct nf_ingest_item {
    char *id;
    char *json;      /* the canonical JSON (nf_store_doc_json), malloc'ed */
    size_t json_len;
    nf_doc doc;      /* parsed from json; the writer hands it to the fold */
    /* filled by the writer */
    int status;      /* 201 added, 200 already stored, 4xx/5xx refused */
    char *answer;    /* JSON object: the assignment, or an error */
} nf_ingest_item;

typedef struct nf_writer_options {
    nf_fold_options fold;
    size_t max_group_docs; /* most documents folded in one group (default 10000) */
} nf_writer_options;

/* Opens the live fold and replays the store into it. */
nf_status nf_writer_start(nf_writer **out, nf_store *store, const nf_writer_options *o, nf_error *err);
/* Queues items; done(ctx) is called from the writer thread once they are
 * committed (each item's status and answer set) or refused. 0 when the
 * writer is stopping (nothing queued, done never called). */
int nf_writer_submit(nf_writer *w, nf_ingest_item *items, size_t n, void (*done)(void *ctx), void *ctx);
/* Stops taking jobs, finishes those queued and joins the thread. */
void nf_writer_stop(nf_writer *w);
void nf_writer_free(nf_writer *w);
/* Counters for /api/stats. */
typedef struct nf_writer_stats {
    uint64_t groups, docs_added, docs_existing, revision;
    size_t n_docs, n_events, n_storylines;
    double last_group_ms, last_fold_ms, replay_ms; /* the last group: all of it, nf_fold_add */
    size_t last_group_docs, last_changed;
    int failed; /* the fold or store failed; writes are refused */
} nf_writer_stats;
void nf_writer_get_stats(nf_writer *w, nf_writer_stats *out);
void nf_ingest_item_free(nf_ingest_item *it);

/* ------------------------------------------------------------ routes */

typedef struct nf_server nf_server;

typedef struct nf_request {
    const char *method, *path;
    const char *(*arg)(void *ctx, const char *name); /* query argument or NULL */
    const char *(*header)(void *ctx, const char *name);
    void *ctx;
    const char *body;
    size_t body_len;
} nf_request;

typedef struct nf_reply {
    int status;
    const char *type;   /* Content-Type */
    const void *data;   /* static data (assets), or NULL: then body */
    size_t len;
    nf_buffer body;
    nf_ingest_item *items; /* an ingest: these go to the writer, then nf_ingest_reply */
    size_t n_items;
} nf_reply;

typedef struct nf_routes {
    nf_store *store;
    nf_writer *writer;
    double started;
} nf_routes;

void nf_route(nf_routes *r, const nf_request *req, nf_reply *out);
/* The answer to an ingest once the writer is done with its items (freed). */
void nf_ingest_reply(nf_ingest_item *items, size_t n, nf_reply *out);
/* An error reply: {"error": message} with status. */
void nf_reply_error(nf_reply *out, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* UI assets embedded at build time (ui_assets.c, generated). */
typedef struct nf_asset {
    const char *path, *type;
    const unsigned char *data;
    size_t len;
} nf_asset;
const nf_asset *nf_ui_asset(const char *path);

/* ------------------------------------------------------------ server */

typedef struct nf_serve_options {
    const char *db;
    const char *listen;      /* host:port (default 127.0.0.1:8080) */
    const char *token;       /* write endpoints need "Authorization: Bearer TOKEN" */
    size_t body_limit;       /* bytes (default 16 MiB) */
    int timeout_s;           /* per connection idle timeout and ingest wait (default 30) */
    int http_threads;        /* libmicrohttpd thread pool (default 8) */
    int quiet;
    nf_store_options store;
    nf_writer_options writer;
} nf_serve_options;

void nf_serve_options_default(nf_serve_options *o);
/* Runs until SIGINT/SIGTERM; returns a process exit status (0, 2). */
int nf_serve_main(const nf_serve_options *o);

#endif
