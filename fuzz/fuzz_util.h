/*
 * fuzz_util.h - small checks shared by the fuzz harnesses: an independent
 * UTF-8 validator (RFC 3629, written from the spec rather than reusing the
 * library's decoder, so a bug there cannot hide itself) and a CHECK macro
 * that aborts, which libFuzzer reports as a crash with the input saved.
 */
#ifndef NF_FUZZ_UTIL_H
#define NF_FUZZ_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                     \
        }                                                                                \
    } while (0)

/* 1 when s[0,n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF)
 * and, when no_nul, contains no NUL byte. */
static inline bool fuzz_valid_utf8(const char *str, size_t n, bool no_nul)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c == 0 && no_nul)
                return false;
            i++;
            continue;
        }
        size_t need;
        unsigned long cp, min;
        if ((c & 0xE0) == 0xC0) {
            need = 1;
            cp = c & 0x1F;
            min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            need = 2;
            cp = c & 0x0F;
            min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            need = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return false;
        }
        if (n - i <= need) /* truncated sequence */
            return false;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

#endif
