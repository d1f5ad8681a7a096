/*
 * html.c - UTF-8 HTML to a gumbo DOM, fast.
 *
 * gumbo (a spec-compliant HTML5 parser) reads about 30 MB/s, and most of a
 * news page is bytes it need not see: script and style bodies, comments and
 * inline SVG are often more than half of the page. A reducing pass, which
 * moves with memchr from '<' to '<', copies the page while cutting those
 * bodies, so gumbo parses about 40% of the bytes.
 *
 * The reducer is a small subset of the HTML5 tokenizer and keeps its
 * invariant: it cuts only what the tokenizer itself would treat as opaque.
 *   - Start tags are scanned attribute by attribute with the tokenizer's
 *     quoting rules, so a '>' or "<script" inside a quoted value is not
 *     mistaken for markup.
 *   - After <script>, <style>, <iframe>, <noembed>, <noframes>, <xmp> and
 *     <noscript> (raw text; noscript as in a browser, which runs scripts)
 *     and <title>, <textarea> (escapable raw text), the body runs
 *     to the matching end tag ("</name" then space, '/' or '>'), as in the
 *     tokenizer. Bodies are cut except <title>'s; a cut leaves the element
 *     in place, empty. application/ld+json script bodies are copied aside.
 *   - <!-- ... --> comments and <? ... > bogus comments are cut; <svg>
 *     elements go whole (nesting counted): icons, never article text.
 *   - Formatting tags other than <a> (b, i, em, strong, font ...) are
 *     dropped: no text lives in the tags, and unclosed ones make the tree
 *     builder clone nodes into every later block.
 *   - Past MAX_NESTING open nesting tags, further start tags (and as many
 *     end tags) are dropped: the text stays, the boxes go, and gumbo's
 *     per-token cost (proportional to the open-element stack) stays bounded.
 *   - <plaintext> ends the reduction: everything after it is text.
 * Whatever the reducer leaves, gumbo parses by the full algorithm, so any
 * input still gives the tree a browser would build, minus the cut bodies.
 *
 * gumbo allocates through an arena (big chunks, nothing freed until the
 * page is done), which is faster than malloc and makes freeing the tree one
 * loop over chunks instead of a recursive walk of unbounded depth. gumbo
 * cannot handle a failed allocation; the arena then hands out a static
 * scratch block (the tree is garbage but memory-safe) and flags the
 * failure, and the page is reported as skipped.
 */
#include "ingest/ingest.h"

#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (1u << 20)
/* Open nesting tags gumbo is allowed to see. gumbo's tree building costs
 * time proportional to the open-element stack per token, so unbounded
 * depth (20 MB of "<div>") would take hours; real pages stay far below. */
#define MAX_NESTING 300

struct nfi_arena_chunk {
    nfi_arena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

/* ---------------------------------------------------------------- arena */

typedef struct arena_ctx {
    nfi_html_doc *doc;
    char scratch[1u << 16];
} arena_ctx;

static void *arena_alloc(void *userdata, size_t size)
{
    arena_ctx *ctx = userdata;
    nfi_html_doc *doc = ctx->doc;
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    nfi_arena_chunk *c = doc->arena;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        c = doc->arena_failed ? NULL : malloc(sizeof *c + cap);
        if (!c) {
            doc->arena_failed = true;
            return size <= sizeof ctx->scratch ? ctx->scratch : NULL;
        }
        c->used = 0;
        c->cap = cap;
        c->next = doc->arena;
        doc->arena = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    return p;
}

static void arena_free(void *userdata, void *p)
{
    (void)userdata;
    (void)p;
}

static void arena_release(nfi_html_doc *doc)
{
    while (doc->arena) {
        nfi_arena_chunk *next = doc->arena->next;
        free(doc->arena);
        doc->arena = next;
    }
}

/* -------------------------------------------------------------- reducer */

static bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static bool tag_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }

/* Case-insensitive search for needle (lower-case) in [s, end). Scans with
 * memchr when the needle opens with a non-letter (all long scans do). */
static const char *find_ci(const char *s, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    unsigned char first = (unsigned char)needle[0];
    bool letter = is_alpha(first);
    while (s + n <= end) {
        const char *p = s;
        if (!letter && !(p = memchr(s, first, (size_t)(end - s - (ptrdiff_t)n + 1))))
            return NULL;
        if (nfi_str_ieq_prefix(p, (size_t)(end - p), needle))
            return p;
        s = p + 1;
    }
    return NULL;
}

