/*
 * sparse.c - weighted sparse vectors: (hash, weight) pairs sorted by hash.
 *
 * Documents and event centroids are compared with a merge join, or with
 * binary searches of the short vector's hashes in the long one when their
 * sizes differ a lot (a 40-feature document against a 500-feature
 * centroid), or, when one vector carries a table (the document being
 * streamed, scored against each of its candidates), by probing that table
 * with the other's features (the table remembers the places it filled, so
 * rebuilding it for the next document clears only those; a one-byte
 * filter of its features, 4 KB to 8 KB for a document's body or names,
 * lets only about one in eight of a centroid's features probe the places). Every method adds the matching products in
 * hash order, so they give the same sum, bit for bit. A dot product that
 * only matters above a limit (a candidate's body cosine, stream.c) can be
 * abandoned between blocks once Cauchy-Schwarz over the features not yet
 * passed (the table's tails and the other vector's block tails) shows it
 * stays below; when it is not abandoned it is the same sum. Centroids are sums of their members' unit vectors, pruned to
 * their largest weights (selected, not sorted: nfi_kth_largest_u32 finds
 * the cut-off weight, among the keys above a sampled floor when a few
 * hundred are kept of thousands, and a filter keeps hash order); pruning only happens
 * once a vector holds twice its limit, so its cost is amortized over many
 * additions. Ties in pruning go to the smaller hash, so results never
 * depend on memory layout. A document's few strongest features (the
 * stream's queries, a profile's 16 or 32) are selected among the weights
 * that reach a floor taken from a sample. A joined event's profile, the sum of many
 * parts, is made in one stable sort of all their features (nfi_svec_sum),
 * which adds each feature's weights in part order as repeated merges would.
 */
#include "events/events.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void nfi_svec_free(nfi_svec *v)
{
    free(v->f);
    memset(v, 0, sizeof *v);
}

bool nfi_svec_reserve(nfi_svec *v, uint32_t n)
{
    if (n <= v->cap)
        return true;
    uint32_t cap = v->cap ? v->cap : 16;
    while (cap < n)
        cap *= 2;
    nfi_wfeat *f = realloc(v->f, cap * sizeof *f);
    if (!f)
        return false;
    v->f = f;
    v->cap = cap;
    return true;
}

bool nfi_svec_copy(nfi_svec *dst, const nfi_svec *src)
{
    if (!nfi_svec_reserve(dst, src->n))
        return false;
    if (src->n)
        memcpy(dst->f, src->f, src->n * sizeof *src->f);
    dst->n = src->n;
    dst->norm2 = src->norm2;
    return true;
}

/* Index of hash in v[lo..n), or -1; *lo advances past smaller hashes. */
static long find_from(const nfi_svec *v, uint64_t hash, uint32_t *lo)
{
    uint32_t a = *lo, b = v->n;
    while (a < b) {
        uint32_t m = a + (b - a) / 2;
        if (v->f[m].hash < hash)
            a = m + 1;
        else
            b = m;
    }
    *lo = a;
    return a < v->n && v->f[a].hash == hash ? (long)a : -1;
}

#define CUCKOO_KICKS 64
#define TOP_STACK 2560 /* nfi_svec_top's keys of vectors up to this long lie on the stack (30 KB, with the
                              * selection's places and room; a document's pivot has about 700 features) */
#define DOT_BLOCK NFI_DOT_BLOCK
#define FILTER_BYTES 4 /* filter bytes a place: a byte, not a bit, a hash (fewer instructions a test), 16 a feature */

/* A feature's two places in the table (cuckoo hashing: it is in one). */
static size_t place1(const nfi_svec_table *t, uint64_t h) { return h & t->mask; }
static size_t place2(const nfi_svec_table *t, uint64_t h) { return (h >> 32) & t->mask; }

/* The filter byte of a hash: bits the places do not start from. */
static size_t filter_at(const nfi_svec_table *t, uint64_t h) { return (size_t)(h >> 40) & t->filter_mask; }

/* Empties the places the last build filled, and their features' filter
 * bytes: the table is otherwise empty, so this clears it in O(features)
 * rather than rewriting every place and byte (a table is four times its
 * vector, its filter sixteen times, rebuilt for every streamed document). */
