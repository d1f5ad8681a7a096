/*
 * lexicon.c - FreeDict bilingual dictionaries as a compact, cached lookup
 * from a foreign word to the English terms it translates to.
 *
 * Sources: Debian's dict-freedict-XXX-eng packages (dictd format: a .index
 * of "headword TAB base64-offset TAB base64-length" and a gzip-compatible
 * .dict.dz), and eng-XXX packages read backwards where only that direction
 * exists or to add to a small XXX-eng (French has 8.5k headwords one way),
 * and Mueller's English-Russian dictionary (mueller7-dict, 46k headwords,
 * free-text bodies) read backwards, compiled after those: a key keeps its
 * first MAX_VALUES values, so the order of compilation is a priority. Last,
 * Ukrainian forms through their Russian lemmas (scripts/ukr_rus.sh's list
 * from Apertium's Russian-Ukrainian pair) and every Russian entry.
 * Headwords and translations go through the same tokenizer and Snowball
 * stemmers as documents, so a lookup key is what a document token looks
 * like: the normalized form and, separately, the stem (inflected forms meet
 * their headword through it); multiword headwords are keyed by their words
 * joined with single spaces. Values are English term hashes, the very hashes
 * English documents produce: the content words of at most MAX_SENSES
 * senses of each headword, at most MAX_VALUES per key.
 *
 * Compiling the German dictionary (half a million headwords) takes seconds,
 * so the result is cached: one file of sorted 64-bit keys, offsets and
 * values, the phrase keys (first word, last word, length of every
 * multiword headword, for the phrase filter) and the keys' Bloom filter,
 * memory-mapped on load (start-up is a few page faults, and the pages are
 * shared by every process). The cache name carries a signature of
 * the format, the tokenizer's version and the dictionary files' names,
 * sizes and times, so it is rebuilt when a package or the tokenizer
 * changes; it is written to a temporary name and renamed.
 */
#include "links/links.h"

#include "text/text.h"
#include "common/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

#define MAX_SENSES 8
#define MAX_VALUES 16
#define MAX_LANGS 48
#define CACHE_MAGIC "NFLEX011"
#define MAX_PHRASE_WORDS 3
#define MAX_CJK_BYTES 36   /* 12 characters: longer headwords are phrases */
#define NAME_SENSES 2      /* names are taken from the first senses only */

struct nfi_lexicon {
    const uint64_t *keys;   /* sorted, unique */
    const uint32_t *offsets; /* n_keys + 1 */
    const uint64_t *values;
    size_t n_keys;
    void *map;
    size_t map_len;
    const uint64_t *bloom;  /* 2 probes, ~8 bits per key: most misses skip the search (in the cache) */
    uint64_t bloom_mask;    /* in bits */
    uint64_t *user_keys, *user_values; /* the user's lexicon, sorted by key */
    size_t n_user;
    const uint64_t *phrases; /* the cache's phrase keys (nfi_lexicon_phrase_key), sorted unique */
    size_t n_phrases;
    uint64_t *user_phrases;  /* the user's lexicon's */
    size_t n_user_phrases;
    uint64_t *phrase_filter; /* Bloom filter of both, 2 bits in one 64-bit word per key, */
    uint64_t phrase_mask;    /* about 16 bits per key (mask: of the word index) */
    char langs[MAX_LANGS][4];
    const char *lang_ptrs[MAX_LANGS + 1];
    size_t n_langs;
};

static const char *const english_stopwords[] = {
    "a", "about", "an", "and", "are", "as", "at", "be", "been", "by", "for", "from", "has", "have", "he",
    "her", "his", "i", "in", "is", "it", "its", "of", "on", "one", "or", "out", "she", "so", "some",
    "someone", "something", "that", "the", "their", "them", "they", "this", "to", "up", "was", "we",
    "were", "which", "who", "with", "you",
};

bool nfi_english_stopword(const char *w, size_t n)
{
    for (size_t i = 0; i < sizeof english_stopwords / sizeof *english_stopwords; i++)
        if (strlen(english_stopwords[i]) == n && memcmp(english_stopwords[i], w, n) == 0)
            return true;
    return false;
}

uint64_t nfi_lexicon_lang_seed(const char *lang) { return XXH3_64bits(lang, strlen(lang)); }

uint64_t nfi_lexicon_key(const char *lang, const char *word, size_t len)
{
    return nfi_lexicon_key_seeded(nfi_lexicon_lang_seed(lang), word, len);
}

/* ISO 639-3 names of FreeDict files to the 639-1 codes documents carry. */
static const char *iso1_of(const char *iso3)
{
    static const char *const map[][2] = {
        {"afr", "af"}, {"ara", "ar"}, {"ces", "cs"}, {"cym", "cy"}, {"dan", "da"}, {"deu", "de"},
        {"ell", "el"}, {"epo", "eo"}, {"fin", "fi"}, {"fra", "fr"}, {"gle", "ga"}, {"hrv", "hr"},
        {"hun", "hu"}, {"isl", "is"}, {"ita", "it"}, {"jpn", "ja"}, {"kur", "ku"}, {"lat", "la"},
        {"lit", "lt"}, {"nld", "nl"}, {"pol", "pl"}, {"por", "pt"}, {"rus", "ru"}, {"slk", "sk"},
        {"slv", "sl"}, {"spa", "es"}, {"srp", "sr"}, {"swe", "sv"}, {"swh", "sw"}, {"tur", "tr"},
        {"nob", "nb"}, {"ukr", "uk"}, {"bul", "bg"}, {"ron", "ro"},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (strcmp(map[i][0], iso3) == 0)
            return map[i][1];
    return NULL;
}

/* ------------------------------------------------------------ dictd */

static int b64_value(char c)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strchr(alphabet, c);
    return c && p ? (int)(p - alphabet) : -1;
}

static bool b64_number(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        int d = b64_value(s[i]);
        if (d < 0)
            return false;
        v = v * 64 + (uint64_t)d;
    }
    *out = v;
    return n > 0;
}

/* The compile state: (key, term) pairs and the tokenizer. */
typedef struct builder {
    nfi_normalizer *nz;
    nfi_kv *pairs;
    size_t n, cap;
    nfi_token_vec toks;
    nfi_buf pool;
    nfi_buf phrases; /* uint64 phrase keys of the multiword headwords */
    bool oom;
} builder;

static void add_pair(builder *b, uint64_t key, uint64_t term)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1 << 16;
        nfi_kv *p = realloc(b->pairs, cap * sizeof *p);
        if (!p) {
            b->oom = true;
            return;
        }
        b->pairs = p;
        b->cap = cap;
    }
    b->pairs[b->n++] = (nfi_kv){key, term};
}

/* Tokenizes s in lang; the tokens land in b->toks / b->pool. */
static size_t tokenize(builder *b, const char *s, size_t n, const char *lang)
{
    b->toks.len = 0;
    b->pool.len = 0;
    nf_error err;
    if (nfi_tokenize(b->nz, s, n, lang, true, &b->toks, &b->pool, &err) != NF_OK)
        b->oom = true;
    return b->toks.len;
}

