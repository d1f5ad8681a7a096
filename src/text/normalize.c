/*
 * normalize.c - word segmentation, Unicode normalization and stemming.
 *
 * Segmentation works for every script with one rule set and one exception:
 * - Scripts written with spaces: a token is a maximal run of letters, marks
 *   and digits (ICU character properties). Numbers keep internal '.' and ','
 *   between digits ("1,500.25"). An apostrophe inside an English word stays
 *   ("don't", "Putin's" so the stemmer can strip the possessive); elsewhere
 *   it splits ("l'armée" -> "l", "armée"). Hyphens always split, so
 *   "Hong-kyun" and "Hong Kyun" agree.
 * - Scripts written without spaces (Han, Kana, Thai, Lao, Khmer, Myanmar):
 *   each such run goes to ICU's dictionary-based word break iterator.
 * Every token keeps its byte offsets into the cleaned text, so later stages
 * can point back at the original words.
 *
 * Normalization is NFKC with case folding (ICU's NFKC_Casefold), which maps
 * full-width forms, ligatures and compatibility digits to their plain forms
 * and folds case in a language-independent way. ASCII tokens, the bulk of
 * most corpora, take a byte-wise fast path that gives the same result;
 * other tokens that ICU's quick check finds already normalized are copied
 * as they are; only the rest go through unorm2_normalize. Unstemmed words
 * of ASCII and two-byte characters (Latin, Greek, Cyrillic, ...) fold
 * character by character from a table made from ICU at start-up (fold2):
 * only characters with a normalization boundary before them are in it, so
 * folding them one at a time gives what ICU gives for the whole word;
 * a word with any other character takes the general path.
 * Typographic apostrophes are unified to "'" before stemming.
 *
 * Stemming is Snowball (libstemmer) for the document's language. A stemmer
 * is not thread-safe, so each nfi_normalizer (one per thread) caches its own.
 * Words of Latin-1 characters go to the language's ISO-8859-1 stemmer
 * where it gives the UTF-8 one's stems (stem_word), which costs less.
 *
 * Word cache: news repeats its words, so folding and stemming are done once
 * per distinct surface form, not per occurrence. Each language (stemmer
 * slot, plus one slot for unstemmed text) has a bounded table from the raw
 * token bytes to their norm and stem; a miss computes both and stores them,
 * a hit copies them into the document's pool in exactly the layout a miss
 * writes. The table only saves work: norm and stem are pure functions of
 * the raw bytes and the language, so output never depends on what was
 * cached before (documents, batch order or thread). When a table reaches
 * its bound it is emptied and refilled, which keeps memory per thread fixed.
 * A word that is not stemmed and folds through the fast paths (ASCII,
 * fold2) skips the cache: folding it costs less than the lookup. A missed
 * word whose norm differs from it ("The") takes its stem from the norm's
 * entry when that is there (folding is idempotent), not from the stemmer.
 * In token mode a text's tokens are found before any is folded (the
 * segmentation loop only notes them, 4,096 at most); folding walks them
 * in order, the cache slot of the word 16 ahead and the arena entry of
 * the word 8 ahead being fetched meanwhile, so the cache misses of
 * successive words overlap; tokens are folded in the order found, so
 * records and pool are what folding each at once makes. A hit copies the entry's norm and stem
 * as they lie in the pool (one blob, see word_cache). A word of at most 8
 * bytes that is in the short-word table (front_slot) finds its entry there,
 * from one load of its bytes, without hashing or probing.
 *
 * Hash mode (nfi_tokenize_units, for duplicate detection) makes the same
 * tokens without stems and keeps no token records: each norm is followed by
 * a space in the pool (the normalized text the exact hash reads) and hashed
 * into its units as soon as it is folded, while it is still in cache. Its
 * fast path (units_fast, SSE2) walks 64 bytes at a time from masks of ASCII
 * letters, digits and non-ASCII bytes: plain ASCII tokens are lower-cased
 * 32 bytes at once, words of ASCII and two-byte letters fold from fold2
 * (simple_word), and everything else returns to the one segmentation loop
 * at a token boundary, so the tokens are those of the loop alone.
 *
 * Counting only (nfi_count_tokens, for records that hold just the number)
 * runs the same segmentation loop without folding, stemming or storing,
 * and counts plain ASCII stretches 8 bytes at a time from bit masks.
 *
 * Latin letters as ASCII (nfi_latin_ascii, for the names of the links
 * and event stages): a table from ICU's NFD data, each accented Latin
 * letter its base letter, and a few letters of no decomposition (ß, the
 * lower-case æ œ ø ł đ ð ħ ı) their forms, which is what ICU's
 * Latin-ASCII transliterator gives for them.
 */
#include "text/text.h"

#include <libstemmer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#define XXH_INLINE_ALL /* hash mode hashes every norm: inlined, as in sketch.c */
#include <xxhash.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_STEMMERS 16
#define MAX_TOKEN_BYTES 256 /* longer runs (base64, URLs) are cut into pieces */
#define CACHE_SLOTS 65536   /* per language (512 KiB); emptied when half full */
#define CACHE_ARENA_MAX (8u << 20)

/* raw bytes -> (norm, stem) for one language. An entry in the arena is
 * [entry_head][raw][blob], the blob being what a token's strings are in
 * the pool: "norm\0" when the stem equals the norm (stem_off 0), else
 * "norm\0stem\0" (stem_off norm_len + 1), so a hit is one copy of the
 * blob and no test of which layout it has. A slot holds the arena offset + 1 (0 = empty) and the
 * high half of the hash of the raw bytes, side by side, so a probe touches
 * one cache line of the table. */
typedef struct cache_slot {
    uint32_t at, tag;
} cache_slot;

/* The short-word table in front of a word cache (token mode, fold_found):
 * a word of at most 8 bytes, read as one little-endian 64-bit key (its
 * bytes, zeros above them), goes straight to its arena entry without the
 * hash and the probe when its slot holds it. A slot is one of FRONT_SLOTS,
 * chosen by a multiply of the key; it holds the key, the length (so no
 * byte of the word need be known to be non-zero) and the entry's arena
 * offset, which an arena's move leaves valid; emptying the cache empties
 * the table. Filled when such a word is found by the probe. */
typedef struct front_slot {
    uint64_t key;
    uint32_t len, at; /* len 0: empty */
} front_slot;

#define FRONT_BITS 12
#define FRONT_SLOTS (1u << FRONT_BITS)

typedef struct word_cache {
    cache_slot *slots;
    front_slot *front; /* FRONT_SLOTS, allocated with slots */
    size_t used;
    nfi_buf arena;
    unsigned resets; /* times emptied: offsets taken before are stale (fold_found) */
} word_cache;

/* The head of an arena entry (read with memcpy: entries are unaligned).
 * rec is what a token record's norm, norm_len, stem and stem_len fields
 * are when the blob lies at pool offset 0: {0, norm_len, stem_off,
 * stem_len}; a hit adds the blob's offset to the first and third as one
 * vector add (put_rec). */
typedef struct entry_head {
    uint16_t raw_len, blob_len;
    uint32_t rec[4];
} entry_head;

enum { ENTRY_HEAD = sizeof(entry_head), ENTRY_ROOM = 32 }; /* header bytes; bytes readable past an entry */
_Static_assert(sizeof(entry_head) == 20, "entry_head has no padding");
_Static_assert(offsetof(nf_token, norm_len) == offsetof(nf_token, norm) + 4 &&
                   offsetof(nf_token, stem) == offsetof(nf_token, norm) + 8 &&
                   offsetof(nf_token, stem_len) == offsetof(nf_token, norm) + 12,
               "put_rec writes norm .. stem_len as four adjacent uint32");

static inline entry_head head_of(const char *e)
{
    entry_head h;
    memcpy(&h, e, sizeof h);
    return h;
}

typedef struct stemmer_slot {
    char lang[12];
    struct sb_stemmer *stemmer; /* NULL: no stemmer for this language */
    struct sb_stemmer *latin1;  /* the same algorithm on ISO-8859-1 text, or NULL (see stem_word) */
    word_cache cache;
} stemmer_slot;

/* NFKC_Casefold of one character of U+0080-U+07FF (two UTF-8 bytes) that
 * always has a normalization boundary before it (it never combines with
 * what precedes it; ASCII never does either), so that a word made of such
 * characters and ASCII folds character by character: ICU defines such a
 * boundary as a point where the two sides normalize independently. len 0:
 * the character may combine with the one before it (combining marks) and
 * the word goes through ICU. */
typedef struct fold2 {
    uint8_t len;
    char s[7];
} fold2;

#define FOLD2_FIRST 0x80
#define FOLD2_END 0x800

/* What a two-byte character is to hash mode's simple words (simple_word):
 * a word character with a fold2 entry, a character that is no word
 * character (it ends a word and cannot join one: two-byte characters hold
 * no apostrophe), or anything else (combining marks: the general path). */
enum { CLASS2_GENERAL, CLASS2_FOLDS, CLASS2_OTHER };

struct nfi_normalizer {
    const UNormalizer2 *nfkc_cf;
    fold2 fold2[FOLD2_END - FOLD2_FIRST];
    uint8_t class2[FOLD2_END - FOLD2_FIRST];
    bool digit2[FOLD2_END - FOLD2_FIRST]; /* is_digit: a word it begins is a number */
    uint8_t flags2[FOLD2_END - FOLD2_FIRST]; /* first_char_flags of a word it begins */
    uint8_t byte_class[256]; /* BYTE_* flags of ASCII bytes (0 for the others), for tokens_fast */
    UBreakIterator *words;
    stemmer_slot stemmers[MAX_STEMMERS];
    size_t n_stemmers;
    word_cache plain; /* words that are not stemmed */
    UChar *u16a, *u16b; /* scratch UTF-16 buffers */
    int32_t u16_cap;
    int32_t *u16_to_byte;
    size_t *seg;       /* word boundaries of one dictionary run, byte offsets in pairs */
    size_t seg_cap;
    struct found_token *found; /* token mode: the tokens of one text, found but not yet folded */
    size_t found_cap;
};

static bool memchr_u16(const UChar *s, int32_t n, UChar c)
{
    for (int32_t i = 0; i < n; i++)
        if (s[i] == c)
            return true;
    return false;
}

/* The fold2 table from ICU itself (so it cannot disagree with it): each
 * character with a boundary before it, normalized alone. A character
 * whose fold holds a typographic apostrophe or is longer than 7 bytes is
 * left to the general path. */
static void fill_fold2(nfi_normalizer *nz)
{
    for (UChar32 cp = FOLD2_FIRST; cp < FOLD2_END; cp++) {
        fold2 *f = &nz->fold2[cp - FOLD2_FIRST];
        f->len = 0;
        if (!unorm2_hasBoundaryBefore(nz->nfkc_cf, cp))
            continue;
        UChar in[1] = {(UChar)cp}, out[16];
        UErrorCode e = U_ZERO_ERROR;
        int32_t n = unorm2_normalize(nz->nfkc_cf, in, 1, out, 16, &e);
        if (U_FAILURE(e) || memchr_u16(out, n, 0x2019))
            continue;
        char utf8[32];
        int32_t bytes = 0;
        u_strToUTF8(utf8, (int32_t)sizeof utf8, &bytes, out, n, &e);
        if (U_FAILURE(e) || bytes < 1 || bytes > 7)
            continue;
        memcpy(f->s, utf8, (size_t)bytes);
        f->len = (uint8_t)bytes;
    }
}

static void fill_class2(nfi_normalizer *nz);
static uint8_t first_char_flags(const char *text, size_t len, size_t i);
static void fill_byte_class(nfi_normalizer *nz);

