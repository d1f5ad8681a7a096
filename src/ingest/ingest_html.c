/*
 * ingest_html.c - HTML files (.html, .htm, either .gz): one file is one
 * page is one document.
 *
 * The page is read whole, bounded by the reader's page limit (max_page,
 * 20 MiB by default; a larger page is skipped and named). The id is the
 * path relative to the input root, as for text files. Extraction runs here
 * (nf_extract_html) unless the reader defers it, in which case the raw page
 * rides in doc->extract and nf_doc_extract() finishes the job, typically on
 * a worker thread.
 */
#include "ingest/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define READ_CHUNK (256u << 10)

static nf_status html_open(nfi_source *src, nf_error *err)
{
    (void)err;
    if (!src->max_page)
        src->max_page = src->max_record;
    return NF_OK;
}

/* Reads the whole page straight into one buffer (no staging copy). */
static nf_status read_page(nfi_source *src, char **out, size_t *len, nf_error *err)
{
    nfi_buf b;
    nfi_buf_init(&b);
    struct stat sb;
    size_t plain = strcmp(src->path, "-") != 0 && stat(src->path, &sb) == 0 && sb.st_size >= 0 &&
                           (size_t)sb.st_size <= src->max_page
                       ? (size_t)sb.st_size
                       : 0;
    if (plain) /* a plain file's size is its page size: one allocation */
        nfi_buf_reserve(&b, plain + 1);
    for (;;) {
        if (!nfi_buf_reserve(&b, b.cap - b.len > 1 ? 0 : READ_CHUNK)) {
            nfi_buf_free(&b);
            return nfi_fail(err, NF_ERR_NOMEM, "%s: out of memory", src->path);
        }
        size_t room = b.cap - b.len - 1;
        int n = gzread(src->gz, b.data + b.len, (unsigned)(room < (1u << 30) ? room : (1u << 30)));
        if (n < 0) {
            int zerr;
            nfi_buf_free(&b);
            return nfi_fail(err, NF_SKIPPED, "%s: read error: %s, skipped", src->path, gzerror(src->gz, &zerr));
        }
        if (n == 0 && nfi_gz_check_end(src->gz, src->path, err) != NF_OK) {
            nfi_buf_free(&b);
            return NF_SKIPPED;
        }
        if (n == 0)
            break;
        b.len += (size_t)n;
        if (b.len > src->max_page) {
            nfi_buf_free(&b);
            return nfi_fail(err, NF_SKIPPED, "%s: page larger than %zu bytes, skipped", src->path, src->max_page);
        }
    }
    b.data[b.len] = '\0';
    *out = nfi_buf_take(&b, len);
    return NF_OK;
}

static nf_status defer(nf_doc *doc, char *page, size_t len)
{
    nf_extract_info *info = calloc(1, sizeof *info);
    doc->text = nfi_strdup("");
    if (!info || !doc->text) {
        free(info);
        free(page);
        return NF_ERR_NOMEM;
    }
    info->raw = page;
    info->raw_len = len;
    info->bytes_in = len;
    doc->extract = info;
    return NF_OK;
}

static nf_status html_next(nfi_source *src, nf_doc *doc, nf_error *err)
{
    if (src->record > 0)
        return NF_END;
    src->record = 1;
    char *page = NULL;
    size_t len = 0;
    nf_status st = read_page(src, &page, &len, err);
    if (st != NF_OK)
        return st;
    doc->id = nfi_strdup(src->rel);
    doc->origin = nfi_strdup(src->path);
    doc->record = 1;
    if (!doc->id || !doc->origin) {
        free(page);
        nf_doc_free(doc);
        return nfi_fail(err, NF_ERR_NOMEM, "%s: out of memory", src->path);
    }
    if (src->defer_extract) {
        st = defer(doc, page, len);
    } else {
        st = nf_extract_html(page, len, NULL, doc, err);
        free(page);
    }
    if (st == NF_OK)
        return NF_OK;
    char msg[NF_ERROR_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "%s", err ? err->message : "extraction failed");
    nf_doc_free(doc);
    if (st == NF_ERR_NOMEM)
        return nfi_fail(err, st, "%s: out of memory", src->path);
    return nfi_fail(err, NF_SKIPPED, "%s: %s, skipped", src->path, msg);
}

static void html_close(nfi_source *src) { (void)src; }

static const char *const html_extensions[] = {".html", ".htm", ".xhtml", NULL};

const nfi_format nfi_format_html = {"html", html_extensions, html_open, html_next, html_close};
