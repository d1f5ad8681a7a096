/*
 * clean.c - the clean + normalize stage: raw nf_doc in, nf_clean_doc out.
 *
 * Per document: boilerplate lines are classified and dropped (each drop
 * recorded), the title is taken or derived, the language is taken from the
 * input or detected, the publication date is taken from the input or found
 * in the raw text (before cleaning, since a "Written: ..." line is itself
 * dropped as metadata), and the cleaned text is tokenized and stemmed.
 * Each stage computes only what its caller needs: options.lang = 0 skips
 * language identification (no identifier is even loaded, and tokens then
 * ignore a given language too), options.dates = 0
 * the search for a date in the text and URL, options.stem = 0 stemming,
 * options.token_count_only = 1 everything about tokens but their number,
 * options.token_hashes = 1 everything but the unit hashes and the hash of
 * the normalized text, what duplicate detection reads (the cleaned text
 * itself is then assembled in the worker's buffer and not kept: only its
 * length is).
 *
 * Batches: nf_clean_learn computes, single-threaded, the set of lines
 * repeated across documents of the same source within the batch (site
 * template) and keeps it in the cleaner; nf_clean_slice then cleans any run
 * of that batch (nf_clean_batch: all of it) on `threads` workers that pull
 * indices from a shared counter. A document's cleaning reads only itself
 * and the template, so any cut into slices gives the same documents. Every worker writes only its own out[i], and
 * nothing depends on which worker took which document, so the output is
 * byte-identical for any thread count. Each worker owns its language
 * identifier and normalizer (neither is thread-safe), created once with the
 * cleaner.
 */
#include "text/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define TEMPLATE_MIN_DOCS 3
#define TEMPLATE_MAX_LINE_BYTES 200

typedef struct worker {
    nf_langid *langid;
    nfi_normalizer *normalizer;
    nfi_buf text;       /* token_hashes: the cleaned text of the document at hand */
    nfi_buf norms;      /* token_hashes: its normalized text */
    nfi_unit_vec units; /* token_hashes: its units, copied out at their size */
} worker;

struct nf_cleaner {
    nf_clean_options options;
    worker *workers;
    int n_workers;
    nfi_template_set templates; /* the last batch nf_clean_learn read */
};

void nf_clean_options_default(nf_clean_options *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->stem = 1;
    o->dates = 1;
    o->lang = 1;
}

nf_status nf_cleaner_new(nf_cleaner **out, const nf_clean_options *options, nf_error *err)
{
    *out = NULL;
    nf_cleaner *c = calloc(1, sizeof *c);
    if (!c)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (options)
        c->options = *options;
    else
        nf_clean_options_default(&c->options);
    c->n_workers = c->options.threads > 0 ? c->options.threads : 1;
    c->workers = calloc((size_t)c->n_workers, sizeof *c->workers);
    if (!c->workers) {
        free(c);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < c->n_workers; i++) {
        nf_status st = c->options.lang ? nf_langid_new(&c->workers[i].langid, err) : NF_OK;
        if (st == NF_OK)
            st = nfi_normalizer_new(&c->workers[i].normalizer, err);
        if (st != NF_OK) {
            nf_cleaner_free(c);
            return st;
        }
    }
    *out = c;
    return NF_OK;
}

void nf_cleaner_free(nf_cleaner *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n_workers; i++) {
        nf_langid_free(c->workers[i].langid);
        nfi_normalizer_free(c->workers[i].normalizer);
        nfi_buf_free(&c->workers[i].text);
        nfi_buf_free(&c->workers[i].norms);
        free(c->workers[i].units.items);
    }
    free(c->templates.hashes);
    free(c->workers);
    free(c);
}

void nf_clean_doc_free(nf_clean_doc *cd)
{
    if (!cd)
        return;
    nf_doc_free(&cd->doc);
    free(cd->title);
    free(cd->text);
    for (size_t i = 0; i < cd->n_removed; i++)
        free(cd->removed[i].text);
    free(cd->removed);
    free(cd->tokens);
    free(cd->pool);
    free(cd->units);
    memset(cd, 0, sizeof *cd);
}

/* ------------------------------------------------------------ templates */