nf_status nfi_normalizer_new(nfi_normalizer **out, nf_error *err)
{
    *out = NULL;
    nfi_normalizer *nz = calloc(1, sizeof *nz);
    if (!nz)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    UErrorCode uerr = U_ZERO_ERROR;
    nz->nfkc_cf = unorm2_getNFKCCasefoldInstance(&uerr);
    if (U_SUCCESS(uerr))
        nz->words = ubrk_open(UBRK_WORD, "", NULL, 0, &uerr);
    if (U_SUCCESS(uerr))
        fill_fold2(nz);
    if (U_SUCCESS(uerr))
        fill_class2(nz);
    fill_byte_class(nz);
    if (U_FAILURE(uerr)) {
        nfi_normalizer_free(nz);
        return nfi_fail(err, NF_ERR_RESOURCE, "ICU initialisation failed: %s", u_errorName(uerr));
    }
    *out = nz;
    return NF_OK;
}

static void cache_free(word_cache *wc)
{
    free(wc->slots);
    free(wc->front);
    nfi_buf_free(&wc->arena);
    memset(wc, 0, sizeof *wc);
}

void nfi_normalizer_free(nfi_normalizer *nz)
{
    if (!nz)
        return;
    for (size_t i = 0; i < nz->n_stemmers; i++) {
        if (nz->stemmers[i].stemmer)
            sb_stemmer_delete(nz->stemmers[i].stemmer);
        if (nz->stemmers[i].latin1)
            sb_stemmer_delete(nz->stemmers[i].latin1);
        cache_free(&nz->stemmers[i].cache);
    }
    cache_free(&nz->plain);
    if (nz->words)
        ubrk_close(nz->words);
    free(nz->u16a);
    free(nz->u16b);
    free(nz->u16_to_byte);
    free(nz->seg);
    free(nz->found);
    free(nz);
}

/* Whether lang names a Snowball algorithm whose ISO-8859-1 stemmer gives
 * what its UTF-8 one gives (stem_word): in the sources (Snowball 2.2) its
 * cursor positions are only compared with one another, never with a
 * number, so bytes or characters make no difference. Dutch is not: its
 * "$p1 < 3" counts bytes in UTF-8 ("uñen" -> "uñ", in ISO-8859-1 "uñen"),
 * and stays on the UTF-8 stemmer, as does any language not listed here. */
static bool latin1_same(const char *lang)
{
    static const char *const same[] = {
        "basque",  "eu", "eus", "baq",       "catalan",    "ca",  "cat",    "danish",     "da",  "dan",
        "english", "en", "eng", "finnish",   "fi",         "fin", "french", "fr",         "fre", "fra",
        "german",  "de", "ger", "deu",       "indonesian", "id",  "ind",    "irish",      "ga",  "gle",
        "italian", "it", "ita", "norwegian", "no",         "nor", "porter", "portuguese", "pt",  "por",
        "spanish", "es", "esl", "spa",       "swedish",    "sv",  "swe"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
        if (strcmp(lang, same[i]) == 0)
            return true;
    return false;
}

/* The slot of lang (created on first use), or NULL when all slots are
 * taken by other languages (rare mixed corpora: then no stemming). */
static stemmer_slot *slot_for(nfi_normalizer *nz, const char *lang)
{
    if (!lang || !*lang)
        return NULL;
    for (size_t i = 0; i < nz->n_stemmers; i++)
        if (strcmp(nz->stemmers[i].lang, lang) == 0)
            return &nz->stemmers[i];
    if (nz->n_stemmers == MAX_STEMMERS)
        return NULL;
    stemmer_slot *slot = &nz->stemmers[nz->n_stemmers++];
    memset(slot, 0, sizeof *slot);
    snprintf(slot->lang, sizeof slot->lang, "%s", lang);
    slot->stemmer = sb_stemmer_new(lang, "UTF_8");
    slot->latin1 = slot->stemmer && latin1_same(lang) ? sb_stemmer_new(lang, "ISO_8859_1") : NULL;
    return slot;
}

bool nfi_has_stemmer(nfi_normalizer *nz, const char *lang)
{
    stemmer_slot *slot = slot_for(nz, lang);
    return slot && slot->stemmer;
}

/* ------------------------------------------------------------ word cache */

static uint16_t get_u16(const char *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Whether the n bytes at a and b are equal: words are short, so up to 16
 * bytes two overlapping loads from each side answer without a call
 * (memcmp was 2% of `links -j1`, nearly all of it from here). */
static inline bool same_raw(const char *a, const char *b, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t x, y, u, v;
        memcpy(&x, a, 8), memcpy(&y, b, 8), memcpy(&u, a + n - 8, 8), memcpy(&v, b + n - 8, 8);
        return ((x ^ y) | (u ^ v)) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t x, y, u, v;
        memcpy(&x, a, 4), memcpy(&y, b, 4), memcpy(&u, a + n - 4, 4), memcpy(&v, b + n - 4, 4);
        return ((x ^ y) | (u ^ v)) == 0;
    }
    if (n < 4) {
        unsigned diff = 0;
        for (size_t i = 0; i < n; i++)
            diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
        return diff == 0;
    }
    return memcmp(a, b, n) == 0;
}

/* The arena entry for raw bytes, or NULL; *slot_out is where it goes
 * (the table has its slots).
 * Inline in its callers: a call per token (nearly every one found at the
 * first slot) cost a quarter of the lookup in saved registers. */
static inline __attribute__((always_inline)) const char *cache_probe(const word_cache *wc, uint64_t h,
                                                                   const char *raw, size_t n, size_t *slot_out)
{
    for (size_t i = (size_t)h & (CACHE_SLOTS - 1);; i = (i + 1) & (CACHE_SLOTS - 1)) {
        if (!wc->slots[i].at) {
            *slot_out = i;
            return NULL;
        }
        if (wc->slots[i].tag != (uint32_t)(h >> 32))
            continue;
        const char *e = wc->arena.data + wc->slots[i].at - 1;
        if (get_u16(e) == n && same_raw(e + ENTRY_HEAD, raw, n))
            return e;
    }
}

/* cache_probe of a table that may have no slots yet. */
static inline __attribute__((always_inline)) const char *cache_find(word_cache *wc, uint64_t h, const char *raw,
                                                                  size_t n, size_t *slot_out)
{
    return wc->slots ? cache_probe(wc, h, raw, n, slot_out) : NULL;
}

/* Whether the table has its slots (allocated on first use). */
static bool cache_slots(word_cache *wc)
{
    if (!wc->slots)
        wc->slots = calloc(CACHE_SLOTS, sizeof *wc->slots);
    if (!wc->front)
        wc->front = calloc(FRONT_SLOTS, sizeof *wc->front);
    return wc->slots && wc->front;
}

/* Stores raw -> (norm, stem); a failed allocation only loses the entry. */
static void cache_put(word_cache *wc, uint64_t h, const char *raw, size_t n, const char *norm, size_t norm_len,
                      const char *stem, size_t stem_len, bool stem_same)
{
    if (!cache_slots(wc))
        return;
    size_t stem_off = stem_same ? 0 : norm_len + 1;
    size_t blob_len = stem_same ? norm_len + 1 : stem_off + stem_len + 1;
    size_t need = ENTRY_HEAD + n + blob_len;
    if (wc->used >= CACHE_SLOTS / 2 || wc->arena.len + need > CACHE_ARENA_MAX) { /* bound reached: start over */
        memset(wc->slots, 0, CACHE_SLOTS * sizeof *wc->slots);
        memset(wc->front, 0, FRONT_SLOTS * sizeof *wc->front);
        wc->used = 0;
        wc->arena.len = 0;
        wc->resets++;
    }
    size_t slot = 0;
    /* ENTRY_ROOM bytes of room past every entry: from_cache copies a blob
     * of up to 32 bytes as two 16-byte moves, which may read past the last */
    if (cache_find(wc, h, raw, n, &slot) || !nfi_buf_reserve(&wc->arena, need + ENTRY_ROOM))
        return;
    entry_head head = {(uint16_t)n,
                       (uint16_t)blob_len,
                       {0, (uint32_t)norm_len, (uint32_t)stem_off, (uint32_t)(stem_same ? norm_len : stem_len)}};
    char *e = wc->arena.data + wc->arena.len;
    memcpy(e, &head, sizeof head);
    memcpy(e + ENTRY_HEAD, raw, n);
    char *b = e + ENTRY_HEAD + n;
    memcpy(b, norm, norm_len);
    b[norm_len] = '\0';
    if (!stem_same) {
        memcpy(b + stem_off, stem, stem_len);
        b[stem_off + stem_len] = '\0';
    }
    wc->slots[slot] = (cache_slot){(uint32_t)wc->arena.len + 1, (uint32_t)(h >> 32)};
    wc->arena.len += need;
    wc->used++;
}

static bool grow_u16(nfi_normalizer *nz, int32_t need)
{
    if (need <= nz->u16_cap)
        return true;
    int32_t cap = need * 2 + 64;
    UChar *a = realloc(nz->u16a, (size_t)cap * sizeof *a);
    if (a)
        nz->u16a = a;
    UChar *b = realloc(nz->u16b, (size_t)cap * sizeof *b);
    if (b)
        nz->u16b = b;
    int32_t *m = realloc(nz->u16_to_byte, ((size_t)cap + 1) * sizeof *m);
    if (m)
        nz->u16_to_byte = m;
    if (!a || !b || !m)
        return false;
    nz->u16_cap = cap;
    return true;
}

/* ------------------------------------------------------------ classes */

static bool is_dictionary_script(uint32_t cp)
{
    /* below Thai, and the punctuation and symbols of U+2000-U+2E7F (quotes,
     * dashes, currency; no dictionary script has a letter there): no ICU call */
    if (cp < 0x0E00 || (cp >= 0x2000 && cp < 0x2E80))
        return false;
    UErrorCode e = U_ZERO_ERROR;
    UScriptCode sc = uscript_getScript((UChar32)cp, &e);
    return sc == USCRIPT_HAN || sc == USCRIPT_HIRAGANA || sc == USCRIPT_KATAKANA || sc == USCRIPT_THAI ||
           sc == USCRIPT_LAO || sc == USCRIPT_KHMER || sc == USCRIPT_MYANMAR;
}

static bool is_word_char(uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    /* Latin-1 letters and Latin Extended-A/B (U+00C0-U+024F but for the
     * signs U+00D7 and U+00F7) are all letters: no ICU call for them */
    if (cp >= 0xC0 && cp <= 0x24F)
        return cp != 0xD7 && cp != 0xF7;
    return u_isalnum((UChar32)cp) || (U_GET_GC_MASK((UChar32)cp) & U_GC_M_MASK);
}

static inline bool ascii_alnum(unsigned char b)
{
    return (unsigned)((b | 32) - 'a') < 26u || (unsigned)(b - '0') < 10u;
}

static bool is_apostrophe(uint32_t cp) { return cp == '\'' || cp == 0x2019; }

static bool is_digit(uint32_t cp) { return cp < 0x80 ? (cp >= '0' && cp <= '9') : u_isdigit((UChar32)cp); }

/* The class2 and digit2 tables, from the predicates scan_word uses. */
static void fill_class2(nfi_normalizer *nz)
{
    for (uint32_t cp = FOLD2_FIRST; cp < FOLD2_END; cp++) {
        size_t k = cp - FOLD2_FIRST;
        nz->digit2[k] = is_digit(cp);
        char utf8[2] = {(char)(0xC0 | (cp >> 6)), (char)(0x80 | (cp & 0x3F))};
        nz->flags2[k] = first_char_flags(utf8, 2, 0);
        nz->class2[k] = !is_word_char(cp) ? CLASS2_OTHER : nz->fold2[k].len ? CLASS2_FOLDS : CLASS2_GENERAL;
    }
}

/* What an ASCII byte is to tokens_fast: a separator (no letter or digit:
 * between tokens it is skipped), one of those that start a sentence (the
 * ones scan_tokens checks), a letter, an upper-case letter, a digit. */
enum { BYTE_SEP = 1, BYTE_SENTENCE = 2, BYTE_LETTER = 4, BYTE_UPPER = 8, BYTE_DIGIT = 16, BYTE_APOSTROPHE = 32,
       BYTE_NUMBER_JOIN = 64 };

static void fill_byte_class(nfi_normalizer *nz)
{
    memset(nz->byte_class, 0, sizeof nz->byte_class);
    for (unsigned b = 0; b < 0x80; b++) {
        uint8_t k = 0;
        if (!ascii_alnum((unsigned char)b))
            k |= BYTE_SEP;
        if (b == '\n' || b == '.' || b == '!' || b == '?' || b == ':')
            k |= BYTE_SENTENCE;
        if ((unsigned)((b | 32) - 'a') < 26u)
            k |= BYTE_LETTER;
        if (b >= 'A' && b <= 'Z')
            k |= BYTE_UPPER;
        if (b >= '0' && b <= '9')
            k |= BYTE_DIGIT;
        if (b == '\'')
            k |= BYTE_APOSTROPHE;
        if (b == '.' || b == ',' || b == '\'')
            k |= BYTE_NUMBER_JOIN;
        nz->byte_class[b] = k;
    }
}

static uint32_t peek(const char *text, size_t len, size_t i, size_t *n)
{
    uint32_t cp;
    if (i >= len) {
        *n = 0;
        return 0;
    }
    if ((unsigned char)text[i] < 0x80) {
        *n = 1;
        return (unsigned char)text[i];
    }
    *n = nfi_utf8_decode((const unsigned char *)text + i, len - i, &cp);
    return cp;
}

/* ------------------------------------------------------------ emitting */

/* A token found but not yet folded (token mode). A text's tokens are
 * found first (emit only notes them, which keeps the segmentation loop
 * free of the word cache; FOUND_MAX at most, then those are folded), then
 * folded in order by fold_found: FETCH_AHEAD
 * tokens ahead of the one being folded a word's raw bytes are hashed and
 * its cache slot fetched, and FETCH_AHEAD / 2 ahead the arena entry the
 * slot names (cache_find's two misses, which one token at a time would
 * wait for in turn). Tokens fold in the order found, so records and pool
 * are what folding each at once makes. */
enum { FETCH_AHEAD = 16, FOUND_MAX = 4096 /* tokens noted at most (96 KiB), then folded */ };
typedef struct found_token {
    uint32_t start, len; /* as in the record: the fast path copies them with kind and flags */
    uint8_t kind, flags;
    bool ascii;
    uint8_t hinted; /* HINT_HASH: h is the hash of the raw bytes, its slot being fetched;
                       HINT_FRONT: h is its entry's arena offset, from the short-word table */
    uint64_t h;
} found_token;
enum { HINT_NONE, HINT_HASH, HINT_FRONT };
_Static_assert(offsetof(nf_token, len) == offsetof(nf_token, start) + 4 &&
                   offsetof(nf_token, flags) == offsetof(nf_token, kind) + 1,
               "fold_found copies start and len, kind and flags, as they lie in found_token");

typedef struct tok_ctx {
    nfi_normalizer *nz;
    size_t count;       /* tokens emitted */
    bool count_only;    /* only count: no norms, stems or token records */
    struct sb_stemmer *stemmer;
    struct sb_stemmer *latin1; /* the stemmer's ISO-8859-1 twin, or NULL */
    word_cache *cache;         /* of the stemmer's language, or the unstemmed one */
    nfi_token_vec *tokens;
    nfi_unit_vec *units; /* hash mode: unit hashes instead of token records */
    nfi_buf *pool;
    const char *text;
    bool sentence_start;
    size_t n_found;  /* token mode: tokens noted in nz->found, not yet folded */
    size_t text_len; /* of text (scan_tokens) */
} tok_ctx;

/* The next free token record of v (grown with realloc), not yet counted:
 * folding fills it in place and counts it once it is complete. */
static nf_token *token_slot(nfi_token_vec *v)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 256;
        nf_token *items = realloc(v->items, cap * sizeof *items);
        if (!items)
            return NULL;
        v->items = items;
        v->cap = cap;
    }
    return &v->items[v->len];
}

