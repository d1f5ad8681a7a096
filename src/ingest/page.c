/*
 * page.c - one HTML page to one nf_doc: the public face of the HTML
 * pipeline (nf_extract_html, nf_doc_extract).
 *
 * Steps (see html.h): refuse binary data; decode to UTF-8; reduce and
 * parse; read metadata; extract the main text; fill the document. The
 * document's strings are made valid UTF-8 before returning (JSON-LD text
 * never went through the parser's repair). Everything a page allocates is
 * released before returning, except what the document keeps, so memory per
 * page is bounded by the page size whatever the number of pages.
 */
#include "ingest/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BINARY_SNIFF_BYTES 4096

void nfi_extract_info_free(nf_extract_info *info)
{
    if (!info)
        return;
    free(info->author);
    free(info->fetched);
    free(info->raw);
    free(info->content_type);
    free(info->last_modified);
    free(info);
}

/* Control bytes that text never holds (NUL, most C0) in the page head. */
static bool looks_binary(const char *page, size_t len)
{
    size_t n = len < BINARY_SNIFF_BYTES ? len : BINARY_SNIFF_BYTES, bad = 0;
    const unsigned char *s = (const unsigned char *)page;
    if (n >= 2 && ((s[0] == 0xFF && s[1] == 0xFE) || (s[0] == 0xFE && s[1] == 0xFF)))
        return false; /* UTF-16 with a byte order mark */
    for (size_t i = 0; i < n; i++)
        bad += s[i] < 0x09 || (s[i] > 0x0D && s[i] < 0x20 && s[i] != 0x1B);
    return bad * 10 > n;
}

static void fill_lang(nf_doc *doc, nf_extract_info *info, nfi_page_meta *meta, nf_langid *langid)
{
    if (meta->lang) {
        doc->lang = meta->lang;
        meta->lang = NULL;
        return;
    }
    if (!langid || doc->text_len == 0)
        return;
    double conf;
    const char *code = nf_langid_detect(langid, doc->text, doc->text_len, &conf);
    if (code && strcmp(code, "und") != 0) {
        doc->lang = nfi_strdup(code);
        info->lang_detected = 1;
    }
}

static void fill_date(nf_doc *doc, nf_extract_info *info, nfi_page_meta *meta, const char *last_modified)
{
    char d[11];
    if (meta->published) {
        doc->published = meta->published;
        meta->published = NULL;
        info->date_source = meta->date_source;
    } else if (last_modified && nf_parse_date(last_modified, d)) {
        doc->published = nfi_strdup(d);
        info->date_source = "http";
    }
}

/* Moves results into doc (fields it already has, such as a WARC URL, stay
 * unless the page names a canonical URL). */
static void fill_doc(nf_doc *doc, nf_extract_info *info, nfi_page_meta *meta, nfi_extract_result *res,
                     const nf_extract_options *o)
{
    free(doc->text);
    doc->text = nfi_buf_take(&res->text, &doc->text_len);
    free(doc->title);
    doc->title = meta->title;
    meta->title = NULL;
    if (meta->canonical) {
        free(doc->url);
        doc->url = meta->canonical;
        meta->canonical = NULL;
    } else if (!doc->url && o->url) {
        doc->url = nfi_strdup(o->url);
    }
    free(doc->source);
    doc->source = meta->site;
    meta->site = NULL;
    free(doc->lang);
    doc->lang = NULL;
    fill_lang(doc, info, meta, o->langid);
    free(doc->published);
    doc->published = NULL;
    fill_date(doc, info, meta, o->last_modified);
    info->author = meta->author;
    meta->author = NULL;
    info->paragraphs_kept = res->kept;
    info->paragraphs_dropped = res->dropped;
    info->used_jsonld = res->used_jsonld;
}

static bool repair(char **s)
{
    if (!*s)
        return true;
    size_t len, bad;
    char *fixed = nf_utf8_repair(*s, strlen(*s), &len, &bad);
    if (!fixed)
        return false;
    free(*s);
    *s = fixed;
    return true;
}

/* Runs the pipeline on page, filling doc and the info it already owns. */
static nf_status extract_into(const char *page, size_t len, const nf_extract_options *o, nf_doc *doc,
                              nf_extract_info *info, nf_error *err)
{
    info->bytes_in = len;
    if (looks_binary(page, len))
        return nfi_fail(err, NF_SKIPPED, "binary data, not an HTML page");
    nfi_buf utf8;
    nfi_buf_init(&utf8);
    nf_status st = nfi_charset_to_utf8(page, len, o->content_type, &utf8, info->charset, err);
    nfi_html_doc hd;
    nfi_page_meta meta;
    nfi_extract_result res;
    memset(&hd, 0, sizeof hd);
    memset(&meta, 0, sizeof meta);
    memset(&res, 0, sizeof res);
    if (st == NF_OK && utf8.len)
        st = nfi_html_parse(utf8.data, utf8.len, &hd, err);
    else if (st == NF_OK)
        st = nfi_html_parse(page, len, &hd, err);
    nfi_buf_free(&utf8);
    if (st == NF_OK)
        st = nfi_meta_read(&hd, o->url ? o->url : doc->url, &meta, err);
    if (st == NF_OK)
        st = nfi_extract_main(&hd, &meta, &res, err);
    nfi_html_doc_free(&hd);
    if (st == NF_OK) {
        fill_doc(doc, info, &meta, &res, o);
        if (!doc->text || nfi_doc_repair_utf8(doc, err) != NF_OK || !repair(&info->author))
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    nfi_meta_free(&meta);
    nfi_buf_free(&res.text);
    return st;
}

nf_status nf_extract_html(const char *page, size_t len, const nf_extract_options *options, nf_doc *doc,
                          nf_error *err)
{
    nf_extract_options none = {NULL, NULL, NULL, NULL};
    const nf_extract_options *o = options ? options : &none;
    nf_extract_info *info = doc->extract ? doc->extract : calloc(1, sizeof *info);
    if (!info)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    doc->extract = info;
    return extract_into(page, len, o, doc, info, err);
}

nf_status nf_doc_extract(nf_doc *doc, nf_langid *langid, nf_error *err)
{
    nf_extract_info *info = doc->extract;
    if (!info || !info->raw)
        return NF_OK;
    nf_extract_options o = {doc->url, info->content_type, info->last_modified, langid};
    nf_status st = extract_into(info->raw, info->raw_len, &o, doc, info, err);
    free(info->raw);
    info->raw = NULL;
    info->raw_len = 0;
    if (st != NF_OK && st != NF_ERR_NOMEM) {
        char msg[NF_ERROR_MESSAGE_MAX];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        if (info->from_warc)
            return nfi_fail(err, NF_SKIPPED, "%s: record at offset %llu (%s): %s", doc->origin,
                           (unsigned long long)info->offset, doc->id, msg);
        return nfi_fail(err, NF_SKIPPED, "%s: %s", doc->origin, msg);
    }
    return st;
}
