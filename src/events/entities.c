/*
 * entities.c - names without a trained NER model: detection, spelling-
 * tolerant keys, and the entities of an event.
 *
 * Detection works on the cleaner's tokens and their capitalization flags:
 * - A capitalized word inside a sentence of a prose line is a name. Words
 *   at a sentence start, or on a title-case line (a headline where most
 *   words are capitalized), are names only when the same word occurs as a
 *   clear name elsewhere in the document; acronyms (2-6 capitals) always are.
 * - A word joined by a hyphen to a name continues it ("Hong-kyun").
 * - Consecutive names separated by one space or hyphen form a run ("Kim
 *   Hong-kyun"); a run is one candidate entity.
 * - In languages that capitalize every noun (German, Luxembourgish) a
 *   capitalized word is only a weak name: it counts where some document
 *   has the same key as a clear name (an English "Putin" vouches for the
 *   German "Putin", nothing vouches for "Besuch"). Acronyms stay strong.
 *
 * Keys make names agree across scripts and spellings: the normalized form
 * loses a possessive "'s", is transliterated to ASCII (ICU "Any-Latin;
 * Latin-ASCII": Cyrillic, Greek, Hangul, diacritics), then folded: c/k/q ->
 * k, j -> y, w -> v, z -> s, ph -> f, doubled letters collapsed, a final s
 * dropped on keys of five letters or more. So "Pjöngjang" and "Pyongyang"
 * both become "pyongyang", "Wladimir Putins" and "Vladimir Putin" become
 * "vladimir putin", "Selenskyj" and "Zelensky" become "selensky".
 * A form of ASCII and accented Latin letters is read through a table of
 * the same forms (nfi_latin_ascii) first: the transliterator is opened
 * only for a form the table cannot read, as opening it costs about 150 M
 * instructions. Each context caches, per distinct normalized form, its key and the two
 * hashes made of it (cached_key), so ICU and the folding run once per
 * word, not once per occurrence; the cache is pure and bounded (emptied
 * between documents when full), so it never changes a result. An entry
 * also carries the stamp of the last document that writes its form in
 * lower case, which spares a per-document set of those forms.
 *
 * Features for similarity: each name token's key, each pair of adjacent
 * tokens in a run, and each number (digits only, so "17,8" = "17.8").
 *
 * Runs are also kept, serialized, for the entities an event shows. Each
 * run token carries display flags (job title or function word of the
 * document's language from small word lists, written in lower case
 * elsewhere in the document, capitalized only by its place); these never
 * change a feature. A document without text gives the runs of its title,
 * for display only (names from titles added as features diluted the
 * clustering of undated headlines, see docs/events.md).
 *
 * Entities of an event: a first pass over every member's runs reads them
 * (once: the second pass works on what it read, with each key's hash) and
 * gathers the event's own evidence per key (named clearly, named at all, named alone,
 * written in lower case in a title); then each run is cut into pieces at
 * words that are no name (uncorroborated weak or positional words, a
 * capitalized function word at a sentence start, a possessive owner before
 * a name of its own), keeping common words only after a name ("UN Security
 * Council"), with job titles and what precedes them dropped ("Foreign
 * Minister Cho Tae-yul" -> "Cho Tae-yul") and lone common words dropped.
 * Pieces are grouped by key; counted by independent sources (members of
 * one duplicate/translation component count once) and by documents;
 * merged across spelling variants (keys one edit apart), word order, and
 * short forms ("Putin" into "Vladimir Putin", "North" into "North Korea");
 * shown in the form most used by the reports in the headline's language.
 * Everything depends only on the members in their given order, so the
 * result is the same for any thread count.
 */
#include "events/events.h"

#include <stdlib.h>
#include <string.h>
#include <unicode/ustring.h>
#include <unicode/utrans.h>
#define XXH_INLINE_ALL /* nfi_hash64's XXH3_64bits, inlined: every word token is hashed (as in normalize.c) */
#include <xxhash.h>

#include "events/feathash.h" /* (nfi_feat_hash inline: a run token's name feature at collection) */
#include "text/text.h"       /* nfi_latin_ascii */

/* nfi_hash64 (the same function, so the same values), inlined. */
static inline uint64_t hash64(const void *p, size_t n) { return XXH3_64bits(p, n); }

#define MAX_RUN_TOKENS 12
#define MAX_PIECE 255
#define MAX_MERGE 64 /* entities considered for merging, per event */

enum { STR_NONE = 0, STR_WEAK = 1, STR_STRONG = 2 };
/* How a run token follows the one before it; SEP_POSSESSIVE: the one
 * before ended in "'s" (an owner ends a name: "Japan's Daiki Hashimoto"). */
enum { SEP_NONE = 0, SEP_SPACE = 1, SEP_HYPHEN = 2, SEP_POSSESSIVE = 3 };

/* Serialized runs (written by emit_run, read by the entity collection
 * only): a head byte, then per token a flag byte, its key and its display
 * form (each a length byte and bytes). The head is the token count, with
 * RUN_HEADLINE when the run comes from the title of a document without
 * text (display only, judged within the event); the head RUN_LOWER starts
 * instead a list of the title's lower-case word keys (a count byte, then
 * the keys). Token flags: */
enum {
    TF_WEAK = 1,       /* a capitalized word of a language that capitalizes nouns */
    TF_SEP_SHIFT = 1,  /* bits 1-2: SEP_* */
    TF_TITLE = 8,      /* a job title of the document's language (word lists) */
    TF_WEAK_TITLE = 16, /* a job title that also starts names ("General") */
    TF_FUNC = 32,      /* a function word of the document's language */
    TF_LOWER_DOC = 64, /* the document also writes the word in lower case */
    TF_POSITIONAL = 128 /* capitalized at a sentence start or on a title-case line */
};
enum { RUN_HEADLINE = 0x80, RUN_LOWER = 0x40, RUN_COUNT = 0x3f };

/* A map from 64-bit hashes to 64-bit values for one document (or event)
 * at a time: open addressing with linear probing, at most half full, whose
 * slots count only under the map's current stamp. Starting over is a
 * stamp increment, not a clearing, and the table keeps its size from one
 * document to the next: nfi_hmap's reset cleared a table sized for the
 * last document (or freed it past 4,096 slots), and a map that started
 * small grew by doublings, each a new table and a rehash (together about
 * a tenth of the names). A document uses the table's first slots (mask),
 * enough for the keys it expects, so a short one touches few lines. A
 * slot of another stamp is empty: within one stamp keys are only added,
 * so a probe meets the stamp's keys before any empty slot. */
typedef struct nfi_smap_slot {
    uint64_t key, val;
    uint32_t stamp;
} smap_slot;
typedef nfi_smap smap; /* (events.h: the thread's entity maps hold two) */

/* A new table of cap slots (all of no stamp) in place of m's; false when
 * memory ran out (m unchanged). */
static bool smap_table(smap *m, size_t cap)
{
    smap_slot *s = calloc(cap, sizeof *s);
    if (!s)
        return false;
    free(m->slots);
    m->slots = s;
    m->cap = cap;
    m->stamp = 0;
    return true;
}

/* A new stamp: the map empty, for about `keys` keys. */
static bool smap_start(smap *m, size_t keys)
{
    size_t want = 64;
    while (want < 4 * keys) /* (a quarter full at the estimate: it may be short) */
        want *= 2;
    if (want > m->cap && !smap_table(m, want))
        return false;
    if (++m->stamp == 0) { /* (after 2^32 - 1 stamps: the old ones must go) */
        memset(m->slots, 0, m->cap * sizeof *m->slots);
        m->stamp = 1;
    }
    m->mask = want - 1;
    m->count = 0;
    return true;
}

static uint64_t *smap_get(const smap *m, uint64_t key)
{
    for (size_t i = key & m->mask;; i = (i + 1) & m->mask) {
        const smap_slot *s = &m->slots[i];
        if (s->stamp != m->stamp)
            return NULL;
        if (s->key == key)
            return (uint64_t *)&s->val;
    }
}

static uint64_t *smap_insert(smap *m, uint64_t key, bool *created)
{
    size_t i = key & m->mask;
    while (m->slots[i].stamp == m->stamp && m->slots[i].key != key)
        i = (i + 1) & m->mask;
    smap_slot *s = &m->slots[i];
    bool fresh = s->stamp != m->stamp;
    if (fresh) {
        *s = (smap_slot){key, 0, m->stamp};
        m->count++;
    }
    if (created)
        *created = fresh;
    return &s->val;
}

/* Twice the slots, the current keys kept (rare: the estimate fell short). */
static __attribute__((noinline)) bool smap_grow(smap *m)
{
    size_t n = 0, cap = 2 * (m->mask + 1);
    smap_slot *keep = malloc((m->count ? m->count : 1) * sizeof *keep);
    if (!keep)
        return false;
    for (size_t i = 0; i <= m->mask; i++)
        if (m->slots[i].stamp == m->stamp)
            keep[n++] = m->slots[i];
    bool ok = cap <= m->cap || smap_table(m, cap);
    ok = ok && smap_start(m, cap / 4);
    for (size_t k = 0; ok && k < n; k++)
        *smap_insert(m, keep[k].key, NULL) = keep[k].val;
    free(keep);
    return ok;
}

/* The value of key, added with value 0 when absent (*created tells, when
 * not NULL); NULL when memory ran out. */
static inline uint64_t *smap_put(smap *m, uint64_t key, bool *created)
{
    if ((m->count + 1) * 2 > m->mask + 1 && !smap_grow(m))
        return NULL;
    return smap_insert(m, key, created);
}

/* A cached name key: the key of a normalized form (as nfi_name_key makes
 * it) with the two hashes made of it. Pure in the form, so caching never
 * changes a result; the cache is emptied when it grows past its bounds.
 * Forms are known by their 64-bit hash alone, as in the per-document maps
 * (checking the bytes too cost a cache miss per lookup). */
typedef struct key_entry {
    uint32_t key_off;          /* in key_text */
    uint32_t key_len : 31;
    uint32_t calendar : 1; /* the form is a weekday or month (is_calendar) */
    uint64_t word_h; /* nfi_hash64 of the key (word lists) */
    uint64_t feat_h; /* nfi_feat_hash('n', key) */
    uint32_t lower_doc; /* the stamp of the last document that writes the form in lower case */
} key_entry;
#define KEY_CACHE_MAX (1u << 19)        /* entries */
#define KEY_TEXT_MAX ((size_t)32 << 20) /* bytes */

#define LATIN_LO 0xC0
#define LATIN_HI 0x17F
#define LATIN_NONE 0xFF

struct nfi_translit {
    UTransliterator *tr; /* opened on first use */
    bool tr_failed;
    UChar *u16;
    int32_t u16_cap;
    nfi_hmap cache; /* hash of a non-ASCII form -> offset + 1 of its ASCII form in cache_buf */
    nfi_buf cache_buf;
    uint8_t *strength;
    uint32_t *pending; /* capitalized words whose strength waits for the document's clear names */
    uint32_t *clear;   /* clear names (and acronyms), for t->seen */
    uint32_t *hyph;    /* words after a hyphen, which may continue a name */
    uint32_t *lowers;  /* lower-case words of three bytes or more */
    uint32_t *caps;    /* the current line's capitalized words */
    uint8_t *title_line; /* read for capitalized words only */
    size_t tok_cap;
    uint32_t stamp; /* the current document's (key_entry.lower_doc), from 1 */
    smap seen; /* per document: clear names (norm hash -> strength), then run keys */
    nfi_buf key, pair;
    nfi_hmap words; /* word_key(lang, key) -> W_* of the word lists (each language's at its first document) */
    uint64_t words_built; /* bit l: word_lists[l] is in words (build_words) */
    uint64_t *nh;   /* per token of the current document: nfi_hash64 of its normalized form */
    nfi_hmap keys;  /* the key cache: hash64(normalized form) -> index + 1 in key_ents */
    key_entry *key_ents;
    size_t n_keys, cap_keys;
    nfi_buf key_text; /* the cached keys */
    /* the ASCII that the transliterator makes of each Latin letter
     * U+00C0-U+017F alone (latin_ascii): length byte, up to 3 bytes; length
     * LATIN_NONE: use ICU for words holding it */
    uint8_t latin[LATIN_HI - LATIN_LO + 1][4];
    bool latin_built;
    /* the letters whose form ICU's canonical decomposition gives (a letter
     * and accents, and ß), read without the transliterator: opening it
     * builds ICU's registry, about 150 M instructions, which a corpus of
     * English, French or German names never needs. 0: not built, 1: built,
     * -1: ICU's decomposition data is missing */
    nfi_latin_ascii nfd_latin;
    int nfd_latin_state;
};

