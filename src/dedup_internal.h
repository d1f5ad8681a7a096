/*
 * dedup_internal.h - the state shared by dedup.c (the engine) and
 * dedup_index.c (its on-disk incremental index).
 */
#ifndef NF_DEDUP_INTERNAL_H
#define NF_DEDUP_INTERNAL_H

#include "runs.h"
#include "sketch.h"

#include <stdio.h>

enum { DOC_TOO_SHORT = 1, DOC_EMPTY = 2, DOC_FROM_INDEX = 4 };

/* What the engine keeps per document: about 80 bytes plus the id. The
 * signature and shingle set live in temporary files. */
typedef struct doc_meta {
    uint64_t exact_lo, exact_hi;
    uint64_t simhash;
    uint64_t id_off;        /* into ids */
    uint64_t shingle_off;   /* into the shingle file (exact verification) */
    uint64_t sample_off;    /* into the sample file (kept for the index) */
    uint32_t n_shingles;
    uint32_t n_samples;
    uint32_t text_len;
    int32_t published;      /* yyyymmdd, or INT32_MAX when unknown */
    uint32_t flags;
} doc_meta;

typedef struct nf_edge {
    uint32_t a, b;
    uint8_t relation;
    float score;
} nf_edge;

struct nf_dedup {
    nf_dedup_options opt;
    nf_sketch_params params;
    int bands, rows;
    doc_meta *docs;
    size_t n_docs, cap_docs;
    size_t n_index_docs;      /* the first n_index_docs came from the index */
    nf_buf ids;
    FILE *sig_file;           /* perms x uint32 per document, in document order */
    FILE *shingle_file;       /* sorted shingle sets, when exact_verify */
    uint64_t shingle_bytes;
    FILE *sample_file;        /* containment samples, when saving an index */
    uint64_t sample_bytes;
    nf_runs *band_runs, *sample_runs;
    nf_edge *index_edges;     /* verified pairs loaded from the index */
    size_t n_index_edges;
    size_t index_segments;
    uint64_t *exact_keys;     /* open addressing: exact_lo of first occurrences */
    uint32_t *exact_docs;     /* ... and their document index */
    size_t exact_cap, exact_count;
    nf_edge *exact_edges;     /* later copies -> first occurrence */
    size_t n_exact_edges, cap_exact_edges;
};

/* dedup.c: appends one document's sketch; used by sketching and index load. */
nf_status nf_dedup_append(nf_dedup *d, const char *id, const nf_sketch *s, const uint32_t *signature,
                          uint32_t text_len, int32_t published, uint32_t flags, nf_error *err);

/* dedup_index.c */
nf_status nf_index_load(nf_dedup *d, nf_error *err);
nf_status nf_index_save(nf_dedup *d, const nf_dedup_result *result, nf_error *err);

#endif