/* Appends the NFKC_Casefold form of s to pool; false on failure. ASCII
 * is lower-cased byte-wise; other text that ICU's quick check finds
 * already normalized is copied; only the rest is normalized by ICU. */
static bool fold_into(tok_ctx *c, const char *s, size_t n, bool ascii)
{
    nfi_buf *pool = c->pool;
    if (ascii) {
        if (!nfi_buf_reserve(pool, n))
            return false;
        for (size_t i = 0; i < n; i++)
            pool->data[pool->len + i] = (char)nfi_lower_ascii((unsigned char)s[i]);
        pool->len += n;
        pool->data[pool->len] = '\0';
        return true;
    }
    nfi_normalizer *nz = c->nz;
    UErrorCode e = U_ZERO_ERROR;
    int32_t u16len = 0;
    if (!grow_u16(nz, (int32_t)n * 3 + 8))
        return false;
    u_strFromUTF8(nz->u16a, nz->u16_cap, &u16len, s, (int32_t)n, &e);
    if (U_FAILURE(e))
        return false;
    /* Already NFKC_Casefold (ICU's quick check says so for most lower-case
     * words) and no typographic apostrophe: the bytes are the result. */
    if (unorm2_quickCheck(nz->nfkc_cf, nz->u16a, u16len, &e) == UNORM_YES && U_SUCCESS(e) &&
        !memchr_u16(nz->u16a, u16len, 0x2019)) {
        if (!nfi_buf_reserve(pool, n))
            return false;
        memcpy(pool->data + pool->len, s, n);
        pool->len += n;
        pool->data[pool->len] = '\0';
        return true;
    }
    e = U_ZERO_ERROR;
    int32_t outlen = unorm2_normalize(nz->nfkc_cf, nz->u16a, u16len, nz->u16b, nz->u16_cap, &e);
    if (U_FAILURE(e))
        return false;
    for (int32_t i = 0; i < outlen; i++)
        if (nz->u16b[i] == 0x2019)
            nz->u16b[i] = '\'';
    int32_t need = 0;
    e = U_ZERO_ERROR;
    if (!nfi_buf_reserve(pool, (size_t)outlen * 3 + 1))
        return false;
    u_strToUTF8(pool->data + pool->len, (int32_t)(pool->cap - pool->len), &need, nz->u16b, outlen, &e);
    if (U_FAILURE(e))
        return false;
    pool->len += (size_t)need;
    pool->data[pool->len] = '\0';
    return true;
}

/* Appends s and a NUL to the pool; returns the offset of s. */
static uint32_t pool_add(nfi_buf *pool, const char *s, size_t n)
{
    uint32_t at = (uint32_t)pool->len;
    if (nfi_buf_reserve(pool, n + 1)) {
        memcpy(pool->data + pool->len, s, n);
        pool->len += n;
        pool->data[pool->len++] = '\0';
    }
    return at;
}

/* 16 bytes from s to d (SSE2: one load and one store). */
static inline void copy16(char *d, const char *s)
{
#ifdef __SSE2__
    _mm_storeu_si128((__m128i *)(void *)d, _mm_loadu_si128((const __m128i *)(const void *)s));
#else
    memcpy(d, s, 16);
#endif
}

/* t's norm, norm_len, stem and stem_len from the cache entry e whose
 * blob is copied to pool offset at: the entry's rec plus at in the first
 * and third (SSE2: one load, one add, one store). */
static inline void put_rec(nf_token *t, const char *e, uint32_t at)
{
#ifdef __SSE2__
    __m128i rec = _mm_loadu_si128((const __m128i *)(const void *)(e + offsetof(entry_head, rec)));
    __m128i add = _mm_set_epi32(0, (int)at, 0, (int)at);
    _mm_storeu_si128((__m128i *)(void *)&t->norm, _mm_add_epi32(rec, add));
#else
    entry_head head = head_of(e);
    t->norm = at + head.rec[0];
    t->norm_len = head.rec[1];
    t->stem = at + head.rec[2];
    t->stem_len = head.rec[3];
#endif
}

/* norm and stem of a word from the cache entry e into the pool, with
 * their NULs (the layout pool_add makes, which is the entry's blob).
 * Where the blob is at most 32 bytes and the pool has room for two
 * 16-byte moves past its end (it is sized from the text: nearly always),
 * it is those two moves (the arena has ENTRY_ROOM bytes of room past
 * every entry, cache_put; bytes moved past the blob lie past the pool's
 * length, or are overwritten by what follows). */
static inline void from_cache(tok_ctx *c, nf_token *t, const char *e)
{
    entry_head head = head_of(e);
    size_t blob_len = head.blob_len;
    const char *blob = e + ENTRY_HEAD + head.raw_len;
    nfi_buf *pool = c->pool;
    size_t at = pool->len;
    if (blob_len <= 32 && !pool->oom && at + ENTRY_ROOM + 1 <= pool->cap) {
        char *d = pool->data + at;
        copy16(d, blob);
        copy16(d + 16, blob + 16);
        d[blob_len] = '\0';
        pool->len = at + blob_len;
    } else if (nfi_buf_reserve(pool, blob_len)) {
        memcpy(pool->data + at, blob, blob_len);
        pool->len += blob_len;
        pool->data[pool->len] = '\0';
    }
    put_rec(t, e, (uint32_t)at);
}

/* A word's stem from the cache entry of its norm, when the norm differs
 * from the raw bytes ("The", "Präsident's" ...) and is there: the stem is a
 * function of the norm alone, and folding is idempotent (the norm of a
 * norm is itself), so the entry keyed by the norm holds this word's norm
 * and stem; the stemmer, a few thousand instructions a word, is skipped.
 * t's norm is in the pool; the stem is added in compute_norm_stem's layout
 * (stem_off 0 there: stem = norm). False when there is no such entry. */
static bool stem_from_norm_entry(tok_ctx *c, nf_token *t, const char *raw, size_t n)
{
    const char *norm = c->pool->data + t->norm;
    if (t->norm_len == n && same_raw(norm, raw, n))
        return false;
    size_t slot = 0;
    const char *e = cache_find(c->cache, nfi_hash64(norm, t->norm_len), norm, t->norm_len, &slot);
    if (!e)
        return false;
    entry_head head = head_of(e);
    if (head.rec[2]) {
        t->stem = pool_add(c->pool, e + ENTRY_HEAD + head.raw_len + head.rec[2], head.rec[3]);
        t->stem_len = head.rec[3];
    }
    return true;
}

static bool fold_simple_token(const nfi_normalizer *nz, nfi_buf *pool, nf_token *t, const char *raw, size_t n);

#define STEM_LATIN1_MAX 256 /* bytes of a norm stemmed as ISO-8859-1 at most */

static const char *stem_utf8(const tok_ctx *c, const char *norm, size_t n, size_t *len)
{
    const sb_symbol *st = sb_stemmer_stem(c->stemmer, (const sb_symbol *)norm, (int)n);
    *len = st ? (size_t)sb_stemmer_length(c->stemmer) : 0;
    return (const char *)st;
}

/* The Snowball stem of the UTF-8 norm (n bytes), or NULL when the stemmer
 * fails (out of memory). A norm whose characters are all in U+0000-U+00FF
 * (German, French, Spanish ... words) is stemmed as ISO-8859-1 where the
 * language's two stemmers agree (latin1_same), and the stem converted back
 * into scratch (2 * STEM_LATIN1_MAX bytes): the ISO-8859-1 stemmer does not
 * decode UTF-8 at every step, about a third fewer instructions a word
 * (test_normalize compares the two on every listed language). */
static const char *stem_word(const tok_ctx *c, const char *norm, size_t n, char *scratch, size_t *len)
{
    if (!c->latin1 || n > STEM_LATIN1_MAX)
        return stem_utf8(c, norm, n, len);
    unsigned char latin[STEM_LATIN1_MAX];
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned b = (unsigned char)norm[i];
        if (b < 0x80)
            latin[w++] = (unsigned char)b;
        else if ((b == 0xC2 || b == 0xC3) && i + 1 < n)
            latin[w++] = (unsigned char)(((b & 3u) << 6) | ((unsigned char)norm[++i] & 0x3Fu));
        else
            return stem_utf8(c, norm, n, len); /* a character past U+00FF */
    }
    const sb_symbol *st = sb_stemmer_stem(c->latin1, latin, (int)w);
    int st_len = st ? sb_stemmer_length(c->latin1) : 0;
    if (!st || st_len > STEM_LATIN1_MAX)
        return stem_utf8(c, norm, n, len);
    size_t k = 0;
    for (int i = 0; i < st_len; i++) {
        unsigned b = st[i];
        if (b < 0x80) {
            scratch[k++] = (char)b;
        } else {
            scratch[k++] = (char)(0xC0 | (b >> 6));
            scratch[k++] = (char)(0x80 | (b & 0x3Fu));
        }
    }
    *len = k;
    return scratch;
}

