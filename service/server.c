/*
 * server.c - the HTTP side of `newsfold serve`.
 *
 * The server is GNU libmicrohttpd (Debian: libmicrohttpd-dev): a small,
 * long-maintained C library that parses HTTP/1.1 robustly (chunked bodies,
 * pipelining, limits), runs its own thread pool over epoll/poll, and can
 * suspend a connection and resume it from another thread. That last point
 * fits the design: an ingest request is parsed on a pool thread, handed to
 * the one writer thread (writer.c) and its connection suspended, so no pool
 * thread blocks while a group is folded and committed; the writer resumes
 * it after COMMIT and the answer goes out. Reads run on the pool threads,
 * each with a pooled read-only SQLite connection.
 *
 * Limits: request bodies over body_limit are refused with 413 (the body is
 * read and discarded, or refused at once when the client waits for
 * "100 Continue"); connections idle for timeout_s are closed; at most 1024
 * connections. Write endpoints need "Authorization: Bearer TOKEN" when a
 * token is set (compared in constant time). Every reply carries a
 * Content-Security-Policy that allows scripts only from this origin's
 * files (no inline script), nosniff and no-referrer.
 */
#include "service.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                          "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/* C_RESUMED: the writer is done, the answer is to be built; C_READY: an
 * answer waits to be queued; C_DONE: queued (any further body is discarded). */
enum { C_NEW = 0, C_BODY, C_WAITING, C_RESUMED, C_READY, C_DONE };

typedef struct conn {
    int state;
    int too_big;
    int refused; /* 401 decided from the headers, answered once the body is read */
    nf_buffer body;
    nf_reply reply;
    struct MHD_Connection *c;
} conn;

struct nf_server {
    const nf_serve_options *o;
    nf_routes routes;
    struct MHD_Daemon *d;
};

void nf_serve_options_default(nf_serve_options *o)
{
    memset(o, 0, sizeof *o);
    o->listen = "127.0.0.1:8080";
    o->body_limit = (size_t)16 << 20;
    o->timeout_s = 30;
    o->http_threads = 8;
    o->store.sync_full = 1;
    o->store.readers = 8;
    nf_fold_options_default(&o->writer.fold);
    o->writer.fold.live = 1;
    o->writer.max_group_docs = 10000;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, nf_reply *r)
{
    struct MHD_Response *resp;
    if (r->data) {
        resp = MHD_create_response_from_buffer(r->len, (void *)r->data, MHD_RESPMEM_PERSISTENT);
    } else {
        size_t len = r->body.len;
        char *data = r->body.data ? r->body.data : strdup("{}");
        memset(&r->body, 0, sizeof r->body);
        resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    }
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", r->type ? r->type : "application/json");
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Cache-Control", r->data ? "no-cache" : "no-store");
    if (r->status == 401 || r->status == 413) /* the body may be cut short: no reuse */
        MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

static enum MHD_Result send_error(struct MHD_Connection *c, conn *cx, int status, const char *msg)
{
    nf_buffer_free(&cx->reply.body);
    nf_reply_error(&cx->reply, status, "%s", msg);
    cx->state = C_DONE;
    return send_reply(c, &cx->reply);
}

static enum MHD_Result send_too_big(nf_server *s, struct MHD_Connection *c, conn *cx)
{
    char msg[96];
    snprintf(msg, sizeof msg, "body larger than the limit of %zu bytes", s->o->body_limit);
    return send_error(c, cx, 413, msg);
}

static const char *arg_of(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

static const char *header_of(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static int token_ok(const nf_serve_options *o, struct MHD_Connection *c)
{
    if (!o->token)
        return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    size_t n = strlen(o->token), m = strlen(h);
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned)(o->token[i] ^ h[i < m ? i : 0]);
    return diff == 0;
}

/* Called by the writer thread once the job is committed. */
static void ingest_done(void *ctx)
{
    conn *cx = ctx;
    cx->state = C_RESUMED;
    MHD_resume_connection(cx->c);
}

/* The first call: limits and authorization, from the headers. A client
 * that waits for "100 Continue" gets the refusal at once; any other is
 * answered after its body was read (and discarded): a client still
 * writing when the connection closes sees a broken pipe, not the answer. */
static enum MHD_Result on_headers(nf_server *s, struct MHD_Connection *c, conn *cx, const char *method)
{
    cx->state = C_BODY;
    if (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0)
        return MHD_YES;
    const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
    int waits = expect && strcasecmp(expect, "100-continue") == 0;
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    cx->refused = !token_ok(s->o, c);
    cx->too_big = cl && strtoull(cl, NULL, 10) > s->o->body_limit;
    if (waits && cx->refused)
        return send_error(c, cx, 401, "write requests need Authorization: Bearer <token>");
    if (waits && cx->too_big)
        return send_too_big(s, c, cx);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    nf_server *s = cls;
    conn *cx = *con_cls;
    (void)version;
    if (!cx) {
        cx = calloc(1, sizeof *cx);
        if (!cx)
            return MHD_NO;
        cx->c = c;
        *con_cls = cx;
        return on_headers(s, c, cx, method);
    }
    if (cx->state == C_RESUMED) {
        nf_ingest_item *items = cx->reply.items;
        cx->reply.items = NULL;
        nf_ingest_reply(items, cx->reply.n_items, &cx->reply);
        cx->state = C_READY;
    }
    if (cx->state == C_READY) {
        cx->state = C_DONE;
        return send_reply(c, &cx->reply);
    }
    if (cx->state == C_DONE) /* an early error reply is queued; discard the body */
        return *upload_size = 0, MHD_YES;
    if (*upload_size) {
        if (!cx->too_big && !cx->refused && cx->body.len + *upload_size <= s->o->body_limit)
            nf_buffer_append(&cx->body, upload, *upload_size);
        else
            cx->too_big = 1, nf_buffer_free(&cx->body);
        *upload_size = 0;
        return MHD_YES;
    }
    if (cx->refused)
        return send_error(c, cx, 401, "write requests need Authorization: Bearer <token>");
    if (cx->too_big)
        return send_too_big(s, c, cx);
    if (cx->body.oom)
        return send_error(c, cx, 503, "out of memory");
    nf_request req = {.method = method, .path = url, .arg = arg_of, .header = header_of, .ctx = c,
                      .body = cx->body.data ? cx->body.data : "", .body_len = cx->body.len};
    nf_route(&s->routes, &req, &cx->reply);
    nf_buffer_free(&cx->body);
    if (!cx->reply.items) {
        cx->state = C_DONE;
        return send_reply(c, &cx->reply);
    }
    cx->state = C_WAITING;
    MHD_suspend_connection(c);
    if (!nf_writer_submit(s->routes.writer, cx->reply.items, cx->reply.n_items, ingest_done, cx)) {
        for (size_t i = 0; i < cx->reply.n_items; i++)
            nf_ingest_item_free(&cx->reply.items[i]);
        free(cx->reply.items);
        cx->reply.items = NULL;
        nf_reply_error(&cx->reply, 503, "the service is stopping");
        cx->state = C_READY;
        MHD_resume_connection(c);
    }
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    conn *cx = *con_cls;
    if (!cx || cx->state == C_WAITING) /* the writer still holds it: cannot happen once resumed */
        return;
    if (cx->reply.items) { /* committed, but the client left before the answer */
        for (size_t i = 0; i < cx->reply.n_items; i++)
            nf_ingest_item_free(&cx->reply.items[i]);
        free(cx->reply.items);
    }
    nf_buffer_free(&cx->body);
    nf_buffer_free(&cx->reply.body);
    free(cx);
    *con_cls = NULL;
}

/* "host:port" or "[v6]:port" -> sockaddr. */
static int parse_listen(const char *s, struct sockaddr_storage *ss)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof host)
        return 0;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return 0;
    memset(ss, 0, sizeof *ss);
    size_t hl = strlen(host);
    if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = 0;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        return inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, hl ? host : "127.0.0.1", &a4->sin_addr) == 1;
}

