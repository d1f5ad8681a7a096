/* test_normalize.c - segmentation for several scripts, offsets, NFKC case
 * folding, numbers, apostrophes and stemming. */
#include "test_util.h"

#include "text/text.h"

#include <ctype.h>
#include <libstemmer.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utrans.h>

typedef struct toks {
    nfi_token_vec v;
    nfi_buf pool;
    const char *text;
} toks;

static toks tokenize(nfi_normalizer *nz, const char *text, const char *lang)
{
    toks t = {{NULL, 0, 0}, {NULL, 0, 0, false}, text};
    nf_error err;
    assert_int_equal(nfi_tokenize(nz, text, strlen(text), lang, true, &t.v, &t.pool, &err), NF_OK);
    size_t prev_end = 0;
    for (size_t i = 0; i < t.v.len; i++) { /* offsets in order and inside */
        const nf_token *k = &t.v.items[i];
        assert_true(k->start >= prev_end);
        assert_true(k->start + k->len <= strlen(text));
        assert_true(k->norm + k->norm_len < t.pool.len + 1);
        prev_end = k->start + k->len;
    }
    return t;
}

static const char *norm(const toks *t, size_t i) { return t->pool.data + t->v.items[i].norm; }
static const char *stem(const toks *t, size_t i) { return t->pool.data + t->v.items[i].stem; }

static void toks_free(toks *t)
{
    free(t->v.items);
    nfi_buf_free(&t->pool);
}

static int setup(void **state)
{
    nfi_normalizer *nz;
    nf_error err;
    if (nfi_normalizer_new(&nz, &err) != NF_OK)
        return -1;
    *state = nz;
    return 0;
}

static int teardown(void **state)
{
    nfi_normalizer_free(*state);
    return 0;
}

static void test_english(void **state)
{
    toks t = tokenize(*state, "Putin’s visit: 1,500.25 tonnes, Hong-kyun didn't RUN.", "en");
    const char *want[] = {"putin's", "visit", "1,500.25", "tonnes", "hong", "kyun", "didn't", "run"};
    assert_int_equal(t.v.len, 8);
    for (size_t i = 0; i < 8; i++)
        assert_string_equal(norm(&t, i), want[i]);
    assert_string_equal(stem(&t, 0), "putin");
    assert_int_equal(t.v.items[2].kind, NF_TOKEN_NUMBER);
    assert_true(t.v.items[0].flags & NF_TOKEN_CAPITALIZED);
    assert_true(t.v.items[0].flags & NF_TOKEN_SENTENCE_START);
    assert_false(t.v.items[1].flags & NF_TOKEN_CAPITALIZED);
    /* offsets point at the original bytes */
    assert_memory_equal(t.text + t.v.items[4].start, "Hong", 4);
    toks_free(&t);
}

static void test_german_and_french(void **state)
{
    toks t = tokenize(*state, "Die Besuche in Pjöngjang", "de");
    assert_int_equal(t.v.len, 4);
    assert_string_equal(norm(&t, 1), "besuche");
    assert_string_equal(stem(&t, 1), "besuch");
    assert_string_equal(norm(&t, 3), "pjöngjang");
    toks_free(&t);
    t = tokenize(*state, "l'armée", "fr");
    assert_int_equal(t.v.len, 2);
    assert_string_equal(norm(&t, 1), "armée");
    toks_free(&t);
}

static void test_nfkc_casefold(void **state)
{
    toks t = tokenize(*state, "ＡＢＣ ２０２４ STRASSE Straße ΣΊΣΥΦΟΣ", NULL);
    assert_int_equal(t.v.len, 5);
    assert_string_equal(norm(&t, 0), "abc");
    assert_string_equal(norm(&t, 1), "2024");
    assert_int_equal(t.v.items[1].kind, NF_TOKEN_NUMBER);
    assert_string_equal(norm(&t, 2), norm(&t, 3)); /* ß folds to ss */
    assert_true(t.v.items[4].flags & NF_TOKEN_NON_LATIN);
    toks_free(&t);
}

