/*
 * warc.c - WARC files (.warc, .warc.gz): every HTML response record is one
 * document; other records are skipped and counted.
 *
 * Layers:
 * 1. A byte stream with a read window. A .warc file goes through the
 *    reader's gzFile. A .warc.gz is inflated here, member by member (WARC
 *    puts one gzip member per record), so that a corrupt member costs one
 *    record, not the rest of the file: on an inflate error the stream scans
 *    for the next gzip header (1f 8b 08) after the bad member's start and
 *    goes on. Member starts are remembered so a record is named by the file
 *    offset of its member, the offset WARC indexes (CDX) use; in a plain
 *    file a record is named by its byte offset.
 * 2. Records. "WARC/1.x" line, header fields up to a blank line,
 *    Content-Length bytes of block. response (application/http) and
 *    resource records with an HTML payload are kept; request, metadata,
 *    warcinfo, revisit, non-HTML and non-2xx responses are skipped and
 *    counted (nfi_source.ignored). A record with no version line or no valid
 *    Content-Length is reported and the stream resynchronises at the next
 *    line that opens with "WARC/".
 * 3. HTTP. Status line and headers are parsed for the status, Content-Type
 *    (its charset goes to the decoder), Content-Encoding (gzip and deflate
 *    are undone, bounded by the page limit), Transfer-Encoding: chunked, and
 *    Last-Modified. The document id is WARC-Target-URI (or WARC-Record-ID),
 *    url the target URI until the page names a canonical one, and
 *    extract->fetched the WARC-Date.
 * Payloads above the page limit (20 MiB default) are skipped without being
 * held in memory. Everything is bounded: header blocks (64 KiB), lines,
 * chunk sizes, decompressed sizes.
 */
#include "ingest/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WS_IN_BYTES (256u << 10)
#define WS_CHUNK (256u << 10)
#define HEADER_MAX (64u << 10)
#define MEMBER_RING 32

typedef struct member_mark {
    uint64_t out; /* stream offset where the member's data starts */
    uint64_t file; /* file offset of its gzip header */
} member_mark;

typedef struct wstream {
    gzFile gz; /* plain mode */
    int fd;    /* member mode when >= 0 */
    z_stream z;
    bool z_ready, in_member, eof;
    unsigned char *in;
    size_t in_len, in_pos;
    uint64_t in_base; /* file offset of in[0] */
    char *buf;
    size_t len, pos, cap;
    uint64_t out_base; /* stream offset of buf[0] */
    member_mark marks[MEMBER_RING];
    size_t n_marks;
    uint64_t bad_member; /* file offset of the member that failed */
} wstream;

typedef struct warc_state {
    wstream ws;
    nfi_buf header, block, scratch;
    uint64_t records;
} warc_state;

/* ------------------------------------------------------------- stream */

static uint64_t ws_tell(const wstream *ws) { return ws->out_base + ws->pos; }

/* The file offset naming the record that starts at stream offset at. */
static uint64_t ws_record_offset(const wstream *ws, uint64_t at)
{
    if (ws->fd < 0)
        return at;
    const member_mark *best = NULL;
    size_t n = ws->n_marks < MEMBER_RING ? ws->n_marks : MEMBER_RING;
    for (size_t i = 0; i < n; i++) {
        const member_mark *m = &ws->marks[i];
        if (m->out <= at && (!best || m->out >= best->out))
            best = m;
    }
    return best ? best->file : at;
}

static void ws_mark_member(wstream *ws)
{
    member_mark *m = &ws->marks[ws->n_marks % MEMBER_RING];
    m->out = ws->out_base + ws->len;
    m->file = ws->in_base + ws->in_pos;
    if (++ws->n_marks >= 2 * MEMBER_RING)
        ws->n_marks -= MEMBER_RING; /* keeps indices small; ring order holds */
}