/* Joined norms (which = 0) or stems (which = 1) of the current tokens. */
static void joined(builder *b, int which, nfi_buf *out)
{
    out->len = 0;
    for (size_t i = 0; i < b->toks.len; i++) {
        const nf_token *t = &b->toks.items[i];
        if (i)
            nfi_buf_putc(out, ' ');
        nfi_buf_append(out, b->pool.data + (which ? t->stem : t->norm), which ? t->stem_len : t->norm_len);
    }
}

/* English terms of a phrase: content-word stems (kind bits: term). */
static size_t english_terms(builder *b, const char *s, size_t n, uint64_t *out, size_t max)
{
    size_t k = 0;
    tokenize(b, s, n, "en");
    for (size_t i = 0; i < b->toks.len && k < max; i++) {
        const nf_token *t = &b->toks.items[i];
        if (t->kind != NF_TOKEN_WORD || nfi_english_stopword(b->pool.data + t->norm, t->norm_len))
            continue;
        out[k++] = nfi_term_hash(b->pool.data + t->stem, t->stem_len) & ~3ULL;
    }
    return k;
}

/* Name keys of the capitalized words of a gloss ("Vladimir Putin"), as an
 * English document's names produce them: how 普京 meets Putin. */
static size_t english_names(builder *b, const char *s, size_t n, uint64_t *out, size_t max)
{
    size_t k = 0;
    tokenize(b, s, n, "en");
    for (size_t i = 0; i < b->toks.len && k + NFI_NAME_KEYS <= max; i++) {
        const nf_token *t = &b->toks.items[i];
        if (t->kind == NF_TOKEN_WORD && (t->flags & NF_TOKEN_CAPITALIZED) && t->len >= 3)
            k += nfi_name_keys(s + t->start, t->len, NFI_GLOSS_NAME_CONSONANTS, out + k);
    }
    return k;
}

/* Marks s[0,n) as the beginning (or, NFI_MARK_TAIL, the last word) of a
 * longer headword (links.h). */
static void add_marker(builder *b, const char *lang, const char *s, size_t n, uint64_t marker)
{
    char key[NFI_PREFIX_KEY_MAX];
    uint64_t seed = nfi_lexicon_lang_seed(lang);
    uint64_t k = marker == NFI_MARK_TAIL ? nfi_lexicon_suffix_key(seed, s, n, key, sizeof key)
                                         : nfi_lexicon_prefix_key(seed, s, n, key, sizeof key);
    if (k)
        add_pair(b, k, marker);
}

/* A headword of a script written without spaces: keyed by its normalized
 * characters without separators, as pivot.c's longest match reads text. */
static void add_cjk_word(builder *b, const char *lang, const uint64_t *terms, size_t n_terms)
{
    char key[MAX_CJK_BYTES];
    size_t len = 0;
    for (size_t i = 0; i < b->toks.len; i++) {
        const nf_token *t = &b->toks.items[i];
        if (t->kind != NF_TOKEN_IDEOGRAPHIC || len + t->norm_len > sizeof key)
            return; /* mixed with Latin or digits, or a phrase */
        memcpy(key + len, b->pool.data + t->norm, t->norm_len);
        len += t->norm_len;
    }
    uint64_t k = nfi_lexicon_key(lang, key, len);
    for (size_t i = 0; i < n_terms; i++)
        add_pair(b, k, terms[i]);
    for (size_t i = 1; i < len; i++) /* every proper prefix, at character boundaries, is marked */
        if (((unsigned char)key[i] & 0xC0) != 0x80)
            add_marker(b, lang, key, i, NFI_MARK_PREFIX);
}

/* The phrase key of a joined headword s (words joined by single spaces):
 * of its text before the first space, its text after the last space and
 * its number of spaces plus one, so that a reader holding the words of a
 * span (none holding a space) makes the same key (links.h); 0 when s has
 * no space or an empty first or last word. */
static uint64_t phrase_key_of(const char *lang, const char *s, size_t n)
{
    const char *first = memchr(s, ' ', n), *last = first;
    if (!first || first == s || s[n - 1] == ' ')
        return 0;
    size_t words = 1;
    for (const char *c = first; c; c = memchr(c + 1, ' ', n - (size_t)(c + 1 - s)))
        words++, last = c;
    uint64_t seed = nfi_lexicon_lang_seed(lang);
    return nfi_lexicon_phrase_key(nfi_lexicon_key_seeded(seed, s, (size_t)(first - s)),
                                  nfi_lexicon_key_seeded(seed, last + 1, n - (size_t)(last + 1 - s)), words);
}

/* Adds word (in lang) -> terms, under its normalized and its stemmed key. */
static void add_word(builder *b, const char *lang, const char *word, size_t n, const uint64_t *terms,
                     size_t n_terms)
{
    if (n_terms == 0 || tokenize(b, word, n, lang) == 0)
        return;
    if (b->toks.items[0].kind == NF_TOKEN_IDEOGRAPHIC) {
        add_cjk_word(b, lang, terms, n_terms);
        return;
    }
    if (b->toks.len > MAX_PHRASE_WORDS)
        return;
    nfi_buf key;
    nfi_buf_init(&key);
    for (int which = 0; which < 2; which++) {
        joined(b, which, &key);
        uint64_t k = nfi_lexicon_key(lang, key.data ? key.data : "", key.len);
        for (size_t i = 0; i < n_terms; i++)
            add_pair(b, k, terms[i]);
        uint64_t phrase = phrase_key_of(lang, key.data ? key.data : "", key.len);
        if (phrase)
            nfi_buf_append(&b->phrases, &phrase, sizeof phrase);
        const nf_token *first = &b->toks.items[0], *last = &b->toks.items[b->toks.len - 1];
        if (b->toks.len > 1) { /* a phrase: its first and last words are marked */
            add_marker(b, lang, b->pool.data + (which ? first->stem : first->norm),
                       which ? first->stem_len : first->norm_len, b->toks.len == 2 ? NFI_MARK_HEAD2 : NFI_MARK_HEAD3);
            add_marker(b, lang, b->pool.data + (which ? last->stem : last->norm),
                       which ? last->stem_len : last->norm_len, NFI_MARK_TAIL);
        }
    }
    nfi_buf_free(&key);
}

/* Appends to out[n..max) the phrases of s between ',' and ';', trimmed of
 * spaces, non-empty and, when keep is given, kept by it; returns the new
 * count. s is cut in place. */
static size_t split_phrases(char *s, bool (*keep)(const char *), char **out, size_t n, size_t max)
{
    char *save = NULL;
    for (char *ph = strtok_r(s, ",;", &save); ph && n < max; ph = strtok_r(NULL, ",;", &save)) {
        while (*ph == ' ')
            ph++;
        size_t len = strlen(ph);
        while (len && ph[len - 1] == ' ')
            ph[--len] = '\0';
        if (len && (!keep || keep(ph)))
            out[n++] = ph;
    }
    return n;
}

/* Splits a definition into translation phrases: drops [labels], <tags>,
 * /pronunciations/, (notes), numbering and cross-reference lines. */
