/*
 * eval.c - agreement between two clusterings of the same items.
 *
 * Everything comes from the contingency table n_ij (items in gold cluster i
 * and predicted cluster j), built exactly by sorting (gold, pred) label
 * pairs, so the cost is O(n log n) and no pair of items is enumerated:
 *   pairwise  TP = sum C(n_ij, 2), predicted pairs sum C(b_j, 2), gold pairs
 *             sum C(a_i, 2); precision TP / predicted, recall TP / gold
 *             (1 by convention when there are no pairs to get right or wrong)
 *   B-cubed   per item, precision |own gold ∩ own pred| / |own pred| and
 *             recall the same over |own gold|, averaged over items:
 *             (1/n) sum n_ij^2 / b_j and (1/n) sum n_ij^2 / a_i
 *   ARI       (TP - E) / ((G + P) / 2 - E) with E = G P / C(n, 2); 1 when
 *             both clusterings are identical and the denominator vanishes
 * The worst clusters (nf_cluster_worst) come from the same table, read once
 * per side: a gold cluster loses a_i - sum_j n_ij^2 / a_i items of B-cubed
 * recall, a predicted one b_j - sum_i n_ij^2 / b_j items of precision.
 */
#include "common/common.h"

#include <stdlib.h>
#include <string.h>

static double pairs(double k) { return k * (k - 1) / 2; }

/* Sorted copy of labels; returns the number of clusters and sum C(size, 2). */
static size_t cluster_sizes(const uint32_t *labels, size_t n, uint64_t *tmp, double *pair_sum)
{
    for (size_t i = 0; i < n; i++)
        tmp[i] = labels[i];
    qsort(tmp, n, sizeof *tmp, nfi_cmp_u64);
    size_t clusters = 0;
    *pair_sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && tmp[j] == tmp[i])
            j++;
        *pair_sum += pairs((double)(j - i));
        clusters++;
        i = j;
    }
    return clusters;
}

/* Size of the cluster with label key in the sorted array. */
static size_t size_of(const uint64_t *sorted, size_t n, uint64_t key)
{
    size_t first = nfi_lower_bound_u64(sorted, n, key);
    size_t end = key == UINT64_MAX ? n : nfi_lower_bound_u64(sorted, n, key + 1);
    return end - first;
}

static double f1(double p, double r) { return p + r > 0 ? 2 * p * r / (p + r) : 0; }

nf_status nf_cluster_eval(const uint32_t *gold, const uint32_t *pred, size_t n, nf_cluster_scores *out,
                          nf_error *err)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n == 0)
        return NF_OK;
    uint64_t *g = malloc(n * sizeof *g), *p = malloc(n * sizeof *p), *cells = malloc(n * sizeof *cells);
    if (!g || !p || !cells) {
        free(g);
        free(p);
        free(cells);
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    }
    double gold_pairs, pred_pairs, tp = 0, bp = 0, br = 0;
    out->gold_clusters = cluster_sizes(gold, n, g, &gold_pairs);
    out->pred_clusters = cluster_sizes(pred, n, p, &pred_pairs);
    for (size_t i = 0; i < n; i++)
        cells[i] = (uint64_t)gold[i] << 32 | pred[i];
    qsort(cells, n, sizeof *cells, nfi_cmp_u64);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && cells[j] == cells[i])
            j++;
        double nij = (double)(j - i);
        tp += pairs(nij);
        bp += nij * nij / (double)size_of(p, n, cells[i] & 0xffffffffu);
        br += nij * nij / (double)size_of(g, n, cells[i] >> 32);
        i = j;
    }
    out->pair_precision = pred_pairs > 0 ? tp / pred_pairs : 1;
    out->pair_recall = gold_pairs > 0 ? tp / gold_pairs : 1;
    out->pair_f1 = f1(out->pair_precision, out->pair_recall);
    out->bcubed_precision = bp / (double)n;
    out->bcubed_recall = br / (double)n;
    out->bcubed_f1 = f1(out->bcubed_precision, out->bcubed_recall);
    double expected = pairs((double)n) > 0 ? gold_pairs * pred_pairs / pairs((double)n) : 0;
    double denom = (gold_pairs + pred_pairs) / 2 - expected;
    out->ari = denom != 0 ? (tp - expected) / denom : 1;
    free(g);
    free(p);
    free(cells);
    return NF_OK;
}

/* ------------------------------------------------------- worst clusters */

typedef struct cell {
    uint32_t a, b; /* the side being judged, the other side */
} cell;

static int cmp_cell(const void *x, const void *y)
{
    const cell *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    return p->b < q->b ? -1 : p->b > q->b;
}

static int cmp_error(const void *x, const void *y)
{
    const nf_cluster_error *p = x, *q = y;
    if (p->loss != q->loss)
        return p->loss > q->loss ? -1 : 1;
    return p->label < q->label ? -1 : p->label > q->label;
}

/* Clusters of side a by the items they lose: size - sum n_ab^2 / size. */
static bool worst_side(const uint32_t *a, const uint32_t *b, size_t n, size_t k, nf_cluster_error *out,
                       size_t *n_out)
{
    cell *c = malloc(n * sizeof *c);
    nf_cluster_error *all = malloc(n * sizeof *all);
    if (!c || !all) {
        free(c);
        free(all);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        c[i] = (cell){a[i], b[i]};
    qsort(c, n, sizeof *c, cmp_cell);
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i, parts = 0;
        double sq = 0;
        while (j < n && c[j].a == c[i].a) {
            size_t s = j;
            while (j < n && c[j].a == c[s].a && c[j].b == c[s].b)
                j++;
            sq += (double)(j - s) * (double)(j - s);
            parts++;
        }
        double size = (double)(j - i), loss = size - sq / size;
        if (loss > 1e-9) /* clusters that lose nothing are not errors */
            all[m++] = (nf_cluster_error){c[i].a, j - i, parts, loss};
        i = j;
    }
    qsort(all, m, sizeof *all, cmp_error);
    *n_out = m < k ? m : k;
    memcpy(out, all, *n_out * sizeof *out);
    free(c);
    free(all);
    return true;
}

nf_status nf_cluster_worst(const uint32_t *gold, const uint32_t *pred, size_t n, size_t k,
                           nf_cluster_error *split, size_t *n_split, nf_cluster_error *merged,
                           size_t *n_merged, nf_error *err)
{
    *n_split = *n_merged = 0;
    if (n == 0 || k == 0)
        return NF_OK;
    if (!worst_side(gold, pred, n, k, split, n_split) || !worst_side(pred, gold, n, k, merged, n_merged))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    return NF_OK;
}