/* End of a start or end tag whose name ends at p: index after '>', or end
 * when the tag is unterminated. Follows the tokenizer's attribute states. */
static const char *tag_end(const char *p, const char *end)
{
    while (p < end) {
        while (p < end && (tag_space((unsigned char)*p) || *p == '/'))
            p++;
        if (p >= end)
            return end;
        if (*p == '>')
            return p + 1;
        p++; /* first character of a name, '=' included */
        while (p < end && !tag_space((unsigned char)*p) && *p != '/' && *p != '>' && *p != '=')
            p++;
        while (p < end && tag_space((unsigned char)*p))
            p++;
        if (p >= end || *p != '=')
            continue;
        p++;
        while (p < end && tag_space((unsigned char)*p))
            p++;
        if (p < end && (*p == '"' || *p == '\'')) {
            const char *q = memchr(p + 1, *p, (size_t)(end - p - 1));
            p = q ? q + 1 : end;
        } else {
            while (p < end && !tag_space((unsigned char)*p) && *p != '>')
                p++;
        }
    }
    return end;
}

typedef struct reducer {
    const char *s, *end;
    nfi_html_doc *doc;
    unsigned depth;  /* nesting tags opened and not yet closed */
    unsigned excess; /* nesting start tags dropped past MAX_NESTING */
} reducer;

/* A name with its length, for matching tag and attribute names. */
typedef struct word {
    const char *s;
    size_t n;
} word;
#define W(lit) {lit, sizeof lit - 1}

/* Index of name (any case) in list, or -1. */
static int word_index(const char *name, size_t n, const word *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (list[i].n == n && nfi_str_ieq_prefix(name, n, list[i].s))
            return (int)i;
    return -1;
}

/* Formatting elements other than <a>: they carry no text of their own and
 * nothing the extractor reads, but the tree builder reopens ("reconstructs")
 * them in every block that follows while they are unclosed, cloning nodes
 * without bound on hostile input. They are dropped, start and end tags. */
static bool formatting_tag(const char *name, size_t n)
{
    static const word fmt[] = {W("b"),     W("big"),    W("code"),   W("em"), W("font"), W("i"), W("nobr"),
                               W("s"),     W("small"),  W("strike"), W("strong"), W("tt"), W("u")};
    return word_index(name, n, fmt, sizeof fmt / sizeof *fmt) >= 0;
}

/* Tags that never nest: void elements, and those the tree builder closes
 * by itself (a new <p> or <li> ends the open one). Every other start tag
 * can deepen the tree. */
static bool nesting_tag(const char *name, size_t n)
{
    static const word flat[] = {
        W("area"),  W("base"),   W("br"),    W("col"),   W("embed"),  W("hr"),       W("img"),
        W("input"), W("link"),   W("meta"),  W("param"), W("source"), W("track"),    W("wbr"),
        W("keygen"), W("image"), W("p"),     W("li"),    W("dt"),     W("dd"),       W("option"),
        W("optgroup"), W("tr"),  W("td"),    W("th"),    W("tbody"),  W("thead"),    W("tfoot"),
        W("colgroup"), W("caption"), W("rb"), W("rt"),   W("rtc"),    W("rp"),       W("html"),
        W("head"),  W("body")};
    return word_index(name, n, flat, sizeof flat / sizeof *flat) < 0;
}

/* One attribute of a start tag, as the tokenizer splits it. */
typedef struct attr_span {
    const char *name, *raw, *value; /* raw: name through the end of the value */
    size_t name_len, raw_len, value_len;
} attr_span;

/* Scans the attribute at p (after spaces and '/'); returns where the next
 * scan starts, or NULL at '>' or the end. Same states as tag_end. */