static size_t phrases_of(char *def, char **out, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *line = strtok_r(def, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ')
            line++;
        if (!*line || strncmp(line, "see:", 4) == 0 || strncmp(line, "Synonym", 7) == 0 ||
            strncmp(line, "Note:", 5) == 0 || strncmp(line, "Antonym", 7) == 0 || strncmp(line, "Example", 7) == 0)
            continue;
        char *w = line;
        int depth = 0;
        for (char *r = line; *r; r++) { /* strip bracketed parts */
            if (*r == '[' || *r == '<' || *r == '(' || *r == '/')
                depth += *r == '/' ? (depth ? -1 : 1) : 1;
            else if (depth && (*r == ']' || *r == '>' || *r == ')'))
                depth--;
            else if (!depth)
                *w++ = *r;
        }
        *w = '\0';
        char *p = line;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p != line && *p == '.')
            line = p + 1;
        n = split_phrases(line, NULL, out, n, max);
    }
    return n;
}

/* The values of a headword from its English translation phrases: the
 * terms of the first senses, then the names its first glosses carry. */
static size_t gloss_values(builder *b, char **phrases, size_t n, uint64_t *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < MAX_SENSES; i++) {
        uint64_t more[MAX_PHRASE_WORDS];
        size_t m = english_terms(b, phrases[i], strlen(phrases[i]), more, MAX_PHRASE_WORDS);
        for (size_t j = 0; j < m && k < MAX_SENSES; j++)
            out[k++] = more[j];
    }
    for (size_t i = 0; i < n && i < NAME_SENSES; i++)
        k += english_names(b, phrases[i], strlen(phrases[i]), out + k, MAX_VALUES - k);
    return k;
}

/* Through a third language: Russian has only a small eng-rus, but
 * deu-rus and fra-rus are larger, and German and French have large
 * dictionaries to English. A pivot entry's headword (in the via language)
 * is looked up among the pairs compiled so far (sorted by key); its first
 * English values become those of each of its first translations. */
#define PIVOT_VALUES 4
#define PIVOT_SENSES 3

typedef struct via_table {
    const nfi_kv *pairs; /* sorted by key, values in dictionary order */
    size_t n;
    const char *lang;
} via_table;

static size_t via_values(builder *b, const via_table *via, const char *headword, uint64_t *out, size_t max)
{
    if (tokenize(b, headword, strlen(headword), via->lang) == 0 || b->toks.len > MAX_PHRASE_WORDS)
        return 0;
    nfi_buf key;
    nfi_buf_init(&key);
    joined(b, 0, &key);
    uint64_t k = nfi_lexicon_key(via->lang, key.data ? key.data : "", key.len);
    nfi_buf_free(&key);
    size_t lo = 0, hi = via->n, n = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (via->pairs[mid].key < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < via->n && via->pairs[i].key == k && n < max; i++) {
        uint64_t v = via->pairs[i].val;
        bool skip = v == NFI_MARK_PREFIX || v == NFI_MARK_HEAD2 || v == NFI_MARK_HEAD3 || v == NFI_MARK_TAIL;
        for (size_t j = 0; j < n && !skip; j++)
            skip = out[j] == v;
        if (!skip)
            out[n++] = v;
    }
    return n;
}

/* One dictionary: forward (X-eng), inverted (eng-X), or through a third
 * language (via: X-lang read as lang -> X -> English). */
static void compile_dict(builder *b, const char *index_path, const char *dict_path, const char *lang, bool inverted,
                         const via_table *via)
{
    size_t index_len, dict_len;
    char *index = nfi_read_file(index_path, &index_len);
    char *dict = nfi_read_file(dict_path, &dict_len);
    if (!index || !dict) {
        free(index);
        free(dict);
        return;
    }
    char *save = NULL;
    for (char *line = strtok_r(index, "\n", &save); line && !b->oom; line = strtok_r(NULL, "\n", &save)) {
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        uint64_t off, len;
        if (!t2 || strncmp(line, "00", 2) == 0 || !b64_number(t1 + 1, (size_t)(t2 - t1 - 1), &off) ||
            !b64_number(t2 + 1, strlen(t2 + 1), &len) || off + len > dict_len)
            continue;
        *t1 = '\0';
        char *def = nfi_strndup(dict + off, len);
        if (!def) {
            b->oom = true;
            break;
        }
        char *body = strchr(def, '\n'); /* the first line repeats the headword */
        char *phrases[MAX_SENSES * 2];
        size_t n = body ? phrases_of(body + 1, phrases, MAX_SENSES * 2) : 0;
        uint64_t terms[MAX_SENSES * 2];
        if (via) {
            size_t k = via_values(b, via, line, terms, PIVOT_VALUES);
            for (size_t i = 0; i < n && i < PIVOT_SENSES && k; i++)
                add_word(b, lang, phrases[i], strlen(phrases[i]), terms, k);
        } else if (!inverted) {
            uint64_t values[MAX_VALUES];
            add_word(b, lang, line, strlen(line), values, gloss_values(b, phrases, n, values));
        } else {
            size_t k = english_terms(b, line, strlen(line), terms, MAX_PHRASE_WORDS);
            if (k)
                k += english_names(b, line, strlen(line), terms + k, MAX_SENSES * 2 - k);
            for (size_t i = 0; i < n && k; i++)
                add_word(b, lang, phrases[i], strlen(phrases[i]), terms, k);
        }
        free(def);
    }
    free(index);
    free(dict);
}

/* ------------------------------------------------------------ Mueller */

/* Debian's mueller7-dict: Mueller's English-Russian dictionary (46k
 * headwords, dictd format) read backwards, Russian -> English. Its bodies
 * are free text: a transcription in [brackets], numbered senses ("1.",
 * "1)", "_I"), part-of-speech and domain labels ("_n.", "_биол."), notes in
 * (parentheses), and usage examples that mix English and Russian. The
 * translations are the Cyrillic-only phrases between separators; examples
 * (any Latin letter) and cross-references are dropped. Lines are wrapped
 * mid-sense, so the body is read as one string. */
#define MUELLER_PRIMARY 1 /* translations per headword added in the first pass */

/* Replaces what is not a translation with ';' (separators) or removes it. */
static void mueller_strip(char *body)
{
    char *w = body;
    int depth = 0;
    for (char *r = body; *r; r++) {
        if (*r == '[' || *r == '(') {
            depth++;
        } else if (depth && (*r == ']' || *r == ')')) {
            depth--;
        } else if (depth) {
            continue;
        } else if (*r == '_') { /* a label: "_n.", "_биол.", "_I" */
            while (r[1] && r[1] != ' ' && r[1] != '\n' && r[1] != '.' && r[1] != ';' && r[1] != ',')
                r++;
            if (r[1] == '.')
                r++;
            *w++ = ';';
        } else if (*r >= '0' && *r <= '9') { /* numbering, references' numbers */
            while (r[1] >= '0' && r[1] <= '9')
                r++;
            if (r[1] == ')' || r[1] == '.')
                r++;
            *w++ = ';';
        } else {
            *w++ = *r == '\n' ? ' ' : *r;
        }
    }
    *w = '\0';
}

/* A translation: Cyrillic words, spaces and hyphens only (no Latin letter:
 * an example; no '=' or "от ...": a reference to another headword). */
static bool mueller_translation(const char *ph)
{
    if (strncmp(ph, "от ", strlen("от ")) == 0 || strncmp(ph, "см. ", strlen("см. ")) == 0)
        return false;
    bool cyrillic = false;
    for (const unsigned char *p = (const unsigned char *)ph; *p; p++) {
        if (*p == 0xD0 || *p == 0xD1)
            cyrillic = true;
        else if (*p < 0x80 && *p != ' ' && *p != '-')
            return false;
    }
    return cyrillic;
}

