/*
 * extract.c - the main text of a page: which blocks of the DOM are the
 * article.
 *
 * 1. Blocks. One walk over <body> turns the DOM into a list of text blocks
 *    in document order: a block is the text between block-level boundaries
 *    (p, div, h1-h6, li, td, custom elements ... and double <br>), with its
 *    length in characters, the part inside links (and the link run it opens
 *    with), its word and punctuation counts, and the block element owning
 *    it. Invisible subtrees (hidden, aria-hidden, display:none, screen-
 *    reader-only text, form controls, media, scripts) make no blocks; an
 *    inline element with a negative class (a share button in a paragraph)
 *    neither. Elements are recorded in preorder, so each element's blocks
 *    are one contiguous range [first, end) and parents come before children.
 * 2. Hints. nav, aside, footer, header and classes/ids/roles naming menus,
 *    sharing, comments, related stories, cookie notices, ads, captions ...
 *    are negative; articleBody-like names positive (positive wins on one
 *    element). A block takes the nearest hint that counts among its owners;
 *    a negative hint does not count on an element holding most of the
 *    page's prose (a wrapper such as "page has-sidebar").
 * 3. Classes. Each block is GOOD (long prose, few links), NEAR (medium),
 *    SHORT, HEADING or BAD (negative hint, mostly links, a boilerplate label
 *    such as "Advertisement", a cookie notice by its wording, or a teaser:
 *    lists of same-template cards with a headline link and a summary, and
 *    summaries opening with a headline link and ending in "..."). Blocks
 *    whose word trigrams are mostly in a JSON-LD articleBody of 50+ words
 *    are GOOD whatever else they look like. Inside a positively named box
 *    link density may be higher (news digests).
 * 4. Container. Each block gets a weight (+length for GOOD, more in a
 *    positive box or when JSON-LD confirms it, half for NEAR, -length for
 *    BAD, the prose minus the links for link-heavy paragraphs); with prefix
 *    sums every element's score is the sum over its range, and the element
 *    with the highest score (deepest on ties) is the article container: a
 *    maximum-sum subtree, which takes a lead paragraph sitting in a sibling
 *    box when the boilerplate between is light, and stops at comments and
 *    link lists.
 * 5. Context. Inside the container NEAR blocks next to GOOD ones and SHORT
 *    blocks between GOOD ones become GOOD (jusText-style; in a positive box
 *    NEAR stays and one GOOD neighbour is enough), headings followed by
 *    GOOD text are kept, the headline itself is not.
 * 6. Fallbacks. A container that keeps nothing keeps its NEAR blocks (short
 *    pages); when the kept text covers less than half of a plausible JSON-LD
 *    articleBody (script-rendered pages), the articleBody is the text.
 * Nothing is site-specific; all thresholds are in characters (code points),
 * so they hold for scripts without spaces too. Everything is linear in the
 * number of nodes and blocks.
 */
#include "ingest/ingest.h"

#include <stdlib.h>
#include <string.h>

#define GOOD_CHARS 120
#define GOOD_PUNCT_CHARS 60
#define NEAR_CHARS 40
#define LINK_BAD 0.5
#define LINK_GOOD 0.3
#define JSONLD_MIN_WORDS 50
#define JSONLD_MATCH 0.5
#define WRAPPER_SHARE 0.5

enum block_kind { K_TEXT, K_HEADING, K_ITEM, K_CAPTION, K_CELL, K_PRE };
enum block_class { C_SHORT, C_NEAR, C_GOOD, C_BAD, C_HEADING };
enum hint { H_NONE = 0, H_POS = 1, H_NEG = -1 };

typedef struct ex_elem {
    const GumboNode *node;
    int32_t parent;
    uint32_t first, end; /* block range */
    int8_t hint;         /* its own class/tag hint */
    int8_t eff;          /* hint in force for its blocks (nearest that counts) */
    bool quote;          /* <blockquote>: quoted text, an embedded post */
} ex_elem;

typedef struct ex_block {
    uint32_t start, len; /* text in the pool */
    uint32_t chars, link_chars, words, punct;
    uint32_t lead_link; /* chars of link before the first non-link char */
    int32_t owner;
    uint8_t kind, level, cls;
    int8_t hint;
    bool teaser; /* a summary in a list of links to other stories */
    float ld; /* share of trigrams found in JSON-LD articleBody, -1: not computed */
} ex_block;

/* Class strings repeat (a menu's hundred "nav-item"s): their hints are
 * remembered per page by hash, direct-mapped. */
#define HINT_CACHE 256

typedef struct hint_cache {
    uint64_t key[HINT_CACHE];
    int8_t hint[HINT_CACHE];
} hint_cache;

/* The state of the walk: context flows down the recursion in `ctx`, the
 * block being built lives here. */
typedef struct walker {
    ex_elem *elems;
    size_t n_elems, cap_elems;
    ex_block *blocks;
    size_t n_blocks, cap_blocks;
    nfi_buf pool;
    ex_block cur; /* start = pool offset of the block being built */
    bool space_pending, oom;
    hint_cache hints;
} walker;

typedef struct ctx {
    int32_t owner;
    uint8_t kind, level;
    bool in_link, in_pre;
} ctx;

/* -------------------------------------------------------------- hints */