static void table_clear(nfi_svec_table *t)
{
    nfi_wfeat *slot = t->slot; /* (locals: the stores through slot and filter cannot move them) */
    uint8_t *filter = t->filter;
    const uint32_t *used = t->used;
    size_t fmask = t->filter_mask;
    for (size_t i = 0, n = t->n_used; i < n; i++) {
        nfi_wfeat *x = &slot[used[i]];
        filter[(size_t)(x->hash >> 40) & fmask] = 0; /* (filter_at) */
        *x = (nfi_wfeat){0, 0};
    }
    t->n_used = 0;
}

/* Room for cap places, all empty (grown places zeroed, the rest cleared),
 * and an empty filter of FILTER_BYTES bytes a place. */
static bool table_reserve(nfi_svec_table *t, size_t cap)
{
    table_clear(t);
    if (cap > t->cap) {
        nfi_wfeat *s = realloc(t->slot, cap * sizeof *s);
        if (!s)
            return false;
        t->slot = s;
        memset(s + t->cap, 0, (cap - t->cap) * sizeof *s); /* hash 0: empty */
        uint32_t *u = realloc(t->used, cap * sizeof *u);
        if (!u)
            return false; /* t->cap stays: the next try zeroes the same tail again */
        t->used = u;
        uint8_t *b = realloc(t->filter, cap * FILTER_BYTES);
        if (!b)
            return false;
        t->filter = b;
        memset(b + t->cap * FILTER_BYTES, 0, (cap - t->cap) * FILTER_BYTES);
        t->cap = cap;
    }
    t->filter_mask = cap * FILTER_BYTES - 1;
    return true;
}

bool nfi_svec_table_build(nfi_svec_table *t, const nfi_svec *v)
{
    size_t cap = 16;
    while (cap < 4 * (size_t)v->n) /* a quarter full: insertions rarely displace */
        cap *= 2;
    if (!table_reserve(t, cap))
        return false;
    t->mask = cap - 1;
    nfi_wfeat *slot = t->slot; /* (locals: the stores through slot, filter and used cannot move them) */
    uint8_t *filter = t->filter;
    uint32_t *used = t->used;
    size_t mask = t->mask, fmask = t->filter_mask, n_used = 0;
    bool ok = true;
    for (uint32_t i = 0; i < v->n && ok; i++) {
        nfi_wfeat x = v->f[i];
        if (x.hash == 0) {
            ok = false; /* cannot be told from an empty place */
            break;
        }
        filter[(size_t)(x.hash >> 40) & fmask] = 1; /* (filter_at) */
        size_t k = x.hash & mask; /* (place1) */
        int kicks = 0;
        for (;;) {
            nfi_wfeat y = slot[k];
            slot[k] = x;
            if (y.hash == 0) {
                used[n_used++] = (uint32_t)k;
                break;
            }
            if (++kicks == CUCKOO_KICKS) { /* y has no place: its filter byte cannot be cleared by table_clear */
                memset(filter, 0, cap * FILTER_BYTES);
                ok = false;
                break;
            }
            x = y; /* displaced: to its other place */
            k = k == (x.hash & mask) ? (x.hash >> 32) & mask : x.hash & mask;
        }
    }
    t->n_used = n_used;
    return ok;
}

void nfi_svec_table_free(nfi_svec_table *t)
{
    free(t->slot);
    free(t->used);
    free(t->filter);
    free(t->tail);
    memset(t, 0, sizeof *t);
}

bool nfi_svec_table_tails(nfi_svec_table *t, const nfi_svec *v)
{
    if ((size_t)v->n + 1 > t->cap_tail) {
        double *p = realloc(t->tail, ((size_t)v->n + 1) * sizeof *p);
        if (!p)
            return false;
        t->tail = p;
        t->cap_tail = (size_t)v->n + 1;
    }
    double s = 0;
    t->tail[v->n] = 0;
    for (uint32_t i = v->n; i-- > 0;)
        t->tail[i] = s += (double)v->f[i].w * v->f[i].w;
    return true;
}

bool nfi_svec_block_tails(const nfi_svec *v, double *tail, size_t max)
{
    size_t blocks = ((size_t)v->n + NFI_DOT_BLOCK - 1) / NFI_DOT_BLOCK;
    if (blocks + 1 > max)
        return false;
    double s = 0;
    tail[blocks] = 0;
    for (size_t k = blocks; k-- > 0;) {
        uint32_t end = (k + 1) * NFI_DOT_BLOCK < v->n ? (uint32_t)(k + 1) * NFI_DOT_BLOCK : v->n;
        for (uint32_t i = end; i-- > k * NFI_DOT_BLOCK;)
            s += (double)v->f[i].w * v->f[i].w;
        tail[k] = s;
    }
    return true;
}