/* The translations of one body, in dictionary order (at most max). */
static size_t mueller_translations(char *body, char **out, size_t max)
{
    mueller_strip(body);
    return split_phrases(body, mueller_translation, out, 0, max);
}

/* Two passes over the entries: the first translations of every headword,
 * then the others, so that a Russian word's MAX_VALUES English values are
 * the headwords it primarily translates, not the first ones in alphabetical
 * order among all the headwords whose later senses mention it. */
static void compile_mueller(builder *b, const char *index_path, const char *dict_path)
{
    size_t index_len, dict_len;
    char *index = nfi_read_file(index_path, &index_len);
    char *dict = nfi_read_file(dict_path, &dict_len);
    for (int pass = 0; pass < 2 && index && dict && !b->oom; pass++) {
        const char *line = index;
        while (line < index + index_len && !b->oom) {
            const char *end = memchr(line, '\n', (size_t)(index + index_len - line));
            end = end ? end : index + index_len;
            const char *t1 = memchr(line, '\t', (size_t)(end - line));
            const char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(end - t1 - 1)) : NULL;
            uint64_t off, len;
            if (t2 && strncmp(line, "00", 2) != 0 && b64_number(t1 + 1, (size_t)(t2 - t1 - 1), &off) &&
                b64_number(t2 + 1, (size_t)(end - t2 - 1), &len) && off + len <= dict_len) {
                char *def = nfi_strndup(dict + off, len);
                char *body = def ? strchr(def, '\n') : NULL; /* the first line repeats the headword */
                char *phrases[MAX_SENSES];
                size_t n = body ? mueller_translations(body + 1, phrases, MAX_SENSES) : 0;
                uint64_t terms[MAX_SENSES * 2];
                size_t k = n ? english_terms(b, line, (size_t)(t1 - line), terms, MAX_PHRASE_WORDS) : 0;
                if (k)
                    k += english_names(b, line, (size_t)(t1 - line), terms + k, MAX_SENSES * 2 - k);
                for (size_t i = pass ? MUELLER_PRIMARY : 0; i < n && i < (pass ? n : MUELLER_PRIMARY) && k; i++)
                    add_word(b, "ru", phrases[i], strlen(phrases[i]), terms, k);
                b->oom |= !def;
                free(def);
            }
            line = end + 1;
        }
    }
    free(index);
    free(dict);
}

/* ------------------------------------------------------------ EDICT, CEDICT */

/* "/sense/sense/" -> phrases, each sense on its own line for phrases_of. */
static size_t senses_of(char *slashed, char **out, size_t max)
{
    for (char *p = slashed; *p; p++)
        if (*p == '/')
            *p = '\n';
    return phrases_of(slashed, out, max);
}

/* Skips CEDICT senses that point elsewhere rather than translate. */
static bool cedict_reference(const char *sense)
{
    static const char *const refs[] = {"variant of", "old variant of", "see ", "surname ", "CL:", "abbr. for",
                                       "used in ", "erhua variant", "Japanese variant", "(old)"};
    for (size_t i = 0; i < sizeof refs / sizeof *refs; i++)
        if (strncmp(sense, refs[i], strlen(refs[i])) == 0)
            return true;
    return false;
}

/* The part of a line from its first '/', senses without references. */
static size_t line_values(builder *b, char *slash, bool cedict, uint64_t *values)
{
    char *phrases[MAX_SENSES * 2], *kept[MAX_SENSES * 2];
    size_t n = senses_of(slash, phrases, MAX_SENSES * 2), k = 0;
    for (size_t i = 0; i < n; i++)
        if (!cedict || !cedict_reference(phrases[i]))
            kept[k++] = phrases[i];
    return gloss_values(b, kept, k, values);
}

/* The whole file in UTF-8 (iconv); undecodable bytes are skipped. */
static char *euc_jp_to_utf8(const char *in, size_t len)
{
    iconv_t cd = iconv_open("UTF-8", "EUC-JP");
    if (cd == (iconv_t)-1)
        return NULL;
    size_t cap = len * 2 + 16, left_out = cap - 1, left_in = len;
    char *out = malloc(cap), *src = (char *)in, *dst = out;
    while (out && left_in && iconv(cd, &src, &left_in, &dst, &left_out) == (size_t)-1) {
        if (errno != EILSEQ && errno != EINVAL)
            break;
        src++, left_in--; /* skip the byte that does not decode */
    }
    iconv_close(cd);
    if (out)
        *dst = '\0';
    return out;
}

/* EDICT (JMdict's one-line form, EUC-JP): "KANJI;KANJI [KANA;KANA] /(pos)
 * gloss/gloss/(P)/". Every written form is a headword; a reading is one only
 * for entries written in kana alone (the kanji entries are what news
 * writes, and readings collide with particles). */
static void compile_edict(builder *b, const char *path)
{
    size_t len;
    char *raw = nfi_read_file(path, &len);
    char *text = raw ? euc_jp_to_utf8(raw, len) : NULL;
    free(raw);
    char *save = NULL;
    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line && !b->oom; line = strtok_r(NULL, "\n", &save)) {
        char *slash = strstr(line, " /");
        if (!slash || (unsigned char)line[0] < 0x80)
            continue;
        *slash = '\0';
        char *bracket = strchr(line, '[');
        if (bracket && bracket > line)
            bracket[-1] = '\0'; /* the space before the readings */
        uint64_t values[MAX_VALUES];
        size_t k = line_values(b, slash + 1, false, values);
        char *save2 = NULL;
        for (char *w = strtok_r(line, ";", &save2); w && k; w = strtok_r(NULL, ";", &save2)) {
            char *paren = strchr(w, '('); /* "KANJI(P)" marks */
            add_word(b, "ja", w, paren ? (size_t)(paren - w) : strlen(w), values, k);
        }
    }
    free(text);
}

/* CC-CEDICT: "TRAD SIMP [pin1 yin1] /sense/sense/"; both forms are keys. */
static void compile_cedict(builder *b, const char *path)
{
    size_t len;
    char *text = nfi_read_file(path, &len);
    char *save = NULL;
    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line && !b->oom; line = strtok_r(NULL, "\n", &save)) {
        char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL, *slash = strstr(line, " /");
        if (line[0] == '#' || !sp2 || !slash || slash < sp2)
            continue;
        uint64_t values[MAX_VALUES];
        size_t k = line_values(b, slash + 1, true, values);
        add_word(b, "zh", line, (size_t)(sp1 - line), values, k);
        if ((size_t)(sp2 - sp1 - 1) != (size_t)(sp1 - line) || memcmp(line, sp1 + 1, (size_t)(sp1 - line)) != 0)
            add_word(b, "zh", sp1 + 1, (size_t)(sp2 - sp1 - 1), values, k);
    }
    free(text);
}

/* ------------------------------------------------------------ Ukrainian */

/* scripts/ukr_rus.sh's list, "form TAB Russian lemma [TAB lemma]...": each
 * Ukrainian form gets the English values of its Russian lemmas (the first
 * PIVOT_VALUES of each, through every Russian dictionary compiled before),
 * keyed as a Ukrainian document's token is. Forms whose lemmas no Russian
 * dictionary knows are left to pivot.c's reading of the word as Russian. */
