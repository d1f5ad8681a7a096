/*
 * pivot.c - what of a document survives translation.
 *
 * Four kinds of features, each hashed with its kind so kinds never collide:
 * - terms: English documents contribute the Snowball stems of their content
 *   words; other languages look each word up in the lexicon (three-word,
 *   then two-word multiword entries first, then the word, then its stem) and
 *   contribute the English stems it translates to (and the names its
 *   glosses carry). Chinese and Japanese runs are read by the longest
 *   dictionary word at each place (CC-CEDICT, EDICT), Ukrainian through the
 *   Russian dictionary. An unknown word of five letters or more is kept as
 *   itself: loanwords and English phrases quoted inside foreign text
 *   ("Nuclear Advisory Group") then still match.
 * - names: capitalized words not opening a sentence, and words of scripts
 *   without case, when the dictionary does not know them (German capitalizes
 *   every noun, so "known word" is what separates a noun from a name).
 *   Non-ASCII names are transliterated with ICU (Any-Latin; Latin-ASCII),
 *   then reduced to a skeleton that forgives transcription habits: w->v,
 *   j->y->i, ph->f, c/q->k, z->s, doubled letters single, final s dropped.
 *   So "Wladimir Putins" and "Vladimir Putin", "Pjöngjang" and "Pyongyang",
 *   "Путин" and "Putin" agree. A second, consonant key forgives what other
 *   scripts lose or add (vowels in Hebrew and Arabic, epenthetic vowels in
 *   katakana: プーチン, פוטין and Putin agree).
 * - numbers: digits of any script with separators removed ("2,300" =
 *   "2.300" = "２３００"), two digits or more (single digits are too common
 *   to mean anything); CJK numerals and scales (三百, 1500万) by value.
 * - dates: month and day of every date written out, in any language the
 *   date lexer knows.
 * Pivots of a whole run wait in memory for the links stage, so they are
 * compact: a feature is its hash (the kind in its low bits) and count, 12
 * bytes; the feature sequence in text order (as feature indices, 2 bytes
 * an element where the document has at most 65,536 features, else 4),
 * with paragraph ends, is kept for alignment; of the words behind each feature
 * only its first occurrence's place, and only when the pivoter is asked to
 * (explanations). A pivoter (one per thread) owns an ICU transliterator,
 * opened only when a name holds letters other than ASCII and the accented
 * Latin ones (nfi_latin_ascii, text.h, reads those as it would).
 *
 * Dictionary work per token is bounded: each document's words are read up
 * front (read_words: keys, then the per-thread word cache, then the phrase
 * filter of links.h), so the cache misses of different tokens overlap: the
 * slots are fetched while the keys are made, the dictionary entries of
 * the words the cache lacks (terms and phrase markers, by form and stem)
 * are all fetched before the first is read (only those words are
 * filled, after the others' flags are read), and a token keeps only its
 * keys, its record's slot and its flags (32 bytes), finding the record
 * again (fetched a few tokens ahead) when its features are emitted. A
 * phrase is joined and looked up only when its first word begins a
 * phrase, its last ends one and the filter knows that first and last word
 * at that length (one inline pass over the words that begin one asks the
 * filter, fetching its words, and a second reads them). Caches and
 * filters only answer what the lexicon would: the features do not depend
 * on them (a record another word took is made again, the same).
 * Names are memoized the same way: a name's transliteration, a name
 * word's keys and a name run's key are pure functions of its bytes
 * (per-thread memos holding the bytes themselves).
 * A word's record (one 64-byte cache line) holds the features the word
 * alone gives, as final hashes, and whether one is a term, so a word met
 * before reads no dictionary values and its features are appended in one
 * copy; a word with more features than the line holds keeps them in the
 * pivoter's raw arena (made once from the dictionary's values, tagged
 * with the arena's generation); a stem that is the form itself is keyed
 * and looked up once. The word cache is mapped anonymously: its pages come
 * zeroed from the kernel as slots are first written, not by a memset.
 * The builder's working buffers belong to the pivoter and are emptied, not
 * freed, between documents.
 * The features come from a table of the emitted hashes (each distinct one
 * numbered and counted) whose slots follow the hashes' order, so walking
 * it and mending runs of full slots sorts them; the sequence is renumbered
 * by that order; term_share is counted as the features are emitted.
 */
#define XXH_INLINE_ALL /* the same hashes, inlined: a call per word cost more than the hash */
#include <xxhash.h>

#include "links/links.h"
#include "text/text.h"

#include <libstemmer.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unicode/uchar.h>
#include <unicode/utrans.h>
#include <unicode/ustring.h>

#define MIN_LOANWORD_BYTES 5
#define TERMS_PER_WORD 3      /* the first senses: later ones are mostly noise */
#define MIN_COMPOUND_PART 4   /* bytes of each part when splitting compounds */
#define MAX_DATES 256
#define LOOKUP_CACHE_SLOTS (1u << 15) /* ~800 KB: phrases, CJK, Ukrainian */
#define WORD_CACHE_SLOTS (1u << 18)   /* ~14 MB: the words of a language met recently (2^16: 2.5 times the misses, each up to six dictionary searches) */
#define NAME_CACHE_SLOTS (1u << 12)   /* ~540 KB: names transliterated recently */
#define NAME_CACHE_BYTES 64           /* longer names (or their ASCII) are not kept */
#define RAW_ARENA_VALUES (1u << 16)   /* 512 KB: the features of words with more than WORD_EMIT_MAX */

/* A memo of dictionary lookups, direct-mapped by key: a word is looked up
 * in the large mapped table (a Bloom probe and a search, cache misses
 * both) once, then answered from here while it stays frequent. The
 * lexicon never changes, so a memo hit is the lookup's own answer. */
typedef struct lookup_slot {
    uint64_t key; /* 0: empty (a key of 0 is looked up uncached) */
    const uint64_t *terms;
    size_t n;
} lookup_slot;

/* What the dictionary says about one word (its normalized form and stem,
 * in one language), resolved once per distinct word while it stays in the
 * direct-mapped cache rather than by several lookups per occurrence:
 * whether it begins or ends a phrase (by form, by stem) and the features
 * the word alone gives (what emit_values makes of the terms of its form,
 * else of its stem; or, once asked, of its split as a compound), kept as
 * the final hashes, so a word met before costs its slot, one cache line,
 * and no read of the dictionary's values. */
enum {
    WORD_HEAD2 = 1, WORD_HEAD3 = 2, WORD_TAIL = 4,   /* by the normalized form; << 3: by the stem */
    WORD_SPLIT_KNOWN = 64, WORD_SPLIT = 128,
    WORD_ODD_NORM = 256, WORD_ODD_STEM = 512, /* empty, or holding a space: no phrase filter */
    WORD_FOUND = 1024,    /* the form or the stem has terms */
    WORD_EMIT_RAW = 2048, /* more features than fit: values/n_emit are the dictionary's values, emit[0,2)
                             where the pivoter's raw arena holds the features (raw_features) */
    WORD_EMIT_TERM = 4096, /* emit holds a term (else only names, or nothing) */
};
enum { WORD_EMIT_MAX = 5 };
typedef struct word_slot {
    uint64_t key;         /* of language, form and stem; 0: empty */
    uint32_t flags;
    uint32_t n_emit;
    uint64_t emit[WORD_EMIT_MAX]; /* the features, kind in the low bits (flag WORD_EMIT_RAW: see there) */
    const uint64_t *values;       /* flag WORD_EMIT_RAW: the values emit_values reads */
} word_slot; /* 64 bytes: one cache line (the array is aligned to 64) */

/* A memo of transliterations (ascii_name), direct-mapped by the hash of
 * the name's bytes: a name recurs through a text and a corpus, and ICU's
 * rule-based transliterator costs microseconds a call. Holds the name
 * itself, so a hit is the transliterator's own answer. */
typedef struct name_slot {
    uint64_t hash;
    uint8_t len, ascii_len; /* len 0: empty */
    char name[NAME_CACHE_BYTES], ascii[NAME_CACHE_BYTES];
} name_slot;

/* A memo of the name features of single words (emit_name): a name's
 * keys are a pure function of its bytes. */
typedef struct name_keys_slot {
    uint64_t hash;
    uint8_t len, n_keys; /* len 0: empty */
    char name[NAME_CACHE_BYTES];
    uint64_t keys[NFI_NAME_KEYS];
} name_keys_slot;

/* A memo of the keys of whole name runs (record_name): the skeleton of
 * a run's ASCII form is a pure function of its bytes, and a name recurs
 * through a text (its ASCII form and skeleton cost about 450
 * instructions; a hit, the run's hash and a comparison). */
typedef struct run_key_slot {
    uint64_t hash;
    uint8_t len, key_len; /* len 0: empty */
    char name[NAME_CACHE_BYTES], key[NAME_CACHE_BYTES];
} run_key_slot;