nf_status nfi_translit_new(nfi_translit **out, nf_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
}

void nfi_translit_free(nfi_translit *t)
{
    if (!t)
        return;
    if (t->tr)
        utrans_close(t->tr);
    free(t->u16);
    nfi_hmap_free(&t->cache);
    nfi_buf_free(&t->cache_buf);
    free(t->strength);
    free(t->pending);
    free(t->clear);
    free(t->hyph);
    free(t->lowers);
    free(t->caps);
    free(t->title_line);
    free(t->seen.slots);
    nfi_buf_free(&t->key);
    nfi_buf_free(&t->pair);
    nfi_hmap_free(&t->words);
    free(t->nh);
    nfi_hmap_free(&t->keys);
    free(t->key_ents);
    nfi_buf_free(&t->key_text);
    free(t);
}

/* ------------------------------------------------------------------ keys */

/* The ASCII letters the transliterator makes of each Latin letter of
 * U+00C0-U+017F alone ("ä" -> "a", "ß" -> "ss", "ł" -> "l"), asked once per
 * context. Its rules for these letters depend on their neighbours only in
 * case ("Æ" before a lower-case letter is "Ae", else "AE"), which the key's
 * folding erases, so a word of ASCII and these letters is the
 * concatenation of its letters' forms: ICU's 40,000 instructions a word
 * become a table lookup a letter (most non-ASCII forms of European
 * languages). */
static void latin_ascii(nfi_translit *t)
{
    t->latin_built = true;
    for (int cp = LATIN_LO; cp <= LATIN_HI; cp++) {
        uint8_t *d = t->latin[cp - LATIN_LO];
        UChar u[16] = {(UChar)cp};
        int32_t len = 1, limit = 1;
        UErrorCode e = U_ZERO_ERROR;
        utrans_transUChars(t->tr, u, &len, 16, 0, &limit, &e);
        d[0] = LATIN_NONE;
        if (U_FAILURE(e))
            continue;
        uint8_t m = 0;
        for (int32_t i = 0; i < len && m < 4; i++)
            if (u[i] < 0x80 && m < 3)
                d[1 + m++] = (uint8_t)u[i];
            else if (u[i] < 0x80)
                m = 4; /* longer than kept: ICU decides */
        if (m <= 3)
            d[0] = m;
    }
}

/* s[0..n) through the table when it holds only ASCII and letters of
 * U+00C0-U+017F whose forms are known; false (nothing appended) otherwise. */
static bool latin_fast(const nfi_translit *t, const char *s, size_t n, nfi_buf *out)
{
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            nfi_buf_putc(out, (char)c);
            continue;
        }
        unsigned cp = i + 1 < n && (c & 0xE0) == 0xC0 && ((unsigned char)s[i + 1] & 0xC0) == 0x80
                          ? (unsigned)(c & 0x1F) << 6 | ((unsigned char)s[i + 1] & 0x3F)
                          : 0;
        if (cp < LATIN_LO || cp > LATIN_HI || t->latin[cp - LATIN_LO][0] == LATIN_NONE) {
            out->len = start;
            return false;
        }
        nfi_buf_append(out, (const char *)t->latin[cp - LATIN_LO] + 1, t->latin[cp - LATIN_LO][0]);
        i++;
    }
    return true;
}

/* s[0..n) through the decomposition table (nfi_latin_ascii, the same
 * forms the transliterator gives those letters, checked in
 * test_normalize) when it holds only printable ASCII and letters it
 * covers; false (nothing appended) otherwise. */
static bool nfd_fast(nfi_translit *t, const char *s, size_t n, nfi_buf *out)
{
    if (!t->nfd_latin_state)
        t->nfd_latin_state = nfi_latin_ascii_init(&t->nfd_latin) ? 1 : -1;
    size_t len, chars;
    if (t->nfd_latin_state < 0 || !nfi_buf_reserve(out, n) ||
        !nfi_latin_to_ascii(&t->nfd_latin, s, n, out->data + out->len, &len, &chars))
        return false;
    out->len += len;
    out->data[out->len] = '\0';
    return true;
}

/* Transliterates UTF-8 s to ASCII into out (cached per form). */
static bool to_ascii(nfi_translit *t, const char *s, size_t n, nfi_buf *out)
{
    uint64_t h = hash64(s, n);
    uint64_t *hit = nfi_hmap_get(&t->cache, h);
    if (hit) {
        nfi_buf_puts(out, t->cache_buf.data + *hit - 1);
        return true;
    }
    if (n <= 4 * MAX_PIECE && nfd_fast(t, s, n, out))
        return true;
    if (!nfi_latin_translit(&t->tr, &t->tr_failed) || n > 4 * MAX_PIECE)
        return false;
    if (!t->latin_built)
        latin_ascii(t);
    if (latin_fast(t, s, n, out))
        return !out->oom;
    int32_t cap = (int32_t)n * 4 + 16;
    if (cap > t->u16_cap) {
        UChar *p = realloc(t->u16, (size_t)cap * sizeof *p);
        if (!p)
            return false;
        t->u16 = p;
        t->u16_cap = cap;
    }
    UErrorCode e = U_ZERO_ERROR;
    int32_t len = 0, limit;
    u_strFromUTF8(t->u16, cap, &len, s, (int32_t)n, &e);
    limit = len;
    utrans_transUChars(t->tr, t->u16, &len, cap, 0, &limit, &e);
    if (U_FAILURE(e))
        return false;
    size_t off = t->cache_buf.len;
    for (int32_t i = 0; i < len; i++)
        if (t->u16[i] < 0x80)
            nfi_buf_putc(&t->cache_buf, (char)t->u16[i]);
    nfi_buf_putc(&t->cache_buf, '\0');
    uint64_t *slot = nfi_hmap_put(&t->cache, h, NULL);
    if (!slot || t->cache_buf.oom)
        return false;
    *slot = off + 1;
    nfi_buf_puts(out, t->cache_buf.data + off);
    return true;
}

static char fold_char(char c)
{
    switch (c) {
    case 'c':
    case 'q': return 'k';
    case 'j': return 'y';
    case 'w': return 'v';
    case 'z': return 's';
    default: return c;
    }
}

/* Folds the ASCII letters and digits of s[start..] in place. */
static void fold_key(nfi_buf *b, size_t start)
{
    size_t o = start;
    for (size_t i = start; i < b->len; i++) {
        char c = (char)nfi_lower_ascii((unsigned char)b->data[i]);
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            continue;
        if (c == 'p' && i + 1 < b->len && nfi_lower_ascii((unsigned char)b->data[i + 1]) == 'h') {
            c = 'f';
            i++;
        }
        c = fold_char(c);
        if (o > start && b->data[o - 1] == c && c > '9')
            continue;
        b->data[o++] = c;
    }
    if (o - start >= 5 && b->data[o - 1] == 's')
        o--;
    b->len = o;
    if (b->data)
        b->data[o] = '\0';
}

static size_t strip_possessive(const char *s, size_t n)
{
    if (n > 2 && s[n - 1] == 's' && s[n - 2] == '\'')
        return n - 2;
    if (n > 4 && s[n - 1] == 's' && memcmp(s + n - 4, "\xe2\x80\x99", 3) == 0)
        return n - 4;
    return n;
}

bool nfi_name_key(nfi_translit *t, const char *norm, size_t len, nfi_buf *out)
{
    len = strip_possessive(norm, len);
    size_t start = out->len;
    bool ascii = true;
    for (size_t i = 0; i < len; i++)
        ascii &= (unsigned char)norm[i] < 0x80;
    if (ascii)
        nfi_buf_append(out, norm, len);
    else if (!to_ascii(t, norm, len, out))
        return false;
    if (out->oom)
        return false;
    fold_key(out, start);
    return out->len > start;
}

/* Weekdays and months of the languages that capitalize them (normalized
 * forms): names by form, but they say when, not who or where. */
#define CAL(s)          \
    {                   \
        s, sizeof s - 1 \
    }
static const struct {
    const char *s;
    size_t n;
} calendar[] = {
    CAL("monday"),   CAL("tuesday"),    CAL("wednesday"), CAL("thursday"),    CAL("friday"),
    CAL("saturday"), CAL("sunday"),     CAL("january"),   CAL("february"),    CAL("march"),
    CAL("april"),    CAL("june"),       CAL("july"),      CAL("august"),      CAL("september"),
    CAL("october"),  CAL("november"),   CAL("december"),  CAL("montag"),      CAL("dienstag"),
    CAL("mittwoch"), CAL("donnerstag"), CAL("freitag"),   CAL("samstag"),     CAL("sonnabend"),
    CAL("sonntag"),  CAL("januar"),     CAL("februar"),   CAL("m\xc3\xa4rz"), CAL("juni"),
    CAL("juli"),     CAL("oktober"),    CAL("dezember"),
};

static bool is_calendar(const char *norm, size_t n)
{
    n = strip_possessive(norm, n);
    if (n < 4 || n > 10)
        return false;
    for (size_t i = 0; i < sizeof calendar / sizeof *calendar; i++)
        if (calendar[i].n == n && calendar[i].s[0] == norm[0] && memcmp(calendar[i].s, norm, n) == 0)
            return true;
    return false;
}

/* The cached key of the normalized form norm[0..len) whose nfi_hash64 is
 * h; NULL when it has none (or memory ran out, which, as in nfi_name_key,
 * only loses the name). Each distinct form goes through nfi_name_key (and
 * ICU) once per context, not once per occurrence. The entry stays valid
 * until the next call. */
static key_entry *new_key(nfi_translit *t, const char *norm, size_t len, uint64_t h);

static inline key_entry *cached_key(nfi_translit *t, const char *norm, size_t len, uint64_t h)
{
    const uint64_t *v = nfi_hmap_get(&t->keys, h);
    return v ? &t->key_ents[*v - 1] : new_key(t, norm, len, h);
}

/* cached_key when the form is not cached yet (apart: the lookup, nearly
 * always a hit, is inlined without this path's registers). */
static __attribute__((noinline)) key_entry *new_key(nfi_translit *t, const char *norm, size_t len, uint64_t h)
{
    key_entry *grown = nfi_grow_array(t->key_ents, &t->cap_keys, t->n_keys + 1, sizeof *grown);
    if (!grown)
        return NULL;
    t->key_ents = grown;
    key_entry *e = &t->key_ents[t->n_keys];
    e->key_off = (uint32_t)t->key_text.len;
    if (!nfi_name_key(t, norm, len, &t->key_text)) { /* rare: not cached, as it may be lack of memory */
        t->key_text.len = e->key_off;
        return NULL;
    }
    e->key_len = (uint32_t)(t->key_text.len - e->key_off) & 0x7fffffffu;
    e->calendar = is_calendar(norm, len);
    const char *key = t->key_text.data + e->key_off;
    e->word_h = hash64(key, e->key_len);
    e->feat_h = nfi_feat_hash('n', key, e->key_len);
    e->lower_doc = 0;
    uint64_t *slot = nfi_hmap_put(&t->keys, h, NULL);
    if (!slot)
        return NULL;
    *slot = ++t->n_keys;
    return e;
}

