/*
 * events.c - the event stage: features in, events and storylines out.
 *
 * nf_events_add extracts each document's features on worker threads
 * (evfeat.c) and appends them, in input order, to a temporary spill file
 * with the document's title; what stays in memory per document is its
 * metadata (about 60 bytes plus its id, language, source and url; the
 * title comes back when the result is made). Document frequencies of every
 * feature are counted as documents are added, so weights (sublinear tf x
 * idf) use the whole corpus;
 * a document with a time of day also gets its terms' bursts (their rate in
 * the burst_days around it over their rate in the run, counted while the
 * stream passes; see "burst" below).
 *
 * nf_events_finish then:
 *   1. joins hard links (duplicate groups, translation pairs) into
 *      components with union-find;
 *   2. gives undated documents a date: the earliest date in their
 *      component, else the date of the nearest dated document before them
 *      in input order (crawl order), else after them; when no document has
 *      a date, time plays no part;
 *   3. orders documents by (date, id) and streams them through stream.c,
 *      re-reading each one's features from the spill file: a document whose
 *      component already has an event joins it, any other is scored;
 *   4. finalizes each event when it leaves the live set: its most central
 *      report (headline), its entities (entities.c) and a profile for the
 *      storyline stage (storylines.c). Reading back and weighting features
 *      (with each document's ranked queries for the stream and the profile
 *      an event of that document alone will have: build_vec) and
 *      finalizing run on the stage's threads beside the serial stream
 *      (run_stream). An event that step 5 may absorb (every member a
 *      headline) keeps its members instead of its entities until then;
 *   5. joins headline events of different languages whose profiles agree,
 *      and of one language whose title profiles agree within half a day,
 *      and attaches small timed headline events to the larger event nearby
 *      that the headline model scores best (storylines.c), collecting the
 *      joined events' entities from all their members and, for the events
 *      left alone, those step 4 deferred (collect_pending);
 *   6. builds the result: roles (original, copy, translation, report),
 *      sources, languages, storylines.
 * Weights, thresholds and the window come from nf_events_options; their
 * defaults are tuned on data (docs/events.md). The output depends only on
 * the documents, their order and the options; never on the thread count.
 */
#include "events/events.h"
#include "links/links.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NONE UINT32_MAX
#define NO_DAY INT32_MIN
#define MAX_THREADS 64
#define LOG_TABLE 4096
#ifndef NF_IDF_PRIOR_T
#define NF_IDF_PRIOR_T 20
#define NF_IDF_PRIOR_N 200
#endif
#define PIVOT_SALT 0x70697630746f7270ULL
#define NF_UNDATED_PER_DAY 5000.0 /* the clock of a stream without dates: documents a day */

static const uint32_t vec_keep[N_CH] = {64, 512, 256, 256}; /* weighted features kept per document */
static const double idf_prior[N_CH] = {NF_IDF_PRIOR_T, NF_IDF_PRIOR_T, NF_IDF_PRIOR_N, NF_IDF_PRIOR_N};
static const uint32_t profile_keep[N_CH] = {16, 32, 32, 32}; /* per event, for storylines (each at least the
                                                                  stream's 16 queries and at most NFI_VEC_TOP:
                                                                  a streamed document ranks this many, build_vec) */
#define HEADLINE_PIVOT_KEEP 64 /* pivot profile of an event of headlines only (may_be_joined) */

enum { HAS_TITLE = 1, HAS_SOURCE = 2, HAS_URL = 4, TITLE_ONLY = 8 /* the text is the title (a headline record) */ };

typedef struct doc_meta {
    uint64_t spill_off;
    uint64_t lang_hash;
    uint32_t spill_len;
    uint32_t n_tokens;
    size_t str_off; /* id \0 lang \0 source \0 url \0 (the title is spilled: read_title) */
    int32_t day;
    int16_t minute; /* minute of the day (UTC) when the input gave a time, else -1 */
    uint8_t flags;
    char published[11];
    uint32_t runs_len;  /* the record ends with its name runs (read_runs), then its title */
    uint32_t title_len; /* (a given title is spilled whole, however long) */
} doc_meta;

struct nf_events {
    nf_events_options o;
    nfi_featctx *ctx[MAX_THREADS];
    nfi_lexicon *lex; /* for headline-only records' pivots, loaded with the first one */
    const char *dict_dir, *cache_dir, *lexicon_file; /* where lex comes from (NULL: defaults) */
    doc_meta *docs;
    size_t n, cap;
    nfi_buf strs;
    nfi_buf rec; /* one record being spilled */
    FILE *spill;
    char *spill_buf; /* spill's stdio buffer (nfi_stream_buffer; records are ~10 KB: one write(2) a record with stdio's 4 KB) */
    uint64_t spill_bytes;
    bool spill_at_end;      /* the stream stands at spill_bytes (cleared when the stage reads the spill) */
    nfi_hmap df;            /* feature -> documents (low 32 bits), documents where strong (high 32) */
    uint32_t *dedup_canon; /* per document: its duplicate group's canonical (itself when none) */
    nf_link *links;
    size_t n_links, cap_links;
    const nf_pivot **pivots;
    size_t cap_pivots;
    size_t pivot_df_upto;   /* pivots of documents below this are counted in df */
    nfi_trace_fn trace;     /* tuning: every scored candidate */
    void *trace_ctx;
    bool finished;
};

static const char *const role_names[] = {"original", "copy", "translation", "report"};

const char *nf_event_role_name(nf_event_role r)
{
    return (unsigned)r < sizeof role_names / sizeof *role_names ? role_names[r] : "unknown";
}

void nf_events_options_default(nf_events_options *o)
{
    memset(o, 0, sizeof *o);
    o->threshold = 0.38;
    o->threshold_short = 0.5;
    o->threshold_undated_short = 0.05;
    static const double headline[7] = {-1.623, 9.772, 0.729, 0.0, 0.0, -0.668, 1.148};
    memcpy(o->headline_model, headline, sizeof headline);
    o->w_title = 0.10;
    o->w_body = 0.50;
    o->w_names = 0.40;
    o->w_pivot = 0.0;
    o->w_cross_names = 1.0;
    o->w_cross_pivot = 0.3;
    o->time_weight = 0.5;
    o->time_scale = 3.0;
    o->window_days = 3;
    o->candidates = 12;
    o->storyline_days = 30;
    o->storyline_threshold = 0.115;
    o->storyline_w_names = 0.7;
    o->merge_threshold = 0.2;
    o->merge_days = 1;
    o->burst_days = 2;
    o->burst_weight = 3;
    o->max_entities = 10;
    o->threads = 1;
}

/* ------------------------------------------------------------------ dates */

static void civil_from_days(int32_t z, char out[11])
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int y = (int)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    int year = y + (m <= 2);
    if (year < 0 || year > 9999) {
        out[0] = '\0';
        return;
    }
    snprintf(out, 11, "%04d-%02u-%02u", year % 10000, (m - 1) % 12 + 1, (d - 1) % 31 + 1);
}

static int32_t parse_day(const char *s)
{
    int y, m, d;
    if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
        return NO_DAY;
    return nfi_days_from_civil(y, (unsigned)m, (unsigned)d);
}

/* The time of day of a given timestamp "YYYY-MM-DD[T ]HH:MM[:SS][.f][Z|+HH:MM|-HHMM]"
 * (ISO 8601 / RFC 3339, as feeds write it), shifted to UTC: sets *minute and
 * moves *day when the offset crosses midnight; leaves both alone when the
 * string carries no time or its date is not *day. */
static void given_time(const char *s, int32_t *day, int16_t *minute)
{
    int y, mo, d, h, mi, used = 0;
    if (sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d%n", &y, &mo, &d, &h, &mi, &used) != 5 || used < 16 || h > 23 ||
        mi > 59 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
        nfi_days_from_civil(y, (unsigned)mo, (unsigned)d) != *day)
        return;
    const char *p = s + used;
    if (*p == ':')
        for (p++; (*p >= '0' && *p <= '9') || *p == '.'; p++)
            ;
    int off = 0, oh = 0, om = 0;
    if ((*p == '+' || *p == '-') &&
        (sscanf(p + 1, "%2d:%2d", &oh, &om) == 2 || sscanf(p + 1, "%2d%2d", &oh, &om) == 2) && oh <= 14 &&
        om <= 59)
        off = (*p == '-' ? -1 : 1) * (oh * 60 + om);
    int t = h * 60 + mi - off;
    *day += t < 0 ? -1 : t >= 1440 ? 1 : 0;
    *minute = (int16_t)((t % 1440 + 1440) % 1440);
}

/* ------------------------------------------------------------- lifecycle */

nf_status nf_events_new(nf_events **out, const nf_events_options *options, nf_error *err)
{
    nf_events *ev = calloc(1, sizeof *ev);
    if (!ev)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (options)
        ev->o = *options;
    else
        nf_events_options_default(&ev->o);
    if (ev->o.threads < 1)
        ev->o.threads = 1;
    if (ev->o.threads > MAX_THREADS)
        ev->o.threads = MAX_THREADS;
    nfi_buf_init(&ev->strs);
    nfi_buf_init(&ev->rec);
    nfi_hmap_init(&ev->df);
    const char *d = ev->o.tmp_dir ? ev->o.tmp_dir : getenv("TMPDIR");
    ev->spill = nfi_temp_file(ev->o.tmp_dir, "newsfold-events");
    if (!ev->spill) {
        free(ev);
        return nfi_fail(err, NF_ERR_IO, "cannot create a temporary file in %s", d && *d ? d : "/tmp");
    }
    ev->spill_buf = nfi_stream_buffer(ev->spill);
    *out = ev;
    return NF_OK;
}

void nf_events_free(nf_events *ev)
{
    if (!ev)
        return;
    for (int t = 0; t < MAX_THREADS; t++)
        nfi_featctx_free(ev->ctx[t]);
    nfi_lexicon_free(ev->lex);
    free(ev->docs);
    nfi_buf_free(&ev->strs);
    nfi_buf_free(&ev->rec);
    if (ev->spill)
        fclose(ev->spill);
    free(ev->spill_buf);
    nfi_hmap_free(&ev->df);
    free(ev->dedup_canon);
    free(ev->links);
    free(ev->pivots);
    free(ev);
}

/* ------------------------------------------------------------------- add */

typedef struct add_ctx {
    const nf_clean_doc *docs;
    nfi_docfeat *feats;
} add_ctx;

static nf_status add_task(void *ctx, void *worker, size_t i, nf_error *err)
{
    add_ctx *c = ctx;
    return nfi_evfeat_extract(*(nfi_featctx **)worker, &c->docs[i], &c->feats[i], err);
}

static void append_str(nfi_buf *b, const char *s) { nfi_buf_append(b, s ? s : "", (s ? strlen(s) : 0) + 1); }

/* In a large corpus nearly every lookup in the document frequencies is a
 * cache miss (the slot is the key's low bits, hmap.h), so loops over a
 * document's features prefetch (nfi_hmap_prefetch) DF_AHEAD features
 * ahead. A prefetch changes nothing but timing (one into the arrays a
 * growing map is about to free is harmless). */
#define DF_AHEAD 8
#define PIVOT_AHEAD 24 /* pivot loops: about 30 instructions a feature, so further ahead */

static bool count_df(nf_events *ev, const nfi_docfeat *f)
{
    /* terms: title and body share one namespace; count each term once */
    size_t i = 0, j = 0;
    const nfi_rawfeat *t = f->f[CH_TITLE], *b = f->f[CH_BODY];
    for (size_t k = 0; k < DF_AHEAD && k < f->n[CH_BODY]; k++)
        nfi_hmap_prefetch(&ev->df, b[k].hash);
    while (i < f->n[CH_TITLE] || j < f->n[CH_BODY]) {
        uint64_t h;
        if (j + DF_AHEAD < f->n[CH_BODY])
            nfi_hmap_prefetch(&ev->df, b[j + DF_AHEAD].hash);
        if (j == f->n[CH_BODY] || (i < f->n[CH_TITLE] && t[i].hash < b[j].hash))
            h = t[i++].hash;
        else if (i == f->n[CH_TITLE] || b[j].hash < t[i].hash)
            h = b[j++].hash;
        else
            h = (i++, b[j++].hash);
        uint64_t *v = nfi_hmap_put(&ev->df, h, NULL);
        if (!v)
            return false;
        (*v)++;
    }
    for (size_t k = 0; k < DF_AHEAD && k < f->n[CH_NAMES]; k++)
        nfi_hmap_prefetch(&ev->df, f->f[CH_NAMES][k].hash);
    for (size_t k = 0; k < f->n[CH_NAMES]; k++) {
        if (k + DF_AHEAD < f->n[CH_NAMES])
            nfi_hmap_prefetch(&ev->df, f->f[CH_NAMES][k + DF_AHEAD].hash);
        uint64_t *v = nfi_hmap_put(&ev->df, f->f[CH_NAMES][k].hash, NULL);
        if (!v)
            return false;
        *v += 1 + ((f->f[CH_NAMES][k].flags & FEAT_WEAK) ? 0 : (1ULL << 32));
    }
    for (size_t k = 0; k < f->n[CH_PIVOT]; k++) { /* a headline's title pivot */
        uint64_t *v = nfi_hmap_put(&ev->df, f->f[CH_PIVOT][k].hash ^ PIVOT_SALT, NULL);
        if (!v)
            return false;
        (*v)++;
    }
    for (size_t k = 0; k < f->n_lower; k++) {
        uint64_t *v = nfi_hmap_put(&ev->df, f->lower[k] ^ NF_LOWER_SALT, NULL);
        if (!v)
            return false;
        (*v)++;
    }
    return true;
}

