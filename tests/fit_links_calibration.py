#!/usr/bin/python3
"""fit_links_calibration.py - refits the translation-link calibration
(CALIBRATION in src/links/links.c, docs/links.md "Score").

Logistic regression by Newton steps with a small ridge, each class of each
data set weighted equally (so a set's size does not decide, and its rare
true pairs count as much as its many false ones), on the dumps of
tests/eval_links:
    build/tests/eval_links ../shared --dump /tmp/dump.tsv
    build/tests/eval_links --dump-examples . /tmp/dump_ex.tsv
    tests/fit_links_calibration.py /tmp/dump.tsv /tmp/dump_ex.tsv
Prints the CALIBRATION line. Needs python3-numpy (development only).
"""
import math
import sys

import numpy as np

NAMES = ["bias", "terms", "names", "numbers", "align", "length", "order", "evidence", "order_x_evidence",
         "coverage", "terms_x_coverage", "names_x_uncovered"]


def features(f):
    terms, names, numbers = float(f[3]), float(f[4]), float(f[5])
    align, length, order = float(f[7]), float(f[8]), float(f[9])
    ev, cov = math.log1p(float(f[11])), float(f[16])
    return [1.0, terms, names, numbers, align, length, order, ev, order * ev, cov, terms * cov, names * (1 - cov)]


def load(paths, examples_false_weight):
    rows, truth, group = [], [], []
    for path in paths:
        for line in open(path, encoding="utf-8"):
            f = line.rstrip("\n").split("\t")
            rows.append(features(f))
            truth.append(int(f[1]))
            group.append((f[0], int(f[1])))
    counts = {}
    for g in group:
        counts[g] = counts.get(g, 0) + 1
    weight = [1.0 / counts[g] * (examples_false_weight if g == ("examples", 0) else 1.0) for g in group]
    return np.array(rows), np.array(truth, dtype=float), np.array(weight)


def fit(x, y, w, ridge=1e-4, steps=50):
    beta = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-np.clip(x @ beta, -50, 50)))
        grad = x.T @ (w * (y - p)) - ridge * beta
        hess = (x * (w * p * (1 - p))[:, None]).T @ x + ridge * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        beta += step
        if np.max(np.abs(step)) < 1e-9:
            break
    return beta


def main():
    paths = [a for a in sys.argv[1:] if not a.startswith("--")]
    examples_weight, ridge = 1.0, 1e-4
    for a in sys.argv[1:]:
        if a.startswith("--examples-weight="):
            examples_weight = float(a.split("=", 1)[1])
        elif a.startswith("--ridge="):
            ridge = float(a.split("=", 1)[1])
    x, y, w = load(paths, examples_weight)
    beta = fit(x, y, w, ridge)
    print("#define CALIBRATION {" + ", ".join("%.3f" % b for b in beta) + "}")
    for n, b in zip(NAMES, beta):
        print("  %-18s %.3f" % (n, b), file=sys.stderr)


if __name__ == "__main__":
    main()