/* A new document (or title): its stamp, and the key cache emptied when
 * it has grown past its bounds. Only here, between documents, as the
 * entries carry the document's lower-case marks (key_entry.lower_doc);
 * a document may take the cache past its bounds by its own forms. */
static void start_doc(nfi_translit *t)
{
    if (++t->stamp == 0 || t->n_keys >= KEY_CACHE_MAX || t->key_text.len >= KEY_TEXT_MAX) {
        nfi_hmap_clear(&t->keys);
        t->n_keys = 0;
        t->key_text.len = 0;
        t->stamp += t->stamp == 0;
    }
}

/* Hashes the normalized form of word token i (t->nh[i]) and prefetches
 * its slot in the key cache: the cache outgrows the CPU
 * caches, and its lookups (cached_key, for lower-case words and names)
 * come only after the pass over the tokens, so the misses overlap instead
 * of stalling one by one (a prefetch changes nothing but timing). */
static inline void hash_norm(nfi_translit *t, const nf_clean_doc *cd, size_t i)
{
    t->nh[i] = hash64(cd->pool + cd->tokens[i].norm, cd->tokens[i].norm_len);
    nfi_hmap_prefetch(&t->keys, t->nh[i]);
}

/* ------------------------------------------------------------ word lists */

/* Small per-language lists that decide how a name run is shown (never
 * which features a document has): job titles put before a name ("Foreign
 * Minister Cho Tae-yul" is shown as "Cho Tae-yul"), and function words,
 * which a sentence start capitalizes ("El", "Der") but which name nothing.
 * W_WEAK_TITLE words are also the first word of names ("General Motors",
 * "State Department", "Lady Gaga"): they are only taken for a title when
 * two name words follow. Royal and papal titles stay ("King Charles",
 * "Pope Francis": that is how readers name them). Words are written in
 * their normalized lower-case form and matched by name key (so inflected
 * or transliterated variants that fold alike match too: Russian
 * "президент" and English "president" share the key "president"). */
enum { W_TITLE = 1, W_WEAK_TITLE = 2, W_FUNC = 4 };

static const struct word_list {
    const char *lang;
    uint8_t kind;
    const char *words; /* separated by single spaces */
} word_lists[] = {
    {"en", W_TITLE,
     "president minister secretary chancellor senator governor spokesman spokeswoman spokesperson ceo "
     "chairman chairwoman chairperson mayor premier ambassador commissioner director mr mrs dr sen gov "
     "rep gen col lt sgt adm deputy"},
    {"en", W_WEAK_TITLE, "general chief state affairs coach captain leader lord lady"},
    {"en", W_FUNC,
     "the an and of in on at to for by with from but or as if it its this that these those he she they "
     "we his her their our after before when while how what why who where not no"},
    {"de", W_TITLE,
     "präsident präsidentin präsidenten bundespräsident bundespräsidentin kanzler kanzlerin bundeskanzler "
     "bundeskanzlerin vizekanzler minister ministerin ministers außenminister außenministerin "
     "außenministers ministerpräsident ministerpräsidentin staatschef staatschefs regierungschef "
     "regierungschefin staatssekretär staatssekretärin senator senatorin gouverneur gouverneurin "
     "bürgermeister bürgermeisterin sprecher sprecherin regierungssprecher vorsitzende vorsitzender "
     "generalsekretär herr frau trainer trainerin chef chefin"},
    {"de", W_WEAK_TITLE, "general"},
    {"de", W_FUNC,
     "der die das den dem des ein eine einen einem einer eines und oder mit von vom zum zur im in am an "
     "auf für nach bei aus er sie es wir ihr sein seine ihre dieser diese dieses wie was wer warum wenn "
     "als auch nicht"},
    {"fr", W_TITLE,
     "président présidente ministre chancelier chancelière secrétaire sénateur sénatrice gouverneur maire "
     "directeur directrice mme mlle"},
    {"fr", W_WEAK_TITLE, "général premier chef"},
    {"fr", W_FUNC,
     "le la les un une des du de au aux en et ou avec pour par sur dans son sa ses ce cette ces il elle "
     "ils elles après selon quand comment pourquoi qui que"},
    {"es", W_TITLE,
     "presidente presidenta ministro ministra canciller secretario secretaria senador senadora gobernador "
     "gobernadora alcalde alcaldesa portavoz director directora sr sra"},
    {"es", W_WEAK_TITLE, "general jefe jefa don doña"},
    {"es", W_FUNC,
     "el la los las lo un una unos unas del de al en y con por para su sus este esta estos estas ese esa "
     "tras sin según cuando como qué quién"},
    {"pt", W_TITLE,
     "presidente presidenta ministro ministra chanceler secretário secretária senador senadora governador "
     "governadora prefeito prefeita diretor diretora técnico treinador sr sra"},
    {"pt", W_WEAK_TITLE, "general chefe dom dona"},
    {"pt", W_FUNC,
     "os as um uma uns umas do da dos das de em no na nos nas ou com por para pelo pela seu sua após "
     "segundo quando como"},
    {"it", W_TITLE,
     "presidente presidentessa ministro ministra cancelliere segretario senatore governatore sindaco "
     "portavoce direttore"},
    {"it", W_WEAK_TITLE, "generale capo"},
    {"it", W_FUNC, "il lo la gli le un una uno del della dei delle di da in con per nel nella dopo"},
    {"ru", W_TITLE,
     "президент президента премьер министр министра канцлер секретарь сенатор губернатор мэр спикер "
     "посол генсек тренер глава главы"},
    {"ru", W_WEAK_TITLE, "генерал"},
    {"ru", W_FUNC, "и в на с по для из от после о у к не как что"},
};

static uint64_t lang_salt(const char *lang) { return hash64(lang, strlen(lang)) * 0x9E3779B97F4A7C15ULL; }

/* The word-list key of a name key in a language. */
static uint64_t word_key(uint64_t salt, const char *key, size_t n) { return hash64(key, n) ^ salt; }

/* The word lists of lang into t->words, each once, at the first document
 * of that language: most corpora meet few of the languages, and keying
 * the Russian lists opened ICU's transliterator (about 150 M
 * instructions). Only a document's own language is ever looked up
 * (word_kind with its salt), so the lists of other languages change no
 * answer. */
static bool build_words(nfi_translit *t, const char *lang)
{
    _Static_assert(sizeof word_lists / sizeof *word_lists <= 64, "words_built has a bit per list");
    for (size_t l = 0; l < sizeof word_lists / sizeof *word_lists; l++) {
        if ((t->words_built >> l & 1) || strcmp(word_lists[l].lang, lang) != 0)
            continue;
        t->words_built |= (uint64_t)1 << l;
        uint64_t salt = lang_salt(word_lists[l].lang);
        for (const char *w = word_lists[l].words; *w;) {
            size_t n = strcspn(w, " ");
            t->pair.len = 0;
            if (nfi_name_key(t, w, n, &t->pair)) {
                uint64_t *v = nfi_hmap_put(&t->words, word_key(salt, t->pair.data, t->pair.len), NULL);
                if (!v)
                    return false;
                *v |= word_lists[l].kind;
            }
            w += n + (w[n] == ' ');
        }
    }
    return true;
}

/* The W_* kinds of a name key (by its nfi_hash64) in a language (0 when
 * in no list). */
static unsigned word_kind(const nfi_translit *t, uint64_t salt, uint64_t key_hash)
{
    const uint64_t *v = nfi_hmap_get(&t->words, key_hash ^ salt);
    return v ? (unsigned)*v : 0;
}

/* ------------------------------------------------------------- detection */

static bool grow_u32(uint32_t **v, size_t cap)
{
    uint32_t *g = realloc(*v, cap * sizeof *g);
    if (g)
        *v = g;
    return g != NULL;
}

static bool grow_scratch(nfi_translit *t, size_t n_tokens)
{
    if (n_tokens <= t->tok_cap)
        return true;
    size_t cap = n_tokens + n_tokens / 2 + 16;
    uint8_t *s = realloc(t->strength, cap);
    if (s)
        t->strength = s;
    uint8_t *tl = realloc(t->title_line, cap);
    if (tl)
        t->title_line = tl;
    uint64_t *nh = realloc(t->nh, cap * sizeof *nh);
    if (nh)
        t->nh = nh;
    /* a failed grow leaves tok_cap as it was, so the next call tries again */
    bool lists = grow_u32(&t->pending, cap) && grow_u32(&t->clear, cap) && grow_u32(&t->hyph, cap) &&
                 grow_u32(&t->lowers, cap) && grow_u32(&t->caps, cap);
    if (!s || !tl || !nh || !lists)
        return false;
    t->tok_cap = cap;
    return true;
}

static bool is_acronym(const char *s, size_t n)
{
    if (n < 2 || n > 6)
        return false;
    size_t letters = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'A' && s[i] <= 'Z')
            letters++;
        else if (!(s[i] >= '0' && s[i] <= '9'))
            return false;
    }
    return letters >= 2;
}

static bool capitalizes_nouns(const char *lang)
{
    return strcmp(lang, "de") == 0 || strcmp(lang, "lb") == 0 || strcmp(lang, "gsw") == 0;
}

/* Marks the capitalized words of one line (t->caps, n of them) once its
 * case is known (title: a title-case line): a clear name (mid-sentence on
 * a prose line) or an acronym gets its strength and is listed in
 * t->clear; any other waits in t->pending until every clear name of the
 * document is known. */
static void mark_caps(nfi_translit *t, const nf_clean_doc *cd, size_t n, bool title, bool nouns,
                      size_t *n_clear, size_t *n_pending)
{
    size_t clear = *n_clear, pending = *n_pending; /* (locals: the stores could alias them) */
    for (size_t k = 0; k < n; k++) {
        size_t i = t->caps[k];
        const nf_token *tk = &cd->tokens[i];
        t->title_line[i] = title;
        bool acro = is_acronym(cd->text + tk->start, tk->len);
        if (!acro && (title || (tk->flags & NF_TOKEN_SENTENCE_START))) {
            t->pending[pending++] = (uint32_t)i;
            continue;
        }
        t->strength[i] = acro || !nouns ? STR_STRONG : STR_WEAK;
        t->clear[clear++] = (uint32_t)i;
    }
    *n_clear = clear;
    *n_pending = pending;
}

/* The document's clear names into t->seen (norm hash -> strongest
 * strength), then the strength of the capitalized words that waited for
 * them. The map is sized for these names and the runs to come (at most
 * one a name token: the capitalized words and the words after a hyphen). */
static bool resolve_pending(nfi_translit *t, size_t n_clear, size_t n_pending, size_t n_hyph)
{
    if (!smap_start(&t->seen, 2 * n_clear + n_pending + n_hyph))
        return false;
    for (size_t k = 0; k < n_clear; k++) {
        size_t i = t->clear[k];
        uint64_t *s = smap_put(&t->seen, t->nh[i], NULL);
        if (!s)
            return false;
        *s = *s > t->strength[i] ? *s : t->strength[i];
    }
    for (size_t k = 0; k < n_pending; k++) {
        const uint64_t *s = smap_get(&t->seen, t->nh[t->pending[k]]);
        t->strength[t->pending[k]] = s ? (uint8_t)*s : STR_NONE;
    }
    return true;
}

static bool add_number(const nf_clean_doc *cd, const nf_token *tk, nfi_docfeat *out);

