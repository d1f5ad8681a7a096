/*
 * charset.c - any page encoding to UTF-8.
 *
 * Decision order (see nfi_charset_to_utf8 in html.h):
 *   1. a byte order mark (UTF-8, UTF-16LE/BE) wins and is stripped;
 *   2. bytes that are valid UTF-8 and contain non-ASCII are UTF-8 whatever
 *      the page declares: pages declaring Latin-1 while sending UTF-8 are
 *      common, while legacy text that happens to form valid multi-byte
 *      UTF-8 is rare. Pure ASCII needs no conversion either, except for
 *      7-bit encodings with escape sequences (ISO-2022-*);
 *   3. otherwise the HTTP charset, then the page's own declaration
 *      (<meta charset>, http-equiv Content-Type, <?xml encoding?>) found by
 *      a prescan of the head, then ICU's detector (markup filtered out),
 *      then windows-1252. A page declaring UTF-8 whose bytes are mostly but
 *      not entirely valid stays UTF-8 (later repair marks the bad bytes).
 * Labels are mapped the way browsers do (WHATWG Encoding): latin1 and ascii
 * mean windows-1252, gb2312 means GB18030, and so on; ICU resolves the rest.
 * Conversion uses ICU's ucnv; unmappable bytes become U+FFFD.
 */
#include "ingest/ingest.h"

#include <stdio.h>
#include <string.h>
#include <unicode/ucnv.h>
#include <unicode/ucsdet.h>

#define PRESCAN_BYTES 16384 /* the declaration lives in the head */
#define DETECT_BYTES 65536

/* --------------------------------------------------------------- labels */

static bool label_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == ':';
}

/* Copies a label starting at s (after optional quotes/spaces); 1 if any. */
static int copy_label(const char *s, const char *end, char name[NF_CHARSET_NAME_MAX])
{
    while (s < end && (nfi_is_space((unsigned char)*s) || *s == '"' || *s == '\''))
        s++;
    size_t n = 0;
    while (s < end && label_char((unsigned char)*s) && n + 1 < NF_CHARSET_NAME_MAX)
        name[n++] = (char)nfi_lower_ascii((unsigned char)*s++);
    name[n] = '\0';
    return n > 0;
}

/* Finds "charset" (any case) then '=' in [s,end) and copies the label. */
static int label_after_charset(const char *s, const char *end, const char *key,
                               char name[NF_CHARSET_NAME_MAX])
{
    size_t k = strlen(key);
    for (const char *p = s; p + k <= end; p++) {
        if (!nfi_str_ieq_prefix(p, (size_t)(end - p), key))
            continue;
        const char *q = p + k;
        while (q < end && nfi_is_space((unsigned char)*q))
            q++;
        if (q < end && *q == '=')
            return copy_label(q + 1, end, name);
    }
    return 0;
}

int nfi_charset_from_content_type(const char *ct, char name[NF_CHARSET_NAME_MAX])
{
    name[0] = '\0';
    return ct ? label_after_charset(ct, ct + strlen(ct), "charset", name) : 0;
}