struct nfi_pivoter {
    const nfi_lexicon *lex;
    bool keep_surface;
    lookup_slot *memo; /* LOOKUP_CACHE_SLOTS */
    word_slot *words;  /* WORD_CACHE_SLOTS: mapped (anonymous, so zero), see words_new */
    /* The features of the words whose record holds too many
     * (WORD_EMIT_RAW), as emit_values makes them from the dictionary's
     * values (a common word's entry: a score of values, of which the first
     * terms and the names are kept), made once while they stay here: filled
     * in order, emptied when full; a generation (never 0) tells a record's
     * features from those of an earlier filling. */
    uint64_t *raw;
    size_t raw_len;
    uint32_t raw_gen;
    name_slot *names;  /* NAME_CACHE_SLOTS */
    name_keys_slot *name_keys; /* NAME_CACHE_SLOTS */
    run_key_slot *run_keys;    /* NAME_CACHE_SLOTS */
    nfi_normalizer *nz; /* made when a title is to be tokenized (nfi_pivot_text) */
    /* ICU's transliterator, opened when a name first needs it: names of
     * ASCII and accented Latin letters are read through the latin table,
     * and opening it costs ~150 M instructions a process (its registry) */
    UTransliterator *translit;
    bool translit_failed;
    nfi_latin_ascii latin;
    struct sb_stemmer *russian; /* Ukrainian words read through the Russian dictionary */
    struct token_word *token_words; /* the builder's per-token records, kept between documents */
    size_t token_words_cap;
    struct phrase_query *queries; /* read_words' phrase filter questions, kept between documents */
    size_t queries_cap;
    uint32_t *lists; /* read_words' lists of tokens (2 per token), kept between documents */
    size_t lists_cap;
    /* the builder's working buffers, emptied rather than freed between
     * documents (each would otherwise grow by doubling, copies and all,
     * in every document): the emitted hashes, their words, scratch, a
     * CJK run; the paragraph ends, names and keys, copied out at their
     * size; and index_sequence's scratch */
    nfi_buf seq, at, scratch, run, run_ends, para, name_text, key_text;
    void *index_scratch;
    size_t index_scratch_cap;
    /* index_sequence's table: its slots' hashes (0: empty) and a bit per
     * full slot, kept empty between documents (the passes that read a full
     * slot empty it), so a document clears none of its room up front */
    uint64_t *index_hashes;
    uint64_t *index_full;
    size_t index_room;
};

/* The word cache, empty: an anonymous mapping, whose pages the kernel
 * gives zeroed when first touched, where the heap's (calloc, or
 * aligned_alloc and memset) had all 16 MB written with zeros up front
 * (16.8 M instructions a pivoter); page-aligned, so its records lie one
 * to a cache line. NULL when out of memory. */
