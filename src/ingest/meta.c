/*
 * meta.c - page metadata: headline, publication date, language, canonical
 * URL, site name, author, and the JSON-LD article body.
 *
 * One walk over the DOM fills a table of candidate values, first occurrence
 * winning per key (<meta name|property|itemprop>, <title>, <html lang>,
 * <link rel=canonical>, the first <h1>s, <time> elements); JSON-LD blocks
 * (set aside by the reducer) are parsed with cJSON and searched for the
 * article object (@type ...Article, BlogPosting, ... directly, in arrays, in
 * @graph or as mainEntity). Each field is then decided by a fixed priority:
 *
 *   title      the visible <h1> when it agrees with og:title / JSON-LD
 *              headline / <title>; else og:title, headline, <title>, with a
 *              " | Site" style suffix or prefix removed
 *   published  JSON-LD datePublished, article:published_time and kin,
 *              itemprop=datePublished, a <time> marked as publication
 *              date, the first <time datetime> after the headline, the URL
 *   lang       <html lang>, Content-Language, og:locale, JSON-LD inLanguage
 *   canonical  <link rel=canonical>, og:url, JSON-LD url, resolved against
 *              the page URL
 *   site       og:site_name, JSON-LD publisher.name, application-name, the
 *              URL's host without "www."
 *   author     JSON-LD author name(s), meta author/byl/article:author (not
 *              when they are links)
 * Dates are normalized with nf_parse_date; only years 1990..2100 pass.
 * Nothing here is site-specific.
 */
#include "ingest/ingest.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_H1 3
#define JSONLD_MAX_DEPTH 8

enum meta_key {
    K_OG_TITLE, K_TW_TITLE, K_OG_SITE, K_APP_NAME, K_OG_URL, K_OG_LOCALE, K_OG_TYPE,
    K_CONTENT_LANG, K_DC_LANG, K_PUB_META, K_PUB_ITEMPROP, K_TIME_PUB, K_TIME_AFTER_H1,
    K_AUTHOR, K_BYL, K_ARTICLE_AUTHOR, K_ITEMPROP_AUTHOR, K_CANONICAL, K_TITLE_TAG, K_HTML_LANG,
    K_COUNT
};

typedef struct meta_walk {
    const char *val[K_COUNT]; /* point into the DOM; first wins */
    nfi_buf h1[MAX_H1];
    size_t n_h1;
    bool seen_h1;
} meta_walk;

typedef struct name_key {
    const char *name;
    enum meta_key key;
} name_key;

/* <meta name|property=...> names, lower-case. */
static const name_key meta_names[] = {
    {"og:title", K_OG_TITLE},
    {"twitter:title", K_TW_TITLE},
    {"og:site_name", K_OG_SITE},
    {"application-name", K_APP_NAME},
    {"og:url", K_OG_URL},
    {"og:locale", K_OG_LOCALE},
    {"og:type", K_OG_TYPE},
    {"content-language", K_CONTENT_LANG},
    {"dc.language", K_DC_LANG},
    {"language", K_DC_LANG},
    {"article:published_time", K_PUB_META},
    {"article:published", K_PUB_META},
    {"og:published_time", K_PUB_META},
    {"og:article:published_time", K_PUB_META},
    {"published_time", K_PUB_META},
    {"pubdate", K_PUB_META},
    {"publishdate", K_PUB_META},
    {"publish-date", K_PUB_META},
    {"publish_date", K_PUB_META},
    {"date", K_PUB_META},
    {"dc.date", K_PUB_META},
    {"dc.date.issued", K_PUB_META},
    {"dc.date.created", K_PUB_META},
    {"dcterms.created", K_PUB_META},
    {"dcterms.date", K_PUB_META},
    {"sailthru.date", K_PUB_META},
    {"parsely-pub-date", K_PUB_META},
    {"article.published", K_PUB_META},
    {"datepublished", K_PUB_ITEMPROP},
    {"author", K_AUTHOR},
    {"byl", K_BYL},
    {"sailthru.author", K_AUTHOR},
    {"parsely-author", K_AUTHOR},
    {"dc.creator", K_AUTHOR},
    {"article:author", K_ARTICLE_AUTHOR},
};

