/*
 * langid.c - language identification, in three steps, cheapest first:
 * - A script pre-pass: text dominated by Hangul is Korean, text with Kana is
 *   Japanese, Han without Kana is Chinese. This rule is exact for news.
 *   Its count runs only when a UTF-8 lead byte of those blocks occurs.
 * - A function-word fast path: for the seven languages news comes in most
 *   (en, de, fr, es, it, pt, nl), words found only in one of them are
 *   counted through one hash table keyed by the word packed into 64 bits
 *   (a multiplier chosen at start-up gives each word a slot of its own, so
 *   a lookup has no branch: a probe loop mispredicted on every word);
 *   when one language has at least FAST_MIN_HITS such words and FAST_RATIO
 *   times more than any other (samples of 200 bytes or more), it is the
 *   answer. This answers almost every long news text at several hundred
 *   MB/s of sampled text.
 * - Everything else (other languages, mixed, short text such as headlines)
 *   goes to CLD2 (Debian libcld2, Google's Compact Language Detector 2:
 *   quadgram and word scores for 80+ languages compiled into the library,
 *   reentrant, no data files) through a small extern "C" shim
 *   (cld2_shim.cc), with its best-effort flag so short texts get an answer.
 * Only a bounded sample (the first SAMPLE_BYTES of text) is classified,
 * which keeps the cost per document constant.
 *
 * Why CLD2 and not libexttextcat (used before) or a hashed n-gram table
 * over textcat's profiles: measured on the same data (tmp harness calling
 * the detector; CPU time), textcat answered 77.9% of the 4,982 og2021-dev
 * headlines correctly, many of them "unknown" (its ambiguity rule) or
 * Scots/Frisian/Catalan for English/Spanish, at 0.1 MB/s (0.8 ms per
 * headline: 160 sorted-list comparisons); CLD2 best-effort answered 95.6%
 * at 8 MB/s, and 100% of the 1,485 WMT21 versions of 200 chars or more.
 * A hashed table over textcat's profiles would make textcat faster but not
 * better on short text, where its rank-distance measure is the weakness.
 * The confidence is CLD2's share of the text in the top language, lowered
 * when CLD2 calls the answer unreliable and for samples under 200 bytes.
 */
#include "text/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define SAMPLE_BYTES 2048
#define FAST_MIN_HITS 8
#define FAST_RATIO 3

/* Frequent words that belong to one of these languages only; shared ones
 * ("de", "que", "la") are left out. */
static const char *const fast_words_en[] = {"and", "are", "been", "by", "from", "has", "have", "is", "of",
                                            "said", "that", "the", "this", "to", "was", "were", "which", "with"};
static const char *const fast_words_de[] = {"auch", "auf", "dem", "den", "der", "die", "ein", "eine", "für",
                                            "ist", "mit", "nach", "nicht", "sich", "und", "von", "werden", "wird"};
static const char *const fast_words_fr[] = {"au", "aux", "avec", "dans", "des", "du", "est", "et", "les",
                                            "pas", "pour", "qui", "sont", "sur", "une", "été"};
static const char *const fast_words_es[] = {"al", "como", "con", "del", "el", "fue", "los", "más", "pero",
                                            "por", "su", "sus", "una", "y"};
static const char *const fast_words_it[] = {"alla", "anche", "che", "degli", "della", "delle", "di", "gli",
                                            "il", "nel", "non", "per", "sono", "è"};
static const char *const fast_words_pt[] = {"ao", "com", "dos", "foi", "mais", "não", "os", "pela", "pelo",
                                            "são", "também", "uma"};
static const char *const fast_words_nl[] = {"dat", "een", "het", "niet", "ook", "op", "van", "voor",
                                            "werd", "wordt", "zijn"};

static const struct {
    const char *code;
    const char *const *words;
    size_t n;
} fast_langs[] = {
#define FAST(code, list) {code, list, sizeof list / sizeof *list}
    FAST("en", fast_words_en), FAST("de", fast_words_de), FAST("fr", fast_words_fr), FAST("es", fast_words_es),
    FAST("it", fast_words_it), FAST("pt", fast_words_pt), FAST("nl", fast_words_nl),
#undef FAST
};

#define N_FAST (sizeof fast_langs / sizeof *fast_langs)
#define FAST_BITS 10
#define FAST_SLOTS (1u << FAST_BITS) /* ~100 function words, each in a slot of its own */