static bool has_token(const char *low, const char *const *words, size_t n)
{
    const char *p = low;
    while (*p) {
        while (*p && !((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            p++;
        const char *s = p;
        while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
            p++;
        size_t len = (size_t)(p - s);
        for (size_t i = 0; i < n && len; i++)
            if (strlen(words[i]) == len && memcmp(words[i], s, len) == 0)
                return true;
    }
    return false;
}

static bool has_substring(const char *low, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(low, words[i]))
            return true;
    return false;
}

#define COUNT(a) (sizeof(a) / sizeof *(a))

/* Hint from class, id, role and itemprop (lower-cased and joined). */
static int class_hint(const char *low)
{
    static const char *const neg_tokens[] = {
        "nav", "menu", "footer", "header", "share", "shares", "sharing", "social", "ad", "ads",
        "advert", "adv", "banner", "tags", "promo", "sponsored", "byline", "author",
        "related", "comments", "comment", "widget", "rail", "toolbar", "caption", "credit",
        "breadcrumb", "breadcrumbs", "newsletter", "subscribe", "signup", "login", "popup",
        "modal", "overlay", "complementary", "contentinfo", "navigation", "banner", "masthead",
        "pagination", "pager", "dateline", "timestamp", "print", "outbrain", "taboola", "trending",
        "popular", "recommended", "teaser", "teasers", "cookie", "cookies", "consent",
        "gdpr", "disclaimer", "skip", "video", "gallery"};
    static const char *const neg_substrings[] = {
        "sidebar", "comment", "newsletter", "breadcrumb", "cookie", "consent", "gdpr", "related",
        "recommend", "social", "advert", "sponsor", "outbrain", "taboola", "subscribe", "signup",
        "trending", "mostread", "most-read", "most-popular", "mostpopular", "recirc", "share",
        "footer", "navbar", "navigation", "disqus", "paywall-prompt", "read-more", "readmore",
        "also-read", "alsoread", "more-stories", "morestories", "promo", "byline", "dfp",
        "adslot", "ad-slot", "adunit", "ad-unit", "ad-container", "adcontainer", "ad-wrapper",
        "tag-list", "taglist", "tag-cloud", "tagcloud", "caption", "credit"};
    static const char *const pos_substrings[] = {
        "articlebody", "article-body", "article_body", "article__body", "articletext",
        "article-text", "article-content", "article__content", "articlecontent", "story-body",
        "storybody", "story-text", "story-content", "storycontent", "post-content", "postcontent",
        "post-body", "entry-content", "entry-body", "body-text", "bodytext", "article-copy",
        "rich-text", "richtext", "main-content", "maincontent", "content-body", "text-body"};
    /* hAtom "hentry" marks posts, the article and teasers alike: it only
     * protects a post from its own "tag-x"-style classes */
    static const char *const neutral_tokens[] = {"hentry"};
    if (has_substring(low, pos_substrings, COUNT(pos_substrings)))
        return H_POS; /* "entry-content entry-content-read-more" is the article */
    if (has_token(low, neutral_tokens, COUNT(neutral_tokens)))
        return H_NONE;
    if (has_token(low, neg_tokens, COUNT(neg_tokens)) || has_substring(low, neg_substrings, COUNT(neg_substrings)))
        return H_NEG;
    return H_NONE;
}

static void append_lower(char *out, size_t cap, size_t *n, const char *s)
{
    if (!s)
        return;
    if (*n + 1 < cap)
        out[(*n)++] = ' ';
    for (; *s && *n + 1 < cap; s++)
        out[(*n)++] = (char)nfi_lower_ascii((unsigned char)*s);
    out[*n] = '\0';
}

/* The attributes the walk reads, found in one pass (gumbo lower-cases
 * attribute names). */
typedef struct elem_attrs {
    const char *cls, *id, *role, *itemprop, *style, *aria_hidden, *href;
    bool hidden;
} elem_attrs;

static void read_attrs(const GumboNode *n, elem_attrs *a)
{
    memset(a, 0, sizeof *a);
    const GumboVector *v = &n->v.element.attributes;
    for (unsigned i = 0; i < v->length; i++) {
        const GumboAttribute *at = v->data[i];
        const char *k = at->name;
        const char **slot = strcmp(k, "class") == 0         ? &a->cls
                            : strcmp(k, "id") == 0          ? &a->id
                            : strcmp(k, "role") == 0        ? &a->role
                            : strcmp(k, "itemprop") == 0    ? &a->itemprop
                            : strcmp(k, "style") == 0       ? &a->style
                            : strcmp(k, "aria-hidden") == 0 ? &a->aria_hidden
                            : strcmp(k, "href") == 0        ? &a->href
                                                            : NULL;
        if (slot && !*slot)
            *slot = at->value;
        a->hidden |= strcmp(k, "hidden") == 0;
    }
}

static int cached_class_hint(hint_cache *c, const char *low, size_t len)
{
    if (!c)
        return class_hint(low);
    uint64_t h = nfi_hash64(low, len) | 1; /* 0 marks an empty slot */
    size_t slot = h % HINT_CACHE;
    if (c->key[slot] != h) {
        c->key[slot] = h;
        c->hint[slot] = (int8_t)class_hint(low);
    }
    return c->hint[slot];
}

static int element_hint(const GumboNode *n, const elem_attrs *a, hint_cache *cache)
{
    switch (n->v.element.tag) {
    case GUMBO_TAG_NAV:
    case GUMBO_TAG_ASIDE:
    case GUMBO_TAG_FOOTER:
    case GUMBO_TAG_HEADER:
    case GUMBO_TAG_MENU:
        return H_NEG;
    case GUMBO_TAG_BODY:
    case GUMBO_TAG_HTML:
        return H_NONE;
    default: break;
    }
    if (a->itemprop && strstr(a->itemprop, "articleBody"))
        return H_POS;
    char low[512];
    size_t len = 0;
    low[0] = '\0';
    append_lower(low, sizeof low, &len, a->cls);
    append_lower(low, sizeof low, &len, a->id);
    append_lower(low, sizeof low, &len, a->role);
    append_lower(low, sizeof low, &len, a->itemprop);
    return len ? cached_class_hint(cache, low, len) : H_NONE;
}

/* Invisible or never text: the subtree makes no blocks. */
static bool skipped(const GumboNode *n, const elem_attrs *a)
{
    switch (n->v.element.tag) {
    case GUMBO_TAG_SCRIPT: case GUMBO_TAG_STYLE: case GUMBO_TAG_NOSCRIPT: case GUMBO_TAG_TEMPLATE:
    case GUMBO_TAG_SVG: case GUMBO_TAG_MATH: case GUMBO_TAG_IFRAME: case GUMBO_TAG_OBJECT:
    case GUMBO_TAG_EMBED: case GUMBO_TAG_VIDEO: case GUMBO_TAG_AUDIO: case GUMBO_TAG_CANVAS:
    case GUMBO_TAG_SELECT: case GUMBO_TAG_BUTTON: case GUMBO_TAG_INPUT: case GUMBO_TAG_TEXTAREA:
    case GUMBO_TAG_HEAD: case GUMBO_TAG_MAP: case GUMBO_TAG_LABEL:
        return true;
    default: break;
    }
    if (a->hidden || (a->aria_hidden && strcmp(a->aria_hidden, "true") == 0))
        return true;
    const char *style = a->style, *cls = a->cls;
    if (style && (strstr(style, "display:none") || strstr(style, "display: none") ||
                  strstr(style, "visibility:hidden") || strstr(style, "visibility: hidden")))
        return true;
    return cls && (strstr(cls, "sr-only") || strstr(cls, "visually-hidden") ||
                   strstr(cls, "screen-reader") || strstr(cls, "visuallyhidden"));
}

static bool is_block_tag(GumboTag t)
{
    switch (t) {
    case GUMBO_TAG_ADDRESS: case GUMBO_TAG_ARTICLE: case GUMBO_TAG_ASIDE: case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_BODY: case GUMBO_TAG_CENTER: case GUMBO_TAG_DD: case GUMBO_TAG_DETAILS:
    case GUMBO_TAG_DIR: case GUMBO_TAG_DIV: case GUMBO_TAG_DL: case GUMBO_TAG_DT:
    case GUMBO_TAG_FIELDSET: case GUMBO_TAG_FIGCAPTION: case GUMBO_TAG_FIGURE: case GUMBO_TAG_FOOTER:
    case GUMBO_TAG_FORM: case GUMBO_TAG_H1: case GUMBO_TAG_H2: case GUMBO_TAG_H3: case GUMBO_TAG_H4:
    case GUMBO_TAG_H5: case GUMBO_TAG_H6: case GUMBO_TAG_HEADER: case GUMBO_TAG_HGROUP: case GUMBO_TAG_HR:
    case GUMBO_TAG_LI: case GUMBO_TAG_MAIN: case GUMBO_TAG_MENU: case GUMBO_TAG_NAV: case GUMBO_TAG_OL:
    case GUMBO_TAG_P: case GUMBO_TAG_PRE: case GUMBO_TAG_SECTION: case GUMBO_TAG_SUMMARY:
    case GUMBO_TAG_TABLE: case GUMBO_TAG_TBODY: case GUMBO_TAG_THEAD: case GUMBO_TAG_TFOOT:
    case GUMBO_TAG_TR: case GUMBO_TAG_TD: case GUMBO_TAG_TH: case GUMBO_TAG_CAPTION: case GUMBO_TAG_UL:
    case GUMBO_TAG_HTML: case GUMBO_TAG_LEGEND:
    case GUMBO_TAG_UNKNOWN: /* custom elements are containers far more often than inline */
        return true;
    default: return false;
    }
}

/* ---------------------------------------------------------- building */

static void start_block(walker *w) { w->cur.start = (uint32_t)w->pool.len; }

/* Ends the block being built (when it has text) under context c. */
static void flush(walker *w, const ctx *c)
{
    while (w->pool.len > w->cur.start && (w->pool.data[w->pool.len - 1] == ' ' || w->pool.data[w->pool.len - 1] == '\n'))
        w->pool.len--;
    w->space_pending = false;
    if (w->cur.chars == 0) {
        w->pool.len = w->cur.start;
        memset(&w->cur, 0, sizeof w->cur);
        start_block(w);
        return;
    }
    if (w->n_blocks == w->cap_blocks) {
        size_t cap = w->cap_blocks ? w->cap_blocks * 2 : 256;
        ex_block *b = realloc(w->blocks, cap * sizeof *b);
        if (!b) {
            w->oom = true;
            return;
        }
        w->blocks = b;
        w->cap_blocks = cap;
    }
    ex_block *b = &w->blocks[w->n_blocks++];
    *b = w->cur;
    b->len = (uint32_t)(w->pool.len - b->start);
    b->owner = c->owner;
    b->kind = c->kind;
    b->level = c->level;
    b->hint = H_NONE; /* set once the walk is done (apply_hints) */
    b->ld = -1;
    nfi_buf_putc(&w->pool, '\0');
    memset(&w->cur, 0, sizeof w->cur);
    start_block(w);
}

static bool is_punct(uint32_t cp)
{
    return cp == '.' || cp == ',' || cp == '!' || cp == '?' || cp == ';' || cp == ':' ||
           cp == 0x3002 || cp == 0xFF0C || cp == 0x3001 || cp == 0xFF01 || cp == 0xFF1F || cp == 0x061F ||
           cp == 0x060C || cp == 0x0964;
}

static void add_text(walker *w, const ctx *c, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = nfi_utf8_decode(p + i, n - i, &cp);
        bool space = cp == ' ' || cp == '\t' || cp == '\r' || cp == '\f' || cp == 0xA0 ||
                     (cp == '\n' && !c->in_pre);
        if (cp == '\n' && c->in_pre) {
            nfi_buf_putc(&w->pool, '\n');
            w->space_pending = false;
        } else if (space) {
            w->space_pending = w->pool.len > w->cur.start;
        } else {
            if (w->space_pending) {
                if (w->pool.data[w->pool.len - 1] != '\n') /* no space opens a line */
                    nfi_buf_putc(&w->pool, ' ');
                w->cur.words++;
            } else if (w->pool.len == w->cur.start) {
                w->cur.words++;
            }
            w->space_pending = false;
            nfi_buf_append(&w->pool, p + i, k);
            w->cur.chars++;
            w->cur.link_chars += c->in_link;
            if (c->in_link && w->cur.lead_link + 1 == w->cur.chars)
                w->cur.lead_link++;
            w->cur.punct += is_punct(cp);
        }
        i += k;
    }
}

static void line_break(walker *w, const ctx *c)
{
    if (w->pool.len == w->cur.start)
        return;
    if (w->pool.data[w->pool.len - 1] == '\n') { /* <br><br>: a paragraph break */
        flush(w, c);
        return;
    }
    nfi_buf_putc(&w->pool, '\n');
    w->space_pending = false;
}

static int32_t push_elem(walker *w, const GumboNode *n, int32_t parent, int hint)
{
    if (w->n_elems == w->cap_elems) {
        size_t cap = w->cap_elems ? w->cap_elems * 2 : 256;
        ex_elem *e = realloc(w->elems, cap * sizeof *e);
        if (!e) {
            w->oom = true;
            return -1;
        }
        w->elems = e;
        w->cap_elems = cap;
    }
    ex_elem *e = &w->elems[w->n_elems];
    e->node = n;
    e->parent = parent;
    e->hint = (int8_t)hint;
    e->eff = H_NONE;
    e->quote = n->v.element.tag == GUMBO_TAG_BLOCKQUOTE;
    e->first = e->end = (uint32_t)w->n_blocks;
    return (int32_t)w->n_elems++;
}

static void visit(walker *w, const GumboNode *n, ctx c, int depth);

/* An inline element wrapping paragraphs (<span class=...><p>) is a box. */
static bool has_block_child(const GumboNode *n)
{
    const GumboVector *kids = &n->v.element.children;
    for (unsigned i = 0; i < kids->length; i++) {
        const GumboNode *k = kids->data[i];
        if (k->type == GUMBO_NODE_ELEMENT && is_block_tag(k->v.element.tag) && k->v.element.tag != GUMBO_TAG_BR)
            return true;
    }
    return false;
}

static void kind_of(const GumboNode *n, ctx *c)
{
    GumboTag t = n->v.element.tag;
    if (t >= GUMBO_TAG_H1 && t <= GUMBO_TAG_H6) {
        c->kind = K_HEADING;
        c->level = (uint8_t)(t - GUMBO_TAG_H1 + 1);
    } else if (t == GUMBO_TAG_LI || t == GUMBO_TAG_DT || t == GUMBO_TAG_DD) {
        c->kind = K_ITEM;
    } else if (t == GUMBO_TAG_FIGCAPTION || t == GUMBO_TAG_FIGURE || t == GUMBO_TAG_CAPTION) {
        c->kind = K_CAPTION;
    } else if (t == GUMBO_TAG_TD || t == GUMBO_TAG_TH) {
        c->kind = c->kind == K_CAPTION ? K_CAPTION : K_CELL;
    } else if (t == GUMBO_TAG_PRE) {
        c->kind = K_PRE;
        c->in_pre = true;
    } else if (c->kind != K_CAPTION && c->kind != K_HEADING) {
        c->kind = c->kind == K_ITEM || c->kind == K_CELL ? c->kind : K_TEXT;
    }
}

static void visit_block(walker *w, const GumboNode *n, ctx c, int hint, int depth)
{
    flush(w, &c);
    int32_t id = push_elem(w, n, c.owner, hint);
    if (id < 0)
        return;
    c.owner = id;
    kind_of(n, &c);
    const GumboVector *kids = &n->v.element.children;
    for (unsigned i = 0; i < kids->length && !w->oom; i++)
        visit(w, kids->data[i], c, depth + 1);
    flush(w, &c);
    w->elems[id].end = (uint32_t)w->n_blocks;
}

static void visit(walker *w, const GumboNode *n, ctx c, int depth)
{
    if (depth > NF_HTML_MAX_DEPTH || w->oom)
        return;
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_CDATA) {
        add_text(w, &c, n->v.text.text);
        return;
    }
    if (n->type == GUMBO_NODE_WHITESPACE) {
        w->space_pending = w->pool.len > w->cur.start;
        return;
    }
    if (n->type != GUMBO_NODE_ELEMENT)
        return;
    elem_attrs a;
    read_attrs(n, &a);
    if (skipped(n, &a))
        return;
    GumboTag t = n->v.element.tag;
    if (t == GUMBO_TAG_BR || t == GUMBO_TAG_HR) {
        if (t == GUMBO_TAG_BR)
            line_break(w, &c);
        else
            flush(w, &c);
        return;
    }
    int hint = element_hint(n, &a, &w->hints);
    if (is_block_tag(t)) {
        visit_block(w, n, c, hint, depth);
        return;
    }
    if (hint == H_NEG && !has_block_child(n)) /* an inline share button, ad label ... */
        return;
    if (t == GUMBO_TAG_A && a.href)
        c.in_link = true;
    const GumboVector *kids = &n->v.element.children;
    for (unsigned i = 0; i < kids->length && !w->oom; i++)
        visit(w, kids->data[i], c, depth + 1);
}

