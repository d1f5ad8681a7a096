/*
 * ingest_text.c - plain-text pages: one file is one document.
 *
 * The whole file is the text; the title is found later by the cleaner (the
 * first non-empty line that is not site boilerplate), because a raw page
 * often opens with a menu rather than its headline. The id is the path
 * relative to the input root. When the file sits in a subdirectory of the
 * root, that directory stands in for the source, so template lines shared
 * by pages of one site can be recognised. A file holding NUL bytes is not
 * text (an image or archive named .txt, or UTF-16): it is skipped with a
 * message rather than fed on as garbage.
 */
#include "ingest/ingest.h"

#include <stdlib.h>
#include <string.h>

static nf_status text_open(nfi_source *src, nf_error *err)
{
    (void)src;
    (void)err;
    return NF_OK;
}

static char *directory_of(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    if (!slash || rel[0] == '/' || strncmp(rel, "../", 3) == 0 || strncmp(rel, "./", 2) == 0)
        return NULL;
    return nfi_strndup(rel, (size_t)(slash - rel));
}

static nf_status text_next(nfi_source *src, nf_doc *doc, nf_error *err)
{
    if (src->record > 0)
        return NF_END;
    src->record = 1;
    char *text;
    size_t len;
    nf_status st = nfi_source_slurp(src, &text, &len, err);
    if (st != NF_OK)
        return st;
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        size_t at = (size_t)(nul - text);
        free(text);
        return nfi_fail(err, NF_SKIPPED, "%s: binary file, not text (NUL byte at offset %zu), skipped", src->path, at);
    }
    doc->text = text;
    doc->text_len = len;
    doc->id = nfi_strdup(src->rel);
    doc->origin = nfi_strdup(src->path);
    doc->record = 1;
    doc->source = directory_of(src->rel);
    doc->source_from_path = doc->source != NULL;
    if (!doc->id || !doc->origin) {
        nf_doc_free(doc);
        return nfi_fail(err, NF_ERR_NOMEM, "%s: out of memory", src->path);
    }
    return NF_OK;
}

static void text_close(nfi_source *src) { (void)src; }

static const char *const text_extensions[] = {".txt", NULL};

const nfi_format nfi_format_text = {"text", text_extensions, text_open, text_next, text_close};
