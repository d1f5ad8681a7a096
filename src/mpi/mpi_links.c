/*
 * mpi_links.c - distributed links over Open MPI (docs/distributed.md,
 * "links: the distributed finish").
 *
 * Reading: the skeleton of every distributed command (mpi.c,
 * nfi_mpi_gather): the ranks read the single process's batches, each batch
 * on one rank, which cleans it and builds its pivots on its threads
 * (nf_links_add, the dictionary work) into its stage, then appends them
 * to its pivot file (nfi_links_put_pivot, about 9 KB a document against
 * about 30 KB in memory) and empties the stage: a rank's documents are
 * consecutive in input order, so its document i is the corpus's document
 * start[rank] + i, at pivot_off[i] in the file. It also counts its
 * documents per feature (a map of its distinct features) and notes each
 * language's first document. A batch's message
 * to rank 0 holds per document only its id, language and publication date
 * (what the output names) and, with --groups, its dedup item (rank 0 runs
 * nf_dedup_finish alone).
 *
 * Finish (collective, finish_links), each step exactly nf_links_finish's
 * over the whole corpus, through links.c's own parts (links.h):
 *   1. language numbers: each rank's languages with their first document,
 *      all-gathered; in first-document order they are the single
 *      process's table (nfi_links_set_lang_ids, on each document loaded);
 *   2. document frequencies: each rank's distinct features with counts to
 *      the owner (hash mod N), which sums them and answers every rank that
 *      counted (the sums replace the rank's counts in its map);
 *   3. weights and postings, ROUND_DOCS documents at a time: their pivots
 *      are loaded from the pivot file, weighed with the corpus's size
 *      (nfi_links_weigh) and appended to the weighted file
 *      (nfi_links_put_weighted, at woff[i]); every indexed feature
 *      (2 <= df <= max_df) of every document goes to the feature's owner,
 *      which sorts them by (hash, document);
 *   4. candidate search, in rounds of a rank's documents (each loaded
 *      once from the weighted file to plan the round): their features'
 *      postings (each distinct feature once a round, about SEARCH_POSTINGS)
 *      are fetched from the owners and nfi_links_search runs the engine's
 *      search over them for ROUND_DOCS of them at a time (loaded again),
 *      documents numbered in corpus order, so the sums
 *      add the same terms in the same order and the top-k ties break alike;
 *   5. pairs: each candidate pair to its home (the owner of a when a + b is
 *      odd, else of b), kept once;
 *   6. scoring, in rounds: the home fetches the other document's weighted
 *      entry from its owner (who reads it from its weighted file), once
 *      (pairs are taken in the order of their other document), loads its
 *      own documents of the round's pairs (at most LOCAL_DOCS, again in
 *      each round that needs them) and scores the pairs with
 *      nfi_links_score; the stage is emptied after the round;
 *   7. decision: each pair's logit to the owners of its two documents,
 *      which take each document's best per other language and the partner
 *      that has it, ask that partner's owner for its best back in the
 *      document's language, and send them all back to the pairs that reach
 *      the threshold (nfi_links_decide, with the witness check); a pair
 *      whose decision needs the sibling check (nfi_links_sibling: the
 *      agreement of one side x with the other side's best partner z)
 *      asks the home of (x, z), which measures each pair asked once in
 *      step 6's rounds (nfi_links_agreement) and answers every ask;
 *   8. the links to rank 0, sorted by (a, b) as the single process's.
 * Every exchange is the bounded all-to-all (mpi_exchange.c). Memory: a rank
 * holds at most one round of documents in its stage (a batch, ROUND_DOCS,
 * or LOCAL_DOCS + FETCH_DOCS); what grows with the corpus is small per
 * document (two file offsets, 16 bytes; rank 0: the ids for the output),
 * per candidate pair (8 bytes; its home: the 64-byte result and, for a
 * pair that may link, a 40-byte best per language of each of its two
 * documents), per distinct
 * feature of the rank (its count, then its sum: the vocabulary, not the
 * corpus) and the postings of the features it owns (at most max_df per
 * feature). run --mpi (mpi_fold.c) uses the same pivot file and finish
 * over its fold's links stage (nfi_mpi_links_on: borrowed, no gather of
 * its own; nfi_mpi_links_keep after each batch; nfi_mpi_links_finish_on).
 * Without MPI the entry points fail with "built without MPI".
 */
#include "mpi/mpi.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef NF_HAVE_MPI

nf_status nf_mpi_links_new(nf_mpi_links **out, nf_mpi *m, const nf_clean_options *clean,
                           const nf_links_options *links, const nf_dedup_options *groups, nf_error *err)
{
    (void)m, (void)clean, (void)links, (void)groups;
    *out = NULL;
    return nfi_fail(err, NF_ERR_ARG, "built without MPI (install libopenmpi-dev and rebuild)");
}
nf_status nf_mpi_links_run(nf_mpi_links *ml, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err)
{
    (void)ml, (void)in;
    memset(totals, 0, sizeof *totals);
    return nfi_fail(err, NF_ERR_ARG, "built without MPI (install libopenmpi-dev and rebuild)");
}
nf_status nf_mpi_links_finish(nf_mpi_links *ml, nf_links_result *links, nf_dedup_result *dedup, nf_error *err)
{
    (void)ml;
    memset(links, 0, sizeof *links);
    if (dedup)
        memset(dedup, 0, sizeof *dedup);
    return nfi_fail(err, NF_ERR_ARG, "built without MPI (install libopenmpi-dev and rebuild)");
}
size_t nf_mpi_links_size(const nf_mpi_links *ml) { (void)ml; return 0; }
nf_mpi_doc nf_mpi_links_doc(const nf_mpi_links *ml, size_t i)
{
    (void)ml, (void)i;
    return (nf_mpi_doc){"", "", ""};
}
void nf_mpi_links_stats(const nf_mpi_links *ml, nf_mpi_stats *out)
{
    (void)ml;
    memset(out, 0, sizeof *out);
}
void nf_mpi_links_free(nf_mpi_links *ml) { (void)ml; }

#else

#include "dedup/dedup.h"
#include "links/links.h"

/* A document's record on the wire: this, the id (padded to 8 bytes), the
 * pivot record, then (groups) the dedup item. */
typedef struct wire_doc {
    uint64_t id_size;
    char lang[12];      /* as nf_clean_doc's */
    char published[12]; /* YYYY-MM-DD or "" */
} wire_doc;

/* A language and its first document (on the rank, then in the corpus). */
typedef struct lang_rec {
    char lang[16];
    uint64_t first;
} lang_rec;

/* What rank 0 keeps of each document for the output. */
typedef struct kept_doc {
    size_t id_off;
    char lang[12];
    char published[12];
} kept_doc;

struct nf_mpi_links {
    nf_mpi *m;
    nf_links *links;   /* every rank: the pivots of its documents, in input order */
    nf_dedup *dedup;   /* groups only; rank 0: the engine, others: sketch parameters */
    nf_cleaner *cleaner;
    nf_clean_doc *cleaned;
    nfi_dedup_item *items;
    size_t cap_cleaned;
    nfi_mpi_gather g;
    kept_doc *kept;    /* rank 0 */
    size_t n_kept, cap_kept;
    nfi_buf ids;       /* rank 0: the ids, NUL-separated */
    /* every rank: its documents' pivots, spilled batch by batch */
    FILE *pivot_file;  /* pivot records (nfi_links_put_pivot), back to back */
    uint64_t *pivot_off; /* n_docs + 1: where document i's record begins */
    size_t n_docs, cap_off;
    nfi_hmap counts;   /* feature hash -> the rank's documents that have it (hashes 0, 1: low_counts);
                          after the document frequencies, the corpus's */
    uint64_t low_counts[2];
    lang_rec *langs; /* each language's first document on the rank */
    size_t n_langs, cap_langs;
    nfi_buf rec;       /* one record */
    double cpu_finish;
    uint64_t bytes_finish; /* sent through the finish's exchanges */
    uint64_t pairs_scored; /* candidate pairs this rank scored */
    bool borrowed;     /* links is another's stage (run --mpi's fold: nfi_mpi_links_on) */
};


static nf_status grow_batch(nf_mpi_links *ml, size_t n, nf_error *err)
{
    if (n <= ml->cap_cleaned)
        return NF_OK;
    nf_clean_doc *c = realloc(ml->cleaned, n * sizeof *c);
    if (c)
        ml->cleaned = c;
    nfi_dedup_item *it = ml->dedup ? realloc(ml->items, n * sizeof *it) : NULL;
    if (it)
        ml->items = it;
    if (!c || (ml->dedup && !it))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    ml->cap_cleaned = n;
    return NF_OK;
}

static void put_doc(nfi_buf *b, const nf_clean_doc *cd)
{
    wire_doc w = {strlen(cd->doc.id) + 1, "", ""};
    memcpy(w.lang, cd->lang, sizeof w.lang);
    memcpy(w.published, cd->published, sizeof cd->published);
    nfi_buf_append(b, &w, sizeof w);
    nfi_buf_append(b, cd->doc.id, w.id_size);
    nfi_buf_pad8(b, w.id_size);
}

static bool unnamed_lang(const char *lang) { return !lang[0] || strcmp(lang, "und") == 0; }

/* Notes a document's features (for the document frequencies) and its
 * language, when it is the language's first on the rank. */
static nf_status note_doc(nf_mpi_links *ml, const nfi_links_view *v, nf_error *err)
{
    for (size_t f = 0; f < v->pivot->n_features; f++) {
        uint64_t h = v->pivot->features[f].hash;
        uint64_t *c = h < 2 ? &ml->low_counts[h] : nfi_hmap_put(&ml->counts, h, NULL);
        if (!c)
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        ++*c;
    }
    size_t k = 0;
    while (k < ml->n_langs && strcmp(ml->langs[k].lang, v->lang) != 0)
        k++;
    if (unnamed_lang(v->lang) || k < ml->n_langs)
        return NF_OK;
    lang_rec *g = nfi_grow_array(ml->langs, &ml->cap_langs, ml->n_langs + 1, sizeof *g);
    if (!g)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    ml->langs = g;
    memset(&g[ml->n_langs], 0, sizeof *g);
    snprintf(g[ml->n_langs].lang, 12, "%s", v->lang);
    g[ml->n_langs++].first = ml->n_docs;
    return NF_OK;
}

/* Appends the stage's pivots (the batch's) to the rank's pivot file, with
 * their offsets, and notes their features and languages. */