static word_slot *words_new(void)
{
    void *m = mmap(NULL, WORD_CACHE_SLOTS * sizeof(word_slot), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (m == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    madvise(m, WORD_CACHE_SLOTS * sizeof(word_slot), MADV_HUGEPAGE); /* as the command's heap: 8 faults, not 4,096 */
#endif
    return m;
}

static void words_free(word_slot *w)
{
    if (w)
        munmap(w, WORD_CACHE_SLOTS * sizeof *w);
}

nf_status nfi_pivoter_new(nfi_pivoter **out, const nfi_lexicon *lex, bool keep_surface, nf_error *err)
{
    *out = NULL;
    nfi_pivoter *p = calloc(1, sizeof *p);
    if (!p)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    p->lex = lex;
    p->keep_surface = keep_surface;
    p->memo = calloc(LOOKUP_CACHE_SLOTS, sizeof *p->memo);
    p->words = words_new();
    p->names = calloc(NAME_CACHE_SLOTS, sizeof *p->names);
    p->name_keys = calloc(NAME_CACHE_SLOTS, sizeof *p->name_keys);
    p->run_keys = calloc(NAME_CACHE_SLOTS, sizeof *p->run_keys);
    p->raw = malloc(RAW_ARENA_VALUES * sizeof *p->raw);
    p->raw_gen = 1;
    if (!p->memo || !p->words || !p->names || !p->name_keys || !p->raw || !p->run_keys) {
        free(p->memo), words_free(p->words), free(p->names), free(p->name_keys), free(p->raw), free(p->run_keys);
        free(p);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    if (!nfi_latin_ascii_init(&p->latin)) {
        free(p->memo), words_free(p->words), free(p->names), free(p->name_keys), free(p->raw), free(p->run_keys);
        free(p);
        return nfi_fail(err, NF_ERR_RESOURCE, "ICU normalization data unavailable");
    }
    p->russian = sb_stemmer_new("russian", "UTF_8"); /* NULL: Ukrainian goes without */
    *out = p;
    return NF_OK;
}

void nfi_pivoter_free(nfi_pivoter *p)
{
    if (!p)
        return;
    if (p->translit)
        utrans_close(p->translit);
    if (p->russian)
        sb_stemmer_delete(p->russian);
    free(p->memo);
    words_free(p->words);
    free(p->raw);
    free(p->names);
    free(p->name_keys);
    free(p->run_keys);
    free(p->token_words);
    free(p->queries);
    free(p->lists);
    nfi_buf_free(&p->seq), nfi_buf_free(&p->at), nfi_buf_free(&p->scratch);
    nfi_buf_free(&p->run), nfi_buf_free(&p->run_ends);
    nfi_buf_free(&p->para), nfi_buf_free(&p->name_text), nfi_buf_free(&p->key_text);
    free(p->index_scratch);
    free(p->index_hashes);
    free(p->index_full);
    nfi_normalizer_free(p->nz);
    free(p);
}

void nfi_pivot_free(nf_pivot *p)
{
    if (!p)
        return;
    free(p->features);
    free(p->names);
    free(p->name_keys);
    free(p->paragraph_ends);
    free(p->sequence);
    free(p->surface);
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

/* Consonants of a transliterated name, in the few classes that survive a
 * trip through Kana, Hangul, Cyrillic, Hebrew or Arabic and back: vowels
 * vanish (abjads write none, kana add them), and with them the letters that
 * are vowels in one script and consonants in another (w, v: Hebrew and
 * Arabic vav; j, y: Pjöngjang, Pyongyang) and h; l=r, p=b, c=k=q, z=s,
 * ch=t (Putin, Puchin); runs collapse. */
static size_t consonant_key(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 2 < cap; i++) {
        char c = (char)nfi_lower_ascii((unsigned char)s[i]);
        char next = i + 1 < n ? (char)nfi_lower_ascii((unsigned char)s[i + 1]) : 0;
        if (next == 'h' && (c == 'c' || c == 's' || c == 'k' || c == 'z' || c == 'p' || c == 't' || c == 'g')) {
            c = c == 'c' ? 't' : c == 'p' ? 'f' : c;
            i++;
        } else if (c == 't' && next == 's') {
            i++;
        }
        switch (c) {
        case 'a': case 'e': case 'i': case 'o': case 'u': case 'y': case 'j': case 'h': case 'w': case 'v': continue;
        case 'l': c = 'r'; break;
        case 'p': c = 'b'; break;
        case 'c': case 'q': c = 'k'; break;
        case 'z': c = 's'; break;
        default: break;
        }
        if (c < 'a' || c > 'z' || (k > 0 && out[k - 1] == c))
            continue;
        out[k++] = c;
    }
    out[k] = '\0';
    return k;
}

size_t nfi_name_keys(const char *ascii, size_t len, size_t min_consonants, uint64_t *out)
{
    char key[128];
    size_t n = 0, k = nfi_name_skeleton(ascii, len, key, sizeof key);
    if (k >= 2)
        out[n++] = (nfi_pivot_hash(NF_PIVOT_NAME, key, k) & ~3ULL) | NF_PIVOT_NAME;
    k = consonant_key(ascii, len, key, sizeof key);
    if (k >= min_consonants && k >= 2)
        out[n++] = (XXH3_64bits_withSeed(key, k, 0x636F6E73ULL) & ~3ULL) | NF_PIVOT_NAME;
    return n;
}

/* ------------------------------------------------------------ building */

/* A word token as the dictionary reads it (zero for other tokens): its
 * keys, which find its record again (another word may have taken the slot
 * meanwhile: the record is then made again, the same), and what the
 * phrase questions read of the record. */
typedef struct token_word {
    uint64_t key[2];          /* lexicon keys of its form and its stem */
    uint32_t flags;           /* its record's (word_slot.flags) */
    uint32_t phrases;         /* phrase_bit: the phrases that may start here */
    uint32_t slot;            /* its record's place in the word cache (word_slot_of) */
} token_word;

typedef struct builder {
    nfi_pivoter *p;
    const nf_clean_doc *doc;
    nfi_buf seq;      /* uint64 hashes in text order */
    nfi_buf at;       /* uint32 pairs: offset and length of the words behind each (keep_surface only) */
    uint32_t cur_start, cur_len; /* the words being emitted */
    nfi_buf para;     /* uint32 paragraph ends */
    nfi_buf names, keys;
    size_t n_names;
    nfi_buf scratch;
    nfi_buf run, run_ends; /* a CJK run's normalized text, each token's end in it */
    uint64_t lang_seed;    /* nfi_lexicon_lang_seed of the document's language */
    bool ukrainian;        /* read through the Russian dictionary (ukrainian_via_russian) */
    token_word *words;     /* per token, what the dictionary says (read_words), or NULL */
    struct phrase_query *queries; /* room for 4 per token (read_words) */
    uint32_t *lists;               /* room for 2 per token (read_words) */
    /* term_share's count, kept as features are emitted: the word whose
     * features are being emitted (its offset; the features of one word are
     * adjacent and share it) and whether it gave a term or a name, a term */
    uint32_t word_start;
    bool word_open, word_counted, word_term;
    size_t n_words, n_words_with_term;
    bool translit_failed; /* a name needed ICU's transliterator, which did not open */
} builder;

/* nfi_buf_append of 8 bytes, its common case (room enough) inline: the
 * pivot appends once or twice per feature, millions of times. */
static inline void append8(nfi_buf *buf, const void *p)
{
    if (buf->len + 9 > buf->cap) {
        nfi_buf_append(buf, p, 8);
        return;
    }
    memcpy(buf->data + buf->len, p, 8);
    buf->len += 8;
    buf->data[buf->len] = '\0';
}

/* Closes the word whose features term_share counts. */
static void close_word(builder *b)
{
    b->n_words += b->word_counted;
    b->n_words_with_term += b->word_term;
}

/* Features of the words at cur_start follow: a feature of the next word
 * closes the last one (term_share). */
static inline void open_word(builder *b)
{
    if (!b->word_open || b->cur_start != b->word_start) {
        close_word(b);
        b->word_open = true, b->word_start = b->cur_start;
        b->word_counted = b->word_term = false;
    }
}

static void emit_hash(builder *b, int kind, uint64_t h)
{
    h = (h & ~3ULL) | (uint64_t)kind; /* the kind rides in the low bits */
    append8(&b->seq, &h);
    if (b->p->keep_surface) { /* the words behind each feature: only for explanations */
        uint32_t at[2] = {b->cur_start, b->cur_len};
        append8(&b->at, at);
    }
    open_word(b);
    b->word_counted |= kind == NF_PIVOT_TERM || kind == NF_PIVOT_NAME;
    b->word_term |= kind == NF_PIVOT_TERM;
}

/* After n features (terms or names) of the current word went into the
 * sequence: their surfaces (keep_surface), the word opened and counted. */
static inline void word_emitted(builder *b, size_t n, bool term)
{
    for (size_t k = 0; k < n && b->p->keep_surface; k++) {
        uint32_t at[2] = {b->cur_start, b->cur_len};
        append8(&b->at, at);
    }
    open_word(b);
    b->word_counted = true;
    b->word_term |= term;
}

/* emit_hash of each of h[0,n) (final hashes of kind term or name, kind in
 * the low bits; h has room for WORD_EMIT_MAX), all of one word: one test
 * of the word and one copy of fixed size. */
static inline void emit_hashes(builder *b, const uint64_t h[WORD_EMIT_MAX], size_t n, bool term)
{
    if (!n)
        return;
    nfi_buf *seq = &b->seq;
    if (seq->len + 8 * WORD_EMIT_MAX + 1 > seq->cap) {
        nfi_buf_append(seq, h, 8 * n);
    } else {
        memcpy(seq->data + seq->len, h, 8 * WORD_EMIT_MAX);
        seq->len += 8 * n;
        seq->data[seq->len] = '\0';
    }
    word_emitted(b, n, term);
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

/* The pivoter's transliterator, opened on first use; NULL (and the
 * builder failed) when ICU cannot open it. */
static UTransliterator *translit(builder *b)
{
    UTransliterator *tr = nfi_latin_translit(&b->p->translit, &b->p->translit_failed);
    b->translit_failed |= b->p->translit_failed;
    return tr;
}

/* ASCII form of a name: transliterated when it has non-ASCII letters.
 * Those of accented Latin letters only take the latin table, which gives
 * what the transliterator gives, under the same limits (nothing for 200
 * characters or more, or more than 255 out). */
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
    char latin[400];
    size_t latin_len, chars;
    if (n < sizeof latin && nfi_latin_to_ascii(&b->p->latin, s, n, latin, &latin_len, &chars)) {
        if (chars < 200 && latin_len <= 255)
            nfi_buf_append(&b->scratch, latin, latin_len);
        return;
    }
    uint64_t h = XXH3_64bits(s, n);
    name_slot *slot = &b->p->names[(h ^ h >> 32) & (NAME_CACHE_SLOTS - 1)];
    if (slot->len == n && slot->hash == h && memcmp(slot->name, s, n) == 0) {
        nfi_buf_append(&b->scratch, slot->ascii, slot->ascii_len);
        return;
    }
    UChar buf[256];
    int32_t len = 0, limit;
    UErrorCode e = U_ZERO_ERROR;
    u_strFromUTF8(buf, 255, &len, s, (int32_t)n, &e);
    if (U_FAILURE(e) || len >= 200)
        return;
    limit = len;
    UTransliterator *tr = translit(b);
    if (!tr)
        return;
    utrans_transUChars(tr, buf, &len, 255, 0, &limit, &e);
    if (U_FAILURE(e))
        return;
    char out[768];
    int32_t out_len = 0;
    u_strToUTF8(out, sizeof out, &out_len, buf, len, &e);
    if (U_FAILURE(e))
        return;
    nfi_buf_append(&b->scratch, out, (size_t)out_len);
    if (n <= NAME_CACHE_BYTES && out_len <= NAME_CACHE_BYTES) {
        slot->hash = h, slot->len = (uint8_t)n, slot->ascii_len = (uint8_t)out_len;
        memcpy(slot->name, s, n);
        memcpy(slot->ascii, out, (size_t)out_len);
    }
}

/* Records a name for display (entities) with the key of its whole run
 * (through the pivoter's memo of run keys: only keys of 2 bytes or more,
 * which are recorded, are kept). */
static void record_name(builder *b, const char *display, size_t n)
{
    uint64_t h = XXH3_64bits(display, n);
    run_key_slot *slot = &b->p->run_keys[(h ^ h >> 32) & (NAME_CACHE_SLOTS - 1)];
    char key[128];
    size_t k;
    if (n && slot->len == n && slot->hash == h && memcmp(slot->name, display, n) == 0) {
        k = slot->key_len;
        memcpy(key, slot->key, k);
    } else {
        ascii_name(b, display, n);
        k = nfi_name_skeleton(b->scratch.data ? b->scratch.data : "", b->scratch.len, key, sizeof key);
        if (k < 2)
            return;
        if (n && n <= NAME_CACHE_BYTES && k <= NAME_CACHE_BYTES) {
            slot->hash = h, slot->len = (uint8_t)n, slot->key_len = (uint8_t)k;
            memcpy(slot->name, display, n);
            memcpy(slot->key, key, k);
        }
    }
    nfi_buf_append(&b->names, display, n);
    nfi_buf_putc(&b->names, '\0');
    nfi_buf_append(&b->keys, key, k);
    nfi_buf_putc(&b->keys, '\0');
    b->n_names++;
}

/* nfi_lexicon_lookup through the pivoter's memo. */
static size_t lookup(builder *b, uint64_t key, const uint64_t **terms)
{
    lookup_slot *slot = &b->p->memo[(key ^ key >> 29) & (LOOKUP_CACHE_SLOTS - 1)];
    if (slot->key == key && key) {
        *terms = slot->terms;
        return slot->n;
    }
    const uint64_t *t = NULL;
    size_t n = nfi_lexicon_lookup(b->p->lex, key, &t);
    *slot = (lookup_slot){key, t, n};
    *terms = t;
    return n;
}

/* Starts fetching what lookup will read for key (the memo's slot, the
 * dictionary's filter and first search step). */
static void prefetch_lookup(const builder *b, uint64_t key)
{
    __builtin_prefetch(&b->p->memo[(key ^ key >> 29) & (LOOKUP_CACHE_SLOTS - 1)]);
    nfi_lexicon_prefetch(b->p->lex, key);
}

/* A dictionary entry's values as features: its first terms, and every
 * name its glosses carry (the kind rides in the low bits), written to out
 * (room for n; a value not kept is overwritten by the next); returns how
 * many, *term whether one is a term. */
static size_t keep_values(const uint64_t *values, size_t n, uint64_t *out, bool *term)
{
    size_t kept = 0, terms = 0;
    for (size_t k = 0; k < n; k++) {
        uint64_t v = values[k];
        bool name = (v & 3) == NF_PIVOT_NAME;
        v = name ? v : (v & ~3ULL) | NF_PIVOT_TERM;
        memcpy(out + kept, &v, 8);
        kept += name || terms < TERMS_PER_WORD;
        terms += !name;
    }
    *term = terms > 0;
    return kept;
}

/* What emit_hash of each of a dictionary entry's values would do, in one
 * pass: the features written in place, then the word's count once. */
static void emit_values(builder *b, const uint64_t *values, size_t n)
{
    nfi_buf *seq = &b->seq;
    if (!n || !nfi_buf_reserve(seq, 8 * n + 1))
        return;
    bool term;
    size_t kept = keep_values(values, n, (uint64_t *)(void *)(seq->data + seq->len), &term);
    if (!kept)
        return;
    seq->len += 8 * kept;
    seq->data[seq->len] = '\0';
    word_emitted(b, kept, term);
}

/* Looks up tokens [i, i+span) joined; returns the number of terms. The
 * words are joined on the stack (most phrases are short; a longer one in
 * the builder's scratch buffer). */
static size_t lookup_span(builder *b, size_t i, size_t span, bool by_stem, const uint64_t **terms)
{
    enum { SHORT_SPAN = 96 };
    const nf_clean_doc *d = b->doc;
    if (i + span > d->n_tokens)
        return 0;
    size_t len = 0;
    for (size_t k = 0; k < span; k++) {
        const nf_token *t = &d->tokens[i + k];
        if (t->kind != NF_TOKEN_WORD)
            return 0;
        len += (k > 0) + (by_stem ? t->stem_len : t->norm_len);
    }
    char buf[SHORT_SPAN];
    char *joined = buf;
    if (len > sizeof buf) {
        b->scratch.len = 0;
        if (!nfi_buf_reserve(&b->scratch, len))
            return 0;
        joined = b->scratch.data;
    }
    for (size_t k = 0, at = 0; k < span; k++) {
        const nf_token *t = &d->tokens[i + k];
        size_t n = by_stem ? t->stem_len : t->norm_len;
        if (k)
            joined[at++] = ' ';
        memcpy(joined + at, d->pool + (by_stem ? t->stem : t->norm), n);
        at += n;
    }
    return lookup(b, nfi_lexicon_key_seeded(b->lang_seed, joined, len), terms);
}

/* A compound the dictionary lacks ("Sicherheitsrat") as two words it has
 * ("sicherheit" + "rat"), allowing a linking "s"; longest head first.
 * Sets out to the first value of each part; false when there is none. */
static bool split_compound(builder *b, const nf_token *t, uint64_t out[2])
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
        size_t nt = lookup(b, nfi_lexicon_key_seeded(b->lang_seed, w + cut, n - cut), &tail);
        if (!nt)
            continue;
        size_t hn = cut, nh = lookup(b, nfi_lexicon_key_seeded(b->lang_seed, w, hn), &head);
        if (!nh && w[cut - 1] == 's')
            nh = lookup(b, nfi_lexicon_key_seeded(b->lang_seed, w, hn - 1), &head);
        if (!nh)
            continue;
        out[0] = head[0], out[1] = tail[0];
        return true;
    }
    return false;
}

/* The phrase markers of word token t by its normalized form (by_stem
 * false) or its stem, as WORD_HEAD2 | WORD_HEAD3 | WORD_TAIL: most words
 * begin no phrase, or end none, and phrase lookups (most of all lookups)
 * are tried only from a word that begins one to a word that ends one. */
/* The keys of word token t's markers by its form (by_stem false) or its
 * stem: prefix (head) and suffix (tail); false when it is too long to be
 * marked. */
static bool marker_keys(const builder *b, const nf_token *t, bool by_stem, uint64_t keys[2])
{
    char buf[NFI_PREFIX_KEY_MAX];
    const char *s = b->doc->pool + (by_stem ? t->stem : t->norm);
    size_t len = by_stem ? t->stem_len : t->norm_len;
    keys[0] = nfi_lexicon_prefix_key(b->lang_seed, s, len, buf, sizeof buf);
    keys[1] = keys[0] ? nfi_lexicon_suffix_key(b->lang_seed, s, len, buf, sizeof buf) : 0;
    return keys[0] != 0;
}

static uint32_t phrase_marks(builder *b, const nf_token *t, bool by_stem)
{
    const uint64_t *v;
    uint32_t marks = 0;
    uint64_t keys[2];
    if (!marker_keys(b, t, by_stem, keys))
        return WORD_HEAD2 | WORD_HEAD3 | WORD_TAIL; /* too long to be marked: try */
    size_t n = lookup(b, keys[0], &v);
    for (size_t i = 0; i < n; i++)
        marks |= v[i] == NFI_MARK_HEAD2 ? WORD_HEAD2 : v[i] == NFI_MARK_HEAD3 ? WORD_HEAD3 : 0;
    n = lookup(b, keys[1], &v);
    for (size_t i = 0; i < n; i++)
        marks |= v[i] == NFI_MARK_TAIL ? WORD_TAIL : 0;
    return marks;
}

/* The features emit_values would make of values[0,n), into w (or, when
 * they do not fit, the values themselves). */
static void set_emit(word_slot *w, const uint64_t *values, size_t n)
{
    size_t terms = 0, k = 0;
    w->n_emit = 0;
    for (size_t i = 0; i < n; i++) {
        bool name = (values[i] & 3) == NF_PIVOT_NAME;
        if (!name && terms++ >= TERMS_PER_WORD)
            continue;
        if (k == WORD_EMIT_MAX) {
            w->flags |= WORD_EMIT_RAW;
            w->values = values, w->n_emit = (uint32_t)n;
            w->emit[0] = 0; /* generation 0: not in the raw arena yet */
            return;
        }
        w->emit[k++] = name ? values[i] : (values[i] & ~3ULL) | NF_PIVOT_TERM;
        w->flags |= name ? 0 : WORD_EMIT_TERM;
    }
    w->n_emit = (uint32_t)k;
}

/* The features of a WORD_EMIT_RAW record, from the pivoter's raw arena
 * (made there first when the record's are not: emit[0] holds their
 * generation and place, emit[1] their number and whether one is a term);
 * NULL when there are too many to keep. */
static const uint64_t *raw_features(nfi_pivoter *p, word_slot *w, size_t *n, bool *term)
{
    if (w->emit[0] >> 32 != p->raw_gen) {
        if (w->n_emit > RAW_ARENA_VALUES)
            return NULL;
        if (p->raw_len + w->n_emit > RAW_ARENA_VALUES) { /* emptied: its records' generation is past */
            if (p->raw_gen == UINT32_MAX) /* (never, in practice) no record may keep a generation reused */
                for (size_t i = 0; i < WORD_CACHE_SLOTS; i++)
                    p->words[i].emit[0] = p->words[i].flags & WORD_EMIT_RAW ? 0 : p->words[i].emit[0];
            p->raw_gen = p->raw_gen == UINT32_MAX ? 1 : p->raw_gen + 1;
            p->raw_len = 0;
        }
        bool t;
        size_t kept = keep_values(w->values, w->n_emit, p->raw + p->raw_len, &t);
        w->emit[0] = (uint64_t)p->raw_gen << 32 | p->raw_len;
        w->emit[1] = kept | (uint64_t)t << 32;
        p->raw_len += kept;
    }
    *n = (uint32_t)w->emit[1], *term = w->emit[1] >> 32;
    return p->raw + (uint32_t)w->emit[0];
}

/* Starts fetching what emit_raw will read of a WORD_EMIT_RAW record: its
 * features in the raw arena, or the values (all over the mapped
 * dictionary) they are made from. */
static inline void prefetch_raw(const nfi_pivoter *p, const word_slot *w)
{
    __builtin_prefetch(w->emit[0] >> 32 == p->raw_gen ? (const void *)(p->raw + (uint32_t)w->emit[0])
                                                      : (const void *)w->values);
}

/* Emits a WORD_EMIT_RAW record's features: as emit_values would, from the
 * raw arena (one copy, where emit_values reads and tests every value). */
static void emit_raw(builder *b, word_slot *w)
{
    size_t n;
    bool term;
    const uint64_t *h = raw_features(b->p, w, &n, &term);
    if (!h) {
        emit_values(b, w->values, w->n_emit);
        return;
    }
    nfi_buf *seq = &b->seq;
    if (!n || !nfi_buf_reserve(seq, 8 * n + 1))
        return;
    memcpy(seq->data + seq->len, h, 8 * n);
    seq->len += 8 * n;
    seq->data[seq->len] = '\0';
    word_emitted(b, n, term);
}

/* Emits the features of a word alone (its record's); inline: once per word token. */
static inline __attribute__((always_inline)) void emit_word(builder *b, word_slot *w)
{
    if (w->flags & WORD_EMIT_RAW) {
        emit_raw(b, w);
        return;
    }
    emit_hashes(b, w->emit, w->n_emit, w->flags & WORD_EMIT_TERM);
}

static bool same_bytes(const char *a, size_t na, const char *b, size_t nb)
{
    return na == nb && (a == b || memcmp(a, b, na) == 0);
}

/* The key of the record of a word whose form and stem have the lexicon
 * keys kn and ks, and the slot it has in the word cache. */
static uint64_t word_key(uint64_t kn, uint64_t ks) { return (kn ^ (ks * 0x9E3779B97F4A7C15ULL)) | 1; /* never 0 */ }

static uint32_t word_slot_of(uint64_t key) { return (uint32_t)((key ^ key >> 31) & (WORD_CACHE_SLOTS - 1)); }

/* word_record's slot w (key: word_key) filled for a word met anew. */
static __attribute__((noinline)) void fill_word(builder *b, word_slot *w, uint64_t key, const nf_token *t,
                                                uint64_t kn, uint64_t ks)
{
    const nf_clean_doc *d = b->doc;
    memset(w, 0, sizeof *w);
    w->key = key;
    bool same = same_bytes(d->pool + t->norm, t->norm_len, d->pool + t->stem, t->stem_len);
    const uint64_t *norm_terms, *stem_terms;
    size_t n_norm = lookup(b, kn, &norm_terms), n_stem = n_norm;
    stem_terms = norm_terms;
    if (!same)
        n_stem = lookup(b, ks, &stem_terms);
    uint32_t marks = phrase_marks(b, t, false);
    w->flags = marks | (same ? marks : phrase_marks(b, t, true)) << 3;
    if (!t->norm_len || memchr(d->pool + t->norm, ' ', t->norm_len))
        w->flags |= WORD_ODD_NORM;
    if (!t->stem_len || memchr(d->pool + t->stem, ' ', t->stem_len))
        w->flags |= WORD_ODD_STEM;
    if (n_norm || n_stem) {
        w->flags |= WORD_FOUND;
        set_emit(w, n_norm ? norm_terms : stem_terms, n_norm ? n_norm : n_stem);
    }
}

/* The cached record of a word token t (kind NF_TOKEN_WORD; tw: its keys
 * and slot). Valid until the next call: another word may take its slot. A
 * stem that is the form itself is not looked up or marked twice. */
static inline word_slot *word_record(builder *b, const nf_token *t, const token_word *tw)
{
    uint64_t key = word_key(tw->key[0], tw->key[1]);
    word_slot *w = &b->p->words[tw->slot];
    if (w->key != key)
        fill_word(b, w, key, t, tw->key[0], tw->key[1]);
    return w;
}

/* Starts fetching the dictionary entries fill_word will read for token t
 * (form and stem keys kn, ks): its terms and markers. */
static void prefetch_fill(const builder *b, const nf_token *t, uint64_t kn, uint64_t ks)
{
    uint64_t keys[2];
    prefetch_lookup(b, kn);
    if (marker_keys(b, t, false, keys))
        prefetch_lookup(b, keys[0]), prefetch_lookup(b, keys[1]);
    if (ks == kn)
        return;
    prefetch_lookup(b, ks);
    if (marker_keys(b, t, true, keys))
        prefetch_lookup(b, keys[0]), prefetch_lookup(b, keys[1]);
}

/* Bits of token_word.phrases: the phrase of 2 (or 3) words from this
 * token may be in the dictionary by form (or by stem). */
static uint32_t phrase_bit(size_t span, bool by_stem) { return 1u << ((span - 2) * 2 + by_stem); }

/* A question to the phrase filter: may the phrase of key start at token i
 * (bit: its phrase_bit)? */
typedef struct phrase_query {
    uint64_t key;
    uint32_t i, bit;
} phrase_query;

/* Which phrases of word tokens from i may be in the dictionary, by form and
 * by stem: the first word begins a phrase of that length, the last ends
 * one and the phrase filter (links.h) knows one from the first to the
 * last. A phrase holding a word with a space, or an empty one, would split
 * the joined text otherwise: it is tried (its bit set at once). The other
 * candidates become questions to the filter, added at *q (its words
 * fetched now); returns how many. (The flags of a token that is no word
 * are 0: it begins and ends nothing.) */
static size_t phrase_questions(builder *b, size_t i, nfi_phrase_filter f, phrase_query *q)
{
    token_word *tw = b->words + i;
    const nf_token *t = b->doc->tokens + i;
    size_t n_tokens = b->doc->n_tokens, n = 0;
    uint32_t first = tw[0].flags;
    if (!(first & ((WORD_HEAD2 | WORD_HEAD3) | (WORD_HEAD2 | WORD_HEAD3) << 3)))
        return 0;
    for (size_t span = 2; span <= 3; span++) {
        if (i + span > n_tokens || (span == 3 && t[1].kind != NF_TOKEN_WORD))
            return n;
        uint32_t last = tw[span - 1].flags, odd = first | last | (span == 3 ? tw[1].flags : 0);
        bool asked_by_norm = false;
        for (int by_stem = 0; by_stem < 2; by_stem++) {
            int shift = by_stem ? 3 : 0;
            if (!(first & (span == 3 ? WORD_HEAD3 : WORD_HEAD2) << shift) || !(last & WORD_TAIL << shift))
                continue;
            if (odd & (by_stem ? WORD_ODD_STEM : WORD_ODD_NORM)) {
                tw->phrases |= phrase_bit(span, by_stem);
                continue;
            }
            if (by_stem && asked_by_norm && tw[0].key[1] == tw[0].key[0] &&
                tw[span - 1].key[1] == tw[span - 1].key[0]) { /* first and last are their stems: the same key, */
                q[n - 1].bit |= phrase_bit(span, true);     /* the same answer */
                continue;
            }
            uint64_t key = nfi_lexicon_phrase_key(tw[0].key[by_stem], tw[span - 1].key[by_stem], span);
            nfi_phrase_filter_prefetch(f, key);
            q[n++] = (phrase_query){key, (uint32_t)i, phrase_bit(span, by_stem)};
            asked_by_norm = !by_stem;
        }
    }
    return n;
}

/* What the dictionary says about every word token of the document, one
 * word record read per token (rather than once as a head, once as a tail,
 * once as a word), then which phrases may start at each. Each step is a
 * loop of its own over the document: the cache misses of one token's slot,
 * values or filter word do not depend on the token before, so they
 * overlap (the slots are fetched while the keys are made), where one loop
 * doing it all would wait for each in turn. The second pass takes the
 * flags of the words the cache holds and lists the others (their entries
 * fetched together), which the third fills; the phrase questions are asked
 * only from the words that begin a phrase (listed as their flags are
 * read: most words begin none). */
static void read_words(builder *b)
{
    const nf_clean_doc *d = b->doc;
    for (size_t i = 0; i < d->n_tokens; i++) {
        const nf_token *t = &d->tokens[i];
        token_word *tw = &b->words[i];
        if (t->kind != NF_TOKEN_WORD) {
            memset(tw, 0, sizeof *tw);
            continue;
        }
        tw->key[0] = nfi_lexicon_key_seeded(b->lang_seed, d->pool + t->norm, t->norm_len);
        tw->key[1] = same_bytes(d->pool + t->norm, t->norm_len, d->pool + t->stem, t->stem_len)
                         ? tw->key[0]
                         : nfi_lexicon_key_seeded(b->lang_seed, d->pool + t->stem, t->stem_len);
        tw->slot = word_slot_of(word_key(tw->key[0], tw->key[1]));
        __builtin_prefetch(&b->p->words[tw->slot]);
    }
    const uint32_t head = (WORD_HEAD2 | WORD_HEAD3) | (WORD_HEAD2 | WORD_HEAD3) << 3;
    uint32_t *misses = b->lists, *heads = b->lists + d->n_tokens;
    size_t n_misses = 0, n_heads = 0;
    for (size_t i = 0; i < d->n_tokens; i++) {
        const nf_token *t = &d->tokens[i];
        token_word *tw = &b->words[i];
        if (t->kind != NF_TOKEN_WORD)
            continue;
        const word_slot *w = &b->p->words[tw->slot];
        if (w->key != word_key(tw->key[0], tw->key[1])) { /* met anew: its entries fetched with the other misses' */
            prefetch_fill(b, t, tw->key[0], tw->key[1]);
            misses[n_misses++] = (uint32_t)i;
            continue;
        }
        tw->flags = w->flags;
        if (w->flags & WORD_EMIT_RAW) /* fetched now, read when emitted */
            prefetch_raw(b->p, w);
        tw->phrases = 0;
        heads[n_heads] = (uint32_t)i, n_heads += (w->flags & head) != 0; /* no branch: in no pattern */
    }
    for (size_t m = 0; m < n_misses; m++) {
        size_t i = misses[m];
        token_word *tw = &b->words[i];
        const word_slot *w = word_record(b, &d->tokens[i], tw);
        tw->flags = w->flags;
        if (w->flags & WORD_EMIT_RAW)
            prefetch_raw(b->p, w);
        tw->phrases = 0;
        heads[n_heads] = (uint32_t)i, n_heads += (w->flags & head) != 0;
    }
    size_t n_queries = 0; /* the filter's words fetched while the questions are gathered */
    nfi_phrase_filter f = nfi_lexicon_phrase_filter(b->p->lex);
    for (size_t h = 0; h < n_heads; h++)
        n_queries += phrase_questions(b, heads[h], f, b->queries + n_queries);
    for (size_t q = 0; q < n_queries; q++) { /* no branch on the answer */
        const phrase_query *pq = &b->queries[q];
        b->words[pq->i].phrases |= pq->bit & (0u - nfi_phrase_filter_may_have(f, pq->key));
    }
}

/* Terms of a foreign word (or multiword); returns how many tokens it used. */
static size_t translate_at(builder *b, size_t i, bool *found)
{
    const uint64_t *terms;
    size_t n;
    const nf_token *t = &b->doc->tokens[i];
    const token_word *tw = &b->words[i];
    *found = false;
    if (t->kind != NF_TOKEN_WORD)
        return 1; /* no entry is keyed by anything else */
    /* (most words begin no phrase the filter knows) */
    for (size_t span = 3; span >= 2 && tw->phrases; span--) {
        bool by_norm = tw->phrases & phrase_bit(span, false), by_stem = tw->phrases & phrase_bit(span, true);
        if ((n = by_norm ? lookup_span(b, i, span, false, &terms) : 0) ||
            (n = by_stem ? lookup_span(b, i, span, true, &terms) : 0)) {
            from_tokens(b, i, span);
            emit_values(b, terms, n);
            *found = true;
            return span;
        }
    }
    word_slot *w = word_record(b, t, tw);
    if (w->flags & WORD_FOUND) {
        from_tokens(b, i, 1);
        emit_word(b, w);
        *found = true;
        return 1;
    }
    /* no terms: the record keeps the compound split */
    if (!(w->flags & WORD_SPLIT_KNOWN)) {
        w->flags |= WORD_SPLIT_KNOWN;
        if (split_compound(b, t, w->emit)) { /* its two hashes, kinds in the low bits, as emitted */
            w->flags |= WORD_SPLIT, w->n_emit = 2;
            if ((w->emit[0] & 3) == NF_PIVOT_TERM || (w->emit[1] & 3) == NF_PIVOT_TERM)
                w->flags |= WORD_EMIT_TERM;
        }
    }
    if (w->flags & WORD_SPLIT) {
        from_tokens(b, i, 1);
        emit_word(b, w);
        *found = true;
    }
    return 1;
}

/* ------------------------------------------------------------ numbers */

/* A number's features: its digits (integers of 2+ digits) and, from a
 * million up, the figure English writes before "million"/"billion"
 * (1500万 = 15,000,000 = "15 million"), in the digits-only form. */
static void emit_value(builder *b, double v)
{
    char digits[64];
    int n;
    if (v >= 10 && v < 1e18 && v == (double)(uint64_t)v) {
        n = snprintf(digits, sizeof digits, "%llu", (unsigned long long)v);
        emit(b, NF_PIVOT_NUMBER, digits, (size_t)n);
    }
    if (v >= 1e6) {
        double m = v >= 1e9 ? v / 1e9 : v / 1e6;
        n = snprintf(digits, sizeof digits, "%.3f", m);
        while (n > 0 && (digits[n - 1] == '0' || digits[n - 1] == '.'))
            if (digits[--n] == '.')
                break;
        size_t k = 0;
        for (int i = 0; i < n; i++)
            if (digits[i] != '.')
                digits[k++] = digits[i];
        if (k >= 2)
            emit(b, NF_PIVOT_NUMBER, digits, k);
    }
}

/* Value of a CJK numeral character: a digit (0-9), a unit (10, 100,
 * 1000 as -10, -100, -1000) or a scale (10^4, 10^8, 10^12 as 1, 2, 3
 * in *scale); false when it is none. */
static bool cjk_numeral(uint32_t cp, int *digit, int *unit, int *scale)
{
    static const uint32_t digits[] = {0x3007, 0x4E00, 0x4E8C, 0x4E09, 0x56DB, 0x4E94, 0x516D, 0x4E03, 0x516B, 0x4E5D};
    *digit = -1, *unit = 0, *scale = 0;
    for (int i = 0; i < 10; i++)
        if (cp == digits[i])
            return (*digit = i), true;
    switch (cp) {
    case 0x96F6: *digit = 0; return true;  /* 零 */
    case 0x4E24: *digit = 2; return true;  /* 两 */
    case 0x5169: *digit = 2; return true;  /* 兩 */
    case 0x5341: *unit = 10; return true;  /* 十 */
    case 0x767E: *unit = 100; return true; /* 百 */
    case 0x5343: *unit = 1000; return true; /* 千 */
    case 0x4E07: case 0x842C: *scale = 1; return true; /* 万 萬 */
    case 0x4EBF: case 0x5104: *scale = 2; return true; /* 亿 億 */
    case 0x5146: *scale = 3; return true; /* 兆 */
    default: return false;
    }
}

/* Parses a CJK numeral at s ("三百", "二〇二四", "五千万"); returns the bytes
 * it used, 0 when there is no number of two characters or more there.
 * lead: a value written in digits just before ("2万"), or 0. */
static size_t cjk_number(const char *s, size_t n, double lead, double *value)
{
    double total = 0, section = 0, digit = lead, digit_string = 0;
    size_t i = 0, chars = lead > 0, plain_digits = 0;
    bool units = false;
    while (i < n) {
        uint32_t cp;
        size_t k = nfi_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        int d, unit, scale;
        if (!cjk_numeral(cp, &d, &unit, &scale))
            break;
        if (d >= 0) {
            digit = d;
            digit_string = digit_string * 10 + d;
            plain_digits++;
        } else if (unit) {
            section += (digit > 0 ? digit : 1) * unit;
            digit = 0, units = true;
        } else {
            double big = scale == 1 ? 1e4 : scale == 2 ? 1e8 : 1e12;
            total = (total + section + digit) * big;
            section = digit = 0, units = true;
        }
        i += k, chars++;
    }
    if (chars < 2 || (!units && (lead > 0 || plain_digits < 2)))
        return 0;
    *value = units ? total + section + digit : digit_string;
    return i;
}

/* The value of a number token: digits of any script ("１２", "١٢"),
 * separators dropped; a decimal point kept when followed by 1-2 digits. */
static double token_value(const char *s, size_t n, char *digits, size_t cap, size_t *n_digits)
{
    double v = 0, frac = 0, scale = 1;
    bool after_point = false;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = nfi_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        int32_t d = u_charDigitValue((UChar32)cp);
        if (d >= 0 && d <= 9) {
            if (k + 1 < cap)
                digits[k++] = (char)('0' + d);
            if (after_point)
                frac += d * (scale /= 10);
            else
                v = v * 10 + d;
        } else if (cp == '.' && n - i - len <= 2) {
            after_point = true;
        }
        i += len;
    }
    *n_digits = k;
    return v + frac;
}

