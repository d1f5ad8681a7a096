/*
 * boilerplate.c - which lines of a page are site template, not article.
 *
 * Text pages arrive with their site's furniture: menus of one-word lines,
 * the headline repeated, PREV/NEXT links, share and follow prompts, cookie
 * notices, "Comment (0)", "(END)", photo credits, reference blocks. Each
 * line is classified by three kinds of evidence, and every drop carries its
 * reason so a user can audit it:
 *
 * 1. Patterns that are boilerplate wherever they stand (navigation prefixes,
 *    follow/share prompts, cookie and consent notices, comment counters, end
 *    markers, e-mail-only lines, lines of punctuation, copyright lines,
 *    repeated title lines).
 *    Patterns cover English, German, French and Spanish wording, and are
 *    anchored on line shape (short lines), so prose that merely mentions a
 *    cookie or a newsletter is not hit.
 * 2. Position: the head of a page up to the first prose line is dropped when
 *    it is a menu (two or more one- or two-word lines, or navigation words);
 *    the tail after the last prose line loses its short non-sentence lines,
 *    and a "Source:"/"Reference(s):"/"Related" marker near the end drops the
 *    block it opens.
 * 3. Repetition: a short line that occurs in three or more different
 *    documents of the same source is that site's template (the set is
 *    computed per batch by the cleaner).
 *
 * A prose line (enough words, and sentence punctuation or function words)
 * is never dropped by rules 2 and 3, which is what keeps article sentences
 * safe. Line length is measured in words, or for scripts without spaces in
 * characters/2, so the same thresholds work for every script.
 */
#define _GNU_SOURCE /* memmem */
#include "text/text.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define COUNT(a) (sizeof(a) / sizeof *(a))

#define PROSE_MIN_UNITS 8
#define MENU_MAX_UNITS 2
#define FOOTER_MAX_UNITS 5
#define TEMPLATE_MAX_UNITS 12
#define TAIL_MARKER_WINDOW 12 /* a source/reference marker must be this close to the end */

static const char *const R_NAVIGATION = "navigation";
static const char *const R_MENU = "menu";
static const char *const R_SHARE = "share_prompt";
static const char *const R_COOKIE = "cookie_notice";
static const char *const R_COMMENTS = "comments";
static const char *const R_END = "end_marker";
static const char *const R_EMAIL = "contact";
static const char *const R_PUNCT = "punctuation";
static const char *const R_TITLE = "repeated_title";
static const char *const R_CREDIT = "photo_credit";
static const char *const R_META = "metadata";
static const char *const R_FOOTER = "footer";
static const char *const R_SOURCE = "source_block";
static const char *const R_TEMPLATE = "site_template";
static const char *const R_COPYRIGHT = "copyright";

static const char *const nav_prefixes[] = {
    "prev ", "next ", "previous article", "next article", "previous:", "next:", "read more",
    "read also", "see also", "related:", "related articles", "related stories", "more stories",
    "skip to", "go to ", "back to top", "lesen sie auch", "weiterlesen", "mehr zum thema",
    "lire aussi", "à lire aussi", "voir aussi", "lee también", "leer más", "te puede interesar",
    "vorheriger artikel", "nächster artikel", "article précédent", "article suivant",
    "artículo anterior", "artículo siguiente",
};
static const char *const nav_words[] = {
    "menu", "search", "home", "go top", "go to", "log in", "login", "sign in", "sign up", "close",
    "editor's pick", "advertisement", "anzeige", "publicité", "publicidad", "suche", "startseite",
    "accueil", "recherche", "inicio", "buscar", "top stories", "most read", "trending", "list",
};
static const char *const share_phrases[] = {
    "follow us", "share this", "share on", "subscribe to", "sign up for", "newsletter",
    "folgen sie uns", "teilen sie", "artikel teilen", "beitrag teilen", "suivez-nous", "partager",
    "síguenos", "compartir",
    "download our app", "click here", "klicken sie hier", "cliquez ici", "haga clic",
};
static const char *const cookie_words[] = {"cookie", "consent", "privacy", "datenschutz", "einwilligung",
                                           "confidentialit", "privacidad"};