/* Record: u32 counts[5] (title, body, names, title pivot, runs bytes), u64
 * hashes, u32 (count << 2 | flags) per feature, the runs, the document's
 * title (doc_meta.title_len bytes). Built in ev->rec, then written at once. */
enum { REC_HDR = 5, REC_RUNS = 4 };

static bool spill_doc(nf_events *ev, const nfi_docfeat *f, const char *title, doc_meta *m)
{
    size_t title_len = title ? strlen(title) : 0;
    if (title_len > UINT32_MAX)
        return false;
    uint32_t hdr[REC_HDR] = {(uint32_t)f->n[CH_TITLE], (uint32_t)f->n[CH_BODY], (uint32_t)f->n[CH_NAMES],
                             (uint32_t)f->n[CH_PIVOT], (uint32_t)f->runs.len};
    nfi_buf *b = &ev->rec;
    size_t feats = (size_t)hdr[0] + hdr[1] + hdr[2] + hdr[3];
    b->len = 0;
    if (!nfi_buf_reserve(b, sizeof hdr + 12 * feats)) /* then written in place: no call per feature */
        return false;
    char *o = b->data;
    memcpy(o, hdr, sizeof hdr);
    o += sizeof hdr;
    for (int c = 0; c < N_CH; c++)
        for (size_t k = 0; k < f->n[c]; k++, o += 8)
            memcpy(o, &f->f[c][k].hash, 8);
    for (int c = 0; c < N_CH; c++)
        for (size_t k = 0; k < f->n[c]; k++, o += 4) {
            uint32_t cnt = f->f[c][k].count > 0x3fffffff ? 0x3fffffff : f->f[c][k].count;
            uint32_t meta = cnt << 2 | (f->f[c][k].flags & (FEAT_WEAK | FEAT_UNIGRAM));
            memcpy(o, &meta, 4);
        }
    b->len = (size_t)(o - b->data);
    nfi_buf_append(b, f->runs.data, f->runs.len);
    nfi_buf_append(b, title ? title : "", title_len);
    if (b->oom || b->len > UINT32_MAX || fwrite(b->data, 1, b->len, ev->spill) != b->len)
        return false;
    m->spill_off = ev->spill_bytes;
    m->spill_len = (uint32_t)b->len;
    m->runs_len = (uint32_t)f->runs.len;
    m->title_len = (uint32_t)title_len;
    ev->spill_bytes += b->len;
    return true;
}

/* A headline record: no text, or a text that is its title (a JSON record
 * with an empty text reads its title as the text), however long. */
static bool is_title_only(const nf_clean_doc *cd)
{
    if (cd->n_tokens == 0 || !cd->title || !cd->text)
        return cd->n_tokens == 0;
    size_t n = strlen(cd->title);
    return cd->text_len == n && memcmp(cd->text, cd->title, n) == 0;
}

/* Whether a document is a headline for hard links and joins across
 * languages: fewer than NF_SHORT_BODY_TERMS tokens of text, or a headline
 * record of fewer than NF_HEADLINE_MAX_TOKENS. */
static bool is_headline_doc(const doc_meta *m)
{
    return m->n_tokens < NF_SHORT_BODY_TERMS || ((m->flags & TITLE_ONLY) && m->n_tokens < NF_HEADLINE_MAX_TOKENS);
}

/* What the stage keeps of a cleaned document besides its features: taken
 * from an nf_clean_doc (nf_events_add) or read from the wire
 * (nfi_events_append_doc). NULL strings are absent. */
typedef struct doc_in {
    const char *id, *title, *lang, *source, *url;
    const char *published; /* YYYY-MM-DD or "" */
    const char *given;     /* the input's own publication string (a time of day), may be NULL */
    uint64_t n_tokens;
    bool title_only;
} doc_in;

/* A title the cleaner took from an untitled record's first line can be a
 * whole paragraph (a one-line record reads its 3 KB text as its title): one
 * of NF_HEADLINE_MAX_TOKENS tokens or more, which the features already read
 * as text, not title. The documents, events and report then show its lead
 * (nfi_utf8_lead) in at most TITLE_SHOWN_MAX bytes. Given titles and
 * headline-length first lines are shown whole; no feature reads this. */
#define TITLE_SHOWN_MAX 200
#define ELLIPSIS "\xe2\x80\xa6" /* U+2026 */
typedef char shown_title_buf[TITLE_SHOWN_MAX + sizeof ELLIPSIS];

static bool title_is_paragraph(const nf_clean_doc *cd, size_t title_len)
{
    if ((cd->doc.title && *cd->doc.title) || cd->n_tokens < NF_HEADLINE_MAX_TOKENS || !cd->text ||
        cd->text_len < title_len || memcmp(cd->text, cd->title, title_len) != 0)
        return false;
    const nf_token *last = &cd->tokens[NF_HEADLINE_MAX_TOKENS - 1];
    return (size_t)last->start + last->len <= title_len;
}

static const char *shown_title(const nf_clean_doc *cd, shown_title_buf shown)
{
    size_t n = cd->title ? strlen(cd->title) : 0;
    if (n <= TITLE_SHOWN_MAX || !title_is_paragraph(cd, n))
        return cd->title;
    bool cut;
    n = nfi_utf8_lead(cd->title, n, TITLE_SHOWN_MAX, &cut);
    memcpy(shown, cd->title, n);
    strcpy(shown + n, cut ? ELLIPSIS : "");
    return shown;
}

static doc_in doc_in_of(const nf_clean_doc *cd, shown_title_buf title)
{
    return (doc_in){cd->doc.id,        shown_title(cd, title), cd->lang, cd->doc.source, cd->doc.url,
                    cd->published,     cd->doc.published,      cd->n_tokens, is_title_only(cd)};
}

static nf_status append_doc(nf_events *ev, const doc_in *d, const nfi_docfeat *f, nf_error *err)
{
    doc_meta *grown = nfi_grow_array(ev->docs, &ev->cap, ev->n + 1, sizeof *grown);
    if (!grown)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    ev->docs = grown;
    doc_meta *m = &ev->docs[ev->n];
    memset(m, 0, sizeof *m);
    m->str_off = ev->strs.len;
    append_str(&ev->strs, d->id); /* (the title goes to the spill) */
    append_str(&ev->strs, d->lang);
    append_str(&ev->strs, d->source);
    append_str(&ev->strs, d->url);
    m->flags = (d->title ? HAS_TITLE : 0) | (d->source ? HAS_SOURCE : 0) | (d->url ? HAS_URL : 0) |
               (d->title_only ? TITLE_ONLY : 0);
    snprintf(m->published, sizeof m->published, "%s", d->published);
    m->day = *m->published ? parse_day(m->published) : NO_DAY;
    m->minute = -1;
    if (m->day != NO_DAY && d->given)
        given_time(d->given, &m->day, &m->minute);
    m->lang_hash = nfi_hash64(d->lang, strlen(d->lang));
    m->n_tokens = (uint32_t)(d->n_tokens > UINT32_MAX ? UINT32_MAX : d->n_tokens);
    if (ev->strs.oom || !count_df(ev, f))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (!spill_doc(ev, f, d->title, m))
        return nfi_fail(err, NF_ERR_IO, "cannot write the event feature spill file");
    ev->n++;
    return NF_OK;
}

void nfi_events_dictionaries(nf_events *ev, const char *dict_dir, const char *cache_dir, const char *lexicon_file)
{
    ev->dict_dir = dict_dir;
    ev->cache_dir = cache_dir;
    ev->lexicon_file = lexicon_file;
}

/* The workers' contexts; with the batch's first headline-only record the
 * dictionaries for title pivots are loaded (from the places
 * nfi_events_dictionaries gave, else the defaults, as the cross-lingual
 * stage's) and every context is made again with them. */
static nf_status make_contexts(nf_events *ev, int n, const nf_clean_doc *docs, size_t n_docs, nf_error *err)
{
    bool headlines = false;
    for (size_t i = 0; i < n_docs && !ev->lex && !headlines; i++)
        headlines = nfi_evfeat_is_headline_only(&docs[i]);
    if (headlines) {
        nf_status st = nfi_lexicon_load(&ev->lex, ev->dict_dir, ev->cache_dir, ev->lexicon_file, err);
        if (st != NF_OK)
            return st;
        for (int t = 0; t < MAX_THREADS; t++) {
            nfi_featctx_free(ev->ctx[t]);
            ev->ctx[t] = NULL;
        }
    }
    for (int t = 0; t < n; t++)
        if (!ev->ctx[t]) {
            nf_status st = nfi_featctx_new(&ev->ctx[t], ev->lex, err);
            if (st != NF_OK)
                return st;
        }
    return NF_OK;
}

nf_status nfi_events_features(nf_events *ev, const nf_clean_doc *docs, size_t n, nfi_docfeat *feats, nf_error *err)
{
    int threads = ev->o.threads < (int)n ? ev->o.threads : (int)n;
    nf_status st = make_contexts(ev, threads, docs, n, err);
    if (st != NF_OK)
        return st;
    add_ctx job = {docs, feats};
    return nfi_parallel_for(n, ev->ctx, sizeof *ev->ctx, threads, add_task, &job, err);
}

/* Room for n more documents, the spill's stream at its end: a snapshot may
 * have read the spill since the last append, else the stream is there
 * already (seeking flushes stdio's buffer: once, not per document). */
static nf_status check_room(nf_events *ev, size_t n, nf_error *err)
{
    if (ev->finished)
        return nfi_fail(err, NF_ERR_ARG, "nf_events_add after nf_events_finish");
    if (ev->n + n >= NONE)
        return nfi_fail(err, NF_ERR_ARG, "too many documents for one event stage");
    if (!ev->spill_at_end && fseeko(ev->spill, (off_t)ev->spill_bytes, SEEK_SET) != 0)
        return nfi_fail(err, NF_ERR_IO, "cannot seek in the event feature spill file");
    ev->spill_at_end = true;
    return NF_OK;
}

nf_status nf_events_add(nf_events *ev, const nf_clean_doc *docs, size_t n, nf_error *err)
{
    if (n == 0)
        return ev->finished ? nfi_fail(err, NF_ERR_ARG, "nf_events_add after nf_events_finish") : NF_OK;
    nf_status st = check_room(ev, n, err);
    if (st != NF_OK)
        return st;
    nfi_docfeat *feats = calloc(n, sizeof *feats);
    if (!feats)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    st = nfi_events_features(ev, docs, n, feats, err);
    for (size_t i = 0; i < n && st == NF_OK; i++) {
        shown_title_buf title;
        doc_in d = doc_in_of(&docs[i], title);
        st = append_doc(ev, &d, &feats[i], err);
    }
    for (size_t i = 0; i < n; i++)
        nfi_docfeat_free(&feats[i]);
    free(feats);
    return st;
}

/* ------------------------------------------------------------------ wire */

/* A document on the wire (run --mpi): this header, the strings (each
 * NUL-terminated, the lot padded to 8 bytes), then per channel its
 * features, the runs (padded to 8) and the lower-case keys: exactly what
 * append_doc takes, so rank 0 appends a remote document as the single
 * process appends its own. */
enum { W_TITLE = 1, W_SOURCE = 2, W_URL = 4, W_GIVEN = 8, W_TITLE_ONLY = 16 };
enum { S_ID, S_TITLE, S_LANG, S_SOURCE, S_URL, S_PUBLISHED, S_GIVEN, N_STR };
typedef struct wire_feat {
    uint64_t n_tokens;
    uint32_t flags;
    uint32_t str_len[N_STR]; /* without the NUL */
    uint32_t n[N_CH];
    uint32_t runs_len, n_lower;
} wire_feat;

static void put_wire(nfi_buf *b, const doc_in *d, const nfi_docfeat *f)
{
    const char *s[N_STR] = {d->id, d->title, d->lang, d->source, d->url, d->published, d->given};
    wire_feat w = {d->n_tokens,
                   (d->title ? W_TITLE : 0) | (d->source ? W_SOURCE : 0) | (d->url ? W_URL : 0) |
                       (d->given ? W_GIVEN : 0) | (d->title_only ? W_TITLE_ONLY : 0),
                   {0},
                   {0},
                   (uint32_t)f->runs.len,
                   (uint32_t)f->n_lower};
    size_t strings = 0;
    for (int k = 0; k < N_STR; k++)
        strings += (w.str_len[k] = s[k] ? (uint32_t)strlen(s[k]) : 0) + 1;
    for (int c = 0; c < N_CH; c++)
        w.n[c] = (uint32_t)f->n[c];
    nfi_buf_append(b, &w, sizeof w);
    for (int k = 0; k < N_STR; k++)
        nfi_buf_append(b, s[k] ? s[k] : "", w.str_len[k] + 1);
    nfi_buf_pad8(b, strings);
    for (int c = 0; c < N_CH; c++)
        nfi_buf_append(b, f->f[c], f->n[c] * sizeof *f->f[c]);
    nfi_buf_append(b, f->runs.data, f->runs.len);
    nfi_buf_pad8(b, f->runs.len);
    nfi_buf_append(b, f->lower, f->n_lower * sizeof *f->lower);
}

void nfi_events_put_doc(nfi_buf *b, const nf_clean_doc *cd, const nfi_docfeat *f)
{
    shown_title_buf title;
    doc_in d = doc_in_of(cd, title);
    put_wire(b, &d, f);
}

/* Points the strings of d into the record (each checked NUL-terminated at
 * its length); *at moves past them. */