/* ----------------------------------------------------------------- walk */

static void lower_copy(const char *s, char *out, size_t cap)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++)
        out[i] = (char)nfi_lower_ascii((unsigned char)s[i]);
    out[i] = '\0';
}

static void set_first(meta_walk *w, enum meta_key k, const char *v)
{
    if (!w->val[k] && v && *v)
        w->val[k] = v;
}

static void note_meta_name(meta_walk *w, const char *name, const char *content)
{
    char low[48];
    lower_copy(name, low, sizeof low);
    for (size_t i = 0; i < sizeof meta_names / sizeof *meta_names; i++)
        if (strcmp(low, meta_names[i].name) == 0)
            set_first(w, meta_names[i].key, content);
}

static void visit_meta(meta_walk *w, const GumboNode *n)
{
    const char *content = nfi_html_attr(n, "content");
    if (!content)
        return;
    const char *names[] = {nfi_html_attr(n, "name"), nfi_html_attr(n, "property"),
                           nfi_html_attr(n, "itemprop"), nfi_html_attr(n, "http-equiv")};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (names[i])
            note_meta_name(w, names[i], content);
}

static bool attr_has(const GumboNode *n, const char *attr, const char *word)
{
    const char *v = nfi_html_attr(n, attr);
    if (!v)
        return false;
    char low[128];
    lower_copy(v, low, sizeof low);
    return strstr(low, word) != NULL;
}

static void visit_time(meta_walk *w, const GumboNode *n)
{
    const char *dt = nfi_html_attr(n, "datetime");
    if (!dt)
        return;
    if (nfi_html_attr(n, "pubdate") || attr_has(n, "itemprop", "datepublished") ||
        attr_has(n, "class", "publish"))
        set_first(w, K_TIME_PUB, dt);
    if (w->seen_h1)
        set_first(w, K_TIME_AFTER_H1, dt);
}

static void visit_element(meta_walk *w, const GumboNode *n)
{
    switch (n->v.element.tag) {
    case GUMBO_TAG_HTML: set_first(w, K_HTML_LANG, nfi_html_attr(n, "lang")); break;
    case GUMBO_TAG_META: visit_meta(w, n); break;
    case GUMBO_TAG_TIME: visit_time(w, n); break;
    case GUMBO_TAG_LINK:
        if (attr_has(n, "rel", "canonical"))
            set_first(w, K_CANONICAL, nfi_html_attr(n, "href"));
        break;
    case GUMBO_TAG_TITLE:
        if (!w->val[K_TITLE_TAG] && n->v.element.children.length > 0) {
            const GumboNode *t = n->v.element.children.data[0];
            if (t->type == GUMBO_NODE_TEXT)
                set_first(w, K_TITLE_TAG, t->v.text.text);
        }
        break;
    case GUMBO_TAG_H1:
        w->seen_h1 = true;
        if (w->n_h1 < MAX_H1)
            nfi_html_node_text(n, &w->h1[w->n_h1++], 0);
        break;
    default: break;
    }
    if (attr_has(n, "itemprop", "datepublished"))
        set_first(w, K_PUB_ITEMPROP, nfi_html_attr(n, "datetime"));
}

static void walk(meta_walk *w, const GumboNode *n, int depth)
{
    if (depth > NF_HTML_MAX_DEPTH || n->type != GUMBO_NODE_ELEMENT)
        return;
    visit_element(w, n);
    const GumboVector *kids = &n->v.element.children;
    for (unsigned i = 0; i < kids->length; i++)
        walk(w, kids->data[i], depth + 1);
}

/* -------------------------------------------------------------- strings */

static char *trimmed_dup(const char *s)
{
    if (!s)
        return NULL;
    nfi_buf b;
    nfi_buf_init(&b);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (nfi_is_space(c)) {
            if (b.len && b.data[b.len - 1] != ' ')
                nfi_buf_putc(&b, ' ');
        } else {
            nfi_buf_putc(&b, (char)c);
        }
    }
    while (b.len && b.data[b.len - 1] == ' ')
        b.data[--b.len] = '\0';
    if (b.len == 0) {
        nfi_buf_free(&b);
        return NULL;
    }
    return nfi_buf_take(&b, NULL);
}