/* a cookie word only makes a notice in the company of one of these */
static const char *const cookie_context[] = {"site", "web", "browser", "navegador", "navega", "accept",
                                             "acept", "akzept", "partner", "personalis", "personaliz",
                                             "device", "appareil", "gerät", "dispositivo", "settings",
                                             "einstellung", "paramètr", "configura"};
static const char *const end_markers[] = {"(end)", "(ende)", "(fin)", "(fin.)", "end", "ends",
                                          "###", "-30-", "(afp)", "(dpa)"};
static const char *const comment_words[] = {"comment", "comments", "kommentar", "kommentare",
                                            "commentaire", "commentaires", "comentario", "comentarios"};
static const char *const credit_prefixes[] = {"photo:", "photo :", "foto:", "foto :", "image:",
                                              "bild:", "picture:", "photo credit", "credit:",
                                              "getty images", "file photo"};
static const char *const tail_markers[] = {"source:", "sources:", "reference(s):", "references:",
                                           "quelle:", "quellen:", "source :", "fuente:", "related",
                                           "tags:", "schlagwörter:", "mots-clés"};
static const char *const meta_labels[] = {"written:", "updated:", "published:", "posted:",
                                          "veröffentlicht", "aktualisiert", "publié", "mis à jour",
                                          "publicado", "actualizado", "by ", "von ", "par ", "por "};
static const char *const copyright_prefixes[] = {"(c) ", "copyright"};
static const char *const copyright_marks[] = {"\xC2\xA9", "all rights reserved", "rechte vorbehalten",
                                              "droits réservés", "derechos reservados"};
static const char *const stopwords[] = {
    "a", "al", "als", "am", "an", "and", "are", "as", "at", "auf", "aus", "be", "bei", "but", "by",
    "che", "con", "da", "dans", "das", "dass", "de", "dem", "den", "der", "des", "die", "du", "e",
    "ein", "eine", "einer", "el", "en", "es", "est", "et", "for", "from", "für", "had", "has", "have",
    "he", "het", "il", "im", "in", "is", "ist", "it", "its", "la", "las", "le", "les", "los", "mit",
    "nach", "nicht", "not", "of", "on", "or", "par", "para", "pas", "per", "por", "pour", "que",
    "qui", "se", "sich", "sie", "son", "sont", "sur", "that", "the", "their", "they", "this", "to",
    "un", "una", "und", "une", "van", "von", "was", "were", "which", "who", "will", "with", "y",
    "zu", "zum", "zur",
};

/* ----------------------------------------------------------- features */

/* Every test compares words and units with WORDS_EXACT or less (pattern_reason's
 * "more than 25 words", headline_like's 25 units), so features_of stops
 * counting once a line has more words than that and a letter or digit: a
 * long paragraph's count is then some number above WORDS_EXACT, and each
 * test answers as it would for the exact one. */
#define WORDS_EXACT 25

typedef struct line_features {
    size_t words, units, stopwords; /* words and units exact up to WORDS_EXACT */
    bool alnum; /* a letter or digit somewhere */
    bool terminal; /* ends like a sentence */
    bool only_punct;
} line_features;

static int cmp_cstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool is_stopword(const char *w, size_t n)
{
    char low[16];
    if (n == 0 || n >= sizeof low)
        return false;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)nfi_lower_ascii((unsigned char)w[i]);
    low[n] = '\0';
    const char *key = low;
    return bsearch(&key, stopwords, sizeof stopwords / sizeof *stopwords, sizeof *stopwords, cmp_cstr) != NULL;
}

/* The matchers below take the line already lower-cased (ASCII letters
 * only, so byte offsets are unchanged) and lower-case needles. glibc's
 * memmem skips through a long line several bytes per step, so one call per
 * needle beats a single pass that tests every byte pair (measured). */
static bool contains(const char *low, size_t n, const char *needle)
{
    return memmem(low, n, needle, strlen(needle)) != NULL;
}

static bool any_contained(const char *s, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (contains(s, n, list[i]))
            return true;
    return false;
}

/* The cookie words are looked for in every line, however long, so they
 * get a multi-needle skip scan (Wu and Manber's, with blocks of two bytes):
 * the window of the shortest needle's length m slides along the line, and
 * the table says, for the window's last two bytes, how far it may move
 * without passing an occurrence of any needle; only at 0 are the needles
 * compared. Blocks are keyed by 6 bits of each byte, which tells the
 * lower-case letters apart; a shared key only makes a shift smaller. Same
 * answer as any_contained; built once per document. */