/* -------------------------------------------------------------- hints */

/* Prose: what would be GOOD or NEAR text without hints. */
static bool prose(const ex_block *b) { return b->chars >= NEAR_CHARS && b->link_chars * 10 < b->chars * 3; }

/*
 * Gives each block the hint in force at its owner: the nearest element hint
 * that counts. A negative hint does not count on an element holding most of
 * the page's prose: such an element is a wrapper ("page has-sidebar"), not
 * a sidebar; the boxes inside it keep their own hints. Elements are in
 * preorder (parents first), so one pass settles them all.
 */
static bool apply_hints(walker *w)
{
    double *mass = malloc((w->n_blocks + 1) * sizeof *mass);
    if (!mass)
        return false;
    mass[0] = 0;
    for (size_t i = 0; i < w->n_blocks; i++)
        mass[i + 1] = mass[i] + (prose(&w->blocks[i]) ? w->blocks[i].chars : 0);
    double total = mass[w->n_blocks];
    for (size_t e = 0; e < w->n_elems; e++) {
        ex_elem *el = &w->elems[e];
        int8_t inherited = el->parent >= 0 ? w->elems[el->parent].eff : H_NONE;
        double own = mass[el->end] - mass[el->first];
        bool wrapper = el->hint == H_NEG && own > WRAPPER_SHARE * total;
        if (el->quote && inherited == H_NEG) /* a quote in an "embed" box is still quoted text */
            inherited = H_NONE;
        el->eff = el->hint && !wrapper ? el->hint : inherited;
    }
    for (size_t i = 0; i < w->n_blocks; i++)
        w->blocks[i].hint = w->blocks[i].owner >= 0 ? w->elems[w->blocks[i].owner].eff : H_NONE;
    free(mass);
    return true;
}

