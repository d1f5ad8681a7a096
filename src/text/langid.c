/*
 * langid.c - language identification.
 *
 * Debian's libexttextcat (Cavnar-Trenkle n-gram rank profiles, 160+
 * languages) does the classification. Two things are layered on top:
 * - A script pre-pass: text dominated by Hangul is Korean, text with Kana is
 *   Japanese, Han without Kana is Chinese. N-gram profiles of CJK scripts
 *   are weak and this rule is exact, so it both speeds up and corrects.
 * - A confidence: textcat returns every language whose distance is within
 *   a few percent of the best. One survivor on a long sample is confident;
 *   several close ones are not; short samples are discounted.
 * - A function-word fast path: for the seven languages news comes in most
 *   (en, de, fr, es, it, pt, nl), words found only in one of them are
 *   counted; when one language has at least FAST_MIN_HITS such words and
 *   FAST_RATIO times more than any other, it is the answer without
 *   textcat, whose profile comparison against 160 languages is by far the
 *   most expensive step of cleaning. Anything less clear-cut (other
 *   languages, mixed or short text) goes to textcat as before.
 * Only a bounded sample (the first SAMPLE_BYTES of text) is classified,
 * which keeps the cost per document constant; a few kilobytes already give
 * the n-gram statistics their full accuracy.
 * A textcat handle holds scratch state, so each thread needs its own
 * nf_langid; loading the profiles takes a few milliseconds.
 */
#include "common/common.h"

#include <libexttextcat/textcat.h>
#include <stdlib.h>
#include <string.h>

#define TEXTCAT_DIR "/usr/share/libexttextcat/"
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

#define FAST_SLOTS 256 /* open addressing over the ~100 function words */

/* A function word of at most 7 bytes, lower-cased, packed little-endian
 * into a uint64 (0 = empty slot): one multiply and usually one compare per
 * word of text instead of a binary search per language. */
typedef struct fast_slot {
    uint64_t key;
    int lang; /* index into fast_langs */
} fast_slot;

struct nf_langid {
    void *textcat;
    candidate_t *candidates;
    fast_slot fast[FAST_SLOTS];
    char code[12]; /* the last answer; valid until the next call */
};

static size_t fast_hash(uint64_t key) { return (size_t)((key * 0x9E3779B97F4A7C15u) >> 56); }

static uint64_t pack_word(const char *w)
{
    uint64_t key = 0;
    for (size_t i = 0; w[i] && i < 8; i++)
        key |= (uint64_t)(unsigned char)w[i] << (8 * i);
    return key;
}

static void fast_table_build(nf_langid *lid)
{
    for (size_t l = 0; l < sizeof fast_langs / sizeof *fast_langs; l++)
        for (size_t w = 0; w < fast_langs[l].n; w++) {
            uint64_t key = pack_word(fast_langs[l].words[w]);
            size_t i = fast_hash(key);
            while (lid->fast[i].key)
                i = (i + 1) % FAST_SLOTS;
            lid->fast[i] = (fast_slot){key, (int)l};
        }
}

static int fast_lookup(const nf_langid *lid, uint64_t key)
{
    for (size_t i = fast_hash(key); lid->fast[i].key; i = (i + 1) % FAST_SLOTS)
        if (lid->fast[i].key == key)
            return lid->fast[i].lang;
    return -1;
}

nf_status nf_langid_new(nf_langid **out, nf_error *err)
{
    *out = NULL;
    nf_langid *lid = calloc(1, sizeof *lid);
    if (!lid)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    lid->textcat = special_textcat_Init(TEXTCAT_DIR "fpdb.conf", TEXTCAT_DIR);
    if (!lid->textcat) {
        free(lid);
        return nfi_fail(err, NF_ERR_RESOURCE,
                       "cannot load language profiles from " TEXTCAT_DIR
                       " (install libexttextcat-data)");
    }
    lid->candidates = textcat_GetClassifyFullOutput(lid->textcat);
    if (!lid->candidates) {
        textcat_Done(lid->textcat);
        free(lid);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    fast_table_build(lid);
    *out = lid;
    return NF_OK;
}

void nf_langid_free(nf_langid *lid)
{
    if (!lid)
        return;
    textcat_ReleaseClassifyFullOutput(lid->textcat, lid->candidates);
    textcat_Done(lid->textcat);
    free(lid);
}

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
        i += nfi_utf8_decode(s + i, len - i, &cp);
        c.letters++;
        if ((cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0x3130 && cp <= 0x318F))
            c.hangul++;
        else if (cp >= 0x3040 && cp <= 0x30FF)
            c.kana++;
        else if ((cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF))
            c.han++;
    }
    return c;
}