/* The function words, lower-cased and packed little-endian into a uint64
 * (0 = empty slot; at most 7 bytes), placed by a multiplicative hash whose
 * multiplier is chosen at start-up so that no two share a slot: a lookup
 * is one load and one compare, with no branch (whether a word of text is a
 * function word is unpredictable, and a probe loop mispredicted on it). */
struct nf_langid {
    uint64_t fast_key[FAST_SLOTS];
    uint8_t fast_lang[FAST_SLOTS]; /* index into fast_langs; N_FAST for empty slots */
    uint64_t fast_mul;
    char code[12]; /* the last answer; valid until the next call */
};

static size_t fast_slot_of(const nf_langid *lid, uint64_t key)
{
    return (size_t)((key * lid->fast_mul) >> (64 - FAST_BITS));
}

static uint64_t pack_word(const char *w)
{
    uint64_t key = 0;
    for (size_t i = 0; w[i] && i < 8; i++)
        key |= (uint64_t)(unsigned char)w[i] << (8 * i);
    return key;
}

/* Places every function word with multiplier mul; false when two distinct
 * words share a slot (a word listed twice keeps its first language). */
static bool fast_table_try(nf_langid *lid, uint64_t mul)
{
    memset(lid->fast_key, 0, sizeof lid->fast_key);
    memset(lid->fast_lang, N_FAST, sizeof lid->fast_lang);
    lid->fast_mul = mul;
    for (size_t l = 0; l < N_FAST; l++)
        for (size_t w = 0; w < fast_langs[l].n; w++) {
            uint64_t key = pack_word(fast_langs[l].words[w]);
            size_t i = fast_slot_of(lid, key);
            if (lid->fast_key[i] && lid->fast_key[i] != key)
                return false;
            if (!lid->fast_key[i])
                lid->fast_key[i] = key, lid->fast_lang[i] = (uint8_t)l;
        }
    return true;
}

/* The first odd multiplier of a fixed sequence that separates the words
 * (the same every run: the lists are constant; a few hundred tries at
 * most for ~100 words in 1,024 slots). */
static bool fast_table_build(nf_langid *lid)
{
    for (uint64_t k = 1; k < (1u << 20); k++)
        if (fast_table_try(lid, nfi_mix64(k) | 1))
            return true;
    return false;
}

nf_status nf_langid_new(nf_langid **out, nf_error *err)
{
    *out = NULL;
    nf_langid *lid = calloc(1, sizeof *lid);
    if (!lid)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (!fast_table_build(lid)) {
        free(lid);
        return nfi_fail(err, NF_ERR_RESOURCE, "language identification: no hash separates the function words");
    }
    *out = lid;
    return NF_OK;
}

void nf_langid_free(nf_langid *lid) { free(lid); }

typedef struct script_counts {
    size_t letters, hangul, kana, han;
} script_counts;

static script_counts count_scripts(const char *text, size_t len)
{
    script_counts c = {0, 0, 0, 0};
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        if (s[i] < 0x80) {
            c.letters += (s[i] | 32) >= 'a' && (s[i] | 32) <= 'z';
            i++;
            continue;
        }
        c.letters++;
        if (s[i] < 0xE0 && i + 1 < len && (s[i + 1] & 0xC0) == 0x80 && s[i] >= 0xC2) {
            i += 2; /* a valid two-byte sequence: below U+0800, no CJK */
            continue;
        }
        i += nfi_utf8_decode(s + i, len - i, &cp);
        if ((cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0x3130 && cp <= 0x318F))
            c.hangul++;
        else if (cp >= 0x3040 && cp <= 0x30FF)
            c.kana++;
        else if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF))
            c.han++;
    }
    return c;
}

/* CLD2's code as an ISO 639 code: the region or script suffix dropped
 * ("zh-Hant" -> "zh"), CLD2's old codes renamed, unknown -> "und". */
static void iso_code(const char *cld, char *out, size_t cap)
{
    static const struct { const char *from, *to; } renamed[] = {
        {"iw", "he"}, {"jw", "jv"}, {"un", "und"}, {"xx", "und"},
    };
    size_t n = 0;
    while (cld[n] && cld[n] != '-' && n + 1 < cap) {
        out[n] = cld[n];
        n++;
    }
    out[n] = '\0';
    for (size_t i = 0; i < sizeof renamed / sizeof *renamed; i++)
        if (strcmp(out, renamed[i].from) == 0)
            snprintf(out, cap, "%s", renamed[i].to);
}

