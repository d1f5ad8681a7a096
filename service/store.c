/*
 * store.c - the SQLite store of `newsfold serve` and `newsfold run --db`.
 *
 * Tables (schema below): documents (the JSON each document was folded
 * from, in arrival order = seq, plus its current assignment), docs_fts (an
 * FTS5 index with the trigram tokenizer over titles and texts: substring
 * search that works for every script, CJK included, since it needs no word
 * boundaries), events and storylines (derived: replaced from the fold's
 * current result on every write), meta.
 *
 * Durability: WAL journal. synchronous=FULL (default) syncs the WAL on every
 * COMMIT, so a transaction whose COMMIT returned survives a crash of the
 * process and of the machine; synchronous=NORMAL (--sync normal) syncs only
 * at checkpoints, so it survives a crash of the process (SIGKILL) but the
 * last commits may be lost when the machine loses power.
 *
 * Threads: one write connection, used by one thread at a time (the writer
 * thread, or `run --db`). Reads take a connection from a pool (WAL lets them
 * read a committed snapshot while the writer writes). Every statement is
 * prepared once per connection, with bound parameters: no SQL is built
 * from input. Read answers are JSON built by SQLite (json_object), which
 * escapes every string.
 */
#include "service.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ buffer */

void svc_buf_json_string(nf_buffer *b, const char *s, size_t n)
{
    nf_buffer_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            nf_buffer_append(b, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            nf_buffer_printf(b, "\\u%04x", c);
        } else if (c == '<') { /* never "</script>" in an answer */
            nf_buffer_append(b, "\\u003c", 6);
        } else {
            nf_buffer_append(b, &s[i], 1);
        }
    }
    nf_buffer_append(b, "\"", 1);
}