/* The one pass over the tokens: hashes the words (hash_norm), adds the
 * numbers, lists what the later steps read (words after a hyphen, lower-
 * case words, capitalized words by kind) and marks each line's
 * capitalized words when the line's end shows whether it is set in title
 * case (most of its words capitalized). Every other token's strength is
 * STR_NONE: only a hyphen can make it a name (continue_hyphens). Lines
 * end at the text's newlines, found by memchr once per line (no token
 * holds one): a token starting past the next newline starts a line. */
static bool scan_tokens(nfi_translit *t, const nf_clean_doc *cd, nfi_docfeat *out, size_t *n_clear,
                        size_t *n_pending, size_t *n_hyph, size_t *n_lowers)
{
    bool nouns = capitalizes_nouns(cd->lang);
    size_t n = cd->n_tokens, words = 0, n_caps = 0;
    size_t hyph = 0, lowers = 0; /* (in locals: the stores below could alias what they point to) */
    const char *text = cd->text, *pool = cd->pool;
    const nf_token *tokens = cd->tokens;
    uint8_t *strength = t->strength;
    uint64_t *nh = t->nh;
    const char *nl = n ? memchr(text, '\n', cd->text_len) : NULL;
    size_t next_nl = nl ? (size_t)(nl - text) : SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        const nf_token *tk = &tokens[i];
        if (tk->start > next_nl) { /* (before the first token: an empty line, nothing to mark) */
            mark_caps(t, cd, n_caps, words >= 4 && n_caps * 10 >= words * 6, nouns, n_clear, n_pending);
            words = n_caps = 0;
            nl = memchr(text + tk->start, '\n', cd->text_len - tk->start);
            next_nl = nl ? (size_t)(nl - text) : SIZE_MAX;
        }
        strength[i] = STR_NONE;
        if (tk->kind != NF_TOKEN_WORD) {
            if (tk->kind == NF_TOKEN_NUMBER && !add_number(cd, tk, out))
                return false;
            continue;
        }
        words++;
        /* right after the previous token and a hyphen (the byte first: most are a space) */
        bool hyphen =
            i > 0 && text[tk->start - 1] == '-' && tk[-1].start + (size_t)tk[-1].len + 1 == tk->start;
        nh[i] = hash64(pool + tk->norm, tk->norm_len); /* (hash_norm) */
        nfi_hmap_prefetch(&t->keys, nh[i]);
        if (hyphen)
            t->hyph[hyph++] = (uint32_t)i;
        if (tk->flags & NF_TOKEN_CAPITALIZED)
            t->caps[n_caps++] = (uint32_t)i;
        else if (tk->norm_len >= 3)
            t->lowers[lowers++] = (uint32_t)i;
    }
    mark_caps(t, cd, n_caps, words >= 4 && n_caps * 10 >= words * 6, nouns, n_clear, n_pending);
    *n_hyph = hyph;
    *n_lowers = lowers;
    return true;
}

/* The separator between token i-1 and i when they can share a run. */
static int separator(const nf_clean_doc *cd, size_t i)
{
    const nf_token *a = &cd->tokens[i - 1], *b = &cd->tokens[i];
    const char *gap = cd->text + a->start + a->len;
    size_t n = b->start - a->start - a->len;
    if (n == 1 && gap[0] == ' ')
        return SEP_SPACE;
    if (n == 1 && gap[0] == '-')
        return SEP_HYPHEN;
    if (n == 2 && (unsigned char)gap[0] == 0xC2 && (unsigned char)gap[1] == 0xA0)
        return SEP_SPACE;
    return SEP_NONE;
}

/* A word joined by a hyphen to a name continues it ("Hong-kyun"): the
 * words after a hyphen (t->hyph, in token order, so that a chain
 * "Abc-def-ghi" passes the strength on) take the strength of the name
 * before them. */
static void continue_hyphens(nfi_translit *t, size_t n_hyph)
{
    for (size_t k = 0; k < n_hyph; k++) {
        size_t i = t->hyph[k];
        if (t->strength[i - 1] && !t->strength[i])
            t->strength[i] = t->strength[i - 1];
    }
}

/* Records the keys of the lower-case words that continue no name (the
 * evidence that a capitalized word is a common word, not a name), each
 * key once per document: its cache entry carries the document's stamp,
 * which the runs read too (TF_LOWER_DOC). */
static bool add_lowers(nfi_translit *t, const nf_clean_doc *cd, size_t n_lowers, nfi_docfeat *out)
{
    if (out->n_lower + n_lowers > out->cap_lower) /* (reserve_doc made the room) */
        return false;
    if (n_lowers == 0) /* (then out->lower may be NULL: no offset from it) */
        return true;
    uint64_t *lower = out->lower + out->n_lower;
    size_t m = 0;
    for (size_t k = 0; k < n_lowers; k++) {
        size_t i = t->lowers[k];
        const nf_token *tk = &cd->tokens[i];
        if (t->strength[i]) /* continues a name ("Seung-min") */
            continue;
        key_entry *e = cached_key(t, cd->pool + tk->norm, tk->norm_len, t->nh[i]);
        if (!e || e->lower_doc == t->stamp)
            continue;
        e->lower_doc = t->stamp;
        lower[m++] = e->feat_h;
    }
    out->n_lower += m;
    return true;
}

/* ---------------------------------------------------------- features */

/* A run token: its key at key_off in t->key_text (which only grows within
 * a document, so an offset outlives a reallocation by new_key), its
 * display form in the text. */
typedef struct run_tok {
    uint32_t key_off, key_len;
    const char *disp;
    uint32_t disp_len;
    uint8_t weak, flags; /* flags: TF_* with the separator */
} run_tok;

/* The bytes a piece of n bytes takes in a run: its length byte, then at
 * most MAX_PIECE bytes. */
static size_t piece_size(size_t n) { return 1 + (n < MAX_PIECE ? n : MAX_PIECE); }

/* A piece into room already reserved (piece_size, and 16 bytes more);
 * returns the end of what it wrote. A piece of at most 16 bytes whose
 * source has 16 readable bytes before limit is copied as one 16-byte move
 * (most are a short word: a byte-counted copy or a call cost more); what
 * it writes past the piece lies in the room and is overwritten next. */
static char *write_piece(char *w, const char *s, size_t n, const char *limit)
{
    n = piece_size(n) - 1;
    *w++ = (char)(unsigned char)n;
    if (n <= 16 && (size_t)(limit - s) >= 16)
        memcpy(w, s, 16);
    else
        memcpy(w, s, n);
    return w + n;
}

static void put_piece(nfi_buf *b, const char *s, size_t n)
{
    if (!nfi_buf_reserve(b, piece_size(n)))
        return; /* b->oom tells */
    char *end = write_piece(b->data + b->len, s, n, s); /* (limit s: the plain copy) */
    *end = '\0';
    b->len = (size_t)(end - b->data);
}

/* Serializes a run (see RUN_HEADLINE): head, then per token flags, key,
 * display; once per document (t->seen, by the hash of its key: word_h,
 * the cached hash of its only word's key, for a run of one word, else of
 * the run's keys joined in t->key). */
static bool emit_run(nfi_translit *t, const nf_clean_doc *cd, const run_tok *rt, size_t n, uint8_t head,
                     uint64_t word_h, nfi_docfeat *out)
{
    uint64_t h = n == 1 ? word_h : hash64(t->key.data, t->key.len);
    bool created;
    uint64_t *s = smap_put(&t->seen, h ^ 0x52554E53ULL, &created);
    if (!s)
        return false;
    if (!created)
        return true;
    nfi_buf *b = &out->runs;
    size_t need = 1 + 16; /* one reservation, then plain stores (16: write_piece's moves) */
    for (size_t k = 0; k < n; k++)
        need += 1 + piece_size(rt[k].key_len) + piece_size(rt[k].disp_len);
    if ((b->len + need + 1 > b->cap || b->oom) && !nfi_buf_reserve(b, need))
        return false; /* (the call only to grow) */
    const char *keys = t->key_text.data, *keys_end = keys + t->key_text.cap;
    const char *text_end = cd->text + cd->text_len;
    char *w = b->data + b->len;
    *w++ = (char)(n | head);
    for (size_t k = 0; k < n; k++) {
        *w++ = (char)rt[k].flags;
        w = write_piece(w, keys + rt[k].key_off, rt[k].key_len, keys_end);
        w = write_piece(w, rt[k].disp, rt[k].disp_len, text_end);
    }
    *w = '\0';
    b->len = (size_t)(w - b->data);
    return true;
}

/* Appends a run token's key to t->key (a run's keys joined by single
 * spaces, kept for runs of two tokens or more: their pair features and
 * their run's hash); returns where it starts, or SIZE_MAX when memory ran
 * out. */
static size_t join_key(nfi_translit *t, const run_tok *r)
{
    if (t->key.len + r->key_len + 2 > t->key.cap && !nfi_buf_reserve(&t->key, r->key_len + 1))
        return SIZE_MAX; /* (else no call: a run has a word or two) */
    if (t->key.len > 0)
        t->key.data[t->key.len++] = ' ';
    size_t at = t->key.len;
    memcpy(t->key.data + at, t->key_text.data + r->key_off, r->key_len);
    t->key.len += r->key_len;
    t->key.data[t->key.len] = '\0';
    return at;
}

/* The pair feature of the run's last two tokens, a and b (b's key just
 * joined to t->key at b_off): the hash of "a b". */
static bool emit_pair(nfi_translit *t, const run_tok *a, const run_tok *b, size_t b_off, nfi_docfeat *out)
{
    uint32_t flags = (a->weak || b->weak) ? FEAT_WEAK : 0;
    size_t a_off = b_off - 1 - a->key_len;
    uint64_t h = nfi_feat_hash('b', t->key.data + a_off, t->key.len - a_off);
    return nfi_docfeat_push(out, CH_NAMES, h, flags);
}

/* Whether the n bytes at gap contain the string s. */
static bool gap_has(const char *gap, size_t n, const char *s)
{
    size_t m = strlen(s);
    for (size_t j = 0; j + m <= n; j++)
        if (memcmp(gap + j, s, m) == 0)
            return true;
    return false;
}

/* Whether token i follows a dash, colon, opening quote or bracket, after
 * which a sentence may start ("SEOUL, June 14 (Yonhap) — El ..."). */
static bool after_opening(const nf_clean_doc *cd, size_t i)
{
    if (i == 0)
        return true;
    const nf_token *a = &cd->tokens[i - 1], *b = &cd->tokens[i];
    const char *gap = cd->text + a->start + a->len;
    size_t n = b->start - a->start - a->len;
    if (n == 1 && gap[0] == ' ') /* (most gaps) */
        return false;
    static const char *const opening[] = {"\xe2\x80\x94", "\xe2\x80\x93", ":", "\xc2\xab", "\xe2\x80\x9c",
                                          "\"",           "(",            "\xc2\xbf", "\xc2\xa1"};
    size_t j = 0; /* most gaps are a space: none of the strings' first bytes, none can match */
    while (j < n && gap[j] != ':' && gap[j] != '"' && gap[j] != '(' && (unsigned char)gap[j] != 0xc2 &&
           (unsigned char)gap[j] != 0xe2)
        j++;
    if (j == n)
        return false;
    for (size_t k = 0; k < sizeof opening / sizeof *opening; k++)
        if (gap_has(gap, n, opening[k]))
            return true;
    return false;
}

