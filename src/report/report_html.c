/*
 * report_html.c - one self-contained HTML page of storylines and events.
 *
 * The page has no external assets and no script: the style sheet is inline,
 * the timeline of a storyline is a bar with each event placed by its date
 * (inline percentages), and a numbered list of its events in time order.
 * Each event shows its headline, dates, counts, languages, top entities and
 * its documents grouped as original, copies, translations and other reports.
 * Storylines with several events or documents come first (largest first);
 * lone single-report events are listed compactly at the end. The layout is
 * one fluid column (readable on a phone), and print styles drop navigation,
 * avoid breaking an event across pages and spell out link targets.
 * Every piece of text from the documents goes through html_escape.
 */
#include "common/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char style[] =
    ":root{--fg:#1d2329;--muted:#5b6670;--line:#d5dbe1;--accent:#0b5cad;--bg:#fff;--soft:#f3f6f9}"
    "*{box-sizing:border-box}"
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);"
    "background:var(--bg)}"
    "header,main{max-width:60rem;margin:0 auto;padding:0 1rem}"
    "header{padding-top:1.5rem;border-bottom:1px solid var(--line)}"
    "h1{font-size:1.6rem;margin:0 0 .25rem}h2{font-size:1.3rem;margin:0 0 .25rem}"
    "h3{font-size:1.1rem;margin:0 0 .25rem}h4{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;"
    "color:var(--muted);margin:.75rem 0 .25rem}"
    ".meta{color:var(--muted);font-size:.9rem;margin:.25rem 0}"
    "nav ol{padding-left:1.25rem}nav a{color:var(--accent)}"
    ".storyline{margin:2rem 0;padding-top:1rem;border-top:3px solid var(--fg)}"
    ".track{position:relative;height:1.5rem;margin:.75rem .5rem;border-bottom:2px solid var(--line)}"
    ".mark{position:absolute;bottom:-.45rem;width:.8rem;height:.8rem;margin-left:-.4rem;border-radius:50%;"
    "background:var(--accent);border:2px solid var(--bg)}"
    ".mark span{position:absolute;bottom:1rem;left:50%;transform:translateX(-50%);font-size:.7rem;"
    "color:var(--muted);white-space:nowrap}"
    "ol.timeline{list-style:none;margin:0;padding:0;border-left:2px solid var(--line)}"
    ".event{position:relative;margin:0 0 1.25rem;padding:0 0 0 1rem}"
    ".event::before{content:'';position:absolute;left:-.45rem;top:.45rem;width:.8rem;height:.8rem;"
    "border-radius:50%;background:var(--accent)}"
    ".when{font-size:.85rem;font-weight:600;color:var(--accent)}"
    ".entities{list-style:none;padding:0;margin:.25rem 0;display:flex;flex-wrap:wrap;gap:.25rem}"
    ".entities li{background:var(--soft);border:1px solid var(--line);border-radius:1rem;padding:0 .6rem;"
    "font-size:.85rem}"
    ".entities b{font-weight:600;color:var(--muted);margin-left:.3rem}"
    "ul.docs{list-style:none;padding:0;margin:0}"
    "ul.docs li{padding:.2rem 0;border-bottom:1px dotted var(--line);overflow-wrap:anywhere}"
    ".lang{display:inline-block;min-width:2.2rem;font:600 .75rem/1.4 ui-monospace,monospace;"
    "text-align:center;background:var(--fg);color:var(--bg);border-radius:.25rem;margin-right:.35rem}"
    ".src,.id{color:var(--muted);font-size:.85rem}"
    "a{color:var(--accent)}"
    "table{border-collapse:collapse;width:100%;font-size:.9rem}"
    "td,th{text-align:left;padding:.25rem .4rem;border-bottom:1px solid var(--line);vertical-align:top}"
    "@media (max-width:600px){body{font-size:15px}header,main{padding:0 .6rem}.id{display:block}"
    "table .src{display:none}}"
    "@media print{body{font-size:10pt;color:#000}nav{display:none}a{color:#000;text-decoration:none}"
    "a[href]::after{content:' (' attr(href) ')';font-size:8pt;color:#444}"
    ".event,.single tr{break-inside:avoid}.storyline{break-before:auto;border-top-color:#000}"
    ".lang{background:none;color:#000;border:1px solid #000}.mark{background:#000}}";