/* Folds (and for words, stems) raw bytes into the pool. */
static bool compute_norm_stem(tok_ctx *c, nf_token *t, const char *raw, size_t n, bool ascii)
{
    /* a word of ASCII and fold2 characters folds from the table (what ICU
     * gives for it, see fold2) without ICU's conversions and quick check */
    if (ascii || t->kind == NF_TOKEN_IDEOGRAPHIC || !fold_simple_token(c->nz, c->pool, t, raw, n)) {
        t->norm = (uint32_t)c->pool->len;
        if (!fold_into(c, raw, n, ascii))
            return false;
        t->norm_len = (uint32_t)(c->pool->len - t->norm);
        nfi_buf_putc(c->pool, '\0');
        t->stem = t->norm;
        t->stem_len = t->norm_len;
    }
    if (c->stemmer && t->kind == NF_TOKEN_WORD && stem_from_norm_entry(c, t, raw, n))
        return !c->pool->oom;
    if (c->stemmer && t->kind == NF_TOKEN_WORD) {
        char scratch[2 * STEM_LATIN1_MAX];
        size_t st_len = 0;
        const char *st = stem_word(c, c->pool->data + t->norm, t->norm_len, scratch, &st_len);
        if (st && (st_len != t->norm_len || memcmp(st, c->pool->data + t->norm, st_len) != 0)) {
            t->stem = pool_add(c->pool, st, st_len);
            t->stem_len = (uint32_t)st_len;
        }
    }
    return !c->pool->oom;
}

/* The len bytes just written at the pool's end become t's norm and stem
 * (one string, NUL-terminated as compute_norm_stem lays them out). */
static void take_norm(nfi_buf *pool, nf_token *t, size_t len)
{
    pool->data[pool->len + len] = '\0';
    t->norm = t->stem = (uint32_t)pool->len;
    t->norm_len = t->stem_len = (uint32_t)len;
    pool->len += len + 1;
    pool->data[pool->len] = '\0';
}

/* An ASCII token that is not stemmed: lower-cased into the pool with its
 * NUL in one step, the stem the norm (the layout compute_norm_stem makes). */
static bool fold_ascii_token(nfi_buf *pool, nf_token *t, const char *raw, size_t n)
{
    /* the room test of nfi_buf_reserve, inline: the pool is sized from the text */
    if ((pool->oom || pool->len + n + 2 > pool->cap) && !nfi_buf_reserve(pool, n + 1))
        return false;
    char *d = pool->data + pool->len;
    for (size_t i = 0; i < n; i++)
        d[i] = (char)nfi_lower_ascii((unsigned char)raw[i]);
    take_norm(pool, t, n);
    return true;
}

/* A word of ASCII and fold2 characters, folded character by character
 * into the pool with its NUL (the layout compute_norm_stem makes, stem =
 * norm). False, with the pool's length unchanged, when a character is not
 * in fold2 (or is cut by MAX_TOKEN_BYTES) or memory runs out: the caller
 * then takes the general path, which gives the same bytes for the words
 * this one accepts. */
static bool fold_simple_token(const nfi_normalizer *nz, nfi_buf *pool, nf_token *t, const char *raw, size_t n)
{
    if (!nfi_buf_reserve(pool, 4 * n + 1)) /* 2 bytes fold to at most 7; each copy writes 7 */
        return false;
    char *d = pool->data + pool->len;
    const unsigned char *u = (const unsigned char *)raw;
    size_t w = 0;
    for (size_t i = 0; i < n;) {
        unsigned b = u[i];
        if (b < 0x80) {
            d[w++] = (char)nfi_lower_ascii((unsigned char)b);
            i++;
            continue;
        }
        if ((b & 0xE0) != 0xC0 || i + 1 >= n)
            return false;
        const fold2 *f = &nz->fold2[(((b & 0x1Fu) << 6) | (u[i + 1] & 0x3Fu)) - FOLD2_FIRST];
        if (!f->len)
            return false;
        memcpy(d + w, f->s, sizeof f->s);
        w += f->len;
        i += 2;
    }
    take_norm(pool, t, w);
    return true;
}

static bool push_unit(nfi_unit_vec *u, uint64_t h)
{
    if (u->len == u->cap) {
        uint64_t *items = nfi_grow_array(u->items, &u->cap, u->len + 1, sizeof *items);
        if (!items)
            return false;
        u->items = items;
    }
    u->items[u->len++] = h;
    return true;
}

/* Hash mode: the norm of t (just folded, followed by its NUL) gets a space
 * instead, and its unit hashes are appended (common.h, nfi_char_unit). */
static bool push_units(tok_ctx *c, const nf_token *t)
{
    char *norm = c->pool->data + t->norm;
    norm[t->norm_len] = ' ';
    if (t->kind != NF_TOKEN_IDEOGRAPHIC)
        return push_unit(c->units, XXH3_64bits(norm, t->norm_len));
    for (size_t k = 0; k < t->norm_len;) {
        uint32_t cp;
        k += nfi_utf8_decode((const unsigned char *)norm + k, t->norm_len - k, &cp);
        if (!push_unit(c->units, nfi_char_unit(cp)))
            return false;
    }
    return true;
}

/* The word cache a token of this kind goes through when it does. */
static word_cache *cache_of(tok_ctx *c, uint8_t kind) { return kind == NF_TOKEN_WORD ? c->cache : &c->nz->plain; }

/* Folds (and stems) the token text[start, end) into its record (t, or a
 * new record in token mode), through the word cache where that pays;
 * hint: the hash of its raw bytes, when already made (0: none). */
static bool fold_token(tok_ctx *c, size_t start, size_t end, uint8_t kind, uint8_t flags, bool ascii, bool hinted,
                       uint64_t hint)
{
    nf_token unit_token; /* hash mode: the record is only scratch */
    nf_token *t = c->units ? &unit_token : token_slot(c->tokens);
    if (!t)
        return false;
    *t = (nf_token){(uint32_t)start, (uint32_t)(end - start), 0, 0, 0, 0, kind, flags};
    const char *raw = c->text + start;
    size_t n = end - start;
    bool ok;
    /* Numbers are not stemmed, and a word without a stemmer folds
     * byte-wise (ASCII) or character by character (fold2) faster than a
     * cache lookup: these bypass the cache. */
    if (ascii && (kind == NF_TOKEN_NUMBER || !c->stemmer))
        ok = fold_ascii_token(c->pool, t, raw, n);
    else if (kind != NF_TOKEN_IDEOGRAPHIC && (kind == NF_TOKEN_NUMBER || !c->stemmer) &&
             fold_simple_token(c->nz, c->pool, t, raw, n))
        ok = true;
    else if (kind == NF_TOKEN_NUMBER)
        ok = compute_norm_stem(c, t, raw, n, ascii);
    else {
        /* ideographic words are never stemmed: they share the unstemmed cache */
        word_cache *wc = cache_of(c, kind);
        uint64_t h = hinted ? hint : nfi_hash64(raw, n);
        size_t slot = 0;
        const char *e = cache_find(wc, h, raw, n, &slot);
        if (e) {
            from_cache(c, t, e);
            ok = !c->pool->oom;
        } else if ((ok = compute_norm_stem(c, t, raw, n, ascii))) {
            cache_put(wc, h, raw, n, c->pool->data + t->norm, t->norm_len, c->pool->data + t->stem, t->stem_len,
                      t->stem == t->norm);
        }
    }
    if (ok && c->units)
        return push_units(c, t);
    if (ok)
        c->tokens->len++;
    return ok;
}

/* Whether the short-word table serves the n bytes at start: at most 8,
 * with 8 readable (the key is one load), on a little-endian machine. */
static inline bool front_serves(size_t start, size_t n, size_t text_len)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return n <= 8 && start + 8 <= text_len;
#else
    (void)start, (void)n, (void)text_len;
    return false;
#endif
}

/* The key of n (1-8: tokens are never empty) bytes at p: their
 * little-endian value. */
static inline uint64_t front_key(const char *p, size_t n)
{
    uint64_t x;
    memcpy(&x, p, sizeof x);
    return x & (~0ull >> (64 - 8 * n));
}

static inline front_slot *front_of(const word_cache *wc, uint64_t key)
{
    return &wc->front[(key * 0x9E3779B97F4A7C15ull) >> (64 - FRONT_BITS)];
}

/* A word that goes through the cache (a stemmed word, in words, or an
 * ideographic one, in plain) gets its entry from the short-word table, or
 * the hash of its raw bytes and its cache slot fetched. */
static inline void hint_found(found_token *p, const char *text, size_t text_len, bool stemmed,
                              const word_cache *words, const word_cache *plain)
{
    if (!(p->kind == NF_TOKEN_IDEOGRAPHIC || (p->kind == NF_TOKEN_WORD && stemmed)))
        return;
    const word_cache *wc = p->kind == NF_TOKEN_WORD ? words : plain;
    if (front_serves(p->start, p->len, text_len)) {
        const front_slot *fs = front_of(wc, front_key(text + p->start, p->len));
        if (fs->key == front_key(text + p->start, p->len) && fs->len == p->len) {
            p->hinted = HINT_FRONT;
            p->h = fs->at;
            return;
        }
    }
    p->hinted = HINT_HASH;
    p->h = XXH3_64bits(text + p->start, p->len);
    __builtin_prefetch(&wc->slots[(size_t)p->h & (CACHE_SLOTS - 1)]);
}

/* What the fold loop keeps in locals (fold_found): the record vector's
 * and the pool's write positions and limits; written back to the context
 * before a token takes fold_token, and read again after it. */
typedef struct fold_out {
    nf_token *t, *t_end; /* the next record, the end of the vector's room */
    char *base, *w;      /* the pool's data and write position */
    char *w_limit;       /* the last write position at which a fast hit fits (none: t_end is t) */
} fold_out;

static inline fold_out fold_out_open(const tok_ctx *c)
{
    const nfi_buf *pool = c->pool;
    const nfi_token_vec *tv = c->tokens;
    /* a hit copies 32 bytes and writes a NUL after the blob, at most 33 */
    bool room = !pool->oom && pool->cap >= ENTRY_ROOM + 1;
    /* (an empty vector or pool may have no memory yet: no offset from NULL) */
    nf_token *t = tv->items ? tv->items + tv->len : NULL;
    char *w = pool->data ? pool->data + pool->len : NULL;
    return (fold_out){t, tv->items ? tv->items + (room ? tv->cap : tv->len) : NULL, pool->data, w,
                      room && pool->data ? pool->data + (pool->cap - (ENTRY_ROOM + 1)) : w};
}

static inline void fold_out_close(tok_ctx *c, const fold_out *o)
{
    c->pool->len = (size_t)(o->w - o->base);
    c->tokens->len = (size_t)(o->t - c->tokens->items);
}

/* Folds the found token p when it is hinted, its cache entry is there,
 * the entry's blob is at most 32 bytes and the record and the pool have
 * room, which is most tokens: the record is written here, once, and the
 * blob copied as two 16-byte moves (from_cache's fast case). False when
 * it does not apply (nothing written): p then takes fold_token, whose
 * last branch is the general case of this one. */