typedef struct needle_skip {
    const char *const *list;
    size_t count, m;
    uint8_t shift[4096];
} needle_skip;

static unsigned block_key(unsigned char a, unsigned char b) { return (a & 63u) << 6 | (b & 63u); }

static void needle_skip_init(needle_skip *ns, const char *const *list, size_t count)
{
    ns->list = list;
    ns->count = count;
    ns->m = 255;
    for (size_t k = 0; k < count; k++)
        if (strlen(list[k]) < ns->m)
            ns->m = strlen(list[k]); /* every list has needles of 2 bytes or more */
    memset(ns->shift, (int)(ns->m - 1), sizeof ns->shift);
    for (size_t k = 0; k < count; k++)
        for (size_t q = 0; q + 2 <= ns->m; q++) {
            uint8_t *sh = &ns->shift[block_key((unsigned char)list[k][q], (unsigned char)list[k][q + 1])];
            if (*sh > ns->m - 2 - q)
                *sh = (uint8_t)(ns->m - 2 - q);
        }
}

static bool needle_skip_any(const needle_skip *ns, const char *low, size_t n)
{
    const unsigned char *u = (const unsigned char *)low;
    for (size_t pos = ns->m - 1; pos < n;) {
        size_t sh = ns->shift[block_key(u[pos - 1], u[pos])];
        if (sh) {
            pos += sh;
            continue;
        }
        size_t start = pos + 1 - ns->m;
        for (size_t k = 0; k < ns->count; k++) {
            size_t len = strlen(ns->list[k]);
            if (start + len <= n && memcmp(low + start, ns->list[k], len) == 0)
                return true;
        }
        pos++;
    }
    return false;
}

/* Whether any cookie word occurs anywhere in the lower-cased document: a
 * line can only hold one if the document does, and almost no document
 * does, so the per-line scan above runs only for those that do. Each word
 * is found from one of its rarer letter pairs (its anchor); with SSE2, 16
 * positions are tested for all anchors at once, and only a position whose
 * pair is an anchor is compared with the words anchored there. The answer
 * is exactly needle_skip_any's over the whole text. */
/* cookie_words[k]'s anchor: its pair of bytes at this offset */
static const size_t cookie_anchor_offset[] = {3, 2, 2, 9, 2, 2, 2};
_Static_assert(COUNT(cookie_anchor_offset) == COUNT(cookie_words), "one anchor per cookie word");

static bool anchored_at(const char *low, size_t n, size_t p)
{
    for (size_t k = 0; k < COUNT(cookie_words); k++) {
        const char *w = cookie_words[k];
        size_t off = cookie_anchor_offset[k], len = strlen(w);
        if (low[p] == w[off] && low[p + 1] == w[off + 1] && p >= off && p - off + len <= n &&
            memcmp(low + p - off, w, len) == 0)
            return true;
    }
    return false;
}

static bool has_cookie_word(const char *low, size_t n)
{
    size_t p = 0;
#ifdef __SSE2__
    for (; p + 17 <= n; p += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(low + p)), y = _mm_loadu_si128((const __m128i *)(low + p + 1));
        __m128i hit = _mm_setzero_si128();
        for (size_t k = 0; k < COUNT(cookie_words); k++) {
            const char *pair = cookie_words[k] + cookie_anchor_offset[k];
            hit = _mm_or_si128(hit, _mm_and_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(pair[0])),
                                                  _mm_cmpeq_epi8(y, _mm_set1_epi8(pair[1]))));
        }
        for (unsigned m = (unsigned)_mm_movemask_epi8(hit); m; m &= m - 1)
            if (anchored_at(low, n, p + (unsigned)__builtin_ctz(m)))
                return true;
    }
#endif
    for (; p + 1 < n; p++)
        if (anchored_at(low, n, p))
            return true;
    return false;
}

static bool any_prefix(const char *s, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        size_t m = strlen(list[i]);
        if (m <= n && memcmp(s, list[i], m) == 0)
            return true;
    }
    return false;
}

static bool equals_any(const char *s, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && memcmp(s, list[i], n) == 0)
            return true;
    return false;
}

