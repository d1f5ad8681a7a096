/*
 * evfeat.c - the features the event stage sees of one document.
 *
 * Channels (see events_internal.h):
 *   title  the Snowball stems of the title (tokenized here: the cleaner
 *          only tokenizes the text)
 *   body   the stems of the cleaned text, at most MAX_BODY distinct ones
 *          (the most frequent; ties by hash)
 *   names  name keys, adjacent name pairs and numbers (entities.c)
 *   pivot  a headline-only record's title pivot (the links stage's builder)
 *          and one feature per country its title names (ICU's CLDR names
 *          in the record's language, loaded once per language and context;
 *          nfi_country_feature of the region code, so that nfi_country_set
 *          tells them from the pivot's other features)
 * Terms share one hash namespace between title and body, so a term has one
 * document frequency (and a title that is the text's first line takes the
 * hashes of the body's first terms as they are made, not hashing them
 * again). Body terms are counted in a table as they are hashed, so the
 * channel's sort sees each once. One-letter words carry nothing and are
 * skipped.
 * Counts, not weights, are kept here: weights need document frequencies,
 * which the engine only knows once every document has been added.
 *
 * Each worker thread owns one nfi_featctx (tokenizer and transliterator are
 * not thread-safe); the output depends only on the document.
 */
#include "events/events.h"
#include "events/feathash.h"
#include "links/links.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/uloc.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#define MAX_TITLE 64
#define MAX_BODY 512
#define MAX_NAMES 256

struct nfi_featctx {
    nfi_normalizer *nz;
    nfi_translit *tr;
    nfi_pivoter *pv; /* headline pivots; NULL until a lexicon is given */
    nfi_token_vec tv;
    nfi_buf pool;
    nfi_rawfeat *tmp; /* radix sort scratch */
    size_t tmp_cap;
    nfi_rawfeat *terms;   /* the body's term counts (add_body_terms): empty between documents */
    uint32_t *terms_used; /* the slots a document filled (terms_cap / 2) */
    size_t terms_cap;
    nfi_hmap countries;     /* country_key(lang, stems) -> region index + 1 (CLDR names, by language) */
    nfi_hmap country_langs; /* languages whose names are in countries */
};

nf_status nfi_featctx_new(nfi_featctx **out, const struct nfi_lexicon *lex, nf_error *err)
{
    nfi_featctx *c = calloc(1, sizeof *c);
    if (!c)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nf_status st = nfi_normalizer_new(&c->nz, err);
    if (st == NF_OK)
        st = nfi_translit_new(&c->tr, err);
    if (st == NF_OK && lex)
        st = nfi_pivoter_new(&c->pv, lex, false, err);
    if (st != NF_OK) {
        nfi_featctx_free(c);
        return st;
    }
    *out = c;
    return NF_OK;
}

void nfi_featctx_free(nfi_featctx *c)
{
    if (!c)
        return;
    nfi_normalizer_free(c->nz);
    nfi_translit_free(c->tr);
    nfi_pivoter_free(c->pv);
    free(c->tv.items);
    nfi_buf_free(&c->pool);
    free(c->tmp);
    free(c->terms);
    free(c->terms_used);
    nfi_hmap_free(&c->countries);
    nfi_hmap_free(&c->country_langs);
    free(c);
}

/* Sorts by hash and merges repeats (a feature is weak only if every
 * occurrence is); returns how many distinct features f holds. One pass
 * scatters into 2^b buckets by the top b bits (b about log2 n - 1, so a
 * bucket holds about two features: hashes are uniform; one a bucket
 * cleared and summed twice the counts for a few inversions fewer), then
 * an insertion back into f fixes the few inversions left inside buckets
 * and merges each repeat into its first occurrence as it meets it, so no
 * pass over the sorted features is left to merge them. Linear on average,
 * with no comparator calls. */