/* What the shown entities need to know of a run token (TF_*). */
static uint8_t token_flags(const nfi_translit *t, const nf_clean_doc *cd, size_t i, uint64_t salt,
                           const key_entry *e)
{
    const nf_token *tk = &cd->tokens[i];
    unsigned kind = word_kind(t, salt, e->word_h);
    uint8_t f = (t->strength[i] == STR_WEAK ? TF_WEAK : 0) | (kind & W_TITLE ? TF_TITLE : 0) |
                (kind & W_WEAK_TITLE ? TF_WEAK_TITLE : 0) | (kind & W_FUNC ? TF_FUNC : 0);
    if (e->lower_doc == t->stamp) /* (add_lowers: the same form in lower case) */
        f |= TF_LOWER_DOC;
    if ((tk->flags & NF_TOKEN_CAPITALIZED) &&
        ((tk->flags & NF_TOKEN_SENTENCE_START) || t->title_line[i] || after_opening(cd, i)) &&
        !(tk->len <= 4 && is_acronym(cd->text + tk->start, tk->len))) /* "DIRECT" shouts */
        f |= TF_POSITIONAL;
    return f;
}

/* The tokens [from, to) form one run; feats: also the name features
 * (head RUN_HEADLINE: the run is for display only). salt: lang_salt of
 * the document's language. */
static bool add_run(nfi_translit *t, const nf_clean_doc *cd, size_t from, size_t to, uint8_t head,
                    uint64_t salt, nfi_docfeat *out)
{
    run_tok rt[MAX_RUN_TOKENS];
    size_t n = 0;
    bool feats = !(head & RUN_HEADLINE), possessive = false;
    uint64_t first_h = 0;
    t->key.len = 0;
    for (size_t i = from; i < to; i++) {
        const nf_token *tk = &cd->tokens[i];
        const key_entry *e = cached_key(t, cd->pool + tk->norm, tk->norm_len, t->nh[i]);
        if (e && e->calendar) /* known by its form, cached with its key */
            e = NULL;
        if (!e) {
            if (n > 0) /* a calendar word (or a word without a key) inside a run ends it */
                break;
            continue;
        }
        run_tok *r = &rt[n];
        r->key_off = e->key_off;
        r->key_len = e->key_len;
        r->disp = cd->text + tk->start;
        r->disp_len = (uint32_t)strip_possessive(cd->text + tk->start, tk->len);
        r->weak = t->strength[i] == STR_WEAK;
        int sep = n == 0 ? SEP_NONE : possessive ? SEP_POSSESSIVE : separator(cd, i);
        possessive = r->disp_len < tk->len;
        r->flags = (uint8_t)(token_flags(t, cd, i, salt, e) | sep << TF_SEP_SHIFT);
        if (n > 0 && !(tk->flags & NF_TOKEN_CAPITALIZED)) /* "Hard-fighting": placed as its head */
            r->flags |= rt[n - 1].flags & TF_POSITIONAL;
        if (feats && !nfi_docfeat_push(out, CH_NAMES, e->feat_h, (r->weak ? FEAT_WEAK : 0) | FEAT_UNIGRAM))
            return false;
        if (n > 0) { /* the keys joined only from a second token on (most runs have one) */
            size_t at = n == 1 ? join_key(t, &rt[0]) : 0;
            at = at == SIZE_MAX ? at : join_key(t, r);
            if (at == SIZE_MAX || (feats && !emit_pair(t, &rt[n - 1], r, at, out)))
                return false;
        }
        first_h = n == 0 ? e->word_h : first_h;
        if (++n == MAX_RUN_TOKENS)
            break;
    }
    return n == 0 || emit_run(t, cd, rt, n, head, first_h, out);
}

static bool add_number(const nf_clean_doc *cd, const nf_token *tk, nfi_docfeat *out)
{
    char digits[64];
    size_t n = 0;
    const char *s = cd->pool + tk->norm;
    for (size_t i = 0; i < tk->norm_len && n < sizeof digits; i++)
        if (s[i] >= '0' && s[i] <= '9')
            digits[n++] = s[i];
    return n == 0 || nfi_docfeat_push(out, CH_NAMES, nfi_feat_hash('#', digits, n), 0);
}

/* The runs: maximal spans of names joined by a space or hyphen. */
static bool extract_runs(nfi_translit *t, const nf_clean_doc *cd, uint8_t head, nfi_docfeat *out)
{
    if (!build_words(t, cd->lang))
        return false;
    uint64_t salt = lang_salt(cd->lang);
    for (size_t i = 0; i < cd->n_tokens;) {
        if (!t->strength[i]) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < cd->n_tokens && t->strength[j] && separator(cd, j) != SEP_NONE)
            j++;
        if (!add_run(t, cd, i, j, head, salt, out))
            return false;
        i = j;
    }
    return true;
}

/* Room for what the names of a document with n_caps capitalized words
 * and n_lowers lower-case ones add, reserved once: out is new for each
 * document (the event stage keeps a slice's features), and growing its
 * runs, name features and lower-case keys by doubling from nothing cost
 * about five reallocations a document. The runs take about 20 bytes a
 * name token (flags, key, display); the estimate only saves growth. */
static bool reserve_doc(nfi_docfeat *out, size_t n_caps, size_t n_lowers)
{
    if (!nfi_buf_reserve(&out->runs, 20 * n_caps + 32) || !nfi_docfeat_room(out, CH_NAMES, 2 * n_caps))
        return false;
    if (out->n_lower + n_lowers <= out->cap_lower)
        return true;
    uint64_t *l = nfi_grow_array(out->lower, &out->cap_lower, out->n_lower + n_lowers, sizeof *l);
    if (l)
        out->lower = l;
    return l != NULL;
}

nf_status nfi_names_extract(nfi_translit *t, const nf_clean_doc *cd, nfi_docfeat *out, nf_error *err)
{
    if (!grow_scratch(t, cd->n_tokens))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    start_doc(t);
    size_t n_clear = 0, n_pending = 0, n_hyph = 0, n_lowers = 0;
    bool ok = scan_tokens(t, cd, out, &n_clear, &n_pending, &n_hyph, &n_lowers) &&
              resolve_pending(t, n_clear, n_pending, n_hyph);
    if (ok) {
        continue_hyphens(t, n_hyph); /* before the lower-case words: a word continuing a name is none */
        ok = reserve_doc(out, n_clear + n_pending, n_lowers) && add_lowers(t, cd, n_lowers, out) &&
             extract_runs(t, cd, 0, out);
    }
    return ok ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
}

/* The keys of the title's lower-case words (RUN_LOWER): evidence, within
 * an event, that a capitalized word of another title is a common word. */
static bool emit_lower_keys(nfi_translit *t, const nf_clean_doc *cd, nfi_docfeat *out)
{
    size_t count_at = out->runs.len + 1, m = 0;
    nfi_buf_putc(&out->runs, (char)RUN_LOWER);
    nfi_buf_putc(&out->runs, 0);
    for (size_t i = 0; i < cd->n_tokens && m < 255; i++) {
        const nf_token *tk = &cd->tokens[i];
        if (tk->kind != NF_TOKEN_WORD || (tk->flags & NF_TOKEN_CAPITALIZED) || t->strength[i])
            continue; /* strength: a lower-case word that continues a name ("Seung-min") */
        const key_entry *e = cached_key(t, cd->pool + tk->norm, tk->norm_len, t->nh[i]);
        if (!e)
            continue;
        put_piece(&out->runs, t->key_text.data + e->key_off, e->key_len);
        m++;
    }
    if (!out->runs.oom)
        out->runs.data[count_at] = (char)m;
    return !out->runs.oom;
}

/* Where a headline's source name starts ("... to Germany - National
 * Accord Newspaper", "... | Diario La Hora"): the tokens after the last
 * spaced dash or bar, when at most five follow; else n_tokens. */
static size_t source_tail(const nf_clean_doc *cd)
{
    size_t n = cd->n_tokens;
    for (size_t i = n > 5 ? n - 5 : 1; i < n; i++) {
        const nf_token *a = &cd->tokens[i - 1], *b = &cd->tokens[i];
        const char *gap = cd->text + a->start + a->len;
        size_t len = b->start - a->start - a->len;
        if (len >= 3 && gap[0] == ' ' && gap[len - 1] == ' ' &&
            (memchr(gap, '|', len) || memchr(gap, '-', len) || gap_has(gap, len, "\xe2\x80\x93") ||
             gap_has(gap, len, "\xe2\x80\x94")))
            return i;
    }
    return n;
}

/* Where a headline's story starts after a section label ("Olympics
 * Latest: ...", "JO : ...", "LIVE: ..."): after a colon that follows one
 * of its first three tokens; else 0. */
static size_t kicker_end(const nf_clean_doc *cd, size_t to)
{
    for (size_t i = 1; i < to && i <= 3; i++) {
        const nf_token *a = &cd->tokens[i - 1], *b = &cd->tokens[i];
        if (memchr(cd->text + a->start + a->len, ':', b->start - a->start - a->len))
            return i;
    }
    return 0;
}

nf_status nfi_title_runs(nfi_translit *t, const nf_clean_doc *cd, const nf_token *tokens, size_t n,
                        const char *pool, nfi_docfeat *out, nf_error *err)
{
    nf_clean_doc v = *cd;
    v.text = cd->title;
    v.text_len = cd->title ? strlen(cd->title) : 0;
    v.tokens = (nf_token *)tokens;
    v.n_tokens = n;
    v.pool = (char *)pool;
    if (!v.text || !grow_scratch(t, n))
        return v.text ? nfi_fail(err, NF_ERR_NOMEM, "out of memory") : NF_OK;
    size_t to = source_tail(&v), from = kicker_end(&v, to);
    if (from) /* tokens is NULL when the title has none: no offset on it */
        v.tokens += from;
    v.n_tokens = n = to - from;
    tokens = v.tokens;
    /* Title case capitalizes every word but short function words ("Nishiya
     * Wins Gold In Skateboarding"); a sentence-case headline, however many
     * names it holds, writes some longer word in lower case ("takes"). */
    size_t words = 0, lower_long = 0;
    for (size_t i = 0; i < n; i++) {
        words += tokens[i].kind == NF_TOKEN_WORD;
        lower_long += tokens[i].kind == NF_TOKEN_WORD && !(tokens[i].flags & NF_TOKEN_CAPITALIZED) &&
                      tokens[i].norm_len >= 4;
    }
    bool title_case = words >= 3 && lower_long == 0;
    bool nouns = capitalizes_nouns(cd->lang);
    if (!smap_start(&t->seen, n))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        t->title_line[i] = title_case;
        bool cap = tokens[i].kind == NF_TOKEN_WORD && (tokens[i].flags & NF_TOKEN_CAPITALIZED);
        bool acro = cap && is_acronym(v.text + tokens[i].start, tokens[i].len);
        t->strength[i] = !cap ? STR_NONE : (acro || !nouns) ? STR_STRONG : STR_WEAK;
    }
    start_doc(t); /* (no lower-case marks: TF_LOWER_DOC is for texts) */
    size_t n_hyph = 0;
    for (size_t i = 0; i < n; i++) {
        if (tokens[i].kind != NF_TOKEN_WORD)
            continue;
        hash_norm(t, &v, i);
        if (i > 0 && separator(&v, i) == SEP_HYPHEN)
            t->hyph[n_hyph++] = (uint32_t)i;
    }
    continue_hyphens(t, n_hyph);
    bool ok = extract_runs(t, &v, RUN_HEADLINE, out) && emit_lower_keys(t, &v, out);
    return ok ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
}

/* -------------------------------------------------------------- entities */

typedef struct mention {
    uint64_t key_hash;
    uint32_t comp, doc;
    bool pref;                /* from a report in the headline's language */
    size_t key_off, disp_off; /* into the scratch buffer while it grows */
    const char *key, *disp;   /* set once it stops growing */
} mention;

typedef struct cand {
    const char *key, *disp;
    size_t kl; /* strlen(key): the merges compare lengths of every pair */
    uint32_t *comps, *docs; /* sorted unique; in the event's id pool (collect_ctx.ids) until a merge
                               gives them arrays of their own (owned) */
    size_t n_comps, n_docs;
    bool owned;
    bool merged;
} cand;

