#!/usr/bin/python3
"""Refresh the two tables of docs/eval-report.md from the committed benchmark file: the default
split (out/eval-report.txt, written by scripts/refresh_bundled.sh) and the "all" rows of three
splits holding out 30 % (seeds 0, 1, 2, run here). The prose around them is edited by hand.

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


def main():
    doc = open(DOC).read()
    default = open('out/eval-report.txt').read().rstrip('\n')
    splits = '\n\n'.join(split_rows(seed) for seed in (0, 1, 2))
    blocks = list(re.finditer(r'```text\n(.*?)```', doc, re.S))
    if len(blocks) < 2:
        sys.exit(f'{DOC}: expected two ```text blocks, found {len(blocks)}')
    a, b = blocks[0], blocks[1]
    doc = doc[:a.start(1)] + default + '\n' + doc[a.end(1):b.start(1)] + splits + '\n' + doc[b.end(1):]
    with open(DOC + '.new', 'w') as f:
        f.write(doc)
    os.replace(DOC + '.new', DOC)
    print(f'{DOC}: tables refreshed; edit the prose to match')


if __name__ == '__main__':
    main()