static void compile_ukr_rus(builder *b, const char *path, const via_table *ru)
{
    size_t len;
    char *text = ru ? nfi_read_file(path, &len) : NULL;
    char *save = NULL;
    for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line && !b->oom; line = strtok_r(NULL, "\n", &save)) {
        char *save2 = NULL, *form = strtok_r(line, "\t", &save2);
        uint64_t values[MAX_VALUES];
        size_t n = 0;
        for (char *lemma = strtok_r(NULL, "\t", &save2); lemma && n < MAX_VALUES; lemma = strtok_r(NULL, "\t", &save2)) {
            uint64_t more[PIVOT_VALUES];
            size_t k = via_values(b, ru, lemma, more, PIVOT_VALUES);
            for (size_t i = 0; i < k && n < MAX_VALUES; i++) {
                bool seen = false;
                for (size_t j = 0; j < n && !seen; j++)
                    seen = values[j] == more[i];
                if (!seen)
                    values[n++] = more[i];
            }
        }
        if (form && n)
            add_word(b, "uk", form, strlen(form), values, n);
    }
    free(text);
}

/* ------------------------------------------------------------ cache */

enum dict_kind { DICT_FREEDICT, DICT_INVERTED, DICT_EDICT, DICT_CEDICT, DICT_VIA, DICT_MUELLER, DICT_UKR_RUS };

typedef struct dict_file {
    char lang[4];
    char via[4];   /* DICT_VIA: the headwords' language */
    char index[512], dict[512]; /* EDICT, CEDICT: index is the file */
    enum dict_kind kind;
} dict_file;

/* Adds a file to the signature: name, size and time. */
static bool sign_file(XXH64_state_t *st, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return false;
    XXH64_update(st, path, strlen(path));
    uint64_t meta[2] = {(uint64_t)sb.st_size, (uint64_t)sb.st_mtime};
    XXH64_update(st, meta, sizeof meta);
    return true;
}

/* name in the user's data folder (${XDG_DATA_HOME:-~/.local/share}/newsfold),
 * where scripts/cedict.sh and scripts/ukr_rus.sh write when not root. */
static void user_data_file(const char *name, char *out, size_t cap)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    out[0] = '\0';
    if (xdg && *xdg)
        snprintf(out, cap, "%s/newsfold/%s", xdg, name);
    else if (home && *home)
        snprintf(out, cap, "%s/.local/share/newsfold/%s", home, name);
}

/* EDICT, CC-CEDICT and the Ukrainian-Russian list: in dir when one is given, else where Debian's edict
 * package and scripts/cedict.sh put them. */
static size_t find_text_dicts(const char *dir, dict_file *out, size_t max, XXH64_state_t *st)
{
    char cedict_home[512], ukr_home[512];
    user_data_file("cedict_ts.u8", cedict_home, sizeof cedict_home);
    user_data_file("ukr-rus.tsv", ukr_home, sizeof ukr_home);
    struct {
        const char *lang, *name, *fallback, *fallback2;
        enum dict_kind kind;
    } const wanted[] = {
        {"ja", "edict", "/usr/share/edict/edict", NULL, DICT_EDICT},
        {"zh", "cedict_ts.u8", "/usr/local/share/newsfold/cedict_ts.u8", cedict_home, DICT_CEDICT},
        {"uk", "ukr-rus.tsv", "/usr/local/share/newsfold/ukr-rus.tsv", ukr_home, DICT_UKR_RUS},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof wanted / sizeof *wanted && n < max; i++) {
        char path[512];
        const char *candidates[3] = {path, dir ? NULL : wanted[i].fallback, dir ? NULL : wanted[i].fallback2};
        snprintf(path, sizeof path, "%s/%s", dir ? dir : "/usr/share/dictd", wanted[i].name);
        for (int c = 0; c < 3; c++) {
            if (!candidates[c] || !*candidates[c] || !sign_file(st, candidates[c]))
                continue;
            dict_file *f = &out[n++];
            memset(f, 0, sizeof *f);
            snprintf(f->lang, sizeof f->lang, "%s", wanted[i].lang);
            snprintf(f->index, sizeof f->index, "%s", candidates[c]);
            snprintf(f->via, sizeof f->via, "%s", wanted[i].kind == DICT_UKR_RUS ? "ru" : "");
            f->kind = wanted[i].kind;
            break;
        }
    }
    return n;
}

/* Mueller's English-Russian dictionary (mueller7-dict), read as Russian. */
static size_t find_mueller(const char *dir, dict_file *out, size_t max, XXH64_state_t *st)
{
    if (max == 0)
        return 0;
    memset(out, 0, sizeof *out);
    snprintf(out->lang, sizeof out->lang, "ru");
    snprintf(out->index, sizeof out->index, "%s/mueller7.index", dir);
    snprintf(out->dict, sizeof out->dict, "%s/mueller7.dict.dz", dir);
    out->kind = DICT_MUELLER;
    return sign_file(st, out->index) && sign_file(st, out->dict) ? 1 : 0;
}

static size_t find_dicts(const char *given, dict_file *out, size_t max, uint64_t *signature)
{
    const char *dir = given ? given : "/usr/share/dictd";
    DIR *d = opendir(dir);
    XXH64_state_t *st = XXH64_createState();
    XXH64_reset(st, 2);
    XXH64_update(st, CACHE_MAGIC, 8); /* a new format gets a new file: older builds keep theirs */
    uint32_t tokenizer = NFI_TOKENIZER_VERSION; /* keys are tokens: another tokenizer, another file */
    XXH64_update(st, &tokenizer, sizeof tokenizer);
    size_t n = 0;
    struct dirent *e;
    char names[256][64];
    size_t n_names = 0;
    while (d && (e = readdir(d)) && n_names < 256)
        if (strncmp(e->d_name, "freedict-", 9) == 0 && strlen(e->d_name) < 64 &&
            strstr(e->d_name, ".index") && strlen(e->d_name) == 9 + 7 + 6)
            memcpy(names[n_names++], e->d_name, strlen(e->d_name) + 1); /* length checked above */
    if (d)
        closedir(d);
    qsort(names, n_names, sizeof *names, (int (*)(const void *, const void *))strcmp);
    for (size_t i = 0; i < n_names && n < max; i++) {
        char a[4] = {0}, b[4] = {0};
        memcpy(a, names[i] + 9, 3);
        memcpy(b, names[i] + 13, 3);
        bool inverted = strcmp(a, "eng") == 0;
        bool via = strcmp(b, "rus") == 0 && (strcmp(a, "deu") == 0 || strcmp(a, "fra") == 0);
        const char *lang = iso1_of(inverted || via ? b : a);
        if (!lang || (!inverted && !via && strcmp(b, "eng") != 0))
            continue;
        dict_file *f = &out[n];
        snprintf(f->lang, sizeof f->lang, "%s", lang);
        const char *via_lang = via ? iso1_of(a) : NULL;
        snprintf(f->via, sizeof f->via, "%s", via_lang ? via_lang : "");
        snprintf(f->index, sizeof f->index, "%s/%s", dir, names[i]);
        snprintf(f->dict, sizeof f->dict, "%s/%.16s.dict.dz", dir, names[i]);
        f->kind = via ? DICT_VIA : inverted ? DICT_INVERTED : DICT_FREEDICT;
        struct stat sa, sb;
        if (stat(f->index, &sa) != 0 || stat(f->dict, &sb) != 0)
            continue;
        XXH64_update(st, names[i], strlen(names[i]));
        uint64_t meta[4] = {(uint64_t)sa.st_size, (uint64_t)sa.st_mtime, (uint64_t)sb.st_size, (uint64_t)sb.st_mtime};
        XXH64_update(st, meta, sizeof meta);
        n++;
    }
    n += find_mueller(dir, out + n, max - n, st);
    n += find_text_dicts(given, out + n, max - n, st);
    *signature = XXH64_digest(st);
    XXH64_freeState(st);
    return n;
}