/* Evidence of one key within the event, in members: shown as a clear name
 * (not weak, not capitalized by position), named at all, written in lower
 * case in a title (RUN_LOWER), named alone (a run of one word, not weak). Packed
 * EV_BITS each into one value (saturating). */
#define EV_BITS 16
#define EV_MAX ((1u << EV_BITS) - 1)
enum { EV_CLEAR = 0, EV_NAMED = 1, EV_LOWER = 2, EV_ALONE = 3 };

/* One token of a serialized run. */
typedef struct run_item {
    const char *key, *disp;
    size_t kl, dl;
    uint64_t h; /* hash64 of the key (parse_runs) */
    uint8_t flags;
} run_item;

/* One record of a member's runs, its tokens at items[first] on. */
typedef struct run_rec {
    uint32_t first;
    uint8_t head, n;
} run_rec;

typedef struct collect_ctx {
    nfi_buf text; /* keys and displays, NUL-terminated */
    mention *m;
    size_t n, cap;
    smap doc_seen; /* key hash -> stamp of the member and pass that saw it last << 8 | EV_* kinds counted */
    uint64_t stamp;    /* the current member's in the current pass (1, 2, ...): no clearing per member */
    smap evidence; /* key hash -> EV_* counts */
    nfi_name_ok_fn name_ok;
    const void *ok_ctx;
    uint32_t *ids; /* every candidate's components and documents, two per mention (build_cands) */
    run_item *items; /* every member's runs, read once (parse_runs) */
    size_t n_items, cap_items;
    run_rec *recs;
    size_t n_recs, cap_recs;
    size_t *member_end; /* member i's records end at recs[member_end[i]] */
    size_t cap_members;
} collect_ctx;

/* Reads one length-prefixed piece. */
static const char *piece(const char **p, const char *end, size_t *n)
{
    if (*p >= end)
        return NULL;
    *n = (unsigned char)**p;
    const char *s = *p + 1;
    if (s + *n > end)
        return NULL;
    *p = s + *n;
    return s;
}

/* Reads one record: a run into it[] (*n tokens), or a RUN_LOWER list
 * (its keys into it[].key, at most 255). Returns the head, or -1 when
 * the record is cut short. */
/* (inline: a call a record was a fifteenth of the collection) */
static inline __attribute__((always_inline)) int read_record(const char **p, const char *end, run_item *it,
                                                            size_t *n)
{
    if (*p >= end)
        return -1;
    int head = (unsigned char)*(*p)++;
    bool lower = head == RUN_LOWER;
    if (lower && *p >= end)
        return -1;
    *n = lower ? (unsigned char)*(*p)++ : (size_t)(head & RUN_COUNT);
    if (!lower && *n > MAX_RUN_TOKENS)
        return -1;
    for (size_t k = 0; k < *n; k++) {
        if (!lower && *p >= end)
            return -1;
        it[k].flags = lower ? 0 : (uint8_t)*(*p)++;
        if (!(it[k].key = piece(p, end, &it[k].kl)))
            return -1;
        if (!lower && !(it[k].disp = piece(p, end, &it[k].dl)))
            return -1;
    }
    return head;
}

bool nfi_runs_valid(const char *runs, size_t len)
{
    run_item it[255];
    const char *p = runs, *end = runs + len;
    size_t n;
    while (p < end)
        if (read_record(&p, end, it, &n) < 0)
            return false;
    return true;
}

/* Counts one member's evidence of the kinds in mask (bit 1 << EV_*) for
 * the key hashed h, once per member and kind: doc_seen holds, per key, the
 * kinds this member counted already (under its stamp; a key last seen
 * under another stamp counted none), so a token costs one lookup there and
 * at most one in the event's counts. */
static bool count_evidence(collect_ctx *c, uint64_t h, unsigned mask)
{
    uint64_t *seen = smap_put(&c->doc_seen, h, NULL);
    if (!seen)
        return false;
    if (*seen >> 8 != c->stamp)
        *seen = c->stamp << 8;
    unsigned fresh = mask & ~(unsigned)*seen;
    if (!fresh)
        return true;
    *seen |= fresh;
    uint64_t *v = smap_put(&c->evidence, h, NULL);
    if (!v)
        return false;
    for (int kind = 0; kind < 4; kind++)
        if ((fresh >> kind & 1) && ((*v >> (EV_BITS * kind)) & EV_MAX) < EV_MAX)
            *v += (uint64_t)1 << (EV_BITS * kind);
    return true;
}

/* count_evidence for an event of one member: each kind's count is 0 or 1,
 * so the kinds are set in the event's counts directly, without the
 * per-member map (92% of rc20m's events have one member). */
static bool count_evidence_one(collect_ctx *c, uint64_t h, unsigned mask)
{
    uint64_t *v = smap_put(&c->evidence, h, NULL);
    if (!v)
        return false;
    for (int kind = 0; kind < 4; kind++)
        if (mask >> kind & 1)
            *v |= (uint64_t)1 << (EV_BITS * kind);
    return true;
}

/* All EV_* counts of a key, packed (evidence_of reads one). */
static uint64_t evidence_all(const collect_ctx *c, uint64_t key_hash)
{
    const uint64_t *v = smap_get(&c->evidence, key_hash);
    return v ? *v : 0;
}

static uint32_t evidence_of(uint64_t ev, int kind) { return (uint32_t)((ev >> (EV_BITS * kind)) & EV_MAX); }

static uint32_t evidence(const collect_ctx *c, uint64_t key_hash, int kind)
{
    return evidence_of(evidence_all(c, key_hash), kind);
}

/* Grows v (of *cap elements of size) to room for need. */
static bool room_for(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    void *g = nfi_grow_array(*v, cap, need, size);
    if (g)
        *v = g;
    return g != NULL;
}

/* First pass over every member: reads its runs once into c->items and
 * c->recs (the second pass, gather, reads them there), and counts which
 * keys the event's reports name clearly, name at all, and write in lower
 * case. */
static bool parse_runs(collect_ctx *c, const nfi_entity_input *in, size_t n)
{
    if (!room_for((void **)&c->member_end, &c->cap_members, n, sizeof *c->member_end))
        return false;
    for (size_t i = 0; i < n; i++) {
        c->stamp++;
        const char *p = in[i].runs, *end = p + in[i].runs_len;
        while (p < end) {
            if ((c->n_items + 255 > c->cap_items || c->n_recs == c->cap_recs) && /* (the calls only to grow) */
                !(room_for((void **)&c->items, &c->cap_items, c->n_items + 255, sizeof *c->items) &&
                  room_for((void **)&c->recs, &c->cap_recs, c->n_recs + 1, sizeof *c->recs)))
                return false;
            run_item *it = c->items + c->n_items;
            size_t m;
            int head = read_record(&p, end, it, &m);
            if (head < 0)
                return false;
            c->recs[c->n_recs++] = (run_rec){(uint32_t)c->n_items, (uint8_t)head, (uint8_t)m};
            c->n_items += m;
            for (size_t k = 0; k < m; k++) {
                bool clear = !(it[k].flags & (TF_WEAK | TF_POSITIONAL));
                bool alone = k == 0 && head != RUN_LOWER && m == 1 && !(it[0].flags & TF_WEAK);
                unsigned mask = head == RUN_LOWER ? 1u << EV_LOWER
                                                  : 1u << EV_NAMED | (clear ? 1u << EV_CLEAR : 0) |
                                                        (alone ? 1u << EV_ALONE : 0);
                uint64_t h = it[k].h = hash64(it[k].key, it[k].kl);
                if (!(n == 1 ? count_evidence_one(c, h, mask) : count_evidence(c, h, mask)))
                    return false;
            }
        }
        c->member_end[i] = c->n_recs;
    }
    return true;
}

static bool add_mention(collect_ctx *c, uint64_t h, const char *key, size_t key_len, const char *disp,
                        size_t disp_len, uint32_t comp, uint32_t doc, bool pref)
{
    uint64_t *seen = smap_put(&c->doc_seen, h, NULL);
    if (!seen)
        return false;
    if (*seen >> 8 == c->stamp) /* this member mentioned it already */
        return true;
    *seen = c->stamp << 8;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        mention *m = realloc(c->m, cap * sizeof *m);
        if (!m)
            return false;
        c->m = m;
        c->cap = cap;
    }
    mention *m = &c->m[c->n++];
    m->key_hash = h;
    m->comp = comp;
    m->doc = doc;
    m->pref = pref;
    if (!nfi_buf_reserve(&c->text, key_len + disp_len + 2)) /* (one call, not four) */
        return false;
    char *w = c->text.data + c->text.len;
    m->key_off = c->text.len;
    memcpy(w, key, key_len);
    w[key_len] = '\0';
    m->disp_off = m->key_off + key_len + 1;
    memcpy(w + key_len + 1, disp, disp_len);
    w[key_len + 1 + disp_len] = '\0';
    c->text.len += key_len + disp_len + 2;
    return true;
}

typedef struct seg {
    nfi_buf key, disp;
} seg;

/* What a run token is to the shown entities: not a name (ends a piece),
 * a common word (kept only between names: "UN Security Council"), or a
 * name. Text runs ask the corpus (name_ok); headline runs, which have no
 * corpus statistics, ask the event: a word capitalized only by its place
 * must be a clear name in some report, and a word the event's titles
 * write in lower case as often as a quarter of the times they name it is
 * common ("Wins", "Gold" in title-case headlines). A function word at a
 * sentence start is never a name ("El Ayuntamiento"). */
enum { T_CUT = 0, T_COMMON = 1, T_NAME = 2 };

static int classify(const collect_ctx *c, int head, const run_item *t)
{
    if ((t->flags & TF_FUNC) && (t->flags & TF_POSITIONAL))
        return T_CUT;
    uint64_t fh = nfi_feat_hash_inline('n', t->key, t->kl);
    bool weak = t->flags & TF_WEAK;
    if (!(head & RUN_HEADLINE)) {
        if (c->name_ok(c->ok_ctx, fh, weak))
            return T_NAME;
        return weak && c->name_ok(c->ok_ctx, fh, false) ? T_CUT : T_COMMON;
    }
    uint64_t ev = evidence_all(c, t->h);
    if (evidence_of(ev, EV_CLEAR) == 0 && !c->name_ok(c->ok_ctx, fh, false))
        return T_CUT;
    uint32_t lower = evidence_of(ev, EV_LOWER);
    return lower && lower * 4 >= evidence_of(ev, EV_NAMED) ? T_COMMON : T_NAME;
}

static bool is_title(const run_item *it, size_t k, size_t to)
{
    return (it[k].flags & TF_TITLE) || ((it[k].flags & TF_WEAK_TITLE) && to - k > 2);
}

/* Whether a word shown alone is a common word: a function word, a job
 * title ("Premier" of "Premier ministre"), one its document also writes in
 * lower case, or a weak (German) noun whose key
 * the event's other reports only use inside longer names (the German
 * "Hospital" of "St Brannoc's Hospital"). */
static bool lone_common(const collect_ctx *c, const run_item *t)
{
    if (t->flags & (TF_FUNC | TF_LOWER_DOC | TF_TITLE | TF_WEAK_TITLE))
        return true;
    uint64_t ev = (t->flags & TF_WEAK) ? evidence_all(c, t->h) : 0;
    return evidence_of(ev, EV_CLEAR) > 0 && evidence_of(ev, EV_ALONE) == 0;
}

/* Adds the piece [from, to) of a run, job titles and what precedes them
 * cut off ("South Korean First Vice Foreign Minister Kim Hong-kyun" ->
 * "Kim Hong-kyun"), then common and lower-case words before the first
 * name; a lone word is dropped when it is common (lone_common). */