static void test_scripts_without_spaces(void **state)
{
    toks t = tokenize(*state, "東京都に住んでいます", "ja");
    assert_true(t.v.len >= 3); /* dictionary segmentation, not one blob */
    assert_int_equal(t.v.items[0].kind, NF_TOKEN_IDEOGRAPHIC);
    toks_free(&t);
    t = tokenize(*state, "ภาษาไทยง่ายนิดเดียว", "th");
    assert_true(t.v.len >= 3);
    toks_free(&t);
    t = tokenize(*state, "북한과 러시아 정상회담", "ko"); /* Hangul uses spaces */
    assert_int_equal(t.v.len, 3);
    toks_free(&t);
    t = tokenize(*state, "Путин посетил Пхеньян", "ru");
    assert_int_equal(t.v.len, 3);
    assert_string_equal(norm(&t, 0), "путин");
    toks_free(&t);
}

static void test_garbage_is_bounded(void **state)
{
    nfi_buf b;
    nfi_buf_init(&b);
    for (int i = 0; i < 10000; i++)
        nfi_buf_putc(&b, 'a');
    toks t = tokenize(*state, b.data, "en");
    assert_int_equal(t.v.len, 1);
    assert_true(t.v.items[0].len <= 256);
    toks_free(&t);
    nfi_buf_free(&b);
    /* a long word whose 256th byte is inside a character (Hangul, 3 bytes
     * each from byte 254 on) is cut before that character, so the piece
     * kept is whole UTF-8 and folds (it failed as "out of memory" before) */
    nfi_buf_init(&b);
    for (int i = 0; i < 254; i++)
        nfi_buf_putc(&b, 'a');
    nfi_buf_puts(&b, "\xed\x95\x9c\xea\xb5\xad word");
    for (int stemmed = 0; stemmed <= 1; stemmed++) {
        t = tokenize(*state, b.data, stemmed ? "en" : "und");
        assert_int_equal(t.v.len, 2);
        assert_int_equal(t.v.items[0].len, 254);
        assert_string_equal(norm(&t, 1), "word");
        toks_free(&t);
    }
    nfi_buf_free(&b);
}

/* nfi_count_tokens (the clean command without --token-list) counts what
 * nfi_tokenize makes, also where its 8-byte ASCII stretches meet numbers,
 * apostrophes, non-ASCII letters and other scripts. */
static void test_count_matches_tokenize(void **state)
{
    const char *texts[] = {
        "Putin’s visit: 1,500.25 tonnes, Hong-kyun didn't RUN.",
        "abcdefgh ijklmnop qrstuvwx 12345678 9,999,999.5 a.b,c'd e'f 3.x 4,",
        "Die Bürger müssen zahlen; l'armée française a dit: «non». Straße 12.",
        "東京都は6月14日に発表した。Tokyo said on June 14 (AP) that ...",
        "x  y\t\tz\n\nw 00000000000000000000000000000000 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "ends with a word",
        "ends with a number 42",
        "'quoted' words, and 'more' 'here'",
        "ภาษาไทย mixed with ASCII words around it and 한국어 text",
        "abcdefghijklmnop1234567.5 xyz 12345678901234,5678 aaaaaaaaaaaaaaa'bbbb cccccccccccc'",
        "Verkehrsministeriumsbürger Straßenbahnhaltestellen 1234567890123456.7 end.",
        "x1234567.y 12345678,z abcdefghijklmno-pqrstuvwxyz 0000000000000000",
    };
    const char *langs[] = {"en", "de", "und"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
        for (size_t shift = 0; shift < 9; shift++) /* every alignment against the 8-byte steps */
            for (size_t l = 0; l < 3; l++) {
                char text[512];
                snprintf(text, sizeof text, "%.*s%s", (int)shift, "a b c d e", texts[i]);
                toks t = tokenize(*state, text, langs[l]);
                size_t count = 0;
                nf_error err;
                assert_int_equal(nfi_count_tokens(*state, text, strlen(text), langs[l], &count, &err), NF_OK);
                assert_int_equal(count, t.v.len);
                toks_free(&t);
            }
    char big[2000]; /* a long run (cut into bounded tokens) in stretches */
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = i % 97 == 96 ? ' ' : (char)('a' + i % 26);
    big[sizeof big - 1] = '\0';
    toks t = tokenize(*state, big, "en");
    size_t count = 0;
    nf_error err;
    assert_int_equal(nfi_count_tokens(*state, big, strlen(big), "en", &count, &err), NF_OK);
    assert_int_equal(count, t.v.len);
    toks_free(&t);
}

/* The same on random texts long enough for counting's 64-byte windows:
 * runs of letters and digits with the bytes that may join them ('.', ','
 * and apostrophes) at every offset of a window, non-ASCII letters and
 * other scripts between them. */
static void test_count_matches_tokenize_random(void **state)
{
    static const char *pieces[] = {"a", "Bc", "xyz", "7", "42", ".", ",", "'", " ", "  ", "\n", "-", "ü",
                                   "Straße", "’", "東京", "3.5", "l'", "don't", "é", "\xc2\xa0", "!", "×", "÷", "Çÿ",
                                   "ä1.5", "\xcc\x81"};
    const char *langs[] = {"en", "de"};
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    for (int round = 0; round < 6000; round++) {
        char text[700];
        size_t len = 0, target = (size_t)(round % 300) + 40;
        while (len < target) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            unsigned r = (unsigned)(seed >> 33);
            /* mostly letters or mostly digits, so that ASCII stretches
             * often pass 64 bytes */
            const char *filler = round % 4 < 2 ? pieces[r % 3 == 1 ? 0 : 2] : pieces[r % 3 == 1 ? 3 : 4];
            const char *piece = r % 3 ? filler : pieces[(r >> 8) % (sizeof pieces / sizeof *pieces)];
            size_t n = strlen(piece);
            memcpy(text + len, piece, n);
            len += n;
        }
        text[len] = '\0';
        const char *lang = langs[round % 2];
        toks t = tokenize(*state, text, lang);
        size_t count = 0;
        nf_error err;
        assert_int_equal(nfi_count_tokens(*state, text, len, lang, &count, &err), NF_OK);
        assert_int_equal(count, t.v.len);
        toks_free(&t);
    }
}

