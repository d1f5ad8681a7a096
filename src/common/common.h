/* common.h - helpers every stage shares (never installed). */
#ifndef NF_COMMON_COMMON_H
#define NF_COMMON_COMMON_H


/*
 * internal.h - helpers shared by the library's source files, never installed.
 *
 * nfi_buf is the one growable byte buffer of the library: it always keeps a
 * terminating NUL past len so its data can be used as a C string. Growth
 * doubles, so appends are amortised O(1). A buffer whose allocation failed
 * remembers it (oom) and ignores further appends; callers check once at the
 * end instead of after every append.
 */

#include "newsfold.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef nf_buffer nfi_buf; /* the public nf_buffer: encoders hand theirs to callers */

void nfi_buf_init(nfi_buf *b);
void nfi_buf_free(nfi_buf *b);
bool nfi_buf_reserve(nfi_buf *b, size_t extra);
void nfi_buf_append(nfi_buf *b, const void *p, size_t n);
/* One byte: inline while it fits (escapers and serializers call it per
 * byte), else through nfi_buf_append, which grows the buffer. */
static inline void nfi_buf_putc(nfi_buf *b, char c)
{
    if (b->len + 2 <= b->cap && !b->oom) {
        b->data[b->len++] = c;
        b->data[b->len] = '\0';
        return;
    }
    nfi_buf_append(b, &c, 1);
}
void nfi_buf_puts(nfi_buf *b, const char *s);
void nfi_buf_printf(nfi_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Gives the data to the caller (NUL-terminated, never NULL unless oom). */
char *nfi_buf_take(nfi_buf *b, size_t *len);
/* The wire formats of distributed runs keep every piece a multiple of 8
 * bytes long: n rounded up, and the zeros that take a piece of n bytes to
 * that length. */
static inline size_t nfi_pad8(size_t n) { return (n + 7) & ~(size_t)7; }
void nfi_buf_pad8(nfi_buf *b, size_t n);

/* The whole of a file (gzip-compressed or not), NUL-terminated; NULL when
 * it cannot be read (errno tells why) or memory runs out. */
char *nfi_read_file(const char *path, size_t *len);

/* An array with room for need items of size bytes: items itself, or a
 * larger copy (capacity doubled as often as needed, *cap updated), or NULL
 * when memory runs out (items is then untouched and still owned). */
void *nfi_grow_array(void *items, size_t *cap, size_t need, size_t size);

/* qsort/bsearch comparison of uint64_t values, and the index of the first
 * element >= key in a sorted array (n when there is none). */
int nfi_cmp_u64(const void *a, const void *b);
size_t nfi_lower_bound_u64(const uint64_t *v, size_t n, uint64_t key);

/* Sets err (when non-NULL) and returns code. */
nf_status nfi_fail(nf_error *err, nf_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

char *nfi_strdup(const char *s);
char *nfi_strndup(const char *s, size_t n);

/* 64-bit hash of bytes (XXH3). */
uint64_t nfi_hash64(const void *p, size_t n);

/* A bijective mix of 64 bits (two multiply-xorshift rounds). */
static inline uint64_t nfi_mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ULL;
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ULL;
    x ^= x >> 32;
    return x;
}

/* Duplicate detection's units (shingled by src/dedup/sketch.c): a token is
 * the XXH3-64 of its norm (nfi_hash64; callers in a hot loop inline
 * XXH3_64bits), except that each character of a token of a script written
 * without spaces is a unit of its own, this hash of its code point. Made
 * from the tokens by sketch.c, or as they are folded by the cleaner
 * (nf_clean_options.token_hashes): both must agree. */
static inline uint64_t nfi_char_unit(uint32_t cp) { return nfi_mix64(cp + 0x51ED27ULL); }

/* UTF-8: decodes one code point at s (len > 0), returns its length in bytes
 * (1 for an invalid byte, with *cp = 0xFFFD). Input must be valid for exact
 * lengths; the repair pass guarantees that before any later stage. */
size_t nfi_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
size_t nfi_utf8_encode(uint32_t cp, char out[4]);
/* The lead of a text too long to show whole, in at most max bytes: its
 * first sentence when that ends between max / 4 and max, else up to the
 * last space in the second half, else up to the last whole character, with
 * *cut set (the caller adds an ellipsis). n when n <= max. */
size_t nfi_utf8_lead(const char *text, size_t n, size_t max, bool *cut);
/* Makes every string field of doc valid UTF-8, counting text repairs. */
nf_status nfi_doc_repair_utf8(nf_doc *doc, nf_error *err);

/* JSON writing: appends s as a JSON string literal (with quotes). */
void nfi_json_string(nfi_buf *b, const char *s, size_t n);
void nfi_json_cstr_or_null(nfi_buf *b, const char *s);

/* Every date in text as month * 100 + day (dates.c), for cross-lingual
 * matching: "June 14", "14. Juni" and "2024-06-14" all give 614. */
size_t nfi_month_days(const char *text, size_t len, uint16_t *out, size_t max);

/* Runs task(ctx, worker, i, err) for every i < n on up to n_workers
 * threads, thread t using the worker at workers + t * worker_size
 * (parallel.c). Returns NF_OK or the error of the lowest failing index. */
typedef nf_status (*nfi_task_fn)(void *ctx, void *worker, size_t i, nf_error *err);
nf_status nfi_parallel_for(size_t n, void *workers, size_t worker_size, int n_workers, nfi_task_fn task, void *ctx,
                          nf_error *err);

/* Days since 1970-01-01 of a proleptic Gregorian date (dates.c). */
int32_t nfi_days_from_civil(int y, unsigned m, unsigned d);
/* The day number of a "YYYY-MM-DD" date, the form every stage keeps
 * (anything may follow it, e.g. a time), or INT32_MIN when s does not start
 * with one: the one parser of that form (dates.c). */
int32_t nfi_ymd_days(const char *s);

/* Union-find over indices 0..n-1 (parent[i] = i to start): the one used by
 * dedup groups, translation groups, event components and storylines. The
 * smaller root always wins, so the result does not depend on the order of
 * the unions; find halves paths as it goes. */
uint32_t nfi_uf_find(uint32_t *parent, uint32_t x);
void nfi_uf_union(uint32_t *parent, uint32_t a, uint32_t b);

/* An anonymous temporary file in dir (NULL or "": $TMPDIR, else /tmp),
 * already unlinked, opened "w+b"; NULL when it cannot be made. */
FILE *nfi_temp_file(const char *dir, const char *prefix);
/* Gives stream f (just opened, not yet used) a full buffer of NFI_STREAM_BUFFER
 * bytes, which the caller frees after closing f; NULL (f keeps stdio's own
 * 4 KB) when memory or setvbuf refuses. Outputs and spills of tens of
 * megabytes, written a record at a time, then take one write(2) a
 * megabyte rather than one each 4 KB (outfile.c). */
#define NFI_STREAM_BUFFER ((size_t)1 << 20)
char *nfi_stream_buffer(FILE *f);
/* mkdir -p: dir and its missing parents (mode 0777 less the umask). */
nf_status nfi_make_dirs(const char *dir, nf_error *err);

/* ASCII helpers that ignore the locale. */
static inline bool nfi_is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static inline unsigned char nfi_lower_ascii(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }
bool nfi_str_ieq_prefix(const char *s, size_t n, const char *prefix);

/*
 * Byte-parallel tests on 8 ASCII bytes in a uint64_t (each byte below 0x80,
 * so no carry crosses a byte): each returns the high bit of every byte that
 * passes. Used where the cleaner and the date lexer pass over long ASCII
 * stretches.
 */
#define NFI_SWAR_ONES 0x0101010101010101ull
#define NFI_SWAR_HIGH 0x8080808080808080ull

static inline uint64_t nfi_swar_eq(uint64_t x, unsigned char c)
{
    return ~((x ^ (NFI_SWAR_ONES * c)) + NFI_SWAR_ONES * 0x7F) & NFI_SWAR_HIGH;
}

static inline uint64_t nfi_swar_in(uint64_t x, unsigned char lo, unsigned char hi) /* lo <= byte <= hi */
{
    return (x + NFI_SWAR_ONES * (0x80u - lo)) & ~(x + NFI_SWAR_ONES * (0x7Fu - hi)) & NFI_SWAR_HIGH;
}

/* The number of bytes flagged in a mask of the tests above. */
static inline unsigned nfi_swar_count(uint64_t flags) { return (unsigned)(((flags >> 7) * NFI_SWAR_ONES) >> 56); }

/* The bits set in x, by halves, nibbles and bytes (baseline x86-64 has no
 * popcount instruction: __builtin_popcountll would be a libgcc call). */
static inline unsigned nfi_popcount64(uint64_t x)
{
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (unsigned)((x * NFI_SWAR_ONES) >> 56);
}

/*
 * hmap.h - an open-addressing hash map from 64-bit keys to 64-bit values.
 *
 * Keys are already well-mixed hashes (XXH3), so the slot is the key's low
 * bits and probing is linear. Key 0 marks an empty slot; a caller's key 0 is
 * stored as 1 (one collision in 2^64 for hashes; callers with small integer
 * keys add 1 first). A slot holds its key and value side by side (16 bytes),
 * so a hit reads one cache line, not one for the key and one for the value.
 * The table doubles at 1/2 load, so a lookup touches one or two cache
 * lines. There is no delete: a map that must shrink is rebuilt
 * (nfi_hmap_clear, then re-insert what survives).
 * Iteration order is slot order (nfi_hmap_key_at, 0 for an empty slot),
 * which depends only on the keys inserted and the insertion order, so it is
 * deterministic.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nfi_hmap_slot {
    uint64_t key; /* 0: empty */
    uint64_t val;
} nfi_hmap_slot;