static size_t bucket_sort_merge(nfi_rawfeat *f, size_t n, nfi_rawfeat *tmp)
{
    int bits = 1;
    while (bits < 12 && ((size_t)2 << bits) < n)
        bits++;
    uint32_t count[(1 << 12) + 1]; /* (n < 2^32: a document's tokens) */
    memset(count, 0, (((size_t)1 << bits) + 1) * sizeof *count);
    int shift = 64 - bits;
    for (size_t i = 0; i < n; i++)
        count[(f[i].hash >> shift) + 1]++;
    for (size_t b = 0; b < ((size_t)1 << bits); b++)
        count[b + 1] += count[b];
    for (size_t i = 0; i < n; i++)
        tmp[count[f[i].hash >> shift]++] = f[i];
    size_t o = 0; /* f[0, o): sorted, unique */
    for (size_t i = 0; i < n; i++) {
        nfi_rawfeat x = tmp[i];
        size_t j = o;
        for (; j > 0 && f[j - 1].hash > x.hash; j--)
            f[j] = f[j - 1];
        if (j > 0 && f[j - 1].hash == x.hash) {
            f[j - 1].count += x.count;
            f[j - 1].flags &= x.flags;
            for (; j < o; j++) /* (rare: a repeat out of place) the shift undone */
                f[j] = f[j + 1];
            continue;
        }
        f[j] = x;
        o++;
    }
    return o;
}

/* Keeps the max most frequent of f[0..n) (n > max, sorted by hash, unique),
 * ties to the smaller hash, still sorted by hash: the max-th largest count
 * is selected (tmp is scratch), every feature counted more stays, and those
 * counted as often fill up in hash order. */
static size_t keep_most_frequent(nfi_rawfeat *f, size_t n, size_t max, nfi_rawfeat *tmp)
{
    uint32_t *c = (uint32_t *)tmp; /* tmp holds n features: room for n counts */
    for (size_t i = 0; i < n; i++)
        c[i] = f[i].count;
    uint32_t cut = nfi_kth_largest_u32(c, n, max);
    size_t above = 0, o = 0;
    for (size_t i = 0; i < n; i++)
        above += f[i].count > cut;
    size_t ties = max - above;
    for (size_t i = 0; i < n; i++) {
        if (f[i].count > cut) {
            f[o++] = f[i];
        } else if (f[i].count == cut && ties > 0) {
            f[o++] = f[i];
            ties--;
        }
    }
    return o;
}

/* Sorts, merges repeats, keeps the max most frequent. */
static bool merge_channel(nfi_featctx *c, nfi_docfeat *d, int ch, size_t max)
{
    nfi_rawfeat *f = d->f[ch];
    size_t n = d->n[ch], o = 0;
    if (n == 0)
        return true;
    if (n > c->tmp_cap) {
        nfi_rawfeat *t = realloc(c->tmp, n * sizeof *t);
        if (!t)
            return false;
        c->tmp = t;
        c->tmp_cap = n;
    }
    o = bucket_sort_merge(f, n, c->tmp);
    if (o > max)
        o = keep_most_frequent(f, o, max, c->tmp);
    d->n[ch] = o;
    return true;
}

static bool is_term(const nf_token *t) { return t->kind == NF_TOKEN_IDEOGRAPHIC || t->stem_len > 1; }

static bool add_terms(nfi_docfeat *d, int ch, const nf_token *toks, size_t n, const char *pool)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) /* counted first: the room a push per term would have grown to */
        m += is_term(&toks[i]);
    nfi_rawfeat *f = nfi_docfeat_room(d, ch, m);
    if (!f)
        return false;
    m = 0;
    for (size_t i = 0; i < n; i++)
        if (is_term(&toks[i]))
            f[m++] = (nfi_rawfeat){nfi_feat_hash_inline('t', pool + toks[i].stem, toks[i].stem_len), 1, 0};
    d->n[ch] += m;
    return true;
}

/* Room in c->terms for the terms of n tokens: at least 2n slots, a power
 * of two, all empty (count 0); *mask: the slots this document uses (the
 * table's start: a short document touches few lines of a table grown for
 * a long one). */