static bool looks_like_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0 || strncmp(s, "//", 2) == 0;
}

/* Words of a, lower-cased ASCII letters and digits, as a hash-free compare:
 * the share of a's words that occur in b. */
static double word_overlap(const char *a, const char *b)
{
    size_t total = 0, found = 0;
    char word[64], lb[1024];
    lower_copy(b, lb, sizeof lb);
    while (*a) {
        size_t n = 0;
        while (*a && !((unsigned char)*a >= 0x80 || (*a >= '0' && *a <= '9') ||
                       (nfi_lower_ascii((unsigned char)*a) >= 'a' && nfi_lower_ascii((unsigned char)*a) <= 'z')))
            a++;
        while (*a && n + 1 < sizeof word &&
               ((unsigned char)*a >= 0x80 || (*a >= '0' && *a <= '9') ||
                (nfi_lower_ascii((unsigned char)*a) >= 'a' && nfi_lower_ascii((unsigned char)*a) <= 'z')))
            word[n++] = (char)nfi_lower_ascii((unsigned char)*a++);
        if (!n)
            continue;
        word[n] = '\0';
        total++;
        found += strstr(lb, word) != NULL;
    }
    return total ? (double)found / (double)total : 0;
}

/* ----------------------------------------------------------------- title */

static const char *const title_separators[] = {" | ", " - ", " \xE2\x80\x93 ", " \xE2\x80\x94 ",
                                               " :: ", " \xC2\xB7 ", " \xC2\xBB ", " / "};

/* Removes a site name before the first or after the last separator when
 * that part is short (at most 4 words) or names the site. */
static void strip_site_affix(char *t, const char *site)
{
    for (size_t i = 0; i < sizeof title_separators / sizeof *title_separators; i++) {
        const char *sep = title_separators[i];
        size_t sl = strlen(sep);
        char *last = NULL;
        for (char *p = strstr(t, sep); p; p = strstr(p + 1, sep))
            last = p;
        if (!last)
            continue;
        char *first = strstr(t, sep);
        const char *tail = last + sl;
        size_t tail_words = 1;
        for (const char *p = tail; *p; p++)
            tail_words += *p == ' ';
        if (tail_words <= 4 || (site && word_overlap(tail, site) > 0.5)) {
            *last = '\0';
            return;
        }
        size_t head_words = 1;
        for (const char *p = t; p < first; p++)
            head_words += *p == ' ';
        if (head_words <= 3 || (site && word_overlap(site, t) > 0.8 && head_words <= 5)) {
            memmove(t, first + sl, strlen(first + sl) + 1);
            return;
        }
    }
}

static char *choose_title(const meta_walk *w, const char *headline, const char *site)
{
    const char *refs[] = {w->val[K_OG_TITLE], headline, w->val[K_TITLE_TAG], w->val[K_TW_TITLE]};
    for (size_t i = 0; i < w->n_h1; i++) {
        const char *h = w->h1[i].data;
        if (!h || strlen(h) < 8 || (site && word_overlap(h, site) >= 0.8)) /* a logo, not a headline */
            continue;
        for (size_t r = 0; r < sizeof refs / sizeof *refs; r++)
            if (refs[r] && word_overlap(h, refs[r]) >= 0.8 && word_overlap(refs[r], h) >= 0.5)
                return trimmed_dup(h);
    }
    for (size_t r = 0; r < sizeof refs / sizeof *refs; r++) {
        char *t = trimmed_dup(refs[r]);
        if (!t)
            continue;
        strip_site_affix(t, site);
        return t;
    }
    return w->n_h1 ? trimmed_dup(w->h1[0].data) : NULL;
}

/* --------------------------------------------------------------- JSON-LD */

typedef struct ld_fields {
    cJSON *root[16];
    size_t n_root;
    const cJSON *article; /* the best article object */
    int article_rank;
} ld_fields;