static const char *next_attr(const char *p, const char *end, attr_span *a)
{
    while (p < end && (tag_space((unsigned char)*p) || *p == '/'))
        p++;
    if (p >= end || *p == '>')
        return NULL;
    a->name = a->raw = p++;
    while (p < end && !tag_space((unsigned char)*p) && *p != '/' && *p != '>' && *p != '=')
        p++;
    a->name_len = (size_t)(p - a->name);
    a->value = NULL;
    a->value_len = 0;
    const char *q = p;
    while (q < end && tag_space((unsigned char)*q))
        q++;
    if (q < end && *q == '=') {
        q++;
        while (q < end && tag_space((unsigned char)*q))
            q++;
        if (q < end && (*q == '"' || *q == '\'')) {
            const char *close = memchr(q + 1, *q, (size_t)(end - q - 1));
            a->value = q + 1;
            a->value_len = close ? (size_t)(close - q - 1) : (size_t)(end - q - 1);
            p = close ? close + 1 : end;
        } else {
            a->value = q;
            while (q < end && !tag_space((unsigned char)*q) && *q != '>')
                q++;
            a->value_len = (size_t)(q - a->value);
            p = q;
        }
    }
    a->raw_len = (size_t)(p - a->raw);
    return p;
}

static bool attr_is(const attr_span *a, const word *name)
{
    return a->name_len == name->n && nfi_str_ieq_prefix(a->name, a->name_len, name->s);
}

static bool value_has(const attr_span *a, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; a->value && i + n <= a->value_len; i++)
        if (nfi_str_ieq_prefix(a->value + i, a->value_len - i, needle))
            return true;
    return false;
}

/* Copies a start tag keeping only the attributes the later steps read:
 * fewer bytes for gumbo. A link's href keeps no value (only its presence
 * counts); a style attribute survives only as the fact that it hides. */
static void copy_start_tag(reducer *r, const char *p, const char *name_end, const char *te)
{
    static const word keep[] = {W("class"),   W("id"),       W("role"),    W("itemprop"), W("hidden"),
                                W("aria-hidden"), W("lang"), W("content"), W("name"),   W("property"),
                                W("http-equiv"), W("charset"), W("rel"),   W("href"),   W("datetime"),
                                W("pubdate")};
    static const word style = W("style"), href = W("href");
    nfi_buf *out = &r->doc->html;
    bool is_a = name_end - p == 2 && (p[1] | 0x20) == 'a';
    nfi_buf_append(out, p, (size_t)(name_end - p));
    attr_span a;
    for (const char *q = name_end; q && (q = next_attr(q, te, &a)) != NULL;) {
        if (attr_is(&a, &style)) {
            if (value_has(&a, "display:none") || value_has(&a, "display: none") ||
                value_has(&a, "visibility:hidden") || value_has(&a, "visibility: hidden"))
                nfi_buf_puts(out, " style=\"display:none\"");
            continue;
        }
        if (word_index(a.name, a.name_len, keep, sizeof keep / sizeof *keep) < 0)
            continue;
        nfi_buf_putc(out, ' ');
        if (is_a && attr_is(&a, &href))
            nfi_buf_puts(out, "href");
        else
            nfi_buf_append(out, a.raw, a.raw_len);
    }
    nfi_buf_puts(out, te - name_end >= 2 && te[-2] == '/' ? "/>" : ">");
}

/* Start of the end tag "</name" closing a raw-text body at p, or NULL. */
static const char *raw_text_end(const char *p, const char *end, const char *name)
{
    char needle[16] = "</";
    strcat(needle, name);
    size_t n = strlen(needle);
    while ((p = find_ci(p, end, needle)) != NULL) {
        if (p + n >= end || tag_space((unsigned char)p[n]) || p[n] == '/' || p[n] == '>')
            return p;
        p += n;
    }
    return NULL;
}

/* End of an <svg> element whose start tag ends just before p (nesting
 * counted; a self-closing <svg/> inside does not nest). */
static const char *svg_end(const char *p, const char *end)
{
    int depth = 1;
    while (depth > 0 && p < end && (p = memchr(p, '<', (size_t)(end - p))) != NULL) {
        bool close = p + 1 < end && p[1] == '/';
        const char *name = p + (close ? 2 : 1);
        const char *after = name + 3;
        if (after > end || !nfi_str_ieq_prefix(name, (size_t)(end - name), "svg") ||
            (after < end && !tag_space((unsigned char)*after) && *after != '/' && *after != '>')) {
            p++;
            continue;
        }
        const char *te = tag_end(after, end);
        if (close)
            depth--;
        else if (!(te - after >= 2 && te[-2] == '/'))
            depth++;
        p = te;
    }
    return p ? p : end;
}

enum raw_kind { RAW_NONE, RAW_CUT, RAW_KEEP, RAW_SVG, RAW_PLAINTEXT };