static bool get_strings(const char *buf, size_t len, size_t *at, const wire_feat *w, doc_in *d)
{
    const char *s[N_STR];
    size_t strings = 0;
    for (int k = 0; k < N_STR; k++) {
        if (w->str_len[k] >= len - *at - strings)
            return false;
        s[k] = buf + *at + strings;
        if (memchr(s[k], '\0', w->str_len[k]) || s[k][w->str_len[k]] != '\0')
            return false;
        strings += w->str_len[k] + 1;
    }
    if (nfi_pad8(strings) > len - *at)
        return false;
    *at += nfi_pad8(strings);
    *d = (doc_in){s[S_ID], (w->flags & W_TITLE) ? s[S_TITLE] : NULL, s[S_LANG],
                  (w->flags & W_SOURCE) ? s[S_SOURCE] : NULL, (w->flags & W_URL) ? s[S_URL] : NULL,
                  s[S_PUBLISHED], (w->flags & W_GIVEN) ? s[S_GIVEN] : NULL, w->n_tokens,
                  (w->flags & W_TITLE_ONLY) != 0};
    return w->str_len[S_PUBLISHED] < 11;
}

/* Features are sorted by hash and unique in every channel (count_df and the
 * stream rely on it), lower-case keys unique. */
static bool get_features(const char *buf, size_t len, size_t *at, const wire_feat *w, nfi_docfeat *f)
{
    for (int c = 0; c < N_CH; c++) {
        size_t bytes = (size_t)w->n[c] * sizeof(nfi_rawfeat);
        if (bytes > len - *at || !(f->f[c] = malloc(bytes ? bytes : 1)))
            return false;
        memcpy(f->f[c], buf + *at, bytes);
        f->n[c] = f->cap[c] = w->n[c];
        *at += bytes;
        for (size_t k = 1; k < f->n[c]; k++)
            if (f->f[c][k - 1].hash >= f->f[c][k].hash)
                return false;
    }
    if (nfi_pad8(w->runs_len) > len - *at || !nfi_runs_valid(buf + *at, w->runs_len))
        return false;
    nfi_buf_append(&f->runs, buf + *at, w->runs_len);
    *at += nfi_pad8(w->runs_len);
    size_t lower = (size_t)w->n_lower * sizeof *f->lower;
    if (lower > len - *at || !(f->lower = malloc(lower ? lower : 1)))
        return false;
    memcpy(f->lower, buf + *at, lower);
    f->n_lower = f->cap_lower = w->n_lower;
    *at += lower;
    return !f->runs.oom;
}

nf_status nfi_events_append_doc(nf_events *ev, const char *buf, size_t len, size_t *pos, nf_error *err)
{
    nf_status st = check_room(ev, 1, err);
    if (st != NF_OK)
        return st;
    wire_feat w;
    size_t at = *pos;
    doc_in d;
    nfi_docfeat f;
    memset(&f, 0, sizeof f);
    nfi_buf_init(&f.runs);
    bool ok = at <= len && len - at >= sizeof w;
    if (ok) {
        memcpy(&w, buf + at, sizeof w);
        at += sizeof w;
        ok = get_strings(buf, len, &at, &w, &d) && get_features(buf, len, &at, &w, &f);
    }
    st = ok ? append_doc(ev, &d, &f, err) : nfi_fail(err, NF_ERR_PARSE, "MPI: malformed event features");
    nfi_docfeat_free(&f);
    if (st == NF_OK)
        *pos = at;
    return st;
}

/* ------------------------------------------------------------ hard links */

nf_status nf_events_set_dedup(nf_events *ev, const nf_dedup_result *d, nf_error *err)
{
    if (d->n_docs < ev->n)
        return nfi_fail(err, NF_ERR_ARG, "dedup result has %zu documents, the event stage %zu", d->n_docs,
                       ev->n);
    size_t skip = d->n_docs - ev->n; /* documents loaded from a dedup index come first */
    uint32_t *canon = malloc((ev->n ? ev->n : 1) * sizeof *canon);
    if (!canon)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < ev->n; i++) {
        size_t c = d->docs[skip + i].canonical;
        canon[i] = c >= skip && c < d->n_docs ? (uint32_t)(c - skip) : (uint32_t)i;
    }
    free(ev->dedup_canon);
    ev->dedup_canon = canon;
    return NF_OK;
}

nf_status nf_events_add_links(nf_events *ev, const nf_link *links, size_t n, nf_error *err)
{
    for (size_t i = 0; i < n; i++) {
        if (links[i].a >= ev->n || links[i].b >= ev->n)
            return nfi_fail(err, NF_ERR_ARG, "link %zu names a document that was not added", i);
        nf_link *grown = nfi_grow_array(ev->links, &ev->cap_links, ev->n_links + 1, sizeof *grown);
        if (!grown)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        ev->links = grown;
        ev->links[ev->n_links++] = links[i];
    }
    return NF_OK;
}

nf_status nf_events_set_pivot(nf_events *ev, size_t i, const nf_pivot *p, nf_error *err)
{
    if (i >= ev->n)
        return nfi_fail(err, NF_ERR_ARG, "pivot for document %zu, only %zu added", i, ev->n);
    if (ev->cap_pivots < ev->n) { /* documents may be added between finishes (live folds) */
        const nf_pivot **grown = realloc(ev->pivots, ev->n * sizeof *grown);
        if (!grown)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        memset(grown + ev->cap_pivots, 0, (ev->n - ev->cap_pivots) * sizeof *grown);
        ev->pivots = grown;
        ev->cap_pivots = ev->n;
    }
    ev->pivots[i] = p;
    return NF_OK;
}

/* ---------------------------------------------------------------- finish */

typedef struct fin_event {
    uint32_t headline;
    nfi_entity_tmp *ents;
    size_t n_ents;
    nfi_event_profile prof;
    uint32_t *members; /* events joined across languages: their members in stream
                          order (owned); else NULL: the stream's event */
    size_t n_members;
    uint32_t *pending; /* entities not collected yet: the members when the event left
                          the stream (owned; collect_pending), else NULL */
    size_t n_pending;
} fin_event;

/* A thread's scratch while finishing. */
typedef struct fin_scratch {
    char *rec; /* one spilled record */
    size_t rec_cap;
    nfi_docvec member; /* a member being re-read while its event is finalized */
    nfi_buf runs;      /* name runs for entity collection */
    nfi_entity_maps ent; /* entity collection's maps, reused event after event */
} fin_scratch;

/* An event that left the live set, finalized on any thread (run_stream):
 * what the stream knew of it then (its centroid, members and days), and
 * what finalizing makes of it, its entities' strings in a buffer of their
 * own until they are appended to the result's in the order events left. */
typedef struct fin_job {
    uint32_t event;
    nfi_svec centroid[N_CH]; /* taken over from the stream */
    bool single;             /* one member: set holds its centroids' profile features (nfi_stream_single_set) */
    uint32_t n_set[N_CH];
    nfi_wfeat set[N_CH][NFI_VEC_TOP];
    uint32_t *members;
    size_t n;
    int32_t first_day, last_day;
    fin_event out; /* headline, profile, entities (offsets into strings) */
    nfi_buf strings;
} fin_job;

typedef struct finish_ctx {
    nf_events *ev;
    uint32_t *comp;       /* per document: the root of its hard-link component */
    uint32_t *comp_event; /* per root: its event, or NONE */
    int32_t *day;         /* per document: the day of its time, NO_DAY when it has none */
    double *time;         /* per document: its time in the stream (days) */
    uint8_t *timed;       /* per document: NFI_TIME_* of its own or its component's time */
    uint8_t *inferred;
    uint32_t *order; /* stream order */
    uint32_t *pos;   /* per document: its position in the stream */
    uint32_t *doc_event;
    double *doc_score;
    bool dated;
    nfi_stream *stream;
    fin_event *fe;
    size_t cap_fe;
    size_t n_final; /* events of the result: the stream's, fewer once joined across languages */
    nfi_buf strings; /* the result's strings: documents', then entities' */
    fin_scratch *wk; /* per thread (wk[0]: the calling thread's) */
    int n_wk;
    fin_job *pend;   /* events that left the live set, to finalize */
    size_t n_pend, cap_pend;
    double *log_k;    /* log(k) for k < LOG_TABLE */
    nfi_hmap wdf;     /* burst: document frequencies of the documents [w_lo, w_hi) of the stream */
    size_t w_lo, w_hi, w_n;
    bool burst;       /* burst-aware weights: on, and some document has a time of day */
} finish_ctx;

/* A translation published more than storyline_days away from its original
 * is taken for a mistaken link, not a hard one (news is translated within
 * days; a link across years would weld unrelated events). Nor is a link
 * of a headline (fewer than NF_SHORT_BODY_TERMS tokens of text): a few
 * shared names and numbers do not make a translation within one broad
 * topic (og2021-dev: 3,532 of 4,982 headlines were linked, and one
 * component swallowed most of the stream); the event decision judges
 * headlines instead. */
static bool plausible_link(const nf_events *ev, const nf_link *l)
{
    const doc_meta *x = &ev->docs[l->a], *y = &ev->docs[l->b];
    if (is_headline_doc(x) || is_headline_doc(y))
        return false;
    return x->day == NO_DAY || y->day == NO_DAY || llabs((long long)x->day - y->day) <= ev->o.storyline_days;
}

static void make_components(finish_ctx *fc)
{
    nf_events *ev = fc->ev;
    for (size_t i = 0; i < ev->n; i++)
        fc->comp[i] = (uint32_t)i;
    if (ev->dedup_canon)
        for (size_t i = 0; i < ev->n; i++)
            nfi_uf_union(fc->comp, (uint32_t)i, ev->dedup_canon[i]);
    for (size_t k = 0; k < ev->n_links; k++)
        if (plausible_link(ev, &ev->links[k]))
            nfi_uf_union(fc->comp, ev->links[k].a, ev->links[k].b);
    for (size_t i = 0; i < ev->n; i++)
        fc->comp[i] = nfi_uf_find(fc->comp, (uint32_t)i);
}

/* A document's own time in days: its day plus the given time of day, or
 * noon when only the date is known. */
static double own_time(const doc_meta *m)
{
    return m->day + (m->minute >= 0 ? (m->minute + 0.5) / 1440.0 : 0.5);
}

/* Times of the stream. A dated document has its own time; an undated one
 * the earliest time of its hard-link component (a copy or translation of a
 * dated report; marked date_inferred). Any other undated document has no
 * time of its own: it takes its place in the stream after the dated
 * document before it in input order and the stream clock there as its time
 * (for the time gap and the window), but no date in the output. When no document has a date, the
 * stream is ordered by id and the clock is the position in it,
 * NF_UNDATED_PER_DAY documents a day, so the live set stays bounded on
 * undated streams too. */
static bool infer_dates(finish_ctx *fc)
{
    nf_events *ev = fc->ev;
    double *cmin = malloc((ev->n ? ev->n : 1) * sizeof *cmin); /* per root: the earliest time */
    uint8_t *clevel = malloc(ev->n ? ev->n : 1);                 /* and its NFI_TIME_* level */
    if (!cmin || !clevel) {
        free(cmin);
        free(clevel);
        return false;
    }
    for (size_t i = 0; i < ev->n; i++)
        cmin[i] = HUGE_VAL;
    fc->dated = false;
    for (size_t i = 0; i < ev->n; i++)
        if (ev->docs[i].day != NO_DAY) {
            double t = own_time(&ev->docs[i]);
            uint32_t r = fc->comp[i];
            if (t < cmin[r])
                cmin[r] = t, clevel[r] = ev->docs[i].minute >= 0 ? NFI_TIME_OF_DAY : NFI_TIME_DAY;
            fc->dated = true;
        }
    double clock = HUGE_VAL; /* the first dated time, for undated documents before it */
    for (size_t i = 0; i < ev->n && clock == HUGE_VAL; i++)
        if (ev->docs[i].day != NO_DAY)
            clock = own_time(&ev->docs[i]);
    for (size_t i = 0; i < ev->n; i++) {
        const doc_meta *m = &ev->docs[i];
        double c = cmin[fc->comp[i]];
        fc->timed[i] = m->day != NO_DAY ? (m->minute >= 0 ? NFI_TIME_OF_DAY : NFI_TIME_DAY)
                       : c != HUGE_VAL  ? clevel[fc->comp[i]]
                                        : NFI_TIME_NONE;
        fc->inferred[i] = m->day == NO_DAY && c != HUGE_VAL;
        if (m->day != NO_DAY)
            clock = fc->time[i] = own_time(m);
        else if (c != HUGE_VAL)
            fc->time[i] = c;
        else
            fc->time[i] = fc->dated ? clock : 0; /* no date anywhere: the clock is set in make_order */
        fc->day[i] = fc->timed[i] ? (int32_t)floor(fc->time[i]) : NO_DAY;
    }
    free(cmin);
    free(clevel);
    return true;
}

static const char *doc_id(const finish_ctx *fc, size_t i) { return fc->strings.data + fc->ev->docs[i].str_off; }

typedef struct order_key {
    double t;
    uint32_t doc;
    const char *id;
} order_key;