/* A text of more tokens than token mode notes before folding (4,096)
 * gives every token what the same words give in a short text: the
 * records, norms and stems do not depend on where folding was flushed. */
static void test_long_text_tokens(void **state)
{
    const char *sentence = "Die Bürger der Städte wählten 1.500 Vertreter, l'armée und 東京 ";
    toks one = tokenize(*state, sentence, "de");
    size_t per = one.v.len, reps = 1500, n = strlen(sentence);
    char *text = malloc(n * reps + 1);
    assert_non_null(text);
    for (size_t r = 0; r < reps; r++)
        memcpy(text + r * n, sentence, n);
    text[n * reps] = '\0';
    toks all = tokenize(*state, text, "de");
    assert_int_equal(all.v.len, per * reps);
    for (size_t i = 0; i < all.v.len; i++) {
        const nf_token *a = &all.v.items[i], *b = &one.v.items[i % per];
        assert_int_equal(a->start, b->start + (i / per) * n);
        assert_int_equal(a->len, b->len);
        assert_int_equal(a->kind, b->kind);
        assert_int_equal(a->flags & ~NF_TOKEN_SENTENCE_START, b->flags & ~NF_TOKEN_SENTENCE_START);
        assert_string_equal(norm(&all, i), norm(&one, i % per));
        assert_string_equal(stem(&all, i), stem(&one, i % per));
    }
    toks_free(&all);
    toks_free(&one);
    free(text);
}

/* NFKC_Casefold of raw UTF-8 by ICU directly, with the typographic
 * apostrophe unified as the tokenizer does: the reference for norms. */
static void icu_fold(const char *raw, size_t n, char *out, size_t cap)
{
    UErrorCode e = U_ZERO_ERROR;
    const UNormalizer2 *nf = unorm2_getNFKCCasefoldInstance(&e);
    UChar a[256], b[1024];
    int32_t la = 0, need = 0;
    u_strFromUTF8(a, 256, &la, raw, (int32_t)n, &e);
    int32_t lb = unorm2_normalize(nf, a, la, b, 1024, &e);
    for (int32_t i = 0; i < lb; i++)
        if (b[i] == 0x2019)
            b[i] = '\'';
    u_strToUTF8(out, (int32_t)cap, &need, b, lb, &e);
    assert_true(U_SUCCESS(e));
}

/* Unstemmed words of ASCII and two-byte characters fold character by
 * character (normalize.c, fold2): every such character, after a letter,
 * doubled and before a combining mark (which composes with what precedes
 * it), gives the norm ICU gives for the whole word. A letter run that
 * starts with digits stays one token ("1er"). */