/* One block of the dot product of a (with table t) and b, b's features
 * [j0, end), added to s. Two passes: the first keeps the features of b
 * whose filter byte is set (a byte a hash, 4 a place, 16 or more a
 * feature: about 1 in 16 of the features that a lacks pass, and most of
 * b's are not in a; a byte is fewer instructions to test than a bit),
 * without a branch; the second looks at the two places of each
 * feature kept, also without a branch. The products of those found are
 * kept in b's order, which is hash order, and then added in that order, as
 * the merge below adds them. */
static inline double dot_block(const nfi_svec_table *t, const nfi_wfeat *bf, uint32_t j0, uint32_t end, double s)
{
    double prod[DOT_BLOCK];
    const nfi_wfeat *pass[DOT_BLOCK];
    size_t n = 0, m = 0; /* (word-sized: no zero extension in the loops) */
    const nfi_wfeat *g = bf + j0, *ge = bf + end;
    for (; ge - g >= 4; g += 4) { /* four at a time: the loop's own count and test were a third of it */
        pass[n] = g;
        n += t->filter[filter_at(t, g[0].hash)];
        pass[n] = g + 1;
        n += t->filter[filter_at(t, g[1].hash)];
        pass[n] = g + 2;
        n += t->filter[filter_at(t, g[2].hash)];
        pass[n] = g + 3;
        n += t->filter[filter_at(t, g[3].hash)];
    }
    for (; g < ge; g++) {
        pass[n] = g;
        n += t->filter[filter_at(t, g->hash)];
    }
    for (size_t i = 0; i < n; i++) {
        const nfi_wfeat *f = pass[i];
        uint64_t h = f->hash;
        const nfi_wfeat *x = &t->slot[place1(t, h)], *y = &t->slot[place2(t, h)];
        float w = x->hash == h ? x->w : 0.0f;
        w = y->hash == h ? y->w : w;
        prod[m] = (double)w * f->w;
        m += (x->hash == h) | (y->hash == h);
    }
    for (size_t k = 0; k < m; k++)
        s += prod[k];
    return s;
}

/* The dot product of a (with a table) and b, a block at a time. */
static double dot_table(const nfi_svec *a, const nfi_svec *b)
{
    double s = 0;
    for (uint32_t j0 = 0; j0 < b->n; j0 += DOT_BLOCK)
        s = dot_block(a->table, b->f, j0, b->n - j0 < DOT_BLOCK ? b->n : j0 + DOT_BLOCK, s);
    return s;
}

/* Sum of the squared weights of a's features above hash h (the table's
 * tails; *lo: where the last search ended, hashes only grow). */
static double tail_above(const nfi_svec *a, uint64_t h, uint32_t *lo)
{
    uint32_t x = *lo, y = a->n;
    while (x < y) {
        uint32_t mid = x + (y - x) / 2;
        if (a->f[mid].hash <= h)
            x = mid + 1;
        else
            y = mid;
    }
    *lo = x;
    return a->table->tail[x];
}

/* Before each block (and after the last but one), the products still to
 * come are bounded by Cauchy-Schwarz over the features not yet passed:
 * sqrt(a's squared weights above the last hash passed x b's squared
 * weights from the next block on). */
double nfi_svec_dot_bounded(const nfi_svec *a, const nfi_svec *b, const double *b_tail, double limit, bool *cut)
{
    const double slack = 1 + 1e-9; /* the tails are sums of their own: rounding */
    uint32_t lo = 0;
    double s = 0, rest_a = a->table->tail[0];
    *cut = false;
    for (uint32_t j0 = 0, k = 0; j0 < b->n; j0 += DOT_BLOCK, k++) {
        if (j0 > 0)
            rest_a = tail_above(a, b->f[j0 - 1].hash, &lo);
        if (s + sqrt(rest_a * b_tail[k]) * slack < limit) {
            *cut = true;
            return s;
        }
        s = dot_block(a->table, b->f, j0, b->n - j0 < DOT_BLOCK ? b->n : j0 + DOT_BLOCK, s);
    }
    return s;
}

