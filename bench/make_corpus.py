#!/usr/bin/env python3
"""make_corpus.py - builds the JSONL corpus for the throughput benchmark.

Only text from the shared data folder is used:
  data/wmt21/*/docs.jsonl                  news articles in German and French
                                           (fields id, lang, text, source)
  data/article-extraction/ground-truth.json  articleBody of each item (English
                                           mostly), with its url
  data/uci-headlines/headlines.tsv         headlines (English), used as short
                                           documents and as "Read more" lines

The base documents are repeated in rounds until the output reaches --size-mb
(default 220 MB of JSONL). Each round is shuffled with a fixed seed and each
copy gets light edits, so records are not byte-identical: two paragraphs
swapped, a paragraph dropped, or a "Read more: <headline>" line appended.
Every record has a unique id; `lang` is kept on half of the records that know
their language (the other half exercises language detection). The output is
deterministic for a given seed, size and input.

usage: bench/make_corpus.py [--shared DIR] [--size-mb N] [--seed N] [--out FILE]
"""
import argparse
import csv
import glob
import json
import os
import random
import sys
from urllib.parse import urlparse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_bases(shared):
    data = os.path.join(shared, "data")
    bases, headlines = [], []
    wmt_files = sorted(glob.glob(os.path.join(data, "wmt21", "*", "docs.jsonl")))
    for path in wmt_files:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                r = json.loads(line)
                bases.append({"id": "wmt:" + r["id"], "lang": r.get("lang"), "source": r.get("source"),
                              "text": r["text"]})
    gt_path = os.path.join(data, "article-extraction", "ground-truth.json")
    with open(gt_path, encoding="utf-8") as f:
        gt = json.load(f)
    for key in sorted(gt):
        item = gt[key]
        body = item.get("articleBody") or ""
        if not body.strip():
            continue
        url = item.get("url")
        host = urlparse(url).hostname if url else None
        bases.append({"id": "ae:" + key[:16], "lang": None, "source": host, "url": url, "text": body})
    hl_path = os.path.join(data, "uci-headlines", "headlines.tsv")
    with open(hl_path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            title = (row.get("title") or "").strip()
            if not title:
                continue
            headlines.append(title)
            bases.append({"id": "hl:" + row["id"], "lang": "en", "source": row.get("publisher") or None,
                          "url": row.get("url") or None, "text": title})
    if not wmt_files or not gt or not headlines:
        sys.exit("make_corpus: missing input under %s (wmt21 files: %d, articles: %d, headlines: %d)"
                 % (data, len(wmt_files), len(gt), len(headlines)))
    return bases, headlines


def edit(text, rng, headlines):
    """Light, deterministic edits so that copies differ."""
    paras = text.split("\n\n")
    roll = rng.random()
    if len(paras) >= 3 and roll < 0.35:
        i, j = rng.sample(range(1, len(paras)), 2)  # keep the first (headline) paragraph in place
        paras[i], paras[j] = paras[j], paras[i]
    elif len(paras) >= 4 and roll < 0.5:
        del paras[rng.randrange(1, len(paras))]
    out = "\n\n".join(paras)
    if rng.random() < 0.3:
        out += "\n\nRead more: " + rng.choice(headlines)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=os.path.join(REPO, "..", "shared"),
                    help="the shared folder holding data/ (default: ../shared next to the repo)")
    ap.add_argument("--size-mb", type=float, default=220, help="stop once the output has this many MB (1e6 bytes)")
    ap.add_argument("--seed", type=int, default=20240614)
    ap.add_argument("--out", default=os.path.join(REPO, "bench", "data", "corpus.jsonl"))
    args = ap.parse_args()

    bases, headlines = load_bases(args.shared)
    rng = random.Random(args.seed)
    target = int(args.size_mb * 1e6)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    written = docs = text_bytes = 0
    rnd = 0
    with open(tmp, "w", encoding="utf-8", newline="\n") as out:
        while written < target:
            order = list(range(len(bases)))
            rng.shuffle(order)
            for k in order:
                if written >= target:
                    break
                b = bases[k]
                text = b["text"] if rnd == 0 else edit(b["text"], rng, headlines)
                rec = {"id": "%s#%d" % (b["id"], rnd), "text": text}
                if b.get("lang") and rng.random() < 0.5:
                    rec["lang"] = b["lang"]
                if b.get("source"):
                    rec["source"] = b["source"]
                if b.get("url"):
                    rec["url"] = b["url"]
                line = json.dumps(rec, ensure_ascii=False) + "\n"
                out.write(line)
                written += len(line.encode("utf-8"))
                text_bytes += len(text.encode("utf-8"))
                docs += 1
            rnd += 1
    os.replace(tmp, args.out)
    print("make_corpus: %s: %d docs, %.1f MB JSONL, %.1f MB of text, %d rounds over %d base documents"
          % (os.path.relpath(args.out), docs, written / 1e6, text_bytes / 1e6, rnd, len(bases)))


if __name__ == "__main__":
    main()
