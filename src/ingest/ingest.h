/* ingest.h - the internal contract of src/ingest/ (never installed). */
#ifndef NF_INGEST_INGEST_H
#define NF_INGEST_INGEST_H

#include "common/common.h"

/*
 * ingest_internal.h - the contract between the reader (ingest.c) and the
 * per-format parsers (ingest_text.c, ingest_json.c, and later HTML/WARC).
 *
 * A format is a table of three functions over an nfi_source, an open input
 * file. The reader owns the source: it opens the (possibly gzip) stream,
 * hands it to the format, and closes it. A format's next() fills one nf_doc
 * at a time and returns NF_OK, NF_END, NF_SKIPPED (one record lost, err set,
 * the source stays usable) or a fatal code (the rest of this file is lost,
 * err set). Adding a format means adding a table to nfi_formats[] below.
 */


#include <zlib.h>

typedef struct nfi_source {
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
    /* line readers: byte offset of the next unread line and of the line last
     * returned; with end != 0 no line starting at or after end is read (a
     * part of a file, nfi_reader_set_span) */
    uint64_t offset, line_start, end;
    void *state;          /* the format's own */
    /* line reader buffer */
    char *buf;
    size_t buf_len, buf_pos, buf_cap;
    bool eof;
} nfi_source;

typedef struct nfi_format {
    const char *name;
    const char *const *extensions; /* NULL-terminated, without ".gz" */
    nf_status (*open)(nfi_source *src, nf_error *err);
    nf_status (*next)(nfi_source *src, nf_doc *doc, nf_error *err);
    void (*close)(nfi_source *src);
} nfi_format;

extern const nfi_format nfi_format_text;
extern const nfi_format nfi_format_json;
extern const nfi_format nfi_format_jsonl;
extern const nfi_format nfi_format_html;
extern const nfi_format nfi_format_warc;

/*
 * Reads the next line (without its '\n', and without a trailing '\r') into
 * line and len, valid until the next call. Returns NF_OK, NF_END, NF_SKIPPED
 * for a line longer than max_record (skipped whole, err set), or NF_ERR_IO.
 */
nf_status nfi_source_getline(nfi_source *src, const char **line, size_t *len, nf_error *err);

/* Reads the whole rest of the stream into *out (caller frees). Returns
 * NF_SKIPPED when it is longer than max_record. */
nf_status nfi_source_slurp(nfi_source *src, char **out, size_t *len, nf_error *err);
/*
 * Parts of the input, for distributed runs (src/mpi): a span starts in file
 * `file` (an index into the reader's file list) at byte `offset` (JSONL files
 * only, not compressed: the first line starting at or after offset; `line`
 * lines come before it, so record numbers in messages stay those of the whole
 * file) and ends with file end_file, before the first line starting at or
 * after end_offset there (0: the whole file).
 */
typedef struct nfi_reader_span {
    size_t file;
    uint64_t offset, line;
    size_t end_file;
    uint64_t end_offset;
} nfi_reader_span;

/* Where the document last returned lies: its file, the byte offsets of its
 * line and of the next line (splittable files), its line, and its ordinal
 * among the documents of its file parsed so far (duplicate ids included). */
typedef struct nfi_reader_pos {
    size_t file;
    uint64_t offset, end, line, ord;
} nfi_reader_pos;

size_t nfi_reader_n_files(const nf_reader *r);
/* Size and whether the file can be split by byte range (plain JSONL). */
void nfi_reader_file_info(const nf_reader *r, size_t i, uint64_t *size, bool *splittable);
/* Before the first nf_reader_next: read only this span. */
nf_status nfi_reader_set_span(nf_reader *r, const nfi_reader_span *span, nf_error *err);
void nfi_reader_position(const nf_reader *r, nfi_reader_pos *pos);
/* Lines read from the file read last (counted from its span's start). */
uint64_t nfi_reader_last_lines(const nf_reader *r);
/* Turns the duplicate-id check off (on by default) or back on. */
void nfi_reader_check_ids(nf_reader *r, bool on);
/* The hash the duplicate-id check keeps of an id; seeding one makes a later
 * document with that id a duplicate (its first occurrence was read elsewhere). */
void nfi_reader_id_hash(const char *id, uint64_t out[2]);
nf_status nfi_reader_seed_id(nf_reader *r, const uint64_t hash[2], nf_error *err);

/* At the end of a gzread stream: NF_ERR_IO (err names the file and offset)
 * when the gzip stream was cut short, which gzread reports as a plain end. */
nf_status nfi_gz_check_end(gzFile gz, const char *path, nf_error *err);