/* A number token (digits of any script); with a CJK scale written right
 * after it ("2万", "1.5億"), also the value it scales to. */
static void number_token(builder *b, size_t i)
{
    const nf_clean_doc *d = b->doc;
    const nf_token *t = &d->tokens[i];
    char digits[64];
    size_t n_digits;
    double v = token_value(d->text + t->start, t->len, digits, sizeof digits, &n_digits), scaled;
    if (n_digits >= 2)
        emit(b, NF_PIVOT_NUMBER, digits, n_digits);
    const nf_token *next = i + 1 < d->n_tokens ? &d->tokens[i + 1] : NULL;
    if (next && next->kind == NF_TOKEN_IDEOGRAPHIC && next->start == t->start + t->len &&
        cjk_number(d->pool + next->norm, next->norm_len, v, &scaled))
        emit_value(b, scaled);
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
    const char *gap = d->text + prev->start + prev->len;
    size_t n = t->start - (prev->start + prev->len);
    if (n > 16)
        return memchr(gap, '\n', n) != NULL;
    bool newline = false; /* most gaps are a space or two: no call */
    for (size_t k = 0; k < n; k++)
        newline |= gap[k] == '\n';
    return newline;
}

/* The paragraph breaks of the builder's walk over the tokens: the first
 * newline of the text at or after `from` (text_len: none), so that a
 * token asks one comparison rather than reading its gap; the search
 * moves on only past a newline (a few per paragraph). */
