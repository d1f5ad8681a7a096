/*
 * pivot.c - what of a document survives translation.
 *
 * Four kinds of features, each hashed with its kind so kinds never collide:
 * - terms: English documents contribute the Snowball stems of their content
 *   words; other languages look each word up in the lexicon (three-word,
 *   then two-word multiword entries first, then the word, then its stem) and
 *   contribute the English stems it translates to. An unknown word of five
 *   letters or more is kept as itself: loanwords and English phrases quoted
 *   inside foreign text ("Nuclear Advisory Group") then still match.
 * - names: capitalized words not opening a sentence, and words of scripts
 *   without case, when the dictionary does not know them (German capitalizes
 *   every noun, so "known word" is what separates a noun from a name).
 *   Non-ASCII names are transliterated with ICU (Any-Latin; Latin-ASCII),
 *   then reduced to a skeleton that forgives transcription habits: w->v,
 *   j->y->i, ph->f, c/q->k, z->s, doubled letters single, final s dropped.
 *   So "Wladimir Putins" and "Vladimir Putin", "Pjöngjang" and "Pyongyang",
 *   "Путин" and "Putin" agree.
 * - numbers: digits with separators removed ("2,300" = "2.300"), two digits
 *   or more (single digits are too common to mean anything).
 * - dates: month and day of every date written out, in any language the
 *   date lexer knows.
 * The feature sequence in text order, with paragraph ends, is kept for
 * paragraph alignment. A pivoter (one per thread) owns an ICU transliterator.
 */
#include "links/links.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/uchar.h>
#include <unicode/utrans.h>
#include <unicode/ustring.h>
#include <xxhash.h>

#define MIN_LOANWORD_BYTES 5
#define TERMS_PER_WORD 3      /* the first senses: later ones are mostly noise */
#define MIN_COMPOUND_PART 4   /* bytes of each part when splitting compounds */
#define MAX_DATES 256

struct nfi_pivoter {
    const nfi_lexicon *lex;
    UTransliterator *translit;
};

nf_status nfi_pivoter_new(nfi_pivoter **out, const nfi_lexicon *lex, nf_error *err)
{
    *out = NULL;
    nfi_pivoter *p = calloc(1, sizeof *p);
    if (!p)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    p->lex = lex;
    UErrorCode e = U_ZERO_ERROR;
    UChar id[64];
    u_uastrcpy(id, "Any-Latin; Latin-ASCII");
    p->translit = utrans_openU(id, -1, UTRANS_FORWARD, NULL, 0, NULL, &e);
    if (U_FAILURE(e)) {
        free(p);
        return nfi_fail(err, NF_ERR_RESOURCE, "ICU transliterator unavailable: %s", u_errorName(e));
    }
    *out = p;
    return NF_OK;
}

void nfi_pivoter_free(nfi_pivoter *p)
{
    if (!p)
        return;
    if (p->translit)
        utrans_close(p->translit);
    free(p);
}

void nf_pivot_free(nf_pivot *p)
{
    if (!p)
        return;
    free(p->features);
    free(p->names);
    free(p->name_keys);
    free(p->paragraph_ends);
    free(p->sequence);
    free(p->sequence_at);
    memset(p, 0, sizeof *p);
}

uint64_t nfi_pivot_hash(int kind, const char *key, size_t len)
{
    if (kind == NF_PIVOT_TERM)
        return nfi_term_hash(key, len);
    return XXH3_64bits_withSeed(key, len, 0x70697600ULL + (uint64_t)kind);
}