static bool add_piece(collect_ctx *c, const run_item *it, const int *cls, size_t from, size_t to,
                      const nfi_entity_input *m, uint32_t doc, seg *s)
{
    for (size_t k = from; k < to; k++)
        if (is_title(it, k, to))
            from = k + 1;
    while (from < to && (cls[from] != T_NAME || (it[from].dl && it[from].disp[0] >= 'a' && it[from].disp[0] <= 'z')))
        from++;
    if (from == to)
        return true;
    if (to - from == 1 && lone_common(c, &it[from]))
        return true;
    if (to - from == 1) /* (most pieces: the token's own key, display and hash) */
        return it[from].kl < 2 || add_mention(c, it[from].h, it[from].key, it[from].kl, it[from].disp,
                                              it[from].dl, m->component, doc, m->headline_lang);
    size_t kl = to - from - 1, dl = kl; /* the separators, then the words: one reservation each */
    for (size_t k = from; k < to; k++) {
        kl += it[k].kl;
        dl += it[k].dl;
    }
    s->key.len = s->disp.len = 0;
    if (!nfi_buf_reserve(&s->key, kl) || !nfi_buf_reserve(&s->disp, dl))
        return false;
    char *wk = s->key.data, *wd = s->disp.data;
    for (size_t k = from; k < to; k++) {
        if (k > from) {
            *wk++ = ' ';
            *wd++ = ((it[k].flags >> TF_SEP_SHIFT) & 3) == SEP_HYPHEN ? '-' : ' ';
        }
        memcpy(wk, it[k].key, it[k].kl);
        wk += it[k].kl;
        memcpy(wd, it[k].disp, it[k].dl);
        wd += it[k].dl;
    }
    *wk = *wd = '\0';
    s->key.len = kl;
    s->disp.len = dl;
    return s->key.len < 2 || add_mention(c, hash64(s->key.data, s->key.len), s->key.data, s->key.len, s->disp.data,
                                         s->disp.len, m->component, doc, m->headline_lang);
}

/* Whether what follows an owner (token k on) is a name of its own: two
 * name words before the next cut ("Japan's Daiki Hashimoto"), or one that
 * the event also names alone ("Japan's Nishiya"; but "St Brannoc's
 * Hospital"). */
static bool name_follows(const collect_ctx *c, const run_item *it, const int *cls, size_t k, size_t n)
{
    size_t names = 0, first = n;
    for (; k < n && cls[k] != T_CUT; k++)
        if (cls[k] == T_NAME) {
            first = names++ ? first : k;
        }
    return names >= 2 || (names == 1 && evidence(c, it[first].h, EV_ALONE) > 0);
}

/* Cuts one run into pieces at tokens that are no name and after an owner
 * when a name follows ("Japan's | Daiki Hashimoto", but "St Brannoc's
 * Hospital"); common words survive after a name ("UN Security Council",
 * "Juegos Olímpicos"), not before it ("Foreign"). */
static bool collect_run(collect_ctx *c, int head, const run_item *it, size_t n, const nfi_entity_input *m,
                        uint32_t doc, seg *s)
{
    int cls[MAX_RUN_TOKENS];
    for (size_t k = 0; k < n; k++)
        cls[k] = classify(c, head, &it[k]);
    size_t from = 0;
    for (size_t k = 0; k <= n; k++) {
        bool end = k == n || cls[k] == T_CUT ||
                   (((it[k].flags >> TF_SEP_SHIFT) & 3) == SEP_POSSESSIVE && name_follows(c, it, cls, k, n));
        if (!end)
            continue;
        size_t to = k;
        if (to > from && !add_piece(c, it, cls, from, to, m, doc, s))
            return false;
        from = k < n && cls[k] == T_CUT ? k + 1 : k;
    }
    return true;
}