int svc_utf8_valid(const char *s, size_t n, size_t *bad)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t k;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            k = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, min = 0x10000, c &= 0x07;
        } else {
            break;
        }
        if (i + k >= n)
            break;
        size_t j;
        for (j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                break;
            c = (c << 6) | (p[i + j] & 0x3f);
        }
        if (j <= k || c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            break;
        i += k + 1;
    }
    if (i < n) {
        if (bad)
            *bad = i;
        return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ schema */

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS documents("
    " seq INTEGER PRIMARY KEY,"            /* arrival order */
    " id TEXT NOT NULL UNIQUE,"
    " doc TEXT NOT NULL,"                  /* the JSON folded (nf_doc_from_json reads it) */
    " added_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
    " text TEXT GENERATED ALWAYS AS (json_extract(doc,'$.text')) VIRTUAL,"
    " url TEXT GENERATED ALWAYS AS (json_extract(doc,'$.url')) VIRTUAL,"
    " fold_doc INTEGER, title TEXT, lang TEXT, source TEXT, published TEXT, date TEXT,"
    " canonical TEXT, relation TEXT, score REAL, event INTEGER, storyline INTEGER,"
    " role TEXT, of TEXT, event_score REAL, pending INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX IF NOT EXISTS documents_event ON documents(event, date, seq);"
    "CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts USING fts5(title, text, content='documents',"
    " content_rowid='seq', tokenize='trigram');"
    "CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, storyline INTEGER, headline TEXT,"
    " headline_doc TEXT, first_seen TEXT, last_seen TEXT, n_docs INTEGER, n_sources INTEGER,"
    " languages TEXT, sources TEXT, record TEXT);"
    "CREATE INDEX IF NOT EXISTS events_recent ON events(last_seen, id);"
    "CREATE INDEX IF NOT EXISTS events_storyline ON events(storyline, first_seen);"
    "CREATE TABLE IF NOT EXISTS storylines(id INTEGER PRIMARY KEY, headline TEXT, first_seen TEXT,"
    " last_seen TEXT, n_events INTEGER, n_docs INTEGER, record TEXT);"
    "INSERT OR IGNORE INTO meta VALUES('schema', '1');";

/* Statements of the write connection. */
enum {
    W_BEGIN, W_COMMIT, W_ROLLBACK, W_HAS, W_PUT, W_DROP, W_ASSIGN, W_FTS, W_DEL_EVENTS,
    W_DEL_STORYLINES, W_EVENT, W_STORYLINE, W_EACH, W_COUNT
};
static const char *const write_sql[W_COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_HAS] = "SELECT fold_doc, id, canonical, relation, score, event, storyline, role, of, event_score,"
              " pending FROM documents WHERE id = ?1",
    [W_PUT] = "INSERT OR IGNORE INTO documents(id, doc) VALUES(?1, ?2)",
    [W_DROP] = "DELETE FROM documents WHERE id = ?1",
    [W_ASSIGN] = "UPDATE documents SET fold_doc=?2, title=?3, lang=?4, source=?5, published=?6, date=?7,"
                 " canonical=?8, relation=?9, score=?10, event=?11, storyline=?12, role=?13, of=?14,"
                 " event_score=?15, pending=?16 WHERE id = ?1",
    [W_FTS] = "INSERT INTO docs_fts(rowid, title, text) SELECT seq, title, text FROM documents WHERE id = ?1",
    [W_DEL_EVENTS] = "DELETE FROM events",
    [W_DEL_STORYLINES] = "DELETE FROM storylines",
    [W_EVENT] = "INSERT INTO events VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [W_STORYLINE] = "INSERT INTO storylines VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [W_EACH] = "SELECT id, doc FROM documents ORDER BY seq",
};

/* Statements of the read connections. The event filters come in three
 * variants of q: none, an FTS5 phrase (3+ characters: trigrams), a LIKE
 * pattern (shorter: a scan). */
#define EVENT_JSON                                                                                \
    "json_object('id','E'||id,'storyline','S'||storyline,'headline',headline,'first_seen',"     \
    "first_seen,'last_seen',last_seen,'n_docs',n_docs,'n_sources',n_sources,'languages',"        \
    "json(languages),'sources',json(sources))"
#define EVENTS_SELECT                                                                             \
    "SELECT " EVENT_JSON ", last_seen, id FROM events WHERE (?1 IS NULL OR last_seen >= ?1)"      \
    " AND (?2 IS NULL OR EXISTS(SELECT 1 FROM json_each(events.languages) WHERE value = ?2))"    \
    " AND (?4 IS NULL OR (last_seen, id) < (?4, ?5))"
#define EVENTS_ORDER " ORDER BY last_seen DESC, id DESC LIMIT ?6"
#define DOC_JSON                                                                                  \
    "json_object('id',d.id,'title',d.title,'lang',d.lang,'source',d.source,'url',d.url,"         \
    "'published',d.published,'date',d.date,'event','E'||d.event,'storyline','S'||d.storyline,"    \
    "'role',d.role,'of',d.of,'canonical',d.canonical,'relation',d.relation,'score',d.score,"      \
    "'event_score',d.event_score,'added_at',d.added_at)"

enum {
    R_EVENTS, R_EVENTS_FTS, R_EVENTS_LIKE, R_EVENT, R_STORYLINE, R_DOCUMENT, R_SEARCH_FTS,
    R_SEARCH_LIKE, R_STATS, R_COUNT
};
static const char *const read_sql[R_COUNT] = {
    [R_EVENTS] = EVENTS_SELECT " AND ?3 IS NULL" EVENTS_ORDER,
    [R_EVENTS_FTS] = EVENTS_SELECT " AND id IN (SELECT event FROM documents WHERE seq IN"
                     " (SELECT rowid FROM docs_fts WHERE docs_fts MATCH ?3))" EVENTS_ORDER,
    [R_EVENTS_LIKE] = EVENTS_SELECT " AND id IN (SELECT event FROM documents WHERE seq IN"
                      " (SELECT rowid FROM docs_fts WHERE title LIKE ?3 ESCAPE '\\'"
                      " OR text LIKE ?3 ESCAPE '\\'))" EVENTS_ORDER,
    [R_EVENT] = "SELECT json_object('id','E'||e.id,'storyline','S'||e.storyline,'headline',e.headline,"
                "'headline_doc',e.headline_doc,'first_seen',e.first_seen,'last_seen',e.last_seen,"
                "'n_docs',e.n_docs,'n_sources',e.n_sources,'languages',json(e.languages),'sources',"
                "json(e.sources),'record',json(e.record),'documents',(SELECT json_group_array(" DOC_JSON
                ") FROM (SELECT * FROM documents WHERE event = e.id ORDER BY date, seq) d))"
                " FROM events e WHERE e.id = ?1",
    [R_STORYLINE] = "SELECT json_object('id','S'||s.id,'headline',s.headline,'first_seen',s.first_seen,"
                    "'last_seen',s.last_seen,'n_events',s.n_events,'n_docs',s.n_docs,'record',"
                    "json(s.record),'events',(SELECT json_group_array(" EVENT_JSON ") FROM (SELECT *"
                    " FROM events WHERE storyline = s.id ORDER BY first_seen, id)))"
                    " FROM storylines s WHERE s.id = ?1",
    [R_DOCUMENT] = "SELECT json_set(" DOC_JSON ", '$.text', d.text, '$.seq', d.seq, '$.pending',"
                   " json(CASE d.pending WHEN 1 THEN 'true' ELSE 'false' END)) FROM documents d"
                   " WHERE d.id = ?1",
    /* newest first, taken from the index before the join: ranking every
     * match (bm25) would cost O(matches) per query */
    [R_SEARCH_FTS] = "SELECT json_set(" DOC_JSON ", '$.snippet', substr(d.text, max(1, instr(d.text, ?3) - 60), 200))"
                     " FROM (SELECT rowid AS r FROM docs_fts WHERE docs_fts MATCH ?1"
                     " ORDER BY rowid DESC LIMIT ?2) f JOIN documents d ON d.seq = f.r ORDER BY f.r DESC",
    [R_SEARCH_LIKE] = "SELECT json_set(" DOC_JSON ", '$.snippet', substr(d.text, max(1, instr(d.text, ?3) - 60), 200))"
                      " FROM docs_fts JOIN documents d ON d.seq = docs_fts.rowid"
                      " WHERE docs_fts.title LIKE ?1 ESCAPE '\\' OR docs_fts.text LIKE ?1 ESCAPE '\\'"
                      " ORDER BY d.seq DESC LIMIT ?2",
    [R_STATS] = "SELECT json_object('documents',(SELECT count(*) FROM documents),'events',"
                "(SELECT count(*) FROM events),'storylines',(SELECT count(*) FROM storylines),"
                "'sources',(SELECT count(DISTINCT source) FROM documents),'languages',"
                "(SELECT json_group_object(l, n) FROM (SELECT coalesce(lang,'und') l, count(*) n"
                " FROM documents GROUP BY 1 ORDER BY 2 DESC, 1)),'db_bytes',"
                "(SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()))",
};

typedef struct reader {
    sqlite3 *db;
    sqlite3_stmt *st[R_COUNT];
} reader;

struct nf_store {
    sqlite3 *w;
    sqlite3_stmt *ws[W_COUNT];
    reader *readers;
    int n_readers;
    int *free_list, n_free;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static nf_status db_fail(nf_error *err, sqlite3 *db, const char *what)
{
    if (err) {
        err->code = NF_ERR_IO;
        snprintf(err->message, sizeof err->message, "store: %s: %s", what,
                 db ? sqlite3_errmsg(db) : "out of memory");
    }
    return NF_ERR_IO;
}

static nf_status open_conn(sqlite3 **db, const char *path, int readonly, const nf_store_options *o,
                           nf_error *err)
{
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(path, db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        return db_fail(err, *db, path);
    sqlite3_busy_timeout(*db, 10000);
    char pragmas[256];
    snprintf(pragmas, sizeof pragmas, "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;",
             o->sync_full ? "FULL" : "NORMAL");
    if (!readonly && sqlite3_exec(*db, pragmas, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(err, *db, path);
    return NF_OK;
}

nf_status nf_store_open(nf_store **out, const char *path, const nf_store_options *o, nf_error *err)
{
    nf_store_options def = {.sync_full = 1, .readers = 8};
    if (!o)
        o = &def;
    *out = NULL;
    nf_store *s = calloc(1, sizeof *s);
    if (!s)
        return db_fail(err, NULL, path);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    nf_status st = open_conn(&s->w, path, 0, o, err);
    if (st == NF_OK && sqlite3_exec(s->w, schema, NULL, NULL, NULL) != SQLITE_OK)
        st = db_fail(err, s->w, "creating the schema");
    for (int i = 0; st == NF_OK && i < W_COUNT; i++)
        if (sqlite3_prepare_v3(s->w, write_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->ws[i], NULL) != SQLITE_OK)
            st = db_fail(err, s->w, write_sql[i]);
    s->n_readers = o->readers > 0 ? o->readers : 8;
    s->readers = st == NF_OK ? calloc((size_t)s->n_readers, sizeof *s->readers) : NULL;
    s->free_list = st == NF_OK ? calloc((size_t)s->n_readers, sizeof *s->free_list) : NULL;
    if (st == NF_OK && (!s->readers || !s->free_list))
        st = db_fail(err, NULL, path);
    for (int i = 0; st == NF_OK && i < s->n_readers; i++) {
        st = open_conn(&s->readers[i].db, path, 1, o, err);
        s->free_list[s->n_free++] = i;
    }
    if (st != NF_OK) {
        nf_store_close(s);
        return st;
    }
    *out = s;
    return NF_OK;
}

void nf_store_close(nf_store *s)
{
    if (!s)
        return;
    for (int i = 0; s->readers && i < s->n_readers; i++) {
        for (int k = 0; k < R_COUNT; k++)
            sqlite3_finalize(s->readers[i].st[k]);
        sqlite3_close(s->readers[i].db);
    }
    for (int k = 0; k < W_COUNT; k++)
        sqlite3_finalize(s->ws[k]);
    if (s->w) {
        sqlite3_exec(s->w, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        sqlite3_close(s->w);
    }
    free(s->readers);
    free(s->free_list);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* ------------------------------------------------------------ writes */

char *nf_store_doc_json(const nf_doc *doc, size_t *len)
{
    nf_buffer b = {0};
    const char *names[] = {"id", "title", "lang", "source", "published", "url"};
    const char *values[] = {doc->id, doc->title, doc->lang, doc->source, doc->published, doc->url};
    nf_buffer_puts(&b, "{");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!values[i])
            continue;
        nf_buffer_printf(&b, "\"%s\":", names[i]);
        svc_buf_json_string(&b, values[i], strlen(values[i]));
        nf_buffer_puts(&b, ",");
    }
    nf_buffer_puts(&b, "\"text\":");
    svc_buf_json_string(&b, doc->text ? doc->text : "", doc->text ? doc->text_len : 0);
    nf_buffer_puts(&b, "}");
    if (b.oom) {
        nf_buffer_free(&b);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.data;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW;
}

nf_status nf_store_begin(nf_store *s, nf_error *err)
{
    return step_done(s->ws[W_BEGIN]) ? NF_OK : db_fail(err, s->w, "BEGIN");
}

nf_status nf_store_commit(nf_store *s, nf_error *err)
{
    return step_done(s->ws[W_COMMIT]) ? NF_OK : db_fail(err, s->w, "COMMIT");
}

void nf_store_rollback(nf_store *s)
{
    if (!sqlite3_get_autocommit(s->w))
        step_done(s->ws[W_ROLLBACK]);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s && *s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static int relation_from_name(const char *s)
{
    for (int r = NF_REL_UNIQUE; r <= NF_REL_CONTAINED; r++)
        if (s && strcmp(s, nf_relation_name((nf_relation)r)) == 0)
            return r;
    return NF_REL_UNIQUE;
}

static int role_from_name(const char *s)
{
    for (int r = NF_ROLE_ORIGINAL; r <= NF_ROLE_REPORT; r++)
        if (s && strcmp(s, nf_event_role_name((nf_event_role)r)) == 0)
            return r;
    return NF_ROLE_REPORT;
}

int nf_store_has(nf_store *s, const char *id, char **json)
{
    sqlite3_stmt *st = s->ws[W_HAS];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int found = sqlite3_step(st) == SQLITE_ROW;
    if (found && json) {
        nf_assignment a = {0};
        a.doc = (uint32_t)sqlite3_column_int64(st, 0);
        a.id = (const char *)sqlite3_column_text(st, 1);
        a.canonical = (const char *)sqlite3_column_text(st, 2);
        a.relation = (nf_relation)relation_from_name((const char *)sqlite3_column_text(st, 3));
        a.score = sqlite3_column_double(st, 4);
        a.event = (uint32_t)(sqlite3_column_int64(st, 5) - 1);
        a.storyline = (uint32_t)(sqlite3_column_int64(st, 6) - 1);
        a.role = (nf_event_role)role_from_name((const char *)sqlite3_column_text(st, 7));
        a.of = (const char *)sqlite3_column_text(st, 8);
        a.event_score = sqlite3_column_double(st, 9);
        a.flags = sqlite3_column_int(st, 10) ? NF_ASSIGN_PENDING : 0;
        nf_buffer b = {0};
        nf_jsonl_assignment(&b, &a);
        if (b.data && b.len && b.data[b.len - 1] == '\n')
            b.data[--b.len] = 0;
        *json = b.oom ? NULL : b.data;
        if (b.oom)
            nf_buffer_free(&b);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

nf_status nf_store_put(nf_store *s, const char *id, const char *json, size_t len, nf_error *err)
{
    sqlite3_stmt *st = s->ws[W_PUT];
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, json, (int)len, SQLITE_TRANSIENT);
    if (!step_done(st))
        return db_fail(err, s->w, "inserting a document");
    return sqlite3_changes(s->w) == 1 ? NF_OK : NF_SKIPPED;
}

void nf_store_drop(nf_store *s, const char *id)
{
    sqlite3_bind_text(s->ws[W_DROP], 1, id, -1, SQLITE_TRANSIENT);
    step_done(s->ws[W_DROP]);
}

/* One document's assignment, with what the current result says about it. */
static int write_assignment(nf_store *s, const nf_assignment *a, const nf_fold_result *cur)
{
    sqlite3_stmt *st = s->ws[W_ASSIGN];
    const nf_event_doc *ed = cur && a->doc < cur->events.n_docs ? &cur->events.docs[a->doc] : NULL;
    int pending = (a->flags & NF_ASSIGN_PENDING) != 0;
    sqlite3_bind_text(st, 1, a->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, a->doc);
    bind_text(st, 3, ed ? ed->title : NULL);
    bind_text(st, 4, ed ? ed->lang : NULL);
    bind_text(st, 5, ed ? ed->source : NULL);
    bind_text(st, 6, ed ? ed->published : NULL);
    bind_text(st, 7, ed ? ed->date : NULL);
    bind_text(st, 8, a->canonical);
    sqlite3_bind_text(st, 9, nf_relation_name(a->relation), -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 10, a->score);
    if (pending) {
        sqlite3_bind_null(st, 11);
        sqlite3_bind_null(st, 12);
        sqlite3_bind_null(st, 13);
    } else {
        sqlite3_bind_int64(st, 11, (sqlite3_int64)a->event + 1);
        sqlite3_bind_int64(st, 12, (sqlite3_int64)a->storyline + 1);
        sqlite3_bind_text(st, 13, nf_event_role_name(a->role), -1, SQLITE_STATIC);
    }
    bind_text(st, 14, a->of);
    sqlite3_bind_double(st, 15, a->event_score);
    sqlite3_bind_int(st, 16, pending);
    return step_done(st);
}

static int index_text(nf_store *s, const char *id)
{
    sqlite3_bind_text(s->ws[W_FTS], 1, id, -1, SQLITE_TRANSIENT);
    return step_done(s->ws[W_FTS]);
}

static void json_array_add(nf_buffer *b, const char *s, int *first)
{
    nf_buffer_puts(b, *first ? "" : ",");
    svc_buf_json_string(b, s, strlen(s));
    *first = 0;
}

/* The distinct sources of an event's reports, in stream order, at most 12. */
static void event_sources(const nf_events_result *r, const nf_event *e, nf_buffer *b)
{
    int first = 1, n = 0;
    nf_buffer_puts(b, "[");
    for (size_t i = 0; i < e->n_docs && n < 12; i++) {
        const char *src = r->docs[e->docs[i]].source;
        if (!src || !*src)
            continue;
        size_t j = 0;
        while (j < i && !(r->docs[e->docs[j]].source && strcmp(r->docs[e->docs[j]].source, src) == 0))
            j++;
        if (j == i) {
            json_array_add(b, src, &first);
            n++;
        }
    }
    nf_buffer_puts(b, "]");
}

static const char *record_text(nf_buffer *b)
{
    if (b->oom || !b->data)
        return "null";
    if (b->len && b->data[b->len - 1] == '\n')
        b->data[--b->len] = 0;
    return b->data;
}

static const char *doc_title(const nf_events_result *r, uint32_t d)
{
    return r->docs[d].title ? r->docs[d].title : r->docs[d].id;
}

static int write_event(nf_store *s, const nf_fold_result *cur, size_t i)
{
    const nf_events_result *r = &cur->events;
    const nf_event *e = &r->events[i];
    nf_buffer langs = {0}, sources = {0};
    int first = 1;
    nf_buffer_puts(&langs, "[");
    for (size_t k = 0; k < e->n_languages; k++)
        json_array_add(&langs, e->languages[k], &first);
    nf_buffer_puts(&langs, "]");
    event_sources(r, e, &sources);
    nf_buffer rec = {0};
    nf_jsonl_event(&rec, cur, i);
    sqlite3_stmt *st = s->ws[W_EVENT];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)i + 1);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)e->storyline + 1);
    bind_text(st, 3, doc_title(r, e->headline_doc));
    bind_text(st, 4, r->docs[e->headline_doc].id);
    bind_text(st, 5, e->first_seen);
    bind_text(st, 6, e->last_seen);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)e->n_docs);
    sqlite3_bind_int64(st, 8, e->n_sources);
    bind_text(st, 9, langs.oom ? "[]" : langs.data);
    bind_text(st, 10, sources.oom ? "[]" : sources.data);
    bind_text(st, 11, record_text(&rec));
    int ok = step_done(st) && !langs.oom && !sources.oom;
    nf_buffer_free(&langs);
    nf_buffer_free(&sources);
    nf_buffer_free(&rec);
    return ok;
}

static int write_storyline(nf_store *s, const nf_fold_result *cur, size_t i)
{
    const nf_events_result *r = &cur->events;
    const nf_storyline *sl = &r->storylines[i];
    /* its headline: that of its largest event (the first on ties) */
    const nf_event *big = sl->n_events ? &r->events[sl->events[0]] : NULL;
    for (size_t k = 1; k < sl->n_events; k++)
        if (r->events[sl->events[k]].n_docs > big->n_docs)
            big = &r->events[sl->events[k]];
    nf_buffer rec = {0};
    nf_jsonl_storyline(&rec, cur, i);
    sqlite3_stmt *st = s->ws[W_STORYLINE];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)i + 1);
    bind_text(st, 2, big ? doc_title(r, big->headline_doc) : NULL);
    bind_text(st, 3, sl->first_seen);
    bind_text(st, 4, sl->last_seen);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)sl->n_events);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)sl->n_docs);
    bind_text(st, 7, record_text(&rec));
    int ok = step_done(st);
    nf_buffer_free(&rec);
    return ok;
}