size_t nfi_name_skeleton(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 2 < cap; i++) {
        char c = (char)nfi_lower_ascii((unsigned char)s[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            continue;
        if (c == 'p' && i + 1 < n && nfi_lower_ascii((unsigned char)s[i + 1]) == 'h') {
            c = 'f';
            i++;
        }
        switch (c) {
        case 'w': c = 'v'; break;
        case 'j': case 'y': c = 'i'; break;
        case 'c': case 'q': c = 'k'; break;
        case 'z': c = 's'; break;
        default: break;
        }
        if (k > 0 && out[k - 1] == c)
            continue;
        out[k++] = c;
    }
    if (k >= 4 && out[k - 1] == 's')
        k--;
    out[k] = '\0';
    return k;
}

/* ------------------------------------------------------------ building */

typedef struct builder {
    nfi_pivoter *p;
    const nf_clean_doc *doc;
    nfi_buf seq;      /* uint64 hashes in text order */
    nfi_buf at;       /* uint32 pairs: offset and length of the words behind each */
    uint32_t cur_start, cur_len; /* the words being emitted */
    nfi_buf para;     /* uint32 paragraph ends */
    nfi_buf names, keys;
    size_t n_names;
    nfi_buf scratch;
} builder;

static void emit_hash(builder *b, int kind, uint64_t h)
{
    h = (h & ~3ULL) | (uint64_t)kind; /* the kind rides in the low bits */
    nfi_buf_append(&b->seq, &h, sizeof h);
    uint32_t at[2] = {b->cur_start, b->cur_len};
    nfi_buf_append(&b->at, at, sizeof at);
}

static void emit(builder *b, int kind, const char *key, size_t len)
{
    emit_hash(b, kind, nfi_pivot_hash(kind, key, len));
}

/* Sets the words that the next features come from. */
static void from_tokens(builder *b, size_t i, size_t n)
{
    const nf_token *first = &b->doc->tokens[i], *last = &b->doc->tokens[i + n - 1];
    b->cur_start = first->start;
    b->cur_len = last->start + last->len - first->start;
}

/* ASCII form of a name: transliterated when it has non-ASCII letters. */
static void ascii_name(builder *b, const char *s, size_t n)
{
    b->scratch.len = 0;
    bool ascii = true;
    for (size_t i = 0; i < n; i++)
        ascii &= (unsigned char)s[i] < 0x80;
    if (ascii) {
        nfi_buf_append(&b->scratch, s, n);
        return;
    }
    UChar buf[256];
    int32_t len = 0, limit;
    UErrorCode e = U_ZERO_ERROR;
    u_strFromUTF8(buf, 255, &len, s, (int32_t)n, &e);
    if (U_FAILURE(e) || len >= 200)
        return;
    limit = len;
    utrans_transUChars(b->p->translit, buf, &len, 255, 0, &limit, &e);
    if (U_FAILURE(e))
        return;
    char out[768];
    int32_t out_len = 0;
    u_strToUTF8(out, sizeof out, &out_len, buf, len, &e);
    if (U_SUCCESS(e))
        nfi_buf_append(&b->scratch, out, (size_t)out_len);
}

/* Records a name for display (entities) with the key of its whole run. */
static void record_name(builder *b, const char *display, size_t n)
{
    ascii_name(b, display, n);
    char key[128];
    size_t k = nfi_name_skeleton(b->scratch.data ? b->scratch.data : "", b->scratch.len, key, sizeof key);
    if (k < 2)
        return;
    nfi_buf_append(&b->names, display, n);
    nfi_buf_putc(&b->names, '\0');
    nfi_buf_append(&b->keys, key, k);
    nfi_buf_putc(&b->keys, '\0');
    b->n_names++;
}

static bool digits_key(const char *s, size_t n, char *out, size_t cap, size_t *len)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++)
        if (s[i] >= '0' && s[i] <= '9')
            out[k++] = s[i];
    *len = k;
    return k >= 2;
}

/* Looks up tokens [i, i+span) joined; returns the number of terms. */
static size_t lookup_span(builder *b, size_t i, size_t span, bool by_stem, const uint64_t **terms)
{
    const nf_clean_doc *d = b->doc;
    if (i + span > d->n_tokens)
        return 0;
    b->scratch.len = 0;
    for (size_t k = 0; k < span; k++) {
        const nf_token *t = &d->tokens[i + k];
        if (t->kind != NF_TOKEN_WORD)
            return 0;
        if (k)
            nfi_buf_putc(&b->scratch, ' ');
        nfi_buf_append(&b->scratch, d->pool + (by_stem ? t->stem : t->norm), by_stem ? t->stem_len : t->norm_len);
    }
    return nfi_lexicon_lookup(b->p->lex, nfi_lexicon_key(d->lang, b->scratch.data, b->scratch.len), terms);
}

/* A compound the dictionary lacks ("Sicherheitsrat") as two words it has
 * ("sicherheit" + "rat"), allowing a linking "s"; longest head first. */