static int cmp_order(const void *a, const void *b)
{
    const order_key *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

static bool make_order(finish_ctx *fc)
{
    nf_events *ev = fc->ev;
    order_key *k = malloc((ev->n ? ev->n : 1) * sizeof *k);
    if (!k)
        return false;
    for (size_t i = 0; i < ev->n; i++)
        k[i] = (order_key){fc->time[i], (uint32_t)i, doc_id(fc, i)};
    if (ev->n)
        qsort(k, ev->n, sizeof *k, cmp_order);
    for (size_t i = 0; i < ev->n; i++) {
        fc->order[i] = k[i].doc;
        fc->pos[k[i].doc] = (uint32_t)i;
        if (!fc->dated) /* ordered by id; the position is the clock */
            fc->time[k[i].doc] = (double)i / NF_UNDATED_PER_DAY;
    }
    free(k);
    return true;
}

/* ------------------------------------------------------------ doc vectors */

/* See nfi_name_ok_fn: weak names need a strong use somewhere; a word that
 * two or more documents, and at least one in five of those naming it, write
 * in lower case is a common word ("Minister" in "Foreign Minister Cho"). */
static inline bool name_ok_in(const nfi_hmap *df, uint64_t hash, bool weak)
{
    const uint64_t *v = nfi_hmap_get(df, hash);
    if (!v || (weak && (*v >> 32) == 0))
        return false;
    const uint64_t *lower = nfi_hmap_get(df, hash ^ NF_LOWER_SALT);
    return !lower || (uint32_t)*lower < 2 || (uint32_t)*lower * 5 < (uint32_t)*v;
}

static bool name_ok(const void *ctx, uint64_t hash, bool weak)
{
    return name_ok_in(&((const nf_events *)ctx)->df, hash, weak);
}

/* log(k), for k < LOG_TABLE from the table log_k (fc->log_k; weights take
 * two logs a feature). The plain weight loops pass the table as a local. */
static inline double log_of(const double *log_k, uint32_t k)
{
    return k < LOG_TABLE ? log_k[k] : log((double)k);
}

static double log_small(const finish_ctx *fc, uint32_t k) { return log_of(fc->log_k, k); }

/* A feature's weight without burst weights, from its count c and its
 * document frequency plus one, d: (1 + log c) x (ln N - log d), which is
 * (1 + log_small(c)) x idf(). */
static inline double plain_weight(const double *log_k, double ln_n, uint32_t c, uint32_t d)
{
    return (1 + log_of(log_k, c)) * (ln_n - log_of(log_k, d));
}

double nfi_burst_weight(double idf, double ln_df_w, double ln_n_w, double weight)
{
    double rise = ln_df_w - ln_n_w + idf; /* ln(r_window / r_run): idf is ln(1 / r_run) */
    return rise > 0 ? idf + weight * rise : idf;
}

/* The idf over the run; for a document with a time of day, raised by the
 * term's burst in the window around it (nfi_burst_weight; w_ln_n holds
 * ln(N_w + prior + 1) for the two priors). */
typedef struct idf_ctx {
    double ln_n[2];   /* ln(N + prior + 1) for the term and the names prior */
    bool w_on;        /* the document being weighted gets burst weights */
    double w_ln_n[2]; /* ln(N_w + prior + 1), likewise */
} idf_ctx;

/* Inverse document frequency with a prior of `prior` extra documents that
 * lack the feature: in a small corpus, a term shared by most documents is
 * not yet evidence that it is common (five reports of one event share their
 * names); in a large one the prior vanishes. */
__attribute__((always_inline)) /* 1.5 M calls on 2,000 documents: a fifth of its cost was the call */
static inline double idf(const finish_ctx *fc, const idf_ctx *x, uint64_t hash, double prior)
{
    const uint64_t *v = nfi_hmap_get(&fc->ev->df, hash);
    uint32_t df = v ? (uint32_t)*v : 0;
    double g = x->ln_n[prior != NF_IDF_PRIOR_T] - log_small(fc, df + 1);
    if (!x->w_on)
        return g;
    const uint64_t *w = nfi_hmap_get(&fc->wdf, hash);
    return nfi_burst_weight(g, log_small(fc, (uint32_t)(w ? *w : 0) + 1), x->w_ln_n[prior != NF_IDF_PRIOR_T],
                            fc->ev->o.burst_weight);
}

/* doc's record into sc->rec: its features, and its runs when `runs` (the
 * title after them is read by read_title only). */
static bool read_record(const finish_ctx *fc, fin_scratch *sc, uint32_t doc, bool runs)
{
    const doc_meta *m = &fc->ev->docs[doc];
    size_t len = (size_t)m->spill_len - m->title_len - (runs ? 0 : m->runs_len);
    if (len > sc->rec_cap) {
        char *p = realloc(sc->rec, len);
        if (!p)
            return false;
        sc->rec = p;
        sc->rec_cap = len;
    }
    return pread(fileno(fc->ev->spill), sc->rec, len, (off_t)m->spill_off) == (ssize_t)len;
}

/* Appends the name runs of doc's record to sc->runs, reading only them (an
 * event of one member needs nothing else of its record: its vectors were
 * built when it was streamed; reading the whole record again doubled the
 * spill's reads). */
static bool read_runs(const finish_ctx *fc, fin_scratch *sc, uint32_t doc)
{
    const doc_meta *m = &fc->ev->docs[doc];
    if (!nfi_buf_reserve(&sc->runs, m->runs_len))
        return false;
    off_t at = (off_t)(m->spill_off + m->spill_len - m->title_len - m->runs_len);
    char *to = sc->runs.data + sc->runs.len;
    if (m->runs_len && pread(fileno(fc->ev->spill), to, m->runs_len, at) != (ssize_t)m->runs_len)
        return false;
    sc->runs.len += m->runs_len;
    sc->runs.data[sc->runs.len] = '\0'; /* (the buffer's invariant) */
    return true;
}

static bool push_w(nfi_svec *v, uint64_t hash, double w)
{
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 64;
        nfi_wfeat *f = realloc(v->f, cap * sizeof *f);
        if (!f)
            return false;
        v->f = f;
        v->cap = cap;
    }
    v->f[v->n++] = (nfi_wfeat){hash, (float)w};
    v->norm2 += w * w;
    return true;
}

static bool finish_vec(nfi_svec *v, int ch)
{
    nfi_svec_top(v, vec_keep[ch]);
    nfi_svec_normalize(v);
    return true;
}

/* The weights of channel ch's n features of a record (hashes and metas:
 * the record's arrays from that channel's first) into out, without burst
 * weights and with a map (df->cap > 0): build_vec's loop (name_ok's tests, then idf()) written out with
 * what it reads in locals, apart, as pivot_weights_plain is. The same
 * features, bits and order as push_w one by one; returns how many. */
__attribute__((noinline))
static uint32_t channel_weights_plain(const finish_ctx *fc, double ln_n, int ch, const char *hashes,
                                      const char *metas, uint32_t n, nfi_wfeat *out, double *norm2_out)
{
    const nfi_hmap map = fc->ev->df, *df = &map; /* (a copy: the stores through out cannot alias it) */
    if (!map.cap) /* (the caller's test: so the map's own tests of it go) */
        __builtin_unreachable();
    const double *log_k = fc->log_k;
    nfi_wfeat *q = out;
    double norm2 = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h;
        uint32_t meta;
        memcpy(&h, hashes + 8 * (size_t)i, 8);
        memcpy(&meta, metas + 4 * (size_t)i, 4);
        if (ch == CH_NAMES && (meta & FEAT_WEAK) && !name_ok_in(df, h, true))
            continue;
        if (ch == CH_NAMES && (meta & FEAT_UNIGRAM) && !name_ok_in(df, h, meta & FEAT_WEAK))
            continue;
        const uint64_t *v = nfi_hmap_get(df, h);
        uint32_t c = meta >> 2 ? meta >> 2 : 1, d = (v ? (uint32_t)*v : 0) + 1;
        double w = plain_weight(log_k, ln_n, c, d);
        if (w > 0) {
            *q++ = (nfi_wfeat){h, (float)w};
            norm2 += w * w;
        }
    }
    *norm2_out = norm2;
    return (uint32_t)(q - out);
}

/* pivot_weights without burst weights (every document but the timed ones
 * of a stream with burst weights on) and with a map (df->cap > 0), the
 * same arithmetic written out with what it reads in locals: about 700
 * features a document, and through idf() inside build_vec the loop kept
 * reloading them from the stack. The same weights, bits and order as
 * idf() gives. */
__attribute__((noinline)) /* its own registers: inlined into build_vec its values were spilled */
static uint32_t pivot_weights_plain(const finish_ctx *fc, double ln_n, const nf_pivot_feature *pf, size_t n,
                                    nfi_wfeat *out, double *norm2_out)
{
    const nfi_hmap map = fc->ev->df, *df = &map; /* (a copy: the stores through out cannot alias it) */
    if (!map.cap) /* (the caller's test: so the map's own tests of it go) */
        __builtin_unreachable();
    const double *log_k = fc->log_k;
    nfi_wfeat *q = out;
    double norm2 = 0;
    for (size_t i = 0, ahead = n > PIVOT_AHEAD ? n - PIVOT_AHEAD : 0; i < n; i++) {
        if (i < ahead)
            nfi_hmap_prefetch(df, pf[i + PIVOT_AHEAD].hash ^ PIVOT_SALT);
        const uint64_t *v = nfi_hmap_get(df, pf[i].hash ^ PIVOT_SALT);
        uint32_t c = pf[i].count ? pf[i].count : 1, d = (v ? (uint32_t)*v : 0) + 1;
        double w = plain_weight(log_k, ln_n, c, d);
        if (w > 0) {
            *q++ = (nfi_wfeat){pf[i].hash, (float)w};
            norm2 += w * w;
        }
    }
    *norm2_out = norm2;
    return (uint32_t)(q - out);
}

/* The weights of a document's pivot features into pv (empty), in hash
 * order: about 700 features a document, each a document-frequency miss,
 * so the map is prefetched PIVOT_AHEAD features ahead, and pv has room for
 * them all first (the same features and bits as push_w one by one). */
static bool pivot_weights(const finish_ctx *fc, const idf_ctx *x, const nf_pivot *p, nfi_svec *pv)
{
    const nf_pivot_feature *pf = p->features;
    size_t n = p->n_features;
    if (!nfi_svec_reserve(pv, (uint32_t)n))
        return false;
    const nfi_hmap *df = &fc->ev->df;
    for (size_t i = 0; i < PIVOT_AHEAD && i < n; i++)
        nfi_hmap_prefetch(df, pf[i].hash ^ PIVOT_SALT);
    _Static_assert(NF_IDF_PRIOR_N != NF_IDF_PRIOR_T, "idf() tells the priors apart");
    if (!x->w_on && df->cap) {
        pv->n = pivot_weights_plain(fc, x->ln_n[idf_prior[CH_PIVOT] != NF_IDF_PRIOR_T], pf, n, pv->f, &pv->norm2);
        return true;
    }
    uint32_t o = 0;
    double norm2 = 0;
    for (size_t i = 0; i < n; i++) {
        if (i + PIVOT_AHEAD < n)
            nfi_hmap_prefetch(df, pf[i + PIVOT_AHEAD].hash ^ PIVOT_SALT);
        double w = (1 + log_small(fc, pf[i].count ? pf[i].count : 1)) *
                   idf(fc, x, pf[i].hash ^ PIVOT_SALT, idf_prior[CH_PIVOT]);
        if (w > 0) {
            pv->f[o++] = (nfi_wfeat){pf[i].hash, (float)w};
            norm2 += w * w;
        }
    }
    pv->n = o;
    pv->norm2 = norm2;
    return true;
}

/* Weighted unit vectors of the record in sc->rec (and the pivot of doc).
 * burst: the document is being streamed and the burst window stands at its
 * time (run_stream's builder); finalizing events weighs members by idf. */
static bool build_vec(const finish_ctx *fc, const fin_scratch *sc, uint32_t doc, nfi_docvec *v, bool burst)
{
    const nf_events *ev = fc->ev;
    uint32_t hdr[REC_HDR];
    memcpy(hdr, sc->rec, sizeof hdr);
    const char *hashes = sc->rec + sizeof hdr;
    const char *metas = hashes + 8 * (size_t)(hdr[0] + hdr[1] + hdr[2] + hdr[3]);
    /* each term's and name's document frequency is a cache miss in the
     * corpus-wide map: prefetched together first (the slot is the key's low
     * bits, hmap.h), so that the misses overlap */
    for (size_t i = 0; ev->df.cap && i < (size_t)hdr[0] + hdr[1] + hdr[2]; i++) {
        uint64_t h;
        memcpy(&h, hashes + 8 * i, 8);
        nfi_hmap_prefetch(&ev->df, h);
        uint32_t meta;
        memcpy(&meta, metas + 4 * i, 4);
        if (i >= (size_t)hdr[0] + hdr[1] && (meta & (FEAT_UNIGRAM | FEAT_WEAK))) /* name_ok's second look-up */
            nfi_hmap_prefetch(&ev->df, h ^ NF_LOWER_SALT);
    }
    size_t k = 0;
    idf_ctx x = {{log((double)ev->n + NF_IDF_PRIOR_T + 1), log((double)ev->n + NF_IDF_PRIOR_N + 1)},
                 burst && fc->burst && fc->timed[doc] == NFI_TIME_OF_DAY, {0, 0}};
    if (x.w_on) {
        x.w_ln_n[0] = log((double)fc->w_n + NF_IDF_PRIOR_T + 1);
        x.w_ln_n[1] = log((double)fc->w_n + NF_IDF_PRIOR_N + 1);
    }
    for (int ch = 0; ch < CH_PIVOT; ch++) {
        v->ch[ch].n = 0;
        v->ch[ch].norm2 = 0;
        if (!x.w_on && ev->df.cap) {
            if (!nfi_svec_reserve(&v->ch[ch], hdr[ch]))
                return false;
            v->ch[ch].n = channel_weights_plain(fc, x.ln_n[idf_prior[ch] != NF_IDF_PRIOR_T], ch, hashes + 8 * k,
                                                metas + 4 * k, hdr[ch], v->ch[ch].f, &v->ch[ch].norm2);
            k += hdr[ch];
            finish_vec(&v->ch[ch], ch);
            continue;
        }
        for (uint32_t i = 0; i < hdr[ch]; i++, k++) {
            uint64_t h;
            uint32_t meta;
            memcpy(&h, hashes + 8 * k, 8);
            memcpy(&meta, metas + 4 * k, 4);
            if (ch == CH_NAMES && (meta & FEAT_WEAK) && !name_ok(ev, h, true))
                continue;
            if (ch == CH_NAMES && (meta & FEAT_UNIGRAM) && !name_ok(ev, h, meta & FEAT_WEAK))
                continue;
            double w = (1 + log_small(fc, meta >> 2 ? meta >> 2 : 1)) * idf(fc, &x, h, idf_prior[ch]);
            if (w > 0 && !push_w(&v->ch[ch], h, w))
                return false;
        }
        finish_vec(&v->ch[ch], ch);
    }
    nfi_svec *pv = &v->ch[CH_PIVOT];
    pv->n = 0;
    pv->norm2 = 0;
    /* a headline-only record's pivot is the one built here from its title
     * (spilled), whether or not the cross-lingual stage also read the title:
     * the same record gives the same events with and without that stage */
    const nf_pivot *p = ev->pivots && ev->docs[doc].n_tokens > 0 ? ev->pivots[doc] : NULL;
    if (p && !pivot_weights(fc, &x, p, pv))
        return false;
    uint32_t title_pivot = pv->n == 0 ? hdr[CH_PIVOT] : 0; /* else the title's pivot */
    for (uint32_t i = 0; i < title_pivot; i++) {
        uint64_t h;
        uint32_t meta;
        memcpy(&h, hashes + 8 * (k + i), 8);
        memcpy(&meta, metas + 4 * (k + i), 4);
        double w = (1 + log_small(fc, meta >> 2 ? meta >> 2 : 1)) * idf(fc, &x, h ^ PIVOT_SALT, idf_prior[CH_PIVOT]);
        if (w > 0 && !push_w(pv, h, w))
            return false;
    }
    finish_vec(pv, CH_PIVOT);
    v->title_pivot = title_pivot > 0;
    v->lang = ev->docs[doc].lang_hash;
    v->has_top = burst; /* streamed: the stream's queries, and the profile of an event of this document only */
    for (int ch = 0; burst && ch < N_CH; ch++) {
        const nfi_wfeat *f = v->ch[ch].f;
        uint32_t n = v->ch[ch].n;
        v->n_set[ch] = 0;
        if (n > profile_keep[ch] && nfi_svec_top_set(&v->ch[ch], profile_keep[ch], v->set[ch]) == profile_keep[ch]) {
            v->n_set[ch] = (uint8_t)profile_keep[ch];
            f = v->set[ch], n = profile_keep[ch]; /* (the queries are among them) */
        }
        v->n_query[ch] = (uint8_t)nfi_svec_ranked_top(f, n, NFI_VEC_QUERY, v->query[ch]);
    }
    return true;
}