typedef struct newline_cursor {
    size_t from, at;
} newline_cursor;

/* Whether a newline lies between token i-1 and token i, as
 * paragraph_break_before says (tokens come in text order). A token that
 * starts at or before the newline found (searched from an end at or
 * before its own gap's) has none before it: most tokens ask only that. */
static inline bool newline_before(const nf_clean_doc *d, size_t i, newline_cursor *c)
{
    if (d->tokens[i].start <= c->at && c->from != SIZE_MAX)
        return false;
    if (i == 0)
        return false;
    const nf_token *prev = &d->tokens[i - 1];
    size_t end = prev->start + prev->len;
    if (c->at < end || end < c->from) { /* passed it (or not searched from here): search again */
        const char *nl = end < d->text_len ? memchr(d->text + end, '\n', d->text_len - end) : NULL;
        c->from = end, c->at = nl ? (size_t)(nl - d->text) : d->text_len;
    }
    return c->at < d->tokens[i].start;
}

/* The name features of one word (any script). */
static void emit_name(builder *b, const char *s, size_t n)
{
    uint64_t h = XXH3_64bits(s, n);
    name_keys_slot *slot = &b->p->name_keys[(h ^ h >> 32) & (NAME_CACHE_SLOTS - 1)];
    if (!(n && slot->len == n && slot->hash == h && memcmp(slot->name, s, n) == 0)) {
        ascii_name(b, s, n);
        uint64_t keys[NFI_NAME_KEYS];
        size_t k = nfi_name_keys(b->scratch.data ? b->scratch.data : "", b->scratch.len, NFI_NAME_CONSONANTS, keys);
        if (!n || n > NAME_CACHE_BYTES) { /* not kept */
            for (size_t i = 0; i < k; i++)
                emit_hash(b, NF_PIVOT_NAME, keys[i]);
            return;
        }
        *slot = (name_keys_slot){h, (uint8_t)n, (uint8_t)k, {0}, {0}};
        memcpy(slot->name, s, n);
        memcpy(slot->keys, keys, k * sizeof *keys);
    }
    for (size_t i = 0; i < slot->n_keys; i++)
        emit_hash(b, NF_PIVOT_NAME, slot->keys[i]);
}