static nf_status spill_pivots(nf_mpi_links *ml, nf_error *err)
{
    if (!ml->pivot_file && !(ml->pivot_file = nfi_temp_file(ml->g.tmp_dir, "newsfold-pivots")))
        return nfi_fail(err, NF_ERR_IO, "cannot create a temporary file in %s",
                        ml->g.tmp_dir ? ml->g.tmp_dir : "$TMPDIR");
    size_t n = nfi_links_size(ml->links);
    uint64_t *off = nfi_grow_array(ml->pivot_off, &ml->cap_off, ml->n_docs + n + 1, sizeof *off);
    if (!off)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    ml->pivot_off = off;
    if (!ml->n_docs)
        off[0] = 0;
    nf_status st = NF_OK;
    for (size_t i = 0; i < n && st == NF_OK; i++, ml->n_docs++) {
        nfi_links_view v;
        nfi_links_get_view(ml->links, i, &v);
        st = note_doc(ml, &v, err);
        ml->rec.len = 0;
        nfi_links_put_pivot(ml->links, i, &ml->rec);
        if (st == NF_OK && ml->rec.oom)
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        if (st == NF_OK && fwrite(ml->rec.data, 1, ml->rec.len, ml->pivot_file) != ml->rec.len)
            st = nfi_fail(err, NF_ERR_IO, "cannot write the temporary file of pivots (disk full?)");
        off[ml->n_docs + 1] = off[ml->n_docs] + ml->rec.len;
    }
    return st;
}

/* Cleans one batch and builds its pivots (and sketches) on this rank's
 * threads; the pivots go to the rank's pivot file, the ids (and items) to
 * wire. */
static nf_status pivot_batch(void *ctx, nf_doc *docs, size_t n, nfi_buf *wire, nf_error *err)
{
    nf_mpi_links *ml = ctx;
    nf_status st = grow_batch(ml, n, err);
    if (st != NF_OK)
        return st;
    st = nf_clean_batch(ml->cleaner, docs, n, ml->cleaned, err);
    if (st != NF_OK)
        return st;
    bool sketched = false;
    st = nf_links_add(ml->links, ml->cleaned, n, err);
    if (st == NF_OK && ml->dedup) {
        st = nfi_dedup_sketch(ml->dedup, ml->cleaned, n, ml->items, err);
        sketched = true;
    }
    for (size_t i = 0; i < n && st == NF_OK; i++) {
        put_doc(wire, &ml->cleaned[i]);
        if (ml->dedup)
            nfi_mpi_put_item(wire, &ml->items[i], ml->dedup->opt.perms);
    }
    for (size_t i = 0; i < n; i++) {
        if (sketched)
            nfi_dedup_item_free(&ml->items[i]);
        nf_clean_doc_free(&ml->cleaned[i]);
    }
    if (st == NF_OK)
        st = spill_pivots(ml, err);
    nfi_links_truncate(ml->links, 0); /* the stage holds one batch at a time */
    return st;
}

static nf_status keep_doc(nf_mpi_links *ml, const wire_doc *w, const char *id, nf_error *err)
{
    kept_doc *k = nfi_grow_array(ml->kept, &ml->cap_kept, ml->n_kept + 1, sizeof *k);
    if (!k)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    ml->kept = k;
    k = &ml->kept[ml->n_kept++];
    k->id_off = ml->ids.len;
    nfi_buf_append(&ml->ids, id, w->id_size);
    memcpy(k->lang, w->lang, sizeof k->lang); /* NUL-terminated: checked */
    memcpy(k->published, w->published, sizeof k->published);
    return ml->ids.oom ? nfi_fail(err, NF_ERR_NOMEM, "out of memory") : NF_OK;
}

/* The document record at *pos of a batch: header and id. */
static nf_status get_doc(const char *buf, size_t len, size_t *pos, wire_doc *w, const char **id, nf_error *err)
{
    if (len - *pos < sizeof *w)
        return nfi_fail(err, NF_ERR_PARSE, "MPI: truncated batch");
    memcpy(w, buf + *pos, sizeof *w);
    *id = buf + *pos + sizeof *w;
    if (w->id_size == 0 || nfi_pad8(w->id_size) > len - *pos - sizeof *w || (*id)[w->id_size - 1] != '\0' ||
        !memchr(w->lang, '\0', sizeof w->lang) || !memchr(w->published, '\0', sizeof w->published))
        return nfi_fail(err, NF_ERR_PARSE, "MPI: malformed batch");
    *pos += sizeof *w + nfi_pad8(w->id_size);
    return NF_OK;
}

/* Rank 0: keeps the document at *pos for the output (and its item). */
static nf_status append_doc(void *ctx, const char *buf, size_t len, size_t *pos, nf_error *err)
{
    nf_mpi_links *ml = ctx;
    wire_doc w;
    const char *id = NULL;
    nf_status st = get_doc(buf, len, pos, &w, &id, err);
    if (st == NF_OK)
        st = keep_doc(ml, &w, id, err);
    nfi_dedup_item it;
    if (st == NF_OK && ml->dedup)
        st = nfi_mpi_get_item(buf, len, pos, ml->dedup->opt.perms, &it, err);
    if (st == NF_OK && ml->dedup)
        st = nfi_dedup_append_item(ml->dedup, &it, err);
    return st;
}

nf_status nf_mpi_links_new(nf_mpi_links **out, nf_mpi *m, const nf_clean_options *clean,
                           const nf_links_options *links, const nf_dedup_options *groups, nf_error *err)
{
    *out = NULL;
    if (!m)
        return nfi_fail(err, NF_ERR_ARG, "MPI is not initialised (nf_mpi_init)");
    nf_mpi_links *ml = calloc(1, sizeof *ml);
    if (!ml)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    ml->m = m;
    ml->g = (nfi_mpi_gather){.m = m, .tmp_dir = groups ? groups->tmp_dir : NULL, .produce = pivot_batch,
                             .consume = append_doc, .ctx = ml};
    nfi_buf_init(&ml->g.wire);
    nfi_buf_init(&ml->ids);
    nfi_buf_init(&ml->rec);
    nfi_hmap_init(&ml->counts);
    nf_status st = nf_links_new(&ml->links, links, err);
    if (st == NF_OK && groups) {
        nf_dedup_options o = *groups;
        if (m->rank != 0)
            o.index_dir = NULL;
        st = nf_dedup_new(&ml->dedup, &o, err);
    }
    if (st == NF_OK)
        st = nf_cleaner_new(&ml->cleaner, clean, err);
    if (st != NF_OK) {
        nf_mpi_links_free(ml);
        return st;
    }
    *out = ml;
    return NF_OK;
}

nf_status nf_mpi_links_run(nf_mpi_links *ml, const nf_mpi_input *in, nf_mpi_totals *totals, nf_error *err)
{
    return nfi_mpi_gather_run(&ml->g, in, totals, err);
}

/* ------------------------------------------------------------ the distributed finish */

#define CHUNK_BYTES (4u << 20) /* records handed to one exchange call */
#ifdef NDEBUG
#define SEARCH_POSTINGS ((size_t)1 << 19) /* postings a rank fetches per search round (16 MiB) */
#define ROUND_DOCS 1024                   /* own documents in the stage per weighing or search round */
#define FETCH_DOCS 512                    /* other documents a rank fetches per scoring round */
#define LOCAL_DOCS 1024                   /* own documents a rank loads per scoring round */
#define SCORE_PAIRS 65536                 /* pairs a rank scores per round */
#else /* debug builds (the ASan tests): tiny rounds, so the tests' small corpora take many */
#define SEARCH_POSTINGS ((size_t)2048)
#define ROUND_DOCS 3
#define FETCH_DOCS 4
#define LOCAL_DOCS 3
#define SCORE_PAIRS 16
#endif

/* A posting: a document that has an indexed feature, with what the
 * candidate search reads of it. */
typedef struct post_rec {
    uint64_t hash;
    uint32_t doc, lang_id;
    float weight;
    uint32_t pad;
    double norm;
} post_rec;

/* A scored pair on its home rank. */
typedef struct result_rec {
    uint32_t a, b;
    double score, logit;
    char lang_a[12], lang_b[12];
} result_rec;

/* A pair's logit for one of its documents, sent to that document's owner. */
typedef struct best_rec {
    uint32_t doc, src, idx, flags; /* flags: BEST_B (the pair's b), BEST_WANT (the home asks back) */
    double logit;
    char lang[16]; /* the other document's */
    uint32_t other; /* the other document */
    char self[12];  /* the document's own language */
} best_rec;
enum { BEST_B = 1, BEST_WANT = 2 };

/* A document's best logit in one language, sent back to a pair that may
 * link: one per language the document has candidates in (the decision
 * reads its side's in the other's language, witness.c reads them all). */
typedef struct best_reply {
    uint32_t idx, side;
    double best, back; /* back: the best partner's own best in the document's language */
    char lang[16];
    uint32_t other, pad; /* the best partner (the sibling check) */
} best_reply;

/* The sibling check (witness.c): a pair's home asks the home of (x, z) for
 * their agreement, which answers each ask. */
typedef struct agree_ask {
    uint64_t pair;
    uint32_t src, idx; /* the asking rank, its pair */
} agree_ask;
/* What pair i's decision reads: whether it is picked (nfi_links_picked;
 * false where it may not link) and, where the sibling check asked for an
 * agreement, that agreement. */
typedef struct pair_verdict {
    nfi_agreement agree;
    bool asked, picked;
} pair_verdict;
typedef struct agree_rec {
    uint64_t pair; /* the ask's idx in an answer */
    nfi_agreement a;
} agree_rec;

/* A document's best in one language on its owner, and the question to the
 * best partner's owner for that partner's best back (witness.c). */
typedef struct best_group {
    uint32_t doc, other; /* other: the partner with the best, the smallest number on a tie */
    double best, back;
    char lang[16], self[16];
} best_group;
typedef struct back_ask {
    uint32_t doc, src, key, pad; /* the partner, the asking rank, its group */
    char lang[16];               /* the asking document's language */
} back_ask;
typedef struct back_answer {
    uint32_t key, pad;
    double best;
} back_answer;

typedef struct link_rec {
    uint32_t a, b;
    double score;
} link_rec;

/* Records received, appended to an array. */
typedef struct grown {
    char *data;
    size_t n, cap, size;
} grown;

