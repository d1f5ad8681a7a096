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
#ifndef NF_HTML_H
#define NF_HTML_H

#include "internal.h"

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
nf_status nf_charset_to_utf8(const char *page, size_t len, const char *content_type, nf_buf *out,
                             char charset[NF_CHARSET_NAME_MAX], nf_error *err);

/* Copies the charset parameter of a Content-Type value into name; 1 if found. */
int nf_charset_from_content_type(const char *content_type, char name[NF_CHARSET_NAME_MAX]);

/* ------------------------------------------------------- reduce + parse */

typedef struct nf_arena_chunk nf_arena_chunk;

/* A parsed page. gumbo's nodes point into html, so both live together. */
typedef struct nf_html_doc {
    GumboOutput *out;
    nf_arena_chunk *arena; /* every gumbo allocation; freed at once */
    bool arena_failed;     /* an allocation failed: the tree is incomplete */
    nf_buf html;           /* the reduced page gumbo parsed */
    nf_buf jsonld;         /* JSON-LD script bodies, each NUL-terminated */
    size_t n_jsonld;
} nf_html_doc;

/*
 * Reduces and parses UTF-8 HTML. Cheap cuts before the parser make it about
 * twice as fast: script, style and similar raw-text bodies, comments and
 * inline SVG never reach gumbo (JSON-LD bodies are kept aside in jsonld).
 */
nf_status nf_html_parse(const char *html, size_t len, nf_html_doc *doc, nf_error *err);
void nf_html_doc_free(nf_html_doc *doc);

/* The next JSON-LD body after *pos (start with *pos = 0); NULL at the end. */
const char *nf_html_next_jsonld(const nf_html_doc *doc, size_t *pos);

/* Attribute value or NULL. */
const char *nf_html_attr(const GumboNode *node, const char *name);

/* Deepest element nesting any traversal follows; deeper content is ignored
 * (keeps recursion bounded on hostile input). */
#define NF_HTML_MAX_DEPTH 512

/* ------------------------------------------------------------- metadata */

typedef struct nf_page_meta {
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
} nf_page_meta;

/* Reads head metadata and JSON-LD. url (may be NULL) resolves relative
 * links and gives a last-resort date. */
nf_status nf_meta_read(const nf_html_doc *doc, const char *url, nf_page_meta *meta, nf_error *err);
void nf_meta_free(nf_page_meta *meta);

/* Whitespace-collapsed text of a subtree (entities already decoded). */
void nf_html_node_text(const GumboNode *node, nf_buf *out, int depth);

/* ------------------------------------------------------------- extract */

typedef struct nf_extract_result {
    nf_buf text;       /* paragraphs separated by blank lines */
    uint32_t kept, dropped;
    bool used_jsonld;
} nf_extract_result;

/* Finds the main text of a parsed page. */
nf_status nf_extract_main(const nf_html_doc *doc, const nf_page_meta *meta, nf_extract_result *res,
                          nf_error *err);

#endif