/* Bytes of a one-letter clitic that Hebrew and Arabic write onto a word
 * ("and", "the", "in", "to", "from"; Arabic's article al-), so that
 * "ופוטין" also yields the name of "פוטין"; 0 when there is none. */
static size_t clitic_prefix(const char *lang, const char *s, size_t n)
{
    static const char *const hebrew[] = {"\u05D5\u05D4", "\u05D1\u05BC", "\u05D5", "\u05D4", "\u05D1",
                                         "\u05DC", "\u05DE", "\u05E9", "\u05DB"};
    static const char *const arabic[] = {"\u0648\u0627\u0644", "\u0628\u0627\u0644", "\u0644\u0644",
                                         "\u0627\u0644", "\u0648", "\u0628", "\u0644", "\u0641"};
    const char *const *list = strcmp(lang, "he") == 0 ? hebrew : strcmp(lang, "ar") == 0 ? arabic : NULL;
    size_t count = list == hebrew ? sizeof hebrew / sizeof *hebrew : sizeof arabic / sizeof *arabic;
    for (size_t i = 0; list && i < count; i++) {
        size_t len = strlen(list[i]);
        if (n >= len + 6 && memcmp(s, list[i], len) == 0) /* 3+ letters left */
            return len;
    }
    return 0;
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
        emit_name(b, d->text + t->start, t->len);
        size_t prefix = clitic_prefix(d->lang, d->text + t->start, t->len);
        if (prefix)
            emit_name(b, d->text + t->start + prefix, t->len - prefix);
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

/* A Ukrainian word in Russian spelling (і->и, и->ы, ї->йи, є->е, ґ->г,
 * apostrophe dropped), stemmed, and looked up in the Russian dictionary:
 * the two languages share much of their vocabulary, and no
 * Ukrainian-English dictionary exists in Debian or npm. */
static size_t ukrainian_via_russian(builder *b, const nf_token *t, const uint64_t **terms)
{
    if (!b->p->russian || !nfi_lexicon_has(b->p->lex, "ru"))
        return 0;
    const char *w = b->doc->pool + t->norm;
    b->scratch.len = 0;
    for (size_t i = 0; i < t->norm_len;) {
        uint32_t cp;
        size_t k = nfi_utf8_decode((const unsigned char *)w + i, t->norm_len - i, &cp);
        const char *to = cp == 0x456 ? "\u0438" : cp == 0x438 ? "\u044B" : cp == 0x457 ? "\u0439\u0438"
                       : cp == 0x454 ? "\u0435" : cp == 0x491 ? "\u0433" : cp == '\'' || cp == 0x2019 ? "" : NULL;
        if (to)
            nfi_buf_puts(&b->scratch, to);
        else
            nfi_buf_append(&b->scratch, w + i, k);
        i += k;
    }
    if (b->scratch.oom || !b->scratch.len)
        return 0;
    size_t n = lookup(b, nfi_lexicon_key("ru", b->scratch.data, b->scratch.len), terms);
    if (n)
        return n;
    const sb_symbol *stem = sb_stemmer_stem(b->p->russian, (const sb_symbol *)b->scratch.data, (int)b->scratch.len);
    int len = sb_stemmer_length(b->p->russian);
    return stem ? lookup(b, nfi_lexicon_key("ru", (const char *)stem, (size_t)len), terms) : 0;
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
    const uint64_t *terms;
    size_t n_terms;
    if (t->kind == NF_TOKEN_WORD && b->ukrainian && (n_terms = ukrainian_via_russian(b, t, &terms))) {
        from_tokens(b, i, 1);
        emit_values(b, terms, n_terms);
        return 1;
    }
    if (is_name_token(t) || caseless_script(d, t))
        return name_run(b, i);
    from_tokens(b, i, 1);
    if (t->norm_len >= MIN_LOANWORD_BYTES)
        emit(b, NF_PIVOT_TERM, d->pool + t->norm, t->norm_len);
    return 1;
}

/* ------------------------------------------------------------ scripts without spaces */

enum { MAX_MATCH_CHARS = 12 };

typedef enum cjk_class { CJK_HAN, CJK_HIRAGANA, CJK_KATAKANA } cjk_class;

static cjk_class class_of(uint32_t cp)
{
    if (cp >= 0x3040 && cp <= 0x309F)
        return CJK_HIRAGANA;
    if ((cp >= 0x30A0 && cp <= 0x30FF) || (cp >= 0x31F0 && cp <= 0x31FF))
        return CJK_KATAKANA;
    return CJK_HAN;
}

/* Sets the words behind bytes [from, to) of the run (ends: each token's
 * end in the run, tokens from first on). */
static void from_run(builder *b, size_t first, const uint32_t *ends, size_t n_tokens, size_t from, size_t to)
{
    size_t a = 0, z;
    while (a + 1 < n_tokens && ends[a] <= from)
        a++;
    z = a;
    while (z + 1 < n_tokens && ends[z] < to)
        z++;
    from_tokens(b, first + a, z - a + 1);
}

/* Text the dictionary does not know: katakana is a transliterated name
 * (プーチン), hiragana alone is grammar, anything else stays itself. */
static void unknown_span(builder *b, const char *s, size_t n, cjk_class cls)
{
    if (cls == CJK_KATAKANA && n >= 6)
        emit_name(b, s, n);
    else if (cls == CJK_HAN)
        emit(b, NF_PIVOT_TERM, s, n);
}

static bool all_hiragana(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        i += nfi_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (class_of(cp) != CJK_HIRAGANA)
            return false;
    }
    return true;
}