static void test_unstemmed_fold_matches_icu(void **state)
{
    for (uint32_t cp = 0x80; cp < 0x800; cp++) {
        char c[3] = {(char)(0xC0 | (cp >> 6)), (char)(0x80 | (cp & 0x3F)), 0};
        char text[64];
        snprintf(text, sizeof text, "A%s%sb %sX\xCC\x81y 1er %s", c, c, c, c);
        toks t = {{NULL, 0, 0}, {NULL, 0, 0, false}, text};
        nf_error err;
        assert_int_equal(nfi_tokenize(*state, text, strlen(text), "fr", false, &t.v, &t.pool, &err), NF_OK);
        bool saw_1er = false;
        for (size_t i = 0; i < t.v.len; i++) {
            const nf_token *k = &t.v.items[i];
            char want[128];
            icu_fold(text + k->start, k->len, want, sizeof want);
            assert_string_equal(norm(&t, i), want);
            assert_int_equal(k->norm_len, strlen(want));
            saw_1er |= strcmp(norm(&t, i), "1er") == 0;
        }
        assert_true(saw_1er);
        toks_free(&t);
    }
}

/* Words with two-byte characters take fast paths (normalize.c,
 * simple_word_end and the flags2 table, in token and counting mode): every
 * character of U+0080-U+07FF joins the word around it exactly when it is
 * a letter, digit or mark, a word it begins carries its case and script
 * flags, and counting agrees with the tokens. */
static void test_two_byte_words(void **state)
{
    for (uint32_t cp = 0x80; cp < 0x800; cp++) {
        char text[32];
        snprintf(text, sizeof text, "ab%c%cc %c%cde x", 0xC0 | (int)(cp >> 6), 0x80 | (int)(cp & 0x3F),
                 0xC0 | (int)(cp >> 6), 0x80 | (int)(cp & 0x3F));
        toks t = tokenize(*state, text, "de");
        bool word = u_isalnum((UChar32)cp) || (U_GET_GC_MASK((UChar32)cp) & U_GC_M_MASK);
        if (word) {
            assert_int_equal(t.v.len, 3);
            assert_int_equal(t.v.items[0].len, 5);
            const nf_token *k = &t.v.items[1];
            assert_int_equal(k->start, 6);
            assert_int_equal(k->len, 4);
            UErrorCode e = U_ZERO_ERROR;
            UScriptCode sc = uscript_getScript((UChar32)cp, &e);
            bool upper = u_isupper((UChar32)cp) || u_istitle((UChar32)cp);
            bool non_latin = sc != USCRIPT_LATIN && sc != USCRIPT_COMMON && sc != USCRIPT_INHERITED;
            if (!u_isdigit((UChar32)cp)) {
                assert_int_equal((k->flags & NF_TOKEN_CAPITALIZED) != 0, upper);
                assert_int_equal((k->flags & NF_TOKEN_NON_LATIN) != 0, non_latin);
            }
        } else {
            assert_int_equal(t.v.len, 4);
            assert_int_equal(t.v.items[0].len, 2);
            assert_int_equal(t.v.items[2].start, 8);
        }
        size_t count = 0;
        nf_error err;
        assert_int_equal(nfi_count_tokens(*state, text, strlen(text), "de", &count, &err), NF_OK);
        assert_int_equal(count, t.v.len);
        toks_free(&t);
    }
}

/* What ICU's "Any-Latin; Latin-ASCII" makes of UTF-8 s (its ASCII; '?'
 * for anything else): the reference for nfi_latin_to_ascii. */
static void icu_latin_ascii(UTransliterator *tr, const char *s, char *out, size_t cap)
{
    UChar u[512];
    int32_t len = 0, limit;
    UErrorCode e = U_ZERO_ERROR;
    u_strFromUTF8(u, 512, &len, s, -1, &e);
    limit = len;
    utrans_transUChars(tr, u, &len, 512, 0, &limit, &e);
    assert_true(U_SUCCESS(e));
    assert_true((size_t)len < cap);
    for (int32_t i = 0; i < len; i++)
        out[i] = u[i] < 0x80 ? (char)u[i] : '?';
    out[len] = '\0';
}

static void utf8_of(uint32_t cp, char *out) /* cp < 0x800 */
{
    if (cp < 0x80)
        out[0] = (char)cp, out[1] = 0;
    else
        out[0] = (char)(0xC0 | (cp >> 6)), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
}

/* The latin table (nfi_latin_ascii, read by the links stage's names in
 * place of ICU's transliterator) gives what the transliterator gives:
 * for each covered letter alone, and for random texts of printable ASCII
 * and covered letters (its rules for these letters do not look at the
 * neighbours); it refuses the letters it does not cover and other bytes. */