static bool term_table(nfi_featctx *c, size_t n, size_t *mask)
{
    size_t cap = 64;
    while (cap < 2 * n)
        cap *= 2;
    *mask = cap - 1;
    if (cap <= c->terms_cap)
        return true;
    nfi_rawfeat *t = calloc(cap, sizeof *t); /* (the old table is all empty: nothing to carry) */
    uint32_t *u = malloc(cap / 2 * sizeof *u);
    if (!t || !u) {
        free(t);
        free(u);
        return false;
    }
    free(c->terms);
    free(c->terms_used);
    c->terms = t;
    c->terms_used = u;
    c->terms_cap = cap;
    return true;
}

/* The body's terms, each once with its count (unsorted: merge_channel
 * sorts them), counted in c->terms as they are hashed: a document repeats
 * about two terms in five, which the sort no longer moves and merges.
 * The table is left empty (each slot filled is emptied as it is read).
 * title_k: the title is the text's first title_k tokens (title_k <
 * NF_HEADLINE_MAX_TOKENS; 0: it is not), whose term hashes are also the
 * title's, in token order (no second hash). */
static bool add_body_terms(nfi_featctx *c, nfi_docfeat *d, const nf_clean_doc *cd, size_t title_k)
{
    size_t n = cd->n_tokens, mask, n_used = 0, n_title = 0;
    if (!term_table(c, n, &mask))
        return false;
    nfi_rawfeat *tb = c->terms;
    uint32_t *used = c->terms_used;
    uint64_t title[NF_HEADLINE_MAX_TOKENS];
    const nf_token *toks = cd->tokens;
    for (size_t i = 0; i < n; i++) {
        if (!is_term(&toks[i]))
            continue;
        uint64_t h = nfi_feat_hash_inline('t', cd->pool + toks[i].stem, toks[i].stem_len);
        if (i < title_k)
            title[n_title++] = h;
        size_t j = (size_t)h & mask; /* (hashes are uniform: any bits do) */
        while (tb[j].count && tb[j].hash != h)
            j = (j + 1) & mask;
        if (tb[j].count++ == 0) {
            tb[j].hash = h;
            used[n_used++] = (uint32_t)j;
        }
    }
    nfi_rawfeat *f = nfi_docfeat_room(d, CH_BODY, n_used);
    for (size_t k = 0; k < n_used; k++) { /* (emptied even when memory ran out) */
        nfi_rawfeat *slot = &tb[used[k]];
        if (f)
            f[k] = (nfi_rawfeat){slot->hash, slot->count, 0};
        slot->count = 0;
    }
    if (!f)
        return false;
    d->n[CH_BODY] += n_used;
    for (size_t k = 0; k < n_title; k++)
        if (!nfi_docfeat_push(d, CH_TITLE, title[k], 0))
            return false;
    return true;
}

/* When the cleaner took the title from the text's first line, the tokens of
 * that line are the title's: the same text, language and tokenizer, so the
 * title need not be folded and stemmed again (on undated crawls without
 * titles the "title" is often a whole paragraph). Returns how many leading
 * tokens that is, or SIZE_MAX when the title must be tokenized: it is not
 * the first line, or nothing shows that the text was stemmed (stemming is
 * an option of the cleaner; a token whose stem differs from its fold shows
 * it, and ideographs and numbers are never stemmed). A count of
 * NF_HEADLINE_MAX_TOKENS or more, which only tells that the line is a
 * paragraph, is not counted to its end once stemming shows (untitled
 * crawls take whole one-line texts for their titles). */
static size_t title_tokens_in_text(const nf_clean_doc *cd)
{
    size_t tl = strlen(cd->title);
    if (!cd->text || cd->text_len < tl || memcmp(cd->text, cd->title, tl) != 0 ||
        (cd->text_len > tl && cd->text[tl] != '\n'))
        return SIZE_MAX;
    size_t k = 0;
    bool stemmed = false, words = false;
    for (; k < cd->n_tokens && cd->tokens[k].start + (size_t)cd->tokens[k].len <= tl &&
           !(stemmed && k >= NF_HEADLINE_MAX_TOKENS);
         k++) {
        const nf_token *t = &cd->tokens[k];
        words |= t->kind == NF_TOKEN_WORD;
        stemmed |= t->stem != t->norm;
    }
    return stemmed || !words ? k : SIZE_MAX;
}