static int type_rank(const char *t)
{
    static const char *const strong[] = {"NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle",
                                         "OpinionNewsArticle", "BackgroundNewsArticle", "Article",
                                         "BlogPosting", "LiveBlogPosting", "ScholarlyArticle",
                                         "TechArticle", "Report", "SocialMediaPosting", "Review"};
    for (size_t i = 0; i < sizeof strong / sizeof *strong; i++)
        if (strcmp(t, strong[i]) == 0)
            return 3;
    size_t n = strlen(t);
    if (n > 7 && strcmp(t + n - 7, "Article") == 0)
        return 3;
    return strcmp(t, "WebPage") == 0 || strcmp(t, "ItemPage") == 0 ? 1 : 0;
}

static int object_rank(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "@type");
    int best = 0;
    if (cJSON_IsString(t))
        best = type_rank(t->valuestring);
    const cJSON *types = cJSON_IsArray(t) ? t : NULL, *e;
    cJSON_ArrayForEach(e, types)
        if (cJSON_IsString(e) && type_rank(e->valuestring) > best)
            best = type_rank(e->valuestring);
    if (best && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "articleBody")))
        best++;
    return best;
}

static void find_article(ld_fields *f, const cJSON *v, int depth)
{
    if (!v || depth > JSONLD_MAX_DEPTH)
        return;
    if (cJSON_IsArray(v)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, v)
            find_article(f, e, depth + 1);
        return;
    }
    if (!cJSON_IsObject(v))
        return;
    int rank = object_rank(v);
    if (rank > f->article_rank) {
        f->article = v;
        f->article_rank = rank;
    }
    find_article(f, cJSON_GetObjectItemCaseSensitive(v, "@graph"), depth + 1);
    find_article(f, cJSON_GetObjectItemCaseSensitive(v, "mainEntity"), depth + 1);
}

/* Strips leading HTML comment / CDATA wrappers some sites put around JSON. */
static const char *json_start(const char *s)
{
    while (*s && *s != '{' && *s != '[')
        s++;
    return s;
}

static void parse_jsonld(const nfi_html_doc *doc, ld_fields *f)
{
    size_t pos = 0;
    const char *body;
    while ((body = nfi_html_next_jsonld(doc, &pos)) != NULL && f->n_root < 16) {
        cJSON *j = cJSON_Parse(json_start(body));
        if (!j)
            continue;
        f->root[f->n_root++] = j;
        find_article(f, j, 0);
    }
}

static const char *ld_string(const cJSON *o, const char *name)
{
    const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, name) : NULL;
    if (cJSON_IsArray(v))
        v = cJSON_GetArrayItem(v, 0);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* A "name" inside an object (or the string itself). */
static const char *ld_name(const cJSON *v)
{
    if (cJSON_IsString(v))
        return v->valuestring;
    return cJSON_IsObject(v) ? ld_string(v, "name") : NULL;
}

static char *ld_authors(const cJSON *article)
{
    const cJSON *a = article ? cJSON_GetObjectItemCaseSensitive(article, "author") : NULL;
    if (!a)
        return NULL;
    nfi_buf b;
    nfi_buf_init(&b);
    if (cJSON_IsArray(a)) {
        const cJSON *e;
        cJSON_ArrayForEach(e, a) {
            const char *n = ld_name(e);
            if (n && *n && !looks_like_url(n)) {
                if (b.len)
                    nfi_buf_puts(&b, ", ");
                nfi_buf_puts(&b, n);
            }
        }
    } else {
        const char *n = ld_name(a);
        if (n && !looks_like_url(n))
            nfi_buf_puts(&b, n);
    }
    char *s = nfi_buf_take(&b, NULL);
    char *t = trimmed_dup(s);
    free(s);
    return t;
}