static size_t count_stopwords(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && nfi_is_space((unsigned char)s[i]))
            i++;
        size_t a = i;
        while (i < n && !nfi_is_space((unsigned char)s[i]))
            i++;
        size_t b = i; /* strip punctuation around the word */
        while (a < b && strchr("\"'([{«“„", s[a]))
            a++;
        while (b > a && strchr("\"')]}».,;:!?”", s[b - 1]))
            b--;
        count += is_stopword(s + a, b - a);
    }
    return count;
}

#ifdef __SSE2__
/* features_of's words, letters and CJK characters of 16 bytes at u: a
 * non-ASCII byte is never a space and is a letter; a CJK character (U+2E80
 * to U+D7AF) begins with a byte of E2-ED, which the byte-wise walk always
 * decodes as a character's first byte (a decoder takes only 80-BF after
 * it), so each such byte is decoded here alone. */
static inline void features_16(const unsigned char *u, const unsigned char *end, line_features *f, bool *after_space,
                               size_t *cjk)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)u);
    __m128i space = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')),
                                 _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('\t' - 1)),
                                               _mm_cmplt_epi8(x, _mm_set1_epi8('\r' + 1))));
    /* word starts: a byte other than space after a space; counted as bytes
     * of 1 summed by psadbw (no popcount instruction in baseline x86-64) */
    __m128i before = _mm_or_si128(_mm_slli_si128(space, 1), _mm_cvtsi32_si128(*after_space ? 0xFF : 0));
    __m128i starts = _mm_and_si128(_mm_andnot_si128(space, before), _mm_set1_epi8(1));
    __m128i sums = _mm_sad_epu8(starts, _mm_setzero_si128());
    f->words += (size_t)_mm_cvtsi128_si32(sums) + (size_t)_mm_extract_epi16(sums, 4);
    *after_space = (unsigned)_mm_movemask_epi8(space) >> 15;
    unsigned high = (unsigned)_mm_movemask_epi8(x);
    if (!f->alnum) {
        __m128i lower = _mm_or_si128(x, _mm_set1_epi8(0x20));
        __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(lower, _mm_set1_epi8('a' - 1)),
                                       _mm_cmplt_epi8(lower, _mm_set1_epi8('z' + 1)));
        __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
                                      _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
        f->alnum = (high | (unsigned)_mm_movemask_epi8(_mm_or_si128(letter, digit))) != 0;
    }
    if (!high)
        return;
    __m128i flipped = _mm_xor_si128(x, _mm_set1_epi8((char)0x80)); /* E2-ED become 0x62-0x6D */
    unsigned leads = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(flipped, _mm_set1_epi8(0x61)),
                                                               _mm_cmplt_epi8(flipped, _mm_set1_epi8(0x6E))));
    for (; leads; leads &= leads - 1) {
        uint32_t cp;
        size_t k = (unsigned)__builtin_ctz(leads);
        nfi_utf8_decode(u + k, (size_t)(end - u) - k, &cp);
        *cjk += cp >= 0x2E80 && cp <= 0xD7AF;
    }
}
#endif

/* Words (runs of bytes other than ASCII space), letters, CJK characters
 * and sentence end of one line; 16 bytes at a time (SSE2), the rest byte
 * by byte, ASCII stretches 8 bytes at a time (or as many of 8 as come
 * before a non-ASCII byte). The walk may begin inside a character cut by
 * the last 16: its bytes after the first are then each taken alone, as a
 * non-space byte that begins no word and is no CJK character. */