static void test_latin_ascii_matches_icu(void **state)
{
    (void)state;
    nfi_latin_ascii t;
    assert_true(nfi_latin_ascii_init(&t));
    UErrorCode e = U_ZERO_ERROR;
    UChar id[64];
    u_uastrcpy(id, "Any-Latin; Latin-ASCII");
    UTransliterator *tr = utrans_openU(id, -1, UTRANS_FORWARD, NULL, 0, NULL, &e);
    assert_true(U_SUCCESS(e));
    uint32_t covered[NFI_LATIN_END - NFI_LATIN_FIRST];
    size_t n_covered = 0;
    for (uint32_t cp = 0x80; cp < 0x800; cp++) {
        char s[4], want[64], got[8];
        size_t got_len = 0, chars = 0;
        utf8_of(cp, s);
        bool ok = nfi_latin_to_ascii(&t, s, strlen(s), got, &got_len, &chars);
        if (!ok)
            continue;
        assert_true(cp >= NFI_LATIN_FIRST && cp < NFI_LATIN_END);
        covered[n_covered++] = cp;
        icu_latin_ascii(tr, s, want, sizeof want);
        got[got_len] = '\0';
        assert_string_equal(got, want);
        assert_int_equal(chars, 1);
    }
    assert_true(n_covered >= 150); /* the accented letters of Latin-1 and Latin Extended-A, and ß */
    const char *refused[] = {"\xC3\x86", "\xC5\x81", "\xD0\x9F", "\xE3\x83\x97", "a\tb", "a\xC3", "\x7F"}; /* Æ Ł П プ */
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        char got[16];
        size_t got_len, chars;
        assert_false(nfi_latin_to_ascii(&t, refused[i], strlen(refused[i]), got, &got_len, &chars));
    }
    srand(7);
    for (int round = 0; round < 20000; round++) {
        char s[64], want[128], got[64];
        size_t len = 0, n = 1 + (size_t)(rand() % 12), got_len = 0, chars = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t cp = rand() % 3 ? covered[rand() % n_covered] : 0x20 + (uint32_t)(rand() % 95);
            utf8_of(cp, s + len);
            len += strlen(s + len);
        }
        assert_true(nfi_latin_to_ascii(&t, s, len, got, &got_len, &chars));
        assert_true(got_len <= len);
        assert_int_equal(chars, n);
        got[got_len] = '\0';
        icu_latin_ascii(tr, s, want, sizeof want);
        assert_string_equal(got, want);
    }
    utrans_close(tr);
}

/* Words of Latin-1 letters are stemmed by the language's ISO-8859-1
 * Snowball stemmer where normalize.c lists it as giving the same stems
 * (stem_word, latin1_same): every language's stems must be those of its
 * UTF-8 stemmer, on random words of ASCII and Latin-1 lower-case letters
 * ending in suffixes of several languages. Dutch fails it when listed
 * (its "$p1 < 3" counts bytes in UTF-8: "uñen"). */