/* ------------------------------------------------------------ teasers */

static bool headline_link(const ex_block *b)
{
    return b->chars >= 15 && b->chars <= 250 && b->link_chars * 10 >= b->chars * 8;
}

static bool plain_text(const ex_block *b) { return b->chars >= 20 && b->link_chars * 10 < b->chars * 2; }

/* A card: a few blocks, one a headline link and one plain text. */
static bool is_card(const walker *w, const ex_elem *e)
{
    if (e->end - e->first < 2 || e->end - e->first > 6)
        return false;
    bool link = false, text = false;
    for (uint32_t i = e->first; i < e->end; i++) {
        link |= headline_link(&w->blocks[i]);
        text |= plain_text(&w->blocks[i]);
    }
    return link && text;
}

static bool same_template(const GumboNode *a, const GumboNode *b)
{
    if (a->v.element.tag != b->v.element.tag)
        return false;
    const char *ca = nfi_html_attr(a, "class"), *cb = nfi_html_attr(b, "class");
    return (!ca && !cb) || (ca && cb && strcmp(ca, cb) == 0);
}

/* Lists of three or more cards of one template, outside article-named
 * boxes, are story teasers ("More from ...", "Related"). */
static void mark_card_lists(walker *w)
{
    int32_t *first_card = malloc(w->n_elems * sizeof *first_card);
    uint32_t *count = calloc(w->n_elems, sizeof *count);
    if (!first_card || !count) {
        free(first_card);
        free(count);
        return;
    }
    for (size_t e = 0; e < w->n_elems; e++)
        first_card[e] = -1;
    for (size_t e = 0; e < w->n_elems; e++) {
        int32_t p = w->elems[e].parent;
        if (p < 0 || w->elems[p].eff == H_POS || !is_card(w, &w->elems[e]))
            continue;
        if (first_card[p] < 0)
            first_card[p] = (int32_t)e;
        count[p] += same_template(w->elems[first_card[p]].node, w->elems[e].node);
    }
    for (size_t e = 0; e < w->n_elems; e++) {
        int32_t p = w->elems[e].parent;
        if (p >= 0 && count[p] >= 3 && is_card(w, &w->elems[e]) &&
            same_template(w->elems[first_card[p]].node, w->elems[e].node))
            for (uint32_t i = w->elems[e].first; i < w->elems[e].end; i++)
                w->blocks[i].teaser = true;
    }
    free(first_card);
    free(count);
}