typedef struct dlinks {
    const nf_mpi *m;
    nf_links *l;           /* the stage: the documents of one round */
    nf_mpi_links *ml;      /* the pivot file */
    size_t n;              /* this rank's documents */
    uint64_t first, total; /* the first one's number in the corpus; the corpus's documents */
    const uint64_t *start; /* N + 1: each rank's first document */
    uint64_t bytes;        /* sent through the exchanges */
    char seen[NFI_LINKS_LANGS][12]; /* the corpus's language table */
    uint32_t n_seen;
    double max_df;
    FILE *weighted;        /* the rank's weighted entries (nfi_links_put_weighted), back to back */
    uint64_t *woff;        /* n + 1: where document i's begins */
    uint32_t *sdf;         /* the document frequencies of the stage's features, document by document */
    size_t n_sdf, cap_sdf;
    size_t *sdf_at;        /* per stage document, where its own begin */
    size_t cap_at;
    post_rec *posts;       /* the postings of the features this rank owns (hash mod N), by (hash, doc) */
    size_t n_posts;
    uint64_t *keys;        /* their distinct features */
    size_t *offsets, n_keys;
    grown cands;           /* candidate pairs found for this rank's documents (u64) */
    grown pairs;           /* pairs this rank is home to (u64), then */
    grown results;         /* ... their scores (result_rec) */
    grown bests;           /* ... the best logits per language of their documents (best_reply) */
    pair_verdict *verdicts; /* ... per pair, what its decision reads */
    nfi_buf *out;          /* per rank: the fetch replies */
    nfi_kv *fetched;       /* document -> its index in the stage, this scoring round */
    size_t n_fetched, cap_fetched;
} dlinks;

static nf_status grow_sink(void *ctx, const void *recs, size_t n, nf_error *err)
{
    grown *g = ctx;
    char *d = nfi_grow_array(g->data, &g->cap, g->n + n, g->size);
    if (!d)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    g->data = d;
    memcpy(d + g->n * g->size, recs, n * g->size);
    g->n += n;
    return NF_OK;
}

static nf_status grow_push(grown *g, const void *rec, nf_error *err) { return grow_sink(g, rec, 1, err); }

/* Records of an array with their destinations, handed out a chunk at a time. */
typedef struct array_gen {
    const char *recs;
    const uint32_t *dest;
    size_t size, n, next;
} array_gen;

static nf_status array_gen_fn(void *ctx, char *out, uint32_t *dest, size_t max, size_t *n, nf_error *err)
{
    (void)err;
    array_gen *g = ctx;
    size_t k = g->n - g->next < max ? g->n - g->next : max;
    *n = k;
    if (!k) /* recs may be NULL */
        return NF_OK;
    memcpy(out, g->recs + g->next * g->size, k * g->size);
    memcpy(dest, g->dest + g->next, k * sizeof *dest);
    g->next += k;
    return NF_OK;
}

/* Collective: n records (of size bytes) to their destinations. */
static nf_status send_array(dlinks *x, const void *recs, const uint32_t *dest, size_t size, size_t n,
                            nfi_mpi_sink sink, void *sctx, nf_error *err)
{
    array_gen g = {recs, dest, size, n, 0};
    return nfi_mpi_exchange_all(x->m, size, CHUNK_BYTES, array_gen_fn, &g, sink, sctx, &x->bytes, err);
}

static uint32_t owner_of(const dlinks *x, uint64_t doc)
{
    return nfi_mpi_owner(x->start, x->m->size, doc);
}

static bool is_local(const dlinks *x, uint64_t doc) { return doc >= x->first && doc - x->first < x->n; }

static uint32_t hash_owner(const dlinks *x, uint64_t hash) { return (uint32_t)(hash % (uint64_t)x->m->size); }

/* The rank a pair goes to (nfi_mpi_pair_home, as dedup's pairs): it holds
 * one of the two documents and fetches the other. */
static uint32_t pair_home(const dlinks *x, uint64_t pair) { return owner_of(x, nfi_mpi_pair_home(pair)); }

static nfi_links_view view_of(const dlinks *x, size_t i)
{
    nfi_links_view v;
    nfi_links_get_view(x->l, i, &v);
    return v;
}

static int cmp_lang_rec(const void *p, const void *q)
{
    const lang_rec *a = p, *b = q;
    if (a->first != b->first)
        return a->first < b->first ? -1 : 1;
    return strcmp(a->lang, b->lang);
}

/* 1. Language numbers: each rank's languages with their first document,
 * gathered by every rank; in the order of first documents, they are the
 * single process's table. */
static nf_status number_languages(dlinks *x, nf_error *err)
{
    size_t n_mine = x->ml->n_langs;
    lang_rec *mine = malloc((n_mine ? n_mine : 1) * sizeof *mine), *all = NULL;
    nf_status st = mine ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t k = 0; mine && k < n_mine; k++) {
        mine[k] = x->ml->langs[k];
        mine[k].first += x->first;
    }
    int N = x->m->size, count = mine ? (int)(n_mine * sizeof *mine) : 0;
    int *counts = calloc((size_t)N, sizeof *counts), *displs = calloc((size_t)N, sizeof *displs);
    MPI_Request req;
    MPI_Iallgather(&count, 1, MPI_INT, counts, 1, MPI_INT, MPI_COMM_WORLD, &req); /* NULLs: abort follows */
    nfi_mpi_wait(&req);
    size_t total = 0;
    for (int r = 0; counts && displs && r < N; r++)
        displs[r] = (int)total, total += (size_t)counts[r];
    all = malloc(total ? total : 1);
    if (st == NF_OK && (!counts || !displs || !all))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (st == NF_OK) {
        MPI_Iallgatherv(mine, count, MPI_BYTE, all, counts, displs, MPI_BYTE, MPI_COMM_WORLD, &req);
        nfi_mpi_wait(&req);
        size_t n_all = total / sizeof *all;
        qsort(all, n_all, sizeof *all, cmp_lang_rec);
        for (size_t k = 0; k < n_all && x->n_seen < NFI_LINKS_LANGS; k++) {
            uint32_t j = 0;
            while (j < x->n_seen && strcmp(x->seen[j], all[k].lang) != 0)
                j++;
            if (j == x->n_seen)
                memcpy(x->seen[x->n_seen++], all[k].lang, sizeof x->seen[0]);
        }
    }
    free(mine), free(all), free(counts), free(displs);
    return st;
}

/* 2. Document frequencies: each rank counts its distinct features (hash,
 * rank << 32 | count), the owner of a hash (hash mod N) sums them and
 * sends the sum back to every rank that counted it. */
static nf_status df_reply(dlinks *x, grown *got, grown *back, nf_error *err)
{
    nfi_kv *v = (nfi_kv *)got->data;
    if (got->n) /* (data may be NULL) */
        nfi_kv_sort(v, got->n);
    uint32_t *dest = malloc((got->n ? got->n : 1) * sizeof *dest);
    if (!dest)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < got->n;) {
        size_t j = i;
        uint64_t df = 0;
        for (; j < got->n && v[j].key == v[i].key; j++)
            df += (uint32_t)v[j].val;
        for (size_t e = i; e < j; e++) { /* in place: the replies */
            dest[e] = (uint32_t)(v[e].val >> 32);
            v[e].val = df;
        }
        i = j;
    }
    nf_status st = send_array(x, v, dest, sizeof *v, got->n, grow_sink, back, err);
    free(dest);
    return st;
}

/* The rank's distinct features with their counts (noted as the batches
 * were pivoted), sorted, each with its owner. */
static nf_status local_counts(dlinks *x, nfi_kv **counts, uint32_t **dest, size_t *n, nf_error *err)
{
    const nf_mpi_links *ml = x->ml;
    uint64_t rank = (uint64_t)x->m->rank << 32;
    *n = 0;
    *counts = malloc((ml->counts.count + 3) * sizeof **counts);
    *dest = malloc((ml->counts.count + 3) * sizeof **dest);
    if (!*counts || !*dest)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (uint64_t h = 0; h < 2; h++)
        if (ml->low_counts[h])
            (*counts)[(*n)++] = (nfi_kv){h, rank | ml->low_counts[h]};
    for (size_t k = 0; k < ml->counts.cap; k++)
        if (nfi_hmap_key_at(&ml->counts, k)) /* (hashes 0 and 1 are kept apart: the map's key 1 is its 1) */
            (*counts)[(*n)++] = (nfi_kv){nfi_hmap_key_at(&ml->counts, k), rank | nfi_hmap_val_at(&ml->counts, k)};
    nfi_kv_sort(*counts, *n);
    for (size_t k = 0; k < *n; k++)
        (*dest)[k] = hash_owner(x, (*counts)[k].key);
    return NF_OK;
}

static nf_status document_frequencies(dlinks *x, nf_error *err)
{
    nfi_kv *counts = NULL;
    uint32_t *dest = NULL;
    size_t n_uniq = 0;
    grown got = {NULL, 0, 0, sizeof(nfi_kv)}, back = {NULL, 0, 0, sizeof(nfi_kv)};
    nf_status st = local_counts(x, &counts, &dest, &n_uniq, err);
    /* collective from here: a rank that failed above aborts the job */
    if (st == NF_OK)
        st = send_array(x, counts, dest, sizeof *counts, n_uniq, grow_sink, &got, err);
    if (st == NF_OK)
        st = df_reply(x, &got, &back, err);
    free(got.data), free(dest);
    nfi_kv *b = (nfi_kv *)back.data;
    if (st == NF_OK && back.n)
        nfi_kv_sort(b, back.n);
    if (st == NF_OK && back.n != n_uniq)
        st = nfi_fail(err, NF_ERR_PARSE, "MPI: %zu document frequencies for %zu features", back.n, n_uniq);
    for (size_t k = 0; st == NF_OK && k < n_uniq; k++) { /* each count becomes the sum */
        uint64_t h = b[k].key, *slot = h < 2 ? &x->ml->low_counts[h] : nfi_hmap_get(&x->ml->counts, h);
        if (b[k].key != counts[k].key || !slot)
            st = nfi_fail(err, NF_ERR_PARSE, "MPI: a document frequency for another feature");
        else
            *slot = b[k].val;
    }
    free(counts), free(back.data);
    x->max_df = nfi_links_max_df((size_t)x->total);
    return st;
}

/* The document frequency of one of the rank's features. */
static uint32_t df_of(const dlinks *x, uint64_t hash)
{
    const uint64_t *v = hash < 2 ? &x->ml->low_counts[hash] : nfi_hmap_get(&x->ml->counts, hash);
    return v ? (uint32_t)*v : 0;
}

static bool indexed(const dlinks *x, uint32_t df) { return df >= 2 && df <= x->max_df; }

/* Reads len bytes at off of f into b (replacing what it held). */
static nf_status read_record(FILE *f, uint64_t off, uint64_t len, nfi_buf *b, nf_error *err)
{
    b->len = 0;
    if (!nfi_buf_reserve(b, (size_t)len))
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (pread(fileno(f), b->data, (size_t)len, (off_t)off) != (ssize_t)len)
        return nfi_fail(err, NF_ERR_IO, "cannot read back a temporary file of links");
    b->len = (size_t)len;
    return NF_OK;
}

/* Notes the document frequencies of the stage's last document (x->sdf),
 * looked up once per feature. */
