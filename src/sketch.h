/*
 * sketch.h - per-document sketches for duplicate detection (see sketch.c).
 */
#ifndef NF_SKETCH_H
#define NF_SKETCH_H

#include "internal.h"

#define NF_SKETCH_MAX_PERMS 1024

typedef struct nf_sketch_params {
    int ngram;        /* shingle size in units (words; characters for CJK/Thai) */
    int perms;        /* MinHash signature length K */
    int sample_mod;   /* containment samples: shingles with hash % sample_mod == 0 */
    uint64_t seed;
} nf_sketch_params;

typedef struct nf_sketch {
    uint64_t exact_lo, exact_hi; /* XXH3-128 of the normalized token stream */
    uint32_t *signature;         /* K values (MinHash); NULL for short docs */
    uint64_t simhash;
    uint64_t *samples;           /* sorted unique sampled shingle hashes */
    size_t n_samples;
    uint64_t *shingles;          /* sorted unique shingle hashes (only when asked) */
    size_t n_shingles;           /* distinct shingles (always set) */
    size_t n_units;
    bool too_short;              /* fewer units than the shingle size */
} nf_sketch;

/* Sketches one cleaned document. signature must hold params->perms values.
 * keep_shingles: also return the sorted shingle set (for exact verification). */
nf_status nf_sketch_doc(const nf_clean_doc *doc, const nf_sketch_params *params, bool keep_shingles,
                        uint32_t *signature, nf_sketch *out, nf_error *err);
void nf_sketch_free(nf_sketch *s);

/* Estimated Jaccard similarity: the fraction of equal signature values. */
double nf_minhash_similarity(const uint32_t *a, const uint32_t *b, int perms);
/* Exact Jaccard of two sorted unique hash sets. */
double nf_exact_jaccard(const uint64_t *a, size_t na, const uint64_t *b, size_t nb);
/* |A ∩ B| for sorted unique sets. */
size_t nf_intersection_size(const uint64_t *a, size_t na, const uint64_t *b, size_t nb);

/* The shingle hash set of a token sequence given as per-unit 64-bit hashes
 * (exposed for tests and the property check). Returns the number written. */
size_t nf_shingle_hashes(const uint64_t *units, size_t n_units, int ngram, uint64_t *out);
void nf_minhash_signature(const uint64_t *shingles, size_t n, int perms, uint64_t seed, uint32_t *sig);

#endif