/* Sorted unique pairs -> keys / offsets / values in one buffer. */
static nf_status build_table(builder *b, nfi_buf *out, size_t *n_keys_out, nf_error *err)
{
    nfi_kv_sort_by_key_stable(b->pairs, b->n); /* senses stay in dictionary order */
    size_t n_keys = 0, n_values = 0;
    for (size_t i = 0; i < b->n; i++)
        if (i == 0 || b->pairs[i].key != b->pairs[i - 1].key)
            n_keys++;
    uint64_t *keys = calloc(n_keys + 1, 8);
    uint32_t *offs = calloc(n_keys + 1, 4);
    uint64_t *vals = calloc(b->n + 1, 8);
    if (!keys || !offs || !vals) {
        free(keys), free(offs), free(vals);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory compiling dictionaries");
    }
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (i == 0 || b->pairs[i].key != b->pairs[i - 1].key) {
            keys[k] = b->pairs[i].key;
            offs[k++] = (uint32_t)n_values;
        }
        size_t first = offs[k - 1];
        bool seen = n_values - first >= MAX_VALUES;
        for (size_t j = first; j < n_values && !seen; j++)
            seen = vals[j] == b->pairs[i].val;
        if (!seen)
            vals[n_values++] = b->pairs[i].val;
    }
    offs[n_keys] = (uint32_t)n_values;
    nfi_buf_append(out, keys, n_keys * 8);
    nfi_buf_append(out, offs, (n_keys + 1) * 4);
    if (out->len % 8)
        nfi_buf_append(out, "\0\0\0\0", 8 - out->len % 8);
    nfi_buf_append(out, vals, n_values * 8);
    free(keys), free(offs), free(vals);
    *n_keys_out = n_keys;
    return out->oom ? nfi_fail(err, NF_ERR_NOMEM, "out of memory compiling dictionaries") : NF_OK;
}

typedef struct cache_header {
    char magic[8];
    uint64_t signature;
    uint64_t n_keys;
    uint64_t n_phrases; /* phrase keys after the values, sorted unique */
    uint64_t bloom_words; /* the keys' Bloom filter after them (bloom_bits) */
    uint32_t n_langs;
    char langs[MAX_LANGS][4];
} cache_header;

/* When a dictionary is compiled: through a third language after the
 * dictionaries it reads (0), Mueller's inverted one last (2). A key keeps
 * its first MAX_VALUES values, so the order is a priority: Mueller's many
 * headwords per Russian word (закон translates act, bill, canon, law ...)
 * must not crowd out the entries of the smaller, more direct dictionaries.
 * Ukrainian through Russian (3) reads every Russian entry, Mueller's too. */
#define N_PHASES 4
static size_t compile_phase(enum dict_kind kind)
{
    return kind == DICT_UKR_RUS ? 3 : kind == DICT_MUELLER ? 2 : kind == DICT_VIA ? 1 : 0;
}

/* Sorts the phrase keys in place, drops repeats; returns how many. */
static size_t unique_phrases(nfi_buf *phrases)
{
    uint64_t *v = (uint64_t *)phrases->data;
    size_t n = phrases->len / 8, k = 0;
    if (n)
        qsort(v, n, 8, nfi_cmp_u64);
    for (size_t i = 0; i < n; i++)
        if (!k || v[k - 1] != v[i])
            v[k++] = v[i];
    phrases->len = k * 8;
    return k;
}

/* The phrase keys, sorted unique, at the end of the table (8-aligned:
 * the values before them are). */
static size_t append_phrases(nfi_buf *phrases, nfi_buf *table)
{
    size_t n = unique_phrases(phrases);
    if (n)
        nfi_buf_append(table, phrases->data, n * 8);
    return n;
}

static void bloom_probes(uint64_t key, uint64_t mask, uint64_t *p1, uint64_t *p2)
{
    *p1 = key & mask;
    *p2 = (key >> 32 ^ key * 0x9E3779B97F4A7C15ULL) & mask;
}

/* Bits of the keys' Bloom filter: about 8 per key, a power of two. */
static uint64_t bloom_bits(size_t n_keys)
{
    uint64_t bits = 1 << 16;
    while (bits < n_keys * 8)
        bits *= 2;
    return bits;
}

/* The Bloom filter of the n_keys keys at table->data + keys_at, appended
 * to the table (compiled once, mapped by every run); returns its words. */
static size_t append_bloom(nfi_buf *table, size_t keys_at, size_t n_keys)
{
    uint64_t bits = bloom_bits(n_keys), *bloom = calloc(bits / 64, 8);
    if (!bloom) {
        table->oom = true;
        return 0;
    }
    for (size_t i = 0; i < n_keys; i++) {
        uint64_t key, a, b;
        memcpy(&key, table->data + keys_at + i * 8, 8);
        bloom_probes(key, bits - 1, &a, &b);
        bloom[a / 64] |= 1ULL << (a % 64);
        bloom[b / 64] |= 1ULL << (b % 64);
    }
    nfi_buf_append(table, bloom, bits / 8);
    free(bloom);
    return bits / 64;
}