/* Events and storylines are derived: replaced as a whole. */
static nf_status write_derived(nf_store *s, const nf_fold_result *cur, nf_error *err)
{
    if (!step_done(s->ws[W_DEL_EVENTS]) || !step_done(s->ws[W_DEL_STORYLINES]))
        return db_fail(err, s->w, "clearing events");
    if (!cur)
        return NF_OK;
    for (size_t i = 0; i < cur->events.n_events; i++)
        if (!write_event(s, cur, i))
            return db_fail(err, s->w, "writing an event");
    for (size_t i = 0; i < cur->events.n_storylines; i++)
        if (!write_storyline(s, cur, i))
            return db_fail(err, s->w, "writing a storyline");
    return NF_OK;
}

nf_status nf_store_apply(nf_store *s, const nf_fold_update *u, const nf_fold_result *cur, nf_error *err)
{
    for (size_t i = 0; i < u->n_added; i++)
        if (!write_assignment(s, &u->added[i], cur) || !index_text(s, u->added[i].id))
            return db_fail(err, s->w, "writing an assignment");
    for (size_t i = 0; i < u->n_changed; i++)
        if (!write_assignment(s, &u->changed[i], cur))
            return db_fail(err, s->w, "updating an assignment");
    return write_derived(s, cur, err);
}