static nf_status ws_read_file(wstream *ws, const char *path, nf_error *err)
{
    ws->in_base += ws->in_len;
    ws->in_len = ws->in_pos = 0;
    ssize_t n;
    do
        n = read(ws->fd, ws->in, WS_IN_BYTES);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return nfi_fail(err, NF_ERR_IO, "%s: read error: %s", path, strerror(errno));
    ws->in_len = (size_t)n;
    return NF_OK;
}

/* File bytes read so far (for progress). */
static uint64_t ws_consumed(const wstream *ws) { return ws->in_base + ws->in_len; }

/* Inflates into buf[len..cap); NF_ERR_PARSE on a corrupt member. */
static nf_status ws_inflate(wstream *ws, const char *path, nf_error *err)
{
    if (ws->in_pos == ws->in_len) {
        nf_status st = ws_read_file(ws, path, err);
        if (st != NF_OK)
            return st;
        if (ws->in_len == 0) {
            ws->eof = true;
            if (ws->in_member) {
                ws->bad_member = ws->marks[(ws->n_marks - 1) % MEMBER_RING].file;
                return nfi_fail(err, NF_ERR_PARSE, "%s: gzip member at offset %llu is truncated", path,
                               (unsigned long long)ws->bad_member);
            }
            return NF_OK;
        }
    }
    if (!ws->in_member) {
        ws_mark_member(ws);
        ws->in_member = true;
    }
    ws->z.next_in = ws->in + ws->in_pos;
    ws->z.avail_in = (uInt)(ws->in_len - ws->in_pos);
    ws->z.next_out = (Bytef *)ws->buf + ws->len;
    ws->z.avail_out = (uInt)(ws->cap - ws->len);
    int zr = inflate(&ws->z, Z_NO_FLUSH);
    ws->in_pos = ws->in_len - ws->z.avail_in;
    ws->len = ws->cap - ws->z.avail_out;
    if (zr == Z_STREAM_END) {
        ws->in_member = false;
        inflateReset(&ws->z);
    } else if (zr != Z_OK && zr != Z_BUF_ERROR) {
        ws->bad_member = ws->marks[(ws->n_marks - 1) % MEMBER_RING].file;
        return nfi_fail(err, NF_ERR_PARSE, "%s: corrupt gzip member at offset %llu: %s", path,
                       (unsigned long long)ws->bad_member, ws->z.msg ? ws->z.msg : "inflate error");
    }
    return NF_OK;
}

/* Makes more bytes available after buf[len]. NF_OK with eof set at the end. */
static nf_status ws_fill(wstream *ws, const char *path, nf_error *err)
{
    if (ws->pos > 0) {
        memmove(ws->buf, ws->buf + ws->pos, ws->len - ws->pos);
        ws->out_base += ws->pos;
        ws->len -= ws->pos;
        ws->pos = 0;
    }
    if (ws->cap - ws->len < WS_CHUNK / 2) {
        size_t cap = ws->cap ? ws->cap * 2 : WS_CHUNK;
        char *b = realloc(ws->buf, cap);
        if (!b)
            return nfi_fail(err, NF_ERR_NOMEM, "%s: out of memory", path);
        ws->buf = b;
        ws->cap = cap;
    }
    size_t before = ws->len;
    while (ws->len == before && !ws->eof) {
        if (ws->fd < 0) {
            int n = gzread(ws->gz, ws->buf + ws->len, (unsigned)(ws->cap - ws->len));
            if (n < 0) {
                int zerr;
                return nfi_fail(err, NF_ERR_IO, "%s: read error near offset %llu: %s", path,
                               (unsigned long long)(ws->out_base + ws->len), gzerror(ws->gz, &zerr));
            }
            if (n == 0 && nfi_gz_check_end(ws->gz, path, err) != NF_OK)
                return NF_ERR_IO;
            ws->eof = n == 0;
            ws->len += (size_t)n;
        } else {
            nf_status st = ws_inflate(ws, path, err);
            if (st != NF_OK)
                return st;
        }
    }
    return NF_OK;
}

/* After a corrupt member: drop the window and restart at the next gzip
 * header after the bad member's start. */