static nf_status compile_cache(const dict_file *dicts, size_t n_dicts, uint64_t signature, const char *path,
                               nf_error *err)
{
    builder b;
    memset(&b, 0, sizeof b);
    nf_status st = nfi_normalizer_new(&b.nz, err);
    if (st != NF_OK)
        return st;
    cache_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.signature = signature;
    nfi_kv *snapshot = NULL; /* the pairs of the earlier phases, sorted, for lookups through them */
    size_t n_snapshot = 0, snapshot_phase = SIZE_MAX;
    for (size_t step = 0; step < N_PHASES * n_dicts && !b.oom; step++) {
        size_t i = step % n_dicts, phase = step / n_dicts;
        if (compile_phase(dicts[i].kind) != phase)
            continue;
        bool through = dicts[i].kind == DICT_VIA || dicts[i].kind == DICT_UKR_RUS;
        if (through && snapshot_phase != phase) {
            free(snapshot);
            n_snapshot = 0;
            if ((snapshot = malloc((b.n ? b.n : 1) * sizeof *snapshot))) {
                memcpy(snapshot, b.pairs, b.n * sizeof *snapshot);
                n_snapshot = b.n;
                nfi_kv_sort_by_key_stable(snapshot, n_snapshot);
            }
            snapshot_phase = phase;
        }
        via_table via = {snapshot, n_snapshot, dicts[i].via};
        if (dicts[i].kind == DICT_EDICT)
            compile_edict(&b, dicts[i].index);
        else if (dicts[i].kind == DICT_CEDICT)
            compile_cedict(&b, dicts[i].index);
        else if (dicts[i].kind == DICT_MUELLER)
            compile_mueller(&b, dicts[i].index, dicts[i].dict);
        else if (dicts[i].kind == DICT_UKR_RUS)
            compile_ukr_rus(&b, dicts[i].index, snapshot ? &via : NULL);
        else if (dicts[i].kind != DICT_VIA || snapshot)
            compile_dict(&b, dicts[i].index, dicts[i].dict, dicts[i].lang, dicts[i].kind == DICT_INVERTED,
                         dicts[i].kind == DICT_VIA ? &via : NULL);
        bool known = false;
        for (uint32_t k = 0; k < h.n_langs; k++)
            known |= strcmp(h.langs[k], dicts[i].lang) == 0;
        if (!known && h.n_langs < MAX_LANGS)
            memcpy(h.langs[h.n_langs++], dicts[i].lang, 4);
    }
    nfi_buf table;
    nfi_buf_init(&table);
    nfi_buf_append(&table, &h, sizeof h);
    size_t n_keys = 0;
    st = b.oom || b.phrases.oom ? nfi_fail(err, NF_ERR_NOMEM, "out of memory compiling dictionaries")
                                : build_table(&b, &table, &n_keys, err);
    size_t n_phrases = st == NF_OK ? append_phrases(&b.phrases, &table) : 0;
    size_t bloom_words = st == NF_OK ? append_bloom(&table, sizeof h, n_keys) : 0;
    if (st == NF_OK && table.oom)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory compiling dictionaries");
    if (st == NF_OK) {
        ((cache_header *)table.data)->n_keys = n_keys;
        ((cache_header *)table.data)->n_phrases = n_phrases;
        ((cache_header *)table.data)->bloom_words = bloom_words;
        char tmp[4300];
        snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
        FILE *f = fopen(tmp, "wb");
        if (!f || fwrite(table.data, 1, table.len, f) != table.len || fclose(f) != 0 || rename(tmp, path) != 0) {
            unlink(tmp);
            st = nfi_fail(err, NF_ERR_IO, "%s: cannot write the dictionary cache: %s", path, strerror(errno));
        }
    }
    nfi_buf_free(&table);
    nfi_buf_free(&b.phrases);
    free(snapshot);
    free(b.pairs);
    free(b.toks.items);
    nfi_buf_free(&b.pool);
    nfi_normalizer_free(b.nz);
    return st;
}

static nf_status map_cache(nfi_lexicon *lex, const char *path, uint64_t signature, bool *stale, nf_error *err)
{
    *stale = true;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NF_OK;
    struct stat sb;
    void *map = MAP_FAILED;
    if (fstat(fd, &sb) == 0 && (size_t)sb.st_size >= sizeof(cache_header))
        map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return NF_OK;
    const cache_header *h = map;
    size_t len = (size_t)sb.st_size;
    size_t need = sizeof *h + h->n_keys * 12 + 4;
    if (memcmp(h->magic, CACHE_MAGIC, 8) != 0 || h->signature != signature || need > len || h->n_langs > MAX_LANGS) {
        munmap(map, len);
        return NF_OK;
    }
    const char *p = (const char *)map + sizeof *h;
    lex->keys = (const uint64_t *)p;
    lex->offsets = (const uint32_t *)(p + h->n_keys * 8);
    size_t vals_at = sizeof *h + h->n_keys * 8 + (h->n_keys + 1) * 4;
    vals_at += (8 - vals_at % 8) % 8;
    lex->values = (const uint64_t *)((const char *)map + vals_at);
    lex->n_keys = h->n_keys;
    size_t phrases_at = vals_at + (size_t)lex->offsets[h->n_keys] * 8;
    if (phrases_at > len || h->n_phrases > (len - phrases_at) / 8) {
        munmap(map, len);
        return nfi_fail(err, NF_ERR_PARSE, "%s: truncated dictionary cache", path);
    }
    lex->phrases = (const uint64_t *)((const char *)map + phrases_at);
    lex->n_phrases = h->n_phrases;
    size_t bloom_at = phrases_at + h->n_phrases * 8;
    if (h->bloom_words * 64 != bloom_bits(h->n_keys) || h->bloom_words > (len - bloom_at) / 8) {
        munmap(map, len);
        return nfi_fail(err, NF_ERR_PARSE, "%s: truncated dictionary cache", path);
    }
    lex->bloom = (const uint64_t *)((const char *)map + bloom_at);
    lex->bloom_mask = h->bloom_words * 64 - 1;
    lex->map = map;
    lex->map_len = len;
    for (uint32_t i = 0; i < h->n_langs; i++)
        memcpy(lex->langs[lex->n_langs++], h->langs[i], 4);
    *stale = false;
    return NF_OK;
}

/* The user's lexicon: "lang TAB word TAB english" per line, '#' comments. */
static nf_status load_user(nfi_lexicon *lex, const char *path, nf_error *err)
{
    size_t len;
    char *text = nfi_read_file(path, &len);
    if (!text)
        return nfi_fail(err, NF_ERR_IO, "%s: cannot read lexicon: %s", path, strerror(errno));
    builder b;
    memset(&b, 0, sizeof b);
    nf_status st = nfi_normalizer_new(&b.nz, err);
    size_t line_no = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line && st == NF_OK; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        if (*line == '#' || !*line)
            continue;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2) {
            st = nfi_fail(err, NF_ERR_PARSE, "%s:%zu: expected lang TAB word TAB english", path, line_no);
            break;
        }
        *t1 = *t2 = '\0';
        uint64_t terms[MAX_PHRASE_WORDS];
        size_t k = english_terms(&b, t2 + 1, strlen(t2 + 1), terms, MAX_PHRASE_WORDS);
        add_word(&b, line, t1 + 1, strlen(t1 + 1), terms, k);
        if (lex->n_langs < MAX_LANGS && !nfi_lexicon_has(lex, line) && strlen(line) < 4)
            memcpy(lex->langs[lex->n_langs++], line, strlen(line) + 1);
    }
    if (st == NF_OK && (b.oom || b.phrases.oom))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nfi_kv_sort(b.pairs, b.n);
    lex->user_keys = malloc((b.n ? b.n : 1) * 8);
    lex->user_values = malloc((b.n ? b.n : 1) * 8);
    if (st == NF_OK && (!lex->user_keys || !lex->user_values))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == NF_OK && i < b.n; i++) {
        lex->user_keys[i] = b.pairs[i].key;
        lex->user_values[i] = b.pairs[i].val;
    }
    lex->n_user = st == NF_OK ? b.n : 0;
    lex->n_user_phrases = st == NF_OK ? unique_phrases(&b.phrases) : 0;
    lex->user_phrases = (uint64_t *)nfi_buf_take(&b.phrases, NULL);
    if (st == NF_OK && !lex->user_phrases)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    free(b.pairs);
    free(b.toks.items);
    nfi_buf_free(&b.pool);
    nfi_normalizer_free(b.nz);
    free(text);
    return st;
}

static void default_cache_dir(char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(out, cap, "%s/newsfold", xdg);
    else if (home && *home)
        snprintf(out, cap, "%s/.cache/newsfold", home);
    else
        snprintf(out, cap, "/tmp/newsfold-cache");
}

static void add_phrases(nfi_lexicon *lex, const uint64_t *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        lex->phrase_filter[keys[i] & lex->phrase_mask] |= nfi_phrase_filter_bits(keys[i]);
}