nf_status nf_store_reapply(nf_store *s, const nf_fold_update *u, const nf_fold_result *cur, nf_error *err)
{
    for (size_t i = 0; i < u->n_added; i++)
        if (!write_assignment(s, &u->added[i], cur))
            return db_fail(err, s->w, "writing an assignment");
    return write_derived(s, cur, err);
}

/* A final result's assignment of document i (the batch of `run --db`). */
nf_status nf_store_write_result(nf_store *s, const nf_fold_result *r, nf_error *err)
{
    for (size_t i = 0; i < r->events.n_docs; i++) {
        nf_assignment a;
        nf_fold_assignment(r, i, &a);
        if (!write_assignment(s, &a, r))
            return db_fail(err, s->w, "writing an assignment");
    }
    if (sqlite3_exec(s->w, "INSERT INTO docs_fts(docs_fts) VALUES('rebuild')", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(err, s->w, "indexing the texts");
    return write_derived(s, r, err);
}

/* ------------------------------------------------------- run --db */

static int count_docs(void *ctx, int n, char **values, char **names)
{
    (void)n, (void)names;
    *(long long *)ctx = values[0] ? atoll(values[0]) : 0;
    return 0;
}

nf_status nf_store_run_open(nf_store **out, const char *path, nf_error *err)
{
    nf_store_options o = {.sync_full = 1, .readers = 1};
    nf_status st = nf_store_open(out, path, &o, err);
    if (st != NF_OK)
        return st;
    long long n = 0;
    sqlite3_exec((*out)->w, "SELECT count(*) FROM documents", count_docs, &n, NULL);
    if (n > 0) {
        nf_store_close(*out);
        *out = NULL;
        if (err) {
            err->code = NF_ERR_ARG;
            snprintf(err->message, sizeof err->message,
                     "%s already holds %lld documents: serve it (newsfold serve --db), or write a new store", path, n);
        }
        return NF_ERR_ARG;
    }
    return nf_store_begin(*out, err);
}

nf_status nf_store_run_docs(nf_store *s, const nf_doc *docs, size_t n, nf_error *err)
{
    for (size_t i = 0; i < n; i++) {
        size_t len;
        char *json = docs[i].id ? nf_store_doc_json(&docs[i], &len) : NULL;
        if (!docs[i].id)
            continue; /* the fold refuses it too */
        if (!json)
            return db_fail(err, NULL, "storing a document");
        nf_status st = nf_store_put(s, docs[i].id, json, len, err);
        free(json);
        if (st != NF_OK && st != NF_SKIPPED) /* a repeated id: the fold keeps the first too */
            return st;
    }
    return NF_OK;
}

nf_status nf_store_run_finish(nf_store *s, const nf_fold_result *r, nf_error *err)
{
    nf_status st = nf_store_write_result(s, r, err);
    if (st == NF_OK)
        st = nf_store_commit(s, err);
    if (st != NF_OK)
        nf_store_rollback(s);
    return st;
}

nf_status nf_store_each_doc(nf_store *s, nf_store_doc_fn fn, void *ctx, nf_error *err)
{
    sqlite3_stmt *st = s->ws[W_EACH];
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(st, 0);
        const char *doc = (const char *)sqlite3_column_text(st, 1);
        if (fn(ctx, id, doc, (size_t)sqlite3_column_bytes(st, 1)) != 0)
            break;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_fail(err, s->w, "reading the documents");
    return NF_OK;
}

/* ------------------------------------------------------------- reads */

static reader *acquire(nf_store *s)
{
    pthread_mutex_lock(&s->mu);
    while (s->n_free == 0)
        pthread_cond_wait(&s->cv, &s->mu);
    reader *r = &s->readers[s->free_list[--s->n_free]];
    pthread_mutex_unlock(&s->mu);
    return r;
}

static void release(nf_store *s, reader *r)
{
    pthread_mutex_lock(&s->mu);
    s->free_list[s->n_free++] = (int)(r - s->readers);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static sqlite3_stmt *stmt(reader *r, int k)
{
    if (!r->st[k] && sqlite3_prepare_v3(r->db, read_sql[k], -1, SQLITE_PREPARE_PERSISTENT, &r->st[k], NULL) != SQLITE_OK)
        return NULL;
    return r->st[k];
}

static void done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static int fail_reply(reader *r, nf_buffer *out)
{
    out->len = 0;
    nf_buffer_puts(out, "{\"error\":");
    const char *m = sqlite3_errmsg(r->db);
    svc_buf_json_string(out, m, strlen(m));
    nf_buffer_puts(out, "}");
    return 500;
}

/* Characters (code points) in s. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* q as an FTS5 phrase ("..." with quotes doubled) or a LIKE pattern. */
static char *search_term(const char *q, int *fts)
{
    nf_buffer b = {0};
    *fts = utf8_chars(q) >= 3;
    nf_buffer_puts(&b, *fts ? "\"" : "%");
    for (const char *p = q; *p; p++) {
        if (*fts && *p == '"')
            nf_buffer_puts(&b, "\"\"");
        else if (!*fts && (*p == '%' || *p == '_' || *p == '\\'))
            nf_buffer_printf(&b, "\\%c", *p);
        else
            nf_buffer_append(&b, p, 1);
    }
    nf_buffer_puts(&b, *fts ? "\"" : "%");
    if (b.oom) {
        nf_buffer_free(&b);
        return NULL;
    }
    return b.data;
}

int nf_store_events(nf_store *s, const nf_events_query *q, nf_buffer *out)
{
    int fts = 0;
    char *term = q->q && *q->q ? search_term(q->q, &fts) : NULL;
    int k = !term ? R_EVENTS : fts ? R_EVENTS_FTS : R_EVENTS_LIKE;
    char cur_seen[64] = "";
    long long cur_id = 0;
    if (q->cursor && *q->cursor) {
        const char *t = strrchr(q->cursor, '~');
        if (!t || (size_t)(t - q->cursor) >= sizeof cur_seen || sscanf(t + 1, "%lld", &cur_id) != 1) {
            free(term);
            nf_buffer_puts(out, "{\"error\":\"bad cursor\"}");
            return 400;
        }
        memcpy(cur_seen, q->cursor, (size_t)(t - q->cursor));
        cur_seen[t - q->cursor] = 0;
    }
    reader *r = acquire(s);
    sqlite3_stmt *st = stmt(r, k);
    if (!st) {
        free(term);
        int code = fail_reply(r, out);
        release(s, r);
        return code;
    }
    bind_text(st, 1, q->since);
    bind_text(st, 2, q->lang);
    if (term)
        sqlite3_bind_text(st, 3, term, -1, SQLITE_TRANSIENT);
    if (q->cursor && *q->cursor) {
        sqlite3_bind_text(st, 4, cur_seen, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 5, cur_id);
    }
    sqlite3_bind_int(st, 6, q->limit);
    nf_buffer_puts(out, "{\"events\":[");
    int n = 0, rc;
    char last[96] = "";
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        nf_buffer_puts(out, n++ ? "," : "");
        nf_buffer_append(out, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        const char *seen = (const char *)sqlite3_column_text(st, 1);
        snprintf(last, sizeof last, "%s~%lld", seen ? seen : "", (long long)sqlite3_column_int64(st, 2));
    }
    nf_buffer_puts(out, "],\"next_cursor\":");
    if (n == q->limit && n > 0)
        svc_buf_json_string(out, last, strlen(last));
    else
        nf_buffer_puts(out, "null");
    nf_buffer_puts(out, "}");
    int code = rc == SQLITE_DONE ? 200 : fail_reply(r, out);
    done(st);
    release(s, r);
    free(term);
    return code;
}

/* Answers one row of one column, 404 when there is none. */
static int one_json(nf_store *s, int k, const char *text_arg, long long int_arg, nf_buffer *out,
                    const char *what)
{
    reader *r = acquire(s);
    sqlite3_stmt *st = stmt(r, k);
    if (!st) {
        int code = fail_reply(r, out);
        release(s, r);
        return code;
    }
    if (text_arg)
        sqlite3_bind_text(st, 1, text_arg, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_int64(st, 1, int_arg);
    int rc = sqlite3_step(st), code = 200;
    if (rc == SQLITE_ROW)
        nf_buffer_append(out, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    else if (rc == SQLITE_DONE) {
        nf_buffer_printf(out, "{\"error\":\"no such %s\"}", what);
        code = 404;
    } else
        code = fail_reply(r, out);
    done(st);
    release(s, r);
    return code;
}

/* "E12" / "S3" / "12" -> 12; 0 when malformed. */
static long long parse_ref(const char *id, char letter)
{
    if (*id == letter)
        id++;
    char *end;
    long long v = strtoll(id, &end, 10);
    return *id && !*end && v > 0 ? v : 0;
}

int nf_store_event(nf_store *s, const char *id, nf_buffer *out)
{
    long long n = parse_ref(id, 'E');
    if (!n) {
        nf_buffer_puts(out, "{\"error\":\"no such event\"}");
        return 404;
    }
    return one_json(s, R_EVENT, NULL, n, out, "event");
}

int nf_store_storyline(nf_store *s, const char *id, nf_buffer *out)
{
    long long n = parse_ref(id, 'S');
    if (!n) {
        nf_buffer_puts(out, "{\"error\":\"no such storyline\"}");
        return 404;
    }
    return one_json(s, R_STORYLINE, NULL, n, out, "storyline");
}

int nf_store_document(nf_store *s, const char *id, nf_buffer *out)
{
    return one_json(s, R_DOCUMENT, id, 0, out, "document");
}

int nf_store_search(nf_store *s, const char *q, int limit, nf_buffer *out)
{
    int fts;
    char *term = search_term(q, &fts);
    if (!term)
        return 500;
    reader *r = acquire(s);
    sqlite3_stmt *st = stmt(r, fts ? R_SEARCH_FTS : R_SEARCH_LIKE);
    if (!st) {
        free(term);
        int code = fail_reply(r, out);
        release(s, r);
        return code;
    }
    sqlite3_bind_text(st, 1, term, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, limit);
    sqlite3_bind_text(st, 3, q, -1, SQLITE_TRANSIENT);
    nf_buffer_puts(out, "{\"q\":");
    svc_buf_json_string(out, q, strlen(q));
    nf_buffer_puts(out, ",\"documents\":[");
    int n = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        nf_buffer_puts(out, n++ ? "," : "");
        nf_buffer_append(out, sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    }
    nf_buffer_puts(out, "]}");
    int code = rc == SQLITE_DONE ? 200 : fail_reply(r, out);
    done(st);
    release(s, r);
    free(term);
    return code;
}

int nf_store_stats(nf_store *s, nf_buffer *out)
{
    return one_json(s, R_STATS, NULL, 0, out, "stats");
}
