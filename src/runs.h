/*
 * runs.h - bounded-memory sorting of (key, value) records (see runs.c).
 */
#ifndef NF_RUNS_H
#define NF_RUNS_H

#include "internal.h"

typedef struct nf_kv {
    uint64_t key, val;
} nf_kv;

typedef struct nf_runs nf_runs;

/* mem_bytes bounds the in-memory buffer; beyond it sorted runs spill to
 * anonymous temporary files in tmp_dir (NULL: $TMPDIR or /tmp). */
nf_status nf_runs_new(nf_runs **out, size_t mem_bytes, const char *tmp_dir, nf_error *err);
nf_status nf_runs_add(nf_runs *r, uint64_t key, uint64_t val, nf_error *err);
/* Ends input; afterwards nf_runs_next yields all records in (key, val) order. */
nf_status nf_runs_finish(nf_runs *r, nf_error *err);
/* 1 and *out set, or 0 at the end (or on a read error, see nf_runs_failed). */
int nf_runs_next(nf_runs *r, nf_kv *out);
bool nf_runs_failed(const nf_runs *r, nf_error *err);
size_t nf_runs_spilled(const nf_runs *r); /* number of runs written to disk */
uint64_t nf_runs_count(const nf_runs *r);
void nf_runs_free(nf_runs *r);

/* Sorts records in (key, val) order: LSD radix sort, O(n) with a scratch
 * buffer of the same size (falls back to qsort when that cannot be had). */
void nf_kv_sort(nf_kv *v, size_t n);
/* Sorts by key only, keeping records of equal keys in their input order. */
void nf_kv_sort_by_key_stable(nf_kv *v, size_t n);

#endif