static nf_status note_dfs(dlinks *x, nf_error *err)
{
    size_t i = nfi_links_size(x->l) - 1;
    const nf_pivot *p = view_of(x, i).pivot;
    uint32_t *d = nfi_grow_array(x->sdf, &x->cap_sdf, x->n_sdf + p->n_features, sizeof *d);
    size_t *at = nfi_grow_array(x->sdf_at, &x->cap_at, i + 2, sizeof *at);
    if (d)
        x->sdf = d;
    if (at)
        x->sdf_at = at;
    if (!d || !at)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    at[i] = x->n_sdf;
    for (size_t f = 0; f < p->n_features; f++)
        d[x->n_sdf++] = df_of(x, p->features[f].hash);
    at[i + 1] = x->n_sdf;
    return NF_OK;
}

/* Keeps the stage's first n documents. */
static void stage_keep(dlinks *x, size_t n)
{
    nfi_links_truncate(x->l, n);
    x->n_sdf = n ? x->sdf_at[n] : 0;
}

/* Appends the rank's document i to the stage: its pivot (from the pivot
 * file, before the weights) or its weighted entry; dfs: note its document
 * frequencies. */
static nf_status load_doc(dlinks *x, size_t i, bool weighted, bool dfs, nf_error *err)
{
    FILE *f = weighted ? x->weighted : x->ml->pivot_file;
    const uint64_t *off = weighted ? x->woff : x->ml->pivot_off;
    nfi_buf *b = &x->ml->rec;
    size_t pos = 0;
    nf_status st = read_record(f, off[i], off[i + 1] - off[i], b, err);
    if (st == NF_OK)
        st = weighted ? nfi_links_append_weighted(x->l, b->data, b->len, &pos, err)
                      : nfi_links_append_pivot(x->l, b->data, b->len, &pos, err);
    if (st == NF_OK && pos != b->len)
        st = nfi_fail(err, NF_ERR_PARSE, "MPI: a malformed record in a temporary file of links");
    return st == NF_OK && dfs ? note_dfs(x, err) : st;
}

/* Weighs the rank's documents [from, to): loads their pivots into the
 * stage, numbers their languages, weighs them with the corpus's document
 * frequencies (nfi_links_weigh) and appends their weighted entries to the
 * weighted file; they stay in the stage. */
static nf_status weigh_chunk(dlinks *x, size_t from, size_t to, nf_error *err)
{
    stage_keep(x, 0);
    nf_status st = NF_OK;
    for (size_t i = from; i < to && st == NF_OK; i++)
        st = load_doc(x, i, false, true, err);
    if (st != NF_OK)
        return st;
    nfi_links_set_lang_ids(x->l, (const char(*)[12])x->seen, x->n_seen);
    st = nfi_links_weigh(x->l, (size_t)x->total, x->sdf, err); /* every feature of the stage, in order */
    nfi_buf *b = &x->ml->rec;
    for (size_t i = from; i < to && st == NF_OK; i++) {
        b->len = 0;
        nfi_links_put_weighted(x->l, i - from, b);
        if (b->oom)
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        else if (fwrite(b->data, 1, b->len, x->weighted) != b->len)
            st = nfi_fail(err, NF_ERR_IO, "cannot write the temporary file of pivots (disk full?)");
        x->woff[i + 1] = x->woff[i] + b->len;
    }
    return st;
}

/* 3. Postings: every indexed feature of every document goes to the
 * feature's owner, which keeps them by (hash, document). The documents are
 * weighed as their postings are made, ROUND_DOCS at a time. */
typedef struct post_gen {
    dlinks *x;
    size_t doc, feature;         /* the next posting's document and feature */
    size_t chunk_from, chunk_to; /* the documents in the stage */
} post_gen;

static nf_status post_gen_fn(void *ctx, char *out, uint32_t *dest, size_t max, size_t *n, nf_error *err)
{
    post_gen *g = ctx;
    dlinks *x = g->x;
    post_rec *r = (post_rec *)out;
    *n = 0;
    for (; g->doc < x->n; g->doc++, g->feature = 0) {
        if (g->doc == g->chunk_to) {
            g->chunk_from = g->doc;
            g->chunk_to = x->n - g->doc > ROUND_DOCS ? g->doc + ROUND_DOCS : x->n;
            nf_status st = weigh_chunk(x, g->chunk_from, g->chunk_to, err);
            if (st != NF_OK)
                return st;
        }
        nfi_links_view v = view_of(x, g->doc - g->chunk_from);
        const uint32_t *df = x->sdf + x->sdf_at[g->doc - g->chunk_from];
        for (; g->feature < v.pivot->n_features; g->feature++) {
            uint64_t hash = v.pivot->features[g->feature].hash;
            if (!indexed(x, df[g->feature]))
                continue;
            if (*n == max)
                return NF_OK;
            r[*n] = (post_rec){hash, (uint32_t)(x->first + g->doc), v.lang_id, v.weights[g->feature], 0, v.norm};
            dest[(*n)++] = hash_owner(x, hash);
        }
    }
    return NF_OK;
}

/* Sorts postings by (hash, document): a radix sort of (hash, document
 * << 32 | index), then the records moved into that order. */
static nf_status sort_posts(post_rec **p, size_t n, nf_error *err)
{
    nfi_kv *kv = malloc((n ? n : 1) * sizeof *kv);
    post_rec *out = malloc((n ? n : 1) * sizeof *out);
    if (!kv || !out)
        return free(kv), free(out), nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        kv[i] = (nfi_kv){(*p)[i].hash, (uint64_t)(*p)[i].doc << 32 | (uint32_t)i};
    nfi_kv_sort(kv, n);
    for (size_t i = 0; i < n; i++)
        out[i] = (*p)[(uint32_t)kv[i].val];
    free(kv);
    free(*p);
    *p = out;
    return NF_OK;
}

/* The distinct hashes of n sorted postings and where each one's begin. */
static nf_status key_index(const post_rec *p, size_t n, uint64_t **keys, size_t **offsets, size_t *n_keys,
                           nf_error *err)
{
    *n_keys = 0;
    *keys = malloc((n ? n : 1) * sizeof **keys);
    *offsets = malloc((n + 1) * sizeof **offsets);
    if (!*keys || !*offsets)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t e = 0; e < n; e++)
        if (!e || p[e].hash != p[e - 1].hash) {
            (*keys)[*n_keys] = p[e].hash;
            (*offsets)[(*n_keys)++] = e;
        }
    (*offsets)[*n_keys] = n;
    return NF_OK;
}

static nf_status spread_postings(dlinks *x, nf_error *err)
{
    grown got = {NULL, 0, 0, sizeof(post_rec)};
    post_gen g = {x, 0, 0, 0, 0};
    x->woff = calloc(x->n + 1, sizeof *x->woff);
    x->weighted = nfi_temp_file(x->ml->g.tmp_dir, "newsfold-weighted");
    nf_status st = !x->woff ? nfi_fail(err, NF_ERR_NOMEM, "out of memory")
                   : !x->weighted ? nfi_fail(err, NF_ERR_IO, "cannot create a temporary file in %s",
                                            x->ml->g.tmp_dir ? x->ml->g.tmp_dir : "$TMPDIR")
                                  : NF_OK;
    if (st == NF_OK) /* collective: a rank that failed above aborts the job */
        st = nfi_mpi_exchange_all(x->m, sizeof(post_rec), CHUNK_BYTES, post_gen_fn, &g, grow_sink, &got,
                                  &x->bytes, err);
    stage_keep(x, 0);
    if (st == NF_OK && fflush(x->weighted) != 0)
        st = nfi_fail(err, NF_ERR_IO, "cannot write the temporary file of pivots (disk full?)");
    if (x->ml->pivot_file) /* every pivot is in the weighted file now */
        fclose(x->ml->pivot_file);
    x->ml->pivot_file = NULL;
    x->posts = (post_rec *)got.data;
    x->n_posts = got.n;
    if (st == NF_OK && x->n_posts > UINT32_MAX)
        st = nfi_fail(err, NF_ERR_NOMEM, "MPI: more than 2^32 postings on one rank");
    if (st == NF_OK)
        st = sort_posts(&x->posts, x->n_posts, err);
    return st == NF_OK ? key_index(x->posts, x->n_posts, &x->keys, &x->offsets, &x->n_keys, err) : st;
}

/* 4. The candidate search, in rounds of this rank's documents: the
 * postings of their indexed features are fetched from the owners (about
 * SEARCH_POSTINGS a round), and links.c searches them as nf_links_finish
 * does (nfi_links_search), documents numbered in the corpus's order. */
typedef struct search_round {
    dlinks *x;
    grown reply;  /* owner: postings asked for (post_rec) */
    grown rdest;  /* ... and where they go (u32) */
    grown got;    /* asker: postings received */
} search_round;

static nf_status request_postings(void *ctx, const void *recs, size_t n, nf_error *err)
{
    search_round *r = ctx;
    const nfi_kv *q = recs;
    nf_status st = NF_OK;
    for (size_t i = 0; i < n && st == NF_OK; i++) {
        size_t k = nfi_hash_lower_bound(r->x->keys, r->x->n_keys, q[i].key);
        if (k == r->x->n_keys || r->x->keys[k] != q[i].key)
            return nfi_fail(err, NF_ERR_PARSE, "MPI: postings asked of the wrong rank");
        size_t from = r->x->offsets[k], to = r->x->offsets[k + 1];
        st = grow_sink(&r->reply, r->x->posts + from, to - from, err);
        for (size_t e = from; e < to && st == NF_OK; e++) {
            uint32_t d = (uint32_t)q[i].val;
            st = grow_push(&r->rdest, &d, err);
        }
    }
    return st;
}

/* The postings the stage's document i adds to a round whose features are
 * in seen; insert: note its features, and those new to the round in q
 * (u64; hashes 0 and 1, which the map cannot tell apart, every time). */
static size_t postings_of(const dlinks *x, size_t i, nfi_hmap *seen, grown *q, bool *oom)
{
    size_t n = 0;
    const nf_pivot *p = view_of(x, i).pivot;
    for (size_t f = 0; f < p->n_features; f++) {
        uint32_t df = x->sdf[x->sdf_at[i] + f];
        uint64_t h = p->features[f].hash;
        if (!indexed(x, df))
            continue;
        bool created = false;
        if (!q)
            created = !nfi_hmap_get(seen, h);
        else if (!nfi_hmap_put(seen, h, &created) || ((created || h < 2) && grow_push(q, &h, NULL) != NF_OK))
            *oom = true;
        n += created ? df : 0;
    }
    return n;
}

/* The numbers of the round's space: its documents and every posting's,
 * sorted and unique. */