static line_features features_of(const char *s, size_t n)
{
    line_features f = {0, 0, 0, false, false, true};
    size_t cjk = 0;
    const unsigned char *u = (const unsigned char *)s;
    bool after_space = true; /* words: runs of bytes other than ASCII space */
    size_t i = 0;
#ifdef __SSE2__
    for (; i + 16 <= n; i += 16) {
        features_16(u + i, u + n, &f, &after_space, &cjk);
        if (f.words > WORDS_EXACT && f.alnum) { /* nothing further changes a test's answer */
            i = n;
            break;
        }
    }
#endif
    while (i < n) {
        uint64_t x;
        /* the ASCII bytes of the next 8, up to the first other one (carries
         * only corrupt the flags above it, which are masked off) */
        unsigned k = 0;
        if (i + 8 <= n) {
            memcpy(&x, u + i, 8);
            k = x & NFI_SWAR_HIGH ? (unsigned)__builtin_ctzll(x & NFI_SWAR_HIGH) / 8 : 8;
        }
        if (k) {
            uint64_t valid = k == 8 ? ~0ull : (1ull << (8 * k)) - 1;
            uint64_t space = (nfi_swar_eq(x, ' ') | nfi_swar_in(x, '\t', '\r')) & valid;
            uint64_t starts = ~space & NFI_SWAR_HIGH & valid & (space << 8 | (after_space ? 0x80u : 0u));
            f.words += nfi_swar_count(starts);
            after_space = (space >> (8 * k - 1)) != 0;
            f.alnum |= ((nfi_swar_in(x | NFI_SWAR_ONES * 32, 'a', 'z') | nfi_swar_in(x, '0', '9')) & valid) != 0;
            i += k;
            continue;
        }
        unsigned char c = u[i];
        if (c < 0x80) {
            bool space = nfi_is_space(c);
            f.words += after_space && !space;
            after_space = space;
            f.alnum |= (unsigned)((c | 32) - 'a') < 26u || (c >= '0' && c <= '9');
            i++;
            continue;
        }
        f.words += after_space;
        after_space = false;
        f.alnum = true;
        if (c >= 0xC2 && c < 0xE0 && i + 1 < n && (u[i + 1] & 0xC0) == 0x80) {
            i += 2; /* a valid two-byte sequence: below U+0800, not CJK */
            continue;
        }
        uint32_t cp;
        i += nfi_utf8_decode(u + i, n - i, &cp);
        if (cp >= 0x2E80 && cp <= 0xD7AF)
            cjk++;
    }
    f.only_punct = !f.alnum;
    f.units = f.words > cjk / 2 ? f.words : cjk / 2;
    size_t e = n;
    while (e > 0 && strchr("\"')]}»”’ |", s[e - 1]))
        e--;
    f.terminal = e > 0 && (strchr(".!?;", s[e - 1]) || (e >= 3 && memcmp(s + e - 3, "\xE3\x80\x82", 3) == 0));
    if (f.units >= PROSE_MIN_UNITS && !f.terminal) /* only then does is_prose need them */
        f.stopwords = count_stopwords(s, n);
    return f;
}

static const char *const url_marks[] = {"http://", "https://", "www."};

/* Only short lines ask for these (see pattern_reason). */
static bool has_url(const char *low, size_t n) { return any_contained(low, n, url_marks, COUNT(url_marks)); }

static bool has_email(const char *s, const char *low, size_t n)
{
    return memchr(s, '@', n) != NULL || contains(low, n, "[email");
}

static bool is_prose(const line_features *f)
{
    return f->units >= PROSE_MIN_UNITS && (f->terminal || f->stopwords >= 2);
}

/* "Comment (0)", "12 comments", "Kommentare (3)" */
static bool is_comment_counter(const char *low, size_t n, const line_features *f)
{
    return f->words <= 3 && any_contained(low, n, comment_words, COUNT(comment_words));
}

static bool looks_like_date_line(const char *s, size_t n)
{
    char tmp[11];
    char *copy = nfi_strndup(s, n);
    bool yes = copy && nf_parse_date(copy, tmp);
    free(copy);
    return yes;
}

/* Boilerplate wherever it stands; NULL if none. Cheap tests gate the
 * expensive ones, so long prose lines cost a handful of memmem calls. */
