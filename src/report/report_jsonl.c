/*
 * report_jsonl.c - the JSONL records newsfold writes: documents, events and
 * storylines of `run`, the per-document assignment a live fold answers
 * with, and the pages of `extract`.
 *
 * One encoder per record type, each appending one JSON object and a
 * newline to an nf_buffer, so the command, the service and the tests write
 * the same bytes. Field order is part of the format: documents.jsonl of a
 * run is compared byte for byte across versions and thread counts. Dates
 * that are unknown are null; event and storyline ids are "E<n>"/"S<n>",
 * 1-based, in the result's order.
 */
#include "common/common.h"

static void date_or_null(nfi_buf *b, const char *d)
{
    if (*d)
        nfi_buf_printf(b, "\"%s\"", d);
    else
        nfi_buf_puts(b, "null");
}

void nf_jsonl_document(nf_buffer *b, const nf_fold_result *fr, size_t i)
{
    const nf_event_doc *x = &fr->events.docs[i];
    nf_assignment a;
    nf_fold_assignment(fr, i, &a);
    nfi_buf_puts(b, "{\"id\":");
    nfi_json_cstr_or_null(b, x->id);
    nfi_buf_puts(b, ",\"lang\":");
    nfi_json_cstr_or_null(b, x->lang);
    nfi_buf_puts(b, ",\"title\":");
    nfi_json_cstr_or_null(b, x->title);
    nfi_buf_puts(b, ",\"published\":");
    date_or_null(b, x->published);
    nfi_buf_puts(b, ",\"source\":");
    nfi_json_cstr_or_null(b, x->source);
    nfi_buf_puts(b, ",\"group\":");
    nfi_json_cstr_or_null(b, a.canonical);
    nfi_buf_puts(b, ",\"canonical\":");
    nfi_json_cstr_or_null(b, a.canonical);
    nfi_buf_printf(b, ",\"relation\":\"%s\",\"score\":%.4f", nf_relation_name(a.relation), a.score);
    nfi_buf_printf(b, ",\"event\":\"E%u\",\"storyline\":\"S%u\",\"role\":\"%s\"", a.event + 1, a.storyline + 1,
                   nf_event_role_name(a.role));
    if (a.of) {
        nfi_buf_puts(b, ",\"of\":");
        nfi_json_cstr_or_null(b, a.of);
    }
    nfi_buf_printf(b, ",\"event_score\":%.4f,\"date\":", a.event_score);
    date_or_null(b, x->date);
    nfi_buf_printf(b, ",\"date_inferred\":%s}\n", x->date_inferred ? "true" : "false");
}

static void id_list(nfi_buf *b, const nf_events_result *r, const nf_event *e, nf_event_role role, const char *name)
{
    nfi_buf_printf(b, ",\"%s\":[", name);
    bool first = true;
    for (size_t k = 0; k < e->n_docs; k++) {
        if (r->docs[e->docs[k]].role != role)
            continue;
        if (!first)
            nfi_buf_putc(b, ',');
        nfi_json_cstr_or_null(b, r->docs[e->docs[k]].id);
        first = false;
    }
    nfi_buf_putc(b, ']');
}

static void entity_list(nfi_buf *b, const nf_event *e)
{
    nfi_buf_puts(b, ",\"entities\":[");
    for (size_t k = 0; k < e->n_entities; k++) {
        nfi_buf_puts(b, k ? ",{\"name\":" : "{\"name\":");
        nfi_json_cstr_or_null(b, e->entities[k].name);
        nfi_buf_puts(b, ",\"key\":");
        nfi_json_cstr_or_null(b, e->entities[k].key);
        nfi_buf_printf(b, ",\"sources\":%u,\"mentions\":%u}", e->entities[k].sources, e->entities[k].mentions);
    }
    nfi_buf_putc(b, ']');
}

void nf_jsonl_event(nf_buffer *b, const nf_fold_result *fr, size_t i)
{
    const nf_events_result *r = &fr->events;
    const nf_event *e = &r->events[i];
    const nf_event_doc *h = &r->docs[e->headline_doc];
    nfi_buf_printf(b, "{\"id\":\"E%zu\",\"storyline\":\"S%u\",\"headline\":", i + 1, e->storyline + 1);
    nfi_json_cstr_or_null(b, h->title ? h->title : h->id);
    nfi_buf_puts(b, ",\"headline_doc\":");
    nfi_json_cstr_or_null(b, h->id);
    nfi_buf_puts(b, ",\"first_seen\":");
    date_or_null(b, e->first_seen);
    nfi_buf_puts(b, ",\"last_seen\":");
    date_or_null(b, e->last_seen);
    nfi_buf_printf(b, ",\"documents\":%zu,\"sources\":%u,\"languages\":[", e->n_docs, e->n_sources);
    for (size_t k = 0; k < e->n_languages; k++) {
        if (k)
            nfi_buf_putc(b, ',');
        nfi_json_cstr_or_null(b, e->languages[k]);
    }
    nfi_buf_putc(b, ']');
    entity_list(b, e);
    id_list(b, r, e, NF_ROLE_ORIGINAL, "original");
    id_list(b, r, e, NF_ROLE_COPY, "copies");
    id_list(b, r, e, NF_ROLE_TRANSLATION, "translations");
    id_list(b, r, e, NF_ROLE_REPORT, "reports");
    nfi_buf_puts(b, "}\n");
}