double nfi_svec_dot(const nfi_svec *a, const nfi_svec *b)
{
    if (a->table && a->n && b->n)
        return dot_table(a, b);
    if (b->table && b->n && a->n)
        return dot_table(b, a);
    if (a->n > b->n) {
        const nfi_svec *t = a;
        a = b;
        b = t;
    }
    double s = 0;
    if (a->n == 0)
        return 0;
    if ((uint64_t)a->n * 8 < b->n) {
        uint32_t lo = 0;
        for (uint32_t i = 0; i < a->n; i++) {
            long j = find_from(b, a->f[i].hash, &lo);
            if (j >= 0)
                s += (double)a->f[i].w * b->f[j].w;
        }
        return s;
    }
    /* branch-free merge: which side advances is data, not a jump the
     * processor must guess (hashes are random, so it guesses wrong half the
     * time); the sum runs in hash order either way, as above */
    const nfi_wfeat *x = a->f, *y = b->f, *xe = a->f + a->n, *ye = b->f + b->n;
    while (x < xe && y < ye) {
        uint64_t hx = x->hash, hy = y->hash;
        double p = (double)x->w * y->w;
        s += hx == hy ? p : 0.0;
        x += hx <= hy;
        y += hy <= hx;
    }
    return s;
}

double nfi_svec_cos(const nfi_svec *a, const nfi_svec *b)
{
    if (a->norm2 <= 0 || b->norm2 <= 0)
        return 0;
    return nfi_svec_dot(a, b) / sqrt(a->norm2 * b->norm2);
}

static void recompute_norm(nfi_svec *v)
{
    double s = 0;
    for (uint32_t i = 0; i < v->n; i++)
        s += (double)v->f[i].w * v->f[i].w;
    v->norm2 = s;
}

void nfi_svec_normalize(nfi_svec *v)
{
    if (v->norm2 <= 0)
        return;
    float k = (float)(1.0 / sqrt(v->norm2));
    double s = 0;
    for (uint32_t i = 0; i < v->n; i++) { /* (recompute_norm's sum, in the same pass) */
        v->f[i].w *= k;
        s += (double)v->f[i].w * v->f[i].w;
    }
    v->norm2 = s;
}

/* Radix selection, eight bits a pass from the top: count the values still
 * in the running by the eight bits below those they all share (an OR pass
 * finds the highest bit where they differ: the digit starts there, not at
 * a byte boundary, so that a pass never splits values that are already
 * split in one bucket or two, as the exponent byte of similar weights
 * did), descend into the bucket where the k-th largest lies, and move the
 * values in it to the front (a copy without a branch), so each pass reads
 * fewer; once a few values are left they are sorted. No data-dependent
 * branches in the
 * loops (a quickselect's comparisons of weights are guesses the processor
 * often loses), and the value is the one any selection finds: the k-th
 * largest is unique. */
#define KTH_FEW 16

/* The k-th largest of a[0..n) (n <= KTH_FEW) by an insertion sort, largest
 * first. */
static uint32_t kth_of_few(uint32_t *a, size_t n, size_t k)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t x = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1] < x; j--)
            a[j] = a[j - 1];
        a[j] = x;
    }
    return a[k - 1];
}

uint32_t nfi_kth_largest_u32(uint32_t *a, size_t n, size_t k)
{
    size_t want = k;
    for (;;) {
        uint32_t diff = 0;
        for (size_t i = 0; i < n; i++)
            diff |= a[i] ^ a[0];
        if (diff == 0)
            return a[0];
        if (n <= KTH_FEW)
            return kth_of_few(a, n, want);
        int top = 31 - __builtin_clz(diff), shift = top >= 7 ? top - 7 : 0; /* the bits above top: shared */
        uint32_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[(a[i] >> shift) & 255]++;
        unsigned b = 255;
        while (want > count[b])
            want -= count[b--];
        size_t o = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t x = a[i];
            a[o] = x;
            o += ((x >> shift) & 255) == b;
        }
        n = o;
        if (shift == 0) /* every bit told: the values left are equal */
            return a[0];
    }
}

/* A key that orders floats as uint32_t (IEEE 754: flip the sign bit of
 * non-negative values, every bit of negative ones). */
static uint32_t float_key(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u & 0x80000000u ? ~u : u | 0x80000000u;
}