/* Escapes s: the bytes between two special ones go in as one span (most
 * text has few), each special byte as its entity. */
static void html_escape(nfi_buf *b, const char *s)
{
    const char *p = s ? s : "";
    for (;;) {
        size_t n = strcspn(p, "&<>\"'");
        if (n)
            nfi_buf_append(b, p, n);
        p += n;
        switch (*p) {
        case '\0': return;
        case '&': nfi_buf_puts(b, "&amp;"); break;
        case '<': nfi_buf_puts(b, "&lt;"); break;
        case '>': nfi_buf_puts(b, "&gt;"); break;
        case '"': nfi_buf_puts(b, "&quot;"); break;
        default: nfi_buf_puts(b, "&#39;"); break;
        }
        p++;
    }
}

/* Only http(s) links become anchors; anything else stays plain text. */
static bool safe_url(const char *u)
{
    return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0);
}

static const char *headline(const nf_events_result *r, const nf_event *e)
{
    const nf_event_doc *d = &r->docs[e->headline_doc];
    return d->title && *d->title ? d->title : d->id;
}

static void doc_item(nfi_buf *b, const nf_events_result *r, uint32_t i)
{
    const nf_event_doc *d = &r->docs[i];
    nfi_buf_puts(b, "<li><span class=\"lang\">");
    html_escape(b, d->lang);
    nfi_buf_puts(b, "</span>");
    if (safe_url(d->url)) {
        nfi_buf_puts(b, "<a href=\"");
        html_escape(b, d->url);
        nfi_buf_puts(b, "\">");
    }
    html_escape(b, d->title && *d->title ? d->title : d->id);
    if (safe_url(d->url))
        nfi_buf_puts(b, "</a>");
    if (d->source) {
        nfi_buf_puts(b, " <span class=\"src\">");
        html_escape(b, d->source);
        nfi_buf_puts(b, "</span>");
    }
    if (*d->date) {
        nfi_buf_printf(b, " <time class=\"src\" datetime=\"%s\">%s%s</time>", d->date, d->date,
                      d->date_inferred ? " (inferred)" : "");
    }
    nfi_buf_puts(b, " <span class=\"id\">");
    html_escape(b, d->id);
    if (d->linked_to != UINT32_MAX) {
        nfi_buf_puts(b, d->role == NF_ROLE_TRANSLATION ? " · translation of " : " · copy of ");
        html_escape(b, r->docs[d->linked_to].id);
    }
    nfi_buf_puts(b, "</span></li>");
}

static void doc_group(nfi_buf *b, const nf_events_result *r, const nf_event *e, nf_event_role role,
                      const char *label, int max_docs)
{
    size_t shown = 0, total = 0;
    for (size_t k = 0; k < e->n_docs; k++)
        total += r->docs[e->docs[k]].role == role;
    if (!total)
        return;
    nfi_buf_printf(b, "<h4>%s (%zu)</h4><ul class=\"docs\">", label, total);
    for (size_t k = 0; k < e->n_docs; k++) {
        if (r->docs[e->docs[k]].role != role)
            continue;
        if (max_docs > 0 && shown == (size_t)max_docs) {
            nfi_buf_printf(b, "<li class=\"src\">… and %zu more</li>", total - shown);
            break;
        }
        doc_item(b, r, e->docs[k]);
        shown++;
    }
    nfi_buf_puts(b, "</ul>");
}

static void event_meta(nfi_buf *b, const nf_event *e)
{
    nfi_buf_puts(b, "<p class=\"meta\">");
    if (*e->first_seen)
        nfi_buf_printf(b, "%s – %s · ", e->first_seen, e->last_seen);
    nfi_buf_printf(b, "%zu document%s · %u source%s · ", e->n_docs, e->n_docs == 1 ? "" : "s", e->n_sources,
                  e->n_sources == 1 ? "" : "s");
    nfi_buf_puts(b, "languages: ");
    for (size_t k = 0; k < e->n_languages; k++) {
        if (k)
            nfi_buf_puts(b, ", ");
        html_escape(b, e->languages[k]);
    }
    nfi_buf_puts(b, "</p>");
}