static bool label_is(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

/* The converter name browsers would use for a label ("" = UTF-8). */
static const char *canonical_label(const char *name)
{
    static const char *const utf8[] = {"utf-8", "utf8", "unicode-1-1-utf-8", "utf-16", "utf-16le",
                                       "utf-16be", "unicode", "ucs-2", "x-user-defined"};
    static const char *const w1252[] = {"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1",
                                        "ascii", "us-ascii", "cp1252", "windows-1252", "x-cp1252",
                                        "iso-ir-100", "ibm819", "cp819", "csisolatin1", "iso88591"};
    static const char *const gb[] = {"gb2312", "gbk", "x-gbk", "chinese", "csgb2312", "gb_2312-80",
                                     "gb_2312", "iso-ir-58", "cp936", "gb18030"};
    static const char *const sjis[] = {"shift_jis", "shift-jis", "sjis", "x-sjis", "ms932",
                                       "ms_kanji", "windows-31j", "csshiftjis"};
    static const char *const kr[] = {"euc-kr", "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601",
                                     "ksc_5601", "windows-949", "cseuckr", "korean"};
    static const char *const latin5[] = {"iso-8859-9", "latin5", "l5", "iso8859-9", "windows-1254"};
    static const char *const thai[] = {"tis-620", "iso-8859-11", "windows-874", "dos-874"};
    if (label_is(name, utf8, sizeof utf8 / sizeof *utf8))
        return "";
    if (label_is(name, w1252, sizeof w1252 / sizeof *w1252))
        return "windows-1252";
    if (label_is(name, gb, sizeof gb / sizeof *gb))
        return "gb18030";
    if (label_is(name, sjis, sizeof sjis / sizeof *sjis))
        return "windows-31j";
    if (label_is(name, kr, sizeof kr / sizeof *kr))
        return "windows-949";
    if (label_is(name, latin5, sizeof latin5 / sizeof *latin5))
        return "windows-1254";
    if (label_is(name, thai, sizeof thai / sizeof *thai))
        return "windows-874";
    return name;
}

/* ------------------------------------------------------------- prescan */

/* Finds the declared encoding in the head: <meta ...charset=...> in either
 * form, or <?xml ... encoding="..."?>. */
static int prescan(const char *page, size_t len, char name[NF_CHARSET_NAME_MAX])
{
    const char *end = page + (len < PRESCAN_BYTES ? len : PRESCAN_BYTES);
    if (nfi_str_ieq_prefix(page, (size_t)(end - page), "<?xml")) {
        const char *close = memchr(page, '>', (size_t)(end - page));
        if (close && label_after_charset(page, close, "encoding", name))
            return 1;
    }
    for (const char *p = page; (p = memchr(p, '<', (size_t)(end - p))) != NULL; p++) {
        if (!nfi_str_ieq_prefix(p + 1, (size_t)(end - p - 1), "meta"))
            continue;
        const char *close = memchr(p, '>', (size_t)(end - p));
        if (!close)
            return 0;
        if (label_after_charset(p, close, "charset", name))
            return 1;
    }
    return 0;
}

/* --------------------------------------------------------------- UTF-8 */

typedef struct utf8_scan {
    size_t valid_multi, invalid;
    bool has_esc;
} utf8_scan;

static size_t sequence_length(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t need = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (c >= 0xF5 || need == 0 || n < need)
        return 0;
    for (size_t k = 1; k < need; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] >= 0x90))
        return 0;
    return need;
}

static utf8_scan scan_utf8(const unsigned char *s, size_t len)
{
    utf8_scan r = {0, 0, false};
    size_t i = 0;
    while (i < len) {
        while (i + 8 <= len) { /* ASCII runs, eight bytes at a time */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            if (((w ^ 0x1B1B1B1B1B1B1B1Bull) - 0x0101010101010101ull) & ~(w ^ 0x1B1B1B1B1B1B1B1Bull) &
                0x8080808080808080ull)
                r.has_esc = true;
            i += 8;
        }
        if (i >= len)
            break;
        if (s[i] < 0x80) {
            r.has_esc |= s[i] == 0x1B;
            i++;
            continue;
        }
        size_t n = sequence_length(s + i, len - i);
        if (n) {
            r.valid_multi++;
            i += n;
        } else {
            r.invalid++;
            i++;
        }
    }
    return r;
}

/* ------------------------------------------------------------- convert */

static nf_status convert(const char *page, size_t len, const char *label, nfi_buf *out, nf_error *err)
{
    UErrorCode uerr = U_ZERO_ERROR;
    UConverter *cnv = ucnv_open(label, &uerr);
    if (U_FAILURE(uerr))
        return NF_ERR_PARSE; /* unknown label: caller falls back */
    for (size_t factor = 3; factor <= 4; factor++) {
        out->len = 0;
        size_t cap = len * factor + 16;
        if (len > INT32_MAX / 4 || !nfi_buf_reserve(out, cap)) {
            ucnv_close(cnv);
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory converting from %s", label);
        }
        uerr = U_ZERO_ERROR;
        int32_t n = ucnv_toAlgorithmic(UCNV_UTF8, cnv, out->data, (int32_t)cap, page, (int32_t)len, &uerr);
        if (U_SUCCESS(uerr)) {
            out->len = (size_t)n;
            out->data[n] = '\0';
            ucnv_close(cnv);
            return NF_OK;
        }
        if (uerr != U_BUFFER_OVERFLOW_ERROR)
            break;
    }
    ucnv_close(cnv);
    return NF_ERR_PARSE;
}