/* Source grouping for template lines: the given source, else the folder. */
static uint64_t group_hash_of(const nf_doc *d)
{
    if (d->source)
        return nfi_hash64(d->source, strlen(d->source));
    const char *origin = d->origin ? d->origin : "";
    const char *slash = strrchr(origin, '/');
    return nfi_hash64(origin, slash ? (size_t)(slash - origin) : 0);
}

typedef struct key_doc {
    uint64_t key, doc;
} key_doc;

static int cmp_key_doc(const void *a, const void *b)
{
    const key_doc *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->doc > y->doc) - (x->doc < y->doc);
}

static nf_status build_templates(const nf_doc *docs, size_t n, nfi_template_set *set, nf_error *err)
{
    memset(set, 0, sizeof *set);
    size_t len = 0, cap = 0;
    key_doc *pairs = NULL;
    for (size_t d = 0; d < n; d++) {
        nfi_line *lines;
        size_t n_lines;
        nf_status st = nfi_split_lines(docs[d].text, docs[d].text_len, &lines, &n_lines, err);
        if (st != NF_OK) {
            free(pairs);
            return st;
        }
        uint64_t group = group_hash_of(&docs[d]);
        uint64_t doc_hash = nfi_hash64(docs[d].text, docs[d].text_len);
        for (size_t i = 0; i < n_lines; i++) {
            if (lines[i].len > TEMPLATE_MAX_LINE_BYTES)
                continue;
            if (len == cap) {
                cap = cap ? cap * 2 : 1024;
                key_doc *p = realloc(pairs, cap * sizeof *p);
                if (!p) {
                    free(lines);
                    free(pairs);
                    return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
                }
                pairs = p;
            }
            pairs[len++] = (key_doc){nfi_template_key(group, docs[d].text + lines[i].start, lines[i].len), doc_hash};
        }
        free(lines);
    }
    if (len)
        qsort(pairs, len, sizeof *pairs, cmp_key_doc);
    set->hashes = malloc((len ? len : 1) * sizeof *set->hashes);
    if (!set->hashes) {
        free(pairs);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < len;) {
        size_t j = i, distinct = 0;
        for (; j < len && pairs[j].key == pairs[i].key; j++)
            distinct += j == i || pairs[j].doc != pairs[j - 1].doc;
        if (distinct >= TEMPLATE_MIN_DOCS)
            set->hashes[set->len++] = pairs[i].key;
        i = j;
    }
    free(pairs);
    return NF_OK;
}

/* ------------------------------------------------------------ one doc */

static void normalize_lang_code(const char *given, char out[12])
{
    size_t n = 0;
    while (given[n] && given[n] != '-' && given[n] != '_' && n < 11) {
        out[n] = (char)nfi_lower_ascii((unsigned char)given[n]);
        n++;
    }
    out[n] = '\0';
}

/* The kept lines into text (empty on entry; sized for the whole raw text,
 * so it grows at most once), the title and the removed lines into cd. */
static nf_status assemble(nf_clean_doc *cd, const nfi_boilerplate_result *br, nfi_buf *text, nf_error *err)
{
    const char *raw = cd->doc.text;
    if (!nfi_buf_reserve(text, cd->doc.text_len + 1))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    text->data[text->len] = '\0';
    size_t n_removed = 0;
    for (size_t i = 0; i < br->n_lines; i++)
        n_removed += br->lines[i].reason != NULL;
    cd->removed = calloc(n_removed ? n_removed : 1, sizeof *cd->removed);
    bool pending_break = false;
    for (size_t i = 0; i < br->n_lines; i++) {
        const nfi_line *l = &br->lines[i];
        if (l->reason) {
            nf_removed_line *r = &cd->removed[cd->n_removed++];
            r->line = l->number;
            r->reason = l->reason;
            r->text = nfi_strndup(raw + l->start, l->len);
            pending_break = true;
            continue;
        }
        if (i == br->title_line) {
            cd->title = nfi_strndup(raw + l->start, l->len);
            if (!br->title_in_text)
                continue;
        }
        if (text->len)
            nfi_buf_puts(text, pending_break || l->blank_before ? "\n\n" : "\n");
        nfi_buf_append(text, raw + l->start, l->len);
        pending_break = false;
    }
    if (text->oom || !cd->removed || (br->title_line != SIZE_MAX && !cd->title))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < cd->n_removed; i++)
        if (!cd->removed[i].text)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return NF_OK;
}