typedef struct nfi_hmap {
    nfi_hmap_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t count;
} nfi_hmap;

void nfi_hmap_init(nfi_hmap *m);
void nfi_hmap_free(nfi_hmap *m);
/* Empties the map, keeping its memory when it is small. */
void nfi_hmap_clear(nfi_hmap *m);
/* Empties a map reused for about `keys` keys: a table grown for many more
 * (over 4 * keys slots, and over 64) is freed rather than cleared, so that
 * the many small uses after a large one do not each zero its whole table;
 * the map regrows as it fills. */
void nfi_hmap_reset(nfi_hmap *m, size_t keys);
/* The value slot of key, or NULL when absent (inline: the hottest call of
 * the event stage and the names). */
static inline uint64_t *nfi_hmap_get(const nfi_hmap *m, uint64_t key)
{
    if (!m->cap)
        return NULL;
    key = key ? key : 1;
    size_t mask = m->cap - 1;
    for (size_t i = key & mask;; i = (i + 1) & mask) {
        nfi_hmap_slot *s = &m->slots[i];
        if (s->key == key)
            return &s->val;
        if (s->key == 0)
            return NULL;
    }
}
/* Prefetches the slot where key's probe starts (changes only timing). */
static inline void nfi_hmap_prefetch(const nfi_hmap *m, uint64_t key)
{
    if (m->cap)
        __builtin_prefetch(&m->slots[key & (m->cap - 1)]);
}
/* Slot k's key (0: empty) and value, for iteration in slot order. */
static inline uint64_t nfi_hmap_key_at(const nfi_hmap *m, size_t k) { return m->slots[k].key; }
static inline uint64_t nfi_hmap_val_at(const nfi_hmap *m, size_t k) { return m->slots[k].val; }
/* nfi_hmap_put when the map must grow first (hmap.c). */
uint64_t *nfi_hmap_put_grow(nfi_hmap *m, uint64_t key, bool *created);
/* nfi_hmap_put's probe and insertion, when the map has room (key 0 is
 * stored as 1, as everywhere in the map). */