static nf_status space_docs(const dlinks *x, size_t from, size_t to, const post_rec *p, size_t n,
                            uint64_t **docs, size_t *n_docs, nf_error *err)
{
    size_t all = n + (to - from);
    uint64_t *d = malloc((all ? all : 1) * sizeof *d), *scratch = malloc((all ? all : 1) * sizeof *d);
    if (!d || !scratch)
        return free(d), free(scratch), nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t e = 0; e < n; e++)
        d[e] = p[e].doc;
    for (size_t i = from; i < to; i++)
        d[n + i - from] = x->first + i;
    nfi_u64_sort(d, all, scratch);
    free(scratch);
    size_t w = 0;
    for (size_t e = 0; e < all; e++)
        if (!w || d[w - 1] != d[e])
            d[w++] = d[e];
    *docs = d;
    *n_docs = w;
    return NF_OK;
}

/* A round's space: the documents numbered in corpus order, the postings
 * by feature (nfi_links_space's arrays). */
typedef struct round_space {
    uint64_t *docs, *keys;
    size_t n_docs, *offsets, n_keys, *local;
    double *norms;
    nfi_links_hit *hits;
} round_space;

static void round_space_free(round_space *r)
{
    free(r->docs), free(r->keys), free(r->offsets), free(r->local), free(r->norms), free(r->hits);
}

static nf_status space_of(dlinks *x, size_t from, size_t to, const post_rec *p, size_t n, round_space *r,
                          nf_error *err)
{
    nf_status st = space_docs(x, from, to, p, n, &r->docs, &r->n_docs, err);
    r->local = malloc((r->n_docs ? r->n_docs : 1) * sizeof *r->local);
    r->norms = calloc(r->n_docs ? r->n_docs : 1, sizeof *r->norms);
    r->hits = malloc((n ? n : 1) * sizeof *r->hits);
    if (st == NF_OK && (!r->local || !r->norms || !r->hits))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (st == NF_OK)
        st = key_index(p, n, &r->keys, &r->offsets, &r->n_keys, err);
    nfi_hmap number; /* document + 1 -> its number */
    nfi_hmap_init(&number);
    for (size_t k = 0; st == NF_OK && k < r->n_docs; k++) {
        uint64_t *v = nfi_hmap_put(&number, r->docs[k] + 1, NULL);
        if (!v)
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        else
            *v = k;
    }
    for (size_t e = 0; st == NF_OK && e < n; e++) {
        size_t k = (size_t)*nfi_hmap_get(&number, (uint64_t)p[e].doc + 1);
        r->hits[e] = (nfi_links_hit){(uint32_t)k, p[e].lang_id, p[e].weight};
        r->norms[k] = p[e].norm;
    }
    nfi_hmap_free(&number);
    return st;
}

/* The search of the round's documents [from, to) (at most ROUND_DOCS,
 * loaded into the stage) over the round's space: the engine's, for them. */
static nf_status search_batch(dlinks *x, size_t from, size_t to, round_space *r, nf_error *err)
{
    uint64_t *pairs = NULL;
    size_t n_pairs = 0;
    stage_keep(x, 0);
    nf_status st = NF_OK;
    for (size_t i = from; i < to && st == NF_OK; i++)
        st = load_doc(x, i, true, false, err);
    for (size_t k = 0; st == NF_OK && k < r->n_docs; k++) { /* the batch's documents: the stage's */
        uint64_t d = r->docs[k];
        r->local[k] = is_local(x, d) && d - x->first >= from && d - x->first < to ? (size_t)(d - x->first - from)
                                                                                  : SIZE_MAX;
        if (r->local[k] != SIZE_MAX)
            r->norms[k] = view_of(x, r->local[k]).norm;
    }
    nfi_links_space sp = {r->n_docs, r->local, r->norms, r->keys, r->offsets, r->hits, r->n_keys};
    if (st == NF_OK)
        st = nfi_links_search(x->l, &sp, &pairs, &n_pairs, err);
    for (size_t i = 0; st == NF_OK && i < n_pairs; i++) { /* numbers to documents: the order is kept */
        uint64_t pair = r->docs[pairs[i] >> 32] << 32 | r->docs[(uint32_t)pairs[i]];
        st = grow_push(&x->cands, &pair, err);
    }
    free(pairs);
    stage_keep(x, 0);
    return st;
}

/* A round of the rank's documents [from, to) whose distinct indexed
 * features are q: their postings are fetched from the owners, then the
 * documents are searched ROUND_DOCS at a time over them. */
static nf_status search_round_run(dlinks *x, size_t from, size_t to, grown *feats, nf_error *err)
{
    search_round r = {x, {NULL, 0, 0, sizeof(post_rec)}, {NULL, 0, 0, sizeof(uint32_t)},
                      {NULL, 0, 0, sizeof(post_rec)}};
    uint64_t *h = (uint64_t *)feats->data, *scratch = malloc((feats->n ? feats->n : 1) * sizeof *h);
    nfi_kv *q = malloc((feats->n ? feats->n : 1) * sizeof *q);
    uint32_t *dest = malloc((feats->n ? feats->n : 1) * sizeof *dest);
    size_t n_q = 0;
    nf_status st = q && scratch && dest ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (st == NF_OK && feats->n)
        nfi_u64_sort(h, feats->n, scratch);
    for (size_t e = 0; st == NF_OK && e < feats->n; e++)
        if (!e || h[e] != h[e - 1]) {
            q[n_q] = (nfi_kv){h[e], (uint64_t)x->m->rank};
            dest[n_q++] = hash_owner(x, h[e]);
        }
    free(scratch);
    if (st == NF_OK) /* collective: a rank that failed above aborts the job */
        st = send_array(x, q, dest, sizeof *q, n_q, request_postings, &r, err);
    free(q), free(dest);
    if (st == NF_OK)
        st = send_array(x, r.reply.data, (const uint32_t *)r.rdest.data, sizeof(post_rec), r.reply.n, grow_sink,
                        &r.got, err);
    free(r.reply.data), free(r.rdest.data);
    if (st == NF_OK)
        st = sort_posts((post_rec **)&r.got.data, r.got.n, err);
    round_space sp = {0};
    if (st == NF_OK)
        st = space_of(x, from, to, (post_rec *)r.got.data, r.got.n, &sp, err);
    free(r.got.data);
    for (size_t b = from; st == NF_OK && b < to; b += ROUND_DOCS)
        st = search_batch(x, b, to - b > ROUND_DOCS ? b + ROUND_DOCS : to, &sp, err);
    round_space_free(&sp);
    return st;
}

/* The rounds: each takes the rank's next documents while their postings
 * (each distinct feature once) fit the budget; a document is loaded (its
 * weighted entry) once to plan the round and again to be searched. */
static nf_status search_all(dlinks *x, nf_error *err)
{
    size_t next = 0;
    nfi_hmap seen; /* the round's distinct features: each is fetched once */
    nfi_hmap_init(&seen);
    grown feats = {NULL, 0, 0, 8};
    nf_status st = NF_OK;
    bool oom = false;
    while (st == NF_OK) {
        size_t from = next, to = next, budget = 0;
        nfi_hmap_clear(&seen);
        feats.n = 0;
        for (; to < x->n && !oom; to++) {
            stage_keep(x, 0);
            if ((st = load_doc(x, to, true, true, err)) != NF_OK)
                break;
            size_t need = postings_of(x, 0, &seen, NULL, &oom);
            if (to > from && budget + need > SEARCH_POSTINGS)
                break;
            budget += postings_of(x, 0, &seen, &feats, &oom);
        }
        stage_keep(x, 0);
        if (st == NF_OK && oom) /* the others wait in the collective: the caller aborts the job */
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        if (st != NF_OK || !nfi_mpi_any(from < x->n))
            break;
        st = search_round_run(x, from, to, &feats, err);
        next = to;
    }
    nfi_hmap_free(&seen);
    free(feats.data);
    return st;
}

/* 5. Pairs: each candidate pair goes to its home, which keeps it once. */
static nf_status gather_pairs(dlinks *x, nf_error *err)
{
    const uint64_t *c = (const uint64_t *)x->cands.data;
    uint32_t *dest = malloc((x->cands.n ? x->cands.n : 1) * sizeof *dest);
    if (!dest)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < x->cands.n; i++)
        dest[i] = pair_home(x, c[i]);
    nf_status st = send_array(x, c, dest, 8, x->cands.n, grow_sink, &x->pairs, err);
    free(dest);
    free(x->cands.data);
    x->cands = (grown){NULL, 0, 0, 8};
    uint64_t *p = (uint64_t *)x->pairs.data, *scratch = malloc((x->pairs.n ? x->pairs.n : 1) * 8);
    if (st == NF_OK && !scratch)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (st == NF_OK) {
        if (x->pairs.n)
            nfi_u64_sort(p, x->pairs.n, scratch);
        size_t w = 0;
        for (size_t i = 0; i < x->pairs.n; i++)
            if (!w || p[w - 1] != p[i])
                p[w++] = p[i];
        x->pairs.n = w;
    }
    free(scratch);
    return st;
}

/* 6. Scoring, in rounds of pairs: the other document of each pair (its
 * pivot, weights and norms: nfi_links_put_weighted) is fetched from its
 * owner into the stage after this rank's documents, the pairs are scored
 * by links.c (nfi_links_score) and the fetched documents dropped. */
typedef struct fetch_head {
    uint64_t len, doc;
} fetch_head;

static nf_status fetch_request(void *ctx, const void *recs, size_t n, nf_error *err)
{
    dlinks *x = ctx;
    const nfi_kv *q = recs;
    for (size_t i = 0; i < n; i++) {
        if (!is_local(x, q[i].key) || q[i].val >= (uint64_t)x->m->size)
            return nfi_fail(err, NF_ERR_PARSE, "MPI: a document asked of the wrong rank");
        nfi_buf *b = &x->out[q[i].val]; /* the weighted entry as the file holds it */
        size_t d = (size_t)(q[i].key - x->first), len = (size_t)(x->woff[d + 1] - x->woff[d]);
        fetch_head h = {sizeof h + len, q[i].key};
        if (!nfi_buf_reserve(b, sizeof h + len))
            return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        nfi_buf_append(b, &h, sizeof h);
        if (pread(fileno(x->weighted), b->data + b->len, len, (off_t)x->woff[d]) != (ssize_t)len)
            return nfi_fail(err, NF_ERR_IO, "cannot read back a temporary file of links");
        b->len += len;
    }
    return NF_OK;
}

/* The stage's last document is doc. */
static nf_status note_fetched(dlinks *x, uint64_t doc, nf_error *err)
{
    nfi_kv *f = nfi_grow_array(x->fetched, &x->cap_fetched, x->n_fetched + 1, sizeof *f);
    if (!f)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    x->fetched = f;
    f[x->n_fetched++] = (nfi_kv){doc, nfi_links_size(x->l) - 1};
    return NF_OK;
}