static void test_latin1_stems_match_utf8(void **state)
{
    (void)state; /* a normalizer per language: one holds 16 stemmers at most */
    enum { WORDS = 20000 };
    static const char *const letters[] = {"a", "b", "c", "d", "e", "g", "h", "i", "k", "l", "m", "n", "o",
                                          "r", "s", "t", "u", "v", "y", "z", "à", "á", "â", "ã", "ä", "å",
                                          "æ", "ç", "è", "é", "ê", "ë", "ì", "í", "î", "ï", "ð", "ñ", "ò",
                                          "ó", "ô", "õ", "ö", "ø", "ù", "ú", "û", "ü", "ý", "þ", "ÿ", "µ"};
    static const char *const suffixes[] = {
        "",     "en",     "ern",  "es",    "e",    "s",     "ung", "heit",  "lich", "isch",
        "ment", "ations", "ités", "ières", "ción", "mente", "ão",  "ões",   "ería", "ità",
        "ssen", "ende",   "erne", "ene",   "ista", "iamo",  "ées", "aient", "ös",   "ünde",
        "ässe", "igkeit", "ed",   "ing",   "ies",  "ness",  "ful", "er",    "ei"};
    const size_t n_letters = sizeof letters / sizeof *letters,
                 n_suffixes = sizeof suffixes / sizeof *suffixes;
    uint64_t rng = 0x9E3779B97F4A7C15ull;
    size_t languages = 0;
    for (const char **lang = sb_stemmer_list(); *lang; lang++) {
        struct sb_stemmer *latin1 = sb_stemmer_new(*lang, "ISO_8859_1"),
                          *utf8 = sb_stemmer_new(*lang, "UTF_8");
        if (latin1)
            languages++;
        if (!latin1 || !utf8) {
            sb_stemmer_delete(latin1);
            sb_stemmer_delete(utf8);
            continue;
        }
        nfi_normalizer *nz;
        nf_error err;
        assert_int_equal(nfi_normalizer_new(&nz, &err), NF_OK);
        nfi_buf text = {NULL, 0, 0, false};
        for (int w = 0; w < WORDS; w++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            for (unsigned k = 0, n = 1 + (unsigned)(rng >> 61); k < n; k++) /* short: R1 starts early */
                nfi_buf_puts(&text, letters[(rng >> (5 * k % 40)) % n_letters]);
            nfi_buf_puts(&text, suffixes[(rng >> 20) % n_suffixes]);
            nfi_buf_putc(&text, ' ');
        }
        toks t = tokenize(nz, text.data, *lang);
        assert_int_equal(t.v.len, WORDS);
        for (size_t i = 0; i < t.v.len; i++) {
            const nf_token *k = &t.v.items[i];
            const sb_symbol *want = sb_stemmer_stem(utf8, (const sb_symbol *)norm(&t, i), (int)k->norm_len);
            assert_non_null(want);
            assert_int_equal(k->stem_len, sb_stemmer_length(utf8));
            assert_memory_equal(stem(&t, i), want, k->stem_len);
        }
        toks_free(&t);
        nfi_buf_free(&text);
        nfi_normalizer_free(nz);
        sb_stemmer_delete(latin1);
        sb_stemmer_delete(utf8);
    }
    assert_true(languages >= 10); /* German, French, Spanish, ... have one */
}

/* The word cache holds 32,768 words a language and is then emptied; the
 * short-word table in front of it (normalize.c, fold_found) names entries
 * by arena offset, so words looked up ahead of an emptying must be looked
 * up again. 40,000 distinct words between frequent short ones ("der",
 * "Die", "und") empty it mid-text; every norm and stem must be what a
 * fresh stemmer gives. */
static void test_cache_emptied_mid_text(void **state)
{
    enum { WORDS = 40000 };
    nfi_buf text = {NULL, 0, 0, false};
    for (unsigned k = 0; k < WORDS; k++) {
        char w[32];
        snprintf(w, sizeof w, "der Die und q%c%c%c%cen ", 'a' + k % 26, 'a' + k / 26 % 26, 'a' + k / 676 % 26,
                 'a' + k / 17576 % 26);
        nfi_buf_puts(&text, w);
    }
    toks t = tokenize(*state, text.data, "de");
    assert_int_equal(t.v.len, 4 * WORDS);
    struct sb_stemmer *de = sb_stemmer_new("de", "UTF_8");
    for (size_t i = 0; i < t.v.len; i++) {
        const nf_token *k = &t.v.items[i];
        char want_norm[32];
        assert_true(k->len < sizeof want_norm);
        for (size_t j = 0; j < k->len; j++)
            want_norm[j] = (char)tolower((unsigned char)text.data[k->start + j]);
        want_norm[k->len] = '\0';
        assert_string_equal(norm(&t, i), want_norm);
        const sb_symbol *want = sb_stemmer_stem(de, (const sb_symbol *)want_norm, (int)k->len);
        assert_int_equal(k->stem_len, sb_stemmer_length(de));
        assert_memory_equal(stem(&t, i), want, k->stem_len);
    }
    sb_stemmer_delete(de);
    toks_free(&t);
    nfi_buf_free(&text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_english),
        cmocka_unit_test(test_german_and_french),
        cmocka_unit_test(test_nfkc_casefold),
        cmocka_unit_test(test_scripts_without_spaces),
        cmocka_unit_test(test_garbage_is_bounded),
        cmocka_unit_test(test_count_matches_tokenize),
        cmocka_unit_test(test_count_matches_tokenize_random),
        cmocka_unit_test(test_long_text_tokens),
        cmocka_unit_test(test_unstemmed_fold_matches_icu),
        cmocka_unit_test(test_two_byte_words),
        cmocka_unit_test(test_latin_ascii_matches_icu),
        cmocka_unit_test(test_latin1_stems_match_utf8),
        cmocka_unit_test(test_cache_emptied_mid_text),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
