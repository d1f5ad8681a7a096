/* lsh.h - band keys for MinHash and SimHash candidate search (see lsh.c). */
#ifndef NF_LSH_H
#define NF_LSH_H

#include "internal.h"

uint64_t nf_band_key(const uint32_t *signature, int band, int rows);
uint64_t nf_simhash_block_key(uint64_t simhash, int block, int n_blocks);

#endif