bool nfi_evfeat_is_headline_only(const nf_clean_doc *cd)
{
    return cd->n_tokens == 0 && cd->title && *cd->title;
}

/* ------------------------------------------------------------ countries */

/* Country names in every language (ICU's CLDR display names: "Guinea",
 * "Gvineja", "Гвинея", "غينيا") meet in one feature per country, so that
 * headlines of two languages naming one country share a pivot feature
 * where the dictionaries lack the name or read it as a common word. Names
 * are matched by the Snowball stems of their one or two words (inflected
 * forms: "Гвинеи" -> "Гвинея"). */
#define COUNTRY_WORDS 2

static uint64_t country_key(uint64_t lang, uint64_t s0, uint64_t s1)
{
    return (lang * 0x9E3779B97F4A7C15ULL ^ s0) * 0xBF58476D1CE4E5B9ULL + s1;
}

/* The token's stem; in a language without a stemmer (Slovene) its word
 * without a final vowel, the commonest case ending ("Gvineja", "Gvineje"). */
static uint64_t stem_hash(const nf_token *t, const char *pool, bool stemmer)
{
    if (stemmer)
        return nfi_feat_hash('c', pool + t->stem, t->stem_len);
    size_t n = t->norm_len;
    const char *w = pool + t->norm;
    if (n > 3 && strchr("aeiou", w[n - 1]))
        n--;
    return nfi_feat_hash('c', w, n);
}

static nf_status put_key(nfi_featctx *c, uint64_t k, size_t r, nf_error *err)
{
    bool created;
    uint64_t *v = nfi_hmap_put(&c->countries, k, &created);
    if (!v)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (created)
        *v = r + 1;
    return NF_OK;
}

uint64_t nfi_country_feature(const char *region) { return nfi_feat_hash('C', region, 2); }

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void nfi_country_set_init(nfi_country_set *s)
{
    const char *const *regions = uloc_getISOCountries();
    s->n = 0;
    for (size_t r = 0; regions[r] && s->n < NFI_MAX_REGIONS; r++)
        s->h[s->n++] = nfi_country_feature(regions[r]);
    qsort(s->h, s->n, sizeof *s->h, cmp_u64);
}

static bool is_country(const nfi_country_set *s, uint64_t h)
{
    size_t a = nfi_lower_bound_u64(s->h, s->n, h);
    return a < s->n && s->h[a] == h;
}

size_t nfi_countries_of(const nfi_country_set *s, const nfi_svec *pivot, uint64_t *out, size_t max)
{
    size_t n = 0;
    for (uint32_t i = 0; i < pivot->n && n < max; i++)
        if (is_country(s, pivot->f[i].hash))
            out[n++] = pivot->f[i].hash;
    return n;
}

bool nfi_countries_conflict(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    if (na == 0 || nb == 0)
        return false;
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (a[i] == b[j])
                return false;
    return true;
}

