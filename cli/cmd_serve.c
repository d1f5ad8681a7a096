/*
 * cmd_serve.c - `newsfold serve`: parses the command line and runs the
 * service (service/, docs/service.md). Nothing else lives here.
 *
 * Also the store writer of `newsfold run --db FILE` (cli_db_*), so that
 * cmd_run.c needs no service header. Built with NF_HAVE_SERVE only when
 * libmicrohttpd and sqlite3 were found at configure time; otherwise both
 * say they are not available.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#ifndef NF_HAVE_SERVE

static const char unavailable[] = "not available: this newsfold was built without libmicrohttpd and "
                                  "sqlite3 (scripts/setup.sh installs libmicrohttpd-dev and libsqlite3-dev)";

int cmd_serve(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "newsfold serve: %s\n", unavailable);
    return EXIT_FATAL;
}

cli_db *cli_db_open(const char *path)
{
    fprintf(stderr, "newsfold run: --db %s: %s\n", path, unavailable);
    return NULL;
}

int cli_db_add(cli_db *db, const nf_doc *docs, size_t n)
{
    (void)db, (void)docs, (void)n;
    return -1;
}

int cli_db_finish(cli_db *db, const nf_fold_result *result)
{
    (void)db, (void)result;
    return -1;
}

#else

#include "service.h"

static const char serve_usage[] =
    "usage: newsfold serve --db FILE [options]\n"
    "\n"
    "A live news desk: documents POSTed to /api/documents are stored in FILE\n"
    "(SQLite, WAL) and folded at once into duplicate groups, translations,\n"
    "events and storylines; a web UI and a JSON API read them (docs/service.md).\n"
    "On start, every stored document is folded again: the store is the truth.\n"
    "\n"
    "options:\n"
    "      --db FILE              the store (created when missing)\n"
    "      --listen HOST:PORT     address (default 127.0.0.1:8080; port 0: any free port)\n"
    "      --token TOKEN          write requests need Authorization: Bearer TOKEN\n"
    "                             (also from $NEWSFOLD_TOKEN)\n"
    "      --body-limit SIZE      largest request body (default 16M)\n"
    "      --timeout SECONDS      idle connections are closed after (default 30)\n"
    "      --http-threads N       HTTP thread pool (default 8)\n"
    "      --sync full|normal     full (default): a 2xx answer survives power loss;\n"
    "                             normal: it survives a crash of the process only\n"
    "      --max-group N          most documents folded and committed at once (default 10000)\n"
    "      --threshold T          score below which a document starts a new event\n"
    "      --window DAYS          days an event stays live without new reports\n"
    "      --storyline-days DAYS  longest gap between events of a storyline\n"
    "      --prefer-lang LANG     take event headlines from reports in LANG\n"
    "      --no-dedup             no copy links\n"
    "      --no-links             no translations, no pivots\n"
    "  -j, --threads N            fold threads (default: all cores)\n"
    "  -q, --quiet                no messages but errors\n"
    "  -h, --help                 this help\n";

/* ------------------------------------------------------- run --db FILE */

struct cli_db {
    nf_store *store;
    const char *path;
};

cli_db *cli_db_open(const char *path)
{
    cli_db *db = calloc(1, sizeof *db);
    nf_error err = {0};
    if (!db || nf_store_run_open(&db->store, path, &err) != NF_OK) {
        fprintf(stderr, "newsfold run: --db %s: %s\n", path, db ? err.message : "out of memory");
        free(db);
        return NULL;
    }
    db->path = path;
    return db;
}

int cli_db_add(cli_db *db, const nf_doc *docs, size_t n)
{
    nf_error err = {0};
    if (nf_store_run_docs(db->store, docs, n, &err) == NF_OK)
        return 0;
    fprintf(stderr, "newsfold run: --db %s: %s\n", db->path, err.message);
    return -1;
}

int cli_db_finish(cli_db *db, const nf_fold_result *result)
{
    nf_error err = {0};
    int rc = 0;
    if (result && nf_store_run_finish(db->store, result, &err) != NF_OK) {
        fprintf(stderr, "newsfold run: --db %s: %s\n", db->path, err.message);
        rc = -1;
    }
    nf_store_close(db->store); /* without a result: rolled back */
    free(db);
    return rc;
}

/* ------------------------------------------------------------ serve */

