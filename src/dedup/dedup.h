/* dedup.h - the internal contract of src/dedup/ (never installed). */
#ifndef NF_DEDUP_DEDUP_H
#define NF_DEDUP_DEDUP_H

#include "common/common.h"

/*
 * sketch.h - per-document sketches for duplicate detection (see sketch.c).
 */


#define NF_SKETCH_MAX_PERMS 1024

typedef struct nfi_sketch_params {
    int ngram;        /* shingle size in units (words; characters for CJK/Thai) */
    int perms;        /* MinHash signature length K */
    int window;       /* containment samples: winnowing window, in shingles */
    uint64_t seed;
    bool simhash;     /* also compute the SimHash (the SimHash method only) */
} nfi_sketch_params;

typedef struct nfi_sketch {
    uint64_t exact_lo, exact_hi; /* XXH3-128 of the normalized token stream */
    uint32_t *signature;         /* K values (MinHash); NULL for short docs */
    uint64_t simhash;            /* 0 unless params.simhash */
    uint64_t *samples;           /* sorted unique winnowed shingle hashes */
    size_t n_samples;
    uint64_t *shingles;          /* sorted unique shingle hashes (only when asked) */
    size_t n_shingles;           /* distinct shingles (always set) */
    size_t n_units;
    bool too_short;              /* fewer units than the shingle size */
} nfi_sketch;

/* Sketches one cleaned document. signature must hold params->perms values.
 * keep_shingles: also return the sorted shingle set (for exact verification). */
nf_status nfi_sketch_doc(const nf_clean_doc *doc, const nfi_sketch_params *params, bool keep_shingles,
                        uint32_t *signature, nfi_sketch *out, nf_error *err);
/* The same with a thread's buffers, reused from one document to the next
 * (their owner frees sh and work); scratch may be NULL. */
typedef struct nfi_sketch_scratch {
    uint64_t *sh, *work;
    size_t sh_cap, work_cap;
} nfi_sketch_scratch;
nf_status nfi_sketch_doc_with(const nf_clean_doc *doc, const nfi_sketch_params *params, bool keep_shingles,
                             uint32_t *signature, nfi_sketch_scratch *scratch, nfi_sketch *out, nf_error *err);
void nfi_sketch_free(nfi_sketch *s);

/* Estimated Jaccard similarity: the fraction of equal signature values. */
double nfi_minhash_similarity(const uint32_t *a, const uint32_t *b, int perms);
/* Exact Jaccard of two sorted unique hash sets. */
double nfi_exact_jaccard(const uint64_t *a, size_t na, const uint64_t *b, size_t nb);
/* |A ∩ B| for sorted unique sets. */
size_t nfi_intersection_size(const uint64_t *a, size_t na, const uint64_t *b, size_t nb);

/* The shingle hash set of a token sequence given as per-unit 64-bit hashes
 * (exposed for tests and the property check). Returns the number written. */
size_t nfi_shingle_hashes(const uint64_t *units, size_t n_units, int ngram, uint64_t *out);
void nfi_minhash_signature(const uint64_t *shingles, size_t n, int perms, uint64_t seed, uint32_t *sig);
/* Winnowing: the shingle of smallest rank (rightmost on a tie) in every
 * window of `window` consecutive ones, each chosen position once, in text
 * order; returns the number written to out (at most n). */
size_t nfi_winnow(const uint64_t *shingles, const uint64_t *ranks, size_t n, int window, uint64_t *out);

/* lsh.h - band keys for MinHash and SimHash candidate search (see lsh.c). */


uint64_t nfi_band_key(const uint32_t *signature, int band, int rows);
uint64_t nfi_simhash_block_key(uint64_t simhash, int block, int n_blocks);

/*
 * dedup_internal.h - the state shared by dedup.c (the engine) and
 * dedup_index.c (its on-disk incremental index).
 */


#include <stdio.h>