static const char *pattern_reason(const char *s, const char *low, size_t n, const line_features *f,
                                  const needle_skip *cookies)
{
    if (f->only_punct)
        return R_PUNCT;
    if (cookies && needle_skip_any(cookies, low, n) &&
        any_contained(low, n, cookie_context, COUNT(cookie_context)))
        return R_COOKIE;
    if (f->words > WORDS_EXACT)
        return NULL;
    if (any_prefix(low, n, nav_prefixes, COUNT(nav_prefixes)))
        return R_NAVIGATION;
    if (f->words <= 4 && equals_any(low, n, nav_words, COUNT(nav_words)))
        return R_NAVIGATION;
    if (f->words <= 12 && !f->terminal && any_contained(low, n, share_phrases, COUNT(share_phrases)))
        return R_SHARE;
    if (is_comment_counter(low, n, f))
        return R_COMMENTS;
    if (f->words <= 2 && equals_any(low, n, end_markers, COUNT(end_markers)))
        return R_END;
    if (f->words <= 3 && has_email(s, low, n))
        return R_EMAIL;
    if (f->words <= 6 && any_prefix(low, n, credit_prefixes, COUNT(credit_prefixes)))
        return R_CREDIT;
    if (f->words <= 10 && !f->terminal && any_prefix(low, n, meta_labels, 4) && looks_like_date_line(s, n))
        return R_META;
    if (f->words <= 15 && (any_prefix(low, n, copyright_prefixes, COUNT(copyright_prefixes)) ||
                           any_contained(low, n, copyright_marks, COUNT(copyright_marks))))
        return R_COPYRIGHT;
    if (f->words <= 8 && !is_prose(f) && has_url(low, n))
        return R_SOURCE;
    return NULL;
}

/* ------------------------------------------------------------ lines */

nf_status nfi_split_lines(const char *text, size_t len, nfi_line **out, size_t *n_out, nf_error *err)
{
    size_t cap = 16, n = 0;
    nfi_line *lines = malloc(cap * sizeof *lines);
    if (!lines)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    uint32_t number = 0, blanks = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        number++;
        size_t a = i, b = end;
        while (a < b && nfi_is_space((unsigned char)text[a]))
            a++;
        while (b > a && nfi_is_space((unsigned char)text[b - 1]))
            b--;
        /* U+00A0 no-break space alone on a line is blank too */
        while (b - a >= 2 && (unsigned char)text[a] == 0xC2 && (unsigned char)text[a + 1] == 0xA0) {
            a += 2;
            while (a < b && nfi_is_space((unsigned char)text[a]))
                a++;
        }
        if (a == b) {
            blanks++;
        } else {
            if (n == cap) {
                cap *= 2;
                nfi_line *g = realloc(lines, cap * sizeof *g);
                if (!g) {
                    free(lines);
                    return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
                }
                lines = g;
            }
            lines[n++] = (nfi_line){(uint32_t)a, (uint32_t)(b - a), number, blanks, NULL};
            blanks = 0;
        }
        i = end + 1;
    }
    *out = lines;
    *n_out = n;
    return NF_OK;
}

/* Case-insensitive comparison ignoring spaces and trailing punctuation. */
static bool same_title(const char *a, size_t an, const char *b, size_t bn)
{
    while (an && strchr(" .:|", a[an - 1]))
        an--;
    while (bn && strchr(" .:|", b[bn - 1]))
        bn--;
    size_t i = 0, j = 0;
    while (i < an && j < bn) {
        if (nfi_is_space((unsigned char)a[i])) {
            i++;
            continue;
        }
        if (nfi_is_space((unsigned char)b[j])) {
            j++;
            continue;
        }
        if (nfi_lower_ascii((unsigned char)a[i]) != nfi_lower_ascii((unsigned char)b[j]))
            return false;
        i++;
        j++;
    }
    while (i < an && nfi_is_space((unsigned char)a[i]))
        i++;
    while (j < bn && nfi_is_space((unsigned char)b[j]))
        j++;
    return i == an && j == bn;
}

uint64_t nfi_template_key(uint64_t group_hash, const char *line, size_t len)
{
    return nfi_hash64(line, len) ^ (group_hash * 0x9E3779B97F4A7C15ULL);
}

bool nfi_template_contains(const nfi_template_set *set, uint64_t key)
{
    return set && set->len && bsearch(&key, set->hashes, set->len, sizeof key, nfi_cmp_u64);
}

/* Head: a menu block before the first prose line. */
static void mark_head(const char *low, nfi_line *lines, size_t n, const line_features *f)
{
    size_t first_prose = 0, menu_like = 0;
    while (first_prose < n && !is_prose(&f[first_prose]) && f[first_prose].units < 6)
        first_prose++;
    for (size_t i = 0; i < first_prose; i++) {
        const char *s = low + lines[i].start;
        if (f[i].units <= MENU_MAX_UNITS || any_contained(s, lines[i].len, nav_words, COUNT(nav_words)))
            menu_like++;
    }
    if (menu_like < 2)
        return;
    for (size_t i = 0; i < first_prose; i++) {
        const char *s = low + lines[i].start;
        if (!lines[i].reason && (f[i].units <= MENU_MAX_UNITS ||
                                 any_contained(s, lines[i].len, nav_words, COUNT(nav_words))))
            lines[i].reason = R_MENU;
    }
}