static inline __attribute__((always_inline)) bool fold_found_fast(const found_token *p, const char *text,
                                                                  size_t text_len, fold_out *o, word_cache *words,
                                                                  word_cache *plain)
{
    if (p->hinted && o->t < o->t_end && o->w <= o->w_limit) {
        size_t slot = 0, n = p->len;
        word_cache *wc = p->kind == NF_TOKEN_WORD ? words : plain;
        const char *e;
        if (p->hinted == HINT_FRONT) {
            e = wc->arena.data + p->h;
        } else {
            e = cache_probe(wc, p->h, text + p->start, n, &slot);
            if (e && front_serves(p->start, n, text_len)) {
                uint64_t key = front_key(text + p->start, n);
                *front_of(wc, key) = (front_slot){key, (uint32_t)n, (uint32_t)(e - wc->arena.data)};
            }
        }
        size_t blob_len = e ? get_u16(e + 2) : SIZE_MAX;
        if (blob_len <= 32) {
            const char *blob = e + ENTRY_HEAD + get_u16(e);
            char *d = o->w;
            size_t at = (size_t)(d - o->base);
            copy16(d, blob);
            copy16(d + 16, blob + 16);
            d[blob_len] = '\0';
            o->w = d + blob_len;
            nf_token *t = o->t++;
            memcpy(&t->start, &p->start, 8);
            put_rec(t, e, (uint32_t)at);
            memcpy(&t->kind, &p->kind, 2);
            return true;
        }
    }
    return false;
}

/* The found token p through fold_token, with the locals written back and
 * read again. Out of line: the fast path then keeps none of p's fields
 * (they were spilled to the stack for this call on every token). */
static __attribute__((noinline)) bool fold_found_slow(tok_ctx *c, found_token *f, size_t i, size_t n, fold_out *o)
{
    word_cache *words = c->cache, *plain = &c->nz->plain;
    unsigned resets = words->resets + plain->resets;
    const found_token *p = &f[i];
    fold_out_close(c, o);
    bool ok = fold_token(c, p->start, p->start + p->len, p->kind, p->flags, p->ascii, p->hinted == HINT_HASH, p->h);
    *o = fold_out_open(c);
    /* a table emptied: the tokens hinted ahead may name stale entries */
    for (size_t k = i + 1; resets != words->resets + plain->resets && k < n && k <= i + FETCH_AHEAD; k++)
        hint_found(&f[k], c->text, c->text_len, c->stemmer != NULL, words, plain);
    return ok;
}

/* Folds the found token f[i]: fold_found_fast, else fold_found_slow. */
static inline __attribute__((always_inline)) bool fold_found_token(tok_ctx *c, found_token *f, size_t i, size_t n,
                                                                   const char *text, size_t text_len, fold_out *o,
                                                                   word_cache *words, word_cache *plain)
{
    return fold_found_fast(&f[i], text, text_len, o, words, plain) || fold_found_slow(c, f, i, n, o);
}

/* The arena entry a hinted token's slot names, fetched (a hint only:
 * folding looks the token up again). */
static inline void fetch_entry(const found_token *q, const word_cache *words, const word_cache *plain)
{
    const word_cache *qc = q->kind == NF_TOKEN_WORD ? words : plain;
    const cache_slot *slot = q->hinted == HINT_HASH ? &qc->slots[(size_t)q->h & (CACHE_SLOTS - 1)] : NULL;
    if (slot && slot->at && slot->tag == (uint32_t)(q->h >> 32))
        __builtin_prefetch(qc->arena.data + slot->at - 1);
}

/* Folds every found token of the text, in order (see found_token). */
static bool fold_found(tok_ctx *c)
{
    found_token *f = c->nz->found;
    size_t n = c->n_found;
    c->n_found = 0;
    const char *text = c->text;
    word_cache *words = c->cache, *plain = &c->nz->plain;
    bool stemmed = c->stemmer != NULL;
    /* both tables get their slots now, so no step below tests for them;
     * without (out of memory) nothing is hinted: fold_token, which lives
     * without a table, folds every token */
    if (!cache_slots(words) || !cache_slots(plain)) {
        for (size_t i = 0; i < n; i++)
            if (!fold_token(c, f[i].start, f[i].start + f[i].len, f[i].kind, f[i].flags, f[i].ascii, false, 0))
                return false;
        return true;
    }
    fold_out o = fold_out_open(c);
    size_t text_len = c->text_len, i = 0;
    for (; i < n && i < FETCH_AHEAD; i++)
        hint_found(&f[i], text, text_len, stemmed, words, plain);
    for (i = 0; i + FETCH_AHEAD < n; i++) {
        hint_found(&f[i + FETCH_AHEAD], text, text_len, stemmed, words, plain);
        fetch_entry(&f[i + FETCH_AHEAD / 2], words, plain);
        if (!fold_found_token(c, f, i, n, text, text_len, &o, words, plain))
            return false;
    }
    for (; i < n; i++) {
        if (i + FETCH_AHEAD / 2 < n)
            fetch_entry(&f[i + FETCH_AHEAD / 2], words, plain);
        if (!fold_found_token(c, f, i, n, text, text_len, &o, words, plain))
            return false;
    }
    fold_out_close(c, &o);
    return true;
}

/* Room for one more noted token: the noted ones are folded first when
 * FOUND_MAX are (a long text), and the array grows to FOUND_MAX. Out of
 * line: note_token is inline in every scan and this is rare. */
static __attribute__((noinline)) bool note_room(tok_ctx *c)
{
    nfi_normalizer *nz = c->nz;
    if (c->n_found == FOUND_MAX && !fold_found(c))
        return false;
    if (c->n_found == nz->found_cap) {
        size_t cap = nz->found_cap ? nz->found_cap * 2 : 1024;
        found_token *grown = realloc(nz->found, cap * sizeof *grown);
        if (!grown)
            return false;
        nz->found = grown;
        nz->found_cap = cap;
    }
    return true;
}

/* Token mode: notes the token for fold_found. */
static inline bool note_token(tok_ctx *c, size_t start, size_t end, uint8_t kind, uint8_t flags, bool ascii)
{
    nfi_normalizer *nz = c->nz;
    if ((c->n_found == FOUND_MAX || c->n_found == nz->found_cap) && !note_room(c))
        return false;
    nz->found[c->n_found++] = (found_token){(uint32_t)start, (uint32_t)(end - start), kind, flags, ascii, HINT_NONE, 0};
    return true;
}

static inline bool emit(tok_ctx *c, size_t start, size_t end, uint8_t kind, uint8_t flags, bool ascii)
{
    if (end - start > MAX_TOKEN_BYTES) { /* keep the pool bounded on garbage */
        end = start + MAX_TOKEN_BYTES;
        while (((unsigned char)c->text[end] & 0xC0) == 0x80) /* between characters: folding needs whole ones */
            end--;
    }
    c->count++;
    if (c->count_only)
        return true;
    if (c->sentence_start)
        flags |= NF_TOKEN_SENTENCE_START;
    c->sentence_start = false;
    if (c->tokens)
        return note_token(c, start, end, kind, flags, ascii);
    return fold_token(c, start, end, kind, flags, ascii, false, 0);
}

/* Dictionary segmentation of text[start,end) through ICU. */
static bool segment_run(tok_ctx *c, size_t start, size_t end)
{
    nfi_normalizer *nz = c->nz;
    const char *s = c->text + start;
    int32_t n = (int32_t)(end - start);
    if (!grow_u16(nz, n + 8))
        return false;
    int32_t u = 0;
    for (int32_t i = 0; i < n;) { /* UTF-8 -> UTF-16 keeping a byte map */
        uint32_t cp;
        size_t k = nfi_utf8_decode((const unsigned char *)s + i, (size_t)(n - i), &cp);
        nz->u16_to_byte[u] = i;
        if (cp >= 0x10000) {
            nz->u16a[u++] = (UChar)(0xD7C0 + (cp >> 10));
            nz->u16_to_byte[u] = i;
            nz->u16a[u++] = (UChar)(0xDC00 | (cp & 0x3FF));
        } else {
            nz->u16a[u++] = (UChar)cp;
        }
        i += (int32_t)k;
    }
    nz->u16_to_byte[u] = n;
    UErrorCode e = U_ZERO_ERROR;
    ubrk_setText(nz->words, nz->u16a, u, &e);
    if (U_FAILURE(e))
        return false;
    /* All boundaries first: emitting a word folds it through the same
     * scratch buffers the iterator reads (u16a), so nothing is emitted while
     * the iterator is still walking them. */
    size_t n_seg = 0;
    int32_t prev = ubrk_first(nz->words);
    for (int32_t next = ubrk_next(nz->words); next != UBRK_DONE; prev = next, next = ubrk_next(nz->words)) {
        if (ubrk_getRuleStatus(nz->words) == UBRK_WORD_NONE)
            continue;
        if (n_seg + 2 > nz->seg_cap) {
            size_t cap = nz->seg_cap ? nz->seg_cap * 2 : 256;
            size_t *grown = realloc(nz->seg, cap * sizeof *grown);
            if (!grown)
                return false;
            nz->seg = grown;
            nz->seg_cap = cap;
        }
        nz->seg[n_seg++] = start + (size_t)nz->u16_to_byte[prev];
        nz->seg[n_seg++] = start + (size_t)nz->u16_to_byte[next];
    }
    for (size_t k = 0; k < n_seg; k += 2)
        if (!emit(c, nz->seg[k], nz->seg[k + 1], NF_TOKEN_IDEOGRAPHIC, NF_TOKEN_NON_LATIN, false))
            return false;
    return true;
}

/* The end of the run of ASCII letters at i: 8 bytes at a time from a
 * mask while 8 remain (the lowest non-letter flag is exact: carries only
 * corrupt flags above a non-ASCII byte), then byte by byte. */
static inline size_t ascii_letters_end(const unsigned char *u, size_t len, size_t i)
{
    while (i + 8 <= len) {
        uint64_t x;
        memcpy(&x, u + i, sizeof x);
        uint64_t other = ~nfi_swar_in(x | NFI_SWAR_ONES * 32, 'a', 'z') & NFI_SWAR_HIGH;
        if (other)
            return i + (unsigned)__builtin_ctzll(other) / 8;
        i += 8;
    }
    while (i < len && (unsigned)((u[i] | 32) - 'a') < 26u)
        i++;
    return i;
}

/* Scans one space-delimited word or number starting at i; returns its end.
 * Works on locals (a store through the out pointers could alias the text
 * and force reloads) and runs of ASCII letters and digits in tight loops. */
static size_t scan_word(const char *text, size_t len, size_t i, bool keep_apostrophe, bool *ascii_out,
                        bool *number_out)
{
    size_t n;
    bool ascii = true, number = is_digit(peek(text, len, i, &n));
    const unsigned char *u = (const unsigned char *)text;
    while (i < len) {
        size_t run = i;
        i = ascii_letters_end(u, len, i);
        if (i > run)
            number = false;
        while (i < len && (unsigned)(u[i] - '0') < 10u)
            i++;
        if (i >= len || (u[i] < 0x80 && !ascii_alnum(u[i]) && u[i] != '.' && u[i] != ',' && u[i] != '\''))
            break; /* an ASCII byte that is neither letter, digit nor joiner ends the word */
        if (i > run)
            continue;
        uint32_t cp = peek(text, len, i, &n);
        if (is_word_char(cp) && !is_dictionary_script(cp)) {
            ascii &= cp < 0x80;
            number &= is_digit(cp);
            i += n;
            continue;
        }
        size_t n2;
        uint32_t after = peek(text, len, i + n, &n2);
        bool join = false;
        if (number && (cp == '.' || cp == ',') && is_digit(after))
            join = true;
        else if (keep_apostrophe && is_apostrophe(cp) && is_word_char(after) && !is_digit(after))
            join = true;
        if (!join)
            break;
        ascii &= cp < 0x80;
        i += n;
    }
    *ascii_out = ascii;
    *number_out = number;
    return i;
}

static uint8_t first_char_flags(const char *text, size_t len, size_t i)
{
    size_t n;
    uint32_t cp = peek(text, len, i, &n);
    uint8_t flags = 0;
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z')
            flags |= NF_TOKEN_CAPITALIZED;
        return flags;
    }
    if (u_isupper((UChar32)cp) || u_istitle((UChar32)cp))
        flags |= NF_TOKEN_CAPITALIZED;
    UErrorCode e = U_ZERO_ERROR;
    UScriptCode sc = uscript_getScript((UChar32)cp, &e);
    if (sc != USCRIPT_LATIN && sc != USCRIPT_COMMON && sc != USCRIPT_INHERITED)
        flags |= NF_TOKEN_NON_LATIN;
    return flags;
}