/* Cuts len back to a code point boundary. */
static size_t utf8_floor(const char *s, size_t len)
{
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return len;
}

/* The word bytes among the n <= 64 bytes at s as bits (bit k: byte k): an
 * ASCII letter or any byte >= 0x80. With SSE2 16 bytes at a time, each
 * byte's flag taken by a movemask; else 8 bytes at a time: the letter test
 * runs on the bytes without their high bit, so no carry crosses a byte, and
 * each byte's flag is gathered into one bit by a multiply. Bytes past n (the
 * sample's end, padded with zeros) are no word bytes. */
static uint64_t word_bits(const unsigned char *s, size_t n)
{
    unsigned char pad[64];
    if (n < 64) {
        memset(pad, 0, sizeof pad);
        memcpy(pad, s, n);
        s = pad;
    }
    uint64_t bits = 0;
#ifdef __SSE2__
    /* 16 bytes at a time: a byte >= 0x80 is its sign bit; an ASCII letter,
     * its case bit set, is 'a'-'z' (signed compares: bytes >= 0x80 stay
     * negative after the OR, and their sign bit already counts them) */
    const __m128i case_bit = _mm_set1_epi8(0x20), below_a = _mm_set1_epi8('a' - 1),
                  past_z = _mm_set1_epi8('z' + 1);
    for (unsigned k = 0; k < 64; k += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + k));
        __m128i low = _mm_or_si128(x, case_bit);
        __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(low, below_a), _mm_cmplt_epi8(low, past_z));
        bits |= (uint64_t)(unsigned)(_mm_movemask_epi8(_mm_or_si128(letter, x)) & 0xFFFF) << k;
    }
#else
    for (unsigned k = 0; k < 64; k += 8) {
        uint64_t x;
        memcpy(&x, s + k, sizeof x);
        uint64_t high = x & NFI_SWAR_HIGH;
        uint64_t word = high | nfi_swar_in((x & ~NFI_SWAR_HIGH) | NFI_SWAR_ONES * 32, 'a', 'z');
        bits |= (((word >> 7) * 0x0102040810204080ull) >> 56) << k;
    }
#endif
    return bits;
}

/* The word text[start, end) counted for its language when it is a
 * function word (at most 7 bytes, lower-cased and packed as in the table;
 * from one 8-byte load where the sample has 8 bytes to read). No branch
 * on the word: a longer one is packed as 0 and not counted. */
static inline void count_word(const nf_langid *lid, const unsigned char *s, size_t len, size_t start, size_t end,
                              size_t *hits)
{
    size_t n = end - start;
    uint64_t key = 0;
    if (start + 8 <= len) {
        uint64_t x;
        memcpy(&x, s + start, sizeof x);
        uint64_t high = x & NFI_SWAR_HIGH, upper = nfi_swar_in(x & ~NFI_SWAR_HIGH, 'A', 'Z') & ~high;
        key = (x | upper >> 2) & (n > 7 ? 0 : (1ull << (8 * n)) - 1);
    } else {
        for (size_t k = 0; k < n && k < 8; k++)
            key |= (uint64_t)nfi_lower_ascii(s[start + k]) << (8 * k);
    }
    size_t slot = fast_slot_of(lid, key);
    hits[lid->fast_lang[slot]] += (lid->fast_key[slot] == key) & (n <= 7);
}

/* The language of the function words, or NULL when they are not clear: at
 * least min_hits of them and FAST_RATIO times more than any other. Words
 * are the maximal runs of word bytes (word_bits), found 64 bytes at a time
 * from the bits of their starts and ends; a word that reaches the end of a
 * block is finished in the next. */