/* Without a dictionary for the language: each ICU word as itself, a word
 * of katakana as a name. */
static void cjk_token(builder *b, size_t i)
{
    const nf_token *t = &b->doc->tokens[i];
    const char *s = b->doc->pool + t->norm;
    double value;
    from_tokens(b, i, 1);
    uint32_t cp;
    nfi_utf8_decode((const unsigned char *)s, t->norm_len, &cp);
    if (cjk_number(s, t->norm_len, 0, &value) == t->norm_len)
        emit_value(b, value);
    else if (class_of(cp) == CJK_KATAKANA)
        unknown_span(b, s, t->norm_len, CJK_KATAKANA);
    else
        emit(b, NF_PIVOT_TERM, s, t->norm_len);
}

/* Longest dictionary word at s (at most MAX_MATCH_CHARS characters);
 * returns its bytes, 0 when none. */
static size_t longest_match(builder *b, const char *s, size_t n, const uint64_t **values, size_t *n_values)
{
    char buf[NFI_PREFIX_KEY_MAX];
    size_t best = 0, chars = 0;
    *n_values = 0;
    for (size_t i = 0; i < n && chars < MAX_MATCH_CHARS;) { /* extended while a headword can follow */
        uint32_t cp;
        const uint64_t *v;
        i += nfi_utf8_decode((const unsigned char *)s + i, n - i, &cp);
        chars++;
        size_t nv = lookup(b, nfi_lexicon_key_seeded(b->lang_seed, s, i), &v);
        if (nv)
            best = i, *values = v, *n_values = nv;
        uint64_t prefix = nfi_lexicon_prefix_key(b->lang_seed, s, i, buf, sizeof buf);
        if (prefix && !lookup(b, prefix, &v)) /* (a phrase's head word is a prefix too: no harm) */
            break;
    }
    return best;
}

/* A run of adjacent ideographic tokens (Han, Kana) from i: numerals, then
 * the longest dictionary word at each place (ICU's segmentation often
 * splits what the dictionary has whole, or joins what it has apart), and
 * what neither knows by script. Returns the tokens used. */
static size_t cjk_run(builder *b, size_t i, bool has_lexicon)
{
    const nf_clean_doc *d = b->doc;
    if (!has_lexicon) {
        cjk_token(b, i);
        return 1;
    }
    size_t j = i + 1;
    while (j < d->n_tokens && d->tokens[j].kind == NF_TOKEN_IDEOGRAPHIC &&
           d->tokens[j].start == d->tokens[j - 1].start + d->tokens[j - 1].len)
        j++;
    nfi_buf *run = &b->run;
    run->len = 0;
    b->run_ends.len = 0;
    for (size_t k = i; k < j; k++) {
        nfi_buf_append(run, d->pool + d->tokens[k].norm, d->tokens[k].norm_len);
        uint32_t end = (uint32_t)run->len;
        nfi_buf_append(&b->run_ends, &end, sizeof end);
    }
    if (run->oom || b->run_ends.oom)
        return j - i;
    const char *s = run->data;
    const uint32_t *ends = (const uint32_t *)b->run_ends.data;
    size_t n = run->len, p = 0, unknown = SIZE_MAX;
    cjk_class unknown_class = CJK_HAN;
    while (p < n) {
        double value;
        const uint64_t *values = NULL;
        size_t n_values = 0, used = cjk_number(s + p, n - p, 0, &value);
        if (!used)
            used = longest_match(b, s + p, n - p, &values, &n_values);
        uint32_t cp;
        size_t len = nfi_utf8_decode((const unsigned char *)s + p, n - p, &cp);
        cjk_class cls = class_of(cp);
        if (unknown != SIZE_MAX && (used || cls != unknown_class)) {
            from_run(b, i, ends, j - i, unknown, p);
            unknown_span(b, s + unknown, p - unknown, unknown_class);
            unknown = SIZE_MAX;
        }
        if (!used) {
            if (unknown == SIZE_MAX)
                unknown = p, unknown_class = cls;
            p += len;
            continue;
        }
        from_run(b, i, ends, j - i, p, p + used);
        if (cjk_number(s + p, n - p, 0, &value) == used)
            emit_value(b, value);
        else if (!all_hiragana(s + p, used)) /* particles, endings: grammar */
            emit_values(b, values, n_values);
        p += used;
    }
    if (unknown != SIZE_MAX) {
        from_run(b, i, ends, j - i, unknown, n);
        unknown_span(b, s + unknown, n - unknown, unknown_class);
    }
    return j - i;
}

/* A copy of text in b->scratch with digits of other scripts (full-width,
 * Arabic-Indic) as ASCII; false (and no copy) when there are none. */
static bool ascii_digits(builder *b, const char *text, size_t len)
{
    /* lead bytes of U+0660-0669, U+06F0-06F9, U+FF10-FF19 (before the last byte) */
    if (len < 2 || (!memchr(text, 0xD9, len - 1) && !memchr(text, 0xDB, len - 1) && !memchr(text, 0xEF, len - 1)))
        return false;
    b->scratch.len = 0;
    bool any = false;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t k = nfi_utf8_decode((const unsigned char *)text + i, len - i, &cp);
        int32_t d = cp >= 0x80 ? u_charDigitValue((UChar32)cp) : -1;
        if (d >= 0 && d <= 9) {
            nfi_buf_putc(&b->scratch, (char)('0' + d));
            any = true;
        } else {
            nfi_buf_append(&b->scratch, text + i, k);
        }
        i += k;
    }
    return any && !b->scratch.oom;
}

static void add_dates(builder *b)
{
    uint16_t days[MAX_DATES];
    b->cur_start = b->cur_len = 0; /* dates point nowhere in particular */
    const char *text = b->doc->text;
    size_t len = b->doc->text_len;
    if (ascii_digits(b, text, len)) /* "６月１４日", "١٤ يونيو": the date lexer reads ASCII digits */
        text = b->scratch.data, len = b->scratch.len;
    size_t n = nfi_month_days(text, len, days, MAX_DATES);
    for (size_t i = 0; i < n; i++) {
        char key[2] = {(char)(days[i] / 100), (char)(days[i] % 100)};
        emit(b, NF_PIVOT_DATE, key, 2);
    }
}

/* Share of the words behind name and term features that yield a term:
 * about 1 where the language has a dictionary (or is English), 0 where
 * every word could only be read as a name (Hebrew today). Features of one
 * word are adjacent in the sequence and share its offset: emit_hash counts
 * them as they come. */
static double term_share(builder *b)
{
    close_word(b);
    return b->n_words ? (double)b->n_words_with_term / (double)b->n_words : 0;
}

/* Room for index_sequence's table of `room` slots (and room / 64 + 1 bit
 * words), empty (all 0): a larger one is made empty once, then kept so. */
static bool index_table_room(nfi_pivoter *p, size_t room)
{
    if (room <= p->index_room)
        return true;
    size_t cap = p->index_room ? p->index_room : 1024;
    while (cap < room)
        cap *= 2;
    uint64_t *hashes = calloc(cap, sizeof *hashes);
    uint64_t *full = calloc(cap / 64 + 1, sizeof *full);
    if (!hashes || !full) {
        free(hashes), free(full);
        return false;
    }
    free(p->index_hashes), free(p->index_full);
    p->index_hashes = hashes, p->index_full = full, p->index_room = cap;
    return true;
}

/* The features (sorted by hash, each with its count) and the sequence as
 * feature indices, from the emitted hashes: an open-addressing table
 * holds each distinct hash itself, and each element notes its slot; a
 * hash's home slot is the hash scaled to the 1.5 n home slots (so in hash
 * order) and probing runs forward, never wrapping (room for every element
 * past the last home slot), so walking the table (a bit per full slot)
 * meets the distinct hashes in order but within a run of full slots,
 * which an insertion sort mends (its moves stay within those runs, as
 * probing does); each slot's place in that order is its feature's index,
 * by which the elements' slots renumber the sequence and count the
 * features; and (when surface is wanted) each feature's first surface.
 * An empty slot holds 0, so the hash 0 (a term's, in theory) is counted
 * apart: it is the least, feature 0 when present. The table reads one
 * slot a probe (no number to follow to the hash) and holds 1.5 n homes,
 * not 2-4 n as a power of two (its bytes stay near the first-level
 * cache's). */