/* Puts one name of region r (UTF-16) into c->countries. */
static nf_status put_country(nfi_featctx *c, const char *lang, uint64_t lh, const UChar *u, int32_t n,
                             size_t r, bool stemmer, nfi_token_vec *tv, nfi_buf *pool, nf_error *err)
{
    char name[256];
    int32_t len = 0;
    UErrorCode e = U_ZERO_ERROR;
    u_strToUTF8(name, sizeof name, &len, u, n, &e);
    if (U_FAILURE(e) || len <= 0 || len >= (int32_t)sizeof name)
        return NF_OK;
    tv->len = 0;
    pool->len = 0;
    nf_status st = nfi_tokenize(c->nz, name, (size_t)len, lang, true, tv, pool, err);
    if (st != NF_OK || pool->oom || tv->len == 0 || tv->len > COUNTRY_WORDS)
        return st;
    if (n == 2 && u[0] < 128 && u[1] < 128) /* no name in that language: ICU gives the code */
        return NF_OK;
    uint64_t k = country_key(lh, stem_hash(&tv->items[0], pool->data, stemmer),
                             tv->len > 1 ? stem_hash(&tv->items[1], pool->data, stemmer) : 0);
    st = put_key(c, k, r, err);
    if (st != NF_OK || !stemmer || tv->len != 1)
        return st;
    /* a stem is not always that of the other cases: Russian "Гвинея" ->
     * "гвине", but "Гвинеи" -> "гвин"; the stem of the stem meets them */
    char stem[256];
    size_t sl = tv->items[0].stem_len < sizeof stem ? tv->items[0].stem_len : 0;
    memcpy(stem, pool->data + tv->items[0].stem, sl);
    tv->len = 0;
    pool->len = 0;
    st = nfi_tokenize(c->nz, stem, sl, lang, true, tv, pool, err);
    if (st != NF_OK || pool->oom || tv->len != 1)
        return st;
    return put_key(c, country_key(lh, stem_hash(&tv->items[0], pool->data, true), 0), r, err);
}

/* Puts the CLDR names of every region in language lang into c->countries
 * (once per language); a name of more than COUNTRY_WORDS words ("Bosnia &
 * Herzegovina") is left out. */
static nf_status load_countries(nfi_featctx *c, const char *lang, uint64_t lh, nf_error *err)
{
    bool created;
    uint64_t *done = nfi_hmap_put(&c->country_langs, lh, &created);
    if (!done)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (!created)
        return NF_OK;
    const char *const *regions = uloc_getISOCountries();
    bool stemmer = nfi_has_stemmer(c->nz, lang);
    nfi_token_vec tv = {0};
    nfi_buf pool = {0};
    nf_status st = NF_OK;
    for (size_t r = 0; st == NF_OK && regions[r]; r++) {
        char loc[8];
        UChar u[128];
        snprintf(loc, sizeof loc, "_%s", regions[r]);
        UErrorCode e = U_ZERO_ERROR;
        int32_t n = uloc_getDisplayCountry(loc, lang, u, 128, &e);
        if (U_SUCCESS(e))
            st = put_country(c, lang, lh, u, n, r, stemmer, &tv, &pool, err);
    }
    free(tv.items);
    nfi_buf_free(&pool);
    return st;
}

/* Whether a word may be a name: capitalized, or of a script without case
 * (Arabic). A lower-case "jersey" or "turkey" is not the country. */
static bool may_name(const nf_token *t, const char *title)
{
    if (t->flags & NF_TOKEN_CAPITALIZED)
        return true;
    UChar32 ch;
    int32_t i = 0;
    U8_NEXT(title + t->start, i, (int32_t)t->len, ch);
    return ch >= 0 && !u_hasBinaryProperty(ch, UCHAR_CASED);
}