static void event_item(nfi_buf *b, const nf_events_result *r, uint32_t ei, int max_docs)
{
    const nf_event *e = &r->events[ei];
    nfi_buf_printf(b, "<li class=\"event\" id=\"e%u\"><div class=\"when\">", ei + 1);
    if (*e->first_seen)
        nfi_buf_printf(b, "<time datetime=\"%s\">%s</time> · ", e->first_seen, e->first_seen);
    nfi_buf_printf(b, "E%u</div><h3>", ei + 1);
    html_escape(b, headline(r, e));
    nfi_buf_puts(b, "</h3>");
    event_meta(b, e);
    if (e->n_entities) {
        nfi_buf_puts(b, "<ul class=\"entities\" aria-label=\"entities\">");
        for (size_t k = 0; k < e->n_entities; k++) {
            nfi_buf_puts(b, "<li>");
            html_escape(b, e->entities[k].name);
            nfi_buf_printf(b, "<b title=\"independent sources\">%u</b></li>", e->entities[k].sources);
        }
        nfi_buf_puts(b, "</ul>");
    }
    doc_group(b, r, e, NF_ROLE_ORIGINAL, "Original", max_docs);
    doc_group(b, r, e, NF_ROLE_COPY, "Copies", max_docs);
    doc_group(b, r, e, NF_ROLE_TRANSLATION, "Translations", max_docs);
    doc_group(b, r, e, NF_ROLE_REPORT, "Other reports", max_docs);
    nfi_buf_puts(b, "</li>");
}

static int32_t day_of(const char *d)
{
    int y, m, dd;
    if (sscanf(d, "%4d-%2d-%2d", &y, &m, &dd) != 3)
        return 0;
    return y * 372 + m * 31 + dd; /* monotone; enough to place marks */
}

static void timeline_bar(nfi_buf *b, const nf_events_result *r, const nf_storyline *s)
{
    if (!*s->first_seen || s->n_events < 2)
        return;
    int32_t a = day_of(s->first_seen), z = day_of(s->last_seen);
    nfi_buf_puts(b, "<div class=\"track\" aria-hidden=\"true\">");
    for (size_t k = 0; k < s->n_events; k++) {
        const nf_event *e = &r->events[s->events[k]];
        double x = z > a ? 100.0 * (day_of(e->first_seen) - a) / (z - a) : 0;
        nfi_buf_printf(b, "<span class=\"mark\" style=\"left:%.1f%%\"><span>E%u</span></span>", x,
                      s->events[k] + 1);
    }
    nfi_buf_puts(b, "</div>");
}

/* The storyline's title: the headline of its largest event (earliest on ties). */
static const nf_event *main_event(const nf_events_result *r, const nf_storyline *s)
{
    const nf_event *best = &r->events[s->events[0]];
    for (size_t k = 1; k < s->n_events; k++)
        if (r->events[s->events[k]].n_docs > best->n_docs)
            best = &r->events[s->events[k]];
    return best;
}

static void storyline_section(nfi_buf *b, const nf_events_result *r, uint32_t si, int max_docs)
{
    const nf_storyline *s = &r->storylines[si];
    nfi_buf_printf(b, "<section class=\"storyline\" id=\"s%u\"><h2>S%u: ", si + 1, si + 1);
    html_escape(b, headline(r, main_event(r, s)));
    nfi_buf_puts(b, "</h2><p class=\"meta\">");
    if (*s->first_seen)
        nfi_buf_printf(b, "%s – %s · ", s->first_seen, s->last_seen);
    nfi_buf_printf(b, "%zu event%s · %zu document%s</p>", s->n_events, s->n_events == 1 ? "" : "s", s->n_docs,
                  s->n_docs == 1 ? "" : "s");
    timeline_bar(b, r, s);
    nfi_buf_puts(b, "<ol class=\"timeline\">");
    for (size_t k = 0; k < s->n_events; k++)
        event_item(b, r, s->events[k], max_docs);
    nfi_buf_puts(b, "</ol></section>");
}

static bool is_single(const nf_events_result *r, const nf_storyline *s)
{
    return s->n_events == 1 && r->events[s->events[0]].n_docs == 1;
}