/* lang given (and detection not forced), or detected, or without a language
 * identifier (options.lang = 0) "und" when not given. */
static void decide_lang(nf_clean_doc *cd, const char *text, worker *w, bool force_detect)
{
    if (cd->doc.lang && (!force_detect || !w->langid)) {
        normalize_lang_code(cd->doc.lang, cd->lang);
        cd->lang_confidence = 1.0;
        return;
    }
    if (!w->langid) {
        snprintf(cd->lang, sizeof cd->lang, "und");
        cd->lang_confidence = 0.0;
        return;
    }
    const char *sample = text;
    size_t len = cd->text_len;
    if (len < 40 && cd->title) { /* tiny bodies: let the title help */
        sample = cd->title;
        len = strlen(cd->title);
    }
    const char *code = nf_langid_detect(w->langid, sample, len, &cd->lang_confidence);
    snprintf(cd->lang, sizeof cd->lang, "%s", code);
    cd->lang_detected = 1;
}

/* The given date, else (when find is set) one found in the text or URL. */
static void decide_date(nf_clean_doc *cd, bool find)
{
    cd->published[0] = '\0';
    if (cd->doc.published && nf_parse_date(cd->doc.published, cd->published))
        return;
    if (!find)
        return;
    char from_url[11];
    int url_year = 0;
    bool url_has_date = nf_date_from_url(cd->doc.url, from_url, &url_year);
    if (!nf_find_date(cd->doc.text, cd->doc.text_len, url_year, cd->published) && url_has_date)
        memcpy(cd->published, from_url, sizeof from_url);
}

/* options.token_hashes: units and the hash of the normalized text instead
 * of tokens. Both are made in the worker's buffers, which stay warm from
 * one document to the next; the document keeps a copy of the units at
 * their size (a batch holds thousands of documents at once). */
static nf_status hash_tokens(worker *w, nf_clean_doc *cd, const char *text, const char *token_lang, nf_error *err)
{
    w->norms.len = 0;
    w->units.len = 0;
    if (!nfi_buf_reserve(&w->norms, cd->text_len + cd->text_len / 4 + 16) ||
        !(w->units.items = nfi_grow_array(w->units.items, &w->units.cap, cd->text_len / 5 + 16, sizeof(uint64_t))))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nf_status st = nfi_tokenize_units(w->normalizer, text, cd->text_len, token_lang, &w->units, &w->norms,
                                      &cd->n_tokens, err);
    if (st != NF_OK)
        return st;
    XXH128_hash_t h = XXH3_128bits(w->norms.data, w->norms.len);
    cd->norms_hash[0] = h.low64;
    cd->norms_hash[1] = h.high64;
    cd->n_units = w->units.len;
    if (!(cd->units = malloc((cd->n_units ? cd->n_units : 1) * sizeof *cd->units)))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    memcpy(cd->units, w->units.items, cd->n_units * sizeof *cd->units);
    return NF_OK;
}

