/*
 * fuzz_events.c - fuzzes the event stage end to end on arbitrary text:
 * name detection and keys, the serialized name runs, entities, streaming
 * clustering with dates, hard links, storylines and the HTML report.
 *
 * The input is cut at form feeds into up to 16 documents; each document's
 * first byte picks its language (en, de, fr, ru, or none), its date (one of
 * a few days, or none) and whether it is hard-linked to the previous one;
 * the rest is its text (repaired UTF-8, as ingest gives it). Invariants:
 * every document is in exactly one event, in that event's member list;
 * every event is in exactly one storyline, in time order; entity counts are
 * consistent (1 <= sources <= mentions <= documents); a linked pair shares
 * its event unless its dates lie more than 30 days apart or either is a
 * headline (fewer than NF_SHORT_BODY_TERMS tokens: such links are not hard); the report is produced, starts with the doctype, and no '<'
 * of the input reaches it unescaped (no "<x" where the input had one).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "newsfold.h"
#include "events/events.h" /* NF_SHORT_BODY_TERMS */

#define MAX_DOCS 16

static const char *const langs[] = {"en", "de", "fr", "ru", NULL};
static const char *const days[] = {"2025-01-01", "2025-01-02", "2025-01-09", "2025-02-20", NULL};

static size_t split(const uint8_t *data, size_t size, nf_doc *docs, uint8_t *ctl)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= size && n < MAX_DOCS; i++) {
        if (i < size && data[i] != '\f')
            continue;
        if (i > start) {
            ctl[n] = data[start];
            size_t len;
            char id[16];
            snprintf(id, sizeof id, "d%02zu", n);
            memset(&docs[n], 0, sizeof docs[n]);
            docs[n].id = strdup(id);
            docs[n].text = nf_utf8_repair((const char *)data + start + 1, i - start - 1, &len, NULL);
            docs[n].text_len = len;
            const char *lang = langs[ctl[n] % 5];
            docs[n].lang = lang ? strdup(lang) : NULL;
            const char *day = days[(ctl[n] >> 3) % 5];
            docs[n].published = day ? strdup(day) : NULL;
            docs[n].origin = strdup("fuzz");
            n++;
        }
        start = i + 1;
    }
    return n;
}

/* Whether two of the harness's dates ("" when none) are at most 30 days
 * apart: only 2025-02-20 is far from the others. */
static bool within_month(const char *a, const char *b)
{
    if (!*a || !*b)
        return true;
    bool fa = strcmp(a, "2025-02-20") == 0, fb = strcmp(b, "2025-02-20") == 0;
    return fa == fb || (fa ? strcmp(b, "2025-01-21") >= 0 : strcmp(a, "2025-01-21") >= 0);
}

static void check_result(const nf_events_result *r, size_t n, const uint8_t *ctl, const nf_clean_doc *cd)
{
    CHECK(r->n_docs == n);
    size_t members = 0;
    for (size_t e = 0; e < r->n_events; e++) {
        const nf_event *E = &r->events[e];
        CHECK(E->n_docs >= 1 && E->storyline < r->n_storylines);
        for (size_t k = 0; k < E->n_docs; k++)
            CHECK(r->docs[E->docs[k]].event == e);
        for (size_t k = 0; k < E->n_entities; k++) {
            const nf_entity *x = &E->entities[k];
            CHECK(x->sources >= 1 && x->sources <= x->mentions && x->mentions <= E->n_docs);
            CHECK(x->name && *x->name && x->key && *x->key);
        }
        members += E->n_docs;
    }
    CHECK(members == n);
    size_t events = 0;
    for (size_t s = 0; s < r->n_storylines; s++) {
        const nf_storyline *S = &r->storylines[s];
        for (size_t k = 0; k < S->n_events; k++) {
            CHECK(r->events[S->events[k]].storyline == s);
            CHECK(k == 0 ||
                  strcmp(r->events[S->events[k - 1]].first_seen, r->events[S->events[k]].first_seen) <= 0);
        }
        events += S->n_events;
    }
    CHECK(events == r->n_events);
    for (size_t i = 1; i < n; i++) /* links between documents dated 30+ days apart are not believed */
        if ((ctl[i] & 0x80) && within_month(r->docs[i].published, r->docs[i - 1].published) &&
            cd[i].n_tokens >= NF_SHORT_BODY_TERMS && cd[i - 1].n_tokens >= NF_SHORT_BODY_TERMS)
            CHECK(r->docs[i].event == r->docs[i - 1].event);
}

static void check_report(const nf_events_result *r)
{
    char *html;
    size_t len;
    nf_error err;
    nf_status st = nf_report_html(r, NULL, &html, &len, &err);
    CHECK(st == NF_OK || st == NF_ERR_NOMEM);
    if (st != NF_OK)
        return;
    CHECK(len == strlen(html) && strncmp(html, "<!DOCTYPE html>", 15) == 0);
    CHECK(strstr(html, "<script") == NULL && strstr(html, "<fuzz") == NULL);
    free(html);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nf_doc raw[MAX_DOCS];
    nf_clean_doc cd[MAX_DOCS];
    uint8_t ctl[MAX_DOCS];
    size_t n = split(data, size, raw, ctl);
    static nf_cleaner *cleaner; /* built once: loading language profiles is slow */
    nf_error err;
    if (!cleaner) {
        nf_clean_options o;
        nf_clean_options_default(&o);
        CHECK(nf_cleaner_new(&cleaner, &o, &err) == NF_OK);
    }
    CHECK(nf_clean_batch(cleaner, raw, n, cd, &err) == NF_OK);
    nf_events *ev;
    CHECK(nf_events_new(&ev, NULL, &err) == NF_OK);
    CHECK(nf_events_add(ev, cd, n, &err) == NF_OK);
    for (size_t i = 1; i < n; i++)
        if (ctl[i] & 0x80) {
            nf_link l = {(uint32_t)i - 1, (uint32_t)i, 1};
            CHECK(nf_events_add_links(ev, &l, 1, &err) == NF_OK);
        }
    nf_events_result r;
    CHECK(nf_events_finish(ev, &r, &err) == NF_OK);
    check_result(&r, n, ctl, cd);
    check_report(&r);
    nf_events_result_free(&r);
    nf_events_free(ev);
    for (size_t i = 0; i < n; i++) {
        nf_clean_doc_free(&cd[i]);
        nf_doc_free(&raw[i]);
    }
    return 0;
}