#ifdef __SSE2__

/* count_ascii_stretches' masks of COUNT_WINDOW bytes at p, a bit a byte
 * (SSE2). A letter of U+00C0-U+00FF (lead byte C3, not × or ÷: the
 * accented letters of German, French ...) counts as two letter bytes and
 * not as non-ASCII: for counting it joins a word as an ASCII letter does
 * (a letter, no digit, no joiner), so such words do not end the stretch. */
#define COUNT_WINDOW 64
typedef struct count_masks {
    uint64_t letter, digit, high, sep, apostrophe;
} count_masks;

static inline count_masks count_masks_of(const char *p)
{
    const __m128i a_1 = _mm_set1_epi8('a' - 1), z_1 = _mm_set1_epi8('z' + 1), zero_1 = _mm_set1_epi8('0' - 1),
                  nine_1 = _mm_set1_epi8('9' + 1), bit5 = _mm_set1_epi8(0x20), dot = _mm_set1_epi8('.'),
                  comma = _mm_set1_epi8(','), apostrophe = _mm_set1_epi8('\''), lead = _mm_set1_epi8((char)0xC3),
                  cont_end = _mm_set1_epi8((char)0xC0), times = _mm_set1_epi8((char)0x97),
                  divide = _mm_set1_epi8((char)0xB7);
    count_masks m = {0, 0, 0, 0, 0};
    uint64_t leads = 0, conts = 0; /* C3; 80-BF but for the second bytes of × and ÷ */
    for (int k = 0; k < COUNT_WINDOW / 16; k++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i lower = _mm_or_si128(x, bit5); /* non-ASCII bytes stay negative: no range below holds them */
        __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(lower, a_1), _mm_cmplt_epi8(lower, z_1));
        __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, zero_1), _mm_cmplt_epi8(x, nine_1));
        __m128i sep = _mm_or_si128(_mm_cmpeq_epi8(x, dot), _mm_cmpeq_epi8(x, comma));
        m.letter |= (uint64_t)(unsigned)_mm_movemask_epi8(letter) << (16 * k);
        m.digit |= (uint64_t)(unsigned)_mm_movemask_epi8(digit) << (16 * k);
        m.high |= (uint64_t)(unsigned)_mm_movemask_epi8(x) << (16 * k);
        m.sep |= (uint64_t)(unsigned)_mm_movemask_epi8(sep) << (16 * k);
        m.apostrophe |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, apostrophe)) << (16 * k);
        __m128i cont = _mm_andnot_si128(_mm_or_si128(_mm_cmpeq_epi8(x, times), _mm_cmpeq_epi8(x, divide)),
                                        _mm_cmplt_epi8(x, cont_end)); /* signed: 80-BF */
        leads |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, lead)) << (16 * k);
        conts |= (uint64_t)(unsigned)_mm_movemask_epi8(cont) << (16 * k);
    }
    uint64_t first = leads & conts >> 1, latin = first | first << 1; /* a lead at the last byte stays non-ASCII */
    m.letter |= latin;
    m.high &= ~latin;
    return m;
}
#endif

/* Counting only, from a token boundary at i: in ASCII, runs of letters and
 * digits are joined into one token only across '.' or ',' between digits
 * (numbers) and, in English, across an apostrophe before a letter. Where
 * neither can happen the tokens are exactly the runs, so 8 bytes at a time
 * they are counted from masks (a run may go on from one 8 to the next), up
 * to the first byte that does not qualify: a non-ASCII byte, or a '.', ','
 * or apostrophe that might join (the byte after the 8 counts as unknown).
 * A run that reaches such a byte, or the end, is not counted here: the
 * position returned is its start (else the bad byte), a token boundary
 * where the caller's scan takes over. Carries out of a non-ASCII byte only
 * corrupt the flags above it, which are not used. */
static size_t count_ascii_stretches(const char *text, size_t len, size_t i, bool keep_apostrophe, size_t *count)
{
    const uint64_t last_byte = 0x80ull << 56;
    bool in_run = false;  /* a run of letters and digits goes on at i */
    size_t run_start = 0; /* where it began (counted already) */
#ifdef __SSE2__
    /* 64 bytes at a time, the same steps as the 8-byte loop below with a
     * bit a byte instead of the high bit of each byte */
    const uint64_t last_bit = 1ull << (COUNT_WINDOW - 1), window = last_bit | (last_bit - 1);
    while (i + COUNT_WINDOW <= len) {
        count_masks m = count_masks_of(text + i);
        uint64_t digit_before = m.digit << 1 | (in_run && (unsigned)(text[i - 1] - '0') < 10u ? 1u : 0u);
        uint64_t bad = m.high | (m.sep & digit_before & ((m.digit | m.high) >> 1 | last_bit));
        if (keep_apostrophe)
            bad |= m.apostrophe & ((m.letter | m.high) >> 1 | last_bit);
        unsigned u = bad ? (unsigned)__builtin_ctzll(bad) : COUNT_WINDOW; /* bytes before the first bad one */
        uint64_t usable = u == COUNT_WINDOW ? window : (1ull << u) - 1;
        uint64_t alnum = (m.letter | m.digit) & usable;
        uint64_t other = ~alnum & usable;
        *count += nfi_popcount64(alnum & ~(alnum << 1 | (in_run ? 1u : 0u)));
        bool open = u == 0 ? in_run : ((alnum >> (u - 1)) & 1) != 0; /* a run reaches byte u */
        if (open && other)
            run_start = i + (unsigned)(63 - __builtin_clzll(other)) + 1;
        else if (open && !in_run)
            run_start = i;
        if (u < COUNT_WINDOW) {
            if (!open)
                return i + u;
            --*count;
            return run_start;
        }
        in_run = open;
        i += COUNT_WINDOW;
    }
#endif
    while (i + 8 <= len) {
        uint64_t x;
        memcpy(&x, text + i, sizeof x);
        uint64_t high = x & NFI_SWAR_HIGH;
        uint64_t digit = nfi_swar_in(x, '0', '9'), letter = nfi_swar_in(x | NFI_SWAR_ONES * 32, 'a', 'z');
        uint64_t sep = nfi_swar_eq(x, '.') | nfi_swar_eq(x, ',');
        uint64_t digit_before = digit << 8 | (in_run && (unsigned)(text[i - 1] - '0') < 10u ? 0x80u : 0u);
        uint64_t bad = high | (sep & digit_before & ((digit | high) >> 8 | last_byte));
        if (keep_apostrophe)
            bad |= nfi_swar_eq(x, '\'') & ((letter | high) >> 8 | last_byte);
        unsigned u = bad ? (unsigned)__builtin_ctzll(bad) / 8 : 8; /* bytes before the first bad one */
        uint64_t usable = u == 8 ? ~0ull : (1ull << (8 * u)) - 1;
        uint64_t alnum = (letter | digit) & usable;
        uint64_t other = ~alnum & NFI_SWAR_HIGH & usable;
        *count += nfi_swar_count(alnum & ~(alnum << 8 | (in_run ? 0x80u : 0u)));
        bool open = u == 0 ? in_run : ((alnum >> (8 * u - 1)) & 1) != 0; /* a run reaches byte u */
        if (open && other)
            run_start = i + (unsigned)(63 - __builtin_clzll(other)) / 8 + 1;
        else if (open && !in_run)
            run_start = i;
        if (u < 8) {
            if (!open)
                return i + u;
            --*count;
            return run_start;
        }
        in_run = open;
        i += 8;
    }
    if (in_run) {
        --*count;
        return run_start;
    }
    return i;
}

/* The end of the word at i when it begins with a letter (so it is no
 * number: '.' and ',' cannot join it) and is made of ASCII letters and
 * digits and of two-byte word characters (never of a dictionary script),
 * ending at an ASCII byte that cannot join it or at a character that is no
 * word character and no apostrophe (a two-byte one, or U+2000-U+203F but
 * for an English U+2019): what scan_word finds, *ascii as it sets it. A
 * two-byte non-word character at i (NBSP, guillemets ...) is a separator:
 * *skip is set and its end returned. Returns 0 for anything else (numbers,
 * apostrophes that may join, other characters): the general loop decides.
 * Counting and token mode take it where their ASCII paths stop. */
static inline __attribute__((always_inline)) size_t
simple_word_end(const nfi_normalizer *nz, const char *text, size_t len, size_t i, bool keep_apostrophe, bool *skip,
                bool *ascii)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t start = i;
    bool high = false;
    *skip = false;
    while (i < len) {
        unsigned b = u[i];
        if (b < 0x80) {
            if (ascii_alnum((unsigned char)b)) {
                if (i == start && b <= '9')
                    return 0; /* a number */
                /* the ASCII letters and digits after it, from the class table */
                for (i++; i < len && (nz->byte_class[u[i]] & (BYTE_LETTER | BYTE_DIGIT)); i++)
                    ;
                continue;
            }
            if (i == start || (b == '\'' && keep_apostrophe))
                return 0;
            break;
        }
        if ((b & 0xE0) == 0xC0 && i + 1 < len && (u[i + 1] & 0xC0) == 0x80) {
            unsigned k = (((b & 0x1Fu) << 6) | (u[i + 1] & 0x3Fu)) - FOLD2_FIRST;
            if (k >= FOLD2_END - FOLD2_FIRST)
                return 0; /* overlong: the general loop */
            if (nz->class2[k] == CLASS2_OTHER) {
                if (i > start)
                    break;
                *skip = true;
                return i + 2;
            }
            if (i == start && nz->digit2[k])
                return 0;
            high = true;
            i += 2;
            continue;
        }
        if (b == 0xE2 && i > start && i + 2 < len && u[i + 1] == 0x80 && (u[i + 2] & 0xC0) == 0x80 &&
            !(keep_apostrophe && u[i + 2] == 0x99))
            break;
        return 0;
    }
    *ascii = !high;
    return i > start ? i : 0;
}

/* Hash mode's fast path: the end of the token at i when it is a run of
 * ASCII letters, or of ASCII digits, that ends at an ASCII byte that cannot
 * join it to more (what scan_word would find: letters are joined only by
 * digits, an English apostrophe or non-ASCII letters, digits also by '.'
 * or ','), else 0 and scan_word decides. */
static inline size_t plain_ascii_token_end(const char *text, size_t len, size_t i, bool keep_apostrophe)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t end;
    if ((unsigned)((u[i] | 32) - 'a') < 26u) {
        end = ascii_letters_end(u, len, i + 1);
        if (end == len || (u[end] < 0x80 && !ascii_alnum(u[end]) && !(keep_apostrophe && u[end] == '\'')))
            return end;
        return 0;
    }
    for (end = i; end < len && (unsigned)(u[end] - '0') < 10u;)
        end++;
    if (end == i)
        return 0;
    if (end == len || (u[end] < 0x80 && !ascii_alnum(u[end]) && u[end] != '.' && u[end] != ',' && u[end] != '\''))
        return end;
    return 0;
}

/* plain_ascii_token_end for tokens_fast, at a letter or digit of class
 * k, the test of the byte after the token from the class table (0 for
 * non-ASCII bytes): it must be a separator, and one that cannot join:
 * not an English apostrophe after letters (stop is BYTE_APOSTROPHE in
 * English, else 0), not '.', ',' or an apostrophe after digits. *after
 * is that byte's class when the token is plain and ends before len (the
 * separator tokens_fast then skips at once), else 0. */
static inline size_t class_token_end(const uint8_t *cls, const char *text, size_t len, size_t i, uint8_t k,
                                     uint8_t stop, uint8_t *after_out)
{
    const unsigned char *u = (const unsigned char *)text;
    size_t end;
    if (k & BYTE_LETTER) {
        end = ascii_letters_end(u, len, i + 1);
    } else {
        for (end = i + 1; end < len && (unsigned)(u[end] - '0') < 10u;)
            end++;
        stop = BYTE_NUMBER_JOIN;
    }
    *after_out = 0;
    if (end == len)
        return end;
    uint8_t after = cls[u[end]];
    if (!(after & BYTE_SEP) || (after & stop))
        return 0;
    *after_out = after;
    return end;
}