static bool split_compound(builder *b, const nf_token *t)
{
    const nf_clean_doc *d = b->doc;
    const char *w = d->pool + t->norm;
    size_t n = t->norm_len;
    if (n < 2 * MIN_COMPOUND_PART)
        return false;
    for (size_t cut = n - MIN_COMPOUND_PART; cut >= MIN_COMPOUND_PART; cut--) {
        if (((unsigned char)w[cut] & 0xC0) == 0x80)
            continue; /* inside a UTF-8 sequence */
        const uint64_t *tail, *head;
        size_t nt = nfi_lexicon_lookup(b->p->lex, nfi_lexicon_key(d->lang, w + cut, n - cut), &tail);
        if (!nt)
            continue;
        size_t hn = cut, nh = nfi_lexicon_lookup(b->p->lex, nfi_lexicon_key(d->lang, w, hn), &head);
        if (!nh && w[cut - 1] == 's')
            nh = nfi_lexicon_lookup(b->p->lex, nfi_lexicon_key(d->lang, w, hn - 1), &head);
        if (!nh)
            continue;
        b->cur_start = t->start;
        b->cur_len = t->len;
        emit_hash(b, NF_PIVOT_TERM, head[0]);
        emit_hash(b, NF_PIVOT_TERM, tail[0]);
        return true;
    }
    return false;
}

/* Terms of a foreign word (or multiword); returns how many tokens it used. */
static size_t translate_at(builder *b, size_t i, bool *found)
{
    const uint64_t *terms;
    size_t n;
    for (size_t span = 3; span >= 1; span--) {
        if ((n = lookup_span(b, i, span, false, &terms)) || (n = lookup_span(b, i, span, true, &terms))) {
            from_tokens(b, i, span);
            for (size_t k = 0; k < n && k < TERMS_PER_WORD; k++)
                emit_hash(b, NF_PIVOT_TERM, terms[k]);
            *found = true;
            return span;
        }
    }
    *found = b->doc->tokens[i].kind == NF_TOKEN_WORD && split_compound(b, &b->doc->tokens[i]);
    return 1;
}

static bool is_name_token(const nf_token *t)
{
    return (t->flags & NF_TOKEN_CAPITALIZED) && !(t->flags & NF_TOKEN_SENTENCE_START);
}

static bool paragraph_break_before(const nf_clean_doc *d, size_t i)
{
    if (i == 0)
        return false;
    const nf_token *prev = &d->tokens[i - 1], *t = &d->tokens[i];
    return memchr(d->text + prev->start + prev->len, '\n', t->start - (prev->start + prev->len)) != NULL;
}

/* A run of name tokens from i (joined when only spaces or hyphens separate
 * them), added as one display name and one feature per token. */
static size_t name_run(builder *b, size_t i)
{
    const nf_clean_doc *d = b->doc;
    size_t j = i + 1;
    while (j < d->n_tokens && d->tokens[j].kind == NF_TOKEN_WORD && !paragraph_break_before(d, j)) {
        const nf_token *prev = &d->tokens[j - 1], *t = &d->tokens[j];
        size_t gap = t->start - (prev->start + prev->len);
        const char *g = d->text + prev->start + prev->len;
        bool joined = gap == 1 && (*g == ' ' || *g == '-');
        if (!joined || (!is_name_token(t) && *g != '-'))
            break;
        j++;
    }
    for (size_t k = i; k < j; k++) {
        const nf_token *t = &d->tokens[k];
        from_tokens(b, k, 1);
        ascii_name(b, d->text + t->start, t->len);
        char key[128];
        size_t n = nfi_name_skeleton(b->scratch.data ? b->scratch.data : "", b->scratch.len, key, sizeof key);
        if (n >= 2)
            emit(b, NF_PIVOT_NAME, key, n);
    }
    const nf_token *first = &d->tokens[i], *last = &d->tokens[j - 1];
    record_name(b, d->text + first->start, last->start + last->len - first->start);
    return j - i;
}

static bool caseless_script(const nf_clean_doc *d, const nf_token *t)
{
    uint32_t cp;
    nfi_utf8_decode((const unsigned char *)d->text + t->start, t->len, &cp);
    return (t->flags & NF_TOKEN_NON_LATIN) && u_tolower((UChar32)cp) == (UChar32)cp &&
           u_toupper((UChar32)cp) == (UChar32)cp;
}

static void emit_stem(builder *b, const nf_token *t)
{
    const char *norm = b->doc->pool + t->norm;
    b->cur_start = t->start;
    b->cur_len = t->len;
    if (!nfi_english_stopword(norm, t->norm_len))
        emit(b, NF_PIVOT_TERM, b->doc->pool + t->stem, t->stem_len);
}