static bool ends_with_ellipsis(const char *t, uint32_t len)
{
    return (len >= 3 && memcmp(t + len - 3, "...", 3) == 0) ||
           (len >= 3 && memcmp(t + len - 3, "\xE2\x80\xA6", 3) == 0);
}

/* Blocks opening with a headline link and ending in an ellipsis: a
 * truncated summary of another story. Two make a list. */
static void mark_inline_teasers(walker *w)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < w->n_blocks; i++) {
            ex_block *b = &w->blocks[i];
            bool teaser = b->lead_link >= 15 && b->lead_link < b->chars &&
                          ends_with_ellipsis(w->pool.data + b->start, b->len);
            if (pass == 0)
                n += teaser;
            else if (teaser && n >= 2)
                b->teaser = true;
        }
    }
}

/* ----------------------------------------------------------- words */

/* Word characters as in Python's \w on ASCII; any non-ASCII byte counts as
 * part of a word (enough for matching text against JSON-LD). */
static bool word_byte(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

typedef struct hash_set {
    uint64_t *slots;
    size_t cap, count;
} hash_set;

static bool set_add(hash_set *s, uint64_t h)
{
    h |= 1; /* zero marks an empty slot */
    if ((s->count + 1) * 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *slots = calloc(cap, sizeof *slots);
        if (!slots)
            return false;
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->slots[i])
                continue;
            size_t j = s->slots[i] & (cap - 1);
            while (slots[j])
                j = (j + 1) & (cap - 1);
            slots[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = slots;
        s->cap = cap;
    }
    size_t j = h & (s->cap - 1);
    while (s->slots[j] && s->slots[j] != h)
        j = (j + 1) & (s->cap - 1);
    if (!s->slots[j]) {
        s->slots[j] = h;
        s->count++;
    }
    return true;
}

static bool set_has(const hash_set *s, uint64_t h)
{
    if (!s->cap)
        return false;
    h |= 1;
    size_t j = h & (s->cap - 1);
    while (s->slots[j]) {
        if (s->slots[j] == h)
            return true;
        j = (j + 1) & (s->cap - 1);
    }
    return false;
}

/* Calls fn for every word trigram hash of s; returns the word count. */
typedef void (*trigram_fn)(void *arg, uint64_t h);

static size_t each_trigram(const char *s, size_t len, trigram_fn fn, void *arg)
{
    uint64_t w[3] = {0, 0, 0};
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && !word_byte((unsigned char)s[i]))
            i++;
        size_t st = i;
        while (i < len && word_byte((unsigned char)s[i]))
            i++;
        if (i == st)
            break;
        w[0] = w[1];
        w[1] = w[2];
        w[2] = nfi_hash64(s + st, i - st);
        if (++n >= 3)
            fn(arg, w[0] * 0x9E3779B97F4A7C15ull ^ w[1] * 0xC2B2AE3D27D4EB4Full ^ w[2]);
    }
    return n;
}