static int bad(const char *what, const char *v)
{
    fprintf(stderr, "newsfold serve: bad %s '%s'\n%s", what, v, serve_usage);
    return EXIT_FATAL;
}

int cmd_serve(int argc, char **argv)
{
    enum { O_DB = 256, O_LISTEN, O_TOKEN, O_BODY, O_TIMEOUT, O_HTTP, O_SYNC, O_GROUP, O_THRESHOLD,
           O_WINDOW, O_SDAYS, O_PREFER, O_NODEDUP, O_NOLINKS };
    static const struct option longs[] = {
        {"db", required_argument, 0, O_DB}, {"listen", required_argument, 0, O_LISTEN},
        {"token", required_argument, 0, O_TOKEN}, {"body-limit", required_argument, 0, O_BODY},
        {"timeout", required_argument, 0, O_TIMEOUT}, {"http-threads", required_argument, 0, O_HTTP},
        {"sync", required_argument, 0, O_SYNC}, {"max-group", required_argument, 0, O_GROUP},
        {"threshold", required_argument, 0, O_THRESHOLD}, {"window", required_argument, 0, O_WINDOW},
        {"storyline-days", required_argument, 0, O_SDAYS}, {"prefer-lang", required_argument, 0, O_PREFER},
        {"no-dedup", no_argument, 0, O_NODEDUP}, {"no-links", no_argument, 0, O_NOLINKS},
        {"threads", required_argument, 0, 'j'}, {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    nf_serve_options o;
    nf_serve_options_default(&o);
    nf_fold_options *f = &o.writer.fold;
    f->threads = nf_cli_default_threads();
    o.token = getenv("NEWSFOLD_TOKEN");
    int c;
    char *end;
    optind = 1;
    while ((c = getopt_long(argc, argv, "j:qh", longs, NULL)) != -1) {
        switch (c) {
        case O_DB: o.db = optarg; break;
        case O_LISTEN: o.listen = optarg; break;
        case O_TOKEN: o.token = optarg; break;
        case O_BODY:
            if (!(o.body_limit = nf_cli_parse_size(optarg)))
                return bad("--body-limit", optarg);
            break;
        case O_TIMEOUT:
            o.timeout_s = (int)strtol(optarg, &end, 10);
            if (*end || o.timeout_s < 1)
                return bad("--timeout", optarg);
            break;
        case O_HTTP:
            o.http_threads = (int)strtol(optarg, &end, 10);
            if (*end || o.http_threads < 1 || o.http_threads > 256)
                return bad("--http-threads", optarg);
            break;
        case O_SYNC:
            if (strcmp(optarg, "full") && strcmp(optarg, "normal"))
                return bad("--sync", optarg);
            o.store.sync_full = strcmp(optarg, "full") == 0;
            break;
        case O_GROUP:
            o.writer.max_group_docs = (size_t)strtoull(optarg, &end, 10);
            if (*end || !o.writer.max_group_docs)
                return bad("--max-group", optarg);
            break;
        case O_THRESHOLD:
            f->events.threshold = strtod(optarg, &end);
            if (*end)
                return bad("--threshold", optarg);
            break;
        case O_WINDOW:
            f->events.window_days = (int)strtol(optarg, &end, 10);
            if (*end || f->events.window_days < 1)
                return bad("--window", optarg);
            break;
        case O_SDAYS:
            f->events.storyline_days = (int)strtol(optarg, &end, 10);
            if (*end || f->events.storyline_days < 0)
                return bad("--storyline-days", optarg);
            break;
        case O_PREFER: f->events.prefer_lang = optarg; break;
        case O_NODEDUP: f->dedup_on = 0; break;
        case O_NOLINKS: f->links_on = 0; break;
        case 'j':
            if ((f->threads = nf_cli_threads(optarg)) < 0)
                return bad("-j", optarg);
            if (f->threads == 0)
                f->threads = nf_cli_default_threads();
            break;
        case 'q': o.quiet = 1; break;
        case 'h': fputs(serve_usage, stdout); return EXIT_ALL_GOOD;
        default: fputs(serve_usage, stderr); return EXIT_FATAL;
        }
    }
    if (optind < argc)
        return bad("argument", argv[optind]);
    if (!o.db) {
        fprintf(stderr, "newsfold serve: --db FILE is required\n%s", serve_usage);
        return EXIT_FATAL;
    }
    if (o.token && !*o.token)
        o.token = NULL;
    return nf_serve_main(&o);
}

#endif