/* "en--utf8" -> "en", "zh-CN-utf8" -> "zh", "az-cyrillic-utf8" -> "az" */
static const char *code_of(const char *name)
{
    static const struct { const char *prefix; const char *code; } special[] = {
        {"zh-", "zh"}, {"sh-", "sh"}, {"ha-", "ha"}, {"az-", "az"}, {"uz-", "uz"},
        {"emk-", "emk"}, {"tzm-", "tzm"}, {"haw-", "haw"},
    };
    for (size_t i = 0; i < sizeof special / sizeof *special; i++)
        if (strncmp(name, special[i].prefix, strlen(special[i].prefix)) == 0)
            return special[i].code;
    return NULL;
}

static void copy_code(const char *name, char *out, size_t cap)
{
    const char *fixed = code_of(name);
    size_t n = 0;
    if (fixed) {
        n = strlen(fixed);
        memcpy(out, fixed, n < cap ? n : cap - 1);
    } else {
        while (name[n] && name[n] != '-' && n + 1 < cap) {
            out[n] = name[n];
            n++;
        }
    }
    out[n < cap ? n : cap - 1] = '\0';
}

/* Cuts len back to a code point boundary. */
static size_t utf8_floor(const char *s, size_t len)
{
    while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
        len--;
    return len;
}

/* A word byte for the fast path: an ASCII letter or any non-ASCII byte. */
static bool word_byte(unsigned char c) { return c >= 0x80 || ((c | 32) >= 'a' && (c | 32) <= 'z'); }

/* The fast-path language, or NULL when the function words are not clear. */
static const char *fast_language(const nf_langid *lid, const char *text, size_t len)
{
    enum { N_FAST = sizeof fast_langs / sizeof *fast_langs };
    size_t hits[N_FAST] = {0};
    const unsigned char *s = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        while (i < len && !word_byte(s[i]))
            i++;
        size_t n = 0;
        uint64_t key = 0;
        for (; i < len && word_byte(s[i]); i++, n++)
            if (n < 8)
                key |= (uint64_t)nfi_lower_ascii(s[i]) << (8 * n);
        if (n == 0 || n > 7) /* the lists hold words of up to 7 bytes */
            continue;
        int l = fast_lookup(lid, key);
        if (l >= 0)
            hits[l]++;
    }
    size_t best = 0, second = 0;
    for (size_t l = 1; l < N_FAST; l++)
        if (hits[l] > hits[best])
            best = l;
    for (size_t l = 0; l < N_FAST; l++)
        if (l != best && hits[l] > second)
            second = hits[l];
    return hits[best] >= FAST_MIN_HITS && hits[best] >= FAST_RATIO * second ? fast_langs[best].code : NULL;
}

const char *nf_langid_detect(nf_langid *lid, const char *text, size_t len, double *confidence)
{
    *confidence = 0.0;
    size_t sample = len > SAMPLE_BYTES ? utf8_floor(text, SAMPLE_BYTES) : len;
    script_counts sc = count_scripts(text, sample);
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
    const char *fast = sample >= 200 ? fast_language(lid, text, sample) : NULL;
    if (fast) {
        *confidence = 0.97;
        return fast;
    }
    int n = textcat_ClassifyFull(lid->textcat, text, sample, lid->candidates);
    if (n <= 0)
        return "und";
    /* candidates are sorted best (lowest distance) first */
    double margin = 1.0;
    if (n > 1 && lid->candidates[0].score > 0)
        margin = (double)(lid->candidates[1].score - lid->candidates[0].score) / lid->candidates[0].score;
    double c = n == 1 ? 0.97 : 0.5 + 0.45 * (margin / 0.03 > 1.0 ? 1.0 : margin / 0.03);
    double length_factor = sample >= 200 ? 1.0 : 0.5 + 0.5 * (double)sample / 200.0;
    *confidence = c * length_factor;
    copy_code(lid->candidates[0].name, lid->code, sizeof lid->code);
    return lid->code;
}