/* One word token at i; returns how many tokens it consumed. */
static size_t word_features(builder *b, size_t i, bool english, bool has_lexicon)
{
    const nf_clean_doc *d = b->doc;
    const nf_token *t = &d->tokens[i];
    if (english) {
        size_t n = is_name_token(t) ? name_run(b, i) : 1;
        for (size_t k = i; k < i + n; k++)
            emit_stem(b, &d->tokens[k]);
        return n;
    }
    bool found = false;
    size_t used = has_lexicon ? translate_at(b, i, &found) : 1;
    if (found)
        return used;
    if (is_name_token(t) || caseless_script(d, t))
        return name_run(b, i);
    from_tokens(b, i, 1);
    if (t->norm_len >= MIN_LOANWORD_BYTES)
        emit(b, NF_PIVOT_TERM, d->pool + t->norm, t->norm_len);
    return 1;
}

static void add_dates(builder *b)
{
    uint16_t days[MAX_DATES];
    b->cur_start = b->cur_len = 0; /* dates point nowhere in particular */
    size_t n = nfi_month_days(b->doc->text, b->doc->text_len, days, MAX_DATES);
    for (size_t i = 0; i < n; i++) {
        char key[2] = {(char)(days[i] / 100), (char)(days[i] % 100)};
        emit(b, NF_PIVOT_DATE, key, 2);
    }
}

static nf_status finish(builder *b, nf_pivot *out, nf_error *err)
{
    size_t n = b->seq.len / 8;
    uint64_t *sorted = malloc((n ? n : 1) * 8);
    out->features = malloc((n ? n : 1) * sizeof *out->features);
    if (!sorted || !out->features || b->seq.oom || b->at.oom || b->para.oom || b->names.oom || b->keys.oom) {
        free(sorted);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    if (n)
        memcpy(sorted, b->seq.data, n * 8);
    qsort(sorted, n, 8, nfi_cmp_u64);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && sorted[j] == sorted[i])
            j++;
        out->features[out->n_features++] = (nf_pivot_feature){sorted[i], (uint32_t)(j - i), (uint8_t)(sorted[i] & 3)};
        i = j;
    }
    free(sorted);
    out->n_sequence = n;
    out->sequence = (uint64_t *)nfi_buf_take(&b->seq, NULL);
    out->sequence_at = (uint32_t *)nfi_buf_take(&b->at, NULL);
    out->n_paragraphs = b->para.len / 4;
    out->paragraph_ends = (uint32_t *)nfi_buf_take(&b->para, NULL);
    out->n_names = b->n_names;
    out->names = nfi_buf_take(&b->names, NULL);
    out->name_keys = nfi_buf_take(&b->keys, NULL);
    return NF_OK;
}

nf_status nfi_pivot_build(nfi_pivoter *p, const nf_clean_doc *d, nf_pivot *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    builder b;
    memset(&b, 0, sizeof b);
    b.p = p;
    b.doc = d;
    bool english = strcmp(d->lang, "en") == 0;
    bool has_lexicon = !english && p->lex && nfi_lexicon_has(p->lex, d->lang);
    for (size_t i = 0; i < d->n_tokens;) {
        if (paragraph_break_before(d, i)) {
            uint32_t end = (uint32_t)(b.seq.len / 8);
            nfi_buf_append(&b.para, &end, sizeof end);
        }
        const nf_token *t = &d->tokens[i];
        char digits[64];
        size_t n_digits;
        from_tokens(&b, i, 1);
        if (t->kind == NF_TOKEN_NUMBER) {
            if (digits_key(d->text + t->start, t->len, digits, sizeof digits, &n_digits))
                emit(&b, NF_PIVOT_NUMBER, digits, n_digits);
            i++;
        } else if (t->kind == NF_TOKEN_IDEOGRAPHIC) {
            emit(&b, NF_PIVOT_TERM, d->pool + t->norm, t->norm_len);
            i++;
        } else {
            i += word_features(&b, i, english, has_lexicon);
        }
    }
    uint32_t end = (uint32_t)(b.seq.len / 8);
    nfi_buf_append(&b.para, &end, sizeof end);
    add_dates(&b);
    nf_status st = finish(&b, out, err);
    nfi_buf_free(&b.seq);
    nfi_buf_free(&b.at);
    nfi_buf_free(&b.para);
    nfi_buf_free(&b.names);
    nfi_buf_free(&b.keys);
    nfi_buf_free(&b.scratch);
    if (st != NF_OK)
        nf_pivot_free(out);
    return st;
}