void nf_jsonl_storyline(nf_buffer *b, const nf_fold_result *fr, size_t i)
{
    const nf_storyline *s = &fr->events.storylines[i];
    nfi_buf_printf(b, "{\"id\":\"S%zu\",\"events\":[", i + 1);
    for (size_t k = 0; k < s->n_events; k++)
        nfi_buf_printf(b, k ? ",\"E%u\"" : "\"E%u\"", s->events[k] + 1);
    nfi_buf_puts(b, "],\"first_seen\":");
    date_or_null(b, s->first_seen);
    nfi_buf_puts(b, ",\"last_seen\":");
    date_or_null(b, s->last_seen);
    nfi_buf_printf(b, ",\"documents\":%zu}\n", s->n_docs);
}

void nf_jsonl_assignment(nf_buffer *b, const nf_assignment *a)
{
    nfi_buf_puts(b, "{\"id\":");
    nfi_json_cstr_or_null(b, a->id);
    if (a->flags & NF_ASSIGN_PENDING) {
        nfi_buf_puts(b, ",\"pending\":true}\n");
        return;
    }
    nfi_buf_puts(b, ",\"group\":");
    nfi_json_cstr_or_null(b, a->canonical);
    nfi_buf_printf(b, ",\"relation\":\"%s\",\"score\":%.4f,\"event\":\"E%u\",\"storyline\":\"S%u\",\"role\":\"%s\"",
                   nf_relation_name(a->relation), a->score, a->event + 1, a->storyline + 1,
                   nf_event_role_name(a->role));
    if (a->of) {
        nfi_buf_puts(b, ",\"of\":");
        nfi_json_cstr_or_null(b, a->of);
    }
    nfi_buf_printf(b, ",\"event_score\":%.4f}\n", a->event_score);
}

static void extract_stats(nfi_buf *b, const nf_doc *d)
{
    const nf_extract_info *x = d->extract;
    if (!x) {
        nfi_buf_puts(b, ",\"stats\":null");
        return;
    }
    nfi_buf_printf(b,
                   ",\"stats\":{\"bytes_in\":%llu,\"text_bytes\":%zu,\"paragraphs_kept\":%u,"
                   "\"paragraphs_dropped\":%u,\"jsonld\":%s,\"charset\":",
                   (unsigned long long)x->bytes_in, d->text_len, x->paragraphs_kept, x->paragraphs_dropped,
                   x->used_jsonld ? "true" : "false");
    nfi_json_cstr_or_null(b, x->charset[0] ? x->charset : NULL);
    nfi_buf_puts(b, ",\"date_source\":");
    nfi_json_cstr_or_null(b, x->date_source);
    nfi_buf_printf(b, ",\"lang_detected\":%s", x->lang_detected ? "true" : "false");
    if (x->from_warc)
        nfi_buf_printf(b, ",\"offset\":%llu", (unsigned long long)x->offset);
    nfi_buf_putc(b, '}');
}

void nf_jsonl_extract(nf_buffer *b, const nf_doc *d)
{
    const nf_extract_info *x = d->extract;
    const char *fields[][2] = {{"id", d->id},         {"url", d->url},       {"title", d->title},
                               {"published", d->published}, {"lang", d->lang}, {"site", d->source},
                               {"author", x ? x->author : NULL}};
    nfi_buf_putc(b, '{');
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        nfi_buf_printf(b, "%s\"%s\":", i ? "," : "", fields[i][0]);
        nfi_json_cstr_or_null(b, fields[i][1]);
    }
    nfi_buf_puts(b, ",\"text\":");
    nfi_json_string(b, d->text ? d->text : "", d->text_len);
    nfi_buf_puts(b, ",\"fetched\":");
    nfi_json_cstr_or_null(b, x ? x->fetched : NULL);
    extract_stats(b, d);
    nfi_buf_puts(b, "}\n");
}

