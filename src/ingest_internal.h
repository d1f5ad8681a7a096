/*
 * ingest_internal.h - the contract between the reader (ingest.c) and the
 * per-format parsers (ingest_text.c, ingest_json.c, and later HTML/WARC).
 *
 * A format is a table of three functions over an nf_source, an open input
 * file. The reader owns the source: it opens the (possibly gzip) stream,
 * hands it to the format, and closes it. A format's next() fills one nf_doc
 * at a time and returns NF_OK, NF_END, NF_SKIPPED (one record lost, err set,
 * the source stays usable) or a fatal code (the rest of this file is lost,
 * err set). Adding a format means adding a table to nf_formats[] below.
 */
#ifndef NF_INGEST_INTERNAL_H
#define NF_INGEST_INTERNAL_H

#include "internal.h"

#include <zlib.h>

typedef struct nf_source {
    gzFile gz;
    const char *path;     /* as opened; "-" for stdin */
    const char *rel;      /* path relative to the input root: the default id */
    size_t max_record;    /* records above this many bytes are skipped */
    size_t max_page;      /* HTML pages / WARC payloads above this are skipped */
    bool defer_extract;   /* HTML formats: leave the page raw (nf_doc_extract) */
    uint64_t ignored;     /* records passed over on purpose (WARC non-HTML) */
    uint64_t consumed;    /* file bytes read, set by formats that bypass gz (progress) */
    uint64_t line;        /* lines consumed so far (line readers) */
    uint64_t record;      /* records produced so far */
    void *state;          /* the format's own */
    /* line reader buffer */
    char *buf;
    size_t buf_len, buf_pos, buf_cap;
    bool eof;
} nf_source;

typedef struct nf_format {
    const char *name;
    const char *const *extensions; /* NULL-terminated, without ".gz" */
    nf_status (*open)(nf_source *src, nf_error *err);
    nf_status (*next)(nf_source *src, nf_doc *doc, nf_error *err);
    void (*close)(nf_source *src);
} nf_format;

extern const nf_format nf_format_text;
extern const nf_format nf_format_json;
extern const nf_format nf_format_jsonl;
extern const nf_format nf_format_html;
extern const nf_format nf_format_warc;

/*
 * Reads the next line (without its '\n', and without a trailing '\r') into
 * line and len, valid until the next call. Returns NF_OK, NF_END, NF_SKIPPED
 * for a line longer than max_record (skipped whole, err set), or NF_ERR_IO.
 */
nf_status nf_source_getline(nf_source *src, const char **line, size_t *len, nf_error *err);

/* Reads the whole rest of the stream into *out (caller frees). Returns
 * NF_SKIPPED when it is longer than max_record. */
nf_status nf_source_slurp(nf_source *src, char **out, size_t *len, nf_error *err);

/* Makes every string field of doc valid UTF-8, counting text repairs. */
nf_status nf_doc_repair_utf8(nf_doc *doc, nf_error *err);

#endif