static int cmp_weight_desc(const void *a, const void *b)
{
    const nfi_wfeat *x = a, *y = b;
    if (x->w != y->w)
        return x->w > y->w ? -1 : 1;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

static int cmp_hash(const void *a, const void *b)
{
    const nfi_wfeat *x = a, *y = b;
    return x->hash < y->hash ? -1 : x->hash > y->hash;
}

#define HEAP_TOP 64 /* selections of at most this many (profiles) go through a heap */

/* Restores the min-heap order of h[0..n) below place i. */
static void sift_down(uint32_t *h, uint32_t n, uint32_t i)
{
    uint32_t x = h[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        c += c + 1 < n && h[c + 1] < h[c];
        if (h[c] >= x)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

/* The n-th largest of key[0..m) (n <= HEAP_TOP, n <= m) and, in *above,
 * how many are larger: a min-heap holds the n largest keys so far (as a
 * multiset: exactly the n largest at the end, whatever the ties), and a
 * key enters only when it beats the heap's least. For a profile (16 to 64
 * of a centroid's hundreds) most keys cost one comparison, where the radix
 * selection counts every key a byte at a time over 256 buckets. */
static uint32_t kth_by_heap(const uint32_t *key, uint32_t m, uint32_t n, uint32_t *above)
{
    uint32_t h[HEAP_TOP];
    memcpy(h, key, n * sizeof *h);
    for (uint32_t i = n / 2; i-- > 0;)
        sift_down(h, n, i);
    for (uint32_t i = n; i < m; i++)
        if (key[i] > h[0]) {
            h[0] = key[i];
            sift_down(h, n, 0);
        }
    uint32_t t = h[0], a = 0;
    for (uint32_t i = 0; i < n; i++)
        a += h[i] > t;
    *above = a;
    return t;
}

/* When m is several times n (a document's pivot: 256 of about 700), a
 * sample of every SAMPLE_STEP-th key gives a floor g that about 1.25 n keys
 * reach; their places go to idx[0..c) (in order), and the n-th largest is
 * selected among them, the same value as among all (every key above it
 * reaches g), so the caller keeps weights from those c places only.
 * Returns c, or 0 when fewer than n reach g (then nothing is told: the
 * caller selects among all). *t: the n-th largest. */
#define SAMPLE_STEP 8
static uint32_t prefiltered(const uint32_t *key, uint32_t m, uint32_t n, uint32_t *idx, uint32_t *room, uint32_t *t)
{
    uint32_t s = 0;
    for (uint32_t i = 0; i < m; i += SAMPLE_STEP)
        room[s++] = key[i];
    uint32_t j = (uint32_t)((5 * (uint64_t)n * s / 4 + m - 1) / m), unused; /* ~1.25 n reach the floor */
    j = j < 1 ? 1 : j > s ? s : j;
    uint32_t g = j <= HEAP_TOP ? kth_by_heap(room, s, j, &unused) : nfi_kth_largest_u32(room, s, j);
    uint32_t c = 0;
    for (uint32_t i = 0; i < m; i++) { /* (without a branch) */
        idx[c] = i;
        c += key[i] >= g;
    }
    if (c < n)
        return 0;
    for (uint32_t i = 0; i < c; i++)
        room[i] = key[idx[i]];
    *t = nfi_kth_largest_u32(room, c, n);
    return c;
}

/* The n (< m) largest weights of f[0..m) into out[0..n), in f's order
 * (out may be f: filtering in place); false when out of memory. Every key
 * above the cut-off t is kept, and of those equal to it the first ones. */
static bool select_top(nfi_wfeat *out, const nfi_wfeat *f, uint32_t m, uint32_t n)
{
    uint32_t small[3 * TOP_STACK]; /* most vectors: no allocation per call */
    uint32_t *w = m <= TOP_STACK ? small : malloc(3 * (size_t)m * sizeof *w);
    if (!w)
        return false;
    for (uint32_t i = 0; i < m; i++)
        w[i] = float_key(f[i].w);
    uint32_t t, above = 0, c = 0, o = 0, *idx = w + m;
    if (n <= HEAP_TOP) {
        t = kth_by_heap(w, m, n, &above);
    } else if ((c = prefiltered(w, m, n, idx, w + 2 * m, &t)) > 0) {
        for (uint32_t i = 0; i < c; i++)
            above += w[idx[i]] > t;
        uint32_t ties = n - above;
        for (uint32_t i = 0; i < c; i++) { /* (the keys below the floor are below t) */
            uint32_t k = idx[i];
            if (w[k] > t) {
                out[o++] = f[k];
            } else if (w[k] == t && ties > 0) {
                out[o++] = f[k];
                ties--;
            }
        }
    } else {
        memcpy(w + m, w, m * sizeof *w);
        t = nfi_kth_largest_u32(w + m, m, n);
        for (uint32_t i = 0; i < m; i++)
            above += w[i] > t;
    }
    if (c == 0) {
        uint32_t ties = n - above;
        for (uint32_t i = 0; i < m; i++) {
            nfi_wfeat x = f[i];
            uint32_t key = w[i];
            if (key > t) {
                out[o++] = x;
            } else if (key == t && ties > 0) {
                out[o++] = x;
                ties--;
            }
        }
    }
    if (w != small)
        free(w);
    return true;
}

/* Keeps the n largest weights, ties to the smaller hash: the n-th largest
 * weight w is found by selection; every weight above w stays, and of those
 * equal to w the first ones in hash order (the smaller hashes) fill up to n.
 * Filtering in place keeps the hash order, so nothing is sorted. */
void nfi_svec_top(nfi_svec *v, uint32_t n)
{
    if (v->n <= n)
        return;
    if (n == 0) {
        v->n = 0;
        v->norm2 = 0;
        return;
    }
    if (!select_top(v->f, v->f, v->n, n)) { /* no scratch: sort instead (same result) */
        qsort(v->f, v->n, sizeof *v->f, cmp_weight_desc);
        qsort(v->f, n, sizeof *v->f, cmp_hash);
    }
    v->n = n;
    recompute_norm(v);
}

bool nfi_svec_top_of(nfi_svec *dst, const nfi_svec *src, uint32_t n)
{
    if (src->n <= n)
        return nfi_svec_copy(dst, src);
    if (!nfi_svec_reserve(dst, n))
        return false;
    if (n > 0 && !select_top(dst->f, src->f, src->n, n)) { /* no scratch: as nfi_svec_top does */
        if (!nfi_svec_copy(dst, src))
            return false;
        nfi_svec_top(dst, n);
        return true;
    }
    dst->n = n;
    recompute_norm(dst);
    return true;
}

/* By bounded insertion; the result does not depend on the order of f
 * (the ranking is a total order: hashes differ). */
uint32_t nfi_svec_ranked_top(const nfi_wfeat *f, uint32_t n, uint32_t top, nfi_wfeat *best)
{
    uint32_t nb = 0;
    for (uint32_t i = 0; i < n; i++) {
        nfi_wfeat x = f[i];
        if (nb == top && !(x.w > best[top - 1].w))
            continue;
        uint32_t j = nb < top ? nb++ : top - 1;
        while (j > 0 && (x.w > best[j - 1].w || (x.w == best[j - 1].w && x.hash < best[j - 1].hash))) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = x;
    }
    return nb;
}

#define RANK_SAMPLE_STEP 4 /* nfi_svec_top_set: the floor from every 4th weight ... */
#define RANK_ROOM 512      /* (the longest channel of a document, vec_keep in events.c) */

/* A selection over all of v (select_top) reads every weight two or three
 * times, so a floor is taken first: the (3 n / 8)-th largest weight g of
 * every RANK_SAMPLE_STEP-th (about 1.5 n weights reach it). When at least
 * n weights reach g, the n-th largest does too, so every weight kept is
 * among those (ties at g included: all of them reach it) and the
 * selection runs over them only (in hash order, so they stay in it);
 * otherwise (or for short vectors) over all. Same result either way. */
uint32_t nfi_svec_top_set(const nfi_svec *v, uint32_t n, nfi_wfeat *out)
{
    if (v->n <= n) {
        memcpy(out, v->f, v->n * sizeof *out);
        return v->n;
    }
    uint32_t rank = 3 * n / 8 ? 3 * n / 8 : 1;
    if (n <= HEAP_TOP && v->n >= RANK_SAMPLE_STEP * n && v->n <= RANK_ROOM) {
        float g[HEAP_TOP];
        uint32_t ng = 0;
        for (uint32_t i = 0; i < v->n; i += RANK_SAMPLE_STEP) { /* the sample's largest, descending */
            float w = v->f[i].w;
            if (ng == rank && !(w > g[rank - 1]))
                continue;
            uint32_t j = ng < rank ? ng++ : rank - 1;
            for (; j > 0 && w > g[j - 1]; j--)
                g[j] = g[j - 1];
            g[j] = w;
        }
        float floor = g[ng - 1];
        nfi_wfeat room[RANK_ROOM];
        uint32_t c = 0;
        for (uint32_t i = 0; i < v->n; i++) /* (a branch: a few dozen of hundreds pass, and a copy costs more) */
            if (v->f[i].w >= floor)
                room[c++] = v->f[i];
        if (c >= n)
            return select_top(out, room, c, n) ? n : 0;
    }
    return select_top(out, v->f, v->n, n) ? n : 0;
}

bool nfi_svec_from_set(nfi_svec *dst, const nfi_wfeat *set, uint32_t n)
{
    if (!nfi_svec_reserve(dst, n))
        return false;
    memcpy(dst->f, set, n * sizeof *set);
    dst->n = n;
    recompute_norm(dst);
    return true;
}

bool nfi_svec_add(nfi_svec *a, const nfi_svec *b, double scale, uint32_t max_n)
{
    if (!nfi_svec_reserve(a, a->n + b->n))
        return false;
    if (a->n == 0 && scale == 1.0 && b->n) { /* a new event's centroid: (float)(1.0 * w) is w */
        memcpy(a->f, b->f, b->n * sizeof *b->f);
        a->n = b->n;
        if (max_n && a->n > 2 * max_n)
            nfi_svec_top(a, max_n);
        else
            recompute_norm(a);
        return true;
    }
    /* merge from the back so a's storage can be reused in place */
    uint32_t i = a->n, j = b->n, o = a->n + b->n;
    while (j > 0) {
        if (i > 0 && a->f[i - 1].hash > b->f[j - 1].hash) {
            a->f[--o] = a->f[--i];
        } else if (i > 0 && a->f[i - 1].hash == b->f[j - 1].hash) {
            nfi_wfeat f = a->f[--i];
            f.w += (float)(scale * b->f[--j].w);
            a->f[--o] = f;
        } else {
            nfi_wfeat f = b->f[--j];
            f.w = (float)(scale * f.w);
            a->f[--o] = f;
        }
    }
    /* o - i slots were freed by equal hashes: close the gap */
    uint32_t gap = o - i, total = a->n + b->n - gap;
    if (gap)
        memmove(a->f + i, a->f + o, (total - i) * sizeof *a->f);
    a->n = total;
    if (max_n && a->n > 2 * max_n)
        nfi_svec_top(a, max_n);
    else
        recompute_norm(a);
    return true;
}

/* Adding n vectors one by one rewrites the growing sum n times (and
 * recomputes its norm each time): quadratic for a joined event of
 * thousands of parts. Here every feature of every vector goes into one
 * array, a stable sort by hash keeps the vectors' order among equal hashes,
 * and each hash's weights are summed in that order in float, as the merges
 * would add them: the same bits. */
bool nfi_svec_sum(nfi_svec *a, const nfi_svec *const *v, size_t n)
{
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += v[k]->n;
    if (total > UINT32_MAX)
        return false;
    a->n = 0;
    if (total == 0) {
        a->norm2 = 0;
        return true;
    }
    nfi_kv *kv = malloc(total * sizeof *kv);
    if (!kv || !nfi_svec_reserve(a, (uint32_t)total)) {
        free(kv);
        return false;
    }
    size_t o = 0;
    for (size_t k = 0; k < n; k++)
        for (uint32_t i = 0; i < v[k]->n; i++) {
            uint32_t bits;
            memcpy(&bits, &v[k]->f[i].w, sizeof bits);
            kv[o++] = (nfi_kv){v[k]->f[i].hash, bits};
        }
    nfi_kv_sort_by_key_stable(kv, total);
    uint32_t m = 0;
    for (size_t i = 0; i < total; i++) {
        uint32_t bits = (uint32_t)kv[i].val;
        float w;
        memcpy(&w, &bits, sizeof w);
        if (m > 0 && a->f[m - 1].hash == kv[i].key)
            a->f[m - 1].w += w;
        else
            a->f[m++] = (nfi_wfeat){kv[i].key, w};
    }
    free(kv);
    a->n = m;
    recompute_norm(a);
    return true;
}