static enum raw_kind raw_kind_of(const char *name, size_t n, const char **canon)
{
    /* noscript: raw text with scripting on, as in browsers; never read */
    static const word names[] = {W("script"), W("style"),    W("iframe"),   W("noembed"),
                                 W("noframes"), W("xmp"),    W("textarea"), W("title"),
                                 W("noscript"), W("svg"),    W("plaintext")};
    static const enum raw_kind kinds[] = {RAW_CUT, RAW_CUT, RAW_CUT,  RAW_CUT, RAW_CUT,      RAW_CUT,
                                          RAW_CUT, RAW_KEEP, RAW_CUT, RAW_SVG, RAW_PLAINTEXT};
    int i = word_index(name, n, names, sizeof names / sizeof *names);
    if (i < 0)
        return RAW_NONE;
    *canon = names[i].s;
    return kinds[i];
}

static void keep_jsonld(reducer *r, const char *tag, const char *tag_stop, const char *body,
                        const char *body_end)
{
    if (!find_ci(tag, tag_stop, "ld+json"))
        return;
    nfi_buf_append(&r->doc->jsonld, body, (size_t)(body_end - body));
    nfi_buf_putc(&r->doc->jsonld, '\0');
    r->doc->n_jsonld++;
}

/* Handles a start tag at p ('<' then a letter); returns where to go on. */
static const char *start_tag(reducer *r, const char *p)
{
    const char *name = p + 1, *q = name;
    while (q < r->end && !tag_space((unsigned char)*q) && *q != '/' && *q != '>')
        q++;
    const char *canon = NULL;
    enum raw_kind kind = raw_kind_of(name, (size_t)(q - name), &canon);
    const char *te = tag_end(q, r->end);
    if (kind == RAW_SVG) {
        bool self_closing = te - q >= 2 && te[-2] == '/';
        return self_closing ? te : svg_end(te, r->end);
    }
    if (te[-1] != '>') /* unterminated at the end: the tokenizer drops it too */
        return r->end;
    if (kind == RAW_NONE && formatting_tag(name, (size_t)(q - name)))
        return te;
    if (kind == RAW_NONE && !(te - q >= 2 && te[-2] == '/') && nesting_tag(name, (size_t)(q - name))) {
        if (r->depth >= MAX_NESTING) { /* hostile depth: keep the text, drop the box */
            r->excess++;
            return te;
        }
        r->depth++;
    }
    copy_start_tag(r, p, q, te);
    if (kind == RAW_NONE || te >= r->end)
        return te;
    if (kind == RAW_PLAINTEXT) {
        nfi_buf_append(&r->doc->html, te, (size_t)(r->end - te));
        return r->end;
    }
    const char *close = raw_text_end(te, r->end, canon);
    const char *body_end = close ? close : r->end;
    if (kind == RAW_KEEP)
        nfi_buf_append(&r->doc->html, te, (size_t)(body_end - te));
    else if (strcmp(canon, "script") == 0)
        keep_jsonld(r, p, te, te, body_end);
    return body_end;
}

/* Handles "<!" and "<?" at p; returns where to go on. */
static const char *markup_decl(reducer *r, const char *p)
{
    if (p[1] == '!' && r->end - p >= 4 && p[2] == '-' && p[3] == '-') {
        const char *body = p + 4;
        if (body < r->end && *body == '>')
            return body + 1;
        if (body + 1 < r->end && body[0] == '-' && body[1] == '>')
            return body + 2;
        const char *close = find_ci(body, r->end, "-->");
        return close ? close + 3 : r->end;
    }
    const char *gt = memchr(p, '>', (size_t)(r->end - p));
    const char *stop = gt ? gt + 1 : r->end;
    if (p[1] == '!') /* doctype, CDATA in foreign content: keep */
        nfi_buf_append(&r->doc->html, p, (size_t)(stop - p));
    return stop;
}

/* An end tag at p ("</" then a letter): it closes what a dropped start
 * tag would have opened, or is copied. */
static const char *end_tag(reducer *r, const char *p)
{
    const char *name = p + 2, *q = name;
    while (q < r->end && !tag_space((unsigned char)*q) && *q != '/' && *q != '>')
        q++;
    const char *te = tag_end(q, r->end);
    if (formatting_tag(name, (size_t)(q - name)))
        return te;
    if (nesting_tag(name, (size_t)(q - name))) {
        if (r->excess > 0) {
            r->excess--;
            return te;
        }
        if (r->depth > 0)
            r->depth--;
    }
    nfi_buf_append(&r->doc->html, p, (size_t)(te - p));
    return te;
}