static int start_daemon(nf_server *s, const struct sockaddr_storage *addr)
{
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (addr->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
                            MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->o->http_threads,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->o->timeout_s,
                            MHD_OPTION_CONNECTION_LIMIT, 1024u,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_END);
    return s->d != NULL;
}

int nf_serve_main(const nf_serve_options *o)
{
    struct sockaddr_storage addr;
    if (!o->db || !parse_listen(o->listen, &addr)) {
        fprintf(stderr, "newsfold serve: %s\n", o->db ? "bad --listen (HOST:PORT)" : "--db FILE is required");
        return 2;
    }
    /* SIGINT/SIGTERM are taken by sigwait below, in this thread only */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    nf_server s = {.o = o};
    nf_error err = {0};
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    s.routes.started = (double)t.tv_sec + (double)t.tv_nsec / 1e9;
    nf_store_options so = o->store;
    if (so.readers < o->http_threads)
        so.readers = o->http_threads;
    if (nf_store_open(&s.routes.store, o->db, &so, &err) != NF_OK) {
        fprintf(stderr, "newsfold serve: %s\n", err.message);
        return 2;
    }
    if (nf_writer_start(&s.routes.writer, s.routes.store, &o->writer, &err) != NF_OK) {
        fprintf(stderr, "newsfold serve: rebuilding the fold from %s: %s\n", o->db, err.message);
        nf_store_close(s.routes.store);
        return 2;
    }
    if (!start_daemon(&s, &addr)) {
        fprintf(stderr, "newsfold serve: cannot listen on %s\n", o->listen);
        nf_writer_free(s.routes.writer);
        nf_store_close(s.routes.store);
        return 2;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s.d, MHD_DAEMON_INFO_BIND_PORT);
    nf_writer_stats ws;
    nf_writer_get_stats(s.routes.writer, &ws);
    char host[64] = "127.0.0.1";
    const char *colon = strrchr(o->listen, ':');
    if (colon && colon > o->listen && (size_t)(colon - o->listen) < sizeof host)
        snprintf(host, sizeof host, "%.*s", (int)(colon - o->listen), o->listen);
    fprintf(stderr, "newsfold serve: %zu documents, %zu events (replayed in %.0f ms); listening on http://%s:%u/\n",
            ws.n_docs, ws.n_events, ws.replay_ms, host, info ? (unsigned)info->port : 0u);
    fflush(stderr);
    int sig = 0;
    sigwait(&sigs, &sig);
    if (!o->quiet)
        fprintf(stderr, "newsfold serve: signal %d, stopping\n", sig);
    MHD_quiesce_daemon(s.d);       /* no new connections */
    nf_writer_stop(s.routes.writer); /* queued groups committed and answered */
    MHD_stop_daemon(s.d);
    nf_writer_free(s.routes.writer);
    nf_store_close(s.routes.store);
    return 0;
}