/* (scan_members, which also takes the member's runs from the record) */
static bool load_vec(const finish_ctx *fc, fin_scratch *sc, uint32_t doc, nfi_docvec *v)
{
    return read_record(fc, sc, doc, true) && build_vec(fc, sc, doc, v, false);
}

/* Counts a document's pivot features into df when the map has room for
 * them all (no put can grow it): nfi_hmap_put's insertion without its
 * test for growth, on a copy of the map (the counts' stores could alias
 * its count and capacity, reloaded for every feature), written back. The
 * same slots as put by put. */
static void count_pivot_with_room(nfi_hmap *df, const nf_pivot *p)
{
    nfi_hmap m = *df;
    const nf_pivot_feature *pf = p->features;
    size_t n = p->n_features;
    for (size_t k = 0, ahead = n > PIVOT_AHEAD ? n - PIVOT_AHEAD : 0; k < n; k++) {
        if (k < ahead)
            nfi_hmap_prefetch(&m, pf[k + PIVOT_AHEAD].hash ^ PIVOT_SALT);
        (*nfi_hmap_insert_with_room(&m, pf[k].hash ^ PIVOT_SALT, NULL))++;
    }
    *df = m;
}

static bool count_pivot_df(nf_events *ev)
{
    size_t from = ev->pivot_df_upto;
    ev->pivot_df_upto = ev->n;
    for (size_t i = from; ev->pivots && i < ev->n; i++) {
        const nf_pivot *p = ev->docs[i].n_tokens > 0 ? ev->pivots[i] : NULL; /* as in build_vec */
        for (size_t k = 0; p && k < PIVOT_AHEAD && k < p->n_features; k++)
            nfi_hmap_prefetch(&ev->df, p->features[k].hash ^ PIVOT_SALT);
        if (p && (ev->df.count + p->n_features) * 2 <= ev->df.cap) { /* (nfi_hmap_put's test, for them all) */
            count_pivot_with_room(&ev->df, p);
            continue;
        }
        for (size_t k = 0; p && k < p->n_features; k++) {
            if (k + PIVOT_AHEAD < p->n_features)
                nfi_hmap_prefetch(&ev->df, p->features[k + PIVOT_AHEAD].hash ^ PIVOT_SALT);
            uint64_t *v = nfi_hmap_put(&ev->df, p->features[k].hash ^ PIVOT_SALT, NULL);
            if (!v)
                return false;
            (*v)++;
        }
    }
    return true;
}

/* --------------------------------------------------------------- finalize */

static bool reserve_fe(finish_ctx *fc, uint32_t event)
{
    if (event < fc->cap_fe)
        return true;
    size_t cap = fc->cap_fe ? fc->cap_fe : 256;
    while (cap <= event)
        cap *= 2;
    fin_event *p = realloc(fc->fe, cap * sizeof *p);
    if (!p)
        return false;
    memset(p + fc->cap_fe, 0, (cap - fc->cap_fe) * sizeof *p);
    fc->fe = p;
    fc->cap_fe = cap;
    return true;
}

/* An event's profile: the top weights of its final centroid per channel.
 * An event of headlines only keeps twice the pivot features: it is joined
 * across languages by its pivot profile after the stream, and the top 32
 * of a large event's centroid dropped words that a small piece of another
 * language shares with it (docs/events.md, "sixth round"). Another event
 * has no title profile: only the joins of events of headlines read it
 * (storylines read the body, names and pivot profiles). */
static bool make_profile(nfi_event_profile *p, const fin_job *job, bool headlines)
{
    const nfi_svec *centroid = job->centroid;
    for (int ch = 0; ch < N_CH; ch++) {
        if (ch == CH_TITLE && !headlines)
            continue; /* (left empty) */
        uint32_t keep = headlines && ch == CH_PIVOT ? HEADLINE_PIVOT_KEEP : profile_keep[ch];
        /* an event of one member: its document ranked its features when it
         * was streamed, and its centroid is a copy of that document's
         * vectors, so no selection */
        bool ranked = job->single && centroid[ch].n > keep && job->n_set[ch] == keep;
        if (ranked ? !nfi_svec_from_set(&p->ch[ch], job->set[ch], keep)
                   : !nfi_svec_top_of(&p->ch[ch], &centroid[ch], keep)) /* (not a copy of the whole centroid) */
            return false;
        nfi_svec_normalize(&p->ch[ch]);
    }
    return true;
}

/* The most central member (in the preferred language when it has one);
 * also gathers every member's name runs into sc->runs. */
static bool scan_members(const finish_ctx *fc, fin_scratch *sc, const uint32_t *m, size_t n,
                         const nfi_svec centroid[N_CH], size_t *run_offs, uint32_t *headline)
{
    const char *pref = fc->ev->o.prefer_lang;
    uint64_t pref_hash = pref ? nfi_hash64(pref, strlen(pref)) : 0;
    double best = -1;
    bool best_pref = false;
    sc->runs.len = 0;
    *headline = m[0];
    if (n == 1) { /* one member is its own headline: only its runs are needed */
        run_offs[0] = 0;
        bool ok = read_runs(fc, sc, m[0]);
        run_offs[1] = sc->runs.len;
        return ok;
    }
    for (size_t i = 0; i < n; i++) {
        run_offs[i] = sc->runs.len;
        if (!load_vec(fc, sc, m[i], &sc->member))
            return false;
        uint32_t hdr[REC_HDR];
        memcpy(hdr, sc->rec, sizeof hdr);
        size_t feats = (size_t)hdr[0] + hdr[1] + hdr[2] + hdr[3];
        nfi_buf_append(&sc->runs, sc->rec + sizeof hdr + 12 * feats, hdr[REC_RUNS]);
        bool is_pref = pref && fc->ev->docs[m[i]].lang_hash == pref_hash;
        double s = nfi_event_score(&fc->ev->o, &sc->member, centroid, true, 0);
        if ((is_pref && !best_pref) || (is_pref == best_pref && s > best)) {
            best = s;
            best_pref = is_pref;
            *headline = m[i];
        }
    }
    run_offs[n] = sc->runs.len;
    return !sc->runs.oom;
}

/* The stream's callback: the event leaving the live set becomes a job (its
 * centroid taken over, its members and days as they are now: a hard link
 * may still add a member later, which finalizing must not see). */
static nf_status take_event(void *ctx, uint32_t event, nfi_svec centroid[N_CH], nf_error *err)
{
    finish_ctx *fc = ctx;
    fin_job *p = nfi_grow_array(fc->pend, &fc->cap_pend, fc->n_pend + 1, sizeof *p);
    if (!p)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    fc->pend = p;
    p += fc->n_pend;
    memset(p, 0, sizeof *p);
    nfi_buf_init(&p->strings);
    const uint32_t *m = nfi_stream_members(fc->stream, event, &p->n);
    if (!(p->members = malloc(p->n * sizeof *m)))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    fc->n_pend++;
    memcpy(p->members, m, p->n * sizeof *m);
    p->event = event;
    p->single = p->n == 1;
    for (int ch = 0; ch < N_CH && p->single; ch++) {
        const nfi_wfeat *set = nfi_stream_single_set(fc->stream, event, ch, &p->n_set[ch]);
        if (!set)
            p->single = false;
        else
            memcpy(p->set[ch], set, p->n_set[ch] * sizeof *set);
    }
    memcpy(p->centroid, centroid, sizeof p->centroid);
    memset(centroid, 0, N_CH * sizeof *centroid);
    nfi_stream_days(fc->stream, event, &p->first_day, &p->last_day);
    return NF_OK;
}

/* Whether the joins after the stream may absorb this event into another
 * (merge_languages: joins are on and every member is a headline). Its
 * entities then wait until the joins are known (collect_pending): a joined
 * event's are collected afresh from all its members, so its parts' would
 * be thrown away (on a stream of one-line records most events join). */
static bool may_be_joined(const finish_ctx *fc, const uint32_t *m, size_t n)
{
    if (fc->ev->o.merge_threshold <= 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!is_headline_doc(&fc->ev->docs[m[i]]))
            return false;
    return true;
}

/* finalize_event of an event that may be joined: its headline (a single
 * member is its own: nothing read) and profile now, its members kept for
 * its entities. */
static nf_status finalize_joinable(const finish_ctx *fc, fin_scratch *sc, fin_job *p, nf_error *err)
{
    fin_event *fe = &p->out;
    size_t *offs = p->n > 1 ? malloc((p->n + 1) * sizeof *offs) : NULL;
    bool ok = p->n == 1 || offs;
    fe->headline = p->members[0];
    if (ok && p->n > 1)
        ok = scan_members(fc, sc, p->members, p->n, p->centroid, offs, &fe->headline);
    ok = ok && make_profile(&fe->prof, p, true);
    free(offs);
    fe->prof.first_day = p->first_day;
    fe->prof.last_day = p->last_day;
    fe->pending = p->members;
    fe->n_pending = p->n;
    p->members = NULL;
    for (int ch = 0; ch < N_CH; ch++)
        nfi_svec_free(&p->centroid[ch]);
    return ok ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory or unreadable spill file");
}