static void single_table(nfi_buf *b, const nf_events_result *r, const uint32_t *order, size_t n)
{
    size_t singles = 0;
    for (size_t k = 0; k < n; k++)
        singles += is_single(r, &r->storylines[order[k]]);
    if (!singles)
        return;
    nfi_buf_printf(b,
                  "<section class=\"single\" id=\"single\"><h2>Single reports (%zu)</h2><table><thead><tr>"
                  "<th>date</th><th>lang</th><th>title</th><th class=\"src\">source</th></tr></thead><tbody>",
                  singles);
    for (size_t k = 0; k < n; k++) {
        const nf_storyline *s = &r->storylines[order[k]];
        if (!is_single(r, s))
            continue;
        const nf_event *e = &r->events[s->events[0]];
        const nf_event_doc *d = &r->docs[e->docs[0]];
        nfi_buf_printf(b, "<tr id=\"e%u\"><td>%s</td><td>", s->events[0] + 1, e->first_seen);
        html_escape(b, d->lang);
        nfi_buf_puts(b, "</td><td>");
        html_escape(b, d->title && *d->title ? d->title : d->id);
        nfi_buf_puts(b, "</td><td class=\"src\">");
        html_escape(b, d->source ? d->source : d->id);
        nfi_buf_puts(b, "</td></tr>");
    }
    nfi_buf_puts(b, "</tbody></table></section>");
}

typedef struct sl_rank {
    uint32_t id;
    size_t events, docs;
} sl_rank;

static int cmp_rank(const void *a, const void *b)
{
    const sl_rank *x = a, *y = b;
    if (x->events != y->events)
        return x->events > y->events ? -1 : 1;
    if (x->docs != y->docs)
        return x->docs > y->docs ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Storylines with most events first, then most documents, then number. */
static uint32_t *rank_storylines(const nf_events_result *r)
{
    sl_rank *k = malloc((r->n_storylines ? r->n_storylines : 1) * sizeof *k);
    uint32_t *order = malloc((r->n_storylines ? r->n_storylines : 1) * sizeof *order);
    if (!k || !order) {
        free(k);
        free(order);
        return NULL;
    }
    for (size_t i = 0; i < r->n_storylines; i++)
        k[i] = (sl_rank){(uint32_t)i, r->storylines[i].n_events, r->storylines[i].n_docs};
    qsort(k, r->n_storylines, sizeof *k, cmp_rank);
    for (size_t i = 0; i < r->n_storylines; i++)
        order[i] = k[i].id;
    free(k);
    return order;
}

static void page_head(nfi_buf *b, const nf_events_result *r, const char *title)
{
    nfi_buf_puts(b,
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    html_escape(b, title);
    nfi_buf_printf(b, "</title><style>%s</style></head><body><header><h1>", style);
    html_escape(b, title);
    nfi_buf_printf(b, "</h1><p class=\"meta\">%zu documents · %zu events · %zu storylines</p></header><main>",
                  r->n_docs, r->n_events, r->n_storylines);
}

static void toc(nfi_buf *b, const nf_events_result *r, const uint32_t *order)
{
    nfi_buf_puts(b, "<nav aria-label=\"storylines\"><h2>Storylines</h2><ol>");
    for (size_t k = 0; k < r->n_storylines; k++) {
        const nf_storyline *s = &r->storylines[order[k]];
        if (is_single(r, s))
            continue;
        nfi_buf_printf(b, "<li><a href=\"#s%u\">", order[k] + 1);
        html_escape(b, headline(r, main_event(r, s)));
        nfi_buf_printf(b, "</a> <span class=\"src\">%zu events, %zu documents</span></li>", s->n_events,
                      s->n_docs);
    }
    nfi_buf_puts(b, "</ol></nav>");
}

nf_status nf_report_html(const nf_events_result *r, const nf_report_options *options, char **out, size_t *len,
                         nf_error *err)
{
    const char *title = options && options->title ? options->title : "newsfold report";
    int max_docs = options ? options->max_docs : 0;
    uint32_t *order = rank_storylines(r);
    if (!order)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    nfi_buf b;
    nfi_buf_init(&b);
    page_head(&b, r, title);
    toc(&b, r, order);
    for (size_t k = 0; k < r->n_storylines; k++)
        if (!is_single(r, &r->storylines[order[k]]))
            storyline_section(&b, r, order[k], max_docs);
    single_table(&b, r, order, r->n_storylines);
    nfi_buf_puts(&b, "</main></body></html>\n");
    free(order);
    *out = nfi_buf_take(&b, len);
    return *out ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory while writing the report");
}