static nf_status fetch_reply(void *ctx, const char *recs, size_t len, nf_error *err)
{
    dlinks *x = ctx;
    for (size_t at = 0; at < len;) {
        fetch_head h;
        if (len - at < sizeof h)
            return nfi_fail(err, NF_ERR_PARSE, "MPI: truncated document");
        memcpy(&h, recs + at, sizeof h);
        size_t pos = at + sizeof h;
        if (h.len < sizeof h || h.len > len - at)
            return nfi_fail(err, NF_ERR_PARSE, "MPI: truncated document");
        nf_status st = nfi_links_append_weighted(x->l, recs, at + h.len, &pos, err);
        if (st != NF_OK)
            return st;
        if (pos != at + h.len)
            return nfi_fail(err, NF_ERR_PARSE, "MPI: malformed document");
        st = note_fetched(x, h.doc, err);
        if (st != NF_OK)
            return st;
        at += h.len;
    }
    return NF_OK;
}

/* The stage's index of document doc, loaded or fetched this round. */
static size_t stage_index(const dlinks *x, uint64_t doc)
{
    size_t lo = 0, hi = x->n_fetched;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (x->fetched[mid].key < doc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < x->n_fetched && x->fetched[lo].key == doc ? (size_t)x->fetched[lo].val : SIZE_MAX;
}

/* The distinct documents of n pairs, the rank's own (local) or the
 * others', sorted. */
static nf_status pair_docs(const dlinks *x, const uint64_t *pairs, size_t n, bool local, uint64_t **out,
                           size_t *n_out, nf_error *err)
{
    uint64_t *docs = malloc((2 * n + 1) * sizeof *docs), *scratch = malloc((2 * n + 1) * sizeof *docs);
    *out = docs, *n_out = 0;
    if (!docs || !scratch)
        return free(scratch), nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = pairs[i] >> 32, b = (uint32_t)pairs[i];
        if (is_local(x, a) == local)
            docs[k++] = a;
        if (is_local(x, b) == local)
            docs[k++] = b;
    }
    nfi_u64_sort(docs, k, scratch);
    free(scratch);
    for (size_t i = 0; i < k; i++)
        if (!i || docs[i] != docs[i - 1])
            docs[(*n_out)++] = docs[i];
    return NF_OK;
}

/* The round's documents into the stage: the rank's own from the weighted
 * file, the others' fetched from their owners (collective). */
static nf_status stage_docs(dlinks *x, const uint64_t *pairs, size_t n, nf_error *err)
{
    uint64_t *docs = NULL;
    size_t n_docs = 0;
    x->n_fetched = 0;
    nfi_links_truncate(x->l, 0);
    nf_status st = pair_docs(x, pairs, n, true, &docs, &n_docs, err);
    for (size_t i = 0; st == NF_OK && i < n_docs; i++) {
        st = load_doc(x, (size_t)(docs[i] - x->first), true, false, err);
        if (st == NF_OK)
            st = note_fetched(x, docs[i], err);
    }
    free(docs), docs = NULL;
    if (st == NF_OK)
        st = pair_docs(x, pairs, n, false, &docs, &n_docs, err);
    nfi_kv *q = malloc((n_docs + 1) * sizeof *q);
    uint32_t *dest = malloc((n_docs + 1) * sizeof *dest);
    if (st == NF_OK && (!q || !dest))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == NF_OK && i < n_docs; i++) {
        q[i] = (nfi_kv){docs[i], (uint64_t)x->m->rank};
        dest[i] = owner_of(x, docs[i]);
    }
    free(docs);
    for (int r = 0; r < x->m->size; r++)
        x->out[r].len = 0;
    if (st == NF_OK)
        st = send_array(x, q, dest, sizeof *q, n_docs, fetch_request, x, err);
    free(q), free(dest);
    if (st == NF_OK)
        st = nfi_mpi_exchange_records(x->m, x->out, fetch_reply, x, &x->bytes, err);
    if (st == NF_OK && x->n_fetched)
        nfi_kv_sort(x->fetched, x->n_fetched);
    return st;
}

/* Scores the n pairs of all[] listed in order[] into x->results or, with
 * agreed, measures their agreement into it (agree_rec). */
static nf_status score_round(dlinks *x, const uint64_t *all, const nfi_kv *order, size_t n, grown *agreed,
                             nf_error *err)
{
    uint64_t *pairs = malloc((n ? n : 1) * sizeof *pairs), *lp = malloc((n ? n : 1) * sizeof *lp);
    nfi_scored_pair *sc = malloc((n ? n : 1) * sizeof *sc);
    nf_status st = pairs && lp && sc ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == NF_OK && i < n; i++)
        pairs[i] = all[order[i].val];
    if (st == NF_OK) /* collective: a rank that failed above aborts the job */
        st = stage_docs(x, pairs, n, err);
    for (size_t i = 0; st == NF_OK && i < n; i++) {
        size_t la = stage_index(x, pairs[i] >> 32), lb = stage_index(x, (uint32_t)pairs[i]);
        if (la == SIZE_MAX || lb == SIZE_MAX)
            st = nfi_fail(err, NF_ERR_PARSE, "MPI: a document of a pair was not sent");
        lp[i] = (uint64_t)la << 32 | lb;
    }
    nfi_agree_scratch *scratch = NULL;
    for (size_t i = 0; agreed && st == NF_OK && i < n; i++) {
        agree_rec r = {pairs[i], {0, 0}};
        st = nfi_links_agreement(x->l, (size_t)(lp[i] >> 32), (size_t)(uint32_t)lp[i], &scratch, &r.a, err);
        if (st == NF_OK)
            st = grow_push(agreed, &r, err);
    }
    nfi_agree_scratch_free(scratch);
    if (st == NF_OK && !agreed)
        st = nfi_links_score(x->l, lp, n, sc, err);
    for (size_t i = 0; !agreed && st == NF_OK && i < n; i++) {
        result_rec r = {(uint32_t)(pairs[i] >> 32), (uint32_t)pairs[i], sc[i].score, sc[i].logit, "", ""};
        memcpy(r.lang_a, view_of(x, sc[i].a).lang, sizeof r.lang_a);
        memcpy(r.lang_b, view_of(x, sc[i].b).lang, sizeof r.lang_b);
        st = grow_push(&x->results, &r, err);
    }
    free(pairs), free(lp), free(sc);
    nfi_links_truncate(x->l, 0);
    return st;
}

/* How many of pair's own documents are not in the round yet (locals:
 * document + 1); insert: add them. */
static size_t new_locals(const dlinks *x, uint64_t pair, nfi_hmap *locals, bool insert, bool *oom)
{
    uint64_t doc[2] = {pair >> 32, (uint32_t)pair};
    size_t n = 0;
    for (int k = 0; k < 2; k++) {
        if (!is_local(x, doc[k]))
            continue;
        bool created = false;
        if (!insert)
            created = !nfi_hmap_get(locals, doc[k] + 1);
        else if (!nfi_hmap_put(locals, doc[k] + 1, &created))
            *oom = true;
        n += created;
    }
    return n;
}

/* The pairs in the order of their other document (pairs of two local
 * documents first): a round's documents are fetched once for the whole
 * finish, and rounds cut between documents; a round also loads at most
 * LOCAL_DOCS of the rank's own documents (from the weighted file, again
 * in each round that needs them). */
static nf_status score_all(dlinks *x, const grown *pairs, grown *agreed, nf_error *err)
{
    const uint64_t *p = (const uint64_t *)pairs->data;
    size_t n_pairs = pairs->n;
    nfi_kv *order = malloc((n_pairs ? n_pairs : 1) * sizeof *order);
    if (!x->out && (x->out = calloc((size_t)x->m->size, sizeof *x->out)))
        for (int r = 0; r < x->m->size; r++)
            nfi_buf_init(&x->out[r]);
    nf_status st = order && x->out ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == NF_OK && i < n_pairs; i++) {
        uint64_t a = p[i] >> 32, b = (uint32_t)p[i];
        order[i] = (nfi_kv){!is_local(x, a) ? a + 1 : !is_local(x, b) ? b + 1 : 0, i};
    }
    if (st == NF_OK)
        nfi_kv_sort(order, n_pairs);
    size_t next = 0;
    nfi_hmap locals;
    nfi_hmap_init(&locals);
    bool oom = false;
    while (st == NF_OK) {
        size_t from = next, to = next, remote = 0;
        nfi_hmap_clear(&locals);
        while (to < n_pairs && to - from < SCORE_PAIRS && !oom) {
            bool new_doc = order[to].key && (to == from || order[to].key != order[to - 1].key);
            uint64_t pair = p[order[to].val];
            if ((new_doc && remote == FETCH_DOCS) ||
                (to > from && locals.count + new_locals(x, pair, &locals, false, &oom) > LOCAL_DOCS))
                break;
            new_locals(x, pair, &locals, true, &oom);
            remote += new_doc, to++;
        }
        if (oom) /* the others wait in the collective: the caller aborts the job */
            st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
        if (st != NF_OK || !nfi_mpi_any(from < n_pairs))
            break;
        st = score_round(x, p, order + from, to - from, agreed, err);
        next = to;
    }
    nfi_hmap_free(&locals);
    free(order);
    return st;
}

/* 7. The decision: each pair's logit goes to the owners of its two
 * documents, which take each document's best per other language (a
 * reduction by document) and send it back to the pairs that may link. */
typedef struct best_gen {
    dlinks *x;
    size_t next; /* 2 records per result */
} best_gen;

static nf_status best_gen_fn(void *ctx, char *out, uint32_t *dest, size_t max, size_t *n, nf_error *err)
{
    (void)err;
    best_gen *g = ctx;
    const result_rec *res = (const result_rec *)g->x->results.data;
    best_rec *b = (best_rec *)out;
    for (*n = 0; *n < max && g->next < 2 * g->x->results.n; (*n)++, g->next++) {
        const result_rec *r = &res[g->next / 2];
        bool side_b = g->next % 2;
        uint32_t want = nfi_links_may_link(g->x->l, r->score) ? BEST_WANT : 0;
        best_rec rec = {side_b ? r->b : r->a, (uint32_t)g->x->m->rank, (uint32_t)(g->next / 2),
                        (side_b ? BEST_B : 0) | want, r->logit, "", side_b ? r->a : r->b, ""};
        memcpy(rec.lang, side_b ? r->lang_a : r->lang_b, 12);
        memcpy(rec.self, side_b ? r->lang_b : r->lang_a, 12);
        b[*n] = rec;
        dest[*n] = owner_of(g->x, rec.doc);
    }
    return NF_OK;
}

static int cmp_best(const void *p, const void *q)
{
    const best_rec *a = p, *b = q;
    if (a->doc != b->doc)
        return a->doc < b->doc ? -1 : 1;
    return strcmp(a->lang, b->lang);
}

