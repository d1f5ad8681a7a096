/*
 * feathash.h - nfi_feat_hash's body, inline, for the files that hash a
 * feature per token (evfeat.c: every body term; entities.c: every run
 * token at collection). docfeat.c defines nfi_feat_hash through it, so
 * there is one formula; a call cost about a fifth of a short term's hash.
 * Includes xxhash.h inline (XXH_INLINE_ALL, as normalize.c and sketch.c).
 */
#ifndef NF_EVENTS_FEATHASH_H
#define NF_EVENTS_FEATHASH_H

#include <stddef.h>
#include <stdint.h>
#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include <xxhash.h>

/* The hash of feature s[0..n) in namespace ns (nfi_feat_hash). */
static inline uint64_t nfi_feat_hash_inline(char ns, const char *s, size_t n)
{
    return XXH3_64bits_withSeed(s, n, (uint64_t)(unsigned char)ns * 0x9E3779B97F4A7C15ULL);
}

#endif