/* Hash mode: the ASCII token text[start, end) (plain_ascii_token_end)
 * lower-cased into the pool, followed by a space, and its unit; what emit
 * and push_units make of it, with 8 bytes lower-cased at a time where the
 * text has 8 to read (bytes past the token are written but not kept). */
static bool unit_ascii(tok_ctx *c, const char *text, size_t len, size_t start, size_t end)
{
    size_t n = end - start < MAX_TOKEN_BYTES ? end - start : MAX_TOKEN_BYTES;
    nfi_buf *pool = c->pool;
    if ((pool->oom || pool->len + n + 9 > pool->cap) && !nfi_buf_reserve(pool, n + 8))
        return false;
    c->count++;
    char *d = pool->data + pool->len;
    const char *raw = text + start;
    size_t k = 0;
    for (; k < n && start + k + 8 <= len; k += 8) {
        uint64_t x;
        memcpy(&x, raw + k, sizeof x);
        x |= nfi_swar_in(x, 'A', 'Z') >> 2; /* carries from bytes past the token stay past it */
        memcpy(d + k, &x, sizeof x);
    }
    for (; k < n; k++)
        d[k] = (char)nfi_lower_ascii((unsigned char)raw[k]);
    d[n] = ' ';
    d[n + 1] = '\0';
    pool->len += n + 1;
    return push_unit(c->units, XXH3_64bits(d, n));
}

/* Hash mode's output, held in locals by the fast paths below: the pool's
 * write position and end, and the units. */
typedef struct unit_out {
    char *d, *d_end;
    uint64_t *items;
    size_t n, cap, count;
} unit_out;

static unit_out unit_out_open(const tok_ctx *c)
{
    nfi_buf *pool = c->pool;
    return (unit_out){pool->data + pool->len, pool->data + pool->cap, c->units->items, c->units->len,
                      c->units->cap, c->count};
}

static void unit_out_close(tok_ctx *c, const unit_out *o)
{
    c->pool->len = (size_t)(o->d - c->pool->data);
    c->pool->data[c->pool->len] = '\0';
    c->units->len = o->n;
    c->count = o->count;
}

/* The norm of n bytes just written at o->d becomes a unit, followed by a
 * space (push_units' layout). */
static inline void unit_out_push(unit_out *o, size_t n)
{
    o->d[n] = ' ';
    o->items[o->n++] = XXH3_64bits(o->d, n);
    o->d += n + 1;
    o->count++;
}

#define SIMPLE_WORD_MAX 64 /* raw bytes of a word simple_word takes */

/* Hash mode: the word at start when it is made only of ASCII letters and
 * digits and of two-byte characters that are word characters with a fold2
 * entry, begins with a letter (so it is no number and '.' or ',' cannot
 * join it) and ends at an ASCII byte or at a character that cannot join
 * it (a two-byte non-word character, or U+2000-U+203F but for an English
 * apostrophe): what scan_word and fold_simple_token make of it, folded
 * straight into the pool and hashed. Returns its end, or 0 (nothing
 * written) when it is anything else: the general path decides. */
static inline size_t simple_word(const nfi_normalizer *nz, unit_out *o, const char *text, size_t len, size_t start,
                                 bool keep_apostrophe)
{
    if ((size_t)(o->d_end - o->d) < 4 * SIMPLE_WORD_MAX + 16 || o->n == o->cap)
        return 0;
    const unsigned char *u = (const unsigned char *)text;
    size_t i = start, w = 0, limit = len - start > SIMPLE_WORD_MAX ? start + SIMPLE_WORD_MAX : len;
    while (i < limit) {
        unsigned b = u[i];
        if (b < 0x80) {
            if (!ascii_alnum((unsigned char)b))
                break;
            if (i == start && b <= '9')
                return 0; /* a number: the general path */
            o->d[w++] = (char)nfi_lower_ascii((unsigned char)b);
            i++;
            continue;
        }
        if ((b & 0xE0) == 0xC0 && i + 1 < len) {
            unsigned cp = ((b & 0x1Fu) << 6) | (u[i + 1] & 0x3Fu);
            uint8_t cls = nz->class2[cp - FOLD2_FIRST];
            if (cls == CLASS2_FOLDS && (i > start || !nz->digit2[cp - FOLD2_FIRST])) {
                const fold2 *f = &nz->fold2[cp - FOLD2_FIRST];
                memcpy(o->d + w, f->s, sizeof f->s);
                w += f->len;
                i += 2;
                continue;
            }
            if (cls == CLASS2_OTHER && i > start)
                break;
            return 0;
        }
        if (b == 0xE2 && i > start && i + 2 < len && u[i + 1] == 0x80 && (u[i + 2] & 0xC0) == 0x80 &&
            !(keep_apostrophe && u[i + 2] == 0x99))
            break; /* U+2000-U+203F: spaces, dashes, quotes: no word character, joins nothing */
        return 0;
    }
    if (i == start || (i >= limit && limit < len))
        return 0;
    if (i < len && u[i] == '\'' && keep_apostrophe)
        return 0; /* an English apostrophe may join more */
    unit_out_push(o, w);
    return i;
}

#ifdef __SSE2__
/* The letter, digit and non-ASCII masks of 64 bytes (bit k: byte k). */
typedef struct masks64 {
    uint64_t letters, digits, high;
} masks64;

static inline masks64 masks_of(const char *p)
{
    const __m128i a_1 = _mm_set1_epi8('a' - 1), z_1 = _mm_set1_epi8('z' + 1), zero_1 = _mm_set1_epi8('0' - 1),
                  nine_1 = _mm_set1_epi8('9' + 1), bit5 = _mm_set1_epi8(0x20);
    masks64 m = {0, 0, 0};
    for (int k = 0; k < 4; k++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i lower = _mm_or_si128(x, bit5); /* non-ASCII bytes stay negative: no range below holds them */
        __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(lower, a_1), _mm_cmplt_epi8(lower, z_1));
        __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, zero_1), _mm_cmplt_epi8(x, nine_1));
        m.letters |= (uint64_t)(unsigned)_mm_movemask_epi8(letter) << (16 * k);
        m.digits |= (uint64_t)(unsigned)_mm_movemask_epi8(digit) << (16 * k);
        m.high |= (uint64_t)(unsigned)_mm_movemask_epi8(x) << (16 * k);
    }
    return m;
}

/* The 32 bytes at p lower-cased (ASCII) to d. */
static inline void lower32(char *d, const char *p)
{
    const __m128i big_a_1 = _mm_set1_epi8('A' - 1), big_z_1 = _mm_set1_epi8('Z' + 1), bit5 = _mm_set1_epi8(0x20);
    for (int k = 0; k < 2; k++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * k));
        __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(x, big_a_1), _mm_cmplt_epi8(x, big_z_1));
        _mm_storeu_si128((__m128i *)(void *)(d + 16 * k), _mm_or_si128(x, _mm_and_si128(upper, bit5)));
    }
}

#define WINDOW_ROOM 1024 /* pool bytes that hold all a window of units_fast adds */

/* Hash mode's fast path from the boundary i, 64 bytes at a time: ASCII
 * separators are skipped from the masks; a run of ASCII letters, or of
 * digits, that ends at an ASCII byte that cannot join it to more (what
 * plain_ascii_token_end accepts) is lower-cased into the pool 32 bytes at
 * once (the bytes past it are overwritten by what follows, or lie past the
 * pool's length) and hashed there; words with two-byte letters go to
 * simple_word, which also ends an ASCII run at a non-ASCII byte. A token
 * that crosses the window's end starts the next window. Returns the first
 * boundary it leaves to the general loop: a token neither path takes, or
 * one whose 32 bytes are not all in the text, or fewer than 64 bytes left. */
static size_t units_fast(tok_ctx *c, const char *text, size_t len, size_t i, bool keep_apostrophe)
{
    if (c->pool->oom)
        return i;
    unit_out o = unit_out_open(c);
    while (i + 64 <= len) {
        masks64 m = masks_of(text + i);
        uint64_t starts = m.letters | m.digits | m.high;
        /* whether the window can add no more than the room there is: its
         * tokens start in it and end before i + 128 (simple_word takes at
         * most 64 bytes), at most 3.5 bytes of norm a byte of text (fold2),
         * a space each and 32 bytes written ahead; at most 64 units; and
         * 32 bytes after any plain token. Then the plain path's test is
         * its length alone (the per-token test kept registers spilled). */
        bool roomy = (size_t)(o.d_end - o.d) >= WINDOW_ROOM && o.cap - o.n >= 64 && i + 96 <= len;
        unsigned pos = 0; /* bytes of the window done */
        for (;;) {
            uint64_t rest = pos < 64 ? starts >> pos << pos : 0;
            if (!rest) {
                i += pos > 64 ? pos : 64;
                break;
            }
            unsigned s = (unsigned)__builtin_ctzll(rest);
            uint64_t bit = 1ull << s;
            if (m.high & bit) {
                size_t end = simple_word(c->nz, &o, text, len, i + s, keep_apostrophe);
                const unsigned char *u = (const unsigned char *)text + i + s;
                if (!end && u[0] == 0xC2 && c->nz->class2[(u[1] & 0x3Fu) + 0x80 - FOLD2_FIRST] == CLASS2_OTHER)
                    end = i + s + 2; /* NBSP, guillemets ...: a separator */
                else if (!end && u[0] == 0xE2 && u[1] == 0x80 && (u[2] & 0xC0) == 0x80)
                    end = i + s + 3; /* U+2000-U+203F: a separator */
                if (!end) {
                    unit_out_close(c, &o);
                    return i + s;
                }
                pos = (unsigned)(end - i);
                continue;
            }
            uint64_t run = m.letters & bit ? m.letters : m.digits;
            uint64_t after = ~(run >> s); /* 0: the window is one token */
            unsigned e = after ? s + (unsigned)__builtin_ctzll(after) : 64; /* at most 64 */
            if (e == 64) { /* the token goes on past the window */
                if (s == 0)
                    goto general;
                i += s;
                break;
            }
            uint64_t end_bit = 1ull << e;
            unsigned char b = (unsigned char)text[i + e];
            bool plain = !(m.high & end_bit) && (m.letters & bit ? !(m.digits & end_bit) && !(keep_apostrophe && b == '\'')
                                                               : !(m.letters & end_bit) && b != '.' && b != ',' && b != '\'');
            if (!plain) {
                size_t end = m.letters & bit ? simple_word(c->nz, &o, text, len, i + s, keep_apostrophe) : 0;
                if (!end) {
                    i += s;
                    goto general;
                }
                pos = (unsigned)(end - i);
                continue;
            }
            unsigned n = e - s;
            if (n > 32 || (!roomy && (i + s + 32 > len || (size_t)(o.d_end - o.d) < 34 || o.n == o.cap))) {
                i += s;
                goto general;
            }
            lower32(o.d, text + i + s);
            unit_out_push(&o, n);
            pos = e;
        }
    }
general:
    unit_out_close(c, &o);
    return i;
}
#endif

/* Token mode's fast path from the boundary i: ASCII separators are
 * skipped (noting sentence ends as the loop below does), a plain ASCII
 * token (plain_ascii_token_end: what scan_word would find, ended by a byte
 * that cannot join it to more) and a word of ASCII and two-byte letters
 * (simple_word_end) are emitted with the flags the loop gives them (a
 * two-byte first character's from the flags2 table), without the general
 * classification of each character; two-byte separators are skipped (none
 * ends a sentence). Returns the first boundary it leaves to the loop (a
 * token neither takes, or len), or SIZE_MAX when emit fails. */
/* What tokens_fast keeps in locals: the context's count, sentence flag
 * and noted tokens, and how many may be noted without note_room (0: none,
 * every token takes emit, as in hash mode without SSE2). Written back to
 * the context before emit or anything else that reads it, read after. */