enum { DOC_TOO_SHORT = 1, DOC_EMPTY = 2, DOC_FROM_INDEX = 4 };

/* What the engine keeps per document: 48 bytes plus the id, and 8 more
 * for the SimHash method (simhashes) and for exact verification
 * (shingle_offs). The signature, shingle set and samples live in temporary
 * files; a document's samples start where the samples of the documents
 * before it end. */
typedef struct doc_meta {
    uint64_t exact_lo, exact_hi;
    uint64_t id_off;        /* into ids */
    uint32_t n_shingles;
    uint32_t n_samples;
    uint32_t text_len;
    int32_t published;      /* yyyymmdd, or INT32_MAX when unknown */
    uint32_t flags;
} doc_meta;

typedef struct nfi_edge {
    uint32_t a, b;
    uint8_t relation;
    float score;
} nfi_edge;

struct nf_dedup {
    nf_dedup_options opt;
    nfi_sketch_params params;
    int bands, rows;
    doc_meta *docs;
    uint64_t *simhashes;      /* per document, the SimHash method only */
    uint64_t *shingle_offs;   /* per document, into the shingle file: exact_verify only */
    size_t n_docs, cap_docs;
    size_t n_index_docs;      /* the first n_index_docs came from the index */
    nfi_buf ids;
    FILE *sig_file;           /* perms x uint32 per document, in document order */
    FILE *shingle_file;       /* sorted shingle sets, when exact_verify */
    uint64_t shingle_bytes;
    FILE *sample_file;        /* containment samples, when saving an index */
    uint64_t sample_bytes;
    nfi_runs *band_runs, *sample_runs;
    nfi_edge *index_edges;     /* verified pairs loaded from the index */
    size_t n_index_edges, cap_index_edges;
    int index_lock_fd;        /* DIR/LOCK, held exclusively while index_locked */
    bool index_locked;
    size_t index_segments;
    uint32_t *exact_docs;     /* open addressing on exact_lo: first occurrences */
    size_t exact_cap, exact_count;
    nfi_edge *exact_edges;     /* later copies -> first occurrence */
    size_t n_exact_edges, cap_exact_edges;
};

/* lsh.c: the candidate pairs of a stage whose band and sample sorters are
 * complete. visit gets every distinct pair (a < b, not both from the index)
 * once, all the pairs of one first document a in one call: the second
 * documents b[0..n) and for each the number of containment samples the two
 * share, with NFI_PAIR_BANDED set when they share a band key (one call per
 * document instead of per pair: nearly all pairs are dismissed in a few
 * instructions). It runs on d->opt.threads threads, thread t passing the
 * worker at workers + t * worker_size; the order of the calls and of the
 * pairs in a call is not fixed. mem_bytes bounds the pair sorter and the
 * sample groups kept at once. */
#define NFI_PAIR_BANDED 0x80000000u
typedef nf_status (*nfi_pair_visit)(void *ctx, void *worker, uint32_t a, const uint32_t *b, const uint32_t *counts,
                                    size_t n, nf_error *err);
nf_status nfi_dedup_candidates(const nf_dedup *d, size_t mem_bytes, nfi_pair_visit visit, void *ctx, void *workers,
                               size_t worker_size, size_t *n_pairs, nf_error *err);

/* Two documents as verification and grouping read them (dedup.c; the
 * distributed finish in src/mpi/ builds them from fetched metadata): their
 * metadata, their SimHashes (the SimHash method), and their Jaccard
 * similarity, computed only when a rule needs it (the estimate from the
 * signatures, or with exact_verify the exact one). containment: the exact
 * share of the smaller one's shingles inside the larger (x_small: x is the
 * smaller), or -1 (or a NULL function) to estimate it from shared samples. */
typedef struct nfi_pair_view {
    const doc_meta *x, *y;
    uint64_t simhash_x, simhash_y;
    double (*similarity)(void *ctx);
    double (*containment)(void *ctx, bool x_small);
    void *ctx;
} nfi_pair_view;