typedef struct match_count {
    const hash_set *set;
    size_t seen, found;
} match_count;

static void add_to_set(void *arg, uint64_t h)
{
    if (!set_add(arg, h))
        ((hash_set *)arg)->count = SIZE_MAX; /* marks failure */
}

static void count_match(void *arg, uint64_t h)
{
    match_count *m = arg;
    m->seen++;
    m->found += set_has(m->set, h);
}

/* -------------------------------------------------------- classify */

static bool boilerplate_label(const char *t, uint32_t words)
{
    static const char *const labels[] = {
        "advertisement", "advertising", "advert", "ad", "sponsored", "story continues below",
        "continue reading", "read more", "share", "share this", "share this article", "related",
        "related stories", "related articles", "more", "click here", "subscribe", "sign up",
        "see also", "read also", "recommended", "loading", "comments", "show comments",
        "you may also like", "you might also like", "you may like", "more from", "more stories",
        "most read", "most popular", "trending now", "editor's picks", "recommended for you",
        "sponsored content", "related content", "related posts", "related news", "top stories",
        "latest news", "read next", "up next", "don't miss", "also read", "advertisement - scroll to continue",
        "anzeige", "werbung", "publicité", "publicidad", "pubblicità", "reklama", "lesen sie auch",
        "mehr zum thema", "lire aussi", "à lire aussi", "leer más", "leia também", "leggi anche"};
    if (words > 6)
        return false;
    char low[96];
    size_t n = 0;
    for (; t[n] && n + 1 < sizeof low; n++)
        low[n] = (char)nfi_lower_ascii((unsigned char)t[n]);
    for (;;) { /* trailing punctuation and ellipses do not matter */
        if (n && (low[n - 1] == ':' || low[n - 1] == '.' || low[n - 1] == ' ' || low[n - 1] == '!'))
            n--;
        else if (n >= 3 && memcmp(low + n - 3, "\xE2\x80\xA6", 3) == 0)
            n -= 3;
        else
            break;
    }
    low[n] = '\0';
    for (size_t i = 0; i < COUNT(labels); i++)
        if (strcmp(low, labels[i]) == 0)
            return true;
    return false;
}

/* Inside an element named like an article body, paragraphs dense with
 * links (news digests) are still the article. */
static double link_bad(const ex_block *b) { return b->hint == H_POS ? 0.8 : LINK_BAD; }
static double link_good(const ex_block *b) { return b->hint == H_POS ? 0.65 : LINK_GOOD; }

/* A consent notice without a telling class: short, and in the wording
 * such notices use (English, German, French, Spanish, Italian, Dutch). */
static bool cookie_notice(const char *text, uint32_t words)
{
    static const char *const phrases[] = {
        "we use cookies", "uses cookies", "use of cookies", "accept cookies", "cookie settings",
        "cookie policy", "cookie preferences", "accept all cookies", "verwendet cookies",
        "verwenden cookies", "nutzt cookies", "utilise des cookies", "utilisons des cookies",
        "utiliza cookies", "utilizamos cookies", "utilizza cookie", "utilizziamo cookie",
        "gebruikt cookies", "maakt gebruik van cookies"};
    if (words > 80)
        return false;
    char low[800];
    size_t n = 0;
    for (; text[n] && n + 1 < sizeof low; n++)
        low[n] = (char)nfi_lower_ascii((unsigned char)text[n]);
    low[n] = '\0';
    return strstr(low, "cookie") && has_substring(low, phrases, COUNT(phrases));
}

/* Short calls to subscribe or follow, and reporter contact lines. */
static bool promo_line(const char *text, uint32_t words)
{
    static const char *const phrases[] = {
        "sign up for our", "sign up to our", "subscribe to our", "subscribe now", "subscribe today",
        "our newsletter", "newsletters", "in your inbox", "to your inbox", "follow us on",
        "follow him on twitter", "follow her on twitter", "may be reached at", "can be reached at",
        "download our app", "abonnieren sie", "newsletter abonnieren",
        "abonnez-vous", "suscríbete", "iscriviti alla newsletter"};
    if (words > 35)
        return false;
    char low[400];
    size_t n = 0;
    for (; text[n] && n + 1 < sizeof low; n++)
        low[n] = (char)nfi_lower_ascii((unsigned char)text[n]);
    low[n] = '\0';
    return has_substring(low, phrases, COUNT(phrases));
}

static uint8_t base_class(const ex_block *b, const char *text)
{
    double link = b->chars ? (double)b->link_chars / b->chars : 0;
    if (b->ld >= JSONLD_MATCH)
        return C_GOOD;
    if (b->hint == H_NEG || b->teaser || link > link_bad(b) || boilerplate_label(text, b->words) ||
        cookie_notice(text, b->words) || promo_line(text, b->words))
        return C_BAD;
    if (b->kind == K_HEADING)
        return link > link_good(b) ? C_BAD : C_HEADING;
    if (b->kind == K_CAPTION)
        return C_BAD;
    if (link < link_good(b) && (b->chars >= GOOD_CHARS || (b->chars >= GOOD_PUNCT_CHARS && b->punct >= 2)))
        return C_GOOD;
    if (link < link_good(b) && b->chars >= NEAR_CHARS)
        return C_NEAR;
    return C_SHORT;
}