typedef struct note_out {
    found_token *found;
    size_t n, room, count;
    bool sentence;
} note_out;

static inline note_out note_out_open(const tok_ctx *c)
{
    size_t cap = c->nz->found_cap < FOUND_MAX ? c->nz->found_cap : FOUND_MAX;
    return (note_out){c->nz->found, c->n_found, c->tokens ? cap : 0, c->count, c->sentence_start};
}

static inline void note_out_close(tok_ctx *c, const note_out *o)
{
    c->n_found = o->n;
    c->count = o->count;
    c->sentence_start = o->sentence;
}

/* emit for tokens_fast: the token is noted from the locals when it fits
 * (what emit and note_token do), else through emit. */
static inline bool note_fast(tok_ctx *c, note_out *o, size_t start, size_t end, uint8_t kind, uint8_t flags,
                             bool ascii)
{
    if (o->n < o->room && end - start <= MAX_TOKEN_BYTES) {
        flags |= o->sentence ? NF_TOKEN_SENTENCE_START : 0;
        o->sentence = false;
        o->count++;
        o->found[o->n++] = (found_token){(uint32_t)start, (uint32_t)(end - start), kind, flags, ascii, HINT_NONE, 0};
        return true;
    }
    note_out_close(c, o);
    bool ok = emit(c, start, end, kind, flags, ascii);
    *o = note_out_open(c);
    return ok;
}

static size_t tokens_fast(tok_ctx *c, const char *text, size_t len, size_t i, bool keep_apostrophe)
{
    const uint8_t *cls = c->nz->byte_class;
    uint8_t stop = keep_apostrophe ? BYTE_APOSTROPHE : 0;
    note_out o = note_out_open(c);
    while (i < len) {
        uint8_t k = cls[(unsigned char)text[i]];
        if (k & BYTE_SEP) {
            o.sentence |= (k & BYTE_SENTENCE) != 0;
            i++;
            continue;
        }
        uint8_t after;
        size_t end = k ? class_token_end(cls, text, len, i, k, stop, &after) : 0;
        if (end) {
            bool number = (k & BYTE_DIGIT) != 0;
            if (!note_fast(c, &o, i, end, number ? NF_TOKEN_NUMBER : NF_TOKEN_WORD,
                           k & BYTE_UPPER ? NF_TOKEN_CAPITALIZED : 0, true))
                return SIZE_MAX;
            /* the separator after it, skipped as the test above would */
            o.sentence |= (after & BYTE_SENTENCE) != 0;
            i = end + (after != 0);
            continue;
        }
        /* a word with two-byte letters, or a two-byte separator */
        bool skip, ascii;
        if (!(end = simple_word_end(c->nz, text, len, i, keep_apostrophe, &skip, &ascii)))
            break;
        if (!skip) {
            unsigned char b = (unsigned char)text[i];
            uint8_t flags = b < 0x80 ? (k & BYTE_UPPER ? NF_TOKEN_CAPITALIZED : 0)
                                     : c->nz->flags2[(((b & 0x1Fu) << 6) | (text[i + 1] & 0x3Fu)) - FOLD2_FIRST];
            if (!note_fast(c, &o, i, end, NF_TOKEN_WORD, flags, ascii))
                return SIZE_MAX;
        }
        i = end;
    }
    note_out_close(c, &o);
    return i;
}

/* The one segmentation loop of nfi_tokenize and nfi_count_tokens. */
static nf_status scan_tokens(tok_ctx *cp_ctx, const char *text, size_t len, const char *lang, nf_error *err)
{
    tok_ctx c = *cp_ctx;
    c.text_len = len;
    bool keep_apostrophe = lang && strcmp(lang, "en") == 0;
    size_t i = 0;
    while (i < len) {
        /* each mode's fast path first (one test for counting, `clean`'s
         * mode); without SSE2 hash mode takes tokens_fast too, which is
         * right for it as well: emit serves every mode */
        if (c.count_only) {
            if ((i = count_ascii_stretches(text, len, i, keep_apostrophe, &c.count)) >= len)
                break;
            bool skip, ascii;
            size_t end = simple_word_end(c.nz, text, len, i, keep_apostrophe, &skip, &ascii);
            if (end) {
                c.count += !skip;
                i = end;
                continue;
            }
        }
#ifdef __SSE2__
        else if (c.units) {
            if ((i = units_fast(&c, text, len, i, keep_apostrophe)) >= len)
                break;
        }
#endif
        else if ((i = tokens_fast(&c, text, len, i, keep_apostrophe)) >= len) {
            if (i == SIZE_MAX)
                return nfi_fail(err, NF_ERR_NOMEM, "out of memory while tokenizing");
            break;
        }
        unsigned char b = (unsigned char)text[i];
        if (b < 0x80 && !ascii_alnum(b)) { /* the else branch below, for ASCII */
            if (b == '\n' || b == '.' || b == '!' || b == '?' || b == ':')
                c.sentence_start = true;
            i++;
            continue;
        }
        size_t end;
        if (c.units && (end = plain_ascii_token_end(text, len, i, keep_apostrophe))) {
            if (!unit_ascii(&c, text, len, i, end))
                return nfi_fail(err, NF_ERR_NOMEM, "out of memory while tokenizing");
            i = end;
            continue;
        }
        size_t n;
        uint32_t cp = peek(text, len, i, &n);
        if (is_dictionary_script(cp)) {
            size_t j = i + n;
            while (j < len) {
                uint32_t cj = peek(text, len, j, &n);
                if (!is_dictionary_script(cj) && !(cj >= 0x80 && (U_GET_GC_MASK((UChar32)cj) & U_GC_M_MASK)))
                    break;
                j += n;
            }
            if (!segment_run(&c, i, j))
                return nfi_fail(err, NF_ERR_NOMEM, "word segmentation failed");
            i = j;
        } else if (is_word_char(cp)) {
            bool ascii, number;
            end = scan_word(text, len, i, keep_apostrophe, &ascii, &number);
            uint8_t flags = number || c.count_only || c.units ? 0
                            : b < 0x80 ? (b >= 'A' && b <= 'Z' ? NF_TOKEN_CAPITALIZED : 0)
                                       : first_char_flags(text, len, i);
            if (!emit(&c, i, end, number ? NF_TOKEN_NUMBER : NF_TOKEN_WORD, flags, ascii))
                return nfi_fail(err, NF_ERR_NOMEM, "out of memory while tokenizing");
            i = end;
        } else {
            if (cp == '\n' || cp == '.' || cp == '!' || cp == '?' || cp == 0x3002 || cp == ':')
                c.sentence_start = true;
            i += n;
        }
    }
    if (c.tokens && !fold_found(&c))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory while tokenizing");
    cp_ctx->count = c.count;
    return NF_OK;
}

nf_status nfi_tokenize(nfi_normalizer *nz, const char *text, size_t len, const char *lang, bool stem,
                      nfi_token_vec *tokens, nfi_buf *pool, nf_error *err)
{
    if (len > UINT32_MAX)
        return nfi_fail(err, NF_ERR_ARG, "text longer than 4 GiB");
    stemmer_slot *slot = stem ? slot_for(nz, lang) : NULL;
    struct sb_stemmer *stemmer = slot ? slot->stemmer : NULL;
    tok_ctx c = {nz,     0,    false, stemmer, stemmer ? slot->latin1 : NULL, stemmer ? &slot->cache : &nz->plain,
                 tokens, NULL, pool,  text,    true,                          0, 0};
    return scan_tokens(&c, text, len, lang, err);
}

nf_status nfi_tokenize_units(nfi_normalizer *nz, const char *text, size_t len, const char *lang, nfi_unit_vec *units,
                            nfi_buf *pool, size_t *count, nf_error *err)
{
    *count = 0;
    if (len > UINT32_MAX)
        return nfi_fail(err, NF_ERR_ARG, "text longer than 4 GiB");
    tok_ctx c = {nz, 0, false, NULL, NULL, &nz->plain, NULL, units, pool, text, true, 0, 0};
    nf_status st = scan_tokens(&c, text, len, lang, err);
    *count = c.count;
    return st;
}

nf_status nfi_count_tokens(nfi_normalizer *nz, const char *text, size_t len, const char *lang, size_t *count,
                          nf_error *err)
{
    *count = 0;
    if (len > UINT32_MAX)
        return nfi_fail(err, NF_ERR_ARG, "text longer than 4 GiB");
    tok_ctx c = {nz, 0, true, NULL, NULL, &nz->plain, NULL, NULL, NULL, text, true, 0, 0};
    nf_status st = scan_tokens(&c, text, len, lang, err);
    *count = c.count;
    return st;
}

/* ------------------------------------------------------------ Latin letters as ASCII */

UTransliterator *nfi_latin_translit(UTransliterator **tr, bool *failed)
{
    if (!*tr && !*failed) {
        UErrorCode e = U_ZERO_ERROR;
        static const UChar id[] = u"Any-Latin; Latin-ASCII";
        *tr = utrans_openU(id, -1, UTRANS_FORWARD, NULL, 0, NULL, &e);
        *failed = U_FAILURE(e);
        if (*failed)
            *tr = NULL;
    }
    return *tr;
}

bool nfi_latin_ascii_init(nfi_latin_ascii *t)
{
    memset(t, 0, sizeof *t);
    UErrorCode e = U_ZERO_ERROR;
    const UNormalizer2 *nfd = unorm2_getNFDInstance(&e);
    if (U_FAILURE(e))
        return false;
    for (UChar32 cp = NFI_LATIN_FIRST; cp < NFI_LATIN_END; cp++) {
        UChar in[1] = {(UChar)cp}, d[8];
        e = U_ZERO_ERROR;
        int32_t n = unorm2_normalize(nfd, in, 1, d, 8, &e);
        bool covered = U_SUCCESS(e) && n >= 2 && d[0] < 0x80 && (unsigned)((d[0] | 32) - 'a') < 26u;
        for (int32_t i = 1; covered && i < n; i++)
            covered = d[i] >= 0x300 && d[i] <= 0x36F; /* combining diacritical marks */
        if (covered)
            t->form[cp - NFI_LATIN_FIRST][0] = (char)d[0];
    }
    t->form[0xDF - NFI_LATIN_FIRST][0] = 's', t->form[0xDF - NFI_LATIN_FIRST][1] = 's'; /* ß */
    /* Lower-case letters of no canonical decomposition whose form the
     * transliterator gives whatever their neighbours (its upper-case Æ and
     * Œ read the next letter's case, so they stay with ICU): æ œ ø ł đ ð
     * ħ ı (test_normalize checks each against the transliterator). */
    static const struct {
        uint16_t cp;
        char form[2];
    } lower[] = {{0xE6, "ae"}, {0x153, "oe"}, {0xF8, "o"}, {0x142, "l"}, {0x111, "d"}, {0xF0, "d"}, {0x127, "h"}, {0x131, "i"}};
    for (size_t i = 0; i < sizeof lower / sizeof *lower; i++)
        memcpy(t->form[lower[i].cp - NFI_LATIN_FIRST], lower[i].form, 2);
    return true;
}

bool nfi_latin_to_ascii(const nfi_latin_ascii *t, const char *s, size_t n, char *out, size_t *out_len,
                        size_t *chars)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t w = 0, c = 0;
    for (size_t i = 0; i < n; c++) {
        unsigned b = u[i];
        if (b >= 0x20 && b < 0x7F) {
            out[w++] = (char)b;
            i++;
            continue;
        }
        /* U+00C0-U+017F: lead byte C3, C4 or C5 and a continuation byte */
        if (b < 0xC3 || b > 0xC5 || i + 1 >= n || (u[i + 1] & 0xC0) != 0x80)
            return false;
        const char *f = t->form[(((b & 0x1Fu) << 6) | (u[i + 1] & 0x3Fu)) - NFI_LATIN_FIRST];
        if (!f[0])
            return false;
        out[w++] = f[0];
        if (f[1])
            out[w++] = f[1];
        i += 2;
    }
    *out_len = w;
    *chars = c;
    return true;
}