static int cmp_mention(const void *a, const void *b)
{
    const mention *x = a, *y = b;
    if (x->key_hash != y->key_hash)
        return x->key_hash < y->key_hash ? -1 : 1;
    int c = strcmp(x->disp, y->disp);
    if (c)
        return c;
    return x->doc < y->doc ? -1 : x->doc > y->doc;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static size_t sort_unique(uint32_t *v, size_t n)
{
    if (n < 2) /* most keys of an event: one mention */
        return n;
    if (n <= 16) { /* most others: a few (the same order as qsort's: these are plain numbers) */
        for (size_t i = 1; i < n; i++) {
            uint32_t x = v[i];
            size_t j = i;
            for (; j > 0 && v[j - 1] > x; j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
    } else {
        qsort(v, n, sizeof *v, cmp_u32);
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (o == 0 || v[o - 1] != v[i])
            v[o++] = v[i];
    return o;
}

/* Whether a display form is set in capitals throughout (a dateline's
 * "SEOUL"; an acronym too, but then no other form exists). */
static bool shouting(const char *s)
{
    size_t letters = 0;
    for (const char *p = s; *p; p++) {
        if (*p >= 'a' && *p <= 'z')
            return false;
        letters += (*p >= 'A' && *p <= 'Z') || (unsigned char)*p >= 0x80;
    }
    return letters >= 4;
}

/* One candidate per key: its display form is the most used one in the
 * reports in the headline's language when they name it, else the most
 * used one (one in capitals only when there is no other). */
static bool make_cand(collect_ctx *c, size_t from, size_t to, cand *out)
{
    size_t best = from, best_n = 0, best_pref = 0;
    bool best_shouts = true;
    for (size_t i = from; i < to;) {
        size_t j = i, pref = 0;
        for (; j < to && strcmp(c->m[j].disp, c->m[i].disp) == 0; j++)
            pref += c->m[j].pref;
        bool shouts = shouting(c->m[i].disp);
        if ((best_shouts && !shouts) ||
            (shouts == best_shouts && (pref > best_pref || (pref == best_pref && j - i > best_n)))) {
            best_n = j - i;
            best_pref = pref;
            best = i;
            best_shouts = shouts;
        }
        i = j;
    }
    out->key = c->m[from].key;
    out->kl = strlen(out->key);
    out->disp = c->m[best].disp;
    out->comps = c->ids + 2 * from;
    out->docs = out->comps + (to - from);
    out->owned = false;
    for (size_t i = from; i < to; i++) {
        out->comps[i - from] = c->m[i].comp;
        out->docs[i - from] = c->m[i].doc;
    }
    out->n_comps = sort_unique(out->comps, to - from);
    out->n_docs = sort_unique(out->docs, to - from);
    out->merged = false;
    return true;
}

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->merged != y->merged)
        return x->merged ? 1 : -1;
    if (x->n_comps != y->n_comps)
        return x->n_comps > y->n_comps ? -1 : 1;
    if (x->n_docs != y->n_docs)
        return x->n_docs > y->n_docs ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* ------------------------------------------------------------ ranking */

/* Sorts v[0, n) by key, stable (tmp: room for n): insertion-sorted runs of
 * eight, then bottom-up merges; the comparisons are inline integer ones
 * (qsort's comparator calls, with strcmp at the end of most, were a tenth
 * of the collection). */
static void kv_sort_stable(nfi_kv *v, nfi_kv *tmp, size_t n)
{
    enum { RUN = 8 };
    for (size_t lo = 0; lo < n; lo += RUN) {
        size_t hi = lo + RUN < n ? lo + RUN : n;
        for (size_t i = lo + 1; i < hi; i++) {
            nfi_kv x = v[i];
            size_t j = i;
            for (; j > lo && v[j - 1].key > x.key; j--)
                v[j] = v[j - 1];
            v[j] = x;
        }
    }
    nfi_kv *src = v, *dst = tmp;
    for (size_t w = RUN; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = src[j].key < src[i].key ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        nfi_kv *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, n * sizeof *v);
}

/* Sorts the n records (size bytes each) at base as qsort with cmp would:
 * kv[i].key must be an integer key of record i that orders as cmp does
 * wherever keys differ (cmp a total order); records of equal keys are
 * ordered by cmp. Falls back to qsort when memory runs out. kv: n records
 * (val is set here). */
static void sort_by_key(void *base, size_t n, size_t size, nfi_kv *kv, int (*cmp)(const void *, const void *))
{
    nfi_kv *tmp = malloc(n * sizeof *tmp);
    char *out = malloc(n * size);
    if (!tmp || !out) {
        free(tmp);
        free(out);
        qsort(base, n, size, cmp);
        return;
    }
    for (size_t i = 0; i < n; i++)
        kv[i].val = i;
    kv_sort_stable(kv, tmp, n);
    const char *in = base;
    for (size_t i = 0; i < n; i++)
        memcpy(out + i * size, in + kv[i].val * size, size);
    for (size_t i = 0; i < n;) { /* equal keys: mentions of one key, names alike in counts and prefix */
        size_t j = i + 1;
        while (j < n && kv[j].key == kv[i].key)
            j++;
        if (j - i > 1)
            qsort(out + i * size, j - i, size, cmp);
        i = j;
    }
    memcpy(base, out, n * size);
    free(tmp);
    free(out);
}

/* The mentions in cmp_mention's order: by key hash, its first key. */
static void sort_mentions(mention *m, size_t n)
{
    nfi_kv *kv = n > 1 ? malloc(n * sizeof *kv) : NULL;
    if (!kv) {
        if (n > 1)
            qsort(m, n, sizeof *m, cmp_mention);
        return;
    }
    for (size_t i = 0; i < n; i++)
        kv[i].key = m[i].key_hash;
    sort_by_key(m, n, sizeof *m, kv, cmp_mention);
    free(kv);
}

/* The candidates in cmp_cand's order (the ranking). Its key: not merged,
 * then more sources, then more documents, then the key's first four bytes
 * (in strcmp's order), each in its own bits, smaller first; counts too
 * large for their bits leave the order to qsort. */
static void rank_cands(cand *cs, size_t n)
{
    nfi_kv *kv = n > 1 ? malloc(n * sizeof *kv) : NULL;
    bool fits = kv != NULL;
    for (size_t i = 0; fits && i < n; i++) {
        uint32_t w = 0;
        if (cs[i].kl >= 4) { /* (most keys: one load) */
            memcpy(&w, cs[i].key, 4);
            w = __builtin_bswap32(w);
        } else {
            for (int k = 0; k < 4 && cs[i].key[k]; k++)
                w |= (uint32_t)(unsigned char)cs[i].key[k] << (24 - 8 * k);
        }
        uint64_t prefix = w;
        fits = cs[i].n_comps <= 0x7fff && cs[i].n_docs <= 0xffff;
        kv[i].key = (uint64_t)cs[i].merged << 63 | (uint64_t)(0x7fff - cs[i].n_comps) << 48 |
                    (uint64_t)(0xffff - cs[i].n_docs) << 32 | prefix;
    }
    if (fits)
        sort_by_key(cs, n, sizeof *cs, kv, cmp_cand);
    else if (n > 1)
        qsort(cs, n, sizeof *cs, cmp_cand);
    free(kv);
}

/* Whether two keys (la, lb bytes) differ by at most one edit. */
static bool one_edit(const char *a, size_t la, const char *b, size_t lb)
{
    if (la < lb) {
        const char *t = a;
        a = b;
        b = t;
        size_t tl = la;
        la = lb;
        lb = tl;
    }
    if (la - lb > 1)
        return false;
    size_t i = 0;
    while (i < lb && a[i] == b[i])
        i++;
    if (la == lb)
        return strcmp(a + i + 1, b + i + 1) == 0;
    return strcmp(a + i + 1, b + i) == 0;
}

/* Whether the words of short end the words of long ("putin" ends
 * "vladimir putin"). */
static bool word_suffix(const char *shrt, size_t ls, const char *lng, size_t ll)
{
    return ll > ls + 1 && lng[ll - ls - 1] == ' ' && strcmp(lng + ll - ls, shrt) == 0; /* space: cheap */
}

/* Whether a single word starts the words of long ("north" starts "north
 * korea", "kho" starts "kho tae yul"). */
static bool word_prefix(const char *shrt, size_t ls, const char *lng, size_t ll)
{
    return ll > ls + 1 && lng[ls] == ' ' && strncmp(lng, shrt, ls) == 0 && !strchr(shrt, ' ');
}

/* Whether every element of a (sorted) is in b (sorted). */
static bool subset(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    size_t j = 0;
    for (size_t i = 0; i < na; i++) {
        while (j < nb && b[j] < a[i])
            j++;
        if (j == nb || b[j] != a[i])
            return false;
    }
    return true;
}

static size_t words(const char *key)
{
    size_t n = 1;
    for (const char *p = key; *p; p++)
        n += *p == ' ';
    return n;
}

/* Whether some candidate is the word w (n bytes) alone. */
static bool standalone(const cand *all, size_t n_all, const char *w, size_t n)
{
    for (size_t i = 0; i < n_all; i++)
        if (all[i].kl == n && memcmp(all[i].key, w, n) == 0)
            return true;
    return false;
}

/* Whether the longer name lng stands for the single word shrt that ends
 * it: when it is common enough beside it (a third of its reports), or
 * when its other words are never named alone ("Emmanuel Macron" explains
 * "Macron"; a rare "Olympic COVID" does not explain "COVID": "Olympic"
 * is named alone). */
static bool explains(const cand *lng, const cand *shrt, const cand *all, size_t n_all)
{
    if (lng->n_docs * 3 >= shrt->n_docs)
        return true;
    const char *end = lng->key + lng->kl - shrt->kl;
    for (const char *w = lng->key; w < end;) {
        size_t n = strcspn(w, " ");
        if (standalone(all, n_all, w, n))
            return false;
        w += n + 1;
    }
    return true;
}

/* Whether two keys of two or more words (la, lb bytes) have the same
 * words in another order (given name and family name swapped). */
static bool same_words(const char *a, size_t la, const char *b, size_t lb)
{
    if (la != lb || !strchr(a, ' ') || strcmp(a, b) == 0)
        return false;
    for (const char *w = a; *w;) {
        size_t n = strcspn(w, " ");
        bool found = false;
        for (const char *v = b; *v && !found;) {
            size_t m = strcspn(v, " ");
            found = m == n && memcmp(v, w, n) == 0;
            v += m + (v[m] == ' ');
        }
        if (!found)
            return false;
        w += n + (w[n] == ' ');
    }
    return true;
}

/* Whether a and b name the same thing, and which one stands for both:
 * spelling variants (one edit apart) keep the stronger (a, ranked first);
 * when one is the ending of the other, a name of several words is the core
 * that titles were put before ("Foreign Minister Kim Hong-kyun" -> "Kim
 * Hong-kyun"), while a single word is a surname or short form that the
 * longer name explains ("Putin" -> "Vladimir Putin"); a single word that
 * starts a longer name is its short form when every report using it also
 * uses the longer one ("North" -> "North Korea", "Cho" -> "Cho Tae-yul";
 * but "Kellmouth" stays beside "Kellmouth Roads"). Returns the index
 * (0 for a, 1 for b) of the representative, or -1. */
static int merge_rep(const cand *a, const cand *b, const cand *all, size_t n_all)
{
    size_t la = a->kl, lb = b->kl;
    if (la >= 6 && lb >= 6 && one_edit(a->key, la, b->key, lb))
        return 0;
    if (la >= 3 && word_prefix(a->key, la, b->key, lb) && subset(a->docs, a->n_docs, b->docs, b->n_docs))
        return 1; /* a starts b: "North" -> "North Korea" */
    if (lb >= 3 && word_prefix(b->key, lb, a->key, la) && subset(b->docs, b->n_docs, a->docs, a->n_docs))
        return 0;
    if (la < 4 || lb < 4)
        return -1;
    if (word_suffix(b->key, lb, a->key, la)) /* b ends a */
        return words(b->key) > 1 ? 1 : explains(a, b, all, n_all) ? 0 : -1;
    if (word_suffix(a->key, la, b->key, lb)) /* a ends b */
        return words(a->key) > 1 ? 0 : explains(b, a, all, n_all) ? 1 : -1;
    if (same_words(a->key, la, b->key, lb)) /* "Nishiya Momiji" = "Momiji Nishiya" */
        return 0;
    return -1;
}

/* a united with b (both sorted unique), in a new array of *n; NULL when
 * memory ran out. */
static uint32_t *united(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, size_t *n)
{
    uint32_t *v = malloc((na + nb) * sizeof *v);
    if (!v)
        return NULL;
    memcpy(v, a, na * sizeof *v);
    memcpy(v + na, b, nb * sizeof *v);
    *n = sort_unique(v, na + nb);
    return v;
}

static void free_cand(cand *c)
{
    if (c->owned) {
        free(c->comps);
        free(c->docs);
    }
}

/* rep takes other's sources and documents, in arrays of its own. */
static bool absorb(cand *rep, cand *other)
{
    other->merged = true;
    size_t nc, nd;
    uint32_t *comps = united(rep->comps, rep->n_comps, other->comps, other->n_comps, &nc);
    uint32_t *docs = united(rep->docs, rep->n_docs, other->docs, other->n_docs, &nd);
    if (!comps || !docs) {
        free(comps);
        free(docs);
        return false;
    }
    free_cand(rep);
    rep->comps = comps;
    rep->docs = docs;
    rep->n_comps = nc;
    rep->n_docs = nd;
    rep->owned = true;
    return true;
}

/* Pairwise over the strongest MAX_MERGE candidates (ranked), each merged
 * one handing its sources and documents to its representative; *any: some
 * candidate was merged (else the ranking stands as it is). */
static bool merge_cands(cand *cs, size_t n, bool *any)
{
    size_t lim = n < MAX_MERGE ? n : MAX_MERGE;
    for (size_t i = 1; i < lim; i++)
        for (size_t j = 0; j < i && !cs[i].merged; j++) {
            if (cs[j].merged)
                continue;
            int rep = merge_rep(&cs[j], &cs[i], cs, lim);
            *any |= rep >= 0;
            if (rep == 0 && !absorb(&cs[j], &cs[i]))
                return false;
            if (rep == 1 && !absorb(&cs[i], &cs[j]))
                return false;
        }
    return true;
}

static bool gather(collect_ctx *c, const nfi_entity_input *in, size_t n)
{
    seg s;
    nfi_buf_init(&s.key);
    nfi_buf_init(&s.disp);
    bool ok = parse_runs(c, in, n);
    for (size_t i = 0, r = 0; i < n && ok; i++) {
        c->stamp++; /* (after parse_runs': a new pass) */
        for (; ok && r < c->member_end[i]; r++) {
            const run_rec *rec = &c->recs[r];
            ok = rec->head == RUN_LOWER ||
                 collect_run(c, rec->head, c->items + rec->first, rec->n, &in[i], (uint32_t)i, &s);
        }
    }
    nfi_buf_free(&s.key);
    nfi_buf_free(&s.disp);
    return ok;
}

static bool build_cands(collect_ctx *c, cand **out, size_t *n_out)
{
    for (size_t i = 0; i < c->n; i++) {
        c->m[i].key = c->text.data + c->m[i].key_off;
        c->m[i].disp = c->text.data + c->m[i].disp_off;
    }
    sort_mentions(c->m, c->n);
    cand *cs = malloc((c->n ? c->n : 1) * sizeof *cs); /* (make_cand sets every field of those it makes) */
    size_t nc = 0;
    c->ids = malloc((2 * c->n + 1) * sizeof *c->ids);
    if (!cs || !c->ids) {
        free(cs);
        return false;
    }
    for (size_t i = 0; i < c->n;) {
        size_t j = i;
        while (j < c->n && c->m[j].key_hash == c->m[i].key_hash)
            j++;
        if (!make_cand(c, i, j, &cs[nc++])) {
            *out = cs;
            *n_out = nc;
            return false;
        }
        i = j;
    }
    *out = cs;
    *n_out = nc;
    return true;
}

void nfi_entity_maps_free(nfi_entity_maps *m)
{
    free(m->doc_seen.slots);
    free(m->evidence.slots);
    free(m->items);
    free(m->recs);
    free(m->member_end);
}

nf_status nfi_entities_collect(const nfi_entity_input *in, size_t n, nfi_name_ok_fn name_ok, const void *ctx,
                              size_t max_entities, nfi_entity_tmp **out, size_t *n_out, nfi_buf *strings,
                              nf_error *err)
{
    nfi_entity_maps maps = {0};
    nf_status st =
        nfi_entities_collect_with(&maps, in, n, name_ok, ctx, max_entities, out, n_out, strings, err);
    nfi_entity_maps_free(&maps);
    return st;
}

nf_status nfi_entities_collect_with(nfi_entity_maps *maps, const nfi_entity_input *in, size_t n,
                                   nfi_name_ok_fn name_ok, const void *ctx, size_t max_entities,
                                   nfi_entity_tmp **out, size_t *n_out, nfi_buf *strings, nf_error *err)
{
    collect_ctx c = {0};
    nfi_buf_init(&c.text);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += in[i].runs_len;
    c.doc_seen = maps->doc_seen; /* lent for this event, started anew */
    c.evidence = maps->evidence;
    c.items = maps->items;
    c.recs = maps->recs;
    c.member_end = maps->member_end;
    c.cap_items = maps->cap_items;
    c.cap_recs = maps->cap_recs;
    c.cap_members = maps->cap_members;
    size_t keys = bytes / 16 + 16; /* (about 21 bytes of runs a key on rc20m) */
    c.name_ok = name_ok;
    c.ok_ctx = ctx;
    cand *cs = NULL;
    size_t nc = 0;
    *out = NULL;
    *n_out = 0;
    bool ok = smap_start(&c.doc_seen, keys) && smap_start(&c.evidence, keys) && gather(&c, in, n) &&
              build_cands(&c, &cs, &nc);
    if (ok) {
        rank_cands(cs, nc);
        bool merged = false;
        ok = merge_cands(cs, nc, &merged);
        if (merged) /* (cmp_cand is a total order: keys are unique, a sorted ranking is the one) */
            rank_cands(cs, nc);
    }
    size_t keep = 0;
    while (keep < nc && keep < max_entities && !cs[keep].merged)
        keep++;
    if (ok && keep && !(*out = calloc(keep, sizeof **out)))
        ok = false;
    for (size_t i = 0; ok && i < keep; i++) {
        (*out)[i].name_off = strings->len;
        nfi_buf_append(strings, cs[i].disp, strlen(cs[i].disp) + 1);
        (*out)[i].key_off = strings->len;
        nfi_buf_append(strings, cs[i].key, strlen(cs[i].key) + 1);
        (*out)[i].sources = (uint32_t)cs[i].n_comps;
        (*out)[i].mentions = (uint32_t)cs[i].n_docs;
    }
    *n_out = ok ? keep : 0;
    for (size_t i = 0; i < nc; i++)
        free_cand(&cs[i]);
    free(cs);
    free(c.ids);
    free(c.m);
    maps->items = c.items; /* (back to the thread too) */
    maps->recs = c.recs;
    maps->member_end = c.member_end;
    maps->cap_items = c.cap_items;
    maps->cap_recs = c.cap_recs;
    maps->cap_members = c.cap_members;
    nfi_buf_free(&c.text);
    maps->doc_seen = c.doc_seen; /* back to the thread, with whatever they grew to */
    maps->evidence = c.evidence;
    if (!ok || strings->oom) {
        free(*out);
        *out = NULL;
        *n_out = 0;
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory while collecting entities");
    }
    return NF_OK;
}