/* Container weight: prose counts for, links and marked boilerplate against.
 * A link-heavy paragraph costs its links minus its own prose, so a hover
 * card or link roundup inside an article does not cut the article in two. */
static double weight_of(const ex_block *b)
{
    double text = (double)b->chars - b->link_chars;
    switch (b->cls) {
    case C_GOOD: return b->ld >= JSONLD_MATCH ? 2.0 * b->chars : b->hint == H_POS ? 1.5 * b->chars : b->chars;
    case C_NEAR: return b->chars / 2.0;
    case C_BAD:
        if (b->hint == H_NEG || b->teaser || b->link_chars == 0)
            return -(double)b->chars - 5;
        return text - b->link_chars - 5;
    default: return b->link_chars * 2 > b->chars ? text - b->link_chars : 0;
    }
}

/* ------------------------------------------------------------ context */

/* For every block in [lo, hi), the nearest GOOD or BAD class before it and
 * after it (the range ends count as BAD): two linear sweeps. */
static void neighbours(const ex_block *b, size_t lo, size_t hi, uint8_t *before, uint8_t *after)
{
    uint8_t last = C_BAD;
    for (size_t i = lo; i < hi; i++) {
        before[i - lo] = last;
        if (b[i].cls == C_GOOD || b[i].cls == C_BAD)
            last = b[i].cls;
    }
    last = C_BAD;
    for (size_t i = hi; i-- > lo;) {
        after[i - lo] = last;
        if (b[i].cls == C_GOOD || b[i].cls == C_BAD)
            last = b[i].cls;
    }
}

/*
 * jusText-style context: NEAR blocks next to GOOD ones are GOOD; SHORT
 * blocks between GOOD ones are GOOD; a heading is kept when GOOD text
 * follows it. In a box named as the article body the page has told us
 * what it is, so NEAR blocks stay and one GOOD neighbour is enough for a
 * SHORT block (short dramatic paragraphs between link lines).
 */
static void resolve_context(ex_block *b, size_t lo, size_t hi)
{
    size_t n = hi - lo;
    uint8_t *before = malloc(2 * n + 2), *after = before ? before + n + 1 : NULL;
    if (!before)
        return;
    neighbours(b, lo, hi, before, after);
    for (size_t i = lo; i < hi; i++) {
        bool good_side = before[i - lo] == C_GOOD || after[i - lo] == C_GOOD;
        if (b[i].cls == C_NEAR)
            b[i].cls = good_side || b[i].hint == H_POS ? C_GOOD : C_BAD;
    }
    neighbours(b, lo, hi, before, after);
    for (size_t i = lo; i < hi; i++) {
        bool both = before[i - lo] == C_GOOD && after[i - lo] == C_GOOD;
        bool one = before[i - lo] == C_GOOD || after[i - lo] == C_GOOD;
        if (b[i].cls == C_SHORT)
            b[i].cls = both || (one && b[i].hint == H_POS) ? C_GOOD : C_BAD;
        else if (b[i].cls == C_HEADING)
            b[i].cls = after[i - lo] == C_GOOD ? C_GOOD : C_BAD;
    }
    free(before);
}

/* ---------------------------------------------------------- container */

static size_t best_container(const walker *w, const double *prefix, double *score)
{
    size_t best = 0;
    *score = -1e300;
    for (size_t e = 0; e < w->n_elems; e++) {
        double s = prefix[w->elems[e].end] - prefix[w->elems[e].first];
        if (s >= *score) {
            *score = s;
            best = e;
        }
    }
    return best;
}

/* ----------------------------------------------------------- JSON-LD */

typedef struct ld_guide {
    hash_set set;
    size_t words;
    bool usable;
} ld_guide;

static void ld_prepare(ld_guide *g, const nfi_page_meta *meta)
{
    memset(g, 0, sizeof *g);
    if (!meta->article_body)
        return;
    g->words = each_trigram(meta->article_body, strlen(meta->article_body), add_to_set, &g->set);
    g->usable = g->words >= JSONLD_MIN_WORDS && g->set.count != SIZE_MAX;
}

static void ld_mark(const ld_guide *g, walker *w)
{
    for (size_t i = 0; i < w->n_blocks; i++) {
        ex_block *b = &w->blocks[i];
        match_count m = {&g->set, 0, 0};
        each_trigram(w->pool.data + b->start, b->len, count_match, &m);
        b->ld = m.seen ? (float)m.found / (float)m.seen : -1;
    }
}

/* Share of the articleBody's trigrams that the kept text covers. */
static double ld_coverage(const ld_guide *g, const char *text, size_t len)
{
    hash_set kept = {NULL, 0, 0};
    each_trigram(text, len, add_to_set, &kept);
    size_t found = 0;
    for (size_t i = 0; i < g->set.cap; i++)
        found += g->set.slots[i] && set_has(&kept, g->set.slots[i]);
    free(kept.slots);
    return g->set.count ? (double)found / (double)g->set.count : 0;
}

/* ------------------------------------------------------------- output */

static bool same_as_title(const char *t, const nfi_page_meta *meta)
{
    const char *refs[] = {meta->title, meta->title_tag};
    for (size_t i = 0; i < COUNT(refs); i++)
        if (refs[i] && strcmp(t, refs[i]) == 0)
            return true;
    return false;
}

static void emit(const walker *w, size_t lo, size_t hi, const nfi_page_meta *meta, nfi_extract_result *res)
{
    for (size_t i = lo; i < hi; i++) {
        const ex_block *b = &w->blocks[i];
        const char *t = w->pool.data + b->start;
        bool keep = b->cls == C_GOOD && !(b->kind == K_HEADING && b->level == 1) && !same_as_title(t, meta);
        if (!keep)
            continue;
        if (res->text.len)
            nfi_buf_puts(&res->text, "\n\n");
        nfi_buf_append(&res->text, t, b->len);
        res->kept++;
    }
    res->dropped = (uint32_t)(w->n_blocks - res->kept);
}

