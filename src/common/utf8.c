/*
 * utf8.c - decoding, encoding and repair of UTF-8.
 *
 * Invariant established here: every string a later stage sees is valid
 * UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF) with
 * no NUL bytes. Repair replaces each maximal invalid subpart with one U+FFFD,
 * the substitution the Unicode standard recommends, and counts them, so the
 * count reported per document is stable and comparable with other tools.
 * NUL bytes are replaced too: C strings would silently truncate there.
 * ASCII runs are passed eight bytes at a time (sixteen in the check), and
 * a document's strings are first only checked: the usual valid text is
 * never copied.
 */
#include "common/common.h"

#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Length of the valid sequence at s, or 0 if invalid (with *maximal set to
 * the length of the maximal invalid subpart to replace). */
static size_t valid_sequence(const unsigned char *s, size_t len, uint32_t *cp, size_t *maximal)
{
    unsigned char c = s[0];
    size_t need;
    uint32_t v;
    unsigned char lo = 0x80, hi = 0xBF;
    *maximal = 1;
    if (c < 0x80) {
        *cp = c;
        return c ? 1 : 0;
    } else if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= len || s[i] < lo || s[i] > hi) {
            *maximal = i;
            return 0;
        }
        v = (v << 6) | (s[i] & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = v;
    return need + 1;
}

size_t nfi_utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
    size_t maximal;
    size_t n = valid_sequence(s, len, cp, &maximal);
    if (n)
        return n;
    *cp = 0xFFFD;
    return maximal;
}

size_t nfi_utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static size_t ascii_run(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i + 8 <= len) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        /* any byte >= 0x80, or any zero byte, ends the fast run; the lowest
         * flag is exact (a borrow only corrupts the flags above a zero) */
        uint64_t bad = (w & 0x8080808080808080ULL) | ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL);
        if (bad)
            return i + (unsigned)__builtin_ctzll(bad) / 8;
        i += 8;
    }
    while (i < len && s[i] > 0 && s[i] < 0x80)
        i++;
    return i;
}

char *nf_utf8_repair(const char *str, size_t len, size_t *out_len, size_t *n_invalid)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t bad = 0;
    nfi_buf out;
    nfi_buf_init(&out);
    nfi_buf_reserve(&out, len);
    nfi_buf_append(&out, "", 0); /* NUL-terminated even when len is 0 */
    size_t i = 0;
    while (i < len) {
        size_t run = ascii_run(s + i, len - i);
        nfi_buf_append(&out, s + i, run);
        i += run;
        if (i >= len)
            break;
        uint32_t cp;
        size_t maximal;
        size_t n = valid_sequence(s + i, len - i, &cp, &maximal);
        if (n) {
            nfi_buf_append(&out, s + i, n);
            i += n;
        } else {
            nfi_buf_append(&out, "\xEF\xBF\xBD", 3);
            bad++;
            i += maximal;
        }
    }
    if (n_invalid)
        *n_invalid = bad;
    return nfi_buf_take(&out, out_len);
}

/* The length of the run of nonzero ASCII bytes at s: ascii_run, 16 bytes
 * at a time where SSE2 is there. */
static inline size_t ascii_run_wide(const unsigned char *s, size_t len)
{
    size_t i = 0;
#ifdef __SSE2__
    for (; i + 16 <= len; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned stop = (unsigned)_mm_movemask_epi8(x) |
                        (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_setzero_si128()));
        if (stop)
            return i + (unsigned)__builtin_ctz(stop);
    }
#endif
    return i + ascii_run(s + i, len - i);
}

/* Whether s is valid UTF-8 without NUL bytes: what repair would leave
 * unchanged, so most strings are checked without being copied. A
 * two-byte sequence (Latin, Greek, Cyrillic letters ...) is checked in
 * place: a lead of C2-DF and any continuation byte, as valid_sequence
 * requires. */
static bool utf8_clean(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len;) {
        i += ascii_run_wide(s + i, len - i);
        if (i >= len)
            break;
        if (s[i] >= 0xC2 && s[i] <= 0xDF && i + 1 < len && (s[i + 1] & 0xC0) == 0x80) {
            i += 2;
            continue;
        }
        uint32_t cp;
        size_t maximal, n = valid_sequence(s + i, len - i, &cp, &maximal);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

static bool repair_field(char **field, size_t *count)
{
    if (!*field || utf8_clean(*field, strlen(*field)))
        return true;
    size_t n_bad = 0, len;
    char *fixed = nf_utf8_repair(*field, strlen(*field), &len, &n_bad);
    if (!fixed)
        return false;
    free(*field);
    *field = fixed;
    if (count)
        *count += n_bad;
    return true;
}

nf_status nfi_doc_repair_utf8(nf_doc *d, nf_error *err)
{
    size_t n_bad = 0, len;
    if (!d->text || !utf8_clean(d->text, d->text_len)) {
        char *text = nf_utf8_repair(d->text, d->text_len, &len, &n_bad);
        if (!text)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        free(d->text);
        d->text = text;
        d->text_len = len;
        d->invalid_utf8 += n_bad;
    }
    if (!repair_field(&d->id, NULL) || !repair_field(&d->title, &d->invalid_utf8) ||
        !repair_field(&d->lang, NULL) || !repair_field(&d->source, NULL) ||
        !repair_field(&d->published, NULL) || !repair_field(&d->url, NULL))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return NF_OK;
}

/* A sentence ends at '.', '!' or '?' before a space when the character
 * before it is not a capital (so "U.S. " and "J. Smith" do not end one),
 * and at an ideographic full stop or a full-width '!' or '?'. */
static size_t sentence_end_at(const unsigned char *s, size_t n, size_t i)
{
    if ((s[i] == '.' || s[i] == '!' || s[i] == '?') && i > 0 && i + 1 < n && s[i + 1] == ' ' &&
        !(s[i - 1] >= 'A' && s[i - 1] <= 'Z'))
        return i + 1;
    if (s[i] == 0xE3 && i + 2 < n && s[i + 1] == 0x80 && s[i + 2] == 0x82) /* U+3002 */
        return i + 3;
    if (s[i] == 0xEF && i + 2 < n && s[i + 1] == 0xBC && (s[i + 2] == 0x81 || s[i + 2] == 0x9F)) /* U+FF01, U+FF1F */
        return i + 3;
    return 0;
}

size_t nfi_utf8_lead(const char *text, size_t n, size_t max, bool *cut)
{
    const unsigned char *s = (const unsigned char *)text;
    *cut = false;
    if (n <= max)
        return n;
    size_t sentence = 0, space = 0, boundary = 0;
    for (size_t i = 0; i < max && !sentence; i++) {
        if ((s[i] & 0xC0) != 0x80)
            boundary = i; /* a character starts here: the text before it is whole */
        size_t end = sentence_end_at(s, n, i);
        if (end && end <= max && end >= max / 4)
            sentence = end;
        if (s[i] == ' ' || s[i] == '\n')
            space = i;
    }
    if (sentence)
        return sentence;
    if ((s[max] & 0xC0) != 0x80)
        boundary = max;
    *cut = true;
    size_t at = space > max / 2 ? space : boundary;
    while (at > 0 && (s[at - 1] == ' ' || s[at - 1] == ',' || s[at - 1] == ';' || s[at - 1] == ':'))
        at--;
    return at;
}