static nf_status best_back(void *ctx, const void *recs, size_t n, nf_error *err)
{
    dlinks *x = ctx;
    const best_reply *r = recs;
    for (size_t i = 0; i < n; i++)
        if (r[i].idx >= x->results.n)
            return nfi_fail(err, NF_ERR_PARSE, "MPI: a best logit for no pair");
    return grow_sink(&x->bests, recs, n, err);
}

/* The groups of b (sorted by cmp_best): one per document and language,
 * its best logit and the partner that has it, as note_best keeps them. */
static size_t best_groups(const best_rec *b, size_t n, best_group *out)
{
    size_t n_out = 0;
    for (size_t j = 0, e; j < n; j = e) {
        best_group g = {b[j].doc, b[j].other, b[j].logit, -INFINITY, "", ""};
        for (e = j; e < n && cmp_best(&b[e], &b[j]) == 0; e++)
            if (b[e].logit > g.best || (b[e].logit == g.best && b[e].other < g.other))
                g.best = b[e].logit, g.other = b[e].other;
        memcpy(g.lang, b[j].lang, 12), memcpy(g.self, b[j].self, 12);
        out[n_out++] = g;
    }
    return n_out;
}

static int cmp_group_key(const best_group *g, uint32_t doc, const char *lang)
{
    if (g->doc != doc)
        return g->doc < doc ? -1 : 1;
    return strncmp(g->lang, lang, 12);
}

typedef struct back_ctx {
    dlinks *x;
    best_group *groups;
    size_t n_groups;
    grown asks;
} back_ctx;

static nf_status back_set(void *ctx, const void *recs, size_t n, nf_error *err)
{
    back_ctx *c = ctx;
    const back_answer *a = recs;
    for (size_t i = 0; i < n; i++) {
        if (a[i].key >= c->n_groups)
            return nfi_fail(err, NF_ERR_PARSE, "MPI: a best logit back for no document");
        c->groups[a[i].key].back = a[i].best;
    }
    return NF_OK;
}

/* Each group's partner's best back in the group document's language, asked
 * of the partner's owner (who holds the partner's groups). */
static nf_status best_backs(back_ctx *c, nf_error *err)
{
    dlinks *x = c->x;
    back_ask *ask = malloc((c->n_groups ? c->n_groups : 1) * sizeof *ask);
    uint32_t *dest = malloc((c->n_groups ? c->n_groups : 1) * sizeof *dest);
    nf_status st = ask && dest ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == NF_OK && i < c->n_groups; i++) {
        ask[i] = (back_ask){c->groups[i].other, (uint32_t)x->m->rank, (uint32_t)i, 0, ""};
        memcpy(ask[i].lang, c->groups[i].self, 12);
        dest[i] = owner_of(x, c->groups[i].other);
    }
    if (st == NF_OK)
        st = send_array(x, ask, dest, sizeof *ask, c->n_groups, grow_sink, &c->asks, err);
    free(ask), free(dest);
    const back_ask *q = (const back_ask *)c->asks.data;
    back_answer *ans = malloc((c->asks.n ? c->asks.n : 1) * sizeof *ans);
    dest = malloc((c->asks.n ? c->asks.n : 1) * sizeof *dest);
    if (st == NF_OK && (!ans || !dest))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == NF_OK && i < c->asks.n; i++) {
        size_t lo = 0, hi = c->n_groups; /* binary search for (doc, lang) */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (cmp_group_key(&c->groups[mid], q[i].doc, q[i].lang) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        bool found = lo < c->n_groups && cmp_group_key(&c->groups[lo], q[i].doc, q[i].lang) == 0;
        ans[i] = (back_answer){q[i].key, 0, found ? c->groups[lo].best : -INFINITY};
        dest[i] = q[i].src;
    }
    if (st == NF_OK)
        st = send_array(x, ans, dest, sizeof *ans, c->asks.n, back_set, c, err);
    free(ans), free(dest);
    return st;
}

static nf_status best_logits(dlinks *x, nf_error *err)
{
    grown got = {NULL, 0, 0, sizeof(best_rec)};
    best_gen g = {x, 0};
    nf_status st = nfi_mpi_exchange_all(x->m, sizeof(best_rec), CHUNK_BYTES, best_gen_fn, &g, grow_sink, &got,
                                        &x->bytes, err);
    best_rec *b = (best_rec *)got.data;
    if (st == NF_OK && got.n)
        qsort(b, got.n, sizeof *b, cmp_best);
    back_ctx c = {x, malloc((got.n ? got.n : 1) * sizeof(best_group)), 0, {NULL, 0, 0, sizeof(back_ask)}};
    if (st == NF_OK && !c.groups)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (st == NF_OK)
        c.n_groups = best_groups(b, got.n, c.groups);
    if (st == NF_OK)
        st = best_backs(&c, err);
    size_t n_replies = 0; /* per document: (pairs that may link) x (languages) */
    for (size_t i = 0, k, gi = 0; i < got.n; i = k) {
        size_t n_langs = 0, n_want = 0;
        for (k = i; k < got.n && b[k].doc == b[i].doc; k++)
            n_want += (b[k].flags & BEST_WANT) != 0;
        for (; gi < c.n_groups && c.groups[gi].doc == b[i].doc; gi++)
            n_langs++;
        n_replies += n_want * n_langs;
    }
    best_reply *rep = malloc((n_replies ? n_replies : 1) * sizeof *rep);
    uint32_t *dest = malloc((n_replies ? n_replies : 1) * sizeof *dest);
    size_t n_rep = 0;
    if (st == NF_OK && (!rep || !dest))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0, k, gi = 0; st == NF_OK && i < got.n; i = k) {
        size_t g0 = gi;
        for (k = i; k < got.n && b[k].doc == b[i].doc;)
            k++;
        for (; gi < c.n_groups && c.groups[gi].doc == b[i].doc;)
            gi++;
        for (size_t w = i; w < k; w++) /* each language's best to each pair that may link */
            for (size_t e = g0; (b[w].flags & BEST_WANT) && e < gi; e++) {
                rep[n_rep] = (best_reply){b[w].idx, b[w].flags & BEST_B, c.groups[e].best, c.groups[e].back, "",
                                          c.groups[e].other, 0};
                memcpy(rep[n_rep].lang, c.groups[e].lang, 12);
                dest[n_rep++] = b[w].src;
            }
    }
    free(got.data), free(c.groups), free(c.asks.data);
    if (st == NF_OK)
        st = send_array(x, rep, dest, sizeof *rep, n_rep, best_back, x, err);
    free(rep), free(dest);
    return st;
}

static int cmp_reply(const void *p, const void *q)
{
    const best_reply *a = p, *b = q;
    if (a->idx != b->idx)
        return a->idx < b->idx ? -1 : 1;
    if (a->side != b->side)
        return a->side < b->side ? -1 : 1;
    return strcmp(a->lang, b->lang);
}

/* The best logits of side `side` of pair idx (replies sorted by cmp_reply,
 * *at walking forward), as witness.c reads them. */
static size_t side_bests(const grown *g, size_t *at, uint32_t idx, uint32_t side, nfi_lang_best *out)
{
    const best_reply *r = (const best_reply *)g->data;
    size_t n = 0;
    while (*at < g->n && (r[*at].idx < idx || (r[*at].idx == idx && r[*at].side < side)))
        (*at)++;
    for (; *at < g->n && r[*at].idx == idx && r[*at].side == side; (*at)++, n++) {
        out[n] = (nfi_lang_best){r[*at].other, "", r[*at].best, r[*at].back};
        memcpy(out[n].lang, r[*at].lang, 12);
    }
    return n;
}

/* The decision of pair i: threshold, best match of one side and no
 * witness in a third language against it (picked, by
 * sibling_agreements), the sibling check's agreement (asked there)
 * (nf_links_finish's is_translation). */
static bool decide(const dlinks *x, size_t i)
{
    const pair_verdict *v = &x->verdicts[i];
    return nfi_links_decide(v->picked, v->asked ? &v->agree : NULL);
}

/* The most languages of one side among the replies (sorted by cmp_reply). */
static size_t most_langs(const dlinks *x)
{
    size_t most = 1;
    for (size_t i = 0, k; i < x->bests.n; i = k) {
        const best_reply *r = (const best_reply *)x->bests.data;
        for (k = i; k < x->bests.n && r[k].idx == r[i].idx && r[k].side == r[i].side;)
            k++;
        most = k - i > most ? k - i : most;
    }
    return most;
}

static nf_status agree_answer(void *ctx, const void *recs, size_t n, nf_error *err)
{
    dlinks *x = ctx;
    const agree_rec *a = recs;
    for (size_t i = 0; i < n; i++) {
        if (a[i].pair >= x->results.n)
            return nfi_fail(err, NF_ERR_PARSE, "MPI: an agreement for no pair");
        x->verdicts[a[i].pair].asked = true, x->verdicts[a[i].pair].agree = a[i].a;
    }
    return NF_OK;
}

static int cmp_agree(const void *p, const void *q)
{
    uint64_t a = ((const agree_rec *)p)->pair, b = ((const agree_rec *)q)->pair;
    return (a > b) - (a < b);
}

/* The pair (x, z) of each ask, measured on its home (score_all's rounds),
 * answered to every rank that asked. */
static nf_status answer_asks(dlinks *x, const grown *asks, nf_error *err)
{
    const agree_ask *q = (const agree_ask *)asks->data;
    grown uniq = {malloc((asks->n ? asks->n : 1) * 8), 0, asks->n, 8}, agreed = {NULL, 0, 0, sizeof(agree_rec)};
    uint64_t *u = (uint64_t *)uniq.data, *scratch = malloc((asks->n ? asks->n : 1) * 8);
    nf_status st = u && scratch ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == NF_OK && i < asks->n; i++)
        u[i] = q[i].pair;
    if (st == NF_OK && asks->n)
        nfi_u64_sort(u, asks->n, scratch);
    for (size_t i = 0; st == NF_OK && i < asks->n; i++)
        if (!uniq.n || u[uniq.n - 1] != u[i])
            u[uniq.n++] = u[i];
    free(scratch);
    if (st == NF_OK) /* collective, like every round of score_all */
        st = score_all(x, &uniq, &agreed, err);
    agree_rec *a = (agree_rec *)agreed.data, *ans = malloc((asks->n ? asks->n : 1) * sizeof *ans);
    uint32_t *dest = malloc((asks->n ? asks->n : 1) * sizeof *dest);
    if (st == NF_OK && (!ans || !dest))
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    if (st == NF_OK && agreed.n)
        qsort(a, agreed.n, sizeof *a, cmp_agree);
    for (size_t i = 0; st == NF_OK && i < asks->n; i++) {
        agree_rec key = {q[i].pair, {0, 0}};
        const agree_rec *f = agreed.n ? bsearch(&key, a, agreed.n, sizeof *a, cmp_agree) : NULL;
        if (!f)
            st = nfi_fail(err, NF_ERR_PARSE, "MPI: a pair of the sibling check was not measured");
        else
            ans[i] = (agree_rec){q[i].idx, f->a}, dest[i] = q[i].src;
    }
    if (st == NF_OK)
        st = send_array(x, ans, dest, sizeof *ans, asks->n, agree_answer, x, err);
    free(ans), free(dest), free(uniq.data), free(agreed.data);
    return st;
}