/* Keeps what was NEAR or better before context rules. */
static void emit_near(walker *w, size_t lo, size_t hi, const nfi_page_meta *meta, nfi_extract_result *res)
{
    for (size_t i = lo; i < hi; i++) {
        ex_block *b = &w->blocks[i];
        uint8_t c = base_class(b, w->pool.data + b->start);
        b->cls = c == C_NEAR ? C_GOOD : c == C_GOOD ? C_GOOD : C_BAD;
    }
    emit(w, lo, hi, meta, res);
}

static void emit_jsonld(const nfi_page_meta *meta, nfi_extract_result *res)
{
    res->text.len = 0;
    res->kept = 0;
    const char *s = meta->article_body;
    while (*s) {
        while (*s == '\n' || *s == ' ' || *s == '\r' || *s == '\t')
            s++;
        size_t n = strcspn(s, "\n");
        size_t m = n;
        while (m && nfi_is_space((unsigned char)s[m - 1]))
            m--;
        if (m) {
            if (res->text.len)
                nfi_buf_puts(&res->text, "\n\n");
            nfi_buf_append(&res->text, s, m);
            res->kept++;
        }
        s += n;
    }
    res->used_jsonld = true;
}

/* ----------------------------------------------------------- pipeline */

static void classify_all(walker *w, const ld_guide *g)
{
    if (!apply_hints(w))
        w->oom = true;
    mark_card_lists(w);
    mark_inline_teasers(w);
    if (g->usable)
        ld_mark(g, w);
    for (size_t i = 0; i < w->n_blocks; i++)
        w->blocks[i].cls = base_class(&w->blocks[i], w->pool.data + w->blocks[i].start);
}

#ifdef NF_EXTRACT_DEBUG
#include <stdio.h>
/* Development aid: every block with its class, before and after context. */
static void debug_dump(const walker *w, size_t best, double score)
{
    static const char cls[] = "SNGBH";
    fprintf(stderr, "container %zu score %.0f blocks [%u,%u)\n", best, score, w->elems[best].first,
            w->elems[best].end);
    for (size_t i = 0; i < w->n_blocks; i++) {
        const ex_block *b = &w->blocks[i];
        fprintf(stderr, "%4zu %c k%d h%+d c%-5u l%-4u p%-3u ld%.2f o%-4d %.90s\n", i, cls[b->cls], b->kind,
                b->hint, b->chars, b->link_chars, b->punct, b->ld, b->owner, w->pool.data + b->start);
        if (getenv("NF_DEBUG_CLASSES") && b->hint < 0)
            for (int32_t e = b->owner; e >= 0; e = w->elems[e].parent) {
                const char *c = nfi_html_attr(w->elems[e].node, "class"), *id = nfi_html_attr(w->elems[e].node, "id");
                elem_attrs at;
                read_attrs(w->elems[e].node, &at);
                if (element_hint(w->elems[e].node, &at, NULL) < 0) {
                    fprintf(stderr, "        neg: <%s class=%s id=%s>\n",
                            gumbo_normalized_tagname(w->elems[e].node->v.element.tag), c ? c : "", id ? id : "");
                    break;
                }
            }
    }
}
#endif

static nf_status select_text(walker *w, const nfi_page_meta *meta, const ld_guide *g, nfi_extract_result *res)
{
    double *prefix = malloc((w->n_blocks + 1) * sizeof *prefix);
    if (!prefix)
        return NF_ERR_NOMEM;
    prefix[0] = 0;
    for (size_t i = 0; i < w->n_blocks; i++)
        prefix[i + 1] = prefix[i] + weight_of(&w->blocks[i]);
    double score;
    size_t best = best_container(w, prefix, &score);
    free(prefix);
#ifdef NF_EXTRACT_DEBUG
    debug_dump(w, best, score);
#endif
    if (score > 0) {
        const ex_elem *e = &w->elems[best];
        resolve_context(w->blocks, e->first, e->end);
        emit(w, e->first, e->end, meta, res);
        if (res->kept == 0) /* a short page: one medium paragraph is its text */
            emit_near(w, e->first, e->end, meta, res);
        res->used_jsonld = g->usable;
    }
    if (g->usable && ld_coverage(g, res->text.data ? res->text.data : "", res->text.len) < 0.5)
        emit_jsonld(meta, res);
    return res->text.oom ? NF_ERR_NOMEM : NF_OK;
}

static const GumboNode *body_of(const GumboNode *root)
{
    const GumboVector *kids = &root->v.element.children;
    for (unsigned i = 0; i < kids->length; i++) {
        const GumboNode *k = kids->data[i];
        if (k->type == GUMBO_NODE_ELEMENT && k->v.element.tag == GUMBO_TAG_BODY)
            return k;
    }
    return root;
}

nf_status nfi_extract_main(const nfi_html_doc *doc, const nfi_page_meta *meta, nfi_extract_result *res,
                          nf_error *err)
{
    memset(res, 0, sizeof *res);
    walker w;
    memset(&w, 0, sizeof w);
    ctx c = {-1, K_TEXT, 0, false, false};
    visit(&w, body_of(doc->out->root), c, 0);
    flush(&w, &c);
    ld_guide g;
    ld_prepare(&g, meta);
    nf_status st = w.oom || w.pool.oom ? NF_ERR_NOMEM : NF_OK;
    if (st == NF_OK) {
        classify_all(&w, &g);
        st = w.oom ? NF_ERR_NOMEM : select_text(&w, meta, &g, res);
    }
    free(g.set.slots);
    free(w.elems);
    free(w.blocks);
    nfi_buf_free(&w.pool);
    if (st != NF_OK) {
        nfi_buf_free(&res->text);
        return nfi_fail(err, st, "out of memory extracting text");
    }
    return NF_OK;
}
