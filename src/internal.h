/*
 * internal.h - helpers shared by the library's source files, never installed.
 *
 * nf_buf is the one growable byte buffer of the library: it always keeps a
 * terminating NUL past len so its data can be used as a C string. Growth
 * doubles, so appends are amortised O(1). A buffer whose allocation failed
 * remembers it (oom) and ignores further appends; callers check once at the
 * end instead of after every append.
 */
#ifndef NF_INTERNAL_H
#define NF_INTERNAL_H

#include "newsfold.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nf_buf {
    char *data;
    size_t len, cap;
    bool oom;
} nf_buf;

void nf_buf_init(nf_buf *b);
void nf_buf_free(nf_buf *b);
bool nf_buf_reserve(nf_buf *b, size_t extra);
void nf_buf_append(nf_buf *b, const void *p, size_t n);
void nf_buf_putc(nf_buf *b, char c);
void nf_buf_puts(nf_buf *b, const char *s);
void nf_buf_printf(nf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Gives the data to the caller (NUL-terminated, never NULL unless oom). */
char *nf_buf_take(nf_buf *b, size_t *len);

/* The whole of a file (gzip-compressed or not), NUL-terminated; NULL when
 * it cannot be read (errno tells why) or memory runs out. */
char *nf_read_file(const char *path, size_t *len);

/* An array with room for need items of size bytes: items itself, or a
 * larger copy (capacity doubled as often as needed, *cap updated), or NULL
 * when memory runs out (items is then untouched and still owned). */
void *nf_grow_array(void *items, size_t *cap, size_t need, size_t size);

/* qsort/bsearch comparison of uint64_t values, and the index of the first
 * element >= key in a sorted array (n when there is none). */
int nf_cmp_u64(const void *a, const void *b);
size_t nf_lower_bound_u64(const uint64_t *v, size_t n, uint64_t key);

/* Sets err (when non-NULL) and returns code. */
nf_status nf_fail(nf_error *err, nf_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

char *nf_strdup(const char *s);
char *nf_strndup(const char *s, size_t n);

/* 64-bit hash of bytes (XXH3). */
uint64_t nf_hash64(const void *p, size_t n);

/* UTF-8: decodes one code point at s (len > 0), returns its length in bytes
 * (1 for an invalid byte, with *cp = 0xFFFD). Input must be valid for exact
 * lengths; the repair pass guarantees that before any later stage. */
size_t nf_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
size_t nf_utf8_encode(uint32_t cp, char out[4]);

/* JSON writing: appends s as a JSON string literal (with quotes). */
void nf_json_string(nf_buf *b, const char *s, size_t n);
void nf_json_cstr_or_null(nf_buf *b, const char *s);

/* Every date in text as month * 100 + day (dates.c), for cross-lingual
 * matching: "June 14", "14. Juni" and "2024-06-14" all give 614. */
size_t nf_month_days(const char *text, size_t len, uint16_t *out, size_t max);

/* Runs task(ctx, worker, i, err) for every i < n on up to n_workers
 * threads, thread t using the worker at workers + t * worker_size
 * (parallel.c). Returns NF_OK or the error of the lowest failing index. */
typedef nf_status (*nf_task_fn)(void *ctx, void *worker, size_t i, nf_error *err);
nf_status nf_parallel_for(size_t n, void *workers, size_t worker_size, int n_workers, nf_task_fn task, void *ctx,
                          nf_error *err);

/* Days since 1970-01-01 of a proleptic Gregorian date (dates.c). */
int32_t nf_days_from_civil(int y, unsigned m, unsigned d);

/* ASCII helpers that ignore the locale. */
static inline bool nf_is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static inline unsigned char nf_lower_ascii(unsigned char c) { return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c; }
bool nf_str_ieq_prefix(const char *s, size_t n, const char *prefix);

#endif
