#!/usr/bin/env python3
"""datasketch_dedup.py - the reference point for `newsfold dedup`: the same
job done with datasketch (pure Python + numpy), as a corpus builder would.

  datasketch_dedup.py DATASKETCH_DIR CORPUS.jsonl [--perms 128] [--ngram 5] [--threshold 0.6]

Reads JSONL records ({"id", "text"}), lowercases the text, splits it into
words (\\w+), hashes every 5-word shingle into a 128-permutation MinHash
(MinHash.bulk, datasketch's batch path), inserts each document into a
MinHashLSH at the same Jaccard threshold and queries it, and prints one line:
"datasketch: N docs, P candidate pairs, S s". The time covers reading,
tokenizing, hashing and LSH, not interpreter start-up or imports.
DATASKETCH_DIR is a checkout of https://github.com/ekzhu/datasketch (not
vendored here); numpy and scipy come from Debian (python3-numpy,
python3-scipy), so run it with /usr/bin/python3.
"""
import argparse
import json
import re
import sys
import time

WORD = re.compile(r'\w+')


def shingles(text, n):
    words = WORD.findall(text.lower())
    return [' '.join(words[i:i + n]).encode('utf-8') for i in range(len(words) - n + 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('datasketch_dir')
    ap.add_argument('corpus')
    ap.add_argument('--perms', type=int, default=128)
    ap.add_argument('--ngram', type=int, default=5)
    ap.add_argument('--threshold', type=float, default=0.6)
    a = ap.parse_args()
    sys.path.insert(0, a.datasketch_dir)
    from datasketch import MinHash, MinHashLSH

    start = time.perf_counter()
    ids, sets = [], []
    with open(a.corpus, encoding='utf-8') as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                ids.append(d['id'])
                sets.append(shingles(d.get('text') or '', a.ngram))
    hashes = MinHash.bulk(sets, num_perm=a.perms)
    lsh = MinHashLSH(threshold=a.threshold, num_perm=a.perms)
    pairs = 0
    for i, m in enumerate(hashes):
        pairs += len(lsh.query(m))
        lsh.insert(i, m)
    elapsed = time.perf_counter() - start
    print(f'datasketch: {len(ids)} docs, {pairs} candidate pairs, {elapsed:.2f} s')


if __name__ == '__main__':
    main()