/* Tail: short lines after the last prose line, and source/reference blocks. */
static void mark_tail(const char *low, nfi_line *lines, size_t n, const line_features *f)
{
    size_t last_prose = n;
    for (size_t i = n; i-- > 0;)
        if (!lines[i].reason && is_prose(&f[i])) {
            last_prose = i;
            break;
        }
    if (last_prose == n)
        return;
    for (size_t i = last_prose + 1; i < n; i++)
        if (!lines[i].reason && f[i].units <= FOOTER_MAX_UNITS && !f[i].terminal)
            lines[i].reason = R_FOOTER;
    size_t window = n > TAIL_MARKER_WINDOW ? n - TAIL_MARKER_WINDOW : 0;
    for (size_t i = window; i < n; i++) {
        const char *s = low + lines[i].start;
        if (f[i].words > 4 || !any_prefix(s, lines[i].len, tail_markers, COUNT(tail_markers)))
            continue;
        bool block_is_short = true; /* the marker must open a block of non-prose lines */
        for (size_t j = i + 1; j < n; j++)
            if (!lines[j].reason && f[j].terminal && f[j].units >= PROSE_MIN_UNITS)
                block_is_short = false;
        if (!block_is_short)
            continue;
        for (size_t j = i; j < n; j++)
            if (!lines[j].reason)
                lines[j].reason = R_SOURCE;
        break;
    }
}

static bool headline_like(const line_features *f)
{
    return f->units >= 1 && f->units <= WORDS_EXACT && !(f->terminal && f->units > 20);
}

nf_status nfi_boilerplate_classify(const char *text, size_t len, const char *title,
                                  const nfi_template_set *templates, uint64_t group_hash,
                                  nfi_boilerplate_result *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    out->title_line = SIZE_MAX;
    nf_status st = nfi_split_lines(text, len, &out->lines, &out->n_lines, err);
    if (st != NF_OK)
        return st;
    size_t n = out->n_lines;
    nfi_line *lines = out->lines;
    line_features *f = malloc((n ? n : 1) * sizeof *f);
    char *low = malloc(len + 1);
    if (!f || !low) {
        free(f);
        free(low);
        nfi_boilerplate_result_free(out);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < len; i++)
        low[i] = (char)nfi_lower_ascii((unsigned char)text[i]);
    needle_skip cookies;
    bool any_cookie = has_cookie_word(low, len);
    if (any_cookie)
        needle_skip_init(&cookies, cookie_words, COUNT(cookie_words));
    for (size_t i = 0; i < n; i++) {
        const char *s = text + lines[i].start;
        f[i] = features_of(s, lines[i].len);
        lines[i].reason = pattern_reason(s, low + lines[i].start, lines[i].len, &f[i], any_cookie ? &cookies : NULL);
        if (!lines[i].reason && f[i].units <= TEMPLATE_MAX_UNITS && !is_prose(&f[i]) &&
            nfi_template_contains(templates, nfi_template_key(group_hash, s, lines[i].len)))
            lines[i].reason = R_TEMPLATE;
    }
    mark_head(low, lines, n, f);
    mark_tail(low, lines, n, f);
    const char *t = title;
    size_t tn = title ? strlen(title) : 0;
    for (size_t i = 0; i < n && !t; i++) {
        if (lines[i].reason)
            continue;
        out->title_line = i;
        out->title_in_text = !headline_like(&f[i]);
        t = text + lines[i].start;
        tn = lines[i].len;
    }
    for (size_t i = 0; i < n && t; i++)
        if (i != out->title_line && !lines[i].reason && same_title(text + lines[i].start, lines[i].len, t, tn))
            lines[i].reason = R_TITLE;
    free(f);
    free(low);
    return NF_OK;
}

void nfi_boilerplate_result_free(nfi_boilerplate_result *r)
{
    free(r->lines);
    memset(r, 0, sizeof *r);
    r->title_line = SIZE_MAX;
}