/* Decides one candidate pair (a: p->x, b: p->y) that shares shared_samples
 * containment samples and (banded) a band key: false when it is not a
 * duplicate, else the edge (exact, near, or contained: a = the contained). */
bool nfi_dedup_verify(const nf_dedup_options *o, const nfi_pair_view *p, uint32_t a, uint32_t b,
                      size_t shared_samples, bool banded, nfi_edge *e);
/* Whether x is a better canonical than y: from the index, then earliest
 * published, then longest, then smallest id. */
bool nfi_dedup_better(const doc_meta *x, const char *id_x, const doc_meta *y, const char *id_y);
/* The relation and score of member i (p->x) to its group's canonical canon
 * (p->y; p->similarity: the MinHash estimate), given the verified edge
 * between them (or NULL) and i's best containment score inside another
 * member (< 0: none). */
void nfi_dedup_relate(const nf_dedup_options *o, const nfi_pair_view *p, const nfi_edge *e, uint32_t i,
                      uint32_t canon, float contained_in, nf_relation *relation, double *score);
/* Band b's key of a document (MinHash band or SimHash block). */
uint64_t nfi_dedup_band_key(const nf_dedup *d, const uint32_t *signature, uint64_t simhash, int band);

/* lsh.c: the candidate pairs the documents of one key give (the group
 * rules, set semantics): runs is a finished sorter of (key, document)
 * records; band: band keys (every group; at most BAND_CLIQUE_MAX documents
 * give all their pairs, more a chain plus a star), else containment samples
 * (groups of more than SAMPLE_DF_MAX documents are ignored, the others give
 * pairs by the same rule). emit gets each pair (a < b) once per group that
 * gives it; a candidate's shared samples are the number of sample groups
 * that give it, banded whether any band group does. */
typedef nf_status (*nfi_group_pair_fn)(void *ctx, uint32_t a, uint32_t b, bool band, nf_error *err);
nf_status nfi_dedup_key_pairs(nfi_runs *runs, bool band, nfi_group_pair_fn emit, void *ctx, nf_error *err);

/* dedup.c: stores one document's metadata, id and signature (and shingles,
 * samples when kept) without its keys: the distributed finish emits them. */
nf_status nfi_dedup_store(nf_dedup *d, const char *id, const nfi_sketch *s, const uint32_t *signature,
                          uint32_t text_len, int32_t published, uint32_t flags, nf_error *err);
/* dedup.c: appends one document's sketch; used by sketching and index load. */
nf_status nfi_dedup_append(nf_dedup *d, const char *id, const nfi_sketch *s, const uint32_t *signature,
                          uint32_t text_len, int32_t published, uint32_t flags, nf_error *err);

/* dedup_index.c */
/* One cleaned document as the dedup stage keeps it: nf_dedup_add sketches
 * a batch (nfi_dedup_sketch, on the stage's threads) and appends each item;
 * a live fold keeps the items and appends them again to a fresh stage. */
typedef struct nfi_dedup_item {
    const char *id; /* borrowed from the document */
    nfi_sketch sketch;
    uint32_t *signature; /* perms values; sketch.signature points here or is NULL */
    uint32_t text_len;
    int32_t published;
    uint32_t flags;
} nfi_dedup_item;

nf_status nfi_dedup_sketch(const nf_dedup *d, const nf_clean_doc *docs, size_t n, nfi_dedup_item *out,
                           nf_error *err);
nf_status nfi_dedup_append_item(nf_dedup *d, const nfi_dedup_item *it, nf_error *err);
void nfi_dedup_item_free(nfi_dedup_item *it);
nf_status nfi_index_load(nf_dedup *d, nf_error *err);
nf_status nfi_index_save(nf_dedup *d, const nf_dedup_result *result, nf_error *err);
/* Releases the index lock (nf_dedup_free). */
void nfi_index_close(nf_dedup *d);

#endif