static const char *fast_language(const nf_langid *lid, const char *text, size_t len, size_t min_hits)
{
    size_t hits[N_FAST + 1] = {0}; /* the last: empty slots, never counted */
    const unsigned char *s = (const unsigned char *)text;
    size_t open = SIZE_MAX; /* start of a word that goes on past the block before */
    for (size_t base = 0; base < len; base += 64) {
        uint64_t w = word_bits(s + base, len - base < 64 ? len - base : 64);
        if (open != SIZE_MAX) {
            if (w == ~0ull)
                continue;
            unsigned e = (unsigned)__builtin_ctzll(~w);
            count_word(lid, s, len, open, base + e, hits);
            open = SIZE_MAX;
            w &= ~0ull << e; /* e < 64 */
        }
        while (w) {
            unsigned st = (unsigned)__builtin_ctzll(w);
            uint64_t rest = ~w & (~0ull << st); /* non-word bytes from st on */
            if (!rest) {
                open = base + st;
                break;
            }
            unsigned e = (unsigned)__builtin_ctzll(rest);
            count_word(lid, s, len, base + st, base + e, hits);
            w &= ~0ull << e; /* e < 64 */
        }
    }
    if (open != SIZE_MAX)
        count_word(lid, s, len, open, len, hits);
    size_t best = 0, second = 0;
    for (size_t l = 1; l < N_FAST; l++)
        if (hits[l] > hits[best])
            best = l;
    for (size_t l = 0; l < N_FAST; l++)
        if (l != best && hits[l] > second)
            second = hits[l];
    return hits[best] >= min_hits && hits[best] >= FAST_RATIO * second ? fast_langs[best].code : NULL;
}

/* Whether text may hold Hangul, Kana or Han: a UTF-8 lead byte of
 * U+1000-1FFF (0xE1) or U+3000-DFFF (0xE3-0xED). Without one the script
 * counts are all zero; punctuation such as U+201E (0xE2) does not count.
 * One pass, 16 bytes at a time with SSE2, then 8 at a time. */
static bool may_have_cjk(const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
#ifdef __SSE2__
    /* signed: 0xE1-0xED are -31 to -19 */
    const __m128i lo = _mm_set1_epi8((char)0xE0), hi = _mm_set1_epi8((char)0xEE), e2 = _mm_set1_epi8((char)0xE2);
    for (; i + 16 <= len; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i in = _mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi));
        if (_mm_movemask_epi8(_mm_andnot_si128(_mm_cmpeq_epi8(x, e2), in)))
            return true;
    }
#endif
    for (uint64_t x; i + 8 <= len; i += 8) { /* 8 bytes at a time, tested on their low 7 bits (exact, no carries) */
        memcpy(&x, s + i, sizeof x);
        uint64_t low7 = x & ~NFI_SWAR_HIGH; /* 0xE1-0xED but 0xE2: 0x61-0x6D but 0x62 with the high bit */
        if (x & NFI_SWAR_HIGH & nfi_swar_in(low7, 0x61, 0x6D) & ~nfi_swar_eq(low7, 0x62))
            return true;
    }
    for (; i < len; i++)
        if (s[i] == 0xE1 || (s[i] >= 0xE3 && s[i] <= 0xED))
            return true;
    return false;
}

const char *nf_langid_detect(nf_langid *lid, const char *text, size_t len, double *confidence)
{
    *confidence = 0.0;
    size_t sample = len > SAMPLE_BYTES ? utf8_floor(text, SAMPLE_BYTES) : len;
    script_counts sc = {0, 0, 0, 0};
    if (may_have_cjk(text, sample))
        sc = count_scripts(text, sample);
    if (sc.letters >= 4) {
        if (sc.hangul * 2 > sc.letters) {
            *confidence = 0.99;
            return "ko";
        }
        if (sc.kana * 10 > sc.letters) {
            *confidence = 0.99;
            return "ja";
        }
        if (sc.han * 2 > sc.letters) {
            *confidence = 0.95;
            return "zh";
        }
    }
    const char *fast = sample >= 200 ? fast_language(lid, text, sample, FAST_MIN_HITS) : NULL;
    if (fast) {
        *confidence = 0.97;
        return fast;
    }
    char codes[3][8];
    int percent[3] = {0, 0, 0}, reliable = 0;
    if (sample == 0 || !nfi_cld2_detect(text, (int)sample, codes, percent, &reliable))
        return "und";
    iso_code(codes[0], lid->code, sizeof lid->code);
    if (strcmp(lid->code, "und") == 0)
        return "und";
    double c = (reliable ? 0.97 : 0.6) * (percent[0] > 0 ? percent[0] : 1) / 100.0;
    double length_factor = sample >= 200 ? 1.0 : 0.5 + 0.5 * (double)sample / 200.0;
    *confidence = c * length_factor;
    return lid->code;
}