static void reduce(reducer *r)
{
    const char *p = r->s;
    while (p < r->end) {
        const char *lt = memchr(p, '<', (size_t)(r->end - p));
        if (!lt) {
            nfi_buf_append(&r->doc->html, p, (size_t)(r->end - p));
            return;
        }
        nfi_buf_append(&r->doc->html, p, (size_t)(lt - p));
        if (lt + 1 >= r->end) {
            nfi_buf_putc(&r->doc->html, '<');
            return;
        }
        unsigned char c = (unsigned char)lt[1];
        if (is_alpha(c)) {
            p = start_tag(r, lt);
        } else if (c == '!' || c == '?') {
            p = markup_decl(r, lt);
        } else if (c == '/' && lt + 2 < r->end && is_alpha((unsigned char)lt[2])) {
            p = end_tag(r, lt);
        } else {
            nfi_buf_putc(&r->doc->html, '<');
            p = lt + 1;
        }
    }
}

/* --------------------------------------------------------------- public */

nf_status nfi_html_parse(const char *html, size_t len, nfi_html_doc *doc, nf_error *err)
{
    memset(doc, 0, sizeof *doc);
    reducer r = {html, html + len, doc, 0, 0};
    nfi_buf_reserve(&doc->html, len / 2);
    reduce(&r);
    if (doc->html.oom || doc->jsonld.oom || !nfi_buf_reserve(&doc->html, 0)) {
        nfi_html_doc_free(doc);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory reducing the page");
    }
    arena_ctx *ctx = malloc(sizeof *ctx);
    if (!ctx) {
        nfi_html_doc_free(doc);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    ctx->doc = doc;
    GumboOptions opt = kGumboDefaultOptions;
    opt.allocator = arena_alloc;
    opt.deallocator = arena_free;
    opt.userdata = ctx;
    opt.max_errors = 0;
    doc->out = gumbo_parse_with_options(&opt, doc->html.data, doc->html.len);
    free(ctx);
    if (doc->arena_failed || !doc->out) {
        nfi_html_doc_free(doc);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory parsing the page");
    }
    return NF_OK;
}

void nfi_html_doc_free(nfi_html_doc *doc)
{
    arena_release(doc); /* the tree lives in the arena: no gumbo_destroy_output */
    nfi_buf_free(&doc->html);
    nfi_buf_free(&doc->jsonld);
    memset(doc, 0, sizeof *doc);
}

const char *nfi_html_next_jsonld(const nfi_html_doc *doc, size_t *pos)
{
    if (!doc->jsonld.data || *pos >= doc->jsonld.len)
        return NULL;
    const char *s = doc->jsonld.data + *pos;
    *pos += strlen(s) + 1;
    return s;
}

const char *nfi_html_attr(const GumboNode *node, const char *name)
{
    if (node->type != GUMBO_NODE_ELEMENT)
        return NULL;
    const GumboAttribute *a = gumbo_get_attribute(&node->v.element.attributes, name);
    return a ? a->value : NULL;
}

/* ------------------------------------------------------------ node text */

static void append_collapsed(nfi_buf *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (nfi_is_space(c)) {
            if (out->len && out->data[out->len - 1] != ' ')
                nfi_buf_putc(out, ' ');
        } else if (c == 0xC2 && (unsigned char)s[1] == 0xA0) { /* no-break space */
            if (out->len && out->data[out->len - 1] != ' ')
                nfi_buf_putc(out, ' ');
            s++;
        } else {
            nfi_buf_putc(out, (char)c);
        }
    }
}

void nfi_html_node_text(const GumboNode *node, nfi_buf *out, int depth)
{
    if (depth > NF_HTML_MAX_DEPTH)
        return;
    if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_CDATA ||
        node->type == GUMBO_NODE_WHITESPACE) {
        append_collapsed(out, node->v.text.text);
        return;
    }
    if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_TEMPLATE)
        return;
    GumboTag tag = node->v.element.tag;
    if (tag == GUMBO_TAG_SCRIPT || tag == GUMBO_TAG_STYLE || tag == GUMBO_TAG_NOSCRIPT)
        return;
    const GumboVector *kids = &node->v.element.children;
    for (unsigned i = 0; i < kids->length; i++)
        nfi_html_node_text(kids->data[i], out, depth + 1);
}
