/*
 * groups.c - translation groups: the versions of one text in several
 * languages (and their copies), with the version that is most likely the
 * original as the group's canonical document.
 *
 * Translation links and dedup's exact/near/contained copies are joined with
 * the one union-find (common/). The canonical document of a group is the
 * one with the most translation links (the original is what every
 * translation was made from), then the earliest published, then the
 * smallest id, then the first added: a total order, so the result does not
 * depend on the order of the links or on thread counts.
 * Each document's score: 1 for the canonical; a copy's dedup score; a
 * translation's link to the canonical, else its best link (it joined
 * through another version). Everything is O(documents + links).
 */
#include "links/links.h"

#include <stdlib.h>
#include <string.h>

static bool better_original(const nf_links_group_order *o, const uint32_t *degree, uint32_t a, uint32_t b)
{
    if (degree[a] != degree[b])
        return degree[a] > degree[b];
    if (o && o->published && o->published[a] != o->published[b])
        return o->published[a] < o->published[b];
    if (o && o->ids && o->ids[a] && o->ids[b]) {
        int c = strcmp(o->ids[a], o->ids[b]);
        if (c)
            return c < 0;
    }
    return a < b;
}

static const char *relation_of(const nf_dedup_result *copies, uint32_t i, uint32_t c, uint32_t root,
                               const uint32_t *degree, double *score)
{
    const nf_dedup_record *di = copies ? &copies->docs[i] : NULL, *dc = copies ? &copies->docs[c] : NULL;
    *score = 1.0;
    if (i == c)
        return root == i && degree[i] == 0 && (!di || di->relation == NF_REL_UNIQUE) ? "unique" : "canonical";
    if (di && di->canonical == dc->canonical) { /* a copy of the canonical (or its copy) */
        bool is_canon = di->relation == NF_REL_CANONICAL;
        *score = is_canon ? dc->score : di->score;
        return nf_relation_name(is_canon ? dc->relation : di->relation);
    }
    return "translation";
}

nf_status nf_links_group(const nf_links_result *links, const nf_dedup_result *copies, size_t n,
                         const nf_links_group_order *order, nf_links_groups *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    if (n > UINT32_MAX)
        return nfi_fail(err, NF_ERR_ARG, "too many documents for groups");
    uint32_t *parent = malloc((n ? n : 1) * sizeof *parent), *degree = calloc(n ? n : 1, sizeof *degree);
    uint32_t *canon = malloc((n ? n : 1) * sizeof *canon), *number = malloc((n ? n : 1) * sizeof *number);
    double *best = calloc(n ? n : 1, sizeof *best), *direct = malloc((n ? n : 1) * sizeof *direct);
    out->docs = calloc(n ? n : 1, sizeof *out->docs);
    if (!parent || !degree || !canon || !number || !best || !direct || !out->docs) {
        free(parent), free(degree), free(canon), free(number), free(best), free(direct);
        nf_links_groups_free(out);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < n; i++)
        parent[i] = canon[i] = i, number[i] = UINT32_MAX, direct[i] = -1;
    for (size_t k = 0; k < links->n_links; k++) {
        const nf_link *l = &links->links[k];
        degree[l->a]++, degree[l->b]++;
        nfi_uf_union(parent, l->a, l->b);
    }
    for (uint32_t i = 0; copies && i < n; i++) /* copies join their canonical's group */
        nfi_uf_union(parent, i, copies->docs[i].canonical);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t root = nfi_uf_find(parent, i);
        if (better_original(order, degree, i, canon[root]))
            canon[root] = i;
    }
    for (size_t k = 0; k < links->n_links; k++) { /* each document's link to its canonical, and its best */
        const nf_link *l = &links->links[k];
        uint32_t c = canon[nfi_uf_find(parent, l->a)];
        if (l->score > best[l->a])
            best[l->a] = l->score;
        if (l->score > best[l->b])
            best[l->b] = l->score;
        if (l->b == c)
            direct[l->a] = l->score;
        if (l->a == c)
            direct[l->b] = l->score;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t root = nfi_uf_find(parent, i), c = canon[root];
        nf_links_group_doc *g = &out->docs[i];
        if (number[root] == UINT32_MAX)
            number[root] = (uint32_t)out->n_groups++;
        g->group = number[root];
        g->canonical = c;
        g->relation = relation_of(copies, i, c, root, degree, &g->score);
        if (strcmp(g->relation, "translation") == 0)
            g->score = direct[i] >= 0 ? direct[i] : best[i];
    }
    out->n_docs = n;
    free(parent), free(degree), free(canon), free(number), free(best), free(direct);
    return NF_OK;
}

void nf_links_groups_free(nf_links_groups *g)
{
    if (!g)
        return;
    free(g->docs);
    memset(g, 0, sizeof *g);
}
