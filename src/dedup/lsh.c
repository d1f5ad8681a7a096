/*
 * lsh.c - locality-sensitive hashing parameters and band keys.
 *
 * With b bands of r rows, two documents of Jaccard similarity s share at
 * least one band with probability P(s) = 1 - (1 - s^r)^b. For a threshold T
 * the best (b, r) with b*r <= K minimizes the false-positive mass
 * integral_0^T P(s) ds plus the false-negative mass integral_T^1 (1 - P(s)) ds
 * weighted FALSE_POSITIVE_WEIGHT : FALSE_NEGATIVE_WEIGHT, integrated
 * numerically (datasketch's criterion, with recall-heavy weights). A false
 * positive only costs one signature comparison, since every candidate is
 * verified; a false negative is a duplicate lost for good. With K = 128 and
 * T = 0.6 this gives 24 bands of 4 rows: a pair exactly at the threshold
 * becomes a candidate with probability 0.96, one at 0.65 with 0.99.
 *
 * SimHash uses the same machinery through the pigeonhole principle: split
 * the 64 bits into k+1 blocks; two hashes within Hamming distance k agree
 * exactly on at least one block, so each block is a band.
 */
#include "dedup/dedup.h"

#include <math.h>
#include <xxhash.h>

#define FALSE_POSITIVE_WEIGHT 0.05
#define FALSE_NEGATIVE_WEIGHT 0.95

/* The weighted error mass of every (b, r) with b * r <= perms, minimized
 * over a 200-point midpoint rule. For each r the points' s^r are computed
 * once; (1 - s^r)^b then follows b by one multiplication a step, so the
 * search costs O(perms log perms x 200) multiplications instead of as many
 * pow() calls (it ran once per process and cost as much as 35 ms). */
#define STEPS 200

void nf_lsh_params(double threshold, int perms, int *bands, int *rows)
{
    double best = INFINITY;
    *bands = 1;
    *rows = perms;
    double h_fp = threshold / STEPS, h_fn = (1.0 - threshold) / STEPS;
    double x_fp[STEPS], x_fn[STEPS], y_fp[STEPS], y_fn[STEPS];
    for (int r = 1; r <= perms; r++) {
        for (int i = 0; i < STEPS; i++) {
            x_fp[i] = 1.0 - pow((i + 0.5) * h_fp, r);
            x_fn[i] = 1.0 - pow(threshold + (i + 0.5) * h_fn, r);
            y_fp[i] = y_fn[i] = 1.0;
        }
        for (int b = 1; b * r <= perms; b++) {
            double fp = 0, fn = 0; /* P(s) = 1 - (1 - s^r)^b below and above the threshold */
            for (int i = 0; i < STEPS; i++) {
                y_fp[i] *= x_fp[i];
                y_fn[i] *= x_fn[i];
                fp += (1.0 - y_fp[i]) * h_fp;
                fn += y_fn[i] * h_fn;
            }
            double cost = FALSE_POSITIVE_WEIGHT * fp + FALSE_NEGATIVE_WEIGHT * fn;
            if (cost < best - 1e-12 || (fabs(cost - best) <= 1e-12 && b < *bands)) { /* ties: fewest bands */
                best = cost;
                *bands = b;
                *rows = r;
            }
        }
    }
}

uint64_t nfi_band_key(const uint32_t *signature, int band, int rows)
{
    return XXH3_64bits_withSeed(signature + (size_t)band * (size_t)rows, (size_t)rows * sizeof *signature,
                                (uint64_t)band + 1);
}

uint64_t nfi_simhash_block_key(uint64_t simhash, int block, int n_blocks)
{
    int width = 64 / n_blocks, start = block * width;
    int end = block == n_blocks - 1 ? 64 : start + width;
    uint64_t mask = end - start == 64 ? ~0ULL : ((1ULL << (end - start)) - 1) << start;
    return XXH3_64bits_withSeed(&(uint64_t){simhash & mask}, sizeof(uint64_t), 0x5100ULL + (uint64_t)block);
}