/* Adds a feature per country named in the title (c->tv, c->pool) to CH_PIVOT. */
static nf_status title_countries(nfi_featctx *c, const nf_clean_doc *cd, nfi_docfeat *out, nf_error *err)
{
    uint64_t lh = nfi_feat_hash('l', cd->lang, strlen(cd->lang));
    nf_status st = load_countries(c, cd->lang, lh, err);
    const nf_token *t = c->tv.items;
    const char *const *regions = uloc_getISOCountries();
    bool stemmer = nfi_has_stemmer(c->nz, cd->lang);
    for (size_t i = 0; st == NF_OK && i < c->tv.len; i++) {
        if (t[i].kind != NF_TOKEN_WORD || !may_name(&t[i], cd->title))
            continue;
        uint64_t s0 = stem_hash(&t[i], c->pool.data, stemmer);
        const uint64_t *v = NULL;
        if (i + 1 < c->tv.len && t[i + 1].kind == NF_TOKEN_WORD)
            v = nfi_hmap_get(&c->countries, country_key(lh, s0, stem_hash(&t[i + 1], c->pool.data, stemmer)));
        if (v)
            i++;
        else
            v = nfi_hmap_get(&c->countries, country_key(lh, s0, 0));
        if (v && !nfi_docfeat_push(out, CH_PIVOT, nfi_country_feature(regions[*v - 1]), 0))
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    return st;
}

/* A headline-only record's pivot, from its title (the cross-lingual stage
 * builds pivots from the text, which such a record lacks): the title read
 * as a one-line document through the links stage's pivot builder, its
 * features kept in CH_PIVOT (kind in flags, unused). c->tv holds the
 * title's tokens, c->pool their strings. */
static nf_status title_pivot(nfi_featctx *c, const nf_clean_doc *cd, nfi_docfeat *out, nf_error *err)
{
    nf_clean_doc t;
    memset(&t, 0, sizeof t);
    t.doc = cd->doc;
    t.title = cd->title;
    t.text = cd->title;
    t.text_len = strlen(cd->title);
    memcpy(t.lang, cd->lang, sizeof t.lang);
    t.tokens = c->tv.items;
    t.n_tokens = c->tv.len;
    t.pool = c->pool.data;
    t.pool_len = c->pool.len;
    nf_pivot pv;
    nf_status st = nfi_pivot_build(c->pv, &t, &pv, err);
    if (st != NF_OK)
        return st;
    bool ok = true;
    for (size_t i = 0; ok && i < pv.n_features; i++) {
        ok = nfi_docfeat_push(out, CH_PIVOT, pv.features[i].hash, 0);
        if (ok)
            out->f[CH_PIVOT][out->n[CH_PIVOT] - 1].count = pv.features[i].count;
    }
    nfi_pivot_free(&pv);
    return ok ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
}

nf_status nfi_evfeat_extract(nfi_featctx *c, const nf_clean_doc *cd, nfi_docfeat *out, nf_error *err)
{
    nfi_docfeat_reset(out);
    size_t in_text = cd->title && *cd->title ? title_tokens_in_text(cd) : SIZE_MAX;
    /* a first line too long for a title is a paragraph: no title terms */
    size_t title_k = in_text != SIZE_MAX && in_text < NF_HEADLINE_MAX_TOKENS ? in_text : 0;
    if (!add_body_terms(c, out, cd, title_k))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (in_text == SIZE_MAX && cd->title && *cd->title) {
        c->tv.len = 0;
        c->pool.len = 0;
        nf_status st =
            nfi_tokenize(c->nz, cd->title, strlen(cd->title), cd->lang, true, &c->tv, &c->pool, err);
        if (st != NF_OK)
            return st;
        if (c->pool.oom || !add_terms(out, CH_TITLE, c->tv.items, c->tv.len, c->pool.data))
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        if (c->pv && nfi_evfeat_is_headline_only(cd) && (st = title_pivot(c, cd, out, err)) != NF_OK)
            return st;
        if (nfi_evfeat_is_headline_only(cd) && (st = title_countries(c, cd, out, err)) != NF_OK)
            return st;
    }
    nf_status st = nfi_names_extract(c->tr, cd, out, err);
    if (st == NF_OK && cd->n_tokens == 0 && cd->title && *cd->title) /* headline only: names to show */
        st = nfi_title_runs(c->tr, cd, c->tv.items, c->tv.len, c->pool.data, out, err);
    if (st != NF_OK)
        return st;
    bool ok = merge_channel(c, out, CH_TITLE, MAX_TITLE) && merge_channel(c, out, CH_BODY, MAX_BODY) &&
              merge_channel(c, out, CH_NAMES, MAX_NAMES) && merge_channel(c, out, CH_PIVOT, MAX_NAMES);
    return !ok || out->runs.oom ? nfi_fail(err, NF_ERR_NOMEM, "out of memory") : NF_OK;
}