/* An event's headline, profile and entities (any thread). */
static nf_status finalize_event(const finish_ctx *fc, fin_scratch *sc, fin_job *p, nf_error *err)
{
    if (may_be_joined(fc, p->members, p->n))
        return finalize_joinable(fc, sc, p, err);
    size_t n = p->n;
    const uint32_t *m = p->members;
    size_t *offs = malloc((n + 1) * sizeof *offs);
    nfi_entity_input *in = malloc(n * sizeof *in);
    if (!offs || !in) {
        free(offs);
        free(in);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    fin_event *fe = &p->out;
    nf_status st = NF_OK;
    if (!scan_members(fc, sc, m, n, p->centroid, offs, &fe->headline) || !make_profile(&fe->prof, p, false))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory or unreadable spill file");
    for (size_t i = 0; i < n && st == NF_OK; i++)
        in[i] = (nfi_entity_input){sc->runs.data + offs[i], offs[i + 1] - offs[i], fc->comp[m[i]],
                                   fc->ev->docs[m[i]].lang_hash == fc->ev->docs[fe->headline].lang_hash};
    if (st == NF_OK)
        st = nfi_entities_collect_with(&sc->ent, in, n, name_ok, fc->ev, (size_t)fc->ev->o.max_entities,
                                      &fe->ents, &fe->n_ents, &p->strings, err);
    fe->prof.first_day = p->first_day;
    fe->prof.last_day = p->last_day;
    free(offs);
    free(in);
    for (int ch = 0; ch < N_CH; ch++) /* no longer needed: its memory may serve the next event */
        nfi_svec_free(&p->centroid[ch]);
    return st;
}

static void free_job(fin_job *p)
{
    for (int ch = 0; ch < N_CH; ch++) {
        nfi_svec_free(&p->centroid[ch]);
        nfi_svec_free(&p->out.prof.ch[ch]);
    }
    free(p->out.ents);
    free(p->out.pending);
    free(p->members);
    nfi_buf_free(&p->strings);
}

/* Moves a finalized event into fc->fe, its strings to the end of the
 * result's (jobs are committed in the order their events left, so the
 * strings lie as if each event had been finalized on the spot). */
static bool commit_job(finish_ctx *fc, fin_job *p)
{
    if (!reserve_fe(fc, p->event))
        return false;
    size_t base = fc->strings.len;
    nfi_buf_append(&fc->strings, p->strings.data, p->strings.len);
    for (size_t k = 0; k < p->out.n_ents; k++) {
        p->out.ents[k].name_off += base;
        p->out.ents[k].key_off += base;
    }
    fin_event *fe = &fc->fe[p->event];
    fe->headline = p->out.headline;
    fe->prof = p->out.prof;
    fe->ents = p->out.ents;
    fe->n_ents = p->out.n_ents;
    fe->pending = p->out.pending;
    fe->n_pending = p->out.n_pending;
    memset(&p->out, 0, sizeof p->out);
    return !fc->strings.oom;
}

/* ------------------------------------------------------------------ burst */

/* Burst-aware weights (docs/events.md): a term that the whole stream
 * shares ("Olympics", "Tokyo") has the same rate in any window and keeps
 * its idf; a name that bursts around a document ("Guinea" on the day it
 * withdraws) is weighed up by how much its rate rises there. The window is
 * burst_days wide, centred on the document's time, over stream positions
 * [w_lo, w_hi); its document frequencies are counted as in count_df (each
 * term once per document), from the spill file as documents enter and
 * leave. Only documents with a time of day get these weights: a date alone
 * (noon) or the stream clock of an undated document says too little about
 * where in a burst the document lies. */
static bool window_add(finish_ctx *fc, uint64_t h, bool add)
{
    uint64_t *v = nfi_hmap_put(&fc->wdf, h, NULL);
    if (!v)
        return false;
    *v = add ? *v + 1 : *v - 1;
    return true;
}

static bool window_count(finish_ctx *fc, fin_scratch *sc, uint32_t doc, bool add)
{
    if (!read_record(fc, sc, doc, false))
        return false;
    uint32_t hdr[REC_HDR];
    memcpy(hdr, sc->rec, sizeof hdr);
    const char *t = sc->rec + sizeof hdr, *b = t + 8 * (size_t)hdr[CH_TITLE];
    uint32_t i = 0, j = 0;
    bool ok = true;
    while (ok && (i < hdr[CH_TITLE] || j < hdr[CH_BODY])) { /* title and body: sorted, one namespace */
        uint64_t x = 0, y = 0, h;
        if (i < hdr[CH_TITLE])
            memcpy(&x, t + 8 * (size_t)i, 8);
        if (j < hdr[CH_BODY])
            memcpy(&y, b + 8 * (size_t)j, 8);
        if (j == hdr[CH_BODY] || (i < hdr[CH_TITLE] && x < y))
            h = x, i++;
        else if (i == hdr[CH_TITLE] || y < x)
            h = y, j++;
        else
            h = x, i++, j++;
        ok = window_add(fc, h, add);
    }
    const char *rest = b + 8 * (size_t)hdr[CH_BODY];
    for (uint32_t k = 0; ok && k < hdr[CH_NAMES] + hdr[CH_PIVOT]; k++) {
        uint64_t h;
        memcpy(&h, rest + 8 * (size_t)k, 8);
        ok = window_add(fc, k < hdr[CH_NAMES] ? h : h ^ PIVOT_SALT, add);
    }
    const nf_pivot *p = fc->ev->pivots && fc->ev->docs[doc].n_tokens > 0 ? fc->ev->pivots[doc] : NULL;
    for (size_t k = 0; ok && p && k < p->n_features; k++)
        ok = window_add(fc, p->features[k].hash ^ PIVOT_SALT, add);
    fc->w_n = add ? fc->w_n + 1 : fc->w_n - 1;
    return ok;
}

/* Moves the window to the stream positions within burst_days / 2 of t. */
static bool window_move(finish_ctx *fc, fin_scratch *sc, double t)
{
    double half = fc->ev->o.burst_days / 2;
    while (fc->w_hi < fc->ev->n && fc->time[fc->order[fc->w_hi]] <= t + half)
        if (!window_count(fc, sc, fc->order[fc->w_hi++], true))
            return false;
    while (fc->w_lo < fc->w_hi && fc->time[fc->order[fc->w_lo]] < t - half)
        if (!window_count(fc, sc, fc->order[fc->w_lo++], false))
            return false;
    return true;
}

/* A streamed document's vectors: burst weights need the window at its
 * time, which moves with the stream, so with them one task builds a whole
 * chunk in stream order (the others finalize events meanwhile). */
static bool load_streamed_vec(finish_ctx *fc, fin_scratch *sc, uint32_t doc, nfi_docvec *v)
{
    if (fc->burst && !window_move(fc, sc, fc->time[doc]))
        return false;
    return read_record(fc, sc, doc, false) && build_vec(fc, sc, doc, v, true);
}

static void burst_init(finish_ctx *fc)
{
    const nf_events_options *o = &fc->ev->o;
    fc->burst = false;
    for (size_t i = 0; i < fc->ev->n && o->burst_days > 0 && o->burst_weight > 0 && !fc->burst; i++)
        fc->burst = fc->timed[i] == NFI_TIME_OF_DAY;
}

/* ----------------------------------------------------------------- stream */

/* The stream is serial; reading back and weighting documents' features and
 * finalizing events are not. run_stream cuts the stream order into chunks
 * of STREAM_CHUNK documents, and each round is one parallel job: task 0
 * pushes the chunk whose vectors are ready (events leaving the live set
 * become jobs), the other tasks build the next chunk's vectors (one task
 * for the whole chunk, in stream order, when burst weights are on: their
 * window moves with the stream) and finalize the events the previous round
 * let go. The stream sees the documents in
 * the same order with the same vectors, and events are committed in the
 * order they left, so the result does not depend on the thread count. */
#define STREAM_CHUNK 256

typedef struct stream_round {
    finish_ctx *fc;
    size_t from, n_push; /* order[from, from + n_push) is pushed from push */
    const nfi_docvec *push;
    bool flush;          /* the chunk ends the stream: flush after it */
    size_t next, n_build; /* order[next, next + n_build) is built into build */
    nfi_docvec *build;
    fin_job *fin;
    size_t n_fin;
} stream_round;

static nf_status push_chunk(const stream_round *r, nf_error *err)
{
    finish_ctx *fc = r->fc;
    nf_status st = NF_OK;
    for (size_t k = 0; k < r->n_push && st == NF_OK; k++) {
        uint32_t d = fc->order[r->from + k];
        uint32_t root = fc->comp[d];
        st = nfi_stream_push(fc->stream, d, fc->time[d], fc->timed[d], &r->push[k], fc->comp_event[root],
                            &fc->doc_event[d], &fc->doc_score[d], err);
        if (fc->comp_event[root] == NONE)
            fc->comp_event[root] = fc->doc_event[d];
    }
    if (st == NF_OK && r->flush)
        st = nfi_stream_flush(fc->stream, err);
    return st;
}

/* Tasks of a round: 0 pushes; then the builders (one per document, or one
 * for the whole chunk with burst weights); then the events to finalize. */
static size_t n_builders(const stream_round *r)
{
    return r->fc->burst ? (r->n_build > 0) : r->n_build;
}

static nf_status round_task(void *ctx, void *worker, size_t i, nf_error *err)
{
    const stream_round *r = ctx;
    if (i == 0)
        return push_chunk(r, err);
    size_t builders = n_builders(r);
    if (--i < builders) {
        size_t from = r->fc->burst ? 0 : i, to = r->fc->burst ? r->n_build : i + 1;
        for (size_t k = from; k < to; k++) {
            uint32_t d = r->fc->order[r->next + k];
            if (!load_streamed_vec(r->fc, worker, d, &r->build[k]))
                return nfi_fail(err, NF_ERR_IO, "cannot read back the features of document %u", d);
        }
        return NF_OK;
    }
    return finalize_event(r->fc, worker, &r->fin[i - builders], err);
}

static void free_jobs(fin_job *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free_job(&p[i]);
    free(p);
}

static nf_status run_stream(finish_ctx *fc, nf_error *err)
{
    nf_events *ev = fc->ev;
    burst_init(fc);
    nf_status st = nfi_stream_new(&fc->stream, &ev->o, take_event, fc, err);
    if (st != NF_OK)
        return st;
    nfi_stream_set_trace(fc->stream, ev->trace, ev->trace_ctx);
    nfi_docvec *vecs = calloc(2 * STREAM_CHUNK, sizeof *vecs);
    if (!vecs)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    stream_round r = {.fc = fc};
    size_t pushed = 0, built = 0;
    int cur = 0;
    if (ev->n == 0)
        st = nfi_stream_flush(fc->stream, err);
    while (st == NF_OK && (pushed < ev->n || r.n_fin > 0)) {
        r.from = pushed;
        r.n_push = built - pushed;
        r.push = vecs + (size_t)cur * STREAM_CHUNK;
        r.flush = r.n_push > 0 && built == ev->n;
        r.next = built;
        r.n_build = ev->n - built < STREAM_CHUNK ? ev->n - built : STREAM_CHUNK;
        r.build = vecs + (size_t)(1 - cur) * STREAM_CHUNK;
        st = nfi_parallel_for(1 + n_builders(&r) + r.n_fin, fc->wk, sizeof *fc->wk, fc->n_wk, round_task, &r, err);
        for (size_t i = 0; i < r.n_fin && st == NF_OK; i++)
            if (!commit_job(fc, &r.fin[i]))
                st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        free_jobs(r.fin, r.n_fin);
        r.fin = fc->pend; /* the next round finalizes what this one let go */
        r.n_fin = fc->n_pend;
        fc->pend = NULL;
        fc->n_pend = fc->cap_pend = 0;
        pushed = built;
        built += r.n_build;
        cur = 1 - cur;
    }
    free_jobs(r.fin, r.n_fin);
    for (size_t i = 0; i < 2 * STREAM_CHUNK; i++)
        for (int ch = 0; ch < N_CH; ch++)
            nfi_svec_free(&vecs[i].ch[ch]);
    free(vecs);
    return st;
}

/* ------------------------------------------------ joined across languages */

/* Empties a scratch map about to count n keys: one grown by a large event
 * is freed rather than cleared, so that the many small events after it do
 * not each clear its whole table (the map regrows as it fills). */
static void scratch_reset(nfi_hmap *m, size_t n)
{
    if (m->cap > 64 && m->cap > 4 * n)
        nfi_hmap_free(m);
    else
        nfi_hmap_clear(m);
}

/* The most frequent language of an event's members (ties: smaller hash). */
static uint64_t main_lang(const finish_ctx *fc, const uint32_t *m, size_t n, nfi_hmap *count)
{
    scratch_reset(count, n);
    uint64_t best = 0, best_n = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t h = fc->ev->docs[m[i]].lang_hash | 1; /* key 0 is taken */
        uint64_t *c = nfi_hmap_put(count, h, NULL);
        uint64_t k = c ? ++*c : 1;
        if (k > best_n || (k == best_n && h < best))
            best = h, best_n = k;
    }
    return best;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The entities of the n members m (headline: the event's), from their
 * name runs, into *ents (offsets into strings). */
static nf_status member_entities(const finish_ctx *fc, fin_scratch *sc, const uint32_t *m, size_t n,
                                 uint32_t headline, fin_event *out, nfi_buf *strings, nf_error *err)
{
    size_t *offs = malloc((n + 1) * sizeof *offs);
    nfi_entity_input *in = malloc((n ? n : 1) * sizeof *in);
    nf_status st = offs && in ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    sc->runs.len = 0;
    for (size_t i = 0; i < n && st == NF_OK; i++) {
        offs[i] = sc->runs.len;
        if (!read_runs(fc, sc, m[i])) {
            st = nfi_fail(err, NF_ERR_IO, "cannot read back the features of document %u", m[i]);
            break;
        }
    }
    if (st == NF_OK && sc->runs.oom)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (st == NF_OK) {
        offs[n] = sc->runs.len;
        uint64_t hl = fc->ev->docs[headline].lang_hash;
        for (size_t i = 0; i < n; i++)
            in[i] = (nfi_entity_input){sc->runs.data + offs[i], offs[i + 1] - offs[i], fc->comp[m[i]],
                                       fc->ev->docs[m[i]].lang_hash == hl};
        st = nfi_entities_collect_with(&sc->ent, in, n, name_ok, fc->ev, (size_t)fc->ev->o.max_entities,
                                      &out->ents, &out->n_ents, strings, err);
    }
    free(offs);
    free(in);
    return st;
}

/* The entities of a joined event, from every member's name runs. */
static nf_status joined_entities(finish_ctx *fc, fin_event *g, nf_error *err)
{
    return member_entities(fc, &fc->wk[0], g->members, g->n_members, g->headline, g, &fc->strings, err);
}

/* One joined event from the stream events e with group[e] == gi (parts):
 * members in stream order; the headline of the largest part (in the
 * preferred language when a part's headline is); the parts' profiles
 * summed; days from the first part's first to the last part's last. */
static nf_status make_joined(finish_ctx *fc, fin_event *g, const uint32_t *parts, size_t n_parts, nf_error *err)
{
    const char *pref = fc->ev->o.prefer_lang;
    uint64_t pref_hash = pref ? nfi_hash64(pref, strlen(pref)) : 0;
    size_t total = 0, best_n = 0;
    bool best_pref = false;
    for (size_t k = 0; k < n_parts; k++) {
        size_t n;
        nfi_stream_members(fc->stream, parts[k], &n);
        total += n;
    }
    uint64_t *key = malloc(total * sizeof *key);
    g->members = malloc(total * sizeof *g->members);
    if (!key || !g->members) {
        free(key);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    g->prof.first_day = INT32_MAX;
    g->prof.last_day = INT32_MIN;
    size_t o = 0;
    for (size_t k = 0; k < n_parts; k++) {
        const fin_event *p = &fc->fe[parts[k]];
        size_t n;
        const uint32_t *m = nfi_stream_members(fc->stream, parts[k], &n);
        for (size_t i = 0; i < n; i++)
            key[o++] = (uint64_t)fc->pos[m[i]] << 32 | m[i];
        int32_t first, last;
        nfi_stream_days(fc->stream, parts[k], &first, &last);
        g->prof.first_day = first < g->prof.first_day ? first : g->prof.first_day;
        g->prof.last_day = last > g->prof.last_day ? last : g->prof.last_day;
        bool is_pref = pref && fc->ev->docs[p->headline].lang_hash == pref_hash;
        if ((is_pref && !best_pref) || (is_pref == best_pref && n > best_n)) {
            best_n = n;
            best_pref = is_pref;
            g->headline = p->headline;
        }
    }
    const nfi_svec **pv = malloc(n_parts * sizeof *pv);
    for (int ch = 0; ch < N_CH; ch++) { /* the parts' profiles summed in part order */
        for (size_t k = 0; pv && k < n_parts; k++)
            pv[k] = &fc->fe[parts[k]].prof.ch[ch];
        if (!pv || !nfi_svec_sum(&g->prof.ch[ch], pv, n_parts)) {
            free(pv);
            free(key);
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        }
    }
    free(pv);
    qsort(key, total, sizeof *key, cmp_u64);
    for (size_t i = 0; i < total; i++)
        g->members[i] = (uint32_t)key[i];
    g->n_members = total;
    free(key);
    for (int ch = 0; ch < N_CH; ch++) {
        nfi_svec_top(&g->prof.ch[ch], profile_keep[ch]);
        nfi_svec_normalize(&g->prof.ch[ch]);
    }
    return joined_entities(fc, g, err);
}

/* Replaces the stream's events by their groups (group[e], n_groups) and
 * points every document at its group. */
static nf_status regroup(finish_ctx *fc, const uint32_t *group, size_t n_groups, nf_error *err)
{
    size_t n = nfi_stream_events(fc->stream);
    fin_event *g = calloc(n_groups ? n_groups : 1, sizeof *g);
    uint32_t *start = calloc(n_groups + 1, sizeof *start), *parts = malloc((n ? n : 1) * sizeof *parts);
    nf_status st = g && start && parts ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t e = 0; st == NF_OK && e < n; e++)
        start[group[e] + 1]++;
    for (size_t k = 0; st == NF_OK && k < n_groups; k++)
        start[k + 1] += start[k];
    for (size_t e = 0; st == NF_OK && e < n; e++) /* parts in event order: start[k] moves to the end */
        parts[start[group[e]]++] = (uint32_t)e;
    for (size_t k = n_groups; st == NF_OK && k > 0; k--)
        start[k] = start[k - 1];
    if (st == NF_OK)
        start[0] = 0;
    for (size_t k = 0; st == NF_OK && k < n_groups; k++) {
        size_t np = start[k + 1] - start[k];
        const uint32_t *pk = parts + start[k];
        if (np > 1) {
            st = make_joined(fc, &g[k], pk, np, err);
            continue;
        }
        g[k] = fc->fe[pk[0]]; /* the stream's event as it was: moved */
        memset(&fc->fe[pk[0]], 0, sizeof fc->fe[pk[0]]);
        size_t nm;
        const uint32_t *m = nfi_stream_members(fc->stream, pk[0], &nm);
        if (!(g[k].members = malloc(nm * sizeof *m)))
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        else
            memcpy(g[k].members, m, nm * sizeof *m), g[k].n_members = nm;
        nfi_stream_days(fc->stream, pk[0], &g[k].prof.first_day, &g[k].prof.last_day);
    }
    for (size_t i = 0; st == NF_OK && i < fc->ev->n; i++)
        fc->doc_event[i] = group[fc->doc_event[i]];
    for (size_t e = 0; e < fc->cap_fe; e++) { /* the old events (joined parts left) */
        free(fc->fe[e].ents);
        free(fc->fe[e].members);
        free(fc->fe[e].pending);
        for (int ch = 0; ch < N_CH; ch++)
            nfi_svec_free(&fc->fe[e].prof.ch[ch]);
    }
    free(fc->fe);
    fc->fe = g;
    fc->cap_fe = g ? n_groups : 0;
    fc->n_final = n_groups;
    free(start);
    free(parts);
    return st;
}

/* Events of different languages that report one happening (a headline
 * stream splits one event per language: a single headline's words and
 * pivot are too few to reach an event of another language, while two
 * events' profiles, many reports each, share the names and numbers). */
static nf_status merge_languages(finish_ctx *fc, nf_error *err)
{
    size_t n = nfi_stream_events(fc->stream);
    fc->n_final = n;
    double threshold = fc->ev->o.merge_threshold;
    if (threshold <= 0 || n < 2)
        return NF_OK;
    nfi_merge_event *m = malloc(n * sizeof *m);
    uint32_t *group = malloc(n * sizeof *group);
    nfi_hmap count;
    nfi_hmap_init(&count);
    nf_status st = m && group ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t e = 0; st == NF_OK && e < n; e++) {
        size_t nm;
        const uint32_t *mem = nfi_stream_members(fc->stream, (uint32_t)e, &nm);
        m[e].prof = &fc->fe[e].prof;
        m[e].lang = main_lang(fc, mem, nm, &count);
        m[e].headlines = true;
        m[e].timed = true;
        m[e].n = (uint32_t)nm;
        for (size_t i = 0; i < nm && m[e].headlines; i++)
            m[e].headlines = is_headline_doc(&fc->ev->docs[mem[i]]);
        for (size_t i = 0; i < nm && m[e].timed; i++)
            m[e].timed = fc->timed[mem[i]] == NFI_TIME_OF_DAY;
        nfi_stream_times(fc->stream, (uint32_t)e, &m[e].first_t, &m[e].last_t);
    }
    size_t n_groups = n;
    if (st == NF_OK)
        st = nfi_events_merge_languages(m, n, threshold, fc->ev->o.merge_days, fc->ev->o.headline_model, group,
                                       &n_groups, err);
    if (st == NF_OK && n_groups < n)
        st = regroup(fc, group, n_groups, err);
    nfi_hmap_free(&count);
    free(m);
    free(group);
    return st;
}

#define PENDING_CHUNK 64 /* events per task of collect_pending */

typedef struct pending_run {
    finish_ctx *fc;
    const uint32_t *ev; /* the events still without entities */
    size_t n;
    nfi_buf *strings; /* per task: its events' strings, in event order */
} pending_run;

static nf_status pending_task(void *ctx, void *worker, size_t i, nf_error *err)
{
    const pending_run *r = ctx;
    size_t end = (i + 1) * PENDING_CHUNK < r->n ? (i + 1) * PENDING_CHUNK : r->n;
    nf_status st = NF_OK;
    for (size_t k = i * PENDING_CHUNK; k < end && st == NF_OK; k++) {
        fin_event *fe = &r->fc->fe[r->ev[k]];
        st = member_entities(r->fc, worker, fe->pending, fe->n_pending, fe->headline, fe, &r->strings[i], err);
    }
    return st;
}

/* The entities of the events finalize_joinable left without: those the
 * joins left alone (a joined event's came with it), from their members
 * when they left the stream, as finalize_event would have collected them;
 * on the stage's threads, each task's strings appended in event order. */
static nf_status collect_pending(finish_ctx *fc, nf_error *err)
{
    size_t n = 0;
    for (size_t e = 0; e < fc->n_final; e++)
        n += fc->fe[e].pending != NULL;
    if (n == 0)
        return NF_OK;
    size_t tasks = (n + PENDING_CHUNK - 1) / PENDING_CHUNK;
    uint32_t *ev = malloc(n * sizeof *ev);
    nfi_buf *strings = calloc(tasks, sizeof *strings);
    nf_status st = ev && strings ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t e = 0, k = 0; st == NF_OK && e < fc->n_final; e++)
        if (fc->fe[e].pending)
            ev[k++] = (uint32_t)e;
    pending_run r = {fc, ev, n, strings};
    if (st == NF_OK)
        st = nfi_parallel_for(tasks, fc->wk, sizeof *fc->wk, fc->n_wk, pending_task, &r, err);
    for (size_t t = 0; st == NF_OK && t < tasks; t++) {
        size_t base = fc->strings.len;
        nfi_buf_append(&fc->strings, strings[t].data, strings[t].len);
        size_t end = (t + 1) * PENDING_CHUNK < n ? (t + 1) * PENDING_CHUNK : n;
        for (size_t k = t * PENDING_CHUNK; k < end; k++) {
            fin_event *fe = &fc->fe[ev[k]];
            for (size_t j = 0; j < fe->n_ents; j++) {
                fe->ents[j].name_off += base;
                fe->ents[j].key_off += base;
            }
        }
        if (fc->strings.oom)
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < n && ev; k++) {
        free(fc->fe[ev[k]].pending);
        fc->fe[ev[k]].pending = NULL;
    }
    for (size_t t = 0; strings && t < tasks; t++)
        nfi_buf_free(&strings[t]);
    free(strings);
    free(ev);
    return st;
}