/* articleBody as plain text: tags dropped, common entities decoded. */
static char *plain_body(const char *s)
{
    nfi_buf b;
    nfi_buf_init(&b);
    static const struct {
        const char *ent, *text;
    } ents[] = {{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"},
                {"&nbsp;", " "}, {"&#039;", "'"}, {"&rsquo;", "\xE2\x80\x99"}};
    while (*s) {
        if (*s == '<' && (s[1] == '/' || (nfi_lower_ascii((unsigned char)s[1]) >= 'a' &&
                                         nfi_lower_ascii((unsigned char)s[1]) <= 'z'))) {
            const char *gt = strchr(s, '>');
            if (gt) {
                bool block = nfi_str_ieq_prefix(s, 3, "<p>") || nfi_str_ieq_prefix(s, 3, "<br") ||
                             nfi_str_ieq_prefix(s, 4, "</p>");
                nfi_buf_puts(&b, block ? "\n" : " ");
                s = gt + 1;
                continue;
            }
        }
        size_t i = 0;
        if (*s == '&')
            for (; i < sizeof ents / sizeof *ents; i++)
                if (strncmp(s, ents[i].ent, strlen(ents[i].ent)) == 0)
                    break;
        if (*s == '&' && i < sizeof ents / sizeof *ents) {
            nfi_buf_puts(&b, ents[i].text);
            s += strlen(ents[i].ent);
        } else {
            nfi_buf_putc(&b, *s++);
        }
    }
    return nfi_buf_take(&b, NULL);
}

/* ----------------------------------------------------------------- URLs */

/* Resolves href against base (absolute http(s) URL or NULL). */
static char *resolve_url(const char *href, const char *base)
{
    if (!href || !*href)
        return NULL;
    if (strncmp(href, "http://", 7) == 0 || strncmp(href, "https://", 8) == 0)
        return trimmed_dup(href);
    if (!base || !(strncmp(base, "http://", 7) == 0 || strncmp(base, "https://", 8) == 0))
        return NULL;
    const char *host = strstr(base, "//") + 2;
    const char *path = strchr(host, '/');
    size_t origin = path ? (size_t)(path - base) : strlen(base);
    nfi_buf b;
    nfi_buf_init(&b);
    if (strncmp(href, "//", 2) == 0) {
        nfi_buf_append(&b, base, (size_t)(host - base - 2));
    } else if (href[0] == '/') {
        nfi_buf_append(&b, base, origin);
    } else {
        const char *slash = strrchr(path ? path : base, '/');
        size_t keep = path && slash ? (size_t)(slash - base) + 1 : origin;
        nfi_buf_append(&b, base, keep);
        if (!path)
            nfi_buf_putc(&b, '/');
    }
    nfi_buf_puts(&b, href);
    return nfi_buf_take(&b, NULL);
}

static char *host_of(const char *url)
{
    if (!url || !strstr(url, "//"))
        return NULL;
    const char *h = strstr(url, "//") + 2;
    if (strncmp(h, "www.", 4) == 0)
        h += 4;
    size_t n = strcspn(h, "/:?#");
    return n ? nfi_strndup(h, n) : NULL;
}

/* ------------------------------------------------------------- language */

/* "en-US" -> "en"; NULL unless 2-3 letters. */
static char *lang_code(const char *v)
{
    if (!v)
        return NULL;
    while (nfi_is_space((unsigned char)*v))
        v++;
    char code[4];
    size_t n = 0;
    while (n < 3 && nfi_lower_ascii((unsigned char)v[n]) >= 'a' && nfi_lower_ascii((unsigned char)v[n]) <= 'z') {
        code[n] = (char)nfi_lower_ascii((unsigned char)v[n]);
        n++;
    }
    char next = v[n];
    if (n < 2 || !(next == '\0' || next == '-' || next == '_' || next == ',' || nfi_is_space((unsigned char)next)))
        return NULL;
    return nfi_strndup(code, n);
}

/* ----------------------------------------------------------------- dates */

static bool take_date(nfi_page_meta *m, const char *value, const char *source)
{
    char d[11];
    if (!value || !nf_parse_date(value, d) || strncmp(d, "1990", 4) < 0)
        return false;
    m->published = nfi_strdup(d);
    m->date_source = source;
    return true;
}

static void choose_date(nfi_page_meta *m, const meta_walk *w, const cJSON *article, const char *url)
{
    char d[11];
    int year;
    bool in_url = nf_date_from_url(m->canonical ? m->canonical : url, d, &year) ||
                  (m->canonical && url && nf_date_from_url(url, d, &year));
    if (take_date(m, ld_string(article, "datePublished"), "json-ld") ||
        take_date(m, w->val[K_PUB_META], "meta") || take_date(m, w->val[K_PUB_ITEMPROP], "meta") ||
        take_date(m, w->val[K_TIME_PUB], "time") || take_date(m, ld_string(article, "dateCreated"), "json-ld") ||
        take_date(m, w->val[K_TIME_AFTER_H1], "time")) {
        /* A timestamp in UTC can fall on the next or previous day; the URL
         * carries the publisher's own calendar day for the same moment. */
        if (in_url && labs((long)nfi_ymd_days(d) - nfi_ymd_days(m->published)) == 1)
            memcpy(m->published, d, sizeof d);
        return;
    }
    if (in_url) {
        m->published = nfi_strdup(d);
        m->date_source = "url";
    }
}

/* ---------------------------------------------------------------- decide */

static char *first_author(const meta_walk *w, const cJSON *article)
{
    char *a = ld_authors(article);
    if (a)
        return a;
    const char *cands[] = {w->val[K_AUTHOR], w->val[K_ARTICLE_AUTHOR], w->val[K_BYL]};
    for (size_t i = 0; i < sizeof cands / sizeof *cands; i++) {
        const char *c = cands[i];
        if (!c || looks_like_url(c))
            continue;
        if (nfi_str_ieq_prefix(c, strlen(c), "by "))
            c += 3;
        if ((a = trimmed_dup(c)) != NULL)
            return a;
    }
    return NULL;
}

static void decide(nfi_page_meta *m, const meta_walk *w, const ld_fields *f, const char *url)
{
    const cJSON *art = f->article;
    const cJSON *publisher = art ? cJSON_GetObjectItemCaseSensitive(art, "publisher") : NULL;
    const char *site = w->val[K_OG_SITE] ? w->val[K_OG_SITE] : ld_name(publisher);
    m->site = trimmed_dup(site ? site : w->val[K_APP_NAME]);
    const char *canon_src = w->val[K_CANONICAL] ? w->val[K_CANONICAL] : w->val[K_OG_URL];
    m->canonical = resolve_url(canon_src ? canon_src : ld_string(art, "url"), url);
    if (!m->site)
        m->site = host_of(m->canonical ? m->canonical : url);
    m->title = choose_title(w, ld_string(art, "headline"), m->site);
    m->title_tag = trimmed_dup(w->val[K_TITLE_TAG]);
    const char *langs[] = {w->val[K_HTML_LANG], w->val[K_CONTENT_LANG], w->val[K_DC_LANG],
                           w->val[K_OG_LOCALE], ld_string(art, "inLanguage")};
    for (size_t i = 0; i < sizeof langs / sizeof *langs && !m->lang; i++)
        m->lang = lang_code(langs[i]);
    m->author = first_author(w, art);
    choose_date(m, w, art, url);
    const char *body = ld_string(art, "articleBody");
    m->article_body = body ? plain_body(body) : NULL;
    m->is_article = f->article_rank >= 3 || (w->val[K_OG_TYPE] && strstr(w->val[K_OG_TYPE], "article"));
}

nf_status nfi_meta_read(const nfi_html_doc *doc, const char *url, nfi_page_meta *m, nf_error *err)
{
    memset(m, 0, sizeof *m);
    meta_walk *w = calloc(1, sizeof *w);
    ld_fields *f = calloc(1, sizeof *f);
    if (!w || !f) {
        free(w);
        free(f);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    walk(w, doc->out->root, 0);
    parse_jsonld(doc, f);
    decide(m, w, f, url);
    for (size_t i = 0; i < MAX_H1; i++)
        nfi_buf_free(&w->h1[i]);
    for (size_t i = 0; i < f->n_root; i++)
        cJSON_Delete(f->root[i]);
    free(w);
    free(f);
    return NF_OK;
}

void nfi_meta_free(nfi_page_meta *m)
{
    free(m->title);
    free(m->title_tag);
    free(m->published);
    free(m->lang);
    free(m->canonical);
    free(m->site);
    free(m->author);
    free(m->article_body);
    memset(m, 0, sizeof *m);
}