static bool index_sequence(nfi_pivoter *p, const uint64_t *seq, const uint32_t *at, size_t n, bool surface,
                           nf_pivot *out)
{
    size_t homes = n + n / 2 + 16;                 /* home slots: the hash scaled to them (in order) */
    size_t room = homes + n + 1, zero_slot = room; /* (rank_at's extra slot: the hash 0) */
    size_t words = room / 64 + 1;
    if (!index_table_room(p, room))
        return false;
    uint64_t *tab = p->index_hashes, *full = p->index_full;
    /* scratch (the pivoter's): per element its slot, per distinct hash its slot in hash order, per slot
     * its feature's index */
    uint32_t *where = nfi_grow_array(p->index_scratch, &p->index_scratch_cap, 2 * (n + 1) + room + 1, 4);
    if (!where)
        return false;
    p->index_scratch = where;
    uint32_t *order = where + n + 1, *rank_at = order + n + 1;
    size_t zeros = 0;
    /* One exit from the probe (the slot holds h, or is empty): which one
     * is in no pattern (about half the elements are new). */
    for (size_t i = 0; i < n; i++) {
        uint64_t h = seq[i];
        if (__builtin_expect(h == 0, 0)) {
            zeros++, where[i] = (uint32_t)zero_slot;
            continue;
        }
        size_t k = (size_t)(((unsigned __int128)h * homes) >> 64);
        for (uint64_t t = tab[k]; (t != h) & (t != 0); t = tab[++k])
            ;
        tab[k] = h;
        full[k / 64] |= 1ULL << (k % 64);
        where[i] = (uint32_t)k;
    }
    /* The full slots in hash order; a hash below the last one (displaced
     * by probing: a few in a hundred) is moved back to its place at once,
     * as an insertion sort would. */
    size_t m = 0;
    uint64_t last = 0;
    for (size_t w = 0; w < words; w++) {
        for (uint64_t x = full[w]; x; x &= x - 1) {
            uint32_t k = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(x));
            uint64_t h = tab[k];
            if (__builtin_expect(h >= last, 1)) {
                order[m++] = k, last = h;
                continue;
            }
            size_t j = m++;
            for (; j > 0 && tab[order[j - 1]] > h; j--)
                order[j] = order[j - 1];
            order[j] = k;
        }
        full[w] = 0;
    }
    size_t nf = m + (zeros > 0);
    bool narrow = nf <= NF_PIVOT_NARROW;
    out->features = malloc((nf ? nf : 1) * sizeof *out->features);
    out->sequence = malloc((n ? n : 1) * (narrow ? sizeof(uint16_t) : sizeof(uint32_t)));
    out->surface = surface ? calloc(2 * nf + 1, sizeof *out->surface) : NULL;
    if (!out->features || !out->sequence || (surface && !out->surface)) {
        for (size_t r = 0; r < m; r++) /* the table left empty */
            tab[order[r]] = 0;
        return false;
    }
    nf_pivot_feature *f = out->features;
    if (zeros) {
        *f++ = (nf_pivot_feature){0, 0};
        rank_at[zero_slot] = 0;
    }
    for (size_t r = 0; r < m; r++) { /* the table left empty */
        uint32_t k = order[r];
        f[r] = (nf_pivot_feature){tab[k], 0};
        rank_at[k] = (uint32_t)(r + (zeros > 0));
        tab[k] = 0;
    }
    out->n_features = nf;
    if (narrow) {
        uint16_t *s16 = out->sequence;
        for (size_t i = 0; i < n; i++) {
            uint32_t r = rank_at[where[i]];
            s16[i] = (uint16_t)r;
            out->features[r].count++;
        }
    } else {
        uint32_t *s32 = out->sequence;
        for (size_t i = 0; i < n; i++) {
            uint32_t r = rank_at[where[i]];
            s32[i] = r;
            out->features[r].count++;
        }
    }
    for (size_t i = 0; surface && i < n; i++) {
        uint32_t r = rank_at[where[i]];
        if (!out->surface[2 * r + 1] && at[2 * i + 1])
            out->surface[2 * r] = at[2 * i], out->surface[2 * r + 1] = at[2 * i + 1];
    }
    return true;
}

/* A copy of buf's bytes and its NUL, at their size (buf stays the
 * pivoter's); NULL when out of memory. */
static char *copy_out(const nfi_buf *buf)
{
    char *p = malloc(buf->len + 1);
    if (p) {
        if (buf->len)
            memcpy(p, buf->data, buf->len);
        p[buf->len] = '\0';
    }
    return p;
}

static nf_status finish(builder *b, nf_pivot *out, nf_error *err)
{
    size_t n = b->seq.len / 8;
    if (b->seq.oom || b->at.oom || b->para.oom || b->names.oom || b->keys.oom)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (b->translit_failed)
        return nfi_fail(err, NF_ERR_RESOURCE, "ICU transliterator unavailable");
    /* kept for the whole run (every document's pivot waits for finish):
     * the arrays at their size, not an upper bound or the buffers'
     * doubled capacity (about a third of links' memory) */
    out->n_sequence = n;
    out->term_share = term_share(b);
    if (!index_sequence(b->p, (const uint64_t *)b->seq.data, (const uint32_t *)b->at.data, n, b->p->keep_surface, out))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    out->n_paragraphs = b->para.len / 4;
    out->paragraph_ends = (uint32_t *)copy_out(&b->para);
    out->n_names = b->n_names;
    out->names = copy_out(&b->names);
    out->name_keys = copy_out(&b->keys);
    if (!out->paragraph_ends || !out->names || !out->name_keys)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return NF_OK;
}

const char *nfi_pivot_text(const nf_clean_doc *d, size_t *len)
{
    if (d->n_tokens == 0 && d->title && d->title[0]) {
        *len = strlen(d->title);
        return d->title;
    }
    *len = d->text_len;
    return d->text;
}

static nf_status build_pivot(nfi_pivoter *p, const nf_clean_doc *d, nf_pivot *out, nf_error *err);

/* A document whose text holds no token is read from its title, tokenized
 * here as cleaning tokenizes text (same normalizer, language, stems). */
nf_status nfi_pivot_build(nfi_pivoter *p, const nf_clean_doc *d, nf_pivot *out, nf_error *err)
{
    size_t len;
    const char *text = nfi_pivot_text(d, &len);
    if (text == d->text)
        return build_pivot(p, d, out, err);
    memset(out, 0, sizeof *out);
    nf_status st = p->nz ? NF_OK : nfi_normalizer_new(&p->nz, err);
    nfi_token_vec tokens = {NULL, 0, 0};
    nfi_buf pool;
    nfi_buf_init(&pool);
    if (st == NF_OK)
        st = nfi_tokenize(p->nz, text, len, d->lang, true, &tokens, &pool, err);
    if (st == NF_OK && pool.oom)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (st == NF_OK) {
        nf_clean_doc t = *d;
        t.text = (char *)text, t.text_len = len;
        t.tokens = tokens.items, t.n_tokens = tokens.len;
        t.pool = pool.data ? pool.data : (char *)"", t.pool_len = pool.len;
        st = build_pivot(p, &t, out, err);
    }
    free(tokens.items);
    nfi_buf_free(&pool);
    return st;
}

/* A working buffer of the pivoter, empty, lent to a builder; and given
 * back (one that ran out of memory is freed). */
static void lend(nfi_buf *to, nfi_buf *kept)
{
    *to = *kept;
    to->len = 0;
    if (to->data)
        to->data[0] = '\0';
    nfi_buf_init(kept);
}

static void give_back(nfi_buf *b, nfi_buf *kept)
{
    if (b->oom)
        nfi_buf_free(b);
    *kept = *b;
}

/* Tokens ahead whose word record the builder fetches (read_words read it
 * long before: its line has left the first-level cache since). */
enum { WORD_AHEAD = 8 };

static nf_status build_pivot(nfi_pivoter *p, const nf_clean_doc *d, nf_pivot *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    builder b;
    memset(&b, 0, sizeof b);
    b.p = p;
    b.doc = d;
    bool english = strcmp(d->lang, "en") == 0;
    bool has_lexicon = !english && p->lex && nfi_lexicon_has(p->lex, d->lang);
    b.lang_seed = nfi_lexicon_lang_seed(d->lang);
    b.ukrainian = strcmp(d->lang, "uk") == 0;
    if (has_lexicon && d->n_tokens) {
        token_word *w = nfi_grow_array(p->token_words, &p->token_words_cap, d->n_tokens, sizeof *w);
        if (w)
            p->token_words = b.words = w;
        phrase_query *q = w ? nfi_grow_array(p->queries, &p->queries_cap, 4 * d->n_tokens, sizeof *q) : NULL;
        if (q)
            p->queries = b.queries = q;
        uint32_t *lists = q ? nfi_grow_array(p->lists, &p->lists_cap, 2 * d->n_tokens, sizeof *lists) : NULL;
        if (!lists)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        p->lists = b.lists = lists;
    }
    lend(&b.seq, &p->seq), lend(&b.at, &p->at), lend(&b.scratch, &p->scratch);
    lend(&b.run, &p->run), lend(&b.run_ends, &p->run_ends);
    lend(&b.para, &p->para), lend(&b.names, &p->name_text), lend(&b.keys, &p->key_text);
    if (b.words)
        read_words(&b);
    newline_cursor newline = {SIZE_MAX, 0}; /* searches at the first gap */
    for (size_t i = 0; i < d->n_tokens;) {
        if (b.words && i + WORD_AHEAD < d->n_tokens) /* translate_at's record (slot 0 for other tokens: no harm) */
            __builtin_prefetch(&p->words[b.words[i + WORD_AHEAD].slot]);
        if (newline_before(d, i, &newline)) {
            uint32_t end = (uint32_t)(b.seq.len / 8);
            nfi_buf_append(&b.para, &end, sizeof end);
        }
        const nf_token *t = &d->tokens[i];
        if (t->kind == NF_TOKEN_NUMBER) { /* (every other path sets its words before it emits) */
            from_tokens(&b, i, 1);
            number_token(&b, i);
            i++;
        } else if (t->kind == NF_TOKEN_IDEOGRAPHIC) {
            i += cjk_run(&b, i, has_lexicon);
        } else {
            i += word_features(&b, i, english, has_lexicon);
        }
    }
    uint32_t end = (uint32_t)(b.seq.len / 8);
    nfi_buf_append(&b.para, &end, sizeof end);
    add_dates(&b);
    nf_status st = finish(&b, out, err);
    give_back(&b.seq, &p->seq), give_back(&b.at, &p->at), give_back(&b.scratch, &p->scratch);
    give_back(&b.run, &p->run), give_back(&b.run_ends, &p->run_ends);
    give_back(&b.para, &p->para), give_back(&b.names, &p->name_text), give_back(&b.keys, &p->key_text);
    if (st != NF_OK)
        nfi_pivot_free(out);
    return st;
}