/*
 * html.h - the HTML pipeline's internal contract (never installed).
 *
 * A page goes through four steps, each in its own file:
 *
 *   charset.c   bytes in any declared or sniffed encoding -> UTF-8
 *   html.c      UTF-8 -> reduced HTML (script/style/comment/svg bodies cut,
 *               JSON-LD blocks set aside) -> gumbo DOM in an arena
 *   meta.c      DOM + JSON-LD -> title, date, language, canonical URL, site,
 *               author, and the JSON-LD articleBody
 *   extract.c   DOM + metadata -> main text (paragraphs in order)
 *
 * page.c ties the steps together behind the public nf_extract_html(), and
 * ingest_html.c / warc.c feed it from files.
 *
 * Every step is reentrant: all state lives in the structs below, owned by
 * the caller of one extraction, so pages can be extracted on any number of
 * threads at once.
 */


#include <gumbo.h>

/* ------------------------------------------------------------- charset */

/* Longest encoding label kept (WHATWG labels are shorter). */
#define NF_CHARSET_NAME_MAX 40

/*
 * Converts a page to UTF-8. Priority: byte order mark, then valid UTF-8 with
 * non-ASCII content (a wrong declaration is common; valid multi-byte UTF-8
 * by accident is not), then the HTTP Content-Type charset (content_type may
 * be NULL), then <meta charset> / http-equiv / XML declaration, then ICU's
 * detector, then windows-1252. On NF_OK charset names the encoding used and
 * the UTF-8 text is in *out, or, when out->len is 0 and the page needed no
 * conversion, the page itself (no copy). Invalid sequences may remain where
 * the page was mostly UTF-8; later steps repair them.
 */
nf_status nfi_charset_to_utf8(const char *page, size_t len, const char *content_type, nfi_buf *out,
                             char charset[NF_CHARSET_NAME_MAX], nf_error *err);

/* Copies the charset parameter of a Content-Type value into name; 1 if found. */
int nfi_charset_from_content_type(const char *content_type, char name[NF_CHARSET_NAME_MAX]);

/* ------------------------------------------------------- reduce + parse */

typedef struct nfi_arena_chunk nfi_arena_chunk;

/* A parsed page. gumbo's nodes point into html, so both live together. */
typedef struct nfi_html_doc {
    GumboOutput *out;
    nfi_arena_chunk *arena; /* every gumbo allocation; freed at once */
    bool arena_failed;     /* an allocation failed: the tree is incomplete */
    nfi_buf html;           /* the reduced page gumbo parsed */
    nfi_buf jsonld;         /* JSON-LD script bodies, each NUL-terminated */
    size_t n_jsonld;
} nfi_html_doc;

/*
 * Reduces and parses UTF-8 HTML. Cheap cuts before the parser make it about
 * twice as fast: script, style and similar raw-text bodies, comments and
 * inline SVG never reach gumbo (JSON-LD bodies are kept aside in jsonld).
 */
nf_status nfi_html_parse(const char *html, size_t len, nfi_html_doc *doc, nf_error *err);
void nfi_html_doc_free(nfi_html_doc *doc);

/* The next JSON-LD body after *pos (start with *pos = 0); NULL at the end. */
const char *nfi_html_next_jsonld(const nfi_html_doc *doc, size_t *pos);

/* Attribute value or NULL. */
const char *nfi_html_attr(const GumboNode *node, const char *name);

/* Deepest element nesting any traversal follows; deeper content is ignored
 * (keeps recursion bounded on hostile input). */
#define NF_HTML_MAX_DEPTH 512

/* ------------------------------------------------------------- metadata */

typedef struct nfi_page_meta {
    char *title;       /* the headline, site suffix removed */
    char *title_tag;   /* <title> as written */
    char *published;   /* YYYY-MM-DD */
    const char *date_source;
    char *lang;        /* lower-case primary subtag ("en") */
    char *canonical;   /* absolute when resolvable */
    char *site;
    char *author;
    char *article_body; /* JSON-LD articleBody, plain text */
    bool is_article;    /* JSON-LD or og:type says this is an article */
} nfi_page_meta;

/* Reads head metadata and JSON-LD. url (may be NULL) resolves relative
 * links and gives a last-resort date. */
nf_status nfi_meta_read(const nfi_html_doc *doc, const char *url, nfi_page_meta *meta, nf_error *err);
void nfi_meta_free(nfi_page_meta *meta);

/* Whitespace-collapsed text of a subtree (entities already decoded). */
void nfi_html_node_text(const GumboNode *node, nfi_buf *out, int depth);

/* ------------------------------------------------------------- extract */

typedef struct nfi_extract_result {
    nfi_buf text;       /* paragraphs separated by blank lines */
    uint32_t kept, dropped;
    bool used_jsonld;
} nfi_extract_result;

/* Finds the main text of a parsed page. */
nf_status nfi_extract_main(const nfi_html_doc *doc, const nfi_page_meta *meta, nfi_extract_result *res,
                          nf_error *err);

/* Frees what nf_doc.extract holds (nf_doc_free calls it). */
void nfi_extract_info_free(nf_extract_info *info);

#endif
