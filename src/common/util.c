/*
 * util.c - the growable buffer, error reporting, hashing and JSON string
 * escaping that every stage uses. See common.h for the buffer's contract.
 */
#include "common/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>

const char *nf_version(void) { return NF_VERSION_STRING; }

void nfi_buf_init(nfi_buf *b) { memset(b, 0, sizeof *b); }

void nfi_buf_free(nfi_buf *b)
{
    free(b->data);
    nfi_buf_init(b);
}

/* The public face of the buffer, for programs that write JSON of their own
 * (the service's answers, the command's summaries). */
void nf_buffer_free(nf_buffer *b) { nfi_buf_free(b); }
void nf_buffer_append(nf_buffer *b, const void *p, size_t n) { nfi_buf_append(b, p, n); }
void nf_buffer_puts(nf_buffer *b, const char *s) { nfi_buf_puts(b, s); }
void nf_json_append(nf_buffer *b, const char *s, size_t n) { nfi_json_string(b, s, n); }
void nf_json_append_cstr(nf_buffer *b, const char *s) { nfi_json_cstr_or_null(b, s); }

void nf_buffer_printf(nf_buffer *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !nfi_buf_reserve(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

uint32_t nfi_uf_find(uint32_t *parent, uint32_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

void nfi_uf_union(uint32_t *parent, uint32_t a, uint32_t b)
{
    uint32_t ra = nfi_uf_find(parent, a), rb = nfi_uf_find(parent, b);
    if (ra != rb)
        parent[ra > rb ? ra : rb] = ra < rb ? ra : rb;
}

FILE *nfi_temp_file(const char *dir, const char *prefix)
{
    const char *d = dir && *dir ? dir : getenv("TMPDIR");
    nfi_buf path;
    nfi_buf_init(&path);
    nfi_buf_printf(&path, "%s/%s-XXXXXX", d && *d ? d : "/tmp", prefix);
    FILE *f = NULL;
    int fd = path.oom ? -1 : mkstemp(path.data);
    if (fd >= 0) {
        unlink(path.data);
        if (!(f = fdopen(fd, "w+b")))
            close(fd);
    }
    nfi_buf_free(&path);
    return f;
}

bool nfi_buf_reserve(nfi_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->oom = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    b->data[b->len] = '\0'; /* the invariant holds even if nothing is appended */
    return true;
}

void nfi_buf_pad8(nfi_buf *b, size_t n)
{
    static const char zeros[8];
    nfi_buf_append(b, zeros, nfi_pad8(n) - n);
}

void nfi_buf_append(nfi_buf *b, const void *p, size_t n)
{
    if (!nfi_buf_reserve(b, n))
        return;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void nfi_buf_puts(nfi_buf *b, const char *s) { nfi_buf_append(b, s, strlen(s)); }

/* ------------------------------------------------------------ printf */

/* The reports format a few hundred thousand short pieces ("E%u", ",\"score\":
 * %.4f"), and vsnprintf costs about a thousand instructions a call, most of
 * it setting up its stream. A format that uses only the conversions below
 * is written here, with the bytes vsnprintf would write; any other goes to
 * vsnprintf. */

/* Whether fmt uses only %s, %c, %d, %u, %zu, %llu, %% and %.Nf (N one
 * digit), with no flag or width. */
static bool simple_format(const char *fmt)
{
    for (const char *p = fmt; (p = strchr(p, '%')) != NULL;) {
        p++;
        if (p[0] == '.' && p[1] >= '0' && p[1] <= '9' && p[2] == 'f')
            p += 3;
        else if (p[0] == 'z' && p[1] == 'u')
            p += 2;
        else if (p[0] == 'l' && p[1] == 'l' && p[2] == 'u')
            p += 3;
        else if (*p && strchr("scdu%", *p))
            p++;
        else
            return false;
    }
    return true;
}

static void put_u64(nfi_buf *b, uint64_t v)
{
    char d[20];
    size_t n = 0;
    do {
        d[sizeof d - ++n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    nfi_buf_append(b, d + sizeof d - n, n);
}

/* x with prec (0-9) decimals as %.*f writes it: the double's exact value
 * (mantissa times a power of two) times 10^prec, rounded to nearest with
 * ties to even (glibc's rounding in the default mode), a '-' whenever the
 * sign bit is set ("-0.0000"). false, writing nothing, when the digits
 * would pass 2^64 or x is not finite. */
static bool put_fixed(nfi_buf *b, double x, int prec)
{
    static const uint64_t pow10[10] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000};
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int biased = (int)(bits >> 52 & 0x7FF);
    if (biased == 0x7FF)
        return false;
    uint64_t mant = bits & ((1ull << 52) - 1);
    int e = biased ? biased - 1075 : -1074;
    if (biased)
        mant |= 1ull << 52;
    unsigned __int128 scaled = (unsigned __int128)mant * pow10[prec], q; /* < 2^83 */
    if (e >= 0) {
        if (e > 10)
            return false;
        q = scaled << e;
    } else if (e <= -128) {
        q = 0; /* below 2^83 / 2^128: rounds to 0 */
    } else {
        int sh = -e;
        q = scaled >> sh;
        unsigned __int128 rem = scaled - (q << sh), half = (unsigned __int128)1 << (sh - 1);
        q += rem > half || (rem == half && (q & 1));
    }
    if (q >> 64)
        return false;
    if (bits >> 63)
        nfi_buf_putc(b, '-');
    put_u64(b, (uint64_t)q / pow10[prec]);
    if (prec) {
        char d[10];
        d[0] = '.';
        uint64_t f = (uint64_t)q % pow10[prec];
        for (int i = prec; i > 0; i--, f /= 10)
            d[i] = (char)('0' + f % 10);
        nfi_buf_append(b, d, (size_t)prec + 1);
    }
    return true;
}

/* fmt (simple_format) with its arguments into b. */
static void put_formatted(nfi_buf *b, const char *fmt, va_list ap)
{
    for (const char *p = fmt;;) {
        const char *pc = strchr(p, '%');
        size_t lit = pc ? (size_t)(pc - p) : strlen(p);
        if (lit)
            nfi_buf_append(b, p, lit);
        if (!pc)
            return;
        p = pc + 1;
        switch (*p++) {
        case '%': nfi_buf_putc(b, '%'); break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            nfi_buf_puts(b, s ? s : "(null)");
            break;
        }
        case 'c': nfi_buf_putc(b, (char)(unsigned char)va_arg(ap, int)); break;
        case 'd': {
            int v = va_arg(ap, int);
            if (v < 0)
                nfi_buf_putc(b, '-');
            put_u64(b, v < 0 ? (uint64_t)0 - (uint64_t)(int64_t)v : (uint64_t)v);
            break;
        }
        case 'u': put_u64(b, va_arg(ap, unsigned)); break;
        case 'z': put_u64(b, va_arg(ap, size_t)), p++; break;
        case 'l': put_u64(b, va_arg(ap, unsigned long long)), p += 2; break;
        default: { /* '.': %.Nf */
            int prec = *p - '0';
            double x = va_arg(ap, double);
            p += 2;
            if (!put_fixed(b, x, prec)) {
                char tmp[512]; /* DBL_MAX has 309 digits */
                int n = snprintf(tmp, sizeof tmp, "%.*f", prec, x);
                if (n > 0)
                    nfi_buf_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
            }
        }
        }
    }
}

void nfi_buf_printf(nfi_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (simple_format(fmt)) {
        put_formatted(b, fmt, ap);
        va_end(ap);
        return;
    }
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        nfi_buf_append(b, small, (size_t)n);
        return;
    }
    if (!nfi_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *nfi_buf_take(nfi_buf *b, size_t *len)
{
    if (b->oom) {
        nfi_buf_free(b);
        return NULL;
    }
    if (!b->data)
        nfi_buf_append(b, "", 0);
    char *p = b->data;
    if (len)
        *len = b->len;
    nfi_buf_init(b);
    return p;
}

nf_status nfi_fail(nf_error *err, nf_status code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

char *nfi_strndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *nfi_strdup(const char *s) { return s ? nfi_strndup(s, strlen(s)) : NULL; }

uint64_t nfi_hash64(const void *p, size_t n) { return XXH3_64bits(p, n); }

bool nfi_str_ieq_prefix(const char *s, size_t n, const char *prefix)
{
    size_t i = 0;
    for (; prefix[i]; i++)
        if (i >= n || nfi_lower_ascii((unsigned char)s[i]) != nfi_lower_ascii((unsigned char)prefix[i]))
            return false;
    return true;
}

/* Whether one of 8 bytes is below 0x20, '"' or '\\' (SWAR: a byte's high
 * bit survives "x - k" only where x < k, and only when x itself lacks it;
 * exact for every byte value, so no false negatives or positives). */
static bool json_needs_escape8(const char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof x);
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t quote = x ^ (ones * '"'), slash = x ^ (ones * '\\');
    uint64_t lt20 = (x - ones * 0x20) & ~x & high;
    uint64_t zq = (quote - ones) & ~quote & high;
    uint64_t zs = (slash - ones) & ~slash & high;
    return (lt20 | zq | zs) != 0;
}

void nfi_json_string(nfi_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    nfi_buf_reserve(b, n + 2);
    nfi_buf_putc(b, '"');
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < n; i++) {
        /* eight bytes at a time while none needs an escape (no control
         * byte, '"' or '\\'): the usual text is passed over at word speed */
        while (i + 8 <= n && !json_needs_escape8(s + i))
            i += 8;
        if (i >= n)
            break;
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        nfi_buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': nfi_buf_append(b, "\\\"", 2); break;
        case '\\': nfi_buf_append(b, "\\\\", 2); break;
        case '\n': nfi_buf_append(b, "\\n", 2); break;
        case '\r': nfi_buf_append(b, "\\r", 2); break;
        case '\t': nfi_buf_append(b, "\\t", 2); break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            nfi_buf_append(b, esc, 6);
        }
        }
    }
    nfi_buf_append(b, s + run, n - run);
    nfi_buf_putc(b, '"');
}

void nfi_json_cstr_or_null(nfi_buf *b, const char *s)
{
    if (s)
        nfi_json_string(b, s, strlen(s));
    else
        nfi_buf_puts(b, "null");
}

char *nfi_read_file(const char *path, size_t *len)
{
    gzFile f = gzopen(path, "rb"); /* reads plain files unchanged */
    if (!f)
        return NULL;
    nfi_buf b;
    nfi_buf_init(&b);
    char chunk[1 << 16];
    int n;
    while ((n = gzread(f, chunk, sizeof chunk)) > 0)
        nfi_buf_append(&b, chunk, (size_t)n);
    int zerr = Z_OK;
    gzerror(f, &zerr);
    gzclose(f);
    if (n < 0 || (zerr != Z_OK && zerr != Z_BUF_ERROR)) {
        nfi_buf_free(&b);
        return NULL;
    }
    return nfi_buf_take(&b, len);
}

void *nfi_grow_array(void *items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return items;
    size_t n = *cap ? *cap : 64;
    while (n < need) {
        if (n > SIZE_MAX / 2 / size)
            return NULL;
        n *= 2;
    }
    void *p = realloc(items, n * size);
    if (p)
        *cap = n;
    return p;
}

int nfi_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

size_t nfi_lower_bound_u64(const uint64_t *v, size_t n, uint64_t key)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