/* 7b. The sibling check (witness.c): each pair that needs the agreement of
 * one side with a document of its own language asks that pair's home. */
static nf_status sibling_agreements(dlinks *x, nf_error *err)
{
    if (x->bests.n)
        qsort(x->bests.data, x->bests.n, sizeof(best_reply), cmp_reply);
    size_t most = most_langs(x), n_results = x->results.n ? x->results.n : 1;
    nfi_lang_best *ba = malloc(most * sizeof *ba), *bb = malloc(most * sizeof *bb);
    agree_ask *ask = malloc(n_results * sizeof *ask);
    uint32_t *dest = malloc(n_results * sizeof *dest);
    x->verdicts = calloc(n_results, sizeof *x->verdicts);
    bool ok = ba && bb && ask && dest && x->verdicts;
    nf_status st = ok ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    const result_rec *res = (const result_rec *)x->results.data;
    size_t n = 0, at = 0;
    for (size_t i = 0; st == NF_OK && i < x->results.n; i++) {
        if (!nfi_links_may_link(x->l, res[i].score))
            continue;
        size_t na = side_bests(&x->bests, &at, (uint32_t)i, 0, ba), nb = side_bests(&x->bests, &at, (uint32_t)i, 1, bb);
        uint64_t pair;
        x->verdicts[i].picked = nfi_links_picked(res[i].logit, ba, na, res[i].lang_a, bb, nb, res[i].lang_b);
        if (nfi_links_sibling(x->verdicts[i].picked, res[i].logit, ba, na, res[i].lang_a, bb, nb, res[i].lang_b, res[i].a,
                              res[i].b, &pair))
            ask[n] = (agree_ask){pair, (uint32_t)x->m->rank, (uint32_t)i}, dest[n++] = pair_home(x, pair);
    }
    free(ba), free(bb);
    grown got = {NULL, 0, 0, sizeof(agree_ask)};
    if (st == NF_OK)
        st = send_array(x, ask, dest, sizeof *ask, n, grow_sink, &got, err);
    free(ask), free(dest);
    if (st == NF_OK)
        st = answer_asks(x, &got, err);
    free(got.data);
    return st;
}

static int cmp_link(const void *p, const void *q)
{
    const nf_link *a = p, *b = q;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return (a->b > b->b) - (a->b < b->b);
}

/* 8. The links go to rank 0, which sorts them as the single process does. */
static nf_status send_links(dlinks *x, nf_links_result *out, nf_error *err)
{
    const result_rec *res = (const result_rec *)x->results.data;
    link_rec *lk = malloc((x->results.n ? x->results.n : 1) * sizeof *lk);
    uint32_t *dest = calloc(x->results.n ? x->results.n : 1, sizeof *dest);
    grown got = {NULL, 0, 0, sizeof(link_rec)};
    nf_status st = lk && dest ? NF_OK : nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; st == NF_OK && i < x->results.n; i++)
        if (decide(x, i))
            lk[n++] = (link_rec){res[i].a, res[i].b, res[i].score};
    if (st == NF_OK)
        st = send_array(x, lk, dest, sizeof *lk, n, grow_sink, &got, err);
    free(lk), free(dest);
    const link_rec *g = (const link_rec *)got.data;
    out->links = malloc((got.n ? got.n : 1) * sizeof *out->links);
    if (st == NF_OK && !out->links)
        st = nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == NF_OK && i < got.n; i++)
        out->links[out->n_links++] = (nf_link){g[i].a, g[i].b, g[i].score};
    if (st == NF_OK)
        qsort(out->links, out->n_links, sizeof *out->links, cmp_link);
    free(got.data);
    return st;
}

static void dlinks_free(dlinks *x)
{
    free(x->woff), free(x->sdf), free(x->sdf_at), free(x->posts), free(x->keys), free(x->offsets);
    if (x->weighted)
        fclose(x->weighted);
    free(x->cands.data), free(x->pairs.data), free(x->results.data), free(x->bests.data), free(x->fetched);
    free(x->verdicts);
    for (int r = 0; x->out && r < x->m->size; r++)
        nfi_buf_free(&x->out[r]);
    free(x->out);
}

/* Collective: every step of nf_links_finish over the ranks' documents
 * (docs_of: how many each rank read, the plan's). */
static nf_status finish_links(nf_mpi_links *ml, const uint64_t *docs_of, nf_links_result *out, nf_error *err)
{
    const nf_mpi *m = ml->m;
    uint64_t *start = calloc((size_t)m->size + 1, sizeof *start);
    if (!start)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    for (int r = 0; r < m->size; r++)
        start[r + 1] = start[r] + docs_of[r];
    dlinks x = {.m = m, .l = ml->links, .ml = ml, .n = ml->n_docs, .first = start[m->rank],
                .total = start[m->size], .start = start, .cands = {NULL, 0, 0, 8}, .pairs = {NULL, 0, 0, 8},
                .results = {NULL, 0, 0, sizeof(result_rec)}, .bests = {NULL, 0, 0, sizeof(best_reply)}};
    nf_status st = NF_OK;
    if (x.n != docs_of[m->rank] || x.total > UINT32_MAX)
        st = nfi_fail(err, NF_ERR_PARSE, "MPI: %zu documents on this rank, %llu planned", x.n,
                      (unsigned long long)docs_of[m->rank]);
    if (st == NF_OK && ml->pivot_file && fflush(ml->pivot_file) != 0)
        st = nfi_fail(err, NF_ERR_IO, "cannot write the temporary file of pivots (disk full?)");
    if (st == NF_OK)
        st = number_languages(&x, err);
    if (st == NF_OK)
        st = document_frequencies(&x, err);
    if (st == NF_OK)
        st = spread_postings(&x, err);
    if (st == NF_OK)
        st = search_all(&x, err);
    free(x.posts), free(x.keys), free(x.offsets);
    x.posts = NULL, x.keys = NULL, x.offsets = NULL;
    if (st == NF_OK)
        st = gather_pairs(&x, err);
    if (st == NF_OK)
        st = score_all(&x, &x.pairs, NULL, err);
    if (st == NF_OK)
        st = best_logits(&x, err);
    if (st == NF_OK)
        st = sibling_agreements(&x, err);
    if (st == NF_OK)
        st = send_links(&x, out, err);
    ml->bytes_finish = x.bytes;
    ml->pairs_scored = x.results.n;
    dlinks_free(&x);
    free(start);
    return st;
}

nf_status nf_mpi_links_finish(nf_mpi_links *ml, nf_links_result *links, nf_dedup_result *dedup, nf_error *err)
{
    memset(links, 0, sizeof *links);
    if (dedup)
        memset(dedup, 0, sizeof *dedup);
    double t0 = nfi_mpi_cpu();
    /* a stage of its own takes no more documents (a borrowed one is the
     * fold's, whose caller decides): its pivoters and dictionaries go */
    nf_status st = ml->borrowed ? NF_OK : nf_links_end_adding(ml->links, err);
    if (st == NF_OK)
        st = finish_links(ml, ml->g.docs_of, links, err);
    if (st == NF_OK && ml->m->rank == 0 && ml->dedup && dedup)
        st = nf_dedup_finish(ml->dedup, dedup, err);
    ml->cpu_finish = nfi_mpi_cpu() - t0;
    return st;
}

/* ------------------------------------------------------------ for run --mpi */

nf_status nfi_mpi_links_on(nf_mpi_links **out, nf_mpi *m, nf_links *stage, const char *tmp_dir, nf_error *err)
{
    *out = NULL;
    nf_mpi_links *ml = calloc(1, sizeof *ml);
    if (!ml)
        return nfi_fail(err, NF_ERR_NOMEM, "out of memory");
    ml->m = m;
    ml->links = stage;
    ml->borrowed = true;
    ml->g = (nfi_mpi_gather){.m = m, .tmp_dir = tmp_dir}; /* only its folder is used */
    nfi_buf_init(&ml->g.wire);
    nfi_buf_init(&ml->ids);
    nfi_buf_init(&ml->rec);
    nfi_hmap_init(&ml->counts);
    *out = ml;
    return NF_OK;
}

nf_status nfi_mpi_links_keep(nf_mpi_links *ml, nf_error *err)
{
    nf_status st = spill_pivots(ml, err);
    nfi_links_truncate(ml->links, 0);
    return st;
}

nf_status nfi_mpi_links_finish_on(nf_mpi_links *ml, const uint64_t *docs_of, nf_links_result *out, nf_error *err)
{
    memset(out, 0, sizeof *out);
    double t0 = nfi_mpi_cpu();
    nf_status st = finish_links(ml, docs_of, out, err);
    ml->cpu_finish = nfi_mpi_cpu() - t0;
    if (st != NF_OK || ml->m->rank != 0)
        nf_links_result_free(out);
    return st;
}

uint64_t nfi_mpi_links_bytes(const nf_mpi_links *ml) { return ml->bytes_finish; }

size_t nf_mpi_links_size(const nf_mpi_links *ml) { return ml->n_kept; }

nf_mpi_doc nf_mpi_links_doc(const nf_mpi_links *ml, size_t i)
{
    const kept_doc *k = &ml->kept[i];
    return (nf_mpi_doc){ml->ids.data + k->id_off, k->lang, k->published};
}

void nf_mpi_links_stats(const nf_mpi_links *ml, nf_mpi_stats *out)
{
    *out = ml->g.stats;
    out->cpu_finish = ml->cpu_finish;
    out->bytes_exchanged += ml->bytes_finish;
}

void nf_mpi_links_free(nf_mpi_links *ml)
{
    if (!ml)
        return;
    if (!ml->borrowed)
        nf_links_free(ml->links);
    nf_dedup_free(ml->dedup);
    nf_cleaner_free(ml->cleaner);
    free(ml->cleaned);
    free(ml->items);
    free(ml->kept);
    nfi_buf_free(&ml->ids);
    if (ml->pivot_file)
        fclose(ml->pivot_file);
    free(ml->pivot_off);
    nfi_hmap_free(&ml->counts);
    free(ml->langs);
    nfi_buf_free(&ml->rec);
    nfi_mpi_gather_free(&ml->g);
    free(ml);
}

#endif