/* The phrase filter over the cache's and the user's phrase keys. */
static nf_status build_phrase_filter(nfi_lexicon *lex, nf_error *err)
{
    size_t n = lex->n_phrases + lex->n_user_phrases, words = 64;
    while (words < n / 4)
        words *= 2;
    if (!n)
        return NF_OK; /* no filter: no phrase */
    lex->phrase_filter = calloc(words, 8);
    if (!lex->phrase_filter)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    lex->phrase_mask = words - 1;
    add_phrases(lex, lex->phrases, lex->n_phrases);
    add_phrases(lex, lex->user_phrases, lex->n_user_phrases);
    return NF_OK;
}

nfi_phrase_filter nfi_lexicon_phrase_filter(const nfi_lexicon *lex)
{
    static const uint64_t empty = 0; /* no bit set: every key answers false */
    return lex->phrase_filter ? (nfi_phrase_filter){lex->phrase_filter, lex->phrase_mask}
                              : (nfi_phrase_filter){&empty, 0};
}

nf_status nfi_lexicon_load(nfi_lexicon **out, const char *dict_dir, const char *cache_dir, const char *user_file,
                          nf_error *err)
{
    *out = NULL;
    struct stat sd; /* a folder the caller names must exist: silence would mean no dictionaries */
    if (dict_dir && stat(dict_dir, &sd) != 0)
        return nfi_fail(err, NF_ERR_ARG, "dictionary folder %s: %s", dict_dir, strerror(errno));
    if (dict_dir && !S_ISDIR(sd.st_mode))
        return nfi_fail(err, NF_ERR_ARG, "dictionary folder %s: not a folder", dict_dir);
    nfi_lexicon *lex = calloc(1, sizeof *lex);
    if (!lex)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    dict_file dicts[128];
    uint64_t signature;
    size_t n = find_dicts(dict_dir, dicts, 128, &signature);
    nf_status st = NF_OK;
    if (n > 0) {
        char dir[4096], path[4200];
        if (cache_dir)
            snprintf(dir, sizeof dir, "%s", cache_dir);
        else
            default_cache_dir(dir, sizeof dir);
        snprintf(path, sizeof path, "%s/dictionaries-%016llx.lex", dir, (unsigned long long)signature);
        bool stale;
        st = map_cache(lex, path, signature, &stale, err);
        if (st == NF_OK && stale) {
            st = nfi_make_dirs(dir, err);
            if (st == NF_OK)
                st = compile_cache(dicts, n, signature, path, err);
            if (st == NF_OK)
                st = map_cache(lex, path, signature, &stale, err);
        }
    }
    if (st == NF_OK && user_file)
        st = load_user(lex, user_file, err);
    if (st == NF_OK)
        st = build_phrase_filter(lex, err);
    if (st != NF_OK) {
        nfi_lexicon_free(lex);
        return st;
    }
    for (size_t i = 0; i < lex->n_langs; i++)
        lex->lang_ptrs[i] = lex->langs[i];
    lex->lang_ptrs[lex->n_langs] = NULL;
    *out = lex;
    return NF_OK;
}

void nfi_lexicon_free(nfi_lexicon *lex)
{
    if (!lex)
        return;
    if (lex->map)
        munmap(lex->map, lex->map_len);
    free(lex->user_keys);
    free(lex->user_values);
    free(lex->user_phrases);
    free(lex->phrase_filter);
    free(lex);
}

size_t nfi_hash_lower_bound(const uint64_t *v, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n; /* the answer lies in [lo, hi] */
    for (int step = 0; step < 3 && hi - lo > 64; step++) {
        uint64_t a = v[lo], b = v[hi - 1];
        if (key <= a)
            return lo;
        if (key > b)
            return hi;
        size_t guess = lo + (size_t)((double)(key - a) / (double)(b - a) * (double)(hi - 1 - lo));
        size_t margin = (hi - lo) / 256 + 16;
        size_t l2 = guess > lo + margin ? guess - margin : lo, h2 = guess + margin < hi ? guess + margin : hi;
        if (l2 > lo && v[l2 - 1] >= key) /* outside the window: keep the wider range */
            h2 = l2, l2 = lo;
        else if (h2 < hi && v[h2] < key)
            l2 = h2 + 1, h2 = hi;
        lo = l2, hi = h2;
    }
    return lo + nfi_lower_bound_u64(v + lo, hi - lo, key);
}

size_t nfi_lexicon_lookup(const nfi_lexicon *lex, uint64_t key, const uint64_t **terms)
{
    if (lex->n_user) { /* the user's entries win */
        size_t lo = nfi_lower_bound_u64(lex->user_keys, lex->n_user, key), n = 0;
        while (lo + n < lex->n_user && lex->user_keys[lo + n] == key)
            n++;
        if (n) {
            *terms = lex->user_values + lo;
            return n;
        }
    }
    if (!lex->n_keys)
        return 0;
    uint64_t p1, p2;
    bloom_probes(key, lex->bloom_mask, &p1, &p2);
    if (!(lex->bloom[p1 / 64] >> (p1 % 64) & 1) || !(lex->bloom[p2 / 64] >> (p2 % 64) & 1))
        return 0;
    size_t i = nfi_hash_lower_bound(lex->keys, lex->n_keys, key);
    if (i == lex->n_keys || lex->keys[i] != key)
        return 0;
    *terms = lex->values + lex->offsets[i];
    return lex->offsets[i + 1] - lex->offsets[i];
}

void nfi_lexicon_prefetch(const nfi_lexicon *lex, uint64_t key)
{
    if (!lex->n_keys)
        return;
    uint64_t p1, p2, a = lex->keys[0], z = lex->keys[lex->n_keys - 1];
    bloom_probes(key, lex->bloom_mask, &p1, &p2);
    __builtin_prefetch(&lex->bloom[p1 / 64]);
    __builtin_prefetch(&lex->bloom[p2 / 64]);
    if (key > a && key <= z) /* nfi_hash_lower_bound's first guess */
        __builtin_prefetch(&lex->keys[(size_t)((double)(key - a) / (double)(z - a) * (double)(lex->n_keys - 1))]);
}

uint64_t nfi_lexicon_prefix_key(uint64_t lang_seed, const char *s, size_t len, char *buf, size_t cap)
{
    if (len + 1 > cap)
        return 0;
    memcpy(buf, s, len);
    buf[len] = ' ';
    return nfi_lexicon_key_seeded(lang_seed, buf, len + 1);
}

uint64_t nfi_lexicon_suffix_key(uint64_t lang_seed, const char *s, size_t len, char *buf, size_t cap)
{
    if (len + 1 > cap)
        return 0;
    buf[0] = ' ';
    memcpy(buf + 1, s, len);
    return nfi_lexicon_key_seeded(lang_seed, buf, len + 1);
}

const char *const *nfi_lexicon_languages(const nfi_lexicon *lex) { return lex->lang_ptrs; }

bool nfi_lexicon_has(const nfi_lexicon *lex, const char *lang)
{
    for (size_t i = 0; i < lex->n_langs; i++)
        if (strcmp(lex->langs[i], lang) == 0)
            return true;
    return false;
}

size_t nfi_lexicon_size(const nfi_lexicon *lex) { return lex->n_keys + lex->n_user; }