/* ----------------------------------------------------------------- result */

/* Document i's title, read back from the spill into an allocation of its
 * own (the result's: nf_events_result_free). Titles can be long (given
 * ones are kept whole; before shown_title, rc20m's were 21 MB): kept on
 * disk until the result is made, they are no part of the memory that the earlier stages
 * and the stream hold at their peak, and allocated one by one they reuse
 * the stream's freed memory, where one buffer of them all would be fresh
 * pages. */
static char *read_title(const finish_ctx *fc, uint32_t i)
{
    const doc_meta *m = &fc->ev->docs[i];
    char *t = malloc((size_t)m->title_len + 1);
    off_t at = (off_t)(m->spill_off + m->spill_len - m->title_len);
    if (t && m->title_len && pread(fileno(fc->ev->spill), t, m->title_len, at) != (ssize_t)m->title_len) {
        free(t);
        return NULL;
    }
    if (t)
        t[m->title_len] = '\0';
    return t;
}

static bool fill_doc(const finish_ctx *fc, nf_events_result *r, uint32_t i)
{
    const nf_events *ev = fc->ev;
    const doc_meta *m = &ev->docs[i];
    nf_event_doc *d = &r->docs[i];
    const char *s = r->strings + m->str_off;
    d->id = s;
    s += strlen(s) + 1;
    if ((m->flags & HAS_TITLE) && !(d->title = read_title(fc, i)))
        return false;
    d->lang = s;
    s += strlen(s) + 1;
    d->source = (m->flags & HAS_SOURCE) ? s : NULL;
    s += strlen(s) + 1;
    d->url = (m->flags & HAS_URL) ? s : NULL;
    memcpy(d->published, m->published, sizeof d->published);
    if (fc->day[i] != NO_DAY)
        civil_from_days(fc->day[i], d->date);
    d->date_inferred = fc->inferred[i];
    d->event = fc->doc_event[i];
    d->score = fc->doc_score[i];
    d->role = NF_ROLE_REPORT;
    d->linked_to = NONE;
    return true;
}

typedef struct adjacency { /* translation links per document (CSR) */
    uint32_t *start, *to;
} adjacency;

static bool make_adjacency(const nf_events *ev, adjacency *a)
{
    a->start = calloc(ev->n + 1, sizeof *a->start);
    a->to = malloc((2 * ev->n_links + 1) * sizeof *a->to);
    if (!a->start || !a->to)
        return false;
    for (size_t k = 0; k < ev->n_links; k++) {
        if (!plausible_link(ev, &ev->links[k]))
            continue;
        a->start[ev->links[k].a + 1]++;
        a->start[ev->links[k].b + 1]++;
    }
    for (size_t i = 0; i < ev->n; i++)
        a->start[i + 1] += a->start[i];
    uint32_t *fill = malloc((ev->n + 1) * sizeof *fill);
    if (!fill)
        return false;
    memcpy(fill, a->start, (ev->n + 1) * sizeof *fill);
    for (size_t k = 0; k < ev->n_links; k++) {
        if (!plausible_link(ev, &ev->links[k]))
            continue;
        a->to[fill[ev->links[k].a]++] = ev->links[k].b;
        a->to[fill[ev->links[k].b]++] = ev->links[k].a;
    }
    free(fill);
    return true;
}

/* The original: on the event's first day, the member whose duplicate or
 * translation component within the event is largest, preferring a
 * canonical text, then the longer, then the earlier in the stream. */
static uint32_t pick_original(const finish_ctx *fc, const uint32_t *m, size_t n, nfi_hmap *count)
{
    const nf_events *ev = fc->ev;
    scratch_reset(count, n);
    for (size_t i = 0; i < n; i++) {
        uint64_t *c = nfi_hmap_put(count, (uint64_t)fc->comp[m[i]] + 1, NULL); /* + 1: key 0 is taken */
        if (c)
            (*c)++;
    }
    uint32_t best = m[0];
    uint64_t best_key = 0;
    for (size_t i = 0; i < n && fc->day[m[i]] == fc->day[m[0]]; i++) {
        const uint64_t *c = nfi_hmap_get(count, (uint64_t)fc->comp[m[i]] + 1);
        bool canonical = !ev->dedup_canon || ev->dedup_canon[m[i]] == m[i];
        uint64_t key = (c ? *c : 1) << 33 | (uint64_t)canonical << 32 | ev->docs[m[i]].n_tokens;
        if (key > best_key) {
            best_key = key;
            best = m[i];
        }
    }
    return best;
}

