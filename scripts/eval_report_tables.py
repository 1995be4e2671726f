#!/usr/bin/python3
"""Refresh the two tables of docs/eval-report.md from the committed benchmark file: the default
split (out/eval-report.txt, written by scripts/refresh_bundled.sh) and the "all" rows of three
splits holding out 30 % (seeds 0, 1, 2, run here). The prose around them is edited by hand; to
help, a digest of the numbers the prose quotes is printed (per split: final test accuracy R2 and
tau of each model, the Bezier floor, the trees' R2 and tau).

Usage: scripts/eval_report_tables.py [EAHAS_BINARY]   (from the repository root)
The document is rewritten only when every eval succeeded and both tables were found."""
import os
import re
import subprocess
import sys

EAHAS = sys.argv[1] if len(sys.argv) > 1 else 'build/eahas'
DOC, BENCH = 'docs/eval-report.md', 'data/fashion-mnist.eahas'


def split_rows(seed):
    out = subprocess.run([EAHAS, 'eval', BENCH, '--holdout', '0.3', '--seed', str(seed)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    rows = [line for line in out[1:] if len(line.split()) > 2 and line.split()[1] == 'all']
    return '\n'.join([out[0]] + rows)


def digest(name, text):
    """One line per quantity of interest from a table's "all" rows: what the prose quotes."""
    rows = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) == 10 and f[1] == 'all':
            rows[(f[0], f[2])] = f[4:]  # R2_final tau rho RMSE_final RMSE_all R2_all
    if not rows:
        return f'{name}: no rows'
    out = [name + ':']
    for model in ('bsc', 'mlp-direct', 'svd-xgb'):
        r = rows.get(('test_acc', model))
        if r:
            out.append(f'  test_acc {model}: R2_final {r[0]} tau {r[1]} RMSE_final {r[3]} RMSE_all {r[4]}')
    floor = [rows[(q, 'bezier-fit')][4] for q in ('test_acc', 'test_acc_plain', 'val_acc', 'train_acc')
             if (q, 'bezier-fit') in rows]
    out.append(f'  bezier-fit RMSE_all (test, plain, val, train): {", ".join(floor)}')
    for q in ('tec_kwh', 'iec_j_per_image', 'train_time_s'):
        r = rows.get((q, 'trees'))
        if r:
            out.append(f'  {q} trees: R2_final {r[0]} tau {r[1]}')
    return '\n'.join(out)


def main():
    doc = open(DOC).read()
    default = open('out/eval-report.txt').read().rstrip('\n')
    tables = [split_rows(seed) for seed in (0, 1, 2)]
    splits = '\n\n'.join(tables)
    blocks = list(re.finditer(r'```text\n(.*?)```', doc, re.S))
    if len(blocks) < 2:
        sys.exit(f'{DOC}: expected two ```text blocks, found {len(blocks)}')
    a, b = blocks[0], blocks[1]
    doc = doc[:a.start(1)] + default + '\n' + doc[a.end(1):b.start(1)] + splits + '\n' + doc[b.end(1):]
    with open(DOC + '.new', 'w') as f:
        f.write(doc)
    os.replace(DOC + '.new', DOC)
    print(f'{DOC}: tables refreshed; edit the prose to match. Digest:')
    print(digest('default split (0.2, seed 0)', default))
    for seed, t in zip((0, 1, 2), tables):
        print(digest(f'30 % split, seed {seed}', t))


if __name__ == '__main__':
    main()