static nf_status ws_resync_member(wstream *ws, const char *path, nf_error *err)
{
    ws->out_base += ws->len;
    ws->len = ws->pos = 0;
    ws->in_member = false;
    ws->eof = false;
    inflateReset(&ws->z);
    uint64_t from = ws->bad_member + 1;
    if (lseek(ws->fd, (off_t)from, SEEK_SET) < 0)
        return nfi_fail(err, NF_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
    ws->in_base = from;
    ws->in_len = ws->in_pos = 0;
    for (;;) {
        nf_status st = ws_read_file(ws, path, err);
        if (st != NF_OK)
            return st;
        if (ws->in_len < 3) {
            ws->eof = true;
            return NF_OK;
        }
        for (size_t i = 0; i + 2 < ws->in_len; i++) {
            if (ws->in[i] == 0x1f && ws->in[i + 1] == 0x8b && ws->in[i + 2] == 0x08) {
                ws->in_pos = i;
                return NF_OK;
            }
        }
        /* keep the last two bytes: a header may straddle reads */
        off_t back = (off_t)(ws->in_base + ws->in_len - 2);
        if (lseek(ws->fd, back, SEEK_SET) < 0)
            return nfi_fail(err, NF_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
        ws->in_base = (uint64_t)back;
        ws->in_len = 0;
    }
}

/* Reads a line (without CR LF) of at most max bytes. NF_END at end of
 * stream; NF_ERR_PARSE when longer than max. */
static nf_status ws_getline(wstream *ws, const char *path, size_t max, const char **line, size_t *len,
                            nf_error *err)
{
    size_t scanned = 0;
    for (;;) {
        char *start = ws->buf + ws->pos;
        size_t avail = ws->len - ws->pos;
        char *nl = avail > scanned ? memchr(start + scanned, '\n', avail - scanned) : NULL;
        if (nl || (ws->eof && avail > 0)) {
            size_t n = nl ? (size_t)(nl - start) : avail;
            ws->pos += nl ? n + 1 : n;
            if (n > 0 && start[n - 1] == '\r')
                n--;
            *line = start;
            *len = n;
            return NF_OK;
        }
        if (ws->eof)
            return NF_END;
        if (avail > max)
            return nfi_fail(err, NF_ERR_PARSE, "%s: line longer than %zu bytes near offset %llu", path, max,
                           (unsigned long long)ws_tell(ws));
        scanned = avail;
        nf_status st = ws_fill(ws, path, err);
        if (st != NF_OK)
            return st;
    }
}

/* Reads n bytes into out (or skips them when out is NULL). NF_END when the
 * stream ends first. */
static nf_status ws_read(wstream *ws, const char *path, uint64_t n, nfi_buf *out, nf_error *err)
{
    while (n > 0) {
        if (ws->pos == ws->len) {
            nf_status st = ws_fill(ws, path, err);
            if (st != NF_OK)
                return st;
            if (ws->pos == ws->len)
                return NF_END;
        }
        size_t take = ws->len - ws->pos;
        if (take > n)
            take = (size_t)n;
        if (out)
            nfi_buf_append(out, ws->buf + ws->pos, take);
        ws->pos += take;
        n -= take;
    }
    return out && out->oom ? nfi_fail(err, NF_ERR_NOMEM, "%s: out of memory", path) : NF_OK;
}

/* --------------------------------------------------------- header fields */

/* Value of header field name (case-insensitive) in a block of "Name: value"
 * lines, copied trimmed into out; NULL when absent. */
static const char *field(const char *block, size_t len, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    const char *end = block + len;
    for (const char *p = block; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *stop = eol ? eol : end;
        if ((size_t)(stop - p) > n && nfi_str_ieq_prefix(p, (size_t)(stop - p), name) && p[n] == ':') {
            const char *v = p + n + 1;
            while (v < stop && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = stop;
            while (ve > v && nfi_is_space((unsigned char)ve[-1]))
                ve--;
            size_t k = (size_t)(ve - v) < cap - 1 ? (size_t)(ve - v) : cap - 1;
            memcpy(out, v, k);
            out[k] = '\0';
            return out;
        }
        p = eol ? eol + 1 : end;
    }
    return NULL;
}

static bool parse_length(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

static bool contains_ci(const char *s, const char *needle)
{
    size_t n = s ? strlen(s) : 0;
    for (size_t i = 0; i < n; i++)
        if (nfi_str_ieq_prefix(s + i, n - i, needle))
            return true;
    return false;
}

static bool html_type(const char *ct)
{
    return contains_ci(ct, "text/html") || contains_ci(ct, "application/xhtml");
}

/* ------------------------------------------------------------ HTTP body */

/* Undoes chunked transfer coding in place. */
static bool dechunk(nfi_buf *b)
{
    size_t in = 0, out = 0;
    while (in < b->len) {
        char *end;
        unsigned long long size = strtoull(b->data + in, &end, 16);
        const char *eol = memchr(b->data + in, '\n', b->len - in);
        if (end == b->data + in || !eol)
            return false;
        in = (size_t)(eol - b->data) + 1;
        if (size == 0)
            break;
        if (size > b->len - in)
            size = b->len - in; /* truncated: keep what is there */
        memmove(b->data + out, b->data + in, (size_t)size);
        out += (size_t)size;
        in += (size_t)size;
        while (in < b->len && (b->data[in] == '\r' || b->data[in] == '\n'))
            in++;
    }
    b->len = out;
    b->data[out] = '\0';
    return true;
}

/* Inflates a gzip or zlib body into out, at most max bytes. */
static nf_status decode_body(const nfi_buf *in, size_t max, nfi_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK)
        return NF_ERR_NOMEM;
    z.next_in = (Bytef *)in->data;
    z.avail_in = (uInt)in->len;
    out->len = 0;
    int zr = Z_OK;
    while (zr == Z_OK) {
        if (!nfi_buf_reserve(out, WS_CHUNK)) {
            inflateEnd(&z);
            return NF_ERR_NOMEM;
        }
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = WS_CHUNK;
        zr = inflate(&z, Z_NO_FLUSH);
        out->len += WS_CHUNK - z.avail_out;
        if (out->len > max) {
            inflateEnd(&z);
            return NF_SKIPPED;
        }
        if (zr == Z_BUF_ERROR && z.avail_in == 0)
            break; /* truncated body: keep what inflated */
    }
    inflateEnd(&z);
    out->data[out->len] = '\0';
    return zr == Z_STREAM_END || zr == Z_BUF_ERROR ? NF_OK : NF_ERR_PARSE;
}

/* ----------------------------------------------------------- records */

typedef struct record {
    uint64_t offset, length, number;
    char type[32], uri[2048], id[256], date[64], content_type[256];
} record;

static nf_status read_header(warc_state *s, nfi_source *src, record *r, nf_error *err)
{
    const char *line;
    size_t len;
    nf_status st;
    uint64_t at;
    do { /* blank lines between records */
        at = ws_tell(&s->ws);
        st = ws_getline(&s->ws, src->path, HEADER_MAX, &line, &len, err);
    } while (st == NF_OK && len == 0);
    if (st != NF_OK)
        return st;
    r->offset = ws_record_offset(&s->ws, at); /* now that its member is marked */
    r->number = ++s->records;
    if (len < 6 || memcmp(line, "WARC/", 5) != 0)
        return nfi_fail(err, NF_ERR_PARSE, "%s: no WARC record at offset %llu", src->path,
                       (unsigned long long)r->offset);
    s->header.len = 0;
    for (;;) {
        st = ws_getline(&s->ws, src->path, HEADER_MAX, &line, &len, err);
        if (st == NF_END)
            return nfi_fail(err, NF_ERR_PARSE, "%s: record at offset %llu: header truncated", src->path,
                           (unsigned long long)r->offset);
        if (st != NF_OK)
            return st;
        if (len == 0)
            break;
        if (s->header.len + len > HEADER_MAX)
            return nfi_fail(err, NF_ERR_PARSE, "%s: record at offset %llu: header over %u bytes", src->path,
                           (unsigned long long)r->offset, HEADER_MAX);
        nfi_buf_append(&s->header, line, len);
        nfi_buf_putc(&s->header, '\n');
    }
    return NF_OK;
}

static nf_status parse_fields(warc_state *s, nfi_source *src, record *r, nf_error *err)
{
    char num[32];
    const char *h = s->header.data ? s->header.data : "";
    if (!parse_length(field(h, s->header.len, "Content-Length", num, sizeof num), &r->length))
        return nfi_fail(err, NF_ERR_PARSE, "%s: record at offset %llu: no valid Content-Length", src->path,
                       (unsigned long long)r->offset);
    if (!field(h, s->header.len, "WARC-Type", r->type, sizeof r->type))
        r->type[0] = '\0';
    if (!field(h, s->header.len, "WARC-Target-URI", r->uri, sizeof r->uri))
        r->uri[0] = '\0';
    if (!field(h, s->header.len, "WARC-Record-ID", r->id, sizeof r->id))
        r->id[0] = '\0';
    if (!field(h, s->header.len, "WARC-Date", r->date, sizeof r->date))
        r->date[0] = '\0';
    if (!field(h, s->header.len, "Content-Type", r->content_type, sizeof r->content_type))
        r->content_type[0] = '\0';
    /* some writers wrap the URI in angle brackets (WARC 1.0 grammar) */
    size_t ul = strlen(r->uri);
    if (ul >= 2 && r->uri[0] == '<' && r->uri[ul - 1] == '>') {
        memmove(r->uri, r->uri + 1, ul - 2);
        r->uri[ul - 2] = '\0';
    }
    return NF_OK;
}

/* Resync after a bad record: on to the next line that opens with "WARC/".
 * The window is scanned and dropped as it goes, so junk without line
 * breaks costs no memory. */
static nf_status resync_lines(warc_state *s, nfi_source *src, nf_error *err)
{
    wstream *ws = &s->ws;
    for (;;) {
        if (ws->len - ws->pos < 5 && !ws->eof) {
            nf_status st = ws_fill(ws, src->path, err);
            if (st != NF_OK)
                return st;
            continue;
        }
        if (ws->len - ws->pos >= 5 && memcmp(ws->buf + ws->pos, "WARC/", 5) == 0)
            return NF_OK; /* the bad record ended where the next begins */
        const char *start = ws->buf + ws->pos, *end = ws->buf + ws->len;
        for (const char *p = start; p + 6 <= end; p++) {
            p = memchr(p, '\n', (size_t)(end - p - 5));
            if (!p)
                break;
            if (memcmp(p + 1, "WARC/", 5) == 0) {
                ws->pos = (size_t)(p + 1 - ws->buf);
                return NF_OK;
            }
        }
        if (ws->eof) {
            ws->pos = ws->len;
            return NF_OK;
        }
        if (ws->len - ws->pos > 5)
            ws->pos = ws->len - 5; /* a "\nWARC" may straddle the refill */
        nf_status st = ws_fill(ws, src->path, err);
        if (st != NF_OK)
            return st;
    }
}

/* -------------------------------------------------------------- payload */

typedef struct http_info {
    int status;
    char content_type[256], encoding[64], transfer[64], last_modified[64];
    size_t body_at;
} http_info;

static bool parse_http(const nfi_buf *block, http_info *h)
{
    memset(h, 0, sizeof *h);
    const char *d = block->data;
    if (block->len < 12 || memcmp(d, "HTTP/", 5) != 0)
        return false;
    const char *sp = memchr(d, ' ', block->len < 32 ? block->len : 32);
    h->status = sp ? atoi(sp + 1) : 0;
    const char *hdr_end = NULL;
    for (size_t i = 0; i + 1 < block->len && i < HEADER_MAX; i++) {
        if (d[i] == '\n' && (d[i + 1] == '\n' || (d[i + 1] == '\r' && i + 2 < block->len && d[i + 2] == '\n'))) {
            hdr_end = d + i + 1;
            h->body_at = i + (d[i + 1] == '\n' ? 2 : 3);
            break;
        }
    }
    if (!hdr_end) {
        h->body_at = block->len;
        hdr_end = d + block->len;
    }
    size_t hl = (size_t)(hdr_end - d);
    if (!field(d, hl, "Content-Type", h->content_type, sizeof h->content_type))
        h->content_type[0] = '\0';
    if (!field(d, hl, "Content-Encoding", h->encoding, sizeof h->encoding))
        h->encoding[0] = '\0';
    if (!field(d, hl, "Transfer-Encoding", h->transfer, sizeof h->transfer))
        h->transfer[0] = '\0';
    if (!field(d, hl, "Last-Modified", h->last_modified, sizeof h->last_modified))
        h->last_modified[0] = '\0';
    return true;
}

static bool sniff_html(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && i < 512 && nfi_is_space((unsigned char)s[i]))
        i++;
    return nfi_str_ieq_prefix(s + i, len - i, "<!doctype html") || nfi_str_ieq_prefix(s + i, len - i, "<html") ||
           nfi_str_ieq_prefix(s + i, len - i, "<head");
}

/* Turns the HTTP block into the bare payload in s->block; NF_END when the
 * record is not an HTML page worth a document (counted, not reported). */
static nf_status http_payload(warc_state *s, nfi_source *src, const record *r, http_info *h, nf_error *err)
{
    if (!parse_http(&s->block, h))
        return nfi_fail(err, NF_SKIPPED, "%s: record at offset %llu (%s): malformed HTTP response", src->path,
                       (unsigned long long)r->offset, r->uri);
    if (h->status < 200 || h->status > 299)
        return NF_END;
    nfi_buf *b = &s->block;
    memmove(b->data, b->data + h->body_at, b->len - h->body_at);
    b->len -= h->body_at;
    b->data[b->len] = '\0';
    if (h->content_type[0] ? !html_type(h->content_type) : !sniff_html(b->data, b->len))
        return NF_END;
    if (contains_ci(h->transfer, "chunked") && !dechunk(b))
        return nfi_fail(err, NF_SKIPPED, "%s: record at offset %llu (%s): bad chunked encoding", src->path,
                       (unsigned long long)r->offset, r->uri);
    if (!h->encoding[0] || contains_ci(h->encoding, "identity"))
        return NF_OK;
    if (!contains_ci(h->encoding, "gzip") && !contains_ci(h->encoding, "deflate"))
        return nfi_fail(err, NF_SKIPPED, "%s: record at offset %llu (%s): unsupported Content-Encoding %s",
                       src->path, (unsigned long long)r->offset, r->uri, h->encoding);
    nf_status st = decode_body(b, src->max_page, &s->scratch);
    if (st == NF_ERR_NOMEM)
        return nfi_fail(err, st, "%s: out of memory", src->path);
    if (st != NF_OK)
        return nfi_fail(err, NF_SKIPPED, "%s: record at offset %llu (%s): %s", src->path,
                       (unsigned long long)r->offset, r->uri,
                       st == NF_SKIPPED ? "decoded payload over the page limit" : "corrupt compressed payload");
    nfi_buf tmp = *b;
    *b = s->scratch;
    s->scratch = tmp;
    return NF_OK;
}

/* ---------------------------------------------------------- documents */

static nf_status make_doc(warc_state *s, nfi_source *src, const record *r, const http_info *h, nf_doc *doc,
                          nf_error *err)
{
    nf_extract_info *info = calloc(1, sizeof *info);
    doc->extract = info;
    doc->id = nfi_strdup(r->uri[0] ? r->uri : r->id[0] ? r->id : "");
    doc->url = r->uri[0] ? nfi_strdup(r->uri) : NULL;
    doc->origin = nfi_strdup(src->path);
    doc->record = r->number;
    if (!info || !doc->id || !doc->origin)
        return NF_ERR_NOMEM;
    if (!doc->id[0]) {
        free(doc->id);
        char id[64];
        snprintf(id, sizeof id, "%s@%llu", src->rel, (unsigned long long)r->offset);
        if (!(doc->id = nfi_strdup(id)))
            return NF_ERR_NOMEM;
    }
    info->offset = r->offset;
    info->from_warc = 1;
    info->fetched = r->date[0] ? nfi_strdup(r->date) : NULL;
    const char *ct = h->content_type[0] ? h->content_type : NULL;
    const char *lm = h->last_modified[0] ? h->last_modified : NULL;
    if (src->defer_extract) {
        info->content_type = ct ? nfi_strdup(ct) : NULL;
        info->last_modified = lm ? nfi_strdup(lm) : NULL;
        info->raw_len = s->block.len;
        info->bytes_in = s->block.len;
        info->raw = nfi_buf_take(&s->block, NULL);
        doc->text = nfi_strdup("");
        return info->raw && doc->text ? NF_OK : NF_ERR_NOMEM;
    }
    nf_extract_options o = {doc->url, ct, lm, NULL};
    return nf_extract_html(s->block.data, s->block.len, &o, doc, err);
}

/* Reads the block of a record worth keeping into s->block, or skips it. */
static nf_status read_block(warc_state *s, nfi_source *src, const record *r, bool *wanted, nf_error *err)
{
    bool response = strcmp(r->type, "response") == 0 && contains_ci(r->content_type, "application/http");
    bool resource = strcmp(r->type, "resource") == 0 && html_type(r->content_type);
    *wanted = response || resource;
    bool too_big = r->length > (uint64_t)src->max_page + HEADER_MAX;
    s->block.len = 0;
    nf_status st = ws_read(&s->ws, src->path, r->length, *wanted && !too_big ? &s->block : NULL, err);
    if (st == NF_END)
        return nfi_fail(err, NF_ERR_PARSE, "%s: record at offset %llu (%s): truncated, %llu block bytes expected",
                       src->path, (unsigned long long)r->offset, r->uri, (unsigned long long)r->length);
    if (st == NF_OK && *wanted && too_big)
        return nfi_fail(err, NF_SKIPPED, "%s: record at offset %llu (%s): payload larger than %zu bytes, skipped",
                       src->path, (unsigned long long)r->offset, r->uri, src->max_page);
    return st;
}

/* Recovers after a stream-level error; NF_ERR_PARSE becomes one skipped
 * record, other errors end the file. */
static nf_status recover(warc_state *s, nfi_source *src, uint64_t started, nf_status st, nf_error *err)
{
    if (st != NF_ERR_PARSE)
        return st;
    if (ws_tell(&s->ws) == started && s->ws.pos < s->ws.len)
        s->ws.pos++; /* nothing was consumed (an overlong first line): make progress */
    nf_error ignore;
    nf_status rs = s->ws.fd >= 0 && s->ws.bad_member != UINT64_MAX ? ws_resync_member(&s->ws, src->path, &ignore)
                                                                   : resync_lines(s, src, &ignore);
    s->ws.bad_member = UINT64_MAX;
    if (rs != NF_OK) { /* cannot go on in this file */
        s->ws.eof = true;
        s->ws.pos = s->ws.len;
    }
    size_t n = strlen(err->message);
    snprintf(err->message + n, sizeof err->message - n, "; skipped");
    err->code = NF_SKIPPED;
    return NF_SKIPPED;
}

/* One record: NF_OK with *ignored set when it was no document. */
static nf_status next_record(warc_state *s, nfi_source *src, nf_doc *doc, bool *ignored, nf_error *err)
{
    *ignored = false;
    record r;
    memset(&r, 0, sizeof r);
    uint64_t started = ws_tell(&s->ws);
    nf_status st = read_header(s, src, &r, err);
    if (st == NF_OK)
        st = parse_fields(s, src, &r, err);
    bool wanted = false;
    if (st == NF_OK)
        st = read_block(s, src, &r, &wanted, err);
    if (st != NF_OK)
        return st == NF_END ? NF_END : recover(s, src, started, st, err);
    http_info h;
    memset(&h, 0, sizeof h);
    if (!wanted) {
        src->ignored++;
        *ignored = true;
        return NF_OK;
    }
    if (strcmp(r.type, "resource") == 0)
        snprintf(h.content_type, sizeof h.content_type, "%s", r.content_type);
    else if ((st = http_payload(s, src, &r, &h, err)) != NF_OK) {
        if (st != NF_END)
            return st;
        src->ignored++;
        *ignored = true;
        return NF_OK;
    }
    if (s->block.len > src->max_page)
        return nfi_fail(err, NF_SKIPPED, "%s: record at offset %llu (%s): page larger than %zu bytes, skipped",
                       src->path, (unsigned long long)r.offset, r.uri, src->max_page);
    st = make_doc(s, src, &r, &h, doc, err);
    if (st == NF_OK)
        return NF_OK;
    char msg[NF_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "%s", err->message);
    nf_doc_free(doc);
    if (st == NF_ERR_NOMEM)
        return nfi_fail(err, st, "%s: out of memory", src->path);
    return nfi_fail(err, NF_SKIPPED, "%s: record at offset %llu (%s): %s", src->path, (unsigned long long)r.offset,
                   r.uri, msg);
}

/* -------------------------------------------------------------- format */

static bool gz_path(const char *path)
{
    size_t n = strlen(path);
    return n > 3 && strcmp(path + n - 3, ".gz") == 0;
}

static nf_status warc_open(nfi_source *src, nf_error *err)
{
    warc_state *s = calloc(1, sizeof *s);
    if (!s)
        return nfi_fail(err, NF_ERR_NOMEM, "%s: out of memory", src->path);
    s->ws.gz = src->gz;
    s->ws.fd = -1;
    s->ws.bad_member = UINT64_MAX;
    src->state = s;
    s->ws.buf = malloc(WS_CHUNK); /* never NULL, so window arithmetic is always defined */
    if (!s->ws.buf)
        return nfi_fail(err, NF_ERR_NOMEM, "%s: out of memory", src->path);
    s->ws.cap = WS_CHUNK;
    if (!gz_path(src->path))
        return NF_OK;
    s->ws.in = malloc(WS_IN_BYTES);
    if (!s->ws.in)
        return nfi_fail(err, NF_ERR_NOMEM, "%s: out of memory", src->path);
    if (inflateInit2(&s->ws.z, 15 + 16) != Z_OK)
        return nfi_fail(err, NF_ERR_NOMEM, "%s: cannot start zlib", src->path);
    s->ws.z_ready = true;
    s->ws.fd = open(src->path, O_RDONLY);
    if (s->ws.fd < 0)
        return nfi_fail(err, NF_SKIPPED, "%s: cannot open: %s", src->path, strerror(errno));
    return NF_OK;
}

static nf_status warc_next(nfi_source *src, nf_doc *doc, nf_error *err)
{
    warc_state *s = src->state;
    nf_error local;
    if (!err)
        err = &local;
    for (;;) {
        bool ignored;
        nf_status st = next_record(s, src, doc, &ignored, err);
        if (s->ws.fd >= 0)
            src->consumed = ws_consumed(&s->ws);
        if (st != NF_OK || !ignored)
            return st;
    }
}

static void warc_close(nfi_source *src)
{
    warc_state *s = src->state;
    if (!s)
        return;
    if (s->ws.fd >= 0)
        close(s->ws.fd);
    if (s->ws.z_ready)
        inflateEnd(&s->ws.z);
    free(s->ws.in);
    free(s->ws.buf);
    nfi_buf_free(&s->header);
    nfi_buf_free(&s->block);
    nfi_buf_free(&s->scratch);
    free(s);
    src->state = NULL;
}

static const char *const warc_extensions[] = {".warc", NULL};

const nfi_format nfi_format_warc = {"warc", warc_extensions, warc_open, warc_next, warc_close};