static inline uint64_t *nfi_hmap_insert_with_room(nfi_hmap *m, uint64_t key, bool *created)
{
    key = key ? key : 1;
    size_t mask = m->cap - 1;
    size_t i = key & mask;
    while (m->slots[i].key && m->slots[i].key != key)
        i = (i + 1) & mask;
    nfi_hmap_slot *s = &m->slots[i];
    bool fresh = s->key == 0;
    if (fresh) {
        s->key = key;
        s->val = 0;
        m->count++;
    }
    if (created)
        *created = fresh;
    return &s->val;
}

/* The value slot of key, inserted with value 0 when absent; NULL when out
 * of memory. *created (when non-NULL) tells whether it was inserted.
 * Inline but for growing: the event stage counts millions of features
 * (document frequencies), and the call was a third of a put. */
static inline uint64_t *nfi_hmap_put(nfi_hmap *m, uint64_t key, bool *created)
{
    if (__builtin_expect((m->count + 1) * 2 > m->cap, 0))
        return nfi_hmap_put_grow(m, key, created);
    return nfi_hmap_insert_with_room(m, key, created);
}

/*
 * runs.h - bounded-memory sorting of (key, value) records (see runs.c).
 */


typedef struct nfi_kv {
    uint64_t key, val;
} nfi_kv;

typedef struct nfi_runs nfi_runs;

/* mem_bytes bounds the in-memory buffer; beyond it sorted runs spill to
 * anonymous temporary files in tmp_dir (NULL: $TMPDIR or /tmp). */
nf_status nfi_runs_new(nfi_runs **out, size_t mem_bytes, const char *tmp_dir, nf_error *err);
nf_status nfi_runs_add(nfi_runs *r, uint64_t key, uint64_t val, nf_error *err);
/* Sorts of the buffer use up to threads threads (default 1); the order of
 * the records does not depend on it. */
void nfi_runs_set_threads(nfi_runs *r, int threads);
/* Ends input; afterwards nfi_runs_next yields all records in (key, val) order. */
nf_status nfi_runs_finish(nfi_runs *r, nf_error *err);
/* 1 and *out set, or 0 at the end (or on a read error, see nfi_runs_failed). */
int nfi_runs_next(nfi_runs *r, nfi_kv *out);
bool nfi_runs_failed(const nfi_runs *r, nf_error *err);
size_t nfi_runs_spilled(const nfi_runs *r); /* number of runs written to disk */
uint64_t nfi_runs_count(const nfi_runs *r);
void nfi_runs_free(nfi_runs *r);

/* Sorts records in (key, val) order: LSD radix sort, O(n) with a scratch
 * buffer of the same size (falls back to qsort when that cannot be had). */
void nfi_kv_sort(nfi_kv *v, size_t n);
/* Sorts by key only, keeping records of equal keys in their input order. */
void nfi_kv_sort_by_key_stable(nfi_kv *v, size_t n);
/* Sorts n words ascending with the same radix sort; scratch holds n words. */
void nfi_u64_sort(uint64_t *v, size_t n, uint64_t *scratch);

#endif