static nf_status clean_one(const nf_cleaner *c, worker *w, const nfi_template_set *templates, nf_clean_doc *cd,
                           nf_error *err)
{
    nfi_boilerplate_result br;
    nf_status st = nfi_boilerplate_classify(cd->doc.text, cd->doc.text_len, cd->doc.title, templates,
                                           group_hash_of(&cd->doc), &br, err);
    if (st != NF_OK)
        return st;
    if (c->options.keep_boilerplate)
        for (size_t i = 0; i < br.n_lines; i++)
            br.lines[i].reason = NULL;
    /* hash mode keeps no text: it is assembled in the worker's buffer */
    bool keep_text = !c->options.token_hashes;
    nfi_buf own;
    nfi_buf_init(&own);
    nfi_buf *text = keep_text ? &own : &w->text;
    text->len = 0;
    st = assemble(cd, &br, text, err);
    nfi_boilerplate_result_free(&br);
    cd->text_len = text->len;
    if (keep_text)
        cd->text = nfi_buf_take(&own, NULL);
    if (st != NF_OK)
        return st;
    const char *body = keep_text ? cd->text : w->text.data;
    if (!cd->title && cd->doc.title && !(cd->title = nfi_strdup(cd->doc.title)))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    decide_lang(cd, body, w, c->options.detect_lang);
    decide_date(cd, c->options.dates);
    /* Without language identification (dedup) tokens follow the text alone:
     * a given language must not change them (an English apostrophe rule would
     * make a labelled and an unlabelled copy of one text differ). */
    const char *token_lang = c->options.lang ? cd->lang : "und";
    if (c->options.token_count_only)
        return nfi_count_tokens(w->normalizer, cd->text, cd->text_len, token_lang, &cd->n_tokens, err);
    if (c->options.token_hashes)
        return hash_tokens(w, cd, body, token_lang, err);
    /* sized for the usual text (about a token per 6 bytes, norms no longer
     * than the words) so that they rarely grow while tokenizing */
    nfi_token_vec tokens = {malloc((cd->text_len / 5 + 16) * sizeof(nf_token)), 0, cd->text_len / 5 + 16};
    if (!tokens.items)
        tokens.cap = 0;
    nfi_buf pool;
    nfi_buf_init(&pool);
    nfi_buf_reserve(&pool, cd->text_len + cd->text_len / 4 + 16);
    st = nfi_tokenize(w->normalizer, cd->text, cd->text_len, token_lang, c->options.stem, &tokens, &pool, err);
    /* then cut to their size: a batch's documents all wait for the next
     * stage, and the slack (about a quarter of the tokens' room and a third
     * of the pool's) would be fresh pages the kernel zeroes; the cut is
     * given back in place and the next document's allocations reuse it */
    if (tokens.len < tokens.cap) {
        nf_token *fit = realloc(tokens.items, (tokens.len ? tokens.len : 1) * sizeof *fit);
        if (fit)
            tokens.items = fit, tokens.cap = tokens.len;
    }
    if (!pool.oom && pool.data && pool.len + 1 < pool.cap) {
        char *fit = realloc(pool.data, pool.len + 1);
        if (fit)
            pool.data = fit, pool.cap = pool.len + 1;
    }
    cd->tokens = tokens.items;
    cd->n_tokens = tokens.len;
    cd->pool = nfi_buf_take(&pool, &cd->pool_len);
    if (st == NF_OK && !cd->pool)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return st;
}

/* ------------------------------------------------------------ batches */

typedef struct batch_ctx {
    const nf_cleaner *cleaner;
    const nfi_template_set *templates;
    nf_clean_doc *out;
} batch_ctx;

static nf_status clean_task(void *ctx, void *w, size_t i, nf_error *err)
{
    batch_ctx *b = ctx;
    return clean_one(b->cleaner, w, b->templates, &b->out[i], err);
}

nf_status nf_clean_learn(nf_cleaner *c, const nf_doc *docs, size_t n, nf_error *err)
{
    free(c->templates.hashes);
    return build_templates(docs, n, &c->templates, err);
}

nf_status nf_clean_slice(nf_cleaner *c, nf_doc *docs, size_t n, nf_clean_doc *out, nf_error *err)
{
    memset(out, 0, n * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        out[i].doc = docs[i];
        memset(&docs[i], 0, sizeof docs[i]);
    }
    batch_ctx ctx = {c, &c->templates, out};
    return nfi_parallel_for(n, c->workers, sizeof *c->workers, c->n_workers, clean_task, &ctx, err);
}

nf_status nf_clean_each_slice(nf_cleaner *c, nf_doc *docs, size_t n, nf_clean_doc *out, nf_clean_slice_fn fn,
                              void *ctx, nf_error *err)
{
    nf_status st = nf_clean_learn(c, docs, n, err);
    for (size_t at = 0; at < n && st == NF_OK; at += NF_CLEAN_SLICE) {
        size_t m = n - at < NF_CLEAN_SLICE ? n - at : NF_CLEAN_SLICE;
        st = nf_clean_slice(c, docs + at, m, out, err);
        if (st == NF_OK)
            st = fn(ctx, out, m, err);
        for (size_t i = 0; i < m; i++)
            nf_clean_doc_free(&out[i]);
    }
    return st;
}

nf_status nf_clean_batch(nf_cleaner *c, nf_doc *docs, size_t n, nf_clean_doc *out, nf_error *err)
{
    nf_status st = nf_clean_learn(c, docs, n, err);
    return st == NF_OK ? nf_clean_slice(c, docs, n, out, err) : st;
}