/* ICU's detector on the start of the page; NULL when unsure. */
static const char *detect(const char *page, size_t len, char name[NF_CHARSET_NAME_MAX])
{
    UErrorCode uerr = U_ZERO_ERROR;
    UCharsetDetector *det = ucsdet_open(&uerr);
    if (U_FAILURE(uerr))
        return NULL;
    ucsdet_enableInputFilter(det, true);
    ucsdet_setText(det, page, (int32_t)(len < DETECT_BYTES ? len : DETECT_BYTES), &uerr);
    const UCharsetMatch *m = ucsdet_detect(det, &uerr);
    const char *found = NULL;
    if (U_SUCCESS(uerr) && m && ucsdet_getConfidence(m, &uerr) >= 20) {
        const char *n = ucsdet_getName(m, &uerr);
        if (U_SUCCESS(uerr) && n && copy_label(n, n + strlen(n), name))
            found = name;
    }
    ucsdet_close(det);
    return found;
}

/* UTF-8 needs no copy: out stays empty and the caller reads the page. */
static nf_status take_as_utf8(const char *page, size_t len, nfi_buf *out, char charset[NF_CHARSET_NAME_MAX])
{
    (void)page;
    (void)len;
    out->len = 0;
    strcpy(charset, "utf-8");
    return NF_OK;
}

static nf_status try_label(const char *page, size_t len, const char *label, nfi_buf *out,
                           char charset[NF_CHARSET_NAME_MAX], nf_error *err)
{
    const char *canon = canonical_label(label);
    if (!*canon)
        return take_as_utf8(page, len, out, charset);
    nf_status st = convert(page, len, canon, out, err);
    if (st == NF_OK)
        snprintf(charset, NF_CHARSET_NAME_MAX, "%s", canon);
    return st;
}

static nf_status from_bom(const char *page, size_t len, nfi_buf *out, char charset[NF_CHARSET_NAME_MAX],
                          nf_error *err, bool *done)
{
    const unsigned char *s = (const unsigned char *)page;
    *done = true;
    if (len >= 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) {
        out->len = 0;
        nfi_buf_append(out, page + 3, len - 3);
        strcpy(charset, "utf-8");
        return out->oom ? NF_ERR_NOMEM : NF_OK;
    }
    const char *label = len >= 2 && s[0] == 0xFF && s[1] == 0xFE   ? "utf-16le"
                        : len >= 2 && s[0] == 0xFE && s[1] == 0xFF ? "utf-16be"
                                                                   : NULL;
    if (!label) {
        *done = false;
        return NF_OK;
    }
    nf_status st = convert(page + 2, len - 2, label, out, err);
    if (st == NF_OK)
        strcpy(charset, label);
    return st == NF_ERR_PARSE ? take_as_utf8(page, len, out, charset) : st;
}

nf_status nfi_charset_to_utf8(const char *page, size_t len, const char *content_type, nfi_buf *out,
                             char charset[NF_CHARSET_NAME_MAX], nf_error *err)
{
    bool done;
    nf_status st = from_bom(page, len, out, charset, err, &done);
    if (done)
        return st == NF_ERR_NOMEM ? nfi_fail(err, st, "out of memory") : st;
    utf8_scan scan = scan_utf8((const unsigned char *)page, len);
    char http[NF_CHARSET_NAME_MAX], meta[NF_CHARSET_NAME_MAX], sniffed[NF_CHARSET_NAME_MAX];
    const char *declared = nfi_charset_from_content_type(content_type, http) ? http
                           : prescan(page, len, meta)                       ? meta
                                                                            : NULL;
    bool ascii = scan.valid_multi == 0 && scan.invalid == 0;
    if ((scan.invalid == 0 && !ascii) || (ascii && !(scan.has_esc && declared)))
        return take_as_utf8(page, len, out, charset);
    if (declared && !*canonical_label(declared) && scan.valid_multi >= 4 * scan.invalid)
        return take_as_utf8(page, len, out, charset);
    /* a UTF-8 declaration contradicted by most of the bytes is ignored */
    const char *label = declared && *canonical_label(declared) ? declared : NULL;
    for (int i = 0; i < 3; i++) {
        if (i == 1)
            label = detect(page, len, sniffed);
        else if (i == 2)
            label = "windows-1252";
        if (!label)
            continue;
        st = try_label(page, len, label, out, charset, err);
        if (st != NF_ERR_PARSE)
            return st == NF_ERR_NOMEM ? nfi_fail(err, st, "out of memory") : st;
    }
    return take_as_utf8(page, len, out, charset);
}