void nf_jsonl_clean_doc(nf_buffer *b, const nf_clean_doc *cd, int token_list)
{
    nfi_buf_puts(b, "{\"id\":");
    nfi_json_cstr_or_null(b, cd->doc.id);
    nfi_buf_puts(b, ",\"title\":");
    nfi_json_cstr_or_null(b, cd->title);
    nfi_buf_puts(b, ",\"lang\":");
    nfi_json_cstr_or_null(b, cd->lang);
    nfi_buf_printf(b, ",\"lang_confidence\":%.3f,\"lang_detected\":%s,\"published\":", cd->lang_confidence,
                   cd->lang_detected ? "true" : "false");
    nfi_json_cstr_or_null(b, cd->published[0] ? cd->published : NULL);
    nfi_buf_puts(b, ",\"source\":");
    nfi_json_cstr_or_null(b, cd->doc.source_from_path ? NULL : cd->doc.source);
    nfi_buf_puts(b, ",\"url\":");
    nfi_json_cstr_or_null(b, cd->doc.url);
    nfi_buf_puts(b, ",\"text\":");
    nfi_json_string(b, cd->text, cd->text_len);
    nfi_buf_puts(b, ",\"removed_lines\":[");
    for (size_t i = 0; i < cd->n_removed; i++) {
        nfi_buf_printf(b, "%s{\"line\":%u,\"reason\":\"%s\",\"text\":", i ? "," : "", cd->removed[i].line,
                       cd->removed[i].reason);
        nfi_json_cstr_or_null(b, cd->removed[i].text);
        nfi_buf_putc(b, '}');
    }
    nfi_buf_printf(b, "],\"invalid_utf8\":%zu,\"tokens\":%zu", cd->doc.invalid_utf8, cd->n_tokens);
    if (token_list) {
        nfi_buf_puts(b, ",\"token_list\":[");
        for (size_t i = 0; i < cd->n_tokens; i++) {
            const nf_token *t = &cd->tokens[i];
            nfi_buf_printf(b, "%s[%u,%u,", i ? "," : "", t->start, t->len);
            nfi_json_string(b, cd->pool + t->norm, t->norm_len);
            nfi_buf_putc(b, ',');
            nfi_json_string(b, cd->pool + t->stem, t->stem_len);
            nfi_buf_putc(b, ']');
        }
        nfi_buf_putc(b, ']');
    }
    nfi_buf_puts(b, "}\n");
}

void nf_jsonl_dedup_record(nf_buffer *b, const nf_dedup_result *r, size_t i)
{
    const nf_dedup_record *d = &r->docs[i];
    const char *canon = r->docs[d->canonical].id;
    nfi_buf_puts(b, "{\"id\":");
    nfi_json_cstr_or_null(b, d->id);
    nfi_buf_puts(b, ",\"group\":");
    nfi_json_cstr_or_null(b, canon);
    nfi_buf_puts(b, ",\"canonical\":");
    nfi_json_cstr_or_null(b, canon);
    nfi_buf_printf(b, ",\"relation\":\"%s\",\"score\":%.4f", nf_relation_name(d->relation), d->score);
    if (d->reason)
        nfi_buf_printf(b, ",\"reason\":\"%s\"", d->reason);
    nfi_buf_puts(b, "}\n");
}

void nf_jsonl_dedup_pair(nf_buffer *b, const nf_dedup_result *r, size_t k)
{
    const nf_dedup_pair *p = &r->pairs[k];
    nfi_buf_puts(b, "{\"a\":");
    nfi_json_cstr_or_null(b, r->docs[p->a].id);
    nfi_buf_puts(b, ",\"b\":");
    nfi_json_cstr_or_null(b, r->docs[p->b].id);
    nfi_buf_printf(b, ",\"relation\":\"%s\",\"score\":%.4f}\n", nf_relation_name(p->relation), p->score);
}

void nf_jsonl_link(nf_buffer *b, const char *id_a, const char *id_b, double score, const char *lang_a,
                   const char *lang_b)
{
    nfi_buf_puts(b, "{\"a\":");
    nfi_json_cstr_or_null(b, id_a);
    nfi_buf_puts(b, ",\"b\":");
    nfi_json_cstr_or_null(b, id_b);
    nfi_buf_printf(b, ",\"relation\":\"translation\",\"score\":%.4f,\"lang_a\":", score);
    nfi_json_cstr_or_null(b, lang_a);
    nfi_buf_puts(b, ",\"lang_b\":");
    nfi_json_cstr_or_null(b, lang_b);
    nfi_buf_puts(b, "}\n");
}

void nf_jsonl_group_member(nf_buffer *b, const char *id, const char *canonical, const char *relation, double score,
                           const char *lang)
{
    nfi_buf_puts(b, "{\"id\":");
    nfi_json_cstr_or_null(b, id);
    nfi_buf_puts(b, ",\"group\":");
    nfi_json_cstr_or_null(b, canonical);
    nfi_buf_puts(b, ",\"canonical\":");
    nfi_json_cstr_or_null(b, canonical);
    nfi_buf_printf(b, ",\"relation\":\"%s\",\"score\":%.4f,\"lang\":", relation, score);
    nfi_json_cstr_or_null(b, lang);
    nfi_buf_puts(b, "}\n");
}
