#!/usr/bin/env python3
"""event_halves.py - og2021-dev cut into halves by event, as its held-out half was cut.

The 10,940 OG2021 headlines were split into a development and a held-out
half by sha1(event) % 2 (SOURCES.md), so every gold event lies wholly in one
half. This script cuts the development half the same way again, with
sha1(salt + event) % 2 for the salts a..h (16 halves of about 2,500
headlines each), runs `newsfold run -q -j1` on each half alone and scores it
with `newsfold eval` against its own gold: a stand-in for the held-out half
that, unlike the halves by time of `eval_events`, keeps whole events and
thins the stream as the held-out cut did. Prints each half's B-cubed F1 and
the mean (docs/events.md).
usage: tests/event_halves.py NEWSFOLD [SHARED_DIR] [-- RUN_OPTIONS...]
"""
import hashlib, json, os, subprocess, sys, tempfile

def main():
    args = sys.argv[1:]
    extra = []
    if '--' in args:
        extra = args[args.index('--') + 1:]
        args = args[:args.index('--')]
    if not args:
        sys.exit(__doc__)
    newsfold = args[0]
    shared = args[1] if len(args) > 1 else '../shared'
    src = os.path.join(shared, 'data', 'og2021-dev')
    gold = {}
    with open(os.path.join(src, 'gold.tsv')) as f:
        next(f)
        for line in f:
            i, e = line.rstrip('\n').split('\t')
            gold[i] = e
    with open(os.path.join(src, 'docs.jsonl')) as f:
        lines = f.read().splitlines(True)
    scores = []
    with tempfile.TemporaryDirectory() as tmp:
        for salt in 'abcdefgh':
            parts = {0: [], 1: []}
            for line in lines:
                i = json.loads(line)['id']
                parts[int(hashlib.sha1((salt + gold[i]).encode()).hexdigest(), 16) % 2].append((i, line))
            for k in (0, 1):
                docs, gtsv, out = (os.path.join(tmp, n) for n in ('docs.jsonl', 'gold.tsv', 'out'))
                with open(docs, 'w') as d, open(gtsv, 'w') as g:
                    g.write('id\tevent\n')
                    for i, line in parts[k]:
                        d.write(line)
                        g.write('%s\t%s\n' % (i, gold[i]))
                subprocess.run([newsfold, 'run', '-q', '-j1', *extra, docs, '-o', out], check=False,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                ev = subprocess.run([newsfold, 'eval', '--gold', gtsv, '--gold-key', 'event', '--pred',
                                     os.path.join(out, 'documents.jsonl')], check=True, capture_output=True,
                                    text=True).stdout
                f1 = float(next(l for l in ev.splitlines() if l.startswith('B-cubed')).split('F1')[1])
                scores.append(f1)
                print('%s%d: %d headlines, B-cubed F1 %.4f' % (salt, k, len(parts[k]), f1))
    print('mean of %d halves: %.4f' % (len(scores), sum(scores) / len(scores)))

if __name__ == '__main__':
    main()