static void assign_roles(const finish_ctx *fc, nf_events_result *r, uint32_t e, const adjacency *adj,
                         nfi_hmap *scratch)
{
    const nf_events *ev = fc->ev;
    const nf_event *E = &r->events[e];
    uint32_t orig = pick_original(fc, E->docs, E->n_docs, scratch);
    r->docs[orig].role = NF_ROLE_ORIGINAL;
    for (size_t i = 0; i < E->n_docs; i++) {
        uint32_t d = E->docs[i];
        if (d == orig)
            continue;
        uint32_t c = ev->dedup_canon ? ev->dedup_canon[d] : d;
        if (c != d && fc->doc_event[c] == e) {
            r->docs[d].role = NF_ROLE_COPY;
            r->docs[d].linked_to = c;
            continue;
        }
        uint32_t best = NONE;
        for (uint32_t k = adj->start[d]; k < adj->start[d + 1]; k++) {
            uint32_t t = adj->to[k];
            bool earlier = fc->pos[t] < fc->pos[d] || t == orig;
            if (fc->doc_event[t] == e && earlier && (best == NONE || fc->pos[t] < fc->pos[best]))
                best = t;
        }
        if (best != NONE) {
            r->docs[d].role = NF_ROLE_TRANSLATION;
            r->docs[d].linked_to = best;
        }
    }
}

typedef struct lang_count {
    const char *lang;
    size_t n;
} lang_count;

static int cmp_lang(const void *a, const void *b)
{
    const lang_count *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->lang, y->lang);
}

static bool event_languages(nf_events_result *r, nf_event *E, nfi_hmap *scratch)
{
    lang_count *lc = calloc(E->n_docs, sizeof *lc);
    if (!lc)
        return false;
    size_t n = 0;
    scratch_reset(scratch, E->n_docs);
    for (size_t i = 0; i < E->n_docs; i++) {
        const char *l = r->docs[E->docs[i]].lang;
        bool created;
        uint64_t *v = nfi_hmap_put(scratch, nfi_hash64(l, strlen(l)), &created);
        if (!v) {
            free(lc);
            return false;
        }
        if (created)
            *v = n, lc[n++].lang = l;
        lc[*v].n++;
    }
    qsort(lc, n, sizeof *lc, cmp_lang);
    E->languages = malloc(n * sizeof *E->languages);
    for (size_t i = 0; E->languages && i < n; i++)
        E->languages[i] = (char *)lc[i].lang;
    E->n_languages = E->languages ? n : 0;
    free(lc);
    return E->languages != NULL;
}

static uint32_t count_sources(const nf_events_result *r, const nf_event *E, nfi_hmap *scratch)
{
    scratch_reset(scratch, E->n_docs);
    uint32_t n = 0;
    for (size_t i = 0; i < E->n_docs; i++) {
        const char *s = r->docs[E->docs[i]].source;
        if (!s) {
            n++;
            continue;
        }
        bool created;
        if (nfi_hmap_put(scratch, nfi_hash64(s, strlen(s)), &created) && created)
            n++;
    }
    return n;
}

static bool fill_event(finish_ctx *fc, nf_events_result *r, uint32_t e, nfi_hmap *scratch)
{
    nf_event *E = &r->events[e];
    size_t n = fc->fe[e].n_members;
    const uint32_t *m = fc->fe[e].members;
    if (!m) {
        m = nfi_stream_members(fc->stream, e, &n);
        nfi_stream_days(fc->stream, e, &fc->fe[e].prof.first_day, &fc->fe[e].prof.last_day);
    }
    int32_t first = fc->fe[e].prof.first_day, last = fc->fe[e].prof.last_day;
    if (fc->dated) {
        civil_from_days(first, E->first_seen);
        civil_from_days(last, E->last_seen);
    }
    E->headline_doc = fc->fe[e].headline;
    E->docs = malloc(n * sizeof *E->docs);
    if (!E->docs)
        return false;
    memcpy(E->docs, m, n * sizeof *m);
    E->n_docs = n;
    E->n_sources = count_sources(r, E, scratch);
    E->entities = calloc(fc->fe[e].n_ents ? fc->fe[e].n_ents : 1, sizeof *E->entities);
    if (!E->entities)
        return false;
    for (size_t k = 0; k < fc->fe[e].n_ents; k++) {
        const nfi_entity_tmp *t = &fc->fe[e].ents[k];
        E->entities[k] =
            (nf_entity){r->strings + t->name_off, r->strings + t->key_off, t->sources, t->mentions};
    }
    E->n_entities = fc->fe[e].n_ents;
    return event_languages(r, E, scratch);
}

static nf_status build_storylines(finish_ctx *fc, nf_events_result *r, nf_error *err)
{
    size_t ne = r->n_events;
    nfi_event_profile *prof = malloc((ne ? ne : 1) * sizeof *prof);
    uint32_t *sl = malloc((ne ? ne : 1) * sizeof *sl);
    nf_status st = prof && sl ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t e = 0; e < ne && st == NF_OK; e++)
        prof[e] = fc->fe[e].prof;
    if (st == NF_OK)
        st = nfi_storylines_link(prof, ne, &fc->ev->o, sl, &r->n_storylines, err);
    if (st == NF_OK &&
        !(r->storylines = calloc(r->n_storylines ? r->n_storylines : 1, sizeof *r->storylines)))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t e = 0; e < ne && st == NF_OK; e++) {
        nf_storyline *S = &r->storylines[sl[e]];
        uint32_t *v = realloc(S->events, (S->n_events + 1) * sizeof *v);
        if (!v) {
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
            break;
        }
        S->events = v;
        S->events[S->n_events++] = (uint32_t)e;
        r->events[e].storyline = sl[e];
        S->n_docs += r->events[e].n_docs;
        if (!*S->first_seen || strcmp(r->events[e].first_seen, S->first_seen) < 0)
            memcpy(S->first_seen, r->events[e].first_seen, 11);
        if (strcmp(r->events[e].last_seen, S->last_seen) > 0)
            memcpy(S->last_seen, r->events[e].last_seen, 11);
    }
    free(prof);
    free(sl);
    return st;
}

static nf_status build_result(finish_ctx *fc, nf_events_result *r, nf_error *err)
{
    nf_events *ev = fc->ev;
    r->n_docs = ev->n;
    r->n_events = fc->n_final;
    nfi_stream_stats(fc->stream, &r->candidates_scored, &r->max_live_events);
    r->strings = nfi_buf_take(&fc->strings, NULL);
    r->docs = calloc(ev->n ? ev->n : 1, sizeof *r->docs);
    r->events = calloc(r->n_events ? r->n_events : 1, sizeof *r->events);
    if (!r->strings || !r->docs || !r->events)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (uint32_t i = 0; i < ev->n; i++)
        if (!fill_doc(fc, r, i))
            return nfi_fail(err, NF_ERR_IO, "cannot read back the title of document %u", i);
    nfi_hmap scratch;
    nfi_hmap_init(&scratch);
    adjacency adj = {0};
    bool ok = make_adjacency(ev, &adj);
    for (uint32_t e = 0; ok && e < r->n_events; e++) {
        ok = fill_event(fc, r, e, &scratch);
        if (ok)
            assign_roles(fc, r, e, &adj, &scratch);
    }
    free(adj.start);
    free(adj.to);
    nfi_hmap_free(&scratch);
    if (!ok)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return build_storylines(fc, r, err);
}

/* ----------------------------------------------------------------- finish */

static void free_finish(finish_ctx *fc)
{
    free(fc->comp);
    free(fc->comp_event);
    free(fc->day);
    free(fc->time);
    free(fc->timed);
    free(fc->inferred);
    free(fc->order);
    free(fc->pos);
    free(fc->doc_event);
    free(fc->doc_score);
    free(fc->log_k);
    nfi_hmap_free(&fc->wdf);
    nfi_stream_free(fc->stream);
    for (size_t e = 0; e < fc->cap_fe; e++) {
        free(fc->fe[e].ents);
        free(fc->fe[e].members);
        free(fc->fe[e].pending);
        for (int ch = 0; ch < N_CH; ch++)
            nfi_svec_free(&fc->fe[e].prof.ch[ch]);
    }
    free(fc->fe);
    nfi_buf_free(&fc->strings);
    for (int t = 0; fc->wk && t < fc->n_wk; t++) {
        free(fc->wk[t].rec);
        for (int ch = 0; ch < N_CH; ch++)
            nfi_svec_free(&fc->wk[t].member.ch[ch]);
        nfi_buf_free(&fc->wk[t].runs);
        nfi_entity_maps_free(&fc->wk[t].ent);
    }
    free(fc->wk);
    free_jobs(fc->pend, fc->n_pend);
}

/* keep_strings: copy the documents' strings into the result (a later
 * re-clustering needs them) instead of handing them over. */
static bool alloc_finish(finish_ctx *fc, nf_events *ev, bool keep_strings)
{
    size_t n = ev->n ? ev->n : 1;
    memset(fc, 0, sizeof *fc);
    fc->ev = ev;
    fc->comp = malloc(n * sizeof *fc->comp);
    fc->comp_event = malloc(n * sizeof *fc->comp_event);
    fc->day = malloc(n * sizeof *fc->day);
    fc->time = malloc(n * sizeof *fc->time);
    fc->timed = malloc(n);
    fc->inferred = calloc(n, 1);
    fc->order = malloc(n * sizeof *fc->order);
    fc->pos = malloc(n * sizeof *fc->pos);
    fc->doc_event = malloc(n * sizeof *fc->doc_event);
    fc->doc_score = calloc(n, sizeof *fc->doc_score);
    fc->log_k = malloc(LOG_TABLE * sizeof *fc->log_k);
    fc->n_wk = ev->o.threads > 1 ? ev->o.threads : 1;
    fc->wk = calloc((size_t)fc->n_wk, sizeof *fc->wk);
    for (int t = 0; fc->wk && t < fc->n_wk; t++)
        nfi_buf_init(&fc->wk[t].runs);
    for (int k = 1; fc->log_k && k < LOG_TABLE; k++)
        fc->log_k[k] = log((double)k);
    if (fc->log_k)
        fc->log_k[0] = 0;
    nfi_buf_init(&fc->strings);
    nfi_hmap_init(&fc->wdf);
    if (keep_strings) {
        nfi_buf_append(&fc->strings, ev->strs.data ? ev->strs.data : "", ev->strs.len);
    } else {
        fc->strings = ev->strs;
        nfi_buf_init(&ev->strs);
    }
    if (!fc->comp || !fc->comp_event || !fc->day || !fc->time || !fc->timed || !fc->inferred || !fc->order || !fc->pos ||
        !fc->doc_event || !fc->doc_score || !fc->log_k || !fc->wk || fc->strings.oom)
        return false;
    for (size_t i = 0; i < ev->n; i++)
        fc->comp_event[i] = NONE;
    return true;
}

static nf_status cluster(nf_events *ev, const nf_events_options *o, bool keep_strings, nf_events_result *out,
                         nf_error *err);

nf_status nf_events_finish(nf_events *ev, nf_events_result *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    if (ev->finished)
        return nfi_fail(err, NF_ERR_ARG, "nf_events_finish called twice");
    nf_events_options o = ev->o;
    return cluster(ev, &o, false, out, err); /* the strings move into the result */
}

nf_status nfi_events_snapshot(nf_events *ev, nf_events_result *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    nf_events_options o = ev->o;
    nf_status st = cluster(ev, &o, true, out, err);
    ev->finished = false; /* more documents may come */
    return st;
}

void nfi_events_clear_links(nf_events *ev) { ev->n_links = 0; }

void nfi_events_set_trace(nf_events *ev, nfi_trace_fn fn, void *ctx)
{
    ev->trace = fn;
    ev->trace_ctx = ctx;
}

nf_status nfi_events_recluster(nf_events *ev, const nf_events_options *o, nf_events_result *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    if (ev->n && !ev->strs.data)
        return nfi_fail(err, NF_ERR_ARG, "nfi_events_recluster after nf_events_finish");
    return cluster(ev, o, true, out, err);
}

static nf_status cluster(nf_events *ev, const nf_events_options *o, bool keep_strings, nf_events_result *out,
                         nf_error *err)
{
    int threads = ev->o.threads;
    const char *tmp = ev->o.tmp_dir;
    ev->o = *o;
    ev->o.threads = threads;
    ev->o.tmp_dir = tmp;
    ev->finished = true;
    ev->spill_at_end = false;
    if (fflush(ev->spill) != 0)
        return nfi_fail(err, NF_ERR_IO, "cannot write the event feature spill file");
    finish_ctx fc;
    nf_status st = NF_OK;
    if (!alloc_finish(&fc, ev, keep_strings))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (st == NF_OK) {
        make_components(&fc);
        if (!infer_dates(&fc) || !count_pivot_df(ev) || !make_order(&fc))
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    if (st == NF_OK)
        st = run_stream(&fc, err);
    if (st == NF_OK)
        st = merge_languages(&fc, err);
    if (st == NF_OK)
        st = collect_pending(&fc, err);
    if (st == NF_OK)
        st = build_result(&fc, out, err);
    free_finish(&fc);
    if (st != NF_OK)
        nf_events_result_free(out);
    return st;
}

void nf_events_result_free(nf_events_result *r)
{
    for (size_t e = 0; r->events && e < r->n_events; e++) {
        free(r->events[e].docs);
        free(r->events[e].languages);
        free(r->events[e].entities);
    }
    for (size_t s = 0; r->storylines && s < r->n_storylines; s++)
        free(r->storylines[s].events);
    for (size_t i = 0; r->docs && i < r->n_docs; i++)
        free((char *)r->docs[i].title); /* its own allocation (read_title) */
    free(r->events);
    free(r->storylines);
    free(r->docs);
    free(r->strings);
    memset(r, 0, sizeof *r);
}
